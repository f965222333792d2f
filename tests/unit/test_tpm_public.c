/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>

#include "encoding.h"
#include "tpm_public.h"

/*
 * Oracles: the AK files and expected.json of tests/data/quotes (tpm2-tools
 * 5.4 + swtpm, and keylime's tpm2-tools fixture): Names as tpm2-tools wrote
 * them (ak.name), PEM keys from tpm2_readpublic -f pem, attributes as
 * tpm2_readpublic prints them.
 */

#define SWTPM "quotes/swtpm-rsa-rsassa/"
#define KEYLIME "quotes/keylime-tpm2-tools-fixture/"

static const char swtpm_n[] =
    "a356fba9a3db24e6e31c36ac097e4842671a76c4896b663ea222d2a37bad194938e987a7afb79b9b335d036f1f4b"
    "b51fd1f92753576008166a285dcad5fb39a300ee33b60e4561419ea1eb619aa92647438f96bbe1d7fb52f6c43025"
    "563fbcd683f701bede4dfec0c8175739c4e4814b1ec0e4b2e3190a1602605cd195f5dac9a01acd49f69abddcba1c"
    "b7672e78bd470867caad534948a7ffa404adfddfd7932ad8fc14bb032b37fb7394ab1e4a69ea3997defa5758103d"
    "77b5a9151491f7241f5a6caec9c109a3672dfd5a67f3c6b28fde6680f8e2ac6122f124bf675fd36b7de944637b45"
    "fdabd768cd7831467a0d3ffa0c7c83ebeacd83a72a11dab8619d";
static const char swtpm_name[] =
    "000b5f2f0e343a0e1677edb68bba487dd6930c8e41ac780085cc7a681e87679e35bb";
static const char keylime_name[] =
    "000b2d3fb7830f6cb214fac7d7cb213a21a0609148c4505927db61287e1e80322336";

static TPMT_PUBLIC load_pub(const char *rel)
{
    size_t len;
    uint8_t *buf = unit_read(rel, &len);
    TPMT_PUBLIC pub;
    assert_int_equal(ks_tpm_public_decode(buf, len, &pub), KS_OK);
    free(buf);
    return pub;
}

static EVP_PKEY *load_pem(const char *rel)
{
    size_t len;
    uint8_t *buf = unit_read(rel, &len);
    EVP_PKEY *pkey = NULL;
    assert_int_equal(ks_tpm_public_load_spki(buf, len, &pkey), KS_OK);
    free(buf);
    return pkey;
}

/* An AK-shaped public area for a key made here (RSA or EC). */
static TPMT_PUBLIC pub_from_pkey(EVP_PKEY *pkey)
{
    TPMT_PUBLIC pub;
    memset(&pub, 0, sizeof(pub));
    pub.nameAlg = TPM2_ALG_SHA256;
    pub.objectAttributes = KS_AK_ATTRS_REQUIRED | TPMA_OBJECT_USERWITHAUTH;
    if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA) {
        BIGNUM *n = NULL;
        int bits = EVP_PKEY_get_bits(pkey);
        pub.type = TPM2_ALG_RSA;
        pub.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
        pub.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
        pub.parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
        pub.parameters.rsaDetail.keyBits = (uint16_t)bits;
        assert_int_equal(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n), 1);
        pub.unique.rsa.size = (uint16_t)(bits / 8);
        assert_int_equal(BN_bn2binpad(n, pub.unique.rsa.buffer, bits / 8), bits / 8);
        BN_free(n);
    } else {
        uint8_t pt[1 + 2 * 66];
        size_t ptlen = 0;
        char group[64];
        assert_int_equal(EVP_PKEY_get_group_name(pkey, group, sizeof(group), NULL), 1);
        pub.type = TPM2_ALG_ECC;
        pub.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
        pub.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
        pub.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
        pub.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
        pub.parameters.eccDetail.curveID = strcmp(group, "prime256v1") == 0  ? TPM2_ECC_NIST_P256
                                           : strcmp(group, "secp384r1") == 0 ? TPM2_ECC_NIST_P384
                                                                             : TPM2_ECC_NIST_P521;
        assert_int_equal(EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                                         pt, sizeof(pt), &ptlen),
                         1);
        size_t f = (ptlen - 1) / 2;
        pub.unique.ecc.x.size = (uint16_t)f;
        pub.unique.ecc.y.size = (uint16_t)f;
        memcpy(pub.unique.ecc.x.buffer, pt + 1, f);
        memcpy(pub.unique.ecc.y.buffer, pt + 1 + f, f);
    }
    return pub;
}

/* ---- decoding ----------------------------------------------------------- */

static void test_decode_swtpm_fields(void **state)
{
    TPMT_PUBLIC pub = load_pub(SWTPM "ak.tpm2b_public.bin");
    /* expected.json "ak" */
    assert_int_equal(pub.type, 1);
    assert_int_equal(pub.nameAlg, 11);
    assert_int_equal(pub.objectAttributes, 327794);
    assert_int_equal(pub.authPolicy.size, 0);
    assert_int_equal(pub.parameters.rsaDetail.symmetric.algorithm, 16);
    assert_int_equal(pub.parameters.rsaDetail.scheme.scheme, 20);
    assert_int_equal(pub.parameters.rsaDetail.scheme.details.anySig.hashAlg, 11);
    assert_int_equal(pub.parameters.rsaDetail.keyBits, 2048);
    assert_int_equal(pub.parameters.rsaDetail.exponent, 0); /* means 65537 */
    char hex[2 * 256 + 1];
    assert_int_equal(pub.unique.rsa.size, 256);
    ks_hex_encode(pub.unique.rsa.buffer, 256, hex);
    assert_string_equal(hex, swtpm_n);
}

static void test_decode_tpmt(void **state)
{
    size_t len;
    uint8_t *buf = unit_read(SWTPM "ak.tpm2b_public.bin", &len);
    TPMT_PUBLIC a, b;
    assert_int_equal(ks_tpm_public_decode(buf, len, &a), KS_OK);
    assert_int_equal(ks_tpm_public_decode_tpmt(buf + 2, len - 2, &b), KS_OK);
    assert_memory_equal(&a, &b, sizeof(a));
    /* A TPM2B fed as TPMT does not decode, nor the reverse. */
    assert_int_not_equal(ks_tpm_public_decode_tpmt(buf, len, &b), KS_OK);
    assert_int_not_equal(ks_tpm_public_decode(buf + 2, len - 2, &b), KS_OK);
    free(buf);
}

static void test_decode_truncated(void **state)
{
    size_t len;
    uint8_t *buf = unit_read(SWTPM "ak.tpm2b_public.bin", &len);
    TPMT_PUBLIC pub;
    memset(&pub, 0x5a, sizeof(pub));
    TPMT_PUBLIC before = pub;
    for (size_t n = 0; n < len; n++) {
        assert_int_equal(ks_tpm_public_decode(buf, n, &pub), KS_ERR_TPM_UNMARSHAL);
    }
    for (size_t n = 0; n < len - 2; n++) {
        assert_int_equal(ks_tpm_public_decode_tpmt(buf + 2, n, &pub), KS_ERR_TPM_UNMARSHAL);
    }
    /* ret_* untouched on failure */
    assert_memory_equal(&pub, &before, sizeof(pub));
    free(buf);
}

static void test_decode_trailing(void **state)
{
    size_t len;
    uint8_t *buf = unit_read(SWTPM "ak.tpm2b_public.bin", &len);
    uint8_t *big = calloc(1, len + 1);
    memcpy(big, buf, len);
    TPMT_PUBLIC pub;
    assert_int_equal(ks_tpm_public_decode(big, len + 1, &pub), KS_ERR_TPM_TRAILING);
    assert_int_equal(ks_tpm_public_decode_tpmt(big + 2, len - 1, &pub), KS_ERR_TPM_TRAILING);
    /* Size prefix one larger, with the extra byte present: the size does
     * not describe the TPMT_PUBLIC (tpm2-tss's TPM2B_PUBLIC unmarshaling
     * would accept it). */
    big[1]++;
    assert_int_equal(ks_tpm_public_decode(big, len + 1, &pub), KS_ERR_TPM_UNMARSHAL);
    /* Size prefix one smaller than its contents: not accepted either. */
    memcpy(big, buf, len);
    big[1]--;
    assert_int_equal(ks_tpm_public_decode(big, len, &pub), KS_ERR_TPM_UNMARSHAL);
    free(big);
    free(buf);
}

static void test_decode_malformed(void **state)
{
    size_t len;
    uint8_t *buf = unit_read(SWTPM "ak.tpm2b_public.bin", &len);
    TPMT_PUBLIC pub;
    /* type 0x0099 is not a TPMI_ALG_PUBLIC */
    buf[2] = 0x00;
    buf[3] = 0x99;
    assert_int_equal(ks_tpm_public_decode(buf, len, &pub), KS_ERR_TPM_UNMARSHAL);
    /* an RSA modulus size past TPM2B_PUBLIC_KEY_RSA's buffer */
    free(buf);
    buf = unit_read(SWTPM "ak.tpm2b_public.bin", &len);
    buf[24] = 0xff; /* unique.rsa.size high byte (offset 2+22) */
    /* Regression: tpm2-tss 3.2's Tss2_MU_TPM2B_PUBLIC_Unmarshal reports
     * success on this input after reading only the size prefix. */
    assert_int_equal(ks_tpm_public_decode(buf, len, &pub), KS_ERR_TPM_UNMARSHAL);
    assert_int_equal(ks_tpm_public_decode_tpmt(buf + 2, len - 2, &pub), KS_ERR_TPM_UNMARSHAL);
    /* a size prefix of zero (an empty TPM2B_PUBLIC) is no key */
    uint8_t zero[2] = {0, 0};
    assert_int_equal(ks_tpm_public_decode(zero, 2, &pub), KS_ERR_TPM_UNMARSHAL);
    assert_int_equal(ks_tpm_public_decode(NULL, len, &pub), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_tpm_public_decode(buf, len, NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_tpm_public_decode_tpmt(NULL, len, &pub), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_tpm_public_decode_tpmt(buf, len, NULL), KS_ERR_INVALID_ARG);
    free(buf);
}

/* ---- names ---------------------------------------------------------------- */

static void check_name_file(const char *pub_rel, const char *name_rel, const char *hex_expect)
{
    TPMT_PUBLIC pub = load_pub(pub_rel);
    size_t nlen;
    uint8_t *name_file = unit_read(name_rel, &nlen);
    uint8_t name[KS_TPM_NAME_MAX];
    size_t len = 0;
    char hex[KS_TPM_NAME_HEX_MAX];
    assert_int_equal(ks_tpm_public_name(&pub, name, &len), KS_OK);
    assert_int_equal(len, 34);
    assert_int_equal(len, nlen);
    assert_memory_equal(name, name_file, len);
    assert_int_equal(ks_tpm_public_name_hex(&pub, hex), KS_OK);
    assert_string_equal(hex, hex_expect);
    assert_int_equal(ks_tpm_public_check_name(&pub, name_file, nlen), KS_OK);
    free(name_file);
}

static void test_name(void **state)
{
    check_name_file(SWTPM "ak.tpm2b_public.bin", SWTPM "ak.name", swtpm_name);
    check_name_file(KEYLIME "ak.pub", KEYLIME "ak.name", keylime_name);
}

static void test_name_errors(void **state)
{
    TPMT_PUBLIC pub = load_pub(SWTPM "ak.tpm2b_public.bin");
    uint8_t name[KS_TPM_NAME_MAX];
    size_t len = 0;
    char hex[KS_TPM_NAME_HEX_MAX];
    assert_int_equal(ks_tpm_public_name(&pub, name, &len), KS_OK);
    name[5] ^= 1;
    assert_int_equal(ks_tpm_public_check_name(&pub, name, len), KS_ERR_TPM_NAME);
    name[5] ^= 1;
    assert_int_equal(ks_tpm_public_check_name(&pub, name, len - 1), KS_ERR_TPM_NAME);
    assert_int_equal(ks_tpm_public_check_name(&pub, NULL, 0), KS_ERR_TPM_NAME);
    assert_int_equal(ks_tpm_public_check_name(&pub, NULL, 3), KS_ERR_INVALID_ARG);
    /* SM3-256 names are not supported */
    pub.nameAlg = TPM2_ALG_SM3_256;
    len = 77;
    assert_int_equal(ks_tpm_public_name(&pub, name, &len), KS_ERR_TPM_ALG);
    assert_int_equal(len, 77);
    assert_int_equal(ks_tpm_public_name_hex(&pub, hex), KS_ERR_TPM_ALG);
    assert_int_equal(ks_tpm_public_check_name(&pub, name, 34), KS_ERR_TPM_ALG);
    /* a SHA-384 name has 50 bytes and starts with 000c */
    pub.nameAlg = TPM2_ALG_SHA384;
    assert_int_equal(ks_tpm_public_name(&pub, name, &len), KS_OK);
    assert_int_equal(len, 50);
    assert_int_equal(name[0], 0x00);
    assert_int_equal(name[1], 0x0c);
    /* a public area that does not marshal (type 0) */
    pub.type = 0;
    assert_int_equal(ks_tpm_public_name(&pub, name, &len), KS_ERR_TPM_UNMARSHAL);
    assert_int_equal(ks_tpm_public_name(NULL, name, &len), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_tpm_public_name(&pub, NULL, &len), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_tpm_public_name(&pub, name, NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_tpm_public_name_hex(NULL, hex), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_tpm_public_name_hex(&pub, NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_tpm_public_check_name(NULL, name, 34), KS_ERR_INVALID_ARG);
}

/* ---- keys --------------------------------------------------------------- */

static void test_to_evp_rsa(void **state)
{
    TPMT_PUBLIC pub = load_pub(SWTPM "ak.tpm2b_public.bin");
    EVP_PKEY *pkey = NULL;
    assert_int_equal(ks_tpm_public_to_evp(&pub, &pkey), KS_OK);
    assert_int_equal(EVP_PKEY_get_bits(pkey), 2048);
    BIGNUM *e = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e), 1);
    assert_true(BN_is_word(e, 65537));
    BN_free(e);
    /* tpm2_readpublic -f pem of the same key */
    EVP_PKEY *pem = load_pem(SWTPM "ak.pem");
    assert_int_equal(EVP_PKEY_eq(pkey, pem), 1);
    assert_int_equal(ks_tpm_public_matches(&pub, pem), KS_OK);
    EVP_PKEY *other = load_pem(KEYLIME "akpub.pem");
    assert_int_equal(ks_tpm_public_matches(&pub, other), KS_ERR_TPM_KEY_MISMATCH);
    TPMT_PUBLIC kpub = load_pub(KEYLIME "ak.pub");
    assert_int_equal(ks_tpm_public_matches(&kpub, other), KS_OK);
    assert_int_equal(ks_tpm_public_matches(NULL, other), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_tpm_public_matches(&kpub, NULL), KS_ERR_INVALID_ARG);
    /* a public area that cannot be converted */
    kpub.parameters.rsaDetail.keyBits = 1024;
    assert_int_equal(ks_tpm_public_matches(&kpub, other), KS_ERR_TPM_KEY);
    /* explicit exponent 65537 is the same key */
    pub.parameters.rsaDetail.exponent = 65537;
    assert_int_equal(ks_tpm_public_matches(&pub, pem), KS_OK);
    EVP_PKEY_free(other);
    EVP_PKEY_free(pem);
    EVP_PKEY_free(pkey);
}

static void test_to_evp_rsa_rejects(void **state)
{
    TPMT_PUBLIC good = load_pub(SWTPM "ak.tpm2b_public.bin");
    TPMT_PUBLIC pub;
    EVP_PKEY *pkey = NULL;

    /* RSA-1024, a real key of that size */
    EVP_PKEY *k1024 = EVP_RSA_gen(1024);
    assert_non_null(k1024);
    pub = pub_from_pkey(k1024);
    assert_int_equal(ks_tpm_public_to_evp(&pub, &pkey), KS_ERR_TPM_KEY);
    assert_int_equal(ks_tpm_public_check_pkey(k1024), KS_ERR_TPM_KEY);
    EVP_PKEY_free(k1024);

    pub = good; /* keyBits and modulus size disagree */
    pub.parameters.rsaDetail.keyBits = 3072;
    assert_int_equal(ks_tpm_public_to_evp(&pub, &pkey), KS_ERR_TPM_KEY);
    pub = good; /* 4096 is not supported */
    pub.parameters.rsaDetail.keyBits = 4096;
    assert_int_equal(ks_tpm_public_to_evp(&pub, &pkey), KS_ERR_TPM_KEY);
    pub = good; /* modulus with its top bit clear: not a 2048-bit key */
    pub.unique.rsa.buffer[0] = 0x7f;
    assert_int_equal(ks_tpm_public_to_evp(&pub, &pkey), KS_ERR_TPM_KEY);
    pub = good; /* even modulus: OpenSSL's public check refuses it */
    pub.unique.rsa.buffer[255] &= 0xfe;
    assert_int_equal(ks_tpm_public_to_evp(&pub, &pkey), KS_ERR_TPM_KEY);
    pub = good; /* small and even exponents */
    pub.parameters.rsaDetail.exponent = 3;
    assert_int_equal(ks_tpm_public_to_evp(&pub, &pkey), KS_ERR_TPM_KEY);
    pub.parameters.rsaDetail.exponent = 1;
    assert_int_equal(ks_tpm_public_to_evp(&pub, &pkey), KS_ERR_TPM_KEY);
    pub.parameters.rsaDetail.exponent = 65538;
    assert_int_equal(ks_tpm_public_to_evp(&pub, &pkey), KS_ERR_TPM_KEY);
    pub = good; /* not an asymmetric key */
    pub.type = TPM2_ALG_KEYEDHASH;
    assert_int_equal(ks_tpm_public_to_evp(&pub, &pkey), KS_ERR_TPM_KEY);
    pub.type = TPM2_ALG_SYMCIPHER;
    assert_int_equal(ks_tpm_public_to_evp(&pub, &pkey), KS_ERR_TPM_KEY);
    assert_null(pkey);
    assert_int_equal(ks_tpm_public_to_evp(NULL, &pkey), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_tpm_public_to_evp(&good, NULL), KS_ERR_INVALID_ARG);
}

static void test_to_evp_rsa3072(void **state)
{
    EVP_PKEY *k = EVP_RSA_gen(3072);
    assert_non_null(k);
    TPMT_PUBLIC pub = pub_from_pkey(k);
    EVP_PKEY *pkey = NULL;
    assert_int_equal(ks_tpm_public_to_evp(&pub, &pkey), KS_OK);
    assert_int_equal(EVP_PKEY_eq(pkey, k), 1);
    assert_int_equal(ks_tpm_public_check_pkey(pkey), KS_OK);
    EVP_PKEY_free(pkey);
    EVP_PKEY_free(k);
}

static void check_ec_roundtrip(const char *curve)
{
    EVP_PKEY *k = EVP_EC_gen(curve);
    assert_non_null(k);
    TPMT_PUBLIC pub = pub_from_pkey(k);
    EVP_PKEY *pkey = NULL;
    assert_int_equal(ks_tpm_public_to_evp(&pub, &pkey), KS_OK);
    assert_int_equal(EVP_PKEY_eq(pkey, k), 1);
    assert_int_equal(ks_tpm_public_matches(&pub, k), KS_OK);
    assert_int_equal(ks_tpm_public_check_pkey(pkey), KS_OK);
    EVP_PKEY_free(pkey);
    pkey = NULL;

    /* a point not on the curve */
    TPMT_PUBLIC bad = pub;
    bad.unique.ecc.y.buffer[bad.unique.ecc.y.size - 1] ^= 1;
    assert_int_equal(ks_tpm_public_to_evp(&bad, &pkey), KS_ERR_TPM_KEY);
    /* a coordinate past the field size, or empty */
    bad = pub;
    bad.unique.ecc.x.size++;
    assert_int_equal(ks_tpm_public_to_evp(&bad, &pkey), KS_ERR_TPM_KEY);
    bad = pub;
    bad.unique.ecc.y.size = 0;
    assert_int_equal(ks_tpm_public_to_evp(&bad, &pkey), KS_ERR_TPM_KEY);
    /* the same coordinates on the other curve are not a valid point */
    bad = pub;
    bad.parameters.eccDetail.curveID = pub.parameters.eccDetail.curveID == TPM2_ECC_NIST_P256
                                           ? TPM2_ECC_NIST_P384
                                           : TPM2_ECC_NIST_P256;
    assert_int_equal(ks_tpm_public_to_evp(&bad, &pkey), KS_ERR_TPM_KEY);
    assert_null(pkey);
    EVP_PKEY_free(k);
}

static void test_to_evp_ecc(void **state)
{
    check_ec_roundtrip("P-256");
    check_ec_roundtrip("P-384");
}

static void test_to_evp_ecc_short_coordinate(void **state)
{
    /* A TPM2B_ECC_PARAMETER may drop leading zero bytes: find a key whose x
     * starts with a zero byte (1 in 256) and strip it. */
    for (int i = 0; i < 4096; i++) {
        EVP_PKEY *k = EVP_EC_gen("P-256");
        assert_non_null(k);
        TPMT_PUBLIC pub = pub_from_pkey(k);
        if (pub.unique.ecc.x.buffer[0] != 0) {
            EVP_PKEY_free(k);
            continue;
        }
        memmove(pub.unique.ecc.x.buffer, pub.unique.ecc.x.buffer + 1, 31);
        pub.unique.ecc.x.size = 31;
        EVP_PKEY *pkey = NULL;
        assert_int_equal(ks_tpm_public_to_evp(&pub, &pkey), KS_OK);
        assert_int_equal(EVP_PKEY_eq(pkey, k), 1);
        EVP_PKEY_free(pkey);
        EVP_PKEY_free(k);
        return;
    }
    fail_msg("no P-256 key with a leading zero byte in 4096 tries");
}

static void test_to_evp_ecc_other_curves(void **state)
{
    EVP_PKEY *k = EVP_EC_gen("P-521");
    assert_non_null(k);
    TPMT_PUBLIC pub = pub_from_pkey(k);
    EVP_PKEY *pkey = NULL;
    assert_int_equal(pub.parameters.eccDetail.curveID, TPM2_ECC_NIST_P521);
    assert_int_equal(ks_tpm_public_to_evp(&pub, &pkey), KS_ERR_TPM_KEY);
    assert_int_equal(ks_tpm_public_check_pkey(k), KS_ERR_TPM_KEY);
    pub.parameters.eccDetail.curveID = TPM2_ECC_BN_P256;
    assert_int_equal(ks_tpm_public_to_evp(&pub, &pkey), KS_ERR_TPM_KEY);
    pub.parameters.eccDetail.curveID = TPM2_ECC_SM2_P256;
    assert_int_equal(ks_tpm_public_to_evp(&pub, &pkey), KS_ERR_TPM_KEY);
    EVP_PKEY_free(k);
    k = EVP_EC_gen("secp256k1");
    assert_non_null(k);
    assert_int_equal(ks_tpm_public_check_pkey(k), KS_ERR_TPM_KEY);
    EVP_PKEY_free(k);
}

/* ---- SubjectPublicKeyInfo ---------------------------------------------------------- */

static void test_load_spki(void **state)
{
    size_t len;
    uint8_t *pem = unit_read(SWTPM "ak.pem", &len);
    EVP_PKEY *a = NULL, *b = NULL;
    assert_int_equal(ks_tpm_public_load_spki(pem, len, &a), KS_OK);
    /* the DER form of the same key */
    unsigned char *der = NULL;
    int dlen = i2d_PUBKEY(a, &der);
    assert_true(dlen > 0);
    assert_int_equal(ks_tpm_public_load_spki(der, (size_t)dlen, &b), KS_OK);
    assert_int_equal(EVP_PKEY_eq(a, b), 1);
    TPMT_PUBLIC pub = load_pub(SWTPM "ak.tpm2b_public.bin");
    assert_int_equal(ks_tpm_public_matches(&pub, b), KS_OK);
    EVP_PKEY_free(b);
    b = NULL;

    /* DER with a trailing byte */
    uint8_t *big = calloc(1, (size_t)dlen + 1);
    memcpy(big, der, (size_t)dlen);
    assert_int_equal(ks_tpm_public_load_spki(big, (size_t)dlen + 1, &b), KS_ERR_TPM_TRAILING);
    /* truncated DER and PEM, garbage, empty */
    assert_int_equal(ks_tpm_public_load_spki(der, (size_t)dlen - 1, &b), KS_ERR_TPM_UNMARSHAL);
    assert_int_equal(ks_tpm_public_load_spki(pem, 40, &b), KS_ERR_TPM_UNMARSHAL);
    assert_int_equal(ks_tpm_public_load_spki((const uint8_t *)"hello", 5, &b),
                     KS_ERR_TPM_UNMARSHAL);
    assert_int_equal(ks_tpm_public_load_spki(pem, 0, &b), KS_ERR_TPM_UNMARSHAL);
    /* a TPM2B_PUBLIC is not an SPKI */
    size_t plen;
    uint8_t *tpm2b = unit_read(SWTPM "ak.tpm2b_public.bin", &plen);
    assert_int_equal(ks_tpm_public_load_spki(tpm2b, plen, &b), KS_ERR_TPM_UNMARSHAL);
    free(tpm2b);
    /* too large */
    uint8_t *huge = calloc(1, 100000);
    assert_int_equal(ks_tpm_public_load_spki(huge, 100000, &b), KS_ERR_TOO_LARGE);
    free(huge);
    assert_null(b);
    assert_int_equal(ks_tpm_public_load_spki(NULL, len, &b), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_tpm_public_load_spki(pem, len, NULL), KS_ERR_INVALID_ARG);

    free(big);
    OPENSSL_free(der);
    free(pem);
    EVP_PKEY_free(a);
}

static uint8_t *pem_of(EVP_PKEY *k, size_t *ret_len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(bio, k), 1);
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    uint8_t *out = malloc((size_t)n);
    memcpy(out, data, (size_t)n);
    *ret_len = (size_t)n;
    BIO_free(bio);
    return out;
}

static void test_load_spki_unsupported(void **state)
{
    const char *types[] = {"RSA1024", "P-521", "ED25519", "X25519", "RSA3-2048"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        EVP_PKEY *k = NULL;
        if (strcmp(types[i], "RSA1024") == 0) {
            k = EVP_RSA_gen(1024);
        } else if (strcmp(types[i], "P-521") == 0) {
            k = EVP_EC_gen("P-521");
        } else if (strcmp(types[i], "RSA3-2048") == 0) {
            /* RSA-2048 with public exponent 3 */
            EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
            BIGNUM *e = BN_new();
            BN_set_word(e, 3);
            assert_int_equal(EVP_PKEY_keygen_init(ctx), 1);
            assert_int_equal(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048), 1);
            assert_int_equal(EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, e), 1);
            assert_int_equal(EVP_PKEY_keygen(ctx, &k), 1);
            BN_free(e);
            EVP_PKEY_CTX_free(ctx);
        } else {
            k = EVP_PKEY_Q_keygen(NULL, NULL, types[i]);
        }
        assert_non_null(k);
        size_t len;
        uint8_t *pem = pem_of(k, &len);
        EVP_PKEY *out = NULL;
        assert_int_equal(ks_tpm_public_load_spki(pem, len, &out), KS_ERR_TPM_KEY);
        assert_int_equal(ks_tpm_public_check_pkey(k), KS_ERR_TPM_KEY);
        assert_null(out);
        free(pem);
        EVP_PKEY_free(k);
    }
    assert_int_equal(ks_tpm_public_check_pkey(NULL), KS_ERR_INVALID_ARG);
}

/* ---- attributes --------------------------------------------------------- */

static void test_ak_attributes(void **state)
{
    TPMT_PUBLIC pub = load_pub(SWTPM "ak.tpm2b_public.bin");
    char buf[256];
    assert_int_equal(ks_tpm_public_ak_attr_problems(&pub), 0);
    assert_int_equal(ks_tpm_public_check_ak(&pub), KS_OK);
    /* tpm2_readpublic prints this AK's attributes as
     * fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign */
    ks_tpm_attr_names(pub.objectAttributes, buf, sizeof(buf));
    assert_string_equal(buf,
                        "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign");

    /* userWithAuth is not judged here */
    pub.objectAttributes &= ~TPMA_OBJECT_USERWITHAUTH;
    assert_int_equal(ks_tpm_public_check_ak(&pub), KS_OK);

    static const uint32_t required[] = {TPMA_OBJECT_RESTRICTED, TPMA_OBJECT_SIGN_ENCRYPT,
                                        TPMA_OBJECT_FIXEDTPM, TPMA_OBJECT_FIXEDPARENT,
                                        TPMA_OBJECT_SENSITIVEDATAORIGIN};
    for (size_t i = 0; i < 5; i++) {
        TPMT_PUBLIC p = pub;
        p.objectAttributes &= ~required[i];
        assert_int_equal(ks_tpm_public_ak_attr_problems(&p), required[i]);
        assert_int_equal(ks_tpm_public_check_ak(&p), KS_ERR_TPM_ATTRIBUTES);
    }
    TPMT_PUBLIC p = pub;
    p.objectAttributes |= TPMA_OBJECT_DECRYPT;
    assert_int_equal(ks_tpm_public_ak_attr_problems(&p), TPMA_OBJECT_DECRYPT);
    assert_int_equal(ks_tpm_public_check_ak(&p), KS_ERR_TPM_ATTRIBUTES);
    ks_tpm_attr_names(ks_tpm_public_ak_attr_problems(&p), buf, sizeof(buf));
    assert_string_equal(buf, "decrypt");

    /* keylime's EK (objectAttributes 0x300b2): a restricted decryption key,
     * not a signing key */
    TPMT_PUBLIC ek = load_pub(KEYLIME "ek.pub");
    assert_int_equal(ek.objectAttributes, 0x300b2);
    assert_int_equal(ks_tpm_public_ak_attr_problems(&ek),
                     TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_DECRYPT);
    assert_int_equal(ks_tpm_public_check_ak(&ek), KS_ERR_TPM_ATTRIBUTES);
    ks_tpm_attr_names(ks_tpm_public_ak_attr_problems(&ek), buf, sizeof(buf));
    assert_string_equal(buf, "decrypt|sign");

    assert_int_equal(ks_tpm_public_check_ak(NULL), KS_ERR_INVALID_ARG);
    assert_int_not_equal(ks_tpm_public_ak_attr_problems(NULL), 0);
}

static void test_attr_names(void **state)
{
    char buf[256];
    assert_int_equal(ks_tpm_attr_names(0, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "");
    assert_int_equal(ks_tpm_attr_names(0x300b2, buf, sizeof(buf)),
                     strlen("fixedtpm|fixedparent|sensitivedataorigin|adminwithpolicy|"
                            "restricted|decrypt"));
    assert_string_equal(buf, "fixedtpm|fixedparent|sensitivedataorigin|adminwithpolicy|restricted|"
                             "decrypt");
    /* reserved bits are shown in hex */
    ks_tpm_attr_names(TPMA_OBJECT_NODA | 0x1 | 0x80000000u, buf, sizeof(buf));
    assert_string_equal(buf, "noda|0x80000001");
    /* truncation keeps the NUL and reports the length needed */
    char small[6];
    assert_int_equal(ks_tpm_attr_names(TPMA_OBJECT_FIXEDTPM, small, sizeof(small)), 8);
    assert_string_equal(small, "fixed");
    assert_int_equal(ks_tpm_attr_names(TPMA_OBJECT_FIXEDTPM, NULL, 0), 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_swtpm_fields),
        cmocka_unit_test(test_decode_tpmt),
        cmocka_unit_test(test_decode_truncated),
        cmocka_unit_test(test_decode_trailing),
        cmocka_unit_test(test_decode_malformed),
        cmocka_unit_test(test_name),
        cmocka_unit_test(test_name_errors),
        cmocka_unit_test(test_to_evp_rsa),
        cmocka_unit_test(test_to_evp_rsa_rejects),
        cmocka_unit_test(test_to_evp_rsa3072),
        cmocka_unit_test(test_to_evp_ecc),
        cmocka_unit_test(test_to_evp_ecc_short_coordinate),
        cmocka_unit_test(test_to_evp_ecc_other_curves),
        cmocka_unit_test(test_load_spki),
        cmocka_unit_test(test_load_spki_unsupported),
        cmocka_unit_test(test_ak_attributes),
        cmocka_unit_test(test_attr_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
