package torch

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFromSliceAndBack(t *testing.T) {
	c := newTC(t)
	x := c.F32([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	c.shape(x, 2, 3)
	require.Equal(t, Float32, x.DType())
	require.Equal(t, CPU, x.Device())
	require.Equal(t, int64(6), x.Numel())
	require.Equal(t, 2, x.Dim())
	require.Equal(t, int64(3), x.Size(-1))
	require.Equal(t, int64(2), x.Size(0))
	require.Panics(t, func() { x.Size(2) }, "dimension out of range is a programmer error")
	require.Equal(t, []float32{1, 2, 3, 4, 5, 6}, c.f32s(x))

	// No shape: 1-D.
	v := c.I64([]int64{7, -8, 9})
	c.shape(v, 3)
	require.Equal(t, []int64{7, -8, 9}, c.i64s(v))

	b := c.Bool([]bool{true, false, true}, 3)
	require.Equal(t, Bool, b.DType())
	require.Equal(t, []bool{true, false, true}, c.bools(b))

	i32 := c.T(FromSlice([]int32{-1, 2}, 2))
	require.Equal(t, Int32, i32.DType())
	got32, err := ToSlice[int32](i32)
	require.NoError(t, err)
	require.Equal(t, []int32{-1, 2}, got32)

	u8 := c.T(FromSlice([]uint8{0, 255}, 2))
	require.Equal(t, Uint8, u8.DType())

	s := c.T(Scalar(2.5))
	c.shape(s)
	require.Equal(t, Float64, s.DType())
	require.Equal(t, 2.5, c.item(s))

	// Empty tensors.
	e := c.F32(nil, 0, 3)
	c.shape(e, 0, 3)
	require.Empty(t, c.f32s(e))

	// Length mismatch and negative dims are errors.
	_, err = FromSlice([]float32{1, 2, 3}, 2, 2)
	require.ErrorContains(t, err, "do not fill shape")
	_, err = FromSlice([]float32{1, 2}, -1, 2)
	require.Error(t, err)

	// FromBytes / Bytes round trip (little-endian float32 1.0 = 0x3f800000).
	fb := c.T(FromBytes([]byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0x40}, Float32, []int64{2}, CPU))
	require.Equal(t, []float32{1, 2}, c.f32s(fb))
	raw, err := fb.Bytes()
	require.NoError(t, err)
	require.Equal(t, []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0x40}, raw)
	_, err = FromBytes([]byte{1, 2, 3}, Float32, []int64{1}, CPU)
	require.ErrorContains(t, err, "bytes")
}

func TestFullZerosOnesArange(t *testing.T) {
	c := newTC(t)
	z := c.T(Zeros([]int64{2, 3}, Float32, CPU))
	c.shape(z, 2, 3)
	require.Equal(t, []float32{0, 0, 0, 0, 0, 0}, c.f32s(z))

	o := c.T(Ones([]int64{4}, Float64, CPU))
	require.Equal(t, []float64{1, 1, 1, 1}, c.f64s(o))

	f := c.T(Full([]int64{2, 2}, 2.5, Float32, CPU))
	require.Equal(t, []float32{2.5, 2.5, 2.5, 2.5}, c.f32s(f))

	fi := c.T(Full([]int64{3}, 7, Int64, CPU))
	require.Equal(t, []int64{7, 7, 7}, c.i64s(fi))

	s := c.T(Full(nil, -3, Float64, CPU))
	c.shape(s)
	require.Equal(t, -3.0, c.item(s))

	zl := c.T(ZerosLike(f))
	c.shape(zl, 2, 2)
	require.Equal(t, Float32, zl.DType())
	require.Equal(t, []float32{0, 0, 0, 0}, c.f32s(zl))

	a := c.T(Arange(0, 5, 1, Int64, CPU))
	require.Equal(t, []int64{0, 1, 2, 3, 4}, c.i64s(a))
	af := c.T(Arange(1, 2, 0.25, Float64, CPU))
	require.Equal(t, []float64{1, 1.25, 1.5, 1.75}, c.f64s(af))
	ad := c.T(Arange(3, 0, -1, Float32, CPU))
	require.Equal(t, []float32{3, 2, 1}, c.f32s(ad))

	_, err := Arange(0, 5, 0, Float32, CPU)
	require.Error(t, err, "step 0")
	_, err = Full([]int64{2}, 1, DType(99), CPU)
	require.ErrorContains(t, err, "dtype")
}

func TestFillZeroCopyFrom(t *testing.T) {
	c := newTC(t)
	x := c.T(Zeros([]int64{3}, Float32, CPU))
	require.NoError(t, x.Fill(4))
	require.Equal(t, []float32{4, 4, 4}, c.f32s(x))
	require.NoError(t, x.Zero())
	require.Equal(t, []float32{0, 0, 0}, c.f32s(x))
	// CopyFrom converts dtype.
	require.NoError(t, x.CopyFrom(c.F64([]float64{1.5, -2, 3})))
	require.Equal(t, []float32{1.5, -2, 3}, c.f32s(x))
	require.ErrorContains(t, x.CopyFrom(c.F64([]float64{1, 2})), "does not match")

	// In-place fills of a leaf that requires grad do not record history.
	p := c.Leaf([]float64{1, 2})
	require.NoError(t, p.Fill(3))
	require.NoError(t, p.CopyFrom(c.F64([]float64{5, 6})))
	info, err := p.Info()
	require.NoError(t, err)
	require.True(t, info.IsLeaf)
	require.True(t, info.RequiresGrad)
	require.Equal(t, []float64{5, 6}, c.f64s(p))
}

// Values recorded from PyTorch 1.13 (Debian python3-torch 1.13.1, CPU); each constant names the
// Python expression that produced it.
//
// What of a seeded draw is the same on every CPU, and so what TestRandomMatchesPyTorch checks:
//   - the generator's integer stream (mt19937), and with it rand and uniform_: a float32 draw is
//     k·2^-24 with k the low 24 bits of a 32-bit draw, mapped by exact arithmetic (from + (to −
//     from)·u, exact for these bounds). These are checked exactly, as the integers k.
//   - normal draws are Box-Muller transforms of that stream through log, sqrt and cos/sin, whose
//     last bits depend on the CPU: below 16 elements torch computes them in double with libm (glibc
//     picks FMA variants by CPU) and rounds to float32; from 16 contiguous float32 elements on it
//     computes them in float32 with vectorised log/cos (Sleef with AVX2/AVX-512, scalar libm with
//     ATEN_CPU_CAPABILITY=default). Measured: randn(20) differs by up to 2.7e-7 between the AVX2
//     and the default kernels. These are checked within tolerance (see TestRandomMatchesPyTorch).
var (
	// torch.manual_seed(1234); torch.randn(5)
	pyRandn5 = []float32{0.0461304635, 0.402402818, -1.01152909, 0.216738239, -0.612273097}
	// torch.manual_seed(1234); torch.randn(20)  (size >= 16 takes the vectorised normal path)
	pyRandn20 = []float32{-0.111718565, -0.496590108, 0.163073704, -0.88168776, 0.28909719, 0.489870846,
		-0.385274619, -0.712034583, 0.636912644, -0.714080095, -1.0831244, -0.554724216, -1.32481194,
		0.696980536, -0.66305387, 1.21575689, -2.52733517, 1.47778428, -0.169623628, -0.99185735}
	// torch.manual_seed(1234); torch.randn(4, dtype=torch.float64)
	pyRandn4F64 = []float64{0.04613046189666927, 0.4024028259218943, -1.0115290977852014, 0.21673823500721032}
	// g = torch.Generator().manual_seed(7); torch.randn(5, generator=g)
	pyGen7Randn5 = []float32{-0.146795094, 0.786141276, 0.94682163, -1.114344, 1.69079018}
	// torch.manual_seed(99); torch.rand(4)
	pyRand4 = []float32{0.103309691, 0.970155895, 0.948070109, 0.978708744}
	// torch.manual_seed(99); torch.empty(4).normal_(3, 0.5)
	pyNormal4 = []float32{3.30634284, 2.41232324, 2.6176753, 2.66671705}
	// torch.manual_seed(99); torch.empty(4).uniform_(-2, 2)
	pyUniform4 = []float32{-1.58676124, 1.88062358, 1.79228044, 1.91483498}
)

// uniformInts returns (v − from)/(to − from)·2^24 for float32 uniform draws v in [from, to): the
// generator's 24-bit integers k, exactly (the mapping is exact for power-of-two widths). It fails
// the test if a value is not of that form.
func uniformInts(t testing.TB, v []float32, from, to float64) []int64 {
	t.Helper()
	out := make([]int64, len(v))
	for i, x := range v {
		k := (float64(x) - from) / (to - from) * (1 << 24)
		require.Equal(t, math.Trunc(k), k, "uniform draw %v is not from + (to−from)·k·2^-24", x)
		out[i] = int64(k)
	}
	return out
}

func TestRandomMatchesPyTorch(t *testing.T) {
	c := newTC(t)
	// Normal draws vs PyTorch's: within the float32 golden tolerance 1e-5 + 1e-5·|b|. A double
	// computation rounded to float32 can move by 1 ulp (≤ 4.8e-7 here); the float32 vectorised path
	// by a few ulp of radius·cos(θ), with radius ≤ sqrt(−2·ln 2^-24) ≈ 5.8 and ulp(θ) ≤ 4.8e-7 for
	// θ = 2π·u ∈ [0, 2π): ≤ 3e-6. A wrong stream or transform is off by O(0.1) or more.
	requireNormal32 := func(want, got []float32, msg string) {
		t.Helper()
		requireClose(t, f64of(want), f64of(got), goldenAtol32, goldenRtol32, msg)
	}
	require.NoError(t, ManualSeed(1234))
	requireNormal32(pyRandn5, c.f32s(c.T(Randn([]int64{5}, Float32, CPU, nil))), "randn(5) after manual_seed(1234)")
	require.NoError(t, ManualSeed(1234))
	requireNormal32(pyRandn20, c.f32s(c.T(Randn([]int64{20}, Float32, CPU, nil))), "randn(20) after manual_seed(1234)")
	// float64: libm's log and cos/sin in double, ≤ 1 ulp apart between CPUs, a few ulp in the
	// product: 1e-14 relative (~45 ulp) is far below any stream or transform error.
	require.NoError(t, ManualSeed(1234))
	requireClose(t, pyRandn4F64, c.f64s(c.T(Randn([]int64{4}, Float64, CPU, nil))), 0, 1e-14, "randn(4, float64)")
	require.NoError(t, ManualSeed(99))
	requireNormal32(pyNormal4, c.f32s(c.T(Normal([]int64{4}, 3, 0.5, Float32, CPU, nil))), "normal_(3, 0.5)")

	// The integer stream itself is the same on every CPU: rand and uniform_ exactly.
	wantInts := uniformInts(t, pyRand4, 0, 1)
	require.Equal(t, []int64{1733249, 16276515, 15905977, 16420008}, wantInts, "the recorded values are k·2^-24")
	require.Equal(t, wantInts, uniformInts(t, pyUniform4, -2, 2), "uniform_ after the same seed: the same k")
	require.NoError(t, ManualSeed(99))
	require.Equal(t, wantInts, uniformInts(t, c.f32s(c.T(Rand([]int64{4}, Float32, CPU, nil))), 0, 1), "rand(4)")
	require.NoError(t, ManualSeed(99))
	uni := c.f32s(c.T(Uniform([]int64{4}, -2, 2, Float32, CPU, nil)))
	require.Equal(t, wantInts, uniformInts(t, uni, -2, 2), "uniform_(-2, 2)")

	g, err := NewGenerator(7, CPU)
	require.NoError(t, err)
	defer g.Free()
	gen7 := c.f32s(c.T(Randn([]int64{5}, Float32, CPU, g)))
	requireNormal32(pyGen7Randn5, gen7, "randn(5, generator=Generator().manual_seed(7))")

	// In-place init from a seeded generator draws the same stream: bitwise equal to Randn's draw
	// from the same seed in this process (same kernels).
	g2, err := NewGenerator(7, CPU)
	require.NoError(t, err)
	defer g2.Free()
	x := c.T(Zeros([]int64{5}, Float32, CPU))
	require.NoError(t, x.InitNormal(0, 1, g2))
	require.Equal(t, gen7, c.f32s(x))
	// ManualSeed(99) + InitUniform == uniform_ after manual_seed(99).
	require.NoError(t, ManualSeed(99))
	u := c.T(Zeros([]int64{4}, Float32, CPU))
	require.NoError(t, u.InitUniform(-2, 2, nil))
	require.Equal(t, uni, c.f32s(u))
	require.Equal(t, wantInts, uniformInts(t, c.f32s(u), -2, 2))
}

func TestGeneratorSeeds(t *testing.T) {
	c := newTC(t)
	draw := func(seed uint64, fn func(*Generator) (*Tensor, error)) []float32 {
		g, err := NewGenerator(seed, CPU)
		require.NoError(t, err)
		defer g.Free()
		return c.f32s(c.T(fn(g)))
	}
	randn := func(g *Generator) (*Tensor, error) { return Randn([]int64{64}, Float32, CPU, g) }
	rand := func(g *Generator) (*Tensor, error) { return Rand([]int64{64}, Float32, CPU, g) }
	normal := func(g *Generator) (*Tensor, error) { return Normal([]int64{64}, 1, 2, Float32, CPU, g) }
	for name, fn := range map[string]func(*Generator) (*Tensor, error){"randn": randn, "rand": rand, "normal": normal} {
		a, b, d := draw(42, fn), draw(42, fn), draw(43, fn)
		require.Equal(t, a, b, "%s: same seed, same values", name)
		require.NotEqual(t, a, d, "%s: different seeds, different values", name)
	}
	// A generator advances: two draws from one generator differ.
	g, err := NewGenerator(42, CPU)
	require.NoError(t, err)
	defer g.Free()
	first := c.f32s(c.T(Randn([]int64{8}, Float32, CPU, g)))
	second := c.f32s(c.T(Randn([]int64{8}, Float32, CPU, g)))
	require.NotEqual(t, first, second)
	g.Free()
	g.Free() // idempotent

	// Statistics of large draws.
	g3, err := NewGenerator(5, CPU)
	require.NoError(t, err)
	defer g3.Free()
	n := 200000
	vals := c.f64s(c.T(Normal([]int64{int64(n)}, 3, 0.5, Float64, CPU, g3)))
	mean, sq := 0.0, 0.0
	for _, v := range vals {
		mean += v
	}
	mean /= float64(n)
	for _, v := range vals {
		sq += (v - mean) * (v - mean)
	}
	std := math.Sqrt(sq / float64(n))
	require.InDelta(t, 3, mean, 0.01)
	require.InDelta(t, 0.5, std, 0.01)
	uni := c.f64s(c.T(Rand([]int64{int64(n)}, Float64, CPU, g3)))
	lo, hi, um := 1.0, 0.0, 0.0
	for _, v := range uni {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
		um += v
	}
	require.GreaterOrEqual(t, lo, 0.0)
	require.Less(t, hi, 1.0)
	require.InDelta(t, 0.5, um/float64(n), 0.01)
}
