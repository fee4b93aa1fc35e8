package torch

import (
	"os"
	"testing"
)

func TestMallocTuned(t *testing.T) {
	if os.Getenv("HIER_MALLOC") != "tuned" {
		if MallocTuned {
			t.Fatal("glibc's malloc defaults are kept unless HIER_MALLOC=tuned")
		}
		return
	}
	if !MallocTuned {
		t.Fatal("HIER_MALLOC=tuned: glibc's malloc settings were not applied (mallopt failed, or not glibc)")
	}
}
