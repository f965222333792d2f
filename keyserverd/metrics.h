/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_KEYSERVERD_METRICS_H
#define KS_KEYSERVERD_METRICS_H

/*
 * Counters kept with C11 atomics (relaxed: each counter is independent) and
 * their Prometheus text exposition (format version 0.0.4): requests by
 * endpoint and status class, releases granted and refused by reason (the
 * protocol error codes), malformed requests (400, 413, 415 on any
 * endpoint) and a request latency histogram.
 */

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "ks_error.h"
#include "keyserverd/http.h"

enum ks_endpoint_id {
    KS_EP_HEALTH = 0,
    KS_EP_INFO,
    KS_EP_CHALLENGE,
    KS_EP_RELEASE,
    KS_EP_KEYS_PUBLIC,
    KS_EP_METRICS,
    KS_EP_ENROLL,          /* POST /v1/enroll */
    KS_EP_ENROLL_ACTIVATE, /* POST /v1/enroll/{id}/activate */
    KS_EP_OTHER,           /* no route matched */
    KS_EP_COUNT,
};

/* "health", "info", ... ("other" for KS_EP_OTHER); NULL out of range. */
const char *ks_endpoint_name(enum ks_endpoint_id ep);

/* Upper bounds of the latency buckets in microseconds (the +Inf bucket is
 * implicit). */
#define KS_METRICS_BUCKETS 14

struct ks_metrics {
    atomic_uint_fast64_t requests[KS_EP_COUNT][5]; /* by status class 1xx..5xx */
    atomic_uint_fast64_t releases_granted;
    atomic_uint_fast64_t releases_refused[KS_HC_COUNT];
    atomic_uint_fast64_t malformed;
    atomic_uint_fast64_t latency_bucket[KS_METRICS_BUCKETS + 1]; /* not cumulative */
    atomic_uint_fast64_t latency_sum_us;
    atomic_uint_fast64_t latency_count;
};

/* Values sampled at exposition time. */
struct ks_metrics_gauges {
    uint64_t connections; /* open connections */
    uint64_t in_flight;   /* requests being handled */
    uint64_t nonce_cache; /* unexpired nonces in the replay cache */
    uint64_t uptime_s;
    uint64_t audit_rows;    /* release audit rows committed (counter) */
    uint64_t audit_commits; /* the transactions that committed them (counter) */
    uint64_t policy_cache_versions, policy_cache_rules; /* compiled versions held */
    uint64_t policy_cache_hits, policy_cache_misses;    /* counters */
};

void ks_metrics_init(struct ks_metrics *m);

/* Record one finished request. */
void ks_metrics_observe(struct ks_metrics *m, enum ks_endpoint_id ep, unsigned status,
                        enum ks_http_code code, uint64_t latency_us);

/* The text exposition, malloc'd and NUL-terminated. KS_ERR_NOMEM. */
KS_WUR int ks_metrics_render(const struct ks_metrics *m, const struct ks_metrics_gauges *g,
                             char **ret, size_t *ret_len);

#endif
