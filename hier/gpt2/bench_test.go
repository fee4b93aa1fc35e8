package gpt2

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/hier-ai/hier/torch"
)

// Benchmarks of the GPT-2 implementation, compared by scripts/bench.sh with the same model written
// in PyTorch eager (scripts/bench_gpt2.py) on the same libtorch and thread count:
//
//	(a) 4 layers, 4 heads, n_embd 256, vocab 50257, batch 16, length 128
//	(b) GPT-2 small (12 layers, 12 heads, n_embd 768), batch 8, length 128
//
// Training is GPT2ForSequenceClassification (3 labels, cross-entropy, AdamW step) or the causal
// LM (tied head, shifted cross-entropy, AdamW step), in train mode with HF's default dropout 0.1.
// Metrics: tokens/s (batch·length per step), and peak_rss_MB (VmHWM of this process).

type benchCase struct {
	name                   string
	layers, heads, embd, b int
}

var benchCases = []benchCase{{"a", 4, 4, 256, 16}, {"b", 12, 12, 768, 8}}

const benchSeq = 128

func benchThreads(b *testing.B) {
	// Like train.Fit, keep the benchmark on one OS thread (libtorch's OpenMP team and glibc's
	// malloc arenas are per thread). The goroutine of a sub-benchmark ends with it.
	runtime.LockOSThread()
	n := 2
	if s := os.Getenv("HIER_BENCH_THREADS"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v > 0 {
			n = v
		}
	}
	if err := torch.SetNumThreads(n); err != nil {
		b.Fatal(err)
	}
}

func peakRSSMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "VmHWM:") {
			fields := strings.Fields(sc.Text())
			kb, _ := strconv.ParseFloat(fields[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func benchInputs(b *testing.B, c benchCase) (ids, labels *torch.Tensor) {
	n := c.b * benchSeq
	v := make([]int64, n)
	for i := range v {
		v[i] = int64((i*7919 + 13) % 50000) // no pad id inside the rows
	}
	l := make([]int64, c.b)
	for i := range l {
		l[i] = int64(i % 3)
	}
	return torch.MustFromSlice(v, int64(c.b), benchSeq), torch.MustFromSlice(l)
}

func benchModel(b *testing.B, c benchCase) *SequenceClassifier {
	cfg := NewConfig(50257, 1024, c.embd, c.layers, c.heads)
	pad := int64(50256)
	cfg.PadTokenID = &pad
	cfg.SetLabels([]string{"negative", "neutral", "positive"})
	if err := torch.ManualSeed(1); err != nil {
		b.Fatal(err)
	}
	m, err := NewModel(cfg, torch.Float32, torch.CPU, nil)
	if err != nil {
		b.Fatal(err)
	}
	cls, err := NewSequenceClassifier(m, nil)
	if err != nil {
		b.Fatal(err)
	}
	return cls
}

func benchOptimizer(b *testing.B, ps []NamedParam) *torch.AdamW {
	var ts []*torch.Tensor
	for _, p := range ps {
		ts = append(ts, p.Tensor)
	}
	opt, err := torch.NewAdamW([]torch.ParamGroup{{Params: ts, WeightDecay: 0.01}}, torch.AdamWConfig{LR: 1e-4})
	if err != nil {
		b.Fatal(err)
	}
	return opt
}

func report(b *testing.B, c benchCase) {
	b.ReportMetric(float64(c.b*benchSeq*b.N)/b.Elapsed().Seconds(), "tokens/s")
	b.ReportMetric(peakRSSMB(), "peak_rss_MB")
}

// runGPT2Bench runs one sub-benchmark per case: a model and inputs are built, then step (one
// warm-up call, then b.N timed calls) is what is measured. step gets a fresh scope each call.
func runGPT2Bench(b *testing.B, setup func(b *testing.B, cls *SequenceClassifier) (step func(s *torch.Scope, ids, labels *torch.Tensor) error, done func())) {
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			benchThreads(b)
			cls := benchModel(b, c)
			defer cls.Free()
			ids, labels := benchInputs(b, c)
			defer torch.FreeAll(ids, labels)
			step, done := setup(b, cls)
			defer done()
			run := func() {
				s := torch.NewScope()
				defer s.Close()
				if err := step(s, ids, labels); err != nil {
					b.Fatal(err)
				}
			}
			run() // warm-up
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				run()
			}
			report(b, c)
		})
	}
}

// trainStep is backward of loss and one AdamW step.
func trainStep(opt *torch.AdamW, loss *torch.Tensor) error {
	if err := opt.ZeroGrad(); err != nil {
		return err
	}
	if err := loss.Backward(); err != nil {
		return err
	}
	return opt.Step()
}

func BenchmarkGPT2TrainClassifier(b *testing.B) {
	runGPT2Bench(b, func(b *testing.B, cls *SequenceClassifier) (func(*torch.Scope, *torch.Tensor, *torch.Tensor) error, func()) {
		opt := benchOptimizer(b, cls.Params())
		cls.Train(true)
		return func(s *torch.Scope, ids, labels *torch.Tensor) error {
			out, err := cls.Forward(s, ids, nil, labels)
			if err != nil {
				return err
			}
			return trainStep(opt, out.Loss)
		}, opt.Free
	})
}

func BenchmarkGPT2TrainLM(b *testing.B) {
	runGPT2Bench(b, func(b *testing.B, cls *SequenceClassifier) (func(*torch.Scope, *torch.Tensor, *torch.Tensor) error, func()) {
		m := cls.Backbone
		opt := benchOptimizer(b, m.Params())
		m.Train(true)
		return func(s *torch.Scope, ids, _ *torch.Tensor) error {
			loss, _, err := m.LMLoss(s, ids, nil)
			if err != nil {
				return err
			}
			return trainStep(opt, loss)
		}, opt.Free
	})
}

func BenchmarkGPT2Forward(b *testing.B) {
	runGPT2Bench(b, func(b *testing.B, cls *SequenceClassifier) (func(*torch.Scope, *torch.Tensor, *torch.Tensor) error, func()) {
		cls.Train(false)
		return func(s *torch.Scope, ids, _ *torch.Tensor) error {
			return torch.NoGrad(func() error {
				_, err := cls.Forward(s, ids, nil, nil)
				return err
			})
		}, func() {}
	})
}
