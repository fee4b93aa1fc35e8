package gpt2

import (
	"fmt"

	"github.com/hier-ai/hier/torch"
)

// TorchScriptClassifier is a sequence-classification head on a TorchScript backbone: a module
// whose forward(input_ids int64 [batch, seq], attention_mask int64 [batch, seq]) returns
// last_hidden_state [batch, seq, n_embd] (for example a torch.jit.trace of HF GPT2Model). The head
// is HF's `score` (no bias), read at each row's last non-padding token. Both the head and the
// module's parameters are trainable: Params returns the module's parameters (sharing its storage,
// so optimizer steps update the module) and score.weight.
type TorchScriptClassifier struct {
	Module     *torch.Module
	Score      *torch.Tensor // score.weight [num_labels, n_embd]
	PadTokenID int64
	params     []torch.NamedTensor
}

// NewTorchScriptClassifier loads the module at path onto d, makes its parameters trainable and
// adds a fresh head N(0, 0.02) [numLabels, nEmbd]. Errors: the file is not TorchScript, or
// numLabels < 1.
func NewTorchScriptClassifier(path string, numLabels, nEmbd int, padTokenID int64, d torch.Device, g *torch.Generator) (*TorchScriptClassifier, error) {
	if numLabels < 1 || nEmbd < 1 {
		return nil, fmt.Errorf("gpt2: torchscript classifier needs num_labels >= 1 and n_embd >= 1")
	}
	mod, err := torch.LoadModule(path, d)
	if err != nil {
		return nil, err
	}
	ps, err := mod.NamedParameters()
	if err != nil {
		mod.Free()
		return nil, err
	}
	fail := func(err error) (*TorchScriptClassifier, error) {
		for _, p := range ps {
			p.Tensor.Free()
		}
		mod.Free()
		return nil, err
	}
	for _, p := range ps {
		if err := p.Tensor.SetRequiresGrad(true); err != nil {
			return fail(err)
		}
	}
	w, err := torch.Normal([]int64{int64(numLabels), int64(nEmbd)}, 0, defaultInitializerRange, torch.Float32, d, g)
	if err == nil {
		if err = w.SetRequiresGrad(true); err != nil {
			w.Free()
		}
	}
	if err != nil {
		return fail(err)
	}
	return &TorchScriptClassifier{Module: mod, Score: w, PadTokenID: padTokenID, params: ps}, nil
}

// Params lists the module's parameters (TorchScript names, e.g. "h.0.attn.c_attn.weight") and
// "score.weight".
func (c *TorchScriptClassifier) Params() []NamedParam {
	var out []NamedParam
	for _, p := range c.params {
		out = append(out, NamedParam{Name: p.Name, Tensor: p.Tensor})
	}
	return append(out, NamedParam{Name: "score.weight", Tensor: c.Score})
}

// Train switches the module between training and eval mode.
func (c *TorchScriptClassifier) Train(on bool) error { return c.Module.Train(on) }

// Forward returns logits [batch, num_labels] and, when labels (int64 [batch]) is not nil, the
// mean cross-entropy. Tensors are owned by s.
func (c *TorchScriptClassifier) Forward(s *torch.Scope, inputIDs, attentionMask, labels *torch.Tensor) (logits, loss *torch.Tensor, err error) {
	if inputIDs == nil || attentionMask == nil {
		return nil, nil, fmt.Errorf("gpt2: torchscript classifier needs input_ids and attention_mask")
	}
	defer torch.Recover(&err)
	ids := s.Track(torch.Must(inputIDs.Share()))
	mask := s.Track(torch.Must(attentionMask.Share()))
	hidden := torch.Must(c.Module.Forward(ids, mask))
	T := inputIDs.Size(1)
	positions := s.Track(torch.Must(torch.Arange(0, float64(T), 1, torch.Int64, inputIDs.Device())))
	idx := ids.MustNeScalar(float64(c.PadTokenID)).MustToDType(torch.Int64).MustMul(positions).MustArgMax(-1, false)
	pooled := torch.Must(Pool(hidden, idx))
	logits = torch.Must(torch.Linear(pooled, c.Score, nil))
	if labels != nil {
		lab := s.Track(torch.Must(labels.Share()))
		loss = torch.Must(torch.CrossEntropy(logits, lab, nil))
	}
	return logits, loss, nil
}

// Free releases the module, its parameter handles and the head.
func (c *TorchScriptClassifier) Free() {
	for _, p := range c.params {
		p.Tensor.Free()
	}
	c.Score.Free()
	c.Module.Free()
}
