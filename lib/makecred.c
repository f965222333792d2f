/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <tss2/tss2_mu.h>

#include "makecred.h"

/* Credential protection (TPM 2.0 Part 1, 24.4 "Symmetric Encryption" and
 * 24.5 "HMAC"), TPM2_MakeCredential (Part 3, 12.6) and its inverse. */

static const TPMT_SYM_DEF_OBJECT *ek_sym(const TPMT_PUBLIC *ek)
{
    return ek->type == TPM2_ALG_RSA ? &ek->parameters.rsaDetail.symmetric
                                    : &ek->parameters.eccDetail.symmetric;
}

static const EVP_CIPHER *aes_cfb(uint16_t bits)
{
    switch (bits) {
    case 128:
        return EVP_aes_128_cfb128();
    case 192:
        return EVP_aes_192_cfb128();
    case 256:
        return EVP_aes_256_cfb128();
    default:
        return NULL;
    }
}

/* AES-CFB with a zero IV (Part 1, 24.4: the key is used once). */
static int cfb(const EVP_CIPHER *cipher, const uint8_t *key, bool enc, const uint8_t *in,
               size_t len, uint8_t *out)
{
    static const uint8_t iv[16] = {0};
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0;
    int r = KS_ERR_CRYPTO;
    if (ctx && EVP_CipherInit_ex(ctx, cipher, NULL, key, iv, enc ? 1 : 0) == 1 &&
        EVP_CipherUpdate(ctx, out, &n, in, (int)len) == 1 &&
        EVP_CipherFinal_ex(ctx, out + n, &fin) == 1 && (size_t)(n + fin) == len) {
        r = KS_OK;
    }
    EVP_CIPHER_CTX_free(ctx);
    return r;
}

static int hmac(uint16_t alg, const uint8_t *key, size_t key_len, const uint8_t *a, size_t alen,
                const uint8_t *b, size_t blen, uint8_t *out)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    char md_name[32];
    snprintf(md_name, sizeof(md_name), "%s", EVP_MD_get0_name(ks_alg_md(alg)));
    OSSL_PARAM params[2] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, md_name, 0),
        OSSL_PARAM_construct_end(),
    };
    size_t n = 0;
    int r = KS_ERR_CRYPTO;
    if (ctx && EVP_MAC_init(ctx, key, key_len, params) == 1 && EVP_MAC_update(ctx, a, alen) == 1 &&
        EVP_MAC_update(ctx, b, blen) == 1 && EVP_MAC_final(ctx, out, &n, KS_MAX_DIGEST) == 1 &&
        n == ks_alg_digest_size(alg)) {
        r = KS_OK;
    }
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return r;
}

/* The keys of one credential: symKey (STORAGE, bound to the Name) and
 * HMACkey (INTEGRITY). */
struct cred_keys {
    const EVP_CIPHER *cipher;
    uint8_t sym[32];
    uint8_t mac[KS_MAX_DIGEST];
    size_t dlen;
};

static int derive(const TPMT_PUBLIC *ek, const uint8_t *name, size_t name_len, const uint8_t *seed,
                  size_t seed_len, struct cred_keys *k)
{
    const TPMT_SYM_DEF_OBJECT *sym = ek_sym(ek);
    k->dlen = ks_alg_digest_size(ek->nameAlg);
    if (k->dlen == 0) {
        return KS_ERR_TPM_ALG;
    }
    if (sym->algorithm != TPM2_ALG_AES || sym->mode.aes != TPM2_ALG_CFB ||
        !(k->cipher = aes_cfb(sym->keyBits.aes))) {
        return KS_ERR_TPM_KEY;
    }
    if (!name || name_len == 0 || name_len > sizeof(TPMU_NAME) || !seed || seed_len == 0 ||
        seed_len > KS_CRED_SEED_MAX) {
        return KS_ERR_INVALID_ARG;
    }
    int r = ks_kdfa(ek->nameAlg, seed, seed_len, "STORAGE", name, name_len, NULL, 0,
                    sym->keyBits.aes, k->sym);
    if (r == KS_OK) {
        r = ks_kdfa(ek->nameAlg, seed, seed_len, "INTEGRITY", NULL, 0, NULL, 0,
                    (uint32_t)(8 * k->dlen), k->mac);
    }
    return r;
}

static void keys_wipe(struct cred_keys *k)
{
    OPENSSL_cleanse(k, sizeof(*k));
}

int ks_cred_wrap(const TPMT_PUBLIC *ek, const uint8_t *name, size_t name_len, const uint8_t *secret,
                 size_t secret_len, const uint8_t *seed, size_t seed_len, TPM2B_ID_OBJECT *ret_blob)
{
    struct cred_keys k;
    uint8_t plain[sizeof(TPM2B_DIGEST)], enc_id[sizeof(TPM2B_DIGEST)];
    uint8_t outer[KS_MAX_DIGEST];
    TPM2B_ID_OBJECT blob;
    TPM2B_DIGEST cred, integrity;
    size_t plain_len = 0, off = 0;
    if (!ek || !secret || !ret_blob) {
        return KS_ERR_INVALID_ARG;
    }
    memset(&k, 0, sizeof(k));
    int r = derive(ek, name, name_len, seed, seed_len, &k);
    if (r != KS_OK) {
        goto out;
    }
    /* Part 3, 12.6.1: the credential is at most a digest of nameAlg. */
    if (secret_len == 0 || secret_len > k.dlen) {
        r = KS_ERR_INVALID_ARG;
        goto out;
    }
    cred.size = (UINT16)secret_len;
    memcpy(cred.buffer, secret, secret_len);
    /* encIdentity = CFB(symKey, marshaled TPM2B_DIGEST credential). */
    if (Tss2_MU_TPM2B_DIGEST_Marshal(&cred, plain, sizeof(plain), &plain_len) != TSS2_RC_SUCCESS ||
        (r = cfb(k.cipher, k.sym, true, plain, plain_len, enc_id)) != KS_OK) {
        r = r == KS_OK ? KS_ERR_INTERNAL : r;
        goto out;
    }
    /* outerHMAC = HMAC(HMACkey, encIdentity || Name) (Part 1, 24.5). */
    if ((r = hmac(ek->nameAlg, k.mac, k.dlen, enc_id, plain_len, name, name_len, outer)) != KS_OK) {
        goto out;
    }
    integrity.size = (UINT16)k.dlen;
    memcpy(integrity.buffer, outer, k.dlen);
    memset(&blob, 0, sizeof(blob));
    if (Tss2_MU_TPM2B_DIGEST_Marshal(&integrity, blob.credential, sizeof(blob.credential), &off) !=
            TSS2_RC_SUCCESS ||
        off + plain_len > sizeof(blob.credential)) {
        r = KS_ERR_INTERNAL;
        goto out;
    }
    memcpy(blob.credential + off, enc_id, plain_len);
    blob.size = (UINT16)(off + plain_len);
    *ret_blob = blob;
    r = KS_OK;
out:
    keys_wipe(&k);
    OPENSSL_cleanse(plain, sizeof(plain));
    OPENSSL_cleanse(&cred, sizeof(cred));
    return r;
}

int ks_cred_unwrap(const TPMT_PUBLIC *ek, const uint8_t *name, size_t name_len,
                   const TPM2B_ID_OBJECT *blob, const uint8_t *seed, size_t seed_len,
                   uint8_t *ret_secret, size_t *ret_secret_len)
{
    struct cred_keys k;
    uint8_t plain[sizeof(TPM2B_DIGEST)], outer[KS_MAX_DIGEST];
    TPM2B_DIGEST integrity, cred;
    size_t off = 0, poff = 0;
    if (!ek || !blob || !ret_secret || !ret_secret_len || blob->size > sizeof(blob->credential)) {
        return KS_ERR_INVALID_ARG;
    }
    memset(&k, 0, sizeof(k));
    memset(&cred, 0, sizeof(cred));
    int r = derive(ek, name, name_len, seed, seed_len, &k);
    if (r != KS_OK) {
        goto out;
    }
    if (Tss2_MU_TPM2B_DIGEST_Unmarshal(blob->credential, blob->size, &off, &integrity) !=
            TSS2_RC_SUCCESS ||
        integrity.size != k.dlen || blob->size - off < 2 || blob->size - off > sizeof(plain)) {
        r = KS_ERR_CRED_MALFORMED;
        goto out;
    }
    const uint8_t *enc_id = blob->credential + off;
    size_t enc_len = blob->size - off;
    /* Verify before decrypting (Part 3, 12.5.2: TPM_RC_INTEGRITY). */
    if ((r = hmac(ek->nameAlg, k.mac, k.dlen, enc_id, enc_len, name, name_len, outer)) != KS_OK) {
        goto out;
    }
    if (CRYPTO_memcmp(outer, integrity.buffer, k.dlen) != 0) {
        r = KS_ERR_CRED_INTEGRITY;
        goto out;
    }
    if ((r = cfb(k.cipher, k.sym, false, enc_id, enc_len, plain)) != KS_OK) {
        goto out;
    }
    if (Tss2_MU_TPM2B_DIGEST_Unmarshal(plain, enc_len, &poff, &cred) != TSS2_RC_SUCCESS ||
        poff != enc_len || cred.size == 0 || cred.size > k.dlen) {
        r = KS_ERR_CRED_MALFORMED;
        goto out;
    }
    memcpy(ret_secret, cred.buffer, cred.size);
    *ret_secret_len = cred.size;
    r = KS_OK;
out:
    keys_wipe(&k);
    OPENSSL_cleanse(plain, sizeof(plain));
    OPENSSL_cleanse(&cred, sizeof(cred));
    return r;
}

int ks_makecredential(const TPMT_PUBLIC *ek, const uint8_t *name, size_t name_len,
                      const uint8_t *secret, size_t secret_len, TPM2B_ID_OBJECT *ret_blob,
                      TPM2B_ENCRYPTED_SECRET *ret_enc)
{
    uint8_t seed[KS_CRED_SEED_MAX];
    size_t seed_len = 0;
    TPM2B_ID_OBJECT blob;
    TPM2B_ENCRYPTED_SECRET enc;
    if (!ek || !ret_blob || !ret_enc) {
        return KS_ERR_INVALID_ARG;
    }
    int r = ks_cred_check_key(ek);
    if (r == KS_OK) {
        r = ks_cred_seed_encaps(ek, KS_CRED_LABEL_IDENTITY, NULL, seed, &seed_len, &enc);
    }
    if (r == KS_OK) {
        r = ks_cred_wrap(ek, name, name_len, secret, secret_len, seed, seed_len, &blob);
    }
    OPENSSL_cleanse(seed, sizeof(seed));
    if (r == KS_OK) {
        *ret_blob = blob;
        *ret_enc = enc;
    }
    return r;
}

int ks_activatecredential_soft(const TPMT_PUBLIC *ek, EVP_PKEY *ek_priv, const uint8_t *name,
                               size_t name_len, const TPM2B_ID_OBJECT *blob,
                               const TPM2B_ENCRYPTED_SECRET *enc, uint8_t *ret_secret,
                               size_t *ret_secret_len)
{
    uint8_t seed[KS_CRED_SEED_MAX];
    size_t seed_len = 0;
    int r = ks_cred_check_key(ek);
    if (r == KS_OK) {
        r = ks_cred_seed_decaps(ek, ek_priv, KS_CRED_LABEL_IDENTITY, enc, seed, &seed_len);
    }
    if (r == KS_OK) {
        r = ks_cred_unwrap(ek, name, name_len, blob, seed, seed_len, ret_secret, ret_secret_len);
    }
    OPENSSL_cleanse(seed, sizeof(seed));
    return r;
}

int ks_cred_blob_decode(const uint8_t *buf, size_t len, TPM2B_ID_OBJECT *ret)
{
    TPM2B_ID_OBJECT v;
    size_t off = 0;
    if (!buf || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(buf, len, &off, &v) != TSS2_RC_SUCCESS) {
        return KS_ERR_TPM_UNMARSHAL;
    }
    if (off != len) {
        return KS_ERR_TPM_TRAILING;
    }
    *ret = v;
    return KS_OK;
}

int ks_cred_secret_decode(const uint8_t *buf, size_t len, TPM2B_ENCRYPTED_SECRET *ret)
{
    TPM2B_ENCRYPTED_SECRET v;
    size_t off = 0;
    if (!buf || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(buf, len, &off, &v) != TSS2_RC_SUCCESS) {
        return KS_ERR_TPM_UNMARSHAL;
    }
    if (off != len) {
        return KS_ERR_TPM_TRAILING;
    }
    *ret = v;
    return KS_OK;
}

int ks_cred_blob_encode(const TPM2B_ID_OBJECT *blob, uint8_t **ret, size_t *ret_len)
{
    size_t off = 0;
    if (!blob || !ret || !ret_len || blob->size > sizeof(blob->credential)) {
        return KS_ERR_INVALID_ARG;
    }
    uint8_t *buf = malloc(sizeof(*blob));
    if (!buf) {
        return KS_ERR_NOMEM;
    }
    if (Tss2_MU_TPM2B_ID_OBJECT_Marshal(blob, buf, sizeof(*blob), &off) != TSS2_RC_SUCCESS) {
        free(buf);
        return KS_ERR_INTERNAL;
    }
    *ret = buf;
    *ret_len = off;
    return KS_OK;
}

int ks_cred_secret_encode(const TPM2B_ENCRYPTED_SECRET *enc, uint8_t **ret, size_t *ret_len)
{
    size_t off = 0;
    if (!enc || !ret || !ret_len || enc->size > sizeof(enc->secret)) {
        return KS_ERR_INVALID_ARG;
    }
    uint8_t *buf = malloc(sizeof(*enc));
    if (!buf) {
        return KS_ERR_NOMEM;
    }
    if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal(enc, buf, sizeof(*enc), &off) != TSS2_RC_SUCCESS) {
        free(buf);
        return KS_ERR_INTERNAL;
    }
    *ret = buf;
    *ret_len = off;
    return KS_OK;
}

int ks_cred_file_decode(const uint8_t *buf, size_t len, TPM2B_ID_OBJECT *ret_blob,
                        TPM2B_ENCRYPTED_SECRET *ret_enc)
{
    TPM2B_ID_OBJECT blob;
    TPM2B_ENCRYPTED_SECRET enc;
    size_t off = 0;
    UINT32 magic = 0, version = 0;
    if (!buf || !ret_blob || !ret_enc) {
        return KS_ERR_INVALID_ARG;
    }
    if (Tss2_MU_UINT32_Unmarshal(buf, len, &off, &magic) != TSS2_RC_SUCCESS ||
        Tss2_MU_UINT32_Unmarshal(buf, len, &off, &version) != TSS2_RC_SUCCESS) {
        return KS_ERR_TPM_UNMARSHAL;
    }
    if (magic != KS_CRED_FILE_MAGIC || version != KS_CRED_FILE_VERSION) {
        return KS_ERR_CRED_MALFORMED;
    }
    if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(buf, len, &off, &blob) != TSS2_RC_SUCCESS ||
        Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(buf, len, &off, &enc) != TSS2_RC_SUCCESS) {
        return KS_ERR_TPM_UNMARSHAL;
    }
    if (off != len) {
        return KS_ERR_TPM_TRAILING;
    }
    *ret_blob = blob;
    *ret_enc = enc;
    return KS_OK;
}

int ks_cred_file_encode(const TPM2B_ID_OBJECT *blob, const TPM2B_ENCRYPTED_SECRET *enc,
                        uint8_t **ret, size_t *ret_len)
{
    size_t off = 0, cap = 8 + sizeof(*blob) + sizeof(*enc);
    if (!blob || !enc || !ret || !ret_len || blob->size > sizeof(blob->credential) ||
        enc->size > sizeof(enc->secret)) {
        return KS_ERR_INVALID_ARG;
    }
    uint8_t *buf = malloc(cap);
    if (!buf) {
        return KS_ERR_NOMEM;
    }
    if (Tss2_MU_UINT32_Marshal(KS_CRED_FILE_MAGIC, buf, cap, &off) != TSS2_RC_SUCCESS ||
        Tss2_MU_UINT32_Marshal(KS_CRED_FILE_VERSION, buf, cap, &off) != TSS2_RC_SUCCESS ||
        Tss2_MU_TPM2B_ID_OBJECT_Marshal(blob, buf, cap, &off) != TSS2_RC_SUCCESS ||
        Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal(enc, buf, cap, &off) != TSS2_RC_SUCCESS) {
        free(buf);
        return KS_ERR_INTERNAL;
    }
    *ret = buf;
    *ret_len = off;
    return KS_OK;
}
