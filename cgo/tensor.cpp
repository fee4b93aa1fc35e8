// Tensor handles: creation from host data, copies back, metadata, creation ops, conversion.
#include "common.h"

using ht::T;

namespace {
ht::optional<at::Generator> gen_of(ht_generator g) {
  if (g == nullptr) return ht::nullopt;
  return g->g;
}

at::TensorOptions options(int dtype, int device) {
  ht::check_device_available(device);
  return at::TensorOptions().dtype(ht::scalar_type(dtype)).device(ht::device_of(device));
}

void fill_random(at::Tensor &t, int kind, double a, double b, ht_generator g) {
  auto gen = gen_of(g);
  switch (kind) {
    case 0: t.normal_(0.0, 1.0, gen); break;
    case 1: t.uniform_(0.0, 1.0, gen); break;
    case 2: t.normal_(a, b, gen); break;
    case 3: t.uniform_(a, b, gen); break;
    case 4: t.fill_(a); break;
    case 5: t.zero_(); break;
    default: throw std::invalid_argument("unknown random/init kind " + std::to_string(kind));
  }
}
}  // namespace

extern "C" {

void ht_free(ht_tensor t) {
  if (t == nullptr) return;
  ht::live_tensors.fetch_sub(1, std::memory_order_relaxed);
  delete t;
}

void ht_free_many(const ht_tensor *ts, size_t n) {
  int64_t freed = 0;
  for (size_t i = 0; i < n; i++) {
    if (ts[i] == nullptr) continue;
    delete ts[i];
    freed++;
  }
  ht::live_tensors.fetch_sub(freed, std::memory_order_relaxed);
}

ht_err ht_from_data(const void *data, size_t nbytes, int dtype, const int64_t *shape, int ndim,
                    int device, ht_tensor *out) {
  HT_TRY
  auto st = ht::scalar_type(dtype);
  auto sizes = ht::dims(shape, ndim);
  int64_t numel = 1;
  for (auto s : sizes) {
    if (s < 0) throw std::invalid_argument("negative dimension in shape");
    numel *= s;
  }
  size_t want = static_cast<size_t>(numel) * c10::elementSize(st);
  if (want != nbytes)
    throw std::invalid_argument("data has " + std::to_string(nbytes) + " bytes but shape and dtype need " +
                                std::to_string(want));
  ht::check_device_available(device);
  at::Tensor t = at::empty(sizes, at::TensorOptions().dtype(st));
  if (nbytes > 0) std::memcpy(t.data_ptr(), data, nbytes);
  if (device >= 0) t = t.to(ht::device_of(device));
  *out = ht::wrap(std::move(t));
  HT_CATCH
}

ht_err ht_copy_to_host(ht_tensor h, void *dst, size_t nbytes) {
  HT_TRY
  at::Tensor t = T(h).detach().to(at::kCPU).contiguous();
  size_t have = static_cast<size_t>(t.numel()) * t.element_size();
  if (have != nbytes)
    throw std::invalid_argument("tensor has " + std::to_string(have) + " bytes, destination " +
                                std::to_string(nbytes));
  if (nbytes > 0) std::memcpy(dst, t.data_ptr(), nbytes);
  HT_CATCH
}

ht_err ht_info(ht_tensor h, int *dtype, int *device, int *ndim, int64_t *shape, int *requires_grad,
               int *is_leaf) {
  HT_TRY
  const at::Tensor &t = T(h);
  if (!t.defined()) throw std::invalid_argument("undefined tensor");
  if (t.dim() > HT_MAX_DIMS) throw std::invalid_argument("tensor has more than 16 dims");
  *dtype = static_cast<int>(t.scalar_type());
  *device = ht::encode_device(t.device());
  *ndim = static_cast<int>(t.dim());
  for (int64_t i = 0; i < t.dim(); i++) shape[i] = t.size(i);
  *requires_grad = t.requires_grad() ? 1 : 0;
  *is_leaf = t.is_leaf() ? 1 : 0;
  HT_CATCH
}

ht_err ht_item(ht_tensor h, double *out) {
  HT_TRY
  *out = T(h).item().toDouble();
  HT_CATCH
}

ht_err ht_share(ht_tensor h, ht_tensor *out) {
  HT_TRY
  *out = ht::wrap(T(h));
  HT_CATCH
}

ht_err ht_full(const int64_t *shape, int ndim, double value, int dtype, int device, ht_tensor *out) {
  HT_TRY
  *out = ht::wrap(at::full(ht::dims(shape, ndim), value, options(dtype, device)));
  HT_CATCH
}

ht_err ht_arange(double start, double end, double step, int dtype, int device, ht_tensor *out) {
  HT_TRY
  *out = ht::wrap(at::arange(start, end, step, options(dtype, device)));
  HT_CATCH
}

ht_err ht_random(int kind, const int64_t *shape, int ndim, double a, double b, int dtype, int device,
                 ht_generator gen, ht_tensor *out) {
  HT_TRY
  at::Tensor t = at::empty(ht::dims(shape, ndim), options(dtype, device));
  fill_random(t, kind, a, b, gen);
  *out = ht::wrap(std::move(t));
  HT_CATCH
}

ht_err ht_init_(ht_tensor h, int kind, double a, double b, ht_generator gen) {
  HT_TRY
  at::NoGradGuard guard;
  at::Tensor t = T(h);
  fill_random(t, kind, a, b, gen);
  HT_CATCH
}

ht_err ht_copy_(ht_tensor dst, ht_tensor src) {
  HT_TRY
  at::NoGradGuard guard;
  const at::Tensor &d = T(dst), &s = T(src);
  if (!d.sizes().equals(s.sizes()))
    throw std::invalid_argument("copy_: shape " + c10::str(s.sizes()) + " does not match destination " +
                                c10::str(d.sizes()));
  at::Tensor dd = d;
  dd.copy_(s);
  HT_CATCH
}

ht_err ht_to(ht_tensor h, int device, int dtype, ht_tensor *out) {
  HT_TRY
  ht::check_device_available(device);
  const at::Tensor &t = T(h);
  auto st = dtype < 0 ? t.scalar_type() : ht::scalar_type(dtype);
  *out = ht::wrap(t.to(ht::device_of(device), st));
  HT_CATCH
}

}  // extern "C"
