package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"

	"github.com/hier-ai/hier/hier/eval"
	"github.com/hier-ai/hier/torch"
)

// Fusion is how the interest levels (H0, H1, H2) are combined into H.
type Fusion string

// Fusion methods.
const (
	// FusionConcat: H = [H0; H1; H2]·Wc + bc.
	FusionConcat Fusion = "concat"
	// FusionWeighted: H = Σ_k softmax(a)_k · H_k with one learned weight per level.
	FusionWeighted Fusion = "weighted"
	// FusionGate: H = Σ_k g_k · H_k with a per-user gate g = softmax([H0; H1; H2]·Wg + bg).
	FusionGate Fusion = "gate"
)

// ParseFusion accepts concat, weighted (or sum), gate.
func ParseFusion(s string) (Fusion, error) {
	switch strings.ToLower(s) {
	case "concat":
		return FusionConcat, nil
	case "weighted", "sum", "weighted_sum":
		return FusionWeighted, nil
	case "gate", "gated":
		return FusionGate, nil
	}
	return "", fmt.Errorf("unknown fusion %q: want concat, weighted or gate", s)
}

// ScorerConfig configures the recommender trained on top of the interest vectors.
type ScorerConfig struct {
	Dim         int     `json:"dim"`          // width D of H and of item vectors (default 64)
	Fusion      Fusion  `json:"fusion"`       // how levels combine (default gate)
	Loss        string  `json:"loss"`         // "bpr" (Rendle et al. 2009) or "sampled_softmax" (in-batch + uniform negatives, accidental hits masked)
	Negatives   int     `json:"negatives"`    // extra uniform negatives per batch for sampled_softmax (default 100)
	Epochs      int     `json:"epochs"`       // maximum epochs (default 40)
	Patience    int     `json:"patience"`     // early stopping on validation NDCG@10 (default 5)
	BatchSize   int     `json:"batch_size"`   // interactions per step (default 256)
	LR          float64 `json:"lr"`           // AdamW learning rate (default 3e-3)
	WeightDecay float64 `json:"weight_decay"` // AdamW decoupled weight decay (default 1e-4)
	Seed        uint64  `json:"seed"`
}

func (c ScorerConfig) withDefaults() ScorerConfig {
	if c.Dim <= 0 {
		c.Dim = 64
	}
	if c.Fusion == "" {
		c.Fusion = FusionGate
	}
	if c.Loss == "" {
		c.Loss = "bpr"
	}
	if c.Negatives <= 0 {
		c.Negatives = 100
	}
	if c.Epochs <= 0 {
		c.Epochs = 40
	}
	if c.Patience <= 0 {
		c.Patience = 5
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 256
	}
	if c.LR <= 0 {
		c.LR = 3e-3
	}
	if c.WeightDecay < 0 {
		c.WeightDecay = 0
	}
	return c
}

// linear is a dense layer y = x·Wᵀ + b with W [out, in] (nn.Linear layout).
type linear struct{ w, b *torch.Tensor }

func newLinear(in, out int, g *torch.Generator) (linear, error) {
	w, err := torch.Normal([]int64{int64(out), int64(in)}, 0, 1/math.Sqrt(float64(in)), torch.Float32, torch.CPU, g)
	if err != nil {
		return linear{}, err
	}
	b, err := torch.Zeros([]int64{int64(out)}, torch.Float32, torch.CPU)
	if err != nil {
		w.Free()
		return linear{}, err
	}
	return linear{w, b}, nil
}

func (l linear) apply(x *torch.Tensor) *torch.Tensor { return torch.Must(torch.Linear(x, l.w, l.b)) }

// Scorer ranks items for users: score(u, i) = H_u · v_i + β_i, where H_u fuses the projected
// interest levels H_k = W_k·h_k + b_k of user u, v_i = W_v·x_i + b_v + e_i combines the item's
// text vector x_i (through the same backbone) with a learned item embedding e_i, and β_i is a
// learned item bias. The level features
// h_k and x_i are fixed inputs; only the projections, the fusion and the item embeddings train.
type Scorer struct {
	Levels []string // names of the levels used, e.g. ["h0", "h1", "h2"]
	cfg    ScorerConfig
	feats  []*torch.Tensor // per level [U, d_k], standardised
	items  *torch.Tensor   // [I, dx], standardised
	proj   []linear        // per level, d_k → D
	fuse   linear          // concat: K·D → D; gate: K·D → K
	weight *torch.Tensor   // weighted fusion logits [K]
	itemP  linear          // dx → D
	itemE  *torch.Tensor   // [I, D]
	itemB  *torch.Tensor   // [I], a learned per-item bias (popularity), as in BPR-MF
	params []*torch.Tensor
	// History is the per-epoch training loss and validation NDCG@10.
	History []EpochStat
}

// EpochStat is one scorer epoch.
type EpochStat struct {
	Epoch     int     `json:"epoch"`
	Loss      float64 `json:"loss"`
	ValidNDCG float64 `json:"valid_ndcg@10"`
}

// standardize returns (x - mean)/std per column, as a float32 tensor.
func standardize(m *Matrix) (*torch.Tensor, error) {
	out := &Matrix{Rows: m.Rows, Cols: m.Cols, Data: make([]float32, len(m.Data))}
	for j := 0; j < m.Cols; j++ {
		var mean, sq float64
		for i := 0; i < m.Rows; i++ {
			mean += float64(m.Data[i*m.Cols+j])
		}
		mean /= float64(max(m.Rows, 1))
		for i := 0; i < m.Rows; i++ {
			d := float64(m.Data[i*m.Cols+j]) - mean
			sq += d * d
		}
		std := math.Sqrt(sq/float64(max(m.Rows, 1))) + 1e-6
		for i := 0; i < m.Rows; i++ {
			out.Data[i*m.Cols+j] = float32((float64(m.Data[i*m.Cols+j]) - mean) / std)
		}
	}
	return out.Tensor(torch.CPU)
}

// NewScorer builds a scorer over the named user feature matrices (each [U, d_k]) and item text
// features [I, dx]. Errors: no levels, mismatched row counts.
func NewScorer(levels []string, feats []*Matrix, items *Matrix, cfg ScorerConfig) (sc *Scorer, err error) {
	cfg = cfg.withDefaults()
	if len(levels) == 0 || len(levels) != len(feats) {
		return nil, fmt.Errorf("pipeline: scorer needs one feature matrix per level (%d levels, %d matrices)", len(levels), len(feats))
	}
	for k, f := range feats {
		if f.Rows != feats[0].Rows {
			return nil, fmt.Errorf("pipeline: level %s has %d users, level %s has %d", levels[k], f.Rows, levels[0], feats[0].Rows)
		}
	}
	g, err := torch.NewGenerator(cfg.Seed, torch.CPU)
	if err != nil {
		return nil, err
	}
	defer g.Free()
	sc = &Scorer{Levels: levels, cfg: cfg}
	defer func() {
		if err != nil {
			sc.Free()
			sc = nil
		}
	}()
	defer torch.Recover(&err)
	D, K := cfg.Dim, len(levels)
	for _, f := range feats {
		sc.feats = append(sc.feats, torch.Must(standardize(f)))
		sc.proj = append(sc.proj, torch.Must(newLinear(f.Cols, D, g)))
	}
	sc.items = torch.Must(standardize(items))
	switch cfg.Fusion {
	case FusionConcat:
		sc.fuse = torch.Must(newLinear(K*D, D, g))
	case FusionGate:
		sc.fuse = torch.Must(newLinear(K*D, K, g))
	case FusionWeighted:
		sc.weight = torch.Must(torch.Zeros([]int64{int64(K)}, torch.Float32, torch.CPU))
	default:
		return nil, fmt.Errorf("pipeline: unknown fusion %q", cfg.Fusion)
	}
	sc.itemP = torch.Must(newLinear(items.Cols, D, g))
	sc.itemE = torch.Must(torch.Normal([]int64{int64(items.Rows), int64(D)}, 0, 0.01, torch.Float32, torch.CPU, g))
	sc.itemB = torch.Must(torch.Zeros([]int64{int64(items.Rows)}, torch.Float32, torch.CPU))
	for _, l := range sc.proj {
		sc.params = append(sc.params, l.w, l.b)
	}
	if sc.fuse.w != nil {
		sc.params = append(sc.params, sc.fuse.w, sc.fuse.b)
	}
	if sc.weight != nil {
		sc.params = append(sc.params, sc.weight)
	}
	sc.params = append(sc.params, sc.itemP.w, sc.itemP.b, sc.itemE, sc.itemB)
	for _, p := range sc.params {
		if err := p.SetRequiresGrad(true); err != nil {
			return nil, err
		}
	}
	return sc, nil
}

// Free releases the scorer's tensors.
func (sc *Scorer) Free() {
	torch.FreeAll(sc.feats...)
	torch.FreeAll(sc.items)
	torch.FreeAll(sc.params...)
}

// users computes H for user indices idx (int64 [B]) → [B, D]; nil idx means all users.
func (sc *Scorer) users(s *torch.Scope, idx *torch.Tensor) *torch.Tensor {
	var hs []*torch.Tensor
	for k, f := range sc.feats {
		x := f
		if idx != nil {
			x = f.MustIndexSelect(0, idx)
		} else {
			x = s.Track(torch.Must(f.Share()))
		}
		hs = append(hs, sc.proj[k].apply(x)) // H_k = W_k·h_k + b_k
	}
	if len(hs) == 1 && sc.cfg.Fusion != FusionConcat {
		return hs[0]
	}
	switch sc.cfg.Fusion {
	case FusionConcat:
		return sc.fuse.apply(torch.Must(torch.Cat(hs, 1)))
	case FusionWeighted:
		w := s.Track(torch.Must(sc.weight.Share())).MustSoftmax(0)
		st := torch.Must(torch.Stack(hs, 1)) // [B, K, D]
		return st.MustMul(w.MustView(1, -1, 1)).MustSumDims([]int64{1}, false)
	default: // gate
		st := torch.Must(torch.Stack(hs, 1))                                // [B, K, D]
		gate := sc.fuse.apply(torch.Must(torch.Cat(hs, 1))).MustSoftmax(-1) // [B, K]
		return st.MustMul(gate.MustUnsqueeze(-1)).MustSumDims([]int64{1}, false)
	}
}

// itemVecs computes [v_i; β_i] for item indices idx → [n, D+1]; nil idx means all items. The
// user side is [H_u; 1] (see userVecs), so one dot product gives H_u·v_i + β_i.
func (sc *Scorer) itemVecs(s *torch.Scope, idx *torch.Tensor) *torch.Tensor {
	var v, b *torch.Tensor
	if idx == nil {
		x := s.Track(torch.Must(sc.items.Share()))
		e := s.Track(torch.Must(sc.itemE.Share()))
		v = sc.itemP.apply(x).MustAdd(e)
		b = s.Track(torch.Must(sc.itemB.Share()))
	} else {
		v = sc.itemP.apply(sc.items.MustIndexSelect(0, idx)).MustAdd(sc.itemE.MustIndexSelect(0, idx))
		b = sc.itemB.MustIndexSelect(0, idx)
	}
	return torch.Must(torch.Cat([]*torch.Tensor{v, b.MustUnsqueeze(1)}, 1))
}

// userVecs is [H_u; 1] → [B, D+1] (nil idx: all users).
func (sc *Scorer) userVecs(s *torch.Scope, idx *torch.Tensor) *torch.Tensor {
	h := sc.users(s, idx)
	one := s.Track(torch.Must(torch.Ones([]int64{h.Size(0), 1}, torch.Float32, torch.CPU)))
	return torch.Must(torch.Cat([]*torch.Tensor{h, one}, 1))
}

// ScoreAll returns scores for every user and item, [U, I], without autograd.
func (sc *Scorer) ScoreAll() (*Matrix, error) {
	return torch.NoGradValue(func() (m *Matrix, err error) {
		s := torch.NewScope()
		defer s.Close()
		defer torch.Recover(&err)
		u := sc.userVecs(s, nil)
		v := sc.itemVecs(s, nil)
		return matrixFromTensor(u.MustMatMul(v.MustTranspose(0, 1)))
	})
}

// Vectors returns the final user vectors [H_u; 1] [U, D+1] and item vectors [v_i; β_i] [I, D+1],
// whose dot products are the scores.
func (sc *Scorer) Vectors() (users, items *Matrix, err error) {
	err = torch.NoGrad(func() (err error) {
		s := torch.NewScope()
		defer s.Close()
		defer torch.Recover(&err)
		if users, err = matrixFromTensor(sc.userVecs(s, nil)); err != nil {
			return err
		}
		items, err = matrixFromTensor(sc.itemVecs(s, nil))
		return err
	})
	return users, items, err
}

// FitData is what the scorer trains and validates on, by dense indices.
type FitData struct {
	NumItems   int
	TrainItems [][]int // per user, training items
	ValidItem  []int   // per user, the validation item (-1 if none)
}

func (d FitData) pairs() [][2]int {
	var ps [][2]int
	for u, items := range d.TrainItems {
		for _, i := range items {
			ps = append(ps, [2]int{u, i})
		}
	}
	return ps
}

// Fit trains with AdamW on the training interactions, evaluates NDCG@10 on the validation items
// after each epoch (training items masked) and keeps the best epoch's parameters (early
// stopping with Patience). log may be nil.
func (sc *Scorer) Fit(ctx context.Context, d FitData, log *slog.Logger) error {
	runtime.LockOSThread() // one OS thread for the whole fit (see torch's package doc)
	defer runtime.UnlockOSThread()
	cfg := sc.cfg
	opt, err := torch.NewAdamW([]torch.ParamGroup{{Params: sc.params, WeightDecay: cfg.WeightDecay}}, torch.AdamWConfig{LR: cfg.LR})
	if err != nil {
		return err
	}
	defer opt.Free()
	known := make([]map[int]bool, len(d.TrainItems))
	for u, items := range d.TrainItems {
		known[u] = map[int]bool{}
		for _, i := range items {
			known[u][i] = true
		}
	}
	pairs := d.pairs()
	if len(pairs) == 0 {
		return fmt.Errorf("pipeline: no training interactions for the scorer")
	}
	best := math.Inf(-1)
	var bestParams []*torch.Tensor
	defer func() { torch.FreeAll(bestParams...) }()
	bad := 0
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(epoch)))
		rng.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
		total, n := 0.0, 0
		for start := 0; start < len(pairs); start += cfg.BatchSize {
			batch := pairs[start:min(start+cfg.BatchSize, len(pairs))]
			loss, err := sc.step(opt, batch, known, d.NumItems, rng)
			if err != nil {
				return err
			}
			total += loss * float64(len(batch))
			n += len(batch)
		}
		ndcg, err := sc.validNDCG(d)
		if err != nil {
			return err
		}
		sc.History = append(sc.History, EpochStat{Epoch: epoch, Loss: total / float64(n), ValidNDCG: ndcg})
		if log != nil {
			log.Debug("scorer epoch", "levels", strings.Join(sc.Levels, "+"), "epoch", epoch, "loss", total/float64(n), "valid_ndcg@10", ndcg)
		}
		if ndcg > best {
			best, bad = ndcg, 0
			torch.FreeAll(bestParams...)
			bestParams = bestParams[:0]
			for _, p := range sc.params {
				c, err := p.Detach()
				if err == nil {
					var cl *torch.Tensor
					cl, err = c.Clone()
					c.Free()
					c = cl
				}
				if err != nil {
					return err
				}
				bestParams = append(bestParams, c)
			}
		} else if bad++; bad >= cfg.Patience {
			break
		}
	}
	for i, p := range sc.params {
		if err := p.CopyFrom(bestParams[i]); err != nil {
			return err
		}
	}
	return nil
}

func (sc *Scorer) step(opt torch.Optimizer, batch [][2]int, known []map[int]bool, numItems int, rng *rand.Rand) (loss float64, err error) {
	s := torch.NewScope()
	defer s.Close()
	defer torch.Recover(&err)
	B := len(batch)
	us, pos := make([]int64, B), make([]int64, B)
	for b, p := range batch {
		us[b], pos[b] = int64(p[0]), int64(p[1])
	}
	uIdx := s.Track(torch.Must(torch.FromSlice(us)))
	pIdx := s.Track(torch.Must(torch.FromSlice(pos)))
	u := sc.userVecs(s, uIdx) // [B, D+1]
	var l *torch.Tensor
	switch sc.cfg.Loss {
	case "sampled_softmax":
		// Candidates: the batch's positives plus uniform negatives; row b's target is column b.
		negs := make([]int64, sc.cfg.Negatives)
		for j := range negs {
			negs[j] = int64(rng.IntN(numItems))
		}
		all := append(append([]int64{}, pos...), negs...)
		cand := s.Track(torch.Must(torch.FromSlice(all)))
		// Accidental hits: a candidate equal to row b's positive (other than column b itself) is
		// not a negative for row b, so its logit is masked out.
		hit := make([]bool, B*len(all))
		for b := range pos {
			for j, c := range all {
				hit[b*len(all)+j] = c == pos[b] && j != b
			}
		}
		hitT := s.Track(torch.Must(torch.FromSlice(hit, int64(B), int64(len(all)))))
		v := sc.itemVecs(s, cand)                                                        // [B+N, D+1]
		logits := u.MustMatMul(v.MustTranspose(0, 1)).MustMaskedFill(hitT, math.Inf(-1)) // [B, B+N]
		target := s.Track(torch.Must(torch.Arange(0, float64(B), 1, torch.Int64, torch.CPU)))
		l = torch.Must(torch.CrossEntropy(logits, target, nil))
	default: // BPR: −log σ(s_ui − s_uj) with j uniform among the user's non-interacted items
		neg := make([]int64, B)
		for b, p := range batch {
			j := rng.IntN(numItems)
			for tries := 0; known[p[0]][j] && tries < 50; tries++ {
				j = rng.IntN(numItems)
			}
			neg[b] = int64(j)
		}
		nIdx := s.Track(torch.Must(torch.FromSlice(neg)))
		sp := u.MustMul(sc.itemVecs(s, pIdx)).MustSumDims([]int64{1}, false)
		sn := u.MustMul(sc.itemVecs(s, nIdx)).MustSumDims([]int64{1}, false)
		x := sp.MustSub(sn)
		ones := s.Track(torch.Must(torch.Ones([]int64{int64(B)}, torch.Float32, torch.CPU)))
		l = torch.Must(torch.BCEWithLogits(x, ones, nil, nil, torch.ReduceMean))
	}
	if err := opt.ZeroGrad(); err != nil {
		return 0, err
	}
	if err := l.Backward(); err != nil {
		return 0, err
	}
	if err := opt.Step(); err != nil {
		return 0, err
	}
	return l.Item()
}

func (sc *Scorer) validNDCG(d FitData) (float64, error) {
	scores, err := sc.ScoreAll()
	if err != nil {
		return 0, err
	}
	var ranks []int
	for u, target := range d.ValidItem {
		if target < 0 {
			continue
		}
		ranks = append(ranks, eval.RankOf(scores.Row(u), target, d.TrainItems[u]))
	}
	if len(ranks) == 0 {
		return 0, nil
	}
	return eval.NDCG(ranks, 10), nil
}
