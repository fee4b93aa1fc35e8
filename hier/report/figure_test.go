package report

import (
	"math"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/plot"
)

// TestIntegerTicks: every tick of an integer axis is a whole number, labelled without decimals,
// inside the range, with at most maxIntegerTicks labels, and the labels are evenly spaced.
func TestIntegerTicks(t *testing.T) {
	for _, r := range [][2]float64{{0, 1}, {1, 2}, {1, 3}, {0.5, 2.5}, {1, 12.5}, {1, 25}, {0, 100}, {1, 830}, {3, 1250}, {-7, 7}, {0, 1e6}, {5, 5}, {9.9, 0.1}} {
		ticks := IntegerTicks{}.Ticks(r[0], r[1])
		lo, hi := math.Min(r[0], r[1]), math.Max(r[0], r[1])
		var labelled []float64
		for _, tk := range ticks {
			require.Equal(t, math.Trunc(tk.Value), tk.Value, "range %v: tick %v is not a whole number", r, tk.Value)
			require.GreaterOrEqual(t, tk.Value, lo, "range %v", r)
			require.LessOrEqual(t, tk.Value, hi, "range %v", r)
			if tk.Label != "" {
				require.Equal(t, strconv.FormatFloat(tk.Value, 'f', 0, 64), tk.Label, "range %v", r)
				labelled = append(labelled, tk.Value)
			}
		}
		require.NotEmpty(t, labelled, "range %v has whole numbers, so labels", r)
		require.LessOrEqual(t, len(labelled), maxIntegerTicks, "range %v", r)
		for k := 2; k < len(labelled); k++ {
			require.Equal(t, labelled[1]-labelled[0], labelled[k]-labelled[k-1], "range %v: even spacing", r)
		}
		if hi-lo >= 2 {
			require.GreaterOrEqual(t, len(labelled), 2, "range %v", r)
		}
	}
	// The case that motivated it: steps 1..12 never get a label like "2.50" or "12.50".
	for _, tk := range (IntegerTicks{}).Ticks(1, 12) {
		require.NotContains(t, tk.Label, ".")
	}
	require.Equal(t, []float64{1, 2, 3}, labelledValues(IntegerTicks{}.Ticks(1, 3)))
	require.Equal(t, []float64{0, 200, 400, 600, 800}, labelledValues(IntegerTicks{}.Ticks(0, 830)))
	require.Empty(t, IntegerTicks{}.Ticks(2.2, 2.8), "no whole number inside")
	require.Empty(t, IntegerTicks{}.Ticks(math.NaN(), 3))
}

func labelledValues(ticks []plot.Tick) []float64 {
	var out []float64
	for _, t := range ticks {
		if t.Label != "" {
			out = append(out, t.Value)
		}
	}
	return out
}

func TestWriteFigure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fig.png")
	train := lossSeries("training loss (per step)", 300, 8)
	fig := Figure{Title: "Stages", Cols: 2, Panels: []Panel{
		{Title: "LM", XLabel: "optimizer step", YLabel: "cross-entropy", IntegerX: true,
			Series: []Series{train, {Name: "validation loss", X: []float64{0, 150, 300}, Y: []float64{9, 6, 5}}}},
		{Title: "MSE", XLabel: "optimizer step", YLabel: "MSE", IntegerX: true, Series: []Series{{Name: "a", X: []float64{1, 2}, Y: []float64{1, 0.5}}}},
		{Title: "one point", IntegerX: true, Series: []Series{{Name: "p", X: []float64{1}, Y: []float64{3}}}},
		{}, // blank tile
	}}
	require.NoError(t, WriteFigure(path, fig))
	requirePNG(t, path)
	requireOnlyFiles(t, dir, "fig.png")

	require.ErrorContains(t, WriteFigure(path, Figure{}), "no panels")
	bad := fig
	bad.Panels = []Panel{{Title: "x", Series: []Series{{Name: "a", X: []float64{1}, Y: []float64{math.NaN()}}}}}
	require.ErrorContains(t, WriteFigure(path, bad), `panel "x"`)
	bad.Panels = []Panel{{Series: []Series{train}}}
	require.ErrorContains(t, WriteFigure(path, bad), "no title")
}

// Y labels stay distinct on a narrow range, where the default ticker's labels can repeat.
func TestReadableTicks(t *testing.T) {
	for _, r := range [][2]float64{{0.99, 1.13}, {1.0001, 1.0009}, {0, 10}, {4.2, 4.25}, {-1e-4, 3e-4}} {
		ticks := readableTicks{}.Ticks(r[0], r[1])
		require.True(t, distinctLabels(ticks), "range %v: %v", r, ticks)
		n := 0
		for _, tk := range ticks {
			if tk.Label != "" {
				n++
				v, err := strconv.ParseFloat(tk.Label, 64)
				require.NoError(t, err)
				require.InEpsilon(t, tk.Value+1, v+1, 1e-3, "range %v: label %q of %v", r, tk.Label, tk.Value)
			}
		}
		require.GreaterOrEqual(t, n, 2, "range %v", r)
	}
}
