/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_LOADER_ATTEST_H
#define KS_LOADER_ATTEST_H

/*
 * The loader's side of POST /v1/challenge and POST /v1/release (DESIGN
 * "Protocol"): the evidence (a TPM quote bound to the keyserver's nonce and
 * to a one-time HPKE key), the request JSON, and the strict parsing and
 * HPKE opening of the response.
 *
 * attest_json.c holds the pure parts (JSON in, JSON out, no TPM and no
 * network), so the unit tests exercise them directly; attest.c runs the
 * flow: challenge, HPKE key pair, quote, request, response.
 *
 * Released keys and the HPKE private key live only in OpenSSL's secure heap
 * (locked, excluded from core dumps when the program has called
 * CRYPTO_secure_malloc_init) and are wiped on every path.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tss2/tss2_tpm2_types.h>

#include "http_client.h"
#include "ks_error.h"
#include "pcr.h"
#include "tpm_esys.h"

#define KS_ATTEST_NONCE_LEN 32
#define KS_ATTEST_HPKE_PK_LEN 32
#define KS_ATTEST_BINDING_LEN 32
#define KS_ATTEST_MAX_KEYS 16
#define KS_ATTEST_KEY_NAME_MAX 64
/* Longest key reference: a name and "@" and a 10-digit version. */
#define KS_ATTEST_KEY_REF_MAX (KS_ATTEST_KEY_NAME_MAX + 11)
/* Largest released key (plaintext): DEKs and HPKE private keys are 32
 * bytes, Shamir shares a little more. */
#define KS_ATTEST_KEY_MAX 1024
/* Caps on the receipt (decoded). */
#define KS_ATTEST_RECEIPT_PAYLOAD_MAX (64 * 1024)
#define KS_ATTEST_RECEIPT_SIG_MAX 256
/* Caps on the logs sent along (the keyserver's own limits). */
#define KS_ATTEST_EVENT_LOG_MAX (4u * 1024 * 1024)
#define KS_ATTEST_IMA_LOG_MAX (16u * 1024 * 1024)
#define KS_ATTEST_APP_LOG_MAX (1024u * 1024)

/* The protocol's label: "ks-release-v1", used with a 0x00 separator in the
 * quote binding and in the HPKE info. */
#define KS_ATTEST_LABEL "ks-release-v1"

/* One released key: the key bytes are in the secure heap. A key version
 * that is one share of a k-of-n split (DESIGN "Scale and independence")
 * says so with its share metadata; all three are 0 for a whole key. */
struct ks_attest_key {
    char name[KS_ATTEST_KEY_NAME_MAX + 1];
    uint32_t version;
    uint8_t *key;
    size_t key_len;
    uint8_t share_index;     /* 1..share_count; 0: a whole key */
    uint8_t share_threshold; /* k: 1..share_count */
    uint8_t share_count;     /* n: 1..255 */
};

/* A successful release: every requested key, in request order, and the
 * receipt as received (payload JSON bytes, DER ECDSA signature), not yet
 * verified. */
struct ks_attest_result {
    struct ks_attest_key keys[KS_ATTEST_MAX_KEYS];
    size_t n_keys;
    uint8_t *receipt_payload;
    size_t receipt_payload_len;
    uint8_t *receipt_signature;
    size_t receipt_signature_len;
    /* Set by ks_attest_release: SHA-256 of the exact request body sent and
     * of the one-time HPKE public key, which the receipt must name
     * (ks_statement_receipt_check). has_request false: not checked (a
     * response parsed on its own). */
    bool has_request;
    uint8_t request_sha256[32];
    uint8_t hpke_pk_sha256[32];
};

/* Wipes and frees the keys, frees the rest. NULL is a no-op. */
void ks_attest_result_free(struct ks_attest_result *res);

/* What the keyserver answered when it refused: the HTTP status and its
 * {"error", "detail"} members, reduced to printable ASCII (other bytes
 * become '?') and truncated. Empty strings when absent. */
struct ks_attest_error {
    long http_status;
    char code[32];
    char detail[256];
};

/* The evidence for one release request. Logs are optional (NULL). */
struct ks_attest_evidence {
    const char *ak_id; /* the AK's TPM Name, lowercase hex */
    const uint8_t *nonce;
    const uint8_t *hpke_pk;
    const char *const *keys; /* key references: "name" or "name@VERSION" */
    size_t n_keys;
    const uint8_t *attest; /* raw TPMS_ATTEST */
    size_t attest_len;
    const uint8_t *sig; /* TPMT_SIGNATURE */
    size_t sig_len;
    const TPML_PCR_SELECTION *sel; /* the quote's selection */
    const struct ks_pcr_set *pcrs; /* exactly its values */
    const uint8_t *event_log;
    size_t event_log_len;
    const uint8_t *ima_log;
    size_t ima_log_len;
    const uint8_t *app_log;
    size_t app_log_len;
};

/* The quote's qualifying data (extraData):
 * SHA-256("ks-release-v1" || 0x00 || nonce (32 bytes) || hpke_pk (32 bytes)). */
KS_WUR int ks_attest_binding(const uint8_t nonce[KS_ATTEST_NONCE_LEN],
                             const uint8_t hpke_pk[KS_ATTEST_HPKE_PK_LEN],
                             uint8_t ret[KS_ATTEST_BINDING_LEN]);

/* A key reference as the protocol spells it: a name [A-Za-z0-9._-]{1,64},
 * optionally "@N" with N a decimal 1..4294967295 without leading zeros.
 * ret_name (KS_ATTEST_KEY_NAME_MAX + 1 bytes) and ret_version (0 for the
 * active version) may be NULL. KS_ERR_INVALID_ARG when malformed. */
KS_WUR int ks_attest_key_ref_parse(const char *ref, char *ret_name, uint32_t *ret_version);

/* Parse a /v1/challenge answer: {"nonce": base64 of 32 bytes, "expires":
 * integer}, nothing else. */
KS_WUR int ks_attest_challenge_parse(const uint8_t *body, size_t len,
                                     uint8_t ret_nonce[KS_ATTEST_NONCE_LEN], int64_t *ret_expires);

/* The /v1/release request JSON (compact, keys sorted), NUL-terminated and
 * newly allocated. The PCR map holds exactly the PCRs of ev->sel, as
 * {"sha256": {"0": "hex", ...}}. KS_ERR_INVALID_ARG for a bad key
 * reference, a key named twice, no keys or more than KS_ATTEST_MAX_KEYS,
 * a selected PCR missing from ev->pcrs, or an empty attest/signature. */
KS_WUR int ks_attest_request_build(const struct ks_attest_evidence *ev, char **ret_json,
                                   size_t *ret_len);

/* The same request as CBOR (RFC 8949), for Content-Type application/cbor:
 * one definite-length map with the JSON form's members, but "nonce",
 * "hpke_pk", "quote" {"attest", "signature"} and the optional "event_log",
 * "ima_log", "app_log" as byte strings (raw bytes, no base64), "pcrs" as
 * {bank name: {PCR index (unsigned integer): digest (byte string)}},
 * "ak_id" and "keys" as text strings. Definite lengths only, no tags,
 * shortest-form integers. Newly allocated (free()). The same checks and
 * the same errors as ks_attest_request_build. */
KS_WUR int ks_attest_request_build_cbor(const struct ks_attest_evidence *ev, uint8_t **ret_body,
                                        size_t *ret_len);

/*
 * Parse a 200 answer of /v1/release and open its keys:
 * {"keys": [{"name", "version", "enc", "ciphertext", "share"?}, ...],
 *  "receipt": {"payload", "signature"}}, nothing else, each member once
 * (JSON_REJECT_DUPLICATES), exact JSON types. Each requested reference
 * (`keys`, as sent) must be answered by exactly one entry: same name, and
 * the same version when the reference names one. Each key is HPKE base
 * mode (KS_HPKE_SUITE_DEFAULT) to hpke_sk, info "ks-release-v1" || 0x00 ||
 * name, aad the 32 nonce bytes (RFC 9180 section 6.1). The optional
 * "share" member of a key is {"index": I, "threshold": K, "count": N},
 * exactly those, integers with 1 <= I <= N, 1 <= K <= N <= 255
 * (KS_ERR_RESP_VALUE otherwise); a key without it is a whole key.
 * Errors, each with its own code: KS_ERR_RESP_JSON (not JSON),
 * KS_ERR_RESP_DUPLICATE, KS_ERR_RESP_MISSING, KS_ERR_RESP_TYPE,
 * KS_ERR_RESP_UNKNOWN (an unknown member), KS_ERR_RESP_VALUE (version 0 or
 * beyond 32 bits, empty or oversized ciphertext or receipt),
 * KS_ERR_BASE64, KS_ERR_RESP_ENC_LEN, KS_ERR_RESP_KEY_EXTRA (a key not
 * requested, or answered twice), KS_ERR_RESP_KEY_MISSING, KS_ERR_HPKE_OPEN.
 * Nothing is returned on any error.
 */
KS_WUR int ks_attest_response_parse(const uint8_t *body, size_t len, const char *const *keys,
                                    size_t n_keys, const uint8_t nonce[KS_ATTEST_NONCE_LEN],
                                    const uint8_t *hpke_sk, struct ks_attest_result **ret);

/* Read an error answer (any status but 200): fills ret_err and returns the
 * KS_ERR_* for the server's code (nonce_invalid -> KS_ERR_NONCE_INVALID,
 * attestation_failed -> KS_ERR_ATTESTATION, policy_denied ->
 * KS_ERR_POLICY_DENIED, ...; KS_ERR_SERVER_ERROR for "internal" and codes
 * this client does not know), or KS_ERR_HTTP_STATUS when the body is not
 * the protocol's error object. Never returns KS_OK. */
KS_WUR int ks_attest_error_parse(long status, const uint8_t *body, size_t len,
                                 struct ks_attest_error *ret_err);

/* The release flow's inputs. */
struct ks_attest_config {
    const char *server; /* base URL, e.g. https://keys.example:8443 */
    const struct ks_http_opts *http;
    const char *const *keys;
    size_t n_keys;
    const TPML_PCR_SELECTION *sel;
    const char *event_log_path; /* optional files sent along (NULL: none) */
    const char *ima_log_path;
    const char *app_log_path;
    bool cbor; /* the release request as application/cbor, not JSON */
};

/*
 * The whole release: POST /v1/challenge, a fresh HPKE key pair (private key
 * in the secure heap), the binding, a quote over cfg->sel with the PCR
 * values checked against it (ks_tpm_quote), the request, POST /v1/release,
 * the response parsed and opened. On a refusal ret_err (may be NULL) holds
 * what the server said. Files that cannot be read: KS_ERR_IO (or
 * KS_ERR_TOO_LARGE past the caps above).
 */
KS_WUR int ks_attest_release(struct ks_tpm *tpm, struct ks_tpm_ak *ak,
                             const struct ks_attest_config *cfg, struct ks_attest_result **ret,
                             struct ks_attest_error *ret_err);

#endif
