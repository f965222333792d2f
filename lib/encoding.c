/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "encoding.h"

static const char hexdigits[] = "0123456789abcdef";

void ks_hex_encode(const uint8_t *buf, size_t len, char *ret)
{
    for (size_t i = 0; i < len; i++) {
        ret[2 * i] = hexdigits[buf[i] >> 4];
        ret[2 * i + 1] = hexdigits[buf[i] & 0xf];
    }
    ret[2 * len] = '\0';
}

static int hex_nibble(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static int hex_decode_into(const char *hex, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hex_nibble(hex[2 * i]);
        int lo = hex_nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return KS_ERR_HEX;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return KS_OK;
}

int ks_hex_decode(const char *hex, uint8_t **ret_buf, size_t *ret_len)
{
    if (!hex || !ret_buf || !ret_len) {
        return KS_ERR_INVALID_ARG;
    }
    size_t slen = strlen(hex);
    if (slen % 2 != 0) {
        return KS_ERR_HEX;
    }
    uint8_t *buf = malloc(slen / 2 + 1);
    if (!buf) {
        return KS_ERR_NOMEM;
    }
    int r = hex_decode_into(hex, slen / 2, buf);
    if (r < 0) {
        free(buf);
        return r;
    }
    *ret_buf = buf;
    *ret_len = slen / 2;
    return KS_OK;
}

int ks_hex_decode_fixed(const char *hex, uint8_t *ret, size_t len)
{
    if (!hex || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    if (strlen(hex) != 2 * len) {
        return KS_ERR_HEX;
    }
    uint8_t tmp[256];
    if (len > sizeof(tmp)) {
        return KS_ERR_TOO_LARGE;
    }
    int r = hex_decode_into(hex, len, tmp);
    if (r == KS_OK) {
        memcpy(ret, tmp, len);
    }
    /* The decoded bytes may be key material. */
    explicit_bzero(tmp, sizeof(tmp));
    return r;
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int ks_base64_encode(const uint8_t *buf, size_t len, char **ret)
{
    if ((!buf && len) || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    if (len > (SIZE_MAX / 4) * 3 - 3) {
        return KS_ERR_TOO_LARGE;
    }
    size_t olen = (len + 2) / 3 * 4;
    char *out = malloc(olen + 1);
    if (!out) {
        return KS_ERR_NOMEM;
    }
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)buf[i] << 16 | (uint32_t)buf[i + 1] << 8 | buf[i + 2];
        out[o++] = b64chars[v >> 18 & 63];
        out[o++] = b64chars[v >> 12 & 63];
        out[o++] = b64chars[v >> 6 & 63];
        out[o++] = b64chars[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)buf[i] << 16;
        out[o++] = b64chars[v >> 18 & 63];
        out[o++] = b64chars[v >> 12 & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)buf[i] << 16 | (uint32_t)buf[i + 1] << 8;
        out[o++] = b64chars[v >> 18 & 63];
        out[o++] = b64chars[v >> 12 & 63];
        out[o++] = b64chars[v >> 6 & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
    *ret = out;
    return KS_OK;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

int ks_base64_decode(const char *b64, size_t n, uint8_t **ret_buf, size_t *ret_len)
{
    if (!b64 || !ret_buf || !ret_len) {
        return KS_ERR_INVALID_ARG;
    }
    if (n % 4 != 0) {
        return KS_ERR_BASE64;
    }
    size_t pad = 0;
    if (n >= 4 && b64[n - 1] == '=') {
        pad = b64[n - 2] == '=' ? 2 : 1;
    }
    size_t olen = n / 4 * 3 - pad;
    uint8_t *out = malloc(olen + 1);
    if (!out) {
        return KS_ERR_NOMEM;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        int last = i + 4 == n;
        for (int k = 0; k < 4; k++) {
            char c = b64[i + k];
            if (c == '=' && last && k >= 4 - (int)pad) {
                v[k] = 0;
                continue;
            }
            v[k] = b64_value(c);
            if (v[k] < 0) {
                free(out);
                return KS_ERR_BASE64;
            }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | v[3];
        if (last && pad == 2) {
            /* Canonical encoding: the unused low bits must be zero. */
            if (w & 0xffff) {
                free(out);
                return KS_ERR_BASE64;
            }
            out[o++] = (uint8_t)(w >> 16);
        } else if (last && pad == 1) {
            if (w & 0xff) {
                free(out);
                return KS_ERR_BASE64;
            }
            out[o++] = (uint8_t)(w >> 16);
            out[o++] = (uint8_t)(w >> 8);
        } else {
            out[o++] = (uint8_t)(w >> 16);
            out[o++] = (uint8_t)(w >> 8);
            out[o++] = (uint8_t)w;
        }
    }
    *ret_buf = out;
    *ret_len = olen;
    return KS_OK;
}
