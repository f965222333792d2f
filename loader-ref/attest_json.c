/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "attest.h"
#include "attest_internal.h"
#include "encoding.h"
#include "hpke.h"
#include "tpm_alg.h"
#include "tpm_attest.h"

/* The JSON side of the release protocol (DESIGN "Protocol"). Untrusted
 * input (the keyserver's answers) is parsed into plain C types first; only
 * then does open_keys() touch the HPKE private key. */

void ks_attest_result_free(struct ks_attest_result *res)
{
    if (!res) {
        return;
    }
    for (size_t i = 0; i < res->n_keys && i < KS_ATTEST_MAX_KEYS; i++) {
        OPENSSL_secure_clear_free(res->keys[i].key, res->keys[i].key_len);
    }
    free(res->receipt_payload);
    free(res->receipt_signature);
    OPENSSL_cleanse(res, sizeof(*res));
    free(res);
}

int ks_attest_binding(const uint8_t nonce[KS_ATTEST_NONCE_LEN],
                      const uint8_t hpke_pk[KS_ATTEST_HPKE_PK_LEN],
                      uint8_t ret[KS_ATTEST_BINDING_LEN])
{
    static const char label[] = KS_ATTEST_LABEL; /* its NUL is the 0x00 separator */
    uint8_t buf[sizeof(label) + KS_ATTEST_NONCE_LEN + KS_ATTEST_HPKE_PK_LEN];
    if (!nonce || !hpke_pk || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    memcpy(buf, label, sizeof(label));
    memcpy(buf + sizeof(label), nonce, KS_ATTEST_NONCE_LEN);
    memcpy(buf + sizeof(label) + KS_ATTEST_NONCE_LEN, hpke_pk, KS_ATTEST_HPKE_PK_LEN);
    return ks_alg_hash(KS_ALG_SHA256, buf, sizeof(buf), NULL, 0, ret);
}

static bool name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

int ks_attest_key_ref_parse(const char *ref, char *ret_name, uint32_t *ret_version)
{
    size_t n = 0;
    uint64_t v = 0;
    if (!ref) {
        return KS_ERR_INVALID_ARG;
    }
    while (n <= KS_ATTEST_KEY_NAME_MAX && name_char(ref[n])) {
        n++;
    }
    if (n == 0 || n > KS_ATTEST_KEY_NAME_MAX) {
        return KS_ERR_INVALID_ARG;
    }
    if (ref[n] != '\0') {
        /* "@N": decimal 1..2^32-1, no sign, no leading zero. */
        const char *d = ref + n + 1;
        size_t k = 0;
        if (ref[n] != '@' || d[0] == '0') {
            return KS_ERR_INVALID_ARG;
        }
        for (; d[k]; k++) {
            if (d[k] < '0' || d[k] > '9' || k >= 10) {
                return KS_ERR_INVALID_ARG;
            }
            v = v * 10 + (uint64_t)(d[k] - '0');
        }
        if (k == 0 || v > UINT32_MAX) {
            return KS_ERR_INVALID_ARG;
        }
    }
    if (ret_name) {
        memcpy(ret_name, ref, n);
        ret_name[n] = '\0';
    }
    if (ret_version) {
        *ret_version = (uint32_t)v;
    }
    return KS_OK;
}

/* jansson reports a duplicate member with its own error code from 2.11 on;
 * before, only in the message text. */
static int load_error(const json_error_t *e)
{
#if JANSSON_VERSION_HEX >= 0x020b00
    return json_error_code(e) == json_error_duplicate_key ? KS_ERR_RESP_DUPLICATE
                                                          : KS_ERR_RESP_JSON;
#else
    return strstr(e->text, "duplicate") ? KS_ERR_RESP_DUPLICATE : KS_ERR_RESP_JSON;
#endif
}

/* Load an untrusted JSON object: no duplicate members, no trailing data,
 * no NUL characters in strings. */
static int load_object(const uint8_t *body, size_t len, json_t **ret)
{
    json_error_t err;
    if (!body && len > 0) {
        return KS_ERR_INVALID_ARG;
    }
    json_t *root = json_loadb((const char *)(body ? body : (const uint8_t *)""), len,
                              JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        return load_error(&err);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return KS_ERR_RESP_TYPE;
    }
    *ret = root;
    return KS_OK;
}

/* obj has every member of names[] and nothing else. */
static int check_members(json_t *obj, const char *const *names, size_t n)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool known = false;
        for (size_t i = 0; i < n && !known; i++) {
            known = strcmp(key, names[i]) == 0;
        }
        if (!known) {
            return KS_ERR_RESP_UNKNOWN;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!json_object_get(obj, names[i])) {
            return KS_ERR_RESP_MISSING;
        }
    }
    return KS_OK;
}

/* A base64 string member of min..max decoded bytes (KS_ERR_RESP_VALUE
 * outside). Refuses what cannot fit before decoding it. */
static int get_b64(json_t *v, size_t min, size_t max, uint8_t **ret, size_t *ret_len)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (!json_is_string(v)) {
        return KS_ERR_RESP_TYPE;
    }
    size_t slen = json_string_length(v);
    if (slen / 4 > (max + 2) / 3 + 1) {
        return KS_ERR_RESP_VALUE;
    }
    int r = ks_base64_decode(json_string_value(v), slen, &buf, &len);
    if (r != KS_OK) {
        return r;
    }
    if (len < min || len > max) {
        free(buf);
        return KS_ERR_RESP_VALUE;
    }
    *ret = buf;
    *ret_len = len;
    return KS_OK;
}

int ks_attest_challenge_parse(const uint8_t *body, size_t len,
                              uint8_t ret_nonce[KS_ATTEST_NONCE_LEN], int64_t *ret_expires)
{
    static const char *const members[] = {"nonce", "expires"};
    json_t *root = NULL;
    uint8_t *nonce = NULL;
    size_t nlen = 0;
    if (!ret_nonce || !ret_expires) {
        return KS_ERR_INVALID_ARG;
    }
    int r = load_object(body, len, &root);
    if (r != KS_OK) {
        return r;
    }
    r = check_members(root, members, 2);
    if (r != KS_OK) {
        goto out;
    }
    json_t *exp = json_object_get(root, "expires");
    if (!json_is_integer(exp)) {
        r = KS_ERR_RESP_TYPE;
        goto out;
    }
    if (json_integer_value(exp) < 0) {
        r = KS_ERR_RESP_VALUE;
        goto out;
    }
    r = get_b64(json_object_get(root, "nonce"), KS_ATTEST_NONCE_LEN, KS_ATTEST_NONCE_LEN, &nonce,
                &nlen);
    if (r != KS_OK) {
        goto out;
    }
    memcpy(ret_nonce, nonce, KS_ATTEST_NONCE_LEN);
    *ret_expires = (int64_t)json_integer_value(exp);
out:
    free(nonce);
    json_decref(root);
    return r;
}

/* ---- the request ---------------------------------------------------------- */

static int set_b64(json_t *obj, const char *name, const uint8_t *buf, size_t len)
{
    char *s = NULL;
    int r = ks_base64_encode(buf, len, &s);
    if (r != KS_OK) {
        return r;
    }
    r = json_object_set_new(obj, name, json_string(s)) == 0 ? KS_OK : KS_ERR_NOMEM;
    free(s);
    return r;
}

static bool lower_hex_string(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n % 2 != 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return false;
        }
    }
    return true;
}

static int check_key_refs(const char *const *keys, size_t n)
{
    char names[KS_ATTEST_MAX_KEYS][KS_ATTEST_KEY_NAME_MAX + 1];
    uint32_t versions[KS_ATTEST_MAX_KEYS];
    if (!keys || n == 0 || n > KS_ATTEST_MAX_KEYS) {
        return KS_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < n; i++) {
        if (ks_attest_key_ref_parse(keys[i], names[i], &versions[i]) != KS_OK) {
            return KS_ERR_INVALID_ARG;
        }
        for (size_t j = 0; j < i; j++) {
            if (versions[j] == versions[i] && strcmp(names[j], names[i]) == 0) {
                return KS_ERR_INVALID_ARG;
            }
        }
    }
    return KS_OK;
}

int ks_attest_pcr_walk(const TPML_PCR_SELECTION *sel, const struct ks_pcr_set *pcrs,
                       const struct ks_attest_pcr_visitor *v, void *ctx)
{
    if (!sel || !pcrs || sel->count > TPM2_NUM_PCR_BANKS) {
        return KS_ERR_INVALID_ARG;
    }
    for (uint32_t i = 0; i < sel->count; i++) {
        uint16_t alg = sel->pcrSelections[i].hash;
        size_t dsize = ks_alg_digest_size(alg);
        uint32_t m = ks_pcr_selection_mask(&sel->pcrSelections[i]);
        size_t n = 0;
        if (dsize == 0) {
            return KS_ERR_INVALID_ARG;
        }
        for (unsigned p = 0; p < KS_PCR_COUNT; p++) {
            n += (m >> p) & 1u;
        }
        int r = v && v->bank ? v->bank(ctx, alg, n) : KS_OK;
        for (unsigned p = 0; p < KS_PCR_COUNT && r == KS_OK; p++) {
            const uint8_t *d;
            if (!(m & (1u << p))) {
                continue;
            }
            if (ks_pcr_set_get(pcrs, alg, p, &d) != KS_OK) {
                return KS_ERR_INVALID_ARG;
            }
            r = v && v->pcr ? v->pcr(ctx, p, d, dsize) : KS_OK;
        }
        if (r != KS_OK) {
            return r;
        }
    }
    return KS_OK;
}

int ks_attest_evidence_check(const struct ks_attest_evidence *ev)
{
    if (!ev || !ev->ak_id || !ev->nonce || !ev->hpke_pk || !ev->attest || ev->attest_len == 0 ||
        !ev->sig || ev->sig_len == 0 || !ev->sel || !ev->pcrs) {
        return KS_ERR_INVALID_ARG;
    }
    if (!lower_hex_string(ev->ak_id) || strlen(ev->ak_id) > 2 * (2 + KS_MAX_DIGEST) ||
        check_key_refs(ev->keys, ev->n_keys) != KS_OK ||
        ks_pcr_selection_validate(ev->sel) != KS_OK || ks_pcr_selection_count(ev->sel) == 0) {
        return KS_ERR_INVALID_ARG;
    }
    /* Every selected PCR has a value: nothing is built otherwise. */
    return ks_attest_pcr_walk(ev->sel, ev->pcrs, NULL, NULL);
}

/* The JSON PCR map being built: the current bank's object. */
struct pcr_json {
    json_t *map, *bank;
};

static int pcr_json_bank(void *ctx, uint16_t alg, size_t n_pcrs)
{
    struct pcr_json *pj = ctx;
    (void)n_pcrs;
    pj->bank = json_object();
    return pj->bank && json_object_set_new(pj->map, ks_alg_name(alg), pj->bank) == 0 ? KS_OK
                                                                                     : KS_ERR_NOMEM;
}

static int pcr_json_pcr(void *ctx, unsigned index, const uint8_t *digest, size_t digest_len)
{
    struct pcr_json *pj = ctx;
    char idx[4], hex[2 * KS_MAX_DIGEST + 1];
    snprintf(idx, sizeof(idx), "%u", index);
    ks_hex_encode(digest, digest_len, hex);
    return json_object_set_new(pj->bank, idx, json_string(hex)) == 0 ? KS_OK : KS_ERR_NOMEM;
}

/* {"sha256": {"0": "hex", ...}, ...}: exactly the selected PCRs, banks in
 * selection order, PCRs ascending. */
static int pcr_map(const TPML_PCR_SELECTION *sel, const struct ks_pcr_set *pcrs, json_t **ret)
{
    static const struct ks_attest_pcr_visitor v = {pcr_json_bank, pcr_json_pcr};
    struct pcr_json pj = {json_object(), NULL};
    if (!pj.map) {
        return KS_ERR_NOMEM;
    }
    int r = ks_attest_pcr_walk(sel, pcrs, &v, &pj);
    if (r != KS_OK) {
        json_decref(pj.map);
        return r;
    }
    *ret = pj.map;
    return KS_OK;
}

static int set_optional_log(json_t *root, const char *name, const uint8_t *buf, size_t len)
{
    if (!buf) {
        return KS_OK;
    }
    return set_b64(root, name, buf, len);
}

int ks_attest_request_build(const struct ks_attest_evidence *ev, char **ret_json, size_t *ret_len)
{
    json_t *root = NULL, *keys = NULL, *quote = NULL, *pcrs = NULL;
    int r;
    if (!ret_json || !ret_len) {
        return KS_ERR_INVALID_ARG;
    }
    r = ks_attest_evidence_check(ev);
    if (r != KS_OK) {
        return r;
    }
    r = pcr_map(ev->sel, ev->pcrs, &pcrs);
    if (r != KS_OK) {
        return r;
    }
    r = KS_ERR_NOMEM;
    root = json_object();
    keys = json_array();
    quote = json_object();
    if (!root || !keys || !quote) {
        goto out;
    }
    for (size_t i = 0; i < ev->n_keys; i++) {
        if (json_array_append_new(keys, json_string(ev->keys[i])) != 0) {
            goto out;
        }
    }
    if (json_object_set_new(root, "ak_id", json_string(ev->ak_id)) != 0) {
        goto out;
    }
    r = set_b64(root, "nonce", ev->nonce, KS_ATTEST_NONCE_LEN);
    if (r == KS_OK) {
        r = set_b64(root, "hpke_pk", ev->hpke_pk, KS_ATTEST_HPKE_PK_LEN);
    }
    if (r == KS_OK) {
        r = json_object_set(root, "keys", keys) == 0 ? KS_OK : KS_ERR_NOMEM;
    }
    if (r == KS_OK) {
        r = set_b64(quote, "attest", ev->attest, ev->attest_len);
    }
    if (r == KS_OK) {
        r = set_b64(quote, "signature", ev->sig, ev->sig_len);
    }
    if (r == KS_OK) {
        r = json_object_set(root, "quote", quote) == 0 ? KS_OK : KS_ERR_NOMEM;
    }
    if (r == KS_OK) {
        r = json_object_set(root, "pcrs", pcrs) == 0 ? KS_OK : KS_ERR_NOMEM;
    }
    if (r == KS_OK) {
        r = set_optional_log(root, "event_log", ev->event_log, ev->event_log_len);
    }
    if (r == KS_OK) {
        r = set_optional_log(root, "ima_log", ev->ima_log, ev->ima_log_len);
    }
    if (r == KS_OK) {
        r = set_optional_log(root, "app_log", ev->app_log, ev->app_log_len);
    }
    if (r != KS_OK) {
        goto out;
    }
    char *s = json_dumps(root, JSON_COMPACT);
    if (!s) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    *ret_json = s;
    *ret_len = strlen(s);
    r = KS_OK;
out:
    json_decref(root);
    json_decref(keys);
    json_decref(quote);
    json_decref(pcrs);
    return r;
}

/* ---- the response ---------------------------------------------------------- */

/* One entry of "keys", validated but still sealed. */
struct sealed_key {
    char name[KS_ATTEST_KEY_NAME_MAX + 1];
    uint32_t version;
    uint8_t enc[KS_HPKE_ENC_LEN];
    uint8_t *ct;
    size_t ct_len;
    uint8_t share_index, share_threshold, share_count; /* 0: a whole key */
};

struct sealed_response {
    struct sealed_key keys[KS_ATTEST_MAX_KEYS]; /* in request order */
    size_t n_keys;
    uint8_t *payload;
    size_t payload_len;
    uint8_t *sig;
    size_t sig_len;
};

static void sealed_clear(struct sealed_response *s)
{
    for (size_t i = 0; i < KS_ATTEST_MAX_KEYS; i++) {
        free(s->keys[i].ct);
    }
    free(s->payload);
    free(s->sig);
    memset(s, 0, sizeof(*s));
}

/* An integer member of 1..255. */
static int get_share_field(json_t *o, const char *name, uint8_t *ret)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_integer(v)) {
        return KS_ERR_RESP_TYPE;
    }
    json_int_t n = json_integer_value(v);
    if (n < 1 || n > 255) {
        return KS_ERR_RESP_VALUE;
    }
    *ret = (uint8_t)n;
    return KS_OK;
}

/* The share metadata of a key that is one share of a k-of-n split:
 * {"index": I, "threshold": K, "count": N}, 1 <= I <= N, 1 <= K <= N. */
static int parse_share(json_t *o, struct sealed_key *k)
{
    static const char *const members[] = {"index", "threshold", "count"};
    uint8_t index = 0, threshold = 0, count = 0;
    if (!json_is_object(o)) {
        return KS_ERR_RESP_TYPE;
    }
    int r = check_members(o, members, 3);
    if (r == KS_OK) {
        r = get_share_field(o, "index", &index);
    }
    if (r == KS_OK) {
        r = get_share_field(o, "threshold", &threshold);
    }
    if (r == KS_OK) {
        r = get_share_field(o, "count", &count);
    }
    if (r != KS_OK) {
        return r;
    }
    if (index > count || threshold > count) {
        return KS_ERR_RESP_VALUE;
    }
    k->share_index = index;
    k->share_threshold = threshold;
    k->share_count = count;
    return KS_OK;
}

static int parse_key_entry(json_t *o, struct sealed_key *k)
{
    /* "share" last: it is optional (a whole key has none). */
    static const char *const members[] = {"name", "version", "enc", "ciphertext", "share"};
    uint8_t *enc = NULL;
    size_t enc_len = 0;
    if (!json_is_object(o)) {
        return KS_ERR_RESP_TYPE;
    }
    json_t *share = json_object_get(o, "share");
    int r = check_members(o, members, share ? 5 : 4);
    if (r == KS_OK && share) {
        r = parse_share(share, k);
    }
    if (r != KS_OK) {
        return r;
    }
    json_t *name = json_object_get(o, "name"), *version = json_object_get(o, "version");
    if (!json_is_string(name) || !json_is_integer(version)) {
        return KS_ERR_RESP_TYPE;
    }
    json_int_t v = json_integer_value(version);
    if (v < 1 || v > (json_int_t)UINT32_MAX) {
        return KS_ERR_RESP_VALUE;
    }
    /* A name that is not a plain key name cannot match a request. */
    size_t nlen = json_string_length(name);
    const char *ns = json_string_value(name);
    if (nlen == 0 || nlen > KS_ATTEST_KEY_NAME_MAX || strlen(ns) != nlen) {
        return KS_ERR_RESP_KEY_EXTRA;
    }
    for (size_t i = 0; i < nlen; i++) {
        if (!name_char(ns[i])) {
            return KS_ERR_RESP_KEY_EXTRA;
        }
    }
    memcpy(k->name, ns, nlen + 1);
    k->version = (uint32_t)v;
    r = get_b64(json_object_get(o, "enc"), 0, 4 * KS_HPKE_ENC_LEN, &enc, &enc_len);
    if (r == KS_ERR_RESP_VALUE || (r == KS_OK && enc_len != KS_HPKE_ENC_LEN)) {
        r = KS_ERR_RESP_ENC_LEN;
    }
    if (r == KS_OK) {
        memcpy(k->enc, enc, KS_HPKE_ENC_LEN);
        r = get_b64(json_object_get(o, "ciphertext"), KS_HPKE_TAG_LEN + 1,
                    KS_ATTEST_KEY_MAX + KS_HPKE_TAG_LEN, &k->ct, &k->ct_len);
    }
    free(enc);
    return r;
}

/* Pair each answered key with the one request it answers: a request that
 * names a version first, then one for the active version. */
static int match_request(const struct sealed_key *k, char (*names)[KS_ATTEST_KEY_NAME_MAX + 1],
                         const uint32_t *versions, const bool *taken, size_t n, size_t *ret)
{
    for (int pass = 0; pass < 2; pass++) {
        for (size_t j = 0; j < n; j++) {
            uint32_t want = pass == 0 ? k->version : 0;
            if (!taken[j] && versions[j] == want && strcmp(names[j], k->name) == 0) {
                *ret = j;
                return KS_OK;
            }
        }
    }
    return KS_ERR_RESP_KEY_EXTRA;
}

static int parse_keys(json_t *arr, const char *const *refs, size_t n_refs,
                      struct sealed_response *s)
{
    char names[KS_ATTEST_MAX_KEYS][KS_ATTEST_KEY_NAME_MAX + 1];
    uint32_t versions[KS_ATTEST_MAX_KEYS];
    bool taken[KS_ATTEST_MAX_KEYS] = {false};
    if (!json_is_array(arr)) {
        return KS_ERR_RESP_TYPE;
    }
    for (size_t j = 0; j < n_refs; j++) {
        if (ks_attest_key_ref_parse(refs[j], names[j], &versions[j]) != KS_OK) {
            return KS_ERR_INVALID_ARG;
        }
    }
    size_t n = json_array_size(arr);
    for (size_t i = 0; i < n; i++) {
        struct sealed_key k;
        size_t j;
        memset(&k, 0, sizeof(k));
        /* More entries than requests: at least one is not asked for. */
        int r = i < n_refs ? parse_key_entry(json_array_get(arr, i), &k) : KS_ERR_RESP_KEY_EXTRA;
        if (r == KS_OK) {
            r = match_request(&k, names, versions, taken, n_refs, &j);
        }
        if (r != KS_OK) {
            free(k.ct);
            return r;
        }
        taken[j] = true;
        s->keys[j] = k;
    }
    if (n != n_refs) {
        return KS_ERR_RESP_KEY_MISSING;
    }
    s->n_keys = n;
    return KS_OK;
}

static int parse_receipt(json_t *o, struct sealed_response *s)
{
    static const char *const members[] = {"payload", "signature"};
    if (!json_is_object(o)) {
        return KS_ERR_RESP_TYPE;
    }
    int r = check_members(o, members, 2);
    if (r == KS_OK) {
        r = get_b64(json_object_get(o, "payload"), 1, KS_ATTEST_RECEIPT_PAYLOAD_MAX, &s->payload,
                    &s->payload_len);
    }
    if (r == KS_OK) {
        r = get_b64(json_object_get(o, "signature"), 1, KS_ATTEST_RECEIPT_SIG_MAX, &s->sig,
                    &s->sig_len);
    }
    return r;
}

static int parse_response(const uint8_t *body, size_t len, const char *const *refs, size_t n_refs,
                          struct sealed_response *s)
{
    static const char *const members[] = {"keys", "receipt"};
    json_t *root = NULL;
    int r = load_object(body, len, &root);
    if (r != KS_OK) {
        return r;
    }
    r = check_members(root, members, 2);
    if (r == KS_OK) {
        r = parse_keys(json_object_get(root, "keys"), refs, n_refs, s);
    }
    if (r == KS_OK) {
        r = parse_receipt(json_object_get(root, "receipt"), s);
    }
    json_decref(root);
    return r;
}

/* RFC 9180 section 6.1 single-shot open of each key, into the secure heap. */
static int open_keys(const struct sealed_response *s, const uint8_t *nonce, const uint8_t *hpke_sk,
                     struct ks_attest_result *res)
{
    for (size_t i = 0; i < s->n_keys; i++) {
        const struct sealed_key *k = &s->keys[i];
        struct ks_attest_key *out = &res->keys[i];
        uint8_t info[sizeof(KS_ATTEST_LABEL) + KS_ATTEST_KEY_NAME_MAX];
        size_t nlen = strlen(k->name);
        size_t pt_size = k->ct_len - KS_HPKE_TAG_LEN;
        memcpy(info, KS_ATTEST_LABEL, sizeof(KS_ATTEST_LABEL)); /* with its NUL: the 0x00 */
        memcpy(info + sizeof(KS_ATTEST_LABEL), k->name, nlen);
        out->key = OPENSSL_secure_malloc(pt_size);
        if (!out->key) {
            return KS_ERR_NOMEM;
        }
        res->n_keys = i + 1;
        out->key_len = pt_size;
        size_t pt_len = 0;
        int r = ks_hpke_open_base(KS_HPKE_SUITE_DEFAULT, hpke_sk, k->enc, info,
                                  sizeof(KS_ATTEST_LABEL) + nlen, nonce, KS_ATTEST_NONCE_LEN, k->ct,
                                  k->ct_len, out->key, pt_size, &pt_len);
        if (r != KS_OK) {
            return r;
        }
        if (pt_len != pt_size) {
            return KS_ERR_INTERNAL;
        }
        memcpy(out->name, k->name, nlen + 1);
        out->version = k->version;
        out->share_index = k->share_index;
        out->share_threshold = k->share_threshold;
        out->share_count = k->share_count;
    }
    return KS_OK;
}

int ks_attest_response_parse(const uint8_t *body, size_t len, const char *const *keys,
                             size_t n_keys, const uint8_t nonce[KS_ATTEST_NONCE_LEN],
                             const uint8_t *hpke_sk, struct ks_attest_result **ret)
{
    struct sealed_response s;
    struct ks_attest_result *res = NULL;
    int r;
    memset(&s, 0, sizeof(s));
    if (!nonce || !hpke_sk || !ret || check_key_refs(keys, n_keys) != KS_OK) {
        return KS_ERR_INVALID_ARG;
    }
    r = parse_response(body, len, keys, n_keys, &s);
    if (r != KS_OK) {
        goto out;
    }
    res = calloc(1, sizeof(*res));
    if (!res) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    r = open_keys(&s, nonce, hpke_sk, res);
    if (r != KS_OK) {
        goto out;
    }
    res->receipt_payload = s.payload;
    res->receipt_payload_len = s.payload_len;
    res->receipt_signature = s.sig;
    res->receipt_signature_len = s.sig_len;
    s.payload = s.sig = NULL;
    *ret = res;
    res = NULL;
out:
    ks_attest_result_free(res);
    sealed_clear(&s);
    return r;
}

/* ---- errors ----------------------------------------------------------------- */

/* Printable ASCII only: the server's text goes to a terminal or a log. */
static void sanitize(const char *in, char *out, size_t outlen)
{
    size_t i = 0;
    for (; in && in[i] && i + 1 < outlen; i++) {
        unsigned char c = (unsigned char)in[i];
        out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[i] = '\0';
}

static const struct {
    const char *code;
    int err;
} error_codes[] = {
    {"bad_request", KS_ERR_BAD_REQUEST},           {"too_large", KS_ERR_TOO_LARGE},
    {"unsupported_media_type", KS_ERR_MEDIA_TYPE}, {"not_found", KS_ERR_NOT_FOUND},
    {"method_not_allowed", KS_ERR_METHOD},         {"nonce_invalid", KS_ERR_NONCE_INVALID},
    {"nonce_expired", KS_ERR_NONCE_EXPIRED},       {"nonce_used", KS_ERR_NONCE_USED},
    {"attestation_failed", KS_ERR_ATTESTATION},    {"policy_denied", KS_ERR_POLICY_DENIED},
    {"rate_limited", KS_ERR_RATE_LIMITED},
};

int ks_attest_error_parse(long status, const uint8_t *body, size_t len,
                          struct ks_attest_error *ret_err)
{
    struct ks_attest_error e;
    json_t *root = NULL;
    int r = KS_ERR_HTTP_STATUS;
    memset(&e, 0, sizeof(e));
    e.http_status = status;
    if (body && load_object(body, len, &root) == KS_OK) {
        json_t *code = json_object_get(root, "error");
        json_t *detail = json_object_get(root, "detail");
        if (json_is_string(code) && (!detail || json_is_string(detail))) {
            sanitize(json_string_value(code), e.code, sizeof(e.code));
            sanitize(detail ? json_string_value(detail) : "", e.detail, sizeof(e.detail));
            r = KS_ERR_SERVER_ERROR;
            for (size_t i = 0; i < sizeof(error_codes) / sizeof(error_codes[0]); i++) {
                if (strcmp(json_string_value(code), error_codes[i].code) == 0) {
                    r = error_codes[i].err;
                }
            }
        }
    }
    json_decref(root);
    if (ret_err) {
        *ret_err = e;
    }
    return r;
}
