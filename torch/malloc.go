package torch

/*
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

// ht_go_tune_malloc keeps freed large blocks in glibc's heap for reuse (see TuneMalloc). It
// returns 1 when the settings were applied.
static int ht_go_tune_malloc(void) {
#ifdef __GLIBC__
	int ok = mallopt(M_MMAP_MAX, 0);
	ok = mallopt(M_TRIM_THRESHOLD, 1 << 30) && ok;
	ok = mallopt(M_TOP_PAD, 64 << 20) && ok;
	return ok;
#else
	return 0;
#endif
}
*/
import "C"

import "os"

// MallocTuned reports whether glibc's malloc settings were changed at start-up
// (HIER_MALLOC=tuned; see TuneMalloc).
var MallocTuned = os.Getenv("HIER_MALLOC") == "tuned" && TuneMalloc()

// TuneMalloc makes glibc keep the memory of freed tensors for reuse instead of returning it to
// the kernel, for the rest of the process; it reports whether the settings were applied (false
// when the C library is not glibc). Setting HIER_MALLOC=tuned in the environment calls it at
// start-up.
//
// By default glibc serves every block above its mmap threshold (at most 32 MiB) with a fresh mmap
// and unmaps it on free, so a training step that allocates and frees the same large tensors
// page-faults and zero-fills them again at every step. TuneMalloc sets M_MMAP_MAX 0 (large blocks
// come from the heap), M_TRIM_THRESHOLD 1 GiB and M_TOP_PAD 64 MiB (free memory at the top of the
// heap is kept up to 1 GiB). It changes only the C heap that libtorch allocates from (Go's own
// memory is not malloc's). The trade-off, measured on a 2-core VM: a SASRec fit (small tensors,
// many steps) ran 1.9x faster in wall time (18.1 s vs 9.4 s, identical results, the same 265 MB
// peak RSS), but GPT-2 (a) training (hier/gpt2 BenchmarkGPT2Train*, 411 MB logits per step) peaked
// 1.4-1.6x higher in RSS (sequence classification 1540 vs 1085 MB, causal LM 3446 vs 2175 MB)
// because heap fragments are not returned, while pre-training the pipeline's small backbone ran
// 2.3x faster with it. So the library leaves glibc's defaults alone (a service that imports it
// keeps them) and the hier CLI turns the tuning on (HIER_MALLOC=system there keeps the defaults).
func TuneMalloc() bool {
	return C.ht_go_tune_malloc() == 1
}
