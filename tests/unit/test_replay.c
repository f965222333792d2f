/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include "loader-ref/replay.h"

/* The loader's replay cache: exact within the window, bounded, fail closed
 * when full. */

static void enc_of(unsigned i, uint8_t enc[32])
{
    memset(enc, 0, 32);
    enc[0] = (uint8_t)i;
    enc[1] = (uint8_t)(i >> 8);
    enc[31] = 0x5a;
}

static void test_new_invalid(void **state)
{
    (void)state;
    struct ks_replay *c = NULL;
    assert_int_equal(ks_replay_new(0, 10, &c), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_replay_new(KS_REPLAY_CAPACITY_MAX + 1, 10, &c), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_replay_new(4, 0, &c), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_replay_new(4, 10, NULL), KS_ERR_INVALID_ARG);
    assert_null(c);
    ks_replay_free(NULL);
    assert_int_equal(ks_replay_count(NULL), 0);
}

static void test_replay_and_stale(void **state)
{
    (void)state;
    struct ks_replay *c = NULL;
    uint8_t a[32], b[32];
    enc_of(1, a);
    enc_of(2, b);
    assert_int_equal(ks_replay_new(8, 300, &c), KS_OK);
    assert_int_equal(ks_replay_check(c, a, 1000, 1000), KS_OK);
    assert_int_equal(ks_replay_add(c, a, 1000, 1000), KS_OK);
    assert_int_equal(ks_replay_count(c), 1);
    /* The same enc: a replay, whatever time it claims. */
    assert_int_equal(ks_replay_check(c, a, 1000, 1001), KS_ERR_INFER_REPLAY);
    assert_int_equal(ks_replay_add(c, a, 1100, 1200), KS_ERR_INFER_REPLAY);
    assert_int_equal(ks_replay_check(c, b, 1000, 1001), KS_OK);
    /* The window, both ways, boundaries included. */
    assert_int_equal(ks_replay_check(c, b, 700, 1000), KS_OK);
    assert_int_equal(ks_replay_check(c, b, 699, 1000), KS_ERR_INFER_STALE);
    assert_int_equal(ks_replay_check(c, b, 1300, 1000), KS_OK);
    assert_int_equal(ks_replay_check(c, b, 1301, 1000), KS_ERR_INFER_STALE);
    assert_int_equal(ks_replay_add(c, b, 0, 1000), KS_ERR_INFER_STALE);
    assert_int_equal(ks_replay_count(c), 1);
    /* Once a's time is out of the window a replay of it is stale anyway. */
    assert_int_equal(ks_replay_check(c, a, 1000, 1301), KS_ERR_INFER_STALE);
    assert_int_equal(ks_replay_check(NULL, a, 1, 1), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_replay_check(c, NULL, 1, 1), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_replay_add(NULL, a, 1, 1), KS_ERR_INVALID_ARG);
    ks_replay_free(c);
}

static void test_full_then_swept(void **state)
{
    (void)state;
    struct ks_replay *c = NULL;
    uint8_t e[32];
    assert_int_equal(ks_replay_new(3, 10, &c), KS_OK);
    for (unsigned i = 0; i < 3; i++) {
        enc_of(i, e);
        assert_int_equal(ks_replay_add(c, e, 100 + i, 100 + i), KS_OK);
    }
    /* Full of entries still in the window: refused, nothing forgotten. */
    enc_of(3, e);
    assert_int_equal(ks_replay_add(c, e, 105, 105), KS_ERR_REPLAY_FULL);
    assert_int_equal(ks_replay_count(c), 3);
    enc_of(0, e);
    assert_int_equal(ks_replay_check(c, e, 105, 105), KS_ERR_INFER_REPLAY);
    /* At 111 the first (issued 100) is out of the window: swept. */
    enc_of(3, e);
    assert_int_equal(ks_replay_add(c, e, 111, 111), KS_OK);
    assert_int_equal(ks_replay_count(c), 3);
    for (unsigned i = 1; i < 4; i++) {
        enc_of(i, e);
        assert_int_equal(ks_replay_check(c, e, 111, 111), KS_ERR_INFER_REPLAY);
    }
    ks_replay_free(c);
}

static void test_many(void **state)
{
    (void)state;
    struct ks_replay *c = NULL;
    uint8_t e[32];
    assert_int_equal(ks_replay_new(5000, 60, &c), KS_OK);
    for (unsigned i = 0; i < 5000; i++) {
        enc_of(i, e);
        assert_int_equal(ks_replay_add(c, e, 50, 50), KS_OK);
    }
    for (unsigned i = 0; i < 5000; i++) {
        enc_of(i, e);
        assert_int_equal(ks_replay_check(c, e, 50, 50), KS_ERR_INFER_REPLAY);
    }
    enc_of(5000, e);
    assert_int_equal(ks_replay_check(c, e, 50, 50), KS_OK);
    assert_int_equal(ks_replay_add(c, e, 50, 50), KS_ERR_REPLAY_FULL);
    ks_replay_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_invalid),
        cmocka_unit_test(test_replay_and_stale),
        cmocka_unit_test(test_full_then_swept),
        cmocka_unit_test(test_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
