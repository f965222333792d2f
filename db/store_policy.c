/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

#include "encoding.h"
#include "db/store_internal.h"

/* Largest version number; UINT32_MAX is KS_STORE_VERSION_DRAFT. */
#define PV_VERSION_MAX (UINT32_MAX - 1)

const char *ks_policy_state_name(enum ks_policy_state state)
{
    switch (state) {
    case KS_POLICY_DRAFT:
        return "draft";
    case KS_POLICY_ACTIVE:
        return "active";
    case KS_POLICY_RETIRED:
        return "retired";
    }
    return NULL;
}

int ks_store_policy_state_parse(const char *name, enum ks_policy_state *ret)
{
    for (int v = KS_POLICY_DRAFT; v <= KS_POLICY_RETIRED; v++) {
        if (name && strcmp(name, ks_policy_state_name((enum ks_policy_state)v)) == 0) {
            *ret = (enum ks_policy_state)v;
            return KS_OK;
        }
    }
    return KS_ERR_DB_CORRUPT;
}

void ks_store_policy_free(struct ks_store_policy *p)
{
    if (!p) {
        return;
    }
    for (size_t i = 0; i < p->n_rules; i++) {
        free(p->rules[i].data);
    }
    free(p->rules);
    free(p);
}

int ks_store_policy_id(struct ks_store *s, const char *name, int64_t *ret_id)
{
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r = ks_store_stmt(s, STMT_POLICY_ID, "SELECT id FROM policies WHERE name = ?1", &st);
    if (r < 0 || (r = ks_store_bind_text(s, st, 1, name)) < 0) {
        return r;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        return ks_store_fail(s, KS_ERR_STORE_UNKNOWN_POLICY, "unknown policy %s", name);
    }
    if (rc != SQLITE_ROW) {
        return ks_store_sqlerr(s, rc, "policy lookup");
    }
    *ret_id = sqlite3_column_int64(st, 0);
    return KS_OK;
}

int ks_store_pv_by_state(struct ks_store *s, int64_t policy_id, const char *state,
                         int64_t *ret_pv_id, uint32_t *ret_version)
{
    STMT_AUTO sqlite3_stmt *st = NULL;
    /* The state is spelled out in the SQL, not bound: the partial unique
     * indexes on (policy_id) WHERE state = 'active' / 'draft' only serve a
     * literal, and a bound value makes SQLite re-prepare the statement on
     * every bind (measured: once per release). */
    bool active = strcmp(state, "active") == 0;
    if (!active && strcmp(state, "draft") != 0) {
        return KS_ERR_INVALID_ARG;
    }
    int r = active ? ks_store_stmt(s, STMT_PV_BY_STATE,
                                   "SELECT id, version FROM policy_versions "
                                   "WHERE policy_id = ?1 AND state = 'active'",
                                   &st)
                   : ks_store_stmt(s, STMT_PV_DRAFT,
                                   "SELECT id, version FROM policy_versions "
                                   "WHERE policy_id = ?1 AND state = 'draft'",
                                   &st);
    if (r < 0 || (r = ks_store_bind_int64(s, st, 1, policy_id)) < 0) {
        return r;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        return KS_ERR_NOT_FOUND;
    }
    if (rc != SQLITE_ROW) {
        return ks_store_sqlerr(s, rc, "policy version lookup");
    }
    *ret_pv_id = sqlite3_column_int64(st, 0);
    *ret_version = (uint32_t)sqlite3_column_int64(st, 1);
    return KS_OK;
}

int ks_store_pv_find(struct ks_store *s, int64_t policy_id, uint32_t version, int64_t *ret_pv_id,
                     enum ks_policy_state *ret_state)
{
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r = ks_store_stmt(s, STMT_PV_FIND,
                          "SELECT id, state FROM policy_versions "
                          "WHERE policy_id = ?1 AND version = ?2",
                          &st);
    if (r < 0 || (r = ks_store_bind_int64(s, st, 1, policy_id)) < 0 ||
        (r = ks_store_bind_int64(s, st, 2, version)) < 0) {
        return r;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        return ks_store_fail(s, KS_ERR_STORE_UNKNOWN_POLICY, "policy has no version %u", version);
    }
    if (rc != SQLITE_ROW) {
        return ks_store_sqlerr(s, rc, "policy version lookup");
    }
    *ret_pv_id = sqlite3_column_int64(st, 0);
    return ks_store_policy_state_parse((const char *)sqlite3_column_text(st, 1), ret_state);
}

static int pv_insert_draft(struct ks_store *s, const char *actor, int64_t policy_id,
                           uint32_t version, int64_t *ret_pv_id)
{
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r = ks_store_stmt(s, STMT_PV_INSERT,
                          "INSERT INTO policy_versions "
                          "(policy_id, version, state, created_by, created_at) "
                          "VALUES (?1, ?2, 'draft', ?3, ?4)",
                          &st);
    if (r < 0 || (r = ks_store_bind_int64(s, st, 1, policy_id)) < 0 ||
        (r = ks_store_bind_int64(s, st, 2, version)) < 0 ||
        (r = ks_store_bind_text(s, st, 3, actor)) < 0 ||
        (r = ks_store_bind_int64(s, st, 4, ks_store_now())) < 0 ||
        (r = ks_store_step_done(s, st, "policy version insert")) < 0) {
        return r;
    }
    *ret_pv_id = sqlite3_last_insert_rowid(s->db);
    return KS_OK;
}

struct create_args {
    const char *actor, *name;
};

static int create_tx(struct ks_store *s, void *arg)
{
    const struct create_args *a = arg;
    char detail[KS_STORE_NAME_MAX + 32];
    int64_t pv_id;
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r = ks_store_stmt(s, STMT_POLICY_INSERT,
                          "INSERT INTO policies (name, created_by, created_at) VALUES (?1, ?2, ?3)",
                          &st);
    if (r < 0 || (r = ks_store_bind_text(s, st, 1, a->name)) < 0 ||
        (r = ks_store_bind_text(s, st, 2, a->actor)) < 0 ||
        (r = ks_store_bind_int64(s, st, 3, ks_store_now())) < 0 ||
        (r = ks_store_step_done(s, st, "policy create")) < 0 ||
        (r = pv_insert_draft(s, a->actor, sqlite3_last_insert_rowid(s->db), 1, &pv_id)) < 0) {
        return r;
    }
    snprintf(detail, sizeof(detail), "{\"policy\":\"%s\"}", a->name);
    return ks_store_audit_admin(s, a->actor, "policy.create", NULL, NULL, NULL, detail);
}

int ks_store_policy_create(struct ks_store *s, const char *actor, const char *name)
{
    if (!s || !ks_store_actor_valid(actor) || !ks_store_name_valid(name)) {
        return KS_ERR_INVALID_ARG;
    }
    struct create_args a = {actor, name};
    return ks_store_in_write_tx(s, create_tx, &a);
}

/* The draft of a policy; made (as a copy of the active rules) when absent. */
int ks_store_draft_get(struct ks_store *s, const char *actor, int64_t policy_id, bool create,
                       bool copy_active, int64_t *ret_pv_id, uint32_t *ret_version)
{
    int64_t active_id = 0;
    uint32_t active_version = 0;
    int r = ks_store_pv_by_state(s, policy_id, "draft", ret_pv_id, ret_version);
    if (r != KS_ERR_NOT_FOUND) {
        return r;
    }
    if (!create) {
        return ks_store_fail(s, KS_ERR_STORE_STATE, "policy has no draft");
    }
    uint32_t max = 0;
    {
        STMT_AUTO sqlite3_stmt *st = NULL;
        r = ks_store_stmt(s, STMT_PV_MAX,
                          "SELECT coalesce(max(version), 0) FROM policy_versions "
                          "WHERE policy_id = ?1",
                          &st);
        if (r < 0 || (r = ks_store_bind_int64(s, st, 1, policy_id)) < 0) {
            return r;
        }
        int rc = sqlite3_step(st);
        if (rc != SQLITE_ROW) {
            return ks_store_sqlerr(s, rc, "policy version max");
        }
        max = (uint32_t)sqlite3_column_int64(st, 0);
    }
    if (max >= PV_VERSION_MAX) {
        return ks_store_fail(s, KS_ERR_STORE_STATE, "policy version numbers exhausted");
    }
    if ((r = pv_insert_draft(s, actor, policy_id, max + 1, ret_pv_id)) < 0) {
        return r;
    }
    *ret_version = max + 1;
    if (!copy_active) {
        return KS_OK;
    }
    r = ks_store_pv_by_state(s, policy_id, "active", &active_id, &active_version);
    if (r == KS_ERR_NOT_FOUND) {
        return KS_OK;
    }
    if (r < 0) {
        return r;
    }
    STMT_AUTO sqlite3_stmt *st = NULL;
    r = ks_store_stmt(s, STMT_RULE_COPY,
                      "INSERT INTO policy_rules (policy_version_id, kind, bank, pcr, digest, data) "
                      "SELECT ?1, kind, bank, pcr, digest, data FROM policy_rules "
                      "WHERE policy_version_id = ?2 ORDER BY id",
                      &st);
    if (r < 0 || (r = ks_store_bind_int64(s, st, 1, *ret_pv_id)) < 0 ||
        (r = ks_store_bind_int64(s, st, 2, active_id)) < 0) {
        return r;
    }
    return ks_store_step_done(s, st, "policy draft copy");
}

static int draft_get(struct ks_store *s, const char *actor, int64_t policy_id, bool create,
                     int64_t *ret_pv_id, uint32_t *ret_version)
{
    return ks_store_draft_get(s, actor, policy_id, create, true, ret_pv_id, ret_version);
}

struct pcr_args {
    const char *actor, *policy;
    uint16_t bank;
    unsigned pcr;
    const uint8_t *digest;
    size_t digest_len;
    bool add;
    uint32_t version; /* out */
};

static int pcr_tx(struct ks_store *s, void *arg)
{
    struct pcr_args *a = arg;
    char hex[2 * KS_MAX_DIGEST + 1];
    char detail[KS_STORE_NAME_MAX + 2 * KS_MAX_DIGEST + 128];
    int64_t policy_id, pv_id;
    int r = ks_store_policy_id(s, a->policy, &policy_id);
    if (r < 0 || (r = draft_get(s, a->actor, policy_id, a->add, &pv_id, &a->version)) < 0) {
        return r;
    }
    STMT_AUTO sqlite3_stmt *st = NULL;
    r = a->add
            ? ks_store_stmt(s, STMT_RULE_INSERT,
                            "INSERT INTO policy_rules (policy_version_id, kind, bank, pcr, digest) "
                            "VALUES (?1, 'pcr', ?2, ?3, ?4)",
                            &st)
            : ks_store_stmt(s, STMT_RULE_DELETE,
                            "DELETE FROM policy_rules WHERE policy_version_id = ?1 "
                            "AND kind = 'pcr' AND bank = ?2 AND pcr = ?3 AND digest = ?4",
                            &st);
    if (r < 0 || (r = ks_store_bind_int64(s, st, 1, pv_id)) < 0 ||
        (r = ks_store_bind_text(s, st, 2, ks_alg_name(a->bank))) < 0 ||
        (r = ks_store_bind_int64(s, st, 3, a->pcr)) < 0 ||
        (r = ks_store_bind_blob(s, st, 4, a->digest, a->digest_len)) < 0 ||
        (r = ks_store_step_done(s, st, a->add ? "rule add" : "rule remove")) < 0) {
        return r;
    }
    if (!a->add && sqlite3_changes(s->db) == 0) {
        return ks_store_fail(s, KS_ERR_NOT_FOUND, "draft has no such rule");
    }
    ks_hex_encode(a->digest, a->digest_len, hex);
    snprintf(detail, sizeof(detail),
             "{\"policy\":\"%s\",\"version\":%u,\"bank\":\"%s\",\"pcr\":%u,\"digest\":\"%s\"}",
             a->policy, a->version, ks_alg_name(a->bank), a->pcr, hex);
    return ks_store_audit_admin(s, a->actor, a->add ? "policy.rule.add" : "policy.rule.remove",
                                NULL, NULL, NULL, detail);
}

static int pcr_args_check(struct ks_store *s, const char *actor, const char *policy, uint16_t bank,
                          unsigned pcr, const uint8_t *digest, size_t digest_len)
{
    size_t dlen = ks_alg_digest_size(bank);
    if (!s || !ks_store_actor_valid(actor) || !ks_store_name_valid(policy) || dlen == 0 ||
        pcr > 23 || !digest || digest_len != dlen) {
        return KS_ERR_INVALID_ARG;
    }
    return KS_OK;
}

int ks_store_policy_add_pcr(struct ks_store *s, const char *actor, const char *policy,
                            uint16_t bank, unsigned pcr, const uint8_t *digest, size_t digest_len,
                            uint32_t *ret_version)
{
    int r = pcr_args_check(s, actor, policy, bank, pcr, digest, digest_len);
    if (r < 0) {
        return r;
    }
    struct pcr_args a = {actor, policy, bank, pcr, digest, digest_len, true, 0};
    if ((r = ks_store_in_write_tx(s, pcr_tx, &a)) < 0) {
        return r;
    }
    if (ret_version) {
        *ret_version = a.version;
    }
    return KS_OK;
}

int ks_store_policy_remove_pcr(struct ks_store *s, const char *actor, const char *policy,
                               uint16_t bank, unsigned pcr, const uint8_t *digest,
                               size_t digest_len)
{
    int r = pcr_args_check(s, actor, policy, bank, pcr, digest, digest_len);
    if (r < 0) {
        return r;
    }
    struct pcr_args a = {actor, policy, bank, pcr, digest, digest_len, false, 0};
    return ks_store_in_write_tx(s, pcr_tx, &a);
}

struct activate_args {
    const char *actor, *policy;
    uint32_t version; /* in: selector; out: activated version */
};

static int activate_tx(struct ks_store *s, void *arg)
{
    struct activate_args *a = arg;
    char detail[KS_STORE_NAME_MAX + 96];
    int64_t policy_id, pv_id, old_id = 0;
    uint32_t old_version = 0;
    enum ks_policy_state state = KS_POLICY_DRAFT;
    int r = ks_store_policy_id(s, a->policy, &policy_id);
    if (r < 0) {
        return r;
    }
    if (a->version == KS_STORE_VERSION_DRAFT) {
        r = draft_get(s, a->actor, policy_id, false, &pv_id, &a->version);
    } else {
        r = ks_store_pv_find(s, policy_id, a->version, &pv_id, &state);
    }
    if (r < 0) {
        return r;
    }
    if (state == KS_POLICY_ACTIVE) {
        return ks_store_fail(s, KS_ERR_STORE_STATE, "version %u is already active", a->version);
    }
    r = ks_store_pv_by_state(s, policy_id, "active", &old_id, &old_version);
    if (r < 0 && r != KS_ERR_NOT_FOUND) {
        return r;
    }
    /* Retire first: the partial unique index allows one active row. */
    {
        STMT_AUTO sqlite3_stmt *st = NULL;
        r = ks_store_stmt(s, STMT_PV_RETIRE_ACTIVE,
                          "UPDATE policy_versions SET state = 'retired' "
                          "WHERE policy_id = ?1 AND state = 'active'",
                          &st);
        if (r < 0 || (r = ks_store_bind_int64(s, st, 1, policy_id)) < 0 ||
            (r = ks_store_step_done(s, st, "policy retire")) < 0) {
            return r;
        }
    }
    STMT_AUTO sqlite3_stmt *st = NULL;
    r = ks_store_stmt(s, STMT_PV_SET_STATE,
                      "UPDATE policy_versions SET state = 'active', activated_by = ?2, "
                      "activated_at = ?3 WHERE id = ?1",
                      &st);
    if (r < 0 || (r = ks_store_bind_int64(s, st, 1, pv_id)) < 0 ||
        (r = ks_store_bind_text(s, st, 2, a->actor)) < 0 ||
        (r = ks_store_bind_int64(s, st, 3, ks_store_now())) < 0 ||
        (r = ks_store_step_done(s, st, "policy activate")) < 0) {
        return r;
    }
    snprintf(detail, sizeof(detail), "{\"policy\":\"%s\",\"version\":%u,\"previous\":%u}",
             a->policy, a->version, old_version);
    return ks_store_audit_admin(s, a->actor, "policy.activate", NULL, NULL, NULL, detail);
}

int ks_store_policy_activate(struct ks_store *s, const char *actor, const char *policy,
                             uint32_t version, uint32_t *ret_version)
{
    if (!s || !ks_store_actor_valid(actor) || !ks_store_name_valid(policy) ||
        version == KS_STORE_VERSION_ACTIVE) {
        return KS_ERR_INVALID_ARG;
    }
    struct activate_args a = {actor, policy, version};
    int r = ks_store_in_write_tx(s, activate_tx, &a);
    if (r == KS_OK && ret_version) {
        *ret_version = a.version;
    }
    return r;
}
