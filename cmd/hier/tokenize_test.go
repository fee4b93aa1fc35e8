package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTokenize(t *testing.T) {
	requireVocab(t)

	out := ok(t, "tokenize", "--text", "Hello world")
	assert.Contains(t, out, "input_ids: [15496 995]")
	assert.Contains(t, out, `tokens: ["Hello" " world"]`)

	// One --text: an array of one object (the shape does not depend on the number of texts).
	var one []tokenizeResult
	okJSON(t, &one, "tokenize", "--text", "Hello world", "--json")
	assert.Equal(t, []tokenizeResult{{Text: "Hello world", InputIDs: []int64{15496, 995}, Tokens: []string{"Hello", " world"}}}, one)
	assert.True(t, strings.HasPrefix(ok(t, "tokenize", "--text", "Hello world", "--json"), "[{"), "an array")

	// --json before the command name works too.
	var again []tokenizeResult
	okJSON(t, &again, "--json", "tokenize", "-t", "Hello world")
	assert.Equal(t, one, again)

	// Several: an array in flag order; commas and leading spaces are kept verbatim.
	var many []tokenizeResult
	okJSON(t, &many, "tokenize", "--json", "--text", "Hello world", "--text", " a, b", "--text", "")
	require.Len(t, many, 3)
	assert.Equal(t, []int64{15496, 995}, many[0].InputIDs)
	assert.Equal(t, " a, b", many[1].Text)
	assert.Equal(t, []int64{257, 11, 275}, many[1].InputIDs)
	assert.Equal(t, []string{" a", ",", " b"}, many[1].Tokens)
	assert.Equal(t, []int64{}, many[2].InputIDs, "the empty text has no tokens (an empty list, not null)")

	// <|endoftext|> is text by default, 50256 with --special.
	var plain, special []tokenizeResult
	okJSON(t, &plain, "tokenize", "--json", "--text", "Hello <|endoftext|> world")
	okJSON(t, &special, "tokenize", "--json", "--special", "--text", "Hello <|endoftext|> world")
	require.Len(t, plain, 1)
	require.Len(t, special, 1)
	assert.NotContains(t, plain[0].InputIDs, int64(50256))
	assert.Equal(t, []int64{15496, 220, 50256, 995}, special[0].InputIDs)
	assert.Equal(t, "<|endoftext|>", special[0].Tokens[2])
}

func TestTokenizeModelDir(t *testing.T) {
	requireVocab(t)
	// gpt2-tiny has no tokenizer files: the default vocabulary is used.
	var r []tokenizeResult
	okJSON(t, &r, "tokenize", "--json", "--model", tinyDir(t), "--text", "Hello world")
	require.Len(t, r, 1)
	assert.Equal(t, []int64{15496, 995}, r[0].InputIDs)
}
