// Command consumer stands in for a Go service that uses hier as a dependency; it is the program
// of scripts/consumer_check.sh, which copies it into a scratch module outside the repository.
// There it imports github.com/hier-ai/hier through the module path (vendored) and links the
// installed shim (pkg-config hiertorch). Here it also builds as part of the module (go vet).
//
// It runs one prediction with the GPT-2 sequence classifier of hier/gpt2:
//
//	consumer -golden DIR   the tiny golden checkpoint (DIR/gpt2-tiny) on the golden inputs
//	                       (DIR/golden.safetensors); the unpadded last_hidden_state and the
//	                       logits must equal the float64 references within the float32
//	                       tolerance of DIR/README.md, |a-b| <= 1e-5 + 1e-5·|b|, and the
//	                       predicted labels must be those of the references.
//	consumer               a small randomly initialised classifier (seeded); the outputs must
//	                       have the expected shapes and be finite.
//
// It prints the libtorch version, each row's predicted label and the checks' results, and exits
// with status 1 on any failure. No tokenizer is needed: the inputs are token ids.
package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/torch"
)

// Float32 implementation vs float64 golden values (../shared/golden/README.md, "Tolerances").
const atol, rtol = 1e-5, 1e-5

func main() {
	golden := flag.String("golden", "", "golden data directory (golden.safetensors, gpt2-tiny/); empty: a random model")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintf(os.Stderr, "consumer: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	if err := run(*golden); err != nil {
		fmt.Fprintln(os.Stderr, "consumer: FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("consumer: OK")
}

func run(golden string) (err error) {
	if err := torch.CheckRuntime(); err != nil {
		return err
	}
	fmt.Printf("consumer: libtorch %s, %d intra-op threads\n", torch.LibtorchVersion(), torch.NumThreads())
	defer torch.Recover(&err)
	before := torch.LiveTensors()
	if golden != "" {
		err = predictGolden(golden)
	} else {
		err = predictRandom()
	}
	if err == nil && torch.LiveTensors() != before {
		err = fmt.Errorf("%d tensors left alive after the prediction", torch.LiveTensors()-before)
	}
	return err
}

func predictGolden(dir string) error {
	ref, _, err := torch.LoadSafetensors(filepath.Join(dir, "golden.safetensors"), torch.CPU)
	if err != nil {
		return err
	}
	defer func() {
		for _, t := range ref {
			t.Free()
		}
	}()
	get := func(key string) (*torch.Tensor, error) {
		t, ok := ref[key]
		if !ok {
			return nil, fmt.Errorf("%s: no tensor %q", filepath.Join(dir, "golden.safetensors"), key)
		}
		return t, nil
	}
	ids, err := get("input_ids")
	if err != nil {
		return err
	}
	mask, err := get("attention_mask")
	if err != nil {
		return err
	}
	wantHidden, err := get("f64.last_hidden_state")
	if err != nil {
		return err
	}
	wantLogits, err := get("f64.cls_logits")
	if err != nil {
		return err
	}

	c, rep, err := gpt2.LoadSequenceClassifier(filepath.Join(dir, "gpt2-tiny"), gpt2.LoadOptions{DType: torch.Float32, Device: torch.CPU})
	if err != nil {
		return err
	}
	defer c.Free()
	if len(rep.Missing) > 0 || len(rep.Unexpected) > 0 {
		return fmt.Errorf("%s: missing parameters %v, unexpected keys %v", rep.File, rep.Missing, rep.Unexpected)
	}
	fmt.Printf("consumer: loaded %s (%d layers, n_embd %d, %d labels)\n", rep.File, c.Config().NLayer, c.Config().NEmbd, c.NumLabels())

	s := torch.NewScope()
	defer s.Close()
	out, err := c.Forward(s, ids, mask, nil)
	if err != nil {
		return err
	}
	if err := checkShape("last_hidden_state", out.Hidden, wantHidden.Shape()); err != nil {
		return err
	}
	if err := checkShape("logits", out.Logits, wantLogits.Shape()); err != nil {
		return err
	}
	maskv, err := mask.Int64s()
	if err != nil {
		return err
	}
	width := int(c.Config().NEmbd)
	gotH, err := values(out.Hidden)
	if err != nil {
		return err
	}
	wantH, err := values(wantHidden)
	if err != nil {
		return err
	}
	if err := compare("last_hidden_state (unpadded)", unpadded(gotH, maskv, width), unpadded(wantH, maskv, width)); err != nil {
		return err
	}
	gotL, err := values(out.Logits)
	if err != nil {
		return err
	}
	wantL, err := values(wantLogits)
	if err != nil {
		return err
	}
	if err := compare("logits", gotL, wantL); err != nil {
		return err
	}
	labels := c.Config().Labels()
	got, want := argmaxRows(gotL, len(labels)), argmaxRows(wantL, len(labels))
	printPredictions(got, gotL, labels)
	if !slices.Equal(got, want) {
		return fmt.Errorf("predicted labels %v, the golden logits give %v", got, want)
	}
	return nil
}

func predictRandom() error {
	cfg := gpt2.NewConfig(1000, 32, 32, 2, 2)
	cfg.SetLabels([]string{"negative", "neutral", "positive"})
	pad := int64(999)
	cfg.PadTokenID = &pad
	g, err := torch.NewGenerator(1234, torch.CPU)
	if err != nil {
		return err
	}
	defer g.Free()
	m, err := gpt2.NewModel(cfg, torch.Float32, torch.CPU, g)
	if err != nil {
		return err
	}
	c, err := gpt2.NewSequenceClassifier(m, g)
	if err != nil {
		m.Free()
		return err
	}
	defer c.Free()
	fmt.Printf("consumer: random classifier (%d layers, n_embd %d, %d labels)\n", cfg.NLayer, cfg.NEmbd, c.NumLabels())

	s := torch.NewScope()
	defer s.Close()
	in, err := gpt2.PadRight(s, [][]int64{{11, 250, 3, 7, 998}, {42, 5}, {0, 1, 2}}, pad, 0, torch.CPU)
	if err != nil {
		return err
	}
	out, err := c.Forward(s, in.InputIDs, in.AttentionMask, nil)
	if err != nil {
		return err
	}
	if err := checkShape("last_hidden_state", out.Hidden, []int64{3, 5, int64(cfg.NEmbd)}); err != nil {
		return err
	}
	if err := checkShape("logits", out.Logits, []int64{3, 3}); err != nil {
		return err
	}
	for _, x := range []struct {
		name string
		t    *torch.Tensor
	}{{"last_hidden_state", out.Hidden}, {"pooled", out.Pooled}, {"logits", out.Logits}} {
		v, err := values(x.t)
		if err != nil {
			return err
		}
		for i, f := range v {
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return fmt.Errorf("%s: element %d is %v", x.name, i, f)
			}
		}
	}
	logits, err := values(out.Logits)
	if err != nil {
		return err
	}
	labels := cfg.Labels()
	printPredictions(argmaxRows(logits, len(labels)), logits, labels)
	fmt.Println("consumer: shapes and finiteness checked (no golden data: outputs not compared)")
	return nil
}

func checkShape(name string, t *torch.Tensor, want []int64) error {
	if got := t.Shape(); !slices.Equal(got, want) {
		return fmt.Errorf("%s has shape %v, want %v", name, got, want)
	}
	return nil
}

// values returns a tensor's elements as float64, in row-major order.
func values(t *torch.Tensor) ([]float64, error) {
	d, err := t.ToDType(torch.Float64)
	if err != nil {
		return nil, err
	}
	defer d.Free()
	return d.Float64s()
}

// unpadded keeps the rows of a [batch, seq, width] tensor where the attention mask is 1.
func unpadded(v []float64, mask []int64, width int) []float64 {
	var out []float64
	for p, m := range mask {
		if m == 1 {
			out = append(out, v[p*width:(p+1)*width]...)
		}
	}
	return out
}

// compare checks |got-want| <= atol + rtol·|want| elementwise and prints the largest difference.
func compare(name string, got, want []float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("%s: %d values, the golden file has %d", name, len(got), len(want))
	}
	if len(want) == 0 {
		return errors.New(name + ": nothing to compare")
	}
	worst, at := 0.0, 0
	for i := range want {
		if d := math.Abs(got[i] - want[i]); d > worst {
			worst, at = d, i
		}
		if d := math.Abs(got[i] - want[i]); d > atol+rtol*math.Abs(want[i]) {
			return fmt.Errorf("%s: element %d is %.9g, golden %.9g (|diff| %.3g > %g + %g·|golden|)", name, i, got[i], want[i], d, atol, rtol)
		}
	}
	fmt.Printf("consumer: %s: %d values agree with the golden ones, max |diff| %.3g (element %d)\n", name, len(want), worst, at)
	return nil
}

func argmaxRows(v []float64, n int) []int {
	out := make([]int, len(v)/n)
	for r := range out {
		row := v[r*n : (r+1)*n]
		for j := range row {
			if row[j] > row[out[r]] {
				out[r] = j
			}
		}
	}
	return out
}

func printPredictions(pred []int, logits []float64, labels []string) {
	n := len(labels)
	for r, k := range pred {
		fmt.Printf("consumer: row %d: %s (logits %.6f)\n", r, labels[k], logits[r*n:(r+1)*n])
	}
}
