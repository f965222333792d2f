/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "makecred.h"

/* The TPM's key derivation functions (TPM 2.0 Part 1, 11.4.10). Both count
 * blocks from 1 with a 32-bit big-endian counter, include the label's
 * terminating NUL, and return the leftmost `bits` bits, clearing the unused
 * high bits of the first byte (Part 1, 11.4.10.1: "the value is in the
 * least significant bits"). */

static void put_u32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static int check_args(uint16_t hash_alg, uint32_t bits, const char *label, size_t *ret_digest)
{
    size_t dlen = ks_alg_digest_size(hash_alg);
    if (dlen == 0 || !ks_alg_md(hash_alg)) {
        return KS_ERR_TPM_ALG;
    }
    if (bits == 0 || bits > 8u * KS_KDF_MAX_BYTES || !label) {
        return KS_ERR_INVALID_ARG;
    }
    *ret_digest = dlen;
    return KS_OK;
}

static void mask_first_byte(uint8_t *out, uint32_t bits)
{
    if (bits % 8 != 0) {
        out[0] &= (uint8_t)(0xffu >> (8 - bits % 8));
    }
}

int ks_kdfa(uint16_t hash_alg, const uint8_t *key, size_t key_len, const char *label,
            const uint8_t *context_u, size_t context_u_len, const uint8_t *context_v,
            size_t context_v_len, uint32_t bits, uint8_t *ret)
{
    uint8_t block[KS_MAX_DIGEST];
    uint8_t counter[4], len_be[4];
    size_t dlen;
    int r = check_args(hash_alg, bits, label, &dlen);
    if (r != KS_OK) {
        return r;
    }
    if (!ret || (!key && key_len) || (!context_u && context_u_len) ||
        (!context_v && context_v_len)) {
        return KS_ERR_INVALID_ARG;
    }
    size_t out_len = (bits + 7) / 8;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    char md_name[32];
    snprintf(md_name, sizeof(md_name), "%s", EVP_MD_get0_name(ks_alg_md(hash_alg)));
    OSSL_PARAM params[2] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, md_name, 0),
        OSSL_PARAM_construct_end(),
    };
    /* HMAC with an empty key is defined (RFC 2104 pads it with zeros);
     * OpenSSL wants a non-NULL pointer. */
    static const uint8_t empty = 0;
    r = KS_ERR_CRYPTO;
    if (!ctx) {
        goto out;
    }
    put_u32be(len_be, bits);
    for (size_t off = 0, i = 1; off < out_len; off += dlen, i++) {
        size_t fill;
        put_u32be(counter, (uint32_t)i);
        if (EVP_MAC_init(ctx, key_len ? key : &empty, key_len, params) != 1 ||
            EVP_MAC_update(ctx, counter, sizeof(counter)) != 1 ||
            EVP_MAC_update(ctx, (const uint8_t *)label, strlen(label) + 1) != 1 ||
            (context_u_len && EVP_MAC_update(ctx, context_u, context_u_len) != 1) ||
            (context_v_len && EVP_MAC_update(ctx, context_v, context_v_len) != 1) ||
            EVP_MAC_update(ctx, len_be, sizeof(len_be)) != 1 ||
            EVP_MAC_final(ctx, block, &fill, sizeof(block)) != 1 || fill != dlen) {
            goto out;
        }
        memcpy(ret + off, block, out_len - off < dlen ? out_len - off : dlen);
    }
    mask_first_byte(ret, bits);
    r = KS_OK;
out:
    OPENSSL_cleanse(block, sizeof(block));
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return r;
}

int ks_kdfe(uint16_t hash_alg, const uint8_t *z, size_t z_len, const char *label,
            const uint8_t *party_u, size_t party_u_len, const uint8_t *party_v, size_t party_v_len,
            uint32_t bits, uint8_t *ret)
{
    uint8_t block[KS_MAX_DIGEST];
    uint8_t counter[4];
    size_t dlen;
    int r = check_args(hash_alg, bits, label, &dlen);
    if (r != KS_OK) {
        return r;
    }
    if (!ret || (!z && z_len) || (!party_u && party_u_len) || (!party_v && party_v_len)) {
        return KS_ERR_INVALID_ARG;
    }
    size_t out_len = (bits + 7) / 8;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    r = KS_ERR_CRYPTO;
    if (!ctx) {
        goto out;
    }
    for (size_t off = 0, i = 1; off < out_len; off += dlen, i++) {
        unsigned int fill;
        put_u32be(counter, (uint32_t)i);
        if (EVP_DigestInit_ex(ctx, ks_alg_md(hash_alg), NULL) != 1 ||
            EVP_DigestUpdate(ctx, counter, sizeof(counter)) != 1 ||
            (z_len && EVP_DigestUpdate(ctx, z, z_len) != 1) ||
            EVP_DigestUpdate(ctx, label, strlen(label) + 1) != 1 ||
            (party_u_len && EVP_DigestUpdate(ctx, party_u, party_u_len) != 1) ||
            (party_v_len && EVP_DigestUpdate(ctx, party_v, party_v_len) != 1) ||
            EVP_DigestFinal_ex(ctx, block, &fill) != 1 || fill != dlen) {
            goto out;
        }
        memcpy(ret + off, block, out_len - off < dlen ? out_len - off : dlen);
    }
    mask_first_byte(ret, bits);
    r = KS_OK;
out:
    OPENSSL_cleanse(block, sizeof(block));
    EVP_MD_CTX_free(ctx);
    return r;
}
