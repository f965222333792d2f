/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/store_enroll_internal.h"
#include "db/store_list.h"

/* Trusted EK CAs and their CRLs (tables ek_cas, ek_ca_crls; migration 3).
 * The store keeps bytes; lib/ekcert parses and checks them. */

void ks_store_ekca_list_free(struct ks_store_ekca *cas, size_t n)
{
    if (!cas) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        free(cas[i].cert);
    }
    free(cas);
}

static bool subject_valid(const char *subject)
{
    return subject && strlen(subject) <= KS_STORE_SUBJECT_MAX;
}

struct ekca_add_args {
    const char *actor, *subject;
    const uint8_t *cert;
    size_t cert_len;
    bool auto_approve;
    int64_t id;
};

static int ekca_add_tx(struct ks_store *s, void *arg)
{
    struct ekca_add_args *a = arg;
    char detail[128];
    int r;
    {
        STMT_AUTO sqlite3_stmt *st = NULL;
        r = ks_store_estmt(s, STMT_EKCA_COUNT, "SELECT count(*) FROM ek_cas", &st);
        if (r < 0) {
            return r;
        }
        if (sqlite3_step(st) != SQLITE_ROW) {
            return ks_store_sqlerr(s, sqlite3_errcode(s->db), "ekca count");
        }
        if (sqlite3_column_int64(st, 0) >= KS_STORE_MAX_EKCAS) {
            return ks_store_fail(s, KS_ERR_TOO_LARGE, "too many EK CAs (at most %d)",
                                 KS_STORE_MAX_EKCAS);
        }
    }
    STMT_AUTO sqlite3_stmt *st = NULL;
    r = ks_store_estmt(s, STMT_EKCA_INSERT,
                       "INSERT INTO ek_cas (subject, cert, auto_approve, added_by, added_at) "
                       "VALUES (?1, ?2, ?3, ?4, ?5)",
                       &st);
    if (r < 0 || (r = ks_store_bind_text(s, st, 1, a->subject)) < 0 ||
        (r = ks_store_bind_blob(s, st, 2, a->cert, a->cert_len)) < 0 ||
        (r = ks_store_bind_int64(s, st, 3, a->auto_approve ? 1 : 0)) < 0 ||
        (r = ks_store_bind_text(s, st, 4, a->actor)) < 0 ||
        (r = ks_store_bind_int64(s, st, 5, ks_store_now())) < 0) {
        return r;
    }
    if ((r = ks_store_step_done(s, st, "ekca add")) < 0) {
        if (r == KS_ERR_STORE_EXISTS) {
            ks_store_fail(s, r, "this CA certificate is already trusted");
        }
        return r;
    }
    a->id = sqlite3_last_insert_rowid(s->db);
    snprintf(detail, sizeof(detail), "{\"ekca\":%lld,\"auto_approve\":%s}", (long long)a->id,
             a->auto_approve ? "true" : "false");
    return ks_store_audit_admin(s, a->actor, "ekca.add", NULL, NULL, a->subject, detail);
}

int ks_store_ekca_add(struct ks_store *s, const char *actor, const char *subject,
                      const uint8_t *cert, size_t cert_len, bool auto_approve, int64_t *ret_id)
{
    if (!s || !ks_store_actor_valid(actor) || !subject_valid(subject) || !cert || cert_len == 0) {
        return KS_ERR_INVALID_ARG;
    }
    if (cert_len > KS_STORE_MAX_BLOB) {
        return KS_ERR_TOO_LARGE;
    }
    struct ekca_add_args a = {actor, subject, cert, cert_len, auto_approve, 0};
    int r = ks_store_in_write_tx(s, ekca_add_tx, &a);
    if (r == KS_OK && ret_id) {
        *ret_id = a.id;
    }
    return r;
}

static int ekca_exists(struct ks_store *s, int64_t id)
{
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r = ks_store_estmt(s, STMT_EKCA_EXISTS, "SELECT 1 FROM ek_cas WHERE id = ?1", &st);
    if (r < 0 || (r = ks_store_bind_int64(s, st, 1, id)) < 0) {
        return r;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        return ks_store_fail(s, KS_ERR_NOT_FOUND, "no EK CA %lld", (long long)id);
    }
    return rc == SQLITE_ROW ? KS_OK : ks_store_sqlerr(s, rc, "ekca lookup");
}

struct ekca_auto_args {
    const char *actor;
    int64_t id;
    bool on;
};

static int ekca_auto_tx(struct ks_store *s, void *arg)
{
    const struct ekca_auto_args *a = arg;
    char detail[96];
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r = ekca_exists(s, a->id);
    if (r < 0 ||
        (r = ks_store_estmt(s, STMT_EKCA_SET_AUTO,
                            "UPDATE ek_cas SET auto_approve = ?1 WHERE id = ?2", &st)) < 0 ||
        (r = ks_store_bind_int64(s, st, 1, a->on ? 1 : 0)) < 0 ||
        (r = ks_store_bind_int64(s, st, 2, a->id)) < 0 ||
        (r = ks_store_step_done(s, st, "ekca auto-approve")) < 0) {
        return r;
    }
    snprintf(detail, sizeof(detail), "{\"ekca\":%lld,\"auto_approve\":%s}", (long long)a->id,
             a->on ? "true" : "false");
    return ks_store_audit_admin(s, a->actor, "ekca.auto_approve", NULL, NULL, NULL, detail);
}

int ks_store_ekca_set_auto_approve(struct ks_store *s, const char *actor, int64_t id, bool on)
{
    if (!s || !ks_store_actor_valid(actor) || id <= 0) {
        return KS_ERR_INVALID_ARG;
    }
    struct ekca_auto_args a = {actor, id, on};
    return ks_store_in_write_tx(s, ekca_auto_tx, &a);
}

struct ekca_remove_args {
    const char *actor;
    int64_t id;
    size_t unapproved;
};

static int ekca_remove_tx(struct ks_store *s, void *arg)
{
    struct ekca_remove_args *a = arg;
    char detail[96];
    int r = ekca_exists(s, a->id);
    if (r < 0) {
        return r;
    }
    {
        /* The approvals this CA granted go with it. The references of
         * other rows become NULL (ON DELETE SET NULL). */
        STMT_AUTO sqlite3_stmt *st = NULL;
        r = ks_store_estmt(s, STMT_EKCA_UNAPPROVE,
                           "UPDATE eks SET approved = 0, approved_by = ?1, approved_at = ?2, "
                           "approved_via = NULL WHERE approved = 1 AND approved_via = 'ca' "
                           "AND approved_ca_id = ?3",
                           &st);
        if (r < 0 || (r = ks_store_bind_text(s, st, 1, a->actor)) < 0 ||
            (r = ks_store_bind_int64(s, st, 2, ks_store_now())) < 0 ||
            (r = ks_store_bind_int64(s, st, 3, a->id)) < 0 ||
            (r = ks_store_step_done(s, st, "ekca unapprove")) < 0) {
            return r;
        }
        a->unapproved = (size_t)sqlite3_changes(s->db);
    }
    STMT_AUTO sqlite3_stmt *st = NULL;
    r = ks_store_estmt(s, STMT_EKCA_DELETE, "DELETE FROM ek_cas WHERE id = ?1", &st);
    if (r < 0 || (r = ks_store_bind_int64(s, st, 1, a->id)) < 0 ||
        (r = ks_store_step_done(s, st, "ekca remove")) < 0) {
        return r;
    }
    snprintf(detail, sizeof(detail), "{\"ekca\":%lld,\"unapproved_eks\":%zu}", (long long)a->id,
             a->unapproved);
    return ks_store_audit_admin(s, a->actor, "ekca.remove", NULL, NULL, NULL, detail);
}

int ks_store_ekca_remove(struct ks_store *s, const char *actor, int64_t id, size_t *ret_unapproved)
{
    if (!s || !ks_store_actor_valid(actor) || id <= 0) {
        return KS_ERR_INVALID_ARG;
    }
    struct ekca_remove_args a = {actor, id, 0};
    int r = ks_store_in_write_tx(s, ekca_remove_tx, &a);
    if (r == KS_OK && ret_unapproved) {
        *ret_unapproved = a.unapproved;
    }
    return r;
}

static int ekca_row(struct ks_store *s, sqlite3_stmt *st, void *elem, void *arg)
{
    struct ks_store_ekca *c = elem;
    int r;
    (void)arg;
    c->id = sqlite3_column_int64(st, 0);
    c->auto_approve = sqlite3_column_int(st, 2) == 1;
    c->added_at = sqlite3_column_int64(st, 4);
    c->n_eks = (uint32_t)sqlite3_column_int64(st, 6);
    c->crl_this_update = sqlite3_column_int64(st, 7);
    c->crl_next_update = sqlite3_column_int64(st, 8);
    c->has_crl = sqlite3_column_int(st, 9) == 1;
    if ((r = ks_store_col_text(s, st, 1, c->subject, sizeof(c->subject))) < 0 ||
        (r = ks_store_col_text(s, st, 3, c->added_by, sizeof(c->added_by))) < 0 ||
        (r = ks_store_col_blob(s, st, 5, KS_STORE_MAX_BLOB, &c->cert, &c->cert_len)) < 0) {
        return r;
    }
    return KS_OK;
}

/* Read the CAs with the current statement (inside the caller's read). */
static int ekca_read(struct ks_store *s, struct ks_store_ekca **ret, size_t *ret_n)
{
    struct ks_store_list l = KS_STORE_LIST_INIT(struct ks_store_ekca);
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r =
        ks_store_estmt(s, STMT_EKCA_LIST,
                       "SELECT c.id, c.subject, c.auto_approve, c.added_by, c.added_at, c.cert, "
                       "(SELECT count(*) FROM eks e WHERE e.ca_id = c.id), "
                       "(SELECT max(this_update) FROM ek_ca_crls l WHERE l.ca_id = c.id), "
                       "(SELECT next_update FROM ek_ca_crls l WHERE l.ca_id = c.id "
                       " ORDER BY this_update DESC LIMIT 1), "
                       "EXISTS (SELECT 1 FROM ek_ca_crls l WHERE l.ca_id = c.id) "
                       "FROM ek_cas c ORDER BY c.id",
                       &st);
    if (r < 0 || (r = ks_store_list_read(s, st, "ekca list", &l, ekca_row, NULL)) < 0) {
        /* (the element that failed is counted, zeroed where not filled) */
        ks_store_ekca_list_free(l.items, l.n);
        return r;
    }
    *ret = l.items;
    *ret_n = l.n;
    return KS_OK;
}

int ks_store_ekca_list(struct ks_store *s, struct ks_store_ekca **ret, size_t *ret_n)
{
    if (!s || !ret || !ret_n) {
        return KS_ERR_INVALID_ARG;
    }
    int r = ks_store_begin(s, false);
    if (r < 0) {
        return r;
    }
    r = ekca_read(s, ret, ret_n);
    if (r == KS_OK && (r = ks_store_commit(s)) < 0) {
        /* Nothing is handed out on failure: no pointer to freed memory. */
        ks_store_ekca_list_free(*ret, *ret_n);
        *ret = NULL;
        *ret_n = 0;
    }
    if (r < 0) {
        ks_store_rollback(s);
    }
    return r;
}

struct crl_add_args {
    const char *actor;
    int64_t ca_id;
    const uint8_t *crl;
    size_t len;
    int64_t this_update, next_update;
};

static int crl_add_tx(struct ks_store *s, void *arg)
{
    const struct crl_add_args *a = arg;
    char detail[160];
    int r = ekca_exists(s, a->ca_id);
    if (r < 0) {
        return r;
    }
    {
        STMT_AUTO sqlite3_stmt *st = NULL;
        r = ks_store_estmt(s, STMT_CRL_NEWEST,
                           "SELECT max(this_update) FROM ek_ca_crls WHERE ca_id = ?1", &st);
        if (r < 0 || (r = ks_store_bind_int64(s, st, 1, a->ca_id)) < 0) {
            return r;
        }
        int rc = sqlite3_step(st);
        if (rc != SQLITE_ROW) {
            return ks_store_sqlerr(s, rc, "crl lookup");
        }
        if (sqlite3_column_type(st, 0) != SQLITE_NULL &&
            sqlite3_column_int64(st, 0) > a->this_update) {
            return ks_store_fail(s, KS_ERR_STORE_STATE,
                                 "the stored CRL of EK CA %lld is newer than this one",
                                 (long long)a->ca_id);
        }
    }
    {
        STMT_AUTO sqlite3_stmt *st = NULL;
        r = ks_store_estmt(s, STMT_CRL_DELETE_CA, "DELETE FROM ek_ca_crls WHERE ca_id = ?1", &st);
        if (r < 0 || (r = ks_store_bind_int64(s, st, 1, a->ca_id)) < 0 ||
            (r = ks_store_step_done(s, st, "crl replace")) < 0) {
            return r;
        }
    }
    STMT_AUTO sqlite3_stmt *st = NULL;
    r = ks_store_estmt(s, STMT_CRL_INSERT,
                       "INSERT INTO ek_ca_crls (ca_id, crl, this_update, next_update, added_at) "
                       "VALUES (?1, ?2, ?3, ?4, ?5)",
                       &st);
    if (r < 0 || (r = ks_store_bind_int64(s, st, 1, a->ca_id)) < 0 ||
        (r = ks_store_bind_blob(s, st, 2, a->crl, a->len)) < 0 ||
        (r = ks_store_bind_int64(s, st, 3, a->this_update)) < 0 ||
        (r = a->next_update ? ks_store_bind_int64(s, st, 4, a->next_update)
                            : ks_store_bind_text(s, st, 4, NULL)) < 0 ||
        (r = ks_store_bind_int64(s, st, 5, ks_store_now())) < 0 ||
        (r = ks_store_step_done(s, st, "crl add")) < 0) {
        return r;
    }
    snprintf(detail, sizeof(detail), "{\"ekca\":%lld,\"this_update\":%lld,\"next_update\":%lld}",
             (long long)a->ca_id, (long long)a->this_update, (long long)a->next_update);
    return ks_store_audit_admin(s, a->actor, "ekca.crl.add", NULL, NULL, NULL, detail);
}

int ks_store_ekca_crl_add(struct ks_store *s, const char *actor, int64_t ca_id, const uint8_t *crl,
                          size_t crl_len, int64_t this_update, int64_t next_update)
{
    if (!s || !ks_store_actor_valid(actor) || ca_id <= 0 || !crl || crl_len == 0 ||
        this_update < 0 || next_update < 0) {
        return KS_ERR_INVALID_ARG;
    }
    if (crl_len > KS_STORE_MAX_BLOB * 16) {
        return KS_ERR_TOO_LARGE;
    }
    struct crl_add_args a = {actor, ca_id, crl, crl_len, this_update, next_update};
    return ks_store_in_write_tx(s, crl_add_tx, &a);
}

void ks_store_ek_trust_free(struct ks_store_ek_trust *t)
{
    if (!t) {
        return;
    }
    ks_store_ekca_list_free(t->cas, t->n_cas);
    for (size_t i = 0; i < t->n_crls; i++) {
        free(t->crls[i].der);
    }
    free(t->crls);
    free(t);
}

static int crl_row(struct ks_store *s, sqlite3_stmt *st, void *elem, void *arg)
{
    struct ks_store_crl *c = elem;
    (void)arg;
    c->ca_id = sqlite3_column_int64(st, 0);
    return ks_store_col_blob(s, st, 1, KS_STORE_MAX_BLOB * 16, &c->der, &c->len);
}

static void crl_clear(void *elem)
{
    free(((struct ks_store_crl *)elem)->der);
}

static int crls_read(struct ks_store *s, struct ks_store_ek_trust *t)
{
    struct ks_store_list l = KS_STORE_LIST_INIT(struct ks_store_crl);
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r =
        ks_store_estmt(s, STMT_CRL_ALL, "SELECT ca_id, crl FROM ek_ca_crls ORDER BY ca_id", &st);
    if (r < 0 || (r = ks_store_list_read(s, st, "crl list", &l, crl_row, NULL)) < 0) {
        ks_store_list_clear(&l, crl_clear);
        return r;
    }
    t->crls = l.items;
    t->n_crls = l.n;
    return KS_OK;
}

int ks_store_ek_trust_load(struct ks_store *s, struct ks_store_ek_trust **ret)
{
    if (!s || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_store_ek_trust *t = calloc(1, sizeof(*t));
    if (!t) {
        return KS_ERR_NOMEM;
    }
    int r = ks_store_begin(s, false);
    if (r == KS_OK && (r = ekca_read(s, &t->cas, &t->n_cas)) == KS_OK &&
        (r = crls_read(s, t)) == KS_OK) {
        r = ks_store_commit(s);
    }
    if (r < 0) {
        ks_store_rollback(s);
        ks_store_ek_trust_free(t);
        return r;
    }
    *ret = t;
    return KS_OK;
}
