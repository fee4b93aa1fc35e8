// Package pipeline is the hierarchical user-interest recommender: it fine-tunes GPT-2 and builds
// per-user interest vectors at three levels,
//
//	H0 basic interest       the backbone's encoding of the user's training-split text
//	H1 sentiment tendency   a sequence-classification head fine-tuned on review sentiment
//	H2 behaviour/context    a regression head fine-tuned on a behaviour target (the rating)
//
// fuses them into H (concat, weighted sum or a learned gate), trains a recommender over H and
// item representations, and evaluates sentiment, behaviour and ranking against baselines on a
// per-user temporal leave-one-out split.
package pipeline

import (
	"fmt"
	"path/filepath"
	"runtime"

	"github.com/hier-ai/hier/hier/data"
	"github.com/hier-ai/hier/torch"
)

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
}

// Options configure Run. Start from DefaultOptions (or DemoOptions) and change fields: zero
// numeric and string fields take DefaultOptions' values, but booleans are used as given (the
// defaults turn BalanceSentiment and ScorerSearch on).
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
	Overwrite           bool   `json:"-"`       // Run may replace an existing run directory at OutDir
	Strict              bool   `json:"strict"`  // malformed records are errors instead of being skipped
	// Columns maps a generic CSV/JSONL file's columns (user, item, rating, time, text, summary,
	// numeric behaviour columns); nil detects the Amazon or MovieLens layouts.
	Columns   *data.Columns  `json:"columns,omitempty"`
	MaxUsers  int            `json:"max_users,omitempty"` // keep only the first N users (a slice for quick runs)
	Backbone  BackboneConfig `json:"backbone"`
	Pretrain  StageConfig    `json:"pretrain"`
	Sentiment StageConfig    `json:"sentiment"`
	Behavior  StageConfig    `json:"behavior"`
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
	BehaviorColumn string       `json:"behavior_column"`
	UserMaxTokens  int          `json:"user_max_tokens"` // token budget of a user's H0 text
	ItemMaxTokens  int          `json:"item_max_tokens"` // token budget of an item's text
	Fusion         Fusion       `json:"fusion"`
	Scorer         ScorerConfig `json:"scorer"`
	// ScorerSearch picks each recommender's width and learning rate on the validation split
	// from {8, 32, Scorer.Dim} × {Scorer.LR, 1e-2}.
	ScorerSearch bool `json:"scorer_search"`
	MFFactors    int  `json:"mf_factors"`
	MFEpochs     int  `json:"mf_epochs"`
	TopK         int  `json:"top_k"` // recommendations written per user
	Progress     bool `json:"-"`     // progress bars on stderr
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
	return o
}

// DefaultOptions are sized for two CPU cores: a 2-layer, 64-wide GPT-2 pre-trained for one
// epoch, two fine-tuning epochs per head.
func DefaultOptions() Options {
	return Options{
		Seed: 42, Device: "auto", Threads: runtime.NumCPU(),
		Backbone:        BackboneConfig{Layers: 2, Heads: 2, Embd: 64, Positions: 128},
		Pretrain:        StageConfig{Epochs: 1, BatchSize: 16, LR: 1e-3, WeightDecay: 0.01, MaxLen: 64},
		Sentiment:       StageConfig{Epochs: 2, BatchSize: 32, LR: 5e-4, WeightDecay: 0.01, MaxLen: 64},
		Behavior:        StageConfig{Epochs: 2, BatchSize: 32, LR: 5e-4, WeightDecay: 0.01, MaxLen: 64},
		SentimentWeight: 1, BehaviorWeight: 1,
		Bins:             DefaultSentimentBins(),
		BalanceSentiment: true,
		BehaviorColumn:   "rating",
		UserMaxTokens:    128, ItemMaxTokens: 128,
		Fusion:       FusionGate,
		Scorer:       ScorerConfig{Dim: 64, Loss: "bpr", Epochs: 40, Patience: 5, BatchSize: 256, LR: 3e-3, WeightDecay: 1e-4},
		ScorerSearch: true,
		MFFactors:    64, MFEpochs: 60,
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
}

// resolve fills zero fields from DefaultOptions and validates. Errors name the option.
func (o *Options) resolve() error {
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
	fillStage(&o.Pretrain, d.Pretrain)
	fillStage(&o.Sentiment, d.Sentiment)
	fillStage(&o.Behavior, d.Behavior)
	if o.SentimentWeight == 0 && o.BehaviorWeight == 0 {
		o.SentimentWeight, o.BehaviorWeight = 1, 1
	}
	if o.Bins == (SentimentBins{}) {
		o.Bins = d.Bins
	}
	if err := o.Bins.Validate(); err != nil {
		return err
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
	if _, err := ParseFusion(string(o.Fusion)); err != nil {
		return fmt.Errorf("option fusion: %w", err)
	}
	sc := o.Scorer
	ds := d.Scorer
	if sc.Dim <= 0 {
		sc.Dim = ds.Dim
	}
	if sc.Loss == "" {
		sc.Loss = ds.Loss
	}
	if sc.Loss != "bpr" && sc.Loss != "sampled_softmax" {
		return fmt.Errorf("option scorer.loss: %q is not bpr or sampled_softmax", sc.Loss)
	}
	if sc.Epochs <= 0 {
		sc.Epochs = ds.Epochs
	}
	if sc.Patience <= 0 {
		sc.Patience = ds.Patience
	}
	if sc.BatchSize <= 0 {
		sc.BatchSize = ds.BatchSize
	}
	if sc.LR <= 0 {
		sc.LR = ds.LR
	}
	if sc.WeightDecay < 0 {
		sc.WeightDecay = ds.WeightDecay
	}
	sc.Fusion = o.Fusion
	sc.Seed = o.Seed
	o.Scorer = sc
	if o.MFFactors <= 0 {
		o.MFFactors = d.MFFactors
	}
	if o.MFEpochs <= 0 {
		o.MFEpochs = d.MFEpochs
	}
	if o.TopK <= 0 {
		o.TopK = d.TopK
	}
	if o.OutDir == "" {
		return fmt.Errorf("option out_dir is required")
	}
	// Absolute paths, so a run directory can be evaluated from anywhere.
	for _, p := range []*string{&o.DataPath, &o.ModelDir} {
		if *p != "" {
			abs, err := filepath.Abs(*p)
			if err != nil {
				return err
			}
			*p = abs
		}
	}
	if _, err := torch.ParseDevice(o.Device); err != nil {
		return fmt.Errorf("option device: %w", err)
	}
	return nil
}
