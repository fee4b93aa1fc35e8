package baseline

// Known-answer tests: each case is small enough to work out by hand, the arithmetic is in the
// comments, and each fails when the formula or update it guards changes by one term.

import (
	"context"
	"math"
	"testing"
)

// TestBPRMFOneSGDStepHandComputed: one LearnBPR step on 2 users and 3 items, d = 2.
//
// User 0 has items {0, 1}; user 1 has all three items, so it has no negative and is never sampled.
// The trainer is restricted to the single pair (u, i) = (0, 0); the only item user 0 lacks is 2,
// so j = 2. Parameters before the step (α = 0.5, λ = 0.25):
//
//	w0 = [1 2], h0 = [1 1], h2 = [0.5 1], b0 = 1, b2 = 0.5
//
//	x̂_uij = w0·(h0 − h2) + b0 − b2 = [1 2]·[0.5 0] + 0.5 = 1
//	loss  = −ln σ(1) = ln(1 + e^−1) = 0.3132617
//	g     = σ(−1) = 1/(1 + e) = 0.2689414
//
//	w0 ← w0 + α(g(h0 − h2) − λ w0) = [1 + 0.5(0.5g − 0.25), 2 + 0.5(0 − 0.5)] = [0.875 + 0.25g, 1.75]
//	                                                                          = [0.9422354, 1.75]
//	h0 ← h0 + α(g w0 − λ h0)       = [1 + 0.5(g − 0.25), 1 + 0.5(2g − 0.25)]  = [0.875 + 0.5g, 0.875 + g]
//	                                                                          = [1.0094707, 1.1439414]
//	h2 ← h2 + α(−g w0 − λ h2)      = [0.5 + 0.5(−g − 0.125), 1 + 0.5(−2g − 0.25)]
//	                                                                          = [0.4375 − 0.5g, 0.875 − g]
//	                                                                          = [0.3030293, 0.6060586]
//	b0 ← b0 + α(g − λ b0)          = 1 + 0.5(g − 0.25)     = 0.875 + 0.5g   = 1.0094707
//	b2 ← b2 + α(−g − λ b2)         = 0.5 + 0.5(−g − 0.125) = 0.4375 − 0.5g = 0.3030293
//
// (every right-hand side uses the values before the step). User 1 and item 1 are untouched.
func TestBPRMFOneSGDStepHandComputed(t *testing.T) {
	in := Interactions{NumUsers: 2, NumItems: 3, UserItems: [][]int{{0, 1}, {0, 1, 2}}}
	tr, err := newBPRTrainer(in, BPRConfig{Factors: 2, LR: 0.5, Reg: 0.25, Epochs: 1, SamplesPerEpoch: 1, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.pairU) != 2 {
		t.Fatalf("sampleable pairs %v %v: user 1 has every item and must not be sampled", tr.pairU, tr.pairI)
	}
	tr.pairU, tr.pairI = tr.pairU[:1], tr.pairI[:1] // (0, 0)
	if tr.pairU[0] != 0 || tr.pairI[0] != 0 {
		t.Fatalf("first pair is (%d, %d), want (0, 0)", tr.pairU[0], tr.pairI[0])
	}
	m := tr.m
	copy(m.user, []float32{1, 2, 7, 8})
	copy(m.item, []float32{1, 1, 3, 4, 0.5, 1})
	copy(m.bias, []float32{1, 2, 0.5})

	loss, err := tr.epoch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	g := 1 / (1 + math.E)
	near(t, "loss", loss, math.Log1p(math.Exp(-1)), 1e-7)
	near(t, "loss literal", loss, 0.31326168751822286, 1e-7)
	want := []struct {
		name string
		got  float32
		want float64
	}{
		{"w0[0]", m.UserFactors(0)[0], 0.875 + 0.25*g},
		{"w0[1]", m.UserFactors(0)[1], 1.75},
		{"h0[0]", m.ItemFactors(0)[0], 0.875 + 0.5*g},
		{"h0[1]", m.ItemFactors(0)[1], 0.875 + g},
		{"h2[0]", m.ItemFactors(2)[0], 0.4375 - 0.5*g},
		{"h2[1]", m.ItemFactors(2)[1], 0.875 - g},
		{"b0", m.ItemBias(0), 0.875 + 0.5*g},
		{"b2", m.ItemBias(2), 0.4375 - 0.5*g},
		{"w0[0] literal", m.UserFactors(0)[0], 0.9422353553},
		{"h2[1] literal", m.ItemFactors(2)[1], 0.6060585786},
		// untouched
		{"w1[0]", m.UserFactors(1)[0], 7},
		{"w1[1]", m.UserFactors(1)[1], 8},
		{"h1[0]", m.ItemFactors(1)[0], 3},
		{"h1[1]", m.ItemFactors(1)[1], 4},
		{"b1", m.ItemBias(1), 2},
	}
	for _, w := range want {
		near(t, w.name, float64(w.got), w.want, 1e-6)
	}
	// The model scores with the updated parameters: x̂_00 = b0 + w0·h0.
	near(t, "Score(0,0)", float64(m.Score(0, 0)), (0.875+0.5*g)+(0.875+0.25*g)*(0.875+0.5*g)+1.75*(0.875+g), 1e-5)
}

// TestTuneBiasesHandComputed: TuneBiases on the complete 3×3 matrix of TestFitBiasesClosedForm3x3
// (μ = 3, row-mean deviations m_u − μ = (1, −1, 0), column-mean deviations c_i − μ =
// (2/3, −1, 1/3)), whose fit has the closed form b_u = 3(m_u − μ)/(λ_u + 3),
// b_i = 3(c_i − μ)/(λ_i + 3), with the grid {1, 5}:
//
//	λ = 1: b_u = (3/4, −3/4, 0),  b_i = (1/2, −3/4, 1/4)
//	λ = 5: b_u = (3/8, −3/8, 0),  b_i = (1/4, −3/8, 1/8)
//
// Validation ratings (u0, i0, 4) and (u1, i1, 2); predictions 3 + b_u + b_i and MSE:
//
//	(λ_u, λ_i)  r̂(0,0)  r̂(1,1)  errors          MSE
//	(1, 1)      4.25     1.5      0.25, −0.5      (0.0625 + 0.25)/2     = 0.15625
//	(1, 5)      4.0      1.875    0,   −0.125     0.015625/2            = 0.0078125
//	(5, 1)      3.875    1.875    −0.125, −0.125  0.03125/2             = 0.015625
//	(5, 5)      3.625    2.25     −0.375, 0.25    (0.140625 + 0.0625)/2 = 0.1015625
//
// so (λ_u, λ_i) = (1, 5) is chosen, and the returned model is the train-only fit with it.
func TestTuneBiasesHandComputed(t *testing.T) {
	mtx := [3][3]float64{{5, 3, 4}, {2, 1, 3}, {4, 2, 3}}
	var train Ratings
	for u := range 3 {
		for i := range 3 {
			train.Users, train.Items, train.Values = append(train.Users, u), append(train.Items, i), append(train.Values, mtx[u][i])
		}
	}
	valid := Ratings{Users: []int{0, 1}, Items: []int{0, 1}, Values: []float64{4, 2}}
	b, sel, err := TuneBiases(train, valid, 3, 3, BiasConfig{Iterations: 3}, []float64{1, 5})
	if err != nil {
		t.Fatal(err)
	}
	want := []BiasGridPoint{{1, 1, 0.15625}, {1, 5, 0.0078125}, {5, 1, 0.015625}, {5, 5, 0.1015625}}
	if len(sel.Grid) != len(want) {
		t.Fatalf("grid = %+v", sel.Grid)
	}
	for k, w := range want {
		g := sel.Grid[k]
		if g.LambdaU != w.LambdaU || g.LambdaI != w.LambdaI {
			t.Errorf("grid[%d] = (%v, %v), want (%v, %v)", k, g.LambdaU, g.LambdaI, w.LambdaU, w.LambdaI)
		}
		near(t, "grid MSE", g.ValidMSE, w.ValidMSE, 1e-12)
	}
	if sel.Config.LambdaU != 1 || sel.Config.LambdaI != 5 || sel.Config.Iterations != 3 {
		t.Errorf("chose %+v, want λ_u = 1, λ_i = 5, 3 sweeps", sel.Config)
	}
	near(t, "chosen MSE", sel.ValidMSE, 0.0078125, 1e-12)
	near(t, "mu", b.Mean(), 3, 1e-12)
	for k, w := range []float64{3.0 / 4, -3.0 / 4, 0} {
		near(t, "b_u", b.UserBias(k), w, 1e-12)
	}
	for k, w := range []float64{1.0 / 4, -3.0 / 8, 1.0 / 8} {
		near(t, "b_i", b.ItemBias(k), w, 1e-12)
	}
	near(t, "r̂(0,0)", b.Predict(0, 0), 4, 1e-12)
	near(t, "r̂(1,1)", b.Predict(1, 1), 1.875, 1e-12)
}
