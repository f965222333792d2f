/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_KEYSERVERD_ENROLL_H
#define KS_KEYSERVERD_ENROLL_H

/*
 * AK enrollment (DESIGN "Protocol"; docs/ARCHITECTURE.md "Enrollment"):
 *
 *   POST /v1/enroll {ek_pub, ek_cert?, ak_pub}
 *     -> {enrollment_id, credential_blob, encrypted_secret, expires, ak_id, ek_name}
 *   POST /v1/enroll/{id}/activate {secret}
 *     -> {ak_id, ek_name, status: "active" | "pending_ek_approval"}
 *
 * The JSON bodies are parsed into typed requests here (enroll_request.c);
 * the decisions (enroll.c) see no JSON and no HTTP. Every refusal is
 * audited with its reason.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tss2/tss2_tpm2_types.h>

#include "db/store.h"
#include "ks_error.h"
#include "keyserverd/state.h"
#include "tpm_public.h"

/* Largest TPM2B_PUBLIC and EK certificate accepted in a request. */
#define KS_ENROLL_MAX_PUBLIC 1024
#define KS_ENROLL_MAX_CERT 8192
/* Size of the credential secret: 32 bytes (less for a SHA-1 EK, whose
 * credential holds at most a SHA-1 digest, TPM 2.0 Part 3, 12.6.1). */
#define KS_ENROLL_SECRET_LEN 32
#define KS_ENROLL_REASON_MAX 256

struct ks_enroll_request {
    TPMT_PUBLIC ek, ak;
    uint8_t ek_blob[KS_ENROLL_MAX_PUBLIC]; /* TPM2B_PUBLIC as received */
    size_t ek_blob_len;
    uint8_t ak_blob[KS_ENROLL_MAX_PUBLIC];
    size_t ak_blob_len;
    uint8_t *ek_cert; /* DER, NULL when absent */
    size_t ek_cert_len;
    char ek_name[KS_TPM_NAME_HEX_MAX];
    char ak_id[KS_TPM_NAME_HEX_MAX];
    uint8_t ak_name[KS_TPM_NAME_MAX];
    size_t ak_name_len;
};

/* Parse and validate POST /v1/enroll's body: a JSON object with exactly
 * ek_pub, ak_pub (base64 TPM2B_PUBLIC, strictly decoded) and optionally
 * ek_cert (base64 DER). KS_ERR_BAD_REQUEST with the reason in detail,
 * KS_ERR_NOMEM. */
KS_WUR int ks_enroll_request_parse(const uint8_t *body, size_t len, struct ks_enroll_request **ret,
                                   char *detail, size_t dlen);
void ks_enroll_request_free(struct ks_enroll_request *req);

/* Parse POST /v1/enroll/{id}/activate: the id (32 lowercase hex digits;
 * KS_ERR_ENROLL_UNKNOWN otherwise) and the body {secret: base64}
 * (KS_ERR_BAD_REQUEST). ret_secret holds KS_STORE_ENROLL_SECRET_MAX
 * bytes. */
KS_WUR int ks_enroll_activate_parse(const char *id, const uint8_t *body, size_t len,
                                    uint8_t *ret_secret, size_t *ret_secret_len, char *detail,
                                    size_t dlen);

struct ks_enroll_result {
    char id[KS_STORE_ENROLL_ID_LEN + 1];
    TPM2B_ID_OBJECT blob;
    TPM2B_ENCRYPTED_SECRET enc;
    uint64_t expires;
    char reason[KS_ENROLL_REASON_MAX]; /* why it was refused */
};

/*
 * Decide POST /v1/enroll: the AK must be a restricted signing key that
 * cannot leave its TPM (restricted, sign, fixedTPM, fixedParent,
 * sensitiveDataOrigin, userWithAuth, not decrypt) of a supported type; the
 * EK a restricted decryption key (fixedTPM, fixedParent) with an AES-CFB
 * symmetric definition; neither ROCA-weak. A certificate must parse, certify
 * exactly this EK and chain to an EK CA of the store at the current time,
 * unrevoked. Without one the EK must be known and approved by an admin
 * (checked in the store's transaction). Then a fresh secret is wrapped with
 * TPM2_MakeCredential to the EK for the AK's Name and the enrollment
 * recorded. Refusals: KS_ERR_TPM_ATTRIBUTES / KS_ERR_TPM_KEY /
 * KS_ERR_ROCA_WEAK / KS_ERR_EKCERT_* / KS_ERR_EK_NOT_APPROVED /
 * KS_ERR_EK_REVOKED / KS_ERR_ENROLL_REFUSED / KS_ERR_ENROLL_TOO_MANY, each
 * audited, with ret->reason set.
 */
KS_WUR int ks_enroll_decide(struct ks_server_ctx *ctx, const struct ks_enroll_request *req,
                            const char *client, struct ks_enroll_result *ret);

/* Decide POST /v1/enroll/{id}/activate (ks_store_enroll_activate). */
KS_WUR int ks_enroll_activate(struct ks_server_ctx *ctx, const char *id, const uint8_t *secret,
                              size_t secret_len, const char *client,
                              struct ks_store_enroll_result *ret);

#endif
