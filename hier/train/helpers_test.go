package train

// Shared test helpers: tiny GPT-2 models, toy data sets, parameter snapshots and a leak check.

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/torch"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	if err := torch.CheckRuntime(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

var quiet = slog.New(slog.DiscardHandler)

// noLeak records LiveTensors now and checks, when the test ends (after every cleanup
// registered later, e.g. freeing models), that it is back to that value.
func noLeak(t testing.TB) {
	n0 := torch.LiveTensors()
	t.Cleanup(func() {
		require.Equal(t, n0, torch.LiveTensors(), "tensor handles leaked")
	})
}

const padID = 0

// tinyConfig is a 1-layer GPT-2 with pad token 0; dropout as given.
func tinyConfig(vocab, embd, layers int, dropout float64) *gpt2.Config {
	c := gpt2.NewConfig(vocab, 32, embd, layers, 2)
	c.ResidPdrop, c.EmbdPdrop, c.AttnPdrop = dropout, dropout, dropout
	pad := int64(padID)
	c.PadTokenID = &pad
	return c
}

func newGen(t testing.TB, seed uint64) *torch.Generator {
	g, err := torch.NewGenerator(seed, torch.CPU)
	require.NoError(t, err)
	return g
}

func newBackbone(t testing.TB, c *gpt2.Config, dt torch.DType, seed uint64) *gpt2.Model {
	g := newGen(t, seed)
	defer g.Free()
	m, err := gpt2.NewModel(c, dt, torch.CPU, g)
	require.NoError(t, err)
	t.Cleanup(m.Free)
	return m
}

// newClassifier makes a sequence classifier with numLabels outputs (1: regression), freed when
// the test ends.
func newClassifier(t testing.TB, c *gpt2.Config, dt torch.DType, seed uint64, numLabels int) *gpt2.SequenceClassifier {
	c, err := c.Clone()
	if err != nil {
		t.Fatal(err)
	}
	if numLabels == 1 {
		n := 1
		c.NumLabelsField = &n
		c.ProblemType = gpt2.ProblemRegression
	} else {
		names := make([]string, numLabels)
		for i := range names {
			names[i] = fmt.Sprintf("class_%d", i)
		}
		c.SetLabels(names)
	}
	g := newGen(t, seed)
	defer g.Free()
	m, err := gpt2.NewModel(c, dt, torch.CPU, g)
	require.NoError(t, err)
	cls, err := gpt2.NewSequenceClassifier(m, g)
	if err != nil {
		m.Free()
	}
	require.NoError(t, err)
	t.Cleanup(cls.Free)
	return cls
}

// hasFiveData: random token rows (ids 1..vocab-1, lengths 3..12); Label is 1 when token 5
// occurs, Target the number of 5s. About half the rows contain a 5.
func hasFiveData(n, vocab int, seed uint64) Dataset {
	r := rand.New(rand.NewPCG(seed, 7))
	d := make(Dataset, n)
	for i := range d {
		L := 3 + r.IntN(10)
		ids := make([]int64, L)
		for j := range ids {
			for {
				ids[j] = 1 + r.Int64N(int64(vocab-1))
				if ids[j] != 5 {
					break
				}
			}
		}
		fives := 0
		if r.IntN(2) == 0 {
			fives = 1 + r.IntN(2)
			for k := 0; k < fives; k++ {
				ids[r.IntN(L)] = 5
			}
		}
		cnt := 0
		for _, id := range ids {
			if id == 5 {
				cnt++
			}
		}
		d[i] = Example{InputIDs: ids, Target: float64(cnt)}
		if cnt > 0 {
			d[i].Label = 1
		}
	}
	return d
}

// countingData: rows s, s+1, s+2, … (mod vocab, skipping nothing) of lengths 4..maxLen; every
// token after the first is determined by its predecessor.
func countingData(n, vocab, maxLen int, seed uint64) Dataset {
	r := rand.New(rand.NewPCG(seed, 11))
	d := make(Dataset, n)
	for i := range d {
		L := 4 + r.IntN(maxLen-3)
		s := r.Int64N(int64(vocab))
		ids := make([]int64, L)
		for j := range ids {
			ids[j] = (s + int64(j)) % int64(vocab)
		}
		d[i] = Example{InputIDs: ids}
	}
	return d
}

// snapshot copies every parameter's values (as float64).
func snapshot(t testing.TB, ps []gpt2.NamedParam) map[string][]float64 {
	out := map[string][]float64{}
	for _, p := range ps {
		x, err := p.Tensor.ToDType(torch.Float64)
		require.NoError(t, err)
		v, err := x.Float64s()
		x.Free()
		require.NoError(t, err)
		out[p.Name] = v
	}
	return out
}

// maxDiff is the largest absolute difference between two snapshots.
func maxDiff(t testing.TB, a, b map[string][]float64) float64 {
	require.Equal(t, len(a), len(b))
	d := 0.0
	for k, va := range a {
		vb, ok := b[k]
		require.True(t, ok, k)
		require.Equal(t, len(va), len(vb), k)
		for i := range va {
			d = max(d, abs(va[i]-vb[i]))
		}
	}
	return d
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func fit(t testing.TB, task Task, tr, va Dataset, cfg Config) *Result {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	res, err := Fit(context.Background(), task, tr, va, cfg)
	require.NoError(t, err)
	return res
}
