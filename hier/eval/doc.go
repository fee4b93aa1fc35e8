// Package eval implements the evaluation metrics used by hier: top-K ranking
// metrics for leave-one-out recommendation (HR@K, NDCG@K, MRR), an
// sklearn-compatible classification report with a confusion matrix,
// regression errors (MSE, RMSE, MAE), and helpers for their uncertainty:
// per-user metric terms ([PerUserHit], [PerUserNDCG]), [MeanStd] and a paired
// bootstrap interval for the difference of two systems ([PairedBootstrap]).
//
// All functions are pure, allocation-light and deterministic (the bootstrap
// for a given seed). Inputs that can
// only come from a programming error (mismatched slice lengths, class ids or
// item ids outside their declared range, negative ranks) cause a panic with a
// descriptive message; empty inputs yield zero-valued metrics.
// [PairedBootstrap] instead returns an error for bad input.
//
// Ranking conventions: a rank is the 0-based position of the single held-out
// (relevant) item in the candidate list sorted by descending score, so rank 0
// is the top of the list, and a held-out item ranks behind every candidate
// with an equal score (pessimistic ties). See [RankOf] for how ranks are
// computed and [HitRate], [NDCG] and [MRR] for the formulas.
package eval
