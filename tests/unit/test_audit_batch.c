/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <pthread.h>

#include "test_store_util.h"

#include "keyserverd/audit_batch.h"

/*
 * The release audit group commit (keyserverd/audit_batch.c): threads with
 * their own connections to one real database commit rows through one
 * batcher; every row lands exactly once, the chain verifies, each thread
 * gets its own row's seq and hash back, and a row refused on its own does
 * not take the others down.
 */

#define THREADS 8
#define ROWS_PER_THREAD 40

struct worker {
    const char *db_path;
    struct ks_audit_batcher *b;
    int index;
    int failures;
    int64_t seqs[ROWS_PER_THREAD];
    uint8_t hashes[ROWS_PER_THREAD][KS_STORE_HASH_LEN];
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct ks_store *s = NULL;
    if (ks_store_open(w->db_path, 0, &s) != KS_OK) {
        w->failures = ROWS_PER_THREAD;
        return NULL;
    }
    for (int i = 0; i < ROWS_PER_THREAD; i++) {
        char reason[32];
        snprintf(reason, sizeof(reason), "t%d-r%d", w->index, i);
        struct ks_audit_entry e = {.actor = "keyserverd",
                                   .event = "release",
                                   .outcome = KS_AUDIT_REFUSED,
                                   .reason = reason};
        struct ks_store_release_item it = {.entry = &e};
        if (ks_audit_batcher_commit(w->b, s, &it) != KS_OK || it.result != KS_OK) {
            w->failures++;
            continue;
        }
        w->seqs[i] = it.seq;
        memcpy(w->hashes[i], it.hash, KS_STORE_HASH_LEN);
    }
    ks_store_close(s);
    return NULL;
}

struct row_check {
    struct worker *ws;
    int found;
    int mismatched;
};

/* Each row's reason names the thread and row that committed it: its seq
 * and hash must be the ones that thread was handed. */
static int check_row(const struct ks_audit_row *row, void *arg)
{
    struct row_check *c = arg;
    int t = -1, i = -1;
    if (!row->reason || sscanf(row->reason, "t%d-r%d", &t, &i) != 2) {
        return 0;
    }
    if (t < 0 || t >= THREADS || i < 0 || i >= ROWS_PER_THREAD) {
        c->mismatched++;
        return 0;
    }
    c->found++;
    if (c->ws[t].seqs[i] != row->seq ||
        memcmp(c->ws[t].hashes[i], row->row_hash, KS_STORE_HASH_LEN) != 0) {
        c->mismatched++;
    }
    return 0;
}

static void test_threads_share_commits(void **state)
{
    struct fx *f = *state;
    struct ks_audit_batcher *b = NULL;
    assert_int_equal(ks_audit_batcher_new(KS_AUDIT_BATCH_MAX, &b), KS_OK);
    struct worker ws[THREADS];
    pthread_t th[THREADS];
    memset(ws, 0, sizeof(ws));
    for (int t = 0; t < THREADS; t++) {
        ws[t].db_path = f->db;
        ws[t].b = b;
        ws[t].index = t;
        assert_int_equal(pthread_create(&th[t], NULL, worker_main, &ws[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        assert_int_equal(pthread_join(th[t], NULL), 0);
        assert_int_equal(ws[t].failures, 0);
    }
    unsigned long long rows = 0, commits = 0;
    ks_audit_batcher_counts(b, &rows, &commits);
    assert_int_equal(rows, THREADS * ROWS_PER_THREAD);
    assert_true(commits >= 1 && commits <= rows);

    struct row_check c = {.ws = ws};
    struct ks_audit_filter all = {0};
    assert_int_equal(ks_store_audit_foreach(f->s, &all, check_row, &c), KS_OK);
    assert_int_equal(c.found, THREADS * ROWS_PER_THREAD);
    assert_int_equal(c.mismatched, 0);
    struct ks_audit_verify av;
    assert_int_equal(ks_store_audit_verify(f->s, &av), KS_OK);
    assert_int_equal(av.bad_seq, 0);
    ks_audit_batcher_free(b);
}

/* A row refused on its own (an enforced clock rollback for an AK) gets its
 * own error; the batcher goes on committing. */
static void test_refused_row(void **state)
{
    struct fx *f = *state;
    struct ks_audit_batcher *b = NULL;
    uint8_t pub[4] = {1, 2, 3, 4};
    assert_int_equal(ks_store_ak_add(f->s, ACTOR, AK1, pub, sizeof(pub), NULL), KS_OK);
    assert_int_equal(ks_audit_batcher_new(1, &b), KS_OK);
    struct ks_audit_entry e = {
        .actor = "keyserverd", .event = "release", .ak_id = AK1, .outcome = KS_AUDIT_GRANTED};
    struct ks_store_quote_clock c = {.clock = 10, .enforce = true};
    struct ks_store_release_item it = {.entry = &e, .clock = &c};
    assert_int_equal(ks_audit_batcher_commit(b, f->s, &it), KS_OK);
    int64_t first = it.seq;
    c.clock = 9;
    assert_int_equal(ks_audit_batcher_commit(b, f->s, &it), KS_ERR_AK_CLOCK_ROLLBACK);
    assert_non_null(strstr(it.errmsg, "clock"));
    c.clock = 11;
    assert_int_equal(ks_audit_batcher_commit(b, f->s, &it), KS_OK);
    assert_int_equal(it.seq, first + 1);
    unsigned long long rows = 0, commits = 0;
    ks_audit_batcher_counts(b, &rows, &commits);
    assert_int_equal(rows, 2);
    assert_int_equal(commits, 3); /* the refused row's transaction committed nothing */
    ks_audit_batcher_free(b);
}

static void test_args(void **state)
{
    struct fx *f = *state;
    struct ks_audit_batcher *b = NULL;
    assert_int_equal(ks_audit_batcher_new(0, &b), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_audit_batcher_new(KS_AUDIT_BATCH_MAX + 1, &b), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_audit_batcher_new(1, NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_audit_batcher_new(1, &b), KS_OK);
    struct ks_audit_entry e = {.actor = "a", .event = "release", .outcome = KS_AUDIT_REFUSED};
    struct ks_store_release_item it = {.entry = &e};
    assert_int_equal(ks_audit_batcher_commit(NULL, f->s, &it), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_audit_batcher_commit(b, NULL, &it), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_audit_batcher_commit(b, f->s, NULL), KS_ERR_INVALID_ARG);
    /* An entry the store refuses (detail not JSON) is that row's error. */
    e.detail = "{not json";
    assert_int_equal(ks_audit_batcher_commit(b, f->s, &it), KS_ERR_INVALID_ARG);
    unsigned long long rows = 7, commits = 7;
    ks_audit_batcher_counts(NULL, &rows, &commits); /* leaves them */
    assert_int_equal(rows, 7);
    ks_audit_batcher_counts(b, &rows, NULL);
    assert_int_equal(rows, 0);
    ks_audit_batcher_free(b);
    ks_audit_batcher_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_threads_share_commits, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_refused_row, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_args, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
