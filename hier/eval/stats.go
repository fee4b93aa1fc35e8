package eval

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// PerUserHit returns the per-user terms of [HitRate]: out[u] = 1 if
// ranks[u] < k, else 0, one value per rank (shape [len(ranks)]). Their mean
// is HitRate(ranks, k); feed them to [MeanStd] or [PairedBootstrap] for
// variances and confidence intervals. It returns an empty (non-nil) slice for
// empty ranks, all zeros for k <= 0, and panics if any rank is negative (as
// [HitRate] does).
func PerUserHit(ranks []int, k int) []float64 {
	out := make([]float64, len(ranks))
	for u, r := range ranks {
		checkRank(r)
		if r < k {
			out[u] = 1
		}
	}
	return out
}

// PerUserNDCG returns the per-user terms of [NDCG]: out[u] =
// 1/log2(ranks[u]+2) if ranks[u] < k, else 0, one value in [0, 1] per rank
// (shape [len(ranks)]). Their mean is NDCG(ranks, k). It returns an empty
// (non-nil) slice for empty ranks, all zeros for k <= 0, and panics if any
// rank is negative (as [NDCG] does).
func PerUserNDCG(ranks []int, k int) []float64 {
	out := make([]float64, len(ranks))
	for u, r := range ranks {
		checkRank(r)
		if r < k {
			out[u] = 1 / math.Log2(float64(r)+2)
		}
	}
	return out
}

// MeanStd returns the arithmetic mean of xs and its sample standard
// deviation with Bessel's correction (divisor n−1, as numpy.std(xs, ddof=1)
// and R's sd):
//
//	mean = (1/n) Σ x_i
//	std  = √( Σ (x_i − mean)² / (n − 1) )
//
// The std is of the values themselves, not the standard error of the mean
// (divide by √n for that). For n < 2 the std is 0 (it is undefined; a single
// value has no spread to estimate), and for n = 0 the mean is 0 too. NaN
// inputs propagate to both results. The sum of squares is taken about the
// mean (two passes), which avoids the cancellation of the Σx² − n·mean² form.
func MeanStd(xs []float64) (mean, std float64) {
	n := len(xs)
	if n == 0 {
		return 0, 0
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	mean = s / float64(n)
	if n < 2 {
		return mean, 0
	}
	var ss float64
	for _, x := range xs {
		d := x - mean
		ss += d * d
	}
	return mean, math.Sqrt(ss / float64(n-1))
}

// BootstrapResult is the outcome of [PairedBootstrap]: the mean per-user
// difference d_u = a_u − b_u between two systems and its 95% percentile
// bootstrap interval, in the units of the inputs (for per-user NDCG terms,
// NDCG points in [−1, 1]).
type BootstrapResult struct {
	// MeanDiff is the observed mean difference (1/n) Σ_u (a_u − b_u).
	MeanDiff float64 `json:"mean_diff"`
	// BootMean is the mean of the bootstrap replicates of MeanDiff; it
	// differs from MeanDiff only by resampling noise (the mean is unbiased).
	BootMean float64 `json:"boot_mean"`
	// StdErr is the standard deviation (divisor B−1) of the bootstrap
	// replicates, the bootstrap estimate of the standard error of MeanDiff.
	StdErr float64 `json:"std_err"`
	// CILow and CIHigh are the 2.5% and 97.5% percentiles of the bootstrap
	// replicates (percentile interval, nominal 95% coverage).
	CILow  float64 `json:"ci_low"`
	CIHigh float64 `json:"ci_high"`
	// Resamples is the number B of bootstrap replicates.
	Resamples int `json:"resamples"`
}

// PairedBootstrap estimates the sampling distribution of the mean paired
// difference mean(a − b) over users with the nonparametric bootstrap
// (B. Efron & R. J. Tibshirani, "An Introduction to the Bootstrap", Chapman
// & Hall 1993, ch. 6 and 13). a[u] and b[u] must be the same user's scores
// under two systems (for example [PerUserNDCG] of each system's ranks on the
// same users in the same order); pairing keeps the between-user variance out
// of the comparison.
//
// Each of the resamples replicates draws n = len(a) user indices uniformly
// with replacement and takes the mean of d_u = a_u − b_u over the draw. The
// interval is the percentile interval [q(0.025), q(0.975)] of the B
// replicates, where q(p) interpolates linearly between order statistics at
// position p·(B−1) (0-based; Hyndman & Fan type 7, numpy.percentile's
// default). An interval that excludes 0 indicates a difference at roughly the
// 5% level (two-sided).
//
// The draws come from math/rand/v2's PCG seeded with (seed, a fixed
// constant), so the result is a deterministic function of the inputs, B and
// seed. Time is O(B·n) and memory O(B + n).
//
// It returns an error if len(a) != len(b), the inputs are empty, resamples
// < 1, or any value is NaN or infinite.
func PairedBootstrap(a, b []float64, resamples int, seed uint64) (BootstrapResult, error) {
	if len(a) != len(b) {
		return BootstrapResult{}, fmt.Errorf("eval: PairedBootstrap length mismatch: %d vs %d", len(a), len(b))
	}
	if len(a) == 0 {
		return BootstrapResult{}, errors.New("eval: PairedBootstrap needs at least one pair")
	}
	if resamples < 1 {
		return BootstrapResult{}, fmt.Errorf("eval: PairedBootstrap needs resamples >= 1, got %d", resamples)
	}
	n := len(a)
	d := make([]float64, n)
	for u := range d {
		d[u] = a[u] - b[u]
		if math.IsNaN(d[u]) || math.IsInf(d[u], 0) {
			return BootstrapResult{}, fmt.Errorf("eval: PairedBootstrap pair %d is not finite: a=%v b=%v", u, a[u], b[u])
		}
	}
	obs, _ := MeanStd(d)

	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	reps := make([]float64, resamples)
	for k := range reps {
		var s float64
		for range n {
			s += d[r.IntN(n)]
		}
		reps[k] = s / float64(n)
	}
	bm, se := MeanStd(reps)
	slices.Sort(reps)
	return BootstrapResult{
		MeanDiff:  obs,
		BootMean:  bm,
		StdErr:    se,
		CILow:     quantileSorted(reps, 0.025),
		CIHigh:    quantileSorted(reps, 0.975),
		Resamples: resamples,
	}, nil
}

// quantileSorted returns the p-quantile (p in [0, 1]) of the ascending,
// non-empty xs by linear interpolation between the order statistics at
// 0-based position h = p·(n−1) (Hyndman & Fan 1996, type 7):
// xs[⌊h⌋] + (h − ⌊h⌋)·(xs[⌊h⌋+1] − xs[⌊h⌋]).
func quantileSorted(xs []float64, p float64) float64 {
	h := p * float64(len(xs)-1)
	lo := int(math.Floor(h))
	if lo >= len(xs)-1 {
		return xs[len(xs)-1]
	}
	f := h - float64(lo)
	if f == 0 {
		return xs[lo]
	}
	return xs[lo] + f*(xs[lo+1]-xs[lo])
}
