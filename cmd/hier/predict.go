package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/hier/pipeline"
	"github.com/hier-ai/hier/torch"
	"github.com/urfave/cli/v2"
)

func init() { commands = append(commands, cmdPredict()) }

// prediction is one input's result in 'hier predict --json'.
type prediction struct {
	Text          *string   `json:"text,omitempty"` // only for --text inputs
	InputIDs      []int64   `json:"input_ids"`      // the ids the model saw (after truncation, no padding)
	Truncated     bool      `json:"truncated,omitempty"`
	Logits        []float64 `json:"logits"`
	Probabilities []float64 `json:"probabilities,omitempty"` // classification only
	Label         string    `json:"label,omitempty"`         // single-label classification only
	Labels        *[]string `json:"labels,omitempty"`        // multi-label classification only

	// A hier behaviour head only: the prediction in the target's units.
	*targetPrediction
}

// targetPrediction is a hier behaviour (H2) head's output in the target's units. The head
// predicts the residual of the target over a user+item bias model; the prediction is
// baseline + alpha·residual, as the run evaluates it.
type targetPrediction struct {
	// Prediction is in Unit (e.g. a rating on the data's scale); absent for a checkpoint that
	// does not store its baseline.
	Prediction *float64 `json:"prediction,omitempty"`
	// Unit is the behaviour target the head was trained on, e.g. "rating".
	Unit string `json:"unit"`
	// Residual is the head's output (logits[0]): the target minus the baseline, before alpha.
	Residual float64 `json:"residual"`
	// Alpha is the weight of the residual chosen on validation.
	Alpha float64 `json:"alpha"`
	// Baseline is the bias model's prediction (BaselineKind says which: the training mean, or
	// mean + user and item biases with --user/--item).
	Baseline     *float64 `json:"baseline,omitempty"`
	BaselineKind string   `json:"baseline_kind,omitempty"`
	// Note explains an output without a prediction (an older checkpoint).
	Note string `json:"note,omitempty"`
}

// predictOutput is the JSON document of 'hier predict --json'.
type predictOutput struct {
	Model       string       `json:"model"`
	ProblemType string       `json:"problem_type"`
	Predictions []prediction `json:"predictions"`
}

func cmdPredict() *cli.Command {
	return &cli.Command{
		Name:  "predict",
		Usage: "run a GPT-2 sequence classifier / regressor checkpoint on texts or token ids",
		UsageText: "hier predict --model DIR --text TEXT [--text TEXT ...] [--json]\n" +
			"hier predict --model DIR --input-ids 1,2,3 [--input-ids 4,5 ...] [--json]",
		Description: "Loads a Hugging Face GPT2ForSequenceClassification checkpoint (config.json +\n" +
			"model.safetensors with score.weight) and prints, per input, the input_ids, the head's\n" +
			"logits and, for classification, the probabilities and the label:\n" +
			"  single_label_classification: probabilities = softmax(logits), label = id2label[argmax]\n" +
			"  multi_label_classification:  probabilities = sigmoid(logits), labels = those >= 0.5\n" +
			"  regression:                  logits only; for the behaviour head of 'hier run' / 'hier finetune'\n" +
			"                               (checkpoints/behavior) also the prediction in the target's units\n\n" +
			"The behaviour (H2) head predicts the residual of its target (the rating by default) over a\n" +
			"user+item bias model: prediction = baseline + alpha * residual, where baseline is the training\n" +
			"mean of the target, or with --user and --item that user's and item's bias model prediction\n" +
			"(mean + b_u + b_i, from hier_bias.json in the checkpoint), and alpha the weight chosen on\n" +
			"validation (both stored with the checkpoint). Its inputs look like the pipeline's:\n" +
			"\"item: <item text> | user: (rated 5) <summary>; ...\". Checkpoints written before the baseline was\n" +
			"stored print the residual only, labelled as such.\n\n" +
			"--text is tokenized with the model directory's tokenizer (else third_party/gpt2);\n" +
			"--input-ids takes comma-separated token ids (\"1,2,3\" or \"[1, 2, 3]\"). Inputs longer than\n" +
			"--max-length (default n_positions) keep their first --max-length tokens (cutting to\n" +
			"n_positions logs a warning). Inputs are batched (--batch-size) with right padding by pad_token_id and an\n" +
			"attention mask; a model without pad_token_id runs them one at a time. Eval mode, no grad.\n\n" +
			"JSON (--json), one document:\n" +
			"  {\"model\": DIR, \"problem_type\": \"single_label_classification\",\n" +
			"   \"predictions\": [{\"text\": \"...\" (only with --text), \"input_ids\": [...],\n" +
			"                    \"truncated\": true (only when cut), \"logits\": [...],\n" +
			"                    \"probabilities\": [...], \"label\": \"positive\"}, ...]}\n" +
			"predictions are in input order; regression has no probabilities/label; multi-label has\n" +
			"\"labels\" (a list) instead of \"label\". A behaviour head's predictions also have\n" +
			"  \"prediction\": 4.21 (in \"unit\"), \"unit\": \"rating\", \"residual\": R, \"alpha\": A,\n" +
			"  \"baseline\": B, \"baseline_kind\": \"...\"  (prediction = baseline + alpha * residual).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model", Aliases: []string{"m"}, TakesFile: true, Usage: "checkpoint directory (config.json, model.safetensors) (required)"},
			&cli.StringSliceFlag{Name: "text", Aliases: []string{"t"}, KeepSpace: true,
				Usage: "text to classify, verbatim (repeatable)"},
			&cli.StringSliceFlag{Name: "input-ids",
				Usage: "comma-separated token ids of one input (repeatable), e.g. 15496,995"},
			&cli.IntFlag{Name: "max-length", DefaultText: "n_positions", Usage: "keep at most this many tokens per input"},
			oldSpelling("max-len"),
			&cli.IntFlag{Name: "batch-size", Value: 16, Usage: "inputs per forward pass"},
			&cli.StringFlag{Name: "dtype", Value: "float32", Usage: "parameter dtype: float32 or float64"},
			&cli.BoolFlag{Name: "special", Usage: "with --text, map \"<|endoftext|>\" to token 50256"},
			&cli.StringFlag{Name: "user", Usage: "behaviour head: the user id whose bias enters the baseline (with --item)"},
			&cli.StringFlag{Name: "item", Usage: "behaviour head: the item id whose bias enters the baseline (with --user)"},
		},
		Action: runPredict,
	}
}

// predictInput is one input before the forward pass.
type predictInput struct {
	text      *string
	ids       []int64
	truncated bool
}

func runPredict(c *cli.Context) error {
	env := envOf(c)
	dir, err := requireString(c, "model")
	if err != nil {
		return err
	}
	texts, idArgs := c.StringSlice("text"), c.StringSlice("input-ids")
	switch {
	case len(texts) > 0 && len(idArgs) > 0:
		return usageErrorf("predict: give either --text or --input-ids, not both")
	case len(texts) == 0 && len(idArgs) == 0:
		return usageErrorf("predict: give the inputs with --text or --input-ids (see 'hier predict --help')")
	}
	batchSize := c.Int("batch-size")
	if batchSize < 1 {
		return usageErrorf("predict: --batch-size must be >= 1, got %d", batchSize)
	}
	dt, err := torch.ParseDType(c.String("dtype"))
	if err != nil || (dt != torch.Float32 && dt != torch.Float64) {
		return usageErrorf("predict: --dtype %q: want float32 or float64", c.String("dtype"))
	}
	if err := checkModelDir("predict", dir); err != nil {
		return err
	}
	// The config alone first: inputs are checked before the (possibly large) weights load.
	cfg, err := gpt2.LoadConfig(dir)
	if err != nil {
		return err
	}
	target, isBehavior, err := pipeline.ReadBehaviorTarget(dir, cfg)
	if err != nil {
		return err
	}
	user, item := c.String("user"), c.String("item")
	var baseline float64
	var baselineKind string
	switch {
	case (user != "" || item != "") && !isBehavior:
		return usageErrorf("predict: --user and --item apply only to a hier behaviour head (checkpoints/behavior of a run); %s is not one", dir)
	case isBehavior && target.HasBaseline:
		if baseline, baselineKind, err = target.Baseline(user, item); err != nil {
			return fmt.Errorf("predict: %w", err)
		}
	case isBehavior && (user != "" || item != ""):
		return fmt.Errorf("predict: %s does not store the baseline of its behaviour head (written by an older hier), so --user/--item cannot be used; re-run 'hier finetune --task behavior' or 'hier run'", dir)
	}
	maxLen := cfg.NPositions
	if c.IsSet("max-length") {
		maxLen = c.Int("max-length")
		if maxLen < 1 || maxLen > cfg.NPositions {
			return usageErrorf("predict: --max-length %d: want 1..%d (n_positions)", maxLen, cfg.NPositions)
		}
	}

	var inputs []predictInput
	if len(texts) > 0 {
		tok, err := loadTokenizer(dir)
		if err != nil {
			return err
		}
		opts := gpt2.EncodeOptions{AllowSpecial: c.Bool("special")}
		for i, text := range texts {
			ids := tok.EncodeWithOptions(text, opts)
			if len(ids) == 0 {
				return usageErrorf("predict: --text #%d (%q) has no tokens", i+1, text)
			}
			if err := checkVocab(ids, cfg.VocabSize); err != nil {
				return fmt.Errorf("predict: --text #%d: %w (the tokenizer does not match the model)", i+1, err)
			}
			inputs = append(inputs, predictInput{text: &texts[i], ids: ids})
		}
	} else {
		for i, arg := range idArgs {
			ids, err := parseIDList(arg)
			if err != nil {
				return usageErrorf("predict: --input-ids #%d %q: %v", i+1, arg, err)
			}
			if err := checkVocab(ids, cfg.VocabSize); err != nil {
				return usageErrorf("predict: --input-ids #%d: %v", i+1, err)
			}
			inputs = append(inputs, predictInput{ids: ids})
		}
	}
	// Truncation asked for with --max-length is logged at info, truncation to n_positions warns.
	logTrunc := env.Log.Warn
	if c.IsSet("max-length") {
		logTrunc = env.Log.Info
	}
	for i := range inputs {
		if n := len(inputs[i].ids); n > maxLen {
			logTrunc("input truncated", "input", i+1, "tokens", n, "max_length", maxLen)
			inputs[i].ids = inputs[i].ids[:maxLen]
			inputs[i].truncated = true
		}
	}

	clf, rep, err := gpt2.LoadSequenceClassifier(dir, gpt2.LoadOptions{Device: env.Device, DType: dt})
	if err != nil {
		if rep != nil && strings.Contains(err.Error(), "no score.weight") {
			return fmt.Errorf("predict: %s has no classification head (no score.weight in %s): it is a backbone-only checkpoint; fine-tune a head first (see 'hier inspect --model %s')", dir, rep.File, dir)
		}
		return err
	}
	defer clf.Free()
	env.Log.Info("model loaded", "dir", dir, "report", rep.String(), "device", env.Device.String(), "dtype", dt.String())
	if len(rep.Unexpected) > 0 {
		env.Log.Warn("checkpoint has unexpected keys (not used)", "keys", strings.Join(rep.Unexpected, ", "))
	}
	clf.Train(false)

	pad := clf.Config().PadTokenID
	if pad == nil && batchSize > 1 && len(inputs) > 1 {
		env.Log.Info("model has no pad_token_id: running inputs one at a time")
		batchSize = 1
	}
	var padID int64
	if pad != nil {
		padID = *pad
	}
	problem := clf.ProblemType()
	labelNames := clf.Config().Labels()
	out := predictOutput{Model: dir, ProblemType: problem, Predictions: make([]prediction, len(inputs))}
	err = torch.NoGrad(func() error {
		for start := 0; start < len(inputs); start += batchSize {
			end := min(start+batchSize, len(inputs))
			rows := make([][]int64, 0, end-start)
			for _, in := range inputs[start:end] {
				rows = append(rows, in.ids)
			}
			logits, err := classifyBatch(clf, rows, padID, env.Device)
			if err != nil {
				return err
			}
			for j, lg := range logits {
				in := inputs[start+j]
				p, err := interpret(lg, problem, labelNames)
				if err != nil {
					return fmt.Errorf("predict: input #%d: %w", start+j+1, err)
				}
				p.Text, p.InputIDs, p.Truncated = in.text, in.ids, in.truncated
				if isBehavior && problem == gpt2.ProblemRegression && len(lg) == 1 {
					p.targetPrediction = inTargetUnits(lg[0], target, baseline, baselineKind)
				}
				out.Predictions[start+j] = p
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if env.JSON {
		return writeJSON(env.Out, out)
	}
	return printPredictions(env, out, labelNames)
}

// inTargetUnits turns a behaviour head's output (a residual) into the target's units when the
// checkpoint stores its baseline, and labels the residual as such when it does not.
func inTargetUnits(residual float64, t pipeline.BehaviorTarget, baseline float64, kind string) *targetPrediction {
	tp := &targetPrediction{Unit: t.Unit, Residual: residual, Alpha: t.Alpha}
	if !t.HasBaseline {
		tp.Note = "this checkpoint does not store its baseline (written by an older hier): residual is " + t.Unit +
			" minus the user+item bias model's prediction, not a " + t.Unit
		return tp
	}
	pred := baseline + t.Alpha*residual
	tp.Prediction, tp.Baseline, tp.BaselineKind = &pred, &baseline, kind
	return tp
}

// classifyBatch runs one forward pass over rows (right-padded with padID, with an attention
// mask when the rows differ in length) and returns the logits per row, as float64.
func classifyBatch(clf *gpt2.SequenceClassifier, rows [][]int64, padID int64, dev torch.Device) (logits [][]float64, err error) {
	B := len(rows)
	s := torch.NewScope()
	defer s.Close()
	defer torch.Recover(&err)
	in, err := gpt2.PadRight(s, rows, padID, 0, dev)
	if err != nil {
		return nil, err
	}
	idsT, maskT := in.InputIDs, in.AttentionMask
	if !in.Padded {
		maskT = nil
	}
	res, err := clf.Forward(s, idsT, maskT, nil)
	if err != nil {
		return nil, err
	}
	lg := s.Track(torch.Must(res.Logits.To(torch.CPU, torch.Float64)))
	flat, err := lg.Float64s()
	if err != nil {
		return nil, err
	}
	n := int(lg.Size(1))
	logits = make([][]float64, B)
	for i := range logits {
		logits[i] = flat[i*n : (i+1)*n]
	}
	return logits, nil
}

// interpret turns one row of logits into a prediction for the problem type.
func interpret(logits []float64, problem string, labelNames []string) (prediction, error) {
	for _, v := range logits {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return prediction{}, fmt.Errorf("the model produced non-finite logits %v", logits)
		}
	}
	p := prediction{Logits: logits}
	name := func(i int) string {
		if i < len(labelNames) {
			return labelNames[i]
		}
		return "LABEL_" + strconv.Itoa(i)
	}
	switch problem {
	case gpt2.ProblemSingleLabel:
		p.Probabilities = softmax(logits)
		best := 0
		for i, v := range logits {
			if v > logits[best] {
				best = i
			}
		}
		p.Label = name(best)
	case gpt2.ProblemMultiLabel:
		p.Probabilities = make([]float64, len(logits))
		on := []string{}
		for i, v := range logits {
			p.Probabilities[i] = 1 / (1 + math.Exp(-v))
			if p.Probabilities[i] >= 0.5 {
				on = append(on, name(i))
			}
		}
		p.Labels = &on
	}
	return p, nil
}

// softmax is the numerically stable softmax of xs.
func softmax(xs []float64) []float64 {
	m := math.Inf(-1)
	for _, v := range xs {
		m = math.Max(m, v)
	}
	out := make([]float64, len(xs))
	sum := 0.0
	for i, v := range xs {
		out[i] = math.Exp(v - m)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// parseIDList parses "1,2,3" (spaces and surrounding [ ] allowed) into token ids.
func parseIDList(s string) ([]int64, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(t, "["), "]"))
	if t == "" {
		return nil, fmt.Errorf("no token ids")
	}
	parts := strings.Split(t, ",")
	ids := make([]int64, len(parts))
	for i, p := range parts {
		p = strings.TrimSpace(p)
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			if p == "" {
				return nil, fmt.Errorf("empty token id at position %d", i+1)
			}
			return nil, fmt.Errorf("%q (position %d) is not an integer token id", p, i+1)
		}
		ids[i] = v
	}
	return ids, nil
}

// checkVocab checks that every id is in [0, vocab).
func checkVocab(ids []int64, vocab int) error {
	for i, id := range ids {
		if id < 0 || id >= int64(vocab) {
			return fmt.Errorf("token id %d (position %d) is outside the vocabulary [0, %d)", id, i+1, vocab)
		}
	}
	return nil
}

// formatFloats formats xs as "[0.1 -0.2]" with 6 significant digits.
func formatFloats(xs []float64) string {
	parts := make([]string, len(xs))
	for i, v := range xs {
		parts[i] = strconv.FormatFloat(v, 'g', 6, 64)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func printPredictions(env *Env, out predictOutput, labelNames []string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "model: %s\nproblem_type: %s", out.Model, out.ProblemType)
	if out.ProblemType != gpt2.ProblemRegression {
		fmt.Fprintf(&b, " (labels: %s)", strings.Join(labelNames, ", "))
	}
	b.WriteByte('\n')
	for i, p := range out.Predictions {
		fmt.Fprintf(&b, "\n[%d]", i)
		if p.Text != nil {
			fmt.Fprintf(&b, " text: %s\n   ", strconv.Quote(*p.Text))
		}
		fmt.Fprintf(&b, " input_ids: %s", formatInts(p.InputIDs))
		if p.Truncated {
			b.WriteString(" (truncated)")
		}
		fmt.Fprintf(&b, "\n    logits: %s\n", formatFloats(p.Logits))
		if p.Probabilities != nil {
			fmt.Fprintf(&b, "    probabilities: %s\n", formatFloats(p.Probabilities))
		}
		if p.Label != "" {
			fmt.Fprintf(&b, "    label: %s\n", p.Label)
		}
		if p.Labels != nil {
			fmt.Fprintf(&b, "    labels: [%s]\n", strings.Join(*p.Labels, ", "))
		}
		if tp := p.targetPrediction; tp != nil {
			if tp.Prediction != nil {
				fmt.Fprintf(&b, "    prediction: %.4f %s (= baseline %.4f [%s] + alpha %g * residual %.4f)\n",
					*tp.Prediction, tp.Unit, *tp.Baseline, tp.BaselineKind, tp.Alpha, tp.Residual)
			} else {
				fmt.Fprintf(&b, "    residual: %.4f (%s)\n", tp.Residual, tp.Note)
			}
		}
	}
	_, err := fmt.Fprint(env.Out, b.String())
	return err
}
