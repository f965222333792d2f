/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* `ksctl status` counts, the newest releases, and the audit bookkeeping of
 * `ksctl audit export|prune` (db/store.h "operations"). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/store_list.h"
#include "db/store_ops_internal.h"

/* meta entry: u64be seq of the last row that `ksctl audit export` wrote out. */
#define KS_META_AUDIT_EXPORTED "audit_exported"

#define RECENT_MAX 1000

/* ---- status ------------------------------------------------------------------- */

struct count {
    const char *sql;
    int64_t *out;
};

static int status_tx(struct ks_store *s, struct ks_store_status *st)
{
    const struct count counts[] = {
        {"SELECT count(*) FROM keys", &st->keys},
        {"SELECT count(*) FROM key_versions", &st->key_versions},
        {"SELECT count(*) FROM key_versions WHERE state = 'active'", &st->versions_active},
        {"SELECT count(*) FROM key_versions WHERE state = 'previous'", &st->versions_previous},
        {"SELECT count(*) FROM key_versions WHERE state = 'retired'", &st->versions_retired},
        {"SELECT count(*) FROM policies", &st->policies},
        {"SELECT count(DISTINCT policy_id) FROM policy_versions WHERE state = 'active'",
         &st->policies_active},
        {"SELECT count(*) FROM aks WHERE state = 'pending'", &st->aks_pending},
        {"SELECT count(*) FROM aks WHERE state = 'active'", &st->aks_active},
        {"SELECT count(*) FROM aks WHERE state = 'revoked'", &st->aks_revoked},
        {"SELECT count(*) FROM eks", &st->eks},
        {"SELECT count(*) FROM eks WHERE approved = 1", &st->eks_approved},
        {"SELECT count(*) FROM eks WHERE revoked = 1", &st->eks_revoked},
        {"SELECT count(*) FROM ek_cas", &st->ekcas},
        {"SELECT count(*) FROM audit", &st->audit_rows},
        {"SELECT coalesce(min(seq), 0) FROM audit", &st->audit_first_seq},
        {"SELECT coalesce(max(seq), 0) FROM audit", &st->audit_last_seq},
        {"SELECT count(*) FROM audit WHERE event = 'release' AND outcome = 'granted'",
         &st->releases_granted},
        {"SELECT count(*) FROM audit WHERE event = 'release' AND outcome <> 'granted'",
         &st->releases_refused},
        {"SELECT coalesce(max(time), 0) FROM audit WHERE event = 'release' "
         "AND outcome = 'granted'",
         &st->last_granted_at},
        {"SELECT coalesce(max(time), 0) FROM audit WHERE event = 'release' "
         "AND outcome <> 'granted'",
         &st->last_refused_at},
    };
    uint8_t hash[KS_STORE_HASH_LEN];
    int r = KS_OK;
    for (size_t i = 0; r == KS_OK && i < sizeof(counts) / sizeof(counts[0]); i++) {
        r = ks_store_query_int64(s, counts[i].sql, NULL, counts[i].out);
    }
    if (r < 0 || (r = ks_store_db_version(s, &st->schema_version)) < 0 ||
        (r = ks_store_audit_anchor_get(s, &st->audit_anchor_seq, hash)) < 0 ||
        (r = ks_store_audit_exported(s, &st->audit_exported_seq)) < 0) {
        return r;
    }
    uint8_t *id = NULL;
    size_t len = 0;
    r = ks_store_meta_get(s, KS_META_ID, &id, &len);
    if (r == KS_ERR_DB_NOT_INIT) {
        return KS_OK; /* created but not initialised: id stays "" */
    }
    if (r < 0) {
        return r;
    }
    if (len >= sizeof(st->id) || memchr(id, '\0', len)) {
        free(id);
        return ks_store_fail(s, KS_ERR_DB_CORRUPT, "keyserver id malformed");
    }
    memcpy(st->id, id, len + 1);
    free(id);
    return KS_OK;
}

int ks_store_status_get(struct ks_store *s, struct ks_store_status *ret)
{
    if (!s || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_store_status st;
    memset(&st, 0, sizeof(st));
    int r = ks_store_begin(s, false);
    if (r < 0) {
        return r;
    }
    r = status_tx(s, &st);
    ks_store_rollback(s); /* read-only */
    if (r == KS_OK) {
        *ret = st;
    }
    return r;
}

/* ---- newest releases ------------------------------------------------------------ */

int ks_store_release_recent(struct ks_store *s, size_t n, ks_audit_cb cb, void *ctx)
{
    if (!s || !cb || n < 1 || n > RECENT_MAX) {
        return KS_ERR_INVALID_ARG;
    }
    STMT_LOCAL sqlite3_stmt *st = NULL;
    int r = ks_store_prepare(s,
                             "SELECT seq, time, actor, event, ak_id, keys, outcome, reason, "
                             "detail, prev_hash, row_hash FROM audit WHERE event = 'release' "
                             "ORDER BY seq DESC LIMIT ?1",
                             &st);
    if (r < 0 || (r = ks_store_bind_int64(s, st, 1, (int64_t)n)) < 0) {
        return r;
    }
    return ks_store_audit_each(s, st, "recent releases", cb, ctx);
}

/* ---- audit export bookkeeping ----------------------------------------------- */

int ks_store_audit_exported(struct ks_store *s, int64_t *ret_seq)
{
    if (!s || !ret_seq) {
        return KS_ERR_INVALID_ARG;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    int r = ks_store_meta_get(s, KS_META_AUDIT_EXPORTED, &buf, &len);
    if (r == KS_ERR_DB_NOT_INIT) {
        *ret_seq = 0;
        return KS_OK;
    }
    if (r < 0) {
        return r;
    }
    uint64_t v = 0;
    if (len == 8) {
        for (size_t i = 0; i < 8; i++) {
            v = v << 8 | buf[i];
        }
    }
    free(buf);
    if (len != 8 || v > INT64_MAX) {
        return ks_store_fail(s, KS_ERR_DB_CORRUPT, "audit export mark malformed");
    }
    *ret_seq = (int64_t)v;
    return KS_OK;
}

struct export_mark {
    const char *actor;
    int64_t through;
};

static int export_mark_tx(struct ks_store *s, void *arg)
{
    struct export_mark *m = arg;
    int64_t exists = 0, old = 0;
    uint8_t v[8];
    char sql[80], detail[64];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit WHERE seq = %lld",
             (long long)m->through);
    int r = ks_store_query_int64(s, sql, NULL, &exists);
    if (r < 0) {
        return r;
    }
    if (!exists) {
        return ks_store_fail(s, KS_ERR_NOT_FOUND, "audit row %lld does not exist",
                             (long long)m->through);
    }
    /* The mark only moves forward: exporting an older range later does not
     * withdraw a newer mark. */
    if ((r = ks_store_audit_exported(s, &old)) < 0) {
        return r;
    }
    if (m->through > old) {
        ks_store_put_u64be(v, (uint64_t)m->through);
        if ((r = ks_store_meta_put_tx(s, KS_META_AUDIT_EXPORTED, v, sizeof(v), NULL)) < 0) {
            return r;
        }
    }
    snprintf(detail, sizeof(detail), "{\"through_seq\":%lld}", (long long)m->through);
    return ks_store_audit_admin(s, m->actor, "audit.export", NULL, NULL, NULL, detail);
}

int ks_store_audit_export_mark(struct ks_store *s, const char *actor, int64_t through_seq)
{
    if (!s || !ks_store_actor_valid(actor) || through_seq < 1) {
        return KS_ERR_INVALID_ARG;
    }
    struct export_mark m = {.actor = actor, .through = through_seq};
    return ks_store_in_write_tx(s, export_mark_tx, &m);
}

int ks_store_audit_seq_at_time(struct ks_store *s, int64_t t, int64_t *ret_seq)
{
    if (!s || t < 0 || !ret_seq) {
        return KS_ERR_INVALID_ARG;
    }
    char sql[96];
    int64_t seq = 0;
    snprintf(sql, sizeof(sql), "SELECT min(seq) FROM audit WHERE time >= %lld", (long long)t);
    int r = ks_store_query_int64(s, sql, NULL, &seq);
    if (r < 0) {
        return r;
    }
    if (seq == 0) {
        return ks_store_fail(s, KS_ERR_NOT_FOUND, "no audit row at or after that time");
    }
    *ret_seq = seq;
    return KS_OK;
}

int ks_store_audit_anchor(struct ks_store *s, int64_t *ret_seq, uint8_t ret_hash[KS_STORE_HASH_LEN])
{
    if (!s || !ret_seq || !ret_hash) {
        return KS_ERR_INVALID_ARG;
    }
    int64_t seq = 0;
    uint8_t hash[KS_STORE_HASH_LEN];
    int r = ks_store_audit_anchor_get(s, &seq, hash);
    if (r == KS_OK) {
        *ret_seq = seq;
        memcpy(ret_hash, hash, KS_STORE_HASH_LEN);
    }
    return r;
}
