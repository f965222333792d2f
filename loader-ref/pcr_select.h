/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_LOADER_PCR_SELECT_H
#define KS_LOADER_PCR_SELECT_H

/*
 * PCR selections as the loader's configuration and ks-attest spell them,
 * the tpm2-tools way: "sha256:0-7,15" or "sha1:0,7+sha256:0,1,2" (banks
 * separated by '+', in the order the quote will list them).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tss2/tss2_tpm2_types.h>

#include "ks_error.h"
#include "pcr.h"

/* Parse a selection: every bank a supported hash (sha1/256/384/512) named
 * once, at least one PCR per bank, PCR indexes 0..23 (ranges "a-b" with
 * a <= b), each PCR at most once per bank. sizeofSelect is 3 (24 PCRs, TCG
 * PC Client Platform TPM Profile). KS_ERR_INVALID_ARG when malformed. */
KS_WUR int ks_pcr_select_parse(const char *text, TPML_PCR_SELECTION *ret_sel);

/* Whether two selections are equal: the same banks in the same order, the
 * same PCRs (sizeofSelect may differ when the extra bytes are zero). */
bool ks_pcr_select_equal(const TPML_PCR_SELECTION *a, const TPML_PCR_SELECTION *b);

/* The selected values concatenated in selection order (banks in list order,
 * PCRs ascending: the order of TPM 2.0 Part 3, 18.4 and of `tpm2_quote -F
 * values`), newly allocated. KS_ERR_QUOTE_PCR_MISSING when a selected value
 * is not in pcrs, KS_ERR_QUOTE_PCR_SELECTION for an unsupported bank. */
KS_WUR int ks_pcr_select_values(const TPML_PCR_SELECTION *sel, const struct ks_pcr_set *pcrs,
                                uint8_t **ret_buf, size_t *ret_len);

#endif
