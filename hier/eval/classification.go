package eval

import (
	"fmt"
	"sort"
	"strings"
)

// ClassMetrics holds precision, recall and F1 (each in [0, 1]) and the
// support (number of true samples) of one class or of an average.
type ClassMetrics struct {
	// Precision is TP / (TP + FP), or 0 when the class is never predicted.
	Precision float64 `json:"precision"`
	// Recall is TP / (TP + FN), or 0 when the class has no true samples.
	Recall float64 `json:"recall"`
	// F1 is 2·TP / (2·TP + FP + FN), the harmonic mean of precision and
	// recall, or 0 when TP + FP + FN = 0.
	F1 float64 `json:"f1"`
	// Support is the number of samples whose true class is this class; for
	// the averages it is the total number of samples.
	Support int `json:"support"`
}

// Report is a multi-class classification report equivalent to
// sklearn.metrics.classification_report(y_true, y_pred,
// labels=range(len(labels)), target_names=labels, zero_division=0,
// output_dict=True). Its JSON form is
//
//	{"classes": {"<label>": {"precision", "recall", "f1", "support"}, ...},
//	 "accuracy": ..., "macro_avg": {...}, "weighted_avg": {...}}
//
// Labels (the display order) is not part of the JSON form; a Report decoded
// from JSON prints its classes in lexical order.
type Report struct {
	// Labels are the class names in class-id order: Labels[c] names class c.
	Labels []string `json:"-"`
	// Classes maps each label to its per-class metrics.
	Classes map[string]ClassMetrics `json:"classes"`
	// Accuracy is the fraction of samples with yPred == yTrue (0 if none).
	Accuracy float64 `json:"accuracy"`
	// MacroAvg is the unweighted mean over all classes of precision, recall
	// and F1 (classes with zero support count, with recall and F1 of 0), with
	// Support the total number of samples.
	MacroAvg ClassMetrics `json:"macro_avg"`
	// WeightedAvg is the support-weighted mean over classes of precision,
	// recall and F1 (all 0 if there are no samples), with Support the total
	// number of samples.
	WeightedAvg ClassMetrics `json:"weighted_avg"`
}

// ConfusionMatrix returns the numClasses×numClasses matrix C with C[t][p] the
// number of samples with true class t predicted as class p (rows are true
// classes, columns predictions, as in sklearn.metrics.confusion_matrix).
//
// It panics if len(yTrue) != len(yPred) or a class id is outside
// [0, numClasses).
func ConfusionMatrix(yTrue, yPred []int, numClasses int) [][]int {
	if len(yTrue) != len(yPred) {
		panic(fmt.Sprintf("eval: ConfusionMatrix length mismatch: %d true, %d predicted", len(yTrue), len(yPred)))
	}
	if numClasses < 0 {
		panic(fmt.Sprintf("eval: ConfusionMatrix negative numClasses %d", numClasses))
	}
	flat := make([]int, numClasses*numClasses)
	cm := make([][]int, numClasses)
	for c := range cm {
		cm[c] = flat[c*numClasses : (c+1)*numClasses : (c+1)*numClasses]
	}
	for n, t := range yTrue {
		p := yPred[n]
		if t < 0 || t >= numClasses || p < 0 || p >= numClasses {
			panic(fmt.Sprintf("eval: sample %d has class (true %d, predicted %d) outside [0, %d)", n, t, p, numClasses))
		}
		cm[t][p]++
	}
	return cm
}

// ClassificationReport computes per-class precision, recall, F1 and support,
// accuracy, and the macro and weighted averages for integer class ids in
// [0, len(labels)), where labels[c] names class c. Definitions follow sklearn
// (precision_recall_fscore_support, classification_report):
//
//	precision_c = TP_c / (TP_c + FP_c)
//	recall_c    = TP_c / (TP_c + FN_c)          (TP_c + FN_c = support_c)
//	F1_c        = 2·TP_c / (2·TP_c + FP_c + FN_c)
//	accuracy    = Σ_c TP_c / N
//	macro avg   = (1/C) Σ_c metric_c
//	weighted    = Σ_c support_c · metric_c / N
//
// Any 0/0 evaluates to 0, matching sklearn's zero_division=0 (without the
// warning). Every label is reported and enters the macro average, including
// labels that never occur in yTrue or yPred.
//
// It panics if len(yTrue) != len(yPred), a class id is outside
// [0, len(labels)), or labels contains duplicates.
func ClassificationReport(yTrue, yPred []int, labels []string) Report {
	nc := len(labels)
	seen := make(map[string]bool, nc)
	for _, l := range labels {
		if seen[l] {
			panic(fmt.Sprintf("eval: duplicate label %q", l))
		}
		seen[l] = true
	}
	cm := ConfusionMatrix(yTrue, yPred, nc)
	n := len(yTrue)

	predCount := make([]int, nc)
	for _, row := range cm {
		for p, v := range row {
			predCount[p] += v
		}
	}
	rep := Report{
		Labels:  append([]string(nil), labels...),
		Classes: make(map[string]ClassMetrics, nc),
	}
	correct := 0
	var macro, weighted ClassMetrics
	for c, l := range labels {
		tp := cm[c][c]
		correct += tp
		support := 0
		for _, v := range cm[c] {
			support += v
		}
		fp := predCount[c] - tp
		fn := support - tp
		m := ClassMetrics{
			Precision: safeDiv(float64(tp), float64(tp+fp)),
			Recall:    safeDiv(float64(tp), float64(support)),
			F1:        safeDiv(float64(2*tp), float64(2*tp+fp+fn)),
			Support:   support,
		}
		rep.Classes[l] = m
		macro.Precision += m.Precision
		macro.Recall += m.Recall
		macro.F1 += m.F1
		w := float64(support)
		weighted.Precision += w * m.Precision
		weighted.Recall += w * m.Recall
		weighted.F1 += w * m.F1
	}
	rep.Accuracy = safeDiv(float64(correct), float64(n))
	fc := float64(nc)
	rep.MacroAvg = ClassMetrics{
		Precision: safeDiv(macro.Precision, fc),
		Recall:    safeDiv(macro.Recall, fc),
		F1:        safeDiv(macro.F1, fc),
		Support:   n,
	}
	fn := float64(n)
	rep.WeightedAvg = ClassMetrics{
		Precision: safeDiv(weighted.Precision, fn),
		Recall:    safeDiv(weighted.Recall, fn),
		F1:        safeDiv(weighted.F1, fn),
		Support:   n,
	}
	return rep
}

// safeDiv returns a/b, or 0 when b == 0 (sklearn's zero_division=0).
func safeDiv(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// String formats the report as a text table laid out exactly like sklearn's
// classification_report with digits=2; see [Report.Format].
func (r Report) String() string { return r.Format(2) }

// Format formats the report as a text table laid out like sklearn's
// classification_report(..., digits=digits): a header row, one row per class
// in Labels order, then the accuracy, "macro avg" and "weighted avg" rows.
// The first column is right-aligned to the longest of the label names,
// "weighted avg" and digits; the other columns are 9 characters wide,
// separated by a space. digits < 0 is treated as 0. If Labels is empty the
// classes are listed in lexical order.
func (r Report) Format(digits int) string {
	if digits < 0 {
		digits = 0
	}
	labels := r.Labels
	if len(labels) == 0 && len(r.Classes) > 0 {
		labels = make([]string, 0, len(r.Classes))
		for l := range r.Classes {
			labels = append(labels, l)
		}
		sort.Strings(labels)
	}
	const lastHeading = "weighted avg"
	width := max(len(lastHeading), digits)
	for _, l := range labels {
		width = max(width, len(l))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%*s  %9s %9s %9s %9s\n\n", width, "", "precision", "recall", "f1-score", "support")
	row := func(name string, m ClassMetrics) {
		fmt.Fprintf(&b, "%*s  %9.*f %9.*f %9.*f %9d\n", width, name,
			digits, m.Precision, digits, m.Recall, digits, m.F1, m.Support)
	}
	for _, l := range labels {
		row(l, r.Classes[l])
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "%*s  %9s %9s %9.*f %9d\n", width, "accuracy", "", "", digits, r.Accuracy, r.MacroAvg.Support)
	row("macro avg", r.MacroAvg)
	row(lastHeading, r.WeightedAvg)
	return b.String()
}
