package train_test

// Tests of Windows, Pack, CorpusVocab and LMTask.Vocab (the restricted-vocabulary LM loss).

import (
	"context"
	"log/slog"
	"math"
	"slices"
	"testing"

	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/hier/train"
	"github.com/hier-ai/hier/torch"
	"github.com/stretchr/testify/require"
)

func seq(from, n int) []int64 {
	v := make([]int64, n)
	for i := range v {
		v[i] = int64(from + i)
	}
	return v
}

func lengths(d train.Dataset) []int {
	var l []int
	for _, e := range d {
		l = append(l, len(e.InputIDs))
	}
	return l
}

func TestWindows(t *testing.T) {
	texts := [][]int64{seq(0, 10), seq(100, 130), {}, seq(300, 128), seq(500, 129), {7}}
	d, err := train.Windows(texts, 64)
	require.NoError(t, err)
	// 10 → as is; 130 → 3 windows 44, 43, 43; empty skipped; 128 → 2 × 64; 129 → 43 × 3; 1 → as is.
	require.Equal(t, []int{10, 44, 43, 43, 64, 64, 43, 43, 43, 1}, lengths(d))
	// The windows of each text, in order, concatenate to the text.
	var got []int64
	for _, e := range d {
		got = append(got, e.InputIDs...)
	}
	require.Equal(t, slices.Concat(texts...), got)
	// Copies: changing an example leaves the input alone.
	d[0].InputIDs[0] = -1
	require.Equal(t, int64(0), texts[0][0])

	d, err = train.Windows([][]int64{seq(0, 5)}, 1)
	require.NoError(t, err)
	require.Equal(t, []int{1, 1, 1, 1, 1}, lengths(d))

	d, err = train.Windows(nil, 8)
	require.NoError(t, err)
	require.Empty(t, d)

	for _, bad := range []int{0, -3} {
		_, err = train.Windows(texts, bad)
		require.ErrorContains(t, err, "maxLen must be >= 1")
	}
}

// Every window of a text longer than maxLen has between maxLen/2 and maxLen tokens, for many
// lengths.
func TestWindowsNoStubs(t *testing.T) {
	for _, maxLen := range []int{2, 3, 7, 64} {
		for n := 1; n <= 5*maxLen+3; n++ {
			d, err := train.Windows([][]int64{seq(0, n)}, maxLen)
			require.NoError(t, err)
			total := 0
			for _, l := range lengths(d) {
				require.LessOrEqual(t, l, maxLen)
				if n > maxLen {
					require.GreaterOrEqual(t, 2*l, maxLen, "n=%d maxLen=%d", n, maxLen)
				}
				total += l
			}
			require.Equal(t, n, total)
			require.Len(t, d, (n+maxLen-1)/maxLen)
		}
	}
}

func TestPack(t *testing.T) {
	texts := [][]int64{{1, 2, 3}, {}, {4, 5}, {6}}
	// stream: 1 2 3 9 4 5 9 6 9
	d, err := train.Pack(texts, 4, 9)
	require.NoError(t, err)
	require.Equal(t, train.Dataset{
		{InputIDs: []int64{1, 2, 3, 9}}, {InputIDs: []int64{4, 5, 9, 6}},
	}, d, "the 1-token tail (9) is dropped")

	d, err = train.Pack(texts, 3, 9)
	require.NoError(t, err)
	require.Equal(t, train.Dataset{
		{InputIDs: []int64{1, 2, 3}}, {InputIDs: []int64{9, 4, 5}}, {InputIDs: []int64{9, 6, 9}},
	}, d)

	d, err = train.Pack(texts, 5, 9)
	require.NoError(t, err)
	require.Equal(t, train.Dataset{
		{InputIDs: []int64{1, 2, 3, 9, 4}}, {InputIDs: []int64{5, 9, 6, 9}},
	}, d, "a tail of 2+ tokens is kept")

	d, err = train.Pack([][]int64{{}}, 4, 9)
	require.NoError(t, err)
	require.Empty(t, d)

	_, err = train.Pack(texts, 1, 9)
	require.ErrorContains(t, err, "blockLen must be >= 2")
}

func TestCorpusVocab(t *testing.T) {
	a := train.Dataset{{InputIDs: []int64{7, 3, 3, 50256}}, {InputIDs: []int64{0}}}
	b := train.Dataset{{InputIDs: []int64{3, 12}}}
	require.Equal(t, []int64{0, 3, 7, 12, 50256}, train.CorpusVocab(a, b))
	require.Equal(t, []int64{}, train.CorpusVocab())
}

func wvModel(t *testing.T, vocab int, seed uint64) *gpt2.Model {
	t.Helper()
	c := gpt2.NewConfig(vocab, 16, 16, 1, 2)
	c.ResidPdrop, c.EmbdPdrop, c.AttnPdrop = 0, 0, 0
	pad := int64(0)
	c.PadTokenID = &pad
	g, err := torch.NewGenerator(seed, torch.CPU)
	require.NoError(t, err)
	defer g.Free()
	m, err := gpt2.NewModel(c, torch.Float64, torch.CPU, g)
	require.NoError(t, err)
	t.Cleanup(m.Free)
	return m
}

// LMTask with Vocab = every id gives the plain LMTask loss and weight (float64, 1e-12 relative);
// with the corpus vocabulary the loss is lower (a smaller softmax) and the weight the same.
func TestLMTaskVocabLoss(t *testing.T) {
	m := wvModel(t, 30, 1)
	d := train.Dataset{{InputIDs: []int64{4, 9, 9, 17}}, {InputIDs: []int64{21, 4, 9, 17, 26, 4}}}
	s := torch.NewScope()
	defer s.Close()
	b, err := train.Collate(s, d, 0, 0, torch.CPU)
	require.NoError(t, err)
	plain := &train.LMTask{Model: m}
	all := &train.LMTask{Model: m, Vocab: seq(0, 30)}
	corpus := &train.LMTask{Model: m, Vocab: train.CorpusVocab(d)}
	l0, w0, err := plain.Loss(s, b)
	require.NoError(t, err)
	l1, w1, err := all.Loss(s, b)
	require.NoError(t, err)
	l2, w2, err := corpus.Loss(s, b)
	require.NoError(t, err)
	require.Equal(t, 8.0, w0)
	require.Equal(t, w0, w1)
	require.Equal(t, w0, w2)
	require.InDelta(t, l0.MustItem(), l1.MustItem(), 1e-12*math.Abs(l0.MustItem()))
	require.Less(t, l2.MustItem(), l0.MustItem())
	// An untrained model's logits are tiny (|h| = 4 after ln_f, wte rows of std 0.02), so its loss
	// is close to the log of the softmax's size: ln 30 for the full vocabulary, ln 5 for the 5
	// ids of the corpus (tolerance 0.1).
	require.InDelta(t, math.Log(30), l0.MustItem(), 0.1)
	require.InDelta(t, math.Log(5), l2.MustItem(), 0.1)
}

func TestLMTaskVocabCheckData(t *testing.T) {
	m := wvModel(t, 30, 2)
	d := train.Dataset{{InputIDs: []int64{4, 9, 9, 17}}, {InputIDs: []int64{21, 4, 9}}}
	ok := &train.LMTask{Model: m, Vocab: []int64{4, 9, 17}} // 21 is only a first token
	require.NoError(t, ok.CheckData(d))
	missing := &train.LMTask{Model: m, Vocab: []int64{4, 9}}
	require.ErrorContains(t, missing.CheckData(d), "example 0 token 3: id 17 is a target outside the restricted vocabulary")
	for name, v := range map[string][]int64{
		"empty":     {},
		"unsorted":  {9, 4, 17},
		"duplicate": {4, 9, 9, 17},
		"range":     {4, 9, 17, 30},
	} {
		task := &train.LMTask{Model: m, Vocab: v}
		require.Error(t, task.CheckData(d), name)
	}
}

// Fit with a restricted vocabulary learns a toy corpus (the validation loss falls) and saves a
// full-vocabulary checkpoint that loads as a plain GPT-2.
func TestLMTaskVocabFit(t *testing.T) {
	m := wvModel(t, 40, 3)
	var texts [][]int64
	for i := 0; i < 24; i++ { // a cyclic pattern over 6 ids
		row := make([]int64, 20)
		for j := range row {
			row[j] = int64(10 + (i+j)%6)
		}
		texts = append(texts, row)
	}
	data, err := train.Windows(texts, 12)
	require.NoError(t, err)
	trainSet, validSet := data[8:], data[:8]
	task := &train.LMTask{Model: m, Vocab: train.CorpusVocab(trainSet, validSet)}
	require.Equal(t, seq(10, 6), task.Vocab)
	before, err := train.Evaluate(context.Background(), task, validSet, train.Config{BatchSize: 8})
	require.NoError(t, err)
	dir := t.TempDir()
	res, err := train.Fit(context.Background(), task, trainSet, validSet, train.Config{
		Epochs: 8, BatchSize: 8, LR: 1e-2, Seed: 1, Logger: slog.New(slog.DiscardHandler),
		BestModelDir: dir,
	})
	require.NoError(t, err)
	after := res.Epochs[len(res.Epochs)-1].Metrics.Values["loss"]
	require.Less(t, after, 0.5*before.Values["loss"], "validation loss before %g after %g", before.Values["loss"], after)

	loaded, _, err := gpt2.LoadModel(dir, gpt2.LoadOptions{DType: torch.Float64})
	require.NoError(t, err)
	defer loaded.Free()
	require.Equal(t, []int64{40, 16}, loaded.WTE.Shape())
	// The loaded model's full-vocabulary loss is finite and no lower than its restricted loss.
	s := torch.NewScope()
	defer s.Close()
	b, err := train.Collate(s, validSet, 0, 0, torch.CPU)
	require.NoError(t, err)
	full, _, err := loaded.LMLoss(s, b.InputIDs, b.AttentionMask)
	require.NoError(t, err)
	restricted, _, err := loaded.LMLossRestricted(s, b.InputIDs, b.AttentionMask, task.Vocab)
	require.NoError(t, err)
	require.False(t, math.IsNaN(full.MustItem()) || math.IsInf(full.MustItem(), 0))
	require.GreaterOrEqual(t, full.MustItem(), restricted.MustItem())
}
