package eval

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// Per-user terms for ranks [0, 3, 9, 25] (see TestRankingHandComputed):
//
//	hit@5  = [1, 1, 0, 0]
//	ndcg@5 = [1/log2(2), 1/log2(5), 0, 0] = [1, 0.430676558073393, 0, 0]
//	ndcg@10 adds 1/log2(11) = 0.289064826317888 for rank 9.
func TestPerUserTerms(t *testing.T) {
	ranks := []int{0, 3, 9, 25}
	if got, want := PerUserHit(ranks, 5), []float64{1, 1, 0, 0}; !slices.Equal(got, want) {
		t.Errorf("PerUserHit@5 = %v, want %v", got, want)
	}
	if got, want := PerUserHit(ranks, 26), []float64{1, 1, 1, 1}; !slices.Equal(got, want) {
		t.Errorf("PerUserHit@26 = %v, want %v", got, want)
	}
	n5 := PerUserNDCG(ranks, 5)
	for u, want := range []float64{1, 0.430676558073393, 0, 0} {
		near(t, "ndcg@5 term", n5[u], want, 1e-14)
	}
	n10 := PerUserNDCG(ranks, 10)
	for u, want := range []float64{1, 0.430676558073393, 0.289064826317888, 0} {
		near(t, "ndcg@10 term", n10[u], want, 1e-14)
	}
	// The means are the aggregate metrics, for several cutoffs.
	for _, k := range []int{0, 1, 4, 5, 10, 20, 26} {
		m, _ := MeanStd(PerUserHit(ranks, k))
		near(t, "mean hit", m, HitRate(ranks, k), eps)
		m, _ = MeanStd(PerUserNDCG(ranks, k))
		near(t, "mean ndcg", m, NDCG(ranks, k), eps)
	}
	if got := PerUserHit(nil, 10); got == nil || len(got) != 0 {
		t.Errorf("PerUserHit(nil) = %#v, want empty non-nil", got)
	}
	if got := PerUserNDCG([]int{0, 1}, 0); !slices.Equal(got, []float64{0, 0}) {
		t.Errorf("PerUserNDCG k=0 = %v", got)
	}
	if !panics(func() { PerUserHit([]int{1, -1}, 5) }) || !panics(func() { PerUserNDCG([]int{-3}, 5) }) {
		t.Error("negative rank did not panic")
	}
}

// [2, 4, 4, 4, 5, 5, 7, 9]: mean 40/8 = 5, Σ(x−5)² = 9+1+1+1+0+0+4+16 = 32,
// sample std √(32/7) = 2.138089935299395 (the population std would be 2).
func TestMeanStd(t *testing.T) {
	m, s := MeanStd([]float64{2, 4, 4, 4, 5, 5, 7, 9})
	near(t, "mean", m, 5, 0)
	near(t, "std", s, math.Sqrt(32.0/7), eps)
	near(t, "std literal", s, 2.138089935299395, 1e-14)
	// Two values 1, 3: mean 2, std √((1+1)/1) = √2.
	m, s = MeanStd([]float64{1, 3})
	near(t, "mean2", m, 2, 0)
	near(t, "std2", s, math.Sqrt2, eps)
	m, s = MeanStd([]float64{3.5})
	near(t, "mean1", m, 3.5, 0)
	near(t, "std1", s, 0, 0)
	m, s = MeanStd(nil)
	near(t, "mean0", m, 0, 0)
	near(t, "std0", s, 0, 0)
	// A large offset does not cancel: [1e9+1, 1e9+2, 1e9+3] has std 1.
	_, s = MeanStd([]float64{1e9 + 1, 1e9 + 2, 1e9 + 3})
	near(t, "offset std", s, 1, 1e-6)
	m, s = MeanStd([]float64{1, math.NaN()})
	if !math.IsNaN(m) || !math.IsNaN(s) {
		t.Errorf("NaN input gave %v, %v", m, s)
	}
}

// Type-7 quantiles of [10, 20, 30, 40, 50] (n = 5, position p·4):
// p=0 → 10; p=0.1 → h=0.4 → 10+0.4·10 = 14; p=0.5 → 30;
// p=0.975 → h=3.9 → 40+0.9·10 = 49; p=1 → 50.
func TestQuantileSorted(t *testing.T) {
	xs := []float64{10, 20, 30, 40, 50}
	for _, c := range []struct{ p, want float64 }{{0, 10}, {0.1, 14}, {0.5, 30}, {0.975, 49}, {1, 50}} {
		near(t, "quantile", quantileSorted(xs, c.p), c.want, 1e-12)
	}
	near(t, "single", quantileSorted([]float64{7}, 0.025), 7, 0)
}

// A constant difference a_u − b_u = 0.25 makes every resample mean 0.25, so
// the interval has zero width at 0.25 and the standard error is 0.
func TestPairedBootstrapConstantDifference(t *testing.T) {
	a := []float64{1, 0.75, 0.5, 0.25, 0.5}
	b := []float64{0.75, 0.5, 0.25, 0, 0.25}
	res, err := PairedBootstrap(a, b, 500, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := BootstrapResult{MeanDiff: 0.25, BootMean: 0.25, StdErr: 0, CILow: 0.25, CIHigh: 0.25, Resamples: 500}
	if res != want {
		t.Errorf("constant difference: %+v, want %+v", res, want)
	}
}

// d = [−1, +1]: a resample of two users has mean −1 (both draws −1,
// probability 1/4), 0 (1/2) or +1 (1/4). With B = 2000 about 500 replicates
// are −1 and 500 are +1, so the 2.5% and 97.5% quantiles (positions 49.975
// and 1949.025 of 2000 sorted values) fall inside those blocks: the interval
// is exactly [−1, 1], the observed mean is 0, and the bootstrap mean is 0
// up to noise (its sd is √(0.5/2000) ≈ 0.016). The bootstrap std error
// estimates √(0.5) ≈ 0.707 (the variance of a 2-draw mean is 1/2).
func TestPairedBootstrapSymmetric(t *testing.T) {
	a := []float64{0, 1}
	b := []float64{1, 0}
	res, err := PairedBootstrap(a, b, 2000, 7)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "mean diff", res.MeanDiff, 0, 0)
	near(t, "ci low", res.CILow, -1, 0)
	near(t, "ci high", res.CIHigh, 1, 0)
	near(t, "boot mean", res.BootMean, 0, 0.08)
	near(t, "std err", res.StdErr, math.Sqrt(0.5), 0.05)
	if res.Resamples != 2000 {
		t.Errorf("Resamples = %d", res.Resamples)
	}
	// Swapping the systems mirrors the result exactly (same draws).
	rev, err := PairedBootstrap(b, a, 2000, 7)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "mirrored low", rev.CILow, -res.CIHigh, 0)
	near(t, "mirrored high", rev.CIHigh, -res.CILow, 0)
	near(t, "mirrored mean", rev.BootMean, -res.BootMean, 1e-15)
}

// For d_u ~ N(0.1, 1) over n = 400 users the mean's standard error is
// about 1/√400 = 0.05, so the 95% interval is about mean ± 1.96·0.05 =
// mean ± 0.098; the bootstrap must reproduce that width to within ~15%.
func TestPairedBootstrapNormalWidth(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	n := 400
	a, b := make([]float64, n), make([]float64, n)
	for u := range a {
		b[u] = r.Float64()
		a[u] = b[u] + 0.1 + r.NormFloat64()
	}
	res, err := PairedBootstrap(a, b, 4000, 11)
	if err != nil {
		t.Fatal(err)
	}
	d := make([]float64, n)
	for u := range d {
		d[u] = a[u] - b[u]
	}
	m, s := MeanStd(d)
	near(t, "mean diff", res.MeanDiff, m, 1e-12)
	se := s / math.Sqrt(float64(n))
	near(t, "std err", res.StdErr, se, 0.1*se)
	near(t, "half width low", res.MeanDiff-res.CILow, 1.96*se, 0.15*1.96*se)
	near(t, "half width high", res.CIHigh-res.MeanDiff, 1.96*se, 0.15*1.96*se)
	if !(res.CILow < res.BootMean && res.BootMean < res.CIHigh) {
		t.Errorf("boot mean %v outside [%v, %v]", res.BootMean, res.CILow, res.CIHigh)
	}
}

func TestPairedBootstrapDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	a, b := make([]float64, 50), make([]float64, 50)
	for u := range a {
		a[u], b[u] = r.Float64(), r.Float64()
	}
	x, err := PairedBootstrap(a, b, 300, 42)
	if err != nil {
		t.Fatal(err)
	}
	y, _ := PairedBootstrap(a, b, 300, 42)
	if x != y {
		t.Errorf("same seed: %+v vs %+v", x, y)
	}
	z, _ := PairedBootstrap(a, b, 300, 43)
	if z.CILow == x.CILow && z.CIHigh == x.CIHigh && z.BootMean == x.BootMean {
		t.Errorf("different seeds gave identical results %+v", z)
	}
	if z.MeanDiff != x.MeanDiff {
		t.Errorf("observed mean depends on the seed: %v vs %v", z.MeanDiff, x.MeanDiff)
	}
	// JSON keys are snake_case.
	js, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"mean_diff", "boot_mean", "std_err", "ci_low", "ci_high", "resamples"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON %s lacks %q", js, k)
		}
	}
	if len(m) != 6 {
		t.Errorf("JSON has %d keys: %s", len(m), js)
	}
}

func TestPairedBootstrapErrors(t *testing.T) {
	for name, f := range map[string]func() error{
		"length":    func() error { _, err := PairedBootstrap([]float64{1}, []float64{1, 2}, 10, 0); return err },
		"empty":     func() error { _, err := PairedBootstrap(nil, nil, 10, 0); return err },
		"zero B":    func() error { _, err := PairedBootstrap([]float64{1}, []float64{0}, 0, 0); return err },
		"nan":       func() error { _, err := PairedBootstrap([]float64{math.NaN()}, []float64{0}, 10, 0); return err },
		"inf":       func() error { _, err := PairedBootstrap([]float64{0}, []float64{math.Inf(1)}, 10, 0); return err },
		"negativeB": func() error { _, err := PairedBootstrap([]float64{1}, []float64{0}, -5, 0); return err },
	} {
		if f() == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// A single pair is valid: every resample is that pair.
	res, err := PairedBootstrap([]float64{0.5}, []float64{0.125}, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.CILow != 0.375 || res.CIHigh != 0.375 || res.MeanDiff != 0.375 {
		t.Errorf("single pair: %+v", res)
	}
}
