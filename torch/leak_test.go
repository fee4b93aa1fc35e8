package torch

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// settle runs the GC until the cleanup backstop has nothing left to do, so that handle counts
// and RSS measure what the code under test keeps, not garbage awaiting collection.
func settle() {
	for k := 0; k < 3; k++ {
		runtime.GC()
		time.Sleep(2 * time.Millisecond)
	}
}

// TestNoLeakCreateOpFree runs many create/op/free cycles; the live handle counts (Go and native)
// must return to their start values and the RSS must stay flat.
func TestNoLeakCreateOpFree(t *testing.T) {
	cycles := 100000
	if testing.Short() {
		cycles = 10000
	}
	data := []float32{1, 2, 3, 4, 5, 6, 7, 8}
	cycle := func() {
		a := Must(FromSlice(data, 2, 4))
		b := Must(a.MulScalar(2))
		c := Must(a.Add(b))
		d := Must(c.SumDims([]int64{1}, false))
		v := Must(d.Float32s())
		if v[0] != 30 || v[1] != 78 {
			panic("wrong result")
		}
		FreeAll(a, b, c, d)
	}
	for k := 0; k < 2000; k++ { // warm-up: allocator pools, Go heap
		cycle()
	}
	settle()
	live, native, rss := LiveTensors(), NativeLiveTensors(), rssBytes()
	for k := 0; k < cycles; k++ {
		cycle()
	}
	require.Equal(t, live, LiveTensors(), "Go-side live tensors")
	require.Equal(t, native, NativeLiveTensors(), "native live tensors")
	settle()
	growth := rssBytes() - rss
	t.Logf("%d cycles: RSS %d MB → growth %+.1f MB", cycles, rss>>20, float64(growth)/(1<<20))
	require.Less(t, growth, int64(50<<20), "RSS growth")
}

// TestNoLeakScopedTraining runs scoped training steps of a small MLP: per step a Scope owns the
// inputs and, by propagation, every intermediate; Close must release all of them.
func TestNoLeakScopedTraining(t *testing.T) {
	steps := 1000
	if testing.Short() {
		steps = 200
	}
	g, err := NewGenerator(11, CPU)
	require.NoError(t, err)
	defer g.Free()
	params := []*Tensor{
		Must(Randn([]int64{32, 16}, Float32, CPU, g)), Must(Zeros([]int64{32}, Float32, CPU)),
		Must(Randn([]int64{4, 32}, Float32, CPU, g)), Must(Zeros([]int64{4}, Float32, CPU)),
	}
	defer FreeAll(params...)
	for _, p := range params {
		require.NoError(t, p.SetRequiresGrad(true))
	}
	require.NoError(t, NoGrad(func() error {
		// Scale the initial weights down (in place, without history).
		for _, p := range []*Tensor{params[0], params[2]} {
			q := Must(p.MulScalar(0.2))
			if err := p.CopyFrom(q); err != nil {
				return err
			}
			q.Free()
		}
		return nil
	}))
	opt, err := NewAdamW([]ParamGroup{{Params: params[:2], WeightDecay: 0.01}, {Params: params[2:]}}, AdamWConfig{LR: 1e-2})
	require.NoError(t, err)
	defer opt.Free()
	xs := Must(Randn([]int64{64, 16}, Float32, CPU, g))
	defer xs.Free()
	ys := Must(FromSlice([]int64{0, 1, 2, 3, 3, 2, 1, 0}, 8))
	defer ys.Free()

	step := func(k int) float64 {
		s := NewScope()
		defer s.Close()
		x := s.Track(Must(xs.Narrow(0, int64(k%8)*8, 8)))
		h := Must(Must(Linear(x, params[0], params[1])).GeluTanh())
		h = Must(h.Dropout(0.1, true))
		logits := Must(Linear(h, params[2], params[3]))
		loss := Must(CrossEntropy(logits, ys, nil))
		require.NoError(t, loss.Backward())
		_, err := ClipGradNorm(params, 1.0)
		require.NoError(t, err)
		require.NoError(t, opt.Step())
		require.NoError(t, opt.ZeroGrad())
		return Must(loss.Item())
	}
	for k := 0; k < 50; k++ {
		step(k)
	}
	settle()
	live, native, rss := LiveTensors(), NativeLiveTensors(), rssBytes()
	first := 0.0
	for k := 0; k < 8; k++ {
		first += step(k) / 8
	}
	var last float64
	for k := 8; k < steps; k++ {
		l := step(k)
		if k >= steps-8 {
			last += l / 8
		}
		if k%100 == 0 {
			require.Equal(t, live, LiveTensors(), "live tensors after step %d", k)
		}
	}
	require.Equal(t, live, LiveTensors(), "Go-side live tensors")
	require.Equal(t, native, NativeLiveTensors(), "native live tensors")
	settle()
	growth := rssBytes() - rss
	t.Logf("%d steps: loss %.4f → %.4f, RSS growth %+.1f MB", steps, first, last, float64(growth)/(1<<20))
	require.Less(t, growth, int64(50<<20), "RSS growth")
	require.Less(t, last, first, "the MLP trains")
}
