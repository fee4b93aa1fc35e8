package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hier-ai/hier/hier/data"
	"github.com/hier-ai/hier/hier/gpt2"
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
	ds, err := LoadDataset(opts)
	if err != nil {
		return nil, err
	}
	if opts.ModelDir != "" {
		opts.ContinuePretraining = true
	}
	r, err := setup(ctx, ds, opts, log)
	if err != nil {
		return nil, err
	}
	var m *gpt2.Model
	if err := r.timed("backbone", func() (err error) { m, err = r.backbone(); return err }); err != nil {
		return nil, err
	}
	m.Free()
	return &StageReport{Stage: "pretrain", Dirs: map[string]string{"backbone": filepath.Join(r.opts.OutDir, BackboneDir)},
		Counts: r.res.Counts, Timings: r.res.Timings, WallSeconds: time.Since(r.started).Seconds()}, nil
}

// Finetune trains the sentiment head ("sentiment"), the behaviour head ("behavior") or both
// jointly ("multitask") on the backbone in opts.ModelDir (required), evaluates them on the
// test split and writes their HF checkpoints under <OutDir>/checkpoints.
func Finetune(ctx context.Context, opts Options, task string, log *slog.Logger) (*StageReport, error) {
	switch task {
	case "sentiment", "behavior", "multitask":
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
	r, err := setup(ctx, ds, opts, log)
	if err != nil {
		return nil, err
	}
	m, err := r.backbone() // copies the backbone into OutDir, where the heads start from
	if err != nil {
		return nil, err
	}
	m.Free()
	var sent, beh *gpt2.SequenceClassifier
	if err := r.timed(task, func() (err error) { sent, beh, _, err = r.heads(task); return err }); err != nil {
		return nil, err
	}
	rep := &StageReport{Stage: "finetune:" + task, Dirs: map[string]string{}, Counts: r.res.Counts, Timings: r.res.Timings}
	if sent != nil {
		rep.Sentiment = r.res.Sentiment
		rep.Dirs["sentiment"] = filepath.Join(r.opts.OutDir, SentimentDir)
		sent.Free()
	}
	if beh != nil {
		b := r.res.Behavior
		rep.Behavior = &b
		rep.Dirs["behavior"] = filepath.Join(r.opts.OutDir, BehaviorDir)
		beh.Free()
	}
	rep.WallSeconds = time.Since(r.started).Seconds()
	return rep, nil
}

// Evaluate recomputes a finished run's results from what it saved: the dataset and split are
// rebuilt from config.json, the sentiment and behaviour checkpoints are re-evaluated on the
// test split, every recommender is re-ranked from its saved vectors, and the baselines are
// refitted with the run's seed. Nothing in the run directory is modified.
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
	r, err := setup(ctx, ds, opts, log)
	if err != nil {
		return nil, err
	}
	load := func(sub string) (*gpt2.SequenceClassifier, error) {
		c, _, err := gpt2.LoadSequenceClassifier(filepath.Join(runDir, sub), gpt2.LoadOptions{Device: r.dev})
		if err != nil {
			return nil, err
		}
		c.Train(false)
		return c, nil
	}
	sent, err := load(SentimentDir)
	if err != nil {
		return nil, err
	}
	defer sent.Free()
	beh, err := load(BehaviorDir)
	if err != nil {
		return nil, err
	}
	defer beh.Free()
	mean, err := strconv.ParseFloat(string(beh.Config().Extra["hier_target_mean"]), 64)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %s: config.json lacks a numeric hier_target_mean", filepath.Join(runDir, BehaviorDir))
	}
	if err := r.evalHeads(sent, beh, mean); err != nil {
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
	for _, ab := range ablations {
		u, ok1 := ts["users."+ab.name]
		it, ok2 := ts["items."+ab.name]
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("pipeline: %s lacks the vectors of recommender %s", filepath.Join(runDir, VectorsFileName), ab.name)
		}
		um, err := matrixFromTensor(u)
		if err != nil {
			return nil, err
		}
		im, err := matrixFromTensor(it)
		if err != nil {
			return nil, err
		}
		if um.Rows != r.sd.NumUsers() || im.Rows != r.sd.NumItems() {
			return nil, fmt.Errorf("pipeline: saved vectors (%d users, %d items) do not match the rebuilt split (%d, %d)", um.Rows, im.Rows, r.sd.NumUsers(), r.sd.NumItems())
		}
		r.res.Ranking[ab.name] = r.proto.rankingReport(dotScores(um, im))
	}
	if err := r.baselines(); err != nil {
		return nil, err
	}
	// What evaluation cannot recompute (how the run was trained) comes from its metrics.json.
	if raw, err := os.ReadFile(filepath.Join(runDir, MetricsFileName)); err == nil {
		var prev Results
		if json.Unmarshal(raw, &prev) == nil {
			r.res.Backbone, r.res.Recommenders, r.res.Multitask = prev.Backbone, prev.Recommenders, prev.Multitask
		}
	}
	r.res.Timings = map[string]float64{"evaluate": time.Since(start).Seconds()}
	r.res.WallSeconds = time.Since(start).Seconds()
	return r.res, nil
}
