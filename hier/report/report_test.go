package report

import (
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// requirePNG asserts that path holds a decodable PNG of a reasonable size.
func requirePNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err, "decode %s", path)
	b := img.Bounds()
	require.GreaterOrEqual(t, b.Dx(), 400, "width of %s", path)
	require.GreaterOrEqual(t, b.Dy(), 300, "height of %s", path)
	// A blank image would be a single color; a real plot has many.
	colors := map[uint32]bool{}
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colors[r>>8<<16|g>>8<<8|bl>>8] = true
		}
	}
	require.Greater(t, len(colors), 10, "%s looks blank", path)
}

// requireOnlyFiles asserts that dir contains exactly the named entries,
// in particular no leftover temporary files.
func requireOnlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if names == nil {
		names = []string{}
	}
	if got == nil {
		got = []string{}
	}
	require.ElementsMatch(t, names, got)
}

func lossSeries(name string, n int, scale float64) Series {
	s := Series{Name: name}
	for i := 0; i < n; i++ {
		s.X = append(s.X, float64(i*10))
		s.Y = append(s.Y, scale*math.Exp(-float64(i)/50)+1)
	}
	return s
}

func sampleBars() ([]string, []string, map[string]map[string]float64) {
	methods := []string{"popularity", "mf", "h0", "h0_h1", "h0_h2", "h"}
	metrics := []string{"hr@10", "ndcg@10", "mrr"}
	values := map[string]map[string]float64{}
	for i, m := range methods {
		values[m] = map[string]float64{}
		for j, k := range metrics {
			values[m][k] = 0.05 + 0.04*float64(i) + 0.1*float64(2-j)
		}
	}
	return methods, metrics, values
}

func TestTrainingCurvesWritesPNG(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "loss.png")
	err := TrainingCurves(path, "Training loss", []Series{
		lossSeries("train", 200, 8),
		lossSeries("val", 200, 9),
	})
	require.NoError(t, err)
	requirePNG(t, path)
	requireOnlyFiles(t, dir, "loss.png")

	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), info.Mode().Perm())
}

func TestTrainingCurvesWithOptions(t *testing.T) {
	many := make([]Series, 14) // more series than palette colors
	for i := range many {
		many[i] = lossSeries(fmt.Sprintf("run %d", i), 40, float64(i+1))
	}
	cases := []struct {
		name   string
		opts   CurveOptions
		series []Series
	}{
		{"epochs", CurveOptions{Title: "Validation", XLabel: "epoch", YLabel: "hr@10"},
			[]Series{{Name: "h", X: []float64{1, 2, 3}, Y: []float64{0.1, 0.2, 0.25}}}},
		{"log", CurveOptions{Title: "Loss", LogY: true}, []Series{lossSeries("train", 500, 1000)}},
		{"log_flat", CurveOptions{LogY: true}, []Series{{Name: "flat", X: []float64{0, 1, 2}, Y: []float64{3, 3, 3}}}},
		{"log_narrow", CurveOptions{LogY: true}, []Series{{Name: "narrow", X: []float64{0, 1}, Y: []float64{3.001, 3.002}}}},
		{"single_point", CurveOptions{}, []Series{{Name: "one", X: []float64{5}, Y: []float64{2}}}},
		{"no_title", CurveOptions{}, []Series{lossSeries("a", 3, 1)}},
		{"many_series", CurveOptions{Title: "Sweep"}, many},
		{"negative", CurveOptions{YLabel: "delta"}, []Series{{Name: "d", X: []float64{0, 1, 2}, Y: []float64{-1, 0.5, -0.2}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tc.name+".png")
			require.NoError(t, TrainingCurvesWithOptions(path, tc.opts, tc.series))
			requirePNG(t, path)
			requireOnlyFiles(t, dir, tc.name+".png")
		})
	}
}

func TestTrainingCurvesErrors(t *testing.T) {
	good := lossSeries("good", 5, 1)
	cases := []struct {
		name    string
		opts    CurveOptions
		series  []Series
		wantSub []string
	}{
		{"nil", CurveOptions{}, nil, []string{"no series"}},
		{"empty_points", CurveOptions{}, []Series{good, {Name: "val loss"}}, []string{`"val loss"`, "no points"}},
		{"mismatch", CurveOptions{}, []Series{{Name: "bad", X: []float64{1, 2}, Y: []float64{1}}},
			[]string{`"bad"`, "len(X)=2", "len(Y)=1"}},
		{"nan", CurveOptions{}, []Series{{Name: "nanny", X: []float64{1, 2}, Y: []float64{1, math.NaN()}}},
			[]string{`"nanny"`, "not finite"}},
		{"inf_x", CurveOptions{}, []Series{{Name: "infx", X: []float64{math.Inf(1)}, Y: []float64{1}}},
			[]string{`"infx"`, "not finite"}},
		{"empty_name", CurveOptions{}, []Series{good, {X: []float64{1}, Y: []float64{1}}}, []string{"#1", "empty name"}},
		{"duplicate", CurveOptions{}, []Series{good, good}, []string{`"good"`, "duplicate"}},
		{"log_nonpositive", CurveOptions{LogY: true}, []Series{{Name: "zero", X: []float64{1, 2}, Y: []float64{1, 0}}},
			[]string{`"zero"`, "log"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out.png")
			err := TrainingCurvesWithOptions(path, tc.opts, tc.series)
			require.Error(t, err)
			for _, sub := range tc.wantSub {
				require.Contains(t, err.Error(), sub)
			}
			requireOnlyFiles(t, dir) // nothing written
		})
	}
}

func TestMetricsBarsWritesPNG(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "metrics.png")
	methods, metrics, values := sampleBars()
	values["extra"] = map[string]float64{"hr@10": 1} // unlisted: ignored
	require.NoError(t, MetricsBars(path, "Test metrics", methods, metrics, values))
	requirePNG(t, path)
	requireOnlyFiles(t, dir, "metrics.png")
}

func TestMetricsBarsShapes(t *testing.T) {
	methods, metrics, values := sampleBars()
	manyMethods := make([]string, 16) // bars too narrow for value labels
	manyValues := map[string]map[string]float64{}
	for i := range manyMethods {
		manyMethods[i] = fmt.Sprintf("m%02d", i)
		manyValues[manyMethods[i]] = map[string]float64{"hr@10": float64(i) / 20, "mrr": 0.1}
	}
	cases := []struct {
		name    string
		methods []string
		metrics []string
		values  map[string]map[string]float64
	}{
		{"single", []string{"h"}, []string{"mrr"}, map[string]map[string]float64{"h": {"mrr": 0.3}}},
		{"zeros", []string{"a", "b"}, []string{"x"}, map[string]map[string]float64{"a": {"x": 0}, "b": {"x": 0}}},
		{"negative", []string{"a", "b"}, []string{"x", "y"},
			map[string]map[string]float64{"a": {"x": -0.2, "y": 0.4}, "b": {"x": 0.1, "y": -0.05}}},
		{"large", []string{"a", "b"}, []string{"ppl"}, map[string]map[string]float64{"a": {"ppl": 1234.5}, "b": {"ppl": 56.7}}},
		{"many_methods", manyMethods, []string{"hr@10", "mrr"}, manyValues},
		{"sample", methods, metrics, values},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tc.name+".png")
			require.NoError(t, MetricsBars(path, tc.name, tc.methods, tc.metrics, tc.values))
			requirePNG(t, path)
			requireOnlyFiles(t, dir, tc.name+".png")
		})
	}
}

func TestMetricsBarsErrors(t *testing.T) {
	methods, metrics, values := sampleBars()
	missingMetric := map[string]map[string]float64{}
	for m, row := range values {
		missingMetric[m] = map[string]float64{}
		for k, v := range row {
			missingMetric[m][k] = v
		}
	}
	delete(missingMetric["h0_h1"], "ndcg@10")
	missingMethod := map[string]map[string]float64{}
	for m, row := range values {
		if m != "mf" {
			missingMethod[m] = row
		}
	}
	nan := map[string]map[string]float64{"a": {"x": math.NaN()}}

	cases := []struct {
		name    string
		methods []string
		metrics []string
		values  map[string]map[string]float64
		wantSub []string
	}{
		{"no_methods", nil, metrics, values, []string{"no methods"}},
		{"no_metrics", methods, nil, values, []string{"no metrics"}},
		{"missing_metric", methods, metrics, missingMetric, []string{`"h0_h1"`, `"ndcg@10"`, "missing"}},
		{"missing_method", methods, metrics, missingMethod, []string{`"mf"`, `"hr@10"`}},
		{"nil_values", methods, metrics, nil, []string{`"popularity"`, `"hr@10"`}},
		{"nan", []string{"a"}, []string{"x"}, nan, []string{`"a"`, `"x"`, "not finite"}},
		{"dup_method", []string{"mf", "mf"}, metrics, values, []string{"duplicate method", `"mf"`}},
		{"dup_metric", methods, []string{"mrr", "mrr"}, values, []string{"duplicate metric", `"mrr"`}},
		{"empty_metric", methods, []string{"mrr", ""}, values, []string{"metric #1", "empty"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			err := MetricsBars(filepath.Join(dir, "out.png"), "t", tc.methods, tc.metrics, tc.values)
			require.Error(t, err)
			for _, sub := range tc.wantSub {
				require.Contains(t, err.Error(), sub)
			}
			requireOnlyFiles(t, dir)
		})
	}
}

func TestAtomicWriteReplacesExistingFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plot.png")
	require.NoError(t, os.WriteFile(path, []byte("not a png"), 0o644))
	require.NoError(t, TrainingCurves(path, "t", []Series{lossSeries("a", 10, 1)}))
	requirePNG(t, path)
	methods, metrics, values := sampleBars()
	require.NoError(t, MetricsBars(path, "t", methods, metrics, values))
	requirePNG(t, path)
	requireOnlyFiles(t, dir, "plot.png")
}

func TestAtomicWriteCreatesParentDirs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run1", "plots", "loss.png")
	require.NoError(t, TrainingCurves(path, "t", []Series{lossSeries("a", 10, 1)}))
	requirePNG(t, path)
}

func TestAtomicWriteFailureLeavesNoTempFiles(t *testing.T) {
	dir := t.TempDir()
	// The destination is a non-empty directory, so the final rename fails
	// after the temporary file has been written.
	target := filepath.Join(dir, "taken.png")
	require.NoError(t, os.MkdirAll(filepath.Join(target, "child"), 0o755))

	err := TrainingCurves(target, "t", []Series{lossSeries("a", 10, 1)})
	require.Error(t, err)
	require.Contains(t, err.Error(), "rename")
	methods, metrics, values := sampleBars()
	require.Error(t, MetricsBars(target, "t", methods, metrics, values))
	requireOnlyFiles(t, dir, "taken.png")

	require.Error(t, TrainingCurves("", "t", []Series{lossSeries("a", 10, 1)}))
}

func TestConcurrentWritesSamePath(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shared.png")
	methods, metrics, values := sampleBars()
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				errs[i] = TrainingCurves(path, "t", []Series{lossSeries("a", 50, float64(i+1))})
			} else {
				errs[i] = MetricsBars(path, "t", methods, metrics, values)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	requirePNG(t, path)
	requireOnlyFiles(t, dir, "shared.png")
}

func TestLogTicksAlwaysLabelled(t *testing.T) {
	for _, r := range [][2]float64{{1.5, 9.8}, {3.001, 3.002}, {1e-4, 10}, {0.2, 0.9}, {7, 700}} {
		ticks := logTicks{}.Ticks(r[0], r[1])
		labels := 0
		for _, tk := range ticks {
			require.GreaterOrEqual(t, tk.Value, r[0]*(1-1e-9))
			require.LessOrEqual(t, tk.Value, r[1]*(1+1e-9))
			if tk.Label != "" {
				labels++
			}
		}
		require.GreaterOrEqual(t, labels, 2, "range %v", r)
	}
	require.Empty(t, logTicks{}.Ticks(0, 1))
}

// TestWriteSamples writes example plots to $REPORT_SAMPLE_DIR for visual
// inspection; it is skipped when the variable is unset.
func TestWriteSamples(t *testing.T) {
	dir := os.Getenv("REPORT_SAMPLE_DIR")
	if dir == "" {
		t.Skip("set REPORT_SAMPLE_DIR to write sample plots")
	}
	series := []Series{lossSeries("train loss", 200, 8), lossSeries("val loss", 200, 9)}
	require.NoError(t, TrainingCurves(filepath.Join(dir, "curves.png"), "Training loss", series))
	require.NoError(t, TrainingCurvesWithOptions(filepath.Join(dir, "curves_log.png"),
		CurveOptions{Title: "Training loss", XLabel: "epoch", YLabel: "nll", LogY: true}, series))
	methods, metrics, values := sampleBars()
	require.NoError(t, MetricsBars(filepath.Join(dir, "bars.png"), "Test metrics", methods, metrics, values))
	for _, name := range []string{"curves.png", "curves_log.png", "bars.png"} {
		requirePNG(t, filepath.Join(dir, name))
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		require.False(t, strings.Contains(e.Name(), ".tmp-"), "leftover %s", e.Name())
	}
}

func TestPaletteColorsDistinct(t *testing.T) {
	seen := map[[3]uint32]int{}
	for i := 0; i < 2*len(palette); i++ {
		r, g, b, a := paletteColor(i).RGBA()
		require.Equal(t, uint32(0xffff), a)
		key := [3]uint32{r, g, b}
		j, dup := seen[key]
		require.False(t, dup, "colors %d and %d are identical", j, i)
		seen[key] = i
	}
}
