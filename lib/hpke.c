/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "hpke.h"
#include "hpke_kem.h"

/*
 * RFC 9180 contexts on OpenSSL 3.0: the key schedule (section 5.1), Seal and
 * Open with AES-GCM through EVP_CIPHER (5.2) and the secret export (5.3). The
 * KEM and the labeled KDF are in hpke_kem.c.
 */

#define NN_GCM 12 /* Nn of both AES-GCM AEADs */
#define MAX_NK 32

struct ks_hpke_ctx {
    struct ks_hpke_suite suite;
    bool sender;
    size_t nk;
    size_t nn;
    uint8_t key[MAX_NK];
    uint8_t base_nonce[NN_GCM];
    uint8_t exporter_secret[KS_HPKE_NH];
    uint64_t seq;
    EVP_KDF *kdf;
    EVP_CIPHER *cipher;   /* NULL for the export-only AEAD */
    EVP_CIPHER_CTX *cctx; /* likewise */
};

int ks_hpke_suite_check(struct ks_hpke_suite suite)
{
    if (suite.kem_id != KS_HPKE_KEM_X25519_SHA256 || suite.kdf_id != KS_HPKE_KDF_HKDF_SHA256) {
        return KS_ERR_UNSUPPORTED;
    }
    switch (suite.aead_id) {
    case KS_HPKE_AEAD_AES_128_GCM:
    case KS_HPKE_AEAD_AES_256_GCM:
    case KS_HPKE_AEAD_EXPORT_ONLY:
        return KS_OK;
    default:
        return KS_ERR_UNSUPPORTED;
    }
}

/* ---- contexts ------------------------------------------------------------- */

void ks_hpke_ctx_free(struct ks_hpke_ctx *ctx)
{
    if (!ctx) {
        return;
    }
    EVP_CIPHER_CTX_free(ctx->cctx);
    EVP_CIPHER_free(ctx->cipher);
    EVP_KDF_free(ctx->kdf);
    /* Wipes key, base_nonce and exporter_secret with the rest. */
    OPENSSL_secure_clear_free(ctx, sizeof(*ctx));
}

/* Arguments shared by the setup functions: the suite, the optional info
 * and the PSK inputs (RFC 9180 section 5.1, VerifyPSKInputs). */
static int check_setup_args(struct ks_hpke_suite suite, const uint8_t *info, size_t info_len,
                            const struct ks_hpke_psk *psk)
{
    int r = ks_hpke_suite_check(suite);
    if (r < 0) {
        return r;
    }
    if (!info && info_len > 0) {
        return KS_ERR_INVALID_ARG;
    }
    if (info_len > KS_HPKE_MAX_INPUT) {
        return KS_ERR_TOO_LARGE;
    }
    if (psk) {
        /* Mode psk needs both parts, and psk MUST have 32 bytes of entropy
         * (section 5.1.2). */
        if (!psk->psk || !psk->psk_id || psk->psk_len < 32 || psk->psk_id_len == 0) {
            return KS_ERR_INVALID_ARG;
        }
        if (psk->psk_len > KS_HPKE_MAX_INPUT || psk->psk_id_len > KS_HPKE_MAX_INPUT) {
            return KS_ERR_TOO_LARGE;
        }
    }
    return KS_OK;
}

/* A new context with its KDF and AEAD objects fetched once, for all its
 * messages and exports. */
static int ctx_new(struct ks_hpke_suite suite, bool sender, struct ks_hpke_ctx **ret)
{
    struct ks_hpke_ctx *ctx;
    const char *cipher_name = NULL;
    int r;

    /* The secure heap, when the program set one up, keeps the keys out of
     * swap and core dumps; otherwise this is the ordinary heap. */
    ctx = OPENSSL_secure_zalloc(sizeof(*ctx));
    if (!ctx) {
        return KS_ERR_NOMEM;
    }
    ctx->suite = suite;
    ctx->sender = sender;
    r = ks_hpke_kdf_fetch(&ctx->kdf);
    if (r < 0) {
        goto out;
    }
    /* RFC 9180 section 7.3: Nk and Nn of each AEAD. */
    switch (suite.aead_id) {
    case KS_HPKE_AEAD_AES_128_GCM:
        cipher_name = "AES-128-GCM";
        ctx->nk = 16;
        ctx->nn = NN_GCM;
        break;
    case KS_HPKE_AEAD_AES_256_GCM:
        cipher_name = "AES-256-GCM";
        ctx->nk = 32;
        ctx->nn = NN_GCM;
        break;
    default: /* export-only: Nk = Nn = 0 */
        break;
    }
    if (cipher_name) {
        ctx->cipher = EVP_CIPHER_fetch(NULL, cipher_name, NULL);
        ctx->cctx = EVP_CIPHER_CTX_new();
        if (!ctx->cipher || !ctx->cctx) {
            r = KS_ERR_CRYPTO;
            goto out;
        }
    }
    *ret = ctx;
    ctx = NULL;
    r = KS_OK;
out:
    ks_hpke_ctx_free(ctx);
    return r;
}

/* RFC 9180 section 5.1: KeySchedule<ROLE>(mode, shared_secret, info, psk,
 * psk_id), writing key, base_nonce and exporter_secret into ctx. */
static int key_schedule(struct ks_hpke_ctx *ctx, const uint8_t shared_secret[KS_HPKE_NSECRET],
                        const uint8_t *info, size_t info_len, const struct ks_hpke_psk *psk)
{
    struct ks_hpke_labeled_kdf lk;
    /* key_schedule_context = concat(mode, psk_id_hash, info_hash) */
    uint8_t ksc[1 + 2 * KS_HPKE_NH];
    uint8_t secret[KS_HPKE_NH];
    int r;

    ks_hpke_labeled_kdf_suite(&lk, ctx->kdf, ctx->suite);
    ksc[0] = psk ? KS_HPKE_MODE_PSK : KS_HPKE_MODE_BASE;
    r = ks_hpke_labeled_extract(&lk, NULL, 0, "psk_id_hash", psk ? psk->psk_id : NULL,
                                psk ? psk->psk_id_len : 0, ksc + 1);
    if (r < 0) {
        goto out;
    }
    r = ks_hpke_labeled_extract(&lk, NULL, 0, "info_hash", info, info_len, ksc + 1 + KS_HPKE_NH);
    if (r < 0) {
        goto out;
    }
    r = ks_hpke_labeled_extract(&lk, shared_secret, KS_HPKE_NSECRET, "secret",
                                psk ? psk->psk : NULL, psk ? psk->psk_len : 0, secret);
    if (r < 0) {
        goto out;
    }
    if (ctx->nk > 0) {
        r = ks_hpke_labeled_expand(&lk, secret, "key", ksc, sizeof(ksc), ctx->key, ctx->nk);
        if (r < 0) {
            goto out;
        }
        r = ks_hpke_labeled_expand(&lk, secret, "base_nonce", ksc, sizeof(ksc), ctx->base_nonce,
                                   ctx->nn);
        if (r < 0) {
            goto out;
        }
    }
    r = ks_hpke_labeled_expand(&lk, secret, "exp", ksc, sizeof(ksc), ctx->exporter_secret,
                               KS_HPKE_NH);
out:
    OPENSSL_cleanse(secret, sizeof(secret));
    return r;
}

/* Sender setup with the given ephemeral key, or a fresh one when skE is NULL. */
static int setup_sender(struct ks_hpke_suite suite, const uint8_t *skE,
                        const uint8_t pkR[KS_HPKE_PK_LEN], const uint8_t *info, size_t info_len,
                        const struct ks_hpke_psk *psk, uint8_t ret_enc[KS_HPKE_ENC_LEN],
                        struct ks_hpke_ctx **ret_ctx)
{
    struct ks_hpke_ctx *ctx = NULL;
    uint8_t shared_secret[KS_HPKE_NSECRET], enc[KS_HPKE_ENC_LEN];
    int r;

    if (!pkR || !ret_enc || !ret_ctx) {
        return KS_ERR_INVALID_ARG;
    }
    r = check_setup_args(suite, info, info_len, psk);
    if (r < 0) {
        return r;
    }
    r = ctx_new(suite, true, &ctx);
    if (r < 0) {
        goto out;
    }
    r = ks_hpke_encap(ctx->kdf, skE, pkR, shared_secret, enc);
    if (r < 0) {
        goto out;
    }
    r = key_schedule(ctx, shared_secret, info, info_len, psk);
    if (r < 0) {
        goto out;
    }
    memcpy(ret_enc, enc, sizeof(enc));
    *ret_ctx = ctx;
    ctx = NULL;
out:
    OPENSSL_cleanse(shared_secret, sizeof(shared_secret));
    ks_hpke_ctx_free(ctx);
    return r;
}

int ks_hpke_setup_sender_eph(struct ks_hpke_suite suite, const uint8_t skE[KS_HPKE_SK_LEN],
                             const uint8_t pkR[KS_HPKE_PK_LEN], const uint8_t *info,
                             size_t info_len, const struct ks_hpke_psk *psk,
                             uint8_t ret_enc[KS_HPKE_ENC_LEN], struct ks_hpke_ctx **ret_ctx)
{
    if (!skE) {
        return KS_ERR_INVALID_ARG;
    }
    return setup_sender(suite, skE, pkR, info, info_len, psk, ret_enc, ret_ctx);
}

int ks_hpke_setup_sender(struct ks_hpke_suite suite, const uint8_t pkR[KS_HPKE_PK_LEN],
                         const uint8_t *info, size_t info_len, const struct ks_hpke_psk *psk,
                         uint8_t ret_enc[KS_HPKE_ENC_LEN], struct ks_hpke_ctx **ret_ctx)
{
    /* Encap's GenerateKeyPair (RFC 9180 section 4.1): fresh per setup. */
    return setup_sender(suite, NULL, pkR, info, info_len, psk, ret_enc, ret_ctx);
}

int ks_hpke_setup_receiver(struct ks_hpke_suite suite, const uint8_t skR[KS_HPKE_SK_LEN],
                           const uint8_t enc[KS_HPKE_ENC_LEN], const uint8_t *info, size_t info_len,
                           const struct ks_hpke_psk *psk, struct ks_hpke_ctx **ret_ctx)
{
    struct ks_hpke_ctx *ctx = NULL;
    uint8_t shared_secret[KS_HPKE_NSECRET];
    int r;

    if (!skR || !enc || !ret_ctx) {
        return KS_ERR_INVALID_ARG;
    }
    r = check_setup_args(suite, info, info_len, psk);
    if (r < 0) {
        return r;
    }
    r = ctx_new(suite, false, &ctx);
    if (r < 0) {
        goto out;
    }
    r = ks_hpke_decap(ctx->kdf, enc, skR, shared_secret);
    if (r < 0) {
        goto out;
    }
    r = key_schedule(ctx, shared_secret, info, info_len, psk);
    if (r < 0) {
        goto out;
    }
    *ret_ctx = ctx;
    ctx = NULL;
out:
    OPENSSL_cleanse(shared_secret, sizeof(shared_secret));
    ks_hpke_ctx_free(ctx);
    return r;
}

/* RFC 9180 section 5.2: ComputeNonce(seq) = base_nonce XOR I2OSP(seq, Nn);
 * seq fits the last 8 of the Nn = 12 bytes. */
static void compute_nonce(const struct ks_hpke_ctx *ctx, uint8_t ret[NN_GCM])
{
    memcpy(ret, ctx->base_nonce, NN_GCM);
    for (size_t i = 0; i < 8; i++) {
        ret[NN_GCM - 1 - i] ^= (uint8_t)(ctx->seq >> (8 * i));
    }
}

/* Common checks of Seal and Open. The RFC's limit is seq < 2^(8*Nn) - 1;
 * a 64-bit counter stops earlier, at 2^64 - 1, which no sender reaches. */
static int check_message_args(const struct ks_hpke_ctx *ctx, bool sender, const uint8_t *aad,
                              size_t aad_len)
{
    if (!ctx || (!aad && aad_len > 0)) {
        return KS_ERR_INVALID_ARG;
    }
    if (!ctx->cipher) {
        return KS_ERR_UNSUPPORTED; /* export-only AEAD */
    }
    /* Seal on a receiver context would reuse the sender's nonces. */
    if (ctx->sender != sender) {
        return KS_ERR_INVALID_ARG;
    }
    if (aad_len > KS_HPKE_MAX_MESSAGE) {
        return KS_ERR_TOO_LARGE;
    }
    if (ctx->seq == UINT64_MAX) {
        return KS_ERR_HPKE_SEQ;
    }
    return KS_OK;
}

int ks_hpke_seal(struct ks_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                 size_t pt_len, uint8_t *ret_ct, size_t ct_size, size_t *ret_ct_len)
{
    uint8_t nonce[NN_GCM];
    int aadl = 0, outl = 0, finl = 0;
    int r;

    r = check_message_args(ctx, true, aad, aad_len);
    if (r < 0) {
        return r;
    }
    if ((!pt && pt_len > 0) || !ret_ct || !ret_ct_len) {
        return KS_ERR_INVALID_ARG;
    }
    if (pt_len > KS_HPKE_MAX_MESSAGE) {
        return KS_ERR_TOO_LARGE;
    }
    if (ct_size < pt_len + KS_HPKE_TAG_LEN) {
        return KS_ERR_INVALID_ARG;
    }
    compute_nonce(ctx, nonce);
    if (EVP_EncryptInit_ex2(ctx->cctx, ctx->cipher, ctx->key, nonce, NULL) != 1 ||
        (aad_len > 0 && EVP_EncryptUpdate(ctx->cctx, NULL, &aadl, aad, (int)aad_len) != 1) ||
        (pt_len > 0 && EVP_EncryptUpdate(ctx->cctx, ret_ct, &outl, pt, (int)pt_len) != 1) ||
        EVP_EncryptFinal_ex(ctx->cctx, ret_ct + outl, &finl) != 1 ||
        (size_t)outl + (size_t)finl != pt_len ||
        EVP_CIPHER_CTX_ctrl(ctx->cctx, EVP_CTRL_AEAD_GET_TAG, KS_HPKE_TAG_LEN, ret_ct + pt_len) !=
            1) {
        /* Leave no partial output behind. */
        OPENSSL_cleanse(ret_ct, pt_len + KS_HPKE_TAG_LEN);
        r = KS_ERR_CRYPTO;
        goto out;
    }
    /* IncrementSeq (section 5.2): never reuse a nonce. */
    ctx->seq++;
    *ret_ct_len = pt_len + KS_HPKE_TAG_LEN;
    r = KS_OK;
out:
    OPENSSL_cleanse(nonce, sizeof(nonce));
    return r;
}

int ks_hpke_open(struct ks_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *ct,
                 size_t ct_len, uint8_t *ret_pt, size_t pt_size, size_t *ret_pt_len)
{
    uint8_t nonce[NN_GCM], tag[KS_HPKE_TAG_LEN];
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    int aadl = 0, outl = 0, finl = 0;
    int r;

    r = check_message_args(ctx, false, aad, aad_len);
    if (r < 0) {
        return r;
    }
    if (!ct || !ret_pt_len || (!ret_pt && pt_size > 0)) {
        return KS_ERR_INVALID_ARG;
    }
    /* A ciphertext shorter than its tag cannot authenticate. */
    if (ct_len < KS_HPKE_TAG_LEN) {
        return KS_ERR_HPKE_OPEN;
    }
    pt_len = ct_len - KS_HPKE_TAG_LEN;
    if (pt_len > KS_HPKE_MAX_MESSAGE) {
        return KS_ERR_TOO_LARGE;
    }
    if (pt_size < pt_len) {
        return KS_ERR_INVALID_ARG;
    }
    /* GCM decrypts before it checks the tag: decrypt into a scratch buffer
     * and release the plaintext only once the tag verified. */
    pt = OPENSSL_malloc(pt_len > 0 ? pt_len : 1);
    if (!pt) {
        return KS_ERR_NOMEM;
    }
    memcpy(tag, ct + pt_len, sizeof(tag));
    compute_nonce(ctx, nonce);
    if (EVP_DecryptInit_ex2(ctx->cctx, ctx->cipher, ctx->key, nonce, NULL) != 1 ||
        (aad_len > 0 && EVP_DecryptUpdate(ctx->cctx, NULL, &aadl, aad, (int)aad_len) != 1) ||
        (pt_len > 0 && EVP_DecryptUpdate(ctx->cctx, pt, &outl, ct, (int)pt_len) != 1) ||
        EVP_CIPHER_CTX_ctrl(ctx->cctx, EVP_CTRL_AEAD_SET_TAG, sizeof(tag), tag) != 1) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    /* A forged ciphertext is untrusted input: leave no stale entries on
     * OpenSSL's error queue. */
    ERR_set_mark();
    if (EVP_DecryptFinal_ex(ctx->cctx, pt + outl, &finl) != 1 ||
        (size_t)outl + (size_t)finl != pt_len) {
        ERR_pop_to_mark();
        r = KS_ERR_HPKE_OPEN;
        goto out;
    }
    ERR_clear_last_mark();
    if (pt_len > 0) {
        memcpy(ret_pt, pt, pt_len);
    }
    ctx->seq++;
    *ret_pt_len = pt_len;
    r = KS_OK;
out:
    OPENSSL_cleanse(nonce, sizeof(nonce));
    OPENSSL_clear_free(pt, pt_len > 0 ? pt_len : 1);
    return r;
}

int ks_hpke_export(const struct ks_hpke_ctx *ctx, const uint8_t *exporter_context,
                   size_t exporter_context_len, size_t L, uint8_t *ret)
{
    struct ks_hpke_labeled_kdf lk;
    uint8_t *out = NULL;
    int r;

    if (!ctx || !ret || (!exporter_context && exporter_context_len > 0)) {
        return KS_ERR_INVALID_ARG;
    }
    if (exporter_context_len > KS_HPKE_MAX_INPUT) {
        return KS_ERR_TOO_LARGE;
    }
    /* RFC 9180 section 5.3: L at most 255 * Nh (HKDF-Expand's limit). */
    if (L == 0 || L > KS_HPKE_MAX_EXPORT) {
        return KS_ERR_HPKE_EXPORT;
    }
    out = OPENSSL_malloc(L);
    if (!out) {
        return KS_ERR_NOMEM;
    }
    ks_hpke_labeled_kdf_suite(&lk, ctx->kdf, ctx->suite);
    r = ks_hpke_labeled_expand(&lk, ctx->exporter_secret, "sec", exporter_context,
                               exporter_context_len, out, L);
    if (r < 0) {
        goto out;
    }
    memcpy(ret, out, L);
out:
    OPENSSL_clear_free(out, L);
    return r;
}

int ks_hpke_seal_base(struct ks_hpke_suite suite, const uint8_t pkR[KS_HPKE_PK_LEN],
                      const uint8_t *info, size_t info_len, const uint8_t *aad, size_t aad_len,
                      const uint8_t *pt, size_t pt_len, uint8_t ret_enc[KS_HPKE_ENC_LEN],
                      uint8_t *ret_ct, size_t ct_size, size_t *ret_ct_len)
{
    struct ks_hpke_ctx *ctx = NULL;
    uint8_t enc[KS_HPKE_ENC_LEN];
    size_t ct_len = 0;
    int r;

    if (!ret_enc || !ret_ct_len) {
        return KS_ERR_INVALID_ARG;
    }
    r = ks_hpke_setup_sender(suite, pkR, info, info_len, NULL, enc, &ctx);
    if (r < 0) {
        goto out;
    }
    r = ks_hpke_seal(ctx, aad, aad_len, pt, pt_len, ret_ct, ct_size, &ct_len);
    if (r < 0) {
        goto out;
    }
    memcpy(ret_enc, enc, sizeof(enc));
    *ret_ct_len = ct_len;
out:
    ks_hpke_ctx_free(ctx);
    return r;
}

int ks_hpke_open_base(struct ks_hpke_suite suite, const uint8_t skR[KS_HPKE_SK_LEN],
                      const uint8_t enc[KS_HPKE_ENC_LEN], const uint8_t *info, size_t info_len,
                      const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t ct_len,
                      uint8_t *ret_pt, size_t pt_size, size_t *ret_pt_len)
{
    struct ks_hpke_ctx *ctx = NULL;
    int r;

    r = ks_hpke_setup_receiver(suite, skR, enc, info, info_len, NULL, &ctx);
    if (r < 0) {
        goto out;
    }
    r = ks_hpke_open(ctx, aad, aad_len, ct, ct_len, ret_pt, pt_size, ret_pt_len);
out:
    ks_hpke_ctx_free(ctx);
    return r;
}

int ks_hpke_ctx_set_seq_for_testing(struct ks_hpke_ctx *ctx, uint64_t seq)
{
    if (!ctx) {
        return KS_ERR_INVALID_ARG;
    }
    ctx->seq = seq;
    return KS_OK;
}
