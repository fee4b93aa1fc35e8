package rec

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Candidate is one configuration tried during selection, with its best validation NDCG@10.
type Candidate struct {
	Config    Config  `json:"config"`
	ValidNDCG float64 `json:"valid_ndcg@10"`
	Epochs    int     `json:"epochs_run"`
	BestEpoch int     `json:"best_epoch"`
	Seconds   float64 `json:"seconds"`
}

// SeedRun is the chosen configuration trained with one seed and evaluated on the test split.
type SeedRun struct {
	Seed      uint64      `json:"seed"`
	ValidNDCG float64     `json:"valid_ndcg@10"`
	BestEpoch int         `json:"best_epoch"`
	History   []EpochStat `json:"history"`
	Seconds   float64     `json:"seconds"`
	// Test are the test ranks; UserVecs [NumUsers, D+1] and ItemVecs [NumItems, D+1] the
	// test-stage vectors of every user and item (for serving and re-evaluation).
	Test     Ranks   `json:"-"`
	UserVecs *Matrix `json:"-"`
	ItemVecs *Matrix `json:"-"`
}

// Result is one method after selection: the configuration chosen on the validation split
// (with the first seed) and that configuration trained with every seed.
type Result struct {
	Variant    Variant     `json:"variant"`
	Config     Config      `json:"config"`
	Candidates []Candidate `json:"candidates"`
	Seeds      []SeedRun   `json:"seeds"`
}

// MeanValidNDCG is the validation NDCG@10 averaged over seeds (what picks the best method of a
// group; the test split plays no part).
func (r *Result) MeanValidNDCG() float64 {
	var s float64
	for _, x := range r.Seeds {
		s += x.ValidNDCG
	}
	return s / float64(max(len(r.Seeds), 1))
}

// Reporter receives progress: every finished epoch of every fit, with the fit's position in the
// whole search.
type Reporter func(method string, fit, fits int, st EpochStat)

// Search selects a configuration for variant v on the validation split and trains it with every
// seed: each configuration of grid is trained with seeds[0] (Fit: early stopping on validation
// NDCG@10); the best by validation NDCG@10 (the first on ties) is kept; then it is trained again
// with seeds[1:]. Only then is each seed's model ranked on the test split. fitsBefore and
// fitsTotal place this search within a larger one for the reporter.
func Search(ctx context.Context, v Variant, d *Data, f *Features, grid []Config, seeds []uint64, log *slog.Logger, report Reporter, fitsBefore, fitsTotal int) (*Result, error) {
	if len(grid) == 0 || len(seeds) == 0 {
		return nil, fmt.Errorf("rec: search of %s needs at least one configuration and one seed", v.Name)
	}
	if log == nil {
		log = slog.Default()
	}
	res := &Result{Variant: v}
	fit := fitsBefore
	var chosen Model
	var chosenRun SeedRun
	defer func() {
		if chosen != nil {
			chosen.Free()
		}
	}()
	for _, cfg := range grid {
		cfg.Seed = seeds[0]
		fit++
		m, run, err := train(ctx, v, d, f, cfg, func(st EpochStat) {
			if report != nil {
				report(v.Name, fit, fitsTotal, st)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("rec: %s: %w", v.Name, err)
		}
		full, _ := cfg.withDefaults()
		res.Candidates = append(res.Candidates, Candidate{Config: full, ValidNDCG: run.ValidNDCG, Epochs: len(run.History), BestEpoch: run.BestEpoch, Seconds: run.Seconds})
		log.Debug("recommender candidate", "method", v.Name, "config", describe(full), "valid_ndcg@10", run.ValidNDCG, "epochs", len(run.History), "seconds", run.Seconds)
		if chosen == nil || run.ValidNDCG > chosenRun.ValidNDCG {
			if chosen != nil {
				chosen.Free()
			}
			chosen, chosenRun, res.Config = m, run, full
		} else {
			m.Free()
		}
	}
	for k, seed := range seeds {
		m, run := chosen, chosenRun
		if k > 0 {
			cfg := res.Config
			cfg.Seed = seed
			fit++
			var err error
			if m, run, err = train(ctx, v, d, f, cfg, func(st EpochStat) {
				if report != nil {
					report(v.Name, fit, fitsTotal, st)
				}
			}); err != nil {
				return nil, fmt.Errorf("rec: %s seed %d: %w", v.Name, seed, err)
			}
		}
		err := finish(m, d, &run)
		if k > 0 {
			m.Free()
		}
		if err != nil {
			return nil, fmt.Errorf("rec: %s seed %d: %w", v.Name, seed, err)
		}
		run.Seed = seed
		res.Seeds = append(res.Seeds, run)
	}
	return res, nil
}

// train builds and fits one model; the caller frees it.
func train(ctx context.Context, v Variant, d *Data, f *Features, cfg Config, onEpoch func(EpochStat)) (Model, SeedRun, error) {
	t0 := time.Now()
	m, err := New(v, d, f, cfg)
	if err != nil {
		return nil, SeedRun{}, err
	}
	hist, err := Fit(ctx, m, d, cfg, onEpoch)
	if err != nil {
		m.Free()
		return nil, SeedRun{}, err
	}
	run := SeedRun{Seed: cfg.Seed, History: hist, Seconds: time.Since(t0).Seconds()}
	for _, e := range hist {
		if e.ValidNDCG > run.ValidNDCG || run.BestEpoch == 0 {
			run.ValidNDCG, run.BestEpoch = e.ValidNDCG, e.Epoch
		}
	}
	return m, run, nil
}

// finish ranks the test split with a trained model and keeps its test-stage vectors.
func finish(m Model, d *Data, run *SeedRun) error {
	all := make([]int, d.NumUsers)
	for u := range all {
		all[u] = u
	}
	u, v, err := m.Vectors(all, Test)
	if err != nil {
		return err
	}
	run.UserVecs, run.ItemVecs = u, v
	users := d.EvalUsers(Test)
	sub := NewMatrix(len(users), u.Cols)
	for k, x := range users {
		copy(sub.Row(k), u.Row(x))
	}
	run.Test, err = RankVectors(d, users, sub, v, Test)
	return err
}

// describe is a one-line summary of a configuration for logs.
func describe(c Config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dim=%d lr=%g wd=%g dropout=%g loss=%s", c.Dim, c.LR, c.WeightDecay, c.Dropout, c.Loss)
	return b.String()
}

// PopularityVectors scores every item by its number of training interactions as vectors: every
// user is [1] and item i is [count_i], so ties are common (and ranked pessimistically).
func PopularityVectors(d *Data) (users, items *Matrix) {
	users = NewMatrix(d.NumUsers, 1)
	for u := range users.Data {
		users.Data[u] = 1
	}
	items = NewMatrix(d.NumItems, 1)
	for i, c := range d.ItemCounts() {
		items.Data[i] = float32(c)
	}
	return users, items
}
