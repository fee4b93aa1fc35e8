package report

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// IntegerTicks is a plot.Ticker for axes that count things (optimizer steps, epochs): every
// tick is a whole number, spaced 1, 2 or 5 times a power of ten so that an axis gets at most
// maxIntegerTicks labelled ticks, and labels carry no decimals ("12", never "12.50").
type IntegerTicks struct{}

// maxIntegerTicks is the most labelled ticks IntegerTicks puts on an axis.
const maxIntegerTicks = 8

// Ticks implements plot.Ticker. A range holding no whole number gets no ticks.
func (IntegerTicks) Ticks(min, max float64) []plot.Tick {
	if math.IsNaN(min) || math.IsNaN(max) {
		return nil
	}
	if min > max {
		min, max = max, min
	}
	lo, hi := math.Ceil(min), math.Floor(max)
	if lo > hi || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return nil
	}
	step := integerStep(hi - lo)
	var ticks []plot.Tick
	for k := math.Ceil(lo / step); k*step <= hi; k++ {
		v := k * step
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', 0, 64)})
	}
	// Unlabelled minor ticks at the whole numbers between labels, when there are few of them.
	if step > 1 && step <= 5 {
		for v := lo; v <= hi; v++ {
			if math.Mod(v, step) != 0 {
				ticks = append(ticks, plot.Tick{Value: v})
			}
		}
	}
	return ticks
}

// integerStep is the smallest of 1, 2, 5, 10, 20, 50, … that cuts span into at most
// maxIntegerTicks-1 intervals.
func integerStep(span float64) float64 {
	for mag := 1.0; ; mag *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if s := m * mag; span/s <= maxIntegerTicks-1 || math.IsInf(s, 1) {
				return s
			}
		}
	}
}

// readableTicks is plot.DefaultTicks with labels that tell the ticks apart: when two labels
// would read the same (e.g. "1.1" for both 1.05 and 1.1), every label gets as many significant
// digits as it takes.
type readableTicks struct{}

// Ticks implements plot.Ticker.
func (readableTicks) Ticks(min, max float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(min, max)
	for prec := 2; prec <= 12 && !distinctLabels(ticks); prec++ {
		for i := range ticks {
			if ticks[i].Label != "" {
				ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'g', prec, 64)
			}
		}
	}
	return ticks
}

func distinctLabels(ticks []plot.Tick) bool {
	seen := map[string]bool{}
	for _, t := range ticks {
		if t.Label == "" {
			continue
		}
		if seen[t.Label] {
			return false
		}
		seen[t.Label] = true
	}
	return true
}

// Panel is one plot of a Figure: a title, axis labels and named lines. Its legend (the series
// names) is drawn to its right.
type Panel struct {
	Title  string
	XLabel string
	YLabel string
	// IntegerX puts the x ticks on whole numbers only (IntegerTicks): steps, epochs.
	IntegerX bool
	Series   []Series
}

// Figure is several panels tiled into one image, Cols panels per row (0 means 1), in order,
// under an optional title. A zero Panel leaves its tile blank.
type Figure struct {
	Title  string
	Cols   int
	Panels []Panel
}

// Size of one panel of a Figure, in points.
const (
	panelWidth    = vg.Length(620)
	panelHeight   = vg.Length(300)
	panelGap      = vg.Length(14)
	figTitleSpace = vg.Length(26)
)

// WriteFigure renders fig as a PNG at path, atomically (see the package doc). Every panel needs
// a title and valid series (see TrainingCurvesWithOptions); errors name the panel.
func WriteFigure(path string, fig Figure) error {
	if err := fig.validate(); err != nil {
		return fmt.Errorf("report: figure %q: %w", path, err)
	}
	data, err := renderFigure(fig)
	if err != nil {
		return fmt.Errorf("report: figure %q: %w", path, err)
	}
	if err := writeFileAtomic(path, data); err != nil {
		return fmt.Errorf("report: figure %q: %w", path, err)
	}
	return nil
}

func (fig Figure) validate() error {
	if len(fig.Panels) == 0 {
		return errors.New("no panels")
	}
	for i, p := range fig.Panels {
		if p.Title == "" && len(p.Series) == 0 {
			continue // a blank tile
		}
		if p.Title == "" {
			return fmt.Errorf("panel #%d has no title", i)
		}
		if err := validateSeries(p.Series, false); err != nil {
			return fmt.Errorf("panel %q: %w", p.Title, err)
		}
	}
	return nil
}

// grid is the figure's number of columns and rows.
func (fig Figure) grid() (cols, rows int) {
	cols = max(1, fig.Cols)
	cols = min(cols, len(fig.Panels))
	return cols, (len(fig.Panels) + cols - 1) / cols
}

func renderFigure(fig Figure) (data []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("render plot: %v", r)
		}
	}()
	cols, rows := fig.grid()
	top := vg.Length(0)
	if fig.Title != "" {
		top = figTitleSpace
	}
	w := vg.Length(cols)*panelWidth + vg.Length(cols-1)*panelGap + 2*outerPad
	h := vg.Length(rows)*panelHeight + vg.Length(rows-1)*panelGap + 2*outerPad + top
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(imageDPI))
	full := draw.New(img)
	full.SetColor(color.White)
	full.Fill(full.Rectangle.Path())
	canvas := draw.Crop(full, outerPad, -outerPad, outerPad, -outerPad-top)
	if fig.Title != "" {
		sty := text.Style{Font: fontFace(titleFontSize + 2), Handler: plot.DefaultTextHandler, Color: color.Black, XAlign: draw.XCenter, YAlign: draw.YTop}
		full.FillText(sty, vg.Point{X: w / 2, Y: h - outerPad}, fig.Title)
	}
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: panelGap, PadY: panelGap}
	for i, pn := range fig.Panels {
		if pn.Title == "" && len(pn.Series) == 0 {
			continue
		}
		p := newPlot(pn.Title, pn.XLabel, pn.YLabel)
		p.Add(newGrid(true))
		p.Y.Tick.Marker = readableTicks{}
		if pn.IntegerX {
			p.X.Tick.Marker = IntegerTicks{}
		}
		entries, _, _, err := addLines(p, pn.Series)
		if err != nil {
			return nil, fmt.Errorf("panel %q: %w", pn.Title, err)
		}
		if err := drawWithLegend(tiles.At(canvas, i%cols, i/cols), p, entries, nil); err != nil {
			return nil, fmt.Errorf("panel %q: %w", pn.Title, err)
		}
	}
	return encodePNG(img)
}
