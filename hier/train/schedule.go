package train

import (
	"math"
	"strings"

	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/torch"
)

// LinearSchedule is the learning-rate multiplier of HF's get_linear_schedule_with_warmup for the
// optimizer step with 0-based index step, out of total steps with warmup warm-up steps:
//
//	step < warmup:  step / max(1, warmup)                       (0 at the first step)
//	otherwise:      max(0, (total - step) / max(1, total - warmup))
//
// The learning rate of that step is base_lr · LinearSchedule(step, warmup, total).
func LinearSchedule(step, warmup, total int) float64 {
	if step < warmup {
		return float64(step) / float64(max(1, warmup))
	}
	return math.Max(0, float64(total-step)/float64(max(1, total-warmup)))
}

// WarmupSteps resolves the number of warm-up steps: steps when > 0, else ceil(ratio · total)
// (HF's TrainingArguments.get_warmup_steps).
func WarmupSteps(steps int, ratio float64, total int) int {
	if steps > 0 {
		return steps
	}
	if ratio > 0 {
		return int(math.Ceil(ratio * float64(total)))
	}
	return 0
}

// NoDecay reports whether a parameter is exempt from weight decay by HF's convention: biases
// (names containing "bias", as in HF's get_decay_parameter_names) and LayerNorm weights (ln_1, ln_2, ln_f and any "*LayerNorm*" /
// "*layer_norm*" / "*norm.weight" parameter). Embeddings (wte, wpe), Conv1D weights and the
// classification head (score.weight) are decayed.
func NoDecay(name string) bool {
	if strings.Contains(name, "bias") {
		return true
	}
	base := name
	if i := strings.LastIndex(name, "."); i >= 0 {
		// the module path: "h.0.ln_1.weight" → "h.0.ln_1"
		base = name[:i]
	}
	mod := base
	if i := strings.LastIndex(base, "."); i >= 0 {
		mod = base[i+1:]
	}
	switch {
	case strings.HasPrefix(mod, "ln_"), mod == "ln", strings.Contains(strings.ToLower(mod), "layernorm"),
		strings.Contains(strings.ToLower(mod), "layer_norm"), strings.HasSuffix(strings.ToLower(mod), "norm"):
		return true
	}
	return false
}

// DecayGroups splits params into the two AdamW groups HF's Trainer builds: weight decay wd for
// every parameter NoDecay rejects, 0 for biases and LayerNorm weights. The decayed group comes
// first; within a group parameters keep their order (so optimizer state indices are stable for
// a given model). Empty groups are left out.
func DecayGroups(params []gpt2.NamedParam, wd float64) []torch.ParamGroup {
	var decay, noDecay []*torch.Tensor
	for _, p := range params {
		if NoDecay(p.Name) {
			noDecay = append(noDecay, p.Tensor)
		} else {
			decay = append(decay, p.Tensor)
		}
	}
	var groups []torch.ParamGroup
	if len(decay) > 0 {
		groups = append(groups, torch.ParamGroup{Params: decay, WeightDecay: wd})
	}
	if len(noDecay) > 0 {
		groups = append(groups, torch.ParamGroup{Params: noDecay, WeightDecay: 0})
	}
	return groups
}
