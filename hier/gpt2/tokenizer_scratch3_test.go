package gpt2

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"testing"
	"unicode"
)

var scratchAtoms = []string{" ", " ", " ", "  ", "\n", "\n\n", "\t", "\r\n", "\u00a0", "\u3000", "\u2009", "\v", "\f",
	"a", "e", "the", "The", "hello", "HELLO", "x", "é", "ß", "ö", "\u0301", "中", "文", "日本", "한", "م", "Ж",
	"0", "1", "12", "2024", "٣", "½", "Ⅻ",
	"'", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "’", "\"",
	"!", "!!", "?", ".", "...", ",", "-", "--", "*", "#", "@", "<|endoftext|>", "(", ")", "$", "_", "=",
	"😀", "👍🏽", "🇺🇸", "👨‍👩‍👧", "\u200d", "aaa", "!!!!!", "    ", "\t\t", "\n\n\n", "zzzz", "ĠĠ"}

func TestScratch3Gen(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	var in []string
	for i := 0; i < 200000; i++ {
		n := 1 + r.Intn(12)
		var sb strings.Builder
		for j := 0; j < n; j++ {
			if r.Intn(8) == 0 {
				// random rune from BMP/astral avoiding surrogates and the disputed ones
				for {
					c := rune(r.Intn(0x2FFFF))
					if (c >= 0xD800 && c <= 0xDFFF) || c == 0x85 || c == 0xFEFF || (c >= 0x1C && c <= 0x1F) || c == 0 || !unicode.In(c, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.Cc, unicode.Cf, unicode.Co) {
						continue
					}
					sb.WriteRune(c)
					break
				}
			} else {
				sb.WriteString(scratchAtoms[r.Intn(len(scratchAtoms))])
			}
		}
		in = append(in, sb.String())
	}
	b, _ := json.Marshal(in)
	os.WriteFile("/tmp/rand_in.json", b, 0o644)
}

func TestScratch3Cmp(t *testing.T) {
	tk, _ := LoadTokenizer("/work/main/third_party/gpt2")
	var in []string
	var want [][]int64
	b, _ := os.ReadFile("/tmp/rand_in.json")
	json.Unmarshal(b, &in)
	b, _ = os.ReadFile("/tmp/rand_out.json")
	json.Unmarshal(b, &want)
	bad := 0
	for i, s := range in {
		got := tk.Encode(s)
		if fmt.Sprint(got) != fmt.Sprint(want[i]) {
			bad++
			if bad < 10 {
				t.Errorf("%q: got %v want %v; pieces %q", s, got, want[i], tokPretokenize(s))
			}
		}
		if tk.Decode(got) != s {
			t.Errorf("roundtrip %q", s)
		}
	}
	t.Logf("compared %d, bad %d", len(in), bad)
}

func TestScratch3Stock(t *testing.T) {
	tk, _ := LoadTokenizer("/work/main/third_party/gpt2")
	var in []string
	b, _ := os.ReadFile("/tmp/rand_in.json")
	json.Unmarshal(b, &in)
	bad, total := 0, 0
	shown := 0
	for _, s := range in {
		for _, p := range tokPretokenize(s) {
			total++
			var sb strings.Builder
			for i := 0; i < len(p); i++ { sb.WriteString(tk.byteChar[p[i]]) }
			toks, _ := tk.model.Tokenize(sb.String())
			var a []int64
			for _, x := range toks { a = append(a, int64(x.Id)) }
			want := tk.appendPiece(nil, p)
			if fmt.Sprint(a) != fmt.Sprint(want) { bad++; if shown < 8 { shown++; t.Logf("%q stock %v ours %v", p, a, want) } }
		}
	}
	t.Logf("pieces %d, stock MergeAll differs on %d", total, bad)
}
