package gpt2

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"github.com/sugarme/tokenizer/pretokenizer"
)

// ---------------------------------------------------------------------------
// Helpers

// tokTestRepoRoot returns the repository root (the directory of the go.mod
// of github.com/hier-ai/hier), found by walking up from the working
// directory.
func tokTestRepoRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	require.NoError(t, err)
	root, ok := tokFindModuleRoot(wd)
	require.True(t, ok, "no go.mod of module %s above %s", tokModulePath, wd)
	return root
}

// tokTestGoldenDir returns <repo root>/../shared/golden (or $HIER_GOLDEN_DIR),
// skipping the test when tokenizer_cases.json is not there.
func tokTestGoldenDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("HIER_GOLDEN_DIR")
	if dir == "" {
		dir = filepath.Join(filepath.Dir(tokTestRepoRoot(t)), "shared", "golden")
	}
	if _, err := os.Stat(filepath.Join(dir, "tokenizer_cases.json")); err != nil {
		t.Skipf("golden tokenizer cases not available (%v); they live in ../shared/golden next to the repository root", err)
	}
	return dir
}

var (
	tokTestOnce sync.Once
	tokTestTok  *Tokenizer
	tokTestDir  string
	tokTestErr  error
)

// tokTestTokenizer returns the real GPT-2 tokenizer (shared by the tests),
// skipping the test when the vocabulary has not been fetched.
func tokTestTokenizer(t testing.TB) *Tokenizer {
	t.Helper()
	tokTestOnce.Do(func() {
		tokTestDir, tokTestErr = DefaultTokenizerDir()
		if tokTestErr == nil {
			tokTestTok, tokTestErr = LoadTokenizer(tokTestDir)
		}
	})
	if tokTestErr != nil {
		if errors.Is(tokTestErr, fs.ErrNotExist) || !tokHasFiles(tokTestDir) {
			t.Skipf("GPT-2 vocab files not available: %v; run scripts/fetch_vocab.sh", tokTestErr)
		}
		t.Fatalf("loading the GPT-2 tokenizer: %v", tokTestErr)
	}
	return tokTestTok
}

// tokTestCase is one entry of shared/golden/tokenizer_cases.json.
type tokTestCase struct {
	Name                string   `json:"name"`
	Text                string   `json:"text"`
	IDs                 []int64  `json:"ids"`
	NTokens             int      `json:"n_tokens"`
	Tokens              []string `json:"tokens"`
	RoundtripOK         bool     `json:"roundtrip_ok"`
	TiktokenAgrees      bool     `json:"tiktoken_agrees"`
	Note                string   `json:"note"`
	IDsWithSpecialToken []int64  `json:"ids_with_special_token"`
}

func tokTestCases(t testing.TB) []tokTestCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(tokTestGoldenDir(t), "tokenizer_cases.json"))
	require.NoError(t, err)
	var f struct {
		Cases []tokTestCase `json:"cases"`
	}
	require.NoError(t, json.Unmarshal(data, &f))
	return f.Cases
}

// tokTestWriteSynthetic writes a small but valid GPT-2-shaped tokenizer to
// dir: the 256 byte-level symbols (ids 0..255 in byte order), the merges
// "h e", "l l", "he ll", "hell o" (ids 256..259), fillers up to id 50255 and
// "<|endoftext|>" = 50256. It returns the vocabulary.
func tokTestWriteSynthetic(t testing.TB, dir string) map[string]int {
	t.Helper()
	vocab := make(map[string]int, 50257)
	for b := 0; b < 256; b++ {
		vocab[pretokenizer.BytesChar[uint8(b)]] = b
	}
	merges := [][2]string{{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}}
	for i, m := range merges {
		vocab[m[0]+m[1]] = 256 + i
	}
	for id := 256 + len(merges); id < int(EndOfTextID); id++ {
		vocab[fmt.Sprintf("<filler%d>", id)] = id
	}
	vocab[EndOfTextToken] = int(EndOfTextID)

	vj, err := json.Marshal(vocab)
	require.NoError(t, err)
	var mb strings.Builder
	mb.WriteString("#version: 0.2\n")
	for _, m := range merges {
		mb.WriteString(m[0] + " " + m[1] + "\n")
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, TokenizerVocabFile), vj, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, TokenizerMergesFile), []byte(mb.String()), 0o644))
	return vocab
}

// tokTestReview is a ~1 KB product review used by the concurrency test and
// the benchmark.
const tokTestReview = `I bought these headphones three weeks ago for my daily commute, and I've ` +
	`been pleasantly surprised. The sound is warm and detailed; bass is punchy without ` +
	`drowning the mids. Noise cancelling works well on the train, although it can't ` +
	`fully block out announcements (which is probably a good thing!). Battery life is ` +
	`excellent: roughly 28-30 hours per charge, close to the advertised 32h.

Comfort is where they fall short. After about 2 hours the ear cups get warm and the ` +
	`headband presses on the top of my head. People with glasses might struggle too. ` +
	`The app is OK - firmware updated in 5 minutes - but the EQ presets are weird ` +
	`and there's no custom 10-band option.

Build quality feels solid, the case is compact, and USB-C charging is fast (15 min ` +
	`gives ~3 hours). At $149.99 they're cheaper than the big brands, and honestly ` +
	`they sound 90% as good. Would I buy them again? Probably yes... but I'd try them ` +
	`on first. 4/5 stars — great value, mediocre comfort. 👍`

// ---------------------------------------------------------------------------
// Golden cases

func TestTokenizerGoldenCases(t *testing.T) {
	tk := tokTestTokenizer(t)
	cases := tokTestCases(t)
	require.Len(t, cases, 46, "shared/golden/tokenizer_cases.json should hold 46 cases")

	nSpecial := 0
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			ids := tk.Encode(c.Text)
			require.NotNil(t, ids)
			want := c.IDs
			if want == nil {
				want = []int64{}
			}
			require.Equal(t, want, ids, "ids of %q", c.Text)
			require.Len(t, ids, c.NTokens)
			require.Equal(t, c.Tokens, tk.Tokens(ids), "per-id decodes of %q", c.Text)

			// Without markers, AllowSpecial must not change anything.
			if !strings.Contains(c.Text, EndOfTextToken) {
				require.Equal(t, want, tk.EncodeWithOptions(c.Text, EncodeOptions{AllowSpecial: true}))
			}
			if c.RoundtripOK {
				require.Equal(t, c.Text, tk.Decode(ids))
			}
			// The byte-level round trip is exact for every input.
			require.Equal(t, c.Text, string(tk.DecodeBytes(ids)))

			if c.IDsWithSpecialToken != nil {
				nSpecial++
				got := tk.EncodeWithOptions(c.Text, EncodeOptions{AllowSpecial: true})
				require.Equal(t, c.IDsWithSpecialToken, got, "AllowSpecial ids of %q", c.Text)
				require.Equal(t, c.Text, tk.Decode(got))
			}
		})
	}
	require.Equal(t, 2, nSpecial, "expected two cases with ids_with_special_token")
}

// ---------------------------------------------------------------------------
// Special token

func TestTokenizerSpecialToken(t *testing.T) {
	tk := tokTestTokenizer(t)
	allow := EncodeOptions{AllowSpecial: true}

	// Default: plain text, like gpt-3-encoder.
	require.Equal(t, []int64{27, 91, 437, 1659, 5239, 91, 29}, tk.Encode(EndOfTextToken))
	require.Equal(t, []int64{EndOfTextID}, tk.EncodeWithOptions(EndOfTextToken, allow))
	require.Equal(t, []int64{15496, 220, 50256, 995}, tk.EncodeWithOptions("Hello <|endoftext|> world", allow))
	require.Equal(t, []int64{50256, 50256}, tk.EncodeWithOptions("<|endoftext|><|endoftext|>", allow))
	require.Equal(t, []int64{15496, 50256}, tk.EncodeWithOptions("Hello<|endoftext|>", allow))
	require.Equal(t, []int64{50256, 995}, tk.EncodeWithOptions("<|endoftext|> world", allow))
	// An incomplete marker is text.
	require.Equal(t, tk.Encode("<|endoftext|"), tk.EncodeWithOptions("<|endoftext|", allow))

	require.Equal(t, EndOfTextToken, tk.Decode([]int64{EndOfTextID}))
	tok, ok := tk.IDToToken(EndOfTextID)
	require.True(t, ok)
	require.Equal(t, EndOfTextToken, tok)
}

// ---------------------------------------------------------------------------
// Batches: truncation, dynamic right padding, attention mask

func TestTokenizerEncodeBatch(t *testing.T) {
	tk := tokTestTokenizer(t)

	// "Hello world"                                  -> [15496 995]
	// "The quick brown fox jumps over the lazy dog." -> [464 2068 7586 21831 18045 625 262 16931 3290 13]
	// ""                                             -> []
	// "Hello, world! How are you today?"             -> [15496 11 995 0 1374 389 345 1909 30]
	texts := []string{
		"Hello world",
		"The quick brown fox jumps over the lazy dog.",
		"",
		"Hello, world! How are you today?",
	}
	b := tk.EncodeBatch(texts, 6, EndOfTextID)
	require.Equal(t, [][]int64{
		{15496, 995, 50256, 50256, 50256, 50256},
		{464, 2068, 7586, 21831, 18045, 625},
		{50256, 50256, 50256, 50256, 50256, 50256},
		{15496, 11, 995, 0, 1374, 389},
	}, b.InputIDs)
	require.Equal(t, [][]int64{
		{1, 1, 0, 0, 0, 0},
		{1, 1, 1, 1, 1, 1},
		{0, 0, 0, 0, 0, 0},
		{1, 1, 1, 1, 1, 1},
	}, b.AttentionMask)
	require.Equal(t, []int{2, 6, 0, 6}, b.Lengths)

	// Dynamic padding: T is the longest row, not maxLen; any pad id.
	b = tk.EncodeBatch([]string{"Hello world", "Hello"}, 10, 0)
	require.Equal(t, [][]int64{{15496, 995}, {15496, 0}}, b.InputIDs)
	require.Equal(t, [][]int64{{1, 1}, {1, 0}}, b.AttentionMask)
	require.Equal(t, []int{2, 1}, b.Lengths)

	// maxLen <= 0: no truncation.
	b = tk.EncodeBatch([]string{"The quick brown fox jumps over the lazy dog.", "Hello world"}, 0, -1)
	require.Equal(t, [][]int64{
		{464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13},
		{15496, 995, -1, -1, -1, -1, -1, -1, -1, -1},
	}, b.InputIDs)
	require.Equal(t, []int{10, 2}, b.Lengths)

	// Special tokens in batches.
	b = tk.EncodeBatchWithOptions([]string{"Hello <|endoftext|> world"}, 3, EndOfTextID, EncodeOptions{AllowSpecial: true})
	require.Equal(t, [][]int64{{15496, 220, 50256}}, b.InputIDs)
	require.Equal(t, [][]int64{{1, 1, 1}}, b.AttentionMask)

	// Empty batch and all-empty texts.
	b = tk.EncodeBatch(nil, 8, EndOfTextID)
	require.Empty(t, b.InputIDs)
	require.Empty(t, b.AttentionMask)
	require.Empty(t, b.Lengths)
	b = tk.EncodeBatch([]string{"", ""}, 8, EndOfTextID)
	require.Equal(t, [][]int64{{}, {}}, b.InputIDs)
	require.Equal(t, [][]int64{{}, {}}, b.AttentionMask)
	require.Equal(t, []int{0, 0}, b.Lengths)
}

// ---------------------------------------------------------------------------
// Decoding

func TestTokenizerDecode(t *testing.T) {
	tk := tokTestTokenizer(t)

	ids := tk.Encode("😀 café")
	require.Equal(t, "😀 café", tk.Decode(ids))
	// 47249 is the first 3 bytes of 😀 (F0 9F 98): one maximal subpart.
	require.Equal(t, "\uFFFD", tk.Decode([]int64{47249}))
	require.Equal(t, []byte{0xF0, 0x9F, 0x98}, tk.DecodeBytes([]int64{47249}))
	// Out-of-range ids.
	require.Equal(t, "a\uFFFDb", tk.Decode([]int64{64, -1, 65}))
	require.Equal(t, "\uFFFD", tk.Decode([]int64{int64(tk.VocabSize())}))
	require.Equal(t, []string{"Hello", " world", "\uFFFD"}, tk.Tokens([]int64{15496, 995, 1 << 40}))
	require.Equal(t, "", tk.Decode(nil))

	// Invalid UTF-8 input survives the byte-level round trip.
	raw := "ok \xff\xfe\xed\xa0\x80 end"
	require.Equal(t, raw, string(tk.DecodeBytes(tk.Encode(raw))))
}

func TestTokenizerToValidUTF8(t *testing.T) {
	// Expected values follow the maximal-subpart rule (Python
	// bytes.decode("utf-8", "replace") and WHATWG TextDecoder).
	cases := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"\xf0\x9f\x98", "\uFFFD"},
		{"\xf0\x9f\x98\x80", "😀"},
		{"\x80\x80", "\uFFFD\uFFFD"},
		{"a\xe2\x82", "a\uFFFD"},
		{"a\xe2\x82b", "a\uFFFDb"},
		{"\xed\xa0\x80", "\uFFFD\uFFFD\uFFFD"},           // surrogate: ED then A0 is ill-formed
		{"\xf4\x90\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD"}, // above U+10FFFF
		{"\xe0\x80\x80", "\uFFFD\uFFFD\uFFFD"},           // overlong
		{"\xc0\xaf", "\uFFFD\uFFFD"},
		{"\xf0\x9f\x98\xf0\x9f\x98\x80", "\uFFFD😀"},
		{"\xff", "\uFFFD"},
	}
	for _, c := range cases {
		got := tokToValidUTF8([]byte(c.in))
		require.Equal(t, c.want, got, "input %q", c.in)
		require.True(t, utf8.ValidString(got))
	}
}

// ---------------------------------------------------------------------------
// Vocabulary accessors

func TestTokenizerVocab(t *testing.T) {
	tk := tokTestTokenizer(t)
	require.Equal(t, 50257, tk.VocabSize())

	tok, ok := tk.IDToToken(995)
	require.True(t, ok)
	require.Equal(t, "Ġworld", tok)
	id, ok := tk.TokenToID("Ġworld")
	require.True(t, ok)
	require.Equal(t, int64(995), id)

	_, ok = tk.IDToToken(-1)
	require.False(t, ok)
	_, ok = tk.IDToToken(50257)
	require.False(t, ok)
	_, ok = tk.TokenToID("not a token")
	require.False(t, ok)
}

// TestTokenizerByteAlphabet checks sugarme's byte-level alphabet against
// GPT-2's bytes_to_unicode(), written out independently.
func TestTokenizerByteAlphabet(t *testing.T) {
	var want [256]rune
	n := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			want[b] = rune(b)
		} else {
			want[b] = rune(256 + n)
			n++
		}
	}
	require.Equal(t, 68, n)
	for b := 0; b < 256; b++ {
		require.Equal(t, string(want[b]), pretokenizer.BytesChar[uint8(b)], "byte %d", b)
		require.Equal(t, uint8(b), pretokenizer.CharBytes[string(want[b])], "byte %d", b)
	}
}

// ---------------------------------------------------------------------------
// Pre-tokenizer

func TestTokenizerPretokenize(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"Hello world", []string{"Hello", " world"}},
		{" ", []string{" "}},
		{"  two", []string{" ", " two"}},
		{"   x", []string{"  ", " x"}},
		{"x   ", []string{"x", "   "}},
		{"a     b   c", []string{"a", "    ", " b", "  ", " c"}},
		// \s+(?!\S): the last whitespace rune before a word is split off.
		{"\n\nline", []string{"\n", "\n", "line"}},
		{"line\n\n", []string{"line", "\n\n"}},
		{"\n\n\n", []string{"\n\n\n"}},
		{"a \n\n b", []string{"a", " \n\n", " b"}},
		{"col1\tcol2\t\tcol3", []string{"col", "1", "\t", "col", "2", "\t", "\t", "col", "3"}},
		{"\r\n\r\nx", []string{"\r\n\r", "\n", "x"}},
		{"a  \t b", []string{"a", "  \t", " b"}},
		// Unicode whitespace (Go's regexp \s would treat these as punctuation).
		{"non\u00a0breaking", []string{"non", "\u00a0", "breaking"}},
		{"x \u00a0y", []string{"x", " ", "\u00a0", "y"}},
		{"a\u00a0\u00a0b", []string{"a", "\u00a0", "\u00a0", "b"}},
		{"a\u3000!", []string{"a", "\u3000", "!"}},
		{"end\u2009", []string{"end", "\u2009"}},
		// Contractions: lower case only, no word boundary.
		{"don't", []string{"don", "'t"}},
		{"DON'T", []string{"DON", "'", "T"}},
		{"I'll we've you're she's they'd I'm", []string{"I", "'ll", " we", "'ve", " you", "'re", " she", "'s", " they", "'d", " I", "'m"}},
		{"'sup", []string{"'s", "up"}},
		{" 's", []string{" '", "s"}},
		{"!'s", []string{"!'", "s"}},
		{"rock 'n' roll", []string{"rock", " '", "n", "'", " roll"}},
		{"it’s", []string{"it", "’", "s"}},
		// Letters, numbers, other.
		{"$1,299.99", []string{"$", "1", ",", "299", ".", "99"}},
		{"3.5mm", []string{"3", ".", "5", "mm"}},
		{"x²½", []string{"x", "²½"}},
		{"cafe\u0301", []string{"cafe", "\u0301"}},
		{"caf\u00e9", []string{"caf\u00e9"}},
		{"Hello!!!? 🤗,", []string{"Hello", "!!!?", " 🤗,"}},
		{"a-b_c", []string{"a", "-", "b", "_", "c"}},
		// Invalid UTF-8 is "other" and keeps its bytes.
		{"\xff\xfe a", []string{"\xff\xfe", " a"}},
		{"a\xffb", []string{"a", "\xff", "b"}},
	}
	for _, c := range cases {
		require.Equal(t, c.want, tokPretokenize(c.in), "input %q", c.in)
	}

	// Pieces always cover the input exactly.
	r := rand.New(rand.NewSource(1))
	alphabet := []string{" ", " ", "\n", "\t", "\r", "\u00a0", "\u3000", "a", "Z", "é", "中", "7", "٣", "'", "s", "ll", "!", ".", "😀", "\u0301", "\xff", "\x80"}
	for range 2000 {
		var sb strings.Builder
		for range r.Intn(20) {
			sb.WriteString(alphabet[r.Intn(len(alphabet))])
		}
		s := sb.String()
		pieces := tokPretokenize(s)
		require.Equal(t, s, strings.Join(pieces, ""), "input %q", s)
		for _, p := range pieces {
			require.NotEmpty(t, p, "input %q", s)
		}
	}
}

// ---------------------------------------------------------------------------
// BPE: the queue algorithm against GPT-2's reference loop

// tokRefBPE is GPT-2's reference bpe() (encoder.py), kept deliberately naive:
// symbols are strings; repeatedly find the adjacent pair with the lowest
// rank and merge all its occurrences left to right.
func tokRefBPE(word []string, ranks map[[2]string]int) []string {
	for len(word) > 1 {
		best, bestRank := [2]string{}, -1
		for i := 0; i+1 < len(word); i++ {
			p := [2]string{word[i], word[i+1]}
			if r, ok := ranks[p]; ok && (bestRank < 0 || r < bestRank) {
				best, bestRank = p, r
			}
		}
		if bestRank < 0 {
			break
		}
		var next []string
		for i := 0; i < len(word); {
			if i+1 < len(word) && word[i] == best[0] && word[i+1] == best[1] {
				next = append(next, best[0]+best[1])
				i += 2
			} else {
				next = append(next, word[i])
				i++
			}
		}
		word = next
	}
	return word
}

func TestTokenizerBPEMatchesReference(t *testing.T) {
	tk := tokTestTokenizer(t)

	ranks := make(map[[2]string]int)
	lines := strings.Split(string(tk.mergesRaw), "\n")
	for i, line := range lines {
		if (i == 0 && strings.HasPrefix(line, "#version")) || line == "" {
			continue
		}
		a, b, ok := strings.Cut(line, " ")
		require.True(t, ok)
		ranks[[2]string{a, b}] = len(ranks)
	}

	check := func(piece string) {
		t.Helper()
		word := make([]string, len(piece))
		for i := 0; i < len(piece); i++ {
			word[i] = tk.byteChar[piece[i]]
		}
		var want []int64
		for _, s := range tokRefBPE(word, ranks) {
			id, ok := tk.TokenToID(s)
			require.True(t, ok)
			want = append(want, id)
		}
		require.Equal(t, want, tk.appendPiece(nil, piece), "piece %q", piece)
	}

	// Runs of one symbol are where equal-rank ties matter.
	for _, unit := range []string{"a", "!", "?", ".", " ", "\n", "z", "0", "ha", "ab", "é", "😀"} {
		for n := 1; n <= 70; n++ {
			check(strings.Repeat(unit, n))
		}
	}
	r := rand.New(rand.NewSource(7))
	alphabets := []string{"ab", "abc", "aeiou", "etaoinshrdlu", "!?.", "01", "ǅé", "xyz "}
	for range 3000 {
		al := []rune(alphabets[r.Intn(len(alphabets))])
		n := 1 + r.Intn(40)
		if r.Intn(50) == 0 {
			n = 500 + r.Intn(1500) // long pieces skip the cache
		}
		rs := make([]rune, n)
		for i := range rs {
			rs[i] = al[r.Intn(len(al))]
			if i > 0 && r.Intn(3) == 0 {
				rs[i] = rs[i-1]
			}
		}
		check(" " + string(rs))
		check(string(rs))
	}
}

// ---------------------------------------------------------------------------
// Loading, errors, saving

func TestTokenizerMissingFiles(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadTokenizer(dir)
	require.Error(t, err)
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.Contains(t, err.Error(), filepath.Join(dir, TokenizerVocabFile))
	require.Contains(t, err.Error(), "scripts/fetch_vocab.sh")

	// vocab.json present, merges.txt missing: the error names merges.txt.
	require.NoError(t, os.WriteFile(filepath.Join(dir, TokenizerVocabFile), []byte("{}"), 0o644))
	_, err = LoadTokenizer(dir)
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.Contains(t, err.Error(), filepath.Join(dir, TokenizerMergesFile))
	require.Contains(t, err.Error(), "scripts/fetch_vocab.sh")
}

func TestTokenizerCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	tokTestWriteSynthetic(t, dir)
	vocabPath := filepath.Join(dir, TokenizerVocabFile)
	mergesPath := filepath.Join(dir, TokenizerMergesFile)
	goodVocab, err := os.ReadFile(vocabPath)
	require.NoError(t, err)
	goodMerges, err := os.ReadFile(mergesPath)
	require.NoError(t, err)

	expectErr := func(file string, parts ...string) {
		t.Helper()
		_, err := LoadTokenizer(dir)
		require.Error(t, err)
		require.Contains(t, err.Error(), file)
		for _, p := range parts {
			require.Contains(t, err.Error(), p)
		}
	}

	// Truncated JSON.
	require.NoError(t, os.WriteFile(vocabPath, goodVocab[:len(goodVocab)/2], 0o644))
	expectErr(vocabPath, "corrupt vocab file")
	// Not an object of ints.
	require.NoError(t, os.WriteFile(vocabPath, []byte(`["a","b"]`), 0o644))
	expectErr(vocabPath, "corrupt vocab file")
	require.NoError(t, os.WriteFile(vocabPath, []byte(`{"a": 0, "b": 5}`), 0o644))
	expectErr(vocabPath, "outside")
	require.NoError(t, os.WriteFile(vocabPath, []byte(`{"a": 0, "b": 1}`), 0o644))
	expectErr(vocabPath, "byte-level symbol")
	require.NoError(t, os.WriteFile(vocabPath, goodVocab, 0o644))

	// Malformed merges line.
	require.NoError(t, os.WriteFile(mergesPath, []byte("#version: 0.2\nh e\nl l x\n"), 0o644))
	expectErr(mergesPath, "line 3")
	// Merge of tokens that are not in the vocabulary.
	require.NoError(t, os.WriteFile(mergesPath, []byte("#version: 0.2\nq u\n"), 0o644))
	expectErr(mergesPath, "line 2", `"qu"`)
	require.NoError(t, os.WriteFile(mergesPath, []byte("#version: 0.2\n"), 0o644))
	expectErr(mergesPath, "no merges")
	require.NoError(t, os.WriteFile(mergesPath, goodMerges, 0o644))

	_, err = LoadTokenizer(dir)
	require.NoError(t, err)
}

func TestTokenizerSyntheticAndSaveFiles(t *testing.T) {
	src := t.TempDir()
	vocab := tokTestWriteSynthetic(t, src)
	tk, err := LoadTokenizer(src)
	require.NoError(t, err)
	require.Equal(t, 50257, tk.VocabSize())

	hello := int64(vocab["hello"])
	h := int64(vocab["h"])
	space := int64(vocab["Ġ"])
	require.Equal(t, []int64{hello}, tk.Encode("hello"))
	// " hello" is one pre-token; "Ġ" has no merge with "h".
	require.Equal(t, []int64{space, hello}, tk.Encode(" hello"))
	require.Equal(t, []int64{hello, h}, tk.Encode("helloh"))
	require.Equal(t, "hello hello", tk.Decode(tk.Encode("hello hello")))

	dst := filepath.Join(t.TempDir(), "model", "tokenizer")
	require.NoError(t, tk.SaveFiles(dst))
	for _, name := range []string{TokenizerVocabFile, TokenizerMergesFile} {
		a, err := os.ReadFile(filepath.Join(src, name))
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join(dst, name))
		require.NoError(t, err)
		require.True(t, bytes.Equal(a, b), "%s is not a byte-identical copy", name)
	}
	entries, err := os.ReadDir(dst)
	require.NoError(t, err)
	require.Len(t, entries, 2, "SaveFiles left temporary files behind")

	// Saving over an existing copy works (rename replaces).
	require.NoError(t, tk.SaveFiles(dst))
	tk2, err := LoadTokenizer(dst)
	require.NoError(t, err)
	require.Equal(t, tk.Encode("hello world, hello!"), tk2.Encode("hello world, hello!"))
}

func TestTokenizerSaveFilesReal(t *testing.T) {
	tk := tokTestTokenizer(t)
	dst := t.TempDir()
	require.NoError(t, tk.SaveFiles(dst))
	for _, name := range []string{TokenizerVocabFile, TokenizerMergesFile} {
		a, err := os.ReadFile(filepath.Join(tokTestDir, name))
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join(dst, name))
		require.NoError(t, err)
		require.True(t, bytes.Equal(a, b), "%s is not a byte-identical copy", name)
	}
	tk2, err := LoadTokenizer(dst)
	require.NoError(t, err)
	require.Equal(t, tk.Encode(tokTestReview), tk2.Encode(tokTestReview))
}

func TestTokenizerDefaultDir(t *testing.T) {
	// Environment variable.
	envDir := t.TempDir()
	tokTestWriteSynthetic(t, envDir)
	t.Setenv(TokenizerVocabDirEnv, envDir)
	dir, err := DefaultTokenizerDir()
	require.NoError(t, err)
	require.Equal(t, envDir, dir)

	empty := t.TempDir()
	t.Setenv(TokenizerVocabDirEnv, empty)
	_, err = DefaultTokenizerDir()
	require.Error(t, err)
	require.Contains(t, err.Error(), empty)
	require.Contains(t, err.Error(), "scripts/fetch_vocab.sh")

	// Repository root found from the working directory.
	t.Setenv(TokenizerVocabDirEnv, "")
	root := tokTestRepoRoot(t)
	want := filepath.Join(root, "third_party", "gpt2")
	dir, err = DefaultTokenizerDir()
	if tokHasFiles(want) {
		require.NoError(t, err)
		require.Equal(t, want, dir)
	} else {
		require.Error(t, err)
		require.Contains(t, err.Error(), "scripts/fetch_vocab.sh")
		require.Contains(t, err.Error(), want)
	}

	// Outside the repository (and the test binary lives in a temp dir):
	// nothing is found.
	t.Chdir(t.TempDir())
	_, err = DefaultTokenizerDir()
	require.Error(t, err)
	require.Contains(t, err.Error(), "scripts/fetch_vocab.sh")

	require.True(t, tokGoModDeclares([]byte("// x\nmodule github.com/hier-ai/hier\n\ngo 1.26\n"), tokModulePath))
	require.True(t, tokGoModDeclares([]byte("module \"github.com/hier-ai/hier\"\n"), tokModulePath))
	require.False(t, tokGoModDeclares([]byte("module github.com/hier-ai/hier/sub\n"), tokModulePath))
}

// ---------------------------------------------------------------------------
// Concurrency

func TestTokenizerConcurrentEncode(t *testing.T) {
	shared := tokTestTokenizer(t)
	// A fresh tokenizer, so that the goroutines fill its cache concurrently.
	tk, err := LoadTokenizer(tokTestDir)
	require.NoError(t, err)

	texts := []string{
		tokTestReview,
		"Hello world",
		"multiple     spaces   inside\n\n\tand tabs",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!!!!!!!!!!!",
		"你好，世界！ 안녕하세요 Привет, мир! مرحبا 👨‍👩‍👧‍👦",
		"I'll be there; we've seen it, you're right <|endoftext|>",
		strings.Repeat("long piece without spaces ", 3) + strings.Repeat("z", 300),
	}
	want := make([][]int64, len(texts))
	for i, s := range texts {
		want[i] = shared.Encode(s)
	}
	wantBatch := shared.EncodeBatch(texts, 16, EndOfTextID)

	const workers = 32
	got := make([][][]int64, workers)
	gotBatch := make([]Batch, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := make([][]int64, len(texts))
			for rep := range 3 {
				for k := range texts {
					i := (k + w + rep) % len(texts) // different orders per goroutine
					res[i] = tk.Encode(texts[i])
				}
			}
			got[w] = res
			gotBatch[w] = tk.EncodeBatch(texts, 16, EndOfTextID)
		}()
	}
	wg.Wait()
	for w := range workers {
		require.Equal(t, want, got[w], "goroutine %d", w)
		require.Equal(t, wantBatch, gotBatch[w], "goroutine %d", w)
	}
}

// ---------------------------------------------------------------------------
// Benchmark

// BenchmarkEncode encodes a ~1 KB review. The first iterations fill the
// pre-token cache, so this measures the steady state of a long-running
// process.
func BenchmarkEncode(b *testing.B) {
	tk := tokTestTokenizer(b)
	b.SetBytes(int64(len(tokTestReview)))
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(tk.Encode(tokTestReview))
	}
	b.ReportMetric(float64(n), "tokens/op")
}
