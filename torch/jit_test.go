package torch

import (
	"archive/zip"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// loadBackbone loads ../shared/golden/gpt2-tiny/backbone.traced.pt (freed at test end).
func loadBackbone(t testing.TB) *Module {
	t.Helper()
	return loadBackboneOn(t, CPU)
}

// loadBackboneOn loads the trace onto device d.
func loadBackboneOn(t testing.TB, d Device) *Module {
	t.Helper()
	m, err := LoadModule(filepath.Join(goldenDir(t), "gpt2-tiny", "backbone.traced.pt"), d)
	require.NoError(t, err)
	t.Cleanup(m.Free)
	return m
}

// namedParams returns the module's parameters by name, tracked by the test scope.
func (c *tc) namedParams(m *Module) (map[string]*Tensor, []string) {
	c.Helper()
	ps, err := m.NamedParameters()
	require.NoError(c, err)
	byName := map[string]*Tensor{}
	var names []string
	for _, p := range ps {
		c.s.Track(p.Tensor)
		byName[p.Name] = p.Tensor
		names = append(names, p.Name)
	}
	return byName, names
}

func TestTorchScriptGolden(t *testing.T) {
	dev := testDevice(t)
	m := loadBackboneOn(t, dev)
	c := newTC(t)
	ids, mask := c.on(goldenTensor(t, "input_ids"), dev), c.on(goldenTensor(t, "attention_mask"), dev)

	require.NoError(t, m.Train(false))
	out, err := NoGradValue(func() (*Tensor, error) { return m.Forward(ids, mask) })
	require.NoError(t, err)
	c.s.Track(out)
	c.shape(out, 3, 12, 32)
	require.Equal(t, Float32, out.DType())
	require.False(t, out.RequiresGrad())
	got := f64of(c.f32s(out))
	// The stored outputs were computed on another CPU: float32 golden tolerance, not bitwise
	// (README: the trace equals the eager output bitwise only on the machine that made them).
	// All positions of the trace's own output, padded ones included: the same trace computes them.
	requireClose(t, f64of(c.f32s(goldenTensor(t, "torchscript_last_hidden_state"))), got, goldenAtol32, goldenRtol32,
		"trace output vs torchscript_last_hidden_state")
	// The trace is the eager model: vs the f64 golden at unpadded positions.
	maskv := c.i64s(mask)
	requireClose(t, maskedRows(c.f64s(goldenTensor(t, "f64.last_hidden_state")), maskv, 32), maskedRows(got, maskv, 32),
		goldenAtol32, goldenRtol32, "trace output vs f64.last_hidden_state (unpadded)")
	gotBytes, err := out.Bytes()
	require.NoError(t, err)

	// Train mode: all dropouts are 0, so the output is the same, bitwise (same process, same
	// kernels); with grad mode on, the output is part of a graph and backward reaches the parameters.
	require.NoError(t, m.Train(true))
	tr := c.T(m.Forward(ids, mask))
	require.True(t, tr.RequiresGrad())
	trb, err := tr.Bytes()
	require.NoError(t, err)
	require.Equal(t, gotBytes, trb, "train mode (dropout 0, grad on) gives the eval-mode output bitwise")
	require.NoError(t, c.T(tr.Mean()).Backward())
	params, _ := c.namedParams(m)
	g := c.T(params["ln_f.bias"].Grad())
	nonzero := 0
	for _, v := range c.f32s(g) {
		if v != 0 {
			nonzero++
		}
	}
	require.Equal(t, 32, nonzero, "every ln_f.bias element gets a gradient")
	require.NoError(t, ZeroGrad([]*Tensor{params["ln_f.bias"]}, true))
	require.NoError(t, m.Train(false))

	// Another shape (the trace is not tied to T = 12): the first 5 tokens of row 0 alone give
	// the same hidden states as in the batch (causal attention, no padding in row 0).
	ids5 := c.T(c.T(ids.Narrow(0, 0, 1)).Narrow(1, 0, 5))
	mask5 := c.T(c.T(mask.Narrow(0, 0, 1)).Narrow(1, 0, 5))
	o5 := c.T(NoGradValue(func() (*Tensor, error) { return m.Forward(ids5, mask5) }))
	c.shape(o5, 1, 5, 32)
	ref := c.f32s(c.T(c.T(out.Narrow(0, 0, 1)).Narrow(1, 0, 5)))
	requireClose(t, f64of(ref), f64of(c.f32s(o5)), 2e-6, 1e-5)

	// Wrong arguments are errors from libtorch, not crashes.
	_, err = m.Forward(ids)
	require.Error(t, err)
	_, err = m.Forward(c.T(ids.ToDType(Float32)), mask)
	require.Error(t, err)
}

func TestTorchScriptParameters(t *testing.T) {
	dir := goldenDir(t)
	m := loadBackbone(t)
	c := newTC(t)
	params, names := c.namedParams(m)
	require.Len(t, names, 28, "wte, wpe, 2 blocks × 12, ln_f × 2")
	require.Equal(t, []int64{96, 32}, params["h.0.attn.c_attn.weight"].Shape(), "nn.Linear layout")
	require.Equal(t, []int64{50257, 32}, params["wte.weight"].Shape())
	require.Equal(t, []int64{64, 32}, params["wpe.weight"].Shape())
	require.Equal(t, []int64{128, 32}, params["h.1.mlp.c_fc.weight"].Shape())
	require.Equal(t, []int64{32}, params["ln_f.bias"].Shape())
	require.True(t, params["ln_f.weight"].RequiresGrad())
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	require.Contains(t, sorted, "h.1.ln_2.weight")

	// The trace's weights are the transposes of the HF Conv1D weights in model.safetensors.
	hf, _, err := LoadSafetensors(filepath.Join(dir, "gpt2-tiny", "model.safetensors"), CPU)
	require.NoError(t, err)
	for _, x := range hf {
		c.s.Track(x)
	}
	hfT := c.T(c.T(hf["transformer.h.0.attn.c_attn.weight"].Transpose(0, 1)).Contiguous())
	require.Equal(t, c.f32s(hfT), c.f32s(params["h.0.attn.c_attn.weight"]))
	require.Equal(t, c.f32s(hf["transformer.ln_f.bias"]), c.f32s(params["ln_f.bias"]))

	// Updating a parameter in place through its handle changes the module's output.
	ids, mask := goldenTensor(t, "input_ids"), goldenTensor(t, "attention_mask")
	forward := func() []float32 {
		out, err := NoGradValue(func() (*Tensor, error) { return m.Forward(ids, mask) })
		require.NoError(t, err)
		c.s.Track(out)
		return c.f32s(out)
	}
	before := forward()
	bias := params["ln_f.bias"]
	orig := c.T(bias.Clone())
	require.NoError(t, bias.CopyFrom(c.T(orig.AddScalar(1))))
	after := forward()
	for i := range before {
		require.InDelta(t, before[i]+1, after[i], 1e-5, "ln_f.bias + 1 shifts every output by 1")
	}
	require.NoError(t, bias.CopyFrom(orig))
	require.Equal(t, before, forward(), "restoring the parameter restores the output")

	// An optimizer over NamedParameters trains the module.
	require.NoError(t, m.Train(true))
	var ps []*Tensor
	for _, n := range names {
		ps = append(ps, params[n])
	}
	opt, err := NewSGD([]ParamGroup{{Params: ps}}, SGDConfig{LR: 0.1})
	require.NoError(t, err)
	defer opt.Free()
	out := c.T(m.Forward(ids, mask))
	require.NoError(t, c.T(c.T(out.Square()).Mean()).Backward())
	require.NoError(t, opt.Step())
	require.NotEqual(t, before, forward())
}

func TestTorchScriptFreeAndTo(t *testing.T) {
	m := loadBackbone(t)
	c := newTC(t)
	require.NoError(t, m.To(CPU, -1))
	if !CUDAAvailable() {
		require.ErrorContains(t, m.To(CUDA(0), -1), "CUDA")
	}
	m.Free()
	m.Free() // idempotent
	ids := goldenTensor(t, "input_ids")
	_, err := m.Forward(ids, ids)
	require.ErrorContains(t, err, "freed")
	_, err = m.NamedParameters()
	require.ErrorContains(t, err, "freed")
	require.ErrorContains(t, m.Train(true), "freed")
	require.ErrorContains(t, m.To(CPU, -1), "freed")
	_ = c
}

// writeZip writes a zip archive holding the named (empty-content) entries.
func writeZip(t *testing.T, path string, names ...string) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	zw := zip.NewWriter(f)
	for _, n := range names {
		w, err := zw.Create(n)
		require.NoError(t, err)
		_, err = w.Write([]byte("\x80\x02}q\x00."))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())
}

func TestLoadModuleErrors(t *testing.T) {
	dir := t.TempDir()
	pickle := filepath.Join(dir, "state_dict.pt")
	writeZip(t, pickle, "archive/data.pkl", "archive/version")
	_, err := LoadModule(pickle, CPU)
	require.ErrorContains(t, err, "torch.save pickle")
	require.ErrorContains(t, err, "not a TorchScript module")

	notZip := filepath.Join(dir, "text.pt")
	require.NoError(t, os.WriteFile(notZip, []byte("hello, not a model"), 0o644))
	_, err = LoadModule(notZip, CPU)
	require.ErrorContains(t, err, "not a zip archive")

	empty := filepath.Join(dir, "empty.pt")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	_, err = LoadModule(empty, CPU)
	require.ErrorContains(t, err, "empty file")

	tiny := filepath.Join(dir, "tiny.pt")
	require.NoError(t, os.WriteFile(tiny, []byte{0x80}, 0o644))
	_, err = LoadModule(tiny, CPU)
	require.ErrorContains(t, err, "legacy")

	legacy := filepath.Join(dir, "legacy.pt")
	require.NoError(t, os.WriteFile(legacy, []byte("\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19."), 0o644))
	_, err = LoadModule(legacy, CPU)
	require.ErrorContains(t, err, "legacy")

	corrupt := filepath.Join(dir, "corrupt.pt")
	require.NoError(t, os.WriteFile(corrupt, []byte("PK\x03\x04garbage that is not a zip"), 0o644))
	_, err = LoadModule(corrupt, CPU)
	require.ErrorContains(t, err, "corrupt zip")

	other := filepath.Join(dir, "other.zip")
	writeZip(t, other, "readme.txt", "dir/file.bin")
	_, err = LoadModule(other, CPU)
	require.ErrorContains(t, err, "without data.pkl")

	// Looks like TorchScript by its entries but is not loadable: libtorch's error comes back.
	fake := filepath.Join(dir, "fake_script.pt")
	writeZip(t, fake, "archive/data.pkl", "archive/constants.pkl", "archive/code/__torch__.py")
	_, err = LoadModule(fake, CPU)
	require.Error(t, err)

	_, err = LoadModule(filepath.Join(dir, "missing.pt"), CPU)
	require.ErrorIs(t, err, os.ErrNotExist)
	if !CUDAAvailable() {
		_, err = LoadModule(pickle, CUDA(0))
		require.Error(t, err)
	}
}

func TestLoadPickleTensors(t *testing.T) {
	c := newTC(t)
	// testdata/*.pt are written by scripts/make_pickle_fixture.py (torch.save, PyTorch 1.13).
	nts, err := LoadPickleTensors(filepath.Join("testdata", "state_dict.pt"))
	require.NoError(t, err)
	got := map[string]*Tensor{}
	for _, nt := range nts {
		c.s.Track(nt.Tensor)
		got[nt.Name] = nt.Tensor
	}
	require.Len(t, got, 3)
	w := got["layer.weight"]
	require.NotNil(t, w)
	c.shape(w, 2, 3)
	require.Equal(t, []float32{0, 1, 2, 3, 4, 5}, c.f32s(w))
	require.Equal(t, []float64{0.5, -0.25}, c.f64s(got["layer.bias"]))
	require.Equal(t, []int64{7}, c.i64s(got["step"]))

	_, err = LoadPickleTensors(filepath.Join("testdata", "not_tensors.pt"))
	require.ErrorContains(t, err, "not a tensor")
	// A one-entry dict is pickled with SETITEM, which libtorch 1.13's unpickler rejects; a newer
	// libtorch may read it. Either way: a clean error or the right tensor, never a crash.
	single, err := LoadPickleTensors(filepath.Join("testdata", "single.pt"))
	if err != nil {
		t.Logf("single-entry state dict: %v", err)
	} else {
		require.Len(t, single, 1)
		c.s.Track(single[0].Tensor)
		require.Equal(t, "w", single[0].Name)
		require.Equal(t, []float32{1, 2}, c.f32s(single[0].Tensor))
	}
	_, err = LoadPickleTensors(filepath.Join("testdata", "list.pt"))
	require.ErrorContains(t, err, "dict")
	_, err = LoadPickleTensors(filepath.Join(t.TempDir(), "missing.pt"))
	require.Error(t, err)

	// A TorchScript file is reported as such.
	if script := goldenPath("gpt2-tiny", "backbone.traced.pt"); fileExists(script) {
		_, err = LoadPickleTensors(script)
		require.ErrorContains(t, err, "TorchScript module")
	}
}
