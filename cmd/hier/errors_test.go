package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/hier-ai/hier/torch"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeCheckpoint writes dir/config.json (the gpt2-tiny config) and dir/model.safetensors
// holding gpt2-tiny's tensors after edit.
func writeCheckpoint(t *testing.T, edit func(map[string]*torch.Tensor)) string {
	t.Helper()
	src := tinyDir(t)
	dir := t.TempDir()
	cfg, err := os.ReadFile(filepath.Join(src, "config.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644))
	ts, _, err := torch.LoadSafetensors(filepath.Join(src, "model.safetensors"), torch.CPU)
	require.NoError(t, err)
	defer func() {
		for _, x := range ts {
			x.Free()
		}
	}()
	edit(ts)
	require.NoError(t, torch.SaveSafetensors(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}))
	return dir
}

// configDir writes a model directory whose config.json is content (no weights).
func configDir(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(content), 0o644))
	return dir
}

func TestErrors(t *testing.T) {
	tiny, base := tinyDir(t), baseDir(t)
	missing := filepath.Join(t.TempDir(), "no-such-model")
	badJSON := configDir(t, `{"n_embd": 32,`)
	badField := configDir(t, `{"n_embd": "thirty-two", "n_layer": 2}`)
	badValue := configDir(t, `{"n_embd": 30, "n_head": 4}`)
	cases := []struct {
		name      string
		args      []string
		code      int
		fragments []string
	}{
		{"predict missing dir", []string{"predict", "--model", missing, "--input-ids", "1,2"}, exitError, []string{missing, "does not exist"}},
		{"inspect missing dir", []string{"inspect", "--model", missing}, exitError, []string{"does not exist"}},
		{"not a checkpoint dir", []string{"inspect", "--model", t.TempDir()}, exitError, []string{"no config.json"}},
		{"corrupt config JSON", []string{"inspect", "--model", badJSON}, exitError, []string{filepath.Join(badJSON, "config.json"), "invalid JSON"}},
		{"config field type", []string{"predict", "--model", badField, "--input-ids", "1"}, exitError, []string{filepath.Join(badField, "config.json"), `"n_embd"`}},
		{"config field value", []string{"inspect", "--model", badValue}, exitError, []string{filepath.Join(badValue, "config.json"), "n_embd (30) must be divisible by n_head (4)"}},
		{"non-integer id", []string{"predict", "--model", tiny, "--input-ids", "15496,x,995"}, exitUsage, []string{`"x"`, "not an integer"}},
		{"out-of-vocab id", []string{"predict", "--model", tiny, "--input-ids", "15496,50257"}, exitUsage, []string{"50257", "outside the vocabulary [0, 50257)"}},
		{"negative id", []string{"predict", "--model", tiny, "--input-ids", "-3"}, exitUsage, []string{"-3", "outside the vocabulary"}},
		{"empty ids", []string{"predict", "--model", tiny, "--input-ids", ""}, exitUsage, []string{"no token ids"}},
		{"unknown device", []string{"predict", "--model", tiny, "--input-ids", "1", "--device", "tpu"}, exitUsage, []string{"--device", `"tpu"`}},
		{"unknown device global", []string{"--device", "gpu:0", "inspect", "--model", tiny}, exitUsage, []string{"--device", `"gpu:0"`}},
		{"bad cuda index", []string{"predict", "--model", tiny, "--input-ids", "1", "--device", "cuda:x"}, exitUsage, []string{"--device"}},
		{"no head", []string{"predict", "--model", base, "--input-ids", "1,2"}, exitError, []string{"no classification head"}},
		{"no model flag", []string{"predict", "--input-ids", "1"}, exitUsage, []string{"--model is required"}},
		{"no inputs", []string{"predict", "--model", tiny}, exitUsage, []string{"--text or --input-ids"}},
		{"text and ids", []string{"predict", "--model", tiny, "--text", "a", "--input-ids", "1"}, exitUsage, []string{"not both"}},
		{"max-length too long", []string{"predict", "--model", tiny, "--input-ids", "1", "--max-length", "65"}, exitUsage, []string{"--max-length"}},
		{"bad dtype", []string{"predict", "--model", tiny, "--input-ids", "1", "--dtype", "int8"}, exitUsage, []string{"--dtype"}},
		{"stray argument", []string{"predict", "--model", tiny, "--input-ids", "1", "oops"}, exitUsage, []string{`unexpected argument "oops"`}},
		{"unknown flag", []string{"inspect", "--model", tiny, "--frobnicate"}, exitUsage, []string{"frobnicate", "hier inspect --help"}},
		{"bad flag value", []string{"predict", "--model", tiny, "--input-ids", "1", "--threads", "many"}, exitUsage, []string{"threads"}},
		{"zero threads", []string{"--threads", "0", "version"}, exitUsage, []string{"--threads must be >= 1"}},
		{"bad log level", []string{"version", "--log-level", "chatty"}, exitUsage, []string{"--log-level"}},
		{"unknown command", []string{"frobnicate"}, exitUsage, []string{`unknown command "frobnicate"`}},
		{"tokenize without text", []string{"tokenize"}, exitUsage, []string{"--text is required"}},
		{"inspect without model", []string{"inspect", "--json"}, exitUsage, []string{"--model is required"}},
	}
	if !torch.CUDAAvailable() {
		// A well-formed device this machine cannot provide is a failed command, not a wrong
		// command line.
		cases = append(cases, struct {
			name      string
			args      []string
			code      int
			fragments []string
		}{"cuda absent", []string{"version", "--device", "cuda"}, exitError, []string{"--device", "no CUDA support"}})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := hier(t, tc.args...)
			requireOneLineError(t, r, tc.code, tc.fragments...)
			assert.Empty(t, r.Stdout, "nothing on stdout")
		})
	}
}

// TestInspectKeyProblems: an unexpected key is reported (the checkpoint still loads); a
// missing backbone parameter makes inspect print its report and fail with one error line.
func TestInspectKeyProblems(t *testing.T) {
	extra := writeCheckpoint(t, func(ts map[string]*torch.Tensor) {
		ts["transformer.extra.weight"] = torch.MustOnes([]int64{2}, torch.Float32, torch.CPU)
	})
	// Problems are reported in full on stdout, then exit 1 with one error line.
	res0 := hier(t, "inspect", "--json", "--model", extra)
	requireOneLineError(t, res0, exitError, "unexpected keys")
	var r inspectOutput
	require.NoError(t, jsonUnmarshal(res0.Stdout, &r))
	assert.False(t, r.OK)
	assert.Equal(t, []string{"transformer.extra.weight"}, r.Keys.Unexpected)
	require.Len(t, r.Problems, 1)
	assert.Contains(t, r.Problems[0], "unexpected keys")
	assert.Regexp(t, `^PROBLEMS: `, r.Verdict)
	human := hier(t, "inspect", "--model", extra)
	require.Equal(t, exitError, human.Code)
	assert.Contains(t, human.Stdout, "unexpected (1): transformer.extra.weight")

	noLnF := writeCheckpoint(t, func(ts map[string]*torch.Tensor) {
		ts["transformer.ln_f.bias"].Free()
		delete(ts, "transformer.ln_f.bias")
	})
	res := hier(t, "inspect", "--model", noLnF)
	requireOneLineError(t, res, exitError, "ln_f.bias")
	assert.Contains(t, res.Stdout, "missing (1): ln_f.bias")
	assert.Contains(t, res.Stdout, "verdict: FAIL")

	res = hier(t, "inspect", "--json", "--model", noLnF)
	requireOneLineError(t, res, exitError, "ln_f.bias")
	var fail inspectOutput
	require.NoError(t, jsonUnmarshal(res.Stdout, &fail))
	assert.False(t, fail.OK)
	assert.Equal(t, []string{"ln_f.bias"}, fail.Keys.Missing)
	assert.Nil(t, fail.Parameters)

	// A head whose shape does not match num_labels is a problem, but the backbone is inspected.
	wrongHead := writeCheckpoint(t, func(ts map[string]*torch.Tensor) {
		ts["score.weight"].Free()
		ts["score.weight"] = torch.MustZeros([]int64{5, 32}, torch.Float32, torch.CPU)
	})
	resWH := hier(t, "inspect", "--json", "--model", wrongHead)
	requireOneLineError(t, resWH, exitError, "problem")
	var wh inspectOutput
	require.NoError(t, jsonUnmarshal(resWH.Stdout, &wh))
	assert.False(t, wh.OK)
	assert.True(t, wh.Head.Present)
	assert.Contains(t, wh.Head.Note, "score.weight has shape [5 32]")
	assert.Equal(t, int64(tinyBackboneParams), wh.Parameters.Backbone)
}

// TestJSONStdoutOnly: with --json and debug logging, stdout is exactly one JSON document and
// the logs are on stderr.
func TestJSONStdoutOnly(t *testing.T) {
	r := hier(t, "--log-level", "debug", "predict", "--json", "--model", tinyDir(t), "--input-ids", "1,2,3")
	require.Equal(t, 0, r.Code, r.Stderr)
	var out predictOutput
	require.NoError(t, jsonUnmarshal(r.Stdout, &out), r.Stdout)
	assert.Contains(t, r.Stderr, "level=DEBUG")
	assert.Contains(t, r.Stderr, "level=INFO msg=\"model loaded\"")
	assert.NotContains(t, r.Stdout, "level=")

	// A command-level --log-level wins over the global one.
	r = hier(t, "--log-level", "debug", "predict", "--json", "--model", tinyDir(t), "--input-ids", "1,2,3", "--log-level", "error")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Empty(t, r.Stderr)
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
