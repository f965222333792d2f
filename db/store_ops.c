/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* Key and AK lifecycle for ksctl: retire, delete, attach, show; AK details
 * and removal (db/store.h "operations"). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/store_list.h"
#include "db/store_ops_internal.h"

/* ---- helpers shared by the operations files ------------------------------ */

void ks_store_stmt_finalize(sqlite3_stmt **st)
{
    sqlite3_finalize(*st);
    *st = NULL;
}

int ks_store_prepare(struct ks_store *s, const char *sql, sqlite3_stmt **ret)
{
    int rc = sqlite3_prepare_v2(s->db, sql, -1, ret, NULL);
    if (rc != SQLITE_OK) {
        *ret = NULL;
        return ks_store_sqlerr(s, rc, "prepare");
    }
    return KS_OK;
}

int ks_store_query_int64(struct ks_store *s, const char *sql, const char *arg, int64_t *ret)
{
    STMT_LOCAL sqlite3_stmt *st = NULL;
    int r = ks_store_prepare(s, sql, &st);
    if (r < 0 || (arg && (r = ks_store_bind_text(s, st, 1, arg)) < 0)) {
        return r;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *ret = sqlite3_column_int64(st, 0);
        return KS_OK;
    }
    if (rc == SQLITE_DONE) {
        *ret = 0;
        return KS_OK;
    }
    return ks_store_sqlerr(s, rc, "query");
}

int ks_store_secure_delete_on(struct ks_store *s, int *ret_old)
{
    int64_t old = 0;
    int r = ks_store_query_int64(s, "PRAGMA secure_delete", NULL, &old);
    if (r < 0) {
        return r;
    }
    char *err = NULL;
    int rc = sqlite3_exec(s->db, "PRAGMA secure_delete = ON", NULL, NULL, &err);
    sqlite3_free(err);
    if (rc != SQLITE_OK) {
        return ks_store_sqlerr(s, rc, "secure_delete");
    }
    *ret_old = (int)old;
    return KS_OK;
}

void ks_store_secure_delete_restore(struct ks_store *s, int old)
{
    if (old == 0) {
        (void)sqlite3_exec(s->db, "PRAGMA secure_delete = OFF", NULL, NULL, NULL);
    }
}

const char *ks_key_version_state_name(enum ks_key_version_state state)
{
    switch (state) {
    case KS_KEY_VERSION_ACTIVE:
        return "active";
    case KS_KEY_VERSION_PREVIOUS:
        return "previous";
    case KS_KEY_VERSION_RETIRED:
        return "retired";
    }
    return NULL;
}

static int version_state_parse(const char *name, enum ks_key_version_state *ret)
{
    for (int v = KS_KEY_VERSION_ACTIVE; v <= KS_KEY_VERSION_PREVIOUS; v++) {
        if (name && strcmp(name, ks_key_version_state_name((enum ks_key_version_state)v)) == 0) {
            *ret = (enum ks_key_version_state)v;
            return KS_OK;
        }
    }
    return KS_ERR_DB_CORRUPT;
}

/* Run fn inside a write transaction with secure_delete on, so that erased
 * material does not linger in freed page space of the database file. */
static int erase_tx(struct ks_store *s, int (*fn)(struct ks_store *, void *), void *arg)
{
    int old = 0;
    int r = ks_store_secure_delete_on(s, &old);
    if (r < 0) {
        return r;
    }
    r = ks_store_in_write_tx(s, fn, arg);
    ks_store_secure_delete_restore(s, old);
    return r;
}

/* ---- key retire / delete / attach ------------------------------------------ */

struct key_op {
    const char *actor, *name, *policy;
    uint32_t version;
    uint32_t n_versions; /* delete: out */
};

static int key_id(struct ks_store *s, const char *name, int64_t *ret)
{
    int64_t id = 0;
    int r = ks_store_query_int64(s, "SELECT id FROM keys WHERE name = ?1", name, &id);
    if (r == KS_OK && id == 0) {
        r = ks_store_fail(s, KS_ERR_STORE_UNKNOWN_KEY, "unknown key %s", name);
    }
    if (r == KS_OK) {
        *ret = id;
    }
    return r;
}

static int retire_tx(struct ks_store *s, void *arg)
{
    struct key_op *o = arg;
    char ref[KS_STORE_KEY_REF_MAX + 1];
    int64_t kid = 0, kv_id = 0;
    enum ks_key_version_state state;
    int r = key_id(s, o->name, &kid);
    if (r < 0) {
        return r;
    }
    snprintf(ref, sizeof(ref), "%s@%u", o->name, o->version);
    {
        STMT_LOCAL sqlite3_stmt *st = NULL;
        r = ks_store_prepare(
            s, "SELECT id, state FROM key_versions WHERE key_id = ?1 AND version = ?2", &st);
        if (r < 0 || (r = ks_store_bind_int64(s, st, 1, kid)) < 0 ||
            (r = ks_store_bind_int64(s, st, 2, o->version)) < 0) {
            return r;
        }
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) {
            return ks_store_fail(s, KS_ERR_STORE_UNKNOWN_KEY, "key %s has no version %u", o->name,
                                 o->version);
        }
        if (rc != SQLITE_ROW) {
            return ks_store_sqlerr(s, rc, "key version lookup");
        }
        kv_id = sqlite3_column_int64(st, 0);
        if ((r = version_state_parse((const char *)sqlite3_column_text(st, 1), &state)) < 0) {
            return ks_store_fail(s, r, "key %s: bad state", ref);
        }
    }
    if (state == KS_KEY_VERSION_ACTIVE) {
        return ks_store_fail(s, KS_ERR_STORE_STATE,
                             "%s is the active version of %s: rotate the key first (or delete it)",
                             ref, o->name);
    }
    if (state == KS_KEY_VERSION_RETIRED) {
        return ks_store_fail(s, KS_ERR_STORE_STATE, "%s is already retired", ref);
    }
    STMT_LOCAL sqlite3_stmt *st = NULL;
    r = ks_store_prepare(s,
                         "UPDATE key_versions SET state = 'retired', nonce = NULL, wrapped = NULL, "
                         "retired_by = ?2, retired_at = ?3 WHERE id = ?1",
                         &st);
    if (r < 0 || (r = ks_store_bind_int64(s, st, 1, kv_id)) < 0 ||
        (r = ks_store_bind_text(s, st, 2, o->actor)) < 0 ||
        (r = ks_store_bind_int64(s, st, 3, ks_store_now())) < 0 ||
        (r = ks_store_step_done(s, st, "key retire")) < 0) {
        return r;
    }
    return ks_store_audit_admin(s, o->actor, "key.retire", NULL, ref, NULL,
                                "{\"material\":\"erased\"}");
}

int ks_store_key_retire(struct ks_store *s, const char *actor, const char *name, uint32_t version)
{
    if (!s || !ks_store_actor_valid(actor) || !ks_store_name_valid(name) || version == 0) {
        return KS_ERR_INVALID_ARG;
    }
    struct key_op o = {.actor = actor, .name = name, .version = version};
    return erase_tx(s, retire_tx, &o);
}

static int delete_tx(struct ks_store *s, void *arg)
{
    struct key_op *o = arg;
    char detail[64];
    int64_t kid = 0, n = 0;
    int r = key_id(s, o->name, &kid);
    if (r < 0) {
        return r;
    }
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM key_versions WHERE key_id = %lld",
             (long long)kid);
    if ((r = ks_store_query_int64(s, sql, NULL, &n)) < 0) {
        return r;
    }
    /* Versions first (explicitly, whatever the foreign-key setting), then
     * the key. */
    STMT_LOCAL sqlite3_stmt *dv = NULL;
    STMT_LOCAL sqlite3_stmt *dk = NULL;
    if ((r = ks_store_prepare(s, "DELETE FROM key_versions WHERE key_id = ?1", &dv)) < 0 ||
        (r = ks_store_bind_int64(s, dv, 1, kid)) < 0 ||
        (r = ks_store_step_done(s, dv, "key versions delete")) < 0 ||
        (r = ks_store_prepare(s, "DELETE FROM keys WHERE id = ?1", &dk)) < 0 ||
        (r = ks_store_bind_int64(s, dk, 1, kid)) < 0 ||
        (r = ks_store_step_done(s, dk, "key delete")) < 0) {
        return r;
    }
    snprintf(detail, sizeof(detail), "{\"versions\":%lld}", (long long)n);
    o->n_versions = (uint32_t)n;
    return ks_store_audit_admin(s, o->actor, "key.delete", NULL, o->name, NULL, detail);
}

int ks_store_key_delete(struct ks_store *s, const char *actor, const char *name,
                        uint32_t *ret_versions)
{
    if (!s || !ks_store_actor_valid(actor) || !ks_store_name_valid(name)) {
        return KS_ERR_INVALID_ARG;
    }
    struct key_op o = {.actor = actor, .name = name};
    int r = erase_tx(s, delete_tx, &o);
    if (r == KS_OK && ret_versions) {
        *ret_versions = o.n_versions;
    }
    return r;
}

static int attach_tx(struct ks_store *s, void *arg)
{
    struct key_op *o = arg;
    char from[KS_STORE_NAME_MAX + 1], detail[2 * KS_STORE_NAME_MAX + 32];
    int64_t kid = 0, old_policy = 0, new_policy = 0;
    int r;
    {
        STMT_LOCAL sqlite3_stmt *st = NULL;
        r = ks_store_prepare(s,
                             "SELECT k.id, k.policy_id, p.name FROM keys k "
                             "JOIN policies p ON p.id = k.policy_id WHERE k.name = ?1",
                             &st);
        if (r < 0 || (r = ks_store_bind_text(s, st, 1, o->name)) < 0) {
            return r;
        }
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) {
            return ks_store_fail(s, KS_ERR_STORE_UNKNOWN_KEY, "unknown key %s", o->name);
        }
        if (rc != SQLITE_ROW) {
            return ks_store_sqlerr(s, rc, "key lookup");
        }
        kid = sqlite3_column_int64(st, 0);
        old_policy = sqlite3_column_int64(st, 1);
        if ((r = ks_store_col_text(s, st, 2, from, sizeof(from))) < 0) {
            return r;
        }
    }
    if ((r = ks_store_policy_id(s, o->policy, &new_policy)) < 0) {
        return r;
    }
    if (new_policy == old_policy) {
        return ks_store_fail(s, KS_ERR_STORE_STATE, "key %s is already attached to policy %s",
                             o->name, o->policy);
    }
    STMT_LOCAL sqlite3_stmt *st = NULL;
    if ((r = ks_store_prepare(s, "UPDATE keys SET policy_id = ?2 WHERE id = ?1", &st)) < 0 ||
        (r = ks_store_bind_int64(s, st, 1, kid)) < 0 ||
        (r = ks_store_bind_int64(s, st, 2, new_policy)) < 0 ||
        (r = ks_store_step_done(s, st, "key attach")) < 0) {
        return r;
    }
    /* Names are [A-Za-z0-9._-]: nothing to escape in JSON. */
    snprintf(detail, sizeof(detail), "{\"from\":\"%s\",\"to\":\"%s\"}", from, o->policy);
    return ks_store_audit_admin(s, o->actor, "key.attach", NULL, o->name, NULL, detail);
}

int ks_store_key_attach(struct ks_store *s, const char *actor, const char *name, const char *policy)
{
    if (!s || !ks_store_actor_valid(actor) || !ks_store_name_valid(name) ||
        !ks_store_name_valid(policy)) {
        return KS_ERR_INVALID_ARG;
    }
    struct key_op o = {.actor = actor, .name = name, .policy = policy};
    return ks_store_in_write_tx(s, attach_tx, &o);
}

/* ---- key show ----------------------------------------------------------------- */

void ks_store_key_detail_free(struct ks_store_key_detail *d)
{
    if (!d) {
        return;
    }
    free(d->versions);
    free(d);
}

static int version_row(struct ks_store *s, sqlite3_stmt *st, void *elem, void *arg)
{
    struct ks_store_key_version_info *v = elem;
    const struct ks_store_key_detail *d = arg;
    int r;
    v->version = (uint32_t)sqlite3_column_int64(st, 0);
    if (version_state_parse((const char *)sqlite3_column_text(st, 1), &v->state) < 0) {
        return ks_store_fail(s, KS_ERR_DB_CORRUPT, "key %s@%u: bad state", d->info.name,
                             v->version);
    }
    if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
        if (sqlite3_column_bytes(st, 2) != sizeof(v->public_key)) {
            return ks_store_fail(s, KS_ERR_DB_CORRUPT, "key %s@%u: bad public key", d->info.name,
                                 v->version);
        }
        memcpy(v->public_key, sqlite3_column_blob(st, 2), sizeof(v->public_key));
        v->has_public = true;
    }
    v->share_index = (uint8_t)sqlite3_column_int(st, 3);
    v->share_threshold = (uint8_t)sqlite3_column_int(st, 4);
    v->share_count = (uint8_t)sqlite3_column_int(st, 5);
    if ((r = ks_store_col_text(s, st, 6, v->created_by, sizeof(v->created_by))) < 0 ||
        (r = ks_store_col_text(s, st, 9, v->retired_by, sizeof(v->retired_by))) < 0) {
        return r;
    }
    v->created_at = sqlite3_column_int64(st, 7);
    v->replaced_at = sqlite3_column_int64(st, 8);
    v->retired_at = sqlite3_column_int64(st, 10);
    return KS_OK;
}

static int show_versions(struct ks_store *s, int64_t kid, struct ks_store_key_detail *d)
{
    STMT_LOCAL sqlite3_stmt *st = NULL;
    struct ks_store_list l = KS_STORE_LIST_INIT(struct ks_store_key_version_info);
    int r = ks_store_prepare(s,
                             "SELECT version, state, public, share_index, share_threshold, "
                             "share_count, created_by, created_at, coalesce(replaced_at, 0), "
                             "retired_by, coalesce(retired_at, 0) "
                             "FROM key_versions WHERE key_id = ?1 ORDER BY version",
                             &st);
    if (r < 0 || (r = ks_store_bind_int64(s, st, 1, kid)) < 0 ||
        (r = ks_store_list_read(s, st, "key versions", &l, version_row, d)) < 0) {
        ks_store_list_clear(&l, NULL);
        return r;
    }
    d->versions = l.items;
    d->n_versions = l.n;
    return KS_OK;
}

/* The newest granted release whose key list names the key (any version). */
static int show_last_grant(struct ks_store *s, struct ks_store_key_detail *d)
{
    STMT_LOCAL sqlite3_stmt *st = NULL;
    int r = ks_store_prepare(s,
                             "SELECT seq, time FROM audit WHERE event = 'release' "
                             "AND outcome = 'granted' "
                             "AND (instr(',' || keys || ',', ',' || ?1 || ',') > 0 "
                             "     OR instr(',' || keys || ',', ',' || ?1 || '@') > 0) "
                             "ORDER BY seq DESC LIMIT 1",
                             &st);
    if (r < 0 || (r = ks_store_bind_text(s, st, 1, d->info.name)) < 0) {
        return r;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        d->last_granted_seq = sqlite3_column_int64(st, 0);
        d->last_granted_at = sqlite3_column_int64(st, 1);
    } else if (rc != SQLITE_DONE) {
        return ks_store_sqlerr(s, rc, "key last release");
    }
    return KS_OK;
}

static int show_tx(struct ks_store *s, const char *name, struct ks_store_key_detail *d)
{
    int64_t kid = 0, policy_id = 0, pv_id = 0;
    int r;
    {
        STMT_LOCAL sqlite3_stmt *st = NULL;
        r = ks_store_prepare(s,
                             "SELECT k.id, k.kind, p.name, p.id, k.created_by, k.created_at "
                             "FROM keys k JOIN policies p ON p.id = k.policy_id WHERE k.name = ?1",
                             &st);
        if (r < 0 || (r = ks_store_bind_text(s, st, 1, name)) < 0) {
            return r;
        }
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) {
            return ks_store_fail(s, KS_ERR_STORE_UNKNOWN_KEY, "unknown key %s", name);
        }
        if (rc != SQLITE_ROW) {
            return ks_store_sqlerr(s, rc, "key show");
        }
        snprintf(d->info.name, sizeof(d->info.name), "%s", name);
        kid = sqlite3_column_int64(st, 0);
        if (ks_key_kind_from_name((const char *)sqlite3_column_text(st, 1), &d->info.kind) < 0) {
            return ks_store_fail(s, KS_ERR_DB_CORRUPT, "key %s: bad kind", name);
        }
        policy_id = sqlite3_column_int64(st, 3);
        if ((r = ks_store_col_text(s, st, 2, d->info.policy, sizeof(d->info.policy))) < 0 ||
            (r = ks_store_col_text(s, st, 4, d->created_by, sizeof(d->created_by))) < 0) {
            return r;
        }
        d->info.created_at = sqlite3_column_int64(st, 5);
    }
    if ((r = show_versions(s, kid, d)) < 0 || (r = show_last_grant(s, d)) < 0) {
        return r;
    }
    d->info.n_versions = (uint32_t)d->n_versions;
    for (size_t i = 0; i < d->n_versions; i++) {
        const struct ks_store_key_version_info *v = &d->versions[i];
        if (v->state == KS_KEY_VERSION_ACTIVE) {
            d->info.active_version = v->version;
            d->info.share_index = v->share_index;
            d->info.share_threshold = v->share_threshold;
            d->info.share_count = v->share_count;
        }
    }
    r = ks_store_pv_by_state(s, policy_id, "active", &pv_id, &d->policy_version);
    if (r == KS_ERR_NOT_FOUND) {
        d->policy_version = 0;
        r = KS_OK;
    }
    return r;
}

int ks_store_key_show(struct ks_store *s, const char *name, struct ks_store_key_detail **ret)
{
    if (!s || !ks_store_name_valid(name) || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_store_key_detail *d = calloc(1, sizeof(*d));
    if (!d) {
        return KS_ERR_NOMEM;
    }
    int r = ks_store_begin(s, false);
    if (r == KS_OK) {
        r = show_tx(s, name, d);
        ks_store_rollback(s); /* read-only */
    }
    if (r < 0) {
        ks_store_key_detail_free(d);
        return r;
    }
    *ret = d;
    return KS_OK;
}

/* ---- AKs ------------------------------------------------------------------- */

static int ak_read(struct ks_store *s, const char *ak_id, struct ks_store_ak_detail *a)
{
    STMT_LOCAL sqlite3_stmt *st = NULL;
    int r = ks_store_prepare(s,
                             "SELECT state, ek_name, vouched_by, created_at, "
                             "coalesce(last_attested_at, 0), enrollment_id, revoked_by, "
                             "coalesce(revoked_at, 0), last_clock, last_reset_count, "
                             "last_restart_count, length(public) FROM aks WHERE id = ?1",
                             &st);
    if (r < 0 || (r = ks_store_bind_text(s, st, 1, ak_id)) < 0) {
        return r;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        return ks_store_fail(s, KS_ERR_STORE_UNKNOWN_AK, "unknown AK %s", ak_id);
    }
    if (rc != SQLITE_ROW) {
        return ks_store_sqlerr(s, rc, "AK lookup");
    }
    snprintf(a->info.id, sizeof(a->info.id), "%s", ak_id);
    if ((r = ks_store_ak_state_parse((const char *)sqlite3_column_text(st, 0), &a->info.state)) <
            0 ||
        (r = ks_store_col_text(s, st, 1, a->info.ek_name, sizeof(a->info.ek_name))) < 0 ||
        (r = ks_store_col_text(s, st, 2, a->info.vouched_by, sizeof(a->info.vouched_by))) < 0 ||
        (r = ks_store_col_text(s, st, 5, a->enrollment_id, sizeof(a->enrollment_id))) < 0 ||
        (r = ks_store_col_text(s, st, 6, a->revoked_by, sizeof(a->revoked_by))) < 0) {
        return r;
    }
    a->info.created_at = sqlite3_column_int64(st, 3);
    a->info.last_attested_at = sqlite3_column_int64(st, 4);
    a->revoked_at = sqlite3_column_int64(st, 7);
    a->has_clock = sqlite3_column_type(st, 8) != SQLITE_NULL;
    if (a->has_clock) {
        a->last_clock = (uint64_t)sqlite3_column_int64(st, 8);
        a->last_reset_count = (uint32_t)sqlite3_column_int64(st, 9);
        a->last_restart_count = (uint32_t)sqlite3_column_int64(st, 10);
    }
    a->public_len = (size_t)sqlite3_column_int64(st, 11);
    return KS_OK;
}

int ks_store_ak_get(struct ks_store *s, const char *ak_id, struct ks_store_ak_detail *ret)
{
    if (!s || !ks_store_tpm_name_valid(ak_id) || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_store_ak_detail a;
    memset(&a, 0, sizeof(a));
    int r = ak_read(s, ak_id, &a);
    if (r == KS_OK) {
        *ret = a;
    }
    return r;
}

struct ak_op {
    const char *actor, *ak_id;
};

static int ak_remove_tx(struct ks_store *s, void *arg)
{
    struct ak_op *o = arg;
    struct ks_store_ak_detail a;
    char detail[64];
    memset(&a, 0, sizeof(a));
    int r = ak_read(s, o->ak_id, &a);
    if (r < 0) {
        return r;
    }
    STMT_LOCAL sqlite3_stmt *st = NULL;
    if ((r = ks_store_prepare(s, "DELETE FROM aks WHERE id = ?1", &st)) < 0 ||
        (r = ks_store_bind_text(s, st, 1, o->ak_id)) < 0 ||
        (r = ks_store_step_done(s, st, "AK delete")) < 0) {
        return r;
    }
    snprintf(detail, sizeof(detail), "{\"state\":\"%s\"}", ks_ak_state_name(a.info.state));
    return ks_store_audit_admin(s, o->actor, "ak.remove", o->ak_id, NULL, NULL, detail);
}

int ks_store_ak_remove(struct ks_store *s, const char *actor, const char *ak_id)
{
    if (!s || !ks_store_actor_valid(actor) || !ks_store_tpm_name_valid(ak_id)) {
        return KS_ERR_INVALID_ARG;
    }
    struct ak_op o = {.actor = actor, .ak_id = ak_id};
    return ks_store_in_write_tx(s, ak_remove_tx, &o);
}
