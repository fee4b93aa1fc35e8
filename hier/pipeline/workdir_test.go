package pipeline

import (
	"bytes"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// deadPID returns the id of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	return cmd.Process.Pid
}

// TestWorkDir: a run is built in ".<base>.tmp-<pid>-<random>" with mode 0755 (so the run
// directory it becomes is 0755, not os.MkdirTemp's 0700), and the next run removes the
// leftovers of killed runs but nothing that may still be in use or hold a previous run.
func TestWorkDir(t *testing.T) {
	parent := t.TempDir()
	final := filepath.Join(parent, "run")
	work, err := newWorkDir(final)
	require.NoError(t, err)
	fi, err := os.Stat(work)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), fi.Mode().Perm())
	assert.Regexp(t, `^\.run\.tmp-`+strconv.Itoa(os.Getpid())+`-\d+$`, filepath.Base(work))

	dead := deadPID(t)
	mk := func(name string) string {
		p := filepath.Join(parent, name)
		require.NoError(t, os.MkdirAll(filepath.Join(p, "plots"), 0o755))
		return p
	}
	stale := mk(".run.tmp-" + strconv.Itoa(dead) + "-123")
	staleOld := mk(".run.tmp-" + strconv.Itoa(dead) + "-456.old") // final exists below: garbage
	legacy := mk(".run.tmp-987654")                               // an older hier: no pid
	other := mk(".other.tmp-" + strconv.Itoa(dead) + "-1")        // another run's sibling
	require.NoError(t, os.Mkdir(final, 0o755))

	var logs bytes.Buffer
	removeStaleWork(final, slog.New(slog.NewTextHandler(&logs, nil)))
	assert.NoDirExists(t, stale)
	assert.NoDirExists(t, staleOld)
	assert.DirExists(t, work, "our own process is running")
	assert.DirExists(t, legacy, "no pid: reported, not removed")
	assert.DirExists(t, other)
	assert.Contains(t, logs.String(), "removed "+stale)
	assert.Contains(t, logs.String(), legacy+" is left over from an interrupted run")

	// A previous run moved aside by a swap that was killed before the new run took its place.
	require.NoError(t, os.Remove(final))
	moved := mk(".run.tmp-" + strconv.Itoa(dead) + "-789.old")
	logs.Reset()
	removeStaleWork(final, slog.New(slog.NewTextHandler(&logs, nil)))
	assert.DirExists(t, moved, "the previous run is kept")
	assert.Contains(t, logs.String(), "holds the previous run of "+final)
}
