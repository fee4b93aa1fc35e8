// Package torch is a thin Go API over libtorch, reached only through the project's own C shim,
// libhiertorch: its C API is hier_torch.h in this package's directory, its C++ sources are in the
// repository's cgo/ directory, and CMakeLists.txt builds it.
//
// Linking: the package links the shim through pkg-config (`#cgo pkg-config: hiertorch`), so a
// build needs pkg-config and a hiertorch.pc on its search path. Two exist:
//   - the installed one, PREFIX/lib/pkgconfig/hiertorch.pc (cmake --install build --prefix
//     PREFIX, or make install PREFIX=...): for a program that uses this module as a dependency,
//     vendored or not. pkg-config finds it by itself under /usr/local or /usr; for another prefix
//     set PKG_CONFIG_PATH=PREFIX/lib/pkgconfig. At run time the shim is found through the usual
//     library path (ldconfig, or LD_LIBRARY_PATH=PREFIX/lib); the binary has no rpath to it.
//   - the build tree's, build/pkgconfig/hiertorch.pc (written by cmake's configure step): for
//     work inside this checkout; it links build/libhiertorch.so with an rpath to it.
//     scripts/*.sh and the Makefile set PKG_CONFIG_PATH=$PWD/build/pkgconfig.
//
// Memory: every *Tensor owns one native handle. Free releases it deterministically (Free is
// idempotent); a Scope frees every intermediate of a step at once; a runtime cleanup is only a
// backstop, because Go's garbage collector cannot see native or GPU memory. LiveTensors reports
// how many handles are alive.
//
// Errors: every operation returns the error libtorch raised in that same call, as an *Error
// carrying libtorch's message. MustX variants panic and are meant for code whose shapes are
// already validated (a panic there is a programmer error); Recover turns such a panic back into
// an error at an API boundary.
//
// Grad mode is thread-local in libtorch. NoGrad pins the calling goroutine to its OS thread for
// the whole region, so goroutine migration cannot leak a disabled grad mode to other code.
//
// Threads: libtorch's OpenMP thread team and glibc's malloc arenas belong to the calling OS
// thread. A goroutine that runs a long sequence of operations (a training loop, a batch of
// inference) should stay on one OS thread with runtime.LockOSThread: on a 4-layer GPT-2 training
// step this measured 40% faster with 30% lower peak RSS than letting the goroutine migrate.
// hier/train.Fit and the pipeline's encoders and recommenders do this.
//
// Floating point: libtorch and OpenBLAS pick their float kernels by CPU (vector width, FMA), and
// glibc's libm picks FMA variants likewise. The same computation is bitwise repeatable on the same
// machine with the same libtorch and kernels; on another CPU it agrees only to float rounding.
// ATEN_CPU_CAPABILITY (default, avx2, avx512) and OPENBLAS_CORETYPE (e.g. Sandybridge, Haswell)
// force other kernels, which shows whether a result depends on them; scripts/test.sh runs the
// numeric tests a second time that way.
package torch

/*
#cgo pkg-config: hiertorch
#include <stdlib.h>
#include "hier_torch.h"
*/
import "C"

import (
	"fmt"
	"strconv"
	"strings"
	"unsafe"
)

// abiVersion must equal HT_ABI_VERSION in hier_torch.h and the shim's ht_abi_version().
const abiVersion = 3

// MinTorchVersion is the oldest libtorch the shim supports (checked by CMake and at start).
const MinTorchVersion = "1.13"

var startErr = checkStart()

func checkStart() error {
	if v := int(C.ht_abi_version()); v != abiVersion {
		return fmt.Errorf("torch: the libhiertorch.so loaded has ABI version %d, this Go package expects %d: it was built from another hier version; rebuild it (make shim) and, if it is an installed one, reinstall it (make install)", v, abiVersion)
	}
	v := LibtorchVersion()
	parts := strings.Split(v, ".")
	if len(parts) < 2 {
		return fmt.Errorf("torch: cannot parse libtorch version %q", v)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || major < 1 || (major == 1 && minor < 13) {
		return fmt.Errorf("torch: libtorch %s is too old; hier needs >= %s", v, MinTorchVersion)
	}
	return nil
}

// CheckRuntime reports whether the shim loaded at run time matches this Go package (ABI
// version) and was built against a supported libtorch (>= MinTorchVersion).
func CheckRuntime() error { return startErr }

// LibtorchVersion is the libtorch version the shim was compiled against, e.g. "1.13.0".
func LibtorchVersion() string { return C.GoString(C.ht_torch_version()) }

// Error is an error raised by libtorch (or by the shim's argument checks), with the operation
// that raised it.
type Error struct {
	Op  string // operation name, e.g. "matmul"
	Msg string // libtorch's message
}

func (e *Error) Error() string { return "torch: " + e.Op + ": " + e.Msg }

// check converts a shim error (which it frees) into a Go error.
func check(op string, e C.ht_err) error {
	if e == nil {
		return nil
	}
	msg := C.GoString(e)
	C.ht_err_free(e)
	return &Error{Op: op, Msg: strings.TrimSpace(msg)}
}

func cInt64s(v []int64) *C.int64_t {
	if len(v) == 0 {
		return nil
	}
	return (*C.int64_t)(unsafe.Pointer(&v[0]))
}

func cBool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// ManualSeed seeds libtorch's global generators (CPU and, when present, CUDA), like torch.manual_seed.
func ManualSeed(seed uint64) error { return check("manual_seed", C.ht_manual_seed(C.uint64_t(seed))) }

// SetNumThreads sets libtorch's intra-op thread count (at::set_num_threads). n must be >= 1.
func SetNumThreads(n int) error { return check("set_num_threads", C.ht_set_num_threads(C.int(n))) }

// NumThreads is libtorch's intra-op thread count.
func NumThreads() int { return int(C.ht_get_num_threads()) }

// NativeLiveTensors is the number of tensor handles alive in the shim (counted in C++). It
// equals LiveTensors unless handles were created outside the Go package.
func NativeLiveTensors() int64 { return int64(C.ht_live_tensors()) }
