package torch

/*
#include "hier_torch.h"
*/
import "C"

import (
	"fmt"
	"runtime"
)

// result finishes a single-output call: it wraps out (joined to the inputs' scope) or returns err.
func result(out C.ht_tensor, err error, inputs ...*Tensor) (*Tensor, error) {
	if err != nil {
		return nil, err
	}
	return newTensor(out, inputs...), nil
}

func (t *Tensor) unary(op C.int, name string) (*Tensor, error) {
	h, err := t.h()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check(name, C.ht_unary(op, h, &out))
	runtime.KeepAlive(t)
	return result(out, err, t)
}

func (t *Tensor) binary(op C.int, name string, o *Tensor, alpha float64) (*Tensor, error) {
	h, err := t.h()
	if err != nil {
		return nil, err
	}
	oh, err := o.h()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check(name, C.ht_binary(op, h, oh, C.double(alpha), &out))
	runtime.KeepAlive(t)
	runtime.KeepAlive(o)
	return result(out, err, t, o)
}

func (t *Tensor) scalar(op C.int, name string, s float64, reverse bool) (*Tensor, error) {
	h, err := t.h()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check(name, C.ht_binary_scalar(op, h, C.double(s), cBool(reverse), &out))
	runtime.KeepAlive(t)
	return result(out, err, t)
}

// ---- elementwise unary (shape preserved) ----

// Neg is -t.
func (t *Tensor) Neg() (*Tensor, error) { return t.unary(C.HT_U_NEG, "neg") }

// Exp is e^t elementwise.
func (t *Tensor) Exp() (*Tensor, error) { return t.unary(C.HT_U_EXP, "exp") }

// Log is the natural logarithm elementwise.
func (t *Tensor) Log() (*Tensor, error) { return t.unary(C.HT_U_LOG, "log") }

// Tanh is tanh elementwise.
func (t *Tensor) Tanh() (*Tensor, error) { return t.unary(C.HT_U_TANH, "tanh") }

// Sqrt is the square root elementwise.
func (t *Tensor) Sqrt() (*Tensor, error) { return t.unary(C.HT_U_SQRT, "sqrt") }

// Rsqrt is 1/sqrt(t) elementwise.
func (t *Tensor) Rsqrt() (*Tensor, error) { return t.unary(C.HT_U_RSQRT, "rsqrt") }

// Abs is |t| elementwise.
func (t *Tensor) Abs() (*Tensor, error) { return t.unary(C.HT_U_ABS, "abs") }

// Square is t² elementwise.
func (t *Tensor) Square() (*Tensor, error) { return t.unary(C.HT_U_SQUARE, "square") }

// Sigmoid is 1/(1+e^-t) elementwise.
func (t *Tensor) Sigmoid() (*Tensor, error) { return t.unary(C.HT_U_SIGMOID, "sigmoid") }

// Relu is max(t, 0) elementwise.
func (t *Tensor) Relu() (*Tensor, error) { return t.unary(C.HT_U_RELU, "relu") }

// GeluTanh is GELU with the tanh approximation, 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³)))
// (HF "gelu_new", torch gelu(approximate="tanh"); Hendrycks & Gimpel 2016).
func (t *Tensor) GeluTanh() (*Tensor, error) { return t.unary(C.HT_U_GELU_TANH, "gelu_tanh") }

// Gelu is the exact GELU, x·Φ(x) with the normal CDF (HF "gelu").
func (t *Tensor) Gelu() (*Tensor, error) { return t.unary(C.HT_U_GELU_ERF, "gelu") }

// LogicalNot is !t elementwise (bool result).
func (t *Tensor) LogicalNot() (*Tensor, error) { return t.unary(C.HT_U_LOGICAL_NOT, "logical_not") }

// Contiguous returns t laid out contiguously (t itself, shared, if it already is).
func (t *Tensor) Contiguous() (*Tensor, error) { return t.unary(C.HT_U_CONTIGUOUS, "contiguous") }

// Clone copies t into new storage (differentiable).
func (t *Tensor) Clone() (*Tensor, error) { return t.unary(C.HT_U_CLONE, "clone") }

// Detach returns a tensor sharing t's storage, cut from the autograd graph.
func (t *Tensor) Detach() (*Tensor, error) { return t.unary(C.HT_U_DETACH, "detach") }

// ---- elementwise binary (broadcasting) ----

// Add is t + o.
func (t *Tensor) Add(o *Tensor) (*Tensor, error) { return t.binary(C.HT_B_ADD, "add", o, 1) }

// AddScaled is t + alpha·o.
func (t *Tensor) AddScaled(o *Tensor, alpha float64) (*Tensor, error) {
	return t.binary(C.HT_B_ADD, "add", o, alpha)
}

// Sub is t - o.
func (t *Tensor) Sub(o *Tensor) (*Tensor, error) { return t.binary(C.HT_B_SUB, "sub", o, 1) }

// Mul is t · o elementwise.
func (t *Tensor) Mul(o *Tensor) (*Tensor, error) { return t.binary(C.HT_B_MUL, "mul", o, 0) }

// Div is t / o elementwise (true division).
func (t *Tensor) Div(o *Tensor) (*Tensor, error) { return t.binary(C.HT_B_DIV, "div", o, 0) }

// Pow is t^o elementwise.
func (t *Tensor) Pow(o *Tensor) (*Tensor, error) { return t.binary(C.HT_B_POW, "pow", o, 0) }

// Eq is t == o elementwise (bool).
func (t *Tensor) Eq(o *Tensor) (*Tensor, error) { return t.binary(C.HT_B_EQ, "eq", o, 0) }

// Ne is t != o elementwise (bool).
func (t *Tensor) Ne(o *Tensor) (*Tensor, error) { return t.binary(C.HT_B_NE, "ne", o, 0) }

// Lt is t < o elementwise (bool).
func (t *Tensor) Lt(o *Tensor) (*Tensor, error) { return t.binary(C.HT_B_LT, "lt", o, 0) }

// Le is t <= o elementwise (bool).
func (t *Tensor) Le(o *Tensor) (*Tensor, error) { return t.binary(C.HT_B_LE, "le", o, 0) }

// Gt is t > o elementwise (bool).
func (t *Tensor) Gt(o *Tensor) (*Tensor, error) { return t.binary(C.HT_B_GT, "gt", o, 0) }

// Ge is t >= o elementwise (bool).
func (t *Tensor) Ge(o *Tensor) (*Tensor, error) { return t.binary(C.HT_B_GE, "ge", o, 0) }

// Maximum is max(t, o) elementwise.
func (t *Tensor) Maximum(o *Tensor) (*Tensor, error) {
	return t.binary(C.HT_B_MAXIMUM, "maximum", o, 0)
}

// Minimum is min(t, o) elementwise.
func (t *Tensor) Minimum(o *Tensor) (*Tensor, error) {
	return t.binary(C.HT_B_MINIMUM, "minimum", o, 0)
}

// LogicalAnd is t && o elementwise (bool).
func (t *Tensor) LogicalAnd(o *Tensor) (*Tensor, error) {
	return t.binary(C.HT_B_LOGICAL_AND, "logical_and", o, 0)
}

// MatMul is torch.matmul: [..., n, k] × [..., k, m] → [..., n, m] with batch broadcasting
// (1-D operands are treated as vectors). Errors: inner dimensions differ.
func (t *Tensor) MatMul(o *Tensor) (*Tensor, error) { return t.binary(C.HT_B_MATMUL, "matmul", o, 0) }

// BMM is a batched product [b, n, k] × [b, k, m] → [b, n, m].
func (t *Tensor) BMM(o *Tensor) (*Tensor, error) { return t.binary(C.HT_B_BMM, "bmm", o, 0) }

// AddScalar is t + s.
func (t *Tensor) AddScalar(s float64) (*Tensor, error) { return t.scalar(C.HT_B_ADD, "add", s, false) }

// SubScalar is t - s.
func (t *Tensor) SubScalar(s float64) (*Tensor, error) { return t.scalar(C.HT_B_SUB, "sub", s, false) }

// RSubScalar is s - t.
func (t *Tensor) RSubScalar(s float64) (*Tensor, error) { return t.scalar(C.HT_B_SUB, "rsub", s, true) }

// MulScalar is t · s.
func (t *Tensor) MulScalar(s float64) (*Tensor, error) { return t.scalar(C.HT_B_MUL, "mul", s, false) }

// DivScalar is t / s.
func (t *Tensor) DivScalar(s float64) (*Tensor, error) { return t.scalar(C.HT_B_DIV, "div", s, false) }

// PowScalar is t^s.
func (t *Tensor) PowScalar(s float64) (*Tensor, error) { return t.scalar(C.HT_B_POW, "pow", s, false) }

// EqScalar is t == s (bool).
func (t *Tensor) EqScalar(s float64) (*Tensor, error) { return t.scalar(C.HT_B_EQ, "eq", s, false) }

// NeScalar is t != s (bool).
func (t *Tensor) NeScalar(s float64) (*Tensor, error) { return t.scalar(C.HT_B_NE, "ne", s, false) }

// GtScalar is t > s (bool).
func (t *Tensor) GtScalar(s float64) (*Tensor, error) { return t.scalar(C.HT_B_GT, "gt", s, false) }

// LtScalar is t < s (bool).
func (t *Tensor) LtScalar(s float64) (*Tensor, error) { return t.scalar(C.HT_B_LT, "lt", s, false) }

// AddMM is beta·bias + alpha·(a × b) with a [n, k], b [k, m], bias broadcastable to [n, m].
func AddMM(bias, a, b *Tensor, beta, alpha float64) (*Tensor, error) {
	hb, err := bias.h()
	if err != nil {
		return nil, err
	}
	ha, err := a.h()
	if err != nil {
		return nil, err
	}
	hm, err := b.h()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check("addmm", C.ht_addmm(hb, ha, hm, C.double(beta), C.double(alpha), &out))
	runtime.KeepAlive(bias)
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	return result(out, err, a, b, bias)
}

// Where selects a where cond is true, else b (broadcasting). cond must be bool.
func Where(cond, a, b *Tensor) (*Tensor, error) {
	hc, err := cond.h()
	if err != nil {
		return nil, err
	}
	ha, err := a.h()
	if err != nil {
		return nil, err
	}
	hb, err := b.h()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check("where", C.ht_where(hc, ha, hb, &out))
	runtime.KeepAlive(cond)
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	return result(out, err, a, b, cond)
}

// MaskedFill returns t with value where mask (bool, broadcastable to t) is true.
func (t *Tensor) MaskedFill(mask *Tensor, value float64) (*Tensor, error) {
	h, err := t.h()
	if err != nil {
		return nil, err
	}
	hm, err := mask.h()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check("masked_fill", C.ht_masked_fill(h, hm, C.double(value), &out))
	runtime.KeepAlive(t)
	runtime.KeepAlive(mask)
	return result(out, err, t, mask)
}

func (t *Tensor) clamp(hasMin bool, lo float64, hasMax bool, hi float64) (*Tensor, error) {
	h, err := t.h()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check("clamp", C.ht_clamp(h, cBool(hasMin), C.double(lo), cBool(hasMax), C.double(hi), &out))
	runtime.KeepAlive(t)
	return result(out, err, t)
}

// Clamp limits t to [lo, hi].
func (t *Tensor) Clamp(lo, hi float64) (*Tensor, error) { return t.clamp(true, lo, true, hi) }

// ClampMin limits t to [lo, +inf).
func (t *Tensor) ClampMin(lo float64) (*Tensor, error) { return t.clamp(true, lo, false, 0) }

// ClampMax limits t to (-inf, hi].
func (t *Tensor) ClampMax(hi float64) (*Tensor, error) { return t.clamp(false, 0, true, hi) }

func (t *Tensor) tri(upper bool, diagonal int64) (*Tensor, error) {
	h, err := t.h()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check("tri", C.ht_tri(h, cBool(upper), C.int64_t(diagonal), &out))
	runtime.KeepAlive(t)
	return result(out, err, t)
}

// Triu keeps elements on and above the given diagonal of the last two dims (torch.triu).
func (t *Tensor) Triu(diagonal int64) (*Tensor, error) { return t.tri(true, diagonal) }

// Tril keeps elements on and below the given diagonal of the last two dims (torch.tril).
func (t *Tensor) Tril(diagonal int64) (*Tensor, error) { return t.tri(false, diagonal) }

// ---- reductions ----

func (t *Tensor) reduce(op C.int, name string, dims []int64, keepdim bool, dt DType) (*Tensor, error) {
	h, err := t.h()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check(name, C.ht_reduce(op, h, cInt64s(dims), C.int(len(dims)), cBool(keepdim), C.int(dt), &out))
	runtime.KeepAlive(t)
	return result(out, err, t)
}

// Sum adds all elements, giving a 0-dim tensor.
func (t *Tensor) Sum() (*Tensor, error) { return t.reduce(C.HT_R_SUM, "sum", nil, false, -1) }

// SumDims sums over dims (negative dims count from the end).
func (t *Tensor) SumDims(dims []int64, keepdim bool) (*Tensor, error) {
	if len(dims) == 0 {
		return nil, fmt.Errorf("torch: sum: no dims given (use Sum for all)")
	}
	return t.reduce(C.HT_R_SUM, "sum", dims, keepdim, -1)
}

// Mean averages all elements, giving a 0-dim tensor.
func (t *Tensor) Mean() (*Tensor, error) { return t.reduce(C.HT_R_MEAN, "mean", nil, false, -1) }

// MeanDims averages over dims.
func (t *Tensor) MeanDims(dims []int64, keepdim bool) (*Tensor, error) {
	if len(dims) == 0 {
		return nil, fmt.Errorf("torch: mean: no dims given (use Mean for all)")
	}
	return t.reduce(C.HT_R_MEAN, "mean", dims, keepdim, -1)
}

// AMax is the maximum over dims (all dims if none given).
func (t *Tensor) AMax(dims []int64, keepdim bool) (*Tensor, error) {
	return t.reduce(C.HT_R_AMAX, "amax", dims, keepdim, -1)
}

// AMin is the minimum over dims (all dims if none given).
func (t *Tensor) AMin(dims []int64, keepdim bool) (*Tensor, error) {
	return t.reduce(C.HT_R_AMIN, "amin", dims, keepdim, -1)
}

// LogSumExp is log(sum(exp(t))) over dims, computed stably (all dims if none given).
func (t *Tensor) LogSumExp(dims []int64, keepdim bool) (*Tensor, error) {
	return t.reduce(C.HT_R_LOGSUMEXP, "logsumexp", dims, keepdim, -1)
}

// Norm is the L2 norm over dims (all elements if none given).
func (t *Tensor) Norm(dims []int64, keepdim bool) (*Tensor, error) {
	return t.reduce(C.HT_R_NORM2, "norm", dims, keepdim, -1)
}

func (t *Tensor) maxDim(dim int64, keepdim, isMin bool) (values, indices *Tensor, err error) {
	h, err := t.h()
	if err != nil {
		return nil, nil, err
	}
	var v, i C.ht_tensor
	err = check("max", C.ht_max_dim(h, C.int64_t(dim), cBool(keepdim), cBool(isMin), &v, &i))
	runtime.KeepAlive(t)
	if err != nil {
		return nil, nil, err
	}
	return newTensor(v, t), newTensor(i, t), nil
}

// MaxDim returns the maximum values along dim and their int64 indices.
func (t *Tensor) MaxDim(dim int64, keepdim bool) (values, indices *Tensor, err error) {
	return t.maxDim(dim, keepdim, false)
}

// MinDim returns the minimum values along dim and their int64 indices.
func (t *Tensor) MinDim(dim int64, keepdim bool) (values, indices *Tensor, err error) {
	return t.maxDim(dim, keepdim, true)
}

// ArgMax is the int64 index of the maximum along dim.
func (t *Tensor) ArgMax(dim int64, keepdim bool) (*Tensor, error) {
	h, err := t.h()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check("argmax", C.ht_argmax(h, 1, C.int64_t(dim), cBool(keepdim), &out))
	runtime.KeepAlive(t)
	return result(out, err, t)
}

// CumSum is the cumulative sum along dim.
func (t *Tensor) CumSum(dim int64) (*Tensor, error) {
	h, err := t.h()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check("cumsum", C.ht_cumsum(h, C.int64_t(dim), &out))
	runtime.KeepAlive(t)
	return result(out, err, t)
}

// ---- shape ----

func (t *Tensor) reshape(shape []int64, view bool) (*Tensor, error) {
	h, err := t.h()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	name := "reshape"
	if view {
		name = "view"
	}
	err = check(name, C.ht_reshape(h, cInt64s(shape), C.int(len(shape)), cBool(view), &out))
	runtime.KeepAlive(t)
	return result(out, err, t)
}

// View returns a view with the given shape (one dim may be -1). Errors: the sizes do not match,
// or t's strides do not allow a view (use Reshape).
func (t *Tensor) View(shape ...int64) (*Tensor, error) { return t.reshape(shape, true) }

// Reshape returns t with the given shape, a view when possible, otherwise a copy.
func (t *Tensor) Reshape(shape ...int64) (*Tensor, error) { return t.reshape(shape, false) }

// Transpose swaps dims d0 and d1 (a view).
func (t *Tensor) Transpose(d0, d1 int64) (*Tensor, error) {
	h, err := t.h()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check("transpose", C.ht_transpose(h, C.int64_t(d0), C.int64_t(d1), &out))
	runtime.KeepAlive(t)
	return result(out, err, t)
}

// Permute reorders dims (a view).
func (t *Tensor) Permute(dims ...int64) (*Tensor, error) {
	h, err := t.h()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check("permute", C.ht_permute(h, cInt64s(dims), C.int(len(dims)), &out))
	runtime.KeepAlive(t)
	return result(out, err, t)
}

// Expand broadcasts size-1 dims to shape (-1 keeps a dim); a view without copying.
func (t *Tensor) Expand(shape ...int64) (*Tensor, error) {
	h, err := t.h()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check("expand", C.ht_expand(h, cInt64s(shape), C.int(len(shape)), &out))
	runtime.KeepAlive(t)
	return result(out, err, t)
}

func (t *Tensor) squeeze(hasDim bool, dim int64) (*Tensor, error) {
	h, err := t.h()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check("squeeze", C.ht_squeeze(h, cBool(hasDim), C.int64_t(dim), &out))
	runtime.KeepAlive(t)
	return result(out, err, t)
}

// Squeeze removes every size-1 dim.
func (t *Tensor) Squeeze() (*Tensor, error) { return t.squeeze(false, 0) }

// SqueezeDim removes dim if its size is 1.
func (t *Tensor) SqueezeDim(dim int64) (*Tensor, error) { return t.squeeze(true, dim) }

// Unsqueeze inserts a size-1 dim at position dim.
func (t *Tensor) Unsqueeze(dim int64) (*Tensor, error) {
	h, err := t.h()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check("unsqueeze", C.ht_unsqueeze(h, C.int64_t(dim), &out))
	runtime.KeepAlive(t)
	return result(out, err, t)
}

func handles(ts []*Tensor) ([]C.ht_tensor, error) {
	hs := make([]C.ht_tensor, len(ts))
	for i, t := range ts {
		h, err := t.h()
		if err != nil {
			return nil, fmt.Errorf("tensor %d: %w", i, err)
		}
		hs[i] = h
	}
	return hs, nil
}

func catOrStack(ts []*Tensor, dim int64, stack bool, name string) (*Tensor, error) {
	if len(ts) == 0 {
		return nil, fmt.Errorf("torch: %s of zero tensors", name)
	}
	hs, err := handles(ts)
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check(name, C.ht_cat(&hs[0], C.int(len(hs)), C.int64_t(dim), cBool(stack), &out))
	runtime.KeepAlive(ts)
	return result(out, err, ts...)
}

// Cat concatenates tensors along an existing dim.
func Cat(ts []*Tensor, dim int64) (*Tensor, error) { return catOrStack(ts, dim, false, "cat") }

// Stack joins equally shaped tensors along a new dim.
func Stack(ts []*Tensor, dim int64) (*Tensor, error) { return catOrStack(ts, dim, true, "stack") }

func (t *Tensor) split(size, chunks, dim int64) ([]*Tensor, error) {
	h, err := t.h()
	if err != nil {
		return nil, err
	}
	s := t.Shape()
	d := dim
	if d < 0 {
		d += int64(len(s))
	}
	if d < 0 || d >= int64(len(s)) {
		return nil, fmt.Errorf("torch: split: dim %d out of range for shape %v", dim, s)
	}
	capacity := chunks
	if chunks <= 0 {
		if size <= 0 {
			return nil, fmt.Errorf("torch: split: size must be > 0, got %d", size)
		}
		capacity = (s[d] + size - 1) / size
	}
	if capacity < 1 {
		capacity = 1
	}
	outs := make([]C.ht_tensor, capacity)
	var n C.int
	err = check("split", C.ht_split(h, C.int64_t(size), C.int64_t(chunks), C.int64_t(dim), &outs[0], C.int(capacity), &n))
	runtime.KeepAlive(t)
	if err != nil {
		return nil, err
	}
	res := make([]*Tensor, int(n))
	for i := range res {
		res[i] = newTensor(outs[i], t)
	}
	return res, nil
}

// Split cuts t into pieces of size along dim (the last may be smaller); views.
func (t *Tensor) Split(size, dim int64) ([]*Tensor, error) { return t.split(size, 0, dim) }

// Chunk cuts t into n nearly equal pieces along dim (torch.chunk; may return fewer); views.
func (t *Tensor) Chunk(n, dim int64) ([]*Tensor, error) {
	if n <= 0 {
		return nil, fmt.Errorf("torch: chunk: n must be > 0, got %d", n)
	}
	return t.split(0, n, dim)
}

// Narrow is the view t[..., start:start+length, ...] along dim.
func (t *Tensor) Narrow(dim, start, length int64) (*Tensor, error) {
	h, err := t.h()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check("narrow", C.ht_narrow(h, C.int64_t(dim), C.int64_t(start), C.int64_t(length), &out))
	runtime.KeepAlive(t)
	return result(out, err, t)
}

// Slice is the view t[..., start:end:step, ...] along dim (Python slice bounds are clamped).
func (t *Tensor) Slice(dim, start, end, step int64) (*Tensor, error) {
	h, err := t.h()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check("slice", C.ht_slice(h, C.int64_t(dim), C.int64_t(start), C.int64_t(end), C.int64_t(step), &out))
	runtime.KeepAlive(t)
	return result(out, err, t)
}

func (t *Tensor) indexOp(name string, dim int64, index *Tensor, fn func(C.ht_tensor, C.ht_tensor, *C.ht_tensor) C.ht_err) (*Tensor, error) {
	h, err := t.h()
	if err != nil {
		return nil, err
	}
	hi, err := index.h()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check(name, fn(h, hi, &out))
	runtime.KeepAlive(t)
	runtime.KeepAlive(index)
	return result(out, err, t, index)
}

// IndexSelect picks entries along dim by a 1-D int64 index.
func (t *Tensor) IndexSelect(dim int64, index *Tensor) (*Tensor, error) {
	return t.indexOp("index_select", dim, index, func(h, i C.ht_tensor, o *C.ht_tensor) C.ht_err {
		return C.ht_index_select(h, C.int64_t(dim), i, o)
	})
}

// Gather is torch.gather: out[i][j] = t[i][index[i][j]] for dim 1 (int64 index, same rank as t).
func (t *Tensor) Gather(dim int64, index *Tensor) (*Tensor, error) {
	return t.indexOp("gather", dim, index, func(h, i C.ht_tensor, o *C.ht_tensor) C.ht_err {
		return C.ht_gather(h, C.int64_t(dim), i, o)
	})
}

// IndexAdd returns a copy of t with source's slices added at index along dim
// (torch.index_add; duplicates in index accumulate). Used for per-user sums.
func (t *Tensor) IndexAdd(dim int64, index, source *Tensor) (*Tensor, error) {
	hs, err := source.h()
	if err != nil {
		return nil, err
	}
	r, err := t.indexOp("index_add", dim, index, func(h, i C.ht_tensor, o *C.ht_tensor) C.ht_err {
		return C.ht_index_add(h, C.int64_t(dim), i, hs, o)
	})
	runtime.KeepAlive(source)
	return r, err
}

// TopK returns the k largest (or smallest) values along dim and their int64 indices.
func (t *Tensor) TopK(k, dim int64, largest, sorted bool) (values, indices *Tensor, err error) {
	h, err := t.h()
	if err != nil {
		return nil, nil, err
	}
	var v, i C.ht_tensor
	err = check("topk", C.ht_topk(h, C.int64_t(k), C.int64_t(dim), cBool(largest), cBool(sorted), &v, &i))
	runtime.KeepAlive(t)
	if err != nil {
		return nil, nil, err
	}
	return newTensor(v, t), newTensor(i, t), nil
}

// Sort sorts along dim (stable), returning values and int64 indices.
func (t *Tensor) Sort(dim int64, descending bool) (values, indices *Tensor, err error) {
	h, err := t.h()
	if err != nil {
		return nil, nil, err
	}
	var v, i C.ht_tensor
	err = check("sort", C.ht_sort(h, C.int64_t(dim), cBool(descending), &v, &i))
	runtime.KeepAlive(t)
	if err != nil {
		return nil, nil, err
	}
	return newTensor(v, t), newTensor(i, t), nil
}
