package main

import (
	"bytes"
	"errors"
	"log/slog"
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
}
