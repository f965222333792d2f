/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include "encoding.h"
#include "tpm_attest.h"

/* Oracles: expected.json of tests/data/quotes (decoded by tpm2_print and
 * Python independently), pcr_selection.txt as tpm2-tools spells it. */

#define SWTPM "quotes/swtpm-rsa-rsassa/"
#define KEYLIME "quotes/keylime-tpm2-tools-fixture/"
#define RUSTKL "quotes/rust-keylime-test-quote/"

static void hex_equal(const uint8_t *buf, size_t len, const char *hex)
{
    char *h = malloc(2 * len + 1);
    ks_hex_encode(buf, len, h);
    assert_string_equal(h, hex);
    free(h);
}

static TPMS_ATTEST load_attest(const char *rel)
{
    size_t len;
    uint8_t *buf = unit_read(rel, &len);
    TPMS_ATTEST a;
    assert_int_equal(ks_tpm_attest_decode(buf, len, &a), KS_OK);
    free(buf);
    return a;
}

static void test_attest_swtpm(void **state)
{
    TPMS_ATTEST a = load_attest(SWTPM "quote.tpms_attest.bin");
    assert_int_equal(a.magic, 0xff544347);
    assert_int_equal(a.type, 0x8018);
    hex_equal(a.qualifiedSigner.name, a.qualifiedSigner.size,
              "000b2b8f3ca02eb8fe631e9506afdd3895ca3f5a5fe28c3dec3261dd9fb35c378f89");
    hex_equal(a.extraData.buffer, a.extraData.size, "3e68c5f1197bc9b560629f98da8d374d0f5bdbee");
    assert_int_equal(a.clockInfo.clock, 2279);
    assert_int_equal(a.clockInfo.resetCount, 2);
    assert_int_equal(a.clockInfo.restartCount, 0);
    assert_int_equal(a.clockInfo.safe, 1);
    assert_int_equal(a.firmwareVersion, 0x2019102300163636ULL);
    const TPML_PCR_SELECTION *sel = &a.attested.quote.pcrSelect;
    assert_int_equal(sel->count, 1);
    assert_int_equal(sel->pcrSelections[0].hash, 0x000b);
    assert_int_equal(ks_pcr_selection_validate(sel), KS_OK);
    assert_int_equal(ks_pcr_selection_mask(&sel->pcrSelections[0]), 0x8000ff);
    assert_int_equal(ks_pcr_selection_count(sel), 9);
    hex_equal(a.attested.quote.pcrDigest.buffer, a.attested.quote.pcrDigest.size,
              "83a816aae22fef2ec41d283a5d37f5e574b3b70b50e1ca9fb9a700b107a261e9");
    char buf[128];
    size_t n = ks_pcr_selection_format(sel, buf, sizeof(buf));
    size_t tlen;
    char *txt = (char *)unit_read(SWTPM "pcr_selection.txt", &tlen);
    txt[strcspn(txt, "\n")] = '\0';
    assert_string_equal(buf, txt);
    assert_int_equal(n, strlen(txt));
    free(txt);
}

static void test_attest_keylime(void **state)
{
    TPMS_ATTEST a = load_attest(KEYLIME "quote.out");
    assert_int_equal(a.magic, 0xff544347);
    assert_int_equal(a.type, 0x8018);
    hex_equal(a.qualifiedSigner.name, a.qualifiedSigner.size,
              "000b7ca54a622c87f30888b6da66f51e4a31ccb723cad8daa111a5006b44342dd623");
    hex_equal(a.extraData.buffer, a.extraData.size, "db1db298db6d60e6385b7231743e9c3056a18003");
    assert_int_equal(a.clockInfo.clock, 5994);
    assert_int_equal(a.clockInfo.resetCount, 0);
    assert_int_equal(a.clockInfo.restartCount, 0);
    assert_int_equal(a.clockInfo.safe, 1);
    assert_int_equal(a.firmwareVersion, 0x2016051100162800ULL);
    char buf[128];
    ks_pcr_selection_format(&a.attested.quote.pcrSelect, buf, sizeof(buf));
    assert_string_equal(buf, "sha256:15,16,22");
    hex_equal(a.attested.quote.pcrDigest.buffer, a.attested.quote.pcrDigest.size,
              "ec1636c69c548fd09a165a4f874e5d1610a8fbe36241566017e92b17e144b971");
}

static void test_attest_rust_keylime(void **state)
{
    TPMS_ATTEST a = load_attest(RUSTKL "quote.tpms_attest.bin");
    assert_int_equal(a.magic, 0xff544347);
    assert_int_equal(a.type, 0x8018);
    hex_equal(a.qualifiedSigner.name, a.qualifiedSigner.size,
              "0004f8a13f6cb3f87706174bc3d1ce2a88ab789ef48e");
    hex_equal(a.extraData.buffer, a.extraData.size, "54455354");
    assert_int_equal(a.clockInfo.clock, 3294160);
    assert_int_equal(a.clockInfo.safe, 1);
    assert_int_equal(a.firmwareVersion, 0x2019102300163636ULL);
    char buf[128];
    ks_pcr_selection_format(&a.attested.quote.pcrSelect, buf, sizeof(buf));
    assert_string_equal(buf, "sha1:16");
    hex_equal(a.attested.quote.pcrDigest.buffer, a.attested.quote.pcrDigest.size,
              "2924e189a14040a0591f8c9c7a93f737ed73727c");
}

static void test_attest_truncated_trailing(void **state)
{
    size_t len;
    uint8_t *buf = unit_read(SWTPM "quote.tpms_attest.bin", &len);
    TPMS_ATTEST a;
    memset(&a, 0x5a, sizeof(a));
    for (size_t n = 0; n < len; n++) {
        assert_int_equal(ks_tpm_attest_decode(buf, n, &a), KS_ERR_TPM_UNMARSHAL);
    }
    assert_int_equal(a.magic, 0x5a5a5a5a); /* untouched */
    uint8_t *big = calloc(1, len + 1);
    memcpy(big, buf, len);
    assert_int_equal(ks_tpm_attest_decode(big, len + 1, &a), KS_ERR_TPM_TRAILING);
    /* unknown attestation type: TPMU_ATTEST has no member for it */
    buf[4] = 0x80;
    buf[5] = 0x99;
    assert_int_equal(ks_tpm_attest_decode(buf, len, &a), KS_ERR_TPM_UNMARSHAL);
    /* larger than any TPM2B_ATTEST */
    uint8_t *huge = calloc(1, 8192);
    assert_int_equal(ks_tpm_attest_decode(huge, 8192, &a), KS_ERR_TPM_UNMARSHAL);
    free(huge);
    assert_int_equal(ks_tpm_attest_decode(NULL, len, &a), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_tpm_attest_decode(buf, len, NULL), KS_ERR_INVALID_ARG);
    free(big);
    free(buf);
}

static void test_attest_tpm2b(void **state)
{
    size_t len;
    uint8_t *buf = unit_read(SWTPM "quote.tpms_attest.bin", &len);
    uint8_t *b2 = calloc(1, len + 3);
    b2[0] = (uint8_t)(len >> 8);
    b2[1] = (uint8_t)len;
    memcpy(b2 + 2, buf, len);
    TPMS_ATTEST a, b;
    assert_int_equal(ks_tpm_attest_decode(buf, len, &a), KS_OK);
    assert_int_equal(ks_tpm_attest_decode_tpm2b(b2, len + 2, &b), KS_OK);
    assert_memory_equal(&a, &b, sizeof(a));
    /* the raw form is not a TPM2B_ATTEST and the reverse */
    assert_int_not_equal(ks_tpm_attest_decode_tpm2b(buf, len, &b), KS_OK);
    assert_int_not_equal(ks_tpm_attest_decode(b2, len + 2, &b), KS_OK);
    /* a byte after the TPM2B */
    assert_int_equal(ks_tpm_attest_decode_tpm2b(b2, len + 3, &b), KS_ERR_TPM_TRAILING);
    /* size prefix larger than what follows */
    assert_int_equal(ks_tpm_attest_decode_tpm2b(b2, len + 1, &b), KS_ERR_TPM_UNMARSHAL);
    /* size prefix covering a byte the TPMS_ATTEST does not use */
    b2[1]++;
    assert_int_equal(ks_tpm_attest_decode_tpm2b(b2, len + 3, &b), KS_ERR_TPM_TRAILING);
    /* no room for the size */
    assert_int_equal(ks_tpm_attest_decode_tpm2b(b2, 1, &b), KS_ERR_TPM_UNMARSHAL);
    assert_int_equal(ks_tpm_attest_decode_tpm2b(NULL, 1, &b), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_tpm_attest_decode_tpm2b(b2, 1, NULL), KS_ERR_INVALID_ARG);
    free(b2);
    free(buf);
}

static void test_signature(void **state)
{
    size_t len;
    uint8_t *buf = unit_read(SWTPM "quote.tpmt_signature.bin", &len);
    TPMT_SIGNATURE s;
    assert_int_equal(ks_tpm_signature_decode(buf, len, &s), KS_OK);
    /* expected.json "signature": sigAlg 0x14 (RSASSA), hash 0xb (SHA-256) */
    assert_int_equal(s.sigAlg, 0x14);
    assert_int_equal(s.signature.rsassa.hash, 0x0b);
    assert_int_equal(s.signature.rsassa.sig.size, 256);
    /* tpm2_quote.yaml's sig starts 4051ec8f */
    hex_equal(s.signature.rsassa.sig.buffer, 4, "4051ec8f");

    for (size_t n = 0; n < len; n++) {
        assert_int_equal(ks_tpm_signature_decode(buf, n, &s), KS_ERR_TPM_UNMARSHAL);
    }
    uint8_t *big = calloc(1, len + 1);
    memcpy(big, buf, len);
    assert_int_equal(ks_tpm_signature_decode(big, len + 1, &s), KS_ERR_TPM_TRAILING);
    /* unknown signature algorithm */
    big[0] = 0x00;
    big[1] = 0x99;
    assert_int_equal(ks_tpm_signature_decode(big, len, &s), KS_ERR_TPM_UNMARSHAL);
    /* RSA signature size beyond TPM2B_PUBLIC_KEY_RSA */
    memcpy(big, buf, len);
    big[4] = 0x03;
    assert_int_equal(ks_tpm_signature_decode(big, len, &s), KS_ERR_TPM_UNMARSHAL);
    /* rust-keylime's: RSASSA with SHA-1 (decodes; policy is quote.c's) */
    free(buf);
    buf = unit_read(RUSTKL "quote.tpmt_signature.bin", &len);
    assert_int_equal(ks_tpm_signature_decode(buf, len, &s), KS_OK);
    assert_int_equal(s.sigAlg, 0x14);
    assert_int_equal(s.signature.rsassa.hash, 0x04);
    assert_int_equal(ks_tpm_signature_decode(NULL, len, &s), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_tpm_signature_decode(buf, len, NULL), KS_ERR_INVALID_ARG);
    free(big);
    free(buf);
}

static TPMS_PCR_SELECTION sel_of(uint16_t hash, uint8_t size, uint32_t mask)
{
    TPMS_PCR_SELECTION s;
    memset(&s, 0, sizeof(s));
    s.hash = hash;
    s.sizeofSelect = size;
    for (int i = 0; i < 4; i++) {
        s.pcrSelect[i] = (uint8_t)(mask >> (8 * i));
    }
    return s;
}

static void test_selection_validate(void **state)
{
    TPML_PCR_SELECTION sel;
    memset(&sel, 0, sizeof(sel));
    assert_int_equal(ks_pcr_selection_validate(&sel), KS_OK); /* empty */
    assert_int_equal(ks_pcr_selection_count(&sel), 0);

    sel.count = 2;
    sel.pcrSelections[0] = sel_of(TPM2_ALG_SHA1, 3, 0x00ffff);
    sel.pcrSelections[1] = sel_of(TPM2_ALG_SHA256, 3, 0xffffff);
    assert_int_equal(ks_pcr_selection_validate(&sel), KS_OK);
    assert_int_equal(ks_pcr_selection_count(&sel), 40);
    assert_true(ks_pcr_selection_has(&sel, TPM2_ALG_SHA1, 15));
    assert_false(ks_pcr_selection_has(&sel, TPM2_ALG_SHA1, 16));
    assert_true(ks_pcr_selection_has(&sel, TPM2_ALG_SHA256, 23));
    assert_false(ks_pcr_selection_has(&sel, TPM2_ALG_SHA384, 0));
    assert_false(ks_pcr_selection_has(&sel, TPM2_ALG_SHA256, 40));
    assert_false(ks_pcr_selection_has(NULL, TPM2_ALG_SHA256, 0));
    char buf[256];
    ks_pcr_selection_format(&sel, buf, sizeof(buf));
    assert_string_equal(buf, "sha1:0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15+sha256:0,1,2,3,4,5,6,7,"
                             "8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23");

    /* all four banks */
    sel.count = 4;
    sel.pcrSelections[2] = sel_of(TPM2_ALG_SHA384, 3, 1);
    sel.pcrSelections[3] = sel_of(TPM2_ALG_SHA512, 3, 1);
    assert_int_equal(ks_pcr_selection_validate(&sel), KS_OK);
    /* a bank twice */
    sel.pcrSelections[3] = sel_of(TPM2_ALG_SHA1, 3, 1);
    assert_int_equal(ks_pcr_selection_validate(&sel), KS_ERR_QUOTE_PCR_SELECTION);
    /* more banks than supported hashes */
    sel.count = 5;
    sel.pcrSelections[3] = sel_of(TPM2_ALG_SHA512, 3, 1);
    sel.pcrSelections[4] = sel_of(TPM2_ALG_SM3_256, 3, 1);
    assert_int_equal(ks_pcr_selection_validate(&sel), KS_ERR_QUOTE_PCR_SELECTION);

    sel.count = 1;
    /* unsupported hash */
    sel.pcrSelections[0] = sel_of(TPM2_ALG_SM3_256, 3, 1);
    assert_int_equal(ks_pcr_selection_validate(&sel), KS_ERR_QUOTE_PCR_SELECTION);
    sel.pcrSelections[0] = sel_of(TPM2_ALG_NULL, 3, 1);
    assert_int_equal(ks_pcr_selection_validate(&sel), KS_ERR_QUOTE_PCR_SELECTION);
    ks_pcr_selection_format(&sel, buf, sizeof(buf));
    assert_string_equal(buf, "0x0010:0");
    /* sizeofSelect */
    sel.pcrSelections[0] = sel_of(TPM2_ALG_SHA256, 2, 1);
    assert_int_equal(ks_pcr_selection_validate(&sel), KS_ERR_QUOTE_PCR_SELECTION);
    sel.pcrSelections[0] = sel_of(TPM2_ALG_SHA256, 0, 0);
    assert_int_equal(ks_pcr_selection_validate(&sel), KS_ERR_QUOTE_PCR_SELECTION);
    sel.pcrSelections[0] = sel_of(TPM2_ALG_SHA256, 4, 0x00ffffff);
    assert_int_equal(ks_pcr_selection_validate(&sel), KS_OK);
    assert_int_equal(ks_pcr_selection_count(&sel), 24);
    sel.pcrSelections[0] = sel_of(TPM2_ALG_SHA256, 4, 0x01000000); /* PCR 24 */
    assert_int_equal(ks_pcr_selection_validate(&sel), KS_ERR_QUOTE_PCR_SELECTION);
    sel.pcrSelections[0] = sel_of(TPM2_ALG_SHA256, 5, 1);
    assert_int_equal(ks_pcr_selection_validate(&sel), KS_ERR_QUOTE_PCR_SELECTION);
    /* bits beyond sizeofSelect do not count */
    sel.pcrSelections[0] = sel_of(TPM2_ALG_SHA256, 3, 0xff000001);
    assert_int_equal(ks_pcr_selection_mask(&sel.pcrSelections[0]), 1);
    assert_int_equal(ks_pcr_selection_validate(&sel), KS_OK);
    assert_int_equal(ks_pcr_selection_validate(NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_pcr_selection_mask(NULL), 0);
    assert_int_equal(ks_pcr_selection_count(NULL), 0);
    /* truncated formatting */
    char small[5];
    sel.pcrSelections[0] = sel_of(TPM2_ALG_SHA256, 3, 1);
    assert_int_equal(ks_pcr_selection_format(&sel, small, sizeof(small)), 8);
    assert_string_equal(small, "sha2");
    assert_int_equal(ks_pcr_selection_format(NULL, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attest_swtpm),
        cmocka_unit_test(test_attest_keylime),
        cmocka_unit_test(test_attest_rust_keylime),
        cmocka_unit_test(test_attest_truncated_trailing),
        cmocka_unit_test(test_attest_tpm2b),
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_selection_validate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
