package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const goOut = `goos: linux
pkg: github.com/hier-ai/hier/torch
BenchmarkTinyAdd-2     	 1377112	       864.0 ns/op	      72 B/op	       5 allocs/op
BenchmarkNativeAdd-2   	 2341656	       510.0 ns/op
BenchmarkSgemm1024-2   	      66	  26868740 ns/op	        80.00 GFLOP/s
BenchmarkTinyAdd-2     	 1377112	       900.0 ns/op	      72 B/op	       5 allocs/op
BenchmarkNativeAdd-2   	 2341656	       500.0 ns/op
BenchmarkSgemm1024-2   	      66	  26868740 ns/op	        90.00 GFLOP/s
BenchmarkTinyAdd-2     	 1377112	       870.0 ns/op	      72 B/op	       5 allocs/op
BenchmarkNativeAdd-2   	 2341656	       505.0 ns/op
BenchmarkSgemm1024-2   	      66	  26868740 ns/op	        85.00 GFLOP/s
PASS
`

func TestTable(t *testing.T) {
	dir := t.TempDir()
	gf, pf := filepath.Join(dir, "go.txt"), filepath.Join(dir, "py.json")
	require.NoError(t, os.WriteFile(gf, []byte(goOut), 0o644))
	require.NoError(t, os.WriteFile(pf, []byte(`{"tiny_add_ns": 1000, "sgemm_gflops": 100, "torch_version": "1.13"}`), 0o644))
	// Three rounds; a side's cell is its median (tiny add 1000, 1200, 900 → 1000; sgemm 100, 105,
	// 100 → 100). Per-round ratios, by hand:
	//   tiny add  864/1000 .864, 900/1200 .75, 870/900 .967: median .86, .75–.97, spread .25 > .15
	//   overhead  hier 354, 400, 365 (median 365); PyTorch 490, 700, 395 (median 490);
	//             354/490 .722, 400/700 .571, 365/395 .924: median .72, .57–.92, flagged
	//   sgemm     80/100 .80, 90/105 .857, 85/100 .85: median .85, .80–.86, spread .067 ≤ .15
	pf2, pf3 := filepath.Join(dir, "py2.json"), filepath.Join(dir, "py3.json")
	require.NoError(t, os.WriteFile(pf2, []byte(`{"tiny_add_ns": 1200, "sgemm_gflops": 105}`), 0o644))
	require.NoError(t, os.WriteFile(pf3, []byte(`{"tiny_add_ns": 900, "sgemm_gflops": 100}`), 0o644))
	var out strings.Builder
	err := run([]string{"-go", gf, "-py", pf, "-py", pf2, "-py", pf3, "-caption", "threads=2",
		"-row", "tiny-add, ns/op|go:TinyAdd:ns/op|py:tiny_add_ns",
		"-row", "native add, ns/op|go:NativeAdd:ns/op|",
		"-row", "overhead, ns/op|go:TinyAdd:ns/op-go:NativeAdd:ns/op|py:tiny_add_ns-go:NativeAdd:ns/op",
		"-row", "sgemm, GFLOP/s|go:Sgemm1024:GFLOP/s|py:sgemm_gflops",
	}, &out, io.Discard)
	require.NoError(t, err)
	want := `threads=2

| op | hier (Go) | PyTorch eager | ratio | ratio min–max | flag |
|---|---:|---:|---:|---:|---|
| tiny-add, ns/op | 870 | 1000 | 0.86 | 0.75–0.97 | rounds disagree |
| native add, ns/op | 505 | — | — | — |  |
| overhead, ns/op | 365 | 490 | 0.72 | 0.57–0.92 | rounds disagree |
| sgemm, GFLOP/s | 85.0 | 100 | 0.85 | 0.80–0.86 |  |
`
	require.Equal(t, want, out.String())

	out.Reset()
	var warn strings.Builder
	err = run([]string{"-go", gf, "-row", "x|go:Missing:ns/op|py:tiny_add_ns"}, &out, &warn)
	require.NoError(t, err)
	require.Contains(t, out.String(), "| x | n/a | n/a | — | — |  |")
	require.Contains(t, warn.String(), "Missing")
	err = run([]string{"-row", "only two|parts"}, &out, io.Discard)
	require.Error(t, err)
	err = run([]string{"-go", filepath.Join(dir, "nope.txt")}, &out, io.Discard)
	require.Error(t, err)
}

func TestRatioStats(t *testing.T) {
	var warns []string
	warn := func(s string) { warns = append(warns, s) }
	// 100/200, 110/200, 90/200 = .50, .55, .45: median .50, spread .10/.50 = .20 > .15.
	med, lo, hi, disagree, n := ratioStats([]float64{100, 110, 90}, []float64{200, 200, 200}, 0.15, warn)
	require.InDelta(t, 0.50, med, 1e-12)
	require.InDelta(t, 0.45, lo, 1e-12)
	require.InDelta(t, 0.55, hi, 1e-12)
	require.True(t, disagree)
	require.Equal(t, 3, n)
	// 100/200, 104/200, 98/196 = .50, .52, .50: median .50, spread .02/.50 = .04.
	med, lo, hi, disagree, n = ratioStats([]float64{100, 104, 98}, []float64{200, 200, 196}, 0.15, warn)
	require.InDelta(t, 0.50, med, 1e-12)
	require.InDelta(t, 0.50, lo, 1e-12)
	require.InDelta(t, 0.52, hi, 1e-12)
	require.False(t, disagree)
	require.Equal(t, 3, n)
	// Even count: median of .25 and .75 is .5; one measurement on the PyTorch side pairs with both.
	med, _, _, disagree, n = ratioStats([]float64{1, 3}, []float64{4}, 0.15, warn)
	require.InDelta(t, 0.5, med, 1e-12)
	require.True(t, disagree)
	require.Equal(t, 2, n)
	require.Empty(t, warns)
	// Round counts 3 against 2: the first two pair (2/1, 4/2 → 2), with a warning; a zero
	// denominator is dropped.
	med, lo, hi, disagree, n = ratioStats([]float64{2, 4, 100}, []float64{1, 2}, 0.15, warn)
	require.Equal(t, [3]float64{2, 2, 2}, [3]float64{med, lo, hi})
	require.False(t, disagree)
	require.Equal(t, 2, n)
	require.Len(t, warns, 1)
	_, _, _, _, n = ratioStats([]float64{1}, []float64{0}, 0.15, warn)
	require.Equal(t, 0, n)
	// Differences are taken round by round: (10-1, 20-4, 30-9) = 9, 16, 21.
	m := metrics{"go:A:ns/op": {10, 20, 30}, "go:B:ns/op": {1, 4, 9}}
	v, ok, err := m.rounds("go:A:ns/op-go:B:ns/op", warn)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, []float64{9, 16, 21}, v)
}
