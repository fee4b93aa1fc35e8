package torch

import (
	"os"
	"testing"
)

func TestMallocTuned(t *testing.T) {
	if os.Getenv("HIER_MALLOC") == "system" {
		if MallocTuned {
			t.Fatal("HIER_MALLOC=system must keep glibc's malloc defaults")
		}
		return
	}
	if !MallocTuned {
		t.Fatal("glibc's malloc settings were not applied (mallopt failed, or not glibc)")
	}
}
