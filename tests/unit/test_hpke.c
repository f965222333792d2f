/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include <jansson.h>
#include <openssl/err.h>

#include "encoding.h"
#include "hpke.h"

#define VECTORS "hpke/rfc9180-test-vectors.base-psk.x25519-p256.hkdf-sha256.aes-gcm.json"

/* What the vector file holds for DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
 * AES-128-GCM and AES-256-GCM: modes base and psk, one vector each, with
 * 257 encryptions and 3 exports (tests/data/README.md). */
#define EXPECT_VECTORS 4
#define EXPECT_ENCRYPTIONS (EXPECT_VECTORS * 257)
#define EXPECT_EXPORTS (EXPECT_VECTORS * 3)

#define SUITE_128                                                                                  \
    ((struct ks_hpke_suite){KS_HPKE_KEM_X25519_SHA256, KS_HPKE_KDF_HKDF_SHA256,                    \
                            KS_HPKE_AEAD_AES_128_GCM})
#define SUITE_EXPORT_ONLY                                                                          \
    ((struct ks_hpke_suite){KS_HPKE_KEM_X25519_SHA256, KS_HPKE_KDF_HKDF_SHA256,                    \
                            KS_HPKE_AEAD_EXPORT_ONLY})

/* ---- helpers ------------------------------------------------------------ */

static const char *jstr(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    if (!s) {
        fail_msg("vector field %s missing", key);
    }
    return s;
}

static uint8_t *jhex(json_t *obj, const char *key, size_t *ret_len)
{
    uint8_t *buf = NULL;
    if (ks_hex_decode(jstr(obj, key), &buf, ret_len) != KS_OK) {
        fail_msg("vector field %s is not hex", key);
    }
    return buf;
}

static void jhex32(json_t *obj, const char *key, uint8_t out[32])
{
    if (ks_hex_decode_fixed(jstr(obj, key), out, 32) != KS_OK) {
        fail_msg("vector field %s is not 32 bytes of hex", key);
    }
}

static void hex32(const char *hex, uint8_t out[32])
{
    assert_int_equal(ks_hex_decode_fixed(hex, out, 32), KS_OK);
}

static struct ks_hpke_ctx *sender(struct ks_hpke_suite suite, const uint8_t pkR[32],
                                  const char *info, const struct ks_hpke_psk *psk, uint8_t enc[32])
{
    struct ks_hpke_ctx *ctx = NULL;
    assert_int_equal(
        ks_hpke_setup_sender(suite, pkR, (const uint8_t *)info, strlen(info), psk, enc, &ctx),
        KS_OK);
    assert_non_null(ctx);
    return ctx;
}

static struct ks_hpke_ctx *receiver(struct ks_hpke_suite suite, const uint8_t skR[32],
                                    const uint8_t enc[32], const char *info,
                                    const struct ks_hpke_psk *psk)
{
    struct ks_hpke_ctx *ctx = NULL;
    assert_int_equal(
        ks_hpke_setup_receiver(suite, skR, enc, (const uint8_t *)info, strlen(info), psk, &ctx),
        KS_OK);
    assert_non_null(ctx);
    return ctx;
}

/* ---- RFC 9180 test vectors ------------------------------------------------ */

struct counts {
    int vectors;
    int encryptions;
    int exports;
    int seen[2][3]; /* [mode][aead_id] */
};

static void check_encryptions(json_t *v, struct ks_hpke_ctx *s, struct ks_hpke_ctx *rc,
                              struct counts *n)
{
    json_t *encs = json_object_get(v, "encryptions");
    size_t i;
    json_t *e;

    assert_true(json_is_array(encs));
    /* The array is in sequence-number order: message i is sealed with
     * seq = i (RFC 9180 appendix A). */
    json_array_foreach(encs, i, e)
    {
        size_t aad_len, pt_len, ct_len, out_len = 0;
        uint8_t *aad = jhex(e, "aad", &aad_len);
        uint8_t *pt = jhex(e, "pt", &pt_len);
        uint8_t *ct = jhex(e, "ct", &ct_len);
        uint8_t *out = malloc(ct_len);

        assert_non_null(out);
        assert_int_equal(ct_len, pt_len + KS_HPKE_TAG_LEN);
        assert_int_equal(ks_hpke_seal(s, aad, aad_len, pt, pt_len, out, ct_len, &out_len), KS_OK);
        assert_int_equal(out_len, ct_len);
        assert_memory_equal(out, ct, ct_len);

        memset(out, 0, ct_len);
        assert_int_equal(ks_hpke_open(rc, aad, aad_len, ct, ct_len, out, pt_len, &out_len), KS_OK);
        assert_int_equal(out_len, pt_len);
        assert_memory_equal(out, pt, pt_len);
        n->encryptions++;
        free(aad);
        free(pt);
        free(ct);
        free(out);
    }
}

static void check_exports(json_t *v, struct ks_hpke_ctx *s, struct ks_hpke_ctx *rc,
                          struct counts *n)
{
    json_t *exps = json_object_get(v, "exports");
    size_t i;
    json_t *e;

    assert_true(json_is_array(exps));
    json_array_foreach(exps, i, e)
    {
        size_t ctx_len, val_len;
        uint8_t *ectx = jhex(e, "exporter_context", &ctx_len);
        uint8_t *val = jhex(e, "exported_value", &val_len);
        json_int_t L = json_integer_value(json_object_get(e, "L"));
        uint8_t *out = malloc(val_len);

        assert_non_null(out);
        assert_int_equal(L, val_len);
        assert_int_equal(ks_hpke_export(s, ectx, ctx_len, (size_t)L, out), KS_OK);
        assert_memory_equal(out, val, val_len);
        memset(out, 0, val_len);
        assert_int_equal(ks_hpke_export(rc, ectx, ctx_len, (size_t)L, out), KS_OK);
        assert_memory_equal(out, val, val_len);
        n->exports++;
        free(ectx);
        free(val);
        free(out);
    }
}

static void check_vector(json_t *v, struct counts *n)
{
    json_int_t mode = json_integer_value(json_object_get(v, "mode"));
    json_int_t aead = json_integer_value(json_object_get(v, "aead_id"));
    struct ks_hpke_suite suite = {KS_HPKE_KEM_X25519_SHA256, KS_HPKE_KDF_HKDF_SHA256,
                                  (uint16_t)aead};
    uint8_t ikmE[32], ikmR[32], skEm[32], pkEm[32], skRm[32], pkRm[32], enc_v[32];
    uint8_t sk[32], pk[32], enc[32];
    struct ks_hpke_psk psk_s = {0};
    const struct ks_hpke_psk *psk = NULL;
    uint8_t *info, *psk_buf = NULL, *psk_id = NULL;
    size_t info_len;
    struct ks_hpke_ctx *s = NULL, *rc = NULL;

    jhex32(v, "ikmE", ikmE);
    jhex32(v, "ikmR", ikmR);
    jhex32(v, "skEm", skEm);
    jhex32(v, "pkEm", pkEm);
    jhex32(v, "skRm", skRm);
    jhex32(v, "pkRm", pkRm);
    jhex32(v, "enc", enc_v);
    info = jhex(v, "info", &info_len);
    if (mode == KS_HPKE_MODE_PSK) {
        psk_buf = jhex(v, "psk", &psk_s.psk_len);
        psk_id = jhex(v, "psk_id", &psk_s.psk_id_len);
        psk_s.psk = psk_buf;
        psk_s.psk_id = psk_id;
        psk = &psk_s;
    }

    /* DeriveKeyPair (7.1.3) gives the vector's key pairs. */
    assert_int_equal(ks_hpke_derive_keypair(suite, ikmE, sizeof(ikmE), sk, pk), KS_OK);
    assert_memory_equal(sk, skEm, 32);
    assert_memory_equal(pk, pkEm, 32);
    assert_int_equal(ks_hpke_derive_keypair(suite, ikmR, sizeof(ikmR), sk, pk), KS_OK);
    assert_memory_equal(sk, skRm, 32);
    assert_memory_equal(pk, pkRm, 32);
    assert_int_equal(ks_hpke_pk_from_sk(skRm, pk), KS_OK);
    assert_memory_equal(pk, pkRm, 32);

    /* Sender with the vector's ephemeral key reproduces enc; the receiver
     * derives the same context from it. */
    assert_int_equal(ks_hpke_setup_sender_eph(suite, skEm, pkRm, info, info_len, psk, enc, &s),
                     KS_OK);
    assert_memory_equal(enc, enc_v, 32);
    assert_int_equal(ks_hpke_setup_receiver(suite, skRm, enc_v, info, info_len, psk, &rc), KS_OK);

    check_encryptions(v, s, rc, n);
    check_exports(v, s, rc, n);

    n->vectors++;
    n->seen[mode][aead]++;
    ks_hpke_ctx_free(s);
    ks_hpke_ctx_free(rc);
    free(info);
    free(psk_buf);
    free(psk_id);
}

static void test_rfc9180_vectors(void **state)
{
    size_t len = 0, i;
    uint8_t *buf = unit_read(VECTORS, &len);
    json_error_t err;
    json_t *root = json_loadb((const char *)buf, len, 0, &err);
    json_t *v;
    struct counts n = {0};

    free(buf);
    if (!root) {
        fail_msg("%s: %s", VECTORS, err.text);
    }
    assert_true(json_is_array(root));
    json_array_foreach(root, i, v)
    {
        json_int_t kem = json_integer_value(json_object_get(v, "kem_id"));
        json_int_t kdf = json_integer_value(json_object_get(v, "kdf_id"));
        json_int_t aead = json_integer_value(json_object_get(v, "aead_id"));
        json_int_t mode = json_integer_value(json_object_get(v, "mode"));
        if (kem != KS_HPKE_KEM_X25519_SHA256 || kdf != KS_HPKE_KDF_HKDF_SHA256 ||
            (aead != KS_HPKE_AEAD_AES_128_GCM && aead != KS_HPKE_AEAD_AES_256_GCM) ||
            (mode != KS_HPKE_MODE_BASE && mode != KS_HPKE_MODE_PSK)) {
            continue;
        }
        check_vector(v, &n);
    }
    json_decref(root);

    /* A filter bug must not let this test pass having checked nothing. */
    assert_int_equal(n.vectors, EXPECT_VECTORS);
    assert_int_equal(n.encryptions, EXPECT_ENCRYPTIONS);
    assert_int_equal(n.exports, EXPECT_EXPORTS);
    for (int m = 0; m < 2; m++) {
        for (int a = 1; a <= 2; a++) {
            assert_int_equal(n.seen[m][a], 1);
        }
    }
}

/* ---- keys ----------------------------------------------------------------- */

/* RFC 7748 section 6.1: Alice's and Bob's key pairs. */
static void test_pk_from_sk_rfc7748(void **state)
{
    uint8_t sk[32], pk[32], want[32];

    hex32("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", sk);
    hex32("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", want);
    assert_int_equal(ks_hpke_pk_from_sk(sk, pk), KS_OK);
    assert_memory_equal(pk, want, 32);
    hex32("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", sk);
    hex32("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", want);
    assert_int_equal(ks_hpke_pk_from_sk(sk, pk), KS_OK);
    assert_memory_equal(pk, want, 32);

    assert_int_equal(ks_hpke_pk_from_sk(NULL, pk), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_pk_from_sk(sk, NULL), KS_ERR_INVALID_ARG);
}

static void test_keygen(void **state)
{
    uint8_t sk1[32], pk1[32], sk2[32], pk2[32], pk[32];

    assert_int_equal(ks_hpke_keygen(sk1, pk1), KS_OK);
    assert_int_equal(ks_hpke_keygen(sk2, pk2), KS_OK);
    assert_memory_not_equal(sk1, sk2, 32);
    assert_memory_not_equal(pk1, pk2, 32);
    assert_int_equal(ks_hpke_pk_from_sk(sk1, pk), KS_OK);
    assert_memory_equal(pk, pk1, 32);
    assert_int_equal(ks_hpke_keygen(NULL, pk1), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_keygen(sk1, NULL), KS_ERR_INVALID_ARG);
}

static void test_derive_keypair_errors(void **state)
{
    uint8_t ikm[KS_HPKE_MAX_INPUT + 1] = {0};
    uint8_t sk[32], pk[32], sk2[32], pk2[32], keep[32];
    struct ks_hpke_suite bad = KS_HPKE_SUITE_DEFAULT;

    memset(keep, 0x5a, sizeof(keep));
    memcpy(sk, keep, 32);
    memcpy(pk, keep, 32);
    assert_int_equal(ks_hpke_derive_keypair(KS_HPKE_SUITE_DEFAULT, ikm, 31, sk, pk),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(
        ks_hpke_derive_keypair(KS_HPKE_SUITE_DEFAULT, ikm, KS_HPKE_MAX_INPUT + 1, sk, pk),
        KS_ERR_TOO_LARGE);
    bad.kem_id = 0x0010; /* DHKEM(P-256): not implemented */
    assert_int_equal(ks_hpke_derive_keypair(bad, ikm, 32, sk, pk), KS_ERR_UNSUPPORTED);
    assert_int_equal(ks_hpke_derive_keypair(KS_HPKE_SUITE_DEFAULT, NULL, 32, sk, pk),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_derive_keypair(KS_HPKE_SUITE_DEFAULT, ikm, 32, NULL, pk),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_derive_keypair(KS_HPKE_SUITE_DEFAULT, ikm, 32, sk, NULL),
                     KS_ERR_INVALID_ARG);
    /* Outputs untouched on failure. */
    assert_memory_equal(sk, keep, 32);
    assert_memory_equal(pk, keep, 32);
    /* The largest accepted ikm works and is deterministic. */
    assert_int_equal(ks_hpke_derive_keypair(KS_HPKE_SUITE_DEFAULT, ikm, KS_HPKE_MAX_INPUT, sk, pk),
                     KS_OK);
    assert_int_equal(
        ks_hpke_derive_keypair(KS_HPKE_SUITE_DEFAULT, ikm, KS_HPKE_MAX_INPUT, sk2, pk2), KS_OK);
    assert_memory_equal(sk2, sk, 32);
    assert_memory_equal(pk2, pk, 32);
    /* ... and differs from the key of a one byte shorter ikm. */
    assert_int_equal(
        ks_hpke_derive_keypair(KS_HPKE_SUITE_DEFAULT, ikm, KS_HPKE_MAX_INPUT - 1, sk2, pk2), KS_OK);
    assert_memory_not_equal(sk2, sk, 32);
}

static void test_suite_check(void **state)
{
    struct ks_hpke_suite s = KS_HPKE_SUITE_DEFAULT;

    assert_int_equal(ks_hpke_suite_check(s), KS_OK);
    assert_int_equal(ks_hpke_suite_check(SUITE_128), KS_OK);
    assert_int_equal(ks_hpke_suite_check(SUITE_EXPORT_ONLY), KS_OK);
    s.aead_id = 0x0003; /* ChaCha20Poly1305 */
    assert_int_equal(ks_hpke_suite_check(s), KS_ERR_UNSUPPORTED);
    s = KS_HPKE_SUITE_DEFAULT;
    s.kdf_id = 0x0002; /* HKDF-SHA384 */
    assert_int_equal(ks_hpke_suite_check(s), KS_ERR_UNSUPPORTED);
    s = KS_HPKE_SUITE_DEFAULT;
    s.kem_id = 0x0021; /* DHKEM(X448) */
    assert_int_equal(ks_hpke_suite_check(s), KS_ERR_UNSUPPORTED);
}

/* ---- round trips ---------------------------------------------------------- */

static void test_single_shot(void **state)
{
    static const char info[] = "ks-release-v1\0dek";
    uint8_t skR[32], pkR[32], enc[32], enc2[32], nonce[32];
    uint8_t dek[32], ct[32 + KS_HPKE_TAG_LEN], ct2[32 + KS_HPKE_TAG_LEN], out[32];
    size_t ct_len = 0, out_len = 0;

    memset(dek, 0x42, sizeof(dek));
    memset(nonce, 0x17, sizeof(nonce));
    assert_int_equal(ks_hpke_keygen(skR, pkR), KS_OK);
    assert_int_equal(ks_hpke_seal_base(KS_HPKE_SUITE_DEFAULT, pkR, (const uint8_t *)info,
                                       sizeof(info) - 1, nonce, sizeof(nonce), dek, sizeof(dek),
                                       enc, ct, sizeof(ct), &ct_len),
                     KS_OK);
    assert_int_equal(ct_len, sizeof(ct));
    assert_int_equal(ks_hpke_open_base(KS_HPKE_SUITE_DEFAULT, skR, enc, (const uint8_t *)info,
                                       sizeof(info) - 1, nonce, sizeof(nonce), ct, ct_len, out,
                                       sizeof(out), &out_len),
                     KS_OK);
    assert_int_equal(out_len, sizeof(dek));
    assert_memory_equal(out, dek, sizeof(dek));

    /* A fresh ephemeral key each time: enc and ct differ. */
    assert_int_equal(ks_hpke_seal_base(KS_HPKE_SUITE_DEFAULT, pkR, (const uint8_t *)info,
                                       sizeof(info) - 1, nonce, sizeof(nonce), dek, sizeof(dek),
                                       enc2, ct2, sizeof(ct2), &ct_len),
                     KS_OK);
    assert_memory_not_equal(enc, enc2, 32);
    assert_memory_not_equal(ct, ct2, sizeof(ct));

    /* Empty plaintext, no aad, no info. */
    assert_int_equal(ks_hpke_seal_base(KS_HPKE_SUITE_DEFAULT, pkR, NULL, 0, NULL, 0, NULL, 0, enc,
                                       ct, KS_HPKE_TAG_LEN, &ct_len),
                     KS_OK);
    assert_int_equal(ct_len, KS_HPKE_TAG_LEN);
    out_len = 99;
    assert_int_equal(ks_hpke_open_base(KS_HPKE_SUITE_DEFAULT, skR, enc, NULL, 0, NULL, 0, ct,
                                       ct_len, NULL, 0, &out_len),
                     KS_OK);
    assert_int_equal(out_len, 0);
}

static void test_single_shot_errors(void **state)
{
    uint8_t skR[32], pkR[32], enc[32], keep[32], pt[8] = {1}, ct[8 + KS_HPKE_TAG_LEN], out[8];
    size_t ct_len = 0, out_len = 77;

    assert_int_equal(ks_hpke_keygen(skR, pkR), KS_OK);
    memset(keep, 0xee, sizeof(keep));
    memcpy(enc, keep, 32);
    assert_int_equal(ks_hpke_seal_base(KS_HPKE_SUITE_DEFAULT, NULL, NULL, 0, NULL, 0, pt, 8, enc,
                                       ct, sizeof(ct), &ct_len),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_seal_base(KS_HPKE_SUITE_DEFAULT, pkR, NULL, 0, NULL, 0, pt, 8, NULL,
                                       ct, sizeof(ct), &ct_len),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_seal_base(KS_HPKE_SUITE_DEFAULT, pkR, NULL, 0, NULL, 0, pt, 8, enc, ct,
                                       sizeof(ct), NULL),
                     KS_ERR_INVALID_ARG);
    /* ct buffer one byte short */
    assert_int_equal(ks_hpke_seal_base(KS_HPKE_SUITE_DEFAULT, pkR, NULL, 0, NULL, 0, pt, 8, enc, ct,
                                       sizeof(ct) - 1, &ct_len),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_seal_base(SUITE_EXPORT_ONLY, pkR, NULL, 0, NULL, 0, pt, 8, enc, ct,
                                       sizeof(ct), &ct_len),
                     KS_ERR_UNSUPPORTED);
    assert_memory_equal(enc, keep, 32);

    assert_int_equal(ks_hpke_seal_base(KS_HPKE_SUITE_DEFAULT, pkR, NULL, 0, NULL, 0, pt, 8, enc, ct,
                                       sizeof(ct), &ct_len),
                     KS_OK);
    assert_int_equal(ks_hpke_open_base(KS_HPKE_SUITE_DEFAULT, NULL, enc, NULL, 0, NULL, 0, ct,
                                       ct_len, out, sizeof(out), &out_len),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_open_base(KS_HPKE_SUITE_DEFAULT, skR, NULL, NULL, 0, NULL, 0, ct,
                                       ct_len, out, sizeof(out), &out_len),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_open_base(KS_HPKE_SUITE_DEFAULT, skR, enc, NULL, 0, NULL, 0, NULL,
                                       ct_len, out, sizeof(out), &out_len),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_open_base(KS_HPKE_SUITE_DEFAULT, skR, enc, NULL, 0, NULL, 0, ct,
                                       ct_len, out, sizeof(out) - 1, &out_len),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(out_len, 77);
    assert_int_equal(ks_hpke_open_base(KS_HPKE_SUITE_DEFAULT, skR, enc, NULL, 0, NULL, 0, ct,
                                       ct_len, out, sizeof(out), &out_len),
                     KS_OK);
    assert_memory_equal(out, pt, 8);
}

static void test_context_roundtrip(void **state)
{
    static const char info[] = "ks-release-v1";
    uint8_t skR[32], pkR[32], enc[32];
    struct ks_hpke_ctx *s, *rc;
    uint8_t pt[100], ct[100 + KS_HPKE_TAG_LEN], out[100], e1[64], e2[64];
    size_t ct_len, out_len;

    assert_int_equal(ks_hpke_keygen(skR, pkR), KS_OK);
    s = sender(SUITE_128, pkR, info, NULL, enc);
    rc = receiver(SUITE_128, skR, enc, info, NULL);
    for (size_t i = 0; i < 10; i++) {
        memset(pt, (int)i, sizeof(pt));
        assert_int_equal(ks_hpke_seal(s, pt, i, pt, sizeof(pt) - i, ct, sizeof(ct), &ct_len),
                         KS_OK);
        assert_int_equal(ct_len, sizeof(pt) - i + KS_HPKE_TAG_LEN);
        assert_int_equal(ks_hpke_open(rc, pt, i, ct, ct_len, out, sizeof(out), &out_len), KS_OK);
        assert_int_equal(out_len, sizeof(pt) - i);
        assert_memory_equal(out, pt, out_len);
    }
    /* Both sides export the same secret; a different context gives another. */
    assert_int_equal(ks_hpke_export(s, (const uint8_t *)"resp", 4, sizeof(e1), e1), KS_OK);
    assert_int_equal(ks_hpke_export(rc, (const uint8_t *)"resp", 4, sizeof(e2), e2), KS_OK);
    assert_memory_equal(e1, e2, sizeof(e1));
    assert_int_equal(ks_hpke_export(rc, (const uint8_t *)"resq", 4, sizeof(e2), e2), KS_OK);
    assert_memory_not_equal(e1, e2, sizeof(e1));

    /* Roles: a receiver never seals (it would reuse the sender's nonces),
     * a sender never opens. */
    assert_int_equal(ks_hpke_seal(rc, NULL, 0, pt, 1, ct, sizeof(ct), &ct_len), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_seal(s, NULL, 0, pt, 1, ct, sizeof(ct), &ct_len), KS_OK);
    assert_int_equal(ks_hpke_open(s, NULL, 0, ct, ct_len, out, sizeof(out), &out_len),
                     KS_ERR_INVALID_ARG);
    ks_hpke_ctx_free(s);
    ks_hpke_ctx_free(rc);
    ks_hpke_ctx_free(NULL);
}

/* Out-of-order delivery fails: each message has its own nonce. */
static void test_order_enforced(void **state)
{
    uint8_t skR[32], pkR[32], enc[32], pt[4] = {1, 2, 3, 4};
    uint8_t ct1[4 + KS_HPKE_TAG_LEN], ct2[4 + KS_HPKE_TAG_LEN], out[4];
    size_t l1, l2, out_len;
    struct ks_hpke_ctx *s, *rc;

    assert_int_equal(ks_hpke_keygen(skR, pkR), KS_OK);
    s = sender(KS_HPKE_SUITE_DEFAULT, pkR, "x", NULL, enc);
    rc = receiver(KS_HPKE_SUITE_DEFAULT, skR, enc, "x", NULL);
    assert_int_equal(ks_hpke_seal(s, NULL, 0, pt, 4, ct1, sizeof(ct1), &l1), KS_OK);
    assert_int_equal(ks_hpke_seal(s, NULL, 0, pt, 4, ct2, sizeof(ct2), &l2), KS_OK);
    /* Same plaintext, different nonces. */
    assert_memory_not_equal(ct1, ct2, sizeof(ct1));
    assert_int_equal(ks_hpke_open(rc, NULL, 0, ct2, l2, out, 4, &out_len), KS_ERR_HPKE_OPEN);
    /* The failure did not advance the receiver: in order still works. */
    assert_int_equal(ks_hpke_open(rc, NULL, 0, ct1, l1, out, 4, &out_len), KS_OK);
    assert_int_equal(ks_hpke_open(rc, NULL, 0, ct2, l2, out, 4, &out_len), KS_OK);
    assert_memory_equal(out, pt, 4);
    /* Replay of an opened message fails. */
    assert_int_equal(ks_hpke_open(rc, NULL, 0, ct2, l2, out, 4, &out_len), KS_ERR_HPKE_OPEN);
    ks_hpke_ctx_free(s);
    ks_hpke_ctx_free(rc);
}

static void test_export_only(void **state)
{
    uint8_t skR[32], pkR[32], enc[32], e1[32], e2[32], buf[KS_HPKE_TAG_LEN + 1];
    size_t len;
    struct ks_hpke_ctx *s, *rc;

    assert_int_equal(ks_hpke_keygen(skR, pkR), KS_OK);
    s = sender(SUITE_EXPORT_ONLY, pkR, "info", NULL, enc);
    rc = receiver(SUITE_EXPORT_ONLY, skR, enc, "info", NULL);
    assert_int_equal(ks_hpke_export(s, NULL, 0, 32, e1), KS_OK);
    assert_int_equal(ks_hpke_export(rc, NULL, 0, 32, e2), KS_OK);
    assert_memory_equal(e1, e2, 32);
    assert_int_equal(ks_hpke_seal(s, NULL, 0, buf, 1, buf, sizeof(buf), &len), KS_ERR_UNSUPPORTED);
    assert_int_equal(ks_hpke_open(rc, NULL, 0, buf, sizeof(buf), buf, sizeof(buf), &len),
                     KS_ERR_UNSUPPORTED);
    ks_hpke_ctx_free(s);
    ks_hpke_ctx_free(rc);
}

/* ---- negative tests ------------------------------------------------------- */

/* Shared fixture: one sealed message, opened under one modification. */
struct sealed {
    uint8_t skR[32], pkR[32], enc[32];
    uint8_t aad[5];
    uint8_t pt[24];
    uint8_t ct[24 + KS_HPKE_TAG_LEN];
    size_t ct_len;
};

static const char seal_info[] = "ks-release-v1";

static void make_sealed(struct sealed *m)
{
    memcpy(m->aad, "nonce", 5);
    memset(m->pt, 0xd5, sizeof(m->pt));
    assert_int_equal(ks_hpke_keygen(m->skR, m->pkR), KS_OK);
    assert_int_equal(ks_hpke_seal_base(KS_HPKE_SUITE_DEFAULT, m->pkR, (const uint8_t *)seal_info,
                                       strlen(seal_info), m->aad, sizeof(m->aad), m->pt,
                                       sizeof(m->pt), m->enc, m->ct, sizeof(m->ct), &m->ct_len),
                     KS_OK);
}

/* Opens with the given inputs; must fail with `want`, writing no plaintext. */
static void open_fails(const uint8_t skR[32], const uint8_t enc[32], const char *info,
                       const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t ct_len,
                       int want)
{
    uint8_t out[64], keep[64];
    size_t out_len = 12345;

    memset(out, 0xa5, sizeof(out));
    memcpy(keep, out, sizeof(out));
    assert_int_equal(ks_hpke_open_base(KS_HPKE_SUITE_DEFAULT, skR, enc, (const uint8_t *)info,
                                       strlen(info), aad, aad_len, ct, ct_len, out, sizeof(out),
                                       &out_len),
                     want);
    assert_memory_equal(out, keep, sizeof(out));
    assert_int_equal(out_len, 12345);
    /* Forged input leaves no stale OpenSSL errors behind. */
    assert_int_equal(ERR_peek_error(), 0);
}

static void test_open_tampered(void **state)
{
    struct sealed m;
    uint8_t other_sk[32], other_pk[32], buf[64], out[64];
    size_t out_len = 0;

    make_sealed(&m);
    /* The untouched message opens. */
    assert_int_equal(ks_hpke_open_base(KS_HPKE_SUITE_DEFAULT, m.skR, m.enc,
                                       (const uint8_t *)seal_info, strlen(seal_info), m.aad,
                                       sizeof(m.aad), m.ct, m.ct_len, out, sizeof(out), &out_len),
                     KS_OK);
    assert_memory_equal(out, m.pt, sizeof(m.pt));

    /* Wrong private key. */
    assert_int_equal(ks_hpke_keygen(other_sk, other_pk), KS_OK);
    open_fails(other_sk, m.enc, seal_info, m.aad, sizeof(m.aad), m.ct, m.ct_len, KS_ERR_HPKE_OPEN);

    /* Every single-bit flip of the ciphertext and tag. */
    for (size_t i = 0; i < m.ct_len * 8; i++) {
        memcpy(buf, m.ct, m.ct_len);
        buf[i / 8] ^= (uint8_t)(1u << (i % 8));
        open_fails(m.skR, m.enc, seal_info, m.aad, sizeof(m.aad), buf, m.ct_len, KS_ERR_HPKE_OPEN);
    }

    /* Modified aad, missing aad, extra aad byte. */
    memcpy(buf, m.aad, sizeof(m.aad));
    buf[0] ^= 1;
    open_fails(m.skR, m.enc, seal_info, buf, sizeof(m.aad), m.ct, m.ct_len, KS_ERR_HPKE_OPEN);
    open_fails(m.skR, m.enc, seal_info, NULL, 0, m.ct, m.ct_len, KS_ERR_HPKE_OPEN);
    memcpy(buf, m.aad, sizeof(m.aad));
    buf[sizeof(m.aad)] = 0;
    open_fails(m.skR, m.enc, seal_info, buf, sizeof(m.aad) + 1, m.ct, m.ct_len, KS_ERR_HPKE_OPEN);

    /* Modified enc (another valid point: a different shared secret). */
    memcpy(buf, m.enc, 32);
    buf[0] ^= 0x02;
    open_fails(m.skR, buf, seal_info, m.aad, sizeof(m.aad), m.ct, m.ct_len, KS_ERR_HPKE_OPEN);

    /* Modified info: another key name. */
    open_fails(m.skR, m.enc, "ks-release-v2", m.aad, sizeof(m.aad), m.ct, m.ct_len,
               KS_ERR_HPKE_OPEN);
    open_fails(m.skR, m.enc, "", m.aad, sizeof(m.aad), m.ct, m.ct_len, KS_ERR_HPKE_OPEN);

    /* Truncated: one byte short, tag only, shorter than a tag, empty. */
    open_fails(m.skR, m.enc, seal_info, m.aad, sizeof(m.aad), m.ct, m.ct_len - 1, KS_ERR_HPKE_OPEN);
    open_fails(m.skR, m.enc, seal_info, m.aad, sizeof(m.aad), m.ct + sizeof(m.pt), KS_HPKE_TAG_LEN,
               KS_ERR_HPKE_OPEN);
    open_fails(m.skR, m.enc, seal_info, m.aad, sizeof(m.aad), m.ct, KS_HPKE_TAG_LEN - 1,
               KS_ERR_HPKE_OPEN);
    open_fails(m.skR, m.enc, seal_info, m.aad, sizeof(m.aad), m.ct, 0, KS_ERR_HPKE_OPEN);
    /* Extended by one byte. */
    memcpy(buf, m.ct, m.ct_len);
    buf[m.ct_len] = 0;
    open_fails(m.skR, m.enc, seal_info, m.aad, sizeof(m.aad), buf, m.ct_len + 1, KS_ERR_HPKE_OPEN);
}

/* The suite is bound into the key schedule: a message sealed with one AEAD
 * id does not open under another, even with the same key size. */
static void test_open_wrong_suite(void **state)
{
    struct sealed m;
    uint8_t out[64];
    size_t out_len;

    make_sealed(&m);
    assert_int_equal(ks_hpke_open_base(SUITE_128, m.skR, m.enc, (const uint8_t *)seal_info,
                                       strlen(seal_info), m.aad, sizeof(m.aad), m.ct, m.ct_len, out,
                                       sizeof(out), &out_len),
                     KS_ERR_HPKE_OPEN);
}

static void test_psk_mode(void **state)
{
    uint8_t psk_bytes[32], skR[32], pkR[32], enc[32], pt[3] = {7, 8, 9};
    uint8_t ct[3 + KS_HPKE_TAG_LEN], out[3];
    size_t ct_len, out_len;
    struct ks_hpke_psk psk = {psk_bytes, sizeof(psk_bytes), (const uint8_t *)"id-1", 4};
    struct ks_hpke_psk other = psk;
    struct ks_hpke_ctx *s, *rc;

    memset(psk_bytes, 0x33, sizeof(psk_bytes));
    assert_int_equal(ks_hpke_keygen(skR, pkR), KS_OK);
    s = sender(KS_HPKE_SUITE_DEFAULT, pkR, "i", &psk, enc);
    assert_int_equal(ks_hpke_seal(s, NULL, 0, pt, 3, ct, sizeof(ct), &ct_len), KS_OK);
    ks_hpke_ctx_free(s);

    rc = receiver(KS_HPKE_SUITE_DEFAULT, skR, enc, "i", &psk);
    assert_int_equal(ks_hpke_open(rc, NULL, 0, ct, ct_len, out, 3, &out_len), KS_OK);
    assert_memory_equal(out, pt, 3);
    ks_hpke_ctx_free(rc);

    /* Base mode, another psk_id, another psk: all fail to open. */
    rc = receiver(KS_HPKE_SUITE_DEFAULT, skR, enc, "i", NULL);
    assert_int_equal(ks_hpke_open(rc, NULL, 0, ct, ct_len, out, 3, &out_len), KS_ERR_HPKE_OPEN);
    ks_hpke_ctx_free(rc);
    other.psk_id = (const uint8_t *)"id-2";
    rc = receiver(KS_HPKE_SUITE_DEFAULT, skR, enc, "i", &other);
    assert_int_equal(ks_hpke_open(rc, NULL, 0, ct, ct_len, out, 3, &out_len), KS_ERR_HPKE_OPEN);
    ks_hpke_ctx_free(rc);
    other = psk;
    psk_bytes[31] ^= 1;
    rc = receiver(KS_HPKE_SUITE_DEFAULT, skR, enc, "i", &other);
    assert_int_equal(ks_hpke_open(rc, NULL, 0, ct, ct_len, out, 3, &out_len), KS_ERR_HPKE_OPEN);
    ks_hpke_ctx_free(rc);
}

static void test_psk_invalid(void **state)
{
    static uint8_t big[KS_HPKE_MAX_INPUT + 1];
    uint8_t psk_bytes[32] = {1}, skR[32], pkR[32], enc[32];
    struct ks_hpke_ctx *ctx = (struct ks_hpke_ctx *)&ctx;
    struct ks_hpke_psk bad[] = {
        {NULL, 32, (const uint8_t *)"id", 2},
        {psk_bytes, 0, (const uint8_t *)"id", 2},
        {psk_bytes, 31, (const uint8_t *)"id", 2}, /* under 32 bytes of entropy */
        {psk_bytes, 32, NULL, 2},
        {psk_bytes, 32, (const uint8_t *)"id", 0},
    };
    struct ks_hpke_psk large_psk = {big, sizeof(big), (const uint8_t *)"id", 2};
    struct ks_hpke_psk large_id = {psk_bytes, 32, big, sizeof(big)};

    assert_int_equal(ks_hpke_keygen(skR, pkR), KS_OK);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(
            ks_hpke_setup_sender(KS_HPKE_SUITE_DEFAULT, pkR, NULL, 0, &bad[i], enc, &ctx),
            KS_ERR_INVALID_ARG);
        assert_int_equal(
            ks_hpke_setup_receiver(KS_HPKE_SUITE_DEFAULT, skR, pkR, NULL, 0, &bad[i], &ctx),
            KS_ERR_INVALID_ARG);
    }
    assert_int_equal(
        ks_hpke_setup_sender(KS_HPKE_SUITE_DEFAULT, pkR, NULL, 0, &large_psk, enc, &ctx),
        KS_ERR_TOO_LARGE);
    assert_int_equal(
        ks_hpke_setup_receiver(KS_HPKE_SUITE_DEFAULT, skR, pkR, NULL, 0, &large_id, &ctx),
        KS_ERR_TOO_LARGE);
    assert_ptr_equal(ctx, (struct ks_hpke_ctx *)&ctx);
}

static void test_setup_errors(void **state)
{
    static uint8_t big[KS_HPKE_MAX_INPUT + 1];
    uint8_t skR[32], pkR[32], enc[32], keep[32];
    struct ks_hpke_ctx *ctx = (struct ks_hpke_ctx *)&ctx;
    struct ks_hpke_suite bad = KS_HPKE_SUITE_DEFAULT;
    const struct ks_hpke_suite def = KS_HPKE_SUITE_DEFAULT;

    assert_int_equal(ks_hpke_keygen(skR, pkR), KS_OK);
    memset(keep, 0x3c, sizeof(keep));
    memcpy(enc, keep, sizeof(keep));

    assert_int_equal(ks_hpke_setup_sender(def, NULL, NULL, 0, NULL, enc, &ctx), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_setup_sender(def, pkR, NULL, 0, NULL, NULL, &ctx), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_setup_sender(def, pkR, NULL, 0, NULL, enc, NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_setup_sender(def, pkR, NULL, 1, NULL, enc, &ctx), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_setup_sender(def, pkR, big, sizeof(big), NULL, enc, &ctx),
                     KS_ERR_TOO_LARGE);
    assert_int_equal(ks_hpke_setup_sender_eph(def, NULL, pkR, NULL, 0, NULL, enc, &ctx),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_setup_sender_eph(def, skR, NULL, NULL, 0, NULL, enc, &ctx),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_setup_receiver(def, NULL, pkR, NULL, 0, NULL, &ctx),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_setup_receiver(def, skR, NULL, NULL, 0, NULL, &ctx),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_setup_receiver(def, skR, pkR, NULL, 0, NULL, NULL),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_setup_receiver(def, skR, pkR, NULL, 1, NULL, &ctx),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_setup_receiver(def, skR, pkR, big, sizeof(big), NULL, &ctx),
                     KS_ERR_TOO_LARGE);

    bad.aead_id = 0x0003;
    assert_int_equal(ks_hpke_setup_sender(bad, pkR, NULL, 0, NULL, enc, &ctx), KS_ERR_UNSUPPORTED);
    assert_int_equal(ks_hpke_setup_receiver(bad, skR, pkR, NULL, 0, NULL, &ctx),
                     KS_ERR_UNSUPPORTED);
    bad = def;
    bad.kem_id = 0x0010;
    assert_int_equal(ks_hpke_setup_sender(bad, pkR, NULL, 0, NULL, enc, &ctx), KS_ERR_UNSUPPORTED);

    /* Outputs untouched on failure. */
    assert_memory_equal(enc, keep, 32);
    assert_ptr_equal(ctx, (struct ks_hpke_ctx *)&ctx);
}

/* X25519 points of small order give an all-zero shared secret, which
 * RFC 9180 section 7.1.4 (and RFC 7748 section 6.1) require to be refused:
 * as the recipient's public key and as enc. The list is the well-known set
 * of low-order u-coordinates, plus non-canonical encodings of them. */
static void test_low_order_points(void **state)
{
    static const char *points[] = {
        "0000000000000000000000000000000000000000000000000000000000000000", /* 0 */
        "0100000000000000000000000000000000000000000000000000000000000000", /* 1 */
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", /* order 8 */
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157", /* order 8 */
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", /* p - 1 */
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", /* p */
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", /* p + 1 */
        "0000000000000000000000000000000000000000000000000000000000000080", /* 0, top bit */
        "0100000000000000000000000000000000000000000000000000000000000080", /* 1, top bit */
    };
    uint8_t skR[32], pkR[32], pt_bad[32], enc[32], keep[32], ct[KS_HPKE_TAG_LEN], out[1];
    size_t ct_len = 0, out_len = 0;
    struct ks_hpke_ctx *ctx = (struct ks_hpke_ctx *)&ctx;

    assert_int_equal(ks_hpke_keygen(skR, pkR), KS_OK);
    memset(keep, 0x99, sizeof(keep));
    for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
        hex32(points[i], pt_bad);
        memcpy(enc, keep, 32);
        assert_int_equal(
            ks_hpke_setup_sender(KS_HPKE_SUITE_DEFAULT, pt_bad, NULL, 0, NULL, enc, &ctx),
            KS_ERR_HPKE_KEY);
        assert_int_equal(
            ks_hpke_setup_sender_eph(KS_HPKE_SUITE_DEFAULT, skR, pt_bad, NULL, 0, NULL, enc, &ctx),
            KS_ERR_HPKE_KEY);
        assert_int_equal(
            ks_hpke_setup_receiver(KS_HPKE_SUITE_DEFAULT, skR, pt_bad, NULL, 0, NULL, &ctx),
            KS_ERR_HPKE_KEY);
        assert_int_equal(ks_hpke_seal_base(KS_HPKE_SUITE_DEFAULT, pt_bad, NULL, 0, NULL, 0, NULL, 0,
                                           enc, ct, sizeof(ct), &ct_len),
                         KS_ERR_HPKE_KEY);
        assert_int_equal(ks_hpke_open_base(KS_HPKE_SUITE_DEFAULT, skR, pt_bad, NULL, 0, NULL, 0, ct,
                                           sizeof(ct), out, sizeof(out), &out_len),
                         KS_ERR_HPKE_KEY);
        assert_memory_equal(enc, keep, 32);
        assert_ptr_equal(ctx, (struct ks_hpke_ctx *)&ctx);
        assert_int_equal(ERR_peek_error(), 0);
    }
}

/* Seal and Open refuse to run out of sequence numbers (RFC 9180 section
 * 5.2): the last usable one still works and agrees on both sides. */
static void test_seq_overflow(void **state)
{
    uint8_t skR[32], pkR[32], enc[32], pt[2] = {1, 2}, ct[2 + KS_HPKE_TAG_LEN], out[2];
    size_t ct_len, out_len;
    struct ks_hpke_ctx *s, *rc;

    assert_int_equal(ks_hpke_keygen(skR, pkR), KS_OK);
    s = sender(KS_HPKE_SUITE_DEFAULT, pkR, "seq", NULL, enc);
    rc = receiver(KS_HPKE_SUITE_DEFAULT, skR, enc, "seq", NULL);
    assert_int_equal(ks_hpke_ctx_set_seq_for_testing(s, UINT64_MAX - 1), KS_OK);
    assert_int_equal(ks_hpke_ctx_set_seq_for_testing(rc, UINT64_MAX - 1), KS_OK);
    assert_int_equal(ks_hpke_seal(s, NULL, 0, pt, 2, ct, sizeof(ct), &ct_len), KS_OK);
    assert_int_equal(ks_hpke_seal(s, NULL, 0, pt, 2, ct + 0, sizeof(ct), &out_len),
                     KS_ERR_HPKE_SEQ);
    assert_int_equal(ks_hpke_open(rc, NULL, 0, ct, ct_len, out, 2, &out_len), KS_OK);
    assert_memory_equal(out, pt, 2);
    assert_int_equal(ks_hpke_open(rc, NULL, 0, ct, ct_len, out, 2, &out_len), KS_ERR_HPKE_SEQ);
    /* Export does not depend on the sequence number. */
    assert_int_equal(ks_hpke_export(s, NULL, 0, 2, out), KS_OK);
    assert_int_equal(ks_hpke_ctx_set_seq_for_testing(NULL, 0), KS_ERR_INVALID_ARG);
    ks_hpke_ctx_free(s);
    ks_hpke_ctx_free(rc);
}

/* A high sequence number is XORed into the nonce's full 64 bits: the
 * message sealed at seq 2^32 differs from the one at seq 0. */
static void test_seq_high_bits(void **state)
{
    uint8_t skR[32], pkR[32], enc[32], pt[2] = {1, 2};
    uint8_t ct0[2 + KS_HPKE_TAG_LEN], ct1[2 + KS_HPKE_TAG_LEN], out[2];
    size_t l0, l1, out_len;
    struct ks_hpke_ctx *s, *rc;

    assert_int_equal(ks_hpke_keygen(skR, pkR), KS_OK);
    s = sender(KS_HPKE_SUITE_DEFAULT, pkR, "seq", NULL, enc);
    rc = receiver(KS_HPKE_SUITE_DEFAULT, skR, enc, "seq", NULL);
    assert_int_equal(ks_hpke_seal(s, NULL, 0, pt, 2, ct0, sizeof(ct0), &l0), KS_OK);
    assert_int_equal(ks_hpke_ctx_set_seq_for_testing(s, 1ull << 32), KS_OK);
    assert_int_equal(ks_hpke_seal(s, NULL, 0, pt, 2, ct1, sizeof(ct1), &l1), KS_OK);
    assert_memory_not_equal(ct0, ct1, sizeof(ct0));
    assert_int_equal(ks_hpke_ctx_set_seq_for_testing(rc, 1ull << 32), KS_OK);
    assert_int_equal(ks_hpke_open(rc, NULL, 0, ct0, l0, out, 2, &out_len), KS_ERR_HPKE_OPEN);
    assert_int_equal(ks_hpke_open(rc, NULL, 0, ct1, l1, out, 2, &out_len), KS_OK);
    ks_hpke_ctx_free(s);
    ks_hpke_ctx_free(rc);
}

static void test_export_limits(void **state)
{
    static uint8_t big[KS_HPKE_MAX_INPUT + 1];
    static uint8_t e1[KS_HPKE_MAX_EXPORT + 1], e2[KS_HPKE_MAX_EXPORT];
    uint8_t skR[32], pkR[32], enc[32], keep[8];
    struct ks_hpke_ctx *s, *rc;

    assert_int_equal(ks_hpke_keygen(skR, pkR), KS_OK);
    s = sender(KS_HPKE_SUITE_DEFAULT, pkR, "exp", NULL, enc);
    rc = receiver(KS_HPKE_SUITE_DEFAULT, skR, enc, "exp", NULL);

    memset(e1, 0x11, sizeof(e1));
    memcpy(keep, e1, sizeof(keep));
    assert_int_equal(ks_hpke_export(s, NULL, 0, 0, e1), KS_ERR_HPKE_EXPORT);
    assert_int_equal(ks_hpke_export(s, NULL, 0, KS_HPKE_MAX_EXPORT + 1, e1), KS_ERR_HPKE_EXPORT);
    assert_int_equal(ks_hpke_export(s, NULL, 0, SIZE_MAX, e1), KS_ERR_HPKE_EXPORT);
    assert_int_equal(ks_hpke_export(s, big, sizeof(big), 32, e1), KS_ERR_TOO_LARGE);
    assert_int_equal(ks_hpke_export(s, NULL, 1, 32, e1), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_export(NULL, NULL, 0, 32, e1), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_export(s, NULL, 0, 32, NULL), KS_ERR_INVALID_ARG);
    assert_memory_equal(e1, keep, sizeof(keep));

    /* The maximum, 255 * Nh, and the largest context work on both sides;
     * a shorter export is a prefix of a longer one (HKDF-Expand) only when
     * the length is the same, since L is part of the label. */
    assert_int_equal(ks_hpke_export(s, big, KS_HPKE_MAX_INPUT, KS_HPKE_MAX_EXPORT, e1), KS_OK);
    assert_int_equal(ks_hpke_export(rc, big, KS_HPKE_MAX_INPUT, KS_HPKE_MAX_EXPORT, e2), KS_OK);
    assert_memory_equal(e1, e2, KS_HPKE_MAX_EXPORT);
    assert_int_equal(ks_hpke_export(rc, big, KS_HPKE_MAX_INPUT, 32, e2), KS_OK);
    assert_memory_not_equal(e1, e2, 32);
    ks_hpke_ctx_free(s);
    ks_hpke_ctx_free(rc);
}

static void test_message_args(void **state)
{
    uint8_t skR[32], pkR[32], enc[32], pt[4] = {0}, ct[4 + KS_HPKE_TAG_LEN], out[4];
    size_t ct_len = 0, out_len = 0;
    struct ks_hpke_ctx *s, *rc;

    assert_int_equal(ks_hpke_keygen(skR, pkR), KS_OK);
    s = sender(KS_HPKE_SUITE_DEFAULT, pkR, "a", NULL, enc);
    rc = receiver(KS_HPKE_SUITE_DEFAULT, skR, enc, "a", NULL);

    assert_int_equal(ks_hpke_seal(NULL, NULL, 0, pt, 4, ct, sizeof(ct), &ct_len),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_seal(s, NULL, 1, pt, 4, ct, sizeof(ct), &ct_len), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_seal(s, NULL, 0, NULL, 4, ct, sizeof(ct), &ct_len),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_seal(s, NULL, 0, pt, 4, NULL, sizeof(ct), &ct_len),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_seal(s, NULL, 0, pt, 4, ct, sizeof(ct), NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_seal(s, NULL, 0, pt, 4, ct, sizeof(ct) - 1, &ct_len),
                     KS_ERR_INVALID_ARG);
    /* Sizes beyond the cap are refused before anything is read. */
    assert_int_equal(
        ks_hpke_seal(s, pt, (size_t)KS_HPKE_MAX_MESSAGE + 1, pt, 4, ct, sizeof(ct), &ct_len),
        KS_ERR_TOO_LARGE);
    assert_int_equal(
        ks_hpke_seal(s, NULL, 0, pt, (size_t)KS_HPKE_MAX_MESSAGE + 1, ct, sizeof(ct), &ct_len),
        KS_ERR_TOO_LARGE);
    assert_int_equal(ct_len, 0);

    /* None of the refusals used up a sequence number. */
    assert_int_equal(ks_hpke_seal(s, NULL, 0, pt, 4, ct, sizeof(ct), &ct_len), KS_OK);

    assert_int_equal(ks_hpke_open(NULL, NULL, 0, ct, ct_len, out, 4, &out_len), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_open(rc, NULL, 1, ct, ct_len, out, 4, &out_len), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_open(rc, NULL, 0, NULL, ct_len, out, 4, &out_len), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_open(rc, NULL, 0, ct, ct_len, NULL, 4, &out_len), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_open(rc, NULL, 0, ct, ct_len, out, 4, NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_hpke_open(rc, NULL, 0, ct, ct_len, out, 3, &out_len), KS_ERR_INVALID_ARG);
    assert_int_equal(
        ks_hpke_open(rc, pt, (size_t)KS_HPKE_MAX_MESSAGE + 1, ct, ct_len, out, 4, &out_len),
        KS_ERR_TOO_LARGE);
    assert_int_equal(ks_hpke_open(rc, NULL, 0, ct,
                                  (size_t)KS_HPKE_MAX_MESSAGE + 1 + KS_HPKE_TAG_LEN, out, 4,
                                  &out_len),
                     KS_ERR_TOO_LARGE);
    assert_int_equal(out_len, 0);
    assert_int_equal(ks_hpke_open(rc, NULL, 0, ct, ct_len, out, 4, &out_len), KS_OK);
    assert_int_equal(out_len, 4);
    assert_memory_equal(out, pt, 4);
    ks_hpke_ctx_free(s);
    ks_hpke_ctx_free(rc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc9180_vectors),
        cmocka_unit_test(test_pk_from_sk_rfc7748),
        cmocka_unit_test(test_keygen),
        cmocka_unit_test(test_derive_keypair_errors),
        cmocka_unit_test(test_suite_check),
        cmocka_unit_test(test_single_shot),
        cmocka_unit_test(test_single_shot_errors),
        cmocka_unit_test(test_context_roundtrip),
        cmocka_unit_test(test_order_enforced),
        cmocka_unit_test(test_export_only),
        cmocka_unit_test(test_open_tampered),
        cmocka_unit_test(test_open_wrong_suite),
        cmocka_unit_test(test_psk_mode),
        cmocka_unit_test(test_psk_invalid),
        cmocka_unit_test(test_setup_errors),
        cmocka_unit_test(test_low_order_points),
        cmocka_unit_test(test_seq_overflow),
        cmocka_unit_test(test_seq_high_bits),
        cmocka_unit_test(test_export_limits),
        cmocka_unit_test(test_message_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
