package torch

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// PyTorch 1.13 values for
//
//	x = torch.tensor([[0.5,-1.0,2.0,0.25],[1.5,1.5,-0.5,3.0]], dtype=torch.float64)
//	w = torch.tensor([1.0,0.5,-1.0,2.0], dtype=torch.float64); b = torch.tensor([0.1,0.2,0.3,0.4], dtype=torch.float64)
var (
	// F.layer_norm(x, (4,), w, b, 1e-5)
	pyLayerNorm64 = []float64{0.15862078032576696, -0.47413897374632014, -1.165519508144174, 0.0482753180453982,
		0.2005034566667883, 0.25025172833339415, 1.8075518500018248, 3.013089873336496}
	// F.layer_norm(x.float(), (4,), w.float(), b.float(), 1e-5)
	pyLayerNorm32 = []float32{0.158620775, -0.474138916, -1.16551948, 0.0482753515, 0.200503498, 0.25025177, 1.80755186, 3.01309013}
	// F.layer_norm(x, (4,), None, None, 1e-5)
	pyLayerNormNoAffine = []float64{0.05862078032576695, -1.3482779474926403, 1.465519508144174, -0.1758623409773009,
		0.10050345666678828, 0.10050345666678828, -1.5075518500018248, 1.306544936668248}
)

func TestLayerNorm(t *testing.T) {
	c := newTC(t)
	xs := []float64{0.5, -1.0, 2.0, 0.25, 1.5, 1.5, -0.5, 3.0}
	ws := []float64{1.0, 0.5, -1.0, 2.0}
	bs := []float64{0.1, 0.2, 0.3, 0.4}
	x, w, b := c.F64(xs, 2, 4), c.F64(ws), c.F64(bs)
	requireClose(t, pyLayerNorm64, c.f64s(c.T(LayerNorm(x, []int64{4}, w, b, 1e-5))), 1e-15, 1e-14, "layer_norm f64")
	requireClose(t, pyLayerNormNoAffine, c.f64s(c.T(LayerNorm(x, []int64{4}, nil, nil, 1e-5))), 1e-15, 1e-14, "layer_norm without affine")

	x32, w32, b32 := c.T(x.ToDType(Float32)), c.T(w.ToDType(Float32)), c.T(b.ToDType(Float32))
	requireClose(t, pyLayerNorm32, c.f32s(c.T(LayerNorm(x32, []int64{4}, w32, b32, 1e-5))), 1e-6, 1e-6, "layer_norm f32")

	// Independent check with the biased variance, by hand.
	for r := 0; r < 2; r++ {
		row := xs[4*r : 4*r+4]
		mean, v := 0.0, 0.0
		for _, a := range row {
			mean += a / 4
		}
		for _, a := range row {
			v += (a - mean) * (a - mean) / 4
		}
		for j, a := range row {
			want := (a-mean)/math.Sqrt(v+1e-5)*ws[j] + bs[j]
			require.InDelta(t, want, pyLayerNorm64[4*r+j], 1e-14)
		}
	}

	// Normalising over the last two dims.
	all := c.f64s(c.T(LayerNorm(x, []int64{2, 4}, nil, nil, 0)))
	sum, sq := 0.0, 0.0
	for _, a := range all {
		sum += a
		sq += a * a
	}
	require.InDelta(t, 0, sum, 1e-13)
	require.InDelta(t, 8, sq, 1e-12)

	_, err := LayerNorm(x, []int64{3}, nil, nil, 1e-5)
	require.Error(t, err, "normalized shape does not match")
	_, err = LayerNorm(x, []int64{4}, c.F64([]float64{1, 2}), nil, 1e-5)
	require.Error(t, err, "weight shape")
}

// TestGeluTanhGolden checks GELU with the tanh approximation (HF gelu_new) against
// ../shared/golden: activation.x is linspace(-6, 6, 121).
func TestGeluTanhGolden(t *testing.T) {
	c := newTC(t)
	x := c.on(goldenTensor(t, "activation.x"), testDevice(t))
	c.shape(x, 121)
	want32 := c.f32s(goldenTensor(t, "f32.activation.gelu_new"))
	want64 := c.f64s(goldenTensor(t, "f64.activation.gelu_new"))

	got32 := c.f32s(c.T(x.GeluTanh()))
	requireClose(t, f64of(want32), f64of(got32), 2e-6, 0, "gelu_tanh f32 vs f32 golden")
	requireClose(t, want64, f64of(got32), 2e-6, 0, "gelu_tanh f32 vs f64 golden")
	x64 := c.T(x.ToDType(Float64))
	got64 := c.f64s(c.T(x64.GeluTanh()))
	requireClose(t, want64, got64, 1e-12, 0, "gelu_tanh f64 vs f64 golden")

	// The exact (erf) GELU differs by up to 4.7e-4 (README): the golden tells them apart.
	erf := c.f64s(c.T(x64.Gelu()))
	maxDiff := 0.0
	for i := range erf {
		maxDiff = math.Max(maxDiff, math.Abs(erf[i]-want64[i]))
	}
	require.Greater(t, maxDiff, 1e-4)
}

func TestDropout(t *testing.T) {
	c := newTC(t)
	x := c.T(Ones([]int64{200, 500}, Float32, CPU))
	// Eval: identity, sharing x.
	id := c.T(x.Dropout(0.3, false))
	require.Equal(t, c.f32s(x), c.f32s(id))

	require.NoError(t, ManualSeed(3))
	y := c.f32s(c.T(x.Dropout(0.3, true)))
	zeros, scale := 0, float32(1/(1-0.3))
	for _, v := range y {
		switch v {
		case 0:
			zeros++
		default:
			require.InDelta(t, scale, v, 1e-6, "survivors are scaled by 1/(1-p)")
		}
	}
	frac := float64(zeros) / float64(len(y))
	require.InDelta(t, 0.3, frac, 0.01, "fraction of zeros ≈ p")

	// Same seed, same mask; p = 0 and p = 1.
	require.NoError(t, ManualSeed(3))
	require.Equal(t, y, c.f32s(c.T(x.Dropout(0.3, true))))
	require.Equal(t, c.f32s(x), c.f32s(c.T(x.Dropout(0, true))))
	for _, v := range c.f32s(c.T(x.Dropout(1, true))) {
		require.Equal(t, float32(0), v)
	}
	_, err := x.Dropout(1.5, true)
	require.ErrorContains(t, err, "probability")
	_, err = x.Dropout(-0.1, false)
	require.Error(t, err)
}

func TestEmbedding(t *testing.T) {
	c := newTC(t)
	w := c.F32([]float32{0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5}, 4, 2)
	ids := c.I64([]int64{3, 0, 3, 1, 2, 2}, 2, 3)
	e := c.T(Embedding(w, ids, -1))
	c.shape(e, 2, 3, 2)
	require.Equal(t, []float32{3, 3.5, 0, 0.5, 3, 3.5, 1, 1.5, 2, 2.5, 2, 2.5}, c.f32s(e))
	// int32 ids work too.
	e32 := c.T(Embedding(w, c.T(FromSlice([]int32{1}, 1)), -1))
	require.Equal(t, []float32{1, 1.5}, c.f32s(e32))

	_, err := Embedding(w, c.I64([]int64{0, 4}), -1)
	require.ErrorContains(t, err, "out of range")
	require.ErrorContains(t, err, "4")
	_, err = Embedding(w, c.I64([]int64{-1}), -1)
	require.ErrorContains(t, err, "out of range")
	_, err = Embedding(w, c.F32([]float32{0, 1}), -1)
	require.ErrorContains(t, err, "int64")

	// padding_idx rows get no gradient.
	wl := c.Leaf([]float64{0, 0.5, 1, 1.5, 2, 2.5}, 3, 2)
	out := c.T(Embedding(wl, c.I64([]int64{0, 1, 1, 2}), 1))
	require.NoError(t, c.T(out.Sum()).Backward())
	require.Equal(t, []float64{1, 1, 0, 0, 1, 1}, c.grad(wl))
}

// PyTorch 1.13 values for
//
//	lg = torch.tensor([[1.0,2.0,0.5],[0.1,-0.3,0.2],[2.0,0.0,-1.0],[0.3,0.3,0.3]], dtype=torch.float64)
//	tg = torch.tensor([0,2,1,1])
var (
	pyCENone        = []float64{1.464368784107945, 0.9208276555532594, 2.1698460195562856, 1.0986122886681098} // F.cross_entropy(lg, tg, reduction='none')
	pyCEMean        = 1.4134136869714                                                                          // F.cross_entropy(lg, tg)
	pyCEIgnore1Mean = 1.1925982198306022                                                                       // F.cross_entropy(lg, tg, ignore_index=1)
	pyCEWeightMean  = 1.5384907687878846                                                                       // F.cross_entropy(lg, tg, weight=torch.tensor([1.0,2.0,0.5],dtype=torch.float64))
	pyCELS01Mean    = 1.4059136869714002                                                                       // F.cross_entropy(lg, tg, label_smoothing=0.1)
)

func TestCrossEntropy(t *testing.T) {
	c := newTC(t)
	lg := c.F64([]float64{1, 2, 0.5, 0.1, -0.3, 0.2, 2, 0, -1, 0.3, 0.3, 0.3}, 4, 3)
	tg := c.I64([]int64{0, 2, 1, 1})
	requireClose(t, pyCENone, c.f64s(c.T(CrossEntropy(lg, tg, &CrossEntropyOptions{Reduction: ReduceNone}))), 0, 1e-14, "none")
	mean := c.T(CrossEntropy(lg, tg, nil))
	c.shape(mean)
	require.InDelta(t, pyCEMean, c.item(mean), 1e-14)
	require.InDelta(t, pyCEMean*4, c.item(c.T(CrossEntropy(lg, tg, &CrossEntropyOptions{Reduction: ReduceSum}))), 1e-13)

	// ignore_index: ignored rows neither add to the sum nor count in the mean.
	one := int64(1)
	ign := c.item(c.T(CrossEntropy(lg, tg, &CrossEntropyOptions{Reduction: ReduceMean, IgnoreIndex: &one})))
	require.InDelta(t, pyCEIgnore1Mean, ign, 1e-14)
	require.InDelta(t, (pyCENone[0]+pyCENone[1])/2, ign, 1e-14, "mean over the 2 kept rows, not 4")
	// The default ignore index is -100.
	tgIgn := c.I64([]int64{0, 2, -100, -100})
	require.InDelta(t, pyCEIgnore1Mean, c.item(c.T(CrossEntropy(lg, tgIgn, nil))), 1e-14)
	noneIgn := c.f64s(c.T(CrossEntropy(lg, tgIgn, &CrossEntropyOptions{Reduction: ReduceNone})))
	require.Equal(t, 0.0, noneIgn[2])
	require.Equal(t, 0.0, noneIgn[3])
	// Ignored rows get zero gradient.
	ll := c.Leaf([]float64{1, 2, 0.5, 0.1, -0.3, 0.2, 2, 0, -1, 0.3, 0.3, 0.3}, 4, 3)
	require.NoError(t, c.T(CrossEntropy(ll, tgIgn, nil)).Backward())
	g := c.grad(ll)
	require.Equal(t, []float64{0, 0, 0, 0, 0, 0}, g[6:])
	require.NotEqual(t, 0.0, g[0])

	cw := c.F64([]float64{1, 2, 0.5})
	require.InDelta(t, pyCEWeightMean, c.item(c.T(CrossEntropy(lg, tg, &CrossEntropyOptions{Weight: cw, Reduction: ReduceMean}))), 1e-14)
	require.InDelta(t, pyCELS01Mean, c.item(c.T(CrossEntropy(lg, tg, &CrossEntropyOptions{Reduction: ReduceMean, LabelSmoothing: 0.1}))), 1e-14)

	// By hand for one row: log-sum-exp minus the target logit.
	row0 := math.Log(math.Exp(1)+math.Exp(2)+math.Exp(0.5)) - 1
	require.InDelta(t, row0, pyCENone[0], 1e-15)

	// Errors: a target out of range, float targets of the wrong shape, wrong batch size.
	_, err := CrossEntropy(lg, c.I64([]int64{0, 3, 1, 1}), nil)
	require.Error(t, err)
	_, err = CrossEntropy(lg, c.F64([]float64{0, 2, 1, 1}), nil)
	require.Error(t, err, "float targets must be class probabilities shaped like the logits")
	_, err = CrossEntropy(lg, c.I64([]int64{0, 1}), nil)
	require.Error(t, err)
	// Float targets with the logits' shape are class probabilities (torch >= 1.10).
	probs := c.F64([]float64{1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0}, 4, 3)
	require.InDelta(t, pyCEMean, c.item(c.T(CrossEntropy(lg, probs, nil))), 1e-14)
}

func TestMSELoss(t *testing.T) {
	c := newTC(t)
	a := c.F64([]float64{1, 2, 3, 4}, 2, 2)
	b := c.F64([]float64{1.5, 2, 1, 5}, 2, 2)
	// (0.25 + 0 + 4 + 1) / 4
	require.Equal(t, 1.3125, c.item(c.T(MSELoss(a, b, ReduceMean))))
	require.Equal(t, 5.25, c.item(c.T(MSELoss(a, b, ReduceSum))))
	require.Equal(t, []float64{0.25, 0, 4, 1}, c.f64s(c.T(MSELoss(a, b, ReduceNone))))
	_, err := MSELoss(a, c.F64([]float64{1, 2}), ReduceMean)
	require.ErrorContains(t, err, "shape", "no silent broadcasting")
	_, err = MSELoss(a, c.F64([]float64{1, 2, 3, 4}), ReduceMean)
	require.Error(t, err, "[2,2] vs [4]")
	_, err = MSELoss(a, b, Reduction(7))
	require.Error(t, err)
}

// PyTorch 1.13 values for
//
//	bx = torch.tensor([0.5,-1.5,2.0,0.0], dtype=torch.float64); by = torch.tensor([1.0,0.0,1.0,0.5], dtype=torch.float64)
var (
	pyBCENone  = []float64{0.4740769841801067, 0.20141327798275246, 0.1269280110429726, 0.6931471805599453} // F.binary_cross_entropy_with_logits(bx, by, reduction='none')
	pyBCEMean  = 0.37389136344144425                                                                        // F.binary_cross_entropy_with_logits(bx, by)
	pyBCEPosW2 = 0.6107860098172072                                                                         // ... pos_weight=torch.full((4,), 2.0, dtype=torch.float64)
)

func TestBCEWithLogits(t *testing.T) {
	c := newTC(t)
	x := c.F64([]float64{0.5, -1.5, 2, 0})
	y := c.F64([]float64{1, 0, 1, 0.5})
	requireClose(t, pyBCENone, c.f64s(c.T(BCEWithLogits(x, y, nil, nil, ReduceNone))), 0, 1e-14)
	require.InDelta(t, pyBCEMean, c.item(c.T(BCEWithLogits(x, y, nil, nil, ReduceMean))), 1e-15)
	pw := c.T(Full([]int64{4}, 2, Float64, CPU))
	require.InDelta(t, pyBCEPosW2, c.item(c.T(BCEWithLogits(x, y, nil, pw, ReduceMean))), 1e-15)
	w := c.F64([]float64{1, 0, 2, 0})
	require.InDelta(t, pyBCENone[0]+2*pyBCENone[2], c.item(c.T(BCEWithLogits(x, y, w, nil, ReduceSum))), 1e-14)
	// By hand: max(x,0) - x·y + log(1 + e^-|x|).
	for i, xv := range []float64{0.5, -1.5, 2, 0} {
		yv := []float64{1, 0, 1, 0.5}[i]
		require.InDelta(t, math.Max(xv, 0)-xv*yv+math.Log1p(math.Exp(-math.Abs(xv))), pyBCENone[i], 1e-15)
	}
	// Stable for large logits.
	big := c.F64([]float64{1000, -1000})
	require.Equal(t, []float64{0, 0}, c.f64s(c.T(BCEWithLogits(big, c.F64([]float64{1, 0}), nil, nil, ReduceNone))))
	_, err := BCEWithLogits(x, c.F64([]float64{1, 0}), nil, nil, ReduceMean)
	require.Error(t, err)
}
