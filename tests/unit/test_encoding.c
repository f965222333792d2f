/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include "encoding.h"

static void test_hex_roundtrip(void **state)
{
    const uint8_t in[] = {0x00, 0x01, 0xab, 0xff};
    char out[9];
    ks_hex_encode(in, sizeof(in), out);
    assert_string_equal(out, "0001abff");
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(ks_hex_decode("0001ABff", &buf, &len), KS_OK);
    assert_int_equal(len, 4);
    assert_memory_equal(buf, in, 4);
    free(buf);
}

static void test_hex_decode_rejects(void **state)
{
    uint8_t *buf = (uint8_t *)0x1;
    size_t len = 77;
    assert_int_equal(ks_hex_decode("abc", &buf, &len), KS_ERR_HEX);
    assert_int_equal(ks_hex_decode("zz", &buf, &len), KS_ERR_HEX);
    assert_int_equal(ks_hex_decode("0 ", &buf, &len), KS_ERR_HEX);
    assert_int_equal(ks_hex_decode(NULL, &buf, &len), KS_ERR_INVALID_ARG);
    /* Outputs untouched on failure. */
    assert_ptr_equal(buf, (uint8_t *)0x1);
    assert_int_equal(len, 77);
}

static void test_hex_empty(void **state)
{
    uint8_t *buf = NULL;
    size_t len = 1;
    assert_int_equal(ks_hex_decode("", &buf, &len), KS_OK);
    assert_non_null(buf);
    assert_int_equal(len, 0);
    free(buf);
}

static void test_hex_decode_fixed(void **state)
{
    uint8_t out[2] = {9, 9};
    assert_int_equal(ks_hex_decode_fixed("a1b2", out, 2), KS_OK);
    assert_int_equal(out[0], 0xa1);
    assert_int_equal(out[1], 0xb2);
    assert_int_equal(ks_hex_decode_fixed("a1b2c3", out, 2), KS_ERR_HEX);
    assert_int_equal(ks_hex_decode_fixed("a1", out, 2), KS_ERR_HEX);
    uint8_t keep[2] = {7, 7};
    assert_int_equal(ks_hex_decode_fixed("a1xx", keep, 2), KS_ERR_HEX);
    assert_int_equal(keep[0], 7);
    assert_int_equal(ks_hex_decode_fixed(NULL, out, 2), KS_ERR_INVALID_ARG);
}

/* RFC 4648 section 10 test vectors. */
static void test_base64_rfc4648(void **state)
{
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char *e = NULL;
        assert_int_equal(ks_base64_encode((const uint8_t *)plain[i], strlen(plain[i]), &e), KS_OK);
        assert_string_equal(e, enc[i]);
        free(e);
        uint8_t *d = NULL;
        size_t dlen = 0;
        assert_int_equal(ks_base64_decode(enc[i], strlen(enc[i]), &d, &dlen), KS_OK);
        assert_int_equal(dlen, strlen(plain[i]));
        assert_memory_equal(d, plain[i], dlen);
        free(d);
    }
}

static void test_base64_strict(void **state)
{
    const char *bad[] = {
        "Zg",       /* missing padding */
        "Zg=",      /* short padding */
        "Zh==",     /* non-canonical trailing bits */
        "Zm9=",     /* non-canonical trailing bits */
        "Zm9v\n",   /* whitespace */
        "Zm 9v",    /* whitespace inside */
        "Zm-_",     /* URL alphabet */
        "Zg==Zg==", /* padding in the middle */
        "A===",     /* too much padding */
        "====",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t *d = NULL;
        size_t dlen = 0;
        assert_int_equal(ks_base64_decode(bad[i], strlen(bad[i]), &d, &dlen), KS_ERR_BASE64);
        assert_null(d);
    }
    uint8_t *d = NULL;
    size_t dlen = 0;
    assert_int_equal(ks_base64_decode(NULL, 0, &d, &dlen), KS_ERR_INVALID_ARG);
    char *e = NULL;
    assert_int_equal(ks_base64_encode(NULL, 3, &e), KS_ERR_INVALID_ARG);
}

static void test_base64_binary_roundtrip(void **state)
{
    uint8_t in[256];
    for (int i = 0; i < 256; i++) {
        in[i] = (uint8_t)(255 - i);
    }
    for (size_t n = 0; n <= sizeof(in); n++) {
        char *e = NULL;
        assert_int_equal(ks_base64_encode(in, n, &e), KS_OK);
        uint8_t *d = NULL;
        size_t dlen = 0;
        assert_int_equal(ks_base64_decode(e, strlen(e), &d, &dlen), KS_OK);
        assert_int_equal(dlen, n);
        assert_memory_equal(d, in, n);
        free(d);
        free(e);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_roundtrip),
        cmocka_unit_test(test_hex_decode_rejects),
        cmocka_unit_test(test_hex_empty),
        cmocka_unit_test(test_hex_decode_fixed),
        cmocka_unit_test(test_base64_rfc4648),
        cmocka_unit_test(test_base64_strict),
        cmocka_unit_test(test_base64_binary_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
