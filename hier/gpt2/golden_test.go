package gpt2

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hier-ai/hier/torch"
)

// goldenDir is ../shared/golden beside the repository, or $HIER_GOLDEN_DIR when set; tests skip
// when it is absent.
func goldenDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("HIER_GOLDEN_DIR")
	if dir == "" {
		dir = filepath.Join(filepath.Dir(tokTestRepoRoot(t)), "shared", "golden")
	}
	if _, err := os.Stat(filepath.Join(dir, "golden.safetensors")); err != nil {
		t.Skipf("golden data not found at %s (it lives in ../shared/golden beside the repository; HIER_GOLDEN_DIR overrides)", dir)
	}
	return dir
}

// testDevice is where the golden parity tests (TestGolden*) run the model: $HIER_TEST_DEVICE
// (cpu, cuda or cuda:N; default cpu). Asking for CUDA where there is none fails the test rather
// than skipping it, so a GPU check cannot pass on the CPU by accident. The stored references are
// CPU results: on a GPU they hold within the same tolerances (../shared/golden/README.md), since
// libtorch leaves TF32 off for float32 matmuls (scripts/gpu_check.sh also sets
// NVIDIA_TF32_OVERRIDE=0) and GPT-2 has no convolution.
func testDevice(t testing.TB) torch.Device {
	t.Helper()
	s := os.Getenv("HIER_TEST_DEVICE")
	if s == "" {
		return torch.CPU
	}
	d, err := torch.ParseDevice(s)
	require.NoError(t, err, "HIER_TEST_DEVICE")
	return d
}

type golden struct {
	t  map[string]*torch.Tensor
	tb testing.TB
}

// on returns golden tensor key on device d: the stored tensor itself on the CPU, otherwise a
// copy freed when the test ends.
func (g *golden) on(key string, d torch.Device) *torch.Tensor {
	x := g.get(key)
	if !d.CUDA {
		return x
	}
	y, err := x.ToDevice(d)
	require.NoError(g.tb, err)
	g.tb.Cleanup(y.Free)
	return y
}

func loadGolden(t testing.TB) *golden {
	ts, _, err := torch.LoadSafetensors(filepath.Join(goldenDir(t), "golden.safetensors"), torch.CPU)
	require.NoError(t, err)
	t.Cleanup(func() {
		for _, x := range ts {
			x.Free()
		}
	})
	return &golden{t: ts, tb: t}
}

func (g *golden) get(key string) *torch.Tensor {
	x, ok := g.t[key]
	require.True(g.tb, ok, "golden key %s", key)
	return x
}

// f64 returns a golden tensor's values as float64 (converting f32 tensors).
func (g *golden) f64(key string) []float64 {
	x := g.get(key)
	y := torch.Must(x.ToDType(torch.Float64))
	defer y.Free()
	return torch.Must(y.Float64s())
}

func values64(t testing.TB, x *torch.Tensor) []float64 {
	y := torch.Must(x.ToDType(torch.Float64))
	defer y.Free()
	v, err := y.Float64s()
	require.NoError(t, err)
	return v
}

// requireClose checks |a-b| <= atol + rtol·|b| elementwise, reporting the worst element.
func requireClose(t testing.TB, name string, got, want []float64, atol, rtol float64) {
	t.Helper()
	require.Equal(t, len(want), len(got), "%s: length", name)
	worst, at := 0.0, -1
	for i := range want {
		d := math.Abs(got[i] - want[i])
		if d > atol+rtol*math.Abs(want[i]) && d > worst {
			worst, at = d, i
		}
	}
	if at >= 0 {
		t.Fatalf("%s: element %d: got %.12g want %.12g (|diff| %.3g > atol %g + rtol %g·|want|)", name, at, got[at], want[at], worst, atol, rtol)
	}
}

// maskedRows keeps the values of positions where attention_mask is 1 ([B, T, C] flattened).
func maskedRows(vals []float64, mask []int64, C int) []float64 {
	var out []float64
	for p, m := range mask {
		if m == 1 {
			out = append(out, vals[p*C:(p+1)*C]...)
		}
	}
	return out
}

type precision struct {
	name       string
	dt         torch.DType
	atol, rtol float64
}

// Tolerances from ../shared/golden/README.md: a float32 implementation vs f64 golden
// |a-b| <= 1e-5 + 1e-5·|b|; a float64 implementation |a-b| <= 1e-10 + 1e-9·|b|.
var precisions = []precision{
	{"f32", torch.Float32, 1e-5, 1e-5},
	{"f64", torch.Float64, 1e-10, 1e-9},
}

func loadTiny(t testing.TB, dt torch.DType) *SequenceClassifier {
	return loadTinyOn(t, dt, torch.CPU)
}

func loadTinyOn(t testing.TB, dt torch.DType, d torch.Device) *SequenceClassifier {
	c, rep, err := LoadSequenceClassifier(filepath.Join(goldenDir(t), "gpt2-tiny"), LoadOptions{DType: dt, Device: d})
	require.NoError(t, err)
	require.Empty(t, rep.Missing)
	require.Empty(t, rep.Unexpected)
	require.True(t, rep.Prefixed)
	t.Cleanup(c.Free)
	return c
}

func TestGoldenForward(t *testing.T) {
	g := loadGolden(t)
	dev := testDevice(t)
	ids, mask := g.on("input_ids", dev), g.on("attention_mask", dev)
	maskv := torch.Must(mask.Int64s())
	for _, p := range precisions {
		t.Run(p.name, func(t *testing.T) {
			c := loadTinyOn(t, p.dt, dev)
			labels := g.on("labels", dev)
			s := torch.NewScope()
			defer s.Close()
			out, err := c.Forward(s, ids, mask, labels)
			require.NoError(t, err)
			requireClose(t, "last_hidden_state", maskedRows(values64(t, out.Hidden), maskv, 32), maskedRows(g.f64("f64.last_hidden_state"), maskv, 32), p.atol, p.rtol)
			requireClose(t, "pooled_hidden", values64(t, out.Pooled), g.f64("f64.pooled_hidden"), p.atol, p.rtol)
			requireClose(t, "cls_logits", values64(t, out.Logits), g.f64("f64.cls_logits"), p.atol, p.rtol)
			requireClose(t, "cls_loss", values64(t, out.Loss), g.f64("f64.cls_loss"), p.atol, p.rtol)
			require.InDelta(t, 1.0609510001362377, out.Loss.MustItem(), 1e-5)

			idx, err := c.PoolIndex(s, ids)
			require.NoError(t, err)
			require.Equal(t, []int64{11, 6, 3}, torch.Must(idx.Int64s()))

			// LM head on row 0 (tied to wte).
			row0 := out.Hidden.MustNarrow(0, 0, 1)
			lm, err := c.Backbone.LMLogits(row0)
			require.NoError(t, err)
			requireClose(t, "lm_logits_seq0", values64(t, lm), g.f64("f64.lm_logits_seq0"), p.atol, p.rtol)
		})
	}
}

func TestGoldenRegressionHead(t *testing.T) {
	g := loadGolden(t)
	dev := testDevice(t)
	for _, p := range precisions {
		t.Run(p.name, func(t *testing.T) {
			c := loadTinyOn(t, p.dt, dev)
			// Swap in the one-label regression head recorded in golden.safetensors.
			reg := torch.Must(g.get("regression_score.weight").To(dev, p.dt))
			require.NoError(t, reg.SetRequiresGrad(true))
			cfg, err := c.Config().Clone()
			require.NoError(t, err)
			cfg.ID2Label, cfg.Label2ID, cfg.ProblemType = nil, nil, ""
			one := 1
			cfg.NumLabelsField = &one
			rc := &SequenceClassifier{Backbone: &Model{Config: cfg, WTE: c.Backbone.WTE, WPE: c.Backbone.WPE, Blocks: c.Backbone.Blocks, LnFW: c.Backbone.LnFW, LnFB: c.Backbone.LnFB}, Score: reg}
			defer reg.Free()
			require.Equal(t, ProblemRegression, rc.ProblemType())
			s := torch.NewScope()
			defer s.Close()
			targets := s.Track(torch.Must(g.get("regression_targets").To(dev, p.dt)))
			out, err := rc.Forward(s, g.on("input_ids", dev), g.on("attention_mask", dev), targets)
			require.NoError(t, err)
			require.Equal(t, []int64{3, 1}, out.Logits.Shape())
			requireClose(t, "regression_logits", values64(t, out.Logits), g.f64("f64.regression_logits"), p.atol, p.rtol)
			requireClose(t, "mse_loss", values64(t, out.Loss), g.f64("f64.mse_loss"), p.atol, p.rtol)

			// int64 labels on a regression head are an error, not a silent switch to cross-entropy.
			_, err = rc.Forward(s, g.on("input_ids", dev), g.on("attention_mask", dev), g.on("labels", dev))
			require.ErrorContains(t, err, "regression must be floating point")
		})
	}
}

// gradTol is per tensor: golden.json suggested tolerances are ~20x the measured f32 error.
func TestGoldenGradients(t *testing.T) {
	g := loadGolden(t)
	dev := testDevice(t)
	for _, p := range precisions {
		t.Run(p.name, func(t *testing.T) {
			c := loadTinyOn(t, p.dt, dev)
			s := torch.NewScope()
			out, err := c.Forward(s, g.on("input_ids", dev), g.on("attention_mask", dev), g.on("labels", dev))
			require.NoError(t, err)
			require.NoError(t, out.Loss.Backward())
			s.Close()
			grad := func(x *torch.Tensor) []float64 {
				gr, err := x.Grad()
				require.NoError(t, err)
				require.NotNil(t, gr)
				defer gr.Free()
				return values64(t, gr)
			}
			atol := 2e-6
			if p.dt == torch.Float64 {
				atol = 1e-12
			}
			b0 := c.Backbone.Blocks[0]
			requireClose(t, "grad c_attn.weight", grad(b0.AttnW), g.f64("f64.grad.transformer.h.0.attn.c_attn.weight"), atol, 1e-5)
			requireClose(t, "grad c_attn.bias", grad(b0.AttnB), g.f64("f64.grad.transformer.h.0.attn.c_attn.bias"), atol, 1e-5)
			requireClose(t, "grad score.weight", grad(c.Score), g.f64("f64.grad.score.weight"), atol, 1e-5)
			wpe := grad(c.Backbone.WPE)
			requireClose(t, "grad wpe rows 0..11", wpe[:12*32], g.f64("f64.grad.transformer.wpe.weight"), atol, 1e-5)
			for _, v := range wpe[12*32:] {
				require.Zero(t, v, "wpe rows 12.. get no gradient")
			}
			wte := grad(c.Backbone.WTE)
			rows := torch.Must(g.get("grad.transformer.wte.weight.row_ids").Int64s())
			var got []float64
			for _, r := range rows {
				got = append(got, wte[r*32:(r+1)*32]...)
			}
			requireClose(t, "grad wte rows", got, g.f64("f64.grad.transformer.wte.weight.rows"), atol, 1e-5)
			for _, v := range wte[50256*32 : 50257*32] {
				require.Zero(t, v, "the pad row never reaches the loss")
			}
			var params []*torch.Tensor
			for _, np := range c.Params() {
				params = append(params, np.Tensor)
			}
			norm, err := torch.ClipGradNorm(params, 0)
			require.NoError(t, err)
			requireClose(t, "grad_global_norm", []float64{norm}, g.f64("f64.grad_global_norm"), p.atol, p.rtol)
		})
	}
}

func TestGoldenAdamWTwoSteps(t *testing.T) {
	g := loadGolden(t)
	dev := testDevice(t)
	for _, p := range precisions {
		t.Run(p.name, func(t *testing.T) {
			c := loadTinyOn(t, p.dt, dev)
			var params []*torch.Tensor
			for _, np := range c.Params() {
				params = append(params, np.Tensor)
			}
			// README: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.01 on ALL parameters.
			opt, err := torch.NewAdamW([]torch.ParamGroup{{Params: params, WeightDecay: 0.01}}, torch.AdamWConfig{LR: 1e-3})
			require.NoError(t, err)
			defer opt.Free()
			step := func() float64 {
				s := torch.NewScope()
				defer s.Close()
				require.NoError(t, opt.ZeroGrad())
				out, err := c.Forward(s, g.on("input_ids", dev), g.on("attention_mask", dev), g.on("labels", dev))
				require.NoError(t, err)
				require.NoError(t, out.Loss.Backward())
				require.NoError(t, opt.Step())
				return out.Loss.MustItem()
			}
			atol := 1e-7
			if p.dt == torch.Float64 {
				atol = 1e-12
			}
			step()
			fc := c.Backbone.Blocks[1].FcW
			requireClose(t, "adamw1 score", values64(t, c.Score), g.f64("f64.adamw1.score.weight"), atol, 1e-6)
			requireClose(t, "adamw1 c_fc", values64(t, fc), g.f64("f64.adamw1.transformer.h.1.mlp.c_fc.weight"), atol, 1e-6)
			lossAfter := step()
			requireClose(t, "loss after step 1", []float64{lossAfter}, g.f64("f64.adamw1.cls_loss_after"), p.atol, p.rtol)
			requireClose(t, "adamw2 score", values64(t, c.Score), g.f64("f64.adamw2.score.weight"), atol, 1e-6)
			requireClose(t, "adamw2 c_fc", values64(t, fc), g.f64("f64.adamw2.transformer.h.1.mlp.c_fc.weight"), atol, 1e-6)
		})
	}
}

func TestGoldenBaseCheckpointAndTorchScript(t *testing.T) {
	g := loadGolden(t)
	dir := goldenDir(t)
	dev := testDevice(t)
	// The unprefixed layout with attn.bias buffers must load to the same backbone.
	base, rep, err := LoadModel(filepath.Join(dir, "gpt2-tiny-base"), LoadOptions{Device: dev})
	require.NoError(t, err)
	defer base.Free()
	require.False(t, rep.Prefixed)
	require.ElementsMatch(t, []string{"h.0.attn.bias", "h.1.attn.bias"}, rep.Ignored)
	require.Nil(t, base.Config.PadTokenID)

	ids, mask := g.on("input_ids", dev), g.on("attention_mask", dev)
	s := torch.NewScope()
	defer s.Close()
	h, err := base.Forward(s, ids, mask)
	require.NoError(t, err)
	maskv := torch.Must(mask.Int64s())
	requireClose(t, "base last_hidden_state", maskedRows(values64(t, h), maskv, 32), maskedRows(g.f64("f64.last_hidden_state"), maskv, 32), 1e-5, 1e-5)

	// Without a pad token, a classifier refuses a batch > 1 and says how to fix it.
	c, _, err := LoadSequenceClassifier(filepath.Join(dir, "gpt2-tiny-base"), LoadOptions{InitHead: true, NumLabels: 3, Device: dev})
	require.NoError(t, err)
	defer c.Free()
	_, err = c.Forward(s, ids, mask, nil)
	require.ErrorContains(t, err, "pad_token_id")
	// And a backbone-only checkpoint does not silently get a head.
	_, _, err = LoadSequenceClassifier(filepath.Join(dir, "gpt2-tiny-base"), LoadOptions{Device: dev})
	require.ErrorContains(t, err, "no score.weight")

	// The TorchScript trace gives the same hidden states as the Go model. Its stored output was
	// computed on another CPU, whose kernels round differently: the float32 golden tolerance, not
	// bitwise (all positions: the same trace computes the padded ones too).
	mod, err := torch.LoadModule(filepath.Join(dir, "gpt2-tiny", "backbone.traced.pt"), dev)
	require.NoError(t, err)
	defer mod.Free()
	ts, err := mod.Forward(ids, mask)
	require.NoError(t, err)
	defer ts.Free()
	requireClose(t, "torchscript vs torchscript_last_hidden_state", values64(t, ts), g.f64("torchscript_last_hidden_state"), precisions[0].atol, precisions[0].rtol)
	requireClose(t, "go vs torchscript", maskedRows(values64(t, h), maskv, 32), maskedRows(values64(t, ts), maskv, 32), 1e-5, 1e-5)
}

func TestGoldenActivation(t *testing.T) {
	g := loadGolden(t)
	dev := testDevice(t)
	for _, p := range []struct {
		dt   torch.DType
		key  string
		atol float64
	}{{torch.Float32, "f32.activation.gelu_new", 2e-6}, {torch.Float64, "f64.activation.gelu_new", 1e-12}} {
		x := torch.Must(g.get("activation.x").To(dev, p.dt))
		y := x.MustGeluTanh()
		requireClose(t, fmt.Sprint("gelu_new ", p.dt), values64(t, y), g.f64(p.key), p.atol, 0)
		torch.FreeAll(x, y)
	}
}
