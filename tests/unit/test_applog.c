/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include "encoding.h"
#include "eventlog.h"
#include "loader-ref/applog.h"
#include "tpm_alg.h"

/*
 * The measured launcher's application log. Expected digests and PCR values
 * were computed with Python's hashlib (an independent implementation);
 * every log built here is read back by lib/eventlog (the parser keyserverd
 * replays it with), and the integration test replays the TPM's own log with
 * `ksctl eventlog replay` and tpm2_eventlog.
 */

static const uint16_t BANKS[] = {KS_ALG_SHA1, KS_ALG_SHA256};

static void measurement(uint8_t m[32])
{
    for (int i = 0; i < 32; i++) {
        m[i] = (uint8_t)i;
    }
}

static void hex_equal(const uint8_t *got, size_t len, const char *want)
{
    char hex[2 * KS_MAX_DIGEST + 1];
    ks_hex_encode(got, len, hex);
    assert_string_equal(hex, want);
}

static void test_event_data(void **state)
{
    (void)state;
    uint8_t m[32], out[KS_APPLOG_DATA_MAX];
    size_t len = 0;
    measurement(m);
    assert_int_equal(ks_applog_event_data("ks-loader-exe", m, out, sizeof(out), &len), KS_OK);
    assert_int_equal(len, 13 + 32);
    assert_memory_equal(out, "ks-loader-exe", 13);
    assert_memory_equal(out + 13, m, 32);
    /* Tags: 1..32 of [a-z0-9-]. */
    const char *bad[] = {"",          "Ks-loader",       "ks loader",
                         "ks_loader", "ks-loader-exe\n", "abcdefghijklmnopqrstuvwxyz0123456"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(ks_applog_event_data(bad[i], m, out, sizeof(out), &len),
                         KS_ERR_INVALID_ARG);
    }
    assert_int_equal(
        ks_applog_event_data("abcdefghijklmnopqrstuvwxyz012345", m, out, sizeof(out), &len), KS_OK);
    assert_int_equal(ks_applog_event_data("ks-ci-key", m, out, 40, &len), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_applog_event_data(NULL, m, out, sizeof(out), &len), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_applog_event_data("a", NULL, out, sizeof(out), &len), KS_ERR_INVALID_ARG);
}

static void test_new_invalid(void **state)
{
    (void)state;
    struct ks_applog *log = NULL;
    const unsigned bad_pcrs[] = {10, 16, 23, 24, 1000};
    for (size_t i = 0; i < sizeof(bad_pcrs) / sizeof(bad_pcrs[0]); i++) {
        assert_int_equal(ks_applog_new(bad_pcrs[i], BANKS, 2, &log), KS_ERR_INVALID_ARG);
    }
    const uint16_t sm3[] = {0x0012};
    assert_int_equal(ks_applog_new(15, sm3, 1, &log), KS_ERR_TPM_ALG);
    const uint16_t twice[] = {KS_ALG_SHA256, KS_ALG_SHA256};
    assert_int_equal(ks_applog_new(15, twice, 2, &log), KS_ERR_INVALID_ARG);
    const uint16_t five[] = {KS_ALG_SHA1, KS_ALG_SHA256, KS_ALG_SHA384, KS_ALG_SHA512, 0x0012};
    assert_int_equal(ks_applog_new(15, five, 5, &log), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_applog_new(15, BANKS, 0, &log), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_applog_new(15, NULL, 1, &log), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_applog_new(15, BANKS, 2, NULL), KS_ERR_INVALID_ARG);
    assert_null(log);
    ks_applog_free(NULL);
    assert_int_equal(ks_applog_count(NULL), 0);
    assert_int_equal(ks_applog_banks(NULL, NULL), 0);
    size_t len = 1;
    assert_null(ks_applog_bytes(NULL, &len));
    assert_int_equal(len, 0);
}

static void test_one_event_known_values(void **state)
{
    (void)state;
    struct ks_applog *log = NULL;
    uint8_t m[32], v[KS_MAX_DIGEST];
    TPML_DIGEST_VALUES d;
    measurement(m);
    assert_int_equal(ks_applog_new(15, BANKS, 2, &log), KS_OK);
    /* An empty log: the PCR at its reset value. */
    assert_int_equal(ks_applog_pcr(log, KS_ALG_SHA256, v, sizeof(v)), KS_OK);
    hex_equal(v, 32, "0000000000000000000000000000000000000000000000000000000000000000");
    assert_int_equal(ks_applog_append(log, "ks-loader-exe", m, &d), KS_OK);
    assert_int_equal(ks_applog_count(log), 1);
    /* The digests to extend: H_bank(tag || measurement), in table order. */
    assert_int_equal(d.count, 2);
    assert_int_equal(d.digests[0].hashAlg, KS_ALG_SHA1);
    hex_equal((const uint8_t *)&d.digests[0].digest, 20,
              "54dda9f2c1587f5fa3f7e501baf3c6e452be2271");
    assert_int_equal(d.digests[1].hashAlg, KS_ALG_SHA256);
    hex_equal((const uint8_t *)&d.digests[1].digest, 32,
              "dbfe9a1131d55e85f75f8f2206a06a728974b985cfb5d444b2b6632d11dffeee");
    /* PCR = H(0...0 || digest). */
    assert_int_equal(ks_applog_pcr(log, KS_ALG_SHA1, v, sizeof(v)), KS_OK);
    hex_equal(v, 20, "e821b9f8ebf42d9de5fe54996cc1753ed0c15123");
    assert_int_equal(ks_applog_pcr(log, KS_ALG_SHA256, v, sizeof(v)), KS_OK);
    hex_equal(v, 32, "72bc274bb3918fe7e77050a0a9a47ca8fa58c72f7befbdbabb565d68fba81ed9");
    /* Errors of ks_applog_pcr. */
    assert_int_equal(ks_applog_pcr(log, KS_ALG_SHA384, v, sizeof(v)), KS_ERR_PCR_BANK);
    assert_int_equal(ks_applog_pcr(log, 0x0012, v, sizeof(v)), KS_ERR_PCR_BANK);
    assert_int_equal(ks_applog_pcr(log, KS_ALG_SHA256, v, 31), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_applog_pcr(NULL, KS_ALG_SHA256, v, sizeof(v)), KS_ERR_INVALID_ARG);
    /* Errors of ks_applog_append change nothing. */
    assert_int_equal(ks_applog_append(log, "BAD", m, &d), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_applog_append(NULL, "ok", m, &d), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_applog_count(log), 1);
    ks_applog_free(log);
}

/* The bytes parse as a TCG log, in the layout the PFP gives, and replay
 * (lib/eventlog) to what the builder says. */
static void test_three_events_replay(void **state)
{
    (void)state;
    struct ks_applog *log = NULL;
    struct ks_eventlog *parsed = NULL;
    struct ks_pcr_set replayed;
    uint8_t m[32], v[KS_MAX_DIGEST];
    const char *tags[] = {KS_APPLOG_TAG_EXE, KS_APPLOG_TAG_CONFIG, KS_APPLOG_TAG_CI_KEY};
    measurement(m);
    assert_int_equal(ks_applog_new(15, BANKS, 2, &log), KS_OK);
    for (int i = 0; i < 3; i++) {
        m[0] = (uint8_t)i;
        assert_int_equal(ks_applog_append(log, tags[i], m, NULL), KS_OK);
    }
    size_t len = 0;
    const uint8_t *bytes = ks_applog_bytes(log, &len);
    /* Header: 32 bytes of TCG_PCClientPCREvent, then the Spec ID event: 28
     * bytes, 4 per bank, vendorInfoSize. */
    size_t header = 32 + 28 + 8 + 1;
    assert_int_equal(bytes[0], 0); /* PCR 0 */
    assert_int_equal(bytes[4], 3); /* EV_NO_ACTION */
    assert_memory_equal(bytes + 32, "Spec ID Event03", 16);
    assert_int_equal(bytes[header], 15);    /* the first event's PCR */
    assert_int_equal(bytes[header + 4], 6); /* EV_EVENT_TAG */
    assert_int_equal(ks_eventlog_parse(bytes, len, &parsed, NULL), KS_OK);
    assert_int_equal(ks_eventlog_count(parsed), 4);
    for (size_t i = 1; i < 4; i++) {
        const struct ks_eventlog_event *ev = ks_eventlog_event(parsed, i);
        enum ks_eventlog_data_check c;
        assert_int_equal(ev->pcr, 15);
        assert_int_equal(ev->type, 6);
        assert_int_equal(ev->data_len, strlen(tags[i - 1]) + 32);
        assert_memory_equal(ev->data, tags[i - 1], strlen(tags[i - 1]));
        /* The digest is H(data) in both banks: keyserverd may read it. */
        assert_int_equal(ks_eventlog_event_check_data(ev, KS_ALG_SHA1, &c), KS_OK);
        assert_int_equal(c, KS_EVENTLOG_DATA_MATCH);
        assert_int_equal(ks_eventlog_event_check_data(ev, KS_ALG_SHA256, &c), KS_OK);
        assert_int_equal(c, KS_EVENTLOG_DATA_MATCH);
    }
    assert_int_equal(ks_eventlog_replay(parsed, &replayed, NULL), KS_OK);
    for (size_t b = 0; b < 2; b++) {
        const uint8_t *r = NULL;
        assert_int_equal(ks_pcr_set_get(&replayed, BANKS[b], 15, &r), KS_OK);
        assert_int_equal(ks_applog_pcr(log, BANKS[b], v, sizeof(v)), KS_OK);
        assert_memory_equal(r, v, ks_alg_digest_size(BANKS[b]));
    }
    ks_eventlog_free(parsed);
    ks_applog_free(log);
}

/* A relaunch continues the log: load, append, and the result is the log
 * that would have been built in one go. */
static void test_load_and_continue(void **state)
{
    (void)state;
    struct ks_applog *a = NULL, *b = NULL, *c = NULL;
    uint8_t m[32], va[KS_MAX_DIGEST], vb[KS_MAX_DIGEST];
    const uint16_t *algs = NULL;
    measurement(m);
    assert_int_equal(ks_applog_new(12, BANKS, 2, &a), KS_OK);
    assert_int_equal(ks_applog_new(12, BANKS, 2, &c), KS_OK);
    assert_int_equal(ks_applog_append(a, "one", m, NULL), KS_OK);
    assert_int_equal(ks_applog_append(c, "one", m, NULL), KS_OK);
    assert_int_equal(ks_applog_append(c, "two", m, NULL), KS_OK);
    size_t len = 0;
    const uint8_t *bytes = ks_applog_bytes(a, &len);
    assert_int_equal(ks_applog_load(bytes, len, 12, &b), KS_OK);
    assert_int_equal(ks_applog_count(b), 1);
    assert_int_equal(ks_applog_banks(b, &algs), 2);
    assert_int_equal(algs[0], KS_ALG_SHA1);
    assert_int_equal(algs[1], KS_ALG_SHA256);
    assert_int_equal(ks_applog_pcr(a, KS_ALG_SHA256, va, sizeof(va)), KS_OK);
    assert_int_equal(ks_applog_pcr(b, KS_ALG_SHA256, vb, sizeof(vb)), KS_OK);
    assert_memory_equal(va, vb, 32);
    assert_int_equal(ks_applog_append(b, "two", m, NULL), KS_OK);
    size_t lb = 0, lc = 0;
    const uint8_t *pb = ks_applog_bytes(b, &lb), *pc = ks_applog_bytes(c, &lc);
    assert_int_equal(lb, lc);
    assert_memory_equal(pb, pc, lb);
    /* A header alone is a valid log with no events. */
    struct ks_applog *h = NULL, *h2 = NULL;
    assert_int_equal(ks_applog_new(12, BANKS + 1, 1, &h), KS_OK);
    bytes = ks_applog_bytes(h, &len);
    assert_int_equal(ks_applog_load(bytes, len, 12, &h2), KS_OK);
    assert_int_equal(ks_applog_count(h2), 0);
    /* The log read for another PCR is someone else's. */
    bytes = ks_applog_bytes(a, &len);
    assert_int_equal(ks_applog_load(bytes, len, 13, &h2), KS_ERR_APPLOG_FOREIGN);
    ks_applog_free(h);
    ks_applog_free(h2);
    ks_applog_free(a);
    ks_applog_free(b);
    ks_applog_free(c);
}

/* Edit one byte of a one-event log and expect `want` from loading it. */
static void load_edited(size_t off, uint8_t value, int want)
{
    struct ks_applog *a = NULL, *b = NULL;
    uint8_t m[32];
    measurement(m);
    assert_int_equal(ks_applog_new(15, BANKS + 1, 1, &a), KS_OK);
    assert_int_equal(ks_applog_append(a, "ks-ci-key", m, NULL), KS_OK);
    size_t len = 0;
    const uint8_t *bytes = ks_applog_bytes(a, &len);
    uint8_t *copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, bytes, len);
    assert_true(off < len);
    copy[off] = value;
    assert_int_equal(ks_applog_load(copy, len, 15, &b), want);
    assert_null(b);
    free(copy);
    ks_applog_free(a);
}

static void test_load_refuses_foreign(void **state)
{
    (void)state;
    size_t ev = 32 + 28 + 4 + 1;                               /* the first event, one bank */
    load_edited(ev, 14, KS_ERR_APPLOG_FOREIGN);                /* another PCR */
    load_edited(ev + 4, 4, KS_ERR_APPLOG_FOREIGN);             /* EV_SEPARATOR */
    load_edited(ev + 4 + 4 + 4 + 2, 0, KS_ERR_APPLOG_FOREIGN); /* the digest */
    load_edited(ev + 4 + 4 + 4 + 2 + 32 + 4, 'K', KS_ERR_APPLOG_FOREIGN);       /* the tag */
    load_edited(ev + 4 + 4 + 4 + 2 + 32 + 4 + 12, 0x55, KS_ERR_APPLOG_FOREIGN); /* measured */
    load_edited(ev + 4 + 4, 2, KS_ERR_EVLOG_DIGEST_ALG);                        /* digest count */

    struct ks_applog *b = NULL;
    size_t len = 0;
    uint8_t *legacy = unit_read("eventlogs/tpm2-tools/event-uefi-sha1-log.bin", &len);
    if (legacy) {
        assert_int_equal(ks_applog_load(legacy, len, 15, &b), KS_ERR_APPLOG_FOREIGN);
    }
    free(legacy);
    uint8_t junk[8] = {0};
    assert_int_equal(ks_applog_load(junk, 0, 15, &b), KS_ERR_EVLOG_EMPTY);
    assert_int_equal(ks_applog_load(junk, sizeof(junk), 15, &b), KS_ERR_EVLOG_TRUNCATED);
    assert_int_equal(ks_applog_load(junk, KS_APPLOG_MAX_SIZE + 1, 15, &b), KS_ERR_TOO_LARGE);
    assert_int_equal(ks_applog_load(NULL, 1, 15, &b), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_applog_load(junk, sizeof(junk), 16, &b), KS_ERR_INVALID_ARG);
    assert_null(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_data),
        cmocka_unit_test(test_new_invalid),
        cmocka_unit_test(test_one_event_known_values),
        cmocka_unit_test(test_three_events_replay),
        cmocka_unit_test(test_load_and_continue),
        cmocka_unit_test(test_load_refuses_foreign),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
