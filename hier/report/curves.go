package report

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Series is one named line of a training-curve plot, for example the
// training loss of one model. X[i] and Y[i] form the i-th point, so X and
// Y must have the same, non-zero length.
type Series struct {
	// Name identifies the series in the legend and in error messages.
	Name string
	// X holds the x coordinates, typically optimizer steps or epochs.
	X []float64
	// Y holds the y coordinates, typically a loss or a metric value.
	Y []float64
}

// CurveOptions configures TrainingCurvesWithOptions.
type CurveOptions struct {
	// Title is drawn above the plot; it may be empty.
	Title string
	// XLabel labels the x axis, for example "step" or "epoch".
	// Empty means "step".
	XLabel string
	// YLabel labels the y axis. Empty means "loss".
	YLabel string
	// LogY draws the y axis on a logarithmic scale. All Y values must then
	// be strictly positive.
	LogY bool
	// IntegerX puts ticks on whole numbers only (IntegerTicks), for x axes
	// that count steps or epochs.
	IntegerX bool
}

// markerThreshold is the largest series length for which individual
// points are marked with glyphs; longer series are drawn as plain lines.
const markerThreshold = 30

// TrainingCurves writes a PNG line plot to path with one line per series
// and a legend, using "step" and "loss" as axis labels. It is shorthand for
// TrainingCurvesWithOptions with only the title set. The file is written
// atomically.
func TrainingCurves(path string, title string, series []Series) error {
	return TrainingCurvesWithOptions(path, CurveOptions{Title: title}, series)
}

// TrainingCurvesWithOptions writes a PNG line plot to path with one line
// per series and a legend, configured by opts. The file is written
// atomically: it is rendered to a temporary file in the same directory and
// then renamed to path.
//
// It returns an error, naming the offending series, if series is empty, if
// a series has no name, a duplicate name, no points, X and Y of different
// lengths or non-finite values, or (with opts.LogY) a non-positive Y value.
func TrainingCurvesWithOptions(path string, opts CurveOptions, series []Series) error {
	if err := validateSeries(series, opts.LogY); err != nil {
		return fmt.Errorf("report: training curves %q: %w", path, err)
	}
	xLabel, yLabel := opts.XLabel, opts.YLabel
	if xLabel == "" {
		xLabel = "step"
	}
	if yLabel == "" {
		yLabel = "loss"
	}

	p := newPlot(opts.Title, xLabel, yLabel)
	p.Add(newGrid(true))
	if opts.IntegerX {
		p.X.Tick.Marker = IntegerTicks{}
	}
	entries, ymin, ymax, err := addLines(p, series)
	if err != nil {
		return fmt.Errorf("report: training curves %q: %w", path, err)
	}

	if opts.LogY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = logTicks{}
		if ymin == ymax {
			// A flat series would otherwise be widened to [y-1, y+1],
			// which may reach zero or below on a log axis.
			p.Y.Min, p.Y.Max = ymin/2, ymax*2
		}
	}

	data, err := renderPNG(p, entries)
	if err != nil {
		return fmt.Errorf("report: training curves %q: %w", path, err)
	}
	if err := writeFileAtomic(path, data); err != nil {
		return fmt.Errorf("report: training curves %q: %w", path, err)
	}
	return nil
}

// addLines adds one line per series to p (with point markers for short series) and returns the
// legend entries and the range of the Y values.
func addLines(p *plot.Plot, series []Series) (entries []legendEntry, ymin, ymax float64, err error) {
	entries = make([]legendEntry, 0, len(series))
	ymin, ymax = math.Inf(1), math.Inf(-1)
	for i, s := range series {
		xys := make(plotter.XYs, len(s.X))
		for j := range s.X {
			xys[j].X, xys[j].Y = s.X[j], s.Y[j]
			ymin, ymax = math.Min(ymin, s.Y[j]), math.Max(ymax, s.Y[j])
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("series %q: %w", s.Name, err)
		}
		line.Color = paletteColor(i)
		line.Width = vg.Length(1.5)
		// Colors cycle after len(palette) series; switch the dash pattern
		// so that series sharing a color remain distinguishable.
		line.Dashes = plotutil.Dashes(i / len(palette))
		p.Add(line)
		thumbs := []plot.Thumbnailer{line}

		if len(xys) <= markerThreshold {
			sc, err := plotter.NewScatter(xys)
			if err != nil {
				return nil, 0, 0, fmt.Errorf("series %q: %w", s.Name, err)
			}
			sc.Color = line.Color
			sc.Shape = plotutil.Shape(i)
			sc.Radius = vg.Length(2.5)
			p.Add(sc)
			thumbs = append(thumbs, sc)
		}
		entries = append(entries, legendEntry{name: s.Name, thumbs: thumbs})
	}
	return entries, ymin, ymax, nil
}

// validateSeries checks series for the conditions documented on
// TrainingCurvesWithOptions.
func validateSeries(series []Series, logY bool) error {
	if len(series) == 0 {
		return errors.New("no series to plot")
	}
	seen := make(map[string]int, len(series))
	for i, s := range series {
		if s.Name == "" {
			return fmt.Errorf("series #%d has an empty name", i)
		}
		if j, dup := seen[s.Name]; dup {
			return fmt.Errorf("series %q: duplicate name (series #%d and #%d)", s.Name, j, i)
		}
		seen[s.Name] = i
		if len(s.X) != len(s.Y) {
			return fmt.Errorf("series %q: len(X)=%d does not match len(Y)=%d", s.Name, len(s.X), len(s.Y))
		}
		if len(s.X) == 0 {
			return fmt.Errorf("series %q: no points", s.Name)
		}
		for j := range s.X {
			if !isFinite(s.X[j]) || !isFinite(s.Y[j]) {
				return fmt.Errorf("series %q: point %d (%v, %v) is not finite", s.Name, j, s.X[j], s.Y[j])
			}
			if logY && s.Y[j] <= 0 {
				return fmt.Errorf("series %q: point %d has Y=%v, which cannot be drawn on a log axis", s.Name, j, s.Y[j])
			}
		}
	}
	return nil
}

// logTicks places labelled ticks on a logarithmic axis. Unlike
// plot.LogTicks, which labels only powers of ten, it also labels the
// 2x and 5x multiples when the axis spans few decades, so that typical loss
// curves (which often stay within one decade) get readable labels.
type logTicks struct{}

// Ticks implements plot.Ticker.
func (logTicks) Ticks(min, max float64) []plot.Tick {
	if min <= 0 || max <= 0 || min > max {
		return nil
	}
	decades := math.Log10(max) - math.Log10(min)
	labelled := map[int]bool{1: true}
	switch {
	case decades < 1:
		labelled = map[int]bool{1: true, 2: true, 3: true, 5: true, 7: true}
	case decades < 3:
		labelled = map[int]bool{1: true, 2: true, 5: true}
	}
	var ticks []plot.Tick
	for e := int(math.Floor(math.Log10(min))); e <= int(math.Ceil(math.Log10(max))); e++ {
		base := math.Pow10(e)
		for m := 1; m < 10; m++ {
			v := base * float64(m)
			if v < min*(1-1e-9) || v > max*(1+1e-9) {
				continue
			}
			t := plot.Tick{Value: v}
			if labelled[m] {
				t.Label = strconv.FormatFloat(v, 'g', 3, 64)
			}
			ticks = append(ticks, t)
		}
	}
	// A very narrow range may contain no labelled tick at all; label the
	// ends so the axis is never unlabelled.
	hasLabel := false
	for _, t := range ticks {
		if t.Label != "" {
			hasLabel = true
			break
		}
	}
	if !hasLabel {
		ticks = append(ticks,
			plot.Tick{Value: min, Label: strconv.FormatFloat(min, 'g', 3, 64)},
			plot.Tick{Value: max, Label: strconv.FormatFloat(max, 'g', 3, 64)},
		)
	}
	return ticks
}
