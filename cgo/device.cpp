// Library-level functions: errors, version, devices, threads, seeds, grad mode, generators.
#include <chrono>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/version.h>

// CUDA memory statistics need the CUDA headers of a CUDA build of libtorch (and libc10_cuda).
// CMakeLists.txt defines HIER_CUDA_MEMSTATS for this file only when it builds against such a
// libtorch; elsewhere the two calls below report that they are unavailable.
#ifdef HIER_CUDA_MEMSTATS
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include "common.h"

#include <ATen/autocast_mode.h>

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

#ifdef HIER_CUDA_MEMSTATS
// The caching allocator sizes its per-device tables on the first CUDA allocation; before that its
// statistics calls reject every device ("Invalid device argument"). A one-element allocation
// initialises it (PyTorch's Python side does the same through torch.cuda's lazy init).
static void init_cuda_allocator(int device) {
  auto t = at::empty({1}, at::TensorOptions().device(at::kCUDA, static_cast<c10::DeviceIndex>(device)));
  (void)t;
}
#endif

int ht_cuda_memstats_available(void) {
#ifdef HIER_CUDA_MEMSTATS
  return 1;
#else
  return 0;
#endif
}

ht_err ht_cuda_max_memory_allocated(int device, int64_t *bytes) {
  HT_TRY
  if (device < 0) throw std::invalid_argument("max_memory_allocated needs a CUDA device, got the CPU");
  ht::check_device_available(device);
#ifdef HIER_CUDA_MEMSTATS
  init_cuda_allocator(device);
  // allocated_bytes[0] is StatType::AGGREGATE in every release; the stats type itself moved
  // between namespaces in 2.x, hence auto.
  auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(device));
  *bytes = static_cast<int64_t>(stats.allocated_bytes[0].peak);
#else
  throw std::runtime_error("CUDA memory statistics are not available: the shim was built without HIER_CUDA_MEMSTATS (a CPU libtorch, or -DHIER_CUDA_MEMSTATS=OFF)");
#endif
  HT_CATCH
}

ht_err ht_cuda_reset_peak_memory_stats(int device) {
  HT_TRY
  if (device < 0) throw std::invalid_argument("reset_peak_memory_stats needs a CUDA device, got the CPU");
  ht::check_device_available(device);
#ifdef HIER_CUDA_MEMSTATS
  init_cuda_allocator(device);
  c10::cuda::CUDACachingAllocator::resetPeakStats(static_cast<c10::DeviceIndex>(device));
#else
  throw std::runtime_error("CUDA memory statistics are not available: the shim was built without HIER_CUDA_MEMSTATS (a CPU libtorch, or -DHIER_CUDA_MEMSTATS=OFF)");
#endif
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

}  // extern "C"

namespace {
// libtorch 2.4 replaced the per-device autocast calls (is_cpu_enabled, set_autocast_gpu_dtype,
// ...) with ones taking the device type, and deprecated the old ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool ac_enabled(at::DeviceType t) { return at::autocast::is_autocast_enabled(t); }
void ac_set_enabled(at::DeviceType t, bool on) { at::autocast::set_autocast_enabled(t, on); }
at::ScalarType ac_dtype(at::DeviceType t) { return at::autocast::get_autocast_dtype(t); }
void ac_set_dtype(at::DeviceType t, at::ScalarType d) { at::autocast::set_autocast_dtype(t, d); }
#else
bool ac_enabled(at::DeviceType t) { return t == at::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled(); }
void ac_set_enabled(at::DeviceType t, bool on) {
  if (t == at::kCUDA) at::autocast::set_enabled(on);
  else at::autocast::set_cpu_enabled(on);
}
at::ScalarType ac_dtype(at::DeviceType t) {
  return t == at::kCUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}
void ac_set_dtype(at::DeviceType t, at::ScalarType d) {
  if (t == at::kCUDA) at::autocast::set_autocast_gpu_dtype(d);
  else at::autocast::set_autocast_cpu_dtype(d);
}
#endif
// CPU autocast before libtorch 2.1 runs only in bfloat16 (float16 raises inside the ops).
constexpr bool cpu_autocast_fp16 = TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1);
}  // namespace

extern "C" {

ht_err ht_autocast_enter(int device, int dtype, int *prev_enabled, int *prev_dtype) {
  HT_TRY
  ht::check_device_available(device);
  at::DeviceType t = device < 0 ? at::kCPU : at::kCUDA;
  at::ScalarType st = ht::scalar_type(dtype);
  if (st != at::kBFloat16 && st != at::kHalf)
    throw std::invalid_argument(std::string("autocast: dtype must be bfloat16 or float16, got ") + c10::toString(st));
  if (t == at::kCPU && st == at::kHalf && !cpu_autocast_fp16)
    throw std::invalid_argument("autocast: libtorch " TORCH_VERSION " runs CPU autocast in bfloat16 only");
  *prev_enabled = ac_enabled(t) ? 1 : 0;
  *prev_dtype = static_cast<int>(ac_dtype(t));
  ac_set_dtype(t, st);
  ac_set_enabled(t, true);
  at::autocast::increment_nesting();
  HT_CATCH
}

ht_err ht_autocast_exit(int device, int prev_enabled, int prev_dtype) {
  HT_TRY
  at::DeviceType t = device < 0 ? at::kCPU : at::kCUDA;
  at::ScalarType prev = ht::scalar_type(prev_dtype);
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  ac_set_enabled(t, prev_enabled != 0);
  ac_set_dtype(t, prev);
  HT_CATCH
}

ht_err ht_autocast_state(int device, int *enabled, int *dtype) {
  HT_TRY
  at::DeviceType t = device < 0 ? at::kCPU : at::kCUDA;
  *enabled = ac_enabled(t) ? 1 : 0;
  *dtype = static_cast<int>(ac_dtype(t));
  HT_CATCH
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
