/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_LOADER_ENROLL_H
#define KS_LOADER_ENROLL_H

/*
 * The loader's side of AK enrollment (DESIGN "Protocol",
 * docs/ARCHITECTURE.md "Enrollment"):
 *
 *   1. the EK and its certificate from NV (tpm_ek.h), the AK's public area;
 *   2. POST /v1/enroll {ek_pub, ek_cert?, ak_pub}
 *      -> {enrollment_id, credential_blob, encrypted_secret, expires, ak_id, ek_name};
 *   3. TPM2_ActivateCredential: the TPM releases the secret only to the AK
 *      whose Name the keyserver bound it to, in the TPM of that EK;
 *   4. POST /v1/enroll/{id}/activate {secret} -> {ak_id, ek_name, status}.
 *
 * enroll_json.c holds the pure parts (JSON in and out), enroll.c the flow.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tss2/tss2_tpm2_types.h>

#include "attest.h"
#include "http_client.h"
#include "ks_error.h"
#include "tpm_ek.h"
#include "tpm_esys.h"
#include "tpm_public.h"

#define KS_ENROLL_CLIENT_ID_LEN 32

/* The POST /v1/enroll body (compact JSON, newly allocated): ek_pub and
 * ak_pub are marshaled TPM2B_PUBLICs, ek_cert DER (NULL: left out). */
KS_WUR int ks_enroll_client_request(const uint8_t *ek_pub, size_t ek_pub_len,
                                    const uint8_t *ek_cert, size_t ek_cert_len,
                                    const uint8_t *ak_pub, size_t ak_pub_len, char **ret_json,
                                    size_t *ret_len);

/* A 200 answer of /v1/enroll. */
struct ks_enroll_client_challenge {
    char id[KS_ENROLL_CLIENT_ID_LEN + 1];
    TPM2B_ID_OBJECT blob;
    TPM2B_ENCRYPTED_SECRET enc;
    int64_t expires;
    char ak_id[KS_TPM_NAME_HEX_MAX];
    char ek_name[KS_TPM_NAME_HEX_MAX];
};

/* Parse it strictly: exactly those members, the id 32 lowercase hex digits,
 * the structures decoding exactly. KS_ERR_RESP_JSON, KS_ERR_RESP_DUPLICATE,
 * KS_ERR_RESP_MISSING, KS_ERR_RESP_TYPE, KS_ERR_RESP_UNKNOWN,
 * KS_ERR_RESP_VALUE, KS_ERR_BASE64. */
KS_WUR int ks_enroll_client_challenge_parse(const uint8_t *body, size_t len,
                                            struct ks_enroll_client_challenge *ret);

/* The activation body {"secret": base64}, newly allocated (it holds the
 * secret: the caller wipes it). */
KS_WUR int ks_enroll_client_activation(const uint8_t *secret, size_t secret_len, char **ret_json,
                                       size_t *ret_len);

/* A 200 answer of /v1/enroll/{id}/activate. */
struct ks_enroll_client_outcome {
    char ak_id[KS_TPM_NAME_HEX_MAX];
    char ek_name[KS_TPM_NAME_HEX_MAX];
    bool active; /* false: "pending_ek_approval" */
};

KS_WUR int ks_enroll_client_outcome_parse(const uint8_t *body, size_t len,
                                          struct ks_enroll_client_outcome *ret);

struct ks_enroll_client_config {
    const char *server; /* base URL */
    const struct ks_http_opts *http;
    enum ks_tpm_ek_kind ek_kind;
    bool send_cert; /* false: enroll without the certificate (an EK an admin approved) */
};

/*
 * The whole enrollment of `ak` (steps 1-4 above). The keyserver's answers
 * must name this AK and this EK (KS_ERR_RESP_VALUE otherwise). On a refusal
 * ret_err (may be NULL) holds what the server said; the KS_ERR_* is
 * ks_attest_error_parse's. KS_ERR_TPM_CMD when ActivateCredential fails
 * (a credential not for this AK, or not for this TPM's EK).
 */
KS_WUR int ks_enroll_client_run(struct ks_tpm *tpm, struct ks_tpm_ak *ak,
                                const struct ks_enroll_client_config *cfg,
                                struct ks_enroll_client_outcome *ret,
                                struct ks_attest_error *ret_err);

/* For the loader (ks_loader_ak_get): a fresh ECC P-256 AK with a random
 * authValue (ks_tpm_ak_create), enrolled. The AK is returned only when the
 * keyserver activated it and its EK is approved (KS_ERR_EK_NOT_APPROVED
 * when it waits for an admin: the AK could not release anything yet). */
KS_WUR int ks_enroll_client_fresh_ak(struct ks_tpm *tpm, const struct ks_enroll_client_config *cfg,
                                     struct ks_tpm_ak **ret_ak,
                                     struct ks_enroll_client_outcome *ret,
                                     struct ks_attest_error *ret_err);

#endif
