package gpt2

import (
	"encoding/json"
	"math/rand"
	"os"
	"testing"
)

func TestScratch5Gen(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	alphas := []string{"ab", "a", "abc", "aeiou", "thequickbrownfox", "!?", "!", ".-", "0123", "01", "zZ", "ĠĊ", "éè"}
	var in []string
	for i := 0; i < 400; i++ {
		al := []rune(alphas[r.Intn(len(alphas))])
		n := 2 + r.Intn(3000)
		rs := make([]rune, n)
		for j := range rs { rs[j] = al[r.Intn(len(al))] }
		if r.Intn(2) == 0 { // runs
			for j := 1; j < n; j++ { if r.Intn(4) != 0 { rs[j] = rs[j-1] } }
		}
		in = append(in, string(rs))
	}
	b, _ := json.Marshal(in)
	os.WriteFile("/tmp/rand_in.json", b, 0o644)
}
