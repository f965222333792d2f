/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_GPU_REF_H
#define KS_GPU_REF_H

/*
 * An independent plain-C reference of the model's kernels, written from
 * loader-ref/model.h (not from the CPU backend), in double precision, for
 * tests/gpu/check.sh. Arrays are row-major fp32.
 */

#include <stddef.h>
#include <stdint.h>

void ref_layernorm(float *out, const float *x, const float *g, const float *b, size_t rows,
                   size_t n);
void ref_gelu(float *out, const float *x, size_t n);
void ref_softmax(float *out, const float *x, size_t rows, size_t n);
/* epi: 0 store, 1 + bias, 2 GELU(+ bias), 3 y += (+ bias), as cuda_kernels.h */
void ref_matmul(float *y, const float *x, const float *w, const float *b, size_t T, size_t K,
                size_t N, int epi);
void ref_attention(float *out, const float *q, const float *k, const float *v, size_t p0, size_t T,
                   size_t D, size_t H);
void ref_rowdot(float *out, const float *h, const float *E, size_t V, size_t D);
uint32_t ref_argmax(const float *x, size_t n);

#endif
