package rec

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"

	"github.com/hier-ai/hier/torch"
)

// Loss is a recommender's training objective.
type Loss string

// Losses.
const (
	// LossBPR is Bayesian Personalized Ranking (Rendle et al., UAI 2009): −log σ(s_ui − s_uj) with
	// j drawn uniformly from the items u never interacted with in training.
	LossBPR Loss = "bpr"
	// LossSoftmax is the cross-entropy of a softmax over the full catalogue (exact, no sampling;
	// SASRec+ and eSASRec train this way).
	LossSoftmax Loss = "softmax"
	// LossSampledSoftmax is a softmax over the batch's positives (in-batch negatives) with the
	// logQ correction of Yi et al. (RecSys 2019): logit_j − log Q(j), Q(j) the probability that j
	// is a batch positive (its share of the training interactions); accidental hits are masked.
	LossSampledSoftmax Loss = "sampled_softmax"
)

// Config is a recommender's hyper-parameters. Zero values take DefaultConfig's.
type Config struct {
	Dim         int     `json:"dim"`          // width D of user and item vectors
	LR          float64 `json:"lr"`           // AdamW learning rate
	WeightDecay float64 `json:"weight_decay"` // AdamW decoupled weight decay
	Dropout     float64 `json:"dropout"`      // seq: GPT-2 embd/attn/resid dropout; cf: dropout on f(H_u) and g(x_i)
	Loss        Loss    `json:"loss"`
	MaxEpochs   int     `json:"max_epochs"` // epochs at most
	Patience    int     `json:"patience"`   // early stopping: epochs without a better validation NDCG@10
	BatchSize   int     `json:"batch_size"` // training examples per step (cf: pairs; seq: users)
	// MaxStepsPerEpoch, when > 0, raises the batch size so that an epoch takes at most this many
	// steps (a large dataset then trains in larger batches instead of many more steps).
	MaxStepsPerEpoch int    `json:"max_steps_per_epoch"`
	MaxLen           int    `json:"max_len"` // seq: most recent items read per user
	Layers           int    `json:"n_layer"` // seq: GPT-2 blocks
	Heads            int    `json:"n_head"`  // seq: attention heads
	Fusion           Fusion `json:"fusion"`  // how the levels combine into H
	Seed             uint64 `json:"seed"`
	// Device is where the model trains (not serialised: a run records its device separately).
	Device torch.Device `json:"-"`
}

// DefaultConfig are the defaults of both families.
func DefaultConfig() Config {
	return Config{Dim: 64, LR: 1e-3, WeightDecay: 0, Dropout: 0.2, Loss: LossSoftmax, MaxEpochs: 200, Patience: 10,
		BatchSize: 128, MaxLen: 50, Layers: 2, Heads: 2, Fusion: FusionGate}
}

// withDefaults fills zero fields and checks the rules of both families (Validate adds each
// family's own).
func (c Config) withDefaults() (Config, error) {
	c = c.filled()
	if err := c.check(); err != nil {
		return c, fmt.Errorf("rec: %w", err)
	}
	return c, nil
}

// filled is c with its zero fields set to DefaultConfig's.
func (c Config) filled() Config {
	d := DefaultConfig()
	if c.Dim <= 0 {
		c.Dim = d.Dim
	}
	if c.LR <= 0 {
		c.LR = d.LR
	}
	if c.Loss == "" {
		c.Loss = d.Loss
	}
	if c.MaxEpochs <= 0 {
		c.MaxEpochs = d.MaxEpochs
	}
	if c.Patience <= 0 {
		c.Patience = d.Patience
	}
	if c.BatchSize <= 0 {
		c.BatchSize = d.BatchSize
	}
	if c.MaxLen <= 0 {
		c.MaxLen = d.MaxLen
	}
	if c.Layers <= 0 {
		c.Layers = d.Layers
	}
	if c.Heads <= 0 {
		c.Heads = d.Heads
	}
	if c.Fusion == "" {
		c.Fusion = d.Fusion
	}
	return c
}

// check applies the rules that hold in both families to a filled configuration.
func (c Config) check() error {
	switch {
	case c.Loss != LossBPR && c.Loss != LossSoftmax && c.Loss != LossSampledSoftmax:
		return fmt.Errorf("unknown loss %q: want bpr, softmax or sampled_softmax", c.Loss)
	case c.WeightDecay < 0 || math.IsNaN(c.WeightDecay):
		return fmt.Errorf("weight_decay must be >= 0, got %g", c.WeightDecay)
	case c.Dropout < 0 || c.Dropout >= 1 || math.IsNaN(c.Dropout):
		return fmt.Errorf("dropout must be in [0, 1), got %g", c.Dropout)
	}
	if _, err := ParseFusion(string(c.Fusion)); err != nil {
		return err
	}
	return nil
}

// checkFamily applies the rules of one family to a filled configuration: the sequential model
// (GPT-2 blocks) needs n_head to divide dim and trains with the softmax loss; the CF model
// reads neither n_head nor n_layer nor max_len.
func (c Config) checkFamily(family string) error {
	switch family {
	case FamilyCF:
	case FamilySeq:
		if c.Dim%c.Heads != 0 {
			return fmt.Errorf("dim %d is not a multiple of n_head %d", c.Dim, c.Heads)
		}
		if c.Loss != LossSoftmax {
			return fmt.Errorf("the sequential model trains with the softmax loss, got %q", c.Loss)
		}
		if c.MaxLen < 2 {
			return fmt.Errorf("max_len must be at least 2, got %d", c.MaxLen)
		}
	default:
		return fmt.Errorf("unknown family %q (want cf or seq)", family)
	}
	return nil
}

// Validate reports whether c, with its zero fields set to DefaultConfig's, is a valid
// configuration of the family (FamilyCF or FamilySeq), as New would check it; without
// building anything, so a run can check its candidates before it trains. Errors name the
// field as in JSON (dim, n_head, loss, ...), without a package prefix.
func (c Config) Validate(family string) error {
	c = c.filled()
	if err := c.check(); err != nil {
		return err
	}
	return c.checkFamily(family)
}

// Variant names one recommender: a family and the hierarchy levels it reads.
type Variant struct {
	Name   string   `json:"method"`
	Family string   `json:"family"` // "cf" or "seq"
	Levels []string `json:"levels"` // user levels (h0, h1, h2); empty for the ID-only twin
	Text   bool     `json:"item_text"`
}

// IDOnly reports whether the variant reads no text or hierarchy level.
func (v Variant) IDOnly() bool { return len(v.Levels) == 0 && !v.Text }

// Families.
const (
	FamilyCF  = "cf"
	FamilySeq = "seq"
)

// Ablation is the level subsets of every family, in report order: ID only, +H0, +H0+H1,
// +H0+H2, +H. Every variant with levels also reads the item text vectors (the item-side
// counterpart of H0, from the same backbone).
var Ablation = [][]string{nil, {"h0"}, {"h0", "h1"}, {"h0", "h2"}, {"h0", "h1", "h2"}}

// Variants lists the ablation of the given families: "mf", "cf_h0", "cf_h0_h1", "cf_h0_h2",
// "cf_h" for cf and "sasrec", "seq_h0", …, "seq_h" for seq.
func Variants(families ...string) []Variant {
	var out []Variant
	for _, fam := range families {
		for _, levels := range Ablation {
			v := Variant{Family: fam, Levels: levels, Text: len(levels) > 0}
			switch {
			case len(levels) == 0 && fam == FamilyCF:
				v.Name = "mf"
			case len(levels) == 0:
				v.Name = "sasrec"
			case len(levels) == 3:
				v.Name = fam + "_h"
			default:
				v.Name = fam + "_" + strings.Join(levels, "_")
			}
			out = append(out, v)
		}
	}
	return out
}

// Model is one trainable recommender (RecBole's calculate_loss / full_sort_predict, as Go).
type Model interface {
	// Params are the trainable leaf tensors, in a fixed order.
	Params() []*torch.Tensor
	// Train selects training mode (dropout on) or evaluation mode.
	Train(on bool)
	// NumExamples is the number of training examples of an epoch (cf: (user, item) pairs;
	// seq: users with a sequence to learn from).
	NumExamples() int
	// Loss is the mean loss of the examples with the given indices (a 0-dim tensor owned by s).
	Loss(s *torch.Scope, examples []int, rng *rand.Rand) (*torch.Tensor, error)
	// Vectors returns user vectors [len(users), D+1] and item vectors [NumItems, D+1] whose dot
	// products are the scores at stage st (the item bias rides in the last column).
	Vectors(users []int, st Stage) (u, items *Matrix, err error)
	// Free releases the model's tensors.
	Free()
}

// New builds the model of variant v over d (and the features it reads) with cfg.
func New(v Variant, d *Data, f *Features, cfg Config) (Model, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := cfg.checkFamily(v.Family); err != nil {
		return nil, fmt.Errorf("rec: %w", err)
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if f == nil {
		f = &Features{}
	}
	switch v.Family {
	case FamilyCF:
		m, err := newCF(v, d, f, cfg)
		if err != nil {
			return nil, err
		}
		return m, nil
	case FamilySeq:
		m, err := newSeq(v, d, f, cfg)
		if err != nil {
			return nil, err
		}
		return m, nil
	}
	return nil, fmt.Errorf("rec: unknown family %q (want cf or seq)", v.Family)
}

// Scores are the full-catalogue scores [len(users), NumItems] of a model at stage st.
func Scores(m Model, users []int, st Stage) (*Matrix, error) {
	u, v, err := m.Vectors(users, st)
	if err != nil {
		return nil, err
	}
	return DotScores(u, v)
}

// DotScores is users·itemsᵀ → [users.Rows, items.Rows], computed by libtorch.
func DotScores(users, items *Matrix) (out *Matrix, err error) {
	if users.Cols != items.Cols {
		return nil, fmt.Errorf("rec: user vectors have %d columns, item vectors %d", users.Cols, items.Cols)
	}
	err = torch.NoGrad(func() (err error) {
		s := torch.NewScope()
		defer s.Close()
		defer torch.Recover(&err)
		a := s.Track(torch.Must(users.Tensor(torch.CPU)))
		b := s.Track(torch.Must(items.Tensor(torch.CPU)))
		out, err = MatrixFromTensor(a.MustMatMul(b.MustTranspose(0, 1)))
		return err
	})
	return out, err
}

// Rank ranks the held-out item of every user with one at stage st.
func Rank(m Model, d *Data, st Stage) (Ranks, error) {
	users := d.EvalUsers(st)
	if len(users) == 0 {
		return Ranks{}, nil
	}
	u, v, err := m.Vectors(users, st)
	if err != nil {
		return Ranks{}, err
	}
	return RankVectors(d, users, u, v, st)
}

// RankVectors ranks with saved vectors: row r of u belongs to users[r].
func RankVectors(d *Data, users []int, u, v *Matrix, st Stage) (Ranks, error) {
	var all Ranks
	const chunk = 1024 // users per score matrix
	for start := 0; start < len(users); start += chunk {
		end := min(start+chunk, len(users))
		sub := &Matrix{Rows: end - start, Cols: u.Cols, Data: u.Data[start*u.Cols : end*u.Cols]}
		sc, err := DotScores(sub, v)
		if err != nil {
			return Ranks{}, err
		}
		r, err := d.RankUsers(users[start:end], sc, st)
		if err != nil {
			return Ranks{}, err
		}
		all.Users = append(all.Users, r.Users...)
		all.Ranks = append(all.Ranks, r.Ranks...)
	}
	return all, nil
}

// EpochStat is one training epoch.
type EpochStat struct {
	Epoch     int     `json:"epoch"`
	Loss      float64 `json:"loss"`
	ValidNDCG float64 `json:"valid_ndcg@10"`
}

// ErrDiverged is returned by Fit when a loss becomes NaN or infinite.
var ErrDiverged = errors.New("rec: training diverged (non-finite loss); lower the learning rate")

// Fit trains m on d's training examples with AdamW (cfg.LR, cfg.WeightDecay), in shuffled
// batches of cfg.BatchSize (more when cfg.MaxStepsPerEpoch caps the steps; order from
// PCG(cfg.Seed, epoch)), evaluates NDCG@10 on the
// validation items after every epoch, stops after cfg.Patience epochs without improvement (or
// cfg.MaxEpochs) and restores the parameters of the best epoch. onEpoch, when set, sees every
// epoch. It returns the per-epoch history; the model is left in evaluation mode.
func Fit(ctx context.Context, m Model, d *Data, cfg Config, onEpoch func(EpochStat)) (hist []EpochStat, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	runtime.LockOSThread() // one OS thread for the whole fit (see torch's package doc)
	defer runtime.UnlockOSThread()
	n := m.NumExamples()
	if n == 0 {
		return nil, errors.New("rec: no training examples")
	}
	params := m.Params()
	opt, err := torch.NewAdamW([]torch.ParamGroup{{Params: params, WeightDecay: cfg.WeightDecay}}, torch.AdamWConfig{LR: cfg.LR})
	if err != nil {
		return nil, err
	}
	defer opt.Free()
	if err := torch.ManualSeed(cfg.Seed); err != nil { // dropout masks
		return nil, err
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	bs := cfg.BatchSize
	if cfg.MaxStepsPerEpoch > 0 {
		bs = max(bs, (n+cfg.MaxStepsPerEpoch-1)/cfg.MaxStepsPerEpoch)
	}
	best, bad := math.Inf(-1), 0
	var bestParams []*torch.Tensor
	defer func() { torch.FreeAll(bestParams...) }()
	for epoch := 1; epoch <= cfg.MaxEpochs; epoch++ {
		if err := ctx.Err(); err != nil {
			return hist, err
		}
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(epoch)))
		rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
		m.Train(true)
		var total float64
		for _, batch := range batches(order, bs, m, rng) {
			l, err := step(m, opt, batch, rng)
			if err != nil {
				return hist, err
			}
			if math.IsNaN(l) || math.IsInf(l, 0) {
				return hist, ErrDiverged
			}
			total += l * float64(len(batch))
		}
		m.Train(false)
		r, err := Rank(m, d, Valid)
		if err != nil {
			return hist, err
		}
		st := EpochStat{Epoch: epoch, Loss: total / float64(n), ValidNDCG: r.NDCG10()}
		hist = append(hist, st)
		if onEpoch != nil {
			onEpoch(st)
		}
		if st.ValidNDCG > best {
			best, bad = st.ValidNDCG, 0
			if bestParams, err = snapshot(params, bestParams); err != nil {
				return hist, err
			}
		} else if bad++; bad >= cfg.Patience {
			break
		}
	}
	for i, p := range params {
		if err := p.CopyFrom(bestParams[i]); err != nil {
			return hist, err
		}
	}
	return hist, nil
}

// lengthed is implemented by models whose examples differ in length (sequences): batches then
// group examples of similar length, so less of each batch is padding.
type lengthed interface {
	// ExampleLengths is each training example's length.
	ExampleLengths() []int
}

// bucketWindow is how many batches' worth of shuffled examples are sorted by length together.
const bucketWindow = 16

// batches cuts the shuffled order into batches of size bs. For a lengthed model the order is
// sorted by length within windows of bucketWindow batches and the batches are shuffled again,
// so batches stay random but hold sequences of similar length.
func batches(order []int, bs int, m Model, rng *rand.Rand) [][]int {
	n := len(order)
	if lm, ok := m.(lengthed); ok {
		lens := lm.ExampleLengths()
		for start := 0; start < n; start += bs * bucketWindow {
			w := order[start:min(start+bs*bucketWindow, n)]
			slices.SortStableFunc(w, func(a, b int) int { return lens[a] - lens[b] })
		}
	}
	var out [][]int
	for start := 0; start < n; start += bs {
		out = append(out, order[start:min(start+bs, n)])
	}
	if _, ok := m.(lengthed); ok {
		rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	}
	return out
}

// snapshot copies params into dst (allocated on first use).
func snapshot(params, dst []*torch.Tensor) ([]*torch.Tensor, error) {
	if dst == nil {
		for _, p := range params {
			c, err := torch.ZerosLike(p)
			if err != nil {
				torch.FreeAll(dst...)
				return nil, err
			}
			dst = append(dst, c)
		}
	}
	for i, p := range params {
		if err := dst[i].CopyFrom(p); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func step(m Model, opt *torch.AdamW, batch []int, rng *rand.Rand) (loss float64, err error) {
	s := torch.NewScope()
	defer s.Close()
	l, err := m.Loss(s, batch, rng)
	if err != nil {
		return 0, err
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
