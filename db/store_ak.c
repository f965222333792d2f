/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/store_internal.h"
#include "db/store_list.h"

const char *ks_ak_state_name(enum ks_ak_state state)
{
    switch (state) {
    case KS_AK_PENDING:
        return "pending";
    case KS_AK_ACTIVE:
        return "active";
    case KS_AK_REVOKED:
        return "revoked";
    }
    return NULL;
}

int ks_store_ak_state_parse(const char *name, enum ks_ak_state *ret)
{
    for (int v = KS_AK_PENDING; v <= KS_AK_REVOKED; v++) {
        if (name && strcmp(name, ks_ak_state_name((enum ks_ak_state)v)) == 0) {
            *ret = (enum ks_ak_state)v;
            return KS_OK;
        }
    }
    return KS_ERR_DB_CORRUPT;
}

struct ek_add_args {
    const char *actor, *name;
    const uint8_t *pub, *cert;
    size_t pub_len, cert_len;
};

static int ek_add_tx(struct ks_store *s, void *arg)
{
    const struct ek_add_args *a = arg;
    char detail[KS_STORE_TPM_NAME_HEX_MAX + 32];
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r = ks_store_stmt(s, STMT_EK_INSERT,
                          "INSERT INTO eks (name, public, cert, approved, added_by, added_at) "
                          "VALUES (?1, ?2, ?3, 0, ?4, ?5)",
                          &st);
    if (r < 0 || (r = ks_store_bind_text(s, st, 1, a->name)) < 0 ||
        (r = ks_store_bind_blob(s, st, 2, a->pub, a->pub_len)) < 0 ||
        (r = ks_store_bind_blob(s, st, 3, a->cert, a->cert_len)) < 0 ||
        (r = ks_store_bind_text(s, st, 4, a->actor)) < 0 ||
        (r = ks_store_bind_int64(s, st, 5, ks_store_now())) < 0 ||
        (r = ks_store_step_done(s, st, "ek add")) < 0) {
        return r;
    }
    snprintf(detail, sizeof(detail), "{\"ek\":\"%s\"}", a->name);
    return ks_store_audit_admin(s, a->actor, "ek.add", NULL, NULL, NULL, detail);
}

int ks_store_ek_add(struct ks_store *s, const char *actor, const char *ek_name, const uint8_t *pub,
                    size_t pub_len, const uint8_t *cert, size_t cert_len)
{
    if (!s || !ks_store_actor_valid(actor) || !ks_store_tpm_name_valid(ek_name) || !pub ||
        pub_len == 0 || (cert && cert_len == 0)) {
        return KS_ERR_INVALID_ARG;
    }
    if (pub_len > KS_STORE_MAX_BLOB || (cert && cert_len > KS_STORE_MAX_BLOB)) {
        return KS_ERR_TOO_LARGE;
    }
    struct ek_add_args a = {actor, ek_name, pub, cert, pub_len, cert ? cert_len : 0};
    return ks_store_in_write_tx(s, ek_add_tx, &a);
}

struct ek_approve_args {
    const char *actor, *name;
    bool approved;
};

static int ek_approve_tx(struct ks_store *s, void *arg)
{
    const struct ek_approve_args *a = arg;
    char detail[KS_STORE_TPM_NAME_HEX_MAX + 32];
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r = ks_store_stmt(s, STMT_EK_APPROVE,
                          "UPDATE eks SET approved = ?1, approved_by = ?2, approved_at = ?3 "
                          "WHERE name = ?4",
                          &st);
    if (r < 0 || (r = ks_store_bind_int64(s, st, 1, a->approved ? 1 : 0)) < 0 ||
        (r = ks_store_bind_text(s, st, 2, a->actor)) < 0 ||
        (r = ks_store_bind_int64(s, st, 3, ks_store_now())) < 0 ||
        (r = ks_store_bind_text(s, st, 4, a->name)) < 0 ||
        (r = ks_store_step_done(s, st, "ek approve")) < 0) {
        return r;
    }
    if (sqlite3_changes(s->db) != 1) {
        return ks_store_fail(s, KS_ERR_STORE_UNKNOWN_EK, "unknown EK %s", a->name);
    }
    snprintf(detail, sizeof(detail), "{\"ek\":\"%s\"}", a->name);
    return ks_store_audit_admin(s, a->actor, a->approved ? "ek.approve" : "ek.unapprove", NULL,
                                NULL, NULL, detail);
}

int ks_store_ek_approve(struct ks_store *s, const char *actor, const char *ek_name, bool approved)
{
    if (!s || !ks_store_actor_valid(actor) || !ks_store_tpm_name_valid(ek_name)) {
        return KS_ERR_INVALID_ARG;
    }
    struct ek_approve_args a = {actor, ek_name, approved};
    return ks_store_in_write_tx(s, ek_approve_tx, &a);
}

struct ak_add_args {
    const char *actor, *id, *ek;
    const uint8_t *pub;
    size_t pub_len;
};

static int ak_add_tx(struct ks_store *s, void *arg)
{
    const struct ak_add_args *a = arg;
    int r;
    if (a->ek) {
        STMT_AUTO sqlite3_stmt *st = NULL;
        r = ks_store_stmt(s, STMT_EK_EXISTS, "SELECT 1 FROM eks WHERE name = ?1", &st);
        if (r < 0 || (r = ks_store_bind_text(s, st, 1, a->ek)) < 0) {
            return r;
        }
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) {
            return ks_store_fail(s, KS_ERR_STORE_UNKNOWN_EK, "unknown EK %s", a->ek);
        }
        if (rc != SQLITE_ROW) {
            return ks_store_sqlerr(s, rc, "ek lookup");
        }
    }
    STMT_AUTO sqlite3_stmt *st = NULL;
    r = ks_store_stmt(s, STMT_AK_INSERT,
                      "INSERT INTO aks (id, public, ek_name, state, vouched_by, created_at) "
                      "VALUES (?1, ?2, ?3, 'active', ?4, ?5)",
                      &st);
    if (r < 0 || (r = ks_store_bind_text(s, st, 1, a->id)) < 0 ||
        (r = ks_store_bind_blob(s, st, 2, a->pub, a->pub_len)) < 0 ||
        (r = ks_store_bind_text(s, st, 3, a->ek)) < 0 ||
        (r = ks_store_bind_text(s, st, 4, a->actor)) < 0 ||
        (r = ks_store_bind_int64(s, st, 5, ks_store_now())) < 0 ||
        (r = ks_store_step_done(s, st, "ak add")) < 0) {
        return r;
    }
    return ks_store_audit_admin(s, a->actor, "ak.add", a->id, NULL, NULL, NULL);
}

int ks_store_ak_add(struct ks_store *s, const char *actor, const char *ak_id, const uint8_t *pub,
                    size_t pub_len, const char *ek_name)
{
    if (!s || !ks_store_actor_valid(actor) || !ks_store_tpm_name_valid(ak_id) || !pub ||
        pub_len == 0 || (ek_name && !ks_store_tpm_name_valid(ek_name))) {
        return KS_ERR_INVALID_ARG;
    }
    if (pub_len > KS_STORE_MAX_BLOB) {
        return KS_ERR_TOO_LARGE;
    }
    struct ak_add_args a = {actor, ak_id, ek_name, pub, pub_len};
    return ks_store_in_write_tx(s, ak_add_tx, &a);
}

struct ak_revoke_args {
    const char *actor, *id, *reason;
};

static int ak_revoke_tx(struct ks_store *s, void *arg)
{
    const struct ak_revoke_args *a = arg;
    int r;
    {
        STMT_AUTO sqlite3_stmt *st = NULL;
        r = ks_store_stmt(s, STMT_AK_STATE, "SELECT state FROM aks WHERE id = ?1", &st);
        if (r < 0 || (r = ks_store_bind_text(s, st, 1, a->id)) < 0) {
            return r;
        }
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) {
            return ks_store_fail(s, KS_ERR_STORE_UNKNOWN_AK, "unknown AK %s", a->id);
        }
        if (rc != SQLITE_ROW) {
            return ks_store_sqlerr(s, rc, "ak state");
        }
        const char *state = (const char *)sqlite3_column_text(st, 0);
        if (state && strcmp(state, "revoked") == 0) {
            return ks_store_fail(s, KS_ERR_STORE_STATE, "AK %s is already revoked", a->id);
        }
    }
    STMT_AUTO sqlite3_stmt *st = NULL;
    r = ks_store_stmt(s, STMT_AK_REVOKE,
                      "UPDATE aks SET state = 'revoked', revoked_by = ?1, revoked_at = ?2 "
                      "WHERE id = ?3",
                      &st);
    if (r < 0 || (r = ks_store_bind_text(s, st, 1, a->actor)) < 0 ||
        (r = ks_store_bind_int64(s, st, 2, ks_store_now())) < 0 ||
        (r = ks_store_bind_text(s, st, 3, a->id)) < 0 ||
        (r = ks_store_step_done(s, st, "ak revoke")) < 0) {
        return r;
    }
    return ks_store_audit_admin(s, a->actor, "ak.revoke", a->id, NULL, a->reason, NULL);
}

int ks_store_ak_revoke(struct ks_store *s, const char *actor, const char *ak_id, const char *reason)
{
    if (!s || !ks_store_actor_valid(actor) || !ks_store_tpm_name_valid(ak_id)) {
        return KS_ERR_INVALID_ARG;
    }
    if (reason && strlen(reason) > KS_STORE_MAX_REASON) {
        return KS_ERR_TOO_LARGE;
    }
    struct ak_revoke_args a = {actor, ak_id, reason};
    return ks_store_in_write_tx(s, ak_revoke_tx, &a);
}

static int ak_list_row(struct ks_store *s, sqlite3_stmt *st, void *elem, void *arg)
{
    struct ks_store_ak_info *a = elem;
    int r;
    (void)arg;
    if ((r = ks_store_col_text(s, st, 0, a->id, sizeof(a->id))) < 0 ||
        (r = ks_store_ak_state_parse((const char *)sqlite3_column_text(st, 1), &a->state)) < 0 ||
        (r = ks_store_col_text(s, st, 2, a->ek_name, sizeof(a->ek_name))) < 0 ||
        (r = ks_store_col_text(s, st, 3, a->vouched_by, sizeof(a->vouched_by))) < 0) {
        return r;
    }
    a->created_at = sqlite3_column_int64(st, 4);
    a->last_attested_at = sqlite3_column_int64(st, 5);
    return KS_OK;
}

int ks_store_ak_list(struct ks_store *s, struct ks_store_ak_info **ret, size_t *ret_n)
{
    if (!s || !ret || !ret_n) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_store_list l = KS_STORE_LIST_INIT(struct ks_store_ak_info);
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r = ks_store_stmt(s, STMT_AK_LIST,
                          "SELECT id, state, ek_name, vouched_by, created_at, last_attested_at "
                          "FROM aks ORDER BY id",
                          &st);
    if (r < 0 || (r = ks_store_list_read(s, st, "ak list", &l, ak_list_row, NULL)) < 0) {
        ks_store_list_clear(&l, NULL);
        return r;
    }
    *ret = l.items;
    *ret_n = l.n;
    return KS_OK;
}

struct ak_quote_args {
    const char *id;
    int64_t now;
    uint64_t clock;
    uint32_t reset, restart;
};

static int ak_quote_tx(struct ks_store *s, void *arg)
{
    const struct ak_quote_args *a = arg;
    int r;
    {
        STMT_AUTO sqlite3_stmt *st = NULL;
        r = ks_store_stmt(s, STMT_AK_CLOCK_GET,
                          "SELECT last_clock, last_reset_count, last_restart_count "
                          "FROM aks WHERE id = ?1",
                          &st);
        if (r < 0 || (r = ks_store_bind_text(s, st, 1, a->id)) < 0) {
            return r;
        }
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) {
            return ks_store_fail(s, KS_ERR_STORE_UNKNOWN_AK, "unknown AK %s", a->id);
        }
        if (rc != SQLITE_ROW) {
            return ks_store_sqlerr(s, rc, "ak clock");
        }
        if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
            uint64_t clock = (uint64_t)sqlite3_column_int64(st, 0);
            int64_t reset = sqlite3_column_int64(st, 1);
            int64_t restart = sqlite3_column_int64(st, 2);
            /* Lexicographic on (resetCount, restartCount, clock). */
            bool older = a->reset != reset       ? a->reset < reset
                         : a->restart != restart ? a->restart < restart
                                                 : a->clock < clock;
            if (older) {
                return ks_store_fail(s, KS_ERR_AK_CLOCK_ROLLBACK,
                                     "AK %s: quote clock (%u, %u, %llu) older than the last "
                                     "accepted (%lld, %lld, %llu)",
                                     a->id, a->reset, a->restart, (unsigned long long)a->clock,
                                     (long long)reset, (long long)restart,
                                     (unsigned long long)clock);
            }
        }
    }
    STMT_AUTO sqlite3_stmt *st = NULL;
    r = ks_store_stmt(s, STMT_AK_CLOCK_SET,
                      "UPDATE aks SET last_attested_at = ?1, last_clock = ?2, "
                      "last_reset_count = ?3, last_restart_count = ?4 WHERE id = ?5",
                      &st);
    if (r < 0 || (r = ks_store_bind_int64(s, st, 1, a->now)) < 0 ||
        (r = ks_store_bind_int64(s, st, 2, (int64_t)a->clock)) < 0 ||
        (r = ks_store_bind_int64(s, st, 3, a->reset)) < 0 ||
        (r = ks_store_bind_int64(s, st, 4, a->restart)) < 0 ||
        (r = ks_store_bind_text(s, st, 5, a->id)) < 0) {
        return r;
    }
    return ks_store_step_done(s, st, "ak clock update");
}

int ks_store_ak_quote_tx(struct ks_store *s, const char *ak_id, int64_t now, uint64_t clock,
                         uint32_t reset_count, uint32_t restart_count)
{
    if (clock > INT64_MAX) {
        return KS_ERR_INVALID_ARG;
    }
    struct ak_quote_args a = {ak_id, now ? now : ks_store_now(), clock, reset_count, restart_count};
    return ak_quote_tx(s, &a);
}

int ks_store_ak_record_quote(struct ks_store *s, const char *ak_id, int64_t now, uint64_t clock,
                             uint32_t reset_count, uint32_t restart_count)
{
    /* SQLite integers are signed 64-bit; a TPM clock (ms) never gets there. */
    if (!s || !ks_store_tpm_name_valid(ak_id) || now < 0 || clock > INT64_MAX) {
        return KS_ERR_INVALID_ARG;
    }
    struct ak_quote_args a = {ak_id, now ? now : ks_store_now(), clock, reset_count, restart_count};
    return ks_store_in_write_tx(s, ak_quote_tx, &a);
}
