/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "eventlog.h"

/* PFP 10.4.5.1: TCG_EfiSpecIDEvent signature of a crypto-agile log. */
static const uint8_t specid_sig[16] = "Spec ID Event03";
/* PFP 10.4.5.3: TCG_EfiStartupLocalityEvent signature. */
static const uint8_t locality_sig[16] = "StartupLocality";

/* TCG_PCClientPCREvent (PFP 10.2.1): pcrIndex, eventType, SHA-1 digest,
 * eventSize, event. */
#define SHA1_RECORD_FIXED (4 + 4 + 20 + 4)
/* TCG_EfiSpecIDEvent fixed part (PFP 10.4.5.1): signature[16],
 * platformClass, specVersionMinor, specVersionMajor, specErrata, uintnSize,
 * numberOfAlgorithms. */
#define SPECID_FIXED (16 + 4 + 1 + 1 + 1 + 1 + 4)

struct event_slot {
    struct ks_eventlog_event pub;
    size_t first_digest; /* index into ks_eventlog.digests until parse ends */
};

struct ks_eventlog {
    enum ks_eventlog_format format;
    uint8_t *buf; /* our copy of the log */
    size_t len;
    struct ks_eventlog_alg algs[KS_EVENTLOG_MAX_ALGS];
    size_t nalgs;
    struct event_slot *events;
    size_t nevents;
    size_t events_cap;
    struct ks_eventlog_digest *digests;
    size_t ndigests;
    size_t digests_cap;
};

static uint16_t get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static bool has(size_t off, size_t len, size_t need)
{
    return off <= len && len - off >= need;
}

/* Grow an array to hold one more element; caps are checked by the caller. */
static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap) {
        return KS_OK;
    }
    size_t ncap = *cap ? *cap * 2 : 64;
    if (ncap > SIZE_MAX / elem) {
        return KS_ERR_NOMEM;
    }
    void *p = realloc(*arr, ncap * elem);
    if (!p) {
        return KS_ERR_NOMEM;
    }
    *arr = p;
    *cap = ncap;
    return KS_OK;
}

static int add_digest(struct ks_eventlog *log, uint16_t alg, uint16_t size, const uint8_t *bytes)
{
    int r = grow((void **)&log->digests, &log->digests_cap, log->ndigests, sizeof(*log->digests));
    if (r < 0) {
        return r;
    }
    log->digests[log->ndigests++] = (struct ks_eventlog_digest){alg, size, bytes};
    return KS_OK;
}

static const struct ks_eventlog_alg *find_alg(const struct ks_eventlog *log, uint16_t alg)
{
    for (size_t i = 0; i < log->nalgs; i++) {
        if (log->algs[i].alg == alg) {
            return &log->algs[i];
        }
    }
    return NULL;
}

/* Reads eventSize at *off and the data after it; shared by both layouts. */
static int read_event_data(const struct ks_eventlog *log, size_t *off, struct event_slot *ev)
{
    if (!has(*off, log->len, 4)) {
        return KS_ERR_EVLOG_TRUNCATED;
    }
    uint32_t size = get_le32(log->buf + *off);
    *off += 4;
    if (size > KS_EVENTLOG_MAX_EVENT_DATA) {
        return KS_ERR_EVLOG_EVENT_SIZE;
    }
    if (!has(*off, log->len, size)) {
        return KS_ERR_EVLOG_TRUNCATED;
    }
    ev->pub.data = log->buf + *off;
    ev->pub.data_len = size;
    *off += size;
    return KS_OK;
}

/* PFP 10.2.1 TCG_PCClientPCREvent. */
static int read_sha1_record(struct ks_eventlog *log, size_t *off, struct event_slot *ev)
{
    if (!has(*off, log->len, SHA1_RECORD_FIXED)) {
        return KS_ERR_EVLOG_TRUNCATED;
    }
    const uint8_t *p = log->buf + *off;
    ev->pub.pcr = get_le32(p);
    ev->pub.type = get_le32(p + 4);
    if (ev->pub.pcr >= KS_PCR_COUNT && ev->pub.type != KS_EV_NO_ACTION) {
        return KS_ERR_EVLOG_PCR_INDEX;
    }
    int r = add_digest(log, KS_ALG_SHA1, 20, p + 8);
    if (r < 0) {
        return r;
    }
    ev->pub.digest_count = 1;
    *off += SHA1_RECORD_FIXED - 4;
    return read_event_data(log, off, ev);
}

/* PFP 10.2.2 TCG_PCR_EVENT2: the TPML_DIGEST_VALUES sizes come from the Spec
 * ID table (PFP 10.4.5.1), since the log may carry algorithms unknown here. */
static int read_event2_record(struct ks_eventlog *log, size_t *off, struct event_slot *ev)
{
    if (!has(*off, log->len, 12)) {
        return KS_ERR_EVLOG_TRUNCATED;
    }
    const uint8_t *p = log->buf + *off;
    ev->pub.pcr = get_le32(p);
    ev->pub.type = get_le32(p + 4);
    uint32_t count = get_le32(p + 8);
    *off += 12;
    if (ev->pub.pcr >= KS_PCR_COUNT && ev->pub.type != KS_EV_NO_ACTION) {
        return KS_ERR_EVLOG_PCR_INDEX;
    }
    /* Each algorithm at most once, so at most one digest per table entry. */
    if (count == 0 || count > log->nalgs) {
        return KS_ERR_EVLOG_DIGEST_ALG;
    }
    for (uint32_t i = 0; i < count; i++) {
        if (!has(*off, log->len, 2)) {
            return KS_ERR_EVLOG_TRUNCATED;
        }
        uint16_t alg = get_le16(log->buf + *off);
        *off += 2;
        const struct ks_eventlog_alg *a = find_alg(log, alg);
        if (!a) {
            return KS_ERR_EVLOG_DIGEST_ALG;
        }
        for (size_t k = ev->first_digest; k < log->ndigests; k++) {
            if (log->digests[k].alg == alg) {
                return KS_ERR_EVLOG_DIGEST_ALG;
            }
        }
        if (!has(*off, log->len, a->size)) {
            return KS_ERR_EVLOG_TRUNCATED;
        }
        int r = add_digest(log, alg, a->size, log->buf + *off);
        if (r < 0) {
            return r;
        }
        *off += a->size;
    }
    ev->pub.digest_count = count;
    return read_event_data(log, off, ev);
}

/* PFP 10.4.5.1 TCG_EfiSpecIDEvent. The declared event size must cover the
 * structure exactly: vendorInfo may not run past it, nor leave bytes over. */
static int parse_specid(struct ks_eventlog *log, const uint8_t *d, size_t len)
{
    if (len < SPECID_FIXED) {
        return KS_ERR_EVLOG_SPECID;
    }
    uint8_t minor = d[20];
    uint8_t major = d[21];
    uint8_t uintn = d[23];
    uint32_t n = get_le32(d + 24);
    /* Spec version 2.0 (errata free); uintnSize 1 = UINT32, 2 = UINT64. */
    if (major != 2 || minor != 0 || (uintn != 1 && uintn != 2)) {
        return KS_ERR_EVLOG_SPECID;
    }
    if (n == 0 || n > KS_EVENTLOG_MAX_ALGS) {
        return KS_ERR_EVLOG_SPECID;
    }
    size_t off = SPECID_FIXED;
    if (!has(off, len, (size_t)n * 4 + 1)) {
        return KS_ERR_EVLOG_SPECID;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint16_t alg = get_le16(d + off);
        uint16_t size = get_le16(d + off + 2);
        off += 4;
        size_t known = ks_alg_digest_size(alg);
        if (size == 0 || size > KS_MAX_DIGEST || (known && size != known) || find_alg(log, alg)) {
            return KS_ERR_EVLOG_SPECID;
        }
        log->algs[log->nalgs++] = (struct ks_eventlog_alg){alg, size};
    }
    uint8_t vendor = d[off];
    off += 1;
    if (len - off != vendor) {
        return KS_ERR_EVLOG_SPECID;
    }
    return KS_OK;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= p[i];
    }
    return acc == 0;
}

/* The first record is always SHA-1 format (PFP 10.2.2); it decides the
 * layout of the rest. */
static int parse_header(struct ks_eventlog *log, struct event_slot *ev)
{
    size_t off = 0;
    int r = read_sha1_record(log, &off, ev);
    if (r < 0) {
        return r;
    }
    ev->pub.record_len = off;
    if (ev->pub.type == KS_EV_NO_ACTION && ev->pub.data_len >= sizeof(specid_sig) &&
        memcmp(ev->pub.data, specid_sig, sizeof(specid_sig)) == 0) {
        /* PFP 10.4.5.1: the header is on PCR 0 with a zero digest. */
        if (ev->pub.pcr != 0 || !all_zero(log->buf + 8, 20)) {
            return KS_ERR_EVLOG_HEADER;
        }
        log->format = KS_EVENTLOG_FORMAT_CRYPTO_AGILE;
        return parse_specid(log, ev->pub.data, ev->pub.data_len);
    }
    log->format = KS_EVENTLOG_FORMAT_SHA1;
    log->algs[0] = (struct ks_eventlog_alg){KS_ALG_SHA1, 20};
    log->nalgs = 1;
    return KS_OK;
}

static int parse_all(struct ks_eventlog *log, size_t *ret_fail)
{
    size_t off = 0;
    int r;
    while (off < log->len) {
        *ret_fail = off;
        if (log->nevents >= KS_EVENTLOG_MAX_EVENTS) {
            return KS_ERR_EVLOG_TOO_MANY;
        }
        r = grow((void **)&log->events, &log->events_cap, log->nevents, sizeof(*log->events));
        if (r < 0) {
            return r;
        }
        struct event_slot *ev = &log->events[log->nevents];
        memset(ev, 0, sizeof(*ev));
        ev->pub.index = log->nevents;
        ev->pub.offset = off;
        ev->first_digest = log->ndigests;
        if (log->nevents == 0) {
            r = parse_header(log, ev);
            off = ev->pub.record_len;
        } else if (log->format == KS_EVENTLOG_FORMAT_CRYPTO_AGILE) {
            r = read_event2_record(log, &off, ev);
        } else {
            r = read_sha1_record(log, &off, ev);
        }
        if (r < 0) {
            return r;
        }
        ev->pub.record_len = off - ev->pub.offset;
        log->nevents++;
    }
    /* The digest array has stopped moving: point each event at its digests. */
    for (size_t i = 0; i < log->nevents; i++) {
        log->events[i].pub.digests = log->digests + log->events[i].first_digest;
    }
    return KS_OK;
}

int ks_eventlog_parse(const uint8_t *buf, size_t len, struct ks_eventlog **ret_log,
                      size_t *err_offset)
{
    if ((!buf && len) || !ret_log) {
        return KS_ERR_INVALID_ARG;
    }
    size_t fail = 0;
    int r;
    struct ks_eventlog *log = NULL;
    if (len == 0) {
        r = KS_ERR_EVLOG_EMPTY;
        goto out;
    }
    if (len > KS_EVENTLOG_MAX_SIZE) {
        r = KS_ERR_TOO_LARGE;
        goto out;
    }
    log = calloc(1, sizeof(*log));
    if (!log) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    log->buf = malloc(len);
    if (!log->buf) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    memcpy(log->buf, buf, len);
    log->len = len;
    r = parse_all(log, &fail);
    if (r < 0) {
        goto out;
    }
    *ret_log = log;
    log = NULL;
    r = KS_OK;
out:
    if (r < 0 && err_offset) {
        *err_offset = fail;
    }
    ks_eventlog_free(log);
    return r;
}

void ks_eventlog_free(struct ks_eventlog *log)
{
    if (!log) {
        return;
    }
    free(log->buf);
    free(log->events);
    free(log->digests);
    free(log);
}

enum ks_eventlog_format ks_eventlog_format(const struct ks_eventlog *log)
{
    return log ? log->format : (enum ks_eventlog_format)0;
}

size_t ks_eventlog_count(const struct ks_eventlog *log)
{
    return log ? log->nevents : 0;
}

const struct ks_eventlog_event *ks_eventlog_event(const struct ks_eventlog *log, size_t i)
{
    if (!log || i >= log->nevents) {
        return NULL;
    }
    return &log->events[i].pub;
}

size_t ks_eventlog_algs(const struct ks_eventlog *log, const struct ks_eventlog_alg **ret_algs)
{
    if (!log) {
        return 0;
    }
    if (ret_algs) {
        *ret_algs = log->algs;
    }
    return log->nalgs;
}

const struct ks_eventlog_digest *ks_eventlog_event_digest(const struct ks_eventlog_event *ev,
                                                          uint16_t alg)
{
    if (!ev) {
        return NULL;
    }
    for (size_t i = 0; i < ev->digest_count; i++) {
        if (ev->digests[i].alg == alg) {
            return &ev->digests[i];
        }
    }
    return NULL;
}

/* True when the data starts with the StartupLocality signature, whatever its
 * length: replay refuses a malformed one rather than skipping it. */
static bool locality_signature(const struct ks_eventlog_event *ev)
{
    return ev->type == KS_EV_NO_ACTION && ev->pcr == 0 && ev->data_len >= sizeof(locality_sig) &&
           memcmp(ev->data, locality_sig, sizeof(locality_sig)) == 0;
}

bool ks_eventlog_event_startup_locality(const struct ks_eventlog_event *ev, uint8_t *ret_locality)
{
    if (!ev || !locality_signature(ev) || ev->data_len != sizeof(locality_sig) + 1) {
        return false;
    }
    if (ret_locality) {
        *ret_locality = ev->data[sizeof(locality_sig)];
    }
    return true;
}

/* PFP 10.4.5.3: the TPM starts PCR 0 at the locality of TPM2_Startup (0 or
 * 3); an H-CRTM sequence starts it at 4. The event is logged before anything
 * is measured into PCR 0, so one that comes later (or twice) is refused. */
static int set_locality(const struct ks_eventlog_event *ev, bool pcr0_used, struct ks_pcr_set *set)
{
    uint8_t loc;
    if (pcr0_used || !ks_eventlog_event_startup_locality(ev, &loc) ||
        (loc != 0 && loc != 3 && loc != 4)) {
        return KS_ERR_EVLOG_MALFORMED;
    }
    for (int b = 0; b < KS_MAX_BANKS; b++) {
        uint16_t alg = set->bank[b].alg;
        if (alg == 0) {
            continue;
        }
        uint8_t v[KS_MAX_DIGEST] = {0};
        size_t n = ks_alg_digest_size(alg);
        v[n - 1] = loc;
        int r = ks_pcr_set_put(set, alg, 0, v, n);
        if (r < 0) {
            return r;
        }
    }
    return KS_OK;
}

int ks_eventlog_replay(const struct ks_eventlog *log, struct ks_pcr_set *ret_pcrs,
                       size_t *err_offset)
{
    if (!log || !ret_pcrs) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_pcr_set set;
    ks_pcr_set_init(&set);
    int r = KS_OK;
    size_t fail = 0;
    bool pcr0_used = false; /* extended, or set by StartupLocality */
    for (size_t i = 0; i < log->nalgs; i++) {
        if (ks_alg_bank_index(log->algs[i].alg) >= 0) {
            r = ks_pcr_bank_enable(&set, log->algs[i].alg);
            if (r < 0) {
                goto out;
            }
        }
    }
    for (size_t i = 0; i < log->nevents; i++) {
        const struct ks_eventlog_event *ev = &log->events[i].pub;
        fail = ev->offset;
        if (ev->type == KS_EV_NO_ACTION) {
            /* Never extended (PFP 10.4.5); only StartupLocality has an effect. */
            if (locality_signature(ev)) {
                r = set_locality(ev, pcr0_used, &set);
                if (r < 0) {
                    goto out;
                }
                pcr0_used = true;
            }
            continue;
        }
        /* The parser already refused these; checked again before use as an
         * index. */
        if (ev->pcr >= KS_PCR_COUNT) {
            r = KS_ERR_EVLOG_PCR_INDEX;
            goto out;
        }
        if (ev->pcr == 0) {
            pcr0_used = true;
        }
        for (size_t k = 0; k < ev->digest_count; k++) {
            const struct ks_eventlog_digest *d = &ev->digests[k];
            if (ks_alg_bank_index(d->alg) < 0) {
                continue; /* carried by size only (e.g. SM3_256) */
            }
            r = ks_pcr_extend(&set, d->alg, ev->pcr, d->bytes, d->size);
            if (r < 0) {
                goto out;
            }
        }
    }
    *ret_pcrs = set;
    r = KS_OK;
out:
    if (r < 0 && err_offset) {
        *err_offset = fail;
    }
    return r;
}

/* PFP Table 9: the types whose digest is the hash of the event data itself. */
static bool data_is_hashed(uint32_t type)
{
    switch (type) {
    case KS_EV_SEPARATOR:
    case KS_EV_ACTION:
    case KS_EV_EVENT_TAG:
    case KS_EV_IPL:
    case KS_EV_EFI_ACTION:
    case KS_EV_EFI_VARIABLE_DRIVER_CONFIG:
    case KS_EV_EFI_VARIABLE_BOOT:
    case KS_EV_EFI_VARIABLE_BOOT2:
    case KS_EV_EFI_VARIABLE_AUTHORITY:
        return true;
    default:
        return false;
    }
}

int ks_eventlog_event_check_data(const struct ks_eventlog_event *ev, uint16_t alg,
                                 enum ks_eventlog_data_check *ret_result)
{
    if (!ev || !ret_result || (!ev->data && ev->data_len)) {
        return KS_ERR_INVALID_ARG;
    }
    size_t n = ks_alg_digest_size(alg);
    if (n == 0) {
        return KS_ERR_TPM_ALG;
    }
    if (!data_is_hashed(ev->type)) {
        *ret_result = KS_EVENTLOG_DATA_UNVERIFIABLE;
        return KS_OK;
    }
    const struct ks_eventlog_digest *d = ks_eventlog_event_digest(ev, alg);
    if (!d) {
        *ret_result = KS_EVENTLOG_DATA_NO_DIGEST;
        return KS_OK;
    }
    if (d->size != n) {
        return KS_ERR_EVLOG_DIGEST_ALG;
    }
    uint8_t h[KS_MAX_DIGEST];
    int r = ks_alg_hash(alg, ev->data, ev->data_len, NULL, 0, h);
    if (r < 0) {
        return r;
    }
    *ret_result =
        CRYPTO_memcmp(h, d->bytes, n) == 0 ? KS_EVENTLOG_DATA_MATCH : KS_EVENTLOG_DATA_MISMATCH;
    return KS_OK;
}
