package main

// End-to-end tests of the pipeline commands (run, demo, pretrain, finetune, evaluate,
// recommend, embed) on small slices of the shared datasets with tiny training budgets, so that
// they stay fast on two CPU cores.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hier-ai/hier/torch"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tinyBudget are the flags that make a pipeline run take seconds: a 1-layer, 32-wide GPT-2,
// 20 pre-training steps on 32-token examples, one fine-tuning epoch.
// With --config tinyConfig (added by TestMain): one candidate configuration per recommender
// family, two seeds.
var tinyBudget = []string{
	"--layers", "1", "--heads", "2", "--embd", "32", "--max-length", "32",
	"--max-steps-pretrain", "20", "--epochs-finetune", "1", "--max-steps-finetune", "30",
	"--user-max-tokens", "64",
}

// tinyConfig is a run configuration file (the config.json schema) with small recommender grids.
var tinyConfig string

const tinyConfigJSON = `{
  "recommenders": {
    "seeds": 2,
    "cf": [{"dim": 16, "lr": 0.01, "weight_decay": 0.5, "loss": "softmax", "max_epochs": 6, "patience": 3, "batch_size": 64}],
    "seq": [{"dim": 16, "lr": 0.003, "weight_decay": 0.1, "dropout": 0.2, "loss": "softmax", "max_epochs": 4, "patience": 2,
             "batch_size": 32, "max_len": 16, "n_layer": 1, "n_head": 2}]
  }
}`

// allMethods are the ranking table's methods when every level exists.
var allMethods = []string{"popularity", "mf", "cf_h0", "cf_h0_h1", "cf_h0_h2", "cf_h", "sasrec", "seq_h0", "seq_h0_h1", "seq_h0_h2", "seq_h"}

var rankingMetrics = []string{"hr@5", "hr@10", "hr@20", "ndcg@5", "ndcg@10", "ndcg@20", "mrr"}

// classMetrics, runJSON: the parts of the results object the tests read.
type classMetrics struct {
	Precision, Recall, F1 float64
	Support               int
}

type runJSON struct {
	Dataset string         `json:"dataset"`
	Counts  map[string]int `json:"counts"`
	Sent    struct {
		Classes     map[string]classMetrics `json:"classes"`
		Accuracy    float64                 `json:"accuracy"`
		MacroAvg    classMetrics            `json:"macro_avg"`
		WeightedAvg classMetrics            `json:"weighted_avg"`
	} `json:"sentiment"`
	Behavior map[string]json.RawMessage    `json:"behavior"`
	Ranking  map[string]map[string]float64 `json:"ranking"`
	Seeds    []struct {
		Seed    uint64                        `json:"seed"`
		Ranking map[string]map[string]float64 `json:"ranking"`
	} `json:"seeds"`
	Slices map[string][]struct {
		Slice  string  `json:"slice"`
		N      int     `json:"n"`
		HR10   float64 `json:"hr@10"`
		NDCG10 float64 `json:"ndcg@10"`
	} `json:"slices"`
	Bootstrap *struct {
		Hierarchy string  `json:"best_hierarchy"`
		IDOnly    string  `json:"best_id_only"`
		MeanDiff  float64 `json:"mean_diff"`
		CILow     float64 `json:"ci_low"`
		CIHigh    float64 `json:"ci_high"`
	} `json:"bootstrap"`
	Served string `json:"served_method"`
	Split  struct {
		Test int `json:"test"`
	} `json:"split"`
	OutDir      string  `json:"out_dir"`
	WallSeconds float64 `json:"wall_seconds"`
}

// pipelineJSON runs a pipeline command with --json, requires success and exactly one JSON
// object on stdout, and returns it both raw and decoded. Logs on stderr are allowed, progress
// bars are not (--json turns them off).
func pipelineJSON(t *testing.T, args ...string) (map[string]json.RawMessage, runJSON) {
	t.Helper()
	r := hier(t, append(args, "--json")...)
	require.Equal(t, 0, r.Code, "hier %v failed: %s", args, r.Stderr)
	assert.NotContains(t, r.Stderr, "█", "--json draws no progress bars")
	dec := json.NewDecoder(strings.NewReader(r.Stdout))
	var raw map[string]json.RawMessage
	require.NoError(t, dec.Decode(&raw), "stdout: %s", r.Stdout)
	var extra json.RawMessage
	require.Error(t, dec.Decode(&extra), "stdout holds more than one JSON document")
	var res runJSON
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &res))
	return raw, res
}

// checkResults checks a results object: its sections, that the sentiment supports add up to
// the test users, that the ranking table is the mean of the per-seed tables, that the slices
// partition the test users, and that the bootstrap compares the served method with an ID-only one.
// methods are the ranking's methods; withSentiment says whether H1 was trained.
func checkResults(t *testing.T, raw map[string]json.RawMessage, res runJSON, users int, methods []string, withSentiment bool) {
	t.Helper()
	for _, k := range []string{"schema_version", "dataset", "counts", "behavior", "ranking", "ranking_std", "seeds", "slices", "recommenders", "protocol", "out_dir", "wall_seconds"} {
		assert.Contains(t, raw, k)
	}
	var counts map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw["counts"], &counts))
	for _, k := range []string{"users", "items", "interactions", "skipped", "duplicates"} {
		assert.Contains(t, counts, k, "counts")
	}
	assert.Equal(t, users, res.Counts["users"])
	if withSentiment {
		var sent map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(raw["sentiment"], &sent))
		for _, k := range []string{"classes", "accuracy", "macro_avg", "weighted_avg"} {
			assert.Contains(t, sent, k, "sentiment")
		}
		assert.Contains(t, raw, "sentiment_baseline")
		support := 0
		for _, label := range []string{"negative", "neutral", "positive"} {
			require.Contains(t, res.Sent.Classes, label)
			support += res.Sent.Classes[label].Support
		}
		assert.Equal(t, res.Split.Test, support, "sentiment support sums to the test size")
	} else {
		assert.NotContains(t, raw, "sentiment")
	}
	for _, m := range []string{"model", "global_mean", "user_item_bias"} {
		var r map[string]float64
		require.NoError(t, json.Unmarshal(res.Behavior[m], &r), "behavior %s", m)
		assert.Equal(t, float64(res.Split.Test), r["n"], "behavior %s is over every held-out rating", m)
	}
	require.Len(t, res.Ranking, len(methods), "ranking methods")
	require.Len(t, res.Seeds, 2)
	for _, m := range methods {
		require.Contains(t, res.Ranking, m)
		assert.Len(t, res.Ranking[m], len(rankingMetrics), "ranking %s", m)
		for _, k := range rankingMetrics {
			assert.InDelta(t, (res.Seeds[0].Ranking[m][k]+res.Seeds[1].Ranking[m][k])/2, res.Ranking[m][k], 1e-12, "ranking %s %s is the seed mean", m, k)
		}
		n := 0
		for _, sl := range res.Slices[m] {
			if strings.HasPrefix(sl.Slice, "users_") {
				n += sl.N
			}
		}
		assert.Equal(t, res.Split.Test, n, "the user slices of %s partition the test users", m)
	}
	require.NotNil(t, res.Bootstrap)
	assert.Equal(t, res.Served, res.Bootstrap.Hierarchy)
	assert.Contains(t, []string{"mf", "sasrec"}, res.Bootstrap.IDOnly)
	assert.LessOrEqual(t, res.Bootstrap.CILow, res.Bootstrap.CIHigh)
	assert.Positive(t, res.WallSeconds)
}

func musicalInstruments(t *testing.T) string {
	t.Helper()
	requireVocab(t)
	p := filepath.Join(sharedDir(t), "data", "amazon-musical-instruments-5core", "Musical_instruments_reviews.csv.zip")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("dataset missing (%v): skipping", err)
	}
	return p
}

func TestPipelineRunAmazon(t *testing.T) {
	data := musicalInstruments(t)
	parent := t.TempDir()
	out := filepath.Join(parent, "run")
	// What a run killed with SIGKILL leaves: an empty --out and the temporary sibling it was
	// building the run in (named after its process, which has exited). Neither is in the way.
	require.NoError(t, os.Mkdir(out, 0o755))
	gone := exec.Command("true")
	require.NoError(t, gone.Run())
	stale := filepath.Join(parent, fmt.Sprintf(".run.tmp-%d-12345", gone.Process.Pid))
	require.NoError(t, os.MkdirAll(filepath.Join(stale, "plots"), 0o755))
	args := append([]string{"run", "--data", data, "--max-users", "60", "--out", out, "--device", "cpu"}, tinyBudget...)
	raw, res := pipelineJSON(t, args...)
	checkResults(t, raw, res, 60, allMethods, true)
	assert.Equal(t, out, res.OutDir)
	assert.NoDirExists(t, stale, "the leftover of the killed run is removed")
	leftovers, err := filepath.Glob(filepath.Join(parent, ".run.tmp-*"))
	require.NoError(t, err)
	assert.Empty(t, leftovers)
	fi, err := os.Stat(out)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), fi.Mode().Perm(), "the run directory is 0755 (not os.MkdirTemp's 0700)")
	fi, err = os.Stat(filepath.Join(out, "config.json"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm())

	t.Run("output directory", func(t *testing.T) {
		for _, f := range []string{"config.json", "index.json", "vectors.safetensors", "recommendations.jsonl", "metrics.json", "items.json", "curves.json"} {
			assert.FileExists(t, filepath.Join(out, f))
		}
		for _, f := range []string{"training.png", "recommenders.png", "ranking.png"} {
			assert.FileExists(t, filepath.Join(out, "plots", f))
		}
		for _, ck := range []string{"backbone", "sentiment", "behavior"} {
			for _, f := range []string{"config.json", "model.safetensors"} {
				assert.FileExists(t, filepath.Join(out, "checkpoints", ck, f))
			}
		}
		// metrics.json is the object printed on stdout.
		var saved, printed any
		b, err := os.ReadFile(filepath.Join(out, "metrics.json"))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &saved))
		all, err := json.Marshal(raw)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(all, &printed))
		assert.Equal(t, saved, printed)
	})

	var index struct {
		Users   []string `json:"users"`
		Items   []string `json:"items"`
		History [][]int  `json:"history"`
	}
	b, err := os.ReadFile(filepath.Join(out, "index.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &index))
	require.Len(t, index.Users, 60)
	require.Len(t, index.History, 60)
	user := index.Users[0]

	t.Run("recommend", func(t *testing.T) {
		var rec struct {
			User  string `json:"user"`
			K     int    `json:"k"`
			Items []struct {
				Item    string  `json:"item"`
				Score   float64 `json:"score"`
				Rank    int     `json:"rank"`
				Title   *string `json:"title"`
				Summary string  `json:"summary"`
			} `json:"items"`
		}
		okJSON(t, &rec, "recommend", "--run", out, "--user", user, "--top-k", "5", "--json")
		// Amazon reviews have no product titles: each item has the summary of its most helpful
		// training review, labelled as a summary, not as a title.
		for _, it := range rec.Items {
			assert.Nil(t, it.Title, "no title field for %s", it.Item)
			assert.NotEmpty(t, it.Summary, "summary of %s", it.Item)
		}
		assert.Equal(t, user, rec.User)
		assert.Equal(t, 5, rec.K)
		require.Len(t, rec.Items, 5)
		history := map[string]bool{}
		for _, i := range index.History[0] {
			history[index.Items[i]] = true
		}
		seen := map[string]bool{}
		for i, it := range rec.Items {
			assert.Equal(t, i+1, it.Rank)
			assert.True(t, slices.Contains(index.Items, it.Item), "item %s is in the catalogue", it.Item)
			assert.False(t, history[it.Item], "item %s is in the user's history", it.Item)
			assert.False(t, seen[it.Item], "item %s twice", it.Item)
			seen[it.Item] = true
			if i > 0 {
				assert.LessOrEqual(t, it.Score, rec.Items[i-1].Score, "best first")
			}
		}
		lines := strings.Split(strings.TrimSpace(ok(t, "recommend", "--run", out, "--user", user, "--top-k", "5")), "\n")
		require.Len(t, lines, 6, "a header and 5 items")
		assert.Contains(t, lines[0], "most helpful review's summary")
		assert.Contains(t, lines[1], rec.Items[0].Item)
		assert.Contains(t, lines[1], strings.Join(strings.Fields(rec.Items[0].Summary), " "))

		r := hier(t, "recommend", "--run", out, "--user", "no-such-user", "--top-k", "5")
		requireOneLineError(t, r, exitError, "unknown user", "no-such-user")
		r = hier(t, "recommend", "--run", out, "--user", user, "--top-k", "0")
		requireOneLineError(t, r, exitUsage, "--top-k")

		// The old spelling --k still works (a hidden alias of --top-k).
		var old struct {
			K     int               `json:"k"`
			Items []json.RawMessage `json:"items"`
		}
		okJSON(t, &old, "recommend", "--run", out, "--user", user, "--k", "3", "--json")
		assert.Equal(t, 3, old.K)
		assert.Len(t, old.Items, 3)
	})

	t.Run("evaluate reproduces the metrics", func(t *testing.T) {
		var ev runJSON
		// The run directory carries its tokenizer: evaluate needs no global vocabulary (an
		// installed binary has none), so a HIER_VOCAB_DIR without one must not matter.
		cmd := exec.Command(hierBin, "evaluate", "--run", out, "--json")
		cmd.Dir = t.TempDir()
		cmd.Env = append(os.Environ(), "HIER_VOCAB_DIR="+t.TempDir())
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Run(), stderr.String())
		r := result{Stdout: stdout.String(), Stderr: stderr.String()}
		require.NoError(t, json.Unmarshal([]byte(r.Stdout), &ev))
		assert.Equal(t, res.Ranking, ev.Ranking)
		assert.Equal(t, res.Slices, ev.Slices)
		assert.Equal(t, res.Bootstrap, ev.Bootstrap)
		assert.Equal(t, res.Sent, ev.Sent, "sentiment report")
		for m := range res.Behavior {
			var a, b map[string]float64
			if json.Unmarshal(res.Behavior[m], &a) != nil {
				continue // a number, not a table
			}
			require.NoError(t, json.Unmarshal(ev.Behavior[m], &b))
			for k, v := range a {
				assert.InDelta(t, v, b[k], 1e-9, "behavior %s %s", m, k)
			}
		}
		assert.Equal(t, res.Counts, ev.Counts)
		table := ok(t, "evaluate", "--run", out)
		assert.Contains(t, table, "ranking (test; mean")
		assert.Contains(t, table, "popularity")
	})

	t.Run("predict with the sentiment head", func(t *testing.T) {
		var p struct {
			Predictions []struct {
				Label string `json:"label"`
			} `json:"predictions"`
		}
		okJSON(t, &p, "predict", "--model", filepath.Join(out, "checkpoints", "sentiment"), "--text", "great guitar strings", "--json")
		require.Len(t, p.Predictions, 1)
		assert.Contains(t, []string{"negative", "neutral", "positive"}, p.Predictions[0].Label)
	})

	t.Run("predict with the behaviour head", func(t *testing.T) {
		type pred struct {
			Logits       []float64 `json:"logits"`
			Prediction   *float64  `json:"prediction"`
			Unit         string    `json:"unit"`
			Residual     float64   `json:"residual"`
			Alpha        float64   `json:"alpha"`
			Baseline     *float64  `json:"baseline"`
			BaselineKind string    `json:"baseline_kind"`
			Note         string    `json:"note"`
		}
		var p struct {
			Predictions []pred `json:"predictions"`
		}
		beh := filepath.Join(out, "checkpoints", "behavior")
		text := "item: (rated 5) great strings | user: (rated 4) good cable"
		okJSON(t, &p, "predict", "--model", beh, "--text", text, "--json")
		require.Len(t, p.Predictions, 1)
		g := p.Predictions[0]
		require.NotNil(t, g.Prediction)
		require.NotNil(t, g.Baseline)
		assert.Equal(t, "rating", g.Unit)
		assert.Equal(t, g.Logits[0], g.Residual)
		assert.InDelta(t, *g.Baseline+g.Alpha*g.Residual, *g.Prediction, 1e-12)
		assert.Contains(t, g.BaselineKind, "training mean")
		assert.Greater(t, *g.Baseline, 1.0, "the training mean rating is on the 1-5 scale")
		assert.Less(t, *g.Baseline, 5.0)

		// With a user and an item the baseline is their bias model's prediction.
		item := index.Items[index.History[0][0]]
		p.Predictions = nil
		okJSON(t, &p, "predict", "--model", beh, "--text", text, "--user", user, "--item", item, "--json")
		require.Len(t, p.Predictions, 1)
		assert.Contains(t, p.Predictions[0].BaselineKind, "user "+user)
		assert.InDelta(t, g.Residual, p.Predictions[0].Residual, 1e-9, "the same text, the same head output")
		human := ok(t, "predict", "--model", beh, "--text", text)
		assert.Contains(t, human, "prediction: ")
		assert.Contains(t, human, " rating (= baseline ")
		r := hier(t, "predict", "--model", beh, "--text", text, "--user", "no-such-user")
		requireOneLineError(t, r, exitError, "unknown user", "no-such-user")
		r = hier(t, "predict", "--model", filepath.Join(out, "checkpoints", "sentiment"), "--text", text, "--user", user)
		requireOneLineError(t, r, exitUsage, "behaviour head")

		// A checkpoint written before the baseline was stored prints the residual, labelled.
		old := filepath.Join(t.TempDir(), "behavior")
		require.NoError(t, os.CopyFS(old, os.DirFS(beh)))
		cfgPath := filepath.Join(old, "config.json")
		var cfg map[string]json.RawMessage
		b, err := os.ReadFile(cfgPath)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &cfg))
		delete(cfg, "hier_target_mean")
		b, err = json.Marshal(cfg)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(cfgPath, b, 0o644))
		p.Predictions = nil
		okJSON(t, &p, "predict", "--model", old, "--text", text, "--json")
		require.Len(t, p.Predictions, 1)
		assert.Nil(t, p.Predictions[0].Prediction)
		assert.Contains(t, p.Predictions[0].Note, "does not store its baseline")
		assert.Contains(t, ok(t, "predict", "--model", old, "--text", text), "residual: ")
	})

	t.Run("embed", func(t *testing.T) {
		type embOut struct {
			Model      string `json:"model"`
			Dim        int    `json:"dim"`
			Embeddings []struct {
				Text   string    `json:"text"`
				Vector []float64 `json:"vector"`
			} `json:"embeddings"`
		}
		var e embOut
		okJSON(t, &e, "embed", "--model", filepath.Join(out, "checkpoints", "backbone"), "--text", "a", "--text", "b", "--json")
		assert.Equal(t, 32, e.Dim, "the backbone width (--embd 32)")
		require.Len(t, e.Embeddings, 2)
		assert.Equal(t, "a", e.Embeddings[0].Text)
		assert.Equal(t, "b", e.Embeddings[1].Text)
		for _, x := range e.Embeddings {
			assert.Len(t, x.Vector, 32)
		}
		assert.NotEqual(t, e.Embeddings[0].Vector, e.Embeddings[1].Vector)

		var viaRun embOut
		okJSON(t, &viaRun, "embed", "--run", out, "--text", "a", "--text", "b", "--json")
		require.Len(t, viaRun.Embeddings, 2)
		for i := range viaRun.Embeddings {
			assertClose(t, e.Embeddings[i].Vector, viaRun.Embeddings[i].Vector, 1e-5, "embed --run vs --model")
		}

		lines := strings.Split(strings.TrimSpace(ok(t, "embed", "--run", out, "--text", "a", "--text", "b")), "\n")
		require.Len(t, lines, 2, "one line per text")
		assert.Len(t, strings.Fields(lines[0]), 32)
	})
}

func TestPipelineRunMovieLens(t *testing.T) {
	requireVocab(t)
	data := filepath.Join(sharedDir(t), "data", "movielens-100k")
	if _, err := os.Stat(filepath.Join(data, "u.data")); err != nil {
		t.Skipf("MovieLens 100K missing (%v): skipping", err)
	}
	out := filepath.Join(t.TempDir(), "ml")
	args := append([]string{"run", "--data", data, "--max-users", "40", "--out", out, "--fusion", "concat", "--multitask"}, tinyBudget...)
	raw, res := pipelineJSON(t, args...)
	// MovieLens has no review text: H1 is skipped (said in "skipped"), and so are the methods
	// that read it.
	var noH1 []string
	for _, m := range allMethods {
		if !strings.HasSuffix(m, "_h1") && !strings.HasSuffix(m, "_h") {
			noH1 = append(noH1, m)
		}
	}
	checkResults(t, raw, res, 40, noH1, false)
	var skipped map[string]string
	require.NoError(t, json.Unmarshal(raw["skipped"], &skipped))
	assert.Contains(t, skipped["h1"], "no review text")
	assert.Contains(t, skipped["cf_h"], "no H1 level")
	var fusion string
	require.NoError(t, json.Unmarshal(raw["fusion"], &fusion))
	assert.Equal(t, "concat", fusion)
}

func TestPipelineStages(t *testing.T) {
	data := musicalInstruments(t)
	dir := t.TempDir()
	pre := filepath.Join(dir, "pre")
	var rep struct {
		Stage       string            `json:"stage"`
		Checkpoints map[string]string `json:"checkpoints"`
		Counts      map[string]int    `json:"counts"`
		Sentiment   *struct {
			Classes map[string]classMetrics `json:"classes"`
		} `json:"sentiment"`
		Behavior    map[string]json.RawMessage `json:"behavior"`
		WallSeconds float64                    `json:"wall_seconds"`
	}
	r := hier(t, "pretrain", "--data", data, "--max-users", "30", "--out", pre, "--layers", "1", "--embd", "32",
		"--max-len", "32", "--max-steps-pretrain", "5", "--json") // the old spelling of --max-length still works
	require.Equal(t, 0, r.Code, r.Stderr)
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &rep))
	assert.Equal(t, "pretrain", rep.Stage)
	assert.Equal(t, 30, rep.Counts["users"])
	backbone := filepath.Join(pre, "checkpoints", "backbone")
	assert.Equal(t, backbone, rep.Checkpoints["backbone"])
	assert.FileExists(t, filepath.Join(backbone, "model.safetensors"))

	ft := filepath.Join(dir, "ft")
	r = hier(t, "finetune", "--task", "sentiment", "--data", data, "--max-users", "30", "--model", backbone, "--out", ft,
		"--epochs-finetune", "1", "--max-length", "32", "--json")
	require.Equal(t, 0, r.Code, r.Stderr)
	rep.Sentiment, rep.Behavior = nil, nil
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &rep))
	assert.Equal(t, "finetune:sentiment", rep.Stage)
	require.NotNil(t, rep.Sentiment)
	assert.Len(t, rep.Sentiment.Classes, 3)
	assert.Nil(t, rep.Behavior, "no behaviour head trained")
	assert.FileExists(t, filepath.Join(ft, "checkpoints", "sentiment", "model.safetensors"))

	// Human output: the classification report, the behaviour table, the checkpoints.
	r = hier(t, "finetune", "--task", "multitask", "--data", data, "--max-users", "30", "--model", backbone,
		"--out", filepath.Join(dir, "mt"), "--max-steps-finetune", "5", "--max-length", "32", "--no-progress")
	require.Equal(t, 0, r.Code, r.Stderr)
	for _, s := range []string{"finetune:multitask", "precision", "f1-score", "user+item bias", "checkpoints:", "sentiment", "behavior"} {
		assert.Contains(t, r.Stdout, s)
	}
	assert.NotContains(t, r.Stderr, "█", "--no-progress")
}

// TestDemo runs the demo on a slice of the synthetic shop with tiny budgets, with the default
// output directory (runs/demo-<timestamp> under the working directory).
func TestDemo(t *testing.T) {
	requireVocab(t)
	wd := t.TempDir()
	args := append([]string{"demo", "--max-users", "40", "--json"}, tinyBudget...)
	cmd := exec.Command(hierBin, args...)
	cmd.Dir = wd
	cmd.Env = append(os.Environ(), "HIER_VOCAB_DIR="+filepath.Join(repoRoot, "third_party", "gpt2"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "stderr: %s", stderr.String())
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &raw), stdout.String())
	var res runJSON
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &res))
	checkResults(t, raw, res, 40, allMethods, true)
	assert.Equal(t, "synthetic-shop", res.Dataset)
	assert.Regexp(t, `^runs/demo-\d{8}-\d{6}`, res.OutDir)
	assert.FileExists(t, filepath.Join(wd, res.OutDir, "metrics.json"))

	// config.json: snake_case keys throughout (the synthetic block too) and out_dir absolute.
	cfgPath := filepath.Join(wd, res.OutDir, "config.json")
	b, err := os.ReadFile(cfgPath)
	require.NoError(t, err)
	var cfg struct {
		OutDir    string         `json:"out_dir"`
		Synthetic map[string]any `json:"synthetic"`
	}
	require.NoError(t, json.Unmarshal(b, &cfg))
	assert.Equal(t, filepath.Join(wd, res.OutDir), cfg.OutDir)
	require.NotEmpty(t, cfg.Synthetic)
	for k := range cfg.Synthetic {
		assert.Regexp(t, `^[a-z][a-z0-9_]*$`, k, "synthetic key %q", k)
	}
	assert.Contains(t, cfg.Synthetic, "min_per_user")

	// The file reads back with --config, and so does one with the Go field names that runs
	// written before the JSON tags hold; the --rec-dim mistake (checked after the file is read)
	// shows that the file was accepted.
	legacy := filepath.Join(t.TempDir(), "legacy.json")
	require.NoError(t, os.WriteFile(legacy, []byte(strings.NewReplacer(`"min_per_user"`, `"MinPerUser"`, `"max_per_user"`, `"MaxPerUser"`).Replace(string(b))), 0o644))
	for _, file := range []string{cfgPath, legacy} {
		r := hier(t, "run", "--config", file, "--out", filepath.Join(t.TempDir(), "o"), "--rec-dim", "33")
		requireOneLineError(t, r, exitUsage, "--rec-dim 33 must be divisible")
	}
}

func TestPipelineHelp(t *testing.T) {
	for _, cmd := range []string{"demo", "run", "pretrain", "finetune", "evaluate", "recommend", "embed"} {
		h := ok(t, cmd, "--help")
		assert.Contains(t, h, "hier "+cmd, cmd)
		assert.Contains(t, h, "--json", cmd)
		assert.Contains(t, h, "JSON (--json)", "%s --help documents the JSON output", cmd)
	}
	for _, cmd := range []string{"demo", "run", "evaluate"} {
		h := ok(t, cmd, "--help")
		for _, k := range []string{`"counts"`, `"sentiment"`, `"behavior"`, `"ranking"`, `"out_dir"`, `"wall_seconds"`, `"ndcg@10"`} {
			assert.Contains(t, h, k, cmd)
		}
	}
	assert.Contains(t, ok(t, "recommend", "--help"), `"items"`)
	assert.Contains(t, ok(t, "embed", "--help"), `"embeddings"`)
	main := ok(t, "--help")
	for _, cmd := range []string{"demo", "run", "pretrain", "finetune", "evaluate", "recommend", "embed"} {
		assert.Contains(t, main, cmd)
	}
}

func TestPipelineErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	require.NoError(t, os.WriteFile(bad, []byte(
		"reviewerID,asin,reviewerName,helpful,reviewText,overall,summary,unixReviewTime,reviewTime\n"+
			`U1,I1,a,"[0, 0]",good,5.0,ok,1393545600,"02 28, 2014"`+"\n"+
			`U1,I2,a,"[0, 0]",bad,five,ok,1393545601,"02 28, 2014"`+"\n"), 0o644))
	missing := filepath.Join(dir, "no-such-data.csv")
	generic := filepath.Join(dir, "generic.csv")
	require.NoError(t, os.WriteFile(generic, []byte("uid,sku,stars\nu1,a,5\n"), 0o644))
	writeConfig := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}
	badSeq := writeConfig("bad-seq.json", `{"recommenders": {"seq": [{"dim": 16, "n_head": 2}, {"dim": 10, "n_head": 3}]}}`)
	noUser := writeConfig("no-user.json", `{"columns": {"item": "asin"}}`)
	typo := writeConfig("typo.json", "{\"seed\": 1,\n \"pretrain\": {\"epoch\": 2}}")
	misplaced := writeConfig("misplaced.json", `{"epochs": 2}`)
	wrongType := writeConfig("wrong-type.json", `{"recommenders": {"cf": [{"dim": "64"}]}}`)
	empty := writeConfig("empty.json", "")
	cfHeads := writeConfig("cf-heads.json", `{"recommenders": {"cf": [{"dim": 64, "n_head": 3, "loss": "bpr"}]}}`)
	out := filepath.Join(dir, "out")
	notRun := t.TempDir()
	cases := []struct {
		name      string
		args      []string
		code      int
		fragments []string
	}{
		{"run without --data", []string{"run", "--out", out}, exitUsage, []string{"--data is required"}},
		{"run without --out", []string{"run", "--data", bad}, exitUsage, []string{"--out is required"}},
		{"nonexistent data", []string{"run", "--data", missing, "--out", out}, exitError, []string{missing, "does not exist"}},
		{"malformed CSV, strict", []string{"run", "--data", bad, "--out", out, "--strict"}, exitError, []string{"bad.csv:3", `field "overall"`, "five"}},
		{"bad fusion", []string{"run", "--data", bad, "--out", out, "--fusion", "sum-of-all"}, exitUsage, []string{"--fusion", "sum-of-all"}},
		{"bad families", []string{"run", "--data", bad, "--out", out, "--families", "cf,knn"}, exitUsage, []string{"--families", "knn"}},
		{"missing config", []string{"run", "--data", bad, "--out", out, "--config", missing}, exitError, []string{"config", missing}},
		{"bad layers", []string{"run", "--data", bad, "--out", out, "--layers", "0"}, exitUsage, []string{"--layers must be >= 1"}},
		{"embd not divisible", []string{"run", "--data", bad, "--out", out, "--embd", "30", "--heads", "4"}, exitUsage, []string{"divisible"}},
		{"pretrain without --out", []string{"pretrain", "--data", bad}, exitUsage, []string{"--out is required"}},
		{"finetune bad task", []string{"finetune", "--task", "ranking", "--data", bad, "--model", notRun, "--out", out}, exitUsage, []string{"--task", "ranking"}},
		{"finetune without --model", []string{"finetune", "--task", "sentiment", "--data", bad, "--out", out}, exitUsage, []string{"--model is required"}},
		{"finetune model not a checkpoint", []string{"finetune", "--task", "sentiment", "--data", bad, "--model", notRun, "--out", out}, exitError, []string{"no config.json"}},
		{"evaluate on a non-run dir", []string{"evaluate", "--run", notRun}, exitError, []string{notRun, "not a run directory"}},
		{"evaluate on a missing dir", []string{"evaluate", "--run", filepath.Join(dir, "nope")}, exitError, []string{"does not exist"}},
		{"recommend on a non-run dir", []string{"recommend", "--run", notRun, "--user", "u"}, exitError, []string{"not a run directory"}},
		{"recommend without --user", []string{"recommend", "--run", notRun}, exitUsage, []string{"--user is required"}},
		{"embed without a model", []string{"embed", "--text", "a"}, exitUsage, []string{"--model", "--run"}},
		{"embed without text", []string{"embed", "--model", notRun}, exitUsage, []string{"--text"}},
		{"embed model and run", []string{"embed", "--model", notRun, "--run", notRun, "--text", "a"}, exitUsage, []string{"not both"}},
		{"generic file without --columns", []string{"run", "--data", generic, "--out", out}, exitError, []string{"generic.csv", "not the Amazon review layout", "--columns user=COLUMN,item=COLUMN"}},

		// The options are checked before the dataset is read (the --strict error would come
		// first otherwise) or anything trained.
		{"config: bad seq candidate", []string{"run", "--data", bad, "--strict", "--out", out, "--config", badSeq}, exitError,
			[]string{"--config " + badSeq, "option recommenders.seq[1]: dim 10 is not a multiple of n_head 3"}},
		{"config: columns without user", []string{"run", "--data", bad, "--strict", "--out", out, "--config", noUser}, exitError,
			[]string{"option columns: the user and item columns are required"}},
		{"config: misspelt key", []string{"run", "--data", bad, "--out", out, "--config", typo}, exitError,
			[]string{typo + ":2:15", `unknown key "epoch" in "pretrain"; did you mean "epochs"?`}},
		{"config: key at the wrong level", []string{"run", "--data", bad, "--out", out, "--config", misplaced}, exitError,
			[]string{misplaced + ":1:2", `"epochs" is a key of "behavior", "pretrain", "sentiment"`}},
		{"config: wrong type", []string{"run", "--data", bad, "--out", out, "--config", wrongType}, exitError,
			[]string{wrongType + ":1:", `"recommenders.cf.dim": want an integer, got a JSON string`}},
		{"config: empty file", []string{"run", "--data", bad, "--out", out, "--config", empty}, exitError,
			[]string{empty, "the file is empty"}},
		{"demo config: bad seq candidate", []string{"demo", "--out", out, "--config", badSeq}, exitError, []string{"option recommenders.seq[1]"}},
		// n_head concerns only the sequential model: an mf candidate with n_head 3 passes, and
		// the run goes on to read the data.
		{"config: cf candidate ignores n_head", []string{"run", "--data", bad, "--strict", "--out", out, "--config", cfHeads}, exitError,
			[]string{"bad.csv:3", `field "overall"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := hier(t, append(tc.args, "--log-level", "error")...)
			requireOneLineError(t, r, tc.code, tc.fragments...)
			assert.Empty(t, r.Stdout)
		})
	}
	assert.NoDirExists(t, out, "a run that failed early leaves no output directory behind")
}

// TestPipelineInterrupt sends SIGINT once pre-training has started: training stops at the next
// step and hier exits with status 130 and one error line.
func TestPipelineInterrupt(t *testing.T) {
	data := musicalInstruments(t)
	cmd := exec.Command(hierBin, "run", "--data", data, "--max-users", "30", "--out", filepath.Join(t.TempDir(), "run"),
		"--log-level", "info", "--no-progress")
	cmd.Dir = repoRoot
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var lines []string
	sent := false
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if !sent && strings.Contains(sc.Text(), `msg="train: start"`) {
			require.NoError(t, cmd.Process.Signal(os.Interrupt))
			sent = true
		}
	}
	err = cmd.Wait()
	require.True(t, sent, "training never started: %s", strings.Join(lines, "\n"))
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "stderr: %s", strings.Join(lines, "\n"))
	assert.Equal(t, exitInterrupted, ee.ExitCode())
	require.NotEmpty(t, lines)
	last := lines[len(lines)-1]
	assert.True(t, strings.HasPrefix(last, "hier: error: run: interrupted"), "last stderr line: %q", last)
	assert.NotContains(t, strings.Join(lines, "\n"), "panic")
}

// TestEmbedGolden checks hier embed against the reference: the mean over the real tokens of
// gpt2-tiny's last_hidden_state (float64, from PyTorch/transformers) for the golden texts.
func TestEmbedGolden(t *testing.T) {
	requireVocab(t)
	g := loadGolden(t)
	ts, _, err := torch.LoadSafetensors(filepath.Join(sharedDir(t), "golden", "golden.safetensors"), torch.CPU)
	require.NoError(t, err)
	defer func() {
		for _, x := range ts {
			x.Free()
		}
	}()
	lhsT, ok := ts["f64.last_hidden_state"]
	require.True(t, ok, "golden.safetensors has f64.last_hidden_state")
	shape := lhsT.Shape()
	require.Len(t, shape, 3)
	lhs, err := lhsT.Float64s()
	require.NoError(t, err)
	T, D := int(shape[1]), int(shape[2])

	args := []string{"embed", "--model", tinyDir(t), "--json"}
	for _, text := range g.Inputs.Texts {
		args = append(args, "--text", text)
	}
	var e struct {
		Dim        int `json:"dim"`
		Embeddings []struct {
			Vector []float64 `json:"vector"`
		} `json:"embeddings"`
	}
	okJSON(t, &e, args...)
	require.Equal(t, D, e.Dim)
	require.Len(t, e.Embeddings, len(g.Inputs.Texts))
	for i, n := range g.Inputs.SequenceLengths {
		want := make([]float64, D)
		for p := 0; p < n; p++ {
			for j := 0; j < D; j++ {
				want[j] += lhs[(i*T+p)*D+j] / float64(n)
			}
		}
		assertClose(t, want, e.Embeddings[i].Vector, 1e-4, fmt.Sprintf("mean-pooled last_hidden_state of text %d", i))
	}
}

// TestPipelineRunGenericColumns runs the pipeline on a generic CSV through --columns.
func TestPipelineRunGenericColumns(t *testing.T) {
	requireVocab(t)
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("uid,sku,stars,ts,title,body,clicks,product\n")
	words := []string{"warm tone", "bright sound", "broke fast", "solid build", "noisy output", "great value"}
	for u := 0; u < 12; u++ {
		for k := 0; k < 5; k++ {
			item := (u*3 + k*5) % 14
			stars := 1 + (u+item)%5
			product := ""
			if item%2 == 0 {
				product = fmt.Sprintf("Product %d", item) // odd items have no name
			}
			fmt.Fprintf(&b, "u%d,sku%d,%d,%d,title %d,\"%s, item %d\",%d,%s\n", u, item, stars, 1600000000+86400*k, k, words[(u+k)%len(words)], item, u*k, product)
		}
	}
	path := filepath.Join(dir, "shop.csv")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	out := filepath.Join(dir, "run")
	args := append([]string{"run", "--data", path, "--columns", "user=uid,item=sku,rating=stars,time=ts,summary=title,text=body,numeric=clicks,title=product",
		"--behavior-column", "clicks", "--out", out}, tinyBudget...)
	raw, res := pipelineJSON(t, args...)
	checkResults(t, raw, res, 12, allMethods, true)

	// title= gives the items their names in recommend; items without one show the summary of
	// their most helpful training review, quoted.
	var rec struct {
		Items []struct {
			Item    string `json:"item"`
			Title   string `json:"title"`
			Summary string `json:"summary"`
		} `json:"items"`
	}
	okJSON(t, &rec, "recommend", "--run", out, "--user", "u0", "--top-k", "14", "--json")
	require.NotEmpty(t, rec.Items)
	table := ok(t, "recommend", "--run", out, "--user", "u0", "--top-k", "14")
	assert.Contains(t, strings.SplitN(table, "\n", 2)[0], "title")
	summaries := 0
	for _, it := range rec.Items {
		var n int
		_, err := fmt.Sscanf(it.Item, "sku%d", &n)
		require.NoError(t, err)
		if n%2 == 0 {
			assert.Equal(t, fmt.Sprintf("Product %d", n), it.Title)
			assert.Contains(t, table, it.Title)
			assert.Empty(t, it.Summary, "an item with a title has no summary")
		} else if assert.Empty(t, it.Title) && it.Summary != "" { // empty: no training review
			assert.Regexp(t, `^title \d$`, it.Summary)
			assert.Contains(t, table, `"`+it.Summary+`"`)
			summaries++
		}
	}
	assert.Positive(t, summaries, "some untitled item shows a review summary")

	// A mapping without user= is a usage error on one line.
	r := hier(t, "run", "--data", path, "--columns", "item=sku", "--out", filepath.Join(dir, "x"))
	require.NotEqual(t, 0, r.Code)
	require.Contains(t, r.Stderr, "user= and item= are required")
}
