/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include <openssl/ec.h>
#include <openssl/x509.h>

#include "receipt.h"
#include "tpm_public.h"

static EVP_PKEY *gen(const char *alg, const char *param)
{
    EVP_PKEY *k = param ? EVP_PKEY_Q_keygen(NULL, NULL, alg, param)
                        : EVP_PKEY_Q_keygen(NULL, NULL, alg, (size_t)2048);
    assert_non_null(k);
    return k;
}

static size_t spki(EVP_PKEY *k, uint8_t **ret)
{
    *ret = NULL;
    int n = i2d_PUBKEY(k, ret);
    assert_true(n > 0);
    return (size_t)n;
}

static void test_sign_verify(void **state)
{
    EVP_PKEY *k = gen("EC", "P-256");
    uint8_t *der = NULL;
    size_t der_len = spki(k, &der);
    const uint8_t msg[] = "{\"ak_id\":\"000b00\"}";
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    assert_int_equal(ks_receipt_sign(k, msg, sizeof(msg) - 1, &sig, &sig_len), KS_OK);
    assert_true(sig_len > 8 && sig_len <= KS_RECEIPT_SIG_MAX);
    assert_int_equal(ks_receipt_verify(der, der_len, msg, sizeof(msg) - 1, sig, sig_len), KS_OK);
    /* Any change to the payload or the signature fails. */
    uint8_t bad[sizeof(msg)];
    memcpy(bad, msg, sizeof(msg));
    bad[3] ^= 1;
    assert_int_equal(ks_receipt_verify(der, der_len, bad, sizeof(msg) - 1, sig, sig_len),
                     KS_ERR_RECEIPT_SIGNATURE);
    for (size_t i = 0; i < sig_len; i++) {
        sig[i] ^= 0x40;
        assert_int_equal(ks_receipt_verify(der, der_len, msg, sizeof(msg) - 1, sig, sig_len),
                         KS_ERR_RECEIPT_SIGNATURE);
        sig[i] ^= 0x40;
    }
    assert_int_equal(ks_receipt_verify(der, der_len, msg, sizeof(msg) - 1, sig, sig_len - 1),
                     KS_ERR_RECEIPT_SIGNATURE);
    assert_int_equal(ks_receipt_verify(der, der_len, msg, sizeof(msg) - 1, sig, 0),
                     KS_ERR_RECEIPT_SIGNATURE);
    /* Another key's signature fails. */
    EVP_PKEY *k2 = gen("EC", "P-256");
    uint8_t *der2 = NULL;
    size_t der2_len = spki(k2, &der2);
    assert_int_equal(ks_receipt_verify(der2, der2_len, msg, sizeof(msg) - 1, sig, sig_len),
                     KS_ERR_RECEIPT_SIGNATURE);
    OPENSSL_free(sig);
    OPENSSL_free(der);
    OPENSSL_free(der2);
    EVP_PKEY_free(k);
    EVP_PKEY_free(k2);
}

/* A receipt made with openssl's own command line verifies (independent
 * signer: the DER signature format is the standard one). */
static void test_verify_external(void **state)
{
    EVP_PKEY *k = gen("EC", "P-256");
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    const uint8_t msg[] = "payload";
    uint8_t sig[80];
    size_t sig_len = sizeof(sig);
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k), 1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &sig_len, msg, 7), 1);
    uint8_t *der = NULL;
    size_t der_len = spki(k, &der);
    assert_int_equal(ks_receipt_verify(der, der_len, msg, 7, sig, sig_len), KS_OK);
    OPENSSL_free(der);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(k);
}

static void test_wrong_key_types(void **state)
{
    EVP_PKEY *rsa = gen("RSA", NULL);
    EVP_PKEY *p384 = gen("EC", "P-384");
    uint8_t *sig = (uint8_t *)0x1;
    size_t sig_len = 0;
    assert_int_equal(ks_receipt_sign(rsa, (const uint8_t *)"x", 1, &sig, &sig_len), KS_ERR_TPM_KEY);
    assert_int_equal(ks_receipt_sign(p384, (const uint8_t *)"x", 1, &sig, &sig_len),
                     KS_ERR_TPM_KEY);
    assert_ptr_equal(sig, (uint8_t *)0x1);
    uint8_t *der = NULL;
    size_t der_len = spki(p384, &der);
    uint8_t fake[70] = {0x30};
    assert_int_equal(ks_receipt_verify(der, der_len, (const uint8_t *)"x", 1, fake, 70),
                     KS_ERR_TPM_KEY);
    OPENSSL_free(der);
    /* Garbage or trailing bytes in the pinned key. */
    uint8_t junk[10] = {1, 2, 3};
    assert_int_equal(ks_receipt_verify(junk, 10, (const uint8_t *)"x", 1, fake, 70),
                     KS_ERR_TPM_KEY);
    EVP_PKEY *k = gen("EC", "P-256");
    uint8_t *good = NULL;
    size_t good_len = spki(k, &good);
    uint8_t *longer = malloc(good_len + 1);
    memcpy(longer, good, good_len);
    longer[good_len] = 0;
    assert_int_equal(ks_receipt_verify(longer, good_len + 1, (const uint8_t *)"x", 1, fake, 70),
                     KS_ERR_TPM_KEY);
    free(longer);
    OPENSSL_free(good);
    EVP_PKEY_free(k);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(p384);
}

static void test_null_args(void **state)
{
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    assert_int_equal(ks_receipt_sign(NULL, (const uint8_t *)"x", 1, &sig, &sig_len),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_receipt_verify(NULL, 0, (const uint8_t *)"x", 1, sig, 1),
                     KS_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_verify),
        cmocka_unit_test(test_verify_external),
        cmocka_unit_test(test_wrong_key_types),
        cmocka_unit_test(test_null_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
