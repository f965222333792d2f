/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "locked_mem.h"
#include "model.h"

/* The CPU forward pass and greedy generation of the reference model
 * (model.h): one position at a time with a KV cache. */

/* The weights file stores little-endian fp32 and is used in place. */
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "loader-ref/model_forward.c reads little-endian fp32 weights in place"
#endif

/* A matrix product is split between two threads from this many weights
 * (1 MiB): below it a thread costs more than it saves. */
#define SPLIT_MIN_WEIGHTS (256 * 1024)

struct layer {
    const float *ln1_g, *ln1_b, *w_qkv, *b_qkv, *w_o, *b_o;
    const float *ln2_g, *ln2_b, *w_1, *b_1, *w_2, *b_2;
};

struct ks_model {
    struct ks_model_dims d;
    unsigned threads;
    const float *tok_emb, *pos_emb, *lnf_g, *lnf_b;
    struct layer *layers;
    /* Everything derived from a prompt, locked: KV cache and activations. */
    struct ks_locked state;
    float *kc, *vc; /* [n_layers][max_seq][d_model] */
    float *x, *h, *qkv, *a, *ff, *att, *logits;
};

void ks_model_layernorm(float *out, const float *x, const float *g, const float *b, size_t n)
{
    double sum = 0.0, sq = 0.0;
    for (size_t i = 0; i < n; i++) {
        sum += (double)x[i];
    }
    double mean = sum / (double)n;
    for (size_t i = 0; i < n; i++) {
        double c = (double)x[i] - mean;
        sq += c * c;
    }
    /* Biased variance, eps 1e-5 (GPT-2's LayerNorm). */
    float inv = (float)(1.0 / sqrt(sq / (double)n + (double)KS_MODEL_LN_EPS));
    for (size_t i = 0; i < n; i++) {
        out[i] = (float)((double)x[i] - mean) * inv * g[i] + b[i];
    }
}

float ks_model_gelu(float x)
{
    /* tanh approximation (Hendrycks & Gimpel 2016), as GPT-2. */
    const float k = 0.7978845608028654f; /* sqrt(2/pi) */
    return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
}

void ks_model_softmax(float *x, size_t n)
{
    float max = x[0], sum = 0.0f;
    for (size_t i = 1; i < n; i++) {
        max = x[i] > max ? x[i] : max;
    }
    for (size_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    for (size_t i = 0; i < n; i++) {
        x[i] /= sum;
    }
}

/* y[j0..j1) = b + x @ W for W [K][N]: the rows of W are read in order, each
 * once (cache-friendly), and y[j] accumulates in row order, so the result is
 * the same whatever the split. 8-wide vectors (GCC/clang vector extension)
 * since -O2 does not vectorize a loop of unknown length. */
typedef float v8f __attribute__((vector_size(32)));

struct mv_job {
    const float *x, *w, *b;
    float *y;
    size_t K, N, j0, j1;
};

static void matvec_range(const struct mv_job *j)
{
    float *y = j->y;
    size_t j1v = j->j0 + (j->j1 - j->j0) / 8 * 8;
    for (size_t c = j->j0; c < j->j1; c++) {
        y[c] = j->b ? j->b[c] : 0.0f;
    }
    for (size_t i = 0; i < j->K; i++) {
        const float *w = j->w + i * j->N;
        float xi = j->x[i];
        v8f xv = {xi, xi, xi, xi, xi, xi, xi, xi};
        size_t c = j->j0;
        for (; c < j1v; c += 8) {
            v8f wv, yv;
            memcpy(&wv, w + c, sizeof(wv));
            memcpy(&yv, y + c, sizeof(yv));
            yv += xv * wv;
            memcpy(y + c, &yv, sizeof(yv));
        }
        for (; c < j->j1; c++) {
            y[c] += xi * w[c];
        }
    }
}

static void *matvec_thread(void *arg)
{
    matvec_range(arg);
    return NULL;
}

static void matvec(const struct ks_model *m, float *y, const float *x, const float *w,
                   const float *b, size_t K, size_t N)
{
    struct mv_job all = {.x = x, .w = w, .b = b, .y = y, .K = K, .N = N, .j0 = 0, .j1 = N};
    if (m->threads >= 2 && K * N >= SPLIT_MIN_WEIGHTS && N >= 16) {
        struct mv_job hi = all;
        pthread_t t;
        all.j1 = N / 16 * 8; /* a multiple of 8: both halves vectorise */
        hi.j0 = all.j1;
        if (pthread_create(&t, NULL, matvec_thread, &hi) == 0) {
            matvec_range(&all);
            pthread_join(t, NULL);
            return;
        }
        all.j1 = N; /* no thread: do it all here */
    }
    matvec_range(&all);
}

static float dot(const float *a, const float *b, size_t n)
{
    float s = 0.0f;
    for (size_t i = 0; i < n; i++) {
        s += a[i] * b[i];
    }
    return s;
}

/* One position: token `tok` at position `pos` through every layer; the
 * logits when `logits` is set. */
static void forward(struct ks_model *m, size_t pos, uint8_t tok, bool logits)
{
    const size_t D = m->d.d_model, F = m->d.d_ff, S = m->d.max_seq;
    const size_t H = m->d.n_heads, Dh = D / H;
    const float scale = 1.0f / sqrtf((float)Dh);
    float *x = m->x, *h = m->h, *qkv = m->qkv, *a = m->a, *ff = m->ff, *att = m->att;

    for (size_t i = 0; i < D; i++) {
        x[i] = m->tok_emb[tok * D + i] + m->pos_emb[pos * D + i];
    }
    for (size_t l = 0; l < m->d.n_layers; l++) {
        const struct layer *L = &m->layers[l];
        float *kc = m->kc + l * S * D, *vc = m->vc + l * S * D;
        ks_model_layernorm(h, x, L->ln1_g, L->ln1_b, D);
        matvec(m, qkv, h, L->w_qkv, L->b_qkv, D, 3 * D);
        memcpy(kc + pos * D, qkv + D, D * sizeof(float));
        memcpy(vc + pos * D, qkv + 2 * D, D * sizeof(float));
        for (size_t hd = 0; hd < H; hd++) {
            const float *q = qkv + hd * Dh;
            for (size_t u = 0; u <= pos; u++) {
                att[u] = dot(q, kc + u * D + hd * Dh, Dh) * scale;
            }
            ks_model_softmax(att, pos + 1);
            float *ah = a + hd * Dh;
            memset(ah, 0, Dh * sizeof(float));
            for (size_t u = 0; u <= pos; u++) {
                const float *v = vc + u * D + hd * Dh;
                for (size_t i = 0; i < Dh; i++) {
                    ah[i] += att[u] * v[i];
                }
            }
        }
        matvec(m, h, a, L->w_o, L->b_o, D, D);
        for (size_t i = 0; i < D; i++) {
            x[i] += h[i];
        }
        ks_model_layernorm(h, x, L->ln2_g, L->ln2_b, D);
        matvec(m, ff, h, L->w_1, L->b_1, D, F);
        for (size_t i = 0; i < F; i++) {
            ff[i] = ks_model_gelu(ff[i]);
        }
        matvec(m, h, ff, L->w_2, L->b_2, F, D);
        for (size_t i = 0; i < D; i++) {
            x[i] += h[i];
        }
    }
    if (logits) {
        ks_model_layernorm(h, x, m->lnf_g, m->lnf_b, D);
        /* Tied output projection: logits = h @ tok_emb^T. */
        for (size_t v = 0; v < m->d.vocab; v++) {
            m->logits[v] = dot(h, m->tok_emb + v * D, D);
        }
    }
}

static const float *take(const float **cur, size_t n)
{
    const float *p = *cur;
    *cur += n;
    return p;
}

int ks_model_open(const uint8_t *weights, size_t len, const struct ks_model_dims *expect,
                  unsigned threads, bool allow_unlocked, struct ks_model **ret)
{
    struct ks_model_dims d;
    struct ks_model *m = NULL;
    int r;
    if (!weights || !ret || ((uintptr_t)weights % sizeof(float)) != 0 || threads > 2) {
        return KS_ERR_INVALID_ARG;
    }
    if ((r = ks_model_header_parse(weights, len, len, &d, NULL)) < 0) {
        return r;
    }
    if (expect && !ks_model_dims_equal(expect, &d)) {
        return KS_ERR_MODEL_MISMATCH;
    }
    m = calloc(1, sizeof(*m));
    if (!m || !(m->layers = calloc(d.n_layers, sizeof(*m->layers)))) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    m->d = d;
    /* Default 1: generation streams every weight once per token and one
     * thread already reaches the memory bandwidth on the machines measured
     * (docs/BENCHMARKS.md); on a shared machine the second thread's join
     * waits for a busy core and halves the rate. */
    m->threads = threads ? threads : 1;
    const size_t D = d.d_model, F = d.d_ff, S = d.max_seq;
    const float *cur = (const float *)(weights + KS_MODEL_HEADER_LEN);
    m->tok_emb = take(&cur, (size_t)d.vocab * D);
    m->pos_emb = take(&cur, S * D);
    for (size_t l = 0; l < d.n_layers; l++) {
        struct layer *L = &m->layers[l];
        L->ln1_g = take(&cur, D);
        L->ln1_b = take(&cur, D);
        L->w_qkv = take(&cur, D * 3 * D);
        L->b_qkv = take(&cur, 3 * D);
        L->w_o = take(&cur, D * D);
        L->b_o = take(&cur, D);
        L->ln2_g = take(&cur, D);
        L->ln2_b = take(&cur, D);
        L->w_1 = take(&cur, D * F);
        L->b_1 = take(&cur, F);
        L->w_2 = take(&cur, F * D);
        L->b_2 = take(&cur, D);
    }
    m->lnf_g = take(&cur, D);
    m->lnf_b = take(&cur, D);

    size_t kv = (size_t)d.n_layers * S * D;
    size_t floats = 2 * kv + D + D + 3 * D + D + F + S + d.vocab;
    if ((r = ks_locked_alloc(floats * sizeof(float), allow_unlocked, false, &m->state)) < 0) {
        goto out;
    }
    float *p = m->state.ptr;
    m->kc = p;
    m->vc = p + kv;
    p += 2 * kv;
    m->x = p;
    m->h = (p += D);
    m->qkv = (p += D);
    m->a = (p += 3 * D);
    m->ff = (p += D);
    m->att = (p += F);
    m->logits = (p += S);
    *ret = m;
    m = NULL;
    r = KS_OK;
out:
    ks_model_free(m);
    return r;
}

const struct ks_model_dims *ks_model_dims(const struct ks_model *m)
{
    return &m->d;
}

int ks_model_generate(struct ks_model *m, const uint8_t *prompt, size_t len, size_t n_new,
                      uint8_t *ret_out, float *ret_logits)
{
    if (!m || (!prompt && len > 0) || (!ret_out && n_new > 0)) {
        return KS_ERR_INVALID_ARG;
    }
    if (len == 0 || n_new > m->d.max_seq) {
        return KS_ERR_MODEL_PROMPT;
    }
    if (n_new == 0) {
        return KS_OK;
    }
    /* Positions run: keep + n_new - 1 <= max_seq (model.h). */
    size_t keep = m->d.max_seq + 1 - n_new;
    keep = len < keep ? len : keep;
    const uint8_t *p = prompt + len - keep;
    size_t total = keep + n_new - 1;
    for (size_t pos = 0; pos < total; pos++) {
        uint8_t tok = pos < keep ? p[pos] : ret_out[pos - keep];
        bool emit = pos + 1 >= keep;
        forward(m, pos, tok, emit);
        if (emit) {
            /* Greedy: the first maximum wins a tie. */
            size_t best = 0;
            for (size_t v = 1; v < m->d.vocab; v++) {
                if (m->logits[v] > m->logits[best]) {
                    best = v;
                }
            }
            ret_out[pos + 1 - keep] = (uint8_t)best;
        }
    }
    if (ret_logits) {
        memcpy(ret_logits, m->logits, m->d.vocab * sizeof(float));
    }
    /* The cache and activations are functions of the prompt. */
    OPENSSL_cleanse(m->state.ptr, m->state.len);
    return KS_OK;
}

void ks_model_free(struct ks_model *m)
{
    if (!m) {
        return;
    }
    ks_locked_free(&m->state);
    free(m->layers);
    free(m);
}
