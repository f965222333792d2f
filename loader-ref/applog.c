/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "applog.h"
#include "eventlog.h"
#include "tpm_alg.h"

struct ks_applog {
    uint32_t pcr;
    size_t n_algs;
    uint16_t algs[KS_MAX_BANKS];
    size_t count;
    struct ks_pcr_set pcrs; /* the replay of the events so far */
    uint8_t *buf;
    size_t len, cap;
};

static bool tag_ok(const char *tag, size_t len)
{
    if (len == 0 || len > KS_APPLOG_TAG_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = tag[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return false;
        }
    }
    return true;
}

int ks_applog_event_data(const char *tag, const uint8_t sha256[KS_APPLOG_MEASUREMENT_LEN],
                         uint8_t *ret, size_t size, size_t *ret_len)
{
    if (!tag || !sha256 || !ret || !ret_len) {
        return KS_ERR_INVALID_ARG;
    }
    size_t tlen = strnlen(tag, KS_APPLOG_TAG_MAX + 1);
    if (!tag_ok(tag, tlen) || size < tlen + KS_APPLOG_MEASUREMENT_LEN) {
        return KS_ERR_INVALID_ARG;
    }
    memcpy(ret, tag, tlen);
    memcpy(ret + tlen, sha256, KS_APPLOG_MEASUREMENT_LEN);
    *ret_len = tlen + KS_APPLOG_MEASUREMENT_LEN;
    return KS_OK;
}

/* PCRs 16 and 23 can be reset by anyone at locality 0 (PC Client Platform
 * TPM Profile, PCR attributes); 10 is IMA's. */
static bool pcr_ok(uint32_t pcr)
{
    return pcr < KS_PCR_COUNT && pcr != 10 && pcr != 16 && pcr != 23;
}

static int reserve(struct ks_applog *log, size_t more)
{
    if (more > KS_APPLOG_MAX_SIZE || log->len > KS_APPLOG_MAX_SIZE - more) {
        return KS_ERR_TOO_LARGE;
    }
    if (log->len + more <= log->cap) {
        return KS_OK;
    }
    size_t cap = log->cap ? log->cap : 256;
    while (cap < log->len + more) {
        cap *= 2;
    }
    uint8_t *p = realloc(log->buf, cap);
    if (!p) {
        return KS_ERR_NOMEM;
    }
    log->buf = p;
    log->cap = cap;
    return KS_OK;
}

/* Little-endian writers (the TCG log is little-endian, PFP 10.2). The
 * caller reserved the space. */
static void put(struct ks_applog *log, const void *p, size_t n)
{
    memcpy(log->buf + log->len, p, n);
    log->len += n;
}

static void put8(struct ks_applog *log, uint8_t v)
{
    put(log, &v, 1);
}

static void put16(struct ks_applog *log, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(log, b, 2);
}

static void put32(struct ks_applog *log, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(log, b, 4);
}

/* PFP 10.4.5.1 TCG_EfiSpecIdEvent in a TCG_PCClientPCREvent (SHA-1 format)
 * record: PCR 0, EV_NO_ACTION, 20 zero bytes. */
static int put_header(struct ks_applog *log)
{
    static const uint8_t zero[20] = {0};
    static const char signature[16] = "Spec ID Event03";
    uint32_t size = 16 + 4 + 1 + 1 + 1 + 1 + 4 + 4 * (uint32_t)log->n_algs + 1;
    int r = reserve(log, 4 + 4 + 20 + 4 + size);
    if (r != KS_OK) {
        return r;
    }
    put32(log, 0);
    put32(log, KS_APPLOG_EV_NO_ACTION);
    put(log, zero, sizeof(zero));
    put32(log, size);
    put(log, signature, sizeof(signature));
    put32(log, 0); /* platformClass: client */
    put8(log, 0);  /* specVersionMinor */
    put8(log, 2);  /* specVersionMajor */
    put8(log, 0);  /* specErrata */
    put8(log, 2);  /* uintnSize: UINT64 */
    put32(log, (uint32_t)log->n_algs);
    for (size_t i = 0; i < log->n_algs; i++) {
        put16(log, log->algs[i]);
        put16(log, (uint16_t)ks_alg_digest_size(log->algs[i]));
    }
    put8(log, 0); /* vendorInfoSize */
    return KS_OK;
}

static int set_algs(struct ks_applog *log, const uint16_t *algs, size_t n_algs)
{
    if (n_algs == 0 || n_algs > KS_MAX_BANKS) {
        return KS_ERR_INVALID_ARG;
    }
    ks_pcr_set_init(&log->pcrs);
    for (size_t i = 0; i < n_algs; i++) {
        if (ks_alg_digest_size(algs[i]) == 0) {
            return KS_ERR_TPM_ALG;
        }
        for (size_t j = 0; j < i; j++) {
            if (algs[j] == algs[i]) {
                return KS_ERR_INVALID_ARG;
            }
        }
        log->algs[i] = algs[i];
        int r = ks_pcr_bank_enable(&log->pcrs, algs[i]);
        if (r != KS_OK) {
            return r;
        }
    }
    log->n_algs = n_algs;
    return KS_OK;
}

int ks_applog_new(uint32_t pcr, const uint16_t *algs, size_t n_algs, struct ks_applog **ret_log)
{
    if (!algs || !ret_log || !pcr_ok(pcr)) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_applog *log = calloc(1, sizeof(*log));
    if (!log) {
        return KS_ERR_NOMEM;
    }
    log->pcr = pcr;
    int r = set_algs(log, algs, n_algs);
    if (r == KS_OK) {
        r = put_header(log);
    }
    if (r != KS_OK) {
        ks_applog_free(log);
        return r;
    }
    *ret_log = log;
    return KS_OK;
}

/* Digests of `data` in every bank of the log, in table order. */
static int digests_of(const struct ks_applog *log, const uint8_t *data, size_t len,
                      TPML_DIGEST_VALUES *ret)
{
    memset(ret, 0, sizeof(*ret));
    for (size_t i = 0; i < log->n_algs; i++) {
        ret->digests[i].hashAlg = log->algs[i];
        int r = ks_alg_hash(log->algs[i], data, len, NULL, 0, (uint8_t *)&ret->digests[i].digest);
        if (r != KS_OK) {
            return r;
        }
    }
    ret->count = (uint32_t)log->n_algs;
    return KS_OK;
}

static int extend_all(struct ks_applog *log, const TPML_DIGEST_VALUES *d)
{
    for (uint32_t i = 0; i < d->count; i++) {
        uint16_t alg = d->digests[i].hashAlg;
        int r = ks_pcr_extend(&log->pcrs, alg, log->pcr, (const uint8_t *)&d->digests[i].digest,
                              ks_alg_digest_size(alg));
        if (r != KS_OK) {
            return r;
        }
    }
    return KS_OK;
}

int ks_applog_append(struct ks_applog *log, const char *tag,
                     const uint8_t sha256[KS_APPLOG_MEASUREMENT_LEN],
                     TPML_DIGEST_VALUES *ret_digests)
{
    uint8_t data[KS_APPLOG_DATA_MAX];
    size_t data_len = 0;
    TPML_DIGEST_VALUES d;
    if (!log) {
        return KS_ERR_INVALID_ARG;
    }
    int r = ks_applog_event_data(tag, sha256, data, sizeof(data), &data_len);
    if (r == KS_OK) {
        r = digests_of(log, data, data_len, &d);
    }
    size_t need = 4 + 4 + 4 + 4 + data_len;
    for (size_t i = 0; i < log->n_algs; i++) {
        need += 2 + ks_alg_digest_size(log->algs[i]);
    }
    if (r == KS_OK) {
        r = reserve(log, need);
    }
    if (r != KS_OK) {
        return r;
    }
    /* PFP 10.2.2 TCG_PCR_EVENT2. */
    put32(log, log->pcr);
    put32(log, KS_APPLOG_EV_EVENT_TAG);
    put32(log, d.count);
    for (uint32_t i = 0; i < d.count; i++) {
        put16(log, d.digests[i].hashAlg);
        put(log, &d.digests[i].digest, ks_alg_digest_size(d.digests[i].hashAlg));
    }
    put32(log, (uint32_t)data_len);
    put(log, data, data_len);
    r = extend_all(log, &d);
    if (r != KS_OK) {
        return r;
    }
    log->count++;
    if (ret_digests) {
        *ret_digests = d;
    }
    return KS_OK;
}

/* One record of a log read back: an EV_EVENT_TAG on the log's PCR, tag ||
 * 32 bytes, digest H_bank(data) in every bank. */
static int load_event(struct ks_applog *log, const struct ks_eventlog_event *ev)
{
    TPML_DIGEST_VALUES d;
    if (ev->type != KS_APPLOG_EV_EVENT_TAG || ev->pcr != log->pcr ||
        ev->data_len <= KS_APPLOG_MEASUREMENT_LEN ||
        !tag_ok((const char *)ev->data, ev->data_len - KS_APPLOG_MEASUREMENT_LEN) ||
        ev->digest_count != log->n_algs) {
        return KS_ERR_APPLOG_FOREIGN;
    }
    int r = digests_of(log, ev->data, ev->data_len, &d);
    if (r != KS_OK) {
        return r;
    }
    for (uint32_t i = 0; i < d.count; i++) {
        const struct ks_eventlog_digest *got = ks_eventlog_event_digest(ev, d.digests[i].hashAlg);
        if (!got || memcmp(got->bytes, &d.digests[i].digest, got->size) != 0) {
            return KS_ERR_APPLOG_FOREIGN;
        }
    }
    return extend_all(log, &d);
}

int ks_applog_load(const uint8_t *buf, size_t len, uint32_t pcr, struct ks_applog **ret_log)
{
    struct ks_eventlog *parsed = NULL;
    struct ks_applog *log = NULL;
    const struct ks_eventlog_alg *algs = NULL;
    uint16_t ids[KS_MAX_BANKS];
    int r;
    if (!buf || !ret_log || !pcr_ok(pcr)) {
        return KS_ERR_INVALID_ARG;
    }
    if (len > KS_APPLOG_MAX_SIZE) {
        return KS_ERR_TOO_LARGE;
    }
    r = ks_eventlog_parse(buf, len, &parsed, NULL);
    if (r != KS_OK) {
        return r;
    }
    size_t n = ks_eventlog_algs(parsed, &algs);
    if (ks_eventlog_format(parsed) != KS_EVENTLOG_FORMAT_CRYPTO_AGILE || n == 0 ||
        n > KS_MAX_BANKS) {
        r = KS_ERR_APPLOG_FOREIGN;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (ks_alg_digest_size(algs[i].alg) == 0) {
            r = KS_ERR_APPLOG_FOREIGN;
            goto out;
        }
        ids[i] = algs[i].alg;
    }
    r = ks_applog_new(pcr, ids, n, &log);
    if (r != KS_OK) {
        goto out;
    }
    /* Record 0 is the header, checked by the parser. */
    for (size_t i = 1; i < ks_eventlog_count(parsed); i++) {
        r = load_event(log, ks_eventlog_event(parsed, i));
        if (r != KS_OK) {
            goto out;
        }
        log->count++;
    }
    /* Keep the bytes as read: the header may differ from ours in fields no
     * replay reads (platformClass, errata), and the log must stay the one
     * the TPM was extended from. */
    log->len = 0;
    r = reserve(log, len);
    if (r != KS_OK) {
        goto out;
    }
    put(log, buf, len);
    *ret_log = log;
    log = NULL;
out:
    ks_applog_free(log);
    ks_eventlog_free(parsed);
    return r;
}

void ks_applog_free(struct ks_applog *log)
{
    if (!log) {
        return;
    }
    free(log->buf);
    free(log);
}

size_t ks_applog_banks(const struct ks_applog *log, const uint16_t **ret_algs)
{
    if (!log) {
        return 0;
    }
    if (ret_algs) {
        *ret_algs = log->algs;
    }
    return log->n_algs;
}

size_t ks_applog_count(const struct ks_applog *log)
{
    return log ? log->count : 0;
}

int ks_applog_pcr(const struct ks_applog *log, uint16_t alg, uint8_t *ret, size_t size)
{
    if (!log || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    size_t dlen = ks_alg_digest_size(alg);
    if (dlen == 0 || !ks_pcr_bank_enabled(&log->pcrs, alg)) {
        return KS_ERR_PCR_BANK;
    }
    if (size < dlen) {
        return KS_ERR_INVALID_ARG;
    }
    if (!ks_pcr_set_has(&log->pcrs, alg, log->pcr)) {
        memset(ret, 0, dlen);
        return KS_OK;
    }
    const uint8_t *v = NULL;
    int r = ks_pcr_set_get(&log->pcrs, alg, log->pcr, &v);
    if (r != KS_OK) {
        return r;
    }
    memcpy(ret, v, dlen);
    return KS_OK;
}

const uint8_t *ks_applog_bytes(const struct ks_applog *log, size_t *ret_len)
{
    if (!log) {
        if (ret_len) {
            *ret_len = 0;
        }
        return NULL;
    }
    if (ret_len) {
        *ret_len = log->len;
    }
    return log->buf;
}
