/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_KEYSERVERD_RELEASE_REQUEST_INTERNAL_H
#define KS_KEYSERVERD_RELEASE_REQUEST_INTERNAL_H

/*
 * The value checks of a release request, shared by its two syntaxes: JSON
 * (release_request.c: base64 strings, PCR indexes as decimal strings) and
 * CBOR (release_request_cbor.c: byte strings, integer PCR indexes). Each
 * parser decodes its syntax and hands the values here, so that both accept
 * exactly the same requests. Every refusal writes a client-safe message to
 * detail and returns KS_ERR_BAD_REQUEST (or KS_ERR_NOMEM).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keyserverd/release.h"

void ks_rr_msg(char *detail, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The members of a release request, and those it must have. */
extern const char *const ks_rr_members[9];
extern const char *const ks_rr_required[6];
bool ks_rr_member_known(const char *name, size_t len);

/* ak_id: the TPM Name in lowercase hex (nameAlg and its digest). */
KS_WUR int ks_rr_ak_id(const char *s, size_t slen, struct ks_release_request *req, char *detail,
                       size_t dlen);

/* The number of keys (1..KS_RELEASE_MAX_KEYS), then each key reference i
 * (name or name@version, none twice). */
KS_WUR int ks_rr_key_count(size_t n, char *detail, size_t dlen);
KS_WUR int ks_rr_key(const char *s, size_t slen, size_t i, struct ks_release_request *req,
                     char *detail, size_t dlen);

/* A length check of a decoded binary field: 1..max bytes, or exactly max. */
KS_WUR int ks_rr_length(const char *what, size_t len, size_t max, bool exact, char *detail,
                        size_t dlen);

/* A bank name (sha1, sha256, sha384, sha512; slen bytes, not NUL-terminated)
 * into its TPM_ALG_ID. */
KS_WUR int ks_rr_bank(const char *name, size_t slen, uint16_t *ret_alg, char *detail, size_t dlen);

/* One PCR value of a bank: index 0..23, the bank's digest size. */
KS_WUR int ks_rr_pcr(struct ks_release_request *req, uint16_t alg, uint64_t index,
                     const uint8_t *value, size_t len, char *detail, size_t dlen);

/* The optional logs, in the order they are parsed: member name, size cap
 * and where the decoded bytes go. */
#define KS_RR_N_LOGS 3
void ks_rr_log_slot(struct ks_release_request *req, size_t i, const char **ret_name,
                    size_t *ret_max, uint8_t ***ret_buf, size_t **ret_len);

/* Last step of a parse: the SHA-256 of the exact body (receipt, audit). */
KS_WUR int ks_rr_finish(struct ks_release_request *req, const uint8_t *body, size_t len);

#endif
