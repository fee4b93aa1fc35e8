package gpt2

import (
	"github.com/sugarme/tokenizer/model/bpe"
)

// This file holds the BPE merge loop. It replaces sugarme's
// bpe.Word.MergeAll, which breaks ties between equal-rank queue entries
// arbitrarily (see the comment at the top of tokenizer.go). The merge table
// is still sugarme's (bpe.Merges: Pair -> PairVal{Rank, NewId}, built by
// LoadTokenizer from merges.txt).
//
// Algorithm: a priority queue of candidate merges ordered by (rank,
// position), over a doubly linked list of symbols, like sugarme's MergeAll
// and Hugging Face tokenizers, but with the position tie-break. This gives
// the same result as GPT-2's reference bpe() loop ("take the lowest-rank
// adjacent pair, merge all its occurrences left to right, repeat"), because
//   - every pair that a merge creates contains the new symbol, which the
//     merge table only merges later (at a higher rank), so all occurrences of
//     rank r are processed before anything of a higher rank, and
//   - occurrences of one pair are popped left to right; an occurrence that
//     overlaps an earlier merge is stale and skipped, exactly like the
//     non-overlapping left-to-right scan of the reference.
//
// The reference loop costs O(n^2) per pre-token of n bytes (a 50 kB run of
// letters took about 7 s); this costs O(n log n). The tests compare the two
// on random and long inputs (tokRefBPE in tokenizer_test.go).

// tokMergeItem is a candidate merge of the symbol at pos with its right
// neighbour.
type tokMergeItem struct {
	rank  int
	pos   int
	newID int
}

// tokMergeQueue is a binary min-heap of tokMergeItem ordered by (rank, pos).
type tokMergeQueue []tokMergeItem

func (q tokMergeQueue) less(i, j int) bool {
	if q[i].rank != q[j].rank {
		return q[i].rank < q[j].rank
	}
	return q[i].pos < q[j].pos
}

func (q *tokMergeQueue) push(it tokMergeItem) {
	*q = append(*q, it)
	h := *q
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (q *tokMergeQueue) pop() tokMergeItem {
	h := *q
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && h.less(l, m) {
			m = l
		}
		if r < len(h) && h.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	*q = h
	return top
}

// tokSymbol is one node of the symbol list: token id c, list links, and
// whether it still exists (false once merged into its left neighbour).
type tokSymbol struct {
	c          int
	prev, next int
	alive      bool
}

// tokMergeIDs returns the BPE token ids of a pre-token given as the ids of
// its byte-level symbols (one per byte), merging with merges.
func tokMergeIDs(byteIDs []int, merges bpe.Merges) []int {
	n := len(byteIDs)
	if n < 2 {
		return append([]int(nil), byteIDs...)
	}
	syms := make([]tokSymbol, n)
	for i, c := range byteIDs {
		syms[i] = tokSymbol{c: c, prev: i - 1, next: i + 1, alive: true}
	}
	syms[n-1].next = -1

	q := make(tokMergeQueue, 0, n)
	for i := 0; i+1 < n; i++ {
		if v, ok := merges[bpe.Pair{C1: syms[i].c, C2: syms[i+1].c}]; ok {
			q.push(tokMergeItem{rank: v.Rank, pos: i, newID: v.NewId})
		}
	}

	for len(q) > 0 {
		it := q.pop()
		s := &syms[it.pos]
		if !s.alive || s.next < 0 {
			continue
		}
		right := &syms[s.next]
		// Skip stale entries: the pair at pos must still be the one queued
		// (ranks identify pairs uniquely).
		if v, ok := merges[bpe.Pair{C1: s.c, C2: right.c}]; !ok || v.Rank != it.rank {
			continue
		}
		s.c = it.newID
		right.alive = false
		s.next = right.next
		if s.next >= 0 {
			syms[s.next].prev = it.pos
		}
		if s.prev >= 0 {
			if v, ok := merges[bpe.Pair{C1: syms[s.prev].c, C2: s.c}]; ok {
				q.push(tokMergeItem{rank: v.Rank, pos: s.prev, newID: v.NewId})
			}
		}
		if s.next >= 0 {
			if v, ok := merges[bpe.Pair{C1: s.c, C2: syms[s.next].c}]; ok {
				q.push(tokMergeItem{rank: v.Rank, pos: it.pos, newID: v.NewId})
			}
		}
	}

	out := make([]int, 0, n)
	for i := 0; i >= 0; i = syms[i].next {
		out = append(out, syms[i].c)
	}
	return out
}
