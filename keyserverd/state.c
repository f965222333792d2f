/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <syslog.h>

#include <openssl/crypto.h>

#include "keyserverd/log.h"
#include "keyserverd/state.h"

uint64_t ks_state_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec < 0 ? 0 : (uint64_t)ts.tv_sec;
}

uint64_t ks_state_monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void store_close_at_thread_exit(void *p)
{
    ks_store_close(p);
}

struct ks_store *ks_state_store(struct ks_server_ctx *ctx)
{
    if (!ctx || !ctx->store_key_ok) {
        return NULL;
    }
    struct ks_store *s = pthread_getspecific(ctx->store_key);
    if (s) {
        return s;
    }
    char err[256] = "";
    int r = ks_store_open_ex(ctx->db_path, 0, (int)ctx->cfg->db_busy_timeout, err, sizeof(err), &s);
    if (r < 0) {
        ks_log(ctx->log, LOG_ERR, "%s: cannot open database %s: %s", __func__, ctx->db_path,
               err[0] ? err : ks_strerror(r));
        return NULL;
    }
    if (pthread_setspecific(ctx->store_key, s) != 0) {
        ks_store_close(s);
        return NULL;
    }
    return s;
}

/* Identity and keys from the database, unwrapped with the master key. */
static int load_from_store(struct ks_server_ctx *ctx, uint8_t nonce_key[KS_NONCE_KEY_LEN])
{
    struct ks_store *s = ks_state_store(ctx);
    struct ks_store_secret *secret = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    int r;
    if (!s) {
        return KS_ERR_DB_OPEN;
    }
    r = ks_store_meta_get(s, KS_META_ID, &buf, &len);
    if (r < 0) {
        ks_log(ctx->log, LOG_ERR, "database %s is not initialised (run 'ksctl init'): %s",
               ctx->db_path, ks_strerror(r));
        goto out;
    }
    snprintf(ctx->id, sizeof(ctx->id), "%.*s", (int)(len < sizeof(ctx->id) ? len : 0),
             (const char *)buf);
    free(buf);
    buf = NULL;
    r = ks_store_meta_get(s, KS_META_RECEIPT_PUB, &ctx->receipt_spki, &ctx->receipt_spki_len);
    if (r < 0) {
        goto out;
    }
    r = ks_store_receipt_key_load(s, ctx->master_key, &ctx->receipt_key);
    if (r < 0) {
        ks_log(ctx->log, LOG_ERR, "cannot load the receipt key (wrong master key?): %s",
               ks_strerror(r));
        goto out;
    }
    r = ks_store_meta_secret_get(s, ctx->master_key, KS_META_NONCE_KEY, &secret);
    if (r < 0) {
        goto out;
    }
    if (secret->len != KS_NONCE_KEY_LEN) {
        r = KS_ERR_DB_CORRUPT;
        goto out;
    }
    memcpy(nonce_key, secret->data, KS_NONCE_KEY_LEN);
    r = KS_OK;
out:
    free(buf);
    ks_store_secret_free(secret);
    return r;
}

int ks_state_new(const struct ks_config *cfg, const struct ks_log *log, struct ks_server_ctx **ret)
{
    uint8_t nonce_key[KS_NONCE_KEY_LEN];
    int r;
    if (!cfg || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_server_ctx *ctx = calloc(1, sizeof(*ctx));
    if (!ctx) {
        return KS_ERR_NOMEM;
    }
    ctx->cfg = cfg;
    ctx->log = log;
    ctx->db_path = cfg->db;
    ctx->master_key_path = cfg->master_key;
    ctx->app_pcr = cfg->app_pcr;
    ctx->started_at = ks_state_now();
    atomic_init(&ctx->in_flight, 0);
    atomic_init(&ctx->connections, 0);
    atomic_init(&ctx->draining, false);
    ks_metrics_init(&ctx->metrics);
    if (pthread_key_create(&ctx->store_key, store_close_at_thread_exit) != 0) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    ctx->store_key_ok = true;

    r = ks_master_key_load(cfg->master_key, &ctx->master_key);
    if (r < 0) {
        ks_log(log, LOG_ERR, "master key %s: %s", cfg->master_key, ks_strerror(r));
        goto out;
    }
    r = load_from_store(ctx, nonce_key);
    if (r < 0) {
        goto out;
    }
    r = ks_nonce_new(nonce_key, sizeof(nonce_key), cfg->nonce_lifetime, KS_NONCE_CACHE_DEFAULT,
                     &ctx->nonces);
    if (r != KS_OK) {
        goto out;
    }
    r = ks_ratelimit_new(cfg->rate_limit, cfg->rate_burst, KS_RATELIMIT_DEFAULT_CAPACITY,
                         &ctx->ratelimit);
    if (r != KS_OK) {
        goto out;
    }
    r = ks_ak_cache_new(4096, &ctx->ak_cache);
    if (r != KS_OK) {
        goto out;
    }
    r = ks_audit_batcher_new(KS_AUDIT_BATCH_MAX, &ctx->audit_batcher);
    if (r != KS_OK) {
        goto out;
    }
    r = ks_policy_cache_new(cfg->policy_cache_versions, cfg->policy_cache_rules,
                            &ctx->policy_cache);
out:
    OPENSSL_cleanse(nonce_key, sizeof(nonce_key));
    if (r != KS_OK) {
        ks_state_free(ctx);
        return r;
    }
    *ret = ctx;
    return KS_OK;
}

void ks_state_free(struct ks_server_ctx *ctx)
{
    if (!ctx) {
        return;
    }
    if (ctx->store_key_ok) {
        /* The calling thread's own connection; workers closed theirs when
         * they exited. */
        ks_store_close(pthread_getspecific(ctx->store_key));
        pthread_setspecific(ctx->store_key, NULL);
        pthread_key_delete(ctx->store_key);
    }
    ks_nonce_free(ctx->nonces);
    ks_ratelimit_free(ctx->ratelimit);
    ks_ak_cache_free(ctx->ak_cache);
    ks_audit_batcher_free(ctx->audit_batcher);
    ks_policy_cache_free(ctx->policy_cache);
    ks_master_key_free(ctx->master_key);
    EVP_PKEY_free(ctx->receipt_key);
    free(ctx->receipt_spki);
    free(ctx);
}
