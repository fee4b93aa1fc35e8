package train

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/hier-ai/hier/hier/eval"
	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/torch"
)

// Task is what Fit needs from a model and its objective. A task with several heads sharing a
// backbone implements it by listing the parameters of the backbone and every head (with unique
// names), routing each batch (Batch.Examples[i].Head) inside Loss and Evaluator.Add, and
// prefixing its metric names (e.g. "sentiment/accuracy").
type Task interface {
	// Params lists every trainable parameter with a unique name. The names select weight decay
	// (DecayGroups) and key the parameters in checkpoints: the model.safetensors written by Save
	// must hold every one of them under that name, so LoadParams can restore them on resume. The
	// order must be the same every time (it indexes the optimizer state).
	Params() []gpt2.NamedParam
	// Train selects training mode (dropout on) or evaluation mode.
	Train(on bool)
	// PadID is the token id used to pad rows on the right.
	PadID() int64
	// Loss returns the mean loss of the batch (a 0-dim tensor owned by s, differentiable with
	// respect to Params) and the count it averages over (examples, or predicted tokens for a
	// language model), which weights the batch in gradient accumulation and in loss averages.
	Loss(s *torch.Scope, b *Batch) (loss *torch.Tensor, weight float64, err error)
	// NewEvaluator starts an evaluation pass.
	NewEvaluator() Evaluator
	// Save writes the model to dir (creating or replacing it), e.g. as an HF checkpoint.
	Save(dir string) error
}

// Evaluator accumulates predictions over the batches of an evaluation pass. Fit calls Add under
// torch.NoGrad with the task in evaluation mode.
type Evaluator interface {
	// Add scores one batch. Tensors it creates must be owned by s (closed after Add returns).
	Add(s *torch.Scope, b *Batch) error
	// Metrics summarises the pass. Values must include "loss", the weighted mean loss.
	Metrics() Metrics
}

// DataChecker is implemented by tasks that can reject unusable examples before training starts
// (token ids outside the vocabulary, labels outside the classes, sequences too short).
type DataChecker interface {
	CheckData(d Dataset) error
}

// Metrics is the result of an evaluation pass.
type Metrics struct {
	// Values maps metric names to values: "loss" always; "perplexity" (LM); "accuracy",
	// "macro_f1", "macro_precision", "macro_recall", "weighted_f1", "weighted_precision",
	// "weighted_recall" (classification); "mse", "rmse", "mae" (regression).
	Values map[string]float64 `json:"values"`
	// Report is a human-readable report (for classification, sklearn's classification_report
	// table); may be empty.
	Report string `json:"report,omitempty"`
	// Detail is the task's structured result: an eval.Report for classification, an
	// eval.Regression for regression, nil for a language model. Epochs restored from a
	// checkpoint have no Detail.
	Detail any `json:"detail,omitempty"`
}

// String formats the values as "name=value" pairs in sorted order.
func (m Metrics) String() string {
	var parts []string
	for _, k := range sortedKeys(m.Values) {
		parts = append(parts, fmt.Sprintf("%s=%.6g", k, m.Values[k]))
	}
	return strings.Join(parts, " ")
}

// LowerIsBetter reports whether smaller values of a metric are better: losses, perplexity and
// error metrics ("loss", "perplexity", "ppl", "mse", "rmse", "mae", "error"), also as the suffix
// of a longer name ("eval_loss") or after a task prefix ("sentiment/loss"). Every other metric
// (accuracy, F1, precision, recall, …) is higher-is-better.
func LowerIsBetter(metric string) bool {
	m := strings.ToLower(metric)
	if i := strings.LastIndex(m, "/"); i >= 0 {
		m = m[i+1:]
	}
	for _, suffix := range []string{"loss", "perplexity", "ppl", "mse", "rmse", "mae", "error"} {
		if m == suffix || strings.HasSuffix(m, "_"+suffix) {
			return true
		}
	}
	return false
}

// weightedLoss accumulates a weighted mean loss.
type weightedLoss struct{ sum, weight float64 }

func (w *weightedLoss) add(loss, weight float64) { w.sum += loss * weight; w.weight += weight }
func (w *weightedLoss) mean() float64 {
	if w.weight == 0 {
		return math.NaN()
	}
	return w.sum / w.weight
}

// trainingMode is implemented by tasks that can report their mode; Evaluate restores it.
type trainingMode interface{ Training() bool }

func checkIDs(d Dataset, vocab int) error {
	for i, e := range d {
		if len(e.InputIDs) == 0 {
			return fmt.Errorf("train: example %d has no tokens", i)
		}
		for j, id := range e.InputIDs {
			if id < 0 || id >= int64(vocab) {
				return fmt.Errorf("train: example %d token %d: id %d outside the vocabulary [0, %d)", i, j, id, vocab)
			}
		}
	}
	return nil
}

// LMTask is causal-language-model training of a GPT-2 backbone with its tied LM head
// (GPT2LMHeadModel), from scratch or continued. The loss is the mean next-token cross-entropy
// over the predicted (non-padding) tokens of a batch, weighted by their number.
type LMTask struct {
	Model *gpt2.Model
	// Tokenizer, when set, is saved with the model.
	Tokenizer *gpt2.Tokenizer
	// Vocab, when set, restricts the LM head's softmax to these token ids: strictly ascending,
	// inside the vocabulary, and containing every id that is a target (every token but the
	// first of each example; CorpusVocab of the training and validation sets gives one). The
	// loss (training and the evaluator's "loss" and "perplexity") is then the exact
	// cross-entropy of the softmax over that subset (gpt2.Model.LMLossRestricted), which is no
	// larger than the full-vocabulary loss. It is a speed device for pre-training from scratch:
	// a corpus of ~1M tokens uses a few 10k of GPT-2's 50257 ids, and the output layer is most
	// of a small model's compute. The model and the saved checkpoint stay full-vocabulary.
	Vocab []int64
}

// Params lists the backbone's parameters with the "transformer." prefix that SaveLM writes.
func (t *LMTask) Params() []gpt2.NamedParam {
	var ps []gpt2.NamedParam
	for _, p := range t.Model.Params() {
		ps = append(ps, gpt2.NamedParam{Name: "transformer." + p.Name, Tensor: p.Tensor})
	}
	return ps
}

// Train selects training or evaluation mode.
func (t *LMTask) Train(on bool) { t.Model.Train(on) }

// Training reports whether the model is in training mode.
func (t *LMTask) Training() bool { return t.Model.Training() }

// PadID is pad_token_id, else eos_token_id, else 0 (padding is masked out of the loss, so any
// id in the vocabulary works).
func (t *LMTask) PadID() int64 {
	c := t.Model.Config
	if c.PadTokenID != nil {
		return *c.PadTokenID
	}
	if c.EosTokenID != nil && *c.EosTokenID < int64(c.VocabSize) {
		return *c.EosTokenID
	}
	return 0
}

// CheckData requires at least 2 tokens per example and ids inside the vocabulary; with Vocab,
// a valid Vocab that holds every target (every token but the first of each example).
func (t *LMTask) CheckData(d Dataset) error {
	for i, e := range d {
		if len(e.InputIDs) < 2 {
			return fmt.Errorf("train: lm: example %d has %d tokens; causal-LM training needs at least 2", i, len(e.InputIDs))
		}
	}
	if err := checkIDs(d, t.Model.Config.VocabSize); err != nil {
		return err
	}
	if t.Vocab == nil {
		return nil
	}
	if err := gpt2.CheckVocabSubset(t.Vocab, t.Model.Config.VocabSize); err != nil {
		return fmt.Errorf("train: lm: %w", err)
	}
	for i, e := range d {
		for j, id := range e.InputIDs[1:] {
			if _, ok := slices.BinarySearch(t.Vocab, id); !ok {
				return fmt.Errorf("train: lm: example %d token %d: id %d is a target outside the restricted vocabulary (LMTask.Vocab, %d ids)", i, j+1, id, len(t.Vocab))
			}
		}
	}
	return nil
}

// Loss is gpt2.Model.LMLoss, or gpt2.Model.LMLossRestricted when Vocab is set; the weight is
// the number of predicted tokens.
func (t *LMTask) Loss(s *torch.Scope, b *Batch) (*torch.Tensor, float64, error) {
	var loss *torch.Tensor
	var n int64
	var err error
	if t.Vocab != nil {
		loss, n, err = t.Model.LMLossRestricted(s, b.InputIDs, b.AttentionMask, t.Vocab)
	} else {
		loss, n, err = t.Model.LMLoss(s, b.InputIDs, b.AttentionMask)
	}
	if err != nil {
		return nil, 0, err
	}
	return loss, float64(n), nil
}

// NewEvaluator returns an evaluator of "loss" (mean cross-entropy per predicted token, in nats),
// "perplexity" (exp(loss)) and "tokens" (predicted tokens).
func (t *LMTask) NewEvaluator() Evaluator { return &lmEvaluator{task: t} }

// Save writes an HF GPT2LMHeadModel checkpoint (Model.SaveLM).
func (t *LMTask) Save(dir string) error { return t.Model.SaveLM(dir, t.Tokenizer) }

type lmEvaluator struct {
	task *LMTask
	loss weightedLoss
}

func (e *lmEvaluator) Add(s *torch.Scope, b *Batch) error {
	loss, w, err := e.task.Loss(s, b)
	if err != nil {
		return err
	}
	if w == 0 {
		return nil
	}
	v, err := loss.Item()
	if err != nil {
		return err
	}
	e.loss.add(v, w)
	return nil
}

func (e *lmEvaluator) Metrics() Metrics {
	l := e.loss.mean()
	return Metrics{Values: map[string]float64{"loss": l, "perplexity": math.Exp(l), "tokens": e.loss.weight},
		Report: fmt.Sprintf("loss %.4f  perplexity %.3f  (%d tokens)", l, math.Exp(l), int64(e.loss.weight))}
}

// ClassificationTask is single-label sequence classification with a GPT-2 sequence classifier
// (GPT2ForSequenceClassification, num_labels ≥ 2): softmax cross-entropy on Example.Label.
// The model's config must set pad_token_id (rows are padded with it and pooled at their last
// non-pad token).
type ClassificationTask struct {
	Model *gpt2.SequenceClassifier
	// Labels names the classes (index = class id); nil uses the config's id2label.
	Labels []string
	// Tokenizer, when set, is saved with the model.
	Tokenizer *gpt2.Tokenizer
}

// Params lists the classifier's parameters with HF names ("transformer.*", "score.weight").
func (t *ClassificationTask) Params() []gpt2.NamedParam { return t.Model.Params() }

// Train selects training or evaluation mode.
func (t *ClassificationTask) Train(on bool) { t.Model.Train(on) }

// Training reports whether the model is in training mode.
func (t *ClassificationTask) Training() bool { return t.Model.Backbone.Training() }

// PadID is the config's pad_token_id (0 when unset; CheckData rejects that case).
func (t *ClassificationTask) PadID() int64 { return padOf(t.Model) }

func padOf(m *gpt2.SequenceClassifier) int64 {
	if p := m.Config().PadTokenID; p != nil {
		return *p
	}
	return 0
}

func (t *ClassificationTask) labels() []string {
	if len(t.Labels) > 0 {
		return t.Labels
	}
	return t.Model.Config().Labels()
}

// CheckData requires pad_token_id, labels in [0, num_labels) and ids inside the vocabulary.
func (t *ClassificationTask) CheckData(d Dataset) error {
	if t.Model.Config().PadTokenID == nil {
		return errors.New("train: classification: the model config has no pad_token_id; set it (GPT-2 usually uses its eos token) so batches can be padded and pooled")
	}
	if pt := t.Model.ProblemType(); pt != gpt2.ProblemSingleLabel {
		return fmt.Errorf("train: classification: model problem type is %s, want %s", pt, gpt2.ProblemSingleLabel)
	}
	n := t.Model.NumLabels()
	if l := len(t.labels()); l != n {
		return fmt.Errorf("train: classification: %d label names for a head with %d outputs", l, n)
	}
	for i, e := range d {
		if e.Label < 0 || e.Label >= int64(n) {
			return fmt.Errorf("train: classification: example %d has label %d outside [0, %d)", i, e.Label, n)
		}
	}
	return checkIDs(d, t.Model.Config().VocabSize)
}

// Loss is the mean cross-entropy of the batch; the weight is the number of examples.
func (t *ClassificationTask) Loss(s *torch.Scope, b *Batch) (*torch.Tensor, float64, error) {
	out, err := t.Model.Forward(s, b.InputIDs, b.AttentionMask, b.Labels)
	if err != nil {
		return nil, 0, err
	}
	return out.Loss, float64(b.Size()), nil
}

// NewEvaluator returns an evaluator of "loss" and the classification report (eval.Report in
// Metrics.Detail): "accuracy", "macro_precision", "macro_recall", "macro_f1",
// "weighted_precision", "weighted_recall", "weighted_f1".
func (t *ClassificationTask) NewEvaluator() Evaluator { return &clsEvaluator{task: t} }

// Save writes an HF GPT2ForSequenceClassification checkpoint (SequenceClassifier.Save).
func (t *ClassificationTask) Save(dir string) error { return t.Model.Save(dir, t.Tokenizer) }

type clsEvaluator struct {
	task        *ClassificationTask
	loss        weightedLoss
	yTrue, yHat []int
}

func (e *clsEvaluator) Add(s *torch.Scope, b *Batch) (err error) {
	out, err := e.task.Model.Forward(s, b.InputIDs, b.AttentionMask, b.Labels)
	if err != nil {
		return err
	}
	defer torch.Recover(&err)
	e.loss.add(out.Loss.MustItem(), float64(b.Size()))
	pred := torch.Must(out.Logits.MustArgMax(-1, false).Int64s())
	for i, ex := range b.Examples {
		e.yTrue = append(e.yTrue, int(ex.Label))
		e.yHat = append(e.yHat, int(pred[i]))
	}
	return nil
}

func (e *clsEvaluator) Metrics() Metrics {
	r := eval.ClassificationReport(e.yTrue, e.yHat, e.task.labels())
	return Metrics{
		Values: map[string]float64{
			"loss": e.loss.mean(), "accuracy": r.Accuracy,
			"macro_precision": r.MacroAvg.Precision, "macro_recall": r.MacroAvg.Recall, "macro_f1": r.MacroAvg.F1,
			"weighted_precision": r.WeightedAvg.Precision, "weighted_recall": r.WeightedAvg.Recall, "weighted_f1": r.WeightedAvg.F1,
		},
		Report: r.Format(4),
		Detail: r,
	}
}

// RegressionTask is sequence regression with a GPT-2 sequence classifier with one output
// (num_labels = 1, HF's problem_type "regression"): mean squared error on Example.Target. The
// model's config must set pad_token_id.
type RegressionTask struct {
	Model *gpt2.SequenceClassifier
	// Tokenizer, when set, is saved with the model.
	Tokenizer *gpt2.Tokenizer
}

// Params lists the model's parameters with HF names ("transformer.*", "score.weight").
func (t *RegressionTask) Params() []gpt2.NamedParam { return t.Model.Params() }

// Train selects training or evaluation mode.
func (t *RegressionTask) Train(on bool) { t.Model.Train(on) }

// Training reports whether the model is in training mode.
func (t *RegressionTask) Training() bool { return t.Model.Backbone.Training() }

// PadID is the config's pad_token_id (0 when unset; CheckData rejects that case).
func (t *RegressionTask) PadID() int64 { return padOf(t.Model) }

// CheckData requires pad_token_id, one output, finite targets and ids inside the vocabulary.
func (t *RegressionTask) CheckData(d Dataset) error {
	if t.Model.Config().PadTokenID == nil {
		return errors.New("train: regression: the model config has no pad_token_id; set it so batches can be padded and pooled")
	}
	if n := t.Model.NumLabels(); n != 1 || t.Model.ProblemType() != gpt2.ProblemRegression {
		return fmt.Errorf("train: regression: the head has %d outputs and problem type %s; want 1 output, %s", n, t.Model.ProblemType(), gpt2.ProblemRegression)
	}
	for i, e := range d {
		if math.IsNaN(e.Target) || math.IsInf(e.Target, 0) {
			return fmt.Errorf("train: regression: example %d has target %g", i, e.Target)
		}
	}
	return checkIDs(d, t.Model.Config().VocabSize)
}

// Loss is the mean squared error of the batch; the weight is the number of examples.
func (t *RegressionTask) Loss(s *torch.Scope, b *Batch) (*torch.Tensor, float64, error) {
	out, err := t.Model.Forward(s, b.InputIDs, b.AttentionMask, b.Targets)
	if err != nil {
		return nil, 0, err
	}
	return out.Loss, float64(b.Size()), nil
}

// NewEvaluator returns an evaluator of "loss" (the model's MSE loss), "mse", "rmse" and "mae"
// (in the target's units, eval.Regression in Metrics.Detail).
func (t *RegressionTask) NewEvaluator() Evaluator { return &regEvaluator{task: t} }

// Save writes an HF GPT2ForSequenceClassification checkpoint with num_labels=1.
func (t *RegressionTask) Save(dir string) error { return t.Model.Save(dir, t.Tokenizer) }

type regEvaluator struct {
	task         *RegressionTask
	loss         weightedLoss
	pred, target []float64
}

func (e *regEvaluator) Add(s *torch.Scope, b *Batch) (err error) {
	out, err := e.task.Model.Forward(s, b.InputIDs, b.AttentionMask, b.Targets)
	if err != nil {
		return err
	}
	defer torch.Recover(&err)
	e.loss.add(out.Loss.MustItem(), float64(b.Size()))
	pred := torch.Must(out.Logits.MustView(-1).MustToDType(torch.Float64).Float64s())
	e.pred = append(e.pred, pred...)
	for _, ex := range b.Examples {
		e.target = append(e.target, ex.Target)
	}
	return nil
}

func (e *regEvaluator) Metrics() Metrics {
	r := eval.RegressionMetrics(e.pred, e.target)
	return Metrics{
		Values: map[string]float64{"loss": e.loss.mean(), "mse": r.MSE, "rmse": r.RMSE, "mae": r.MAE},
		Report: fmt.Sprintf("mse %.6g  rmse %.6g  mae %.6g  (n=%d)", r.MSE, r.RMSE, r.MAE, r.N),
		Detail: r,
	}
}

var (
	_ Task        = (*LMTask)(nil)
	_ Task        = (*ClassificationTask)(nil)
	_ Task        = (*RegressionTask)(nil)
	_ DataChecker = (*LMTask)(nil)
	_ DataChecker = (*ClassificationTask)(nil)
	_ DataChecker = (*RegressionTask)(nil)
)
