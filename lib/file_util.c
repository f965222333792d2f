/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file_util.h"

int ks_file_read(const char *path, size_t max, uint8_t **ret_buf, size_t *ret_len)
{
    if (!path || !ret_buf || !ret_len || max == SIZE_MAX) {
        return KS_ERR_INVALID_ARG;
    }
    int r = KS_ERR_IO;
    uint8_t *buf = NULL;
    size_t len = 0;
    size_t cap = 0;
    int is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        return KS_ERR_IO;
    }
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            if (ncap > max + 1) {
                ncap = max + 1;
            }
            if (ncap <= cap) {
                r = KS_ERR_TOO_LARGE;
                goto out;
            }
            uint8_t *n = realloc(buf, ncap + 1);
            if (!n) {
                r = KS_ERR_NOMEM;
                goto out;
            }
            buf = n;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (len > max) {
            r = KS_ERR_TOO_LARGE;
            goto out;
        }
        if (got == 0) {
            if (ferror(f)) {
                goto out;
            }
            break;
        }
    }
    if (!buf) {
        buf = malloc(1);
        if (!buf) {
            r = KS_ERR_NOMEM;
            goto out;
        }
    }
    buf[len] = '\0';
    *ret_buf = buf;
    *ret_len = len;
    buf = NULL;
    r = KS_OK;
out:
    if (!is_stdin) {
        int saved = errno;
        fclose(f);
        errno = saved;
    }
    free(buf);
    return r;
}
