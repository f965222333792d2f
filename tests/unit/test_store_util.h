/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_TEST_STORE_UTIL_H
#define KS_TEST_STORE_UTIL_H

/*
 * Helpers for the store tests: a fresh temporary directory (mkdtemp) per
 * test holding a real SQLite database and a master key file, removed at the
 * end; and raw SQL through a second, test-only sqlite3 connection, to play
 * another process or an attacker with write access to the file.
 */

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "unit.h"

#include "db/store.h"

#define ACTOR "alice"

/* A TPM Name (sha256 nameAlg 000b || 32 bytes) in hex, varied by `n`. */
#define AK1 "000b1111111111111111111111111111111111111111111111111111111111111111"
#define AK2 "000b2222222222222222222222222222222222222222222222222222222222222222"
#define EK1 "000beeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"

struct fx {
    char dir[256];
    char db[300];
    char mk_path[300];
    struct ks_store *s;
    struct ks_master_key *mk;
};

static inline void fx_path(const struct fx *f, const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", f->dir, name);
}

/* Write `len` bytes of `fill` to dir/name with `mode` (exactly, umask aside). */
static inline void fx_write_file(const struct fx *f, const char *name, const uint8_t *buf,
                                 size_t len, mode_t mode)
{
    char path[320];
    fx_path(f, name, path, sizeof(path));
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

/* Fresh dir only (no database). */
static inline int fx_setup_dir(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof(f->dir), "%s/ks-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    fx_path(f, "ks.db", f->db, sizeof(f->db));
    fx_path(f, "master.key", f->mk_path, sizeof(f->mk_path));
    *state = f;
    return 0;
}

/* Fresh dir, database created, master key generated. */
static inline int fx_setup(void **state)
{
    fx_setup_dir(state);
    struct fx *f = *state;
    assert_int_equal(ks_store_open(f->db, KS_STORE_CREATE, &f->s), KS_OK);
    assert_int_equal(ks_master_key_generate(f->mk_path, &f->mk), KS_OK);
    return 0;
}

static inline int fx_teardown(void **state)
{
    struct fx *f = *state;
    ks_store_close(f->s);
    ks_master_key_free(f->mk);
    DIR *d = opendir(f->dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
                continue;
            }
            char path[600];
            snprintf(path, sizeof(path), "%s/%s", f->dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    assert_int_equal(rmdir(f->dir), 0);
    free(f);
    return 0;
}

/* A second, raw connection to the test database. */
static inline sqlite3 *raw_open(const struct fx *f)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    sqlite3_extended_result_codes(db, 1);
    return db;
}

/* Run SQL on a raw connection; returns the SQLite result code. */
static inline int raw_exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* One integer from a query on a raw connection. */
static inline int64_t raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static inline void raw_sql(const struct fx *f, const char *sql)
{
    sqlite3 *db = raw_open(f);
    int rc = raw_exec(db, sql);
    if (rc != SQLITE_OK) {
        fail_msg("raw SQL failed: %s: %s", sql, sqlite3_errmsg(db));
    }
    sqlite3_close(db);
}

/* A policy "p" with one sha256 PCR 7 rule, activated (version 1). */
static inline void fx_policy(struct fx *f, const char *name, uint8_t fill)
{
    uint8_t d[32];
    memset(d, fill, sizeof(d));
    assert_int_equal(ks_store_policy_create(f->s, ACTOR, name), KS_OK);
    assert_int_equal(ks_store_policy_add_pcr(f->s, ACTOR, name, KS_ALG_SHA256, 7, d, 32, NULL),
                     KS_OK);
    assert_int_equal(ks_store_policy_activate(f->s, ACTOR, name, KS_STORE_VERSION_DRAFT, NULL),
                     KS_OK);
}

#endif
