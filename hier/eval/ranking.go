package eval

import (
	"fmt"
	"math"
	"strconv"
)

// DefaultKs are the cutoffs used by [RankingReport] when it is given no ks:
// K = 5, 10 and 20. Treat it as read-only.
var DefaultKs = []int{5, 10, 20}

// HitRate returns HR@K (hit ratio at K) for leave-one-out evaluation with
// exactly one held-out item per user:
//
//	HR@K = (1/|U|) · Σ_u 1[rank_u < K]
//
// where rank_u is the 0-based rank of user u's held-out item (see [RankOf]).
// With a single relevant item per user HR@K equals Recall@K (He et al.,
// "Neural Collaborative Filtering", WWW 2017, §4.1).
//
// The result is in [0, 1]. It is 0 when ranks is empty or k <= 0. It panics
// if any rank is negative.
func HitRate(ranks []int, k int) float64 {
	if len(ranks) == 0 {
		return 0
	}
	hits := 0
	for _, r := range ranks {
		checkRank(r)
		if r < k {
			hits++
		}
	}
	return float64(hits) / float64(len(ranks))
}

// NDCG returns NDCG@K (normalised discounted cumulative gain at K,
// Järvelin & Kekäläinen, ACM TOIS 2002) for leave-one-out evaluation with
// exactly one held-out item per user and binary relevance:
//
//	DCG@K_u  = Σ_{p=1..K} rel_p / log2(p+1) = 1/log2(rank_u+2) if rank_u < K else 0
//	IDCG@K_u = 1/log2(1+1) = 1        (the single relevant item at position 1)
//	NDCG@K   = (1/|U|) · Σ_u DCG@K_u / IDCG@K_u
//
// where p = rank_u+1 is the 1-based position of the held-out item.
//
// The result is in [0, 1]. It is 0 when ranks is empty or k <= 0. It panics
// if any rank is negative.
func NDCG(ranks []int, k int) float64 {
	if len(ranks) == 0 {
		return 0
	}
	var sum float64
	for _, r := range ranks {
		checkRank(r)
		if r < k {
			sum += 1 / math.Log2(float64(r)+2)
		}
	}
	return sum / float64(len(ranks))
}

// MRR returns the mean reciprocal rank (Voorhees, TREC-8 QA track, 1999) of
// the held-out items over the full candidate list, i.e. with no cutoff:
//
//	MRR = (1/|U|) · Σ_u 1/(rank_u+1)
//
// Every user contributes, however deep its held-out item is ranked; this is
// not the truncated MRR@K variant that scores items beyond K as 0.
//
// The result is in (0, 1], or 0 when ranks is empty. It panics if any rank is
// negative.
func MRR(ranks []int) float64 {
	if len(ranks) == 0 {
		return 0
	}
	var sum float64
	for _, r := range ranks {
		checkRank(r)
		sum += 1 / (float64(r) + 1)
	}
	return sum / float64(len(ranks))
}

// RankingReport computes [HitRate] and [NDCG] at every cutoff in ks plus the
// full-list [MRR]. Keys are "hr@K" and "ndcg@K" with K in decimal, and "mrr";
// for ks = [5, 10, 20] (also used when ks is empty, see [DefaultKs]) they are
// exactly "hr@5", "hr@10", "hr@20", "ndcg@5", "ndcg@10", "ndcg@20" and "mrr".
// The returned map is freshly allocated. It panics if any rank is negative.
func RankingReport(ranks []int, ks []int) map[string]float64 {
	if len(ks) == 0 {
		ks = DefaultKs
	}
	out := make(map[string]float64, 2*len(ks)+1)
	for _, k := range ks {
		s := strconv.Itoa(k)
		out["hr@"+s] = HitRate(ranks, k)
		out["ndcg@"+s] = NDCG(ranks, k)
	}
	out["mrr"] = MRR(ranks)
	return out
}

// RankOf returns the 0-based rank of item target among the candidate items
// when they are sorted by descending score. scores has one entry per item
// (shape [numItems]); item j is a candidate unless j appears in masked (for
// example the user's training items). The target itself is always a
// candidate, even if it appears in masked, so that a held-out item that was
// also seen during training is still ranked. Duplicate entries in masked are
// harmless.
//
// Ties are broken pessimistically: the target ranks behind every other
// candidate with an equal score. Formally, over unmasked j ≠ target,
//
//	rank = #{j : s_j > s_t} + #{j : s_j = s_t}.
//
// So with all scores equal the rank is the number of other unmasked
// candidates, and HR@K is 0 for every K not larger than that number, whatever
// the target's index. Ties are common in practice: a popularity baseline
// gives every item with the same interaction count the same score, and an
// untrained or collapsed model can score many (or all) items identically.
// Any rule that lets the target win some ties (by item index, or the
// optimistic rule that counts only strictly greater scores) rewards a model
// for failing to discriminate, and an index rule also makes the metric depend
// on the arbitrary item numbering. Toolkits handle ties in different ways:
// RecBole takes its top-K lists from torch.topk, whose order among equal
// scores is implementation-defined, and averages tied ranks for GAUC
// (Collector._average_rank); McSherry & Najork ("Computing information
// retrieval performance measures efficiently in the presence of tied
// scores", ECIR 2008) average a measure over all orderings of the tied
// items. The expected rank under a random tie-break lies between the
// optimistic rank #{j : s_j > s_t} and the rank returned here. The
// pessimistic rule is the conservative choice: it never rewards a tie, so a
// tied score can only lower a model's metrics, and the metrics are a lower
// bound on those of every tie-breaking order.
//
// NaN scores are treated as -Inf: a NaN-scored candidate never outranks a
// finite or +Inf target, and a NaN-scored target ranks behind every other
// candidate (other -Inf and NaN scores tie with it, and ties rank ahead).
//
// It panics if target or any masked index is outside [0, len(scores)).
// Complexity is O(len(scores) + len(masked)); it allocates one bitset of
// len(scores)/64 words when masked is non-empty.
func RankOf(scores []float32, target int, masked []int) int {
	n := len(scores)
	if target < 0 || target >= n {
		panic(fmt.Sprintf("eval: RankOf target %d out of range [0, %d)", target, n))
	}
	var mask []uint64
	if len(masked) > 0 {
		mask = make([]uint64, (n+63)/64)
		for _, j := range masked {
			if j < 0 || j >= n {
				panic(fmt.Sprintf("eval: RankOf masked item %d out of range [0, %d)", j, n))
			}
			mask[j>>6] |= 1 << (uint(j) & 63)
		}
	}
	st := nanToNegInf(scores[target])
	rank := 0
	for j, s := range scores {
		if j == target {
			continue
		}
		if mask != nil && mask[j>>6]&(1<<(uint(j)&63)) != 0 {
			continue
		}
		s = nanToNegInf(s)
		if s >= st {
			rank++
		}
	}
	return rank
}

func nanToNegInf(s float32) float32 {
	if s != s { // NaN
		return float32(math.Inf(-1))
	}
	return s
}

func checkRank(r int) {
	if r < 0 {
		panic(fmt.Sprintf("eval: negative rank %d", r))
	}
}
