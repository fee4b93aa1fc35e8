package torch

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// gcIn is one float64 input of a gradient check: values and shape.
type gcIn struct {
	data  []float64
	shape []int64
}

func in(data []float64, shape ...int64) gcIn { return gcIn{data, shape} }

// seq returns n distinct, irregular values in about [-1.5, 1.5] (no two equal, none 0), so max,
// abs, clamp and relu are differentiable at every element.
func seq(n int, seed float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		x := math.Sin(seed+1.7*float64(i)) * 1.5
		if math.Abs(x) < 0.05 {
			x += 0.1
		}
		v[i] = x + 1e-3*float64(i)
	}
	return v
}

// pos returns n distinct positive values in about [0.3, 2.3].
func pos(n int, seed float64) []float64 {
	v := seq(n, seed)
	for i := range v {
		v[i] = math.Abs(v[i])*0.9 + 0.3
	}
	return v
}

const (
	gcEps  = 1e-6
	gcRtol = 1e-6
	gcAtol = 1e-8
)

// gradcheck compares autograd's gradient of f at the float64 inputs ins with central finite
// differences (eps 1e-6): f's output, of any shape, is reduced to the scalar Σ w_j·out_j with
// fixed, distinct weights w, so every output element matters. Each input element is perturbed
// by rebuilding the inputs from Go slices. It fails when |numeric − autograd| > atol + rtol·|autograd|.
func gradcheck(t gcT, f func(xs []*Tensor) (*Tensor, error), ins ...gcIn) {
	t.Helper()
	build := func(s *Scope, vals [][]float64, grad bool) []*Tensor {
		xs := make([]*Tensor, len(ins))
		for i, in := range ins {
			x := s.Track(Must(FromSlice(vals[i], in.shape...)))
			if grad {
				require.NoError(t, x.SetRequiresGrad(true))
			}
			xs[i] = x
		}
		return xs
	}
	vals := make([][]float64, len(ins))
	for i, in := range ins {
		vals[i] = append([]float64(nil), in.data...)
	}

	// Autograd.
	s := NewScope()
	defer s.Close()
	xs := build(s, vals, true)
	out, err := f(xs)
	require.NoError(t, err)
	s.Track(out)
	require.Equal(t, Float64, out.DType())
	n := out.Numel()
	w := make([]float64, n)
	for j := range w {
		w[j] = 0.5 + float64((j*7)%13)/13
	}
	wt := s.Track(Must(FromSlice(w, max(n, 1))))
	if shape := out.Shape(); len(shape) > 0 {
		wt = s.Track(Must(wt.Reshape(shape...)))
	} else {
		wt = s.Track(Must(wt.Reshape()))
	}
	loss := s.Track(Must(s.Track(Must(out.Mul(wt))).Sum()))
	require.NoError(t, loss.Backward())
	ana := make([][]float64, len(ins))
	for i, x := range xs {
		g, err := x.Grad()
		require.NoError(t, err)
		if g == nil { // the input does not reach the output
			ana[i] = make([]float64, len(ins[i].data))
			continue
		}
		s.Track(g)
		ana[i], err = g.Float64s()
		require.NoError(t, err)
	}

	// Finite differences.
	eval := func() float64 {
		es := NewScope()
		defer es.Close()
		o, err := f(build(es, vals, false))
		require.NoError(t, err)
		es.Track(o)
		ov, err := o.Float64s()
		require.NoError(t, err)
		sum := 0.0
		for j, v := range ov {
			sum += w[j] * v
		}
		return sum
	}
	for i := range ins {
		for j := range vals[i] {
			orig := vals[i][j]
			vals[i][j] = orig + gcEps
			plus := eval()
			vals[i][j] = orig - gcEps
			minus := eval()
			vals[i][j] = orig
			num := (plus - minus) / (2 * gcEps)
			a := ana[i][j]
			if math.Abs(num-a) > gcAtol+gcRtol*math.Abs(a) || math.IsNaN(a) {
				t.Fatalf("input %d element %d: autograd %.12g, finite difference %.12g (|diff| %.3g)", i, j, a, num, math.Abs(num-a))
			}
		}
	}
}

type gcCase struct {
	name string
	f    func(c *tc, xs []*Tensor) (*Tensor, error)
	ins  []gcIn
}

// TestGradcheck checks the gradient of every differentiable op in float64.
func TestGradcheck(t *testing.T) {
	onehot := []float64{0.1, 0.7, 0.2, 0.25, 0.25, 0.5} // probability targets
	cases := []gcCase{
		{"add broadcast", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].Add(x[1]) }, []gcIn{in(seq(6, 1), 2, 3), in(seq(3, 2), 3)}},
		{"add scaled", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].AddScaled(x[1], -0.7) }, []gcIn{in(seq(6, 1), 2, 3), in(seq(6, 2), 2, 3)}},
		{"sub", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].Sub(x[1]) }, []gcIn{in(seq(6, 1), 2, 3), in(seq(2, 2), 2, 1)}},
		{"mul", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].Mul(x[1]) }, []gcIn{in(seq(6, 1), 2, 3), in(seq(6, 3), 2, 3)}},
		{"div", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].Div(x[1]) }, []gcIn{in(seq(6, 1), 2, 3), in(pos(6, 3), 2, 3)}},
		{"pow tensor", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].Pow(x[1]) }, []gcIn{in(pos(4, 1)), in(seq(4, 2))}},
		{"scalars", func(c *tc, x []*Tensor) (*Tensor, error) {
			a := c.T(c.T(x[0].AddScalar(0.5)).MulScalar(-1.5))
			b := c.T(c.T(a.SubScalar(2)).DivScalar(3))
			return b.RSubScalar(4)
		}, []gcIn{in(seq(5, 1))}},
		{"pow scalar", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].PowScalar(3) }, []gcIn{in(seq(5, 1))}},
		{"square neg", func(c *tc, x []*Tensor) (*Tensor, error) { return c.T(x[0].Square()).Neg() }, []gcIn{in(seq(5, 1))}},
		{"matmul", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].MatMul(x[1]) }, []gcIn{in(seq(6, 1), 2, 3), in(seq(12, 2), 3, 4)}},
		{"matmul batched broadcast", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].MatMul(x[1]) }, []gcIn{in(seq(12, 1), 2, 2, 3), in(seq(6, 2), 3, 2)}},
		{"bmm", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].BMM(x[1]) }, []gcIn{in(seq(12, 1), 2, 2, 3), in(seq(12, 2), 2, 3, 2)}},
		{"addmm", func(c *tc, x []*Tensor) (*Tensor, error) { return AddMM(x[0], x[1], x[2], 0.5, 2) }, []gcIn{in(seq(2, 4), 2), in(seq(6, 1), 3, 2), in(seq(4, 2), 2, 2)}},
		{"linear", func(c *tc, x []*Tensor) (*Tensor, error) { return Linear(x[0], x[1], x[2]) }, []gcIn{in(seq(12, 1), 2, 2, 3), in(seq(6, 2), 2, 3), in(seq(2, 3), 2)}},
		{"sum mean", func(c *tc, x []*Tensor) (*Tensor, error) {
			return c.T(x[0].Sum()).Add(c.T(x[0].Mean()))
		}, []gcIn{in(seq(6, 1), 2, 3)}},
		{"sum dims keepdim", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].SumDims([]int64{1}, true) }, []gcIn{in(seq(24, 1), 2, 3, 4)}},
		{"mean dims", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].MeanDims([]int64{0, 2}, false) }, []gcIn{in(seq(24, 1), 2, 3, 4)}},
		{"amax", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].AMax([]int64{1}, false) }, []gcIn{in(seq(12, 1), 3, 4)}},
		{"amin", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].AMin([]int64{0}, true) }, []gcIn{in(seq(12, 1), 3, 4)}},
		{"max dim values", func(c *tc, x []*Tensor) (*Tensor, error) {
			v, i, err := x[0].MaxDim(1, false)
			c.s.Track(i)
			return v, err
		}, []gcIn{in(seq(12, 1), 3, 4)}},
		{"logsumexp", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].LogSumExp([]int64{1}, false) }, []gcIn{in(seq(12, 1), 3, 4)}},
		{"norm", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].Norm([]int64{1}, true) }, []gcIn{in(seq(12, 1), 3, 4)}},
		{"cumsum", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].CumSum(1) }, []gcIn{in(seq(12, 1), 3, 4)}},
		{"exp", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].Exp() }, []gcIn{in(seq(6, 1))}},
		{"log", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].Log() }, []gcIn{in(pos(6, 1))}},
		{"tanh", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].Tanh() }, []gcIn{in(seq(6, 1))}},
		{"sqrt", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].Sqrt() }, []gcIn{in(pos(6, 1))}},
		{"rsqrt", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].Rsqrt() }, []gcIn{in(pos(6, 1))}},
		{"abs", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].Abs() }, []gcIn{in(seq(6, 1))}},
		{"sigmoid", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].Sigmoid() }, []gcIn{in(seq(6, 1))}},
		{"relu", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].Relu() }, []gcIn{in(seq(6, 1))}},
		{"gelu tanh", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].GeluTanh() }, []gcIn{in(seq(8, 1))}},
		{"gelu erf", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].Gelu() }, []gcIn{in(seq(8, 1))}},
		{"softmax", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].Softmax(1) }, []gcIn{in(seq(12, 1), 3, 4)}},
		{"softmax dim 0", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].Softmax(0) }, []gcIn{in(seq(12, 1), 3, 4)}},
		{"log_softmax", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].LogSoftmax(-1) }, []gcIn{in(seq(12, 1), 3, 4)}},
		{"layer_norm", func(c *tc, x []*Tensor) (*Tensor, error) {
			return LayerNorm(x[0], []int64{4}, x[1], x[2], 1e-5)
		}, []gcIn{in(seq(12, 1), 3, 4), in(seq(4, 2)), in(seq(4, 3))}},
		{"layer_norm no affine", func(c *tc, x []*Tensor) (*Tensor, error) {
			return LayerNorm(x[0], []int64{2, 3}, nil, nil, 1e-5)
		}, []gcIn{in(seq(12, 1), 2, 2, 3)}},
		{"dropout eval", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].Dropout(0.5, false) }, []gcIn{in(seq(6, 1))}},
		{"embedding", func(c *tc, x []*Tensor) (*Tensor, error) {
			return Embedding(x[0], c.I64([]int64{2, 0, 2, 3}, 2, 2), -1)
		}, []gcIn{in(seq(8, 1), 4, 2)}},
		{"masked_fill", func(c *tc, x []*Tensor) (*Tensor, error) {
			return x[0].MaskedFill(c.Bool([]bool{true, false, false, true, false, true}, 2, 3), -2)
		}, []gcIn{in(seq(6, 1), 2, 3)}},
		{"where", func(c *tc, x []*Tensor) (*Tensor, error) {
			return Where(c.Bool([]bool{true, false, true}), x[0], x[1])
		}, []gcIn{in(seq(6, 1), 2, 3), in(seq(3, 2), 3)}},
		{"clamp", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].Clamp(-0.8, 0.9) }, []gcIn{in(seq(8, 1))}},
		{"clamp min max", func(c *tc, x []*Tensor) (*Tensor, error) { return c.T(x[0].ClampMin(-0.5)).ClampMax(0.7) }, []gcIn{in(seq(8, 1))}},
		{"maximum minimum", func(c *tc, x []*Tensor) (*Tensor, error) {
			return c.T(x[0].Maximum(x[1])).Add(c.T(c.T(x[0].Minimum(x[1])).MulScalar(3)))
		}, []gcIn{in(seq(6, 1)), in(seq(6, 2))}},
		{"normalize", func(c *tc, x []*Tensor) (*Tensor, error) { return x[0].Normalize(2, 1, 1e-12) }, []gcIn{in(seq(12, 1), 3, 4)}},
		{"index_select", func(c *tc, x []*Tensor) (*Tensor, error) {
			return x[0].IndexSelect(0, c.I64([]int64{2, 0, 2}))
		}, []gcIn{in(seq(12, 1), 3, 4)}},
		{"gather", func(c *tc, x []*Tensor) (*Tensor, error) {
			return x[0].Gather(1, c.I64([]int64{0, 3, 3, 1, 2, 0}, 3, 2))
		}, []gcIn{in(seq(12, 1), 3, 4)}},
		{"index_add", func(c *tc, x []*Tensor) (*Tensor, error) {
			return x[0].IndexAdd(0, c.I64([]int64{1, 0, 1}), x[1])
		}, []gcIn{in(seq(8, 1), 2, 4), in(seq(12, 2), 3, 4)}},
		{"cat", func(c *tc, x []*Tensor) (*Tensor, error) { return Cat([]*Tensor{x[0], x[1]}, 1) }, []gcIn{in(seq(4, 1), 2, 2), in(seq(6, 2), 2, 3)}},
		{"stack", func(c *tc, x []*Tensor) (*Tensor, error) { return Stack([]*Tensor{x[0], x[1]}, 1) }, []gcIn{in(seq(4, 1), 2, 2), in(seq(4, 2), 2, 2)}},
		{"split chunk", func(c *tc, x []*Tensor) (*Tensor, error) {
			p := c.Ts(x[0].Split(2, 1))
			q := c.Ts(x[0].Chunk(3, 0))
			return c.T(c.T(p[0].MulScalar(2)).Sub(p[2])).Add(c.T(q[2].SumDims([]int64{1}, true)))
		}, []gcIn{in(seq(15, 1), 3, 5)}},
		{"narrow slice", func(c *tc, x []*Tensor) (*Tensor, error) {
			return c.T(x[0].Narrow(1, 1, 2)).Mul(c.T(x[0].Slice(1, 0, 4, 2)))
		}, []gcIn{in(seq(12, 1), 3, 4)}},
		{"transpose permute", func(c *tc, x []*Tensor) (*Tensor, error) {
			return c.T(x[0].Transpose(0, 2)).Mul(c.T(x[0].Permute(2, 1, 0)))
		}, []gcIn{in(seq(24, 1), 2, 3, 4)}},
		{"view reshape contiguous", func(c *tc, x []*Tensor) (*Tensor, error) {
			v := c.T(c.T(x[0].View(3, 4)).Transpose(0, 1))
			return c.T(c.T(v.Contiguous()).Reshape(2, 6)).Mul(c.T(v.Reshape(2, 6)))
		}, []gcIn{in(seq(12, 1), 12)}},
		{"squeeze unsqueeze expand", func(c *tc, x []*Tensor) (*Tensor, error) {
			return c.T(c.T(c.T(c.T(x[0].Squeeze()).Unsqueeze(1)).Unsqueeze(-1)).Expand(3, 4, 2)).Mul(x[1])
		}, []gcIn{in(seq(3, 1), 3, 1, 1), in(seq(24, 2), 3, 4, 2)}},
		{"triu tril", func(c *tc, x []*Tensor) (*Tensor, error) {
			return c.T(x[0].Triu(1)).Sub(c.T(c.T(x[0].Tril(0)).MulScalar(2)))
		}, []gcIn{in(seq(9, 1), 3, 3)}},
		{"topk sort values", func(c *tc, x []*Tensor) (*Tensor, error) {
			v, _ := c.T2(x[0].TopK(2, 1, true, true))
			s, _ := c.T2(x[0].Sort(1, true))
			return Cat([]*Tensor{v, s}, 1)
		}, []gcIn{in(seq(12, 1), 3, 4)}},
		{"cross_entropy", func(c *tc, x []*Tensor) (*Tensor, error) {
			return CrossEntropy(x[0], c.I64([]int64{0, 2, 1, 1}), nil)
		}, []gcIn{in(seq(12, 1), 4, 3)}},
		{"cross_entropy ignore_index weight smoothing", func(c *tc, x []*Tensor) (*Tensor, error) {
			one := int64(1)
			return CrossEntropy(x[0], c.I64([]int64{0, 2, 1, 1}), &CrossEntropyOptions{
				Weight: c.F64([]float64{1, 2, 0.5}), Reduction: ReduceMean, IgnoreIndex: &one, LabelSmoothing: 0.1})
		}, []gcIn{in(seq(12, 1), 4, 3)}},
		{"cross_entropy sum 3-D", func(c *tc, x []*Tensor) (*Tensor, error) {
			return CrossEntropy(x[0], c.I64([]int64{0, 2, 1, 1}, 2, 2), &CrossEntropyOptions{Reduction: ReduceSum})
		}, []gcIn{in(seq(12, 1), 2, 3, 2)}},
		{"cross_entropy probabilities", func(c *tc, x []*Tensor) (*Tensor, error) {
			return CrossEntropy(x[0], c.F64(onehot, 2, 3), nil)
		}, []gcIn{in(seq(6, 1), 2, 3)}},
		{"mse_loss", func(c *tc, x []*Tensor) (*Tensor, error) { return MSELoss(x[0], x[1], ReduceMean) }, []gcIn{in(seq(6, 1), 2, 3), in(seq(6, 2), 2, 3)}},
		{"mse_loss none", func(c *tc, x []*Tensor) (*Tensor, error) { return MSELoss(x[0], x[1], ReduceNone) }, []gcIn{in(seq(6, 1), 2, 3), in(seq(6, 2), 2, 3)}},
		{"bce_with_logits", func(c *tc, x []*Tensor) (*Tensor, error) {
			return BCEWithLogits(x[0], x[1], c.F64([]float64{1, 2, 0.5, 1, 1, 3}), c.F64([]float64{2, 1, 1, 0.5, 1, 1}), ReduceMean)
		}, []gcIn{in(seq(6, 1)), in(pos(6, 2))}},
	}
	for _, tcase := range cases {
		t.Run(tcase.name, func(t *testing.T) {
			c := newTC(t)
			gradcheck(t, func(xs []*Tensor) (*Tensor, error) { return tcase.f(c, xs) }, tcase.ins...)
		})
	}
}

// gcT is what gradcheck needs from a test (*testing.T, or failRecorder to test the checker).
type gcT interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	FailNow()
}

// failRecorder is a gcT that records a failure and unwinds with a panic.
type failRecorder struct {
	failed bool
	msg    string
}

func (f *failRecorder) Helper() {}
func (f *failRecorder) Errorf(format string, a ...any) {
	f.failed, f.msg = true, fmt.Sprintf(format, a...)
}
func (f *failRecorder) Fatalf(format string, a ...any) { f.Errorf(format, a...); panic(f) }
func (f *failRecorder) FailNow()                       { f.failed = true; panic(f) }

func expectFail(fn func(gcT)) (failed bool, msg string) {
	r := &failRecorder{}
	func() {
		defer func() {
			if p := recover(); p != nil && p != any(r) {
				panic(p)
			}
		}()
		fn(r)
	}()
	return r.failed, r.msg
}

// TestGradcheckCatchesWrongGradient makes sure the checker can fail: a function whose autograd
// gradient is deliberately wrong (one factor detached) must be reported, a right one must not.
func TestGradcheckCatchesWrongGradient(t *testing.T) {
	c := newTC(t)
	wrong := func(xs []*Tensor) (*Tensor, error) {
		d := c.T(xs[0].Detach())
		return xs[0].Mul(d) // true gradient 2x; autograd sees only x
	}
	failed, msg := expectFail(func(tt gcT) { gradcheck(tt, wrong, in(seq(4, 1))) })
	require.True(t, failed, "gradcheck must detect a wrong gradient")
	require.Contains(t, msg, "finite difference")
	right := func(xs []*Tensor) (*Tensor, error) { return xs[0].Mul(xs[0]) }
	failed, msg = expectFail(func(tt gcT) { gradcheck(tt, right, in(seq(4, 1))) })
	require.False(t, failed, msg)
}
