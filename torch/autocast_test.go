package torch

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAutocastCPU: inside Autocast a matmul computes in bfloat16 from float32 inputs, a
// softmax over its float32-promoted sum stays float32, the state nests and is restored, and
// gradients reach the float32 parameters as float32, close to the float32 computation.
func TestAutocastCPU(t *testing.T) {
	s := NewScope()
	defer s.Close()
	x := s.Track(Must(Randn([]int64{4, 8}, Float32, CPU, nil)))
	w := s.Track(Must(Randn([]int64{8, 3}, Float32, CPU, nil)))
	require.NoError(t, w.SetRequiresGrad(true))
	bias := s.Track(Must(Zeros([]int64{3}, Float32, CPU)))

	loss := func() *Tensor {
		y := x.MustMatMul(w)
		z := y.MustAdd(bias)
		return z.MustSoftmax(-1).MustSquare().MustSum()
	}
	ref := loss()
	require.NoError(t, ref.Backward())
	g32 := s.Track(Must(Must(w.Grad()).Clone()))
	require.NoError(t, ZeroGrad([]*Tensor{w}, true))

	var mixed *Tensor
	err := Autocast(CPU, BFloat16, func() error {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		on, dt, err := AutocastState(CPU)
		require.NoError(t, err)
		require.True(t, on)
		require.Equal(t, BFloat16, dt)
		y := x.MustMatMul(w)
		require.Equal(t, BFloat16, y.DType(), "matmul runs in the autocast dtype")
		require.Equal(t, Float32, y.MustAdd(bias).DType(), "bfloat16 + float32 promotes")
		// Nested region: still on, and still on after it ends.
		require.NoError(t, Autocast(CPU, BFloat16, func() error { return nil }))
		on, _, err = AutocastState(CPU)
		require.NoError(t, err)
		require.True(t, on, "an inner region's end keeps the outer one on")
		mixed = loss()
		return nil
	})
	require.NoError(t, err)
	runtime.LockOSThread()
	on, _, err := AutocastState(CPU)
	runtime.UnlockOSThread()
	require.NoError(t, err)
	require.False(t, on, "state restored after the region")

	require.Equal(t, Float32, mixed.DType())
	require.NoError(t, mixed.Backward())
	g := Must(w.Grad())
	s.Track(g)
	require.Equal(t, Float32, g.DType(), "gradients of float32 parameters stay float32")
	// bfloat16 keeps 8 significant bits: relative error ~2^-8 per rounding.
	a, b := Must(g.Float32s()), Must(g32.Float32s())
	for i := range a {
		require.InDelta(t, b[i], a[i], float64(0.05*(1+abs32(b[i]))), "grad[%d]", i)
	}
	lr, lm := Must(ref.Float32s()), Must(mixed.Float32s())
	require.InDelta(t, lr[0], lm[0], float64(0.02*(1+abs32(lr[0]))))
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}

func TestAutocastErrors(t *testing.T) {
	require.ErrorContains(t, Autocast(CPU, Float64, func() error { return nil }), "bfloat16 or float16")
	if !CUDAAvailable() {
		err := Autocast(CUDA(0), BFloat16, func() error { t.Fatal("fn ran"); return nil })
		require.ErrorContains(t, err, "no CUDA")
	}
}
