// Library-level functions: errors, version, devices, threads, seeds, grad mode, generators.
#include <chrono>

#include <ATen/Parallel.h>
#include <torch/version.h>

#include "common.h"

namespace ht {
std::atomic<int64_t> live_tensors{0};
std::atomic<int> threads_want{0};
std::atomic<int> threads_gen{0};

void apply_num_threads() {
  int n = threads_want.load(std::memory_order_relaxed);
  if (n > 0 && at::get_num_threads() != n) at::set_num_threads(n);
}

ht_err make_err(const char *msg) {
  if (msg == nullptr || *msg == '\0') msg = "libtorch error (no message)";
  size_t n = std::strlen(msg);
  char *p = static_cast<char *>(std::malloc(n + 1));
  if (p == nullptr) return nullptr;  // out of memory: nothing better can be done
  std::memcpy(p, msg, n + 1);
  return p;
}
}  // namespace ht

extern "C" {

void ht_err_free(ht_err e) { std::free(e); }
void ht_free_buffer(void *p) { std::free(p); }

int ht_abi_version(void) { return HT_ABI_VERSION; }

const char *ht_torch_version(void) { return TORCH_VERSION; }

int ht_cuda_is_available(void) {
  try {
    return torch::cuda::is_available() ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

int ht_cuda_device_count(void) {
  try {
    return static_cast<int>(torch::cuda::device_count());
  } catch (...) {
    return 0;
  }
}

ht_err ht_cuda_synchronize(int device) {
  HT_TRY
  ht::check_device_available(device < 0 ? 0 : device);
  torch::cuda::synchronize(device < 0 ? -1 : device);
  HT_CATCH
}

ht_err ht_manual_seed(uint64_t seed) {
  HT_TRY
  torch::manual_seed(seed);
  HT_CATCH
}

ht_err ht_set_num_threads(int n) {
  HT_TRY
  if (n < 1) throw std::invalid_argument("thread count must be >= 1, got " + std::to_string(n));
  at::set_num_threads(n);
  // Other OS threads pick the new count up on their next shim call (ht::sync_num_threads).
  ht::threads_want.store(n, std::memory_order_relaxed);
  ht::threads_gen.fetch_add(1, std::memory_order_release);
  HT_CATCH
}

int ht_get_num_threads(void) {
  try {
    ht::sync_num_threads();
    return at::get_num_threads();
  } catch (...) {
    return 1;
  }
}

int ht_is_grad_enabled(void) { return at::GradMode::is_enabled() ? 1 : 0; }

int ht_set_grad_enabled(int enabled) {
  int prev = at::GradMode::is_enabled() ? 1 : 0;
  at::GradMode::set_enabled(enabled != 0);
  return prev;
}

int64_t ht_live_tensors(void) { return ht::live_tensors.load(); }

ht_err ht_bench_native_add(ht_tensor a, ht_tensor b, int64_t iters, double *ns_per_op) {
  HT_TRY
  const at::Tensor &x = ht::T(a), &y = ht::T(b);
  for (int i = 0; i < 100; i++) (void)at::add(x, y);
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < iters; i++) (void)at::add(x, y);
  auto t1 = std::chrono::steady_clock::now();
  *ns_per_op = std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(iters);
  HT_CATCH
}

ht_err ht_generator_new(uint64_t seed, int device, ht_generator *out) {
  HT_TRY
  ht::check_device_available(device);
  at::Generator g;
  if (device < 0) {
    g = at::detail::createCPUGenerator(seed);
  } else {
    g = at::globalContext().defaultGenerator(ht::device_of(device)).clone();
    std::lock_guard<std::mutex> lock(g.mutex());
    g.set_current_seed(seed);
  }
  *out = new ht_generator_s{g};
  HT_CATCH
}

void ht_generator_free(ht_generator g) { delete g; }

}  // extern "C"
