/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <tss2/tss2_mu.h>

#include "encoding.h"
#include "makecred.h"
#include "tpm_public.h"

/*
 * TPM2_MakeCredential in software. Oracles: go-tpm's published KDFa/KDFe and
 * labeled-encapsulation vectors (tests/data/makecred/go-tpm-vectors.json),
 * credentials made by tpm2-tools' tpm2_makecredential for software EKs
 * (cred-*.out: we must recover the secret, and re-wrapping the seed we
 * recover must give tpm2-tools' blob byte for byte), and keylime's
 * tpm2-tools fixture. swtpm's ActivateCredential is the oracle of the
 * integration test (tests/integration/enroll_swtpm.sh).
 */

static json_t *vectors(void)
{
    size_t len;
    uint8_t *buf = unit_read("makecred/go-tpm-vectors.json", &len);
    json_error_t err;
    json_t *j = json_loadb((const char *)buf, len, 0, &err);
    free(buf);
    if (!j) {
        fail_msg("vectors: %s", err.text);
    }
    return j;
}

static uint8_t *hex(json_t *o, const char *key, size_t *len)
{
    uint8_t *buf = NULL;
    const char *s = json_string_value(json_object_get(o, key));
    assert_non_null(s);
    if (s[0] == '\0') {
        *len = 0;
        return calloc(1, 1);
    }
    assert_int_equal(ks_hex_decode(s, &buf, len), KS_OK);
    return buf;
}

static void kdf_vectors(bool kdfe)
{
    json_t *all = vectors();
    json_t *list = json_object_get(all, kdfe ? "kdfe" : "kdfa");
    size_t i;
    json_t *t;
    assert_true(json_array_size(list) >= 7);
    json_array_foreach(list, i, t)
    {
        size_t klen, ulen, vlen, rlen;
        uint8_t *key = hex(t, kdfe ? "Z" : "Key", &klen);
        uint8_t *u = hex(t, "ContextU", &ulen);
        uint8_t *v = hex(t, "ContextV", &vlen);
        uint8_t *want = hex(t, "Result", &rlen);
        uint8_t got[KS_KDF_MAX_BYTES];
        uint16_t alg = (uint16_t)json_integer_value(json_object_get(t, "HashAlg"));
        uint32_t bits = (uint32_t)json_integer_value(json_object_get(t, "Bits"));
        const char *label = json_string_value(json_object_get(t, "Label"));
        memset(got, 0xee, sizeof(got));
        int r = kdfe ? ks_kdfe(alg, key, klen, label, u, ulen, v, vlen, bits, got)
                     : ks_kdfa(alg, key, klen, label, u, ulen, v, vlen, bits, got);
        assert_int_equal(r, KS_OK);
        assert_int_equal(rlen, (bits + 7) / 8);
        if (memcmp(got, want, rlen) != 0) {
            fail_msg("%s: output differs", json_string_value(json_object_get(t, "Name")));
        }
        assert_int_equal(got[rlen], 0xee); /* nothing written past the end */
        free(key);
        free(u);
        free(v);
        free(want);
    }
    json_decref(all);
}

static void test_kdfa_vectors(void **state)
{
    kdf_vectors(false);
}

static void test_kdfe_vectors(void **state)
{
    kdf_vectors(true);
}

static void test_kdf_errors(void **state)
{
    uint8_t out[64];
    static const uint8_t k[4] = {1, 2, 3, 4};
    assert_int_equal(ks_kdfa(0x0012 /* SM3 */, k, 4, "X", NULL, 0, NULL, 0, 256, out),
                     KS_ERR_TPM_ALG);
    assert_int_equal(ks_kdfe(0x0010, k, 4, "X", NULL, 0, NULL, 0, 256, out), KS_ERR_TPM_ALG);
    assert_int_equal(ks_kdfa(KS_ALG_SHA256, k, 4, "X", NULL, 0, NULL, 0, 0, out),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(
        ks_kdfe(KS_ALG_SHA256, k, 4, "X", NULL, 0, NULL, 0, 8 * KS_KDF_MAX_BYTES + 1, out),
        KS_ERR_INVALID_ARG);
    assert_int_equal(ks_kdfa(KS_ALG_SHA256, NULL, 4, "X", NULL, 0, NULL, 0, 8, out),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_kdfe(KS_ALG_SHA256, k, 4, NULL, NULL, 0, NULL, 0, 8, out),
                     KS_ERR_INVALID_ARG);
    /* Different labels, different keys. */
    uint8_t a[32], b[32];
    assert_int_equal(ks_kdfa(KS_ALG_SHA256, k, 4, "STORAGE", NULL, 0, NULL, 0, 256, a), KS_OK);
    assert_int_equal(ks_kdfa(KS_ALG_SHA256, k, 4, "INTEGRITY", NULL, 0, NULL, 0, 256, b), KS_OK);
    assert_memory_not_equal(a, b, 32);
}

/* A public area from a hex TPMT_PUBLIC (the vectors) or a TPM2B file. */
static void tpmt_from_hex(json_t *t, TPMT_PUBLIC *pub)
{
    size_t len;
    uint8_t *buf = hex(t, "PublicKey", &len);
    assert_int_equal(ks_tpm_public_decode_tpmt(buf, len, pub), KS_OK);
    free(buf);
}

static void tpm2b_from_file(const char *rel, TPMT_PUBLIC *pub)
{
    size_t len;
    uint8_t *buf = unit_read(rel, &len);
    assert_int_equal(ks_tpm_public_decode(buf, len, pub), KS_OK);
    free(buf);
}

static EVP_PKEY *priv_from_pem(const char *rel)
{
    size_t len;
    uint8_t *buf = unit_read(rel, &len);
    BIO *bio = BIO_new_mem_buf(buf, (int)len);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    free(buf);
    assert_non_null(k);
    return k;
}

/* An EC key from the private scalar (and, when given, the public point). */
static EVP_PKEY *ec_key(const char *group, const uint8_t *d, size_t dlen, const uint8_t *point,
                        size_t point_len)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bn = BN_bin2bn(d, (int)dlen, NULL);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *k = NULL;
    assert_true(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0));
    assert_true(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn));
    if (point) {
        assert_true(
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, point_len));
    }
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_KEYPAIR, params), 1);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_free(bn);
    return k;
}

/* The private scalar / prime of a marshaled TPMT_SENSITIVE. */
static void sensitive(json_t *t, TPMT_SENSITIVE *s)
{
    size_t len, off = 0;
    uint8_t *buf = hex(t, "PrivateKey", &len);
    assert_int_equal(Tss2_MU_TPMT_SENSITIVE_Unmarshal(buf, len, &off, s), TSS2_RC_SUCCESS);
    assert_int_equal(off, len);
    free(buf);
}

static void test_ecc_encaps_vectors(void **state)
{
    json_t *all = vectors();
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(all, "ecc"), i, t)
    {
        TPMT_PUBLIC pub;
        TPMT_SENSITIVE sens;
        TPMS_ECC_POINT pt;
        size_t dlen, slen, clen, off = 0, seed_len = 0;
        uint8_t seed[KS_CRED_SEED_MAX], point[1 + 2 * 48];
        TPM2B_ENCRYPTED_SECRET enc;
        const char *label = json_string_value(json_object_get(t, "Label"));
        tpmt_from_hex(t, &pub);
        const char *group =
            pub.parameters.eccDetail.curveID == TPM2_ECC_NIST_P256 ? "P-256" : "P-384";
        uint8_t *d = hex(t, "EphemeralPrivate", &dlen);
        uint8_t *want_seed = hex(t, "Secret", &slen);
        uint8_t *want_ct = hex(t, "Ciphertext", &clen);
        /* The ephemeral public point is the ciphertext. */
        assert_int_equal(Tss2_MU_TPMS_ECC_POINT_Unmarshal(want_ct, clen, &off, &pt),
                         TSS2_RC_SUCCESS);
        point[0] = 4;
        memcpy(point + 1, pt.x.buffer, pt.x.size);
        memcpy(point + 1 + pt.x.size, pt.y.buffer, pt.y.size);
        EVP_PKEY *eph = ec_key(group, d, dlen, point, 1u + pt.x.size + pt.y.size);
        assert_int_equal(ks_cred_seed_encaps(&pub, label, eph, seed, &seed_len, &enc), KS_OK);
        assert_int_equal(seed_len, slen);
        assert_memory_equal(seed, want_seed, slen);
        assert_int_equal(enc.size, clen);
        assert_memory_equal(enc.secret, want_ct, clen);
        /* And back with the key's private scalar. */
        sensitive(t, &sens);
        EVP_PKEY *priv = ec_key(group, sens.sensitive.ecc.buffer, sens.sensitive.ecc.size, NULL, 0);
        memset(seed, 0, sizeof(seed));
        assert_int_equal(ks_cred_seed_decaps(&pub, priv, label, &enc, seed, &seed_len), KS_OK);
        assert_memory_equal(seed, want_seed, slen);
        /* Another label derives another seed. */
        assert_int_equal(ks_cred_seed_decaps(&pub, priv, "DUPLICATE", &enc, seed, &seed_len),
                         KS_OK);
        assert_memory_not_equal(seed, want_seed, slen);
        /* A point off the curve is refused, not used. */
        enc.secret[enc.size - 1] ^= 1;
        assert_int_equal(ks_cred_seed_decaps(&pub, priv, label, &enc, seed, &seed_len),
                         KS_ERR_CRED_MALFORMED);
        enc.size -= 1;
        assert_int_equal(ks_cred_seed_decaps(&pub, priv, label, &enc, seed, &seed_len),
                         KS_ERR_CRED_MALFORMED);
        EVP_PKEY_free(eph);
        EVP_PKEY_free(priv);
        free(d);
        free(want_seed);
        free(want_ct);
    }
    json_decref(all);
}

/* An RSA private key from the modulus and the prime p (TPMT_SENSITIVE). */
static EVP_PKEY *rsa_key(const TPMT_PUBLIC *pub, const TPMT_SENSITIVE *sens)
{
    BN_CTX *bctx = BN_CTX_new();
    BIGNUM *n = BN_bin2bn(pub->unique.rsa.buffer, pub->unique.rsa.size, NULL);
    BIGNUM *p = BN_bin2bn(sens->sensitive.rsa.buffer, sens->sensitive.rsa.size, NULL);
    BIGNUM *q = BN_new(), *rem = BN_new(), *e = BN_new(), *phi = BN_new(), *d = BN_new();
    BIGNUM *p1 = BN_new(), *q1 = BN_new();
    assert_true(BN_set_word(e, 65537));
    assert_true(BN_div(q, rem, n, p, bctx));
    assert_true(BN_is_zero(rem));
    assert_true(BN_sub(p1, p, BN_value_one()) && BN_sub(q1, q, BN_value_one()));
    assert_true(BN_mul(phi, p1, q1, bctx));
    assert_non_null(BN_mod_inverse(d, e, phi, bctx));
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    assert_true(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n));
    assert_true(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e));
    assert_true(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d));
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *k = NULL;
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_KEYPAIR, params), 1);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n), BN_free(p), BN_free(q), BN_free(rem), BN_free(e), BN_free(phi), BN_free(d);
    BN_free(p1), BN_free(q1);
    BN_CTX_free(bctx);
    return k;
}

static void test_rsa_decaps_vector(void **state)
{
    json_t *all = vectors();
    json_t *t = json_array_get(json_object_get(all, "rsa"), 0);
    TPMT_PUBLIC pub;
    TPMT_SENSITIVE sens;
    TPM2B_ENCRYPTED_SECRET enc;
    uint8_t seed[KS_CRED_SEED_MAX];
    size_t slen, clen, seed_len = 0;
    tpmt_from_hex(t, &pub);
    sensitive(t, &sens);
    uint8_t *want = hex(t, "Secret", &slen);
    uint8_t *ct = hex(t, "Ciphertext", &clen);
    assert_true(clen <= sizeof(enc.secret));
    enc.size = (UINT16)clen;
    memcpy(enc.secret, ct, clen);
    EVP_PKEY *priv = rsa_key(&pub, &sens);
    assert_int_equal(ks_cred_seed_decaps(&pub, priv, KS_CRED_LABEL_IDENTITY, &enc, seed, &seed_len),
                     KS_OK);
    assert_int_equal(seed_len, slen);
    assert_memory_equal(seed, want, slen);
    /* The OAEP label is part of the encryption. */
    assert_int_equal(ks_cred_seed_decaps(&pub, priv, "SECRET", &enc, seed, &seed_len),
                     KS_ERR_CRED_MALFORMED);
    /* Our own encapsulation to that key comes back the same way. */
    uint8_t seed2[KS_CRED_SEED_MAX];
    size_t seed2_len = 0;
    assert_int_equal(ks_cred_seed_encaps(&pub, "IDENTITY", NULL, seed, &seed_len, &enc), KS_OK);
    assert_int_equal(enc.size, 256);
    assert_int_equal(ks_cred_seed_decaps(&pub, priv, "IDENTITY", &enc, seed2, &seed2_len), KS_OK);
    assert_int_equal(seed2_len, 20);
    assert_memory_equal(seed, seed2, 20);
    /* RSA takes no ephemeral key. */
    assert_int_equal(ks_cred_seed_encaps(&pub, "IDENTITY", priv, seed, &seed_len, &enc),
                     KS_ERR_INVALID_ARG);
    EVP_PKEY_free(priv);
    free(want);
    free(ct);
    json_decref(all);
}

static uint8_t *read_name(size_t *len)
{
    return unit_read("makecred/ak.name", len);
}

/* tpm2_makecredential's output for our software EKs (see the README). */
static void tools_cross_check(const char *kind)
{
    char path[128];
    TPMT_PUBLIC ek;
    TPM2B_ID_OBJECT blob, mine;
    TPM2B_ENCRYPTED_SECRET enc;
    uint8_t secret[KS_MAX_DIGEST], seed[KS_CRED_SEED_MAX];
    size_t secret_len = 0, seed_len = 0, name_len, want_len, cred_len;
    snprintf(path, sizeof(path), "makecred/ek-%s.pub", kind);
    tpm2b_from_file(path, &ek);
    assert_int_equal(ks_cred_check_key(&ek), KS_OK);
    snprintf(path, sizeof(path), "makecred/ek-%s.priv.pem", kind);
    EVP_PKEY *priv = priv_from_pem(path);
    snprintf(path, sizeof(path), "makecred/cred-%s.out", kind);
    uint8_t *cred = unit_read(path, &cred_len);
    uint8_t *name = read_name(&name_len);
    uint8_t *want = unit_read("makecred/secret.bin", &want_len);
    assert_int_equal(ks_cred_file_decode(cred, cred_len, &blob, &enc), KS_OK);
    /* Our ActivateCredential recovers tpm2-tools' credential. */
    assert_int_equal(
        ks_activatecredential_soft(&ek, priv, name, name_len, &blob, &enc, secret, &secret_len),
        KS_OK);
    assert_int_equal(secret_len, want_len);
    assert_memory_equal(secret, want, want_len);
    /* With the seed tpm2-tools chose, our wrap is byte for byte its blob. */
    assert_int_equal(ks_cred_seed_decaps(&ek, priv, KS_CRED_LABEL_IDENTITY, &enc, seed, &seed_len),
                     KS_OK);
    assert_int_equal(seed_len, ks_alg_digest_size(ek.nameAlg));
    assert_int_equal(ks_cred_wrap(&ek, name, name_len, want, want_len, seed, seed_len, &mine),
                     KS_OK);
    assert_int_equal(mine.size, blob.size);
    assert_memory_equal(mine.credential, blob.credential, blob.size);
    /* Bound to the Name: another object's Name fails the integrity check. */
    name[name_len - 1] ^= 1;
    assert_int_equal(
        ks_activatecredential_soft(&ek, priv, name, name_len, &blob, &enc, secret, &secret_len),
        KS_ERR_CRED_INTEGRITY);
    name[name_len - 1] ^= 1;
    /* Tampered blob. */
    blob.credential[blob.size - 1] ^= 0x80;
    assert_int_equal(
        ks_activatecredential_soft(&ek, priv, name, name_len, &blob, &enc, secret, &secret_len),
        KS_ERR_CRED_INTEGRITY);
    blob.credential[blob.size - 1] ^= 0x80;
    /* And the file round-trips byte for byte. */
    uint8_t *again = NULL;
    size_t again_len = 0;
    assert_int_equal(ks_cred_file_encode(&blob, &enc, &again, &again_len), KS_OK);
    assert_int_equal(again_len, cred_len);
    assert_memory_equal(again, cred, cred_len);
    free(again);
    free(cred);
    free(name);
    free(want);
    EVP_PKEY_free(priv);
}

static void test_tpm2_tools_rsa2048(void **state)
{
    tools_cross_check("rsa2048");
}

static void test_tpm2_tools_p256(void **state)
{
    tools_cross_check("p256");
}

static void test_tpm2_tools_p384(void **state)
{
    tools_cross_check("p384");
}

/* ks_makecredential then our ActivateCredential, for each EK type; the
 * other EK's private key does not open it. */
static void test_roundtrip(void **state)
{
    static const char *const kinds[] = {"rsa2048", "p256", "p384"};
    uint8_t secret[32], got[KS_MAX_DIGEST];
    size_t name_len, got_len = 0;
    uint8_t *name = read_name(&name_len);
    EVP_PKEY *privs[3];
    TPMT_PUBLIC eks[3];
    for (size_t i = 0; i < 3; i++) {
        char path[128];
        snprintf(path, sizeof(path), "makecred/ek-%s.pub", kinds[i]);
        tpm2b_from_file(path, &eks[i]);
        snprintf(path, sizeof(path), "makecred/ek-%s.priv.pem", kinds[i]);
        privs[i] = priv_from_pem(path);
    }
    for (size_t i = 0; i < 3; i++) {
        TPM2B_ID_OBJECT blob;
        TPM2B_ENCRYPTED_SECRET enc;
        for (size_t j = 0; j < sizeof(secret); j++) {
            secret[j] = (uint8_t)(i * 32 + j);
        }
        assert_int_equal(
            ks_makecredential(&eks[i], name, name_len, secret, sizeof(secret), &blob, &enc), KS_OK);
        assert_int_equal(blob.size, 2 + ks_alg_digest_size(eks[i].nameAlg) + 2 + sizeof(secret));
        assert_int_equal(ks_activatecredential_soft(&eks[i], privs[i], name, name_len, &blob, &enc,
                                                    got, &got_len),
                         KS_OK);
        assert_int_equal(got_len, sizeof(secret));
        assert_memory_equal(got, secret, sizeof(secret));
        /* Fresh randomness each time. */
        TPM2B_ID_OBJECT blob2;
        TPM2B_ENCRYPTED_SECRET enc2;
        assert_int_equal(
            ks_makecredential(&eks[i], name, name_len, secret, sizeof(secret), &blob2, &enc2),
            KS_OK);
        assert_memory_not_equal(blob.credential, blob2.credential, blob.size);
        /* Another TPM's EK private key cannot open it. */
        size_t other = (i + 1) % 3;
        if (eks[other].type == eks[i].type) {
            assert_int_not_equal(ks_activatecredential_soft(&eks[i], privs[other], name, name_len,
                                                            &blob, &enc, got, &got_len),
                                 KS_OK);
        }
    }
    /* Two RSA keys: the wrong private key fails OAEP. */
    EVP_PKEY *other_rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    TPM2B_ID_OBJECT blob;
    TPM2B_ENCRYPTED_SECRET enc;
    assert_int_equal(ks_makecredential(&eks[0], name, name_len, secret, 16, &blob, &enc), KS_OK);
    assert_int_equal(
        ks_activatecredential_soft(&eks[0], other_rsa, name, name_len, &blob, &enc, got, &got_len),
        KS_ERR_CRED_MALFORMED);
    /* Two P-256 keys: ECDH gives another seed, the HMAC fails. */
    EVP_PKEY *other_ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_int_equal(ks_makecredential(&eks[1], name, name_len, secret, 16, &blob, &enc), KS_OK);
    assert_int_equal(
        ks_activatecredential_soft(&eks[1], other_ec, name, name_len, &blob, &enc, got, &got_len),
        KS_ERR_CRED_INTEGRITY);
    EVP_PKEY_free(other_rsa);
    EVP_PKEY_free(other_ec);
    for (size_t i = 0; i < 3; i++) {
        EVP_PKEY_free(privs[i]);
    }
    free(name);
}

static void test_makecred_refusals(void **state)
{
    TPMT_PUBLIC ek, ak;
    TPM2B_ID_OBJECT blob;
    TPM2B_ENCRYPTED_SECRET enc;
    uint8_t secret[65] = {0}, seed[32] = {1};
    size_t name_len;
    uint8_t *name = read_name(&name_len);
    tpm2b_from_file("makecred/ek-rsa2048.pub", &ek);
    tpm2b_from_file("quotes/swtpm-rsa-rsassa/ak.tpm2b_public.bin", &ak);
    /* An AK (a signing key) cannot receive a credential. */
    assert_int_equal(ks_cred_check_key(&ak), KS_ERR_TPM_ATTRIBUTES);
    assert_int_equal(ks_makecredential(&ak, name, name_len, secret, 32, &blob, &enc),
                     KS_ERR_TPM_ATTRIBUTES);
    /* The credential is at most a digest of the EK's nameAlg. */
    assert_int_equal(ks_makecredential(&ek, name, name_len, secret, 33, &blob, &enc),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_makecredential(&ek, name, name_len, secret, 0, &blob, &enc),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_makecredential(&ek, name, 0, secret, 32, &blob, &enc), KS_ERR_INVALID_ARG);
    /* Symmetric definitions other than AES-CFB. */
    TPMT_PUBLIC bad = ek;
    bad.parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CBC;
    assert_int_equal(ks_cred_check_key(&bad), KS_ERR_TPM_KEY);
    assert_int_equal(ks_cred_wrap(&bad, name, name_len, secret, 16, seed, 32, &blob),
                     KS_ERR_TPM_KEY);
    bad = ek;
    bad.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
    assert_int_equal(ks_cred_check_key(&bad), KS_ERR_TPM_KEY);
    bad = ek;
    bad.nameAlg = 0x0012;
    assert_int_equal(ks_cred_check_key(&bad), KS_ERR_TPM_ALG);
    assert_int_equal(ks_cred_wrap(&bad, name, name_len, secret, 16, seed, 32, &blob),
                     KS_ERR_TPM_ALG);
    bad = ek;
    bad.type = TPM2_ALG_KEYEDHASH;
    assert_int_equal(ks_cred_check_key(&bad), KS_ERR_TPM_KEY);
    bad = ek;
    bad.unique.rsa.size = 100; /* not a 2048/3072-bit modulus */
    assert_int_equal(ks_cred_check_key(&bad), KS_ERR_TPM_KEY);
    assert_int_equal(ks_cred_seed_encaps(&bad, "IDENTITY", NULL, seed, &name_len, &enc),
                     KS_ERR_TPM_KEY);
    bad = ek;
    bad.objectAttributes &= ~TPMA_OBJECT_RESTRICTED;
    assert_int_equal(ks_cred_check_key(&bad), KS_ERR_TPM_ATTRIBUTES);
    assert_int_equal(ks_cred_check_key(NULL), KS_ERR_INVALID_ARG);
    /* A malformed blob. */
    memset(&blob, 0, sizeof(blob));
    blob.size = 3;
    uint8_t out[64];
    size_t out_len;
    assert_int_equal(ks_cred_unwrap(&ek, name, 34, &blob, seed, 32, out, &out_len),
                     KS_ERR_CRED_MALFORMED);
    free(name);
}

/* keylime's fixture: a credential tpm2-tools made for a real TPM's EK. */
static void test_keylime_fixture(void **state)
{
    TPMT_PUBLIC ek, ak;
    TPM2B_ID_OBJECT blob, mine;
    TPM2B_ENCRYPTED_SECRET enc, mine_enc;
    uint8_t name[KS_TPM_NAME_MAX];
    size_t len, name_len, secret_len, file_len, ak_name_len;
    tpm2b_from_file("quotes/keylime-tpm2-tools-fixture/ek.pub", &ek);
    tpm2b_from_file("quotes/keylime-tpm2-tools-fixture/ak.pub", &ak);
    uint8_t *file = unit_read("quotes/keylime-tpm2-tools-fixture/mkcred.out", &file_len);
    uint8_t *secret = unit_read("quotes/keylime-tpm2-tools-fixture/secret.data", &secret_len);
    uint8_t *ak_name = unit_read("quotes/keylime-tpm2-tools-fixture/ak.name", &ak_name_len);
    assert_int_equal(ks_cred_check_key(&ek), KS_OK);
    assert_int_equal(ks_tpm_public_name(&ak, name, &name_len), KS_OK);
    assert_int_equal(name_len, ak_name_len);
    assert_memory_equal(name, ak_name, name_len);
    assert_int_equal(ks_cred_file_decode(file, file_len, &blob, &enc), KS_OK);
    /* TPM2B_DIGEST(HMAC-SHA256) || CFB(TPM2B_DIGEST(secret)), and an
     * OAEP ciphertext the size of the EK's modulus. */
    assert_int_equal(blob.size, 2 + 32 + 2 + secret_len);
    assert_int_equal(blob.credential[0], 0);
    assert_int_equal(blob.credential[1], 32);
    assert_int_equal(enc.size, ek.unique.rsa.size);
    /* Ours for the same EK, Name and secret has exactly that shape. */
    assert_int_equal(ks_makecredential(&ek, name, name_len, secret, secret_len, &mine, &mine_enc),
                     KS_OK);
    assert_int_equal(mine.size, blob.size);
    assert_int_equal(mine_enc.size, enc.size);
    /* Strict decoding of the file. */
    assert_int_equal(ks_cred_file_decode(file, file_len - 1, &blob, &enc), KS_ERR_TPM_UNMARSHAL);
    file[0] ^= 1;
    assert_int_equal(ks_cred_file_decode(file, file_len, &blob, &enc), KS_ERR_CRED_MALFORMED);
    file[0] ^= 1;
    uint8_t *longer = malloc(file_len + 1);
    memcpy(longer, file, file_len);
    longer[file_len] = 0;
    assert_int_equal(ks_cred_file_decode(longer, file_len + 1, &blob, &enc), KS_ERR_TPM_TRAILING);
    free(longer);
    (void)len;
    free(file);
    free(secret);
    free(ak_name);
}

static void test_encode_decode(void **state)
{
    TPM2B_ID_OBJECT blob, b2;
    TPM2B_ENCRYPTED_SECRET enc, e2;
    uint8_t *buf = NULL;
    size_t len = 0;
    memset(&blob, 0, sizeof(blob));
    memset(&enc, 0, sizeof(enc));
    blob.size = 4;
    memcpy(blob.credential, "\x00\x01\xaa\xbb", 4);
    enc.size = 3;
    memcpy(enc.secret, "xyz", 3);
    assert_int_equal(ks_cred_blob_encode(&blob, &buf, &len), KS_OK);
    assert_int_equal(len, 6);
    assert_memory_equal(buf, "\x00\x04\x00\x01\xaa\xbb", 6);
    assert_int_equal(ks_cred_blob_decode(buf, len, &b2), KS_OK);
    assert_int_equal(b2.size, 4);
    assert_int_equal(ks_cred_blob_decode(buf, len - 1, &b2), KS_ERR_TPM_UNMARSHAL);
    free(buf);
    assert_int_equal(ks_cred_secret_encode(&enc, &buf, &len), KS_OK);
    assert_int_equal(len, 5);
    assert_int_equal(ks_cred_secret_decode(buf, len, &e2), KS_OK);
    assert_memory_equal(e2.secret, "xyz", 3);
    uint8_t more[6];
    memcpy(more, buf, 5);
    more[5] = 0;
    assert_int_equal(ks_cred_secret_decode(more, 6, &e2), KS_ERR_TPM_TRAILING);
    assert_int_equal(ks_cred_blob_decode(more, 6, &b2), KS_ERR_TPM_TRAILING);
    assert_int_equal(ks_cred_secret_decode(more, 1, &e2), KS_ERR_TPM_UNMARSHAL);
    free(buf);
    /* A size past the structure is refused on encode. */
    enc.size = sizeof(enc.secret) + 1;
    assert_int_equal(ks_cred_secret_encode(&enc, &buf, &len), KS_ERR_INVALID_ARG);
    blob.size = sizeof(blob.credential) + 1;
    assert_int_equal(ks_cred_blob_encode(&blob, &buf, &len), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_cred_file_encode(&blob, &e2, &buf, &len), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_cred_blob_decode(NULL, 0, &b2), KS_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kdfa_vectors),      cmocka_unit_test(test_kdfe_vectors),
        cmocka_unit_test(test_kdf_errors),        cmocka_unit_test(test_ecc_encaps_vectors),
        cmocka_unit_test(test_rsa_decaps_vector), cmocka_unit_test(test_tpm2_tools_rsa2048),
        cmocka_unit_test(test_tpm2_tools_p256),   cmocka_unit_test(test_tpm2_tools_p384),
        cmocka_unit_test(test_roundtrip),         cmocka_unit_test(test_makecred_refusals),
        cmocka_unit_test(test_keylime_fixture),   cmocka_unit_test(test_encode_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
