/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "keyserverd/endpoints.h"

/* GET /metrics: Prometheus text exposition format 0.0.4. */
void ks_ep_metrics(struct ks_server_ctx *ctx, const struct ks_http_request *req,
                   struct ks_http_reply *reply)
{
    char *text = NULL;
    size_t len = 0;
    uint64_t now = ks_state_now();
    struct ks_metrics_gauges g = {
        .connections = atomic_load(&ctx->connections),
        .in_flight = atomic_load(&ctx->in_flight),
        .nonce_cache = ks_nonce_cache_count(ctx->nonces, now),
        .uptime_s = now >= ctx->started_at ? now - ctx->started_at : 0,
    };
    unsigned long long rows = 0, commits = 0;
    ks_audit_batcher_counts(ctx->audit_batcher, &rows, &commits);
    g.audit_rows = rows;
    g.audit_commits = commits;
    struct ks_policy_cache_stats pc;
    ks_policy_cache_stats(ctx->policy_cache, &pc);
    g.policy_cache_versions = pc.versions;
    g.policy_cache_rules = pc.rules;
    g.policy_cache_hits = pc.hits;
    g.policy_cache_misses = pc.misses;
    int r = ks_metrics_render(&ctx->metrics, &g, &text, &len);
    if (r != KS_OK) {
        ks_http_reply_error(reply, r, "cannot render metrics");
        return;
    }
    ks_http_reply_text(reply, 200, KS_HTTP_PROMETHEUS, text, len);
}
