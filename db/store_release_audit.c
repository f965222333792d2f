/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* The audit rows of release decisions, with the AK's quote clock of a
 * grant, one transaction for a whole batch of them (group commit:
 * keyserverd/audit_batch.c). */

#include <stdio.h>
#include <string.h>

#include "db/store_internal.h"

static int release_item_tx(struct ks_store *s, struct ks_store_release_item *it)
{
    const struct ks_store_quote_clock *c = it->clock;
    if (c) {
        int r = ks_store_ak_quote_tx(s, it->entry->ak_id, 0, c->clock, c->reset_count,
                                     c->restart_count);
        if (r < 0 && !(r == KS_ERR_AK_CLOCK_ROLLBACK && !c->enforce)) {
            return r;
        }
    }
    return ks_store_audit_append_tx(s, it->entry, &it->seq, it->hash);
}

/* One item inside the batch's transaction, under its own savepoint so that
 * an item refused here (a clock rollback) leaves no half-written change
 * while the others still commit. */
static int release_item_savepoint(struct ks_store *s, struct ks_store_release_item *it)
{
    int r = ks_store_exec_cached(s, STMT_SAVEPOINT, "SAVEPOINT ks_release_item", "savepoint");
    if (r < 0) {
        return r;
    }
    it->result = release_item_tx(s, it);
    if (it->result < 0) {
        snprintf(it->errmsg, sizeof(it->errmsg), "%s", s->errmsg);
    }
    if (it->result < 0 && !sqlite3_get_autocommit(s->db) &&
        (r = ks_store_exec_cached(s, STMT_SAVEPOINT_UNDO, "ROLLBACK TO ks_release_item",
                                  "rollback to savepoint")) < 0) {
        return r;
    }
    /* SQLite ends the whole transaction by itself on some errors (disk
     * full, I/O): nothing of the batch can commit then. */
    if (sqlite3_get_autocommit(s->db)) {
        return it->result < 0 ? it->result : ks_store_fail(s, KS_ERR_DB, "transaction lost");
    }
    return ks_store_exec_cached(s, STMT_SAVEPOINT_RELEASE, "RELEASE ks_release_item",
                                "release savepoint");
}

int ks_store_release_audit_batch(struct ks_store *s, struct ks_store_release_item *items, size_t n)
{
    if (!s || !items || n == 0) {
        return KS_ERR_INVALID_ARG;
    }
    int r = KS_OK;
    for (size_t i = 0; i < n; i++) {
        const struct ks_store_release_item *it = &items[i];
        if (!it->entry ||
            (it->clock && (!it->entry->ak_id || !ks_store_tpm_name_valid(it->entry->ak_id)))) {
            r = ks_store_fail(s, KS_ERR_INVALID_ARG, "release item %zu: no entry or AK id", i);
        }
        items[i].result = KS_ERR_INTERNAL; /* until the commit says otherwise */
        items[i].errmsg[0] = '\0';
    }
    if (r < 0) {
        goto out;
    }
    if ((r = ks_store_begin(s, true)) < 0) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if ((r = release_item_savepoint(s, &items[i])) < 0) {
            ks_store_rollback(s);
            goto out;
        }
    }
    r = ks_store_commit(s);
out:
    if (r < 0) {
        /* Nothing of the batch was written, whatever an item said. */
        for (size_t i = 0; i < n; i++) {
            items[i].result = r;
            snprintf(items[i].errmsg, sizeof(items[i].errmsg), "%s", s->errmsg);
        }
    }
    return r;
}
