package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/hier-ai/hier/hier/gpt2"
)

// BehaviorBaselineFile is the file beside the behaviour head's checkpoint (checkpoints/behavior)
// holding the user+item bias model whose residual the head predicts.
const BehaviorBaselineFile = "hier_bias.json"

// Keys of the behaviour head's config.json (gpt2.Config.Extra) that describe its target.
const (
	extraTarget     = "hier_target"          // what the head predicts (a sentence)
	extraColumn     = "hier_behavior_column" // the behaviour target, e.g. "rating"
	extraMean       = "hier_target_mean"     // μ of the bias model: the training mean of the target
	extraAlpha      = "hier_blend_alpha"     // the weight of the head's output
	extraBiasFile   = "hier_bias_file"       // BehaviorBaselineFile
	extraBiasLambdU = "hier_bias_lambda_u"
	extraBiasLambdI = "hier_bias_lambda_i"
)

// BehaviorBaseline is the bias model of the behaviour (H2) head, stored with its checkpoint so
// that the head's output (a residual) can be turned back into the target's units:
//
//	prediction = Mean + UserBias[user] + ItemBias[item] + Alpha · head output
//
// Users and items unknown to the bias model (or not given) contribute 0.
type BehaviorBaseline struct {
	SchemaVersion int `json:"schema_version"`
	// Target is the behaviour column ("rating" by default): the unit of predictions.
	Target  string  `json:"target"`
	Mean    float64 `json:"mean"` // the training mean of the target
	Alpha   float64 `json:"alpha"`
	LambdaU float64 `json:"lambda_u"`
	LambdaI float64 `json:"lambda_i"`
	// UserBias and ItemBias are b_u and b_i by user and item id (training split).
	UserBias map[string]float64 `json:"user_bias,omitempty"`
	ItemBias map[string]float64 `json:"item_bias,omitempty"`
}

// behaviorBaselineVersion is BehaviorBaseline.SchemaVersion.
const behaviorBaselineVersion = 1

// behaviorBaseline is h's bias model with the split's ids.
func behaviorBaseline(o *Options, p *prepared, h *headsOut) *BehaviorBaseline {
	b := &BehaviorBaseline{SchemaVersion: behaviorBaselineVersion, Target: o.BehaviorColumn, Mean: h.bias.Mean(), Alpha: h.alpha,
		LambdaU: h.biasSel.Config.LambdaU, LambdaI: h.biasSel.Config.LambdaI,
		UserBias: make(map[string]float64, len(p.sd.UserIDs)), ItemBias: make(map[string]float64, len(p.sd.ItemIDs))}
	for u, id := range p.sd.UserIDs {
		b.UserBias[id] = h.bias.UserBias(u)
	}
	for i, id := range p.sd.ItemIDs {
		b.ItemBias[id] = h.bias.ItemBias(i)
	}
	return b
}

// BehaviorTarget is what a checkpoint's config.json says about its behaviour target.
type BehaviorTarget struct {
	// Unit is the behaviour column the head was trained on, e.g. "rating".
	Unit string
	// HasBaseline reports whether the checkpoint stores the bias model's mean (and so can give
	// predictions in Unit); checkpoints written before it did hold only the residual.
	HasBaseline bool
	Mean, Alpha float64
	// Dir is the checkpoint directory.
	Dir string
}

// ReadBehaviorTarget reads the behaviour-target keys of a checkpoint's config: ok is false for a
// checkpoint that is not a hier behaviour head (no hier_target key).
func ReadBehaviorTarget(dir string, cfg *gpt2.Config) (t BehaviorTarget, ok bool, err error) {
	ex := cfg.Extra
	if _, has := ex[extraTarget]; !has {
		return t, false, nil
	}
	t.Dir, t.Unit, t.Alpha = dir, "target", 1
	if raw, has := ex[extraColumn]; has {
		if err := json.Unmarshal(raw, &t.Unit); err != nil {
			return t, true, fmt.Errorf("%s: %s is not a string: %w", filepath.Join(dir, gpt2.ConfigFile), extraColumn, err)
		}
	}
	num := func(key string) (float64, bool, error) {
		raw, has := ex[key]
		if !has {
			return 0, false, nil
		}
		v, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, true, fmt.Errorf("%s: %s is %s, want a finite number", filepath.Join(dir, gpt2.ConfigFile), key, raw)
		}
		return v, true, nil
	}
	if t.Alpha, _, err = num(extraAlpha); err != nil {
		return t, true, err
	}
	if _, has := ex[extraAlpha]; !has {
		t.Alpha = 1
	}
	if t.Mean, t.HasBaseline, err = num(extraMean); err != nil {
		return t, true, err
	}
	return t, true, nil
}

// Baseline is the bias model's prediction for user and item (either may be ""), and a
// description of it. Without a user and an item it is the training mean; with them it needs the
// checkpoint's BehaviorBaselineFile, and an id the bias model does not know is an error.
func (t BehaviorTarget) Baseline(user, item string) (value float64, kind string, err error) {
	if !t.HasBaseline {
		return 0, "", errors.New("the checkpoint does not store its baseline")
	}
	if user == "" && item == "" {
		return t.Mean, "training mean of " + t.Unit + " (give --user and --item for the user+item bias model)", nil
	}
	path := filepath.Join(t.Dir, BehaviorBaselineFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, "", fmt.Errorf("the user+item bias model: %w", err)
	}
	var b BehaviorBaseline
	if err := json.Unmarshal(raw, &b); err != nil {
		return 0, "", fmt.Errorf("%s: %w", path, err)
	}
	if b.SchemaVersion != behaviorBaselineVersion {
		return 0, "", fmt.Errorf("%s has schema_version %d; this hier reads %d", path, b.SchemaVersion, behaviorBaselineVersion)
	}
	value, kind = b.Mean, "training mean"
	if user != "" {
		bu, ok := b.UserBias[user]
		if !ok {
			return 0, "", fmt.Errorf("%s: unknown user %q (the bias model has %d users)", path, user, len(b.UserBias))
		}
		value += bu
		kind += fmt.Sprintf(" + bias of user %s", user)
	}
	if item != "" {
		bi, ok := b.ItemBias[item]
		if !ok {
			return 0, "", fmt.Errorf("%s: unknown item %q (the bias model has %d items)", path, item, len(b.ItemBias))
		}
		value += bi
		kind += fmt.Sprintf(" + bias of item %s", item)
	}
	return value, kind + " (user+item bias model of " + b.Target + ")", nil
}
