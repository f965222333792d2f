/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/*
 * SOFTWARE ATTESTATION KEY, BENCHMARK ONLY, NOT A TPM (see soft_ak.h).
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include "soft_ak.h"
#include "tpm_alg.h"
#include "tpm_attest.h"
#include "tpm_public.h"

/* An arbitrary firmwareVersion, recognisable in audit records. */
#define SOFT_AK_FIRMWARE_VERSION 0x6b7362656e636821ull /* "ksbench!" */

struct ks_soft_ak {
    enum ks_soft_ak_kind kind;
    EVP_PKEY *key; /* private: signs */
    TPMT_PUBLIC pub;
    TPM2B_NAME name;
    struct timespec born; /* clockInfo.clock counts from here */
};

const char *ks_soft_ak_kind_name(enum ks_soft_ak_kind kind)
{
    switch (kind) {
    case KS_SOFT_AK_ECDSA_P256:
        return "ecdsa-p256";
    case KS_SOFT_AK_RSA_2048:
        return "rsa-2048";
    default:
        return NULL;
    }
}

/* An unsigned big-endian integer parameter of the key, left-padded to
 * exactly `size` bytes (TPM2B_ECC_PARAMETER / TPM2B_PUBLIC_KEY_RSA hold the
 * field or modulus length, Part 2, 11.2.5.1 / 11.2.4.5). */
static int get_bn_param(const EVP_PKEY *key, const char *param, uint8_t *out, size_t size)
{
    BIGNUM *bn = NULL;
    if (EVP_PKEY_get_bn_param(key, param, &bn) != 1) {
        return KS_ERR_CRYPTO;
    }
    int ok = BN_bn2binpad(bn, out, (int)size) == (int)size;
    BN_free(bn);
    return ok ? KS_OK : KS_ERR_CRYPTO;
}

/* The public area of a restricted signing key (Part 2, 12.2.4 TPMT_PUBLIC),
 * the attributes tpm2_createak gives an AK. */
static int make_public(struct ks_soft_ak *ak)
{
    TPMT_PUBLIC *p = &ak->pub;
    memset(p, 0, sizeof(*p));
    p->nameAlg = TPM2_ALG_SHA256;
    p->objectAttributes = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_FIXEDTPM |
                          TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                          TPMA_OBJECT_USERWITHAUTH;
    if (ak->kind == KS_SOFT_AK_ECDSA_P256) {
        TPMS_ECC_PARMS *e = &p->parameters.eccDetail;
        p->type = TPM2_ALG_ECC;
        e->symmetric.algorithm = TPM2_ALG_NULL;
        e->scheme.scheme = TPM2_ALG_ECDSA;
        e->scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
        e->curveID = TPM2_ECC_NIST_P256;
        e->kdf.scheme = TPM2_ALG_NULL;
        p->unique.ecc.x.size = 32;
        p->unique.ecc.y.size = 32;
        int r = get_bn_param(ak->key, OSSL_PKEY_PARAM_EC_PUB_X, p->unique.ecc.x.buffer, 32);
        return r < 0 ? r
                     : get_bn_param(ak->key, OSSL_PKEY_PARAM_EC_PUB_Y, p->unique.ecc.y.buffer, 32);
    }
    TPMS_RSA_PARMS *rp = &p->parameters.rsaDetail;
    p->type = TPM2_ALG_RSA;
    rp->symmetric.algorithm = TPM2_ALG_NULL;
    rp->scheme.scheme = TPM2_ALG_RSASSA;
    rp->scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
    rp->keyBits = 2048;
    rp->exponent = 0; /* the default, 65537 (Part 2, 12.2.3.5) */
    p->unique.rsa.size = 256;
    return get_bn_param(ak->key, OSSL_PKEY_PARAM_RSA_N, p->unique.rsa.buffer, 256);
}

int ks_soft_ak_new(enum ks_soft_ak_kind kind, struct ks_soft_ak **ret_ak)
{
    if (!ret_ak || !ks_soft_ak_kind_name(kind)) {
        return KS_ERR_INVALID_ARG;
    }
    int r;
    size_t name_len = 0;
    struct ks_soft_ak *ak = calloc(1, sizeof(*ak));
    if (!ak) {
        return KS_ERR_NOMEM;
    }
    ak->kind = kind;
    ak->key = kind == KS_SOFT_AK_ECDSA_P256 ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
                                            : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    if (!ak->key) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    r = make_public(ak);
    if (r < 0) {
        goto out;
    }
    r = ks_tpm_public_name(&ak->pub, ak->name.name, &name_len);
    if (r < 0) {
        goto out;
    }
    ak->name.size = (uint16_t)name_len;
    clock_gettime(CLOCK_MONOTONIC, &ak->born);
    *ret_ak = ak;
    ak = NULL;
    r = KS_OK;
out:
    if (r < 0) {
        ERR_clear_error();
    }
    ks_soft_ak_free(ak);
    return r;
}

void ks_soft_ak_free(struct ks_soft_ak *ak)
{
    if (!ak) {
        return;
    }
    EVP_PKEY_free(ak->key);
    free(ak);
}

enum ks_soft_ak_kind ks_soft_ak_kind(const struct ks_soft_ak *ak)
{
    return ak ? ak->kind : (enum ks_soft_ak_kind)0;
}

const TPMT_PUBLIC *ks_soft_ak_public(const struct ks_soft_ak *ak)
{
    return ak ? &ak->pub : NULL;
}

int ks_soft_ak_public_blob(const struct ks_soft_ak *ak, uint8_t *buf, size_t size, size_t *ret_len)
{
    if (!ak || !buf || !ret_len) {
        return KS_ERR_INVALID_ARG;
    }
    TPM2B_PUBLIC p2b = {.size = 0, .publicArea = ak->pub}; /* size 0: MU computes it */
    size_t off = 0;
    if (Tss2_MU_TPM2B_PUBLIC_Marshal(&p2b, buf, size, &off) != TSS2_RC_SUCCESS) {
        return KS_ERR_TOO_LARGE;
    }
    *ret_len = off;
    return KS_OK;
}

int ks_soft_ak_name_hex(const struct ks_soft_ak *ak, char ret_hex[KS_TPM_NAME_HEX_MAX])
{
    if (!ak || !ret_hex) {
        return KS_ERR_INVALID_ARG;
    }
    return ks_tpm_public_name_hex(&ak->pub, ret_hex);
}

/* Milliseconds since the key was made: TPMS_CLOCK_INFO.clock counts
 * milliseconds (Part 2, 10.11.1) and never goes back within a reset. */
static uint64_t clock_ms(const struct ks_soft_ak *ak)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t ms =
        (int64_t)(now.tv_sec - ak->born.tv_sec) * 1000 + (now.tv_nsec - ak->born.tv_nsec) / 1000000;
    return ms > 0 ? (uint64_t)ms : 0;
}

/* Sign SHA-256(msg) as the TPM does for the AK's scheme and fill the
 * TPMT_SIGNATURE (Part 2, 11.3.4): RSASSA carries the raw PKCS#1 v1.5
 * signature; ECDSA carries r and s, taken out of OpenSSL's DER. */
static int sign(const struct ks_soft_ak *ak, const uint8_t *msg, size_t len, TPMT_SIGNATURE *sig)
{
    int r = KS_ERR_CRYPTO;
    uint8_t raw[512];
    size_t raw_len = sizeof(raw);
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    ECDSA_SIG *es = NULL;
    if (!mctx) {
        return KS_ERR_NOMEM;
    }
    if (EVP_DigestSignInit_ex(mctx, NULL, "SHA256", NULL, NULL, ak->key, NULL) != 1 ||
        EVP_DigestSign(mctx, raw, &raw_len, msg, len) != 1) {
        goto out;
    }
    memset(sig, 0, sizeof(*sig));
    if (ak->kind == KS_SOFT_AK_RSA_2048) {
        if (raw_len != 256) {
            goto out;
        }
        sig->sigAlg = TPM2_ALG_RSASSA;
        sig->signature.rsassa.hash = TPM2_ALG_SHA256;
        sig->signature.rsassa.sig.size = (uint16_t)raw_len;
        memcpy(sig->signature.rsassa.sig.buffer, raw, raw_len);
        r = KS_OK;
        goto out;
    }
    const unsigned char *p = raw;
    es = d2i_ECDSA_SIG(NULL, &p, (long)raw_len);
    if (!es) {
        goto out;
    }
    sig->sigAlg = TPM2_ALG_ECDSA;
    sig->signature.ecdsa.hash = TPM2_ALG_SHA256;
    sig->signature.ecdsa.signatureR.size = 32;
    sig->signature.ecdsa.signatureS.size = 32;
    if (BN_bn2binpad(ECDSA_SIG_get0_r(es), sig->signature.ecdsa.signatureR.buffer, 32) != 32 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(es), sig->signature.ecdsa.signatureS.buffer, 32) != 32) {
        goto out;
    }
    r = KS_OK;
out:
    if (r < 0) {
        ERR_clear_error();
    }
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(mctx);
    return r;
}

int ks_soft_ak_quote(const struct ks_soft_ak *ak, const uint8_t *extra, size_t extra_len,
                     const TPML_PCR_SELECTION *sel, const struct ks_pcr_set *pcrs,
                     struct ks_soft_quote *ret)
{
    if (!ak || (!extra && extra_len) || !sel || !pcrs || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    TPMS_ATTEST a;
    if (extra_len > sizeof(a.extraData.buffer)) {
        return KS_ERR_TOO_LARGE;
    }
    memset(&a, 0, sizeof(a));
    a.magic = TPM2_GENERATED_VALUE;
    a.type = TPM2_ST_ATTEST_QUOTE;
    a.qualifiedSigner = ak->name;
    a.extraData.size = (uint16_t)extra_len;
    if (extra_len) {
        memcpy(a.extraData.buffer, extra, extra_len);
    }
    a.clockInfo.clock = clock_ms(ak);
    a.clockInfo.safe = TPM2_YES;
    a.firmwareVersion = SOFT_AK_FIRMWARE_VERSION;
    a.attested.quote.pcrSelect = *sel;
    size_t dlen = 0;
    int r =
        ks_quote_pcr_digest(sel, pcrs, TPM2_ALG_SHA256, a.attested.quote.pcrDigest.buffer, &dlen);
    if (r < 0) {
        return r;
    }
    a.attested.quote.pcrDigest.size = (uint16_t)dlen;

    struct ks_soft_quote q;
    size_t off = 0;
    if (Tss2_MU_TPMS_ATTEST_Marshal(&a, q.attest, sizeof(q.attest), &off) != TSS2_RC_SUCCESS) {
        return KS_ERR_TOO_LARGE;
    }
    q.attest_len = off;
    TPMT_SIGNATURE sig;
    r = sign(ak, q.attest, q.attest_len, &sig);
    if (r < 0) {
        return r;
    }
    off = 0;
    if (Tss2_MU_TPMT_SIGNATURE_Marshal(&sig, q.sig, sizeof(q.sig), &off) != TSS2_RC_SUCCESS) {
        return KS_ERR_TOO_LARGE;
    }
    q.sig_len = off;
    memcpy(ret, &q, sizeof(q));
    return KS_OK;
}
