package torch

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// mlpForward is a small MLP forward pass, returning the output bytes. Every intermediate lives
// in a scope owned by the call.
func mlpForward(x *Tensor, ps []*Tensor) ([]byte, error) {
	s := NewScope()
	defer s.Close()
	in := s.Track(Must(x.Share()))
	h, err := Linear(in, ps[0], ps[1])
	if err != nil {
		return nil, err
	}
	h, err = LayerNorm(Must(h.GeluTanh()), []int64{32}, nil, nil, 1e-5)
	if err != nil {
		return nil, err
	}
	out, err := Linear(h, ps[2], ps[3])
	if err != nil {
		return nil, err
	}
	return Must(out.LogSoftmax(-1)).Bytes()
}

// TestConcurrentForward: 32 goroutines doing independent forward passes (sharing read-only
// weights) get exactly the single-goroutine results computed first in this test: a small MLP with
// and without NoGrad, and the TorchScript backbone under NoGrad. Bitwise is right here: one
// process, one set of kernels.
func TestConcurrentForward(t *testing.T) {
	c := newTC(t)
	g, err := NewGenerator(21, CPU)
	require.NoError(t, err)
	defer g.Free()
	ps := []*Tensor{
		c.T(Randn([]int64{32, 16}, Float32, CPU, g)), c.T(Randn([]int64{32}, Float32, CPU, g)),
		c.T(Randn([]int64{5, 32}, Float32, CPU, g)), c.T(Randn([]int64{5}, Float32, CPU, g)),
	}
	for _, p := range ps {
		require.NoError(t, p.SetRequiresGrad(true))
	}
	const workers = 32
	inputs := make([]*Tensor, workers)
	want := make([][]byte, workers)
	for w := range inputs {
		inputs[w] = c.T(Randn([]int64{4, 16}, Float32, CPU, g))
		want[w], err = mlpForward(inputs[w], ps)
		require.NoError(t, err)
	}

	// The TorchScript reference is the serial output of this process, not the stored golden
	// (which another CPU's kernels reproduce only within tolerance: TestTorchScriptGolden).
	var m *Module
	var ids, mask *Tensor
	var wantTS []byte
	if fileExists(goldenPath("gpt2-tiny", "backbone.traced.pt")) {
		m = loadBackbone(t)
		ids, mask = goldenTensor(t, "input_ids"), goldenTensor(t, "attention_mask")
		out := c.T(NoGradValue(func() (*Tensor, error) { return m.Forward(ids, mask) }))
		wantTS, err = out.Bytes()
		require.NoError(t, err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 3*workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rep := 0; rep < 5; rep++ {
				got, err := mlpForward(inputs[w], ps) // grad mode on
				if err == nil && !bytes.Equal(got, want[w]) {
					err = fmt.Errorf("worker %d: MLP output differs", w)
				}
				if err == nil {
					got, err = NoGradValue(func() ([]byte, error) { return mlpForward(inputs[w], ps) })
					if err == nil && !bytes.Equal(got, want[w]) {
						err = fmt.Errorf("worker %d: MLP output under NoGrad differs", w)
					}
				}
				if err == nil && m != nil {
					var out *Tensor
					out, err = NoGradValue(func() (*Tensor, error) { return m.Forward(ids, mask) })
					if err == nil {
						var b []byte
						b, err = out.Bytes()
						out.Free()
						if err == nil && !bytes.Equal(b, wantTS) {
							err = fmt.Errorf("worker %d: TorchScript output differs", w)
						}
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
