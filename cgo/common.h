// Internal helpers shared by the shim's translation units. Not part of the C API.
#pragma once

#include <torch/torch.h>
#include <torch/version.h>

#include <atomic>
#include <memory>
#include <optional>
#include <tuple>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "hier_torch.h"

struct ht_tensor_s {
  at::Tensor t;
};

struct ht_generator_s {
  at::Generator g;
};

namespace ht {

// The optional type of ATen's signatures. libtorch < 2.5 has its own c10::optional (a distinct
// class before 2.4); from 2.4 on c10::optional is an alias of std::optional, which the API uses
// directly, and later releases may drop the alias. Naming it once here keeps the shim compiling
// against 1.13 and against 2.x.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 5)
template <class T>
using optional = std::optional<T>;
inline constexpr std::nullopt_t nullopt = std::nullopt;
#else
template <class T>
using optional = c10::optional<T>;
constexpr c10::nullopt_t nullopt = c10::nullopt;
#endif

extern std::atomic<int64_t> live_tensors;

// Intra-op thread count. With libtorch's OpenMP backend, at::set_num_threads changes the OpenMP
// setting of the CALLING thread only (plus the default for threads that have not used ATen yet),
// but Go runs cgo calls on whatever OS thread the goroutine is on. ht_set_num_threads therefore
// records the request with a generation number, and every entry point (HT_TRY) applies the latest
// request to its own thread once per change: one thread-local compare on the fast path.
extern std::atomic<int> threads_want;
extern std::atomic<int> threads_gen;
void apply_num_threads();
inline void sync_num_threads() {
  static thread_local int seen = 0;
  int gen = threads_gen.load(std::memory_order_acquire);
  if (gen != seen) {
    seen = gen;
    apply_num_threads();
  }
}

// Copies msg into a malloc'd buffer the Go side frees with ht_err_free.
ht_err make_err(const char *msg);

inline ht_tensor wrap(at::Tensor t) {
  ht_tensor h = new ht_tensor_s{std::move(t)};
  live_tensors.fetch_add(1, std::memory_order_relaxed);
  return h;
}

// wrap_all publishes several results at once: every handle is allocated first, so an allocation
// failure leaks none of them and writes no output.
inline void wrap_all(std::vector<at::Tensor> ts, ht_tensor *outs) {
  std::vector<std::unique_ptr<ht_tensor_s>> hs;
  hs.reserve(ts.size());
  for (auto &t : ts) hs.push_back(std::make_unique<ht_tensor_s>(ht_tensor_s{std::move(t)}));
  for (size_t i = 0; i < hs.size(); i++) outs[i] = hs[i].release();
  live_tensors.fetch_add(static_cast<int64_t>(hs.size()), std::memory_order_relaxed);
}

// wrap_pair publishes two results (values, indices) with wrap_all's guarantee.
inline void wrap_pair(std::tuple<at::Tensor, at::Tensor> r, ht_tensor *a, ht_tensor *b) {
  ht_tensor outs[2];
  wrap_all({std::get<0>(r), std::get<1>(r)}, outs);
  *a = outs[0];
  *b = outs[1];
}

inline const at::Tensor &T(ht_tensor h) {
  if (h == nullptr) throw std::invalid_argument("null tensor handle");
  return h->t;
}

inline optional<at::Tensor> opt(ht_tensor h) {
  if (h == nullptr) return nullopt;
  return h->t;
}

inline at::Device device_of(int d) {
  if (d < 0) return at::Device(at::kCPU);
  return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(d));
}

inline int encode_device(const at::Device &d) {
  if (d.is_cuda()) return d.has_index() ? d.index() : 0;
  return -1;
}

inline at::ScalarType scalar_type(int dtype) {
  switch (dtype) {
    case HT_UINT8: case HT_INT8: case HT_INT16: case HT_INT32: case HT_INT64:
    case HT_FLOAT16: case HT_FLOAT32: case HT_FLOAT64: case HT_BOOL: case HT_BFLOAT16:
      return static_cast<at::ScalarType>(dtype);
    default:
      throw std::invalid_argument("unsupported dtype code " + std::to_string(dtype));
  }
}

inline std::vector<int64_t> dims(const int64_t *p, int n) {
  if (n < 0 || n > HT_MAX_DIMS) throw std::invalid_argument("invalid number of dims " + std::to_string(n));
  return std::vector<int64_t>(p, p + n);
}

inline at::Reduction::Reduction reduction(int r) {
  switch (r) {
    case 0: return at::Reduction::None;
    case 1: return at::Reduction::Mean;
    case 2: return at::Reduction::Sum;
    default: throw std::invalid_argument("invalid reduction " + std::to_string(r));
  }
}

inline void check_device_available(int d) {
  if (d >= 0) {
    if (!torch::cuda::is_available())
      throw std::runtime_error("cuda:" + std::to_string(d) +
                               " requested but this libtorch has no CUDA support or no CUDA device is visible");
    if (static_cast<size_t>(d) >= torch::cuda::device_count())
      throw std::runtime_error("cuda:" + std::to_string(d) + " requested but only " +
                               std::to_string(torch::cuda::device_count()) + " CUDA device(s) are visible");
  }
}

}  // namespace ht

// Every exported function body sits between HT_TRY and HT_CATCH: exceptions become the
// returned error of the same call.
#define HT_TRY try { ht::sync_num_threads();
#define HT_CATCH                                             \
  }                                                          \
  catch (const c10::Error &e) {                              \
    return ht::make_err(e.what_without_backtrace());         \
  }                                                          \
  catch (const std::exception &e) {                          \
    return ht::make_err(e.what());                           \
  }                                                          \
  catch (...) {                                              \
    return ht::make_err("unknown C++ exception in libtorch"); \
  }                                                          \
  return nullptr;
