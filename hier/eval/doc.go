// Package eval implements the evaluation metrics used by hier: top-K ranking
// metrics for leave-one-out recommendation (HR@K, NDCG@K, MRR), an
// sklearn-compatible classification report with a confusion matrix, and
// regression errors (MSE, RMSE, MAE).
//
// All functions are pure, allocation-light and deterministic. Inputs that can
// only come from a programming error (mismatched slice lengths, class ids or
// item ids outside their declared range, negative ranks) cause a panic with a
// descriptive message; empty inputs yield zero-valued metrics.
//
// Ranking conventions: a rank is the 0-based position of the single held-out
// (relevant) item in the candidate list sorted by descending score, so rank 0
// is the top of the list. See [RankOf] for how ranks are computed and
// [HitRate], [NDCG] and [MRR] for the formulas.
package eval
