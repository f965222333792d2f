/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "keyserverd/endpoints.h"
#include "keyserverd/log.h"
#include "keyserverd/release_request.h"
#include "keyserverd/server_internal.h"

/*
 * One request's life in libmicrohttpd's access handler: refusals that need
 * only the headers (rate limit, 404, 405, 415, declared 413), the body
 * accumulated under a hard cap, the endpoint, the response with its common
 * headers; then, on completion, the metrics and one access-log line.
 */

/* After the body cap is hit mid-upload (chunked requests, whose size is not
 * declared), at most this much more is read and thrown away so that the
 * client still gets its 413; beyond it the connection is closed. */
#define DISCARD_MAX (64u * 1024u)

struct route {
    const char *path; /* exact path; NULL: /v1/keys/{name}/public */
    enum ks_endpoint_id ep;
    const char *method;
    const char *allow;
    ks_endpoint_fn *fn;
    bool rate_limited; /* health and metrics are exempt: they are how */
                       /* operators watch an overload */
    bool accepts_cbor; /* application/cbor bodies too (the release) */
};

static const struct route routes[] = {
    {"/v1/health", KS_EP_HEALTH, "GET", "GET, HEAD", ks_ep_health, false, false},
    {"/v1/info", KS_EP_INFO, "GET", "GET, HEAD", ks_ep_info, true, false},
    {"/v1/challenge", KS_EP_CHALLENGE, "POST", "POST", ks_ep_challenge, true, false},
    {"/v1/release", KS_EP_RELEASE, "POST", "POST", ks_ep_release, true, true},
    {NULL, KS_EP_KEYS_PUBLIC, "GET", "GET, HEAD", ks_ep_keys_public, true, false},
    {"/v1/enroll", KS_EP_ENROLL, "POST", "POST", ks_ep_enroll, true, false},
    {NULL, KS_EP_ENROLL_ACTIVATE, "POST", "POST", ks_ep_enroll_activate, true, false},
    {"/metrics", KS_EP_METRICS, "GET", "GET, HEAD", ks_ep_metrics, false, false},
};

/* Per request (MHD request context). */
struct request {
    uint64_t start_us;
    const struct route *route;
    enum ks_endpoint_id ep;
    bool responded;
    bool overflow;
    bool no_content_type;
    bool cbor;
    size_t discarded;
    /* A refusal decided on the headers of a request without a body, sent
     * at the final call so that the connection stays alive. */
    int pending_err;
    const char *pending_detail;
    const char *pending_allow;
    uint8_t *body;
    size_t len, cap;
    char path_arg[KS_KEY_REF_MAX + 2];
    char client[INET6_ADDRSTRLEN + 8];
    char method[16];
    char path[128];
    unsigned status;
    size_t bytes;
    enum ks_http_code code;
    char log_detail[160];
};

static const struct route *route_of(enum ks_endpoint_id ep)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (routes[i].ep == ep) {
            return &routes[i];
        }
    }
    return NULL;
}

/* /v1/enroll/{id}/activate: {id} (at most arglen - 1 characters; longer
 * ids are cut and then refused by the endpoint, like key names). */
static const struct route *enroll_route(const char *url, char *arg, size_t arglen)
{
    static const char ep[] = "/v1/enroll/", es[] = "/activate";
    size_t n = strlen(url);
    if (n <= sizeof(ep) - 1 + sizeof(es) - 1 || strncmp(url, ep, sizeof(ep) - 1) != 0 ||
        strcmp(url + n - (sizeof(es) - 1), es) != 0) {
        return NULL;
    }
    const char *id = url + sizeof(ep) - 1;
    size_t len = n - (sizeof(ep) - 1) - (sizeof(es) - 1);
    if (memchr(id, '/', len)) {
        return NULL;
    }
    size_t c = len < arglen - 1 ? len : arglen - 1;
    memcpy(arg, id, c);
    arg[c] = '\0';
    return route_of(KS_EP_ENROLL_ACTIVATE);
}

static const struct route *find_route(const char *url, char *arg, size_t arglen)
{
    static const char kp[] = "/v1/keys/", ks[] = "/public";
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (routes[i].path && strcmp(url, routes[i].path) == 0) {
            return &routes[i];
        }
    }
    const struct route *er = enroll_route(url, arg, arglen);
    if (er) {
        return er;
    }
    size_t n = strlen(url);
    if (n > sizeof(kp) - 1 + sizeof(ks) - 1 && strncmp(url, kp, sizeof(kp) - 1) == 0 &&
        strcmp(url + n - (sizeof(ks) - 1), ks) == 0) {
        const char *name = url + sizeof(kp) - 1;
        size_t nlen = n - (sizeof(kp) - 1) - (sizeof(ks) - 1);
        if (!memchr(name, '/', nlen)) {
            /* Longer names are cut at arglen - 1 > KS_KEY_REF_MAX, which
             * the endpoint then refuses. */
            size_t c = nlen < arglen - 1 ? nlen : arglen - 1;
            memcpy(arg, name, c);
            arg[c] = '\0';
            return route_of(KS_EP_KEYS_PUBLIC);
        }
    }
    return NULL;
}

static enum MHD_Result send_reply(struct ks_server *srv, struct MHD_Connection *c,
                                  struct request *rq, struct ks_http_reply *reply)
{
    struct MHD_Response *resp;
    size_t len = reply->body ? reply->body_len : 0;
    if (reply->body) {
        resp =
            MHD_create_response_from_buffer_with_free_callback(reply->body_len, reply->body, free);
        if (resp) {
            reply->body = NULL; /* now owned by the response */
        }
    } else {
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    }
    rq->responded = true;
    rq->status = reply->status;
    rq->code = reply->error;
    snprintf(rq->log_detail, sizeof(rq->log_detail), "%s", reply->log_detail);
    if (!resp) {
        rq->status = 500;
        return MHD_NO;
    }
    bool ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, reply->content_type) &&
              MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") &&
              MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (ok && reply->allow) {
        ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, reply->allow);
    }
    if (ok && (reply->status == 429 || reply->status == 503)) {
        ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    }
    if (ok && atomic_load(&srv->ctx->draining)) {
        /* Shutting down: no further requests on this connection. */
        ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    }
    enum MHD_Result ret = ok ? MHD_queue_response(c, reply->status, resp) : MHD_NO;
    MHD_destroy_response(resp);
    rq->bytes = ret == MHD_YES ? len : 0;
    return ret;
}

static enum MHD_Result send_error(struct ks_server *srv, struct MHD_Connection *c,
                                  struct request *rq, int err, const char *detail,
                                  const char *allow)
{
    struct ks_http_reply reply;
    ks_http_reply_init(&reply);
    ks_http_reply_error(&reply, err, detail);
    reply.allow = allow;
    enum MHD_Result ret = send_reply(srv, c, rq, &reply);
    ks_http_reply_clear(&reply);
    return ret;
}

static void client_string(const struct sockaddr *sa, char *out, size_t len)
{
    snprintf(out, len, "-");
    if (sa && sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)len);
    } else if (sa && sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)len);
    }
}

/* Does the request announce a body? */
static bool has_body(struct MHD_Connection *c)
{
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    return (cl && strcmp(cl, "0") != 0) ||
           MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding") != NULL;
}

/* Refuse on the headers. With a body, answer now: libmicrohttpd then sends
 * the response without reading the body (and closes the connection).
 * Without one, answer at the final call, which keeps the connection alive. */
static enum MHD_Result refuse(struct ks_server *srv, struct MHD_Connection *c, struct request *rq,
                              int err, const char *detail, const char *allow)
{
    if (has_body(c)) {
        return send_error(srv, c, rq, err, detail, allow);
    }
    rq->pending_err = err;
    rq->pending_detail = detail;
    rq->pending_allow = allow;
    return MHD_YES;
}

/* First call for a request: headers are in, no body yet. Everything that
 * can be refused without the body is refused here, before reading it. */
static enum MHD_Result first_call(struct ks_server *srv, struct MHD_Connection *c,
                                  struct request *rq, const char *url, const char *method)
{
    const struct ks_config *cfg = srv->ctx->cfg;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    client_string(sa, rq->client, sizeof(rq->client));
    ks_log_sanitize(method, rq->method, sizeof(rq->method));
    ks_log_sanitize(url, rq->path, sizeof(rq->path));

    rq->route = find_route(url, rq->path_arg, sizeof(rq->path_arg));
    rq->ep = rq->route ? rq->route->ep : KS_EP_OTHER;
    if ((!rq->route || rq->route->rate_limited) && sa &&
        ks_ratelimit_take(srv->ctx->ratelimit, sa, ks_state_monotonic_us()) != KS_OK) {
        return refuse(srv, c, rq, KS_ERR_RATE_LIMITED, "too many requests from this address", NULL);
    }
    if (!rq->route) {
        return refuse(srv, c, rq, KS_ERR_NOT_FOUND, "no such resource", NULL);
    }
    bool allowed = strcmp(method, rq->route->method) == 0 ||
                   (strcmp(rq->route->method, "GET") == 0 && strcmp(method, "HEAD") == 0);
    if (!allowed) {
        return refuse(srv, c, rq, KS_ERR_METHOD, "method not allowed", rq->route->allow);
    }
    if (strcmp(method, "POST") == 0) {
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
        rq->cbor = ct && rq->route->accepts_cbor && ks_http_is_cbor_type(ct);
        if (ct && !rq->cbor && !ks_http_is_json_type(ct)) {
            return send_error(srv, c, rq, KS_ERR_MEDIA_TYPE,
                              rq->route->accepts_cbor
                                  ? "Content-Type must be application/json or application/cbor"
                                  : "Content-Type must be application/json",
                              NULL);
        }
        /* Without a Content-Type only an empty body is accepted (final
         * call), so `curl -X POST` works for /v1/challenge. */
        rq->no_content_type = ct == NULL;
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl) {
        /* libmicrohttpd has already rejected a malformed Content-Length. */
        char *end = NULL;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno == ERANGE || n > cfg->max_body) {
            return send_error(srv, c, rq, KS_ERR_TOO_LARGE, "request body too large", NULL);
        }
    }
    return MHD_YES;
}

static enum MHD_Result take_body(struct ks_server *srv, struct request *rq, const char *data,
                                 size_t n)
{
    size_t max = srv->ctx->cfg->max_body;
    if (rq->overflow || rq->responded || rq->pending_err != KS_OK || n > max - rq->len) {
        /* Never buffer past the cap. */
        rq->overflow = !rq->responded && rq->pending_err == KS_OK;
        free(rq->body);
        rq->body = NULL;
        rq->len = rq->cap = 0;
        rq->discarded = n > DISCARD_MAX - rq->discarded ? DISCARD_MAX + 1 : rq->discarded + n;
        if (rq->discarded > DISCARD_MAX) {
            /* Closed without a response; logged and counted as a 413. */
            if (!rq->responded) {
                rq->status = 413;
                rq->code = KS_HC_TOO_LARGE;
            }
            return MHD_NO;
        }
        return MHD_YES;
    }
    if (rq->len + n > rq->cap) {
        size_t cap = rq->cap ? rq->cap : 4096;
        while (cap < rq->len + n) {
            cap = cap > max / 2 ? max : cap * 2;
        }
        uint8_t *b = realloc(rq->body, cap);
        if (!b) {
            return MHD_NO;
        }
        rq->body = b;
        rq->cap = cap;
    }
    memcpy(rq->body + rq->len, data, n);
    rq->len += n;
    return MHD_YES;
}

/* Last call: the whole body is in. */
static enum MHD_Result final_call(struct ks_server *srv, struct MHD_Connection *c,
                                  struct request *rq, const char *url, const char *method)
{
    if (rq->pending_err != KS_OK) {
        return send_error(srv, c, rq, rq->pending_err, rq->pending_detail, rq->pending_allow);
    }
    if (rq->overflow) {
        return send_error(srv, c, rq, KS_ERR_TOO_LARGE, "request body too large", NULL);
    }
    if (rq->no_content_type && rq->len > 0) {
        return send_error(srv, c, rq, KS_ERR_MEDIA_TYPE, "Content-Type must be application/json",
                          NULL);
    }
    struct ks_http_request hreq = {
        .method = method,
        .path = url,
        .path_arg = rq->route->path ? NULL : rq->path_arg,
        .body = rq->body,
        .body_len = rq->len,
        .client = rq->client,
        .cbor = rq->cbor,
    };
    struct ks_http_reply reply;
    ks_http_reply_init(&reply);
    rq->route->fn(srv->ctx, &hreq, &reply);
    enum MHD_Result ret = send_reply(srv, c, rq, &reply);
    ks_http_reply_clear(&reply);
    return ret;
}

enum MHD_Result ks_request_handle(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    struct ks_server *srv = cls;
    struct request *rq = *req_cls;
    if (!rq) {
        rq = calloc(1, sizeof(*rq));
        if (!rq) {
            return MHD_NO;
        }
        rq->start_us = ks_state_monotonic_us();
        *req_cls = rq;
        atomic_fetch_add(&srv->ctx->in_flight, 1);
        return first_call(srv, c, rq, url, method);
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        return take_body(srv, rq, upload_data, n);
    }
    if (rq->responded) {
        return MHD_YES;
    }
    return final_call(srv, c, rq, url, method);
}

static const char *termination_name(enum MHD_RequestTerminationCode toe)
{
    switch (toe) {
    case MHD_REQUEST_TERMINATED_COMPLETED_OK:
        return NULL;
    case MHD_REQUEST_TERMINATED_WITH_ERROR:
        return "error";
    case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
        return "timeout";
    case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
        return "shutdown";
    case MHD_REQUEST_TERMINATED_READ_ERROR:
        return "read_error";
    case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
        return "client_abort";
    }
    return "unknown";
}

/* One access-log line per request: never a body or a header value. */
void ks_request_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                          enum MHD_RequestTerminationCode toe)
{
    struct ks_server *srv = cls;
    struct request *rq = *req_cls;
    if (!rq) {
        return;
    }
    uint64_t us = ks_state_monotonic_us() - rq->start_us;
    if (rq->status != 0) {
        ks_metrics_observe(&srv->ctx->metrics, rq->ep, rq->status, rq->code, us);
    }
    char detail[sizeof(rq->log_detail)];
    ks_log_sanitize(rq->log_detail, detail, sizeof(detail));
    const char *term = termination_name(toe);
    const char *code = ks_http_code_name(rq->code);
    ks_log(srv->ctx->log, LOG_INFO,
           "access client=%s method=\"%s\" path=\"%s\" status=%u bytes=%zu us=%llu%s%s%s%s%s%s%s",
           rq->client, rq->method, rq->path, rq->status, rq->bytes, (unsigned long long)us,
           code && code[0] ? " error=" : "", code ? code : "", detail[0] ? " reason=\"" : "",
           detail, detail[0] ? "\"" : "", term ? " terminated=" : "", term ? term : "");
    free(rq->body);
    free(rq);
    *req_cls = NULL;
    atomic_fetch_sub(&srv->ctx->in_flight, 1);
}
