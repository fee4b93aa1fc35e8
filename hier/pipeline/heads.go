package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"github.com/hier-ai/hier/hier/baseline"
	"github.com/hier-ai/hier/hier/data"
	"github.com/hier-ai/hier/hier/eval"
	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/hier/train"
	"github.com/hier-ai/hier/torch"
)

// Which heads a heads stage trains.
const (
	headsBoth      = "both" // separately, or jointly with Options.Multitask
	headsSentiment = "sentiment"
	headsBehavior  = "behavior"
	headsMultitask = "multitask"
)

// headsOut is the output of the heads stage.
type headsOut struct {
	sent *gpt2.SequenceClassifier // nil when not trained (no review text, or not asked for)
	beh  *gpt2.SequenceClassifier // nil when not asked for
	// beh predicts the residual of the behaviour target over bias (a user+item bias model fitted
	// on the training split, its regularisation chosen on validation MSE); the H2 prediction is
	// bias + alpha·residual, alpha chosen on validation RMSE.
	bias    *baseline.Biases
	biasSel baseline.BiasSelection
	alpha   float64
	curves  map[string]StageCurve
	// skipped says why a level was not trained ("h1": "…").
	skipped map[string]string
}

func (h *headsOut) free() {
	if h == nil {
		return
	}
	if h.sent != nil {
		h.sent.Free()
	}
	if h.beh != nil {
		h.beh.Free()
	}
}

// behaviorTarget is the H2 target of an interaction, or NaN if it has none.
func behaviorTarget(o *Options, it *data.Interaction) float64 {
	if o.BehaviorColumn == "rating" {
		return it.Rating
	}
	if v, ok := it.Values[o.BehaviorColumn]; ok {
		return v
	}
	return math.NaN()
}

// behaviorRatings collects the behaviour targets of records (NaN targets skipped).
func behaviorRatings(o *Options, recs []data.Record) baseline.Ratings {
	var r baseline.Ratings
	for k := range recs {
		if y := behaviorTarget(o, &recs[k].Interaction); !math.IsNaN(y) {
			r.Users, r.Items, r.Values = append(r.Users, recs[k].UserIdx), append(r.Items, recs[k].ItemIdx), append(r.Values, y)
		}
	}
	return r
}

// fitBias fits the user+item bias model of the behaviour target on the training split, with
// its regularisation chosen on the validation split's MSE (baseline.TuneBiases).
func fitBias(o *Options, p *prepared) (*baseline.Biases, baseline.BiasSelection, error) {
	tr := behaviorRatings(o, p.sd.Train)
	if tr.Len() == 0 {
		return nil, baseline.BiasSelection{}, fmt.Errorf("pipeline: no training interaction has the behavior target %q", o.BehaviorColumn)
	}
	va := behaviorRatings(o, p.sd.Valid)
	if va.Len() == 0 { // nothing to choose on: the default regularisation
		b, err := baseline.FitBiases(tr.Users, tr.Items, tr.Values, p.sd.NumUsers(), p.sd.NumItems(), baseline.DefaultBiasConfig())
		return b, baseline.BiasSelection{Config: baseline.DefaultBiasConfig()}, err
	}
	return baseline.TuneBiases(tr, va, p.sd.NumUsers(), p.sd.NumItems(), baseline.DefaultBiasConfig(), nil)
}

// sentimentSet is the sentiment examples of recs (records without a rating skipped) and the
// index of each example's record.
func sentimentSet(o *Options, p *prepared, recs []data.Record, purpose string) (train.Dataset, []int) {
	var ds train.Dataset
	var idx []int
	for k := range recs {
		l := o.Bins.Label(recs[k].Rating)
		if l < 0 {
			continue
		}
		ds = append(ds, train.Example{InputIDs: p.encode(purpose, p.tx.review(&recs[k]), o.Sentiment.MaxLen), Label: int64(l)})
		idx = append(idx, k)
	}
	return ds, idx
}

// behaviorText is the H2 model's input for a record (see texts.behaviour).
func behaviorText(o *Options, p *prepared, rec *data.Record) string {
	return p.tx.behaviour(rec.UserIdx, rec.ItemIdx, rec.Time, rec.Row, 4*o.Behavior.MaxLen)
}

// behaviorSet is the behaviour examples of recs, each targeting y − bias(u, i), and the index
// of each example's record.
func behaviorSet(o *Options, p *prepared, recs []data.Record, bias *baseline.Biases, purpose string) (train.Dataset, []int) {
	var ds train.Dataset
	var idx []int
	for k := range recs {
		y := behaviorTarget(o, &recs[k].Interaction)
		if math.IsNaN(y) {
			continue
		}
		ds = append(ds, train.Example{InputIDs: p.encode(purpose, behaviorText(o, p, &recs[k]), o.Behavior.MaxLen),
			Target: y - bias.Predict(recs[k].UserIdx, recs[k].ItemIdx)})
		idx = append(idx, k)
	}
	return ds, idx
}

// sample keeps at most n examples (a seeded uniform sample, in their original order); n <= 0
// keeps all.
func sample(ds train.Dataset, n int, seed uint64) train.Dataset {
	if n <= 0 || len(ds) <= n {
		return ds
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	keep := rng.Perm(len(ds))[:n]
	mark := make([]bool, len(ds))
	for _, k := range keep {
		mark[k] = true
	}
	out := make(train.Dataset, 0, n)
	for k, ex := range ds {
		if mark[k] {
			out = append(out, ex)
		}
	}
	return out
}

// headFrom loads a fresh sequence-classification model on the saved backbone.
func headFrom(e *env, labels []string, numLabels int, problem string) (*gpt2.SequenceClassifier, error) {
	g, err := torch.NewGenerator(e.opts.Seed+uint64(numLabels), e.dev)
	if err != nil {
		return nil, err
	}
	defer g.Free()
	c, _, err := gpt2.LoadSequenceClassifier(filepath.Join(e.out, BackboneDir), gpt2.LoadOptions{
		Device: e.dev, InitHead: true, NumLabels: numLabels, Labels: labels, Generator: g,
	})
	if err != nil {
		return nil, err
	}
	c.Config().ProblemType = problem
	if c.Config().PadTokenID == nil {
		pad := gpt2.EndOfTextID
		c.Config().PadTokenID = &pad
	}
	return c, nil
}

// balancedWeights are sklearn's "balanced" class weights n / (k · n_c) (1 for an absent class).
func balancedWeights(ds train.Dataset, k int) []float32 {
	counts := make([]int, k)
	for _, e := range ds {
		counts[e.Label]++
	}
	w := make([]float32, k)
	for c, n := range counts {
		w[c] = 1
		if n > 0 {
			w[c] = float32(float64(len(ds)) / float64(k*n))
		}
	}
	return w
}

// withEarlyStopping selects the best epoch by metric on the validation set: training stops after
// 2 evaluations without improvement and the best epoch's weights are restored (kept meanwhile in
// a scratch checkpoint, removed by the returned cleanup). Without validation data all epochs run
// and the last weights are kept.
func withEarlyStopping(e *env, cfg *train.Config, name, metric string, valid train.Dataset) func() {
	if len(valid) == 0 {
		return func() {}
	}
	dir := filepath.Join(e.out, "checkpoints", ".best-"+name)
	cfg.EarlyStopMetric, cfg.EarlyStopPatience = metric, 2
	cfg.BestModelDir, cfg.LoadBestAtEnd = dir, true
	return func() { os.RemoveAll(dir) }
}

// trainHeads fine-tunes the sentiment (H1) and behaviour (H2) heads on the saved backbone and
// saves both as HF GPT2ForSequenceClassification checkpoints. which is headsBoth (separately, or
// jointly when Options.Multitask), headsSentiment, headsBehavior or headsMultitask.
//
// The sentiment head is skipped, with the reason in headsOut.skipped, when the data has no
// review text (MovieLens: the only text is the item's title, the same for every rating of an
// item, so a sentiment head could only learn item popularity by title).
func trainHeads(e *env, p *prepared, which string) (h *headsOut, err error) {
	o := &e.opts
	if which == headsBoth && o.Multitask {
		which = headsMultitask
	}
	h = &headsOut{curves: map[string]StageCurve{}, skipped: map[string]string{}, alpha: 1}
	defer func() {
		if err != nil {
			h.free()
			h = nil
		}
	}()
	doSent := which != headsBehavior
	doBeh := which != headsSentiment
	if doSent && !p.tx.hasText {
		if which == headsSentiment {
			return nil, errors.New("pipeline: the dataset has no review text, so there is no sentiment to learn")
		}
		h.skipped["h1"] = "no review text: the only text is each item's title, shared by all its ratings"
		e.log.Warn("sentiment head (H1) skipped", "reason", h.skipped["h1"])
		doSent = false
		if which == headsMultitask {
			which = headsBehavior
		}
	}
	if doBeh {
		if h.bias, h.biasSel, err = fitBias(o, p); err != nil {
			return nil, err
		}
		e.log.Info("user+item bias (behaviour baseline)", "lambda_u", h.biasSel.Config.LambdaU, "lambda_i", h.biasSel.Config.LambdaI, "valid_mse", h.biasSel.ValidMSE)
	}
	var sTrain, sValid, bTrain, bValid train.Dataset
	if doSent {
		sTrain, _ = sentimentSet(o, p, p.sd.Train, "sentiment:train")
		sValid, _ = sentimentSet(o, p, p.sd.Valid, "sentiment:valid")
		sTrain = sample(sTrain, o.Sentiment.MaxExamples, o.Seed)
		if len(sTrain) == 0 {
			return nil, errors.New("pipeline: no rated training interaction for the sentiment head")
		}
		if h.sent, err = headFrom(e, SentimentLabels, len(SentimentLabels), gpt2.ProblemSingleLabel); err != nil {
			return nil, err
		}
		if o.BalanceSentiment {
			w := balancedWeights(sTrain, len(SentimentLabels))
			e.log.Info("sentiment class weights (balanced)", "weights", w)
			t, err := torch.FromSlice(w)
			if err == nil {
				h.sent.ClassWeights, err = t.To(e.dev, h.sent.Backbone.DType())
				t.Free()
			}
			if err != nil {
				return nil, err
			}
		}
	}
	if doBeh {
		bTrain, _ = behaviorSet(o, p, p.sd.Train, h.bias, "behavior:train")
		bValid, _ = behaviorSet(o, p, p.sd.Valid, h.bias, "behavior:valid")
		bTrain = sample(bTrain, o.Behavior.MaxExamples, o.Seed+1)
		if h.beh, err = headFrom(e, nil, 1, gpt2.ProblemRegression); err != nil {
			return nil, err
		}
		// The head starts at "no correction": its score layer is zero, so before any step the
		// H2 prediction is the bias model's.
		if err := h.beh.Score.Zero(); err != nil {
			return nil, err
		}
	}
	switch {
	case which == headsMultitask && doSent && doBeh:
		if err := fitMultitask(e, h, sTrain, sValid, bTrain, bValid); err != nil {
			return nil, err
		}
	default:
		if doSent {
			cfg := stageConfig(e, o.Sentiment, "sentiment")
			done := withEarlyStopping(e, &cfg, "sentiment", "macro_f1", sValid)
			_, c, err := fitWithCurve(e, &train.ClassificationTask{Model: h.sent, Labels: SentimentLabels, Tokenizer: p.tok}, sTrain, sValid, cfg, sentimentLoss(o))
			done()
			if err != nil {
				return nil, err
			}
			h.curves["sentiment"] = c
		}
		if doBeh {
			cfg := stageConfig(e, o.Behavior, "behavior")
			done := withEarlyStopping(e, &cfg, "behavior", "rmse", bValid)
			_, c, err := fitWithCurve(e, &train.RegressionTask{Model: h.beh, Tokenizer: p.tok}, bTrain, bValid, cfg, behaviorLoss(o))
			done()
			if err != nil {
				return nil, err
			}
			h.curves["behavior"] = c
		}
	}
	if h.sent != nil {
		h.sent.Train(false)
		if err := h.sent.Save(filepath.Join(e.out, SentimentDir), p.tok); err != nil {
			return nil, err
		}
	}
	if h.beh != nil {
		h.beh.Train(false)
		if h.alpha, err = chooseAlpha(e, p, h); err != nil {
			return nil, err
		}
		// The head predicts a residual; what turns it back into the target's units (prediction =
		// mean + b_u + b_i + alpha·head) is stored with it: mean, alpha and the target in
		// config.json, the user and item biases in hier_bias.json beside it.
		ex := h.beh.Config().Extra
		ex[extraTarget] = json.RawMessage(`"residual of the behavior target over the user+item bias model"`)
		ex[extraColumn] = json.RawMessage(fmt.Sprintf("%q", o.BehaviorColumn))
		ex[extraBiasLambdU] = json.RawMessage(strconv.FormatFloat(h.biasSel.Config.LambdaU, 'g', -1, 64))
		ex[extraBiasLambdI] = json.RawMessage(strconv.FormatFloat(h.biasSel.Config.LambdaI, 'g', -1, 64))
		ex[extraAlpha] = json.RawMessage(strconv.FormatFloat(h.alpha, 'g', -1, 64))
		ex[extraMean] = json.RawMessage(strconv.FormatFloat(h.bias.Mean(), 'g', -1, 64))
		ex[extraBiasFile] = json.RawMessage(fmt.Sprintf("%q", BehaviorBaselineFile))
		dir := filepath.Join(e.out, BehaviorDir)
		if err := h.beh.Save(dir, p.tok); err != nil {
			return nil, err
		}
		if err := writeJSON(filepath.Join(dir, BehaviorBaselineFile), behaviorBaseline(o, p, h)); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// alphaGrid are the blend weights of the behaviour head's residual tried on validation.
var alphaGrid = []float64{0, 0.25, 0.5, 0.75, 1}

// chooseAlpha picks the weight of the head's residual that minimises the validation RMSE of
// bias + alpha·head (0 means the head adds nothing the bias model does not have).
func chooseAlpha(e *env, p *prepared, h *headsOut) (float64, error) {
	pred, truth, _, err := behaviorPredictions(e, p, h, p.sd.Valid, "behavior:valid")
	if err != nil || len(truth) == 0 {
		return 1, err
	}
	best, bestRMSE := 1.0, math.Inf(1)
	for _, a := range alphaGrid {
		ys := make([]float64, len(truth))
		for k := range ys {
			ys[k] = pred[k].bias + a*pred[k].residual
		}
		if r := eval.RegressionMetrics(ys, truth).RMSE; r < bestRMSE {
			best, bestRMSE = a, r
		}
	}
	e.log.Info("behaviour blend chosen on validation", "alpha", best, "valid_rmse", bestRMSE)
	return best, nil
}

type behaviorPred struct{ bias, residual float64 }

// behaviorPredictions are the bias model's prediction and the head's residual for every record
// with a behaviour target, the targets, and the records' indices.
func behaviorPredictions(e *env, p *prepared, h *headsOut, recs []data.Record, purpose string) ([]behaviorPred, []float64, []int, error) {
	o := &e.opts
	ds, idx := behaviorSet(o, p, recs, h.bias, purpose)
	enc := &Encoder{Backbone: h.beh.Backbone, Head: h.beh, Tok: p.tok, MaxLen: o.Behavior.MaxLen, Batch: 64, Pool: PoolLast}
	ids := make([][]int64, len(ds))
	for k, ex := range ds {
		ids[k] = ex.InputIDs
	}
	m, err := enc.EncodeIDs(ids)
	if err != nil {
		return nil, nil, nil, err
	}
	pred := make([]behaviorPred, len(ds))
	truth := make([]float64, len(ds))
	for k, i := range idx {
		r := &recs[i]
		b := h.bias.Predict(r.UserIdx, r.ItemIdx)
		pred[k] = behaviorPred{bias: b, residual: float64(m.Row(k)[m.Cols-1])}
		truth[k] = ds[k].Target + b
	}
	return pred, truth, idx, nil
}

// SentimentResults are the sentiment head's and the TF-IDF + logistic-regression baseline's
// classification reports on the test reviews.
type SentimentResults struct {
	Head     eval.Report `json:"head"`
	Baseline eval.Report `json:"baseline"`
	// BaselineC is the baseline's inverse regularisation, chosen on validation macro-F1.
	BaselineC float64 `json:"baseline_c"`
}

// evalSentiment is the classification report of the sentiment head on the test reviews, beside
// the TF-IDF + logistic-regression baseline (baseline.FitTextClassifier: C chosen on the
// validation reviews' macro-F1, balanced class weights, as the head's loss).
func evalSentiment(e *env, p *prepared, sent *gpt2.SequenceClassifier) (*SentimentResults, error) {
	o := &e.opts
	sTest, _ := sentimentSet(o, p, p.sd.Test, "sentiment:test")
	enc := &Encoder{Backbone: sent.Backbone, Head: sent, Tok: p.tok, MaxLen: o.Sentiment.MaxLen, Batch: 64, Pool: PoolLast}
	ids := make([][]int64, len(sTest))
	yTrue := make([]int, len(sTest))
	for i, ex := range sTest {
		ids[i], yTrue[i] = ex.InputIDs, int(ex.Label)
	}
	m, err := enc.EncodeIDs(ids)
	if err != nil {
		return nil, err
	}
	d := sent.Backbone.Config.NEmbd
	yPred := make([]int, len(sTest))
	for i := range yPred {
		yPred[i] = argmax(m.Row(i)[d:])
	}
	res := &SentimentResults{Head: eval.ClassificationReport(yTrue, yPred, SentimentLabels)}
	texts := func(recs []data.Record) ([]string, []int) {
		var xs []string
		var ys []int
		for k := range recs {
			if l := o.Bins.Label(recs[k].Rating); l >= 0 {
				xs, ys = append(xs, p.tx.review(&recs[k])), append(ys, l)
			}
		}
		return xs, ys
	}
	trX, trY := texts(p.sd.Train)
	vaX, vaY := texts(p.sd.Valid)
	teX, teY := texts(p.sd.Test)
	cfg := baseline.TextClassifierConfig{TFIDF: baseline.DefaultTFIDFConfig(), LogReg: baseline.DefaultLogRegConfig()}
	cfg.LogReg.Balanced = o.BalanceSentiment
	clf, chosen, err := baseline.FitTextClassifier(trX, trY, vaX, vaY, len(SentimentLabels), cfg)
	if err != nil {
		return nil, fmt.Errorf("sentiment baseline: %w", err)
	}
	res.Baseline = eval.ClassificationReport(teY, clf.Predict(teX), SentimentLabels)
	res.BaselineC = chosen.LogReg.C
	return res, nil
}

func argmax(xs []float32) int {
	best := 0
	for j := range xs {
		if xs[j] > xs[best] {
			best = j
		}
	}
	return best
}

// Behavior holds the held-out errors of the H2 model and of the baselines.
type Behavior struct {
	Model        eval.Regression `json:"model"`
	GlobalMean   eval.Regression `json:"global_mean"`
	UserItemBias eval.Regression `json:"user_item_bias"`
	// BiasLambdaU and BiasLambdaI are the bias model's regularisation, chosen on validation MSE;
	// Alpha the weight of the head's residual, chosen on validation RMSE.
	BiasLambdaU float64 `json:"bias_lambda_u"`
	BiasLambdaI float64 `json:"bias_lambda_i"`
	Alpha       float64 `json:"alpha"`
}

// evalBehavior is the H2 model's error (bias + alpha·head) on each held-out test rating,
// predicted from training data only, beside the global mean and the user+item bias model.
func evalBehavior(e *env, p *prepared, h *headsOut) (*Behavior, error) {
	pred, truth, _, err := behaviorPredictions(e, p, h, p.sd.Test, "behavior:test")
	if err != nil {
		return nil, err
	}
	model, gm, bias := make([]float64, len(truth)), make([]float64, len(truth)), make([]float64, len(truth))
	for k := range truth {
		model[k] = pred[k].bias + h.alpha*pred[k].residual
		gm[k] = h.bias.Mean()
		bias[k] = pred[k].bias
	}
	return &Behavior{
		Model:        eval.RegressionMetrics(model, truth),
		GlobalMean:   eval.RegressionMetrics(gm, truth),
		UserItemBias: eval.RegressionMetrics(bias, truth),
		BiasLambdaU:  h.biasSel.Config.LambdaU, BiasLambdaI: h.biasSel.Config.LambdaI, Alpha: h.alpha,
	}, nil
}
