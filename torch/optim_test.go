package torch

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// setGrad gives the leaf p the gradient g exactly: d/dp Σ(p·g) = g.
func (c *tc) setGrad(p, g *Tensor) {
	c.Helper()
	require.NoError(c, c.T(c.T(p.Mul(g)).Sum()).Backward())
}

// TestAdamWGoldenStep: one AdamW step on score.weight of the golden GPT-2, with the golden
// gradient, must reproduce adamw1.score.weight (../shared/golden/README.md: lr 1e-3, betas
// (0.9, 0.999), eps 1e-8, weight decay 0.01).
func TestAdamWGoldenStep(t *testing.T) {
	dir := goldenDir(t)
	dev := testDevice(t)
	c := newTC(t)
	model, meta, err := LoadSafetensors(filepath.Join(dir, "gpt2-tiny", "model.safetensors"), CPU)
	require.NoError(t, err)
	for _, x := range model {
		c.s.Track(x)
	}
	require.Equal(t, "pt", meta["format"])
	require.Len(t, model, 29)
	w := model["score.weight"]
	require.NotNil(t, w)
	c.shape(w, 3, 32)

	for _, prec := range []struct {
		name string
		dt   DType
		atol float64 // vs the f64 golden (golden.json suggested_tolerances)
	}{{"f32", Float32, 8e-8}, {"f64", Float64, 5e-11}} {
		t.Run(prec.name, func(t *testing.T) {
			c := newTC(t)
			p := c.T(c.T(w.To(dev, prec.dt)).Clone())
			require.NoError(t, p.SetRequiresGrad(true))
			g := c.on(goldenTensor(t, prec.name+".grad.score.weight"), dev)
			c.setGrad(p, g)
			gv, err := c.T(p.Grad()).Bytes()
			require.NoError(t, err)
			wantG, err := g.Bytes()
			require.NoError(t, err)
			require.Equal(t, wantG, gv, "the gradient is set exactly")

			opt, err := NewAdamW([]ParamGroup{{Params: []*Tensor{p}, WeightDecay: 0.01}},
				AdamWConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
			require.NoError(t, err)
			defer opt.Free()
			require.NoError(t, opt.Step())
			require.Equal(t, int64(1), opt.StepCount())

			got := c.f64s(c.T(p.ToDType(Float64)))
			want64 := c.f64s(goldenTensor(t, "f64.adamw1.score.weight"))
			requireClose(t, want64, got, prec.atol, 0, "%s AdamW step vs f64 golden", prec.name)
			if prec.dt == Float32 {
				// Same arithmetic as torch's float32 step, so within float32 rounding of the f32 golden:
				// the step is a chain of elementwise ops whose kernels differ by CPU only in fused
				// multiply-adds and vector vs scalar code, each ≤ 1 ulp; the update lr·m̂/(√v̂+eps) is
				// ~1e-3, small next to |w| ≤ 0.045, so |w| sets the ulp. 2 ulp relative (2·2^-23) plus
				// 1e-10 for the smallest weights: ≤ 1.1e-8, still 8× tighter than the f64 check above.
				want32 := c.f32s(goldenTensor(t, "f32.adamw1.score.weight"))
				requireClose(t, f64of(want32), got, 1e-10, 2.0/(1<<23), "f32 AdamW step vs f32 golden")
			}
			// Sanity: step 1 moves every weight by about lr·sign(g) (plus the decay).
			w0 := c.f64s(c.T(w.ToDType(Float64)))
			g64 := c.f64s(goldenTensor(t, "f64.grad.score.weight"))
			for i := range got {
				require.InDelta(t, w0[i]*(1-1e-5)-1e-3*math.Copysign(1, g64[i]), got[i], 1e-8)
			}
		})
	}
}

// A small least-squares problem, loss = mean((X·W + B − Y)²), solved with torch.optim in
// PyTorch 1.13 for 3 steps (zero_grad, loss, backward, step); the constants below are W and B
// after each step, printed with repr() from
//
//	X = torch.tensor([[0.5,-1.0,2.0],[1.5,0.3,-0.7]], dtype=torch.float64)
//	Y = torch.tensor([[1.0,0.0],[-0.5,2.0]], dtype=torch.float64)
//	W0 = torch.tensor([[0.1,-0.2],[0.3,0.4],[-0.5,0.6]], dtype=torch.float64)
//	B0 = torch.tensor([0.05,-0.05], dtype=torch.float64)
var (
	optX  = []float64{0.5, -1.0, 2.0, 1.5, 0.3, -0.7}
	optY  = []float64{1.0, 0.0, -0.5, 2.0}
	optW0 = []float64{0.1, -0.2, 0.3, 0.4, -0.5, 0.6}
	optB0 = []float64{0.05, -0.05}

	// torch.optim.AdamW([W, B], lr=0.1)   (weight_decay defaults to 0.01)
	pyAdamW = [3][2][]float64{
		{{-9.999672131158488e-05, -0.0998000005479452, 0.19970000078678202, 0.499599998615917, -0.39950000038476335, 0.4994000006339144}, {0.14994999811320756, 0.05004999900000002}},
		{{-0.09978307356831823, -0.00025822827473227783, 0.10029524123002626, 0.5981280062850818, -0.29989129446428164, 0.399840016221572}, {0.24871673159339064, 0.1495877202866473}},
		{{-0.19877483580215505, 0.09812254763444446, 0.0025642464300234535, 0.694579706437685, -0.20194746308682843, 0.30228085403962723}, {0.3451556672354373, 0.24826159179817353}},
	}
	// torch.optim.AdamW([{'params':[W],'weight_decay':0.1},{'params':[B],'weight_decay':0.0}], lr=0.05, betas=(0.8,0.99), eps=1e-6)
	pyAdamWGroups = [3][2][]float64{
		{{0.04950016393388874, -0.14900002739724527, 0.2485000393390721, 0.4479999307959436, -0.44750001923816113, 0.547000031695701}, {0.09999990566055536, -4.999994999282942e-08}},
		{{-0.000618186758733423, -0.09845172439208198, 0.19752381847376613, 0.49544931842163525, -0.39552771232566064, 0.49456711378407986}, {0.14966289828468687, 0.04984835113732967}},
		{{-0.05026610482765575, -0.048499296593640405, 0.14727447053257905, 0.5421063760859695, -0.3442852324166559, 0.4429352421075036}, {0.19871718921603304, 0.09943437877669267}},
	}
	// torch.optim.SGD([W, B], lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)
	pySGDNesterov = [3][2][]float64{
		{{0.04185999999999999, 0.14712999999999998, 0.05793999999999999, 0.536515, -0.005239999999999929, 0.299135}, {0.15060500000000002, 0.140095}},
		{{-0.04506190900000004, 0.5222453655, -0.1514998435, 0.6679565715, 0.4249426985000001, 0.005745568499999982}, {0.2086401505, 0.3550316445}},
		{{-0.14516378211915004, 0.8479806061593, -0.28006582016235, 0.765420430837275, 0.6916425496803501, -0.216677322597025}, {0.20716608542155, 0.55140247732045}},
	}
	// torch.optim.SGD([W, B], lr=0.1, momentum=0.9, dampening=0.25)
	pySGDDampening = [3][2][]float64{
		{{0.06949999999999999, -0.017500000000000005, 0.17289999999999997, 0.47225, -0.24009999999999995, 0.44225}, {0.10300000000000001, 0.05}},
		{{0.01830837499999998, 0.2588553125, -0.008746512500000051, 0.5784029375, 0.13179998750000005, 0.20997856250000002}, {0.17275600000000002, 0.20339937500000002}},
		{{-0.05158147239062503, 0.5820306703906251, -0.19950376288437507, 0.6960249218515625, 0.523330759334375, -0.048416094085937444}, {0.23330172653125003, 0.386736333125}},
	}
)

// optParams returns fresh leaves W [3,2] and B [2] at W0, B0.
func (c *tc) optParams() (w, b *Tensor) {
	return c.Leaf(append([]float64(nil), optW0...), 3, 2), c.Leaf(append([]float64(nil), optB0...), 2)
}

// optStep runs one training step of the least-squares problem.
func (c *tc) optStep(opt Optimizer, w, b *Tensor) {
	c.Helper()
	require.NoError(c, opt.ZeroGrad())
	x, y := c.F64(optX, 2, 3), c.F64(optY, 2, 2)
	pred := c.T(c.T(x.MatMul(w)).Add(b))
	loss := c.T(c.T(c.T(pred.Sub(y)).Square()).Mean())
	require.NoError(c, loss.Backward())
	require.NoError(c, opt.Step())
}

func TestOptimizersMatchPyTorch(t *testing.T) {
	for _, tcase := range []struct {
		name string
		mk   func(w, b *Tensor) (Optimizer, error)
		want [3][2][]float64
	}{
		{"adamw", func(w, b *Tensor) (Optimizer, error) {
			return NewAdamW([]ParamGroup{{Params: []*Tensor{w, b}, WeightDecay: 0.01}}, AdamWConfig{LR: 0.1})
		}, pyAdamW},
		{"adamw param groups", func(w, b *Tensor) (Optimizer, error) {
			return NewAdamW([]ParamGroup{{Params: []*Tensor{w}, WeightDecay: 0.1}, {Params: []*Tensor{b}}},
				AdamWConfig{LR: 0.05, Beta1: 0.8, Beta2: 0.99, Eps: 1e-6})
		}, pyAdamWGroups},
		{"sgd nesterov weight decay", func(w, b *Tensor) (Optimizer, error) {
			return NewSGD([]ParamGroup{{Params: []*Tensor{w, b}, WeightDecay: 0.01}}, SGDConfig{LR: 0.1, Momentum: 0.9, Nesterov: true})
		}, pySGDNesterov},
		{"sgd dampening", func(w, b *Tensor) (Optimizer, error) {
			return NewSGD([]ParamGroup{{Params: []*Tensor{w, b}}}, SGDConfig{LR: 0.1, Momentum: 0.9, Dampening: 0.25})
		}, pySGDDampening},
	} {
		t.Run(tcase.name, func(t *testing.T) {
			c := newTC(t)
			w, b := c.optParams()
			opt, err := tcase.mk(w, b)
			require.NoError(t, err)
			defer opt.Free()
			require.Len(t, opt.Params(), 2)
			for step := 0; step < 3; step++ {
				c.optStep(opt, w, b)
				requireClose(t, tcase.want[step][0], c.f64s(w), 1e-15, 1e-13, "W after step %d", step+1)
				requireClose(t, tcase.want[step][1], c.f64s(b), 1e-15, 1e-13, "B after step %d", step+1)
			}
		})
	}
}

func TestOptimizerStateRoundTrip(t *testing.T) {
	for _, tcase := range []struct {
		name string
		mk   func(w, b *Tensor) (Optimizer, error)
		want [3][2][]float64
		keys int
	}{
		{"adamw", func(w, b *Tensor) (Optimizer, error) {
			return NewAdamW([]ParamGroup{{Params: []*Tensor{w, b}, WeightDecay: 0.01}}, AdamWConfig{LR: 0.1})
		}, pyAdamW, 4},
		{"sgd", func(w, b *Tensor) (Optimizer, error) {
			return NewSGD([]ParamGroup{{Params: []*Tensor{w, b}, WeightDecay: 0.01}}, SGDConfig{LR: 0.1, Momentum: 0.9, Nesterov: true})
		}, pySGDNesterov, 2},
	} {
		t.Run(tcase.name, func(t *testing.T) {
			c := newTC(t)
			wa, ba := c.optParams()
			a, err := tcase.mk(wa, ba)
			require.NoError(t, err)
			defer a.Free()
			c.optStep(a, wa, ba)
			c.optStep(a, wa, ba)

			ts, scalars, err := a.State()
			require.NoError(t, err)
			require.Len(t, ts, tcase.keys)
			for _, x := range ts {
				c.s.Track(x)
			}
			require.Equal(t, 2.0, scalars["step"])
			require.Equal(t, 0.1, scalars["lr"])
			// Round trip through a safetensors file, as a checkpoint would.
			path := filepath.Join(t.TempDir(), "opt.safetensors")
			require.NoError(t, SaveSafetensors(path, ts, map[string]string{"step": fmt.Sprint(scalars["step"])}))
			loaded, _, err := LoadSafetensors(path, CPU)
			require.NoError(t, err)
			for _, x := range loaded {
				c.s.Track(x)
			}

			// b continues from a copy of a's parameters and state.
			wb := c.Leaf(c.f64s(wa), 3, 2)
			bb := c.Leaf(c.f64s(ba), 2)
			b, err := tcase.mk(wb, bb)
			require.NoError(t, err)
			defer b.Free()
			require.NoError(t, b.LoadState(loaded, scalars))
			// fresh starts from the same parameters without the state.
			wf := c.Leaf(c.f64s(wa), 3, 2)
			bf := c.Leaf(c.f64s(ba), 2)
			fresh, err := tcase.mk(wf, bf)
			require.NoError(t, err)
			defer fresh.Free()

			c.optStep(a, wa, ba)
			c.optStep(b, wb, bb)
			c.optStep(fresh, wf, bf)
			require.Equal(t, c.f64s(wa), c.f64s(wb), "identical step after LoadState")
			require.Equal(t, c.f64s(ba), c.f64s(bb))
			requireClose(t, tcase.want[2][0], c.f64s(wb), 1e-15, 1e-13, "step 3 after LoadState matches PyTorch")
			require.NotEqual(t, c.f64s(wa), c.f64s(wf), "without the state the step differs")

			// Errors: a missing entry, a wrong shape.
			delete(loaded, map[int]string{4: "exp_avg.1", 2: "momentum_buffer.1"}[tcase.keys])
			require.ErrorContains(t, fresh.LoadState(loaded, nil), "missing")
			bad := map[string]*Tensor{}
			for k := range ts {
				bad[k] = c.F64([]float64{1})
			}
			require.Error(t, fresh.LoadState(bad, nil))
		})
	}
}

func TestSetLR(t *testing.T) {
	c := newTC(t)
	p := c.Leaf([]float64{1, 2})
	sgd, err := NewSGD([]ParamGroup{{Params: []*Tensor{p}}}, SGDConfig{LR: 0.1})
	require.NoError(t, err)
	defer sgd.Free()
	require.Equal(t, 0.1, sgd.LR())
	sgd.SetLR(0.25)
	require.Equal(t, 0.25, sgd.LR())
	c.setGrad(p, c.F64([]float64{0.5, -1}))
	require.NoError(t, sgd.Step())
	require.Equal(t, []float64{0.875, 2.25}, c.f64s(p), "p − 0.25·g")
	require.NoError(t, sgd.ZeroGrad())
	g, err := p.Grad()
	require.NoError(t, err)
	require.Nil(t, g, "ZeroGrad sets gradients to none")
	require.NoError(t, sgd.Step(), "a step without gradients is a no-op")
	require.Equal(t, []float64{0.875, 2.25}, c.f64s(p))

	// AdamW: step 1 moves each element by lr (|m̂/√v̂| = 1), so the LR in force is visible.
	q := c.Leaf([]float64{1, 2})
	adam, err := NewAdamW([]ParamGroup{{Params: []*Tensor{q}}}, AdamWConfig{LR: 0.1})
	require.NoError(t, err)
	defer adam.Free()
	adam.SetLR(0.01)
	require.Equal(t, 0.01, adam.LR())
	c.setGrad(q, c.F64([]float64{3, -4}))
	require.NoError(t, adam.Step())
	requireClose(t, []float64{0.99, 2.01}, c.f64s(q), 1e-9, 0)
	st, scalars, err := adam.State()
	require.NoError(t, err)
	for _, x := range st {
		c.s.Track(x)
	}
	require.Equal(t, 0.01, scalars["lr"])
}

func TestOptimizerSkipsParamsWithoutGradAndErrors(t *testing.T) {
	c := newTC(t)
	p := c.Leaf([]float64{1, 2})
	q := c.Leaf([]float64{3})
	opt, err := NewAdamW([]ParamGroup{{Params: []*Tensor{p, q}, WeightDecay: 0.5}}, AdamWConfig{LR: 0.1})
	require.NoError(t, err)
	defer opt.Free()
	c.setGrad(p, c.F64([]float64{1, 1}))
	require.NoError(t, opt.Step())
	require.Equal(t, []float64{3}, c.f64s(q), "no gradient: no update, not even weight decay")
	require.NotEqual(t, []float64{1, 2}, c.f64s(p))

	_, err = NewAdamW(nil, AdamWConfig{LR: 0.1})
	require.Error(t, err, "no parameters")
	_, err = NewAdamW([]ParamGroup{{Params: []*Tensor{p}}}, AdamWConfig{})
	require.ErrorContains(t, err, "lr")
	_, err = NewSGD([]ParamGroup{{Params: []*Tensor{p}}}, SGDConfig{LR: 0.1, Nesterov: true})
	require.ErrorContains(t, err, "nesterov")
	_, err = NewSGD([]ParamGroup{{Params: []*Tensor{p}}}, SGDConfig{LR: -1})
	require.Error(t, err)
	freed := c.Leaf([]float64{1})
	freed.Free()
	_, err = NewAdamW([]ParamGroup{{Params: []*Tensor{p, freed}}}, AdamWConfig{LR: 0.1})
	require.ErrorContains(t, err, "freed")
	_, err = NewSGD([]ParamGroup{{Params: []*Tensor{nil}}}, SGDConfig{LR: 0.1})
	require.Error(t, err)
	// A parameter freed after construction: Step errors instead of crashing.
	r := c.Leaf([]float64{1})
	opt2, err := NewSGD([]ParamGroup{{Params: []*Tensor{r}}}, SGDConfig{LR: 0.1})
	require.NoError(t, err)
	r.Free()
	require.ErrorIs(t, opt2.Step(), ErrFreed)
}

// PyTorch 1.13: p1.grad = [[0.3,-1.2],[2.0,0.5]], p2.grad = [-0.7,1.1] (float64);
// torch.nn.utils.clip_grad_norm_([p1, p2], 1.0) returns the total norm and scales the grads.
var (
	pyClipTotal = 2.7349588662354685
	pyClipG1    = []float64{0.1096908235121324, -0.4387632940485296, 0.7312721567475493, 0.18281803918688733}
	pyClipG2    = []float64{-0.25594525486164227, 0.40219968621115215}
)

func TestClipGradNorm(t *testing.T) {
	c := newTC(t)
	g1 := []float64{0.3, -1.2, 2.0, 0.5}
	g2 := []float64{-0.7, 1.1}
	p1, p2, p3 := c.Leaf([]float64{0, 0, 0, 0}, 2, 2), c.Leaf([]float64{0, 0}), c.Leaf([]float64{0})
	c.setGrad(p1, c.F64(g1, 2, 2))
	c.setGrad(p2, c.F64(g2))
	params := []*Tensor{p1, p2, p3} // p3 has no gradient: skipped

	// The norms are float64 reductions whose order (vector width) and fused multiply-adds depend
	// on the CPU's kernels: the error bound for these sums of ≤ 4 squares, the square roots and the
	// norm of the 2 norms is about 8·2^-53 ≈ 9e-16 relative; 4e-15 relative leaves a margin and is
	// still ~18 ulp (pyClipTotal: 1e-14 absolute).
	const clipRtol = 4e-15
	// Measuring only (maxNorm <= 0) and a large maxNorm leave the gradients alone.
	n, err := ClipGradNorm(params, 0)
	require.NoError(t, err)
	require.InDelta(t, pyClipTotal, n, clipRtol*pyClipTotal)
	n, err = ClipGradNorm(params, 10)
	require.NoError(t, err)
	require.InDelta(t, pyClipTotal, n, clipRtol*pyClipTotal)
	require.Equal(t, g1, c.grad(p1))

	n, err = ClipGradNorm(params, 1.0)
	require.NoError(t, err)
	require.InDelta(t, pyClipTotal, n, clipRtol*pyClipTotal)
	requireClose(t, pyClipG1, c.grad(p1), 0, clipRtol)
	requireClose(t, pyClipG2, c.grad(p2), 0, clipRtol)
	n, err = ClipGradNorm(params, 0)
	require.NoError(t, err)
	require.InDelta(t, 1.0, n, 1e-6, "after clipping the norm is maxNorm (up to the 1e-6 guard)")

	n, err = ClipGradNorm([]*Tensor{p3}, 1)
	require.NoError(t, err)
	require.Equal(t, 0.0, n, "no gradients")
	n, err = ClipGradNorm(nil, 1)
	require.NoError(t, err)
	require.Equal(t, 0.0, n)
}

// TestAdamWPerParameterSteps: like torch's state['step'], a parameter without a gradient in a
// step keeps its count (and so its bias correction) while the others advance.
func TestAdamWPerParameterSteps(t *testing.T) {
	a := MustFromSlice([]float64{1, 2})
	b := MustFromSlice([]float64{3})
	defer FreeAll(a, b)
	require.NoError(t, a.SetRequiresGrad(true))
	require.NoError(t, b.SetRequiresGrad(true))
	opt, err := NewAdamW([]ParamGroup{{Params: []*Tensor{a, b}}}, AdamWConfig{LR: 0.1})
	require.NoError(t, err)
	defer opt.Free()
	backward := func(ps ...*Tensor) {
		s := NewScope()
		defer s.Close()
		var total *Tensor
		for _, p := range ps {
			x := s.Track(Must(p.Sum()))
			if total == nil {
				total = x
			} else {
				total = total.MustAdd(x)
			}
		}
		require.NoError(t, total.Backward())
	}
	backward(a, b)
	require.NoError(t, opt.Step())
	require.NoError(t, opt.ZeroGrad())
	backward(a) // b gets no gradient
	require.NoError(t, opt.Step())
	ts, sc, err := opt.State()
	require.NoError(t, err)
	for _, x := range ts {
		x.Free()
	}
	require.Equal(t, 2.0, sc["step.0"])
	require.Equal(t, 1.0, sc["step.1"])
	require.Equal(t, 2.0, sc["step"])
	// With g = 1 every step, AdamW's update is lr·m̂/(sqrt(v̂)+eps) = lr·1/(1+eps) per step, so b
	// moved once and a twice (weight decay is 0 here).
	bv := Must(b.Float64s())
	require.InDelta(t, 3-0.1/(1+1e-8), bv[0], 1e-12)
	av := Must(a.Float64s())
	require.InDelta(t, 1-2*0.1/(1+1e-8), av[0], 1e-12)
}
