package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hier-ai/hier/hier/baseline"
	"github.com/hier-ai/hier/hier/data"
	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/hier/rec"
	"github.com/hier-ai/hier/torch"
)

// StageReport is what Pretrain and Finetune did.
type StageReport struct {
	Stage       string             `json:"stage"`
	Dirs        map[string]string  `json:"checkpoints"`
	Counts      Counts             `json:"counts"`
	Sentiment   any                `json:"sentiment,omitempty"` // eval.Report on test reviews
	Behavior    *Behavior          `json:"behavior,omitempty"`
	Timings     map[string]float64 `json:"timings_seconds"`
	WallSeconds float64            `json:"wall_seconds"`
}

// Pretrain builds the backbone alone: a small GPT-2 pre-trained from scratch on the dataset's
// training-split text, or opts.ModelDir continued with the causal-LM objective. It writes the
// HF checkpoint to <OutDir>/checkpoints/backbone.
func Pretrain(ctx context.Context, opts Options, log *slog.Logger) (*StageReport, error) {
	start := time.Now()
	ds, err := LoadDataset(opts)
	if err != nil {
		return nil, err
	}
	if opts.ModelDir != "" {
		opts.ContinuePretraining = true
	}
	e, err := newEnv(ctx, opts, log)
	if err != nil {
		return nil, err
	}
	timings := map[string]float64{}
	var p *prepared
	if err := e.stage(timings, "prepare", func() (err error) { p, err = prepare(e, ds); return err }); err != nil {
		return nil, err
	}
	var bb *backboneOut
	if err := e.stage(timings, "backbone", func() (err error) { bb, err = trainBackbone(e, p); return err }); err != nil {
		return nil, err
	}
	bb.model.Free()
	return &StageReport{Stage: "pretrain", Dirs: map[string]string{"backbone": filepath.Join(e.out, BackboneDir)},
		Counts: p.count, Timings: timings, WallSeconds: time.Since(start).Seconds()}, nil
}

// Finetune trains the sentiment head ("sentiment"), the behaviour head ("behavior") or both
// jointly ("multitask") on the backbone in opts.ModelDir (required), evaluates them on the
// test split and writes their HF checkpoints under <OutDir>/checkpoints.
func Finetune(ctx context.Context, opts Options, task string, log *slog.Logger) (*StageReport, error) {
	start := time.Now()
	switch task {
	case headsSentiment, headsBehavior, headsMultitask:
	default:
		return nil, fmt.Errorf("pipeline: unknown fine-tuning task %q: want sentiment, behavior or multitask", task)
	}
	if opts.ModelDir == "" {
		return nil, fmt.Errorf("pipeline: fine-tuning needs a backbone checkpoint (--model DIR), e.g. from `hier pretrain`")
	}
	ds, err := LoadDataset(opts)
	if err != nil {
		return nil, err
	}
	opts.ContinuePretraining = false
	e, err := newEnv(ctx, opts, log)
	if err != nil {
		return nil, err
	}
	timings := map[string]float64{}
	var p *prepared
	if err := e.stage(timings, "prepare", func() (err error) { p, err = prepare(e, ds); return err }); err != nil {
		return nil, err
	}
	bb, err := trainBackbone(e, p) // copies the backbone into OutDir, where the heads start from
	if err != nil {
		return nil, err
	}
	bb.model.Free()
	var h *headsOut
	if err := e.stage(timings, task, func() (err error) { h, err = trainHeads(e, p, task); return err }); err != nil {
		return nil, err
	}
	defer h.free()
	res := &Results{}
	if err := evalHeads(e, p, h, res); err != nil {
		return nil, err
	}
	rep := &StageReport{Stage: "finetune:" + task, Dirs: map[string]string{}, Counts: p.count, Timings: timings}
	if h.sent != nil {
		rep.Sentiment = res.Sentiment
		rep.Dirs["sentiment"] = filepath.Join(e.out, SentimentDir)
	}
	if h.beh != nil {
		rep.Behavior = res.Behavior
		rep.Dirs["behavior"] = filepath.Join(e.out, BehaviorDir)
	}
	rep.WallSeconds = time.Since(start).Seconds()
	return rep, nil
}

// Evaluate recomputes a finished run's results from what it saved: the dataset and split are
// rebuilt from config.json, the sentiment and behaviour checkpoints are re-evaluated on the
// test split (the bias model refitted with the recorded regularisation), every method is
// re-ranked from its saved vectors for every seed, and the tables, slices and bootstrap are
// recomputed. How the run selected its configurations comes from its metrics.json. Nothing in
// the run directory is modified.
//
// Device and Threads, when set in override, replace the run's (e.g. to evaluate a GPU run on a CPU).
func Evaluate(ctx context.Context, runDir string, log *slog.Logger, override ...EvaluateOptions) (*Results, error) {
	opts, err := readRunConfig(runDir, override...)
	if err != nil {
		return nil, err
	}
	if opts.DataPath == "" && opts.Synthetic == nil {
		return nil, fmt.Errorf("pipeline: %s was made from an in-memory dataset; use EvaluateDataset with that dataset", runDir)
	}
	ds, err := LoadDataset(opts)
	if err != nil {
		return nil, err
	}
	return EvaluateDataset(ctx, ds, runDir, log, override...)
}

// EvaluateOptions override a run's device and thread count in Evaluate.
type EvaluateOptions struct {
	Device  string
	Threads int
}

func readRunConfig(runDir string, override ...EvaluateOptions) (Options, error) {
	var opts Options
	raw, err := os.ReadFile(filepath.Join(runDir, ConfigFileName))
	if err != nil {
		return opts, fmt.Errorf("pipeline: %w (is %s a run directory written by `hier run`?)", err, runDir)
	}
	if err := json.Unmarshal(raw, &opts); err != nil {
		return opts, fmt.Errorf("pipeline: %s: %w", filepath.Join(runDir, ConfigFileName), err)
	}
	opts.OutDir = runDir
	for _, o := range override {
		if o.Device != "" {
			opts.Device = o.Device
		}
		if o.Threads > 0 {
			opts.Threads = o.Threads
		}
	}
	return opts, nil
}

// EvaluateDataset is Evaluate for a run made by RunDataset from an in-memory dataset ds.
func EvaluateDataset(ctx context.Context, ds *data.Dataset, runDir string, log *slog.Logger, override ...EvaluateOptions) (*Results, error) {
	start := time.Now()
	opts, err := readRunConfig(runDir, override...)
	if err != nil {
		return nil, err
	}
	// What Evaluate reads of the run's metrics.json: these keys have kept their shape since
	// schema_version 2.
	var prev struct {
		SchemaVersion int                 `json:"schema_version"`
		Data          *DataSource         `json:"data"`
		Skipped       map[string]string   `json:"skipped"`
		Multitask     bool                `json:"multitask"`
		Backbone      string              `json:"backbone"`
		Recommenders  []RecommenderChoice `json:"recommenders"`
	}
	metricsFile := filepath.Join(runDir, MetricsFileName)
	raw, err := os.ReadFile(metricsFile)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w (is %s a finished run?)", err, runDir)
	}
	if err := json.Unmarshal(raw, &prev); err != nil {
		return nil, fmt.Errorf("pipeline: %s: %w", metricsFile, err)
	}
	if prev.SchemaVersion < 2 || prev.SchemaVersion > SchemaVersion {
		return nil, fmt.Errorf("pipeline: %s has schema_version %d; this hier reads 2 to %d (re-run `hier run`)", metricsFile, prev.SchemaVersion, SchemaVersion)
	}
	e, err := newEnv(ctx, opts, log)
	if err != nil {
		return nil, err
	}
	src, err := dataSource(&e.opts, ds)
	if err != nil {
		return nil, err
	}
	if prev.Data != nil {
		warnChangedData(e.log, metricsFile, prev.Data.Files, src.Files)
	}
	e.tokDir = filepath.Join(runDir, BackboneDir)
	p, err := prepare(e, ds)
	if err != nil {
		return nil, err
	}
	res := &Results{SchemaVersion: SchemaVersion, Dataset: p.name, Counts: p.count, Split: p.split, Fusion: e.opts.Fusion,
		Multitask: prev.Multitask, Backbone: prev.Backbone, Skipped: prev.Skipped, OutDir: runDir}
	h, err := loadHeads(e, p, runDir)
	if err != nil {
		return nil, err
	}
	defer h.free()
	if err := evalHeads(e, p, h, res); err != nil {
		return nil, err
	}
	ts, _, err := torch.LoadSafetensors(filepath.Join(runDir, VectorsFileName), torch.CPU)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, t := range ts {
			t.Free()
		}
	}()
	ro := &recOut{skipped: prev.Skipped}
	for _, ch := range prev.Recommenders {
		r := &rec.Result{Variant: rec.Variant{Name: ch.Method, Family: ch.Family, Levels: ch.Levels, Text: ch.ItemText}, Config: ch.Config, Candidates: ch.Candidates}
		for _, s := range ch.Seeds {
			run := rec.SeedRun{Seed: s.Seed, ValidNDCG: s.ValidNDCG, BestEpoch: s.BestEpoch, Seconds: s.Seconds, History: make([]rec.EpochStat, s.Epochs)}
			if run.UserVecs, run.ItemVecs, err = savedVectors(ts, runDir, ch.Method, s.Seed, p.data); err != nil {
				return nil, err
			}
			users := p.data.EvalUsers(rec.Test)
			if run.Test, err = rec.RankVectors(p.data, users, rowsOf(run.UserVecs, users), run.ItemVecs, rec.Test); err != nil {
				return nil, err
			}
			r.Seeds = append(r.Seeds, run)
		}
		ro.results = append(ro.results, r)
	}
	if err := evaluateRecommenders(p.data, ro, res); err != nil {
		return nil, err
	}
	res.Timings = map[string]float64{"evaluate": time.Since(start).Seconds()}
	res.Wall = time.Since(start).Seconds()
	fillProvenance(e, p, src, res)
	return res, nil
}

// warnChangedData logs a warning for every data file whose SHA-256 differs from the one the run
// recorded (the numbers then need not match the run's).
func warnChangedData(log *slog.Logger, metricsFile string, then, now []DataFile) {
	was := map[string]string{}
	for _, f := range then {
		was[f.Path] = f.SHA256
	}
	for _, f := range now {
		if h, ok := was[f.Path]; ok && h != f.SHA256 {
			log.Warn("data file changed since the run (its SHA-256 differs from the one in metrics.json)", "file", f.Path, "metrics", metricsFile, "was", h, "now", f.SHA256)
		}
	}
}

// savedVectors reads one method's vectors for one seed and checks them against the split.
func savedVectors(ts map[string]*torch.Tensor, runDir, method string, seed uint64, d *rec.Data) (u, v *Matrix, err error) {
	file := filepath.Join(runDir, VectorsFileName)
	get := func(side string) (*Matrix, error) {
		t, ok := ts[vectorName(side, method, seed)]
		if !ok {
			return nil, fmt.Errorf("pipeline: %s lacks %s (the vectors of recommender %s, seed %d)", file, vectorName(side, method, seed), method, seed)
		}
		return matrixFromTensor(t)
	}
	if u, err = get("users"); err != nil {
		return nil, nil, err
	}
	if v, err = get("items"); err != nil {
		return nil, nil, err
	}
	if u.Rows != d.NumUsers || v.Rows != d.NumItems || u.Cols != v.Cols {
		return nil, nil, fmt.Errorf("pipeline: %s: vectors of %s ([%d,%d], [%d,%d]) do not match the rebuilt split (%d users, %d items)", file, method, u.Rows, u.Cols, v.Rows, v.Cols, d.NumUsers, d.NumItems)
	}
	return u, v, nil
}

// loadHeads reloads a run's heads for evaluation: the checkpoints that exist, the bias model
// refitted on the training split with the recorded regularisation, and the recorded blend.
func loadHeads(e *env, p *prepared, runDir string) (h *headsOut, err error) {
	h = &headsOut{curves: map[string]StageCurve{}, skipped: map[string]string{}}
	defer func() {
		if err != nil {
			h.free()
		}
	}()
	load := func(sub string) (*gpt2.SequenceClassifier, error) {
		dir := filepath.Join(runDir, sub)
		if _, err := os.Stat(filepath.Join(dir, gpt2.ConfigFile)); os.IsNotExist(err) {
			return nil, nil
		}
		c, _, err := gpt2.LoadSequenceClassifier(dir, gpt2.LoadOptions{Device: e.dev})
		if err != nil {
			return nil, err
		}
		c.Train(false)
		return c, nil
	}
	if h.sent, err = load(SentimentDir); err != nil {
		return nil, err
	}
	if h.beh, err = load(BehaviorDir); err != nil || h.beh == nil {
		return h, err
	}
	ex := h.beh.Config().Extra
	num := func(key string) (float64, error) {
		v, err := strconv.ParseFloat(string(ex[key]), 64)
		if err != nil || math.IsNaN(v) {
			return 0, fmt.Errorf("pipeline: %s: config.json lacks a numeric %s", filepath.Join(runDir, BehaviorDir), key)
		}
		return v, nil
	}
	cfg := baseline.DefaultBiasConfig()
	if cfg.LambdaU, err = num(extraBiasLambdU); err != nil {
		return nil, err
	}
	if cfg.LambdaI, err = num(extraBiasLambdI); err != nil {
		return nil, err
	}
	if h.alpha, err = num(extraAlpha); err != nil {
		return nil, err
	}
	tr := behaviorRatings(&e.opts, p.sd.Train)
	h.biasSel.Config = cfg
	h.bias, err = baseline.FitBiases(tr.Users, tr.Items, tr.Values, p.sd.NumUsers(), p.sd.NumItems(), cfg)
	return h, err
}
