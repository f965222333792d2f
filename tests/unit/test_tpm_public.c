/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

/* placeholder: the real tests are being written */
static void test_placeholder(void **state)
{
    skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_placeholder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
