/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <math.h>
#include <stdlib.h>

#include "ref.h"

/* The formulas of loader-ref/model.h ("Forward pass"), in double. */

void ref_layernorm(float *out, const float *x, const float *g, const float *b, size_t rows,
                   size_t n)
{
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        double mean = 0.0, var = 0.0;
        for (size_t i = 0; i < n; i++) {
            mean += xr[i];
        }
        mean /= (double)n;
        for (size_t i = 0; i < n; i++) {
            var += (xr[i] - mean) * (xr[i] - mean);
        }
        var /= (double)n; /* biased */
        for (size_t i = 0; i < n; i++) {
            out[r * n + i] = (float)((xr[i] - mean) / sqrt(var + 1e-5) * g[i] + b[i]);
        }
    }
}

static double gelu(double x)
{
    return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

void ref_gelu(float *out, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = (float)gelu(x[i]);
    }
}

static void softmax_d(double *x, size_t n)
{
    double max = x[0], sum = 0.0;
    for (size_t i = 1; i < n; i++) {
        max = x[i] > max ? x[i] : max;
    }
    for (size_t i = 0; i < n; i++) {
        x[i] = exp(x[i] - max);
        sum += x[i];
    }
    for (size_t i = 0; i < n; i++) {
        x[i] /= sum;
    }
}

void ref_softmax(float *out, const float *x, size_t rows, size_t n)
{
    double *t = malloc(n * sizeof(double));
    if (!t) {
        abort();
    }
    for (size_t r = 0; r < rows; r++) {
        for (size_t i = 0; i < n; i++) {
            t[i] = x[r * n + i];
        }
        softmax_d(t, n);
        for (size_t i = 0; i < n; i++) {
            out[r * n + i] = (float)t[i];
        }
    }
    free(t);
}

void ref_matmul(float *y, const float *x, const float *w, const float *b, size_t T, size_t K,
                size_t N, int epi)
{
    for (size_t t = 0; t < T; t++) {
        for (size_t j = 0; j < N; j++) {
            double s = 0.0;
            for (size_t i = 0; i < K; i++) {
                s += (double)x[t * K + i] * w[i * N + j];
            }
            if (epi != 0) {
                s += b[j];
            }
            if (epi == 2) {
                s = gelu(s);
            }
            if (epi == 3) {
                s += y[t * N + j];
            }
            y[t * N + j] = (float)s;
        }
    }
}

void ref_attention(float *out, const float *q, const float *k, const float *v, size_t p0, size_t T,
                   size_t D, size_t H)
{
    const size_t Dh = D / H;
    double *att = malloc((p0 + T) * sizeof(double));
    if (!att) {
        abort();
    }
    for (size_t t = 0; t < T; t++) {
        const size_t n = p0 + t + 1; /* causal: keys 0..p0+t */
        for (size_t h = 0; h < H; h++) {
            for (size_t u = 0; u < n; u++) {
                double s = 0.0;
                for (size_t i = 0; i < Dh; i++) {
                    s += (double)q[t * D + h * Dh + i] * k[u * D + h * Dh + i];
                }
                att[u] = s / sqrt((double)Dh);
            }
            softmax_d(att, n);
            for (size_t i = 0; i < Dh; i++) {
                double o = 0.0;
                for (size_t u = 0; u < n; u++) {
                    o += att[u] * v[u * D + h * Dh + i];
                }
                out[t * D + h * Dh + i] = (float)o;
            }
        }
    }
    free(att);
}

void ref_rowdot(float *out, const float *h, const float *E, size_t V, size_t D)
{
    for (size_t v = 0; v < V; v++) {
        double s = 0.0;
        for (size_t i = 0; i < D; i++) {
            s += (double)h[i] * E[v * D + i];
        }
        out[v] = (float)s;
    }
}

uint32_t ref_argmax(const float *x, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++) {
        if (x[i] > x[best]) {
            best = i;
        }
    }
    return (uint32_t)best;
}
