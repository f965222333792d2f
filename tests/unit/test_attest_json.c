/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "attest_fixture.h"

#include <jansson.h>

#include "encoding.h"
#include "hpke.h"
#include "loader-ref/attest.h"
#include "loader-ref/pcr_select.h"
#include "tpm_alg.h"

/*
 * The loader's release protocol, without TPM or network: the quote binding,
 * key references, PCR selections, the request JSON, and the strict parsing
 * of the keyserver's answers. Valid responses carry real HPKE ciphertexts
 * (ks_hpke_seal_base, itself checked against the RFC 9180 vectors in
 * test_hpke); every malformed variant must fail with its own error code
 * and return nothing.
 */

/* Expected values computed with Python's hashlib and base64 modules. */
#define NONCE_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define PK_B64 "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="
#define BINDING_HEX "2188ee4b2f751c04b2d04086830dd3a4bd35c7fef7b60a3465be7bcbc3fec790"

static struct ks_attest_result sentinel_result;
#define SENTINEL (&sentinel_result)

/* ---- binding ---------------------------------------------------------------- */

static void test_binding_vector(void **state)
{
    uint8_t nonce[32], pk[32], out[32];
    char hex[65];
    fill(nonce, 32, 0);
    fill(pk, 32, 32);
    assert_int_equal(ks_attest_binding(nonce, pk, out), KS_OK);
    ks_hex_encode(out, 32, hex);
    assert_string_equal(hex, BINDING_HEX);
    /* Each input matters. */
    pk[31] ^= 1;
    assert_int_equal(ks_attest_binding(nonce, pk, out), KS_OK);
    ks_hex_encode(out, 32, hex);
    assert_string_not_equal(hex, BINDING_HEX);
    assert_int_equal(ks_attest_binding(NULL, pk, out), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_attest_binding(nonce, NULL, out), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_attest_binding(nonce, pk, NULL), KS_ERR_INVALID_ARG);
}

/* ---- key references ---------------------------------------------------------- */

static void test_key_ref_valid(void **state)
{
    char name[KS_ATTEST_KEY_NAME_MAX + 1];
    uint32_t v = 99;
    char long_name[KS_ATTEST_KEY_NAME_MAX + 1];
    memset(long_name, 'k', KS_ATTEST_KEY_NAME_MAX);
    long_name[KS_ATTEST_KEY_NAME_MAX] = '\0';

    assert_int_equal(ks_attest_key_ref_parse("dek", name, &v), KS_OK);
    assert_string_equal(name, "dek");
    assert_int_equal(v, 0);
    assert_int_equal(ks_attest_key_ref_parse("A.b_c-9@17", name, &v), KS_OK);
    assert_string_equal(name, "A.b_c-9");
    assert_int_equal(v, 17);
    assert_int_equal(ks_attest_key_ref_parse("x@4294967295", name, &v), KS_OK);
    assert_int_equal(v, 4294967295u);
    assert_int_equal(ks_attest_key_ref_parse(long_name, name, &v), KS_OK);
    assert_string_equal(name, long_name);
    assert_int_equal(ks_attest_key_ref_parse("dek@1", NULL, NULL), KS_OK);
}

static void test_key_ref_invalid(void **state)
{
    static const char *const bad[] = {
        "",
        "@1",
        "dek@",
        "dek@0",
        "dek@01",
        "dek@4294967296",
        "dek@12345678901",
        "de k",
        "dek/x",
        "dek@1@2",
        "dek@-1",
        "dek@+1",
        "dék",
        "dek@1x",
    };
    char too_long[KS_ATTEST_KEY_NAME_MAX + 2];
    memset(too_long, 'k', KS_ATTEST_KEY_NAME_MAX + 1);
    too_long[KS_ATTEST_KEY_NAME_MAX + 1] = '\0';
    char name[KS_ATTEST_KEY_NAME_MAX + 1] = "unchanged";
    uint32_t v = 7;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(ks_attest_key_ref_parse(bad[i], name, &v), KS_ERR_INVALID_ARG);
    }
    assert_int_equal(ks_attest_key_ref_parse(too_long, name, &v), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_attest_key_ref_parse(NULL, name, &v), KS_ERR_INVALID_ARG);
    assert_string_equal(name, "unchanged");
    assert_int_equal(v, 7);
}

/* ---- PCR selections ---------------------------------------------------------- */

static void test_pcr_select_parse(void **state)
{
    TPML_PCR_SELECTION sel;
    assert_int_equal(ks_pcr_select_parse("sha256:0-7,15", &sel), KS_OK);
    assert_int_equal(sel.count, 1);
    assert_int_equal(sel.pcrSelections[0].hash, TPM2_ALG_SHA256);
    assert_int_equal(sel.pcrSelections[0].sizeofSelect, 3);
    assert_int_equal(sel.pcrSelections[0].pcrSelect[0], 0xff);
    assert_int_equal(sel.pcrSelections[0].pcrSelect[1], 0x80);
    assert_int_equal(sel.pcrSelections[0].pcrSelect[2], 0x00);

    /* Banks keep their order: the quote lists them so. */
    assert_int_equal(ks_pcr_select_parse("sha1:0,7+sha256:0,1,2,23+sha384:10", &sel), KS_OK);
    assert_int_equal(sel.count, 3);
    assert_int_equal(sel.pcrSelections[0].hash, TPM2_ALG_SHA1);
    assert_int_equal(sel.pcrSelections[0].pcrSelect[0], 0x81);
    assert_int_equal(sel.pcrSelections[1].hash, TPM2_ALG_SHA256);
    assert_int_equal(sel.pcrSelections[1].pcrSelect[0], 0x07);
    assert_int_equal(sel.pcrSelections[1].pcrSelect[2], 0x80);
    assert_int_equal(sel.pcrSelections[2].hash, TPM2_ALG_SHA384);
    assert_int_equal(sel.pcrSelections[2].pcrSelect[1], 0x04);

    assert_int_equal(ks_pcr_select_parse("sha512:0-23", &sel), KS_OK);
    assert_int_equal(sel.pcrSelections[0].pcrSelect[2], 0xff);
}

static void test_pcr_select_parse_invalid(void **state)
{
    static const char *const bad[] = {
        "",
        "sha256",
        "sha256:",
        "sha256:24",
        "sha256:7-3",
        "sha256:1,1",
        "sha256:0-3,2",
        "sha256:0+sha256:1",
        "md5:0",
        "sha256:0,",
        "sha256:00",
        "sha256:+",
        "sha256:0+",
        "SHA256:0",
        "sha256:-1",
        "sha256:1-",
        "sha256: 1",
        "sha256:100",
        "sha1:0+sha256:0+sha384:0+sha512:0+sha1:1",
    };
    TPML_PCR_SELECTION sel;
    memset(&sel, 0x5a, sizeof(sel));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(ks_pcr_select_parse(bad[i], &sel), KS_ERR_INVALID_ARG);
    }
    assert_int_equal(ks_pcr_select_parse(NULL, &sel), KS_ERR_INVALID_ARG);
    assert_int_equal(sel.count, 0x5a5a5a5a);
}

static void test_pcr_select_equal(void **state)
{
    TPML_PCR_SELECTION a, b;
    assert_int_equal(ks_pcr_select_parse("sha1:0+sha256:0-7", &a), KS_OK);
    assert_int_equal(ks_pcr_select_parse("sha1:0+sha256:0-7", &b), KS_OK);
    assert_true(ks_pcr_select_equal(&a, &b));
    /* sizeofSelect 4 with the extra byte zero is the same selection. */
    b.pcrSelections[1].sizeofSelect = 4;
    b.pcrSelections[1].pcrSelect[3] = 0;
    assert_true(ks_pcr_select_equal(&a, &b));
    b.pcrSelections[1].pcrSelect[3] = 1;
    assert_false(ks_pcr_select_equal(&a, &b));
    assert_int_equal(ks_pcr_select_parse("sha256:0-7+sha1:0", &b), KS_OK);
    assert_false(ks_pcr_select_equal(&a, &b));
    assert_int_equal(ks_pcr_select_parse("sha1:0+sha256:0-6", &b), KS_OK);
    assert_false(ks_pcr_select_equal(&a, &b));
    assert_int_equal(ks_pcr_select_parse("sha1:0", &b), KS_OK);
    assert_false(ks_pcr_select_equal(&a, &b));
    assert_false(ks_pcr_select_equal(&a, NULL));
}

static void test_pcr_select_values(void **state)
{
    TPML_PCR_SELECTION sel;
    struct ks_pcr_set set;
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(ks_pcr_select_parse("sha1:7+sha256:1,3", &sel), KS_OK);
    put_pcrs(&set, &sel);
    assert_int_equal(ks_pcr_select_values(&sel, &set, &buf, &len), KS_OK);
    /* Selection order: sha1 PCR 7, then sha256 PCRs 1 and 3. */
    assert_int_equal(len, 20 + 32 + 32);
    for (size_t i = 0; i < 20; i++) {
        assert_int_equal(buf[i], 0x07);
    }
    for (size_t i = 20; i < 52; i++) {
        assert_int_equal(buf[i], 0x11);
    }
    for (size_t i = 52; i < 84; i++) {
        assert_int_equal(buf[i], 0x13);
    }
    free(buf);

    /* A selected value that is missing. */
    buf = NULL;
    ks_pcr_set_init(&set);
    assert_int_equal(ks_pcr_select_values(&sel, &set, &buf, &len), KS_ERR_QUOTE_PCR_MISSING);
    assert_null(buf);
    sel.pcrSelections[0].hash = 0x0010;
    assert_int_equal(ks_pcr_select_values(&sel, &set, &buf, &len), KS_ERR_QUOTE_PCR_SELECTION);
    assert_int_equal(ks_pcr_select_values(NULL, &set, &buf, &len), KS_ERR_INVALID_ARG);
}

/* ---- challenge ------------------------------------------------------------------ */

static int challenge(const char *json, uint8_t *nonce, int64_t *expires)
{
    return ks_attest_challenge_parse((const uint8_t *)json, strlen(json), nonce, expires);
}

static void test_challenge_parse(void **state)
{
    uint8_t nonce[32], want[32];
    int64_t expires = 0;
    fill(want, 32, 0);
    assert_int_equal(
        challenge("{\"nonce\":\"" NONCE_B64 "\",\"expires\":1700000000}", nonce, &expires), KS_OK);
    assert_memory_equal(nonce, want, 32);
    assert_int_equal(expires, 1700000000);
}

static void test_challenge_parse_invalid(void **state)
{
    uint8_t nonce[32];
    int64_t expires = 42;
    memset(nonce, 0xee, sizeof(nonce));
    assert_int_equal(challenge("{\"expires\":1}", nonce, &expires), KS_ERR_RESP_MISSING);
    assert_int_equal(challenge("{\"nonce\":\"" NONCE_B64 "\"}", nonce, &expires),
                     KS_ERR_RESP_MISSING);
    assert_int_equal(challenge("{\"nonce\":\"" NONCE_B64 "\",\"expires\":\"1\"}", nonce, &expires),
                     KS_ERR_RESP_TYPE);
    assert_int_equal(challenge("{\"nonce\":\"" NONCE_B64 "\",\"expires\":1.5}", nonce, &expires),
                     KS_ERR_RESP_TYPE);
    assert_int_equal(challenge("{\"nonce\":7,\"expires\":1}", nonce, &expires), KS_ERR_RESP_TYPE);
    assert_int_equal(challenge("{\"nonce\":\"" NONCE_B64 "\",\"expires\":-1}", nonce, &expires),
                     KS_ERR_RESP_VALUE);
    assert_int_equal(challenge("{\"nonce\":\"AAAA\",\"expires\":1}", nonce, &expires),
                     KS_ERR_RESP_VALUE);
    assert_int_equal(challenge("{\"nonce\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\","
                               "\"expires\":1}",
                               nonce, &expires),
                     KS_ERR_BASE64);
    assert_int_equal(
        challenge("{\"nonce\":\"" NONCE_B64 "\",\"expires\":1,\"x\":1}", nonce, &expires),
        KS_ERR_RESP_UNKNOWN);
    assert_int_equal(
        challenge("{\"nonce\":\"" NONCE_B64 "\",\"expires\":1,\"expires\":2}", nonce, &expires),
        KS_ERR_RESP_DUPLICATE);
    assert_int_equal(challenge("{\"nonce\":", nonce, &expires), KS_ERR_RESP_JSON);
    assert_int_equal(challenge("{\"nonce\":\"" NONCE_B64 "\",\"expires\":1} x", nonce, &expires),
                     KS_ERR_RESP_JSON);
    assert_int_equal(challenge("[1]", nonce, &expires), KS_ERR_RESP_TYPE);
    assert_int_equal(challenge("", nonce, &expires), KS_ERR_RESP_JSON);
    assert_int_equal(ks_attest_challenge_parse(NULL, 0, nonce, NULL), KS_ERR_INVALID_ARG);
    /* Nothing written on failure. */
    for (size_t i = 0; i < 32; i++) {
        assert_int_equal(nonce[i], 0xee);
    }
    assert_int_equal(expires, 42);
}

/* ---- request ----------------------------------------------------------------------- */

static json_t *build(const struct ks_attest_evidence *ev)
{
    char *s = NULL;
    size_t len = 0;
    json_error_t e;
    assert_int_equal(ks_attest_request_build(ev, &s, &len), KS_OK);
    assert_int_equal(len, strlen(s));
    json_t *root = json_loadb(s, len, JSON_REJECT_DUPLICATES, &e);
    assert_non_null(root);
    free(s);
    return root;
}

static const char *str_at(json_t *root, const char *path1, const char *path2)
{
    json_t *v = json_object_get(root, path1);
    if (path2) {
        v = json_object_get(v, path2);
    }
    assert_true(json_is_string(v));
    return json_string_value(v);
}

static void test_request_build(void **state)
{
    struct req_fixture f;
    req_fixture_init(&f, "sha1:7+sha256:0,10,15");
    json_t *root = build(&f.ev);

    /* Exactly the protocol's members. */
    assert_int_equal(json_object_size(root), 6);
    assert_string_equal(str_at(root, "ak_id", NULL), "000b0102");
    assert_string_equal(str_at(root, "nonce", NULL), NONCE_B64);
    assert_string_equal(str_at(root, "hpke_pk", NULL), PK_B64);
    json_t *keys = json_object_get(root, "keys");
    assert_int_equal(json_array_size(keys), 3);
    assert_string_equal(json_string_value(json_array_get(keys, 0)), "dek");
    assert_string_equal(json_string_value(json_array_get(keys, 1)), "req@2");
    assert_string_equal(json_string_value(json_array_get(keys, 2)), "dek@3");
    assert_int_equal(json_object_size(json_object_get(root, "quote")), 2);
    assert_string_equal(str_at(root, "quote", "attest"), "paWlpaWlpQ==");
    assert_string_equal(str_at(root, "quote", "signature"), "WlpaWlo=");

    /* The PCR map holds exactly the selected PCRs, in lowercase hex. */
    json_t *pcrs = json_object_get(root, "pcrs");
    assert_int_equal(json_object_size(pcrs), 2);
    json_t *sha1 = json_object_get(pcrs, "sha1");
    json_t *sha256 = json_object_get(pcrs, "sha256");
    assert_int_equal(json_object_size(sha1), 1);
    assert_int_equal(json_object_size(sha256), 3);
    assert_string_equal(json_string_value(json_object_get(sha1, "7")),
                        "0707070707070707070707070707070707070707");
    assert_string_equal(json_string_value(json_object_get(sha256, "0")),
                        "1010101010101010101010101010101010101010101010101010101010101010");
    assert_string_equal(json_string_value(json_object_get(sha256, "10")),
                        "1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a");
    assert_string_equal(json_string_value(json_object_get(sha256, "15")),
                        "1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f");
    assert_null(json_object_get(root, "event_log"));
    assert_null(json_object_get(root, "ima_log"));
    assert_null(json_object_get(root, "app_log"));
    json_decref(root);
}

static void test_request_build_logs(void **state)
{
    struct req_fixture f;
    static const uint8_t evlog[] = "EVLOG";
    req_fixture_init(&f, "sha1:7+sha256:0,10,15");
    f.ev.event_log = evlog;
    f.ev.event_log_len = 5;
    f.ev.app_log = evlog;
    f.ev.app_log_len = 0; /* present but empty */
    json_t *root = build(&f.ev);
    assert_int_equal(json_object_size(root), 8);
    assert_string_equal(str_at(root, "event_log", NULL), "RVZMT0c=");
    assert_string_equal(str_at(root, "app_log", NULL), "");
    assert_null(json_object_get(root, "ima_log"));
    json_decref(root);
}

static void test_request_build_invalid(void **state)
{
    struct req_fixture f;
    static char unchanged[] = "unchanged";
    char *s = unchanged;
    size_t len = 99;
    const char *seventeen[17];
    char names[17][8];
    for (int i = 0; i < 17; i++) {
        snprintf(names[i], sizeof(names[i]), "k%d", i);
        seventeen[i] = names[i];
    }

    req_fixture_init(&f, "sha1:7+sha256:0,10,15");
    f.keys[2] = "dek"; /* named twice */
    assert_int_equal(ks_attest_request_build(&f.ev, &s, &len), KS_ERR_INVALID_ARG);
    req_fixture_init(&f, "sha1:7+sha256:0,10,15");
    f.keys[1] = "bad name";
    assert_int_equal(ks_attest_request_build(&f.ev, &s, &len), KS_ERR_INVALID_ARG);
    req_fixture_init(&f, "sha1:7+sha256:0,10,15");
    f.ev.n_keys = 0;
    assert_int_equal(ks_attest_request_build(&f.ev, &s, &len), KS_ERR_INVALID_ARG);
    req_fixture_init(&f, "sha1:7+sha256:0,10,15");
    f.ev.keys = seventeen;
    f.ev.n_keys = 17;
    assert_int_equal(ks_attest_request_build(&f.ev, &s, &len), KS_ERR_INVALID_ARG);
    f.ev.n_keys = 16;
    char *ok = NULL;
    assert_int_equal(ks_attest_request_build(&f.ev, &ok, &len), KS_OK);
    free(ok);
    len = 99;
    req_fixture_init(&f, "sha1:7+sha256:0,10,15");
    f.ev.ak_id = "000B0102"; /* the protocol's hex is lowercase */
    assert_int_equal(ks_attest_request_build(&f.ev, &s, &len), KS_ERR_INVALID_ARG);
    f.ev.ak_id = "000b010";
    assert_int_equal(ks_attest_request_build(&f.ev, &s, &len), KS_ERR_INVALID_ARG);
    req_fixture_init(&f, "sha1:7+sha256:0,10,15");
    f.ev.attest_len = 0;
    assert_int_equal(ks_attest_request_build(&f.ev, &s, &len), KS_ERR_INVALID_ARG);
    req_fixture_init(&f, "sha1:7+sha256:0,10,15");
    f.ev.sig = NULL;
    assert_int_equal(ks_attest_request_build(&f.ev, &s, &len), KS_ERR_INVALID_ARG);
    /* A selected PCR without a value. */
    req_fixture_init(&f, "sha1:7+sha256:0,10,15");
    ks_pcr_set_init(&f.pcrs);
    assert_int_equal(ks_attest_request_build(&f.ev, &s, &len), KS_ERR_INVALID_ARG);
    /* An empty selection. */
    req_fixture_init(&f, "sha1:7+sha256:0,10,15");
    f.sel.count = 0;
    assert_int_equal(ks_attest_request_build(&f.ev, &s, &len), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_attest_request_build(NULL, &s, &len), KS_ERR_INVALID_ARG);
    assert_string_equal(s, "unchanged");
    assert_int_equal(len, 99);
}

/* ---- response ------------------------------------------------------------------------ */

struct resp_fixture {
    uint8_t sk[32], pk[32], nonce[32];
    uint8_t dek[32], req[48];
    const char *refs[2];
};

static int setup_resp(void **state)
{
    struct resp_fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(ks_hpke_keygen(f->sk, f->pk), KS_OK);
    fill(f->nonce, 32, 0x40);
    fill(f->dek, sizeof(f->dek), 0x80);
    fill(f->req, sizeof(f->req), 0x01);
    f->refs[0] = "dek";
    f->refs[1] = "req";
    *state = f;
    return 0;
}

static int teardown_resp(void **state)
{
    free(*state);
    return 0;
}

static char *b64(const uint8_t *buf, size_t len)
{
    char *s = NULL;
    assert_int_equal(ks_base64_encode(buf, len, &s), KS_OK);
    return s;
}

/* One entry of "keys", sealed to pk for `info_name` with aad `aad`. */
static json_t *entry(const uint8_t *pk, const char *name, const char *info_name, json_int_t version,
                     const uint8_t *aad, const uint8_t *pt, size_t pt_len)
{
    uint8_t info[14 + 64], enc[32], ct[256];
    size_t ct_len = 0, nlen = strlen(info_name);
    memcpy(info, "ks-release-v1", 14);
    memcpy(info + 14, info_name, nlen);
    assert_int_equal(ks_hpke_seal_base(KS_HPKE_SUITE_DEFAULT, pk, info, 14 + nlen, aad, 32, pt,
                                       pt_len, enc, ct, sizeof(ct), &ct_len),
                     KS_OK);
    char *e = b64(enc, 32), *c = b64(ct, ct_len);
    json_t *o = json_pack("{s:s, s:I, s:s, s:s}", "name", name, "version", version, "enc", e,
                          "ciphertext", c);
    assert_non_null(o);
    free(e);
    free(c);
    return o;
}

static json_t *receipt(void)
{
    return json_pack("{s:s, s:s}", "payload", "eyJzZXEiOjF9", "signature", "MEUCIQ==");
}

/* A valid answer to refs {"dek", "req"}: dek version 3, req version 1. */
static json_t *valid_response(const struct resp_fixture *f)
{
    json_t *keys = json_pack("[o, o]", entry(f->pk, "dek", "dek", 3, f->nonce, f->dek, 32),
                             entry(f->pk, "req", "req", 1, f->nonce, f->req, 48));
    json_t *root = json_pack("{s:o, s:o}", "keys", keys, "receipt", receipt());
    assert_non_null(root);
    return root;
}

static int parse_text(const struct resp_fixture *f, const char *text, const char *const *refs,
                      size_t n, struct ks_attest_result **res)
{
    return ks_attest_response_parse((const uint8_t *)text, strlen(text), refs, n, f->nonce, f->sk,
                                    res);
}

/* Parse a JSON response (consumed); on failure, check that nothing came back. */
static int parse(const struct resp_fixture *f, json_t *root, const char *const *refs, size_t n)
{
    struct ks_attest_result *res = SENTINEL;
    char *text = json_dumps(root, JSON_COMPACT);
    assert_non_null(text);
    json_decref(root);
    int r = parse_text(f, text, refs, n, &res);
    free(text);
    if (r == KS_OK) {
        ks_attest_result_free(res);
    } else {
        assert_ptr_equal(res, SENTINEL);
    }
    return r;
}

static void test_response_valid(void **state)
{
    struct resp_fixture *f = *state;
    struct ks_attest_result *res = NULL;
    json_t *root = valid_response(f);
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    assert_int_equal(parse_text(f, text, f->refs, 2, &res), KS_OK);
    free(text);
    assert_int_equal(res->n_keys, 2);
    assert_string_equal(res->keys[0].name, "dek");
    assert_int_equal(res->keys[0].version, 3);
    assert_int_equal(res->keys[0].key_len, 32);
    assert_memory_equal(res->keys[0].key, f->dek, 32);
    assert_string_equal(res->keys[1].name, "req");
    assert_int_equal(res->keys[1].version, 1);
    assert_int_equal(res->keys[1].key_len, 48);
    assert_memory_equal(res->keys[1].key, f->req, 48);
    assert_int_equal(res->receipt_payload_len, 9);
    assert_memory_equal(res->receipt_payload, "{\"seq\":1}", 9);
    assert_int_equal(res->receipt_signature_len, 4);
    assert_memory_equal(res->receipt_signature, "\x30\x45\x02\x21", 4);
    ks_attest_result_free(res);
    ks_attest_result_free(NULL);
}

/* Answers come back in request order, whatever order the server used; a
 * versioned reference takes the entry of its version. */
static void test_response_order_and_versions(void **state)
{
    struct resp_fixture *f = *state;
    struct ks_attest_result *res = NULL;
    const char *refs[] = {"req", "dek@3", "dek"};
    json_t *keys = json_pack("[o, o, o]", entry(f->pk, "dek", "dek", 5, f->nonce, f->req, 16),
                             entry(f->pk, "dek", "dek", 3, f->nonce, f->dek, 32),
                             entry(f->pk, "req", "req", 1, f->nonce, f->req, 48));
    json_t *root = json_pack("{s:o, s:o}", "keys", keys, "receipt", receipt());
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    assert_int_equal(parse_text(f, text, refs, 3, &res), KS_OK);
    free(text);
    assert_int_equal(res->n_keys, 3);
    assert_string_equal(res->keys[0].name, "req");
    assert_int_equal(res->keys[0].version, 1);
    assert_string_equal(res->keys[1].name, "dek");
    assert_int_equal(res->keys[1].version, 3);
    assert_memory_equal(res->keys[1].key, f->dek, 32);
    assert_string_equal(res->keys[2].name, "dek");
    assert_int_equal(res->keys[2].version, 5);
    assert_int_equal(res->keys[2].key_len, 16);
    ks_attest_result_free(res);

    /* dek@3 answered with version 4 is not what was asked for. */
    const char *refs2[] = {"dek@3"};
    keys = json_pack("[o]", entry(f->pk, "dek", "dek", 4, f->nonce, f->dek, 32));
    root = json_pack("{s:o, s:o}", "keys", keys, "receipt", receipt());
    assert_int_equal(parse(f, root, refs2, 1), KS_ERR_RESP_KEY_EXTRA);
}

static json_t *first_key(json_t *root)
{
    return json_array_get(json_object_get(root, "keys"), 0);
}

static void test_response_missing_member(void **state)
{
    struct resp_fixture *f = *state;
    static const char *const top[] = {"keys", "receipt"};
    static const char *const in_key[] = {"name", "version", "enc", "ciphertext"};
    static const char *const in_receipt[] = {"payload", "signature"};
    for (size_t i = 0; i < 2; i++) {
        json_t *root = valid_response(f);
        json_object_del(root, top[i]);
        assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_MISSING);
    }
    for (size_t i = 0; i < 4; i++) {
        json_t *root = valid_response(f);
        json_object_del(first_key(root), in_key[i]);
        assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_MISSING);
    }
    for (size_t i = 0; i < 2; i++) {
        json_t *root = valid_response(f);
        json_object_del(json_object_get(root, "receipt"), in_receipt[i]);
        assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_MISSING);
    }
}

static void test_response_wrong_type(void **state)
{
    struct resp_fixture *f = *state;
    json_t *root = valid_response(f);
    json_object_set_new(root, "keys", json_object());
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_TYPE);
    root = valid_response(f);
    json_object_set_new(root, "receipt", json_string("x"));
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_TYPE);
    root = valid_response(f);
    json_object_set_new(first_key(root), "version", json_string("3"));
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_TYPE);
    root = valid_response(f);
    json_object_set_new(first_key(root), "version", json_real(3.0));
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_TYPE);
    root = valid_response(f);
    json_object_set_new(first_key(root), "name", json_integer(1));
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_TYPE);
    root = valid_response(f);
    json_object_set_new(first_key(root), "enc", json_null());
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_TYPE);
    root = valid_response(f);
    json_object_set_new(first_key(root), "ciphertext", json_true());
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_TYPE);
    root = valid_response(f);
    json_object_set_new(json_object_get(root, "receipt"), "payload", json_array());
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_TYPE);
    root = valid_response(f);
    json_array_set_new(json_object_get(root, "keys"), 0, json_string("dek"));
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_TYPE);
    assert_int_equal(parse(f, json_array(), f->refs, 2), KS_ERR_RESP_TYPE);
}

static void test_response_unknown_member(void **state)
{
    struct resp_fixture *f = *state;
    json_t *root = valid_response(f);
    json_object_set_new(root, "extra", json_true());
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_UNKNOWN);
    root = valid_response(f);
    json_object_set_new(first_key(root), "tag", json_string(""));
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_UNKNOWN);
    root = valid_response(f);
    json_object_set_new(json_object_get(root, "receipt"), "key", json_string(""));
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_UNKNOWN);
}

/* Duplicate members cannot be built with jansson: splice the text. */
static void test_response_duplicate(void **state)
{
    struct resp_fixture *f = *state;
    struct ks_attest_result *res = SENTINEL;
    json_t *root = valid_response(f);
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    size_t n = strlen(text);

    /* {"keys":...,"receipt":...,"receipt":{...}} */
    char *dup = malloc(2 * n + 16);
    assert_non_null(dup);
    const char *rc = strstr(text, ",\"receipt\":");
    assert_non_null(rc);
    memcpy(dup, text, n - 1);
    snprintf(dup + n - 1, n + 16, "%.*s}", (int)(n - 1 - (size_t)(rc - text)), rc);
    assert_int_equal(parse_text(f, dup, f->refs, 2, &res), KS_ERR_RESP_DUPLICATE);
    assert_ptr_equal(res, SENTINEL);

    /* "version" twice inside a key entry. */
    const char *ver = strstr(text, "\"version\":3");
    assert_non_null(ver);
    size_t at = (size_t)(ver - text);
    memcpy(dup, text, at);
    snprintf(dup + at, n + 16, "\"version\":3,%s", ver);
    assert_int_equal(parse_text(f, dup, f->refs, 2, &res), KS_ERR_RESP_DUPLICATE);
    assert_ptr_equal(res, SENTINEL);
    free(dup);
    free(text);
}

static void test_response_not_json(void **state)
{
    struct resp_fixture *f = *state;
    struct ks_attest_result *res = SENTINEL;
    assert_int_equal(parse_text(f, "", f->refs, 2, &res), KS_ERR_RESP_JSON);
    assert_int_equal(parse_text(f, "{\"keys\":[", f->refs, 2, &res), KS_ERR_RESP_JSON);
    assert_int_equal(parse_text(f, "{} {}", f->refs, 2, &res), KS_ERR_RESP_JSON);
    assert_int_equal(parse_text(f, "<html>", f->refs, 2, &res), KS_ERR_RESP_JSON);
    assert_ptr_equal(res, SENTINEL);
}

static void test_response_key_names(void **state)
{
    struct resp_fixture *f = *state;
    /* A key that was not requested. */
    json_t *root = valid_response(f);
    json_array_append_new(json_object_get(root, "keys"),
                          entry(f->pk, "other", "other", 1, f->nonce, f->dek, 32));
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_KEY_EXTRA);
    /* ... in place of a requested one. */
    root = valid_response(f);
    json_array_set_new(json_object_get(root, "keys"), 1,
                       entry(f->pk, "other", "other", 1, f->nonce, f->dek, 32));
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_KEY_EXTRA);
    /* A requested key answered twice. */
    root = valid_response(f);
    json_array_set_new(json_object_get(root, "keys"), 1,
                       entry(f->pk, "dek", "dek", 3, f->nonce, f->dek, 32));
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_KEY_EXTRA);
    /* A name that cannot be a key name. */
    root = valid_response(f);
    json_object_set_new(first_key(root), "name", json_string("dek@3"));
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_KEY_EXTRA);
    /* A requested key missing. */
    root = valid_response(f);
    json_array_remove(json_object_get(root, "keys"), 1);
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_KEY_MISSING);
    root = valid_response(f);
    json_array_clear(json_object_get(root, "keys"));
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_KEY_MISSING);
}

static void test_response_values(void **state)
{
    struct resp_fixture *f = *state;
    json_t *root = valid_response(f);
    json_object_set_new(first_key(root), "version", json_integer(0));
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_VALUE);
    root = valid_response(f);
    json_object_set_new(first_key(root), "version", json_integer(4294967296LL));
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_VALUE);
    root = valid_response(f);
    json_object_set_new(first_key(root), "version", json_integer(-3));
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_VALUE);
    /* A ciphertext of a bare tag: an empty key. */
    root = valid_response(f);
    json_object_set_new(first_key(root), "ciphertext", json_string("AAAAAAAAAAAAAAAAAAAAAA=="));
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_VALUE);
    root = valid_response(f);
    json_object_set_new(json_object_get(root, "receipt"), "signature", json_string(""));
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_VALUE);
    /* Oversized ciphertext: refused before it is decoded. */
    size_t big = 4 * (KS_ATTEST_KEY_MAX + 64);
    char *s = malloc(big + 1);
    assert_non_null(s);
    memset(s, 'A', big);
    s[big] = '\0';
    root = valid_response(f);
    json_object_set_new(first_key(root), "ciphertext", json_string(s));
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_VALUE);
    free(s);
}

static void test_response_bad_base64(void **state)
{
    struct resp_fixture *f = *state;
    static const char *const bad[] = {"AAAA!AAA", "AAA", "AAAA AAA", "AA==AA==", "AB=="};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *root = valid_response(f);
        json_object_set_new(first_key(root), "ciphertext", json_string(bad[i]));
        assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_BASE64);
    }
    json_t *root = valid_response(f);
    json_object_set_new(first_key(root), "enc", json_string("*" NONCE_B64));
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_BASE64);
    root = valid_response(f);
    json_object_set_new(json_object_get(root, "receipt"), "payload", json_string("e30"));
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_BASE64);
}

static void test_response_enc_length(void **state)
{
    struct resp_fixture *f = *state;
    uint8_t e[64] = {0};
    for (size_t len = 0; len <= 64; len += (len == 31 ? 2 : 31)) {
        if (len == 32) {
            continue;
        }
        char *s = b64(e, len);
        json_t *root = valid_response(f);
        json_object_set_new(first_key(root), "enc", json_string(s));
        assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_ENC_LEN);
        free(s);
    }
}

/* Flip one bit of a base64 member's decoded bytes. */
static void tamper(json_t *obj, const char *member, size_t byte)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    const char *s = json_string_value(json_object_get(obj, member));
    assert_int_equal(ks_base64_decode(s, strlen(s), &buf, &len), KS_OK);
    assert_true(byte < len);
    buf[byte] ^= 0x01;
    char *t = b64(buf, len);
    json_object_set_new(obj, member, json_string(t));
    free(t);
    free(buf);
}

static void test_response_hpke_failures(void **state)
{
    struct resp_fixture *f = *state;
    /* Ciphertext tampered: body and tag. */
    for (size_t byte = 0; byte < 48; byte += 47) {
        json_t *root = valid_response(f);
        tamper(first_key(root), "ciphertext", byte);
        assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_HPKE_OPEN);
    }
    /* enc tampered. */
    json_t *root = valid_response(f);
    tamper(first_key(root), "enc", 5);
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_HPKE_OPEN);
    /* aad: sealed under another nonce. */
    uint8_t other[32];
    memcpy(other, f->nonce, 32);
    other[0] ^= 1;
    json_t *keys = json_pack("[o, o]", entry(f->pk, "dek", "dek", 3, other, f->dek, 32),
                             entry(f->pk, "req", "req", 1, f->nonce, f->req, 48));
    root = json_pack("{s:o, s:o}", "keys", keys, "receipt", receipt());
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_HPKE_OPEN);
    /* info: sealed for another key name, relabelled. */
    keys = json_pack("[o, o]", entry(f->pk, "dek", "req", 3, f->nonce, f->dek, 32),
                     entry(f->pk, "req", "req", 1, f->nonce, f->req, 48));
    root = json_pack("{s:o, s:o}", "keys", keys, "receipt", receipt());
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_HPKE_OPEN);
    /* Sealed to another public key. */
    uint8_t sk2[32], pk2[32];
    assert_int_equal(ks_hpke_keygen(sk2, pk2), KS_OK);
    keys = json_pack("[o, o]", entry(f->pk, "dek", "dek", 3, f->nonce, f->dek, 32),
                     entry(pk2, "req", "req", 1, f->nonce, f->req, 48));
    root = json_pack("{s:o, s:o}", "keys", keys, "receipt", receipt());
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_HPKE_OPEN);
}

static void test_response_invalid_args(void **state)
{
    struct resp_fixture *f = *state;
    struct ks_attest_result *res = SENTINEL;
    const char *bad_refs[] = {"dek", "dek"};
    assert_int_equal(
        ks_attest_response_parse((const uint8_t *)"{}", 2, bad_refs, 2, f->nonce, f->sk, &res),
        KS_ERR_INVALID_ARG);
    assert_int_equal(
        ks_attest_response_parse((const uint8_t *)"{}", 2, f->refs, 0, f->nonce, f->sk, &res),
        KS_ERR_INVALID_ARG);
    assert_int_equal(
        ks_attest_response_parse((const uint8_t *)"{}", 2, f->refs, 2, NULL, f->sk, &res),
        KS_ERR_INVALID_ARG);
    assert_int_equal(
        ks_attest_response_parse((const uint8_t *)"{}", 2, f->refs, 2, f->nonce, NULL, &res),
        KS_ERR_INVALID_ARG);
    assert_int_equal(
        ks_attest_response_parse((const uint8_t *)"{}", 2, f->refs, 2, f->nonce, f->sk, NULL),
        KS_ERR_INVALID_ARG);
    assert_ptr_equal(res, SENTINEL);
}

/* ---- errors ------------------------------------------------------------------------- */

/* A key version that is one share of a k-of-n split says so: its "share"
 * member reaches the result; a whole key has none (all three 0). */
static void test_response_share(void **state)
{
    struct resp_fixture *f = *state;
    struct ks_attest_result *res = NULL;
    json_t *root = valid_response(f);
    json_object_set_new(first_key(root), "share",
                        json_pack("{s:i, s:i, s:i}", "count", 3, "index", 2, "threshold", 2));
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    assert_int_equal(parse_text(f, text, f->refs, 2, &res), KS_OK);
    free(text);
    assert_int_equal(res->keys[0].share_index, 2);
    assert_int_equal(res->keys[0].share_threshold, 2);
    assert_int_equal(res->keys[0].share_count, 3);
    assert_memory_equal(res->keys[0].key, f->dek, 32);
    assert_int_equal(res->keys[1].share_index, 0);
    assert_int_equal(res->keys[1].share_threshold, 0);
    assert_int_equal(res->keys[1].share_count, 0);
    ks_attest_result_free(res);

    /* The edges: 1-of-1, and 255-of-255 index 255. */
    static const int good[][3] = {{1, 1, 1}, {255, 255, 255}, {1, 1, 255}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        root = valid_response(f);
        json_object_set_new(first_key(root), "share",
                            json_pack("{s:i, s:i, s:i}", "index", good[i][0], "threshold",
                                      good[i][1], "count", good[i][2]));
        assert_int_equal(parse(f, root, f->refs, 2), KS_OK);
    }

    /* Out of range or inconsistent: a malformed response. */
    static const int bad[][3] = {
        {0, 2, 3}, {4, 2, 3}, {1, 0, 3}, {1, 4, 3}, {1, 1, 0}, {1, 1, 256}, {-1, 2, 3}, {256, 2, 3},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        root = valid_response(f);
        json_object_set_new(first_key(root), "share",
                            json_pack("{s:i, s:i, s:i}", "index", bad[i][0], "threshold", bad[i][1],
                                      "count", bad[i][2]));
        if (parse(f, root, f->refs, 2) != KS_ERR_RESP_VALUE) {
            fail_msg("share %d/%d/%d accepted", bad[i][0], bad[i][1], bad[i][2]);
        }
    }
    /* Exact types and members. */
    root = valid_response(f);
    json_object_set_new(first_key(root), "share", json_null());
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_TYPE);
    root = valid_response(f);
    json_object_set_new(first_key(root), "share", json_pack("[i, i, i]", 1, 2, 3));
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_TYPE);
    root = valid_response(f);
    json_object_set_new(first_key(root), "share",
                        json_pack("{s:s, s:i, s:i}", "index", "1", "threshold", 2, "count", 3));
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_TYPE);
    root = valid_response(f);
    json_object_set_new(first_key(root), "share",
                        json_pack("{s:f, s:i, s:i}", "index", 1.0, "threshold", 2, "count", 3));
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_TYPE);
    root = valid_response(f);
    json_object_set_new(first_key(root), "share",
                        json_pack("{s:i, s:i}", "index", 1, "threshold", 2));
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_MISSING);
    root = valid_response(f);
    json_object_set_new(
        first_key(root), "share",
        json_pack("{s:i, s:i, s:i, s:i}", "index", 1, "threshold", 2, "count", 3, "x", 1));
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_UNKNOWN);
    /* "share" is the only optional member: a sixth one is still unknown. */
    root = valid_response(f);
    json_object_set_new(first_key(root), "share",
                        json_pack("{s:i, s:i, s:i}", "index", 1, "threshold", 2, "count", 3));
    json_object_set_new(first_key(root), "shares", json_true());
    assert_int_equal(parse(f, root, f->refs, 2), KS_ERR_RESP_UNKNOWN);
    /* A duplicate "share" member (spliced into the text). */
    root = valid_response(f);
    json_object_set_new(first_key(root), "share",
                        json_pack("{s:i, s:i, s:i}", "index", 1, "threshold", 2, "count", 3));
    text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    const char *at = strstr(text, "\"share\":");
    assert_non_null(at);
    size_t dlen = strlen(text) + 64;
    char *dup = malloc(dlen);
    assert_non_null(dup);
    snprintf(dup, dlen, "%.*s\"share\":{\"index\":1,\"threshold\":2,\"count\":3},%s",
             (int)(at - text), text, at);
    free(text);
    res = SENTINEL;
    assert_int_equal(parse_text(f, dup, f->refs, 2, &res), KS_ERR_RESP_DUPLICATE);
    assert_ptr_equal(res, SENTINEL);
    free(dup);
}

static int error_parse(long status, const char *body, struct ks_attest_error *e)
{
    return ks_attest_error_parse(status, (const uint8_t *)body, strlen(body), e);
}

static void test_error_parse(void **state)
{
    static const struct {
        const char *code;
        int err;
    } map[] = {
        {"bad_request", KS_ERR_BAD_REQUEST},           {"too_large", KS_ERR_TOO_LARGE},
        {"unsupported_media_type", KS_ERR_MEDIA_TYPE}, {"not_found", KS_ERR_NOT_FOUND},
        {"method_not_allowed", KS_ERR_METHOD},         {"nonce_invalid", KS_ERR_NONCE_INVALID},
        {"nonce_expired", KS_ERR_NONCE_EXPIRED},       {"nonce_used", KS_ERR_NONCE_USED},
        {"attestation_failed", KS_ERR_ATTESTATION},    {"policy_denied", KS_ERR_POLICY_DENIED},
        {"rate_limited", KS_ERR_RATE_LIMITED},         {"internal", KS_ERR_SERVER_ERROR},
        {"something_new", KS_ERR_SERVER_ERROR},
    };
    struct ks_attest_error e;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        char body[128];
        snprintf(body, sizeof(body), "{\"error\":\"%s\",\"detail\":\"why\"}", map[i].code);
        assert_int_equal(error_parse(403, body, &e), map[i].err);
        assert_int_equal(e.http_status, 403);
        assert_string_equal(e.code, map[i].code);
        assert_string_equal(e.detail, "why");
    }
    /* detail is optional; control characters and non-ASCII are masked. */
    assert_int_equal(error_parse(409, "{\"error\":\"nonce_used\"}", &e), KS_ERR_NONCE_USED);
    assert_string_equal(e.detail, "");
    assert_int_equal(
        error_parse(403, "{\"error\":\"policy_denied\",\"detail\":\"a\\u001b[31mb\\u00e9\"}", &e),
        KS_ERR_POLICY_DENIED);
    assert_string_equal(e.detail, "a?[31mb??");
    /* A long detail is truncated. */
    char body[1024];
    int n = snprintf(body, sizeof(body), "{\"error\":\"internal\",\"detail\":\"");
    memset(body + n, 'd', 600);
    snprintf(body + n + 600, sizeof(body) - (size_t)n - 600, "\"}");
    assert_int_equal(error_parse(500, body, &e), KS_ERR_SERVER_ERROR);
    assert_int_equal(strlen(e.detail), sizeof(e.detail) - 1);
}

static void test_error_parse_not_protocol(void **state)
{
    struct ks_attest_error e;
    assert_int_equal(error_parse(502, "<html>Bad Gateway</html>", &e), KS_ERR_HTTP_STATUS);
    assert_int_equal(e.http_status, 502);
    assert_string_equal(e.code, "");
    assert_int_equal(error_parse(404, "{\"message\":\"no\"}", &e), KS_ERR_HTTP_STATUS);
    assert_int_equal(error_parse(403, "{\"error\":403}", &e), KS_ERR_HTTP_STATUS);
    assert_int_equal(error_parse(403, "{\"error\":\"x\",\"detail\":1}", &e), KS_ERR_HTTP_STATUS);
    assert_int_equal(error_parse(403, "", &e), KS_ERR_HTTP_STATUS);
    assert_int_equal(ks_attest_error_parse(500, NULL, 0, &e), KS_ERR_HTTP_STATUS);
    assert_int_equal(ks_attest_error_parse(500, NULL, 0, NULL), KS_ERR_HTTP_STATUS);
}

/* The loader client's error codes: each has its own message, and the exit
 * codes follow ksctl's rule (3: the TPM or the network failed; 1: refused or
 * invalid data). */
static void test_error_codes(void **state)
{
    static const struct {
        int err;
        int exit_code;
    } codes[] = {
        {KS_ERR_TPM_TCTI, 3},         {KS_ERR_TPM_CMD, 3},        {KS_ERR_TPM_PCR_BANK, 1},
        {KS_ERR_TPM_PCR_RACE, 1},     {KS_ERR_HTTP_TRANSPORT, 3}, {KS_ERR_HTTP_TLS_VERIFY, 1},
        {KS_ERR_HTTP_STATUS, 1},      {KS_ERR_SERVER_ERROR, 1},   {KS_ERR_RESP_JSON, 1},
        {KS_ERR_RESP_DUPLICATE, 1},   {KS_ERR_RESP_MISSING, 1},   {KS_ERR_RESP_TYPE, 1},
        {KS_ERR_RESP_UNKNOWN, 1},     {KS_ERR_RESP_VALUE, 1},     {KS_ERR_RESP_KEY_EXTRA, 1},
        {KS_ERR_RESP_KEY_MISSING, 1}, {KS_ERR_RESP_ENC_LEN, 1},
    };
    size_t n = sizeof(codes) / sizeof(codes[0]);
    for (size_t i = 0; i < n; i++) {
        const char *s = ks_strerror(codes[i].err);
        assert_string_not_equal(s, "unknown error");
        assert_int_equal(ks_error_exit_code(codes[i].err), codes[i].exit_code);
        for (size_t j = 0; j < i; j++) {
            assert_int_not_equal(codes[i].err, codes[j].err);
            assert_string_not_equal(s, ks_strerror(codes[j].err));
        }
        /* Nor the message of any other code of the project. */
        for (int other = -1; other > -300; other--) {
            if (other != codes[i].err) {
                assert_string_not_equal(s, ks_strerror(other));
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binding_vector),
        cmocka_unit_test(test_key_ref_valid),
        cmocka_unit_test(test_key_ref_invalid),
        cmocka_unit_test(test_pcr_select_parse),
        cmocka_unit_test(test_pcr_select_parse_invalid),
        cmocka_unit_test(test_pcr_select_equal),
        cmocka_unit_test(test_pcr_select_values),
        cmocka_unit_test(test_challenge_parse),
        cmocka_unit_test(test_challenge_parse_invalid),
        cmocka_unit_test(test_request_build),
        cmocka_unit_test(test_request_build_logs),
        cmocka_unit_test(test_request_build_invalid),
        cmocka_unit_test_setup_teardown(test_response_valid, setup_resp, teardown_resp),
        cmocka_unit_test_setup_teardown(test_response_order_and_versions, setup_resp,
                                        teardown_resp),
        cmocka_unit_test_setup_teardown(test_response_missing_member, setup_resp, teardown_resp),
        cmocka_unit_test_setup_teardown(test_response_wrong_type, setup_resp, teardown_resp),
        cmocka_unit_test_setup_teardown(test_response_unknown_member, setup_resp, teardown_resp),
        cmocka_unit_test_setup_teardown(test_response_duplicate, setup_resp, teardown_resp),
        cmocka_unit_test_setup_teardown(test_response_not_json, setup_resp, teardown_resp),
        cmocka_unit_test_setup_teardown(test_response_key_names, setup_resp, teardown_resp),
        cmocka_unit_test_setup_teardown(test_response_values, setup_resp, teardown_resp),
        cmocka_unit_test_setup_teardown(test_response_bad_base64, setup_resp, teardown_resp),
        cmocka_unit_test_setup_teardown(test_response_enc_length, setup_resp, teardown_resp),
        cmocka_unit_test_setup_teardown(test_response_hpke_failures, setup_resp, teardown_resp),
        cmocka_unit_test_setup_teardown(test_response_invalid_args, setup_resp, teardown_resp),
        cmocka_unit_test_setup_teardown(test_response_share, setup_resp, teardown_resp),
        cmocka_unit_test(test_error_parse),
        cmocka_unit_test(test_error_parse_not_protocol),
        cmocka_unit_test(test_error_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
