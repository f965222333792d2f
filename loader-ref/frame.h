/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_LOADER_FRAME_H
#define KS_LOADER_FRAME_H

/*
 * Framing of the loader's socket protocol (man ks-loader(8), "PROTOCOL"):
 * every message, either way, is a 4-byte big-endian length N followed by N
 * bytes (1 <= N <= the cap; KS_FRAME_MAX by default) of a UTF-8 JSON
 * object. ks-relay forwards frames without parsing their content.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ks_error.h"

#define KS_FRAME_HEADER_LEN 4
#define KS_FRAME_MAX (1024u * 1024)

void ks_frame_header_encode(uint32_t len, uint8_t out[KS_FRAME_HEADER_LEN]);

/* The payload length of a header: KS_ERR_FRAME for 0 or more than max. */
KS_WUR int ks_frame_header_decode(const uint8_t hdr[KS_FRAME_HEADER_LEN], size_t max,
                                  size_t *ret_len);

/* Read one frame from a (blocking or not) descriptor, waiting at most
 * timeout_ms (-1: forever) for each piece. The payload is newly allocated
 * and NUL-appended (not counted). KS_ERR_NOT_FOUND: the peer closed
 * cleanly before a frame began; KS_ERR_FRAME: a bad length or a close
 * inside a frame; KS_ERR_IO: an error or the timeout. */
KS_WUR int ks_frame_read(int fd, size_t max, int timeout_ms, uint8_t **ret, size_t *ret_len);

/* Write one frame (header and payload, 1..KS_FRAME_MAX bytes), at most
 * timeout_ms per piece. KS_ERR_IO on failure (the peer may have closed). */
KS_WUR int ks_frame_write(int fd, const uint8_t *payload, size_t len, int timeout_ms);

#endif
