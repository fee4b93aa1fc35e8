package train

import (
	"context"
	"testing"

	"github.com/hier-ai/hier/torch"
)

// BenchmarkTrainStep measures one optimizer step (forward, backward, clipping, AdamW) of a tiny
// 2-layer classifier on a batch of 16 rows of up to 12 tokens.
func BenchmarkTrainStep(b *testing.B) {
	const vocab = 64
	cls := newClassifier(b, tinyConfig(vocab, 32, 2, 0.1), torch.Float32, 1, 2)
	task := &ClassificationTask{Model: cls}
	data := hasFiveData(16, vocab, 1)
	b.ResetTimer()
	res, err := Fit(context.Background(), task, data, nil, Config{Epochs: b.N, BatchSize: 16, LR: 1e-3,
		MaxGradNorm: 1, Seed: 1, Logger: quiet})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if res.Steps != b.N {
		b.Fatalf("%d steps, want %d", res.Steps, b.N)
	}
	b.ReportMetric(res.TokensPerSecond, "tokens/s")
}
