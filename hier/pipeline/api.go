package pipeline

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/torch"
)

// Files of a run directory.
const (
	ConfigFileName  = "config.json"
	IndexFileName   = "index.json"
	VectorsFileName = "vectors.safetensors"
	RecsFileName    = "recommendations.jsonl"
	MetricsFileName = "metrics.json"
	BackboneDir     = "checkpoints/backbone"
	SentimentDir    = "checkpoints/sentiment"
	BehaviorDir     = "checkpoints/behavior"
	PlotsDir        = "plots"
)

// Index maps dense indices to ids and records each user's history (training and validation
// items), which recommendations exclude.
type Index struct {
	Users   []string `json:"users"`
	Items   []string `json:"items"`
	History [][]int  `json:"history"`
	Fusion  Fusion   `json:"fusion"`
}

// Recommendation is one recommended item.
type Recommendation struct {
	Item  string  `json:"item"`
	Score float64 `json:"score"`
	Rank  int     `json:"rank"` // 1-based
}

// RunModel is a finished run loaded for serving. Recommend and Embed are safe for concurrent use.
type RunModel struct {
	Dir     string
	Index   Index
	H       *Matrix // fused user vectors [users, D]
	ItemVec *Matrix // item vectors [items, D]
	userIdx map[string]int

	encOnce sync.Once
	enc     *Encoder
	encErr  error
}

// LoadRun opens a run directory written by Run. Errors name the missing or corrupt file.
func LoadRun(dir string) (*RunModel, error) {
	raw, err := os.ReadFile(filepath.Join(dir, IndexFileName))
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w (is %s a run directory written by `hier run`?)", err, dir)
	}
	r := &RunModel{Dir: dir}
	if err := json.Unmarshal(raw, &r.Index); err != nil {
		return nil, fmt.Errorf("pipeline: %s: %w", filepath.Join(dir, IndexFileName), err)
	}
	ts, _, err := torch.LoadSafetensors(filepath.Join(dir, VectorsFileName), torch.CPU)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, t := range ts {
			t.Free()
		}
	}()
	for name, dst := range map[string]**Matrix{"h": &r.H, "items": &r.ItemVec} {
		t, ok := ts[name]
		if !ok {
			return nil, fmt.Errorf("pipeline: %s has no tensor %q", filepath.Join(dir, VectorsFileName), name)
		}
		if *dst, err = matrixFromTensor(t); err != nil {
			return nil, err
		}
	}
	if r.H.Rows != len(r.Index.Users) || r.ItemVec.Rows != len(r.Index.Items) || r.H.Cols != r.ItemVec.Cols {
		return nil, fmt.Errorf("pipeline: %s: vectors [%d,%d]/[%d,%d] do not match %d users and %d items", dir, r.H.Rows, r.H.Cols, r.ItemVec.Rows, r.ItemVec.Cols, len(r.Index.Users), len(r.Index.Items))
	}
	if len(r.Index.History) != len(r.Index.Users) {
		return nil, fmt.Errorf("pipeline: %s: history has %d users, index %d", filepath.Join(dir, IndexFileName), len(r.Index.History), len(r.Index.Users))
	}
	r.userIdx = make(map[string]int, len(r.Index.Users))
	for i, u := range r.Index.Users {
		r.userIdx[u] = i
	}
	return r, nil
}

// Recommend returns the k best items for a user by H_u · v_i over the full catalogue, excluding
// the user's history. Errors: an unknown user, k < 1.
func (r *RunModel) Recommend(user string, k int) ([]Recommendation, error) {
	u, ok := r.userIdx[user]
	if !ok {
		return nil, fmt.Errorf("pipeline: unknown user %q", user)
	}
	if k < 1 {
		return nil, fmt.Errorf("pipeline: k must be >= 1, got %d", k)
	}
	return topK(r.H.Row(u), r.ItemVec, r.Index.History[u], r.Index.Items, k), nil
}

func topK(h []float32, items *Matrix, history []int, ids []string, k int) []Recommendation {
	skip := make(map[int]bool, len(history))
	for _, i := range history {
		skip[i] = true
	}
	type cand struct {
		i int
		s float32
	}
	cands := make([]cand, 0, items.Rows)
	for i := 0; i < items.Rows; i++ {
		if skip[i] {
			continue
		}
		var s float32
		for j, v := range items.Row(i) {
			s += v * h[j]
		}
		cands = append(cands, cand{i, s})
	}
	sort.SliceStable(cands, func(a, b int) bool { return cands[a].s > cands[b].s })
	if k > len(cands) {
		k = len(cands)
	}
	out := make([]Recommendation, k)
	for r := 0; r < k; r++ {
		out[r] = Recommendation{Item: ids[cands[r].i], Score: float64(cands[r].s), Rank: r + 1}
	}
	return out
}

// Embed encodes texts with the run's backbone (H0-style: mean-pooled last_hidden_state),
// [len(texts)][n_embd]. The backbone is loaded on first use.
func (r *RunModel) Embed(texts []string) ([][]float32, error) {
	r.encOnce.Do(func() {
		dir := filepath.Join(r.Dir, BackboneDir)
		m, _, err := gpt2.LoadModel(dir, gpt2.LoadOptions{})
		if err != nil {
			r.encErr = err
			return
		}
		tok, err := gpt2.LoadTokenizerFor(dir)
		if err != nil {
			m.Free()
			r.encErr = err
			return
		}
		m.Train(false)
		r.enc = &Encoder{Backbone: m, Tok: tok, MaxLen: m.Config.NPositions, Batch: 16, Pool: PoolMean}
	})
	if r.encErr != nil {
		return nil, r.encErr
	}
	mat, err := r.enc.Encode(texts)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, mat.Rows)
	for i := range out {
		out[i] = append([]float32(nil), mat.Row(i)...)
	}
	return out, nil
}

// Close releases the backbone loaded by Embed.
func (r *RunModel) Close() {
	if r.enc != nil {
		r.enc.Backbone.Free()
	}
}
