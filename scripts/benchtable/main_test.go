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
	// Repeated Python runs: medians (1000, 1200, 900 → 1000; 100, 50, 120 → 100).
	pf2, pf3 := filepath.Join(dir, "py2.json"), filepath.Join(dir, "py3.json")
	require.NoError(t, os.WriteFile(pf2, []byte(`{"tiny_add_ns": 1200, "sgemm_gflops": 50}`), 0o644))
	require.NoError(t, os.WriteFile(pf3, []byte(`{"tiny_add_ns": 900, "sgemm_gflops": 120}`), 0o644))
	var out strings.Builder
	err := run([]string{"-go", gf, "-py", pf, "-py", pf2, "-py", pf3, "-caption", "threads=2",
		"-row", "tiny-add, ns/op|go:TinyAdd:ns/op|py:tiny_add_ns",
		"-row", "native add, ns/op|go:NativeAdd:ns/op|",
		"-row", "overhead, ns/op|go:TinyAdd:ns/op-go:NativeAdd:ns/op|py:tiny_add_ns-go:NativeAdd:ns/op",
		"-row", "sgemm, GFLOP/s|go:Sgemm1024:GFLOP/s|py:sgemm_gflops",
	}, &out, io.Discard)
	require.NoError(t, err)
	want := `threads=2

| op | hier (Go) | PyTorch eager | ratio |
|---|---:|---:|---:|
| tiny-add, ns/op | 870 | 1000 | 0.87 |
| native add, ns/op | 505 | — | — |
| overhead, ns/op | 365 | 495 | 0.74 |
| sgemm, GFLOP/s | 85.0 | 100 | 0.85 |
`
	require.Equal(t, want, out.String())

	out.Reset()
	var warn strings.Builder
	err = run([]string{"-go", gf, "-row", "x|go:Missing:ns/op|py:tiny_add_ns"}, &out, &warn)
	require.NoError(t, err)
	require.Contains(t, out.String(), "| x | n/a | n/a | — |")
	require.Contains(t, warn.String(), "Missing")
	err = run([]string{"-row", "only two|parts"}, &out, io.Discard)
	require.Error(t, err)
	err = run([]string{"-go", filepath.Join(dir, "nope.txt")}, &out, io.Discard)
	require.Error(t, err)
}
