/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/store_enroll_internal.h"
#include "db/store_list.h"

/* EKs as admins see and manage them (enrollment, migration 3): list, show,
 * approve, revoke, remove. Whether an AK may be used is decided from the
 * EK's row by the release snapshot, so every change here takes effect on
 * the next request. */

#define EK_COLUMNS                                                                                 \
    "e.name, e.approved, e.revoked, e.cert IS NOT NULL, ifnull(e.approved_via, ''), "              \
    "ifnull(e.approved_by, ''), ifnull(e.approved_at, 0), ifnull(e.approved_ca_id, 0), "           \
    "ifnull(e.ca_id, 0), e.added_by, e.added_at, ifnull(e.revoked_by, ''), "                       \
    "ifnull(e.revoked_at, 0), ifnull(e.revoke_reason, ''), "                                       \
    "(SELECT count(*) FROM aks a WHERE a.ek_name = e.name), "                                      \
    "(SELECT count(*) FROM aks a WHERE a.ek_name = e.name AND a.state = 'active')"

static int ek_row(struct ks_store *s, sqlite3_stmt *st, struct ks_store_ek_info *e)
{
    int r;
    memset(e, 0, sizeof(*e));
    if ((r = ks_store_col_text(s, st, 0, e->name, sizeof(e->name))) < 0 ||
        (r = ks_store_col_text(s, st, 4, e->approved_via, sizeof(e->approved_via))) < 0 ||
        (r = ks_store_col_text(s, st, 5, e->approved_by, sizeof(e->approved_by))) < 0 ||
        (r = ks_store_col_text(s, st, 9, e->added_by, sizeof(e->added_by))) < 0 ||
        (r = ks_store_col_text(s, st, 11, e->revoked_by, sizeof(e->revoked_by))) < 0 ||
        (r = ks_store_col_text(s, st, 13, e->revoke_reason, sizeof(e->revoke_reason))) < 0) {
        return r;
    }
    e->approved = sqlite3_column_int(st, 1) == 1;
    e->revoked = sqlite3_column_int(st, 2) == 1;
    e->has_cert = sqlite3_column_int(st, 3) == 1;
    e->approved_at = sqlite3_column_int64(st, 6);
    e->approved_ca_id = sqlite3_column_int64(st, 7);
    e->ca_id = sqlite3_column_int64(st, 8);
    e->added_at = sqlite3_column_int64(st, 10);
    e->revoked_at = sqlite3_column_int64(st, 12);
    e->n_aks = (uint32_t)sqlite3_column_int64(st, 14);
    e->n_active_aks = (uint32_t)sqlite3_column_int64(st, 15);
    return KS_OK;
}

static int ek_list_row(struct ks_store *s, sqlite3_stmt *st, void *elem, void *arg)
{
    (void)arg;
    return ek_row(s, st, elem);
}

int ks_store_ek_list(struct ks_store *s, struct ks_store_ek_info **ret, size_t *ret_n)
{
    if (!s || !ret || !ret_n) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_store_list l = KS_STORE_LIST_INIT(struct ks_store_ek_info);
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r =
        ks_store_estmt(s, STMT_EKX_LIST, "SELECT " EK_COLUMNS " FROM eks e ORDER BY e.name", &st);
    if (r < 0 || (r = ks_store_list_read(s, st, "ek list", &l, ek_list_row, NULL)) < 0) {
        ks_store_list_clear(&l, NULL);
        return r;
    }
    *ret = l.items;
    *ret_n = l.n;
    return KS_OK;
}

int ks_store_ek_get(struct ks_store *s, const char *ek_name, struct ks_store_ek_info *ret,
                    uint8_t **ret_pub, size_t *ret_pub_len, uint8_t **ret_cert,
                    size_t *ret_cert_len)
{
    struct ks_store_ek_info info;
    uint8_t *pub = NULL, *cert = NULL;
    size_t pub_len = 0, cert_len = 0;
    if (!s || !ks_store_tpm_name_valid(ek_name) || !ret || (ret_pub && !ret_pub_len) ||
        (ret_cert && !ret_cert_len)) {
        return KS_ERR_INVALID_ARG;
    }
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r =
        ks_store_estmt(s, STMT_EKX_GET,
                       "SELECT " EK_COLUMNS ", e.public, e.cert FROM eks e WHERE e.name = ?1", &st);
    if (r < 0 || (r = ks_store_bind_text(s, st, 1, ek_name)) < 0) {
        return r;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        return ks_store_fail(s, KS_ERR_STORE_UNKNOWN_EK, "unknown EK %s", ek_name);
    }
    if (rc != SQLITE_ROW) {
        return ks_store_sqlerr(s, rc, "ek get");
    }
    if ((r = ek_row(s, st, &info)) < 0 ||
        (ret_pub && (r = ks_store_col_blob(s, st, 16, KS_STORE_MAX_BLOB, &pub, &pub_len)) < 0) ||
        (ret_cert && sqlite3_column_type(st, 17) != SQLITE_NULL &&
         (r = ks_store_col_blob(s, st, 17, KS_STORE_MAX_BLOB, &cert, &cert_len)) < 0)) {
        free(pub);
        return r;
    }
    *ret = info;
    if (ret_pub) {
        *ret_pub = pub;
        *ret_pub_len = pub_len;
    }
    if (ret_cert) {
        *ret_cert = cert;
        *ret_cert_len = cert_len;
    }
    return KS_OK;
}

int ks_store_ek_state_tx(struct ks_store *s, const char *ek_name, struct ks_store_ek_state *ret)
{
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r = ks_store_estmt(s, STMT_EKX_STATE,
                           "SELECT approved, revoked, approved_at IS NOT NULL, cert IS NOT NULL "
                           "FROM eks WHERE name = ?1",
                           &st);
    if (r < 0 || (r = ks_store_bind_text(s, st, 1, ek_name)) < 0) {
        return r;
    }
    memset(ret, 0, sizeof(*ret));
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        return KS_OK;
    }
    if (rc != SQLITE_ROW) {
        return ks_store_sqlerr(s, rc, "ek state");
    }
    ret->found = true;
    ret->approved = sqlite3_column_int(st, 0) == 1;
    ret->revoked = sqlite3_column_int(st, 1) == 1;
    ret->decided = sqlite3_column_int(st, 2) == 1;
    ret->has_cert = sqlite3_column_int(st, 3) == 1;
    return KS_OK;
}

/* The EK must exist; a revoked one only for `allow_revoked`. */
static int ek_require(struct ks_store *s, const char *name, const char *what)
{
    struct ks_store_ek_state es;
    int r = ks_store_ek_state_tx(s, name, &es);
    if (r < 0) {
        return r;
    }
    if (!es.found) {
        return ks_store_fail(s, KS_ERR_STORE_UNKNOWN_EK, "unknown EK %s", name);
    }
    if (es.revoked) {
        return ks_store_fail(s, KS_ERR_STORE_STATE, "EK %s is revoked: %s refused", name, what);
    }
    return KS_OK;
}

struct ek_args {
    const char *actor, *name, *reason;
    bool approved;
    size_t count;
};

static int ek_detail(char *buf, size_t size, const char *name)
{
    return snprintf(buf, size, "{\"ek\":\"%s\"}", name) < (int)size ? KS_OK : KS_ERR_INTERNAL;
}

static int set_approval_tx(struct ks_store *s, void *arg)
{
    const struct ek_args *a = arg;
    char detail[KS_STORE_TPM_NAME_HEX_MAX + 16];
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r = ek_require(s, a->name, a->approved ? "approval" : "withdrawal");
    if (r < 0 ||
        (r = ks_store_estmt(s, STMT_EKX_SET_APPROVAL,
                            "UPDATE eks SET approved = ?1, approved_by = ?2, approved_at = ?3, "
                            "approved_via = CASE WHEN ?1 = 1 THEN 'admin' END, "
                            "approved_ca_id = NULL WHERE name = ?4",
                            &st)) < 0 ||
        (r = ks_store_bind_int64(s, st, 1, a->approved ? 1 : 0)) < 0 ||
        (r = ks_store_bind_text(s, st, 2, a->actor)) < 0 ||
        (r = ks_store_bind_int64(s, st, 3, ks_store_now())) < 0 ||
        (r = ks_store_bind_text(s, st, 4, a->name)) < 0 ||
        (r = ks_store_step_done(s, st, "ek approval")) < 0 ||
        (r = ek_detail(detail, sizeof(detail), a->name)) < 0) {
        return r;
    }
    return ks_store_audit_admin(s, a->actor, a->approved ? "ek.approve" : "ek.unapprove", NULL,
                                NULL, NULL, detail);
}

int ks_store_ek_set_approval(struct ks_store *s, const char *actor, const char *ek_name,
                             bool approved)
{
    if (!s || !ks_store_actor_valid(actor) || !ks_store_tpm_name_valid(ek_name)) {
        return KS_ERR_INVALID_ARG;
    }
    struct ek_args a = {actor, ek_name, NULL, approved, 0};
    return ks_store_in_write_tx(s, set_approval_tx, &a);
}

static int delete_enrollments(struct ks_store *s, const char *name)
{
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r = ks_store_estmt(s, STMT_ENR_DELETE_EK,
                           "DELETE FROM enrollments WHERE ek_name = ?1 AND state = 'pending'", &st);
    if (r < 0 || (r = ks_store_bind_text(s, st, 1, name)) < 0) {
        return r;
    }
    return ks_store_step_done(s, st, "ek enrollments");
}

static int revoke_tx(struct ks_store *s, void *arg)
{
    const struct ek_args *a = arg;
    char detail[KS_STORE_TPM_NAME_HEX_MAX + 16];
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r = ek_require(s, a->name, "revocation");
    if (r < 0 ||
        (r = ks_store_estmt(s, STMT_EKX_REVOKE,
                            "UPDATE eks SET approved = 0, revoked = 1, revoked_by = ?1, "
                            "revoked_at = ?2, revoke_reason = ?3 WHERE name = ?4",
                            &st)) < 0 ||
        (r = ks_store_bind_text(s, st, 1, a->actor)) < 0 ||
        (r = ks_store_bind_int64(s, st, 2, ks_store_now())) < 0 ||
        (r = ks_store_bind_text(s, st, 3, a->reason)) < 0 ||
        (r = ks_store_bind_text(s, st, 4, a->name)) < 0 ||
        (r = ks_store_step_done(s, st, "ek revoke")) < 0 ||
        (r = delete_enrollments(s, a->name)) < 0 ||
        (r = ek_detail(detail, sizeof(detail), a->name)) < 0) {
        return r;
    }
    return ks_store_audit_admin(s, a->actor, "ek.revoke", NULL, NULL, a->reason, detail);
}

int ks_store_ek_revoke(struct ks_store *s, const char *actor, const char *ek_name,
                       const char *reason)
{
    if (!s || !ks_store_actor_valid(actor) || !ks_store_tpm_name_valid(ek_name)) {
        return KS_ERR_INVALID_ARG;
    }
    if (reason && strlen(reason) >= sizeof(((struct ks_store_ek_info *)0)->revoke_reason)) {
        return KS_ERR_TOO_LARGE;
    }
    struct ek_args a = {actor, ek_name, reason, false, 0};
    return ks_store_in_write_tx(s, revoke_tx, &a);
}

static int remove_tx(struct ks_store *s, void *arg)
{
    struct ek_args *a = arg;
    char detail[KS_STORE_TPM_NAME_HEX_MAX + 48];
    int r = ek_require(s, a->name, "removal");
    if (r < 0) {
        return r;
    }
    {
        /* Its AKs are revoked and unbound (aks.ek_name references eks). */
        STMT_AUTO sqlite3_stmt *st = NULL;
        r = ks_store_estmt(s, STMT_EKX_REVOKE_AKS,
                           "UPDATE aks SET state = 'revoked', ek_name = NULL, "
                           "revoked_by = CASE WHEN state = 'revoked' THEN revoked_by ELSE ?1 END, "
                           "revoked_at = CASE WHEN state = 'revoked' THEN revoked_at ELSE ?2 END "
                           "WHERE ek_name = ?3",
                           &st);
        if (r < 0 || (r = ks_store_bind_text(s, st, 1, a->actor)) < 0 ||
            (r = ks_store_bind_int64(s, st, 2, ks_store_now())) < 0 ||
            (r = ks_store_bind_text(s, st, 3, a->name)) < 0 ||
            (r = ks_store_step_done(s, st, "ek remove: aks")) < 0) {
            return r;
        }
        a->count = (size_t)sqlite3_changes(s->db);
    }
    STMT_AUTO sqlite3_stmt *st = NULL;
    if ((r = delete_enrollments(s, a->name)) < 0 ||
        (r = ks_store_estmt(s, STMT_EKX_DELETE, "DELETE FROM eks WHERE name = ?1", &st)) < 0 ||
        (r = ks_store_bind_text(s, st, 1, a->name)) < 0 ||
        (r = ks_store_step_done(s, st, "ek remove")) < 0) {
        return r;
    }
    snprintf(detail, sizeof(detail), "{\"ek\":\"%s\",\"revoked_aks\":%zu}", a->name, a->count);
    return ks_store_audit_admin(s, a->actor, "ek.remove", NULL, NULL, NULL, detail);
}

int ks_store_ek_remove(struct ks_store *s, const char *actor, const char *ek_name,
                       size_t *ret_revoked_aks)
{
    if (!s || !ks_store_actor_valid(actor) || !ks_store_tpm_name_valid(ek_name)) {
        return KS_ERR_INVALID_ARG;
    }
    struct ek_args a = {actor, ek_name, NULL, false, 0};
    int r = ks_store_in_write_tx(s, remove_tx, &a);
    if (r == KS_OK && ret_revoked_aks) {
        *ret_revoked_aks = a.count;
    }
    return r;
}
