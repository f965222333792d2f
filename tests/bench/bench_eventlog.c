/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_eventlog.h"
#include "eventlog_types.h"
#include "tpm_alg.h"

/* Every field of the log is little-endian (PFP 10.2). */
struct buf {
    uint8_t *p;
    size_t len, cap;
    bool overflow; /* a put did not fit: the sizing below is wrong */
};

static void put(struct buf *b, const void *d, size_t n)
{
    if (b->overflow || n > b->cap - b->len) {
        b->overflow = true;
        return;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void put8(struct buf *b, uint8_t v)
{
    put(b, &v, 1);
}

static void put16(struct buf *b, uint16_t v)
{
    uint8_t le[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(b, le, 2);
}

static void put32(struct buf *b, uint32_t v)
{
    uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, le, 4);
}

/* The Spec ID Event03 header (PFP 10.4.5.1) in the SHA-1 event format, on
 * PCR 0 with a zero digest, listing sha256 alone. */
static void put_specid(struct buf *b)
{
    static const uint8_t zero[20] = {0};
    static const char sig[16] = "Spec ID Event03";
    put32(b, 0);
    put32(b, KS_EV_NO_ACTION);
    put(b, zero, sizeof(zero));
    put32(b, 16 + 4 + 4 + 4 + 4 + 1);
    put(b, sig, sizeof(sig));
    put32(b, 0); /* platformClass: client */
    put8(b, 0);  /* specVersionMinor */
    put8(b, 2);  /* specVersionMajor */
    put8(b, 2);  /* specErrata */
    put8(b, 2);  /* uintnSize: UINT64 */
    put32(b, 1); /* numberOfAlgorithms */
    put16(b, KS_ALG_SHA256);
    put16(b, 32);
    put8(b, 0); /* vendorInfoSize */
}

/* Event data of event i: an EV_IPL string, or an EV_EVENT_TAG
 * TCG_PCClientTaggedEvent {taggedEventID, taggedEventDataSize, data}.
 * Returns its length, 0 when it does not fit in cap. */
static size_t event_data(size_t i, uint32_t *ret_type, uint8_t *out, size_t cap)
{
    char text[64];
    int n = snprintf(text, sizeof(text), "ks-bench event %zu", i);
    size_t tlen = (size_t)n + 1; /* with its NUL */
    if (i % 2 == 0) {
        *ret_type = KS_EV_IPL;
        memcpy(out, text, tlen);
        return tlen;
    }
    *ret_type = KS_EV_EVENT_TAG;
    struct buf b = {out, 0, cap, false};
    put32(&b, (uint32_t)i); /* taggedEventID */
    put32(&b, (uint32_t)tlen);
    put(&b, text, tlen);
    return b.overflow ? 0 : b.len;
}

int ks_bench_eventlog_make(size_t n_events, uint8_t **ret_log, size_t *ret_len,
                           struct ks_pcr_set *ret_pcrs)
{
    if (!ret_log || !ret_len || !ret_pcrs || n_events == 0 ||
        n_events > KS_BENCH_EVENTLOG_MAX_EVENTS) {
        return KS_ERR_INVALID_ARG;
    }
    int r;
    struct ks_pcr_set pcrs;
    /* Header: 32 + 33 bytes; event: 4+4+4+2+32+4 + at most 8+64 bytes. */
    struct buf b = {NULL, 0, 128 + n_events * 128, false};
    b.p = malloc(b.cap);
    if (!b.p) {
        return KS_ERR_NOMEM;
    }
    ks_pcr_set_init(&pcrs);
    r = ks_pcr_bank_enable(&pcrs, KS_ALG_SHA256);
    if (r < 0) {
        goto out;
    }
    put_specid(&b);
    for (size_t i = 0; i < n_events; i++) {
        uint8_t data[72], digest[32];
        uint32_t type;
        unsigned pcr = (unsigned)(i % KS_BENCH_EVENTLOG_PCRS);
        size_t dlen = event_data(i, &type, data, sizeof(data));
        if (dlen == 0) {
            r = KS_ERR_INTERNAL;
            goto out;
        }
        r = ks_alg_hash(KS_ALG_SHA256, data, dlen, NULL, 0, digest);
        if (r < 0) {
            goto out;
        }
        r = ks_pcr_extend(&pcrs, KS_ALG_SHA256, pcr, digest, sizeof(digest));
        if (r < 0) {
            goto out;
        }
        put32(&b, pcr);
        put32(&b, type);
        put32(&b, 1); /* digest count */
        put16(&b, KS_ALG_SHA256);
        put(&b, digest, sizeof(digest));
        put32(&b, (uint32_t)dlen);
        put(&b, data, dlen);
    }
    if (b.overflow) {
        r = KS_ERR_INTERNAL;
        goto out;
    }
    *ret_log = b.p;
    *ret_len = b.len;
    *ret_pcrs = pcrs;
    b.p = NULL;
    r = KS_OK;
out:
    free(b.p);
    return r;
}
