package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hier-ai/hier/hier/data"
	"github.com/hier-ai/hier/hier/rec"
)

// LoadDataset loads opts.DataPath, or generates opts.Synthetic.
func LoadDataset(opts Options) (*data.Dataset, error) {
	switch {
	case opts.DataPath != "":
		return data.Load(opts.DataPath, data.LoadOptions{Strict: opts.Strict, Columns: opts.Columns})
	case opts.Synthetic != nil:
		return data.Synthetic(*opts.Synthetic), nil
	}
	return nil, errors.New("pipeline: no dataset: set data_path (--data) or use the synthetic demo")
}

// Run loads the dataset (LoadDataset) and runs the whole pipeline (see RunDataset).
func Run(ctx context.Context, opts Options, log *slog.Logger) (*Results, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	ds, err := LoadDataset(opts)
	if err != nil {
		return nil, err
	}
	return RunDataset(ctx, ds, opts, log)
}

// RunDataset runs the pipeline on a loaded dataset, stage by stage (see the package doc):
// prepare, backbone, heads, features, recommenders, evaluation; everything is written under
// opts.OutDir.
//
// The run directory is built in a temporary sibling of opts.OutDir and moved into place only when
// everything succeeded, so a failed or interrupted run never leaves a half-written or mixed run
// directory. An existing run directory at opts.OutDir is replaced only with opts.Overwrite; any
// other non-empty directory is never replaced (an error, its files untouched).
func RunDataset(ctx context.Context, ds *data.Dataset, opts Options, log *slog.Logger) (res *Results, err error) {
	started := time.Now()
	final := filepath.Clean(opts.OutDir)
	if final == "." || final == "" {
		return nil, errors.New("pipeline: option out_dir is required")
	}
	if entries, err := os.ReadDir(final); err == nil && len(entries) > 0 {
		if !opts.Overwrite {
			return nil, fmt.Errorf("pipeline: output directory %s is not empty; choose another, or replace the run in it with --overwrite", final)
		}
		if !IsRunDir(final) {
			return nil, fmt.Errorf("pipeline: output directory %s is not empty and holds no run (no %s and %s); --overwrite replaces only a run directory, so choose another", final, ConfigFileName, MetricsFileName)
		}
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return nil, err
	}
	removeStaleWork(final, log)
	work, err := newWorkDir(final)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(work)
		}
	}()
	opts.OutDir = final
	e, err := newEnv(ctx, opts, log)
	if err != nil {
		return nil, err
	}
	e.out = work
	res = &Results{SchemaVersion: SchemaVersion, Fusion: e.opts.Fusion, Multitask: e.opts.Multitask, Timings: map[string]float64{}, OutDir: final}
	src, err := dataSource(&e.opts, ds)
	if err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(work, ConfigFileName), e.opts); err != nil {
		return nil, err
	}
	var p *prepared
	if err := e.stage(res.Timings, "prepare", func() (err error) { p, err = prepare(e, ds); return err }); err != nil {
		return nil, err
	}
	res.Dataset, res.Counts, res.Split = p.name, p.count, p.split
	var bb *backboneOut
	if err := e.stage(res.Timings, "backbone", func() (err error) { bb, err = trainBackbone(e, p); return err }); err != nil {
		return nil, err
	}
	defer bb.model.Free()
	res.Backbone = bb.desc
	var h *headsOut
	if err := e.stage(res.Timings, "heads", func() (err error) { h, err = trainHeads(e, p, headsBoth); return err }); err != nil {
		return nil, err
	}
	defer h.free()
	if err := e.stage(res.Timings, "evaluate_heads", func() error { return evalHeads(e, p, h, res) }); err != nil {
		return nil, err
	}
	var f *rec.Features
	if err := e.stage(res.Timings, "features", func() (err error) { f, err = computeFeatures(e, p, bb.model, h); return err }); err != nil {
		return nil, err
	}
	var ro *recOut
	if err := e.stage(res.Timings, "recommenders", func() (err error) { ro, err = trainRecommenders(e, p, f); return err }); err != nil {
		return nil, err
	}
	res.Skipped = map[string]string{}
	for k, v := range h.skipped {
		res.Skipped[k] = v
	}
	for k, v := range ro.skipped {
		res.Skipped[k] = v
	}
	if err := e.stage(res.Timings, "evaluate", func() error { return evaluateRecommenders(p.data, ro, res) }); err != nil {
		return nil, err
	}
	if err := writeRun(e, p, f, ro, res); err != nil {
		return nil, err
	}
	curves := &Curves{SchemaVersion: curvesSchemaVersion, Stages: map[string]StageCurve{}, Recommenders: recCurves(ro)}
	if bb.curve != nil {
		curves.Stages["backbone"] = *bb.curve
	}
	for k, v := range h.curves {
		curves.Stages[k] = v
	}
	if err := writeJSON(filepath.Join(work, CurvesFileName), curves); err != nil {
		return nil, err
	}
	if err := plots(filepath.Join(work, PlotsDir), res, curves); err != nil {
		return nil, err
	}
	res.Wall = time.Since(started).Seconds()
	fillProvenance(e, p, src, res)
	if err := writeJSON(filepath.Join(work, MetricsFileName), res); err != nil {
		return nil, err
	}
	if err := swapDir(work, final); err != nil {
		return nil, err
	}
	return res, nil
}

// evalHeads fills the sentiment and behaviour sections of res.
func evalHeads(e *env, p *prepared, h *headsOut, res *Results) error {
	if h.sent != nil {
		s, err := evalSentiment(e, p, h.sent)
		if err != nil {
			return err
		}
		res.Sentiment, res.SentimentBaseline, res.SentimentBaseC = &s.Head, &s.Baseline, s.BaselineC
	}
	if h.beh != nil {
		b, err := evalBehavior(e, p, h)
		if err != nil {
			return err
		}
		res.Behavior = b
	}
	return nil
}

// evaluateRecommenders ranks the test split with every method (popularity and every trained
// seed) and fills the ranking, seeds, slices, bootstrap and recommender sections of res.
func evaluateRecommenders(d *rec.Data, ro *recOut, res *Results) error {
	pu, pi := rec.PopularityVectors(d)
	users := d.EvalUsers(rec.Test)
	pop, err := rec.RankVectors(d, users, rowsOf(pu, users), pi, rec.Test)
	if err != nil {
		return err
	}
	runs := []methodRuns{{name: "popularity", idOnly: true, validNDCG: math.NaN(), ranks: []rec.Ranks{pop}}}
	res.Recommenders = nil
	for _, r := range ro.results {
		m := methodRuns{name: r.Variant.Name, family: r.Variant.Family, idOnly: r.Variant.IDOnly(), validNDCG: r.MeanValidNDCG()}
		ch := RecommenderChoice{Method: r.Variant.Name, Family: r.Variant.Family, Levels: r.Variant.Levels, ItemText: r.Variant.Text,
			Config: r.Config, Candidates: r.Candidates, ValidNDCG: r.MeanValidNDCG()}
		for _, s := range r.Seeds {
			m.seeds = append(m.seeds, s.Seed)
			m.ranks = append(m.ranks, s.Test)
			ch.Seeds = append(ch.Seeds, SeedChoice{Seed: s.Seed, ValidNDCG: s.ValidNDCG, BestEpoch: s.BestEpoch, Epochs: len(s.History), Seconds: s.Seconds})
		}
		runs = append(runs, m)
		res.Recommenders = append(res.Recommenders, ch)
	}
	res.Served = servedMethod(ro.results)
	return summarize(res, d, runs)
}

// servedMethod is the best hierarchy variant by mean validation NDCG@10 (the best method when
// no hierarchy variant was trained).
func servedMethod(rs []*rec.Result) string {
	best, bestID := "", ""
	var bv, bi float64
	for _, r := range rs {
		v := r.MeanValidNDCG()
		if r.Variant.IDOnly() {
			if bestID == "" || v > bi {
				bestID, bi = r.Variant.Name, v
			}
		} else if best == "" || v > bv {
			best, bv = r.Variant.Name, v
		}
	}
	if best == "" {
		return bestID
	}
	return best
}

// rowsOf gathers the rows of m for users.
func rowsOf(m *Matrix, users []int) *Matrix {
	out := rec.NewMatrix(len(users), m.Cols)
	for k, u := range users {
		copy(out.Row(k), m.Row(u))
	}
	return out
}

// vectorName is the key of a method's test-stage vectors for one seed in vectors.safetensors.
func vectorName(side, method string, seed uint64) string {
	return side + "." + method + ".seed" + strconv.FormatUint(seed, 10)
}

// writeRun writes index.json, vectors.safetensors, items.json and recommendations.jsonl. vectors.safetensors
// holds the interest levels ("h0", "h1", "h2"), the item text vectors ("item_text"), every
// method's test-stage vectors for every seed ("users.<method>.seed<N>" [users, D+1] and
// "items.<method>.seed<N>" [items, D+1]: scores are their dot products), and the served method's
// first seed as "users" and "items".
func writeRun(e *env, p *prepared, f *rec.Features, ro *recOut, res *Results) error {
	vecs := map[string]*Matrix{"item_text": f.ItemText}
	for l, m := range f.Levels {
		vecs[l] = m
	}
	for _, r := range ro.results {
		for _, s := range r.Seeds {
			vecs[vectorName("users", r.Variant.Name, s.Seed)] = s.UserVecs
			vecs[vectorName("items", r.Variant.Name, s.Seed)] = s.ItemVecs
			if r.Variant.Name == res.Served && s.Seed == r.Seeds[0].Seed {
				vecs["users"], vecs["items"] = s.UserVecs, s.ItemVecs
			}
		}
	}
	if vecs["users"] == nil {
		return errors.New("pipeline: no recommender was trained")
	}
	idx := &Index{Users: p.sd.UserIDs, Items: p.sd.ItemIDs, History: make([][]int, p.sd.NumUsers()), Fusion: e.opts.Fusion, Method: res.Served}
	for u := range idx.History {
		idx.History[u] = append([]int{}, p.data.History(u, rec.Test)...)
	}
	if err := writeJSON(filepath.Join(e.out, IndexFileName), idx); err != nil {
		return err
	}
	meta := map[string]string{"fusion": string(e.opts.Fusion), "served_method": res.Served}
	if err := writeVectors(filepath.Join(e.out, VectorsFileName), vecs, meta); err != nil {
		return err
	}
	items := buildItems(p)
	if err := writeJSON(filepath.Join(e.out, ItemsFileName), items); err != nil {
		return err
	}
	return writeRecommendations(filepath.Join(e.out, RecsFileName), idx, vecs["users"], vecs["items"], items.Items, e.opts.TopK)
}

// IsRunDir reports whether dir holds a finished run (its config.json and metrics.json): the only
// kind of non-empty directory that a run with Options.Overwrite replaces.
func IsRunDir(dir string) bool {
	for _, f := range []string{ConfigFileName, MetricsFileName} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || !fi.Mode().IsRegular() {
			return false
		}
	}
	return true
}

// swapDir moves the finished directory work to final, replacing what was there.
func swapDir(work, final string) error {
	var old string
	if _, err := os.Stat(final); err == nil {
		old = work + ".old"
		if err := os.Rename(final, old); err != nil {
			return err
		}
	}
	if err := os.Rename(work, final); err != nil {
		if old != "" {
			_ = os.Rename(old, final)
		}
		return err
	}
	if old != "" {
		return os.RemoveAll(old)
	}
	return nil
}
