/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "pcr.h"

void ks_pcr_set_init(struct ks_pcr_set *set)
{
    memset(set, 0, sizeof(*set));
}

static struct ks_pcr_bank *bank_for(struct ks_pcr_set *set, uint16_t alg, bool create)
{
    int i = ks_alg_bank_index(alg);
    if (i < 0) {
        return NULL;
    }
    if (set->bank[i].alg == 0) {
        if (!create) {
            return NULL;
        }
        set->bank[i].alg = alg;
    }
    return &set->bank[i];
}

int ks_pcr_bank_enable(struct ks_pcr_set *set, uint16_t alg)
{
    if (!set) {
        return KS_ERR_INVALID_ARG;
    }
    return bank_for(set, alg, true) ? KS_OK : KS_ERR_TPM_ALG;
}

bool ks_pcr_bank_enabled(const struct ks_pcr_set *set, uint16_t alg)
{
    int i = ks_alg_bank_index(alg);
    return set && i >= 0 && set->bank[i].alg == alg;
}

int ks_pcr_set_put(struct ks_pcr_set *set, uint16_t alg, unsigned index, const uint8_t *value,
                   size_t len)
{
    if (!set || !value) {
        return KS_ERR_INVALID_ARG;
    }
    if (index >= KS_PCR_COUNT) {
        return KS_ERR_PCR_INDEX;
    }
    size_t dlen = ks_alg_digest_size(alg);
    if (dlen == 0) {
        return KS_ERR_TPM_ALG;
    }
    if (len != dlen) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_pcr_bank *b = bank_for(set, alg, true);
    if (!b) {
        return KS_ERR_TPM_ALG;
    }
    memcpy(b->value[index], value, len);
    b->present |= 1u << index;
    return KS_OK;
}

int ks_pcr_set_get(const struct ks_pcr_set *set, uint16_t alg, unsigned index,
                   const uint8_t **ret_value)
{
    if (!set || !ret_value) {
        return KS_ERR_INVALID_ARG;
    }
    if (index >= KS_PCR_COUNT) {
        return KS_ERR_PCR_INDEX;
    }
    int i = ks_alg_bank_index(alg);
    if (i < 0 || set->bank[i].alg != alg) {
        return KS_ERR_PCR_BANK;
    }
    if (!(set->bank[i].present & (1u << index))) {
        return KS_ERR_PCR_INDEX;
    }
    *ret_value = set->bank[i].value[index];
    return KS_OK;
}

bool ks_pcr_set_has(const struct ks_pcr_set *set, uint16_t alg, unsigned index)
{
    const uint8_t *v;
    return ks_pcr_set_get(set, alg, index, &v) == KS_OK;
}

int ks_pcr_extend(struct ks_pcr_set *set, uint16_t alg, unsigned index, const uint8_t *digest,
                  size_t len)
{
    if (!set || !digest) {
        return KS_ERR_INVALID_ARG;
    }
    if (index >= KS_PCR_COUNT) {
        return KS_ERR_PCR_INDEX;
    }
    size_t dlen = ks_alg_digest_size(alg);
    if (dlen == 0) {
        return KS_ERR_TPM_ALG;
    }
    if (len != dlen) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_pcr_bank *b = bank_for(set, alg, true);
    if (!b) {
        return KS_ERR_TPM_ALG;
    }
    uint8_t out[KS_MAX_DIGEST];
    int r = ks_alg_hash(alg, b->value[index], dlen, digest, dlen, out);
    if (r < 0) {
        return r;
    }
    memcpy(b->value[index], out, dlen);
    b->present |= 1u << index;
    return KS_OK;
}
