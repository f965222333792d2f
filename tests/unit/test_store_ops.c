/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* The operations functions of the store (db/store.h "operations"): key
 * retire / delete / attach / show, migration 5, AK details and removal,
 * audit export bookkeeping, status, backup and restore files, master key
 * rotation. Each with its negative cases. */

#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "test_store_util.h"

#include "db/store_internal.h"

static const uint8_t pub_blob[] = {0x00, 0x04, 0xde, 0xad, 0xbe, 0xef};

/* Initialised store, policies p (active) and q, DEK w (3 versions: m1, m2,
 * m3 active), HPKE key h (1 version), AK1 vouched. */
static uint8_t m1[32], m2[32], m3[32];

static int fx_ops(void **state)
{
    fx_setup(state);
    struct fx *f = *state;
    memset(m1, 0x01, 32);
    memset(m2, 0x02, 32);
    memset(m3, 0x03, 32);
    assert_int_equal(ks_store_init(f->s, f->mk, ACTOR, "ks1"), KS_OK);
    fx_policy(f, "p", 0x77);
    assert_int_equal(ks_store_policy_create(f->s, ACTOR, "q"), KS_OK);
    struct ks_store_key_params p = {
        .name = "w", .kind = KS_KEY_DEK, .policy = "p", .material = m1, .material_len = 32};
    assert_int_equal(ks_store_key_create(f->s, f->mk, ACTOR, &p), KS_OK);
    assert_int_equal(ks_store_key_rotate(f->s, f->mk, ACTOR, "w", m2, 32, NULL), KS_OK);
    assert_int_equal(ks_store_key_rotate(f->s, f->mk, ACTOR, "w", m3, 32, NULL), KS_OK);
    struct ks_store_key_params h = {.name = "h", .kind = KS_KEY_HPKE, .policy = "p"};
    assert_int_equal(ks_store_key_create(f->s, f->mk, ACTOR, &h), KS_OK);
    assert_int_equal(ks_store_ak_add(f->s, ACTOR, AK1, pub_blob, sizeof(pub_blob), NULL), KS_OK);
    return 0;
}

static int64_t sql_int(const struct fx *f, const char *sql)
{
    sqlite3 *db = raw_open(f);
    int64_t v = raw_int(db, sql);
    sqlite3_close(db);
    return v;
}

/* The newest audit row's event and key list. */
struct last_row {
    char event[64], keys[256], ak[KS_STORE_TPM_NAME_HEX_MAX + 1], detail[256];
};

static int last_cb(const struct ks_audit_row *row, void *ctx)
{
    struct last_row *l = ctx;
    snprintf(l->event, sizeof(l->event), "%s", row->event);
    snprintf(l->keys, sizeof(l->keys), "%s", row->keys ? row->keys : "");
    snprintf(l->ak, sizeof(l->ak), "%s", row->ak_id ? row->ak_id : "");
    snprintf(l->detail, sizeof(l->detail), "%s", row->detail ? row->detail : "");
    return 0;
}

static struct last_row last_audit(struct fx *f)
{
    struct last_row l;
    memset(&l, 0, sizeof(l));
    assert_int_equal(ks_store_audit_foreach(f->s, NULL, last_cb, &l), KS_OK);
    return l;
}

static bool file_contains(const char *path, const uint8_t *needle, size_t n)
{
    size_t len = 0;
    uint8_t *buf = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        return false;
    }
    uint8_t chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
        uint8_t *nb = realloc(buf, len + got);
        assert_non_null(nb);
        buf = nb;
        memcpy(buf + len, chunk, got);
        len += got;
    }
    fclose(fp);
    bool found = false;
    for (size_t i = 0; !found && len >= n && i <= len - n; i++) {
        found = memcmp(buf + i, needle, n) == 0;
    }
    free(buf);
    return found;
}

/* ---- key version states, retire --------------------------------------------- */

static void test_version_state_names(void **state)
{
    (void)state;
    assert_string_equal(ks_key_version_state_name(KS_KEY_VERSION_ACTIVE), "active");
    assert_string_equal(ks_key_version_state_name(KS_KEY_VERSION_PREVIOUS), "previous");
    assert_string_equal(ks_key_version_state_name(KS_KEY_VERSION_RETIRED), "retired");
    assert_null(ks_key_version_state_name((enum ks_key_version_state)0));
    assert_null(ks_key_version_state_name((enum ks_key_version_state)4));
}

static void test_key_retire(void **state)
{
    struct fx *f = *state;
    /* The rotated-out versions are 'previous' and releasable as w@N. */
    assert_int_equal(sql_int(f, "SELECT count(*) FROM key_versions WHERE state = 'previous'"), 2);
    const char *refs[] = {"w@1", "w@2", "w"};
    struct ks_store_snapshot *snap = NULL;
    assert_int_equal(ks_store_release_snapshot(f->s, AK1, refs, 3, &snap), KS_OK);
    assert_int_equal(snap->keys[0].state, KS_KEY_VERSION_PREVIOUS);
    assert_int_equal(snap->keys[2].state, KS_KEY_VERSION_ACTIVE);
    uint8_t *wrapped1 = malloc(snap->keys[0].wrapped_len);
    size_t wrapped1_len = snap->keys[0].wrapped_len;
    assert_non_null(wrapped1);
    memcpy(wrapped1, snap->keys[0].wrapped, wrapped1_len);
    ks_store_snapshot_free(snap);
    /* (Positive control of the search below.) */
    ks_store_close(f->s);
    assert_true(file_contains(f->db, wrapped1, wrapped1_len));
    assert_int_equal(ks_store_open(f->db, 0, &f->s), KS_OK);

    assert_int_equal(ks_store_key_retire(f->s, ACTOR, "w", 1), KS_OK);
    struct last_row l = last_audit(f);
    assert_string_equal(l.event, "key.retire");
    assert_string_equal(l.keys, "w@1");
    assert_int_equal(sql_int(f, "SELECT count(*) FROM key_versions kv JOIN keys k ON "
                                "k.id = kv.key_id WHERE k.name = 'w' AND kv.version = 1 AND "
                                "kv.state = 'retired' AND kv.nonce IS NULL AND kv.wrapped IS NULL "
                                "AND kv.retired_by = 'alice' AND kv.retired_at > 0"),
                     1);
    /* The snapshot marks it retired, with no material to unwrap. */
    assert_int_equal(ks_store_release_snapshot(f->s, AK1, refs, 3, &snap), KS_OK);
    assert_int_equal(snap->keys[0].state, KS_KEY_VERSION_RETIRED);
    assert_int_equal(snap->keys[0].wrapped_len, 0);
    assert_int_equal(snap->keys[1].state, KS_KEY_VERSION_PREVIOUS);
    struct ks_store_secret *sec = NULL;
    assert_int_not_equal(ks_store_snapshot_key_unwrap(f->mk, &snap->keys[0], &sec), KS_OK);
    assert_null(sec);
    assert_int_equal(ks_store_snapshot_key_unwrap(f->mk, &snap->keys[1], &sec), KS_OK);
    assert_memory_equal(sec->data, m2, 32);
    ks_store_secret_free(sec);
    ks_store_snapshot_free(snap);

    /* Erased from the file: after the checkpoint at close, neither the
     * database nor a WAL holds the old ciphertext. */
    ks_store_close(f->s);
    f->s = NULL;
    char wal[320];
    snprintf(wal, sizeof(wal), "%s-wal", f->db);
    assert_false(file_contains(f->db, wrapped1, wrapped1_len));
    assert_false(file_contains(wal, wrapped1, wrapped1_len));
    free(wrapped1);
    assert_int_equal(ks_store_open(f->db, 0, &f->s), KS_OK);

    /* Final: neither the store nor a raw edit brings it back. */
    assert_int_equal(ks_store_key_retire(f->s, ACTOR, "w", 1), KS_ERR_STORE_STATE);
    sqlite3 *db = raw_open(f);
    assert_int_not_equal(raw_exec(db, "UPDATE key_versions SET state = 'previous' "
                                      "WHERE state = 'retired'"),
                         SQLITE_OK);
    assert_int_not_equal(raw_exec(db, "UPDATE key_versions SET state = 'retired' WHERE "
                                      "state = 'previous'"),
                         SQLITE_OK); /* retired needs the material gone */
    sqlite3_close(db);
}

/* Regression: a retired request-key version is not offered to clients any
 * more (GET /v1/keys/NAME@N/public), while the previous one still is. */
static void test_retired_public_key_hidden(void **state)
{
    struct fx *f = *state;
    struct ks_store_key_public pub;
    assert_int_equal(ks_store_key_rotate(f->s, f->mk, ACTOR, "h", NULL, 0, NULL), KS_OK);
    assert_int_equal(ks_store_key_public_get(f->s, "h", 1, &pub), KS_OK);
    assert_int_equal(pub.version, 1);
    assert_int_equal(ks_store_key_public_get(f->s, "h", 0, &pub), KS_OK);
    assert_int_equal(pub.version, 2);
    assert_int_equal(ks_store_key_retire(f->s, ACTOR, "h", 1), KS_OK);
    assert_int_equal(ks_store_key_public_get(f->s, "h", 1, &pub), KS_ERR_STORE_UNKNOWN_KEY);
    assert_int_equal(ks_store_key_public_get(f->s, "h", 0, &pub), KS_OK);
    assert_int_equal(pub.version, 2);
}

static void test_key_retire_errors(void **state)
{
    struct fx *f = *state;
    assert_int_equal(ks_store_key_retire(f->s, ACTOR, "w", 3), KS_ERR_STORE_STATE); /* active */
    assert_int_equal(ks_store_key_retire(f->s, ACTOR, "w", 9), KS_ERR_STORE_UNKNOWN_KEY);
    assert_non_null(strstr(ks_store_errmsg(f->s), "no version 9"));
    assert_int_equal(ks_store_key_retire(f->s, ACTOR, "zz", 1), KS_ERR_STORE_UNKNOWN_KEY);
    assert_int_equal(ks_store_key_retire(NULL, ACTOR, "w", 1), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_key_retire(f->s, "", "w", 1), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_key_retire(f->s, ACTOR, "w/x", 1), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_key_retire(f->s, ACTOR, "w", 0), KS_ERR_INVALID_ARG);
    /* Nothing changed. */
    assert_int_equal(sql_int(f, "SELECT count(*) FROM key_versions WHERE state = 'retired'"), 0);
}

/* A database made by a program of schema version 4, with a rotated key,
 * is migrated: its 'retired' (still releasable) version becomes 'previous'. */
static void test_migration_5(void **state)
{
    struct fx *f = *state;
    sqlite3 *db = raw_open(f);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(ks_store_migrations[i].version, (int)i + 1);
        assert_int_equal(raw_exec(db, ks_store_migrations[i].sql), SQLITE_OK);
    }
    assert_int_equal(
        raw_exec(db,
                 "PRAGMA application_id = 1263751766; PRAGMA user_version = 4;"
                 "INSERT INTO policies (name, created_by, created_at) VALUES ('p', 'a', 1);"
                 "INSERT INTO keys (name, kind, policy_id, created_by, created_at) "
                 "VALUES ('w', 'dek', 1, 'a', 1);"
                 "INSERT INTO key_versions (key_id, version, state, nonce, wrapped, created_by, "
                 "created_at, retired_at) VALUES (1, 1, 'retired', zeroblob(12), zeroblob(48), "
                 "'a', 1, 50);"
                 "INSERT INTO key_versions (key_id, version, state, nonce, wrapped, created_by, "
                 "created_at) VALUES (1, 2, 'active', zeroblob(12), zeroblob(48), 'a', 50);"),
        SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(ks_store_open(f->db, 0, &f->s), KS_OK);
    int v = 0;
    assert_int_equal(ks_store_db_version(f->s, &v), KS_OK);
    assert_int_equal(v, 5);
    assert_int_equal(ks_store_schema_version(), 5);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM key_versions WHERE version = 1 AND "
                                "state = 'previous' AND replaced_at = 50 AND retired_at IS NULL "
                                "AND length(wrapped) = 48"),
                     1);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM key_versions WHERE version = 2 AND "
                                "state = 'active'"),
                     1);
    /* The partial unique index came back: a second active version fails. */
    db = raw_open(f);
    assert_int_not_equal(raw_exec(db, "UPDATE key_versions SET state = 'active' WHERE "
                                      "version = 1"),
                         SQLITE_OK);
    sqlite3_close(db);
}

/* ---- delete, attach ---------------------------------------------------------- */

static void test_key_delete(void **state)
{
    struct fx *f = *state;
    uint32_t n = 0;
    assert_int_equal(ks_store_key_delete(f->s, ACTOR, "w", &n), KS_OK);
    assert_int_equal(n, 3);
    struct last_row l = last_audit(f);
    assert_string_equal(l.event, "key.delete");
    assert_string_equal(l.keys, "w");
    assert_string_equal(l.detail, "{\"versions\":3}");
    assert_int_equal(sql_int(f, "SELECT count(*) FROM keys WHERE name = 'w'"), 0);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM key_versions"), 1); /* h@1 */
    const char *refs[] = {"w@1"};
    struct ks_store_snapshot *snap = NULL;
    assert_int_equal(ks_store_release_snapshot(f->s, AK1, refs, 1, &snap),
                     KS_ERR_STORE_UNKNOWN_KEY);
    assert_int_equal(ks_store_key_delete(f->s, ACTOR, "w", &n), KS_ERR_STORE_UNKNOWN_KEY);
    assert_int_equal(ks_store_key_delete(f->s, ACTOR, "h", NULL), KS_OK);
    assert_int_equal(ks_store_key_delete(NULL, ACTOR, "h", NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_key_delete(f->s, NULL, "h", NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_key_delete(f->s, ACTOR, "", NULL), KS_ERR_INVALID_ARG);
}

static void test_key_attach(void **state)
{
    struct fx *f = *state;
    assert_int_equal(ks_store_key_attach(f->s, ACTOR, "w", "q"), KS_OK);
    struct last_row l = last_audit(f);
    assert_string_equal(l.event, "key.attach");
    assert_string_equal(l.detail, "{\"from\":\"p\",\"to\":\"q\"}");
    const char *refs[] = {"w"};
    struct ks_store_snapshot *snap = NULL;
    assert_int_equal(ks_store_release_snapshot(f->s, AK1, refs, 1, &snap), KS_OK);
    assert_string_equal(snap->keys[0].policy.name, "q");
    assert_int_equal(snap->keys[0].policy.version, 0); /* q has no active version */
    ks_store_snapshot_free(snap);
    assert_int_equal(ks_store_key_attach(f->s, ACTOR, "w", "q"), KS_ERR_STORE_STATE);
    assert_int_equal(ks_store_key_attach(f->s, ACTOR, "w", "nope"), KS_ERR_STORE_UNKNOWN_POLICY);
    assert_int_equal(ks_store_key_attach(f->s, ACTOR, "zz", "p"), KS_ERR_STORE_UNKNOWN_KEY);
    assert_int_equal(ks_store_key_attach(f->s, ACTOR, "w", NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_key_attach(NULL, ACTOR, "w", "p"), KS_ERR_INVALID_ARG);
}

/* ---- show ------------------------------------------------------------------- */

static void test_key_show(void **state)
{
    struct fx *f = *state;
    assert_int_equal(ks_store_key_retire(f->s, ACTOR, "w", 1), KS_OK);
    /* A granted release naming w@2 and one refused naming w. */
    const char *k1[] = {"h", "w@2"};
    const char *k2[] = {"w"};
    struct ks_audit_entry g = {.actor = "keyserverd",
                               .event = "release",
                               .ak_id = AK1,
                               .keys = k1,
                               .n_keys = 2,
                               .outcome = KS_AUDIT_GRANTED};
    struct ks_audit_entry rf = {.actor = "keyserverd",
                                .event = "release",
                                .ak_id = AK1,
                                .keys = k2,
                                .n_keys = 1,
                                .outcome = KS_AUDIT_REFUSED};
    int64_t seq = 0;
    assert_int_equal(ks_store_audit_append(f->s, &g, &seq, NULL), KS_OK);
    assert_int_equal(ks_store_audit_append(f->s, &rf, NULL, NULL), KS_OK);

    struct ks_store_key_detail *d = NULL;
    assert_int_equal(ks_store_key_show(f->s, "w", &d), KS_OK);
    assert_string_equal(d->info.name, "w");
    assert_int_equal(d->info.kind, KS_KEY_DEK);
    assert_string_equal(d->info.policy, "p");
    assert_int_equal(d->policy_version, 1);
    assert_int_equal(d->info.active_version, 3);
    assert_string_equal(d->created_by, ACTOR);
    assert_int_equal(d->last_granted_seq, seq);
    assert_true(d->last_granted_at > 0);
    assert_int_equal(d->n_versions, 3);
    assert_int_equal(d->versions[0].version, 1);
    assert_int_equal(d->versions[0].state, KS_KEY_VERSION_RETIRED);
    assert_string_equal(d->versions[0].retired_by, ACTOR);
    assert_true(d->versions[0].retired_at > 0 && d->versions[0].replaced_at > 0);
    assert_int_equal(d->versions[1].state, KS_KEY_VERSION_PREVIOUS);
    assert_int_equal(d->versions[1].retired_at, 0);
    assert_int_equal(d->versions[2].state, KS_KEY_VERSION_ACTIVE);
    assert_int_equal(d->versions[2].replaced_at, 0);
    assert_false(d->versions[2].has_public);
    ks_store_key_detail_free(d);

    assert_int_equal(ks_store_key_show(f->s, "h", &d), KS_OK);
    struct ks_store_key_public pub;
    assert_int_equal(ks_store_key_public_get(f->s, "h", 0, &pub), KS_OK);
    assert_int_equal(d->n_versions, 1);
    assert_true(d->versions[0].has_public);
    assert_memory_equal(d->versions[0].public_key, pub.public_key, 32);
    assert_int_equal(d->last_granted_seq, seq);
    ks_store_key_detail_free(d);

    d = NULL;
    assert_int_equal(ks_store_key_show(f->s, "zz", &d), KS_ERR_STORE_UNKNOWN_KEY);
    assert_null(d);
    assert_int_equal(ks_store_key_show(f->s, "w@1", &d), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_key_show(NULL, "w", &d), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_key_show(f->s, "w", NULL), KS_ERR_INVALID_ARG);
    ks_store_key_detail_free(NULL);
}

/* ---- AKs ------------------------------------------------------------------- */

static void test_ak_get_remove(void **state)
{
    struct fx *f = *state;
    struct ks_store_ak_detail a;
    assert_int_equal(ks_store_ak_get(f->s, AK1, &a), KS_OK);
    assert_string_equal(a.info.id, AK1);
    assert_int_equal(a.info.state, KS_AK_ACTIVE);
    assert_string_equal(a.info.vouched_by, ACTOR);
    assert_string_equal(a.info.ek_name, "");
    assert_int_equal(a.info.last_attested_at, 0);
    assert_false(a.has_clock);
    assert_int_equal(a.public_len, sizeof(pub_blob));
    assert_int_equal(ks_store_ak_record_quote(f->s, AK1, 1234, 5000, 2, 7), KS_OK);
    assert_int_equal(ks_store_ak_revoke(f->s, "bob", AK1, "lost"), KS_OK);
    assert_int_equal(ks_store_ak_get(f->s, AK1, &a), KS_OK);
    assert_int_equal(a.info.state, KS_AK_REVOKED);
    assert_int_equal(a.info.last_attested_at, 1234);
    assert_true(a.has_clock);
    assert_int_equal(a.last_clock, 5000);
    assert_int_equal(a.last_reset_count, 2);
    assert_int_equal(a.last_restart_count, 7);
    assert_string_equal(a.revoked_by, "bob");
    assert_true(a.revoked_at > 0);

    assert_int_equal(ks_store_ak_remove(f->s, ACTOR, AK1), KS_OK);
    struct last_row l = last_audit(f);
    assert_string_equal(l.event, "ak.remove");
    assert_string_equal(l.ak, AK1);
    assert_string_equal(l.detail, "{\"state\":\"revoked\"}");
    memset(&a, 0x5a, sizeof(a));
    assert_int_equal(ks_store_ak_get(f->s, AK1, &a), KS_ERR_STORE_UNKNOWN_AK);
    assert_int_equal(a.info.id[0], 0x5a); /* not written on failure */
    struct ks_store_snapshot *snap = NULL;
    assert_int_equal(ks_store_release_snapshot(f->s, AK1, NULL, 0, &snap), KS_ERR_STORE_UNKNOWN_AK);
    assert_int_equal(ks_store_ak_remove(f->s, ACTOR, AK1), KS_ERR_STORE_UNKNOWN_AK);
    /* An AK removed may be added again. */
    assert_int_equal(ks_store_ak_add(f->s, ACTOR, AK1, pub_blob, sizeof(pub_blob), NULL), KS_OK);

    assert_int_equal(ks_store_ak_get(f->s, "XYZ", &a), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_ak_get(f->s, AK1, NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_ak_get(NULL, AK1, &a), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_ak_remove(f->s, ACTOR, "000B11"), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_ak_remove(f->s, NULL, AK1), KS_ERR_INVALID_ARG);
}

/* ---- audit bookkeeping ------------------------------------------------------ */

static void test_audit_export_prune_helpers(void **state)
{
    struct fx *f = *state;
    int64_t seq = -1, last = 0;
    uint8_t h[KS_STORE_HASH_LEN], zero[KS_STORE_HASH_LEN] = {0};
    assert_int_equal(ks_store_audit_exported(f->s, &seq), KS_OK);
    assert_int_equal(seq, 0);
    assert_int_equal(ks_store_audit_anchor(f->s, &seq, h), KS_OK);
    assert_int_equal(seq, 0);
    assert_memory_equal(h, zero, sizeof(h));

    /* Rows at known times after the fixture's ("now"): T+1000, +2000, +3000. */
    int64_t t0 = (int64_t)time(NULL) + 100000;
    for (int i = 1; i <= 3; i++) {
        struct ks_audit_entry e = {
            .time = t0 + 1000 * i, .actor = ACTOR, .event = "test", .outcome = KS_AUDIT_OK};
        assert_int_equal(ks_store_audit_append(f->s, &e, &last, NULL), KS_OK);
    }
    assert_int_equal(ks_store_audit_seq_at_time(f->s, t0 + 1500, &seq), KS_OK);
    assert_int_equal(seq, last - 1);
    assert_int_equal(ks_store_audit_seq_at_time(f->s, t0 + 2000, &seq), KS_OK);
    assert_int_equal(seq, last - 1);
    assert_int_equal(ks_store_audit_seq_at_time(f->s, t0 + 3000, &seq), KS_OK);
    assert_int_equal(seq, last);
    assert_int_equal(ks_store_audit_seq_at_time(f->s, 0, &seq), KS_OK);
    assert_int_equal(seq, 1);
    seq = 77;
    assert_int_equal(ks_store_audit_seq_at_time(f->s, t0 + 3001, &seq), KS_ERR_NOT_FOUND);
    assert_int_equal(seq, 77);
    assert_int_equal(ks_store_audit_seq_at_time(f->s, -1, &seq), KS_ERR_INVALID_ARG);

    assert_int_equal(ks_store_audit_export_mark(f->s, ACTOR, last - 1), KS_OK);
    assert_string_equal(last_audit(f).event, "audit.export");
    assert_int_equal(ks_store_audit_exported(f->s, &seq), KS_OK);
    assert_int_equal(seq, last - 1);
    /* Only forward. */
    assert_int_equal(ks_store_audit_export_mark(f->s, ACTOR, 1), KS_OK);
    assert_int_equal(ks_store_audit_exported(f->s, &seq), KS_OK);
    assert_int_equal(seq, last - 1);
    assert_int_equal(ks_store_audit_export_mark(f->s, ACTOR, 100000), KS_ERR_NOT_FOUND);
    assert_int_equal(ks_store_audit_export_mark(f->s, ACTOR, 0), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_audit_export_mark(f->s, NULL, 1), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_audit_exported(NULL, &seq), KS_ERR_INVALID_ARG);

    /* After a prune the anchor is the last removed row. */
    struct ks_audit_verify v;
    assert_int_equal(ks_store_audit_verify(f->s, &v), KS_OK);
    int64_t deleted = 0;
    assert_int_equal(ks_store_audit_prune(f->s, ACTOR, 4, &deleted), KS_OK);
    assert_int_equal(deleted, 3);
    assert_int_equal(ks_store_audit_anchor(f->s, &seq, h), KS_OK);
    assert_int_equal(seq, 3);
    assert_memory_not_equal(h, zero, sizeof(h));
    assert_int_equal(ks_store_audit_verify(f->s, &v), KS_OK);
    assert_int_equal(v.first_seq, 4);
    assert_int_equal(ks_store_audit_anchor(f->s, NULL, h), KS_ERR_INVALID_ARG);

    /* A malformed mark is corruption, not "never exported". */
    raw_sql(f, "UPDATE meta SET value = x'0102' WHERE key = 'audit_exported'");
    assert_int_equal(ks_store_audit_exported(f->s, &seq), KS_ERR_DB_CORRUPT);
}

/* ---- status ----------------------------------------------------------------- */

struct collect {
    int64_t seqs[8];
    size_t n;
};

static int collect_cb(const struct ks_audit_row *row, void *ctx)
{
    struct collect *c = ctx;
    assert_string_equal(row->event, "release");
    if (c->n < 8) {
        c->seqs[c->n++] = row->seq;
    }
    return 0;
}

static void test_status_and_recent(void **state)
{
    struct fx *f = *state;
    assert_int_equal(ks_store_key_retire(f->s, ACTOR, "w", 1), KS_OK);
    assert_int_equal(ks_store_ak_add(f->s, ACTOR, AK2, pub_blob, sizeof(pub_blob), NULL), KS_OK);
    assert_int_equal(ks_store_ak_revoke(f->s, ACTOR, AK2, NULL), KS_OK);
    const char *k[] = {"w"};
    int64_t seqs[3];
    for (int i = 0; i < 3; i++) {
        struct ks_audit_entry e = {.time = 100 + i,
                                   .actor = "keyserverd",
                                   .event = "release",
                                   .ak_id = AK1,
                                   .keys = k,
                                   .n_keys = 1,
                                   .outcome = i == 1 ? KS_AUDIT_REFUSED : KS_AUDIT_GRANTED};
        assert_int_equal(ks_store_audit_append(f->s, &e, &seqs[i], NULL), KS_OK);
    }
    struct ks_store_status st;
    assert_int_equal(ks_store_status_get(f->s, &st), KS_OK);
    assert_int_equal(st.schema_version, 5);
    assert_string_equal(st.id, "ks1");
    assert_int_equal(st.keys, 2);
    assert_int_equal(st.key_versions, 4);
    assert_int_equal(st.versions_active, 2);
    assert_int_equal(st.versions_previous, 1);
    assert_int_equal(st.versions_retired, 1);
    assert_int_equal(st.policies, 2);
    assert_int_equal(st.policies_active, 1);
    assert_int_equal(st.aks_active, 1);
    assert_int_equal(st.aks_revoked, 1);
    assert_int_equal(st.aks_pending, 0);
    assert_int_equal(st.eks, 0);
    assert_int_equal(st.ekcas, 0);
    assert_int_equal(st.audit_first_seq, 1);
    assert_int_equal(st.audit_last_seq, seqs[2]);
    assert_int_equal(st.audit_rows, seqs[2]);
    assert_int_equal(st.releases_granted, 2);
    assert_int_equal(st.releases_refused, 1);
    assert_int_equal(st.last_granted_at, 102);
    assert_int_equal(st.last_refused_at, 101);
    assert_int_equal(st.audit_exported_seq, 0);
    assert_int_equal(st.audit_anchor_seq, 0);

    struct collect c = {0};
    assert_int_equal(ks_store_release_recent(f->s, 2, collect_cb, &c), KS_OK);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.seqs[0], seqs[2]); /* newest first */
    assert_int_equal(c.seqs[1], seqs[1]);
    assert_int_equal(ks_store_release_recent(f->s, 0, collect_cb, &c), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_release_recent(f->s, 1001, collect_cb, &c), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_release_recent(f->s, 1, NULL, &c), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_status_get(NULL, &st), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_status_get(f->s, NULL), KS_ERR_INVALID_ARG);
}

/* ---- backup / restore files ------------------------------------------------ */

static void test_backup(void **state)
{
    struct fx *f = *state;
    char path[320];
    fx_path(f, "backup.db", path, sizeof(path));
    /* A writer in the middle of a transaction: its row is not in the copy. */
    sqlite3 *w = raw_open(f);
    assert_int_equal(raw_exec(w, "BEGIN IMMEDIATE; INSERT INTO policies (name, created_by, "
                                 "created_at) VALUES ('uncommitted', 'x', 1)"),
                     SQLITE_OK);
    struct ks_store_backup_info info;
    assert_int_equal(ks_store_backup(f->s, path, &info), KS_OK);
    assert_int_equal(raw_exec(w, "COMMIT"), SQLITE_OK);
    sqlite3_close(w);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_true(info.pages > 0);
    assert_int_equal(info.schema_version, 5);
    struct ks_store_status st;
    assert_int_equal(ks_store_status_get(f->s, &st), KS_OK);
    assert_int_equal(info.audit_last_seq, st.audit_last_seq);
    /* One self-contained file in rollback-journal mode. */
    char side[340];
    snprintf(side, sizeof(side), "%s-wal", path);
    assert_int_not_equal(access(side, F_OK), 0);

    struct ks_store *b = NULL;
    assert_int_equal(ks_store_open(path, 0, &b), KS_OK);
    assert_int_equal(ks_store_integrity_check(b), KS_OK);
    struct ks_audit_verify v;
    assert_int_equal(ks_store_audit_verify(b, &v), KS_OK);
    assert_int_equal(v.last_seq, info.audit_last_seq);
    assert_memory_equal(v.last_hash, info.audit_last_hash, KS_STORE_HASH_LEN);
    struct ks_store_policy_info *pl = NULL;
    size_t n = 0;
    assert_int_equal(ks_store_policy_list(b, &pl, &n), KS_OK);
    assert_int_equal(n, 2); /* p and q, not the uncommitted one */
    free(pl);
    /* The copy's keys unwrap under the same master key. */
    struct ks_store_rewrap_counts c;
    assert_int_equal(ks_store_master_check(b, f->mk, &c), KS_OK);
    assert_int_equal(c.key_versions, 4);
    assert_int_equal(c.secrets, 2);
    assert_int_equal(c.failed, 0);
    ks_store_close(b);

    assert_int_equal(ks_store_backup(f->s, path, NULL), KS_ERR_STORE_EXISTS);
    fx_path(f, "nodir/x.db", path, sizeof(path));
    assert_int_equal(ks_store_backup(f->s, path, NULL), KS_ERR_IO);
    assert_int_equal(ks_store_backup(f->s, "", NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_backup(NULL, path, NULL), KS_ERR_INVALID_ARG);
}

static void test_integrity_check(void **state)
{
    struct fx *f = *state;
    assert_int_equal(ks_store_integrity_check(f->s), KS_OK);
    assert_int_equal(ks_store_integrity_check(NULL), KS_ERR_INVALID_ARG);
    /* A version whose key is gone (written with foreign keys off). */
    raw_sql(f, "PRAGMA foreign_keys = OFF; INSERT INTO key_versions (key_id, version, state, "
               "nonce, wrapped, created_by, created_at) VALUES (999, 1, 'active', zeroblob(12), "
               "zeroblob(48), 'x', 1)");
    assert_int_equal(ks_store_integrity_check(f->s), KS_ERR_DB_CORRUPT);
    assert_non_null(strstr(ks_store_errmsg(f->s), "foreign_key_check"));
}

static void test_in_use(void **state)
{
    struct fx *f = *state;
    bool in_use = true;
    /* This process's own connection would not count (POSIX locks are per
     * process) and must not be open here (closing the descriptor that
     * ks_store_in_use opens would drop its locks), so a child plays
     * keyserverd. */
    ks_store_close(f->s);
    f->s = NULL;
    assert_int_equal(ks_store_in_use(f->db, &in_use), KS_OK);
    assert_false(in_use);
    int ready[2], go[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(go), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct ks_store *s = NULL;
        struct ks_store_status st;
        char c = 0;
        int ok = ks_store_open(f->db, 0, &s) == KS_OK && ks_store_status_get(s, &st) == KS_OK;
        if (write(ready[1], ok ? "1" : "0", 1) != 1 || read(go[0], &c, 1) != 1) {
            _exit(2);
        }
        ks_store_close(s);
        _exit(0);
    }
    char c = 0;
    assert_int_equal(read(ready[0], &c, 1), 1);
    assert_int_equal(c, '1');
    assert_int_equal(ks_store_in_use(f->db, &in_use), KS_OK);
    assert_true(in_use);
    assert_int_equal(write(go[1], "x", 1), 1);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(ready[0]);
    close(ready[1]);
    close(go[0]);
    close(go[1]);
    assert_int_equal(ks_store_in_use(f->db, &in_use), KS_OK);
    assert_false(in_use);
    char path[320];
    fx_path(f, "none.db", path, sizeof(path));
    assert_int_equal(ks_store_in_use(path, &in_use), KS_OK);
    assert_false(in_use);
    assert_int_equal(ks_store_in_use(NULL, &in_use), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_in_use(f->db, NULL), KS_ERR_INVALID_ARG);
}

static void test_copy_and_replace(void **state)
{
    struct fx *f = *state;
    char bak[320], tmp[320], keep[320], junk[320], err[256] = "";
    fx_path(f, "b.db", bak, sizeof(bak));
    fx_path(f, "ks.db.tmp", tmp, sizeof(tmp));
    fx_path(f, "ks.db.keep", keep, sizeof(keep));
    fx_path(f, "junk", junk, sizeof(junk));
    assert_int_equal(ks_store_backup(f->s, bak, NULL), KS_OK);
    /* A change after the backup, which the restore must undo. */
    assert_int_equal(ks_store_key_delete(f->s, ACTOR, "w", NULL), KS_OK);

    assert_int_equal(ks_store_copy_file(bak, tmp, err, sizeof(err)), KS_OK);
    struct stat sb;
    assert_int_equal(stat(tmp, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(ks_store_copy_file(bak, tmp, err, sizeof(err)), KS_ERR_STORE_EXISTS);
    fx_write_file(f, "junk", (const uint8_t *)"not a database at all, just text......", 38, 0600);
    char t2[320];
    fx_path(f, "t2.db", t2, sizeof(t2));
    assert_int_equal(ks_store_copy_file(junk, t2, err, sizeof(err)), KS_ERR_DB_CORRUPT);
    assert_non_null(strstr(err, "junk"));
    assert_int_not_equal(access(t2, F_OK), 0); /* partial copy removed */
    fx_path(f, "missing.db", junk, sizeof(junk));
    assert_int_equal(ks_store_copy_file(junk, t2, err, sizeof(err)), KS_ERR_DB_OPEN);
    assert_int_equal(ks_store_copy_file(bak, t2, NULL, 5), KS_ERR_INVALID_ARG);

    /* Replace the live database (closed, as keyserverd must be stopped). */
    ks_store_close(f->s);
    f->s = NULL;
    assert_int_equal(ks_store_replace_file(tmp, f->db, keep, err, sizeof(err)), KS_OK);
    assert_int_not_equal(access(tmp, F_OK), 0);
    assert_int_equal(ks_store_open(f->db, 0, &f->s), KS_OK);
    struct ks_store_key_detail *d = NULL;
    assert_int_equal(ks_store_key_show(f->s, "w", &d), KS_OK); /* back */
    ks_store_key_detail_free(d);
    struct ks_store *old = NULL;
    assert_int_equal(ks_store_open(keep, 0, &old), KS_OK);
    assert_int_equal(ks_store_key_show(old, "w", &d), KS_ERR_STORE_UNKNOWN_KEY); /* kept as was */
    ks_store_close(old);

    assert_int_equal(ks_store_replace_file(tmp, f->db, keep, err, sizeof(err)), KS_ERR_IO);
    assert_non_null(strstr(err, "not a regular file"));
    /* No current database: just the rename. */
    char fresh[320];
    fx_path(f, "fresh.db", fresh, sizeof(fresh));
    assert_int_equal(ks_store_copy_file(bak, tmp, err, sizeof(err)), KS_OK);
    assert_int_equal(ks_store_replace_file(tmp, fresh, keep, err, sizeof(err)), KS_OK);
    assert_int_equal(access(fresh, F_OK), 0);
    assert_int_equal(ks_store_replace_file(NULL, fresh, keep, err, sizeof(err)),
                     KS_ERR_INVALID_ARG);
}

/* ---- master key --------------------------------------------------------------- */

static void test_master_rotate(void **state)
{
    struct fx *f = *state;
    char new_path[320];
    struct ks_master_key *nk = NULL;
    fx_path(f, "new.key", new_path, sizeof(new_path));
    assert_int_equal(ks_master_key_generate(new_path, &nk), KS_OK);
    assert_int_equal(ks_store_key_retire(f->s, ACTOR, "w", 1), KS_OK);
    struct ks_store_rewrap_counts c;
    assert_int_equal(ks_store_master_check(f->s, nk, &c), KS_OK);
    assert_int_equal(c.failed, 5); /* 3 versions with material + 2 secrets */

    /* A wrong "old" key aborts everything. */
    assert_int_equal(ks_store_master_rotate(f->s, nk, f->mk, ACTOR, &c), KS_ERR_KEY_UNWRAP);
    assert_non_null(strstr(ks_store_errmsg(f->s), "does not unwrap"));
    assert_int_equal(ks_store_master_check(f->s, f->mk, &c), KS_OK);
    assert_int_equal(c.failed, 0);

    memset(&c, 0, sizeof(c));
    assert_int_equal(ks_store_master_rotate(f->s, f->mk, nk, ACTOR, &c), KS_OK);
    assert_int_equal(c.key_versions, 3);
    assert_int_equal(c.secrets, 2);
    assert_string_equal(last_audit(f).event, "master.rotate");
    assert_string_equal(last_audit(f).detail, "{\"key_versions\":3,\"secrets\":2}");
    assert_int_equal(ks_store_master_check(f->s, nk, &c), KS_OK);
    assert_int_equal(c.failed, 0);
    assert_int_equal(c.key_versions, 3);
    assert_int_equal(ks_store_master_check(f->s, f->mk, &c), KS_OK);
    assert_int_equal(c.failed, 5); /* the old key opens nothing */
    assert_int_equal(c.key_versions + c.secrets, 0);

    /* The material is unchanged under the new key. */
    const char *refs[] = {"w@2", "w"};
    struct ks_store_snapshot *snap = NULL;
    struct ks_store_secret *sec = NULL;
    assert_int_equal(ks_store_release_snapshot(f->s, AK1, refs, 2, &snap), KS_OK);
    assert_int_equal(ks_store_snapshot_key_unwrap(f->mk, &snap->keys[0], &sec), KS_ERR_KEY_UNWRAP);
    assert_int_equal(ks_store_snapshot_key_unwrap(nk, &snap->keys[0], &sec), KS_OK);
    assert_memory_equal(sec->data, m2, 32);
    ks_store_secret_free(sec);
    assert_int_equal(ks_store_snapshot_key_unwrap(nk, &snap->keys[1], &sec), KS_OK);
    assert_memory_equal(sec->data, m3, 32);
    ks_store_secret_free(sec);
    ks_store_snapshot_free(snap);
    EVP_PKEY *rk = NULL;
    assert_int_equal(ks_store_receipt_key_load(f->s, nk, &rk), KS_OK);
    EVP_PKEY_free(rk);
    rk = NULL;
    assert_int_equal(ks_store_receipt_key_load(f->s, f->mk, &rk), KS_ERR_KEY_UNWRAP);
    struct ks_audit_verify v;
    assert_int_equal(ks_store_audit_verify(f->s, &v), KS_OK);

    assert_int_equal(ks_store_master_rotate(f->s, nk, nk, ACTOR, &c), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_master_rotate(f->s, NULL, nk, ACTOR, &c), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_master_rotate(f->s, f->mk, nk, "", &c), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_master_check(f->s, NULL, &c), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_master_check(f->s, nk, NULL), KS_ERR_INVALID_ARG);
    ks_master_key_free(nk);
}

static void test_master_key_copy(void **state)
{
    struct fx *f = *state;
    char dst[320], bad[320];
    fx_path(f, "copy.key", dst, sizeof(dst));
    assert_int_equal(ks_master_key_copy(f->mk_path, dst), KS_OK);
    struct stat sb;
    assert_int_equal(stat(dst, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(sb.st_size, 32);
    struct ks_master_key *k = NULL;
    assert_int_equal(ks_master_key_load(dst, &k), KS_OK);
    struct ks_store_rewrap_counts c;
    assert_int_equal(ks_store_master_check(f->s, k, &c), KS_OK);
    assert_int_equal(c.failed, 0); /* the same key */
    assert_int_equal(c.key_versions, 4);
    ks_master_key_free(k);

    assert_int_equal(ks_master_key_copy(f->mk_path, dst), KS_ERR_STORE_EXISTS);
    uint8_t b[32] = {0};
    fx_write_file(f, "loose.key", b, 32, 0644);
    fx_path(f, "loose.key", bad, sizeof(bad));
    fx_path(f, "copy2.key", dst, sizeof(dst));
    assert_int_equal(ks_master_key_copy(bad, dst), KS_ERR_MASTER_KEY_PERMS);
    fx_write_file(f, "short.key", b, 31, 0600);
    fx_path(f, "short.key", bad, sizeof(bad));
    assert_int_equal(ks_master_key_copy(bad, dst), KS_ERR_MASTER_KEY_SIZE);
    fx_path(f, "missing.key", bad, sizeof(bad));
    assert_int_equal(ks_master_key_copy(bad, dst), KS_ERR_IO);
    assert_int_not_equal(access(dst, F_OK), 0);
    assert_int_equal(ks_master_key_copy(NULL, dst), KS_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_state_names),
        cmocka_unit_test_setup_teardown(test_key_retire, fx_ops, fx_teardown),
        cmocka_unit_test_setup_teardown(test_key_retire_errors, fx_ops, fx_teardown),
        cmocka_unit_test_setup_teardown(test_retired_public_key_hidden, fx_ops, fx_teardown),
        cmocka_unit_test_setup_teardown(test_migration_5, fx_setup_dir, fx_teardown),
        cmocka_unit_test_setup_teardown(test_key_delete, fx_ops, fx_teardown),
        cmocka_unit_test_setup_teardown(test_key_attach, fx_ops, fx_teardown),
        cmocka_unit_test_setup_teardown(test_key_show, fx_ops, fx_teardown),
        cmocka_unit_test_setup_teardown(test_ak_get_remove, fx_ops, fx_teardown),
        cmocka_unit_test_setup_teardown(test_audit_export_prune_helpers, fx_ops, fx_teardown),
        cmocka_unit_test_setup_teardown(test_status_and_recent, fx_ops, fx_teardown),
        cmocka_unit_test_setup_teardown(test_backup, fx_ops, fx_teardown),
        cmocka_unit_test_setup_teardown(test_integrity_check, fx_ops, fx_teardown),
        cmocka_unit_test_setup_teardown(test_in_use, fx_ops, fx_teardown),
        cmocka_unit_test_setup_teardown(test_copy_and_replace, fx_ops, fx_teardown),
        cmocka_unit_test_setup_teardown(test_master_rotate, fx_ops, fx_teardown),
        cmocka_unit_test_setup_teardown(test_master_key_copy, fx_ops, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
