/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* SQLite plumbing shared by the store files: error mapping, the statement
 * cache, bind/column helpers, transactions, and argument validation. */

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/store_internal.h"

void ks_store_clear_error(struct ks_store *s)
{
    s->errmsg[0] = '\0';
}

int ks_store_fail(struct ks_store *s, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->errmsg, sizeof(s->errmsg), fmt, ap);
    va_end(ap);
    return err;
}

int ks_store_sqlerr(struct ks_store *s, int rc, const char *what)
{
    const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return ks_store_fail(s, KS_ERR_DB_BUSY,
                             "%s: %s (another connection holds the write lock; gave up "
                             "after the busy timeout of %d ms)",
                             what, msg, s->busy_ms);
    case SQLITE_CONSTRAINT:
        ks_store_fail(s, 0, "%s: %s", what, msg);
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
            return KS_ERR_STORE_EXISTS;
        }
        return KS_ERR_DB_CONSTRAINT;
    case SQLITE_NOMEM:
        return ks_store_fail(s, KS_ERR_NOMEM, "%s: %s", what, msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return ks_store_fail(s, KS_ERR_DB_CORRUPT, "%s: %s", what, msg);
    case SQLITE_CANTOPEN:
        return ks_store_fail(s, KS_ERR_DB_OPEN, "%s: %s", what, msg);
    default:
        return ks_store_fail(s, KS_ERR_DB, "%s: %s", what, msg);
    }
}

const char *ks_store_errmsg(const struct ks_store *s)
{
    return s ? s->errmsg : "";
}

void ks_store_stmt_release(sqlite3_stmt **st)
{
    if (*st) {
        sqlite3_reset(*st);
        sqlite3_clear_bindings(*st);
    }
}

int ks_store_stmt(struct ks_store *s, enum ks_stmt id, const char *sql, sqlite3_stmt **ret)
{
    if (!s->stmt[id]) {
        int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[id], NULL);
        if (rc != SQLITE_OK) {
            s->stmt[id] = NULL;
            return ks_store_sqlerr(s, rc, "prepare");
        }
    } else {
        sqlite3_reset(s->stmt[id]);
        sqlite3_clear_bindings(s->stmt[id]);
    }
    *ret = s->stmt[id];
    return KS_OK;
}

int ks_store_step_done(struct ks_store *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        return ks_store_sqlerr(s, rc, what);
    }
    return KS_OK;
}

int ks_store_bind_text(struct ks_store *s, sqlite3_stmt *st, int i, const char *v)
{
    int rc = v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
    return rc == SQLITE_OK ? KS_OK : ks_store_sqlerr(s, rc, "bind");
}

int ks_store_bind_blob(struct ks_store *s, sqlite3_stmt *st, int i, const void *v, size_t len)
{
    if (len > INT_MAX) {
        return KS_ERR_TOO_LARGE;
    }
    int rc = v ? sqlite3_bind_blob(st, i, v, (int)len, SQLITE_STATIC) : sqlite3_bind_null(st, i);
    return rc == SQLITE_OK ? KS_OK : ks_store_sqlerr(s, rc, "bind");
}

int ks_store_bind_int64(struct ks_store *s, sqlite3_stmt *st, int i, int64_t v)
{
    int rc = sqlite3_bind_int64(st, i, v);
    return rc == SQLITE_OK ? KS_OK : ks_store_sqlerr(s, rc, "bind");
}

int ks_store_col_text(struct ks_store *s, sqlite3_stmt *st, int col, char *buf, size_t size)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    if (!t) {
        n = 0;
    }
    if (n >= size) {
        return ks_store_fail(s, KS_ERR_DB_CORRUPT, "text column %d too long (%zu bytes)", col, n);
    }
    if (n > 0) {
        memcpy(buf, t, n);
    }
    buf[n] = '\0';
    return KS_OK;
}

int ks_store_col_blob(struct ks_store *s, sqlite3_stmt *st, int col, size_t max, uint8_t **ret,
                      size_t *ret_len)
{
    const void *b = sqlite3_column_blob(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    if (!b) {
        n = 0;
    }
    if (n > max) {
        return ks_store_fail(s, KS_ERR_DB_CORRUPT, "blob column %d too long (%zu bytes)", col, n);
    }
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        return KS_ERR_NOMEM;
    }
    if (n > 0) {
        memcpy(buf, b, n);
    }
    *ret = buf;
    *ret_len = n;
    return KS_OK;
}

int ks_store_exec_cached(struct ks_store *s, enum ks_stmt id, const char *sql, const char *what)
{
    sqlite3_stmt *st = NULL;
    int r = ks_store_stmt(s, id, sql, &st);
    if (r == KS_OK) {
        r = ks_store_step_done(s, st, what);
        sqlite3_reset(st);
    }
    return r;
}

int ks_store_begin(struct ks_store *s, bool write)
{
    if (s->in_tx) {
        return ks_store_fail(s, KS_ERR_INTERNAL, "nested transaction");
    }
    int r = write ? ks_store_exec_cached(s, STMT_BEGIN_WRITE, "BEGIN IMMEDIATE", "begin immediate")
                  : ks_store_exec_cached(s, STMT_BEGIN_READ, "BEGIN", "begin");
    if (r == KS_OK) {
        s->in_tx = true;
    }
    return r;
}

int ks_store_commit(struct ks_store *s)
{
    int r = ks_store_exec_cached(s, STMT_COMMIT, "COMMIT", "commit");
    if (r < 0) {
        ks_store_rollback(s);
        return r;
    }
    s->in_tx = false;
    return KS_OK;
}

void ks_store_rollback(struct ks_store *s)
{
    if (!s->in_tx) {
        return;
    }
    s->in_tx = false;
    /* SQLite may already have rolled back by itself (e.g. SQLITE_FULL). */
    if (sqlite3_get_autocommit(s->db)) {
        return;
    }
    sqlite3_stmt *st = NULL;
    if (ks_store_stmt(s, STMT_ROLLBACK, "ROLLBACK", &st) == KS_OK) {
        (void)sqlite3_step(st);
        sqlite3_reset(st);
    }
}

int ks_store_in_write_tx(struct ks_store *s, int (*fn)(struct ks_store *, void *), void *arg)
{
    int r = ks_store_begin(s, true);
    if (r < 0) {
        return r;
    }
    if ((r = fn(s, arg)) < 0 || (r = ks_store_commit(s)) < 0) {
        ks_store_rollback(s);
    }
    return r;
}

bool ks_store_name_valid(const char *name)
{
    if (!name) {
        return false;
    }
    size_t n = strlen(name);
    if (n < 1 || n > KS_STORE_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

bool ks_store_tpm_name_valid(const char *hex)
{
    if (!hex) {
        return false;
    }
    size_t n = strlen(hex);
    if (n < 4 || n > KS_STORE_TPM_NAME_HEX_MAX || n % 2 != 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = hex[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

bool ks_store_actor_valid(const char *actor)
{
    if (!actor) {
        return false;
    }
    size_t n = strlen(actor);
    if (n < 1 || n > KS_STORE_ACTOR_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)actor[i];
        if (c < 0x20 || c == 0x7f) {
            return false;
        }
    }
    return true;
}

int64_t ks_store_now(void)
{
    return (int64_t)time(NULL);
}

/* Parse "name" or "name@N" (N in 1..2^32-1, no leading zero). */
int ks_store_key_ref_parse(const char *ref, char name[KS_STORE_NAME_MAX + 1], uint32_t *version)
{
    if (!ref) {
        return KS_ERR_INVALID_ARG;
    }
    const char *at = strchr(ref, '@');
    size_t n = at ? (size_t)(at - ref) : strlen(ref);
    if (n < 1 || n > KS_STORE_NAME_MAX) {
        return KS_ERR_INVALID_ARG;
    }
    memcpy(name, ref, n);
    name[n] = '\0';
    if (!ks_store_name_valid(name)) {
        return KS_ERR_INVALID_ARG;
    }
    *version = 0;
    if (!at) {
        return KS_OK;
    }
    const char *d = at + 1;
    uint64_t v = 0;
    if (*d < '1' || *d > '9' || strlen(d) > 10) {
        return KS_ERR_INVALID_ARG;
    }
    for (; *d; d++) {
        if (*d < '0' || *d > '9') {
            return KS_ERR_INVALID_ARG;
        }
        v = v * 10 + (uint64_t)(*d - '0');
    }
    if (v > UINT32_MAX) {
        return KS_ERR_INVALID_ARG;
    }
    *version = (uint32_t)v;
    return KS_OK;
}
