package rec

// Known-answer tests: each case is small enough to work out by hand, the arithmetic is in the
// comments, and each fails when the formula or update it guards changes by one term.

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hier-ai/hier/hier/eval"
	"github.com/hier-ai/hier/torch"
)

// kaData: 3 users, 6 items, every user evaluated at both stages.
//
//	user 0: train [0 1], valid 2, test 3
//	user 1: train [2 3], valid 4, test 5
//	user 2: train [5],   valid 0, test 1
func kaData() *Data {
	return &Data{NumUsers: 3, NumItems: 6,
		Train:     [][]int{{0, 1}, {2, 3}, {5}},
		ValidItem: []int{2, 4, 0},
		TestItem:  []int{3, 5, 1},
	}
}

// kaVectors are user vectors [3, 3] and item vectors [6, 3] (D = 2, the item bias in the last
// column, every user's last column 1) whose dot products are the score matrix
//
//	item      0  1  2  3  4  5
//	user 0    9  9  5  5  1  7
//	user 1    3  2  8  8  6  3
//	user 2    4  4  4  6  0  9
//
// With users p0 = [1 0 1], p1 = [0 1 1], p2 = [1 1 1] and item i = [a_i, c_i, b_i], the scores
// are a+b, c+b and a+c+b, so b = s0+s1−s2, a = s2−s1, c = s2−s0; e.g. item 0: b = 9+3−4 = 8,
// a = 4−3 = 1, c = 4−9 = −5 (check: 1+8 = 9, −5+8 = 3, 1−5+8 = 4).
func kaVectors() (users, items *Matrix) {
	users = &Matrix{Rows: 3, Cols: 3, Data: []float32{
		1, 0, 1,
		0, 1, 1,
		1, 1, 1,
	}}
	items = &Matrix{Rows: 6, Cols: 3, Data: []float32{
		1, -5, 8, // item 0: scores 9 3 4
		2, -5, 7, // item 1: 9 2 4
		-4, -1, 9, // item 2: 5 8 4
		-2, 1, 7, // item 3: 5 8 6
		-6, -1, 7, // item 4: 1 6 0
		6, 2, 1, // item 5: 7 3 9
	}}
	return users, items
}

// TestRankVectorsKnownAnswer follows the path that produces the reported numbers: vectors →
// RankVectors (libtorch dot products, history masked, pessimistic ties) → Ranks.Metrics.
//
// Validation stage (history = training items):
//
//	user 0: masked {0,1}; target 2 (5) vs 3 (5, tie), 4 (1), 5 (7, higher)     → rank 1+1 = 2
//	user 1: masked {2,3}; target 4 (6) vs 0 (3), 1 (2), 5 (3)                   → rank 0
//	user 2: masked {5};   target 0 (4) vs 1 (4, tie), 2 (4, tie), 3 (6), 4 (0) → rank 1+2 = 3
//
// Test stage (history = training items + the validation item):
//
//	user 0: masked {0,1,2}; target 3 (5) vs 4 (1), 5 (7, higher)               → rank 1
//	        (unmasked, the validation item 2 would tie: rank 2)
//	user 1: masked {2,3,4}; target 5 (3) vs 0 (3, tie), 1 (2)                  → rank 1
//	        (optimistic ties would give 0; unmasked, item 4 (6) would add 1)
//	user 2: masked {5,0};   target 1 (4) vs 2 (4, tie), 3 (6), 4 (0)           → rank 2
//	        (unmasked, the validation item 0 would tie: rank 3)
//
// Per user, with 6 items every rank is < 5, so HR@5 = HR@10 = HR@20 = 1, and
//
//	NDCG@K = 1/log2(rank+2), MRR term = 1/(rank+1):
//	rank 0: 1, 1;  rank 1: 1/log2(3) = 0.6309298, 1/2;  rank 2: 1/log2(4) = 0.5, 1/3;
//	rank 3: 1/log2(5) = 0.4306766, 1/4.
//
// Test:  ranks [1 1 2]: NDCG@K = (0.6309298·2 + 0.5)/3 = 0.5872865, MRR = (1/2+1/2+1/3)/3 = 4/9,
// and with cut-offs 1, 2, 3: HR@1 = 0, HR@2 = 2/3, HR@3 = 1.
// Valid: ranks [2 0 3]: NDCG@K = (0.5 + 1 + 0.4306766)/3 = 0.6435589, MRR = (1/3+1+1/4)/3 = 19/36.
func TestRankVectorsKnownAnswer(t *testing.T) {
	d := kaData()
	require.NoError(t, d.Validate())
	uv, iv := kaVectors()

	// The scores themselves: user·itemᵀ.
	sc, err := DotScores(uv, iv)
	require.NoError(t, err)
	assert.Equal(t, []float32{9, 9, 5, 5, 1, 7, 3, 2, 8, 8, 6, 3, 4, 4, 4, 6, 0, 9}, sc.Data)

	lg3, lg5 := math.Log2(3), math.Log2(5)
	for _, tc := range []struct {
		st          Stage
		ranks       []int
		ndcg, mrr   float64
		perUserNDCG []float64
	}{
		{Test, []int{1, 1, 2}, (2/lg3 + 0.5) / 3, 4.0 / 9, []float64{1 / lg3, 1 / lg3, 0.5}},
		{Valid, []int{2, 0, 3}, (0.5 + 1 + 1/lg5) / 3, 19.0 / 36, []float64{0.5, 1, 1 / lg5}},
	} {
		t.Run(tc.st.String(), func(t *testing.T) {
			users := d.EvalUsers(tc.st)
			require.Equal(t, []int{0, 1, 2}, users)
			r, err := RankVectors(d, users, uv, iv, tc.st)
			require.NoError(t, err)
			assert.Equal(t, []int{0, 1, 2}, r.Users)
			assert.Equal(t, tc.ranks, r.Ranks)
			m := r.Metrics()
			assert.Len(t, m, 7)
			for _, k := range []string{"5", "10", "20"} {
				assert.Equal(t, 1.0, m["hr@"+k], "hr@"+k)
				assert.InDelta(t, tc.ndcg, m["ndcg@"+k], 1e-12, "ndcg@"+k)
			}
			assert.InDelta(t, tc.mrr, m["mrr"], 1e-12)
			assert.InDelta(t, tc.ndcg, r.NDCG10(), 1e-12)
			assert.InDeltaSlice(t, tc.perUserNDCG, eval.PerUserNDCG(r.Ranks, 10), 1e-12)
		})
	}
	r, err := RankVectors(d, d.EvalUsers(Test), uv, iv, Test)
	require.NoError(t, err)
	small := eval.RankingReport(r.Ranks, []int{1, 2, 3})
	assert.Equal(t, 0.0, small["hr@1"])
	assert.InDelta(t, 2.0/3, small["hr@2"], 1e-12)
	assert.Equal(t, 1.0, small["hr@3"])
	// NDCG@2 = (1/log2(3)·2 + 0)/3: user 2's rank 2 is outside the top 2.
	assert.InDelta(t, 2/lg3/3, small["ndcg@2"], 1e-12)
}

// TestPopularityVectorsKnownAnswer: popularity, as evaluateRecommenders ranks it, counts training
// interactions only. On kaData the training counts are
//
//	item   0 1 2 3 4 5
//	count  1 1 1 1 0 1      (item 4 is only user 1's validation item: count 0, not 1)
//
// Test ranks (pessimistic ties):
//
//	user 0: masked {0,1,2}; target 3 (1) vs 4 (0), 5 (1, tie)        → 1
//	user 1: masked {2,3,4}; target 5 (1) vs 0 (1), 1 (1), both ties  → 2
//	user 2: masked {5,0};   target 1 (1) vs 2 (1), 3 (1) ties, 4 (0) → 2
//
// MRR = (1/2 + 1/3 + 1/3)/3 = 7/18; NDCG@10 = (1/log2(3) + 0.5 + 0.5)/3.
func TestPopularityVectorsKnownAnswer(t *testing.T) {
	d := kaData()
	pu, pi := PopularityVectors(d)
	assert.Equal(t, []float32{1, 1, 1}, pu.Data)
	assert.Equal(t, []float32{1, 1, 1, 1, 0, 1}, pi.Data)
	users := d.EvalUsers(Test)
	r, err := RankVectors(d, users, pu, pi, Test)
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2, 2}, r.Ranks)
	assert.InDelta(t, 7.0/18, r.Metrics()["mrr"], 1e-12)
	assert.InDelta(t, (1/math.Log2(3)+1)/3, r.Metrics()["ndcg@10"], 1e-12)
}

// bprData: 2 users, 3 items; each user's single non-interacted item is its only possible BPR
// negative, so the negatives are known: user 0 trains on {0, 1} (negative 2), user 1 on {1, 2}
// (negative 0). The training pairs, in order: (0,0) (0,1) (1,1) (1,2).
func bprData() *Data {
	return &Data{NumUsers: 2, NumItems: 3, Train: [][]int{{0, 1}, {1, 2}}, ValidItem: []int{-1, -1}, TestItem: []int{-1, -1}}
}

// bprModel is the "mf" variant under LossBPR with D = 2 and the hand-set parameters
//
//	p0 = [1 2], p1 = [0.5 −1];  q0 = [1 0], q1 = [0 1], q2 = [0.5 0.5];  b = [0.5 0.25 −0.5].
func bprModel(t *testing.T, d *Data, cfg Config) *cf {
	t.Helper()
	m, err := New(Variant{Name: "mf", Family: FamilyCF}, d, nil, cfg)
	require.NoError(t, err)
	c := m.(*cf)
	for _, x := range []struct {
		dst  *torch.Tensor
		vals []float32
		dims []int64
	}{
		{c.user, []float32{1, 2, 0.5, -1}, []int64{2, 2}},
		{c.item, []float32{1, 0, 0, 1, 0.5, 0.5}, []int64{3, 2}},
		{c.bias, []float32{0.5, 0.25, -0.5}, []int64{3}},
	} {
		src := torch.MustFromSlice(x.vals, x.dims...)
		require.NoError(t, x.dst.CopyFrom(src))
		src.Free()
	}
	return c
}

// bprHand is the hand computation of the BPR loss over all four pairs and its gradients.
//
// Scores s = p·q + b:  user 0: [1.5 2.25 1.0];  user 1: [1.0 −0.75 −0.75].
// x = s_ui − s_uj per pair:  (0,0,j=2) 0.5;  (0,1,j=2) 1.25;  (1,1,j=0) −1.75;  (1,2,j=0) −1.75.
// Loss = mean −log σ(x) = (softplus(−0.5) + softplus(−1.25) + 2·softplus(1.75))/4
//
//	= (0.4740770 + 0.2519291 + 2·1.9102242)/4 = 1.1366136.
//
// With g_k = σ(−x_k) (g1 = σ(−0.5) = 0.3775407, g2 = σ(−1.25) = 0.2227001, g3 = σ(1.75) =
// 0.8519528 for both of user 1's pairs), ∂L/∂x_k = −g_k/4 and x = p_u·(q_i − q_j) + b_i − b_j:
//
//	∂p0 = −(g1(q0−q2) + g2(q1−q2))/4 = [(g2−g1)/8, (g1−g2)/8]        = [−0.0193551  0.0193551]
//	∂p1 = −g3((q1−q0) + (q2−q0))/4   = [1.5·g3/4, −1.5·g3/4]          = [ 0.3194823 −0.3194823]
//	∂q0 = (−g1·p0 + 2·g3·p1)/4       = [(g3−g1)/4, −(2g1+2g3)/4]      = [ 0.1186030 −0.6147467]
//	∂q1 = −(g2·p0 + g3·p1)/4         = [−(g2+g3/2)/4, −(2g2−g3)/4]    = [−0.1621691  0.1016381]
//	∂q2 = ((g1+g2)·p0 − g3·p1)/4     = [(g1+g2−g3/2)/4, (2(g1+g2)+g3)/4] = [0.0435661 0.5131086]
//	∂b  = [(2g3−g1)/4, −(g2+g3)/4, (g1+g2−g3)/4]                     = [0.3315912 −0.2686632 −0.0629280]
//
// There is no L2 term in the loss: regularisation is AdamW's decoupled weight decay.
func bprHand() (loss float64, gUser, gItem, gBias []float64) {
	sig := func(z float64) float64 { return 1 / (1 + math.Exp(-z)) }
	sp := func(z float64) float64 { return math.Log1p(math.Exp(z)) }
	g1, g2, g3 := sig(-0.5), sig(-1.25), sig(1.75)
	loss = (sp(-0.5) + sp(-1.25) + 2*sp(1.75)) / 4
	gUser = []float64{(g2 - g1) / 8, (g1 - g2) / 8, 1.5 * g3 / 4, -1.5 * g3 / 4}
	gItem = []float64{
		(g3 - g1) / 4, -(2*g1 + 2*g3) / 4,
		-(g2 + g3/2) / 4, -(2*g2 - g3) / 4,
		(g1 + g2 - g3/2) / 4, (2*(g1+g2) + g3) / 4,
	}
	gBias = []float64{(2*g3 - g1) / 4, -(g2 + g3) / 4, (g1 + g2 - g3) / 4}
	return loss, gUser, gItem, gBias
}

func values(t *testing.T, x *torch.Tensor) []float64 {
	t.Helper()
	v, err := x.Float32s()
	require.NoError(t, err)
	return toF64(v)
}

// TestCFBPRLossAndGradients checks the BPR loss of the cf model (what the pipeline trains as
// "mf" with loss bpr) and the gradients right after backward, before any optimizer step.
func TestCFBPRLossAndGradients(t *testing.T) {
	d := bprData()
	m := bprModel(t, d, Config{Dim: 2, Loss: LossBPR, Seed: 1})
	defer m.Free()
	require.Equal(t, 4, m.NumExamples())
	assert.Equal(t, []int64{0, 0, 1, 1}, m.pairU)
	assert.Equal(t, []int64{0, 1, 1, 2}, m.pairI)
	m.Train(true)
	want, gUser, gItem, gBias := bprHand()

	s := torch.NewScope()
	defer s.Close()
	l, err := m.Loss(s, []int{0, 1, 2, 3}, rand.New(rand.NewPCG(1, 2)))
	require.NoError(t, err)
	got, err := l.Item()
	require.NoError(t, err)
	assert.InDelta(t, want, got, 1e-6, "loss")
	require.NoError(t, l.Backward())
	for _, x := range []struct {
		name string
		p    *torch.Tensor
		want []float64
	}{{"p", m.user, gUser}, {"q", m.item, gItem}, {"b", m.bias, gBias}} {
		g, err := x.p.Grad()
		require.NoError(t, err)
		require.NotNil(t, g, x.name)
		assert.InDeltaSlice(t, x.want, values(t, g), 1e-6, "∂L/∂%s", x.name)
		g.Free()
	}
}

// TestCFBPRFirstAdamWStep: Fit with one epoch of one batch (all four pairs) takes exactly one
// AdamW step, and (the only epoch being the best) keeps it. The first AdamW step with the
// default betas has m̂ = g and v̂ = g², so
//
//	p ← p·(1 − lr·wd) − lr·g/(|g| + 1e-8)
//
// With lr = 0.1 and wd = 0.5 every parameter shrinks by 5% and moves 0.1 against the sign of its
// gradient (every gradient of bprHand is non-zero), e.g. p0[0] = 1·0.95 + 0.1 = 1.05 (∂ < 0) and
// b2 = −0.5·0.95 + 0.1 = −0.375 (∂ < 0). The epoch's reported loss is the loss before the step.
func TestCFBPRFirstAdamWStep(t *testing.T) {
	d := bprData()
	const lr, wd = 0.1, 0.5
	cfg := Config{Dim: 2, Loss: LossBPR, LR: lr, WeightDecay: wd, MaxEpochs: 1, BatchSize: 4, Seed: 3}
	m := bprModel(t, d, cfg)
	defer m.Free()
	before := [][]float64{values(t, m.user), values(t, m.item), values(t, m.bias)}
	hist, err := Fit(context.Background(), m, d, cfg, nil)
	require.NoError(t, err)
	require.Len(t, hist, 1)
	loss, gUser, gItem, gBias := bprHand()
	assert.InDelta(t, loss, hist[0].Loss, 1e-6)
	for k, x := range []struct {
		name string
		p    *torch.Tensor
		g    []float64
	}{{"p", m.user, gUser}, {"q", m.item, gItem}, {"b", m.bias, gBias}} {
		want := make([]float64, len(x.g))
		for i, g := range x.g {
			want[i] = before[k][i]*(1-lr*wd) - lr*g/(math.Abs(g)+1e-8)
		}
		assert.InDeltaSlice(t, want, values(t, x.p), 1e-6, x.name)
	}
	assert.InDeltaSlice(t, []float64{1.05, 1.8, 0.375, -0.85}, values(t, m.user), 1e-6)
	assert.InDeltaSlice(t, []float64{0.375, 0.3375, -0.375}, values(t, m.bias), 1e-6)
}

// curveModel is a Model whose validation rank at epoch e is ranks[e-1]: Loss writes the epoch
// number into its parameter p (the loss is 0·p, so AdamW leaves p alone), and Vectors puts the
// validation item of its single user at that rank among 5 unmasked candidates.
type curveModel struct {
	p     *torch.Tensor
	d     *Data
	ranks []int
	epoch int
}

func (m *curveModel) Params() []*torch.Tensor { return []*torch.Tensor{m.p} }
func (m *curveModel) Train(bool)              {}
func (m *curveModel) NumExamples() int        { return 1 }
func (m *curveModel) Free()                   { m.p.Free() }
func (m *curveModel) Loss(s *torch.Scope, _ []int, _ *rand.Rand) (*torch.Tensor, error) {
	m.epoch++
	if err := m.p.CopyFrom(s.Track(torch.MustFromSlice([]float32{float32(m.epoch)}))); err != nil {
		return nil, err
	}
	return s.Track(torch.Must(m.p.MulScalar(0))).MustSum(), nil
}

// Vectors: items 2..5 score 5, 4, 3, 2 and the validation item (item 1) scores 5.5 − rank, so
// exactly rank of them score higher; item 0 (100) is the masked training item.
func (m *curveModel) Vectors(users []int, _ Stage) (*Matrix, *Matrix, error) {
	e := int(torch.Must(m.p.Float32s())[0])
	u := NewMatrix(len(users), 1)
	for k := range users {
		u.Data[k] = 1
	}
	items := &Matrix{Rows: 6, Cols: 1, Data: []float32{100, 0, 5, 4, 3, 2}}
	items.Data[1] = 5.5 - float32(m.ranks[e-1]) // rank r: behind exactly r of 5, 4, 3, 2
	return u, items, nil
}

// TestFitRestoresStrictlyBestEpoch: validation ranks per epoch 3, 1, 0, 2, 0, 3, 3, 3, i.e.
// NDCG@10 1/log2(5), 1/log2(3), 1, 1/log2(4), 1, … . The best is epoch 3; epoch 5 only ties it, so
// it is no improvement: with patience 3 the epochs without one are 4, 5, 6, and Fit stops after
// epoch 6 with epoch 3's parameter (p = 3) restored. (Keeping ties would restore p = 5 and run
// to epoch 8; no restore would leave p = 6; patience off by one would run 7 epochs.)
func TestFitRestoresStrictlyBestEpoch(t *testing.T) {
	d := &Data{NumUsers: 1, NumItems: 6, Train: [][]int{{0}}, ValidItem: []int{1}, TestItem: []int{2}}
	p := torch.MustFromSlice([]float32{0})
	require.NoError(t, p.SetRequiresGrad(true))
	m := &curveModel{p: p, d: d, ranks: []int{3, 1, 0, 2, 0, 3, 3, 3}}
	defer m.Free()
	var seen []int
	hist, err := Fit(context.Background(), m, d, Config{LR: 0.1, MaxEpochs: 8, Patience: 3}, func(st EpochStat) { seen = append(seen, st.Epoch) })
	require.NoError(t, err)
	require.Len(t, hist, 6)
	assert.Equal(t, []int{1, 2, 3, 4, 5, 6}, seen)
	want := []float64{1 / math.Log2(5), 1 / math.Log2(3), 1, 0.5, 1, 1 / math.Log2(5)}
	for k, e := range hist {
		assert.Equal(t, k+1, e.Epoch)
		assert.InDelta(t, want[k], e.ValidNDCG, 1e-12, "epoch %d", k+1)
	}
	assert.Equal(t, float32(3), torch.Must(p.Float32s())[0], "epoch 3's parameters are restored")
}

// TestSearchChoosesBestValidationConfig runs Search over three configurations of "mf" on two
// user groups: A barely trains (lr 1e-5, one epoch), B learns the groups, and C is B with a step
// cap that changes nothing (BatchSize 16 ≥ ⌈60/4⌉ = 15 pairs per capped step), so C trains exactly
// as B and ties it. Search must keep B: the best validation NDCG@10, the first on ties. The chosen
// run's validation score is the maximum of its epoch curve, at its best epoch.
func TestSearchChoosesBestValidationConfig(t *testing.T) {
	d := clusters(10, rand.New(rand.NewPCG(11, 12))) // 20 users, 10 items, 60 training pairs
	require.Equal(t, 60, d.NumTrain())
	base := Config{Dim: 4, Loss: LossSoftmax, BatchSize: 16, Patience: 20}
	a, b, c := base, base, base
	a.LR, a.MaxEpochs = 1e-5, 1
	b.LR, b.MaxEpochs = 0.05, 15
	c.LR, c.MaxEpochs, c.MaxStepsPerEpoch = 0.05, 15, 4
	v := Variant{Name: "mf", Family: FamilyCF}
	fits := 0
	res, err := Search(context.Background(), v, d, nil, []Config{a, b, c}, []uint64{5, 6}, nil, func(_ string, fit, total int, _ EpochStat) {
		fits = max(fits, fit)
		assert.Equal(t, 4, total)
	}, 0, 4)
	require.NoError(t, err)
	assert.Equal(t, 4, fits, "three candidates, then the second seed")
	require.Len(t, res.Candidates, 3)
	ca, cb, cc := res.Candidates[0], res.Candidates[1], res.Candidates[2]
	assert.Greater(t, cb.ValidNDCG, ca.ValidNDCG+0.1, "B learns, A does not")
	assert.Equal(t, cb.ValidNDCG, cc.ValidNDCG, "C trains exactly as B")
	assert.Equal(t, 0, res.Config.MaxStepsPerEpoch, "the first of the tied B and C is kept")
	assert.Equal(t, 0.05, res.Config.LR)
	assert.Equal(t, cb.Config, res.Config)
	require.Len(t, res.Seeds, 2)
	s0 := res.Seeds[0]
	assert.Equal(t, uint64(5), s0.Seed)
	assert.Equal(t, cb.ValidNDCG, s0.ValidNDCG, "the first seed's run is the chosen candidate's")
	best, bestEpoch := math.Inf(-1), 0
	for _, e := range s0.History {
		if e.ValidNDCG > best {
			best, bestEpoch = e.ValidNDCG, e.Epoch
		}
	}
	assert.Equal(t, best, s0.ValidNDCG)
	assert.Equal(t, bestEpoch, s0.BestEpoch)
	assert.Equal(t, uint64(6), res.Seeds[1].Seed)
	assert.Equal(t, d.EvalUsers(Test), s0.Test.Users)
	assert.InDelta(t, (s0.ValidNDCG+res.Seeds[1].ValidNDCG)/2, res.MeanValidNDCG(), 1e-12)
}

// TestTrainingExamplesUseTrainOnly plants item 5 only as held-out items (user 0's validation item
// and user 1's test item): no training pair, sequence input or target, count or logQ may see it,
// and no user's training examples may contain its own validation or test item.
//
//	user 0: train [0 1 2], valid 5, test 3
//	user 1: train [3 4],   valid 0, test 5
//	user 2: train [1 2 4], valid 3, test 0
//
// Training counts: item 0: 1, 1: 2, 2: 2, 3: 1, 4: 2, 5: 0 (8 pairs); sampled softmax's
// log Q(i) = log(max(count, 1)/8), so item 5's is log(1/8), not log(1/8 + anything held out).
func TestTrainingExamplesUseTrainOnly(t *testing.T) {
	d := &Data{NumUsers: 3, NumItems: 6,
		Train:     [][]int{{0, 1, 2}, {3, 4}, {1, 2, 4}},
		ValidItem: []int{5, 0, 3},
		TestItem:  []int{3, 5, 0},
	}
	require.NoError(t, d.Validate())
	assert.Equal(t, []int{1, 2, 2, 1, 2, 0}, d.ItemCounts())
	heldOut := func(u, i int) bool { return i == d.ValidItem[u] || i == d.TestItem[u] }

	m, err := New(Variant{Name: "mf", Family: FamilyCF}, d, nil, Config{Dim: 2, Loss: LossSampledSoftmax, Seed: 1})
	require.NoError(t, err)
	c := m.(*cf)
	var pairs [][2]int
	for k := range c.pairU {
		u, i := int(c.pairU[k]), int(c.pairI[k])
		pairs = append(pairs, [2]int{u, i})
		assert.False(t, heldOut(u, i), "training pair (%d, %d) is held out", u, i)
	}
	assert.Equal(t, [][2]int{{0, 0}, {0, 1}, {0, 2}, {1, 3}, {1, 4}, {2, 1}, {2, 2}, {2, 4}}, pairs)
	lq := values(t, c.logQ)
	for i, n := range []float64{1, 2, 2, 1, 2, 1} {
		assert.InDelta(t, math.Log(n/8), lq[i], 1e-6, "log Q(%d)", i)
	}
	m.Free()

	m, err = New(Variant{Name: "sasrec", Family: FamilySeq}, d, nil, Config{Dim: 4, Heads: 2, Layers: 1, MaxLen: 8, Seed: 1})
	require.NoError(t, err)
	defer m.Free()
	s := m.(*seq)
	for u := range d.NumUsers {
		in, tg := s.trainSeq(u)
		for _, i := range slices.Concat(in, tg) {
			assert.NotEqual(t, 5, i, "user %d reads the planted item", u)
			assert.False(t, heldOut(u, i), "user %d trains on held-out item %d", u, i)
		}
		// Next-item training: inputs are the training items but the last, targets all but the first.
		assert.Equal(t, d.Train[u][:len(d.Train[u])-1], in)
		assert.Equal(t, d.Train[u][1:], tg)
	}
}
