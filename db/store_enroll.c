/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "db/store_enroll_internal.h"

/*
 * Pending enrollments (table enrollments, migration 3): POST /v1/enroll
 * records one, POST /v1/enroll/{id}/activate consumes it. Refusals decided
 * here are audited and committed in the same transaction (an activation
 * attempt consumes its enrollment whatever its outcome, like a nonce).
 */

static bool enroll_id_valid(const char *id)
{
    if (!id || strlen(id) != KS_STORE_ENROLL_ID_LEN) {
        return false;
    }
    for (size_t i = 0; i < KS_STORE_ENROLL_ID_LEN; i++) {
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'))) {
            return false;
        }
    }
    return true;
}

__attribute__((format(printf, 2, 3))) static void set_reason(struct ks_store_enroll_result *res,
                                                             const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
    va_end(ap);
}

/* {"enrollment":ID,"ek":NAME,"client":..,"ca":N} (all values are hex or
 * numbers; the client address is sanitised by keyserverd). */
static void detail_json(char *buf, size_t size, const char *id, const char *ek, const char *client,
                        int64_t ca_id)
{
    int n = snprintf(buf, size, "{\"enrollment\":\"%s\",\"ek\":\"%s\"", id, ek);
    if (client && n > 0 && (size_t)n < size) {
        bool ok = true;
        for (const char *c = client; *c; c++) {
            ok = ok && (*c == '.' || *c == ':' || *c == '-' || (*c >= '0' && *c <= '9') ||
                        (*c >= 'a' && *c <= 'f') || (*c >= 'A' && *c <= 'F'));
        }
        if (ok && strlen(client) < 64) {
            n += snprintf(buf + n, size - (size_t)n, ",\"client\":\"%s\"", client);
        }
    }
    if (n > 0 && (size_t)n < size) {
        n += snprintf(buf + n, size - (size_t)n, ",\"ca\":%lld}", (long long)ca_id);
    }
    if (n <= 0 || (size_t)n >= size) {
        snprintf(buf, size, "{}");
    }
}

static int audit(struct ks_store *s, const char *actor, const char *event, const char *ak_id,
                 enum ks_audit_outcome outcome, const char *reason, const char *detail)
{
    struct ks_audit_entry e = {
        .actor = actor,
        .event = event,
        .ak_id = ak_id,
        .outcome = outcome,
        .reason = reason && reason[0] ? reason : NULL,
        .detail = detail,
    };
    return ks_store_audit_append_tx(s, &e, NULL, NULL);
}

static int count_pending(struct ks_store *s, enum ks_enroll_stmt slot, const char *sql, int64_t now,
                         const char *ek, int64_t *ret)
{
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r = ks_store_estmt(s, slot, sql, &st);
    if (r < 0 || (r = ks_store_bind_int64(s, st, 1, now)) < 0 ||
        (ek && (r = ks_store_bind_text(s, st, 2, ek)) < 0)) {
        return r;
    }
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        return ks_store_sqlerr(s, rc, "enrollment count");
    }
    *ret = sqlite3_column_int64(st, 0);
    return KS_OK;
}

static int ak_known(struct ks_store *s, const char *ak_id, bool *ret)
{
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r = ks_store_estmt(s, STMT_ENR_AK_EXISTS, "SELECT 1 FROM aks WHERE id = ?1", &st);
    if (r < 0 || (r = ks_store_bind_text(s, st, 1, ak_id)) < 0) {
        return r;
    }
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return ks_store_sqlerr(s, rc, "ak lookup");
    }
    *ret = rc == SQLITE_ROW;
    return KS_OK;
}

struct begin_args {
    const char *actor;
    const struct ks_store_enroll_params *p;
    int64_t now;
    struct ks_store_enroll_result res;
    int refusal;
};

/* Decide whether the enrollment may be recorded: the caps, the EK's state
 * and the AK's novelty. */
static int begin_check(struct ks_store *s, struct begin_args *a)
{
    const struct ks_store_enroll_params *p = a->p;
    int64_t total = 0, per_ek = 0;
    struct ks_store_ek_state es;
    bool known = false;
    int r;
    if ((r = count_pending(s, STMT_ENR_COUNT,
                           "SELECT count(*) FROM enrollments "
                           "WHERE state = 'pending' AND expires_at >= ?1",
                           a->now, NULL, &total)) < 0 ||
        (r = count_pending(s, STMT_ENR_COUNT_EK,
                           "SELECT count(*) FROM enrollments "
                           "WHERE state = 'pending' AND expires_at >= ?1 AND ek_name = ?2",
                           a->now, p->ek_name, &per_ek)) < 0 ||
        (r = ks_store_ek_state_tx(s, p->ek_name, &es)) < 0 ||
        (r = ak_known(s, p->ak_id, &known)) < 0) {
        return r;
    }
    if (total >= (int64_t)p->max_pending) {
        set_reason(&a->res, "too many pending enrollments (%lld; at most %u)", (long long)total,
                   p->max_pending);
        a->refusal = KS_ERR_ENROLL_TOO_MANY;
    } else if (per_ek >= (int64_t)p->max_per_ek) {
        set_reason(&a->res, "too many pending enrollments for this EK (at most %u)", p->max_per_ek);
        a->refusal = KS_ERR_ENROLL_TOO_MANY;
    } else if (es.revoked) {
        set_reason(&a->res, "EK is revoked");
        a->refusal = KS_ERR_EK_REVOKED;
    } else if (p->ca_id == 0 && !es.approved) {
        /* DESIGN "Protocol": a credential is made only for an EK whose
         * certificate chains to a trusted CA or that an admin approved. */
        set_reason(&a->res, es.found ? "EK has no trusted certificate and is not approved"
                                     : "EK has no trusted certificate and is unknown; an "
                                       "admin must add and approve it");
        a->refusal = KS_ERR_EK_NOT_APPROVED;
    } else if (known) {
        set_reason(&a->res, "AK is already registered");
        a->refusal = KS_ERR_ENROLL_REFUSED;
    }
    return KS_OK;
}

static int begin_tx(struct ks_store *s, void *arg)
{
    struct begin_args *a = arg;
    const struct ks_store_enroll_params *p = a->p;
    char detail[KS_STORE_TPM_NAME_HEX_MAX + 160];
    int r;
    {
        STMT_AUTO sqlite3_stmt *st = NULL;
        r = ks_store_estmt(s, STMT_ENR_CLEANUP, "DELETE FROM enrollments WHERE expires_at < ?1",
                           &st);
        if (r < 0 || (r = ks_store_bind_int64(s, st, 1, a->now - KS_STORE_ENROLL_RETAIN_S)) < 0 ||
            (r = ks_store_step_done(s, st, "enrollment cleanup")) < 0) {
            return r;
        }
    }
    if ((r = begin_check(s, a)) < 0) {
        return r;
    }
    detail_json(detail, sizeof(detail), p->id, p->ek_name, p->client, p->ca_id);
    if (a->refusal != KS_OK) {
        return audit(s, a->actor, "enroll", p->ak_id, KS_AUDIT_REFUSED, a->res.reason, detail);
    }
    STMT_AUTO sqlite3_stmt *st = NULL;
    r = ks_store_estmt(s, STMT_ENR_INSERT,
                       "INSERT INTO enrollments (id, ek_name, ek_public, ek_cert, ca_id, had_ca, "
                       "ak_id, ak_public, secret_hash, client, created_at, expires_at, state) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 'pending')",
                       &st);
    if (r < 0 || (r = ks_store_bind_text(s, st, 1, p->id)) < 0 ||
        (r = ks_store_bind_text(s, st, 2, p->ek_name)) < 0 ||
        (r = ks_store_bind_blob(s, st, 3, p->ek_pub, p->ek_pub_len)) < 0 ||
        (r = ks_store_bind_blob(s, st, 4, p->ek_cert, p->ek_cert_len)) < 0 ||
        (r = p->ca_id ? ks_store_bind_int64(s, st, 5, p->ca_id)
                      : ks_store_bind_text(s, st, 5, NULL)) < 0 ||
        (r = ks_store_bind_int64(s, st, 6, p->ca_id ? 1 : 0)) < 0 ||
        (r = ks_store_bind_text(s, st, 7, p->ak_id)) < 0 ||
        (r = ks_store_bind_blob(s, st, 8, p->ak_pub, p->ak_pub_len)) < 0 ||
        (r = ks_store_bind_blob(s, st, 9, p->secret_hash, sizeof(p->secret_hash))) < 0 ||
        (r = ks_store_bind_text(s, st, 10, p->client)) < 0 ||
        (r = ks_store_bind_int64(s, st, 11, a->now)) < 0 ||
        (r = ks_store_bind_int64(s, st, 12, a->now + (int64_t)p->lifetime_s)) < 0 ||
        (r = ks_store_step_done(s, st, "enrollment insert")) < 0) {
        return r;
    }
    return audit(s, a->actor, "enroll", p->ak_id, KS_AUDIT_OK, NULL, detail);
}

int ks_store_enroll_begin(struct ks_store *s, const char *actor,
                          const struct ks_store_enroll_params *p,
                          struct ks_store_enroll_result *ret)
{
    if (!s || !ks_store_actor_valid(actor) || !p || !enroll_id_valid(p->id) ||
        !ks_store_tpm_name_valid(p->ek_name) || !ks_store_tpm_name_valid(p->ak_id) || !p->ek_pub ||
        p->ek_pub_len == 0 || !p->ak_pub || p->ak_pub_len == 0 || (p->ek_cert && !p->ek_cert_len) ||
        (!p->ek_cert && p->ca_id) || p->ca_id < 0 || p->lifetime_s == 0) {
        return KS_ERR_INVALID_ARG;
    }
    if (p->ek_pub_len > KS_STORE_MAX_BLOB || p->ak_pub_len > KS_STORE_MAX_BLOB ||
        p->ek_cert_len > KS_STORE_MAX_BLOB) {
        return KS_ERR_TOO_LARGE;
    }
    struct begin_args a;
    memset(&a, 0, sizeof(a));
    a.actor = actor;
    a.p = p;
    a.now = p->now ? p->now : ks_store_now();
    snprintf(a.res.ak_id, sizeof(a.res.ak_id), "%s", p->ak_id);
    snprintf(a.res.ek_name, sizeof(a.res.ek_name), "%s", p->ek_name);
    int r = ks_store_in_write_tx(s, begin_tx, &a);
    if (r == KS_OK) {
        r = a.refusal;
    }
    if (ret) {
        *ret = a.res;
    }
    return r;
}

/* ---- activation ---------------------------------------------------------- */

struct pending {
    char ek_name[KS_STORE_TPM_NAME_HEX_MAX + 1];
    char ak_id[KS_STORE_TPM_NAME_HEX_MAX + 1];
    uint8_t *ek_pub, *ek_cert, *ak_pub;
    size_t ek_pub_len, ek_cert_len, ak_pub_len;
    uint8_t secret_hash[32];
    int64_t ca_id, expires_at;
    bool had_ca, used;
};

static void pending_clear(struct pending *p)
{
    free(p->ek_pub);
    free(p->ek_cert);
    free(p->ak_pub);
    memset(p, 0, sizeof(*p));
}

struct activate_args {
    const char *actor, *id, *client;
    const uint8_t *secret;
    size_t secret_len;
    int64_t now;
    struct ks_store_enroll_result res;
    int refusal;
    bool found;
    struct pending pe;
};

static int pending_read(struct ks_store *s, struct activate_args *a)
{
    struct pending *pe = &a->pe;
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r = ks_store_estmt(s, STMT_ENR_GET,
                           "SELECT ek_name, ek_public, ek_cert, ifnull(ca_id, 0), had_ca, ak_id, "
                           "ak_public, secret_hash, expires_at, state FROM enrollments "
                           "WHERE id = ?1",
                           &st);
    if (r < 0 || (r = ks_store_bind_text(s, st, 1, a->id)) < 0) {
        return r;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        return KS_OK;
    }
    if (rc != SQLITE_ROW) {
        return ks_store_sqlerr(s, rc, "enrollment get");
    }
    const char *state = (const char *)sqlite3_column_text(st, 9);
    if (sqlite3_column_bytes(st, 7) != (int)sizeof(pe->secret_hash) || !state) {
        return ks_store_fail(s, KS_ERR_DB_CORRUPT, "enrollment %s malformed", a->id);
    }
    if ((r = ks_store_col_text(s, st, 0, pe->ek_name, sizeof(pe->ek_name))) < 0 ||
        (r = ks_store_col_blob(s, st, 1, KS_STORE_MAX_BLOB, &pe->ek_pub, &pe->ek_pub_len)) < 0 ||
        (sqlite3_column_type(st, 2) != SQLITE_NULL &&
         (r = ks_store_col_blob(s, st, 2, KS_STORE_MAX_BLOB, &pe->ek_cert, &pe->ek_cert_len)) <
             0) ||
        (r = ks_store_col_text(s, st, 5, pe->ak_id, sizeof(pe->ak_id))) < 0 ||
        (r = ks_store_col_blob(s, st, 6, KS_STORE_MAX_BLOB, &pe->ak_pub, &pe->ak_pub_len)) < 0) {
        return r;
    }
    pe->ca_id = sqlite3_column_int64(st, 3);
    pe->had_ca = sqlite3_column_int(st, 4) == 1;
    memcpy(pe->secret_hash, sqlite3_column_blob(st, 7), sizeof(pe->secret_hash));
    pe->expires_at = sqlite3_column_int64(st, 8);
    pe->used = strcmp(state, "used") == 0;
    a->found = true;
    return KS_OK;
}

static int mark_used(struct ks_store *s, struct activate_args *a)
{
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r = ks_store_estmt(
        s, STMT_ENR_USE, "UPDATE enrollments SET state = 'used', used_at = ?1 WHERE id = ?2", &st);
    if (r < 0 || (r = ks_store_bind_int64(s, st, 1, a->now)) < 0 ||
        (r = ks_store_bind_text(s, st, 2, a->id)) < 0) {
        return r;
    }
    return ks_store_step_done(s, st, "enrollment use");
}

/* Is the CA there, and does it auto-approve? */
static int ca_state(struct ks_store *s, int64_t id, bool *ret_exists, bool *ret_auto)
{
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r =
        ks_store_estmt(s, STMT_ENR_CA_AUTO, "SELECT auto_approve FROM ek_cas WHERE id = ?1", &st);
    if (r < 0 || (r = ks_store_bind_int64(s, st, 1, id)) < 0) {
        return r;
    }
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return ks_store_sqlerr(s, rc, "ekca lookup");
    }
    *ret_exists = rc == SQLITE_ROW;
    *ret_auto = rc == SQLITE_ROW && sqlite3_column_int(st, 0) == 1;
    return KS_OK;
}

/* Record the EK that activation proved (or approve a known, undecided one
 * when its CA auto-approves) and the AK. */
static int activate_record(struct ks_store *s, struct activate_args *a, bool ca_auto)
{
    const struct pending *pe = &a->pe;
    struct ks_store_ek_state es;
    char approver[32];
    int r = ks_store_ek_state_tx(s, pe->ek_name, &es);
    if (r < 0) {
        return r;
    }
    snprintf(approver, sizeof(approver), "ekca:%lld", (long long)pe->ca_id);
    if (!es.found) {
        STMT_AUTO sqlite3_stmt *st = NULL;
        r = ks_store_estmt(s, STMT_ENR_EK_INSERT,
                           "INSERT INTO eks (name, public, cert, approved, approved_by, "
                           "approved_at, approved_via, approved_ca_id, ca_id, added_by, added_at) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                           &st);
        if (r < 0 || (r = ks_store_bind_text(s, st, 1, pe->ek_name)) < 0 ||
            (r = ks_store_bind_blob(s, st, 2, pe->ek_pub, pe->ek_pub_len)) < 0 ||
            (r = ks_store_bind_blob(s, st, 3, pe->ek_cert, pe->ek_cert_len)) < 0 ||
            (r = ks_store_bind_int64(s, st, 4, ca_auto ? 1 : 0)) < 0 ||
            (r = ks_store_bind_text(s, st, 5, ca_auto ? approver : NULL)) < 0 ||
            (r = ca_auto ? ks_store_bind_int64(s, st, 6, a->now)
                         : ks_store_bind_text(s, st, 6, NULL)) < 0 ||
            (r = ks_store_bind_text(s, st, 7, ca_auto ? "ca" : NULL)) < 0 ||
            (r = ca_auto ? ks_store_bind_int64(s, st, 8, pe->ca_id)
                         : ks_store_bind_text(s, st, 8, NULL)) < 0 ||
            (r = pe->ca_id ? ks_store_bind_int64(s, st, 9, pe->ca_id)
                           : ks_store_bind_text(s, st, 9, NULL)) < 0 ||
            (r = ks_store_bind_text(s, st, 10, a->actor)) < 0 ||
            (r = ks_store_bind_int64(s, st, 11, a->now)) < 0 ||
            (r = ks_store_step_done(s, st, "ek insert")) < 0) {
            return r;
        }
        a->res.ek_approved = ca_auto;
    } else if (ca_auto && !es.approved && !es.decided) {
        /* Known (e.g. from `ksctl ak add --ek-pub`), never decided on by an
         * admin: its CA's auto-approval applies. */
        STMT_AUTO sqlite3_stmt *st = NULL;
        r = ks_store_estmt(s, STMT_ENR_EK_APPROVE,
                           "UPDATE eks SET approved = 1, approved_by = ?1, approved_at = ?2, "
                           "approved_via = 'ca', approved_ca_id = ?3, ca_id = ?3, "
                           "cert = ifnull(cert, ?4) WHERE name = ?5 AND revoked = 0",
                           &st);
        if (r < 0 || (r = ks_store_bind_text(s, st, 1, approver)) < 0 ||
            (r = ks_store_bind_int64(s, st, 2, a->now)) < 0 ||
            (r = ks_store_bind_int64(s, st, 3, pe->ca_id)) < 0 ||
            (r = ks_store_bind_blob(s, st, 4, pe->ek_cert, pe->ek_cert_len)) < 0 ||
            (r = ks_store_bind_text(s, st, 5, pe->ek_name)) < 0 ||
            (r = ks_store_step_done(s, st, "ek approve")) < 0) {
            return r;
        }
        a->res.ek_approved = true;
    } else {
        a->res.ek_approved = es.approved;
    }
    STMT_AUTO sqlite3_stmt *st = NULL;
    r = ks_store_estmt(s, STMT_ENR_AK_INSERT,
                       "INSERT INTO aks (id, public, ek_name, state, enrollment_id, created_at) "
                       "VALUES (?1, ?2, ?3, 'active', ?4, ?5)",
                       &st);
    if (r < 0 || (r = ks_store_bind_text(s, st, 1, pe->ak_id)) < 0 ||
        (r = ks_store_bind_blob(s, st, 2, pe->ak_pub, pe->ak_pub_len)) < 0 ||
        (r = ks_store_bind_text(s, st, 3, pe->ek_name)) < 0 ||
        (r = ks_store_bind_text(s, st, 4, a->id)) < 0 ||
        (r = ks_store_bind_int64(s, st, 5, a->now)) < 0) {
        return r;
    }
    return ks_store_step_done(s, st, "ak insert");
}

/* Every refusal decided before anything is recorded. */
static int activate_check(struct ks_store *s, struct activate_args *a, bool *ret_ca_auto)
{
    struct pending *pe = &a->pe;
    uint8_t hash[32];
    unsigned int hlen = 0;
    struct ks_store_ek_state es;
    bool ca_exists = false, known = false;
    int r;
    if (pe->used) {
        set_reason(&a->res, "enrollment already used");
        a->refusal = KS_ERR_ENROLL_USED;
        return KS_OK;
    }
    if ((r = mark_used(s, a)) < 0) {
        return r;
    }
    if (a->now > pe->expires_at) {
        set_reason(&a->res, "enrollment expired %lld s ago", (long long)(a->now - pe->expires_at));
        a->refusal = KS_ERR_ENROLL_EXPIRED;
        return KS_OK;
    }
    if (EVP_Digest(a->secret, a->secret_len, hash, &hlen, EVP_sha256(), NULL) != 1) {
        return KS_ERR_CRYPTO;
    }
    if (CRYPTO_memcmp(hash, pe->secret_hash, sizeof(hash)) != 0) {
        set_reason(&a->res, "activation secret does not match the credential");
        a->refusal = KS_ERR_ENROLL_SECRET;
        return KS_OK;
    }
    if ((r = ks_store_ek_state_tx(s, pe->ek_name, &es)) < 0 ||
        (pe->ca_id && (r = ca_state(s, pe->ca_id, &ca_exists, ret_ca_auto)) < 0) ||
        (r = ak_known(s, pe->ak_id, &known)) < 0) {
        return r;
    }
    if (es.revoked) {
        set_reason(&a->res, "EK was revoked");
        a->refusal = KS_ERR_EK_REVOKED;
    } else if (pe->had_ca && !ca_exists && !es.approved) {
        set_reason(&a->res, "the EK CA that certified the EK was removed");
        a->refusal = KS_ERR_ENROLL_REFUSED;
    } else if (!pe->had_ca && !es.approved) {
        set_reason(&a->res, "EK is no longer approved");
        a->refusal = KS_ERR_EK_NOT_APPROVED;
    } else if (known) {
        set_reason(&a->res, "AK is already registered");
        a->refusal = KS_ERR_ENROLL_REFUSED;
    }
    return KS_OK;
}

static int activate_tx(struct ks_store *s, void *arg)
{
    struct activate_args *a = arg;
    char detail[KS_STORE_TPM_NAME_HEX_MAX + 192];
    bool ca_auto = false;
    int r = pending_read(s, a);
    if (r < 0) {
        return r;
    }
    if (!a->found) {
        set_reason(&a->res, "unknown enrollment id");
        a->refusal = KS_ERR_ENROLL_UNKNOWN;
        detail_json(detail, sizeof(detail), a->id, "", a->client, 0);
        return audit(s, a->actor, "enroll.activate", NULL, KS_AUDIT_REFUSED, a->res.reason, detail);
    }
    snprintf(a->res.ak_id, sizeof(a->res.ak_id), "%s", a->pe.ak_id);
    snprintf(a->res.ek_name, sizeof(a->res.ek_name), "%s", a->pe.ek_name);
    if ((r = activate_check(s, a, &ca_auto)) < 0) {
        return r;
    }
    if (a->refusal == KS_OK && (r = activate_record(s, a, ca_auto)) < 0) {
        return r;
    }
    detail_json(detail, sizeof(detail), a->id, a->pe.ek_name, a->client, a->pe.ca_id);
    /* The EK's approval, for the reader of the trail. */
    size_t n = strlen(detail);
    if (a->refusal == KS_OK && n > 1 && n + 24 < sizeof(detail)) {
        snprintf(detail + n - 1, sizeof(detail) - n + 1, ",\"ek_approved\":%s}",
                 a->res.ek_approved ? "true" : "false");
    }
    return audit(s, a->actor, "enroll.activate", a->pe.ak_id,
                 a->refusal == KS_OK ? KS_AUDIT_OK : KS_AUDIT_REFUSED, a->res.reason, detail);
}

int ks_store_enroll_activate(struct ks_store *s, const char *actor, const char *id,
                             const uint8_t *secret, size_t secret_len, const char *client,
                             int64_t now, struct ks_store_enroll_result *ret)
{
    if (!s || !ks_store_actor_valid(actor) || !enroll_id_valid(id) || !secret || secret_len == 0 ||
        secret_len > KS_STORE_ENROLL_SECRET_MAX || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    struct activate_args a;
    memset(&a, 0, sizeof(a));
    a.actor = actor;
    a.id = id;
    a.client = client;
    a.secret = secret;
    a.secret_len = secret_len;
    a.now = now ? now : ks_store_now();
    int r = ks_store_in_write_tx(s, activate_tx, &a);
    if (r == KS_OK) {
        r = a.refusal;
    }
    *ret = a.res;
    pending_clear(&a.pe);
    return r;
}
