package torch

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// arange32 is a float32 tensor 0, 1, ..., n-1 with the given shape.
func (c *tc) arange32(shape ...int64) *Tensor {
	c.Helper()
	n := int64(1)
	for _, s := range shape {
		n *= s
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i)
	}
	return c.F32(v, shape...)
}

func TestViewReshape(t *testing.T) {
	c := newTC(t)
	x := c.arange32(6)
	v := c.T(x.View(2, 3))
	c.shape(v, 2, 3)
	require.Equal(t, []float32{0, 1, 2, 3, 4, 5}, c.f32s(v))
	v2 := c.T(x.View(-1, 2))
	c.shape(v2, 3, 2)

	// A view shares storage: writing through it changes x.
	require.NoError(t, v.Fill(9))
	require.Equal(t, []float32{9, 9, 9, 9, 9, 9}, c.f32s(x))

	x = c.arange32(2, 3)
	tr := c.T(x.Transpose(0, 1)) // [3,2], not contiguous
	_, err := tr.View(6)
	require.Error(t, err, "view of a non-contiguous tensor")
	var te *Error
	require.ErrorAs(t, err, &te)
	require.Equal(t, "view", te.Op)
	r := c.T(tr.Reshape(6))
	require.Equal(t, []float32{0, 3, 1, 4, 2, 5}, c.f32s(r))
	_, err = x.View(4)
	require.Error(t, err, "size mismatch")
	_, err = x.Reshape(-1, -1)
	require.Error(t, err)
}

func TestTransposePermuteContiguous(t *testing.T) {
	c := newTC(t)
	x := c.arange32(2, 3)
	tr := c.T(x.Transpose(0, 1))
	c.shape(tr, 3, 2)
	require.Equal(t, []float32{0, 3, 1, 4, 2, 5}, c.f32s(tr))
	tr2 := c.T(x.Transpose(-1, -2))
	require.Equal(t, []float32{0, 3, 1, 4, 2, 5}, c.f32s(tr2))

	y := c.arange32(2, 3, 4)
	p := c.T(y.Permute(2, 0, 1)) // p[k][i][j] = y[i][j][k] = 12i + 4j + k
	c.shape(p, 4, 2, 3)
	got := c.f32s(p)
	for k := 0; k < 4; k++ {
		for i := 0; i < 2; i++ {
			for j := 0; j < 3; j++ {
				require.Equal(t, float32(12*i+4*j+k), got[k*6+i*3+j], "p[%d][%d][%d]", k, i, j)
			}
		}
	}
	_, err := y.Permute(0, 1)
	require.Error(t, err, "wrong number of dims")
	_, err = x.Transpose(0, 2)
	require.Error(t, err, "dim out of range")

	ct := c.T(tr.Contiguous())
	vv := c.T(ct.View(6)) // a view works after Contiguous
	require.Equal(t, []float32{0, 3, 1, 4, 2, 5}, c.f32s(vv))
	// Contiguous of a contiguous tensor shares storage.
	cx := c.T(x.Contiguous())
	require.NoError(t, cx.Fill(1))
	require.Equal(t, []float32{1, 1, 1, 1, 1, 1}, c.f32s(x))
	// Clone does not.
	cl := c.T(x.Clone())
	require.NoError(t, cl.Fill(2))
	require.Equal(t, []float32{1, 1, 1, 1, 1, 1}, c.f32s(x))
}

func TestCatStack(t *testing.T) {
	c := newTC(t)
	a := c.F32([]float32{1, 2, 3, 4}, 2, 2)
	b := c.F32([]float32{5, 6}, 1, 2)
	cat0 := c.T(Cat([]*Tensor{a, b}, 0))
	c.shape(cat0, 3, 2)
	require.Equal(t, []float32{1, 2, 3, 4, 5, 6}, c.f32s(cat0))
	bt := c.T(b.Transpose(0, 1)) // [2,1]
	cat1 := c.T(Cat([]*Tensor{a, bt}, 1))
	c.shape(cat1, 2, 3)
	require.Equal(t, []float32{1, 2, 5, 3, 4, 6}, c.f32s(cat1))
	_, err := Cat([]*Tensor{a, b}, 1)
	require.Error(t, err, "sizes differ off the cat dim")
	_, err = Cat(nil, 0)
	require.Error(t, err)

	s0 := c.T(Stack([]*Tensor{a, a}, 0))
	c.shape(s0, 2, 2, 2)
	require.Equal(t, []float32{1, 2, 3, 4, 1, 2, 3, 4}, c.f32s(s0))
	s2 := c.T(Stack([]*Tensor{a, c.T(a.MulScalar(10))}, -1))
	c.shape(s2, 2, 2, 2)
	require.Equal(t, []float32{1, 10, 2, 20, 3, 30, 4, 40}, c.f32s(s2))
	_, err = Stack([]*Tensor{a, b}, 0)
	require.Error(t, err, "stack needs equal shapes")
}

func TestSplitChunk(t *testing.T) {
	c := newTC(t)
	x := c.arange32(5, 2)
	parts := c.Ts(x.Split(2, 0))
	require.Len(t, parts, 3)
	c.shape(parts[0], 2, 2)
	c.shape(parts[2], 1, 2)
	require.Equal(t, []float32{0, 1, 2, 3}, c.f32s(parts[0]))
	require.Equal(t, []float32{4, 5, 6, 7}, c.f32s(parts[1]))
	require.Equal(t, []float32{8, 9}, c.f32s(parts[2]))

	cols := c.Ts(x.Split(1, -1))
	require.Len(t, cols, 2)
	require.Equal(t, []float32{0, 2, 4, 6, 8}, c.f32s(cols[0]))
	require.Equal(t, []float32{1, 3, 5, 7, 9}, c.f32s(cols[1]))

	ch := c.Ts(x.Chunk(2, 0)) // torch.chunk(5 rows, 2) → 3 + 2
	require.Len(t, ch, 2)
	c.shape(ch[0], 3, 2)
	c.shape(ch[1], 2, 2)
	require.Equal(t, []float32{6, 7, 8, 9}, c.f32s(ch[1]))
	ch4 := c.Ts(c.arange32(6).Chunk(4, 0)) // torch.chunk(6, 4) gives 3 chunks of 2
	require.Len(t, ch4, 3)

	// Pieces are views.
	require.NoError(t, parts[1].Fill(-1))
	require.Equal(t, []float32{0, 1, 2, 3, -1, -1, -1, -1, 8, 9}, c.f32s(x))

	_, err := x.Split(0, 0)
	require.Error(t, err)
	_, err = x.Split(1, 2)
	require.Error(t, err, "dim out of range")
	_, err = x.Chunk(0, 0)
	require.Error(t, err)
}

func TestNarrowSlice(t *testing.T) {
	c := newTC(t)
	x := c.arange32(3, 4)
	n := c.T(x.Narrow(1, 1, 2))
	c.shape(n, 3, 2)
	require.Equal(t, []float32{1, 2, 5, 6, 9, 10}, c.f32s(n))
	n0 := c.T(x.Narrow(0, 2, 1))
	require.Equal(t, []float32{8, 9, 10, 11}, c.f32s(n0))
	_, err := x.Narrow(1, 3, 2)
	require.Error(t, err, "narrow past the end")

	s := c.T(x.Slice(1, 0, 4, 2)) // x[:, 0:4:2]
	c.shape(s, 3, 2)
	require.Equal(t, []float32{0, 2, 4, 6, 8, 10}, c.f32s(s))
	s2 := c.T(x.Slice(0, 1, 100, 1)) // end clamped like Python
	c.shape(s2, 2, 4)
	s3 := c.T(x.Slice(1, -2, 4, 1)) // negative start
	require.Equal(t, []float32{2, 3, 6, 7, 10, 11}, c.f32s(s3))
	_, err = x.Slice(1, 0, 4, 0)
	require.Error(t, err, "step 0")
}

func TestIndexSelectGatherIndexAdd(t *testing.T) {
	c := newTC(t)
	x := c.arange32(3, 4)
	rows := c.T(x.IndexSelect(0, c.I64([]int64{2, 0, 2})))
	c.shape(rows, 3, 4)
	require.Equal(t, []float32{8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11}, c.f32s(rows))
	cols := c.T(x.IndexSelect(1, c.I64([]int64{3, 1})))
	require.Equal(t, []float32{3, 1, 7, 5, 11, 9}, c.f32s(cols))
	_, err := x.IndexSelect(0, c.I64([]int64{3}))
	require.Error(t, err, "index out of range")
	_, err = x.IndexSelect(0, c.F32([]float32{0}))
	require.Error(t, err, "float index")

	// gather along 1: out[i][j] = x[i][idx[i][j]]
	g := c.T(x.Gather(1, c.I64([]int64{0, 3, 1, 1, 2, 0}, 3, 2)))
	c.shape(g, 3, 2)
	require.Equal(t, []float32{0, 3, 5, 5, 10, 8}, c.f32s(g))
	// gather along 0: out[i][j] = x[idx[i][j]][j]
	g0 := c.T(x.Gather(0, c.I64([]int64{2, 1, 0, 0}, 1, 4)))
	require.Equal(t, []float32{8, 5, 2, 3}, c.f32s(g0))
	_, err = x.Gather(1, c.I64([]int64{4}, 1, 1))
	require.Error(t, err, "gather index out of range")

	// index_add along 0 with a duplicate index: rows accumulate. x itself is unchanged.
	src := c.F32([]float32{1, 1, 1, 1, 10, 10, 10, 10, 100, 100, 100, 100}, 3, 4)
	ia := c.T(x.IndexAdd(0, c.I64([]int64{0, 2, 0}), src))
	require.Equal(t, []float32{101, 102, 103, 104, 4, 5, 6, 7, 18, 19, 20, 21}, c.f32s(ia))
	require.Equal(t, float32(0), c.f32s(x)[0], "IndexAdd is out of place")
	_, err = x.IndexAdd(0, c.I64([]int64{0}), src)
	require.Error(t, err, "index and source sizes differ")
}

func TestSqueezeUnsqueezeExpand(t *testing.T) {
	c := newTC(t)
	x := c.arange32(1, 3, 1)
	c.shape(c.T(x.Squeeze()), 3)
	c.shape(c.T(x.SqueezeDim(0)), 3, 1)
	c.shape(c.T(x.SqueezeDim(1)), 1, 3, 1) // size 3: unchanged, as in torch
	c.shape(c.T(x.SqueezeDim(-1)), 1, 3)
	c.shape(c.T(x.Unsqueeze(0)), 1, 1, 3, 1)
	c.shape(c.T(x.Unsqueeze(-1)), 1, 3, 1, 1)
	_, err := x.Unsqueeze(5)
	require.Error(t, err)

	v := c.F32([]float32{1, 2, 3}, 3, 1)
	e := c.T(v.Expand(3, 4))
	c.shape(e, 3, 4)
	require.Equal(t, []float32{1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3}, c.f32s(e))
	e2 := c.T(v.Expand(2, -1, 2))
	c.shape(e2, 2, 3, 2)
	require.Equal(t, []float32{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}, c.f32s(e2))
	_, err = v.Expand(4, 4)
	require.Error(t, err, "expanding a size-3 dim")
	// Expand is a view (writing through the source shows up in every copy).
	require.NoError(t, v.Fill(7))
	require.Equal(t, float32(7), c.f32s(e)[11])
}

func TestTopKSort(t *testing.T) {
	c := newTC(t)
	x := c.F32([]float32{3, 1, 4, 1, 5, 9, 2, 6}, 2, 4)
	v, i := c.T2(x.TopK(2, 1, true, true))
	c.shape(v, 2, 2)
	require.Equal(t, []float32{4, 3, 9, 6}, c.f32s(v))
	require.Equal(t, []int64{2, 0, 1, 3}, c.i64s(i))
	v, i = c.T2(x.TopK(1, 1, false, true))
	require.Equal(t, []float32{1, 2}, c.f32s(v))
	require.Equal(t, []int64{1, 2}, c.i64s(i)) // first of the tied 1s: torch returns index 1
	v, _ = c.T2(x.TopK(2, 0, true, true))      // k = the dim size: everything, sorted
	require.Equal(t, []float32{5, 9, 4, 6, 3, 1, 2, 1}, c.f32s(v))
	_, _, err := x.TopK(5, 1, true, true)
	require.Error(t, err, "k larger than the dim")

	sv, si := c.T2(x.Sort(1, false))
	require.Equal(t, []float32{1, 1, 3, 4, 2, 5, 6, 9}, c.f32s(sv))
	require.Equal(t, []int64{1, 3, 0, 2, 2, 0, 3, 1}, c.i64s(si), "stable: equal keys keep their order")
	sv, si = c.T2(x.Sort(1, true))
	require.Equal(t, []float32{4, 3, 1, 1, 9, 6, 5, 2}, c.f32s(sv))
	require.Equal(t, []int64{2, 0, 1, 3, 1, 3, 0, 2}, c.i64s(si))
	sv, _ = c.T2(x.Sort(0, false))
	require.Equal(t, []float32{3, 1, 2, 1, 5, 9, 4, 6}, c.f32s(sv))
}

func TestTriuTrilWhereMaskedFill(t *testing.T) {
	c := newTC(t)
	x := c.T(c.arange32(3, 3).AddScalar(1)) // 1..9
	require.Equal(t, []float32{1, 2, 3, 0, 5, 6, 0, 0, 9}, c.f32s(c.T(x.Triu(0))))
	require.Equal(t, []float32{0, 2, 3, 0, 0, 6, 0, 0, 0}, c.f32s(c.T(x.Triu(1))))
	require.Equal(t, []float32{1, 0, 0, 4, 5, 0, 7, 8, 9}, c.f32s(c.T(x.Tril(0))))
	require.Equal(t, []float32{0, 0, 0, 4, 0, 0, 7, 8, 0}, c.f32s(c.T(x.Tril(-1))))
	// Batched: applies to the last two dims.
	b := c.T(c.T(Ones([]int64{2, 2, 3}, Float32, CPU)).Tril(0))
	require.Equal(t, []float32{1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0}, c.f32s(b))

	mask := c.Bool([]bool{true, false, false, false, true, false, false, false, true}, 3, 3)
	mf := c.T(x.MaskedFill(mask, -1))
	require.Equal(t, []float32{-1, 2, 3, 4, -1, 6, 7, 8, -1}, c.f32s(mf))
	// Broadcast mask [3] over rows.
	rowMask := c.Bool([]bool{false, true, false})
	mf2 := c.T(x.MaskedFill(rowMask, 0))
	require.Equal(t, []float32{1, 0, 3, 4, 0, 6, 7, 0, 9}, c.f32s(mf2))

	w := c.T(Where(mask, x, c.T(x.Neg())))
	require.Equal(t, []float32{1, -2, -3, -4, 5, -6, -7, -8, 9}, c.f32s(w))
	// Causal mask via Tril + LogicalNot, as attention uses it.
	causal := c.T(c.T(c.T(Ones([]int64{3, 3}, Bool, CPU)).Tril(0)).LogicalNot())
	require.Equal(t, []bool{false, true, true, false, false, true, false, false, false}, c.bools(causal))
}
