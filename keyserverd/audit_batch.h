/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_KEYSERVERD_AUDIT_BATCH_H
#define KS_KEYSERVERD_AUDIT_BATCH_H

/*
 * Group commit of release audit rows. Every release decision must be on
 * disk (fsync) before its answer leaves; one fsync per release made the
 * fsync the largest cost of a release and serialised the worker threads on
 * SQLite's write lock. Here the threads that want to commit meanwhile queue
 * their rows, and one of them (the leader, no extra thread) writes the whole
 * queue in one transaction through its own connection
 * (ks_store_release_audit_batch) while the others wait; each learns its own
 * row's outcome. Durability is unchanged: nobody returns before the
 * transaction holding its row has committed.
 */

#include <stddef.h>

#include "ks_error.h"
#include "db/store.h"

struct ks_audit_batcher;

/* max_batch: most rows in one transaction (1 .. KS_AUDIT_BATCH_MAX). */
#define KS_AUDIT_BATCH_MAX 64
KS_WUR int ks_audit_batcher_new(size_t max_batch, struct ks_audit_batcher **ret);
void ks_audit_batcher_free(struct ks_audit_batcher *b);

/*
 * Commit item (entry and clock set by the caller) together with whatever
 * other threads submit meanwhile, through store (the calling thread's
 * connection, used if this thread leads the batch). Returns item->result:
 * KS_OK once the row is committed (item->seq and item->hash filled in), or
 * why it was not written (item->errmsg says more).
 */
KS_WUR int ks_audit_batcher_commit(struct ks_audit_batcher *b, struct ks_store *store,
                                   struct ks_store_release_item *item);

/* Rows and transactions committed so far (for /metrics and tests). */
void ks_audit_batcher_counts(struct ks_audit_batcher *b, unsigned long long *rows,
                             unsigned long long *transactions);

#endif
