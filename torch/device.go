package torch

/*
#include "hier_torch.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Device is where a tensor lives: the CPU, or a CUDA device by index.
type Device struct {
	CUDA  bool // false: CPU
	Index int  // CUDA device index (0 for the CPU)
}

// CPU is the host device.
var CPU = Device{}

// CUDA returns the CUDA device with index i.
func CUDA(i int) Device { return Device{CUDA: true, Index: i} }

func (d Device) String() string {
	if d.CUDA {
		return "cuda:" + strconv.Itoa(d.Index)
	}
	return "cpu"
}

func (d Device) code() C.int {
	if d.CUDA {
		return C.int(d.Index)
	}
	return -1
}

func deviceFromCode(c C.int) Device {
	if c < 0 {
		return CPU
	}
	return CUDA(int(c))
}

// CUDAAvailable reports whether this libtorch has CUDA support and a CUDA device is visible.
func CUDAAvailable() bool { return C.ht_cuda_is_available() != 0 }

// CUDADeviceCount is the number of visible CUDA devices (0 on a CPU-only libtorch).
func CUDADeviceCount() int { return int(C.ht_cuda_device_count()) }

// ErrDeviceUnavailable is wrapped by ParseDevice's error for a well-formed device that this
// machine or libtorch cannot provide (CUDA without a CUDA libtorch or device, an index past
// the visible devices), as opposed to a malformed name.
var ErrDeviceUnavailable = errors.New("device unavailable")

type unavailableError struct{ msg string }

func (e *unavailableError) Error() string        { return e.msg }
func (e *unavailableError) Is(target error) bool { return target == ErrDeviceUnavailable }

func unavailable(format string, args ...any) error {
	return &unavailableError{fmt.Sprintf(format, args...)}
}

// ParseDevice parses "cpu", "cuda", "cuda:N" or "auto" (cuda:0 when CUDA is available, else cpu).
// Asking for CUDA on a CPU-only libtorch, or for an index that is not visible, is an error that
// says so and wraps ErrDeviceUnavailable.
func ParseDevice(s string) (Device, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case s == "" || s == "auto":
		if CUDAAvailable() {
			return CUDA(0), nil
		}
		return CPU, nil
	case s == "cpu":
		return CPU, nil
	case s == "cuda" || strings.HasPrefix(s, "cuda:"):
		idx := 0
		if s != "cuda" {
			n, err := strconv.Atoi(strings.TrimPrefix(s, "cuda:"))
			if err != nil || n < 0 {
				return CPU, fmt.Errorf("torch: invalid device %q: want cuda:N with N >= 0", s)
			}
			idx = n
		}
		if !CUDAAvailable() {
			return CPU, unavailable("torch: device %q requested, but this libtorch (%s) has no CUDA support or no CUDA device is visible; use --device cpu or build the shim against a CUDA libtorch", s, LibtorchVersion())
		}
		if idx >= CUDADeviceCount() {
			return CPU, unavailable("torch: device %q requested, but only %d CUDA device(s) are visible", s, CUDADeviceCount())
		}
		return CUDA(idx), nil
	}
	return CPU, fmt.Errorf("torch: unknown device %q: want auto, cpu, cuda or cuda:N", s)
}

// Synchronize waits for all queued work on a CUDA device; a no-op on the CPU.
func Synchronize(d Device) error {
	if !d.CUDA {
		return nil
	}
	return check("cuda_synchronize", C.ht_cuda_synchronize(d.code()))
}

// CUDAMemoryStatsAvailable reports whether the shim was built with CUDA memory statistics
// (only against a CUDA libtorch; see HIER_CUDA_MEMSTATS in CMakeLists.txt).
func CUDAMemoryStatsAvailable() bool { return C.ht_cuda_memstats_available() != 0 }

// CUDAMaxMemoryAllocated is the peak number of bytes held by tensors on CUDA device d since the
// process started or since the last CUDAResetPeakMemoryStats, like
// torch.cuda.max_memory_allocated (the caching allocator's cached but free blocks do not count).
// It is an error on the CPU and when the shim has no CUDA memory statistics.
func CUDAMaxMemoryAllocated(d Device) (int64, error) {
	if !d.CUDA {
		return 0, fmt.Errorf("torch: CUDAMaxMemoryAllocated needs a CUDA device, got %s", d)
	}
	var n C.int64_t
	if err := check("cuda_max_memory_allocated", C.ht_cuda_max_memory_allocated(d.code(), &n)); err != nil {
		return 0, err
	}
	return int64(n), nil
}

// CUDAResetPeakMemoryStats starts a new peak for CUDAMaxMemoryAllocated on CUDA device d, like
// torch.cuda.reset_peak_memory_stats.
func CUDAResetPeakMemoryStats(d Device) error {
	if !d.CUDA {
		return fmt.Errorf("torch: CUDAResetPeakMemoryStats needs a CUDA device, got %s", d)
	}
	return check("cuda_reset_peak_memory_stats", C.ht_cuda_reset_peak_memory_stats(d.code()))
}

// Generator is a seeded random generator for creation ops (Randn, Rand, Normal, Uniform).
//
// A seed fixes the generator's integer stream (mt19937) on every machine, the same as PyTorch's
// for the same seed, so Rand draws the same values everywhere (k·2^-24 in float32, k·2^-53 in
// float64), and Uniform too when to − from is a power of two (the affine map is then exact).
// Randn and Normal transform the stream through log and cos/sin kernels chosen by CPU, so their
// last bits can differ between machines; on one machine, with the same libtorch and kernels, a
// seed repeats them bitwise.
type Generator struct {
	g C.ht_generator
}

// NewGenerator creates a generator on device d seeded with seed. Release it with Free.
func NewGenerator(seed uint64, d Device) (*Generator, error) {
	var g C.ht_generator
	if err := check("generator", C.ht_generator_new(C.uint64_t(seed), d.code(), &g)); err != nil {
		return nil, err
	}
	return &Generator{g: g}, nil
}

// Free releases the generator; it is idempotent.
func (g *Generator) Free() {
	if g != nil && g.g != nil {
		C.ht_generator_free(g.g)
		g.g = nil
	}
}

func (g *Generator) handle() C.ht_generator {
	if g == nil {
		return nil
	}
	return g.g
}
