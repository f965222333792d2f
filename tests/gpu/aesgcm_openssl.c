/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "gpu_check.h"

/* The real-decryption stand-in of the upload benchmark: AES-256-GCM per
 * chunk with OpenSSL (chosen by check.sh when a test compile against
 * libcrypto works; aesgcm_none.c otherwise). The nonce layout follows the
 * sealed-file format (lib/sealed.h) with a zero nonce base. */

struct ks_gpu_aes {
    EVP_CIPHER_CTX *ctx;
    uint8_t key[32];
};

int ks_gpu_aes_available(void)
{
    return 1;
}

static void nonce_for(uint64_t index, uint8_t nonce[12])
{
    memset(nonce, 0, 12);
    for (int i = 0; i < 8; i++) {
        nonce[4 + i] = (uint8_t)(index >> (56 - 8 * i));
    }
}

int ks_gpu_aes_seal(const uint8_t key[32], const uint8_t *plain, size_t len, size_t chunk,
                    uint8_t *ct, uint8_t *tags)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    uint8_t nonce[12];
    int ok = c != NULL, n;
    for (uint64_t i = 0; ok && i * chunk < len; i++) {
        size_t off = i * chunk, l = len - off < chunk ? len - off : chunk;
        nonce_for(i, nonce);
        ok = EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce) == 1 &&
             EVP_EncryptUpdate(c, ct + off, &n, plain + off, (int)l) == 1 &&
             EVP_EncryptFinal_ex(c, ct + off + n, &n) == 1 &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tags + 16 * i) == 1;
    }
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -1;
}

struct ks_gpu_aes *ks_gpu_aes_new(const uint8_t key[32])
{
    struct ks_gpu_aes *a = calloc(1, sizeof(*a));
    if (!a || !(a->ctx = EVP_CIPHER_CTX_new())) {
        free(a);
        return NULL;
    }
    memcpy(a->key, key, 32);
    return a;
}

int ks_gpu_aes_open(struct ks_gpu_aes *a, uint64_t index, const uint8_t *ct, size_t len,
                    const uint8_t tag[16], uint8_t *dst)
{
    uint8_t nonce[12];
    int n;
    nonce_for(index, nonce);
    if (EVP_DecryptInit_ex(a->ctx, EVP_aes_256_gcm(), NULL, a->key, nonce) != 1 ||
        EVP_DecryptUpdate(a->ctx, dst, &n, ct, (int)len) != 1 ||
        EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_GCM_SET_TAG, 16, (void *)tag) != 1 ||
        EVP_DecryptFinal_ex(a->ctx, dst + n, &n) != 1) {
        return -1;
    }
    return 0;
}

void ks_gpu_aes_free(struct ks_gpu_aes *a)
{
    if (a) {
        EVP_CIPHER_CTX_free(a->ctx);
        free(a);
    }
}
