/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cuda_internal.h"

/*
 * The kernels of the CUDA backend and their launchers (cuda_internal.h):
 * the forward pass of loader-ref/model.h in fp32, with the same formulas as
 * the CPU reference (model_forward.c): LayerNorm statistics in double,
 * expf/tanhf (no fast-math), softmax as max-shift, exp, divide by the sum.
 * Reductions add in a fixed order, so a run is deterministic; the order is
 * not the CPU's, hence the 1e-4 relative tolerance of tests/gpu/check.sh.
 */

/* ---- errors --------------------------------------------------------------- */

int ks_cuda_check(cudaError_t e, const char *what, struct ks_cuda_err *err)
{
    int r;
    if (e == cudaSuccess) {
        return KS_OK;
    }
    switch (e) {
    /* No usable driver or device: "auto" falls back to the CPU. */
    case cudaErrorInsufficientDriver:
    case cudaErrorNoDevice:
    case cudaErrorStubLibrary:
    case cudaErrorSystemDriverMismatch:
    case cudaErrorCompatNotSupportedOnDevice:
    case cudaErrorDevicesUnavailable:
    case cudaErrorCallRequiresNewerDriver:
    case cudaErrorSystemNotReady:
        r = KS_ERR_BACKEND_UNAVAILABLE;
        break;
    case cudaErrorMemoryAllocation:
        r = KS_ERR_NOMEM;
        break;
    default:
        r = KS_ERR_BACKEND_DEVICE;
        break;
    }
    if (err) {
        /* "cudaMalloc(&p, n)" -> "cudaMalloc" */
        int n = (int)strcspn(what, "(");
        snprintf(err->msg, sizeof(err->msg), "%.*s: %s (%s)", n, what, cudaGetErrorString(e),
                 cudaGetErrorName(e));
    }
    return r;
}

int ks_cuda_fail(struct ks_cuda_err *err, int r, const char *msg)
{
    if (err) {
        snprintf(err->msg, sizeof(err->msg), "%s", msg);
    }
    return r;
}

/* ---- block reductions ------------------------------------------------------ */

struct sum_op {
    template <typename T> __device__ T operator()(T a, T b) const
    {
        return a + b;
    }
};

struct max_op {
    __device__ float operator()(float a, float b) const
    {
        return fmaxf(a, b);
    }
};

/* Every thread gets the reduction of v over the block (blockDim.x a
 * multiple of 32); sh holds 32 values. The order is fixed: deterministic. */
template <typename T, typename Op> static __device__ T block_reduce(T v, T *sh, Op op)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    for (int o = 16; o > 0; o >>= 1) {
        v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
    }
    __syncthreads(); /* sh may still be read by a previous reduction */
    if (lane == 0) {
        sh[warp] = v;
    }
    __syncthreads();
    v = sh[0];
    for (int i = 1; i < nwarps; i++) {
        v = op(v, sh[i]);
    }
    return v;
}

/* row[0..n) <- exp(row - max), in place, by the whole block; returns the
 * sum. Each thread touches the elements u = tid (mod blockDim), the ones it
 * wrote before, and the last reduction's barrier makes them visible to all. */
static __device__ float softmax_exps(float *row, int n, float *sh)
{
    float mx = -INFINITY, sum = 0.0f;
    for (int u = threadIdx.x; u < n; u += blockDim.x) {
        mx = fmaxf(mx, row[u]);
    }
    mx = block_reduce(mx, sh, max_op());
    for (int u = threadIdx.x; u < n; u += blockDim.x) {
        float e = expf(row[u] - mx);
        row[u] = e;
        sum += e;
    }
    return block_reduce(sum, sh, sum_op());
}

static __device__ float gelu(float x)
{
    /* tanh approximation, as ks_model_gelu (model_forward.c) */
    const float k = 0.7978845608028654f; /* sqrt(2/pi) */
    return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
}

/* ---- kernels ----------------------------------------------------------------- */

/* Matrix product x[T][K] @ W[K][N]: a block of 32 x 8 threads owns 32
 * columns, 8 rows of x and one K range; lane tx reads column col of W, so
 * a warp reads 128 contiguous bytes per row of W; the 8 warps take every
 * 8th row of the range and their partial sums meet in shared memory. */
#define MM_COLS 32
#define MM_SLICES 8
#define MM_ROWS 8
static_assert(MM_COLS * MM_SLICES == KS_CUDA_BLOCK && MM_ROWS == MM_SLICES,
              "a block of the product is KS_CUDA_BLOCK threads, one row of x per warp");
static_assert(KS_CUDA_BLOCK % 32 == 0 && (KS_CUDA_BLOCK & (KS_CUDA_BLOCK - 1)) == 0,
              "whole warps, and a power of two for the argmax tree");

static __global__ void __launch_bounds__(KS_CUDA_BLOCK)
    matmul_partial_kernel(const float *__restrict__ x, const float *__restrict__ w,
                          float *__restrict__ part, int T, int K, int N, int kchunk)
{
    __shared__ float red[MM_SLICES][MM_ROWS][MM_COLS];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int col = blockIdx.x * MM_COLS + tx;
    const int t0 = blockIdx.z * MM_ROWS;
    const int nt = min(MM_ROWS, T - t0);
    const int k0 = blockIdx.y * kchunk;
    const int k1 = min(K, k0 + kchunk);
    float acc[MM_ROWS];
#pragma unroll
    for (int r = 0; r < MM_ROWS; r++) {
        acc[r] = 0.0f;
    }
    if (col < N) {
        const float *xt = x + (size_t)t0 * K;
#pragma unroll 4
        for (int k = k0 + ty; k < k1; k += MM_SLICES) {
            const float wv = w[(size_t)k * N + col];
#pragma unroll
            for (int r = 0; r < MM_ROWS; r++) {
                if (r < nt) {
                    acc[r] += xt[(size_t)r * K + k] * wv;
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < MM_ROWS; r++) {
        red[ty][r][tx] = acc[r];
    }
    __syncthreads();
    const int r = ty; /* MM_ROWS == MM_SLICES: one row per warp */
    if (col < N && r < nt) {
        float s = 0.0f;
#pragma unroll
        for (int j = 0; j < MM_SLICES; j++) {
            s += red[j][r][tx];
        }
        part[((size_t)blockIdx.y * T + t0 + r) * N + col] = s;
    }
}

/* Adds the K splits in order and applies the epilogue. */
static __global__ void matmul_reduce_kernel(float *y, const float *__restrict__ part,
                                            const float *__restrict__ b, int splits, size_t TN,
                                            int N, int epi)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < TN;
         i += (size_t)gridDim.x * blockDim.x) {
        float s = 0.0f;
        for (int j = 0; j < splits; j++) {
            s += part[(size_t)j * TN + i];
        }
        const int c = (int)(i % (size_t)N);
        switch (epi) {
        case KS_CUDA_EPI_STORE:
            y[i] = s;
            break;
        case KS_CUDA_EPI_BIAS:
            y[i] = s + b[c];
            break;
        case KS_CUDA_EPI_GELU:
            y[i] = gelu(s + b[c]);
            break;
        default: /* KS_CUDA_EPI_RESID */
            y[i] += s + b[c];
            break;
        }
    }
}

/* One block per row. The statistics in double, as ks_model_layernorm. */
static __global__ void layernorm_kernel(float *out, const float *x, const float *__restrict__ g,
                                        const float *__restrict__ b, int n)
{
    __shared__ double sh[32];
    const float *xr = x + (size_t)blockIdx.x * n;
    float *yr = out + (size_t)blockIdx.x * n;
    double s = 0.0, q = 0.0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        s += (double)xr[i];
    }
    const double mean = block_reduce(s, sh, sum_op()) / (double)n;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        double c = (double)xr[i] - mean;
        q += c * c;
    }
    const double var = block_reduce(q, sh, sum_op()) / (double)n;
    const float inv = (float)(1.0 / sqrt(var + (double)KS_MODEL_LN_EPS));
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        yr[i] = (float)((double)xr[i] - mean) * inv * g[i] + b[i];
    }
}

static __global__ void embed_kernel(float *x, const float *__restrict__ tok_emb,
                                    const float *__restrict__ pos_emb,
                                    const int32_t *__restrict__ tokens, int p0, size_t TD, int D,
                                    int V)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < TD;
         i += (size_t)gridDim.x * blockDim.x) {
        const int t = (int)(i / (size_t)D), c = (int)(i % (size_t)D);
        int tok = tokens[p0 + t];
        tok = tok < 0 || tok >= V ? 0 : tok; /* bytes and argmax results: never */
        x[i] = tok_emb[(size_t)tok * D + c] + pos_emb[(size_t)(p0 + t) * D + c];
    }
}

static __global__ void kv_store_kernel(float *kc, float *vc, const float *__restrict__ qkv, int p0,
                                       size_t TD, int D)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < TD;
         i += (size_t)gridDim.x * blockDim.x) {
        const size_t t = i / (size_t)D, c = i % (size_t)D;
        const size_t dst = ((size_t)p0 + t) * D + c;
        kc[dst] = qkv[t * 3 * D + D + c];
        vc[dst] = qkv[t * 3 * D + 2 * (size_t)D + c];
    }
}

/* One block per (head, query row). Scores q.k / sqrt(Dh) for the keys up to
 * the row's position into att, softmax, then out = sum att[u] v[u]. */
static __global__ void __launch_bounds__(KS_CUDA_BLOCK)
    attention_kernel(float *out, const float *__restrict__ q, size_t q_ld,
                     const float *__restrict__ kc, const float *__restrict__ vc, int p0, int D,
                     int Dh, float scale, float *att, size_t att_ld)
{
    __shared__ float sh[32];
    __shared__ float red[KS_CUDA_BLOCK];
    const int hd = blockIdx.x, t = blockIdx.y, tid = threadIdx.x;
    const int n = p0 + t + 1;
    const size_t col = (size_t)hd * Dh;
    const float *qh = q + (size_t)t * q_ld + col;
    float *sc = att + ((size_t)t * gridDim.x + hd) * att_ld;
    float *oh = out + (size_t)t * D + col;

    for (int u = tid; u < n; u += blockDim.x) {
        const float *kr = kc + (size_t)u * D + col;
        float s = 0.0f;
        for (int i = 0; i < Dh; i++) {
            s += qh[i] * kr[i];
        }
        sc[u] = s * scale;
    }
    const float sum = softmax_exps(sc, n, sh);

    if (Dh <= (int)blockDim.x) {
        /* G groups of Dh threads; group g sums the positions u = g (mod G). */
        const int G = blockDim.x / Dh, g = tid / Dh, i = tid % Dh;
        float acc = 0.0f;
        if (g < G) {
            for (int u = g; u < n; u += G) {
                acc += sc[u] / sum * vc[(size_t)u * D + col + i];
            }
        }
        red[tid] = acc;
        __syncthreads();
        if (tid < Dh) {
            float o = 0.0f;
            for (int j = 0; j < G; j++) {
                o += red[j * Dh + tid];
            }
            oh[tid] = o;
        }
    } else {
        for (int i = tid; i < Dh; i += blockDim.x) {
            float acc = 0.0f;
            for (int u = 0; u < n; u++) {
                acc += sc[u] / sum * vc[(size_t)u * D + col + i];
            }
            oh[i] = acc;
        }
    }
}

/* One warp per output: out[v] = h . E[v]. */
static __global__ void rowdot_kernel(float *out, const float *__restrict__ h,
                                     const float *__restrict__ E, int V, int D)
{
    const int v = (int)(((size_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5);
    const int lane = threadIdx.x & 31;
    if (v >= V) {
        return; /* whole warps: blockDim is a multiple of 32 */
    }
    const float *e = E + (size_t)v * D;
    float s = 0.0f;
    for (int i = lane; i < D; i += 32) {
        s += h[i] * e[i];
    }
    for (int o = 16; o > 0; o >>= 1) {
        s += __shfl_xor_sync(0xffffffffu, s, o);
    }
    if (lane == 0) {
        out[v] = s;
    }
}

/* One block: the first maximum (lowest index on a tie), as the CPU's greedy
 * choice in ks_model_generate. */
static __global__ void argmax_kernel(int32_t *dst, const float *__restrict__ x, int n)
{
    __shared__ float sv[KS_CUDA_BLOCK];
    __shared__ int si[KS_CUDA_BLOCK];
    const int tid = threadIdx.x;
    float bv = -INFINITY;
    int bi = -1;
    for (int i = tid; i < n; i += blockDim.x) {
        if (bi < 0 || x[i] > bv) {
            bv = x[i];
            bi = i;
        }
    }
    sv[tid] = bv;
    si[tid] = bi;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (tid < s) {
            const float ov = sv[tid + s];
            const int oi = si[tid + s];
            if (oi >= 0 && (si[tid] < 0 || ov > sv[tid] || (ov == sv[tid] && oi < si[tid]))) {
                sv[tid] = ov;
                si[tid] = oi;
            }
        }
        __syncthreads();
    }
    if (tid == 0) {
        *dst = si[0] < 0 ? 0 : si[0];
    }
}

static __global__ void gelu_kernel(float *out, const float *__restrict__ x, size_t n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        out[i] = gelu(x[i]);
    }
}

static __global__ void softmax_kernel(float *out, const float *__restrict__ x, int n)
{
    __shared__ float sh[32];
    float *row = out + (size_t)blockIdx.x * n;
    const float *in = x + (size_t)blockIdx.x * n;
    for (int u = threadIdx.x; u < n; u += blockDim.x) {
        row[u] = in[u];
    }
    const float sum = softmax_exps(row, n, sh);
    for (int u = threadIdx.x; u < n; u += blockDim.x) {
        row[u] /= sum;
    }
}

/* ---- launchers --------------------------------------------------------------- */

/* Blocks for a grid-stride loop over n elements. */
static unsigned grid_for(size_t n)
{
    size_t g = (n + KS_CUDA_BLOCK - 1) / KS_CUDA_BLOCK;
    return g == 0 ? 1u : g > 65535 ? 65535u : (unsigned)g;
}

static bool fits_int(size_t v)
{
    return v <= (size_t)INT_MAX;
}

#define KS_CUDA_LAUNCHED(err) KS_CUDA_CHECK(err, cudaGetLastError())

/* K rows per split: a multiple of the 8 warps of a block. */
static size_t split_chunk(size_t K, int splits)
{
    size_t c = (K + (size_t)splits - 1) / (size_t)splits;
    return (c + MM_SLICES - 1) / MM_SLICES * MM_SLICES;
}

#define MM_SPLITS_MAX 64

int ks_cuda_matmul_splits(size_t T, size_t K, size_t N, int sms, int forced)
{
    size_t s;
    size_t kmax = (K + MM_SLICES - 1) / MM_SLICES;
    if (forced > 0) {
        s = (size_t)forced;
    } else {
        /* Enough blocks for 4 per multiprocessor, each with at least 64
         * rows of W: a single token's product is a matrix-vector product,
         * bound by reading W once, and needs the whole GPU to read it. */
        size_t blocks = (N + MM_COLS - 1) / MM_COLS * ((T + MM_ROWS - 1) / MM_ROWS);
        size_t want = 4 * (size_t)(sms > 0 ? sms : 1);
        s = (want + blocks - 1) / blocks;
        kmax = (K + 63) / 64;
    }
    s = s > kmax ? kmax : s;
    s = s > MM_SPLITS_MAX ? MM_SPLITS_MAX : s;
    s = s < 1 ? 1 : s;
    /* No empty split. */
    size_t c = split_chunk(K, (int)s);
    return (int)((K + c - 1) / c);
}

size_t ks_cuda_matmul_scratch(size_t T, size_t N, int splits)
{
    return (size_t)splits * T * N;
}

int ks_cuda_launch_matmul(cudaStream_t s, float *y, const float *x, const float *w, const float *b,
                          size_t T, size_t K, size_t N, enum ks_cuda_epi epi, float *part,
                          int splits, struct ks_cuda_err *err)
{
    int r;
    if (T == 0 || K == 0 || N == 0 || splits < 1 || !fits_int(T) || !fits_int(K) || !fits_int(N) ||
        (epi != KS_CUDA_EPI_STORE && !b)) {
        return ks_cuda_fail(err, KS_ERR_INVALID_ARG, "matmul: invalid arguments");
    }
    const size_t chunk = split_chunk(K, splits);
    const int used = (int)((K + chunk - 1) / chunk); /* <= splits: the scratch fits */
    const dim3 grid((unsigned)((N + MM_COLS - 1) / MM_COLS), (unsigned)used,
                    (unsigned)((T + MM_ROWS - 1) / MM_ROWS));
    const dim3 block(MM_COLS, MM_SLICES);
    KS_CUDA_LAUNCH(matmul_partial_kernel, grid, block, s, x, w, part, (int)T, (int)K, (int)N,
                   (int)chunk);
    if ((r = KS_CUDA_LAUNCHED(err)) < 0) {
        return r;
    }
    KS_CUDA_LAUNCH(matmul_reduce_kernel, grid_for(T * N), KS_CUDA_BLOCK, s, y, part, b, used, T * N,
                   (int)N, (int)epi);
    return KS_CUDA_LAUNCHED(err);
}

int ks_cuda_launch_layernorm(cudaStream_t s, float *out, const float *x, const float *g,
                             const float *b, size_t rows, size_t n, struct ks_cuda_err *err)
{
    if (rows == 0 || n == 0 || rows > 65535 || !fits_int(n)) {
        return ks_cuda_fail(err, KS_ERR_INVALID_ARG, "layernorm: invalid arguments");
    }
    KS_CUDA_LAUNCH(layernorm_kernel, (unsigned)rows, KS_CUDA_BLOCK, s, out, x, g, b, (int)n);
    return KS_CUDA_LAUNCHED(err);
}

int ks_cuda_launch_embed(cudaStream_t s, float *x, const float *tok_emb, const float *pos_emb,
                         const int32_t *tokens, size_t p0, size_t T, size_t D, size_t V,
                         struct ks_cuda_err *err)
{
    if (T == 0 || !fits_int(p0 + T) || !fits_int(D) || !fits_int(V)) {
        return ks_cuda_fail(err, KS_ERR_INVALID_ARG, "embed: invalid arguments");
    }
    KS_CUDA_LAUNCH(embed_kernel, grid_for(T * D), KS_CUDA_BLOCK, s, x, tok_emb, pos_emb, tokens,
                   (int)p0, T * D, (int)D, (int)V);
    return KS_CUDA_LAUNCHED(err);
}

int ks_cuda_launch_kv_store(cudaStream_t s, float *kc, float *vc, const float *qkv, size_t p0,
                            size_t T, size_t D, struct ks_cuda_err *err)
{
    if (T == 0 || !fits_int(p0 + T) || !fits_int(D)) {
        return ks_cuda_fail(err, KS_ERR_INVALID_ARG, "kv_store: invalid arguments");
    }
    KS_CUDA_LAUNCH(kv_store_kernel, grid_for(T * D), KS_CUDA_BLOCK, s, kc, vc, qkv, (int)p0, T * D,
                   (int)D);
    return KS_CUDA_LAUNCHED(err);
}

int ks_cuda_launch_attention(cudaStream_t s, float *out, const float *q, size_t q_ld,
                             const float *kc, const float *vc, size_t p0, size_t T, size_t D,
                             size_t H, float *att, size_t att_ld, struct ks_cuda_err *err)
{
    if (T == 0 || H == 0 || D % H != 0 || H > 65535 || T > 65535 || att_ld < p0 + T ||
        !fits_int(p0 + T) || !fits_int(D)) {
        return ks_cuda_fail(err, KS_ERR_INVALID_ARG, "attention: invalid arguments");
    }
    const size_t Dh = D / H;
    const float scale = 1.0f / sqrtf((float)Dh); /* as model_forward.c */
    KS_CUDA_LAUNCH(attention_kernel, dim3((unsigned)H, (unsigned)T), KS_CUDA_BLOCK, s, out, q, q_ld,
                   kc, vc, (int)p0, (int)D, (int)Dh, scale, att, att_ld);
    return KS_CUDA_LAUNCHED(err);
}

int ks_cuda_launch_rowdot(cudaStream_t s, float *out, const float *h, const float *E, size_t V,
                          size_t D, struct ks_cuda_err *err)
{
    if (V == 0 || D == 0 || !fits_int(V) || !fits_int(D)) {
        return ks_cuda_fail(err, KS_ERR_INVALID_ARG, "rowdot: invalid arguments");
    }
    const size_t warps_per_block = KS_CUDA_BLOCK / 32;
    const unsigned blocks = (unsigned)((V + warps_per_block - 1) / warps_per_block);
    KS_CUDA_LAUNCH(rowdot_kernel, blocks, KS_CUDA_BLOCK, s, out, h, E, (int)V, (int)D);
    return KS_CUDA_LAUNCHED(err);
}

int ks_cuda_launch_argmax(cudaStream_t s, int32_t *dst, const float *x, size_t n,
                          struct ks_cuda_err *err)
{
    if (n == 0 || !fits_int(n)) {
        return ks_cuda_fail(err, KS_ERR_INVALID_ARG, "argmax: invalid arguments");
    }
    KS_CUDA_LAUNCH(argmax_kernel, 1, KS_CUDA_BLOCK, s, dst, x, (int)n);
    return KS_CUDA_LAUNCHED(err);
}

int ks_cuda_launch_gelu(cudaStream_t s, float *out, const float *x, size_t n,
                        struct ks_cuda_err *err)
{
    if (n == 0) {
        return ks_cuda_fail(err, KS_ERR_INVALID_ARG, "gelu: invalid arguments");
    }
    KS_CUDA_LAUNCH(gelu_kernel, grid_for(n), KS_CUDA_BLOCK, s, out, x, n);
    return KS_CUDA_LAUNCHED(err);
}

int ks_cuda_launch_softmax(cudaStream_t s, float *out, const float *x, size_t rows, size_t n,
                           struct ks_cuda_err *err)
{
    if (rows == 0 || n == 0 || rows > 65535 || !fits_int(n)) {
        return ks_cuda_fail(err, KS_ERR_INVALID_ARG, "softmax: invalid arguments");
    }
    KS_CUDA_LAUNCH(softmax_kernel, (unsigned)rows, KS_CUDA_BLOCK, s, out, x, (int)n);
    return KS_CUDA_LAUNCHED(err);
}
