/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include "encoding.h"
#include "tpm_alg.h"

static void test_sizes_and_names(void **state)
{
    assert_int_equal(ks_alg_digest_size(KS_ALG_SHA1), 20);
    assert_int_equal(ks_alg_digest_size(KS_ALG_SHA256), 32);
    assert_int_equal(ks_alg_digest_size(KS_ALG_SHA384), 48);
    assert_int_equal(ks_alg_digest_size(KS_ALG_SHA512), 64);
    assert_int_equal(ks_alg_digest_size(0x0012 /* SM3_256 */), 0);
    assert_string_equal(ks_alg_name(KS_ALG_SHA384), "sha384");
    assert_null(ks_alg_name(0x0010));
    assert_int_equal(ks_alg_bank_index(KS_ALG_SHA1), 0);
    assert_int_equal(ks_alg_bank_index(KS_ALG_SHA512), 3);
    assert_int_equal(ks_alg_bank_index(0x0001), -1);
}

static void test_from_name(void **state)
{
    uint16_t alg = 0;
    assert_int_equal(ks_alg_from_name("sha256", &alg), KS_OK);
    assert_int_equal(alg, KS_ALG_SHA256);
    alg = 0x77;
    assert_int_equal(ks_alg_from_name("SHA256", &alg), KS_ERR_TPM_ALG);
    assert_int_equal(ks_alg_from_name("md5", &alg), KS_ERR_TPM_ALG);
    assert_int_equal(alg, 0x77);
    assert_int_equal(ks_alg_from_name(NULL, &alg), KS_ERR_INVALID_ARG);
}

static void test_md(void **state)
{
    /* The fetched implementation of the right digest, the same object on
     * every call (fetched once). */
    assert_non_null(ks_alg_md(KS_ALG_SHA256));
    assert_int_equal(EVP_MD_get_type(ks_alg_md(KS_ALG_SHA256)), EVP_MD_get_type(EVP_sha256()));
    assert_int_equal(EVP_MD_get_type(ks_alg_md(KS_ALG_SHA1)), EVP_MD_get_type(EVP_sha1()));
    assert_int_equal(EVP_MD_get_size(ks_alg_md(KS_ALG_SHA384)), 48);
    assert_int_equal(EVP_MD_get_size(ks_alg_md(KS_ALG_SHA512)), 64);
    assert_ptr_equal(ks_alg_md(KS_ALG_SHA256), ks_alg_md(KS_ALG_SHA256));
    assert_null(ks_alg_md(0x0000));
}

/* FIPS 180-2 "abc" vectors; the hash may be split across the two inputs. */
static void test_hash(void **state)
{
    uint8_t out[64];
    char hex[129];
    assert_int_equal(
        ks_alg_hash(KS_ALG_SHA256, (const uint8_t *)"a", 1, (const uint8_t *)"bc", 2, out), KS_OK);
    ks_hex_encode(out, 32, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(ks_alg_hash(KS_ALG_SHA1, (const uint8_t *)"abc", 3, NULL, 0, out), KS_OK);
    ks_hex_encode(out, 20, hex);
    assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
    assert_int_equal(ks_alg_hash(0x0001, NULL, 0, NULL, 0, out), KS_ERR_TPM_ALG);
    assert_int_equal(ks_alg_hash(KS_ALG_SHA256, NULL, 3, NULL, 0, out), KS_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes_and_names),
        cmocka_unit_test(test_from_name),
        cmocka_unit_test(test_md),
        cmocka_unit_test(test_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
