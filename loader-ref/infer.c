/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "attest.h"
#include "infer.h"

static bool name_ok(const char *name)
{
    uint32_t v = 1;
    return name && ks_attest_key_ref_parse(name, NULL, &v) == KS_OK && v == 0;
}

static bool id_ok(const uint8_t *id, size_t id_len)
{
    return id && id_len >= 1 && id_len <= KS_INFER_ID_MAX;
}

int ks_infer_info(const char *key_name, uint32_t version, uint8_t *ret, size_t size,
                  size_t *ret_len)
{
    if (!name_ok(key_name) || version == 0 || !ret || !ret_len) {
        return KS_ERR_INVALID_ARG;
    }
    size_t llen = sizeof(KS_INFER_LABEL); /* the label and its 0x00 */
    size_t nlen = strlen(key_name);
    if (size < llen + nlen + 4) {
        return KS_ERR_INVALID_ARG;
    }
    memcpy(ret, KS_INFER_LABEL, llen);
    memcpy(ret + llen, key_name, nlen);
    uint8_t *v = ret + llen + nlen;
    v[0] = (uint8_t)(version >> 24);
    v[1] = (uint8_t)(version >> 16);
    v[2] = (uint8_t)(version >> 8);
    v[3] = (uint8_t)version;
    *ret_len = llen + nlen + 4;
    return KS_OK;
}

static int export_key(const struct ks_hpke_ctx *ctx, uint8_t ret[KS_INFER_KEY_LEN])
{
    return ks_hpke_export(ctx, (const uint8_t *)KS_INFER_EXPORT_CONTEXT,
                          strlen(KS_INFER_EXPORT_CONTEXT), KS_INFER_KEY_LEN, ret);
}

int ks_infer_seal_request(const uint8_t pk[KS_HPKE_PK_LEN], const char *key_name, uint32_t version,
                          const uint8_t *id, size_t id_len, uint64_t issued, uint32_t max_new,
                          const uint8_t *prompt, size_t prompt_len,
                          uint8_t ret_enc[KS_HPKE_ENC_LEN], uint8_t *ret_ct, size_t ct_size,
                          size_t *ret_ct_len, uint8_t ret_response_key[KS_INFER_KEY_LEN])
{
    uint8_t info[KS_INFER_INFO_MAX];
    size_t info_len = 0;
    uint8_t enc[KS_HPKE_ENC_LEN], rk[KS_INFER_KEY_LEN];
    struct ks_hpke_ctx *ctx = NULL;
    uint8_t *pt = NULL;
    size_t pt_len = KS_INFER_HEADER_LEN + prompt_len;
    if (!pk || !id_ok(id, id_len) || !prompt || prompt_len == 0 || !ret_enc || !ret_ct ||
        !ret_ct_len || !ret_response_key) {
        return KS_ERR_INVALID_ARG;
    }
    if (prompt_len > KS_INFER_PROMPT_MAX) {
        return KS_ERR_TOO_LARGE;
    }
    if (ct_size < pt_len + KS_INFER_TAG_LEN) {
        return KS_ERR_INVALID_ARG;
    }
    int r = ks_infer_info(key_name, version, info, sizeof(info), &info_len);
    if (r != KS_OK) {
        return r;
    }
    pt = malloc(pt_len);
    if (!pt) {
        return KS_ERR_NOMEM;
    }
    pt[0] = KS_INFER_FORMAT;
    for (int i = 0; i < 8; i++) {
        pt[1 + i] = (uint8_t)(issued >> (56 - 8 * i));
    }
    for (int i = 0; i < 4; i++) {
        pt[9 + i] = (uint8_t)(max_new >> (24 - 8 * i));
    }
    memcpy(pt + KS_INFER_HEADER_LEN, prompt, prompt_len);
    size_t ct_len = 0;
    r = ks_hpke_setup_sender(KS_HPKE_SUITE_DEFAULT, pk, info, info_len, NULL, enc, &ctx);
    if (r == KS_OK) {
        r = ks_hpke_seal(ctx, id, id_len, pt, pt_len, ret_ct, ct_size, &ct_len);
    }
    if (r == KS_OK) {
        r = export_key(ctx, rk);
    }
    if (r == KS_OK) {
        memcpy(ret_enc, enc, sizeof(enc));
        memcpy(ret_response_key, rk, sizeof(rk));
        *ret_ct_len = ct_len;
    }
    OPENSSL_cleanse(rk, sizeof(rk));
    OPENSSL_cleanse(pt, pt_len);
    free(pt);
    ks_hpke_ctx_free(ctx);
    return r;
}

int ks_infer_open_request(const uint8_t sk[KS_HPKE_SK_LEN], const char *key_name, uint32_t version,
                          const uint8_t *id, size_t id_len, const uint8_t enc[KS_HPKE_ENC_LEN],
                          const uint8_t *ct, size_t ct_len, uint8_t *ret_pt, size_t pt_size,
                          size_t *ret_pt_len, uint8_t ret_response_key[KS_INFER_KEY_LEN])
{
    uint8_t info[KS_INFER_INFO_MAX];
    size_t info_len = 0, pt_len = 0;
    struct ks_hpke_ctx *ctx = NULL;
    if (!sk || !id_ok(id, id_len) || !enc || !ct || !ret_pt || !ret_pt_len || !ret_response_key) {
        return KS_ERR_INVALID_ARG;
    }
    if (ct_len < KS_INFER_TAG_LEN) {
        return KS_ERR_HPKE_OPEN;
    }
    if (ct_len - KS_INFER_TAG_LEN > KS_INFER_HEADER_LEN + KS_INFER_PROMPT_MAX) {
        return KS_ERR_TOO_LARGE;
    }
    if (pt_size < ct_len - KS_INFER_TAG_LEN) {
        return KS_ERR_INVALID_ARG;
    }
    int r = ks_infer_info(key_name, version, info, sizeof(info), &info_len);
    if (r != KS_OK) {
        return r;
    }
    r = ks_hpke_setup_receiver(KS_HPKE_SUITE_DEFAULT, sk, enc, info, info_len, NULL, &ctx);
    if (r == KS_ERR_HPKE_KEY) {
        r = KS_ERR_HPKE_OPEN; /* a low-order enc: as unauthenticated as any other */
    }
    if (r == KS_OK) {
        r = ks_hpke_open(ctx, id, id_len, ct, ct_len, ret_pt, pt_size, &pt_len);
    }
    if (r == KS_OK) {
        r = export_key(ctx, ret_response_key);
        if (r != KS_OK) {
            OPENSSL_cleanse(ret_pt, pt_len);
        }
    }
    if (r == KS_OK) {
        *ret_pt_len = pt_len;
    }
    ks_hpke_ctx_free(ctx);
    return r;
}

int ks_infer_parse_plain(const uint8_t *pt, size_t len, uint64_t *ret_issued, uint32_t *ret_max_new,
                         const uint8_t **ret_prompt, size_t *ret_prompt_len)
{
    if (!pt || !ret_issued || !ret_max_new || !ret_prompt || !ret_prompt_len) {
        return KS_ERR_INVALID_ARG;
    }
    if (len <= KS_INFER_HEADER_LEN || pt[0] != KS_INFER_FORMAT) {
        return KS_ERR_PROTO_REQUEST;
    }
    uint64_t t = 0;
    uint32_t n = 0;
    for (int i = 0; i < 8; i++) {
        t = t << 8 | pt[1 + i];
    }
    for (int i = 0; i < 4; i++) {
        n = n << 8 | pt[9 + i];
    }
    *ret_issued = t;
    *ret_max_new = n;
    *ret_prompt = pt + KS_INFER_HEADER_LEN;
    *ret_prompt_len = len - KS_INFER_HEADER_LEN;
    return KS_OK;
}

/* One AES-256-GCM operation (NIST SP 800-38D) with a 16-byte tag. */
static int gcm(bool seal, const uint8_t key[KS_INFER_KEY_LEN],
               const uint8_t nonce[KS_INFER_NONCE_LEN], const uint8_t *aad, size_t aad_len,
               const uint8_t *in, size_t in_len, uint8_t *out, uint8_t tag[KS_INFER_TAG_LEN])
{
    int n = 0, r = KS_ERR_CRYPTO;
    if (in_len > INT_MAX || aad_len > INT_MAX) {
        return KS_ERR_TOO_LARGE;
    }
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c) {
        return KS_ERR_NOMEM;
    }
    if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, seal ? 1 : 0) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, KS_INFER_NONCE_LEN, NULL) != 1 ||
        EVP_CipherInit_ex(c, NULL, NULL, key, nonce, seal ? 1 : 0) != 1 ||
        EVP_CipherUpdate(c, NULL, &n, aad, (int)aad_len) != 1) {
        goto out;
    }
    if (in_len && EVP_CipherUpdate(c, out, &n, in, (int)in_len) != 1) {
        goto out;
    }
    if (!seal && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, KS_INFER_TAG_LEN, tag) != 1) {
        goto out;
    }
    if (EVP_CipherFinal_ex(c, out + (in_len ? (size_t)n : 0), &n) != 1) {
        r = seal ? KS_ERR_CRYPTO : KS_ERR_RESPONSE_OPEN;
        goto out;
    }
    if (seal && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, KS_INFER_TAG_LEN, tag) != 1) {
        goto out;
    }
    r = KS_OK;
out:
    EVP_CIPHER_CTX_free(c);
    return r;
}

int ks_infer_seal_response(const uint8_t key[KS_INFER_KEY_LEN],
                           const uint8_t nonce[KS_INFER_NONCE_LEN], const uint8_t *id,
                           size_t id_len, const uint8_t *pt, size_t len, uint8_t *ret, size_t size,
                           size_t *ret_len)
{
    if (!key || !nonce || !id_ok(id, id_len) || (!pt && len) || !ret || !ret_len ||
        len > KS_INFER_PROMPT_MAX || size < len + KS_INFER_TAG_LEN) {
        return len > KS_INFER_PROMPT_MAX ? KS_ERR_TOO_LARGE : KS_ERR_INVALID_ARG;
    }
    int r = gcm(true, key, nonce, id, id_len, pt, len, ret, ret + len);
    if (r == KS_OK) {
        *ret_len = len + KS_INFER_TAG_LEN;
    }
    return r;
}

int ks_infer_open_response(const uint8_t key[KS_INFER_KEY_LEN],
                           const uint8_t nonce[KS_INFER_NONCE_LEN], const uint8_t *id,
                           size_t id_len, const uint8_t *ct, size_t ct_len, uint8_t *ret,
                           size_t size, size_t *ret_len)
{
    uint8_t tag[KS_INFER_TAG_LEN];
    if (!key || !nonce || !id_ok(id, id_len) || !ct || !ret || !ret_len) {
        return KS_ERR_INVALID_ARG;
    }
    if (ct_len < KS_INFER_TAG_LEN) {
        return KS_ERR_RESPONSE_OPEN;
    }
    size_t len = ct_len - KS_INFER_TAG_LEN;
    if (len > KS_INFER_PROMPT_MAX) {
        return KS_ERR_TOO_LARGE;
    }
    if (size < len) {
        return KS_ERR_INVALID_ARG;
    }
    /* Decrypt into a scratch buffer: nothing reaches ret unless the tag
     * verifies. */
    uint8_t *tmp = malloc(len ? len : 1);
    if (!tmp) {
        return KS_ERR_NOMEM;
    }
    memcpy(tag, ct + len, sizeof(tag));
    int r = gcm(false, key, nonce, id, id_len, ct, len, tmp, tag);
    if (r == KS_OK) {
        memcpy(ret, tmp, len);
        *ret_len = len;
    }
    OPENSSL_cleanse(tmp, len ? len : 1);
    free(tmp);
    return r;
}
