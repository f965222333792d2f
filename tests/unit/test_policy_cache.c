/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "keyserverd/policy_cache.h"

/*
 * The cache of compiled policy versions (keyserverd/policy_cache.c): keyed
 * by row id AND version number, bounded by versions and by rules (least
 * recently used first), references that outlive eviction, and hits and
 * misses counted; several threads at once.
 */

/* A compiled version of `n` pcr rules that owns them. */
static struct ks_policy_compiled *version_of(int64_t pv_id, uint32_t version, size_t n)
{
    struct ks_store_policy p;
    memset(&p, 0, sizeof(p));
    snprintf(p.name, sizeof(p.name), "p%lld", (long long)pv_id);
    p.version = version;
    p.state = KS_POLICY_ACTIVE;
    p.pv_id = pv_id;
    p.n_rules = n;
    p.rules = calloc(n ? n : 1, sizeof(*p.rules));
    assert_non_null(p.rules);
    for (size_t i = 0; i < n; i++) {
        p.rules[i].kind = KS_RULE_PCR;
        p.rules[i].bank = KS_ALG_SHA256;
        p.rules[i].pcr = (uint8_t)(i % 24);
        p.rules[i].digest_len = 32;
    }
    struct ks_policy_compiled *cp = NULL;
    assert_int_equal(ks_policy_compile_take(&p, pv_id, &cp), KS_OK);
    assert_null(p.rules);
    return cp;
}

static void test_get_put(void **state)
{
    (void)state;
    struct ks_policy_cache *c = NULL;
    assert_int_equal(ks_policy_cache_new(4, 100, &c), KS_OK);
    assert_null(ks_policy_cache_get(c, 1, 1));
    struct ks_policy_compiled *a = version_of(1, 1, 10);
    ks_policy_cache_put(c, a);
    struct ks_policy_compiled *g = ks_policy_cache_get(c, 1, 1);
    assert_ptr_equal(g, a);
    ks_policy_compiled_unref(g);
    /* The row id alone is not enough: the version number must match too. */
    assert_null(ks_policy_cache_get(c, 1, 2));
    assert_null(ks_policy_cache_get(c, 2, 1));
    /* A second put of the same version keeps the first. */
    struct ks_policy_compiled *a2 = version_of(1, 1, 10);
    ks_policy_cache_put(c, a2);
    g = ks_policy_cache_get(c, 1, 1);
    assert_ptr_equal(g, a);
    ks_policy_compiled_unref(g);
    ks_policy_compiled_unref(a2);
    struct ks_policy_cache_stats st;
    ks_policy_cache_stats(c, &st);
    assert_int_equal(st.versions, 1);
    assert_int_equal(st.rules, 10);
    assert_int_equal(st.hits, 2);
    assert_int_equal(st.misses, 3);
    /* Not kept: no row id, or more rules than the whole cache holds. */
    struct ks_policy_compiled *big = version_of(9, 1, 101);
    ks_policy_cache_put(c, big);
    assert_null(ks_policy_cache_get(c, 9, 1));
    ks_policy_compiled_unref(big);
    struct ks_policy_compiled *anon = version_of(0, 1, 1);
    ks_policy_cache_put(c, anon);
    assert_null(ks_policy_cache_get(c, 0, 1));
    ks_policy_compiled_unref(anon);
    ks_policy_compiled_unref(a); /* the cache still holds one */
    g = ks_policy_cache_get(c, 1, 1);
    assert_non_null(g);
    assert_int_equal(g->p->n_rules, 10);
    ks_policy_compiled_unref(g);
    ks_policy_cache_free(c);
}

static void test_eviction(void **state)
{
    (void)state;
    struct ks_policy_cache *c = NULL;
    assert_int_equal(ks_policy_cache_new(3, 100, &c), KS_OK);
    struct ks_policy_compiled *v[6];
    for (int i = 0; i < 3; i++) {
        v[i] = version_of(i + 1, 1, 10);
        ks_policy_cache_put(c, v[i]);
    }
    /* Use 1 so that 2 is the least recently used. */
    struct ks_policy_compiled *g = ks_policy_cache_get(c, 1, 1);
    ks_policy_compiled_unref(g);
    v[3] = version_of(4, 1, 10);
    ks_policy_cache_put(c, v[3]); /* 3 slots: 2 goes */
    assert_null(ks_policy_cache_get(c, 2, 1));
    for (int id = 1; id <= 4; id++) {
        if (id == 2) {
            continue;
        }
        g = ks_policy_cache_get(c, id, 1);
        assert_non_null(g);
        ks_policy_compiled_unref(g);
    }
    /* The rule budget: 30 held + 80 > 100, so the least recently used
     * (1, then 3 and 4 were used after it) goes, and 100 fit. */
    v[4] = version_of(5, 1, 80);
    ks_policy_cache_put(c, v[4]);
    struct ks_policy_cache_stats st;
    ks_policy_cache_stats(c, &st);
    assert_int_equal(st.rules, 100);
    assert_int_equal(st.versions, 3);
    assert_null(ks_policy_cache_get(c, 1, 1));
    g = ks_policy_cache_get(c, 3, 1);
    assert_ptr_equal(g, v[2]);
    ks_policy_compiled_unref(g);
    g = ks_policy_cache_get(c, 5, 1);
    assert_ptr_equal(g, v[4]);
    ks_policy_compiled_unref(g);
    /* An evicted version a caller still holds stays usable. */
    assert_int_equal(v[1]->p->n_rules, 10);
    assert_int_equal(v[1]->n_of[KS_RULE_PCR], 10);
    for (int i = 0; i < 5; i++) {
        ks_policy_compiled_unref(v[i]);
    }
    ks_policy_cache_free(c);
}

struct worker {
    struct ks_policy_cache *c;
    int seed;
    int bad;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    unsigned s = (unsigned)w->seed;
    for (int i = 0; i < 2000; i++) {
        s = s * 1103515245u + 12345u;
        int64_t id = 1 + (s >> 16) % 12;
        struct ks_policy_compiled *g = ks_policy_cache_get(w->c, id, 3);
        if (!g) {
            g = version_of(id, 3, (size_t)id);
            ks_policy_cache_put(w->c, g);
        }
        if (g->pv_id != id || g->p->version != 3 || g->p->n_rules != (size_t)id) {
            w->bad++;
        }
        ks_policy_compiled_unref(g);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct ks_policy_cache *c = NULL;
    assert_int_equal(ks_policy_cache_new(5, 40, &c), KS_OK);
    struct worker w[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){c, i + 1, 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].bad, 0);
    }
    struct ks_policy_cache_stats st;
    ks_policy_cache_stats(c, &st);
    assert_true(st.versions <= 5 && st.rules <= 40);
    assert_int_equal(st.hits + st.misses, 8000);
    ks_policy_cache_free(c);
}

static void test_args(void **state)
{
    (void)state;
    struct ks_policy_cache *c = NULL;
    assert_int_equal(ks_policy_cache_new(0, 1, &c), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_policy_cache_new(1, 0, &c), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_policy_cache_new(1, 1, NULL), KS_ERR_INVALID_ARG);
    assert_null(ks_policy_cache_get(NULL, 1, 1));
    ks_policy_cache_put(NULL, NULL);
    struct ks_policy_cache_stats st = {.versions = 7};
    ks_policy_cache_stats(NULL, &st);
    assert_int_equal(st.versions, 0);
    ks_policy_cache_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_put),
        cmocka_unit_test(test_eviction),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
