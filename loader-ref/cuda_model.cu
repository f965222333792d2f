/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cuda_internal.h"

/*
 * The reference model (loader-ref/model.h) on the device: the weights image
 * stays where the backend uploaded it and is used in place; the prompt is
 * run in chunks of up to `tc` positions (one batched pass per chunk), then
 * one position per generated token, with a KV cache. The greedy choice is
 * made on the device and written into the token array the next step's
 * embedding reads, so a whole generation runs without a host round trip;
 * the host synchronises once, at the end.
 */

struct layer {
    const float *ln1_g, *ln1_b, *w_qkv, *b_qkv, *w_o, *b_o;
    const float *ln2_g, *ln2_b, *w_1, *b_1, *w_2, *b_2;
};

struct ks_cuda_model {
    struct ks_model_dims d;
    int sms;    /* multiprocessors of the device */
    int splits; /* forced split-K factor, 0: chosen per product */
    cudaStream_t stream;
    bool have_stream;
    const float *tok_emb, *pos_emb, *lnf_g, *lnf_b;
    struct layer *layers;
    size_t tc; /* positions per prompt chunk */
    /* Everything derived from a prompt, in one device allocation that is
     * wiped after every generation. */
    void *state;
    size_t state_bytes;
    float *kc, *vc; /* [n_layers][max_seq][d_model] */
    float *x, *h, *qkv, *a, *ff, *att, *part, *logits;
    int32_t *tokens;       /* [max_seq + 1] */
    struct ks_locked host; /* the tokens on the host, locked */
};

/* Prompt chunk: at most 64 positions, and an attention scratch (tc * H * S
 * floats) of at most 64 Mi floats. */
#define TC_MAX 64
#define ATT_SCRATCH_MAX (64u * 1024 * 1024)

static const float *take(const float **cur, size_t n)
{
    const float *p = *cur;
    *cur += n;
    return p;
}

/* Floats of split-K scratch for every product of a chunk of 1..tc rows. */
static size_t part_floats(const struct ks_cuda_model *m)
{
    const size_t D = m->d.d_model, F = m->d.d_ff;
    const size_t shapes[4][2] = {{D, 3 * D}, {D, D}, {D, F}, {F, D}}; /* K, N */
    size_t most = 0;
    for (size_t T = 1; T <= m->tc; T++) {
        for (int i = 0; i < 4; i++) {
            int s = ks_cuda_matmul_splits(T, shapes[i][0], shapes[i][1], m->sms, m->splits);
            size_t n = ks_cuda_matmul_scratch(T, shapes[i][1], s);
            most = n > most ? n : most;
        }
    }
    return most;
}

/* Carve the state allocation: each piece 256-byte aligned. */
static float *carve(uint8_t **cur, size_t floats)
{
    float *p = (float *)*cur;
    *cur += (floats * sizeof(float) + 255) / 256 * 256;
    return p;
}

static size_t carved(size_t floats)
{
    return (floats * sizeof(float) + 255) / 256 * 256;
}

int ks_cuda_model_open(const uint8_t *img, size_t len, const struct ks_model_dims *dims,
                       bool allow_unlocked, int splits, struct ks_cuda_model **ret,
                       struct ks_cuda_err *err)
{
    struct ks_cuda_model *m = NULL;
    uint64_t want;
    int dev, r;
    if (!img || !dims || !ret || ((uintptr_t)img % sizeof(float)) != 0 || splits < 0) {
        return ks_cuda_fail(err, KS_ERR_INVALID_ARG, "model: invalid arguments");
    }
    if ((r = ks_model_weights_size(dims, &want)) < 0) {
        return ks_cuda_fail(err, r, "model: invalid dimensions");
    }
    if (want != len) {
        return ks_cuda_fail(err, KS_ERR_MODEL_SIZE, "model: weights length mismatch");
    }
    m = (struct ks_cuda_model *)calloc(1, sizeof(*m));
    if (!m || !(m->layers = (struct layer *)calloc(dims->n_layers, sizeof(*m->layers)))) {
        r = ks_cuda_fail(err, KS_ERR_NOMEM, "model: out of host memory");
        goto out;
    }
    m->d = *dims;
    m->splits = splits;
    if ((r = KS_CUDA_CHECK(err, cudaGetDevice(&dev))) < 0 ||
        (r = KS_CUDA_CHECK(
             err, cudaDeviceGetAttribute(&m->sms, cudaDevAttrMultiProcessorCount, dev))) < 0 ||
        (r = KS_CUDA_CHECK(err, cudaStreamCreateWithFlags(&m->stream, cudaStreamNonBlocking))) <
            0) {
        goto out;
    }
    m->have_stream = true;
    {
        const size_t D = dims->d_model, F = dims->d_ff, S = dims->max_seq, H = dims->n_heads;
        const size_t L = dims->n_layers, V = dims->vocab;
        const float *cur = (const float *)(img + KS_MODEL_HEADER_LEN);
        m->tok_emb = take(&cur, V * D);
        m->pos_emb = take(&cur, S * D);
        for (size_t l = 0; l < L; l++) {
            struct layer *y = &m->layers[l];
            y->ln1_g = take(&cur, D);
            y->ln1_b = take(&cur, D);
            y->w_qkv = take(&cur, D * 3 * D);
            y->b_qkv = take(&cur, 3 * D);
            y->w_o = take(&cur, D * D);
            y->b_o = take(&cur, D);
            y->ln2_g = take(&cur, D);
            y->ln2_b = take(&cur, D);
            y->w_1 = take(&cur, D * F);
            y->b_1 = take(&cur, F);
            y->w_2 = take(&cur, F * D);
            y->b_2 = take(&cur, D);
        }
        m->lnf_g = take(&cur, D);
        m->lnf_b = take(&cur, D);

        m->tc = S < TC_MAX ? S : TC_MAX;
        while (m->tc > 1 && m->tc * H * S > ATT_SCRATCH_MAX) {
            m->tc /= 2;
        }
        const size_t tc = m->tc, kv = L * S * D, P = part_floats(m);
        m->state_bytes = 2 * carved(kv) + 3 * carved(tc * D) + carved(tc * 3 * D) + carved(tc * F) +
                         carved(tc * H * S) + carved(P) + carved(V) + carved(S + 1);
        if ((r = KS_CUDA_CHECK(err, cudaMalloc(&m->state, m->state_bytes))) < 0) {
            m->state = NULL;
            goto out;
        }
        uint8_t *p = (uint8_t *)m->state;
        m->kc = carve(&p, kv);
        m->vc = carve(&p, kv);
        m->x = carve(&p, tc * D);
        m->h = carve(&p, tc * D);
        m->a = carve(&p, tc * D);
        m->qkv = carve(&p, tc * 3 * D);
        m->ff = carve(&p, tc * F);
        m->att = carve(&p, tc * H * S);
        m->part = carve(&p, P);
        m->logits = carve(&p, V);
        m->tokens = (int32_t *)carve(&p, S + 1); /* int32 and float: 4 bytes */
        if ((r = KS_CUDA_CHECK(err, cudaMemsetAsync(m->state, 0, m->state_bytes, m->stream))) < 0 ||
            (r = KS_CUDA_CHECK(err, cudaStreamSynchronize(m->stream))) < 0) {
            goto out;
        }
        if ((r = ks_locked_alloc((S + 1) * sizeof(int32_t), allow_unlocked, false, &m->host)) < 0) {
            ks_cuda_fail(err, r, "model: cannot lock the host token buffer");
            goto out;
        }
    }
    *ret = m;
    m = NULL;
    r = KS_OK;
out:
    ks_cuda_model_free(m);
    return r;
}

/* Positions p0..p0+T-1 (tokens already on the device) through every layer;
 * with `emit`, the logits of the last one and its greedy successor in
 * tokens[p0 + T]. */
static int forward(struct ks_cuda_model *m, size_t p0, size_t T, bool emit, struct ks_cuda_err *err)
{
    const size_t D = m->d.d_model, F = m->d.d_ff, S = m->d.max_seq, H = m->d.n_heads;
    const size_t V = m->d.vocab;
    const cudaStream_t s = m->stream;
    const int sp_qkv = ks_cuda_matmul_splits(T, D, 3 * D, m->sms, m->splits);
    const int sp_o = ks_cuda_matmul_splits(T, D, D, m->sms, m->splits);
    const int sp_1 = ks_cuda_matmul_splits(T, D, F, m->sms, m->splits);
    const int sp_2 = ks_cuda_matmul_splits(T, F, D, m->sms, m->splits);
    int r;
    if ((r = ks_cuda_launch_embed(s, m->x, m->tok_emb, m->pos_emb, m->tokens, p0, T, D, V, err)) <
        0) {
        return r;
    }
    for (size_t l = 0; l < m->d.n_layers; l++) {
        const struct layer *y = &m->layers[l];
        float *kc = m->kc + l * S * D, *vc = m->vc + l * S * D;
        if ((r = ks_cuda_launch_layernorm(s, m->h, m->x, y->ln1_g, y->ln1_b, T, D, err)) < 0 ||
            (r = ks_cuda_launch_matmul(s, m->qkv, m->h, y->w_qkv, y->b_qkv, T, D, 3 * D,
                                       KS_CUDA_EPI_BIAS, m->part, sp_qkv, err)) < 0 ||
            (r = ks_cuda_launch_kv_store(s, kc, vc, m->qkv, p0, T, D, err)) < 0 ||
            (r = ks_cuda_launch_attention(s, m->a, m->qkv, 3 * D, kc, vc, p0, T, D, H, m->att, S,
                                          err)) < 0 ||
            (r = ks_cuda_launch_matmul(s, m->x, m->a, y->w_o, y->b_o, T, D, D, KS_CUDA_EPI_RESID,
                                       m->part, sp_o, err)) < 0 ||
            (r = ks_cuda_launch_layernorm(s, m->h, m->x, y->ln2_g, y->ln2_b, T, D, err)) < 0 ||
            (r = ks_cuda_launch_matmul(s, m->ff, m->h, y->w_1, y->b_1, T, D, F, KS_CUDA_EPI_GELU,
                                       m->part, sp_1, err)) < 0 ||
            (r = ks_cuda_launch_matmul(s, m->x, m->ff, y->w_2, y->b_2, T, F, D, KS_CUDA_EPI_RESID,
                                       m->part, sp_2, err)) < 0) {
            return r;
        }
    }
    if (!emit) {
        return KS_OK;
    }
    /* Tied output projection: logits = LN_f(x) @ tok_emb^T. */
    if ((r = ks_cuda_launch_layernorm(s, m->h, m->x + (T - 1) * D, m->lnf_g, m->lnf_b, 1, D, err)) <
            0 ||
        (r = ks_cuda_launch_rowdot(s, m->logits, m->h, m->tok_emb, V, D, err)) < 0 ||
        (r = ks_cuda_launch_argmax(s, m->tokens + p0 + T, m->logits, V, err)) < 0) {
        return r;
    }
    return KS_OK;
}

int ks_cuda_model_generate(struct ks_cuda_model *m, const uint8_t *prompt, size_t len, size_t n_new,
                           uint8_t *ret_out, float *ret_logits, struct ks_cuda_err *err)
{
    int r, r2;
    if (!m || (!prompt && len > 0) || (!ret_out && n_new > 0)) {
        return ks_cuda_fail(err, KS_ERR_INVALID_ARG, "generate: invalid arguments");
    }
    if (len == 0 || n_new > m->d.max_seq) {
        return ks_cuda_fail(err, KS_ERR_MODEL_PROMPT, "generate: empty prompt or n_new > S");
    }
    if (n_new == 0) {
        return KS_OK;
    }
    /* The prompt truncation of ks_model_generate (model.h): positions run
     * keep + n_new - 1 <= max_seq. */
    size_t keep = m->d.max_seq + 1 - n_new;
    keep = len < keep ? len : keep;
    const uint8_t *p = prompt + len - keep;
    const size_t total = keep + n_new - 1;
    int32_t *ht = (int32_t *)m->host.ptr;
    for (size_t i = 0; i < keep; i++) {
        ht[i] = p[i];
    }
    if ((r = KS_CUDA_CHECK(err, cudaMemcpyAsync(m->tokens, ht, keep * sizeof(int32_t),
                                                cudaMemcpyHostToDevice, m->stream))) < 0) {
        goto out;
    }
    for (size_t p0 = 0; p0 < keep; p0 += m->tc) {
        size_t T = keep - p0 < m->tc ? keep - p0 : m->tc;
        if ((r = forward(m, p0, T, p0 + T == keep, err)) < 0) {
            goto out;
        }
    }
    for (size_t pos = keep; pos < total; pos++) {
        if ((r = forward(m, pos, 1, true, err)) < 0) {
            goto out;
        }
    }
    if ((r = KS_CUDA_CHECK(err,
                           cudaMemcpyAsync(ht + keep, m->tokens + keep, n_new * sizeof(int32_t),
                                           cudaMemcpyDeviceToHost, m->stream))) < 0 ||
        (ret_logits &&
         (r = KS_CUDA_CHECK(err, cudaMemcpyAsync(ret_logits, m->logits, m->d.vocab * sizeof(float),
                                                 cudaMemcpyDeviceToHost, m->stream))) < 0) ||
        (r = KS_CUDA_CHECK(err, cudaStreamSynchronize(m->stream))) < 0) {
        goto out;
    }
    r = KS_OK;
out:
    /* The cache, the activations and the tokens are functions of the
     * prompt: wiped whatever happened (a failed wipe is reported unless an
     * earlier error already is, and then nothing is returned). */
    r2 = KS_CUDA_CHECK(r < 0 ? NULL : err, cudaMemsetAsync(m->state, 0, m->state_bytes, m->stream));
    if (r2 == KS_OK) {
        r2 = KS_CUDA_CHECK(r < 0 ? NULL : err, cudaStreamSynchronize(m->stream));
    }
    if (r == KS_OK && r2 == KS_OK) {
        for (size_t i = 0; i < n_new; i++) {
            ret_out[i] = (uint8_t)ht[keep + i];
        }
    }
    explicit_bzero(m->host.ptr, m->host.len);
    return r < 0 ? r : r2;
}

void ks_cuda_model_free(struct ks_cuda_model *m)
{
    if (!m) {
        return;
    }
    /* Best effort: a device that already failed cannot be wiped. */
    if (m->state && m->have_stream) {
        (void)cudaMemsetAsync(m->state, 0, m->state_bytes, m->stream);
        (void)cudaStreamSynchronize(m->stream);
    }
    if (m->state) {
        (void)cudaFree(m->state);
    }
    if (m->have_stream) {
        (void)cudaStreamDestroy(m->stream);
    }
    ks_locked_free(&m->host);
    free(m->layers);
    free(m);
}
