package torch

/*
#include "hier_torch.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
)

// AdamWConfig holds torch.optim.AdamW's hyper-parameters. WeightDecay applies per ParamGroup.
type AdamWConfig struct {
	LR    float64 // learning rate
	Beta1 float64 // default 0.9
	Beta2 float64 // default 0.999
	Eps   float64 // default 1e-8
}

// AdamW is torch.optim.AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization",
// ICLR 2019), the single-tensor update of torch 1.13: p ← p·(1 − lr·wd); m ← β1·m + (1−β1)·g;
// v ← β2·v + (1−β2)·g²; p ← p − (lr/(1−β1^t))·m / (sqrt(v)/sqrt(1−β2^t) + eps). One native
// call updates all parameters. A contiguous float32/float64 CPU parameter is updated in one
// fused pass (those formulas per element, in that order), other parameters by the tensor ops of
// torch's loop; the two agree to float rounding (the tensor kernels may use FMA).
type AdamW struct {
	cfg      AdamWConfig
	params   []*Tensor
	decay    []float64
	expAvg   []*Tensor
	expAvgSq []*Tensor
	steps    []int64 // per parameter, as torch's state['step']
	calls    int64   // Step calls that succeeded
}

// NewAdamW makes an AdamW over the groups. Zero Beta1/Beta2/Eps take torch's defaults.
// Errors: no parameters, a nil or freed parameter, LR <= 0.
func NewAdamW(groups []ParamGroup, cfg AdamWConfig) (*AdamW, error) {
	if cfg.LR <= 0 {
		return nil, fmt.Errorf("torch: adamw: lr must be > 0, got %g", cfg.LR)
	}
	if cfg.Beta1 == 0 {
		cfg.Beta1 = 0.9
	}
	if cfg.Beta2 == 0 {
		cfg.Beta2 = 0.999
	}
	if cfg.Eps == 0 {
		cfg.Eps = 1e-8
	}
	ps, wd, err := flatten(groups)
	if err != nil {
		return nil, err
	}
	o := &AdamW{cfg: cfg, params: ps, decay: wd, steps: make([]int64, len(ps))}
	for _, p := range ps {
		m, err := ZerosLike(p)
		if err != nil {
			o.Free()
			return nil, err
		}
		v, err := ZerosLike(p)
		if err != nil {
			m.Free()
			o.Free()
			return nil, err
		}
		o.expAvg = append(o.expAvg, m)
		o.expAvgSq = append(o.expAvgSq, v)
	}
	return o, nil
}

// Step applies one update to every parameter with a gradient.
func (o *AdamW) Step() error {
	ps, err := handles(o.params)
	if err != nil {
		return err
	}
	ms, err := handles(o.expAvg)
	if err != nil {
		return err
	}
	vs, err := handles(o.expAvgSq)
	if err != nil {
		return err
	}
	// The shim increments the counts in place, only for parameters it updates; on an error the
	// previous counts are restored.
	saved := append([]int64(nil), o.steps...)
	err = check("adamw_step", C.ht_adamw_step(&ps[0], &ms[0], &vs[0], (*C.double)(&o.decay[0]), (*C.int64_t)(&o.steps[0]), C.int(len(ps)),
		C.double(o.cfg.LR), C.double(o.cfg.Beta1), C.double(o.cfg.Beta2), C.double(o.cfg.Eps)))
	runtime.KeepAlive(o)
	if err != nil {
		copy(o.steps, saved)
		return err
	}
	o.calls++
	return nil
}

// ZeroGrad drops all parameter gradients.
func (o *AdamW) ZeroGrad() error { return ZeroGrad(o.params, true) }

// LR is the current learning rate.
func (o *AdamW) LR() float64 { return o.cfg.LR }

// SetLR sets the learning rate for the next Step.
func (o *AdamW) SetLR(lr float64) { o.cfg.LR = lr }

// StepCount is the number of Step calls that succeeded.
func (o *AdamW) StepCount() int64 { return o.calls }

// Params is every parameter in group order.
func (o *AdamW) Params() []*Tensor { return o.params }

// State returns "exp_avg.<i>" and "exp_avg_sq.<i>" tensors (i = parameter position) and the
// scalars "step.<i>" (each parameter's step count), "step" (Step calls) and "lr". On error
// nothing is returned (and nothing leaks).
func (o *AdamW) State() (map[string]*Tensor, map[string]float64, error) {
	ts := map[string]*Tensor{}
	sc := map[string]float64{"step": float64(o.calls), "lr": o.cfg.LR}
	for i := range o.params {
		for name, t := range map[string]*Tensor{"exp_avg.": o.expAvg[i], "exp_avg_sq.": o.expAvgSq[i]} {
			sh, err := t.Share()
			if err != nil {
				for _, x := range ts {
					x.Free()
				}
				return nil, nil, err
			}
			ts[name+strconv.Itoa(i)] = sh
		}
		sc["step."+strconv.Itoa(i)] = float64(o.steps[i])
	}
	return ts, sc, nil
}

// LoadState restores State's output. Every tensor is checked (present, same shape) before
// anything is copied, so a bad state leaves the optimizer unchanged. State without per-parameter
// counts (only "step") gives every parameter that count.
func (o *AdamW) LoadState(ts map[string]*Tensor, scalars map[string]float64) error {
	type pair struct {
		name     string
		dst, src *Tensor
	}
	var pairs []pair
	for i := range o.params {
		for _, k := range []struct {
			name string
			dst  *Tensor
		}{{"exp_avg." + strconv.Itoa(i), o.expAvg[i]}, {"exp_avg_sq." + strconv.Itoa(i), o.expAvgSq[i]}} {
			src, ok := ts[k.name]
			if !ok {
				return fmt.Errorf("torch: adamw state: missing %q", k.name)
			}
			if !slices.Equal(src.Shape(), k.dst.Shape()) {
				return fmt.Errorf("torch: adamw state %q: shape %v, parameter has %v", k.name, src.Shape(), k.dst.Shape())
			}
			pairs = append(pairs, pair{k.name, k.dst, src})
		}
	}
	for _, p := range pairs {
		if err := p.dst.CopyFrom(p.src); err != nil {
			return fmt.Errorf("torch: adamw state %q: %w", p.name, err)
		}
	}
	if s, ok := scalars["step"]; ok {
		o.calls = int64(s)
	}
	for i := range o.steps {
		if s, ok := scalars["step."+strconv.Itoa(i)]; ok {
			o.steps[i] = int64(s)
		} else if s, ok := scalars["step"]; ok {
			o.steps[i] = int64(s)
		}
	}
	if lr, ok := scalars["lr"]; ok && lr > 0 {
		o.cfg.LR = lr
	}
	return nil
}

// Free releases the moment tensors.
func (o *AdamW) Free() {
	FreeAll(o.expAvg...)
	FreeAll(o.expAvgSq...)
}

// SGDConfig holds torch.optim.SGD's hyper-parameters. WeightDecay applies per ParamGroup.
type SGDConfig struct {
	LR        float64
	Momentum  float64
	Dampening float64
	Nesterov  bool
}

// SGD is torch.optim.SGD (with optional momentum, dampening and Nesterov momentum; weight decay
// is L2, added to the gradient, as in torch).
type SGD struct {
	cfg    SGDConfig
	params []*Tensor
	decay  []float64
	buf    []*Tensor
	steps  int64
}

// NewSGD makes an SGD over the groups. Errors: no parameters, LR <= 0, Nesterov without momentum.
func NewSGD(groups []ParamGroup, cfg SGDConfig) (*SGD, error) {
	if cfg.LR <= 0 {
		return nil, fmt.Errorf("torch: sgd: lr must be > 0, got %g", cfg.LR)
	}
	if cfg.Nesterov && (cfg.Momentum <= 0 || cfg.Dampening != 0) {
		return nil, fmt.Errorf("torch: sgd: nesterov needs momentum > 0 and zero dampening")
	}
	ps, wd, err := flatten(groups)
	if err != nil {
		return nil, err
	}
	o := &SGD{cfg: cfg, params: ps, decay: wd}
	if cfg.Momentum != 0 {
		for _, p := range ps {
			b, err := ZerosLike(p)
			if err != nil {
				o.Free()
				return nil, err
			}
			o.buf = append(o.buf, b)
		}
	}
	return o, nil
}

// Step applies one update.
func (o *SGD) Step() error {
	ps, err := handles(o.params)
	if err != nil {
		return err
	}
	var bp *C.ht_tensor
	if o.cfg.Momentum != 0 {
		bs, err := handles(o.buf)
		if err != nil {
			return err
		}
		bp = &bs[0]
	}
	err = check("sgd_step", C.ht_sgd_step(&ps[0], bp, (*C.double)(&o.decay[0]), C.int(len(ps)), C.double(o.cfg.LR),
		C.double(o.cfg.Momentum), C.double(o.cfg.Dampening), cBool(o.cfg.Nesterov), cBool(o.steps == 0)))
	runtime.KeepAlive(o)
	if err == nil {
		o.steps++
	}
	return err
}

// ZeroGrad drops all parameter gradients.
func (o *SGD) ZeroGrad() error { return ZeroGrad(o.params, true) }

// LR is the current learning rate.
func (o *SGD) LR() float64 { return o.cfg.LR }

// SetLR sets the learning rate for the next Step.
func (o *SGD) SetLR(lr float64) { o.cfg.LR = lr }

// Params is every parameter in group order.
func (o *SGD) Params() []*Tensor { return o.params }

// State returns "momentum_buffer.<i>" tensors and the scalars "step" and "lr".
func (o *SGD) State() (map[string]*Tensor, map[string]float64, error) {
	ts := map[string]*Tensor{}
	for i, b := range o.buf {
		s, err := b.Share()
		if err != nil {
			return nil, nil, err
		}
		ts["momentum_buffer."+strconv.Itoa(i)] = s
	}
	return ts, map[string]float64{"step": float64(o.steps), "lr": o.cfg.LR}, nil
}

// LoadState restores State's output.
func (o *SGD) LoadState(ts map[string]*Tensor, scalars map[string]float64) error {
	for i, b := range o.buf {
		k := "momentum_buffer." + strconv.Itoa(i)
		src, ok := ts[k]
		if !ok {
			return fmt.Errorf("torch: sgd state: missing %q", k)
		}
		if err := b.CopyFrom(src); err != nil {
			return fmt.Errorf("torch: sgd state %q: %w", k, err)
		}
	}
	if s, ok := scalars["step"]; ok {
		o.steps = int64(s)
	}
	if lr, ok := scalars["lr"]; ok && lr > 0 {
		o.cfg.LR = lr
	}
	return nil
}

// Free releases the momentum buffers.
func (o *SGD) Free() { FreeAll(o.buf...) }

var (
	_ Optimizer = (*AdamW)(nil)
	_ Optimizer = (*SGD)(nil)
)
