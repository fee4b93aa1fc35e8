// Optimizer steps and gradient clipping. Each step is one call over all parameters, run
// with grad mode off inside the call (grad mode is thread-local in libtorch).
#include <ATen/Parallel.h>
#include <cmath>
#include <initializer_list>

#include "common.h"

using ht::T;

namespace {
// One pass over a float32/float64 CPU parameter: the arithmetic of the unfused path below
// (torch.optim.AdamW's single-tensor path), element by element in the same order, with the
// scalars rounded to the tensor's type as ATen does, but reading p, g, m, v once and writing
// p, m, v once instead of nine passes and two temporaries. Elementwise only, so the result does
// not depend on the thread count. It differs from the unfused kernels only where those use an
// FMA (at most an ulp of an update term).
template <typename T>
void fused_adamw_loop(at::Tensor &p, const at::Tensor &g, at::Tensor &m, at::Tensor &v, double lr, double wd,
                      double beta1, double beta2, double eps, double step_size, double bc2_sqrt) {
  T *pp = p.data_ptr<T>();
  const T *gp = g.data_ptr<T>();
  T *mp = m.data_ptr<T>();
  T *vp = v.data_ptr<T>();
  const bool decay = wd != 0;
  const T keep = static_cast<T>(1.0 - lr * wd), b1 = static_cast<T>(beta1), a1 = static_cast<T>(1.0 - beta1),
          b2 = static_cast<T>(beta2), a2 = static_cast<T>(1.0 - beta2), c2 = static_cast<T>(bc2_sqrt),
          e = static_cast<T>(eps), ss = static_cast<T>(-step_size);
  at::parallel_for(0, p.numel(), 1 << 15, [&](int64_t lo, int64_t hi) {
    for (int64_t k = lo; k < hi; k++) {
      T pk = pp[k];
      if (decay) pk = pk * keep;          // p.mul_(1 - lr·wd)
      const T gk = gp[k];
      T mk = mp[k] * b1;                  // m.mul_(beta1)
      mk = mk + a1 * gk;                  //  .add_(g, 1 - beta1)
      T vk = vp[k] * b2;                  // v.mul_(beta2)
      vk = vk + a2 * gk * gk;             //  .addcmul_(g, g, 1 - beta2)
      const T denom = std::sqrt(vk) / c2 + e;  // (v.sqrt() / bc2_sqrt).add_(eps)
      pp[k] = pk + ss * mk / denom;       // p.addcdiv_(m, denom, -step_size)
      mp[k] = mk;
      vp[k] = vk;
    }
  });
}

// fused_adamw_cpu runs fused_adamw_loop when p, g, m, v are contiguous CPU tensors of one float
// type and size, and returns false otherwise (the caller takes the unfused path).
bool fused_adamw_cpu(at::Tensor &p, const at::Tensor &g, at::Tensor &m, at::Tensor &v, double lr, double wd,
                     double beta1, double beta2, double eps, double step_size, double bc2_sqrt) {
  const auto st = p.scalar_type();
  if (!p.is_cpu() || (st != at::kFloat && st != at::kDouble)) return false;
  for (const at::Tensor *t : std::initializer_list<const at::Tensor *>{&g, &m, &v}) {
    if (!t->is_cpu() || t->scalar_type() != st || t->numel() != p.numel() || !t->is_contiguous()) return false;
  }
  if (!p.is_contiguous()) return false;
  if (st == at::kFloat) fused_adamw_loop<float>(p, g, m, v, lr, wd, beta1, beta2, eps, step_size, bc2_sqrt);
  else fused_adamw_loop<double>(p, g, m, v, lr, wd, beta1, beta2, eps, step_size, bc2_sqrt);
  return true;
}
}  // namespace

extern "C" {

ht_err ht_adamw_step(const ht_tensor *params, const ht_tensor *exp_avg, const ht_tensor *exp_avg_sq,
                     const double *weight_decay, int64_t *steps, int n, double lr, double beta1,
                     double beta2, double eps) {
  HT_TRY
  at::NoGradGuard guard;
  // Same arithmetic, in the same order, as torch.optim.AdamW's single-tensor path (torch 1.13).
  for (int i = 0; i < n; i++) {
    at::Tensor p = T(params[i]);
    const at::Tensor &g = p.grad();
    if (!g.defined()) continue;
    const int64_t step = ++steps[i];
    const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(step));
    const double bc2_sqrt = std::sqrt(1.0 - std::pow(beta2, static_cast<double>(step)));
    const double step_size = lr / bc1;
    at::Tensor m = T(exp_avg[i]), v = T(exp_avg_sq[i]);
    if (fused_adamw_cpu(p, g, m, v, lr, weight_decay[i], beta1, beta2, eps, step_size, bc2_sqrt)) continue;
    if (weight_decay[i] != 0) p.mul_(1.0 - lr * weight_decay[i]);
    m.mul_(beta1).add_(g, 1.0 - beta1);
    v.mul_(beta2).addcmul_(g, g, 1.0 - beta2);
    at::Tensor denom = (v.sqrt() / bc2_sqrt).add_(eps);
    p.addcdiv_(m, denom, -step_size);
  }
  HT_CATCH
}

ht_err ht_sgd_step(const ht_tensor *params, const ht_tensor *momentum_buf, const double *weight_decay,
                   int n, double lr, double momentum, double dampening, int nesterov, int first_step) {
  HT_TRY
  at::NoGradGuard guard;
  if (momentum != 0 && momentum_buf == nullptr) throw std::invalid_argument("sgd: momentum needs buffers");
  for (int i = 0; i < n; i++) {
    at::Tensor p = T(params[i]);
    const at::Tensor &g = p.grad();
    if (!g.defined()) continue;
    at::Tensor d = g;
    if (weight_decay[i] != 0) d = d.add(p, weight_decay[i]);
    if (momentum != 0) {
      at::Tensor buf = T(momentum_buf[i]);
      if (first_step) {
        buf.copy_(d);
      } else {
        buf.mul_(momentum).add_(d, 1.0 - dampening);
      }
      d = nesterov ? d.add(buf, momentum) : buf;
    }
    p.add_(d, -lr);
  }
  HT_CATCH
}

ht_err ht_clip_grad_norm(const ht_tensor *params, int n, double max_norm, double *total_norm) {
  HT_TRY
  at::NoGradGuard guard;
  // torch.nn.utils.clip_grad_norm_ with norm_type 2.
  std::vector<at::Tensor> grads;
  for (int i = 0; i < n; i++) {
    const at::Tensor &g = T(params[i]).grad();
    if (g.defined()) grads.push_back(g);
  }
  if (grads.empty()) {
    *total_norm = 0;
    return nullptr;
  }
  std::vector<at::Tensor> norms;
  norms.reserve(grads.size());
  for (auto &g : grads) norms.push_back(at::linalg_vector_norm(g, 2));
  at::Tensor total = at::linalg_vector_norm(at::stack(norms), 2);
  *total_norm = total.item<double>();
  if (max_norm > 0) {
    at::Tensor coef = at::clamp(max_norm / (total + 1e-6), ht::optional<at::Scalar>(), ht::optional<at::Scalar>(1.0));
    for (auto &g : grads) {
      at::Tensor gg = g;
      gg.mul_(coef.to(gg.device()));
    }
  }
  HT_CATCH
}

}  // extern "C"
