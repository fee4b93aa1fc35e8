// Optimizer steps and gradient clipping. Each step is one call over all parameters, run
// with grad mode off inside the call (grad mode is thread-local in libtorch).
#include <cmath>

#include "common.h"

using ht::T;

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
