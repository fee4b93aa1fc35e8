package torch

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCgoDirectivesCoverHeader: every function the shim's header declares is listed as
// noescape and nocallback in cgo_directives.go, and nothing else is, so a new shim function
// cannot silently miss the allocation-free call path (or keep a stale name).
func TestCgoDirectivesCoverHeader(t *testing.T) {
	var header []byte
	var err error
	for _, p := range []string{"hier_torch.h", filepath.Join("..", "cgo", "hier_torch.h")} {
		if header, err = os.ReadFile(p); err == nil {
			break
		}
	}
	require.NoError(t, err, "hier_torch.h not found next to the package or in ../cgo")
	src, err := os.ReadFile("cgo_directives.go")
	require.NoError(t, err)

	declared := map[string]bool{}
	for _, m := range regexp.MustCompile(`\b(ht_[a-z0-9_]+)\s*\(`).FindAllSubmatch(header, -1) {
		declared[string(m[1])] = true
	}
	require.NotEmpty(t, declared)
	for _, kind := range []string{"noescape", "nocallback"} {
		listed := map[string]bool{}
		for _, m := range regexp.MustCompile(`(?m)^#cgo `+kind+` (\S+)$`).FindAllSubmatch(src, -1) {
			listed[string(m[1])] = true
		}
		var missing, stale []string
		for n := range declared {
			if !listed[n] {
				missing = append(missing, n)
			}
		}
		for n := range listed {
			if !declared[n] {
				stale = append(stale, n)
			}
		}
		sort.Strings(missing)
		sort.Strings(stale)
		require.Empty(t, missing, "functions of hier_torch.h without #cgo %s in cgo_directives.go", kind)
		require.Empty(t, stale, "#cgo %s names that hier_torch.h does not declare", kind)
	}
}
