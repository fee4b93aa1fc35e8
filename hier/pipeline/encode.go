package pipeline

import (
	"fmt"
	"runtime"
	"sort"

	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/hier/rec"
	"github.com/hier-ai/hier/torch"
)

// Matrix is a dense row-major float32 matrix [Rows, Cols] held in Go memory (rec.Matrix).
type Matrix = rec.Matrix

func matrixFromTensor(t *torch.Tensor) (*Matrix, error) { return rec.MatrixFromTensor(t) }

// Pooling selects how a sequence of hidden states becomes one vector.
type Pooling int

const (
	// PoolMean averages last_hidden_state over real tokens (attention_mask 1).
	PoolMean Pooling = iota
	// PoolLast takes the hidden state of the last real token (HF's classification pooling).
	PoolLast
)

// Encoder turns texts into vectors with a GPT-2 backbone (and, optionally, a classification or
// regression head whose outputs are appended). It runs without autograd; the model must be in
// eval mode. It is safe for concurrent use (forward passes only read the parameters).
type Encoder struct {
	Backbone *gpt2.Model
	Head     *gpt2.SequenceClassifier // optional: appends the head's outputs to each vector
	Tok      *gpt2.Tokenizer
	MaxLen   int     // token budget per text (truncation keeps the first MaxLen tokens)
	Batch    int     // texts per forward pass
	Pool     Pooling // how hidden states are pooled
	Softmax  bool    // with a head: append softmax probabilities instead of raw logits
	KeepTail bool    // truncation keeps the last MaxLen tokens (the most recent text) instead of the first
}

// Dim is the output width: n_embd, plus num_labels when a head is attached.
func (e *Encoder) Dim() int {
	d := e.Backbone.Config.NEmbd
	if e.Head != nil {
		d += e.Head.NumLabels()
	}
	return d
}

func (e *Encoder) padID() int64 {
	if p := e.Backbone.Config.PadTokenID; p != nil {
		return *p
	}
	return gpt2.EndOfTextID
}

// Encode returns one vector per text, [len(texts), Dim()]. Empty texts are encoded as the single
// token <|endoftext|>, so every row is defined. Texts are grouped by length to keep padding small.
func (e *Encoder) Encode(texts []string) (*Matrix, error) {
	return e.EncodeIDs(TokenizeTexts(e.Tok, texts, e.MaxLen, e.KeepTail))
}

// TokenizeTexts tokenizes each text and truncates it to maxLen tokens (its first ones, or with
// keepTail its last ones); an empty text becomes the single token <|endoftext|>. This is the
// input Encoder feeds the model.
func TokenizeTexts(tok *gpt2.Tokenizer, texts []string, maxLen int, keepTail bool) [][]int64 {
	ids := make([][]int64, len(texts))
	for i, t := range texts {
		x := tok.Encode(t)
		if len(x) > maxLen {
			if keepTail {
				x = x[len(x)-maxLen:]
			} else {
				x = x[:maxLen]
			}
		}
		if len(x) == 0 {
			x = []int64{gpt2.EndOfTextID}
		}
		ids[i] = x
	}
	return ids
}

// LengthOrder is the indices of ids sorted by length (stable), so that consecutive batches of
// it need little padding.
func LengthOrder(ids [][]int64) []int {
	order := make([]int, len(ids))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(ids[order[a]]) < len(ids[order[b]]) })
	return order
}

// EncodeIDs is Encode for pre-tokenized inputs (each non-empty, at most n_positions long).
func (e *Encoder) EncodeIDs(ids [][]int64) (*Matrix, error) {
	out := &Matrix{Rows: len(ids), Cols: e.Dim(), Data: make([]float32, len(ids)*e.Dim())}
	order := LengthOrder(ids)
	batch := e.Batch
	if batch <= 0 {
		batch = 32
	}
	if e.Backbone.Training() {
		return nil, fmt.Errorf("pipeline: encoder needs the model in eval mode (call Train(false) first)")
	}
	runtime.LockOSThread() // one OS thread for the whole pass (see torch's package doc)
	defer runtime.UnlockOSThread()
	for start := 0; start < len(order); start += batch {
		end := min(start+batch, len(order))
		rows := order[start:end]
		if err := torch.NoGrad(func() error { return e.encodeBatch(ids, rows, out) }); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (e *Encoder) encodeBatch(ids [][]int64, rows []int, out *Matrix) (err error) {
	s := torch.NewScope()
	defer s.Close()
	defer torch.Recover(&err)
	batch := make([][]int64, len(rows))
	for b, r := range rows {
		batch[b] = ids[r]
		if len(ids[r]) > e.Backbone.Config.NPositions {
			return fmt.Errorf("pipeline: a text has %d tokens, more than n_positions %d", len(ids[r]), e.Backbone.Config.NPositions)
		}
	}
	dev := e.Backbone.Device()
	in, err := gpt2.PadRight(s, batch, e.padID(), 0, dev)
	if err != nil {
		return err
	}
	B := len(rows)
	idsT, maskT := in.InputIDs, in.AttentionMask
	var hidden, extra *torch.Tensor
	if e.Head != nil {
		o, err := e.Head.Forward(s, idsT, maskT, nil)
		if err != nil {
			return err
		}
		hidden = o.Hidden
		extra = o.Logits
		if e.Softmax {
			extra = extra.MustSoftmax(-1)
		}
	} else {
		hidden, err = e.Backbone.Forward(s, idsT, maskT)
		if err != nil {
			return err
		}
	}
	var pooled *torch.Tensor
	switch e.Pool {
	case PoolLast:
		// Right padding: the last real token is at length-1.
		last := make([]int64, B)
		for b, n := range in.Lengths {
			last[b] = int64(n - 1)
		}
		idx := s.Track(torch.Must(torch.FromSlice(last))).MustToDevice(dev)
		pooled = torch.Must(gpt2.Pool(hidden, idx))
	default:
		pooled = torch.Must(gpt2.MeanPool(hidden, maskT))
	}
	if extra != nil {
		pooled = torch.Must(torch.Cat([]*torch.Tensor{pooled, extra.MustToDType(pooled.DType())}, 1))
	}
	res, err := matrixFromTensor(pooled)
	if err != nil {
		return err
	}
	for b, r := range rows {
		copy(out.Row(r), res.Row(b))
	}
	return nil
}

// MeanRows averages rows of m by group: out[g] is the mean of m's rows whose group[r] == g
// (zero for groups with no rows). groups has one entry per row of m, values in [0, n).
func MeanRows(m *Matrix, groups []int, n int) *Matrix {
	out := &Matrix{Rows: n, Cols: m.Cols, Data: make([]float32, n*m.Cols)}
	counts := make([]int, n)
	for r, g := range groups {
		counts[g]++
		dst, src := out.Row(g), m.Row(r)
		for j := range dst {
			dst[j] += src[j]
		}
	}
	for g, c := range counts {
		if c > 1 {
			row := out.Row(g)
			for j := range row {
				row[j] /= float32(c)
			}
		}
	}
	return out
}
