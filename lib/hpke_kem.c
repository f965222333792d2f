/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "hpke_kem.h"

/*
 * The KEM half of RFC 9180 on OpenSSL 3.0: X25519 through EVP_PKEY_derive,
 * and HKDF through EVP_KDF "HKDF" in EXTRACT_ONLY / EXPAND_ONLY mode (the
 * Labeled* functions of section 4 need the two halves separately). The key
 * schedule and the AEAD are in hpke.c.
 */

#define HPKE_VERSION_LABEL "HPKE-v1"
#define HPKE_VERSION_LABEL_LEN 7
#define KEM_SUITE_ID_LEN 5 /* "KEM" || I2OSP(kem_id, 2) */

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void kem_suite_id(struct ks_hpke_labeled_kdf *lk, EVP_KDF *kdf)
{
    /* RFC 9180 section 4.1: suite_id = concat("KEM", I2OSP(kem_id, 2)). */
    lk->kdf = kdf;
    memcpy(lk->suite_id, "KEM", 3);
    put_u16(lk->suite_id + 3, KS_HPKE_KEM_X25519_SHA256);
    lk->suite_id_len = KEM_SUITE_ID_LEN;
}

void ks_hpke_labeled_kdf_suite(struct ks_hpke_labeled_kdf *lk, EVP_KDF *kdf,
                               struct ks_hpke_suite suite)
{
    /* RFC 9180 section 5.1: suite_id = concat("HPKE", I2OSP(kem_id, 2),
     * I2OSP(kdf_id, 2), I2OSP(aead_id, 2)). */
    lk->kdf = kdf;
    memcpy(lk->suite_id, "HPKE", 4);
    put_u16(lk->suite_id + 4, suite.kem_id);
    put_u16(lk->suite_id + 6, suite.kdf_id);
    put_u16(lk->suite_id + 8, suite.aead_id);
    lk->suite_id_len = KS_HPKE_MAX_SUITE_ID_LEN;
}

/* OSSL_PARAM takes non-const pointers to parameters it only reads. */
static void *unconst(const void *p)
{
    return (void *)(uintptr_t)p;
}

int ks_hpke_kdf_fetch(EVP_KDF **ret)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
    if (!kdf) {
        return KS_ERR_CRYPTO;
    }
    *ret = kdf;
    return KS_OK;
}

/* One HKDF-SHA256 half (RFC 5869): Extract (key = IKM, salt) or Expand
 * (key = PRK, info). An empty salt is left unset: HMAC pads a missing key
 * with zeros, which is the RFC 5869 default salt of HashLen zeros. */
static int hkdf(EVP_KDF *kdf, int mode, const uint8_t *key, size_t key_len, const uint8_t *salt,
                size_t salt_len, const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
    char digest[] = "SHA256";
    EVP_KDF_CTX *kctx = NULL;
    OSSL_PARAM params[6];
    size_t n = 0;
    int r;

    kctx = EVP_KDF_CTX_new(kdf);
    if (!kctx) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
    params[n++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, unconst(key), key_len);
    if (salt_len > 0) {
        params[n++] =
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, unconst(salt), salt_len);
    }
    if (info_len > 0) {
        params[n++] =
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, unconst(info), info_len);
    }
    params[n] = OSSL_PARAM_construct_end();
    if (EVP_KDF_derive(kctx, out, out_len, params) != 1) {
        OPENSSL_cleanse(out, out_len);
        r = KS_ERR_CRYPTO;
        goto out;
    }
    r = KS_OK;
out:
    EVP_KDF_CTX_free(kctx);
    return r;
}

/* concat(prefix, "HPKE-v1", suite_id, label, data) in a new buffer; the
 * caller wipes and frees it (data may be secret). */
static int labeled_input(const struct ks_hpke_labeled_kdf *lk, const uint8_t *prefix,
                         size_t prefix_len, const char *label, const uint8_t *data, size_t data_len,
                         uint8_t **ret, size_t *ret_len)
{
    size_t label_len = strlen(label);
    size_t len = prefix_len + HPKE_VERSION_LABEL_LEN + lk->suite_id_len + label_len + data_len;
    uint8_t *buf = OPENSSL_malloc(len);
    size_t off = 0;

    if (!buf) {
        return KS_ERR_NOMEM;
    }
    if (prefix_len > 0) {
        memcpy(buf + off, prefix, prefix_len);
        off += prefix_len;
    }
    memcpy(buf + off, HPKE_VERSION_LABEL, HPKE_VERSION_LABEL_LEN);
    off += HPKE_VERSION_LABEL_LEN;
    memcpy(buf + off, lk->suite_id, lk->suite_id_len);
    off += lk->suite_id_len;
    memcpy(buf + off, label, label_len);
    off += label_len;
    if (data_len > 0) {
        memcpy(buf + off, data, data_len);
    }
    *ret = buf;
    *ret_len = len;
    return KS_OK;
}

/* RFC 9180 section 4: LabeledExtract(salt, label, ikm) =
 * Extract(salt, concat("HPKE-v1", suite_id, label, ikm)). Output Nh bytes. */
int ks_hpke_labeled_extract(const struct ks_hpke_labeled_kdf *lk, const uint8_t *salt,
                            size_t salt_len, const char *label, const uint8_t *ikm, size_t ikm_len,
                            uint8_t ret_prk[KS_HPKE_NH])
{
    uint8_t *in = NULL;
    size_t in_len = 0;
    int r;

    r = labeled_input(lk, NULL, 0, label, ikm, ikm_len, &in, &in_len);
    if (r < 0) {
        goto out;
    }
    r = hkdf(lk->kdf, EVP_KDF_HKDF_MODE_EXTRACT_ONLY, in, in_len, salt, salt_len, NULL, 0, ret_prk,
             KS_HPKE_NH);
out:
    OPENSSL_clear_free(in, in_len);
    return r;
}

/* RFC 9180 section 4: LabeledExpand(prk, label, info, L) =
 * Expand(prk, concat(I2OSP(L, 2), "HPKE-v1", suite_id, label, info), L). */
int ks_hpke_labeled_expand(const struct ks_hpke_labeled_kdf *lk, const uint8_t prk[KS_HPKE_NH],
                           const char *label, const uint8_t *info, size_t info_len, uint8_t *ret,
                           size_t L)
{
    uint8_t l2[2];
    uint8_t *in = NULL;
    size_t in_len = 0;
    int r;

    if (L == 0 || L > KS_HPKE_MAX_EXPORT) {
        return KS_ERR_INTERNAL;
    }
    put_u16(l2, (uint16_t)L);
    r = labeled_input(lk, l2, sizeof(l2), label, info, info_len, &in, &in_len);
    if (r < 0) {
        goto out;
    }
    r = hkdf(lk->kdf, EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk, KS_HPKE_NH, NULL, 0, in, in_len, ret, L);
out:
    OPENSSL_clear_free(in, in_len);
    return r;
}

/* ---- X25519 (RFC 7748) ---------------------------------------------------- */

static int x25519_pub(const uint8_t sk[KS_HPKE_SK_LEN], uint8_t ret_pk[KS_HPKE_PK_LEN])
{
    EVP_PKEY *pkey = NULL;
    size_t len = KS_HPKE_PK_LEN;
    int r;

    pkey = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", NULL, sk, KS_HPKE_SK_LEN);
    if (!pkey) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    if (EVP_PKEY_get_raw_public_key(pkey, ret_pk, &len) != 1 || len != KS_HPKE_PK_LEN) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    r = KS_OK;
out:
    EVP_PKEY_free(pkey); /* wipes the private key */
    return r;
}

/* DH(sk, pk) of RFC 9180 section 4.1. The all-zero output of a low-order
 * peer point must be refused (RFC 9180 section 7.1.4, RFC 7748 section 6.1);
 * OpenSSL's X25519 derive fails on it already, and we check again. */
/* DH(own, pk) with an already imported private key: importing an X25519
 * private key costs a scalar multiplication (OpenSSL derives its public key),
 * so Encap imports the ephemeral key once and uses it for both enc and DH. */
static int x25519_dh_with(EVP_PKEY *own, const uint8_t pk[KS_HPKE_PK_LEN],
                          uint8_t ret_dh[KS_HPKE_NSECRET])
{
    static const uint8_t zero[KS_HPKE_NSECRET];
    EVP_PKEY *peer = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    uint8_t dh[KS_HPKE_NSECRET];
    size_t len = sizeof(dh);
    int r;

    peer = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, pk, KS_HPKE_PK_LEN);
    if (!own || !peer) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    pctx = EVP_PKEY_CTX_new_from_pkey(NULL, own, NULL);
    if (!pctx || EVP_PKEY_derive_init(pctx) != 1) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    /* No peer validation here: X25519 accepts every 32-byte string
     * (RFC 9180 section 7.1.1); the zero check is the validation. A
     * peer key is untrusted input: its failure leaves no stale entries on
     * OpenSSL's error queue (they would confuse a later TLS call). */
    ERR_set_mark();
    if (EVP_PKEY_derive_set_peer_ex(pctx, peer, 0) != 1 || EVP_PKEY_derive(pctx, dh, &len) != 1 ||
        len != sizeof(dh)) {
        ERR_pop_to_mark();
        r = KS_ERR_HPKE_KEY;
        goto out;
    }
    ERR_clear_last_mark();
    if (CRYPTO_memcmp(dh, zero, sizeof(dh)) == 0) {
        r = KS_ERR_HPKE_KEY;
        goto out;
    }
    memcpy(ret_dh, dh, sizeof(dh));
    r = KS_OK;
out:
    OPENSSL_cleanse(dh, sizeof(dh));
    EVP_PKEY_CTX_free(pctx);
    EVP_PKEY_free(peer);
    return r;
}

/* RFC 9180 section 4.1: ExtractAndExpand(dh, kem_context). */
static int extract_and_expand(EVP_KDF *kdf, const uint8_t dh[KS_HPKE_NSECRET],
                              const uint8_t *kem_context, size_t kem_context_len,
                              uint8_t ret_ss[KS_HPKE_NSECRET])
{
    struct ks_hpke_labeled_kdf lk;
    uint8_t eae_prk[KS_HPKE_NH];
    int r;

    kem_suite_id(&lk, kdf);
    r = ks_hpke_labeled_extract(&lk, NULL, 0, "eae_prk", dh, KS_HPKE_NSECRET, eae_prk);
    if (r < 0) {
        goto out;
    }
    r = ks_hpke_labeled_expand(&lk, eae_prk, "shared_secret", kem_context, kem_context_len, ret_ss,
                               KS_HPKE_NSECRET);
out:
    OPENSSL_cleanse(eae_prk, sizeof(eae_prk));
    return r;
}

/* Encap (RFC 9180 section 4.1): enc = pkE, kem_context = enc || pkR. skE is
 * the given ephemeral key (test vectors) or NULL for a fresh one
 * (GenerateKeyPair). Two scalar multiplications: pkE and the DH. */
int ks_hpke_encap(EVP_KDF *kdf, const uint8_t skE[KS_HPKE_SK_LEN],
                  const uint8_t pkR[KS_HPKE_PK_LEN], uint8_t ret_ss[KS_HPKE_NSECRET],
                  uint8_t ret_enc[KS_HPKE_ENC_LEN])
{
    uint8_t dh[KS_HPKE_NSECRET];
    uint8_t kem_context[KS_HPKE_ENC_LEN + KS_HPKE_PK_LEN];
    size_t plen = KS_HPKE_PK_LEN;
    int r = KS_ERR_CRYPTO;
    EVP_PKEY *own = skE ? EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", NULL, skE, KS_HPKE_SK_LEN)
                        : EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    if (!own || EVP_PKEY_get_raw_public_key(own, kem_context, &plen) != 1 ||
        plen != KS_HPKE_PK_LEN) {
        goto out;
    }
    r = x25519_dh_with(own, pkR, dh);
    if (r < 0) {
        goto out;
    }
    memcpy(kem_context + KS_HPKE_ENC_LEN, pkR, KS_HPKE_PK_LEN);
    r = extract_and_expand(kdf, dh, kem_context, sizeof(kem_context), ret_ss);
    if (r < 0) {
        goto out;
    }
    memcpy(ret_enc, kem_context, KS_HPKE_ENC_LEN);
out:
    OPENSSL_cleanse(dh, sizeof(dh));
    EVP_PKEY_free(own);
    return r;
}

/* Decap (RFC 9180 section 4.1): kem_context = enc || pk(skR). skR is
 * imported once for both (one scalar multiplication for pkR, one for DH). */
int ks_hpke_decap(EVP_KDF *kdf, const uint8_t enc[KS_HPKE_ENC_LEN],
                  const uint8_t skR[KS_HPKE_SK_LEN], uint8_t ret_ss[KS_HPKE_NSECRET])
{
    uint8_t dh[KS_HPKE_NSECRET];
    uint8_t kem_context[KS_HPKE_ENC_LEN + KS_HPKE_PK_LEN];
    size_t plen = KS_HPKE_PK_LEN;
    int r = KS_ERR_CRYPTO;
    EVP_PKEY *own = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", NULL, skR, KS_HPKE_SK_LEN);
    if (!own || EVP_PKEY_get_raw_public_key(own, kem_context + KS_HPKE_ENC_LEN, &plen) != 1 ||
        plen != KS_HPKE_PK_LEN) {
        goto out;
    }
    r = x25519_dh_with(own, enc, dh);
    if (r < 0) {
        goto out;
    }
    memcpy(kem_context, enc, KS_HPKE_ENC_LEN);
    r = extract_and_expand(kdf, dh, kem_context, sizeof(kem_context), ret_ss);
out:
    OPENSSL_cleanse(dh, sizeof(dh));
    EVP_PKEY_free(own);
    return r;
}

/* ---- key pairs (RFC 9180 section 7.1) ---------------------------------- */

int ks_hpke_pk_from_sk(const uint8_t sk[KS_HPKE_SK_LEN], uint8_t ret_pk[KS_HPKE_PK_LEN])
{
    uint8_t pk[KS_HPKE_PK_LEN];
    int r;

    if (!sk || !ret_pk) {
        return KS_ERR_INVALID_ARG;
    }
    r = x25519_pub(sk, pk);
    if (r < 0) {
        return r;
    }
    memcpy(ret_pk, pk, sizeof(pk));
    return KS_OK;
}

int ks_hpke_keygen(uint8_t ret_sk[KS_HPKE_SK_LEN], uint8_t ret_pk[KS_HPKE_PK_LEN])
{
    uint8_t sk[KS_HPKE_SK_LEN], pk[KS_HPKE_PK_LEN];
    int r;

    if (!ret_sk || !ret_pk) {
        return KS_ERR_INVALID_ARG;
    }
    /* RFC 7748 section 6.1: a private key is 32 random bytes (clamped when
     * used). */
    if (RAND_priv_bytes(sk, sizeof(sk)) != 1) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    r = x25519_pub(sk, pk);
    if (r < 0) {
        goto out;
    }
    memcpy(ret_sk, sk, sizeof(sk));
    memcpy(ret_pk, pk, sizeof(pk));
out:
    OPENSSL_cleanse(sk, sizeof(sk));
    return r;
}

int ks_hpke_derive_keypair(struct ks_hpke_suite suite, const uint8_t *ikm, size_t ikm_len,
                           uint8_t ret_sk[KS_HPKE_SK_LEN], uint8_t ret_pk[KS_HPKE_PK_LEN])
{
    struct ks_hpke_labeled_kdf lk;
    EVP_KDF *kdf = NULL;
    uint8_t dkp_prk[KS_HPKE_NH], sk[KS_HPKE_SK_LEN], pk[KS_HPKE_PK_LEN];
    int r;

    if (!ikm || !ret_sk || !ret_pk) {
        return KS_ERR_INVALID_ARG;
    }
    if (suite.kem_id != KS_HPKE_KEM_X25519_SHA256) {
        return KS_ERR_UNSUPPORTED;
    }
    /* RFC 9180 section 7.1.3: ikm SHOULD be at least Nsk bytes long. */
    if (ikm_len < KS_HPKE_SK_LEN) {
        return KS_ERR_INVALID_ARG;
    }
    if (ikm_len > KS_HPKE_MAX_INPUT) {
        return KS_ERR_TOO_LARGE;
    }
    r = ks_hpke_kdf_fetch(&kdf);
    if (r < 0) {
        goto out;
    }
    /* The DHKEM's own KDF and suite_id, not the ciphersuite's (7.1.3). */
    kem_suite_id(&lk, kdf);
    r = ks_hpke_labeled_extract(&lk, NULL, 0, "dkp_prk", ikm, ikm_len, dkp_prk);
    if (r < 0) {
        goto out;
    }
    r = ks_hpke_labeled_expand(&lk, dkp_prk, "sk", NULL, 0, sk, KS_HPKE_SK_LEN);
    if (r < 0) {
        goto out;
    }
    r = x25519_pub(sk, pk);
    if (r < 0) {
        goto out;
    }
    memcpy(ret_sk, sk, sizeof(sk));
    memcpy(ret_pk, pk, sizeof(pk));
out:
    OPENSSL_cleanse(dkp_prk, sizeof(dkp_prk));
    OPENSSL_cleanse(sk, sizeof(sk));
    EVP_KDF_free(kdf);
    return r;
}
