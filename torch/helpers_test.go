package torch

// Shared test helpers: a per-test Scope that frees everything a test creates, slice
// conversions, tolerant comparisons, access to the golden data in ../shared/golden (next to
// the repository root), and the global leak check in TestMain.

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMain checks that the shim matches this package and, after all tests, that every tensor
// handle created by the tests was released: tests track what they create in a Scope, so any
// handle still alive at the end is a leak in the package (or a test that forgot to free).
// TestCleanupBackstop waits until the garbage it makes on purpose is collected.
func TestMain(m *testing.M) {
	if err := CheckRuntime(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	goldenFree()
	if code == 0 {
		// Strict: every test frees what it creates (directly or through its Scope), so no handle
		// may be left, not even garbage waiting for the cleanup backstop: an op that created a
		// handle it did not return would show up here.
		if live, native := LiveTensors(), NativeLiveTensors(); live != 0 || native != 0 {
			fmt.Fprintf(os.Stderr, "tensor handles still alive after all tests: LiveTensors()=%d NativeLiveTensors()=%d\n", live, native)
			code = 1
		}
	}
	os.Exit(code)
}

// tc is a test context: testing.TB plus a Scope that the test's Cleanup closes. Tensors made
// through tc are tracked by the scope, and so (by scope propagation) is every op result computed
// from them.
type tc struct {
	testing.TB
	s *Scope
}

func newTC(t testing.TB) *tc {
	s := NewScope()
	t.Cleanup(s.Close)
	return &tc{TB: t, s: s}
}

// T requires err == nil and tracks x in the test scope.
func (c *tc) T(x *Tensor, err error) *Tensor {
	c.Helper()
	require.NoError(c, err)
	require.NotNil(c, x)
	return c.s.Track(x)
}

// T2 is T for the two-result ops (MaxDim, TopK, Sort).
func (c *tc) T2(a, b *Tensor, err error) (*Tensor, *Tensor) {
	c.Helper()
	require.NoError(c, err)
	c.s.Track(a, b)
	return a, b
}

// Ts is T for ops returning several tensors (Split, Chunk).
func (c *tc) Ts(ts []*Tensor, err error) []*Tensor {
	c.Helper()
	require.NoError(c, err)
	c.s.Track(ts...)
	return ts
}

func (c *tc) F32(data []float32, shape ...int64) *Tensor {
	c.Helper()
	return c.T(FromSlice(data, shape...))
}

func (c *tc) F64(data []float64, shape ...int64) *Tensor {
	c.Helper()
	return c.T(FromSlice(data, shape...))
}

func (c *tc) I64(data []int64, shape ...int64) *Tensor {
	c.Helper()
	return c.T(FromSlice(data, shape...))
}

func (c *tc) Bool(data []bool, shape ...int64) *Tensor {
	c.Helper()
	return c.T(FromSlice(data, shape...))
}

// Leaf is a float64 leaf tensor that requires grad.
func (c *tc) Leaf(data []float64, shape ...int64) *Tensor {
	c.Helper()
	x := c.F64(data, shape...)
	require.NoError(c, x.SetRequiresGrad(true))
	return x
}

func (c *tc) f32s(x *Tensor) []float32 {
	c.Helper()
	v, err := x.Float32s()
	require.NoError(c, err)
	return v
}

func (c *tc) f64s(x *Tensor) []float64 {
	c.Helper()
	v, err := x.Float64s()
	require.NoError(c, err)
	return v
}

func (c *tc) i64s(x *Tensor) []int64 {
	c.Helper()
	v, err := x.Int64s()
	require.NoError(c, err)
	return v
}

func (c *tc) bools(x *Tensor) []bool {
	c.Helper()
	v, err := ToSlice[bool](x)
	require.NoError(c, err)
	return v
}

func (c *tc) item(x *Tensor) float64 {
	c.Helper()
	v, err := x.Item()
	require.NoError(c, err)
	return v
}

// grad returns x's gradient as float64 values (x must be float64 and have a gradient).
func (c *tc) grad(x *Tensor) []float64 {
	c.Helper()
	g, err := x.Grad()
	require.NoError(c, err)
	require.NotNil(c, g, "no gradient")
	c.s.Track(g)
	return c.f64s(g)
}

// shape requires x's shape to be want.
func (c *tc) shape(x *Tensor, want ...int64) {
	c.Helper()
	if want == nil {
		want = []int64{}
	}
	require.Equal(c, want, x.Shape())
}

// requireClose requires |got[i] - want[i]| <= atol + rtol·|want[i]| for every i (and equal lengths).
func requireClose[T float32 | float64](t testing.TB, want, got []T, atol, rtol float64, msgAndArgs ...any) {
	t.Helper()
	require.Equal(t, len(want), len(got), msgAndArgs...)
	worst, worstI := 0.0, -1
	for i := range want {
		w, g := float64(want[i]), float64(got[i])
		d := math.Abs(w - g)
		if math.IsNaN(g) != math.IsNaN(w) || d > atol+rtol*math.Abs(w) {
			if worstI < 0 || d > worst || math.IsNaN(d) {
				worst, worstI = d, i
			}
		}
	}
	if worstI >= 0 {
		prefix := ""
		if len(msgAndArgs) > 0 {
			if f, ok := msgAndArgs[0].(string); ok {
				prefix = fmt.Sprintf(f, msgAndArgs[1:]...) + ": "
			}
		}
		t.Fatalf("%selement %d: got %.17g, want %.17g (|diff| %.3g > atol %g + rtol %g·|want|)",
			prefix, worstI, float64(got[worstI]), float64(want[worstI]), worst, atol, rtol)
	}
}

// f64of converts float32 values to float64.
func f64of(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// Tolerance for a float32 computation against a stored golden tensor (../shared/golden/README.md,
// "Tolerances"): |a − b| ≤ 1e-5 + 1e-5·|b|. A stored tensor was computed on one CPU, and libtorch
// and OpenBLAS pick their float kernels by CPU (vector width, FMA), so another machine matches it
// only to float32 rounding, never bitwise. Bitwise checks compare two computations of one process.
const (
	goldenAtol32 = 1e-5
	goldenRtol32 = 1e-5
)

// maskedRows keeps the rows of vals ([B, T, C] flattened) where mask ([B, T] flattened) is 1: the
// golden README compares hidden states only at unpadded positions.
func maskedRows(vals []float64, mask []int64, C int) []float64 {
	var out []float64
	for p, m := range mask {
		if m == 1 {
			out = append(out, vals[p*C:(p+1)*C]...)
		}
	}
	return out
}

// ---- golden data (../shared/golden next to the repository root) ----

// goldenDir returns the golden directory, skipping the test when it is not there.
// HIER_GOLDEN_DIR overrides the location.
func goldenDir(t testing.TB) string {
	t.Helper()
	dir := goldenPath()
	if _, err := os.Stat(filepath.Join(dir, "golden.safetensors")); err != nil {
		t.Skipf("golden data not available (%v); it lives in ../shared/golden next to the repository root", err)
	}
	return dir
}

// goldenPath joins parts to the golden directory, whether or not it exists.
func goldenPath(parts ...string) string {
	dir := os.Getenv("HIER_GOLDEN_DIR")
	if dir == "" {
		dir, _ = filepath.Abs(filepath.Join("..", "..", "shared", "golden"))
	}
	return filepath.Join(append([]string{dir}, parts...)...)
}

// testDevice is where the golden parity tests (TestTorchScriptGolden, TestGeluTanhGolden,
// TestAdamWGoldenStep) compute: $HIER_TEST_DEVICE (cpu, cuda or cuda:N; default cpu). Asking
// for CUDA where there is none fails the test instead of skipping it. The stored references are
// CPU results; on a GPU they hold within the same tolerances (libtorch keeps TF32 off for float32
// matmuls; scripts/gpu_check.sh also sets NVIDIA_TF32_OVERRIDE=0).
func testDevice(t testing.TB) Device {
	t.Helper()
	s := os.Getenv("HIER_TEST_DEVICE")
	if s == "" {
		return CPU
	}
	d, err := ParseDevice(s)
	require.NoError(t, err, "HIER_TEST_DEVICE")
	return d
}

// on returns x on device d: x itself on the CPU, otherwise a copy tracked by the test scope.
func (c *tc) on(x *Tensor, d Device) *Tensor {
	c.Helper()
	if !d.CUDA {
		return x
	}
	return c.T(x.ToDevice(d))
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

var golden struct {
	once sync.Once
	ts   map[string]*Tensor
	err  error
}

// goldenTensor returns a tensor of golden.safetensors (owned by the cache; do not free).
func goldenTensor(t testing.TB, name string) *Tensor {
	t.Helper()
	dir := goldenDir(t)
	golden.once.Do(func() {
		golden.ts, _, golden.err = LoadSafetensors(filepath.Join(dir, "golden.safetensors"), CPU)
	})
	require.NoError(t, golden.err)
	x, ok := golden.ts[name]
	require.True(t, ok, "golden.safetensors has no %q", name)
	return x
}

func goldenFree() {
	for _, x := range golden.ts {
		x.Free()
	}
}

// rssBytes is the resident set size of this process (from /proc/self/statm), or -1.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	var size, resident int64
	if _, err := fmt.Sscan(string(b), &size, &resident); err != nil {
		return -1
	}
	return resident * int64(os.Getpagesize())
}
