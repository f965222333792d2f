/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_LOADER_HTTP_CLIENT_H
#define KS_LOADER_HTTP_CLIENT_H

/*
 * A small libcurl wrapper for the keyserver protocol: POST a JSON body to
 * base URL + path over HTTPS and return the status and the body.
 *
 * - https:// only, unless plain http:// is explicitly allowed (tests);
 *   every other scheme is refused, and redirects are not followed;
 * - TLS 1.2 or newer, peer certificate and host name verified against the
 *   CA file (or the system store when none is given), optionally pinned to
 *   the server's public key (CURLOPT_PINNEDPUBLICKEY, "sha256//BASE64");
 * - connect and total timeouts; the response body is capped.
 *
 * The keyserver is not trusted with the loader's secrets anyway (they are
 * bound to the quote and HPKE-encrypted), but TLS keeps the network from
 * reading the request's evidence and from faking errors.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ks_error.h"

#define KS_HTTP_DEFAULT_MAX_RESPONSE (4u * 1024 * 1024)
#define KS_HTTP_DEFAULT_CONNECT_TIMEOUT 10
#define KS_HTTP_DEFAULT_TIMEOUT 60
/* Longest base URL and path accepted. */
#define KS_HTTP_URL_MAX 2048

struct ks_http_opts {
    const char *cacert;     /* PEM CA file for the server certificate; NULL: system store */
    const char *pinned_key; /* "sha256//BASE64[;sha256//...]" or NULL */
    bool allow_plain_http;  /* accept http:// base URLs (tests only) */
    long connect_timeout_s; /* 0: KS_HTTP_DEFAULT_CONNECT_TIMEOUT */
    long timeout_s;         /* whole transfer; 0: KS_HTTP_DEFAULT_TIMEOUT */
    size_t max_response;    /* 0: KS_HTTP_DEFAULT_MAX_RESPONSE */
};

/* A response: HTTP status and body (NUL-appended, not counted in len). */
struct ks_http_response {
    long status;
    uint8_t *body;
    size_t len;
};

struct ks_http_client;

/* curl_global_init / curl_global_cleanup: call once in main, before any
 * thread starts. */
KS_WUR int ks_http_global_init(void);
void ks_http_global_cleanup(void);

/* Check the base URL (scheme https://, or http:// when allowed; at most
 * KS_HTTP_URL_MAX characters, no whitespace or control characters) and
 * prepare a client. KS_ERR_INVALID_ARG for a refused URL. opts may be NULL
 * (defaults). The strings in opts are copied. */
KS_WUR int ks_http_client_new(const char *base_url, const struct ks_http_opts *opts,
                              struct ks_http_client **ret);
void ks_http_client_free(struct ks_http_client *c);

/*
 * POST body (Content-Type: application/json) to base URL + path (path
 * starts with '/'; a trailing '/' of the base URL is dropped). Any HTTP
 * status is a success of this function; the caller judges it.
 * Errors: KS_ERR_HTTP_TLS_VERIFY (certificate, host name or pinned key not
 * accepted, or a TLS version below 1.2), KS_ERR_TOO_LARGE (body beyond the
 * cap), KS_ERR_HTTP_TRANSPORT (anything else: connection, timeout, ...).
 * errbuf (may be NULL) gets curl's message.
 */
KS_WUR int ks_http_client_post_json(struct ks_http_client *c, const char *path, const char *body,
                                    size_t body_len, struct ks_http_response *ret, char *errbuf,
                                    size_t errlen);

/* As ks_http_client_post_json, with the body's media type given:
 * "Content-Type: content_type" (e.g. "application/cbor"); the answer is
 * still asked for as JSON. KS_ERR_INVALID_ARG for a content_type that is
 * empty, longer than KS_HTTP_CONTENT_TYPE_MAX or not printable ASCII (no
 * header injection). */
#define KS_HTTP_CONTENT_TYPE_MAX 128
KS_WUR int ks_http_client_post(struct ks_http_client *c, const char *path, const char *content_type,
                               const void *body, size_t body_len, struct ks_http_response *ret,
                               char *errbuf, size_t errlen);

/* GET base URL + path, otherwise as ks_http_client_post_json (the
 * request-key statements of GET /v1/keys/{name}/public). */
KS_WUR int ks_http_client_get(struct ks_http_client *c, const char *path,
                              struct ks_http_response *ret, char *errbuf, size_t errlen);

/* Free a response's body and zero it. NULL is a no-op. */
void ks_http_response_clear(struct ks_http_response *resp);

#endif
