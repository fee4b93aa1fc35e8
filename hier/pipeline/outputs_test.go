package pipeline

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hier-ai/hier/hier/data"
	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/hier/rec"
	"github.com/hier-ai/hier/hier/report"
)

func panelTitles(fig report.Figure) []string {
	var out []string
	for _, p := range fig.Panels {
		out = append(out, p.Title)
	}
	return out
}

func seriesNames(p report.Panel) []string {
	var out []string
	for _, s := range p.Series {
		out = append(out, s.Name)
	}
	return out
}

// The training figure has one panel per stage that trained, each with the training loss per
// step and the validation loss at its steps, over an integer axis, named as the README names
// the stages.
func TestTrainingFigure(t *testing.T) {
	c := &Curves{Stages: map[string]StageCurve{
		"backbone":  {Loss: "cross-entropy (nats per token)", Train: []float64{10, 9, 8, 7}, Valid: []Point{{0, 10.5}, {2, 8.5}, {4, 7.5}}},
		"sentiment": {Loss: "cross-entropy (class-weighted)", Train: []float64{1.1, 1.0}, Valid: []Point{{0, 1.2}, {2, 1.0}}},
		"behavior":  {Loss: "MSE of the rating residual", Train: []float64{0.9, 0.8, 0.85}},
		"multitask": {Loss: "x"}, // no steps: no panel
	}}
	fig, ok := trainingFigure(c)
	require.True(t, ok)
	require.Equal(t, []string{"Backbone: causal-LM pre-training", "H1 sentiment head: fine-tuning", "H2 behaviour head: fine-tuning"}, panelTitles(fig))
	for _, p := range fig.Panels {
		require.True(t, p.IntegerX, p.Title)
		require.Equal(t, "optimizer step", p.XLabel)
	}
	require.Equal(t, "cross-entropy (nats per token)", fig.Panels[0].YLabel)
	require.Equal(t, []string{legendTrain, legendValid}, seriesNames(fig.Panels[0]))
	require.Equal(t, []float64{1, 2, 3, 4}, fig.Panels[0].Series[0].X)
	require.Equal(t, []float64{0, 2, 4}, fig.Panels[0].Series[1].X)
	require.Equal(t, []float64{10.5, 8.5, 7.5}, fig.Panels[0].Series[1].Y)
	require.Equal(t, []string{legendTrain}, seriesNames(fig.Panels[2]), "no validation set: no validation curve")

	_, ok = trainingFigure(&Curves{})
	require.False(t, ok)
}

// The recommenders figure has a row per family: validation NDCG@10 of every method, then one
// training-loss panel per loss function (their scales differ), methods named as in the README.
func TestRecommenderFigure(t *testing.T) {
	hist := func(n int) []rec.EpochStat {
		var h []rec.EpochStat
		for e := 1; e <= n; e++ {
			h = append(h, rec.EpochStat{Epoch: e, Loss: 5 - float64(e), ValidNDCG: 0.01 * float64(e)})
		}
		return h
	}
	c := &Curves{Recommenders: []RecCurve{
		{Method: "mf", Family: rec.FamilyCF, Loss: "softmax", Epochs: hist(3)},
		{Method: "cf_h", Family: rec.FamilyCF, Loss: "bpr", Epochs: hist(4)},
		{Method: "cf_h0", Family: rec.FamilyCF, Loss: "softmax", Epochs: hist(2)},
		{Method: "sasrec", Family: rec.FamilySeq, Loss: "softmax", Epochs: hist(5)},
	}}
	fig, ok := recommenderFigure(c)
	require.True(t, ok)
	require.Equal(t, 3, fig.Cols)
	require.Equal(t, []string{
		"Collaborative filtering: validation NDCG@10",
		"Collaborative filtering: training loss (full softmax cross-entropy)",
		"Collaborative filtering: training loss (BPR)",
		"Sequential (GPT-2 blocks): validation NDCG@10",
		"Sequential (GPT-2 blocks): training loss (full softmax cross-entropy)",
		"", // blank tile: the families stay in rows
	}, panelTitles(fig))
	require.Equal(t, []string{"mf (ID only)", "cf_h", "cf_h0"}, seriesNames(fig.Panels[0]))
	require.Equal(t, []string{"mf (ID only)", "cf_h0"}, seriesNames(fig.Panels[1]))
	require.Equal(t, []string{"cf_h"}, seriesNames(fig.Panels[2]))
	require.Equal(t, []string{"sasrec (ID only)"}, seriesNames(fig.Panels[3]))
	require.Equal(t, []float64{1, 2, 3, 4, 5}, fig.Panels[3].Series[0].X)
	for _, p := range fig.Panels[:5] {
		require.True(t, p.IntegerX)
		require.Equal(t, "epoch", p.XLabel)
	}

	// plots writes the three files from these curves and a ranking table.
	res := &Results{Ranking: map[string]map[string]float64{}, Seeds: make([]SeedRanking, 2)}
	for _, m := range []string{"popularity", "mf", "cf_h", "cf_h0", "sasrec"} {
		res.Ranking[m] = map[string]float64{"hr@10": 0.1, "ndcg@10": 0.05, "mrr": 0.04}
	}
	c.Stages = map[string]StageCurve{"backbone": {Loss: "ce", Train: []float64{3, 2, 1}, Valid: []Point{{0, 3}, {3, 1.5}}}}
	dir := filepath.Join(t.TempDir(), "plots")
	require.NoError(t, plots(dir, res, c))
	names, err := filepath.Glob(filepath.Join(dir, "*"))
	require.NoError(t, err)
	sort.Strings(names)
	require.Equal(t, []string{filepath.Join(dir, PlotRanking), filepath.Join(dir, PlotRecommenders), filepath.Join(dir, PlotTraining)}, names)
}

// items.json: the data's titles where it has them; otherwise the summary of the item's most
// helpful training review (never a held-out one); items with neither are left out.
func TestBuildItems(t *testing.T) {
	ds := &data.Dataset{Name: "x", HasReviewText: true, Items: map[string]data.ItemInfo{"T": {Title: "Titled", Genres: []string{"Drama"}}}}
	add := func(u, i string, tm int64, summary string, votes float64) {
		ds.Interactions = append(ds.Interactions, data.Interaction{User: u, Item: i, Rating: 4, Time: tm, Summary: summary,
			Values: map[string]float64{"helpful_votes": votes}, Row: len(ds.Interactions)})
	}
	// Item A: "loud" has the most votes. Item B: a tie on votes, "warm" is the most common.
	// Item C: one early review without votes, and a later held-out one with many votes.
	add("u1", "A", 1, "quiet", 1)
	add("u2", "A", 2, "loud", 7)
	add("u3", "A", 3, "ok", 2)
	add("u1", "B", 4, "bright", 0)
	add("u2", "B", 5, "warm", 0)
	add("u3", "B", 6, "warm", 0)
	add("u1", "C", 7, "first", 0)
	add("u1", "T", 8, "titled item's review", 9)
	add("u2", "N", 9, "", 0)
	add("u3", "T", 10, "", 0)
	// Held out: each user's last two interactions.
	add("u1", "D", 20, "valid only", 50)
	add("u1", "E", 21, "test only", 50)
	add("u2", "C", 22, "held-out praise", 99)
	add("u2", "E", 23, "x", 50)
	add("u3", "D", 24, "y", 50)
	add("u3", "E", 25, "z", 50)
	sd, err := data.Split(ds)
	require.NoError(t, err)
	p := &prepared{sd: sd, tx: newTexts(sd)}
	items := buildItems(p)
	require.Equal(t, ItemsSchemaVersion, items.SchemaVersion)
	require.Equal(t, map[string]ItemMeta{
		"A": {Summary: "loud"},
		"B": {Summary: "warm"},
		"C": {Summary: "first"},
		"T": {Title: "Titled", Genres: []string{"Drama"}},
	}, items.Items)
	require.Equal(t, []string{"genres", "summary", "title"}, sortedKeys(items.Fields))

	// A run written with it reads it back; one without it has no metadata.
	dir := t.TempDir()
	got, err := readItems(dir)
	require.NoError(t, err)
	require.Nil(t, got)
	require.NoError(t, writeJSON(filepath.Join(dir, ItemsFileName), items))
	got, err = readItems(dir)
	require.NoError(t, err)
	require.Equal(t, items.Items, got)
	require.NoError(t, os.WriteFile(filepath.Join(dir, ItemsFileName), []byte(`{"schema_version": 1, "items": [1]}`), 0o644))
	_, err = readItems(dir)
	require.ErrorContains(t, err, ItemsFileName)
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// A behaviour checkpoint stores what turns its residual into the target's units; an older one
// (no hier_target_mean) is recognised and says it cannot.
func TestBehaviorTarget(t *testing.T) {
	dir := t.TempDir()
	cfg := gpt2.NewConfig(10, 8, 4, 1, 1)
	cfg.Extra = map[string]json.RawMessage{}
	_, ok, err := ReadBehaviorTarget(dir, cfg)
	require.NoError(t, err)
	require.False(t, ok, "not a behaviour head")

	cfg.Extra[extraTarget] = json.RawMessage(`"residual"`)
	cfg.Extra[extraColumn] = json.RawMessage(`"rating"`)
	cfg.Extra[extraAlpha] = json.RawMessage(`0.5`)
	old, ok, err := ReadBehaviorTarget(dir, cfg)
	require.NoError(t, err)
	require.True(t, ok)
	require.False(t, old.HasBaseline)
	_, _, err = old.Baseline("", "")
	require.Error(t, err)

	cfg.Extra[extraMean] = json.RawMessage(`4.25`)
	bt, _, err := ReadBehaviorTarget(dir, cfg)
	require.NoError(t, err)
	require.Equal(t, BehaviorTarget{Unit: "rating", HasBaseline: true, Mean: 4.25, Alpha: 0.5, Dir: dir}, bt)
	v, kind, err := bt.Baseline("", "")
	require.NoError(t, err)
	require.Equal(t, 4.25, v)
	require.Contains(t, kind, "training mean of rating")
	_, _, err = bt.Baseline("u1", "i1")
	require.ErrorContains(t, err, BehaviorBaselineFile, "no bias file")

	require.NoError(t, writeJSON(filepath.Join(dir, BehaviorBaselineFile), &BehaviorBaseline{SchemaVersion: behaviorBaselineVersion, Target: "rating",
		Mean: 4.25, Alpha: 0.5, UserBias: map[string]float64{"u1": 0.5}, ItemBias: map[string]float64{"i1": -0.25}}))
	v, kind, err = bt.Baseline("u1", "i1")
	require.NoError(t, err)
	require.Equal(t, 4.5, v)
	require.Contains(t, kind, "user u1")
	v, _, err = bt.Baseline("", "i1")
	require.NoError(t, err)
	require.Equal(t, 4.0, v)
	_, _, err = bt.Baseline("nobody", "i1")
	require.ErrorContains(t, err, `unknown user "nobody"`)

	cfg.Extra[extraMean] = json.RawMessage(`"four"`)
	_, _, err = ReadBehaviorTarget(dir, cfg)
	require.ErrorContains(t, err, "hier_target_mean")
}

// snakeKey is the form of every key of metrics.json: snake_case, optionally a metric cut-off
// (ndcg@10), or a slice/method name made of such parts.
var snakeKey = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*(@[0-9]+)?$`)

// requireSnakeKeys walks a JSON document and requires every object key to be snake_case.
func requireSnakeKeys(t *testing.T, v any, path string) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		for k, sub := range x {
			require.Regexp(t, snakeKey, k, "key %q at %s", k, path)
			requireSnakeKeys(t, sub, path+"."+k)
		}
	case []any:
		for i, sub := range x {
			requireSnakeKeys(t, sub, fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

// checkProvenance checks the provenance of a run's metrics.json (decoded) and its keys.
func checkProvenance(t *testing.T, metrics []byte, seed uint64) {
	t.Helper()
	var doc map[string]any
	require.NoError(t, json.Unmarshal(metrics, &doc))
	requireSnakeKeys(t, doc, "metrics.json")
	var res Results
	require.NoError(t, json.Unmarshal(metrics, &res))
	require.Equal(t, SchemaVersion, res.SchemaVersion)
	require.Equal(t, seed, res.Seed)
	require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`, res.Date)
	require.NotEmpty(t, res.Versions.Hier)
	require.Regexp(t, `^go`, res.Versions.Go)
	require.Regexp(t, `^\d+\.\d+`, res.Versions.Libtorch)
	require.Equal(t, "cpu", res.Device)
	require.Equal(t, "temporal_leave_one_out", res.Protocol.Split)
	require.Equal(t, "full_catalogue", res.Protocol.Candidates)
	require.Equal(t, "pessimistic", res.Protocol.Ties)
	require.Equal(t, res.Counts.Items, res.Protocol.CatalogueItems)
	require.Equal(t, []int{5, 10, 20}, res.Protocol.K)
	require.Equal(t, RankingMetrics, res.Protocol.Metrics)
	require.Len(t, res.Protocol.Seeds, len(res.Seeds))
	require.False(t, math.IsNaN(res.Wall))
}
