package torch

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSafetensorsRoundTrip(t *testing.T) {
	c := newTC(t)
	src := c.F32([]float32{1.5, -2.25, 3, 0.5, 1e-3, -7}, 2, 3)
	ts := map[string]*Tensor{
		"f32":       src,
		"f64":       c.F64([]float64{1.0 / 3, -2e-300, 1e300}, 3),
		"i64":       c.I64([]int64{-1 << 62, 0, 1<<62 + 5}, 3),
		"i32":       c.T(FromSlice([]int32{-7, 1 << 30}, 2, 1)),
		"i16":       c.T(c.I64([]int64{-300, 300}).ToDType(Int16)),
		"i8":        c.T(c.I64([]int64{-128, 127}).ToDType(Int8)),
		"u8":        c.T(FromSlice([]uint8{0, 200, 255}, 3)),
		"bool":      c.Bool([]bool{true, false, true, true}, 2, 2),
		"f16":       c.T(src.ToDType(Float16)),
		"bf16":      c.T(src.ToDType(BFloat16)),
		"scalar":    c.T(Scalar(2.5)),                              // shape []
		"one":       c.F32([]float32{4}, 1),                        // shape [1]
		"empty":     c.F32(nil, 0, 3),                              // no data
		"strided.T": c.T(src.Transpose(0, 1)),                      // written contiguous
		"nested/ok": c.T(Full([]int64{2, 2, 2}, -1, Float64, CPU)), // any name
	}
	meta := map[string]string{"format": "pt", "note": "round trip"}
	dir := t.TempDir()
	path := filepath.Join(dir, "all.safetensors")
	require.NoError(t, SaveSafetensors(path, ts, meta))
	// Atomic write: no temporary files left behind.
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)

	got, gotMeta, err := LoadSafetensors(path, CPU)
	require.NoError(t, err)
	for _, x := range got {
		c.s.Track(x)
	}
	require.Equal(t, meta, gotMeta)
	require.Len(t, got, len(ts))
	for name, want := range ts {
		g := got[name]
		require.NotNil(t, g, name)
		require.Equal(t, want.DType(), g.DType(), name)
		require.Equal(t, want.Shape(), g.Shape(), name)
		wb, err := want.Bytes()
		require.NoError(t, err)
		gb, err := g.Bytes()
		require.NoError(t, err)
		require.Equal(t, wb, gb, "%s: bytes", name)
	}
	require.Equal(t, []int64{}, got["scalar"].Shape())
	require.Equal(t, []int64{1}, got["one"].Shape())
	require.Equal(t, []float32{1.5, 0.5, -2.25, 1e-3, 3, -7}, c.f32s(got["strided.T"]))
	require.Equal(t, []float32{1.5, -2.25, 3, 0.5, 0.0010004044, -7}, c.f32s(c.T(got["f16"].ToDType(Float32))))
	bf := c.f32s(c.T(got["bf16"].ToDType(Float32)))
	require.Equal(t, []float32{1.5, -2.25, 3, 0.5}, bf[:4])
	require.Equal(t, float32(-7), bf[5])

	hs, hmeta, err := ReadSafetensorsHeader(path)
	require.NoError(t, err)
	require.Equal(t, meta, hmeta)
	require.Len(t, hs, len(ts))
	for i := 1; i < len(hs); i++ {
		require.Less(t, hs[i-1].Name, hs[i].Name, "sorted by name")
	}
	for _, h := range hs {
		require.Equal(t, ts[h.Name].DType(), h.DType, h.Name)
		require.Equal(t, ts[h.Name].Shape(), h.Shape, h.Name)
	}

	// Overwriting is atomic too, and a failed save leaves the old file in place.
	freed := c.F32([]float32{1})
	freed.Free()
	err = SaveSafetensors(path, map[string]*Tensor{"x": freed}, nil)
	require.ErrorIs(t, err, ErrFreed)
	again, _, err := LoadSafetensors(path, CPU)
	require.NoError(t, err, "the previous file is intact")
	require.Len(t, again, len(ts))
	for _, x := range again {
		x.Free()
	}
	_, _, err = ReadSafetensorsHeader(path)
	require.NoError(t, err)
	entries, err = os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file left after a failed save")
	// Saving into a missing directory is an error.
	require.Error(t, SaveSafetensors(filepath.Join(dir, "no", "such", "dir.safetensors"), ts, nil))
}

// stFileBytes builds a safetensors file: u64 little-endian header length, header, data.
func stFileBytes(headerLen uint64, header string, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, headerLen)
	b = append(b, header...)
	return append(b, data...)
}

func TestSafetensorsCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	c := newTC(t)
	good := filepath.Join(dir, "good.safetensors")
	require.NoError(t, SaveSafetensors(good, map[string]*Tensor{"a": c.F32([]float32{1, 2, 3, 4}), "b": c.I64([]int64{5, 6})}, nil))
	goodBytes, err := os.ReadFile(good)
	require.NoError(t, err)

	hdr := func(s string) []byte { return stFileBytes(uint64(len(s)), s, nil) }
	withData := func(s string, data []byte) []byte { return stFileBytes(uint64(len(s)), s, data) }
	cases := []struct {
		name    string
		content []byte
		want    string // a fragment of the error message ("" accepts any error)
	}{
		{"empty file", nil, "header too small"},
		{"shorter than the length prefix", []byte{1, 2, 3}, "header too small"},
		{"truncated data", goodBytes[:len(goodBytes)-5], ""},
		{"truncated header", goodBytes[:20], "header length"},
		{"header length larger than file", stFileBytes(1000, `{}`, nil), "header length"},
		{"huge header length", stFileBytes(1<<60, `{}`, nil), "header too large"},
		{"max u64 header length", stFileBytes(^uint64(0), `{}`, nil), "header too large"},
		{"header not JSON", hdr(`{"a": nope}`), "header"},
		{"offsets out of range", withData(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 4)), ""},
		{"offsets beyond a huge range", withData(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[18446744073709551608,18446744073709551615]}}`, make([]byte, 8)), "offset"},
		{"overlapping offsets", withData(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)), "offset"},
		{"gap between tensors", withData(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, make([]byte, 12)), "offset"},
		{"end before begin", withData(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}`, make([]byte, 4)), "offset"},
		{"unknown dtype", withData(`{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}`, make([]byte, 16)), "F128"},
		{"dtype without a torch equivalent", withData(`{"a":{"dtype":"U16","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)), "unsupported dtype"},
		{"shape product does not match byte length", withData(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8)), "mismatch"},
		{"shape product overflows", withData(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}}`, make([]byte, 8)), ""},
		{"negative dimension", withData(`{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, make([]byte, 8)), ""},
		{"missing data_offsets", withData(`{"a":{"dtype":"F32","shape":[2]}}`, make([]byte, 8)), ""},
		{"metadata value not a string", hdr(`{"__metadata__":{"k":1}}`), "__metadata__"},
	}
	for _, tcase := range cases {
		t.Run(tcase.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tcase.name, " ", "_")+".safetensors")
			require.NoError(t, os.WriteFile(p, tcase.content, 0o644))
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			ts, _, err := LoadSafetensors(p, CPU)
			runtime.ReadMemStats(&after)
			require.Error(t, err)
			require.Nil(t, ts)
			require.Contains(t, err.Error(), p, "the error names the file")
			if tcase.want != "" {
				require.Contains(t, err.Error(), tcase.want)
			}
			require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "no large allocation for a corrupt file")
			_, _, err = ReadSafetensorsHeader(p)
			require.Error(t, err)
		})
	}

	// A failure on a later tensor frees the ones already created.
	live := LiveTensors()
	p := filepath.Join(dir, "partly_bad.safetensors")
	require.NoError(t, os.WriteFile(p, withData(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"z":{"dtype":"U16","shape":[2],"data_offsets":[4,8]}}`, make([]byte, 8)), 0o644))
	_, _, err = LoadSafetensors(p, CPU)
	require.ErrorContains(t, err, `"z"`)
	require.Equal(t, live, LiveTensors())

	// Missing file and a directory.
	_, _, err = LoadSafetensors(filepath.Join(dir, "missing.safetensors"), CPU)
	require.Error(t, err)
	require.True(t, errors.Is(err, os.ErrNotExist))
	_, _, err = ReadSafetensorsHeader(filepath.Join(dir, "missing.safetensors"))
	require.True(t, errors.Is(err, os.ErrNotExist))
	_, _, err = LoadSafetensors(dir, CPU)
	require.ErrorContains(t, err, "directory")

	// A minimal valid hand-written file (header padded with spaces, as the writer does).
	okp := filepath.Join(dir, "hand.safetensors")
	require.NoError(t, os.WriteFile(okp, withData(`{"a":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}   `, []byte{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}), 0o644))
	ts, _, err := LoadSafetensors(okp, CPU)
	require.NoError(t, err)
	c.s.Track(ts["a"])
	v, err := ToSlice[int32](ts["a"])
	require.NoError(t, err)
	require.Equal(t, []int32{1, -1}, v)
}

// TestGoldenSafetensors loads ../shared/golden/golden.safetensors and checks it against the
// readable summary golden.json.
func TestGoldenSafetensors(t *testing.T) {
	dir := goldenDir(t)
	c := newTC(t)
	raw, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	require.NoError(t, err)
	var gj struct {
		Inputs struct {
			InputIDs      [][]int64 `json:"input_ids"`
			AttentionMask [][]int64 `json:"attention_mask"`
			Labels        []int64   `json:"labels"`
		} `json:"inputs"`
		ScalarsF64   map[string]float64   `json:"scalars_f64"`
		ScalarsF32   map[string]float64   `json:"scalars_f32"`
		CLSLogitsF64 [][]float64          `json:"cls_logits_f64"`
		Leading      map[string][]float64 `json:"leading_values_f64"`
		Tensors      map[string]struct {
			DType string  `json:"dtype"`
			Shape []int64 `json:"shape"`
		} `json:"tensors"`
	}
	require.NoError(t, json.Unmarshal(raw, &gj))

	hs, meta, err := ReadSafetensorsHeader(filepath.Join(dir, "golden.safetensors"))
	require.NoError(t, err)
	require.Equal(t, "pt", meta["format"])
	require.Len(t, hs, 54)
	require.Len(t, gj.Tensors, 54)
	stNames := map[string]DType{"F32": Float32, "F64": Float64, "I64": Int64}
	for _, h := range hs {
		want, ok := gj.Tensors[h.Name]
		require.True(t, ok, h.Name)
		require.Equal(t, stNames[want.DType], h.DType, h.Name)
		require.Equal(t, want.Shape, h.Shape, h.Name)
	}

	ids := goldenTensor(t, "input_ids")
	c.shape(ids, 3, 12)
	var flat []int64
	for _, row := range gj.Inputs.InputIDs {
		flat = append(flat, row...)
	}
	require.Equal(t, flat, c.i64s(ids))
	require.Equal(t, []int64{40501, 6151, 262, 21751, 290, 262, 13483, 45501, 11, 4988, 35589, 0}, flat[:12])
	require.Equal(t, gj.Inputs.Labels, c.i64s(goldenTensor(t, "labels")))

	// Scalars: stored with shape [1]; exact against golden.json's repr() values.
	clsLoss := goldenTensor(t, "f64.cls_loss")
	c.shape(clsLoss, 1)
	require.Equal(t, 1.0609510001362377, c.item(clsLoss))
	require.Equal(t, gj.ScalarsF64["cls_loss"], c.item(clsLoss))
	require.Equal(t, gj.ScalarsF64["mse_loss"], c.item(goldenTensor(t, "f64.mse_loss")))
	require.Equal(t, gj.ScalarsF64["grad_global_norm"], c.item(goldenTensor(t, "f64.grad_global_norm")))
	require.Equal(t, gj.ScalarsF32["cls_loss"], c.item(goldenTensor(t, "f32.cls_loss")))

	var logits []float64
	for _, row := range gj.CLSLogitsF64 {
		logits = append(logits, row...)
	}
	require.Equal(t, logits, c.f64s(goldenTensor(t, "f64.cls_logits")))
	lead := c.f64s(goldenTensor(t, "f64.last_hidden_state"))
	requireClose(t, gj.Leading["last_hidden_state"], lead[:len(gj.Leading["last_hidden_state"])], 0, 1e-9, "leading values (printed with 10 digits)")

	// Consistency: cross-entropy of the golden logits against the labels is the golden loss.
	ce := c.T(CrossEntropy(goldenTensor(t, "f64.cls_logits"), goldenTensor(t, "labels"), nil))
	// 1e-14 (~45 ulp), like the MSE below: log-softmax and the mean are reductions whose order and
	// fused multiply-adds follow the CPU's kernels, so a few ulp apart from torch's value.
	require.InDelta(t, 1.0609510001362377, c.item(ce), 1e-14)
	// And the MSE of the regression head.
	reg := c.T(goldenTensor(t, "f64.regression_logits").SqueezeDim(-1))
	mse := c.T(MSELoss(reg, c.T(goldenTensor(t, "regression_targets").ToDType(Float64)), ReduceMean))
	require.InDelta(t, gj.ScalarsF64["mse_loss"], c.item(mse), 1e-14)
}
