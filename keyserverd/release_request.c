/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "encoding.h"
#include "tpm_alg.h"
#include "keyserverd/log.h"
#include "keyserverd/release_request.h"
#include "keyserverd/release_request_internal.h"

/*
 * The body of POST /v1/release (DESIGN "Protocol"):
 *   {ak_id, nonce, hpke_pk, keys:[name...], quote:{attest, signature},
 *    pcrs:{"sha256":{"0":hex,...}}, event_log?, ima_log?, app_log?}
 * Everything untrusted is parsed and validated here, into plain C types;
 * ks_release_decide() never sees JSON. The value checks are shared with the
 * CBOR form (release_request_cbor.c) through release_request_internal.h.
 */

void ks_rr_msg(char *detail, size_t len, const char *fmt, ...)
{
    if (!detail || len == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, len, fmt, ap);
    va_end(ap);
}

#define msg ks_rr_msg

static bool name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

int ks_key_ref_parse(const char *s, size_t len, struct ks_key_ref *ret)
{
    if (!s || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    size_t n = 0;
    while (n < len && name_char(s[n])) {
        n++;
    }
    if (n == 0 || n > KS_KEY_NAME_MAX) {
        return KS_ERR_BAD_REQUEST;
    }
    uint64_t version = 0;
    if (n < len) {
        /* "@N": decimal, 1..2^32-1, no sign, no leading zero. */
        size_t i = n + 1;
        if (s[n] != '@' || i >= len || s[i] == '0' || len - i > 10) {
            return KS_ERR_BAD_REQUEST;
        }
        for (; i < len; i++) {
            if (s[i] < '0' || s[i] > '9') {
                return KS_ERR_BAD_REQUEST;
            }
            version = version * 10 + (uint64_t)(s[i] - '0');
        }
        if (version > UINT32_MAX) {
            return KS_ERR_BAD_REQUEST;
        }
    }
    memcpy(ret->name, s, n);
    ret->name[n] = '\0';
    ret->version = (uint32_t)version;
    return KS_OK;
}

/* ---- the value checks shared with the CBOR form ------------------------- */

const char *const ks_rr_members[9] = {
    "ak_id", "nonce", "hpke_pk", "keys", "quote", "pcrs", "event_log", "ima_log", "app_log",
};
const char *const ks_rr_required[6] = {"ak_id", "nonce", "hpke_pk", "keys", "quote", "pcrs"};

bool ks_rr_member_known(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(ks_rr_members) / sizeof(ks_rr_members[0]); i++) {
        if (strlen(ks_rr_members[i]) == len && memcmp(name, ks_rr_members[i], len) == 0) {
            return true;
        }
    }
    return false;
}

static int lower_nibble(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Exactly 2n lowercase hex digits (the protocol's form; no upper case, so
 * that one value has one spelling) into n bytes. */
static bool lower_hex(const char *s, size_t slen, uint8_t *out, size_t n)
{
    if (slen != 2 * n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        int hi = lower_nibble(s[2 * i]), lo = lower_nibble(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

int ks_rr_ak_id(const char *s, size_t slen, struct ks_release_request *req, char *detail,
                size_t dlen)
{
    if (slen >= 4 && slen <= 2 * KS_AK_NAME_MAX) {
        uint8_t alg_be[2];
        if (lower_hex(s, 4, alg_be, 2)) {
            size_t n = 2 + ks_alg_digest_size((uint16_t)(alg_be[0] << 8 | alg_be[1]));
            if (n > 2 && lower_hex(s, slen, req->ak_name, n)) {
                req->ak_name_len = n;
                return KS_OK;
            }
        }
    }
    msg(detail, dlen, "ak_id: expected a TPM Name in lowercase hex (nameAlg and digest)");
    return KS_ERR_BAD_REQUEST;
}

int ks_rr_key_count(size_t n, char *detail, size_t dlen)
{
    if (n == 0 || n > KS_RELEASE_MAX_KEYS) {
        msg(detail, dlen, "keys: expected 1 to %d key names, got %zu", KS_RELEASE_MAX_KEYS, n);
        return KS_ERR_BAD_REQUEST;
    }
    return KS_OK;
}

int ks_rr_key(const char *s, size_t slen, size_t i, struct ks_release_request *req, char *detail,
              size_t dlen)
{
    struct ks_key_ref *ref = i < KS_RELEASE_MAX_KEYS ? &req->keys[i] : NULL;
    if (!ref || ks_key_ref_parse(s, slen, ref) != KS_OK) {
        msg(detail, dlen,
            "keys[%zu]: key name must match [A-Za-z0-9._-]{1,64}, optionally @VERSION", i);
        return KS_ERR_BAD_REQUEST;
    }
    for (size_t j = 0; j < i; j++) {
        if (req->keys[j].version == ref->version && strcmp(req->keys[j].name, ref->name) == 0) {
            msg(detail, dlen, "keys[%zu]: key named twice", i);
            return KS_ERR_BAD_REQUEST;
        }
    }
    req->n_keys = i + 1;
    return KS_OK;
}

int ks_rr_length(const char *what, size_t len, size_t max, bool exact, char *detail, size_t dlen)
{
    if ((exact && len != max) || len > max || len == 0) {
        if (exact) {
            msg(detail, dlen, "%s: must decode to %zu bytes, got %zu", what, max, len);
        } else {
            msg(detail, dlen, "%s: must decode to 1..%zu bytes, got %zu", what, max, len);
        }
        return KS_ERR_BAD_REQUEST;
    }
    return KS_OK;
}

int ks_rr_bank(const char *name, size_t slen, uint16_t *ret_alg, char *detail, size_t dlen)
{
    char buf[16];
    if (slen < sizeof(buf) && memchr(name, '\0', slen) == NULL) {
        memcpy(buf, name, slen);
        buf[slen] = '\0';
        if (ks_alg_from_name(buf, ret_alg) == KS_OK) {
            return KS_OK;
        }
    }
    char shown[24], safe[24];
    size_t n = slen < sizeof(shown) - 1 ? slen : sizeof(shown) - 1;
    for (size_t i = 0; i < n; i++) {
        shown[i] = name[i] ? name[i] : '?';
    }
    shown[n] = '\0';
    ks_log_sanitize(shown, safe, sizeof(safe));
    msg(detail, dlen, "pcrs: unknown bank '%s' (sha1, sha256, sha384, sha512)", safe);
    return KS_ERR_BAD_REQUEST;
}

int ks_rr_pcr(struct ks_release_request *req, uint16_t alg, uint64_t index, const uint8_t *value,
              size_t len, char *detail, size_t dlen)
{
    const char *bank = ks_alg_name(alg);
    size_t dsize = ks_alg_digest_size(alg);
    if (index >= KS_PCR_COUNT) {
        msg(detail, dlen, "pcrs.%s: PCR index must be 0 to 23", bank);
        return KS_ERR_BAD_REQUEST;
    }
    if (len != dsize) {
        msg(detail, dlen, "pcrs.%s.%u: expected a %zu-byte digest", bank, (unsigned)index, dsize);
        return KS_ERR_BAD_REQUEST;
    }
    if (ks_pcr_set_has(&req->pcrs, alg, (unsigned)index)) {
        msg(detail, dlen, "pcrs.%s.%u: given twice", bank, (unsigned)index);
        return KS_ERR_BAD_REQUEST;
    }
    int r = ks_pcr_set_put(&req->pcrs, alg, (unsigned)index, value, len);
    if (r != KS_OK) {
        return r == KS_ERR_NOMEM ? r : KS_ERR_INTERNAL;
    }
    return KS_OK;
}

void ks_rr_log_slot(struct ks_release_request *req, size_t i, const char **ret_name,
                    size_t *ret_max, uint8_t ***ret_buf, size_t **ret_len)
{
    switch (i) {
    case 0:
        *ret_name = "event_log";
        *ret_max = KS_RELEASE_MAX_EVENT_LOG;
        *ret_buf = &req->event_log;
        *ret_len = &req->event_log_len;
        break;
    case 1:
        *ret_name = "ima_log";
        *ret_max = KS_RELEASE_MAX_IMA_LOG;
        *ret_buf = &req->ima_log;
        *ret_len = &req->ima_log_len;
        break;
    default:
        *ret_name = "app_log";
        *ret_max = KS_RELEASE_MAX_APP_LOG;
        *ret_buf = &req->app_log;
        *ret_len = &req->app_log_len;
        break;
    }
}

int ks_rr_finish(struct ks_release_request *req, const uint8_t *body, size_t len)
{
    /* The receipt and the audit record carry the hash of the exact bytes. */
    if (EVP_Digest(body, len, req->body_sha256, NULL, ks_alg_md(KS_ALG_SHA256), NULL) != 1) {
        return KS_ERR_CRYPTO;
    }
    return KS_OK;
}

/* ---- JSON ----------------------------------------------------------------- */

/* A string member: NULL with a message when it is not a string. */
static const char *get_string(json_t *v, const char *what, size_t *ret_len, char *detail,
                              size_t dlen)
{
    if (!json_is_string(v)) {
        msg(detail, dlen, "%s: expected a string", what);
        return NULL;
    }
    *ret_len = json_string_length(v);
    return json_string_value(v);
}

/* Strict base64 of at most max bytes (exact: exactly max bytes). */
static int get_b64(json_t *v, const char *what, size_t max, bool exact, uint8_t **ret,
                   size_t *ret_len, char *detail, size_t dlen)
{
    size_t slen;
    const char *s = get_string(v, what, &slen, detail, dlen);
    if (!s) {
        return KS_ERR_BAD_REQUEST;
    }
    /* Refuse before decoding what cannot fit: 4 characters per 3 bytes. */
    if (slen / 4 > (max + 2) / 3 || (slen / 4 == (max + 2) / 3 && slen % 4 != 0)) {
        msg(detail, dlen, "%s: longer than %zu bytes", what, max);
        return KS_ERR_BAD_REQUEST;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    int r = ks_base64_decode(s, slen, &buf, &len);
    if (r == KS_ERR_NOMEM) {
        return r;
    }
    if (r != KS_OK) {
        msg(detail, dlen, "%s: invalid base64 (standard alphabet with padding)", what);
        return KS_ERR_BAD_REQUEST;
    }
    if ((r = ks_rr_length(what, len, max, exact, detail, dlen)) != KS_OK) {
        free(buf);
        return r;
    }
    *ret = buf;
    *ret_len = len;
    return KS_OK;
}

static int get_b64_fixed(json_t *v, const char *what, uint8_t *out, size_t n, char *detail,
                         size_t dlen)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int r = get_b64(v, what, n, true, &buf, &len, detail, dlen);
    if (r != KS_OK) {
        return r;
    }
    memcpy(out, buf, n);
    free(buf);
    return KS_OK;
}

static int parse_ak_id(json_t *v, struct ks_release_request *req, char *detail, size_t dlen)
{
    size_t slen;
    const char *s = get_string(v, "ak_id", &slen, detail, dlen);
    if (!s) {
        return KS_ERR_BAD_REQUEST;
    }
    return ks_rr_ak_id(s, slen, req, detail, dlen);
}

static int parse_keys(json_t *v, struct ks_release_request *req, char *detail, size_t dlen)
{
    if (!json_is_array(v)) {
        msg(detail, dlen, "keys: expected an array of key names");
        return KS_ERR_BAD_REQUEST;
    }
    size_t n = json_array_size(v);
    int r = ks_rr_key_count(n, detail, dlen);
    for (size_t i = 0; i < n && r == KS_OK; i++) {
        char what[32];
        size_t slen;
        snprintf(what, sizeof(what), "keys[%zu]", i);
        const char *s = get_string(json_array_get(v, i), what, &slen, detail, dlen);
        r = s ? ks_rr_key(s, slen, i, req, detail, dlen) : KS_ERR_BAD_REQUEST;
    }
    return r;
}

static int parse_quote(json_t *v, struct ks_release_request *req, char *detail, size_t dlen)
{
    const char *key;
    json_t *m;
    if (!json_is_object(v)) {
        msg(detail, dlen, "quote: expected an object {attest, signature}");
        return KS_ERR_BAD_REQUEST;
    }
    json_object_foreach(v, key, m)
    {
        if (strcmp(key, "attest") != 0 && strcmp(key, "signature") != 0) {
            msg(detail, dlen, "quote: unknown member");
            return KS_ERR_BAD_REQUEST;
        }
    }
    json_t *attest = json_object_get(v, "attest");
    json_t *sig = json_object_get(v, "signature");
    if (!attest || !sig) {
        msg(detail, dlen, "quote: %s missing", attest ? "signature" : "attest");
        return KS_ERR_BAD_REQUEST;
    }
    int r = get_b64(attest, "quote.attest", KS_RELEASE_MAX_ATTEST, false, &req->attest,
                    &req->attest_len, detail, dlen);
    if (r != KS_OK) {
        return r;
    }
    return get_b64(sig, "quote.signature", KS_RELEASE_MAX_SIGNATURE, false, &req->signature,
                   &req->signature_len, detail, dlen);
}

/* "0".."23", decimal without leading zeros, so that no PCR has two names. */
static bool pcr_index(const char *s, unsigned *ret)
{
    size_t n = strlen(s);
    if (n == 0 || n > 2 || (n == 2 && s[0] == '0')) {
        return false;
    }
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v >= KS_PCR_COUNT) {
        return false;
    }
    *ret = v;
    return true;
}

static int parse_pcrs(json_t *v, struct ks_release_request *req, char *detail, size_t dlen)
{
    const char *bank, *idx;
    json_t *bv, *pv;
    ks_pcr_set_init(&req->pcrs);
    if (!json_is_object(v) || json_object_size(v) == 0) {
        msg(detail, dlen, "pcrs: expected a non-empty object {bank: {index: hex}}");
        return KS_ERR_BAD_REQUEST;
    }
    json_object_foreach(v, bank, bv)
    {
        uint16_t alg;
        int r = ks_rr_bank(bank, strlen(bank), &alg, detail, dlen);
        if (r != KS_OK) {
            return r;
        }
        const char *bname = ks_alg_name(alg);
        if (!json_is_object(bv) || json_object_size(bv) == 0) {
            msg(detail, dlen, "pcrs.%s: expected a non-empty object {index: hex}", bname);
            return KS_ERR_BAD_REQUEST;
        }
        size_t dsize = ks_alg_digest_size(alg);
        json_object_foreach(bv, idx, pv)
        {
            unsigned index;
            uint8_t value[KS_MAX_DIGEST];
            if (!pcr_index(idx, &index)) {
                msg(detail, dlen, "pcrs.%s: PCR index must be \"0\" to \"23\"", bname);
                return KS_ERR_BAD_REQUEST;
            }
            const char *s = json_is_string(pv) ? json_string_value(pv) : NULL;
            size_t slen = s ? json_string_length(pv) : 0;
            if (!s || !lower_hex(s, slen, value, dsize)) {
                msg(detail, dlen, "pcrs.%s.%u: expected %zu lowercase hex digits", bname, index,
                    2 * dsize);
                return KS_ERR_BAD_REQUEST;
            }
            if ((r = ks_rr_pcr(req, alg, index, value, dsize, detail, dlen)) != KS_OK) {
                return r;
            }
        }
    }
    return KS_OK;
}

static int parse_optional_log(json_t *root, const char *name, size_t max, uint8_t **ret,
                              size_t *ret_len, char *detail, size_t dlen)
{
    json_t *v = json_object_get(root, name);
    if (!v) {
        return KS_OK;
    }
    return get_b64(v, name, max, false, ret, ret_len, detail, dlen);
}

int ks_release_request_parse(const uint8_t *body, size_t len, struct ks_release_request **ret,
                             char *detail, size_t dlen)
{
    json_error_t jerr;
    const char *key;
    json_t *v;
    int r;
    if ((!body && len > 0) || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_release_request *req = calloc(1, sizeof(*req));
    if (!req) {
        return KS_ERR_NOMEM;
    }
    /* JSON_REJECT_DUPLICATES: a member given twice could be read one way
     * here and another way by whatever logged or relayed the request. */
    json_t *root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        char text[JSON_ERROR_TEXT_LENGTH];
        ks_log_sanitize(jerr.text, text, sizeof(text));
        msg(detail, dlen, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column, text);
        r = KS_ERR_BAD_REQUEST;
        goto out;
    }
    if (!json_is_object(root)) {
        msg(detail, dlen, "body must be a JSON object");
        r = KS_ERR_BAD_REQUEST;
        goto out;
    }
    json_object_foreach(root, key, v)
    {
        if (!ks_rr_member_known(key, strlen(key))) {
            char name[40];
            ks_log_sanitize(key, name, sizeof(name));
            msg(detail, dlen, "unknown member '%s'", name);
            r = KS_ERR_BAD_REQUEST;
            goto out;
        }
    }
    for (size_t i = 0; i < sizeof(ks_rr_required) / sizeof(ks_rr_required[0]); i++) {
        if (!json_object_get(root, ks_rr_required[i])) {
            msg(detail, dlen, "%s: missing", ks_rr_required[i]);
            r = KS_ERR_BAD_REQUEST;
            goto out;
        }
    }
    /* Cheapest first. */
    r = parse_ak_id(json_object_get(root, "ak_id"), req, detail, dlen);
    if (r == KS_OK) {
        r = get_b64_fixed(json_object_get(root, "nonce"), "nonce", req->nonce, KS_NONCE_LEN, detail,
                          dlen);
    }
    if (r == KS_OK) {
        r = get_b64_fixed(json_object_get(root, "hpke_pk"), "hpke_pk", req->hpke_pk,
                          KS_RELEASE_HPKE_PK_LEN, detail, dlen);
    }
    if (r == KS_OK) {
        r = parse_keys(json_object_get(root, "keys"), req, detail, dlen);
    }
    if (r == KS_OK) {
        r = parse_quote(json_object_get(root, "quote"), req, detail, dlen);
    }
    if (r == KS_OK) {
        r = parse_pcrs(json_object_get(root, "pcrs"), req, detail, dlen);
    }
    for (size_t i = 0; i < KS_RR_N_LOGS && r == KS_OK; i++) {
        const char *name;
        size_t max, *blen;
        uint8_t **buf;
        ks_rr_log_slot(req, i, &name, &max, &buf, &blen);
        r = parse_optional_log(root, name, max, buf, blen, detail, dlen);
    }
    if (r != KS_OK) {
        goto out;
    }
    if ((r = ks_rr_finish(req, body, len)) != KS_OK) {
        goto out;
    }
    *ret = req;
    req = NULL;
    r = KS_OK;
out:
    json_decref(root);
    ks_release_request_free(req);
    return r;
}
