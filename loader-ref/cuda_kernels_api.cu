/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cuda_internal.h"
#include "cuda_kernels.h"

/* Host-pointer wrappers for tests/gpu/check.sh (cuda_kernels.h). They run
 * on the legacy default stream and synchronise before downloading, so that
 * a kernel's own failure is reported by the checked synchronisation. */

static_assert(KS_CUDA_MM_STORE == KS_CUDA_EPI_STORE && KS_CUDA_MM_BIAS == KS_CUDA_EPI_BIAS &&
                  KS_CUDA_MM_GELU == KS_CUDA_EPI_GELU && KS_CUDA_MM_RESID == KS_CUDA_EPI_RESID,
              "cuda_kernels.h's epilogues are cuda_internal.h's");

#define MAX_BUFS 8

struct bufs {
    void *p[MAX_BUFS];
    int n;
    struct ks_cuda_err err;
};

static void bufs_init(struct bufs *b)
{
    memset(b, 0, sizeof(*b));
}

static int dev_alloc(struct bufs *b, void **ret, size_t bytes)
{
    void *p = NULL;
    int r;
    if (b->n == MAX_BUFS) {
        return ks_cuda_fail(&b->err, KS_ERR_INTERNAL, "too many buffers");
    }
    if ((r = KS_CUDA_CHECK(&b->err, cudaMalloc(&p, bytes ? bytes : 1))) < 0) {
        return r;
    }
    b->p[b->n++] = p;
    *ret = p;
    return KS_OK;
}

/* A device copy of src. */
static int upload(struct bufs *b, void **ret, const void *src, size_t bytes)
{
    int r;
    if ((r = dev_alloc(b, ret, bytes)) < 0) {
        return r;
    }
    return KS_CUDA_CHECK(&b->err, cudaMemcpy(*ret, src, bytes, cudaMemcpyHostToDevice));
}

/* Device memory filled with 0xff bytes: every float a NaN. */
static int poisoned(struct bufs *b, void **ret, size_t bytes)
{
    int r;
    if ((r = dev_alloc(b, ret, bytes)) < 0) {
        return r;
    }
    return KS_CUDA_CHECK(&b->err, cudaMemset(*ret, 0xff, bytes));
}

static int download(struct bufs *b, void *dst, const void *src, size_t bytes)
{
    int r;
    if ((r = KS_CUDA_CHECK(&b->err, cudaDeviceSynchronize())) < 0) {
        return r;
    }
    return KS_CUDA_CHECK(&b->err, cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}

/* Frees everything; the message of a failure goes to err. */
static int bufs_done(struct bufs *b, int r, char *err, size_t err_len)
{
    for (int i = 0; i < b->n; i++) {
        (void)cudaFree(b->p[i]);
    }
    if (r < 0 && err && err_len > 0) {
        snprintf(err, err_len, "%s", b->err.msg[0] ? b->err.msg : ks_strerror(r));
    }
    return r;
}

int ks_cuda_info(char *buf, size_t len, char *err, size_t err_len)
{
    struct bufs b;
    struct cudaDeviceProp p;
    int dev = 0, drv = 0, rt = 0, r;
    bufs_init(&b);
    if ((r = KS_CUDA_CHECK(&b.err, cudaGetDevice(&dev))) < 0 ||
        (r = KS_CUDA_CHECK(&b.err, cudaGetDeviceProperties(&p, dev))) < 0 ||
        (r = KS_CUDA_CHECK(&b.err, cudaDriverGetVersion(&drv))) < 0 ||
        (r = KS_CUDA_CHECK(&b.err, cudaRuntimeGetVersion(&rt))) < 0) {
        return bufs_done(&b, r, err, err_len);
    }
    snprintf(buf, len, "%s, sm_%d%d, %d SMs, %.1f GiB, driver %d.%d, runtime %d.%d", p.name,
             p.major, p.minor, p.multiProcessorCount,
             (double)p.totalGlobalMem / (1024.0 * 1024 * 1024), drv / 1000, drv % 1000 / 10,
             rt / 1000, rt % 1000 / 10);
    return KS_OK;
}

int ks_cuda_layernorm(float *out, const float *x, const float *g, const float *b, size_t rows,
                      size_t n, char *err, size_t err_len)
{
    struct bufs B;
    void *dx, *dg, *db, *dout;
    int r;
    bufs_init(&B);
    const size_t bytes = rows * n * sizeof(float);
    if ((r = upload(&B, &dx, x, bytes)) < 0 || (r = upload(&B, &dg, g, n * sizeof(float))) < 0 ||
        (r = upload(&B, &db, b, n * sizeof(float))) < 0 || (r = poisoned(&B, &dout, bytes)) < 0 ||
        (r = ks_cuda_launch_layernorm(0, (float *)dout, (const float *)dx, (const float *)dg,
                                      (const float *)db, rows, n, &B.err)) < 0 ||
        (r = download(&B, out, dout, bytes)) < 0) {
        return bufs_done(&B, r, err, err_len);
    }
    return bufs_done(&B, KS_OK, err, err_len);
}

int ks_cuda_gelu(float *out, const float *x, size_t n, char *err, size_t err_len)
{
    struct bufs B;
    void *dx, *dout;
    int r;
    bufs_init(&B);
    const size_t bytes = n * sizeof(float);
    if ((r = upload(&B, &dx, x, bytes)) < 0 || (r = poisoned(&B, &dout, bytes)) < 0 ||
        (r = ks_cuda_launch_gelu(0, (float *)dout, (const float *)dx, n, &B.err)) < 0 ||
        (r = download(&B, out, dout, bytes)) < 0) {
        return bufs_done(&B, r, err, err_len);
    }
    return bufs_done(&B, KS_OK, err, err_len);
}

int ks_cuda_softmax(float *out, const float *x, size_t rows, size_t n, char *err, size_t err_len)
{
    struct bufs B;
    void *dx, *dout;
    int r;
    bufs_init(&B);
    const size_t bytes = rows * n * sizeof(float);
    if ((r = upload(&B, &dx, x, bytes)) < 0 || (r = poisoned(&B, &dout, bytes)) < 0 ||
        (r = ks_cuda_launch_softmax(0, (float *)dout, (const float *)dx, rows, n, &B.err)) < 0 ||
        (r = download(&B, out, dout, bytes)) < 0) {
        return bufs_done(&B, r, err, err_len);
    }
    return bufs_done(&B, KS_OK, err, err_len);
}

int ks_cuda_matmul(float *y, const float *x, const float *w, const float *b, size_t T, size_t K,
                   size_t N, int epi, int splits, char *err, size_t err_len)
{
    struct bufs B;
    void *dx, *dw, *db = NULL, *dy, *dpart;
    int r, dev = 0, sms = 0;
    bufs_init(&B);
    if (epi < KS_CUDA_MM_STORE || epi > KS_CUDA_MM_RESID || splits < 0 || T == 0 || K == 0 ||
        N == 0 || (epi != KS_CUDA_MM_STORE && !b)) {
        r = ks_cuda_fail(&B.err, KS_ERR_INVALID_ARG, "matmul: invalid arguments");
        return bufs_done(&B, r, err, err_len);
    }
    if ((r = KS_CUDA_CHECK(&B.err, cudaGetDevice(&dev))) < 0 ||
        (r = KS_CUDA_CHECK(
             &B.err, cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev))) < 0) {
        return bufs_done(&B, r, err, err_len);
    }
    const int used = ks_cuda_matmul_splits(T, K, N, sms, splits);
    const size_t ybytes = T * N * sizeof(float);
    if ((r = upload(&B, &dx, x, T * K * sizeof(float))) < 0 ||
        (r = upload(&B, &dw, w, K * N * sizeof(float))) < 0 ||
        (b && (r = upload(&B, &db, b, N * sizeof(float))) < 0) ||
        (r = epi == KS_CUDA_MM_RESID ? upload(&B, &dy, y, ybytes) : poisoned(&B, &dy, ybytes)) <
            0 ||
        (r = poisoned(&B, &dpart, ks_cuda_matmul_scratch(T, N, used) * sizeof(float))) < 0 ||
        (r = ks_cuda_launch_matmul(0, (float *)dy, (const float *)dx, (const float *)dw,
                                   (const float *)db, T, K, N, (enum ks_cuda_epi)epi,
                                   (float *)dpart, used, &B.err)) < 0 ||
        (r = download(&B, y, dy, ybytes)) < 0) {
        return bufs_done(&B, r, err, err_len);
    }
    return bufs_done(&B, KS_OK, err, err_len);
}

int ks_cuda_attention(float *out, const float *q, const float *k, const float *v, size_t p0,
                      size_t T, size_t D, size_t H, char *err, size_t err_len)
{
    struct bufs B;
    void *dq, *dk, *dv, *datt, *dout;
    int r;
    bufs_init(&B);
    const size_t n = p0 + T;
    if ((r = upload(&B, &dq, q, T * D * sizeof(float))) < 0 ||
        (r = upload(&B, &dk, k, n * D * sizeof(float))) < 0 ||
        (r = upload(&B, &dv, v, n * D * sizeof(float))) < 0 ||
        (r = poisoned(&B, &datt, T * H * n * sizeof(float))) < 0 ||
        (r = poisoned(&B, &dout, T * D * sizeof(float))) < 0 ||
        (r = ks_cuda_launch_attention(0, (float *)dout, (const float *)dq, D, (const float *)dk,
                                      (const float *)dv, p0, T, D, H, (float *)datt, n, &B.err)) <
            0 ||
        (r = download(&B, out, dout, T * D * sizeof(float))) < 0) {
        return bufs_done(&B, r, err, err_len);
    }
    return bufs_done(&B, KS_OK, err, err_len);
}

int ks_cuda_rowdot(float *out, const float *h, const float *E, size_t V, size_t D, char *err,
                   size_t err_len)
{
    struct bufs B;
    void *dh, *dE, *dout;
    int r;
    bufs_init(&B);
    if ((r = upload(&B, &dh, h, D * sizeof(float))) < 0 ||
        (r = upload(&B, &dE, E, V * D * sizeof(float))) < 0 ||
        (r = poisoned(&B, &dout, V * sizeof(float))) < 0 ||
        (r = ks_cuda_launch_rowdot(0, (float *)dout, (const float *)dh, (const float *)dE, V, D,
                                   &B.err)) < 0 ||
        (r = download(&B, out, dout, V * sizeof(float))) < 0) {
        return bufs_done(&B, r, err, err_len);
    }
    return bufs_done(&B, KS_OK, err, err_len);
}

int ks_cuda_argmax(const float *x, size_t n, uint32_t *ret, char *err, size_t err_len)
{
    struct bufs B;
    void *dx, *dout;
    int32_t got = -1;
    int r;
    bufs_init(&B);
    if ((r = upload(&B, &dx, x, n * sizeof(float))) < 0 ||
        (r = poisoned(&B, &dout, sizeof(int32_t))) < 0 ||
        (r = ks_cuda_launch_argmax(0, (int32_t *)dout, (const float *)dx, n, &B.err)) < 0 ||
        (r = download(&B, &got, dout, sizeof(got))) < 0) {
        return bufs_done(&B, r, err, err_len);
    }
    if (got < 0 || (size_t)got >= n) {
        r = ks_cuda_fail(&B.err, KS_ERR_BACKEND_DEVICE, "argmax: index out of range");
        return bufs_done(&B, r, err, err_len);
    }
    *ret = (uint32_t)got;
    return bufs_done(&B, KS_OK, err, err_len);
}

int ks_cuda_generate(const uint8_t *weights, size_t len, int splits, const uint8_t *prompt,
                     size_t plen, size_t n_new, uint8_t *ret_out, float *ret_logits, char *err,
                     size_t err_len)
{
    struct bufs B;
    struct ks_model_dims d;
    struct ks_cuda_model *m = NULL;
    void *dbuf;
    int r;
    bufs_init(&B);
    if (!weights || (r = ks_model_header_parse(weights, len, len, &d, NULL)) < 0) {
        r = ks_cuda_fail(&B.err, weights ? r : KS_ERR_INVALID_ARG, "not a weights file image");
        return bufs_done(&B, r, err, err_len);
    }
    if ((r = dev_alloc(&B, &dbuf, len + KS_CUDA_IMG_SHIFT)) < 0 ||
        (r = KS_CUDA_CHECK(&B.err, cudaMemcpy((uint8_t *)dbuf + KS_CUDA_IMG_SHIFT, weights, len,
                                              cudaMemcpyHostToDevice))) < 0 ||
        (r = ks_cuda_model_open((const uint8_t *)dbuf + KS_CUDA_IMG_SHIFT, len, &d, true, splits,
                                &m, &B.err)) < 0) {
        return bufs_done(&B, r, err, err_len);
    }
    r = ks_cuda_model_generate(m, prompt, plen, n_new, ret_out, ret_logits, &B.err);
    ks_cuda_model_free(m);
    (void)cudaMemset(dbuf, 0, len + KS_CUDA_IMG_SHIFT);
    (void)cudaDeviceSynchronize();
    return bufs_done(&B, r, err, err_len);
}
