/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include "encoding.h"
#include "loader-ref/proto.h"

/* The socket protocol's messages: strict parsing, builders that the parser
 * reads back, one error-code mapping. */

static int parse(const char *json, struct ks_proto_request *r, char *detail)
{
    return ks_proto_request_parse((const uint8_t *)json, strlen(json), r, detail, 160);
}

#define ENC32 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static void test_parse_ok(void **state)
{
    (void)state;
    struct ks_proto_request r;
    char d[160];
    assert_int_equal(parse("{\"op\":\"stats\"}", &r, d), KS_OK);
    assert_int_equal(r.op, KS_PROTO_STATS);
    ks_proto_request_clear(&r);
    assert_int_equal(parse("{\"op\":\"infer\",\"key\":\"req\",\"version\":7,\"id\":\"aWQ=\","
                           "\"enc\":\"" ENC32 "\",\"ct\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}",
                           &r, d),
                     KS_OK);
    assert_int_equal(r.op, KS_PROTO_INFER);
    assert_string_equal(r.key, "req");
    assert_int_equal(r.version, 7);
    assert_int_equal(r.id_len, 2);
    assert_memory_equal(r.id, "id", 2);
    assert_int_equal(r.enc[31], 31);
    assert_int_equal(r.ct_len, 16);
    ks_proto_request_clear(&r);
    assert_null(r.ct);
    assert_int_equal(parse("{\"op\":\"load\",\"program\":{\"manifest\":\"e30=\","
                           "\"signature\":\"AA==\"}}",
                           &r, d),
                     KS_OK);
    assert_int_equal(r.op, KS_PROTO_LOAD);
    assert_string_equal(r.program, "{\"manifest\":\"e30=\",\"signature\":\"AA==\"}");
    assert_int_equal(r.program_len, strlen(r.program));
    ks_proto_request_clear(&r);
    ks_proto_request_clear(NULL);
}

static void test_parse_refused(void **state)
{
    (void)state;
    struct ks_proto_request r;
    char d[160];
    static const char *const bad[] = {
        "",
        "[1]",
        "not json",
        "{}",
        "{\"op\":\"STATS\"}",
        "{\"op\":\"reboot\"}",
        "{\"op\":\"stats\",\"op\":\"stats\"}",
        "{\"op\":\"stats\",\"x\":1}",
        "{\"op\":\"load\"}",
        "{\"op\":\"load\",\"program\":\"text\"}",
        "{\"op\":\"load\",\"program\":{},\"extra\":1}",
        /* infer: each member wrong in turn */
        "{\"op\":\"infer\",\"key\":\"r q\",\"version\":1,\"id\":\"aWQ=\",\"enc\":\"" ENC32
        "\",\"ct\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}",
        "{\"op\":\"infer\",\"key\":\"req@2\",\"version\":1,\"id\":\"aWQ=\",\"enc\":\"" ENC32
        "\",\"ct\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}",
        "{\"op\":\"infer\",\"key\":\"req\",\"version\":0,\"id\":\"aWQ=\",\"enc\":\"" ENC32
        "\",\"ct\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}",
        "{\"op\":\"infer\",\"key\":\"req\",\"version\":4294967296,\"id\":\"aWQ=\",\"enc\":\"" ENC32
        "\",\"ct\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}",
        "{\"op\":\"infer\",\"key\":\"req\",\"version\":\"1\",\"id\":\"aWQ=\",\"enc\":\"" ENC32
        "\",\"ct\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}",
        "{\"op\":\"infer\",\"key\":\"req\",\"version\":1,\"id\":\"\",\"enc\":\"" ENC32
        "\",\"ct\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}",
        "{\"op\":\"infer\",\"key\":\"req\",\"version\":1,\"id\":\"aWQ\",\"enc\":\"" ENC32
        "\",\"ct\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}",
        "{\"op\":\"infer\",\"key\":\"req\",\"version\":1,\"id\":\"aWQ=\",\"enc\":\"AAAA\","
        "\"ct\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}",
        "{\"op\":\"infer\",\"key\":\"req\",\"version\":1,\"id\":\"aWQ=\",\"enc\":\"" ENC32
        "\",\"ct\":\"AAAAAAAAAAAAAAAAAAAA\"}",
        "{\"op\":\"infer\",\"key\":\"req\",\"version\":1,\"id\":\"aWQ=\",\"enc\":\"" ENC32 "\"}",
        "{\"op\":\"infer\",\"key\":\"req\",\"version\":1,\"id\":\"aWQ=\",\"enc\":\"" ENC32
        "\",\"ct\":\"AAAAAAAAAAAAAAAAAAAAAA==\",\"max_new\":3}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&r, 0x55, sizeof(r));
        d[0] = '\0';
        int rc = parse(bad[i], &r, d);
        if (rc != KS_ERR_PROTO_REQUEST) {
            fail_msg("request %zu accepted or wrong code %d: %s", i, rc, bad[i]);
        }
        assert_true(d[0] != '\0');
    }
    /* 65 id bytes. */
    uint8_t id65[65] = {0};
    char *id_b64 = NULL, big[512];
    assert_int_equal(ks_base64_encode(id65, sizeof(id65), &id_b64), KS_OK);
    snprintf(big, sizeof(big),
             "{\"op\":\"infer\",\"key\":\"req\",\"version\":1,\"id\":\"%s\",\"enc\":\"" ENC32
             "\",\"ct\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}",
             id_b64);
    free(id_b64);
    assert_int_equal(parse(big, &r, d), KS_ERR_PROTO_REQUEST);
    /* A ciphertext past the cap is refused before it is decoded. */
    size_t n = (KS_PROTO_CT_MAX + 2) / 3 * 4 + 8;
    char *huge = malloc(n + 256);
    assert_non_null(huge);
    int off = snprintf(huge, 256,
                       "{\"op\":\"infer\",\"key\":\"req\",\"version\":1,\"id\":\"aWQ=\","
                       "\"enc\":\"" ENC32 "\",\"ct\":\"");
    memset(huge + off, 'A', n);
    strcpy(huge + off + n, "\"}");
    assert_int_equal(parse(huge, &r, d), KS_ERR_TOO_LARGE);
    free(huge);
    assert_int_equal(ks_proto_request_parse(NULL, 0, &r, d, 160), KS_ERR_INVALID_ARG);
}

static void test_builders_roundtrip(void **state)
{
    (void)state;
    uint8_t enc[32], ct[40];
    char *s = NULL;
    size_t len = 0;
    struct ks_proto_request r;
    for (int i = 0; i < 32; i++) {
        enc[i] = (uint8_t)(i * 7);
    }
    memset(ct, 0xab, sizeof(ct));
    assert_int_equal(
        ks_proto_infer_build("k.1", 9, (const uint8_t *)"rid", 3, enc, ct, 40, &s, &len), KS_OK);
    assert_int_equal(len, strlen(s));
    assert_int_equal(ks_proto_request_parse((const uint8_t *)s, len, &r, NULL, 0), KS_OK);
    assert_string_equal(r.key, "k.1");
    assert_int_equal(r.version, 9);
    assert_memory_equal(r.id, "rid", 3);
    assert_memory_equal(r.enc, enc, 32);
    assert_int_equal(r.ct_len, 40);
    assert_memory_equal(r.ct, ct, 40);
    ks_proto_request_clear(&r);
    free(s);
    assert_int_equal(ks_proto_stats_build(&s, &len), KS_OK);
    assert_string_equal(s, "{\"op\":\"stats\"}");
    free(s);
    static const char prog[] = "{\"manifest\":\"e30=\",\"signature\":\"AA==\"}";
    assert_int_equal(ks_proto_load_build((const uint8_t *)prog, strlen(prog), &s, &len), KS_OK);
    assert_int_equal(ks_proto_request_parse((const uint8_t *)s, len, &r, NULL, 0), KS_OK);
    assert_string_equal(r.program, prog);
    ks_proto_request_clear(&r);
    free(s);
    assert_int_equal(ks_proto_load_build((const uint8_t *)"[]", 2, &s, &len), KS_ERR_PROGRAM_JSON);
    assert_int_equal(ks_proto_infer_build("k", 0, (const uint8_t *)"rid", 3, enc, ct, 40, &s, &len),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_proto_infer_build("k", 1, (const uint8_t *)"rid", 0, enc, ct, 40, &s, &len),
                     KS_ERR_INVALID_ARG);
}

static void test_responses(void **state)
{
    (void)state;
    char *s = NULL;
    size_t len = 0;
    struct ks_proto_response r;
    uint8_t nonce[12] = {1, 2, 3}, ct[20] = {9};
    assert_int_equal(ks_proto_error_build("replay", "seen before", &s, &len), KS_OK);
    assert_string_equal(s, "{\"detail\":\"seen before\",\"error\":\"replay\",\"ok\":false}");
    assert_int_equal(ks_proto_response_parse((const uint8_t *)s, len, KS_PROTO_INFER, &r), KS_OK);
    assert_false(r.ok);
    assert_string_equal(r.error, "replay");
    assert_string_equal(r.detail, "seen before");
    ks_proto_response_clear(&r);
    free(s);
    /* Regression (found by fuzz_loader_request): a detail quoting invalid
     * UTF-8 from the request made the refusal unbuildable. */
    assert_int_equal(ks_proto_error_build("bad_request", "near '\"op\xc9\x96\n'", &s, &len), KS_OK);
    /* "\?" escapes: three question marks would begin a trigraph. */
    assert_string_equal(
        s, "{\"detail\":\"near '\\\"op\?\?\?'\",\"error\":\"bad_request\",\"ok\":false}");
    free(s);
    assert_int_equal(ks_proto_error_build("busy", NULL, &s, &len), KS_OK);
    assert_string_equal(s, "{\"error\":\"busy\",\"ok\":false}");
    free(s);
    assert_int_equal(ks_proto_infer_reply_build((const uint8_t *)"rid", 3, nonce, ct, 20, &s, &len),
                     KS_OK);
    assert_int_equal(ks_proto_response_parse((const uint8_t *)s, len, KS_PROTO_INFER, &r), KS_OK);
    assert_true(r.ok);
    assert_int_equal(r.id_len, 3);
    assert_memory_equal(r.nonce, nonce, 12);
    assert_int_equal(r.ct_len, 20);
    assert_int_equal(r.ct[0], 9);
    ks_proto_response_clear(&r);
    /* An INFER answer where a LOAD answer is expected. */
    assert_int_equal(ks_proto_response_parse((const uint8_t *)s, len, KS_PROTO_LOAD, &r),
                     KS_ERR_PROTO_REQUEST);
    free(s);
    static const char load_ok[] = "{\"ok\":true,\"op\":\"load\",\"program\":\"p\"}";
    assert_int_equal(
        ks_proto_response_parse((const uint8_t *)load_ok, strlen(load_ok), KS_PROTO_LOAD, &r),
        KS_OK);
    assert_string_equal(r.json, "{\"ok\":true,\"op\":\"load\",\"program\":\"p\"}");
    ks_proto_response_clear(&r);
    /* Malformed answers; control characters in a refusal are masked. */
    static const char *const bad[] = {
        "",
        "{}",
        "{\"ok\":1}",
        "{\"ok\":false}",
        "{\"ok\":false,\"error\":1}",
        "{\"ok\":false,\"error\":\"x\",\"more\":1}",
        "{\"ok\":true,\"op\":\"infer\",\"id\":\"aWQ=\",\"nonce\":\"AAAA\",\"ct\":"
        "\"AAAAAAAAAAAAAAAAAAAAAA==\"}",
        "{\"ok\":true,\"op\":\"infer\",\"id\":\"aWQ=\",\"nonce\":\"AAAAAAAAAAAAAAAA\",\"ct\":"
        "\"AAAA\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(
            ks_proto_response_parse((const uint8_t *)bad[i], strlen(bad[i]), KS_PROTO_INFER, &r),
            KS_ERR_PROTO_REQUEST);
    }
    static const char ctl[] = "{\"ok\":false,\"error\":\"a\\u001bb\"}";
    assert_int_equal(ks_proto_response_parse((const uint8_t *)ctl, strlen(ctl), KS_PROTO_STATS, &r),
                     KS_OK);
    assert_string_equal(r.error, "a?b");
    ks_proto_response_clear(&r);
    ks_proto_response_clear(NULL);
}

static void test_error_codes(void **state)
{
    (void)state;
    static const struct {
        int err;
        const char *code;
    } map[] = {
        {KS_ERR_FRAME, "bad_frame"},
        {KS_ERR_PROTO_REQUEST, "bad_request"},
        {KS_ERR_BASE64, "bad_request"},
        {KS_ERR_TOO_LARGE, "too_large"},
        {KS_ERR_NO_PROGRAM, "no_program"},
        {KS_ERR_PROGRAM_SIGNATURE, "program_signature"},
        {KS_ERR_PROGRAM_KEY, "program_signature"},
        {KS_ERR_PROGRAM_JSON, "program_invalid"},
        {KS_ERR_PROGRAM_FIELD, "program_invalid"},
        {KS_ERR_PROGRAM_WEIGHTS, "program_weights"},
        {KS_ERR_MODEL_MISMATCH, "program_weights"},
        {KS_ERR_INFER_KEY, "wrong_key"},
        {KS_ERR_HPKE_OPEN, "decrypt_failed"},
        {KS_ERR_INFER_REPLAY, "replay"},
        {KS_ERR_INFER_STALE, "stale"},
        {KS_ERR_REPLAY_FULL, "busy"},
        {KS_ERR_EGRESS, "egress_budget"},
        {KS_ERR_MODEL_PROMPT, "bad_prompt"},
        {KS_ERR_NOMEM, "internal"},
        {KS_ERR_CRYPTO, "internal"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        assert_string_equal(ks_proto_error_code(map[i].err), map[i].code);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ok),           cmocka_unit_test(test_parse_refused),
        cmocka_unit_test(test_builders_roundtrip), cmocka_unit_test(test_responses),
        cmocka_unit_test(test_error_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
