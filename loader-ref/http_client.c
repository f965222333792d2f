/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "http_client.h"

struct ks_http_client {
    CURL *curl;
    struct curl_slist *headers;
    char *base; /* without a trailing '/' */
    char *cacert;
    char *pinned_key;
    size_t max_response;
    char errbuf[CURL_ERROR_SIZE];
};

/* The response body being received, and whether it went past the cap. */
struct sink {
    uint8_t *buf;
    size_t len;
    size_t cap;
    size_t max;
    bool overflow;
    bool nomem;
};

int ks_http_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? KS_OK : KS_ERR_INTERNAL;
}

void ks_http_global_cleanup(void)
{
    curl_global_cleanup();
}

static char *dup_or_null(const char *s, bool *failed)
{
    if (!s) {
        return NULL;
    }
    char *d = strdup(s);
    if (!d) {
        *failed = true;
    }
    return d;
}

/* https://, or http:// when allowed; printable ASCII without spaces. */
static int check_url(const char *url, bool allow_plain)
{
    size_t n = strnlen(url, KS_HTTP_URL_MAX + 1);
    if (n > KS_HTTP_URL_MAX) {
        return KS_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f) {
            return KS_ERR_INVALID_ARG;
        }
    }
    if (n > 8 && strncasecmp(url, "https://", 8) == 0) {
        return KS_OK;
    }
    if (allow_plain && n > 7 && strncasecmp(url, "http://", 7) == 0) {
        return KS_OK;
    }
    return KS_ERR_INVALID_ARG;
}

/* CURLOPT_PROTOCOLS_STR replaced the bitmask option in curl 7.85.0. */
static CURLcode set_protocols(CURL *h, bool allow_plain)
{
#if LIBCURL_VERSION_NUM >= 0x075500
    return curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, allow_plain ? "https,http" : "https");
#else
    long p = CURLPROTO_HTTPS | (allow_plain ? CURLPROTO_HTTP : 0);
    return curl_easy_setopt(h, CURLOPT_PROTOCOLS, p);
#endif
}

static int setup_handle(struct ks_http_client *c, const struct ks_http_opts *o)
{
    CURL *h = c->curl;
    long connect_timeout =
        o->connect_timeout_s > 0 ? o->connect_timeout_s : KS_HTTP_DEFAULT_CONNECT_TIMEOUT;
    long timeout = o->timeout_s > 0 ? o->timeout_s : KS_HTTP_DEFAULT_TIMEOUT;
    CURLcode e = CURLE_OK;
    if (e == CURLE_OK) {
        e = set_protocols(h, o->allow_plain_http);
    }
    /* No redirects: a relay must not send the evidence elsewhere. */
    if (e == CURLE_OK) {
        e = curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    }
    if (e == CURLE_OK) {
        e = curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    }
    if (e == CURLE_OK) {
        e = curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    }
    if (e == CURLE_OK) {
        e = curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    }
    if (e == CURLE_OK && c->cacert) {
        e = curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
    }
    if (e == CURLE_OK && c->pinned_key) {
        e = curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, c->pinned_key);
    }
    if (e == CURLE_OK) {
        e = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    }
    if (e == CURLE_OK) {
        e = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, connect_timeout);
    }
    if (e == CURLE_OK) {
        e = curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout);
    }
    if (e == CURLE_OK) {
        e = curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_response);
    }
    if (e == CURLE_OK) {
        e = curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
    }
    if (e == CURLE_OK) {
        e = curl_easy_setopt(h, CURLOPT_USERAGENT, PACKAGE_NAME "-loader/" PACKAGE_VERSION);
    }
    if (e == CURLE_OK) {
        e = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    }
    /* A pinned key may fail to be set with a TLS backend without pinning:
     * refuse rather than run unpinned. */
    if (e == CURLE_NOT_BUILT_IN || e == CURLE_UNKNOWN_OPTION) {
        return KS_ERR_UNSUPPORTED;
    }
    return e == CURLE_OK ? KS_OK : KS_ERR_INTERNAL;
}

int ks_http_client_new(const char *base_url, const struct ks_http_opts *opts,
                       struct ks_http_client **ret)
{
    static const struct ks_http_opts defaults = {0};
    const struct ks_http_opts *o = opts ? opts : &defaults;
    bool nomem = false;
    int r;
    if (!base_url || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    r = check_url(base_url, o->allow_plain_http);
    if (r != KS_OK) {
        return r;
    }
    if (o->cacert && access(o->cacert, R_OK) != 0) {
        return KS_ERR_IO;
    }
    struct ks_http_client *c = calloc(1, sizeof(*c));
    if (!c) {
        return KS_ERR_NOMEM;
    }
    c->max_response = o->max_response ? o->max_response : KS_HTTP_DEFAULT_MAX_RESPONSE;
    c->base = dup_or_null(base_url, &nomem);
    c->cacert = dup_or_null(o->cacert, &nomem);
    c->pinned_key = dup_or_null(o->pinned_key, &nomem);
    if (nomem) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    size_t n = strlen(c->base);
    while (n > 0 && c->base[n - 1] == '/') {
        c->base[--n] = '\0';
    }
    /* "Expect:" off: no 100-continue round trip for larger bodies. */
    static const char *const hdrs[] = {"Content-Type: application/json", "Accept: application/json",
                                       "Expect:"};
    for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
        struct curl_slist *l = curl_slist_append(c->headers, hdrs[i]);
        if (!l) {
            r = KS_ERR_NOMEM;
            goto out;
        }
        c->headers = l;
    }
    c->curl = curl_easy_init();
    if (!c->curl) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    r = setup_handle(c, o);
    if (r != KS_OK) {
        goto out;
    }
    *ret = c;
    c = NULL;
out:
    ks_http_client_free(c);
    return r;
}

void ks_http_client_free(struct ks_http_client *c)
{
    if (!c) {
        return;
    }
    if (c->curl) {
        curl_easy_cleanup(c->curl);
    }
    curl_slist_free_all(c->headers);
    free(c->base);
    free(c->cacert);
    free(c->pinned_key);
    free(c);
}

void ks_http_response_clear(struct ks_http_response *resp)
{
    if (!resp) {
        return;
    }
    free(resp->body);
    memset(resp, 0, sizeof(*resp));
}

static size_t sink_write(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct sink *s = userdata;
    size_t n = size * nmemb; /* curl guarantees size == 1 */
    if (n > s->max - s->len) {
        s->overflow = true;
        return 0; /* CURLE_WRITE_ERROR */
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n + 1) {
            cap *= 2;
        }
        uint8_t *b = realloc(s->buf, cap);
        if (!b) {
            s->nomem = true;
            return 0;
        }
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return n;
}

static int map_curl_error(CURLcode e, const struct sink *s)
{
    if (s->nomem) {
        return KS_ERR_NOMEM;
    }
    if (s->overflow || e == CURLE_FILESIZE_EXCEEDED) {
        return KS_ERR_TOO_LARGE;
    }
    switch (e) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return KS_ERR_HTTP_TLS_VERIFY;
    case CURLE_OUT_OF_MEMORY:
        return KS_ERR_NOMEM;
    default:
        return KS_ERR_HTTP_TRANSPORT;
    }
}

/* The request headers for a body of another media type than the client's
 * default (application/json). */
static int headers_for(const char *content_type, struct curl_slist **ret)
{
    char line[sizeof("Content-Type: ") + KS_HTTP_CONTENT_TYPE_MAX];
    size_t n = strnlen(content_type, KS_HTTP_CONTENT_TYPE_MAX + 1);
    if (n == 0 || n > KS_HTTP_CONTENT_TYPE_MAX) {
        return KS_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)content_type[i] < 0x20 || (unsigned char)content_type[i] >= 0x7f) {
            return KS_ERR_INVALID_ARG;
        }
    }
    snprintf(line, sizeof(line), "Content-Type: %s", content_type);
    const char *const hdrs[] = {line, "Accept: application/json", "Expect:"};
    struct curl_slist *list = NULL;
    for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
        struct curl_slist *l = curl_slist_append(list, hdrs[i]);
        if (!l) {
            curl_slist_free_all(list);
            return KS_ERR_NOMEM;
        }
        list = l;
    }
    *ret = list;
    return KS_OK;
}

/* One request: POST body, or GET when post is false. content_type NULL:
 * the client's default headers. */
static int perform(struct ks_http_client *c, const char *path, bool post, const char *content_type,
                   const char *body, size_t body_len, struct ks_http_response *ret, char *errbuf,
                   size_t errlen)
{
    struct sink s = {0};
    struct curl_slist *hdrs = NULL;
    char *url = NULL;
    long status = 0;
    int r;
    if (errbuf && errlen > 0) {
        errbuf[0] = '\0';
    }
    if (!c || !path || path[0] != '/' || (!body && body_len > 0) || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    if (strnlen(path, KS_HTTP_URL_MAX + 1) > KS_HTTP_URL_MAX) {
        return KS_ERR_INVALID_ARG;
    }
    for (const char *p = path; *p; p++) {
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
            return KS_ERR_INVALID_ARG;
        }
    }
    if (content_type) {
        r = headers_for(content_type, &hdrs);
        if (r != KS_OK) {
            return r;
        }
    }
    size_t ulen = strlen(c->base) + strlen(path) + 1;
    url = malloc(ulen);
    if (!url) {
        curl_slist_free_all(hdrs);
        return KS_ERR_NOMEM;
    }
    snprintf(url, ulen, "%s%s", c->base, path);
    s.max = c->max_response;
    c->errbuf[0] = '\0';
    CURLcode e = curl_easy_setopt(c->curl, CURLOPT_URL, url);
    if (e == CURLE_OK && post) {
        e = curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    if (e == CURLE_OK && post) {
        e = curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body ? body : "");
    }
    if (e == CURLE_OK && !post) {
        /* The handle may have posted before: back to GET. */
        e = curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
    }
    if (e == CURLE_OK && hdrs) {
        e = curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
    }
    if (e == CURLE_OK) {
        e = curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, sink_write);
    }
    if (e == CURLE_OK) {
        e = curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &s);
    }
    if (e != CURLE_OK) {
        r = KS_ERR_INTERNAL;
        goto out;
    }
    e = curl_easy_perform(c->curl);
    if (e != CURLE_OK) {
        if (errbuf && errlen > 0) {
            snprintf(errbuf, errlen, "%s", c->errbuf[0] ? c->errbuf : curl_easy_strerror(e));
        }
        r = map_curl_error(e, &s);
        goto out;
    }
    if (curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) {
        r = KS_ERR_INTERNAL;
        goto out;
    }
    if (!s.buf) {
        s.buf = calloc(1, 1);
        if (!s.buf) {
            r = KS_ERR_NOMEM;
            goto out;
        }
    }
    ret->status = status;
    ret->body = s.buf;
    ret->len = s.len;
    s.buf = NULL;
    r = KS_OK;
out:
    /* The write callback must not outlive this call's sink. */
    (void)curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, NULL);
    if (hdrs) {
        /* Back to the client's own list before this one is freed. */
        (void)curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
        curl_slist_free_all(hdrs);
    }
    free(s.buf);
    free(url);
    return r;
}

int ks_http_client_post_json(struct ks_http_client *c, const char *path, const char *body,
                             size_t body_len, struct ks_http_response *ret, char *errbuf,
                             size_t errlen)
{
    return perform(c, path, true, NULL, body, body_len, ret, errbuf, errlen);
}

int ks_http_client_post(struct ks_http_client *c, const char *path, const char *content_type,
                        const void *body, size_t body_len, struct ks_http_response *ret,
                        char *errbuf, size_t errlen)
{
    if (!content_type) {
        return KS_ERR_INVALID_ARG;
    }
    return perform(c, path, true, content_type, body, body_len, ret, errbuf, errlen);
}

int ks_http_client_get(struct ks_http_client *c, const char *path, struct ks_http_response *ret,
                       char *errbuf, size_t errlen)
{
    return perform(c, path, false, NULL, NULL, 0, ret, errbuf, errlen);
}
