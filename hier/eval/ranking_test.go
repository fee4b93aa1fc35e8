package eval

import (
	"math"
	"testing"
)

const eps = 1e-12

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol || math.IsNaN(got) != math.IsNaN(want) {
		t.Errorf("%s = %.15g, want %.15g (tol %g)", name, got, want, tol)
	}
}

// ranks [0, 3, 9, 25]:
//
//	HR@5  = |{0,3}|/4     = 0.5
//	HR@10 = |{0,3,9}|/4   = 0.75
//	HR@20 = |{0,3,9}|/4   = 0.75
//	NDCG@5  = (1/log2(2) + 1/log2(5)) / 4
//	        = (1 + 0.430676558073393) / 4                     = 0.357669139518348
//	NDCG@10 = (1 + 1/log2(5) + 1/log2(11)) / 4
//	        = (1 + 0.430676558073393 + 0.289064826317888) / 4 = 0.429935346097820
//	NDCG@20 = NDCG@10 (rank 25 is beyond 20)
//	MRR = (1/1 + 1/4 + 1/10 + 1/26) / 4 = (1 + 0.25 + 0.1 + 0.0384615384615385)/4
//	    = 1.3884615384615385 / 4 = 0.347115384615385
func TestRankingHandComputed(t *testing.T) {
	ranks := []int{0, 3, 9, 25}
	near(t, "HR@5", HitRate(ranks, 5), 0.5, eps)
	near(t, "HR@10", HitRate(ranks, 10), 0.75, eps)
	near(t, "HR@20", HitRate(ranks, 20), 0.75, eps)
	near(t, "HR@26", HitRate(ranks, 26), 1, eps)
	near(t, "HR@1", HitRate(ranks, 1), 0.25, eps)

	near(t, "NDCG@5", NDCG(ranks, 5), (1+1/math.Log2(5))/4, eps)
	near(t, "NDCG@5 literal", NDCG(ranks, 5), 0.357669139518348, 1e-14)
	near(t, "NDCG@10", NDCG(ranks, 10), (1+1/math.Log2(5)+1/math.Log2(11))/4, eps)
	near(t, "NDCG@10 literal", NDCG(ranks, 10), 0.429935346097820, 1e-14)
	near(t, "NDCG@20", NDCG(ranks, 20), NDCG(ranks, 10), 0)
	near(t, "NDCG@1", NDCG(ranks, 1), 0.25, eps)

	near(t, "MRR", MRR(ranks), (1+1.0/4+1.0/10+1.0/26)/4, eps)
	near(t, "MRR literal", MRR(ranks), 0.347115384615385, 1e-14)

	rep := RankingReport(ranks, []int{5, 10, 20})
	want := map[string]float64{
		"hr@5": 0.5, "hr@10": 0.75, "hr@20": 0.75,
		"ndcg@5": 0.357669139518348, "ndcg@10": 0.429935346097820, "ndcg@20": 0.429935346097820,
		"mrr": 0.347115384615385,
	}
	if len(rep) != len(want) {
		t.Fatalf("RankingReport keys = %v, want %d keys", rep, len(want))
	}
	for k, v := range want {
		got, ok := rep[k]
		if !ok {
			t.Errorf("RankingReport missing key %q", k)
			continue
		}
		near(t, k, got, v, 1e-14)
	}
	// nil ks uses the default cutoffs 5, 10, 20.
	def := RankingReport(ranks, nil)
	for k, v := range rep {
		near(t, "default "+k, def[k], v, 0)
	}
	if len(def) != 7 {
		t.Errorf("default report has %d keys, want 7", len(def))
	}
}

func TestRankingEdgeCases(t *testing.T) {
	near(t, "HR empty", HitRate(nil, 10), 0, 0)
	near(t, "NDCG empty", NDCG(nil, 10), 0, 0)
	near(t, "MRR empty", MRR(nil), 0, 0)
	near(t, "HR k=0", HitRate([]int{0, 1}, 0), 0, 0)
	near(t, "NDCG k=0", NDCG([]int{0, 1}, 0), 0, 0)
	// All at rank 0: every metric is 1.
	top := []int{0, 0, 0}
	near(t, "HR top", HitRate(top, 1), 1, 0)
	near(t, "NDCG top", NDCG(top, 1), 1, 0)
	near(t, "MRR top", MRR(top), 1, 0)
	// Rank 1 at K=2: NDCG = 1/log2(3) = 0.630929753571457.
	near(t, "NDCG rank1", NDCG([]int{1}, 2), 0.630929753571457, 1e-14)

	for name, f := range map[string]func(){
		"HitRate": func() { HitRate([]int{-1}, 5) },
		"NDCG":    func() { NDCG([]int{0, -2}, 5) },
		"MRR":     func() { MRR([]int{-1}) },
	} {
		if !panics(f) {
			t.Errorf("%s with negative rank did not panic", name)
		}
	}
}

func panics(f func()) (p bool) {
	defer func() { p = recover() != nil }()
	f()
	return false
}

func TestRankOf(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	//             0    1    2    3    4    5
	s := []float32{0.9, 0.1, 0.5, 0.7, 0.5, 0.3}
	cases := []struct {
		name   string
		scores []float32
		target int
		masked []int
		want   int
	}{
		// Descending order: 0(.9) 3(.7) 2(.5) 4(.5) 5(.3) 1(.1).
		{"top", s, 0, nil, 0},
		{"bottom", s, 1, nil, 5},
		{"middle", s, 3, nil, 1},
		// Tie 2 vs 4 (both 0.5): pessimistic, each ranks behind the other
		// (0 and 3 ahead, plus the tie partner), whatever the index.
		{"tie smaller index", s, 2, nil, 3},
		{"tie larger index", s, 4, nil, 3},
		// Masking items 0 and 3 (ahead of 5) removes them: 2, 4 remain ahead.
		{"masked ahead", s, 5, []int{0, 3}, 2},
		// Masking items behind the target changes nothing.
		{"masked behind", s, 3, []int{1, 5}, 1},
		// Duplicates in masked are harmless.
		{"masked dup", s, 5, []int{0, 0, 3, 3, 0}, 2},
		// Masked tie partner: item 2 masked, so 4 has only 0 and 3 ahead.
		{"masked tie", s, 2, []int{4}, 2},
		{"masked tie 2", s, 4, []int{2}, 2},
		// The target is never masked, even if listed: 0, 3 and the tie
		// partner 2 are ahead of 4.
		{"target in mask", s, 4, []int{4, 1}, 3},
		// All equal: every other unmasked item is ahead.
		{"all equal first", []float32{1, 1, 1, 1, 1}, 0, nil, 4},
		{"all equal", []float32{1, 1, 1, 1, 1}, 3, nil, 4},
		{"all equal last", []float32{1, 1, 1, 1, 1}, 4, nil, 4},
		{"all equal masked", []float32{1, 1, 1, 1, 1}, 3, []int{0, 4}, 2},
		// NaN candidates act as -Inf: never ahead of a finite target.
		{"nan candidate", []float32{nan, 0.2, nan, 0.1}, 3, nil, 1},
		// NaN target acts as -Inf: behind every other candidate, including
		// the other NaN (0) and -Inf (2) ones, which tie with it.
		{"nan target", []float32{nan, 0.2, -inf, nan, 0.1}, 3, nil, 4},
		{"nan target first", []float32{nan, 0.2, -inf, nan, 0.1}, 0, nil, 4},
		// -Inf target vs NaN (also -Inf): tie, so the NaN is ahead too.
		{"neg inf vs nan", []float32{nan, -inf, 0}, 1, nil, 2},
		// A finite target is ahead of NaN and -Inf candidates.
		{"finite vs nan and -inf", []float32{nan, -inf, -1e30}, 2, nil, 0},
		// +0 and -0 are equal scores and tie.
		{"signed zero", []float32{float32(math.Copysign(0, -1)), 0}, 1, nil, 1},
		{"single", []float32{0.3}, 0, []int{0}, 0},
		{"+inf", []float32{inf, inf, 1}, 1, nil, 1},
		{"+inf first", []float32{inf, inf, 1}, 0, nil, 1},
		{"+inf alone", []float32{1, inf, 1}, 1, nil, 0},
	}
	for _, c := range cases {
		if got := RankOf(c.scores, c.target, c.masked); got != c.want {
			t.Errorf("%s: RankOf(%v, %d, %v) = %d, want %d", c.name, c.scores, c.target, c.masked, got, c.want)
		}
	}
}

// With all 100 scores equal the target is behind the 99 other candidates
// whatever its index, so no cutoff up to 99 counts it as a hit: HR@10 = 0 and
// NDCG@10 = 0 for every target, and MRR = 1/100. (Under the former
// index-order rule targets 0-9 scored HR@10 = 1.) With 9 items masked the
// rank is 90, still outside the top 10.
func TestRankOfAllEqualNeverHits(t *testing.T) {
	const n = 100
	s := make([]float32, n)
	for i := range s {
		s[i] = 0.25
	}
	masked := []int{1, 2, 3, 4, 5, 6, 7, 8, 9}
	ranks := make([]int, 0, n)
	for target := range n {
		r := RankOf(s, target, nil)
		if r != n-1 {
			t.Errorf("target %d: rank %d, want %d", target, r, n-1)
		}
		ranks = append(ranks, r)
		want := n - 1 - len(masked)
		if target >= 1 && target <= 9 {
			want++ // the target itself is never masked
		}
		if got := RankOf(s, target, masked); got != want {
			t.Errorf("target %d masked: rank %d, want %d", target, got, want)
		}
		if hr := HitRate([]int{r}, 10); hr != 0 {
			t.Errorf("target %d: HR@10 = %v, want 0", target, hr)
		}
	}
	near(t, "HR@10", HitRate(ranks, 10), 0, 0)
	near(t, "NDCG@10", NDCG(ranks, 10), 0, 0)
	near(t, "HR@99", HitRate(ranks, 99), 0, 0)
	near(t, "HR@100", HitRate(ranks, 100), 1, 0)
	near(t, "MRR", MRR(ranks), 1.0/100, eps)
}

func TestRankOfLarge(t *testing.T) {
	// 200 items with score = -index: rank of target t is t minus the number
	// of masked items below t (crosses several 64-bit mask words). For 150:
	// masked below are 3, 63, 64, 65, 127, 128 (150 itself is the target).
	n := 200
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(-i)
	}
	masked := []int{3, 63, 64, 65, 127, 128, 150, 199}
	if got := RankOf(s, 150, masked); got != 150-6 {
		t.Errorf("RankOf large = %d, want %d", got, 144)
	}
	if got := RankOf(s, 199, masked); got != 199-7 {
		t.Errorf("RankOf last = %d, want %d", got, 192)
	}
}

func TestRankOfPanics(t *testing.T) {
	s := []float32{1, 2, 3}
	for name, f := range map[string]func(){
		"target negative": func() { RankOf(s, -1, nil) },
		"target too big":  func() { RankOf(s, 3, nil) },
		"mask negative":   func() { RankOf(s, 0, []int{-1}) },
		"mask too big":    func() { RankOf(s, 0, []int{3}) },
		"empty scores":    func() { RankOf(nil, 0, nil) },
	} {
		if !panics(f) {
			t.Errorf("%s: no panic", name)
		}
	}
}

func BenchmarkRankOf(b *testing.B) {
	n := 900
	s := make([]float32, n)
	for i := range s {
		s[i] = float32((i * 7919) % 1000)
	}
	masked := []int{1, 5, 17, 300, 899, 450, 12}
	for b.Loop() {
		RankOf(s, 450, masked)
	}
}
