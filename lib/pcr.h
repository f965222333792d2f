/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_PCR_H
#define KS_PCR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ks_error.h"
#include "tpm_alg.h"

#define KS_PCR_COUNT 24

/*
 * A set of PCR values in up to KS_MAX_BANKS banks (one per supported hash).
 * Plain value type: no heap, copyable with memcpy. Used for replay results
 * (event log, IMA), for PCR values submitted with a quote and for the
 * pcrDigest computation.
 */
struct ks_pcr_bank {
    uint16_t alg;     /* 0 when the bank is not in use */
    uint32_t present; /* bit i set: PCR i has a value */
    uint8_t value[KS_PCR_COUNT][KS_MAX_DIGEST];
};

struct ks_pcr_set {
    struct ks_pcr_bank bank[KS_MAX_BANKS]; /* indexed by ks_alg_bank_index() */
};

void ks_pcr_set_init(struct ks_pcr_set *set);

/* Store a value; len must equal the bank's digest size. */
KS_WUR int ks_pcr_set_put(struct ks_pcr_set *set, uint16_t alg, unsigned index,
                          const uint8_t *value, size_t len);

/* Pointer to a stored value (digest size of alg), or KS_ERR_PCR_BANK /
 * KS_ERR_PCR_INDEX when absent. */
KS_WUR int ks_pcr_set_get(const struct ks_pcr_set *set, uint16_t alg, unsigned index,
                          const uint8_t **ret_value);

bool ks_pcr_set_has(const struct ks_pcr_set *set, uint16_t alg, unsigned index);

/* PCR[index] = H(PCR[index] || digest). A PCR not yet present starts at zero. */
KS_WUR int ks_pcr_extend(struct ks_pcr_set *set, uint16_t alg, unsigned index,
                         const uint8_t *digest, size_t len);

/* Make the bank present with every PCR at zero (the reset value), except
 * that nothing is marked present: a replay marks a PCR present when it
 * touches it. */
KS_WUR int ks_pcr_bank_enable(struct ks_pcr_set *set, uint16_t alg);

bool ks_pcr_bank_enabled(const struct ks_pcr_set *set, uint16_t alg);

#endif
