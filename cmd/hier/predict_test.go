package main

import (
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var goldenLabels = []string{"negative", "neutral", "positive"}

func argmax(xs []float64) int {
	best := 0
	for i, v := range xs {
		if v > xs[best] {
			best = i
		}
	}
	return best
}

// checkClassification checks a single-label prediction against the golden logits.
func checkClassification(t *testing.T, p prediction, wantIDs []int64, wantLogits []float64, msg string) {
	t.Helper()
	assert.Equal(t, wantIDs, p.InputIDs, msg)
	assertClose(t, wantLogits, p.Logits, 1e-5, msg+" logits")
	require.Len(t, p.Probabilities, 3, msg)
	sum := 0.0
	for _, q := range p.Probabilities {
		assert.True(t, q > 0 && q < 1, "%s: probability %v", msg, q)
		sum += q
	}
	assert.InDelta(t, 1, sum, 1e-9, "%s: probabilities sum to 1", msg)
	assert.Contains(t, goldenLabels, p.Label, msg)
	assert.Equal(t, goldenLabels[argmax(wantLogits)], p.Label, msg)
	assert.Nil(t, p.Labels, msg)
}

// TestPredictGoldenRows predicts the golden rows one at a time without padding: the logits
// equal golden.json's cls_logits_f64 within 1e-5.
func TestPredictGoldenRows(t *testing.T) {
	g := loadGolden(t)
	dir := tinyDir(t)
	for i, row := range g.rows() {
		var out predictOutput
		okJSON(t, &out, "predict", "--model", dir, "--input-ids", idsArg(row), "--json")
		assert.Equal(t, dir, out.Model)
		assert.Equal(t, gpt2.ProblemSingleLabel, out.ProblemType)
		require.Len(t, out.Predictions, 1)
		assert.Nil(t, out.Predictions[0].Text)
		checkClassification(t, out.Predictions[0], row, g.ClsLogits[i], "row "+idsArg(row))
	}

	// All three in one call: one at a time (--batch-size 1), and batched with right padding.
	for _, bs := range []string{"1", "3"} {
		var out predictOutput
		args := []string{"--json", "predict", "--model", dir, "--batch-size", bs}
		for _, row := range g.rows() {
			args = append(args, "--input-ids", "["+idsArg(row)+"]")
		}
		okJSON(t, &out, args...)
		require.Len(t, out.Predictions, 3)
		for i, row := range g.rows() {
			checkClassification(t, out.Predictions[i], row, g.ClsLogits[i], "batch-size "+bs)
		}
	}
}

// TestPredictGoldenTexts tokenizes the golden review texts (default vocabulary), batches them
// with right padding and reproduces the golden input ids and logits.
func TestPredictGoldenTexts(t *testing.T) {
	requireVocab(t)
	g := loadGolden(t)
	args := []string{"predict", "--model", tinyDir(t), "--json"}
	for _, text := range g.Inputs.Texts {
		args = append(args, "--text", text)
	}
	var out predictOutput
	okJSON(t, &out, args...)
	require.Len(t, out.Predictions, 3)
	for i, row := range g.rows() {
		p := out.Predictions[i]
		require.NotNil(t, p.Text)
		assert.Equal(t, g.Inputs.Texts[i], *p.Text)
		checkClassification(t, p, row, g.ClsLogits[i], g.Inputs.Texts[i])
	}

	text := ok(t, "predict", "--model", tinyDir(t), "--text", g.Inputs.Texts[0])
	assert.Contains(t, text, "label: positive")
	assert.Contains(t, text, "probabilities: [")
	assert.Contains(t, text, "input_ids: [40501 6151 ")
}

func TestPredictTruncation(t *testing.T) {
	g := loadGolden(t)
	row := g.rows()[0]
	var full, cut predictOutput
	okJSON(t, &cut, "predict", "--json", "--model", tinyDir(t), "--input-ids", idsArg(row), "--max-length", "4")
	require.Len(t, cut.Predictions, 1)
	assert.Equal(t, row[:4], cut.Predictions[0].InputIDs)
	assert.True(t, cut.Predictions[0].Truncated)
	okJSON(t, &full, "predict", "--json", "--model", tinyDir(t), "--input-ids", idsArg(row[:4]))
	assert.False(t, full.Predictions[0].Truncated)
	assertClose(t, full.Predictions[0].Logits, cut.Predictions[0].Logits, 1e-6, "truncated = first 4 ids")

	// Without --max-length, inputs are cut to n_positions (64) with a warning on stderr.
	long := slices.Repeat(row, 6)[:70]
	r := hier(t, "predict", "--json", "--model", tinyDir(t), "--input-ids", idsArg(long))
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Contains(t, r.Stderr, "level=WARN msg=\"input truncated\"")
	var auto predictOutput
	require.NoError(t, jsonUnmarshal(r.Stdout, &auto))
	assert.Equal(t, long[:64], auto.Predictions[0].InputIDs)
	assert.True(t, auto.Predictions[0].Truncated)
}

// TestPredictRegressionNoPad saves a regression checkpoint without pad_token_id and predicts
// inputs of different lengths: they run one at a time, and regression prints logits only.
func TestPredictRegressionNoPad(t *testing.T) {
	g := loadGolden(t)
	clf, _, err := gpt2.LoadSequenceClassifier(tinyDir(t), gpt2.LoadOptions{NumLabels: 1, InitHead: true})
	require.NoError(t, err)
	defer clf.Free()
	clf.Config().PadTokenID = nil
	clf.Config().ProblemType = gpt2.ProblemRegression
	dir := filepath.Join(t.TempDir(), "regression")
	require.NoError(t, clf.Save(dir, nil))

	rows := g.rows()
	var batch predictOutput
	okJSON(t, &batch, "predict", "--json", "--model", dir, "--input-ids", idsArg(rows[0]), "--input-ids", idsArg(rows[2]))
	assert.Equal(t, gpt2.ProblemRegression, batch.ProblemType)
	require.Len(t, batch.Predictions, 2)
	for i, row := range [][]int64{rows[0], rows[2]} {
		p := batch.Predictions[i]
		require.Len(t, p.Logits, 1)
		assert.False(t, math.IsNaN(p.Logits[0]))
		assert.Nil(t, p.Probabilities)
		assert.Empty(t, p.Label)
		var single predictOutput
		okJSON(t, &single, "predict", "--json", "--model", dir, "--input-ids", idsArg(row))
		assert.Equal(t, single.Predictions[0].Logits, p.Logits, "one at a time without a pad token")
	}
}

func TestPredictMultiLabel(t *testing.T) {
	g := loadGolden(t)
	clf, _, err := gpt2.LoadSequenceClassifier(tinyDir(t), gpt2.LoadOptions{})
	require.NoError(t, err)
	defer clf.Free()
	clf.Config().ProblemType = gpt2.ProblemMultiLabel
	dir := filepath.Join(t.TempDir(), "multi")
	require.NoError(t, clf.Save(dir, nil))

	var out predictOutput
	okJSON(t, &out, "predict", "--json", "--model", dir, "--input-ids", idsArg(g.rows()[0]))
	assert.Equal(t, gpt2.ProblemMultiLabel, out.ProblemType)
	p := out.Predictions[0]
	assertClose(t, g.ClsLogits[0], p.Logits, 1e-5, "multi-label logits")
	require.NotNil(t, p.Labels)
	assert.Empty(t, p.Label)
	for i, l := range p.Logits {
		sig := 1 / (1 + math.Exp(-l))
		assert.InDelta(t, sig, p.Probabilities[i], 1e-12)
		assert.Equal(t, sig >= 0.5, slices.Contains(*p.Labels, goldenLabels[i]))
	}
}

func TestParseIDList(t *testing.T) {
	for in, want := range map[string][]int64{"1,2,3": {1, 2, 3}, " [ 4, 5 ] ": {4, 5}, "7": {7}} {
		got, err := parseIDList(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "[]", "1,,2", "1,x", "1.5", "1 2"} {
		_, err := parseIDList(in)
		assert.Error(t, err, in)
	}
}

func TestSoftmax(t *testing.T) {
	p := softmax([]float64{1000, 1000, 1000 - math.Log(2)})
	assertClose(t, []float64{0.4, 0.4, 0.2}, p, 1e-12, "stable softmax")
}
