package baseline

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/hier-ai/hier/hier/eval"
)

// DefaultCGrid is the grid of inverse regularisation strengths C tried by
// [FitTextClassifier] when its config has none: 0.25, 1, 4 and 16. Treat it
// as read-only.
var DefaultCGrid = []float64{0.25, 1, 4, 16}

// TextClassifierConfig configures [FitTextClassifier]: a [TFIDF] vectoriser
// followed by a multinomial [LogReg] whose C is chosen from CGrid.
type TextClassifierConfig struct {
	// TFIDF configures the vectoriser (zero fields select the defaults of
	// [DefaultTFIDFConfig]).
	TFIDF TFIDFConfig `json:"tfidf"`
	// LogReg configures the classifier (zero fields select the defaults of
	// [DefaultLogRegConfig]). Its C is ignored on input: the grid decides.
	// In the config returned by FitTextClassifier it holds the chosen C.
	LogReg LogRegConfig `json:"logreg"`
	// CGrid lists the values of C to try, each positive and finite.
	// Default [DefaultCGrid].
	CGrid []float64 `json:"c_grid"`
}

// DefaultTextClassifierConfig returns the defaults: unigrams and bigrams
// with MinDF 2 and sublinear tf, unweighted classes, C from
// {0.25, 1, 4, 16}.
func DefaultTextClassifierConfig() TextClassifierConfig {
	return TextClassifierConfig{
		TFIDF:  DefaultTFIDFConfig(),
		LogReg: DefaultLogRegConfig(),
		CGrid:  append([]float64(nil), DefaultCGrid...),
	}
}

// CValidation is the validation score of one C of the grid.
type CValidation struct {
	C float64 `json:"c"`
	// MacroF1 and Accuracy are on the validation texts, in [0, 1].
	MacroF1  float64 `json:"macro_f1"`
	Accuracy float64 `json:"accuracy"`
}

// TextClassifier is a fitted tf-idf + multinomial logistic-regression text
// classifier, made by [FitTextClassifier]. It is read-only and safe for
// concurrent use.
type TextClassifier struct {
	vec        *TFIDF
	model      *LogReg
	validation []CValidation
}

// Vectorizer returns the tf-idf vectoriser fitted on the training texts.
func (tc *TextClassifier) Vectorizer() *TFIDF { return tc.vec }

// Model returns the logistic regression fitted with the chosen C.
func (tc *TextClassifier) Model() *LogReg { return tc.model }

// Validation returns the validation scores of every C tried, in grid order
// (empty when the grid had a single value and no validation texts were
// given). The slice is a copy.
func (tc *TextClassifier) Validation() []CValidation {
	return append([]CValidation(nil), tc.validation...)
}

// FitTextClassifier fits a tf-idf vectoriser ([FitTFIDF]) on trainTexts
// only, then for every C in cfg.CGrid a multinomial logistic regression
// ([FitLogReg]) on the training rows, and keeps the C with the largest
// macro-averaged F1 on the validation texts (eval.ClassificationReport;
// the first C in grid order wins a tie). This is the usual scikit-learn
// recipe TfidfVectorizer + LogisticRegression with C tuned on a held-out
// validation set; the returned model is the one fitted on the training texts
// only (it is not refitted on training + validation), so the validation
// score is an honest estimate for choosing C and the test set stays unseen.
//
// Each fit after the first starts L-BFGS from the previous grid value's
// solution (a warm start along the regularisation path; the objective is
// strictly convex in W, so only the number of iterations, not the optimum,
// depends on it, up to the optimiser's tolerance). The grid is best given in
// increasing order, as the default is.
//
// Labels are class ids in [0, numClasses). It returns the model and cfg with
// its defaults filled in and LogReg.C set to the chosen value.
//
// It returns an error if trainTexts is empty, a texts/labels pair differs
// in length, numClasses < 2, a label is outside [0, numClasses), the grid has
// a non-positive or non-finite C, the grid has more than one C but there are
// no validation texts, the vocabulary is empty, or a fit fails (see
// [FitTFIDF] and [FitLogReg]).
func FitTextClassifier(trainTexts []string, trainLabels []int, validTexts []string, validLabels []int, numClasses int, cfg TextClassifierConfig) (*TextClassifier, TextClassifierConfig, error) {
	if len(trainTexts) != len(trainLabels) {
		return nil, cfg, fmt.Errorf("baseline: %d training texts, %d labels", len(trainTexts), len(trainLabels))
	}
	if len(validTexts) != len(validLabels) {
		return nil, cfg, fmt.Errorf("baseline: %d validation texts, %d labels", len(validTexts), len(validLabels))
	}
	if len(trainTexts) == 0 {
		return nil, cfg, errors.New("baseline: FitTextClassifier needs at least one training text")
	}
	if numClasses < 2 {
		return nil, cfg, fmt.Errorf("baseline: FitTextClassifier needs at least 2 classes, got %d", numClasses)
	}
	for _, set := range []struct {
		name string
		ys   []int
	}{{"training", trainLabels}, {"validation", validLabels}} {
		for n, c := range set.ys {
			if c < 0 || c >= numClasses {
				return nil, cfg, fmt.Errorf("baseline: %s label %d of text %d outside [0, %d)", set.name, c, n, numClasses)
			}
		}
	}
	if len(cfg.CGrid) == 0 {
		cfg.CGrid = append([]float64(nil), DefaultCGrid...)
	} else {
		cfg.CGrid = append([]float64(nil), cfg.CGrid...)
	}
	for _, c := range cfg.CGrid {
		if !(c > 0) || math.IsInf(c, 0) {
			return nil, cfg, fmt.Errorf("baseline: C grid value %v is not positive and finite", c)
		}
	}
	if len(cfg.CGrid) > 1 && len(validTexts) == 0 {
		return nil, cfg, fmt.Errorf("baseline: choosing C from %d values needs validation texts", len(cfg.CGrid))
	}
	var err error
	if cfg.TFIDF, err = cfg.TFIDF.withDefaults(); err != nil {
		return nil, cfg, err
	}
	lr := cfg.LogReg
	lr.C = cfg.CGrid[0]
	if lr, err = lr.withDefaults(); err != nil {
		return nil, cfg, err
	}
	cfg.LogReg = lr

	vec, err := FitTFIDF(trainTexts, cfg.TFIDF)
	if err != nil {
		return nil, cfg, err
	}
	xTrain := vec.Transform(trainTexts)
	xValid := vec.Transform(validTexts)
	labels := make([]string, numClasses)
	for c := range labels {
		labels[c] = strconv.Itoa(c)
	}
	tc := &TextClassifier{vec: vec}
	bestF1 := math.Inf(-1)
	var prev *LogReg
	for _, c := range cfg.CGrid {
		lr.C = c
		m, err := fitLogReg(xTrain, trainLabels, numClasses, lr, prev)
		prev = m
		if err != nil {
			return nil, cfg, err
		}
		if len(validTexts) == 0 {
			tc.model = m
			cfg.LogReg.C = c
			break
		}
		pred, err := m.Predict(xValid)
		if err != nil {
			return nil, cfg, err
		}
		rep := eval.ClassificationReport(validLabels, pred, labels)
		tc.validation = append(tc.validation, CValidation{C: c, MacroF1: rep.MacroAvg.F1, Accuracy: rep.Accuracy})
		if rep.MacroAvg.F1 > bestF1 {
			bestF1 = rep.MacroAvg.F1
			tc.model = m
			cfg.LogReg.C = c
		}
	}
	return tc, cfg, nil
}

// PredictProba returns the class probabilities of every text, shape
// [len(texts)][numClasses], each row summing to 1.
func (tc *TextClassifier) PredictProba(texts []string) [][]float64 {
	p, err := tc.model.PredictProba(tc.vec.Transform(texts))
	if err != nil {
		// Unreachable: Transform yields a valid matrix as wide as the
		// vocabulary the model was fitted on.
		panic(err)
	}
	return p
}

// Predict returns the most probable class id of every text (the smallest
// id among equal probabilities), shape [len(texts)].
func (tc *TextClassifier) Predict(texts []string) []int {
	return argmaxRows(tc.PredictProba(texts))
}
