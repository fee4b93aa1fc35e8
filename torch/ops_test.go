package torch

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestArithmetic(t *testing.T) {
	c := newTC(t)
	a := c.F32([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	b := c.F32([]float32{10, 20, 30}, 3) // broadcast over rows
	require.Equal(t, []float32{11, 22, 33, 14, 25, 36}, c.f32s(c.T(a.Add(b))))
	require.Equal(t, []float32{-9, -18, -27, -6, -15, -24}, c.f32s(c.T(a.Sub(b))))
	require.Equal(t, []float32{10, 40, 90, 40, 100, 180}, c.f32s(c.T(a.Mul(b))))
	require.Equal(t, []float32{6, 12, 18, 9, 15, 21}, c.f32s(c.T(a.AddScaled(b, 0.5))))
	d := c.F64([]float64{1, -2, 3}, 3)
	e := c.F64([]float64{4, 8, -6}, 3)
	require.Equal(t, []float64{0.25, -0.25, -0.5}, c.f64s(c.T(d.Div(e))))
	// pow goes through libm, whose last bit may depend on the CPU (glibc picks FMA variants by CPU):
	// 1e-15 relative, about 4.5 ulp, not bitwise (3^-6 = 1/729 is not a float).
	requireClose(t, []float64{1, 256, 1.0 / 729}, c.f64s(c.T(d.Pow(c.F64([]float64{0, 8, -6})))), 0, 1e-15, "pow")

	// Scalars, including the reversed subtraction.
	require.Equal(t, []float64{3.5, 0.5, 5.5}, c.f64s(c.T(d.AddScalar(2.5))))
	require.Equal(t, []float64{-1.5, -4.5, 0.5}, c.f64s(c.T(d.SubScalar(2.5))))
	require.Equal(t, []float64{9, 12, 7}, c.f64s(c.T(d.RSubScalar(10))), "rsub: 10 - d")
	require.Equal(t, []float64{-3, 6, -9}, c.f64s(c.T(d.MulScalar(-3))))
	require.Equal(t, []float64{0.5, -1, 1.5}, c.f64s(c.T(d.DivScalar(2))))
	require.Equal(t, []float64{1, 4, 9}, c.f64s(c.T(d.PowScalar(2))))
	require.Equal(t, []float64{1, 4, 9}, c.f64s(c.T(d.Square())))
	require.Equal(t, []float64{-1, 2, -3}, c.f64s(c.T(d.Neg())))

	// Integer tensors stay integer with integral scalars (Python semantics).
	iv := c.I64([]int64{1, 2, 3})
	ia := c.T(iv.AddScalar(2))
	require.Equal(t, Int64, ia.DType())
	require.Equal(t, []int64{3, 4, 5}, c.i64s(ia))
	ir := c.T(iv.RSubScalar(1))
	require.Equal(t, []int64{0, -1, -2}, c.i64s(ir))
	idiv := c.T(iv.DivScalar(2)) // true division promotes
	require.Equal(t, Float32, idiv.DType())
	require.Equal(t, []float32{0.5, 1, 1.5}, c.f32s(idiv))

	// Type promotion: float32 + float64 → float64.
	require.Equal(t, Float64, c.T(c.F32([]float32{1}).Add(c.F64([]float64{1}))).DType())

	// Comparisons.
	require.Equal(t, []bool{false, true, true}, c.bools(c.T(d.Lt(c.F64([]float64{0, 0, 5})))))
	require.Equal(t, []bool{true, true, true}, c.bools(c.T(d.Le(d))))
	require.Equal(t, []bool{true, false, true}, c.bools(c.T(d.Gt(c.F64([]float64{0, 0, 0})))))
	require.Equal(t, []bool{true, false, true}, c.bools(c.T(d.Ge(c.F64([]float64{1, 0, 3})))))
	require.Equal(t, []bool{false, true, false}, c.bools(c.T(d.Eq(c.F64([]float64{0, -2, 0})))))
	require.Equal(t, []bool{true, false, true}, c.bools(c.T(d.Ne(c.F64([]float64{0, -2, 0})))))
	require.Equal(t, []bool{false, false, true}, c.bools(c.T(d.GtScalar(1))))
	require.Equal(t, []bool{false, true, false}, c.bools(c.T(d.LtScalar(0))))
	require.Equal(t, []bool{false, false, true}, c.bools(c.T(d.EqScalar(3))))
	require.Equal(t, []bool{true, true, false}, c.bools(c.T(d.NeScalar(3))))
	require.Equal(t, []float64{4, 8, 3}, c.f64s(c.T(d.Maximum(e))))
	require.Equal(t, []float64{1, -2, -6}, c.f64s(c.T(d.Minimum(e))))
	require.Equal(t, []bool{true, false, false},
		c.bools(c.T(c.Bool([]bool{true, true, false}).LogicalAnd(c.Bool([]bool{true, false, false})))))

	_, err := a.Add(c.F32([]float32{1, 2}))
	require.Error(t, err, "shapes [2,3] and [2] do not broadcast")
}

func TestMatMulAddMMLinear(t *testing.T) {
	c := newTC(t)
	a := c.F32([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	b := c.F32([]float32{7, 8, 9, 10, 11, 12}, 3, 2)
	// [[1,2,3],[4,5,6]] × [[7,8],[9,10],[11,12]] = [[58,64],[139,154]]
	m := c.T(a.MatMul(b))
	c.shape(m, 2, 2)
	require.Equal(t, []float32{58, 64, 139, 154}, c.f32s(m))
	// Matrix × vector.
	mv := c.T(a.MatMul(c.F32([]float32{1, 0, -1})))
	c.shape(mv, 2)
	require.Equal(t, []float32{-2, -2}, c.f32s(mv))
	// Batched with broadcasting: [2,2,3] × [3,2] → [2,2,2].
	ab := c.T(Stack([]*Tensor{a, c.T(a.MulScalar(2))}, 0))
	bm := c.T(ab.MatMul(b))
	c.shape(bm, 2, 2, 2)
	require.Equal(t, []float32{58, 64, 139, 154, 116, 128, 278, 308}, c.f32s(bm))
	bb := c.T(Stack([]*Tensor{b, b}, 0))
	c.shape(c.T(ab.BMM(bb)), 2, 2, 2)
	require.Equal(t, []float32{58, 64, 139, 154, 116, 128, 278, 308}, c.f32s(c.T(ab.BMM(bb))))

	// addmm: beta·bias + alpha·(a×b)
	bias := c.F32([]float32{1, -1}, 2)
	am := c.T(AddMM(bias, a, b, 0.5, 2))
	require.Equal(t, []float32{116.5, 127.5, 278.5, 307.5}, c.f32s(am))
	_, err := AddMM(bias, a, a, 1, 1)
	require.Error(t, err)

	// linear: x·Wᵀ + b with W [out=2, in=3]
	w := c.F32([]float32{1, 0, -1, 0.5, 0.5, 0.5}, 2, 3)
	lb := c.F32([]float32{10, 20}, 2)
	l := c.T(Linear(a, w, lb))
	c.shape(l, 2, 2)
	require.Equal(t, []float32{8, 23, 8, 27.5}, c.f32s(l))
	ln := c.T(Linear(a, w, nil))
	require.Equal(t, []float32{-2, 3, -2, 7.5}, c.f32s(ln))
	// 3-D input.
	l3 := c.T(Linear(c.T(a.View(2, 1, 3)), w, lb))
	c.shape(l3, 2, 1, 2)
	_, err = Linear(a, b, nil)
	require.Error(t, err, "weight [3,2] against in=3")
}

func TestReductions(t *testing.T) {
	c := newTC(t)
	x := c.F32([]float32{1, 5, 3, 4, 2, 6}, 2, 3)
	s := c.T(x.Sum())
	c.shape(s)
	require.Equal(t, 21.0, c.item(s))
	require.Equal(t, []float32{5, 7, 9}, c.f32s(c.T(x.SumDims([]int64{0}, false))))
	sk := c.T(x.SumDims([]int64{1}, true))
	c.shape(sk, 2, 1)
	require.Equal(t, []float32{9, 12}, c.f32s(sk))
	require.Equal(t, []float32{21}, c.f32s(c.T(x.SumDims([]int64{0, 1}, false))))
	_, err := x.SumDims(nil, false)
	require.Error(t, err)
	require.Equal(t, 3.5, c.item(c.T(x.Mean())))
	require.Equal(t, []float32{3, 4}, c.f32s(c.T(x.MeanDims([]int64{-1}, false))))
	_, err = x.MeanDims(nil, false)
	require.Error(t, err)

	require.Equal(t, []float32{4, 5, 6}, c.f32s(c.T(x.AMax([]int64{0}, false))))
	require.Equal(t, []float32{5, 6}, c.f32s(c.T(x.AMax([]int64{1}, false))))
	require.Equal(t, 6.0, c.item(c.T(x.AMax(nil, false))))
	require.Equal(t, []float32{1, 2}, c.f32s(c.T(x.AMin([]int64{1}, false))))

	require.Equal(t, []int64{1, 2}, c.i64s(c.T(x.ArgMax(1, false))))
	ak := c.T(x.ArgMax(0, true))
	c.shape(ak, 1, 3)
	require.Equal(t, []int64{1, 0, 1}, c.i64s(ak))

	v, i := c.T2(x.MaxDim(1, false))
	require.Equal(t, []float32{5, 6}, c.f32s(v))
	require.Equal(t, []int64{1, 2}, c.i64s(i))
	v, i = c.T2(x.MinDim(0, true))
	c.shape(v, 1, 3)
	require.Equal(t, []float32{1, 2, 3}, c.f32s(v))
	require.Equal(t, []int64{0, 1, 0}, c.i64s(i))
	_, _, err = x.MaxDim(2, false)
	require.Error(t, err)

	require.Equal(t, []float32{1, 6, 9, 4, 6, 12}, c.f32s(c.T(x.CumSum(1))))
	require.Equal(t, []float32{1, 5, 3, 5, 7, 9}, c.f32s(c.T(x.CumSum(0))))

	d := c.F64([]float64{3, 4, 0, 12}, 2, 2)
	require.Equal(t, 13.0, c.item(c.T(d.Norm(nil, false))))
	require.Equal(t, []float64{5, 12}, c.f64s(c.T(d.Norm([]int64{1}, false))))
	lse := c.f64s(c.T(d.LogSumExp([]int64{1}, false)))
	requireClose(t, []float64{4 + math.Log1p(math.Exp(-1)), 12 + math.Log1p(math.Exp(-12))}, lse, 0, 1e-15)
	requireClose(t, []float64{12 + math.Log(1+math.Exp(-12)+math.Exp(-9)+math.Exp(-8))},
		[]float64{c.item(c.T(d.LogSumExp(nil, false)))}, 0, 1e-15)
}

func TestUnaryMath(t *testing.T) {
	c := newTC(t)
	in := []float64{0.25, 0.5, 1, 2.5, 7}
	x := c.F64(in)
	neg := c.F64([]float64{-2, -0.5, 0, 0.5, 3})
	ref := func(f func(float64) float64, v []float64) []float64 {
		out := make([]float64, len(v))
		for i, a := range v {
			out[i] = f(a)
		}
		return out
	}
	requireClose(t, ref(math.Exp, in), c.f64s(c.T(x.Exp())), 0, 1e-15, "exp")
	requireClose(t, ref(math.Log, in), c.f64s(c.T(x.Log())), 0, 1e-15, "log")
	requireClose(t, ref(math.Tanh, []float64{-2, -0.5, 0, 0.5, 3}), c.f64s(c.T(neg.Tanh())), 1e-16, 1e-15, "tanh")
	requireClose(t, ref(math.Sqrt, in), c.f64s(c.T(x.Sqrt())), 0, 1e-15, "sqrt")
	requireClose(t, ref(func(a float64) float64 { return 1 / math.Sqrt(a) }, in), c.f64s(c.T(x.Rsqrt())), 0, 1e-15, "rsqrt")
	requireClose(t, ref(func(a float64) float64 { return math.Pow(a, 1.5) }, in), c.f64s(c.T(x.PowScalar(1.5))), 0, 1e-15, "pow")
	require.Equal(t, []float64{2, 0.5, 0, 0.5, 3}, c.f64s(c.T(neg.Abs())))
	require.Equal(t, []float64{0, 0, 0, 0.5, 3}, c.f64s(c.T(neg.Relu())))
	requireClose(t, ref(func(a float64) float64 { return 1 / (1 + math.Exp(-a)) }, []float64{-2, -0.5, 0, 0.5, 3}),
		c.f64s(c.T(neg.Sigmoid())), 1e-16, 1e-15, "sigmoid")
	// Exact (erf) GELU: x·Φ(x).
	requireClose(t, ref(func(a float64) float64 { return a * 0.5 * (1 + math.Erf(a/math.Sqrt2)) }, []float64{-2, -0.5, 0, 0.5, 3}),
		c.f64s(c.T(neg.Gelu())), 1e-16, 1e-14, "gelu")
	// log of a negative number is NaN, not an error; sqrt(-1) likewise.
	require.True(t, math.IsNaN(c.f64s(c.T(neg.Log()))[0]))

	// float32 versions agree with float64 math to float32 precision.
	x32 := c.F32([]float32{0.25, 0.5, 1, 2.5, 7})
	requireClose(t, ref(math.Exp, in), f64of(c.f32s(c.T(x32.Exp()))), 0, 3e-7, "exp f32")
	requireClose(t, ref(math.Log, in), f64of(c.f32s(c.T(x32.Log()))), 1e-7, 3e-7, "log f32")
	requireClose(t, ref(math.Tanh, in), f64of(c.f32s(c.T(x32.Tanh()))), 0, 3e-7, "tanh f32")
	requireClose(t, ref(math.Sqrt, in), f64of(c.f32s(c.T(x32.Sqrt()))), 0, 3e-7, "sqrt f32")
}

// PyTorch 1.13 values, for s = torch.tensor([[1.,2.,3.],[-1.,0.,5.]], dtype=torch.float64).
var (
	pySoftmax1    = []float64{0.09003057317038045, 0.2447284710547976, 0.6652409557748218, 0.0024561149044509535, 0.006676412513376451, 0.9908674725821726}   // torch.softmax(s, 1)
	pySoftmax0    = []float64{0.8807970779778823, 0.8807970779778823, 0.11920292202211755, 0.11920292202211755, 0.11920292202211755, 0.8807970779778823}      // torch.softmax(s, 0)
	pyLogSoftmax1 = []float64{-2.4076059644443806, -1.4076059644443804, -0.4076059644443804, -6.0091744845917345, -5.0091744845917345, -0.009174484591734727} // torch.log_softmax(s, 1)
)

func TestSoftmax(t *testing.T) {
	c := newTC(t)
	s := c.F64([]float64{1, 2, 3, -1, 0, 5}, 2, 3)
	requireClose(t, pySoftmax1, c.f64s(c.T(s.Softmax(1))), 0, 1e-15, "softmax dim 1")
	requireClose(t, pySoftmax1, c.f64s(c.T(s.Softmax(-1))), 0, 1e-15, "softmax dim -1")
	requireClose(t, pySoftmax0, c.f64s(c.T(s.Softmax(0))), 0, 1e-15, "softmax dim 0")
	requireClose(t, pyLogSoftmax1, c.f64s(c.T(s.LogSoftmax(1))), 0, 1e-15, "log_softmax dim 1")
	// Stable for large logits (a naive exp would overflow).
	big := c.F32([]float32{1000, 1001, 1002})
	requireClose(t, f64of([]float32{0.09003057, 0.24472847, 0.66524096}), f64of(c.f32s(c.T(big.Softmax(0)))), 1e-7, 1e-6)
	requireClose(t, []float64{-2.4076059644443806, -1.4076059644443804, -0.4076059644443804}, f64of(c.f32s(c.T(big.LogSoftmax(0)))), 1e-6, 0)
	_, err := s.Softmax(2)
	require.Error(t, err)
}

func TestClampNormalize(t *testing.T) {
	c := newTC(t)
	x := c.F64([]float64{-3, -0.5, 0, 0.5, 3})
	require.Equal(t, []float64{-1, -0.5, 0, 0.5, 1}, c.f64s(c.T(x.Clamp(-1, 1))))
	require.Equal(t, []float64{0, 0, 0, 0.5, 3}, c.f64s(c.T(x.ClampMin(0))))
	require.Equal(t, []float64{-3, -0.5, 0, 0.25, 0.25}, c.f64s(c.T(x.ClampMax(0.25))))

	v := c.F64([]float64{3, 4, 0, 0, 1, -1}, 3, 2)
	n := c.f64s(c.T(v.Normalize(2, 1, 1e-12)))
	r := 1 / math.Sqrt2
	requireClose(t, []float64{0.6, 0.8, 0, 0, r, -r}, n, 1e-16, 1e-15, "L2 rows (the zero row stays 0 thanks to eps)")
	n1 := c.f64s(c.T(v.Normalize(1, 1, 1e-12)))
	requireClose(t, []float64{3.0 / 7, 4.0 / 7, 0, 0, 0.5, -0.5}, n1, 1e-16, 1e-15, "L1 rows")
	n0 := c.f64s(c.T(v.Normalize(2, 0, 1e-12)))
	requireClose(t, []float64{3 / math.Sqrt(10), 4 / math.Sqrt(17), 0, 0, 1 / math.Sqrt(10), -1 / math.Sqrt(17)}, n0, 1e-16, 1e-15, "L2 columns")
	// eps floors the norm: a tiny vector is divided by eps, not by its norm.
	tiny := c.F64([]float64{3e-13, 4e-13})
	requireClose(t, []float64{0.3, 0.4}, c.f64s(c.T(tiny.Normalize(2, 0, 1e-12))), 1e-16, 1e-12)
}

func TestDTypeConversions(t *testing.T) {
	c := newTC(t)
	x := c.F32([]float32{1.5, -2.25, 3})
	d := c.T(x.To(CPU, Float64))
	require.Equal(t, Float64, d.DType())
	require.Equal(t, []float64{1.5, -2.25, 3}, c.f64s(d))
	i := c.T(x.ToDType(Int64))
	require.Equal(t, []int64{1, -2, 3}, c.i64s(i), "truncation toward zero")
	b := c.T(c.F32([]float32{0, 2, -1}).ToDType(Bool))
	require.Equal(t, []bool{false, true, true}, c.bools(b))
	// Half types: exactly representable values round trip, others round.
	for _, dt := range []DType{Float16, BFloat16} {
		h := c.T(x.ToDType(dt))
		require.Equal(t, dt, h.DType())
		require.Equal(t, []float32{1.5, -2.25, 3}, c.f32s(c.T(h.ToDType(Float32))), "%s", dt)
	}
	third := c.F32([]float32{1.0 / 3})
	require.Equal(t, []float32{0.333333343}, c.f32s(third))
	require.Equal(t, []float32{0.33325195}, c.f32s(c.T(c.T(third.ToDType(Float16)).ToDType(Float32))), "float16(1/3)")
	require.Equal(t, []float32{0.333984375}, c.f32s(c.T(c.T(third.ToDType(BFloat16)).ToDType(Float32))), "bfloat16(1/3)")
	// To with nothing changing still returns a new handle sharing storage.
	same := c.T(x.To(CPU, Float32))
	require.NoError(t, same.Fill(0))
	require.Equal(t, []float32{0, 0, 0}, c.f32s(x))
	dev := c.T(x.ToDevice(CPU))
	require.Equal(t, CPU, dev.Device())

	// DType helpers.
	for s, want := range map[string]DType{"float32": Float32, "f32": Float32, "fp64": Float64, "double": Float64,
		"bf16": BFloat16, "half": Float16, "long": Int64, "int32": Int32, "int16": Int16, "i8": Int8, "u8": Uint8, " Bool ": Bool} {
		got, err := ParseDType(s)
		require.NoError(t, err, s)
		require.Equal(t, want, got, s)
	}
	_, err := ParseDType("complex64")
	require.Error(t, err)
	require.Equal(t, 2, BFloat16.Size())
	require.Equal(t, 8, Int64.Size())
	require.Equal(t, 1, Bool.Size())
	require.Equal(t, 0, DType(42).Size())
	require.Equal(t, "bfloat16", BFloat16.String())
	require.Equal(t, "dtype(42)", DType(42).String())
	require.True(t, Float16.IsFloat())
	require.False(t, Int64.IsFloat())
}
