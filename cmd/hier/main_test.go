package main

// The CLI is tested end to end: TestMain builds the binary once (go build -o TMP/hier .) and
// the tests run it as a subprocess, from the repository root (so that the default vocabulary,
// third_party/gpt2, is found). Data comes from ../shared (the repository root's parent); tests
// that need it, or the vocabulary, skip with a message when it is absent.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	hierBin  string // the built binary
	repoRoot string // directory of go.mod
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	root, err := findRepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cmd/hier tests:", err)
		return 1
	}
	repoRoot = root
	dir, err := os.MkdirTemp("", "hier-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "cmd/hier tests:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	hierBin = filepath.Join(dir, "hier")
	tinyConfig = filepath.Join(dir, "tiny-recommenders.json")
	if err := os.WriteFile(tinyConfig, []byte(tinyConfigJSON), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "cmd/hier tests:", err)
		return 1
	}
	tinyBudget = append(tinyBudget, "--config", tinyConfig)
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	build := exec.Command(goTool, "build", "-o", hierBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "cmd/hier tests: building hier:", err)
		return 1
	}
	return m.Run()
}

func findRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// result is one run of the binary.
type result struct {
	Stdout, Stderr string
	Code           int
}

// hier runs the binary from the repository root.
func hier(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(hierBin, args...)
	cmd.Dir = repoRoot
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "running hier %v", args)
		code = ee.ExitCode()
	}
	return result{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

// ok runs the binary and requires success, an empty stderr and returns stdout.
func ok(t *testing.T, args ...string) string {
	t.Helper()
	r := hier(t, args...)
	require.Equal(t, 0, r.Code, "hier %v failed: %s", args, r.Stderr)
	assert.Empty(t, r.Stderr, "hier %v wrote to stderr", args)
	return r.Stdout
}

// okJSON runs the binary, requires success and decodes stdout (exactly one JSON document).
func okJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out := ok(t, args...)
	dec := json.NewDecoder(strings.NewReader(out))
	require.NoError(t, dec.Decode(v), "stdout of hier %v: %s", args, out)
	var extra json.RawMessage
	require.Error(t, dec.Decode(&extra), "stdout of hier %v holds more than one JSON document", args)
}

// sharedDir is ../shared beside the repository; tests skip without it.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(filepath.Dir(repoRoot), "shared")
	if _, err := os.Stat(filepath.Join(dir, "golden", "golden.json")); err != nil {
		t.Skipf("shared data not found at %s (%v): skipping", dir, err)
	}
	return dir
}

func tinyDir(t *testing.T) string { return filepath.Join(sharedDir(t), "golden", "gpt2-tiny") }
func baseDir(t *testing.T) string { return filepath.Join(sharedDir(t), "golden", "gpt2-tiny-base") }

// requireVocab skips when the default GPT-2 vocabulary is not installed.
func requireVocab(t *testing.T) {
	t.Helper()
	dir := os.Getenv("HIER_VOCAB_DIR")
	if dir == "" {
		dir = filepath.Join(repoRoot, "third_party", "gpt2")
	}
	for _, f := range []string{"vocab.json", "merges.txt"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Skipf("GPT-2 vocabulary missing (%v): run scripts/fetch_vocab.sh; skipping", err)
		}
	}
}

// golden is the part of shared/golden/golden.json the CLI tests use.
type golden struct {
	Inputs struct {
		Texts           []string  `json:"texts"`
		InputIDs        [][]int64 `json:"input_ids"`
		SequenceLengths []int     `json:"sequence_lengths"`
	} `json:"inputs"`
	ClsLogits [][]float64 `json:"cls_logits_f64"`
}

func loadGolden(t *testing.T) golden {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(sharedDir(t), "golden", "golden.json"))
	require.NoError(t, err)
	var g golden
	require.NoError(t, json.Unmarshal(data, &g))
	require.Len(t, g.Inputs.InputIDs, 3)
	require.Len(t, g.ClsLogits, 3)
	return g
}

// rows are the golden inputs without padding: input_ids[0][:12], [1][:7], [2][:4].
func (g golden) rows() [][]int64 {
	out := make([][]int64, len(g.Inputs.InputIDs))
	for i, r := range g.Inputs.InputIDs {
		out[i] = r[:g.Inputs.SequenceLengths[i]]
	}
	return out
}

func idsArg(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprint(id)
	}
	return strings.Join(parts, ",")
}

func assertClose(t *testing.T, want, got []float64, tol float64, msg string) {
	t.Helper()
	require.Len(t, got, len(want), msg)
	for i := range want {
		assert.LessOrEqual(t, math.Abs(want[i]-got[i]), tol, "%s [%d]: want %v, got %v", msg, i, want[i], got[i])
	}
}

// requireOneLineError checks a failed run: non-zero exit status (code, when > 0), nothing
// or a report on stdout, and exactly one stderr line "hier: error: ..." containing every
// fragment; no panic or stack trace.
func requireOneLineError(t *testing.T, r result, code int, fragments ...string) {
	t.Helper()
	require.NotEqual(t, 0, r.Code, "want a failure; stdout: %s", r.Stdout)
	if code > 0 {
		assert.Equal(t, code, r.Code, "exit status; stderr: %s", r.Stderr)
	}
	lines := strings.Split(strings.TrimRight(r.Stderr, "\n"), "\n")
	require.Len(t, lines, 1, "stderr must be one line, got %q", r.Stderr)
	assert.True(t, strings.HasPrefix(lines[0], "hier: error: "), "stderr: %q", lines[0])
	assert.NotContains(t, r.Stderr, "panic")
	assert.NotContains(t, r.Stderr, "goroutine ")
	for _, f := range fragments {
		assert.Contains(t, lines[0], f)
	}
}

func TestHelp(t *testing.T) {
	out := ok(t, "--help")
	for _, cmd := range []string{"tokenize", "predict", "inspect", "version"} {
		assert.Contains(t, out, cmd)
	}
	for _, g := range []string{"--device", "--seed", "--threads", "--json", "--log-level"} {
		assert.Contains(t, out, g)
	}
	assert.Equal(t, out, ok(t), "no arguments prints the help")
	for _, cmd := range []string{"tokenize", "predict", "inspect", "version"} {
		h := ok(t, cmd, "--help")
		assert.Contains(t, h, "hier "+cmd, cmd)
		assert.Contains(t, h, "--json", "%s --help lists the global flags", cmd)
		assert.Equal(t, h, ok(t, "help", cmd))
	}
	assert.Contains(t, ok(t, "predict", "--help"), `"predictions"`, "predict --help documents the JSON format")
}

func TestVersion(t *testing.T) {
	out := ok(t, "version", "--device", "cpu")
	assert.Contains(t, out, "libtorch ")
	assert.Contains(t, out, "CUDA available: ")
	assert.Contains(t, out, "threads: ")
	var v struct {
		Libtorch      string `json:"libtorch"`
		CUDAAvailable *bool  `json:"cuda_available"`
		Threads       int    `json:"threads"`
		Device        string `json:"device"`
	}
	okJSON(t, &v, "--threads", "1", "version", "--json", "--device", "cpu")
	assert.Regexp(t, `^\d+\.\d+`, v.Libtorch)
	assert.NotNil(t, v.CUDAAvailable)
	assert.Equal(t, 1, v.Threads, "--threads before the command name applies")
	assert.Equal(t, "cpu", v.Device)
}

func TestOneLine(t *testing.T) {
	assert.Equal(t, "a; b; c", oneLine("a\nb\r\n\n c \n"))
	assert.Equal(t, "x", oneLine("x"))
}

// helpFlags parses the OPTIONS section of a command's --help: each flag (by its first name) and
// its line (urfave does not wrap them).
func helpFlags(t *testing.T, help string) map[string]string {
	t.Helper()
	_, opts, found := strings.Cut(help, "OPTIONS:")
	require.True(t, found, "no OPTIONS section in %s", help)
	flags := map[string]string{}
	for _, l := range strings.Split(opts, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "--") {
			name, _, _ := strings.Cut(strings.TrimPrefix(l, "--"), " ")
			flags[strings.TrimSuffix(name, ",")] = l
		}
	}
	return flags
}

// TestFlagHelp: what --help shows about the flags is true: required flags say so, the shown
// --log-level default is the one used, the canonical spellings (--max-length, --top-k) are
// shown and the old ones hidden, and a flag's usage names only flags the command has.
func TestFlagHelp(t *testing.T) {
	required := map[string][]string{
		"recommend": {"run", "user"}, "evaluate": {"run"}, "predict": {"model"}, "inspect": {"model"},
		"tokenize": {"text"}, "embed": {"text"}, "run": {"data", "out"}, "pretrain": {"data", "out"},
		"finetune": {"task", "model", "data", "out"},
	}
	training := []string{"demo", "run", "pretrain", "finetune"}
	all := []string{"completion", "demo", "embed", "evaluate", "finetune", "inspect", "predict", "pretrain", "recommend", "run", "tokenize", "version"}
	for _, cmd := range all {
		flags := helpFlags(t, ok(t, cmd, "--help"))
		for _, name := range required[cmd] {
			require.Contains(t, flags, name, cmd)
			assert.Contains(t, flags[name], "(required", "%s --%s is marked required", cmd, name)
		}
		level := `(default: "warn")`
		if slices.Contains(training, cmd) {
			level = `(default: "info")`
		}
		assert.Contains(t, flags["log-level"], level, cmd)
		for _, old := range []string{"max-len", "k"} {
			assert.NotContains(t, flags, old, "%s shows the old spelling --%s", cmd, old)
		}
		for name, usage := range flags {
			for _, ref := range regexp.MustCompile(`--([a-z][a-z0-9-]*)( of 'hier)?`).FindAllStringSubmatch(usage, -1) {
				if ref[1] == name || ref[1] == "help" || ref[2] != "" { // "the --out of 'hier run'": another command's
					continue
				}
				assert.Contains(t, flags, ref[1], "%s --%s mentions --%s, which %s does not have: %s", cmd, name, ref[1], cmd, usage)
			}
		}
	}
	for _, cmd := range []string{"run", "demo", "pretrain", "finetune", "predict"} {
		assert.Contains(t, helpFlags(t, ok(t, cmd, "--help")), "max-length", cmd)
	}
	assert.Contains(t, helpFlags(t, ok(t, "recommend", "--help")), "top-k")
	assert.NotContains(t, helpFlags(t, ok(t, "evaluate", "--help")), "seed", "evaluate uses the run's seed")
	app := helpFlags(t, ok(t, "--help"))
	assert.Contains(t, app["log-level"], "(default: warn; info for demo, finetune, pretrain, run)")
}

// TestTrainingLogLevel: without --log-level, a training command logs at info (its shown
// default) and the other commands at warn. The run below fails in its prepare stage (no user
// has 3 interactions), after the stage's info line.
func TestTrainingLogLevel(t *testing.T) {
	data := filepath.Join(t.TempDir(), "few.csv")
	require.NoError(t, os.WriteFile(data, []byte("user,item,rating\nu1,a,5\nu1,b,4\nu2,a,3\n"), 0o644))
	r := hier(t, "run", "--data", data, "--columns", "user=user,item=item,rating=rating", "--out", filepath.Join(t.TempDir(), "o"))
	require.Equal(t, exitError, r.Code, r.Stderr)
	assert.Contains(t, r.Stderr, `level=INFO msg="stage start" stage=prepare`)
	r = hier(t, "run", "--data", data, "--columns", "user=user,item=item,rating=rating", "--out", filepath.Join(t.TempDir(), "o"), "--log-level", "warn")
	require.Equal(t, exitError, r.Code, r.Stderr)
	assert.NotContains(t, r.Stderr, "level=INFO")
}

// TestRunWithoutText: interactions with no review or item text leave the scratch backbone
// nothing to pre-train on; that is a clear error (exit 1), not a crash.
func TestRunWithoutText(t *testing.T) {
	var b strings.Builder
	b.WriteString("user,item,rating,ts\n")
	for u := 0; u < 6; u++ {
		for i := 0; i < 4; i++ {
			fmt.Fprintf(&b, "u%d,i%d,%d,%d\n", u, (u+i)%5, 1+(u+i)%5, 1000+10*i)
		}
	}
	data := filepath.Join(t.TempDir(), "notext.csv")
	require.NoError(t, os.WriteFile(data, []byte(b.String()), 0o644))
	r := hier(t, "run", "--data", data, "--columns", "user=user,item=item,rating=rating,time=ts", "--out", filepath.Join(t.TempDir(), "o"), "--log-level", "error")
	requireOneLineError(t, r, exitError, "no training text", "--model")
}

// TestConfigMaxLenChecked: a --config max_len beyond the scratch backbone's positions is refused
// before anything runs, like --max-length.
func TestConfigMaxLenChecked(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"pretrain": {"max_len": 1000}}`), 0o644))
	data := filepath.Join(t.TempDir(), "d.csv")
	require.NoError(t, os.WriteFile(data, []byte("user,item,rating\nu1,a,5\n"), 0o644))
	r := hier(t, "run", "--config", cfg, "--data", data, "--columns", "user=user,item=item,rating=rating", "--out", filepath.Join(t.TempDir(), "o"))
	requireOneLineError(t, r, exitError, "pretrain.max_len", "positions")
}
