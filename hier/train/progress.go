package train

import (
	"fmt"
	"io"
	"log/slog"
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

// progressLog is the progress report when no bar is drawn (stderr not a terminal, or bars
// turned off): at most every Config.ProgressLogEvery it logs one Info line with the step, the
// epoch, the mean loss since the previous line, the rate and the estimated time left, so a long
// stage whose output goes to a file is never silent for long. A nil *progressLog does nothing.
type progressLog struct {
	log        *slog.Logger
	every      time.Duration
	total      int
	start      time.Time
	last       time.Time
	startStep  int
	lossSum    float64
	lossN      int
	tokens     int64
	lastTokens int64
}

func newProgressLog(log *slog.Logger, every time.Duration, total, done int) *progressLog {
	if every < 0 {
		return nil
	}
	if every == 0 {
		every = 30 * time.Second
	}
	now := time.Now()
	return &progressLog{log: log, every: every, total: total, start: now, last: now, startStep: done}
}

func (p *progressLog) step(info stepInfo, epochs int) {
	if p == nil {
		return
	}
	p.lossSum += info.Loss
	p.lossN++
	p.tokens += info.Tokens
	now := time.Now()
	if now.Sub(p.last) < p.every {
		return
	}
	done := info.Step - p.startStep
	el := now.Sub(p.start)
	rate := float64(done) / el.Seconds()
	eta := time.Duration(float64(p.total-info.Step) / rate * float64(time.Second))
	p.log.Info("train: progress", "step", fmt.Sprintf("%d/%d", info.Step, p.total), "epoch", fmt.Sprintf("%d/%d", info.Epoch, epochs),
		"loss", fmt.Sprintf("%.4f", p.lossSum/float64(p.lossN)), "steps_per_s", fmt.Sprintf("%.2f", rate),
		"tokens_per_s", fmt.Sprintf("%.0f", float64(p.tokens-p.lastTokens)/now.Sub(p.last).Seconds()),
		"elapsed", el.Round(time.Second).String(), "eta", eta.Round(time.Second).String())
	p.last, p.lossSum, p.lossN, p.lastTokens = now, 0, 0, p.tokens
}
