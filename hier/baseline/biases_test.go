package baseline

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol || math.IsNaN(got) {
		t.Errorf("%s = %.15g, want %.15g (tol %g)", name, got, want, tol)
	}
}

func TestGlobalMean(t *testing.T) {
	near(t, "mean", GlobalMean([]float64{1, 2, 4, 5}), 3, 0)
	near(t, "empty", GlobalMean(nil), 0, 0)
}

// Hand example, λ_u = λ_i = 1, ratings (user, item, r):
//
//	(0,0,5) (0,1,3) (1,0,4) (2,1,1) (2,2,2)       μ = 15/5 = 3
//
// Sweep 1, items with b_u = 0:
//
//	b_i0 = ((5−3) + (4−3)) / (1+2) = 3/3  = 1
//	b_i1 = ((3−3) + (1−3)) / (1+2) = −2/3
//	b_i2 = (2−3) / (1+1)            = −1/2
//
// then users:
//
//	b_u0 = ((5−3−1) + (3−3+2/3)) / (1+2)     = (5/3)/3   = 5/9
//	b_u1 = (4−3−1) / (1+1)                   = 0
//	b_u2 = ((1−3+2/3) + (2−3+1/2)) / (1+2)   = (−11/6)/3 = −11/18
//
// Sweep 2, items:
//
//	b_i0 = ((5−3−5/9) + (4−3−0)) / 3         = (22/9)/3   = 22/27
//	b_i1 = ((3−3−5/9) + (1−3+11/18)) / 3     = (−35/18)/3 = −35/54
//	b_i2 = (2−3+11/18) / 2                   = −7/36
//
// users:
//
//	b_u0 = ((5−3−22/27) + (3−3+35/54)) / 3   = (11/6)/3    = 11/18
//	b_u1 = (4−3−22/27) / 2                   = 5/54
//	b_u2 = ((1−3+35/54) + (2−3+7/36)) / 3    = (−233/108)/3 = −233/324
func TestFitBiasesHandExample(t *testing.T) {
	users := []int{0, 0, 1, 2, 2}
	items := []int{0, 1, 0, 1, 2}
	ratings := []float64{5, 3, 4, 1, 2}
	cfg := BiasConfig{LambdaU: 1, LambdaI: 1, Iterations: 1}

	b, err := FitBiases(users, items, ratings, 4, 4, cfg)
	if err != nil {
		t.Fatal(err)
	}
	const tol = 1e-15
	near(t, "mu", b.Mean(), 3, 0)
	near(t, "b_i0", b.ItemBias(0), 1, tol)
	near(t, "b_i1", b.ItemBias(1), -2.0/3, tol)
	near(t, "b_i2", b.ItemBias(2), -1.0/2, tol)
	near(t, "b_u0", b.UserBias(0), 5.0/9, tol)
	near(t, "b_u1", b.UserBias(1), 0, tol)
	near(t, "b_u2", b.UserBias(2), -11.0/18, tol)
	// r̂(0,2) = 3 + 5/9 − 1/2 = 55/18; r̂(2,0) = 3 − 11/18 + 1 = 61/18.
	near(t, "pred(0,2)", b.Predict(0, 2), 55.0/18, tol)
	near(t, "pred(2,0)", b.Predict(2, 0), 61.0/18, tol)
	// User 3 and item 3 exist but have no ratings; user 9 / item −1 are
	// unknown: all contribute bias 0.
	near(t, "b_u3", b.UserBias(3), 0, 0)
	near(t, "b_i3", b.ItemBias(3), 0, 0)
	near(t, "pred(3,3)", b.Predict(3, 3), 3, 0)
	near(t, "pred(9,0)", b.Predict(9, 0), 4, tol)
	near(t, "pred(0,-1)", b.Predict(0, -1), 3+5.0/9, tol)

	cfg.Iterations = 2
	b, err = FitBiases(users, items, ratings, 4, 4, cfg)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "2: b_i0", b.ItemBias(0), 22.0/27, tol)
	near(t, "2: b_i1", b.ItemBias(1), -35.0/54, tol)
	near(t, "2: b_i2", b.ItemBias(2), -7.0/36, tol)
	near(t, "2: b_u0", b.UserBias(0), 11.0/18, tol)
	near(t, "2: b_u1", b.UserBias(1), 5.0/54, tol)
	near(t, "2: b_u2", b.UserBias(2), -233.0/324, tol)

	cfg.Iterations = 0
	b, err = FitBiases(users, items, ratings, 4, 4, cfg)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "0 sweeps", b.Predict(0, 0), 3, 0)
}

func TestBiasesClip(t *testing.T) {
	// λ = 0, one sweep: μ = (5+1)/2 = 3; b_i0 = (5−3)/1 = 2,
	// b_i1 = (1−3)/1 = −2; b_u0 = ((5−3−2) + (1−3+2))/2 = 0. Unclipped
	// predictions are 5 and 1; clipped to [2, 4] they are 4 and 2.
	users := []int{0, 0}
	items := []int{0, 1}
	ratings := []float64{5, 1}
	cfg := BiasConfig{Iterations: 1, Clip: true, Min: 2, Max: 4}
	b, err := FitBiases(users, items, ratings, 1, 2, cfg)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "b_i0", b.ItemBias(0), 2, 0)
	near(t, "b_i1", b.ItemBias(1), -2, 0)
	near(t, "clip high", b.Predict(0, 0), 4, 0)
	near(t, "clip low", b.Predict(0, 1), 2, 0)
	got := b.PredictAll([]int{0, 0}, []int{0, 1})
	if got[0] != 4 || got[1] != 2 {
		t.Errorf("PredictAll = %v, want [4 2]", got)
	}
	cfg.Clip = false
	b, _ = FitBiases(users, items, ratings, 1, 2, cfg)
	near(t, "no clip high", b.Predict(0, 0), 5, 0)
	near(t, "no clip low", b.Predict(0, 1), 1, 0)
}

// With λ = 0 and ratings exactly r_ui = μ* + b*_u + b*_i on a connected
// bipartite graph, least squares has zero residual, so after enough sweeps
// every prediction — observed or not — equals the truth (the biases
// themselves are identified only up to b_u + c, b_i − c).
func TestFitBiasesRecoversAdditiveTruth(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	const nu, ni = 30, 20
	bu := make([]float64, nu)
	bi := make([]float64, ni)
	for u := range bu {
		bu[u] = r.NormFloat64()
	}
	for i := range bi {
		bi[i] = r.NormFloat64()
	}
	truth := func(u, i int) float64 { return 3.2 + bu[u] + bi[i] }
	for _, density := range []float64{1, 0.3} {
		var users, items []int
		var ratings []float64
		for u := range nu {
			for i := range ni {
				// Keep the diagonal band so the graph stays connected.
				if i == u%ni || i == (u+1)%ni || r.Float64() < density {
					users = append(users, u)
					items = append(items, i)
					ratings = append(ratings, truth(u, i))
				}
			}
		}
		iters := 300
		if density == 1 {
			// A complete matrix is solved exactly by one sweep:
			// b_i = mean_u(r_ui) − μ, b_u = mean_i(r_ui − b_i) − μ.
			iters = 1
		}
		b, err := FitBiases(users, items, ratings, nu, ni, BiasConfig{Iterations: iters})
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for u := range nu {
			for i := range ni {
				worst = max(worst, math.Abs(b.Predict(u, i)-truth(u, i)))
			}
		}
		if worst > 1e-6 {
			t.Errorf("density %.1f, %d ratings, %d sweeps: max |r̂ − r| = %g", density, len(ratings), iters, worst)
		}
	}
}

func TestFitBiasesErrors(t *testing.T) {
	u, i, r := []int{0}, []int{0}, []float64{4}
	ok := DefaultBiasConfig()
	cases := map[string]func() error{
		"length":      func() error { _, err := FitBiases(u, []int{0, 0}, r, 1, 1, ok); return err },
		"empty":       func() error { _, err := FitBiases(nil, nil, nil, 1, 1, ok); return err },
		"user range":  func() error { _, err := FitBiases([]int{1}, i, r, 1, 1, ok); return err },
		"item range":  func() error { _, err := FitBiases(u, []int{-1}, r, 1, 1, ok); return err },
		"nan rating":  func() error { _, err := FitBiases(u, i, []float64{math.NaN()}, 1, 1, ok); return err },
		"neg lambda":  func() error { _, err := FitBiases(u, i, r, 1, 1, BiasConfig{LambdaU: -1}); return err },
		"nan lambda":  func() error { _, err := FitBiases(u, i, r, 1, 1, BiasConfig{LambdaI: math.NaN()}); return err },
		"neg iters":   func() error { _, err := FitBiases(u, i, r, 1, 1, BiasConfig{Iterations: -1}); return err },
		"empty clip":  func() error { _, err := FitBiases(u, i, r, 1, 1, BiasConfig{Clip: true, Min: 5, Max: 1}); return err },
		"neg numUser": func() error { _, err := FitBiases(u, i, r, -1, 1, ok); return err },
	}
	for name, f := range cases {
		if f() == nil {
			t.Errorf("%s: no error", name)
		}
	}
	d := DefaultBiasConfig()
	if d.LambdaU != 10 || d.LambdaI != 25 || d.Iterations != 10 || d.Clip {
		t.Errorf("DefaultBiasConfig = %+v", d)
	}
}

// Closed form on a complete 3×3 matrix, λ_u = 1, λ_i = 2:
//
//	      i0 i1 i2   row mean
//	u0 [  5  3  4 ]  4
//	u1 [  2  1  3 ]  2
//	u2 [  4  2  3 ]  3         μ = 27/9 = 3
//	col   11/3 2 10/3
//
// The normal equations of the penalised least squares are
//
//	(λ_i + 3) b_i = Σ_u (r_ui − μ) − Σ_u b_u = 3(c_i − μ) − Σ_u b_u
//	(λ_u + 3) b_u = Σ_i (r_ui − μ) − Σ_i b_i = 3(m_u − μ) − Σ_i b_i
//
// with column means c_i and row means m_u. Summing each family (the
// deviations sum to 0) gives (λ_u+3) Σb_u = −3 Σb_i and (λ_i+3) Σb_i =
// −3 Σb_u, so Σb_u·((λ_u+3)(λ_i+3) − 9) = 0 and, as λ > 0, Σb_u = Σb_i = 0.
// Hence b_u = 3(m_u − μ)/(λ_u + 3) and b_i = 3(c_i − μ)/(λ_i + 3):
//
//	b_u = 3·(1, −1, 0)/4       = (3/4, −3/4, 0)
//	b_i = 3·(2/3, −1, 1/3)/5   = (2/5, −3/5, 1/5)
//
// ALS reaches it in one sweep (the items see b_u = 0, whose sum is already
// 0; the users then see Σ b_i = 0) and stays there. r̂(0,0) = 3 + 3/4 + 2/5
// = 4.15, r̂(1,1) = 3 − 3/4 − 3/5 = 1.65.
func TestFitBiasesClosedForm3x3(t *testing.T) {
	m := [3][3]float64{{5, 3, 4}, {2, 1, 3}, {4, 2, 3}}
	var users, items []int
	var ratings []float64
	for u := range 3 {
		for i := range 3 {
			users, items, ratings = append(users, u), append(items, i), append(ratings, m[u][i])
		}
	}
	wantU := []float64{3.0 / 4, -3.0 / 4, 0}
	wantI := []float64{2.0 / 5, -3.0 / 5, 1.0 / 5}
	for _, sweeps := range []int{1, 2, 50} {
		b, err := FitBiases(users, items, ratings, 3, 3, BiasConfig{LambdaU: 1, LambdaI: 2, Iterations: sweeps})
		if err != nil {
			t.Fatal(err)
		}
		near(t, "mu", b.Mean(), 3, 0)
		for k := range 3 {
			near(t, "b_u", b.UserBias(k), wantU[k], 1e-15)
			near(t, "b_i", b.ItemBias(k), wantI[k], 1e-15)
		}
		near(t, "pred(0,0)", b.Predict(0, 0), 4.15, 1e-14)
		near(t, "pred(1,1)", b.Predict(1, 1), 1.65, 1e-14)
	}
}

// Sparse 3×3 case (6 of 9 cells), λ_u = 1, λ_i = 2:
//
//	(u0,i0,5) (u0,i1,3) (u1,i0,4) (u1,i2,2) (u2,i1,1) (u2,i2,4)   μ = 19/6
//
// Every user and item has 2 ratings, so the normal equations are
//
//	3 b_u0 + b_i0 + b_i1 = (5−μ)+(3−μ) =  5/3
//	3 b_u1 + b_i0 + b_i2 = (4−μ)+(2−μ) = −1/3
//	3 b_u2 + b_i1 + b_i2 = (1−μ)+(4−μ) = −4/3
//	4 b_i0 + b_u0 + b_u1 = (5−μ)+(4−μ) =  8/3
//	4 b_i1 + b_u0 + b_u2 = (3−μ)+(1−μ) = −7/3
//	4 b_i2 + b_u1 + b_u2 = (2−μ)+(4−μ) = −1/3
//
// with the solution b_u = (19/33, −1/3, −8/33), b_i = (20/33, −2/3, 2/33)
// (check the first: 57/33 + 20/33 − 22/33 = 55/33 = 5/3; the fourth:
// 80/33 + 19/33 − 11/33 = 88/33 = 8/3). ALS is iterative here, so the test
// checks both the solution and that the normal equations hold at the fixed
// point, and solves the 6×6 system independently with gonum's LU.
func TestFitBiasesNormalEquationsSparse3x3(t *testing.T) {
	users := []int{0, 0, 1, 1, 2, 2}
	items := []int{0, 1, 0, 2, 1, 2}
	ratings := []float64{5, 3, 4, 2, 1, 4}
	const lu, li = 1.0, 2.0
	b, err := FitBiases(users, items, ratings, 3, 3, BiasConfig{LambdaU: lu, LambdaI: li, Iterations: 200})
	if err != nil {
		t.Fatal(err)
	}
	mu := 19.0 / 6
	near(t, "mu", b.Mean(), mu, 1e-15)
	wantU := []float64{19.0 / 33, -1.0 / 3, -8.0 / 33}
	wantI := []float64{20.0 / 33, -2.0 / 3, 2.0 / 33}
	for k := range 3 {
		near(t, "b_u", b.UserBias(k), wantU[k], 1e-12)
		near(t, "b_i", b.ItemBias(k), wantI[k], 1e-12)
	}
	// Normal equations at the fitted biases:
	// (λ + |R(x)|) b_x = Σ_{ratings of x} (r − μ − b_other).
	resU, resI := make([]float64, 3), make([]float64, 3)
	cntU, cntI := make([]float64, 3), make([]float64, 3)
	for n, r := range ratings {
		u, i := users[n], items[n]
		resU[u] += r - mu - b.ItemBias(i)
		resI[i] += r - mu - b.UserBias(u)
		cntU[u]++
		cntI[i]++
	}
	for k := range 3 {
		if d := (lu+cntU[k])*b.UserBias(k) - resU[k]; math.Abs(d) > 1e-9 {
			t.Errorf("user %d normal equation residual %g", k, d)
		}
		if d := (li+cntI[k])*b.ItemBias(k) - resI[k]; math.Abs(d) > 1e-9 {
			t.Errorf("item %d normal equation residual %g", k, d)
		}
	}
	// Independent solve of the same system.
	a := mat.NewDense(6, 6, []float64{
		3, 0, 0, 1, 1, 0,
		0, 3, 0, 1, 0, 1,
		0, 0, 3, 0, 1, 1,
		1, 1, 0, 4, 0, 0,
		1, 0, 1, 0, 4, 0,
		0, 1, 1, 0, 0, 4,
	})
	rhs := mat.NewVecDense(6, []float64{5.0 / 3, -1.0 / 3, -4.0 / 3, 8.0 / 3, -7.0 / 3, -1.0 / 3})
	var x mat.VecDense
	if err := x.SolveVec(a, rhs); err != nil {
		t.Fatal(err)
	}
	for k := range 3 {
		near(t, "LU b_u", x.AtVec(k), b.UserBias(k), 1e-12)
		near(t, "LU b_i", x.AtVec(3+k), b.ItemBias(k), 1e-12)
	}
	// A few sweeps are not yet at the fixed point.
	early, _ := FitBiases(users, items, ratings, 3, 3, BiasConfig{LambdaU: lu, LambdaI: li, Iterations: 2})
	if math.Abs(early.ItemBias(0)-wantI[0]) < 1e-6 {
		t.Errorf("2 sweeps already converged (b_i0 = %v); the fixed-point check would be vacuous", early.ItemBias(0))
	}
}

// randomCells splits the cells of a nu×ni matrix into train (about frac of
// them, always including a connected band) and validation, with ratings
// from rating(u, i).
func randomCells(r *rand.Rand, nu, ni int, frac float64, rating func(u, i int) float64) (train, valid Ratings) {
	for u := range nu {
		for i := range ni {
			dst := &valid
			if i == u%ni || i == (u+1)%ni || r.Float64() < frac {
				dst = &train
			}
			dst.Users = append(dst.Users, u)
			dst.Items = append(dst.Items, i)
			dst.Values = append(dst.Values, rating(u, i))
		}
	}
	return train, valid
}

func TestTuneBiases(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	const nu, ni = 40, 30
	bu, bi := make([]float64, nu), make([]float64, ni)
	for u := range bu {
		bu[u] = r.NormFloat64()
	}
	for i := range bi {
		bi[i] = r.NormFloat64()
	}
	cfg := BiasConfig{Iterations: 100, Clip: true, Min: -100, Max: 100}

	// Noise-free additive ratings: the least-squares fit is exact as λ → 0,
	// so the smallest grid pair predicts the held-out cells best.
	train, valid := randomCells(r, nu, ni, 0.5, func(u, i int) float64 { return 3 + bu[u] + bi[i] })
	b, sel, err := TuneBiases(train, valid, nu, ni, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sel.Config.LambdaU != 0.1 || sel.Config.LambdaI != 0.1 {
		t.Errorf("noise-free: chose (%v, %v), want (0.1, 0.1)", sel.Config.LambdaU, sel.Config.LambdaI)
	}
	if len(sel.Grid) != 36 {
		t.Fatalf("grid has %d points, want 36", len(sel.Grid))
	}
	// The chosen point is the grid minimum, its config keeps the other
	// fields, and the returned model is FitBiases with that config.
	for _, g := range sel.Grid {
		if g.ValidMSE < sel.ValidMSE {
			t.Errorf("grid point %+v beats the chosen MSE %v", g, sel.ValidMSE)
		}
	}
	if sel.Config.Iterations != 100 || !sel.Config.Clip || sel.Config.Max != 100 {
		t.Errorf("chosen config lost fields: %+v", sel.Config)
	}
	refit, err := FitBiases(train.Users, train.Items, train.Values, nu, ni, sel.Config)
	if err != nil {
		t.Fatal(err)
	}
	var se float64
	for n, v := range valid.Values {
		p := b.Predict(valid.Users[n], valid.Items[n])
		if p != refit.Predict(valid.Users[n], valid.Items[n]) {
			t.Fatalf("returned model differs from a refit with the chosen config")
		}
		se += (v - p) * (v - p)
	}
	near(t, "valid MSE", sel.ValidMSE, se/float64(valid.Len()), 1e-15)
	// The grid is λ_u-major: point 1 is (0.1, 1), point 6 is (1, 0.1).
	if g := sel.Grid[1]; g.LambdaU != 0.1 || g.LambdaI != 1 {
		t.Errorf("grid[1] = %+v", g)
	}
	if g := sel.Grid[6]; g.LambdaU != 1 || g.LambdaI != 0.1 {
		t.Errorf("grid[6] = %+v", g)
	}

	// Pure noise around 3: biases only fit noise, so heavy shrinkage wins.
	train, valid = randomCells(r, nu, ni, 0.5, func(u, i int) float64 { return 3 + r.NormFloat64() })
	_, sel, err = TuneBiases(train, valid, nu, ni, cfg, []float64{0.1, 1, 100})
	if err != nil {
		t.Fatal(err)
	}
	if sel.Config.LambdaU != 100 || sel.Config.LambdaI != 100 {
		t.Errorf("pure noise: chose (%v, %v), want (100, 100); grid %+v", sel.Config.LambdaU, sel.Config.LambdaI, sel.Grid)
	}
	if len(sel.Grid) != 9 {
		t.Errorf("custom grid has %d points, want 9", len(sel.Grid))
	}
}

func TestTuneBiasesErrors(t *testing.T) {
	train := Ratings{Users: []int{0, 1}, Items: []int{0, 1}, Values: []float64{4, 2}}
	valid := Ratings{Users: []int{0}, Items: []int{1}, Values: []float64{3}}
	cfg := DefaultBiasConfig()
	cases := map[string]func() error{
		"empty valid": func() error { _, _, err := TuneBiases(train, Ratings{}, 2, 2, cfg, nil); return err },
		"valid mismatch": func() error {
			_, _, err := TuneBiases(train, Ratings{Users: []int{0}, Values: []float64{1}}, 2, 2, cfg, nil)
			return err
		},
		"valid user": func() error {
			_, _, err := TuneBiases(train, Ratings{[]int{2}, []int{0}, []float64{1}}, 2, 2, cfg, nil)
			return err
		},
		"valid item": func() error {
			_, _, err := TuneBiases(train, Ratings{[]int{0}, []int{-1}, []float64{1}}, 2, 2, cfg, nil)
			return err
		},
		"valid nan": func() error {
			_, _, err := TuneBiases(train, Ratings{[]int{0}, []int{0}, []float64{math.NaN()}}, 2, 2, cfg, nil)
			return err
		},
		"negative lambda": func() error { _, _, err := TuneBiases(train, valid, 2, 2, cfg, []float64{1, -1}); return err },
		"inf lambda":      func() error { _, _, err := TuneBiases(train, valid, 2, 2, cfg, []float64{math.Inf(1)}); return err },
		"empty train":     func() error { _, _, err := TuneBiases(Ratings{}, valid, 2, 2, cfg, nil); return err },
		"bad config":      func() error { _, _, err := TuneBiases(train, valid, 2, 2, BiasConfig{Iterations: -1}, nil); return err },
	}
	for name, f := range cases {
		if f() == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if train.Len() != 2 {
		t.Errorf("Len = %d", train.Len())
	}
}
