package data

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Record is an Interaction of a split, with dense indices.
type Record struct {
	// UserIdx indexes SplitData.UserIDs, ItemIdx indexes SplitData.ItemIDs.
	UserIdx, ItemIdx int
	// Index is the position of the interaction in Dataset.Interactions
	// (after deduplication); it is the last tie-breaker after (Time, Row).
	Index int
	Interaction
}

// SplitData is a per-user temporal leave-one-out split of a Dataset.
//
// Each user's interactions are ordered by (Time, Row, Index) (a stable sort,
// so ties on Time keep file order): the last one is the user's Test record,
// the second last the Valid record, the rest are training records. Users
// with fewer than 3 interactions have all of them in Train and no Valid or
// Test record (TrainOnlyUsers counts them).
//
// Users and items are indexed densely in order of first appearance in
// Dataset.Interactions (file order) after duplicate removal. Every item of the dataset has an index,
// including items that occur only in Valid/Test (they then have no training
// interactions, i.e. they are cold items).
type SplitData struct {
	Dataset *Dataset

	UserIDs   []string       // user index → user id
	ItemIDs   []string       // item index → item id
	UserIndex map[string]int // user id → user index
	ItemIndex map[string]int // item id → item index

	// Train holds the training records grouped by user index, each user's
	// in chronological order. TrainByUser[u] is user u's part of Train (a
	// sub-slice sharing Train's storage; empty for no training records).
	Train       []Record
	TrainByUser [][]Record
	// Valid and Test hold at most one record per user, in user-index order.
	Valid, Test []Record

	// TrainOnlyUsers is the number of users with fewer than 3 interactions.
	TrainOnlyUsers int
	// Duplicates is the number of repeated (user, item) pairs Split itself
	// removed (0 for datasets from the loaders, which deduplicate already).
	Duplicates int

	validOf, testOf []int // user index → position in Valid/Test, or -1
}

// Split performs the per-user temporal leave-one-out split described at
// SplitData. Duplicate (user, item) pairs still present in ds (hand-made
// datasets) are removed first, keeping the first by (Time, Row); ds itself
// is not modified.
func Split(ds *Dataset) (*SplitData, error) {
	if ds == nil {
		return nil, errors.New("split: nil dataset")
	}
	if len(ds.Interactions) == 0 {
		return nil, errors.New("split: dataset has no interactions")
	}
	keep := dedupIndex(ds.Interactions)
	sd := &SplitData{
		Dataset:    ds,
		UserIndex:  make(map[string]int),
		ItemIndex:  make(map[string]int),
		Duplicates: len(ds.Interactions) - len(keep),
	}
	byUser := [][]Record{}
	for _, pos := range keep {
		it := ds.Interactions[pos]
		u, ok := sd.UserIndex[it.User]
		if !ok {
			u = len(sd.UserIDs)
			sd.UserIndex[it.User] = u
			sd.UserIDs = append(sd.UserIDs, it.User)
			byUser = append(byUser, nil)
		}
		i, ok := sd.ItemIndex[it.Item]
		if !ok {
			i = len(sd.ItemIDs)
			sd.ItemIndex[it.Item] = i
			sd.ItemIDs = append(sd.ItemIDs, it.Item)
		}
		byUser[u] = append(byUser[u], Record{UserIdx: u, ItemIdx: i, Index: pos, Interaction: it})
	}
	nu := len(sd.UserIDs)
	sd.TrainByUser = make([][]Record, nu)
	sd.validOf = make([]int, nu)
	sd.testOf = make([]int, nu)
	sd.Train = make([]Record, 0, len(keep))
	for u, recs := range byUser {
		sortRecords(recs)
		sd.validOf[u], sd.testOf[u] = -1, -1
		n := len(recs)
		if n < 3 {
			sd.TrainOnlyUsers++
		} else {
			sd.validOf[u] = len(sd.Valid)
			sd.Valid = append(sd.Valid, recs[n-2])
			sd.testOf[u] = len(sd.Test)
			sd.Test = append(sd.Test, recs[n-1])
			recs = recs[:n-2]
		}
		start := len(sd.Train)
		sd.Train = append(sd.Train, recs...)
		sd.TrainByUser[u] = sd.Train[start:len(sd.Train):len(sd.Train)]
	}
	return sd, nil
}

// sortRecords orders records by (Time, Row, Index).
func sortRecords(recs []Record) {
	sort.SliceStable(recs, func(a, b int) bool {
		x, y := &recs[a], &recs[b]
		if x.Time != y.Time {
			return x.Time < y.Time
		}
		if x.Row != y.Row {
			return x.Row < y.Row
		}
		return x.Index < y.Index
	})
}

// NumUsers returns the number of indexed users.
func (sd *SplitData) NumUsers() int { return len(sd.UserIDs) }

// NumItems returns the number of indexed items.
func (sd *SplitData) NumItems() int { return len(sd.ItemIDs) }

// ValidFor returns user u's validation record, if the user has one.
func (sd *SplitData) ValidFor(u int) (Record, bool) {
	if u < 0 || u >= len(sd.validOf) || sd.validOf[u] < 0 {
		return Record{}, false
	}
	return sd.Valid[sd.validOf[u]], true
}

// TestFor returns user u's test record, if the user has one.
func (sd *SplitData) TestFor(u int) (Record, bool) {
	if u < 0 || u >= len(sd.testOf) || sd.testOf[u] < 0 {
		return Record{}, false
	}
	return sd.Test[sd.testOf[u]], true
}

// Summary returns a one-line description of the split.
func (sd *SplitData) Summary() string {
	return fmt.Sprintf("split: %d users (%d train-only), %d items; train %d, valid %d, test %d",
		sd.NumUsers(), sd.TrainOnlyUsers, sd.NumItems(), len(sd.Train), len(sd.Valid), len(sd.Test))
}

// ReviewText renders an interaction's review as one string: the summary and
// the text separated by ". " (or " " when the summary already ends in
// punctuation); just one of them when the other is empty; "" when both are.
func ReviewText(it *Interaction) string {
	s := strings.TrimSpace(it.Summary)
	t := strings.TrimSpace(it.Text)
	return joinSentences(s, t, ". ")
}

// joinSentences joins a and b with sep, or with " " when a already ends in
// punctuation; it returns just one of them when the other is empty.
func joinSentences(a, b, sep string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	if strings.ContainsAny(a[len(a)-1:], ".!?:;") {
		return a + " " + b
	}
	return a + sep + b
}

// ItemTexts returns one text per item index, built from the static item
// description (Dataset.ItemText) and the TRAINING split only: never from a
// Valid or Test record. The text is the static description followed by the
// item's training reviews (ReviewText), one per line, in chronological order
// by (Time, Row, Index). maxChars > 0 limits the length in runes: the static
// description is kept first, then as many of the most recent reviews as fit
// (the newest one truncated if not even it fits whole); maxChars <= 0 means
// no limit. Items without static text and training reviews get "".
func (sd *SplitData) ItemTexts(maxChars int) []string {
	perItem := make([][]*Record, len(sd.ItemIDs))
	for k := range sd.Train {
		r := &sd.Train[k]
		perItem[r.ItemIdx] = append(perItem[r.ItemIdx], r)
	}
	out := make([]string, len(sd.ItemIDs))
	for i, recs := range perItem {
		sort.SliceStable(recs, func(a, b int) bool { return recLess(recs[a], recs[b]) })
		entries := make([]string, 0, len(recs))
		for _, r := range recs {
			entries = append(entries, ReviewText(&r.Interaction))
		}
		out[i] = joinBudget(sd.staticText(i), entries, maxChars)
	}
	return out
}

// UserTexts returns one text per user index, built from the TRAINING split
// only: for each of the user's training interactions, in chronological
// order, one line with the item's static description (Dataset.ItemText, if
// any) and the user's review (ReviewText, if any) joined by ": " (or " "
// when the description ends in punctuation). Item texts
// are the static descriptions only (not other users' reviews). maxChars > 0
// keeps the most recent lines that fit (the newest one truncated if not even
// it fits whole); maxChars <= 0 means no limit.
func (sd *SplitData) UserTexts(maxChars int) []string {
	out := make([]string, len(sd.UserIDs))
	for u, recs := range sd.TrainByUser {
		entries := make([]string, 0, len(recs))
		for k := range recs {
			r := &recs[k]
			entries = append(entries, joinSentences(sd.staticText(r.ItemIdx), ReviewText(&r.Interaction), ": "))
		}
		out[u] = joinBudget("", entries, maxChars)
	}
	return out
}

func (sd *SplitData) staticText(i int) string {
	if sd.Dataset == nil || sd.Dataset.ItemText == nil {
		return ""
	}
	return strings.TrimSpace(sd.Dataset.ItemText[sd.ItemIDs[i]])
}

func recLess(x, y *Record) bool {
	if x.Time != y.Time {
		return x.Time < y.Time
	}
	if x.Row != y.Row {
		return x.Row < y.Row
	}
	return x.Index < y.Index
}

// joinBudget joins head and the non-empty entries with newlines, keeping at
// most maxChars runes (maxChars <= 0: no limit). head is always kept first
// (truncated if it alone is too long); then the most recent (last) entries
// that fit are kept in their original order; if not even the last entry
// fits, it is truncated to the remaining budget.
func joinBudget(head string, entries []string, maxChars int) string {
	kept := entries[:0:0]
	for _, e := range entries {
		if e != "" {
			kept = append(kept, e)
		}
	}
	if maxChars <= 0 {
		if head != "" {
			kept = append([]string{head}, kept...)
		}
		return strings.Join(kept, "\n")
	}
	if n := utf8.RuneCountInString(head); n >= maxChars {
		return truncateRunes(head, maxChars)
	}
	// Output length = runes(head) + sum(runes(entry)+1) - (1 if head == "").
	left := maxChars - utf8.RuneCountInString(head)
	if head == "" {
		left++
	}
	first := len(kept) // index of the oldest entry kept
	var cut string     // truncated newest entry, if not even it fits whole
	for k := len(kept) - 1; k >= 0; k-- {
		need := utf8.RuneCountInString(kept[k]) + 1
		if need > left {
			if k == len(kept)-1 && left > 1 {
				cut = truncateRunes(kept[k], left-1)
			}
			break
		}
		left -= need
		first = k
	}
	parts := make([]string, 0, len(kept)-first+2)
	if head != "" {
		parts = append(parts, head)
	}
	if cut != "" {
		parts = append(parts, cut)
	} else {
		parts = append(parts, kept[first:]...)
	}
	return strings.Join(parts, "\n")
}

// truncateRunes returns the first n runes of s.
func truncateRunes(s string, n int) string {
	if n <= 0 {
		return ""
	}
	i := 0
	for k := range s {
		if i == n {
			return s[:k]
		}
		i++
	}
	return s
}
