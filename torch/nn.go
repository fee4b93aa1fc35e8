package torch

/*
#include "hier_torch.h"
*/
import "C"

import "runtime"

// Reduction selects how a loss combines per-element values. The zero value is ReduceMean,
// torch's default.
type Reduction int

// Loss reductions (torch's reduction="mean" | "sum" | "none").
const (
	ReduceMean Reduction = iota
	ReduceSum
	ReduceNone
)

// code is the shim's reduction code (0 none, 1 mean, 2 sum).
func (r Reduction) code() C.int {
	switch r {
	case ReduceMean:
		return 1
	case ReduceNone:
		return 0
	case ReduceSum:
		return 2
	}
	return -1 // rejected by the shim as an invalid reduction
}

// Linear is x·Wᵀ + b (torch.nn.functional.linear): x [..., in], weight [out, in] (nn.Linear
// layout), bias [out] or nil → [..., out].
func Linear(x, weight, bias *Tensor) (*Tensor, error) {
	hx, err := x.h()
	if err != nil {
		return nil, err
	}
	hw, err := weight.h()
	if err != nil {
		return nil, err
	}
	hb, err := bias.optH()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check("linear", C.ht_linear(hx, hw, hb, &out))
	runtime.KeepAlive(x)
	runtime.KeepAlive(weight)
	runtime.KeepAlive(bias)
	return result(out, err, x, weight, bias)
}

// LayerNorm normalises x over its trailing dims given by shape, then applies weight and bias
// (either may be nil): (x - mean) / sqrt(var + eps) · w + b with the biased variance (Ba et al.
// 2016; torch.nn.functional.layer_norm).
func LayerNorm(x *Tensor, shape []int64, weight, bias *Tensor, eps float64) (*Tensor, error) {
	hx, err := x.h()
	if err != nil {
		return nil, err
	}
	hw, err := weight.optH()
	if err != nil {
		return nil, err
	}
	hb, err := bias.optH()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check("layer_norm", C.ht_layer_norm(hx, cInt64s(shape), C.int(len(shape)), hw, hb, C.double(eps), &out))
	runtime.KeepAlive(x)
	runtime.KeepAlive(weight)
	runtime.KeepAlive(bias)
	return result(out, err, x, weight, bias)
}

func (t *Tensor) softmax(dim int64, log bool) (*Tensor, error) {
	h, err := t.h()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	name := "softmax"
	if log {
		name = "log_softmax"
	}
	err = check(name, C.ht_softmax(h, C.int64_t(dim), cBool(log), &out))
	runtime.KeepAlive(t)
	return result(out, err, t)
}

// Softmax is exp(t)/sum(exp(t)) along dim.
func (t *Tensor) Softmax(dim int64) (*Tensor, error) { return t.softmax(dim, false) }

// LogSoftmax is log(Softmax(t)) along dim, computed stably.
func (t *Tensor) LogSoftmax(dim int64) (*Tensor, error) { return t.softmax(dim, true) }

// Dropout zeroes elements with probability p and scales the rest by 1/(1-p) when train is true;
// it returns t unchanged (shared) when train is false. Randomness comes from the global generator.
func (t *Tensor) Dropout(p float64, train bool) (*Tensor, error) {
	h, err := t.h()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check("dropout", C.ht_dropout(h, C.double(p), cBool(train), &out))
	runtime.KeepAlive(t)
	return result(out, err, t)
}

// Embedding looks up rows of weight [num, dim] for int64 ids of any shape → [..., dim].
// paddingIdx >= 0 excludes that row from gradient updates; -1 for none. Errors: an id outside
// [0, num).
func Embedding(weight, ids *Tensor, paddingIdx int64) (*Tensor, error) {
	hw, err := weight.h()
	if err != nil {
		return nil, err
	}
	hi, err := ids.h()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check("embedding", C.ht_embedding(hw, hi, C.int64_t(paddingIdx), &out))
	runtime.KeepAlive(weight)
	runtime.KeepAlive(ids)
	return result(out, err, ids, weight)
}

// Normalize is x / max(‖x‖_p, eps) along dim (torch.nn.functional.normalize).
func (t *Tensor) Normalize(p float64, dim int64, eps float64) (*Tensor, error) {
	h, err := t.h()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check("normalize", C.ht_normalize(h, C.double(p), C.int64_t(dim), C.double(eps), &out))
	runtime.KeepAlive(t)
	return result(out, err, t)
}

// CrossEntropyOptions are torch.nn.functional.cross_entropy's options. The zero value means
// mean reduction, no class weights, ignore_index -100, no label smoothing.
type CrossEntropyOptions struct {
	Weight         *Tensor // [classes] or nil
	Reduction      Reduction
	IgnoreIndex    *int64 // nil means -100 (torch's default)
	LabelSmoothing float64
}

// CrossEntropy is the softmax cross-entropy of logits [batch, classes] (or [batch, classes, d...])
// against int64 class targets [batch] (targets equal to the ignore index are skipped and do not
// count in the mean). With opts nil: mean over non-ignored targets, ignore_index -100.
func CrossEntropy(logits, target *Tensor, opts *CrossEntropyOptions) (*Tensor, error) {
	o := CrossEntropyOptions{Reduction: ReduceMean}
	if opts != nil {
		o = *opts
	}
	ignore := int64(-100)
	if o.IgnoreIndex != nil {
		ignore = *o.IgnoreIndex
	}
	hl, err := logits.h()
	if err != nil {
		return nil, err
	}
	ht, err := target.h()
	if err != nil {
		return nil, err
	}
	hw, err := o.Weight.optH()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check("cross_entropy", C.ht_cross_entropy(hl, ht, hw, o.Reduction.code(), C.int64_t(ignore), C.double(o.LabelSmoothing), &out))
	runtime.KeepAlive(logits)
	runtime.KeepAlive(target)
	runtime.KeepAlive(o.Weight)
	return result(out, err, logits, target)
}

// MSELoss is the mean (or sum, or none) of (input - target)². Errors: shapes differ (no silent
// broadcasting).
func MSELoss(input, target *Tensor, r Reduction) (*Tensor, error) {
	hi, err := input.h()
	if err != nil {
		return nil, err
	}
	ht, err := target.h()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check("mse_loss", C.ht_mse_loss(hi, ht, r.code(), &out))
	runtime.KeepAlive(input)
	runtime.KeepAlive(target)
	return result(out, err, input, target)
}

// BCEWithLogits is the binary cross-entropy of sigmoid(input) against target in [0, 1], computed
// stably from logits; weight and posWeight may be nil.
func BCEWithLogits(input, target, weight, posWeight *Tensor, r Reduction) (*Tensor, error) {
	hi, err := input.h()
	if err != nil {
		return nil, err
	}
	ht, err := target.h()
	if err != nil {
		return nil, err
	}
	hw, err := weight.optH()
	if err != nil {
		return nil, err
	}
	hp, err := posWeight.optH()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check("binary_cross_entropy_with_logits", C.ht_bce_with_logits(hi, ht, hw, hp, r.code(), &out))
	runtime.KeepAlive(input)
	runtime.KeepAlive(target)
	runtime.KeepAlive(weight)
	runtime.KeepAlive(posWeight)
	return result(out, err, input, target)
}
