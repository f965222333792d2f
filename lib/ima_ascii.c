/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "ima.h"
#include "ima_internal.h"

/* The ASCII measurement list (ascii_runtime_measurements): each line is
 * turned back into the template data the kernel hashed, then handled like a
 * binary entry (lib/ima.c). Linux security/integrity/ima/ima_fs.c,
 * ima_ascii_measurements_show(); ima_template_lib.c for the field forms. */

/* Decimal PCR index: 1-10 digits, no sign (seq_printf "%2d"). */
static int parse_pcr(const char *s, uint32_t *ret)
{
    size_t n = strlen(s);
    if (n == 0 || n > 10) {
        return KS_ERR_IMA_MALFORMED;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return KS_ERR_IMA_MALFORMED;
        }
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v >= KS_PCR_COUNT) {
        return KS_ERR_IMA_PCR_INDEX;
    }
    *ret = (uint32_t)v;
    return KS_OK;
}

/* Split at the next space: terminate the current token, return the rest. */
static char *cut(char *s)
{
    char *sp = strchr(s, ' ');
    if (!sp) {
        return NULL;
    }
    *sp = 0;
    return sp + 1;
}

static int hex_err(int r)
{
    return r == KS_ERR_NOMEM ? r : KS_ERR_IMA_MALFORMED;
}

/* One NUL-terminated ASCII line (ima_ascii_measurements_show()); fills e
 * and e->data. */
static int parse_ascii_line(char *line, size_t hsize, struct ks_ima_slot *s)
{
    struct ks_ima_entry *e = &s->e;
    int r;
    char *p = line;
    if (*p == ' ') {
        p++; /* "%2d" pads PCRs below 10 */
    }
    char *tok = p;
    if (!(p = cut(p))) {
        return KS_ERR_IMA_MALFORMED;
    }
    r = parse_pcr(tok, &e->pcr);
    if (r != KS_OK) {
        return r;
    }

    tok = p;
    if (!(p = cut(p)) || strlen(tok) != 2 * hsize) {
        return KS_ERR_IMA_MALFORMED;
    }
    r = ks_hex_decode_fixed(tok, e->template_hash, hsize);
    if (r != KS_OK) {
        return hex_err(r);
    }
    e->template_hash_len = hsize;

    tok = p;
    if (!(p = cut(p))) {
        return KS_ERR_IMA_MALFORMED;
    }
    r = ks_ima_template_from_span(tok, strlen(tok), &e->template_id, &e->template_name);
    if (r != KS_OK) {
        return r;
    }

    /* Fields: digest, name[, signature or buffer]. */
    char *digest = p;
    char *path = cut(p);
    if (!path) {
        return KS_ERR_IMA_MALFORMED;
    }
    if (e->template_id == KS_IMA_TEMPLATE_IMA) {
        uint8_t d[KS_IMA_LEGACY_DIGEST];
        if (strlen(digest) != 2 * KS_IMA_LEGACY_DIGEST) {
            return KS_ERR_IMA_MALFORMED;
        }
        r = ks_hex_decode_fixed(digest, d, sizeof(d));
        if (r != KS_OK) {
            return hex_err(r);
        }
        return ks_ima_build_legacy(d, path, strlen(path), s);
    }

    char *extra = NULL;
    bool has_extra = e->template_id != KS_IMA_TEMPLATE_IMA_NG;
    if (has_extra && !(extra = cut(path))) {
        return KS_ERR_IMA_MALFORMED;
    }
    char *colon = strchr(digest, ':');
    if (!colon) {
        return KS_ERR_IMA_MALFORMED;
    }
    *colon = 0;
    enum ks_ima_hash alg;
    r = ks_ima_hash_from_span(digest, strlen(digest), &alg);
    if (r != KS_OK) {
        return r;
    }
    size_t dsize = ks_ima_hash_size(alg);
    if (strlen(colon + 1) != 2 * dsize) {
        return KS_ERR_IMA_TEMPLATE;
    }
    uint8_t d[KS_MAX_DIGEST];
    r = ks_hex_decode_fixed(colon + 1, d, dsize);
    if (r != KS_OK) {
        return hex_err(r);
    }
    uint8_t *x = NULL;
    size_t xlen = 0;
    if (has_extra) {
        if (strlen(extra) > 2 * KS_IMA_MAX_TEMPLATE_DATA) {
            return KS_ERR_IMA_FIELD_SIZE;
        }
        r = ks_hex_decode(extra, &x, &xlen);
        if (r != KS_OK) {
            return hex_err(r);
        }
    }
    r = ks_ima_build_ng(digest, d, dsize, path, x, xlen, has_extra, s);
    free(x);
    return r;
}

int ks_ima_parse_ascii(struct ks_ima_log *log, const uint8_t *buf, size_t len, size_t max,
                       const EVP_MD *md, size_t *ret_pos)
{
    int r;
    struct ks_ima_slot s = {0};
    size_t hsize = ks_ima_hash_size(log->template_alg);
    size_t off = 0;
    size_t lineno = 0;
    char *line = malloc((len < KS_IMA_MAX_LINE ? len : KS_IMA_MAX_LINE) + 1);
    if (!line) {
        return KS_ERR_NOMEM;
    }
    while (off < len) {
        lineno++;
        size_t rem = len - off;
        const uint8_t *nl =
            memchr(buf + off, '\n', rem < KS_IMA_MAX_LINE + 1 ? rem : KS_IMA_MAX_LINE + 1);
        if (!nl) {
            r = rem > KS_IMA_MAX_LINE ? KS_ERR_IMA_FIELD_SIZE : KS_ERR_IMA_TRUNCATED;
            goto out;
        }
        size_t n = (size_t)(nl - (buf + off));
        if (log->count >= max) {
            r = KS_ERR_IMA_TOO_MANY;
            goto out;
        }
        if (memchr(buf + off, 0, n)) {
            r = KS_ERR_IMA_MALFORMED;
            goto out;
        }
        memcpy(line, buf + off, n);
        line[n] = 0;
        r = parse_ascii_line(line, hsize, &s);
        if (r == KS_OK) {
            r = ks_ima_finish_entry(log, &s, md);
        }
        ks_ima_slot_clear(&s);
        if (r != KS_OK) {
            goto out;
        }
        off += n + 1;
    }
    r = KS_OK;
out:
    if (r != KS_OK) {
        *ret_pos = lineno;
    }
    free(line);
    return r;
}
