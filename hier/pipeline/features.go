package pipeline

import (
	"math"

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
//   - item text [items, n_embd]: the backbone's encoding of each item's training-split text.
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
	users := make([]int, len(sd.Train))
	for k := range sd.Train {
		users[k] = sd.Train[k].UserIdx
	}
	if h.sent != nil {
		revs := make([][]int64, len(sd.Train))
		for k := range sd.Train {
			revs[k] = p.encode("features", p.tx.review(&sd.Train[k]), o.Sentiment.MaxLen)
		}
		h1 := &Encoder{Backbone: h.sent.Backbone, Head: h.sent, Tok: p.tok, MaxLen: o.Sentiment.MaxLen, Batch: 64, Pool: PoolLast, Softmax: true}
		m1, err := h1.EncodeIDs(revs)
		if err != nil {
			return nil, err
		}
		f.Levels["h1"] = MeanRows(m1, users, sd.NumUsers())
	}
	if h.beh != nil {
		behs := make([][]int64, len(sd.Train))
		for k := range sd.Train {
			behs[k] = p.encode("features", behaviorText(o, p, &sd.Train[k]), o.Behavior.MaxLen)
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
