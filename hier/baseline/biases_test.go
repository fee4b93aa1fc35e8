package baseline

import (
	"math"
	"math/rand/v2"
	"testing"
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
