package pipeline

// Known-answer tests: each case is small enough to work out by hand, the arithmetic is in the
// comments, and each fails when the formula or step it guards changes by one term.

import (
	"context"
	"log/slog"
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hier-ai/hier/hier/baseline"
	"github.com/hier-ai/hier/hier/data"
	"github.com/hier-ai/hier/hier/eval"
	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/hier/rec"
	"github.com/hier-ai/hier/torch"
)

func testEnv(o Options) *env {
	return &env{ctx: context.Background(), opts: o, dev: torch.CPU, out: o.OutDir, log: slog.New(slog.DiscardHandler)}
}

// splitDataset is a hand-made dataset in file order (row: user item time):
//
//	r0 alice X 30     r5 alice W 40     r10 dave W 3
//	r1 bob   Y 5      r6 bob   Z 7      r11 erin Y 1
//	r2 alice Y 10     r7 carol X 2      r12 erin Y 2   (repeat of row 11)
//	r3 carol Z 1      r8 bob   W 7      r13 erin Z 3
//	r4 alice Z 20     r9 alice X 50     (repeat of row 0)
//
// Repeats keep the earliest by (time, row): rows 9 and 12 go (2 duplicates). Dense indices by
// first appearance: users alice 0, bob 1, carol 2, dave 3, erin 4; items X 0, Y 1, Z 2, W 3.
// Per user, by (time, row):
//
//	alice: Y(10) Z(20) X(30) W(40)  → train [Y Z] = [1 2], valid X = 0, test W = 3
//	bob:   Y(5) Z(7, row 6) W(7, row 8) → train [Y] = [1], valid Z = 2, test W = 3 (time tie: row order)
//	carol: Z(1) X(2)                → 2 interactions: train-only [2 0]
//	dave:  W(3)                     → train-only [3]
//	erin:  Y(1) Z(3)                → 2 after removing the repeat: train-only [1 2]
//
// Train 2+1+2+1+2 = 8, valid 2, test 2, 3 train-only users. Alice's latest row (X at 50) is a
// repeat of a training-time item: had it been kept, X would be both her test item and in her
// history.
func splitDataset() *data.Dataset {
	rows := []struct {
		u, i string
		t    int64
	}{
		{"alice", "X", 30}, {"bob", "Y", 5}, {"alice", "Y", 10}, {"carol", "Z", 1}, {"alice", "Z", 20},
		{"alice", "W", 40}, {"bob", "Z", 7}, {"carol", "X", 2}, {"bob", "W", 7}, {"alice", "X", 50},
		{"dave", "W", 3}, {"erin", "Y", 1}, {"erin", "Y", 2}, {"erin", "Z", 3},
	}
	ds := &data.Dataset{Name: "split"}
	for k, r := range rows {
		ds.Interactions = append(ds.Interactions, data.Interaction{User: r.u, Item: r.i, Time: r.t, Row: k, Rating: float64(1 + k%5)})
	}
	return ds
}

// TestRecDataFromHandMadeDataset checks the protocol the recommenders read (data.Split, then
// recData, as prepare builds it) against the hand-made split above.
func TestRecDataFromHandMadeDataset(t *testing.T) {
	sd, err := data.Split(splitDataset())
	require.NoError(t, err)
	assert.Equal(t, []string{"alice", "bob", "carol", "dave", "erin"}, sd.UserIDs)
	assert.Equal(t, []string{"X", "Y", "Z", "W"}, sd.ItemIDs)
	d := recData(sd)
	require.NoError(t, d.Validate())
	assert.Equal(t, 5, d.NumUsers)
	assert.Equal(t, 4, d.NumItems)
	assert.Equal(t, [][]int{{1, 2}, {1}, {2, 0}, {3}, {1, 2}}, d.Train)
	assert.Equal(t, []int{0, 2, -1, -1, -1}, d.ValidItem)
	assert.Equal(t, []int{3, 3, -1, -1, -1}, d.TestItem)
	assert.Equal(t, []int{0, 1}, d.EvalUsers(rec.Valid))
	assert.Equal(t, []int{0, 1}, d.EvalUsers(rec.Test))
	assert.Equal(t, 8, d.NumTrain())
	assert.Equal(t, 2, sd.Duplicates)
	assert.Equal(t, 3, sd.TrainOnlyUsers)
	// The invariants, user by user.
	for u := range d.NumUsers {
		n := len(d.Train[u])
		if d.ValidItem[u] < 0 {
			assert.Equal(t, -1, d.TestItem[u], "user %d", u)
			assert.Less(t, n, 3, "user %d with %d interactions is train-only", u, n)
			continue
		}
		assert.GreaterOrEqual(t, n, 1, "user %d", u)
		assert.NotContains(t, d.Train[u], d.ValidItem[u], "user %d trains on its validation item", u)
		assert.NotContains(t, d.Train[u], d.TestItem[u], "user %d trains on its test item", u)
		assert.NotEqual(t, d.ValidItem[u], d.TestItem[u], "user %d", u)
		assert.Equal(t, append(slices.Clone(d.Train[u]), d.ValidItem[u]), d.History(u, rec.Test))
	}

	// prepare (which also loads the tokenizer) reports the same split.
	needVocab(t)
	o := DefaultOptions()
	p, err := prepare(testEnv(o), splitDataset())
	require.NoError(t, err)
	assert.Equal(t, d, p.data)
	assert.Equal(t, SplitSizes{Train: 8, Valid: 2, Test: 2, TrainOnlyUsers: 3}, p.split)
	assert.Equal(t, Counts{Users: 5, Items: 4, Interactions: 12, Duplicates: 2}, p.count)
}

// leakNumDataset plants item P only in held-out positions (row: user item rating, in time order
// per user):
//
//	u0: A 5, B 4, P 1      → train [A],     valid B, test P
//	u1: B 3, P 5, A 2      → train [B],     valid P, test A
//	u2: A 4, C 2, B 3, P 5 → train [A C],   valid B, test P
//	u3: D 3, E 4           → train-only [D E]
//
// Items by first appearance: A 0, B 1, P 2, C 3, D 4, E 5. Training counts: A 2, B 1, P 0, C 1,
// D 1, E 1 (P's three held-out interactions would make it the most popular item).
func leakNumDataset() *data.Dataset {
	rows := []struct {
		u, i string
		r    float64
	}{
		{"u0", "A", 5}, {"u0", "B", 4}, {"u0", "P", 1},
		{"u1", "B", 3}, {"u1", "P", 5}, {"u1", "A", 2},
		{"u2", "A", 4}, {"u2", "C", 2}, {"u2", "B", 3}, {"u2", "P", 5},
		{"u3", "D", 3}, {"u3", "E", 4},
	}
	ds := &data.Dataset{Name: "leak-numeric"}
	for k, r := range rows {
		ds.Interactions = append(ds.Interactions, data.Interaction{User: r.u, Item: r.i, Rating: r.r, Time: int64(100 + k), Row: k})
	}
	return ds
}

// TestNumericPathsUseTrainOnly: the popularity counts, the recommenders' training items and the
// bias model's ratings see no validation or test interaction.
//
// Popularity test ranks (history = train + validation item masked; pessimistic ties):
//
//	u0: masked {A B}; target P (0) vs C, D, E (1 each) → 3
//	u1: masked {B P}; target A (2) vs C, D, E (1)      → 0
//	u2: masked {A C B}; target P (0) vs D, E (1)       → 2
//
// MRR = (1/4 + 1 + 1/3)/3 = 19/36, NDCG@10 = (1/log2(5) + 1 + 1/log2(4))/3, HR@5 = 1.
// Counting P's held-out interactions would rank it first for u0 and u2 (MRR 1).
//
// The bias model's training ratings are the six training interactions: μ = (5+3+4+2+3+4)/6 = 3.5
// (with the held-out ones it would be (21 + 4+1+5+2+3+5)/12 = 41/12); P has no training rating,
// so its item bias is 0 whatever λ the validation ratings choose.
func TestNumericPathsUseTrainOnly(t *testing.T) {
	sd, err := data.Split(leakNumDataset())
	require.NoError(t, err)
	require.Equal(t, []string{"A", "B", "P", "C", "D", "E"}, sd.ItemIDs)
	const P = 2
	d := recData(sd)
	assert.Equal(t, [][]int{{0}, {1}, {0, 3}, {4, 5}}, d.Train)
	assert.Equal(t, []int{1, 2, 1, -1}, d.ValidItem)
	assert.Equal(t, []int{2, 0, 2, -1}, d.TestItem)
	assert.Equal(t, []int{2, 1, 0, 1, 1, 1}, d.ItemCounts())
	for u, items := range d.Train {
		assert.NotContains(t, items, P, "user %d trains on the planted item", u)
	}
	_, pi := rec.PopularityVectors(d)
	assert.Equal(t, float32(0), pi.Row(P)[0])

	res := &Results{}
	require.NoError(t, evaluateRecommenders(d, &recOut{}, res))
	pop := res.Ranking["popularity"]
	require.NotNil(t, pop)
	assert.InDelta(t, 19.0/36, pop["mrr"], 1e-12)
	assert.InDelta(t, (1/math.Log2(5)+1+0.5)/3, pop["ndcg@10"], 1e-12)
	assert.Equal(t, 1.0, pop["hr@5"])

	o := DefaultOptions()
	tr := behaviorRatings(&o, sd.Train)
	assert.Equal(t, baseline.Ratings{Users: []int{0, 1, 2, 2, 3, 3}, Items: []int{0, 1, 0, 3, 4, 5}, Values: []float64{5, 3, 4, 2, 3, 4}}, tr)
	va := behaviorRatings(&o, sd.Valid)
	assert.Equal(t, baseline.Ratings{Users: []int{0, 1, 2}, Items: []int{1, P, 1}, Values: []float64{4, 5, 3}}, va)
	b, sel, err := fitBias(&o, &prepared{sd: sd})
	require.NoError(t, err)
	assert.Len(t, sel.Grid, len(baseline.DefaultBiasLambdaGrid)*len(baseline.DefaultBiasLambdaGrid))
	assert.InDelta(t, 3.5, b.Mean(), 1e-12)
	assert.Equal(t, 0.0, b.ItemBias(P))
	// The returned model is the training-only fit with the chosen λ.
	ref, err := baseline.FitBiases(tr.Users, tr.Items, tr.Values, 4, 6, sel.Config)
	require.NoError(t, err)
	for u := range 4 {
		for i := range 6 {
			assert.Equal(t, ref.Predict(u, i), b.Predict(u, i))
		}
	}
}

// h2Dataset: three users rate three items once each (in time order: train, valid, test):
//
//	u0: i0 5, i1 4, i2 3
//	u1: i1 3, i2 2, i0 4
//	u2: i2 1, i0 5, i1 1
func h2Dataset() *data.Dataset {
	rows := []struct {
		u, i string
		r    float64
	}{
		{"u0", "i0", 5}, {"u0", "i1", 4}, {"u0", "i2", 3},
		{"u1", "i1", 3}, {"u1", "i2", 2}, {"u1", "i0", 4},
		{"u2", "i2", 1}, {"u2", "i0", 5}, {"u2", "i1", 1},
	}
	ds := &data.Dataset{Name: "h2", HasReviewText: true}
	for k, r := range rows {
		ds.Interactions = append(ds.Interactions, data.Interaction{User: r.u, Item: r.i, Rating: r.r, Time: int64(10 + k), Row: k,
			Summary: "fine", Text: "words"})
	}
	return ds
}

// constantHead is a regression head on a 1-layer GPT-2 whose output is the same for every input:
// ln_f has weight 0 and bias e_0, so every hidden state is e_0 = [1 0 0 0], and score.weight is
// [r 0 0 0], so the head predicts r.
func constantHead(t *testing.T, r float32) *gpt2.SequenceClassifier {
	t.Helper()
	cfg := gpt2.NewConfig(int(gpt2.EndOfTextID)+1, 64, 4, 1, 2)
	pad := gpt2.EndOfTextID
	cfg.PadTokenID = &pad
	g, err := torch.NewGenerator(1, torch.CPU)
	require.NoError(t, err)
	defer g.Free()
	m, err := gpt2.NewModel(cfg, torch.Float32, torch.CPU, g)
	require.NoError(t, err)
	require.NoError(t, m.LnFW.Zero())
	e0 := torch.MustFromSlice([]float32{1, 0, 0, 0})
	defer e0.Free()
	require.NoError(t, m.LnFB.CopyFrom(e0))
	return &gpt2.SequenceClassifier{Backbone: m, Score: torch.MustFromSlice([]float32{r, 0, 0, 0}, 1, 4)}
}

// TestEvalBehaviorKnownAnswer: the H2 report (evalBehavior) on the test ratings, with a bias
// model fitted by hand and a head that always predicts the residual 0.5, blended with α = 0.5.
//
// Training ratings (u0,i0,5) (u1,i1,3) (u2,i2,1): μ = 3. One sweep with λ_u = λ_i = 1:
//
//	b_i = ((5−3)/2, (3−3)/2, (1−3)/2) = (1, 0, −1)
//	b_u = ((5−3−1)/2, (3−3−0)/2, (1−3+1)/2) = (0.5, 0, −0.5)
//
// Test ratings and predictions:
//
//	(u0,i2) truth 3: bias 3+0.5−1 = 2.5, global mean 3, model 2.5 + 0.5·0.5 = 2.75
//	(u1,i0) truth 4: bias 3+0+1   = 4,   global mean 3, model 4.25
//	(u2,i1) truth 1: bias 3−0.5+0 = 2.5, global mean 3, model 2.75
//
//	bias:        errors −0.5, 0, 1.5     MSE (0.25+0+2.25)/3 = 5/6,  MAE 2/3
//	global mean: errors  0, −1, 2        MSE (0+1+4)/3 = 5/3,        MAE 1
//	model:       errors −0.25, 0.25, 1.75 MSE (0.0625+0.0625+3.0625)/3 = 1.0625, MAE 2.25/3 = 0.75
//
// RMSE = √MSE. (The validation ratings 4, 2, 5 must play no part: with them as truth, or in μ,
// every number changes.)
func TestEvalBehaviorKnownAnswer(t *testing.T) {
	needVocab(t)
	o := tinyOptions(t.TempDir())
	e := testEnv(o)
	ds := h2Dataset()
	sd, err := data.Split(ds)
	require.NoError(t, err)
	require.Equal(t, []string{"i0", "i1", "i2"}, sd.ItemIDs)
	tok, err := gpt2.LoadDefaultTokenizer()
	require.NoError(t, err)
	p := &prepared{sd: sd, tx: newTexts(sd), data: recData(sd), tok: tok}
	tr := behaviorRatings(&o, sd.Train)
	cfg := baseline.BiasConfig{LambdaU: 1, LambdaI: 1, Iterations: 1}
	bias, err := baseline.FitBiases(tr.Users, tr.Items, tr.Values, 3, 3, cfg)
	require.NoError(t, err)
	require.InDelta(t, 3, bias.Mean(), 1e-12)
	h := &headsOut{bias: bias, biasSel: baseline.BiasSelection{Config: cfg}, alpha: 0.5, beh: constantHead(t, 0.5)}
	defer h.free()

	b, err := evalBehavior(e, p, h)
	require.NoError(t, err)
	check := func(name string, got eval.Regression, mse, mae float64) {
		t.Helper()
		assert.Equal(t, 3, got.N, name)
		assert.InDelta(t, mse, got.MSE, 1e-6, name+" MSE")
		assert.InDelta(t, math.Sqrt(mse), got.RMSE, 1e-6, name+" RMSE")
		assert.InDelta(t, mae, got.MAE, 1e-6, name+" MAE")
	}
	check("user+item bias", b.UserItemBias, 5.0/6, 2.0/3)
	check("global mean", b.GlobalMean, 5.0/3, 1)
	check("model", b.Model, 1.0625, 0.75)
	assert.Equal(t, 1.0, b.BiasLambdaU)
	assert.Equal(t, 1.0, b.BiasLambdaI)
	assert.Equal(t, 0.5, b.Alpha)
}
