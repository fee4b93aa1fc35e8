package main

import (
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
