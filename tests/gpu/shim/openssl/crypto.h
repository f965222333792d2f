/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_GPU_SHIM_OPENSSL_CRYPTO_H
#define KS_GPU_SHIM_OPENSSL_CRYPTO_H

/* For tests/gpu/check.sh on a machine without OpenSSL's headers (the GPU
 * machines have CUDA and a C compiler only): the two functions the model
 * and backend files use, with the same guarantees. */

#include <stddef.h>
#include <string.h>

static inline void OPENSSL_cleanse(void *p, size_t n)
{
    explicit_bzero(p, n);
}

static inline int CRYPTO_memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++) {
        d |= x[i] ^ y[i];
    }
    return d;
}

#endif
