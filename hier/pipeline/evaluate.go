package pipeline

import (
	"github.com/hier-ai/hier/hier/baseline"
	"github.com/hier-ai/hier/hier/data"
	"github.com/hier-ai/hier/hier/eval"
)

// RankingKs are the cut-offs reported: HR@K and NDCG@K for K = 5, 10, 20, plus MRR.
var RankingKs = []int{5, 10, 20}

// protocol holds the leave-one-out targets by dense index.
type protocol struct {
	numItems   int
	trainItems [][]int // per user, training items (time order)
	validItem  []int   // per user, -1 when the user has no validation interaction
	testItem   []int   // per user, -1 when the user has no test interaction
}

func newProtocol(sd *data.SplitData) *protocol {
	p := &protocol{numItems: sd.NumItems()}
	U := sd.NumUsers()
	p.trainItems = make([][]int, U)
	p.validItem = make([]int, U)
	p.testItem = make([]int, U)
	for u := 0; u < U; u++ {
		for _, r := range sd.TrainByUser[u] {
			p.trainItems[u] = append(p.trainItems[u], r.ItemIdx)
		}
		p.validItem[u], p.testItem[u] = -1, -1
		if r, ok := sd.ValidFor(u); ok {
			p.validItem[u] = r.ItemIdx
		}
		if r, ok := sd.TestFor(u); ok {
			p.testItem[u] = r.ItemIdx
		}
	}
	return p
}

func (p *protocol) interactions() baseline.Interactions {
	return baseline.Interactions{NumUsers: len(p.trainItems), NumItems: p.numItems, UserItems: p.trainItems}
}

func (p *protocol) fitData() FitData {
	return FitData{NumItems: p.numItems, TrainItems: p.trainItems, ValidItem: p.validItem}
}

// testRanks ranks each user's test item among all items, with the user's training items and
// validation item masked (they are history at test time), for every user with a test item.
func (p *protocol) testRanks(scores func(u int, dst []float32)) []int {
	buf := make([]float32, p.numItems)
	var ranks []int
	for u, target := range p.testItem {
		if target < 0 {
			continue
		}
		scores(u, buf)
		masked := p.trainItems[u]
		if v := p.validItem[u]; v >= 0 {
			masked = append(append([]int{}, masked...), v)
		}
		ranks = append(ranks, eval.RankOf(buf, target, masked))
	}
	return ranks
}

// rankingReport is HR@5/10/20, NDCG@5/10/20 and MRR over the test users.
func (p *protocol) rankingReport(scores func(u int, dst []float32)) map[string]float64 {
	return eval.RankingReport(p.testRanks(scores), RankingKs)
}

// dotScores scores user u against every item by the dot product of their vectors.
func dotScores(users, items *Matrix) func(u int, dst []float32) {
	return func(u int, dst []float32) {
		h := users.Row(u)
		for i := 0; i < items.Rows; i++ {
			var s float32
			for j, v := range items.Row(i) {
				s += v * h[j]
			}
			dst[i] = s
		}
	}
}
