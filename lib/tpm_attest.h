/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_TPM_ATTEST_H
#define KS_TPM_ATTEST_H

/*
 * Strict decoders for the structures a quote is made of:
 * TPMS_ATTEST (TPM 2.0 Part 2, 10.12.12), TPMT_SIGNATURE (Part 2, 11.3.4)
 * and TPML_PCR_SELECTION (Part 2, 10.9.7) validation.
 * All of them go through Tss2_MU_*_Unmarshal and reject trailing bytes.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tss2/tss2_tpm2_types.h>

#include "ks_error.h"
#include "pcr.h"

/* Decode a raw TPMS_ATTEST: the bytes the TPM signs, without a size prefix
 * (what tpm2_quote -m writes). KS_ERR_TPM_UNMARSHAL when malformed,
 * KS_ERR_TPM_TRAILING when bytes follow it. No semantic checks (magic, type)
 * are made here. */
KS_WUR int ks_tpm_attest_decode(const uint8_t *buf, size_t len, TPMS_ATTEST *ret_attest);

/* Decode a TPM2B_ATTEST (u16 size || TPMS_ATTEST); the size must cover the
 * TPMS_ATTEST exactly. */
KS_WUR int ks_tpm_attest_decode_tpm2b(const uint8_t *buf, size_t len, TPMS_ATTEST *ret_attest);

/* Decode a marshaled TPMT_SIGNATURE, same rules. */
KS_WUR int ks_tpm_signature_decode(const uint8_t *buf, size_t len, TPMT_SIGNATURE *ret_sig);

/*
 * Validate a PCR selection as found in a quote: every bank a supported hash
 * (sha1/256/384/512), present once; sizeofSelect 3, or 4 with the bits of
 * PCRs above 23 clear (this module knows 24 PCRs, as the PC Client
 * platform specifies). KS_ERR_QUOTE_PCR_SELECTION otherwise. An empty
 * selection is valid (the TPM allows it); callers that need PCRs check
 * coverage themselves.
 */
KS_WUR int ks_pcr_selection_validate(const TPML_PCR_SELECTION *sel);

/* Bitmask (bit i = PCR i) of the PCRs one TPMS_PCR_SELECTION selects,
 * limited to its sizeofSelect bytes. */
uint32_t ks_pcr_selection_mask(const TPMS_PCR_SELECTION *s);

/* Total number of selected PCRs over all banks (of a validated selection). */
unsigned ks_pcr_selection_count(const TPML_PCR_SELECTION *sel);

/* Whether the selection selects PCR `index` in bank `alg`. */
bool ks_pcr_selection_has(const TPML_PCR_SELECTION *sel, uint16_t alg, unsigned index);

/* Format a selection the way tpm2-tools spells it, "sha256:0,1,2+sha1:7",
 * into buf (always NUL-terminated). Returns the length it needed. */
size_t ks_pcr_selection_format(const TPML_PCR_SELECTION *sel, char *buf, size_t len);

#endif
