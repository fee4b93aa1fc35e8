package torch

/*
#include "hier_torch.h"
*/
import "C"

import (
	"fmt"
	"runtime"
)

// BenchNativeAdd measures libtorch's own cost of a + b: the shim calls at::add iters times in
// a C++ loop (after 100 warm-up calls), with no cgo crossing or Go allocation per call, and
// returns the nanoseconds per add. It is the baseline that BenchmarkTinyAdd (the same add
// through this package) and PyTorch eager's `a + b` (scripts/bench_torch.py) are compared with.
func BenchNativeAdd(a, b *Tensor, iters int64) (float64, error) {
	if iters < 1 {
		return 0, fmt.Errorf("torch: bench_native_add: iters must be >= 1, got %d", iters)
	}
	ha, err := a.h()
	if err != nil {
		return 0, err
	}
	hb, err := b.h()
	if err != nil {
		return 0, err
	}
	var ns C.double
	err = check("bench_native_add", C.ht_bench_native_add(ha, hb, C.int64_t(iters), &ns))
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	return float64(ns), err
}
