// Neural-network functional operations and losses (torch.nn.functional semantics).
#include "common.h"

using ht::T;
using ht::wrap;

extern "C" {

ht_err ht_linear(ht_tensor x, ht_tensor weight, ht_tensor bias, ht_tensor *out) {
  HT_TRY
  *out = wrap(at::linear(T(x), T(weight), ht::opt(bias)));
  HT_CATCH
}

ht_err ht_layer_norm(ht_tensor x, const int64_t *shape, int ndim, ht_tensor weight, ht_tensor bias,
                     double eps, ht_tensor *out) {
  HT_TRY
  *out = wrap(at::layer_norm(T(x), ht::dims(shape, ndim), ht::opt(weight), ht::opt(bias), eps));
  HT_CATCH
}

ht_err ht_softmax(ht_tensor x, int64_t dim, int log, ht_tensor *out) {
  HT_TRY
  *out = wrap(log ? at::log_softmax(T(x), dim) : at::softmax(T(x), dim));
  HT_CATCH
}

ht_err ht_dropout(ht_tensor x, double p, int train, ht_tensor *out) {
  HT_TRY
  if (p < 0 || p > 1) throw std::invalid_argument("dropout probability must be in [0, 1], got " + std::to_string(p));
  *out = wrap(at::dropout(T(x), p, train != 0));
  HT_CATCH
}

ht_err ht_embedding(ht_tensor weight, ht_tensor ids, int64_t padding_idx, ht_tensor *out) {
  HT_TRY
  const at::Tensor &w = T(weight), &i = T(ids);
  if (i.scalar_type() != at::kLong && i.scalar_type() != at::kInt)
    throw std::invalid_argument(std::string("embedding: ids must be int64 or int32, got ") +
                                c10::toString(i.scalar_type()));
  if (i.numel() > 0) {
    int64_t lo = i.min().item<int64_t>(), hi = i.max().item<int64_t>();
    if (lo < 0 || hi >= w.size(0))
      throw std::out_of_range("embedding: id " + std::to_string(lo < 0 ? lo : hi) + " out of range [0, " +
                              std::to_string(w.size(0)) + ")");
  }
  *out = wrap(at::embedding(w, i, padding_idx));
  HT_CATCH
}

ht_err ht_normalize(ht_tensor x, double p, int64_t dim, double eps, ht_tensor *out) {
  HT_TRY
  const at::Tensor &t = T(x);
  at::Tensor denom = at::linalg_vector_norm(t, p, at::IntArrayRef{dim}, true).clamp_min(eps).expand_as(t);
  *out = wrap(t / denom);
  HT_CATCH
}

ht_err ht_cross_entropy(ht_tensor logits, ht_tensor target, ht_tensor weight, int reduction,
                        int64_t ignore_index, double label_smoothing, ht_tensor *out) {
  HT_TRY
  *out = wrap(at::cross_entropy_loss(T(logits), T(target), ht::opt(weight), ht::reduction(reduction),
                                     ignore_index, label_smoothing));
  HT_CATCH
}

ht_err ht_mse_loss(ht_tensor input, ht_tensor target, int reduction, ht_tensor *out) {
  HT_TRY
  const at::Tensor &a = T(input), &b = T(target);
  if (!a.sizes().equals(b.sizes()))
    throw std::invalid_argument("mse_loss: input shape " + c10::str(a.sizes()) + " != target shape " +
                                c10::str(b.sizes()));
  *out = wrap(at::mse_loss(a, b, ht::reduction(reduction)));
  HT_CATCH
}

ht_err ht_bce_with_logits(ht_tensor input, ht_tensor target, ht_tensor weight, ht_tensor pos_weight,
                          int reduction, ht_tensor *out) {
  HT_TRY
  *out = wrap(at::binary_cross_entropy_with_logits(T(input), T(target), ht::opt(weight),
                                                   ht::opt(pos_weight), ht::reduction(reduction)));
  HT_CATCH
}

}  // extern "C"
