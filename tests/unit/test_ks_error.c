/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include "ks_error.h"

/* Every defined code has its own message, distinct from the fallback. */
static void test_strerror_all_codes_distinct(void **state)
{
    const char *seen[512] = {0};
    int n = 0;
    for (int code = 0; code >= -500; code--) {
        const char *s = ks_strerror(code);
        assert_non_null(s);
        if (strcmp(s, "unknown error") == 0) {
            continue;
        }
        for (int i = 0; i < n; i++) {
            assert_string_not_equal(seen[i], s);
        }
        seen[n++] = s;
    }
    assert_true(n > 40);
    /* the last block (lib/shamir) is covered */
    assert_string_not_equal(ks_strerror(KS_ERR_SHAMIR_MISMATCH), "unknown error");
}

static void test_strerror_unknown(void **state)
{
    assert_string_equal(ks_strerror(-9999), "unknown error");
    assert_string_equal(ks_strerror(12345), "unknown error");
    assert_string_equal(ks_strerror(KS_OK), "success");
}

static void test_exit_codes(void **state)
{
    assert_int_equal(ks_error_exit_code(KS_OK), 0);
    assert_int_equal(ks_error_exit_code(KS_ERR_QUOTE_SIG_INVALID), 1);
    assert_int_equal(ks_error_exit_code(KS_ERR_EVLOG_TRUNCATED), 1);
    assert_int_equal(ks_error_exit_code(KS_ERR_INVALID_ARG), 2);
    assert_int_equal(ks_error_exit_code(KS_ERR_NOMEM), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror_all_codes_distinct),
        cmocka_unit_test(test_strerror_unknown),
        cmocka_unit_test(test_exit_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
