/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "model_internal.h"

/* The weights file: dims, header, the documented PRNG and the streamed
 * generation of a model from a seed (model.h). */

int ks_model_dims_validate(const struct ks_model_dims *d)
{
    if (!d || d->vocab != KS_MODEL_VOCAB || d->d_model == 0 || d->d_model > KS_MODEL_D_MAX ||
        d->n_layers == 0 || d->n_layers > KS_MODEL_LAYERS_MAX || d->n_heads == 0 ||
        d->n_heads > KS_MODEL_HEADS_MAX || d->d_model % d->n_heads != 0 || d->d_ff == 0 ||
        d->d_ff > KS_MODEL_FF_MAX || d->max_seq == 0 || d->max_seq > KS_MODEL_SEQ_MAX) {
        return KS_ERR_MODEL_DIMS;
    }
    /* With the caps above the count is below 2^45: no overflow. */
    if (ks_model_param_count(d) * sizeof(float) + KS_MODEL_HEADER_LEN > KS_MODEL_BYTES_MAX) {
        return KS_ERR_MODEL_DIMS;
    }
    return KS_OK;
}

uint64_t ks_model_param_count(const struct ks_model_dims *d)
{
    uint64_t D = d->d_model, F = d->d_ff;
    uint64_t per_layer = 2 * D + D * 3 * D + 3 * D + D * D + D + 2 * D + D * F + F + F * D + D;
    return (uint64_t)d->vocab * D + (uint64_t)d->max_seq * D + d->n_layers * per_layer + 2 * D;
}

int ks_model_weights_size(const struct ks_model_dims *d, uint64_t *ret_bytes)
{
    int r = ks_model_dims_validate(d);
    if (r < 0) {
        return r;
    }
    *ret_bytes = KS_MODEL_HEADER_LEN + ks_model_param_count(d) * sizeof(float);
    return KS_OK;
}

bool ks_model_dims_equal(const struct ks_model_dims *a, const struct ks_model_dims *b)
{
    return a->vocab == b->vocab && a->d_model == b->d_model && a->n_layers == b->n_layers &&
           a->n_heads == b->n_heads && a->d_ff == b->d_ff && a->max_seq == b->max_seq;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void ks_model_header_encode(const struct ks_model_dims *d, uint64_t seed,
                            uint8_t out[KS_MODEL_HEADER_LEN])
{
    const uint32_t v[7] = {
        KS_MODEL_FILE_VERSION, d->vocab, d->d_model, d->n_layers, d->n_heads, d->d_ff, d->max_seq};
    memcpy(out, KS_MODEL_MAGIC, 8);
    for (int i = 0; i < 7; i++) {
        put_le32(out + 8 + 4 * i, v[i]);
    }
    put_le32(out + 36, (uint32_t)seed);
    put_le32(out + 40, (uint32_t)(seed >> 32));
}

int ks_model_header_parse(const uint8_t *buf, size_t len, uint64_t file_len,
                          struct ks_model_dims *ret_dims, uint64_t *ret_seed)
{
    struct ks_model_dims d;
    uint64_t want;
    int r;
    if (!buf || !ret_dims) {
        return KS_ERR_INVALID_ARG;
    }
    if (len < KS_MODEL_HEADER_LEN || file_len < KS_MODEL_HEADER_LEN) {
        return KS_ERR_MODEL_SIZE;
    }
    if (memcmp(buf, KS_MODEL_MAGIC, 8) != 0) {
        return KS_ERR_MODEL_MAGIC;
    }
    if (get_le32(buf + 8) != KS_MODEL_FILE_VERSION) {
        return KS_ERR_MODEL_VERSION;
    }
    d.vocab = get_le32(buf + 12);
    d.d_model = get_le32(buf + 16);
    d.n_layers = get_le32(buf + 20);
    d.n_heads = get_le32(buf + 24);
    d.d_ff = get_le32(buf + 28);
    d.max_seq = get_le32(buf + 32);
    if ((r = ks_model_weights_size(&d, &want)) < 0) {
        return r;
    }
    if (file_len != want) {
        return KS_ERR_MODEL_SIZE;
    }
    *ret_dims = d;
    if (ret_seed) {
        *ret_seed = (uint64_t)get_le32(buf + 36) | (uint64_t)get_le32(buf + 40) << 32;
    }
    return KS_OK;
}

/* SplitMix64 (Steele, Lea, Flood 2014; Vigna's reference code). */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

void ks_model_rng_seed(struct ks_model_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        r->s[i] = splitmix64(&seed);
    }
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** 1.0 (Blackman, Vigna; reference code at prng.di.unimi.it). */
uint64_t ks_model_rng_next(struct ks_model_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

void ks_model_tensors(const struct ks_model_dims *d,
                      void (*fn)(void *ctx, enum ks_model_tensor_kind kind, uint64_t count,
                                 uint32_t rows),
                      void *ctx)
{
    uint32_t D = d->d_model, F = d->d_ff;
    fn(ctx, KS_TENSOR_EMB, (uint64_t)d->vocab * D, d->vocab);
    fn(ctx, KS_TENSOR_EMB, (uint64_t)d->max_seq * D, d->max_seq);
    for (uint32_t l = 0; l < d->n_layers; l++) {
        fn(ctx, KS_TENSOR_GAIN, D, 1);                     /* ln1_g */
        fn(ctx, KS_TENSOR_BIAS, D, 1);                     /* ln1_b */
        fn(ctx, KS_TENSOR_MATRIX, (uint64_t)D * 3 * D, D); /* w_qkv */
        fn(ctx, KS_TENSOR_BIAS, 3 * (uint64_t)D, 1);       /* b_qkv */
        fn(ctx, KS_TENSOR_MATRIX, (uint64_t)D * D, D);     /* w_o */
        fn(ctx, KS_TENSOR_BIAS, D, 1);                     /* b_o */
        fn(ctx, KS_TENSOR_GAIN, D, 1);                     /* ln2_g */
        fn(ctx, KS_TENSOR_BIAS, D, 1);                     /* ln2_b */
        fn(ctx, KS_TENSOR_MATRIX, (uint64_t)D * F, D);     /* w_1 */
        fn(ctx, KS_TENSOR_BIAS, F, 1);                     /* b_1 */
        fn(ctx, KS_TENSOR_MATRIX, (uint64_t)F * D, F);     /* w_2 */
        fn(ctx, KS_TENSOR_BIAS, D, 1);                     /* b_2 */
    }
    fn(ctx, KS_TENSOR_GAIN, D, 1); /* lnf_g */
    fn(ctx, KS_TENSOR_BIAS, D, 1); /* lnf_b */
}

/* Streamed generation: 256 Ki floats (1 MiB) at a time. */
#define GEN_FLOATS (256 * 1024)

struct gen {
    struct ks_model_rng rng;
    int (*write)(void *ctx, const void *buf, size_t len);
    void *ctx;
    uint8_t *buf;
    size_t used; /* bytes in buf */
    int r;
};

static int gen_flush(struct gen *g)
{
    if (g->used > 0 && g->r == KS_OK) {
        g->r = g->write(g->ctx, g->buf, g->used);
    }
    g->used = 0;
    return g->r;
}

static void gen_tensor(void *ctx, enum ks_model_tensor_kind kind, uint64_t count, uint32_t rows)
{
    struct gen *g = ctx;
    double a = 0.02;
    if (kind == KS_TENSOR_MATRIX) {
        a = 1.0 / sqrt((double)rows);
    } else if (kind == KS_TENSOR_GAIN) {
        a = 0.1;
    }
    for (uint64_t i = 0; i < count && g->r == KS_OK; i++) {
        double u = (double)(ks_model_rng_next(&g->rng) >> 40) * 0x1p-23 - 1.0;
        float v = kind == KS_TENSOR_GAIN ? (float)(1.0 + u * a) : (float)(u * a);
        uint32_t bits;
        memcpy(&bits, &v, sizeof(bits));
        put_le32(g->buf + g->used, bits);
        g->used += 4;
        if (g->used == GEN_FLOATS * 4) {
            (void)gen_flush(g);
        }
    }
}

int ks_model_generate_weights(const struct ks_model_dims *d, uint64_t seed,
                              int (*write)(void *ctx, const void *buf, size_t len), void *ctx)
{
    struct gen g = {.write = write, .ctx = ctx, .r = KS_OK};
    int r;
    if (!write || (r = ks_model_dims_validate(d)) < 0) {
        return !write ? KS_ERR_INVALID_ARG : r;
    }
    g.buf = malloc(GEN_FLOATS * 4);
    if (!g.buf) {
        return KS_ERR_NOMEM;
    }
    ks_model_rng_seed(&g.rng, seed);
    ks_model_header_encode(d, seed, g.buf);
    g.used = KS_MODEL_HEADER_LEN;
    ks_model_tensors(d, gen_tensor, &g);
    r = gen_flush(&g);
    free(g.buf);
    return r;
}
