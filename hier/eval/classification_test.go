package eval

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func nearCM(t *testing.T, name string, got, want ClassMetrics) {
	t.Helper()
	near(t, name+".precision", got.Precision, want.Precision, eps)
	near(t, name+".recall", got.Recall, want.Recall, eps)
	near(t, name+".f1", got.F1, want.F1, eps)
	if got.Support != want.Support {
		t.Errorf("%s.support = %d, want %d", name, got.Support, want.Support)
	}
}

// The example from sklearn's classification_report documentation:
//
//	y_true = [0, 1, 2, 2, 2]
//	y_pred = [0, 0, 2, 2, 1]
//
// Confusion matrix (rows true, columns predicted):
//
//	      p0 p1 p2
//	t0  [  1  0  0 ]
//	t1  [  1  0  0 ]
//	t2  [  0  1  2 ]
//
// class 0: TP=1 FP=1 FN=0 -> P=1/2, R=1/1, F1=2·1/(2+1+0)=2/3, support 1
// class 1: TP=0 FP=1 FN=1 -> P=0/1=0, R=0/1=0, F1=0, support 1
// class 2: TP=2 FP=0 FN=1 -> P=2/2=1, R=2/3, F1=4/(4+0+1)=4/5, support 3
// accuracy = (1+0+2)/5 = 3/5
// macro    P=(1/2+0+1)/3=1/2, R=(1+0+2/3)/3=5/9, F1=(2/3+0+4/5)/3=22/45
// weighted P=(1·1/2+1·0+3·1)/5=7/10, R=(1+0+2)/5=3/5, F1=(2/3+0+12/5)/5=46/75
func TestClassificationReportSklearnExample(t *testing.T) {
	yTrue := []int{0, 1, 2, 2, 2}
	yPred := []int{0, 0, 2, 2, 1}
	labels := []string{"class 0", "class 1", "class 2"}

	cm := ConfusionMatrix(yTrue, yPred, 3)
	if want := [][]int{{1, 0, 0}, {1, 0, 0}, {0, 1, 2}}; !reflect.DeepEqual(cm, want) {
		t.Errorf("ConfusionMatrix = %v, want %v", cm, want)
	}

	r := ClassificationReport(yTrue, yPred, labels)
	nearCM(t, "class 0", r.Classes["class 0"], ClassMetrics{0.5, 1, 2.0 / 3, 1})
	nearCM(t, "class 1", r.Classes["class 1"], ClassMetrics{0, 0, 0, 1})
	nearCM(t, "class 2", r.Classes["class 2"], ClassMetrics{1, 2.0 / 3, 0.8, 3})
	near(t, "accuracy", r.Accuracy, 0.6, eps)
	nearCM(t, "macro", r.MacroAvg, ClassMetrics{0.5, 5.0 / 9, 22.0 / 45, 5})
	nearCM(t, "weighted", r.WeightedAvg, ClassMetrics{0.7, 0.6, 46.0 / 75, 5})

	// Verbatim output of sklearn.metrics.classification_report for this input.
	want := "" +
		"              precision    recall  f1-score   support\n" +
		"\n" +
		"     class 0       0.50      1.00      0.67         1\n" +
		"     class 1       0.00      0.00      0.00         1\n" +
		"     class 2       1.00      0.67      0.80         3\n" +
		"\n" +
		"    accuracy                           0.60         5\n" +
		"   macro avg       0.50      0.56      0.49         5\n" +
		"weighted avg       0.70      0.60      0.61         5\n"
	if got := r.String(); got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
	// digits=4 (sklearn's digits=4): 5/9=0.5556, 22/45=0.4889, 46/75=0.6133.
	f4 := r.Format(4)
	for _, line := range []string{
		"   macro avg     0.5000    0.5556    0.4889         5",
		"weighted avg     0.7000    0.6000    0.6133         5",
		"    accuracy                         0.6000         5",
	} {
		if !strings.Contains(f4, line+"\n") {
			t.Errorf("Format(4) lacks line %q:\n%s", line, f4)
		}
	}
}

// Zero-division cases, labels negative/neutral/positive:
//
//	y_true = [0, 0, 0, 1, 1]
//	y_pred = [0, 0, 2, 0, 2]
//
// negative: TP=2 FP=1 FN=1 -> P=2/3, R=2/3, F1=4/(4+1+1)=2/3, support 3
// neutral:  TP=0 FP=0 FN=2 -> P=0/0 -> 0, R=0/2=0, F1=0/2=0, support 2
// positive: TP=0 FP=2 FN=0 -> P=0/2=0, R=0/0 -> 0, F1=0/2=0, support 0
// accuracy = 2/5; macro = (2/3)/3 = 2/9 for P, R and F1;
// weighted = 3·(2/3)/5 = 2/5 for P, R and F1.
func TestClassificationReportZeroDivision(t *testing.T) {
	labels := []string{"negative", "neutral", "positive"}
	r := ClassificationReport([]int{0, 0, 0, 1, 1}, []int{0, 0, 2, 0, 2}, labels)
	nearCM(t, "negative", r.Classes["negative"], ClassMetrics{2.0 / 3, 2.0 / 3, 2.0 / 3, 3})
	nearCM(t, "neutral", r.Classes["neutral"], ClassMetrics{0, 0, 0, 2})
	nearCM(t, "positive", r.Classes["positive"], ClassMetrics{0, 0, 0, 0})
	near(t, "accuracy", r.Accuracy, 0.4, eps)
	nearCM(t, "macro", r.MacroAvg, ClassMetrics{2.0 / 9, 2.0 / 9, 2.0 / 9, 5})
	nearCM(t, "weighted", r.WeightedAvg, ClassMetrics{0.4, 0.4, 0.4, 5})

	// JSON form.
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"classes", "accuracy", "macro_avg", "weighted_avg"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON %s lacks key %q", b, k)
		}
	}
	if len(m) != 4 {
		t.Errorf("JSON has %d top-level keys, want 4: %s", len(m), b)
	}
	neg := m["classes"].(map[string]any)["negative"].(map[string]any)
	for _, k := range []string{"precision", "recall", "f1", "support"} {
		if _, ok := neg[k]; !ok {
			t.Errorf("class JSON lacks %q: %v", k, neg)
		}
	}
	if neg["support"].(float64) != 3 {
		t.Errorf("negative support in JSON = %v", neg["support"])
	}
	// Round trip: a decoded report prints classes in lexical order, which here
	// equals the original order, so the tables match.
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.String() != r.String() {
		t.Errorf("round-tripped report prints\n%s\nwant\n%s", back, r)
	}
}

func TestClassificationReportEmptyAndLongLabels(t *testing.T) {
	r := ClassificationReport(nil, nil, []string{"a", "b"})
	if r.Accuracy != 0 || r.MacroAvg != (ClassMetrics{}) || r.WeightedAvg != (ClassMetrics{}) {
		t.Errorf("empty report = %+v, want zeros", r)
	}
	// A label longer than "weighted avg" widens the first column.
	r = ClassificationReport([]int{0, 1}, []int{0, 1}, []string{"a-very-long-label", "b"})
	want := "" +
		"                   precision    recall  f1-score   support\n" +
		"\n" +
		"a-very-long-label       1.00      1.00      1.00         1\n" +
		"                b       1.00      1.00      1.00         1\n" +
		"\n" +
		"         accuracy                           1.00         2\n" +
		"        macro avg       1.00      1.00      1.00         2\n" +
		"     weighted avg       1.00      1.00      1.00         2\n"
	if got := r.String(); got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
}

func TestClassificationPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"length":      func() { ClassificationReport([]int{0}, nil, []string{"a"}) },
		"true range":  func() { ClassificationReport([]int{2}, []int{0}, []string{"a", "b"}) },
		"pred range":  func() { ClassificationReport([]int{0}, []int{-1}, []string{"a", "b"}) },
		"dup labels":  func() { ClassificationReport(nil, nil, []string{"a", "a"}) },
		"cm length":   func() { ConfusionMatrix([]int{0, 1}, []int{0}, 2) },
		"cm negative": func() { ConfusionMatrix(nil, nil, -1) },
	} {
		if !panics(f) {
			t.Errorf("%s: no panic", name)
		}
	}
}
