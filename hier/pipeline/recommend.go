package pipeline

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hier-ai/hier/hier/rec"
	"github.com/hier-ai/hier/torch"
)

// recOut is the output of the recommenders stage.
type recOut struct {
	results []*rec.Result // every trained method, in rec.Variants order
	// skipped names the methods not trained and why (a level the data could not provide).
	skipped map[string]string
}

// progressEvery is how often a long stage logs a progress line when no progress bar is drawn.
const progressEvery = 30 * time.Second

// trainRecommenders selects and trains every method of the configured families (rec.Variants:
// the ID-only twin and the hierarchy ablation of each) on the validation split, with the same
// candidate configurations for every method of a family, and trains each chosen configuration
// with Recommenders.Seeds seeds. A method whose levels are missing (H1 skipped) is skipped.
func trainRecommenders(e *env, p *prepared, f *rec.Features) (*recOut, error) {
	ro := e.opts.Recommenders
	if ro.Threads > 0 && ro.Threads != e.opts.Threads {
		if err := torch.SetNumThreads(ro.Threads); err != nil {
			return nil, err
		}
		defer torch.SetNumThreads(e.opts.Threads)
	}
	seeds := make([]uint64, ro.Seeds)
	for k := range seeds {
		seeds[k] = e.opts.Seed + uint64(k)
	}
	out := &recOut{skipped: map[string]string{}}
	var todo []rec.Variant
	total := 0
	for _, v := range rec.Variants(ro.Families...) {
		if missing := missingLevels(v, f); len(missing) > 0 {
			out.skipped[v.Name] = "no " + strings.Join(missing, ", ") + " level"
			continue
		}
		todo = append(todo, v)
		total += len(e.opts.recConfigs(v.Family, e.dev)) + len(seeds) - 1
	}
	start, last := time.Now(), time.Now()
	report := func(method string, fit, fits int, st rec.EpochStat) {
		if time.Since(last) < progressEvery {
			return
		}
		last = time.Now()
		el := time.Since(start)
		eta := time.Duration(float64(el) / float64(max(fit-1, 1)) * float64(fits-fit+1))
		e.log.Info("recommenders progress", "fit", fmt.Sprintf("%d/%d", fit, fits), "method", method, "epoch", st.Epoch,
			"loss", fmt.Sprintf("%.4f", st.Loss), "valid_ndcg@10", fmt.Sprintf("%.4f", st.ValidNDCG),
			"elapsed", el.Round(time.Second).String(), "eta", eta.Round(time.Second).String())
	}
	done := 0
	for _, v := range todo {
		grid := e.opts.recConfigs(v.Family, e.dev)
		res, err := rec.Search(e.ctx, v, p.data, f, grid, seeds, e.log, report, done, total)
		if err != nil {
			return nil, err
		}
		done += len(grid) + len(seeds) - 1
		out.results = append(out.results, res)
		var test []float64
		for _, s := range res.Seeds {
			test = append(test, s.Test.NDCG10())
		}
		e.log.Info("recommender", "method", v.Name, "chosen", describeConfig(v.Family, res.Config), "valid_ndcg@10", fmt.Sprintf("%.4f", res.MeanValidNDCG()),
			"candidates", len(grid), "seeds", len(seeds))
	}
	for name, why := range out.skipped {
		e.log.Warn("recommender skipped", "method", name, "reason", why)
	}
	return out, nil
}

// missingLevels are the levels v reads that f lacks.
func missingLevels(v rec.Variant, f *rec.Features) []string {
	var miss []string
	for _, l := range v.Levels {
		if f.Levels[l] == nil {
			miss = append(miss, strings.ToUpper(l))
		}
	}
	if v.Text && f.ItemText == nil {
		miss = append(miss, "item text")
	}
	slices.Sort(miss)
	return miss
}

// describeConfig summarises a recommender configuration for logs and the report.
func describeConfig(family string, c rec.Config) string {
	s := fmt.Sprintf("dim %d, lr %g, weight decay %g, dropout %g, %s loss", c.Dim, c.LR, c.WeightDecay, c.Dropout, c.Loss)
	if family == rec.FamilySeq {
		s += fmt.Sprintf(", %d layers, %d heads, max_len %d", c.Layers, c.Heads, c.MaxLen)
	}
	return s
}
