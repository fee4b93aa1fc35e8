package pipeline

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/hier-ai/hier/hier/data"
)

// SentimentBins maps star ratings to sentiment classes: rating <= NegativeMax is negative,
// rating >= PositiveMin is positive, anything between is neutral (default 1-2 / 3 / 4-5).
type SentimentBins struct {
	NegativeMax float64 `json:"negative_max"`
	PositiveMin float64 `json:"positive_min"`
}

// DefaultSentimentBins: 1-2 negative, 3 neutral, 4-5 positive.
func DefaultSentimentBins() SentimentBins { return SentimentBins{NegativeMax: 2, PositiveMin: 4} }

// SentimentLabels are the class names, by id.
var SentimentLabels = []string{"negative", "neutral", "positive"}

// Label returns the class id of a rating, or -1 for a missing (NaN) rating.
func (b SentimentBins) Label(rating float64) int {
	switch {
	case math.IsNaN(rating):
		return -1
	case rating <= b.NegativeMax:
		return 0
	case rating >= b.PositiveMin:
		return 2
	}
	return 1
}

// Validate checks NegativeMax < PositiveMin.
func (b SentimentBins) Validate() error {
	if !(b.NegativeMax < b.PositiveMin) {
		return fmt.Errorf("sentiment bins: negative_max (%g) must be below positive_min (%g)", b.NegativeMax, b.PositiveMin)
	}
	return nil
}

// texts builds every text the hierarchy reads, from the training split only (plus, for the
// held-out interactions being predicted, their own review text for the sentiment report).
type texts struct {
	sd       *data.SplitData
	hasText  bool
	static   []string         // per item: static description ("" if none)
	itemRecs [][]*data.Record // per item: training records, oldest first
}

func newTexts(sd *data.SplitData) *texts {
	tx := &texts{sd: sd, hasText: sd.Dataset != nil && sd.Dataset.HasReviewText}
	tx.static = make([]string, sd.NumItems())
	if sd.Dataset != nil && sd.Dataset.ItemText != nil {
		for i, id := range sd.ItemIDs {
			tx.static[i] = strings.TrimSpace(sd.Dataset.ItemText[id])
		}
	}
	tx.itemRecs = make([][]*data.Record, sd.NumItems())
	for k := range sd.Train {
		r := &sd.Train[k]
		tx.itemRecs[r.ItemIdx] = append(tx.itemRecs[r.ItemIdx], r)
	}
	for _, rs := range tx.itemRecs {
		sort.SliceStable(rs, func(a, b int) bool {
			if rs[a].Time != rs[b].Time {
				return rs[a].Time < rs[b].Time
			}
			return rs[a].Row < rs[b].Row
		})
	}
	return tx
}

// review is the text of an interaction for the sentiment model: the review (summary and body)
// where the data has reviews, otherwise the item's static description (MovieLens: title and
// genres).
func (tx *texts) review(r *data.Record) string {
	if tx.hasText {
		if s := data.ReviewText(&r.Interaction); s != "" {
			return s
		}
	}
	return tx.static[r.ItemIdx]
}

func clip(s string, maxChars int) string {
	if maxChars <= 0 {
		return s
	}
	rs := []rune(s)
	if len(rs) <= maxChars {
		return s
	}
	return string(rs[:maxChars])
}

// behaviour is the input of the behaviour (rating) model for user u and item i at time t:
// the item's description (its static text, or else the summaries of other users' training
// reviews with their stars) and the user's training history before t (their review summaries,
// or item descriptions without reviews, each with the user's star rating). The interaction's own
// review and rating never enter, so the text can be built for a held-out interaction from
// training data alone.
func (tx *texts) behaviour(u, item int, t int64, row int, maxChars int) string {
	var hist []string
	recs := tx.sd.TrainByUser[u]
	for k := len(recs) - 1; k >= 0 && len(hist) < 4; k-- {
		r := &recs[k]
		if r.Time > t || (r.Time == t && r.Row >= row) || r.ItemIdx == item {
			continue
		}
		h := strings.TrimSpace(r.Summary)
		if h == "" || !tx.hasText {
			h = clip(tx.static[r.ItemIdx], 60)
		}
		if h != "" {
			hist = append(hist, stars(r.Rating)+h)
		}
	}
	desc := tx.static[item]
	if desc == "" {
		var others []string
		for _, r := range tx.itemRecs[item] {
			if r.UserIdx != u && strings.TrimSpace(r.Summary) != "" {
				others = append(others, stars(r.Rating)+strings.TrimSpace(r.Summary))
			}
		}
		if len(others) > 6 {
			others = others[len(others)-6:]
		}
		desc = strings.Join(others, "; ")
	}
	return clip("item: "+desc+" | user: "+strings.Join(hist, "; "), maxChars)
}

// stars renders a rating as a text prefix ("(rated 4) "), or "" when there is none.
func stars(r float64) string {
	if math.IsNaN(r) {
		return ""
	}
	return fmt.Sprintf("(rated %g) ", r)
}
