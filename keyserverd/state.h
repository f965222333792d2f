/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_KEYSERVERD_STATE_H
#define KS_KEYSERVERD_STATE_H

/*
 * The one context every endpoint receives: configuration, logging, nonce
 * issuer and replay cache, rate limiter, metrics, parsed-AK cache, and the
 * keyserver's identity and keys loaded from the store at start (the nonce
 * key and receipt key are wrapped under the master key in the database, so
 * replicas sharing a database share them). Created once in main() and
 * read-only afterwards except for the thread-safe parts (nonce cache, rate
 * limiter, AK cache, atomics). There is no global state: everything a
 * request handler needs hangs off this. Each worker thread gets its own
 * database connection (ks_state_store), opened on first use.
 */

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "ks_error.h"
#include "db/store.h"
#include "keyserverd/ak_cache.h"
#include "keyserverd/audit_batch.h"
#include "keyserverd/ks_config.h"
#include "keyserverd/log.h"
#include "keyserverd/metrics.h"
#include "keyserverd/policy_cache.h"
#include "keyserverd/nonce.h"
#include "keyserverd/ratelimit.h"

struct ks_server_ctx {
    const struct ks_config *cfg; /* owned by main */
    const struct ks_log *log;    /* owned by main */
    const char *db_path;         /* cfg->db */
    const char *master_key_path; /* cfg->master_key */

    struct ks_nonce *nonces;
    struct ks_ratelimit *ratelimit;
    struct ks_metrics metrics;

    /* Identity: "id" of /v1/info, the keyserver id of the database. */
    char id[96];
    /* receipt_key: ECDSA P-256 private key signing release receipts, and
     * its SubjectPublicKeyInfo DER (from the store). */
    EVP_PKEY *receipt_key;
    uint8_t *receipt_spki;
    size_t receipt_spki_len;
    struct ks_master_key *master_key; /* unwraps key material at release */
    struct ks_ak_cache *ak_cache;
    struct ks_audit_batcher *audit_batcher; /* group commit of release rows */
    struct ks_policy_cache *policy_cache;   /* compiled policy versions */
    unsigned app_pcr;                       /* cfg->app_pcr */
    pthread_key_t store_key;                /* per-thread struct ks_store * */
    bool store_key_ok;

    uint64_t started_at;     /* Unix seconds */
    atomic_uint in_flight;   /* requests between first call and completion */
    atomic_uint connections; /* open connections */
    atomic_bool draining;    /* SIGTERM received: answer with Connection: close */
};

/* Build the context: load the master key (mode 0600) and, from the
 * database, the keyserver id, nonce key and receipt key; nonce cache, rate
 * limiter, metrics, AK cache. A database that `ksctl init` has not set up is
 * refused with a message in err. cfg and log must outlive the context. */
KS_WUR int ks_state_new(const struct ks_config *cfg, const struct ks_log *log,
                        struct ks_server_ctx **ret);

/* The calling thread's database connection (opened on first use with the
 * configured busy timeout, closed when the thread exits), or NULL when it
 * cannot be opened (logged). */
struct ks_store *ks_state_store(struct ks_server_ctx *ctx);
void ks_state_free(struct ks_server_ctx *ctx);

/* Current Unix time in seconds and monotonic time in microseconds. */
uint64_t ks_state_now(void);
uint64_t ks_state_monotonic_us(void);

#endif
