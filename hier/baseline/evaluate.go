package baseline

import (
	"fmt"

	"github.com/hier-ai/hier/hier/eval"
)

// LeaveOneOutRanks computes, for every user u with heldOut[u] >= 0, the
// 0-based rank of the held-out item heldOut[u] among all items scored by s,
// with u's training items train.UserItems[u] masked out (the held-out item
// itself is never masked), using [eval.RankOf] and its pessimistic tie rule:
// every unmasked item scored equal to the held-out item ranks ahead of it, so
// a Scorer that gives many items the same score (such as [Popularity], whose
// scores are integer counts) is never rewarded for the tie. Users with
// heldOut[u] < 0 are skipped, so the result has one entry per evaluated user,
// in user order. Feed the result to eval.RankingReport.
//
// It returns an error if len(heldOut) > train.NumUsers, s.NumItems() !=
// train.NumItems, train fails [Interactions.Validate], or a held-out item is
// outside [0, NumItems).
func LeaveOneOutRanks(s Scorer, train Interactions, heldOut []int) ([]int, error) {
	if err := train.Validate(); err != nil {
		return nil, err
	}
	if len(heldOut) > train.NumUsers {
		return nil, fmt.Errorf("baseline: %d held-out entries for %d users", len(heldOut), train.NumUsers)
	}
	if s.NumItems() != train.NumItems {
		return nil, fmt.Errorf("baseline: scorer has %d items, training set %d", s.NumItems(), train.NumItems)
	}
	scores := make([]float32, train.NumItems)
	ranks := make([]int, 0, len(heldOut))
	for u, target := range heldOut {
		if target < 0 {
			continue
		}
		if target >= train.NumItems {
			return nil, fmt.Errorf("baseline: user %d held-out item %d outside [0, %d)", u, target, train.NumItems)
		}
		s.ScoresInto(u, scores)
		ranks = append(ranks, eval.RankOf(scores, target, train.Items(u)))
	}
	return ranks, nil
}
