// Package gpt2 is GPT-2 with Hugging Face semantics on the project's libtorch bindings: the
// backbone (GPT2Model), the tied LM head (GPT2LMHeadModel), and the sequence-classification /
// regression head (GPT2ForSequenceClassification), with HF checkpoint loading and saving and the
// GPT-2 byte-level BPE tokenizer.
//
// The forward pass follows HF transformers' models/gpt2/modeling_gpt2.py (eager attention):
//
//	h = wte[input_ids] + wpe[position_ids]                  embeddings, dropout(embd_pdrop)
//	    position_ids = cumsum(attention_mask) - 1 at real tokens (0..T-1 without a mask or
//	    with right padding; left padding starts each row's real tokens at position 0)
//	for each block:                                          pre-LayerNorm residual blocks
//	    a = c_attn(ln_1(h)) → q, k, v ([B, H, T, D] each, heads are contiguous D-wide slices)
//	    w = softmax(q·kᵀ/sqrt(D) + mask) with mask = finfo.min where key j > query i (causal)
//	        or attention_mask[j] == 0 (key padding); dropout(attn_pdrop)
//	        (/(layer+1) too with scale_attn_by_inverse_layer_idx; with reorder_and_upcast_attn
//	        a float16/bfloat16 model computes q·kᵀ, the mask and the softmax in float32)
//	    h = h + dropout(c_proj(w·v))                         resid_pdrop
//	    h = h + dropout(c_proj(act(c_fc(ln_2(h)))))          act = gelu_new (tanh GELU) by default
//	last_hidden_state = ln_f(h)
//
// Conv1D weights are stored as HF stores them, [in, out], and applied as x·W + b (torch.addmm).
package gpt2

import (
	"fmt"
	"math"

	"github.com/hier-ai/hier/torch"
)

// Block is one transformer block's parameters, named as in HF (h.{i}.*).
type Block struct {
	Ln1W, Ln1B           *torch.Tensor // ln_1.weight, ln_1.bias [n_embd]
	AttnW, AttnB         *torch.Tensor // attn.c_attn.weight [n_embd, 3·n_embd], .bias [3·n_embd]
	AttnProjW, AttnProjB *torch.Tensor // attn.c_proj.weight [n_embd, n_embd], .bias [n_embd]
	Ln2W, Ln2B           *torch.Tensor // ln_2.weight, ln_2.bias [n_embd]
	FcW, FcB             *torch.Tensor // mlp.c_fc.weight [n_embd, inner], .bias [inner]
	ProjW, ProjB         *torch.Tensor // mlp.c_proj.weight [inner, n_embd], .bias [n_embd]
}

// Model is the GPT-2 backbone (HF GPT2Model). Its parameters are leaf tensors owned by the model
// (Free releases them). Forward is safe from many goroutines in eval mode.
type Model struct {
	Config *Config
	WTE    *torch.Tensor // wte.weight [vocab_size, n_embd]; also the tied LM head
	WPE    *torch.Tensor // wpe.weight [n_positions, n_embd]
	Blocks []*Block
	LnFW   *torch.Tensor // ln_f.weight [n_embd]
	LnFB   *torch.Tensor // ln_f.bias [n_embd]

	train bool
}

// NamedParam is a parameter with its HF name (without the "transformer." prefix for the backbone).
type NamedParam struct {
	Name   string
	Tensor *torch.Tensor
}

// Params lists the backbone parameters in HF state_dict order.
func (m *Model) Params() []NamedParam {
	ps := []NamedParam{{"wte.weight", m.WTE}, {"wpe.weight", m.WPE}}
	for i, b := range m.Blocks {
		p := fmt.Sprintf("h.%d.", i)
		ps = append(ps,
			NamedParam{p + "ln_1.weight", b.Ln1W}, NamedParam{p + "ln_1.bias", b.Ln1B},
			NamedParam{p + "attn.c_attn.weight", b.AttnW}, NamedParam{p + "attn.c_attn.bias", b.AttnB},
			NamedParam{p + "attn.c_proj.weight", b.AttnProjW}, NamedParam{p + "attn.c_proj.bias", b.AttnProjB},
			NamedParam{p + "ln_2.weight", b.Ln2W}, NamedParam{p + "ln_2.bias", b.Ln2B},
			NamedParam{p + "mlp.c_fc.weight", b.FcW}, NamedParam{p + "mlp.c_fc.bias", b.FcB},
			NamedParam{p + "mlp.c_proj.weight", b.ProjW}, NamedParam{p + "mlp.c_proj.bias", b.ProjB})
	}
	return append(ps, NamedParam{"ln_f.weight", m.LnFW}, NamedParam{"ln_f.bias", m.LnFB})
}

// paramShapes maps every backbone parameter name to its expected shape.
func paramShapes(c *Config) map[string][]int64 {
	e, in := int64(c.NEmbd), int64(c.Inner())
	s := map[string][]int64{
		"wte.weight": {int64(c.VocabSize), e}, "wpe.weight": {int64(c.NPositions), e},
		"ln_f.weight": {e}, "ln_f.bias": {e},
	}
	for i := 0; i < c.NLayer; i++ {
		p := fmt.Sprintf("h.%d.", i)
		s[p+"ln_1.weight"], s[p+"ln_1.bias"] = []int64{e}, []int64{e}
		s[p+"attn.c_attn.weight"], s[p+"attn.c_attn.bias"] = []int64{e, 3 * e}, []int64{3 * e}
		s[p+"attn.c_proj.weight"], s[p+"attn.c_proj.bias"] = []int64{e, e}, []int64{e}
		s[p+"ln_2.weight"], s[p+"ln_2.bias"] = []int64{e}, []int64{e}
		s[p+"mlp.c_fc.weight"], s[p+"mlp.c_fc.bias"] = []int64{e, in}, []int64{in}
		s[p+"mlp.c_proj.weight"], s[p+"mlp.c_proj.bias"] = []int64{in, e}, []int64{e}
	}
	return s
}

// NewModel allocates a backbone with HF's GPT-2 initialisation (GPT2PreTrainedModel._init_weights):
// weights N(0, initializer_range), c_proj weights N(0, initializer_range/sqrt(2·n_layer)), biases
// 0, LayerNorm (1, 0). dtype is Float32 or Float64; randomness comes from g (nil: global seed).
func NewModel(c *Config, dt torch.DType, d torch.Device, g *torch.Generator) (m *Model, err error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	defer torch.Recover(&err)
	std := c.InitializerRange
	if std <= 0 {
		std = defaultInitializerRange
	}
	projStd := std / math.Sqrt(2*float64(c.NLayer))
	shapes := paramShapes(c)
	m = &Model{Config: c}
	mk := func(name string, kind string) *torch.Tensor {
		s := shapes[name]
		var t *torch.Tensor
		switch kind {
		case "normal":
			t = torch.Must(torch.Normal(s, 0, std, dt, d, g))
		case "proj":
			t = torch.Must(torch.Normal(s, 0, projStd, dt, d, g))
		case "ones":
			t = torch.Must(torch.Ones(s, dt, d))
		default:
			t = torch.Must(torch.Zeros(s, dt, d))
		}
		return t
	}
	defer func() {
		if err != nil {
			m.Free()
			m = nil
		}
	}()
	m.WTE = mk("wte.weight", "normal")
	m.WPE = mk("wpe.weight", "normal")
	for i := 0; i < c.NLayer; i++ {
		p := fmt.Sprintf("h.%d.", i)
		m.Blocks = append(m.Blocks, &Block{
			Ln1W: mk(p+"ln_1.weight", "ones"), Ln1B: mk(p+"ln_1.bias", "zeros"),
			AttnW: mk(p+"attn.c_attn.weight", "normal"), AttnB: mk(p+"attn.c_attn.bias", "zeros"),
			AttnProjW: mk(p+"attn.c_proj.weight", "proj"), AttnProjB: mk(p+"attn.c_proj.bias", "zeros"),
			Ln2W: mk(p+"ln_2.weight", "ones"), Ln2B: mk(p+"ln_2.bias", "zeros"),
			FcW: mk(p+"mlp.c_fc.weight", "normal"), FcB: mk(p+"mlp.c_fc.bias", "zeros"),
			ProjW: mk(p+"mlp.c_proj.weight", "proj"), ProjB: mk(p+"mlp.c_proj.bias", "zeros"),
		})
	}
	m.LnFW = mk("ln_f.weight", "ones")
	m.LnFB = mk("ln_f.bias", "zeros")
	if err := m.SetRequiresGrad(true); err != nil {
		return nil, err
	}
	return m, nil
}

// SetRequiresGrad turns gradient recording on or off for every parameter.
func (m *Model) SetRequiresGrad(on bool) error {
	for _, p := range m.Params() {
		if err := p.Tensor.SetRequiresGrad(on); err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
	}
	return nil
}

// Train selects training mode (dropout active) or eval mode.
func (m *Model) Train(on bool) { m.train = on }

// Training reports whether the model is in training mode.
func (m *Model) Training() bool { return m.train }

// Free releases every parameter. The model must not be used afterwards.
func (m *Model) Free() {
	if m == nil {
		return
	}
	for _, p := range m.Params() {
		p.Tensor.Free()
	}
}

// DType is the parameters' dtype.
func (m *Model) DType() torch.DType { return m.WTE.DType() }

// Device is where the parameters live.
func (m *Model) Device() torch.Device { return m.WTE.Device() }

// minValue is torch.finfo(dtype).min, the value HF uses for masked attention scores.
func minValue(dt torch.DType) float64 {
	switch dt {
	case torch.Float64:
		return -math.MaxFloat64
	case torch.Float16:
		return -65504
	case torch.BFloat16:
		return -3.3895313892515355e38
	}
	return -math.MaxFloat32
}

// AttentionBias builds the additive attention mask [batch, 1, seq, seq]: 0 where query i may
// attend to key j (j <= i and attention_mask[b, j] == 1), finfo(dtype).min elsewhere. A nil
// attentionMask means every token is real. The result is owned by s.
func AttentionBias(s *torch.Scope, attentionMask *torch.Tensor, batch, seq int64, dt torch.DType, d torch.Device) *torch.Tensor {
	ones := s.Track(torch.Must(torch.Ones([]int64{seq, seq}, torch.Bool, d)))
	allowed := ones.MustTril(0).MustView(1, 1, seq, seq) // causal
	if attentionMask != nil {
		keys := attentionMask.MustNeScalar(0).MustView(batch, 1, 1, seq)
		allowed = allowed.MustLogicalAnd(keys) // [B, 1, T, T]
	} else {
		allowed = allowed.MustExpand(batch, 1, seq, seq)
	}
	zeros := s.Track(torch.Must(torch.Zeros([]int64{batch, 1, seq, seq}, dt, d)))
	return zeros.MustMaskedFill(allowed.MustLogicalNot(), minValue(dt))
}

// conv1d is HF's Conv1D: x [..., in] · w [in, out] + b [out] → [..., out].
func conv1d(x, w, b *torch.Tensor) *torch.Tensor {
	shape := x.Shape()
	in := shape[len(shape)-1]
	out := w.Size(1)
	y := torch.MustAddMM(b, x.MustView(-1, in), w, 1, 1)
	shape[len(shape)-1] = out
	return y.MustView(shape...)
}

func (m *Model) activation(x *torch.Tensor) *torch.Tensor {
	switch m.Config.ActivationFunction {
	case "gelu":
		return x.MustGelu()
	case "relu":
		return x.MustRelu()
	default: // gelu_new, gelu_pytorch_tanh: 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³)))
		return x.MustGeluTanh()
	}
}

// attention is the causal self-attention of one block on x [B, T, C] (already ln_1-normalised).
func (m *Model) attention(b *Block, layer int, x, bias *torch.Tensor) *torch.Tensor {
	c := m.Config
	shape := x.Shape()
	B, T, C := shape[0], shape[1], shape[2]
	H, D := int64(c.NHead), int64(c.HeadDim())
	qkv := conv1d(x, b.AttnW, b.AttnB) // [B, T, 3C] = [q | k | v]
	parts := torch.Must(qkv.Split(C, 2))
	heads := func(t *torch.Tensor) *torch.Tensor { // [B, T, C] → [B, H, T, D]
		return t.MustView(B, T, H, D).MustPermute(0, 2, 1, 3)
	}
	q, k, v := heads(parts[0]), heads(parts[1]), heads(parts[2])
	scale := 1.0
	if c.ScaleAttn() {
		scale /= math.Sqrt(float64(D))
	}
	if c.ScaleAttnByInverseLayer {
		scale /= float64(layer + 1)
	}
	// reorder_and_upcast_attn (HF _upcast_and_reordered_attn): scores and softmax in float32,
	// the weights cast back to v's dtype before dropout and w·v. A no-op for float32/float64.
	upcast := m.upcastAttn()
	if upcast {
		q, k = q.MustToDType(torch.Float32), k.MustToDType(torch.Float32)
	}
	// q·kᵀ·scale + bias; scaling q (B·H·T·D values) is cheaper than scaling the scores (B·H·T·T).
	if scale != 1 {
		q = q.MustMulScalar(scale)
	}
	w := q.MustMatMul(k.MustTranspose(-1, -2)).MustAdd(bias) // [B, H, T, T]
	w = w.MustSoftmax(-1)
	if upcast {
		w = w.MustToDType(v.DType())
	}
	w = w.MustDropout(c.AttnPdrop, m.train)
	o := w.MustMatMul(v)                                             // [B, H, T, D]
	o = o.MustPermute(0, 2, 1, 3).MustContiguous().MustView(B, T, C) // merge heads
	return conv1d(o, b.AttnProjW, b.AttnProjB).MustDropout(c.ResidPdrop, m.train)
}

func (m *Model) mlp(b *Block, x *torch.Tensor) *torch.Tensor {
	h := m.activation(conv1d(x, b.FcW, b.FcB))
	return conv1d(h, b.ProjW, b.ProjB).MustDropout(m.Config.ResidPdrop, m.train)
}

func (m *Model) layerNorm(x, w, b *torch.Tensor) *torch.Tensor {
	return torch.Must(torch.LayerNorm(x, []int64{int64(m.Config.NEmbd)}, w, b, m.Config.LayerNormEpsilon))
}

// checkInputs validates input_ids [batch, seq] (int64, ids in the vocabulary, seq <= n_positions)
// and attention_mask (same shape) and returns batch and seq.
func (m *Model) checkInputs(inputIDs, attentionMask *torch.Tensor) (int64, int64, error) {
	info, err := inputIDs.Info()
	if err != nil {
		return 0, 0, fmt.Errorf("gpt2: input_ids: %w", err)
	}
	if info.DType != torch.Int64 {
		return 0, 0, fmt.Errorf("gpt2: input_ids must be int64, got %s", info.DType)
	}
	if len(info.Shape) != 2 {
		return 0, 0, fmt.Errorf("gpt2: input_ids must be [batch, seq], got shape %v", info.Shape)
	}
	B, T := info.Shape[0], info.Shape[1]
	if T > int64(m.Config.NPositions) {
		return 0, 0, fmt.Errorf("gpt2: sequence length %d exceeds n_positions %d (truncate the input)", T, m.Config.NPositions)
	}
	if B == 0 || T == 0 {
		return 0, 0, fmt.Errorf("gpt2: empty input_ids shape %v", info.Shape)
	}
	if attentionMask != nil {
		mi, err := attentionMask.Info()
		if err != nil {
			return 0, 0, fmt.Errorf("gpt2: attention_mask: %w", err)
		}
		if len(mi.Shape) != 2 || mi.Shape[0] != B || mi.Shape[1] != T {
			return 0, 0, fmt.Errorf("gpt2: attention_mask shape %v does not match input_ids shape %v", mi.Shape, info.Shape)
		}
	}
	return B, T, nil
}

// Forward runs the backbone. input_ids is int64 [batch, seq]; attention_mask is [batch, seq], 1
// for real tokens and 0 for padding (nil: all real). Padding may be on the right or on the left:
// Forward takes no position_ids but computes them from attention_mask as HF's generation path
// does (PositionIDs: cumsum(attention_mask) - 1), so each row's real tokens are at positions
// 0, 1, … wherever its padding is, and their hidden states are those of the unpadded row (up to
// float rounding). (HF's GPT2Model.forward without position_ids uses 0..seq-1 even for left
// padding, which shifts those rows.) Without a mask, or with right padding, the positions are
// 0..seq-1, bit for bit the computation of earlier versions. It returns last_hidden_state
// [batch, seq, n_embd] in the model's dtype; the values at padded positions mean nothing. Every
// intermediate and the result are owned by s (the caller Keeps the result or closes s after
// backward). Errors: wrong dtype or shape, sequence longer than n_positions, an id outside the
// vocabulary.
//
// Forward is the token-embedding lookup wte[input_ids] followed by ForwardEmbeds.
func (m *Model) Forward(s *torch.Scope, inputIDs, attentionMask *torch.Tensor) (out *torch.Tensor, err error) {
	B, T, err := m.checkInputs(inputIDs, attentionMask)
	if err != nil {
		return nil, err
	}
	defer torch.Recover(&err)
	// Scoped second handles, so that everything computed from the inputs belongs to s.
	ids := s.Track(torch.Must(inputIDs.Share()))
	tok, err := torch.Embedding(m.WTE, ids, -1)
	if err != nil {
		return nil, fmt.Errorf("gpt2: %w", err)
	}
	return m.forwardEmbeds(s, tok, attentionMask, B, T), nil
}

// ForwardEmbeds runs the backbone on token embeddings instead of token ids, like HF
// GPT2Model.forward(inputs_embeds=...): inputs_embeds is [batch, seq, n_embd] in the model's
// dtype and on its device; it takes the place of wte[input_ids], so the learned positions
// wpe[position_ids] are added to it, then embedding dropout, the blocks and ln_f are applied
// exactly as in Forward (Forward(ids) is ForwardEmbeds(wte[ids])). attention_mask is
// [batch, seq], 1 for real positions and 0 for padding, right or left (nil: all real); the
// position ids come from it as in Forward (PositionIDs). It returns last_hidden_state
// [batch, seq, n_embd] in the model's dtype, owned by s with every intermediate. The result is
// differentiable with respect to inputs_embeds when it requires grad (e.g. item embeddings of a
// sequential recommender). Errors: inputs_embeds not 3-D, an empty batch or sequence, a last
// dimension other than n_embd, a dtype other than the model's, another device, seq longer than
// n_positions, an attention_mask of another shape.
func (m *Model) ForwardEmbeds(s *torch.Scope, inputsEmbeds, attentionMask *torch.Tensor) (out *torch.Tensor, err error) {
	B, T, err := m.checkEmbeds(inputsEmbeds, attentionMask)
	if err != nil {
		return nil, err
	}
	defer torch.Recover(&err)
	x := s.Track(torch.Must(inputsEmbeds.Share()))
	return m.forwardEmbeds(s, x, attentionMask, B, T), nil
}

// checkEmbeds validates inputs_embeds [batch, seq, n_embd] (the model's dtype and device,
// seq <= n_positions) and attention_mask ([batch, seq] or nil) and returns batch and seq.
func (m *Model) checkEmbeds(inputsEmbeds, attentionMask *torch.Tensor) (int64, int64, error) {
	info, err := inputsEmbeds.Info()
	if err != nil {
		return 0, 0, fmt.Errorf("gpt2: inputs_embeds: %w", err)
	}
	if len(info.Shape) != 3 {
		return 0, 0, fmt.Errorf("gpt2: inputs_embeds must be [batch, seq, n_embd], got shape %v", info.Shape)
	}
	B, T, C := info.Shape[0], info.Shape[1], info.Shape[2]
	if B == 0 || T == 0 {
		return 0, 0, fmt.Errorf("gpt2: empty inputs_embeds shape %v", info.Shape)
	}
	if C != int64(m.Config.NEmbd) {
		return 0, 0, fmt.Errorf("gpt2: inputs_embeds last dimension is %d, the model's n_embd is %d (shape %v)", C, m.Config.NEmbd, info.Shape)
	}
	if dt := m.DType(); info.DType != dt {
		return 0, 0, fmt.Errorf("gpt2: inputs_embeds dtype %s does not match the model's %s", info.DType, dt)
	}
	if dev := m.Device(); info.Device != dev {
		return 0, 0, fmt.Errorf("gpt2: inputs_embeds is on %s, the model on %s", info.Device, dev)
	}
	if T > int64(m.Config.NPositions) {
		return 0, 0, fmt.Errorf("gpt2: sequence length %d exceeds n_positions %d (truncate the input)", T, m.Config.NPositions)
	}
	if attentionMask != nil {
		mi, err := attentionMask.Info()
		if err != nil {
			return 0, 0, fmt.Errorf("gpt2: attention_mask: %w", err)
		}
		if len(mi.Shape) != 2 || mi.Shape[0] != B || mi.Shape[1] != T {
			return 0, 0, fmt.Errorf("gpt2: attention_mask shape %v does not match inputs_embeds [batch, seq] = [%d, %d]", mi.Shape, B, T)
		}
	}
	return B, T, nil
}

// forwardEmbeds is the shared path of Forward and ForwardEmbeds: tok [B, T, n_embd] (owned by s)
// plus positions, dropout, the blocks and ln_f. It panics on libtorch errors (callers Recover).
func (m *Model) forwardEmbeds(s *torch.Scope, tok, attentionMask *torch.Tensor, B, T int64) *torch.Tensor {
	var mask *torch.Tensor
	if attentionMask != nil {
		mask = s.Track(torch.Must(attentionMask.Share()))
	}
	dev := m.Device()
	h := tok.MustAdd(m.positionEmbeds(s, mask, T)).MustDropout(m.Config.EmbdPdrop, m.train)
	bias := AttentionBias(s, mask, B, T, m.attnDType(), dev)
	for i, b := range m.Blocks {
		h = m.block(s, b, i, h, bias)
	}
	return m.layerNorm(h, m.LnFW, m.LnFB)
}

// PositionIDs returns the position ids Forward uses for attention_mask [batch, seq] (int64
// [batch, seq], owned by s), as HF's generation path computes them when position_ids is not
// given: cumsum(attention_mask, -1) - 1, so that each row's first real token is at position 0
// whatever padding precedes it, with padded positions set to 1 (their value does not reach the
// real tokens: padded keys are masked out). Without left padding or gaps (every row's mask is
// ones then zeros) this is 0..seq-1 at the real tokens, and Forward then uses 0..seq-1 for
// every position, exactly as with no mask.
func PositionIDs(s *torch.Scope, attentionMask *torch.Tensor) (ids *torch.Tensor, err error) {
	defer torch.Recover(&err)
	shape := attentionMask.Shape()
	if len(shape) != 2 {
		return nil, fmt.Errorf("gpt2: attention_mask must be [batch, seq], got shape %v", shape)
	}
	mask := s.Track(torch.Must(attentionMask.Share()))
	pad := mask.MustEqScalar(0)
	return mask.MustNeScalar(0).MustToDType(torch.Int64).MustCumSum(1).MustSubScalar(1).MustMaskedFill(pad, 1), nil
}

// positionEmbeds is wpe at the position ids of mask [B, T] (nil: no padding): wpe[0..T-1]
// ([T, n_embd], broadcast over the batch) when every row's real tokens start at position 0,
// wpe[PositionIDs(mask)] ([B, T, n_embd]) otherwise (left padding). Which case applies is
// decided on the host from one copy of the mask (a device sync on CUDA), so that right-padded
// batches keep the broadcast wpe slice, bit for bit in forward and backward, and skip the gather.
func (m *Model) positionEmbeds(s *torch.Scope, mask *torch.Tensor, T int64) *torch.Tensor {
	if mask != nil && shiftedPositions(torch.Must(s.Track(torch.Must(mask.To(torch.CPU, torch.Int64))).Int64s()), T) {
		return torch.Must(torch.Embedding(m.WPE, torch.Must(PositionIDs(s, mask)), -1))
	}
	return s.Track(torch.Must(m.WPE.Narrow(0, 0, T))) // position ids 0..T-1
}

// shiftedPositions reports whether some real token of mask ([B, T] flattened) comes after a
// padded position in its row (left padding or a gap), i.e. whether its position id
// cumsum(mask) - 1 differs from its index.
func shiftedPositions(mask []int64, T int64) bool {
	for r := int64(0); r < int64(len(mask)); r += T {
		padded := false
		for _, v := range mask[r : r+T] {
			if v == 0 {
				padded = true
			} else if padded {
				return true
			}
		}
	}
	return false
}

// upcastAttn reports whether attention scores are computed in float32 for a lower-precision
// model (reorder_and_upcast_attn on a float16 or bfloat16 model).
func (m *Model) upcastAttn() bool {
	if !m.Config.ReorderAndUpcastAttn {
		return false
	}
	dt := m.DType()
	return dt == torch.Float16 || dt == torch.BFloat16
}

// attnDType is the dtype of the attention scores and of the additive mask.
func (m *Model) attnDType() torch.DType {
	if m.upcastAttn() {
		return torch.Float32
	}
	return m.DType()
}

// block runs one transformer block on h (owned by s) and returns its output, owned by s. The
// block's intermediates live in a scope of their own, released when the block is done: without
// autograd their memory is freed at once; with autograd the graph keeps what backward needs.
func (m *Model) block(s *torch.Scope, b *Block, layer int, h, bias *torch.Tensor) *torch.Tensor {
	bs := torch.NewScope()
	defer bs.Close()
	x := bs.Track(torch.Must(h.Share()))
	x = x.MustAdd(m.attention(b, layer, m.layerNorm(x, b.Ln1W, b.Ln1B), bias))
	x = x.MustAdd(m.mlp(b, m.layerNorm(x, b.Ln2W, b.Ln2B)))
	return s.Track(bs.Keep(x))
}

// LMLogits applies the tied LM head: hidden [..., n_embd] · wteᵀ → logits [..., vocab_size].
// The result joins hidden's scope.
func (m *Model) LMLogits(hidden *torch.Tensor) (*torch.Tensor, error) {
	return torch.Linear(hidden, m.WTE, nil)
}

// LMLoss is the causal-LM loss of HF GPT2LMHeadModel: mean cross-entropy of the logits at
// positions 0..T-2 against input_ids at 1..T-1, skipping targets that are padding
// (attention_mask 0). The LM head is applied to the first T-1 positions only, so the shifted
// logits are never copied. It returns the loss (0-dim) and the number of predicted tokens.
func (m *Model) LMLoss(s *torch.Scope, inputIDs, attentionMask *torch.Tensor) (loss *torch.Tensor, tokens int64, err error) {
	hidden, err := m.Forward(s, inputIDs, attentionMask)
	if err != nil {
		return nil, 0, err
	}
	defer torch.Recover(&err)
	T := hidden.Size(1)
	if T < 2 {
		return nil, 0, fmt.Errorf("gpt2: causal LM loss needs sequences of at least 2 tokens")
	}
	// The logits ([B, T-1, vocab], the largest tensor of the step) live in a scope of their own,
	// released as soon as the loss exists: autograd keeps only what backward needs.
	ls := torch.NewScope()
	defer ls.Close()
	ids := ls.Track(torch.Must(inputIDs.Share()))
	targets := ids.MustNarrow(1, 1, T-1)
	if attentionMask != nil {
		mask := ls.Track(torch.Must(attentionMask.Share())).MustNarrow(1, 1, T-1)
		targets = targets.MustMaskedFill(mask.MustEqScalar(0), -100)
	}
	targets = targets.MustReshape(-1)
	h := ls.Track(torch.Must(hidden.Share()))
	logits := torch.Must(m.LMLogits(h.MustNarrow(1, 0, T-1))) // [B, T-1, V]
	V := int64(m.Config.VocabSize)
	loss = torch.Must(torch.CrossEntropy(logits.MustView(-1, V), targets, nil))
	n := targets.MustNeScalar(-100).MustSum().MustItem()
	return s.Track(ls.Keep(loss)), int64(n), nil
}
