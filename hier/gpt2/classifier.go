package gpt2

import (
	"fmt"

	"github.com/hier-ai/hier/torch"
)

// SequenceClassifier is HF's GPT2ForSequenceClassification: the backbone, and a `score` linear
// layer without bias, [num_labels, n_embd], read at each row's last non-padding token.
// num_labels == 1 is regression (MSE); num_labels > 1 with int64 labels is single-label
// classification (softmax cross-entropy); problem_type multi_label_classification uses
// BCE-with-logits on float labels.
type SequenceClassifier struct {
	Backbone *Model
	Score    *torch.Tensor // score.weight [num_labels, n_embd]
	// ClassWeights, when set, weights single-label cross-entropy per class ([num_labels], the
	// model's dtype; torch's `weight`: the mean is Σ w[y]·loss / Σ w[y]). nil is HF's unweighted loss.
	ClassWeights *torch.Tensor
}

// NewSequenceClassifier puts a fresh head (N(0, initializer_range), as HF initialises
// nn.Linear) on backbone, for config.NumLabels() labels.
func NewSequenceClassifier(backbone *Model, g *torch.Generator) (*SequenceClassifier, error) {
	c := backbone.Config
	n := c.NumLabels()
	if n < 1 {
		return nil, fmt.Errorf("gpt2: num_labels must be >= 1, got %d", n)
	}
	std := c.InitializerRange
	if std <= 0 {
		std = defaultInitializerRange
	}
	w, err := torch.Normal([]int64{int64(n), int64(c.NEmbd)}, 0, std, backbone.DType(), backbone.Device(), g)
	if err != nil {
		return nil, err
	}
	if err := w.SetRequiresGrad(true); err != nil {
		w.Free()
		return nil, err
	}
	return &SequenceClassifier{Backbone: backbone, Score: w}, nil
}

// Config is the backbone's config (it carries num_labels, id2label, problem_type, pad_token_id).
func (c *SequenceClassifier) Config() *Config { return c.Backbone.Config }

// NumLabels is the number of outputs of the head.
func (c *SequenceClassifier) NumLabels() int { return int(c.Score.Size(0)) }

// ProblemType resolves problem_type as HF does when it is unset: regression for one label,
// single-label classification otherwise.
func (c *SequenceClassifier) ProblemType() string {
	if pt := c.Config().ProblemType; pt != "" {
		return pt
	}
	if c.NumLabels() == 1 {
		return ProblemRegression
	}
	return ProblemSingleLabel
}

// Params lists the parameters with HF GPT2ForSequenceClassification names
// ("transformer.wte.weight", …, "score.weight").
func (c *SequenceClassifier) Params() []NamedParam {
	var ps []NamedParam
	for _, p := range c.Backbone.Params() {
		ps = append(ps, NamedParam{"transformer." + p.Name, p.Tensor})
	}
	return append(ps, NamedParam{"score.weight", c.Score})
}

// Train selects training or eval mode.
func (c *SequenceClassifier) Train(on bool) { c.Backbone.Train(on) }

// Free releases the backbone, the head and the class weights.
func (c *SequenceClassifier) Free() {
	c.Backbone.Free()
	c.Score.Free()
	c.ClassWeights.Free()
}

// PoolIndex returns, per row, the index of the last token that is not pad_token_id (int64
// [batch]), HF's rule (argmax of position·(id != pad)): the last real token with right padding
// and with left padding alike (never a count of real tokens, which is right only for right
// padding). Without a pad token only batch size 1 is allowed (the last position).
func (c *SequenceClassifier) PoolIndex(s *torch.Scope, inputIDs *torch.Tensor) (idx *torch.Tensor, err error) {
	shape := inputIDs.Shape()
	if len(shape) != 2 {
		return nil, fmt.Errorf("gpt2: input_ids must be [batch, seq], got %v", shape)
	}
	B, T := shape[0], shape[1]
	pad := c.Config().PadTokenID
	defer torch.Recover(&err)
	if pad == nil {
		if B != 1 {
			return nil, fmt.Errorf("gpt2: cannot pool a batch of %d sequences without a padding token: set pad_token_id in config.json (GPT-2 usually uses its eos token, 50256) or use batch size 1", B)
		}
		return s.Track(torch.Must(torch.Full([]int64{1}, float64(T-1), torch.Int64, inputIDs.Device()))), nil
	}
	ids := s.Track(torch.Must(inputIDs.Share()))
	positions := s.Track(torch.Must(torch.Arange(0, float64(T), 1, torch.Int64, inputIDs.Device())))
	notPad := ids.MustNeScalar(float64(*pad)).MustToDType(torch.Int64)
	return notPad.MustMul(positions).MustArgMax(-1, false), nil
}

// Pool gathers hidden [batch, seq, n_embd] at idx [batch] → [batch, n_embd].
func Pool(hidden, idx *torch.Tensor) (out *torch.Tensor, err error) {
	defer torch.Recover(&err)
	shape := hidden.Shape()
	B, C := shape[0], shape[2]
	gi := idx.MustView(B, 1, 1).MustExpand(B, 1, C)
	return hidden.MustGather(1, gi).MustSqueezeDim(1), nil
}

// MeanPool averages hidden [batch, seq, n_embd] over the positions where attentionMask
// [batch, seq] is 1 → [batch, n_embd], in hidden's dtype (sentence-transformers' mean pooling).
func MeanPool(hidden, attentionMask *torch.Tensor) (out *torch.Tensor, err error) {
	defer torch.Recover(&err)
	m := attentionMask.MustToDType(hidden.DType()).MustUnsqueeze(-1) // [B, T, 1]
	return hidden.MustMul(m).MustSumDims([]int64{1}, false).MustDiv(m.MustSumDims([]int64{1}, false)), nil
}

// Output is a forward pass's result. Every tensor is owned by the scope given to Forward.
type Output struct {
	Hidden *torch.Tensor // last_hidden_state [batch, seq, n_embd]
	Pooled *torch.Tensor // [batch, n_embd], the hidden state at each row's last non-pad token
	Logits *torch.Tensor // [batch, num_labels]
	Loss   *torch.Tensor // 0-dim; nil when no labels were given
}

// Forward runs the model on input_ids and attention_mask ([batch, seq], see Model.Forward) and,
// when labels is not nil, the loss for the problem type: int64 labels [batch] with values in
// [0, num_labels) for single-label classification; floating labels [batch] (or [batch, 1]) for
// regression; floating labels [batch, num_labels] for multi-label classification. A label
// dtype or shape that does not fit the problem type is an error (never a silent switch of loss).
func (c *SequenceClassifier) Forward(s *torch.Scope, inputIDs, attentionMask, labels *torch.Tensor) (out *Output, err error) {
	if _, _, err := c.Backbone.checkInputs(inputIDs, attentionMask); err != nil {
		return nil, err
	}
	if labels != nil {
		if err := c.checkLabels(inputIDs, labels); err != nil {
			return nil, err
		}
	}
	hidden, err := c.Backbone.Forward(s, inputIDs, attentionMask)
	if err != nil {
		return nil, err
	}
	idx, err := c.PoolIndex(s, inputIDs)
	if err != nil {
		return nil, err
	}
	defer torch.Recover(&err)
	pooled := torch.Must(Pool(hidden, idx))
	// HF applies score at every position and then pools; pooling first gives the same logits.
	logits := torch.Must(torch.Linear(pooled, c.Score, nil))
	out = &Output{Hidden: hidden, Pooled: pooled, Logits: logits}
	if labels != nil {
		out.Loss, err = c.Loss(s, logits, labels)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c *SequenceClassifier) checkLabels(inputIDs, labels *torch.Tensor) error {
	li, err := labels.Info()
	if err != nil {
		return fmt.Errorf("gpt2: labels: %w", err)
	}
	B := inputIDs.Size(0)
	n := int64(c.NumLabels())
	switch pt := c.ProblemType(); pt {
	case ProblemSingleLabel:
		if li.DType != torch.Int64 {
			return fmt.Errorf("gpt2: labels for %s must be int64 class ids, got %s (for regression use num_labels=1)", pt, li.DType)
		}
		if len(li.Shape) != 1 || li.Shape[0] != B {
			return fmt.Errorf("gpt2: labels for %s must have shape [%d], got %v", pt, B, li.Shape)
		}
		ids, err := labels.Int64s()
		if err != nil {
			return err
		}
		for i, v := range ids {
			if v < 0 || v >= n {
				return fmt.Errorf("gpt2: label %d at row %d is outside [0, %d) (num_labels=%d)", v, i, n, n)
			}
		}
	case ProblemRegression:
		if !li.DType.IsFloat() {
			return fmt.Errorf("gpt2: labels for regression must be floating point, got %s (for classification set num_labels > 1)", li.DType)
		}
		ok := (len(li.Shape) == 1 && li.Shape[0] == B) || (len(li.Shape) == 2 && li.Shape[0] == B && li.Shape[1] == n)
		if !ok {
			return fmt.Errorf("gpt2: labels for regression with num_labels=%d must have shape [%d] or [%d, %d], got %v", n, B, B, n, li.Shape)
		}
		if n != 1 && len(li.Shape) == 1 {
			return fmt.Errorf("gpt2: regression with num_labels=%d needs labels [%d, %d], got %v", n, B, n, li.Shape)
		}
	case ProblemMultiLabel:
		if !li.DType.IsFloat() {
			return fmt.Errorf("gpt2: labels for %s must be floating point 0/1 targets, got %s", pt, li.DType)
		}
		if len(li.Shape) != 2 || li.Shape[0] != B || li.Shape[1] != n {
			return fmt.Errorf("gpt2: labels for %s must have shape [%d, %d], got %v", pt, B, n, li.Shape)
		}
	}
	return nil
}

// Loss computes the loss of logits [batch, num_labels] against labels for the problem type:
// mean cross-entropy (single label), mean squared error of logits and labels (regression; with
// one label HF squeezes both to [batch]), or mean BCE-with-logits (multi-label). The loss and
// intermediates are owned by s. The regression and multi-label losses of float16/bfloat16
// logits (a half-precision model, or autocast) are computed in float32 against float32 targets,
// as autocast's policy does for mse_loss and BCE, so that targets are never rounded to 8 bits.
func (c *SequenceClassifier) Loss(s *torch.Scope, logits, labels *torch.Tensor) (loss *torch.Tensor, err error) {
	defer torch.Recover(&err)
	labels = s.Track(torch.Must(labels.Share()))
	if dt := logits.DType(); c.ProblemType() != ProblemSingleLabel && (dt == torch.BFloat16 || dt == torch.Float16) {
		logits = logits.MustToDType(torch.Float32)
	}
	switch c.ProblemType() {
	case ProblemRegression:
		target := labels.MustToDType(logits.DType())
		if c.NumLabels() == 1 {
			return torch.MSELoss(logits.MustView(-1), target.MustView(-1), torch.ReduceMean)
		}
		return torch.MSELoss(logits, target, torch.ReduceMean)
	case ProblemMultiLabel:
		return torch.BCEWithLogits(logits, labels.MustToDType(logits.DType()), nil, nil, torch.ReduceMean)
	default:
		return torch.CrossEntropy(logits, labels, &torch.CrossEntropyOptions{Weight: c.ClassWeights})
	}
}
