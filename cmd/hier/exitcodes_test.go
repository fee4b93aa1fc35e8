package main

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"
)

// TestRecoveredPanicExitsInternal injects a panic through a command registered only for this
// test and runs the CLI in-process (run is what main calls): the panic is recovered, reported as
// one "internal error" line on stderr, and the exit status is 3 (exitInternal), not the 1 of a
// failed command or the 2 of a usage error.
func TestRecoveredPanicExitsInternal(t *testing.T) {
	saved, savedLog := commands, slog.Default()
	defer func() { commands = saved; slog.SetDefault(savedLog) }()
	for _, tc := range []struct {
		name  string
		value any
		want  string
	}{
		{"string", "boom\n  at the second line", "hier: error: internal error: boom; at the second line\n"},
		{"error", errors.New("index out of range [7] with length 3"), "hier: error: internal error: index out of range [7] with length 3\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.value
			commands = append(slices.Clone(saved), &cli.Command{Name: "zz-test-panic", Usage: "test only",
				Action: func(*cli.Context) error { panic(v) }})
			var out, errb bytes.Buffer
			code := run([]string{"hier", "zz-test-panic", "--device", "cpu", "--threads", "1"}, &out, &errb)
			assert.Equal(t, 3, code)
			assert.Equal(t, exitInternal, code)
			assert.Equal(t, tc.want, errb.String())
			assert.Empty(t, out.String())
		})
	}
	// The same command line without the panic succeeds: the status comes from the panic alone.
	commands = append(slices.Clone(saved), &cli.Command{Name: "zz-test-panic", Action: func(*cli.Context) error { return nil }})
	var out, errb bytes.Buffer
	assert.Equal(t, 0, run([]string{"hier", "zz-test-panic", "--device", "cpu", "--threads", "1"}, &out, &errb), errb.String())
}

// TestUsageErrorsNeedNoData checks command-line mistakes that need no model, data or vocabulary:
// the binary runs in an empty temporary directory (no ../shared, no third_party), and each
// mistake is one stderr line and exit status 2, before anything is loaded. Unlike TestErrors,
// nothing here skips when ../shared is absent.
func TestUsageErrorsNeedNoData(t *testing.T) {
	empty := t.TempDir()
	out := filepath.Join(empty, "out")
	cases := []struct {
		name      string
		args      []string
		fragments []string
	}{
		{"unknown global flag", []string{"--frobnicate", "version"}, []string{"frobnicate", "hier --help"}},
		{"unknown command flag", []string{"version", "--frobnicate"}, []string{"frobnicate", "hier version --help"}},
		{"unknown run flag", []string{"run", "--data", "x.csv", "--out", out, "--frobnicate"}, []string{"frobnicate", "hier run --help"}},
		{"unknown inspect flag", []string{"inspect", "--model", "m", "--frobnicate"}, []string{"frobnicate", "hier inspect --help"}},
		{"run without --data", []string{"run", "--out", out}, []string{"run: --data is required"}},
		{"run without anything", []string{"run"}, []string{"--data is required"}},
		{"pretrain without --data", []string{"pretrain", "--out", out}, []string{"--data is required"}},
		{"evaluate without --run", []string{"evaluate"}, []string{"--run is required"}},
		{"predict without --model", []string{"predict", "--input-ids", "1"}, []string{"--model is required"}},
		{"inspect without --model", []string{"inspect"}, []string{"--model is required"}},
		{"unknown command", []string{"frobnicate"}, []string{`unknown command "frobnicate"`}},
		{"stray argument", []string{"version", "oops"}, []string{`unexpected argument "oops"`}},
		{"bad flag value", []string{"--threads", "many", "version"}, []string{"threads"}},
		{"zero threads", []string{"--threads", "0", "version"}, []string{"--threads must be >= 1"}},
		{"unknown device", []string{"version", "--device", "tpu"}, []string{"--device", `"tpu"`}},
		{"bad log level", []string{"version", "--log-level", "chatty"}, []string{"--log-level"}},

		// Suggestions for misspelled commands, help topics and flags (no suggestion for a name
		// that is no near miss: see below).
		{"misspelled command", []string{"recomend"}, []string{`unknown command "recomend"; did you mean "recommend"?`}},
		{"help for a misspelled command", []string{"help", "recomend"}, []string{`no help topic for "recomend"; did you mean "recommend"?`}},
		{"help for an unknown command", []string{"help", "frobnicate"}, []string{`no help topic for "frobnicate"`}},
		{"command help with a topic", []string{"recommend", "help", "recomend"}, []string{`unexpected argument "help"`}},
		{"misspelled command flag", []string{"recommend", "--usr", "u"}, []string{"-usr", "did you mean --user?", "hier recommend --help"}},
		{"misspelled global flag", []string{"--jsno", "version"}, []string{"-jsno", "did you mean --json?"}},

		// A stray argument: the hint names a flag the command has and that was not given.
		{"stray argument to recommend", []string{"recommend", "--run", "R", "U0281"},
			[]string{`recommend: unexpected argument "U0281": recommend takes no positional arguments; did you mean --user U0281?`}},
		{"stray argument to predict", []string{"predict", "--model", "m", "great strings"}, []string{"did you mean --text 'great strings'?"}},
		{"stray token ids to predict", []string{"predict", "--model", "m", "15496,995"}, []string{"did you mean --input-ids 15496,995?"}},
		{"stray argument to tokenize", []string{"tokenize", "hello"}, []string{"did you mean --text hello?"}},
		{"stray argument to inspect", []string{"inspect", "runs/x"}, []string{"did you mean --model runs/x?"}},
		{"stray argument to evaluate", []string{"evaluate", "runs/x"}, []string{"did you mean --run runs/x?"}},
		{"stray argument to run", []string{"run", "--out", out, "data.csv"}, []string{"did you mean --data data.csv?"}},
		{"flags after a stray argument", []string{"recommend", "--run", "R", "--user", "u", "extra", "--top-k", "3"},
			[]string{`unexpected argument "extra"`, "such as --top-k, were not read"}},

		// Completion scripts.
		{"completion for an unknown shell", []string{"completion", "tcsh"}, []string{`unknown shell "tcsh"`, "bash, zsh, fish"}},
		{"completion without a shell", []string{"completion"}, []string{"give one shell"}},

		// Old flag spellings are hidden aliases of the canonical ones.
		{"-k is --top-k", []string{"recommend", "--run", "R", "--user", "u", "-k", "0"}, []string{"--top-k must be >= 1, got 0"}},
		{"--k and --top-k", []string{"recommend", "--run", "R", "--user", "u", "--k", "3", "--top-k", "4"}, []string{"give --top-k once"}},
		{"predict --max-len and --max-length", []string{"predict", "--model", "m", "--input-ids", "1", "--max-len", "3", "--max-length", "2"}, []string{"give --max-length once"}},
		{"--max-len and --max-length", []string{"run", "--data", "x", "--out", out, "--max-len", "8", "--max-length", "9"}, []string{"give --max-length once (--max-len is its old spelling)"}},
		{"--max-len is --max-length", []string{"run", "--data", "x", "--out", out, "--max-len", "0"}, []string{"--max-length must be >= 1, got 0"}},

		// evaluate uses the run's own seed.
		{"evaluate --seed", []string{"evaluate", "--run", "R", "--seed", "3"}, []string{"--seed is not used", "its own seed"}},
		{"global --seed before evaluate", []string{"--seed", "3", "evaluate", "--run", "R"}, []string{"--seed is not used"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(hierBin, tc.args...)
			cmd.Dir = empty
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee, "hier %v: stdout %q stderr %q", tc.args, stdout.String(), stderr.String())
			r := result{Stdout: stdout.String(), Stderr: stderr.String(), Code: ee.ExitCode()}
			requireOneLineError(t, r, exitUsage, tc.fragments...)
			assert.Equal(t, 2, r.Code)
			assert.Empty(t, r.Stdout)
			assert.False(t, strings.Contains(r.Stderr, "internal error"), r.Stderr)
		})
	}
	assert.NoDirExists(t, out, "a usage error creates no output directory")

	// A name that is no near miss gets no suggestion.
	for _, args := range [][]string{{"frobnicate"}, {"help", "frobnicate"}, {"version", "--frobnicate"}, {"version", "oops"}} {
		cmd := exec.Command(hierBin, args...)
		cmd.Dir = empty
		b, _ := cmd.CombinedOutput()
		assert.NotContains(t, string(b), "did you mean", "hier %v", args)
	}
}

// TestVersionFlag: --version and -v print the version and exit 0, like the version command's
// first line.
func TestVersionFlag(t *testing.T) {
	for _, flag := range []string{"--version", "-v"} {
		out := ok(t, flag)
		assert.Regexp(t, `^hier \S+ \(go\d`, out, flag)
		assert.Equal(t, 1, strings.Count(out, "\n"), "one line")
	}
	first, _, _ := strings.Cut(ok(t, "version", "--device", "cpu"), "\n")
	assert.Equal(t, first+"\n", ok(t, "--version"))
	assert.Contains(t, ok(t, "--help"), "--version, -v")
}

// TestCompletion: 'hier completion SHELL' prints a script for bash, zsh and fish; bash's parses;
// the completions the scripts ask hier for list commands, visible flags and flag values.
func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		script := ok(t, "completion", shell)
		assert.NotEmpty(t, script, shell)
		assert.Contains(t, script, "hier", shell)
		if shell != "fish" {
			assert.Contains(t, script, "--generate-bash-completion", shell)
		}
	}
	bash, err := exec.LookPath("bash")
	if err == nil {
		f := filepath.Join(t.TempDir(), "hier.bash")
		require.NoError(t, os.WriteFile(f, []byte(ok(t, "completion", "bash")), 0o644))
		out, err := exec.Command(bash, "-n", f).CombinedOutput()
		assert.NoError(t, err, "bash -n: %s", out)
	} else {
		t.Log("no bash: syntax check skipped")
	}
	fish := ok(t, "completion", "fish")
	assert.Contains(t, fish, "-l top-k")
	assert.NotContains(t, fish, "-l max-len ", "hidden old spellings are not offered")
	assert.Equal(t, 1, strings.Count(fish, "-l version"), "no duplicate lines")

	lines := func(args ...string) []string {
		return strings.Fields(ok(t, append(args, "--generate-bash-completion")...))
	}
	top := lines()
	for _, c := range []string{"recommend", "run", "completion", "version", "help"} {
		assert.Contains(t, top, c)
	}
	assert.Equal(t, []string{"--fusion"}, lines("run", "--fu"))
	maxFlags := lines("run", "--max")
	assert.Contains(t, maxFlags, "--max-length")
	assert.NotContains(t, maxFlags, "--max-len")
	assert.Equal(t, []string{"concat", "weighted", "gate"}, lines("run", "--fusion"))
	assert.Equal(t, []string{"bash", "zsh", "fish"}, lines("completion"))
	assert.Empty(t, lines("predict", "--model"), "a directory: the shell completes file names")
	zsh := hier(t, "run", "--fu", "--generate-bash-completion")
	require.Equal(t, 0, zsh.Code)
	cmd := exec.Command(hierBin, "run", "--fu", "--generate-bash-completion")
	cmd.Env = append(os.Environ(), "HIER_COMPLETION=zsh")
	b, err := cmd.Output()
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(b), "--fusion:how H0, H1 and H2 are fused"), "zsh gets name:description, got %q", b)
}
