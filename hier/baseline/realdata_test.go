package baseline

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/hier-ai/hier/hier/data"
	"github.com/hier-ai/hier/hier/eval"
)

// sharedDataset returns <repo root>/../shared/data/<name> (from this package
// directory, ../../../shared/data/<name>), where the repo root is the closest
// directory above the working directory holding go.mod; the test is skipped
// when it does not exist.
func sharedDataset(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("repository root (go.mod) not found")
		}
		dir = parent
	}
	p := filepath.Join(filepath.Dir(dir), "shared", "data", name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared dataset %s not available: %v", p, err)
	}
	return p
}

// musicalInstrumentsSplit loads the Amazon Musical Instruments 5-core data
// and its per-user temporal leave-one-out split, or skips the test.
func musicalInstrumentsSplit(t testing.TB) *data.SplitData {
	t.Helper()
	if testing.Short() {
		t.Skip("real-data test skipped in -short mode")
	}
	dir := sharedDataset(t, "amazon-musical-instruments-5core")
	ds, err := data.Load(filepath.Join(dir, "Musical_instruments_reviews.csv.zip"), data.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sd, err := data.Split(ds)
	if err != nil {
		t.Fatal(err)
	}
	return sd
}

// sentimentLabels are the three rating bins of the sentiment task.
var sentimentLabels = []string{"negative", "neutral", "positive"}

// sentimentOf maps a star rating to 0 (negative, ≤ 2), 1 (neutral, 3) or
// 2 (positive, ≥ 4); NaN ratings give -1.
func sentimentOf(r float64) int {
	switch {
	case math.IsNaN(r):
		return -1
	case r <= 2:
		return 0
	case r < 4:
		return 1
	default:
		return 2
	}
}

// sentimentSet returns the review texts (data.ReviewText) and sentiment
// labels of recs, skipping records without a rating.
func sentimentSet(recs []data.Record) (texts []string, labels []int) {
	for k := range recs {
		l := sentimentOf(recs[k].Rating)
		if l < 0 {
			continue
		}
		texts = append(texts, data.ReviewText(&recs[k].Interaction))
		labels = append(labels, l)
	}
	return texts, labels
}

// TestTextClassifierMusicalInstruments fits the tf-idf + logistic-regression
// sentiment baseline on the review texts (data.ReviewText) of the training
// records of the Musical Instruments split, chooses C on the validation
// records by macro-F1 and evaluates the test records once.
//
// Measured (balanced class weights, default grid and tolerance; 7,403
// train, 1,429 valid, 1,429 test reviews; 72,674 uni- and bigram features):
// validation macro-F1 0.5957 / 0.5833 / 0.5592 / 0.5502 for C = 0.25 / 1 /
// 4 / 16, so C = 0.25; test accuracy 0.8404, macro-F1 0.6040 (negative
// 0.5128, neutral 0.3800, positive 0.9192), in line with the 0.601 measured
// with scikit-learn's TfidfVectorizer + LogisticRegression. Without class
// weights validation chooses C = 16 with macro-F1 only 0.36 (the rare
// negative and neutral classes are rarely predicted), so the baseline uses
// balanced weights, as the GPT-2 sentiment head does.
func TestTextClassifierMusicalInstruments(t *testing.T) {
	sd := musicalInstrumentsSplit(t)
	trainX, trainY := sentimentSet(sd.Train)
	validX, validY := sentimentSet(sd.Valid)
	testX, testY := sentimentSet(sd.Test)
	if len(trainX) != 7403 || len(validX) != 1429 || len(testX) != 1429 {
		t.Fatalf("split sizes %d/%d/%d, want 7403/1429/1429", len(trainX), len(validX), len(testX))
	}
	cfg := DefaultTextClassifierConfig()
	cfg.LogReg.Balanced = true
	tc, got, err := FitTextClassifier(trainX, trainY, validX, validY, 3, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range tc.Validation() {
		t.Logf("C=%-5v validation macro-F1 %.4f accuracy %.4f", v.C, v.MacroF1, v.Accuracy)
	}
	rep := eval.ClassificationReport(testY, tc.Predict(testX), sentimentLabels)
	t.Logf("%d features, chosen C=%v (%d L-BFGS iterations, %s); test:\n%s",
		tc.Vectorizer().NumFeatures(), got.LogReg.C, tc.Model().Iterations(), tc.Model().Status(), rep.Format(4))
	if rep.MacroAvg.F1 < 0.55 {
		t.Errorf("test macro-F1 %.4f < 0.55", rep.MacroAvg.F1)
	}
	if rep.Accuracy < 0.8 {
		t.Errorf("test accuracy %.4f < 0.8", rep.Accuracy)
	}
}

// ratingsOf returns the (user, item, rating) triples of recs, skipping
// records without a rating.
func ratingsOf(recs []data.Record) Ratings {
	var r Ratings
	for k := range recs {
		if math.IsNaN(recs[k].Rating) {
			continue
		}
		r.Users = append(r.Users, recs[k].UserIdx)
		r.Items = append(r.Items, recs[k].ItemIdx)
		r.Values = append(r.Values, recs[k].Rating)
	}
	return r
}

// TestTuneBiasesMusicalInstruments tunes the user+item bias rating
// predictor on the Musical Instruments split: fit on the training ratings,
// choose (λ_u, λ_i) by validation MSE, predict the test ratings (as the
// pipeline's behaviour evaluation does with the default λ).
//
// Measured (10 sweeps; 7,403 train, 1,429 valid, 1,429 test ratings): the
// grid minimum is λ_u = λ_i = 10 with validation RMSE 0.89466 and test RMSE
// 0.96276; Koren's default λ_u = 10, λ_i = 25 gives validation 0.89778 and
// test 0.96350; the global mean gives test RMSE 0.99036. Results are the
// same with 100 sweeps.
func TestTuneBiasesMusicalInstruments(t *testing.T) {
	sd := musicalInstrumentsSplit(t)
	train, valid, test := ratingsOf(sd.Train), ratingsOf(sd.Valid), ratingsOf(sd.Test)
	b, sel, err := TuneBiases(train, valid, sd.NumUsers(), sd.NumItems(), DefaultBiasConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	rmse := func(pred func(u, i int) float64, r Ratings) float64 {
		p := make([]float64, r.Len())
		for n := range p {
			p[n] = pred(r.Users[n], r.Items[n])
		}
		return eval.RegressionMetrics(p, r.Values).RMSE
	}
	def, err := FitBiases(train.Users, train.Items, train.Values, sd.NumUsers(), sd.NumItems(), DefaultBiasConfig())
	if err != nil {
		t.Fatal(err)
	}
	mu := GlobalMean(train.Values)
	tuned, dflt := rmse(b.Predict, test), rmse(def.Predict, test)
	gm := rmse(func(int, int) float64 { return mu }, test)
	t.Logf("chosen λ_u=%v λ_i=%v: valid RMSE %.5f, test RMSE %.5f; default (10, 25): valid %.5f, test %.5f; global mean test %.5f",
		sel.Config.LambdaU, sel.Config.LambdaI, math.Sqrt(sel.ValidMSE), tuned, rmse(def.Predict, valid), dflt, gm)
	if sel.Config.LambdaU != 10 || sel.Config.LambdaI != 10 {
		t.Errorf("chose (%v, %v), measured (10, 10)", sel.Config.LambdaU, sel.Config.LambdaI)
	}
	near(t, "valid RMSE", math.Sqrt(sel.ValidMSE), 0.89466, 5e-5)
	near(t, "test RMSE", tuned, 0.96276, 5e-5)
	if !(tuned < gm) {
		t.Errorf("tuned biases test RMSE %.5f not below the global mean's %.5f", tuned, gm)
	}
}
