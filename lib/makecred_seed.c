/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include "makecred.h"
#include "tpm_public.h"

/*
 * Sharing a seed with the holder of a TPM key's private part (TPM 2.0
 * Part 1, annex B.10.3 for RSA, annex C.6.1 for ECC), as TPM2_MakeCredential,
 * TPM2_Duplicate and salted sessions do; the label tells the uses apart.
 */

/* Longest field element we meet (P-384). */
#define EC_FIELD_MAX 48

static int cred_attr_check(const TPMT_PUBLIC *key)
{
    TPMA_OBJECT a = key->objectAttributes;
    if (!(a & TPMA_OBJECT_RESTRICTED) || !(a & TPMA_OBJECT_DECRYPT) ||
        (a & TPMA_OBJECT_SIGN_ENCRYPT)) {
        return KS_ERR_TPM_ATTRIBUTES;
    }
    return KS_OK;
}

/* The symmetric definition of a storage key (Part 2, 12.2.3.7). */
static const TPMT_SYM_DEF_OBJECT *sym_def(const TPMT_PUBLIC *key)
{
    return key->type == TPM2_ALG_RSA ? &key->parameters.rsaDetail.symmetric
                                     : &key->parameters.eccDetail.symmetric;
}

int ks_cred_check_key(const TPMT_PUBLIC *key)
{
    if (!key) {
        return KS_ERR_INVALID_ARG;
    }
    if (key->type != TPM2_ALG_RSA && key->type != TPM2_ALG_ECC) {
        return KS_ERR_TPM_KEY;
    }
    if (ks_alg_digest_size(key->nameAlg) == 0) {
        return KS_ERR_TPM_ALG;
    }
    EVP_PKEY *pkey = NULL;
    int r = ks_tpm_public_to_evp(key, &pkey);
    EVP_PKEY_free(pkey);
    if (r != KS_OK) {
        return r;
    }
    /* A storage key first (what TPM2_ActivateCredential demands of keyHandle,
     * Part 3, 12.5.1), then its symmetric definition. */
    if ((r = cred_attr_check(key)) != KS_OK) {
        return r;
    }
    const TPMT_SYM_DEF_OBJECT *sym = sym_def(key);
    if (sym->algorithm != TPM2_ALG_AES || sym->mode.aes != TPM2_ALG_CFB ||
        (sym->keyBits.aes != 128 && sym->keyBits.aes != 192 && sym->keyBits.aes != 256)) {
        return KS_ERR_TPM_KEY;
    }
    return KS_OK;
}

/* RSA-OAEP with nameAlg for the hash and MGF1, the label including its NUL
 * as OAEP label (Part 1, annex B.10.3). */
static int rsa_oaep(EVP_PKEY *pkey, bool encrypt, uint16_t name_alg, const char *label,
                    const uint8_t *in, size_t in_len, uint8_t *out, size_t *out_len)
{
    const EVP_MD *md = ks_alg_md(name_alg);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    size_t lab_len = strlen(label) + 1;
    void *lab = OPENSSL_memdup(label, lab_len);
    int r = KS_ERR_CRYPTO;
    if (!ctx || !lab) {
        goto out;
    }
    if ((encrypt ? EVP_PKEY_encrypt_init(ctx) : EVP_PKEY_decrypt_init(ctx)) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) != 1 || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) != 1 ||
        EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, lab, (int)lab_len) != 1) {
        goto out;
    }
    lab = NULL; /* owned by ctx */
    if (encrypt) {
        r = EVP_PKEY_encrypt(ctx, out, out_len, in, in_len) == 1 ? KS_OK : KS_ERR_CRYPTO;
    } else {
        r = EVP_PKEY_decrypt(ctx, out, out_len, in, in_len) == 1 ? KS_OK : KS_ERR_CRED_MALFORMED;
    }
out:
    OPENSSL_free(lab);
    EVP_PKEY_CTX_free(ctx);
    return r;
}

static const char *curve_name(uint16_t curve, size_t *ret_size)
{
    switch (curve) {
    case TPM2_ECC_NIST_P256:
        *ret_size = 32;
        return "P-256";
    case TPM2_ECC_NIST_P384:
        *ret_size = 48;
        return "P-384";
    default:
        return NULL;
    }
}

/* An EC public key from its affine coordinates, checked to be on the curve
 * (an invalid point would leak the private key through ECDH). */
static int ec_point_key(const char *group, const uint8_t *x, const uint8_t *y, size_t fsize,
                        EVP_PKEY **ret)
{
    uint8_t point[1 + 2 * EC_FIELD_MAX];
    char group_name[16];
    snprintf(group_name, sizeof(group_name), "%s", group);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY_CTX *chk = NULL;
    EVP_PKEY *pkey = NULL;
    point[0] = 0x04;
    memcpy(point + 1, x, fsize);
    memcpy(point + 1 + fsize, y, fsize);
    OSSL_PARAM params[3] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group_name, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * fsize),
        OSSL_PARAM_construct_end(),
    };
    int r = KS_ERR_CRED_MALFORMED;
    if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        goto out;
    }
    chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (!chk || EVP_PKEY_public_check(chk) != 1) {
        goto out;
    }
    *ret = pkey;
    pkey = NULL;
    r = KS_OK;
out:
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(chk);
    EVP_PKEY_CTX_free(ctx);
    return r;
}

/* Z = x-coordinate of the shared point, fsize bytes (SP 800-56A 5.7.1.2). */
static int ecdh(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t *z, size_t fsize)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
    size_t len = fsize;
    int r = KS_ERR_CRYPTO;
    if (ctx && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, peer) == 1 &&
        EVP_PKEY_derive(ctx, z, &len) == 1 && len == fsize) {
        r = KS_OK;
    }
    EVP_PKEY_CTX_free(ctx);
    return r;
}

static int ec_coords(EVP_PKEY *pkey, uint8_t *x, uint8_t *y, size_t fsize)
{
    BIGNUM *bx = NULL, *by = NULL;
    int r = KS_ERR_CRYPTO;
    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &bx) == 1 &&
        EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &by) == 1 &&
        BN_bn2binpad(bx, x, (int)fsize) == (int)fsize &&
        BN_bn2binpad(by, y, (int)fsize) == (int)fsize) {
        r = KS_OK;
    }
    BN_free(bx);
    BN_free(by);
    return r;
}

/* seed = KDFe(nameAlg, Z, label, ephemeral x, key's x, digest bits)
 * (Part 1, annex C.6.1); the key's x as its public area holds it. */
static int ecc_seed(const TPMT_PUBLIC *key, const uint8_t *z, size_t fsize, const char *label,
                    const uint8_t *eph_x, uint8_t *seed, size_t *seed_len)
{
    size_t dlen = ks_alg_digest_size(key->nameAlg);
    const TPM2B_ECC_PARAMETER *kx = &key->unique.ecc.x;
    int r = ks_kdfe(key->nameAlg, z, fsize, label, eph_x, fsize, kx->buffer, kx->size,
                    (uint32_t)(8 * dlen), seed);
    if (r == KS_OK) {
        *seed_len = dlen;
    }
    return r;
}

int ks_cred_seed_encaps(const TPMT_PUBLIC *key, const char *label, EVP_PKEY *ephemeral,
                        uint8_t *ret_seed, size_t *ret_seed_len, TPM2B_ENCRYPTED_SECRET *ret_enc)
{
    uint8_t seed[KS_CRED_SEED_MAX], z[EC_FIELD_MAX], ex[EC_FIELD_MAX], ey[EC_FIELD_MAX];
    EVP_PKEY *pkey = NULL, *eph = NULL;
    size_t seed_len = 0, fsize = 0;
    TPM2B_ENCRYPTED_SECRET enc;
    if (!key || !label || !ret_seed || !ret_seed_len || !ret_enc) {
        return KS_ERR_INVALID_ARG;
    }
    size_t dlen = ks_alg_digest_size(key->nameAlg);
    if (dlen == 0) {
        return KS_ERR_TPM_ALG;
    }
    int r = ks_tpm_public_to_evp(key, &pkey);
    if (r != KS_OK) {
        return r;
    }
    memset(&enc, 0, sizeof(enc));
    if (key->type == TPM2_ALG_RSA) {
        if (ephemeral) {
            r = KS_ERR_INVALID_ARG;
            goto out;
        }
        size_t out_len = sizeof(enc.secret);
        seed_len = dlen;
        if (RAND_priv_bytes(seed, (int)seed_len) != 1) {
            r = KS_ERR_CRYPTO;
            goto out;
        }
        r = rsa_oaep(pkey, true, key->nameAlg, label, seed, seed_len, enc.secret, &out_len);
        if (r != KS_OK) {
            goto out;
        }
        enc.size = (UINT16)out_len;
    } else {
        const char *group = curve_name(key->parameters.eccDetail.curveID, &fsize);
        size_t off = 0;
        if (!group) {
            r = KS_ERR_TPM_KEY;
            goto out;
        }
        if (ephemeral) {
            eph = ephemeral;
            EVP_PKEY_up_ref(eph);
        } else if (!(eph = EVP_PKEY_Q_keygen(NULL, NULL, "EC", group))) {
            r = KS_ERR_CRYPTO;
            goto out;
        }
        TPMS_ECC_POINT pt;
        memset(&pt, 0, sizeof(pt));
        if ((r = ec_coords(eph, ex, ey, fsize)) != KS_OK ||
            (r = ecdh(eph, pkey, z, fsize)) != KS_OK ||
            (r = ecc_seed(key, z, fsize, label, ex, seed, &seed_len)) != KS_OK) {
            goto out;
        }
        pt.x.size = (UINT16)fsize;
        memcpy(pt.x.buffer, ex, fsize);
        pt.y.size = (UINT16)fsize;
        memcpy(pt.y.buffer, ey, fsize);
        if (Tss2_MU_TPMS_ECC_POINT_Marshal(&pt, enc.secret, sizeof(enc.secret), &off) !=
            TSS2_RC_SUCCESS) {
            r = KS_ERR_INTERNAL;
            goto out;
        }
        enc.size = (UINT16)off;
    }
    memcpy(ret_seed, seed, seed_len);
    *ret_seed_len = seed_len;
    *ret_enc = enc;
    r = KS_OK;
out:
    OPENSSL_cleanse(seed, sizeof(seed));
    OPENSSL_cleanse(z, sizeof(z));
    EVP_PKEY_free(eph);
    EVP_PKEY_free(pkey);
    return r;
}

int ks_cred_seed_decaps(const TPMT_PUBLIC *key, EVP_PKEY *priv, const char *label,
                        const TPM2B_ENCRYPTED_SECRET *enc, uint8_t *ret_seed, size_t *ret_seed_len)
{
    uint8_t seed[512], z[EC_FIELD_MAX];
    EVP_PKEY *pkey = NULL, *eph = NULL;
    size_t seed_len = sizeof(seed), fsize = 0;
    if (!key || !priv || !label || !enc || !ret_seed || !ret_seed_len ||
        enc->size > sizeof(enc->secret)) {
        return KS_ERR_INVALID_ARG;
    }
    size_t dlen = ks_alg_digest_size(key->nameAlg);
    if (dlen == 0) {
        return KS_ERR_TPM_ALG;
    }
    int r = ks_tpm_public_to_evp(key, &pkey);
    if (r != KS_OK) {
        return r;
    }
    if (key->type == TPM2_ALG_RSA) {
        r = rsa_oaep(priv, false, key->nameAlg, label, enc->secret, enc->size, seed, &seed_len);
        /* The seed is a digest of nameAlg (Part 1, annex B.10.3). */
        if (r == KS_OK && seed_len != dlen) {
            r = KS_ERR_CRED_MALFORMED;
        }
    } else {
        TPMS_ECC_POINT pt;
        size_t off = 0;
        const char *group = curve_name(key->parameters.eccDetail.curveID, &fsize);
        if (!group) {
            r = KS_ERR_TPM_KEY;
            goto out;
        }
        if (Tss2_MU_TPMS_ECC_POINT_Unmarshal(enc->secret, enc->size, &off, &pt) !=
                TSS2_RC_SUCCESS ||
            off != enc->size || pt.x.size != fsize || pt.y.size != fsize) {
            r = KS_ERR_CRED_MALFORMED;
            goto out;
        }
        if ((r = ec_point_key(group, pt.x.buffer, pt.y.buffer, fsize, &eph)) != KS_OK ||
            (r = ecdh(priv, eph, z, fsize)) != KS_OK ||
            (r = ecc_seed(key, z, fsize, label, pt.x.buffer, seed, &seed_len)) != KS_OK) {
            goto out;
        }
    }
    if (r == KS_OK) {
        memcpy(ret_seed, seed, seed_len);
        *ret_seed_len = seed_len;
    }
out:
    OPENSSL_cleanse(seed, sizeof(seed));
    OPENSSL_cleanse(z, sizeof(z));
    EVP_PKEY_free(eph);
    EVP_PKEY_free(pkey);
    return r;
}
