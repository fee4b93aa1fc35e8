package pipeline

import (
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/hier-ai/hier/hier/eval"
	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/hier/train"
	"github.com/hier-ai/hier/torch"
)

// Example heads in multi-task training.
const (
	headSentiment = 0
	headBehavior  = 1
)

// multiTask trains the sentiment (H1) and behaviour (H2) heads jointly on one shared backbone.
// A batch mixes examples of both heads (train.Example.Head); the loss is
// (wS·Σ CE over sentiment rows + wB·Σ squared error over behaviour rows) / batch size, so each
// head's term is its mean loss weighted by its share of the batch.
type multiTask struct {
	sent, beh *gpt2.SequenceClassifier // share one backbone
	wS, wB    float64
}

func (t *multiTask) Params() []gpt2.NamedParam {
	var ps []gpt2.NamedParam
	for _, p := range t.sent.Backbone.Params() {
		ps = append(ps, gpt2.NamedParam{Name: "transformer." + p.Name, Tensor: p.Tensor})
	}
	return append(ps, gpt2.NamedParam{Name: "sentiment.score.weight", Tensor: t.sent.Score},
		gpt2.NamedParam{Name: "behavior.score.weight", Tensor: t.beh.Score})
}

func (t *multiTask) Train(on bool)  { t.sent.Train(on) }
func (t *multiTask) Training() bool { return t.sent.Backbone.Training() }
func (t *multiTask) PadID() int64   { return *t.sent.Config().PadTokenID }

// split runs the shared backbone once and returns both heads' outputs on their rows.
func (t *multiTask) forward(s *torch.Scope, b *train.Batch) (sLogits, sLabels, bPred, bTarget *torch.Tensor, err error) {
	defer torch.Recover(&err)
	hidden, err := t.sent.Backbone.Forward(s, b.InputIDs, b.AttentionMask)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	idx, err := t.sent.PoolIndex(s, b.InputIDs)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	pooled := torch.Must(gpt2.Pool(hidden, idx))
	var rs, rb []int64
	for i, e := range b.Examples {
		if e.Head == headBehavior {
			rb = append(rb, int64(i))
		} else {
			rs = append(rs, int64(i))
		}
	}
	dev := t.sent.Backbone.Device()
	rows := func(r []int64) *torch.Tensor {
		return s.Track(torch.Must(torch.FromSlice(r))).MustToDevice(dev)
	}
	if len(rs) > 0 {
		ri := rows(rs)
		sLogits = torch.Must(torch.Linear(pooled.MustIndexSelect(0, ri), t.sent.Score, nil))
		sLabels = b.Labels.MustIndexSelect(0, ri)
	}
	if len(rb) > 0 {
		ri := rows(rb)
		bPred = torch.Must(torch.Linear(pooled.MustIndexSelect(0, ri), t.beh.Score, nil)).MustView(-1)
		if dt := bPred.DType(); dt == torch.BFloat16 || dt == torch.Float16 {
			bPred = bPred.MustToDType(torch.Float32) // the MSE in float32 (see SequenceClassifier.Loss)
		}
		bTarget = b.Targets.MustIndexSelect(0, ri).MustToDType(bPred.DType())
	}
	return sLogits, sLabels, bPred, bTarget, nil
}

func (t *multiTask) Loss(s *torch.Scope, b *train.Batch) (loss *torch.Tensor, weight float64, err error) {
	sl, sy, bp, by, err := t.forward(s, b)
	if err != nil {
		return nil, 0, err
	}
	loss, err = t.lossFrom(sl, sy, bp, by, b.Size())
	return loss, float64(b.Size()), err
}

// lossFrom combines the heads' outputs: (wS·Σ CE + wB·Σ squared error) / n.
func (t *multiTask) lossFrom(sl, sy, bp, by *torch.Tensor, n int) (loss *torch.Tensor, err error) {
	defer torch.Recover(&err)
	var total *torch.Tensor
	add := func(x *torch.Tensor) {
		if total == nil {
			total = x
		} else {
			total = total.MustAdd(x)
		}
	}
	if sl != nil {
		ce := torch.Must(torch.CrossEntropy(sl, sy, &torch.CrossEntropyOptions{Reduction: torch.ReduceSum, Weight: t.sent.ClassWeights}))
		add(ce.MustMulScalar(t.wS))
	}
	if bp != nil {
		add(torch.Must(torch.MSELoss(bp, by, torch.ReduceSum)).MustMulScalar(t.wB))
	}
	return total.MustDivScalar(float64(n)), nil
}

func (t *multiTask) NewEvaluator() train.Evaluator { return &multiEval{t: t} }

// Save writes every parameter under its multi-task name (for checkpoints and best-model restore).
func (t *multiTask) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	m := map[string]*torch.Tensor{}
	for _, p := range t.Params() {
		m[p.Name] = p.Tensor
	}
	return torch.SaveSafetensors(filepath.Join(dir, gpt2.SafetensorsFile), m, map[string]string{"format": "pt"})
}

type multiEval struct {
	t            *multiTask
	yTrue, yPred []int
	pred, target []float64
	loss, n      float64
}

func (e *multiEval) Add(s *torch.Scope, b *train.Batch) (err error) {
	defer torch.Recover(&err)
	sl, sy, bp, by, err := e.t.forward(s, b)
	if err != nil {
		return err
	}
	l := torch.Must(e.t.lossFrom(sl, sy, bp, by, b.Size()))
	e.loss += l.MustItem() * float64(b.Size())
	e.n += float64(b.Size())
	if sl != nil {
		p := torch.Must(sl.MustArgMax(-1, false).Int64s())
		y := torch.Must(sy.Int64s())
		for i := range p {
			e.yPred, e.yTrue = append(e.yPred, int(p[i])), append(e.yTrue, int(y[i]))
		}
	}
	if bp != nil {
		e.pred = append(e.pred, torch.Must(bp.MustToDType(torch.Float64).Float64s())...)
		e.target = append(e.target, torch.Must(by.MustToDType(torch.Float64).Float64s())...)
	}
	return nil
}

func (e *multiEval) Metrics() train.Metrics {
	v := map[string]float64{"loss": e.loss / math.Max(e.n, 1)}
	rep := ""
	if len(e.yTrue) > 0 {
		r := eval.ClassificationReport(e.yTrue, e.yPred, SentimentLabels)
		v["sentiment/accuracy"], v["sentiment/macro_f1"] = r.Accuracy, r.MacroAvg.F1
		rep = r.String()
	}
	if len(e.pred) > 0 {
		g := eval.RegressionMetrics(e.pred, e.target)
		v["behavior/rmse"], v["behavior/mae"] = g.RMSE, g.MAE
		rep += fmt.Sprintf("behavior: rmse %.4f mae %.4f\n", g.RMSE, g.MAE)
	}
	return train.Metrics{Values: v, Report: rep}
}

// fitMultitask trains both heads jointly. h.beh's backbone is replaced by h.sent's (shared).
func fitMultitask(e *env, h *headsOut, sTrain, sValid, bTrain, bValid train.Dataset) error {
	h.beh.Backbone.Free()
	h.beh.Backbone = h.sent.Backbone
	join := func(a, b train.Dataset) train.Dataset {
		out := make(train.Dataset, 0, len(a)+len(b))
		for _, ex := range a {
			ex.Head = headSentiment
			out = append(out, ex)
		}
		for _, ex := range b {
			ex.Head = headBehavior
			out = append(out, ex)
		}
		return out
	}
	st := e.opts.Sentiment
	st.MaxLen = max(e.opts.Sentiment.MaxLen, e.opts.Behavior.MaxLen)
	cfg := stageConfig(e, st, "multitask")
	valid := join(sValid, bValid)
	done := withEarlyStopping(e, &cfg, "multitask", "loss", valid)
	loss := fmt.Sprintf("%g × %s + %g × %s", e.opts.SentimentWeight, sentimentLoss(&e.opts), e.opts.BehaviorWeight, behaviorLoss(&e.opts))
	_, c, err := fitWithCurve(e, &multiTask{sent: h.sent, beh: h.beh, wS: e.opts.SentimentWeight, wB: e.opts.BehaviorWeight}, join(sTrain, bTrain), valid, cfg, loss)
	done()
	if err != nil {
		return err
	}
	h.curves["multitask"] = c
	return nil
}
