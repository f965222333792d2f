/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_CUDA_KERNELS_H
#define KS_CUDA_KERNELS_H

/*
 * Host-callable wrappers around the CUDA backend's kernels and device model
 * (built only with CUDA: cuda_kernels_api.cu), so that tests/gpu/check.sh
 * can compare them one by one with the CPU reference on random inputs. Each
 * call allocates device buffers, uploads the inputs, fills the outputs with
 * NaN (0xff bytes) so that an element a kernel does not write is caught,
 * runs the launch code the backend itself uses, downloads and frees. All
 * arrays are host memory, fp32, row-major.
 *
 * Every function returns KS_OK or a negative KS_ERR_* (KS_ERR_INVALID_ARG,
 * KS_ERR_NOMEM, KS_ERR_BACKEND_UNAVAILABLE, KS_ERR_BACKEND_DEVICE, ...) and
 * on failure writes the CUDA runtime's message to err (err_len > 0).
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Matrix-product epilogues (ks_cuda_matmul). */
#define KS_CUDA_MM_STORE 0 /* y = x @ W */
#define KS_CUDA_MM_BIAS 1  /* y = x @ W + b */
#define KS_CUDA_MM_GELU 2  /* y = GELU(x @ W + b) */
#define KS_CUDA_MM_RESID 3 /* y += x @ W + b: y is read and written */

/* One line about the device: name, compute capability, multiprocessors,
 * memory, driver and runtime versions. */
int ks_cuda_info(char *buf, size_t len, char *err, size_t err_len);

/* out[r] = LN(x[r]; g, b), rows x n. */
int ks_cuda_layernorm(float *out, const float *x, const float *g, const float *b, size_t rows,
                      size_t n, char *err, size_t err_len);

/* out[i] = GELU(x[i]) (tanh approximation). */
int ks_cuda_gelu(float *out, const float *x, size_t n, char *err, size_t err_len);

/* out[r] = softmax(x[r]), rows x n. */
int ks_cuda_softmax(float *out, const float *x, size_t rows, size_t n, char *err, size_t err_len);

/* y[T][N] from x[T][K], W[K][N] and b[N] (ignored by STORE) with epilogue
 * `epi`; `splits` forces the split-K factor (0: as the backend chooses). */
int ks_cuda_matmul(float *y, const float *x, const float *w, const float *b, size_t T, size_t K,
                   size_t N, int epi, int splits, char *err, size_t err_len);

/* Causal attention of the T query rows q[T][D] at positions p0..p0+T-1
 * over keys k and values v [p0+T][D], H heads: out[T][D]. */
int ks_cuda_attention(float *out, const float *q, const float *k, const float *v, size_t p0,
                      size_t T, size_t D, size_t H, char *err, size_t err_len);

/* out[v] = h . E[v], E [V][D] (the tied output projection). */
int ks_cuda_rowdot(float *out, const float *h, const float *E, size_t V, size_t D, char *err,
                   size_t err_len);

/* The index of the first maximum of x[0..n). */
int ks_cuda_argmax(const float *x, size_t n, uint32_t *ret, char *err, size_t err_len);

/* Greedy generation on the device from a weights file image in host memory
 * (as ks_model_generate: ret_out n_new bytes, ret_logits NULL or 256 floats
 * of the last position run); `splits` as for ks_cuda_matmul. */
int ks_cuda_generate(const uint8_t *weights, size_t len, int splits, const uint8_t *prompt,
                     size_t plen, size_t n_new, uint8_t *ret_out, float *ret_logits, char *err,
                     size_t err_len);

#ifdef __cplusplus
}
#endif

#endif
