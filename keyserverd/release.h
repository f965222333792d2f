/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_KEYSERVERD_RELEASE_H
#define KS_KEYSERVERD_RELEASE_H

/*
 * The release decision's interface: a typed, validated request in, a
 * result out, with no JSON or HTTP types, so the key-holding part can move
 * into its own process later (STYLE "Keep untrusted parsing away from key
 * material"). ep_release.c parses the JSON into struct ks_release_request
 * and formats struct ks_release_result; ks_release_decide() does every
 * check of DESIGN "Protocol", POST /v1/release.
 */

#include <stddef.h>
#include <stdint.h>

#include "ks_error.h"
#include "pcr.h"
#include "tpm_alg.h"
#include "keyserverd/nonce.h"

struct ks_server_ctx;

#define KS_RELEASE_MAX_KEYS 16
#define KS_KEY_NAME_MAX 64
#define KS_RELEASE_HPKE_PK_LEN 32
#define KS_RELEASE_ENC_LEN 32
/* An AK's TPM Name: 2-byte nameAlg followed by its digest. */
#define KS_AK_NAME_MAX (2 + KS_MAX_DIGEST)
/* Caps on the submitted evidence (decoded sizes). A marshalled TPMS_ATTEST
 * of a quote is a few hundred bytes; a TPMT_SIGNATURE at most 518 (RSA
 * 4096). */
#define KS_RELEASE_MAX_ATTEST 4096
#define KS_RELEASE_MAX_SIGNATURE 1024
#define KS_RELEASE_MAX_EVENT_LOG (4u * 1024 * 1024)
#define KS_RELEASE_MAX_IMA_LOG (16u * 1024 * 1024)
#define KS_RELEASE_MAX_APP_LOG (1024u * 1024)

struct ks_key_ref {
    char name[KS_KEY_NAME_MAX + 1]; /* [A-Za-z0-9._-]{1,64} */
    uint32_t version;               /* 0: the key's active version ("name") */
};

struct ks_release_request {
    uint8_t ak_name[KS_AK_NAME_MAX]; /* from "ak_id" (lowercase hex) */
    size_t ak_name_len;
    uint8_t nonce[KS_NONCE_LEN];
    uint8_t hpke_pk[KS_RELEASE_HPKE_PK_LEN]; /* raw X25519 public key */
    struct ks_key_ref keys[KS_RELEASE_MAX_KEYS];
    size_t n_keys;   /* 1..KS_RELEASE_MAX_KEYS, no (name, version) twice */
    uint8_t *attest; /* TPMS_ATTEST as signed, no size prefix */
    size_t attest_len;
    uint8_t *signature; /* TPMT_SIGNATURE */
    size_t signature_len;
    struct ks_pcr_set pcrs; /* the submitted PCR values */
    uint8_t *event_log;     /* NULL when absent */
    size_t event_log_len;
    uint8_t *ima_log;
    size_t ima_log_len;
    uint8_t *app_log;
    size_t app_log_len;
    uint8_t body_sha256[32]; /* SHA-256 of the exact request body */
};

void ks_release_request_free(struct ks_release_request *req);

struct ks_released_key {
    char name[KS_KEY_NAME_MAX + 1];
    uint32_t version;
    uint8_t enc[KS_RELEASE_ENC_LEN]; /* HPKE encapsulated key */
    uint8_t *ciphertext;             /* HPKE ciphertext of the key */
    size_t ciphertext_len;
    /* k-of-n share metadata of the version (all 0: a whole key) */
    uint8_t share_index, share_threshold, share_count;
};

struct ks_release_result {
    struct ks_released_key keys[KS_RELEASE_MAX_KEYS];
    size_t n_keys;
    uint8_t *receipt_payload; /* JSON bytes, see DESIGN */
    size_t receipt_payload_len;
    uint8_t *receipt_signature; /* ECDSA P-256 / SHA-256, DER */
    size_t receipt_signature_len;
    /* Why a release was refused, for the log and the audit trail only
     * (clients get the error code); NULL, a static string or reason_buf. */
    const char *reason;
    char reason_buf[256];
};

/* Frees the buffers (ciphertexts are wiped) and zeroes the struct. NULL is a
 * no-op. */
void ks_release_result_clear(struct ks_release_result *res);

/*
 * Decide a release: KS_OK with every requested key in res (all or none), or
 * a negative KS_ERR_* (KS_ERR_NONCE_*, KS_ERR_ATTESTATION, KS_ERR_POLICY_DENIED,
 * KS_ERR_NONCE_CACHE_FULL, ...) with nothing in res but `reason`. res must
 * be zeroed by the caller.
 */
KS_WUR int ks_release_decide(struct ks_server_ctx *ctx, const struct ks_release_request *req,
                             struct ks_release_result *res);

#endif
