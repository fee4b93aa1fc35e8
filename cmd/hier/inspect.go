package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/torch"
	"github.com/urfave/cli/v2"
)

func init() { commands = append(commands, cmdInspect()) }

// inspectConfig is the config summary of 'hier inspect --json'.
type inspectConfig struct {
	Architectures    []string          `json:"architectures"`
	NLayer           int               `json:"n_layer"`
	NHead            int               `json:"n_head"`
	NEmbd            int               `json:"n_embd"`
	NInner           int               `json:"n_inner"` // resolved: 4·n_embd when null
	VocabSize        int               `json:"vocab_size"`
	NPositions       int               `json:"n_positions"`
	Activation       string            `json:"activation_function"`
	LayerNormEpsilon float64           `json:"layer_norm_epsilon"`
	NumLabels        int               `json:"num_labels"`
	ID2Label         map[string]string `json:"id2label"`
	ProblemType      string            `json:"problem_type"` // resolved as HF does; "" without a head
	PadTokenID       *int64            `json:"pad_token_id"` // null when unset
	TorchDType       string            `json:"torch_dtype,omitempty"`
	WeightsDType     string            `json:"weights_dtype,omitempty"` // dtype(s) in the weights file

	labelsDefault bool // config.json sets neither id2label nor num_labels (HF's default 2)
}

// inspectParams counts parameters (the tied LM head is wte and not counted twice).
type inspectParams struct {
	Total    int64 `json:"total"`
	Backbone int64 `json:"backbone"`
	Head     int64 `json:"head"`
}

// inspectKeys is the checkpoint's LoadReport.
type inspectKeys struct {
	File       string   `json:"file"`
	Prefixed   bool     `json:"prefixed"` // names carry "transformer."
	Missing    []string `json:"missing"`
	Unexpected []string `json:"unexpected"`
	Ignored    []string `json:"ignored"` // attn.bias / attn.masked_bias buffers, tied lm_head.weight
}

// inspectHead describes the classification head (score.weight).
type inspectHead struct {
	Present bool    `json:"present"`
	Shape   []int64 `json:"shape,omitempty"`
	Note    string  `json:"note,omitempty"`
}

// inspectOutput is the JSON document of 'hier inspect --json'.
type inspectOutput struct {
	Model      string         `json:"model"`
	Config     inspectConfig  `json:"config"`
	Parameters *inspectParams `json:"parameters"` // null when the weights do not load
	Keys       *inspectKeys   `json:"keys"`       // null when the weights file cannot be read
	Head       inspectHead    `json:"head"`
	Problems   []string       `json:"problems"`
	OK         bool           `json:"ok"`
	Verdict    string         `json:"verdict"`
}

func cmdInspect() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "summarise a GPT-2 checkpoint: config, parameter count, key problems",
		UsageText: "hier inspect --model DIR [--json]",
		Description: "Reads config.json and the weights (model.safetensors or pytorch_model.bin) on the CPU\n" +
			"and prints the config summary, the parameter count (total = backbone + head; the tied LM\n" +
			"head is wte and not counted twice), the key report (missing / unexpected / ignored keys,\n" +
			"whether names carry the \"transformer.\" prefix) and a one-line verdict. A checkpoint\n" +
			"without score.weight is inspected as a backbone (\"no classification head\").\n" +
			"The exit status is 1 when any problem is found (weights that do not load, missing or\n" +
			"unexpected keys, a head whose shape does not match num_labels); the report is printed first.\n\n" +
			"JSON (--json): {\"model\", \"config\": {\"architectures\", \"n_layer\", \"n_head\", \"n_embd\",\n" +
			"\"n_inner\", \"vocab_size\", \"n_positions\", \"activation_function\", \"layer_norm_epsilon\",\n" +
			"\"num_labels\", \"id2label\", \"problem_type\", \"pad_token_id\", \"torch_dtype\", \"weights_dtype\"},\n" +
			"\"parameters\": {\"total\", \"backbone\", \"head\"}, \"keys\": {\"file\", \"prefixed\", \"missing\",\n" +
			"\"unexpected\", \"ignored\"}, \"head\": {\"present\", \"shape\", \"note\"}, \"problems\": [...],\n" +
			"\"ok\": bool, \"verdict\": \"...\"}.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model", Aliases: []string{"m"}, TakesFile: true, Usage: "checkpoint directory (config.json, model.safetensors) (required)"},
		},
		Action: runInspect,
	}
}

func runInspect(c *cli.Context) error {
	env := envOf(c)
	dir, err := requireString(c, "model")
	if err != nil {
		return err
	}
	if err := checkModelDir("inspect", dir); err != nil {
		return err
	}
	cfg, err := gpt2.LoadConfig(dir)
	if err != nil {
		return err
	}
	out := inspectOutput{Model: dir, Config: summariseConfig(cfg), Problems: []string{}}

	// Inspection never computes: load on the CPU whatever --device says.
	opts := gpt2.LoadOptions{Device: torch.CPU}
	var backbone *gpt2.Model
	clf, rep, headErr := gpt2.LoadSequenceClassifier(dir, opts)
	if headErr == nil {
		defer clf.Free()
		backbone = clf.Backbone
		out.Head = inspectHead{Present: true, Shape: clf.Score.Shape()}
		out.Config.ProblemType = clf.ProblemType()
	} else {
		m, rep2, err := gpt2.LoadModel(dir, opts)
		if rep2 != nil {
			rep = rep2
		}
		if err != nil {
			// The backbone itself does not load: report what is known, then fail.
			out.Keys = keysOf(rep)
			out.Problems = append(out.Problems, oneLine(err.Error()))
			out.Verdict = "FAIL: the checkpoint does not load: " + oneLine(err.Error())
			if perr := printInspect(env, out); perr != nil {
				return perr
			}
			return err
		}
		defer m.Free()
		backbone = m
		if strings.Contains(headErr.Error(), "no score.weight") {
			out.Head = inspectHead{Note: "no classification head (backbone only; predict needs score.weight, fine-tuning starts a new head)"}
		} else {
			out.Head = inspectHead{Present: true, Note: "classification head unusable: " + oneLine(headErr.Error())}
			out.Problems = append(out.Problems, out.Head.Note)
		}
	}
	out.Keys = keysOf(rep)
	if rep != nil && strings.HasSuffix(rep.File, ".safetensors") {
		if hs, _, err := torch.ReadSafetensorsHeader(rep.File); err == nil {
			out.Config.WeightsDType = weightsDType(hs)
		}
	}

	var p inspectParams
	for _, np := range backbone.Params() {
		p.Backbone += np.Tensor.Numel()
	}
	if clf != nil && headErr == nil {
		p.Head = clf.Score.Numel()
	}
	p.Total = p.Backbone + p.Head
	out.Parameters = &p

	if rep != nil {
		if len(rep.Missing) > 0 {
			out.Problems = append(out.Problems, "missing keys: "+strings.Join(rep.Missing, ", "))
		}
		if len(rep.Unexpected) > 0 {
			out.Problems = append(out.Problems, "unexpected keys (not used): "+strings.Join(rep.Unexpected, ", "))
		}
	}
	out.OK = len(out.Problems) == 0
	out.Verdict = verdict(out)
	if err := printInspect(env, out); err != nil {
		return err
	}
	if !out.OK {
		return fmt.Errorf("inspect: %s: %d problem(s): %s", out.Model, len(out.Problems), out.Problems[0])
	}
	return nil
}

func summariseConfig(cfg *gpt2.Config) inspectConfig {
	ic := inspectConfig{
		Architectures: cfg.Architectures,
		NLayer:        cfg.NLayer, NHead: cfg.NHead, NEmbd: cfg.NEmbd, NInner: cfg.Inner(),
		VocabSize: cfg.VocabSize, NPositions: cfg.NPositions,
		Activation: cfg.ActivationFunction, LayerNormEpsilon: cfg.LayerNormEpsilon,
		NumLabels: cfg.NumLabels(), ID2Label: map[string]string{},
		ProblemType: cfg.ProblemType, PadTokenID: cfg.PadTokenID,
		labelsDefault: len(cfg.ID2Label) == 0 && cfg.NumLabelsField == nil,
	}
	if ic.Architectures == nil {
		ic.Architectures = []string{}
	}
	for i, name := range cfg.Labels() {
		ic.ID2Label[strconv.Itoa(i)] = name
	}
	if raw, ok := cfg.Extra["torch_dtype"]; ok {
		ic.TorchDType = strings.Trim(string(raw), `"`)
	}
	return ic
}

func keysOf(rep *gpt2.LoadReport) *inspectKeys {
	if rep == nil {
		return nil
	}
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return &inspectKeys{File: rep.File, Prefixed: rep.Prefixed,
		Missing: nonNil(rep.Missing), Unexpected: nonNil(rep.Unexpected), Ignored: nonNil(rep.Ignored)}
}

// weightsDType lists the floating dtypes of the stored tensors ("float32", or "float16,float32").
func weightsDType(hs []torch.SafetensorsHeader) string {
	set := map[string]bool{}
	for _, h := range hs {
		if h.DType.IsFloat() {
			set[h.DType.String()] = true
		}
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func verdict(out inspectOutput) string {
	var what string
	if out.Head.Present {
		pt := out.Config.ProblemType
		if pt == "" {
			pt = "problem_type unset"
		}
		what = fmt.Sprintf("GPT-2 sequence classifier (%d layers, n_embd %d; head %v, %s)",
			out.Config.NLayer, out.Config.NEmbd, out.Head.Shape, pt)
	} else {
		what = fmt.Sprintf("GPT-2 backbone (%d layers, n_embd %d), no classification head", out.Config.NLayer, out.Config.NEmbd)
	}
	s := fmt.Sprintf("%s, %d parameters", what, out.Parameters.Total)
	if out.Keys != nil && len(out.Keys.Ignored) > 0 {
		s += fmt.Sprintf("; %d buffer/tied key(s) ignored", len(out.Keys.Ignored))
	}
	if out.OK {
		return "OK: " + s
	}
	return "PROBLEMS: " + s + "; " + strings.Join(out.Problems, "; ")
}

func printInspect(env *Env, out inspectOutput) error {
	if env.JSON {
		return writeJSON(env.Out, out)
	}
	var b strings.Builder
	cf := out.Config
	fmt.Fprintf(&b, "model: %s\n", out.Model)
	fmt.Fprintf(&b, "config:\n")
	if len(cf.Architectures) > 0 {
		fmt.Fprintf(&b, "  architectures: %s\n", strings.Join(cf.Architectures, ", "))
	}
	fmt.Fprintf(&b, "  n_layer: %d  n_head: %d  n_embd: %d  n_inner: %d\n", cf.NLayer, cf.NHead, cf.NEmbd, cf.NInner)
	fmt.Fprintf(&b, "  vocab_size: %d  n_positions: %d\n", cf.VocabSize, cf.NPositions)
	fmt.Fprintf(&b, "  activation_function: %s  layer_norm_epsilon: %g\n", cf.Activation, cf.LayerNormEpsilon)
	labels := make([]string, cf.NumLabels)
	for i := range labels {
		labels[i] = fmt.Sprintf("%d=%s", i, cf.ID2Label[strconv.Itoa(i)])
	}
	note := ""
	if cf.labelsDefault {
		note = " (HF defaults; config.json sets no labels)"
	}
	fmt.Fprintf(&b, "  num_labels: %d  id2label: {%s}%s\n", cf.NumLabels, strings.Join(labels, ", "), note)
	pt := cf.ProblemType
	if pt == "" {
		pt = "(none)"
	}
	pad := "(none)"
	if cf.PadTokenID != nil {
		pad = strconv.FormatInt(*cf.PadTokenID, 10)
	}
	fmt.Fprintf(&b, "  problem_type: %s  pad_token_id: %s\n", pt, pad)
	dts := []string{}
	if cf.TorchDType != "" {
		dts = append(dts, "torch_dtype "+cf.TorchDType)
	}
	if cf.WeightsDType != "" {
		dts = append(dts, "weights "+cf.WeightsDType)
	}
	if len(dts) > 0 {
		fmt.Fprintf(&b, "  dtype: %s\n", strings.Join(dts, ", "))
	}
	if p := out.Parameters; p != nil {
		fmt.Fprintf(&b, "parameters: %d total (%s): backbone %d, head %d\n", p.Total, humanCount(p.Total), p.Backbone, p.Head)
	}
	if k := out.Keys; k != nil {
		prefix := "not prefixed"
		if k.Prefixed {
			prefix = `prefixed "transformer."`
		}
		fmt.Fprintf(&b, "keys: file %s (%s)\n", k.File, prefix)
		list := func(name string, keys []string) {
			if len(keys) == 0 {
				fmt.Fprintf(&b, "  %s: none\n", name)
				return
			}
			fmt.Fprintf(&b, "  %s (%d): %s\n", name, len(keys), strings.Join(keys, ", "))
		}
		list("missing", k.Missing)
		list("unexpected", k.Unexpected)
		list("ignored", k.Ignored)
	}
	switch h := out.Head; {
	case h.Present && h.Note == "":
		fmt.Fprintf(&b, "head: score.weight %v\n", h.Shape)
	case h.Note != "":
		fmt.Fprintf(&b, "head: %s\n", h.Note)
	}
	fmt.Fprintf(&b, "verdict: %s\n", out.Verdict)
	_, err := fmt.Fprint(env.Out, b.String())
	return err
}

// humanCount formats n as 1.64M, 124.4M, 12.3K.
func humanCount(n int64) string {
	switch {
	case n >= 1e9:
		return strconv.FormatFloat(float64(n)/1e9, 'f', 2, 64) + "B"
	case n >= 1e6:
		return strconv.FormatFloat(float64(n)/1e6, 'f', 2, 64) + "M"
	case n >= 1e3:
		return strconv.FormatFloat(float64(n)/1e3, 'f', 1, 64) + "K"
	}
	return strconv.FormatInt(n, 10)
}
