/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_LOADER_TPM_ESYS_INTERNAL_H
#define KS_LOADER_TPM_ESYS_INTERNAL_H

/* For the other TPM users of loader-ref (tpm_ek.c: the EK and
 * TPM2_ActivateCredential): the ESYS context of a struct ks_tpm, the AK's
 * object and session handles, and the recording of a failed command for
 * ks_tpm_last_rc(). Defined in tpm_esys.c. */

#include <tss2/tss2_esys.h>

#include "tpm_esys.h"

ESYS_CONTEXT *ks_tpm_esys_context(struct ks_tpm *tpm);
/* The loaded AK, and its salted HMAC session (continueSession set). */
ESYS_TR ks_tpm_ak_handle(const struct ks_tpm_ak *ak);
ESYS_TR ks_tpm_ak_session(const struct ks_tpm_ak *ak);
/* Record `what` failing with rc; returns KS_ERR_TPM_CMD. */
int ks_tpm_fail(struct ks_tpm *tpm, const char *what, TSS2_RC rc);

#endif
