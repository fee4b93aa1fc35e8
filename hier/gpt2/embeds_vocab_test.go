package gpt2_test

// Tests of Model.ForwardEmbeds (HF inputs_embeds) and Model.LMLossRestricted (the
// restricted-vocabulary LM loss).

import (
	"bytes"
	"math"
	"slices"
	"testing"

	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/torch"
	"github.com/stretchr/testify/require"
)

const evVocab = 40

// evModel is a 2-layer, 16-wide GPT-2 over evVocab ids with 12 positions, freed with the test.
func evModel(t *testing.T, dt torch.DType, dropout float64, seed uint64) *gpt2.Model {
	t.Helper()
	c := gpt2.NewConfig(evVocab, 12, 16, 2, 2)
	c.ResidPdrop, c.EmbdPdrop, c.AttnPdrop = dropout, dropout, dropout
	g, err := torch.NewGenerator(seed, torch.CPU)
	require.NoError(t, err)
	defer g.Free()
	m, err := gpt2.NewModel(c, dt, torch.CPU, g)
	require.NoError(t, err)
	t.Cleanup(m.Free)
	return m
}

// evInputs are ids [2, 7] (row 1 right-padded after 4 tokens, pad id 0) and their mask.
func evInputs(t *testing.T, s *torch.Scope) (ids, mask *torch.Tensor) {
	t.Helper()
	ids = s.Track(torch.MustFromSlice([]int64{
		3, 17, 5, 5, 29, 11, 8,
		21, 2, 39, 14, 0, 0, 0,
	}, 2, 7))
	mask = s.Track(torch.MustFromSlice([]int64{
		1, 1, 1, 1, 1, 1, 1,
		1, 1, 1, 1, 0, 0, 0,
	}, 2, 7))
	return ids, mask
}

func evBytes(t *testing.T, x *torch.Tensor) []byte {
	t.Helper()
	b, err := x.Bytes()
	require.NoError(t, err)
	return b
}

func evFloats(t *testing.T, x *torch.Tensor) []float64 {
	t.Helper()
	s := torch.NewScope()
	defer s.Close()
	v, err := s.Track(torch.Must(x.Share())).MustToDType(torch.Float64).Float64s()
	require.NoError(t, err)
	return v
}

// ForwardEmbeds(wte[ids]) is Forward(ids): bitwise, in one process, for both dtypes, with and
// without a padding mask, and in training mode with dropout when both calls start from the same
// libtorch seed (dropout draws happen at the same places).
func TestForwardEmbedsMatchesForward(t *testing.T) {
	for _, dt := range []torch.DType{torch.Float32, torch.Float64} {
		for _, training := range []bool{false, true} {
			m := evModel(t, dt, 0.1, 7)
			m.Train(training)
			s := torch.NewScope()
			ids, mask := evInputs(t, s)
			for _, mk := range []*torch.Tensor{mask, nil} {
				require.NoError(t, torch.ManualSeed(11))
				want, err := m.Forward(s, ids, mk)
				require.NoError(t, err)
				embeds := s.Track(torch.Must(torch.Embedding(m.WTE, ids, -1)))
				require.NoError(t, torch.ManualSeed(11))
				got, err := m.ForwardEmbeds(s, embeds, mk)
				require.NoError(t, err)
				require.Equal(t, []int64{2, 7, 16}, got.Shape())
				require.Equal(t, dt, got.DType())
				require.True(t, bytes.Equal(evBytes(t, want), evBytes(t, got)), "dtype %s training %v mask %v: hidden states differ", dt, training, mk != nil)
			}
			s.Close()
		}
	}
}

// Gradients flow into inputs_embeds: for ids that are all distinct, the gradient of a weighted
// sum of the hidden states with respect to inputs_embeds[b, t] equals the gradient that
// Forward(ids) puts into wte[ids[b, t]] (float64, tolerance 1e-12 absolute), and one entry
// agrees with a central finite difference (step 1e-6, tolerance 1e-6 absolute).
func TestForwardEmbedsGradients(t *testing.T) {
	m := evModel(t, torch.Float64, 0, 3)
	s := torch.NewScope()
	defer s.Close()
	idsv := []int64{4, 9, 1, 33, 27, 12, 30, 6, 18, 2} // distinct
	ids := s.Track(torch.MustFromSlice(idsv, 2, 5))
	maskv := []int64{1, 1, 1, 1, 1, 1, 1, 1, 0, 0}
	mask := s.Track(torch.MustFromSlice(maskv, 2, 5))
	wv := make([]float64, 2*5*16)
	for i := range wv {
		wv[i] = math.Sin(float64(i)*0.37) + 0.1
	}
	weights := s.Track(torch.MustFromSlice(wv, 2, 5, 16))
	objective := func(h *torch.Tensor) *torch.Tensor { return h.MustMul(weights).MustSum() }

	// Reference: the gradient into wte through Forward.
	h, err := m.Forward(s, ids, mask)
	require.NoError(t, err)
	require.NoError(t, objective(h).Backward())
	wg, err := m.WTE.Grad()
	require.NoError(t, err)
	s.Track(wg)
	wteGrad := evFloats(t, wg)

	emb := s.Track(torch.Must(torch.Embedding(m.WTE, ids, -1)).MustDetach().MustClone())
	require.NoError(t, emb.SetRequiresGrad(true))
	h2, err := m.ForwardEmbeds(s, emb, mask)
	require.NoError(t, err)
	require.NoError(t, objective(h2).Backward())
	eg, err := emb.Grad()
	require.NoError(t, err)
	require.NotNil(t, eg)
	s.Track(eg)
	require.Equal(t, []int64{2, 5, 16}, eg.Shape())
	embGrad := evFloats(t, eg)
	nonzero := 0
	for k, id := range idsv {
		for c := 0; c < 16; c++ {
			got, want := embGrad[k*16+c], wteGrad[int(id)*16+c]
			require.InDelta(t, want, got, 1e-12, "position %d channel %d", k, c)
			if got != 0 {
				nonzero++
			}
		}
	}
	require.Greater(t, nonzero, 100, "gradient is (almost) all zero")

	// Central finite difference on embeds[0, 2, 5].
	const eps = 1e-6
	ev := evFloats(t, emb)
	at := (0*5+2)*16 + 5
	value := func(delta float64) float64 {
		v := slices.Clone(ev)
		v[at] += delta
		x := s.Track(torch.MustFromSlice(v, 2, 5, 16))
		var out float64
		require.NoError(t, torch.NoGrad(func() error {
			hh, err := m.ForwardEmbeds(s, x, mask)
			if err != nil {
				return err
			}
			out, err = objective(hh).Item()
			return err
		}))
		return out
	}
	fd := (value(eps) - value(-eps)) / (2 * eps)
	require.InDelta(t, fd, embGrad[at], 1e-6)
}

func TestForwardEmbedsErrors(t *testing.T) {
	m := evModel(t, torch.Float32, 0, 1)
	s := torch.NewScope()
	defer s.Close()
	mk := func(dt torch.DType, shape ...int64) *torch.Tensor {
		return s.Track(torch.Must(torch.Zeros(shape, dt, torch.CPU)))
	}
	cases := []struct {
		name      string
		x, mask   *torch.Tensor
		wantError string
	}{
		{"2-D", mk(torch.Float32, 2, 16), nil, "[batch, seq, n_embd]"},
		{"4-D", mk(torch.Float32, 1, 2, 3, 16), nil, "[batch, seq, n_embd]"},
		{"width", mk(torch.Float32, 2, 3, 8), nil, "n_embd is 16"},
		{"dtype", mk(torch.Float64, 2, 3, 16), nil, "dtype"},
		{"ids", mk(torch.Int64, 2, 3, 16), nil, "dtype"},
		{"too long", mk(torch.Float32, 1, 13, 16), nil, "exceeds n_positions 12"},
		{"empty batch", mk(torch.Float32, 0, 3, 16), nil, "empty"},
		{"empty seq", mk(torch.Float32, 2, 0, 16), nil, "empty"},
		{"mask shape", mk(torch.Float32, 2, 3, 16), mk(torch.Int64, 2, 4), "attention_mask shape"},
		{"mask rank", mk(torch.Float32, 2, 3, 16), mk(torch.Int64, 6), "attention_mask shape"},
	}
	for _, c := range cases {
		out, err := m.ForwardEmbeds(s, c.x, c.mask)
		require.ErrorContains(t, err, c.wantError, c.name)
		require.Nil(t, out, c.name)
	}
	freed := torch.Must(torch.Zeros([]int64{1, 2, 16}, torch.Float32, torch.CPU))
	freed.Free()
	_, err := m.ForwardEmbeds(s, freed, nil)
	require.ErrorIs(t, err, torch.ErrFreed)
}

func allIDs(n int) []int64 {
	v := make([]int64, n)
	for i := range v {
		v[i] = int64(i)
	}
	return v
}

// With every id in the subset the restricted loss is LMLoss: float64 within 1e-12 relative,
// float32 within 1e-6 relative; the same token count; the same wte gradient (float64, 1e-12
// absolute).
func TestLMLossRestrictedAllIDsEqualsLMLoss(t *testing.T) {
	for _, tc := range []struct {
		dt  torch.DType
		tol float64
	}{{torch.Float64, 1e-12}, {torch.Float32, 1e-6}} {
		m := evModel(t, tc.dt, 0, 5)
		s := torch.NewScope()
		ids, mask := evInputs(t, s)
		plain, n1, err := m.LMLoss(s, ids, mask)
		require.NoError(t, err)
		require.NoError(t, plain.Backward())
		g1, err := m.WTE.Grad()
		require.NoError(t, err)
		grad1 := evFloats(t, s.Track(g1.MustClone()))
		require.NoError(t, torch.ZeroGrad([]*torch.Tensor{m.WTE}, true))

		restricted, n2, err := m.LMLossRestricted(s, ids, mask, allIDs(evVocab))
		require.NoError(t, err)
		require.NoError(t, restricted.Backward())
		g2, err := m.WTE.Grad()
		require.NoError(t, err)
		s.Track(g1, g2)
		grad2 := evFloats(t, g2)

		require.Equal(t, int64(6+3), n1) // row 0: 6 targets, row 1: 3 real targets
		require.Equal(t, n1, n2)
		a, b := plain.MustItem(), restricted.MustItem()
		require.InDelta(t, a, b, tc.tol*math.Abs(a), "dtype %s", tc.dt)
		if tc.dt == torch.Float64 {
			for i := range grad1 {
				require.InDelta(t, grad1[i], grad2[i], 1e-12, "wte grad %d", i)
			}
		}
		s.Close()
	}
}

// A hand-checkable case: the subset {2, 5, 8, 14, 21, 39} and the loss recomputed in Go from
// the hidden states and wte rows: mean over the real targets of logsumexp_k(z_k) - z_y with
// z_k = h·wte[vocab[k]] (float64, tolerance 1e-12 absolute). The restricted loss is below the
// full-vocabulary loss (same numerators, smaller denominators).
func TestLMLossRestrictedHandChecked(t *testing.T) {
	m := evModel(t, torch.Float64, 0, 9)
	s := torch.NewScope()
	defer s.Close()
	vocab := []int64{2, 5, 8, 14, 21, 39}
	// Row 0's first token (30) is an input only; row 1 is padded with 33 (not in the subset, ignored).
	idsv := []int64{30, 5, 8, 2, 39, 21, 33, 14, 14, 5, 33, 33}
	maskv := []int64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}
	ids := s.Track(torch.MustFromSlice(idsv, 2, 6))
	mask := s.Track(torch.MustFromSlice(maskv, 2, 6))
	loss, n, err := m.LMLossRestricted(s, ids, mask, vocab)
	require.NoError(t, err)
	require.Equal(t, int64(5+3), n)

	var hv, wv []float64
	require.NoError(t, torch.NoGrad(func() error {
		h, err := m.Forward(s, ids, mask)
		if err != nil {
			return err
		}
		hv, wv = evFloats(t, h), evFloats(t, m.WTE)
		return nil
	}))
	const C = 16
	var sum float64
	var count int
	for b := 0; b < 2; b++ {
		for p := 0; p < 5; p++ {
			if maskv[b*6+p+1] == 0 {
				continue
			}
			target := idsv[b*6+p+1]
			h := hv[(b*6+p)*C : (b*6+p+1)*C]
			z := make([]float64, len(vocab))
			zy, zmax := 0.0, math.Inf(-1)
			for k, id := range vocab {
				for c := 0; c < C; c++ {
					z[k] += h[c] * wv[int(id)*C+c]
				}
				zmax = math.Max(zmax, z[k])
				if id == target {
					zy = z[k]
				}
			}
			var se float64
			for _, zk := range z {
				se += math.Exp(zk - zmax)
			}
			sum += zmax + math.Log(se) - zy
			count++
		}
	}
	require.Equal(t, 8, count)
	require.InDelta(t, sum/float64(count), loss.MustItem(), 1e-12)

	full, _, err := m.LMLoss(s, ids, mask)
	require.NoError(t, err)
	require.Less(t, loss.MustItem(), full.MustItem())
}

func TestLMLossRestrictedErrors(t *testing.T) {
	m := evModel(t, torch.Float32, 0, 2)
	s := torch.NewScope()
	defer s.Close()
	ids, mask := evInputs(t, s) // targets: 17 5 5 29 11 8 | 2 39 14 (padding 0 ignored)
	targets := []int64{2, 5, 8, 11, 14, 17, 29, 39}

	_, _, err := m.LMLossRestricted(s, ids, mask, targets)
	require.NoError(t, err, "the first token (3) and padding (0) are not targets")

	_, _, err = m.LMLossRestricted(s, ids, nil, targets)
	require.ErrorContains(t, err, "target id 0 (row 1, position 4) is not in the restricted vocabulary", "without a mask the padding is a target")

	missing := slices.DeleteFunc(slices.Clone(targets), func(id int64) bool { return id == 39 })
	_, _, err = m.LMLossRestricted(s, ids, mask, missing)
	require.ErrorContains(t, err, "target id 39 (row 1, position 2)")

	for name, v := range map[string][]int64{
		"empty":      {},
		"nil":        nil,
		"unsorted":   {2, 8, 5, 11, 14, 17, 29, 39},
		"duplicate":  {2, 5, 5, 8, 11, 14, 17, 29, 39},
		"negative":   {-1, 2, 5, 8, 11, 14, 17, 29, 39},
		"too large":  {2, 5, 8, 11, 14, 17, 29, 39, evVocab},
		"far beyond": {2, 5, 8, 11, 14, 17, 29, 39, 50256},
	} {
		loss, _, err := m.LMLossRestricted(s, ids, mask, v)
		require.Error(t, err, name)
		require.Nil(t, loss, name)
	}
	lone := s.Track(torch.MustFromSlice([]int64{5, 0, 8, 0}, 2, 2))
	loneMask := s.Track(torch.MustFromSlice([]int64{1, 0, 1, 0}, 2, 2))
	_, _, err = m.LMLossRestricted(s, lone, loneMask, targets)
	require.ErrorContains(t, err, "no token to predict")
	short := s.Track(torch.MustFromSlice([]int64{5}, 1, 1))
	_, _, err = m.LMLossRestricted(s, short, nil, targets)
	require.ErrorContains(t, err, "at least 2 tokens")
	wrong := s.Track(torch.MustFromSlice([]float32{5, 8}, 1, 2))
	_, _, err = m.LMLossRestricted(s, wrong, nil, targets)
	require.ErrorContains(t, err, "int64")
}
