package pipeline

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/hier/train"
	"github.com/hier-ai/hier/torch"
)

// backboneOut is the output of the backbone stage.
type backboneOut struct {
	model *gpt2.Model // eval mode; the caller frees it
	desc  string      // "pretrained:<dir>" or "scratch:<n_layer>x<n_embd>"
	curve *StageCurve // pre-training curves (nil when loaded as is)
}

// trainBackbone loads Options.ModelDir (continued with the causal-LM objective when
// ContinuePretraining), or builds a small GPT-2 and pre-trains it from scratch on the
// training-split text, and saves it (HF GPT2LMHeadModel layout) under checkpoints/backbone.
//
// The pre-training corpus is every distinct training review and item description, tokenized
// whole and cut into windows of Pretrain.MaxLen tokens (train.Windows: no token is dropped); 5% of
// the texts are held out for the validation loss. With Pretrain.Vocab "corpus" (the default) the
// LM head's softmax runs over the corpus's token ids only (train.LMTask.Vocab), which is exact
// for this corpus and several times cheaper than the full 50257-way softmax.
func trainBackbone(e *env, p *prepared) (*backboneOut, error) {
	dir := filepath.Join(e.out, BackboneDir)
	out := &backboneOut{}
	var m *gpt2.Model
	if e.opts.ModelDir != "" {
		var rep *gpt2.LoadReport
		var err error
		m, rep, err = gpt2.LoadModel(e.opts.ModelDir, gpt2.LoadOptions{Device: e.dev})
		if err != nil {
			return nil, err
		}
		e.log.Info("backbone loaded", "dir", e.opts.ModelDir, "report", rep.String())
		if m.Config.PadTokenID == nil {
			pad := gpt2.EndOfTextID
			m.Config.PadTokenID = &pad
		}
		out.desc = "pretrained:" + e.opts.ModelDir
		if !e.opts.ContinuePretraining {
			m.Train(false)
			out.model = m
			return out, saveBackbone(m, dir, p)
		}
	} else {
		b := e.opts.Backbone
		cfg := gpt2.NewConfig(p.tok.VocabSize(), b.Positions, b.Embd, b.Layers, b.Heads)
		pad := gpt2.EndOfTextID
		cfg.PadTokenID = &pad
		out.desc = fmt.Sprintf("scratch:%dx%d", b.Layers, b.Embd)
		g, err := torch.NewGenerator(e.opts.Seed, e.dev)
		if err != nil {
			return nil, err
		}
		defer g.Free()
		if m, err = gpt2.NewModel(cfg, torch.Float32, e.dev, g); err != nil {
			return nil, err
		}
	}
	fail := func(err error) (*backboneOut, error) {
		m.Free()
		return nil, err
	}
	var texts []string
	seen := map[string]bool{}
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			texts = append(texts, s)
		}
	}
	for k := range p.sd.Train {
		add(p.tx.review(&p.sd.Train[k]))
	}
	for _, s := range p.tx.static {
		add(s)
	}
	see("pretrain", texts...)
	ids := make([][]int64, len(texts))
	for k, s := range texts {
		ids[k] = p.tok.Encode(s)
	}
	if len(ids) < 2 {
		return fail(errors.New("pipeline: no training text to pre-train the backbone on: the data has no review or item text (map a text= or summary= column, or give --model)"))
	}
	nValid := max(1, len(ids)/20)
	maxLen := min(e.opts.Pretrain.MaxLen, m.Config.NPositions)
	validSet, err := train.Windows(ids[:nValid], maxLen)
	if err != nil {
		return fail(err)
	}
	trainSet, err := train.Windows(ids[nValid:], maxLen)
	if err != nil {
		return fail(err)
	}
	trainSet, validSet = lmExamples(trainSet), lmExamples(validSet)
	if len(trainSet) == 0 || len(validSet) == 0 {
		return fail(errors.New("pipeline: too little training text to pre-train the backbone on (give --model)"))
	}
	task := &train.LMTask{Model: m, Tokenizer: p.tok}
	if e.opts.PretrainVocab != VocabFull {
		task.Vocab = train.CorpusVocab(trainSet, validSet)
	}
	e.log.Info("pre-training backbone", "n_layer", m.Config.NLayer, "n_embd", m.Config.NEmbd, "examples", len(trainSet), "tokens", trainSet.Tokens(),
		"lm_head_vocab", len(task.Vocab))
	_, c, err := fitWithCurve(e, task, trainSet, validSet, stageConfig(e, e.opts.Pretrain, "pretrain"), "cross-entropy (nats per token)")
	if err != nil {
		return fail(err)
	}
	out.curve = &c
	m.Train(false)
	out.model = m
	if err := saveBackbone(m, dir, p); err != nil {
		return fail(err)
	}
	return out, nil
}

// Pre-training vocabularies (Options.PretrainVocab).
const (
	VocabCorpus = "corpus" // the LM head's softmax over the token ids of the pre-training corpus
	VocabFull   = "full"   // over GPT-2's whole vocabulary
)

// lmExamples drops windows too short for a next-token target.
func lmExamples(d train.Dataset) train.Dataset {
	out := d[:0]
	for _, ex := range d {
		if len(ex.InputIDs) >= 2 {
			out = append(out, ex)
		}
	}
	return out
}

func saveBackbone(m *gpt2.Model, dir string, p *prepared) error { return m.SaveLM(dir, p.tok) }

// stageConfig is the training-loop configuration of one stage.
func stageConfig(e *env, st StageConfig, name string) train.Config {
	return train.Config{
		Epochs: st.Epochs, BatchSize: st.BatchSize, MaxSteps: st.MaxSteps, MaxLen: st.MaxLen,
		LR: st.LR, WeightDecay: st.WeightDecay, WarmupRatio: 0.06, MaxGradNorm: 1.0,
		Seed: e.opts.Seed, Device: e.dev, Progress: e.opts.Progress, Precision: e.opts.Precision,
		Logger: e.log.With("stage", name),
	}
}
