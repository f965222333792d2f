/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "bench_client.h"
#include "encoding.h"
#include "hpke.h"

#define RELEASE_LABEL "ks-release-v1" /* sizeof() includes the 0x00 */
#define NONCE_LEN 32
#define RESPONSE_MAX (1024 * 1024)

struct ks_bench_conn {
    const struct ks_bench_target *t;
    CURL *curl;
    struct curl_slist *headers;      /* JSON bodies */
    struct curl_slist *cbor_headers; /* the CBOR release body */
    char *body;                      /* request body, reused */
    size_t body_cap;
    char *resp; /* response, NUL-terminated */
    size_t resp_len, resp_cap;
    long connects;
    long status;
    char error[CURL_ERROR_SIZE + 64];
};

/* ---- the target ---------------------------------------------------------- */

/* ---- a minimal CBOR writer (RFC 8949 section 3) ------------------------- */
/* Only what the release body needs: definite-length text and byte strings,
 * maps, arrays and small unsigned integers, each head in its shortest form
 * (section 4.2.1). The caller has checked the room: at most 9 head bytes
 * plus the payload. */

#define CBOR_UINT 0
#define CBOR_BYTES 2
#define CBOR_TEXT 3
#define CBOR_ARRAY 4
#define CBOR_MAP 5
#define CBOR_HEAD_MAX 9

static size_t cbor_head(uint8_t *out, unsigned major, uint64_t n)
{
    uint8_t m = (uint8_t)(major << 5);
    if (n < 24) {
        out[0] = m | (uint8_t)n;
        return 1;
    }
    unsigned bytes = n <= 0xff ? 1 : n <= 0xffff ? 2 : n <= 0xffffffffu ? 4 : 8;
    out[0] = m | (uint8_t)(bytes == 1 ? 24 : bytes == 2 ? 25 : bytes == 4 ? 26 : 27);
    for (unsigned i = 0; i < bytes; i++) {
        out[1 + i] = (uint8_t)(n >> (8 * (bytes - 1 - i)));
    }
    return 1 + bytes;
}

static size_t cbor_put(uint8_t *out, unsigned major, const void *buf, size_t len)
{
    size_t n = cbor_head(out, major, len);
    memcpy(out + n, buf, len);
    return n + len;
}

static size_t cbor_text(uint8_t *out, const char *s)
{
    return cbor_put(out, CBOR_TEXT, s, strlen(s));
}

/* ---- the target ---------------------------------------------------------- */

/* "ak_id", "keys", "pcrs" (sha256 only, as the JSON form) and "event_log"
 * as four CBOR pairs. */
static int fixed_cbor(struct ks_bench_target *t, const char *ak_id, const uint8_t *event_log,
                      size_t event_log_len)
{
    size_t cap = 64 + strlen(ak_id) + strlen(t->key_name) +
                 KS_PCR_COUNT * (2 + CBOR_HEAD_MAX + 32) + CBOR_HEAD_MAX + event_log_len;
    uint8_t *s = malloc(cap);
    size_t n = 0, count = 0;
    if (!s) {
        return KS_ERR_NOMEM;
    }
    for (unsigned i = 0; i < KS_PCR_COUNT; i++) {
        count += ks_pcr_selection_has(&t->sel, TPM2_ALG_SHA256, i);
    }
    n += cbor_text(s + n, "ak_id");
    n += cbor_text(s + n, ak_id);
    n += cbor_text(s + n, "keys");
    n += cbor_head(s + n, CBOR_ARRAY, 1);
    n += cbor_text(s + n, t->key_name);
    n += cbor_text(s + n, "pcrs");
    n += cbor_head(s + n, CBOR_MAP, 1);
    n += cbor_text(s + n, "sha256");
    n += cbor_head(s + n, CBOR_MAP, count);
    for (unsigned i = 0; i < KS_PCR_COUNT; i++) {
        const uint8_t *v;
        if (!ks_pcr_selection_has(&t->sel, TPM2_ALG_SHA256, i)) {
            continue;
        }
        int r = ks_pcr_set_get(&t->pcrs, TPM2_ALG_SHA256, i, &v);
        if (r < 0) {
            free(s);
            return r;
        }
        n += cbor_head(s + n, CBOR_UINT, i);
        n += cbor_put(s + n, CBOR_BYTES, v, 32);
    }
    n += cbor_text(s + n, "event_log");
    n += cbor_put(s + n, CBOR_BYTES, event_log, event_log_len);
    t->fixed = (char *)s;
    t->fixed_len = n;
    return KS_OK;
}

int ks_bench_target_init(struct ks_bench_target *t, const uint8_t *event_log, size_t event_log_len)
{
    if (!t || !t->ak || !t->key_name || !event_log) {
        return KS_ERR_INVALID_ARG;
    }
    char ak_id[KS_TPM_NAME_HEX_MAX];
    char *log_b64 = NULL;
    int r = ks_soft_ak_name_hex(t->ak, ak_id);
    if (r < 0) {
        return r;
    }
    if (t->cbor) {
        return fixed_cbor(t, ak_id, event_log, event_log_len);
    }
    if ((r = ks_base64_encode(event_log, event_log_len, &log_b64)) < 0) {
        return r;
    }
    /* "pcrs":{"sha256":{"0":"<64 hex>",...}}: the selected PCRs. */
    size_t cap = strlen(ak_id) + strlen(t->key_name) + strlen(log_b64) + 24 * 80 + 128;
    char *s = malloc(cap);
    if (!s) {
        free(log_b64);
        return KS_ERR_NOMEM;
    }
    size_t n = (size_t)snprintf(s, cap, "\"ak_id\":\"%s\",\"keys\":[\"%s\"],\"pcrs\":{\"sha256\":{",
                                ak_id, t->key_name);
    const char *sep = "";
    for (unsigned i = 0; i < KS_PCR_COUNT; i++) {
        const uint8_t *v;
        if (!ks_pcr_selection_has(&t->sel, TPM2_ALG_SHA256, i)) {
            continue;
        }
        r = ks_pcr_set_get(&t->pcrs, TPM2_ALG_SHA256, i, &v);
        if (r < 0) {
            free(s);
            free(log_b64);
            return r;
        }
        char hex[65];
        ks_hex_encode(v, 32, hex);
        n += (size_t)snprintf(s + n, cap - n, "%s\"%u\":\"%s\"", sep, i, hex);
        sep = ",";
    }
    n += (size_t)snprintf(s + n, cap - n, "}},\"event_log\":\"%s\"", log_b64);
    free(log_b64);
    t->fixed = s;
    t->fixed_len = n;
    return KS_OK;
}

void ks_bench_target_clear(struct ks_bench_target *t)
{
    if (!t) {
        return;
    }
    free(t->fixed);
    t->fixed = NULL;
    OPENSSL_cleanse(t->key, sizeof(t->key));
}

/* ---- one connection ------------------------------------------------------ */

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct ks_bench_conn *c = userdata;
    size_t n = size * nmemb;
    if (n > RESPONSE_MAX - c->resp_len) {
        return 0; /* aborts the transfer */
    }
    if (c->resp_len + n + 1 > c->resp_cap) {
        size_t cap = (c->resp_len + n + 1) * 2;
        char *p = realloc(c->resp, cap);
        if (!p) {
            return 0;
        }
        c->resp = p;
        c->resp_cap = cap;
    }
    memcpy(c->resp + c->resp_len, ptr, n);
    c->resp_len += n;
    c->resp[c->resp_len] = '\0';
    return n;
}

int ks_bench_conn_new(const struct ks_bench_target *t, struct ks_bench_conn **ret)
{
    if (!t || !t->fixed || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_bench_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        return KS_ERR_NOMEM;
    }
    c->t = t;
    c->body_cap = t->fixed_len + 4096;
    c->body = malloc(c->body_cap);
    c->curl = curl_easy_init();
    c->headers = curl_slist_append(NULL, "Content-Type: application/json");
    c->cbor_headers = curl_slist_append(NULL, "Content-Type: application/cbor");
    /* No "Expect: 100-continue" round trip for bodies over 1 KiB. */
    struct curl_slist *h = c->headers ? curl_slist_append(c->headers, "Expect:") : NULL;
    struct curl_slist *hc = c->cbor_headers ? curl_slist_append(c->cbor_headers, "Expect:") : NULL;
    if (!c->body || !c->curl || !h || !hc) {
        ks_bench_conn_free(c);
        return KS_ERR_NOMEM;
    }
    c->headers = h;
    c->cbor_headers = hc;
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_CAINFO, t->cacert);
    curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c->curl, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->error);
    *ret = c;
    return KS_OK;
}

void ks_bench_conn_free(struct ks_bench_conn *c)
{
    if (!c) {
        return;
    }
    if (c->curl) {
        curl_easy_cleanup(c->curl);
    }
    curl_slist_free_all(c->headers);
    curl_slist_free_all(c->cbor_headers);
    free(c->body);
    free(c->resp);
    free(c);
}

long ks_bench_conn_connects(const struct ks_bench_conn *c)
{
    return c->connects;
}

long ks_bench_conn_last_status(const struct ks_bench_conn *c)
{
    return c->status;
}

const char *ks_bench_conn_last_error(const struct ks_bench_conn *c)
{
    return c->error;
}

/* One request on the kept-alive connection; body NULL: GET; cbor: an
 * application/cbor body. KS_OK on 200. */
static int perform(struct ks_bench_conn *c, const char *path, const char *body, size_t body_len,
                   bool cbor)
{
    char url[128];
    snprintf(url, sizeof(url), "%s%s", c->t->base_url, path);
    c->resp_len = 0;
    c->status = 0;
    c->error[0] = '\0';
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    if (body) {
        curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, cbor ? c->cbor_headers : c->headers);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)body_len);
    } else {
        curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
    }
    CURLcode rc = curl_easy_perform(c->curl);
    long connects = 0;
    curl_easy_getinfo(c->curl, CURLINFO_NUM_CONNECTS, &connects);
    c->connects += connects;
    if (rc != CURLE_OK) {
        if (!c->error[0]) {
            snprintf(c->error, sizeof(c->error), "%s", curl_easy_strerror(rc));
        }
        return KS_ERR_IO;
    }
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->status);
    if (c->status != 200) {
        snprintf(c->error, sizeof(c->error), "%s: HTTP %ld: %.120s", path, c->status,
                 c->resp ? c->resp : "");
        return KS_ERR_IO;
    }
    return KS_OK;
}

int ks_bench_conn_health(struct ks_bench_conn *c)
{
    return c ? perform(c, "/v1/health", NULL, 0, false) : KS_ERR_INVALID_ARG;
}

int ks_bench_conn_metric(struct ks_bench_conn *c, const char *name, double *ret)
{
    if (!c || !name || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    int r = perform(c, "/metrics", NULL, 0, false);
    if (r < 0) {
        return r;
    }
    size_t n = strlen(name);
    for (const char *line = c->resp; line && *line; line = strchr(line, '\n')) {
        line += *line == '\n';
        if (strncmp(line, name, n) == 0 && line[n] == ' ') {
            *ret = strtod(line + n + 1, NULL);
            return KS_OK;
        }
    }
    return KS_ERR_NOT_FOUND;
}

/* A base64 member of a JSON object, decoded to exactly `n` bytes (n > 0) or
 * at most `max` bytes (n == 0). */
static int b64_member(json_t *o, const char *name, uint8_t *out, size_t n, size_t max,
                      size_t *ret_len)
{
    json_t *v = json_object_get(o, name);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (!json_is_string(v) ||
        ks_base64_decode(json_string_value(v), json_string_length(v), &buf, &len) != KS_OK) {
        return KS_ERR_BASE64;
    }
    int r = (n && len != n) || (!n && len > max) ? KS_ERR_TOO_LARGE : KS_OK;
    if (r == KS_OK) {
        memcpy(out, buf, len);
        if (ret_len) {
            *ret_len = len;
        }
    }
    free(buf);
    return r;
}

static int get_nonce(struct ks_bench_conn *c, uint8_t nonce[NONCE_LEN])
{
    int r = perform(c, "/v1/challenge", "{}", 2, false);
    if (r < 0) {
        return r;
    }
    json_t *o = c->resp ? json_loads(c->resp, 0, NULL) : NULL;
    r = o ? b64_member(o, "nonce", nonce, NONCE_LEN, 0, NULL) : KS_ERR_BAD_REQUEST;
    json_decref(o);
    return r;
}

/* Append base64 of buf to the body at *off. */
static int put_b64(struct ks_bench_conn *c, size_t *off, const char *prefix, const uint8_t *buf,
                   size_t len)
{
    char *s = NULL;
    int r = ks_base64_encode(buf, len, &s);
    if (r < 0) {
        return r;
    }
    int n = snprintf(c->body + *off, c->body_cap - *off, "%s%s\"", prefix, s);
    free(s);
    if (n < 0 || (size_t)n >= c->body_cap - *off) {
        return KS_ERR_TOO_LARGE;
    }
    *off += (size_t)n;
    return KS_OK;
}

/* The released key: HPKE base mode open with info "ks-release-v1" || 0x00 ||
 * name and the raw nonce as aad, compared with the expected key. */
static int open_key(struct ks_bench_conn *c, const uint8_t sk[KS_HPKE_SK_LEN],
                    const uint8_t nonce[NONCE_LEN])
{
    static const uint8_t label[] = RELEASE_LABEL;
    uint8_t info[sizeof(label) + 64];
    uint8_t enc[KS_HPKE_ENC_LEN], ct[64 + KS_HPKE_TAG_LEN], pt[64];
    size_t ct_len = 0, pt_len = 0, name_len = strlen(c->t->key_name);
    int r = KS_ERR_BAD_REQUEST;
    json_t *root = c->resp ? json_loads(c->resp, 0, NULL) : NULL;
    json_t *k = json_array_get(json_object_get(root, "keys"), 0);
    if (!k || name_len > 64) {
        goto out;
    }
    if ((r = b64_member(k, "enc", enc, sizeof(enc), 0, NULL)) < 0 ||
        (r = b64_member(k, "ciphertext", ct, 0, sizeof(ct), &ct_len)) < 0) {
        goto out;
    }
    memcpy(info, label, sizeof(label));
    memcpy(info + sizeof(label), c->t->key_name, name_len);
    r = ks_hpke_open_base(KS_HPKE_SUITE_DEFAULT, sk, enc, info, sizeof(label) + name_len, nonce,
                          NONCE_LEN, ct, ct_len, pt, sizeof(pt), &pt_len);
    if (r == KS_OK &&
        (pt_len != sizeof(c->t->key) || CRYPTO_memcmp(pt, c->t->key, sizeof(c->t->key)) != 0)) {
        r = KS_ERR_CRYPTO;
    }
out:
    if (r < 0 && !c->error[0]) {
        snprintf(c->error, sizeof(c->error), "released key: %s", ks_strerror(r));
    }
    OPENSSL_cleanse(pt, sizeof(pt));
    json_decref(root);
    return r;
}

/* {"nonce":..,"hpke_pk":..,"quote":{..}, then the fixed members}. */
static int body_json(struct ks_bench_conn *c, const uint8_t *nonce, const uint8_t *pk,
                     const struct ks_soft_quote *q, size_t *ret_len)
{
    size_t off = 0;
    int r;
    if ((r = put_b64(c, &off, "{\"nonce\":\"", nonce, NONCE_LEN)) < 0 ||
        (r = put_b64(c, &off, ",\"hpke_pk\":\"", pk, KS_HPKE_PK_LEN)) < 0 ||
        (r = put_b64(c, &off, ",\"quote\":{\"attest\":\"", q->attest, q->attest_len)) < 0 ||
        (r = put_b64(c, &off, ",\"signature\":\"", q->sig, q->sig_len)) < 0) {
        return r;
    }
    if (c->body_cap - off < c->t->fixed_len + 3) {
        return KS_ERR_TOO_LARGE;
    }
    memcpy(c->body + off, "},", 2);
    off += 2;
    memcpy(c->body + off, c->t->fixed, c->t->fixed_len);
    off += c->t->fixed_len;
    c->body[off++] = '}';
    *ret_len = off;
    return KS_OK;
}

/* The same as one CBOR map of 7 pairs: nonce, hpke_pk and quote as byte
 * strings, then the fixed pairs. */
static int body_cbor(struct ks_bench_conn *c, const uint8_t *nonce, const uint8_t *pk,
                     const struct ks_soft_quote *q, size_t *ret_len)
{
    size_t need = 96 + NONCE_LEN + KS_HPKE_PK_LEN + 2 * CBOR_HEAD_MAX + q->attest_len + q->sig_len +
                  c->t->fixed_len;
    uint8_t *b = (uint8_t *)c->body;
    size_t off = 0;
    if (c->body_cap < need) {
        return KS_ERR_TOO_LARGE;
    }
    off += cbor_head(b + off, CBOR_MAP, 7);
    off += cbor_text(b + off, "nonce");
    off += cbor_put(b + off, CBOR_BYTES, nonce, NONCE_LEN);
    off += cbor_text(b + off, "hpke_pk");
    off += cbor_put(b + off, CBOR_BYTES, pk, KS_HPKE_PK_LEN);
    off += cbor_text(b + off, "quote");
    off += cbor_head(b + off, CBOR_MAP, 2);
    off += cbor_text(b + off, "attest");
    off += cbor_put(b + off, CBOR_BYTES, q->attest, q->attest_len);
    off += cbor_text(b + off, "signature");
    off += cbor_put(b + off, CBOR_BYTES, q->sig, q->sig_len);
    memcpy(b + off, c->t->fixed, c->t->fixed_len);
    *ret_len = off + c->t->fixed_len;
    return KS_OK;
}

int ks_bench_conn_release(struct ks_bench_conn *c)
{
    static const uint8_t label[] = RELEASE_LABEL;
    uint8_t nonce[NONCE_LEN], sk[KS_HPKE_SK_LEN], pk[KS_HPKE_PK_LEN];
    uint8_t bind[sizeof(label) + NONCE_LEN + KS_HPKE_PK_LEN], extra[32];
    struct ks_soft_quote q;
    size_t off = 0;
    if (!c) {
        return KS_ERR_INVALID_ARG;
    }
    int r = get_nonce(c, nonce);
    if (r < 0) {
        return r;
    }
    r = ks_hpke_keygen(sk, pk);
    if (r < 0) {
        return r;
    }
    memcpy(bind, label, sizeof(label));
    memcpy(bind + sizeof(label), nonce, NONCE_LEN);
    memcpy(bind + sizeof(label) + NONCE_LEN, pk, KS_HPKE_PK_LEN);
    if (EVP_Digest(bind, sizeof(bind), extra, NULL, EVP_sha256(), NULL) != 1) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    r = ks_soft_ak_quote(c->t->ak, extra, sizeof(extra), &c->t->sel, &c->t->pcrs, &q);
    if (r < 0) {
        goto out;
    }
    r = c->t->cbor ? body_cbor(c, nonce, pk, &q, &off) : body_json(c, nonce, pk, &q, &off);
    if (r == KS_OK) {
        r = perform(c, "/v1/release", c->body, off, c->t->cbor);
    }
    if (r == KS_OK) {
        r = open_key(c, sk, nonce);
    }
out:
    OPENSSL_cleanse(sk, sizeof(sk));
    return r;
}
