/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_LOADER_TPM_ESYS_H
#define KS_LOADER_TPM_ESYS_H

/*
 * The loader's TPM access through tpm2-tss ESYS and the TCTI loader:
 * a primary storage key (SRK), an attestation key (AK) under it with a
 * random authValue, quotes and PCR reads.
 *
 * Every transient object is flushed on every path: the SRK as soon as the
 * AK is loaded, the AK and its session by ks_tpm_ak_free(). Only the AK (and
 * one salted HMAC session) stay loaded while a struct ks_tpm_ak lives.
 *
 * The AK's authValue is 32 random bytes (TPM2_GetRandom, read through an
 * encrypted session, mixed with OpenSSL's RAND_bytes) in OpenSSL's secure
 * heap (locked and excluded from core dumps when the program has called
 * CRYPTO_secure_malloc_init), wiped on free. It reaches the TPM only as an
 * encrypted command parameter (TPM2_Create's inSensitive, TPM 2.0 Part 1,
 * 21 "Session-based encryption") and is used only through HMAC
 * authorizations, so it never crosses the TPM interface in clear text.
 * tpm2-tss keeps its own copy inside the ESYS context while the AK is
 * loaded (tpm2-tss does not wipe it).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tss2/tss2_tpm2_types.h>

#include "ks_error.h"
#include "pcr.h"
#include "tpm_public.h"

#define KS_TPM_DEFAULT_TCTI "device:/dev/tpmrm0"
#define KS_TPM_AK_AUTH_LEN 32
/* Largest qualifyingData accepted for a quote (TPM2B_DATA holds a TPMT_HA;
 * 64 bytes covers every digest). */
#define KS_TPM_QUALIFYING_MAX 64
/* How many times a quote is retried when a PCR changed between the quote
 * and the PCR read. */
#define KS_TPM_QUOTE_TRIES 5

/* An open TPM: TCTI and ESYS contexts. Not thread-safe. */
struct ks_tpm;
/* A loaded attestation key. Borrows its struct ks_tpm, which must outlive it. */
struct ks_tpm_ak;

enum ks_tpm_ak_type {
    KS_TPM_AK_ECC_P256, /* ECC NIST P-256, ECDSA with SHA-256 (default) */
    KS_TPM_AK_RSA_2048, /* RSA 2048, RSASSA-PKCS1-v1_5 with SHA-256 */
};

/* A TPM quote with the PCR values it covers. */
struct ks_tpm_quote {
    uint8_t *attest; /* raw TPMS_ATTEST: the signed bytes, no size prefix */
    size_t attest_len;
    uint8_t *sig; /* marshaled TPMT_SIGNATURE */
    size_t sig_len;
    TPML_PCR_SELECTION sel; /* the selection the quote reports */
    struct ks_pcr_set pcrs; /* the selected values; their digest is the quote's */
};

/* The TCTI to use when none is given: $KS_TCTI, else KS_TPM_DEFAULT_TCTI. */
const char *ks_tpm_default_tcti(void);

/* Open the TPM through Tss2_TctiLdr_Initialize (e.g. "device:/dev/tpmrm0",
 * "swtpm:host=127.0.0.1,port=2321"; NULL: ks_tpm_default_tcti()) and
 * Esys_Initialize. KS_ERR_TPM_TCTI when either fails. */
KS_WUR int ks_tpm_open(const char *tcti, struct ks_tpm **ret_tpm);

/* Finalize ESYS (which closes what is still open in the context) and the
 * TCTI. NULL is a no-op. */
void ks_tpm_close(struct ks_tpm *tpm);

/* The TSS return code of the last failed TPM command and the name of that
 * command ("Esys_Create", ...), for messages; 0 and "" when none failed. */
uint32_t ks_tpm_last_rc(const struct ks_tpm *tpm, const char **ret_what);

/* Create a fresh AK under a transient SRK (TCG TPM v2.0 Provisioning
 * Guidance 7.5.1, ECC NIST P-256 storage template) of the owner hierarchy
 * (empty owner auth): restricted | sign | fixedTPM | fixedParent |
 * sensitiveDataOrigin | userWithAuth, no decrypt, with a random authValue;
 * load it and flush the SRK. KS_ERR_TPM_CMD when a TPM command fails. */
KS_WUR int ks_tpm_ak_create(struct ks_tpm *tpm, enum ks_tpm_ak_type type,
                            struct ks_tpm_ak **ret_ak);

/* TEST ONLY: load an AK saved with ks_tpm_ak_private() / ks_tpm_ak_public()
 * / ks_tpm_ak_auth() under the re-created SRK. A real loader's AK lives only
 * as long as the process: storing its authValue lets any process that reads
 * the file quote with it. The public area must pass ks_tpm_public_check_ak()
 * (KS_ERR_TPM_ATTRIBUTES otherwise). */
KS_WUR int ks_tpm_ak_load(struct ks_tpm *tpm, const uint8_t *priv, size_t priv_len,
                          const uint8_t *pub, size_t pub_len, const uint8_t *auth, size_t auth_len,
                          struct ks_tpm_ak **ret_ak);

/* Flush the AK and its session, wipe the authValue, free. NULL is a no-op. */
void ks_tpm_ak_free(struct ks_tpm_ak *ak);

/* The AK's public area, decoded, and marshaled as TPM2B_PUBLIC
 * (Tss2_MU_TPM2B_PUBLIC_Marshal; newly allocated). */
const TPMT_PUBLIC *ks_tpm_ak_public_area(const struct ks_tpm_ak *ak);
KS_WUR int ks_tpm_ak_public(const struct ks_tpm_ak *ak, uint8_t **ret_buf, size_t *ret_len);

/* The AK's TPM Name as the TPM computed it (Esys_TR_GetName), in lowercase
 * hex: the protocol's ak_id. ret_hex holds KS_TPM_NAME_HEX_MAX bytes. */
KS_WUR int ks_tpm_ak_name_hex(const struct ks_tpm_ak *ak, char *ret_hex);

/* TEST ONLY (see ks_tpm_ak_load): the marshaled TPM2B_PRIVATE of an AK made
 * by ks_tpm_ak_create (KS_ERR_NOT_FOUND for a loaded one), and the
 * authValue (a pointer into the AK's secure memory, KS_TPM_AK_AUTH_LEN
 * bytes, valid while the AK lives). */
KS_WUR int ks_tpm_ak_private(const struct ks_tpm_ak *ak, uint8_t **ret_buf, size_t *ret_len);
const uint8_t *ks_tpm_ak_auth(const struct ks_tpm_ak *ak);

/* TPM2_Quote (TPM 2.0 Part 3, 18.4) with the AK's own scheme over `sel`,
 * then TPM2_PCR_Read of the quoted PCRs (at most 8 values per call: it
 * loops). The values are checked against the quote (signature, extraData,
 * pcrDigest, with lib/quote's ks_quote_verify) and the quote is retried, up
 * to KS_TPM_QUOTE_TRIES times, when a PCR changed in between
 * (KS_ERR_TPM_PCR_RACE when it keeps changing). KS_ERR_TPM_PCR_BANK when
 * the TPM leaves a selected bank or PCR out of the quote (a bank that is not
 * allocated). ret is cleared with ks_tpm_quote_clear(). */
KS_WUR int ks_tpm_quote(struct ks_tpm *tpm, struct ks_tpm_ak *ak, const uint8_t *qualifying,
                        size_t qualifying_len, const TPML_PCR_SELECTION *sel,
                        struct ks_tpm_quote *ret);

/* Free a quote's buffers and zero it. NULL is a no-op. */
void ks_tpm_quote_clear(struct ks_tpm_quote *q);

/* TPM2_PCR_Read (TPM 2.0 Part 3, 22.4) of every PCR in sel into ret_pcrs
 * (initialized here). KS_ERR_TPM_PCR_BANK when the TPM does not return a
 * selected PCR. */
KS_WUR int ks_tpm_pcr_read(struct ks_tpm *tpm, const TPML_PCR_SELECTION *sel,
                           struct ks_pcr_set *ret_pcrs);

#endif
