/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "keyserverd/audit_batch.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct waiter {
    struct ks_store_release_item *item;
    bool done;
    struct waiter *next;
};

struct ks_audit_batcher {
    pthread_mutex_t mu;
    pthread_cond_t done_cv;
    struct waiter *head, **tail;
    bool leading; /* a thread is committing a batch */
    size_t max_batch;
    unsigned long long rows, transactions;
};

int ks_audit_batcher_new(size_t max_batch, struct ks_audit_batcher **ret)
{
    if (!ret || max_batch < 1 || max_batch > KS_AUDIT_BATCH_MAX) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_audit_batcher *b = calloc(1, sizeof(*b));
    if (!b) {
        return KS_ERR_NOMEM;
    }
    if (pthread_mutex_init(&b->mu, NULL) != 0) {
        free(b);
        return KS_ERR_NOMEM;
    }
    if (pthread_cond_init(&b->done_cv, NULL) != 0) {
        pthread_mutex_destroy(&b->mu);
        free(b);
        return KS_ERR_NOMEM;
    }
    b->tail = &b->head;
    b->max_batch = max_batch;
    *ret = b;
    return KS_OK;
}

void ks_audit_batcher_free(struct ks_audit_batcher *b)
{
    if (!b) {
        return;
    }
    pthread_cond_destroy(&b->done_cv);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

/* Called with b->mu held and b->leading set: take up to max_batch waiters
 * off the queue, commit them without the lock, hand back the outcomes. */
static void lead_one_batch(struct ks_audit_batcher *b, struct ks_store *store)
{
    struct waiter *taken[KS_AUDIT_BATCH_MAX];
    struct ks_store_release_item items[KS_AUDIT_BATCH_MAX];
    size_t n = 0;
    while (b->head && n < b->max_batch) {
        taken[n++] = b->head;
        b->head = b->head->next;
    }
    if (!b->head) {
        b->tail = &b->head;
    }
    pthread_mutex_unlock(&b->mu);

    for (size_t i = 0; i < n; i++) {
        items[i] = *taken[i]->item;
    }
    int r = ks_store_release_audit_batch(store, items, n);

    pthread_mutex_lock(&b->mu);
    for (size_t i = 0; i < n; i++) {
        *taken[i]->item = items[i];
        taken[i]->done = true;
    }
    if (r == KS_OK) {
        b->transactions++;
        for (size_t i = 0; i < n; i++) {
            b->rows += items[i].result == KS_OK;
        }
    }
    b->leading = false;
    pthread_cond_broadcast(&b->done_cv);
}

int ks_audit_batcher_commit(struct ks_audit_batcher *b, struct ks_store *store,
                            struct ks_store_release_item *item)
{
    if (!b || !store || !item) {
        return KS_ERR_INVALID_ARG;
    }
    struct waiter w = {.item = item};
    pthread_mutex_lock(&b->mu);
    *b->tail = &w;
    b->tail = &w.next;
    /* Whoever finds no batch in progress commits the queue (its own row
     * among the first max_batch, or a later batch it leads again); the
     * rows queued while that commit runs form the next batch. */
    while (!w.done) {
        if (!b->leading) {
            b->leading = true;
            lead_one_batch(b, store);
        } else {
            pthread_cond_wait(&b->done_cv, &b->mu);
        }
    }
    pthread_mutex_unlock(&b->mu);
    return item->result;
}

void ks_audit_batcher_counts(struct ks_audit_batcher *b, unsigned long long *rows,
                             unsigned long long *transactions)
{
    if (!b) {
        return;
    }
    pthread_mutex_lock(&b->mu);
    if (rows) {
        *rows = b->rows;
    }
    if (transactions) {
        *transactions = b->transactions;
    }
    pthread_mutex_unlock(&b->mu);
}
