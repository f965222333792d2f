/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include <jansson.h>

#include "keyserverd/http.h"
#include "keyserverd/metrics.h"

struct mapping {
    int err;
    unsigned status;
    const char *code;
};

/* The protocol table (DESIGN "Protocol"): every keyserverd code and every
 * other code class, with the status and error string it must produce. */
static const struct mapping table[] = {
    {KS_OK, 200, ""},
    {KS_ERR_BAD_REQUEST, 400, "bad_request"},
    {KS_ERR_INVALID_ARG, 400, "bad_request"},
    {KS_ERR_HEX, 400, "bad_request"},
    {KS_ERR_BASE64, 400, "bad_request"},
    {KS_ERR_HPKE_KEY, 400, "bad_request"},
    {KS_ERR_TOO_LARGE, 413, "too_large"},
    {KS_ERR_MEDIA_TYPE, 415, "unsupported_media_type"},
    {KS_ERR_NOT_FOUND, 404, "not_found"},
    {KS_ERR_METHOD, 405, "method_not_allowed"},
    {KS_ERR_NONCE_INVALID, 403, "nonce_invalid"},
    {KS_ERR_NONCE_EXPIRED, 403, "nonce_expired"},
    {KS_ERR_NONCE_USED, 409, "nonce_used"},
    {KS_ERR_ATTESTATION, 403, "attestation_failed"},
    {KS_ERR_POLICY_DENIED, 403, "policy_denied"},
    {KS_ERR_RATE_LIMITED, 429, "rate_limited"},
    {KS_ERR_NONCE_CACHE_FULL, 503, "unavailable"},
    {KS_ERR_DB_BUSY, 503, "unavailable"},
    /* Evidence that does not verify. */
    {KS_ERR_TPM_UNMARSHAL, 403, "attestation_failed"},
    {KS_ERR_TPM_KEY_MISMATCH, 403, "attestation_failed"},
    {KS_ERR_QUOTE_SIG_INVALID, 403, "attestation_failed"},
    {KS_ERR_QUOTE_EXTRADATA, 403, "attestation_failed"},
    {KS_ERR_QUOTE_PCR_DIGEST, 403, "attestation_failed"},
    {KS_ERR_PCR_BANK, 403, "attestation_failed"},
    {KS_ERR_EVLOG_TRUNCATED, 403, "attestation_failed"},
    {KS_ERR_IMA_NO_MATCH, 403, "attestation_failed"},
    {KS_ERR_IMA_FIELD_SIZE, 403, "attestation_failed"},
    {KS_ERR_STORE_UNKNOWN_AK, 403, "attestation_failed"},
    {KS_ERR_STORE_UNKNOWN_EK, 403, "attestation_failed"},
    {KS_ERR_STORE_STATE, 403, "attestation_failed"},
    {KS_ERR_AK_CLOCK_ROLLBACK, 403, "attestation_failed"},
    /* Unknown keys look like policy denials. */
    {KS_ERR_STORE_UNKNOWN_KEY, 403, "policy_denied"},
    {KS_ERR_STORE_UNKNOWN_POLICY, 403, "policy_denied"},
    /* Ours. */
    {KS_ERR_NOMEM, 500, "internal"},
    {KS_ERR_IO, 500, "internal"},
    {KS_ERR_CRYPTO, 500, "internal"},
    {KS_ERR_INTERNAL, 500, "internal"},
    {KS_ERR_UNSUPPORTED, 500, "internal"},
    {KS_ERR_HPKE_OPEN, 500, "internal"},
    {KS_ERR_DB, 500, "internal"},
    {KS_ERR_KEY_UNWRAP, 500, "internal"},
    {KS_ERR_AUDIT_CHAIN, 500, "internal"},
    {KS_ERR_CONFIG, 500, "internal"},
    {KS_ERR_TLS, 500, "internal"},
    {-9999, 500, "internal"},
    {12345, 500, "internal"},
};

static void test_status_for_table(void **state)
{
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        const char *code = NULL;
        unsigned status = ks_http_status_for(table[i].err, &code);
        if (status != table[i].status || !code || strcmp(code, table[i].code) != 0) {
            fail_msg("%d: got %u %s, want %u %s", table[i].err, status, code ? code : "(null)",
                     table[i].status, table[i].code);
        }
        assert_int_equal(ks_http_status_for(table[i].err, NULL), table[i].status);
    }
}

/* Every code from 0 to -300 maps to a status the protocol allows, and every
 * defined code that is not an HTTP-level one is a refusal or internal. */
static void test_status_for_every_code(void **state)
{
    static const unsigned allowed[] = {200, 400, 403, 404, 405, 409, 413, 415, 429, 500, 503};
    for (int err = 0; err >= -300; err--) {
        const char *code = NULL;
        unsigned status = ks_http_status_for(err, &code);
        bool ok = false;
        for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
            ok = ok || status == allowed[i];
        }
        assert_true(ok);
        assert_non_null(code);
        /* The code string is the name of the code the status came from. */
        enum ks_http_code hc = ks_http_code_for(err);
        assert_string_equal(code, ks_http_code_name(hc));
        assert_int_equal(status, ks_http_code_status(hc));
        /* Only KS_OK succeeds. */
        assert_true((err == KS_OK) == (status == 200));
    }
}

static void test_code_names(void **state)
{
    static const char *const names[] = {
        "",
        "bad_request",
        "too_large",
        "unsupported_media_type",
        "not_found",
        "method_not_allowed",
        "nonce_invalid",
        "nonce_expired",
        "nonce_used",
        "attestation_failed",
        "policy_denied",
        "rate_limited",
        "unavailable",
        "internal",
    };
    assert_int_equal(sizeof(names) / sizeof(names[0]), KS_HC_COUNT);
    for (int i = 0; i < KS_HC_COUNT; i++) {
        assert_string_equal(ks_http_code_name((enum ks_http_code)i), names[i]);
    }
    assert_null(ks_http_code_name(KS_HC_COUNT));
    assert_null(ks_http_code_name((enum ks_http_code) - 1));
    assert_int_equal(ks_http_code_status(KS_HC_COUNT), 500);
}

static void test_reply_error(void **state)
{
    struct ks_http_reply reply;
    ks_http_reply_init(&reply);
    ks_http_reply_error(&reply, KS_ERR_NONCE_USED, "nonce already used\n\x80");
    assert_int_equal(reply.status, 409);
    assert_int_equal(reply.error, KS_HC_NONCE_USED);
    assert_string_equal(reply.content_type, "application/json");
    json_error_t jerr;
    json_t *doc = json_loadb(reply.body, reply.body_len, JSON_REJECT_DUPLICATES, &jerr);
    assert_non_null(doc);
    assert_int_equal(json_object_size(doc), 2);
    assert_string_equal(json_string_value(json_object_get(doc, "error")), "nonce_used");
    /* Control characters and non-ASCII bytes are replaced. */
    assert_string_equal(json_string_value(json_object_get(doc, "detail")), "nonce already used??");
    json_decref(doc);
    /* Replacing an earlier body. */
    ks_http_reply_error(&reply, KS_ERR_TOO_LARGE, NULL);
    assert_int_equal(reply.status, 413);
    assert_string_equal(reply.body, "{\"detail\":\"\",\"error\":\"too_large\"}");
    ks_http_reply_clear(&reply);
    assert_null(reply.body);
    ks_http_reply_clear(NULL);
}

static void test_reply_json(void **state)
{
    struct ks_http_reply reply;
    ks_http_reply_init(&reply);
    json_t *obj = json_pack("{s:s, s:i}", "b", "x", "a", 1);
    assert_int_equal(ks_http_reply_json(&reply, 201, obj), KS_OK);
    assert_int_equal(reply.status, 201);
    assert_int_equal(reply.error, KS_HC_NONE);
    assert_string_equal(reply.body, "{\"a\":1,\"b\":\"x\"}"); /* compact, sorted */
    assert_int_equal(reply.body_len, strlen(reply.body));
    assert_int_equal(ks_http_reply_json(&reply, 200, NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(reply.status, 201);
    json_decref(obj);
    ks_http_reply_clear(&reply);
}

static void test_json_type(void **state)
{
    assert_true(ks_http_is_json_type("application/json"));
    assert_true(ks_http_is_json_type("Application/JSON"));
    assert_true(ks_http_is_json_type("application/json; charset=utf-8"));
    assert_true(ks_http_is_json_type("application/json;charset=UTF-8"));
    assert_true(ks_http_is_json_type(" application/json "));
    assert_false(ks_http_is_json_type("application/jsonx"));
    assert_false(ks_http_is_json_type("application/json-seq"));
    assert_false(ks_http_is_json_type("text/json"));
    assert_false(ks_http_is_json_type("application/x-www-form-urlencoded"));
    assert_false(ks_http_is_json_type(""));
    assert_false(ks_http_is_json_type(NULL));
    assert_false(ks_http_is_json_type("application/cbor"));
}

static void test_cbor_type(void **state)
{
    assert_true(ks_http_is_cbor_type("application/cbor"));
    assert_true(ks_http_is_cbor_type("Application/CBOR"));
    assert_true(ks_http_is_cbor_type("application/cbor; x=1"));
    assert_false(ks_http_is_cbor_type("application/cbor-seq"));
    assert_false(ks_http_is_cbor_type("application/json"));
    assert_false(ks_http_is_cbor_type(""));
    assert_false(ks_http_is_cbor_type(NULL));
}

static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0')) {
            return true;
        }
    }
    return false;
}

static void test_metrics(void **state)
{
    struct ks_metrics m;
    ks_metrics_init(&m);
    ks_metrics_observe(&m, KS_EP_HEALTH, 200, KS_HC_NONE, 50);
    ks_metrics_observe(&m, KS_EP_RELEASE, 200, KS_HC_NONE, 1000);
    ks_metrics_observe(&m, KS_EP_RELEASE, 403, KS_HC_ATTESTATION_FAILED, 2000);
    ks_metrics_observe(&m, KS_EP_RELEASE, 400, KS_HC_BAD_REQUEST, 30);
    ks_metrics_observe(&m, KS_EP_RELEASE, 409, KS_HC_NONCE_USED, 30);
    ks_metrics_observe(&m, KS_EP_OTHER, 404, KS_HC_NOT_FOUND, 7000000);
    ks_metrics_observe(&m, KS_EP_CHALLENGE, 415, KS_HC_UNSUPPORTED_MEDIA_TYPE, 100);
    /* GET /v1/release: a request, not a release attempt. */
    ks_metrics_observe(&m, KS_EP_RELEASE, 405, KS_HC_METHOD_NOT_ALLOWED, 100);
    struct ks_metrics_gauges g = {
        .connections = 3, .in_flight = 1, .nonce_cache = 9, .uptime_s = 77};
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(ks_metrics_render(&m, &g, &text, &len), KS_OK);
    assert_int_equal(strlen(text), len);
    static const char *const lines[] = {
        "# TYPE keyserverd_requests_total counter",
        "keyserverd_requests_total{endpoint=\"health\",code=\"2xx\"} 1",
        "keyserverd_requests_total{endpoint=\"release\",code=\"2xx\"} 1",
        "keyserverd_requests_total{endpoint=\"release\",code=\"4xx\"} 4",
        "keyserverd_requests_total{endpoint=\"other\",code=\"4xx\"} 1",
        "keyserverd_requests_total{endpoint=\"challenge\",code=\"4xx\"} 1",
        "keyserverd_releases_granted_total 1",
        "keyserverd_releases_refused_total{reason=\"attestation_failed\"} 1",
        "keyserverd_releases_refused_total{reason=\"bad_request\"} 1",
        "keyserverd_releases_refused_total{reason=\"nonce_used\"} 1",
        "keyserverd_releases_refused_total{reason=\"policy_denied\"} 0",
        "keyserverd_releases_refused_total{reason=\"method_not_allowed\"} 0",
        "keyserverd_malformed_requests_total 2",
        "# TYPE keyserverd_request_duration_seconds histogram",
        "keyserverd_request_duration_seconds_bucket{le=\"0.0001\"} 5",
        "keyserverd_request_duration_seconds_bucket{le=\"0.001\"} 6",
        "keyserverd_request_duration_seconds_bucket{le=\"0.0025\"} 7",
        "keyserverd_request_duration_seconds_bucket{le=\"5\"} 7",
        "keyserverd_request_duration_seconds_bucket{le=\"+Inf\"} 8",
        "keyserverd_request_duration_seconds_sum 7.003310",
        "keyserverd_request_duration_seconds_count 8",
        "keyserverd_connections 3",
        "keyserverd_requests_in_flight 1",
        "keyserverd_nonce_cache_entries 9",
        "keyserverd_uptime_seconds 77",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        if (!has_line(text, lines[i])) {
            fail_msg("missing line: %s", lines[i]);
        }
    }
    assert_false(has_line(text, "keyserverd_releases_refused_total{reason=\"\"} 0"));
    free(text);
    assert_int_equal(ks_metrics_render(NULL, &g, &text, &len), KS_ERR_INVALID_ARG);
    assert_string_equal(ks_endpoint_name(KS_EP_KEYS_PUBLIC), "keys_public");
    assert_null(ks_endpoint_name(KS_EP_COUNT));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_for_table), cmocka_unit_test(test_status_for_every_code),
        cmocka_unit_test(test_code_names),       cmocka_unit_test(test_reply_error),
        cmocka_unit_test(test_reply_json),       cmocka_unit_test(test_json_type),
        cmocka_unit_test(test_cbor_type),        cmocka_unit_test(test_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
