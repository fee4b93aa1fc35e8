package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/hier/pipeline"
	"github.com/hier-ai/hier/torch"
	"github.com/urfave/cli/v2"
)

func init() { commands = append(commands, cmdEmbed()) }

const fTorchScript = "torchscript"

// embedding is one text's vector in 'hier embed --json'.
type embedding struct {
	Text   string    `json:"text"`
	Vector []float32 `json:"vector"`
}

// embedOutput is the JSON document of 'hier embed --json'.
type embedOutput struct {
	Model      string      `json:"model"`
	Dim        int         `json:"dim"`
	Embeddings []embedding `json:"embeddings"`
}

func cmdEmbed() *cli.Command {
	return &cli.Command{
		Name:  "embed",
		Usage: "encode texts into vectors with a GPT-2 backbone (mean-pooled last_hidden_state)",
		UsageText: "hier embed --model DIR --text TEXT [--text TEXT ...] [--json]\n" +
			"hier embed --run DIR --text TEXT [--text TEXT ...] [--json]\n" +
			"hier embed --torchscript FILE.pt [--max-length N] [--tokenizer DIR] --text TEXT [--text TEXT ...] [--json]",
		Description: "Encodes each text the way the pipeline builds H0: the text is tokenized with the model\n" +
			"directory's tokenizer (else third_party/gpt2), truncated to its first n_positions tokens\n" +
			"(or --max-length; an empty text is the single token <|endoftext|>), run through the GPT-2\n" +
			"backbone in eval mode without grad, and last_hidden_state (after ln_f) is averaged over\n" +
			"the tokens. --model is any GPT-2 checkpoint directory (e.g. DIR/checkpoints/backbone of a\n" +
			"run, or a Hugging Face gpt2 download); --run DIR uses that run's backbone\n" +
			"(DIR/checkpoints/backbone, on the CPU).\n\n" +
			"TorchScript (--torchscript FILE.pt): FILE is a torch.jit.trace (or torch.jit.script) of a\n" +
			"GPT-2 backbone saved with torch.jit.save, whose forward(input_ids int64 [batch, seq],\n" +
			"attention_mask int64 [batch, seq]) returns last_hidden_state [batch, seq, n_embd] (or a\n" +
			"tuple starting with it, as HF GPT2Model with torchscript=True does). The pooling is the\n" +
			"same. A trace records no config, so: the tokenizer is --tokenizer DIR, else vocab.json and\n" +
			"merges.txt beside FILE, else the default vocabulary ($HIER_VOCAB_DIR, third_party/gpt2);\n" +
			"the token budget is --max-length, by default the rows of the trace's wpe.weight parameter\n" +
			"(its n_positions); a trace without wpe.weight needs --max-length.\n\n" +
			"Output: one line per text, in input order, holding its n_embd floats separated by spaces.\n\n" +
			"JSON (--json), one document:\n" +
			"  {\"model\": DIR or FILE, \"dim\": N_EMBD, \"embeddings\": [{\"text\": \"...\", \"vector\": [N_EMBD floats]}, ...]}",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: fModel, Aliases: []string{"m"}, TakesFile: true, Usage: "GPT-2 checkpoint directory (config.json, model.safetensors) (this, --run or --torchscript is required)"},
			runFlag("run directory of 'hier run' / 'hier demo' (uses its checkpoints/backbone)"),
			&cli.StringFlag{Name: fTorchScript, TakesFile: true, Usage: "TorchScript `FILE` of a GPT-2 backbone: forward(input_ids, attention_mask) -> last_hidden_state (torch.jit.trace + torch.jit.save)"},
			&cli.StringSliceFlag{Name: "text", Aliases: []string{"t"}, KeepSpace: true, Usage: "text to encode, verbatim (repeatable) (required)"},
			&cli.IntFlag{Name: "max-length", DefaultText: "n_positions: the checkpoint's, or the rows of the trace's wpe.weight",
				Usage: "keep at most this many tokens per text, the first ones (--model, --torchscript); a trace has no config: give it when the trace has no wpe.weight parameter"},
			oldSpelling("max-len"),
			&cli.StringFlag{Name: "tokenizer", TakesFile: true, DefaultText: "the --model directory's, or the one beside the --torchscript file, else $HIER_VOCAB_DIR or third_party/gpt2",
				Usage: "`DIR` holding the GPT-2 vocab.json and merges.txt (--model, --torchscript)"},
			&cli.IntFlag{Name: "batch-size", Value: 16, Usage: "texts per forward pass"},
		},
		Action: runEmbed,
	}
}

func runEmbed(c *cli.Context) error {
	env := envOf(c)
	model, runDir, script := c.String(fModel), c.String("run"), c.String(fTorchScript)
	var given []string
	for _, f := range []struct{ name, v string }{{fModel, model}, {"run", runDir}, {fTorchScript, script}} {
		if f.v != "" {
			given = append(given, "--"+f.name)
		}
	}
	switch len(given) {
	case 0:
		return usageErrorf("embed: give the model with --model DIR, --run DIR or --torchscript FILE (see 'hier embed --help')")
	case 1:
	case 2:
		return usageErrorf("embed: give either %s or %s, not both", given[0], given[1])
	default:
		return usageErrorf("embed: give one of --model, --run and --torchscript, not several")
	}
	texts := c.StringSlice("text")
	if len(texts) == 0 {
		return usageErrorf("embed: give at least one --text (see 'hier embed --help')")
	}
	batch := c.Int("batch-size")
	if batch < 1 {
		return usageErrorf("embed: --batch-size must be >= 1, got %d", batch)
	}
	maxLen := 0 // 0: n_positions
	if c.IsSet("max-length") {
		if runDir != "" {
			return usageErrorf("embed: --max-length applies to --model and --torchscript (--run uses its backbone's n_positions)")
		}
		if maxLen = c.Int("max-length"); maxLen < 1 {
			return usageErrorf("embed: --max-length must be >= 1, got %d", maxLen)
		}
	}
	tokDir := c.String("tokenizer")
	if tokDir != "" && runDir != "" {
		return usageErrorf("embed: --tokenizer applies to --model and --torchscript (--run uses the run's tokenizer)")
	}
	var vecs [][]float32
	switch {
	case runDir != "":
		if err := requireRunDir(runDir); err != nil {
			return err
		}
		rm, err := pipeline.LoadRun(runDir)
		if err != nil {
			return err
		}
		defer rm.Close()
		if vecs, err = rm.Embed(texts); err != nil {
			return err
		}
		model = filepath.Join(runDir, pipeline.BackboneDir)
	case script != "":
		var err error
		if vecs, err = embedTorchScript(env, script, tokDir, maxLen, batch, texts); err != nil {
			return err
		}
		model = script
	default:
		if err := checkModelDir("embed", model); err != nil {
			return err
		}
		m, rep, err := gpt2.LoadModel(model, gpt2.LoadOptions{Device: env.Device})
		if err != nil {
			return err
		}
		defer m.Free()
		env.Log.Info("model loaded", "dir", model, "report", rep.String(), "device", env.Device.String())
		if maxLen > m.Config.NPositions {
			return usageErrorf("embed: --max-length %d: want 1..%d (n_positions of %s)", maxLen, m.Config.NPositions, model)
		}
		if maxLen == 0 {
			maxLen = m.Config.NPositions
		}
		tok, err := embedTokenizer(tokDir, model)
		if err != nil {
			return err
		}
		m.Train(false)
		enc := &pipeline.Encoder{Backbone: m, Tok: tok, MaxLen: maxLen, Batch: batch, Pool: pipeline.PoolMean}
		warnTruncated(env, tok, texts, maxLen)
		mat, err := enc.Encode(texts)
		if err != nil {
			return err
		}
		vecs = make([][]float32, mat.Rows)
		for i := range vecs {
			vecs[i] = mat.Row(i)
		}
	}
	out := embedOutput{Model: model, Embeddings: make([]embedding, len(texts))}
	for i, t := range texts {
		out.Embeddings[i] = embedding{Text: t, Vector: vecs[i]}
	}
	if len(vecs) > 0 {
		out.Dim = len(vecs[0])
	}
	if env.JSON {
		return writeJSON(env.Out, out)
	}
	var b strings.Builder
	for _, v := range vecs {
		for j, x := range v {
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(strconv.FormatFloat(float64(x), 'g', -1, 32))
		}
		b.WriteByte('\n')
	}
	_, err := fmt.Fprint(env.Out, b.String())
	return err
}

// embedTokenizer is --tokenizer DIR when given, else the tokenizer of dir (its vocab.json and
// merges.txt, falling back to the default vocabulary).
func embedTokenizer(flagDir, dir string) (*gpt2.Tokenizer, error) {
	if flagDir == "" {
		return loadTokenizer(dir)
	}
	tok, err := gpt2.LoadTokenizer(flagDir)
	if err != nil {
		return nil, fmt.Errorf("embed: --tokenizer %s: %w", flagDir, err)
	}
	return tok, nil
}

// warnTruncated logs the texts longer than maxLen tokens.
func warnTruncated(env *Env, tok *gpt2.Tokenizer, texts []string, maxLen int) {
	for i, t := range texts {
		if n := len(tok.Encode(t)); n > maxLen {
			env.Log.Warn("text truncated", "text", i+1, "tokens", n, "max_length", maxLen)
		}
	}
}

// embedTorchScript encodes texts with the TorchScript backbone at path like pipeline.Encoder
// with PoolMean does with a checkpoint: the first maxLen tokens of each text (an empty text is
// <|endoftext|>), right-padded batches of similar lengths, eval mode without grad, and
// last_hidden_state averaged over the real tokens (attention_mask 1). maxLen 0 means the rows
// of the trace's wpe.weight.
func embedTorchScript(env *Env, path, tokDir string, maxLen, batch int, texts []string) ([][]float32, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("embed: --torchscript %s does not exist", path)
	case err != nil:
		return nil, fmt.Errorf("embed: --torchscript: %w", err)
	case fi.IsDir():
		return nil, fmt.Errorf("embed: --torchscript %s is a directory; want a TorchScript file written by torch.jit.save (for a checkpoint directory use --model)", path)
	}
	mod, err := torch.LoadModule(path, env.Device)
	if err != nil {
		if !strings.Contains(err.Error(), path) {
			err = fmt.Errorf("%s: %w", path, err)
		}
		return nil, fmt.Errorf("embed: --torchscript: %w", err)
	}
	defer mod.Free()
	if err := mod.Train(false); err != nil {
		return nil, err
	}
	positions, err := tracePositions(mod)
	if err != nil {
		return nil, fmt.Errorf("embed: --torchscript %s: %w", path, err)
	}
	switch {
	case maxLen == 0 && positions == 0:
		return nil, usageErrorf("embed: --torchscript %s has no wpe.weight parameter to read n_positions from: give --max-length (at most the traced model's n_positions)", path)
	case maxLen == 0:
		maxLen = positions
	case positions > 0 && maxLen > positions:
		return nil, usageErrorf("embed: --max-length %d: want 1..%d (n_positions: the rows of wpe.weight in %s)", maxLen, positions, path)
	}
	tok, err := embedTokenizer(tokDir, filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	env.Log.Info("torchscript loaded", "file", path, "max_length", maxLen, "device", env.Device.String())
	warnTruncated(env, tok, texts, maxLen)
	ids := pipeline.TokenizeTexts(tok, texts, maxLen, false)
	order := pipeline.LengthOrder(ids)
	out := make([][]float32, len(texts))
	for start := 0; start < len(order); start += batch {
		rows := order[start:min(start+batch, len(order))]
		err := torch.NoGrad(func() error { return embedScriptBatch(mod, env.Device, ids, rows, out) })
		if err != nil {
			return nil, fmt.Errorf("embed: --torchscript %s: %w", path, err)
		}
	}
	return out, nil
}

// tracePositions is the number of rows of the module's wpe.weight parameter (GPT-2's position
// table, n_positions), or 0 when it has none.
func tracePositions(mod *torch.Module) (int, error) {
	ps, err := mod.NamedParameters()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range ps {
		if p.Name == "wpe.weight" || strings.HasSuffix(p.Name, ".wpe.weight") {
			if s := p.Tensor.Shape(); len(s) == 2 && n == 0 {
				n = int(s[0])
			}
		}
		p.Tensor.Free()
	}
	return n, nil
}

// embedScriptBatch runs one batch (the texts ids[rows]) through the module and stores the
// mean-pooled last_hidden_state of each in out.
func embedScriptBatch(mod *torch.Module, dev torch.Device, ids [][]int64, rows []int, out [][]float32) (err error) {
	s := torch.NewScope()
	defer s.Close()
	defer torch.Recover(&err)
	batch := make([][]int64, len(rows))
	for b, r := range rows {
		batch[b] = ids[r]
	}
	in, err := gpt2.PadRight(s, batch, gpt2.EndOfTextID, 0, dev)
	if err != nil {
		return err
	}
	hidden, err := mod.Forward(in.InputIDs, in.AttentionMask)
	if err != nil {
		return fmt.Errorf("forward on %d texts of up to %d tokens (is --max-length above the traced model's n_positions?): %w",
			len(rows), in.InputIDs.Size(1), err)
	}
	if sh, want := hidden.Shape(), in.InputIDs.Shape(); len(sh) != 3 || sh[0] != want[0] || sh[1] != want[1] {
		return fmt.Errorf("forward returned shape %v for input_ids %v; want last_hidden_state [batch, seq, n_embd]", sh, want)
	}
	pooled, err := gpt2.MeanPool(hidden.MustToDType(torch.Float32), in.AttentionMask)
	if err != nil {
		return err
	}
	cpu := s.Track(torch.Must(pooled.To(torch.CPU, torch.Float32)))
	data, err := cpu.Float32s()
	if err != nil {
		return err
	}
	d := len(data) / len(rows)
	for b, r := range rows {
		out[r] = data[b*d : (b+1)*d : (b+1)*d]
	}
	return nil
}
