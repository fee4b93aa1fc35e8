package main

import (
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
	var out strings.Builder
	err := run([]string{"-go", gf, "-py", pf, "-caption", "threads=2",
		"-row", "tiny-add, ns/op|go:TinyAdd:ns/op|py:tiny_add_ns",
		"-row", "native add, ns/op|go:NativeAdd:ns/op|",
		"-row", "overhead, ns/op|go:TinyAdd:ns/op-go:NativeAdd:ns/op|py:tiny_add_ns-go:NativeAdd:ns/op",
		"-row", "sgemm, GFLOP/s|go:Sgemm1024:GFLOP/s|py:sgemm_gflops",
	}, &out)
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

	err = run([]string{"-go", gf, "-row", "x|go:Missing:ns/op|"}, &out)
	require.ErrorContains(t, err, "Missing")
	err = run([]string{"-row", "only two|parts"}, &out)
	require.Error(t, err)
}
