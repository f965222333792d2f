/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "attest.h"
#include "encoding.h"
#include "frame.h"
#include "program.h"
#include "proto.h"

__attribute__((format(printf, 3, 4))) static int bad(char *detail, size_t dlen, const char *fmt,
                                                     ...)
{
    if (detail && dlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, dlen, fmt, ap);
        va_end(ap);
    }
    return KS_ERR_PROTO_REQUEST;
}

/* Every member of o is one of the names in allowed (NULL-terminated). */
static const char *unknown_member(json_t *o, const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], k) != 0) {
            i++;
        }
        if (!allowed[i]) {
            return k;
        }
    }
    return NULL;
}

/* A base64 member decoded into a fixed buffer of min..max bytes. */
static int b64_member(json_t *o, const char *name, uint8_t *ret, size_t min, size_t max,
                      size_t *ret_len, char *detail, size_t dlen)
{
    json_t *v = json_object_get(o, name);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (!json_is_string(v)) {
        return bad(detail, dlen, "%s: expected a base64 string", name);
    }
    if (ks_base64_decode(json_string_value(v), json_string_length(v), &buf, &len) != KS_OK) {
        return bad(detail, dlen, "%s: malformed base64", name);
    }
    int r = KS_OK;
    if (len < min || len > max) {
        r = bad(detail, dlen, "%s: expected %zu..%zu bytes, not %zu", name, min, max, len);
    } else {
        memcpy(ret, buf, len);
        if (ret_len) {
            *ret_len = len;
        }
    }
    free(buf);
    return r;
}

static int parse_load(json_t *root, struct ks_proto_request *req, char *detail, size_t dlen)
{
    static const char *const allowed[] = {"op", "program", NULL};
    const char *u = unknown_member(root, allowed);
    if (u) {
        return bad(detail, dlen, "unknown member '%s'", u);
    }
    json_t *p = json_object_get(root, "program");
    if (!json_is_object(p)) {
        return bad(detail, dlen, "program: expected an object");
    }
    /* The signature covers the decoded manifest bytes, not this JSON: the
     * object is handed on re-encoded (ks_program_verify checks it). */
    char *s = json_dumps(p, JSON_COMPACT);
    if (!s) {
        return KS_ERR_NOMEM;
    }
    size_t n = strlen(s);
    if (n > KS_PROGRAM_MAX) {
        free(s);
        return KS_ERR_TOO_LARGE;
    }
    req->program = s;
    req->program_len = n;
    return KS_OK;
}

static int parse_infer(json_t *root, struct ks_proto_request *req, char *detail, size_t dlen)
{
    static const char *const allowed[] = {"op", "key", "version", "id", "enc", "ct", NULL};
    const char *u = unknown_member(root, allowed);
    if (u) {
        return bad(detail, dlen, "unknown member '%s'", u);
    }
    json_t *key = json_object_get(root, "key");
    json_t *ver = json_object_get(root, "version");
    uint32_t v = 1;
    if (!json_is_string(key) || json_string_length(key) > KS_INFER_KEY_NAME_MAX ||
        strlen(json_string_value(key)) != json_string_length(key) ||
        ks_attest_key_ref_parse(json_string_value(key), NULL, &v) != KS_OK || v != 0) {
        return bad(detail, dlen, "key: expected a key name [A-Za-z0-9._-]{1,64}");
    }
    if (!json_is_integer(ver) || json_integer_value(ver) < 1 ||
        json_integer_value(ver) > UINT32_MAX) {
        return bad(detail, dlen, "version: expected an integer 1..4294967295");
    }
    snprintf(req->key, sizeof(req->key), "%s", json_string_value(key));
    req->version = (uint32_t)json_integer_value(ver);
    int r = b64_member(root, "id", req->id, 1, KS_INFER_ID_MAX, &req->id_len, detail, dlen);
    if (r == KS_OK) {
        r = b64_member(root, "enc", req->enc, KS_HPKE_ENC_LEN, KS_HPKE_ENC_LEN, NULL, detail, dlen);
    }
    if (r != KS_OK) {
        return r;
    }
    json_t *ct = json_object_get(root, "ct");
    if (!json_is_string(ct)) {
        return bad(detail, dlen, "ct: expected a base64 string");
    }
    /* 4 base64 characters per 3 bytes: refuse before decoding. */
    if (json_string_length(ct) > (KS_PROTO_CT_MAX + 2) / 3 * 4) {
        return KS_ERR_TOO_LARGE;
    }
    if (ks_base64_decode(json_string_value(ct), json_string_length(ct), &req->ct, &req->ct_len) !=
            KS_OK ||
        req->ct_len < KS_INFER_TAG_LEN) {
        return bad(detail, dlen, "ct: expected base64 of at least %d bytes", KS_INFER_TAG_LEN);
    }
    return KS_OK;
}

int ks_proto_request_parse(const uint8_t *buf, size_t len, struct ks_proto_request *ret,
                           char *detail, size_t dlen)
{
    struct ks_proto_request req;
    json_error_t jerr;
    if (detail && dlen) {
        detail[0] = '\0';
    }
    if (!buf || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    memset(&req, 0, sizeof(req));
    json_t *root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        return bad(detail, dlen, "not JSON: %s", jerr.text);
    }
    int r;
    json_t *op = json_object_get(root, "op");
    const char *name = json_is_string(op) ? json_string_value(op) : "";
    if (!json_is_object(root)) {
        r = bad(detail, dlen, "expected a JSON object");
    } else if (strcmp(name, "load") == 0) {
        req.op = KS_PROTO_LOAD;
        r = parse_load(root, &req, detail, dlen);
    } else if (strcmp(name, "infer") == 0) {
        req.op = KS_PROTO_INFER;
        r = parse_infer(root, &req, detail, dlen);
    } else if (strcmp(name, "stats") == 0) {
        static const char *const allowed[] = {"op", NULL};
        const char *u = unknown_member(root, allowed);
        req.op = KS_PROTO_STATS;
        r = u ? bad(detail, dlen, "unknown member '%s'", u) : KS_OK;
    } else {
        r = bad(detail, dlen, "op: expected \"load\", \"infer\" or \"stats\"");
    }
    json_decref(root);
    if (r != KS_OK) {
        ks_proto_request_clear(&req);
        return r;
    }
    *ret = req;
    return KS_OK;
}

void ks_proto_request_clear(struct ks_proto_request *req)
{
    if (!req) {
        return;
    }
    free(req->program);
    free(req->ct);
    memset(req, 0, sizeof(*req));
}

/* Dump o compactly (keys sorted), check the frame cap, and consume o. */
static int finish(json_t *o, char **ret, size_t *ret_len)
{
    if (!o) {
        return KS_ERR_NOMEM;
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (!s) {
        return KS_ERR_NOMEM;
    }
    size_t n = strlen(s);
    if (n > KS_FRAME_MAX) {
        free(s);
        return KS_ERR_TOO_LARGE;
    }
    *ret = s;
    *ret_len = n;
    return KS_OK;
}

/* json_pack's "s" with a base64 string built here. */
static json_t *b64_string(const uint8_t *buf, size_t len)
{
    char *b = NULL;
    if (ks_base64_encode(buf, len, &b) != KS_OK) {
        return NULL;
    }
    json_t *s = json_string(b);
    free(b);
    return s;
}

int ks_proto_load_build(const uint8_t *signed_program, size_t len, char **ret, size_t *ret_len)
{
    json_error_t jerr;
    if (!signed_program || !ret || !ret_len) {
        return KS_ERR_INVALID_ARG;
    }
    json_t *p = json_loadb((const char *)signed_program, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(p)) {
        json_decref(p);
        return KS_ERR_PROGRAM_JSON;
    }
    return finish(json_pack("{s:s,s:o}", "op", "load", "program", p), ret, ret_len);
}

int ks_proto_infer_build(const char *key, uint32_t version, const uint8_t *id, size_t id_len,
                         const uint8_t enc[KS_HPKE_ENC_LEN], const uint8_t *ct, size_t ct_len,
                         char **ret, size_t *ret_len)
{
    if (!key || !id || id_len == 0 || id_len > KS_INFER_ID_MAX || !enc || !ct || !ret || !ret_len ||
        version == 0) {
        return KS_ERR_INVALID_ARG;
    }
    return finish(json_pack("{s:s,s:s,s:I,s:o,s:o,s:o}", "op", "infer", "key", key, "version",
                            (json_int_t)version, "id", b64_string(id, id_len), "enc",
                            b64_string(enc, KS_HPKE_ENC_LEN), "ct", b64_string(ct, ct_len)),
                  ret, ret_len);
}

int ks_proto_stats_build(char **ret, size_t *ret_len)
{
    if (!ret || !ret_len) {
        return KS_ERR_INVALID_ARG;
    }
    return finish(json_pack("{s:s}", "op", "stats"), ret, ret_len);
}

const char *ks_proto_error_code(int err)
{
    switch (err) {
    case KS_ERR_FRAME:
        return "bad_frame";
    case KS_ERR_PROTO_REQUEST:
    case KS_ERR_BASE64:
        return "bad_request";
    case KS_ERR_TOO_LARGE:
        return "too_large";
    case KS_ERR_NO_PROGRAM:
        return "no_program";
    case KS_ERR_PROGRAM_SIGNATURE:
    case KS_ERR_PROGRAM_KEY:
        return "program_signature";
    case KS_ERR_PROGRAM_JSON:
    case KS_ERR_PROGRAM_FIELD:
        return "program_invalid";
    case KS_ERR_PROGRAM_WEIGHTS:
    case KS_ERR_MODEL_MISMATCH:
        return "program_weights";
    case KS_ERR_INFER_KEY:
        return "wrong_key";
    case KS_ERR_HPKE_OPEN:
        return "decrypt_failed";
    case KS_ERR_INFER_REPLAY:
        return "replay";
    case KS_ERR_INFER_STALE:
        return "stale";
    case KS_ERR_REPLAY_FULL:
        return "busy";
    case KS_ERR_EGRESS:
        return "egress_budget";
    case KS_ERR_MODEL_PROMPT:
        return "bad_prompt";
    default:
        return "internal";
    }
}

static void copy_printable(char *dst, size_t size, const char *src);

int ks_proto_error_build(const char *code, const char *detail, char **ret, size_t *ret_len)
{
    char safe[256];
    if (!code || !ret || !ret_len) {
        return KS_ERR_INVALID_ARG;
    }
    /* A detail may quote the request (jansson's error text does): printable
     * ASCII only, so that it is valid UTF-8 and echoes no raw bytes. */
    copy_printable(safe, sizeof(safe), detail);
    json_t *o = safe[0] ? json_pack("{s:b,s:s,s:s}", "ok", 0, "error", code, "detail", safe)
                        : json_pack("{s:b,s:s}", "ok", 0, "error", code);
    return finish(o, ret, ret_len);
}

int ks_proto_infer_reply_build(const uint8_t *id, size_t id_len,
                               const uint8_t nonce[KS_INFER_NONCE_LEN], const uint8_t *ct,
                               size_t ct_len, char **ret, size_t *ret_len)
{
    if (!id || id_len == 0 || id_len > KS_INFER_ID_MAX || !nonce || !ct || !ret || !ret_len) {
        return KS_ERR_INVALID_ARG;
    }
    return finish(json_pack("{s:b,s:s,s:o,s:o,s:o}", "ok", 1, "op", "infer", "id",
                            b64_string(id, id_len), "nonce", b64_string(nonce, KS_INFER_NONCE_LEN),
                            "ct", b64_string(ct, ct_len)),
                  ret, ret_len);
}

/* Printable ASCII only (a relay may put anything there). */
static void copy_printable(char *dst, size_t size, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < size; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    dst[i] = '\0';
}

static int parse_infer_reply(json_t *root, struct ks_proto_response *r)
{
    static const char *const allowed[] = {"ok", "op", "id", "nonce", "ct", NULL};
    json_t *ct = json_object_get(root, "ct");
    if (unknown_member(root, allowed) ||
        b64_member(root, "id", r->id, 1, KS_INFER_ID_MAX, &r->id_len, NULL, 0) != KS_OK ||
        b64_member(root, "nonce", r->nonce, KS_INFER_NONCE_LEN, KS_INFER_NONCE_LEN, NULL, NULL,
                   0) != KS_OK ||
        !json_is_string(ct) ||
        ks_base64_decode(json_string_value(ct), json_string_length(ct), &r->ct, &r->ct_len) !=
            KS_OK ||
        r->ct_len < KS_INFER_TAG_LEN) {
        return KS_ERR_PROTO_REQUEST;
    }
    return KS_OK;
}

int ks_proto_response_parse(const uint8_t *buf, size_t len, enum ks_proto_op op,
                            struct ks_proto_response *ret)
{
    struct ks_proto_response r;
    json_error_t jerr;
    if (!buf || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    memset(&r, 0, sizeof(r));
    json_t *root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *ok = json_object_get(root, "ok");
    int rc = KS_ERR_PROTO_REQUEST;
    if (!json_is_object(root) || !json_is_boolean(ok)) {
        goto out;
    }
    r.ok = json_is_true(ok);
    if (!r.ok) {
        static const char *const allowed[] = {"ok", "error", "detail", NULL};
        json_t *code = json_object_get(root, "error");
        json_t *detail = json_object_get(root, "detail");
        if (unknown_member(root, allowed) || !json_is_string(code) ||
            (detail && !json_is_string(detail))) {
            goto out;
        }
        copy_printable(r.error, sizeof(r.error), json_string_value(code));
        copy_printable(r.detail, sizeof(r.detail), detail ? json_string_value(detail) : "");
        rc = KS_OK;
        goto out;
    }
    static const char *const names[] = {"", "load", "infer", "stats"};
    json_t *o = json_object_get(root, "op");
    if (op < KS_PROTO_LOAD || op > KS_PROTO_STATS || !json_is_string(o) ||
        strcmp(json_string_value(o), names[op]) != 0) {
        goto out;
    }
    if (op == KS_PROTO_INFER) {
        rc = parse_infer_reply(root, &r);
    } else {
        r.json = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
        rc = r.json ? KS_OK : KS_ERR_NOMEM;
    }
out:
    json_decref(root);
    if (rc != KS_OK) {
        ks_proto_response_clear(&r);
        return rc;
    }
    *ret = r;
    return KS_OK;
}

void ks_proto_response_clear(struct ks_proto_response *resp)
{
    if (!resp) {
        return;
    }
    free(resp->ct);
    free(resp->json);
    memset(resp, 0, sizeof(*resp));
}
