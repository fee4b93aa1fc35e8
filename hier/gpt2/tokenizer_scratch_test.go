package gpt2

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	sgt "github.com/sugarme/tokenizer"
	"github.com/sugarme/tokenizer/model/bpe"
	"github.com/sugarme/tokenizer/pretokenizer"
)

func TestScratch(t *testing.T) {
	tk, err := LoadTokenizer("/work/main/third_party/gpt2")
	if err != nil { t.Fatal(err) }
	var f struct{ Cases []struct{ Name, Text string; Ids []int64; Tokens []string } }
	b, _ := os.ReadFile("/work/shared/golden/tokenizer_cases.json")
	json.Unmarshal(b, &f)
	m, _ := bpe.NewBpeFromFiles("/work/main/third_party/gpt2/vocab.json", "/work/main/third_party/gpt2/merges.txt")
	st := sgt.NewTokenizer(m)
	bl := pretokenizer.NewByteLevel()
	bl.SetAddPrefixSpace(false)
	st.WithPreTokenizer(bl)
	bad := 0
	for _, c := range f.Cases {
		got := tk.Encode(c.Text)
		if fmt.Sprint(got) != fmt.Sprint(c.Ids) { bad++; t.Errorf("%s: got %v want %v", c.Name, got, c.Ids) }
		if fmt.Sprint(tk.Tokens(got)) != fmt.Sprint(c.Tokens) { t.Errorf("%s tokens: %q vs %q", c.Name, tk.Tokens(got), c.Tokens) }
		if tk.Decode(got) != c.Text { t.Errorf("%s: decode", c.Name) }
		enc, err := st.EncodeSingle(c.Text, false)
		if err != nil { t.Logf("sugarme %s: err %v", c.Name, err); continue }
		if fmt.Sprint(enc.Ids) != fmt.Sprint(c.Ids) { t.Logf("SUGARME DIFF %s %q:\n  sug %v %q\n  ref %v", c.Name, c.Text, enc.Ids, enc.Tokens, c.Ids) }
	}
	t.Logf("bad=%d of %d", bad, len(f.Cases))
}
