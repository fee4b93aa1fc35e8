package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/urfave/cli/v2"
)

func init() { commands = append(commands, cmdTokenize()) }

// tokenizeResult is one text's entry in 'hier tokenize --json'.
type tokenizeResult struct {
	Text     string   `json:"text"`
	InputIDs []int64  `json:"input_ids"`
	Tokens   []string `json:"tokens"`
}

func cmdTokenize() *cli.Command {
	return &cli.Command{
		Name:      "tokenize",
		Usage:     "encode text with the GPT-2 byte-level BPE tokenizer",
		UsageText: "hier tokenize --text TEXT [--text TEXT ...] [--model DIR] [--special] [--json]",
		Description: "Prints, for each --text, its input_ids and tokens (each id decoded on its own; a\n" +
			"token holding part of a multi-byte character shows U+FFFD). The vocabulary is the\n" +
			"model directory's vocab.json + merges.txt when --model is given and has them, else\n" +
			"third_party/gpt2 (scripts/fetch_vocab.sh; or set HIER_VOCAB_DIR).\n\n" +
			"By default \"<|endoftext|>\" is ordinary text (OpenAI's encoder); --special maps it to\n" +
			"50256 (Hugging Face GPT2Tokenizer, tiktoken allowed_special=\"all\").\n\n" +
			"JSON (--json): an array with one object per --text, in the order of the flags (also for\n" +
			"a single --text):\n" +
			"  [{\"text\": \"Hello world\", \"input_ids\": [15496, 995], \"tokens\": [\"Hello\", \" world\"]}, ...]",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "text", Aliases: []string{"t"}, KeepSpace: true,
				Usage: "text to encode, verbatim (repeatable; commas and spaces are kept) (required)"},
			&cli.StringFlag{Name: "model", Aliases: []string{"m"}, TakesFile: true,
				Usage: "use the tokenizer saved in this model directory (default: third_party/gpt2)"},
			&cli.BoolFlag{Name: "special",
				Usage: "map \"<|endoftext|>\" to token 50256 instead of encoding it as text"},
		},
		Action: runTokenize,
	}
}

func runTokenize(c *cli.Context) error {
	env := envOf(c)
	texts := c.StringSlice("text")
	if len(texts) == 0 {
		return usageErrorf("tokenize: --text is required (see 'hier tokenize --help')")
	}
	dir := c.String("model")
	if dir != "" {
		if err := checkModelDir("tokenize", dir); err != nil {
			return err
		}
	}
	tok, err := loadTokenizer(dir)
	if err != nil {
		return err
	}
	opts := gpt2.EncodeOptions{AllowSpecial: c.Bool("special")}
	results := make([]tokenizeResult, len(texts))
	for i, text := range texts {
		ids := tok.EncodeWithOptions(text, opts)
		results[i] = tokenizeResult{Text: text, InputIDs: ids, Tokens: tok.Tokens(ids)}
	}
	env.Log.Debug("tokenized", "texts", len(texts), "special", opts.AllowSpecial)
	if env.JSON {
		return writeJSON(env.Out, results)
	}
	var b strings.Builder
	for i, r := range results {
		if len(results) > 1 {
			if i > 0 {
				b.WriteByte('\n')
			}
			fmt.Fprintf(&b, "[%d] ", i)
		}
		fmt.Fprintf(&b, "text: %s\n", strconv.Quote(r.Text))
		fmt.Fprintf(&b, "input_ids: %s\n", formatInts(r.InputIDs))
		quoted := make([]string, len(r.Tokens))
		for j, t := range r.Tokens {
			quoted[j] = strconv.Quote(t)
		}
		fmt.Fprintf(&b, "tokens: [%s]\n", strings.Join(quoted, " "))
	}
	_, err = fmt.Fprint(env.Out, b.String())
	return err
}

// formatInts formats ids as "[1 2 3]".
func formatInts(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return "[" + strings.Join(parts, " ") + "]"
}
