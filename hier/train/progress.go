package train

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress is the optional progress bar: one tick per optimizer step, with rate, elapsed time,
// ETA, the epoch and the last loss in the description. A nil *progress does nothing.
type progress struct {
	bar *progressbar.ProgressBar
}

func newProgress(w io.Writer, total, done int) *progress {
	if w == nil {
		w = os.Stderr
	}
	if total < 1 {
		total = 1
	}
	bar := progressbar.NewOptions64(int64(total),
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("train"),
		progressbar.OptionSetWidth(24),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("step"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
	if done > 0 {
		_ = bar.Set(min(done, total))
	}
	return &progress{bar: bar}
}

func (p *progress) step(info stepInfo, epochs int) {
	if p == nil {
		return
	}
	p.bar.Describe(fmt.Sprintf("epoch %d/%d loss %.4f", info.Epoch, epochs, info.Loss))
	_ = p.bar.Add(1)
}

// finish fills the bar when training completed (early stopping included), or leaves it where it
// stopped (error, cancellation).
func (p *progress) finish(completed bool) {
	if p == nil {
		return
	}
	if completed {
		_ = p.bar.Finish()
		return
	}
	_ = p.bar.Exit()
}
