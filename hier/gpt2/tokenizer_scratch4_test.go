package gpt2

import (
	"math/rand"
	"strings"
	"testing"
	"time"
)

func TestScratch4Long(t *testing.T) {
	tk, _ := LoadTokenizer("/work/main/third_party/gpt2")
	r := rand.New(rand.NewSource(3))
	for _, n := range []int{1000, 10000, 50000} {
		s := strings.Repeat("a", n)
		t0 := time.Now(); ids := tk.Encode(s); d1 := time.Since(t0)
		b := make([]byte, n)
		for i := range b { b[i] = byte('a' + r.Intn(26)) }
		t0 = time.Now(); ids2 := tk.Encode(string(b)); d2 := time.Since(t0)
		s3 := strings.Repeat("!", n)
		t0 = time.Now(); ids3 := tk.Encode(s3); d3 := time.Since(t0)
		t.Logf("n=%d run-a %v (%d ids) random %v (%d ids) run-! %v (%d)", n, d1, len(ids), d2, len(ids2), d3, len(ids3))
	}
}
