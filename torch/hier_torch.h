/*
 * hier_torch.h — the C API of the hier shim over libtorch.
 *
 * Conventions (every function below follows them):
 *   - Handles are opaque. An ht_tensor owns one at::Tensor reference; it is
 *     released by exactly one ht_free call. An ht_module owns a TorchScript
 *     module; an ht_generator owns a random generator.
 *   - Functions that can fail return ht_err: NULL on success, otherwise a
 *     heap-allocated NUL-terminated message produced by the SAME call (never a
 *     thread-local "last error"), which the caller releases with ht_err_free.
 *     Outputs are written through pointer arguments only on success.
 *   - Every function catches std::exception and (...) so no C++ exception
 *     crosses into the caller.
 *   - Grad mode is thread-local in libtorch. Functions that must not record
 *     autograd history (optimizer steps, in-place initialisation, copies into
 *     parameters) set it themselves with a guard for the duration of the call.
 *   - Devices are encoded as an int: -1 is the CPU, N >= 0 is cuda:N.
 *   - Dtypes use c10::ScalarType numbering (see HT_* below).
 */
#ifndef HIER_TORCH_H
#define HIER_TORCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a signature below changes; the Go package checks it. */
#define HT_ABI_VERSION 3

typedef struct ht_tensor_s *ht_tensor;
typedef struct ht_module_s *ht_module;
typedef struct ht_generator_s *ht_generator;
typedef char *ht_err;

/* c10::ScalarType values. */
enum {
  HT_UINT8 = 0,
  HT_INT8 = 1,
  HT_INT16 = 2,
  HT_INT32 = 3,
  HT_INT64 = 4,
  HT_FLOAT16 = 5,
  HT_FLOAT32 = 6,
  HT_FLOAT64 = 7,
  HT_BOOL = 11,
  HT_BFLOAT16 = 15
};

#define HT_MAX_DIMS 16

/* ---- library, errors, devices (device.cpp) ---- */
void ht_err_free(ht_err e);
int ht_abi_version(void);
/* libtorch version the shim was compiled against, e.g. "1.13.0". Static string. */
const char *ht_torch_version(void);
/* 1 if this libtorch was built with CUDA support and a device is present. */
int ht_cuda_is_available(void);
int ht_cuda_device_count(void);
ht_err ht_cuda_synchronize(int device);
/* 1 if the shim was built with CUDA memory statistics (HIER_CUDA_MEMSTATS, CUDA libtorch only). */
int ht_cuda_memstats_available(void);
/* Peak bytes held by tensors on cuda:device (the caching allocator's allocated_bytes peak, as
   torch.cuda.max_memory_allocated) since the start or the last reset. */
ht_err ht_cuda_max_memory_allocated(int device, int64_t *bytes);
ht_err ht_cuda_reset_peak_memory_stats(int device);
ht_err ht_manual_seed(uint64_t seed);
ht_err ht_set_num_threads(int n);
int ht_get_num_threads(void);
/* Grad mode of the CALLING OS thread. ht_set_grad_enabled returns the previous value. */
int ht_is_grad_enabled(void);
int ht_set_grad_enabled(int enabled);
/* Autocast (automatic mixed precision) of the CALLING OS thread for one device type: device < 0
   is the CPU, >= 0 CUDA. ht_autocast_enter turns it on with the given lower-precision dtype
   (HT_BFLOAT16, or HT_FLOAT16 where this libtorch supports it for the device) and writes the
   previous state; ht_autocast_exit restores that state, and the outermost exit clears the cache
   of weights cast for the region (torch.autocast's __enter__/__exit__). */
ht_err ht_autocast_enter(int device, int dtype, int *prev_enabled, int *prev_dtype);
ht_err ht_autocast_exit(int device, int prev_enabled, int prev_dtype);
/* 1 if autocast is on for the device type on the calling OS thread; *dtype its dtype. */
ht_err ht_autocast_state(int device, int *enabled, int *dtype);
/* Number of ht_tensor handles currently alive in the shim. */
int64_t ht_live_tensors(void);
/* Measures libtorch's own cost of a + b (no cgo) over iters calls; writes ns per op. */
ht_err ht_bench_native_add(ht_tensor a, ht_tensor b, int64_t iters, double *ns_per_op);

ht_err ht_generator_new(uint64_t seed, int device, ht_generator *out);
void ht_generator_free(ht_generator g);

/* ---- tensors (tensor.cpp) ---- */
void ht_free(ht_tensor t);
/* Releases the n handles of ts (NULL entries are skipped), as n ht_free calls would. */
void ht_free_many(const ht_tensor *ts, size_t n);
/* Creates a tensor by COPYING nbytes from data (host memory), then moving it to device. */
ht_err ht_from_data(const void *data, size_t nbytes, int dtype, const int64_t *shape, int ndim,
                    int device, ht_tensor *out);
/* Copies the tensor's elements (made contiguous, moved to CPU) into dst, which must hold nbytes. */
ht_err ht_copy_to_host(ht_tensor t, void *dst, size_t nbytes);
/* One call for all metadata: dtype, device, ndim, shape (HT_MAX_DIMS slots), requires_grad, is_leaf. */
ht_err ht_info(ht_tensor t, int *dtype, int *device, int *ndim, int64_t *shape, int *requires_grad,
               int *is_leaf);
ht_err ht_item(ht_tensor t, double *out);
/* A second handle to the same tensor (shares storage and autograd identity). */
ht_err ht_share(ht_tensor t, ht_tensor *out);
/* Creation. dtype is an HT_* value; gen may be NULL (global generator). */
ht_err ht_full(const int64_t *shape, int ndim, double value, int dtype, int device, ht_tensor *out);
ht_err ht_arange(double start, double end, double step, int dtype, int device, ht_tensor *out);
/* kind: 0 randn (standard normal), 1 rand (uniform [0,1)), 2 normal(mean=a, std=b), 3 uniform(a, b) */
ht_err ht_random(int kind, const int64_t *shape, int ndim, double a, double b, int dtype, int device,
                 ht_generator gen, ht_tensor *out);
/* In-place, no autograd recording: same kinds as ht_random, plus 4 = fill with a, 5 = zero. */
ht_err ht_init_(ht_tensor t, int kind, double a, double b, ht_generator gen);
/* dst.copy_(src) without autograd recording (loading weights, restoring state). */
ht_err ht_copy_(ht_tensor dst, ht_tensor src);
/* to(device, dtype); dtype -1 keeps the dtype. Always returns a new handle. */
ht_err ht_to(ht_tensor t, int device, int dtype, ht_tensor *out);

/* ---- elementwise and shape ops (ops.cpp) ---- */
enum {
  HT_U_NEG = 0,
  HT_U_EXP,
  HT_U_LOG,
  HT_U_TANH,
  HT_U_SQRT,
  HT_U_RSQRT,
  HT_U_ABS,
  HT_U_SIGMOID,
  HT_U_RELU,
  HT_U_GELU_TANH,
  HT_U_GELU_ERF,
  HT_U_CONTIGUOUS,
  HT_U_CLONE,
  HT_U_DETACH,
  HT_U_LOGICAL_NOT,
  HT_U_SQUARE
};
ht_err ht_unary(int op, ht_tensor a, ht_tensor *out);

enum {
  HT_B_ADD = 0,
  HT_B_SUB,
  HT_B_MUL,
  HT_B_DIV,
  HT_B_POW,
  HT_B_EQ,
  HT_B_NE,
  HT_B_LT,
  HT_B_LE,
  HT_B_GT,
  HT_B_GE,
  HT_B_MAXIMUM,
  HT_B_MINIMUM,
  HT_B_MATMUL,
  HT_B_BMM,
  HT_B_LOGICAL_AND
};
/* Tensor (op) tensor. For HT_B_ADD and HT_B_SUB, alpha scales b. */
ht_err ht_binary(int op, ht_tensor a, ht_tensor b, double alpha, ht_tensor *out);
/* Tensor (op) scalar, same op codes (HT_B_ADD .. HT_B_MINIMUM). rsub: 1 means scalar (op) tensor. */
ht_err ht_binary_scalar(int op, ht_tensor a, double s, int rsub, ht_tensor *out);

ht_err ht_addmm(ht_tensor bias, ht_tensor a, ht_tensor b, double beta, double alpha, ht_tensor *out);
ht_err ht_where(ht_tensor cond, ht_tensor a, ht_tensor b, ht_tensor *out);
ht_err ht_masked_fill(ht_tensor t, ht_tensor mask, double value, ht_tensor *out);
/* has_min/has_max select which bound applies. */
ht_err ht_clamp(ht_tensor t, int has_min, double min, int has_max, double max, ht_tensor *out);
/* upper: 1 triu, 0 tril. */
ht_err ht_tri(ht_tensor t, int upper, int64_t diagonal, ht_tensor *out);

enum { HT_R_SUM = 0, HT_R_MEAN, HT_R_AMAX, HT_R_AMIN, HT_R_LOGSUMEXP, HT_R_NORM2 };
/* ndims == 0 reduces over all dimensions. dtype -1 keeps the result dtype (sum/mean only). */
ht_err ht_reduce(int op, ht_tensor t, const int64_t *dims, int ndims, int keepdim, int dtype,
                 ht_tensor *out);
/* max/min along dim with indices. is_min selects min. */
ht_err ht_max_dim(ht_tensor t, int64_t dim, int keepdim, int is_min, ht_tensor *values,
                  ht_tensor *indices);
/* has_dim 0: argmax over the flattened tensor. */
ht_err ht_argmax(ht_tensor t, int has_dim, int64_t dim, int keepdim, ht_tensor *out);
ht_err ht_cumsum(ht_tensor t, int64_t dim, ht_tensor *out);

/* Shape ops. reshape: is_view selects view (error if not viewable) vs reshape. */
ht_err ht_reshape(ht_tensor t, const int64_t *shape, int ndim, int is_view, ht_tensor *out);
ht_err ht_transpose(ht_tensor t, int64_t d0, int64_t d1, ht_tensor *out);
ht_err ht_permute(ht_tensor t, const int64_t *dims, int ndim, ht_tensor *out);
ht_err ht_expand(ht_tensor t, const int64_t *shape, int ndim, ht_tensor *out);
/* has_dim 0 squeezes all size-1 dims. */
ht_err ht_squeeze(ht_tensor t, int has_dim, int64_t dim, ht_tensor *out);
ht_err ht_unsqueeze(ht_tensor t, int64_t dim, ht_tensor *out);
ht_err ht_cat(const ht_tensor *ts, int n, int64_t dim, int stack, ht_tensor *out);
/* Splits into pieces of split_size along dim (chunks=0), or into `chunks` chunks (split_size
 * ignored). Writes at most cap handles to outs and the count to n; error if more than cap. */
ht_err ht_split(ht_tensor t, int64_t split_size, int64_t chunks, int64_t dim, ht_tensor *outs,
                int cap, int *n);
ht_err ht_narrow(ht_tensor t, int64_t dim, int64_t start, int64_t length, ht_tensor *out);
ht_err ht_slice(ht_tensor t, int64_t dim, int64_t start, int64_t end, int64_t step,
                ht_tensor *out);
ht_err ht_index_select(ht_tensor t, int64_t dim, ht_tensor index, ht_tensor *out);
ht_err ht_gather(ht_tensor t, int64_t dim, ht_tensor index, ht_tensor *out);
/* Out-of-place index_add: t with source rows added at index along dim. */
ht_err ht_index_add(ht_tensor t, int64_t dim, ht_tensor index, ht_tensor source, ht_tensor *out);
ht_err ht_topk(ht_tensor t, int64_t k, int64_t dim, int largest, int sorted, ht_tensor *values,
               ht_tensor *indices);
ht_err ht_sort(ht_tensor t, int64_t dim, int descending, ht_tensor *values, ht_tensor *indices);

/* ---- autograd (ops.cpp) ---- */
ht_err ht_set_requires_grad(ht_tensor t, int requires_grad);
/* grad may be NULL for a scalar output. */
ht_err ht_backward(ht_tensor t, ht_tensor grad, int retain_graph);
/* Writes NULL to out if the gradient is undefined. */
ht_err ht_grad(ht_tensor t, ht_tensor *out);
/* set_to_none 1: grad becomes undefined; 0: zeroed in place. */
ht_err ht_zero_grad(const ht_tensor *ts, int n, int set_to_none);

/* ---- nn functional and losses (nn.cpp) ---- */
/* bias may be NULL. weight is [out, in] (nn.Linear layout). */
ht_err ht_linear(ht_tensor x, ht_tensor weight, ht_tensor bias, ht_tensor *out);
/* weight and bias may be NULL. normalized over the last ndim dims given by shape. */
ht_err ht_layer_norm(ht_tensor x, const int64_t *shape, int ndim, ht_tensor weight, ht_tensor bias,
                     double eps, ht_tensor *out);
ht_err ht_softmax(ht_tensor x, int64_t dim, int log, ht_tensor *out);
ht_err ht_dropout(ht_tensor x, double p, int train, ht_tensor *out);
ht_err ht_embedding(ht_tensor weight, ht_tensor ids, int64_t padding_idx, ht_tensor *out);
/* F.normalize: x / max(||x||_p, eps) along dim. */
ht_err ht_normalize(ht_tensor x, double p, int64_t dim, double eps, ht_tensor *out);
/* reduction: 0 none, 1 mean, 2 sum. weight may be NULL. */
ht_err ht_cross_entropy(ht_tensor logits, ht_tensor target, ht_tensor weight, int reduction,
                        int64_t ignore_index, double label_smoothing, ht_tensor *out);
ht_err ht_mse_loss(ht_tensor input, ht_tensor target, int reduction, ht_tensor *out);
/* weight and pos_weight may be NULL. */
ht_err ht_bce_with_logits(ht_tensor input, ht_tensor target, ht_tensor weight, ht_tensor pos_weight,
                          int reduction, ht_tensor *out);

/* ---- optimizers (optim.cpp); all run without autograd recording ---- */
/* One AdamW step (torch.optim.AdamW, single-tensor path) over n parameters.
 * exp_avg and exp_avg_sq are state tensors shaped like the params; steps[i] is parameter i's
 * step count, incremented here for every parameter that has a gradient (as torch keeps
 * state['step'] per parameter). weight_decay is per parameter. Parameters whose grad is
 * undefined are skipped. */
ht_err ht_adamw_step(const ht_tensor *params, const ht_tensor *exp_avg, const ht_tensor *exp_avg_sq,
                     const double *weight_decay, int64_t *steps, int n, double lr, double beta1,
                     double beta2, double eps);
/* One SGD step (torch.optim.SGD). momentum_buf may be NULL when momentum == 0;
 * first_step 1 initialises the buffers with the gradient as torch does. */
ht_err ht_sgd_step(const ht_tensor *params, const ht_tensor *momentum_buf, const double *weight_decay,
                   int n, double lr, double momentum, double dampening, int nesterov,
                   int first_step);
/* torch.nn.utils.clip_grad_norm_ (L2). max_norm <= 0 only measures. Writes the total norm
 * before clipping. */
ht_err ht_clip_grad_norm(const ht_tensor *params, int n, double max_norm, double *total_norm);

/* ---- TorchScript and pickles (jit.cpp) ---- */
ht_err ht_jit_load(const char *path, int device, ht_module *out);
void ht_module_free(ht_module m);
/* Calls forward(inputs...). The result must be a tensor (or a tuple whose first element is). */
ht_err ht_jit_forward(ht_module m, const ht_tensor *inputs, int n, ht_tensor *out);
/* Named parameters, recursively. Writes a malloc'd array of handles and a malloc'd
 * '\n'-joined name list; release both with ht_free_buffer (the handles with ht_free). */
ht_err ht_jit_named_parameters(ht_module m, ht_tensor **tensors, char **names, int *n);
ht_err ht_jit_train(ht_module m, int on);
ht_err ht_jit_to(ht_module m, int device, int dtype);
/* Reads a file written by torch.save (zip format) holding a dict of tensors (a state dict). */
ht_err ht_pickle_load_tensors(const char *path, ht_tensor **tensors, char **names, int *n);
void ht_free_buffer(void *p);

#ifdef __cplusplus
}
#endif

#endif
