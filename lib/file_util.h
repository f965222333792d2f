/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_FILE_UTIL_H
#define KS_FILE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "ks_error.h"

/* Read a whole file ("-" reads standard input) of at most `max` bytes into a
 * new buffer (one extra NUL byte is appended, not counted in ret_len).
 * KS_ERR_TOO_LARGE past `max`, KS_ERR_IO when it cannot be read (errno kept). */
KS_WUR int ks_file_read(const char *path, size_t max, uint8_t **ret_buf, size_t *ret_len);

#endif
