package torch

import (
	"errors"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRequiresGradBackwardGrad(t *testing.T) {
	c := newTC(t)
	x := c.F64([]float64{1, -2, 3})
	info, err := x.Info()
	require.NoError(t, err)
	require.False(t, info.RequiresGrad)
	require.True(t, info.IsLeaf)
	g, err := x.Grad()
	require.NoError(t, err)
	require.Nil(t, g, "no gradient before backward")

	require.NoError(t, x.SetRequiresGrad(true))
	require.True(t, x.RequiresGrad())
	y := c.T(x.Mul(x))
	info, err = y.Info()
	require.NoError(t, err)
	require.True(t, info.RequiresGrad)
	require.False(t, info.IsLeaf)

	loss := c.T(y.Sum())
	require.NoError(t, loss.Backward())
	require.Equal(t, []float64{2, -4, 6}, c.grad(x))

	// Backward through a freed graph fails without retainGraph; a new graph accumulates.
	require.Error(t, loss.Backward(), "graph already freed")
	loss2 := c.T(c.T(x.MulScalar(3)).Sum())
	require.NoError(t, loss2.BackwardWith(nil, true))
	require.Equal(t, []float64{5, -1, 9}, c.grad(x), "gradients accumulate")
	require.NoError(t, loss2.Backward(), "retained graph allows a second backward")
	require.Equal(t, []float64{8, 2, 12}, c.grad(x))

	// Grad shares storage with the gradient.
	gh := c.T(x.Grad())
	require.NoError(t, gh.Fill(1))
	require.Equal(t, []float64{1, 1, 1}, c.grad(x))

	// Non-scalar outputs need an explicit gradient.
	z := c.T(x.MulScalar(2))
	require.Error(t, z.Backward(), "grad can be implicitly created only for scalar outputs")
	require.NoError(t, z.BackwardWith(c.F64([]float64{1, 0, -1}), false))
	require.Equal(t, []float64{3, 1, -1}, c.grad(x))

	// Backward of a tensor that does not require grad is an error, not a crash.
	require.Error(t, c.T(c.F64([]float64{1}).Sum()).Backward())

	// Turning requires_grad off on a non-leaf is an error (as in torch), not a silent no-op;
	// integer tensors cannot require grad.
	require.ErrorContains(t, y.SetRequiresGrad(false), "leaf")
	require.True(t, y.RequiresGrad())
	require.ErrorContains(t, c.I64([]int64{1}).SetRequiresGrad(true), "floating point")
	// Turning it off on a leaf stops recording.
	require.NoError(t, x.SetRequiresGrad(false))
	require.False(t, c.T(x.Mul(x)).RequiresGrad())
}

func TestZeroGrad(t *testing.T) {
	c := newTC(t)
	a := c.Leaf([]float64{1, 2})
	b := c.Leaf([]float64{3})
	unused := c.Leaf([]float64{0})
	require.NoError(t, c.T(c.T(c.T(a.Mul(a)).Sum()).Add(c.T(b.MulScalar(5)))).Backward())
	require.Equal(t, []float64{2, 4}, c.grad(a))
	require.Equal(t, []float64{5}, c.grad(b))

	// Zeroing in place keeps a (zero) gradient; handles taken before still see it.
	before := c.T(a.Grad())
	require.NoError(t, ZeroGrad([]*Tensor{a, b, unused}, false))
	require.Equal(t, []float64{0, 0}, c.grad(a))
	require.Equal(t, []float64{0}, c.grad(b))
	require.Equal(t, []float64{0, 0}, c.f64s(before))
	g, err := unused.Grad()
	require.NoError(t, err)
	require.Nil(t, g, "an undefined gradient stays undefined")

	// Set to none drops it.
	require.NoError(t, ZeroGrad([]*Tensor{a, b}, true))
	g, err = a.Grad()
	require.NoError(t, err)
	require.Nil(t, g)
	g, err = b.Grad()
	require.NoError(t, err)
	require.Nil(t, g)
	require.NoError(t, ZeroGrad(nil, true))

	// Fresh accumulation after set-to-none.
	require.NoError(t, c.T(c.T(a.MulScalar(7)).Sum()).Backward())
	require.Equal(t, []float64{7, 7}, c.grad(a))

	// Freed parameter: error.
	f := c.Leaf([]float64{1})
	f.Free()
	require.ErrorIs(t, ZeroGrad([]*Tensor{a, f}, true), ErrFreed)
}

func TestDetach(t *testing.T) {
	c := newTC(t)
	x := c.Leaf([]float64{1, 2})
	y := c.T(x.MulScalar(3))
	d := c.T(y.Detach())
	require.False(t, d.RequiresGrad())
	info, err := d.Info()
	require.NoError(t, err)
	require.True(t, info.IsLeaf)
	require.Equal(t, []float64{3, 6}, c.f64s(d))
	// d shares storage with y.
	require.NoError(t, d.Fill(0))
	require.Equal(t, []float64{0, 0}, c.f64s(y))
	// A loss through the detached branch does not reach x.
	loss := c.T(c.T(c.T(x.Mul(d)).Sum()).Add(c.T(c.T(d.MulScalar(2)).Sum())))
	require.NoError(t, loss.Backward())
	require.Equal(t, []float64{0, 0}, c.grad(x), "only x·d contributes, with d = 0")
}

// lockedGradEnabled reads the grad mode of a pinned thread, so the answer is meaningful.
func lockedGradEnabled(fn func()) bool {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if fn != nil {
		fn()
	}
	return GradEnabled()
}

func TestNoGrad(t *testing.T) {
	c := newTC(t)
	x := c.Leaf([]float64{1, 2})
	require.True(t, lockedGradEnabled(nil))
	var inside *Tensor
	err := NoGrad(func() error {
		require.False(t, GradEnabled())
		inside = c.T(x.MulScalar(2))
		// Nested NoGrad keeps it disabled and restores "disabled" on return.
		require.NoError(t, NoGrad(func() error { return nil }))
		require.False(t, GradEnabled())
		return nil
	})
	require.NoError(t, err)
	require.False(t, inside.RequiresGrad(), "results inside NoGrad do not require grad")
	require.Equal(t, []float64{2, 4}, c.f64s(inside))
	require.True(t, lockedGradEnabled(nil), "grad mode is on again after NoGrad")
	require.True(t, c.T(x.MulScalar(2)).RequiresGrad())

	// The function's error is returned; the mode is restored after an error and after a panic.
	sentinel := errors.New("boom")
	require.ErrorIs(t, NoGrad(func() error { return sentinel }), sentinel)
	require.True(t, lockedGradEnabled(nil))
	require.Panics(t, func() { _ = NoGrad(func() error { panic("inside NoGrad") }) })
	require.True(t, lockedGradEnabled(nil))

	v, err := NoGradValue(func() (*Tensor, error) { return x.Exp() })
	require.NoError(t, err)
	c.s.Track(v)
	require.False(t, v.RequiresGrad())

	// Backward works even when called inside NoGrad (the shim enables grad mode for it).
	loss := c.T(c.T(x.Mul(x)).Sum())
	require.NoError(t, NoGrad(func() error { return loss.Backward() }))
	require.Equal(t, []float64{2, 4}, c.grad(x))
}

// TestNoGradConcurrent runs NoGrad regions in many goroutines while other goroutines record
// autograd graphs. Grad mode is thread-local in libtorch: if NoGrad did not pin its goroutine to
// its OS thread, a disabled mode would leak to whichever goroutine ran next on that thread, and
// the grad-recording goroutines would see results that do not require grad.
func TestNoGradConcurrent(t *testing.T) {
	const workers, iters = 16, 300
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers)
	fail := func(format string) { errs <- errors.New(format) }
	for w := 0; w < workers; w++ {
		wg.Add(2)
		go func() { // NoGrad users
			defer wg.Done()
			for i := 0; i < iters; i++ {
				err := NoGrad(func() error {
					s := NewScope()
					defer s.Close()
					x := s.Track(Must(FromSlice([]float64{1, 2, 3})))
					if err := x.SetRequiresGrad(true); err != nil {
						return err
					}
					runtime.Gosched() // invite the scheduler to move us (it must not)
					y, err := x.MulScalar(2)
					if err != nil {
						return err
					}
					if y.RequiresGrad() {
						fail("a result inside NoGrad requires grad")
					}
					if GradEnabled() {
						fail("grad mode enabled inside NoGrad")
					}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() { // autograd users
			defer wg.Done()
			for i := 0; i < iters; i++ {
				s := NewScope()
				x := s.Track(Must(FromSlice([]float64{1, 2, 3})))
				if err := x.SetRequiresGrad(true); err != nil {
					errs <- err
					s.Close()
					return
				}
				y := Must(x.Mul(x))
				runtime.Gosched()
				if !y.RequiresGrad() {
					fail("a grad-recording goroutine saw grad mode disabled")
					s.Close()
					return
				}
				loss := Must(y.Sum())
				if err := loss.Backward(); err != nil {
					errs <- err
					s.Close()
					return
				}
				g := s.Track(Must(x.Grad()))
				gv, _ := g.Float64s()
				if len(gv) != 3 || gv[0] != 2 || gv[1] != 4 || gv[2] != 6 {
					fail("wrong gradient in a concurrent goroutine")
				}
				s.Close()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
