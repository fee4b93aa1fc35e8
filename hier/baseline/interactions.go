// Package baseline implements non-neural reference models for hier's
// recommendation and rating tasks, over dense integer ids (users in
// [0, NumUsers), items in [0, NumItems)):
//
//   - [Popularity]: score every item by its training interaction count.
//   - [BPRMF]: matrix factorisation trained with Bayesian Personalized Ranking
//     (Rendle et al., UAI 2009) by SGD with uniform negative sampling.
//   - [GlobalMean] and [Biases]: rating predictors r̂ = μ and
//     r̂ = μ + b_u + b_i (Koren's baseline predictors), with [TuneBiases]
//     choosing the regularisation on a validation set.
//   - [TextClassifier]: a tf-idf ([TFIDF]) + multinomial logistic-regression
//     ([LogReg]) text classifier, the classical baseline for review
//     sentiment, with C chosen on a validation set ([FitTextClassifier]).
//
// [LeaveOneOutRanks] turns any [Scorer] into per-user ranks for the metrics
// of package eval.
//
// Everything is pure Go and deterministic for a given input and seed.
// Training is single-threaded except the logistic-regression objective,
// which sums a fixed number of row blocks evaluated concurrently.
package baseline

import "fmt"

// Interactions is an implicit-feedback training set over dense ids.
//
// UserItems[u] lists the items user u interacted with, in time order
// (oldest first); repeated items are allowed. len(UserItems) may be smaller
// than NumUsers, in which case the remaining users have no interactions.
// Slices are read, never modified, by this package.
type Interactions struct {
	// NumUsers is the number of users; user ids are in [0, NumUsers).
	NumUsers int
	// NumItems is the number of items; item ids are in [0, NumItems).
	NumItems int
	// UserItems[u] is user u's interaction history, oldest first.
	UserItems [][]int
}

// Validate reports whether the counts are non-negative, there are at most
// NumUsers rows and every item id is in [0, NumItems).
func (in Interactions) Validate() error {
	if in.NumUsers < 0 || in.NumItems < 0 {
		return fmt.Errorf("baseline: negative size: %d users, %d items", in.NumUsers, in.NumItems)
	}
	if len(in.UserItems) > in.NumUsers {
		return fmt.Errorf("baseline: %d user rows for NumUsers=%d", len(in.UserItems), in.NumUsers)
	}
	for u, items := range in.UserItems {
		for _, i := range items {
			if i < 0 || i >= in.NumItems {
				return fmt.Errorf("baseline: user %d has item %d outside [0, %d)", u, i, in.NumItems)
			}
		}
	}
	return nil
}

// NumInteractions returns the total number of (user, item) events, counting
// repeats.
func (in Interactions) NumInteractions() int {
	n := 0
	for _, items := range in.UserItems {
		n += len(items)
	}
	return n
}

// Items returns user u's interaction history, or nil if u has none or is
// outside [0, len(UserItems)).
func (in Interactions) Items(u int) []int {
	if u < 0 || u >= len(in.UserItems) {
		return nil
	}
	return in.UserItems[u]
}

// Scorer is a model that scores every item for a user. Implementations in
// this package are safe for concurrent use once fitted.
type Scorer interface {
	// NumItems is the length of the score vector.
	NumItems() int
	// ScoresInto writes the score of every item for user into dst, which
	// must have length NumItems(); higher means more recommended.
	ScoresInto(user int, dst []float32)
}
