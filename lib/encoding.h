/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_ENCODING_H
#define KS_ENCODING_H

#include <stddef.h>
#include <stdint.h>

#include "ks_error.h"

/* Lowercase hex. ret must hold 2*len+1 bytes; always NUL-terminated. */
void ks_hex_encode(const uint8_t *buf, size_t len, char *ret);

/* Strict hex decode (upper or lower case, even length, no whitespace) into a
 * newly allocated buffer. An empty string decodes to a 0-length, non-NULL
 * buffer. */
KS_WUR int ks_hex_decode(const char *hex, uint8_t **ret_buf, size_t *ret_len);

/* Strict hex decode into a caller buffer of exactly `len` bytes. */
KS_WUR int ks_hex_decode_fixed(const char *hex, uint8_t *ret, size_t len);

/* Standard base64 with padding, NUL-terminated, newly allocated. */
KS_WUR int ks_base64_encode(const uint8_t *buf, size_t len, char **ret);

/* Strict standard base64: padding required, no whitespace, no URL alphabet,
 * non-canonical trailing bits rejected. Allocates; the result is not
 * NUL-terminated (ret_len gives its length). */
KS_WUR int ks_base64_decode(const char *b64, size_t b64_len, uint8_t **ret_buf, size_t *ret_len);

#endif
