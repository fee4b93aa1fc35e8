package gpt2

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hier-ai/hier/torch"
)

func TestSaveLoadPredictBitIdentical(t *testing.T) {
	g := loadGolden(t)
	c := loadTiny(t, torch.Float32)
	dir := filepath.Join(t.TempDir(), "ckpt")
	require.NoError(t, c.Save(dir, nil))
	c2, rep, err := LoadSequenceClassifier(dir, LoadOptions{})
	require.NoError(t, err)
	defer c2.Free()
	require.Empty(t, rep.Missing)
	require.Empty(t, rep.Unexpected)
	require.True(t, rep.Prefixed)

	s := torch.NewScope()
	defer s.Close()
	a, err := c.Forward(s, g.get("input_ids"), g.get("attention_mask"), nil)
	require.NoError(t, err)
	b, err := c2.Forward(s, g.get("input_ids"), g.get("attention_mask"), nil)
	require.NoError(t, err)
	require.Equal(t, torch.Must(a.Logits.Float32s()), torch.Must(b.Logits.Float32s()))

	// config.json keeps HF's fields, labels and unknown keys.
	var cfg map[string]any
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &cfg))
	require.Equal(t, []any{"GPT2ForSequenceClassification"}, cfg["architectures"])
	require.Equal(t, map[string]any{"0": "negative", "1": "neutral", "2": "positive"}, cfg["id2label"])
	require.Equal(t, "single_label_classification", cfg["problem_type"])
	require.EqualValues(t, 50256, cfg["pad_token_id"])
	require.Equal(t, "cls_index", cfg["summary_type"]) // an unknown key survives the round trip
	require.Nil(t, cfg["n_inner"])

	// The safetensors keys are HF's names, and no attn.bias buffers are written.
	hs, _, err := torch.ReadSafetensorsHeader(filepath.Join(dir, "model.safetensors"))
	require.NoError(t, err)
	names := map[string]bool{}
	for _, h := range hs {
		names[h.Name] = true
	}
	require.True(t, names["transformer.h.0.attn.c_attn.weight"])
	require.True(t, names["score.weight"])
	require.False(t, names["transformer.h.0.attn.bias"])
	require.Len(t, hs, 29)
}

func writeCheckpoint(t *testing.T, dir string, cfgEdit func(map[string]any), tensors map[string]*torch.Tensor) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	raw, err := os.ReadFile(filepath.Join(goldenDir(t), "gpt2-tiny", "config.json"))
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, json.Unmarshal(raw, &cfg))
	if cfgEdit != nil {
		cfgEdit(cfg)
	}
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644))
	if tensors != nil {
		require.NoError(t, torch.SaveSafetensors(filepath.Join(dir, "model.safetensors"), tensors, nil))
	}
}

func goldenTensors(t *testing.T) map[string]*torch.Tensor {
	ts, _, err := torch.LoadSafetensors(filepath.Join(goldenDir(t), "gpt2-tiny", "model.safetensors"), torch.CPU)
	require.NoError(t, err)
	t.Cleanup(func() {
		for _, x := range ts {
			x.Free()
		}
	})
	return ts
}

func TestLoadErrors(t *testing.T) {
	ts := goldenTensors(t)
	root := t.TempDir()

	_, _, err := LoadModel(filepath.Join(root, "nope"), LoadOptions{})
	require.ErrorContains(t, err, "config.json")

	// A config field with the wrong JSON type names the file and field.
	bad := filepath.Join(root, "badcfg")
	writeCheckpoint(t, bad, func(c map[string]any) { c["n_embd"] = "thirty-two" }, nil)
	_, _, err = LoadModel(bad, LoadOptions{})
	require.ErrorContains(t, err, "n_embd")
	require.ErrorContains(t, err, "config.json")

	// Invalid sizes.
	heads := filepath.Join(root, "heads")
	writeCheckpoint(t, heads, func(c map[string]any) { c["n_head"] = 3 }, nil)
	_, _, err = LoadModel(heads, LoadOptions{})
	require.ErrorContains(t, err, "divisible")

	// No weights file.
	nowt := filepath.Join(root, "noweights")
	writeCheckpoint(t, nowt, nil, nil)
	_, _, err = LoadModel(nowt, LoadOptions{})
	require.ErrorContains(t, err, "model.safetensors")

	// A missing parameter is reported by name.
	missing := map[string]*torch.Tensor{}
	for k, v := range ts {
		if k != "transformer.ln_f.bias" {
			missing[k] = v
		}
	}
	md := filepath.Join(root, "missing")
	writeCheckpoint(t, md, nil, missing)
	_, rep, err := LoadModel(md, LoadOptions{})
	require.ErrorContains(t, err, "ln_f.bias")
	require.Equal(t, []string{"ln_f.bias"}, rep.Missing)

	// A shape that disagrees with config.json.
	sd := filepath.Join(root, "shape")
	writeCheckpoint(t, sd, func(c map[string]any) { c["n_positions"] = 128 }, ts)
	_, _, err = LoadModel(sd, LoadOptions{})
	require.ErrorContains(t, err, "wpe.weight")
	require.ErrorContains(t, err, "shape")

	// Unexpected keys are reported, not fatal.
	extra := map[string]*torch.Tensor{}
	for k, v := range ts {
		extra[k] = v
	}
	x := torch.MustFromSlice([]float32{1, 2})
	defer x.Free()
	extra["classifier.extra"] = x
	ed := filepath.Join(root, "extra")
	writeCheckpoint(t, ed, nil, extra)
	m, rep, err := LoadModel(ed, LoadOptions{})
	require.NoError(t, err)
	m.Free()
	require.Equal(t, []string{"classifier.extra"}, rep.Unexpected)

	// A head of the wrong size is refused unless a new head is asked for.
	_, _, err = LoadSequenceClassifier(filepath.Join(goldenDir(t), "gpt2-tiny"), LoadOptions{NumLabels: 5})
	require.ErrorContains(t, err, "score.weight")
	c, rep, err := LoadSequenceClassifier(filepath.Join(goldenDir(t), "gpt2-tiny"), LoadOptions{NumLabels: 5, InitHead: true})
	require.NoError(t, err)
	defer c.Free()
	require.True(t, rep.HeadInitialized)
	require.Equal(t, 5, c.NumLabels())
}

func TestClassifierLabelErrors(t *testing.T) {
	g := loadGolden(t)
	c := loadTiny(t, torch.Float32)
	s := torch.NewScope()
	defer s.Close()
	ids, mask := g.get("input_ids"), g.get("attention_mask")
	// Float labels on a classifier are an error that says so.
	_, err := c.Forward(s, ids, mask, s.Track(torch.MustFromSlice([]float32{1, 0, 2})))
	require.ErrorContains(t, err, "int64")
	// Wrong shape.
	_, err = c.Forward(s, ids, mask, s.Track(torch.MustFromSlice([]int64{1, 0})))
	require.ErrorContains(t, err, "shape")
	// Out of range.
	_, err = c.Forward(s, ids, mask, s.Track(torch.MustFromSlice([]int64{1, 0, 3})))
	require.ErrorContains(t, err, "outside")
	// Too long for n_positions (64).
	long := s.Track(torch.Must(torch.Zeros([]int64{1, 65}, torch.Int64, torch.CPU)))
	_, err = c.Forward(s, long, nil, nil)
	require.ErrorContains(t, err, "n_positions")
	// Ids outside the vocabulary.
	oov := s.Track(torch.MustFromSlice([]int64{1, 50257}, 1, 2))
	_, err = c.Forward(s, oov, nil, nil)
	require.ErrorContains(t, err, "out of range")
	// Float input_ids.
	_, err = c.Forward(s, s.Track(torch.MustFromSlice([]float32{1, 2}, 1, 2)), nil, nil)
	require.ErrorContains(t, err, "int64")
}

func TestDropoutOnlyInTraining(t *testing.T) {
	g := loadGolden(t)
	cfg := NewConfig(50257, 64, 32, 2, 2) // HF default dropouts 0.1
	pad := int64(50256)
	cfg.PadTokenID = &pad
	m, err := NewModel(cfg, torch.Float32, torch.CPU, nil)
	require.NoError(t, err)
	defer m.Free()
	run := func() []float32 {
		s := torch.NewScope()
		defer s.Close()
		h, err := m.Forward(s, g.get("input_ids"), g.get("attention_mask"))
		require.NoError(t, err)
		return torch.Must(h.Float32s())
	}
	m.Train(false)
	require.Equal(t, run(), run(), "eval mode is deterministic")
	m.Train(true)
	require.NotEqual(t, run(), run(), "dropout is active in training mode")
}

func TestTorchScriptBackboneFineTunes(t *testing.T) {
	g := loadGolden(t)
	gen, err := torch.NewGenerator(5, torch.CPU)
	require.NoError(t, err)
	defer gen.Free()
	c, err := NewTorchScriptClassifier(filepath.Join(goldenDir(t), "gpt2-tiny", "backbone.traced.pt"), 3, 32, 50256, torch.CPU, gen)
	require.NoError(t, err)
	defer c.Free()
	require.NoError(t, c.Train(true))
	var params []*torch.Tensor
	for _, p := range c.Params() {
		params = append(params, p.Tensor)
	}
	require.Greater(t, len(params), 20)
	before := torch.Must(c.params[0].Tensor.Clone())
	defer before.Free()
	opt, err := torch.NewAdamW([]torch.ParamGroup{{Params: params}}, torch.AdamWConfig{LR: 3e-3})
	require.NoError(t, err)
	defer opt.Free()
	var losses []float64
	for step := 0; step < 25; step++ {
		s := torch.NewScope()
		_, loss, err := c.Forward(s, g.get("input_ids"), g.get("attention_mask"), g.get("labels"))
		require.NoError(t, err)
		require.NoError(t, opt.ZeroGrad())
		require.NoError(t, loss.Backward())
		// The backbone's parameters receive gradients through the TorchScript graph.
		gr, err := c.params[0].Tensor.Grad()
		require.NoError(t, err)
		require.NotNil(t, gr, "backbone parameter %s has no gradient", c.params[0].Name)
		gr.Free()
		require.NoError(t, opt.Step())
		losses = append(losses, loss.MustItem())
		s.Close()
	}
	t.Logf("loss %.4g → %.4g", losses[0], losses[len(losses)-1])
	require.Less(t, losses[len(losses)-1], 0.2*losses[0], "loss %v", losses)
	// The module's own weights moved (Params shares the module's storage).
	diff := torch.Must(torch.Must(c.params[0].Tensor.Sub(before)).Abs()).MustSum().MustItem()
	require.Greater(t, diff, 0.0)
}
