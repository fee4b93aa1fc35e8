package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hier-ai/hier/hier/data"
	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/hier/rec"
	"github.com/hier-ai/hier/torch"
)

// leakDataset: every user has 5 reviews; the last two (valid, test) carry unique marker words.
func leakDataset() *data.Dataset {
	ds := &data.Dataset{Name: "leak", HasReviewText: true}
	row := 0
	for u := 0; u < 6; u++ {
		for k := 0; k < 5; k++ {
			text := fmt.Sprintf("plain words about item %d", (u+k)%7)
			summary := "ok"
			switch k {
			case 3:
				text, summary = fmt.Sprintf("validmarker%d body", u), fmt.Sprintf("validsum%d", u)
			case 4:
				text, summary = fmt.Sprintf("testmarker%d body", u), fmt.Sprintf("testsum%d", u)
			}
			ds.Interactions = append(ds.Interactions, data.Interaction{
				User: fmt.Sprintf("u%d", u), Item: fmt.Sprintf("i%d", (u+k)%7), Rating: float64(1 + (u+k)%5),
				Time: int64(1000 + 10*k), Text: text, Summary: summary, Row: row,
			})
			row++
		}
	}
	return ds
}

func TestNoLeakageIntoFeatures(t *testing.T) {
	sd, err := data.Split(leakDataset())
	require.NoError(t, err)
	require.Len(t, sd.Test, 6)
	tx := newTexts(sd)
	var seen []string
	// Everything the feature stage reads: user texts (H0), item texts (item vectors), training
	// reviews (H1), behaviour texts of training interactions (H2) ...
	seen = append(seen, sd.UserTexts(0)...)
	seen = append(seen, sd.ItemTexts(0)...)
	for k := range sd.Train {
		seen = append(seen, tx.review(&sd.Train[k]), tx.behaviour(sd.Train[k].UserIdx, sd.Train[k].ItemIdx, sd.Train[k].Time, sd.Train[k].Row, 0))
	}
	// ... and the behaviour inputs built for the held-out interactions being predicted.
	for _, recs := range [][]data.Record{sd.Valid, sd.Test} {
		for k := range recs {
			seen = append(seen, tx.behaviour(recs[k].UserIdx, recs[k].ItemIdx, recs[k].Time, recs[k].Row, 0))
		}
	}
	all := strings.Join(seen, "\n")
	for u := 0; u < 6; u++ {
		for _, marker := range []string{"testmarker", "testsum", "validmarker", "validsum"} {
			require.NotContains(t, all, fmt.Sprintf("%s%d", marker, u))
		}
	}
	// The sentiment report does read the test review itself (that is what it classifies).
	require.Contains(t, tx.review(&sd.Test[0]), "testmarker")
}

// TestNoLeakageEndToEnd runs the whole pipeline on leakDataset and checks, through textHook, that
// the held-out (validation and test) reviews are read only to validate and to evaluate the
// sentiment head, never for pre-training, training or features.
func TestNoLeakageEndToEnd(t *testing.T) {
	needVocab(t)
	var mu sync.Mutex
	leaks := map[string][]string{}
	textHook = func(purpose, text string) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range []string{"testmarker", "testsum", "validmarker", "validsum"} {
			if strings.Contains(text, m) {
				leaks[purpose] = append(leaks[purpose], m)
			}
		}
	}
	defer func() { textHook = nil }()
	o := tinyOptions(t.TempDir())
	_, err := RunDataset(context.Background(), leakDataset(), o, nil)
	require.NoError(t, err)
	allowed := map[string]bool{"sentiment:valid": true, "sentiment:test": true}
	for purpose, ms := range leaks {
		require.True(t, allowed[purpose], "held-out text %v reached %q", ms, purpose)
	}
	// The hook does see them where they belong, so the check above is not vacuous.
	require.NotEmpty(t, leaks["sentiment:test"])
	require.NotEmpty(t, leaks["sentiment:valid"])
}

func TestBehaviourTextExcludesOwnReview(t *testing.T) {
	ds := leakDataset()
	for k := range ds.Interactions {
		ds.Interactions[k].Summary = fmt.Sprintf("summary%03d", k) // unique per review
	}
	sd, err := data.Split(ds)
	require.NoError(t, err)
	tx := newTexts(sd)
	recs := sd.TrainByUser[0]
	require.Len(t, recs, 3)
	r := &recs[1] // a middle training interaction
	text := tx.behaviour(r.UserIdx, r.ItemIdx, r.Time, r.Row, 0)
	require.True(t, strings.HasPrefix(text, "item: "))
	require.NotContains(t, text, r.Summary, "the interaction's own review")
	require.NotContains(t, text, recs[2].Summary, "a later review of the same user")
	require.Contains(t, text, recs[0].Summary, "the earlier history is used")
}

func TestSentimentBins(t *testing.T) {
	b := DefaultSentimentBins()
	for rating, want := range map[float64]int{1: 0, 2: 0, 3: 1, 4: 2, 5: 2, 2.5: 1} {
		require.Equal(t, want, b.Label(rating), "rating %g", rating)
	}
	require.Equal(t, -1, b.Label(math.NaN()))
	require.Error(t, SentimentBins{NegativeMax: 4, PositiveMin: 3}.Validate())
}

func TestMeanRows(t *testing.T) {
	m := &Matrix{Rows: 3, Cols: 2, Data: []float32{1, 2, 3, 4, 10, 20}}
	out := MeanRows(m, []int{0, 0, 2}, 3)
	require.Equal(t, []float32{2, 3, 0, 0, 10, 20}, out.Data)
}

func needVocab(t *testing.T) {
	if _, err := gpt2.DefaultTokenizerDir(); err != nil {
		t.Skip("GPT-2 vocabulary not installed: run scripts/fetch_vocab.sh")
	}
}

// tinyOptions keeps an end-to-end run to a few seconds.
func tinyOptions(out string) Options {
	o := DefaultOptions()
	o.OutDir = out
	o.Device = "cpu"
	o.Threads = 2
	o.Backbone = BackboneConfig{Layers: 1, Heads: 2, Embd: 16, Positions: 64}
	o.Pretrain = StageConfig{Epochs: 1, MaxSteps: 8, BatchSize: 8, LR: 1e-3, MaxLen: 24}
	o.Sentiment = StageConfig{Epochs: 1, MaxSteps: 8, BatchSize: 16, LR: 1e-3, MaxLen: 24}
	o.Behavior = o.Sentiment
	o.UserMaxTokens, o.ItemMaxTokens = 32, 32
	o.Recommenders.Seeds = 2
	o.Recommenders.CF = []rec.Config{{Dim: 8, LR: 0.01, WeightDecay: 0.5, Loss: rec.LossSoftmax, MaxEpochs: 4, Patience: 2, BatchSize: 64}}
	o.Recommenders.Seq = []rec.Config{{Dim: 8, Heads: 2, Layers: 1, LR: 0.003, MaxLen: 8, MaxEpochs: 3, Patience: 2, BatchSize: 32}}
	return o
}

func tinyShop() *data.Dataset {
	c := data.DefaultSyntheticConfig()
	c.Users, c.Items, c.MinPerUser, c.MaxPerUser = 30, 24, 4, 6
	return data.Synthetic(c)
}

// --overwrite replaces a run directory, never another non-empty directory: a user's files at
// --out stay untouched.
func TestOverwriteOnlyReplacesRuns(t *testing.T) {
	dir := t.TempDir()
	notes := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(notes, []byte("mine"), 0o644))
	o := tinyOptions(dir)
	_, err := RunDataset(context.Background(), tinyShop(), o, nil)
	require.ErrorContains(t, err, "not empty")
	o.Overwrite = true
	_, err = RunDataset(context.Background(), tinyShop(), o, nil)
	require.ErrorContains(t, err, "holds no run")
	b, err := os.ReadFile(notes)
	require.NoError(t, err)
	require.Equal(t, "mine", string(b))
	require.False(t, IsRunDir(dir))
}

func TestRunEndToEndTiny(t *testing.T) {
	needVocab(t)
	start := torch.LiveTensors()
	out := t.TempDir()
	res, err := RunDataset(context.Background(), tinyShop(), tinyOptions(out), nil)
	require.NoError(t, err)
	require.Equal(t, 30, res.Counts.Users)
	methods := []string{"popularity", "mf", "cf_h0", "cf_h0_h1", "cf_h0_h2", "cf_h", "sasrec", "seq_h0", "seq_h0_h1", "seq_h0_h2", "seq_h"}
	require.Len(t, res.Ranking, len(methods))
	for _, m := range methods {
		require.Len(t, res.Ranking[m], len(RankingMetrics), m)
		require.Len(t, res.Slices[m], len(res.Slices["popularity"]), m)
	}
	// The table is the mean of the per-seed tables.
	require.Len(t, res.Seeds, 2)
	for _, m := range methods {
		for _, k := range RankingMetrics {
			require.InDelta(t, (res.Seeds[0].Ranking[m][k]+res.Seeds[1].Ranking[m][k])/2, res.Ranking[m][k], 1e-12, "%s %s", m, k)
		}
	}
	require.Equal(t, res.Seeds[0].Ranking["popularity"], res.Seeds[1].Ranking["popularity"], "popularity has no seed")
	require.Zero(t, res.RankingStd["popularity"]["ndcg@10"])
	// Slices partition the test users twice (by activity, by item popularity).
	users, items := 0, 0
	for _, sl := range res.Slices["mf"] {
		if strings.HasPrefix(sl.Name, "users_") {
			users += sl.N
		} else {
			items += sl.N
		}
	}
	require.Equal(t, res.Split.Test, users)
	require.Equal(t, res.Split.Test, items)
	// The bootstrap compares the best of each group by validation, and the served method is
	// the best hierarchy variant.
	require.NotNil(t, res.Bootstrap)
	require.Contains(t, []string{"mf", "sasrec"}, res.Bootstrap.IDOnly)
	require.Equal(t, res.Served, res.Bootstrap.Hierarchy)
	require.LessOrEqual(t, res.Bootstrap.CILow, res.Bootstrap.MeanDiff)
	require.GreaterOrEqual(t, res.Bootstrap.CIHigh, res.Bootstrap.MeanDiff)
	twins := map[string]bool{}
	for _, c := range res.Twins {
		twins[c.IDOnly] = true
	}
	require.True(t, twins["sasrec"] || res.Bootstrap.IDOnly == "sasrec", "the best hierarchy variant is compared with sasrec")
	require.True(t, twins["mf"] || res.Bootstrap.IDOnly == "mf", "and with mf")
	require.Len(t, res.Recommenders, len(methods)-1)
	for _, c := range res.Recommenders {
		require.Len(t, c.Candidates, 1, c.Method)
		require.Len(t, c.Seeds, 2, c.Method)
	}
	total := 0
	for _, c := range res.Sentiment.Classes {
		total += c.Support
	}
	require.Equal(t, res.Split.Test, total)
	require.NotNil(t, res.SentimentBaseline)
	require.Greater(t, res.Behavior.GlobalMean.RMSE, 0.0)
	for _, f := range []string{ConfigFileName, IndexFileName, VectorsFileName, RecsFileName, MetricsFileName, ItemsFileName, CurvesFileName,
		"plots/" + PlotRanking, "plots/" + PlotTraining, "plots/" + PlotRecommenders, BackboneDir + "/model.safetensors", SentimentDir + "/config.json",
		BehaviorDir + "/model.safetensors", BehaviorDir + "/" + BehaviorBaselineFile} {
		_, err := os.Stat(filepath.Join(out, f))
		require.NoError(t, err, f)
	}
	require.Equal(t, start, torch.LiveTensors(), "the run frees every tensor it makes")

	// metrics.json: provenance, protocol, snake_case keys throughout.
	raw, err := os.ReadFile(filepath.Join(out, MetricsFileName))
	require.NoError(t, err)
	checkProvenance(t, raw, tinyOptions(out).Seed)
	require.Nil(t, res.Data.Files, "an in-memory dataset has no files")
	require.Equal(t, data.FormatSynthetic, res.Data.Format)

	// curves.json: every stage's training loss per step and validation loss from step 0 to the
	// last step; the recommenders' histories.
	var curves Curves
	raw, err = os.ReadFile(filepath.Join(out, CurvesFileName))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &curves))
	require.Equal(t, []string{"backbone", "behavior", "sentiment"}, sortedKeys(curves.Stages))
	for k, c := range curves.Stages {
		require.NotEmpty(t, c.Train, k)
		require.GreaterOrEqual(t, len(c.Valid), 3, "%s: before, during and after training", k)
		require.Equal(t, 0, c.Valid[0].Step, k)
		require.Equal(t, len(c.Train), c.Valid[len(c.Valid)-1].Step, k)
		require.NotEmpty(t, c.Loss, k)
	}
	require.Len(t, curves.Recommenders, len(methods)-1)

	// The behaviour head stores its baseline: mean, alpha, and the biases.
	bcfg, err := gpt2.LoadConfig(filepath.Join(out, BehaviorDir, gpt2.ConfigFile))
	require.NoError(t, err)
	bt, ok, err := ReadBehaviorTarget(filepath.Join(out, BehaviorDir), bcfg)
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, bt.HasBaseline)
	require.Equal(t, "rating", bt.Unit)
	require.Equal(t, res.Behavior.Alpha, bt.Alpha)
	v, _, err := bt.Baseline("U0001", "I0001")
	require.NoError(t, err)
	require.False(t, math.IsNaN(v))

	// Evaluate rebuilds the split and reproduces the ranking numbers from the saved vectors.
	ev, err := EvaluateDataset(context.Background(), tinyShop(), out, nil)
	require.NoError(t, err)
	require.Equal(t, res.Ranking, ev.Ranking)
	require.Equal(t, res.Slices, ev.Slices)
	require.Equal(t, res.Bootstrap, ev.Bootstrap)
	require.Equal(t, res.Twins, ev.Twins)
	require.Equal(t, res.Served, ev.Served)
	require.Equal(t, res.Sentiment.Accuracy, ev.Sentiment.Accuracy)
	require.InDelta(t, res.Behavior.Model.RMSE, ev.Behavior.Model.RMSE, 1e-9)
	require.Equal(t, res.Protocol, ev.Protocol)
	require.Equal(t, res.Seed, ev.Seed)
	evRaw, err := json.Marshal(ev)
	require.NoError(t, err)
	checkProvenance(t, evRaw, res.Seed)

	// A run written with schema_version 2 (protocol a string, no provenance) still evaluates.
	metricsPath := filepath.Join(out, MetricsFileName)
	saved, err := os.ReadFile(metricsPath)
	require.NoError(t, err)
	var v2 map[string]any
	require.NoError(t, json.Unmarshal(saved, &v2))
	v2["schema_version"], v2["protocol"] = 2, "per-user temporal leave-one-out"
	for _, k := range []string{"date", "seed", "versions", "device", "threads", "data"} {
		delete(v2, k)
	}
	b, err := json.Marshal(v2)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(metricsPath, b, 0o644))
	ev2, err := EvaluateDataset(context.Background(), tinyShop(), out, nil)
	require.NoError(t, err)
	require.Equal(t, res.Ranking, ev2.Ranking)
	require.Equal(t, SchemaVersion, ev2.SchemaVersion)
	require.NoError(t, os.WriteFile(metricsPath, saved, 0o644))

	// Serving: recommendations exclude history and are the same from many goroutines.
	run, err := LoadRun(out)
	require.NoError(t, err)
	defer run.Close()
	user := run.Index.Users[0]
	want, err := run.Recommend(user, 5)
	require.NoError(t, err)
	require.Len(t, want, 5)
	hist := map[string]bool{}
	for _, i := range run.Index.History[0] {
		hist[run.Index.Items[i]] = true
	}
	for _, r := range want {
		require.False(t, hist[r.Item], "recommended a history item %s", r.Item)
		require.NotEmpty(t, r.Title, "the synthetic shop's items have titles")
		require.NotEmpty(t, r.Category)
	}
	// A run made before items.json existed still serves, with ids only.
	require.NoError(t, os.Remove(filepath.Join(out, ItemsFileName)))
	old, err := LoadRun(out)
	require.NoError(t, err)
	got, err := old.Recommend(user, 5)
	require.NoError(t, err)
	require.Len(t, got, 5)
	for k := range got {
		require.Equal(t, want[k].Item, got[k].Item)
		require.Equal(t, ItemMeta{}, got[k].ItemMeta)
	}
	old.Close()
	emb, err := run.Embed([]string{"a bright acoustic guitar"})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := run.Recommend(user, 5)
			if err == nil && fmt.Sprint(got) != fmt.Sprint(want) {
				err = fmt.Errorf("recommendations differ")
			}
			if err == nil {
				var e [][]float32
				e, err = run.Embed([]string{"a bright acoustic guitar"})
				if err == nil && fmt.Sprint(e) != fmt.Sprint(emb) {
					err = fmt.Errorf("embeddings differ")
				}
			}
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	_, err = run.Recommend("nobody", 5)
	require.ErrorContains(t, err, "unknown user")
}

func TestRunMultitaskTiny(t *testing.T) {
	needVocab(t)
	o := tinyOptions(t.TempDir())
	o.Multitask = true
	o.Fusion = FusionConcat
	res, err := RunDataset(context.Background(), tinyShop(), o, nil)
	require.NoError(t, err)
	require.True(t, res.Multitask)
	require.Contains(t, res.Ranking, "cf_h")
}

func TestRunErrors(t *testing.T) {
	_, err := Run(context.Background(), Options{OutDir: t.TempDir()}, nil)
	require.ErrorContains(t, err, "no dataset")
	o := DefaultOptions()
	o.OutDir = t.TempDir()
	o.DataPath = filepath.Join(t.TempDir(), "missing.csv")
	_, err = Run(context.Background(), o, nil)
	require.Error(t, err)
	o = DefaultOptions()
	o.Fusion = "mean"
	o.OutDir = t.TempDir()
	_, err = RunDataset(context.Background(), tinyShop(), o, nil)
	require.ErrorContains(t, err, "fusion")
	_, err = LoadRun(t.TempDir())
	require.ErrorContains(t, err, "run directory")
	_, err = Finetune(context.Background(), DefaultOptions(), "summarize", nil)
	require.ErrorContains(t, err, "unknown fine-tuning task")
}
