package baseline

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Tokenize splits text into lower-case word tokens for [TFIDF]. A token is a
// maximal run of Unicode letters and digits (unicode.IsLetter,
// unicode.IsDigit), lower-cased rune by rune with unicode.ToLower; an
// apostrophe (U+0027 ' or U+2019 ’, both written as ') is kept when it sits
// between two letters or digits, so "Don't" gives "don't" and "rock'n'roll"
// stays one token, while leading, trailing or doubled apostrophes separate
// tokens ("'em" gives "em"). Every other rune (space, punctuation, symbols,
// underscores) separates tokens. Single-character tokens are kept.
//
// This differs from scikit-learn's default token_pattern (?u)\b\w\w+\b,
// which drops one-character tokens and splits "don't" into "don" and "t";
// keeping contractions whole preserves negations such as "don't" and
// "isn't", which matter for sentiment.
func Tokenize(text string) []string {
	var toks []string
	forEachToken(text, nil, func(tok []byte) { toks = append(toks, string(tok)) })
	return toks
}

// forEachToken calls fn with every token of text (see [Tokenize]) as UTF-8
// bytes in a buffer that is reused (grown from buf) between calls, and
// returns that buffer.
func forEachToken(text string, buf []byte, fn func(tok []byte)) []byte {
	cur := buf[:0]
	isWord := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
	for k, r := range text {
		switch {
		case isWord(r):
			cur = utf8.AppendRune(cur, unicode.ToLower(r))
			continue
		case r == '\'' || r == '’':
			if len(cur) > 0 {
				next, _ := utf8.DecodeRuneInString(text[k+utf8.RuneLen(r):])
				if isWord(next) {
					cur = append(cur, '\'')
					continue
				}
			}
		}
		if len(cur) > 0 {
			fn(cur)
			cur = cur[:0]
		}
	}
	if len(cur) > 0 {
		fn(cur)
	}
	return cur
}

// SparseMatrix is a real matrix of shape [Rows, Cols] in compressed sparse
// row (CSR) form: the stored entries of row i are ColIdx[k], Values[k] for k
// in [RowPtr[i], RowPtr[i+1]), with column indices strictly increasing
// within a row. Entries not stored are 0.
type SparseMatrix struct {
	Rows, Cols int
	// RowPtr has length Rows+1, RowPtr[0] = 0 and RowPtr[Rows] = len(ColIdx).
	RowPtr []int
	// ColIdx and Values have one element per stored entry.
	ColIdx []int
	Values []float64
}

// Row returns the column indices and values of row i's stored entries
// (sub-slices of ColIdx and Values; do not modify). It panics if i is
// outside [0, Rows).
func (m *SparseMatrix) Row(i int) (cols []int, vals []float64) {
	if i < 0 || i >= m.Rows {
		panic(fmt.Sprintf("baseline: SparseMatrix row %d outside [0, %d)", i, m.Rows))
	}
	a, b := m.RowPtr[i], m.RowPtr[i+1]
	return m.ColIdx[a:b:b], m.Values[a:b:b]
}

// At returns element (i, j), 0 if it is not stored. It panics if (i, j) is
// out of range.
func (m *SparseMatrix) At(i, j int) float64 {
	if j < 0 || j >= m.Cols {
		panic(fmt.Sprintf("baseline: SparseMatrix column %d outside [0, %d)", j, m.Cols))
	}
	cols, vals := m.Row(i)
	if k, ok := slices.BinarySearch(cols, j); ok {
		return vals[k]
	}
	return 0
}

// validate checks the CSR invariants.
func (m *SparseMatrix) validate() error {
	if m == nil {
		return errors.New("baseline: nil SparseMatrix")
	}
	if m.Rows < 0 || m.Cols < 0 || len(m.RowPtr) != m.Rows+1 || m.RowPtr[0] != 0 ||
		m.RowPtr[m.Rows] != len(m.ColIdx) || len(m.ColIdx) != len(m.Values) {
		return fmt.Errorf("baseline: malformed SparseMatrix (%d×%d, %d row pointers, %d/%d entries)",
			m.Rows, m.Cols, len(m.RowPtr), len(m.ColIdx), len(m.Values))
	}
	for i := range m.Rows {
		a, b := m.RowPtr[i], m.RowPtr[i+1]
		if a > b {
			return fmt.Errorf("baseline: SparseMatrix row pointers decrease at row %d", i)
		}
		for k := a; k < b; k++ {
			j := m.ColIdx[k]
			if j < 0 || j >= m.Cols || (k > a && j <= m.ColIdx[k-1]) {
				return fmt.Errorf("baseline: SparseMatrix row %d has bad column %d", i, j)
			}
			if v := m.Values[k]; math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("baseline: SparseMatrix entry (%d, %d) is %v", i, j, v)
			}
		}
	}
	return nil
}

// TFIDFConfig configures [FitTFIDF]. A zero field selects its default (see
// [DefaultTFIDFConfig]); negative values are rejected.
type TFIDFConfig struct {
	// MinDF is the minimum number of training documents a term (n-gram)
	// must occur in to enter the vocabulary (scikit-learn's integer min_df).
	// Default 2.
	MinDF int `json:"min_df"`
	// MaxFeatures, if positive, keeps only the MaxFeatures terms with the
	// largest total count over the training documents (after MinDF; ties
	// broken by the term's byte order), like scikit-learn's max_features.
	// 0 keeps every term.
	MaxFeatures int `json:"max_features"`
	// MaxNGram is the longest word n-gram used: 1 for unigrams only, 2 for
	// unigrams and bigrams (scikit-learn's ngram_range=(1, MaxNGram)).
	// Default 2.
	MaxNGram int `json:"max_ngram"`
	// LinearTF uses the raw count tf as the term frequency (scikit-learn's
	// default sublinear_tf=False) instead of the default 1 + ln(tf).
	LinearTF bool `json:"linear_tf"`
}

// DefaultTFIDFConfig returns MinDF 2, unigrams and bigrams, all terms and
// sublinear tf.
func DefaultTFIDFConfig() TFIDFConfig { return TFIDFConfig{MinDF: 2, MaxNGram: 2} }

func (c TFIDFConfig) withDefaults() (TFIDFConfig, error) {
	if c.MinDF < 0 || c.MaxFeatures < 0 || c.MaxNGram < 0 {
		return c, fmt.Errorf("baseline: negative TFIDFConfig field: %+v", c)
	}
	d := DefaultTFIDFConfig()
	if c.MinDF == 0 {
		c.MinDF = d.MinDF
	}
	if c.MaxNGram == 0 {
		c.MaxNGram = d.MaxNGram
	}
	return c, nil
}

// TFIDF is a fitted tf-idf vectoriser: a vocabulary of word n-grams from
// [Tokenize] and their inverse document frequencies, following
// scikit-learn's TfidfVectorizer (sklearn.feature_extraction.text; see its
// user guide section "Tf–idf term weighting") with analyzer="word",
// lowercase=True, ngram_range=(1, MaxNGram), min_df=MinDF,
// max_features=MaxFeatures, norm="l2", use_idf=True, smooth_idf=True and
// sublinear_tf=!LinearTF. For a document d and vocabulary term t:
//
//	tf(t, d)  = number of occurrences of t among d's n-grams
//	tf'(t, d) = 1 + ln tf(t, d) if tf > 0, else 0   (sublinear; tf itself with LinearTF)
//	idf(t)    = ln((1 + n) / (1 + df(t))) + 1       (smooth_idf=True)
//	v(t, d)   = tf'(t, d) · idf(t)
//	x(t, d)   = v(t, d) / ‖v(·, d)‖₂                (norm="l2"; a zero row stays zero)
//
// where n is the number of training documents and df(t) the number of them
// containing t. The n-grams of a document are its tokens followed by every
// run of 2..MaxNGram consecutive tokens joined by a single space, over the
// whole document (sentence boundaries are not respected, as in
// scikit-learn). Features are numbered in the byte order of their terms
// (scikit-learn sorts its vocabulary the same way).
//
// A fitted TFIDF is read-only and safe for concurrent use.
type TFIDF struct {
	cfg   TFIDFConfig
	terms []string // [NumFeatures], sorted
	index map[string]int
	idf   []float64 // [NumFeatures]
	nDocs int
	// The n-grams needed by Transform as a trie over token ids (every
	// prefix of a term is itself a term, since its df and total count are at
	// least as large and it sorts first, but the trie does not rely on it):
	// node
	// gramKey{prefix node (-1 for none), token} is an n-gram whose first n−1
	// tokens are the prefix node; nodeFeature[node] is its feature index, or
	// −1 for a node kept only as the prefix of longer terms.
	tokens      map[string]int32
	nodes       map[gramKey]int32
	nodeFeature []int32
}

// gramKey identifies an n-gram as its (n−1)-gram prefix node (−1 for a
// unigram) extended by one token id.
type gramKey struct{ prefix, tok int32 }

// gramTrie collects n-gram statistics while fitting.
type gramTrie struct {
	tokID   map[string]int32
	tokStr  []string
	nodes   map[gramKey]int32
	key     []gramKey // [node]
	df      []int     // [node] documents containing the n-gram
	total   []int     // [node] occurrences over all documents
	lastDoc []int     // [node] last document counted in df
}

// add counts the 1..maxN-grams of document doc, whose token ids are ids.
func (tr *gramTrie) add(doc int, ids []int32, maxN int) {
	for i := range ids {
		prefix := int32(-1)
		for n := 1; n <= maxN && i+n <= len(ids); n++ {
			k := gramKey{prefix, ids[i+n-1]}
			g, ok := tr.nodes[k]
			if !ok {
				g = int32(len(tr.key))
				tr.nodes[k] = g
				tr.key = append(tr.key, k)
				tr.df = append(tr.df, 0)
				tr.total = append(tr.total, 0)
				tr.lastDoc = append(tr.lastDoc, -1)
			}
			tr.total[g]++
			if tr.lastDoc[g] != doc {
				tr.lastDoc[g] = doc
				tr.df[g]++
			}
			prefix = g
		}
	}
}

// term returns node g's n-gram, its tokens joined by single spaces.
func (tr *gramTrie) term(g int32) string {
	var toks []string
	for ; g >= 0; g = tr.key[g].prefix {
		toks = append(toks, tr.tokStr[tr.key[g].tok])
	}
	slices.Reverse(toks)
	return strings.Join(toks, " ")
}

// FitTFIDF learns the vocabulary and idf weights from the training texts
// (see [TFIDF] for the formulas). It returns an error if texts is empty,
// cfg has a negative field, or no term occurs in at least MinDF documents.
func FitTFIDF(texts []string, cfg TFIDFConfig) (*TFIDF, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if len(texts) == 0 {
		return nil, errors.New("baseline: FitTFIDF needs at least one document")
	}
	tr := &gramTrie{tokID: map[string]int32{}, nodes: map[gramKey]int32{}}
	var ids []int32
	var buf []byte
	for doc, text := range texts {
		ids = ids[:0]
		buf = forEachToken(text, buf, func(tok []byte) {
			id, ok := tr.tokID[string(tok)]
			if !ok {
				id = int32(len(tr.tokStr))
				s := string(tok)
				tr.tokID[s] = id
				tr.tokStr = append(tr.tokStr, s)
			}
			ids = append(ids, id)
		})
		tr.add(doc, ids, cfg.MaxNGram)
	}

	type cand struct {
		node int32
		term string
	}
	var kept []cand
	for g, df := range tr.df {
		if df >= cfg.MinDF {
			kept = append(kept, cand{int32(g), tr.term(int32(g))})
		}
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("baseline: no term occurs in %d or more of the %d training documents", cfg.MinDF, len(texts))
	}
	if cfg.MaxFeatures > 0 && len(kept) > cfg.MaxFeatures {
		slices.SortFunc(kept, func(a, b cand) int {
			if ta, tb := tr.total[a.node], tr.total[b.node]; ta != tb {
				return tb - ta
			}
			return strings.Compare(a.term, b.term)
		})
		kept = kept[:cfg.MaxFeatures]
	}
	slices.SortFunc(kept, func(a, b cand) int { return strings.Compare(a.term, b.term) })

	v := &TFIDF{
		cfg:    cfg,
		terms:  make([]string, len(kept)),
		index:  make(map[string]int, len(kept)),
		idf:    make([]float64, len(kept)),
		nDocs:  len(texts),
		tokens: map[string]int32{},
		nodes:  map[gramKey]int32{},
	}
	n := float64(len(texts))
	feature := make([]int32, len(tr.key)) // old node → feature, or −1
	for g := range feature {
		feature[g] = -1
	}
	for j, c := range kept {
		v.terms[j] = c.term
		v.index[c.term] = j
		v.idf[j] = math.Log((1+n)/(1+float64(tr.df[c.node]))) + 1
		feature[c.node] = int32(j)
	}
	// Keep the features and their prefixes. A prefix is created before its
	// extensions, so it has a smaller node id and one increasing pass sees
	// every prefix before the nodes that need it.
	needed := make([]bool, len(tr.key))
	for _, c := range kept {
		for g := c.node; g >= 0 && !needed[g]; g = tr.key[g].prefix {
			needed[g] = true
		}
	}
	newNode := make([]int32, len(tr.key))
	newTok := map[int32]int32{}
	for g, k := range tr.key {
		if !needed[g] {
			continue
		}
		tok, ok := newTok[k.tok]
		if !ok {
			tok = int32(len(newTok))
			newTok[k.tok] = tok
			v.tokens[tr.tokStr[k.tok]] = tok
		}
		prefix := int32(-1)
		if k.prefix >= 0 {
			prefix = newNode[k.prefix]
		}
		newNode[g] = int32(len(v.nodeFeature))
		v.nodes[gramKey{prefix, tok}] = newNode[g]
		v.nodeFeature = append(v.nodeFeature, feature[g])
	}
	return v, nil
}

// Config returns the configuration used, with defaults filled in.
func (v *TFIDF) Config() TFIDFConfig { return v.cfg }

// NumFeatures returns the vocabulary size, the number of columns of
// [TFIDF.Transform]'s result.
func (v *TFIDF) NumFeatures() int { return len(v.terms) }

// NumDocs returns the number n of training documents.
func (v *TFIDF) NumDocs() int { return v.nDocs }

// Term returns the n-gram of feature j. It panics if j is out of range.
func (v *TFIDF) Term(j int) string { return v.terms[j] }

// Index returns the feature index of term (a token or tokens joined by one
// space), and whether it is in the vocabulary.
func (v *TFIDF) Index(term string) (int, bool) {
	j, ok := v.index[term]
	return j, ok
}

// IDF returns idf of feature j, ln((1+n)/(1+df)) + 1 ≥ 1. It panics if j is
// out of range.
func (v *TFIDF) IDF(j int) float64 { return v.idf[j] }

// Transform returns the L2-normalised tf-idf rows of texts, shape
// [len(texts), NumFeatures()], one row per text in order. N-grams outside
// the vocabulary are ignored; a text without vocabulary terms gives an
// all-zero row.
func (v *TFIDF) Transform(texts []string) *SparseMatrix {
	m := &SparseMatrix{Rows: len(texts), Cols: len(v.terms), RowPtr: make([]int, 1, len(texts)+1)}
	counts := make([]int, len(v.terms))
	var cols []int
	var ids []int32
	var buf []byte
	for _, text := range texts {
		ids = ids[:0]
		buf = forEachToken(text, buf, func(tok []byte) {
			id, ok := v.tokens[string(tok)]
			if !ok {
				id = -1
			}
			ids = append(ids, id)
		})
		cols = cols[:0]
		for i := range ids {
			prefix := int32(-1)
			for n := 1; n <= v.cfg.MaxNGram && i+n <= len(ids) && ids[i+n-1] >= 0; n++ {
				node, ok := v.nodes[gramKey{prefix, ids[i+n-1]}]
				if !ok {
					break // no longer n-gram from i is known either
				}
				if f := v.nodeFeature[node]; f >= 0 {
					if counts[f] == 0 {
						cols = append(cols, int(f))
					}
					counts[f]++
				}
				prefix = node
			}
		}
		slices.Sort(cols)
		start := len(m.Values)
		var ss float64
		for _, j := range cols {
			tf := float64(counts[j])
			counts[j] = 0
			if !v.cfg.LinearTF {
				tf = 1 + math.Log(tf)
			}
			w := tf * v.idf[j]
			ss += w * w
			m.ColIdx = append(m.ColIdx, j)
			m.Values = append(m.Values, w)
		}
		if ss > 0 {
			norm := math.Sqrt(ss)
			for k := start; k < len(m.Values); k++ {
				m.Values[k] /= norm
			}
		}
		m.RowPtr = append(m.RowPtr, len(m.Values))
	}
	return m
}
