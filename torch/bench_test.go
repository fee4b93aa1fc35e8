package torch

// Benchmarks of the binding's own cost, compared with PyTorch eager by scripts/bench.sh:
//
//	BenchmarkTinyAdd        a 1-element float32 add through the Go API (result freed each time)
//	BenchmarkTinyAddScoped  the same add, its result owned by a Scope that is closed every
//	                        64 adds (how hier's own code frees intermediates, e.g. per GPT-2 block)
//	BenchmarkNativeAdd      the same add in a C++ loop inside the shim (libtorch's own cost, no cgo)
//	BenchmarkSgemm1024      a 1024×1024 float32 matmul, reported as GFLOP/s
//
// HIER_BENCH_THREADS sets libtorch's intra-op thread count (default 2).

import (
	"math"
	"os"
	"runtime"
	"strconv"
	"testing"
)

// benchSetup pins the benchmark goroutine to its OS thread and sets the intra-op thread count
// from HIER_BENCH_THREADS (default 2). It returns a function that undoes both.
func benchSetup(b *testing.B) func() {
	b.Helper()
	n := 2
	if s := os.Getenv("HIER_BENCH_THREADS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			b.Fatalf("HIER_BENCH_THREADS=%q: want a positive integer", s)
		}
		n = v
	}
	runtime.LockOSThread()
	prev := NumThreads()
	if err := SetNumThreads(n); err != nil {
		b.Fatal(err)
	}
	return func() {
		_ = SetNumThreads(prev)
		runtime.UnlockOSThread()
	}
}

func BenchmarkTinyAdd(b *testing.B) {
	defer benchSetup(b)()
	x := MustFromSlice([]float32{1})
	y := MustFromSlice([]float32{2})
	defer FreeAll(x, y)
	b.ReportAllocs()
	for b.Loop() {
		z, err := x.Add(y)
		if err != nil {
			b.Fatal(err)
		}
		z.Free()
	}
}

func BenchmarkTinyAddScoped(b *testing.B) {
	defer benchSetup(b)()
	x := MustFromSlice([]float32{1})
	y := MustFromSlice([]float32{2})
	defer FreeAll(x, y)
	const perScope = 64
	var s *Scope
	var xs *Tensor
	n := perScope
	b.ReportAllocs()
	for b.Loop() {
		if n == perScope { // a new scope, with x's handle in it, every perScope adds (cost included)
			if s != nil {
				s.Close()
			}
			s = NewScope()
			xs = s.Track(Must(x.Share()))
			n = 0
		}
		if _, err := xs.Add(y); err != nil { // the result joins s
			b.Fatal(err)
		}
		n++
	}
	s.Close()
}

func BenchmarkNativeAdd(b *testing.B) {
	defer benchSetup(b)()
	x := MustFromSlice([]float32{1})
	y := MustFromSlice([]float32{2})
	defer FreeAll(x, y)
	b.ResetTimer()
	ns, err := BenchNativeAdd(x, y, int64(b.N))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(ns, "ns/op") // the C++ loop's own timing, without the warm-up
}

func BenchmarkSgemm1024(b *testing.B) {
	defer benchSetup(b)()
	const n = 1024
	g, err := NewGenerator(1, CPU)
	if err != nil {
		b.Fatal(err)
	}
	defer g.Free()
	x := Must(Randn([]int64{n, n}, Float32, CPU, g))
	y := Must(Randn([]int64{n, n}, Float32, CPU, g))
	defer FreeAll(x, y)
	Must(x.MatMul(y)).Free() // warm-up
	iters := 0
	for b.Loop() {
		z, err := x.MatMul(y)
		if err != nil {
			b.Fatal(err)
		}
		z.Free()
		iters++
	}
	b.ReportMetric(2*n*n*n*float64(iters)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// TestBenchNativeAdd checks the helper itself (a benchmark is not run by go test). It makes no
// claim on speed, which depends on the machine and its load: BenchmarkNativeAdd measures that.
func TestBenchNativeAdd(t *testing.T) {
	c := newTC(t)
	x, y := c.F32([]float32{1}), c.F32([]float32{2})
	ns, err := BenchNativeAdd(x, y, 1000)
	if err != nil || !(ns > 0) || math.IsInf(ns, 0) {
		t.Fatalf("BenchNativeAdd = %v, %v; want a positive, finite time per add", ns, err)
	}
	if _, err := BenchNativeAdd(x, y, 0); err == nil {
		t.Fatal("iters 0 accepted")
	}
	_, err = BenchNativeAdd(x, c.F32([]float32{1, 2, 3}, 3, 1), 10)
	if err != nil {
		t.Fatalf("broadcasting add: %v", err)
	}
	_, err = BenchNativeAdd(x, c.F32([]float32{1, 2}), 10)
	if err != nil {
		t.Fatalf("broadcasting add: %v", err)
	}
	_, err = BenchNativeAdd(c.F32([]float32{1, 2}), c.F32([]float32{1, 2, 3}), 10)
	if err == nil {
		t.Fatal("mismatched shapes accepted")
	}
	x.Free()
	if _, err := BenchNativeAdd(x, y, 10); err != ErrFreed {
		t.Fatalf("freed tensor: %v", err)
	}
}
