/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <openssl/sha.h>

#include "test_store_util.h"

/* ---- the documented row encoding, written out again independently ---- */

struct enc {
    uint8_t buf[4096];
    size_t len;
};

static void enc_bytes(struct enc *e, const void *p, size_t n)
{
    assert_true(e->len + n <= sizeof(e->buf));
    memcpy(e->buf + e->len, p, n);
    e->len += n;
}

static void enc_u64(struct enc *e, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    }
    enc_bytes(e, b, 8);
}

static void enc_field(struct enc *e, const char *s)
{
    if (!s) {
        enc_bytes(e, "\x00", 1);
        return;
    }
    uint32_t n = (uint32_t)strlen(s);
    uint8_t h[5] = {1, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    enc_bytes(e, h, 5);
    enc_bytes(e, s, n);
}

static void expected_hash(int64_t seq, int64_t time, const char *actor, const char *event,
                          const char *ak, const char *keys, const char *outcome, const char *reason,
                          const char *detail, const uint8_t prev[32], uint8_t out[32])
{
    struct enc e = {.len = 0};
    enc_bytes(&e, "ks-audit-v1", 12); /* label and its 0x00 */
    enc_u64(&e, (uint64_t)seq);
    enc_u64(&e, (uint64_t)time);
    enc_field(&e, actor);
    enc_field(&e, event);
    enc_field(&e, ak);
    enc_field(&e, keys);
    enc_field(&e, outcome);
    enc_field(&e, reason);
    enc_field(&e, detail);
    enc_bytes(&e, prev, 32);
    SHA256(e.buf, e.len, out);
}

static void append_n(struct fx *f, int n)
{
    for (int i = 0; i < n; i++) {
        char reason[32];
        snprintf(reason, sizeof(reason), "r%d", i);
        struct ks_audit_entry e = {.time = 1000 + i,
                                   .actor = "keyserverd",
                                   .event = "release",
                                   .ak_id = AK1,
                                   .outcome = KS_AUDIT_REFUSED,
                                   .reason = reason};
        assert_int_equal(ks_store_audit_append(f->s, &e, NULL, NULL), KS_OK);
    }
}

/* ---- append ------------------------------------------------------------- */

static void test_append_chain_values(void **state)
{
    struct fx *f = *state;
    const uint8_t zero[32] = {0};
    uint8_t h1[32], h2[32], want[32];
    int64_t seq = 0;
    const char *keys[] = {"weights@3", "req"};
    struct ks_audit_entry e1 = {.time = 1700000000,
                                .actor = "10.0.0.7",
                                .event = "release",
                                .ak_id = AK1,
                                .keys = keys,
                                .n_keys = 2,
                                .outcome = KS_AUDIT_GRANTED,
                                .reason = NULL,
                                .detail = "{\"policy\":\"p@1\"}"};
    assert_int_equal(ks_store_audit_append(f->s, &e1, &seq, h1), KS_OK);
    assert_int_equal(seq, 1);
    expected_hash(1, 1700000000, "10.0.0.7", "release", AK1, "weights@3,req", "granted", NULL,
                  "{\"policy\":\"p@1\"}", zero, want);
    assert_memory_equal(h1, want, 32);

    /* Empty and absent strings hash differently. */
    struct ks_audit_entry e2 = {.time = 1700000001,
                                .actor = "alice",
                                .event = "key.create",
                                .outcome = KS_AUDIT_OK,
                                .reason = ""};
    assert_int_equal(ks_store_audit_append(f->s, &e2, &seq, h2), KS_OK);
    assert_int_equal(seq, 2);
    expected_hash(2, 1700000001, "alice", "key.create", NULL, NULL, "ok", "", NULL, h1, want);
    assert_memory_equal(h2, want, 32);
    expected_hash(2, 1700000001, "alice", "key.create", NULL, NULL, "ok", NULL, NULL, h1, want);
    assert_memory_not_equal(h2, want, 32);

    /* Stored as returned. */
    sqlite3 *db = raw_open(f);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT prev_hash, row_hash, keys FROM audit ORDER BY "
                                        "seq",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_memory_equal(sqlite3_column_blob(st, 0), zero, 32);
    assert_memory_equal(sqlite3_column_blob(st, 1), h1, 32);
    assert_string_equal((const char *)sqlite3_column_text(st, 2), "weights@3,req");
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_memory_equal(sqlite3_column_blob(st, 0), h1, 32);
    assert_memory_equal(sqlite3_column_blob(st, 1), h2, 32);
    sqlite3_finalize(st);
    sqlite3_close(db);

    struct ks_audit_verify v;
    assert_int_equal(ks_store_audit_verify(f->s, &v), KS_OK);
    assert_int_equal(v.rows, 2);
    assert_int_equal(v.first_seq, 1);
    assert_int_equal(v.last_seq, 2);
    assert_memory_equal(v.last_hash, h2, 32);
    assert_int_equal(v.bad_seq, 0);
    /* time 0 means now */
    struct ks_audit_entry e3 = {.actor = "a", .event = "x", .outcome = KS_AUDIT_FAILED};
    assert_int_equal(ks_store_audit_append(f->s, &e3, NULL, NULL), KS_OK);
}

static void test_append_errors(void **state)
{
    struct fx *f = *state;
    int64_t seq = -5;
    const char *badkeys[] = {"w@0"};
    const char *okkeys[] = {"w"};
    char big[KS_STORE_MAX_REASON + 2];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    struct ks_audit_entry base = {.actor = "a", .event = "release", .outcome = KS_AUDIT_REFUSED};
    struct ks_audit_entry e;
    e = base;
    e.actor = "";
    assert_int_equal(ks_store_audit_append(f->s, &e, &seq, NULL), KS_ERR_INVALID_ARG);
    e = base;
    e.actor = "a\tb";
    assert_int_equal(ks_store_audit_append(f->s, &e, &seq, NULL), KS_ERR_INVALID_ARG);
    e = base;
    e.event = "no spaces";
    assert_int_equal(ks_store_audit_append(f->s, &e, &seq, NULL), KS_ERR_INVALID_ARG);
    e = base;
    e.event = NULL;
    assert_int_equal(ks_store_audit_append(f->s, &e, &seq, NULL), KS_ERR_INVALID_ARG);
    e = base;
    e.ak_id = "ZZ";
    assert_int_equal(ks_store_audit_append(f->s, &e, &seq, NULL), KS_ERR_INVALID_ARG);
    e = base;
    e.keys = badkeys;
    e.n_keys = 1;
    assert_int_equal(ks_store_audit_append(f->s, &e, &seq, NULL), KS_ERR_INVALID_ARG);
    e = base;
    e.keys = NULL;
    e.n_keys = 1;
    assert_int_equal(ks_store_audit_append(f->s, &e, &seq, NULL), KS_ERR_INVALID_ARG);
    e = base;
    e.keys = okkeys;
    e.n_keys = KS_STORE_MAX_REQUEST_KEYS + 1;
    assert_int_equal(ks_store_audit_append(f->s, &e, &seq, NULL), KS_ERR_INVALID_ARG);
    e = base;
    e.outcome = (enum ks_audit_outcome)0;
    assert_int_equal(ks_store_audit_append(f->s, &e, &seq, NULL), KS_ERR_INVALID_ARG);
    e = base;
    e.time = -1;
    assert_int_equal(ks_store_audit_append(f->s, &e, &seq, NULL), KS_ERR_INVALID_ARG);
    e = base;
    e.detail = "{\"a\":1,\"a\":2}";
    assert_int_equal(ks_store_audit_append(f->s, &e, &seq, NULL), KS_ERR_INVALID_ARG);
    e.detail = "{not json";
    assert_int_equal(ks_store_audit_append(f->s, &e, &seq, NULL), KS_ERR_INVALID_ARG);
    e = base;
    e.reason = big;
    assert_int_equal(ks_store_audit_append(f->s, &e, &seq, NULL), KS_ERR_TOO_LARGE);
    assert_int_equal(ks_store_audit_append(NULL, &base, &seq, NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_audit_append(f->s, NULL, &seq, NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(seq, -5);
    struct ks_audit_verify v;
    assert_int_equal(ks_store_audit_verify(f->s, &v), KS_OK);
    assert_int_equal(v.rows, 0);
    assert_int_equal(v.first_seq, 0);
    assert_int_equal(ks_store_audit_verify(f->s, NULL), KS_ERR_INVALID_ARG);
    assert_string_equal(ks_audit_outcome_name(KS_AUDIT_GRANTED), "granted");
    assert_null(ks_audit_outcome_name((enum ks_audit_outcome)5));
}

/* ---- show --------------------------------------------------------------- */

struct collect {
    int64_t seqs[64];
    int n;
    int stop_after;
};

static int collect_cb(const struct ks_audit_row *row, void *ctx)
{
    struct collect *c = ctx;
    assert_true(c->n < 64);
    c->seqs[c->n++] = row->seq;
    if (c->stop_after && c->n == c->stop_after) {
        return 42;
    }
    return 0;
}

static int count_rows(struct fx *f, const struct ks_audit_filter *flt)
{
    struct collect c = {.n = 0};
    assert_int_equal(ks_store_audit_foreach(f->s, flt, collect_cb, &c), KS_OK);
    return c.n;
}

static void test_foreach_filters(void **state)
{
    struct fx *f = *state;
    const char *k1[] = {"weights@3"};
    const char *k2[] = {"weightsX", "other"};
    const char *k3[] = {"req", "weights"};
    struct ks_audit_entry rows[] = {
        {.time = 100,
         .actor = "d",
         .event = "release",
         .ak_id = AK1,
         .keys = k1,
         .n_keys = 1,
         .outcome = KS_AUDIT_GRANTED},
        {.time = 200,
         .actor = "d",
         .event = "release",
         .ak_id = AK2,
         .keys = k2,
         .n_keys = 2,
         .outcome = KS_AUDIT_REFUSED,
         .reason = "policy_denied"},
        {.time = 300,
         .actor = "alice",
         .event = "key.rotate",
         .keys = k3,
         .n_keys = 2,
         .outcome = KS_AUDIT_OK,
         .detail = "[1,2]"},
    };
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(ks_store_audit_append(f->s, &rows[i], NULL, NULL), KS_OK);
    }
    assert_int_equal(count_rows(f, NULL), 3);
    struct ks_audit_filter flt = {.ak_id = AK1};
    assert_int_equal(count_rows(f, &flt), 1);
    flt = (struct ks_audit_filter){.event = "release"};
    assert_int_equal(count_rows(f, &flt), 2);
    /* Key filter matches names, with or without @N, not prefixes. */
    flt = (struct ks_audit_filter){.key = "weights"};
    struct collect c = {.n = 0};
    assert_int_equal(ks_store_audit_foreach(f->s, &flt, collect_cb, &c), KS_OK);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.seqs[0], 1);
    assert_int_equal(c.seqs[1], 3);
    flt = (struct ks_audit_filter){.key = "other"};
    assert_int_equal(count_rows(f, &flt), 1);
    flt = (struct ks_audit_filter){.key = "weight"};
    assert_int_equal(count_rows(f, &flt), 0);
    flt = (struct ks_audit_filter){.outcome = KS_AUDIT_REFUSED};
    assert_int_equal(count_rows(f, &flt), 1);
    flt = (struct ks_audit_filter){.since_seq = 2};
    assert_int_equal(count_rows(f, &flt), 2);
    flt = (struct ks_audit_filter){.since_time = 150, .until_time = 250};
    assert_int_equal(count_rows(f, &flt), 1);
    flt = (struct ks_audit_filter){.limit = 2};
    assert_int_equal(count_rows(f, &flt), 2);
    flt = (struct ks_audit_filter){.outcome = (enum ks_audit_outcome)9};
    assert_int_equal(ks_store_audit_foreach(f->s, &flt, collect_cb, &c), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_audit_foreach(f->s, NULL, NULL, &c), KS_ERR_INVALID_ARG);
    /* The callback can stop the walk; its value comes back. */
    c = (struct collect){.n = 0, .stop_after = 1};
    assert_int_equal(ks_store_audit_foreach(f->s, NULL, collect_cb, &c), 42);
    assert_int_equal(c.n, 1);
}

static int check_row_cb(const struct ks_audit_row *row, void *ctx)
{
    (void)ctx;
    assert_int_equal(row->seq, 2);
    assert_int_equal(row->time, 200);
    assert_string_equal(row->actor, "d");
    assert_string_equal(row->event, "release");
    assert_string_equal(row->ak_id, AK2);
    assert_string_equal(row->keys, "a,b@2");
    assert_int_equal(row->outcome, KS_AUDIT_REFUSED);
    assert_string_equal(row->reason, "why");
    assert_string_equal(row->detail, "{}");
    return 0;
}

static void test_foreach_row_fields(void **state)
{
    struct fx *f = *state;
    append_n(f, 1);
    const char *k[] = {"a", "b@2"};
    struct ks_audit_entry e = {.time = 200,
                               .actor = "d",
                               .event = "release",
                               .ak_id = AK2,
                               .keys = k,
                               .n_keys = 2,
                               .outcome = KS_AUDIT_REFUSED,
                               .reason = "why",
                               .detail = "{}"};
    assert_int_equal(ks_store_audit_append(f->s, &e, NULL, NULL), KS_OK);
    struct ks_audit_filter flt = {.since_seq = 2};
    assert_int_equal(ks_store_audit_foreach(f->s, &flt, check_row_cb, NULL), KS_OK);
}

/* ---- verify ----------------------------------------------------------------- */

/* An edit made with raw SQL (someone with write access to the file) is
 * found, and reported at the edited row. */
static void test_verify_detects_edit(void **state)
{
    struct fx *f = *state;
    append_n(f, 5);
    struct ks_audit_verify v;
    assert_int_equal(ks_store_audit_verify(f->s, &v), KS_OK);
    assert_int_equal(v.rows, 5);
    /* The trigger refuses updates... */
    sqlite3 *db = raw_open(f);
    assert_int_equal(raw_exec(db, "UPDATE audit SET reason = 'x' WHERE seq = 3"),
                     SQLITE_CONSTRAINT_TRIGGER);
    /* ...but an attacker drops it. */
    assert_int_equal(raw_exec(db, "DROP TRIGGER audit_no_update;"
                                  "UPDATE audit SET outcome = 'granted' WHERE seq = 3"),
                     SQLITE_OK);
    sqlite3_close(db);
    memset(&v, 0, sizeof(v));
    assert_int_equal(ks_store_audit_verify(f->s, &v), KS_ERR_AUDIT_CHAIN);
    assert_int_equal(v.bad_seq, 3);
    assert_int_equal(v.rows, 2);
    assert_non_null(strstr(ks_store_errmsg(f->s), "seq 3"));
}

/* Recomputing the edited row's own hash moves the break to the next row. */
static void test_verify_detects_rehashed_edit(void **state)
{
    struct fx *f = *state;
    append_n(f, 4);
    sqlite3 *db = raw_open(f);
    assert_int_equal(raw_exec(db, "DROP TRIGGER audit_no_update;"
                                  "UPDATE audit SET row_hash = zeroblob(32) WHERE seq = 2"),
                     SQLITE_OK);
    sqlite3_close(db);
    struct ks_audit_verify v;
    assert_int_equal(ks_store_audit_verify(f->s, &v), KS_ERR_AUDIT_CHAIN);
    assert_int_equal(v.bad_seq, 2);
    /* A row whose hash is recomputed over edited content (by the real
     * encoding) still fails at the next row's prev_hash. */
    uint8_t prev[32], h[32];
    db = raw_open(f);
    sqlite3_stmt *st = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT row_hash FROM audit WHERE seq = 1", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    memcpy(prev, sqlite3_column_blob(st, 0), 32);
    sqlite3_finalize(st);
    expected_hash(2, 1001, "keyserverd", "release", AK1, NULL, "granted", "r1", NULL, prev, h);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "UPDATE audit SET outcome = 'granted', row_hash = ?1 "
                                        "WHERE seq = 2",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
    assert_int_equal(ks_store_audit_verify(f->s, &v), KS_ERR_AUDIT_CHAIN);
    assert_int_equal(v.bad_seq, 3);
}

static void test_verify_detects_deletion(void **state)
{
    struct fx *f = *state;
    append_n(f, 4);
    raw_sql(f, "DELETE FROM audit WHERE seq = 3");
    struct ks_audit_verify v;
    assert_int_equal(ks_store_audit_verify(f->s, &v), KS_ERR_AUDIT_CHAIN);
    assert_int_equal(v.bad_seq, 4);
    /* Deleting from the front without a recorded anchor is found too. */
    raw_sql(f, "DELETE FROM audit WHERE seq >= 3; DELETE FROM audit WHERE seq = 1");
    assert_int_equal(ks_store_audit_verify(f->s, &v), KS_ERR_AUDIT_CHAIN);
    assert_int_equal(v.bad_seq, 2);
}

/* ---- prune ---------------------------------------------------------------- */

static void test_prune(void **state)
{
    struct fx *f = *state;
    append_n(f, 5);
    int64_t deleted = -1, seq = 0;
    assert_int_equal(ks_store_audit_prune(f->s, ACTOR, 9, &deleted), KS_ERR_NOT_FOUND);
    assert_int_equal(ks_store_audit_prune(f->s, ACTOR, 0, &deleted), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_audit_prune(f->s, "", 2, &deleted), KS_ERR_INVALID_ARG);
    assert_int_equal(deleted, -1);
    assert_int_equal(ks_store_audit_prune(f->s, ACTOR, 4, &deleted), KS_OK);
    assert_int_equal(deleted, 3);
    struct ks_audit_verify v;
    assert_int_equal(ks_store_audit_verify(f->s, &v), KS_OK);
    assert_int_equal(v.first_seq, 4);
    assert_int_equal(v.last_seq, 6); /* 4, 5 and the prune's own row */
    assert_int_equal(v.rows, 3);
    struct ks_audit_entry e = {.actor = "a", .event = "x", .outcome = KS_AUDIT_OK};
    assert_int_equal(ks_store_audit_append(f->s, &e, &seq, NULL), KS_OK);
    assert_int_equal(seq, 7);
    /* Pruning from the first row deletes nothing. */
    assert_int_equal(ks_store_audit_prune(f->s, ACTOR, 4, &deleted), KS_OK);
    assert_int_equal(deleted, 0);
    assert_int_equal(ks_store_audit_verify(f->s, &v), KS_OK);
    /* Removing the first kept row behind the anchor's back is found. */
    raw_sql(f, "DELETE FROM audit WHERE seq = 4");
    assert_int_equal(ks_store_audit_verify(f->s, &v), KS_ERR_AUDIT_CHAIN);
    assert_int_equal(v.bad_seq, 5);
    /* And a broken chain is never pruned over. */
    assert_int_equal(ks_store_audit_prune(f->s, ACTOR, 6, &deleted), KS_ERR_AUDIT_CHAIN);
    assert_int_equal(ks_store_audit_verify(f->s, &v), KS_ERR_AUDIT_CHAIN);
    assert_int_equal(v.bad_seq, 5);
}

/* Every admin change leaves a row naming the actor. */
static void test_admin_changes_audited(void **state)
{
    struct fx *f = *state;
    const uint8_t pub[] = {1, 2, 3};
    assert_int_equal(ks_store_init(f->s, f->mk, "root", NULL), KS_OK);
    fx_policy(f, "p", 0x01);
    struct ks_store_key_params k = {.name = "w", .kind = KS_KEY_DEK, .policy = "p"};
    assert_int_equal(ks_store_key_create(f->s, f->mk, ACTOR, &k), KS_OK);
    assert_int_equal(ks_store_key_rotate(f->s, f->mk, ACTOR, "w", NULL, 0, NULL), KS_OK);
    assert_int_equal(ks_store_ek_add(f->s, ACTOR, EK1, pub, 3, NULL, 0), KS_OK);
    assert_int_equal(ks_store_ek_approve(f->s, ACTOR, EK1, true), KS_OK);
    assert_int_equal(ks_store_ak_add(f->s, ACTOR, AK1, pub, 3, EK1), KS_OK);
    assert_int_equal(ks_store_ak_revoke(f->s, ACTOR, AK1, "gone"), KS_OK);
    uint8_t d[32] = {0};
    assert_int_equal(ks_store_policy_add_pcr(f->s, ACTOR, "p", KS_ALG_SHA256, 0, d, 32, NULL),
                     KS_OK);
    assert_int_equal(ks_store_policy_remove_pcr(f->s, ACTOR, "p", KS_ALG_SHA256, 0, d, 32), KS_OK);
    static const char *const events[] = {
        "init",       "policy.create", "policy.rule.add", "policy.activate",
        "key.create", "key.rotate",    "ek.add",          "ek.approve",
        "ak.add",     "ak.revoke",     "policy.rule.add", "policy.rule.remove"};
    sqlite3 *db = raw_open(f);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT event, actor, outcome FROM audit ORDER BY seq",
                                        -1, &st, NULL),
                     SQLITE_OK);
    for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(st, 0), events[i]);
        assert_string_equal((const char *)sqlite3_column_text(st, 1), i == 0 ? "root" : ACTOR);
        assert_string_equal((const char *)sqlite3_column_text(st, 2), "ok");
    }
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM audit WHERE event = 'ak.revoke' AND "
                                 "ak_id = '" AK1 "' AND reason = 'gone'"),
                     1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM audit WHERE keys = 'w@2'"), 1);
    sqlite3_close(db);
    struct ks_audit_verify v;
    assert_int_equal(ks_store_audit_verify(f->s, &v), KS_OK);
    assert_int_equal(v.rows, 12);
    /* A failed change leaves no row. */
    assert_int_equal(ks_store_policy_create(f->s, ACTOR, "p"), KS_ERR_STORE_EXISTS);
    assert_int_equal(ks_store_audit_verify(f->s, &v), KS_OK);
    assert_int_equal(v.rows, 12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_chain_values, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_append_errors, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_foreach_filters, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_foreach_row_fields, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_verify_detects_edit, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_verify_detects_rehashed_edit, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_verify_detects_deletion, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_prune, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_admin_changes_audited, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
