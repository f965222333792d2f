/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* Reading policies: rules of a version, one version, the list. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/store_internal.h"

int ks_store_policy_rules_load(struct ks_store *s, int64_t pv_id, struct ks_store_policy *p)
{
    STMT_AUTO sqlite3_stmt *st = NULL;
    size_t cap = 0;
    int r = ks_store_stmt(s, STMT_RULES_OF,
                          "SELECT id, kind, bank, pcr, digest, data FROM policy_rules "
                          "WHERE policy_version_id = ?1 ORDER BY kind, bank, pcr, digest, id",
                          &st);
    if (r < 0 || (r = ks_store_bind_int64(s, st, 1, pv_id)) < 0) {
        return r;
    }
    for (;;) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) {
            return KS_OK;
        }
        if (rc != SQLITE_ROW) {
            return ks_store_sqlerr(s, rc, "rules");
        }
        if (p->n_rules == KS_STORE_MAX_RULES) {
            return ks_store_fail(s, KS_ERR_TOO_LARGE, "policy has more than %d rules",
                                 KS_STORE_MAX_RULES);
        }
        if (p->n_rules == cap) {
            cap = cap ? 2 * cap : 16;
            struct ks_store_rule *n = realloc(p->rules, cap * sizeof(*n));
            if (!n) {
                return KS_ERR_NOMEM;
            }
            p->rules = n;
        }
        struct ks_store_rule *rule = &p->rules[p->n_rules];
        memset(rule, 0, sizeof(*rule));
        p->n_rules++;
        rule->id = sqlite3_column_int64(st, 0);
        if ((r = ks_store_col_text(s, st, 1, rule->kind_name, sizeof(rule->kind_name))) < 0) {
            return r;
        }
        if (sqlite3_column_type(st, 5) != SQLITE_NULL) {
            rule->data = strdup((const char *)sqlite3_column_text(st, 5));
            if (!rule->data) {
                return KS_ERR_NOMEM;
            }
        }
        rule->pcr = KS_RULE_NO_PCR;
        rule->kind = ks_rule_kind_from_name(rule->kind_name);
        if (rule->kind == KS_RULE_UNKNOWN) {
            continue;
        }
        /* Every known kind: the columns it uses, then its shape. */
        const char *bank = (const char *)sqlite3_column_text(st, 2);
        size_t dlen = (size_t)sqlite3_column_bytes(st, 4);
        bool bad = bank && ks_alg_from_name(bank, &rule->bank) < 0;
        if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
            int64_t pcr = sqlite3_column_int64(st, 3);
            bad = bad || pcr < 0 || pcr > 23;
            rule->pcr = (uint8_t)(pcr & 0x1f);
        }
        if (sqlite3_column_type(st, 4) != SQLITE_NULL) {
            bad = bad || dlen == 0 || dlen > KS_MAX_DIGEST || !sqlite3_column_blob(st, 4);
            if (!bad) {
                rule->digest_len = (uint8_t)dlen;
                memcpy(rule->digest, sqlite3_column_blob(st, 4), dlen);
            }
        }
        if (bad || ks_store_rule_check(rule) < 0) {
            return ks_store_fail(s, KS_ERR_DB_CORRUPT, "rule %lld malformed", (long long)rule->id);
        }
    }
}

static int policy_get_tx(struct ks_store *s, const char *policy, uint32_t version,
                         struct ks_store_policy *p)
{
    int64_t policy_id, pv_id;
    int r = ks_store_policy_id(s, policy, &policy_id);
    if (r < 0) {
        return r;
    }
    if (version == KS_STORE_VERSION_ACTIVE || version == KS_STORE_VERSION_DRAFT) {
        bool active = version == KS_STORE_VERSION_ACTIVE;
        r = ks_store_pv_by_state(s, policy_id, active ? "active" : "draft", &pv_id, &p->version);
        if (r == KS_ERR_NOT_FOUND) {
            return ks_store_fail(s, KS_ERR_STORE_UNKNOWN_POLICY, "policy %s has no %s version",
                                 policy, active ? "active" : "draft");
        }
        p->state = active ? KS_POLICY_ACTIVE : KS_POLICY_DRAFT;
    } else {
        r = ks_store_pv_find(s, policy_id, version, &pv_id, &p->state);
        p->version = version;
    }
    if (r < 0) {
        return r;
    }
    snprintf(p->name, sizeof(p->name), "%s", policy);
    p->pv_id = pv_id;
    return ks_store_policy_rules_load(s, pv_id, p);
}

int ks_store_policy_get(struct ks_store *s, const char *policy, uint32_t version,
                        struct ks_store_policy **ret)
{
    if (!s || !ks_store_name_valid(policy) || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_store_policy *p = calloc(1, sizeof(*p));
    if (!p) {
        return KS_ERR_NOMEM;
    }
    int r = ks_store_begin(s, false);
    if (r == KS_OK) {
        r = policy_get_tx(s, policy, version, p);
        ks_store_rollback(s); /* read-only */
    }
    if (r < 0) {
        ks_store_policy_free(p);
        return r;
    }
    *ret = p;
    return KS_OK;
}

int ks_store_policy_list(struct ks_store *s, struct ks_store_policy_info **ret, size_t *ret_n)
{
    if (!s || !ret || !ret_n) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_store_policy_info *list = NULL;
    size_t n = 0, cap = 0;
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r = ks_store_stmt(s, STMT_POLICY_LIST,
                          "SELECT p.name, "
                          "coalesce((SELECT version FROM policy_versions WHERE policy_id = p.id "
                          "          AND state = 'active'), 0), "
                          "coalesce((SELECT version FROM policy_versions WHERE policy_id = p.id "
                          "          AND state = 'draft'), 0), "
                          "(SELECT count(*) FROM policy_versions WHERE policy_id = p.id) "
                          "FROM policies p ORDER BY p.name",
                          &st);
    if (r < 0) {
        return r;
    }
    for (;;) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) {
            break;
        }
        if (rc != SQLITE_ROW) {
            r = ks_store_sqlerr(s, rc, "policy list");
            goto out;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            struct ks_store_policy_info *nl = realloc(list, cap * sizeof(*list));
            if (!nl) {
                r = KS_ERR_NOMEM;
                goto out;
            }
            list = nl;
        }
        struct ks_store_policy_info *pi = &list[n];
        memset(pi, 0, sizeof(*pi));
        if ((r = ks_store_col_text(s, st, 0, pi->name, sizeof(pi->name))) < 0) {
            goto out;
        }
        pi->active_version = (uint32_t)sqlite3_column_int64(st, 1);
        pi->draft_version = (uint32_t)sqlite3_column_int64(st, 2);
        pi->n_versions = (uint32_t)sqlite3_column_int64(st, 3);
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
