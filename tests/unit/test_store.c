/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <sys/time.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "test_store_util.h"

#include "db/store_internal.h"

/* ---- open / create / migrate --------------------------------------------- */

static void test_open_create(void **state)
{
    struct fx *f = *state;
    struct ks_store *s = NULL;
    struct stat sb;
    int v = -1;
    assert_int_equal(ks_store_open(f->db, KS_STORE_CREATE, &s), KS_OK);
    assert_int_equal(ks_store_db_version(s, &v), KS_OK);
    assert_int_equal(v, ks_store_schema_version());
    assert_int_equal(v, ks_store_schema_version());
    /* The new file is private whatever the umask. */
    assert_int_equal(stat(f->db, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    sqlite3 *db = raw_open(f);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), ks_store_schema_version());
    assert_int_equal(raw_int(db, "PRAGMA application_id"), 0x4b535256);
    /* WAL is persistent in the file: a second connection sees it. */
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
    /* Foreign keys are on for the store's connection. */
    assert_int_equal(raw_int(s->db, "PRAGMA foreign_keys"), 1);
    assert_true(raw_int(s->db, "PRAGMA busy_timeout") == KS_STORE_DEFAULT_BUSY_MS);
    ks_store_close(s);
    /* Reopen without CREATE: same version, nothing to do. */
    assert_int_equal(ks_store_open(f->db, 0, &s), KS_OK);
    assert_int_equal(ks_store_db_version(s, &v), KS_OK);
    assert_int_equal(v, ks_store_schema_version());
    ks_store_close(s);
}

static void test_open_missing(void **state)
{
    struct fx *f = *state;
    struct ks_store *s = (struct ks_store *)0x1;
    struct stat sb;
    assert_int_equal(ks_store_open(f->db, 0, &s), KS_ERR_DB_OPEN);
    assert_ptr_equal(s, (struct ks_store *)0x1);
    assert_int_not_equal(stat(f->db, &sb), 0);
    /* A directory that does not exist, even with CREATE. */
    char path[400];
    fx_path(f, "nodir/x.db", path, sizeof(path));
    assert_int_equal(ks_store_open(path, KS_STORE_CREATE, &s), KS_ERR_DB_OPEN);
}

static void test_open_empty_without_create(void **state)
{
    struct fx *f = *state;
    struct ks_store *s = NULL;
    fx_write_file(f, "ks.db", (const uint8_t *)"", 0, 0600);
    assert_int_equal(ks_store_open(f->db, 0, &s), KS_ERR_DB_NOT_INIT);
    assert_null(s);
    /* With CREATE the empty file gets the schema. */
    assert_int_equal(ks_store_open(f->db, KS_STORE_CREATE, &s), KS_OK);
    ks_store_close(s);
}

static void test_open_invalid_args(void **state)
{
    struct fx *f = *state;
    struct ks_store *s = NULL;
    assert_int_equal(ks_store_open(NULL, 0, &s), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_open("", 0, &s), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_open(f->db, 0, NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_open(f->db, 0x80, &s), KS_ERR_INVALID_ARG);
    assert_null(s);
}

static void test_open_not_ours(void **state)
{
    struct fx *f = *state;
    struct ks_store *s = NULL;
    /* Some other program's SQLite database. */
    raw_sql(f, "CREATE TABLE t (x)");
    assert_int_equal(ks_store_open(f->db, KS_STORE_CREATE, &s), KS_ERR_DB_CORRUPT);
    /* Versioned, but another application id. */
    raw_sql(f, "PRAGMA user_version = 1");
    assert_int_equal(ks_store_open(f->db, KS_STORE_CREATE, &s), KS_ERR_DB_CORRUPT);
    assert_null(s);
    /* Not SQLite at all. */
    static const uint8_t junk[4096] = {'j', 'u', 'n', 'k'};
    char path[320];
    fx_path(f, "junk.db", path, sizeof(path));
    fx_write_file(f, "junk.db", junk, sizeof(junk), 0600);
    assert_int_equal(ks_store_open(path, 0, &s), KS_ERR_DB_CORRUPT);
    assert_null(s);
}

/* A database made by the first release (only migration 1) upgrades itself
 * at open and keeps its data. */
static void test_migrate_from_v1(void **state)
{
    struct fx *f = *state;
    struct ks_store *s = NULL;
    sqlite3 *db = raw_open(f);
    assert_int_equal(raw_exec(db, ks_store_migrations[0].sql), SQLITE_OK);
    assert_int_equal(raw_exec(db,
                              "PRAGMA application_id = 1263751766; PRAGMA user_version = 1;"
                              "INSERT INTO policies (name, created_by, created_at) "
                              "VALUES ('old', 'x', 1);"
                              "INSERT INTO keys (name, kind, policy_id, created_by, created_at) "
                              "VALUES ('oldkey', 'dek', 1, 'x', 1);"
                              "INSERT INTO key_versions (key_id, version, state, nonce, "
                              "wrapped, created_by, created_at) VALUES (1, 1, 'active', "
                              "zeroblob(12), zeroblob(48), 'x', 1);"),
                     SQLITE_OK);
    /* Version 1 has no share columns. */
    assert_int_not_equal(raw_exec(db, "SELECT share_index FROM key_versions"), SQLITE_OK);
    sqlite3_close(db);

    assert_int_equal(ks_store_open(f->db, 0, &s), KS_OK);
    int v = 0;
    assert_int_equal(ks_store_db_version(s, &v), KS_OK);
    assert_int_equal(v, ks_store_schema_version());
    struct ks_store_key_info *keys = NULL;
    size_t n = 0;
    assert_int_equal(ks_store_key_list(s, &keys, &n), KS_OK);
    assert_int_equal(n, 1);
    assert_string_equal(keys[0].name, "oldkey");
    assert_string_equal(keys[0].policy, "old");
    assert_int_equal(keys[0].active_version, 1);
    assert_int_equal(keys[0].share_count, 0);
    free(keys);
    ks_store_close(s);

    db = raw_open(f);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), ks_store_schema_version());
    assert_int_equal(raw_int(db, "SELECT count(*) FROM key_versions WHERE share_index IS NULL"), 1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM pragma_table_info('key_versions') "
                                 "WHERE name LIKE 'share_%'"),
                     3);
    sqlite3_close(db);
}

static void test_schema_newer_refused(void **state)
{
    struct fx *f = *state;
    struct ks_store *s = NULL;
    assert_int_equal(ks_store_open(f->db, KS_STORE_CREATE, &s), KS_OK);
    ks_store_close(s);
    s = NULL;
    raw_sql(f, "PRAGMA user_version = 99");
    assert_int_equal(ks_store_open(f->db, 0, &s), KS_ERR_DB_SCHEMA_NEWER);
    assert_int_equal(ks_store_open(f->db, KS_STORE_CREATE, &s), KS_ERR_DB_SCHEMA_NEWER);
    assert_null(s);
    /* Refused before anything was written. */
    sqlite3 *db = raw_open(f);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), 99);
    sqlite3_close(db);
}

/* A migration that fails leaves the database as it was (one transaction). */
static void test_migration_failure_rolls_back(void **state)
{
    struct fx *f = *state;
    struct ks_store *s = NULL;
    sqlite3 *db = raw_open(f);
    assert_int_equal(raw_exec(db, ks_store_migrations[0].sql), SQLITE_OK);
    /* Make migration 2 collide: the column already exists. */
    assert_int_equal(raw_exec(db, "PRAGMA application_id = 1263751766; PRAGMA user_version = 1;"
                                  "ALTER TABLE key_versions ADD COLUMN share_count INTEGER"),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(ks_store_open(f->db, 0, &s), KS_ERR_DB);
    assert_null(s);
    db = raw_open(f);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), 1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM pragma_table_info('key_versions') "
                                 "WHERE name = 'share_index'"),
                     0);
    sqlite3_close(db);
}

static void test_open_ex(void **state)
{
    struct fx *f = *state;
    struct ks_store *s = NULL;
    char err[256] = "";
    assert_int_equal(ks_store_open_ex(f->db, 0, 100, err, sizeof(err), &s), KS_ERR_DB_OPEN);
    assert_non_null(strstr(err, "No such file"));
    assert_int_equal(ks_store_open_ex(f->db, KS_STORE_CREATE, 1234, err, sizeof(err), &s), KS_OK);
    assert_int_equal(raw_int(s->db, "PRAGMA busy_timeout"), 1234);
    ks_store_close(s);
    s = NULL;
    raw_sql(f, "PRAGMA user_version = 7");
    assert_int_equal(ks_store_open_ex(f->db, 0, 100, err, sizeof(err), &s), KS_ERR_DB_SCHEMA_NEWER);
    char want[128];
    snprintf(want, sizeof(want),
             "database schema version 7 is newer than this program's %d; upgrade the program",
             ks_store_schema_version());
    assert_string_equal(err, want);
    /* Truncated, still terminated. */
    char small[9];
    assert_int_equal(ks_store_open_ex(f->db, 0, 100, small, sizeof(small), &s),
                     KS_ERR_DB_SCHEMA_NEWER);
    assert_string_equal(small, "database");
    assert_int_equal(ks_store_open_ex(f->db, 0, -1, NULL, 0, &s), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_open_ex(f->db, 0, 10, NULL, 8, &s), KS_ERR_INVALID_ARG);
    assert_null(s);
}

/* A migration waits for the write lock like any writer, then gives up. */
static void test_open_migration_busy(void **state)
{
    struct fx *f = *state;
    struct ks_store *s = NULL;
    char err[256] = "";
    sqlite3 *db = raw_open(f);
    assert_int_equal(raw_exec(db, ks_store_migrations[0].sql), SQLITE_OK);
    assert_int_equal(raw_exec(db, "PRAGMA application_id = 1263751766; PRAGMA user_version = 1;"
                                  "PRAGMA journal_mode = WAL; BEGIN IMMEDIATE"),
                     SQLITE_OK);
    assert_int_equal(ks_store_open_ex(f->db, 0, 100, err, sizeof(err), &s), KS_ERR_DB_BUSY);
    assert_non_null(strstr(err, "busy timeout of 100 ms"));
    assert_null(s);
    assert_int_equal(raw_exec(db, "COMMIT"), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(ks_store_open_ex(f->db, 0, 100, err, sizeof(err), &s), KS_OK);
    int v = 0;
    assert_int_equal(ks_store_db_version(s, &v), KS_OK);
    assert_int_equal(v, ks_store_schema_version());
    ks_store_close(s);
}

static void test_migrations_embedded(void **state)
{
    assert_int_equal(ks_store_n_migrations, (size_t)ks_store_schema_version());
    assert_string_equal(ks_store_migrations[0].file, "db/schema.sql");
    for (size_t i = 0; i < ks_store_n_migrations; i++) {
        assert_int_equal(ks_store_migrations[i].version, (int)i + 1);
        assert_non_null(strstr(ks_store_migrations[i].sql, ";"));
        /* The code owns the transaction. */
        assert_null(strstr(ks_store_migrations[i].sql, "COMMIT"));
    }
}

/* ---- busy ------------------------------------------------------------------ */

static void test_busy(void **state)
{
    struct fx *f = *state;
    struct timeval t0, t1;
    sqlite3 *db = raw_open(f);
    assert_int_equal(raw_exec(db, "BEGIN IMMEDIATE"), SQLITE_OK);
    assert_int_equal(ks_store_set_busy_timeout(f->s, 200), KS_OK);
    gettimeofday(&t0, NULL);
    assert_int_equal(ks_store_policy_create(f->s, ACTOR, "p"), KS_ERR_DB_BUSY);
    gettimeofday(&t1, NULL);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000;
    assert_true(ms >= 150);
    assert_non_null(strstr(ks_store_errmsg(f->s), "busy timeout of 200 ms"));
    /* Readers are not blocked by the writer (WAL). */
    struct ks_store_policy_info *pl = NULL;
    size_t n = 9;
    assert_int_equal(ks_store_policy_list(f->s, &pl, &n), KS_OK);
    assert_int_equal(n, 0);
    free(pl);
    struct ks_audit_verify res;
    assert_int_equal(ks_store_audit_verify(f->s, &res), KS_OK);
    /* The audit append waits for the lock too. */
    struct ks_audit_entry e = {.actor = "d", .event = "release", .outcome = KS_AUDIT_REFUSED};
    assert_int_equal(ks_store_audit_append(f->s, &e, NULL, NULL), KS_ERR_DB_BUSY);
    assert_int_equal(raw_exec(db, "COMMIT"), SQLITE_OK);
    sqlite3_close(db);
    /* Lock released: the write goes through, nothing half-done before. */
    assert_int_equal(ks_store_policy_create(f->s, ACTOR, "p"), KS_OK);
    struct ks_audit_verify v;
    assert_int_equal(ks_store_audit_verify(f->s, &v), KS_OK);
    assert_int_equal(v.rows, 1);
}

static void test_busy_timeout_args(void **state)
{
    struct fx *f = *state;
    assert_int_equal(ks_store_set_busy_timeout(f->s, -1), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_set_busy_timeout(NULL, 10), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_set_busy_timeout(f->s, 1234), KS_OK);
    assert_int_equal(raw_int(f->s->db, "PRAGMA busy_timeout"), 1234);
}

static void test_close_null_and_errmsg(void **state)
{
    struct fx *f = *state;
    ks_store_close(NULL);
    assert_string_equal(ks_store_errmsg(NULL), "");
    assert_string_equal(ks_store_errmsg(f->s), "");
    assert_int_equal(ks_store_policy_add_pcr(f->s, ACTOR, "nope", KS_ALG_SHA1, 0,
                                             (const uint8_t *)"01234567890123456789", 20, NULL),
                     KS_ERR_STORE_UNKNOWN_POLICY);
    assert_string_equal(ks_store_errmsg(f->s), "unknown policy nope");
    int v;
    assert_int_equal(ks_store_db_version(NULL, &v), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_db_version(f->s, NULL), KS_ERR_INVALID_ARG);
}

static void test_name_valid(void **state)
{
    assert_true(ks_store_name_valid("a"));
    assert_true(ks_store_name_valid("Model-7b_v1.2"));
    char n64[65];
    memset(n64, 'x', 64);
    n64[64] = '\0';
    assert_true(ks_store_name_valid(n64));
    n64[63] = '\0';
    assert_true(ks_store_name_valid(n64));
    char n65[66];
    memset(n65, 'x', 65);
    n65[65] = '\0';
    assert_false(ks_store_name_valid(n65));
    assert_false(ks_store_name_valid(""));
    assert_false(ks_store_name_valid(NULL));
    assert_false(ks_store_name_valid("a b"));
    assert_false(ks_store_name_valid("a@1"));
    assert_false(ks_store_name_valid("a/b"));
    assert_false(ks_store_name_valid("caf\xc3\xa9"));

    assert_true(ks_store_tpm_name_valid(AK1));
    assert_true(ks_store_tpm_name_valid("000b"));
    assert_false(ks_store_tpm_name_valid("000"));
    assert_false(ks_store_tpm_name_valid("000B1111"));
    assert_false(ks_store_tpm_name_valid("000g1111"));
    assert_false(ks_store_tpm_name_valid(NULL));
    char big[KS_STORE_TPM_NAME_HEX_MAX + 3];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_false(ks_store_tpm_name_valid(big));
    big[KS_STORE_TPM_NAME_HEX_MAX] = '\0';
    assert_true(ks_store_tpm_name_valid(big));
}

/* ---- init and meta ---------------------------------------------------------- */

static void test_init(void **state)
{
    struct fx *f = *state;
    uint8_t *buf = NULL, *pub = NULL;
    size_t len = 0, pub_len = 0;
    assert_int_equal(ks_store_init(f->s, f->mk, ACTOR, NULL), KS_OK);
    /* keyserver id: 16 random bytes in hex */
    assert_int_equal(ks_store_meta_get(f->s, KS_META_ID, &buf, &len), KS_OK);
    assert_int_equal(len, 32);
    assert_int_equal(strlen((char *)buf), 32);
    assert_true(ks_store_tpm_name_valid((char *)buf));
    free(buf);
    /* receipt_pub: a P-256 SubjectPublicKeyInfo. */
    assert_int_equal(ks_store_meta_get(f->s, KS_META_RECEIPT_PUB, &pub, &pub_len), KS_OK);
    const unsigned char *p = pub;
    EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)pub_len);
    assert_non_null(pk);
    assert_ptr_equal(p, pub + pub_len);
    char group[32];
    assert_true(EVP_PKEY_get_utf8_string_param(pk, "group", group, sizeof(group), NULL));
    assert_string_equal(group, "prime256v1");
    /* nonce key: 32 secret bytes */
    struct ks_store_secret *nk = NULL;
    assert_int_equal(ks_store_meta_secret_get(f->s, f->mk, KS_META_NONCE_KEY, &nk), KS_OK);
    assert_int_equal(nk->len, 32);
    ks_store_secret_free(nk);
    /* The receipt key signs; receipt_pub verifies. */
    EVP_PKEY *sk = NULL;
    assert_int_equal(ks_store_receipt_key_load(f->s, f->mk, &sk), KS_OK);
    uint8_t sig[128];
    size_t sig_len = sizeof(sig);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, sk), 1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &sig_len, (const uint8_t *)"receipt", 7), 1);
    EVP_MD_CTX_free(ctx);
    ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pk), 1);
    assert_int_equal(EVP_DigestVerify(ctx, sig, sig_len, (const uint8_t *)"receipt", 7), 1);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(sk);
    EVP_PKEY_free(pk);
    free(pub);
    /* Secrets are not plain meta values. */
    assert_int_equal(ks_store_meta_get(f->s, KS_META_NONCE_KEY, &buf, &len), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_meta_secret_get(f->s, f->mk, KS_META_ID, &nk), KS_ERR_INVALID_ARG);
    /* Once only. */
    assert_int_equal(ks_store_init(f->s, f->mk, ACTOR, NULL), KS_ERR_STORE_EXISTS);
    /* Audited. */
    sqlite3 *db = raw_open(f);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM audit WHERE event = 'init' AND actor = "
                                 "'alice' AND outcome = 'ok'"),
                     1);
    /* The private key is not in the database in the clear: wrapped rows
     * have a nonce and decrypt only with the master key. */
    assert_int_equal(raw_int(db, "SELECT count(*) FROM meta WHERE nonce IS NOT NULL"), 2);
    sqlite3_close(db);
}

static void test_init_explicit_id_and_errors(void **state)
{
    struct fx *f = *state;
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(ks_store_init(f->s, f->mk, ACTOR, "bad id"), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_init(f->s, NULL, ACTOR, NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_init(f->s, f->mk, "", NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_init(f->s, f->mk, "a\nb", NULL), KS_ERR_INVALID_ARG);
    /* Nothing initialised yet. */
    assert_int_equal(ks_store_meta_get(f->s, KS_META_ID, &buf, &len), KS_ERR_DB_NOT_INIT);
    EVP_PKEY *pk = NULL;
    assert_int_equal(ks_store_receipt_key_load(f->s, f->mk, &pk), KS_ERR_DB_NOT_INIT);
    struct ks_store_secret *sec = NULL;
    assert_int_equal(ks_store_meta_secret_get(f->s, f->mk, KS_META_NONCE_KEY, &sec),
                     KS_ERR_DB_NOT_INIT);
    assert_int_equal(ks_store_init(f->s, f->mk, ACTOR, "ks-eu-1"), KS_OK);
    assert_int_equal(ks_store_meta_get(f->s, KS_META_ID, &buf, &len), KS_OK);
    assert_string_equal((char *)buf, "ks-eu-1");
    assert_int_equal(len, 7);
    free(buf);
    assert_int_equal(ks_store_meta_get(f->s, "bad key", &buf, &len), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_meta_get(NULL, KS_META_ID, &buf, &len), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_receipt_key_load(f->s, NULL, &pk), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_meta_secret_get(f->s, f->mk, KS_META_NONCE_KEY, NULL),
                     KS_ERR_INVALID_ARG);
}

static void test_wrong_master_key(void **state)
{
    struct fx *f = *state;
    struct ks_master_key *other = NULL;
    char path[320];
    fx_path(f, "other.key", path, sizeof(path));
    assert_int_equal(ks_master_key_generate(path, &other), KS_OK);
    assert_int_equal(ks_store_init(f->s, f->mk, ACTOR, NULL), KS_OK);
    EVP_PKEY *pk = NULL;
    struct ks_store_secret *sec = NULL;
    assert_int_equal(ks_store_receipt_key_load(f->s, other, &pk), KS_ERR_KEY_UNWRAP);
    assert_null(pk);
    assert_int_equal(ks_store_meta_secret_get(f->s, other, KS_META_NONCE_KEY, &sec),
                     KS_ERR_KEY_UNWRAP);
    assert_null(sec);
    ks_master_key_free(other);
}

/* A receipt_pub that does not match the private key is refused: the daemon
 * must not advertise one key and sign with another. */
static void test_receipt_pub_mismatch(void **state)
{
    struct fx *f = *state;
    assert_int_equal(ks_store_init(f->s, f->mk, ACTOR, NULL), KS_OK);
    EVP_PKEY *other = EVP_EC_gen("P-256");
    unsigned char *der = NULL;
    int der_len = i2d_PUBKEY(other, &der);
    assert_true(der_len > 0);
    sqlite3 *db = raw_open(f);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "UPDATE meta SET value = ?1 WHERE key = 'receipt_pub'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(st, 1, der, der_len, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
    OPENSSL_free(der);
    EVP_PKEY_free(other);
    EVP_PKEY *pk = NULL;
    assert_int_equal(ks_store_receipt_key_load(f->s, f->mk, &pk), KS_ERR_DB_CORRUPT);
    assert_null(pk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_create, fx_setup_dir, fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_missing, fx_setup_dir, fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_empty_without_create, fx_setup_dir, fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_invalid_args, fx_setup_dir, fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_not_ours, fx_setup_dir, fx_teardown),
        cmocka_unit_test_setup_teardown(test_migrate_from_v1, fx_setup_dir, fx_teardown),
        cmocka_unit_test_setup_teardown(test_schema_newer_refused, fx_setup_dir, fx_teardown),
        cmocka_unit_test_setup_teardown(test_migration_failure_rolls_back, fx_setup_dir,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_ex, fx_setup_dir, fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_migration_busy, fx_setup_dir, fx_teardown),
        cmocka_unit_test(test_migrations_embedded),
        cmocka_unit_test_setup_teardown(test_busy, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_busy_timeout_args, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_close_null_and_errmsg, fx_setup, fx_teardown),
        cmocka_unit_test(test_name_valid),
        cmocka_unit_test_setup_teardown(test_init, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_init_explicit_id_and_errors, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_master_key, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_receipt_pub_mismatch, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
