/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "encoding.h"
#include "loader-ref/statement.h"
#include "receipt.h"

/*
 * Request-key statements and release receipts, signed here with
 * ks_receipt_sign() (lib/receipt.h) in the layout keyserverd makes them
 * (keyserverd/ep_keys_public.c and release_decide.c); the end-to-end test
 * checks them against the real keyserverd.
 */

struct keys {
    EVP_PKEY *key, *other;
    uint8_t *spki, *other_spki;
    size_t spki_len, other_spki_len;
};

static void spki_of(EVP_PKEY *k, uint8_t **ret, size_t *len)
{
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(k, &der);
    assert_true(n > 0);
    *ret = malloc((size_t)n);
    memcpy(*ret, der, (size_t)n);
    *len = (size_t)n;
    OPENSSL_free(der);
}

static int setup(void **state)
{
    struct keys *k = calloc(1, sizeof(*k));
    k->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    k->other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(k->key);
    assert_non_null(k->other);
    spki_of(k->key, &k->spki, &k->spki_len);
    spki_of(k->other, &k->other_spki, &k->other_spki_len);
    *state = k;
    return 0;
}

static int teardown(void **state)
{
    struct keys *k = *state;
    EVP_PKEY_free(k->key);
    EVP_PKEY_free(k->other);
    free(k->spki);
    free(k->other_spki);
    free(k);
    return 0;
}

/* {"statement": {"payload", "signature"}} for a payload object. */
static char *signed_body(EVP_PKEY *key, json_t *payload, bool corrupt)
{
    char *p = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS);
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    char *pb = NULL, *sb = NULL;
    assert_int_equal(ks_receipt_sign(key, (uint8_t *)p, strlen(p), &sig, &sig_len), KS_OK);
    if (corrupt) {
        p[5] ^= 1;
    }
    assert_int_equal(ks_base64_encode((uint8_t *)p, strlen(p), &pb), KS_OK);
    assert_int_equal(ks_base64_encode(sig, sig_len, &sb), KS_OK);
    json_t *o = json_pack("{s:s,s:I,s:{s:s,s:s}}", "name", "ignored", "version", (json_int_t)99,
                          "statement", "payload", pb, "signature", sb);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    json_decref(payload);
    free(p);
    free(pb);
    free(sb);
    OPENSSL_free(sig);
    return s;
}

/* The payload of ep_keys_public.c, with one member replaced. */
static json_t *payload(const char *replace, json_t *value)
{
    json_t *p =
        json_pack("{s:i,s:s,s:s,s:s,s:I,s:s,s:{s:i,s:i,s:i},s:s,s:I,s:I}", "v", 1, "type",
                  "request-key", "keyserver", "ks-test", "name", "req", "version", (json_int_t)3,
                  "public_key", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "suite", "kem_id",
                  0x20, "kdf_id", 1, "aead_id", 2, "policy", "app", "policy_version", (json_int_t)2,
                  "time", (json_int_t)1700000000);
    if (replace) {
        if (value) {
            json_object_set_new(p, replace, value);
        } else {
            json_object_del(p, replace);
        }
    }
    return p;
}

static int verify(struct keys *k, char *body, const char *name, uint32_t v, struct ks_statement *st)
{
    int r = ks_statement_verify((uint8_t *)body, strlen(body), k->spki, k->spki_len, name, v, st);
    free(body);
    return r;
}

static void test_statement_ok(void **state)
{
    struct keys *k = *state;
    struct ks_statement st;
    assert_int_equal(verify(k, signed_body(k->key, payload(NULL, NULL), false), "req", 0, &st),
                     KS_OK);
    assert_string_equal(st.name, "req");
    assert_int_equal(st.version, 3);
    assert_string_equal(st.keyserver, "ks-test");
    assert_string_equal(st.policy, "app");
    assert_int_equal(st.policy_version, 2);
    assert_int_equal(st.time, 1700000000);
    for (int i = 0; i < 32; i++) {
        assert_int_equal(st.public_key[i], i);
    }
    assert_int_equal(verify(k, signed_body(k->key, payload(NULL, NULL), false), "req", 3, &st),
                     KS_OK);
}

static void test_statement_refused(void **state)
{
    struct keys *k = *state;
    struct ks_statement st;
    /* Signed by another key, or changed after signing. */
    assert_int_equal(verify(k, signed_body(k->other, payload(NULL, NULL), false), "req", 0, &st),
                     KS_ERR_RECEIPT_SIGNATURE);
    assert_int_equal(verify(k, signed_body(k->key, payload(NULL, NULL), true), "req", 0, &st),
                     KS_ERR_RECEIPT_SIGNATURE);
    /* About another key or version. */
    assert_int_equal(verify(k, signed_body(k->key, payload(NULL, NULL), false), "rex", 0, &st),
                     KS_ERR_STATEMENT);
    assert_int_equal(verify(k, signed_body(k->key, payload(NULL, NULL), false), "req", 2, &st),
                     KS_ERR_STATEMENT);
    /* Members wrong or missing, each in turn. */
    const struct {
        const char *name;
        json_t *value;
    } bad[] = {
        {"v", json_integer(2)},
        {"type", json_string("receipt")},
        {"public_key", json_string("AAECAw==")},
        {"public_key", json_string("not base64")},
        {"public_key", NULL},
        {"suite", json_pack("{s:i,s:i,s:i}", "kem_id", 0x20, "kdf_id", 1, "aead_id", 1)},
        {"suite", NULL},
        {"version", json_integer(0)},
        {"name", json_integer(1)},
        {"policy", NULL},
        {"time", json_string("now")},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int r = verify(k, signed_body(k->key, payload(bad[i].name, bad[i].value), false), "req", 0,
                       &st);
        if (r != KS_ERR_STATEMENT) {
            fail_msg("case %zu (%s): %d", i, bad[i].name, r);
        }
    }
    /* Not the answer's shape at all. */
    static const char *const junk[] = {"", "[]", "{}", "{\"statement\":1}",
                                       "{\"statement\":{\"payload\":\"e30=\"}}"};
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
        assert_int_equal(ks_statement_verify((const uint8_t *)junk[i], strlen(junk[i]), k->spki,
                                             k->spki_len, "req", 0, &st),
                         KS_ERR_STATEMENT);
    }
    assert_int_equal(ks_statement_verify(NULL, 0, k->spki, k->spki_len, "req", 0, &st),
                     KS_ERR_INVALID_ARG);
}

/* A release result with a receipt over `keys_json`, signed by `key`. */
static struct ks_attest_result *result(EVP_PKEY *key, const char *ak, json_t *keys_json)
{
    struct ks_attest_result *res = calloc(1, sizeof(*res));
    json_t *p = json_pack("{s:i,s:s,s:s,s:o,s:{s:I,s:s}}", "v", 1, "keyserver", "ks", "ak_id", ak,
                          "keys", keys_json, "audit", "seq", (json_int_t)7, "hash", "00");
    char *s = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(p);
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    assert_int_equal(ks_receipt_sign(key, (uint8_t *)s, strlen(s), &sig, &sig_len), KS_OK);
    res->receipt_payload = (uint8_t *)s;
    res->receipt_payload_len = strlen(s);
    res->receipt_signature = malloc(sig_len);
    memcpy(res->receipt_signature, sig, sig_len);
    res->receipt_signature_len = sig_len;
    OPENSSL_free(sig);
    res->n_keys = 2;
    strcpy(res->keys[0].name, "weights-dek");
    res->keys[0].version = 1;
    strcpy(res->keys[1].name, "req");
    res->keys[1].version = 4;
    return res;
}

static json_t *key_list(const char *n1, int v1, const char *n2, int v2)
{
    json_t *a = json_array();
    json_array_append_new(a, json_pack("{s:s,s:i,s:s,s:i}", "name", n1, "version", v1, "policy",
                                       "p", "policy_version", 1));
    if (n2) {
        json_array_append_new(a, json_pack("{s:s,s:i,s:s,s:i}", "name", n2, "version", v2, "policy",
                                           "p", "policy_version", 1));
    }
    return a;
}

static void check_receipt(struct keys *k, EVP_PKEY *signer, const char *ak, json_t *keys, int want)
{
    struct ks_attest_result *res = result(signer, ak, keys);
    assert_int_equal(ks_statement_receipt_check(k->spki, k->spki_len, res, "000bak"), want);
    ks_attest_result_free(res);
}

static void test_receipt(void **state)
{
    struct keys *k = *state;
    /* Any order. */
    check_receipt(k, k->key, "000bak", key_list("req", 4, "weights-dek", 1), KS_OK);
    check_receipt(k, k->key, "000bak", key_list("weights-dek", 1, "req", 4), KS_OK);
    check_receipt(k, k->other, "000bak", key_list("weights-dek", 1, "req", 4),
                  KS_ERR_RECEIPT_SIGNATURE);
    check_receipt(k, k->key, "000bother", key_list("weights-dek", 1, "req", 4),
                  KS_ERR_RECEIPT_MISMATCH);
    check_receipt(k, k->key, "000bak", key_list("weights-dek", 1, "req", 3),
                  KS_ERR_RECEIPT_MISMATCH);
    check_receipt(k, k->key, "000bak", key_list("weights-dek", 1, NULL, 0),
                  KS_ERR_RECEIPT_MISMATCH);
    check_receipt(k, k->key, "000bak", key_list("weights-dek", 1, "weights-dek", 1),
                  KS_ERR_RECEIPT_MISMATCH);
    assert_int_equal(ks_statement_receipt_check(k->spki, k->spki_len, NULL, "a"),
                     KS_ERR_INVALID_ARG);
}

/* A receipt with request_sha256 / hpke_pk_sha256 (as keyserverd writes
 * them), checked against the hashes ks_attest_release keeps. */
static struct ks_attest_result *bound_result(EVP_PKEY *key, const char *req_hex, const char *pk_hex)
{
    struct ks_attest_result *res = calloc(1, sizeof(*res));
    json_t *p = json_pack("{s:i,s:s,s:s,s:o,s:s,s:s}", "v", 1, "keyserver", "ks", "ak_id", "000bak",
                          "keys", key_list("weights-dek", 1, "req", 4), "request_sha256", req_hex,
                          "hpke_pk_sha256", pk_hex);
    char *s = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(p);
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    assert_int_equal(ks_receipt_sign(key, (uint8_t *)s, strlen(s), &sig, &sig_len), KS_OK);
    res->receipt_payload = (uint8_t *)s;
    res->receipt_payload_len = strlen(s);
    res->receipt_signature = malloc(sig_len);
    memcpy(res->receipt_signature, sig, sig_len);
    res->receipt_signature_len = sig_len;
    OPENSSL_free(sig);
    res->n_keys = 2;
    strcpy(res->keys[0].name, "weights-dek");
    res->keys[0].version = 1;
    strcpy(res->keys[1].name, "req");
    res->keys[1].version = 4;
    memset(res->request_sha256, 0x11, 32);
    memset(res->hpke_pk_sha256, 0x22, 32);
    res->has_request = true;
    return res;
}

static void test_receipt_request_binding(void **state)
{
    struct keys *k = *state;
    char h11[65], h22[65];
    memset(h11, '1', 64);
    memset(h22, '2', 64);
    h11[64] = h22[64] = '\0';
    struct ks_attest_result *res = bound_result(k->key, h11, h22);
    assert_int_equal(ks_statement_receipt_check(k->spki, k->spki_len, res, "000bak"), KS_OK);
    /* The receipt of another request body, or for another HPKE key. */
    memset(res->request_sha256, 0x33, 32);
    assert_int_equal(ks_statement_receipt_check(k->spki, k->spki_len, res, "000bak"),
                     KS_ERR_RECEIPT_MISMATCH);
    memset(res->request_sha256, 0x11, 32);
    res->hpke_pk_sha256[31] ^= 1;
    assert_int_equal(ks_statement_receipt_check(k->spki, k->spki_len, res, "000bak"),
                     KS_ERR_RECEIPT_MISMATCH);
    /* Not bound (a response parsed on its own): not checked. */
    res->has_request = false;
    assert_int_equal(ks_statement_receipt_check(k->spki, k->spki_len, res, "000bak"), KS_OK);
    ks_attest_result_free(res);
    /* A receipt without the members fails a bound result. */
    res = result(k->key, "000bak", key_list("weights-dek", 1, "req", 4));
    res->has_request = true;
    assert_int_equal(ks_statement_receipt_check(k->spki, k->spki_len, res, "000bak"),
                     KS_ERR_RECEIPT_MISMATCH);
    ks_attest_result_free(res);
}

/* key_list() with a "share" object (as keyserverd writes it: sorted keys)
 * on weights-dek; share NULL: none. */
static json_t *share_list(json_t *share)
{
    json_t *a = key_list("weights-dek", 1, "req", 4);
    if (share) {
        json_object_set_new(json_array_get(a, 0), "share", share);
    }
    return a;
}

static void check_share(struct keys *k, int index, int threshold, int count, json_t *share,
                        int want)
{
    struct ks_attest_result *res = result(k->key, "000bak", share_list(share));
    res->keys[0].share_index = (uint8_t)index;
    res->keys[0].share_threshold = (uint8_t)threshold;
    res->keys[0].share_count = (uint8_t)count;
    assert_int_equal(ks_statement_receipt_check(k->spki, k->spki_len, res, "000bak"), want);
    ks_attest_result_free(res);
}

static json_t *share_obj(int index, int threshold, int count)
{
    return json_pack("{s:i,s:i,s:i}", "count", count, "index", index, "threshold", threshold);
}

/* The share metadata the loader acts on is vouched for by the signature:
 * the receipt's "share" equals the response's, or is absent in both. */
static void test_receipt_share(void **state)
{
    struct keys *k = *state;
    check_share(k, 2, 2, 3, share_obj(2, 2, 3), KS_OK);
    check_share(k, 0, 0, 0, NULL, KS_OK);
    /* The response said share, the receipt whole key, and the reverse. */
    check_share(k, 2, 2, 3, NULL, KS_ERR_RECEIPT_MISMATCH);
    check_share(k, 0, 0, 0, share_obj(2, 2, 3), KS_ERR_RECEIPT_MISMATCH);
    /* Each field differs. */
    check_share(k, 2, 2, 3, share_obj(1, 2, 3), KS_ERR_RECEIPT_MISMATCH);
    check_share(k, 2, 2, 3, share_obj(2, 3, 3), KS_ERR_RECEIPT_MISMATCH);
    check_share(k, 2, 2, 3, share_obj(2, 2, 4), KS_ERR_RECEIPT_MISMATCH);
    /* Malformed share objects. */
    check_share(k, 2, 2, 3, json_null(), KS_ERR_RECEIPT_MISMATCH);
    check_share(k, 2, 2, 3, json_pack("{s:i,s:i}", "index", 2, "threshold", 2),
                KS_ERR_RECEIPT_MISMATCH);
    check_share(k, 2, 2, 3,
                json_pack("{s:i,s:i,s:i,s:i}", "count", 3, "index", 2, "threshold", 2, "x", 0),
                KS_ERR_RECEIPT_MISMATCH);
    check_share(k, 2, 2, 3, json_pack("{s:i,s:s,s:i}", "count", 3, "index", "2", "threshold", 2),
                KS_ERR_RECEIPT_MISMATCH);
    check_share(k, 2, 2, 3, json_pack("{s:i,s:i,s:i}", "count", 3, "index", 258, "threshold", 2),
                KS_ERR_RECEIPT_MISMATCH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statement_ok),
        cmocka_unit_test(test_statement_refused),
        cmocka_unit_test(test_receipt),
        cmocka_unit_test(test_receipt_share),
        cmocka_unit_test(test_receipt_request_binding),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
