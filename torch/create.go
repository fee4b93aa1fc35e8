package torch

/*
#include "hier_torch.h"
*/
import "C"

import "runtime"

// Full makes a tensor of the given shape filled with value.
func Full(shape []int64, value float64, dt DType, d Device) (*Tensor, error) {
	var out C.ht_tensor
	err := check("full", C.ht_full(cInt64s(shape), C.int(len(shape)), C.double(value), C.int(dt), d.code(), &out))
	return result(out, err)
}

// Zeros makes a zero-filled tensor.
func Zeros(shape []int64, dt DType, d Device) (*Tensor, error) { return Full(shape, 0, dt, d) }

// Ones makes a one-filled tensor.
func Ones(shape []int64, dt DType, d Device) (*Tensor, error) { return Full(shape, 1, dt, d) }

// ZerosLike makes zeros with t's shape, dtype and device. The result is not scoped.
func ZerosLike(t *Tensor) (*Tensor, error) {
	i, err := t.Info()
	if err != nil {
		return nil, err
	}
	return Zeros(i.Shape, i.DType, i.Device)
}

// Arange is the 1-D tensor [start, start+step, ...) below end (torch.arange).
func Arange(start, end, step float64, dt DType, d Device) (*Tensor, error) {
	var out C.ht_tensor
	err := check("arange", C.ht_arange(C.double(start), C.double(end), C.double(step), C.int(dt), d.code(), &out))
	return result(out, err)
}

func random(kind int, shape []int64, a, b float64, dt DType, d Device, g *Generator) (*Tensor, error) {
	var out C.ht_tensor
	err := check("random", C.ht_random(C.int(kind), cInt64s(shape), C.int(len(shape)), C.double(a), C.double(b), C.int(dt), d.code(), g.handle(), &out))
	return result(out, err)
}

// Randn draws from the standard normal N(0, 1). g may be nil (global generator, ManualSeed).
func Randn(shape []int64, dt DType, d Device, g *Generator) (*Tensor, error) {
	return random(0, shape, 0, 1, dt, d, g)
}

// Rand draws uniformly from [0, 1).
func Rand(shape []int64, dt DType, d Device, g *Generator) (*Tensor, error) {
	return random(1, shape, 0, 1, dt, d, g)
}

// Normal draws from N(mean, std²).
func Normal(shape []int64, mean, std float64, dt DType, d Device, g *Generator) (*Tensor, error) {
	return random(2, shape, mean, std, dt, d, g)
}

// Uniform draws uniformly from [lo, hi).
func Uniform(shape []int64, lo, hi float64, dt DType, d Device, g *Generator) (*Tensor, error) {
	return random(3, shape, lo, hi, dt, d, g)
}

func (t *Tensor) init(kind int, a, b float64, g *Generator) error {
	h, err := t.h()
	if err != nil {
		return err
	}
	err = check("init", C.ht_init_(h, C.int(kind), C.double(a), C.double(b), g.handle()))
	runtime.KeepAlive(t)
	return err
}

// InitNormal fills t in place from N(mean, std²) without recording autograd history.
func (t *Tensor) InitNormal(mean, std float64, g *Generator) error { return t.init(2, mean, std, g) }

// InitUniform fills t in place from U[lo, hi) without recording autograd history.
func (t *Tensor) InitUniform(lo, hi float64, g *Generator) error { return t.init(3, lo, hi, g) }

// Fill sets every element to v in place, without recording autograd history.
func (t *Tensor) Fill(v float64) error { return t.init(4, v, 0, nil) }

// Zero sets every element to 0 in place, without recording autograd history.
func (t *Tensor) Zero() error { return t.init(5, 0, 0, nil) }

// CopyFrom copies src's values into t in place (dtype/device converted), without recording
// autograd history, as when loading weights. Errors: shapes differ.
func (t *Tensor) CopyFrom(src *Tensor) error {
	h, err := t.h()
	if err != nil {
		return err
	}
	hs, err := src.h()
	if err != nil {
		return err
	}
	err = check("copy_", C.ht_copy_(h, hs))
	runtime.KeepAlive(t)
	runtime.KeepAlive(src)
	return err
}

// To returns t on device d with dtype dt. The result shares t when nothing changes, and is
// always a new handle.
func (t *Tensor) To(d Device, dt DType) (*Tensor, error) {
	h, err := t.h()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check("to", C.ht_to(h, d.code(), C.int(dt), &out))
	runtime.KeepAlive(t)
	return result(out, err, t)
}

// ToDType converts t to dtype dt on its current device.
func (t *Tensor) ToDType(dt DType) (*Tensor, error) {
	i, err := t.Info()
	if err != nil {
		return nil, err
	}
	return t.To(i.Device, dt)
}

// ToDevice moves t to device d, keeping its dtype.
func (t *Tensor) ToDevice(d Device) (*Tensor, error) {
	h, err := t.h()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check("to", C.ht_to(h, d.code(), -1, &out))
	runtime.KeepAlive(t)
	return result(out, err, t)
}
