// Package rec holds the recommenders that take the hierarchical user-interest representation as
// input, their ID-only twins, and the protocol that trains, selects and evaluates them.
//
// The shape follows RecBole: one Data value (the per-user temporal leave-one-out split by dense
// index) flows into every model; each model is one type in its own file implementing Model
// (Params, Loss on a batch of training examples, Vectors for full-catalogue scoring); one
// trainer (Fit) trains any Model with AdamW and early stopping on validation NDCG@10; Search
// picks a configuration per method on the validation split and re-trains it with several seeds;
// the test split is read once, by Evaluate, after selection.
//
// Families (see Variants):
//
//	cf    hybrid collaborative filtering: s(u,i) = (p_u + f(H_u)) · (q_i + g(x_i)) + b_i
//	      ID-only twin "mf": s(u,i) = p_u · q_i + b_i (BPR-MF when trained with the BPR loss)
//	seq   a causal transformer (GPT-2 blocks of package gpt2, fed inputs_embeds) over the user's
//	      chronological items, item input = ID embedding + g(x_i), H as a user-level token;
//	      ID-only twin "sasrec" (Kang & McAuley, ICDM 2018), trained with full-catalogue
//	      softmax cross-entropy as in SASRec+ (Klenitskiy & Vasilev, RecSys 2023)
//
// where H_u are the user's interest levels (H0 text, H1 sentiment, H2 behaviour), f their
// projection and fusion (concat, weighted or gate), x_i an item's text vector from the same
// GPT-2 backbone and g its projection. Scores of every method are dot products of a user vector
// and an item vector (the bias rides as a last column), so a trained method is served from two
// matrices.
//
// Ranking ties are pessimistic (eval.RankOf): a held-out item ranks behind every other candidate
// with an equal score.
//
// rec imports torch, gpt2, eval and baseline; it must not import pipeline or cmd.
package rec
