/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/store_internal.h"

void ks_store_snapshot_free(struct ks_store_snapshot *snap)
{
    if (!snap) {
        return;
    }
    free(snap->ak.public_blob);
    for (size_t i = 0; i < snap->n_keys; i++) {
        struct ks_store_key *k = &snap->keys[i];
        free(k->wrapped);
        for (size_t j = 0; j < k->policy.n_rules; j++) {
            free(k->policy.rules[j].data);
        }
        free(k->policy.rules);
    }
    free(snap->keys);
    free(snap);
}

static int snap_ak(struct ks_store *s, const char *ak_id, struct ks_store_ak *ak)
{
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r = ks_store_stmt(s, STMT_SNAP_AK,
                          "SELECT a.state, a.public, a.vouched_by IS NOT NULL, a.ek_name, "
                          "coalesce(e.approved = 1 AND e.revoked = 0, 0), a.last_clock, "
                          "a.last_reset_count, "
                          "a.last_restart_count "
                          "FROM aks a LEFT JOIN eks e ON e.name = a.ek_name WHERE a.id = ?1",
                          &st);
    if (r < 0 || (r = ks_store_bind_text(s, st, 1, ak_id)) < 0) {
        return r;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        return ks_store_fail(s, KS_ERR_STORE_UNKNOWN_AK, "unknown AK %s", ak_id);
    }
    if (rc != SQLITE_ROW) {
        return ks_store_sqlerr(s, rc, "snapshot ak");
    }
    snprintf(ak->id, sizeof(ak->id), "%s", ak_id);
    if ((r = ks_store_ak_state_parse((const char *)sqlite3_column_text(st, 0), &ak->state)) < 0 ||
        (r = ks_store_col_blob(s, st, 1, KS_STORE_MAX_BLOB, &ak->public_blob, &ak->public_len)) <
            0 ||
        (r = ks_store_col_text(s, st, 3, ak->ek_name, sizeof(ak->ek_name))) < 0) {
        return r;
    }
    ak->vouched = sqlite3_column_int(st, 2) != 0;
    ak->has_ek = sqlite3_column_type(st, 3) != SQLITE_NULL;
    /* Fail closed: an AK bound to an EK that is unknown (no row), not
     * approved or revoked (migration 3) is not usable. */
    ak->ek_approved = ak->has_ek && sqlite3_column_int(st, 4) == 1;
    ak->has_clock = sqlite3_column_type(st, 5) != SQLITE_NULL;
    if (ak->has_clock) {
        ak->last_clock = (uint64_t)sqlite3_column_int64(st, 5);
        ak->last_reset_count = (uint32_t)sqlite3_column_int64(st, 6);
        ak->last_restart_count = (uint32_t)sqlite3_column_int64(st, 7);
    }
    return KS_OK;
}

#define SNAP_KEY_COLUMNS                                                                           \
    "SELECT k.kind, kv.version, kv.state, kv.nonce, kv.wrapped, kv.public, kv.share_index, "       \
    "kv.share_threshold, kv.share_count, p.id, p.name "                                            \
    "FROM keys k JOIN key_versions kv ON kv.key_id = k.id "                                        \
    "JOIN policies p ON p.id = k.policy_id WHERE k.name = ?1 "

static int snap_key(struct ks_store *s, const char *ref, struct ks_store_key *k, size_t index,
                    ks_store_rules_held_fn held, void *arg)
{
    int64_t policy_id, pv_id;
    int r;
    {
        STMT_AUTO sqlite3_stmt *st = NULL;
        r = k->explicit_version ? ks_store_stmt(s, STMT_SNAP_KEY_VERSION,
                                                SNAP_KEY_COLUMNS "AND kv.version = ?2", &st)
                                : ks_store_stmt(s, STMT_SNAP_KEY_ACTIVE,
                                                SNAP_KEY_COLUMNS "AND kv.state = 'active'", &st);
        if (r < 0 || (r = ks_store_bind_text(s, st, 1, k->name)) < 0 ||
            (k->explicit_version && (r = ks_store_bind_int64(s, st, 2, k->version)) < 0)) {
            return r;
        }
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) {
            return ks_store_fail(s, KS_ERR_STORE_UNKNOWN_KEY, "unknown key %s", ref);
        }
        if (rc != SQLITE_ROW) {
            return ks_store_sqlerr(s, rc, "snapshot key");
        }
        const char *state = (const char *)sqlite3_column_text(st, 2);
        /* Migration 5: a retired version has no material (the decision
         * refuses it); any state this program does not know counts as
         * retired. */
        bool retired = !state || (strcmp(state, "active") != 0 && strcmp(state, "previous") != 0);
        if (ks_key_kind_from_name((const char *)sqlite3_column_text(st, 0), &k->kind) < 0 ||
            (!retired && sqlite3_column_bytes(st, 3) != KS_STORE_NONCE_LEN)) {
            return ks_store_fail(s, KS_ERR_DB_CORRUPT, "key %s malformed", ref);
        }
        k->version = (uint32_t)sqlite3_column_int64(st, 1);
        k->state = retired                        ? KS_KEY_VERSION_RETIRED
                   : strcmp(state, "active") == 0 ? KS_KEY_VERSION_ACTIVE
                                                  : KS_KEY_VERSION_PREVIOUS;
        if (!retired) {
            memcpy(k->nonce, sqlite3_column_blob(st, 3), KS_STORE_NONCE_LEN);
        }
        if ((r = ks_store_col_blob(s, st, 4, KS_STORE_MAX_SECRET + KS_STORE_TAG_LEN, &k->wrapped,
                                   &k->wrapped_len)) < 0) {
            return r;
        }
        if (sqlite3_column_type(st, 5) != SQLITE_NULL) {
            if (sqlite3_column_bytes(st, 5) != sizeof(k->public_key)) {
                return ks_store_fail(s, KS_ERR_DB_CORRUPT, "key %s: bad public key", ref);
            }
            memcpy(k->public_key, sqlite3_column_blob(st, 5), sizeof(k->public_key));
            k->has_public = true;
        }
        k->share_index = (uint8_t)sqlite3_column_int(st, 6);
        k->share_threshold = (uint8_t)sqlite3_column_int(st, 7);
        k->share_count = (uint8_t)sqlite3_column_int(st, 8);
        policy_id = sqlite3_column_int64(st, 9);
        if ((r = ks_store_col_text(s, st, 10, k->policy.name, sizeof(k->policy.name))) < 0) {
            return r;
        }
    }
    /* The key's policy as it is now: its active version and rules. No active
     * version leaves version 0 and no rules, which refuses everything. */
    r = ks_store_pv_by_state(s, policy_id, "active", &pv_id, &k->policy.version);
    if (r == KS_ERR_NOT_FOUND) {
        k->policy.version = 0;
        return KS_OK;
    }
    if (r < 0) {
        return r;
    }
    k->policy.state = KS_POLICY_ACTIVE;
    k->policy.pv_id = pv_id;
    if (held && held(arg, index, pv_id, k->policy.version)) {
        k->rules_held = true;
        return KS_OK;
    }
    return ks_store_policy_rules_load(s, pv_id, &k->policy);
}

int ks_store_release_snapshot(struct ks_store *s, const char *ak_id, const char *const *key_refs,
                              size_t n, struct ks_store_snapshot **ret)
{
    return ks_store_release_snapshot_ex(s, ak_id, key_refs, n, NULL, NULL, ret);
}

int ks_store_release_snapshot_ex(struct ks_store *s, const char *ak_id, const char *const *key_refs,
                                 size_t n, ks_store_rules_held_fn held, void *arg,
                                 struct ks_store_snapshot **ret)
{
    if (!s || !ks_store_tpm_name_valid(ak_id) || (n > 0 && !key_refs) || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    if (n > KS_STORE_MAX_REQUEST_KEYS) {
        return KS_ERR_TOO_LARGE;
    }
    int r = KS_ERR_NOMEM;
    struct ks_store_snapshot *snap = calloc(1, sizeof(*snap));
    if (!snap || (n > 0 && !(snap->keys = calloc(n, sizeof(*snap->keys))))) {
        goto out;
    }
    snap->n_keys = n;
    /* Parse every reference before touching the database. */
    for (size_t i = 0; i < n; i++) {
        struct ks_store_key *k = &snap->keys[i];
        if ((r = ks_store_key_ref_parse(key_refs[i], k->name, &k->version)) < 0) {
            r = ks_store_fail(s, r, "malformed key reference");
            goto out;
        }
        k->explicit_version = k->version != 0;
    }
    /* One read transaction: the AK, key versions and policies are one
     * consistent state, and a change committed before it began (revocation,
     * activation) is seen. */
    if ((r = ks_store_begin(s, false)) < 0) {
        goto out;
    }
    r = snap_ak(s, ak_id, &snap->ak);
    for (size_t i = 0; r == KS_OK && i < n; i++) {
        r = snap_key(s, key_refs[i], &snap->keys[i], i, held, arg);
    }
    ks_store_rollback(s); /* read-only: nothing to commit */
    if (r < 0) {
        goto out;
    }
    *ret = snap;
    snap = NULL;
out:
    ks_store_snapshot_free(snap);
    return r;
}

int ks_store_snapshot_key_unwrap(const struct ks_master_key *mk, const struct ks_store_key *key,
                                 struct ks_store_secret **ret)
{
    if (!mk || !key || !key->wrapped || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    return ks_store_key_unwrap(mk, key->name, key->version, key->kind, key->nonce, key->wrapped,
                               key->wrapped_len, ret);
}
