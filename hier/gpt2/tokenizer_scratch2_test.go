package gpt2

import (
	"fmt"
	"testing"

	sgt "github.com/sugarme/tokenizer"
	"github.com/sugarme/tokenizer/decoder"
	"github.com/sugarme/tokenizer/model/bpe"
	"github.com/sugarme/tokenizer/pretokenizer"
)

func TestScratch2(t *testing.T) {
	tk, _ := LoadTokenizer("/work/main/third_party/gpt2")
	m, _ := bpe.NewBpeFromFiles("/work/main/third_party/gpt2/vocab.json", "/work/main/third_party/gpt2/merges.txt")
	mk := func(prefix bool) *sgt.Tokenizer {
		st := sgt.NewTokenizer(m)
		bl := pretokenizer.NewByteLevel()
		bl.SetAddPrefixSpace(prefix)
		st.WithPreTokenizer(bl)
		return st
	}
	st := mk(false)
	for _, s := range []string{"a\u00a0!", "x\u3000\u3000y", "\n\nline", "\t\tcol", "a \n\n b", "x\u2009y", "x \u00a0y", "It's", "a\u00a0\u00a0b", "\r\n\r\nx", "a  \t b", "a\n\n"} {
		enc, _ := st.EncodeSingle(s, false)
		fmt.Printf("%q: sug %v %q | ours %v %q pieces %q\n", s, enc.Ids, enc.Tokens, tk.Encode(s), tk.Tokens(tk.Encode(s)), tokPretokenize(s))
	}
	enc, _ := mk(true).EncodeSingle("Hello world", false)
	fmt.Println("prefix default:", enc.Ids, enc.Tokens)
	st2 := mk(false)
	st2.AddSpecialTokens([]sgt.AddedToken{sgt.NewAddedToken("<|endoftext|>", true)})
	enc, err := st2.EncodeSingle("Hello <|endoftext|> world", false)
	fmt.Println("special:", enc, err)
	if enc != nil { fmt.Println(enc.Ids, enc.Tokens) }
	st3 := mk(false)
	st3.WithDecoder(decoder.NewBpeDecoder("Ġ"))
	ids := []int{}
	for _, x := range tk.Encode("café über 😀") { ids = append(ids, int(x)) }
	fmt.Printf("bpedecoder: %q\n", st3.Decode(ids, false))
	st3.WithDecoder(pretokenizer.NewByteLevel())
	fmt.Printf("bytelevel decoder: %q\n", st3.Decode(ids, false))
}
