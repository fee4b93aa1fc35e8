package pipeline

// The temporary sibling a run is built in (see RunDataset) and the leftovers of runs that were
// killed before they could remove theirs.

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// workPrefix is the name prefix of final's temporary siblings: ".<base>.tmp-".
func workPrefix(final string) string { return "." + filepath.Base(final) + ".tmp-" }

// newWorkDir creates the temporary sibling of final that a run is built in,
// ".<base>.tmp-<pid>-<random>", with mode 0755 like any directory the pipeline makes
// (os.MkdirTemp creates 0700, which the final rename would keep). The process id lets a later
// run tell a leftover of a killed run from the directory of a run still going
// (removeStaleWork).
func newWorkDir(final string) (string, error) {
	work, err := os.MkdirTemp(filepath.Dir(final), workPrefix(final)+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(work, 0o755); err != nil {
		os.RemoveAll(work)
		return "", err
	}
	return work, nil
}

// removeStaleWork removes the temporary siblings of final left by runs that were killed
// (SIGKILL, out of memory, power loss: no deferred clean-up ran), recognised by the process id
// in their name no longer running. A sibling whose process still runs is another run writing
// to the same directory and is left alone, with a warning; so is one without a process id in
// its name (an older hier) and the previous run moved aside by a swap that was interrupted
// before the new run took its place (final is missing then): both are reported, with what to
// do.
func removeStaleWork(final string, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	dir, prefix := filepath.Dir(final), workPrefix(final)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	_, statErr := os.Stat(final)
	finalExists := statErr == nil
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || !strings.HasPrefix(name, prefix) {
			continue
		}
		path := filepath.Join(dir, name)
		rest := strings.TrimPrefix(name, prefix)
		moved := strings.HasSuffix(rest, ".old")
		pidText, _, hasPid := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		switch {
		case moved && !finalExists:
			log.Warn(fmt.Sprintf("%s holds the previous run of %s, moved aside by a run that was killed before it finished replacing it; move it back (mv %s %s) or remove it", path, final, path, final))
		case !hasPid || err != nil || pid <= 0:
			log.Warn(fmt.Sprintf("%s is left over from an interrupted run writing to %s; remove it unless another hier run is writing there", path, final))
		case processRunning(pid):
			log.Warn(fmt.Sprintf("%s belongs to process %d, still running: another run may be writing to %s", path, pid, final))
		default:
			if err := os.RemoveAll(path); err != nil {
				log.Warn(fmt.Sprintf("could not remove %s, left over from an interrupted run: %v", path, err))
				continue
			}
			log.Info(fmt.Sprintf("removed %s, left over from an interrupted run (process %d)", path, pid))
		}
	}
}

// processRunning reports whether a process with this id exists (in doubt, true).
func processRunning(pid int) bool {
	if pid == os.Getpid() {
		return true
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return !errors.Is(err, os.ErrProcessDone)
}
