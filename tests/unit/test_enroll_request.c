/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include "encoding.h"
#include "keyserverd/enroll.h"
#include "keyserverd/http.h"

/*
 * The untrusted bodies of POST /v1/enroll and /v1/enroll/{id}/activate
 * (keyserverd/enroll_request.c), with real public areas: swtpm's RSA EK
 * (tests/data/certs/swtpm-localca) and the RSA AK of the swtpm quote
 * fixture, whose Name the fixture records. And the HTTP mapping of the
 * enrollment errors (DESIGN "Protocol": 403 refused, 404 unknown id, 409
 * reused id).
 */

static char *b64_file(const char *rel)
{
    size_t len;
    char *s = NULL;
    uint8_t *buf = unit_read(rel, &len);
    assert_int_equal(ks_base64_encode(buf, len, &s), KS_OK);
    free(buf);
    return s;
}

static char *body(bool with_cert, const char *extra)
{
    char *ek = b64_file("certs/swtpm-localca/ek-rsa2048.pub");
    char *ak = b64_file("quotes/swtpm-rsa-rsassa/ak.tpm2b_public.bin");
    char *cert = b64_file("certs/swtpm-localca/ek-rsa2048.nv");
    size_t n = strlen(ek) + strlen(ak) + strlen(cert) + 256;
    char *out = malloc(n);
    snprintf(out, n, "{\"ek_pub\":\"%s\",\"ak_pub\":\"%s\"%s%s%s%s}", ek, ak,
             with_cert ? ",\"ek_cert\":\"" : "", with_cert ? cert : "", with_cert ? "\"" : "",
             extra ? extra : "");
    free(ek);
    free(ak);
    free(cert);
    return out;
}

static int parse(const char *s, struct ks_enroll_request **req, char *detail)
{
    return ks_enroll_request_parse((const uint8_t *)s, strlen(s), req, detail, 256);
}

static void test_parse_ok(void **state)
{
    struct ks_enroll_request *req = NULL;
    char detail[256] = "";
    size_t name_len;
    char *s = body(true, NULL);
    uint8_t *want_name = unit_read("quotes/swtpm-rsa-rsassa/ak.name", &name_len);
    assert_int_equal(parse(s, &req, detail), KS_OK);
    assert_int_equal(req->ak_name_len, name_len);
    assert_memory_equal(req->ak_name, want_name, name_len);
    char hex[KS_TPM_NAME_HEX_MAX];
    ks_hex_encode(want_name, name_len, hex);
    assert_string_equal(req->ak_id, hex);
    assert_string_equal(req->ek_name,
                        "000b92d1f6ff329d358ac0cfc515bbfeadfe50c2c4e59daa411da00b206b824419ea");
    assert_int_equal(req->ek.type, TPM2_ALG_RSA);
    assert_non_null(req->ek_cert);
    assert_int_equal(req->ek_cert_len, 1016);
    ks_enroll_request_free(req);
    free(s);
    /* Without the certificate, and with an explicit null one. */
    s = body(false, NULL);
    assert_int_equal(parse(s, &req, detail), KS_OK);
    assert_null(req->ek_cert);
    ks_enroll_request_free(req);
    free(s);
    s = body(false, ",\"ek_cert\":null");
    assert_int_equal(parse(s, &req, detail), KS_OK);
    assert_null(req->ek_cert);
    ks_enroll_request_free(req);
    free(s);
    free(want_name);
}

static void test_parse_refusals(void **state)
{
    struct ks_enroll_request *req = NULL;
    char detail[256];
    static const struct {
        const char *json, *why;
    } bad[] = {
        {"", "empty body"},
        {"[]", "JSON object"},
        {"{\"ek_pub\":\"AAAA\"}", "ak_pub missing"},
        {"{\"ak_pub\":\"AAAA\"}", "ek_pub missing"},
        {"{\"ek_pub\":1,\"ak_pub\":\"AAAA\"}", "base64 string"},
        {"{\"ek_pub\":\"A===\",\"ak_pub\":\"AAAA\"}", "invalid base64"},
        {"{\"ek_pub\":\"AAAA\",\"ak_pub\":\"AAAA\"}", "TPM2B_PUBLIC"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        detail[0] = '\0';
        assert_int_equal(parse(bad[i].json, &req, detail), KS_ERR_BAD_REQUEST);
        assert_null(req);
        if (!strstr(detail, bad[i].why)) {
            fail_msg("%s: detail '%s' lacks '%s'", bad[i].json, detail, bad[i].why);
        }
    }
    char *s = body(true, ",\"extra\":1");
    assert_int_equal(parse(s, &req, detail), KS_ERR_BAD_REQUEST);
    assert_non_null(strstr(detail, "unknown member"));
    free(s);
    /* Duplicate members are refused (JSON_REJECT_DUPLICATES). */
    s = body(false, ",\"ek_pub\":\"AAAA\"");
    assert_int_equal(parse(s, &req, detail), KS_ERR_BAD_REQUEST);
    free(s);
    /* A TPM2B_PUBLIC with a trailing byte. */
    size_t len;
    uint8_t *pub = unit_read("quotes/swtpm-rsa-rsassa/ak.tpm2b_public.bin", &len);
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, pub, len);
    longer[len] = 0;
    char *b = NULL;
    assert_int_equal(ks_base64_encode(longer, len + 1, &b), KS_OK);
    char json[2048];
    snprintf(json, sizeof(json), "{\"ek_pub\":\"%s\",\"ak_pub\":\"%s\"}", b, b);
    assert_int_equal(parse(json, &req, detail), KS_ERR_BAD_REQUEST);
    free(b), free(longer), free(pub);
    /* A certificate past the cap is refused before decoding. */
    size_t n = 4 * (KS_ENROLL_MAX_CERT / 3 + 4);
    char *big = malloc(n + 64);
    memcpy(big, "{\"ek_pub\":\"AAAA\",\"ak_pub\":\"AAAA\",\"ek_cert\":\"", 45);
    memset(big + 45, 'A', n);
    memcpy(big + 45 + n, "\"}", 3);
    assert_int_equal(parse(big, &req, detail), KS_ERR_BAD_REQUEST);
    free(big);
}

static void test_activate_parse(void **state)
{
    uint8_t secret[KS_STORE_ENROLL_SECRET_MAX];
    size_t len = 0;
    char detail[256];
    static const char id[] = "0123456789abcdef0123456789abcdef";
    static const char ok[] = "{\"secret\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}";
    assert_int_equal(ks_enroll_activate_parse(id, (const uint8_t *)ok, strlen(ok), secret, &len,
                                              detail, sizeof(detail)),
                     KS_OK);
    assert_int_equal(len, 32);
    assert_int_equal(secret[31], 31);
    /* Ids: exactly 32 lowercase hex digits, else unknown (404). */
    static const char *const bad_ids[] = {"", "0123456789ABCDEF0123456789ABCDEF",
                                          "0123456789abcdef0123456789abcde", "../x", NULL};
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        assert_int_equal(ks_enroll_activate_parse(bad_ids[i], (const uint8_t *)ok, strlen(ok),
                                                  secret, &len, detail, sizeof(detail)),
                         KS_ERR_ENROLL_UNKNOWN);
    }
    static const char *const bad[] = {"{}", "{\"secret\":\"\"}", "{\"secret\":1}",
                                      "{\"secret\":\"AA==\",\"x\":1}", "not json",
                                      /* 65 bytes: more than any digest */
                                      "{\"secret\":\"" /* 87 'A' and '=' */
                                      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                                      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(ks_enroll_activate_parse(id, (const uint8_t *)bad[i], strlen(bad[i]),
                                                  secret, &len, detail, sizeof(detail)),
                         KS_ERR_BAD_REQUEST);
    }
}

static void test_http_mapping(void **state)
{
    const char *code;
    assert_int_equal(ks_http_status_for(KS_ERR_ENROLL_UNKNOWN, &code), 404);
    assert_string_equal(code, "not_found");
    assert_int_equal(ks_http_status_for(KS_ERR_ENROLL_USED, &code), 409);
    assert_string_equal(code, "nonce_used");
    assert_int_equal(ks_http_status_for(KS_ERR_ENROLL_TOO_MANY, &code), 429);
    assert_int_equal(ks_http_status_for(KS_ERR_EKCERT_PARSE, &code), 400);
    static const int refused[] = {
        KS_ERR_EKCERT_UNTRUSTED, KS_ERR_EKCERT_EXPIRED,      KS_ERR_EKCERT_NOT_YET_VALID,
        KS_ERR_EKCERT_REVOKED,   KS_ERR_EKCERT_KEY_MISMATCH, KS_ERR_EK_NOT_APPROVED,
        KS_ERR_EK_REVOKED,       KS_ERR_ENROLL_REFUSED,      KS_ERR_ENROLL_EXPIRED,
        KS_ERR_ENROLL_SECRET,    KS_ERR_ROCA_WEAK,           KS_ERR_TPM_ATTRIBUTES,
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        assert_int_equal(ks_http_status_for(refused[i], &code), 403);
        assert_string_equal(code, "attestation_failed");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ok),
        cmocka_unit_test(test_parse_refusals),
        cmocka_unit_test(test_activate_parse),
        cmocka_unit_test(test_http_mapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
