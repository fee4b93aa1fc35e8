package torch

/*
#include "hier_torch.h"
*/
import "C"

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/cpu"
)

// SetRequiresGrad turns autograd recording on or off for a leaf tensor (a parameter).
func (t *Tensor) SetRequiresGrad(on bool) error {
	h, err := t.h()
	if err != nil {
		return err
	}
	err = check("requires_grad_", C.ht_set_requires_grad(h, cBool(on)))
	runtime.KeepAlive(t)
	return err
}

// Backward accumulates d t / d leaf into every leaf's Grad. t must be a scalar (one element).
func (t *Tensor) Backward() error { return t.BackwardWith(nil, false) }

// BackwardWith is Backward with an explicit output gradient (shaped like t; nil for scalars) and
// retainGraph to allow a second backward through the same graph.
func (t *Tensor) BackwardWith(grad *Tensor, retainGraph bool) error {
	h, err := t.h()
	if err != nil {
		return err
	}
	hg, err := grad.optH()
	if err != nil {
		return err
	}
	err = check("backward", C.ht_backward(h, hg, cBool(retainGraph)))
	runtime.KeepAlive(t)
	runtime.KeepAlive(grad)
	return err
}

// Grad returns a new handle to t's accumulated gradient (same shape as t), or nil when none has
// been computed. The caller frees it; it shares storage with the gradient.
func (t *Tensor) Grad() (*Tensor, error) {
	h, err := t.h()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check("grad", C.ht_grad(h, &out))
	runtime.KeepAlive(t)
	if err != nil || out == nil {
		return nil, err
	}
	return newTensor(out, t), nil
}

// ZeroGrad clears the gradients of params: setToNone drops them (torch's default since 2.0),
// otherwise they are zeroed in place.
func ZeroGrad(params []*Tensor, setToNone bool) error {
	if len(params) == 0 {
		return nil
	}
	hs, err := handles(params)
	if err != nil {
		return err
	}
	err = check("zero_grad", C.ht_zero_grad(&hs[0], C.int(len(hs)), cBool(setToNone)))
	runtime.KeepAlive(params)
	return err
}

// GradEnabled reports whether autograd records operations on the calling OS thread. Goroutines
// move between threads, so the answer is only meaningful inside NoGrad or with the goroutine
// locked to its thread.
func GradEnabled() bool { return C.ht_is_grad_enabled() != 0 }

// NoGrad runs fn with autograd recording disabled (torch.no_grad). The goroutine is locked to
// its OS thread for the whole region, because libtorch's grad mode is thread-local; the previous
// mode is restored and the thread unlocked when fn returns or panics. Operations started by
// other goroutines inside fn are not covered.
func NoGrad(fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	prev := C.ht_set_grad_enabled(0)
	defer C.ht_set_grad_enabled(prev)
	return fn()
}

// Autocast runs fn with libtorch's autocast (automatic mixed precision, as torch.autocast) on
// for dev's device type: the operations the autocast policy lists as lower-precision-safe
// (matmul, linear, addmm, bmm, conv) cast their floating inputs to dtype and compute in it,
// those it lists as needing float32 (losses, softmax on some devices, norms) cast up, and the
// rest run in the widest dtype of their inputs. Parameters stay float32 (master weights); each
// is cast once per region (a cache cleared when the outermost region ends), and gradients flow
// back to float32. Run the forward pass and the loss inside, Backward outside, as PyTorch
// recommends. dtype is BFloat16 (CPU, CUDA) or Float16 (CUDA; CPU from libtorch 2.1). On a CPU
// without AVX512-BF16 or AMX instructions, bfloat16 matmuls are emulated and slower than
// float32 (CPUFastBF16 says which).
//
// Autocast state is per OS thread in libtorch, so Autocast pins the calling goroutine to its
// thread for the region, like NoGrad. Regions nest; the state before the call is restored on
// return. Errors: an unsupported dtype or device (from the shim), fn's error, and a failure to
// restore the state.
func Autocast(dev Device, dtype DType, fn func() error) (err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var prevOn, prevDT C.int
	if err := check("autocast", C.ht_autocast_enter(dev.code(), C.int(dtype), &prevOn, &prevDT)); err != nil {
		return err
	}
	defer func() {
		if e := check("autocast", C.ht_autocast_exit(dev.code(), prevOn, prevDT)); e != nil && err == nil {
			err = e
		}
	}()
	return fn()
}

// AutocastState reports whether autocast is on for dev's device type on the calling OS thread,
// and its lower-precision dtype. Only meaningful on a goroutine pinned to its thread (inside
// Autocast or after runtime.LockOSThread).
func AutocastState(dev Device) (on bool, dtype DType, err error) {
	var en, dt C.int
	if err := check("autocast_state", C.ht_autocast_state(dev.code(), &en, &dt)); err != nil {
		return false, 0, err
	}
	return en != 0, DType(dt), nil
}

// NoGradValue is NoGrad for a function returning a value.
func NoGradValue[T any](fn func() (T, error)) (T, error) {
	var v T
	err := NoGrad(func() error {
		var err error
		v, err = fn()
		return err
	})
	return v, err
}

// ParamGroup is a set of parameters sharing a weight decay (torch's param_groups).
type ParamGroup struct {
	Params      []*Tensor
	WeightDecay float64
}

// Optimizer is what the training loop needs from an optimizer.
type Optimizer interface {
	// Step updates every parameter that has a gradient.
	Step() error
	// ZeroGrad drops the gradients of all parameters.
	ZeroGrad() error
	// LR and SetLR read and set the learning rate (for schedules).
	LR() float64
	SetLR(lr float64)
	// Params is every parameter, in group order.
	Params() []*Tensor
	// State returns the optimizer state as named tensors plus scalar values, for checkpoints.
	// The tensors are new handles the caller frees.
	State() (map[string]*Tensor, map[string]float64, error)
	// LoadState restores what State returned (shapes must match).
	LoadState(tensors map[string]*Tensor, scalars map[string]float64) error
	// Free releases the optimizer's state tensors (not the parameters).
	Free()
}

func flatten(groups []ParamGroup) ([]*Tensor, []float64, error) {
	var ps []*Tensor
	var wd []float64
	for gi, g := range groups {
		for pi, p := range g.Params {
			if p == nil || p.Freed() {
				return nil, nil, fmt.Errorf("torch: optimizer: group %d parameter %d is nil or freed", gi, pi)
			}
			ps = append(ps, p)
			wd = append(wd, g.WeightDecay)
		}
	}
	if len(ps) == 0 {
		return nil, nil, fmt.Errorf("torch: optimizer: no parameters")
	}
	return ps, wd, nil
}

// ClipGradNorm scales the gradients of params so their global L2 norm is at most maxNorm
// (torch.nn.utils.clip_grad_norm_: coefficient maxNorm/(norm+1e-6), capped at 1). maxNorm <= 0
// only measures. It returns the total norm before clipping.
func ClipGradNorm(params []*Tensor, maxNorm float64) (float64, error) {
	if len(params) == 0 {
		return 0, nil
	}
	hs, err := handles(params)
	if err != nil {
		return 0, err
	}
	var total C.double
	err = check("clip_grad_norm_", C.ht_clip_grad_norm(&hs[0], C.int(len(hs)), C.double(maxNorm), &total))
	runtime.KeepAlive(params)
	return float64(total), err
}

// CPUFastBF16 reports whether this CPU has bfloat16 matrix instructions (AVX512-BF16 or AMX-BF16),
// with which libtorch's oneDNN kernels run bfloat16 matmuls natively; without them bfloat16 CPU
// autocast is emulated and usually slower than float32.
func CPUFastBF16() bool { return cpu.X86.HasAVX512BF16 || cpu.X86.HasAMXBF16 }
