/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "gpu_check.h"

/* No libcrypto on this machine (check.sh's test compile failed): the upload
 * benchmark runs with the memcpy stand-in only. */

int ks_gpu_aes_available(void)
{
    return 0;
}

int ks_gpu_aes_seal(const uint8_t key[32], const uint8_t *plain, size_t len, size_t chunk,
                    uint8_t *ct, uint8_t *tags)
{
    (void)key, (void)plain, (void)len, (void)chunk, (void)ct, (void)tags;
    return -1;
}

struct ks_gpu_aes *ks_gpu_aes_new(const uint8_t key[32])
{
    (void)key;
    return NULL;
}

int ks_gpu_aes_open(struct ks_gpu_aes *a, uint64_t index, const uint8_t *ct, size_t len,
                    const uint8_t tag[16], uint8_t *dst)
{
    (void)a, (void)index, (void)ct, (void)len, (void)tag, (void)dst;
    return -1;
}

void ks_gpu_aes_free(struct ks_gpu_aes *a)
{
    (void)a;
}
