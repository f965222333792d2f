/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_LOADER_LAUNCH_TPM_H
#define KS_LOADER_LAUNCH_TPM_H

/*
 * What the measured launcher (ks-launch) asks of the TPM, through tpm2-tss
 * ESYS and the TCTI loader: which PCR banks are allocated, the application
 * PCR's values, and TPM2_PCR_Extend. No keys, no sessions beyond the empty
 * password authorization of the PCR (PC Client Platform TPM Profile: PCRs
 * 0-15 need no authorization to extend at locality 0).
 */

#include <stddef.h>
#include <stdint.h>

#include <tss2/tss2_tpm2_types.h>

#include "ks_error.h"

struct ks_launch_tpm;

/* Open the TPM (tcti as for ks_tpm_open: NULL means $KS_TCTI, else
 * /dev/tpmrm0). KS_ERR_TPM_TCTI when it cannot be opened. */
KS_WUR int ks_launch_tpm_open(const char *tcti, struct ks_launch_tpm **ret);

/* NULL is a no-op. */
void ks_launch_tpm_close(struct ks_launch_tpm *t);

/* The TSS return code and command name of the last failure, for messages. */
uint32_t ks_launch_tpm_last_rc(const struct ks_launch_tpm *t, const char **ret_what);

/* The banks in which `pcr` is allocated (TPM2_GetCapability TPM2_CAP_PCRS,
 * TPM 2.0 Part 3, 30.2), in the TPM's order; at most `max`.
 * KS_ERR_TPM_ALG when an allocated bank is not a hash this project supports
 * (sha1, sha256, sha384, sha512): the launcher could not measure into it, and
 * a bank left at its reset value would let anyone who quotes it claim any
 * loader. KS_ERR_TPM_PCR_BANK when no bank has the PCR. */
KS_WUR int ks_launch_tpm_banks(struct ks_launch_tpm *t, uint32_t pcr, uint16_t *ret_algs,
                               size_t max, size_t *ret_n);

/* TPM2_PCR_Read of one PCR in one bank; ret holds the digest size. */
KS_WUR int ks_launch_tpm_read(struct ks_launch_tpm *t, uint32_t pcr, uint16_t alg, uint8_t *ret,
                              size_t size);

/* TPM2_PCR_Extend (TPM 2.0 Part 3, 22.2) of `pcr` with one digest per bank. */
KS_WUR int ks_launch_tpm_extend(struct ks_launch_tpm *t, uint32_t pcr,
                                const TPML_DIGEST_VALUES *digests);

#endif
