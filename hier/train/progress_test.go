package train

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestProgressLog(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	p := newProgressLog(log, time.Nanosecond, 10, 0)
	for s := 1; s <= 3; s++ {
		time.Sleep(time.Millisecond)
		p.step(stepInfo{StepInfo: StepInfo{Step: s, Epoch: 1, Loss: float64(s), Tokens: 100}}, 2)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want one line per step with a 1 ns interval, got %d:\n%s", len(lines), buf.String())
	}
	for _, want := range []string{`msg="train: progress"`, "step=3/10", "epoch=1/2", "loss=3.0000", "eta="} {
		if !strings.Contains(lines[2], want) {
			t.Errorf("last line lacks %q: %s", want, lines[2])
		}
	}

	buf.Reset()
	p = newProgressLog(log, time.Hour, 10, 0)
	p.step(stepInfo{StepInfo: StepInfo{Step: 1, Epoch: 1, Loss: 1}}, 1)
	if buf.Len() != 0 {
		t.Errorf("a line before the interval passed: %s", buf.String())
	}
	if p := newProgressLog(log, -1, 10, 0); p != nil {
		t.Error("a negative interval turns the log off")
	}
	(*progressLog)(nil).step(stepInfo{}, 1) // a nil log does nothing
}
