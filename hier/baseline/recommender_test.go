package baseline

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/hier-ai/hier/hier/eval"
)

func TestInteractionsValidate(t *testing.T) {
	good := Interactions{NumUsers: 3, NumItems: 2, UserItems: [][]int{{0, 1}, {1}}}
	if err := good.Validate(); err != nil {
		t.Errorf("valid interactions: %v", err)
	}
	if n := good.NumInteractions(); n != 3 {
		t.Errorf("NumInteractions = %d, want 3", n)
	}
	if good.Items(2) != nil || good.Items(-1) != nil {
		t.Error("Items of a user without a row should be nil")
	}
	for name, in := range map[string]Interactions{
		"item too big":  {NumUsers: 1, NumItems: 2, UserItems: [][]int{{2}}},
		"item negative": {NumUsers: 1, NumItems: 2, UserItems: [][]int{{-1}}},
		"too many rows": {NumUsers: 1, NumItems: 2, UserItems: [][]int{{0}, {1}}},
		"negative size": {NumUsers: -1},
	} {
		if in.Validate() == nil {
			t.Errorf("%s: Validate accepted %+v", name, in)
		}
	}
}

// Hand example, 4 users × 5 items:
//
//	u0: 0 1 2     u1: 1 2     u2: 2 2 4     u3: (none)
//
// counts: item0=1, item1=2, item2=4 (u2's repeat counts), item3=0, item4=1.
// Order by descending count: 2, 1, then 0 and 4 tied, then 3. Under
// eval.RankOf's pessimistic tie rule each of the tied items 0 and 4 ranks
// behind the other, so both get rank 3.
func TestPopularity(t *testing.T) {
	in := Interactions{NumUsers: 4, NumItems: 5, UserItems: [][]int{{0, 1, 2}, {1, 2}, {2, 2, 4}}}
	p, err := FitPopularity(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{1, 2, 4, 0, 1}
	for u := range 4 {
		if got := p.Scores(u); !slices.Equal(got, want) {
			t.Errorf("Scores(%d) = %v, want %v", u, got, want)
		}
	}
	if p.NumItems() != 5 || p.Count(2) != 4 {
		t.Errorf("NumItems=%d Count(2)=%v", p.NumItems(), p.Count(2))
	}
	s := p.Scores(0)
	order := make([]int, 5)
	for i := range order {
		order[i] = eval.RankOf(s, i, nil)
	}
	// order[i] is item i's rank: item2→0, item1→1, item0→3 and item4→3
	// (tied, each behind the other), item3→4.
	if wantRank := []int{3, 1, 0, 4, 3}; !slices.Equal(order, wantRank) {
		t.Errorf("popularity ranks = %v, want %v", order, wantRank)
	}
	if _, err := FitPopularity(Interactions{NumUsers: 1, NumItems: 1, UserItems: [][]int{{3}}}); err == nil {
		t.Error("FitPopularity accepted an out-of-range item")
	}
}

func TestLeaveOneOutRanks(t *testing.T) {
	// Popularity from the hand example; user 0 holds out item 4 (count 1)
	// with training items {0,1,2} masked: candidates 3 (0) and 4 (1) → rank 0.
	// User 1 holds out item 0 (count 1), masked {1,2}: candidates 0 (1),
	// 3 (0), 4 (1, an equal score, which ranks ahead under the pessimistic
	// tie rule) → rank 1. User 2 skipped.
	// User 3 (no training items) holds out item 3 (count 0): items 2,1,0,4
	// are ahead → rank 4.
	train := Interactions{NumUsers: 4, NumItems: 5, UserItems: [][]int{{0, 1, 2}, {1, 2}, {2, 2, 4}}}
	p, err := FitPopularity(train)
	if err != nil {
		t.Fatal(err)
	}
	ranks, err := LeaveOneOutRanks(p, train, []int{4, 0, -1, 3})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 1, 4}; !slices.Equal(ranks, want) {
		t.Errorf("ranks = %v, want %v", ranks, want)
	}
	if _, err := LeaveOneOutRanks(p, train, []int{5}); err == nil {
		t.Error("out-of-range held-out item accepted")
	}
	if _, err := LeaveOneOutRanks(p, train, make([]int, 5)); err == nil {
		t.Error("too many held-out entries accepted")
	}
	if _, err := LeaveOneOutRanks(p, Interactions{NumUsers: 1, NumItems: 4}, []int{0}); err == nil {
		t.Error("item-count mismatch accepted")
	}
}

// constScorer gives every item the same score.
type constScorer int

func (c constScorer) NumItems() int { return int(c) }
func (c constScorer) ScoresInto(_ int, dst []float32) {
	for i := range dst {
		dst[i] = 0.5
	}
}

// A scorer that ties everything ranks each held-out item behind all other
// unmasked items (eval.RankOf's pessimistic rule): with 100 items and no
// training items the rank is 99 for every target, so HR@10 = NDCG@10 = 0,
// although targets 0-9 would be hits under an index tie-break. With 3
// training items masked the rank is 96.
func TestLeaveOneOutRanksAllTied(t *testing.T) {
	const n = 100
	heldOut := make([]int, n)
	for u := range heldOut {
		heldOut[u] = u
	}
	train := Interactions{NumUsers: n, NumItems: n}
	ranks, err := LeaveOneOutRanks(constScorer(n), train, heldOut)
	if err != nil {
		t.Fatal(err)
	}
	for u, r := range ranks {
		if r != n-1 {
			t.Errorf("user %d: rank %d, want %d", u, r, n-1)
		}
	}
	if hr, nd := eval.HitRate(ranks, 10), eval.NDCG(ranks, 10); hr != 0 || nd != 0 {
		t.Errorf("HR@10 %v, NDCG@10 %v, want 0", hr, nd)
	}
	train.UserItems = make([][]int, n)
	for u := range train.UserItems {
		train.UserItems[u] = []int{(u + 1) % n, (u + 2) % n, (u + 3) % n}
	}
	ranks, err = LeaveOneOutRanks(constScorer(n), train, heldOut)
	if err != nil {
		t.Fatal(err)
	}
	for u, r := range ranks {
		if r != n-4 {
			t.Errorf("masked user %d: rank %d, want %d", u, r, n-4)
		}
	}
}

// BPR-MF on 4 groups × 50 users, 4 blocks × 25 items, 10 in-block items per
// user, last one held out. Popularity is flat across blocks, so it ranks the
// held-out item roughly uniformly among the 91 unmasked items (HR@10 ≈
// 10/91 ≈ 0.11); a model that learns the groups ranks it among the 16
// unmasked in-block items (HR@10 ≈ 10/16 ≈ 0.62).
func TestBPRMFBeatsPopularityOnPlantedBlocks(t *testing.T) {
	all := plantedBlocks(4, 50, 25, 10, 7)
	train, heldOut := leaveLastOut(all)

	pop, err := FitPopularity(train)
	if err != nil {
		t.Fatal(err)
	}
	popRanks, err := LeaveOneOutRanks(pop, train, heldOut)
	if err != nil {
		t.Fatal(err)
	}

	cfg := DefaultBPRConfig()
	cfg.Factors = 16
	cfg.Epochs = 40
	cfg.Seed = 42
	var losses []float64
	cfg.Progress = func(epoch int, loss float64) {
		if epoch != len(losses)+1 {
			t.Errorf("progress epoch %d after %d calls", epoch, len(losses))
		}
		losses = append(losses, loss)
	}
	m, err := FitBPRMF(context.Background(), train, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(losses) != cfg.Epochs {
		t.Fatalf("progress called %d times, want %d", len(losses), cfg.Epochs)
	}
	// The loss starts near ln 2 (random scores) and must fall substantially.
	if !(losses[0] > 0.5 && losses[len(losses)-1] < 0.5*losses[0]) {
		t.Errorf("loss did not fall: first %.4f last %.4f", losses[0], losses[len(losses)-1])
	}
	bprRanks, err := LeaveOneOutRanks(m, train, heldOut)
	if err != nil {
		t.Fatal(err)
	}
	if len(bprRanks) != 200 || len(popRanks) != 200 {
		t.Fatalf("got %d/%d ranks, want 200", len(bprRanks), len(popRanks))
	}
	popHR := eval.HitRate(popRanks, 10)
	bprHR := eval.HitRate(bprRanks, 10)
	popN := eval.NDCG(popRanks, 10)
	bprN := eval.NDCG(bprRanks, 10)
	t.Logf("HR@10 popularity %.3f, BPR-MF %.3f; NDCG@10 %.3f vs %.3f; loss %.4f → %.4f",
		popHR, bprHR, popN, bprN, losses[0], losses[len(losses)-1])
	if bprHR < 0.45 || bprHR < popHR+0.3 {
		t.Errorf("BPR-MF HR@10 %.3f not well above popularity %.3f", bprHR, popHR)
	}
	if bprN < popN+0.15 {
		t.Errorf("BPR-MF NDCG@10 %.3f not well above popularity %.3f", bprN, popN)
	}
	// Every held-out item ranks within its user's block: at most 15 items
	// ahead (the 16 unmasked in-block items include the target) — not
	// required, but the median must be inside the block.
	sorted := slices.Clone(bprRanks)
	slices.Sort(sorted)
	if med := sorted[len(sorted)/2]; med > 15 {
		t.Errorf("median BPR rank %d outside the block", med)
	}
}

func TestBPRMFDeterministic(t *testing.T) {
	in := zipfInteractions(120, 60, 900, 3)
	cfg := BPRConfig{Factors: 8, Epochs: 3, Seed: 11}
	a, err := FitBPRMF(context.Background(), in, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := FitBPRMF(context.Background(), in, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.user, b.user) || !slices.Equal(a.item, b.item) || !slices.Equal(a.bias, b.bias) {
		t.Error("same seed gave different models")
	}
	cfg.Seed = 12
	c, err := FitBPRMF(context.Background(), in, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(a.item, c.item) {
		t.Error("different seeds gave identical item factors")
	}
	// Defaults were applied to zero fields.
	if a.Factors() != 8 || !a.HasItemBias() || a.NumUsers() != 120 || a.NumItems() != 60 {
		t.Errorf("model shape: factors %d bias %v users %d items %d", a.Factors(), a.HasItemBias(), a.NumUsers(), a.NumItems())
	}
}

func TestBPRMFScores(t *testing.T) {
	in := zipfInteractions(30, 20, 200, 5)
	m, err := FitBPRMF(context.Background(), in, BPRConfig{Factors: 4, Epochs: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float32, m.NumItems())
	for u := range m.NumUsers() {
		s := m.Scores(u)
		m.ScoresInto(u, dst)
		if !slices.Equal(s, dst) {
			t.Fatalf("Scores and ScoresInto differ for user %d", u)
		}
		for i := range m.NumItems() {
			// Direct formula b_i + Σ_f w_uf h_if.
			want := m.ItemBias(i)
			for f, w := range m.UserFactors(u) {
				want += w * m.ItemFactors(i)[f]
			}
			// Tolerance: the compiler may fuse multiply-adds differently
			// per call site on some GOARCHes.
			if d1, d2 := math.Abs(float64(s[i]-want)), math.Abs(float64(m.Score(u, i)-want)); d1 > 1e-5 || d2 > 1e-5 {
				t.Fatalf("score(%d,%d) = %v / %v, want %v", u, i, s[i], m.Score(u, i), want)
			}
		}
	}
	if allocs := testing.AllocsPerRun(10, func() { m.ScoresInto(3, dst) }); allocs != 0 {
		t.Errorf("ScoresInto allocates %v times", allocs)
	}
	noBias, err := FitBPRMF(context.Background(), in, BPRConfig{Factors: 4, Epochs: 1, NoItemBias: true})
	if err != nil {
		t.Fatal(err)
	}
	if noBias.HasItemBias() || noBias.ItemBias(0) != 0 {
		t.Error("NoItemBias model has a bias")
	}
	for name, f := range map[string]func(){
		"user range": func() { m.Scores(m.NumUsers()) },
		"dst length": func() { m.ScoresInto(0, make([]float32, 3)) },
		"item range": func() { m.ItemFactors(-1) },
	} {
		if !panics(f) {
			t.Errorf("%s: no panic", name)
		}
	}
}

func panics(f func()) (p bool) {
	defer func() { p = recover() != nil }()
	f()
	return false
}

func TestBPRMFErrors(t *testing.T) {
	ctx := context.Background()
	in := zipfInteractions(30, 20, 200, 5)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := FitBPRMF(cancelled, in, BPRConfig{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v", err)
	}
	for name, cfg := range map[string]BPRConfig{
		"negative factors": {Factors: -1},
		"negative lr":      {LR: -0.1},
		"nan reg":          {Reg: float32(math.NaN())},
		"negative epochs":  {Epochs: -2},
	} {
		if _, err := FitBPRMF(ctx, in, cfg); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	// No negatives: the only user has every item.
	full := Interactions{NumUsers: 1, NumItems: 2, UserItems: [][]int{{0, 1}}}
	if _, err := FitBPRMF(ctx, full, BPRConfig{}); err == nil {
		t.Error("training set without negatives accepted")
	}
	if _, err := FitBPRMF(ctx, Interactions{NumUsers: 2, NumItems: 3}, BPRConfig{}); err == nil {
		t.Error("empty training set accepted")
	}
	if _, err := FitBPRMF(ctx, Interactions{NumUsers: 1, NumItems: 1, UserItems: [][]int{{1}}}, BPRConfig{}); err == nil {
		t.Error("invalid interactions accepted")
	}
	// A huge learning rate diverges to a non-finite loss.
	if _, err := FitBPRMF(ctx, in, BPRConfig{LR: 1e30, Epochs: 5, Reg: 1e10}); !errors.Is(err, ErrDiverged) {
		t.Errorf("huge LR: err = %v, want ErrDiverged", err)
	}
	// A user with every item is skipped but the rest trains.
	mixed := Interactions{NumUsers: 2, NumItems: 2, UserItems: [][]int{{0, 1}, {0}}}
	if _, err := FitBPRMF(ctx, mixed, BPRConfig{Epochs: 2}); err != nil {
		t.Errorf("mixed: %v", err)
	}
}

// BenchmarkBPRMFEpoch measures one training epoch (≈10k SGD steps, 32
// factors) on 1,400 users × 900 items with ≈10k Zipf interactions.
func BenchmarkBPRMFEpoch(b *testing.B) {
	in := zipfInteractions(1400, 900, 10000, 9)
	tr, err := newBPRTrainer(in, DefaultBPRConfig())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tr.epoch(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(tr.steps), "steps/epoch")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(tr.steps), "ns/step")
}

// BenchmarkBPRMFScoresInto scores all 900 items for one user (32 factors).
func BenchmarkBPRMFScoresInto(b *testing.B) {
	in := zipfInteractions(1400, 900, 10000, 9)
	m, err := FitBPRMF(context.Background(), in, BPRConfig{Epochs: 1})
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]float32, m.NumItems())
	b.ReportAllocs()
	for b.Loop() {
		m.ScoresInto(7, dst)
	}
}
