package torch

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseDevice(t *testing.T) {
	for _, s := range []string{"cpu", "CPU", " cpu "} {
		d, err := ParseDevice(s)
		require.NoError(t, err, s)
		require.Equal(t, CPU, d)
		require.False(t, d.CUDA)
	}
	auto, err := ParseDevice("auto")
	require.NoError(t, err)
	empty, err := ParseDevice("")
	require.NoError(t, err)
	require.Equal(t, auto, empty)

	if CUDAAvailable() {
		require.Equal(t, CUDA(0), auto)
		require.Greater(t, CUDADeviceCount(), 0)
		d, err := ParseDevice("cuda")
		require.NoError(t, err)
		require.Equal(t, CUDA(0), d)
		_, err = ParseDevice(fmt.Sprintf("cuda:%d", CUDADeviceCount()))
		require.ErrorContains(t, err, "visible", "an index past the visible devices")
	} else {
		require.Equal(t, CPU, auto, "auto is the CPU without CUDA")
		require.Equal(t, 0, CUDADeviceCount())
		for _, s := range []string{"cuda", "cuda:0", "cuda:1", "CUDA:1"} {
			_, err := ParseDevice(s)
			require.Error(t, err, s)
			require.Contains(t, err.Error(), "no CUDA", s)
			require.ErrorIs(t, err, ErrDeviceUnavailable, s)
			require.Contains(t, err.Error(), strings.ToLower(s), s)
		}
	}
	for _, s := range []string{"tpu", "gpu", "cuda:", "cuda:-1", "cuda:x", "cpu:0"} {
		_, err := ParseDevice(s)
		require.Error(t, err, s)
	}
	_, err = ParseDevice("tpu")
	require.ErrorContains(t, err, "unknown device")
	require.NotErrorIs(t, err, ErrDeviceUnavailable, "a malformed name is not an unavailable device")

	require.Equal(t, "cpu", CPU.String())
	require.Equal(t, "cuda:1", CUDA(1).String())
	require.NoError(t, Synchronize(CPU))
}

func TestCUDAUnavailableErrors(t *testing.T) {
	if CUDAAvailable() {
		t.Skip("CUDA is available")
	}
	c := newTC(t)
	x := c.F32([]float32{1, 2})
	_, err := x.ToDevice(CUDA(0))
	require.ErrorContains(t, err, "CUDA")
	_, err = x.To(CUDA(0), Float32)
	require.ErrorContains(t, err, "CUDA")
	_, err = Zeros([]int64{2}, Float32, CUDA(0))
	require.ErrorContains(t, err, "CUDA")
	_, err = FromBytes(make([]byte, 4), Float32, []int64{1}, CUDA(0))
	require.ErrorContains(t, err, "CUDA")
	_, err = NewGenerator(1, CUDA(0))
	require.ErrorContains(t, err, "CUDA")
	require.ErrorContains(t, Synchronize(CUDA(0)), "CUDA")
}

// TestCUDA runs only where a CUDA libtorch and device are present.
func TestCUDA(t *testing.T) {
	if !CUDAAvailable() {
		t.Skip("no CUDA device")
	}
	c := newTC(t)
	x := c.F32([]float32{1, 2, 3, 4}, 2, 2)
	g := c.T(x.ToDevice(CUDA(0)))
	require.Equal(t, CUDA(0), g.Device())
	y := c.T(g.MatMul(g))
	require.Equal(t, CUDA(0), y.Device())
	require.Equal(t, []float32{7, 10, 15, 22}, c.f32s(y), "ToSlice copies back from the device")
	require.NoError(t, Synchronize(CUDA(0)))
	back := c.T(y.ToDevice(CPU))
	require.Equal(t, CPU, back.Device())
	gen, err := NewGenerator(3, CUDA(0))
	require.NoError(t, err)
	defer gen.Free()
	r := c.T(Randn([]int64{4}, Float32, CUDA(0), gen))
	require.Equal(t, CUDA(0), r.Device())
}

// TestRuntimeInfo logs what this process runs on (go test -v shows it); with
// HIER_TEST_DEVICE=cuda it requires a visible CUDA device.
func TestRuntimeInfo(t *testing.T) {
	t.Logf("libtorch %s, CUDA available %v, %d CUDA device(s), CUDA memory statistics %v, %d intra-op threads",
		LibtorchVersion(), CUDAAvailable(), CUDADeviceCount(), CUDAMemoryStatsAvailable(), NumThreads())
	d := testDevice(t)
	if !d.CUDA {
		_, err := CUDAMaxMemoryAllocated(CPU)
		require.ErrorContains(t, err, "CUDA device")
		return
	}
	require.True(t, CUDAAvailable())
	c := newTC(t)
	x := c.T(Ones([]int64{1024, 1024}, Float32, d))
	require.NoError(t, Synchronize(d))
	if CUDAMemoryStatsAvailable() {
		n, err := CUDAMaxMemoryAllocated(d)
		require.NoError(t, err)
		require.GreaterOrEqual(t, n, int64(4<<20), "a live 4 MiB tensor counts toward the peak")
		require.NoError(t, CUDAResetPeakMemoryStats(d))
	} else {
		_, err := CUDAMaxMemoryAllocated(d)
		require.ErrorContains(t, err, "not available")
	}
	_ = x
}

func TestThreadsAndVersion(t *testing.T) {
	require.NoError(t, CheckRuntime())
	v := LibtorchVersion()
	require.Regexp(t, `^\d+\.\d+`, v)
	prev := NumThreads()
	require.GreaterOrEqual(t, prev, 1)
	defer func() { require.NoError(t, SetNumThreads(prev)) }()
	require.NoError(t, SetNumThreads(1))
	require.Equal(t, 1, NumThreads())
	require.Error(t, SetNumThreads(0))
	require.Equal(t, 1, NumThreads())
}

// TestSetNumThreadsAllThreads: libtorch's OpenMP backend keeps the thread count per OS thread,
// and goroutines run on many OS threads; SetNumThreads must reach all of them, including
// threads that already used libtorch before the call.
func TestSetNumThreadsAllThreads(t *testing.T) {
	prev := NumThreads()
	defer func() { require.NoError(t, SetNumThreads(prev)) }()
	want := prev + 1
	const n = 6
	var started, release sync.WaitGroup
	started.Add(n)
	release.Add(1)
	got := make([]int, n)
	var done sync.WaitGroup
	for i := 0; i < n; i++ {
		done.Add(1)
		go func() {
			defer done.Done()
			runtime.LockOSThread() // n distinct OS threads, held until the end
			defer runtime.UnlockOSThread()
			_ = NumThreads() // this thread has used libtorch before the change
			started.Done()
			release.Wait()
			got[i] = NumThreads()
		}()
	}
	started.Wait()
	require.NoError(t, SetNumThreads(want))
	release.Done()
	done.Wait()
	for i, g := range got {
		require.Equal(t, want, g, "thread %d", i)
	}
}
