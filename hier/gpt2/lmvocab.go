package gpt2

import (
	"fmt"
	"slices"

	"github.com/hier-ai/hier/torch"
)

// CheckVocabSubset validates a restricted output vocabulary for LMLossRestricted: at least one
// id, strictly ascending (sorted, no repeats), every id in [0, vocabSize).
func CheckVocabSubset(vocab []int64, vocabSize int) error {
	if len(vocab) == 0 {
		return fmt.Errorf("gpt2: restricted vocabulary is empty")
	}
	for i, id := range vocab {
		if id < 0 || id >= int64(vocabSize) {
			return fmt.Errorf("gpt2: restricted vocabulary entry %d is id %d, outside the vocabulary [0, %d)", i, id, vocabSize)
		}
		if i > 0 && id <= vocab[i-1] {
			return fmt.Errorf("gpt2: restricted vocabulary must be strictly ascending; entry %d (%d) follows %d", i, id, vocab[i-1])
		}
	}
	return nil
}

// LMLossRestricted is the causal-LM loss of LMLoss with the softmax restricted to the token ids
// in vocab (strictly ascending, inside the vocabulary; see CheckVocabSubset): the logits of
// position t are computed only against the rows wte[vocab] of the tied LM head
// (hidden · wte[vocab]ᵀ, [batch, seq-1, len(vocab)]), and each target is replaced by its
// position in vocab. The result is the exact mean cross-entropy of the softmax over that subset,
// -log(exp(z_y) / Σ_{k ∈ vocab} exp(z_k)), over the non-padding targets: it equals LMLoss when
// vocab holds every id, and is never larger than LMLoss otherwise (the full softmax has the same
// numerator and a larger denominator). Gradients reach only the wte rows in vocab through the
// head (every row still gets gradient through the input embeddings it is looked up for). Only
// the positions whose next token is real reach the head (padding costs nothing there), so the
// output layer's work is (predicted tokens) × len(vocab) × n_embd.
//
// It is a pre-training speed device: for a model trained from scratch on a corpus that uses a
// few 10k of GPT-2's 50257 ids, the output layer (most of a small model's compute) shrinks in
// proportion, and ids that never occur are never targets. The model itself is unchanged: it is
// still a full-vocabulary GPT-2 and saves as one.
//
// input_ids and attention_mask are as for Forward ([batch, seq], seq >= 2). It returns the loss
// (0-dim, owned by s) and the number of predicted tokens. Errors: those of Forward, an invalid
// vocab, a sequence shorter than 2, a batch without any token to predict (every row shorter than
// 2 real tokens), and a (non-padding) target id that is not in vocab (with its row and position).
func (m *Model) LMLossRestricted(s *torch.Scope, inputIDs, attentionMask *torch.Tensor, vocab []int64) (loss *torch.Tensor, tokens int64, err error) {
	if err := CheckVocabSubset(vocab, m.Config.VocabSize); err != nil {
		return nil, 0, err
	}
	B, T, err := m.checkInputs(inputIDs, attentionMask)
	if err != nil {
		return nil, 0, err
	}
	if T < 2 {
		return nil, 0, fmt.Errorf("gpt2: causal LM loss needs sequences of at least 2 tokens")
	}
	// Targets mapped to positions in vocab on the host (ids and mask are small), so that an id
	// outside the subset is reported instead of silently ignored.
	rows, targets, err := restrictedTargets(inputIDs, attentionMask, B, T, vocab)
	if err != nil {
		return nil, 0, err
	}
	if len(targets) == 0 {
		return nil, 0, fmt.Errorf("gpt2: no token to predict: every row has fewer than 2 real tokens")
	}
	hidden, err := m.Forward(s, inputIDs, attentionMask)
	if err != nil {
		return nil, 0, err
	}
	defer torch.Recover(&err)
	ls := torch.NewScope()
	defer ls.Close()
	dev := m.Device()
	put := func(t *torch.Tensor) *torch.Tensor {
		ls.Track(t)
		if dev != torch.CPU {
			return ls.Track(torch.Must(t.ToDevice(dev)))
		}
		return t
	}
	tgt := put(torch.Must(torch.FromSlice(targets)))
	at := put(torch.Must(torch.FromSlice(rows)))
	idx := put(torch.Must(torch.FromSlice(vocab)))
	w := m.WTE.MustIndexSelect(0, idx) // [K, n_embd], owned by ls through idx
	h := ls.Track(torch.Must(hidden.Share()))
	// Only the N positions with a real next token reach the head: [N, n_embd] · wᵀ → [N, K].
	h = h.MustReshape(B*T, int64(m.Config.NEmbd)).MustIndexSelect(0, at)
	logits := torch.Must(torch.Linear(h, w, nil))
	loss = torch.Must(torch.CrossEntropy(logits, tgt, nil))
	return s.Track(ls.Keep(loss)), int64(len(targets)), nil
}

// restrictedTargets lists the predictions of LMLossRestricted: for every position t < T-1 of
// row b whose next token is real (attention_mask[b, t+1] != 0), the flat index b·T+t of the
// hidden state that predicts it and the position of input_ids[b, t+1] in vocab.
func restrictedTargets(inputIDs, attentionMask *torch.Tensor, B, T int64, vocab []int64) (rows, targets []int64, err error) {
	ids, err := inputIDs.Int64s()
	if err != nil {
		return nil, nil, fmt.Errorf("gpt2: input_ids: %w", err)
	}
	var mask []int64
	if attentionMask != nil {
		if mask, err = maskValues(attentionMask); err != nil {
			return nil, nil, fmt.Errorf("gpt2: attention_mask: %w", err)
		}
	}
	rows = make([]int64, 0, B*(T-1))
	targets = make([]int64, 0, B*(T-1))
	for b := int64(0); b < B; b++ {
		for t := int64(1); t < T; t++ {
			k := b*T + t
			if mask != nil && mask[k] == 0 {
				continue
			}
			pos, ok := slices.BinarySearch(vocab, ids[k])
			if !ok {
				return nil, nil, fmt.Errorf("gpt2: target id %d (row %d, position %d) is not in the restricted vocabulary of %d ids", ids[k], b, t, len(vocab))
			}
			rows = append(rows, k-1)
			targets = append(targets, int64(pos))
		}
	}
	return rows, targets, nil
}

// maskValues reads an attention mask of any dtype as 0/1 int64 values.
func maskValues(mask *torch.Tensor) (vals []int64, err error) {
	defer torch.Recover(&err)
	s := torch.NewScope()
	defer s.Close()
	m := s.Track(torch.Must(mask.Share()))
	return m.MustNeScalar(0).MustToDType(torch.Int64).Int64s()
}
