/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include <jansson.h>

#include "encoding.h"
#include "loader-ref/enroll.h"
#include "makecred.h"

/*
 * The loader's side of the enrollment JSON (loader-ref/enroll_json.c): the
 * request it sends and the strict parsing of the keyserver's answers. The
 * credential of the answer is keylime's tpm2-tools fixture (mkcred.out),
 * which must come out as those very structures.
 */

#define ID "0123456789abcdef0123456789abcdef"
#define NAME "000b2d3fb7830f6cb214fac7d7cb213a21a0609148c4505927db61287e1e80322336"

/* A /v1/enroll answer around the fixture's credential; `extra` is spliced
 * in before the closing brace, `drop` names a member to leave out. */
static char *answer(const char *extra, const char *drop)
{
    size_t len;
    uint8_t *file = unit_read("quotes/keylime-tpm2-tools-fixture/mkcred.out", &len);
    TPM2B_ID_OBJECT blob;
    TPM2B_ENCRYPTED_SECRET enc;
    uint8_t *b = NULL, *e = NULL;
    size_t blen, elen;
    char *bs = NULL, *es = NULL;
    assert_int_equal(ks_cred_file_decode(file, len, &blob, &enc), KS_OK);
    assert_int_equal(ks_cred_blob_encode(&blob, &b, &blen), KS_OK);
    assert_int_equal(ks_cred_secret_encode(&enc, &e, &elen), KS_OK);
    assert_int_equal(ks_base64_encode(b, blen, &bs), KS_OK);
    assert_int_equal(ks_base64_encode(e, elen, &es), KS_OK);
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "enrollment_id", ID, "credential_blob",
                          bs, "encrypted_secret", es, "expires", (json_int_t)1900000000, "ak_id",
                          NAME, "ek_name", NAME);
    if (drop) {
        json_object_del(o, drop);
    }
    char *s = json_dumps(o, JSON_COMPACT);
    if (extra) {
        size_t n = strlen(s) + strlen(extra) + 1;
        char *t = malloc(n);
        snprintf(t, n, "%.*s%s}", (int)strlen(s) - 1, s, extra);
        free(s);
        s = t;
    }
    json_decref(o);
    free(file), free(b), free(e), free(bs), free(es);
    return s;
}

static void test_challenge(void **state)
{
    struct ks_enroll_client_challenge ch;
    char *s = answer(NULL, NULL);
    assert_int_equal(ks_enroll_client_challenge_parse((uint8_t *)s, strlen(s), &ch), KS_OK);
    assert_string_equal(ch.id, ID);
    assert_string_equal(ch.ak_id, NAME);
    assert_int_equal(ch.expires, 1900000000);
    /* The fixture: HMAC-SHA256 and a 9-byte secret; RSA-2048 OAEP. */
    assert_int_equal(ch.blob.size, 2 + 32 + 2 + 9);
    assert_int_equal(ch.enc.size, 256);
    free(s);

    static const struct {
        const char *extra, *drop;
        int want;
    } bad[] = {
        {",\"more\":\"x\"", NULL, KS_ERR_RESP_UNKNOWN},
        {NULL, "credential_blob", KS_ERR_RESP_MISSING},
        {NULL, "expires", KS_ERR_RESP_MISSING},
        {",\"ak_id\":\"00\"", "ak_id", KS_ERR_RESP_VALUE},
        {",\"ak_id\":\"000B2D\"", "ak_id", KS_ERR_RESP_VALUE},
        {",\"enrollment_id\":\"0123\"", "enrollment_id", KS_ERR_RESP_VALUE},
        {",\"expires\":\"soon\"", "expires", KS_ERR_RESP_TYPE},
        {",\"ek_name\":7", "ek_name", KS_ERR_RESP_TYPE},
        {",\"encrypted_secret\":\"AAAA\"", "encrypted_secret", KS_ERR_RESP_VALUE},
        {",\"credential_blob\":\"!!!!\"", "credential_blob", KS_ERR_BASE64},
        {",\"ak_id\":\"" NAME "\"", NULL, KS_ERR_RESP_DUPLICATE},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        s = answer(bad[i].extra, bad[i].drop);
        int r = ks_enroll_client_challenge_parse((uint8_t *)s, strlen(s), &ch);
        if (r != bad[i].want) {
            fail_msg("case %zu: %s -> %d, want %d", i, s, r, bad[i].want);
        }
        free(s);
    }
    assert_int_equal(ks_enroll_client_challenge_parse((const uint8_t *)"{", 1, &ch),
                     KS_ERR_RESP_JSON);
}

static void test_outcome(void **state)
{
    struct ks_enroll_client_outcome o;
    static const char active[] =
        "{\"ak_id\":\"" NAME "\",\"ek_name\":\"" NAME "\",\"status\":\"active\"}";
    static const char pending[] =
        "{\"ak_id\":\"" NAME "\",\"ek_name\":\"" NAME "\",\"status\":\"pending_ek_approval\"}";
    static const char odd[] =
        "{\"ak_id\":\"" NAME "\",\"ek_name\":\"" NAME "\",\"status\":\"maybe\"}";
    static const char extra[] =
        "{\"ak_id\":\"" NAME "\",\"ek_name\":\"" NAME "\",\"status\":\"active\",\"x\":\"y\"}";
    assert_int_equal(ks_enroll_client_outcome_parse((const uint8_t *)active, strlen(active), &o),
                     KS_OK);
    assert_true(o.active);
    assert_string_equal(o.ak_id, NAME);
    assert_int_equal(ks_enroll_client_outcome_parse((const uint8_t *)pending, strlen(pending), &o),
                     KS_OK);
    assert_false(o.active);
    assert_int_equal(ks_enroll_client_outcome_parse((const uint8_t *)odd, strlen(odd), &o),
                     KS_ERR_RESP_VALUE);
    assert_int_equal(ks_enroll_client_outcome_parse((const uint8_t *)extra, strlen(extra), &o),
                     KS_ERR_RESP_UNKNOWN);
    assert_int_equal(ks_enroll_client_outcome_parse((const uint8_t *)"[]", 2, &o),
                     KS_ERR_RESP_TYPE);
}

static void test_requests(void **state)
{
    static const uint8_t ek[] = {0, 2, 1, 2}, ak[] = {0, 1, 9}, cert[] = {0x30, 0};
    static const uint8_t secret[] = {1, 2, 3};
    char *s = NULL;
    size_t len = 0;
    assert_int_equal(ks_enroll_client_request(ek, 4, cert, 2, ak, 3, &s, &len), KS_OK);
    assert_string_equal(s, "{\"ak_pub\":\"AAEJ\",\"ek_cert\":\"MAA=\",\"ek_pub\":\"AAIBAg==\"}");
    assert_int_equal(len, strlen(s));
    free(s);
    assert_int_equal(ks_enroll_client_request(ek, 4, NULL, 0, ak, 3, &s, &len), KS_OK);
    assert_string_equal(s, "{\"ak_pub\":\"AAEJ\",\"ek_pub\":\"AAIBAg==\"}");
    free(s);
    assert_int_equal(ks_enroll_client_activation(secret, 3, &s, &len), KS_OK);
    assert_string_equal(s, "{\"secret\":\"AQID\"}");
    free(s);
    assert_int_equal(ks_enroll_client_request(NULL, 0, NULL, 0, ak, 3, &s, &len),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_enroll_client_activation(secret, 0, &s, &len), KS_ERR_INVALID_ARG);
    /* EK kinds. */
    enum ks_tpm_ek_kind k;
    assert_int_equal(ks_tpm_ek_kind_parse("ecc384", &k), KS_OK);
    assert_int_equal(k, KS_TPM_EK_ECC384);
    assert_int_equal(ks_tpm_ek_kind_parse("dsa", &k), KS_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_challenge),
        cmocka_unit_test(test_outcome),
        cmocka_unit_test(test_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
