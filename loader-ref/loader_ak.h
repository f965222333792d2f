/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_LOADER_AK_H
#define KS_LOADER_AK_H

/*
 * The loader's attestation key (DESIGN "Trust model"): made fresh at every
 * start with a random authValue in locked memory (tpm_esys.h) and enrolled
 * with the keyserver through the EK (TPM2_MakeCredential /
 * TPM2_ActivateCredential; the EK is approved once per machine), so that no
 * other process can quote with it and it dies with the loader.
 *
 * This is the one place where the loader gets its AK, so that the
 * enrollment flow can change without touching the rest. TEST ONLY: with
 * ak_dir, an AK saved by `ks-attest ak-create --save-auth` and registered by
 * an admin (`ksctl ak add`) is loaded instead.
 */

#include "http_client.h"
#include "ks_error.h"
#include "tpm_esys.h"

/* Files of an AK saved by ks-attest are small TPM structures. */
#define KS_LOADER_AK_FILE_MAX (16 * 1024)

KS_WUR int ks_loader_ak_get(struct ks_tpm *tpm, const char *ak_dir, const char *keyserver,
                            const struct ks_http_opts *http, struct ks_tpm_ak **ret);

#endif
