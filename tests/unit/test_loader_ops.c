/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include <jansson.h>
#include <openssl/evp.h>

#include "encoding.h"
#include "hpke.h"
#include "loader-ref/frame.h"
#include "loader-ref/infer.h"
#include "loader-ref/loader_ops.h"
#include "loader-ref/program.h"
#include "loader-ref/proto.h"

/*
 * The loader's request handling with a fake model and a test clock: every
 * refusal of LOAD and INFER, that the loader keeps serving after each,
 * the egress budget, STATS. The client side is the real one (infer.h,
 * proto.h), so a served completion is decrypted and compared.
 */

#define NOW 1700000000u

struct fixture {
    EVP_PKEY *ci, *ci_other;
    uint8_t sk[32], pk[32], sk_other[32], pk_other[32];
    uint8_t weights_sha256[32];
    struct ks_model_dims dims;
    struct ks_loader_ops *ops;
    size_t last_n_new; /* what the fake model was asked for */
    unsigned calls;
};

/* The fake model: the prompt reversed, then '.' up to n_new. */
static int fake_generate(void *ctx, const uint8_t *prompt, size_t len, size_t n_new, uint8_t *out,
                         size_t *out_len)
{
    struct fixture *f = ctx;
    f->last_n_new = n_new;
    f->calls++;
    for (size_t i = 0; i < n_new; i++) {
        out[i] = i < len ? prompt[len - 1 - i] : '.';
    }
    *out_len = n_new;
    return KS_OK;
}

static struct ks_loader_ops *make_ops(struct fixture *f, uint64_t egress, uint64_t window)
{
    struct ks_loader_ops *ops = NULL;
    const struct ks_loader_ops_config c = {
        .key_name = "req",
        .key_version = 2,
        .request_sk = f->sk,
        .ci_key = f->ci,
        .weights_sha256 = f->weights_sha256,
        .dims = &f->dims,
        .egress_bytes = egress,
        .egress_window = window,
        .replay_window = 300,
        .replay_cache = 16,
        .allow_unlocked = true,
        .generate = fake_generate,
        .generate_ctx = f,
    };
    assert_int_equal(ks_loader_ops_new(&c, NOW, &ops), KS_OK);
    return ops;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->ci = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    f->ci_other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_int_equal(ks_hpke_keygen(f->sk, f->pk), KS_OK);
    assert_int_equal(ks_hpke_keygen(f->sk_other, f->pk_other), KS_OK);
    memset(f->weights_sha256, 0x42, 32);
    f->dims = KS_MODEL_DEFAULT_DIMS;
    f->ops = make_ops(f, 1u << 20, 60);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    ks_loader_ops_free(f->ops);
    EVP_PKEY_free(f->ci);
    EVP_PKEY_free(f->ci_other);
    free(f);
    return 0;
}

/* Handle one request; returns the response, NUL-terminated. */
static char *handle(struct ks_loader_ops *ops, const char *req, size_t len, uint64_t now,
                    int *refused)
{
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    assert_int_equal(
        ks_loader_ops_handle(ops, (const uint8_t *)req, len, now, &resp, &resp_len, refused),
        KS_OK);
    char *s = malloc(resp_len + 1);
    memcpy(s, resp, resp_len);
    s[resp_len] = '\0';
    free(resp);
    return s;
}

static char *program(EVP_PKEY *key, const uint8_t sha[32], uint32_t d_model, uint32_t max_new)
{
    struct ks_program p = {.dims = KS_MODEL_DEFAULT_DIMS, .max_new_tokens = max_new};
    strcpy(p.name, "prog");
    p.dims.d_model = d_model;
    memcpy(p.weights_sha256, sha, 32);
    char *signed_json = NULL, *req = NULL;
    size_t len = 0;
    assert_int_equal(ks_program_sign(&p, key, &signed_json, &len), KS_OK);
    assert_int_equal(ks_proto_load_build((uint8_t *)signed_json, len, &req, &len), KS_OK);
    free(signed_json);
    return req;
}

static void expect_refusal(struct ks_loader_ops *ops, const char *req, uint64_t now, int want_err,
                           const char *code)
{
    int refused = KS_OK;
    char *s = handle(ops, req, strlen(req), now, &refused);
    char want[64];
    snprintf(want, sizeof(want), "\"error\":\"%s\"", code);
    if (refused != want_err || !strstr(s, want) || !strstr(s, "\"ok\":false")) {
        fail_msg("want %s (%d), got %d: %s", code, want_err, refused, s);
    }
    free(s);
}

static void load_good(struct fixture *f, struct ks_loader_ops *ops, uint32_t max_new)
{
    int refused = -1;
    char *req = program(f->ci, f->weights_sha256, 64, max_new);
    char *s = handle(ops, req, strlen(req), NOW, &refused);
    assert_int_equal(refused, KS_OK);
    assert_non_null(strstr(s, "\"ok\":true"));
    assert_non_null(strstr(s, "\"program\":\"prog\""));
    free(s);
    free(req);
}

/* A client request; ret_rk gets its response key. */
static char *infer_req(const uint8_t pk[32], const char *name, uint32_t v, uint64_t issued,
                       uint32_t max_new, const char *prompt, uint8_t ret_rk[32])
{
    uint8_t enc[32], ct[256];
    size_t ct_len = 0, len = 0;
    char *req = NULL;
    assert_int_equal(ks_infer_seal_request(pk, name, v, (const uint8_t *)"rid-7", 5, issued,
                                           max_new, (const uint8_t *)prompt, strlen(prompt), enc,
                                           ct, sizeof(ct), &ct_len, ret_rk),
                     KS_OK);
    assert_int_equal(
        ks_proto_infer_build(name, v, (const uint8_t *)"rid-7", 5, enc, ct, ct_len, &req, &len),
        KS_OK);
    return req;
}

/* Serve a request and decrypt the completion. */
static void expect_completion_at(struct ks_loader_ops *ops, const char *req, const uint8_t rk[32],
                                 const char *want, uint64_t now)
{
    int refused = -1;
    struct ks_proto_response r;
    uint8_t out[256];
    size_t out_len = 0;
    char *s = handle(ops, req, strlen(req), now, &refused);
    if (refused != KS_OK) {
        fail_msg("refused: %s", s);
    }
    assert_int_equal(ks_proto_response_parse((uint8_t *)s, strlen(s), KS_PROTO_INFER, &r), KS_OK);
    assert_true(r.ok);
    assert_int_equal(r.id_len, 5);
    assert_memory_equal(r.id, "rid-7", 5);
    assert_int_equal(ks_infer_open_response(rk, r.nonce, r.id, r.id_len, r.ct, r.ct_len, out,
                                            sizeof(out), &out_len),
                     KS_OK);
    assert_int_equal(out_len, strlen(want));
    assert_memory_equal(out, want, out_len);
    ks_proto_response_clear(&r);
    free(s);
}

static void expect_completion(struct ks_loader_ops *ops, const char *req, const uint8_t rk[32],
                              const char *want)
{
    expect_completion_at(ops, req, rk, want, NOW);
}

static void good_request_at(struct fixture *f, struct ks_loader_ops *ops, uint64_t now)
{
    uint8_t rk[32];
    char *req = infer_req(f->pk, "req", 2, now, 4, "abc", rk);
    expect_completion_at(ops, req, rk, "cba.", now);
    free(req);
}

static void good_request(struct fixture *f, struct ks_loader_ops *ops)
{
    good_request_at(f, ops, NOW);
}

static void test_load(void **state)
{
    struct fixture *f = *state;
    uint8_t rk[32];
    char *req = infer_req(f->pk, "req", 2, NOW, 4, "abc", rk);
    expect_refusal(f->ops, req, NOW, KS_ERR_NO_PROGRAM, "no_program");
    free(req);
    /* Another signer, other weights, other dims. */
    req = program(f->ci_other, f->weights_sha256, 64, 8);
    expect_refusal(f->ops, req, NOW, KS_ERR_PROGRAM_SIGNATURE, "program_signature");
    free(req);
    uint8_t other[32];
    memset(other, 0x43, 32);
    req = program(f->ci, other, 64, 8);
    expect_refusal(f->ops, req, NOW, KS_ERR_PROGRAM_WEIGHTS, "program_weights");
    free(req);
    req = program(f->ci, f->weights_sha256, 128, 8);
    expect_refusal(f->ops, req, NOW, KS_ERR_PROGRAM_WEIGHTS, "program_weights");
    free(req);
    /* A manifest edited after signing. */
    req = program(f->ci, f->weights_sha256, 64, 8);
    json_error_t jerr;
    json_t *o = json_loads(req, 0, &jerr);
    json_t *p = json_object_get(o, "program");
    const char *m = json_string_value(json_object_get(p, "manifest"));
    uint8_t *mb = NULL;
    size_t mlen = 0;
    assert_int_equal(ks_base64_decode(m, strlen(m), &mb, &mlen), KS_OK);
    char *hit = strstr((char *)mb, "\"max_new_tokens\":8");
    assert_non_null(hit);
    hit[17] = '9';
    char *mb64 = NULL;
    assert_int_equal(ks_base64_encode(mb, mlen, &mb64), KS_OK);
    json_object_set_new(p, "manifest", json_string(mb64));
    char *edited = json_dumps(o, JSON_COMPACT);
    expect_refusal(f->ops, edited, NOW, KS_ERR_PROGRAM_SIGNATURE, "program_signature");
    free(edited);
    free(mb64);
    free(mb);
    json_decref(o);
    free(req);
    /* Then the good one, and the loader serves. */
    load_good(f, f->ops, 8);
    good_request(f, f->ops);
}

static void test_infer_refusals(void **state)
{
    struct fixture *f = *state;
    uint8_t rk[32];
    char *req;
    load_good(f, f->ops, 8);
    /* Another key's name, or version. */
    req = infer_req(f->pk, "other", 2, NOW, 4, "abc", rk);
    expect_refusal(f->ops, req, NOW, KS_ERR_INFER_KEY, "wrong_key");
    free(req);
    req = infer_req(f->pk, "req", 1, NOW, 4, "abc", rk);
    expect_refusal(f->ops, req, NOW, KS_ERR_INFER_KEY, "wrong_key");
    free(req);
    good_request(f, f->ops);
    /* Encrypted to another key under our name. */
    req = infer_req(f->pk_other, "req", 2, NOW, 4, "abc", rk);
    expect_refusal(f->ops, req, NOW, KS_ERR_HPKE_OPEN, "decrypt_failed");
    free(req);
    good_request(f, f->ops);
    /* Too old, from the future. */
    req = infer_req(f->pk, "req", 2, NOW - 301, 4, "abc", rk);
    expect_refusal(f->ops, req, NOW, KS_ERR_INFER_STALE, "stale");
    free(req);
    req = infer_req(f->pk, "req", 2, NOW + 301, 4, "abc", rk);
    expect_refusal(f->ops, req, NOW, KS_ERR_INFER_STALE, "stale");
    free(req);
    good_request(f, f->ops);
    /* Replayed. */
    req = infer_req(f->pk, "req", 2, NOW, 4, "xyz", rk);
    expect_completion(f->ops, req, rk, "zyx.");
    unsigned calls = f->calls;
    expect_refusal(f->ops, req, NOW, KS_ERR_INFER_REPLAY, "replay");
    assert_int_equal(f->calls, calls); /* nothing was computed */
    free(req);
    good_request(f, f->ops);
    /* Malformed. */
    expect_refusal(f->ops, "{\"op\":\"infer\"}", NOW, KS_ERR_PROTO_REQUEST, "bad_request");
    expect_refusal(f->ops, "garbage", NOW, KS_ERR_PROTO_REQUEST, "bad_request");
    /* Regression (fuzz_loader_request): invalid UTF-8 quoted in the detail. */
    expect_refusal(f->ops, "{\"opr\\\xc9\x96\"}", NOW, KS_ERR_PROTO_REQUEST, "bad_request");
    good_request(f, f->ops);
}

static void test_max_new(void **state)
{
    struct fixture *f = *state;
    uint8_t rk[32];
    load_good(f, f->ops, 6);
    /* 0: the program's maximum; more: capped to it; less: as asked. */
    char *req = infer_req(f->pk, "req", 2, NOW, 0, "ab", rk);
    expect_completion(f->ops, req, rk, "ba....");
    free(req);
    req = infer_req(f->pk, "req", 2, NOW, 1000, "ab", rk);
    expect_completion(f->ops, req, rk, "ba....");
    assert_int_equal(f->last_n_new, 6);
    free(req);
    req = infer_req(f->pk, "req", 2, NOW, 1, "ab", rk);
    expect_completion(f->ops, req, rk, "b");
    free(req);
}

static void test_egress(void **state)
{
    struct fixture *f = *state;
    struct ks_loader_ops *ops = make_ops(f, 400, 10);
    uint8_t rk[32];
    int refused = -1;
    load_good(f, ops, 8); /* ~130 bytes */
    unsigned served = 0, calls = f->calls;
    char *s = NULL;
    for (int i = 0; i < 4; i++) {
        char *req = infer_req(f->pk, "req", 2, NOW, 4, "abc", rk);
        s = handle(ops, req, strlen(req), NOW + 1, &refused);
        if (refused == KS_OK) {
            served++;
        } else {
            assert_int_equal(refused, KS_ERR_EGRESS);
            assert_string_equal(s, KS_OPS_EGRESS_REFUSAL);
        }
        free(s);
        free(req);
    }
    /* 400 bytes hold the LOAD answer and one or two completions. */
    assert_true(served >= 1 && served <= 2);
    assert_int_equal(f->calls - calls, served); /* refused before computing */
    /* STATS and refusals are answered, with the fixed refusal, too. */
    s = handle(ops, "{\"op\":\"stats\"}", 14, NOW + 2, &refused);
    assert_int_equal(refused, KS_ERR_EGRESS);
    assert_string_equal(s, KS_OPS_EGRESS_REFUSAL);
    free(s);
    /* The next window: served again, and the refusals were counted. */
    good_request_at(f, ops, NOW + 10);
    char *stats = NULL;
    assert_int_equal(ks_loader_ops_stats_json(ops, NOW + 10, &stats), KS_OK);
    json_error_t jerr;
    json_t *o = json_loads(stats, 0, &jerr);
    assert_non_null(o);
    json_t *ref = json_object_get(o, "refused");
    assert_int_equal(json_integer_value(json_object_get(ref, "egress_budget")), 4 - served + 1);
    json_t *eg = json_object_get(o, "egress");
    assert_int_equal(json_integer_value(json_object_get(eg, "budget")), 400);
    assert_int_equal(json_integer_value(json_object_get(eg, "window")), 10);
    assert_true(json_integer_value(json_object_get(eg, "used")) > 0);
    json_decref(o);
    free(stats);
    ks_loader_ops_free(ops);
}

static void test_stats_and_frames(void **state)
{
    struct fixture *f = *state;
    struct ks_loader_ops *ops = make_ops(f, 1u << 20, 60);
    uint8_t *resp = NULL;
    size_t len = 0;
    int refused = -1;
    assert_int_equal(ks_loader_ops_frame_error(ops, KS_ERR_FRAME, NOW, &resp, &len), KS_OK);
    assert_non_null(memmem(resp, len, "\"error\":\"bad_frame\"", 19));
    free(resp);
    load_good(f, ops, 8);
    good_request(f, ops);
    char *s = handle(ops, "{\"op\":\"stats\"}", 14, NOW, &refused);
    assert_int_equal(refused, KS_OK);
    json_error_t jerr;
    json_t *o = json_loads(s, 0, &jerr);
    json_t *st = json_object_get(o, "stats");
    assert_int_equal(json_integer_value(json_object_get(st, "requests")), 4);
    json_t *served = json_object_get(st, "served");
    assert_int_equal(json_integer_value(json_object_get(served, "load")), 1);
    assert_int_equal(json_integer_value(json_object_get(served, "infer")), 1);
    assert_int_equal(json_integer_value(json_object_get(st, "refused_total")), 1);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(st, "refused"), "bad_frame")), 1);
    json_t *prog = json_object_get(st, "program");
    assert_string_equal(json_string_value(json_object_get(prog, "name")), "prog");
    assert_int_equal(json_integer_value(json_object_get(prog, "max_new_tokens")), 8);
    json_t *rc = json_object_get(st, "replay_cache");
    assert_int_equal(json_integer_value(json_object_get(rc, "entries")), 1);
    assert_int_equal(json_integer_value(json_object_get(rc, "capacity")), 16);
    json_decref(o);
    free(s);
    ks_loader_ops_free(ops);
    ks_loader_ops_free(NULL);
}

static void test_new_invalid(void **state)
{
    struct fixture *f = *state;
    struct ks_loader_ops *ops = NULL;
    struct ks_loader_ops_config c = {
        .key_name = "r q",
        .key_version = 1,
        .request_sk = f->sk,
        .ci_key = f->ci,
        .weights_sha256 = f->weights_sha256,
        .dims = &f->dims,
        .egress_bytes = 1,
        .egress_window = 1,
        .replay_window = 1,
        .replay_cache = 1,
        .allow_unlocked = true,
        .generate = fake_generate,
    };
    assert_int_equal(ks_loader_ops_new(&c, NOW, &ops), KS_ERR_INVALID_ARG);
    c.key_name = "r";
    c.egress_bytes = 0;
    assert_int_equal(ks_loader_ops_new(&c, NOW, &ops), KS_ERR_INVALID_ARG);
    c.egress_bytes = 1;
    c.replay_cache = 0;
    assert_int_equal(ks_loader_ops_new(&c, NOW, &ops), KS_ERR_INVALID_ARG);
    c.replay_cache = 1;
    c.generate = NULL;
    assert_int_equal(ks_loader_ops_new(&c, NOW, &ops), KS_ERR_INVALID_ARG);
    assert_null(ops);
    uint8_t *resp = NULL;
    size_t len = 0;
    assert_int_equal(ks_loader_ops_handle(NULL, (const uint8_t *)"{}", 2, NOW, &resp, &len, NULL),
                     KS_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_infer_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_new, setup, teardown),
        cmocka_unit_test_setup_teardown(test_egress, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_and_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_invalid, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
