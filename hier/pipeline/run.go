package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hier-ai/hier/hier/baseline"
	"github.com/hier-ai/hier/hier/data"
	"github.com/hier-ai/hier/hier/eval"
	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/hier/train"
	"github.com/hier-ai/hier/torch"
)

// Counts are the dataset counts reported in the results.
type Counts struct {
	Users        int `json:"users"`
	Items        int `json:"items"`
	Interactions int `json:"interactions"`
	Skipped      int `json:"skipped"`
	Duplicates   int `json:"duplicates"`
}

// Behavior holds the held-out rating errors of the H2 model and of the baselines.
type Behavior struct {
	Model        eval.Regression `json:"model"`
	GlobalMean   eval.Regression `json:"global_mean"`
	UserItemBias eval.Regression `json:"user_item_bias"`
}

// Results is the output of a run (metrics.json, and the object printed by --json).
type Results struct {
	Dataset   string                        `json:"dataset"`
	Counts    Counts                        `json:"counts"`
	Sentiment eval.Report                   `json:"sentiment"`
	Behavior  Behavior                      `json:"behavior"`
	Ranking   map[string]map[string]float64 `json:"ranking"`
	// Split describes the leave-one-out protocol's sizes.
	Split struct {
		Train          int `json:"train"`
		Valid          int `json:"valid"`
		Test           int `json:"test"`
		TrainOnlyUsers int `json:"train_only_users"`
	} `json:"split"`
	// Recommenders are the configurations chosen on the validation split.
	Recommenders []RecommenderChoice `json:"recommenders"`
	Fusion       Fusion              `json:"fusion"`
	Multitask    bool                `json:"multitask"`
	Backbone     string              `json:"backbone"` // "pretrained:<dir>" or "scratch:<n_layer>x<n_embd>"
	Timings      map[string]float64  `json:"timings_seconds"`
	OutDir       string              `json:"out_dir"`
	WallSeconds  float64             `json:"wall_seconds"`
}

// RankingMethods is the order of the ranking table.
var RankingMethods = []string{"popularity", "mf", "h0", "h0_h1", "h0_h2", "h"}

// Table formats the results as the text table printed by `hier run` and `hier demo`.
func (r *Results) Table() string {
	var b []byte
	w := func(format string, a ...any) { b = fmt.Appendf(b, format, a...) }
	w("dataset %s: %d users, %d items, %d interactions (%d skipped, %d duplicates)\n", r.Dataset, r.Counts.Users, r.Counts.Items, r.Counts.Interactions, r.Counts.Skipped, r.Counts.Duplicates)
	w("split: %d train / %d valid / %d test (%d users train-only)\n\n", r.Split.Train, r.Split.Valid, r.Split.Test, r.Split.TrainOnlyUsers)
	w("sentiment (H1 head, test reviews):\n%s\n", r.Sentiment.String())
	w("behavior (H2 head, held-out ratings):\n")
	w("  %-16s %8s %8s %8s\n", "method", "MSE", "RMSE", "MAE")
	for _, row := range []struct {
		n string
		m eval.Regression
	}{{"h2 model", r.Behavior.Model}, {"global mean", r.Behavior.GlobalMean}, {"user+item bias", r.Behavior.UserItemBias}} {
		w("  %-16s %8.4f %8.4f %8.4f\n", row.n, row.m.MSE, row.m.RMSE, row.m.MAE)
	}
	w("\nranking (full catalogue, leave-one-out test; fusion %s):\n", r.Fusion)
	keys := []string{"hr@5", "hr@10", "hr@20", "ndcg@5", "ndcg@10", "ndcg@20", "mrr"}
	w("  %-11s", "method")
	for _, k := range keys {
		w(" %8s", k)
	}
	w("\n")
	for _, m := range RankingMethods {
		vals, ok := r.Ranking[m]
		if !ok {
			continue
		}
		w("  %-11s", m)
		for _, k := range keys {
			w(" %8.4f", vals[k])
		}
		w("\n")
	}
	w("\noutput: %s (%.1f s)\n", r.OutDir, r.WallSeconds)
	return string(b)
}

// LoadDataset loads opts.DataPath, or generates opts.Synthetic.
func LoadDataset(opts Options) (*data.Dataset, error) {
	switch {
	case opts.DataPath != "":
		return data.Load(opts.DataPath, data.LoadOptions{Strict: opts.Strict, Columns: opts.Columns})
	case opts.Synthetic != nil:
		return data.Synthetic(*opts.Synthetic), nil
	}
	return nil, errors.New("pipeline: no dataset: set data_path (--data) or use the synthetic demo")
}

// Run loads the dataset (LoadDataset) and runs the whole pipeline (see RunDataset).
func Run(ctx context.Context, opts Options, log *slog.Logger) (*Results, error) {
	ds, err := LoadDataset(opts)
	if err != nil {
		return nil, err
	}
	return RunDataset(ctx, ds, opts, log)
}

type runner struct {
	ctx     context.Context
	opts    Options
	log     *slog.Logger
	dev     torch.Device
	sd      *data.SplitData
	tx      *texts
	proto   *protocol
	tok     *gpt2.Tokenizer
	res     *Results
	curves  map[string][]float64 // training curves for the plots
	started time.Time
	purpose string // what the texts being tokenized are for (see textHook)
}

func (r *runner) timed(name string, fn func() error) error {
	t0 := time.Now()
	r.log.Info("stage start", "stage", name)
	err := fn()
	r.res.Timings[name] = time.Since(t0).Seconds()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	r.log.Info("stage done", "stage", name, "seconds", fmt.Sprintf("%.1f", r.res.Timings[name]))
	return nil
}

// RunDataset runs the pipeline on a loaded dataset: split (per-user temporal leave-one-out),
// backbone (given checkpoint or a small GPT-2 pre-trained on training-split text), H1 and H2
// heads (separately or multi-task), the interest vectors H0/H1/H2, the fused recommender and
// its ablations, the baselines, and the evaluation; everything is written under opts.OutDir.
//
// The run directory is built in a temporary sibling of opts.OutDir and moved into place only when
// everything succeeded, so a failed or interrupted run never leaves a half-written or mixed run
// directory. An existing run directory at opts.OutDir is replaced only with opts.Overwrite.
func RunDataset(ctx context.Context, ds *data.Dataset, opts Options, log *slog.Logger) (res *Results, err error) {
	final := filepath.Clean(opts.OutDir)
	if final == "." || final == "" {
		return nil, errors.New("pipeline: option out_dir is required")
	}
	if entries, err := os.ReadDir(final); err == nil && len(entries) > 0 && !opts.Overwrite {
		return nil, fmt.Errorf("pipeline: output directory %s is not empty; choose another or allow replacing it (Options.Overwrite, --overwrite)", final)
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(filepath.Dir(final), "."+filepath.Base(final)+".tmp-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(work)
		}
	}()
	opts.OutDir = work
	r, err := setup(ctx, ds, opts, log)
	if err != nil {
		return nil, err
	}
	opts = r.opts
	r.res.OutDir = final
	saved := opts
	saved.OutDir = final
	if err := writeJSON(filepath.Join(opts.OutDir, ConfigFileName), saved); err != nil {
		return nil, err
	}
	var backbone *gpt2.Model
	if err := r.timed("backbone", func() (err error) { backbone, err = r.backbone(); return err }); err != nil {
		return nil, err
	}
	defer backbone.Free()
	var sent, beh *gpt2.SequenceClassifier
	err = r.timed("heads", func() (err error) { sent, beh, _, err = r.heads("both"); return err })
	if err != nil {
		return nil, err
	}
	defer func() {
		sent.Free()
		beh.Free()
	}()
	var f *features
	if err := r.timed("features", func() (err error) { f, err = r.features(backbone, sent, beh); return err }); err != nil {
		return nil, err
	}
	if err := r.timed("recommenders", func() error { return r.recommenders(f) }); err != nil {
		return nil, err
	}
	if err := r.timed("baselines", r.baselines); err != nil {
		return nil, err
	}
	r.res.WallSeconds = time.Since(r.started).Seconds()
	if err := r.plots(); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(opts.OutDir, MetricsFileName), r.res); err != nil {
		return nil, err
	}
	if err := swapDir(work, final); err != nil {
		return nil, err
	}
	return r.res, nil
}

// swapDir moves the finished directory work to final, replacing what was there.
func swapDir(work, final string) error {
	var old string
	if _, err := os.Stat(final); err == nil {
		old = work + ".old"
		if err := os.Rename(final, old); err != nil {
			return err
		}
	}
	if err := os.Rename(work, final); err != nil {
		if old != "" {
			_ = os.Rename(old, final)
		}
		return err
	}
	if old != "" {
		return os.RemoveAll(old)
	}
	return nil
}

// setup resolves the options, configures libtorch (device, threads, seed), slices and splits
// the dataset and loads the tokenizer.
func setup(ctx context.Context, ds *data.Dataset, opts Options, log *slog.Logger) (*runner, error) {
	if log == nil {
		log = slog.Default()
	}
	if err := opts.resolve(); err != nil {
		return nil, err
	}
	dev, err := torch.ParseDevice(opts.Device)
	if err != nil {
		return nil, err
	}
	if err := torch.SetNumThreads(opts.Threads); err != nil {
		return nil, err
	}
	if err := torch.ManualSeed(opts.Seed); err != nil {
		return nil, err
	}
	if opts.MaxUsers > 0 {
		ds = sliceUsers(ds, opts.MaxUsers)
	}
	if err := os.MkdirAll(filepath.Join(opts.OutDir, PlotsDir), 0o755); err != nil {
		return nil, err
	}
	r := &runner{ctx: ctx, opts: opts, log: log, dev: dev, started: time.Now(), curves: map[string][]float64{}}
	r.res = &Results{Dataset: ds.Name, Fusion: opts.Fusion, Multitask: opts.Multitask, Timings: map[string]float64{}, OutDir: opts.OutDir, Ranking: map[string]map[string]float64{}}
	if err := r.prepare(ds); err != nil {
		return nil, err
	}
	return r, nil
}

// sliceUsers keeps the interactions of the first n distinct users (in file order).
func sliceUsers(ds *data.Dataset, n int) *data.Dataset {
	keep := map[string]bool{}
	out := *ds
	out.Interactions = nil
	for _, it := range ds.Interactions {
		if !keep[it.User] && len(keep) >= n {
			continue
		}
		keep[it.User] = true
		out.Interactions = append(out.Interactions, it)
	}
	items := map[string]bool{}
	for _, it := range out.Interactions {
		items[it.Item] = true
	}
	out.Counts.Users, out.Counts.Items, out.Counts.Interactions = len(keep), len(items), len(out.Interactions)
	return &out
}

func (r *runner) prepare(ds *data.Dataset) error {
	sd, err := data.Split(ds)
	if err != nil {
		return err
	}
	r.sd, r.tx, r.proto = sd, newTexts(sd), newProtocol(sd)
	c := &r.res.Counts
	c.Users, c.Items, c.Interactions = sd.NumUsers(), sd.NumItems(), len(sd.Train)+len(sd.Valid)+len(sd.Test)
	c.Skipped, c.Duplicates = ds.Counts.Skipped, ds.Counts.Duplicates+sd.Duplicates
	r.res.Split.Train, r.res.Split.Valid, r.res.Split.Test, r.res.Split.TrainOnlyUsers = len(sd.Train), len(sd.Valid), len(sd.Test), sd.TrainOnlyUsers
	r.log.Info("data", "dataset", ds.Name, "users", c.Users, "items", c.Items, "interactions", c.Interactions, "skipped", c.Skipped, "duplicates", c.Duplicates,
		"train", len(sd.Train), "valid", len(sd.Valid), "test", len(sd.Test), "train_only_users", sd.TrainOnlyUsers)
	for i, reason := range ds.SkippedReasons {
		if i == 5 {
			r.log.Warn("more records skipped", "shown", 5, "skipped", ds.Counts.Skipped)
			break
		}
		r.log.Warn("record skipped", "reason", reason)
	}
	if len(sd.Test) == 0 {
		return errors.New("pipeline: no user has 3 or more interactions, so there is nothing to evaluate")
	}
	if col := r.opts.BehaviorColumn; col != "rating" {
		avail := map[string]bool{}
		found := false
		for k := range sd.Train {
			for name := range sd.Train[k].Values {
				avail[name] = true
			}
			if _, ok := sd.Train[k].Values[col]; ok {
				found = true
			}
		}
		if !found {
			names := make([]string, 0, len(avail))
			for n := range avail {
				names = append(names, n)
			}
			sort.Strings(names)
			return fmt.Errorf("pipeline: behavior column %q: no training interaction has it (available: %s)", col, strings.Join(append([]string{"rating"}, names...), ", "))
		}
	}
	if r.opts.ModelDir != "" {
		r.tok, err = gpt2.LoadTokenizerFor(r.opts.ModelDir)
	} else {
		r.tok, err = gpt2.LoadDefaultTokenizer()
	}
	return err
}

// textHook, when set (by tests), sees every text the pipeline tokenizes, with its purpose
// (runner.purpose), so tests can check what reaches training and features.
var textHook func(purpose, text string)

func (r *runner) see(texts ...string) {
	if textHook != nil {
		for _, t := range texts {
			textHook(r.purpose, t)
		}
	}
}

// encode tokenizes text for a model: truncated to maxLen, never empty.
func (r *runner) encode(text string, maxLen int) []int64 {
	r.see(text)
	ids := r.tok.Encode(text)
	if len(ids) > maxLen {
		ids = ids[:maxLen]
	}
	if len(ids) == 0 {
		ids = []int64{gpt2.EndOfTextID}
	}
	return ids
}

func (r *runner) stageConfig(st StageConfig, name string) train.Config {
	return train.Config{
		Epochs: st.Epochs, BatchSize: st.BatchSize, MaxSteps: st.MaxSteps, MaxLen: st.MaxLen,
		LR: st.LR, WeightDecay: st.WeightDecay, WarmupRatio: 0.06, MaxGradNorm: 1.0,
		Seed: r.opts.Seed, Device: r.dev, Progress: r.opts.Progress,
		Logger: r.log.With("stage", name),
	}
}

// withEarlyStopping selects the best epoch by metric on the validation set: training stops after
// 2 evaluations without improvement and the best epoch's weights are restored (kept meanwhile in
// a scratch checkpoint under OutDir, removed by the returned cleanup). Without validation data
// all epochs run and the last weights are kept.
func (r *runner) withEarlyStopping(cfg *train.Config, name, metric string, valid train.Dataset) func() {
	if len(valid) == 0 {
		return func() {}
	}
	dir := filepath.Join(r.opts.OutDir, "checkpoints", ".best-"+name)
	cfg.EarlyStopMetric, cfg.EarlyStopPatience = metric, 2
	cfg.BestModelDir, cfg.LoadBestAtEnd = dir, true
	return func() { os.RemoveAll(dir) }
}

func (r *runner) record(name string, res *train.Result) {
	r.curves[name] = res.StepLosses
}

// backbone loads opts.ModelDir, or builds and pre-trains a small GPT-2 on training-split text,
// and saves it (HF GPT2LMHeadModel layout) under checkpoints/backbone.
func (r *runner) backbone() (*gpt2.Model, error) {
	dir := filepath.Join(r.opts.OutDir, BackboneDir)
	var m *gpt2.Model
	if r.opts.ModelDir != "" {
		var rep *gpt2.LoadReport
		var err error
		m, rep, err = gpt2.LoadModel(r.opts.ModelDir, gpt2.LoadOptions{Device: r.dev})
		if err != nil {
			return nil, err
		}
		r.log.Info("backbone loaded", "dir", r.opts.ModelDir, "report", rep.String())
		if m.Config.PadTokenID == nil {
			pad := gpt2.EndOfTextID
			m.Config.PadTokenID = &pad
		}
		r.res.Backbone = "pretrained:" + r.opts.ModelDir
		if !r.opts.ContinuePretraining {
			m.Train(false)
			return m, r.saveBackbone(m, dir)
		}
	} else {
		b := r.opts.Backbone
		cfg := gpt2.NewConfig(r.tok.VocabSize(), b.Positions, b.Embd, b.Layers, b.Heads)
		pad := gpt2.EndOfTextID
		cfg.PadTokenID = &pad
		r.res.Backbone = fmt.Sprintf("scratch:%dx%d", b.Layers, b.Embd)
		g, err := torch.NewGenerator(r.opts.Seed, r.dev)
		if err != nil {
			return nil, err
		}
		defer g.Free()
		if m, err = gpt2.NewModel(cfg, torch.Float32, r.dev, g); err != nil {
			return nil, err
		}
	}
	// Corpus: training reviews and item descriptions, 5% held out for the LM's validation loss.
	r.purpose = "pretrain"
	seen := map[string]bool{}
	var corpus train.Dataset
	add := func(s string) {
		if s == "" || seen[s] {
			return
		}
		seen[s] = true
		if ids := r.encode(s, r.opts.Pretrain.MaxLen); len(ids) >= 2 {
			corpus = append(corpus, train.Example{InputIDs: ids})
		}
	}
	for k := range r.sd.Train {
		add(r.tx.review(&r.sd.Train[k]))
	}
	for _, s := range r.tx.static {
		add(s)
	}
	if len(corpus) < 2 {
		m.Free()
		return nil, errors.New("pipeline: no training text to pre-train the backbone on (give --model)")
	}
	nValid := max(1, len(corpus)/20)
	trainSet, validSet := corpus[nValid:], corpus[:nValid]
	r.log.Info("pre-training backbone", "n_layer", m.Config.NLayer, "n_embd", m.Config.NEmbd, "examples", len(trainSet), "tokens", trainSet.Tokens())
	cfgT := r.stageConfig(r.opts.Pretrain, "pretrain")
	res, err := train.Fit(r.ctx, &train.LMTask{Model: m, Tokenizer: r.tok}, trainSet, validSet, cfgT)
	if err != nil {
		m.Free()
		return nil, err
	}
	r.record("pretrain", res)
	m.Train(false)
	return m, r.saveBackbone(m, dir)
}

func (r *runner) saveBackbone(m *gpt2.Model, dir string) error {
	return m.SaveLM(dir, r.tok)
}

// headFrom loads a fresh sequence-classification model from the saved backbone.
func (r *runner) headFrom(labels []string, numLabels int, problem string) (*gpt2.SequenceClassifier, error) {
	g, err := torch.NewGenerator(r.opts.Seed+uint64(numLabels), r.dev)
	if err != nil {
		return nil, err
	}
	defer g.Free()
	c, _, err := gpt2.LoadSequenceClassifier(filepath.Join(r.opts.OutDir, BackboneDir), gpt2.LoadOptions{
		Device: r.dev, InitHead: true, NumLabels: numLabels, Labels: labels, Generator: g,
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

// behaviorTarget is the H2 target of an interaction, or NaN if it has none.
func (r *runner) behaviorTarget(it *data.Interaction) float64 {
	if r.opts.BehaviorColumn == "rating" {
		return it.Rating
	}
	if v, ok := it.Values[r.opts.BehaviorColumn]; ok {
		return v
	}
	return math.NaN()
}

func (r *runner) sentimentSet(recs []data.Record) (train.Dataset, []int) {
	var ds train.Dataset
	var idx []int
	for k := range recs {
		l := r.opts.Bins.Label(recs[k].Rating)
		if l < 0 {
			continue
		}
		ds = append(ds, train.Example{InputIDs: r.encode(r.tx.review(&recs[k]), r.opts.Sentiment.MaxLen), Label: int64(l)})
		idx = append(idx, k)
	}
	return ds, idx
}

func (r *runner) behaviorText(rec *data.Record) string {
	return r.tx.behaviour(rec.UserIdx, rec.ItemIdx, rec.Time, rec.Row, 4*r.opts.Behavior.MaxLen)
}

func (r *runner) behaviorSet(recs []data.Record, mean float64) (train.Dataset, []int) {
	var ds train.Dataset
	var idx []int
	for k := range recs {
		y := r.behaviorTarget(&recs[k].Interaction)
		if math.IsNaN(y) {
			continue
		}
		ds = append(ds, train.Example{InputIDs: r.encode(r.behaviorText(&recs[k]), r.opts.Behavior.MaxLen), Target: y - mean})
		idx = append(idx, k)
	}
	return ds, idx
}

// heads fine-tunes the sentiment (H1) and behaviour (H2) heads, evaluates them on the test
// split, and saves both as HF GPT2ForSequenceClassification checkpoints.
//
// which is "both" (separately, or jointly when Options.Multitask), "sentiment", "behavior" or
// "multitask"; a head that is not trained is returned nil.
func (r *runner) heads(which string) (sent, beh *gpt2.SequenceClassifier, targetMean float64, err error) {
	sd := r.sd
	if which == "both" && r.opts.Multitask {
		which = "multitask"
	}
	doSent := which != "behavior"
	doBeh := which != "sentiment"
	// The regression head has no bias (HF's score layer), so it learns the centred target; the
	// training mean is added back to predictions (and recorded in the checkpoint's config).
	var ys []float64
	for k := range sd.Train {
		if y := r.behaviorTarget(&sd.Train[k].Interaction); !math.IsNaN(y) {
			ys = append(ys, y)
		}
	}
	if doBeh && len(ys) == 0 {
		return nil, nil, 0, fmt.Errorf("pipeline: no training interaction has the behavior target %q", r.opts.BehaviorColumn)
	}
	targetMean = baseline.GlobalMean(ys)
	r.purpose = "sentiment:train"
	sTrain, _ := r.sentimentSet(sd.Train)
	r.purpose = "sentiment:valid"
	sValid, _ := r.sentimentSet(sd.Valid)
	r.purpose = "behavior:train"
	bTrain, _ := r.behaviorSet(sd.Train, targetMean)
	r.purpose = "behavior:valid"
	bValid, _ := r.behaviorSet(sd.Valid, targetMean)
	if doSent && len(sTrain) == 0 {
		return nil, nil, 0, errors.New("pipeline: no rated training interaction for the sentiment head")
	}
	fail := func(e error) (*gpt2.SequenceClassifier, *gpt2.SequenceClassifier, float64, error) {
		if sent != nil {
			sent.Free()
		}
		if beh != nil {
			beh.Free()
		}
		return nil, nil, 0, e
	}
	if doSent {
		if sent, err = r.headFrom(SentimentLabels, 3, gpt2.ProblemSingleLabel); err != nil {
			return fail(err)
		}
		if r.opts.BalanceSentiment {
			w := balancedWeights(sTrain, len(SentimentLabels))
			r.log.Info("sentiment class weights (balanced)", "weights", w)
			t, err := torch.FromSlice(w)
			if err == nil {
				sent.ClassWeights, err = t.To(r.dev, sent.Backbone.DType())
				t.Free()
			}
			if err != nil {
				return fail(err)
			}
		}
	}
	if doBeh {
		if beh, err = r.headFrom(nil, 1, gpt2.ProblemRegression); err != nil {
			return fail(err)
		}
		beh.Config().Extra["hier_target_mean"] = json.RawMessage(fmt.Sprintf("%g", targetMean))
		beh.Config().Extra["hier_behavior_column"] = json.RawMessage(fmt.Sprintf("%q", r.opts.BehaviorColumn))
	}
	if which == "multitask" {
		if err := r.fitMultitask(sent, beh, sTrain, sValid, bTrain, bValid); err != nil {
			return fail(err)
		}
	} else {
		if doSent {
			cfg := r.stageConfig(r.opts.Sentiment, "sentiment")
			done := r.withEarlyStopping(&cfg, "sentiment", "macro_f1", sValid)
			res, err := train.Fit(r.ctx, &train.ClassificationTask{Model: sent, Labels: SentimentLabels, Tokenizer: r.tok}, sTrain, sValid, cfg)
			done()
			if err != nil {
				return fail(err)
			}
			r.record("sentiment", res)
		}
		if doBeh {
			cfg := r.stageConfig(r.opts.Behavior, "behavior")
			done := r.withEarlyStopping(&cfg, "behavior", "rmse", bValid)
			res, err := train.Fit(r.ctx, &train.RegressionTask{Model: beh, Tokenizer: r.tok}, bTrain, bValid, cfg)
			done()
			if err != nil {
				return fail(err)
			}
			r.record("behavior", res)
		}
	}
	if sent != nil {
		sent.Train(false)
		if err := sent.Save(filepath.Join(r.opts.OutDir, SentimentDir), r.tok); err != nil {
			return fail(err)
		}
	}
	if beh != nil {
		beh.Train(false)
		if err := beh.Save(filepath.Join(r.opts.OutDir, BehaviorDir), r.tok); err != nil {
			return fail(err)
		}
	}
	if err := r.evalHeads(sent, beh, targetMean); err != nil {
		return fail(err)
	}
	return sent, beh, targetMean, nil
}

// evalHeads fills the sentiment report (test reviews) and the behaviour errors (held-out
// ratings) beside the global-mean and user+item-bias baselines.
func (r *runner) evalHeads(sent, beh *gpt2.SequenceClassifier, targetMean float64) error {
	if sent != nil {
		if err := r.evalSentiment(sent); err != nil {
			return err
		}
	}
	if beh != nil {
		return r.evalBehavior(beh, targetMean)
	}
	return nil
}

// evalSentiment is the classification report of the sentiment head on the test reviews.
func (r *runner) evalSentiment(sent *gpt2.SequenceClassifier) error {
	sd := r.sd
	r.purpose = "sentiment:test"
	sTest, _ := r.sentimentSet(sd.Test)
	enc := &Encoder{Backbone: sent.Backbone, Head: sent, Tok: r.tok, MaxLen: r.opts.Sentiment.MaxLen, Batch: 64, Pool: PoolLast}
	ids := make([][]int64, len(sTest))
	yTrue := make([]int, len(sTest))
	for i, e := range sTest {
		ids[i], yTrue[i] = e.InputIDs, int(e.Label)
	}
	m, err := enc.EncodeIDs(ids)
	if err != nil {
		return err
	}
	d := sent.Backbone.Config.NEmbd
	yPred := make([]int, len(sTest))
	for i := range yPred {
		row := m.Row(i)[d:]
		best := 0
		for j := range row {
			if row[j] > row[best] {
				best = j
			}
		}
		yPred[i] = best
	}
	r.res.Sentiment = eval.ClassificationReport(yTrue, yPred, SentimentLabels)
	return nil
}

// evalBehavior is the H2 model's error on each held-out (user, item) rating, predicted from
// training data only, beside the global-mean and user+item-bias baselines.
func (r *runner) evalBehavior(beh *gpt2.SequenceClassifier, targetMean float64) error {
	sd := r.sd
	r.purpose = "behavior:test"
	bTest, idx := r.behaviorSet(sd.Test, targetMean)
	benc := &Encoder{Backbone: beh.Backbone, Head: beh, Tok: r.tok, MaxLen: r.opts.Behavior.MaxLen, Batch: 64, Pool: PoolLast}
	var ids [][]int64
	for _, e := range bTest {
		ids = append(ids, e.InputIDs)
	}
	bm, err := benc.EncodeIDs(ids)
	if err != nil {
		return err
	}
	var users, items []int
	var ratings []float64
	for k := range sd.Train {
		if y := r.behaviorTarget(&sd.Train[k].Interaction); !math.IsNaN(y) {
			users, items, ratings = append(users, sd.Train[k].UserIdx), append(items, sd.Train[k].ItemIdx), append(ratings, y)
		}
	}
	biases, err := baseline.FitBiases(users, items, ratings, sd.NumUsers(), sd.NumItems(), baseline.DefaultBiasConfig())
	if err != nil {
		return err
	}
	pred, truth, gm, bias := make([]float64, len(bTest)), make([]float64, len(bTest)), make([]float64, len(bTest)), make([]float64, len(bTest))
	for i, k := range idx {
		rec := &sd.Test[k]
		truth[i] = bTest[i].Target + targetMean
		pred[i] = float64(bm.Row(i)[bm.Cols-1]) + targetMean
		gm[i] = targetMean
		bias[i] = biases.Predict(rec.UserIdx, rec.ItemIdx)
	}
	r.res.Behavior = Behavior{
		Model:        eval.RegressionMetrics(pred, truth),
		GlobalMean:   eval.RegressionMetrics(gm, truth),
		UserItemBias: eval.RegressionMetrics(bias, truth),
	}
	return nil
}
