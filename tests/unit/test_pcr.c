/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include "encoding.h"
#include "pcr.h"

static void test_put_get(void **state)
{
    struct ks_pcr_set set;
    ks_pcr_set_init(&set);
    uint8_t v[32];
    memset(v, 0xab, sizeof(v));
    const uint8_t *got = NULL;
    assert_int_equal(ks_pcr_set_get(&set, KS_ALG_SHA256, 7, &got), KS_ERR_PCR_BANK);
    assert_false(ks_pcr_bank_enabled(&set, KS_ALG_SHA256));
    assert_int_equal(ks_pcr_set_put(&set, KS_ALG_SHA256, 7, v, 32), KS_OK);
    assert_true(ks_pcr_bank_enabled(&set, KS_ALG_SHA256));
    assert_int_equal(ks_pcr_set_get(&set, KS_ALG_SHA256, 7, &got), KS_OK);
    assert_memory_equal(got, v, 32);
    assert_true(ks_pcr_set_has(&set, KS_ALG_SHA256, 7));
    assert_false(ks_pcr_set_has(&set, KS_ALG_SHA256, 8));
    assert_int_equal(ks_pcr_set_get(&set, KS_ALG_SHA256, 8, &got), KS_ERR_PCR_INDEX);
    assert_int_equal(ks_pcr_set_get(&set, KS_ALG_SHA256, 24, &got), KS_ERR_PCR_INDEX);
}

static void test_put_rejects(void **state)
{
    struct ks_pcr_set set;
    ks_pcr_set_init(&set);
    uint8_t v[64] = {0};
    assert_int_equal(ks_pcr_set_put(&set, KS_ALG_SHA256, 24, v, 32), KS_ERR_PCR_INDEX);
    assert_int_equal(ks_pcr_set_put(&set, KS_ALG_SHA256, 0, v, 20), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_pcr_set_put(&set, 0x0012, 0, v, 32), KS_ERR_TPM_ALG);
    assert_int_equal(ks_pcr_set_put(NULL, KS_ALG_SHA256, 0, v, 32), KS_ERR_INVALID_ARG);
    assert_false(ks_pcr_bank_enabled(&set, KS_ALG_SHA256));
}

/* Extending zero with zero in SHA-256: a well-known value. */
static void test_extend(void **state)
{
    struct ks_pcr_set set;
    ks_pcr_set_init(&set);
    uint8_t zero[32] = {0};
    assert_int_equal(ks_pcr_extend(&set, KS_ALG_SHA256, 0, zero, 32), KS_OK);
    const uint8_t *got = NULL;
    assert_int_equal(ks_pcr_set_get(&set, KS_ALG_SHA256, 0, &got), KS_OK);
    char hex[65];
    ks_hex_encode(got, 32, hex);
    assert_string_equal(hex, "f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b");
    assert_int_equal(ks_pcr_extend(&set, KS_ALG_SHA256, 24, zero, 32), KS_ERR_PCR_INDEX);
    assert_int_equal(ks_pcr_extend(&set, KS_ALG_SHA256, 1, zero, 20), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_pcr_extend(&set, 0x0001, 1, zero, 32), KS_ERR_TPM_ALG);
}

static void test_bank_enable(void **state)
{
    struct ks_pcr_set set;
    ks_pcr_set_init(&set);
    assert_int_equal(ks_pcr_bank_enable(&set, KS_ALG_SHA384), KS_OK);
    assert_true(ks_pcr_bank_enabled(&set, KS_ALG_SHA384));
    assert_false(ks_pcr_set_has(&set, KS_ALG_SHA384, 0));
    assert_int_equal(ks_pcr_bank_enable(&set, 0x0099), KS_ERR_TPM_ALG);
    assert_int_equal(ks_pcr_bank_enable(NULL, KS_ALG_SHA1), KS_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get),
        cmocka_unit_test(test_put_rejects),
        cmocka_unit_test(test_extend),
        cmocka_unit_test(test_bank_enable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
