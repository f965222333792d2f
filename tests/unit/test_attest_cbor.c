/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "attest_fixture.h"

#include <cbor.h>
#include <jansson.h>

#include "encoding.h"
#include "loader-ref/attest.h"
#include "loader-ref/attest_internal.h"
#include "loader-ref/pcr_select.h"
#include "tpm_alg.h"

/*
 * The /v1/release request as CBOR (ks_attest_request_build_cbor): one
 * exact encoding assembled by hand from RFC 8949 section 3 (major types,
 * argument lengths), the full request decoded back with libcbor's
 * cbor_load and checked member by member (types, values, definite lengths,
 * no tags, the whole buffer consumed), agreement with the JSON form of the
 * same evidence, long logs (multi-byte length heads), and every refusal,
 * which must be ks_attest_request_build's.
 */

/* Where an item sits: anywhere, the "pcrs" map, or one bank of it. */
enum place { PLAIN, PCRS, BANK };

static bool is_text(const cbor_item_t *item, const char *s)
{
    return cbor_isa_string(item) && cbor_string_length(item) == strlen(s) &&
           memcmp(cbor_string_handle(item), s, strlen(s)) == 0;
}

/* Every item, at any depth, is of the subset the keyserver accepts:
 * definite lengths, no tags, no floats or simple values, text-string map
 * keys except the PCR indices (unsigned integers 0..23 in a bank map). */
static void check_subset(const cbor_item_t *item, enum place place)
{
    switch (cbor_typeof(item)) {
    case CBOR_TYPE_UINT:
        break;
    case CBOR_TYPE_BYTESTRING:
        assert_true(cbor_bytestring_is_definite(item));
        break;
    case CBOR_TYPE_STRING:
        assert_true(cbor_string_is_definite(item));
        break;
    case CBOR_TYPE_ARRAY:
        assert_true(cbor_array_is_definite(item));
        for (size_t i = 0; i < cbor_array_size(item); i++) {
            check_subset(cbor_array_handle(item)[i], PLAIN);
        }
        break;
    case CBOR_TYPE_MAP: {
        assert_true(cbor_map_is_definite(item));
        struct cbor_pair *p = cbor_map_handle(item);
        for (size_t i = 0; i < cbor_map_size(item); i++) {
            if (place == BANK) {
                assert_true(cbor_isa_uint(p[i].key));
                assert_true(cbor_get_int(p[i].key) < 24);
            } else {
                assert_true(cbor_isa_string(p[i].key));
            }
            check_subset(p[i].key, PLAIN);
            enum place next = place == PCRS ? BANK : PLAIN;
            if (place == PLAIN && is_text(p[i].key, "pcrs")) {
                next = PCRS;
            }
            check_subset(p[i].value, next);
        }
        break;
    }
    default:
        fail_msg("item of CBOR type %d outside the request subset", (int)cbor_typeof(item));
    }
}

static cbor_item_t *decode(const uint8_t *buf, size_t len)
{
    struct cbor_load_result res;
    cbor_item_t *root = cbor_load(buf, len, &res);
    assert_non_null(root);
    assert_int_equal(res.error.code, CBOR_ERR_NONE);
    /* Nothing after the map. */
    assert_int_equal(res.read, len);
    assert_true(cbor_isa_map(root));
    check_subset(root, PLAIN);
    return root;
}

static cbor_item_t *build(const struct ks_attest_evidence *ev)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(ks_attest_request_build_cbor(ev, &buf, &len), KS_OK);
    assert_non_null(buf);
    cbor_item_t *root = decode(buf, len);
    free(buf);
    return root;
}

/* The member `name` of a map (a definite text-string key); NULL when absent.
 * Fails when it is there twice. */
static cbor_item_t *member(const cbor_item_t *map, const char *name)
{
    cbor_item_t *found = NULL;
    struct cbor_pair *p = cbor_map_handle(map);
    for (size_t i = 0; i < cbor_map_size(map); i++) {
        if (is_text(p[i].key, name)) {
            assert_null(found);
            found = p[i].value;
        }
    }
    return found;
}

/* The PCR value of index idx in a bank map. */
static cbor_item_t *pcr_member(const cbor_item_t *bank, unsigned idx)
{
    cbor_item_t *found = NULL;
    struct cbor_pair *p = cbor_map_handle(bank);
    for (size_t i = 0; i < cbor_map_size(bank); i++) {
        if (cbor_get_int(p[i].key) == idx) {
            assert_null(found);
            found = p[i].value;
        }
    }
    return found;
}

static void assert_text(const cbor_item_t *v, const char *want)
{
    assert_non_null(v);
    assert_true(cbor_isa_string(v));
    assert_int_equal(cbor_string_length(v), strlen(want));
    assert_memory_equal(cbor_string_handle(v), want, strlen(want));
}

static void assert_bytes(const cbor_item_t *v, const uint8_t *want, size_t len)
{
    assert_non_null(v);
    assert_true(cbor_isa_bytestring(v));
    assert_int_equal(cbor_bytestring_length(v), len);
    if (len > 0) {
        assert_memory_equal(cbor_bytestring_handle(v), want, len);
    }
}

static void assert_filled(const cbor_item_t *v, uint8_t byte, size_t len)
{
    uint8_t want[KS_MAX_DIGEST];
    assert_true(len <= sizeof(want));
    memset(want, byte, len);
    assert_bytes(v, want, len);
}

/* ---- the exact encoding --------------------------------------------------------- */

/*
 * A one-key, one-PCR request, assembled by hand from RFC 8949 section 3.1:
 * the initial byte is major type << 5 | additional info, info < 24 is the
 * argument itself, 24 means "one more byte" (0x58 = bytes, 1-byte length).
 * Major types: 3 text string (0x60 | n), 2 byte string (0x40 | n), 4 array
 * (0x80 | n), 5 map (0xa0 | n pairs), 0 unsigned integer.
 */
static const char exact_hex[] = "a6" /* map, 6 pairs */
                                "65"
                                "616b5f6964" /* "ak_id" */
                                "68"
                                "3030306230313032" /* "000b0102" */
                                "65"
                                "6e6f6e6365" /* "nonce" */
                                "5820"       /* bytes(32) */
                                "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
                                "67"
                                "68706b655f706b" /* "hpke_pk" */
                                "5820"           /* bytes(32) */
                                "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
                                "64"
                                "6b657973" /* "keys" */
                                "81"
                                "63"
                                "64656b" /* ["dek"] */
                                "65"
                                "71756f7465" /* "quote" */
                                "a2"         /* map, 2 pairs */
                                "66"
                                "617474657374" /* "attest" */
                                "47"
                                "a5a5a5a5a5a5a5" /* bytes(7) */
                                "69"
                                "7369676e6174757265" /* "signature" */
                                "45"
                                "5a5a5a5a5a" /* bytes(5) */
                                "64"
                                "70637273" /* "pcrs" */
                                "a1"
                                "64"
                                "73686131" /* {"sha1": */
                                "a1"
                                "07" /* {7: (unsigned integer, in the initial byte) */
                                "54"
                                "0707070707070707070707070707070707070707"; /* bytes(20)}} */

static void test_cbor_exact_bytes(void **state)
{
    struct req_fixture f;
    uint8_t *want = NULL, *buf = NULL;
    size_t want_len = 0, len = 0;
    req_fixture_init(&f, "sha1:7");
    f.ev.n_keys = 1;
    assert_int_equal(ks_hex_decode(exact_hex, &want, &want_len), KS_OK);
    assert_int_equal(ks_attest_request_build_cbor(&f.ev, &buf, &len), KS_OK);
    assert_int_equal(len, want_len);
    assert_memory_equal(buf, want, len);
    free(buf);
    free(want);
}

/* ---- decoded, member by member ------------------------------------------------- */

static void test_cbor_request_build(void **state)
{
    struct req_fixture f;
    req_fixture_init(&f, "sha1:7+sha256:0,10,15");
    cbor_item_t *root = build(&f.ev);

    /* Exactly the protocol's members. */
    assert_int_equal(cbor_map_size(root), 6);
    assert_text(member(root, "ak_id"), "000b0102");
    assert_bytes(member(root, "nonce"), f.nonce, 32);
    assert_bytes(member(root, "hpke_pk"), f.pk, 32);
    cbor_item_t *keys = member(root, "keys");
    assert_non_null(keys);
    assert_true(cbor_isa_array(keys));
    assert_int_equal(cbor_array_size(keys), 3);
    assert_text(cbor_array_handle(keys)[0], "dek");
    assert_text(cbor_array_handle(keys)[1], "req@2");
    assert_text(cbor_array_handle(keys)[2], "dek@3");
    cbor_item_t *quote = member(root, "quote");
    assert_non_null(quote);
    assert_true(cbor_isa_map(quote));
    assert_int_equal(cbor_map_size(quote), 2);
    assert_bytes(member(quote, "attest"), f.attest, sizeof(f.attest));
    assert_bytes(member(quote, "signature"), f.sig, sizeof(f.sig));

    /* Exactly the selected PCRs, raw digests of the bank's size. */
    cbor_item_t *pcrs = member(root, "pcrs");
    assert_non_null(pcrs);
    assert_true(cbor_isa_map(pcrs));
    assert_int_equal(cbor_map_size(pcrs), 2);
    cbor_item_t *sha1 = member(pcrs, "sha1"), *sha256 = member(pcrs, "sha256");
    assert_non_null(sha1);
    assert_non_null(sha256);
    assert_int_equal(cbor_map_size(sha1), 1);
    assert_int_equal(cbor_map_size(sha256), 3);
    assert_filled(pcr_member(sha1, 7), 0x07, 20);
    assert_filled(pcr_member(sha256, 0), 0x10, 32);
    assert_filled(pcr_member(sha256, 10), 0x1a, 32);
    assert_filled(pcr_member(sha256, 15), 0x1f, 32);
    assert_null(pcr_member(sha256, 7));
    assert_null(member(root, "event_log"));
    assert_null(member(root, "ima_log"));
    assert_null(member(root, "app_log"));
    cbor_decref(&root);
}

static void test_cbor_request_logs(void **state)
{
    struct req_fixture f;
    static const uint8_t evlog[] = "EVLOG";
    static const uint8_t ima[] = "10 0123 ima-ng";
    req_fixture_init(&f, "sha256:0-7");
    f.ev.event_log = evlog;
    f.ev.event_log_len = 5;
    f.ev.ima_log = ima;
    f.ev.ima_log_len = sizeof(ima) - 1;
    f.ev.app_log = evlog;
    f.ev.app_log_len = 0; /* present but empty */
    cbor_item_t *root = build(&f.ev);
    assert_int_equal(cbor_map_size(root), 9);
    assert_bytes(member(root, "event_log"), evlog, 5);
    assert_bytes(member(root, "ima_log"), ima, sizeof(ima) - 1);
    assert_bytes(member(root, "app_log"), NULL, 0);
    assert_int_equal(cbor_map_size(member(member(root, "pcrs"), "sha256")), 8);
    cbor_decref(&root);

    /* Only the logs given are sent. */
    f.ev.event_log = NULL;
    f.ev.app_log = NULL;
    root = build(&f.ev);
    assert_int_equal(cbor_map_size(root), 7);
    assert_null(member(root, "event_log"));
    assert_null(member(root, "app_log"));
    assert_bytes(member(root, "ima_log"), ima, sizeof(ima) - 1);
    cbor_decref(&root);
}

/* A log past 65535 bytes takes a 4-byte length (0x5a, RFC 8949 section
 * 3.1, additional info 26), and is carried byte for byte. */
static void test_cbor_request_large_log(void **state)
{
    struct req_fixture f;
    const size_t n = 65537;
    static const uint8_t head[] = {0x69, 'e', 'v',  'e',  'n',  't',  '_', 'l',
                                   'o',  'g', 0x5a, 0x00, 0x01, 0x00, 0x01};
    uint8_t *log = malloc(n), *buf = NULL;
    size_t len = 0;
    assert_non_null(log);
    for (size_t i = 0; i < n; i++) {
        log[i] = (uint8_t)(i * 7 + (i >> 8));
    }
    req_fixture_init(&f, "sha256:0");
    f.ev.event_log = log;
    f.ev.event_log_len = n;
    assert_int_equal(ks_attest_request_build_cbor(&f.ev, &buf, &len), KS_OK);
    /* The log is the last member: its head, then its bytes, then nothing. */
    assert_true(len > n + sizeof(head));
    assert_memory_equal(buf + len - n - sizeof(head), head, sizeof(head));
    assert_memory_equal(buf + len - n, log, n);
    assert_int_equal(buf[0], 0xa7); /* map, 7 pairs */
    cbor_item_t *root = decode(buf, len);
    assert_bytes(member(root, "event_log"), log, n);
    cbor_decref(&root);
    free(buf);
    free(log);
}

/* The CBOR and JSON forms of one evidence carry the same values: the JSON
 * one's base64 and hex decode to the CBOR byte strings. */
static void test_cbor_agrees_with_json(void **state)
{
    struct req_fixture f;
    static const uint8_t evlog[] = "\x03\x00\x00\x00 a firmware log";
    char *js = NULL;
    size_t js_len = 0;
    json_error_t e;
    req_fixture_init(&f, "sha1:0,1+sha256:0,7,23+sha384:4");
    f.ev.event_log = evlog;
    f.ev.event_log_len = sizeof(evlog) - 1;
    cbor_item_t *root = build(&f.ev);
    assert_int_equal(ks_attest_request_build(&f.ev, &js, &js_len), KS_OK);
    json_t *j = json_loadb(js, js_len, JSON_REJECT_DUPLICATES, &e);
    assert_non_null(j);
    free(js);
    assert_int_equal(cbor_map_size(root), json_object_size(j));

    const char *const b64_members[][2] = {
        {"nonce", NULL},     {"hpke_pk", NULL},      {"event_log", NULL},
        {"quote", "attest"}, {"quote", "signature"},
    };
    for (size_t i = 0; i < sizeof(b64_members) / sizeof(b64_members[0]); i++) {
        json_t *jv = json_object_get(j, b64_members[i][0]);
        cbor_item_t *cv = member(root, b64_members[i][0]);
        if (b64_members[i][1]) {
            jv = json_object_get(jv, b64_members[i][1]);
            cv = member(cv, b64_members[i][1]);
        }
        uint8_t *raw = NULL;
        size_t raw_len = 0;
        assert_true(json_is_string(jv));
        assert_int_equal(
            ks_base64_decode(json_string_value(jv), json_string_length(jv), &raw, &raw_len), KS_OK);
        assert_bytes(cv, raw, raw_len);
        free(raw);
    }
    assert_text(member(root, "ak_id"), json_string_value(json_object_get(j, "ak_id")));
    json_t *jkeys = json_object_get(j, "keys");
    cbor_item_t *ckeys = member(root, "keys");
    assert_int_equal(cbor_array_size(ckeys), json_array_size(jkeys));
    for (size_t i = 0; i < json_array_size(jkeys); i++) {
        assert_text(cbor_array_handle(ckeys)[i], json_string_value(json_array_get(jkeys, i)));
    }

    /* The same banks and PCRs; hex in JSON, raw digests in CBOR. */
    json_t *jpcrs = json_object_get(j, "pcrs");
    cbor_item_t *cpcrs = member(root, "pcrs");
    assert_int_equal(cbor_map_size(cpcrs), json_object_size(jpcrs));
    assert_int_equal(cbor_map_size(cpcrs), 3);
    const char *bank_name;
    json_t *jbank;
    json_object_foreach(jpcrs, bank_name, jbank)
    {
        cbor_item_t *cbank = member(cpcrs, bank_name);
        assert_non_null(cbank);
        assert_int_equal(cbor_map_size(cbank), json_object_size(jbank));
        const char *idx;
        json_t *hex;
        json_object_foreach(jbank, idx, hex)
        {
            uint8_t *raw = NULL;
            size_t raw_len = 0;
            assert_int_equal(ks_hex_decode(json_string_value(hex), &raw, &raw_len), KS_OK);
            assert_bytes(pcr_member(cbank, (unsigned)atoi(idx)), raw, raw_len);
            free(raw);
        }
    }
    json_decref(j);
    cbor_decref(&root);
}

/* ---- refusals -------------------------------------------------------------------- */

/* Both encoders refuse it, with the same code, and write nothing. */
static void assert_refused(const struct ks_attest_evidence *ev)
{
    static char unchanged[] = "unchanged";
    uint8_t *buf = (uint8_t *)unchanged;
    char *js = unchanged;
    size_t len = 99, js_len = 99;
    assert_int_equal(ks_attest_request_build_cbor(ev, &buf, &len), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_attest_request_build(ev, &js, &js_len), KS_ERR_INVALID_ARG);
    assert_ptr_equal(buf, unchanged);
    assert_int_equal(len, 99);
    assert_ptr_equal(js, unchanged);
    assert_int_equal(js_len, 99);
    assert_int_equal(ks_attest_evidence_check(ev), KS_ERR_INVALID_ARG);
}

static void test_cbor_request_invalid(void **state)
{
    struct req_fixture f;
    const char *seventeen[17];
    char names[17][8];
    for (int i = 0; i < 17; i++) {
        snprintf(names[i], sizeof(names[i]), "k%d", i);
        seventeen[i] = names[i];
    }
#define FIXTURE() req_fixture_init(&f, "sha1:7+sha256:0,10,15")

    FIXTURE();
    assert_int_equal(ks_attest_evidence_check(&f.ev), KS_OK);
    f.keys[2] = "dek"; /* named twice */
    assert_refused(&f.ev);
    FIXTURE();
    f.keys[1] = "bad name";
    assert_refused(&f.ev);
    FIXTURE();
    f.ev.n_keys = 0;
    assert_refused(&f.ev);
    FIXTURE();
    f.ev.keys = NULL;
    assert_refused(&f.ev);
    FIXTURE();
    f.ev.keys = seventeen;
    f.ev.n_keys = 17;
    assert_refused(&f.ev);
    f.ev.n_keys = 16; /* the most there may be */
    cbor_item_t *root = build(&f.ev);
    assert_int_equal(cbor_array_size(member(root, "keys")), 16);
    assert_text(cbor_array_handle(member(root, "keys"))[15], "k15");
    cbor_decref(&root);
    FIXTURE();
    f.ev.ak_id = "000B0102"; /* the protocol's hex is lowercase */
    assert_refused(&f.ev);
    f.ev.ak_id = "000b010";
    assert_refused(&f.ev);
    f.ev.ak_id = "";
    assert_refused(&f.ev);
    f.ev.ak_id = NULL;
    assert_refused(&f.ev);
    FIXTURE();
    f.ev.nonce = NULL;
    assert_refused(&f.ev);
    FIXTURE();
    f.ev.hpke_pk = NULL;
    assert_refused(&f.ev);
    FIXTURE();
    f.ev.attest_len = 0;
    assert_refused(&f.ev);
    FIXTURE();
    f.ev.sig = NULL;
    assert_refused(&f.ev);
    FIXTURE();
    f.ev.sig_len = 0;
    assert_refused(&f.ev);
    /* A selected PCR without a value. */
    FIXTURE();
    ks_pcr_set_init(&f.pcrs);
    assert_refused(&f.ev);
    FIXTURE();
    f.ev.pcrs = NULL;
    assert_refused(&f.ev);
    /* An empty selection, an invalid one. */
    FIXTURE();
    f.sel.count = 0;
    assert_refused(&f.ev);
    FIXTURE();
    f.sel.pcrSelections[1].hash = TPM2_ALG_SM3_256;
    assert_refused(&f.ev);
    FIXTURE();
    f.ev.sel = NULL;
    assert_refused(&f.ev);
    assert_refused(NULL);
#undef FIXTURE

    /* Missing outputs. */
    uint8_t *buf = NULL;
    size_t len = 0;
    req_fixture_init(&f, "sha256:0");
    assert_int_equal(ks_attest_request_build_cbor(&f.ev, NULL, &len), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_attest_request_build_cbor(&f.ev, &buf, NULL), KS_ERR_INVALID_ARG);
    assert_null(buf);
}

/* ---- the shared PCR walk --------------------------------------------------------- */

struct walk_log {
    char text[512];
    size_t len;
    int fail_at; /* the call that fails (1-based), 0: none */
    int calls;
};

static int log_bank(void *ctx, uint16_t alg, size_t n)
{
    struct walk_log *w = ctx;
    w->len += (size_t)snprintf(w->text + w->len, sizeof(w->text) - w->len, "[%s:%zu]",
                               ks_alg_name(alg), n);
    return ++w->calls == w->fail_at ? KS_ERR_NOMEM : KS_OK;
}

static int log_pcr(void *ctx, unsigned idx, const uint8_t *d, size_t dlen)
{
    struct walk_log *w = ctx;
    w->len += (size_t)snprintf(w->text + w->len, sizeof(w->text) - w->len, "%u=%02x/%zu ", idx,
                               d[0], dlen);
    return ++w->calls == w->fail_at ? KS_ERR_NOMEM : KS_OK;
}

static void test_pcr_walk(void **state)
{
    static const struct ks_attest_pcr_visitor v = {log_bank, log_pcr};
    struct req_fixture f;
    struct walk_log w;
    req_fixture_init(&f, "sha256:15,0,3+sha1:23");
    memset(&w, 0, sizeof(w));
    assert_int_equal(ks_attest_pcr_walk(&f.sel, &f.pcrs, &v, &w), KS_OK);
    /* Banks in selection order, PCRs ascending, values from the set. */
    assert_string_equal(w.text, "[sha256:3]0=00/32 3=03/32 15=0f/32 [sha1:1]23=27/20 ");
    assert_int_equal(ks_attest_pcr_walk(&f.sel, &f.pcrs, NULL, NULL), KS_OK);

    /* A visitor's error stops the walk and is returned. */
    memset(&w, 0, sizeof(w));
    w.fail_at = 3;
    assert_int_equal(ks_attest_pcr_walk(&f.sel, &f.pcrs, &v, &w), KS_ERR_NOMEM);
    assert_int_equal(w.calls, 3);
    memset(&w, 0, sizeof(w));
    w.fail_at = 5;
    assert_int_equal(ks_attest_pcr_walk(&f.sel, &f.pcrs, &v, &w), KS_ERR_NOMEM);
    assert_int_equal(w.calls, 5);

    /* A selected PCR without a value. */
    struct ks_pcr_set partial;
    uint8_t d[32];
    memset(d, 0, sizeof(d));
    ks_pcr_set_init(&partial);
    assert_int_equal(ks_pcr_set_put(&partial, TPM2_ALG_SHA256, 0, d, 32), KS_OK);
    assert_int_equal(ks_attest_pcr_walk(&f.sel, &partial, NULL, NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_attest_pcr_walk(NULL, &f.pcrs, NULL, NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_attest_pcr_walk(&f.sel, NULL, NULL, NULL), KS_ERR_INVALID_ARG);
    f.sel.pcrSelections[0].hash = TPM2_ALG_SM3_256;
    assert_int_equal(ks_attest_pcr_walk(&f.sel, &f.pcrs, NULL, NULL), KS_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cbor_exact_bytes),
        cmocka_unit_test(test_cbor_request_build),
        cmocka_unit_test(test_cbor_request_logs),
        cmocka_unit_test(test_cbor_request_large_log),
        cmocka_unit_test(test_cbor_agrees_with_json),
        cmocka_unit_test(test_cbor_request_invalid),
        cmocka_unit_test(test_pcr_walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
