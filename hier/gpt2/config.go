package gpt2

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/hier-ai/hier/torch"
)

// Problem types, as in HF's PretrainedConfig.problem_type.
const (
	ProblemRegression             = "regression"
	ProblemSingleLabel            = "single_label_classification"
	ProblemMultiLabel             = "multi_label_classification"
	defaultActivation             = "gelu_new"
	defaultLayerNormEpsilon       = 1e-5
	defaultInitializerRange       = 0.02
	ConfigFile                    = "config.json"
	SafetensorsFile               = "model.safetensors"
	PytorchBinFile                = "pytorch_model.bin"
	architectureSequenceClassifer = "GPT2ForSequenceClassification"
	architectureLMHead            = "GPT2LMHeadModel"
)

// Config is HF's GPT2Config as read from config.json. Fields the project does not use are kept
// in Extra and written back on save, so a round trip loses nothing.
type Config struct {
	VocabSize               int               `json:"vocab_size"`
	NPositions              int               `json:"n_positions"`
	NEmbd                   int               `json:"n_embd"`
	NLayer                  int               `json:"n_layer"`
	NHead                   int               `json:"n_head"`
	NInner                  *int              `json:"n_inner"`
	ActivationFunction      string            `json:"activation_function"`
	LayerNormEpsilon        float64           `json:"layer_norm_epsilon"`
	ResidPdrop              float64           `json:"resid_pdrop"`
	EmbdPdrop               float64           `json:"embd_pdrop"`
	AttnPdrop               float64           `json:"attn_pdrop"`
	InitializerRange        float64           `json:"initializer_range"`
	ScaleAttnWeights        *bool             `json:"scale_attn_weights,omitempty"`
	ScaleAttnByInverseLayer bool              `json:"scale_attn_by_inverse_layer_idx"` // scores also / (layer+1)
	ReorderAndUpcastAttn    bool              `json:"reorder_and_upcast_attn"`         // float32 scores+softmax for f16/bf16 models
	BosTokenID              *int64            `json:"bos_token_id,omitempty"`
	EosTokenID              *int64            `json:"eos_token_id,omitempty"`
	PadTokenID              *int64            `json:"pad_token_id,omitempty"`
	ID2Label                map[string]string `json:"id2label,omitempty"`
	Label2ID                map[string]int    `json:"label2id,omitempty"`
	NumLabelsField          *int              `json:"num_labels,omitempty"`
	ProblemType             string            `json:"problem_type,omitempty"`
	Architectures           []string          `json:"architectures,omitempty"`
	ModelType               string            `json:"model_type"`

	// Extra holds every other key of config.json, verbatim.
	Extra map[string]json.RawMessage `json:"-"`
}

// DefaultConfig is GPT-2 small (124M): 12 layers, 12 heads, n_embd 768, 1024 positions.
func DefaultConfig() *Config {
	return NewConfig(50257, 1024, 768, 12, 12)
}

// NewConfig returns a GPT-2 config with HF's defaults for everything but the sizes; dropouts
// are 0.1 like HF, bos/eos are 50256 (the GPT-2 vocabulary's <|endoftext|>).
func NewConfig(vocab, positions, embd, layers, heads int) *Config {
	eos := int64(50256)
	return &Config{
		VocabSize: vocab, NPositions: positions, NEmbd: embd, NLayer: layers, NHead: heads,
		ActivationFunction: defaultActivation, LayerNormEpsilon: defaultLayerNormEpsilon,
		ResidPdrop: 0.1, EmbdPdrop: 0.1, AttnPdrop: 0.1, InitializerRange: defaultInitializerRange,
		BosTokenID: &eos, EosTokenID: &eos, ModelType: "gpt2",
	}
}

// Inner is the MLP width: n_inner, or 4·n_embd when n_inner is null.
func (c *Config) Inner() int {
	if c.NInner != nil && *c.NInner > 0 {
		return *c.NInner
	}
	return 4 * c.NEmbd
}

// HeadDim is n_embd / n_head.
func (c *Config) HeadDim() int { return c.NEmbd / c.NHead }

// NumLabels follows HF: the size of id2label when present, else num_labels, else 2.
func (c *Config) NumLabels() int {
	if len(c.ID2Label) > 0 {
		return len(c.ID2Label)
	}
	if c.NumLabelsField != nil {
		return *c.NumLabelsField
	}
	return 2
}

// Labels returns the label names by id (id2label), or "LABEL_i" where absent, as HF does.
func (c *Config) Labels() []string {
	n := c.NumLabels()
	out := make([]string, n)
	for i := range out {
		if s, ok := c.ID2Label[strconv.Itoa(i)]; ok {
			out[i] = s
		} else {
			out[i] = "LABEL_" + strconv.Itoa(i)
		}
	}
	return out
}

// SetLabels sets id2label, label2id and num_labels from names (index = id).
func (c *Config) SetLabels(names []string) {
	c.ID2Label = map[string]string{}
	c.Label2ID = map[string]int{}
	for i, n := range names {
		c.ID2Label[strconv.Itoa(i)] = n
		c.Label2ID[n] = i
	}
	k := len(names)
	c.NumLabelsField = &k
}

// ScaleAttn reports scale_attn_weights (default true).
func (c *Config) ScaleAttn() bool { return c.ScaleAttnWeights == nil || *c.ScaleAttnWeights }

// Validate checks the sizes and options this implementation supports. Errors name the field.
func (c *Config) Validate() error {
	var errs []error
	pos := func(name string, v int) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be > 0, got %d", name, v))
		}
	}
	pos("vocab_size", c.VocabSize)
	pos("n_positions", c.NPositions)
	pos("n_embd", c.NEmbd)
	pos("n_layer", c.NLayer)
	pos("n_head", c.NHead)
	if c.NHead > 0 && c.NEmbd%c.NHead != 0 {
		errs = append(errs, fmt.Errorf("n_embd (%d) must be divisible by n_head (%d)", c.NEmbd, c.NHead))
	}
	switch c.ActivationFunction {
	case "gelu_new", "gelu_pytorch_tanh", "gelu", "relu":
	default:
		errs = append(errs, fmt.Errorf("activation_function %q is not supported (gelu_new, gelu_pytorch_tanh, gelu, relu)", c.ActivationFunction))
	}
	if c.LayerNormEpsilon <= 0 {
		errs = append(errs, fmt.Errorf("layer_norm_epsilon must be > 0, got %g", c.LayerNormEpsilon))
	}
	for name, p := range map[string]float64{"resid_pdrop": c.ResidPdrop, "embd_pdrop": c.EmbdPdrop, "attn_pdrop": c.AttnPdrop} {
		if p < 0 || p >= 1 {
			errs = append(errs, fmt.Errorf("%s must be in [0, 1), got %g", name, p))
		}
	}
	if c.PadTokenID != nil && (*c.PadTokenID < 0 || *c.PadTokenID >= int64(c.VocabSize)) {
		errs = append(errs, fmt.Errorf("pad_token_id %d outside the vocabulary [0, %d)", *c.PadTokenID, c.VocabSize))
	}
	if c.NumLabelsField != nil && (*c.NumLabelsField < 1 || *c.NumLabelsField > 1<<16) {
		errs = append(errs, fmt.Errorf("num_labels must be in [1, 65536], got %d", *c.NumLabelsField))
	}
	if len(c.ID2Label) > 1<<16 {
		errs = append(errs, fmt.Errorf("id2label has %d entries (max 65536)", len(c.ID2Label)))
	}
	switch c.ProblemType {
	case "", ProblemRegression, ProblemSingleLabel, ProblemMultiLabel:
	default:
		errs = append(errs, fmt.Errorf("problem_type %q is not one of regression, single_label_classification, multi_label_classification", c.ProblemType))
	}
	for k := range c.ID2Label {
		if i, err := strconv.Atoi(k); err != nil || i < 0 || i >= len(c.ID2Label) {
			errs = append(errs, fmt.Errorf("id2label key %q is not an id in [0, %d)", k, len(c.ID2Label)))
		}
	}
	return errors.Join(errs...)
}

// knownKeys are the JSON keys Config maps to fields.
var knownKeys = map[string]bool{}

func init() {
	t := []string{"vocab_size", "n_positions", "n_embd", "n_layer", "n_head", "n_inner", "activation_function",
		"layer_norm_epsilon", "resid_pdrop", "embd_pdrop", "attn_pdrop", "initializer_range", "scale_attn_weights",
		"scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn", "bos_token_id", "eos_token_id", "pad_token_id",
		"id2label", "label2id", "num_labels", "problem_type", "architectures", "model_type"}
	for _, k := range t {
		knownKeys[k] = true
	}
}

// ParseConfig decodes config.json bytes. Missing fields get HF's GPT2Config defaults; n_ctx is
// accepted as an older name of n_positions. Errors name the source and the field.
func ParseConfig(data []byte, source string) (*Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: invalid JSON: %w", source, err)
	}
	c := DefaultConfig()
	c.ResidPdrop, c.EmbdPdrop, c.AttnPdrop = 0.1, 0.1, 0.1
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(c); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("%s: field %q: cannot use JSON %s as %s", source, te.Field, te.Value, te.Type)
		}
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if _, ok := raw["n_positions"]; !ok {
		if v, ok := raw["n_ctx"]; ok {
			_ = json.Unmarshal(v, &c.NPositions)
		}
	}
	if mt := c.ModelType; mt != "" && mt != "gpt2" {
		return nil, fmt.Errorf("%s: field \"model_type\": %q is not gpt2", source, mt)
	}
	c.Extra = map[string]json.RawMessage{}
	for k, v := range raw {
		if !knownKeys[k] {
			c.Extra[k] = v
		}
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	return c, nil
}

// LoadConfig reads dir/config.json (or a config file path).
func LoadConfig(path string) (*Config, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() || filepath.Ext(path) != ".json" {
		path = filepath.Join(path, ConfigFile)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(data, path)
}

// MarshalJSON writes the fields and Extra, keys sorted, as HF's to_json_string does.
func (c *Config) MarshalJSON() ([]byte, error) {
	type plain Config
	b, err := json.Marshal((*plain)(c))
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range c.Extra {
		if _, ok := m[k]; !ok {
			m[k] = v
		}
	}
	if c.NInner == nil {
		m["n_inner"] = json.RawMessage("null")
	}
	m["n_ctx"] = json.RawMessage(strconv.Itoa(c.NPositions))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	buf.WriteString("{\n")
	for i, k := range keys {
		kb, _ := json.Marshal(k)
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, m[k], "  ", "  "); err != nil {
			return nil, err
		}
		buf.WriteString("  ")
		buf.Write(kb)
		buf.WriteString(": ")
		buf.Write(pretty.Bytes())
		if i < len(keys)-1 {
			buf.WriteString(",")
		}
		buf.WriteString("\n")
	}
	buf.WriteString("}")
	return buf.Bytes(), nil
}

// Save writes the config to dir/config.json atomically.
func (c *Config) Save(dir string) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	return torch.WriteFileAtomic(filepath.Join(dir, ConfigFile), func(f *os.File) error {
		_, err := f.Write(out.Bytes())
		return err
	})
}

// Clone returns a deep copy.
// Errors: the config is not valid (see Validate).
func (c *Config) Clone() (*Config, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return ParseConfig(b, "config")
}
