/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_LOADER_TPM_EK_H
#define KS_LOADER_TPM_EK_H

/*
 * The loader's endorsement key (TCG EK Credential Profile for TPM Family
 * 2.0, version 2.x): its certificate read from NV, the EK re-created as a
 * primary key of the endorsement hierarchy from the profile's template that
 * matches the certificate (RSA 2048 template L-1, ECC P-256 template L-2,
 * ECC P-384 template H-3), and TPM2_ActivateCredential (TPM 2.0 Part 3,
 * 12.5) with the EK's policy session: PolicySecret(TPM_RH_ENDORSEMENT),
 * followed for the high-range templates by the PolicyOR of their PolicyB.
 *
 * The endorsement hierarchy's authorization is assumed empty (the default,
 * and what the TCG guidance recommends for EK access).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tss2/tss2_tpm2_types.h>

#include "ks_error.h"
#include "tpm_esys.h"

enum ks_tpm_ek_kind {
    KS_TPM_EK_RSA2048, /* NV 0x01c00002, template L-1 */
    KS_TPM_EK_ECC,     /* P-384 (0x01c00016, H-3) if its certificate exists, else P-256 */
    KS_TPM_EK_ECC256,  /* NV 0x01c0000a, template L-2 */
    KS_TPM_EK_ECC384,  /* NV 0x01c00016, template H-3 */
};

/* "rsa", "ecc", "ecc256", "ecc384". KS_ERR_INVALID_ARG otherwise. */
KS_WUR int ks_tpm_ek_kind_parse(const char *s, enum ks_tpm_ek_kind *ret);

/* A loaded EK. Borrows its struct ks_tpm. */
struct ks_tpm_ek;

/*
 * Read the EK certificate of `kind` from NV (without the padding TPMs leave
 * after it; KS_ERR_NOT_FOUND when the index is not defined), create the EK
 * from the matching template and check that the certificate certifies it
 * (KS_ERR_EKCERT_KEY_MISMATCH: the TPM uses another template). Without a
 * certificate the EK is created from the kind's template (ECC: P-256) and
 * has no certificate. KS_ERR_TPM_CMD when a command fails.
 */
KS_WUR int ks_tpm_ek_open(struct ks_tpm *tpm, enum ks_tpm_ek_kind kind, struct ks_tpm_ek **ret);

/* Flush the EK. NULL is a no-op. */
void ks_tpm_ek_free(struct ks_tpm_ek *ek);

/* Its public area, marshaled TPM2B_PUBLIC (newly allocated), certificate
 * (DER, NULL when none; owned by ek) and Name in hex. */
const TPMT_PUBLIC *ks_tpm_ek_public_area(const struct ks_tpm_ek *ek);
KS_WUR int ks_tpm_ek_public(const struct ks_tpm_ek *ek, uint8_t **ret, size_t *ret_len);
const uint8_t *ks_tpm_ek_cert(const struct ks_tpm_ek *ek, size_t *ret_len);
KS_WUR int ks_tpm_ek_name_hex(const struct ks_tpm_ek *ek, char *ret_hex);

/* Read an NV index entirely (public size, chunked reads, authorized by the
 * index itself). KS_ERR_NOT_FOUND when it is not defined. */
KS_WUR int ks_tpm_nv_read(struct ks_tpm *tpm, uint32_t index, uint8_t **ret, size_t *ret_len);

/*
 * TPM2_ActivateCredential: `ak` (its authValue through its session, which
 * also encrypts the returned secret) activated by `ek` (policy session).
 * ret_secret holds KS_MAX_DIGEST bytes. The TPM refuses (KS_ERR_TPM_CMD)
 * a credential for another Name or another EK.
 */
KS_WUR int ks_tpm_activate_credential(struct ks_tpm *tpm, struct ks_tpm_ek *ek,
                                      struct ks_tpm_ak *ak, const TPM2B_ID_OBJECT *blob,
                                      const TPM2B_ENCRYPTED_SECRET *enc, uint8_t *ret_secret,
                                      size_t *ret_secret_len);

#endif
