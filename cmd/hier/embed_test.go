package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tinyTrace is the golden TorchScript trace of gpt2-tiny's backbone; the test skips without it.
func tinyTrace(t *testing.T) string {
	t.Helper()
	path := filepath.Join(tinyDir(t), "backbone.traced.pt")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("golden TorchScript trace not found (%v): skipping", err)
	}
	return path
}

// embedVectors runs 'hier embed ARGS --json' with one --text per text and returns the vectors.
func embedVectors(t *testing.T, texts []string, args ...string) [][]float64 {
	t.Helper()
	args = append(append([]string{"embed"}, args...), "--json", "--log-level", "error")
	for _, s := range texts {
		args = append(args, "--text", s)
	}
	var e struct {
		Dim        int `json:"dim"`
		Embeddings []struct {
			Text   string    `json:"text"`
			Vector []float64 `json:"vector"`
		} `json:"embeddings"`
	}
	okJSON(t, &e, args...)
	require.Len(t, e.Embeddings, len(texts))
	out := make([][]float64, len(texts))
	for i, x := range e.Embeddings {
		assert.Equal(t, texts[i], x.Text)
		require.Len(t, x.Vector, e.Dim)
		out[i] = x.Vector
	}
	return out
}

// requireSameVectors compares a with b (the reference) at the float32 tolerance of the
// golden README: |a - b| <= 1e-5 + 1e-5·|b|.
func requireSameVectors(t *testing.T, a, b [][]float64, msg string) {
	t.Helper()
	require.Len(t, a, len(b), msg)
	for i := range b {
		require.Len(t, a[i], len(b[i]), "%s: text %d", msg, i)
		for j := range b[i] {
			assert.LessOrEqual(t, math.Abs(a[i][j]-b[i][j]), 1e-5+1e-5*math.Abs(b[i][j]),
				"%s: text %d [%d]: %v vs %v", msg, i, j, a[i][j], b[i][j])
		}
	}
}

// TestEmbedTorchScript: 'hier embed --torchscript' on the golden trace of gpt2-tiny's backbone
// gives the vectors 'hier embed --model gpt2-tiny' gives (same weights): for the golden texts,
// an empty text, and a text longer than n_positions (64, read from the trace's wpe.weight),
// in batches that mix lengths; and with --max-length 5 on both.
func TestEmbedTorchScript(t *testing.T) {
	requireVocab(t)
	g := loadGolden(t)
	trace := tinyTrace(t)
	texts := append(append([]string{}, g.Inputs.Texts...), "", strings.Repeat("a long review, ", 40))
	want := embedVectors(t, texts, "--model", tinyDir(t), "--batch-size", "3")
	require.Len(t, want[0], 32)
	got := embedVectors(t, texts, "--torchscript", trace, "--batch-size", "3")
	requireSameVectors(t, got, want, "--torchscript vs --model")
	got = embedVectors(t, texts, "--torchscript", trace, "--tokenizer", filepath.Join(repoRoot, "third_party", "gpt2"))
	requireSameVectors(t, got, want, "--torchscript --tokenizer third_party/gpt2 vs --model")

	want = embedVectors(t, texts, "--model", tinyDir(t), "--max-length", "5")
	got = embedVectors(t, texts, "--torchscript", trace, "--max-length", "5")
	requireSameVectors(t, got, want, "--max-length 5: --torchscript vs --model")
	full := embedVectors(t, texts[:1], "--model", tinyDir(t))
	assert.NotEqual(t, full[0], want[0], "--max-length 5 truncates the first golden text (12 tokens)")

	// Text output: one line per text with 32 numbers.
	lines := strings.Split(strings.TrimSpace(ok(t, "embed", "--torchscript", trace, "--text", "a", "--text", "b")), "\n")
	require.Len(t, lines, 2)
	assert.Len(t, strings.Fields(lines[0]), 32)
}

// embedErrCase is a failing 'hier embed' command line and what its error says.
type embedErrCase struct {
	name      string
	args      []string
	code      int
	fragments []string
}

// TestEmbedTorchScriptErrors: a file that is not TorchScript is an error naming the file;
// --torchscript with --model or --run, or a --max-length above the trace's n_positions, is a
// usage error (exit 2).
func TestEmbedTorchScriptErrors(t *testing.T) {
	dir := t.TempDir()
	notScript := filepath.Join(dir, "weights.pt")
	require.NoError(t, os.WriteFile(notScript, []byte("not a model"), 0o644))
	missing := filepath.Join(dir, "missing.pt")
	cases := []embedErrCase{
		{"with --model", []string{"--torchscript", notScript, "--model", dir}, exitUsage, []string{"--model", "--torchscript", "not both"}},
		{"with --run", []string{"--torchscript", notScript, "--run", dir}, exitUsage, []string{"--run", "--torchscript", "not both"}},
		{"all three", []string{"--torchscript", notScript, "--run", dir, "--model", dir}, exitUsage, []string{"one of --model, --run and --torchscript"}},
		{"not TorchScript", []string{"--torchscript", notScript}, exitError, []string{notScript, "not a zip archive"}},
		{"missing", []string{"--torchscript", missing}, exitError, []string{missing, "does not exist"}},
		{"directory", []string{"--torchscript", dir}, exitError, []string{dir, "is a directory", "--model"}},
		{"bad --max-length", []string{"--torchscript", notScript, "--max-length", "0"}, exitUsage, []string{"--max-length must be >= 1"}},
		{"--max-length with --run", []string{"--run", dir, "--max-length", "8"}, exitUsage, []string{"--max-length applies to --model and --torchscript"}},
		{"--tokenizer with --run", []string{"--run", dir, "--tokenizer", dir}, exitUsage, []string{"--tokenizer applies to --model and --torchscript"}},
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(repoRoot), "shared", "golden", "gpt2-tiny", "backbone.traced.pt")); err == nil {
		trace, tiny := tinyTrace(t), tinyDir(t)
		cases = append(cases,
			embedErrCase{"--max-length above n_positions", []string{"--torchscript", trace, "--max-length", "65"}, exitUsage, []string{"--max-length 65", "1..64", "wpe.weight"}},
			embedErrCase{"safetensors as --torchscript", []string{"--torchscript", filepath.Join(tiny, "model.safetensors")}, exitError, []string{"model.safetensors", "not a zip archive"}},
			embedErrCase{"--model --max-length above n_positions", []string{"--model", tiny, "--max-length", "65"}, exitUsage, []string{"--max-length 65", "1..64"}},
		)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := hier(t, append(append([]string{"embed"}, tc.args...), "--text", "a", "--log-level", "error")...)
			requireOneLineError(t, r, tc.code, tc.fragments...)
			assert.Empty(t, r.Stdout)
		})
	}
}
