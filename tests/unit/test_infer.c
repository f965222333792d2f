/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include "encoding.h"
#include "hpke.h"
#include "loader-ref/infer.h"

/*
 * INFER's encryption (loader-ref/infer.h). The HPKE underneath is checked
 * against RFC 9180 in test_hpke; here: the exact info string, that the
 * client's and the loader's sides agree (with each other and with a context
 * set up by hand from the documented strings), every way a request fails to
 * open, and the response AEAD against the GCM specification's Test Case 16
 * (AES-256, 96-bit IV, with AAD). The integration test adds an independent
 * Python client (tests/integration/infer_client.py).
 */

static void keypair(uint8_t sk[32], uint8_t pk[32])
{
    assert_int_equal(ks_hpke_keygen(sk, pk), KS_OK);
}

static void test_info(void **state)
{
    (void)state;
    uint8_t info[KS_INFER_INFO_MAX];
    size_t len = 0;
    assert_int_equal(ks_infer_info("req", 1, info, sizeof(info), &len), KS_OK);
    assert_int_equal(len, 11 + 1 + 3 + 4);
    assert_memory_equal(info, "ks-infer-v1\0req\0\0\0\1", len);
    assert_int_equal(ks_infer_info("a.b-c_D9", 0x01020304, info, sizeof(info), &len), KS_OK);
    assert_memory_equal(info + len - 4, "\1\2\3\4", 4);
    char longest[65];
    memset(longest, 'k', 64);
    longest[64] = '\0';
    assert_int_equal(ks_infer_info(longest, 7, info, sizeof(info), &len), KS_OK);
    assert_int_equal(len, KS_INFER_INFO_MAX);
    /* Refused: a bad name, version 0, a name@version, a short buffer. */
    longest[63] = '\0';
    char toolong[66];
    memset(toolong, 'k', 65);
    toolong[65] = '\0';
    assert_int_equal(ks_infer_info(toolong, 1, info, sizeof(info), &len), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_infer_info("", 1, info, sizeof(info), &len), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_infer_info("a b", 1, info, sizeof(info), &len), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_infer_info("req@2", 1, info, sizeof(info), &len), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_infer_info("req", 0, info, sizeof(info), &len), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_infer_info("req", 1, info, 18, &len), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_infer_info(NULL, 1, info, sizeof(info), &len), KS_ERR_INVALID_ARG);
}

struct req {
    uint8_t enc[32], ct[256], rk[32];
    size_t ct_len;
};

static void seal(const uint8_t pk[32], const char *name, uint32_t v, const char *id,
                 uint64_t issued, uint32_t max_new, const char *prompt, struct req *r)
{
    assert_int_equal(ks_infer_seal_request(pk, name, v, (const uint8_t *)id, strlen(id), issued,
                                           max_new, (const uint8_t *)prompt, strlen(prompt), r->enc,
                                           r->ct, sizeof(r->ct), &r->ct_len, r->rk),
                     KS_OK);
}

static void test_roundtrip(void **state)
{
    (void)state;
    uint8_t sk[32], pk[32], pt[256], rk[32];
    size_t pt_len = 0, prompt_len = 0;
    uint64_t issued = 0;
    uint32_t max_new = 0;
    const uint8_t *prompt = NULL;
    struct req r;
    keypair(sk, pk);
    seal(pk, "req", 3, "id-1", 0x0102030405060708ull, 77, "hello", &r);
    assert_int_equal(r.ct_len, KS_INFER_HEADER_LEN + 5 + KS_INFER_TAG_LEN);
    assert_int_equal(ks_infer_open_request(sk, "req", 3, (const uint8_t *)"id-1", 4, r.enc, r.ct,
                                           r.ct_len, pt, sizeof(pt), &pt_len, rk),
                     KS_OK);
    assert_int_equal(pt_len, KS_INFER_HEADER_LEN + 5);
    /* The documented plaintext layout. */
    assert_memory_equal(pt, "\1\1\2\3\4\5\6\7\x08\0\0\0\x4dhello", pt_len);
    assert_int_equal(ks_infer_parse_plain(pt, pt_len, &issued, &max_new, &prompt, &prompt_len),
                     KS_OK);
    assert_int_equal(issued, 0x0102030405060708ull);
    assert_int_equal(max_new, 77);
    assert_int_equal(prompt_len, 5);
    assert_memory_equal(prompt, "hello", 5);
    /* Both sides export the same response key. */
    assert_memory_equal(rk, r.rk, 32);
    /* Two requests: two encs, two response keys. */
    struct req r2;
    seal(pk, "req", 3, "id-1", 1, 1, "hello", &r2);
    assert_memory_not_equal(r.enc, r2.enc, 32);
    assert_memory_not_equal(r.rk, r2.rk, 32);
}

/* The loader's side against a sender context set up by hand from the
 * documented strings (not through ks_infer_seal_request). */
static void test_documented_strings(void **state)
{
    (void)state;
    uint8_t sk[32], pk[32], enc[32], ct[64], pt[64], rk[32], rk_want[32];
    size_t ct_len = 0, pt_len = 0;
    struct ks_hpke_ctx *ctx = NULL;
    static const uint8_t info[] = "ks-infer-v1\0model-key\0\0\1\0";
    static const uint8_t plain[] = "\1\0\0\0\0\0\0\0\x2a\0\0\0\5ab";
    keypair(sk, pk);
    assert_int_equal(
        ks_hpke_setup_sender(KS_HPKE_SUITE_DEFAULT, pk, info, sizeof(info) - 1, NULL, enc, &ctx),
        KS_OK);
    assert_int_equal(ks_hpke_seal(ctx, (const uint8_t *)"rid", 3, plain, sizeof(plain) - 1, ct,
                                  sizeof(ct), &ct_len),
                     KS_OK);
    assert_int_equal(ks_hpke_export(ctx, (const uint8_t *)"ks-infer-response", 17, 32, rk_want),
                     KS_OK);
    ks_hpke_ctx_free(ctx);
    assert_int_equal(ks_infer_open_request(sk, "model-key", 256, (const uint8_t *)"rid", 3, enc, ct,
                                           ct_len, pt, sizeof(pt), &pt_len, rk),
                     KS_OK);
    assert_int_equal(pt_len, sizeof(plain) - 1);
    assert_memory_equal(pt, plain, pt_len);
    assert_memory_equal(rk, rk_want, 32);
}

static void test_open_refusals(void **state)
{
    (void)state;
    uint8_t sk[32], pk[32], sk2[32], pk2[32], pt[256], rk[32];
    size_t pt_len = 0;
    struct req r;
    const uint8_t *id = (const uint8_t *)"id-1";
    keypair(sk, pk);
    keypair(sk2, pk2);
    seal(pk, "req", 1, "id-1", 5, 5, "secret prompt", &r);
#define OPEN(SK, NAME, V, ID, IDLEN, ENC, CT, CTLEN, PTSIZE)                                       \
    ks_infer_open_request(SK, NAME, V, ID, IDLEN, ENC, CT, CTLEN, pt, PTSIZE, &pt_len, rk)
    memset(pt, 0xee, sizeof(pt));
    /* Another key, name, version or id, or any change: not authentic. */
    assert_int_equal(OPEN(sk2, "req", 1, id, 4, r.enc, r.ct, r.ct_len, sizeof(pt)),
                     KS_ERR_HPKE_OPEN);
    assert_int_equal(OPEN(sk, "rex", 1, id, 4, r.enc, r.ct, r.ct_len, sizeof(pt)),
                     KS_ERR_HPKE_OPEN);
    assert_int_equal(OPEN(sk, "req", 2, id, 4, r.enc, r.ct, r.ct_len, sizeof(pt)),
                     KS_ERR_HPKE_OPEN);
    assert_int_equal(
        OPEN(sk, "req", 1, (const uint8_t *)"id-2", 4, r.enc, r.ct, r.ct_len, sizeof(pt)),
        KS_ERR_HPKE_OPEN);
    r.ct[3] ^= 1;
    assert_int_equal(OPEN(sk, "req", 1, id, 4, r.enc, r.ct, r.ct_len, sizeof(pt)),
                     KS_ERR_HPKE_OPEN);
    r.ct[3] ^= 1;
    r.enc[0] ^= 1;
    assert_int_equal(OPEN(sk, "req", 1, id, 4, r.enc, r.ct, r.ct_len, sizeof(pt)),
                     KS_ERR_HPKE_OPEN);
    r.enc[0] ^= 1;
    assert_int_equal(OPEN(sk, "req", 1, id, 4, r.enc, r.ct, r.ct_len - 1, sizeof(pt)),
                     KS_ERR_HPKE_OPEN);
    /* A low-order enc (all zero) is just as unauthenticated. */
    static const uint8_t zero[32] = {0};
    assert_int_equal(OPEN(sk, "req", 1, id, 4, zero, r.ct, r.ct_len, sizeof(pt)), KS_ERR_HPKE_OPEN);
    assert_int_equal(OPEN(sk, "req", 1, id, 4, r.enc, r.ct, 15, sizeof(pt)), KS_ERR_HPKE_OPEN);
    /* Nothing reached the output. */
    for (size_t i = 0; i < sizeof(pt); i++) {
        assert_int_equal(pt[i], 0xee);
    }
    /* Caps and arguments. */
    assert_int_equal(OPEN(sk, "req", 1, id, 4, r.enc, r.ct,
                          KS_INFER_HEADER_LEN + KS_INFER_PROMPT_MAX + KS_INFER_TAG_LEN + 1,
                          sizeof(pt)),
                     KS_ERR_TOO_LARGE);
    assert_int_equal(OPEN(sk, "req", 1, id, 4, r.enc, r.ct, r.ct_len, r.ct_len - 17),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(OPEN(sk, "req", 1, id, 0, r.enc, r.ct, r.ct_len, sizeof(pt)),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(OPEN(sk, "req", 1, id, 65, r.enc, r.ct, r.ct_len, sizeof(pt)),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(OPEN(sk, "req", 0, id, 4, r.enc, r.ct, r.ct_len, sizeof(pt)),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(OPEN(NULL, "req", 1, id, 4, r.enc, r.ct, r.ct_len, sizeof(pt)),
                     KS_ERR_INVALID_ARG);
    /* And the untouched request still opens. */
    assert_int_equal(OPEN(sk, "req", 1, id, 4, r.enc, r.ct, r.ct_len, sizeof(pt)), KS_OK);
#undef OPEN
}

static void test_seal_refusals(void **state)
{
    (void)state;
    uint8_t sk[32], pk[32], enc[32], ct[64], rk[32];
    size_t ct_len = 0;
    const uint8_t *id = (const uint8_t *)"i";
    keypair(sk, pk);
    uint8_t *big = calloc(1, KS_INFER_PROMPT_MAX + 1);
    assert_non_null(big);
    assert_int_equal(ks_infer_seal_request(pk, "req", 1, id, 1, 0, 0, big, KS_INFER_PROMPT_MAX + 1,
                                           enc, ct, sizeof(ct), &ct_len, rk),
                     KS_ERR_TOO_LARGE);
    free(big);
    assert_int_equal(ks_infer_seal_request(pk, "req", 1, id, 1, 0, 0, (const uint8_t *)"", 0, enc,
                                           ct, sizeof(ct), &ct_len, rk),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_infer_seal_request(pk, "req", 1, id, 1, 0, 0, (const uint8_t *)"abc", 3,
                                           enc, ct, 31, &ct_len, rk),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_infer_seal_request(pk, "req", 1, id, 65, 0, 0, (const uint8_t *)"abc", 3,
                                           enc, ct, sizeof(ct), &ct_len, rk),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_infer_seal_request(pk, "r q", 1, id, 1, 0, 0, (const uint8_t *)"abc", 3,
                                           enc, ct, sizeof(ct), &ct_len, rk),
                     KS_ERR_INVALID_ARG);
    /* A low-order public key: refused by HPKE (RFC 9180 7.1.4). */
    static const uint8_t zero[32] = {0};
    assert_int_equal(ks_infer_seal_request(zero, "req", 1, id, 1, 0, 0, (const uint8_t *)"abc", 3,
                                           enc, ct, sizeof(ct), &ct_len, rk),
                     KS_ERR_HPKE_KEY);
}

static void test_parse_plain(void **state)
{
    (void)state;
    uint64_t t;
    uint32_t n;
    const uint8_t *p;
    size_t plen;
    static const uint8_t ok[] = "\1\0\0\0\0\0\0\0\1\0\0\0\2x";
    assert_int_equal(ks_infer_parse_plain(ok, 14, &t, &n, &p, &plen), KS_OK);
    assert_int_equal(t, 1);
    assert_int_equal(n, 2);
    assert_int_equal(plen, 1);
    assert_int_equal(p[0], 'x');
    /* An empty prompt, a short header, another format. */
    assert_int_equal(ks_infer_parse_plain(ok, 13, &t, &n, &p, &plen), KS_ERR_PROTO_REQUEST);
    assert_int_equal(ks_infer_parse_plain(ok, 5, &t, &n, &p, &plen), KS_ERR_PROTO_REQUEST);
    static const uint8_t v2[] = "\2\0\0\0\0\0\0\0\1\0\0\0\2x";
    assert_int_equal(ks_infer_parse_plain(v2, 14, &t, &n, &p, &plen), KS_ERR_PROTO_REQUEST);
    assert_int_equal(ks_infer_parse_plain(NULL, 14, &t, &n, &p, &plen), KS_ERR_INVALID_ARG);
}

/* The GCM specification (McGrew and Viega), Test Case 16. */
static void test_response_gcm_vector(void **state)
{
    (void)state;
    uint8_t key[32], iv[12], pt[60], aad[20], want[76], ct[96], back[96];
    size_t len = 0;
    assert_int_equal(
        ks_hex_decode_fixed("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", key,
                            32),
        KS_OK);
    assert_int_equal(ks_hex_decode_fixed("cafebabefacedbaddecaf888", iv, 12), KS_OK);
    assert_int_equal(ks_hex_decode_fixed("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d"
                                         "8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657"
                                         "ba637b39",
                                         pt, 60),
                     KS_OK);
    assert_int_equal(ks_hex_decode_fixed("feedfacedeadbeeffeedfacedeadbeefabaddad2", aad, 20),
                     KS_OK);
    assert_int_equal(ks_hex_decode_fixed("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd"
                                         "2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0a"
                                         "bcc9f66276fc6ece0f4e1768cddf8853bb2d551b",
                                         want, 76),
                     KS_OK);
    assert_int_equal(ks_infer_seal_response(key, iv, aad, 20, pt, 60, ct, sizeof(ct), &len), KS_OK);
    assert_int_equal(len, 76);
    assert_memory_equal(ct, want, 76);
    assert_int_equal(ks_infer_open_response(key, iv, aad, 20, ct, 76, back, sizeof(back), &len),
                     KS_OK);
    assert_int_equal(len, 60);
    assert_memory_equal(back, pt, 60);
}

static void test_response_refusals(void **state)
{
    (void)state;
    uint8_t key[32] = {1}, iv[12] = {2}, ct[64], out[64];
    size_t len = 0, ct_len = 0;
    const uint8_t *id = (const uint8_t *)"id";
    assert_int_equal(
        ks_infer_seal_response(key, iv, id, 2, (const uint8_t *)"done", 4, ct, sizeof(ct), &ct_len),
        KS_OK);
    memset(out, 0xee, sizeof(out));
    uint8_t key2[32] = {3}, iv2[12] = {4};
    assert_int_equal(ks_infer_open_response(key2, iv, id, 2, ct, ct_len, out, sizeof(out), &len),
                     KS_ERR_RESPONSE_OPEN);
    assert_int_equal(ks_infer_open_response(key, iv2, id, 2, ct, ct_len, out, sizeof(out), &len),
                     KS_ERR_RESPONSE_OPEN);
    assert_int_equal(ks_infer_open_response(key, iv, (const uint8_t *)"ie", 2, ct, ct_len, out,
                                            sizeof(out), &len),
                     KS_ERR_RESPONSE_OPEN);
    ct[ct_len - 1] ^= 1;
    assert_int_equal(ks_infer_open_response(key, iv, id, 2, ct, ct_len, out, sizeof(out), &len),
                     KS_ERR_RESPONSE_OPEN);
    ct[ct_len - 1] ^= 1;
    assert_int_equal(ks_infer_open_response(key, iv, id, 2, ct, 15, out, sizeof(out), &len),
                     KS_ERR_RESPONSE_OPEN);
    for (size_t i = 0; i < sizeof(out); i++) {
        assert_int_equal(out[i], 0xee);
    }
    assert_int_equal(ks_infer_open_response(key, iv, id, 2, ct, ct_len, out, 3, &len),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_infer_open_response(key, iv, id, 0, ct, ct_len, out, sizeof(out), &len),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(
        ks_infer_seal_response(key, iv, id, 2, (const uint8_t *)"done", 4, ct, 19, &ct_len),
        KS_ERR_INVALID_ARG);
    assert_int_equal(ks_infer_seal_response(key, iv, id, 2, out, KS_INFER_PROMPT_MAX + 1, ct,
                                            sizeof(ct), &ct_len),
                     KS_ERR_TOO_LARGE);
    /* An empty completion is just a tag. */
    assert_int_equal(ks_infer_seal_response(key, iv, id, 2, NULL, 0, ct, sizeof(ct), &ct_len),
                     KS_OK);
    assert_int_equal(ct_len, 16);
    assert_int_equal(ks_infer_open_response(key, iv, id, 2, ct, ct_len, out, sizeof(out), &len),
                     KS_OK);
    assert_int_equal(len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_info),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_documented_strings),
        cmocka_unit_test(test_open_refusals),
        cmocka_unit_test(test_seal_refusals),
        cmocka_unit_test(test_parse_plain),
        cmocka_unit_test(test_response_gcm_vector),
        cmocka_unit_test(test_response_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
