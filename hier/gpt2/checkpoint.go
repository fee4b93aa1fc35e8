package gpt2

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/hier-ai/hier/torch"
)

// LoadOptions controls how a checkpoint directory is read.
type LoadOptions struct {
	DType  torch.DType  // parameter dtype after loading; 0 means Float32
	Device torch.Device // where the parameters go
	// InitHead initialises score.weight fresh (N(0, initializer_range)) when the checkpoint has
	// none; without it a missing head is an error. Only for LoadSequenceClassifier.
	InitHead bool
	// NumLabels, when > 0, overrides the config's num_labels (with InitHead, for a new task on
	// a backbone checkpoint). Labels, when set, also sets id2label.
	NumLabels int
	Labels    []string
	// Generator seeds a freshly initialised head (nil: the global generator).
	Generator *torch.Generator
}

// LoadReport says how the checkpoint's keys were used.
type LoadReport struct {
	File            string   // the weights file read
	Prefixed        bool     // names carried the "transformer." prefix
	Missing         []string // expected parameters the file lacks (an error unless initialised)
	Unexpected      []string // keys that are not GPT-2 parameters
	Ignored         []string // known non-parameters: attn.bias / attn.masked_bias buffers, tied lm_head.weight
	HeadInitialized bool     // score.weight was initialised fresh
}

func (r *LoadReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "file %s", r.File)
	if r.Prefixed {
		b.WriteString(` (keys prefixed "transformer.")`)
	}
	if len(r.Missing) > 0 {
		fmt.Fprintf(&b, "; missing: %s", strings.Join(r.Missing, ", "))
	}
	if len(r.Unexpected) > 0 {
		fmt.Fprintf(&b, "; unexpected: %s", strings.Join(r.Unexpected, ", "))
	}
	if len(r.Ignored) > 0 {
		fmt.Fprintf(&b, "; ignored %d buffer/tied keys", len(r.Ignored))
	}
	if r.HeadInitialized {
		b.WriteString("; score.weight initialised fresh")
	}
	return b.String()
}

// buffers are HF GPT-2 non-parameter keys: the causal-mask buffers (h.N.attn.bias, which must
// not be mistaken for h.N.attn.c_attn.bias) and the LM head tied to wte.
var bufferKey = regexp.MustCompile(`^h\.\d+\.attn\.(bias|masked_bias)$`)

// readWeights reads model.safetensors, or else pytorch_model.bin, from dir.
func readWeights(dir string) (map[string]*torch.Tensor, string, error) {
	st := filepath.Join(dir, SafetensorsFile)
	if _, err := os.Stat(st); err == nil {
		ts, _, err := torch.LoadSafetensors(st, torch.CPU)
		return ts, st, err
	}
	bin := filepath.Join(dir, PytorchBinFile)
	if _, err := os.Stat(bin); err == nil {
		named, err := torch.LoadPickleTensors(bin)
		if err != nil {
			return nil, bin, err
		}
		ts := map[string]*torch.Tensor{}
		for _, n := range named {
			ts[n.Name] = n.Tensor
		}
		return ts, bin, nil
	}
	return nil, "", fmt.Errorf("gpt2: %s has neither %s nor %s", dir, SafetensorsFile, PytorchBinFile)
}

// loadState reads config and weights and fills a backbone; it returns the remaining
// (non-backbone) tensors by canonical name (e.g. "score.weight") for the caller.
func loadState(dir string, opts LoadOptions) (*Model, map[string]*torch.Tensor, *LoadReport, error) {
	cfg, err := LoadConfig(dir)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("gpt2: %w", err)
	}
	raw, file, err := readWeights(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	defer func() {
		for _, t := range raw {
			t.Free()
		}
	}()
	rep := &LoadReport{File: file}
	shapes := paramShapes(cfg)
	state := map[string]*torch.Tensor{}
	extra := map[string]*torch.Tensor{}
	var extraKeys []string
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	sort.Strings(names) // deterministic reports and errors
	for _, name := range names {
		t := raw[name]
		n := name
		if strings.HasPrefix(n, "transformer.") {
			n = strings.TrimPrefix(n, "transformer.")
			rep.Prefixed = true
		}
		switch {
		case bufferKey.MatchString(n) || n == "lm_head.weight":
			rep.Ignored = append(rep.Ignored, name)
		case shapes[n] != nil:
			got := t.Shape()
			if !slices.Equal(got, shapes[n]) {
				return nil, nil, rep, fmt.Errorf("gpt2: %s: %s has shape %v, config.json implies %v", file, name, got, shapes[n])
			}
			state[n] = t
		case n == "score.weight":
			extra[n] = t
			extraKeys = append(extraKeys, name)
		default:
			rep.Unexpected = append(rep.Unexpected, name)
		}
	}
	for n := range shapes {
		if state[n] == nil {
			rep.Missing = append(rep.Missing, n)
		}
	}
	sort.Strings(rep.Missing)
	sort.Strings(rep.Unexpected)
	sort.Strings(rep.Ignored)
	if len(rep.Missing) > 0 {
		shown := rep.Missing
		more := ""
		if len(shown) > 6 {
			shown, more = shown[:6], fmt.Sprintf(" and %d more", len(rep.Missing)-6)
		}
		return nil, nil, rep, fmt.Errorf("gpt2: %s lacks %d backbone parameter(s): %s%s", file, len(rep.Missing), strings.Join(shown, ", "), more)
	}
	dt := opts.DType
	if dt == 0 {
		dt = torch.Float32
	}
	m := &Model{Config: cfg}
	get := func(n string) *torch.Tensor {
		if err != nil {
			return nil
		}
		var t *torch.Tensor
		t, err = state[n].To(opts.Device, dt)
		if err == nil {
			// A private copy, so the model never aliases the file's buffer.
			var c *torch.Tensor
			c, err = t.Clone()
			t.Free()
			t = c
		}
		return t
	}
	m.WTE, m.WPE = get("wte.weight"), get("wpe.weight")
	for i := 0; i < cfg.NLayer; i++ {
		p := fmt.Sprintf("h.%d.", i)
		m.Blocks = append(m.Blocks, &Block{
			Ln1W: get(p + "ln_1.weight"), Ln1B: get(p + "ln_1.bias"),
			AttnW: get(p + "attn.c_attn.weight"), AttnB: get(p + "attn.c_attn.bias"),
			AttnProjW: get(p + "attn.c_proj.weight"), AttnProjB: get(p + "attn.c_proj.bias"),
			Ln2W: get(p + "ln_2.weight"), Ln2B: get(p + "ln_2.bias"),
			FcW: get(p + "mlp.c_fc.weight"), FcB: get(p + "mlp.c_fc.bias"),
			ProjW: get(p + "mlp.c_proj.weight"), ProjB: get(p + "mlp.c_proj.bias"),
		})
	}
	m.LnFW, m.LnFB = get("ln_f.weight"), get("ln_f.bias")
	if err == nil {
		err = m.SetRequiresGrad(true)
	}
	if err != nil {
		m.Free()
		return nil, nil, rep, fmt.Errorf("gpt2: %s: %w", file, err)
	}
	// Hand the extra tensors to the caller (remove them from raw so the deferred free skips them).
	for _, k := range extraKeys {
		delete(raw, k)
	}
	return m, extra, rep, nil
}

// LoadModel loads a GPT-2 backbone from an HF checkpoint directory: config.json plus
// model.safetensors (or pytorch_model.bin). Parameter names may carry the "transformer." prefix
// (GPT2ForSequenceClassification / GPT2LMHeadModel) or not (GPT2Model, the public gpt2 repo);
// attn.bias / attn.masked_bias buffers and the tied lm_head.weight are ignored. Errors: a missing
// or invalid file, a missing backbone parameter, or a shape that does not match config.json.
func LoadModel(dir string, opts LoadOptions) (*Model, *LoadReport, error) {
	m, extra, rep, err := loadState(dir, opts)
	for _, t := range extra {
		t.Free()
	}
	return m, rep, err
}

// LoadSequenceClassifier loads GPT2ForSequenceClassification from an HF checkpoint directory.
// A checkpoint without score.weight (a plain backbone) is an error unless opts.InitHead is set;
// then the head is initialised fresh and the report says so. opts.NumLabels/Labels override the
// config's labels (a new task); the head must then be initialised or match in shape.
func LoadSequenceClassifier(dir string, opts LoadOptions) (*SequenceClassifier, *LoadReport, error) {
	m, extra, rep, err := loadState(dir, opts)
	if err != nil {
		return nil, rep, err
	}
	score := extra["score.weight"]
	cfg := m.Config
	if len(opts.Labels) > 0 {
		cfg.SetLabels(opts.Labels)
	} else if opts.NumLabels > 0 {
		n := opts.NumLabels
		cfg.NumLabelsField = &n
		if len(cfg.ID2Label) != n {
			cfg.ID2Label, cfg.Label2ID = nil, nil
		}
	}
	want := []int64{int64(cfg.NumLabels()), int64(cfg.NEmbd)}
	if score != nil && !slices.Equal(score.Shape(), want) {
		if !opts.InitHead {
			got := score.Shape()
			score.Free()
			m.Free()
			return nil, rep, fmt.Errorf("gpt2: %s: score.weight has shape %v, num_labels=%d needs %v (start a new head: LoadOptions.InitHead, as hier finetune does)", rep.File, got, cfg.NumLabels(), want)
		}
		score.Free()
		score = nil
	}
	if score == nil {
		if !opts.InitHead {
			m.Free()
			return nil, rep, fmt.Errorf("gpt2: %s has no score.weight (a backbone-only checkpoint); initialise a new classification head explicitly (LoadOptions.InitHead, as hier finetune does)", rep.File)
		}
		c, err := NewSequenceClassifier(m, opts.Generator)
		if err != nil {
			m.Free()
			return nil, rep, err
		}
		rep.HeadInitialized = true
		return c, rep, nil
	}
	dt := opts.DType
	if dt == 0 {
		dt = torch.Float32
	}
	w, err := score.To(opts.Device, dt)
	if err == nil {
		var c *torch.Tensor
		c, err = w.Clone()
		w.Free()
		w = c
	}
	score.Free()
	if err == nil {
		err = w.SetRequiresGrad(true)
	}
	if err != nil {
		m.Free()
		return nil, rep, err
	}
	return &SequenceClassifier{Backbone: m, Score: w}, rep, nil
}

// saveDir writes a checkpoint directory as a unit: files go to a temporary sibling directory,
// which then replaces dir (the old one is moved aside and removed), so a failed save never
// leaves a half-written checkpoint.
func saveDir(dir string, write func(tmp string) error) (err error) {
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := write(tmp); err != nil {
		return err
	}
	var old string
	if _, statErr := os.Stat(dir); statErr == nil {
		old = tmp + ".old"
		if err := os.Rename(dir, old); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if old != "" {
			_ = os.Rename(old, dir)
		}
		return err
	}
	if old != "" {
		return os.RemoveAll(old)
	}
	return nil
}

// saveTokenizer writes vocab.json and merges.txt and the HF tokenizer metadata that makes
// GPT2Tokenizer.from_pretrained(dir) pad with <|endoftext|> (GPT-2 has no pad token of its own):
// tokenizer_config.json and special_tokens_map.json.
func saveTokenizer(dir string, tok *Tokenizer, cfg *Config) error {
	if err := tok.SaveFiles(dir); err != nil {
		return err
	}
	special := map[string]string{"bos_token": EndOfTextToken, "eos_token": EndOfTextToken, "unk_token": EndOfTextToken}
	if cfg.PadTokenID != nil {
		if s, ok := tok.IDToToken(*cfg.PadTokenID); ok {
			special["pad_token"] = s
		}
	}
	tc := map[string]any{"tokenizer_class": "GPT2Tokenizer", "model_max_length": cfg.NPositions, "add_prefix_space": false}
	for k, v := range special {
		tc[k] = v
	}
	for name, v := range map[string]any{"tokenizer_config.json": tc, "special_tokens_map.json": special} {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		if err := torch.WriteFileAtomic(filepath.Join(dir, name), func(f *os.File) error { _, err := f.Write(append(b, '\n')); return err }); err != nil {
			return err
		}
	}
	return nil
}

func saveTensors(path string, ps []NamedParam) error {
	m := make(map[string]*torch.Tensor, len(ps))
	for _, p := range ps {
		if _, dup := m[p.Name]; dup {
			return fmt.Errorf("gpt2: duplicate parameter name %q", p.Name)
		}
		m[p.Name] = p.Tensor
	}
	return torch.SaveSafetensors(path, m, map[string]string{"format": "pt"})
}

// Save writes an HF checkpoint directory that GPT2ForSequenceClassification.from_pretrained
// loads: config.json (architectures, id2label/label2id, num_labels, problem_type, pad_token_id),
// model.safetensors with HF names ("transformer.*", "score.weight"), and, when tok is not nil,
// the tokenizer files (vocab.json, merges.txt). The directory is replaced as a unit.
func (c *SequenceClassifier) Save(dir string, tok *Tokenizer) error {
	cfg, err := c.Config().Clone()
	if err != nil {
		return err
	}
	cfg.Architectures = []string{architectureSequenceClassifer}
	if len(cfg.ID2Label) != c.NumLabels() {
		names := make([]string, c.NumLabels())
		for i := range names {
			names[i] = fmt.Sprintf("LABEL_%d", i)
		}
		cfg.SetLabels(names)
	}
	if cfg.ProblemType == "" {
		cfg.ProblemType = c.ProblemType()
	}
	cfg.Extra["torch_dtype"] = []byte(`"` + c.Backbone.DType().String() + `"`)
	return saveDir(dir, func(tmp string) error {
		if err := cfg.Save(tmp); err != nil {
			return err
		}
		if err := saveTensors(filepath.Join(tmp, SafetensorsFile), c.Params()); err != nil {
			return err
		}
		if tok != nil {
			return saveTokenizer(tmp, tok, cfg)
		}
		return nil
	})
}

// SaveLM writes the backbone as an HF GPT2LMHeadModel checkpoint (config.json, model.safetensors
// with "transformer.*" names; the LM head is tied to wte and, as in HF's safetensors files, not
// stored), plus the tokenizer files when tok is not nil.
func (m *Model) SaveLM(dir string, tok *Tokenizer) error {
	cfg, err := m.Config.Clone()
	if err != nil {
		return err
	}
	cfg.Architectures = []string{architectureLMHead}
	cfg.Extra["torch_dtype"] = []byte(`"` + m.DType().String() + `"`)
	var ps []NamedParam
	for _, p := range m.Params() {
		ps = append(ps, NamedParam{"transformer." + p.Name, p.Tensor})
	}
	return saveDir(dir, func(tmp string) error {
		if err := cfg.Save(tmp); err != nil {
			return err
		}
		if err := saveTensors(filepath.Join(tmp, SafetensorsFile), ps); err != nil {
			return err
		}
		if tok != nil {
			return saveTokenizer(tmp, tok, cfg)
		}
		return nil
	})
}

// ErrNoTokenizer is returned by LoadTokenizerFor when neither the model directory nor the
// default location has tokenizer files.
var ErrNoTokenizer = errors.New("gpt2: no tokenizer files (vocab.json + merges.txt)")

// LoadTokenizerFor loads the tokenizer saved in a model directory, falling back to the default
// vocabulary (DefaultTokenizerDir: $HIER_VOCAB_DIR, or third_party/gpt2). When neither has it the
// error wraps ErrNoTokenizer and says where it looked.
func LoadTokenizerFor(dir string) (*Tokenizer, error) {
	if _, err := os.Stat(filepath.Join(dir, "vocab.json")); err == nil {
		return LoadTokenizer(dir)
	}
	def, err := DefaultTokenizerDir()
	if err != nil {
		return nil, fmt.Errorf("%w: %s has no vocab.json, and the default vocabulary: %v", ErrNoTokenizer, dir, err)
	}
	return LoadTokenizer(def)
}
