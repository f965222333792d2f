/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyserverd/metrics.h"

static const char *const ep_names[KS_EP_COUNT] = {
    [KS_EP_HEALTH] = "health",
    [KS_EP_INFO] = "info",
    [KS_EP_CHALLENGE] = "challenge",
    [KS_EP_RELEASE] = "release",
    [KS_EP_KEYS_PUBLIC] = "keys_public",
    [KS_EP_METRICS] = "metrics",
    [KS_EP_ENROLL] = "enroll",
    [KS_EP_ENROLL_ACTIVATE] = "enroll_activate",
    [KS_EP_OTHER] = "other",
};

/* Prometheus' default buckets plus finer ones at the low end: most requests
 * take well under a millisecond. */
static const uint64_t bucket_us[KS_METRICS_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 5000000,
};
static const char *const bucket_le[KS_METRICS_BUCKETS] = {
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01",
    "0.025",  "0.05",    "0.1",    "0.25",  "0.5",    "1",     "5",
};

const char *ks_endpoint_name(enum ks_endpoint_id ep)
{
    if ((int)ep < 0 || ep >= KS_EP_COUNT) {
        return NULL;
    }
    return ep_names[ep];
}

void ks_metrics_init(struct ks_metrics *m)
{
    for (size_t e = 0; e < KS_EP_COUNT; e++) {
        for (size_t c = 0; c < 5; c++) {
            atomic_init(&m->requests[e][c], 0);
        }
    }
    atomic_init(&m->releases_granted, 0);
    for (size_t i = 0; i < KS_HC_COUNT; i++) {
        atomic_init(&m->releases_refused[i], 0);
    }
    atomic_init(&m->malformed, 0);
    for (size_t i = 0; i <= KS_METRICS_BUCKETS; i++) {
        atomic_init(&m->latency_bucket[i], 0);
    }
    atomic_init(&m->latency_sum_us, 0);
    atomic_init(&m->latency_count, 0);
}

#define INC(x) atomic_fetch_add_explicit(&(x), 1, memory_order_relaxed)

void ks_metrics_observe(struct ks_metrics *m, enum ks_endpoint_id ep, unsigned status,
                        enum ks_http_code code, uint64_t latency_us)
{
    if ((int)ep < 0 || ep >= KS_EP_COUNT) {
        ep = KS_EP_OTHER;
    }
    if ((int)code < 0 || code >= KS_HC_COUNT) {
        code = KS_HC_INTERNAL;
    }
    unsigned cls = status / 100;
    if (cls >= 1 && cls <= 5) {
        INC(m->requests[ep][cls - 1]);
    }
    /* A release attempt is a POST that got past routing (a 405 is not). */
    if (ep == KS_EP_RELEASE && code != KS_HC_METHOD_NOT_ALLOWED) {
        if (status == 200 && code == KS_HC_NONE) {
            INC(m->releases_granted);
        } else {
            INC(m->releases_refused[code == KS_HC_NONE ? KS_HC_INTERNAL : code]);
        }
    }
    if (code == KS_HC_BAD_REQUEST || code == KS_HC_TOO_LARGE ||
        code == KS_HC_UNSUPPORTED_MEDIA_TYPE) {
        INC(m->malformed);
    }
    size_t b = 0;
    while (b < KS_METRICS_BUCKETS && latency_us > bucket_us[b]) {
        b++;
    }
    INC(m->latency_bucket[b]);
    atomic_fetch_add_explicit(&m->latency_sum_us, latency_us, memory_order_relaxed);
    INC(m->latency_count);
}

#define LOAD(x) ((unsigned long long)atomic_load_explicit(&(x), memory_order_relaxed))

int ks_metrics_render(const struct ks_metrics *m, const struct ks_metrics_gauges *g, char **ret,
                      size_t *ret_len)
{
    char *buf = NULL;
    size_t len = 0;
    if (!m || !ret || !ret_len) {
        return KS_ERR_INVALID_ARG;
    }
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        return KS_ERR_NOMEM;
    }
    fputs("# HELP keyserverd_requests_total HTTP requests by endpoint and status class.\n"
          "# TYPE keyserverd_requests_total counter\n",
          f);
    for (size_t e = 0; e < KS_EP_COUNT; e++) {
        for (size_t c = 0; c < 5; c++) {
            fprintf(f, "keyserverd_requests_total{endpoint=\"%s\",code=\"%zuxx\"} %llu\n",
                    ep_names[e], c + 1, LOAD(m->requests[e][c]));
        }
    }
    fprintf(f,
            "# HELP keyserverd_releases_granted_total Release requests that released keys.\n"
            "# TYPE keyserverd_releases_granted_total counter\n"
            "keyserverd_releases_granted_total %llu\n",
            LOAD(m->releases_granted));
    fputs("# HELP keyserverd_releases_refused_total Release requests refused, by error code.\n"
          "# TYPE keyserverd_releases_refused_total counter\n",
          f);
    for (size_t i = 1; i < KS_HC_COUNT; i++) {
        fprintf(f, "keyserverd_releases_refused_total{reason=\"%s\"} %llu\n",
                ks_http_code_name((enum ks_http_code)i), LOAD(m->releases_refused[i]));
    }
    fprintf(f,
            "# HELP keyserverd_malformed_requests_total Requests refused as malformed "
            "(400, 413, 415).\n"
            "# TYPE keyserverd_malformed_requests_total counter\n"
            "keyserverd_malformed_requests_total %llu\n",
            LOAD(m->malformed));
    fputs("# HELP keyserverd_request_duration_seconds Time from request headers to response.\n"
          "# TYPE keyserverd_request_duration_seconds histogram\n",
          f);
    unsigned long long cum = 0;
    for (size_t b = 0; b < KS_METRICS_BUCKETS; b++) {
        cum += LOAD(m->latency_bucket[b]);
        fprintf(f, "keyserverd_request_duration_seconds_bucket{le=\"%s\"} %llu\n", bucket_le[b],
                cum);
    }
    cum += LOAD(m->latency_bucket[KS_METRICS_BUCKETS]);
    unsigned long long sum = LOAD(m->latency_sum_us);
    fprintf(f,
            "keyserverd_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
            "keyserverd_request_duration_seconds_sum %llu.%06llu\n"
            "keyserverd_request_duration_seconds_count %llu\n",
            cum, sum / 1000000, sum % 1000000, LOAD(m->latency_count));
    if (g) {
        fprintf(f,
                "# HELP keyserverd_connections Open client connections.\n"
                "# TYPE keyserverd_connections gauge\n"
                "keyserverd_connections %llu\n"
                "# HELP keyserverd_requests_in_flight Requests being handled.\n"
                "# TYPE keyserverd_requests_in_flight gauge\n"
                "keyserverd_requests_in_flight %llu\n"
                "# HELP keyserverd_nonce_cache_entries Unexpired nonces in the replay cache.\n"
                "# TYPE keyserverd_nonce_cache_entries gauge\n"
                "keyserverd_nonce_cache_entries %llu\n"
                "# HELP keyserverd_uptime_seconds Seconds since start.\n"
                "# TYPE keyserverd_uptime_seconds gauge\n"
                "keyserverd_uptime_seconds %llu\n"
                "# HELP keyserverd_audit_release_rows_total Release audit rows committed.\n"
                "# TYPE keyserverd_audit_release_rows_total counter\n"
                "keyserverd_audit_release_rows_total %llu\n"
                "# HELP keyserverd_audit_commits_total Transactions (fsyncs) that committed "
                "them (group commit).\n"
                "# TYPE keyserverd_audit_commits_total counter\n"
                "keyserverd_audit_commits_total %llu\n"
                "# HELP keyserverd_policy_cache_versions Compiled policy versions held.\n"
                "# TYPE keyserverd_policy_cache_versions gauge\n"
                "keyserverd_policy_cache_versions %llu\n"
                "# HELP keyserverd_policy_cache_rules Rules of the compiled versions held.\n"
                "# TYPE keyserverd_policy_cache_rules gauge\n"
                "keyserverd_policy_cache_rules %llu\n"
                "# HELP keyserverd_policy_cache_hits_total Releases that found a key's policy "
                "version compiled.\n"
                "# TYPE keyserverd_policy_cache_hits_total counter\n"
                "keyserverd_policy_cache_hits_total %llu\n"
                "# HELP keyserverd_policy_cache_misses_total Policy versions read from the "
                "database and compiled.\n"
                "# TYPE keyserverd_policy_cache_misses_total counter\n"
                "keyserverd_policy_cache_misses_total %llu\n",
                (unsigned long long)g->connections, (unsigned long long)g->in_flight,
                (unsigned long long)g->nonce_cache, (unsigned long long)g->uptime_s,
                (unsigned long long)g->audit_rows, (unsigned long long)g->audit_commits,
                (unsigned long long)g->policy_cache_versions,
                (unsigned long long)g->policy_cache_rules, (unsigned long long)g->policy_cache_hits,
                (unsigned long long)g->policy_cache_misses);
    }
    if (fclose(f) != 0 || !buf) {
        free(buf);
        return KS_ERR_NOMEM;
    }
    *ret = buf;
    *ret_len = len;
    return KS_OK;
}
