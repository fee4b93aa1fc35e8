package pipeline

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hier-ai/hier/hier/rec"
)

// The comparisons pick each group's best by validation NDCG@10, never by test: here the test
// ranks favour the methods with the lower validation scores.
func TestSummarizeComparesBestByValidation(t *testing.T) {
	// Four users, 5 items, one training item each; the held-out items are 1..4.
	d := &rec.Data{NumUsers: 4, NumItems: 5, Train: [][]int{{0}, {0}, {0}, {0}},
		ValidItem: []int{1, 2, 3, 4}, TestItem: []int{2, 3, 4, 1}}
	users := []int{0, 1, 2, 3}
	ranks := func(r ...int) []rec.Ranks { return []rec.Ranks{{Users: users, Ranks: r}} }
	runs := []methodRuns{
		{name: "popularity", idOnly: true, validNDCG: math.NaN(), ranks: ranks(3, 3, 3, 3)},
		{name: "mf", family: rec.FamilyCF, idOnly: true, validNDCG: 0.30, seeds: []uint64{1}, ranks: ranks(1, 1, 1, 1)},
		{name: "cf_h0", family: rec.FamilyCF, validNDCG: 0.10, seeds: []uint64{1}, ranks: ranks(0, 0, 0, 0)},
		{name: "cf_h", family: rec.FamilyCF, validNDCG: 0.20, seeds: []uint64{1}, ranks: ranks(2, 2, 2, 2)},
		{name: "sasrec", family: rec.FamilySeq, idOnly: true, validNDCG: 0.25, seeds: []uint64{1}, ranks: ranks(0, 0, 0, 0)},
		{name: "seq_h", family: rec.FamilySeq, validNDCG: 0.40, seeds: []uint64{1}, ranks: ranks(1, 1, 1, 1)},
	}
	res := &Results{}
	require.NoError(t, summarize(res, d, runs))
	// Best hierarchy by validation: seq_h (.40); best ID-only: mf (.30), although cf_h0 and
	// sasrec rank every test item first.
	require.Equal(t, "seq_h", res.Bootstrap.Hierarchy)
	require.Equal(t, "mf", res.Bootstrap.IDOnly)
	// Same ranks: a difference of exactly 0 in every resample.
	require.Equal(t, 0.0, res.Bootstrap.MeanDiff)
	require.Equal(t, 1.0, res.Bootstrap.Ratio)
	var pairs [][2]string
	for _, c := range res.Twins {
		pairs = append(pairs, [2]string{c.Hierarchy, c.IDOnly})
	}
	// Each family's best hierarchy variant against its twin (cf: cf_h at .20, not cf_h0), then
	// the best hierarchy variant against the ID-only model Bootstrap left out.
	require.Equal(t, [][2]string{{"cf_h", "mf"}, {"seq_h", "sasrec"}}, pairs)
	// cf_h ranks at 2 (NDCG 1/log2(4) = 0.5), mf at 1 (1/log2(3) ≈ 0.6309): ratio 0.5/0.6309.
	require.InDelta(t, 0.5/(1/math.Log2(3)), res.Twins[0].Ratio, 1e-12)
	require.InDelta(t, 0.5-1/math.Log2(3), res.Twins[0].MeanDiff, 1e-12)
	// seq_h at 1 vs sasrec at 0 (NDCG 1): every user loses 1 - 0.6309.
	require.InDelta(t, 1/math.Log2(3)-1, res.Twins[1].CIHigh, 1e-12)
}

// A candidate list given empty on purpose is an error; a nil one takes the default grid.
func TestEmptyCandidateListIsAnError(t *testing.T) {
	o := DefaultOptions()
	o.Recommenders.CF = []rec.Config{}
	_, err := o.resolve()
	require.ErrorContains(t, err, "recommenders.cf")
	o = DefaultOptions()
	o.OutDir, o.DataPath = t.TempDir(), "data.csv"
	o.Recommenders.Seq = nil
	_, err = o.resolve()
	require.NoError(t, err)
	require.Equal(t, DefaultOptions().Recommenders.Seq, o.Recommenders.Seq)
}
