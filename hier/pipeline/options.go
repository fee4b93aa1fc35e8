// Package pipeline is the hierarchical user-interest recommender: it fine-tunes GPT-2 and builds
// per-user interest vectors at three levels,
//
//	H0 basic interest       the backbone's encoding of the user's training-split text
//	H1 sentiment tendency   a sequence-classification head fine-tuned on review sentiment
//	H2 behaviour/context    a regression head fine-tuned on a behaviour target (the rating)
//
// feeds them into the recommenders of package rec (hybrid collaborative filtering and a GPT-2
// sequential user model, each beside its ID-only twin), and evaluates sentiment, behaviour and
// ranking against baselines on a per-user temporal leave-one-out split.
//
// A run is a chain of stages with explicit inputs and outputs (run.go):
//
//	prepare       dataset → split, texts, rec.Data, tokenizer          (prepare.go)
//	backbone      → a GPT-2 backbone (loaded, or pre-trained from scratch)  (backbone.go)
//	heads         backbone → H1 sentiment and H2 behaviour heads, and their evaluation (heads.go)
//	features      backbone, heads → rec.Features (H0, H1, H2, item text)   (features.go)
//	recommenders  rec.Data, features → every method selected on validation, 3 seeds (recommend.go)
//	evaluate      → Results: ranking, seeds, slices, bootstrap          (results.go)
//
// pipeline imports rec, train, gpt2, data, eval, baseline, report and torch; nothing in hier
// imports it.
package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/hier-ai/hier/hier/data"
	"github.com/hier-ai/hier/hier/internal/strictjson"
	"github.com/hier-ai/hier/hier/rec"
	"github.com/hier-ai/hier/hier/train"
	"github.com/hier-ai/hier/torch"
)

// Fusion is how the interest levels combine into H (see rec.Fusion).
type Fusion = rec.Fusion

// Fusion methods.
const (
	FusionConcat   = rec.FusionConcat
	FusionWeighted = rec.FusionWeighted
	FusionGate     = rec.FusionGate
)

// ParseFusion accepts concat, weighted (or sum), gate.
func ParseFusion(s string) (Fusion, error) { return rec.ParseFusion(s) }

// BackboneConfig sizes the small GPT-2 pre-trained from scratch when no checkpoint is given.
type BackboneConfig struct {
	Layers    int `json:"n_layer"`
	Heads     int `json:"n_head"`
	Embd      int `json:"n_embd"`
	Positions int `json:"n_positions"`
}

// StageConfig is one training stage (pre-training or fine-tuning).
type StageConfig struct {
	Epochs      int     `json:"epochs"`
	MaxSteps    int     `json:"max_steps"` // 0: no cap
	BatchSize   int     `json:"batch_size"`
	LR          float64 `json:"lr"`
	WeightDecay float64 `json:"weight_decay"`
	MaxLen      int     `json:"max_len"` // tokens per example
	// MaxExamples caps the training examples of a fine-tuning stage (a seeded sample; 0: all),
	// so a large dataset's heads fit the time budget.
	MaxExamples int `json:"max_examples,omitempty"`
}

// RecommenderOptions configure the recommenders of package rec.
type RecommenderOptions struct {
	// Families are the recommender families trained: "cf" (mf and cf_*), "seq" (sasrec and
	// seq_*). Default both.
	Families []string `json:"families"`
	// Seeds is the number of seeds each chosen configuration is trained with (Seed, Seed+1, …);
	// selection uses the first.
	Seeds int `json:"seeds"`
	// CF and Seq are the candidate configurations of each family, tried on the validation split
	// for every method of the family (the ID-only twin and each hierarchy variant get the same
	// candidates). Zero fields take rec.DefaultConfig's values.
	CF  []rec.Config `json:"cf"`
	Seq []rec.Config `json:"seq"`
	// Threads is libtorch's intra-op thread count while the recommenders train (their matrices
	// are small, so 1 thread wastes little and leaves no spinning OpenMP team); 0 keeps Threads.
	Threads int `json:"threads"`
}

// Options configure Run. Start from DefaultOptions (or DemoOptions) and change fields: zero
// numeric and string fields take DefaultOptions' values, but booleans are used as given (the
// defaults turn BalanceSentiment on).
type Options struct {
	DataPath string `json:"data_path,omitempty"` // a dataset file or directory (see data.Load)
	// Synthetic, when set (and DataPath is empty), generates the dataset with data.Synthetic.
	Synthetic *data.SyntheticConfig `json:"synthetic,omitempty"`
	OutDir    string                `json:"out_dir"`
	ModelDir  string                `json:"model_dir,omitempty"` // HF GPT-2 checkpoint; empty: pre-train a small one
	// ContinuePretraining continues causal-LM training of ModelDir on the training text.
	ContinuePretraining bool   `json:"continue_pretraining,omitempty"`
	Seed                uint64 `json:"seed"`
	Device              string `json:"device"`  // auto, cpu, cuda, cuda:N
	Threads             int    `json:"threads"` // libtorch intra-op threads
	// Precision of the training stages (pre-training, heads): "fp32", or "bf16" for autocast
	// mixed precision (train.Config.Precision). Encoding and the recommenders run in float32.
	Precision string `json:"precision"`
	Overwrite bool   `json:"-"`      // Run may replace an existing run directory at OutDir
	Strict    bool   `json:"strict"` // malformed records are errors instead of being skipped
	// Columns maps a generic CSV/JSONL file's columns (user, item, rating, time, text, summary,
	// numeric behaviour columns); nil detects the Amazon or MovieLens layouts.
	Columns  *data.Columns  `json:"columns,omitempty"`
	MaxUsers int            `json:"max_users,omitempty"` // keep only the first N users (a slice for quick runs)
	Backbone BackboneConfig `json:"backbone"`
	Pretrain StageConfig    `json:"pretrain"`
	// PretrainVocab is the LM head's vocabulary during pre-training from scratch: VocabCorpus
	// (default: the corpus's token ids, an exact and cheaper softmax for that corpus) or VocabFull.
	PretrainVocab string      `json:"pretrain_vocab"`
	Sentiment     StageConfig `json:"sentiment"`
	Behavior      StageConfig `json:"behavior"`
	// Multitask trains the H1 and H2 heads jointly on one shared backbone, with loss
	// SentimentWeight·CE + BehaviorWeight·MSE.
	Multitask       bool          `json:"multitask"`
	SentimentWeight float64       `json:"sentiment_weight"`
	BehaviorWeight  float64       `json:"behavior_weight"`
	Bins            SentimentBins `json:"sentiment_bins"`
	// BalanceSentiment weights the sentiment cross-entropy by sklearn's balanced class weights
	// n/(k·n_c), so the rare negative and neutral reviews are not ignored.
	BalanceSentiment bool `json:"balance_sentiment"`
	// BehaviorColumn is the numeric target of H2: "rating" (default) or a key of
	// data.Interaction.Values (e.g. "helpful_votes").
	BehaviorColumn string             `json:"behavior_column"`
	UserMaxTokens  int                `json:"user_max_tokens"` // token budget of a user's H0 text
	ItemMaxTokens  int                `json:"item_max_tokens"` // token budget of an item's text
	Fusion         Fusion             `json:"fusion"`
	Recommenders   RecommenderOptions `json:"recommenders"`
	TopK           int                `json:"top_k"` // recommendations written per user
	Progress       bool               `json:"-"`     // progress bars on stderr
}

// DemoOptions is the embedded default of `hier demo`: the seeded synthetic shop and a budget
// that runs the whole pipeline in well under three minutes on two CPU cores.
func DemoOptions() Options {
	o := DefaultOptions()
	syn := data.DefaultSyntheticConfig()
	o.Synthetic = &syn
	o.Pretrain.MaxLen = 32
	o.Pretrain.MaxSteps = 120
	o.Sentiment.MaxLen, o.Behavior.MaxLen = 48, 48
	o.UserMaxTokens, o.ItemMaxTokens = 96, 96
	for _, g := range []*[]rec.Config{&o.Recommenders.CF, &o.Recommenders.Seq} {
		for k := range *g {
			(*g)[k].MaxEpochs = 40
		}
	}
	o.Recommenders.Seq = o.Recommenders.Seq[:1]
	return o
}

// DefaultOptions are sized for two CPU cores: a 2-layer, 64-wide GPT-2 pre-trained from scratch,
// two fine-tuning epochs per head, and recommender grids chosen on Amazon Musical Instruments'
// validation split.
func DefaultOptions() Options {
	cf := func(loss rec.Loss, wd float64) rec.Config {
		return rec.Config{Dim: 64, LR: 1e-2, WeightDecay: wd, Dropout: 0.2, Loss: loss, MaxEpochs: 100, Patience: 10, BatchSize: 128, MaxStepsPerEpoch: 64}
	}
	sq := func(dropout float64) rec.Config {
		return rec.Config{Dim: 64, LR: 1e-3, WeightDecay: 0.5, Dropout: dropout, Loss: rec.LossSoftmax, MaxEpochs: 100, Patience: 8,
			BatchSize: 128, MaxStepsPerEpoch: 64, MaxLen: 50, Layers: 2, Heads: 2}
	}
	return Options{
		Seed: 42, Device: "auto", Threads: runtime.NumCPU(), Precision: "fp32",
		Backbone:        BackboneConfig{Layers: 2, Heads: 2, Embd: 64, Positions: 128},
		Pretrain:        StageConfig{Epochs: 1, BatchSize: 16, LR: 1e-3, WeightDecay: 0.01, MaxLen: 64},
		Sentiment:       StageConfig{Epochs: 2, BatchSize: 32, LR: 5e-4, WeightDecay: 0.01, MaxLen: 64, MaxExamples: 20000},
		Behavior:        StageConfig{Epochs: 2, BatchSize: 32, LR: 5e-4, WeightDecay: 0.01, MaxLen: 64, MaxExamples: 20000},
		SentimentWeight: 1, BehaviorWeight: 1,
		Bins:             DefaultSentimentBins(),
		BalanceSentiment: true,
		BehaviorColumn:   "rating",
		UserMaxTokens:    128, ItemMaxTokens: 128,
		Fusion: FusionGate,
		Recommenders: RecommenderOptions{
			Families: []string{rec.FamilyCF, rec.FamilySeq},
			Seeds:    3,
			CF: []rec.Config{
				cf(rec.LossSoftmax, 0.5), cf(rec.LossSoftmax, 1), cf(rec.LossSoftmax, 2),
				cf(rec.LossBPR, 0.5), cf(rec.LossBPR, 1), cf(rec.LossBPR, 2),
			},
			Seq:     []rec.Config{sq(0.2), sq(0.5)},
			Threads: 1,
		},
		TopK: 20,
	}
}

func fillStage(s *StageConfig, d StageConfig) {
	if s.Epochs <= 0 {
		s.Epochs = d.Epochs
	}
	if s.BatchSize <= 0 {
		s.BatchSize = d.BatchSize
	}
	if s.LR <= 0 {
		s.LR = d.LR
	}
	if s.WeightDecay < 0 {
		s.WeightDecay = d.WeightDecay
	}
	if s.MaxLen <= 0 {
		s.MaxLen = d.MaxLen
	}
	if s.MaxExamples < 0 {
		s.MaxExamples = 0
	}
}

// resolve fills zero fields from DefaultOptions and validates, once per run: every stage reads
// the resolved options (and the parsed device) and nothing re-parses them. Errors name the
// option.
func (o *Options) resolve() (torch.Device, error) {
	d := DefaultOptions()
	if o.Device == "" {
		o.Device = d.Device
	}
	if o.Threads <= 0 {
		o.Threads = d.Threads
	}
	if o.Backbone.Layers <= 0 {
		o.Backbone.Layers = d.Backbone.Layers
	}
	if o.Backbone.Heads <= 0 {
		o.Backbone.Heads = d.Backbone.Heads
	}
	if o.Backbone.Embd <= 0 {
		o.Backbone.Embd = d.Backbone.Embd
	}
	if o.Backbone.Positions <= 0 {
		o.Backbone.Positions = d.Backbone.Positions
	}
	if o.Precision == "" {
		o.Precision = train.PrecisionFP32
	}
	if _, err := train.ParsePrecision(o.Precision); err != nil {
		return torch.Device{}, fmt.Errorf("option precision: %w", err)
	}
	fillStage(&o.Pretrain, d.Pretrain)
	switch o.PretrainVocab {
	case "":
		o.PretrainVocab = VocabCorpus
	case VocabCorpus, VocabFull:
	default:
		return torch.Device{}, fmt.Errorf("option pretrain_vocab: %q is not %s or %s", o.PretrainVocab, VocabCorpus, VocabFull)
	}
	fillStage(&o.Sentiment, d.Sentiment)
	fillStage(&o.Behavior, d.Behavior)
	if o.ModelDir == "" { // a scratch backbone: its n_positions bounds every stage's examples
		for _, st := range []struct {
			name string
			max  int
		}{{"pretrain", o.Pretrain.MaxLen}, {"sentiment", o.Sentiment.MaxLen}, {"behavior", o.Behavior.MaxLen}} {
			if st.max > o.Backbone.Positions {
				return torch.Device{}, fmt.Errorf("option %s.max_len: %d is more than backbone.positions %d (n_positions of the scratch GPT-2)", st.name, st.max, o.Backbone.Positions)
			}
		}
	}
	if o.SentimentWeight == 0 && o.BehaviorWeight == 0 {
		o.SentimentWeight, o.BehaviorWeight = 1, 1
	}
	if o.Bins == (SentimentBins{}) {
		o.Bins = d.Bins
	}
	if err := o.Bins.Validate(); err != nil {
		return torch.Device{}, err
	}
	if o.BehaviorColumn == "" {
		o.BehaviorColumn = d.BehaviorColumn
	}
	if o.UserMaxTokens <= 0 {
		o.UserMaxTokens = d.UserMaxTokens
	}
	if o.ItemMaxTokens <= 0 {
		o.ItemMaxTokens = d.ItemMaxTokens
	}
	if o.Fusion == "" {
		o.Fusion = d.Fusion
	}
	f, err := ParseFusion(string(o.Fusion))
	if err != nil {
		return torch.Device{}, fmt.Errorf("option fusion: %w", err)
	}
	o.Fusion = f
	ro, dr := &o.Recommenders, d.Recommenders
	if len(ro.Families) == 0 {
		ro.Families = dr.Families
	}
	for k, fam := range ro.Families {
		fam = strings.ToLower(strings.TrimSpace(fam))
		if fam != rec.FamilyCF && fam != rec.FamilySeq {
			return torch.Device{}, fmt.Errorf("option recommenders.families: %q is not cf or seq", fam)
		}
		ro.Families[k] = fam
	}
	if ro.Seeds <= 0 {
		ro.Seeds = dr.Seeds
	}
	// nil takes the default grid; an empty list given on purpose (a --config file with "cf": [])
	// would train nothing and is an error.
	if ro.CF != nil && len(ro.CF) == 0 {
		return torch.Device{}, errors.New("option recommenders.cf: the candidate list is empty (leave the key out for the default grid)")
	}
	if ro.Seq != nil && len(ro.Seq) == 0 {
		return torch.Device{}, errors.New("option recommenders.seq: the candidate list is empty (leave the key out for the default grid)")
	}
	if ro.CF == nil {
		ro.CF = dr.CF
	}
	if ro.Seq == nil {
		ro.Seq = dr.Seq
	}
	// Every candidate of the families that train, checked now rather than when the
	// recommenders stage reaches it after the backbone and the heads have trained.
	for _, fam := range ro.Families {
		cands := ro.CF
		if fam == rec.FamilySeq {
			cands = ro.Seq
		}
		for k, c := range cands {
			if err := c.Validate(fam); err != nil {
				return torch.Device{}, fmt.Errorf("option recommenders.%s[%d]: %w", fam, k, err)
			}
		}
	}
	if ro.Threads < 0 {
		ro.Threads = 0
	}
	if o.TopK <= 0 {
		o.TopK = d.TopK
	}
	if o.OutDir == "" {
		return torch.Device{}, fmt.Errorf("option out_dir is required")
	}
	if c := o.Columns; c != nil && (strings.TrimSpace(c.User) == "" || strings.TrimSpace(c.Item) == "") {
		return torch.Device{}, fmt.Errorf("option columns: the user and item columns are required (got user %q, item %q)", c.User, c.Item)
	}
	if b := o.Backbone; o.ModelDir == "" && b.Embd%b.Heads != 0 {
		return torch.Device{}, fmt.Errorf("option backbone: n_embd %d must be divisible by n_head %d", b.Embd, b.Heads)
	}
	// Absolute paths, so a run directory can be evaluated from anywhere and its config.json
	// says where it was written.
	for _, p := range []*string{&o.DataPath, &o.ModelDir, &o.OutDir} {
		if *p != "" {
			abs, err := filepath.Abs(*p)
			if err != nil {
				return torch.Device{}, err
			}
			*p = abs
		}
	}
	dev, err := torch.ParseDevice(o.Device)
	if err != nil {
		return torch.Device{}, fmt.Errorf("option device: %w", err)
	}
	o.Device = dev.String() // what was used: "auto" resolved
	return dev, nil
}

// Validate checks o the way a run does before its first stage (zero fields take
// DefaultOptions' values): every option, every recommender candidate of the families that
// train, the device name. It reads no file, so a run can refuse a bad configuration before it
// loads the dataset or trains anything. OutDir must be set.
func (o Options) Validate() error {
	o.Recommenders.Families = slices.Clone(o.Recommenders.Families) // resolve normalises in place
	_, err := o.resolve()
	return err
}

// recConfigs is a family's candidate configurations with the run's fusion, device and seed.
func (o *Options) recConfigs(family string, dev torch.Device) []rec.Config {
	src := o.Recommenders.CF
	if family == rec.FamilySeq {
		src = o.Recommenders.Seq
	}
	out := make([]rec.Config, len(src))
	for k, c := range src {
		c.Fusion, c.Device = o.Fusion, dev
		out[k] = c
	}
	return out
}

// ReadOptions reads a run configuration (the schema of a run's config.json) from path on top
// of base: keys present in the file replace base's values, absent keys keep them, so a run's
// config.json reproduces that run and a file with a few keys changes only those. Unknown keys
// are errors (a misspelt option is never ignored, and the error suggests the key meant); errors
// name the file, line and column and the key path in JSON terms.
func ReadOptions(path string, base Options) (Options, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return base, fmt.Errorf("config: %w", err)
	}
	o := base
	if err := strictjson.Decode("config "+path, raw, &o); err != nil {
		return base, err
	}
	return o, nil
}
