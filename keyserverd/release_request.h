/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_KEYSERVERD_RELEASE_REQUEST_H
#define KS_KEYSERVERD_RELEASE_REQUEST_H

/*
 * Parsing of untrusted release input (the POST /v1/release body and key
 * references) into the plain C types of release.h. No I/O, no state.
 */

#include <stddef.h>
#include <stdint.h>

#include "ks_error.h"
#include "keyserverd/release.h"

/* Longest accepted key reference: "name@4294967295". */
#define KS_KEY_REF_MAX (KS_KEY_NAME_MAX + 11)

/* Parse a key reference `[A-Za-z0-9._-]{1,64}` optionally followed by
 * `@N` (N a decimal 1..4294967295 without leading zeros). KS_ERR_BAD_REQUEST. */
KS_WUR int ks_key_ref_parse(const char *s, size_t len, struct ks_key_ref *ret);

/*
 * Parse a POST /v1/release body into a typed request (DESIGN "Protocol"):
 * JSON with duplicate keys rejected, unknown members rejected, strict types,
 * strict base64, exact lengths and caps. On failure returns
 * KS_ERR_BAD_REQUEST (or KS_ERR_NOMEM) and writes a precise, client-safe
 * message to detail.
 */
KS_WUR int ks_release_request_parse(const uint8_t *body, size_t len,
                                    struct ks_release_request **ret, char *detail,
                                    size_t detail_len);

/*
 * The same request as CBOR (RFC 8949; Content-Type application/cbor):
 * binary fields as byte strings, PCR indexes as unsigned integers (the
 * grammar is in release_request_cbor.c and keyserverd(8)); definite lengths
 * only, no tags, no key twice, no trailing bytes. Same errors and messages
 * as ks_release_request_parse for the same values.
 */
KS_WUR int ks_release_request_parse_cbor(const uint8_t *body, size_t len,
                                         struct ks_release_request **ret, char *detail,
                                         size_t detail_len);

#endif
