package train

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/torch"
)

// Example is one pre-tokenized example. Which fields matter depends on the task: every task
// reads InputIDs; classification reads Label; regression reads Target.
type Example struct {
	// InputIDs are the token ids, without padding; variable length, at least 1 token (at least 2
	// for causal-LM training, which predicts tokens 1..n-1 from their prefixes). Rows longer than
	// the model's n_positions must be truncated, by the caller or with Config.MaxLen.
	InputIDs []int64
	// Label is the class id in [0, num_labels) for classification.
	Label int64
	// Target is the real-valued target for regression.
	Target float64
	// Head selects the task head in multi-task training (a task with several heads sharing a
	// backbone reads it from Batch.Examples); single-task tasks ignore it.
	Head int
}

// Dataset is a list of examples.
type Dataset []Example

// Tokens is the total number of tokens in the dataset (before any MaxLen truncation).
func (d Dataset) Tokens() int64 {
	var n int64
	for _, e := range d {
		n += int64(len(e.InputIDs))
	}
	return n
}

// Batch is a collated batch. The tensors live on the device given to Collate and are owned by
// the scope given to Collate.
type Batch struct {
	// InputIDs is int64 [B, T], right-padded with the pad id; T is the length of the longest row
	// of this batch (after MaxLen truncation), so padding is dynamic per batch.
	InputIDs *torch.Tensor
	// AttentionMask is int64 [B, T]: 1 for real tokens, 0 for padding.
	AttentionMask *torch.Tensor
	// Labels is int64 [B], the examples' Label.
	Labels *torch.Tensor
	// Targets is float64 [B], the examples' Target.
	Targets *torch.Tensor
	// Examples are the batch's examples (not truncated), in row order.
	Examples []Example
	// Lengths are the rows' real lengths after truncation ([B]).
	Lengths []int
	// Tokens is the number of real (non-padding) tokens, the sum of Lengths.
	Tokens int64
}

// Size is the number of rows B.
func (b *Batch) Size() int { return len(b.Examples) }

// Collate builds a batch from examples: each row is truncated to maxLen tokens when maxLen > 0
// (keeping the first tokens) and right-padded with padID to the longest row of the batch. The
// tensors are created on dev and owned by s. Errors: no examples, an example without tokens.
func Collate(s *torch.Scope, examples []Example, padID int64, maxLen int, dev torch.Device) (b *Batch, err error) {
	if len(examples) == 0 {
		return nil, errors.New("train: collate: empty batch")
	}
	rows := make([][]int64, len(examples))
	labels := make([]int64, len(examples))
	targets := make([]float64, len(examples))
	for i, e := range examples {
		if len(e.InputIDs) == 0 {
			return nil, fmt.Errorf("train: collate: example %d has no tokens", i)
		}
		rows[i], labels[i], targets[i] = e.InputIDs, e.Label, e.Target
	}
	in, err := gpt2.PadRight(s, rows, padID, maxLen, dev)
	if err != nil {
		return nil, fmt.Errorf("train: collate: %w", err)
	}
	b = &Batch{InputIDs: in.InputIDs, AttentionMask: in.AttentionMask, Examples: examples, Lengths: in.Lengths}
	for _, n := range in.Lengths {
		b.Tokens += int64(n)
	}
	defer torch.Recover(&err)
	put := func(t *torch.Tensor) *torch.Tensor {
		s.Track(t)
		if dev != torch.CPU {
			return s.Track(torch.Must(t.ToDevice(dev)))
		}
		return t
	}
	b.Labels = put(torch.Must(torch.FromSlice(labels)))
	b.Targets = put(torch.Must(torch.FromSlice(targets)))
	return b, nil
}

// EpochOrder returns the order in which epoch (0-based) visits n examples: a permutation drawn
// from a PCG generator seeded with (seed, epoch) when shuffle is true, 0..n-1 otherwise. The
// shuffle is a Fisher-Yates shuffle over PCG-DXSM outputs with unbiased bounded draws, written
// out here so that the order (and hence checkpoint resumption) does not depend on the Go
// release's math/rand helpers.
func EpochOrder(n int, seed uint64, epoch int, shuffle bool) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	if !shuffle {
		return order
	}
	src := rand.NewPCG(seed, uint64(epoch))
	for i := n - 1; i > 0; i-- {
		j := int(bounded(src, uint64(i+1)))
		order[i], order[j] = order[j], order[i]
	}
	return order
}

// bounded returns a uniform value in [0, n) by rejection sampling (n > 0).
func bounded(src *rand.PCG, n uint64) uint64 {
	limit := -n % n // 2^64 mod n: reject the first `limit` values so the rest split evenly
	for {
		v := src.Uint64()
		if v >= limit {
			return v % n
		}
	}
}

// microBatches is the number of micro-batches of size bs in n examples (the last may be short).
func microBatches(n, bs int) int { return (n + bs - 1) / bs }
