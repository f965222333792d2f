/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* Online backup and the file operations of a restore (db/store.h
 * "operations: backup and restore"). */

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/store_ops_internal.h"

/* The byte of the WAL index (the -shm file) on which every connection of
 * SQLite's unix VFS holds a read lock while it has the shared memory open:
 * UNIX_SHM_DMS = UNIX_SHM_BASE (120) + SQLITE_SHM_NLOCK (8), os_unix.c. */
#define SHM_DMS_OFFSET 128

/* How long a backup step waits out a busy source (WAL recovery by another
 * connection, or a rollback-journal writer). */
#define BACKUP_BUSY_TRIES 100
#define BACKUP_BUSY_SLEEP_MS 50

__attribute__((format(printf, 4, 5))) static int fail_buf(char *errbuf, size_t errlen, int r,
                                                          const char *fmt, ...)
{
    if (errbuf && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return r;
}

/* A new, empty file: mode 0600 whatever the umask, refusing to follow a
 * link or to reuse an existing file. */
static int create_new(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        return errno == EEXIST ? KS_ERR_STORE_EXISTS : KS_ERR_IO;
    }
    int r = fchmod(fd, 0600) == 0 ? KS_OK : KS_ERR_IO;
    if (close(fd) != 0) {
        r = KS_ERR_IO;
    }
    return r;
}

static int map_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return KS_ERR_DB_BUSY;
    case SQLITE_NOMEM:
        return KS_ERR_NOMEM;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return KS_ERR_DB_CORRUPT;
    case SQLITE_CANTOPEN:
        return KS_ERR_DB_OPEN;
    default:
        return KS_ERR_DB;
    }
}

static int exec_raw(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* PRAGMA integrity_check on a raw connection: "ok" or the first problem. */
static int integrity_raw(sqlite3 *db, char *msg, size_t len)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        snprintf(msg, len, "integrity_check: %s", sqlite3_errmsg(db));
        return map_rc(rc);
    }
    rc = sqlite3_step(st);
    int r = KS_OK;
    if (rc != SQLITE_ROW) {
        snprintf(msg, len, "integrity_check: %s", sqlite3_errmsg(db));
        r = map_rc(rc);
    } else {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        if (!t || strcmp(t, "ok") != 0) {
            snprintf(msg, len, "integrity_check: %s", t ? t : "(null)");
            r = KS_ERR_DB_CORRUPT;
        }
    }
    sqlite3_finalize(st);
    return r;
}

/* Copy `src` into the open, empty `dst` in one step, then make `dst` one
 * self-contained file and check it. */
static int copy_db(sqlite3 *src, sqlite3 *dst, int *ret_pages, char *msg, size_t len)
{
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    if (!b) {
        snprintf(msg, len, "copy: %s", sqlite3_errmsg(dst));
        return map_rc(sqlite3_errcode(dst));
    }
    int rc, tries = 0;
    /* -1: every page in one step, under one read transaction of the source:
     * a consistent snapshot that writers in WAL mode are not blocked by. */
    while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED) {
        if (++tries > BACKUP_BUSY_TRIES) {
            break;
        }
        sqlite3_sleep(BACKUP_BUSY_SLEEP_MS);
    }
    int pages = sqlite3_backup_pagecount(b);
    int frc = sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) {
        snprintf(msg, len, "copy: %s", sqlite3_errstr(rc));
        return map_rc(rc);
    }
    if (frc != SQLITE_OK) {
        snprintf(msg, len, "copy: %s", sqlite3_errmsg(dst));
        return map_rc(frc);
    }
    /* The copied header says WAL, as the source's does; a backup is one
     * file, so switch it back to a rollback journal (ks_store_open turns
     * WAL on again where the copy is used). */
    if ((rc = exec_raw(dst, "PRAGMA journal_mode = DELETE")) != SQLITE_OK) {
        snprintf(msg, len, "journal_mode: %s", sqlite3_errmsg(dst));
        return map_rc(rc);
    }
    int r = integrity_raw(dst, msg, len);
    if (r == KS_OK && ret_pages) {
        *ret_pages = pages;
    }
    return r;
}

/* Remove a partial copy and the journal files SQLite may have left. */
static void remove_db_files(const char *path)
{
    static const char *const suffixes[] = {"", "-journal", "-wal", "-shm"};
    char p[4096];
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        if ((size_t)snprintf(p, sizeof(p), "%s%s", path, suffixes[i]) < sizeof(p)) {
            (void)unlink(p);
        }
    }
}

/* What a backup holds, read from the copy's own connection. */
static int describe(sqlite3 *db, struct ks_store_backup_info *info, char *msg, size_t len)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        info->schema_version = sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc == SQLITE_OK) {
        rc = sqlite3_prepare_v2(db, "SELECT seq, row_hash FROM audit ORDER BY seq DESC LIMIT 1", -1,
                                &st, NULL);
    }
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        info->audit_last_seq = sqlite3_column_int64(st, 0);
        if (sqlite3_column_bytes(st, 1) == KS_STORE_HASH_LEN) {
            memcpy(info->audit_last_hash, sqlite3_column_blob(st, 1), KS_STORE_HASH_LEN);
        }
        rc = SQLITE_DONE;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE && rc != SQLITE_OK) {
        snprintf(msg, len, "read the copy: %s", sqlite3_errmsg(db));
        return map_rc(rc);
    }
    return KS_OK;
}

int ks_store_backup(struct ks_store *s, const char *path, struct ks_store_backup_info *ret)
{
    if (!s || !path || !*path) {
        return KS_ERR_INVALID_ARG;
    }
    if (s->in_tx) {
        return ks_store_fail(s, KS_ERR_INTERNAL, "backup inside a transaction");
    }
    char msg[512] = "";
    struct ks_store_backup_info info;
    sqlite3 *dst = NULL;
    memset(&info, 0, sizeof(info));
    int r = create_new(path);
    if (r < 0) {
        return ks_store_fail(s, r, "%s: %s", path,
                             r == KS_ERR_STORE_EXISTS ? "exists" : strerror(errno));
    }
    int rc = sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK) {
        snprintf(msg, sizeof(msg), "open: %s", dst ? sqlite3_errmsg(dst) : sqlite3_errstr(rc));
        r = map_rc(rc);
    } else {
        r = copy_db(s->db, dst, &info.pages, msg, sizeof(msg));
    }
    if (r == KS_OK) {
        r = describe(dst, &info, msg, sizeof(msg));
    }
    if (dst && sqlite3_close(dst) != SQLITE_OK && r == KS_OK) {
        r = KS_ERR_IO;
        snprintf(msg, sizeof(msg), "close failed");
    }
    if (r < 0) {
        remove_db_files(path);
        return ks_store_fail(s, r, "backup to %s: %s", path, msg);
    }
    if (ret) {
        *ret = info;
    }
    return KS_OK;
}

int ks_store_integrity_check(struct ks_store *s)
{
    if (!s) {
        return KS_ERR_INVALID_ARG;
    }
    char msg[512] = "";
    int64_t bad = 0;
    int r = integrity_raw(s->db, msg, sizeof(msg));
    if (r < 0) {
        return ks_store_fail(s, r, "%s", msg);
    }
    if ((r = ks_store_query_int64(s, "SELECT count(*) FROM pragma_foreign_key_check", NULL, &bad)) <
        0) {
        return r;
    }
    if (bad > 0) {
        return ks_store_fail(s, KS_ERR_DB_CORRUPT, "foreign_key_check: %lld broken references",
                             (long long)bad);
    }
    return KS_OK;
}

int ks_store_in_use(const char *path, bool *ret)
{
    if (!path || !*path || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    char shm[4096];
    if ((size_t)snprintf(shm, sizeof(shm), "%s-shm", path) >= sizeof(shm)) {
        return KS_ERR_INVALID_ARG;
    }
    int fd = open(shm, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT) {
            *ret = false; /* no connection has the WAL index open */
            return KS_OK;
        }
        return KS_ERR_IO;
    }
    /* F_GETLK reports a lock of another process that would conflict with a
     * write lock on the DMS byte (never one of this process). */
    struct flock fl;
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = SHM_DMS_OFFSET;
    fl.l_len = 1;
    int r = fcntl(fd, F_GETLK, &fl) == 0 ? KS_OK : KS_ERR_IO;
    close(fd);
    if (r == KS_OK) {
        *ret = fl.l_type != F_UNLCK;
    }
    return r;
}

int ks_store_copy_file(const char *src, const char *dst, char *errbuf, size_t errlen)
{
    if (!src || !*src || !dst || !*dst || (errlen > 0 && !errbuf)) {
        return KS_ERR_INVALID_ARG;
    }
    struct stat sb;
    char msg[512] = "";
    if (stat(src, &sb) != 0) {
        return fail_buf(errbuf, errlen, KS_ERR_DB_OPEN, "%s: %s", src, strerror(errno));
    }
    if (!S_ISREG(sb.st_mode)) {
        return fail_buf(errbuf, errlen, KS_ERR_DB_OPEN, "%s: not a regular file", src);
    }
    int r = create_new(dst);
    if (r < 0) {
        return fail_buf(errbuf, errlen, r, "%s: %s", dst,
                        r == KS_ERR_STORE_EXISTS ? "exists" : strerror(errno));
    }
    sqlite3 *in = NULL, *out = NULL;
    int rc = sqlite3_open_v2(src, &in, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK) {
        snprintf(msg, sizeof(msg), "%s", in ? sqlite3_errmsg(in) : sqlite3_errstr(rc));
        r = map_rc(rc);
        goto out;
    }
    if ((rc = sqlite3_open_v2(dst, &out, SQLITE_OPEN_READWRITE, NULL)) != SQLITE_OK) {
        snprintf(msg, sizeof(msg), "copy %s: %s", dst,
                 out ? sqlite3_errmsg(out) : sqlite3_errstr(rc));
        r = map_rc(rc);
        goto out;
    }
    r = copy_db(in, out, NULL, msg, sizeof(msg));
out:
    sqlite3_close(in);
    if (out && sqlite3_close(out) != SQLITE_OK && r == KS_OK) {
        r = KS_ERR_IO;
        snprintf(msg, sizeof(msg), "close of the copy failed");
    }
    if (r < 0) {
        remove_db_files(dst);
        return fail_buf(errbuf, errlen, r, "%s: %s", src, msg);
    }
    return KS_OK;
}

static int sync_dir_of(const char *path)
{
    char buf[4096];
    if ((size_t)snprintf(buf, sizeof(buf), "%s", path) >= sizeof(buf)) {
        return KS_ERR_INVALID_ARG;
    }
    int fd = open(dirname(buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return KS_ERR_IO;
    }
    int r = fsync(fd) == 0 ? KS_OK : KS_ERR_IO;
    close(fd);
    return r;
}

/* Let SQLite fold the current database's WAL into the file (closing the
 * last connection checkpoints and removes it), so that the kept copy is
 * complete. Best effort: a damaged database is replaced all the same, and
 * its leftover files are moved next to the kept copy. */
static void checkpoint(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
        (void)exec_raw(db, "PRAGMA wal_checkpoint(TRUNCATE)");
    }
    sqlite3_close(db);
}

int ks_store_replace_file(const char *new_path, const char *db_path, const char *keep_path,
                          char *errbuf, size_t errlen)
{
    static const char *const side[] = {"-wal", "-shm", "-journal"};
    if (!new_path || !*new_path || !db_path || !*db_path || !keep_path || !*keep_path ||
        (errlen > 0 && !errbuf)) {
        return KS_ERR_INVALID_ARG;
    }
    struct stat sb;
    char a[4096], b[4096];
    if (stat(new_path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        return fail_buf(errbuf, errlen, KS_ERR_IO, "%s: not a regular file", new_path);
    }
    if (lstat(db_path, &sb) == 0) {
        checkpoint(db_path);
        if (unlink(keep_path) != 0 && errno != ENOENT) {
            return fail_buf(errbuf, errlen, KS_ERR_IO, "%s: %s", keep_path, strerror(errno));
        }
        if (link(db_path, keep_path) != 0) {
            return fail_buf(errbuf, errlen, KS_ERR_IO, "keep %s as %s: %s", db_path, keep_path,
                            strerror(errno));
        }
        for (size_t i = 0; i < sizeof(side) / sizeof(side[0]); i++) {
            if ((size_t)snprintf(a, sizeof(a), "%s%s", db_path, side[i]) >= sizeof(a) ||
                (size_t)snprintf(b, sizeof(b), "%s%s", keep_path, side[i]) >= sizeof(b)) {
                return fail_buf(errbuf, errlen, KS_ERR_IO, "path too long");
            }
            /* A WAL left beside the new file would be replayed into it. */
            if (rename(a, b) != 0 && errno != ENOENT) {
                return fail_buf(errbuf, errlen, KS_ERR_IO, "move %s: %s", a, strerror(errno));
            }
        }
    } else if (errno != ENOENT) {
        return fail_buf(errbuf, errlen, KS_ERR_IO, "%s: %s", db_path, strerror(errno));
    }
    if (rename(new_path, db_path) != 0) {
        return fail_buf(errbuf, errlen, KS_ERR_IO, "rename %s to %s: %s", new_path, db_path,
                        strerror(errno));
    }
    if (sync_dir_of(db_path) < 0) {
        return fail_buf(errbuf, errlen, KS_ERR_IO, "sync the directory of %s: %s", db_path,
                        strerror(errno));
    }
    return KS_OK;
}
