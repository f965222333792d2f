/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_LOADER_AK_H
#define KS_LOADER_AK_H

/*
 * The loader's attestation key (DESIGN "Trust model"): made fresh at every
 * start with a random authValue in locked memory (tpm_esys.h) and enrolled
 * with the keyserver through the EK (enroll.h: TPM2_MakeCredential on the
 * keyserver, TPM2_ActivateCredential here; the EK is approved once per
 * machine, by a trusted EK CA or an admin), so that no other process can
 * quote with it and it dies with the loader.
 *
 * This is the one place where the loader gets its AK. TEST ONLY: with
 * ak_dir, an AK saved by `ks-attest ak-create --save-auth` and registered
 * by an admin (`ksctl ak add`) is loaded instead.
 */

#include <stdbool.h>

#include "http_client.h"
#include "ks_error.h"
#include "tpm_ek.h"
#include "tpm_esys.h"

/* Files of an AK saved by ks-attest are small TPM structures. */
#define KS_LOADER_AK_FILE_MAX (16 * 1024)

struct ks_loader_ak_config {
    const char *keyserver; /* base URL */
    const struct ks_http_opts *http;
    enum ks_tpm_ek_kind ek_kind;
    bool send_ek_cert;  /* false: the EK was approved by an admin */
    const char *ak_dir; /* TEST ONLY; NULL: enroll a fresh AK */
};

/* KS_ERR_EK_NOT_APPROVED when the keyserver activated the AK but waits for
 * an admin to approve the EK; the keyserver's refusals as
 * ks_attest_error_parse() maps them. */
KS_WUR int ks_loader_ak_get(struct ks_tpm *tpm, const struct ks_loader_ak_config *cfg,
                            struct ks_tpm_ak **ret);

#endif
