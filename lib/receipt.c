/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "receipt.h"
#include "tpm_alg.h"

/* The receipt key must be a NIST P-256 EC key: anything else is refused so a
 * client cannot be talked into accepting a weaker or different algorithm. */
static int check_p256(EVP_PKEY *key)
{
    char group[32];
    size_t glen = 0;
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) {
        return KS_ERR_TPM_KEY;
    }
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &glen) != 1) {
        return KS_ERR_TPM_KEY;
    }
    if (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0) {
        return KS_ERR_TPM_KEY;
    }
    return KS_OK;
}

int ks_receipt_sign(EVP_PKEY *key, const uint8_t *payload, size_t len, uint8_t **ret_sig,
                    size_t *ret_sig_len)
{
    if (!key || (!payload && len) || !ret_sig || !ret_sig_len) {
        return KS_ERR_INVALID_ARG;
    }
    int r = check_p256(key);
    if (r < 0) {
        return r;
    }
    r = KS_ERR_CRYPTO;
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) {
        return KS_ERR_NOMEM;
    }
    if (EVP_DigestSignInit(ctx, NULL, ks_alg_md(KS_ALG_SHA256), NULL, key) != 1 ||
        EVP_DigestSign(ctx, NULL, &sig_len, payload, len) != 1) {
        goto out;
    }
    sig = OPENSSL_malloc(sig_len);
    if (!sig) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    if (EVP_DigestSign(ctx, sig, &sig_len, payload, len) != 1) {
        goto out;
    }
    *ret_sig = sig;
    *ret_sig_len = sig_len;
    sig = NULL;
    r = KS_OK;
out:
    OPENSSL_free(sig);
    EVP_MD_CTX_free(ctx);
    return r;
}

int ks_receipt_verify(const uint8_t *spki, size_t spki_len, const uint8_t *payload, size_t len,
                      const uint8_t *sig, size_t sig_len)
{
    if (!spki || !spki_len || (!payload && len) || !sig) {
        return KS_ERR_INVALID_ARG;
    }
    if (sig_len == 0 || sig_len > KS_RECEIPT_SIG_MAX) {
        return KS_ERR_RECEIPT_SIGNATURE;
    }
    int r = KS_ERR_TPM_KEY;
    const unsigned char *p = spki;
    EVP_MD_CTX *ctx = NULL;
    EVP_PKEY *key = d2i_PUBKEY(NULL, &p, (long)spki_len);
    if (!key || p != spki + spki_len) {
        goto out;
    }
    r = check_p256(key);
    if (r < 0) {
        goto out;
    }
    ctx = EVP_MD_CTX_new();
    if (!ctx) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    r = KS_ERR_CRYPTO;
    if (EVP_DigestVerifyInit(ctx, NULL, ks_alg_md(KS_ALG_SHA256), NULL, key) != 1) {
        goto out;
    }
    r = EVP_DigestVerify(ctx, sig, sig_len, payload, len) == 1 ? KS_OK : KS_ERR_RECEIPT_SIGNATURE;
out:
    /* A forged signature leaves errors on OpenSSL's queue: not ours to keep. */
    ERR_clear_error();
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    return r;
}
