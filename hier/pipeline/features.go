package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"strings"

	"github.com/hier-ai/hier/hier/baseline"
	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/hier/report"
)

// features are the interest levels per user and the item text vectors.
type features struct {
	H0, H1, H2 *Matrix // [users, n_embd], [users, n_embd+3], [users, n_embd+1]
	ItemText   *Matrix // [items, n_embd]
}

// features computes
//   - H0: the backbone's mean-pooled encoding of each user's training text (their reviews and the
//     descriptions of items they interacted with), truncated to UserMaxTokens;
//   - H1: per user, the mean over their training reviews of the sentiment model's pooled hidden
//     state and class probabilities;
//   - H2: per user, the mean over their training interactions of the behaviour model's pooled
//     hidden state and predicted (centred) rating;
//   - item text vectors: the backbone's encoding of each item's training-split text.
func (r *runner) features(backbone *gpt2.Model, sent, beh *gpt2.SequenceClassifier) (*features, error) {
	sd := r.sd
	f := &features{}
	// A user's text lists their training interactions oldest first; the token budget keeps the
	// most recent part. An item's text starts with its description, which the budget keeps.
	r.purpose = "features"
	userTexts, itemTexts := sd.UserTexts(8*r.opts.UserMaxTokens), sd.ItemTexts(6*r.opts.ItemMaxTokens)
	r.see(userTexts...)
	r.see(itemTexts...)
	h0 := &Encoder{Backbone: backbone, Tok: r.tok, MaxLen: min(r.opts.UserMaxTokens, backbone.Config.NPositions), Batch: 32, Pool: PoolMean, KeepTail: true}
	var err error
	if f.H0, err = h0.Encode(userTexts); err != nil {
		return nil, err
	}
	h0.MaxLen, h0.KeepTail = min(r.opts.ItemMaxTokens, backbone.Config.NPositions), false
	if f.ItemText, err = h0.Encode(itemTexts); err != nil {
		return nil, err
	}
	users := make([]int, len(sd.Train))
	revs := make([][]int64, len(sd.Train))
	behs := make([][]int64, len(sd.Train))
	for k := range sd.Train {
		users[k] = sd.Train[k].UserIdx
		revs[k] = r.encode(r.tx.review(&sd.Train[k]), r.opts.Sentiment.MaxLen)
		behs[k] = r.encode(r.behaviorText(&sd.Train[k]), r.opts.Behavior.MaxLen)
	}
	h1 := &Encoder{Backbone: sent.Backbone, Head: sent, Tok: r.tok, MaxLen: r.opts.Sentiment.MaxLen, Batch: 64, Pool: PoolLast, Softmax: true}
	m1, err := h1.EncodeIDs(revs)
	if err != nil {
		return nil, err
	}
	f.H1 = MeanRows(m1, users, sd.NumUsers())
	h2 := &Encoder{Backbone: beh.Backbone, Head: beh, Tok: r.tok, MaxLen: r.opts.Behavior.MaxLen, Batch: 64, Pool: PoolLast}
	m2, err := h2.EncodeIDs(behs)
	if err != nil {
		return nil, err
	}
	f.H2 = MeanRows(m2, users, sd.NumUsers())
	return f, nil
}

// ablations are the recommenders trained: each level subset, in RankingMethods order.
var ablations = []struct {
	name   string
	levels []string
}{{"h0", []string{"h0"}}, {"h0_h1", []string{"h0", "h1"}}, {"h0_h2", []string{"h0", "h2"}}, {"h", []string{"h0", "h1", "h2"}}}

// recommenders trains the full H recommender and its ablations, evaluates each on the test
// split, and writes the full model's vectors and recommendations.
func (r *runner) recommenders(f *features) error {
	byName := map[string]*Matrix{"h0": f.H0, "h1": f.H1, "h2": f.H2}
	vecs := map[string]*Matrix{"h0": f.H0, "h1": f.H1, "h2": f.H2, "item_text": f.ItemText}
	for _, ab := range ablations {
		var feats []*Matrix
		for _, l := range ab.levels {
			feats = append(feats, byName[l])
		}
		// Model selection on the validation split only: every candidate of the grid is trained
		// with early stopping, and the one with the best validation NDCG@10 is kept.
		var best *scorerFit
		for _, cfg := range r.scorerGrid() {
			fit, err := fitScorer(r.ctx, ab.levels, feats, f.ItemText, cfg, r.proto.fitData(), r.log)
			if err != nil {
				return fmt.Errorf("recommender %s: %w", ab.name, err)
			}
			r.log.Debug("recommender candidate", "levels", strings.Join(ab.levels, "+"), "dim", cfg.Dim, "lr", cfg.LR, "valid_ndcg@10", fit.valid)
			if best == nil || fit.valid > best.valid {
				best = fit
			}
		}
		vecs["users."+ab.name], vecs["items."+ab.name] = best.users, best.items
		r.res.Ranking[ab.name] = r.proto.rankingReport(dotScores(best.users, best.items))
		var vals []float64
		for _, e := range best.history {
			vals = append(vals, e.ValidNDCG)
		}
		r.curves["recommender_"+ab.name] = vals
		r.res.Recommenders = append(r.res.Recommenders, RecommenderChoice{Method: ab.name, Dim: best.cfg.Dim, LR: best.cfg.LR, Epochs: len(best.history), ValidNDCG10: best.valid})
		r.log.Info("recommender", "levels", strings.Join(ab.levels, "+"), "dim", best.cfg.Dim, "lr", best.cfg.LR, "epochs", len(best.history),
			"valid_ndcg@10", best.valid, "test_hr@10", r.res.Ranking[ab.name]["hr@10"], "test_ndcg@10", r.res.Ranking[ab.name]["ndcg@10"])
	}
	return r.writeRun(vecs)
}

// RecommenderChoice records the configuration picked on the validation split for one method.
type RecommenderChoice struct {
	Method      string  `json:"method"`
	Dim         int     `json:"dim"`
	LR          float64 `json:"lr"`
	Epochs      int     `json:"epochs"`
	ValidNDCG10 float64 `json:"valid_ndcg@10"`
}

// scorerGrid is the configuration search of the recommenders: Options.Scorer alone, or, with
// Options.ScorerSearch, its Dim and LR crossed with {8, 32, Dim} × {LR, 1e-2}.
func (r *runner) scorerGrid() []ScorerConfig {
	base := r.opts.Scorer
	if !r.opts.ScorerSearch {
		return []ScorerConfig{base}
	}
	var out []ScorerConfig
	seen := map[[2]float64]bool{}
	for _, d := range []int{8, 32, base.Dim} {
		for _, lr := range []float64{base.LR, 1e-2} {
			if seen[[2]float64{float64(d), lr}] {
				continue
			}
			seen[[2]float64{float64(d), lr}] = true
			c := base
			c.Dim, c.LR = d, lr
			out = append(out, c)
		}
	}
	return out
}

type scorerFit struct {
	cfg          ScorerConfig
	users, items *Matrix
	history      []EpochStat
	valid        float64 // best validation NDCG@10
}

func fitScorer(ctx context.Context, levels []string, feats []*Matrix, items *Matrix, cfg ScorerConfig, d FitData, log *slog.Logger) (*scorerFit, error) {
	sc, err := NewScorer(levels, feats, items, cfg)
	if err != nil {
		return nil, err
	}
	defer sc.Free()
	if err := sc.Fit(ctx, d, log); err != nil {
		return nil, err
	}
	u, v, err := sc.Vectors()
	if err != nil {
		return nil, err
	}
	best := math.Inf(-1)
	for _, e := range sc.History {
		best = math.Max(best, e.ValidNDCG)
	}
	return &scorerFit{cfg: cfg, users: u, items: v, history: sc.History, valid: best}, nil
}

// writeRun writes index.json, vectors.safetensors (the interest levels h0/h1/h2, the item text
// vectors, and the user and item vectors of every recommender: "users.<method>",
// "items.<method>"; "h" and "items" are the full model's) and recommendations.jsonl.
func (r *runner) writeRun(vecs map[string]*Matrix) error {
	h, items := vecs["users.h"], vecs["items.h"]
	vecs["h"], vecs["items"] = h, items
	idx := &Index{Users: r.sd.UserIDs, Items: r.sd.ItemIDs, History: make([][]int, r.sd.NumUsers()), Fusion: r.opts.Fusion}
	for u := range idx.History {
		idx.History[u] = append([]int{}, r.proto.trainItems[u]...)
		if v := r.proto.validItem[u]; v >= 0 {
			idx.History[u] = append(idx.History[u], v)
		}
	}
	out := r.opts.OutDir
	if err := writeJSON(filepath.Join(out, IndexFileName), idx); err != nil {
		return err
	}
	meta := map[string]string{"fusion": string(r.opts.Fusion), "levels": "h0,h1,h2"}
	if err := writeVectors(filepath.Join(out, VectorsFileName), vecs, meta); err != nil {
		return err
	}
	return writeRecommendations(filepath.Join(out, RecsFileName), idx, h, items, r.opts.TopK)
}

// baselines evaluates popularity and BPR-MF on the same split.
func (r *runner) baselines() error {
	in := r.proto.interactions()
	pop, err := baseline.FitPopularity(in)
	if err != nil {
		return err
	}
	r.res.Ranking["popularity"] = r.proto.rankingReport(pop.ScoresInto)
	cfg := baseline.DefaultBPRConfig()
	cfg.Factors, cfg.Epochs, cfg.Seed = r.opts.MFFactors, r.opts.MFEpochs, r.opts.Seed
	mf, err := baseline.FitBPRMF(r.ctx, in, cfg)
	if err != nil {
		return err
	}
	r.res.Ranking["mf"] = r.proto.rankingReport(mf.ScoresInto)
	return nil
}

// plots writes the training curves and the metrics table as PNG bar charts.
func (r *runner) plots() error {
	dir := filepath.Join(r.opts.OutDir, PlotsDir)
	var loss []report.Series
	for _, name := range []string{"pretrain", "sentiment", "behavior", "multitask"} {
		ys := r.curves[name]
		if len(ys) == 0 {
			continue
		}
		xs := make([]float64, len(ys))
		for i := range xs {
			xs[i] = float64(i + 1)
		}
		loss = append(loss, report.Series{Name: name, X: xs, Y: ys})
	}
	if len(loss) > 0 {
		if err := report.TrainingCurvesWithOptions(filepath.Join(dir, "training_loss.png"), report.CurveOptions{Title: "Training loss per optimizer step", XLabel: "step", YLabel: "loss"}, loss); err != nil {
			return err
		}
	}
	var nd []report.Series
	for _, ab := range ablations {
		ys := r.curves["recommender_"+ab.name]
		if len(ys) == 0 {
			continue
		}
		xs := make([]float64, len(ys))
		for i := range xs {
			xs[i] = float64(i + 1)
		}
		nd = append(nd, report.Series{Name: ab.name, X: xs, Y: ys})
	}
	if len(nd) > 0 {
		if err := report.TrainingCurvesWithOptions(filepath.Join(dir, "recommender_valid_ndcg.png"), report.CurveOptions{Title: "Recommender validation NDCG@10", XLabel: "epoch", YLabel: "NDCG@10"}, nd); err != nil {
			return err
		}
	}
	var methods []string
	for _, m := range RankingMethods {
		if _, ok := r.res.Ranking[m]; ok {
			methods = append(methods, m)
		}
	}
	if err := report.MetricsBars(filepath.Join(dir, "ranking.png"), "Test ranking (leave-one-out, full catalogue)", methods, []string{"hr@10", "ndcg@10", "hr@20", "mrr"}, r.res.Ranking); err != nil {
		return err
	}
	b := r.res.Behavior
	return report.MetricsBars(filepath.Join(dir, "behavior.png"), "Held-out rating error", []string{"h2 model", "global mean", "user+item bias"}, []string{"rmse", "mae"},
		map[string]map[string]float64{
			"h2 model":       {"rmse": b.Model.RMSE, "mae": b.Model.MAE},
			"global mean":    {"rmse": b.GlobalMean.RMSE, "mae": b.GlobalMean.MAE},
			"user+item bias": {"rmse": b.UserItemBias.RMSE, "mae": b.UserItemBias.MAE},
		})
}
