package pipeline

import (
	"bufio"
	"encoding/json"
	"os"

	"github.com/hier-ai/hier/torch"
)

// writeJSON writes v as indented JSON to path atomically (temp file + rename).
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	return torch.WriteFileAtomic(path, func(f *os.File) error {
		_, err := f.Write(b)
		return err
	})
}

// recLine is one line of recommendations.jsonl.
type recLine struct {
	User  string           `json:"user"`
	Items []Recommendation `json:"items"`
}

// writeRecommendations writes the top-k items of every user (history excluded), each with its
// metadata from meta, as JSON lines, atomically.
func writeRecommendations(path string, idx *Index, h, items *Matrix, meta map[string]ItemMeta, k int) error {
	return torch.WriteFileAtomic(path, func(f *os.File) error {
		w := bufio.NewWriter(f)
		enc := json.NewEncoder(w)
		const chunk = 512 // users per matrix product
		for start := 0; start < len(idx.Users); start += chunk {
			users := make([]int, 0, chunk)
			for u := start; u < min(start+chunk, len(idx.Users)); u++ {
				users = append(users, u)
			}
			recs, err := topK(users, h, items, idx.History, idx.Items, meta, k)
			if err != nil {
				return err
			}
			for r, u := range users {
				if err := enc.Encode(recLine{User: idx.Users[u], Items: recs[r]}); err != nil {
					return err
				}
			}
		}
		return w.Flush()
	})
}

// writeVectors saves named matrices as float32 tensors in a safetensors file, atomically.
func writeVectors(path string, mats map[string]*Matrix, meta map[string]string) error {
	ts := map[string]*torch.Tensor{}
	defer func() {
		for _, t := range ts {
			t.Free()
		}
	}()
	for name, m := range mats {
		t, err := m.Tensor(torch.CPU)
		if err != nil {
			return err
		}
		ts[name] = t
	}
	return torch.SaveSafetensors(path, ts, meta)
}
