package data

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// sharedDir returns <repo root>/../shared/data/<name>, where the repo root is
// the closest directory above the working directory holding go.mod; the test
// is skipped when it does not exist.
func sharedDir(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("repository root (go.mod) not found")
		}
		dir = parent
	}
	p := filepath.Join(filepath.Dir(dir), "shared", "data", name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared dataset %s not available: %v", p, err)
	}
	return p
}

func amazonZipPath(t testing.TB) string {
	return filepath.Join(sharedDir(t, "amazon-musical-instruments-5core"), "Musical_instruments_reviews.csv.zip")
}

func writeFile(t testing.TB, dir, name string, content []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, content, 0o644))
	return p
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// zipBytes builds a zip archive with the given members (name, content pairs).
func zipBytes(t testing.TB, members ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for i := 0; i+1 < len(members); i += 2 {
		f, err := w.Create(members[i])
		require.NoError(t, err)
		_, err = f.Write([]byte(members[i+1]))
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func ratingHist(ds *Dataset) map[float64]int {
	h := map[float64]int{}
	for _, it := range ds.Interactions {
		h[it.Rating]++
	}
	return h
}

func findInteraction(ds *Dataset, user, item string) (Interaction, bool) {
	for _, it := range ds.Interactions {
		if it.User == user && it.Item == item {
			return it, true
		}
	}
	return Interaction{}, false
}
