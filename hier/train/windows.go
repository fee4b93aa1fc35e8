package train

import (
	"fmt"
	"slices"
)

// Windows turns tokenized texts into language-model examples of at most maxLen tokens without
// dropping any token: a text of n <= maxLen tokens becomes one example as it is; a longer text
// is cut into k = ceil(n / maxLen) consecutive, non-overlapping windows of near-equal length
// (n/k rounded down or up, the longer ones first), so that no window is a stub: every window of
// a long text has at least maxLen/2 tokens. The windows of a text follow each other in order and
// their concatenation is the text. (A causal LM predicts every token of a window but its first
// from the tokens before it in the window.) Empty texts are skipped. The examples own copies of
// the ids. Errors: maxLen < 1.
func Windows(texts [][]int64, maxLen int) (Dataset, error) {
	if maxLen < 1 {
		return nil, fmt.Errorf("train: windows: maxLen must be >= 1, got %d", maxLen)
	}
	var d Dataset
	for _, ids := range texts {
		n := len(ids)
		if n == 0 {
			continue
		}
		k := (n + maxLen - 1) / maxLen
		size, extra := n/k, n%k // the first `extra` windows get one more token
		start := 0
		for w := 0; w < k; w++ {
			l := size
			if w < extra {
				l++
			}
			d = append(d, Example{InputIDs: slices.Clone(ids[start : start+l])})
			start += l
		}
	}
	return d, nil
}

// Pack concatenates tokenized texts into one stream, with sep after every text (GPT-2's
// <|endoftext|> between documents), and cuts the stream into consecutive blocks of exactly
// blockLen tokens (the last block holds the rest; it is dropped only when it has fewer than 2
// tokens, too few for a causal-LM example). Batches of packed blocks have no padding, and
// attention crosses text boundaries (as in GPT-2's own pre-training). Empty texts are skipped.
// Errors: blockLen < 2.
func Pack(texts [][]int64, blockLen int, sep int64) (Dataset, error) {
	if blockLen < 2 {
		return nil, fmt.Errorf("train: pack: blockLen must be >= 2, got %d", blockLen)
	}
	var d Dataset
	block := make([]int64, 0, blockLen)
	push := func(id int64) {
		block = append(block, id)
		if len(block) == blockLen {
			d = append(d, Example{InputIDs: block})
			block = make([]int64, 0, blockLen)
		}
	}
	for _, ids := range texts {
		if len(ids) == 0 {
			continue
		}
		for _, id := range ids {
			push(id)
		}
		push(sep)
	}
	if len(block) >= 2 {
		d = append(d, Example{InputIDs: block})
	}
	return d, nil
}

// CorpusVocab returns the distinct token ids of the datasets' examples, ascending: the
// restricted vocabulary for LMTask.Vocab (give it the training and the validation set, so that
// every target of either is in it).
func CorpusVocab(sets ...Dataset) []int64 {
	seen := map[int64]struct{}{}
	for _, d := range sets {
		for _, e := range d {
			for _, id := range e.InputIDs {
				seen[id] = struct{}{}
			}
		}
	}
	ids := make([]int64, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
