/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_KEYSERVERD_HTTP_H
#define KS_KEYSERVERD_HTTP_H

/*
 * Transport-neutral request/reply types shared by server.c and the
 * endpoints (no libmicrohttpd types here, so endpoints are unit-testable),
 * JSON reply helpers, and THE mapping of KS_ERR_* codes to HTTP statuses and
 * protocol error codes (docs: DESIGN "Protocol", keyserverd(8)).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ks_error.h"

/* Protocol error codes (the "error" field). */
enum ks_http_code {
    KS_HC_NONE = 0, /* success */
    KS_HC_BAD_REQUEST,
    KS_HC_TOO_LARGE,
    KS_HC_UNSUPPORTED_MEDIA_TYPE,
    KS_HC_NOT_FOUND,
    KS_HC_METHOD_NOT_ALLOWED,
    KS_HC_NONCE_INVALID,
    KS_HC_NONCE_EXPIRED,
    KS_HC_NONCE_USED,
    KS_HC_ATTESTATION_FAILED,
    KS_HC_POLICY_DENIED,
    KS_HC_RATE_LIMITED,
    KS_HC_UNAVAILABLE,
    KS_HC_INTERNAL,
    KS_HC_COUNT,
};

/* "bad_request", ... ; "" for KS_HC_NONE, NULL out of range. */
const char *ks_http_code_name(enum ks_http_code code);

/* The protocol error code for a KS_ERR_* value (KS_OK: KS_HC_NONE). Unknown
 * codes are KS_HC_INTERNAL: fail closed. */
enum ks_http_code ks_http_code_for(int ks_err);

/* The HTTP status for a KS_ERR_* value (200 for KS_OK), and the protocol
 * error code string in *ret_code (may be NULL; "" for KS_OK). The single
 * place where errors become HTTP statuses. */
unsigned ks_http_status_for(int ks_err, const char **ret_code);

/* Status of a protocol error code (200 for KS_HC_NONE). */
unsigned ks_http_code_status(enum ks_http_code code);

/* A request as the endpoints see it. */
struct ks_http_request {
    const char *method;   /* "GET", "POST", ... */
    const char *path;     /* decoded path, no query string */
    const char *path_arg; /* {name} of /v1/keys/{name}/public, {id} of
                           * /v1/enroll/{id}/activate, else NULL */
    const uint8_t *body;  /* may be NULL when body_len is 0 */
    size_t body_len;
    bool cbor;          /* the body is application/cbor (routes that accept it) */
    const char *client; /* printable client address */
};

/* A reply built by an endpoint; server.c sends it with Cache-Control:
 * no-store. */
struct ks_http_reply {
    unsigned status;
    char *body; /* malloc'd (or NULL for an empty body) */
    size_t body_len;
    const char *content_type; /* static string */
    const char *allow;        /* static; the Allow header of a 405 */
    enum ks_http_code error;  /* KS_HC_NONE on success */
    char log_detail[160];     /* why a request was refused, for the log only */
};

#define KS_HTTP_JSON "application/json"
#define KS_HTTP_PROMETHEUS "text/plain; version=0.0.4; charset=utf-8"

void ks_http_reply_init(struct ks_http_reply *reply);
/* Frees the body; the reply is re-initialised. NULL is a no-op. */
void ks_http_reply_clear(struct ks_http_reply *reply);

/* Serialize obj (compact, sorted keys) as the reply body with the given
 * status. KS_ERR_NOMEM; on failure the reply is unchanged. */
KS_WUR int ks_http_reply_json(struct ks_http_reply *reply, unsigned status, const json_t *obj);

/* Replace the reply by {"error": CODE, "detail": TEXT} with the status
 * ks_http_status_for(ks_err). Never fails: without memory it falls back to
 * a 500 with an empty body. detail is shown to the client; keep it free of
 * secrets. */
void ks_http_reply_error(struct ks_http_reply *reply, int ks_err, const char *detail);

/* Take ownership of a malloc'd text body. */
void ks_http_reply_text(struct ks_http_reply *reply, unsigned status, const char *content_type,
                        char *body, size_t len);

/* true when a Content-Type header value is application/json, optionally
 * with parameters ("application/json; charset=utf-8"); case-insensitive
 * type, as RFC 9110 section 8.3.1 says. */
bool ks_http_is_json_type(const char *content_type);
/* application/cbor, likewise (POST /v1/release only). */
bool ks_http_is_cbor_type(const char *content_type);

#endif
