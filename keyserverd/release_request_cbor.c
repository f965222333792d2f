/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "tpm_alg.h"
#include "keyserverd/release_request.h"
#include "keyserverd/release_request_internal.h"

/*
 * POST /v1/release with Content-Type application/cbor (RFC 8949): the same
 * members as the JSON form, binary fields as byte strings (no base64), PCR
 * indexes as unsigned integers:
 *   {"ak_id": tstr, "nonce": bstr .size 32, "hpke_pk": bstr .size 32,
 *    "keys": [+ tstr], "quote": {"attest": bstr, "signature": bstr},
 *    "pcrs": {+ tstr => {+ uint => bstr}},
 *    ? "event_log": bstr, ? "ima_log": bstr, ? "app_log": bstr}
 * Definite lengths only, no tags, text-string map keys, no key twice, no
 * byte after the map. libcbor decodes; the values go through the same
 * checks as the JSON form's (release_request_internal.h).
 */

#define msg ks_rr_msg

static bool is_tstr(const cbor_item_t *v)
{
    return cbor_isa_string(v) && cbor_string_is_definite(v);
}

static bool is_bstr(const cbor_item_t *v)
{
    return cbor_isa_bytestring(v) && cbor_bytestring_is_definite(v);
}

static bool key_is(const cbor_item_t *k, const char *name)
{
    size_t n = strlen(name);
    return cbor_string_length(k) == n && memcmp(cbor_string_handle(k), name, n) == 0;
}

/* A definite map of at most `max` members whose keys are definite text
 * strings, none twice (two spellings of one name would be read one way here
 * and another elsewhere). The bound comes first: the duplicate check is
 * quadratic, and every map here has a handful of known members. */
static bool map_ok(const cbor_item_t *m, const char *what, size_t max, char *detail, size_t dlen)
{
    if (!cbor_isa_map(m) || !cbor_map_is_definite(m)) {
        msg(detail, dlen, "%s: expected a map of definite length", what);
        return false;
    }
    const struct cbor_pair *p = cbor_map_handle(m);
    size_t n = cbor_map_size(m);
    if (n > max) {
        msg(detail, dlen, "%s: more than %zu members", what, max);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!is_tstr(p[i].key)) {
            msg(detail, dlen, "%s: map keys must be text strings", what);
            return false;
        }
        for (size_t j = 0; j < i; j++) {
            if (cbor_string_length(p[j].key) == cbor_string_length(p[i].key) &&
                memcmp(cbor_string_handle(p[j].key), cbor_string_handle(p[i].key),
                       cbor_string_length(p[i].key)) == 0) {
                msg(detail, dlen, "%s: a key given twice", what);
                return false;
            }
        }
    }
    return true;
}

static const cbor_item_t *member(const cbor_item_t *m, const char *name)
{
    const struct cbor_pair *p = cbor_map_handle(m);
    for (size_t i = 0; i < cbor_map_size(m); i++) {
        if (key_is(p[i].key, name)) {
            return p[i].value;
        }
    }
    return NULL;
}

/* A byte string of 1..max bytes (exact: exactly max) copied to *ret. */
static int get_bytes(const cbor_item_t *v, const char *what, size_t max, bool exact, uint8_t **ret,
                     size_t *ret_len, char *detail, size_t dlen)
{
    if (!is_bstr(v)) {
        msg(detail, dlen, "%s: expected a byte string of definite length", what);
        return KS_ERR_BAD_REQUEST;
    }
    size_t len = cbor_bytestring_length(v);
    int r = ks_rr_length(what, len, max, exact, detail, dlen);
    if (r != KS_OK) {
        return r;
    }
    uint8_t *buf = malloc(len);
    if (!buf) {
        return KS_ERR_NOMEM;
    }
    memcpy(buf, cbor_bytestring_handle(v), len);
    *ret = buf;
    *ret_len = len;
    return KS_OK;
}

static int get_fixed(const cbor_item_t *v, const char *what, uint8_t *out, size_t n, char *detail,
                     size_t dlen)
{
    if (!is_bstr(v)) {
        msg(detail, dlen, "%s: expected a byte string of definite length", what);
        return KS_ERR_BAD_REQUEST;
    }
    int r = ks_rr_length(what, cbor_bytestring_length(v), n, true, detail, dlen);
    if (r == KS_OK) {
        memcpy(out, cbor_bytestring_handle(v), n);
    }
    return r;
}

static int parse_keys(const cbor_item_t *v, struct ks_release_request *req, char *detail,
                      size_t dlen)
{
    if (!cbor_isa_array(v) || !cbor_array_is_definite(v)) {
        msg(detail, dlen, "keys: expected an array of key names");
        return KS_ERR_BAD_REQUEST;
    }
    size_t n = cbor_array_size(v);
    int r = ks_rr_key_count(n, detail, dlen);
    cbor_item_t **items = cbor_array_handle(v);
    for (size_t i = 0; i < n && r == KS_OK; i++) {
        if (!is_tstr(items[i])) {
            msg(detail, dlen, "keys[%zu]: expected a text string", i);
            return KS_ERR_BAD_REQUEST;
        }
        r = ks_rr_key((const char *)cbor_string_handle(items[i]), cbor_string_length(items[i]), i,
                      req, detail, dlen);
    }
    return r;
}

static int parse_quote(const cbor_item_t *v, struct ks_release_request *req, char *detail,
                       size_t dlen)
{
    if (!map_ok(v, "quote", 2, detail, dlen)) {
        return KS_ERR_BAD_REQUEST;
    }
    const struct cbor_pair *p = cbor_map_handle(v);
    for (size_t i = 0; i < cbor_map_size(v); i++) {
        if (!key_is(p[i].key, "attest") && !key_is(p[i].key, "signature")) {
            msg(detail, dlen, "quote: unknown member");
            return KS_ERR_BAD_REQUEST;
        }
    }
    const cbor_item_t *attest = member(v, "attest"), *sig = member(v, "signature");
    if (!attest || !sig) {
        msg(detail, dlen, "quote: %s missing", attest ? "signature" : "attest");
        return KS_ERR_BAD_REQUEST;
    }
    int r = get_bytes(attest, "quote.attest", KS_RELEASE_MAX_ATTEST, false, &req->attest,
                      &req->attest_len, detail, dlen);
    if (r != KS_OK) {
        return r;
    }
    return get_bytes(sig, "quote.signature", KS_RELEASE_MAX_SIGNATURE, false, &req->signature,
                     &req->signature_len, detail, dlen);
}

static int parse_pcrs(const cbor_item_t *v, struct ks_release_request *req, char *detail,
                      size_t dlen)
{
    ks_pcr_set_init(&req->pcrs);
    if (!map_ok(v, "pcrs", KS_MAX_BANKS, detail, dlen) || cbor_map_size(v) == 0) {
        if (cbor_isa_map(v) && cbor_map_is_definite(v) && cbor_map_size(v) == 0) {
            msg(detail, dlen, "pcrs: expected a non-empty map {bank: {index: digest}}");
        }
        return KS_ERR_BAD_REQUEST;
    }
    const struct cbor_pair *banks = cbor_map_handle(v);
    for (size_t b = 0; b < cbor_map_size(v); b++) {
        uint16_t alg;
        int r = ks_rr_bank((const char *)cbor_string_handle(banks[b].key),
                           cbor_string_length(banks[b].key), &alg, detail, dlen);
        if (r != KS_OK) {
            return r;
        }
        const char *bname = ks_alg_name(alg);
        const cbor_item_t *bv = banks[b].value;
        if (!cbor_isa_map(bv) || !cbor_map_is_definite(bv) || cbor_map_size(bv) == 0) {
            msg(detail, dlen, "pcrs.%s: expected a non-empty map {index: digest}", bname);
            return KS_ERR_BAD_REQUEST;
        }
        const struct cbor_pair *p = cbor_map_handle(bv);
        for (size_t i = 0; i < cbor_map_size(bv); i++) {
            if (!cbor_isa_uint(p[i].key)) {
                msg(detail, dlen, "pcrs.%s: PCR index must be an unsigned integer 0 to 23", bname);
                return KS_ERR_BAD_REQUEST;
            }
            if (!is_bstr(p[i].value)) {
                msg(detail, dlen, "pcrs.%s: expected byte-string digests", bname);
                return KS_ERR_BAD_REQUEST;
            }
            /* A PCR given twice (e.g. 5 in two integer widths) is refused by
             * ks_rr_pcr. */
            r = ks_rr_pcr(req, alg, cbor_get_int(p[i].key), cbor_bytestring_handle(p[i].value),
                          cbor_bytestring_length(p[i].value), detail, dlen);
            if (r != KS_OK) {
                return r;
            }
        }
    }
    return KS_OK;
}

static int parse_optional_log(const cbor_item_t *root, const char *name, size_t max, uint8_t **ret,
                              size_t *ret_len, char *detail, size_t dlen)
{
    const cbor_item_t *v = member(root, name);
    return v ? get_bytes(v, name, max, false, ret, ret_len, detail, dlen) : KS_OK;
}

/*
 * Well-formedness before decoding. libcbor 0.8's cbor_load() allocates a
 * container for as many elements as its head declares before reading them
 * (a 5-byte array head asking for 2^32 elements made it ask malloc for
 * 21 GB: fuzz_release_request_cbor). So the body is first walked with the
 * streaming decoder, which allocates nothing: every item definite-length,
 * no tags, floats or simple values, every declared count within the bytes
 * left (each element takes at least one), at most SCAN_MAX_DEPTH levels and
 * SCAN_MAX_ITEMS items (a valid request has a few hundred), nothing after
 * the top-level item. Only then does cbor_load() build the tree.
 */
#define SCAN_MAX_DEPTH 8
#define SCAN_MAX_ITEMS 4096

enum scan_kind { SCAN_SCALAR, SCAN_ARRAY, SCAN_MAP, SCAN_BAD };

struct scan_item {
    enum scan_kind kind;
    size_t count;
};

static void on_u8(void *c, uint8_t v)
{
    (void)v;
    ((struct scan_item *)c)->kind = SCAN_SCALAR;
}
static void on_u16(void *c, uint16_t v)
{
    (void)v;
    ((struct scan_item *)c)->kind = SCAN_SCALAR;
}
static void on_u32(void *c, uint32_t v)
{
    (void)v;
    ((struct scan_item *)c)->kind = SCAN_SCALAR;
}
static void on_u64(void *c, uint64_t v)
{
    (void)v;
    ((struct scan_item *)c)->kind = SCAN_SCALAR;
}
static void on_string(void *c, cbor_data d, size_t n)
{
    (void)d;
    (void)n;
    ((struct scan_item *)c)->kind = SCAN_SCALAR;
}
static void on_array(void *c, size_t n)
{
    ((struct scan_item *)c)->kind = SCAN_ARRAY;
    ((struct scan_item *)c)->count = n;
}
static void on_map(void *c, size_t n)
{
    ((struct scan_item *)c)->kind = SCAN_MAP;
    ((struct scan_item *)c)->count = n;
}
static void on_bad(void *c)
{
    ((struct scan_item *)c)->kind = SCAN_BAD;
}
static void on_bad_u64(void *c, uint64_t v)
{
    (void)v;
    on_bad(c);
}
static void on_bad_float(void *c, float v)
{
    (void)v;
    on_bad(c);
}
static void on_bad_double(void *c, double v)
{
    (void)v;
    on_bad(c);
}
static void on_bad_bool(void *c, bool v)
{
    (void)v;
    on_bad(c);
}

static int scan(const uint8_t *body, size_t len, char *detail, size_t dlen)
{
    struct cbor_callbacks cb = cbor_empty_callbacks;
    cb.uint8 = cb.negint8 = on_u8;
    cb.uint16 = cb.negint16 = on_u16;
    cb.uint32 = cb.negint32 = on_u32;
    cb.uint64 = cb.negint64 = on_u64;
    cb.byte_string = cb.string = on_string;
    cb.array_start = on_array;
    cb.map_start = on_map;
    cb.byte_string_start = cb.string_start = cb.indef_array_start = cb.indef_map_start = on_bad;
    cb.null = cb.undefined = cb.indef_break = on_bad;
    cb.tag = on_bad_u64;
    cb.float2 = cb.float4 = on_bad_float;
    cb.float8 = on_bad_double;
    cb.boolean = on_bad_bool;

    if (len == 0) {
        msg(detail, dlen, "invalid CBOR: an empty body");
        return KS_ERR_BAD_REQUEST;
    }
    size_t left[SCAN_MAX_DEPTH + 1]; /* items still due in each open level */
    size_t depth = 1, off = 0, items = 0;
    left[0] = 1;
    while (depth > 0) {
        struct scan_item it = {SCAN_BAD, 0};
        struct cbor_decoder_result res = cbor_stream_decode(body + off, len - off, &cb, &it);
        if (res.status != CBOR_DECODER_FINISHED) {
            msg(detail, dlen, "invalid CBOR at byte %zu (%s)", off,
                res.status == CBOR_DECODER_NEDATA ? "truncated" : "malformed");
            return KS_ERR_BAD_REQUEST;
        }
        off += res.read;
        if (it.kind == SCAN_BAD) {
            msg(detail, dlen,
                "CBOR at byte %zu: only definite lengths, no tags, floats or simple values",
                off - res.read);
            return KS_ERR_BAD_REQUEST;
        }
        if (++items > SCAN_MAX_ITEMS) {
            msg(detail, dlen, "CBOR: more than %d items", SCAN_MAX_ITEMS);
            return KS_ERR_BAD_REQUEST;
        }
        left[depth - 1]--;
        if (it.kind != SCAN_SCALAR && it.count > 0) {
            size_t rest = len - off;
            if (it.count > rest || (it.kind == SCAN_MAP && it.count > rest / 2)) {
                msg(detail, dlen, "CBOR at byte %zu: declares more elements than bytes left",
                    off - res.read);
                return KS_ERR_BAD_REQUEST;
            }
            if (depth > SCAN_MAX_DEPTH) {
                msg(detail, dlen, "CBOR: nested more than %d levels", SCAN_MAX_DEPTH);
                return KS_ERR_BAD_REQUEST;
            }
            left[depth++] = it.kind == SCAN_MAP ? 2 * it.count : it.count;
        }
        while (depth > 0 && left[depth - 1] == 0) {
            depth--;
        }
    }
    if (off != len) {
        msg(detail, dlen, "trailing bytes after the CBOR map (at byte %zu)", off);
        return KS_ERR_BAD_REQUEST;
    }
    return KS_OK;
}

int ks_release_request_parse_cbor(const uint8_t *body, size_t len, struct ks_release_request **ret,
                                  char *detail, size_t dlen)
{
    struct cbor_load_result res;
    cbor_item_t *root = NULL;
    int r;
    if ((!body && len > 0) || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_release_request *req = calloc(1, sizeof(*req));
    if (!req) {
        return KS_ERR_NOMEM;
    }
    if ((r = scan(body, len, detail, dlen)) != KS_OK) {
        goto out;
    }
    root = cbor_load(body, len, &res);
    if (!root) {
        if (res.error.code == CBOR_ERR_MEMERROR) {
            r = KS_ERR_NOMEM;
        } else {
            /* What scan() cannot see: libcbor also requires text strings
             * to be valid UTF-8 (RFC 8949 section 3.1, major type 3). */
            msg(detail, dlen, "invalid CBOR at byte %zu (text strings must be UTF-8)",
                res.error.position);
            r = KS_ERR_BAD_REQUEST;
        }
        goto out;
    }
    if (res.read != len) {
        msg(detail, dlen, "trailing bytes after the CBOR map (at byte %zu)", res.read);
        r = KS_ERR_BAD_REQUEST;
        goto out;
    }
    if (!map_ok(root, "body", sizeof(ks_rr_members) / sizeof(ks_rr_members[0]), detail, dlen)) {
        r = KS_ERR_BAD_REQUEST;
        goto out;
    }
    const struct cbor_pair *p = cbor_map_handle(root);
    for (size_t i = 0; i < cbor_map_size(root); i++) {
        if (!ks_rr_member_known((const char *)cbor_string_handle(p[i].key),
                                cbor_string_length(p[i].key))) {
            msg(detail, dlen, "unknown member");
            r = KS_ERR_BAD_REQUEST;
            goto out;
        }
    }
    for (size_t i = 0; i < sizeof(ks_rr_required) / sizeof(ks_rr_required[0]); i++) {
        if (!member(root, ks_rr_required[i])) {
            msg(detail, dlen, "%s: missing", ks_rr_required[i]);
            r = KS_ERR_BAD_REQUEST;
            goto out;
        }
    }
    const cbor_item_t *ak = member(root, "ak_id");
    if (!is_tstr(ak)) {
        msg(detail, dlen, "ak_id: expected a text string");
        r = KS_ERR_BAD_REQUEST;
        goto out;
    }
    /* Cheapest first, as the JSON form. */
    r = ks_rr_ak_id((const char *)cbor_string_handle(ak), cbor_string_length(ak), req, detail,
                    dlen);
    if (r == KS_OK) {
        r = get_fixed(member(root, "nonce"), "nonce", req->nonce, KS_NONCE_LEN, detail, dlen);
    }
    if (r == KS_OK) {
        r = get_fixed(member(root, "hpke_pk"), "hpke_pk", req->hpke_pk, KS_RELEASE_HPKE_PK_LEN,
                      detail, dlen);
    }
    if (r == KS_OK) {
        r = parse_keys(member(root, "keys"), req, detail, dlen);
    }
    if (r == KS_OK) {
        r = parse_quote(member(root, "quote"), req, detail, dlen);
    }
    if (r == KS_OK) {
        r = parse_pcrs(member(root, "pcrs"), req, detail, dlen);
    }
    for (size_t i = 0; i < KS_RR_N_LOGS && r == KS_OK; i++) {
        const char *name;
        size_t max, *blen;
        uint8_t **buf;
        ks_rr_log_slot(req, i, &name, &max, &buf, &blen);
        r = parse_optional_log(root, name, max, buf, blen, detail, dlen);
    }
    if (r == KS_OK) {
        r = ks_rr_finish(req, body, len);
    }
    if (r != KS_OK) {
        goto out;
    }
    *ret = req;
    req = NULL;
out:
    if (root) {
        cbor_decref(&root);
    }
    ks_release_request_free(req);
    return r;
}
