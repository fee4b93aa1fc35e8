package gpt2

import (
	"errors"
	"fmt"

	"github.com/hier-ai/hier/torch"
)

// Inputs is a right-padded batch of token rows, as every GPT-2 forward pass of the project takes
// it (training, encoding, predict).
type Inputs struct {
	// InputIDs is int64 [batch, seq], each row right-padded with the pad id to the longest row.
	InputIDs *torch.Tensor
	// AttentionMask is int64 [batch, seq]: 1 for real tokens, 0 for padding.
	AttentionMask *torch.Tensor
	// Lengths are the rows' real lengths after truncation; Padded reports whether any row was
	// padded (when not, the mask is all ones and may be left out).
	Lengths []int
	Padded  bool
}

// PadRight lays out token rows as a right-padded batch: each row truncated to maxLen tokens when
// maxLen > 0 (keeping the first tokens), padded with padID to the longest row; the tensors are
// created on dev and owned by s. Errors: no rows, a row without tokens.
func PadRight(s *torch.Scope, rows [][]int64, padID int64, maxLen int, dev torch.Device) (in *Inputs, err error) {
	if len(rows) == 0 {
		return nil, errors.New("gpt2: empty batch")
	}
	B, T := len(rows), 0
	in = &Inputs{Lengths: make([]int, B)}
	for i, r := range rows {
		n := len(r)
		if n == 0 {
			return nil, fmt.Errorf("gpt2: batch row %d has no tokens", i)
		}
		if maxLen > 0 && n > maxLen {
			n = maxLen
		}
		in.Lengths[i] = n
		T = max(T, n)
	}
	ids := make([]int64, B*T)
	mask := make([]int64, B*T)
	for i, r := range rows {
		n := copy(ids[i*T:(i+1)*T], r[:in.Lengths[i]])
		for j := n; j < T; j++ {
			ids[i*T+j] = padID
			in.Padded = true
		}
		for j := 0; j < n; j++ {
			mask[i*T+j] = 1
		}
	}
	defer torch.Recover(&err)
	put := func(data []int64) *torch.Tensor {
		t := s.Track(torch.Must(torch.FromSlice(data, int64(B), int64(T))))
		if dev != torch.CPU {
			t = s.Track(torch.Must(t.ToDevice(dev)))
		}
		return t
	}
	in.InputIDs, in.AttentionMask = put(ids), put(mask)
	return in, nil
}
