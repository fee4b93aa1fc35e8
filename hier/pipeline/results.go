package pipeline

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/hier-ai/hier/hier/eval"
	"github.com/hier-ai/hier/hier/rec"
)

// SchemaVersion is the version of metrics.json's layout. 3 added the provenance (date, seed,
// versions, device, threads, data) and made protocol an object; Evaluate still reads runs of
// version 2.
const SchemaVersion = 3

// Counts are the dataset counts reported in the results.
type Counts struct {
	Users        int `json:"users"`
	Items        int `json:"items"`
	Interactions int `json:"interactions"`
	Skipped      int `json:"skipped"`
	Duplicates   int `json:"duplicates"`
}

// SplitSizes are the leave-one-out protocol's sizes.
type SplitSizes struct {
	Train          int `json:"train"`
	Valid          int `json:"valid"`
	Test           int `json:"test"`
	TrainOnlyUsers int `json:"train_only_users"`
}

// SeedRanking is the ranking table of one seed.
type SeedRanking struct {
	Seed    uint64                        `json:"seed"`
	Ranking map[string]map[string]float64 `json:"ranking"`
}

// BootstrapComparison is the paired bootstrap of the best hierarchy variant against the best
// ID-only model (each the best of its group by mean validation NDCG@10) in test NDCG@10 per
// user (averaged over seeds).
type BootstrapComparison struct {
	Hierarchy string  `json:"best_hierarchy"`
	IDOnly    string  `json:"best_id_only"`
	Metric    string  `json:"metric"`
	Ratio     float64 `json:"ratio"` // mean NDCG@10 of Hierarchy / of IDOnly
	eval.BootstrapResult
}

// RecommenderChoice records what was chosen on the validation split for one method.
type RecommenderChoice struct {
	Method     string          `json:"method"`
	Family     string          `json:"family"`
	Levels     []string        `json:"levels"`
	ItemText   bool            `json:"item_text"`
	Config     rec.Config      `json:"config"`
	Candidates []rec.Candidate `json:"candidates"` // the search space: every configuration tried
	Seeds      []SeedChoice    `json:"seeds"`
	ValidNDCG  float64         `json:"valid_ndcg@10"` // mean over seeds
}

// SeedChoice is the chosen configuration's training with one seed.
type SeedChoice struct {
	Seed      uint64  `json:"seed"`
	ValidNDCG float64 `json:"valid_ndcg@10"`
	BestEpoch int     `json:"best_epoch"`
	Epochs    int     `json:"epochs_run"`
	Seconds   float64 `json:"seconds"`
}

// Results is the output of a run (metrics.json, and the object printed by --json).
type Results struct {
	SchemaVersion int `json:"schema_version"`
	// Date is when the results were computed (RFC 3339, UTC).
	Date string `json:"date"`
	// Seed is the run's seed (Options.Seed): pre-training, heads, sampling, and the first
	// recommender seed.
	Seed     uint64   `json:"seed"`
	Versions Versions `json:"versions"`
	// Device is the libtorch device used ("cpu", "cuda:0"); Threads libtorch's intra-op threads.
	Device  string `json:"device"`
	Threads int    `json:"threads"`
	// Precision is the training stages' precision: "fp32", or "bf16" (autocast mixed precision).
	Precision string `json:"precision"`
	Dataset   string `json:"dataset"`
	// Data is where the dataset came from: its path, the files read with their SHA-256.
	Data   DataSource `json:"data"`
	Counts Counts     `json:"counts"`
	Split  SplitSizes `json:"split"`
	// Protocol states how the ranking numbers are computed.
	Protocol ProtocolInfo `json:"protocol"`
	// Sentiment is the H1 head's report on the test reviews; SentimentBaseline the TF-IDF +
	// logistic-regression baseline's (nil when H1 was skipped).
	Sentiment         *eval.Report `json:"sentiment,omitempty"`
	SentimentBaseline *eval.Report `json:"sentiment_baseline,omitempty"`
	SentimentBaseC    float64      `json:"sentiment_baseline_c,omitempty"`
	Behavior          *Behavior    `json:"behavior,omitempty"`
	// Ranking is every method's test metrics, the mean over seeds; RankingStd their standard
	// deviation over seeds (sample std; 0 for popularity, which has no seed).
	Ranking    map[string]map[string]float64 `json:"ranking"`
	RankingStd map[string]map[string]float64 `json:"ranking_std"`
	Seeds      []SeedRanking                 `json:"seeds"`
	// Slices are n, HR@10 and NDCG@10 per method and slice (users by training interactions,
	// held-out items by training popularity), means over seeds.
	Slices    map[string][]rec.Slice `json:"slices"`
	Bootstrap *BootstrapComparison   `json:"bootstrap,omitempty"`
	// Twins are the same paired bootstrap within each family: its best hierarchy variant (by
	// validation) against its ID-only twin (cf against mf, seq against sasrec), and the best
	// hierarchy variant against every ID-only model that Bootstrap does not already compare.
	Twins []BootstrapComparison `json:"bootstrap_twins,omitempty"`
	// Recommenders are the configurations chosen on the validation split, with the search space.
	Recommenders []RecommenderChoice `json:"recommenders"`
	// Served is the method whose vectors recommendations.jsonl and `hier recommend` use: the
	// best hierarchy variant by validation NDCG@10 (the best method when there is none).
	Served    string             `json:"served_method"`
	Skipped   map[string]string  `json:"skipped,omitempty"`
	Fusion    Fusion             `json:"fusion"`
	Multitask bool               `json:"multitask"`
	Backbone  string             `json:"backbone"` // "pretrained:<dir>" or "scratch:<n_layer>x<n_embd>"
	Timings   map[string]float64 `json:"timings_seconds"`
	OutDir    string             `json:"out_dir"`
	Wall      float64            `json:"wall_seconds"`
}

// methodRuns is one method's test results: per seed, the ranks of the test users (in
// rec.Data.EvalUsers(Test) order), with its validation score.
type methodRuns struct {
	name      string
	family    string // "" for popularity
	idOnly    bool
	validNDCG float64 // mean over seeds; NaN for popularity (not selected on validation)
	seeds     []uint64
	ranks     []rec.Ranks
}

// summarize fills the ranking, seeds, slices and bootstrap sections from every method's test
// ranks.
func summarize(res *Results, d *rec.Data, runs []methodRuns) error {
	res.Ranking, res.RankingStd, res.Slices = map[string]map[string]float64{}, map[string]map[string]float64{}, map[string][]rec.Slice{}
	defs := rec.NewSliceDefs(d)
	nSeeds := 0
	for _, m := range runs {
		nSeeds = max(nSeeds, len(m.seeds))
	}
	res.Seeds = nil
	for k := 0; k < nSeeds; k++ {
		sr := SeedRanking{Ranking: map[string]map[string]float64{}}
		for _, m := range runs {
			kk := min(k, len(m.ranks)-1) // popularity: one deterministic run for every seed
			sr.Ranking[m.name] = m.ranks[kk].Metrics()
			if k < len(m.seeds) {
				sr.Seed = m.seeds[k]
			}
		}
		res.Seeds = append(res.Seeds, sr)
	}
	for _, m := range runs {
		per := make([]map[string]float64, len(m.ranks))
		for k, r := range m.ranks {
			per[k] = r.Metrics()
		}
		res.Ranking[m.name], res.RankingStd[m.name] = map[string]float64{}, map[string]float64{}
		for key := range per[0] {
			xs := make([]float64, len(per))
			for k := range per {
				xs[k] = per[k][key]
			}
			res.Ranking[m.name][key], res.RankingStd[m.name][key] = eval.MeanStd(xs)
		}
		var tables [][]rec.Slice
		for _, r := range m.ranks {
			tables = append(tables, defs.Table(d, r, rec.Test))
		}
		avg := tables[0]
		for j := range avg {
			var hr, nd float64
			for _, t := range tables {
				hr += t[j].HR10
				nd += t[j].NDCG10
			}
			avg[j].HR10, avg[j].NDCG10 = hr/float64(len(tables)), nd/float64(len(tables))
		}
		res.Slices[m.name] = avg
	}
	// The best of each group by validation (never by test).
	var hier, id *methodRuns
	bestHier, twin := map[string]*methodRuns{}, map[string]*methodRuns{}
	for k := range runs {
		m := &runs[k]
		if math.IsNaN(m.validNDCG) {
			continue
		}
		if m.idOnly {
			twin[m.family] = m
			if id == nil || m.validNDCG > id.validNDCG {
				id = m
			}
			continue
		}
		if hier == nil || m.validNDCG > hier.validNDCG {
			hier = m
		}
		if b := bestHier[m.family]; b == nil || m.validNDCG > b.validNDCG {
			bestHier[m.family] = m
		}
	}
	res.Bootstrap, res.Twins = nil, nil
	if hier == nil || id == nil {
		return nil
	}
	bs, err := compare(res, hier, id)
	if err != nil {
		return err
	}
	res.Bootstrap = bs
	seen := map[[2]string]bool{{hier.name, id.name}: true}
	var pairs [][2]*methodRuns
	for _, fam := range []string{rec.FamilyCF, rec.FamilySeq} {
		if bestHier[fam] != nil && twin[fam] != nil {
			pairs = append(pairs, [2]*methodRuns{bestHier[fam], twin[fam]})
		}
	}
	for _, fam := range []string{rec.FamilyCF, rec.FamilySeq} {
		if twin[fam] != nil {
			pairs = append(pairs, [2]*methodRuns{hier, twin[fam]})
		}
	}
	for _, p := range pairs {
		key := [2]string{p[0].name, p[1].name}
		if seen[key] {
			continue
		}
		seen[key] = true
		bs, err := compare(res, p[0], p[1])
		if err != nil {
			return err
		}
		res.Twins = append(res.Twins, *bs)
	}
	return nil
}

// compare is the paired bootstrap (10,000 resamples over test users, seed 1) of a's per-user
// test NDCG@10 minus b's, each averaged over seeds.
func compare(res *Results, a, b *methodRuns) (*BootstrapComparison, error) {
	x, y := seedMeanNDCG(a.ranks), seedMeanNDCG(b.ranks)
	if len(x) != len(y) {
		return nil, errors.New("pipeline: methods were ranked on different test users")
	}
	bs, err := eval.PairedBootstrap(x, y, bootstrapResamples, bootstrapSeed)
	if err != nil {
		return nil, err
	}
	ratio := math.NaN()
	if nd := res.Ranking[b.name]["ndcg@10"]; nd > 0 {
		ratio = res.Ranking[a.name]["ndcg@10"] / nd
	}
	return &BootstrapComparison{Hierarchy: a.name, IDOnly: b.name, Metric: "ndcg@10", Ratio: ratio, BootstrapResult: bs}, nil
}

// seedMeanNDCG is each user's NDCG@10 averaged over seeds.
func seedMeanNDCG(rs []rec.Ranks) []float64 {
	out := make([]float64, len(rs[0].Ranks))
	for _, r := range rs {
		for u, x := range eval.PerUserNDCG(r.Ranks, 10) {
			out[u] += x / float64(len(rs))
		}
	}
	return out
}

// RankingMetrics are the ranking table's columns.
var RankingMetrics = []string{"hr@5", "hr@10", "hr@20", "ndcg@5", "ndcg@10", "ndcg@20", "mrr"}

// methodOrder is the table order: popularity, then each family's variants.
func methodOrder(res *Results) []string {
	out := []string{"popularity"}
	for _, v := range rec.Variants(rec.FamilyCF, rec.FamilySeq) {
		if _, ok := res.Ranking[v.Name]; ok {
			out = append(out, v.Name)
		}
	}
	return out
}

// Table formats the results as the text table printed by `hier run` and `hier demo`.
func (r *Results) Table() string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("dataset %s: %d users, %d items, %d interactions (%d skipped, %d duplicates)\n", r.Dataset, r.Counts.Users, r.Counts.Items, r.Counts.Interactions, r.Counts.Skipped, r.Counts.Duplicates)
	w("split: %d train / %d valid / %d test (%d users train-only)\n\n", r.Split.Train, r.Split.Valid, r.Split.Test, r.Split.TrainOnlyUsers)
	if r.Sentiment != nil {
		w("sentiment (H1 head, test reviews):\n%s\n", r.Sentiment.String())
		if r.SentimentBaseline != nil {
			w("sentiment baseline (TF-IDF + logistic regression, C %g chosen on validation): accuracy %.4f, macro F1 %.4f (head: %.4f, %.4f)\n\n",
				r.SentimentBaseC, r.SentimentBaseline.Accuracy, r.SentimentBaseline.MacroAvg.F1, r.Sentiment.Accuracy, r.Sentiment.MacroAvg.F1)
		}
	}
	for level, why := range r.Skipped {
		if strings.HasPrefix(level, "h") && !strings.Contains(level, "_") {
			w("%s skipped: %s\n\n", strings.ToUpper(level), why)
		}
	}
	if bh := r.Behavior; bh != nil {
		w("behavior (H2 head, held-out ratings; bias lambda_u %g lambda_i %g, head weight alpha %g, both chosen on validation):\n", bh.BiasLambdaU, bh.BiasLambdaI, bh.Alpha)
		w("  %-16s %8s %8s %8s\n", "method", "MSE", "RMSE", "MAE")
		for _, row := range []struct {
			n string
			m eval.Regression
		}{{"h2 model", bh.Model}, {"global mean", bh.GlobalMean}, {"user+item bias", bh.UserItemBias}} {
			w("  %-16s %8.4f %8.4f %8.4f\n", row.n, row.m.MSE, row.m.RMSE, row.m.MAE)
		}
		w("\n")
	}
	w("ranking (test; mean ± std over %s; full catalogue, history masked, pessimistic ties; fusion %s):\n", seedCount(len(r.Seeds)), r.Fusion)
	w("  %-11s", "method")
	for _, k := range RankingMetrics {
		w(" %15s", k)
	}
	w("\n")
	for _, m := range methodOrder(r) {
		vals, ok := r.Ranking[m]
		if !ok {
			continue
		}
		w("  %-11s", m)
		for _, k := range RankingMetrics {
			w("  %.4f±%.4f", vals[k], r.RankingStd[m][k])
		}
		w("\n")
	}
	if bs := r.Bootstrap; bs != nil {
		w("\nbest hierarchy variant %s vs best ID-only %s (chosen on validation): NDCG@10 ratio %.3f, difference %+.4f, paired bootstrap 95%% interval [%+.4f, %+.4f] (%d resamples over test users)\n",
			bs.Hierarchy, bs.IDOnly, bs.Ratio, bs.MeanDiff, bs.CILow, bs.CIHigh, bs.Resamples)
		for _, t := range r.Twins {
			w("  %s vs %s: NDCG@10 ratio %.3f, difference %+.4f, 95%% interval [%+.4f, %+.4f]\n", t.Hierarchy, t.IDOnly, t.Ratio, t.MeanDiff, t.CILow, t.CIHigh)
		}
	}
	if len(r.Slices) > 0 {
		w("\nslices (test NDCG@10, n in brackets):\n  %-11s", "method")
		names := sliceColumns(r)
		for _, n := range names {
			w(" %18s", n)
		}
		w("\n")
		for _, m := range methodOrder(r) {
			sl, ok := r.Slices[m]
			if !ok {
				continue
			}
			w("  %-11s", m)
			by := map[string]rec.Slice{}
			for _, s := range sl {
				by[s.Name] = s
			}
			for _, n := range names {
				s := by[n]
				w(" %18s", fmt.Sprintf("%.4f (%d)", s.NDCG10, s.N))
			}
			w("\n")
		}
	}
	if len(r.Recommenders) > 0 {
		// Every method's search space and budget: the same number of candidates per family,
		// each trained with early stopping on validation NDCG@10, the chosen one with every seed.
		w("\nmodel selection (validation NDCG@10; candidates tried with the first seed, the chosen one with %d seeds):\n", len(r.Seeds))
		for _, c := range r.Recommenders {
			epochs := 0
			for _, k := range c.Candidates {
				epochs += k.Epochs
			}
			for _, sc := range c.Seeds[min(1, len(c.Seeds)):] {
				epochs += sc.Epochs
			}
			noun := "candidates"
			if len(c.Candidates) == 1 {
				noun = "candidate"
			}
			w("  %-11s %d %s, %d epochs in all; chosen: %s (%.4f)\n", c.Method, len(c.Candidates), noun, epochs, describeConfig(c.Family, c.Config), c.ValidNDCG)
		}
	}
	for m, why := range r.Skipped {
		if strings.Contains(m, "_") {
			w("%s not trained: %s\n", m, why)
		}
	}
	w("\nserved: %s; output: %s (%.1f s)\n", r.Served, r.OutDir, r.Wall)
	return b.String()
}

// sliceColumns are the slice names present in the results, in rec.SliceNames order.
func sliceColumns(r *Results) []string {
	have := map[string]bool{}
	for _, sl := range r.Slices {
		for _, s := range sl {
			have[s.Name] = true
		}
	}
	var out []string
	for _, n := range rec.SliceNames {
		if have[n] {
			out = append(out, n)
		}
	}
	return out
}

// seedCount is "1 seed" or "N seeds".
func seedCount(n int) string {
	if n == 1 {
		return "1 seed"
	}
	return fmt.Sprintf("%d seeds", n)
}
