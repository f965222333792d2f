/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* db/store_list.c: the row loop (ks_store_each_row, ks_store_audit_each)
 * and the growing array (ks_store_list_add, _read, _clear), on a real
 * database with statements whose rows are known in advance. */

#include <stdint.h>

#include "test_store_util.h"

#include "db/store_list.h"

/* 1, 2, ..., n: more than the first capacity (16) and its double. */
#define COUNT_SQL(n)                                                                               \
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < " #n ") "            \
    "SELECT x FROM c"
/* A row, then a failing step: abs() of INT64_MIN is an integer overflow. */
#define FAIL_SQL "WITH c(x) AS (VALUES (1), (-9223372036854775807 - 1)) SELECT abs(x) FROM c"

static sqlite3_stmt *prepare(struct fx *f, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(f->s->db, sql, -1, &st, NULL), SQLITE_OK);
    return st;
}

struct sum {
    int rows;
    int64_t total;
    int stop_at; /* row number whose callback returns `stop` (0: never) */
    int stop;
};

static int sum_row(struct ks_store *s, sqlite3_stmt *st, void *arg)
{
    struct sum *a = arg;
    (void)s;
    a->rows++;
    a->total += sqlite3_column_int64(st, 0);
    return a->rows == a->stop_at ? a->stop : 0;
}

static void test_each_row(void **state)
{
    struct fx *f = *state;
    sqlite3_stmt *st = prepare(f, COUNT_SQL(40));
    struct sum a = {0};
    assert_int_equal(ks_store_each_row(f->s, st, "count", sum_row, &a), KS_OK);
    assert_int_equal(a.rows, 40);
    assert_int_equal(a.total, 40 * 41 / 2);

    /* No rows: the callback is never called. */
    sqlite3_finalize(st);
    st = prepare(f, "SELECT 1 WHERE 0");
    memset(&a, 0, sizeof(a));
    assert_int_equal(ks_store_each_row(f->s, st, "none", sum_row, &a), KS_OK);
    assert_int_equal(a.rows, 0);
    sqlite3_finalize(st);
}

static void test_each_row_stop(void **state)
{
    struct fx *f = *state;
    sqlite3_stmt *st = prepare(f, COUNT_SQL(40));
    /* An error of the callback ends the walk at that row and is returned. */
    struct sum a = {.stop_at = 3, .stop = KS_ERR_DB_CORRUPT};
    assert_int_equal(ks_store_each_row(f->s, st, "count", sum_row, &a), KS_ERR_DB_CORRUPT);
    assert_int_equal(a.rows, 3);
    assert_int_equal(a.total, 6);
    /* So does a positive value (ks_audit_cb's "stop" results). */
    sqlite3_reset(st);
    memset(&a, 0, sizeof(a));
    a.stop_at = 5;
    a.stop = 7;
    assert_int_equal(ks_store_each_row(f->s, st, "count", sum_row, &a), 7);
    assert_int_equal(a.rows, 5);
    sqlite3_finalize(st);
}

static void test_each_row_sqlite_error(void **state)
{
    struct fx *f = *state;
    sqlite3_stmt *st = prepare(f, FAIL_SQL);
    struct sum a = {0};
    assert_int_equal(ks_store_each_row(f->s, st, "overflow walk", sum_row, &a), KS_ERR_DB);
    assert_int_equal(a.rows, 1);
    assert_string_equal(ks_store_errmsg(f->s), "overflow walk: integer overflow");
    sqlite3_finalize(st);
}

struct elem {
    int64_t v;
    char pad[20];
};

static void test_list_add(void **state)
{
    (void)state;
    struct ks_store_list l = KS_STORE_LIST_INIT(struct elem);
    assert_int_equal(l.size, sizeof(struct elem));
    for (int i = 0; i < 40; i++) {
        struct elem *e = ks_store_list_add(&l);
        assert_non_null(e);
        /* zeroed, whatever realloc left there */
        for (size_t j = 0; j < sizeof(*e); j++) {
            assert_int_equal(((const uint8_t *)e)[j], 0);
        }
        memset(e, 0xa5, sizeof(*e));
        e->v = i;
        assert_int_equal(l.n, (size_t)i + 1);
        assert_ptr_equal(e, (struct elem *)l.items + i);
        /* the capacity doubles from 16 */
        assert_int_equal(l.cap, i < 16 ? 16 : i < 32 ? 32 : 64);
    }
    const struct elem *v = l.items;
    for (int i = 0; i < 40; i++) {
        assert_int_equal(v[i].v, i);
    }
    ks_store_list_clear(&l, NULL);
    assert_null(l.items);
    assert_int_equal(l.n, 0);
    assert_int_equal(l.cap, 0);
    assert_int_equal(l.size, sizeof(struct elem));
}

static void test_list_add_refused(void **state)
{
    (void)state;
    /* An element size of 0 is a caller's mistake: nothing is added. */
    struct ks_store_list z = {NULL, 0, 0, 0};
    assert_null(ks_store_list_add(&z));
    assert_int_equal(z.n, 0);
    /* A capacity whose size in bytes would overflow: refused before any
     * allocation, the list unchanged. */
    struct ks_store_list big = {NULL, 16, 16, SIZE_MAX / 8};
    assert_null(ks_store_list_add(&big));
    assert_null(big.items);
    assert_int_equal(big.n, 16);
    assert_int_equal(big.cap, 16);
}

struct fill_args {
    int fail_at; /* value whose fill fails (0: none) */
};

static int fill_elem(struct ks_store *s, sqlite3_stmt *st, void *elem, void *arg)
{
    struct elem *e = elem;
    const struct fill_args *a = arg;
    for (size_t j = 0; j < sizeof(*e); j++) {
        assert_int_equal(((const uint8_t *)e)[j], 0);
    }
    e->v = sqlite3_column_int64(st, 0);
    if (e->v == a->fail_at) {
        return ks_store_fail(s, KS_ERR_DB_CORRUPT, "row %lld refused", (long long)e->v);
    }
    memset(e->pad, 'x', sizeof(e->pad));
    return KS_OK;
}

static int cleared;

static void clear_elem(void *elem)
{
    struct elem *e = elem;
    /* the partly filled element is counted too, its pad still zero */
    assert_true(e->pad[0] == 'x' || e->pad[0] == 0);
    cleared++;
}

static void test_list_read(void **state)
{
    struct fx *f = *state;
    sqlite3_stmt *st = prepare(f, COUNT_SQL(40));
    struct ks_store_list l = KS_STORE_LIST_INIT(struct elem);
    struct fill_args a = {0};
    assert_int_equal(ks_store_list_read(f->s, st, "count", &l, fill_elem, &a), KS_OK);
    assert_int_equal(l.n, 40);
    const struct elem *v = l.items;
    for (int i = 0; i < 40; i++) {
        assert_int_equal(v[i].v, i + 1);
        assert_int_equal(v[i].pad[19], 'x');
    }
    /* A second read appends. */
    sqlite3_reset(st);
    assert_int_equal(ks_store_list_read(f->s, st, "count", &l, fill_elem, &a), KS_OK);
    assert_int_equal(l.n, 80);
    assert_int_equal(((const struct elem *)l.items)[79].v, 40);
    cleared = 0;
    ks_store_list_clear(&l, clear_elem);
    assert_int_equal(cleared, 80);
    assert_null(l.items);
    assert_int_equal(l.n, 0);
    sqlite3_finalize(st);
}

static void test_list_read_errors(void **state)
{
    struct fx *f = *state;
    sqlite3_stmt *st = prepare(f, COUNT_SQL(40));
    struct ks_store_list l = KS_STORE_LIST_INIT(struct elem);
    /* fill fails at the 20th row: that element is kept and counted */
    struct fill_args a = {.fail_at = 20};
    assert_int_equal(ks_store_list_read(f->s, st, "count", &l, fill_elem, &a), KS_ERR_DB_CORRUPT);
    assert_int_equal(l.n, 20);
    assert_int_equal(((const struct elem *)l.items)[19].v, 20);
    assert_string_equal(ks_store_errmsg(f->s), "row 20 refused");
    cleared = 0;
    ks_store_list_clear(&l, clear_elem);
    assert_int_equal(cleared, 20);
    sqlite3_finalize(st);

    /* an SQLite failure after one row */
    st = prepare(f, FAIL_SQL);
    a.fail_at = 0;
    assert_int_equal(ks_store_list_read(f->s, st, "overflow list", &l, fill_elem, &a), KS_ERR_DB);
    assert_int_equal(l.n, 1);
    assert_string_equal(ks_store_errmsg(f->s), "overflow list: integer overflow");
    ks_store_list_clear(&l, NULL);
    sqlite3_finalize(st);

    /* no room for an element: KS_ERR_NOMEM, fill not called */
    st = prepare(f, COUNT_SQL(3));
    struct ks_store_list big = {NULL, 16, 16, SIZE_MAX / 8};
    assert_int_equal(ks_store_list_read(f->s, st, "big", &big, fill_elem, &a), KS_ERR_NOMEM);
    assert_int_equal(big.n, 16);
    sqlite3_finalize(st);
}

static void test_list_clear_null(void **state)
{
    (void)state;
    ks_store_list_clear(NULL, clear_elem);
    struct ks_store_list l = KS_STORE_LIST_INIT(struct elem);
    cleared = 0;
    ks_store_list_clear(&l, clear_elem);
    assert_int_equal(cleared, 0);
    /* reusable after a clear */
    assert_non_null(ks_store_list_add(&l));
    assert_int_equal(l.n, 1);
    ks_store_list_clear(&l, NULL);
}

struct seen {
    int rows;
    int64_t seqs[8];
    int stop_at;
};

static int audit_cb(const struct ks_audit_row *row, void *ctx)
{
    struct seen *a = ctx;
    a->seqs[a->rows++] = row->seq;
    assert_string_equal(row->event, "release");
    return a->rows == a->stop_at ? 9 : 0;
}

static void test_audit_each(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 5; i++) {
        struct ks_audit_entry e = {.time = 1000 + i,
                                   .actor = "keyserverd",
                                   .event = "release",
                                   .ak_id = AK1,
                                   .outcome = KS_AUDIT_REFUSED};
        assert_int_equal(ks_store_audit_append(f->s, &e, NULL, NULL), KS_OK);
    }
    sqlite3_stmt *st = prepare(f, "SELECT " KS_AUDIT_COLUMNS " FROM audit "
                                  "WHERE event = 'release' ORDER BY seq DESC");
    struct seen a = {0};
    assert_int_equal(ks_store_audit_each(f->s, st, "releases", audit_cb, &a), KS_OK);
    assert_int_equal(a.rows, 5);
    for (int i = 1; i < 5; i++) {
        assert_int_equal(a.seqs[i], a.seqs[i - 1] - 1);
    }
    /* cb's non-zero result stops the walk */
    sqlite3_reset(st);
    memset(&a, 0, sizeof(a));
    a.stop_at = 2;
    assert_int_equal(ks_store_audit_each(f->s, st, "releases", audit_cb, &a), 9);
    assert_int_equal(a.rows, 2);
    sqlite3_finalize(st);

    /* a malformed row (row_hash of one byte) is not passed to cb */
    st = prepare(f, "SELECT seq, time, actor, event, ak_id, keys, outcome, reason, detail, "
                    "prev_hash, x'00' FROM audit WHERE event = 'release'");
    memset(&a, 0, sizeof(a));
    assert_int_equal(ks_store_audit_each(f->s, st, "releases", audit_cb, &a), KS_ERR_DB_CORRUPT);
    assert_int_equal(a.rows, 0);
    sqlite3_finalize(st);

    /* an SQLite failure is reported with `what` */
    st = prepare(f, "SELECT " KS_AUDIT_COLUMNS " FROM audit WHERE abs(-9223372036854775807 - seq)");
    assert_int_equal(ks_store_audit_each(f->s, st, "bad releases", audit_cb, &a), KS_ERR_DB);
    assert_string_equal(ks_store_errmsg(f->s), "bad releases: integer overflow");
    sqlite3_finalize(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_each_row, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_each_row_stop, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_each_row_sqlite_error, fx_setup, fx_teardown),
        cmocka_unit_test(test_list_add),
        cmocka_unit_test(test_list_add_refused),
        cmocka_unit_test_setup_teardown(test_list_read, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_list_read_errors, fx_setup, fx_teardown),
        cmocka_unit_test(test_list_clear_null),
        cmocka_unit_test_setup_teardown(test_audit_each, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
