/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ima.h"
#include "ima_internal.h"

/* The legacy "ima" template: the name is hashed at IMA_EVENT_NAME_LEN_MAX +
 * 1 bytes (Linux ima_template_lib.c). */
#define LEGACY_DIGEST KS_IMA_LEGACY_DIGEST
#define LEGACY_NAME_FIELD (KS_IMA_MAX_LEGACY_NAME + 1u)
#define LEGACY_DATA (LEGACY_DIGEST + LEGACY_NAME_FIELD)
/* Longest template name accepted in a binary entry ("ima-sig" is 7). */
#define MAX_TEMPLATE_NAME 16u

struct hash_info {
    enum ks_ima_hash alg;
    const char *name;
    size_t size;
};

/* Names as Linux writes them in d-ng fields (crypto/hash_info.c); SM3 was
 * "sm3-256" before it became "sm3", keylime writes "sm3_256". */
static const struct hash_info hashes[] = {
    {KS_IMA_HASH_SHA1, "sha1", 20},     {KS_IMA_HASH_SHA256, "sha256", 32},
    {KS_IMA_HASH_SHA384, "sha384", 48}, {KS_IMA_HASH_SHA512, "sha512", 64},
    {KS_IMA_HASH_MD5, "md5", 16},       {KS_IMA_HASH_SM3_256, "sm3_256", 32},
    {KS_IMA_HASH_SM3_256, "sm3", 32},   {KS_IMA_HASH_SM3_256, "sm3-256", 32},
};

static const struct {
    enum ks_ima_template id;
    const char *name;
} templates[] = {
    {KS_IMA_TEMPLATE_IMA, "ima"},
    {KS_IMA_TEMPLATE_IMA_NG, "ima-ng"},
    {KS_IMA_TEMPLATE_IMA_SIG, "ima-sig"},
    {KS_IMA_TEMPLATE_IMA_BUF, "ima-buf"},
};

static const struct hash_info *hash_by_alg(enum ks_ima_hash alg)
{
    for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
        if (hashes[i].alg == alg) {
            return &hashes[i];
        }
    }
    return NULL;
}

static const struct hash_info *hash_by_span(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
        if (strlen(hashes[i].name) == n && memcmp(hashes[i].name, s, n) == 0) {
            return &hashes[i];
        }
    }
    return NULL;
}

int ks_ima_template_from_span(const char *s, size_t n, enum ks_ima_template *ret_id,
                              const char **ret_name)
{
    for (size_t i = 0; i < sizeof(templates) / sizeof(templates[0]); i++) {
        if (strlen(templates[i].name) == n && memcmp(templates[i].name, s, n) == 0) {
            *ret_id = templates[i].id;
            *ret_name = templates[i].name;
            return KS_OK;
        }
    }
    return KS_ERR_IMA_TEMPLATE;
}

int ks_ima_hash_from_span(const char *s, size_t n, enum ks_ima_hash *ret_alg)
{
    const struct hash_info *h = hash_by_span(s, n);
    if (!h) {
        return KS_ERR_IMA_DIGEST_ALG;
    }
    *ret_alg = h->alg;
    return KS_OK;
}

size_t ks_ima_hash_size(enum ks_ima_hash alg)
{
    const struct hash_info *h = hash_by_alg(alg);
    return h ? h->size : 0;
}

const char *ks_ima_hash_name(enum ks_ima_hash alg)
{
    const struct hash_info *h = hash_by_alg(alg);
    return h ? h->name : NULL;
}

int ks_ima_hash_from_name(const char *name, enum ks_ima_hash *ret_alg)
{
    if (!name || !ret_alg) {
        return KS_ERR_INVALID_ARG;
    }
    const struct hash_info *h = hash_by_span(name, strlen(name));
    if (!h) {
        return KS_ERR_IMA_DIGEST_ALG;
    }
    *ret_alg = h->alg;
    return KS_OK;
}

/* Digest for template hashes; md5 is never one (Linux refuses it as a
 * template hash), SM3 comes from OpenSSL's provider when it has one. */
static const EVP_MD *template_md(enum ks_ima_hash alg)
{
    switch (alg) {
    case KS_IMA_HASH_SHA1:
        return EVP_sha1();
    case KS_IMA_HASH_SHA256:
        return EVP_sha256();
    case KS_IMA_HASH_SHA384:
        return EVP_sha384();
    case KS_IMA_HASH_SHA512:
        return EVP_sha512();
    case KS_IMA_HASH_SM3_256:
        return EVP_get_digestbyname("SM3");
    default:
        return NULL;
    }
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint8_t *put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
    return p + 4;
}

static bool have(size_t off, size_t len, size_t need)
{
    return off <= len && len - off >= need;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= p[i];
    }
    return acc == 0;
}

enum ks_ima_format ks_ima_detect_format(const uint8_t *buf, size_t len)
{
    /* The ASCII list starts with a PCR number ("%2d "), the binary list with
     * a little-endian PCR index, below 24 in its first byte (PCR 10 is '\n'). */
    if (buf && len > 0 && !(buf[0] >= 0x20 && buf[0] < 0x7f)) {
        return KS_IMA_FORMAT_BINARY;
    }
    return KS_IMA_FORMAT_ASCII;
}

/* One u32-length-prefixed field of the template data (ima_fs.c,
 * IMA_SHOW_BINARY). */
static bool next_field(const uint8_t *d, size_t len, size_t *off, const uint8_t **ret_f,
                       size_t *ret_flen)
{
    if (!have(*off, len, 4)) {
        return false;
    }
    uint32_t flen = get_le32(d + *off);
    if (!have(*off + 4, len, flen)) {
        return false;
    }
    *ret_f = d + *off + 4;
    *ret_flen = flen;
    *off += 4 + (size_t)flen;
    return true;
}

/* Point the entry's fields into its template data, checking that the data
 * is exactly its template's fields. */
static int decode_template_data(struct ks_ima_entry *e)
{
    const uint8_t *d = e->data;
    size_t len = e->data_len;

    if (e->template_id == KS_IMA_TEMPLATE_IMA) {
        if (len != LEGACY_DATA) {
            return KS_ERR_IMA_TEMPLATE;
        }
        const char *name = (const char *)d + LEGACY_DIGEST;
        size_t n = strnlen(name, LEGACY_NAME_FIELD);
        if (n == LEGACY_NAME_FIELD || !all_zero(d + LEGACY_DIGEST + n, LEGACY_NAME_FIELD - n)) {
            return KS_ERR_IMA_TEMPLATE;
        }
        e->digest_alg = KS_IMA_HASH_SHA1;
        e->digest = d;
        e->digest_len = LEGACY_DIGEST;
        e->path = name;
        e->path_len = n;
        return KS_OK;
    }

    size_t off = 0;
    const uint8_t *f;
    size_t flen;

    /* d-ng: "<alg>:" "\0" digest (ima_eventdigest_init_common) */
    if (!next_field(d, len, &off, &f, &flen)) {
        return KS_ERR_IMA_TEMPLATE;
    }
    const uint8_t *colon = memchr(f, ':', flen);
    if (!colon) {
        return KS_ERR_IMA_TEMPLATE;
    }
    size_t alen = (size_t)(colon - f);
    const struct hash_info *h = hash_by_span((const char *)f, alen);
    if (!h) {
        return KS_ERR_IMA_DIGEST_ALG;
    }
    if (flen - alen < 2 || colon[1] != 0 || flen - alen - 2 != h->size) {
        return KS_ERR_IMA_TEMPLATE;
    }
    e->digest_alg = h->alg;
    e->digest = colon + 2;
    e->digest_len = h->size;

    /* n-ng: the path with its NUL (ima_write_template_field_data) */
    if (!next_field(d, len, &off, &f, &flen)) {
        return KS_ERR_IMA_TEMPLATE;
    }
    if (flen > KS_IMA_MAX_PATH) {
        return KS_ERR_IMA_FIELD_SIZE;
    }
    if (flen == 0 || memchr(f, 0, flen) != f + flen - 1) {
        return KS_ERR_IMA_TEMPLATE;
    }
    e->path = (const char *)f;
    e->path_len = flen - 1;

    if (e->template_id == KS_IMA_TEMPLATE_IMA_SIG || e->template_id == KS_IMA_TEMPLATE_IMA_BUF) {
        if (!next_field(d, len, &off, &f, &flen)) {
            return KS_ERR_IMA_TEMPLATE;
        }
        if (e->template_id == KS_IMA_TEMPLATE_IMA_SIG) {
            e->sig = f;
            e->sig_len = flen;
        } else {
            e->buf = f;
            e->buf_len = flen;
        }
    }
    return off == len ? KS_OK : KS_ERR_IMA_TEMPLATE;
}

int ks_ima_build_legacy(const uint8_t *digest, const char *name, size_t nlen, struct ks_ima_slot *s)
{
    if (nlen > KS_IMA_MAX_LEGACY_NAME) {
        return KS_ERR_IMA_FIELD_SIZE;
    }
    if (memchr(name, 0, nlen)) {
        return KS_ERR_IMA_TEMPLATE;
    }
    uint8_t *d = calloc(1, LEGACY_DATA);
    if (!d) {
        return KS_ERR_NOMEM;
    }
    memcpy(d, digest, LEGACY_DIGEST);
    memcpy(d + LEGACY_DIGEST, name, nlen);
    s->data = d;
    s->e.data = d;
    s->e.data_len = LEGACY_DATA;
    return KS_OK;
}

/* Template data of ima-ng, ima-sig (extra: signature) and ima-buf (extra:
 * buffer), as ima_fs.c writes it in the binary list. */
int ks_ima_build_ng(const char *alg, const uint8_t *digest, size_t dlen, const char *path,
                    const uint8_t *extra, size_t xlen, bool has_extra, struct ks_ima_slot *s)
{
    size_t alen = strlen(alg);
    size_t plen = strlen(path);
    if (plen + 1 > KS_IMA_MAX_PATH) {
        return KS_ERR_IMA_FIELD_SIZE;
    }
    /* Each part is bounded by the line length, so the sum cannot wrap. */
    size_t total = 4 + alen + 2 + dlen + 4 + plen + 1 + (has_extra ? 4 + xlen : 0);
    if (total > KS_IMA_MAX_TEMPLATE_DATA) {
        return KS_ERR_IMA_FIELD_SIZE;
    }
    uint8_t *d = malloc(total);
    if (!d) {
        return KS_ERR_NOMEM;
    }
    uint8_t *p = put_le32(d, (uint32_t)(alen + 2 + dlen));
    memcpy(p, alg, alen);
    p += alen;
    *p++ = ':';
    *p++ = 0;
    memcpy(p, digest, dlen);
    p += dlen;
    p = put_le32(p, (uint32_t)(plen + 1));
    memcpy(p, path, plen + 1);
    p += plen + 1;
    if (has_extra) {
        p = put_le32(p, (uint32_t)xlen);
        if (xlen) {
            memcpy(p, extra, xlen);
        }
    }
    s->data = d;
    s->e.data = d;
    s->e.data_len = total;
    return KS_OK;
}

void ks_ima_slot_clear(struct ks_ima_slot *s)
{
    free(s->data);
    memset(s, 0, sizeof(*s));
}

/* Decode the template data, check the template hash and append the entry;
 * the log takes the entry's data, on failure too. */
int ks_ima_finish_entry(struct ks_ima_log *log, struct ks_ima_slot *s, const EVP_MD *md)
{
    struct ks_ima_entry *e = &s->e;
    int r = decode_template_data(e);
    if (r != KS_OK) {
        goto out;
    }
    e->violation = all_zero(e->template_hash, e->template_hash_len);
    if (!e->violation) {
        uint8_t h[EVP_MAX_MD_SIZE];
        if (EVP_Digest(e->data, e->data_len, h, NULL, md, NULL) != 1) {
            r = KS_ERR_CRYPTO;
            goto out;
        }
        e->template_hash_mismatch = memcmp(h, e->template_hash, e->template_hash_len) != 0;
    }
    if (log->count == log->cap) {
        size_t ncap = log->cap ? log->cap * 2 : 64;
        struct ks_ima_slot *n = realloc(log->entries, ncap * sizeof(*n));
        if (!n) {
            r = KS_ERR_NOMEM;
            goto out;
        }
        log->entries = n;
        log->cap = ncap;
    }
    log->bad += e->template_hash_mismatch;
    log->entries[log->count++] = *s;
    memset(s, 0, sizeof(*s));
    r = KS_OK;
out:
    if (r != KS_OK) {
        ks_ima_slot_clear(s);
    }
    return r;
}

static int parse_binary(struct ks_ima_log *log, const uint8_t *buf, size_t len, size_t max,
                        const EVP_MD *md, size_t *ret_pos)
{
    int r;
    struct ks_ima_slot s = {0};
    struct ks_ima_entry *e = &s.e;
    size_t hsize = ks_ima_hash_size(log->template_alg);
    size_t off = 0;
    size_t pos = 0; /* the field being read, reported on failure */

#define NEED(n)                                                                                    \
    do {                                                                                           \
        if (!have(off, len, (n))) {                                                                \
            r = KS_ERR_IMA_TRUNCATED;                                                              \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)
#define FAIL(code)                                                                                 \
    do {                                                                                           \
        r = (code);                                                                                \
        goto out;                                                                                  \
    } while (0)

    while (off < len) {
        pos = off;
        if (log->count >= max) {
            FAIL(KS_ERR_IMA_TOO_MANY);
        }
        NEED(4);
        e->pcr = get_le32(buf + off);
        if (e->pcr >= KS_PCR_COUNT) {
            FAIL(KS_ERR_IMA_PCR_INDEX);
        }
        off += 4;

        pos = off;
        NEED(hsize);
        memcpy(e->template_hash, buf + off, hsize);
        e->template_hash_len = hsize;
        off += hsize;

        pos = off;
        NEED(4);
        uint32_t nlen = get_le32(buf + off);
        if (nlen == 0 || nlen > MAX_TEMPLATE_NAME) {
            FAIL(KS_ERR_IMA_TEMPLATE);
        }
        off += 4;
        NEED(nlen);
        r = ks_ima_template_from_span((const char *)buf + off, nlen, &e->template_id,
                                      &e->template_name);
        if (r != KS_OK) {
            goto out;
        }
        off += nlen;

        pos = off;
        if (e->template_id == KS_IMA_TEMPLATE_IMA) {
            /* No template data length; the digest without a length and the
             * name without its NUL (ima_measurements_show():
             * IMA_SHOW_BINARY_NO_FIELD_LEN, IMA_SHOW_BINARY_OLD_STRING_FMT). */
            NEED(LEGACY_DIGEST);
            const uint8_t *digest = buf + off;
            off += LEGACY_DIGEST;
            pos = off;
            NEED(4);
            uint32_t plen = get_le32(buf + off);
            if (plen > KS_IMA_MAX_LEGACY_NAME) {
                FAIL(KS_ERR_IMA_FIELD_SIZE);
            }
            off += 4;
            NEED(plen);
            r = ks_ima_build_legacy(digest, (const char *)buf + off, plen, &s);
            if (r != KS_OK) {
                goto out;
            }
            off += plen;
        } else {
            NEED(4);
            uint32_t dlen = get_le32(buf + off);
            if (dlen > KS_IMA_MAX_TEMPLATE_DATA) {
                FAIL(KS_ERR_IMA_FIELD_SIZE);
            }
            off += 4;
            pos = off;
            NEED(dlen);
            uint8_t *d = malloc(dlen ? dlen : 1);
            if (!d) {
                FAIL(KS_ERR_NOMEM);
            }
            memcpy(d, buf + off, dlen);
            s.data = d;
            e->data = d;
            e->data_len = dlen;
            off += dlen;
        }
        r = ks_ima_finish_entry(log, &s, md);
        if (r != KS_OK) {
            goto out;
        }
    }
    r = KS_OK;
#undef FAIL
#undef NEED
out:
    if (r != KS_OK) {
        *ret_pos = pos;
    }
    ks_ima_slot_clear(&s);
    return r;
}

int ks_ima_log_parse(const uint8_t *buf, size_t len, const struct ks_ima_parse_opts *opts,
                     struct ks_ima_log **ret_log, size_t *err_pos)
{
    size_t pos = 0;
    int r;
    struct ks_ima_log *log = NULL;
    static const struct ks_ima_parse_opts defaults = {0};

    if (!opts) {
        opts = &defaults;
    }
    if ((!buf && len) || !ret_log) {
        r = KS_ERR_INVALID_ARG;
        goto out;
    }
    enum ks_ima_hash talg = opts->template_alg ? opts->template_alg : KS_IMA_HASH_SHA1;
    if (!hash_by_alg(talg)) {
        r = KS_ERR_INVALID_ARG;
        goto out;
    }
    const EVP_MD *md = template_md(talg);
    if (!md) {
        r = KS_ERR_UNSUPPORTED;
        goto out;
    }
    size_t max = opts->max_entries && opts->max_entries < KS_IMA_MAX_ENTRIES ? opts->max_entries
                                                                             : KS_IMA_MAX_ENTRIES;
    enum ks_ima_format fmt = opts->format;
    if (fmt == KS_IMA_FORMAT_AUTO) {
        fmt = ks_ima_detect_format(buf, len);
    } else if (fmt != KS_IMA_FORMAT_ASCII && fmt != KS_IMA_FORMAT_BINARY) {
        r = KS_ERR_INVALID_ARG;
        goto out;
    }
    if (len == 0) {
        r = KS_ERR_IMA_EMPTY;
        goto out;
    }
    log = calloc(1, sizeof(*log));
    if (!log) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    log->format = fmt;
    log->template_alg = talg;
    if (fmt == KS_IMA_FORMAT_ASCII) {
        r = ks_ima_parse_ascii(log, buf, len, max, md, &pos);
    } else {
        r = parse_binary(log, buf, len, max, md, &pos);
    }
    if (r != KS_OK) {
        goto out;
    }
    *ret_log = log;
    log = NULL;
out:
    if (r != KS_OK && err_pos) {
        *err_pos = pos;
    }
    ks_ima_log_free(log);
    return r;
}

void ks_ima_log_free(struct ks_ima_log *log)
{
    if (!log) {
        return;
    }
    for (size_t i = 0; i < log->count; i++) {
        free(log->entries[i].data);
    }
    free(log->entries);
    free(log);
}

size_t ks_ima_log_count(const struct ks_ima_log *log)
{
    return log ? log->count : 0;
}

const struct ks_ima_entry *ks_ima_log_entry(const struct ks_ima_log *log, size_t index)
{
    return log && index < log->count ? &log->entries[index].e : NULL;
}

enum ks_ima_format ks_ima_log_format(const struct ks_ima_log *log)
{
    return log ? log->format : KS_IMA_FORMAT_AUTO;
}

enum ks_ima_hash ks_ima_log_template_alg(const struct ks_ima_log *log)
{
    return log ? log->template_alg : 0;
}

size_t ks_ima_log_bad_template_hashes(const struct ks_ima_log *log)
{
    return log ? log->bad : 0;
}
