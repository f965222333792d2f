/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eventlog.h"
#include "eventlog_types.h"

/*
 * TCG PC Client event logs: parse, replay, describe and check every event,
 * free. Also describes the raw input as the data of the event type its
 * first 4 bytes name, so that the per-type decoders see arbitrary bytes.
 * Properties that must hold for any accepted log abort on violation, so
 * that libFuzzer reports them.
 */

static void check(int cond)
{
    if (!cond) {
        abort();
    }
}

static void describe(uint32_t type, const uint8_t *data, size_t len)
{
    char buf[160];
    check(ks_eventlog_describe(type, data, len, buf, sizeof(buf)) == KS_OK);
    check(strlen(buf) < sizeof(buf));
    char tiny[5];
    check(ks_eventlog_describe(type, data, len, tiny, sizeof(tiny)) == KS_OK);
    check(strlen(tiny) < sizeof(tiny));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 4) {
        uint32_t type = (uint32_t)data[0] | ((uint32_t)data[1] << 8) | ((uint32_t)data[2] << 16) |
                        ((uint32_t)data[3] << 24);
        /* Fold onto the known types most of the time. */
        if (data[3] & 0x40) {
            type = (type & 0x80000000u) | (type & 0xFF);
        }
        describe(type, data + 4, size - 4);
        (void)ks_eventlog_type_name(type);
    }

    struct ks_eventlog *log = NULL;
    size_t err = SIZE_MAX;
    int r = ks_eventlog_parse(data, size, &log, &err);
    if (r < 0) {
        check(log == NULL);
        check(err <= size);
        return 0;
    }
    check(err == SIZE_MAX);
    size_t n = ks_eventlog_count(log);
    check(n >= 1 && n <= KS_EVENTLOG_MAX_EVENTS);
    const struct ks_eventlog_alg *algs = NULL;
    size_t nalgs = ks_eventlog_algs(log, &algs);
    check(nalgs >= 1 && nalgs <= KS_EVENTLOG_MAX_ALGS);

    size_t end = 0;
    for (size_t i = 0; i < n; i++) {
        const struct ks_eventlog_event *ev = ks_eventlog_event(log, i);
        check(ev && ev->index == i && ev->offset == end);
        check(ev->data_len <= KS_EVENTLOG_MAX_EVENT_DATA && ev->data_len < ev->record_len);
        check(memcmp(ev->data, data + end + ev->record_len - ev->data_len, ev->data_len) == 0);
        check(ev->type == KS_EV_NO_ACTION || ev->pcr < KS_PCR_COUNT);
        check(ev->digest_count >= 1 && ev->digest_count <= nalgs);
        end += ev->record_len;
        describe(ev->type, ev->data, ev->data_len);
        uint8_t loc;
        (void)ks_eventlog_event_startup_locality(ev, &loc);
        for (size_t k = 0; k < ev->digest_count; k++) {
            const struct ks_eventlog_digest *d = &ev->digests[k];
            check(ks_eventlog_event_digest(ev, d->alg) == d);
            enum ks_eventlog_data_check c;
            int cr = ks_eventlog_event_check_data(ev, d->alg, &c);
            check(ks_alg_digest_size(d->alg) ? cr == KS_OK : cr == KS_ERR_TPM_ALG);
        }
    }
    check(end == size);
    check(ks_eventlog_event(log, n) == NULL);

    struct ks_pcr_set a, b;
    size_t off = SIZE_MAX;
    r = ks_eventlog_replay(log, &a, &off);
    if (r == KS_OK) {
        /* Deterministic. */
        check(ks_eventlog_replay(log, &b, NULL) == KS_OK);
        for (int k = 0; k < KS_MAX_BANKS; k++) {
            check(a.bank[k].alg == b.bank[k].alg && a.bank[k].present == b.bank[k].present);
            check(memcmp(a.bank[k].value, b.bank[k].value, sizeof(a.bank[k].value)) == 0);
        }
    } else {
        /* Only StartupLocality misuse: the parser refused bad PCR indexes. */
        check(r == KS_ERR_EVLOG_MALFORMED);
        check(off < size);
    }
    ks_eventlog_free(log);
    return 0;
}
