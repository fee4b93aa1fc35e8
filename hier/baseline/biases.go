package baseline

import (
	"fmt"
	"math"
)

// GlobalMean returns μ = (1/N) Σ_n train_n, the constant rating predictor,
// or 0 if train is empty.
func GlobalMean(train []float64) float64 {
	if len(train) == 0 {
		return 0
	}
	var s float64
	for _, r := range train {
		s += r
	}
	return s / float64(len(train))
}

// BiasConfig configures [FitBiases]. Fields are used as given (zero is a
// valid λ); start from [DefaultBiasConfig].
type BiasConfig struct {
	// LambdaU is the user-bias regularisation λ_u ≥ 0 (Koren's λ3, 10 on
	// Netflix).
	LambdaU float64
	// LambdaI is the item-bias regularisation λ_i ≥ 0 (Koren's λ2, 25 on
	// Netflix).
	LambdaI float64
	// Iterations is the number of alternating (items, then users) sweeps,
	// ≥ 0. One sweep is exactly Koren's one-pass estimate; more sweeps
	// converge to the regularised least-squares solution. With 0 sweeps all
	// biases are 0 and the model predicts μ.
	Iterations int
	// Clip enables clamping predictions to [Min, Max] (e.g. [1, 5] for star
	// ratings). Without it predictions are unbounded.
	Clip bool
	// Min and Max are the clamp bounds used when Clip is set; Min ≤ Max.
	Min, Max float64
}

// DefaultBiasConfig returns λ_u = 10, λ_i = 25 (Koren 2010, §2.1),
// 10 sweeps and no clipping.
func DefaultBiasConfig() BiasConfig {
	return BiasConfig{LambdaU: 10, LambdaI: 25, Iterations: 10}
}

// Biases is Koren's baseline predictor (Y. Koren, "Factorization meets the
// neighborhood", KDD 2008, §2.1; "Factor in the neighbors: scalable and
// accurate collaborative filtering", ACM TKDD 4(1), 2010, §2.1):
//
//	r̂_ui = μ + b_u + b_i
//
// where μ is the global mean training rating and b_u, b_i minimise
//
//	Σ_{(u,i)∈K} (r_ui − μ − b_u − b_i)² + λ_u Σ_u b_u² + λ_i Σ_i b_i².
//
// A fitted model is read-only and safe for concurrent use.
type Biases struct {
	mu       float64
	userBias []float64 // [numUsers]
	itemBias []float64 // [numItems]
	cfg      BiasConfig
}

// FitBiases fits [Biases] to the ratings r_n given by user users[n] to item
// items[n], ids dense in [0, numUsers) and [0, numItems). μ is the mean
// rating; then each of cfg.Iterations sweeps solves exactly for all item
// biases with the user biases fixed, then for all user biases with the new
// item biases fixed (alternating least squares / block coordinate descent):
//
//	b_i ← Σ_{u∈R(i)} (r_ui − μ − b_u) / (λ_i + |R(i)|)
//	b_u ← Σ_{i∈R(u)} (r_ui − μ − b_i) / (λ_u + |R(u)|)
//
// starting from b_u = 0, so the first sweep reproduces Koren's
// (2010, eq. 2.1 ff.) estimates. Users or items without ratings get bias 0.
//
// It returns an error if the slices differ in length or are empty, an id is
// out of range, a rating is not finite, or cfg has a negative λ or
// Iterations, or Clip with Min > Max.
func FitBiases(users, items []int, ratings []float64, numUsers, numItems int, cfg BiasConfig) (*Biases, error) {
	if len(users) != len(ratings) || len(items) != len(ratings) {
		return nil, fmt.Errorf("baseline: FitBiases length mismatch: %d users, %d items, %d ratings", len(users), len(items), len(ratings))
	}
	if len(ratings) == 0 {
		return nil, fmt.Errorf("baseline: FitBiases needs at least one rating")
	}
	if numUsers < 0 || numItems < 0 {
		return nil, fmt.Errorf("baseline: negative size: %d users, %d items", numUsers, numItems)
	}
	if !(cfg.LambdaU >= 0) || !(cfg.LambdaI >= 0) || math.IsInf(cfg.LambdaU, 0) || math.IsInf(cfg.LambdaI, 0) || cfg.Iterations < 0 {
		return nil, fmt.Errorf("baseline: invalid BiasConfig %+v", cfg)
	}
	if cfg.Clip && !(cfg.Min <= cfg.Max) {
		return nil, fmt.Errorf("baseline: BiasConfig clip range [%v, %v] is empty", cfg.Min, cfg.Max)
	}
	items = items[:len(ratings)]
	users = users[:len(ratings)]
	for n, r := range ratings {
		if u, i := users[n], items[n]; u < 0 || u >= numUsers || i < 0 || i >= numItems {
			return nil, fmt.Errorf("baseline: rating %d has (user %d, item %d) outside [0, %d)×[0, %d)", n, u, i, numUsers, numItems)
		}
		if math.IsNaN(r) || math.IsInf(r, 0) {
			return nil, fmt.Errorf("baseline: rating %d is %v", n, r)
		}
	}

	b := &Biases{
		mu:       GlobalMean(ratings),
		userBias: make([]float64, numUsers),
		itemBias: make([]float64, numItems),
		cfg:      cfg,
	}
	userN := make([]float64, numUsers)
	itemN := make([]float64, numItems)
	for n := range ratings {
		userN[users[n]]++
		itemN[items[n]]++
	}
	sums := make([]float64, max(numUsers, numItems))
	// solve sets bias[x] = Σ residual / (λ + count[x]) for the side x (users
	// or items), with residual r − μ − other[y] over that side's ratings.
	solve := func(bias, count []float64, lambda float64, ids, otherIDs []int, other []float64) {
		s := sums[:len(bias)]
		clear(s)
		for n, r := range ratings {
			s[ids[n]] += r - b.mu - other[otherIDs[n]]
		}
		for x := range bias {
			if d := lambda + count[x]; d > 0 && count[x] > 0 {
				bias[x] = s[x] / d
			} else {
				bias[x] = 0
			}
		}
	}
	for range cfg.Iterations {
		solve(b.itemBias, itemN, cfg.LambdaI, items, users, b.userBias)
		solve(b.userBias, userN, cfg.LambdaU, users, items, b.itemBias)
	}
	return b, nil
}

// Mean returns the global mean training rating μ.
func (b *Biases) Mean() float64 { return b.mu }

// NumUsers returns the number of users the model was fitted for.
func (b *Biases) NumUsers() int { return len(b.userBias) }

// NumItems returns the number of items the model was fitted for.
func (b *Biases) NumItems() int { return len(b.itemBias) }

// UserBias returns b_u, or 0 for a user outside [0, NumUsers()).
func (b *Biases) UserBias(u int) float64 {
	if u < 0 || u >= len(b.userBias) {
		return 0
	}
	return b.userBias[u]
}

// ItemBias returns b_i, or 0 for an item outside [0, NumItems()).
func (b *Biases) ItemBias(i int) float64 {
	if i < 0 || i >= len(b.itemBias) {
		return 0
	}
	return b.itemBias[i]
}

// Predict returns r̂_ui = μ + b_u + b_i, clamped to [Min, Max] if the config
// had Clip set. Unknown users and items (out of range, or without training
// ratings) contribute bias 0.
func (b *Biases) Predict(u, i int) float64 {
	r := b.mu + b.UserBias(u) + b.ItemBias(i)
	if b.cfg.Clip {
		r = min(max(r, b.cfg.Min), b.cfg.Max)
	}
	return r
}

// PredictAll returns Predict(users[n], items[n]) for every n. It panics if
// the slices differ in length.
func (b *Biases) PredictAll(users, items []int) []float64 {
	if len(users) != len(items) {
		panic(fmt.Sprintf("baseline: PredictAll length mismatch: %d users, %d items", len(users), len(items)))
	}
	out := make([]float64, len(users))
	for n, u := range users {
		out[n] = b.Predict(u, items[n])
	}
	return out
}

// Ratings is a set of explicit ratings over dense ids: Values[n] is the
// rating user Users[n] gave item Items[n]. The three slices have equal
// length.
type Ratings struct {
	Users  []int
	Items  []int
	Values []float64
}

// Len returns the number of ratings, len(Values).
func (r Ratings) Len() int { return len(r.Values) }

// DefaultBiasLambdaGrid is the set of values tried for each of λ_u and λ_i
// by [TuneBiases] when it is given no grid: 0.1, 1, 3, 10, 30 and 100
// (Koren's Netflix values 10 and 25 lie inside it). Treat it as read-only.
var DefaultBiasLambdaGrid = []float64{0.1, 1, 3, 10, 30, 100}

// BiasGridPoint is the validation error of one (λ_u, λ_i) pair.
type BiasGridPoint struct {
	LambdaU float64 `json:"lambda_u"`
	LambdaI float64 `json:"lambda_i"`
	// ValidMSE is the mean squared error on the validation ratings, in
	// squared rating units.
	ValidMSE float64 `json:"valid_mse"`
}

// BiasSelection is the outcome of [TuneBiases].
type BiasSelection struct {
	// Config is the chosen configuration: the input config with LambdaU and
	// LambdaI set to the best grid pair.
	Config BiasConfig `json:"config"`
	// ValidMSE is the chosen pair's validation MSE (squared rating units).
	ValidMSE float64 `json:"valid_mse"`
	// Grid lists every pair tried, λ_u in the outer and λ_i in the inner
	// loop, each in grid order.
	Grid []BiasGridPoint `json:"grid"`
}

// TuneBiases chooses the regularisation of [Biases] on a validation set: for
// every pair (λ_u, λ_i) in grid × grid it fits [FitBiases] on train with cfg
// (its LambdaU and LambdaI replaced by the pair; Iterations and clipping as
// given), predicts the validation ratings with [Biases.Predict], and keeps
// the pair with the smallest validation mean squared error
//
//	MSE = (1/|V|) Σ_{(u,i,r)∈V} (r − r̂_ui)²
//
// (the first pair in loop order wins a tie). The returned model is the one
// fitted on train alone with the chosen pair, so the validation ratings
// serve only for choosing λ and a test set stays unseen. A nil or empty grid
// means [DefaultBiasLambdaGrid]. The fits use cfg.Iterations sweeps; with
// too few sweeps the biases are not yet the regularised least-squares
// solution (on the Amazon Musical Instruments ratings 10 sweeps, the
// default, have converged: the validation error no longer changes).
//
// It returns an error if train fails [FitBiases]'s checks, valid is empty,
// its slices differ in length, a validation id is outside [0, numUsers) ×
// [0, numItems) or a validation rating is not finite, or a grid value is
// negative or not finite.
func TuneBiases(train, valid Ratings, numUsers, numItems int, cfg BiasConfig, grid []float64) (*Biases, BiasSelection, error) {
	if len(grid) == 0 {
		grid = DefaultBiasLambdaGrid
	}
	for _, l := range grid {
		if !(l >= 0) || math.IsInf(l, 0) {
			return nil, BiasSelection{}, fmt.Errorf("baseline: bias λ grid value %v is not a finite non-negative number", l)
		}
	}
	if len(valid.Users) != len(valid.Values) || len(valid.Items) != len(valid.Values) {
		return nil, BiasSelection{}, fmt.Errorf("baseline: validation length mismatch: %d users, %d items, %d ratings", len(valid.Users), len(valid.Items), len(valid.Values))
	}
	if len(valid.Values) == 0 {
		return nil, BiasSelection{}, fmt.Errorf("baseline: TuneBiases needs at least one validation rating")
	}
	for n, r := range valid.Values {
		if u, i := valid.Users[n], valid.Items[n]; u < 0 || u >= numUsers || i < 0 || i >= numItems {
			return nil, BiasSelection{}, fmt.Errorf("baseline: validation rating %d has (user %d, item %d) outside [0, %d)×[0, %d)", n, u, i, numUsers, numItems)
		}
		if math.IsNaN(r) || math.IsInf(r, 0) {
			return nil, BiasSelection{}, fmt.Errorf("baseline: validation rating %d is %v", n, r)
		}
	}
	var best *Biases
	sel := BiasSelection{ValidMSE: math.Inf(1)}
	for _, lu := range grid {
		for _, li := range grid {
			c := cfg
			c.LambdaU, c.LambdaI = lu, li
			b, err := FitBiases(train.Users, train.Items, train.Values, numUsers, numItems, c)
			if err != nil {
				return nil, BiasSelection{}, err
			}
			var se float64
			for n, r := range valid.Values {
				d := r - b.Predict(valid.Users[n], valid.Items[n])
				se += d * d
			}
			mse := se / float64(len(valid.Values))
			sel.Grid = append(sel.Grid, BiasGridPoint{LambdaU: lu, LambdaI: li, ValidMSE: mse})
			if mse < sel.ValidMSE {
				best, sel.ValidMSE, sel.Config = b, mse, c
			}
		}
	}
	return best, sel, nil
}
