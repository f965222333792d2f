/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_QUOTE_H
#define KS_QUOTE_H

/*
 * TPM2_Quote verification (TPM 2.0 Part 3, 18.4), the core of the release
 * decision. ks_quote_verify() checks, in this order, each failure with its
 * own code:
 *   1. the TPMT_SIGNATURE decodes (KS_ERR_QUOTE_SIG_MALFORMED) and its scheme
 *      fits the key: RSASSA or RSAPSS for RSA keys, ECDSA for EC keys, hash
 *      SHA-256 or SHA-384, and equal to the AK's own scheme when its public
 *      area names one (KS_ERR_QUOTE_SIG_SCHEME);
 *   2. the signature over H(attest bytes) verifies (KS_ERR_QUOTE_SIG_INVALID);
 *      nothing of the attest is parsed before this;
 *   3. the TPMS_ATTEST decodes (KS_ERR_TPM_UNMARSHAL / KS_ERR_TPM_TRAILING),
 *      magic is TPM_GENERATED_VALUE (KS_ERR_QUOTE_MAGIC), type is
 *      TPM_ST_ATTEST_QUOTE (KS_ERR_QUOTE_TYPE);
 *   4. extraData equals the expected bytes (KS_ERR_QUOTE_EXTRADATA);
 *   5. the PCR selection is valid (KS_ERR_QUOTE_PCR_SELECTION); when PCR
 *      values are supplied, they cover exactly the selected PCRs
 *      (KS_ERR_QUOTE_PCR_MISSING), and pcrDigest equals H_sig(values in
 *      selection order) (KS_ERR_QUOTE_PCR_DIGEST).
 *
 * SHA-1 and SHA-512 signatures are refused: SHA-1 is broken for signatures
 * and no TPM AK profile uses SHA-512 for quotes. The PCR banks themselves may
 * be any of sha1/256/384/512.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "ks_error.h"
#include "pcr.h"
#include "tpm_attest.h"
#include "tpm_public.h"

/* Largest TPMS_ATTEST / TPMT_SIGNATURE accepted, generous for any real TPM. */
#define KS_QUOTE_ATTEST_MAX 1024
#define KS_QUOTE_SIG_MAX 1024

/* An attestation key ready for verification: its public key, and its public
 * area when known (then its signing scheme is enforced). Opaque, immutable
 * once made, so one object can be cached and shared by threads. */
struct ks_quote_ak;

/*
 * Make an AK from its public area, from an EVP_PKEY, or from both.
 * - pub only: converts it (ks_tpm_public_to_evp);
 * - pkey only: the key is referenced (EVP_PKEY_up_ref), no scheme is
 *   enforced beyond step 1's rules; KS_ERR_TPM_KEY for unsupported keys;
 * - both: pkey is used as the verification key, after checking that it is
 *   the key of pub (KS_ERR_QUOTE_KEY_MISMATCH otherwise).
 */
KS_WUR int ks_quote_ak_new(const TPMT_PUBLIC *pub, EVP_PKEY *pkey, struct ks_quote_ak **ret_ak);
void ks_quote_ak_free(struct ks_quote_ak *ak);

/* The AK's public area, or NULL when it was made from a key alone. */
const TPMT_PUBLIC *ks_quote_ak_public(const struct ks_quote_ak *ak);

/* Decoded fields of a quote (Part 2, 10.12.12 TPMS_ATTEST, 10.12.1
 * TPMS_QUOTE_INFO, 10.11.1 TPMS_CLOCK_INFO), plain values. */
struct ks_quote_info {
    uint32_t magic;
    uint16_t type;
    TPM2B_NAME qualified_signer;
    TPM2B_DATA extra_data;
    uint64_t clock;
    uint32_t reset_count;
    uint32_t restart_count;
    bool safe;
    uint64_t firmware_version;
    /* Valid when type == TPM_ST_ATTEST_QUOTE. */
    TPML_PCR_SELECTION pcr_select;
    TPM2B_DIGEST pcr_digest;
    /* From the signature: TPM_ALG_RSASSA/RSAPSS/ECDSA and its hash. */
    uint16_t sig_alg;
    uint16_t sig_hash;
    /* True when ks_quote_verify() verified pcrDigest against supplied PCR
     * values; false when none were supplied. */
    bool pcr_digest_checked;
};

/*
 * Verify a quote (see the top of this file). pcrs may be NULL: then the
 * values and pcrDigest are not checked and info->pcr_digest_checked is
 * false; ks_quote_check_pcrs() can do it later. expected_extra may be NULL only with length 0 (the
 * quote must then have empty extraData). ret_info may be NULL.
 */
KS_WUR int ks_quote_verify(const struct ks_quote_ak *ak, const uint8_t *attest, size_t attest_len,
                           const uint8_t *sig, size_t sig_len, const uint8_t *expected_extra,
                           size_t expected_extra_len, const struct ks_pcr_set *pcrs,
                           struct ks_quote_info *ret_info);

/* Step 5 alone, on the info of a verified quote: validates the selection,
 * checks that pcrs holds exactly the selected PCRs and that their digest
 * with the signature's hash equals pcrDigest. Sets info->pcr_digest_checked
 * on success. */
KS_WUR int ks_quote_check_pcrs(struct ks_quote_info *info, const struct ks_pcr_set *pcrs);

/* pcrDigest computation (Part 3, 18.4.1: H(PCR values concatenated in
 * selection order: banks in list order, PCRs ascending)) with hash `alg`.
 * ret must hold ks_alg_digest_size(alg) bytes. KS_ERR_QUOTE_PCR_SELECTION
 * for an invalid selection, KS_ERR_QUOTE_PCR_MISSING when a selected value
 * is absent from pcrs. */
KS_WUR int ks_quote_pcr_digest(const TPML_PCR_SELECTION *sel, const struct ks_pcr_set *pcrs,
                               uint16_t alg, uint8_t *ret, size_t *ret_len);

/* Decode a quote's fields WITHOUT verifying anything (for display and
 * debugging only; never base a decision on it). The PCR fields are set only
 * for TPM_ST_ATTEST_QUOTE; the signature fields are left zero. */
KS_WUR int ks_quote_info_decode(const uint8_t *attest, size_t len, struct ks_quote_info *ret_info);

/* Turn "the selected PCR values concatenated in selection order" (what
 * tpm2_quote -F values writes) into a PCR set for that selection. The length
 * must match exactly (KS_ERR_QUOTE_PCR_MISSING otherwise). */
KS_WUR int ks_quote_pcrs_from_values(const TPML_PCR_SELECTION *sel, const uint8_t *buf, size_t len,
                                     struct ks_pcr_set *ret_pcrs);

/* Parse tpm2-tools' serialized PCR file (tpm2_quote -o, tpm2_pcrread -o,
 * default "serialized" format): a little-endian in-memory dump of
 * TPML_PCR_SELECTION (132 bytes), a u32 count and `count` TPML_DIGEST dumps
 * (532 bytes each) whose digests, in order, are the selected values in
 * selection order. KS_ERR_QUOTE_PCR_FILE when malformed or inconsistent.
 * ret_sel may be NULL. */
KS_WUR int ks_quote_pcrs_parse_tpm2_tools(const uint8_t *buf, size_t len,
                                          TPML_PCR_SELECTION *ret_sel, struct ks_pcr_set *ret_pcrs);

/* Names used in messages: "rsassa", "rsapss", "ecdsa", or NULL. */
const char *ks_quote_sig_alg_name(uint16_t sig_alg);

#endif
