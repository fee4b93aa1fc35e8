package pipeline

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
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
	// Method is the recommender whose vectors serve ("users" and "items" in vectors.safetensors).
	Method string `json:"method"`
}

// Recommendation is one recommended item, with its display metadata from the run's items.json
// when there is any (title, or summary, category, genres, ...: see ItemMeta; absent fields are
// left out of the JSON).
type Recommendation struct {
	Item  string  `json:"item"`
	Score float64 `json:"score"`
	Rank  int     `json:"rank"` // 1-based
	ItemMeta
}

// RunModel is a finished run loaded for serving. Recommend and Embed are safe for concurrent use.
type RunModel struct {
	Dir     string
	Index   Index
	H       *Matrix // the served method's user vectors [users, D+1] (Index.Method)
	ItemVec *Matrix // its item vectors [items, D+1]: scores are dot products
	// Items is the display metadata of items.json by item id (nil for a run made before
	// items.json existed, or whose data has no item metadata).
	Items   map[string]ItemMeta
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
	for name, dst := range map[string]**Matrix{"users": &r.H, "items": &r.ItemVec} {
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
	for u, h := range r.Index.History {
		for _, i := range h {
			if i < 0 || i >= len(r.Index.Items) {
				return nil, fmt.Errorf("pipeline: %s: history of user %q holds item index %d, outside [0, %d)", filepath.Join(dir, IndexFileName), r.Index.Users[u], i, len(r.Index.Items))
			}
		}
	}
	if r.Items, err = readItems(dir); err != nil {
		return nil, err
	}
	r.userIdx = make(map[string]int, len(r.Index.Users))
	for i, u := range r.Index.Users {
		r.userIdx[u] = i
	}
	return r, nil
}

// Recommend returns the k best items for a user by the served method's scores (user vector ·
// item vector) over the full catalogue, excluding the user's history. Errors: an unknown user, k < 1.
func (r *RunModel) Recommend(user string, k int) ([]Recommendation, error) {
	u, ok := r.userIdx[user]
	if !ok {
		return nil, fmt.Errorf("pipeline: unknown user %q", user)
	}
	if k < 1 {
		return nil, fmt.Errorf("pipeline: k must be >= 1, got %d", k)
	}
	recs, err := topK([]int{u}, r.H, r.ItemVec, r.Index.History, r.Index.Items, r.Items, k)
	if err != nil {
		return nil, err
	}
	return recs[0], nil
}

// topK ranks the full catalogue for the given users: scores = users·itemsᵀ by one matrix
// product, each user's history masked with -inf, then torch.topk. It returns one list per user,
// each item with its metadata from meta (may be nil).
func topK(users []int, h, items *Matrix, history [][]int, ids []string, meta map[string]ItemMeta, k int) (out [][]Recommendation, err error) {
	if k > items.Rows {
		k = items.Rows
	}
	err = torch.NoGrad(func() (err error) {
		s := torch.NewScope()
		defer s.Close()
		defer torch.Recover(&err)
		rows := make([]float32, 0, len(users)*h.Cols)
		mask := make([]bool, len(users)*items.Rows)
		for r, u := range users {
			rows = append(rows, h.Row(u)...)
			for _, i := range history[u] {
				mask[r*items.Rows+i] = true
			}
		}
		ht := s.Track(torch.Must(torch.FromSlice(rows, int64(len(users)), int64(h.Cols))))
		it := s.Track(torch.Must(items.Tensor(torch.CPU)))
		mt := s.Track(torch.Must(torch.FromSlice(mask, int64(len(users)), int64(items.Rows))))
		scores := ht.MustMatMul(it.MustTranspose(0, 1)).MustMaskedFill(mt, math.Inf(-1)) // [users, items]
		vals, idx, err := scores.TopK(int64(k), 1, true, true)
		if err != nil {
			return err
		}
		v := torch.Must(vals.Float32s())
		ix := torch.Must(idx.Int64s())
		out = make([][]Recommendation, len(users))
		for r := range users {
			for j := 0; j < k; j++ {
				sc := v[r*k+j]
				if math.IsInf(float64(sc), -1) {
					break // fewer than k items outside the history
				}
				id := ids[ix[r*k+j]]
				out[r] = append(out[r], Recommendation{Item: id, Score: float64(sc), Rank: j + 1, ItemMeta: meta[id]})
			}
		}
		return nil
	})
	return out, err
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
