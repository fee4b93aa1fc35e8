package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/hier-ai/hier/hier/data"
	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/hier/rec"
	"github.com/hier-ai/hier/hier/train"
	"github.com/hier-ai/hier/torch"
)

// env is what every stage reads and none changes: the resolved options, the parsed device,
// the run's working directory, the logger and the cancellation context.
type env struct {
	ctx  context.Context
	opts Options // resolved
	dev  torch.Device
	out  string // where the run's files are written (a temporary sibling of Options.OutDir during Run)
	log  *slog.Logger
	// tokDir, when set, is where the tokenizer is read from (Evaluate: the run's own backbone
	// checkpoint, so that an installed binary needs no global vocabulary).
	tokDir string
}

// newEnv resolves opts, configures libtorch (threads, global seed) and returns the stages' env.
func newEnv(ctx context.Context, opts Options, log *slog.Logger) (*env, error) {
	if log == nil {
		log = slog.Default()
	}
	dev, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	if err := torch.SetNumThreads(opts.Threads); err != nil {
		return nil, err
	}
	if err := torch.ManualSeed(opts.Seed); err != nil {
		return nil, err
	}
	if opts.Precision == train.PrecisionBF16 && !dev.CUDA && !torch.CPUFastBF16() {
		log.Warn("precision bf16 on a CPU without AVX512-BF16 or AMX instructions: bfloat16 matmuls are emulated and usually slower than fp32")
	}
	return &env{ctx: ctx, opts: opts, dev: dev, out: opts.OutDir, log: log}, nil
}

// stage runs fn as the named stage: logged at its start and end, timed into timings.
func (e *env) stage(timings map[string]float64, name string, fn func() error) error {
	t0 := time.Now()
	e.log.Info("stage start", "stage", name)
	err := fn()
	timings[name] = time.Since(t0).Seconds()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	e.log.Info("stage done", "stage", name, "seconds", fmt.Sprintf("%.1f", timings[name]))
	return nil
}

// prepared is the output of the prepare stage: the split, the texts built from it, the
// recommenders' view of it, and the tokenizer.
type prepared struct {
	sd    *data.SplitData
	tx    *texts
	data  *rec.Data
	tok   *gpt2.Tokenizer
	name  string
	count Counts
	split SplitSizes
}

// prepare slices (Options.MaxUsers) and splits the dataset (per-user temporal leave-one-out),
// checks the behaviour column and loads the tokenizer.
func prepare(e *env, ds *data.Dataset) (*prepared, error) {
	if e.opts.MaxUsers > 0 {
		ds = sliceUsers(ds, e.opts.MaxUsers)
	}
	sd, err := data.Split(ds)
	if err != nil {
		return nil, err
	}
	p := &prepared{sd: sd, tx: newTexts(sd), data: recData(sd), name: ds.Name}
	c := &p.count
	c.Users, c.Items, c.Interactions = sd.NumUsers(), sd.NumItems(), len(sd.Train)+len(sd.Valid)+len(sd.Test)
	c.Skipped, c.Duplicates = ds.Counts.Skipped, ds.Counts.Duplicates+sd.Duplicates
	p.split = SplitSizes{Train: len(sd.Train), Valid: len(sd.Valid), Test: len(sd.Test), TrainOnlyUsers: sd.TrainOnlyUsers}
	e.log.Info("data", "dataset", ds.Name, "users", c.Users, "items", c.Items, "interactions", c.Interactions, "skipped", c.Skipped, "duplicates", c.Duplicates,
		"train", len(sd.Train), "valid", len(sd.Valid), "test", len(sd.Test), "train_only_users", sd.TrainOnlyUsers, "time_unit", ds.TimeUnit)
	for i, reason := range ds.SkippedReasons {
		if i == 5 {
			e.log.Warn("more records skipped", "shown", 5, "skipped", ds.Counts.Skipped)
			break
		}
		e.log.Warn("record skipped", "reason", reason)
	}
	if len(sd.Test) == 0 {
		return nil, errors.New("pipeline: no user has 3 or more interactions, so there is nothing to evaluate")
	}
	if col := e.opts.BehaviorColumn; col != "rating" {
		avail := map[string]bool{}
		found := false
		for k := range sd.Train {
			for name := range sd.Train[k].Values {
				avail[name] = true
			}
			if _, ok := sd.Train[k].Values[col]; ok {
				found = true
			}
		}
		if !found {
			names := make([]string, 0, len(avail))
			for n := range avail {
				names = append(names, n)
			}
			sort.Strings(names)
			return nil, fmt.Errorf("pipeline: behavior column %q: no training interaction has it (available: %s)", col, strings.Join(append([]string{"rating"}, names...), ", "))
		}
	}
	switch {
	case e.tokDir != "":
		p.tok, err = gpt2.LoadTokenizer(e.tokDir)
	case e.opts.ModelDir != "":
		p.tok, err = gpt2.LoadTokenizerFor(e.opts.ModelDir)
	default:
		p.tok, err = gpt2.LoadDefaultTokenizer()
	}
	return p, err
}

// recData is the split by dense index, as the recommenders read it.
func recData(sd *data.SplitData) *rec.Data {
	U := sd.NumUsers()
	d := &rec.Data{NumUsers: U, NumItems: sd.NumItems(), Train: make([][]int, U), ValidItem: make([]int, U), TestItem: make([]int, U)}
	for u := 0; u < U; u++ {
		for _, r := range sd.TrainByUser[u] {
			d.Train[u] = append(d.Train[u], r.ItemIdx)
		}
		d.ValidItem[u], d.TestItem[u] = -1, -1
		if r, ok := sd.ValidFor(u); ok {
			d.ValidItem[u] = r.ItemIdx
		}
		if r, ok := sd.TestFor(u); ok {
			d.TestItem[u] = r.ItemIdx
		}
	}
	return d
}

// sliceUsers keeps the interactions of the first n distinct users (in file order).
func sliceUsers(ds *data.Dataset, n int) *data.Dataset {
	keep := map[string]bool{}
	out := *ds
	out.Interactions = nil
	for _, it := range ds.Interactions {
		if !keep[it.User] && len(keep) >= n {
			continue
		}
		keep[it.User] = true
		out.Interactions = append(out.Interactions, it)
	}
	items := map[string]bool{}
	for _, it := range out.Interactions {
		items[it.Item] = true
	}
	out.Counts.Users, out.Counts.Items, out.Counts.Interactions = len(keep), len(items), len(out.Interactions)
	return &out
}

// textHook, when set (by tests), sees every text the pipeline tokenizes, with its purpose, so
// tests can check what reaches training and features.
var textHook func(purpose, text string)

func see(purpose string, texts ...string) {
	if textHook != nil {
		for _, t := range texts {
			textHook(purpose, t)
		}
	}
}

// encode tokenizes text for a model: truncated to maxLen (keeping the start), never empty.
// purpose names what the text is for (see textHook).
func (p *prepared) encode(purpose, text string, maxLen int) []int64 {
	see(purpose, text)
	ids := p.tok.Encode(text)
	if len(ids) > maxLen {
		ids = ids[:maxLen]
	}
	if len(ids) == 0 {
		ids = []int64{gpt2.EndOfTextID}
	}
	return ids
}
