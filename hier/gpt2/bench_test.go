package gpt2

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

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
// Metrics: tokens/s (batch·length per step), peak_rss_MB (VmHWM of this process) and, on CUDA,
// peak_gpu_MB (torch.cuda.max_memory_allocated of this sub-benchmark: the peak is reset before
// its model is built; absent when the shim has no CUDA memory statistics).
//
// Environment (defaults in brackets):
//
//	HIER_BENCH_THREADS  libtorch intra-op threads [2]
//	HIER_BENCH_DEVICE   cpu, cuda or cuda:N [cpu]; on CUDA the clock is read after
//	                    torch.Synchronize, before the first timed step and after the last
//	HIER_BENCH_DTYPE    float32 or bfloat16: the dtype of every parameter and activation [float32]
//	HIER_BENCH_WARMUP   untimed steps before the timed ones [1]
//	HIER_BENCH_AUTOCAST bfloat16 (or float16 on CUDA): the forward pass and loss run under
//	                    torch.Autocast with that dtype, parameters stay float32 (mixed
//	                    precision, as torch.autocast) [unset: no autocast]

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

// benchEnv is the device, dtype and warm-up count of the benchmarks (see the environment above).
func benchEnv(b *testing.B) (torch.Device, torch.DType, int) {
	dev, dt, warmup := torch.CPU, torch.Float32, 1
	benchAutocast = 0
	if s := os.Getenv("HIER_BENCH_AUTOCAST"); s != "" {
		d, err := torch.ParseDType(s)
		if err != nil || (d != torch.BFloat16 && d != torch.Float16) {
			b.Fatalf("HIER_BENCH_AUTOCAST=%q: want bfloat16 or float16 (%v)", s, err)
		}
		benchAutocast = d
	}
	if s := os.Getenv("HIER_BENCH_DEVICE"); s != "" {
		d, err := torch.ParseDevice(s)
		if err != nil {
			b.Fatalf("HIER_BENCH_DEVICE: %v", err)
		}
		dev = d
	}
	if s := os.Getenv("HIER_BENCH_DTYPE"); s != "" {
		d, err := torch.ParseDType(s)
		if err != nil || !d.IsFloat() {
			b.Fatalf("HIER_BENCH_DTYPE=%q: want float32, bfloat16, float16 or float64 (%v)", s, err)
		}
		dt = d
	}
	if s := os.Getenv("HIER_BENCH_WARMUP"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			b.Fatalf("HIER_BENCH_WARMUP=%q: want an integer >= 0", s)
		}
		warmup = v
	}
	return dev, dt, warmup
}

// benchAutocast is HIER_BENCH_AUTOCAST (0: none), set by benchEnv.
var benchAutocast torch.DType

// forward runs fn (a forward pass and its loss) under the benchmark's autocast, if any.
func forward(dev torch.Device, fn func() error) error {
	if benchAutocast == 0 {
		return fn()
	}
	return torch.Autocast(dev, benchAutocast, fn)
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

func benchInputs(b *testing.B, c benchCase, dev torch.Device) (ids, labels *torch.Tensor) {
	n := c.b * benchSeq
	v := make([]int64, n)
	for i := range v {
		v[i] = int64((i*7919 + 13) % 50000) // no pad id inside the rows
	}
	l := make([]int64, c.b)
	for i := range l {
		l[i] = int64(i % 3)
	}
	hi, hl := torch.MustFromSlice(v, int64(c.b), benchSeq), torch.MustFromSlice(l)
	if !dev.CUDA {
		return hi, hl
	}
	defer torch.FreeAll(hi, hl)
	return torch.Must(hi.ToDevice(dev)), torch.Must(hl.ToDevice(dev))
}

func benchModel(b *testing.B, c benchCase, dev torch.Device, dt torch.DType) *SequenceClassifier {
	cfg := NewConfig(50257, 1024, c.embd, c.layers, c.heads)
	pad := int64(50256)
	cfg.PadTokenID = &pad
	cfg.SetLabels([]string{"negative", "neutral", "positive"})
	if err := torch.ManualSeed(1); err != nil {
		b.Fatal(err)
	}
	m, err := NewModel(cfg, dt, dev, nil)
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

// report records the metrics of steps timed steps that took elapsed.
func report(b *testing.B, c benchCase, dev torch.Device, steps int, elapsed time.Duration) {
	b.ReportMetric(float64(c.b*benchSeq*steps)/elapsed.Seconds(), "tokens/s")
	b.ReportMetric(peakRSSMB(), "peak_rss_MB")
	if dev.CUDA && torch.CUDAMemoryStatsAvailable() {
		if n, err := torch.CUDAMaxMemoryAllocated(dev); err == nil {
			b.ReportMetric(float64(n)/(1<<20), "peak_gpu_MB")
		}
	}
}

// runGPT2Bench runs one sub-benchmark per case: a model and inputs are built, then step
// (HIER_BENCH_WARMUP untimed calls, then the timed calls of b.Loop) is what is measured. step gets
// a fresh scope each call.
//
// The timed loop is b.Loop, not a loop to b.N: with b.N the testing package calls the function
// once with b.N = 1 and again with the -benchtime count, so every process built, trained and
// freed a first model before the measured one. glibc keeps most of the freed memory in its heap
// (on GPT-2 (b), 0.8-1.7 GB resident with 45 MB in use) and the second model's steps then peaked
// 1.0-1.5 GB higher in RSS than one model does, above PyTorch's bench_gpt2.py, which builds one.
// With b.Loop the function runs once per -count: one model per process, as in PyTorch.
func runGPT2Bench(b *testing.B, setup func(b *testing.B, cls *SequenceClassifier) (step func(s *torch.Scope, ids, labels *torch.Tensor) error, done func())) {
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			benchThreads(b)
			dev, dt, warmup := benchEnv(b)
			if dev.CUDA && torch.CUDAMemoryStatsAvailable() {
				// The previous sub-benchmark's tensors are freed by now: the peak is this one's.
				if err := torch.Synchronize(dev); err != nil {
					b.Fatal(err)
				}
				if err := torch.CUDAResetPeakMemoryStats(dev); err != nil {
					b.Fatal(err)
				}
			}
			cls := benchModel(b, c, dev, dt)
			defer cls.Free()
			ids, labels := benchInputs(b, c, dev)
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
			for i := 0; i < warmup; i++ {
				run()
			}
			// CUDA runs asynchronously: wait for the queued work before starting and stopping the clock.
			if err := torch.Synchronize(dev); err != nil {
				b.Fatal(err)
			}
			// tokens/s comes from this clock, which (unlike b.Loop's) includes the final CUDA wait.
			steps, start := 0, time.Now()
			for b.Loop() {
				run()
				steps++
			}
			if err := torch.Synchronize(dev); err != nil {
				b.Fatal(err)
			}
			report(b, c, dev, steps, time.Since(start))
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
			var out *Output
			err := forward(cls.Backbone.Device(), func() (err error) {
				out, err = cls.Forward(s, ids, nil, labels)
				return err
			})
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
			var loss *torch.Tensor
			err := forward(m.Device(), func() (err error) {
				loss, _, err = m.LMLoss(s, ids, nil)
				return err
			})
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
				return forward(cls.Backbone.Device(), func() error {
					_, err := cls.Forward(s, ids, nil, nil)
					return err
				})
			})
		}, func() {}
	})
}
