package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/hier/pipeline"
	"github.com/urfave/cli/v2"
)

func init() { commands = append(commands, cmdEmbed()) }

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
			"hier embed --run DIR --text TEXT [--text TEXT ...] [--json]",
		Description: "Encodes each text the way the pipeline builds H0: the text is tokenized with the model\n" +
			"directory's tokenizer (else third_party/gpt2), truncated to n_positions tokens (an empty\n" +
			"text is the single token <|endoftext|>), run through the GPT-2 backbone in eval mode without\n" +
			"grad, and last_hidden_state (after ln_f) is averaged over the tokens. --model is any GPT-2\n" +
			"checkpoint directory (e.g. DIR/checkpoints/backbone of a run, or a Hugging Face gpt2\n" +
			"download); --run DIR uses that run's backbone (DIR/checkpoints/backbone, on the CPU).\n\n" +
			"Output: one line per text, in input order, holding its n_embd floats separated by spaces.\n\n" +
			"JSON (--json), one document:\n" +
			"  {\"model\": DIR, \"dim\": N_EMBD, \"embeddings\": [{\"text\": \"...\", \"vector\": [N_EMBD floats]}, ...]}",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: fModel, Aliases: []string{"m"}, TakesFile: true, Usage: "GPT-2 checkpoint directory (config.json, model.safetensors) (this or --run is required)"},
			runFlag("run directory of 'hier run' / 'hier demo' (uses its checkpoints/backbone)"),
			&cli.StringSliceFlag{Name: "text", Aliases: []string{"t"}, KeepSpace: true, Usage: "text to encode, verbatim (repeatable) (required)"},
			&cli.IntFlag{Name: "batch-size", Value: 16, Usage: "texts per forward pass"},
		},
		Action: runEmbed,
	}
}

func runEmbed(c *cli.Context) error {
	env := envOf(c)
	model, runDir := c.String(fModel), c.String("run")
	switch {
	case model != "" && runDir != "":
		return usageErrorf("embed: give either --model or --run, not both")
	case model == "" && runDir == "":
		return usageErrorf("embed: give the model with --model DIR or --run DIR (see 'hier embed --help')")
	}
	texts := c.StringSlice("text")
	if len(texts) == 0 {
		return usageErrorf("embed: give at least one --text (see 'hier embed --help')")
	}
	batch := c.Int("batch-size")
	if batch < 1 {
		return usageErrorf("embed: --batch-size must be >= 1, got %d", batch)
	}
	var vecs [][]float32
	if runDir != "" {
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
	} else {
		if err := checkModelDir("embed", model); err != nil {
			return err
		}
		m, rep, err := gpt2.LoadModel(model, gpt2.LoadOptions{Device: env.Device})
		if err != nil {
			return err
		}
		defer m.Free()
		env.Log.Info("model loaded", "dir", model, "report", rep.String(), "device", env.Device.String())
		tok, err := loadTokenizer(model)
		if err != nil {
			return err
		}
		m.Train(false)
		enc := &pipeline.Encoder{Backbone: m, Tok: tok, MaxLen: m.Config.NPositions, Batch: batch, Pool: pipeline.PoolMean}
		for i, t := range texts {
			if n := len(tok.Encode(t)); n > enc.MaxLen {
				env.Log.Warn("text truncated", "text", i+1, "tokens", n, "n_positions", enc.MaxLen)
			}
		}
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
