// Package report renders experiment results (training curves and
// evaluation metric comparisons) as PNG images using gonum.org/v1/plot.
//
// Every function in this package writes its output atomically: the image
// is rendered into a temporary file in the destination directory, which is
// then renamed over the destination path. Readers therefore never observe
// a partially written PNG, and a failed render leaves no stray files.
package report

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// All vg.Length values below are in typographic points (1/72 inch).
const (
	// imageWidth and imageHeight are the canvas dimensions. At the 96 DPI
	// used for rendering they yield a 1000x600 pixel image.
	imageWidth  = vg.Length(750)
	imageHeight = vg.Length(450)
	imageDPI    = 96

	// legendGap separates the plot area from the legend on its right.
	legendGap = vg.Length(10)
	// outerPad is the blank margin around the whole image.
	outerPad = vg.Length(8)

	titleFontSize  = vg.Length(14)
	axisFontSize   = vg.Length(12)
	tickFontSize   = vg.Length(10)
	legendFontSize = vg.Length(11)
	minLegendFont  = vg.Length(6)
)

// palette is the "tab10" qualitative color cycle, chosen because its
// colors stay distinguishable when several methods or runs share a plot.
var palette = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
	color.RGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
	color.RGBA{R: 0xe3, G: 0x77, B: 0xc2, A: 0xff},
	color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff},
	color.RGBA{R: 0xbc, G: 0xbd, B: 0x22, A: 0xff},
	color.RGBA{R: 0x17, G: 0xbe, B: 0xcf, A: 0xff},
}

// textColor is used for text drawn on top of the data, such as bar values.
var textColor = color.Gray{Y: 0x33}

// paletteColor returns the i-th color of the palette. Beyond the palette
// length the colors repeat, progressively lightened towards white, so
// that e.g. the 1st and 11th method of a bar chart remain distinguishable.
func paletteColor(i int) color.Color {
	c := palette[i%len(palette)].(color.RGBA)
	cycle := i / len(palette)
	if cycle == 0 {
		return c
	}
	f := math.Min(0.45*float64(cycle), 0.8)
	lighten := func(v uint8) uint8 { return v + uint8(f*float64(0xff-v)) }
	return color.RGBA{R: lighten(c.R), G: lighten(c.G), B: lighten(c.B), A: 0xff}
}

// newPlot returns a plot with the package's common styling applied.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = titleFontSize
	p.Title.Padding = vg.Length(6)
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		ax.Label.TextStyle.Font.Size = axisFontSize
		ax.Tick.Label.Font.Size = tickFontSize
	}
	return p
}

// newGrid returns faint background grid lines for the plot.
func newGrid(vertical bool) *plotter.Grid {
	g := plotter.NewGrid()
	lineColor := color.Gray{Y: 0xdd}
	g.Horizontal.Color = lineColor
	g.Vertical.Color = lineColor
	if !vertical {
		g.Vertical.Width = 0
	}
	return g
}

// legendEntry is one row of the legend drawn to the right of the plot.
type legendEntry struct {
	name   string
	thumbs []plot.Thumbnailer
}

// renderPNG draws p into a PNG image with the legend entries placed in a
// column to the right of the plotting area, so the legend never covers
// data. The encoded image is returned.
//
// gonum/plot reports some invalid states (for example non-positive values
// on a log axis) by panicking; such panics are converted into errors so a
// plotting problem cannot take down a training run.
func renderPNG(p *plot.Plot, entries []legendEntry) ([]byte, error) {
	return renderPNGPrepared(p, entries, nil)
}

// renderPNGPrepared is renderPNG with a hook: once the layout is fixed,
// prepare (if non-nil) is called with the canvas that will hold the data,
// so that plotters whose sizes are absolute lengths (such as bar widths)
// can be sized to it and added to p before drawing.
func renderPNGPrepared(p *plot.Plot, entries []legendEntry, prepare func(dataArea draw.Canvas) error) (data []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("render plot: %v", r)
		}
	}()

	img := vgimg.NewWith(vgimg.UseWH(imageWidth, imageHeight), vgimg.UseDPI(imageDPI))
	full := draw.New(img)
	full.SetColor(color.White)
	full.Fill(full.Rectangle.Path())
	canvas := draw.Crop(full, outerPad, -outerPad, outerPad, -outerPad)
	if err := drawWithLegend(canvas, p, entries, prepare); err != nil {
		return nil, err
	}
	return encodePNG(img)
}

// encodePNG encodes a rendered image.
func encodePNG(img *vgimg.Canvas) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("encode png: %w", err)
	}
	return buf.Bytes(), nil
}

// drawWithLegend draws p into canvas with the legend entries in a column to its right (see
// renderPNGPrepared for prepare). It may panic on invalid plot states; callers recover.
func drawWithLegend(canvas draw.Canvas, p *plot.Plot, entries []legendEntry, prepare func(dataArea draw.Canvas) error) error {
	legend := plot.NewLegend()
	legend.Top = true
	legend.Left = true
	legend.TextStyle.Font.Size = legendFontSize
	legend.Padding = vg.Length(3)
	legend.ThumbnailWidth = vg.Length(24)
	for _, e := range entries {
		legend.Add(e.name, e.thumbs...)
	}

	// Shrink the legend font until the legend fits the canvas height.
	for legend.TextStyle.Font.Size > minLegendFont &&
		legend.Rectangle(canvas).Size().Y > canvas.Size().Y {
		legend.TextStyle.Font.Size -= vg.Length(1)
	}

	legendWidth := vg.Length(0)
	if len(entries) > 0 {
		legendWidth = legend.Rectangle(canvas).Size().X + legendGap
	}
	// Never let the legend squeeze the plot below ~60% of the width.
	if maxW := canvas.Size().X * 0.4; legendWidth > maxW {
		legendWidth = maxW
	}

	plotArea := draw.Crop(canvas, 0, -legendWidth, 0, 0)
	if prepare != nil {
		if err := prepare(p.DataCanvas(plotArea)); err != nil {
			return err
		}
	}
	dataArea := p.DataCanvas(plotArea)
	p.Draw(plotArea)

	if len(entries) > 0 {
		legendArea := draw.Canvas{
			Canvas: canvas.Canvas,
			Rectangle: vg.Rectangle{
				Min: vg.Point{X: plotArea.Max.X + legendGap, Y: canvas.Min.Y},
				Max: vg.Point{X: canvas.Max.X, Y: dataArea.Max.Y},
			},
		}
		legend.Draw(legendArea)
	}
	return nil
}

// writeFileAtomic writes data to path by writing a temporary file in the
// same directory and renaming it into place. The parent directory is
// created if needed. On failure the temporary file is removed.
func writeFileAtomic(path string, data []byte) (err error) {
	if path == "" {
		return errors.New("empty output path")
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temp file: %w", err)
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmpName)
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("write temp file: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("sync temp file: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("close temp file: %w", err)
	}
	if err = os.Chmod(tmpName, 0o644); err != nil {
		return fmt.Errorf("chmod temp file: %w", err)
	}
	if err = os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("rename temp file: %w", err)
	}
	return nil
}

// isFinite reports whether v is neither NaN nor infinite.
func isFinite(v float64) bool {
	return !math.IsNaN(v) && !math.IsInf(v, 0)
}

// fontFace is a small helper so call sites can build text styles that
// match the plot defaults.
func fontFace(size vg.Length) font.Font {
	return font.From(plot.DefaultFont, size)
}
