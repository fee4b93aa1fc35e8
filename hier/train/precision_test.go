package train

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/torch"
	"github.com/stretchr/testify/require"
)

// goldenTiny is ../shared/golden/gpt2-tiny (HIER_GOLDEN_DIR overrides ../shared/golden); the
// test skips when it is absent.
func goldenTiny(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("HIER_GOLDEN_DIR")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "golden")
	}
	p := filepath.Join(dir, "gpt2-tiny")
	if _, err := os.Stat(filepath.Join(p, "model.safetensors")); err != nil {
		t.Skipf("golden model not found at %s (../shared/golden beside the repository; HIER_GOLDEN_DIR overrides)", p)
	}
	return p
}

// bf16Tol is the tolerance of a bf16 mixed-precision loss against float32: bfloat16 keeps 8
// significant bits (relative rounding 2^-9 per value); a loss that passes through a few layers of
// bf16 matmuls is expected within a few times 2^-8 relative. 2% leaves room for the drift of the
// parameters over the steps (each step's update is computed from the bf16 forward).
const bf16Tol = 0.02

// TestPrecisionBF16MatchesFP32OnGolden: training the golden tiny GPT-2 as a causal LM and as a
// 3-label classifier with Precision "bf16" gives step losses and validation metrics within
// bf16Tol (relative) of the same training in float32 from the same weights and data; the
// parameters stay float32.
func TestPrecisionBF16MatchesFP32OnGolden(t *testing.T) {
	noLeak(t)
	dir := goldenTiny(t)
	tr, va := countingData(64, 64, 20, 11), countingData(32, 64, 20, 12)
	lm := func(prec string) *Result {
		m, _, err := gpt2.LoadModel(dir, gpt2.LoadOptions{})
		require.NoError(t, err)
		defer m.Free()
		res := fit(t, &LMTask{Model: m}, tr, va, Config{Epochs: 2, BatchSize: 16, LR: 1e-3, MaxGradNorm: 1, Seed: 5, Precision: prec})
		for _, p := range m.Params() {
			require.Equal(t, torch.Float32, p.Tensor.DType(), "%s stays float32", p.Name)
		}
		return res
	}
	f32, b16 := lm("fp32"), lm("bf16")
	require.Len(t, b16.StepLosses, len(f32.StepLosses))
	var worst float64
	for i := range f32.StepLosses {
		rel := abs(b16.StepLosses[i]-f32.StepLosses[i]) / abs(f32.StepLosses[i])
		worst = max(worst, rel)
		require.LessOrEqual(t, rel, bf16Tol, "LM step %d: bf16 %.5f vs fp32 %.5f", i+1, b16.StepLosses[i], f32.StepLosses[i])
	}
	fl, bl := f32.Epochs[1].Metrics.Values["loss"], b16.Epochs[1].Metrics.Values["loss"]
	require.InEpsilon(t, fl, bl, bf16Tol, "LM validation loss")
	t.Logf("LM: %d steps, worst relative step-loss difference %.2e; validation loss fp32 %.5f bf16 %.5f", len(f32.StepLosses), worst, fl, bl)

	ctr, cva := hasFiveData(96, 64, 13), hasFiveData(32, 64, 14)
	for i := range ctr {
		ctr[i].Label %= 3
	}
	for i := range cva {
		cva[i].Label %= 3
	}
	cls := func(prec string) *Result {
		m, _, err := gpt2.LoadSequenceClassifier(dir, gpt2.LoadOptions{})
		require.NoError(t, err)
		defer m.Free()
		task := &ClassificationTask{Model: m, Labels: []string{"negative", "neutral", "positive"}}
		return fit(t, task, ctr, cva, Config{Epochs: 2, BatchSize: 16, LR: 1e-3, MaxGradNorm: 1, Seed: 6, Precision: prec})
	}
	// The bf16 path really runs in bfloat16: under the same autocast the logits come out of a
	// bfloat16 matmul, while the loss is float32.
	func() {
		m, _, err := gpt2.LoadSequenceClassifier(dir, gpt2.LoadOptions{})
		require.NoError(t, err)
		defer m.Free()
		s := torch.NewScope()
		defer s.Close()
		b, err := Collate(s, ctr[:4], padOf(m), 0, torch.CPU)
		require.NoError(t, err)
		require.NoError(t, withPrecision(Config{Precision: "bf16"}, func() error {
			out, err := m.Forward(s, b.InputIDs, b.AttentionMask, b.Labels)
			require.NoError(t, err)
			require.Equal(t, torch.BFloat16, out.Logits.DType())
			require.Equal(t, torch.Float32, out.Loss.DType())
			return nil
		}))
		// Regression (MSE): the targets are not rounded to bfloat16 (3.3 would become 3.296875).
		r, _, err := gpt2.LoadSequenceClassifier(dir, gpt2.LoadOptions{NumLabels: 1, InitHead: true, Generator: newGen(t, 1)})
		require.NoError(t, err)
		defer r.Free()
		y := s.Track(torch.MustFromSlice([]float32{3.3, -1.7, 2.05, 0.013}))
		var l32, l16 float64
		require.NoError(t, torch.NoGrad(func() error {
			out, err := r.Forward(s, b.InputIDs, b.AttentionMask, y)
			require.NoError(t, err)
			l32 = torch.Must(out.Loss.Item())
			return withPrecision(Config{Precision: "bf16"}, func() error {
				out, err := r.Forward(s, b.InputIDs, b.AttentionMask, y)
				require.NoError(t, err)
				require.Equal(t, torch.Float32, out.Loss.DType())
				l16 = torch.Must(out.Loss.Item())
				return nil
			})
		}))
		require.InEpsilon(t, l32, l16, 1e-3, "MSE of bf16 predictions against float32 targets")
	}()
	cf, cb := cls("fp32"), cls("bf16")
	worst = 0
	for i := range cf.StepLosses {
		rel := abs(cb.StepLosses[i]-cf.StepLosses[i]) / abs(cf.StepLosses[i])
		worst = max(worst, rel)
		require.LessOrEqual(t, rel, bf16Tol, "classification step %d: bf16 %.5f vs fp32 %.5f", i+1, cb.StepLosses[i], cf.StepLosses[i])
	}
	require.InEpsilon(t, cf.Epochs[1].Metrics.Values["loss"], cb.Epochs[1].Metrics.Values["loss"], bf16Tol)
	t.Logf("classification: worst relative step-loss difference %.2e; accuracy fp32 %.3f bf16 %.3f", worst,
		cf.Epochs[1].Metrics.Values["accuracy"], cb.Epochs[1].Metrics.Values["accuracy"])
}

func TestPrecisionValues(t *testing.T) {
	for _, p := range []string{"", "fp32", "bf16"} {
		_, err := ParsePrecision(p)
		require.NoError(t, err, p)
	}
	_, err := ParsePrecision("fp16")
	require.ErrorContains(t, err, "loss scaling")
	_, err = ParsePrecision("half")
	require.ErrorContains(t, err, `unknown precision "half"`)
	err = (&Config{Epochs: 1, BatchSize: 1, LR: 1, Precision: "bf61"}).normalize()
	require.ErrorContains(t, err, "Precision")
}
