package train

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/hier-ai/hier/hier/eval"
	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/torch"
	"github.com/stretchr/testify/require"
)

func TestClassificationLearns(t *testing.T) {
	noLeak(t)
	const vocab = 24
	cls := newClassifier(t, tinyConfig(vocab, 32, 1, 0), torch.Float32, 1, 2)
	task := &ClassificationTask{Model: cls, Labels: []string{"absent", "present"}}
	tr, va := hasFiveData(384, vocab, 1), hasFiveData(128, vocab, 2)
	var buf bytes.Buffer
	res := fit(t, task, tr, va, Config{Epochs: 6, BatchSize: 16, LR: 3e-3, WarmupRatio: 0.05, WeightDecay: 0.01,
		MaxGradNorm: 1, Seed: 1, EarlyStopMetric: "accuracy", Progress: true, ProgressWriter: &buf})
	require.Len(t, res.Epochs, 6)
	require.Equal(t, 6*24, res.Steps)
	last := res.Epochs[5].Metrics
	require.NotNil(t, last)
	first := res.Epochs[0].Metrics.Values
	t.Logf("epoch 1: %v\nepoch 6: %v\n%s", res.Epochs[0].Metrics, last, last.Report)
	require.Greater(t, last.Values["accuracy"], 0.9)
	require.Greater(t, last.Values["macro_f1"], 0.9)
	require.Less(t, last.Values["loss"], first["loss"])
	require.Less(t, res.Epochs[5].TrainLoss, res.Epochs[0].TrainLoss)
	// The report is sklearn's, for both classes, over the whole validation set.
	rep, ok := last.Detail.(eval.Report)
	require.True(t, ok)
	require.Equal(t, 128, rep.MacroAvg.Support)
	require.Equal(t, 128, rep.Classes["absent"].Support+rep.Classes["present"].Support)
	require.Equal(t, rep.Accuracy, last.Values["accuracy"])
	require.Contains(t, last.Report, "macro avg")
	require.Contains(t, last.Report, "present")
	// Best epoch bookkeeping for a higher-is-better metric.
	best := 0.0
	for _, e := range res.Epochs {
		best = max(best, e.Metrics.Values["accuracy"])
	}
	require.Equal(t, best, res.BestMetric)
	require.Equal(t, best, res.Epochs[res.BestEpoch-1].Metrics.Values["accuracy"])
	require.Greater(t, res.Tokens, int64(0))
	require.Greater(t, res.TokensPerSecond, 0.0)
	require.Contains(t, buf.String(), "epoch 6/6")
	require.Contains(t, buf.String(), "144/144")
	require.False(t, cls.Backbone.Training(), "Fit leaves the model in eval mode")
}

func TestRegressionLearns(t *testing.T) {
	noLeak(t)
	const vocab = 24
	m := newClassifier(t, tinyConfig(vocab, 32, 1, 0), torch.Float32, 3, 1)
	task := &RegressionTask{Model: m}
	tr, va := hasFiveData(384, vocab, 3), hasFiveData(128, vocab, 4)
	before, err := Evaluate(context.Background(), task, va, Config{BatchSize: 64})
	require.NoError(t, err)
	res := fit(t, task, tr, va, Config{Epochs: 6, BatchSize: 16, LR: 3e-3, MaxGradNorm: 1, Seed: 2, EarlyStopMetric: "rmse"})
	after := res.Epochs[len(res.Epochs)-1].Metrics
	t.Logf("before: %v\nafter: %v", before, after)
	require.Less(t, after.Values["mse"], 0.25*before.Values["mse"])
	require.InDelta(t, math.Sqrt(after.Values["mse"]), after.Values["rmse"], 1e-12)
	require.InDelta(t, after.Values["mse"], after.Values["loss"], 1e-4, "the eval loss is the MSE")
	r, ok := after.Detail.(eval.Regression)
	require.True(t, ok)
	require.Equal(t, 128, r.N)
	require.Less(t, r.MAE, before.Values["mae"])
}

func TestLMLearns(t *testing.T) {
	noLeak(t)
	const vocab = 64
	m := newBackbone(t, tinyConfig(vocab, 32, 1, 0), torch.Float32, 5)
	task := &LMTask{Model: m}
	tr, va := countingData(256, vocab, 20, 5), countingData(64, vocab, 20, 6)
	before, err := Evaluate(context.Background(), task, va, Config{BatchSize: 64})
	require.NoError(t, err)
	require.InDelta(t, math.Log(vocab), before.Values["loss"], 0.3, "an untrained model is near uniform")
	var logs bytes.Buffer
	res := fit(t, task, tr, va, Config{Epochs: 5, BatchSize: 16, LR: 5e-3, WarmupSteps: 5, MaxGradNorm: 1, Seed: 3,
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	after := res.Epochs[len(res.Epochs)-1].Metrics
	t.Logf("before: %v\nafter: %v", before, after)
	require.Less(t, after.Values["perplexity"], 4.0) // vocabulary 64
	require.InDelta(t, math.Exp(after.Values["loss"]), after.Values["perplexity"], 1e-9)
	var predicted int
	for _, e := range va {
		predicted += len(e.InputIDs) - 1
	}
	require.Equal(t, float64(predicted), after.Values["tokens"])
	require.Equal(t, "loss", res.Metric)
	// slog: one Info line per epoch with the evaluation metrics, one Debug line per step.
	var epochs, steps int
	for _, line := range bytes.Split(bytes.TrimSpace(logs.Bytes()), []byte("\n")) {
		var rec map[string]any
		require.NoError(t, json.Unmarshal(line, &rec))
		switch rec["msg"] {
		case "train: epoch done":
			epochs++
			require.Equal(t, "INFO", rec["level"])
			ppl := rec["eval"].(map[string]any)["perplexity"].(float64)
			require.Equal(t, res.Epochs[epochs-1].Metrics.Values["perplexity"], ppl)
		case "train: step":
			steps++
			require.Equal(t, "DEBUG", rec["level"])
		}
	}
	require.Equal(t, 5, epochs)
	require.Equal(t, res.Steps, steps)
	require.Equal(t, res.Epochs[res.BestEpoch-1].Metrics.Values["loss"], res.BestMetric)
}

// Gradient accumulation is exact: micro-batches of 4 accumulated twice give the parameters of
// batches of 8, for a token-weighted loss (LM, rows of different lengths) and an example-weighted
// one (classification, whose last step joins micro-batches of 4 and 2), with AdamW and with SGD (whose update is
// proportional to the gradient, so any weighting error shows).
func TestGradAccumEquivalence(t *testing.T) {
	noLeak(t)
	const vocab = 32
	c := tinyConfig(vocab, 16, 1, 0)
	sgd := func(groups []torch.ParamGroup, lr float64) (torch.Optimizer, error) {
		return torch.NewSGD(groups, torch.SGDConfig{LR: lr, Momentum: 0.9})
	}
	for _, tc := range []struct {
		name string
		lm   bool
		opt  func([]torch.ParamGroup, float64) (torch.Optimizer, error)
	}{{"lm/adamw", true, nil}, {"lm/sgd", true, sgd}, {"cls/adamw", false, nil}, {"cls/sgd", false, sgd}} {
		t.Run(tc.name, func(t *testing.T) {
			var data Dataset
			mk := func() Task {
				if tc.lm {
					data = countingData(22, vocab, 16, 8)
					return &LMTask{Model: newBackbone(t, c, torch.Float64, 9)}
				}
				data = hasFiveData(22, vocab, 8)
				return &ClassificationTask{Model: newClassifier(t, c, torch.Float64, 9, 2)}
			}
			base := Config{Epochs: 2, LR: 1e-2, WarmupSteps: 2, WeightDecay: 0.1, MaxGradNorm: 1, Seed: 4, NewOptimizer: tc.opt}
			a, b := mk(), mk()
			require.Zero(t, maxDiff(t, snapshot(t, a.Params()), snapshot(t, b.Params())))
			ca, cb := base, base
			ca.BatchSize, ca.GradAccum = 8, 1
			cb.BatchSize, cb.GradAccum = 4, 2
			ra, rb := fit(t, a, data, nil, ca), fit(t, b, data, nil, cb)
			require.Equal(t, 6, ra.Steps) // 22 examples: steps of 8, 8 and 6 (micro-batches 4 + 2), twice
			require.Equal(t, ra.Steps, rb.Steps)
			for i := range ra.StepLosses {
				require.InDelta(t, ra.StepLosses[i], rb.StepLosses[i], 1e-9, "step %d", i+1)
			}
			d := maxDiff(t, snapshot(t, a.Params()), snapshot(t, b.Params()))
			t.Logf("max |Δparam| = %.3g", d)
			require.Less(t, d, 1e-6)
			init := mk()
			require.Greater(t, maxDiff(t, snapshot(t, a.Params()), snapshot(t, init.Params())), 1e-3, "training moved the parameters")
		})
	}
}

func TestDeterminism(t *testing.T) {
	noLeak(t)
	const vocab = 24
	c := tinyConfig(vocab, 16, 1, 0.1) // dropout on: the per-step reseeding must make it repeatable
	tr, va := hasFiveData(48, vocab, 10), hasFiveData(16, vocab, 11)
	run := func(seed uint64) (*Result, map[string][]float64) {
		cls := newClassifier(t, c, torch.Float32, 12, 2)
		task := &ClassificationTask{Model: cls}
		res := fit(t, task, tr, va, Config{Epochs: 2, BatchSize: 8, GradAccum: 2, LR: 1e-3, Seed: seed, MaxGradNorm: 1})
		return res, snapshot(t, task.Params())
	}
	r1, p1 := run(7)
	r2, p2 := run(7)
	require.Equal(t, r1.StepLosses, r2.StepLosses, "bitwise identical losses")
	require.Zero(t, maxDiff(t, p1, p2))
	require.Equal(t, r1.Epochs[1].Metrics.Values, r2.Epochs[1].Metrics.Values)
	r3, _ := run(8)
	require.NotEqual(t, r1.StepLosses, r3.StepLosses)
	// The first step sees a different shuffle with another seed.
	require.NotEqual(t, r1.StepLosses[0], r3.StepLosses[0])
}

// A run interrupted (context cancelled) and resumed from its checkpoint into a freshly
// initialised model reproduces the uninterrupted run bitwise: losses, epoch results, parameters.
// Cancellation is tried mid-epoch and right after an epoch's last step (its evaluation pending).
func TestCheckpointResume(t *testing.T) {
	noLeak(t)
	const vocab = 24
	c := tinyConfig(vocab, 16, 1, 0.1)
	tr, va := hasFiveData(40, vocab, 20), hasFiveData(16, vocab, 21)
	// 40 examples in micro-batches of 4 accumulated in pairs: 5 optimizer steps per epoch.
	cfg := Config{Epochs: 3, BatchSize: 4, GradAccum: 2, LR: 2e-3, WarmupRatio: 0.2, WeightDecay: 0.01,
		MaxGradNorm: 0.5, Seed: 5, Logger: quiet}
	ref := newClassifier(t, c, torch.Float32, 30, 2)
	want := fit(t, &ClassificationTask{Model: ref}, tr, va, cfg)
	require.Equal(t, 15, want.Steps)
	wantParams := snapshot(t, ref.Params())

	for _, cancelAt := range []int{3, 5, 7} {
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		cfg1 := cfg
		cfg1.CheckpointDir, cfg1.CheckpointEvery = dir, 2
		cfg1.OnStep = func(s StepInfo) {
			if s.Step == cancelAt {
				cancel()
			}
		}
		first := newClassifier(t, c, torch.Float32, 30, 2)
		res1, err := Fit(ctx, &ClassificationTask{Model: first}, tr, va, cfg1)
		cancel()
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, cancelAt, res1.Steps)
		require.Equal(t, want.StepLosses[:cancelAt], res1.StepLosses)
		require.Equal(t, filepath.Join(dir, "checkpoint-"+itoa(cancelAt)), res1.Checkpoint)
		latest, err := LatestCheckpoint(dir)
		require.NoError(t, err)
		require.Equal(t, res1.Checkpoint, latest)

		// Resume into a model with different initial weights: everything must come from the checkpoint.
		second := newClassifier(t, c, torch.Float32, 99, 2)
		cfg2 := cfg
		cfg2.CheckpointDir, cfg2.CheckpointEvery, cfg2.Resume = dir, 2, true
		res2 := fit(t, &ClassificationTask{Model: second}, tr, va, cfg2)
		require.Equal(t, latest, res2.ResumedFrom)
		require.Equal(t, want.StepLosses, res2.StepLosses, "cancel at %d", cancelAt)
		require.Len(t, res2.Epochs, 3)
		for i := range want.Epochs {
			require.Equal(t, want.Epochs[i].TrainLoss, res2.Epochs[i].TrainLoss, "epoch %d", i+1)
			require.Equal(t, want.Epochs[i].Metrics.Values, res2.Epochs[i].Metrics.Values, "epoch %d", i+1)
		}
		require.Equal(t, want.BestEpoch, res2.BestEpoch)
		require.Zero(t, maxDiff(t, wantParams, snapshot(t, second.Params())), "cancel at %d", cancelAt)

		// The final checkpoint holds the finished run; resuming it does nothing more.
		require.Equal(t, filepath.Join(dir, "checkpoint-15"), res2.Checkpoint)
		third := newClassifier(t, c, torch.Float32, 77, 2)
		res3 := fit(t, &ClassificationTask{Model: third}, tr, va, cfg2)
		require.Equal(t, 15, res3.Steps)
		require.Equal(t, want.StepLosses, res3.StepLosses)
		require.Zero(t, maxDiff(t, wantParams, snapshot(t, third.Params())))
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestCheckpointContents(t *testing.T) {
	noLeak(t)
	const vocab = 24
	cls := newClassifier(t, tinyConfig(vocab, 16, 1, 0), torch.Float32, 40, 2)
	task := &ClassificationTask{Model: cls}
	dir := t.TempDir()
	tr := hasFiveData(24, vocab, 41)
	res := fit(t, task, tr, nil, Config{Epochs: 2, BatchSize: 4, LR: 1e-3, Seed: 1,
		CheckpointDir: dir, CheckpointEvery: 4, KeepCheckpoints: 2})
	require.Equal(t, 12, res.Steps)
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	require.Equal(t, []string{"checkpoint-12", "checkpoint-8"}, names, "only the 2 newest are kept, no temporaries left")
	ck := filepath.Join(dir, "checkpoint-12")
	for _, f := range []string{StateFile, OptimizerFile, ModelFile, gpt2.ConfigFile} {
		require.FileExists(t, filepath.Join(ck, f))
	}
	var st map[string]any
	b, err := os.ReadFile(filepath.Join(ck, StateFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &st))
	require.Equal(t, 12.0, st["global_step"])
	require.Equal(t, 2.0, st["epoch"])
	require.Len(t, st["losses"], 12)
	require.Equal(t, 4.0, st["config"].(map[string]any)["batch_size"])
	// The model directory is an HF checkpoint the gpt2 package loads back.
	back, _, err := gpt2.LoadSequenceClassifier(ck, gpt2.LoadOptions{})
	require.NoError(t, err)
	defer back.Free()
	require.Zero(t, maxDiff(t, snapshot(t, cls.Params()), snapshot(t, back.Params())))
	// The optimizer state has both moments of every parameter and the step count.
	hs, meta, err := torch.ReadSafetensorsHeader(filepath.Join(ck, OptimizerFile))
	require.NoError(t, err)
	require.Len(t, hs, 2*len(cls.Params()))
	require.Equal(t, "12", meta["scalar.step"])

	// A resumed run with another batch size is refused.
	_, err = Fit(context.Background(), task, tr, nil, Config{Epochs: 3, BatchSize: 8, LR: 1e-3, Seed: 1,
		CheckpointDir: dir, Resume: true, Logger: quiet})
	require.ErrorContains(t, err, "data position")
	// Resume with an empty directory starts fresh.
	res, err = Fit(context.Background(), task, tr[:4], nil, Config{Epochs: 1, BatchSize: 4, LR: 1e-3,
		CheckpointDir: t.TempDir(), Resume: true, Logger: quiet})
	require.NoError(t, err)
	require.Empty(t, res.ResumedFrom)
	require.Equal(t, 1, res.Steps)
}

// scriptedTask trains a real classifier but reports scripted validation metrics per evaluation.
type scriptedTask struct {
	*ClassificationTask
	metric string
	values []float64
	evals  int
}

func (s *scriptedTask) NewEvaluator() Evaluator { return &scriptedEval{s} }

type scriptedEval struct{ s *scriptedTask }

func (e *scriptedEval) Add(*torch.Scope, *Batch) error { return nil }
func (e *scriptedEval) Metrics() Metrics {
	v := e.s.values[e.s.evals]
	e.s.evals++
	return Metrics{Values: map[string]float64{"loss": 1, e.s.metric: v}}
}

func TestEarlyStopping(t *testing.T) {
	noLeak(t)
	const vocab = 24
	tr, va := hasFiveData(16, vocab, 50), hasFiveData(4, vocab, 51)
	for _, tc := range []struct {
		name      string
		metric    string
		values    []float64
		patience  int
		threshold float64
		epochs    int // epochs run
		best      int
		stopped   bool
	}{
		// loss: best 0.8 at epoch 2, then two evaluations without improvement → stop after epoch 4.
		{"min", "loss", []float64{1, 0.8, 0.9, 0.85, 0.5, 0.4}, 2, 0, 4, 2, true},
		// accuracy (higher is better): 0.6 at epoch 3 beats 0.5; then 3 worse → stop after epoch 6.
		{"max", "accuracy", []float64{0.5, 0.5, 0.6, 0.55, 0.6, 0.1, 0.9}, 3, 0, 6, 3, true},
		// improvements smaller than the threshold do not count.
		{"threshold", "loss", []float64{1, 0.99, 0.98, 0.5}, 2, 0.05, 3, 1, true},
		// patience never runs out.
		{"complete", "loss", []float64{1, 0.9, 1, 0.8}, 2, 0, 4, 4, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cls := newClassifier(t, tinyConfig(vocab, 16, 1, 0), torch.Float32, 52, 2)
			task := &scriptedTask{ClassificationTask: &ClassificationTask{Model: cls}, metric: tc.metric, values: tc.values}
			var atBest map[string][]float64
			best := t.TempDir()
			cfg := Config{Epochs: 4, BatchSize: 8, LR: 1e-2, Seed: 1, EarlyStopMetric: tc.metric,
				EarlyStopPatience: tc.patience, EarlyStopThreshold: tc.threshold, BestModelDir: best, LoadBestAtEnd: true}
			if tc.name == "max" {
				cfg.Epochs = 7
			}
			cfg.OnStep = func(s StepInfo) { // 2 steps per epoch
				if s.Step == 2*tc.best {
					atBest = snapshot(t, task.Params())
				}
			}
			res := fit(t, task, tr, va, cfg)
			require.Len(t, res.Epochs, tc.epochs)
			require.Equal(t, tc.epochs, task.evals)
			require.Equal(t, tc.stopped, res.StoppedEarly)
			require.Equal(t, tc.best, res.BestEpoch)
			require.Equal(t, tc.values[tc.best-1], res.BestMetric)
			require.Equal(t, 2*tc.epochs, res.Steps)
			require.NotNil(t, atBest)
			require.Zero(t, maxDiff(t, atBest, snapshot(t, task.Params())), "LoadBestAtEnd restored the best epoch's parameters")
			require.FileExists(t, filepath.Join(best, ModelFile))
		})
	}
}

func TestFitErrors(t *testing.T) {
	noLeak(t)
	const vocab = 24
	c := tinyConfig(vocab, 16, 1, 0)
	cls := newClassifier(t, c, torch.Float32, 60, 2)
	task := &ClassificationTask{Model: cls}
	tr := hasFiveData(8, vocab, 61)
	ok := Config{Epochs: 1, BatchSize: 4, LR: 1e-3, Logger: quiet}
	ctx := context.Background()

	_, err := Fit(ctx, task, nil, nil, ok)
	require.ErrorContains(t, err, "empty training set")
	bad := append(Dataset{}, tr...)
	bad[3] = Example{InputIDs: []int64{1, 2}, Label: 2}
	_, err = Fit(ctx, task, bad, nil, ok)
	require.ErrorContains(t, err, "label 2 outside [0, 2)")
	bad[3] = Example{InputIDs: []int64{1, vocab}}
	_, err = Fit(ctx, task, bad, nil, ok)
	require.ErrorContains(t, err, "outside the vocabulary")
	withPatience := ok
	withPatience.EarlyStopPatience = 1
	_, err = Fit(ctx, task, tr, nil, withPatience)
	require.ErrorContains(t, err, "validation set")
	unknown := ok
	unknown.EarlyStopMetric = "bleu"
	_, err = Fit(ctx, task, tr, tr, unknown)
	require.ErrorContains(t, err, `no metric "bleu"`)

	lm := &LMTask{Model: newBackbone(t, c, torch.Float32, 62)}
	_, err = Fit(ctx, lm, Dataset{{InputIDs: []int64{3, 4}}, {InputIDs: []int64{3}}}, nil, ok)
	require.ErrorContains(t, err, "at least 2")

	noPad, err := c.Clone()
	require.NoError(t, err)
	noPad.PadTokenID = nil
	np := newClassifier(t, noPad, torch.Float32, 63, 2)
	_, err = Fit(ctx, &ClassificationTask{Model: np}, tr, nil, ok)
	require.ErrorContains(t, err, "pad_token_id")
	_, err = Fit(ctx, &RegressionTask{Model: cls}, tr, nil, ok)
	require.ErrorContains(t, err, "want 1 output")

	// Cancelled before the first step, without a checkpoint directory.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	res, err := Fit(cctx, task, tr, nil, ok)
	require.True(t, errors.Is(err, context.Canceled))
	require.Equal(t, 0, res.Steps)
}

// MaxSteps ends training early and sets the schedule's length; the cut epoch is evaluated.
func TestMaxStepsAndSchedule(t *testing.T) {
	noLeak(t)
	const vocab = 24
	cls := newClassifier(t, tinyConfig(vocab, 16, 1, 0), torch.Float32, 70, 2)
	tr, va := hasFiveData(20, vocab, 71), hasFiveData(8, vocab, 72)
	var lrs []float64
	var examples []int
	res := fit(t, &ClassificationTask{Model: cls}, tr, va, Config{Epochs: 2, BatchSize: 4, LR: 0.01, WarmupSteps: 1,
		MaxSteps: 3, Seed: 1, OnStep: func(s StepInfo) { lrs = append(lrs, s.LR); examples = append(examples, s.Examples) }})
	require.Equal(t, 3, res.Steps)
	require.Equal(t, 3, res.TotalSteps)
	// warm-up step 0 → lr 0; then (3-1)/(3-1) = 1, (3-2)/(3-1) = 0.5.
	require.Equal(t, []float64{0, 0.01, 0.005}, lrs)
	require.Equal(t, []int{4, 4, 4}, examples)
	require.Len(t, res.Epochs, 1)
	require.NotNil(t, res.Epochs[0].Metrics)
	require.Equal(t, 3, res.Epochs[0].Steps)
}
