package rec

import (
	"fmt"
	"sort"

	"github.com/hier-ai/hier/hier/eval"
)

// Stage selects what a model is asked to predict: the validation item (history = the training
// items) or the test item (history = the training items and the validation item).
type Stage int

// Stages.
const (
	Valid Stage = iota
	Test
)

func (s Stage) String() string {
	if s == Test {
		return "test"
	}
	return "valid"
}

// Data is the per-user temporal leave-one-out protocol by dense index: users in [0, NumUsers),
// items in [0, NumItems). Every model trains on Train only.
type Data struct {
	NumUsers, NumItems int
	// Train[u] is user u's training items, oldest first.
	Train [][]int
	// ValidItem[u] and TestItem[u] are user u's held-out items, -1 when u has none (users with
	// fewer than 3 interactions are train-only).
	ValidItem, TestItem []int
}

// Validate checks sizes and index ranges; errors name the user and field.
func (d *Data) Validate() error {
	if d.NumUsers <= 0 || d.NumItems <= 0 {
		return fmt.Errorf("rec: data has %d users and %d items", d.NumUsers, d.NumItems)
	}
	if len(d.Train) != d.NumUsers || len(d.ValidItem) != d.NumUsers || len(d.TestItem) != d.NumUsers {
		return fmt.Errorf("rec: data has %d users but %d train rows, %d valid and %d test entries", d.NumUsers, len(d.Train), len(d.ValidItem), len(d.TestItem))
	}
	for u := range d.NumUsers {
		for _, i := range d.Train[u] {
			if i < 0 || i >= d.NumItems {
				return fmt.Errorf("rec: user %d: train item %d outside [0, %d)", u, i, d.NumItems)
			}
		}
		for _, f := range []struct {
			name string
			i    int
		}{{"valid", d.ValidItem[u]}, {"test", d.TestItem[u]}} {
			if f.i < -1 || f.i >= d.NumItems {
				return fmt.Errorf("rec: user %d: %s item %d outside [-1, %d)", u, f.name, f.i, d.NumItems)
			}
		}
	}
	return nil
}

// NumTrain is the number of training interactions.
func (d *Data) NumTrain() int {
	n := 0
	for _, t := range d.Train {
		n += len(t)
	}
	return n
}

// Target is user u's held-out item at stage st, or -1.
func (d *Data) Target(u int, st Stage) int {
	if st == Test {
		return d.TestItem[u]
	}
	return d.ValidItem[u]
}

// History is what user u has seen before the item predicted at stage st, oldest first: the
// training items, plus the validation item at the test stage. Rankings mask it, and sequential
// models read it as their input.
func (d *Data) History(u int, st Stage) []int {
	h := d.Train[u]
	if st == Test && d.ValidItem[u] >= 0 {
		h = append(h[:len(h):len(h)], d.ValidItem[u])
	}
	return h
}

// EvalUsers lists the users with a held-out item at stage st, in index order.
func (d *Data) EvalUsers(st Stage) []int {
	var us []int
	for u := range d.NumUsers {
		if d.Target(u, st) >= 0 {
			us = append(us, u)
		}
	}
	return us
}

// ItemCounts is each item's number of training interactions.
func (d *Data) ItemCounts() []int {
	c := make([]int, d.NumItems)
	for _, items := range d.Train {
		for _, i := range items {
			c[i]++
		}
	}
	return c
}

// Ranks are the 0-based ranks of the held-out items of users Users (same order) at one stage,
// over the full catalogue with each user's history masked and pessimistic ties (eval.RankOf).
type Ranks struct {
	Users []int
	Ranks []int
}

// RankUsers ranks the held-out item of every user in users at stage st, with scores [len(users),
// NumItems] (row r for users[r]). Users without a target at st are skipped.
func (d *Data) RankUsers(users []int, scores *Matrix, st Stage) (Ranks, error) {
	if scores.Rows != len(users) || scores.Cols != d.NumItems {
		return Ranks{}, fmt.Errorf("rec: scores [%d, %d] for %d users and %d items", scores.Rows, scores.Cols, len(users), d.NumItems)
	}
	var r Ranks
	for k, u := range users {
		t := d.Target(u, st)
		if t < 0 {
			continue
		}
		r.Users = append(r.Users, u)
		r.Ranks = append(r.Ranks, eval.RankOf(scores.Row(k), t, d.History(u, st)))
	}
	return r, nil
}

// Metrics are HR@K and NDCG@K for K = 5, 10, 20 and MRR.
func (r Ranks) Metrics() map[string]float64 { return eval.RankingReport(r.Ranks, RankingKs) }

// RankingKs are the cut-offs reported.
var RankingKs = []int{5, 10, 20}

// NDCG10 is NDCG@10 of the ranks.
func (r Ranks) NDCG10() float64 { return eval.NDCG(r.Ranks, 10) }

// Slice is one group of evaluated users in a slice table.
type Slice struct {
	Name   string  `json:"slice"`
	N      int     `json:"n"`
	HR10   float64 `json:"hr@10"`
	NDCG10 float64 `json:"ndcg@10"`
}

// SliceDefs are the slices reported: users by their number of training interactions (3-4, 5-7,
// 8+; fewer than 3 occurs only in sliced or non-5-core data and is reported as 1-2), and held-out
// items by training popularity (head: the ceil(20%) items with the most training interactions,
// equal counts ordered by item index; tail: the rest).
type SliceDefs struct {
	user []string // per user: activity slice
	head []bool   // per item: in the head
}

// NewSliceDefs computes the slice membership of every user and item from the training data.
func NewSliceDefs(d *Data) *SliceDefs {
	s := &SliceDefs{user: make([]string, d.NumUsers), head: make([]bool, d.NumItems)}
	for u, items := range d.Train {
		switch n := len(items); {
		case n <= 2:
			s.user[u] = "users_train_1-2"
		case n <= 4:
			s.user[u] = "users_train_3-4"
		case n <= 7:
			s.user[u] = "users_train_5-7"
		default:
			s.user[u] = "users_train_8+"
		}
	}
	counts := d.ItemCounts()
	order := make([]int, d.NumItems)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return counts[order[a]] > counts[order[b]] })
	for _, i := range order[:max(1, (d.NumItems+4)/5)] { // 20% of the catalogue, ties by index
		s.head[i] = true
	}
	return s
}

// SliceNames is the order of the slice table.
var SliceNames = []string{"users_train_1-2", "users_train_3-4", "users_train_5-7", "users_train_8+", "items_head20", "items_tail80"}

// Table computes n, HR@10 and NDCG@10 per slice for ranks at stage st (the held-out item decides
// the item slice). Empty slices are omitted.
func (s *SliceDefs) Table(d *Data, r Ranks, st Stage) []Slice {
	groups := map[string][]int{}
	for k, u := range r.Users {
		groups[s.user[u]] = append(groups[s.user[u]], r.Ranks[k])
		name := "items_tail80"
		if s.head[d.Target(u, st)] {
			name = "items_head20"
		}
		groups[name] = append(groups[name], r.Ranks[k])
	}
	var out []Slice
	for _, name := range SliceNames {
		g := groups[name]
		if len(g) == 0 {
			continue
		}
		out = append(out, Slice{Name: name, N: len(g), HR10: eval.HitRate(g, 10), NDCG10: eval.NDCG(g, 10)})
	}
	return out
}

// Popular reports whether item i is in the head slice.
func (s *SliceDefs) Popular(i int) bool { return s.head[i] }
