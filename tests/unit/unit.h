/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_UNIT_H
#define KS_UNIT_H

/* Common includes and helpers for the cmocka unit tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "file_util.h"

/* Path of a file under the test data directory ($KS_TESTDATA, else
 * tests/data relative to the source tree). Returns a static buffer. */
static inline const char *unit_data_path(const char *rel)
{
    static char path[4096];
    const char *dir = getenv("KS_TESTDATA");
    if (!dir) {
        dir = "tests/data";
    }
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    return path;
}

/* Read a test data file; fails the test when it cannot. */
static inline uint8_t *unit_read(const char *rel, size_t *ret_len)
{
    uint8_t *buf = NULL;
    int r = ks_file_read(unit_data_path(rel), 64 * 1024 * 1024, &buf, ret_len);
    if (r != 0) {
        fail_msg("cannot read test data %s", unit_data_path(rel));
    }
    return buf;
}

#endif
