package train

import (
	"path/filepath"
	"sort"
	"testing"

	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/torch"
	"github.com/stretchr/testify/require"
)

func TestLinearSchedule(t *testing.T) {
	// warmup 10 of 110 steps: ramp 0 → 1 over steps 0..10, then 1 → 0 over steps 10..110.
	for _, c := range []struct {
		step, warmup, total int
		want                float64
	}{
		{0, 10, 110, 0}, {1, 10, 110, 0.1}, {5, 10, 110, 0.5}, {9, 10, 110, 0.9},
		{10, 10, 110, 1}, {60, 10, 110, 0.5}, {85, 10, 110, 0.25}, {109, 10, 110, 0.01},
		{110, 10, 110, 0}, {130, 10, 110, 0},
		// no warm-up: 1, 0.75, 0.5, 0.25 over 4 steps
		{0, 0, 4, 1}, {1, 0, 4, 0.75}, {2, 0, 4, 0.5}, {3, 0, 4, 0.25},
		// warm-up as long as training: never decays
		{3, 4, 4, 0.75}, {4, 4, 4, 0},
	} {
		require.InDelta(t, c.want, LinearSchedule(c.step, c.warmup, c.total), 1e-12, "%+v", c)
	}
	require.Equal(t, 10, WarmupSteps(0, 0.1, 95)) // ceil(9.5)
	require.Equal(t, 7, WarmupSteps(7, 0.5, 95))  // explicit steps win
	require.Equal(t, 0, WarmupSteps(0, 0, 95))
}

func TestDecayGroups(t *testing.T) {
	noLeak(t)
	cls := newClassifier(t, tinyConfig(40, 16, 2, 0), torch.Float32, 1, 3)
	groups := DecayGroups(cls.Params(), 0.01)
	require.Len(t, groups, 2)
	require.Equal(t, 0.01, groups[0].WeightDecay)
	require.Equal(t, 0.0, groups[1].WeightDecay)
	byTensor := map[*torch.Tensor]string{}
	for _, p := range cls.Params() {
		byTensor[p.Tensor] = p.Name
	}
	names := func(g torch.ParamGroup) []string {
		var out []string
		for _, p := range g.Params {
			out = append(out, byTensor[p])
		}
		sort.Strings(out)
		return out
	}
	want := []string{"score.weight", "transformer.wpe.weight", "transformer.wte.weight"}
	var wantNo []string
	for i := 0; i < 2; i++ {
		p := "transformer.h." + string(rune('0'+i)) + "."
		want = append(want, p+"attn.c_attn.weight", p+"attn.c_proj.weight", p+"mlp.c_fc.weight", p+"mlp.c_proj.weight")
		wantNo = append(wantNo, p+"ln_1.weight", p+"ln_1.bias", p+"ln_2.weight", p+"ln_2.bias",
			p+"attn.c_attn.bias", p+"attn.c_proj.bias", p+"mlp.c_fc.bias", p+"mlp.c_proj.bias")
	}
	wantNo = append(wantNo, "transformer.ln_f.weight", "transformer.ln_f.bias")
	sort.Strings(want)
	sort.Strings(wantNo)
	require.Equal(t, want, names(groups[0]))
	require.Equal(t, wantNo, names(groups[1]))

	require.True(t, NoDecay("encoder.LayerNorm.weight"))
	require.False(t, NoDecay("h.0.mlp.c_fc.weight"))
	// Nothing to decay: only the no-decay group.
	g := DecayGroups([]gpt2.NamedParam{{Name: "ln_f.bias", Tensor: cls.Score}}, 0.1)
	require.Len(t, g, 1)
	require.Equal(t, 0.0, g[0].WeightDecay)
}

func TestCollate(t *testing.T) {
	noLeak(t)
	s := torch.NewScope()
	defer s.Close()
	exs := []Example{
		{InputIDs: []int64{5, 6, 7}, Label: 1, Target: 0.5},
		{InputIDs: []int64{8}, Label: 0, Target: -1},
		{InputIDs: []int64{1, 2, 3, 4, 9, 9}, Label: 2, Target: 2},
	}
	b, err := Collate(s, exs, 99, 0, torch.CPU)
	require.NoError(t, err)
	require.Equal(t, []int64{3, 6}, b.InputIDs.Shape())
	ids, _ := b.InputIDs.Int64s()
	require.Equal(t, []int64{5, 6, 7, 99, 99, 99, 8, 99, 99, 99, 99, 99, 1, 2, 3, 4, 9, 9}, ids)
	mask, _ := b.AttentionMask.Int64s()
	require.Equal(t, []int64{1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1}, mask)
	labels, _ := b.Labels.Int64s()
	require.Equal(t, []int64{1, 0, 2}, labels)
	targets, _ := b.Targets.Float64s()
	require.Equal(t, []float64{0.5, -1, 2}, targets)
	require.Equal(t, int64(10), b.Tokens)
	require.Equal(t, []int{3, 1, 6}, b.Lengths)

	// Truncation to 4 tokens; the batch is only as long as its longest (truncated) row.
	b, err = Collate(s, exs[:2], 0, 4, torch.CPU)
	require.NoError(t, err)
	require.Equal(t, []int64{2, 3}, b.InputIDs.Shape())
	b, err = Collate(s, exs, 0, 4, torch.CPU)
	require.NoError(t, err)
	require.Equal(t, []int64{3, 4}, b.InputIDs.Shape())
	require.Equal(t, int64(8), b.Tokens)

	_, err = Collate(s, nil, 0, 0, torch.CPU)
	require.Error(t, err)
	_, err = Collate(s, []Example{{}}, 0, 0, torch.CPU)
	require.ErrorContains(t, err, "no tokens")
}

func TestEpochOrder(t *testing.T) {
	a := EpochOrder(50, 3, 0, true)
	require.Equal(t, a, EpochOrder(50, 3, 0, true), "deterministic")
	sorted := append([]int(nil), a...)
	sort.Ints(sorted)
	for i, v := range sorted {
		require.Equal(t, i, v, "a permutation")
	}
	require.NotEqual(t, a, EpochOrder(50, 3, 1, true), "differs per epoch")
	require.NotEqual(t, a, EpochOrder(50, 4, 0, true), "differs per seed")
	require.Equal(t, []int{0, 1, 2, 3}, EpochOrder(4, 3, 0, false))
	require.Empty(t, EpochOrder(0, 1, 0, true))
	// Uniformity sanity check: each of 3 items lands first about a third of the time.
	counts := make([]int, 3)
	for e := 0; e < 3000; e++ {
		counts[EpochOrder(3, 9, e, true)[0]]++
	}
	for _, c := range counts {
		require.InDelta(t, 1000, c, 120)
	}
}

func TestLowerIsBetter(t *testing.T) {
	for _, m := range []string{"loss", "eval_loss", "perplexity", "mse", "rmse", "mae", "sentiment/loss"} {
		require.True(t, LowerIsBetter(m), m)
	}
	for _, m := range []string{"accuracy", "macro_f1", "weighted_f1", "sentiment/accuracy"} {
		require.False(t, LowerIsBetter(m), m)
	}
}

func TestLoadParams(t *testing.T) {
	noLeak(t)
	c := tinyConfig(40, 16, 1, 0)
	a := newClassifier(t, c, torch.Float32, 1, 2)
	b := newClassifier(t, c, torch.Float64, 2, 2)
	dir := t.TempDir()
	require.NoError(t, a.Save(dir, nil))
	require.NotZero(t, maxDiff(t, snapshot(t, a.Params()), snapshot(t, b.Params())))
	require.NoError(t, LoadParams(b.Params(), filepath.Join(dir, ModelFile)))
	require.Zero(t, maxDiff(t, snapshot(t, a.Params()), snapshot(t, b.Params())), "float32 values fit float64 exactly")

	// A missing key and a shape mismatch are errors, and nothing is copied.
	other := newClassifier(t, c, torch.Float32, 3, 3) // score [3, 16]
	before := snapshot(t, other.Params())
	err := LoadParams(other.Params(), filepath.Join(dir, ModelFile))
	require.ErrorContains(t, err, `"score.weight" has shape [2 16], parameter has [3 16]`)
	require.Zero(t, maxDiff(t, before, snapshot(t, other.Params())))
	extra := append(b.Params(), gpt2.NamedParam{Name: "extra.weight", Tensor: b.Score})
	require.ErrorContains(t, LoadParams(extra, filepath.Join(dir, ModelFile)), `missing tensor "extra.weight"`)
	require.Error(t, LoadParams(b.Params(), filepath.Join(dir, "nope.safetensors")))
}

func TestConfigValidation(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{BatchSize: 1, LR: 1}, "Epochs"},
		{Config{Epochs: 1, LR: 1}, "BatchSize"},
		{Config{Epochs: 1, BatchSize: 1}, "LR"},
		{Config{Epochs: 1, BatchSize: 1, LR: 1, WarmupRatio: 2}, "WarmupRatio"},
		{Config{Epochs: 1, BatchSize: 1, LR: 1, EarlyStopMode: "up"}, "EarlyStopMode"},
		{Config{Epochs: 1, BatchSize: 1, LR: 1, LoadBestAtEnd: true}, "BestModelDir"},
		{Config{Epochs: 1, BatchSize: 1, LR: 1, Resume: true}, "CheckpointDir"},
	} {
		err := c.cfg.normalize()
		require.ErrorContains(t, err, c.want)
	}
	cfg := DefaultConfig()
	require.NoError(t, cfg.normalize())
	require.Equal(t, "loss", cfg.EarlyStopMetric)
	require.True(t, cfg.lowerIsBetter())
	cfg.EarlyStopMetric = "accuracy"
	require.False(t, cfg.lowerIsBetter())
	cfg.EarlyStopMode = "min"
	require.True(t, cfg.lowerIsBetter())
}
