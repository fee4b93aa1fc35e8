package gpt2_test

// Known-answer tests for inputs that HF accepts and that used to be wrong or refused here
// (issue 11): left-padded batches, and checkpoints with reorder_and_upcast_attn.

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/torch"
	"github.com/stretchr/testify/require"
)

// ipRows are three rows of different lengths over ids 1..39 (0 is the pad id, never a real token).
var ipRows = [][]int64{
	{3, 17, 5, 5, 29, 11, 8},
	{21, 2, 39, 14},
	{7, 33},
}

// ipClassifier is a 2-layer, 16-wide random-weight classifier (3 labels, pad id 0, no dropout)
// over evVocab ids with 12 positions, weights N(0, std), freed with the test.
func ipClassifier(t *testing.T, std float64) *gpt2.SequenceClassifier {
	t.Helper()
	cfg := gpt2.NewConfig(evVocab, 12, 16, 2, 2)
	cfg.ResidPdrop, cfg.EmbdPdrop, cfg.AttnPdrop = 0, 0, 0
	cfg.InitializerRange = std
	pad := int64(0)
	cfg.PadTokenID = &pad
	cfg.SetLabels([]string{"a", "b", "c"})
	g, err := torch.NewGenerator(5, torch.CPU)
	require.NoError(t, err)
	defer g.Free()
	m, err := gpt2.NewModel(cfg, torch.Float32, torch.CPU, g)
	require.NoError(t, err)
	c, err := gpt2.NewSequenceClassifier(m, g)
	require.NoError(t, err)
	t.Cleanup(c.Free)
	return c
}

// ipBatch pads rows to the longest with id 0, on the left or the right, and returns ids and
// mask [B, T] (owned by s) and, per row, the column of its first real token.
func ipBatch(s *torch.Scope, rows [][]int64, left bool) (ids, mask *torch.Tensor, start []int) {
	T := 0
	for _, r := range rows {
		T = max(T, len(r))
	}
	idv := make([]int64, len(rows)*T)
	mv := make([]int64, len(rows)*T)
	for b, r := range rows {
		off := 0
		if left {
			off = T - len(r)
		}
		start = append(start, off)
		for j, id := range r {
			idv[b*T+off+j] = id
			mv[b*T+off+j] = 1
		}
	}
	ids = s.Track(torch.MustFromSlice(idv, int64(len(rows)), int64(T)))
	mask = s.Track(torch.MustFromSlice(mv, int64(len(rows)), int64(T)))
	return ids, mask, start
}

// ipMaxDiff is max |a-b|.
func ipMaxDiff(a, b []float64) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(a[i]-b[i]))
	}
	return d
}

// A batch gives each row's real tokens the hidden states and the classifier logits of that row
// run alone (batch 1, no mask), whether the batch is right-padded or left-padded: 1e-5 absolute
// for last_hidden_state at every real token and for the logits; pooling reads each row's last
// real token. With positions 0..T-1 for every row (before they came from the mask), the
// left-padded rows' hidden states were off by 2.4 here.
func TestPaddedBatchesMatchUnpadded(t *testing.T) {
	c := ipClassifier(t, 0.02)
	const C = 16
	s := torch.NewScope()
	defer s.Close()
	// Reference: every row alone.
	var wantHidden [][]float64
	var wantLogits [][]float64
	for _, r := range ipRows {
		ids := s.Track(torch.MustFromSlice(r, 1, int64(len(r))))
		out, err := c.Forward(s, ids, nil, nil)
		require.NoError(t, err)
		wantHidden = append(wantHidden, evFloats(t, out.Hidden))
		wantLogits = append(wantLogits, evFloats(t, out.Logits))
	}
	for _, left := range []bool{false, true} {
		name := map[bool]string{false: "right-padded", true: "left-padded"}[left]
		ids, mask, start := ipBatch(s, ipRows, left)
		T := int(ids.Size(1))
		out, err := c.Forward(s, ids, mask, nil)
		require.NoError(t, err, name)
		hidden, logits := evFloats(t, out.Hidden), evFloats(t, out.Logits)
		idx, err := c.PoolIndex(s, ids)
		require.NoError(t, err)
		pool := torch.Must(idx.Int64s())
		for b, r := range ipRows {
			got := hidden[(b*T+start[b])*C : (b*T+start[b]+len(r))*C]
			d := ipMaxDiff(got, wantHidden[b])
			require.LessOrEqual(t, d, 1e-5, "%s row %d: last_hidden_state at real tokens differs from the row alone by %.3g", name, b, d)
			d = ipMaxDiff(logits[b*3:(b+1)*3], wantLogits[b])
			require.LessOrEqual(t, d, 1e-5, "%s row %d: logits differ from the row alone by %.3g", name, b, d)
			require.Equal(t, int64(start[b]+len(r)-1), pool[b], "%s row %d: pooled at the wrong token", name, b)
		}
	}
}

// PositionIDs is HF's cumsum(attention_mask) - 1 with padded positions set to 1.
func TestPositionIDs(t *testing.T) {
	s := torch.NewScope()
	defer s.Close()
	mask := s.Track(torch.MustFromSlice([]int64{
		1, 1, 1, 1, 0, 0,
		0, 0, 0, 1, 1, 1,
		0, 1, 1, 0, 1, 1,
	}, 3, 6))
	pid, err := gpt2.PositionIDs(s, mask)
	require.NoError(t, err)
	require.Equal(t, []int64{
		0, 1, 2, 3, 1, 1,
		1, 1, 1, 0, 1, 2,
		1, 0, 1, 1, 2, 3,
	}, torch.Must(pid.Int64s()))
	_, err = gpt2.PositionIDs(s, s.Track(torch.MustFromSlice([]int64{1, 1})))
	require.ErrorContains(t, err, "[batch, seq]")
}

// What the padded positions hold does not reach the real tokens: in a left-padded and in a
// right-padded batch, changing the ids at padded positions leaves the hidden states at the real
// tokens bitwise unchanged. A right-padded batch computes, at its real tokens, bitwise what the
// same ids compute without a mask (the causal mask already hides the right padding).
func TestPaddingValuesDoNotReachRealTokens(t *testing.T) {
	c := ipClassifier(t, 0.02)
	m := c.Backbone
	const C = 16
	s := torch.NewScope()
	defer s.Close()
	for _, left := range []bool{false, true} {
		ids, mask, _ := ipBatch(s, ipRows, left)
		idv := torch.Must(ids.Int64s())
		maskv := torch.Must(mask.Int64s())
		other := make([]int64, len(idv))
		for i, id := range idv {
			other[i] = id
			if maskv[i] == 0 {
				other[i] = int64(1 + i%(evVocab-1)) // any real-looking id
			}
		}
		ids2 := s.Track(torch.MustFromSlice(other, ids.Shape()...))
		h1, err := m.Forward(s, ids, mask)
		require.NoError(t, err)
		h2, err := m.Forward(s, ids2, mask)
		require.NoError(t, err)
		v1, v2 := evFloats(t, h1), evFloats(t, h2)
		require.Equal(t, ipMaskedRows(v1, maskv, C), ipMaskedRows(v2, maskv, C), "left=%v: padded ids changed the real tokens' hidden states", left)
		if !left {
			h3, err := m.Forward(s, ids, nil)
			require.NoError(t, err)
			require.Equal(t, ipMaskedRows(v1, maskv, C), ipMaskedRows(evFloats(t, h3), maskv, C), "right padding changed the real tokens' hidden states")
		}
	}
}

// ipMaskedRows keeps the C-wide rows of vals at positions where mask is 1.
func ipMaskedRows(vals []float64, mask []int64, C int) []float64 {
	var out []float64
	for p, v := range mask {
		if v == 1 {
			out = append(out, vals[p*C:(p+1)*C]...)
		}
	}
	return out
}

// ipSaveWithFlags saves c to a fresh directory with reorder_and_upcast_attn and
// scale_attn_by_inverse_layer_idx set as given in its config.json, and returns the directory.
func ipSaveWithFlags(t *testing.T, c *gpt2.SequenceClassifier, reorder, inverseLayer bool) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ckpt")
	require.NoError(t, c.Save(dir, nil))
	path := filepath.Join(dir, "config.json")
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, json.Unmarshal(raw, &cfg))
	cfg["reorder_and_upcast_attn"] = reorder
	cfg["scale_attn_by_inverse_layer_idx"] = inverseLayer
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o644))
	return dir
}

// ipLoadRun loads dir in dtype dt and returns last_hidden_state and the logits of the
// left-padded ipRows batch, as float64.
func ipLoadRun(t *testing.T, dir string, dt torch.DType) (cfg *gpt2.Config, hidden, logits []float64) {
	t.Helper()
	c, _, err := gpt2.LoadSequenceClassifier(dir, gpt2.LoadOptions{DType: dt})
	require.NoError(t, err)
	defer c.Free()
	s := torch.NewScope()
	defer s.Close()
	ids, mask, _ := ipBatch(s, ipRows, true)
	err = torch.NoGrad(func() error {
		out, err := c.Forward(s, ids, mask, nil)
		if err != nil {
			return err
		}
		hidden, logits = evFloats(t, out.Hidden), evFloats(t, out.Logits)
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, dt, c.Backbone.DType())
	cfg, err = c.Config().Clone()
	require.NoError(t, err)
	return cfg, ipMaskedRows(hidden, torch.Must(mask.Int64s()), 16), logits
}

// A config.json with reorder_and_upcast_attn=true loads (HF runs such checkpoints; it used to be
// refused). In float32 it is the same computation as without the flag (scores are float32
// already): last_hidden_state and logits equal within 1e-6 (here bitwise). In bfloat16 the flagged
// model runs, stays finite and computes something other than the unflagged one (its scores and
// softmax are float32; TestUpcastAttnCloserToFloat32 checks that this is closer to float32). Both
// with and without scale_attn_by_inverse_layer_idx, on a left-padded batch.
func TestReorderAndUpcastAttn(t *testing.T) {
	// Larger weights than HF's init (0.5, not 0.02), so that attention scores are large enough
	// for bfloat16 rounding of q·kᵀ to show.
	c := ipClassifier(t, 0.5)
	for _, inv := range []bool{false, true} {
		off := ipSaveWithFlags(t, c, false, inv)
		on := ipSaveWithFlags(t, c, true, inv)
		cfg, hOn, lOn := ipLoadRun(t, on, torch.Float32)
		require.True(t, cfg.ReorderAndUpcastAttn)
		require.Equal(t, inv, cfg.ScaleAttnByInverseLayer)
		_, hOff, lOff := ipLoadRun(t, off, torch.Float32)
		require.LessOrEqual(t, ipMaxDiff(hOn, hOff), 1e-6, "inverse_layer=%v: float32 hidden states differ with the flag", inv)
		require.LessOrEqual(t, ipMaxDiff(lOn, lOff), 1e-6, "inverse_layer=%v: float32 logits differ with the flag", inv)

		_, bhOn, blOn := ipLoadRun(t, on, torch.BFloat16)
		_, bhOff, _ := ipLoadRun(t, off, torch.BFloat16)
		for _, v := range append(append([]float64{}, bhOn...), blOn...) {
			require.False(t, math.IsNaN(v) || math.IsInf(v, 0), "inverse_layer=%v: bfloat16 with the flag is not finite", inv)
		}
		require.False(t, slices.Equal(bhOn, bhOff), "inverse_layer=%v: the flag changed nothing in bfloat16", inv)
	}
}
