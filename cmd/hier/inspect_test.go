package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Parameter count of gpt2-tiny (vocab 50257, n_positions 64, n_embd 32, 2 layers, n_inner 128),
// by hand:
//
//	wte 50257·32                    = 1,608,224
//	wpe 64·32                       =     2,048
//	per layer:
//	  ln_1 32+32                    =        64
//	  attn.c_attn 32·96 + 96        =     3,168
//	  attn.c_proj 32·32 + 32        =     1,056
//	  ln_2 32+32                    =        64
//	  mlp.c_fc 32·128 + 128         =     4,224
//	  mlp.c_proj 128·32 + 32        =     4,128
//	                                  ---------
//	                                     12,704   × 2 layers = 25,408
//	ln_f 32+32                      =        64
//	backbone                        = 1,635,744   (the LM head is tied to wte: not counted again)
//	score.weight 3·32               =        96
//	total                           = 1,635,840
const (
	tinyBackboneParams = 1635744
	tinyHeadParams     = 96
	tinyTotalParams    = tinyBackboneParams + tinyHeadParams
)

func TestInspectClassifier(t *testing.T) {
	dir := tinyDir(t)
	out := ok(t, "inspect", "--model", dir)
	assert.Contains(t, out, "parameters: 1635840 total")
	assert.Contains(t, out, "backbone 1635744, head 96")
	assert.Contains(t, out, "n_layer: 2")
	assert.Contains(t, out, "n_embd: 32")
	assert.Contains(t, out, "pad_token_id: 50256")
	assert.Contains(t, out, "0=negative, 1=neutral, 2=positive")
	assert.Contains(t, out, "head: score.weight [3 32]")
	assert.Contains(t, out, `prefixed "transformer."`)
	assert.Contains(t, out, "verdict: OK")

	var r inspectOutput
	okJSON(t, &r, "inspect", "--model", dir, "--json")
	assert.Equal(t, dir, r.Model)
	require.NotNil(t, r.Parameters)
	assert.Equal(t, inspectParams{Total: tinyTotalParams, Backbone: tinyBackboneParams, Head: tinyHeadParams}, *r.Parameters)
	c := r.Config
	assert.Equal(t, []int{2, 2, 32, 128, 50257, 64}, []int{c.NLayer, c.NHead, c.NEmbd, c.NInner, c.VocabSize, c.NPositions})
	assert.Equal(t, 3, c.NumLabels)
	assert.Equal(t, map[string]string{"0": "negative", "1": "neutral", "2": "positive"}, c.ID2Label)
	assert.Equal(t, "single_label_classification", c.ProblemType)
	require.NotNil(t, c.PadTokenID)
	assert.Equal(t, int64(50256), *c.PadTokenID)
	assert.Equal(t, "float32", c.TorchDType)
	assert.Equal(t, "float32", c.WeightsDType)
	require.NotNil(t, r.Keys)
	assert.True(t, r.Keys.Prefixed)
	assert.Empty(t, r.Keys.Missing)
	assert.Empty(t, r.Keys.Unexpected)
	assert.Empty(t, r.Keys.Ignored)
	assert.Equal(t, inspectHead{Present: true, Shape: []int64{3, 32}}, r.Head)
	assert.True(t, r.OK)
	assert.Empty(t, r.Problems)
	assert.Regexp(t, `^OK: `, r.Verdict)
}

func TestInspectBackbone(t *testing.T) {
	dir := baseDir(t)
	out := ok(t, "inspect", "--model", dir)
	assert.Contains(t, out, "no classification head")
	assert.Contains(t, out, "parameters: 1635744 total")
	assert.Contains(t, out, "ignored (2): h.0.attn.bias, h.1.attn.bias")
	assert.Contains(t, out, "not prefixed")
	assert.Contains(t, out, "pad_token_id: (none)")

	var r inspectOutput
	okJSON(t, &r, "--json", "inspect", "--model", dir)
	require.NotNil(t, r.Parameters)
	assert.Equal(t, inspectParams{Total: tinyBackboneParams, Backbone: tinyBackboneParams}, *r.Parameters)
	require.NotNil(t, r.Keys)
	assert.False(t, r.Keys.Prefixed)
	assert.Equal(t, []string{"h.0.attn.bias", "h.1.attn.bias"}, r.Keys.Ignored)
	assert.Empty(t, r.Keys.Missing)
	assert.Empty(t, r.Keys.Unexpected)
	assert.False(t, r.Head.Present)
	assert.Contains(t, r.Head.Note, "no classification head")
	assert.Nil(t, r.Config.PadTokenID)
	assert.Empty(t, r.Config.ProblemType)
	assert.True(t, r.OK, "a backbone without head is not a problem: %v", r.Problems)
	assert.Contains(t, r.Verdict, "no classification head")
	assert.Contains(t, r.Verdict, "2 buffer/tied key(s) ignored")
}

// fakeRun writes a directory laid out like a run of 'hier run' (config.json holding the run's
// options, metrics.json, checkpoint directories with a config.json) without weights.
func fakeRun(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"config.json":                       `{"data_path": "/data/x.csv", "out_dir": "` + dir + `", "seed": 42}`,
		"metrics.json":                      `{"schema_version": 2}`,
		"checkpoints/backbone/config.json":  `{"n_embd": 32, "n_layer": 1, "n_head": 2}`,
		"checkpoints/sentiment/config.json": `{"n_embd": 32, "n_layer": 1, "n_head": 2}`,
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return dir
}

// TestRunDirAsModel: a run directory given as --model fails at once with the flags that take it
// or its checkpoints, and prints nothing (no config made of GPT-2 defaults).
func TestRunDirAsModel(t *testing.T) {
	run := fakeRun(t)
	backbone := filepath.Join(run, "checkpoints", "backbone")
	sentiment := filepath.Join(run, "checkpoints", "sentiment")
	stage := t.TempDir() // the --out of 'hier pretrain': checkpoints only
	require.NoError(t, os.MkdirAll(filepath.Join(stage, "checkpoints", "backbone"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(stage, "checkpoints", "backbone", "config.json"), []byte(`{}`), 0o644))
	cases := []struct {
		name      string
		args      []string
		fragments []string
	}{
		{"inspect", []string{"inspect", "--model", run}, []string{"--model " + run + " is a run directory", "--model " + backbone + " or --model " + sentiment}},
		{"inspect --json", []string{"inspect", "--json", "--model", run}, []string{"is a run directory"}},
		{"predict", []string{"predict", "--model", run, "--input-ids", "1"}, []string{"is a run directory", "--model " + sentiment, "hier recommend --run " + run}},
		{"embed", []string{"embed", "--model", run, "--text", "a"}, []string{"is a run directory", "use --run " + run, "--model " + backbone}},
		{"tokenize", []string{"tokenize", "--model", run, "--text", "a"}, []string{"is a run directory", "--model " + backbone}},
		{"run", []string{"run", "--data", filepath.Join(run, "metrics.json"), "--out", filepath.Join(t.TempDir(), "o"), "--model", run},
			[]string{"is a run directory", "--config " + filepath.Join(run, "config.json"), "--model " + backbone}},
		{"stage output", []string{"inspect", "--model", stage}, []string{"has no config.json", "--model", filepath.Join(stage, "checkpoints", "backbone")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := hier(t, tc.args...)
			requireOneLineError(t, r, exitError, tc.fragments...)
			assert.Empty(t, r.Stdout, "no report of a made-up config")
			assert.NotContains(t, r.Stderr, "n_layer")
		})
	}
}
