package baseline

import "fmt"

// Popularity is the most-popular baseline: every user receives the same
// scores, the number of training interactions of each item (repeats
// counted). Counts are stored as float32 and are exact up to 2^24.
type Popularity struct {
	counts []float32
}

// FitPopularity counts the training interactions of every item. It returns
// an error if in fails [Interactions.Validate].
func FitPopularity(in Interactions) (*Popularity, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	counts := make([]float32, in.NumItems)
	for _, items := range in.UserItems {
		for _, i := range items {
			counts[i]++
		}
	}
	return &Popularity{counts: counts}, nil
}

// NumItems returns the number of items scored.
func (p *Popularity) NumItems() int { return len(p.counts) }

// Count returns the training interaction count of item i (panics if i is out
// of range).
func (p *Popularity) Count(i int) float32 { return p.counts[i] }

// Scores returns a fresh slice of length NumItems() with the interaction
// count of every item. user is ignored: popularity is not personalised.
func (p *Popularity) Scores(user int) []float32 {
	out := make([]float32, len(p.counts))
	p.ScoresInto(user, out)
	return out
}

// ScoresInto copies the item counts into dst, which must have length
// NumItems() (it panics otherwise). user is ignored.
func (p *Popularity) ScoresInto(user int, dst []float32) {
	if len(dst) != len(p.counts) {
		panic(fmt.Sprintf("baseline: Popularity.ScoresInto dst has length %d, want %d", len(dst), len(p.counts)))
	}
	copy(dst, p.counts)
}
