/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/store_internal.h"

/* PRAGMA application_id of a keyserver database: "KSRV". Lets the store
 * refuse some other program's SQLite file instead of migrating it. */
#define KS_STORE_APPLICATION_ID 0x4b535256

int ks_store_schema_version(void)
{
    return (int)ks_store_n_migrations;
}

static int pragma_int(struct ks_store *s, const char *sql, int *ret)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        return ks_store_sqlerr(s, rc, sql);
    }
    rc = sqlite3_step(st);
    int r = KS_OK;
    if (rc == SQLITE_ROW) {
        *ret = sqlite3_column_int(st, 0);
    } else {
        r = ks_store_sqlerr(s, rc, sql);
    }
    sqlite3_finalize(st);
    return r;
}

int ks_store_db_version(struct ks_store *s, int *ret)
{
    if (!s || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r = ks_store_stmt(s, STMT_USER_VERSION, "PRAGMA user_version", &st);
    if (r < 0) {
        return r;
    }
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        return ks_store_sqlerr(s, rc, "user_version");
    }
    *ret = sqlite3_column_int(st, 0);
    return KS_OK;
}

static int exec(struct ks_store *s, const char *sql, const char *what)
{
    char *err = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK) {
        int r = ks_store_sqlerr(s, rc, what);
        if (err) {
            ks_store_fail(s, r, "%s: %s", what, err);
        }
        sqlite3_free(err);
        return r;
    }
    return KS_OK;
}

/* Versions above ours are refused before anything is written: an older
 * program must not touch a schema it does not know. */
static int check_version(struct ks_store *s, int v)
{
    if (v < 0 || (size_t)v > ks_store_n_migrations) {
        return ks_store_fail(s, KS_ERR_DB_SCHEMA_NEWER,
                             "database schema version %d is newer than this program's %zu; "
                             "upgrade the program",
                             v, ks_store_n_migrations);
    }
    return KS_OK;
}

static int migrate(struct ks_store *s, bool create)
{
    int v = 0, app = 0, objects = 0;
    int r = pragma_int(s, "PRAGMA user_version", &v);
    if (r < 0) {
        return r;
    }
    if ((r = check_version(s, v)) < 0) {
        return r;
    }
    if ((r = pragma_int(s, "PRAGMA application_id", &app)) < 0) {
        return r;
    }
    if (v > 0 && app != KS_STORE_APPLICATION_ID) {
        return ks_store_fail(s, KS_ERR_DB_CORRUPT, "not a keyserver database (application_id)");
    }
    if ((size_t)v == ks_store_n_migrations) {
        return KS_OK;
    }
    if (v == 0) {
        if (!create) {
            return ks_store_fail(s, KS_ERR_DB_NOT_INIT, "database has no keyserver schema");
        }
        r = pragma_int(s, "SELECT count(*) FROM sqlite_master", &objects);
        if (r < 0) {
            return r;
        }
        if (objects > 0) {
            return ks_store_fail(s, KS_ERR_DB_CORRUPT,
                                 "not a keyserver database (has tables but no schema version)");
        }
    }
    if ((r = ks_store_begin(s, true)) < 0) {
        return r;
    }
    /* Another process may have migrated between our read and the lock. */
    if ((r = pragma_int(s, "PRAGMA user_version", &v)) < 0 || (r = check_version(s, v)) < 0) {
        goto out;
    }
    for (size_t i = (size_t)v; i < ks_store_n_migrations; i++) {
        char what[128];
        snprintf(what, sizeof(what), "migration %d (%s)", ks_store_migrations[i].version,
                 ks_store_migrations[i].file);
        if ((r = exec(s, ks_store_migrations[i].sql, what)) < 0) {
            goto out;
        }
    }
    char sql[96];
    snprintf(sql, sizeof(sql), "PRAGMA application_id = %d; PRAGMA user_version = %zu",
             KS_STORE_APPLICATION_ID, ks_store_n_migrations);
    if ((r = exec(s, sql, "set schema version")) < 0) {
        goto out;
    }
    /* Migrations that rebuild tables must leave every reference intact. */
    int bad = 0;
    if ((r = pragma_int(s, "SELECT count(*) FROM pragma_foreign_key_check", &bad)) < 0) {
        goto out;
    }
    if (bad > 0) {
        r = ks_store_fail(s, KS_ERR_DB_CONSTRAINT, "migration left %d foreign key violations", bad);
        goto out;
    }
    r = ks_store_commit(s);
out:
    if (r < 0) {
        ks_store_rollback(s);
    }
    return r;
}

static int configure(struct ks_store *s, int busy_ms)
{
    int fk = 0;
    sqlite3_extended_result_codes(s->db, 1);
    /* Hardening: no schema tricks through this connection, no functions
     * with side effects in triggers/views (SQLite "defensive" settings). */
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
#ifdef SQLITE_DBCONFIG_TRUSTED_SCHEMA
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
#endif
    int r = ks_store_set_busy_timeout(s, busy_ms);
    if (r < 0) {
        return r;
    }
    if ((r = exec(s, "PRAGMA foreign_keys = ON", "foreign_keys")) < 0 ||
        (r = pragma_int(s, "PRAGMA foreign_keys", &fk)) < 0) {
        return r;
    }
    if (fk != 1) {
        return ks_store_fail(s, KS_ERR_DB, "SQLite built without foreign key support");
    }
    /* WAL: readers (the daemon) never block the writer (ksctl) and see each
     * committed change in their next transaction. */
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_ROW) {
        r = ks_store_sqlerr(s, rc, "journal_mode");
    } else if (strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
        r = ks_store_fail(s, KS_ERR_DB, "cannot switch the database to WAL mode");
    }
    sqlite3_finalize(st);
    return r;
}

/* A new database file is created here with mode 0600, so that SQLite (which
 * gives the -wal and -shm files the database's mode) never makes it readable
 * to others, whatever the umask. */
static int create_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        return errno == EEXIST ? KS_OK : KS_ERR_DB_OPEN;
    }
    close(fd);
    return KS_OK;
}

int ks_store_open(const char *path, unsigned flags, struct ks_store **ret)
{
    return ks_store_open_ex(path, flags, KS_STORE_DEFAULT_BUSY_MS, NULL, 0, ret);
}

int ks_store_open_ex(const char *path, unsigned flags, int busy_ms, char *errbuf, size_t errlen,
                     struct ks_store **ret)
{
    if (!path || !*path || !ret || (flags & ~KS_STORE_CREATE) != 0 || busy_ms < 0 ||
        (errlen > 0 && !errbuf)) {
        return KS_ERR_INVALID_ARG;
    }
    struct stat sb;
    int r;
    struct ks_store *s = calloc(1, sizeof(*s));
    if (!s) {
        return KS_ERR_NOMEM;
    }
    s->busy_ms = busy_ms;
    if (stat(path, &sb) != 0) {
        if (errno != ENOENT || !(flags & KS_STORE_CREATE)) {
            r = ks_store_fail(s, KS_ERR_DB_OPEN, "%s: %s", path, strerror(errno));
            goto out;
        }
        if ((r = create_file(path)) < 0) {
            ks_store_fail(s, r, "%s: cannot create: %s", path, strerror(errno));
            goto out;
        }
    }
    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc != SQLITE_OK) {
        r = ks_store_sqlerr(s, rc, "open");
        goto out;
    }
    if ((r = configure(s, busy_ms)) < 0) {
        goto out;
    }
    r = migrate(s, (flags & KS_STORE_CREATE) != 0);
out:
    if (r < 0) {
        if (errlen > 0) {
            snprintf(errbuf, errlen, "%s", s->errmsg[0] ? s->errmsg : ks_strerror(r));
        }
        ks_store_close(s);
        return r;
    }
    ks_store_clear_error(s);
    *ret = s;
    return KS_OK;
}

int ks_store_set_busy_timeout(struct ks_store *s, int ms)
{
    if (!s || ms < 0) {
        return KS_ERR_INVALID_ARG;
    }
    int rc = sqlite3_busy_timeout(s->db, ms);
    if (rc != SQLITE_OK) {
        return ks_store_sqlerr(s, rc, "busy_timeout");
    }
    s->busy_ms = ms;
    return KS_OK;
}

void ks_store_close(struct ks_store *s)
{
    if (!s) {
        return;
    }
    if (s->db) {
        ks_store_rollback(s);
        for (size_t i = 0; i < STMT__MAX; i++) {
            sqlite3_finalize(s->stmt[i]);
        }
        sqlite3_close_v2(s->db);
    }
    free(s);
}
