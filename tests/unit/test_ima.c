/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include <openssl/evp.h>

#include "encoding.h"
#include "ima.h"

/*
 * Oracles: the PCR 10 values of the rust-keylime log are rust-keylime's
 * (tests/data/README.md); keylime's logs carry template hashes computed by
 * the kernel or keylime, which the parser must reproduce (template hash ==
 * H(template data)), or flag (bad_signatures). Binary layouts and the legacy
 * "ima" template hash are written out here byte by byte from Linux
 * ima_fs.c / ima_crypto.c, independently of lib/ima.
 */

#define BIG "ima/rust-keylime/ascii_runtime_measurements"
#define BIG_COUNT 826
#define BIG_SHA1 "82231c67a69da98dc5b3aa10f6343d33109225fc"
#define BIG_SHA256 "c4a065637fc6a7c55f2811dd06cb45dd037133be2b3dc5c3e6fbe6bf061db724"

/* rust-keylime ima_log.txt: one ima-ng entry with a sha256 file digest. */
#define TH "919d666632e75b1895ee4a6653b8e6c20842bc66"
#define DG "sha256:fec395eacfbd4d9bfd3ddce68ccf0792159494ff7aae89c556f7f2796046f871"
#define ONE_LINE "10 " TH " ima-ng " DG " boot_aggregate\n"
#define Z40 "0000000000000000000000000000000000000000"

static int parse_buf(const void *buf, size_t len, const struct ks_ima_parse_opts *opts,
                     struct ks_ima_log **ret, size_t *pos)
{
    *pos = 0;
    return ks_ima_log_parse(buf, len, opts, ret, pos);
}

static int parse_str(const char *s, struct ks_ima_log **ret, size_t *pos)
{
    return parse_buf(s, strlen(s), NULL, ret, pos);
}

static struct ks_ima_log *parse_file(const char *rel, const struct ks_ima_parse_opts *opts)
{
    size_t len, pos;
    uint8_t *buf = unit_read(rel, &len);
    struct ks_ima_log *log = NULL;
    int r = parse_buf(buf, len, opts, &log, &pos);
    free(buf);
    if (r != KS_OK) {
        fail_msg("%s: %s at %zu", rel, ks_strerror(r), pos);
    }
    return log;
}

static void assert_hex(const uint8_t *v, size_t n, const char *hex)
{
    char buf[2 * KS_MAX_DIGEST + 1];
    assert_true(n <= KS_MAX_DIGEST);
    ks_hex_encode(v, n, buf);
    assert_string_equal(buf, hex);
}

/* PCR value of a replay of the first `count` entries. */
static void replay_pcr(const struct ks_ima_log *log, size_t count, uint16_t bank, unsigned pcr,
                       uint8_t *out)
{
    struct ks_pcr_set set;
    const uint8_t *v;
    ks_pcr_set_init(&set);
    assert_int_equal(ks_ima_log_replay(log, count, bank, &set), KS_OK);
    assert_int_equal(ks_pcr_set_get(&set, bank, pcr, &v), KS_OK);
    memcpy(out, v, ks_alg_digest_size(bank));
}

static void assert_replay(const struct ks_ima_log *log, uint16_t bank, const char *hex)
{
    uint8_t v[KS_MAX_DIGEST];
    replay_pcr(log, ks_ima_log_count(log), bank, KS_IMA_PCR, v);
    assert_hex(v, ks_alg_digest_size(bank), hex);
}

static void md(const char *name, const void *a, size_t alen, const void *b, size_t blen,
               uint8_t *out)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_non_null(ctx);
    assert_int_equal(EVP_DigestInit_ex(ctx, EVP_get_digestbyname(name), NULL), 1);
    assert_int_equal(EVP_DigestUpdate(ctx, a, alen), 1);
    assert_int_equal(EVP_DigestUpdate(ctx, b, blen), 1);
    assert_int_equal(EVP_DigestFinal_ex(ctx, out, NULL), 1);
    EVP_MD_CTX_free(ctx);
}

/* ---- test-local binary writer (Linux ima_measurements_show()) ---------- */

struct wbuf {
    uint8_t b[4 * 65536 + 4096];
    size_t n;
};

static void w_bytes(struct wbuf *w, const void *p, size_t n)
{
    assert_true(w->n + n <= sizeof(w->b));
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void w_u32(struct wbuf *w, uint32_t v)
{
    uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    w_bytes(w, le, 4);
}

static void w_field(struct wbuf *w, const void *p, size_t n)
{
    w_u32(w, (uint32_t)n);
    w_bytes(w, p, n);
}

/* ---- tests --------------------------------------------------------------- */

static void test_hash_table(void **state)
{
    static const struct {
        const char *name;
        enum ks_ima_hash alg;
        size_t size;
        const char *canonical;
    } v[] = {
        {"sha1", KS_IMA_HASH_SHA1, 20, "sha1"},
        {"sha256", KS_IMA_HASH_SHA256, 32, "sha256"},
        {"sha384", KS_IMA_HASH_SHA384, 48, "sha384"},
        {"sha512", KS_IMA_HASH_SHA512, 64, "sha512"},
        {"md5", KS_IMA_HASH_MD5, 16, "md5"},
        {"sm3_256", KS_IMA_HASH_SM3_256, 32, "sm3_256"},
        {"sm3", KS_IMA_HASH_SM3_256, 32, "sm3_256"},
        {"sm3-256", KS_IMA_HASH_SM3_256, 32, "sm3_256"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        enum ks_ima_hash alg = 0;
        assert_int_equal(ks_ima_hash_from_name(v[i].name, &alg), KS_OK);
        assert_int_equal(alg, v[i].alg);
        assert_int_equal(ks_ima_hash_size(alg), v[i].size);
        assert_string_equal(ks_ima_hash_name(alg), v[i].canonical);
    }
    enum ks_ima_hash alg = KS_IMA_HASH_SHA1;
    assert_int_equal(ks_ima_hash_from_name("unknown", &alg), KS_ERR_IMA_DIGEST_ALG);
    assert_int_equal(ks_ima_hash_from_name("SHA256", &alg), KS_ERR_IMA_DIGEST_ALG);
    assert_int_equal(ks_ima_hash_from_name("", &alg), KS_ERR_IMA_DIGEST_ALG);
    assert_int_equal(alg, KS_IMA_HASH_SHA1);
    assert_int_equal(ks_ima_hash_from_name(NULL, &alg), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_ima_hash_from_name("sha1", NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_ima_hash_size(0), 0);
    assert_int_equal(ks_ima_hash_size(99), 0);
    assert_null(ks_ima_hash_name(0));
}

static void test_detect_format(void **state)
{
    static const uint8_t bin[] = {0x0a, 0, 0, 0, 0x12};
    assert_int_equal(ks_ima_detect_format(bin, sizeof(bin)), KS_IMA_FORMAT_BINARY);
    assert_int_equal(ks_ima_detect_format((const uint8_t *)"10 ab", 5), KS_IMA_FORMAT_ASCII);
    assert_int_equal(ks_ima_detect_format((const uint8_t *)" 9", 2), KS_IMA_FORMAT_ASCII);
    assert_int_equal(ks_ima_detect_format((const uint8_t *)"", 0), KS_IMA_FORMAT_ASCII);
    assert_int_equal(ks_ima_detect_format(NULL, 0), KS_IMA_FORMAT_ASCII);
    /* a NUL after the first byte is the ASCII parser's to reject */
    assert_int_equal(ks_ima_detect_format((const uint8_t *)"10 a\0", 5), KS_IMA_FORMAT_ASCII);
    assert_int_equal(ks_ima_detect_format((const uint8_t *)"\n", 1), KS_IMA_FORMAT_BINARY);
    assert_int_equal(ks_ima_detect_format((const uint8_t *)"this", 4), KS_IMA_FORMAT_ASCII);
    /* a binary list cut after its first byte; a corrupted PCR index */
    assert_int_equal(ks_ima_detect_format(bin, 1), KS_IMA_FORMAT_BINARY);
    assert_int_equal(ks_ima_detect_format((const uint8_t *)"\xff\xff", 2), KS_IMA_FORMAT_BINARY);
}

static void test_big_log_ascii(void **state)
{
    struct ks_ima_log *log = parse_file(BIG, NULL);
    assert_int_equal(ks_ima_log_count(log), BIG_COUNT);
    assert_int_equal(ks_ima_log_format(log), KS_IMA_FORMAT_ASCII);
    assert_int_equal(ks_ima_log_template_alg(log), KS_IMA_HASH_SHA1);
    assert_int_equal(ks_ima_log_bad_template_hashes(log), 0);
    assert_replay(log, KS_ALG_SHA1, BIG_SHA1);
    assert_replay(log, KS_ALG_SHA256, BIG_SHA256);

    /* first two entries, field by field (the log's first lines) */
    const struct ks_ima_entry *e = ks_ima_log_entry(log, 0);
    assert_non_null(e);
    assert_int_equal(e->pcr, 10);
    assert_hex(e->template_hash, e->template_hash_len, "1d8d532d463c9f8c205d0df7787669a85f93e260");
    assert_int_equal(e->template_id, KS_IMA_TEMPLATE_IMA_NG);
    assert_string_equal(e->template_name, "ima-ng");
    assert_int_equal(e->digest_alg, KS_IMA_HASH_SHA1);
    assert_hex(e->digest, e->digest_len, Z40);
    assert_string_equal(e->path, "boot_aggregate");
    assert_int_equal(e->path_len, 14);
    assert_null(e->sig);
    assert_null(e->buf);
    assert_false(e->violation);
    assert_false(e->template_hash_mismatch);
    /* ima-ng data: u32 len || "sha1:\0" || digest || u32 len || path "\0" */
    assert_int_equal(e->data_len, 4 + 6 + 20 + 4 + 15);
    assert_memory_equal(e->data, "\x1a\0\0\0sha1:\0", 10);
    assert_memory_equal(e->data + 30, "\x0f\0\0\0boot_aggregate\0", 19);
    e = ks_ima_log_entry(log, 1);
    assert_string_equal(e->path, "/init");
    assert_hex(e->digest, e->digest_len, "19f13b42c2745066347e76454788c0fe083643f3");
    assert_null(ks_ima_log_entry(log, BIG_COUNT));
    ks_ima_log_free(log);
}

static void assert_same_entries(const struct ks_ima_log *a, const struct ks_ima_log *b)
{
    assert_int_equal(ks_ima_log_count(a), ks_ima_log_count(b));
    assert_int_equal(ks_ima_log_bad_template_hashes(a), ks_ima_log_bad_template_hashes(b));
    for (size_t i = 0; i < ks_ima_log_count(a); i++) {
        const struct ks_ima_entry *x = ks_ima_log_entry(a, i);
        const struct ks_ima_entry *y = ks_ima_log_entry(b, i);
        assert_int_equal(x->pcr, y->pcr);
        assert_int_equal(x->template_hash_len, y->template_hash_len);
        assert_memory_equal(x->template_hash, y->template_hash, x->template_hash_len);
        assert_int_equal(x->template_id, y->template_id);
        assert_string_equal(x->template_name, y->template_name);
        assert_int_equal(x->digest_alg, y->digest_alg);
        assert_int_equal(x->digest_len, y->digest_len);
        assert_memory_equal(x->digest, y->digest, x->digest_len);
        assert_int_equal(x->path_len, y->path_len);
        assert_string_equal(x->path, y->path);
        assert_int_equal(x->sig_len, y->sig_len);
        assert_int_equal(x->sig == NULL, y->sig == NULL);
        if (x->sig_len) {
            assert_memory_equal(x->sig, y->sig, x->sig_len);
        }
        assert_int_equal(x->buf_len, y->buf_len);
        assert_int_equal(x->buf == NULL, y->buf == NULL);
        if (x->buf_len) {
            assert_memory_equal(x->buf, y->buf, x->buf_len);
        }
        assert_int_equal(x->data_len, y->data_len);
        assert_memory_equal(x->data, y->data, x->data_len);
        assert_int_equal(x->violation, y->violation);
        assert_int_equal(x->template_hash_mismatch, y->template_hash_mismatch);
    }
}

/* Serialise, parse back as binary, compare. */
static struct ks_ima_log *round_trip(const struct ks_ima_log *log,
                                     const struct ks_ima_parse_opts *opts)
{
    uint8_t *bin = NULL;
    size_t len = 0, pos;
    struct ks_ima_log *back = NULL;
    assert_int_equal(ks_ima_log_to_binary(log, &bin, &len), KS_OK);
    assert_int_equal(ks_ima_detect_format(bin, len), KS_IMA_FORMAT_BINARY);
    assert_int_equal(parse_buf(bin, len, opts, &back, &pos), KS_OK);
    free(bin);
    assert_int_equal(ks_ima_log_format(back), KS_IMA_FORMAT_BINARY);
    assert_same_entries(log, back);
    return back;
}

static void test_big_log_binary(void **state)
{
    struct ks_ima_log *log = parse_file(BIG, NULL);
    struct ks_ima_log *back = round_trip(log, NULL);
    assert_replay(back, KS_ALG_SHA1, BIG_SHA1);
    assert_replay(back, KS_ALG_SHA256, BIG_SHA256);
    uint8_t a[KS_MAX_DIGEST], b[KS_MAX_DIGEST];
    replay_pcr(log, BIG_COUNT, KS_ALG_SHA512, 10, a);
    replay_pcr(back, BIG_COUNT, KS_ALG_SHA512, 10, b);
    assert_memory_equal(a, b, 64);
    ks_ima_log_free(back);
    ks_ima_log_free(log);
}

/* The binary form of ima_log.txt, written out per ima_measurements_show(). */
static void test_to_binary_layout(void **state)
{
    struct ks_ima_log *log = NULL;
    size_t pos, len = 0;
    uint8_t *bin = NULL;
    assert_int_equal(parse_str(ONE_LINE, &log, &pos), KS_OK);
    assert_int_equal(ks_ima_log_to_binary(log, &bin, &len), KS_OK);

    struct wbuf *w = calloc(1, sizeof(*w));
    uint8_t th[20], dg[32];
    assert_int_equal(ks_hex_decode_fixed(TH, th, 20), KS_OK);
    assert_int_equal(ks_hex_decode_fixed(DG + 7, dg, 32), KS_OK);
    w_u32(w, 10);
    w_bytes(w, th, 20);
    w_field(w, "ima-ng", 6);
    w_u32(w, 4 + 40 + 4 + 15);
    w_u32(w, 40);
    w_bytes(w, "sha256:\0", 8);
    w_bytes(w, dg, 32);
    w_field(w, "boot_aggregate\0", 15);
    assert_int_equal(len, w->n);
    assert_memory_equal(bin, w->b, len);
    free(w);
    free(bin);
    ks_ima_log_free(log);
    assert_int_equal(ks_ima_log_to_binary(NULL, &bin, &len), KS_ERR_INVALID_ARG);
}

static void test_prefix_match(void **state)
{
    struct ks_ima_log *ascii = parse_file(BIG, NULL);
    struct ks_ima_log *bin = round_trip(ascii, NULL);
    static const uint16_t banks[] = {KS_ALG_SHA1, KS_ALG_SHA256};
    for (size_t b = 0; b < 2; b++) {
        size_t size = ks_alg_digest_size(banks[b]);
        for (size_t k = 0; k < BIG_COUNT; k++) {
            /* PCR 10 after entry k; entries are distinct, so it never
             * occurs earlier */
            uint8_t after[KS_MAX_DIGEST];
            size_t n = 0;
            replay_pcr(ascii, k + 1, banks[b], 10, after);
            assert_int_equal(ks_ima_log_match_prefix(ascii, banks[b], after, size, &n), KS_OK);
            assert_int_equal(n, k + 1);
            n = 0;
            assert_int_equal(ks_ima_log_match_prefix(bin, banks[b], after, size, &n), KS_OK);
            assert_int_equal(n, k + 1);
        }
        uint8_t zero[KS_MAX_DIGEST] = {0};
        size_t n = 99;
        assert_int_equal(ks_ima_log_match_prefix(ascii, banks[b], zero, size, &n), KS_OK);
        assert_int_equal(n, 0);
        uint8_t never[KS_MAX_DIGEST];
        memset(never, 0x5a, sizeof(never));
        n = 99;
        assert_int_equal(ks_ima_log_match_prefix(ascii, banks[b], never, size, &n),
                         KS_ERR_IMA_NO_MATCH);
        assert_int_equal(n, 99);
    }
    /* the README value is found at the full length */
    uint8_t want[32];
    size_t n = 0;
    assert_int_equal(ks_hex_decode_fixed(BIG_SHA256, want, 32), KS_OK);
    assert_int_equal(ks_ima_log_match_prefix(bin, KS_ALG_SHA256, want, 32, &n), KS_OK);
    assert_int_equal(n, BIG_COUNT);

    assert_int_equal(ks_ima_log_match_prefix(ascii, KS_ALG_SHA256, want, 20, &n),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_ima_log_match_prefix(ascii, 0x0003, want, 32, &n), KS_ERR_TPM_ALG);
    assert_int_equal(ks_ima_log_match_prefix(NULL, KS_ALG_SHA256, want, 32, &n),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_ima_log_match_prefix(ascii, KS_ALG_SHA256, NULL, 32, &n),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_ima_log_match_prefix(ascii, KS_ALG_SHA256, want, 32, NULL),
                     KS_ERR_INVALID_ARG);
    ks_ima_log_free(bin);
    ks_ima_log_free(ascii);
}

static void test_replay_args(void **state)
{
    struct ks_ima_log *log = parse_file(BIG, NULL);
    struct ks_pcr_set set, copy;
    ks_pcr_set_init(&set);
    assert_int_equal(ks_pcr_set_put(&set, KS_ALG_SHA1, 3, (const uint8_t *)Z40, 20), KS_OK);
    copy = set;
    assert_int_equal(ks_ima_log_replay(log, BIG_COUNT + 1, KS_ALG_SHA1, &set), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_ima_log_replay(log, 1, 0x0003, &set), KS_ERR_TPM_ALG);
    assert_int_equal(ks_ima_log_replay(NULL, 0, KS_ALG_SHA1, &set), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_ima_log_replay(log, 0, KS_ALG_SHA1, NULL), KS_ERR_INVALID_ARG);
    assert_memory_equal(&set, &copy, sizeof(set));

    /* zero entries: PCR 10 present at its reset value; other PCRs kept */
    const uint8_t *v;
    assert_int_equal(ks_ima_log_replay(log, 0, KS_ALG_SHA256, &set), KS_OK);
    assert_int_equal(ks_pcr_set_get(&set, KS_ALG_SHA256, 10, &v), KS_OK);
    assert_hex(v, 32, "0000000000000000000000000000000000000000000000000000000000000000");
    assert_true(ks_pcr_set_has(&set, KS_ALG_SHA1, 3));
    assert_false(ks_pcr_set_has(&set, KS_ALG_SHA256, 11));

    /* replay continues from the values in the set: entry 0 twice */
    ks_pcr_set_init(&set);
    assert_int_equal(ks_ima_log_replay(log, 1, KS_ALG_SHA1, &set), KS_OK);
    assert_int_equal(ks_ima_log_replay(log, 1, KS_ALG_SHA1, &set), KS_OK);
    assert_int_equal(ks_pcr_set_get(&set, KS_ALG_SHA1, 10, &v), KS_OK);
    uint8_t want[20] = {0};
    const uint8_t *th = ks_ima_log_entry(log, 0)->template_hash;
    md("SHA1", want, 20, th, 20, want);
    md("SHA1", want, 20, th, 20, want);
    assert_memory_equal(v, want, 20);
    ks_ima_log_free(log);
}

static void test_one_entry(void **state)
{
    struct ks_ima_log *log = parse_file("ima/rust-keylime/ima_log.txt", NULL);
    assert_int_equal(ks_ima_log_count(log), 1);
    const struct ks_ima_entry *e = ks_ima_log_entry(log, 0);
    assert_int_equal(e->pcr, 10);
    assert_hex(e->template_hash, 20, TH);
    assert_int_equal(e->digest_alg, KS_IMA_HASH_SHA256);
    assert_hex(e->digest, e->digest_len, DG + 7);
    assert_string_equal(e->path, "boot_aggregate");
    assert_false(e->template_hash_mismatch);
    /* sha1 bank: SHA1(0^20 || template hash) */
    uint8_t th[20], want[20];
    assert_int_equal(ks_hex_decode_fixed(TH, th, 20), KS_OK);
    memset(want, 0, 20);
    md("SHA1", want, 20, th, 20, want);
    uint8_t got[20];
    replay_pcr(log, 1, KS_ALG_SHA1, 10, got);
    assert_memory_equal(got, want, 20);
    ks_ima_log_free(log);
}

static void test_empty_and_invalid(void **state)
{
    size_t len, pos;
    struct ks_ima_log *log = NULL;
    uint8_t *buf = unit_read("ima/rust-keylime/empty_ima_log.txt", &len);
    assert_int_equal(len, 0);
    pos = 77;
    assert_int_equal(ks_ima_log_parse(buf, len, NULL, &log, &pos), KS_ERR_IMA_EMPTY);
    assert_int_equal(pos, 0);
    assert_null(log);
    struct ks_ima_parse_opts bin = {.format = KS_IMA_FORMAT_BINARY};
    assert_int_equal(ks_ima_log_parse(buf, len, &bin, &log, &pos), KS_ERR_IMA_EMPTY);
    assert_int_equal(ks_ima_log_parse(NULL, 0, NULL, &log, NULL), KS_ERR_IMA_EMPTY);
    free(buf);

    buf = unit_read("ima/rust-keylime/invalid_ima_log.txt", &len);
    assert_int_equal(parse_buf(buf, len, NULL, &log, &pos), KS_ERR_IMA_MALFORMED);
    assert_int_equal(pos, 1);
    assert_null(log);
    free(buf);
}

static void test_keylime_digest_algs(void **state)
{
    static const struct {
        const char *file;
        enum ks_ima_hash talg;
        enum ks_ima_hash alg;
        size_t size;
        bool first_violation;
        const char *digest;
    } v[] = {
        {"ima/keylime/ima-log-sha1", KS_IMA_HASH_SHA1, KS_IMA_HASH_SHA1, 20, true,
         "009b0d8ee8fb8d890fa70f9c8e02b3f1eded1509"},
        {"ima/keylime/ima-log-sha256", KS_IMA_HASH_SHA1, KS_IMA_HASH_SHA256, 32, false,
         "96d7fae8adb7286a419a88f78c13d35fb782d63df654b7db56f154765698b754"},
        {"ima/keylime/ima-log-sha384", KS_IMA_HASH_SHA1, KS_IMA_HASH_SHA384, 48, true,
         "20393b3e109c55b3128ba761bab1c555d8f39afe118eb1a29929ba8e017e8b2cdfc805c304e10d28060"
         "4a829145ba6f0"},
        {"ima/keylime/ima-log-sha512", KS_IMA_HASH_SHA1, KS_IMA_HASH_SHA512, 64, true,
         "4fb914b8ed30ff69c65551573ce096aaf0c3507896cce44868d7a7e553891043c68a3889f3fc8056ef8c6"
         "bc3a54a9db83cd8112928ad51c5cd9e1a4ef332de53"},
        /* this log's template hashes are SM3 (a *_runtime_measurements_sm3 file) */
        {"ima/keylime/ima-log-sm3_256", KS_IMA_HASH_SM3_256, KS_IMA_HASH_SM3_256, 32, true,
         "96d7fae8adb7286a419a88f78c13d35fb782d63df654b7db56f154765698b754"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct ks_ima_parse_opts opts = {.template_alg = v[i].talg};
        struct ks_ima_log *log = parse_file(v[i].file, &opts);
        assert_int_equal(ks_ima_log_count(log), 2);
        /* the template hashes keylime shipped match the rebuilt data */
        assert_int_equal(ks_ima_log_bad_template_hashes(log), 0);
        const struct ks_ima_entry *e0 = ks_ima_log_entry(log, 0);
        const struct ks_ima_entry *e1 = ks_ima_log_entry(log, 1);
        assert_int_equal(e0->violation, v[i].first_violation);
        assert_string_equal(e0->path, "boot_aggregate");
        assert_int_equal(e1->digest_alg, v[i].alg);
        assert_int_equal(e1->digest_len, v[i].size);
        assert_hex(e1->digest, e1->digest_len, v[i].digest);
        assert_string_equal(e1->path, "/data");
        assert_false(e1->violation);
        assert_false(e1->template_hash_mismatch);
        struct ks_ima_log *back = round_trip(log, &opts);
        ks_ima_log_free(back);
        ks_ima_log_free(log);
    }
}

/* A file digest algorithm we cannot name is rejected, not skipped. */
static void test_keylime_unknown_alg(void **state)
{
    size_t len, pos;
    struct ks_ima_log *log = NULL;
    uint8_t *buf = unit_read("ima/keylime/ima-log-unknown", &len);
    /* its template hashes are 32 bytes: with SM3 template hashes the parser
     * reaches the digest field of line 1 */
    struct ks_ima_parse_opts sm3 = {.template_alg = KS_IMA_HASH_SM3_256};
    assert_int_equal(parse_buf(buf, len, &sm3, &log, &pos), KS_ERR_IMA_DIGEST_ALG);
    assert_int_equal(pos, 1);
    /* read as a default (SHA-1) file, the template hash is the wrong size */
    assert_int_equal(parse_buf(buf, len, NULL, &log, &pos), KS_ERR_IMA_MALFORMED);
    assert_int_equal(pos, 1);
    assert_null(log);
    free(buf);
    /* the same entry with a SHA-1 template hash */
    assert_int_equal(parse_str("10 " Z40 " ima-ng unknown:0011223344556677889900112233445577889900"
                               "112233445566778899 /data\n",
                               &log, &pos),
                     KS_ERR_IMA_DIGEST_ALG);
}

static void test_ima_sig_and_buf(void **state)
{
    struct ks_ima_log *log = parse_file("ima/keylime/test_ima_verification.signatures.txt", NULL);
    assert_int_equal(ks_ima_log_count(log), 2);
    assert_int_equal(ks_ima_log_bad_template_hashes(log), 0);
    const struct ks_ima_entry *e = ks_ima_log_entry(log, 0);
    assert_int_equal(e->template_id, KS_IMA_TEMPLATE_IMA_SIG);
    assert_string_equal(e->path, "/usr/bin/dd");
    assert_int_equal(e->digest_alg, KS_IMA_HASH_SHA256);
    assert_non_null(e->sig);
    assert_int_equal(e->sig_len, 9 + 256); /* signature_v2_hdr + RSA-2048 */
    assert_memory_equal(e->sig, "\x03\x02\x04\xf3\x45\x2d\x23\x01\x00", 9);
    e = ks_ima_log_entry(log, 1);
    assert_string_equal(e->path, "/usr/bin/zmore");
    assert_int_equal(e->sig_len, 9 + 0x48);
    ks_ima_log_free(round_trip(log, NULL));
    ks_ima_log_free(log);

    /* ima-sig without signatures: "path " with an empty last field */
    log = parse_file("ima/keylime/test_ima_verification.measurements.txt", NULL);
    assert_int_equal(ks_ima_log_count(log), 3);
    assert_int_equal(ks_ima_log_bad_template_hashes(log), 0);
    for (size_t i = 0; i < 3; i++) {
        e = ks_ima_log_entry(log, i);
        assert_int_equal(e->template_id, KS_IMA_TEMPLATE_IMA_SIG);
        assert_non_null(e->sig);
        assert_int_equal(e->sig_len, 0);
    }
    assert_string_equal(ks_ima_log_entry(log, 1)->path,
                        "/lib/modules/5.4.48-openpower1/kernel/drivers/usb/common/usb-common.ko");
    ks_ima_log_free(round_trip(log, NULL));
    ks_ima_log_free(log);

    log = parse_file("ima/keylime/test_ima_verification.keyrings.txt", NULL);
    assert_int_equal(ks_ima_log_count(log), 1);
    assert_int_equal(ks_ima_log_bad_template_hashes(log), 0);
    e = ks_ima_log_entry(log, 0);
    assert_int_equal(e->template_id, KS_IMA_TEMPLATE_IMA_BUF);
    assert_string_equal(e->template_name, "ima-buf");
    assert_string_equal(e->path, ".ima");
    assert_null(e->sig);
    assert_non_null(e->buf);
    assert_int_equal(e->buf_len, 4 + 0x1d1); /* a DER certificate, 30 82 01 d1 */
    assert_memory_equal(e->buf, "\x30\x82\x01\xd1", 4);
    /* ima-buf's digest is SHA-256 of the buffer (ima_measure_critical_data) */
    uint8_t h[32];
    md("SHA256", e->buf, e->buf_len, "", 0, h);
    assert_memory_equal(h, e->digest, 32);
    ks_ima_log_free(round_trip(log, NULL));
    ks_ima_log_free(log);
}

static void test_bad_template_hash_flagged(void **state)
{
    struct ks_ima_log *log =
        parse_file("ima/keylime/test_ima_verification.bad_signatures.txt", NULL);
    assert_int_equal(ks_ima_log_count(log), 1);
    assert_int_equal(ks_ima_log_bad_template_hashes(log), 1);
    const struct ks_ima_entry *e = ks_ima_log_entry(log, 0);
    assert_true(e->template_hash_mismatch);
    assert_false(e->violation);
    assert_string_equal(e->path, "/usr/bin/zmore");
    /* the sha1 bank still extends the logged template hash (what the TPM
     * holds); the sha256 bank extends H(data) */
    uint8_t want[32], got[32];
    memset(want, 0, 20);
    md("SHA1", want, 20, e->template_hash, 20, want);
    replay_pcr(log, 1, KS_ALG_SHA1, 10, got);
    assert_memory_equal(got, want, 20);
    uint8_t hd[32];
    md("SHA256", e->data, e->data_len, "", 0, hd);
    memset(want, 0, 32);
    md("SHA256", want, 32, hd, 32, want);
    replay_pcr(log, 1, KS_ALG_SHA256, 10, got);
    assert_memory_equal(got, want, 32);
    /* the binary form keeps the flag */
    ks_ima_log_free(round_trip(log, NULL));
    ks_ima_log_free(log);
}

/* Violations (all-zero template hash) extend 0xFF..FF, in every bank. */
static void test_violation(void **state)
{
    struct ks_ima_log *log = NULL;
    size_t pos;
    assert_int_equal(parse_str("10 " Z40 " ima-ng sha1:" Z40 " /etc/passwd\n", &log, &pos), KS_OK);
    const struct ks_ima_entry *e = ks_ima_log_entry(log, 0);
    assert_true(e->violation);
    assert_false(e->template_hash_mismatch);
    assert_int_equal(ks_ima_log_bad_template_hashes(log), 0);
    static const uint16_t banks[] = {KS_ALG_SHA1, KS_ALG_SHA256, KS_ALG_SHA384, KS_ALG_SHA512};
    static const char *names[] = {"SHA1", "SHA256", "SHA384", "SHA512"};
    for (size_t b = 0; b < 4; b++) {
        size_t n = ks_alg_digest_size(banks[b]);
        uint8_t zero[KS_MAX_DIGEST] = {0}, ff[KS_MAX_DIGEST], want[KS_MAX_DIGEST],
                got[KS_MAX_DIGEST];
        memset(ff, 0xff, sizeof(ff));
        md(names[b], zero, n, ff, n, want);
        replay_pcr(log, 1, banks[b], 10, got);
        assert_memory_equal(got, want, n);
        size_t count = 0;
        assert_int_equal(ks_ima_log_match_prefix(log, banks[b], want, n, &count), KS_OK);
        assert_int_equal(count, 1);
    }
    ks_ima_log_free(log);
}

/* Entries for other PCRs replay into their PCR and are skipped by the
 * PCR 10 prefix search; " 9" is how "%2d" prints PCR 9. */
static void test_other_pcrs(void **state)
{
    struct ks_ima_log *log = NULL;
    size_t pos;
    assert_int_equal(parse_str(" 9 " TH " ima-ng " DG " boot_aggregate\n"
                               "11 " TH " ima-ng " DG " boot_aggregate\n" ONE_LINE,
                               &log, &pos),
                     KS_OK);
    assert_int_equal(ks_ima_log_count(log), 3);
    assert_int_equal(ks_ima_log_entry(log, 0)->pcr, 9);
    assert_int_equal(ks_ima_log_entry(log, 1)->pcr, 11);
    /* the PCR is not covered by the template hash */
    assert_int_equal(ks_ima_log_bad_template_hashes(log), 0);

    uint8_t th[20], want[20], got[20];
    assert_int_equal(ks_hex_decode_fixed(TH, th, 20), KS_OK);
    memset(want, 0, 20);
    md("SHA1", want, 20, th, 20, want);
    struct ks_pcr_set set;
    ks_pcr_set_init(&set);
    assert_int_equal(ks_ima_log_replay(log, 2, KS_ALG_SHA1, &set), KS_OK);
    const uint8_t *v;
    assert_int_equal(ks_pcr_set_get(&set, KS_ALG_SHA1, 9, &v), KS_OK);
    assert_memory_equal(v, want, 20);
    assert_int_equal(ks_pcr_set_get(&set, KS_ALG_SHA1, 11, &v), KS_OK);
    assert_memory_equal(v, want, 20);
    assert_int_equal(ks_pcr_set_get(&set, KS_ALG_SHA1, 10, &v), KS_OK);
    assert_hex(v, 20, Z40);
    assert_false(ks_pcr_set_has(&set, KS_ALG_SHA1, 12));

    replay_pcr(log, 3, KS_ALG_SHA1, 10, got);
    assert_memory_equal(got, want, 20);
    size_t n = 0;
    assert_int_equal(ks_ima_log_match_prefix(log, KS_ALG_SHA1, want, 20, &n), KS_OK);
    assert_int_equal(n, 3);
    ks_ima_log_free(round_trip(log, NULL));
    ks_ima_log_free(log);
}

/* The legacy "ima" template: the template hash covers the SHA-1 digest and
 * the name zero-padded to 256 bytes, without length prefixes
 * (ima_calc_field_array_hash_tfm()); the binary list writes the digest, the
 * name length and the name without NUL (ima_measurements_show()). */
static void test_legacy_ima_template(void **state)
{
    uint8_t digest[20], name[256] = {0}, th[20];
    char thhex[41], dhex[41], line[256];
    for (int i = 0; i < 20; i++) {
        digest[i] = (uint8_t)(0xa0 + i);
    }
    memcpy(name, "/bin/sh", 7);
    md("SHA1", digest, 20, name, 256, th);
    ks_hex_encode(th, 20, thhex);
    ks_hex_encode(digest, 20, dhex);
    snprintf(line, sizeof(line), "10 %s ima %s /bin/sh\n", thhex, dhex);

    struct ks_ima_log *log = NULL;
    size_t pos;
    assert_int_equal(parse_str(line, &log, &pos), KS_OK);
    const struct ks_ima_entry *e = ks_ima_log_entry(log, 0);
    assert_int_equal(e->template_id, KS_IMA_TEMPLATE_IMA);
    assert_string_equal(e->template_name, "ima");
    assert_false(e->template_hash_mismatch);
    assert_int_equal(e->digest_alg, KS_IMA_HASH_SHA1);
    assert_memory_equal(e->digest, digest, 20);
    assert_string_equal(e->path, "/bin/sh");
    assert_int_equal(e->data_len, 276);
    assert_null(e->sig);
    assert_null(e->buf);

    uint8_t *bin = NULL;
    size_t len = 0;
    assert_int_equal(ks_ima_log_to_binary(log, &bin, &len), KS_OK);
    struct wbuf *w = calloc(1, sizeof(*w));
    w_u32(w, 10);
    w_bytes(w, th, 20);
    w_field(w, "ima", 3);
    w_bytes(w, digest, 20);
    w_field(w, "/bin/sh", 7);
    assert_int_equal(len, w->n);
    assert_memory_equal(bin, w->b, len);

    /* sha256 bank: SHA256(digest || padded name) */
    uint8_t hd[32], want[32], got[32], zero[32] = {0};
    md("SHA256", digest, 20, name, 256, hd);
    md("SHA256", zero, 32, hd, 32, want);
    replay_pcr(log, 1, KS_ALG_SHA256, 10, got);
    assert_memory_equal(got, want, 32);
    ks_ima_log_free(round_trip(log, NULL));
    ks_ima_log_free(log);

    /* binary: a name of 256 bytes is over IMA_EVENT_NAME_LEN_MAX, a NUL in
     * the name is not a name */
    uint8_t *m = malloc(len + 300);
    memcpy(m, bin, len - 11);
    uint8_t n256[4] = {0, 1, 0, 0};
    memcpy(m + len - 11, n256, 4);
    memset(m + len - 7, 'a', 256);
    assert_int_equal(parse_buf(m, len - 7 + 256, NULL, &log, &pos), KS_ERR_IMA_FIELD_SIZE);
    assert_int_equal(pos, len - 11);
    memcpy(m, bin, len);
    m[len - 3] = 0;
    assert_int_equal(parse_buf(m, len, NULL, &log, &pos), KS_ERR_IMA_TEMPLATE);
    assert_int_equal(parse_buf(bin, len - 1, NULL, &log, &pos), KS_ERR_IMA_TRUNCATED);
    free(m);
    free(bin);
    free(w);

    /* ASCII: a 255-byte name is the longest */
    char big[512];
    memset(name, 'n', 255);
    snprintf(big, sizeof(big), "10 %s ima %s %.255s\n", thhex, dhex, (char *)name);
    assert_int_equal(parse_str(big, &log, &pos), KS_OK);
    assert_int_equal(ks_ima_log_bad_template_hashes(log), 1);
    assert_int_equal(ks_ima_log_entry(log, 0)->path_len, 255);
    ks_ima_log_free(log);
    snprintf(big, sizeof(big), "10 %s ima %s n%.255s\n", thhex, dhex, (char *)name);
    assert_int_equal(parse_str(big, &log, &pos), KS_ERR_IMA_FIELD_SIZE);
}

static void test_ascii_malformed(void **state)
{
    static const struct {
        const char *text;
        int err;
        size_t line;
    } v[] = {
        {"10\n", KS_ERR_IMA_MALFORMED, 1},
        {"10 " TH "\n", KS_ERR_IMA_MALFORMED, 1},
        {"10 " TH " ima-ng\n", KS_ERR_IMA_MALFORMED, 1},
        {"10 " TH " ima-ng " DG "\n", KS_ERR_IMA_MALFORMED, 1},
        {"x0 " TH " ima-ng " DG " boot_aggregate\n", KS_ERR_IMA_MALFORMED, 1},
        {"-1 " TH " ima-ng " DG " boot_aggregate\n", KS_ERR_IMA_MALFORMED, 1},
        {"+9 " TH " ima-ng " DG " boot_aggregate\n", KS_ERR_IMA_MALFORMED, 1},
        {"  10 " TH " ima-ng " DG " boot_aggregate\n", KS_ERR_IMA_MALFORMED, 1},
        {"12345678901 " TH " ima-ng " DG " boot_aggregate\n", KS_ERR_IMA_MALFORMED, 1},
        {"24 " TH " ima-ng " DG " boot_aggregate\n", KS_ERR_IMA_PCR_INDEX, 1},
        {"4294967295 " TH " ima-ng " DG " boot_aggregate\n", KS_ERR_IMA_PCR_INDEX, 1},
        {"10 " TH "0 ima-ng " DG " boot_aggregate\n", KS_ERR_IMA_MALFORMED, 1},
        {"10 919d666632e75b1895ee4a6653b8e6c20842bc6g ima-ng " DG " boot_aggregate\n",
         KS_ERR_IMA_MALFORMED, 1},
        {"10  " TH " ima-ng " DG " boot_aggregate\n", KS_ERR_IMA_MALFORMED, 1},
        {"10 " TH " ima-foo " DG " boot_aggregate\n", KS_ERR_IMA_TEMPLATE, 1},
        {"10 " TH " IMA-NG " DG " boot_aggregate\n", KS_ERR_IMA_TEMPLATE, 1},
        {"10 " TH " ima-ngv2 " DG " boot_aggregate\n", KS_ERR_IMA_TEMPLATE, 1},
        {"10 " TH " ima-ng sha256fec395eacfbd boot_aggregate\n", KS_ERR_IMA_MALFORMED, 1},
        {"10 " TH " ima-ng sha256:fec3 boot_aggregate\n", KS_ERR_IMA_TEMPLATE, 1},
        {"10 " TH " ima-ng sha256: boot_aggregate\n", KS_ERR_IMA_TEMPLATE, 1},
        {"10 " TH " ima-ng sha256:fec395eacfbd4d9bfd3ddce68ccf0792159494ff7aae89c556f7f279604"
         "6f87z boot_aggregate\n",
         KS_ERR_IMA_MALFORMED, 1},
        {"10 " TH " ima-ng foo:00 boot_aggregate\n", KS_ERR_IMA_DIGEST_ALG, 1},
        {"10 " TH " ima-ng SHA256:fec395eacfbd4d9bfd3ddce68ccf0792159494ff7aae89c556f7f279604"
         "6f871 boot_aggregate\n",
         KS_ERR_IMA_DIGEST_ALG, 1},
        {"10 " TH " ima-ng :00 boot_aggregate\n", KS_ERR_IMA_DIGEST_ALG, 1},
        {"10 " TH " ima-sig " DG " boot_aggregate\n", KS_ERR_IMA_MALFORMED, 1},
        {"10 " TH " ima-sig " DG " boot_aggregate 0\n", KS_ERR_IMA_MALFORMED, 1},
        {"10 " TH " ima-sig " DG " boot_aggregate zz\n", KS_ERR_IMA_MALFORMED, 1},
        {"10 " TH " ima-buf " DG " .ima 03 02\n", KS_ERR_IMA_MALFORMED, 1},
        {"10 " TH " ima abcd boot_aggregate\n", KS_ERR_IMA_MALFORMED, 1},
        {"10 " TH " ima " DG " boot_aggregate\n", KS_ERR_IMA_MALFORMED, 1},
        {"10 " TH " ima zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz boot_aggregate\n",
         KS_ERR_IMA_MALFORMED, 1},
        {"10 " TH " ima \n", KS_ERR_IMA_MALFORMED, 1},
        {"10 " TH " ima-ng " DG " boot_aggregate", KS_ERR_IMA_TRUNCATED, 1},
        {ONE_LINE "10 " TH " ima-ng " DG " boot_aggr", KS_ERR_IMA_TRUNCATED, 2},
        {ONE_LINE "\n", KS_ERR_IMA_MALFORMED, 2},
        {ONE_LINE "\r\n", KS_ERR_IMA_MALFORMED, 2},
        {ONE_LINE ONE_LINE "10 junk\n" ONE_LINE, KS_ERR_IMA_MALFORMED, 3},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct ks_ima_log *log = NULL;
        size_t pos = 0;
        int r = parse_str(v[i].text, &log, &pos);
        if (r != v[i].err || pos != v[i].line) {
            fail_msg("case %zu: got %d (%s) at %zu, want %d at %zu", i, r, ks_strerror(r), pos,
                     v[i].err, v[i].line);
        }
        assert_null(log);
    }
    /* a NUL byte inside a line */
    static const char nul[] = "10 " TH " ima-ng " DG " boot\0aggregate\n";
    struct ks_ima_log *log = NULL;
    size_t pos;
    assert_int_equal(parse_buf(nul, sizeof(nul) - 1, NULL, &log, &pos), KS_ERR_IMA_MALFORMED);
    assert_int_equal(pos, 1);
    /* a path with a CR is parsed verbatim: its template hash catches it */
    assert_int_equal(parse_str("10 " TH " ima-ng " DG " boot_aggregate\r\n", &log, &pos), KS_OK);
    assert_int_equal(ks_ima_log_bad_template_hashes(log), 1);
    ks_ima_log_free(log);
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = 0;
    return s;
}

static void test_ascii_limits(void **state)
{
    struct ks_ima_log *log = NULL;
    size_t pos;
    char *path = repeat('p', KS_IMA_MAX_PATH);
    char *text = malloc(KS_IMA_MAX_PATH + 256);
    /* 4095 bytes + NUL fit, 4096 do not */
    snprintf(text, KS_IMA_MAX_PATH + 256, "10 " TH " ima-ng " DG " %.*s\n",
             (int)KS_IMA_MAX_PATH - 1, path);
    assert_int_equal(parse_str(text, &log, &pos), KS_OK);
    assert_int_equal(ks_ima_log_entry(log, 0)->path_len, KS_IMA_MAX_PATH - 1);
    ks_ima_log_free(log);
    snprintf(text, KS_IMA_MAX_PATH + 256, "10 " TH " ima-ng " DG " %s\n", path);
    assert_int_equal(parse_str(text, &log, &pos), KS_ERR_IMA_FIELD_SIZE);
    assert_int_equal(pos, 1);
    free(text);
    free(path);

    /* a signature that makes the template data exceed its limit */
    size_t siglen = KS_IMA_MAX_TEMPLATE_DATA - 40;
    char *sig = repeat('a', 2 * siglen);
    size_t tlen = 2 * siglen + 256;
    text = malloc(tlen);
    snprintf(text, tlen, "10 " TH " ima-sig " DG " /x %s\n", sig);
    assert_int_equal(parse_str(text, &log, &pos), KS_ERR_IMA_FIELD_SIZE);
    free(text);
    free(sig);

    /* a line longer than KS_IMA_MAX_LINE, with and without its newline */
    char *longl = repeat('1', KS_IMA_MAX_LINE + 10);
    assert_int_equal(parse_str(longl, &log, &pos), KS_ERR_IMA_FIELD_SIZE);
    longl[KS_IMA_MAX_LINE + 9] = '\n';
    assert_int_equal(parse_str(longl, &log, &pos), KS_ERR_IMA_FIELD_SIZE);
    free(longl);

    /* entry cap */
    struct ks_ima_parse_opts opts = {.max_entries = 5};
    size_t len;
    uint8_t *buf = unit_read(BIG, &len);
    assert_int_equal(parse_buf(buf, len, &opts, &log, &pos), KS_ERR_IMA_TOO_MANY);
    assert_int_equal(pos, 6);
    opts.max_entries = BIG_COUNT;
    assert_int_equal(parse_buf(buf, len, &opts, &log, &pos), KS_OK);
    struct ks_ima_log *bin = round_trip(log, NULL);
    uint8_t *b = NULL;
    size_t blen;
    assert_int_equal(ks_ima_log_to_binary(bin, &b, &blen), KS_OK);
    opts.max_entries = 5;
    assert_int_equal(parse_buf(b, blen, &opts, &bin, &pos), KS_ERR_IMA_TOO_MANY);
    /* 5 entries of 4+20+4+6+4 bytes of header and their data */
    size_t off = 0;
    for (size_t i = 0; i < 5; i++) {
        off += 38 + ks_ima_log_entry(log, i)->data_len;
    }
    assert_int_equal(pos, off);
    free(b);
    ks_ima_log_free(bin);
    ks_ima_log_free(log);
    free(buf);
}

static void test_parse_args(void **state)
{
    struct ks_ima_log *log = NULL;
    size_t pos;
    struct ks_ima_parse_opts opts = {0};
    assert_int_equal(
        ks_ima_log_parse((const uint8_t *)ONE_LINE, strlen(ONE_LINE), NULL, NULL, &pos),
        KS_ERR_INVALID_ARG);
    assert_int_equal(ks_ima_log_parse(NULL, 5, NULL, &log, &pos), KS_ERR_INVALID_ARG);
    opts.format = 7;
    assert_int_equal(parse_str(ONE_LINE, &log, &pos), KS_OK);
    ks_ima_log_free(log);
    log = NULL;
    assert_int_equal(parse_buf(ONE_LINE, strlen(ONE_LINE), &opts, &log, &pos), KS_ERR_INVALID_ARG);
    opts.format = 0;
    opts.template_alg = 99;
    assert_int_equal(parse_buf(ONE_LINE, strlen(ONE_LINE), &opts, &log, &pos), KS_ERR_INVALID_ARG);
    opts.template_alg = KS_IMA_HASH_MD5;
    assert_int_equal(parse_buf(ONE_LINE, strlen(ONE_LINE), &opts, &log, &pos), KS_ERR_UNSUPPORTED);
    /* a sha256 template hash is 64 hex digits */
    opts.template_alg = KS_IMA_HASH_SHA256;
    assert_int_equal(parse_buf(ONE_LINE, strlen(ONE_LINE), &opts, &log, &pos),
                     KS_ERR_IMA_MALFORMED);
    /* forced formats */
    opts.template_alg = 0;
    opts.format = KS_IMA_FORMAT_BINARY;
    assert_int_equal(parse_buf(ONE_LINE, strlen(ONE_LINE), &opts, &log, &pos),
                     KS_ERR_IMA_PCR_INDEX);
    assert_int_equal(pos, 0);
    opts.format = KS_IMA_FORMAT_ASCII;
    assert_int_equal(parse_buf("\x0a\0\0\0\n", 5, &opts, &log, &pos), KS_ERR_IMA_MALFORMED);
    assert_null(log);

    /* accessors on NULL */
    ks_ima_log_free(NULL);
    assert_int_equal(ks_ima_log_count(NULL), 0);
    assert_null(ks_ima_log_entry(NULL, 0));
    assert_int_equal(ks_ima_log_bad_template_hashes(NULL), 0);
    assert_int_equal(ks_ima_log_format(NULL), KS_IMA_FORMAT_AUTO);
    assert_int_equal(ks_ima_log_template_alg(NULL), 0);
}

/* Binary form of ima_log.txt, corrupted one length field at a time. */
static void test_binary_corrupt(void **state)
{
    struct ks_ima_log *log = NULL;
    size_t pos, len;
    uint8_t *bin = NULL;
    assert_int_equal(parse_str(ONE_LINE, &log, &pos), KS_OK);
    assert_int_equal(ks_ima_log_to_binary(log, &bin, &len), KS_OK);
    ks_ima_log_free(log);
    assert_int_equal(len, 101);
    /* offsets: pcr 0, template hash 4, name len 24, name 28, data len 34,
     * data 38: d-ng len 38, "sha256:\0" 42, digest 50, n-ng len 82, name 86 */
    static const struct {
        size_t off;
        uint32_t val;
        int err;
        size_t pos;
        bool extra; /* append one byte */
    } v[] = {
        {0, 24, KS_ERR_IMA_PCR_INDEX, 0, false},
        {0, 0xffffffff, KS_ERR_IMA_PCR_INDEX, 0, false},
        {24, 0, KS_ERR_IMA_TEMPLATE, 24, false},
        {24, 0xffffffff, KS_ERR_IMA_TEMPLATE, 24, false},
        {24, 7, KS_ERR_IMA_TEMPLATE, 24, false},
        {24, 5, KS_ERR_IMA_TEMPLATE, 24, false},
        {34, 0xffffffff, KS_ERR_IMA_FIELD_SIZE, 34, false},
        {34, KS_IMA_MAX_TEMPLATE_DATA + 1, KS_ERR_IMA_FIELD_SIZE, 34, false},
        {34, 64, KS_ERR_IMA_TRUNCATED, 38, false},
        {34, 62, KS_ERR_IMA_TEMPLATE, 38, false},
        {34, 0, KS_ERR_IMA_TEMPLATE, 38, false},
        {34, 64, KS_ERR_IMA_TEMPLATE, 38, true},
        {38, 41, KS_ERR_IMA_TEMPLATE, 38, false},
        {38, 39, KS_ERR_IMA_TEMPLATE, 38, false},
        {38, 0xffffffff, KS_ERR_IMA_TEMPLATE, 38, false},
        {38, 0, KS_ERR_IMA_TEMPLATE, 38, false},
        {82, 14, KS_ERR_IMA_TEMPLATE, 38, false},
        {82, 16, KS_ERR_IMA_TEMPLATE, 38, false},
        {82, 0, KS_ERR_IMA_TEMPLATE, 38, false},
        {82, 0xfffffff0, KS_ERR_IMA_TEMPLATE, 38, false},
    };
    uint8_t m[128];
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        memcpy(m, bin, len);
        m[v[i].off] = (uint8_t)v[i].val;
        m[v[i].off + 1] = (uint8_t)(v[i].val >> 8);
        m[v[i].off + 2] = (uint8_t)(v[i].val >> 16);
        m[v[i].off + 3] = (uint8_t)(v[i].val >> 24);
        m[len] = 0;
        int r = parse_buf(m, len + v[i].extra, NULL, &log, &pos);
        if (r != v[i].err || pos != v[i].pos) {
            fail_msg("case %zu: got %d (%s) at %zu, want %d at %zu", i, r, ks_strerror(r), pos,
                     v[i].err, v[i].pos);
        }
    }
    /* field contents */
    memcpy(m, bin, len);
    memcpy(m + 28, "ima-ns", 6);
    assert_int_equal(parse_buf(m, len, NULL, &log, &pos), KS_ERR_IMA_TEMPLATE);
    memcpy(m, bin, len);
    memcpy(m + 42, "sha257", 6);
    assert_int_equal(parse_buf(m, len, NULL, &log, &pos), KS_ERR_IMA_DIGEST_ALG);
    memcpy(m, bin, len);
    m[48] = ';'; /* no colon: the whole field is no algorithm name */
    assert_int_equal(parse_buf(m, len, NULL, &log, &pos), KS_ERR_IMA_TEMPLATE);
    memcpy(m, bin, len);
    m[49] = 'x'; /* the NUL after "sha256:" */
    assert_int_equal(parse_buf(m, len, NULL, &log, &pos), KS_ERR_IMA_TEMPLATE);
    memcpy(m, bin, len);
    m[100] = 'x'; /* the path's NUL */
    assert_int_equal(parse_buf(m, len, NULL, &log, &pos), KS_ERR_IMA_TEMPLATE);
    memcpy(m, bin, len);
    m[90] = 0; /* a NUL inside the path */
    assert_int_equal(parse_buf(m, len, NULL, &log, &pos), KS_ERR_IMA_TEMPLATE);
    memcpy(m, bin, len);
    m[60] ^= 1; /* the file digest: parses, flagged */
    assert_int_equal(parse_buf(m, len, NULL, &log, &pos), KS_OK);
    assert_true(ks_ima_log_entry(log, 0)->template_hash_mismatch);
    ks_ima_log_free(log);
    free(bin);

    /* an n-ng field over the path limit, in an otherwise valid entry */
    struct wbuf *w = calloc(1, sizeof(*w)), *d = calloc(1, sizeof(*d));
    uint8_t dg[20] = {0};
    char *p = repeat('p', KS_IMA_MAX_PATH + 1);
    p[KS_IMA_MAX_PATH] = 0;
    w_u32(d, 26);
    w_bytes(d, "sha1:\0", 6);
    w_bytes(d, dg, 20);
    w_field(d, p, KS_IMA_MAX_PATH + 1);
    w_u32(w, 10);
    w_bytes(w, "01234567890123456789", 20);
    w_field(w, "ima-ng", 6);
    w_field(w, d->b, d->n);
    assert_int_equal(parse_buf(w->b, w->n, NULL, &log, &pos), KS_ERR_IMA_FIELD_SIZE);
    /* an ima-sig entry whose signature length runs past its data */
    d->n = 0;
    w->n = 0;
    w_u32(d, 26);
    w_bytes(d, "sha1:\0", 6);
    w_bytes(d, dg, 20);
    w_field(d, "/x\0", 3);
    w_u32(d, 5);
    w_bytes(d, "abcd", 4);
    w_u32(w, 10);
    w_bytes(w, "01234567890123456789", 20);
    w_field(w, "ima-sig", 7);
    w_field(w, d->b, d->n);
    assert_int_equal(parse_buf(w->b, w->n, NULL, &log, &pos), KS_ERR_IMA_TEMPLATE);
    /* ... and with the right length it parses */
    w->b[w->n - 8] = 4;
    assert_int_equal(parse_buf(w->b, w->n, NULL, &log, &pos), KS_OK);
    assert_int_equal(ks_ima_log_entry(log, 0)->sig_len, 4);
    assert_memory_equal(ks_ima_log_entry(log, 0)->sig, "abcd", 4);
    assert_true(ks_ima_log_entry(log, 0)->template_hash_mismatch);
    ks_ima_log_free(log);
    free(p);
    free(w);
    free(d);
}

/* The first 4 KB of the big log (whole lines) in binary form, truncated at
 * every offset: the entry boundaries parse to that many entries, every
 * other offset is TRUNCATED. */
static void test_binary_truncated_everywhere(void **state)
{
    struct ks_ima_log *log = parse_file(BIG, NULL);
    uint8_t *bin = NULL;
    size_t len, pos;
    assert_int_equal(ks_ima_log_to_binary(log, &bin, &len), KS_OK);
    size_t limit = len < 4096 ? len : 4096;
    /* entry boundaries, from the layout: 4 + 20 + 4 + "ima-ng" + 4 + data */
    size_t bound[256];
    size_t nb = 0;
    bound[nb++] = 0;
    while (bound[nb - 1] <= limit) {
        assert_true(nb < 256);
        bound[nb] = bound[nb - 1] + 38 + ks_ima_log_entry(log, nb - 1)->data_len;
        nb++;
    }
    size_t k = 0;
    for (size_t off = 0; off <= limit; off++) {
        while (bound[k] < off) {
            k++;
        }
        struct ks_ima_log *t = NULL;
        int r = parse_buf(bin, off, NULL, &t, &pos);
        if (off == 0) {
            assert_int_equal(r, KS_ERR_IMA_EMPTY);
        } else if (bound[k] == off) {
            assert_int_equal(r, KS_OK);
            assert_int_equal(ks_ima_log_count(t), k);
            ks_ima_log_free(t);
        } else {
            if (r != KS_ERR_IMA_TRUNCATED) {
                fail_msg("offset %zu: %s", off, ks_strerror(r));
            }
            assert_true(pos >= bound[k - 1] && pos <= off);
            assert_null(t);
        }
    }
    free(bin);
    ks_ima_log_free(log);
}

/* Split the first lines of the big log (up to ~4 KB) off. */
static size_t first_lines(const uint8_t *buf, size_t len, size_t max)
{
    size_t end = 0;
    for (size_t i = 0; i < len && i < max; i++) {
        if (buf[i] == '\n') {
            end = i + 1;
        }
    }
    return end;
}

/* Every byte of the first ~4 KB, binary and ASCII, inverted: the parser
 * rejects the list or flags a template hash (xor 0xff never yields a valid
 * PCR index, separator or hex digit). */
static void test_every_byte_flipped(void **state)
{
    size_t len, pos;
    uint8_t *buf = unit_read(BIG, &len);
    size_t n = first_lines(buf, len, 4096);
    struct ks_ima_log *log = NULL;
    assert_int_equal(parse_buf(buf, n, NULL, &log, &pos), KS_OK);
    uint8_t *bin = NULL;
    size_t blen;
    assert_int_equal(ks_ima_log_to_binary(log, &bin, &blen), KS_OK);
    ks_ima_log_free(log);

    for (int form = 0; form < 2; form++) {
        uint8_t *src = form ? bin : buf;
        size_t slen = form ? blen : n;
        uint8_t *m = malloc(slen);
        for (size_t i = 0; i < slen; i++) {
            memcpy(m, src, slen);
            m[i] ^= 0xff;
            struct ks_ima_log *t = NULL;
            int r = parse_buf(m, slen, NULL, &t, &pos);
            if (r == KS_OK) {
                if (ks_ima_log_bad_template_hashes(t) == 0) {
                    fail_msg("%s byte %zu: accepted unflagged", form ? "binary" : "ascii", i);
                }
                ks_ima_log_free(t);
            } else {
                assert_null(t);
            }
        }
        free(m);
    }
    free(bin);
    free(buf);
}

/* Each line of the big log mangled in turn (bad hex, truncated fields,
 * huge paths): the error names that line, or the entry is flagged. */
static void test_every_line_mangled(void **state)
{
    size_t len;
    uint8_t *buf = unit_read(BIG, &len);
    char *m = malloc(len + 8192);
    size_t start = 0;
    for (size_t line = 1; start < len; line++) {
        size_t end = start; /* index of the '\n' */
        while (end < len && buf[end] != '\n') {
            end++;
        }
        assert_true(end < len);
        const char *l = (const char *)buf + start;
        size_t llen = end - start;
        size_t dig = 0; /* first digest digit, after the first ':' */
        while (dig < llen && l[dig] != ':') {
            dig++;
        }
        assert_true(dig < llen);
        dig++;
        for (int variant = 0; variant < 5; variant++) {
            size_t k = 0;
            memcpy(m, buf, start);
            k = start;
            int want = 0;
            switch (variant) {
            case 0: /* bad hex in the template hash */
                memcpy(m + k, l, llen);
                m[k + 5] = 'z';
                k += llen;
                want = KS_ERR_IMA_MALFORMED;
                break;
            case 1: /* digest cut short, path kept */
                memcpy(m + k, l, dig + 10);
                k += dig + 10;
                memcpy(m + k, l + dig + 40, llen - dig - 40);
                k += llen - dig - 40;
                want = KS_ERR_IMA_TEMPLATE;
                break;
            case 2: /* line cut after the digest: no path field */
                memcpy(m + k, l, dig + 40);
                k += dig + 40;
                want = KS_ERR_IMA_MALFORMED;
                break;
            case 3: /* a path longer than PATH_MAX */
                memcpy(m + k, l, dig + 41);
                k += dig + 41;
                memset(m + k, 'p', KS_IMA_MAX_PATH);
                k += KS_IMA_MAX_PATH;
                want = KS_ERR_IMA_FIELD_SIZE;
                break;
            case 4: { /* the path cut in half: parses, flagged */
                size_t plen = llen - dig - 41;
                size_t cut = plen / 2 ? plen / 2 : 1;
                memcpy(m + k, l, llen - cut);
                k += llen - cut;
                want = KS_OK;
                break;
            }
            }
            memcpy(m + k, buf + end, len - end);
            k += len - end;
            struct ks_ima_log *t = NULL;
            size_t pos = 0;
            int r = parse_buf(m, k, NULL, &t, &pos);
            if (r != want || (r != KS_OK && pos != line)) {
                fail_msg("line %zu variant %d: got %s at %zu", line, variant, ks_strerror(r), pos);
            }
            if (r == KS_OK) {
                assert_int_equal(ks_ima_log_bad_template_hashes(t), 1);
                assert_true(ks_ima_log_entry(t, line - 1)->template_hash_mismatch);
                ks_ima_log_free(t);
            }
        }
        start = end + 1;
    }
    free(m);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_table),
        cmocka_unit_test(test_detect_format),
        cmocka_unit_test(test_big_log_ascii),
        cmocka_unit_test(test_big_log_binary),
        cmocka_unit_test(test_to_binary_layout),
        cmocka_unit_test(test_prefix_match),
        cmocka_unit_test(test_replay_args),
        cmocka_unit_test(test_one_entry),
        cmocka_unit_test(test_empty_and_invalid),
        cmocka_unit_test(test_keylime_digest_algs),
        cmocka_unit_test(test_keylime_unknown_alg),
        cmocka_unit_test(test_ima_sig_and_buf),
        cmocka_unit_test(test_bad_template_hash_flagged),
        cmocka_unit_test(test_violation),
        cmocka_unit_test(test_other_pcrs),
        cmocka_unit_test(test_legacy_ima_template),
        cmocka_unit_test(test_ascii_malformed),
        cmocka_unit_test(test_ascii_limits),
        cmocka_unit_test(test_parse_args),
        cmocka_unit_test(test_binary_corrupt),
        cmocka_unit_test(test_binary_truncated_everywhere),
        cmocka_unit_test(test_every_byte_flipped),
        cmocka_unit_test(test_every_line_mangled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
