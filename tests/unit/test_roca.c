/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include <ctype.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "encoding.h"
#include "roca.h"
#include "tpm_public.h"

/*
 * The ROCA fingerprint. Oracles: a modulus the authors of the ROCA paper
 * publish as a positive sample (tests/data/roca/mod03.txt), a modulus their
 * test suite lists as positive for the residue method used here, and keys
 * that are not fingerprinted: fresh OpenSSL keys, the RSA AK and EK of the
 * tpm2-tools fixtures, swtpm's AK.
 */

/* The positive sample, big-endian bytes. */
static uint8_t *weak_modulus(size_t *len)
{
    size_t flen;
    uint8_t *text = unit_read("roca/mod03.txt", &flen);
    char *s = (char *)text;
    if (strncmp(s, "0x", 2) == 0) {
        s += 2;
    }
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) {
        s[--n] = '\0';
    }
    uint8_t *mod = NULL;
    assert_int_equal(ks_hex_decode(s, &mod, len), KS_OK);
    free(text);
    return mod;
}

static void test_published_weak_modulus(void **state)
{
    size_t len;
    uint8_t *n = weak_modulus(&len);
    assert_int_equal(len, 256);
    assert_int_equal(ks_roca_check_modulus(n, len), KS_ERR_ROCA_WEAK);
    /* Changing it by 2 (it stays odd) leaves the subgroup for some prime. */
    n[len - 1] ^= 2;
    assert_int_equal(ks_roca_check_modulus(n, len), KS_OK);
    free(n);
}

/* roca's test suite: a 1024-bit "fake" modulus that is positive for the
 * residue (moduli) method, as this test is. */
static void test_suite_residue_positive(void **state)
{
    BIGNUM *bn = NULL;
    assert_true(BN_dec2bn(
        &bn, "724141289739678726883327365350176142086203682420157971027960868278827540062602040"
             "617995470049837314267775964456588898868610270450337600149480480674679479603182054"
             "537789739758675329104892279701430911847257602901729358727522223203341000977304836"
             "00892686353719855397381316384244147860260153198611313067061116317"));
    uint8_t buf[128];
    int len = BN_bn2bin(bn, buf);
    assert_int_equal(ks_roca_check_modulus(buf, (size_t)len), KS_ERR_ROCA_WEAK);
    BN_free(bn);
}

static void test_fresh_keys_not_weak(void **state)
{
    for (int i = 0; i < 4; i++) {
        EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        assert_non_null(k);
        assert_int_equal(ks_roca_check_pkey(k), KS_OK);
        EVP_PKEY_free(k);
    }
    /* Not RSA: nothing to check. */
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_int_equal(ks_roca_check_pkey(ec), KS_OK);
    EVP_PKEY_free(ec);
}

static void test_weak_pkey_and_tpm_public(void **state)
{
    size_t len;
    uint8_t *n = weak_modulus(&len);
    /* As an OpenSSL public key. */
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bn = BN_bin2bn(n, (int)len, NULL), *e = BN_new();
    assert_true(BN_set_word(e, 65537));
    assert_true(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn));
    assert_true(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e));
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *pkey = NULL;
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params), 1);
    assert_int_equal(ks_roca_check_pkey(pkey), KS_ERR_ROCA_WEAK);
    /* As a TPM public area: swtpm's RSA AK with the modulus replaced. */
    size_t pub_len;
    uint8_t *blob = unit_read("quotes/swtpm-rsa-rsassa/ak.tpm2b_public.bin", &pub_len);
    TPMT_PUBLIC pub;
    assert_int_equal(ks_tpm_public_decode(blob, pub_len, &pub), KS_OK);
    assert_int_equal(ks_roca_check_tpm_public(&pub), KS_OK);
    memcpy(pub.unique.rsa.buffer, n, len);
    pub.unique.rsa.size = (UINT16)len;
    assert_int_equal(ks_roca_check_tpm_public(&pub), KS_ERR_ROCA_WEAK);
    pub.unique.rsa.size = (UINT16)(sizeof(pub.unique.rsa.buffer) + 1);
    assert_int_equal(ks_roca_check_tpm_public(&pub), KS_ERR_INVALID_ARG);
    pub.type = TPM2_ALG_ECC;
    assert_int_equal(ks_roca_check_tpm_public(&pub), KS_OK);
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(e);
    free(blob);
    free(n);
}

static void test_fixture_keys_not_weak(void **state)
{
    static const char *const files[] = {
        "quotes/keylime-tpm2-tools-fixture/ek.pub",
        "quotes/keylime-tpm2-tools-fixture/ak.pub",
        "makecred/ek-rsa2048.pub",
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        size_t len;
        uint8_t *blob = unit_read(files[i], &len);
        TPMT_PUBLIC pub;
        assert_int_equal(ks_tpm_public_decode(blob, len, &pub), KS_OK);
        assert_int_equal(pub.type, TPM2_ALG_RSA);
        assert_int_equal(ks_roca_check_tpm_public(&pub), KS_OK);
        free(blob);
    }
}

static void test_errors(void **state)
{
    static const uint8_t one = 1;
    assert_int_equal(ks_roca_check_modulus(NULL, 4), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_roca_check_modulus(&one, 0), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_roca_check_pkey(NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_roca_check_tpm_public(NULL), KS_ERR_INVALID_ARG);
    /* 1 is 65537^0 modulo every prime: it has the fingerprint. */
    assert_int_equal(ks_roca_check_modulus(&one, 1), KS_ERR_ROCA_WEAK);
    /* 0 is in no multiplicative group. */
    static const uint8_t zero = 0;
    assert_int_equal(ks_roca_check_modulus(&zero, 1), KS_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_published_weak_modulus),
        cmocka_unit_test(test_suite_residue_positive),
        cmocka_unit_test(test_fresh_keys_not_weak),
        cmocka_unit_test(test_weak_pkey_and_tpm_public),
        cmocka_unit_test(test_fixture_keys_not_weak),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
