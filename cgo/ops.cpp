// Elementwise, reduction and shape operations, and autograd entry points.
#include "common.h"

using ht::T;
using ht::wrap;
using ht::wrap_pair;

namespace {
at::Tensor binary(int op, const at::Tensor &a, const at::Tensor &b, double alpha) {
  switch (op) {
    case HT_B_ADD: return at::add(a, b, alpha);
    case HT_B_SUB: return at::sub(a, b, alpha);
    case HT_B_MUL: return at::mul(a, b);
    case HT_B_DIV: return at::div(a, b);
    case HT_B_POW: return at::pow(a, b);
    case HT_B_EQ: return at::eq(a, b);
    case HT_B_NE: return at::ne(a, b);
    case HT_B_LT: return at::lt(a, b);
    case HT_B_LE: return at::le(a, b);
    case HT_B_GT: return at::gt(a, b);
    case HT_B_GE: return at::ge(a, b);
    case HT_B_MAXIMUM: return at::maximum(a, b);
    case HT_B_MINIMUM: return at::minimum(a, b);
    case HT_B_MATMUL: return at::matmul(a, b);
    case HT_B_BMM: return at::bmm(a, b);
    case HT_B_LOGICAL_AND: return at::logical_and(a, b);
    default: throw std::invalid_argument("unknown binary op " + std::to_string(op));
  }
}

at::Tensor binary_scalar(int op, const at::Tensor &a, const at::Scalar &s) {
  switch (op) {
    case HT_B_ADD: return at::add(a, s);
    case HT_B_SUB: return at::sub(a, s);
    case HT_B_MUL: return at::mul(a, s);
    case HT_B_DIV: return at::div(a, s);
    case HT_B_POW: return at::pow(a, s);
    case HT_B_EQ: return at::eq(a, s);
    case HT_B_NE: return at::ne(a, s);
    case HT_B_LT: return at::lt(a, s);
    case HT_B_LE: return at::le(a, s);
    case HT_B_GT: return at::gt(a, s);
    case HT_B_GE: return at::ge(a, s);
    case HT_B_MAXIMUM: return at::clamp_min(a, s);
    case HT_B_MINIMUM: return at::clamp_max(a, s);
    default: throw std::invalid_argument("unknown scalar op " + std::to_string(op));
  }
}

at::Tensor rscalar(int op, const at::Tensor &a, const at::Scalar &s) {
  switch (op) {
    case HT_B_SUB: return at::rsub(a, s);
    case HT_B_DIV: return at::mul(at::reciprocal(a), s);
    case HT_B_POW: return at::pow(s, a);
    default: return binary_scalar(op, a, s);  // commutative ops
  }
}
}  // namespace

extern "C" {

ht_err ht_unary(int op, ht_tensor h, ht_tensor *out) {
  HT_TRY
  const at::Tensor &a = T(h);
  at::Tensor r;
  switch (op) {
    case HT_U_NEG: r = at::neg(a); break;
    case HT_U_EXP: r = at::exp(a); break;
    case HT_U_LOG: r = at::log(a); break;
    case HT_U_TANH: r = at::tanh(a); break;
    case HT_U_SQRT: r = at::sqrt(a); break;
    case HT_U_RSQRT: r = at::rsqrt(a); break;
    case HT_U_ABS: r = at::abs(a); break;
    case HT_U_SIGMOID: r = at::sigmoid(a); break;
    case HT_U_RELU: r = at::relu(a); break;
    case HT_U_GELU_TANH: r = at::gelu(a, "tanh"); break;
    case HT_U_GELU_ERF: r = at::gelu(a, "none"); break;
    case HT_U_CONTIGUOUS: r = a.contiguous(); break;
    case HT_U_CLONE: r = a.clone(); break;
    case HT_U_DETACH: r = a.detach(); break;
    case HT_U_LOGICAL_NOT: r = at::logical_not(a); break;
    case HT_U_SQUARE: r = at::square(a); break;
    default: throw std::invalid_argument("unknown unary op " + std::to_string(op));
  }
  *out = wrap(std::move(r));
  HT_CATCH
}

ht_err ht_binary(int op, ht_tensor a, ht_tensor b, double alpha, ht_tensor *out) {
  HT_TRY
  *out = wrap(binary(op, T(a), T(b), alpha));
  HT_CATCH
}

ht_err ht_binary_scalar(int op, ht_tensor a, double s, int rsub, ht_tensor *out) {
  HT_TRY
  const at::Tensor &t = T(a);
  // Keep integer tensors integer when the scalar is integral (torch's Python semantics).
  at::Scalar sc = (!at::isFloatingType(t.scalar_type()) && s == static_cast<double>(static_cast<int64_t>(s)))
                      ? at::Scalar(static_cast<int64_t>(s))
                      : at::Scalar(s);
  *out = wrap(rsub ? rscalar(op, t, sc) : binary_scalar(op, t, sc));
  HT_CATCH
}

ht_err ht_addmm(ht_tensor bias, ht_tensor a, ht_tensor b, double beta, double alpha, ht_tensor *out) {
  HT_TRY
  *out = wrap(at::addmm(T(bias), T(a), T(b), beta, alpha));
  HT_CATCH
}

ht_err ht_where(ht_tensor cond, ht_tensor a, ht_tensor b, ht_tensor *out) {
  HT_TRY
  *out = wrap(at::where(T(cond), T(a), T(b)));
  HT_CATCH
}

ht_err ht_masked_fill(ht_tensor t, ht_tensor mask, double value, ht_tensor *out) {
  HT_TRY
  *out = wrap(at::masked_fill(T(t), T(mask), value));
  HT_CATCH
}

ht_err ht_clamp(ht_tensor t, int has_min, double min, int has_max, double max, ht_tensor *out) {
  HT_TRY
  ht::optional<at::Scalar> lo, hi;
  if (has_min) lo = min;
  if (has_max) hi = max;
  *out = wrap(at::clamp(T(t), lo, hi));
  HT_CATCH
}

ht_err ht_tri(ht_tensor t, int upper, int64_t diagonal, ht_tensor *out) {
  HT_TRY
  *out = wrap(upper ? at::triu(T(t), diagonal) : at::tril(T(t), diagonal));
  HT_CATCH
}

ht_err ht_reduce(int op, ht_tensor h, const int64_t *dp, int ndims, int keepdim, int dtype,
                 ht_tensor *out) {
  HT_TRY
  const at::Tensor &t = T(h);
  auto d = ht::dims(dp, ndims);
  ht::optional<at::ScalarType> st;
  if (dtype >= 0) st = ht::scalar_type(dtype);
  at::Tensor r;
  bool all = ndims == 0;
  // "All dimensions" is spelled as the explicit list 0..dim-1: the meaning of an empty dim list
  // has varied across libtorch releases.
  std::vector<int64_t> all_dims;
  if (all) for (int64_t i = 0; i < t.dim(); i++) all_dims.push_back(i);
  const at::IntArrayRef dr = all ? at::IntArrayRef(all_dims) : at::IntArrayRef(d);
  switch (op) {
    case HT_R_SUM: r = all && !keepdim ? at::sum(t, st) : at::sum(t, dr, keepdim, st); break;
    case HT_R_MEAN: r = all && !keepdim ? at::mean(t, st) : at::mean(t, dr, keepdim, st); break;
    case HT_R_AMAX: r = at::amax(t, d, keepdim); break;
    case HT_R_AMIN: r = at::amin(t, d, keepdim); break;
    case HT_R_LOGSUMEXP: r = at::logsumexp(t, dr, keepdim); break;
    case HT_R_NORM2: r = at::linalg_vector_norm(t, 2, all ? at::OptionalIntArrayRef{} : at::OptionalIntArrayRef{d}, keepdim, st); break;
    default: throw std::invalid_argument("unknown reduction " + std::to_string(op));
  }
  *out = wrap(std::move(r));
  HT_CATCH
}

ht_err ht_max_dim(ht_tensor t, int64_t dim, int keepdim, int is_min, ht_tensor *values,
                  ht_tensor *indices) {
  HT_TRY
  wrap_pair(is_min ? at::min(T(t), dim, keepdim) : at::max(T(t), dim, keepdim), values, indices);
  HT_CATCH
}

ht_err ht_argmax(ht_tensor t, int has_dim, int64_t dim, int keepdim, ht_tensor *out) {
  HT_TRY
  ht::optional<int64_t> d;
  if (has_dim) d = dim;
  *out = wrap(at::argmax(T(t), d, keepdim));
  HT_CATCH
}

ht_err ht_cumsum(ht_tensor t, int64_t dim, ht_tensor *out) {
  HT_TRY
  *out = wrap(at::cumsum(T(t), dim));
  HT_CATCH
}

ht_err ht_reshape(ht_tensor t, const int64_t *shape, int ndim, int is_view, ht_tensor *out) {
  HT_TRY
  auto s = ht::dims(shape, ndim);
  *out = wrap(is_view ? T(t).view(s) : T(t).reshape(s));
  HT_CATCH
}

ht_err ht_transpose(ht_tensor t, int64_t d0, int64_t d1, ht_tensor *out) {
  HT_TRY
  *out = wrap(T(t).transpose(d0, d1));
  HT_CATCH
}

ht_err ht_permute(ht_tensor t, const int64_t *dp, int ndim, ht_tensor *out) {
  HT_TRY
  *out = wrap(T(t).permute(ht::dims(dp, ndim)));
  HT_CATCH
}

ht_err ht_expand(ht_tensor t, const int64_t *shape, int ndim, ht_tensor *out) {
  HT_TRY
  *out = wrap(T(t).expand(ht::dims(shape, ndim)));
  HT_CATCH
}

ht_err ht_squeeze(ht_tensor t, int has_dim, int64_t dim, ht_tensor *out) {
  HT_TRY
  *out = wrap(has_dim ? T(t).squeeze(dim) : T(t).squeeze());
  HT_CATCH
}

ht_err ht_unsqueeze(ht_tensor t, int64_t dim, ht_tensor *out) {
  HT_TRY
  *out = wrap(T(t).unsqueeze(dim));
  HT_CATCH
}

ht_err ht_cat(const ht_tensor *ts, int n, int64_t dim, int stack, ht_tensor *out) {
  HT_TRY
  if (n <= 0) throw std::invalid_argument("cat/stack of zero tensors");
  std::vector<at::Tensor> v;
  v.reserve(n);
  for (int i = 0; i < n; i++) v.push_back(T(ts[i]));
  *out = wrap(stack ? at::stack(v, dim) : at::cat(v, dim));
  HT_CATCH
}

ht_err ht_split(ht_tensor t, int64_t split_size, int64_t chunks, int64_t dim, ht_tensor *outs,
                int cap, int *n) {
  HT_TRY
  std::vector<at::Tensor> parts = chunks > 0 ? T(t).chunk(chunks, dim) : T(t).split(split_size, dim);
  if (static_cast<int64_t>(parts.size()) > cap)
    throw std::invalid_argument("split produced " + std::to_string(parts.size()) + " pieces, room for " +
                                std::to_string(cap));
  const int count = static_cast<int>(parts.size());
  ht::wrap_all(std::move(parts), outs);
  *n = count;
  HT_CATCH
}

ht_err ht_narrow(ht_tensor t, int64_t dim, int64_t start, int64_t length, ht_tensor *out) {
  HT_TRY
  *out = wrap(T(t).narrow(dim, start, length));
  HT_CATCH
}

ht_err ht_slice(ht_tensor t, int64_t dim, int64_t start, int64_t end, int64_t step, ht_tensor *out) {
  HT_TRY
  *out = wrap(T(t).slice(dim, start, end, step));
  HT_CATCH
}

ht_err ht_index_select(ht_tensor t, int64_t dim, ht_tensor index, ht_tensor *out) {
  HT_TRY
  *out = wrap(at::index_select(T(t), dim, T(index)));
  HT_CATCH
}

ht_err ht_gather(ht_tensor t, int64_t dim, ht_tensor index, ht_tensor *out) {
  HT_TRY
  *out = wrap(at::gather(T(t), dim, T(index)));
  HT_CATCH
}

ht_err ht_index_add(ht_tensor t, int64_t dim, ht_tensor index, ht_tensor source, ht_tensor *out) {
  HT_TRY
  *out = wrap(at::index_add(T(t), dim, T(index), T(source)));
  HT_CATCH
}

ht_err ht_topk(ht_tensor t, int64_t k, int64_t dim, int largest, int sorted, ht_tensor *values,
               ht_tensor *indices) {
  HT_TRY
  wrap_pair(at::topk(T(t), k, dim, largest != 0, sorted != 0), values, indices);
  HT_CATCH
}

ht_err ht_sort(ht_tensor t, int64_t dim, int descending, ht_tensor *values, ht_tensor *indices) {
  HT_TRY
  wrap_pair(at::sort(T(t), /*stable=*/true, dim, descending != 0), values, indices);
  HT_CATCH
}

ht_err ht_set_requires_grad(ht_tensor t, int requires_grad) {
  HT_TRY
  at::Tensor x = T(t);
  // requires_grad_ (not set_requires_grad) so that turning it off on a non-leaf is an error, as in
  // torch, instead of a silent no-op (a non-leaf keeps requiring grad through its grad_fn).
  x.requires_grad_(requires_grad != 0);
  HT_CATCH
}

ht_err ht_backward(ht_tensor t, ht_tensor grad, int retain_graph) {
  HT_TRY
  // Backward always records with grad mode on, whatever the calling thread's state.
  at::AutoGradMode enable(true);
  at::Tensor g = grad ? T(grad) : at::Tensor();
  T(t).backward(g, retain_graph != 0);
  HT_CATCH
}

ht_err ht_grad(ht_tensor t, ht_tensor *out) {
  HT_TRY
  const at::Tensor &g = T(t).grad();
  *out = g.defined() ? wrap(g) : nullptr;
  HT_CATCH
}

ht_err ht_zero_grad(const ht_tensor *ts, int n, int set_to_none) {
  HT_TRY
  at::NoGradGuard guard;
  for (int i = 0; i < n; i++) {
    at::Tensor p = T(ts[i]);
    at::Tensor &g = p.mutable_grad();
    if (!g.defined()) continue;
    if (set_to_none) {
      g.reset();
    } else {
      if (g.grad_fn() != nullptr) g = g.detach();
      g.zero_();
    }
  }
  HT_CATCH
}

}  // extern "C"
