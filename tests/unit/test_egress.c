/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include "loader-ref/egress.h"

/* The egress budget: fixed windows, charged only what fits, refusals
 * counted. */

static void test_init(void **state)
{
    (void)state;
    struct ks_egress e;
    assert_int_equal(ks_egress_init(&e, 0, 60, 0), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_egress_init(&e, 100, 0, 0), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_egress_init(NULL, 100, 60, 0), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_egress_check(NULL, 1, 0), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_egress_left(NULL, 0), 0);
    assert_int_equal(ks_egress_init(&e, 100, 60, 1000), KS_OK);
    assert_int_equal(ks_egress_left(&e, 1000), 100);
}

static void test_budget(void **state)
{
    (void)state;
    struct ks_egress e;
    assert_int_equal(ks_egress_init(&e, 100, 60, 1000), KS_OK);
    assert_int_equal(ks_egress_check(&e, 100, 1000), KS_OK);
    assert_int_equal(ks_egress_check(&e, 101, 1000), KS_ERR_EGRESS);
    assert_int_equal(ks_egress_take(&e, 60, 1001), KS_OK);
    assert_int_equal(ks_egress_left(&e, 1001), 40);
    /* 41 does not fit: refused, counted, nothing charged. */
    assert_int_equal(ks_egress_take(&e, 41, 1002), KS_ERR_EGRESS);
    assert_int_equal(e.refused, 1);
    assert_int_equal(e.refused_bytes, 41);
    assert_int_equal(ks_egress_left(&e, 1002), 40);
    assert_int_equal(ks_egress_take(&e, 40, 1059), KS_OK);
    assert_int_equal(ks_egress_take(&e, 1, 1059), KS_ERR_EGRESS);
    assert_int_equal(e.sent_total, 100);
    /* The next window (from second 1060) starts empty. */
    assert_int_equal(ks_egress_take(&e, 100, 1060), KS_OK);
    assert_int_equal(ks_egress_left(&e, 1119), 0);
    /* Several windows later: still aligned on the start. */
    assert_int_equal(ks_egress_left(&e, 1000 + 60 * 5 + 59), 100);
    assert_int_equal(e.start, 1000 + 60 * 5);
    assert_int_equal(e.sent_total, 200);
    assert_int_equal(e.refused, 2);
}

static void test_clock_back(void **state)
{
    (void)state;
    struct ks_egress e;
    assert_int_equal(ks_egress_init(&e, 10, 5, 100), KS_OK);
    assert_int_equal(ks_egress_take(&e, 10, 100), KS_OK);
    /* A clock that went back does not open a new window. */
    assert_int_equal(ks_egress_take(&e, 1, 50), KS_ERR_EGRESS);
    assert_int_equal(ks_egress_take(&e, 1, 105), KS_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_clock_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
