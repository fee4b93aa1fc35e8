package pipeline

import (
	"math"

	"github.com/hier-ai/hier/hier/data"
	"github.com/hier-ai/hier/hier/gpt2"
	"github.com/hier-ai/hier/hier/rec"
)

// computeFeatures builds the recommenders' inputs from the training split only:
//   - h0 [users, n_embd]: the backbone's mean-pooled encoding of each user's training text (their
//     reviews and the descriptions of items they interacted with; the token budget keeps the most
//     recent part);
//   - h1 [users, n_embd+3]: per user, the mean over their training reviews of the sentiment
//     model's pooled hidden state and class probabilities (absent when the head was skipped);
//   - h2 [users, n_embd+3]: per user, the mean over their training interactions of the behaviour
//     model's pooled hidden state and predicted residual, then the user's bias b_u and
//     log(1 + training interactions) (behaviour context);
//   - h1 and h2 read each user's featureInteractions most recent training interactions (a bound
//     on the work for very active users: MovieLens users have up to 700 ratings);
//   - item text [items, n_embd]: the backbone's encoding of each item's training-split text.
//
// featureInteractions is the number of a user's most recent training interactions that H1 and H2
// average over.
const featureInteractions = 32

func computeFeatures(e *env, p *prepared, backbone *gpt2.Model, h *headsOut) (*rec.Features, error) {
	o := &e.opts
	sd := p.sd
	f := &rec.Features{Levels: map[string]*rec.Matrix{}}
	userTexts, itemTexts := sd.UserTexts(8*o.UserMaxTokens), sd.ItemTexts(6*o.ItemMaxTokens)
	see("features", userTexts...)
	see("features", itemTexts...)
	enc := &Encoder{Backbone: backbone, Tok: p.tok, MaxLen: min(o.UserMaxTokens, backbone.Config.NPositions), Batch: 32, Pool: PoolMean, KeepTail: true}
	var err error
	if f.Levels["h0"], err = enc.Encode(userTexts); err != nil {
		return nil, err
	}
	enc.MaxLen, enc.KeepTail = min(o.ItemMaxTokens, backbone.Config.NPositions), false
	if f.ItemText, err = enc.Encode(itemTexts); err != nil {
		return nil, err
	}
	// H1 and H2 average over each user's most recent featureInteractions training interactions.
	var recs []*data.Record
	var users []int
	for u, rs := range sd.TrainByUser {
		for k := max(0, len(rs)-featureInteractions); k < len(rs); k++ {
			recs, users = append(recs, &rs[k]), append(users, u)
		}
	}
	if h.sent != nil {
		revs := make([][]int64, len(recs))
		for k, r := range recs {
			revs[k] = p.encode("features", p.tx.review(r), o.Sentiment.MaxLen)
		}
		h1 := &Encoder{Backbone: h.sent.Backbone, Head: h.sent, Tok: p.tok, MaxLen: o.Sentiment.MaxLen, Batch: 64, Pool: PoolLast, Softmax: true}
		m1, err := h1.EncodeIDs(revs)
		if err != nil {
			return nil, err
		}
		f.Levels["h1"] = MeanRows(m1, users, sd.NumUsers())
	}
	if h.beh != nil {
		behs := make([][]int64, len(recs))
		for k, r := range recs {
			behs[k] = p.encode("features", behaviorText(o, p, r), o.Behavior.MaxLen)
		}
		h2 := &Encoder{Backbone: h.beh.Backbone, Head: h.beh, Tok: p.tok, MaxLen: o.Behavior.MaxLen, Batch: 64, Pool: PoolLast}
		m2, err := h2.EncodeIDs(behs)
		if err != nil {
			return nil, err
		}
		mean := MeanRows(m2, users, sd.NumUsers())
		out := rec.NewMatrix(mean.Rows, mean.Cols+2)
		for u := 0; u < mean.Rows; u++ {
			row := out.Row(u)
			copy(row, mean.Row(u))
			row[mean.Cols] = float32(h.bias.UserBias(u))
			row[mean.Cols+1] = float32(math.Log1p(float64(len(sd.TrainByUser[u]))))
		}
		f.Levels["h2"] = out
	}
	return f, nil
}
