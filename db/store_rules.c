/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/*
 * Rules of every kind (migration 4): kind names, the shape of a row per
 * kind, adding and removing one rule, replacing a draft's rules (ksctl
 * policy learn / import), a policy's version history, and the release audit
 * row folded with the AK's clock record. What the fields of `data` mean is
 * keyserverd/policy_rules.c's business; the store checks that `data` is a
 * JSON object where the kind has one.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "db/store_internal.h"

static const char *const kind_names[KS_RULE_KIND_MAX + 1] = {
    [KS_RULE_PCR] = "pcr",
    [KS_RULE_EVENT] = "event",
    [KS_RULE_EVENT_FORBIDDEN] = "event_forbidden",
    [KS_RULE_SECUREBOOT] = "secureboot",
    [KS_RULE_SEPARATOR] = "separator",
    [KS_RULE_CMDLINE_FORBIDDEN] = "cmdline_forbidden",
    [KS_RULE_IMA_FILE] = "ima_file",
    [KS_RULE_IMA_EXCLUDE] = "ima_exclude",
    [KS_RULE_APP_DIGEST] = "app_digest",
    [KS_RULE_TPM_SAFE] = "tpm_safe",
    [KS_RULE_TPM_CLOCK] = "tpm_clock",
    [KS_RULE_TPM_FIRMWARE] = "tpm_firmware",
};

const char *ks_rule_kind_name(enum ks_rule_kind kind)
{
    if ((unsigned)kind > KS_RULE_KIND_MAX) {
        return NULL;
    }
    return kind_names[kind];
}

enum ks_rule_kind ks_rule_kind_from_name(const char *name)
{
    for (int k = 1; name && k <= KS_RULE_KIND_MAX; k++) {
        if (strcmp(name, kind_names[k]) == 0) {
            return (enum ks_rule_kind)k;
        }
    }
    return KS_RULE_UNKNOWN;
}

/* Which columns a kind uses: R required, O optional, N none. */
enum col { N, O, R };
struct shape {
    enum col bank, pcr, digest, data;
    bool bank_sized;   /* digest has the bank's digest size */
    uint8_t fixed_pcr; /* KS_RULE_NO_PCR: any */
    uint8_t fixed_len; /* 0: any 1..64 */
};

static const struct shape shapes[KS_RULE_KIND_MAX + 1] = {
    [KS_RULE_PCR] = {R, R, R, N, true, KS_RULE_NO_PCR, 0},
    [KS_RULE_EVENT] = {R, R, R, R, true, KS_RULE_NO_PCR, 0},
    [KS_RULE_EVENT_FORBIDDEN] = {O, O, O, R, true, KS_RULE_NO_PCR, 0},
    [KS_RULE_SECUREBOOT] = {R, R, N, N, false, KS_RULE_NO_PCR, 0},
    [KS_RULE_SEPARATOR] = {R, R, N, N, false, KS_RULE_NO_PCR, 0},
    [KS_RULE_CMDLINE_FORBIDDEN] = {R, R, N, R, false, KS_RULE_NO_PCR, 0},
    [KS_RULE_IMA_FILE] = {N, R, R, R, false, 10, 0},
    [KS_RULE_IMA_EXCLUDE] = {N, R, N, R, false, 10, 0},
    [KS_RULE_APP_DIGEST] = {R, R, R, R, false, KS_RULE_NO_PCR, 32},
    [KS_RULE_TPM_SAFE] = {N, N, N, N, false, KS_RULE_NO_PCR, 0},
    [KS_RULE_TPM_CLOCK] = {N, N, N, N, false, KS_RULE_NO_PCR, 0},
    [KS_RULE_TPM_FIRMWARE] = {N, N, N, R, false, KS_RULE_NO_PCR, 0},
};

static bool col_ok(enum col c, bool present)
{
    return c == O || (c == R) == present;
}

int ks_store_rule_check(const struct ks_store_rule *rule)
{
    if (!rule || rule->kind <= KS_RULE_UNKNOWN || rule->kind > KS_RULE_KIND_MAX) {
        return KS_ERR_INVALID_ARG;
    }
    const struct shape *sh = &shapes[rule->kind];
    bool has_bank = rule->bank != 0, has_pcr = rule->pcr != KS_RULE_NO_PCR;
    bool has_digest = rule->digest_len != 0, has_data = rule->data != NULL;
    if (!col_ok(sh->bank, has_bank) || !col_ok(sh->pcr, has_pcr) ||
        !col_ok(sh->digest, has_digest) || !col_ok(sh->data, has_data)) {
        return KS_ERR_INVALID_ARG;
    }
    if ((has_bank && ks_alg_digest_size(rule->bank) == 0) || (has_pcr && rule->pcr > 23) ||
        (sh->fixed_pcr != KS_RULE_NO_PCR && rule->pcr != sh->fixed_pcr) ||
        rule->digest_len > KS_MAX_DIGEST) {
        return KS_ERR_INVALID_ARG;
    }
    if (has_digest && sh->bank_sized &&
        (!has_bank || rule->digest_len != ks_alg_digest_size(rule->bank))) {
        return KS_ERR_INVALID_ARG;
    }
    if (has_digest && sh->fixed_len && rule->digest_len != sh->fixed_len) {
        return KS_ERR_INVALID_ARG;
    }
    if (has_data && (strlen(rule->data) < 2 || strlen(rule->data) > KS_STORE_MAX_RULE_DATA)) {
        return KS_ERR_INVALID_ARG;
    }
    return KS_OK;
}

/* The shape, and `data` a JSON object: what a writer must check. */
static int rule_check_write(const struct ks_store_rule *rule)
{
    int r = ks_store_rule_check(rule);
    if (r < 0 || !rule->data) {
        return r;
    }
    json_t *j = json_loads(rule->data, JSON_REJECT_DUPLICATES, NULL);
    bool ok = j && json_is_object(j);
    json_decref(j);
    return ok ? KS_OK : KS_ERR_INVALID_ARG;
}

static int bind_rule(struct ks_store *s, sqlite3_stmt *st, int64_t pv_id,
                     const struct ks_store_rule *rule)
{
    int r;
    if ((r = ks_store_bind_int64(s, st, 1, pv_id)) < 0 ||
        (r = ks_store_bind_text(s, st, 2, ks_rule_kind_name(rule->kind))) < 0 ||
        (r = ks_store_bind_text(s, st, 3, rule->bank ? ks_alg_name(rule->bank) : NULL)) < 0) {
        return r;
    }
    if (rule->pcr != KS_RULE_NO_PCR) {
        r = ks_store_bind_int64(s, st, 4, rule->pcr);
    } else if (sqlite3_bind_null(st, 4) != SQLITE_OK) {
        r = ks_store_sqlerr(s, sqlite3_errcode(s->db), "bind");
    }
    if (r < 0) {
        return r;
    }
    if (rule->digest_len) {
        r = ks_store_bind_blob(s, st, 5, rule->digest, rule->digest_len);
    } else if (sqlite3_bind_null(st, 5) != SQLITE_OK) {
        r = ks_store_sqlerr(s, sqlite3_errcode(s->db), "bind");
    }
    if (r < 0) {
        return r;
    }
    return ks_store_bind_text(s, st, 6, rule->data);
}

static int rule_insert(struct ks_store *s, int64_t pv_id, const struct ks_store_rule *rule)
{
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r = ks_store_stmt(s, STMT_RULE_INSERT_ANY,
                          "INSERT INTO policy_rules (policy_version_id, kind, bank, pcr, digest, "
                          "data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                          &st);
    if (r < 0 || (r = bind_rule(s, st, pv_id, rule)) < 0) {
        return r;
    }
    r = ks_store_step_done(s, st, "rule add");
    if (r == KS_ERR_STORE_EXISTS) {
        return ks_store_fail(s, r, "the draft already has this %s rule",
                             ks_rule_kind_name(rule->kind));
    }
    return r;
}

/* Audit detail of one rule: the kind and the columns it has. */
static char *rule_detail(const char *policy, uint32_t version, const struct ks_store_rule *rule)
{
    char hex[2 * KS_MAX_DIGEST + 1];
    json_t *o = json_pack("{s:s,s:I,s:s}", "policy", policy, "version", (json_int_t)version, "kind",
                          ks_rule_kind_name(rule->kind));
    if (!o) {
        return NULL;
    }
    if (rule->bank) {
        json_object_set_new(o, "bank", json_string(ks_alg_name(rule->bank)));
    }
    if (rule->pcr != KS_RULE_NO_PCR) {
        json_object_set_new(o, "pcr", json_integer(rule->pcr));
    }
    if (rule->digest_len) {
        for (size_t i = 0; i < rule->digest_len; i++) {
            snprintf(hex + 2 * i, 3, "%02x", rule->digest[i]);
        }
        json_object_set_new(o, "digest", json_string(hex));
    }
    if (rule->data) {
        json_object_set_new(o, "data", json_loads(rule->data, 0, NULL));
    }
    char *d = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return d;
}

struct rule_args {
    const char *actor, *policy;
    const struct ks_store_rule *rule;
    bool add;
    uint32_t version; /* out */
};

static int rule_tx(struct ks_store *s, void *arg)
{
    struct rule_args *a = arg;
    int64_t policy_id, pv_id;
    int r = ks_store_policy_id(s, a->policy, &policy_id);
    if (r < 0 ||
        (r = ks_store_draft_get(s, a->actor, policy_id, a->add, true, &pv_id, &a->version)) < 0) {
        return r;
    }
    if (a->add) {
        r = rule_insert(s, pv_id, a->rule);
    } else {
        STMT_AUTO sqlite3_stmt *st = NULL;
        r = ks_store_stmt(s, STMT_RULE_DELETE_ANY,
                          "DELETE FROM policy_rules WHERE policy_version_id = ?1 AND kind = ?2 "
                          "AND bank IS ?3 AND pcr IS ?4 AND digest IS ?5 AND data IS ?6",
                          &st);
        if (r == KS_OK && (r = bind_rule(s, st, pv_id, a->rule)) == KS_OK &&
            (r = ks_store_step_done(s, st, "rule remove")) == KS_OK &&
            sqlite3_changes(s->db) == 0) {
            r = ks_store_fail(s, KS_ERR_NOT_FOUND, "draft has no such rule");
        }
    }
    if (r < 0) {
        return r;
    }
    char *detail = rule_detail(a->policy, a->version, a->rule);
    if (!detail) {
        return KS_ERR_NOMEM;
    }
    r = ks_store_audit_admin(s, a->actor, a->add ? "policy.rule.add" : "policy.rule.remove", NULL,
                             NULL, NULL, detail);
    free(detail);
    return r;
}

static int rule_op(struct ks_store *s, const char *actor, const char *policy,
                   const struct ks_store_rule *rule, bool add, uint32_t *ret_version)
{
    if (!s || !ks_store_actor_valid(actor) || !ks_store_name_valid(policy) ||
        rule_check_write(rule) < 0) {
        return KS_ERR_INVALID_ARG;
    }
    struct rule_args a = {actor, policy, rule, add, 0};
    int r = ks_store_in_write_tx(s, rule_tx, &a);
    if (r == KS_OK && ret_version) {
        *ret_version = a.version;
    }
    return r;
}

int ks_store_policy_add_rule(struct ks_store *s, const char *actor, const char *policy,
                             const struct ks_store_rule *rule, uint32_t *ret_version)
{
    return rule_op(s, actor, policy, rule, true, ret_version);
}

int ks_store_policy_remove_rule(struct ks_store *s, const char *actor, const char *policy,
                                const struct ks_store_rule *rule)
{
    return rule_op(s, actor, policy, rule, false, NULL);
}

struct draft_args {
    const char *actor, *policy, *event;
    bool create;
    const struct ks_store_rule *rules;
    size_t n;
    uint32_t version; /* out */
};

static int set_draft_tx(struct ks_store *s, void *arg)
{
    struct draft_args *a = arg;
    char detail[KS_STORE_NAME_MAX + 96];
    int64_t policy_id, pv_id;
    bool created = false;
    int r = ks_store_policy_id(s, a->policy, &policy_id);
    if (r == KS_ERR_STORE_UNKNOWN_POLICY && a->create) {
        STMT_AUTO sqlite3_stmt *st = NULL;
        r = ks_store_stmt(s, STMT_POLICY_INSERT,
                          "INSERT INTO policies (name, created_by, created_at) VALUES (?1, ?2, ?3)",
                          &st);
        if (r < 0 || (r = ks_store_bind_text(s, st, 1, a->policy)) < 0 ||
            (r = ks_store_bind_text(s, st, 2, a->actor)) < 0 ||
            (r = ks_store_bind_int64(s, st, 3, ks_store_now())) < 0 ||
            (r = ks_store_step_done(s, st, "policy create")) < 0) {
            return r;
        }
        policy_id = sqlite3_last_insert_rowid(s->db);
        created = true;
        snprintf(detail, sizeof(detail), "{\"policy\":\"%s\"}", a->policy);
        r = ks_store_audit_admin(s, a->actor, "policy.create", NULL, NULL, NULL, detail);
    }
    if (r < 0 ||
        (r = ks_store_draft_get(s, a->actor, policy_id, true, false, &pv_id, &a->version)) < 0) {
        return r;
    }
    {
        STMT_AUTO sqlite3_stmt *st = NULL;
        r = ks_store_stmt(s, STMT_RULE_CLEAR,
                          "DELETE FROM policy_rules WHERE policy_version_id = ?1", &st);
        if (r < 0 || (r = ks_store_bind_int64(s, st, 1, pv_id)) < 0 ||
            (r = ks_store_step_done(s, st, "draft clear")) < 0) {
            return r;
        }
    }
    for (size_t i = 0; i < a->n; i++) {
        if ((r = rule_insert(s, pv_id, &a->rules[i])) < 0) {
            return r;
        }
    }
    snprintf(detail, sizeof(detail), "{\"policy\":\"%s\",\"version\":%u,\"rules\":%zu%s}",
             a->policy, a->version, a->n, created ? ",\"created\":true" : "");
    return ks_store_audit_admin(s, a->actor, a->event, NULL, NULL, NULL, detail);
}

int ks_store_policy_set_draft(struct ks_store *s, const char *actor, const char *policy,
                              const char *event, bool create, const struct ks_store_rule *rules,
                              size_t n, uint32_t *ret_version)
{
    if (!s || !ks_store_actor_valid(actor) || !ks_store_name_valid(policy) || !event || !*event ||
        (n && !rules) || n > KS_STORE_MAX_RULES) {
        return KS_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < n; i++) {
        if (rule_check_write(&rules[i]) < 0) {
            return ks_store_fail(s, KS_ERR_INVALID_ARG, "rule %zu malformed", i + 1);
        }
    }
    struct draft_args a = {actor, policy, event, create, rules, n, 0};
    int r = ks_store_in_write_tx(s, set_draft_tx, &a);
    if (r == KS_OK && ret_version) {
        *ret_version = a.version;
    }
    return r;
}

static int history_tx(struct ks_store *s, const char *policy,
                      struct ks_store_policy_version_info **ret, size_t *ret_n)
{
    struct ks_store_policy_version_info *list = NULL;
    size_t n = 0, cap = 0;
    int64_t policy_id;
    int r = ks_store_policy_id(s, policy, &policy_id);
    if (r < 0) {
        return r;
    }
    STMT_AUTO sqlite3_stmt *st = NULL;
    r = ks_store_stmt(s, STMT_PV_HISTORY,
                      "SELECT v.version, v.state, v.created_by, v.created_at, v.activated_by, "
                      "v.activated_at, (SELECT count(*) FROM policy_rules r "
                      "                 WHERE r.policy_version_id = v.id) "
                      "FROM policy_versions v WHERE v.policy_id = ?1 ORDER BY v.version",
                      &st);
    if (r < 0 || (r = ks_store_bind_int64(s, st, 1, policy_id)) < 0) {
        return r;
    }
    for (;;) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) {
            break;
        }
        if (rc != SQLITE_ROW) {
            r = ks_store_sqlerr(s, rc, "policy history");
            goto out;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            struct ks_store_policy_version_info *nl = realloc(list, cap * sizeof(*list));
            if (!nl) {
                r = KS_ERR_NOMEM;
                goto out;
            }
            list = nl;
        }
        struct ks_store_policy_version_info *v = &list[n];
        memset(v, 0, sizeof(*v));
        v->version = (uint32_t)sqlite3_column_int64(st, 0);
        if ((r = ks_store_policy_state_parse((const char *)sqlite3_column_text(st, 1), &v->state)) <
                0 ||
            (r = ks_store_col_text(s, st, 2, v->created_by, sizeof(v->created_by))) < 0 ||
            (r = ks_store_col_text(s, st, 4, v->activated_by, sizeof(v->activated_by))) < 0) {
            goto out;
        }
        v->created_at = sqlite3_column_int64(st, 3);
        v->activated_at = sqlite3_column_int64(st, 5);
        v->n_rules = (uint32_t)sqlite3_column_int64(st, 6);
        n++;
    }
    *ret = list;
    *ret_n = n;
    list = NULL;
    r = KS_OK;
out:
    free(list);
    return r;
}

int ks_store_policy_history(struct ks_store *s, const char *policy,
                            struct ks_store_policy_version_info **ret, size_t *ret_n)
{
    if (!s || !ks_store_name_valid(policy) || !ret || !ret_n) {
        return KS_ERR_INVALID_ARG;
    }
    int r = ks_store_begin(s, false);
    if (r == KS_OK) {
        r = history_tx(s, policy, ret, ret_n);
        ks_store_rollback(s); /* read-only */
    }
    return r;
}
