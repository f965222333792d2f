/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <math.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "loader-ref/backend.h"
#include "loader-ref/locked_mem.h"
#include "loader-ref/model.h"
#include "loader-ref/weights_load.h"
#include "sealed.h"

/*
 * loader-ref: the weights file (dims, header, size), the documented PRNG
 * against published vectors, generation determinism, the kernels against
 * hand values, generation rules (truncation, threads), the CPU backend's call
 * order and the sealed-weights glue. The forward pass itself is checked
 * against an independent NumPy implementation by
 * tests/integration/model_numpy.sh.
 */

struct membuf {
    uint8_t *p;
    size_t len, cap;
};

static int mem_write(void *ctx, const void *buf, size_t len)
{
    struct membuf *m = ctx;
    if (m->len + len > m->cap) {
        return KS_ERR_TOO_LARGE;
    }
    memcpy(m->p + m->len, buf, len);
    m->len += len;
    return KS_OK;
}

/* Generate a weights file in memory (page-aligned, so floats are aligned). */
static struct membuf gen(const struct ks_model_dims *d, uint64_t seed)
{
    uint64_t size;
    struct membuf m = {0};
    assert_int_equal(ks_model_weights_size(d, &size), KS_OK);
    m.cap = (size_t)size;
    m.p = mmap(NULL, m.cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m.p != MAP_FAILED);
    assert_int_equal(ks_model_generate_weights(d, seed, mem_write, &m), KS_OK);
    assert_int_equal(m.len, size);
    return m;
}

static void unmap(struct membuf *m)
{
    munmap(m->p, m->cap);
}

static void test_rng_published_vectors(void **state)
{
    /* xoshiro256** from the state {1, 2, 3, 4}: the reference outputs
     * (Blackman & Vigna's C code, as used by rand_xoshiro's tests). */
    static const uint64_t want[10] = {11520u,
                                      0u,
                                      1509978240u,
                                      1215971899390074240u,
                                      1216172134540287360u,
                                      607988272756665600u,
                                      16172922978634559625u,
                                      8476171486693032832u,
                                      10595114339597558777u,
                                      2904607092377533576u};
    struct ks_model_rng r = {{1, 2, 3, 4}};
    for (int i = 0; i < 10; i++) {
        assert_true(ks_model_rng_next(&r) == want[i]);
    }
    /* SplitMix64 from 0 (Vigna's splitmix64.c): the seeding of the state. */
    ks_model_rng_seed(&r, 0);
    assert_true(r.s[0] == UINT64_C(0xe220a8397b1dcdaf));
    assert_true(r.s[1] == UINT64_C(0x6e789e6aa1b965f4));
    assert_true(r.s[2] == UINT64_C(0x06c45d188009454f));
    assert_true(r.s[3] == UINT64_C(0xf88bb8a8724c81ec));
}

static void test_weights_size(void **state)
{
    struct ks_model_dims d = KS_MODEL_DEFAULT_DIMS;
    uint64_t size;
    /* 256*64 + 128*64 + 2 * 49984 + 128 parameters (counted by hand). */
    assert_int_equal(ks_model_param_count(&d), 124672);
    assert_int_equal(ks_model_weights_size(&d, &size), KS_OK);
    assert_int_equal(size, 44 + 4 * 124672);
}

static void test_dims_validate(void **state)
{
    struct ks_model_dims ok = KS_MODEL_DEFAULT_DIMS, d;
    assert_int_equal(ks_model_dims_validate(&ok), KS_OK);
    assert_int_equal(ks_model_dims_validate(NULL), KS_ERR_MODEL_DIMS);
    d = ok;
    d.vocab = 255;
    assert_int_equal(ks_model_dims_validate(&d), KS_ERR_MODEL_DIMS);
    d = ok;
    d.n_heads = 3; /* 64 % 3 != 0 */
    assert_int_equal(ks_model_dims_validate(&d), KS_ERR_MODEL_DIMS);
    d = ok;
    d.d_model = 0;
    assert_int_equal(ks_model_dims_validate(&d), KS_ERR_MODEL_DIMS);
    d = ok;
    d.n_layers = 0;
    assert_int_equal(ks_model_dims_validate(&d), KS_ERR_MODEL_DIMS);
    d = ok;
    d.max_seq = KS_MODEL_SEQ_MAX + 1;
    assert_int_equal(ks_model_dims_validate(&d), KS_ERR_MODEL_DIMS);
    d = ok;
    d.d_model = UINT32_MAX;
    d.n_heads = 1;
    assert_int_equal(ks_model_dims_validate(&d), KS_ERR_MODEL_DIMS);
    /* Every dim at its cap: each fine alone, the total far above 64 GiB. */
    d = (struct ks_model_dims){256, KS_MODEL_D_MAX,  KS_MODEL_LAYERS_MAX,
                               1,   KS_MODEL_FF_MAX, KS_MODEL_SEQ_MAX};
    assert_int_equal(ks_model_dims_validate(&d), KS_ERR_MODEL_DIMS);
    /* Just under the size cap passes: D 4096, 64 layers is ~51 GiB. */
    d = (struct ks_model_dims){256, 4096, 64, 32, 16384, 2048};
    assert_int_equal(ks_model_dims_validate(&d), KS_OK);
    assert_false(ks_model_dims_equal(&d, &ok));
    assert_true(ks_model_dims_equal(&ok, &ok));
}

static void test_gen_determinism(void **state)
{
    struct ks_model_dims d = KS_MODEL_DEFAULT_DIMS;
    struct membuf a = gen(&d, 1), b = gen(&d, 1), c = gen(&d, 2);
    assert_memory_equal(a.p, b.p, a.len);
    /* Same header but for the seed, different weights. */
    assert_memory_equal(a.p, c.p, 36);
    assert_memory_not_equal(a.p + 36, c.p + 36, 8);
    assert_memory_not_equal(a.p + 44, c.p + 44, a.len - 44);
    size_t same = 0;
    const float *fa = (const float *)(a.p + 44), *fc = (const float *)(c.p + 44);
    for (size_t i = 0; i < (a.len - 44) / 4; i++) {
        same += fa[i] == fc[i];
    }
    assert_true(same < (a.len - 44) / 4 / 1000);
    unmap(&a);
    unmap(&b);
    unmap(&c);
}

static void test_gen_values(void **state)
{
    struct ks_model_dims d = KS_MODEL_DEFAULT_DIMS;
    struct membuf m = gen(&d, 77);
    const float *w = (const float *)(m.p + 44);
    struct ks_model_rng r;
    /* The header. */
    assert_memory_equal(m.p, "KSMODEL1\x01\x00\x00\x00\x00\x01\x00\x00\x40\x00\x00\x00", 20);
    /* tok_emb[0][0] from the first PRNG output. */
    ks_model_rng_seed(&r, 77);
    double u = (double)(ks_model_rng_next(&r) >> 40) * 0x1p-23 - 1.0;
    assert_true(w[0] == (float)(u * 0.02));
    /* Ranges per tensor kind: embeddings, ln1_g (gain), w_qkv (1/sqrt(64)). */
    size_t emb = (256 + 128) * 64;
    for (size_t i = 0; i < emb; i++) {
        assert_true(fabsf(w[i]) <= 0.02f);
    }
    for (size_t i = emb; i < emb + 64; i++) {
        assert_true(w[i] >= 0.9f && w[i] <= 1.1f);
    }
    float maxw = 0.0f;
    for (size_t i = emb + 128; i < emb + 128 + 64 * 192; i++) {
        maxw = fabsf(w[i]) > maxw ? fabsf(w[i]) : maxw;
    }
    assert_true(maxw <= 0.125f && maxw > 0.12f);
    unmap(&m);
}

static int fail_write(void *ctx, const void *buf, size_t len)
{
    int *calls = ctx;
    return ++*calls == 2 ? KS_ERR_IO : KS_OK;
}

static void test_gen_errors(void **state)
{
    struct ks_model_dims d = {256, 512, 2, 8, 2048, 64}; /* > 1 MiB: several writes */
    int calls = 0;
    assert_int_equal(ks_model_generate_weights(&d, 1, fail_write, &calls), KS_ERR_IO);
    assert_int_equal(calls, 2);
    d.n_heads = 7;
    assert_int_equal(ks_model_generate_weights(&d, 1, fail_write, &calls), KS_ERR_MODEL_DIMS);
    assert_int_equal(ks_model_generate_weights(&d, 1, NULL, NULL), KS_ERR_INVALID_ARG);
}

static void test_header_parse(void **state)
{
    struct ks_model_dims d = KS_MODEL_DEFAULT_DIMS, got;
    uint64_t size, seed = 0;
    uint8_t h[KS_MODEL_HEADER_LEN], t[KS_MODEL_HEADER_LEN];
    assert_int_equal(ks_model_weights_size(&d, &size), KS_OK);
    ks_model_header_encode(&d, UINT64_C(0x0123456789abcdef), h);
    assert_int_equal(ks_model_header_parse(h, sizeof(h), size, &got, &seed), KS_OK);
    assert_true(ks_model_dims_equal(&d, &got));
    assert_true(seed == UINT64_C(0x0123456789abcdef));
    /* Truncated or extended file; a header cut short. */
    assert_int_equal(ks_model_header_parse(h, sizeof(h), size - 1, &got, NULL), KS_ERR_MODEL_SIZE);
    assert_int_equal(ks_model_header_parse(h, sizeof(h), size + 4, &got, NULL), KS_ERR_MODEL_SIZE);
    assert_int_equal(ks_model_header_parse(h, 43, size, &got, NULL), KS_ERR_MODEL_SIZE);
    assert_int_equal(ks_model_header_parse(h, sizeof(h), 10, &got, NULL), KS_ERR_MODEL_SIZE);
    /* Magic, version. */
    memcpy(t, h, sizeof(t));
    t[7] = '2';
    assert_int_equal(ks_model_header_parse(t, sizeof(t), size, &got, NULL), KS_ERR_MODEL_MAGIC);
    memcpy(t, h, sizeof(t));
    t[8] = 2;
    assert_int_equal(ks_model_header_parse(t, sizeof(t), size, &got, NULL), KS_ERR_MODEL_VERSION);
    /* Wrong dims: heads that do not divide d_model; vocab; a d_model so
     * large the size overflows any cap. */
    memcpy(t, h, sizeof(t));
    t[24] = 5;
    assert_int_equal(ks_model_header_parse(t, sizeof(t), size, &got, NULL), KS_ERR_MODEL_DIMS);
    memcpy(t, h, sizeof(t));
    t[13] = 0; /* vocab 256 -> 0 */
    assert_int_equal(ks_model_header_parse(t, sizeof(t), size, &got, NULL), KS_ERR_MODEL_DIMS);
    memcpy(t, h, sizeof(t));
    memset(t + 16, 0xff, 4);
    memset(t + 24, 0x00, 4);
    t[24] = 1;
    assert_int_equal(ks_model_header_parse(t, sizeof(t), size, &got, NULL), KS_ERR_MODEL_DIMS);
    memcpy(t, h, sizeof(t));
    memset(t + 28, 0xff, 4); /* d_ff 2^32 - 1 */
    assert_int_equal(ks_model_header_parse(t, sizeof(t), size, &got, NULL), KS_ERR_MODEL_DIMS);
    /* Valid dims, but another model's: the file length no longer fits. */
    memcpy(t, h, sizeof(t));
    t[20] = 3;
    assert_int_equal(ks_model_header_parse(t, sizeof(t), size, &got, NULL), KS_ERR_MODEL_SIZE);
    assert_int_equal(ks_model_header_parse(NULL, 0, 0, &got, NULL), KS_ERR_INVALID_ARG);
}

static void test_layernorm(void **state)
{
    const float x[4] = {1, 2, 3, 4}, one[4] = {1, 1, 1, 1}, zero[4] = {0};
    const float g[4] = {2, 0.5f, -1, 1}, b[4] = {1, 0, 0.5f, -0.25f};
    float out[4];
    /* (x - 2.5) / sqrt(1.25 + 1e-5), biased variance. */
    const double want[4] = {-1.34163542, -0.44721181, 0.44721181, 1.34163542};
    const double want_gb[4] = {-1.68327084, -0.2236059, 0.05278819, 1.09163542};
    ks_model_layernorm(out, x, one, zero, 4);
    for (int i = 0; i < 4; i++) {
        assert_true(fabs((double)out[i] - want[i]) < 1e-6);
    }
    ks_model_layernorm(out, x, g, b, 4);
    for (int i = 0; i < 4; i++) {
        assert_true(fabs((double)out[i] - want_gb[i]) < 1e-6);
    }
    /* A constant vector: 0 / sqrt(eps), the bias. */
    const float c[4] = {3, 3, 3, 3};
    ks_model_layernorm(out, c, g, b, 4);
    for (int i = 0; i < 4; i++) {
        assert_true(out[i] == b[i]);
    }
}

static void test_gelu(void **state)
{
    /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), in double. */
    const double xs[6] = {0.0, 1.0, -1.0, 3.0, -3.0, 0.5};
    const double want[6] = {0.0,
                            0.8411919906082768,
                            -0.15880800939172324,
                            2.996362607918227,
                            -0.0036373920817729943,
                            0.34571400982514394};
    for (int i = 0; i < 6; i++) {
        double got = (double)ks_model_gelu((float)xs[i]);
        assert_true(fabs(got - want[i]) < 1e-6);
    }
}

static void test_softmax(void **state)
{
    float x[3] = {1, 2, 3};
    const double want[3] = {0.09003057, 0.24472847, 0.66524096};
    ks_model_softmax(x, 3);
    for (int i = 0; i < 3; i++) {
        assert_true(fabs((double)x[i] - want[i]) < 1e-7);
    }
    /* Large inputs: stable (max subtracted), no inf/nan. */
    float big[2] = {1000.0f, 1000.0f};
    ks_model_softmax(big, 2);
    assert_true(big[0] == 0.5f && big[1] == 0.5f);
    float one[1] = {-5.0f};
    ks_model_softmax(one, 1);
    assert_true(one[0] == 1.0f);
}

static void test_model_open_refusals(void **state)
{
    struct ks_model_dims d = KS_MODEL_DEFAULT_DIMS, other = d;
    struct membuf m = gen(&d, 3);
    struct ks_model *model = NULL;
    other.max_seq = 64;
    assert_int_equal(ks_model_open(m.p, m.len - 4, NULL, 1, false, &model), KS_ERR_MODEL_SIZE);
    assert_int_equal(ks_model_open(m.p, m.len, &other, 1, false, &model), KS_ERR_MODEL_MISMATCH);
    assert_int_equal(ks_model_open(m.p + 1, m.len - 1, NULL, 1, false, &model), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_model_open(m.p, m.len, NULL, 3, false, &model), KS_ERR_INVALID_ARG);
    assert_null(model);
    assert_int_equal(ks_model_open(m.p, m.len, &d, 1, false, &model), KS_OK);
    assert_true(ks_model_dims_equal(ks_model_dims(model), &d));
    ks_model_free(model);
    ks_model_free(NULL);
    unmap(&m);
}

static void test_generate_rules(void **state)
{
    struct ks_model_dims d = KS_MODEL_DEFAULT_DIMS;
    struct membuf m = gen(&d, 11);
    struct ks_model *model = NULL;
    uint8_t out1[16], out2[16], out3[16], prompt[300];
    float l1[256], l2[256];
    for (size_t i = 0; i < sizeof(prompt); i++) {
        prompt[i] = (uint8_t)(i * 7 + 1);
    }
    assert_int_equal(ks_model_open(m.p, m.len, NULL, 1, false, &model), KS_OK);
    assert_int_equal(ks_model_generate(model, prompt, 0, 4, out1, NULL), KS_ERR_MODEL_PROMPT);
    assert_int_equal(ks_model_generate(model, prompt, 5, 129, out1, NULL), KS_ERR_MODEL_PROMPT);
    assert_int_equal(ks_model_generate(model, NULL, 5, 4, out1, NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_model_generate(model, prompt, 5, 4, NULL, NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_model_generate(model, prompt, 5, 0, NULL, NULL), KS_OK);
    /* Deterministic, and the KV cache does not leak between calls. */
    assert_int_equal(ks_model_generate(model, prompt, 20, 16, out1, l1), KS_OK);
    assert_int_equal(ks_model_generate(model, prompt + 100, 30, 16, out3, NULL), KS_OK);
    assert_int_equal(ks_model_generate(model, prompt, 20, 16, out2, l2), KS_OK);
    assert_memory_equal(out1, out2, 16);
    assert_memory_equal(l1, l2, sizeof(l1));
    /* The logits returned are those that chose the last byte. */
    size_t best = 0;
    for (size_t v = 1; v < 256; v++) {
        best = l1[v] > l1[best] ? v : best;
    }
    assert_int_equal(best, out1[15]);
    /* A long prompt is cut to its last max_seq + 1 - n bytes: 300 bytes, n 8
     * -> the last 121, the same as giving those alone. */
    assert_int_equal(ks_model_generate(model, prompt, 300, 8, out1, l1), KS_OK);
    assert_int_equal(ks_model_generate(model, prompt + 179, 121, 8, out2, l2), KS_OK);
    assert_memory_equal(out1, out2, 8);
    assert_memory_equal(l1, l2, sizeof(l1));
    /* ... and not the same as keeping one byte more (positions shift). */
    assert_int_equal(ks_model_generate(model, prompt + 178, 122, 7, out3, l2), KS_OK);
    assert_memory_not_equal(l1, l2, sizeof(l1));
    /* n = max_seq keeps one prompt byte. */
    uint8_t full[128], full2[128];
    assert_int_equal(ks_model_generate(model, prompt, 50, 128, full, NULL), KS_OK);
    assert_int_equal(ks_model_generate(model, prompt + 49, 1, 128, full2, NULL), KS_OK);
    assert_memory_equal(full, full2, 128);
    ks_model_free(model);
    unmap(&m);
}

static void test_generate_threads(void **state)
{
    /* Wide enough that the products are split between two threads. */
    struct ks_model_dims d = {256, 256, 2, 8, 1024, 32};
    struct membuf m = gen(&d, 5);
    struct ks_model *m1 = NULL, *m2 = NULL;
    uint8_t o1[12], o2[12];
    float l1[256], l2[256];
    assert_int_equal(ks_model_open(m.p, m.len, &d, 1, false, &m1), KS_OK);
    assert_int_equal(ks_model_open(m.p, m.len, &d, 2, false, &m2), KS_OK);
    assert_int_equal(ks_model_generate(m1, (const uint8_t *)"threads", 7, 12, o1, l1), KS_OK);
    assert_int_equal(ks_model_generate(m2, (const uint8_t *)"threads", 7, 12, o2, l2), KS_OK);
    assert_memory_equal(o1, o2, sizeof(o1));
    assert_memory_equal(l1, l2, sizeof(l1));
    ks_model_free(m1);
    ks_model_free(m2);
    unmap(&m);
}

static void test_backend_cpu(void **state)
{
    struct ks_model_dims d = KS_MODEL_DEFAULT_DIMS, other = d;
    struct membuf m = gen(&d, 21);
    struct ks_backend *b = NULL;
    struct ks_model *model = NULL;
    struct ks_unseal_sink sink;
    uint8_t want[10], got[10];
    size_t got_len = 0;
    char note[256];

    assert_int_equal(ks_backend_open("cpu", &b, note, sizeof(note)), KS_OK);
    assert_string_equal(ks_backend_name(b), "cpu");
    assert_string_equal(note, "");
    assert_int_equal(ks_backend_generate(b, (const uint8_t *)"x", 1, 1, got, &got_len),
                     KS_ERR_BACKEND_STATE);
    assert_int_equal(ks_backend_weights_write(b, 0, m.p, 1), KS_ERR_BACKEND_STATE);
    assert_int_equal(ks_backend_weights_sink(b, 1, 0, &sink), KS_ERR_BACKEND_STATE);
    assert_int_equal(ks_backend_weights_finish(b, &d), KS_ERR_BACKEND_STATE);
    assert_int_equal(ks_backend_weights_alloc(b, 0, false), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_backend_weights_alloc(b, m.len, false), KS_OK);
    assert_int_equal(ks_backend_weights_alloc(b, m.len, false), KS_ERR_BACKEND_STATE);
    assert_int_equal(ks_backend_weights_write(b, m.len - 10, m.p, 11), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_backend_weights_write(b, SIZE_MAX, m.p, 2), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_backend_weights_sink(b, 0, 0, &sink), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_backend_weights_sink(b, 2, KS_SEAL_CHUNK_MIN - 1, &sink),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_backend_weights_sink(b, 2, (size_t)KS_SEAL_CHUNK_MAX + 1, &sink),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_backend_weights_sink(b, 2, 0, &sink), KS_OK);
    uint8_t *dst = NULL;
    assert_int_equal(sink.acquire(sink.ctx, 0, 0, m.len - 1, 2, &dst), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_backend_weights_write(b, 0, m.p, 100), KS_OK);
    assert_int_equal(ks_backend_weights_write(b, 100, m.p + 100, m.len - 100), KS_OK);
    assert_int_equal(ks_backend_generate(b, (const uint8_t *)"x", 1, 1, got, &got_len),
                     KS_ERR_BACKEND_STATE);
    assert_int_equal(ks_backend_weights_finish(b, &d), KS_OK);
    assert_int_equal(ks_backend_weights_write(b, 0, m.p, 1), KS_ERR_BACKEND_STATE);
    assert_int_equal(ks_backend_weights_finish(b, &d), KS_ERR_BACKEND_STATE);
    assert_int_equal(ks_backend_generate(b, (const uint8_t *)"", 0, 1, got, &got_len),
                     KS_ERR_MODEL_PROMPT);
    assert_int_equal(ks_backend_generate(b, (const uint8_t *)"backend", 7, 10, got, &got_len),
                     KS_OK);
    assert_int_equal(got_len, 10);
    assert_int_equal(ks_model_open(m.p, m.len, &d, 1, false, &model), KS_OK);
    assert_int_equal(ks_model_generate(model, (const uint8_t *)"backend", 7, 10, want, NULL),
                     KS_OK);
    assert_memory_equal(got, want, 10);
    ks_model_free(model);
    ks_backend_close(b);
    ks_backend_close(NULL);

    /* finish with other dims: refused, and the backend stays unusable. */
    b = NULL;
    assert_int_equal(ks_backend_open("cpu", &b, NULL, 0), KS_OK);
    assert_int_equal(ks_backend_weights_alloc(b, m.len, false), KS_OK);
    assert_int_equal(ks_backend_weights_write(b, 0, m.p, m.len), KS_OK);
    other.max_seq = 64;
    assert_int_equal(ks_backend_weights_finish(b, &other), KS_ERR_MODEL_SIZE);
    assert_int_equal(ks_backend_generate(b, (const uint8_t *)"x", 1, 1, got, &got_len),
                     KS_ERR_BACKEND_STATE);
    ks_backend_close(b);
    /* Garbage in the buffer: the header check refuses it. */
    b = NULL;
    assert_int_equal(ks_backend_open("cpu", &b, NULL, 0), KS_OK);
    assert_int_equal(ks_backend_weights_alloc(b, m.len, false), KS_OK);
    assert_int_equal(ks_backend_weights_finish(b, &d), KS_ERR_MODEL_MAGIC);
    ks_backend_close(b);
    unmap(&m);
}

static void test_backend_open(void **state)
{
    struct ks_backend *b = NULL;
    char note[256];
    assert_int_equal(ks_backend_open("tpu", &b, note, sizeof(note)), KS_ERR_BACKEND_UNKNOWN);
    assert_int_equal(ks_backend_open(NULL, &b, note, sizeof(note)), KS_ERR_INVALID_ARG);
    /* Where CUDA cannot be used (a build without it, or no GPU or driver,
     * as on CI machines) cuda fails with a reason and auto falls back to the
     * CPU saying why; on a machine with a usable GPU both give cuda. */
    int rc = ks_backend_open("cuda", &b, note, sizeof(note));
    if (rc == KS_OK) {
        assert_string_equal(ks_backend_name(b), "cuda");
        ks_backend_close(b);
        b = NULL;
        assert_int_equal(ks_backend_open("auto", &b, note, sizeof(note)), KS_OK);
        assert_string_equal(ks_backend_name(b), "cuda");
    } else {
        assert_int_equal(rc, KS_ERR_BACKEND_UNAVAILABLE);
        assert_non_null(strstr(note, "no CUDA support"));
        assert_null(b);
        assert_int_equal(ks_backend_open("auto", &b, note, sizeof(note)), KS_OK);
        assert_string_equal(ks_backend_name(b), "cpu");
        assert_non_null(strstr(note, "using the CPU backend"));
    }
    ks_backend_close(b);
}

/* AddressSanitizer replaces mlock with a no-op that succeeds: the refusal
 * cannot be seen in a sanitizer build. */
#if defined(__SANITIZE_ADDRESS__)
#define MLOCK_IS_REAL false
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MLOCK_IS_REAL false
#endif
#endif
#ifndef MLOCK_IS_REAL
#define MLOCK_IS_REAL true
#endif

/* ks_locked_alloc fails closed without the right to lock: in a child that
 * drops CAP_IPC_LOCK (if it had it) under a 64 KiB RLIMIT_MEMLOCK. */
static void test_locked_mem(void **state)
{
    struct ks_locked m = {0};
    assert_int_equal(ks_locked_alloc(0, false, false, &m), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_locked_alloc(5000, false, false, &m), KS_OK);
    assert_true(m.locked);
    assert_int_equal(m.len, 5000);
    assert_true(m.mapped >= 5000 && m.mapped % 4096 == 0);
    ((uint8_t *)m.ptr)[4999] = 1;
    ks_locked_free(&m);
    assert_null(m.ptr);
    ks_locked_free(&m);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct data[2];
        struct rlimit rl = {64 * 1024, 64 * 1024};
        if (syscall(SYS_capget, &hdr, data) == 0) {
            data[0].effective &= ~(1u << CAP_IPC_LOCK);
            data[0].permitted &= ~(1u << CAP_IPC_LOCK);
            if (syscall(SYS_capset, &hdr, data) != 0) {
                _exit(10);
            }
        }
        if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0) {
            _exit(11);
        }
        struct ks_locked big = {0};
        if (!MLOCK_IS_REAL) {
            _exit(ks_locked_alloc(4u << 20, true, false, &big) == KS_OK ? 0 : 15);
        }
        if (ks_locked_alloc(4u << 20, false, false, &big) != KS_ERR_BACKEND_MLOCK) {
            _exit(12);
        }
        if (ks_locked_alloc(4u << 20, true, false, &big) != KS_OK || big.locked) {
            _exit(13);
        }
        ks_locked_free(&big);
        /* The backend reports it the same way. */
        struct ks_backend *b = NULL;
        if (ks_backend_open("cpu", &b, NULL, 0) != KS_OK ||
            ks_backend_weights_alloc(b, 4u << 20, false) != KS_ERR_BACKEND_MLOCK) {
            _exit(14);
        }
        ks_backend_close(b);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* The sealed-weights glue: seal a generated model, load it into the CPU
 * backend through the unseal sink, and refuse what does not match. */
static int sealed_fd(const uint8_t *plain, size_t len, const uint8_t *key)
{
    int in = memfd_create("plain", MFD_CLOEXEC), out = memfd_create("sealed", MFD_CLOEXEC);
    struct ks_seal_params p = {.key_name = "weights", .chunk_size = 64 * 1024};
    assert_int_equal(write(in, plain, len), (ssize_t)len);
    assert_int_equal(ks_seal_fd(in, out, &p, key, NULL), KS_OK);
    close(in);
    return out;
}

static int load_sealed(int fd, const uint8_t *key, const struct ks_weights_load_opts *o,
                       struct ks_backend **ret_b, struct ks_weights_info *info)
{
    struct ks_unseal *u = NULL;
    struct ks_backend *b = NULL;
    assert_int_equal(ks_unseal_open(fd, "weights", 1, &u), KS_OK);
    assert_int_equal(ks_backend_open("cpu", &b, NULL, 0), KS_OK);
    int r = ks_weights_load_sealed(b, u, key, o, info);
    ks_unseal_free(u);
    if (r == KS_OK && ret_b) {
        *ret_b = b;
    } else {
        ks_backend_close(b);
    }
    return r;
}

static void test_weights_load_sealed(void **state)
{
    struct ks_model_dims d = {256, 96, 2, 4, 200, 48}, other = KS_MODEL_DEFAULT_DIMS;
    struct membuf m = gen(&d, 9);
    uint8_t key[32], bad_key[32], sha[32], got[8], want[8];
    struct ks_weights_info info;
    struct ks_backend *b = NULL;
    struct ks_model *model = NULL;
    size_t n;
    memset(key, 0x42, sizeof(key));
    memcpy(bad_key, key, sizeof(key));
    bad_key[0] ^= 1;
    assert_true(EVP_Digest(m.p, m.len, sha, NULL, EVP_sha256(), NULL));
    int fd = sealed_fd(m.p, m.len, key);

    struct ks_weights_load_opts o = {.dims = &d, .weights_sha256 = sha, .threads = 2};
    assert_int_equal(load_sealed(fd, key, &o, &b, &info), KS_OK);
    assert_true(ks_model_dims_equal(&info.dims, &d));
    assert_int_equal(info.seed, 9);
    assert_int_equal(info.len, m.len);
    assert_memory_equal(info.sha256, sha, 32);
    assert_int_equal(ks_backend_generate(b, (const uint8_t *)"sealed", 6, 8, got, &n), KS_OK);
    assert_int_equal(ks_model_open(m.p, m.len, &d, 1, false, &model), KS_OK);
    assert_int_equal(ks_model_generate(model, (const uint8_t *)"sealed", 6, 8, want, NULL), KS_OK);
    assert_memory_equal(got, want, 8);
    ks_model_free(model);
    ks_backend_close(b);

    /* No expectations: dims from the file. */
    struct ks_weights_load_opts any = {0};
    assert_int_equal(load_sealed(fd, key, &any, NULL, &info), KS_OK);
    assert_true(ks_model_dims_equal(&info.dims, &d));

    /* Refusals. */
    assert_int_equal(load_sealed(fd, bad_key, &any, NULL, &info), KS_ERR_SEAL_AUTH);
    struct ks_weights_load_opts wrong_dims = {.dims = &other};
    assert_int_equal(load_sealed(fd, key, &wrong_dims, NULL, &info), KS_ERR_MODEL_MISMATCH);
    uint8_t bad_sha[32];
    memcpy(bad_sha, sha, 32);
    bad_sha[31] ^= 1;
    struct ks_weights_load_opts wrong_sha = {.weights_sha256 = bad_sha};
    assert_int_equal(load_sealed(fd, key, &wrong_sha, NULL, &info), KS_ERR_SEAL_DIGEST);
    close(fd);

    /* A sealed plaintext that is no weights file. */
    memset(m.p, 'A', 100);
    fd = sealed_fd(m.p, m.len, key);
    assert_int_equal(load_sealed(fd, key, &any, NULL, &info), KS_ERR_MODEL_MAGIC);
    close(fd);
    fd = sealed_fd(m.p, 20, key);
    assert_int_equal(load_sealed(fd, key, &any, NULL, &info), KS_ERR_MODEL_SIZE);
    close(fd);
    unmap(&m);
}

static void test_weights_load_plain(void **state)
{
    struct ks_model_dims d = KS_MODEL_DEFAULT_DIMS, other = d;
    struct membuf m = gen(&d, 4);
    uint8_t sha[32], bad[32];
    char path[64];
    struct ks_weights_info info;
    struct ks_backend *b = NULL;
    int fd = memfd_create("w", MFD_CLOEXEC);
    assert_int_equal(write(fd, m.p, m.len), (ssize_t)m.len);
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    assert_true(EVP_Digest(m.p, m.len, sha, NULL, EVP_sha256(), NULL));
    memcpy(bad, sha, 32);
    bad[0] ^= 1;
    struct ks_weights_load_opts o = {.weights_sha256 = sha};
    assert_int_equal(ks_backend_open("cpu", &b, NULL, 0), KS_OK);
    assert_int_equal(ks_weights_load_plain(b, path, &o, &info), KS_OK);
    assert_memory_equal(info.sha256, sha, 32);
    assert_int_equal(info.seed, 4);
    ks_backend_close(b);
    o.weights_sha256 = bad;
    assert_int_equal(ks_backend_open("cpu", &b, NULL, 0), KS_OK);
    assert_int_equal(ks_weights_load_plain(b, path, &o, &info), KS_ERR_SEAL_DIGEST);
    ks_backend_close(b);
    other.n_layers = 1;
    o.weights_sha256 = NULL;
    o.dims = &other;
    assert_int_equal(ks_backend_open("cpu", &b, NULL, 0), KS_OK);
    assert_int_equal(ks_weights_load_plain(b, path, &o, &info), KS_ERR_MODEL_MISMATCH);
    assert_int_equal(ks_weights_load_plain(b, "/nonexistent", &o, &info), KS_ERR_IO);
    assert_int_equal(ks_weights_load_plain(b, "/proc/self", &o, &info), KS_ERR_SEAL_NOT_REGULAR);
    ks_backend_close(b);
    close(fd);
    unmap(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_published_vectors),
        cmocka_unit_test(test_weights_size),
        cmocka_unit_test(test_dims_validate),
        cmocka_unit_test(test_gen_determinism),
        cmocka_unit_test(test_gen_values),
        cmocka_unit_test(test_gen_errors),
        cmocka_unit_test(test_header_parse),
        cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_gelu),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_model_open_refusals),
        cmocka_unit_test(test_generate_rules),
        cmocka_unit_test(test_generate_threads),
        cmocka_unit_test(test_backend_cpu),
        cmocka_unit_test(test_backend_open),
        cmocka_unit_test(test_locked_mem),
        cmocka_unit_test(test_weights_load_sealed),
        cmocka_unit_test(test_weights_load_plain),
    };
    if (ks_seal_gcrypt_init() != KS_OK) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
