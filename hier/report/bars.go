package report

import (
	"errors"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

const (
	// groupFill is the fraction of each metric group's width covered by
	// bars; the remainder separates neighbouring groups.
	groupFill = 0.8
	// valueFontSize is the font size of the value printed on each bar.
	valueFontSize = vg.Length(8)
	// labelGap separates a value label from the end of its bar.
	labelGap = vg.Length(2)
)

// MetricsBars writes a PNG grouped bar chart to path. There is one group
// per metric (in the order of metrics, e.g. "hr@10", "ndcg@10", "mrr") and
// within each group one bar per method (in the order of methods, e.g.
// "popularity", "mf", "h"), colored consistently and named in a legend.
// The height of a bar is values[method][metric]; when space allows, the
// value is also printed on the bar. The file is written atomically: it is
// rendered to a temporary file in the same directory and then renamed to
// path.
//
// It returns an error if methods or metrics is empty or contains empty or
// duplicate names, or if values lacks an entry for some method and metric
// or holds a non-finite one; the error names the method and metric.
// Entries of values for methods or metrics not listed are ignored.
func MetricsBars(path string, title string, methods []string, metrics []string, values map[string]map[string]float64) error {
	if err := validateBars(methods, metrics, values); err != nil {
		return fmt.Errorf("report: metrics bars %q: %w", path, err)
	}

	p := newPlot(title, "", "value")
	p.NominalX(metrics...)
	// Restore a visible baseline and let bars sit directly on it.
	p.X.Width = vg.Length(1)
	p.X.Padding = 0
	p.Y.Padding = 0
	p.Add(newGrid(false))

	lo, hi := 0.0, 0.0
	for _, m := range methods {
		for _, k := range metrics {
			lo, hi = math.Min(lo, values[m][k]), math.Max(hi, values[m][k])
		}
	}
	if lo == hi { // all zero
		hi = 1
	}
	// Headroom above (and below, for negative values) the tallest bars
	// keeps value labels inside the axes.
	span := hi - lo
	yMin, yMax := lo, hi+0.08*span
	if lo < 0 {
		yMin = lo - 0.08*span
	}
	xMin, xMax := -0.5, float64(len(metrics))-0.5
	setRanges := func() {
		p.X.Min, p.X.Max = xMin, xMax
		p.Y.Min, p.Y.Max = yMin, yMax
	}
	setRanges()

	var baseline plot.Plotter
	if lo < 0 {
		// The x axis sits at the bottom of the plot, below the negative
		// bars; draw an explicit zero baseline for the bars to grow from.
		zero, err := plotter.NewLine(plotter.XYs{{X: xMin, Y: 0}, {X: xMax, Y: 0}})
		if err != nil {
			return fmt.Errorf("report: metrics bars %q: %w", path, err)
		}
		zero.Color = color.Black
		zero.Width = vg.Length(1)
		baseline = zero
	}

	bars := make([]*plotter.BarChart, len(methods))
	entries := make([]legendEntry, len(methods))
	for i, m := range methods {
		vs := make(plotter.Values, len(metrics))
		for j, k := range metrics {
			vs[j] = values[m][k]
		}
		// The width is a placeholder until the plot area is known.
		b, err := plotter.NewBarChart(vs, 1)
		if err != nil {
			return fmt.Errorf("report: metrics bars %q: method %q: %w", path, m, err)
		}
		b.Color = paletteColor(i)
		b.LineStyle.Width = 0
		bars[i] = b
		entries[i] = legendEntry{name: m, thumbs: []plot.Thumbnailer{b}}
	}

	// Bar widths are absolute lengths in gonum/plot, so they are derived
	// from the width of the data area once the layout is known.
	prepare := func(dataArea draw.Canvas) error {
		groupWidth := dataArea.Size().X / vg.Length(len(metrics))
		barWidth := groupWidth * groupFill / vg.Length(len(methods))
		if barWidth <= 0 {
			return errors.New("plot area too small for the number of bars")
		}
		for i, b := range bars {
			b.Width = barWidth
			b.Offset = (vg.Length(i) - vg.Length(len(methods)-1)/2) * barWidth
			p.Add(b)
		}
		if baseline != nil {
			p.Add(baseline)
		}
		for i, b := range bars {
			for j, v := range b.Values {
				l, err := valueLabel(float64(j), v, b.Offset, barWidth)
				if err != nil {
					return fmt.Errorf("method %q, metric %q: %w", methods[i], metrics[j], err)
				}
				if l != nil {
					p.Add(l)
				}
			}
		}
		// Adding plotters widens the axes to their data ranges; restore
		// the ranges chosen above.
		setRanges()
		return nil
	}

	data, err := renderPNGPrepared(p, entries, prepare)
	if err != nil {
		return fmt.Errorf("report: metrics bars %q: %w", path, err)
	}
	if err := writeFileAtomic(path, data); err != nil {
		return fmt.Errorf("report: metrics bars %q: %w", path, err)
	}
	return nil
}

// valueLabel returns a label printing v at the end of the bar for group x
// shifted by offset, or nil if the bar is too narrow to hold it. The text
// is horizontal when it fits within the bar width and vertical otherwise.
func valueLabel(x, v float64, offset, barWidth vg.Length) (*plotter.Labels, error) {
	txt := formatValue(v)
	sty := text.Style{
		Font:    fontFace(valueFontSize),
		Handler: plot.DefaultTextHandler,
		Color:   textColor,
	}
	gap := labelGap
	switch {
	case sty.Width(txt) <= barWidth*1.1:
		sty.XAlign = draw.XCenter
		sty.YAlign = draw.YBottom
		if v < 0 {
			sty.YAlign = draw.YTop
		}
	case sty.Height(txt) <= barWidth:
		// Rotated a quarter turn counter-clockwise: the text's x axis
		// points up the page, so XLeft makes it start at the anchor.
		sty.Rotation = math.Pi / 2
		sty.YAlign = draw.YCenter
		sty.XAlign = draw.XLeft
		if v < 0 {
			sty.XAlign = draw.XRight
		}
	default:
		return nil, nil
	}
	if v < 0 {
		gap = -gap
	}
	l, err := plotter.NewLabels(plotter.XYLabels{
		XYs:    plotter.XYs{{X: x, Y: v}},
		Labels: []string{txt},
	})
	if err != nil {
		return nil, err
	}
	l.TextStyle[0] = sty
	l.Offset = vg.Point{X: offset, Y: gap}
	return l, nil
}

// formatValue formats a metric value compactly for printing on a bar.
func formatValue(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// validateBars checks the inputs of MetricsBars for the conditions
// documented there.
func validateBars(methods, metrics []string, values map[string]map[string]float64) error {
	if len(methods) == 0 {
		return errors.New("no methods to plot")
	}
	if len(metrics) == 0 {
		return errors.New("no metrics to plot")
	}
	if err := checkNames("method", methods); err != nil {
		return err
	}
	if err := checkNames("metric", metrics); err != nil {
		return err
	}
	for _, m := range methods {
		row, ok := values[m]
		if !ok {
			return fmt.Errorf("method %q: no values (missing metric %q)", m, metrics[0])
		}
		for _, k := range metrics {
			v, ok := row[k]
			if !ok {
				return fmt.Errorf("method %q: missing value for metric %q", m, k)
			}
			if !isFinite(v) {
				return fmt.Errorf("method %q, metric %q: value %v is not finite", m, k, v)
			}
		}
	}
	return nil
}

// checkNames reports empty or duplicate entries of names; kind describes
// what the names are for the error message.
func checkNames(kind string, names []string) error {
	seen := make(map[string]bool, len(names))
	for i, n := range names {
		if n == "" {
			return fmt.Errorf("%s #%d has an empty name", kind, i)
		}
		if seen[n] {
			return fmt.Errorf("duplicate %s %q", kind, n)
		}
		seen[n] = true
	}
	return nil
}
