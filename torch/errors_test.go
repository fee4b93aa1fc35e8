package torch

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestErrorsCarryLibtorchMessage(t *testing.T) {
	c := newTC(t)
	a := c.F32([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	_, err := a.MatMul(a)
	require.Error(t, err)
	var te *Error
	require.ErrorAs(t, err, &te)
	require.Equal(t, "matmul", te.Op)
	require.Contains(t, te.Msg, "mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)", "libtorch's own text")
	require.Equal(t, "torch: matmul: "+te.Msg, err.Error())
	require.NotContains(t, te.Msg, "Exception raised from", "no C++ backtrace in the message")

	// Batched matmul with mismatched inner dims.
	_, err = c.T(Zeros([]int64{2, 2, 3}, Float32, CPU)).MatMul(c.T(Zeros([]int64{2, 4, 2}, Float32, CPU)))
	require.ErrorAs(t, err, &te)
	require.Equal(t, "matmul", te.Op)

	// Errors do not poison later calls.
	ok := c.T(a.MatMul(c.T(a.Transpose(0, 1))))
	require.Equal(t, []float32{14, 32, 32, 77}, c.f32s(ok))
}

func TestWrongDTypeErrors(t *testing.T) {
	c := newTC(t)
	i := c.I64([]int64{1, 2})
	_, err := ToSlice[float32](i)
	require.ErrorContains(t, err, "int64")
	_, err = i.Float64s()
	require.Error(t, err)
	_, err = c.F32([]float32{1}).Int64s()
	require.ErrorContains(t, err, "float32")
	_, err = ToSlice[bool](i)
	require.Error(t, err)

	logits := c.F32([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	_, err = CrossEntropy(logits, c.F32([]float32{0, 1}), nil)
	require.Error(t, err, "float targets of the wrong shape")
	_, err = Embedding(logits, c.F32([]float32{0, 1}), -1)
	require.ErrorContains(t, err, "ids must be int64 or int32")
	_, err = Where(c.F32([]float32{1}), logits, logits)
	require.Error(t, err, "where needs a bool condition")

	// Item on a multi-element tensor is an error.
	_, err = logits.Item()
	require.Error(t, err)
}

func TestUseAfterFree(t *testing.T) {
	c := newTC(t)
	x := c.F32([]float32{1, 2})
	y := c.F32([]float32{3, 4})
	x.Free()
	require.True(t, x.Freed())
	require.False(t, y.Freed())
	x.Free() // idempotent
	x.Free()
	var nilT *Tensor
	nilT.Free() // safe on nil
	require.True(t, nilT.Freed())

	checks := map[string]error{}
	_, checks["Add"] = x.Add(y)
	_, checks["Add (freed argument)"] = y.Add(x)
	_, checks["Exp"] = x.Exp()
	_, checks["Info"] = x.Info()
	_, checks["Float32s"] = x.Float32s()
	_, checks["Bytes"] = x.Bytes()
	_, checks["Item"] = x.Item()
	_, checks["Share"] = x.Share()
	_, checks["Grad"] = x.Grad()
	_, checks["View"] = x.View(2)
	_, checks["Cat"] = Cat([]*Tensor{y, x}, 0)
	_, checks["Linear"] = Linear(y, x, nil)
	_, _, checks["TopK"] = x.TopK(1, 0, true, true)
	checks["Backward"] = x.Backward()
	checks["SetRequiresGrad"] = x.SetRequiresGrad(true)
	checks["CopyFrom"] = y.CopyFrom(x)
	checks["Fill"] = x.Fill(1)
	for name, err := range checks {
		require.ErrorIs(t, err, ErrFreed, name)
	}
	require.Nil(t, x.Shape())
	require.Equal(t, -1, x.Dim())
	require.Contains(t, x.String(), "freed")

	// nil tensors are errors, not crashes.
	_, err := nilT.Add(y)
	require.Error(t, err)
	_, err = y.Add(nil)
	require.Error(t, err)

	// y is untouched by the failed calls.
	require.Equal(t, []float32{3, 4}, c.f32s(y))
	require.Equal(t, "Tensor(shape=[2], dtype=float32, device=cpu)", y.String())
}

func TestMustAndRecover(t *testing.T) {
	c := newTC(t)
	a := c.F32([]float32{1, 2, 3}, 3)
	f := func() (err error) {
		defer Recover(&err)
		r := c.s.Track(a.MustMatMul(c.F32([]float32{1, 2}, 2)))
		_ = r
		return nil
	}
	err := f()
	require.Error(t, err)
	var te *Error
	require.ErrorAs(t, err, &te)
	require.Equal(t, "matmul", te.Op)

	// Must passes values through.
	v := c.s.Track(a.MustMulScalar(2))
	require.Equal(t, []float32{2, 4, 6}, c.f32s(v))
	require.Equal(t, 6.0, c.s.Track(a.MustSum()).MustItem())

	// Other panics propagate through Recover.
	require.PanicsWithValue(t, "not a torch error", func() {
		var err error
		defer Recover(&err)
		panic("not a torch error")
	})
	// Errors created by the package are matchable with errors.Is / As.
	_, err = a.View(4)
	require.True(t, errors.As(err, &te))
}
