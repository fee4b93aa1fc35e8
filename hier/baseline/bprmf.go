package baseline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// BPRConfig configures [FitBPRMF]. A zero numeric field selects its default
// (see [DefaultBPRConfig]); negative values are rejected.
type BPRConfig struct {
	// Factors is the latent dimension d. Default 32.
	Factors int
	// LR is the SGD learning rate α. Default 0.05.
	LR float32
	// Reg is the L2 regularisation λ applied to the user vector, both item
	// vectors and both item biases touched by each update (Rendle's λ_Θ with
	// λ_W = λ_H+ = λ_H-). Default 0.01; since zero selects the default, use a
	// tiny positive value (e.g. 1e-12) to effectively disable it.
	Reg float32
	// Epochs is the number of passes. Default 20.
	Epochs int
	// SamplesPerEpoch is the number of SGD steps per epoch. Default: the
	// number of distinct (user, item) training pairs.
	SamplesPerEpoch int
	// InitStd is the standard deviation of the N(0, InitStd²) initialisation
	// of the factor matrices. Default 0.1. Item biases start at 0.
	InitStd float32
	// Seed seeds the PCG generator (math/rand/v2) that drives
	// initialisation and sampling.
	Seed uint64
	// NoItemBias drops the item bias term b_i from the model.
	NoItemBias bool
	// Progress, if non-nil, is called after every epoch with the 1-based
	// epoch number and the mean BPR loss −ln σ(x̂_uij) over that epoch's
	// samples (before each sample's update, excluding the L2 term). It runs
	// on the training goroutine.
	Progress func(epoch int, loss float64)
}

// DefaultBPRConfig returns the defaults: 32 factors, LR 0.05, Reg 0.01,
// 20 epochs, InitStd 0.1, seed 0, item bias on.
func DefaultBPRConfig() BPRConfig {
	return BPRConfig{Factors: 32, LR: 0.05, Reg: 0.01, Epochs: 20, InitStd: 0.1}
}

func (c BPRConfig) withDefaults() (BPRConfig, error) {
	if c.Factors < 0 || c.LR < 0 || c.Reg < 0 || c.Epochs < 0 || c.SamplesPerEpoch < 0 || c.InitStd < 0 {
		return c, fmt.Errorf("baseline: negative BPRConfig field: %+v", c)
	}
	for _, v := range []float32{c.LR, c.Reg, c.InitStd} {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return c, fmt.Errorf("baseline: non-finite BPRConfig field: %+v", c)
		}
	}
	d := DefaultBPRConfig()
	if c.Factors == 0 {
		c.Factors = d.Factors
	}
	if c.LR == 0 {
		c.LR = d.LR
	}
	if c.Reg == 0 {
		c.Reg = d.Reg
	}
	if c.Epochs == 0 {
		c.Epochs = d.Epochs
	}
	if c.InitStd == 0 {
		c.InitStd = d.InitStd
	}
	return c, nil
}

// BPRMF is a matrix-factorisation recommender trained with Bayesian
// Personalized Ranking (S. Rendle, C. Freudenthaler, Z. Gantner,
// L. Schmidt-Thieme, "BPR: Bayesian Personalized Ranking from Implicit
// Feedback", UAI 2009). The score of item i for user u is
//
//	x̂_ui = b_i + ⟨w_u, h_i⟩
//
// with w_u, h_i ∈ R^d and b_i = 0 when the model has no item bias.
// A fitted model is read-only and safe for concurrent use.
type BPRMF struct {
	numUsers, numItems, factors int
	user                        []float32 // [numUsers*factors], row u = w_u
	item                        []float32 // [numItems*factors], row i = h_i
	bias                        []float32 // [numItems], nil without item bias
}

// ErrDiverged is returned by [FitBPRMF] when the epoch loss becomes NaN or
// infinite (learning rate too large).
var ErrDiverged = errors.New("baseline: BPR-MF training diverged (non-finite loss)")

// FitBPRMF trains a [BPRMF] with LearnBPR (Rendle et al. 2009, Fig. 4):
// each step draws a training pair (u, i) uniformly with replacement from the
// distinct positive pairs, a negative item j uniformly from the items u never
// interacted with (rejection sampling), and takes an SGD step on
// ln σ(x̂_uij) − λ‖Θ‖², x̂_uij = x̂_ui − x̂_uj:
//
//	g    = 1 − σ(x̂_uij) = σ(−x̂_uij)
//	w_u ← w_u + α (g (h_i − h_j) − λ w_u)
//	h_i ← h_i + α (g w_u − λ h_i)
//	h_j ← h_j + α (−g w_u − λ h_j)
//	b_i ← b_i + α (g − λ b_i),   b_j ← b_j + α (−g − λ b_j)
//
// (all right-hand sides use the pre-step values). Users who interacted with
// every item have no negatives and are not sampled; users without
// interactions keep their random initial vectors.
//
// Training is single-threaded and, for a given input, config and GOARCH,
// bit-for-bit deterministic on one machine. Another CPU may differ in the
// last bits: on amd64, math.Exp uses FMA instructions when the CPU has them
// (GODEBUG=cpu.fma=off turns them off). ctx is checked every few thousand
// steps; on cancellation FitBPRMF returns ctx.Err(). It also returns an error if in
// fails [Interactions.Validate], cfg has a negative or non-finite field, no
// pair can be sampled (no interactions, or every user has every item), or
// training diverges ([ErrDiverged]).
func FitBPRMF(ctx context.Context, in Interactions, cfg BPRConfig) (*BPRMF, error) {
	t, err := newBPRTrainer(in, cfg)
	if err != nil {
		return nil, err
	}
	for e := 1; e <= t.cfg.Epochs; e++ {
		loss, err := t.epoch(ctx)
		if err != nil {
			return nil, err
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return nil, ErrDiverged
		}
		if t.cfg.Progress != nil {
			t.cfg.Progress(e, loss)
		}
	}
	return t.m, nil
}

// bprTrainer holds the sampling structures and RNG for [FitBPRMF].
type bprTrainer struct {
	cfg   BPRConfig
	m     *BPRMF
	rng   *rand.Rand
	pairU []int32 // sampleable positive pairs (pairU[p], pairI[p])
	pairI []int32
	posOf []int32 // CSR offsets into pos, len numUsers+1
	pos   []int32 // sorted distinct positives per user
	steps int
}

// pcgStream is the fixed second PCG word; the seed is the first.
const pcgStream = 0x9e3779b97f4a7c15

func newBPRTrainer(in Interactions, cfg BPRConfig) (*bprTrainer, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if in.NumItems > math.MaxInt32 || in.NumUsers > math.MaxInt32 {
		return nil, fmt.Errorf("baseline: BPR-MF supports at most 2^31-1 users and items")
	}
	t := &bprTrainer{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, pcgStream))}

	// Distinct sorted positives per user, in CSR form.
	t.posOf = make([]int32, in.NumUsers+1)
	t.pos = make([]int32, 0, in.NumInteractions())
	var buf []int32
	for u := range in.NumUsers {
		buf = buf[:0]
		for _, i := range in.Items(u) {
			buf = append(buf, int32(i))
		}
		slices.Sort(buf)
		buf = slices.Compact(buf)
		t.pos = append(t.pos, buf...)
		t.posOf[u+1] = int32(len(t.pos))
		if len(buf) < in.NumItems { // has at least one negative
			for _, i := range buf {
				t.pairU = append(t.pairU, int32(u))
				t.pairI = append(t.pairI, i)
			}
		}
	}
	if len(t.pairU) == 0 {
		return nil, fmt.Errorf("baseline: BPR-MF has no sampleable (user, positive, negative) triples")
	}
	t.steps = cfg.SamplesPerEpoch
	if t.steps == 0 {
		t.steps = len(t.pairU)
	}

	k := cfg.Factors
	m := &BPRMF{
		numUsers: in.NumUsers,
		numItems: in.NumItems,
		factors:  k,
		user:     make([]float32, in.NumUsers*k),
		item:     make([]float32, in.NumItems*k),
	}
	std := float64(cfg.InitStd)
	for i := range m.user {
		m.user[i] = float32(t.rng.NormFloat64() * std)
	}
	for i := range m.item {
		m.item[i] = float32(t.rng.NormFloat64() * std)
	}
	if !cfg.NoItemBias {
		m.bias = make([]float32, in.NumItems)
	}
	t.m = m
	return t, nil
}

// isPos reports whether item j is a training positive of user u.
func (t *bprTrainer) isPos(u, j int32) bool {
	_, found := slices.BinarySearch(t.pos[t.posOf[u]:t.posOf[u+1]], j)
	return found
}

// ctxCheckEvery is the number of SGD steps between context checks.
const ctxCheckEvery = 4096

// epoch runs t.steps SGD steps and returns the mean BPR loss.
func (t *bprTrainer) epoch(ctx context.Context) (float64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m := t.m
	k := m.factors
	lr, reg := t.cfg.LR, t.cfg.Reg
	nPairs := uint64(len(t.pairU))
	nItems := uint64(m.numItems)
	bias := m.bias
	var lossSum float64
	for s := range t.steps {
		if s%ctxCheckEvery == ctxCheckEvery-1 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
		p := t.rng.Uint64N(nPairs)
		u, i := t.pairU[p], t.pairI[p]
		var j int32
		for {
			j = int32(t.rng.Uint64N(nItems))
			if !t.isPos(u, j) {
				break
			}
		}
		wu := m.user[int(u)*k : int(u)*k+k]
		hi := m.item[int(i)*k : int(i)*k+k]
		hj := m.item[int(j)*k : int(j)*k+k]
		hi = hi[:len(wu)]
		hj = hj[:len(wu)]

		var x float32
		for f, w := range wu {
			x += w * (hi[f] - hj[f])
		}
		if bias != nil {
			x += bias[i] - bias[j]
		}
		lossSum += softplus(-float64(x))
		g := float32(1 / (1 + math.Exp(float64(x)))) // σ(−x)

		for f, w := range wu {
			a, c := hi[f], hj[f]
			wu[f] = w + lr*(g*(a-c)-reg*w)
			hi[f] = a + lr*(g*w-reg*a)
			hj[f] = c + lr*(-g*w-reg*c)
		}
		if bias != nil {
			bi, bj := bias[i], bias[j]
			bias[i] = bi + lr*(g-reg*bi)
			bias[j] = bj + lr*(-g-reg*bj)
		}
	}
	return lossSum / float64(t.steps), nil
}

// softplus returns ln(1 + e^z) without overflow; −ln σ(x) = softplus(−x).
func softplus(z float64) float64 {
	if z > 0 {
		return z + math.Log1p(math.Exp(-z))
	}
	return math.Log1p(math.Exp(z))
}

// NumUsers returns the number of users the model was trained for.
func (m *BPRMF) NumUsers() int { return m.numUsers }

// NumItems returns the number of items scored.
func (m *BPRMF) NumItems() int { return m.numItems }

// Factors returns the latent dimension d.
func (m *BPRMF) Factors() int { return m.factors }

// HasItemBias reports whether the model includes the item bias b_i.
func (m *BPRMF) HasItemBias() bool { return m.bias != nil }

// UserFactors returns w_u (length Factors()) as a view into the model; do
// not modify it. It panics if u is outside [0, NumUsers()).
func (m *BPRMF) UserFactors(u int) []float32 {
	m.checkUser(u)
	return m.user[u*m.factors : (u+1)*m.factors : (u+1)*m.factors]
}

// ItemFactors returns h_i (length Factors()) as a view into the model; do
// not modify it. It panics if i is outside [0, NumItems()).
func (m *BPRMF) ItemFactors(i int) []float32 {
	if i < 0 || i >= m.numItems {
		panic(fmt.Sprintf("baseline: item %d outside [0, %d)", i, m.numItems))
	}
	return m.item[i*m.factors : (i+1)*m.factors : (i+1)*m.factors]
}

// ItemBias returns b_i (0 without item bias). It panics if i is outside
// [0, NumItems()).
func (m *BPRMF) ItemBias(i int) float32 {
	if i < 0 || i >= m.numItems {
		panic(fmt.Sprintf("baseline: item %d outside [0, %d)", i, m.numItems))
	}
	if m.bias == nil {
		return 0
	}
	return m.bias[i]
}

// Score returns x̂_ui = b_i + ⟨w_u, h_i⟩. It panics if u or i is out of
// range.
func (m *BPRMF) Score(u, i int) float32 {
	s := m.ItemBias(i)
	h := m.ItemFactors(i)
	for f, w := range m.UserFactors(u) {
		s += w * h[f]
	}
	return s
}

// Scores returns a fresh slice of length NumItems() with x̂_ui for every
// item i. It panics if user is outside [0, NumUsers()).
func (m *BPRMF) Scores(user int) []float32 {
	out := make([]float32, m.numItems)
	m.ScoresInto(user, out)
	return out
}

// ScoresInto writes x̂_ui = b_i + ⟨w_u, h_i⟩ for every item i into dst,
// which must have length NumItems(). It does not allocate. It panics if user
// is outside [0, NumUsers()) or dst has the wrong length.
func (m *BPRMF) ScoresInto(user int, dst []float32) {
	m.checkUser(user)
	if len(dst) != m.numItems {
		panic(fmt.Sprintf("baseline: BPRMF.ScoresInto dst has length %d, want %d", len(dst), m.numItems))
	}
	k := m.factors
	wu := m.user[user*k : user*k+k]
	for i := range dst {
		h := m.item[i*k : i*k+k]
		h = h[:len(wu)]
		var s float32
		if m.bias != nil {
			s = m.bias[i]
		}
		for f, w := range wu {
			s += w * h[f]
		}
		dst[i] = s
	}
}

func (m *BPRMF) checkUser(u int) {
	if u < 0 || u >= m.numUsers {
		panic(fmt.Sprintf("baseline: user %d outside [0, %d)", u, m.numUsers))
	}
}
