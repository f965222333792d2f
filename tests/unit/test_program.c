/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include <openssl/evp.h>

#include "encoding.h"
#include "loader-ref/program.h"

/*
 * loader-ref/program: the manifest encoding and the Ed25519 signature
 * against tests/data/program (made with Python json + cryptography, RFC 8032
 * TEST 1 key), and every refusal of ks_program_verify / _manifest_parse.
 */

static EVP_PKEY *load(const char *rel, bool priv)
{
    EVP_PKEY *k = NULL;
    int r = priv ? ks_program_load_private_key(unit_data_path(rel), &k)
                 : ks_program_load_public_key(unit_data_path(rel), &k);
    assert_int_equal(r, KS_OK);
    return k;
}

static void demo_program(struct ks_program *p)
{
    memset(p, 0, sizeof(*p));
    strcpy(p->name, "demo-model");
    p->dims = KS_MODEL_DEFAULT_DIMS;
    assert_true(
        EVP_Digest("ks-seal test weights", 20, p->weights_sha256, NULL, EVP_sha256(), NULL));
    p->max_new_tokens = 64;
}

static void test_encode_matches_python(void **state)
{
    struct ks_program p;
    size_t wlen, len;
    char *json = NULL;
    uint8_t *want = unit_read("program/manifest.json", &wlen);
    demo_program(&p);
    assert_int_equal(ks_program_manifest_encode(&p, &json, &len), KS_OK);
    assert_int_equal(len, wlen);
    assert_memory_equal(json, want, wlen);
    free(json);
    free(want);
}

static void test_sign_matches_python(void **state)
{
    struct ks_program p;
    size_t wlen, len;
    char *signed_json = NULL;
    uint8_t *want = unit_read("program/signed.json", &wlen);
    EVP_PKEY *k = load("program/ci.pem", true);
    demo_program(&p);
    assert_int_equal(ks_program_sign(&p, k, &signed_json, &len), KS_OK);
    assert_int_equal(len, wlen);
    assert_memory_equal(signed_json, want, wlen);
    free(signed_json);
    free(want);
    EVP_PKEY_free(k);
}

static void test_verify_python(void **state)
{
    struct ks_program p, want;
    size_t len, mlen;
    uint8_t sha[32], msha[32];
    uint8_t *buf = unit_read("program/signed.json", &len);
    uint8_t *manifest = unit_read("program/manifest.json", &mlen);
    EVP_PKEY *k = load("program/ci.pub.pem", false);
    assert_int_equal(ks_program_verify(buf, len, k, &p, msha), KS_OK);
    demo_program(&want);
    assert_string_equal(p.name, "demo-model");
    assert_true(ks_model_dims_equal(&p.dims, &want.dims));
    assert_memory_equal(p.weights_sha256, want.weights_sha256, 32);
    assert_int_equal(p.max_new_tokens, 64);
    assert_true(EVP_Digest(manifest, mlen, sha, NULL, EVP_sha256(), NULL));
    assert_memory_equal(msha, sha, 32);
    free(buf);
    free(manifest);
    EVP_PKEY_free(k);
}

/* Wrap `manifest` with `sig` (base64 of whatever bytes) and verify. */
static int verify_parts(EVP_PKEY *k, const char *manifest, const uint8_t *sig, size_t sig_len)
{
    char *m64 = NULL, *s64 = NULL, buf[4096];
    struct ks_program p;
    assert_int_equal(ks_base64_encode((const uint8_t *)manifest, strlen(manifest), &m64), KS_OK);
    assert_int_equal(ks_base64_encode(sig, sig_len, &s64), KS_OK);
    snprintf(buf, sizeof(buf), "{\"manifest\":\"%s\",\"signature\":\"%s\"}", m64, s64);
    free(m64);
    free(s64);
    return ks_program_verify((const uint8_t *)buf, strlen(buf), k, &p, NULL);
}

static int sign_raw(EVP_PKEY *k, const char *msg, uint8_t sig[64])
{
    size_t slen = 64;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = EVP_DigestSignInit(c, NULL, NULL, NULL, k) == 1 &&
             EVP_DigestSign(c, sig, &slen, (const uint8_t *)msg, strlen(msg)) == 1;
    EVP_MD_CTX_free(c);
    return ok ? KS_OK : KS_ERR_CRYPTO;
}

static void test_verify_refusals(void **state)
{
    EVP_PKEY *priv = load("program/ci.pem", true);
    EVP_PKEY *pub = load("program/ci.pub.pem", false);
    EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_PKEY *p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    size_t len, mlen;
    uint8_t *good = unit_read("program/signed.json", &len);
    uint8_t *mbytes = unit_read("program/manifest.json", &mlen);
    char *manifest = calloc(1, mlen + 1);
    uint8_t sig[64];
    struct ks_program p;
    memcpy(manifest, mbytes, mlen);

    /* Another CI key; a key that is not Ed25519. */
    assert_int_equal(ks_program_verify(good, len, other, &p, NULL), KS_ERR_PROGRAM_SIGNATURE);
    assert_int_equal(ks_program_verify(good, len, p256, &p, NULL), KS_ERR_PROGRAM_KEY);
    assert_int_equal(ks_program_verify(good, len, NULL, &p, NULL), KS_ERR_PROGRAM_KEY);

    /* The genuine signature over a changed manifest. */
    assert_int_equal(sign_raw(priv, manifest, sig), KS_OK);
    assert_int_equal(verify_parts(pub, manifest, sig, 64), KS_OK);
    char *changed = strdup(manifest);
    changed[strlen(changed) - 3] = '9'; /* max_new_tokens 64 -> 69 */
    assert_int_equal(verify_parts(pub, changed, sig, 64), KS_ERR_PROGRAM_SIGNATURE);
    /* A flipped signature bit; a short or long signature. */
    sig[10] ^= 1;
    assert_int_equal(verify_parts(pub, manifest, sig, 64), KS_ERR_PROGRAM_SIGNATURE);
    sig[10] ^= 1;
    assert_int_equal(verify_parts(pub, manifest, sig, 63), KS_ERR_PROGRAM_SIGNATURE);
    uint8_t longer[65] = {0};
    memcpy(longer, sig, 64);
    assert_int_equal(verify_parts(pub, manifest, longer, 65), KS_ERR_PROGRAM_SIGNATURE);

    /* A properly signed manifest that the parser refuses. */
    const char *bad = "{\"v\":2}";
    assert_int_equal(sign_raw(priv, bad, sig), KS_OK);
    assert_int_equal(verify_parts(pub, bad, sig, 64), KS_ERR_PROGRAM_FIELD);

    /* The wrapper. */
    const char *wrappers[] = {
        "not json",
        "[]",
        "{\"manifest\":\"e30=\"}",
        "{\"manifest\":\"e30=\",\"signature\":\"AAAA\",\"x\":1}",
        "{\"manifest\":1,\"signature\":\"AAAA\"}",
        "{\"manifest\":\"e30=\",\"manifest\":\"e30=\"}",
    };
    for (size_t i = 0; i < sizeof(wrappers) / sizeof(wrappers[0]); i++) {
        assert_int_equal(
            ks_program_verify((const uint8_t *)wrappers[i], strlen(wrappers[i]), pub, &p, NULL),
            KS_ERR_PROGRAM_JSON);
    }
    const char *b64bad = "{\"manifest\":\"e30\",\"signature\":\"AAAA\"}";
    assert_int_equal(ks_program_verify((const uint8_t *)b64bad, strlen(b64bad), pub, &p, NULL),
                     KS_ERR_BASE64);
    uint8_t *huge = calloc(1, KS_PROGRAM_MAX + 2);
    memset(huge, ' ', KS_PROGRAM_MAX + 1);
    assert_int_equal(ks_program_verify(huge, KS_PROGRAM_MAX + 1, pub, &p, NULL),
                     KS_ERR_PROGRAM_JSON);
    assert_int_equal(ks_program_verify(NULL, 0, pub, &p, NULL), KS_ERR_INVALID_ARG);

    free(huge);
    free(changed);
    free(manifest);
    free(mbytes);
    free(good);
    EVP_PKEY_free(priv);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(other);
    EVP_PKEY_free(p256);
}

static void test_manifest_parse_refusals(void **state)
{
#define M(v, name, model, sha, n)                                                                  \
    "{\"v\":" v ",\"name\":" name ",\"model\":" model ",\"weights_sha256\":" sha                   \
    ",\"max_new_tokens\":" n "}"
#define DIMS                                                                                       \
    "{\"vocab\":256,\"d_model\":64,\"n_layers\":2,\"n_heads\":4,\"d_ff\":256,\"max_seq\":128}"
#define SHA "\"b98e44e2635eee1a0bb6782409b8b2bda1fa06a3786093fbc8bd35326abf4e9f\""
    struct ks_program p;
    const char *good = M("1", "\"x\"", DIMS, SHA, "128");
    assert_int_equal(ks_program_manifest_parse((const uint8_t *)good, strlen(good), &p), KS_OK);
    assert_int_equal(p.max_new_tokens, 128);
    const char *fields[] = {
        M("2", "\"x\"", DIMS, SHA, "1"),
        M("\"1\"", "\"x\"", DIMS, SHA, "1"),
        M("1", "\"\"", DIMS, SHA, "1"),
        M("1", "\"a b\"", DIMS, SHA, "1"),
        M("1", "7", DIMS, SHA, "1"),
        M("1", "\"x\"", DIMS, SHA, "0"),
        M("1", "\"x\"", DIMS, SHA, "129"),
        M("1", "\"x\"", DIMS, SHA, "-1"),
        M("1", "\"x\"", DIMS, SHA, "1.5"),
        M("1", "\"x\"", DIMS,
          "\"B98E44E2635EEE1A0BB6782409B8B2BDA1FA06A3786093FBC8BD35326ABF4E9F\"", "1"),
        M("1", "\"x\"", DIMS, "\"b98e\"", "1"),
        M("1", "\"x\"", DIMS, "null", "1"),
        M("1", "\"x\"", "[]", SHA, "1"),
        M("1", "\"x\"",
          "{\"vocab\":255,\"d_model\":64,\"n_layers\":2,\"n_heads\":4,\"d_ff\":256,\"max_seq\":"
          "128}",
          SHA, "1"),
        M("1", "\"x\"",
          "{\"vocab\":256,\"d_model\":64,\"n_layers\":2,\"n_heads\":5,\"d_ff\":256,\"max_seq\":"
          "128}",
          SHA, "1"),
        M("1", "\"x\"",
          "{\"vocab\":256,\"d_model\":64,\"n_layers\":2,\"n_heads\":4,\"d_ff\":256,\"max_seq\":"
          "4294967296}",
          SHA, "1"),
        M("1", "\"x\"", "{\"vocab\":256,\"d_model\":64,\"n_layers\":2,\"n_heads\":4,\"d_ff\":256}",
          SHA, "1"),
        M("1", "\"x\"",
          "{\"vocab\":256,\"d_model\":64,\"n_layers\":2,\"n_heads\":4,\"d_ff\":256,\"max_seq\":128,"
          "\"extra\":1}",
          SHA, "1"),
        "{\"v\":1,\"name\":\"x\",\"model\":" DIMS ",\"weights_sha256\":" SHA "}",
        "{\"v\":1,\"name\":\"x\",\"model\":" DIMS ",\"weights_sha256\":" SHA
        ",\"max_new_tokens\":1,\"extra\":true}",
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        print_message("# manifest case %zu\n", i);
        assert_int_equal(
            ks_program_manifest_parse((const uint8_t *)fields[i], strlen(fields[i]), &p),
            KS_ERR_PROGRAM_FIELD);
    }
    const char *json[] = {"", "{", "[1]", "{\"v\":1,\"v\":1}", "\"string\""};
    for (size_t i = 0; i < sizeof(json) / sizeof(json[0]); i++) {
        assert_int_equal(ks_program_manifest_parse((const uint8_t *)json[i], strlen(json[i]), &p),
                         KS_ERR_PROGRAM_JSON);
    }
    assert_int_equal(ks_program_manifest_parse(NULL, 0, &p), KS_ERR_INVALID_ARG);
#undef M
#undef DIMS
#undef SHA
}

static void test_encode_sign_refusals(void **state)
{
    struct ks_program p;
    char *out = NULL;
    EVP_PKEY *p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *pub = load("program/ci.pub.pem", false);
    demo_program(&p);
    p.max_new_tokens = 0;
    assert_int_equal(ks_program_manifest_encode(&p, &out, NULL), KS_ERR_PROGRAM_FIELD);
    p.max_new_tokens = 129;
    assert_int_equal(ks_program_manifest_encode(&p, &out, NULL), KS_ERR_PROGRAM_FIELD);
    demo_program(&p);
    p.dims.n_heads = 3;
    assert_int_equal(ks_program_manifest_encode(&p, &out, NULL), KS_ERR_PROGRAM_FIELD);
    demo_program(&p);
    strcpy(p.name, "no/slash");
    assert_int_equal(ks_program_manifest_encode(&p, &out, NULL), KS_ERR_PROGRAM_FIELD);
    demo_program(&p);
    assert_int_equal(ks_program_sign(&p, p256, &out, NULL), KS_ERR_PROGRAM_KEY);
    /* A public key cannot sign. */
    assert_int_equal(ks_program_sign(&p, pub, &out, NULL), KS_ERR_CRYPTO);
    assert_null(out);
    EVP_PKEY_free(p256);
    EVP_PKEY_free(pub);
}

static void test_load_key_refusals(void **state)
{
    EVP_PKEY *k = NULL;
    assert_int_equal(ks_program_load_public_key("/nonexistent/ci.pub.pem", &k), KS_ERR_IO);
    /* A private key file is not a public key; a public key file not a private. */
    assert_int_equal(ks_program_load_public_key(unit_data_path("program/ci.pem"), &k),
                     KS_ERR_PROGRAM_KEY);
    assert_int_equal(ks_program_load_private_key(unit_data_path("program/ci.pub.pem"), &k),
                     KS_ERR_PROGRAM_KEY);
    /* An RSA public key (from the quote test data). */
    assert_int_equal(
        ks_program_load_public_key(unit_data_path("quotes/swtpm-rsa-rsassa/ak.pem"), &k),
        KS_ERR_PROGRAM_KEY);
    assert_null(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_matches_python),   cmocka_unit_test(test_sign_matches_python),
        cmocka_unit_test(test_verify_python),           cmocka_unit_test(test_verify_refusals),
        cmocka_unit_test(test_manifest_parse_refusals), cmocka_unit_test(test_encode_sign_refusals),
        cmocka_unit_test(test_load_key_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
