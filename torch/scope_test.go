package torch

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestScopeSemantics(t *testing.T) {
	start := LiveTensors()
	s := NewScope()
	x := s.Track(Must(FromSlice([]float32{1, 2, 3})))
	require.Equal(t, 1, s.Len())
	y := Must(x.Add(x)) // joins the scope of its input
	z := Must(y.Exp())
	parts := Must(z.Split(1, 0)) // multi-result ops join too
	v, i := Must2(z.MaxDim(0, false))
	require.Equal(t, 1+2+3+2, s.Len())
	require.Equal(t, start+8, LiveTensors())

	// An op whose first input is unscoped still joins the scope of a scoped input.
	free := Must(FromSlice([]float32{1, 1, 1}))
	mixed := Must(free.Mul(x))
	require.Equal(t, 9, s.Len())
	// Share and Grad handles join the scope of their tensor.
	sh := Must(x.Share())
	require.Equal(t, 10, s.Len())

	kept := s.Keep(z)
	require.Same(t, z, kept)
	// Results computed from a kept tensor are no longer owned by the scope.
	after := Must(kept.MulScalar(2))
	require.Equal(t, 10, s.Len())

	s.Close()
	for _, tt := range append([]*Tensor{x, y, v, i, mixed, sh}, parts...) {
		require.True(t, tt.Freed())
	}
	require.False(t, kept.Freed(), "Keep survives Close")
	require.False(t, free.Freed(), "never tracked")
	require.False(t, after.Freed())
	zv, err := kept.Float32s()
	require.NoError(t, err)
	require.InDeltaSlice(t, []float64{7.389056, 54.59815, 403.4288}, f64of(zv), 1e-3)
	require.Equal(t, 0, s.Len())
	s.Close() // idempotent
	s.Close()

	// Ops on tensors of a closed scope (kept ones) do not resurrect the scope.
	late := Must(kept.Neg())
	require.Equal(t, 0, s.Len())
	// Tracking into a closed scope does not adopt the tensor.
	s.Track(late)
	require.Equal(t, 0, s.Len())
	require.False(t, late.Freed())

	FreeAll(kept, free, after, late, nil)
	require.Equal(t, start, LiveTensors())
	require.Nil(t, NewScope().Track())
}

func TestScopeFirstScopeWinsAndManualFree(t *testing.T) {
	start := LiveTensors()
	s1, s2 := NewScope(), NewScope()
	a := s1.Track(Must(FromSlice([]float64{1})))
	b := s2.Track(Must(FromSlice([]float64{2})))
	ab := Must(a.Add(b))
	ba := Must(b.Add(a))
	require.Equal(t, 2, s1.Len())
	require.Equal(t, 2, s2.Len())
	// Freeing a scoped tensor early is fine; Close skips it.
	ab.Free()
	s1.Close()
	require.True(t, a.Freed())
	require.False(t, b.Freed())
	require.False(t, ba.Freed())
	s2.Close()
	require.True(t, ba.Freed())
	// A tensor moved to another scope by Track is freed by that scope only.
	s3, s4 := NewScope(), NewScope()
	m := s3.Track(Must(FromSlice([]float64{3})))
	s4.Track(m)
	s3.Close()
	require.False(t, m.Freed())
	s4.Close()
	require.True(t, m.Freed())
	require.Equal(t, start, LiveTensors())
}

func TestScopeConcurrentUse(t *testing.T) {
	start := LiveTensors()
	s := NewScope()
	x := s.Track(Must(FromSlice([]float32{1, 2})))
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 50; k++ {
				_ = Must(x.MulScalar(float64(k)))
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 1+8*50, s.Len())
	s.Close()
	require.Equal(t, start, LiveTensors())
}

// TestCleanupBackstop: an unreachable tensor that was never freed is released by the runtime
// cleanup after a GC (the backstop; Free and Scope are the real mechanism).
func TestCleanupBackstop(t *testing.T) {
	start, nativeStart := quiesce()
	func() {
		for k := 0; k < 10; k++ {
			_ = Must(Zeros([]int64{1000}, Float32, CPU))
		}
	}()
	require.Equal(t, start+10, LiveTensors())
	waitLive(t, start)
	require.Equal(t, nativeStart, NativeLiveTensors())
}

// Must2 is Must for the two-result ops.
func Must2(a, b *Tensor, err error) (*Tensor, *Tensor) {
	if err != nil {
		panic(err)
	}
	return a, b
}

// TestBackstopBatchesRaceWithFree: tensors are freed by their owners while other goroutines'
// creations and forced GCs attach the cleanup backstop to the same pending batch. Every handle
// is released exactly once (the counts return to the start; a double free would crash or
// drive them below it), under -race too.
func TestBackstopBatchesRaceWithFree(t *testing.T) {
	settle()
	start, nativeStart := LiveTensors(), NativeLiveTensors()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for k := 0; k < 3*guardBatch; k++ {
				x := Must(Zeros([]int64{2}, Float32, CPU))
				if k%3 == w%3 {
					continue // dropped without Free: left to the backstop
				}
				x.Free()
				x.Free() // idempotent
			}
		}(w)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := 0; k < 20; k++ {
			runtime.GC()
		}
	}()
	wg.Wait()
	waitLive(t, start)
	require.Equal(t, nativeStart, NativeLiveTensors())
}

// TestAbandonedScopeBackstop: a Scope dropped without Close leaks nothing. Once the Scope is
// unreachable, the tensors it owns get the cleanup backstop: the ones nobody holds are released
// after later GCs, and one still held stays valid until it is dropped or freed.
func TestAbandonedScopeBackstop(t *testing.T) {
	start, nativeStart := quiesce()
	var held *Tensor
	func() {
		s := NewScope()
		x := s.Track(Must(FromSlice([]float32{1, 2, 3})))
		for k := 0; k < 10; k++ {
			x = Must(x.AddScalar(1)) // each result joins s (adopted, no cleanup of its own)
		}
		held = x
		require.Equal(t, 11, s.Len())
	}()
	require.Equal(t, start+11, LiveTensors())
	waitLive(t, start+1)
	v, err := held.Float32s()
	require.NoError(t, err, "a tensor still in use survives its abandoned scope")
	require.Equal(t, []float32{11, 12, 13}, v)
	// Results of it do not join the abandoned scope; they get the backstop as usual.
	_ = Must(held.MulScalar(2))
	require.Equal(t, start+2, LiveTensors())
	held = nil
	waitLive(t, start)
	require.Equal(t, nativeStart, NativeLiveTensors())
}

// TestKeptTensorBackstop: a tensor taken out of its scope with Keep and then dropped without
// Free is released by the backstop (the scope no longer holds it after Close).
func TestKeptTensorBackstop(t *testing.T) {
	start, nativeStart := quiesce()
	func() {
		s := NewScope()
		defer s.Close()
		x := s.Track(Must(FromSlice([]float32{1, 2})))
		for k := 0; k < 5; k++ {
			s.Keep(Must(x.AddScalar(float64(k))))
		}
	}()
	require.Equal(t, start+5, LiveTensors(), "Close freed the tracked input, not the kept results")
	waitLive(t, start)
	require.Equal(t, nativeStart, NativeLiveTensors())
}

// TestScopeCloseBatchMixed: Close releases, in its one native call, adopted results, tracked
// tensors that already had the backstop, and skips the ones freed or kept meanwhile; every
// handle is released exactly once.
func TestScopeCloseBatchMixed(t *testing.T) {
	settle()
	start, nativeStart := LiveTensors(), NativeLiveTensors()
	var zero Scope // the zero Scope is usable
	s := &zero
	guardedOnes := make([]*Tensor, 0, guardBatch)
	for k := 0; k < guardBatch; k++ {
		guardedOnes = append(guardedOnes, Must(FromSlice([]float32{float32(k)})))
	}
	backstop.flush() // they get their runtime cleanup now
	for _, g := range guardedOnes {
		require.Equal(t, backGuarded, g.backing.Load())
		s.Track(g)
	}
	x := guardedOnes[0]
	var adopted []*Tensor
	for k := 0; k < 100; k++ {
		adopted = append(adopted, Must(x.AddScalar(float64(k))))
	}
	require.Equal(t, backScope, adopted[0].backing.Load())
	adopted[3].Free()
	guardedOnes[5].Free()
	kept := s.Keep(adopted[7])
	require.Equal(t, start+guardBatch+100-2, LiveTensors())
	s.Close()
	require.Equal(t, start+1, LiveTensors())
	require.Equal(t, nativeStart+1, NativeLiveTensors())
	for k, a := range adopted {
		require.Equal(t, k != 7, a.Freed(), "adopted[%d]", k)
	}
	for _, g := range guardedOnes {
		require.True(t, g.Freed())
	}
	kept.Free()
	require.Equal(t, start, LiveTensors())
	require.Equal(t, nativeStart, NativeLiveTensors())
}

// quiesce runs GCs until the cleanups of earlier tests' garbage have finished, and returns the
// live handle counts (Go, native) for a test to compare against.
func quiesce() (int64, int64) {
	for prev := int64(-1); prev != LiveTensors(); {
		prev = LiveTensors()
		settle()
	}
	return LiveTensors(), NativeLiveTensors()
}

// waitLive runs GCs until LiveTensors is want (10 s at most).
func waitLive(t *testing.T, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for LiveTensors() != want && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
	require.Equal(t, want, LiveTensors())
}
