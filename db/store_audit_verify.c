/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* Reading the audit trail: filtered listing, chain verification, prune. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/store_internal.h"
#include "db/store_list.h"

/* Fill a row from the current result row of a query selecting
 * KS_KS_AUDIT_COLUMNS (strings point into SQLite). */
int ks_store_audit_row_read(struct ks_store *s, sqlite3_stmt *st, struct ks_audit_row *row)
{
    row->seq = sqlite3_column_int64(st, 0);
    row->time = sqlite3_column_int64(st, 1);
    row->actor = (const char *)sqlite3_column_text(st, 2);
    row->event = (const char *)sqlite3_column_text(st, 3);
    row->ak_id = (const char *)sqlite3_column_text(st, 4);
    row->keys = (const char *)sqlite3_column_text(st, 5);
    row->reason = (const char *)sqlite3_column_text(st, 7);
    row->detail = (const char *)sqlite3_column_text(st, 8);
    if (ks_store_audit_outcome_parse((const char *)sqlite3_column_text(st, 6), &row->outcome) < 0 ||
        !row->actor || !row->event || sqlite3_column_bytes(st, 9) != KS_STORE_HASH_LEN ||
        sqlite3_column_bytes(st, 10) != KS_STORE_HASH_LEN) {
        return ks_store_fail(s, KS_ERR_DB_CORRUPT, "audit row %lld malformed", (long long)row->seq);
    }
    memcpy(row->prev_hash, sqlite3_column_blob(st, 9), KS_STORE_HASH_LEN);
    memcpy(row->row_hash, sqlite3_column_blob(st, 10), KS_STORE_HASH_LEN);
    return KS_OK;
}

int ks_store_audit_foreach(struct ks_store *s, const struct ks_audit_filter *f, ks_audit_cb cb,
                           void *ctx)
{
    static const struct ks_audit_filter none = {0};
    if (!s || !cb) {
        return KS_ERR_INVALID_ARG;
    }
    if (!f) {
        f = &none;
    }
    if (f->outcome && !ks_audit_outcome_name(f->outcome)) {
        return KS_ERR_INVALID_ARG;
    }
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r = ks_store_stmt(s, STMT_AUDIT_SELECT,
                          "SELECT " KS_AUDIT_COLUMNS " FROM audit "
                          "WHERE seq >= ?1 AND time >= ?2 AND time <= ?3 "
                          "AND (?4 IS NULL OR ak_id = ?4) AND (?5 IS NULL OR event = ?5) "
                          "AND (?6 IS NULL OR instr(',' || keys || ',', ',' || ?6 || ',') > 0 "
                          "     OR instr(',' || keys || ',', ',' || ?6 || '@') > 0) "
                          "AND (?7 IS NULL OR outcome = ?7) ORDER BY seq LIMIT ?8",
                          &st);
    if (r < 0 || (r = ks_store_bind_int64(s, st, 1, f->since_seq)) < 0 ||
        (r = ks_store_bind_int64(s, st, 2, f->since_time)) < 0 ||
        (r = ks_store_bind_int64(s, st, 3, f->until_time ? f->until_time : INT64_MAX)) < 0 ||
        (r = ks_store_bind_text(s, st, 4, f->ak_id)) < 0 ||
        (r = ks_store_bind_text(s, st, 5, f->event)) < 0 ||
        (r = ks_store_bind_text(s, st, 6, f->key)) < 0 ||
        (r = ks_store_bind_text(s, st, 7, f->outcome ? ks_audit_outcome_name(f->outcome) : NULL)) <
            0 ||
        (r = ks_store_bind_int64(s, st, 8, f->limit > 0 ? f->limit : -1)) < 0) {
        return r;
    }
    return ks_store_audit_each(s, st, "audit select", cb, ctx);
}

struct walk {
    struct ks_audit_verify *res;
    int64_t expect_seq;
    uint8_t expect_prev[KS_STORE_HASH_LEN];
};

/* One row of the chain: it must follow the previous one (seq, prev_hash)
 * and hash to its row_hash. */
static int walk_row(struct ks_store *s, sqlite3_stmt *st, void *arg)
{
    struct walk *w = arg;
    struct ks_audit_verify *res = w->res;
    struct ks_audit_row row;
    uint8_t h[KS_STORE_HASH_LEN];
    int r = ks_store_audit_row_read(s, st, &row);
    if (r == KS_OK) {
        r = ks_store_audit_row_hash(&row, h);
    }
    if (r == KS_ERR_DB_CORRUPT ||
        (r == KS_OK && (row.seq != w->expect_seq + 1 ||
                        memcmp(row.prev_hash, w->expect_prev, KS_STORE_HASH_LEN) != 0 ||
                        memcmp(h, row.row_hash, KS_STORE_HASH_LEN) != 0))) {
        res->bad_seq = row.seq;
        return ks_store_fail(s, KS_ERR_AUDIT_CHAIN, "audit chain broken at seq %lld",
                             (long long)row.seq);
    }
    if (r < 0) {
        return r;
    }
    if (res->rows == 0) {
        res->first_seq = row.seq;
    }
    res->rows++;
    res->last_seq = row.seq;
    memcpy(res->last_hash, row.row_hash, KS_STORE_HASH_LEN);
    w->expect_seq = row.seq;
    memcpy(w->expect_prev, row.row_hash, KS_STORE_HASH_LEN);
    return KS_OK;
}

/* Walk the chain inside the caller's transaction. */
static int audit_walk(struct ks_store *s, struct ks_audit_verify *res)
{
    struct walk w = {.res = res};
    memset(res, 0, sizeof(*res));
    int r = ks_store_audit_anchor_get(s, &w.expect_seq, w.expect_prev);
    if (r < 0) {
        return r;
    }
    memcpy(res->last_hash, w.expect_prev, KS_STORE_HASH_LEN);
    STMT_AUTO sqlite3_stmt *st = NULL;
    r = ks_store_stmt(s, STMT_AUDIT_ALL, "SELECT " KS_AUDIT_COLUMNS " FROM audit ORDER BY seq",
                      &st);
    if (r < 0) {
        return r;
    }
    return ks_store_each_row(s, st, "audit walk", walk_row, &w);
}

int ks_store_audit_verify(struct ks_store *s, struct ks_audit_verify *ret)
{
    if (!s || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_audit_verify res;
    int r = ks_store_begin(s, false);
    if (r < 0) {
        return r;
    }
    r = audit_walk(s, &res);
    ks_store_rollback(s); /* read-only */
    if (r == KS_OK || r == KS_ERR_AUDIT_CHAIN) {
        *ret = res;
    }
    return r;
}

int ks_store_audit_prune(struct ks_store *s, const char *actor, int64_t keep_from_seq,
                         int64_t *ret_deleted)
{
    if (!s || !ks_store_actor_valid(actor) || keep_from_seq < 1) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_audit_verify res;
    uint8_t anchor[KS_AUDIT_ANCHOR_LEN];
    char detail[96];
    int r = ks_store_begin(s, true);
    if (r < 0) {
        return r;
    }
    /* Never prune over a broken chain: that would hide the tampering. */
    if ((r = audit_walk(s, &res)) < 0) {
        goto out;
    }
    if (res.rows == 0 || keep_from_seq < res.first_seq || keep_from_seq > res.last_seq) {
        r = ks_store_fail(s, KS_ERR_NOT_FOUND, "audit row %lld does not exist",
                          (long long)keep_from_seq);
        goto out;
    }
    int64_t deleted = keep_from_seq - res.first_seq;
    if (deleted > 0) {
        STMT_AUTO sqlite3_stmt *st = NULL;
        r = ks_store_stmt(s, STMT_AUDIT_SEQ_EXISTS, "SELECT row_hash FROM audit WHERE seq = ?1",
                          &st);
        if (r < 0 || (r = ks_store_bind_int64(s, st, 1, keep_from_seq - 1)) < 0) {
            goto out;
        }
        if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_bytes(st, 0) != KS_STORE_HASH_LEN) {
            r = ks_store_fail(s, KS_ERR_DB_CORRUPT, "audit row vanished");
            goto out;
        }
        ks_store_put_u64be(anchor, (uint64_t)(keep_from_seq - 1));
        memcpy(anchor + 8, sqlite3_column_blob(st, 0), KS_STORE_HASH_LEN);
        STMT_AUTO sqlite3_stmt *del = NULL;
        r = ks_store_stmt(s, STMT_AUDIT_DELETE_BEFORE, "DELETE FROM audit WHERE seq < ?1", &del);
        if (r < 0 || (r = ks_store_bind_int64(s, del, 1, keep_from_seq)) < 0 ||
            (r = ks_store_step_done(s, del, "audit prune")) < 0 ||
            (r = ks_store_meta_put_tx(s, KS_META_AUDIT_ANCHOR, anchor, sizeof(anchor), NULL)) < 0) {
            goto out;
        }
    }
    snprintf(detail, sizeof(detail), "{\"deleted\":%lld,\"keep_from_seq\":%lld}",
             (long long)deleted, (long long)keep_from_seq);
    if ((r = ks_store_audit_admin(s, actor, "audit.prune", NULL, NULL, NULL, detail)) < 0 ||
        (r = ks_store_commit(s)) < 0) {
        goto out;
    }
    if (ret_deleted) {
        *ret_deleted = deleted;
    }
out:
    if (r < 0) {
        ks_store_rollback(s);
    }
    return r;
}
