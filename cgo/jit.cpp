// TorchScript modules and torch.save pickles.
#include <fstream>
#include <iterator>

#include <torch/script.h>
#include <torch/serialize.h>

#include "common.h"

struct ht_module_s {
  torch::jit::Module m;
};

namespace {
// Copies names into one malloc'd '\n'-joined string and handles into a malloc'd array.
void export_named(const std::vector<std::pair<std::string, at::Tensor>> &items, ht_tensor **tensors,
                  char **names, int *n) {
  std::string joined;
  for (size_t i = 0; i < items.size(); i++) {
    if (i) joined += '\n';
    joined += items[i].first;
  }
  auto *arr = static_cast<ht_tensor *>(std::malloc(sizeof(ht_tensor) * (items.size() ? items.size() : 1)));
  char *s = static_cast<char *>(std::malloc(joined.size() + 1));
  if (arr == nullptr || s == nullptr) {
    std::free(arr);
    std::free(s);
    throw std::bad_alloc();
  }
  std::memcpy(s, joined.c_str(), joined.size() + 1);
  std::vector<at::Tensor> ts;
  ts.reserve(items.size());
  for (const auto &it : items) ts.push_back(it.second);
  try {
    ht::wrap_all(std::move(ts), arr);
  } catch (...) {
    std::free(arr);
    std::free(s);
    throw;
  }
  *tensors = arr;
  *names = s;
  *n = static_cast<int>(items.size());
}
}  // namespace

extern "C" {

ht_err ht_jit_load(const char *path, int device, ht_module *out) {
  HT_TRY
  ht::check_device_available(device);
  auto m = torch::jit::load(std::string(path), ht::device_of(device));
  *out = new ht_module_s{std::move(m)};
  HT_CATCH
}

void ht_module_free(ht_module m) { delete m; }

ht_err ht_jit_forward(ht_module m, const ht_tensor *inputs, int n, ht_tensor *out) {
  HT_TRY
  if (m == nullptr) throw std::invalid_argument("null module handle");
  std::vector<c10::IValue> args;
  args.reserve(n);
  for (int i = 0; i < n; i++) args.emplace_back(ht::T(inputs[i]));
  c10::IValue r = m->m.forward(args);
  if (r.isTensor()) {
    *out = ht::wrap(r.toTensor());
  } else if (r.isTuple() && !r.toTupleRef().elements().empty() && r.toTupleRef().elements()[0].isTensor()) {
    *out = ht::wrap(r.toTupleRef().elements()[0].toTensor());
  } else {
    throw std::runtime_error("TorchScript forward returned " + r.tagKind() + ", not a tensor");
  }
  HT_CATCH
}

ht_err ht_jit_named_parameters(ht_module m, ht_tensor **tensors, char **names, int *n) {
  HT_TRY
  if (m == nullptr) throw std::invalid_argument("null module handle");
  std::vector<std::pair<std::string, at::Tensor>> items;
  for (const auto &p : m->m.named_parameters(/*recurse=*/true)) items.emplace_back(p.name, p.value);
  export_named(items, tensors, names, n);
  HT_CATCH
}

ht_err ht_jit_train(ht_module m, int on) {
  HT_TRY
  if (m == nullptr) throw std::invalid_argument("null module handle");
  m->m.train(on != 0);
  HT_CATCH
}

ht_err ht_jit_to(ht_module m, int device, int dtype) {
  HT_TRY
  if (m == nullptr) throw std::invalid_argument("null module handle");
  ht::check_device_available(device);
  if (dtype < 0) {
    m->m.to(ht::device_of(device));
  } else {
    m->m.to(ht::device_of(device), ht::scalar_type(dtype));
  }
  HT_CATCH
}

ht_err ht_pickle_load_tensors(const char *path, ht_tensor **tensors, char **names, int *n) {
  HT_TRY
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(std::string("cannot open ") + path);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  c10::IValue v = torch::pickle_load(bytes);
  if (!v.isGenericDict()) throw std::runtime_error("pickle does not hold a dict of tensors (got " + v.tagKind() + ")");
  std::vector<std::pair<std::string, at::Tensor>> items;
  for (const auto &kv : v.toGenericDict()) {
    if (!kv.key().isString()) throw std::runtime_error("state dict key is not a string");
    if (!kv.value().isTensor())
      throw std::runtime_error("state dict entry " + kv.key().toStringRef() + " is " + kv.value().tagKind() +
                               ", not a tensor");
    items.emplace_back(kv.key().toStringRef(), kv.value().toTensor());
  }
  export_named(items, tensors, names, n);
  HT_CATCH
}

}  // extern "C"
