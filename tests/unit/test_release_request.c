/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include <jansson.h>
#include <openssl/evp.h>

#include "encoding.h"
#include "keyserverd/release_request.h"

static char *b64(const uint8_t *buf, size_t len)
{
    char *s = NULL;
    assert_int_equal(ks_base64_encode(buf, len, &s), KS_OK);
    return s;
}

static char *b64_fill(uint8_t byte, size_t len)
{
    uint8_t *buf = malloc(len ? len : 1);
    assert_non_null(buf);
    memset(buf, byte, len);
    char *s = b64(buf, len);
    free(buf);
    return s;
}

static char *hex_fill(uint8_t byte, size_t len)
{
    uint8_t buf[64];
    char *s = malloc(2 * len + 1);
    assert_non_null(s);
    memset(buf, byte, sizeof(buf));
    ks_hex_encode(buf, len, s);
    return s;
}

#define AK_ID                                                                                      \
    "000b"                                                                                         \
    "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"

/* A valid request document. */
static json_t *valid_doc(void)
{
    char *nonce = b64_fill(0xaa, 32), *pk = b64_fill(0xbb, 32), *attest = b64_fill(0x01, 145);
    char *sig = b64_fill(0x02, 70), *p0 = hex_fill(0x10, 32), *p7 = hex_fill(0x17, 32);
    char *s10 = hex_fill(0x0a, 20);
    json_t *doc = json_pack("{s:s, s:s, s:s, s:[s, s], s:{s:s, s:s}, s:{s:{s:s, s:s}, s:{s:s}}}",
                            "ak_id", AK_ID, "nonce", nonce, "hpke_pk", pk, "keys", "weights",
                            "request-key@3", "quote", "attest", attest, "signature", sig, "pcrs",
                            "sha256", "0", p0, "7", p7, "sha1", "10", s10);
    assert_non_null(doc);
    free(nonce);
    free(pk);
    free(attest);
    free(sig);
    free(p0);
    free(p7);
    free(s10);
    return doc;
}

static int parse_doc(const json_t *doc, struct ks_release_request **ret, char *detail, size_t n)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    assert_non_null(text);
    detail[0] = '\0';
    int r = ks_release_request_parse((const uint8_t *)text, strlen(text), ret, detail, n);
    free(text);
    return r;
}

static void test_valid(void **state)
{
    json_t *doc = valid_doc();
    char *text = json_dumps(doc, JSON_COMPACT);
    struct ks_release_request *req = NULL;
    char detail[256] = "";
    assert_int_equal(
        ks_release_request_parse((const uint8_t *)text, strlen(text), &req, detail, sizeof(detail)),
        KS_OK);
    assert_non_null(req);
    assert_int_equal(req->ak_name_len, 34);
    assert_int_equal(req->ak_name[0], 0x00);
    assert_int_equal(req->ak_name[1], 0x0b);
    for (int i = 0; i < 32; i++) {
        assert_int_equal(req->ak_name[2 + i], i + 1);
        assert_int_equal(req->nonce[i], 0xaa);
        assert_int_equal(req->hpke_pk[i], 0xbb);
    }
    assert_int_equal(req->n_keys, 2);
    assert_string_equal(req->keys[0].name, "weights");
    assert_int_equal(req->keys[0].version, 0);
    assert_string_equal(req->keys[1].name, "request-key");
    assert_int_equal(req->keys[1].version, 3);
    assert_int_equal(req->attest_len, 145);
    assert_int_equal(req->attest[144], 0x01);
    assert_int_equal(req->signature_len, 70);
    const uint8_t *v = NULL;
    assert_int_equal(ks_pcr_set_get(&req->pcrs, KS_ALG_SHA256, 0, &v), KS_OK);
    assert_int_equal(v[0], 0x10);
    assert_int_equal(v[31], 0x10);
    assert_int_equal(ks_pcr_set_get(&req->pcrs, KS_ALG_SHA256, 7, &v), KS_OK);
    assert_int_equal(v[0], 0x17);
    assert_int_equal(ks_pcr_set_get(&req->pcrs, KS_ALG_SHA1, 10, &v), KS_OK);
    assert_int_equal(v[19], 0x0a);
    assert_false(ks_pcr_set_has(&req->pcrs, KS_ALG_SHA256, 1));
    assert_false(ks_pcr_set_has(&req->pcrs, KS_ALG_SHA384, 0));
    assert_null(req->event_log);
    assert_null(req->ima_log);
    assert_null(req->app_log);
    /* SHA-256 of the exact body, against OpenSSL. */
    uint8_t want[32];
    assert_int_equal(EVP_Digest(text, strlen(text), want, NULL, EVP_sha256(), NULL), 1);
    assert_memory_equal(req->body_sha256, want, 32);
    ks_release_request_free(req);
    free(text);
    json_decref(doc);
}

static void test_valid_with_logs(void **state)
{
    json_t *doc = valid_doc();
    char *ev = b64_fill(0x55, 1000), *ima = b64_fill(0x66, 10), *app = b64_fill(0x77, 1);
    json_object_set_new(doc, "event_log", json_string(ev));
    json_object_set_new(doc, "ima_log", json_string(ima));
    json_object_set_new(doc, "app_log", json_string(app));
    struct ks_release_request *req = NULL;
    char detail[256];
    assert_int_equal(parse_doc(doc, &req, detail, sizeof(detail)), KS_OK);
    assert_int_equal(req->event_log_len, 1000);
    assert_int_equal(req->event_log[999], 0x55);
    assert_int_equal(req->ima_log_len, 10);
    assert_int_equal(req->app_log_len, 1);
    assert_int_equal(req->app_log[0], 0x77);
    ks_release_request_free(req);
    free(ev);
    free(ima);
    free(app);
    json_decref(doc);
}

/* Sixteen keys are fine; "a" and "a@1" are different references. */
static void test_max_keys(void **state)
{
    json_t *doc = valid_doc();
    json_t *keys = json_array();
    char name[16];
    for (int i = 0; i < 16; i++) {
        snprintf(name, sizeof(name), i == 15 ? "k0@1" : "k%d", i);
        json_array_append_new(keys, json_string(name));
    }
    json_object_set_new(doc, "keys", keys);
    struct ks_release_request *req = NULL;
    char detail[256];
    assert_int_equal(parse_doc(doc, &req, detail, sizeof(detail)), KS_OK);
    assert_int_equal(req->n_keys, 16);
    assert_string_equal(req->keys[15].name, "k0");
    assert_int_equal(req->keys[15].version, 1);
    ks_release_request_free(req);
    json_decref(doc);
}

struct bad_case {
    const char *member; /* member to change (NULL: raw text) */
    json_t *(*value)(void);
    const char *raw;
    const char *want; /* expected prefix of the detail */
};

static json_t *v_number(void)
{
    return json_integer(5);
}
static json_t *v_null(void)
{
    return json_null();
}
static json_t *v_bad_b64(void)
{
    return json_string("@@@@");
}
static json_t *v_b64_31(void)
{
    char *s = b64_fill(1, 31);
    json_t *v = json_string(s);
    free(s);
    return v;
}
static json_t *v_b64_33(void)
{
    char *s = b64_fill(1, 33);
    json_t *v = json_string(s);
    free(s);
    return v;
}
static json_t *v_b64_36(void)
{
    char *s = b64_fill(1, 36);
    json_t *v = json_string(s);
    free(s);
    return v;
}
static json_t *v_b64_16(void)
{
    char *s = b64_fill(1, 16);
    json_t *v = json_string(s);
    free(s);
    return v;
}
static json_t *v_b64_unpadded(void)
{
    char *s = b64_fill(1, 32); /* 44 chars with one '=' */
    s[43] = '\0';
    json_t *v = json_string(s);
    free(s);
    return v;
}
static json_t *v_b64_space(void)
{
    char *s = b64_fill(1, 32);
    s[4] = ' ';
    json_t *v = json_string(s);
    free(s);
    return v;
}
static json_t *v_b64_urlsafe(void)
{
    uint8_t buf[32];
    memset(buf, 0xfb, sizeof(buf)); /* encodes with '+' and '/' */
    char *s = b64(buf, sizeof(buf));
    for (char *p = s; *p; p++) {
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    }
    json_t *v = json_string(s);
    free(s);
    return v;
}
static json_t *v_ak_upper(void)
{
    char s[] = AK_ID;
    s[10] = 'A';
    s[11] = 'B';
    return json_string(s);
}
static json_t *v_ak_short(void)
{
    return json_string("000b0102030405060708090a0b0c0d0e0f1011121314");
}
static json_t *v_ak_alg(void)
{
    return json_string("0099"
                       "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20");
}
static json_t *v_ak_odd(void)
{
    return json_string(AK_ID "0");
}
static json_t *v_keys_object(void)
{
    return json_pack("{s:s}", "a", "b");
}
static json_t *v_keys_empty(void)
{
    return json_array();
}
static json_t *v_keys_17(void)
{
    json_t *a = json_array();
    char name[8];
    for (int i = 0; i < 17; i++) {
        snprintf(name, sizeof(name), "k%d", i);
        json_array_append_new(a, json_string(name));
    }
    return a;
}
static json_t *v_keys_slash(void)
{
    return json_pack("[s]", "a/b");
}
static json_t *v_keys_long(void)
{
    char name[66];
    memset(name, 'n', 65);
    name[65] = '\0';
    return json_pack("[s]", name);
}
static json_t *v_keys_at0(void)
{
    return json_pack("[s]", "a@0");
}
static json_t *v_keys_at01(void)
{
    return json_pack("[s]", "a@01");
}
static json_t *v_keys_at_big(void)
{
    return json_pack("[s]", "a@4294967296");
}
static json_t *v_keys_at_empty(void)
{
    return json_pack("[s]", "a@");
}
static json_t *v_keys_no_name(void)
{
    return json_pack("[s]", "@1");
}
static json_t *v_keys_space(void)
{
    return json_pack("[s]", "a b");
}
static json_t *v_keys_number(void)
{
    return json_pack("[s, i]", "a", 1);
}
static json_t *v_keys_dup(void)
{
    return json_pack("[s, s, s]", "a", "b@2", "b@2");
}
static json_t *v_quote_array(void)
{
    return json_array();
}
static json_t *v_quote_nosig(void)
{
    return json_pack("{s:s}", "attest", "AAAA");
}
static json_t *v_quote_extra(void)
{
    return json_pack("{s:s, s:s, s:s}", "attest", "AAAA", "signature", "AAAA", "pcrs", "x");
}
static json_t *v_quote_bad_attest(void)
{
    return json_pack("{s:s, s:s}", "attest", "AAA", "signature", "AAAA");
}
static json_t *v_quote_big_attest(void)
{
    char *s = b64_fill(1, 4097);
    json_t *v = json_pack("{s:s, s:s}", "attest", s, "signature", "AAAA");
    free(s);
    return v;
}
static json_t *v_quote_huge_attest(void)
{
    char *s = b64_fill(1, 100000);
    json_t *v = json_pack("{s:s, s:s}", "attest", s, "signature", "AAAA");
    free(s);
    return v;
}
static json_t *v_quote_empty_sig(void)
{
    return json_pack("{s:s, s:s}", "attest", "AAAA", "signature", "");
}
static json_t *pcr_doc(const char *bank, const char *index, json_t *value)
{
    return json_pack("{s:{s:o}}", bank, index, value);
}
static json_t *v_pcrs_array(void)
{
    return json_array();
}
static json_t *v_pcrs_empty(void)
{
    return json_object();
}
static json_t *v_pcrs_md5(void)
{
    return pcr_doc("md5", "0", json_string("00"));
}
static json_t *v_pcrs_upper_bank(void)
{
    return pcr_doc("SHA256", "0", json_string("00"));
}
static json_t *v_pcrs_bank_empty(void)
{
    return json_pack("{s:{}}", "sha256");
}
static json_t *v_pcrs_bank_array(void)
{
    return json_pack("{s:[]}", "sha256");
}
static json_t *hex32(void)
{
    char *s = hex_fill(0x33, 32);
    json_t *v = json_string(s);
    free(s);
    return v;
}
static json_t *v_pcrs_index24(void)
{
    return pcr_doc("sha256", "24", hex32());
}
static json_t *v_pcrs_index07(void)
{
    return pcr_doc("sha256", "07", hex32());
}
static json_t *v_pcrs_index_neg(void)
{
    return pcr_doc("sha256", "-1", hex32());
}
static json_t *v_pcrs_index_empty(void)
{
    return pcr_doc("sha256", "", hex32());
}
static json_t *v_pcrs_upper_hex(void)
{
    char *s = hex_fill(0xab, 32);
    s[0] = 'A';
    json_t *v = pcr_doc("sha256", "1", json_string(s));
    free(s);
    return v;
}
static json_t *v_pcrs_short_hex(void)
{
    char *s = hex_fill(0xab, 20); /* a SHA-1 value in the SHA-256 bank */
    json_t *v = pcr_doc("sha256", "1", json_string(s));
    free(s);
    return v;
}
static json_t *v_pcrs_not_hex(void)
{
    char *s = hex_fill(0xab, 32);
    s[7] = 'g';
    json_t *v = pcr_doc("sha256", "1", json_string(s));
    free(s);
    return v;
}
static json_t *v_pcrs_number(void)
{
    return pcr_doc("sha384", "1", json_integer(0));
}

static const struct bad_case cases[] = {
    {NULL, NULL, "{", "invalid JSON at line 1"},
    {NULL, NULL, "", "invalid JSON"},
    {NULL, NULL, "[1,2]", "body must be a JSON object"},
    {NULL, NULL, "{\"nonce\":\"AAAA\",\"nonce\":\"AAAA\"}", "invalid JSON at line 1 column"},
    {NULL, NULL, "{\"ak_id\":\"a\\u0000b\"}", "invalid JSON"},
    {NULL, NULL, "{\"extra\":1}", "unknown member 'extra'"},
    {NULL, NULL, "{}", "ak_id: missing"},
    {"nonce", v_number, NULL, "nonce: expected a string"},
    {"nonce", v_null, NULL, "nonce: expected a string"},
    {"nonce", v_bad_b64, NULL, "nonce: invalid base64"},
    {"nonce", v_b64_31, NULL, "nonce: must decode to 32 bytes, got 31"},
    {"nonce", v_b64_33, NULL, "nonce: must decode to 32 bytes, got 33"},
    {"nonce", v_b64_36, NULL, "nonce: longer than 32 bytes"},
    {"nonce", v_b64_unpadded, NULL, "nonce: invalid base64"},
    {"nonce", v_b64_space, NULL, "nonce: invalid base64"},
    {"nonce", v_b64_urlsafe, NULL, "nonce: invalid base64"},
    {"hpke_pk", v_b64_16, NULL, "hpke_pk: must decode to 32 bytes, got 16"},
    {"hpke_pk", v_number, NULL, "hpke_pk: expected a string"},
    {"ak_id", v_ak_upper, NULL, "ak_id: expected a TPM Name"},
    {"ak_id", v_ak_short, NULL, "ak_id: expected a TPM Name"},
    {"ak_id", v_ak_alg, NULL, "ak_id: expected a TPM Name"},
    {"ak_id", v_ak_odd, NULL, "ak_id: expected a TPM Name"},
    {"ak_id", v_number, NULL, "ak_id: expected a string"},
    {"keys", v_keys_object, NULL, "keys: expected an array"},
    {"keys", v_keys_empty, NULL, "keys: expected 1 to 16 key names, got 0"},
    {"keys", v_keys_17, NULL, "keys: expected 1 to 16 key names, got 17"},
    {"keys", v_keys_slash, NULL, "keys[0]: key name must match"},
    {"keys", v_keys_long, NULL, "keys[0]: key name must match"},
    {"keys", v_keys_at0, NULL, "keys[0]: key name must match"},
    {"keys", v_keys_at01, NULL, "keys[0]: key name must match"},
    {"keys", v_keys_at_big, NULL, "keys[0]: key name must match"},
    {"keys", v_keys_at_empty, NULL, "keys[0]: key name must match"},
    {"keys", v_keys_no_name, NULL, "keys[0]: key name must match"},
    {"keys", v_keys_space, NULL, "keys[0]: key name must match"},
    {"keys", v_keys_number, NULL, "keys[1]: expected a string"},
    {"keys", v_keys_dup, NULL, "keys[2]: key named twice"},
    {"quote", v_quote_array, NULL, "quote: expected an object"},
    {"quote", v_quote_nosig, NULL, "quote: signature missing"},
    {"quote", v_quote_extra, NULL, "quote: unknown member"},
    {"quote", v_quote_bad_attest, NULL, "quote.attest: invalid base64"},
    {"quote", v_quote_big_attest, NULL, "quote.attest: must decode to 1..4096 bytes, got 4097"},
    {"quote", v_quote_huge_attest, NULL, "quote.attest: longer than 4096 bytes"},
    {"quote", v_quote_empty_sig, NULL, "quote.signature: must decode to 1..1024 bytes, got 0"},
    {"pcrs", v_pcrs_array, NULL, "pcrs: expected a non-empty object"},
    {"pcrs", v_pcrs_empty, NULL, "pcrs: expected a non-empty object"},
    {"pcrs", v_pcrs_md5, NULL, "pcrs: unknown bank 'md5'"},
    {"pcrs", v_pcrs_upper_bank, NULL, "pcrs: unknown bank 'SHA256'"},
    {"pcrs", v_pcrs_bank_empty, NULL, "pcrs.sha256: expected a non-empty object"},
    {"pcrs", v_pcrs_bank_array, NULL, "pcrs.sha256: expected a non-empty object"},
    {"pcrs", v_pcrs_index24, NULL, "pcrs.sha256: PCR index must be"},
    {"pcrs", v_pcrs_index07, NULL, "pcrs.sha256: PCR index must be"},
    {"pcrs", v_pcrs_index_neg, NULL, "pcrs.sha256: PCR index must be"},
    {"pcrs", v_pcrs_index_empty, NULL, "pcrs.sha256: PCR index must be"},
    {"pcrs", v_pcrs_upper_hex, NULL, "pcrs.sha256.1: expected 64 lowercase hex digits"},
    {"pcrs", v_pcrs_short_hex, NULL, "pcrs.sha256.1: expected 64 lowercase hex digits"},
    {"pcrs", v_pcrs_not_hex, NULL, "pcrs.sha256.1: expected 64 lowercase hex digits"},
    {"pcrs", v_pcrs_number, NULL, "pcrs.sha384.1: expected 96 lowercase hex digits"},
    {"event_log", v_null, NULL, "event_log: expected a string"},
    {"ima_log", v_bad_b64, NULL, "ima_log: invalid base64"},
    {"app_log", v_number, NULL, "app_log: expected a string"},
};

static void test_malformed(void **state)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct bad_case *c = &cases[i];
        struct ks_release_request *req = NULL;
        char detail[256] = "";
        int r;
        if (c->raw) {
            r = ks_release_request_parse((const uint8_t *)c->raw, strlen(c->raw), &req, detail,
                                         sizeof(detail));
        } else {
            json_t *doc = valid_doc();
            assert_int_equal(json_object_set_new(doc, c->member, c->value()), 0);
            r = parse_doc(doc, &req, detail, sizeof(detail));
            json_decref(doc);
        }
        if (r != KS_ERR_BAD_REQUEST || strncmp(detail, c->want, strlen(c->want)) != 0) {
            fail_msg("case %zu (%s): got %d '%s', want '%s'", i, c->member ? c->member : c->raw, r,
                     detail, c->want);
        }
        assert_null(req);
    }
}

/* Each required member, removed. */
static void test_missing_members(void **state)
{
    static const char *const required[] = {"ak_id", "nonce", "hpke_pk", "keys", "quote", "pcrs"};
    for (size_t i = 0; i < 6; i++) {
        json_t *doc = valid_doc();
        json_object_del(doc, required[i]);
        struct ks_release_request *req = NULL;
        char detail[256], want[64];
        assert_int_equal(parse_doc(doc, &req, detail, sizeof(detail)), KS_ERR_BAD_REQUEST);
        snprintf(want, sizeof(want), "%s: missing", required[i]);
        assert_string_equal(detail, want);
        json_decref(doc);
    }
}

/* A duplicate member inside a nested object is refused too. */
static void test_duplicate_nested(void **state)
{
    json_t *doc = valid_doc();
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    /* {"ak_id":...,"pcrs":{"sha1":{...},"sha256":{...}},...}: repeat sha1. */
    char *p = strstr(text, "\"sha1\":{");
    assert_non_null(p);
    char *end = strchr(p, '}');
    size_t seg = (size_t)(end - p) + 1;
    size_t n = strlen(text);
    char *dup = malloc(n + seg + 2);
    size_t off = (size_t)(end + 1 - text);
    memcpy(dup, text, off);
    dup[off] = ',';
    memcpy(dup + off + 1, p, seg);
    memcpy(dup + off + 1 + seg, end + 1, n - off + 1);
    struct ks_release_request *req = NULL;
    char detail[256] = "";
    assert_int_equal(
        ks_release_request_parse((const uint8_t *)dup, strlen(dup), &req, detail, sizeof(detail)),
        KS_ERR_BAD_REQUEST);
    assert_non_null(strstr(detail, "duplicate"));
    free(dup);
    free(text);
    json_decref(doc);
}

/* Every prefix of a valid body is refused, without a crash or a leak. */
static void test_truncated(void **state)
{
    json_t *doc = valid_doc();
    char *text = json_dumps(doc, JSON_COMPACT);
    size_t n = strlen(text);
    for (size_t len = 0; len < n; len++) {
        struct ks_release_request *req = NULL;
        char detail[256];
        assert_int_equal(
            ks_release_request_parse((const uint8_t *)text, len, &req, detail, sizeof(detail)),
            KS_ERR_BAD_REQUEST);
        assert_null(req);
    }
    free(text);
    json_decref(doc);
}

static void test_key_ref(void **state)
{
    struct ks_key_ref ref;
    assert_int_equal(ks_key_ref_parse("A-z_0.9", 7, &ref), KS_OK);
    assert_string_equal(ref.name, "A-z_0.9");
    assert_int_equal(ref.version, 0);
    assert_int_equal(ks_key_ref_parse("k@4294967295", 12, &ref), KS_OK);
    assert_int_equal(ref.version, 4294967295u);
    char name[70];
    memset(name, 'x', 64);
    strcpy(name + 64, "@12");
    assert_int_equal(ks_key_ref_parse(name, strlen(name), &ref), KS_OK);
    assert_int_equal(strlen(ref.name), 64);
    assert_int_equal(ref.version, 12);
    /* Length is explicit: a NUL inside is not a terminator. */
    assert_int_equal(ks_key_ref_parse("ab\0c", 4, &ref), KS_ERR_BAD_REQUEST);
    assert_int_equal(ks_key_ref_parse("", 0, &ref), KS_ERR_BAD_REQUEST);
    assert_int_equal(ks_key_ref_parse("a@1@2", 5, &ref), KS_ERR_BAD_REQUEST);
    assert_int_equal(ks_key_ref_parse("a@12345678901", 13, &ref), KS_ERR_BAD_REQUEST);
    assert_int_equal(ks_key_ref_parse("\xc3\xa9", 2, &ref), KS_ERR_BAD_REQUEST);
    assert_int_equal(ks_key_ref_parse(NULL, 0, &ref), KS_ERR_INVALID_ARG);
}

static void test_invalid_args(void **state)
{
    struct ks_release_request *req = NULL;
    char detail[16];
    assert_int_equal(ks_release_request_parse(NULL, 5, &req, detail, sizeof(detail)),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(
        ks_release_request_parse((const uint8_t *)"{}", 2, NULL, detail, sizeof(detail)),
        KS_ERR_INVALID_ARG);
    /* A NULL detail buffer is fine. */
    assert_int_equal(ks_release_request_parse((const uint8_t *)"{}", 2, &req, NULL, 0),
                     KS_ERR_BAD_REQUEST);
    ks_release_request_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),           cmocka_unit_test(test_valid_with_logs),
        cmocka_unit_test(test_max_keys),        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_missing_members), cmocka_unit_test(test_duplicate_nested),
        cmocka_unit_test(test_truncated),       cmocka_unit_test(test_key_ref),
        cmocka_unit_test(test_invalid_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
