package baseline

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestTokenize(t *testing.T) {
	cases := map[string][]string{
		"Don't STOP—it's 2 good!":           {"don't", "stop", "it's", "2", "good"},
		"'quoted' rock'n'roll ’tis o’clock": {"quoted", "rock'n'roll", "tis", "o'clock"},
		"Café Über-cool, naïve":             {"café", "über", "cool", "naïve"},
		"don''t it' 'x a_b 5.5":             {"don", "t", "it", "x", "a", "b", "5", "5"},
		"":                                  nil,
		"  ...!! ":                          nil,
		"I":                                 {"i"},
	}
	for in, want := range cases {
		if got := Tokenize(in); !slices.Equal(got, want) {
			t.Errorf("Tokenize(%q) = %q, want %q", in, got, want)
		}
	}
}

// tfidfCorpus is the hand example of TestTFIDFHandComputed.
var tfidfCorpus = []string{
	"Good strings. Good guitar!",
	"good strings, bad price",
	"Bad price; don't buy",
	"DON'T buy 'em",
	"good",
}

// Hand example, n = 5 training documents (MinDF 2, unigrams + bigrams):
//
//	d0 "Good strings. Good guitar!"  good strings good guitar
//	d1 "good strings, bad price"     good strings bad price
//	d2 "Bad price; don't buy"        bad price don't buy
//	d3 "DON'T buy 'em"               don't buy em
//	d4 "good"                        good
//
// Document frequencies: good 3 (d0 d1 d4); strings, bad, price, don't, buy,
// "good strings", "bad price", "don't buy" 2; guitar, em, "strings good",
// "good guitar", "strings bad", "price don't", "buy em" 1 (dropped by
// MinDF 2). Vocabulary in byte order, feature ids 0..8:
//
//	bad, bad price, buy, don't, don't buy, good, good strings, price, strings
//
// idf with smoothing: df 2 → ln(6/3)+1 = 1+ln 2 = A = 1.6931471805599454,
// df 3 → ln(6/4)+1 = 1+ln 1.5 = B = 1.4054651081081644.
//
// d0: tf good = 2 → 1+ln 2 = A; strings, "good strings" tf 1 → 1.
// v = (good A·B, good strings A, strings A), ‖v‖ = A·√(B²+2), so
// x_good = B/√(B²+2) = 0.7049094889309326 and
// x_"good strings" = x_strings = 1/√(B²+2) = 0.5015489070943787.
//
// d1: all six terms tf 1: v = (good B, five others A),
// x_good = B/√(B²+5A²) = 0.3480210257141676, others A/√(B²+5A²) =
// 0.4192568104779834.
//
// d3: don't, buy, "don't buy" with tf 1 and equal idf: each 1/√3.
// d4: good alone: 1.
//
// Transform of the unseen text "Bad, bad price!": bad tf 2 → (1+ln 2)·A =
// A², price A, "bad price" A ("bad bad" is unknown); ‖v‖ = A·√(A²+2), so
// x_bad = A/√(A²+2) = 0.7674945674619879 and the other two
// 1/√(A²+2) = 0.4532946552278861.
//
// With LinearTF d0 is v = (good 2B, good strings A, strings A):
// x_good = 2B/√(4B²+2A²) = 0.7612464929881594, others A/√(4B²+2A²) =
// 0.45853231996950244.
func TestTFIDFHandComputed(t *testing.T) {
	const tol = 1e-12
	v, err := FitTFIDF(tfidfCorpus, TFIDFConfig{})
	if err != nil {
		t.Fatal(err)
	}
	wantTerms := []string{"bad", "bad price", "buy", "don't", "don't buy", "good", "good strings", "price", "strings"}
	if v.NumFeatures() != len(wantTerms) {
		t.Fatalf("vocabulary size %d, want %d", v.NumFeatures(), len(wantTerms))
	}
	for j, term := range wantTerms {
		if v.Term(j) != term {
			t.Errorf("term %d = %q, want %q", j, v.Term(j), term)
		}
		if k, ok := v.Index(term); !ok || k != j {
			t.Errorf("Index(%q) = %d, %v", term, k, ok)
		}
	}
	if _, ok := v.Index("guitar"); ok {
		t.Error("guitar (df 1) is in the vocabulary")
	}
	A, B := 1+math.Ln2, 1+math.Log(1.5)
	near(t, "A literal", A, 1.6931471805599454, 0)
	for j, term := range wantTerms {
		want := A
		if term == "good" {
			want = B
		}
		near(t, "idf "+term, v.IDF(j), want, tol)
	}
	if v.NumDocs() != 5 || v.Config() != DefaultTFIDFConfig() {
		t.Errorf("NumDocs %d, Config %+v", v.NumDocs(), v.Config())
	}

	x := v.Transform(append(slices.Clone(tfidfCorpus), "Bad, bad price!", "guitar em", ""))
	if x.Rows != 8 || x.Cols != 9 {
		t.Fatalf("shape %d×%d", x.Rows, x.Cols)
	}
	at := func(row int, term string) float64 {
		j, _ := v.Index(term)
		return x.At(row, j)
	}
	near(t, "d0 good", at(0, "good"), B/math.Sqrt(B*B+2), tol)
	near(t, "d0 good literal", at(0, "good"), 0.7049094889309326, tol)
	near(t, "d0 strings", at(0, "strings"), 0.5015489070943787, tol)
	near(t, "d0 good strings", at(0, "good strings"), 0.5015489070943787, tol)
	near(t, "d0 bad", at(0, "bad"), 0, 0)
	near(t, "d1 good", at(1, "good"), 0.3480210257141676, tol)
	for _, term := range []string{"strings", "bad", "price", "good strings", "bad price"} {
		near(t, "d1 "+term, at(1, term), 0.4192568104779834, tol)
	}
	for _, term := range []string{"don't", "buy", "don't buy"} {
		near(t, "d3 "+term, at(3, term), 1/math.Sqrt(3), tol)
	}
	near(t, "d4 good", at(4, "good"), 1, tol)
	near(t, "new bad", at(5, "bad"), 0.7674945674619879, tol)
	near(t, "new price", at(5, "price"), 0.4532946552278861, tol)
	near(t, "new bad price", at(5, "bad price"), 0.4532946552278861, tol)
	// Stored entries per row and unit norms.
	wantNNZ := []int{3, 6, 6, 3, 1, 3, 0, 0}
	for i := range x.Rows {
		cols, vals := x.Row(i)
		if len(cols) != wantNNZ[i] {
			t.Errorf("row %d has %d entries, want %d", i, len(cols), wantNNZ[i])
		}
		if !slices.IsSorted(cols) {
			t.Errorf("row %d columns unsorted: %v", i, cols)
		}
		var ss float64
		for _, v := range vals {
			ss += v * v
		}
		if len(vals) > 0 {
			near(t, "row norm", ss, 1, 1e-14)
		}
	}
	if err := x.validate(); err != nil {
		t.Error(err)
	}

	lin, err := FitTFIDF(tfidfCorpus, TFIDFConfig{LinearTF: true})
	if err != nil {
		t.Fatal(err)
	}
	xl := lin.Transform(tfidfCorpus[:1])
	j, _ := lin.Index("good")
	near(t, "linear d0 good", xl.At(0, j), 0.7612464929881594, tol)
	j, _ = lin.Index("strings")
	near(t, "linear d0 strings", xl.At(0, j), 0.45853231996950244, tol)
}

// MinDF 1 keeps all 15 n-grams; unigrams only keeps 8 tokens; MaxFeatures 2
// keeps the two most frequent in total count: good (4 occurrences) and then,
// among the count-2 terms bad, buy, don't, price, strings, "bad price",
// "don't buy", "good strings", the first in byte order, bad.
func TestTFIDFVocabularyOptions(t *testing.T) {
	for _, c := range []struct {
		cfg  TFIDFConfig
		want []string
	}{
		{TFIDFConfig{MinDF: 1, MaxNGram: 1}, []string{"bad", "buy", "don't", "em", "good", "guitar", "price", "strings"}},
		{TFIDFConfig{MaxFeatures: 2}, []string{"bad", "good"}},
		{TFIDFConfig{MinDF: 3, MaxNGram: 3}, []string{"good"}},
	} {
		v, err := FitTFIDF(tfidfCorpus, c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for j := range v.NumFeatures() {
			got = append(got, v.Term(j))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%+v: vocabulary %q, want %q", c.cfg, got, c.want)
		}
	}
	v, err := FitTFIDF(tfidfCorpus, TFIDFConfig{MinDF: 1, MaxNGram: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := v.Index("good strings good"); !ok || v.NumFeatures() != 8+8+7 {
		t.Errorf("trigram vocabulary has %d terms", v.NumFeatures())
	}
	for name, f := range map[string]func() error{
		"empty":      func() error { _, err := FitTFIDF(nil, TFIDFConfig{}); return err },
		"no terms":   func() error { _, err := FitTFIDF([]string{"a b", "c d"}, TFIDFConfig{}); return err },
		"only punct": func() error { _, err := FitTFIDF([]string{"!!", "?"}, TFIDFConfig{MinDF: 1}); return err },
		"neg min_df": func() error { _, err := FitTFIDF(tfidfCorpus, TFIDFConfig{MinDF: -1}); return err },
		"neg ngram":  func() error { _, err := FitTFIDF(tfidfCorpus, TFIDFConfig{MaxNGram: -2}); return err },
		"neg maxf":   func() error { _, err := FitTFIDF(tfidfCorpus, TFIDFConfig{MaxFeatures: -2}); return err },
	} {
		if f() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// randomSparse returns a rows×cols CSR matrix with about half the entries
// non-zero, drawn from N(0, 1).
func randomSparse(r *rand.Rand, rows, cols int) *SparseMatrix {
	m := &SparseMatrix{Rows: rows, Cols: cols, RowPtr: []int{0}}
	for range rows {
		for j := range cols {
			if r.Float64() < 0.5 {
				m.ColIdx = append(m.ColIdx, j)
				m.Values = append(m.Values, r.NormFloat64())
			}
		}
		m.RowPtr = append(m.RowPtr, len(m.ColIdx))
	}
	return m
}

// The analytic gradient of the penalised, weighted multinomial log-loss
// matches central finite differences (f(θ+h e_i) − f(θ−h e_i))/(2h), whose
// error is O(h²) plus rounding O(ε/h), about 1e-10 for h = 1e-5 here.
func TestLogRegGradientFiniteDifferences(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	x := randomSparse(r, 9, 5)
	y := []int{0, 1, 2, 2, 2, 0, 2, 1, 2}
	for _, balanced := range []bool{false, true} {
		o := newLogRegObjective(x, y, 3, LogRegConfig{C: 0.7, Balanced: balanced})
		dim := x.Cols*3 + 3
		theta := make([]float64, dim)
		for i := range theta {
			theta[i] = r.NormFloat64()
		}
		grad := make([]float64, dim)
		f := o.eval(theta, grad)
		if g := o.eval(theta, nil); g != f {
			t.Errorf("objective without gradient %v, with %v", g, f)
		}
		const h = 1e-5
		worst := 0.0
		for i := range theta {
			tp, tm := slices.Clone(theta), slices.Clone(theta)
			tp[i] += h
			tm[i] -= h
			fd := (o.eval(tp, nil) - o.eval(tm, nil)) / (2 * h)
			worst = max(worst, math.Abs(fd-grad[i]))
		}
		if worst > 1e-8 {
			t.Errorf("balanced=%v: max |finite difference − gradient| = %g", balanced, worst)
		}
		// Direct evaluation of the objective at θ for one sample weighting:
		// L = (1/S) Σ s_n (ln Σ_c e^{z_nc} − z_{n,y_n}) + ‖W‖²/(2CS).
		k, d := 3, x.Cols
		cw := balancedClassWeights(y, k)
		var s, loss, reg float64
		for n := range x.Rows {
			sn := 1.0
			if balanced {
				sn = cw[y[n]]
			}
			z := slices.Clone(theta[d*k:])
			for j := range d {
				for c := range k {
					z[c] += x.At(n, j) * theta[j*k+c]
				}
			}
			var se float64
			for _, v := range z {
				se += math.Exp(v)
			}
			loss += sn * (math.Log(se) - z[y[n]])
			s += sn
		}
		for _, v := range theta[:d*k] {
			reg += v * v
		}
		near(t, "objective", f, loss/s+reg/(2*0.7*s), 1e-12)
	}
	// Balanced weights n/(k·n_c) for y: n = 9, k = 3, counts 2, 2, 5.
	w := balancedClassWeights(y, 3)
	near(t, "w0", w[0], 9.0/6, 1e-15)
	near(t, "w1", w[1], 9.0/6, 1e-15)
	near(t, "w2", w[2], 9.0/15, 1e-15)
	if w := balancedClassWeights([]int{0, 0, 0, 1}, 3); w[0] != 4.0/9 || w[1] != 4.0/3 || w[2] != 0 {
		t.Errorf("balanced weights %v, want [4/9 4/3 0]", w)
	}
}

// At the fitted parameters the gradient vanishes (L-BFGS reached its
// gradient tolerance), and, because Σ_c (p_c − 1[c = y]) = 0 for every
// sample, stationarity W_jc/(C·S) = −(data gradient)_jc forces
// Σ_c W_jc = 0 for every feature j.
func TestLogRegConverges(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x := randomSparse(r, 60, 8)
	y := make([]int, 60)
	for n := range y {
		// A noisy linear rule so the optimum is finite and non-trivial.
		cols, vals := x.Row(n)
		var s float64
		for t, j := range cols {
			s += float64(j-4) * vals[t]
		}
		s += r.NormFloat64()
		switch {
		case s < -1:
			y[n] = 0
		case s < 1:
			y[n] = 1
		default:
			y[n] = 2
		}
	}
	cfg := LogRegConfig{C: 2, Balanced: true, Tol: 1e-9}
	m, err := FitLogReg(x, y, 3, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status() != "GradientThreshold" {
		t.Errorf("status %s after %d iterations", m.Status(), m.Iterations())
	}
	got := m.Config()
	if got.C != 2 || !got.Balanced || got.MaxIter != 500 || got.Tol != 1e-9 {
		t.Errorf("config %+v", got)
	}
	theta := append(slices.Clone(m.w), m.b...)
	grad := make([]float64, len(theta))
	newLogRegObjective(x, y, 3, got).eval(theta, grad)
	gmax := 0.0
	for _, g := range grad {
		gmax = max(gmax, math.Abs(g))
	}
	if gmax >= 1e-9 {
		t.Errorf("gradient at solution has max |g| = %g", gmax)
	}
	for j := range m.NumFeatures() {
		var s float64
		for c := range m.NumClasses() {
			s += m.Weight(j, c)
		}
		if math.Abs(s) > 1e-7 {
			t.Errorf("feature %d: Σ_c W = %g", j, s)
		}
	}
	p, err := m.PredictProba(x)
	if err != nil {
		t.Fatal(err)
	}
	pred, _ := m.Predict(x)
	correct := 0
	for n, row := range p {
		near(t, "Σp", row[0]+row[1]+row[2], 1, 1e-12)
		if pred[n] == y[n] {
			correct++
		}
		if row[pred[n]] < max(row[0], row[1], row[2]) {
			t.Errorf("row %d: predicted %d is not the argmax of %v", n, pred[n], row)
		}
	}
	if correct < 40 {
		t.Errorf("training accuracy %d/60", correct)
	}
	// Weaker regularisation fits the training data at least as well in
	// log-loss terms: the unpenalised loss at C = 100 is below that at C = 0.01.
	lossAt := func(c float64) float64 {
		m, err := FitLogReg(x, y, 3, LogRegConfig{C: c})
		if err != nil {
			t.Fatal(err)
		}
		p, _ := m.PredictProba(x)
		var l float64
		for n, row := range p {
			l -= math.Log(row[y[n]])
		}
		return l
	}
	if lo, hi := lossAt(100), lossAt(0.01); !(lo < hi) {
		t.Errorf("log-loss at C=100 (%v) not below C=0.01 (%v)", lo, hi)
	}
}

// toyTexts builds a separable 3-class corpus: every class has four cue
// words, and a document is a pair (training) or a different-order triple
// (held out) of its class's cue words plus the shared words "the item".
func toyTexts(triples bool) (texts []string, labels []int) {
	cues := [][]string{
		{"awful", "broken", "junk", "refund"},
		{"okay", "average", "mediocre", "fine"},
		{"great", "love", "excellent", "perfect"},
	}
	for c, words := range cues {
		for a := range words {
			for b := range words {
				if triples {
					d := (b + 1) % len(words)
					if a == b || a == d || b == d {
						continue
					}
					texts = append(texts, "The item: "+words[d]+", "+words[b]+" and "+words[a]+"!")
				} else if a < b {
					texts = append(texts, "the item "+words[a]+" "+words[b])
				} else {
					continue
				}
				labels = append(labels, c)
			}
		}
	}
	return texts, labels
}

func TestTextClassifierSeparable(t *testing.T) {
	train, yTrain := toyTexts(false)
	test, yTest := toyTexts(true)
	// Validation: the first two test triples of each class.
	var valid []string
	var yValid []int
	for n := range test {
		if n%8 < 2 {
			valid, yValid = append(valid, test[n]), append(yValid, yTest[n])
		}
	}
	tc, cfg, err := FitTextClassifier(train, yTrain, valid, yValid, 3, TextClassifierConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tc.Validation()) != 4 || !slices.Equal(cfg.CGrid, DefaultCGrid) {
		t.Fatalf("validation %v, grid %v", tc.Validation(), cfg.CGrid)
	}
	// Every C separates the validation triples; the first grid value wins
	// the tie.
	for _, v := range tc.Validation() {
		if v.MacroF1 != 1 || v.Accuracy != 1 {
			t.Errorf("C=%v: validation %+v", v.C, v)
		}
	}
	if cfg.LogReg.C != 0.25 || tc.Model().Config().C != 0.25 {
		t.Errorf("chosen C %v / %v, want 0.25", cfg.LogReg.C, tc.Model().Config().C)
	}
	if cfg.TFIDF != DefaultTFIDFConfig() {
		t.Errorf("returned TFIDF config %+v", cfg.TFIDF)
	}
	for name, set := range map[string]struct {
		x []string
		y []int
	}{"train": {train, yTrain}, "test": {test, yTest}} {
		pred := tc.Predict(set.x)
		if !slices.Equal(pred, set.y) {
			t.Errorf("%s predictions %v, want %v", name, pred, set.y)
		}
	}
	p := tc.PredictProba([]string{"great excellent", "junk refund", "nothing known"})
	for n, row := range p {
		near(t, "Σp", row[0]+row[1]+row[2], 1, 1e-12)
		if want := []int{2, 0}; n < 2 && argmaxRows([][]float64{row})[0] != want[n] {
			t.Errorf("row %d: probabilities %v, want class %d most likely", n, row, want[n])
		}
	}
	// A text without vocabulary terms gets the intercept-only prediction:
	// the classes are balanced, so all probabilities are close to 1/3.
	for _, v := range p[2] {
		near(t, "empty text probability", v, 1.0/3, 1e-3)
	}

	// Deterministic: a second fit gives identical weights.
	tc2, _, err := FitTextClassifier(train, yTrain, valid, yValid, 3, TextClassifierConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tc.Model().w, tc2.Model().w) || !slices.Equal(tc.Model().b, tc2.Model().b) {
		t.Error("refit gave different weights")
	}

	// A single C needs no validation texts.
	one, cfg1, err := FitTextClassifier(train, yTrain, nil, nil, 3, TextClassifierConfig{CGrid: []float64{4}, LogReg: LogRegConfig{Balanced: true}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg1.LogReg.C != 4 || !cfg1.LogReg.Balanced || len(one.Validation()) != 0 {
		t.Errorf("single-C config %+v, validation %v", cfg1, one.Validation())
	}
	if pred := one.Predict(test); !slices.Equal(pred, yTest) {
		t.Errorf("single-C test predictions %v", pred)
	}
}

// C is chosen by validation macro-F1: with labels that contradict the
// training data on a cue word, a weak fit (small C) and a strong one
// (large C) predict differently and the grid must pick the better one.
func TestTextClassifierChoosesC(t *testing.T) {
	// Class 1 is rare: its cue word "meh" appears in 3 of 20 training texts.
	// With strong regularisation (tiny C) every prediction falls back to the
	// majority class 0; with weak regularisation "meh" texts are class 1.
	var train []string
	var y []int
	for n := range 20 {
		if n%7 == 3 {
			train, y = append(train, "meh product here"), append(y, 1)
		} else {
			train, y = append(train, "nice product here"), append(y, 0)
		}
	}
	valid := []string{"meh product", "nice product", "meh here", "nice here"}
	yValid := []int{1, 0, 1, 0}
	tc, cfg, err := FitTextClassifier(train, y, valid, yValid, 2, TextClassifierConfig{CGrid: []float64{1e-4, 100}})
	if err != nil {
		t.Fatal(err)
	}
	v := tc.Validation()
	if len(v) != 2 || !(v[0].MacroF1 < v[1].MacroF1) || v[1].MacroF1 != 1 {
		t.Fatalf("validation %+v", v)
	}
	if cfg.LogReg.C != 100 {
		t.Errorf("chose C=%v, want 100", cfg.LogReg.C)
	}
}

func TestTextClassifierErrors(t *testing.T) {
	train, y := toyTexts(false)
	valid, yv := train[:3], y[:3]
	fit := func(tr []string, ty []int, va []string, vy []int, k int, cfg TextClassifierConfig) error {
		_, _, err := FitTextClassifier(tr, ty, va, vy, k, cfg)
		return err
	}
	bad := func(i, v int) []int {
		out := slices.Clone(y)
		out[i] = v
		return out
	}
	cases := map[string]error{
		"empty train":       fit(nil, nil, valid, yv, 3, TextClassifierConfig{}),
		"train mismatch":    fit(train, y[1:], valid, yv, 3, TextClassifierConfig{}),
		"valid mismatch":    fit(train, y, valid, yv[1:], 3, TextClassifierConfig{}),
		"label too big":     fit(train, bad(4, 3), valid, yv, 3, TextClassifierConfig{}),
		"label negative":    fit(train, bad(0, -1), valid, yv, 3, TextClassifierConfig{}),
		"valid label":       fit(train, y, valid, []int{0, 0, 7}, 3, TextClassifierConfig{}),
		"one class":         fit(train, make([]int, len(y)), valid, []int{0, 0, 0}, 1, TextClassifierConfig{}),
		"zero C":            fit(train, y, valid, yv, 3, TextClassifierConfig{CGrid: []float64{1, 0}}),
		"nan C":             fit(train, y, valid, yv, 3, TextClassifierConfig{CGrid: []float64{math.NaN()}}),
		"inf C":             fit(train, y, valid, yv, 3, TextClassifierConfig{CGrid: []float64{math.Inf(1)}}),
		"grid without val":  fit(train, y, nil, nil, 3, TextClassifierConfig{}),
		"empty vocabulary":  fit([]string{"a", "b"}, []int{0, 1}, nil, nil, 2, TextClassifierConfig{CGrid: []float64{1}}),
		"negative min_df":   fit(train, y, valid, yv, 3, TextClassifierConfig{TFIDF: TFIDFConfig{MinDF: -1}}),
		"negative max_iter": fit(train, y, valid, yv, 3, TextClassifierConfig{LogReg: LogRegConfig{MaxIter: -1}}),
		"nan tol":           fit(train, y, valid, yv, 3, TextClassifierConfig{LogReg: LogRegConfig{Tol: math.NaN()}}),
	}
	for name, err := range cases {
		if err == nil {
			t.Errorf("%s: no error", name)
		} else if !strings.HasPrefix(err.Error(), "baseline: ") {
			t.Errorf("%s: error %q lacks the package prefix", name, err)
		}
	}

	x := &SparseMatrix{Rows: 2, Cols: 2, RowPtr: []int{0, 1, 2}, ColIdx: []int{0, 1}, Values: []float64{1, 1}}
	if _, err := FitLogReg(x, []int{0, 1}, 2, LogRegConfig{}); err != nil {
		t.Fatalf("valid input: %v", err)
	}
	for name, c := range map[string]struct {
		x *SparseMatrix
		y []int
		k int
	}{
		"nil matrix":     {nil, nil, 2},
		"no rows":        {&SparseMatrix{Cols: 2, RowPtr: []int{0}}, nil, 2},
		"label count":    {x, []int{0}, 2},
		"label range":    {x, []int{0, 2}, 2},
		"one class":      {x, []int{0, 0}, 1},
		"bad row ptr":    {&SparseMatrix{Rows: 2, Cols: 2, RowPtr: []int{0, 1}, ColIdx: []int{0}, Values: []float64{1}}, []int{0, 1}, 2},
		"column range":   {&SparseMatrix{Rows: 1, Cols: 2, RowPtr: []int{0, 1}, ColIdx: []int{2}, Values: []float64{1}}, []int{0}, 2},
		"column order":   {&SparseMatrix{Rows: 1, Cols: 2, RowPtr: []int{0, 2}, ColIdx: []int{1, 0}, Values: []float64{1, 1}}, []int{0}, 2},
		"value nan":      {&SparseMatrix{Rows: 1, Cols: 2, RowPtr: []int{0, 1}, ColIdx: []int{0}, Values: []float64{math.NaN()}}, []int{0}, 2},
		"value mismatch": {&SparseMatrix{Rows: 1, Cols: 2, RowPtr: []int{0, 1}, ColIdx: []int{0}}, []int{0}, 2},
	} {
		if _, err := FitLogReg(c.x, c.y, c.k, LogRegConfig{}); err == nil {
			t.Errorf("FitLogReg %s: no error", name)
		}
	}
	if _, err := FitLogReg(x, []int{0, 1}, 2, LogRegConfig{C: -1}); err == nil {
		t.Error("negative C accepted")
	}
	m, _ := FitLogReg(x, []int{0, 1}, 2, LogRegConfig{})
	if _, err := m.PredictProba(&SparseMatrix{Rows: 0, Cols: 3, RowPtr: []int{0}}); err == nil {
		t.Error("PredictProba accepted a matrix of the wrong width")
	}
	if !panics(func() { x.Row(2) }) || !panics(func() { x.At(0, 2) }) || !panics(func() { m.Weight(2, 0) }) {
		t.Error("out-of-range accessors did not panic")
	}
}

// The generic (k ≠ 3) code path has the same finite-difference gradient.
func TestLogRegGradientOtherClassCounts(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	x := randomSparse(r, 12, 4)
	for _, k := range []int{2, 4} {
		y := make([]int, x.Rows)
		for n := range y {
			y[n] = n % k
		}
		o := newLogRegObjective(x, y, k, LogRegConfig{C: 1.3, Balanced: true})
		theta := make([]float64, x.Cols*k+k)
		for i := range theta {
			theta[i] = r.NormFloat64()
		}
		grad := make([]float64, len(theta))
		o.eval(theta, grad)
		const h = 1e-5
		for i := range theta {
			tp, tm := slices.Clone(theta), slices.Clone(theta)
			tp[i] += h
			tm[i] -= h
			fd := (o.eval(tp, nil) - o.eval(tm, nil)) / (2 * h)
			if math.Abs(fd-grad[i]) > 1e-8 {
				t.Errorf("k=%d: ∂L/∂θ_%d = %v, finite difference %v", k, i, grad[i], fd)
			}
		}
	}
}

// Large inputs are evaluated in evalChunks row blocks on separate
// goroutines; the sum must match a single serial pass to rounding, and
// repeated evaluations must agree bit for bit.
func TestLogRegEvalChunked(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	x := randomSparse(r, 6000, 40) // 6000 rows × 3 classes ≥ 2^14: chunked
	y := make([]int, x.Rows)
	for n := range y {
		y[n] = r.IntN(3)
	}
	o := newLogRegObjective(x, y, 3, LogRegConfig{C: 0.5})
	theta := make([]float64, x.Cols*3+3)
	for i := range theta {
		theta[i] = 0.3 * r.NormFloat64()
	}
	grad := make([]float64, len(theta))
	f := o.eval(theta, grad)

	serial := make([]float64, len(theta))
	want := o.dataLoss(theta, serial, 0, x.Rows)
	lam := 1 / (o.c * o.sumW)
	for i, v := range theta[:x.Cols*3] {
		want += 0.5 * lam * v * v
		serial[i] += lam * v
	}
	near(t, "chunked objective", f, want, 1e-12)
	for i := range grad {
		near(t, "chunked gradient", grad[i], serial[i], 1e-12)
	}
	again := make([]float64, len(theta))
	if g := o.eval(theta, again); g != f || !slices.Equal(again, grad) {
		t.Error("repeated chunked evaluation differs")
	}
}
