/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "backend.h"
#include "cuda_kernels.h"
#include "gpu_check.h"
#include "model.h"

/*
 * The benchmark of tests/gpu/check.sh (issue 6): weights upload through the
 * CUDA backend's unseal sink (pinned staging, copy of chunk i overlapped
 * with the decryption of chunk i+1) with T decrypt threads, against
 * min(pinned cudaMemcpy H2D rate, T x the one-thread decrypt rate), the
 * target being 70% of that; the decryption is a memcpy stand-in and, when
 * libcrypto is there, real AES-256-GCM per chunk. Then tokens/s of the CUDA
 * and CPU backends. Prints markdown tables.
 */

#define MIB (1024.0 * 1024.0)

static int cu(cudaError_t e, const char *what)
{
    if (e == cudaSuccess) {
        return 0;
    }
    printf("# benchmark: %s: %s\n", what, cudaGetErrorString(e));
    return -1;
}

/* Pinned host -> device cudaMemcpy, 256 MiB x 8. */
static int pinned_h2d(double *ret_gbps)
{
    const size_t n = (size_t)256 << 20;
    const int reps = 8;
    void *h = NULL, *d = NULL;
    double t0;
    int r = -1;
    if (cu(cudaHostAlloc(&h, n, cudaHostAllocDefault), "cudaHostAlloc") ||
        cu(cudaMalloc(&d, n), "cudaMalloc")) {
        goto out;
    }
    memset(h, 0x5a, n);
    if (cu(cudaMemcpy(d, h, n, cudaMemcpyHostToDevice), "cudaMemcpy")) {
        goto out;
    }
    t0 = ks_gpu_now();
    for (int i = 0; i < reps; i++) {
        if (cu(cudaMemcpy(d, h, n, cudaMemcpyHostToDevice), "cudaMemcpy")) {
            goto out;
        }
    }
    *ret_gbps = (double)n * reps / (ks_gpu_now() - t0) / 1e9;
    r = 0;
out:
    if (d) {
        (void)cudaFree(d);
    }
    if (h) {
        (void)cudaFreeHost(h);
    }
    return r;
}

/* ---- decrypt stand-ins -------------------------------------------------------- */

struct fill_ctx {
    const uint8_t *plain, *ct, *tags;
    struct ks_gpu_aes *aes[64];
};

static int fill_memcpy(void *ctx, unsigned worker, uint64_t index, uint64_t off, uint8_t *dst,
                       size_t len)
{
    const struct fill_ctx *c = ctx;
    (void)worker, (void)index;
    memcpy(dst, c->plain + off, len);
    return KS_OK;
}

static int fill_aes(void *ctx, unsigned worker, uint64_t index, uint64_t off, uint8_t *dst,
                    size_t len)
{
    const struct fill_ctx *c = ctx;
    return ks_gpu_aes_open(c->aes[worker], index, c->ct + off, len, c->tags + 16 * index, dst) == 0
               ? KS_OK
               : KS_ERR_CRYPTO;
}

/* One thread, every chunk into one pinned buffer: the decrypt rate alone. */
static int one_thread(ks_gpu_fill_fn fill, void *ctx, size_t len, size_t chunk, double *ret)
{
    void *dst = NULL;
    int r = -1;
    if (cu(cudaHostAlloc(&dst, chunk, cudaHostAllocDefault), "cudaHostAlloc")) {
        return -1;
    }
    double t0 = ks_gpu_now();
    for (uint64_t i = 0, off = 0; off < len; i++, off += chunk) {
        size_t l = len - off < chunk ? len - off : chunk;
        if (fill(ctx, 0, i, off, dst, l) != KS_OK) {
            printf("# benchmark: the one-thread stand-in failed\n");
            goto out;
        }
    }
    *ret = (double)len / (ks_gpu_now() - t0) / 1e9;
    r = 0;
out:
    (void)cudaFreeHost(dst);
    return r;
}

/* T threads, each decrypting chunks w, w+T, ... into its own pinned buffer,
 * no copy to the device: what this host's cores and memory can decrypt in
 * parallel. T x the one-thread rate assumes perfect scaling, which the
 * host's memory bandwidth does not give; the upload cannot beat this. */
struct par_arg {
    ks_gpu_fill_fn fill;
    void *ctx;
    size_t len, chunk;
    unsigned w, T;
    uint8_t *dst;
    pthread_barrier_t *go;
    int r;
};

static void *par_worker(void *p)
{
    struct par_arg *a = p;
    pthread_barrier_wait(a->go);
    a->r = KS_OK;
    for (uint64_t i = a->w, off = (uint64_t)a->w * a->chunk; off < a->len;
         i += a->T, off += (uint64_t)a->T * a->chunk) {
        size_t l = a->len - off < a->chunk ? a->len - off : a->chunk;
        if (a->fill(a->ctx, a->w, i, off, a->dst, l) != KS_OK) {
            a->r = KS_ERR_CRYPTO;
            break;
        }
    }
    pthread_barrier_wait(a->go);
    return NULL;
}

static int t_threads(ks_gpu_fill_fn fill, void *ctx, size_t len, size_t chunk, unsigned T,
                     double *ret)
{
    struct par_arg a[64];
    pthread_t th[64];
    pthread_barrier_t go;
    unsigned started = 0;
    int r = -1;
    if (T < 1 || T > 64 || pthread_barrier_init(&go, NULL, T + 1) != 0) {
        return -1;
    }
    memset(a, 0, sizeof(a));
    for (unsigned w = 0; w < T; w++) {
        a[w] = (struct par_arg){fill, ctx, len, chunk, w, T, NULL, &go, KS_OK};
        if (cu(cudaHostAlloc((void **)&a[w].dst, chunk, cudaHostAllocDefault), "cudaHostAlloc")) {
            goto out;
        }
    }
    for (; started < T; started++) {
        if (pthread_create(&th[started], NULL, par_worker, &a[started]) != 0) {
            /* The barrier counts T + 1: without every thread, give up. */
            printf("# benchmark: cannot start %u threads\n", T);
            exit(3);
        }
    }
    pthread_barrier_wait(&go);
    double t0 = ks_gpu_now();
    pthread_barrier_wait(&go);
    double t1 = ks_gpu_now();
    r = 0;
    for (unsigned w = 0; w < started; w++) {
        pthread_join(th[w], NULL);
        r = a[w].r != KS_OK ? -1 : r;
    }
    *ret = (double)len / (t1 - t0) / 1e9;
out:
    for (unsigned w = 0; w < T; w++) {
        if (a[w].dst) {
            (void)cudaFreeHost(a[w].dst);
        }
    }
    pthread_barrier_destroy(&go);
    return r;
}

/* ---- backends ------------------------------------------------------------------- */

/* Upload through the sink with T threads; the rate from the first acquire
 * to the end of weights_finish (every copy landed, the model ready), the
 * staging setup (weights_sink: pinning the slots) timed apart. Then
 * generate n bytes into out. */
static int upload(const uint8_t *img, size_t len, const struct ks_model_dims *d, size_t chunk,
                  unsigned T, ks_gpu_fill_fn fill, void *ctx, const uint8_t *prompt, size_t plen,
                  size_t n, uint8_t *out, double *ret_gbps, double *ret_setup)
{
    struct ks_backend *b = NULL;
    struct ks_unseal_sink sink;
    char note[256] = "";
    size_t got;
    int r = ks_backend_open("cuda", &b, note, sizeof(note));
    if (r == KS_OK && (r = ks_backend_weights_alloc(b, len, true)) == KS_OK) {
        double t0 = ks_gpu_now();
        if ((r = ks_backend_weights_sink(b, T, chunk, &sink)) == KS_OK) {
            double t1 = ks_gpu_now();
            *ret_setup = t1 - t0;
            if ((r = ks_gpu_sink_drive(&sink, len, chunk, T, fill, ctx)) == KS_OK &&
                (r = ks_backend_weights_finish(b, d)) == KS_OK) {
                *ret_gbps = (double)len / (ks_gpu_now() - t1) / 1e9;
                r = ks_backend_generate(b, prompt, plen, n, out, &got);
            }
        }
    }
    if (r != KS_OK) {
        printf("# benchmark: upload with %u threads: %s %s\n", T, ks_strerror(r), note);
    }
    ks_backend_close(b);
    return r;
}

/* Tokens per second of `backend` generating n bytes (the prompt's prefill
 * included, after a warm-up). */
static int tokens(const char *backend, const uint8_t *img, size_t len,
                  const struct ks_model_dims *d, const uint8_t *prompt, size_t plen, size_t n,
                  uint8_t *out, double *ret)
{
    struct ks_backend *b = NULL;
    char note[256] = "";
    size_t got;
    int r = ks_backend_open(backend, &b, note, sizeof(note));
    if (r == KS_OK && (r = ks_backend_weights_alloc(b, len, true)) == KS_OK &&
        (r = ks_backend_weights_write(b, 0, img, len)) == KS_OK &&
        (r = ks_backend_weights_finish(b, d)) == KS_OK &&
        (r = ks_backend_generate(b, prompt, plen, 2, out, &got)) == KS_OK) {
        double t0 = ks_gpu_now();
        if ((r = ks_backend_generate(b, prompt, plen, n, out, &got)) == KS_OK) {
            *ret = (double)n / (ks_gpu_now() - t0);
        }
    }
    if (r != KS_OK) {
        printf("# benchmark: %s tokens/s: %s %s\n", backend, ks_strerror(r), note);
    }
    ks_backend_close(b);
    return r;
}

/* About `bytes` of weights: D=1024, H=16, F=4D, S=1024 and as many layers
 * as fit (D=256 below 256 MiB, D=64 below 16 MiB: small runs, such as the
 * emulated one of check.sh --emulate). */
static struct ks_model_dims bench_dims(size_t bytes)
{
    const uint32_t D = bytes >= (256u << 20) ? 1024 : bytes >= (16u << 20) ? 256 : 64;
    struct ks_model_dims d = {256, D, 1, D / 64, 4 * D, D};
    uint64_t one = 0, two = 0;
    if (ks_model_weights_size(&d, &one) < 0) {
        return d;
    }
    d.n_layers = 2;
    if (ks_model_weights_size(&d, &two) < 0 || two <= one) {
        d.n_layers = 1;
        return d;
    }
    d.n_layers = bytes > one ? (uint32_t)((bytes - one) / (two - one) + 1) : 1;
    return d;
}

static void tok_row(const char *backend, const char *model, size_t plen, size_t n, double rate)
{
    printf("| %-7s | %-30s | %6zu | %5zu | %10.1f |\n", backend, model, plen, n, rate);
}

int ks_gpu_bench(const struct ks_gpu_bench_opts *o)
{
    const struct ks_model_dims d = bench_dims(o->bytes);
    const struct ks_model_dims small = {256, 64, 2, 4, 256, 128};
    static const uint8_t prompt[] = "The weights stay sealed until..";
    const size_t plen = 16;
    struct fill_ctx fc;
    uint8_t *img = NULL, *simg = NULL, *ct = NULL, *tags = NULL, key[32];
    uint8_t *want = NULL, *got = NULL;
    size_t len = 0, slen = 0;
    double h2d = 0, one_memcpy = 0, one_aes = 0;
    char info[256] = "", err[256] = "", dname[128];
    int r, below = 0, aes = ks_gpu_aes_available();
    memset(&fc, 0, sizeof(fc));
    const size_t nmax = o->gpu_tokens > o->cpu_tokens ? o->gpu_tokens : o->cpu_tokens;
    want = malloc(nmax);
    got = malloc(nmax);
    if (!want || !got) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    (void)ks_cuda_info(info, sizeof(info), err, sizeof(err));
    if ((r = ks_gpu_make_weights(&d, 1234, &img, &len)) < 0 ||
        (r = ks_gpu_make_weights(&small, 5, &simg, &slen)) < 0) {
        goto out;
    }
    snprintf(dname, sizeof(dname), "D=%u L=%u H=%u F=%u S=%u", d.d_model, d.n_layers, d.n_heads,
             d.d_ff, d.max_seq);
    fc.plain = img;
    if (pinned_h2d(&h2d) < 0 || one_thread(fill_memcpy, &fc, len, o->chunk, &one_memcpy) < 0) {
        r = KS_ERR_BACKEND_DEVICE;
        goto out;
    }
    if (aes) {
        for (int i = 0; i < 32; i++) {
            key[i] = (uint8_t)(i * 37 + 11);
        }
        ct = malloc(len);
        tags = malloc(16 * (len / o->chunk + 1));
        if (!ct || !tags || ks_gpu_aes_seal(key, img, len, o->chunk, ct, tags) != 0) {
            printf("# benchmark: AES-256-GCM setup failed; memcpy stand-in only\n");
            aes = 0;
        }
        fc.ct = ct;
        fc.tags = tags;
        for (unsigned i = 0; aes && i < 64; i++) {
            if (!(fc.aes[i] = ks_gpu_aes_new(key))) {
                aes = 0;
            }
        }
        if (aes && one_thread(fill_aes, &fc, len, o->chunk, &one_aes) < 0) {
            aes = 0;
        }
    }

    printf("\n## CUDA backend benchmark (tests/gpu/check.sh)\n\n");
    printf("Device: %s\n\n", info);
    printf("Model %s: %.1f MiB of fp32 weights; %.0f MiB chunks.\n", dname, (double)len / MIB,
           (double)o->chunk / MIB);
    printf("Pinned cudaMemcpy H2D: %.2f GB/s. One decrypt thread into pinned memory: memcpy "
           "stand-in %.2f GB/s",
           h2d, one_memcpy);
    if (aes) {
        printf(", AES-256-GCM (OpenSSL) %.2f GB/s", one_aes);
    }
    printf(".\n\n");

    /* The reference bytes: the CPU backend on the same weights. */
    double cpu_rate = 0, gpu_rate = 0;
    if ((r = tokens("cpu", img, len, &d, prompt, plen, o->cpu_tokens, want, &cpu_rate)) < 0) {
        goto out;
    }

    printf("| decrypt     | T  | upload GB/s | min(H2D, T x 1-thread) | 70%% target | ratio | "
           "result | T threads, no copy | ratio to min(H2D, that) | setup ms |\n");
    printf("|-------------|----|-------------|------------------------|------------|-------|"
           "--------|--------------------|-------------------------|----------|\n");
    for (int s = 0; s < (aes ? 2 : 1); s++) {
        for (unsigned i = 0; i < o->n_threads; i++) {
            const unsigned T = o->threads[i];
            double rate = 0, setup = 0;
            r = upload(img, len, &d, o->chunk, T, s ? fill_aes : fill_memcpy, &fc, prompt, plen,
                       o->cpu_tokens, got, &rate, &setup);
            if (r < 0) {
                goto out;
            }
            if (memcmp(got, want, o->cpu_tokens) != 0) {
                printf("# benchmark: MISMATCH: the bytes generated after the upload differ from "
                       "the CPU backend's\n");
                r = KS_ERR_INTERNAL;
                goto out;
            }
            double one = s ? one_aes : one_memcpy;
            double bound = h2d < T * one ? h2d : T * one;
            bool pass = rate >= 0.7 * bound;
            below |= !pass;
            double par = 0;
            if (t_threads(s ? fill_aes : fill_memcpy, &fc, len, o->chunk, T, &par) < 0) {
                r = KS_ERR_BACKEND_DEVICE;
                goto out;
            }
            double host_bound = h2d < par ? h2d : par;
            printf(
                "| %-11s | %2u | %11.2f | %22.2f | %10.2f | %4.0f%% | %-6s | %18.2f | %22.0f%% | "
                "%8.1f |\n",
                s ? "AES-256-GCM" : "memcpy", T, rate, bound, 0.7 * bound, 100.0 * rate / bound,
                pass ? "ok" : "BELOW", par, 100.0 * rate / host_bound, setup * 1e3);
        }
    }

    printf("\n| backend | model                          | prompt | new   | tokens/s   |\n");
    printf("|---------|--------------------------------|--------|-------|------------|\n");
    if ((r = tokens("cuda", img, len, &d, prompt, plen, o->gpu_tokens, got, &gpu_rate)) < 0) {
        goto out;
    }
    if (memcmp(got, want, o->cpu_tokens) != 0) {
        printf("# benchmark: MISMATCH between the CUDA and CPU backends on %s\n", dname);
        r = KS_ERR_INTERNAL;
        goto out;
    }
    tok_row("cuda", dname, plen, o->gpu_tokens, gpu_rate);
    tok_row("cpu", dname, plen, o->cpu_tokens, cpu_rate);
    if ((r = tokens("cuda", simg, slen, &small, prompt, plen, o->gpu_tokens, got, &gpu_rate)) < 0 ||
        (r = tokens("cpu", simg, slen, &small, prompt, plen, o->gpu_tokens, want, &cpu_rate)) < 0) {
        goto out;
    }
    tok_row("cuda", "D=64 L=2 H=4 F=256 S=128", plen, o->gpu_tokens, gpu_rate);
    tok_row("cpu", "D=64 L=2 H=4 F=256 S=128", plen, o->gpu_tokens, cpu_rate);
    if (memcmp(got, want, o->gpu_tokens) != 0) {
        printf("# benchmark: MISMATCH between the CUDA and CPU backends on the small model\n");
        r = KS_ERR_INTERNAL;
        goto out;
    }
    printf("\n");
    r = below ? 1 : 0;
out:
    for (int i = 0; i < 64; i++) {
        ks_gpu_aes_free(fc.aes[i]);
    }
    free(img), free(simg), free(ct), free(tags), free(want), free(got);
    return r;
}
