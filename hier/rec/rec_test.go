package rec

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hier-ai/hier/torch"
)

// handData: 3 users, 6 items.
//
//	user 0: train [0 1 2], valid 3, test 4
//	user 1: train [2 3],   valid 0, test 5
//	user 2: train [5],     no held-out items (train-only)
func handData() *Data {
	return &Data{NumUsers: 3, NumItems: 6,
		Train:     [][]int{{0, 1, 2}, {2, 3}, {5}},
		ValidItem: []int{3, 0, -1},
		TestItem:  []int{4, 5, -1},
	}
}

func TestDataProtocol(t *testing.T) {
	d := handData()
	require.NoError(t, d.Validate())
	assert.Equal(t, []int{0, 1, 2}, d.History(0, Valid))
	assert.Equal(t, []int{0, 1, 2, 3}, d.History(0, Test))
	assert.Equal(t, []int{0, 1, 2}, d.Train[0], "History must not modify the training slice")
	assert.Equal(t, []int{0, 1}, d.EvalUsers(Test))
	assert.Equal(t, []int{1, 1, 2, 1, 0, 1}, d.ItemCounts())
	assert.Equal(t, 6, d.NumTrain())

	bad := handData()
	bad.ValidItem[1] = 6
	assert.ErrorContains(t, bad.Validate(), "user 1: valid item 6")
	bad = handData()
	bad.Train[2] = []int{-1}
	assert.ErrorContains(t, bad.Validate(), "user 2: train item -1")
	bad = handData()
	bad.TestItem = bad.TestItem[:2]
	assert.ErrorContains(t, bad.Validate(), "3 users")
}

func TestRankUsersMasksHistoryAndTiesArePessimistic(t *testing.T) {
	d := handData()
	// Test stage. User 0 (history 0,1,2,3 masked; target 4):
	//   scores 9 9 9 9 | 1 | 1   → candidates 4 (1) and 5 (1): a tie, so rank 1 (pessimistic).
	// User 1 (history 2, 3 and the validation item 0 masked; target 5):
	//   scores 5 3 9 9 | 4 | 3   → item 4 (4) scores higher and item 1 (3) ties: rank 2.
	scores := &Matrix{Rows: 2, Cols: 6, Data: []float32{
		9, 9, 9, 9, 1, 1,
		5, 3, 9, 9, 4, 3,
	}}
	r, err := d.RankUsers([]int{0, 1}, scores, Test)
	require.NoError(t, err)
	assert.Equal(t, []int{0, 1}, r.Users)
	assert.Equal(t, []int{1, 2}, r.Ranks)
	m := r.Metrics()
	// HR@5 = 1; NDCG@5 = (1/log2(3) + 1/log2(4)) / 2 = (0.6309298 + 0.5) / 2; MRR = (1/2 + 1/3) / 2.
	assert.InDelta(t, 1.0, m["hr@5"], 1e-12)
	assert.InDelta(t, (1/math.Log2(3)+0.5)/2, m["ndcg@5"], 1e-12)
	assert.InDelta(t, (0.5+1.0/3)/2, m["mrr"], 1e-12)

	_, err = d.RankUsers([]int{0}, scores, Test)
	assert.ErrorContains(t, err, "scores [2, 6] for 1 users")
}

func TestAllEqualScoresGiveNoHits(t *testing.T) {
	// 100 items, every score equal: the pessimistic rule ranks the held-out item last among the
	// 100 - |history| candidates, whatever its index, so HR@10 is 0.
	const items = 100
	d := &Data{NumUsers: items, NumItems: items, Train: make([][]int, items), ValidItem: make([]int, items), TestItem: make([]int, items)}
	for u := range items {
		d.Train[u] = []int{(u + 1) % items}
		d.ValidItem[u] = (u + 2) % items
		d.TestItem[u] = u
	}
	uv, iv := NewMatrix(items, 1), NewMatrix(items, 1)
	r, err := RankVectors(d, d.EvalUsers(Test), uv, iv, Test)
	require.NoError(t, err)
	for _, x := range r.Ranks {
		assert.Equal(t, items-3, x)
	}
	assert.Equal(t, 0.0, r.Metrics()["hr@10"])
}

func TestSlices(t *testing.T) {
	// 5 users with 2, 3, 5, 8 and 4 training items over 10 items.
	d := &Data{NumUsers: 5, NumItems: 10,
		Train:     [][]int{{0, 1}, {0, 1, 2}, {0, 1, 2, 3, 4}, {0, 1, 2, 3, 4, 5, 6, 7}, {0, 9, 9, 9}},
		ValidItem: []int{-1, 8, 8, 8, 8},
		TestItem:  []int{-1, 9, 0, 5, 1},
	}
	// Counts: item 0: 5, 1: 4, 2: 3, 9: 3, 3: 2, 4: 2, 5..7: 1, 8: 0. Head = top 20% = 2 items:
	// 0 and 1.
	s := NewSliceDefs(d)
	assert.True(t, s.Popular(0))
	assert.True(t, s.Popular(1))
	assert.False(t, s.Popular(9))
	r := Ranks{Users: []int{1, 2, 3, 4}, Ranks: []int{0, 9, 10, 3}}
	got := map[string]Slice{}
	for _, x := range s.Table(d, r, Test) {
		got[x.Name] = x
	}
	// users_train_3-4: users 1 (rank 0) and 4 (rank 3): HR@10 1, NDCG@10 (1 + 1/log2(5))/2.
	assert.Equal(t, 2, got["users_train_3-4"].N)
	assert.InDelta(t, 1.0, got["users_train_3-4"].HR10, 1e-12)
	assert.InDelta(t, (1+1/math.Log2(5))/2, got["users_train_3-4"].NDCG10, 1e-12)
	// users_train_5-7: user 2 (rank 9): HR 1, NDCG 1/log2(11). users_train_8+: user 3, rank 10: 0.
	assert.InDelta(t, 1/math.Log2(11), got["users_train_5-7"].NDCG10, 1e-12)
	assert.Equal(t, 0.0, got["users_train_8+"].HR10)
	// Items: head targets are 0 (user 2) and 1 (user 4); tail 9 (user 1) and 5 (user 3).
	assert.Equal(t, 2, got["items_head20"].N)
	assert.InDelta(t, (1/math.Log2(11)+1/math.Log2(5))/2, got["items_head20"].NDCG10, 1e-12)
	assert.InDelta(t, 0.5, got["items_tail80"].HR10, 1e-12)
	_, ok := got["users_train_1-2"]
	assert.False(t, ok, "user 0 has no test item, so the 1-2 slice is empty and omitted")
}

func TestVariants(t *testing.T) {
	var names []string
	for _, v := range Variants(FamilyCF, FamilySeq) {
		names = append(names, v.Name)
		assert.Equal(t, len(v.Levels) == 0, v.IDOnly(), v.Name)
	}
	assert.Equal(t, []string{"mf", "cf_h0", "cf_h0_h1", "cf_h0_h2", "cf_h", "sasrec", "seq_h0", "seq_h0_h1", "seq_h0_h2", "seq_h"}, names)
}

func TestConfigErrors(t *testing.T) {
	d := handData()
	for name, c := range map[string]Config{
		"unknown loss \"hinge\"":       {Loss: "hinge"},
		"dropout must be in [0, 1)":    {Dropout: 1},
		"weight_decay must be >= 0":    {WeightDecay: -1},
		"dim 30 is not a multiple":     {Dim: 30, Heads: 4},
		"unknown fusion":               {Fusion: "sum of squares"},
		"trains with the softmax loss": {Loss: LossBPR},
	} {
		_, err := New(Variant{Name: "sasrec", Family: FamilySeq}, d, nil, c)
		assert.ErrorContains(t, err, name)
	}
	_, err := New(Variant{Name: "x", Family: "knn"}, d, nil, Config{})
	assert.ErrorContains(t, err, "unknown family")
	_, err = New(Variant{Name: "cf_h0", Family: FamilyCF, Levels: []string{"h0"}}, d, &Features{}, Config{})
	assert.ErrorContains(t, err, "level h0 has no features")
	_, err = New(Variant{Name: "cf_h0", Family: FamilyCF, Levels: []string{"h0"}}, d, &Features{Levels: map[string]*Matrix{"h0": NewMatrix(2, 4)}}, Config{})
	assert.ErrorContains(t, err, "level h0 has 2 rows for 3 users")
	_, err = New(Variant{Name: "cf_t", Family: FamilyCF, Text: true}, d, &Features{}, Config{})
	assert.ErrorContains(t, err, "no item text")
}

// TestConfigValidateFamily: Validate checks a candidate without building a model, with the rules
// of its family only: n_head (and the softmax loss) concern the sequential model, not CF.
func TestConfigValidateFamily(t *testing.T) {
	odd := Config{Dim: 64, Heads: 3, Loss: LossBPR}
	assert.NoError(t, odd.Validate(FamilyCF), "CF reads no n_head")
	assert.ErrorContains(t, Config{Dim: 64, Heads: 3}.Validate(FamilySeq), "dim 64 is not a multiple of n_head 3")
	assert.ErrorContains(t, Config{Loss: LossBPR}.Validate(FamilySeq), "softmax loss")
	assert.ErrorContains(t, Config{Dropout: 1}.Validate(FamilyCF), "dropout must be in [0, 1)")
	assert.ErrorContains(t, Config{}.Validate("knn"), "unknown family")
	assert.NoError(t, Config{}.Validate(FamilySeq), "the defaults are valid")
	err := Config{Dim: 30, Heads: 4}.Validate(FamilySeq)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "rec:", "no package prefix: the caller names the option")

	// New agrees: a CF model builds with an n_head that does not divide dim.
	m, err := New(Variant{Name: "mf", Family: FamilyCF}, handData(), nil, odd)
	require.NoError(t, err)
	m.Free()
}

// clusters: users 0..2g-1 in two groups; group A interacts with items 0-4, group B with 5-9.
// Each user's held-out items are unseen items of their own group, so any model that learns
// the two groups ranks them in the top 3 of the 7 unseen candidates... and a random one does not.
func clusters(g int, rng *rand.Rand) *Data {
	d := &Data{NumUsers: 2 * g, NumItems: 10}
	for u := range 2 * g {
		base := 5 * (u % 2)
		perm := rng.Perm(5)
		var train []int
		for _, p := range perm[:3] {
			train = append(train, base+p)
		}
		d.Train = append(d.Train, train)
		d.ValidItem = append(d.ValidItem, base+perm[3])
		d.TestItem = append(d.TestItem, base+perm[4])
	}
	return d
}

func TestCFLearnsGroups(t *testing.T) {
	d := clusters(40, rand.New(rand.NewPCG(1, 2)))
	for _, loss := range []Loss{LossBPR, LossSoftmax, LossSampledSoftmax} {
		t.Run(string(loss), func(t *testing.T) {
			cfg := Config{Dim: 8, LR: 0.05, Loss: loss, MaxEpochs: 30, Patience: 30, BatchSize: 32, Seed: 7}
			m, err := New(Variant{Name: "mf", Family: FamilyCF}, d, nil, cfg)
			require.NoError(t, err)
			defer m.Free()
			hist, err := Fit(context.Background(), m, d, cfg, nil)
			require.NoError(t, err)
			require.NotEmpty(t, hist)
			assert.Less(t, hist[len(hist)-1].Loss, hist[0].Loss, "training loss falls")
			r, err := Rank(m, d, Test)
			require.NoError(t, err)
			// Each test item has 1 in-group and 5 out-of-group unmasked competitors (history
			// and the validation item are masked): a model that learned the groups puts it in
			// the top 2; chance would give HR@2 = 2/6.
			hr2 := 0.0
			for _, x := range r.Ranks {
				if x < 2 {
					hr2++
				}
			}
			assert.Greater(t, hr2/float64(len(r.Ranks)), 0.9)
		})
	}
}

func TestCFReadsLevelsAndText(t *testing.T) {
	// The group is only visible in the features: users' h0 is their group's sign, items' text
	// is theirs, and no user shares ID-level information (each user has a single training item,
	// and an ID-only model trained for 0 epochs could not know the group).
	rng := rand.New(rand.NewPCG(3, 4))
	d := clusters(40, rng)
	h0 := NewMatrix(d.NumUsers, 2)
	for u := range d.NumUsers {
		h0.Row(u)[u%2] = 1
	}
	x := NewMatrix(d.NumItems, 2)
	for i := range d.NumItems {
		x.Row(i)[i/5] = 1
	}
	f := &Features{Levels: map[string]*Matrix{"h0": h0}, ItemText: x}
	for _, fusion := range []Fusion{FusionGate, FusionConcat, FusionWeighted} {
		cfg := Config{Dim: 8, LR: 0.05, Loss: LossSoftmax, MaxEpochs: 20, Patience: 20, BatchSize: 32, Seed: 7, Fusion: fusion}
		m, err := New(Variant{Name: "cf_h0", Family: FamilyCF, Levels: []string{"h0"}, Text: true}, d, f, cfg)
		require.NoError(t, err)
		_, err = Fit(context.Background(), m, d, cfg, nil)
		require.NoError(t, err)
		r, err := Rank(m, d, Test)
		require.NoError(t, err)
		m.Free()
		assert.Greater(t, r.Metrics()["hr@5"], 0.9, fusion)
	}
}

// cycle: every user walks items in the order i, i+1, … (mod I) from a random start, so the next
// item is determined by the last one: a sequential model must learn it, a non-sequential one
// cannot (every item is equally popular and co-occurs with its neighbours on both sides).
func cycle(users, items, length int, rng *rand.Rand) *Data {
	d := &Data{NumUsers: users, NumItems: items}
	for range users {
		s := rng.IntN(items)
		var tr []int
		for k := range length - 2 {
			tr = append(tr, (s+k)%items)
		}
		d.Train = append(d.Train, tr)
		d.ValidItem = append(d.ValidItem, (s+length-2)%items)
		d.TestItem = append(d.TestItem, (s+length-1)%items)
	}
	return d
}

func TestSeqLearnsNextItem(t *testing.T) {
	d := cycle(60, 20, 8, rand.New(rand.NewPCG(5, 6)))
	cfg := Config{Dim: 16, Heads: 2, Layers: 1, LR: 0.01, Dropout: 0.1, MaxLen: 8, MaxEpochs: 40, Patience: 40, BatchSize: 16, Seed: 3}
	m, err := New(Variant{Name: "sasrec", Family: FamilySeq}, d, nil, cfg)
	require.NoError(t, err)
	defer m.Free()
	_, err = Fit(context.Background(), m, d, cfg, nil)
	require.NoError(t, err)
	r, err := Rank(m, d, Test)
	require.NoError(t, err)
	// The test item follows the validation item, which the model reads at the test stage.
	assert.Greater(t, r.Metrics()["hr@5"], 0.9)
	assert.Greater(t, r.Metrics()["mrr"], 0.7)
}

func TestSeqUserTokenAndText(t *testing.T) {
	d := cycle(30, 12, 6, rand.New(rand.NewPCG(7, 8)))
	f := &Features{
		Levels:   map[string]*Matrix{"h0": randMatrix(30, 5, 1), "h1": randMatrix(30, 3, 2)},
		ItemText: randMatrix(12, 4, 3),
	}
	cfg := Config{Dim: 8, Heads: 2, Layers: 1, LR: 0.01, MaxLen: 6, MaxEpochs: 3, Patience: 3, BatchSize: 8, Seed: 3}
	v := Variant{Name: "seq_h0_h1", Family: FamilySeq, Levels: []string{"h0", "h1"}, Text: true}
	m, err := New(v, d, f, cfg)
	require.NoError(t, err)
	defer m.Free()
	_, err = Fit(context.Background(), m, d, cfg, nil)
	require.NoError(t, err)
	u, items, err := m.Vectors([]int{0, 5}, Test)
	require.NoError(t, err)
	assert.Equal(t, [2]int{2, 9}, [2]int{u.Rows, u.Cols})
	assert.Equal(t, [2]int{12, 9}, [2]int{items.Rows, items.Cols})
	// Scoring one user alone or in a batch gives the same vector (padding does not leak).
	u0, _, err := m.Vectors([]int{0}, Test)
	require.NoError(t, err)
	assert.InDeltaSlice(t, toF64(u.Row(0)), toF64(u0.Row(0)), 1e-5)
}

func randMatrix(rows, cols int, seed uint64) *Matrix {
	rng := rand.New(rand.NewPCG(seed, 99))
	m := NewMatrix(rows, cols)
	for i := range m.Data {
		m.Data[i] = float32(rng.NormFloat64())
	}
	return m
}

func toF64(xs []float32) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out
}

// peakModel is a Model whose validation quality depends only on its parameter p, which Loss
// sets to the epoch number (not through the optimizer: the loss is 0·p, so AdamW leaves it). The
// held-out item ranks first only when p == 3, so Fit must end with p restored to 3.
type peakModel struct {
	p     *torch.Tensor
	d     *Data
	epoch float64
}

func (m *peakModel) Params() []*torch.Tensor { return []*torch.Tensor{m.p} }
func (m *peakModel) Train(bool)              {}
func (m *peakModel) NumExamples() int        { return 1 }
func (m *peakModel) Free()                   { m.p.Free() }
func (m *peakModel) Loss(s *torch.Scope, _ []int, _ *rand.Rand) (*torch.Tensor, error) {
	m.epoch++
	v := s.Track(torch.MustFromSlice([]float32{float32(m.epoch)}))
	if err := m.p.CopyFrom(v); err != nil {
		return nil, err
	}
	return s.Track(torch.Must(m.p.MulScalar(0))).MustSum(), nil
}
func (m *peakModel) Vectors(users []int, _ Stage) (*Matrix, *Matrix, error) {
	p := torch.Must(m.p.Float32s())[0]
	u := NewMatrix(len(users), 1)
	for k := range users {
		u.Data[k] = 1
	}
	items := NewMatrix(m.d.NumItems, 1)
	for i := range items.Data {
		items.Data[i] = float32(i) // the highest index wins…
	}
	if p == 3 {
		items.Data[m.d.ValidItem[0]] = 100 // …except at the peak, where the validation item does
	}
	return u, items, nil
}

func TestFitRestoresBestEpoch(t *testing.T) {
	d := &Data{NumUsers: 1, NumItems: 5, Train: [][]int{{0}}, ValidItem: []int{1}, TestItem: []int{2}}
	p := torch.MustFromSlice([]float32{0})
	require.NoError(t, p.SetRequiresGrad(true))
	m := &peakModel{p: p, d: d}
	defer m.Free()
	hist, err := Fit(context.Background(), m, d, Config{LR: 0.1, MaxEpochs: 10, Patience: 4}, nil)
	require.NoError(t, err)
	// Epochs 1-2 and 4-7: the validation item (1) is behind items 2, 3, 4 → rank 3; epoch 3: rank 0.
	// Patience 4 stops after epoch 7.
	require.Len(t, hist, 7)
	assert.Equal(t, 1.0, hist[2].ValidNDCG)
	assert.InDelta(t, 1/math.Log2(5), hist[0].ValidNDCG, 1e-12)
	got := torch.Must(p.Float32s())[0]
	assert.Equal(t, float32(3), got, "the best epoch's parameters are restored")
}
