/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include <jansson.h>
#include <openssl/evp.h>

#include "encoding.h"
#include "keyserverd/release_request.h"

/*
 * The CBOR form of the release request (ks_release_request_parse_cbor).
 * Bodies are written here byte by byte (RFC 8949 section 3: a head of major
 * type and argument, then the content), independently of libcbor, which
 * the parser uses; so the test also checks that libcbor reads what the RFC
 * says, and raw variants (widths, indefinite lengths, tags) are easy.
 */

struct w {
    uint8_t buf[16384];
    size_t n;
};

static void put(struct w *w, uint8_t b)
{
    assert_true(w->n < sizeof(w->buf));
    w->buf[w->n++] = b;
}

/* A head with the argument in `width` bytes (0: in the initial byte). */
static void head_w(struct w *w, unsigned major, uint64_t v, unsigned width)
{
    static const uint8_t ai[] = {0, 24, 25, 0, 26, 0, 0, 0, 27};
    if (width == 0) {
        assert_true(v < 24);
        put(w, (uint8_t)(major << 5 | v));
        return;
    }
    put(w, (uint8_t)(major << 5 | ai[width]));
    for (unsigned i = width; i > 0; i--) {
        put(w, (uint8_t)(v >> (8 * (i - 1))));
    }
}

static void head(struct w *w, unsigned major, uint64_t v)
{
    head_w(w, major, v, v < 24 ? 0 : v < 0x100 ? 1 : v < 0x10000 ? 2 : v < 0x100000000 ? 4 : 8);
}

static void tstr(struct w *w, const char *s)
{
    head(w, 3, strlen(s));
    for (size_t i = 0; s[i]; i++) {
        put(w, (uint8_t)s[i]);
    }
}

static void bstr(struct w *w, uint8_t fill, size_t len)
{
    head(w, 2, len);
    for (size_t i = 0; i < len; i++) {
        put(w, fill);
    }
}

#define AK_ID                                                                                      \
    "000b"                                                                                         \
    "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"

typedef void value_fn(struct w *w);

static void v_ak_id(struct w *w)
{
    tstr(w, AK_ID);
}
static void v_nonce(struct w *w)
{
    bstr(w, 0xaa, 32);
}
static void v_pk(struct w *w)
{
    bstr(w, 0xbb, 32);
}
static void v_keys(struct w *w)
{
    head(w, 4, 2);
    tstr(w, "weights");
    tstr(w, "request-key@3");
}
static void v_quote(struct w *w)
{
    head(w, 5, 2);
    tstr(w, "attest");
    bstr(w, 0x01, 145);
    tstr(w, "signature");
    bstr(w, 0x02, 70);
}
static void v_pcrs(struct w *w)
{
    head(w, 5, 2);
    tstr(w, "sha256");
    head(w, 5, 2);
    head(w, 0, 0);
    bstr(w, 0x10, 32);
    head(w, 0, 7);
    bstr(w, 0x17, 32);
    tstr(w, "sha1");
    head(w, 5, 1);
    head(w, 0, 10);
    bstr(w, 0x0a, 20);
}

static const struct {
    const char *name;
    value_fn *fn;
} members[] = {
    {"ak_id", v_ak_id}, {"nonce", v_nonce}, {"hpke_pk", v_pk},
    {"keys", v_keys},   {"quote", v_quote}, {"pcrs", v_pcrs},
};
#define N_MEMBERS (sizeof(members) / sizeof(members[0]))

/* The valid request, without `omit`, with `name`'s value written by `fn`
 * (a name not among the members is appended). */
static void build(struct w *w, const char *omit, const char *name, value_fn *fn)
{
    bool known = false;
    size_t n = 0;
    for (size_t i = 0; i < N_MEMBERS; i++) {
        known = known || (name && strcmp(name, members[i].name) == 0);
        n += !(omit && strcmp(omit, members[i].name) == 0);
    }
    w->n = 0;
    head(w, 5, n + (name && !known));
    for (size_t i = 0; i < N_MEMBERS; i++) {
        if (omit && strcmp(omit, members[i].name) == 0) {
            continue;
        }
        tstr(w, members[i].name);
        (name && strcmp(name, members[i].name) == 0 ? fn : members[i].fn)(w);
    }
    if (name && !known) {
        tstr(w, name);
        fn(w);
    }
}

static int parse(const struct w *w, struct ks_release_request **ret, char *detail, size_t n)
{
    detail[0] = '\0';
    return ks_release_request_parse_cbor(w->buf, w->n, ret, detail, n);
}

static void test_valid(void **state)
{
    struct w *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    build(w, NULL, NULL, NULL);
    struct ks_release_request *req = NULL;
    char detail[256];
    assert_int_equal(parse(w, &req, detail, sizeof(detail)), KS_OK);
    assert_int_equal(req->ak_name_len, 34);
    assert_int_equal(req->ak_name[1], 0x0b);
    for (int i = 0; i < 32; i++) {
        assert_int_equal(req->ak_name[2 + i], i + 1);
        assert_int_equal(req->nonce[i], 0xaa);
        assert_int_equal(req->hpke_pk[i], 0xbb);
    }
    assert_int_equal(req->n_keys, 2);
    assert_string_equal(req->keys[0].name, "weights");
    assert_string_equal(req->keys[1].name, "request-key");
    assert_int_equal(req->keys[1].version, 3);
    assert_int_equal(req->attest_len, 145);
    assert_int_equal(req->signature_len, 70);
    assert_int_equal(req->signature[69], 0x02);
    const uint8_t *v = NULL;
    assert_int_equal(ks_pcr_set_get(&req->pcrs, KS_ALG_SHA256, 7, &v), KS_OK);
    assert_int_equal(v[31], 0x17);
    assert_int_equal(ks_pcr_set_get(&req->pcrs, KS_ALG_SHA1, 10, &v), KS_OK);
    assert_int_equal(v[0], 0x0a);
    assert_false(ks_pcr_set_has(&req->pcrs, KS_ALG_SHA256, 1));
    assert_null(req->event_log);
    uint8_t want[32];
    assert_int_equal(EVP_Digest(w->buf, w->n, want, NULL, EVP_sha256(), NULL), 1);
    assert_memory_equal(req->body_sha256, want, 32);
    ks_release_request_free(req);
    free(w);
}

/* The same request as JSON gives the same typed request (the body hash
 * aside: it is of the exact bytes). */
static void test_same_as_json(void **state)
{
    struct w *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    build(w, NULL, NULL, NULL);
    uint8_t raw[145];
    char *nonce = NULL, *pk = NULL, *attest = NULL, *sig = NULL;
    memset(raw, 0xaa, 32);
    assert_int_equal(ks_base64_encode(raw, 32, &nonce), KS_OK);
    memset(raw, 0xbb, 32);
    assert_int_equal(ks_base64_encode(raw, 32, &pk), KS_OK);
    memset(raw, 0x01, 145);
    assert_int_equal(ks_base64_encode(raw, 145, &attest), KS_OK);
    memset(raw, 0x02, 70);
    assert_int_equal(ks_base64_encode(raw, 70, &sig), KS_OK);
    char p0[65], p7[65], s10[41];
    memset(raw, 0x10, 32);
    ks_hex_encode(raw, 32, p0);
    memset(raw, 0x17, 32);
    ks_hex_encode(raw, 32, p7);
    memset(raw, 0x0a, 20);
    ks_hex_encode(raw, 20, s10);
    json_t *doc = json_pack("{s:s, s:s, s:s, s:[s, s], s:{s:s, s:s}, s:{s:{s:s, s:s}, s:{s:s}}}",
                            "ak_id", AK_ID, "nonce", nonce, "hpke_pk", pk, "keys", "weights",
                            "request-key@3", "quote", "attest", attest, "signature", sig, "pcrs",
                            "sha256", "0", p0, "7", p7, "sha1", "10", s10);
    char *text = json_dumps(doc, JSON_COMPACT);
    struct ks_release_request *a = NULL, *b = NULL;
    char detail[256];
    assert_int_equal(parse(w, &a, detail, sizeof(detail)), KS_OK);
    assert_int_equal(
        ks_release_request_parse((const uint8_t *)text, strlen(text), &b, detail, sizeof(detail)),
        KS_OK);
    assert_memory_equal(a->ak_name, b->ak_name, sizeof(a->ak_name));
    assert_memory_equal(a->nonce, b->nonce, sizeof(a->nonce));
    assert_memory_equal(a->hpke_pk, b->hpke_pk, sizeof(a->hpke_pk));
    assert_memory_equal(a->keys, b->keys, sizeof(a->keys));
    assert_int_equal(a->n_keys, b->n_keys);
    assert_int_equal(a->attest_len, b->attest_len);
    assert_memory_equal(a->attest, b->attest, a->attest_len);
    assert_memory_equal(a->signature, b->signature, a->signature_len);
    assert_memory_equal(&a->pcrs, &b->pcrs, sizeof(a->pcrs));
    assert_memory_not_equal(a->body_sha256, b->body_sha256, 32);
    ks_release_request_free(a);
    ks_release_request_free(b);
    free(text);
    json_decref(doc);
    free(nonce);
    free(pk);
    free(attest);
    free(sig);
    free(w);
}

static void v_logs_event(struct w *w)
{
    bstr(w, 0x55, 1000);
}

static void test_valid_with_logs(void **state)
{
    struct w *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    build(w, NULL, "event_log", v_logs_event);
    struct ks_release_request *req = NULL;
    char detail[256];
    assert_int_equal(parse(w, &req, detail, sizeof(detail)), KS_OK);
    assert_int_equal(req->event_log_len, 1000);
    assert_int_equal(req->event_log[999], 0x55);
    assert_null(req->ima_log);
    ks_release_request_free(req);
    free(w);
}

/* ---- one bad value at a time ------------------------------------------------ */

static void v_tstr_nonce(struct w *w)
{
    tstr(w, "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq=");
}
static void v_bstr_31(struct w *w)
{
    bstr(w, 0xaa, 31);
}
static void v_bstr_16(struct w *w)
{
    bstr(w, 0xbb, 16);
}
static void v_bstr_0(struct w *w)
{
    bstr(w, 0, 0);
}
static void v_keys_empty(struct w *w)
{
    head(w, 4, 0);
}
static void v_keys_17(struct w *w)
{
    head(w, 4, 17);
    for (int i = 0; i < 17; i++) {
        char name[8];
        snprintf(name, sizeof(name), "k%d", i);
        tstr(w, name);
    }
}
static void v_keys_int(struct w *w)
{
    head(w, 4, 1);
    head(w, 0, 5);
}
static void v_keys_dup(struct w *w)
{
    head(w, 4, 2);
    tstr(w, "weights");
    tstr(w, "weights");
}
static void v_keys_bad(struct w *w)
{
    head(w, 4, 1);
    tstr(w, "bad name");
}
static void v_keys_map(struct w *w)
{
    head(w, 5, 0);
}
static void v_quote_nosig(struct w *w)
{
    head(w, 5, 1);
    tstr(w, "attest");
    bstr(w, 1, 10);
}
static void v_quote_extra(struct w *w)
{
    head(w, 5, 3);
    tstr(w, "attest");
    bstr(w, 1, 10);
    tstr(w, "signature");
    bstr(w, 2, 10);
    tstr(w, "extra");
    bstr(w, 2, 10);
}
static void v_quote_other(struct w *w)
{
    head(w, 5, 2);
    tstr(w, "attest");
    bstr(w, 1, 10);
    tstr(w, "sig");
    bstr(w, 2, 10);
}
static void v_pcrs_five_banks(struct w *w)
{
    static const char *const banks[] = {"sha1", "sha256", "sha384", "sha512", "sm3_256"};
    head(w, 5, 5);
    for (int i = 0; i < 5; i++) {
        tstr(w, banks[i]);
        head(w, 5, 1);
        head(w, 0, 0);
        bstr(w, 0, 32);
    }
}
static void v_quote_big(struct w *w)
{
    head(w, 5, 2);
    tstr(w, "attest");
    bstr(w, 1, 4097);
    tstr(w, "signature");
    bstr(w, 2, 10);
}
static void v_quote_emptysig(struct w *w)
{
    head(w, 5, 2);
    tstr(w, "attest");
    bstr(w, 1, 10);
    tstr(w, "signature");
    bstr(w, 2, 0);
}
static void v_pcrs_empty(struct w *w)
{
    head(w, 5, 0);
}
static void v_pcrs_md5(struct w *w)
{
    head(w, 5, 1);
    tstr(w, "md5");
    head(w, 5, 1);
    head(w, 0, 0);
    bstr(w, 0, 16);
}
static void v_pcrs_24(struct w *w)
{
    head(w, 5, 1);
    tstr(w, "sha256");
    head(w, 5, 1);
    head(w, 0, 24);
    bstr(w, 0, 32);
}
static void v_pcrs_text_index(struct w *w)
{
    head(w, 5, 1);
    tstr(w, "sha256");
    head(w, 5, 1);
    tstr(w, "0");
    bstr(w, 0, 32);
}
static void v_pcrs_neg_index(struct w *w)
{
    head(w, 5, 1);
    tstr(w, "sha256");
    head(w, 5, 1);
    head(w, 1, 0); /* -1 */
    bstr(w, 0, 32);
}
static void v_pcrs_short(struct w *w)
{
    head(w, 5, 1);
    tstr(w, "sha256");
    head(w, 5, 1);
    head(w, 0, 3);
    bstr(w, 0, 31);
}
static void v_pcrs_hex(struct w *w)
{
    head(w, 5, 1);
    tstr(w, "sha1");
    head(w, 5, 1);
    head(w, 0, 3);
    tstr(w, "0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a");
}
static void v_pcrs_bank_array(struct w *w)
{
    head(w, 5, 1);
    tstr(w, "sha256");
    head(w, 4, 0);
}
/* PCR 5 twice: as a one-byte and as a two-byte integer. */
static void v_pcrs_twice(struct w *w)
{
    head(w, 5, 1);
    tstr(w, "sha256");
    head(w, 5, 2);
    head_w(w, 0, 5, 1);
    bstr(w, 0, 32);
    head_w(w, 0, 5, 2);
    bstr(w, 1, 32);
}
static void v_ak_bytes(struct w *w)
{
    bstr(w, 0, 34);
}
static void v_ak_upper(struct w *w)
{
    tstr(w, "000B0102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F20");
}

static const struct {
    const char *omit, *name;
    value_fn *fn;
    const char *want;
} bad[] = {
    {"ak_id", NULL, NULL, "ak_id: missing"},
    {"nonce", NULL, NULL, "nonce: missing"},
    {"hpke_pk", NULL, NULL, "hpke_pk: missing"},
    {"keys", NULL, NULL, "keys: missing"},
    {"quote", NULL, NULL, "quote: missing"},
    {"pcrs", NULL, NULL, "pcrs: missing"},
    {NULL, "extra", v_nonce, "unknown member"},
    {NULL, "nonce", v_tstr_nonce, "nonce: expected a byte string"},
    {NULL, "nonce", v_bstr_31, "nonce: must decode to 32 bytes, got 31"},
    {NULL, "hpke_pk", v_bstr_16, "hpke_pk: must decode to 32 bytes, got 16"},
    {NULL, "keys", v_keys_empty, "keys: expected 1 to 16 key names, got 0"},
    {NULL, "keys", v_keys_17, "keys: expected 1 to 16 key names, got 17"},
    {NULL, "keys", v_keys_int, "keys[0]: expected a text string"},
    {NULL, "keys", v_keys_dup, "keys[1]: key named twice"},
    {NULL, "keys", v_keys_bad, "keys[0]: key name must match"},
    {NULL, "keys", v_keys_map, "keys: expected an array"},
    {NULL, "quote", v_quote_nosig, "quote: signature missing"},
    {NULL, "quote", v_quote_extra, "quote: more than 2 members"},
    {NULL, "quote", v_quote_other, "quote: unknown member"},
    {NULL, "pcrs", v_pcrs_five_banks, "pcrs: more than 4 members"},
    {NULL, "quote", v_quote_big, "quote.attest: must decode to 1..4096 bytes, got 4097"},
    {NULL, "quote", v_quote_emptysig, "quote.signature: must decode to 1..1024 bytes, got 0"},
    {NULL, "quote", v_nonce, "quote: expected a map"},
    {NULL, "pcrs", v_pcrs_empty, "pcrs: expected a non-empty map"},
    {NULL, "pcrs", v_pcrs_md5, "pcrs: unknown bank 'md5'"},
    {NULL, "pcrs", v_pcrs_24, "pcrs.sha256: PCR index must be 0 to 23"},
    {NULL, "pcrs", v_pcrs_text_index, "pcrs.sha256: PCR index must be an unsigned integer"},
    {NULL, "pcrs", v_pcrs_neg_index, "pcrs.sha256: PCR index must be an unsigned integer"},
    {NULL, "pcrs", v_pcrs_short, "pcrs.sha256.3: expected a 32-byte digest"},
    {NULL, "pcrs", v_pcrs_hex, "pcrs.sha1: expected byte-string digests"},
    {NULL, "pcrs", v_pcrs_bank_array, "pcrs.sha256: expected a non-empty map"},
    {NULL, "pcrs", v_pcrs_twice, "pcrs.sha256.5: given twice"},
    {NULL, "ak_id", v_ak_bytes, "ak_id: expected a text string"},
    {NULL, "ak_id", v_ak_upper, "ak_id: expected a TPM Name"},
    {NULL, "event_log", v_bstr_0, "event_log: must decode to 1.."},
    {NULL, "ima_log", v_tstr_nonce, "ima_log: expected a byte string"},
};

static void test_bad_values(void **state)
{
    struct w *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        build(w, bad[i].omit, bad[i].name, bad[i].fn);
        struct ks_release_request *req = NULL;
        char detail[256];
        int r = parse(w, &req, detail, sizeof(detail));
        if (r != KS_ERR_BAD_REQUEST || strstr(detail, bad[i].want) == NULL) {
            fail_msg("case %zu (%s): r=%d detail '%s', want '%s'", i,
                     bad[i].name ? bad[i].name : bad[i].omit, r, detail, bad[i].want);
        }
        assert_null(req);
    }
    free(w);
}

/* ---- the syntax ------------------------------------------------------------- */

static void expect(const uint8_t *buf, size_t len, const char *want)
{
    struct ks_release_request *req = NULL;
    char detail[256] = "";
    int r = ks_release_request_parse_cbor(buf, len, &req, detail, sizeof(detail));
    if (r != KS_ERR_BAD_REQUEST || strstr(detail, want) == NULL) {
        fail_msg("r=%d detail '%s', want '%s'", r, detail, want);
    }
    assert_null(req);
}

static void test_syntax(void **state)
{
    struct w *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    build(w, NULL, NULL, NULL);
    /* Trailing byte. */
    w->buf[w->n] = 0x00;
    expect(w->buf, w->n + 1, "trailing bytes");
    /* Every truncation. */
    for (size_t n = 0; n < w->n; n++) {
        struct ks_release_request *req = NULL;
        char detail[256];
        assert_int_equal(ks_release_request_parse_cbor(w->buf, n, &req, detail, sizeof(detail)),
                         KS_ERR_BAD_REQUEST);
        assert_null(req);
    }
    /* A lone "break", and a reserved additional-information value (28). */
    expect((const uint8_t *)"\xff", 1, "only definite lengths");
    expect((const uint8_t *)"\x1c", 1, "invalid CBOR at byte 0 (malformed)");
    /* Not a map: an array. */
    expect((const uint8_t *)"\x80", 1, "body: expected a map");
    /* A map whose key is an integer. */
    expect((const uint8_t *)"\xa1\x01\x02", 3, "map keys must be text strings");
    /* A key twice. */
    struct w *d = calloc(1, sizeof(*d));
    assert_non_null(d);
    head(d, 5, 2);
    tstr(d, "nonce");
    bstr(d, 0xaa, 32);
    tstr(d, "nonce");
    bstr(d, 0xaa, 32);
    expect(d->buf, d->n, "a key given twice");
    /* An indefinite-length byte string (two chunks) as the nonce. */
    d->n = 0;
    head(d, 5, 1);
    tstr(d, "nonce");
    put(d, 0x5f);
    bstr(d, 0xaa, 16);
    bstr(d, 0xaa, 16);
    put(d, 0xff);
    expect(d->buf, d->n, "only definite lengths");
    /* An indefinite-length map. */
    d->n = 0;
    put(d, 0xbf);
    tstr(d, "nonce");
    bstr(d, 0xaa, 32);
    put(d, 0xff);
    expect(d->buf, d->n, "only definite lengths");
    /* A tag (0: date/time string) on ak_id. */
    d->n = 0;
    head(d, 5, 1);
    tstr(d, "ak_id");
    put(d, 0xc0);
    tstr(d, AK_ID);
    expect(d->buf, d->n, "no tags");
    /* A float and a simple value. */
    d->n = 0;
    head(d, 5, 1);
    tstr(d, "nonce");
    put(d, 0xf9);
    put(d, 0x3c);
    put(d, 0x00);
    expect(d->buf, d->n, "floats or simple values");
    d->n = 0;
    head(d, 5, 1);
    tstr(d, "nonce");
    put(d, 0xf5); /* true */
    expect(d->buf, d->n, "floats or simple values");
    /* Deep nesting. */
    d->n = 0;
    for (int i = 0; i < 64; i++) {
        put(d, 0x81);
    }
    put(d, 0x00);
    expect(d->buf, d->n, "nested more than 8 levels");
    /* Regression (fuzz_release_request_cbor, out of memory): heads declaring
     * more elements than there are bytes, which libcbor's cbor_load would
     * allocate up front (an array of 2^32 - 1, a map of 2^63, a byte
     * string of 2^32). */
    expect((const uint8_t *)"\x9a\xff\xff\xff\xff\x00", 6, "declares more elements");
    expect((const uint8_t *)"\xbb\x80\x00\x00\x00\x00\x00\x00\x00\x00", 10,
           "declares more elements");
    expect((const uint8_t *)"\xa1\x61\x61\x82\x00", 5, "declares more elements");
    expect((const uint8_t *)"\x5a\xff\xff\xff\xff\x00", 6, "invalid CBOR at byte 0 (truncated)");
    /* Text that is not UTF-8 (fuzz_release_request_cbor: was an internal
     * error). */
    d->n = 0;
    head(d, 5, 1);
    tstr(d, "no\x9b\x9c"
            "e");
    bstr(d, 0, 1);
    expect(d->buf, d->n, "text strings must be UTF-8");
    /* A top-level map with more members than a request has (checked before
     * the quadratic duplicate check). */
    d->n = 0;
    head(d, 5, 10);
    for (int i = 0; i < 10; i++) {
        char name[8];
        snprintf(name, sizeof(name), "m%d", i);
        tstr(d, name);
        head(d, 0, 0);
    }
    expect(d->buf, d->n, "body: more than 9 members");
    /* Too many items: an array of 5000 zeros. */
    d->n = 0;
    head(d, 4, 5000);
    for (int i = 0; i < 5000; i++) {
        put(d, 0x00);
    }
    expect(d->buf, d->n, "more than 4096 items");
    free(d);
    free(w);
}

static void test_invalid_args(void **state)
{
    struct ks_release_request *req = NULL;
    char detail[64];
    assert_int_equal(ks_release_request_parse_cbor(NULL, 3, &req, detail, sizeof(detail)),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(
        ks_release_request_parse_cbor((const uint8_t *)"\xa0", 1, NULL, detail, sizeof(detail)),
        KS_ERR_INVALID_ARG);
    expect((const uint8_t *)"", 0, "invalid CBOR");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),           cmocka_unit_test(test_same_as_json),
        cmocka_unit_test(test_valid_with_logs), cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_syntax),          cmocka_unit_test(test_invalid_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
