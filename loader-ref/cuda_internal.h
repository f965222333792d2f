/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_CUDA_INTERNAL_H
#define KS_CUDA_INTERNAL_H

/*
 * Shared by the CUDA files of the reference loader (C++, compiled by nvcc):
 * backend_cuda.cu (the backend: device weights, pinned staging ring),
 * cuda_model.cu (forward pass and greedy generation on the device),
 * cuda_kernels.cu (the kernels and their launchers) and cuda_kernels_api.cu
 * (host-pointer wrappers for tests/gpu/check.sh, cuda_kernels.h).
 *
 * Errors: every CUDA runtime call goes through ks_cuda_check(), which maps
 * the cudaError_t to a KS_ERR_* code and keeps the runtime's message
 * (cudaGetErrorString) in a struct ks_cuda_err for the caller's log; only
 * the best-effort calls of teardown paths (wipe, free, destroy), which have
 * no caller to report to, are cast to void. Kernel launches are followed by
 * ks_cuda_check(cudaGetLastError()); errors of the kernels themselves
 * surface at the next synchronising call, which is checked too. Everything
 * is fp32 (model.h); no fast-math.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime.h>

extern "C" {
#include "ks_error.h"
#include "locked_mem.h"
#include "model.h"
}

/* The runtime's last message, for the caller's log. */
struct ks_cuda_err {
    char msg[256];
};

/*
 * KS_OK for cudaSuccess; otherwise a KS_ERR_* (KS_ERR_BACKEND_UNAVAILABLE
 * when there is no usable driver or device, KS_ERR_NOMEM for an allocation,
 * KS_ERR_BACKEND_DEVICE for anything else) with "what: message (name)" in
 * err (may be NULL). `what` is the call's text; only the function name is
 * kept.
 */
int ks_cuda_check(cudaError_t e, const char *what, struct ks_cuda_err *err);
#define KS_CUDA_CHECK(err, call) ks_cuda_check((call), #call, (err))

/* A failure that is not the runtime's (bad argument, size overflow). */
int ks_cuda_fail(struct ks_cuda_err *err, int r, const char *msg);

/* ---- kernels (cuda_kernels.cu) ------------------------------------------ */

/* kernel<<<grid, block, 0, stream>>>(args...), spelled as a macro so that
 * the CPU emulation of tests/gpu/emu (which defines it first) runs the same
 * kernels. */
#ifndef KS_CUDA_LAUNCH
#define KS_CUDA_LAUNCH(kernel, grid, block, stream, ...)                                           \
    kernel<<<(grid), (block), 0, (stream)>>>(__VA_ARGS__)
#endif

/* Threads per block of every kernel (a multiple of the warp size). */
#define KS_CUDA_BLOCK 256

/* Epilogue of a matrix product y = x @ W: */
enum ks_cuda_epi {
    KS_CUDA_EPI_STORE = 0, /* y = x @ W */
    KS_CUDA_EPI_BIAS = 1,  /* y = x @ W + b */
    KS_CUDA_EPI_GELU = 2,  /* y = GELU(x @ W + b) */
    KS_CUDA_EPI_RESID = 3, /* y += x @ W + b (residual add) */
};

/* Split-K factor of a [T][K] @ [K][N] product on a device with `sms`
 * multiprocessors (forced: 0 = choose). */
int ks_cuda_matmul_splits(size_t T, size_t K, size_t N, int sms, int forced);
/* Floats of scratch that product needs with `splits`. */
size_t ks_cuda_matmul_scratch(size_t T, size_t N, int splits);

/*
 * y[T][N] (epilogue `epi`, bias b[N] unless STORE) from x[T][K] and W[K][N],
 * all row-major, W as the weights file stores it. K is split `splits` ways
 * (ks_cuda_matmul_splits) into `part` (ks_cuda_matmul_scratch floats); the
 * partial sums are added in a fixed order, so results are deterministic.
 */
int ks_cuda_launch_matmul(cudaStream_t s, float *y, const float *x, const float *w, const float *b,
                          size_t T, size_t K, size_t N, enum ks_cuda_epi epi, float *part,
                          int splits, struct ks_cuda_err *err);

/* out[r] = LN(x[r]; g, b) for `rows` rows of n (out may be x). */
int ks_cuda_launch_layernorm(cudaStream_t s, float *out, const float *x, const float *g,
                             const float *b, size_t rows, size_t n, struct ks_cuda_err *err);

/* x[t] = tok_emb[tokens[p0 + t]] + pos_emb[p0 + t] for t < T. */
int ks_cuda_launch_embed(cudaStream_t s, float *x, const float *tok_emb, const float *pos_emb,
                         const int32_t *tokens, size_t p0, size_t T, size_t D, size_t V,
                         struct ks_cuda_err *err);

/* kc[p0 + t] = qkv[t][D:2D], vc[p0 + t] = qkv[t][2D:3D] for t < T. */
int ks_cuda_launch_kv_store(cudaStream_t s, float *kc, float *vc, const float *qkv, size_t p0,
                            size_t T, size_t D, struct ks_cuda_err *err);

/*
 * Causal multi-head attention for the T query rows at positions p0..p0+T-1:
 * q row t at q + t * q_ld (heads contiguous, Dh = D / H), keys and values
 * rows 0..p0+T-1 of kc / vc ([rows][D]), out [T][D]. att is scratch of
 * T * H * att_ld floats, att_ld >= p0 + T.
 */
int ks_cuda_launch_attention(cudaStream_t s, float *out, const float *q, size_t q_ld,
                             const float *kc, const float *vc, size_t p0, size_t T, size_t D,
                             size_t H, float *att, size_t att_ld, struct ks_cuda_err *err);

/* out[v] = h . E[v] for v < V (E [V][D] row-major: the tied output
 * projection h @ tok_emb^T). */
int ks_cuda_launch_rowdot(cudaStream_t s, float *out, const float *h, const float *E, size_t V,
                          size_t D, struct ks_cuda_err *err);

/* *dst = the index of the largest of x[0..n) (the lowest one on a tie). */
int ks_cuda_launch_argmax(cudaStream_t s, int32_t *dst, const float *x, size_t n,
                          struct ks_cuda_err *err);

/* Standalone kernels for the tests (the model fuses these elsewhere). */
int ks_cuda_launch_gelu(cudaStream_t s, float *out, const float *x, size_t n,
                        struct ks_cuda_err *err);
int ks_cuda_launch_softmax(cudaStream_t s, float *out, const float *x, size_t rows, size_t n,
                           struct ks_cuda_err *err);

/* ---- the model on the device (cuda_model.cu) ---------------------------- */

struct ks_cuda_model;

/*
 * A model over the weights file image at device address `img` (`len` bytes,
 * 4-byte aligned, header included, already validated to carry `dims`;
 * borrowed). Allocates the KV cache, activations and scratch on the device
 * (one allocation, wiped after every generation) and locked host memory for
 * the tokens. `splits` forces the split-K factor of every matrix product
 * (tests; 0: chosen per product). Errors: KS_ERR_INVALID_ARG,
 * KS_ERR_MODEL_SIZE, KS_ERR_NOMEM, KS_ERR_BACKEND_MLOCK, KS_ERR_BACKEND_DEVICE.
 */
int ks_cuda_model_open(const uint8_t *img, size_t len, const struct ks_model_dims *dims,
                       bool allow_unlocked, int splits, struct ks_cuda_model **ret,
                       struct ks_cuda_err *err);

/* As ks_model_generate (model.h): greedy, n_new bytes, the same prompt
 * truncation; ret_logits (NULL or 256 floats) the last position's logits.
 * The device state is wiped after every call; on failure ret_out is not
 * written (ret_logits may be). Errors: KS_ERR_MODEL_PROMPT,
 * KS_ERR_INVALID_ARG, KS_ERR_BACKEND_DEVICE. */
int ks_cuda_model_generate(struct ks_cuda_model *m, const uint8_t *prompt, size_t len, size_t n_new,
                           uint8_t *ret_out, float *ret_logits, struct ks_cuda_err *err);

/* Wipes and frees the model's state (not the weights). NULL is a no-op. */
void ks_cuda_model_free(struct ks_cuda_model *m);

/* Where the weights image starts in a device buffer: 4 bytes in, so that the
 * tensors after the 44-byte header start 16-byte aligned (cudaMalloc returns
 * 256-byte aligned memory). */
#define KS_CUDA_IMG_SHIFT 4u

#endif
