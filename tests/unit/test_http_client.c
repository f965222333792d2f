/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "loader-ref/http_client.h"

/*
 * The loader's HTTP client against a one-shot plain-HTTP server in a thread
 * on 127.0.0.1 (HTTPS, certificate verification and key pinning are
 * exercised against a real TLS server in tests/integration/attest_client.sh):
 * URL rules, what is sent, status and body returned as received, the body
 * cap, no redirects, refused connections and timeouts.
 */

struct server {
    int fd;
    int port;
    const char *reply; /* NULL: accept, then say nothing */
    size_t reply_len;
    char request[16384];
    size_t request_len;
    int connections;
    pthread_t thread;
};

/* Read one request: headers, then Content-Length bytes of body. */
static void read_request(struct server *s, int c)
{
    size_t want = 0;
    bool have_headers = false;
    while (s->request_len < sizeof(s->request) - 1) {
        ssize_t n = read(c, s->request + s->request_len, sizeof(s->request) - 1 - s->request_len);
        if (n <= 0) {
            break;
        }
        s->request_len += (size_t)n;
        s->request[s->request_len] = '\0';
        char *end = strstr(s->request, "\r\n\r\n");
        if (end && !have_headers) {
            const char *cl = strcasestr(s->request, "\r\nContent-Length: ");
            have_headers = true;
            want = (size_t)(end + 4 - s->request) + (cl ? strtoul(cl + 18, NULL, 10) : 0);
        }
        if (have_headers && s->request_len >= want) {
            break;
        }
    }
}

static void *serve(void *arg)
{
    struct server *s = arg;
    int c = accept(s->fd, NULL, NULL);
    if (c < 0) {
        return NULL;
    }
    s->connections++;
    struct timeval tv = {.tv_sec = 5};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    read_request(s, c);
    if (s->reply) {
        for (size_t off = 0; off < s->reply_len;) {
            ssize_t n = write(c, s->reply + off, s->reply_len - off);
            if (n <= 0) {
                break;
            }
            off += (size_t)n;
        }
    } else {
        /* Hold the connection open without answering. */
        char b[16];
        while (read(c, b, sizeof(b)) > 0) {
        }
    }
    close(c);
    return NULL;
}

static int bound_socket(int *ret_port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t alen = sizeof(a);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    *ret_port = ntohs(a.sin_port);
    return fd;
}

static void server_start(struct server *s, const char *reply, size_t reply_len)
{
    memset(s, 0, sizeof(*s));
    s->fd = bound_socket(&s->port);
    assert_int_equal(listen(s->fd, 4), 0);
    s->reply = reply;
    s->reply_len = reply_len;
    assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_join(struct server *s)
{
    /* Unblock an accept() that never came. */
    shutdown(s->fd, SHUT_RDWR);
    pthread_join(s->thread, NULL);
    close(s->fd);
}

static char *url_for(const struct server *s, const char *suffix)
{
    static char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", s->port, suffix);
    return url;
}

static void test_url_rules(void **state)
{
    struct ks_http_client *c = NULL;
    const struct ks_http_opts plain = {.allow_plain_http = true};
    static const char *const refused[] = {
        "http://127.0.0.1:1", "ftp://127.0.0.1", "https://",    "https://a b",
        "file:///etc/passwd", "127.0.0.1:443",   "https://x\n", "",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        assert_int_equal(ks_http_client_new(refused[i], NULL, &c), KS_ERR_INVALID_ARG);
        assert_null(c);
    }
    assert_int_equal(ks_http_client_new("gopher://x", &plain, &c), KS_ERR_INVALID_ARG);
    char long_url[KS_HTTP_URL_MAX + 16];
    memcpy(long_url, "https://", 8);
    memset(long_url + 8, 'a', sizeof(long_url) - 9);
    long_url[sizeof(long_url) - 1] = '\0';
    assert_int_equal(ks_http_client_new(long_url, NULL, &c), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_http_client_new(NULL, NULL, &c), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_http_client_new("https://x", NULL, NULL), KS_ERR_INVALID_ARG);

    assert_int_equal(ks_http_client_new("HTTPS://keys.example:8443", NULL, &c), KS_OK);
    assert_non_null(c);
    ks_http_client_free(c);
    c = NULL;
    assert_int_equal(ks_http_client_new("http://127.0.0.1:1", &plain, &c), KS_OK);
    ks_http_client_free(c);
    ks_http_client_free(NULL);
}

static void test_cacert_unreadable(void **state)
{
    struct ks_http_client *c = NULL;
    const struct ks_http_opts o = {.cacert = "/nonexistent/ca.pem"};
    assert_int_equal(ks_http_client_new("https://127.0.0.1", &o, &c), KS_ERR_IO);
    assert_null(c);
}

static void test_post_roundtrip(void **state)
{
    static const char reply[] = "HTTP/1.1 403 Forbidden\r\n"
                                "Content-Type: application/json\r\n"
                                "Content-Length: 40\r\n"
                                "Connection: close\r\n\r\n"
                                "{\"error\":\"policy_denied\",\"detail\":\"no\"}\n";
    static const char body[] = "{\"keys\":[\"dek\"]}";
    struct server s;
    struct ks_http_client *c = NULL;
    struct ks_http_response resp;
    const struct ks_http_opts o = {.allow_plain_http = true};
    char err[256];
    server_start(&s, reply, sizeof(reply) - 1);
    /* A trailing '/' of the base URL does not double the path's. */
    assert_int_equal(ks_http_client_new(url_for(&s, "/"), &o, &c), KS_OK);
    assert_int_equal(
        ks_http_client_post_json(c, "/v1/release", body, strlen(body), &resp, err, sizeof(err)),
        KS_OK);
    server_join(&s);
    /* Any status is returned as is, with the body. */
    assert_int_equal(resp.status, 403);
    assert_int_equal(resp.len, 40);
    assert_memory_equal(resp.body, "{\"error\":\"policy_denied\",\"detail\":\"no\"}\n", 40);
    assert_int_equal(resp.body[resp.len], '\0');
    /* What was sent. */
    assert_true(strncmp(s.request, "POST /v1/release HTTP/1.1\r\n", 27) == 0);
    assert_non_null(strcasestr(s.request, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strcasestr(s.request, "\r\nAccept: application/json\r\n"));
    assert_null(strcasestr(s.request, "\r\nExpect:"));
    const char *sent = strstr(s.request, "\r\n\r\n");
    assert_non_null(sent);
    assert_string_equal(sent + 4, body);
    ks_http_response_clear(&resp);
    assert_null(resp.body);
    ks_http_response_clear(NULL);
    ks_http_client_free(c);
}

static void test_empty_body(void **state)
{
    static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    struct server s;
    struct ks_http_client *c = NULL;
    struct ks_http_response resp;
    const struct ks_http_opts o = {.allow_plain_http = true};
    server_start(&s, reply, sizeof(reply) - 1);
    assert_int_equal(ks_http_client_new(url_for(&s, ""), &o, &c), KS_OK);
    assert_int_equal(ks_http_client_post_json(c, "/v1/challenge", "{}", 2, &resp, NULL, 0), KS_OK);
    server_join(&s);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.len, 0);
    assert_non_null(resp.body);
    assert_string_equal(resp.body, "");
    ks_http_response_clear(&resp);
    ks_http_client_free(c);
}

/* GET (request-key statements), also on a handle that posted before: two
 * connections to one server. */
static void test_get_roundtrip(void **state)
{
    static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\n"
                                "{\"v\": 1}\n";
    struct server s;
    struct ks_http_client *c = NULL;
    struct ks_http_response resp;
    const struct ks_http_opts o = {.allow_plain_http = true};
    server_start(&s, reply, sizeof(reply) - 1);
    assert_int_equal(ks_http_client_new(url_for(&s, ""), &o, &c), KS_OK);
    assert_int_equal(ks_http_client_post_json(c, "/v1/challenge", "{}", 2, &resp, NULL, 0), KS_OK);
    pthread_join(s.thread, NULL);
    assert_true(strncmp(s.request, "POST /v1/challenge HTTP/1.1\r\n", 29) == 0);
    ks_http_response_clear(&resp);
    s.request_len = 0;
    s.request[0] = '\0';
    assert_int_equal(pthread_create(&s.thread, NULL, serve, &s), 0);
    assert_int_equal(ks_http_client_get(c, "/v1/keys/req/public", &resp, NULL, 0), KS_OK);
    server_join(&s);
    assert_int_equal(s.connections, 2);
    assert_true(strncmp(s.request, "GET /v1/keys/req/public HTTP/1.1\r\n", 34) == 0);
    assert_null(strcasestr(s.request, "\r\nContent-Length:"));
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.len, 9);
    assert_memory_equal(resp.body, "{\"v\": 1}\n", 9);
    ks_http_response_clear(&resp);
    assert_int_equal(ks_http_client_get(c, "no-slash", &resp, NULL, 0), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_http_client_get(NULL, "/x", &resp, NULL, 0), KS_ERR_INVALID_ARG);
    ks_http_client_free(c);
}

/* A body past the cap: refused from Content-Length, and while receiving
 * when there is none (chunked). */
static void test_response_cap(void **state)
{
    char reply[2048];
    struct server s;
    struct ks_http_client *c = NULL;
    struct ks_http_response resp = {0};
    const struct ks_http_opts o = {.allow_plain_http = true, .max_response = 64};
    for (int chunked = 0; chunked < 2; chunked++) {
        int n = snprintf(reply, sizeof(reply), "HTTP/1.1 200 OK\r\nConnection: close\r\n%s\r\n",
                         chunked ? "Transfer-Encoding: chunked\r\n" : "Content-Length: 1000\r\n");
        if (chunked) {
            n += snprintf(reply + n, sizeof(reply) - (size_t)n, "3e8\r\n");
        }
        memset(reply + n, 'x', 1000);
        n += 1000;
        n += snprintf(reply + n, sizeof(reply) - (size_t)n, chunked ? "\r\n0\r\n\r\n" : "");
        server_start(&s, reply, (size_t)n);
        assert_int_equal(ks_http_client_new(url_for(&s, ""), &o, &c), KS_OK);
        assert_int_equal(ks_http_client_post_json(c, "/v1/release", "{}", 2, &resp, NULL, 0),
                         KS_ERR_TOO_LARGE);
        server_join(&s);
        assert_null(resp.body);
        ks_http_client_free(c);
        c = NULL;
    }
    /* Exactly at the cap is fine. */
    int n = snprintf(reply, sizeof(reply),
                     "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 64\r\n\r\n");
    memset(reply + n, 'y', 64);
    server_start(&s, reply, (size_t)n + 64);
    assert_int_equal(ks_http_client_new(url_for(&s, ""), &o, &c), KS_OK);
    assert_int_equal(ks_http_client_post_json(c, "/v1/release", "{}", 2, &resp, NULL, 0), KS_OK);
    server_join(&s);
    assert_int_equal(resp.len, 64);
    ks_http_response_clear(&resp);
    ks_http_client_free(c);
}

/* A redirect is returned, not followed: the evidence goes nowhere else. */
static void test_no_redirect(void **state)
{
    static const char reply[] = "HTTP/1.1 307 Temporary Redirect\r\n"
                                "Location: http://127.0.0.1:1/v1/release\r\n"
                                "Content-Length: 0\r\nConnection: close\r\n\r\n";
    struct server s;
    struct ks_http_client *c = NULL;
    struct ks_http_response resp;
    const struct ks_http_opts o = {.allow_plain_http = true};
    server_start(&s, reply, sizeof(reply) - 1);
    assert_int_equal(ks_http_client_new(url_for(&s, ""), &o, &c), KS_OK);
    assert_int_equal(ks_http_client_post_json(c, "/v1/release", "{}", 2, &resp, NULL, 0), KS_OK);
    server_join(&s);
    assert_int_equal(resp.status, 307);
    assert_int_equal(s.connections, 1);
    ks_http_response_clear(&resp);
    ks_http_client_free(c);
}

static void test_connection_refused(void **state)
{
    int port;
    int fd = bound_socket(&port); /* bound, not listening: connections are refused */
    struct ks_http_client *c = NULL;
    struct ks_http_response resp = {0};
    const struct ks_http_opts o = {.allow_plain_http = true};
    char url[64], err[256] = "";
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    assert_int_equal(ks_http_client_new(url, &o, &c), KS_OK);
    assert_int_equal(ks_http_client_post_json(c, "/v1/challenge", "{}", 2, &resp, err, sizeof(err)),
                     KS_ERR_HTTP_TRANSPORT);
    assert_true(strlen(err) > 0);
    assert_null(resp.body);
    ks_http_client_free(c);
    close(fd);
}

static void test_timeout(void **state)
{
    struct server s;
    struct ks_http_client *c = NULL;
    struct ks_http_response resp = {0};
    const struct ks_http_opts o = {.allow_plain_http = true, .timeout_s = 1};
    server_start(&s, NULL, 0);
    assert_int_equal(ks_http_client_new(url_for(&s, ""), &o, &c), KS_OK);
    assert_int_equal(ks_http_client_post_json(c, "/v1/challenge", "{}", 2, &resp, NULL, 0),
                     KS_ERR_HTTP_TRANSPORT);
    ks_http_client_free(c); /* closes the connection: the server thread ends */
    server_join(&s);
}

static void test_post_invalid_args(void **state)
{
    struct ks_http_client *c = NULL;
    struct ks_http_response resp = {0};
    const struct ks_http_opts o = {.allow_plain_http = true};
    assert_int_equal(ks_http_client_new("http://127.0.0.1:1", &o, &c), KS_OK);
    assert_int_equal(ks_http_client_post_json(c, "v1/x", "{}", 2, &resp, NULL, 0),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_http_client_post_json(c, "/v1/x y", "{}", 2, &resp, NULL, 0),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_http_client_post_json(c, "/v1/x", NULL, 2, &resp, NULL, 0),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_http_client_post_json(c, "/v1/x", "{}", 2, NULL, NULL, 0),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_http_client_post_json(NULL, "/v1/x", "{}", 2, &resp, NULL, 0),
                     KS_ERR_INVALID_ARG);
    ks_http_client_free(c);
}

/* A body of another media type (the CBOR release request): its
 * Content-Type, its bytes as they are (NUL bytes included), and the next
 * request on the same handle is JSON again. */
static void test_post_content_type(void **state)
{
    static const char reply[] = "HTTP/1.1 200 OK\r\n"
                                "Content-Length: 2\r\n"
                                "Connection: close\r\n\r\n"
                                "{}";
    static const uint8_t body[] = {0xa1, 0x64, 'k', 'e', 'y', 's', 0x40, 0x00, 0xff};
    struct server s;
    struct ks_http_client *c = NULL;
    struct ks_http_response resp;
    const struct ks_http_opts o = {.allow_plain_http = true};
    server_start(&s, reply, sizeof(reply) - 1);
    assert_int_equal(ks_http_client_new(url_for(&s, ""), &o, &c), KS_OK);
    assert_int_equal(ks_http_client_post(c, "/v1/release", "application/cbor", body, sizeof(body),
                                         &resp, NULL, 0),
                     KS_OK);
    server_join(&s);
    assert_int_equal(resp.status, 200);
    ks_http_response_clear(&resp);
    assert_non_null(strcasestr(s.request, "\r\nContent-Type: application/cbor\r\n"));
    assert_null(strcasestr(s.request, "application/json\r\nContent-Type"));
    assert_null(strcasestr(s.request, "Content-Type: application/json"));
    assert_non_null(strcasestr(s.request, "\r\nAccept: application/json\r\n"));
    assert_non_null(strcasestr(s.request, "\r\nContent-Length: 9\r\n"));
    assert_null(strcasestr(s.request, "\r\nExpect:"));
    const char *sent = strstr(s.request, "\r\n\r\n");
    assert_non_null(sent);
    assert_int_equal(s.request + s.request_len - (sent + 4), sizeof(body));
    assert_memory_equal(sent + 4, body, sizeof(body));

    /* A media type with parameters. */
    server_start(&s, reply, sizeof(reply) - 1);
    ks_http_client_free(c);
    c = NULL;
    assert_int_equal(ks_http_client_new(url_for(&s, ""), &o, &c), KS_OK);
    assert_int_equal(
        ks_http_client_post(c, "/v1/x", "text/plain; charset=utf-8", "a", 1, &resp, NULL, 0),
        KS_OK);
    ks_http_response_clear(&resp);
    server_join(&s);
    assert_non_null(strcasestr(s.request, "\r\nContent-Type: text/plain; charset=utf-8\r\n"));
    ks_http_client_free(c);
}

/* One handle, two requests: after the CBOR one, the client's own JSON
 * headers are back (the reply says close, so the second request comes on
 * a new connection to the same listening socket). */
static void test_post_content_type_then_json(void **state)
{
    static const char reply[] = "HTTP/1.1 200 OK\r\n"
                                "Content-Length: 2\r\n"
                                "Connection: close\r\n\r\n"
                                "{}";
    struct server s;
    struct ks_http_client *c = NULL;
    struct ks_http_response resp;
    const struct ks_http_opts o = {.allow_plain_http = true};
    server_start(&s, reply, sizeof(reply) - 1);
    assert_int_equal(ks_http_client_new(url_for(&s, ""), &o, &c), KS_OK);
    assert_int_equal(
        ks_http_client_post(c, "/v1/release", "application/cbor", "\xa0", 1, &resp, NULL, 0),
        KS_OK);
    ks_http_response_clear(&resp);
    pthread_join(s.thread, NULL);
    assert_non_null(strcasestr(s.request, "\r\nContent-Type: application/cbor\r\n"));
    /* Serve the second request on the same listening socket. */
    s.request_len = 0;
    memset(s.request, 0, sizeof(s.request));
    assert_int_equal(pthread_create(&s.thread, NULL, serve, &s), 0);
    assert_int_equal(ks_http_client_post_json(c, "/v1/challenge", "{}", 2, &resp, NULL, 0), KS_OK);
    ks_http_response_clear(&resp);
    server_join(&s);
    assert_int_equal(s.connections, 2);
    assert_non_null(strcasestr(s.request, "\r\nContent-Type: application/json\r\n"));
    assert_null(strcasestr(s.request, "application/cbor"));
    ks_http_client_free(c);
}

static void test_post_content_type_invalid(void **state)
{
    struct ks_http_client *c = NULL;
    struct ks_http_response resp = {0};
    const struct ks_http_opts o = {.allow_plain_http = true};
    char long_type[KS_HTTP_CONTENT_TYPE_MAX + 2];
    memset(long_type, 'a', sizeof(long_type) - 1);
    long_type[sizeof(long_type) - 1] = '\0';
    /* Port 1: a request that got past the checks would fail otherwise. */
    assert_int_equal(ks_http_client_new("http://127.0.0.1:1", &o, &c), KS_OK);
    static const char *const refused[] = {"", "application/cbor\r\nX-Injected: 1",
                                          "application/cbor\n", "a\x7f", "a\tb"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        assert_int_equal(ks_http_client_post(c, "/v1/x", refused[i], "a", 1, &resp, NULL, 0),
                         KS_ERR_INVALID_ARG);
    }
    assert_int_equal(ks_http_client_post(c, "/v1/x", long_type, "a", 1, &resp, NULL, 0),
                     KS_ERR_INVALID_ARG);
    long_type[KS_HTTP_CONTENT_TYPE_MAX] = '\0'; /* the longest accepted */
    assert_int_equal(ks_http_client_post(c, "/v1/x", long_type, "a", 1, &resp, NULL, 0),
                     KS_ERR_HTTP_TRANSPORT);
    assert_int_equal(ks_http_client_post(c, "/v1/x", NULL, "a", 1, &resp, NULL, 0),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_http_client_post(c, "/v1/x", "application/cbor", NULL, 1, &resp, NULL, 0),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_http_client_post(c, "v1/x", "application/cbor", "a", 1, &resp, NULL, 0),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_http_client_post(c, "/v1/x", "application/cbor", "a", 1, NULL, NULL, 0),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_http_client_post(NULL, "/v1/x", "application/cbor", "a", 1, &resp, NULL, 0),
                     KS_ERR_INVALID_ARG);
    assert_null(resp.body);
    ks_http_client_free(c);
}

static int global_setup(void **state)
{
    return ks_http_global_init() == KS_OK ? 0 : -1;
}

static int global_teardown(void **state)
{
    ks_http_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_rules),
        cmocka_unit_test(test_cacert_unreadable),
        cmocka_unit_test(test_post_roundtrip),
        cmocka_unit_test(test_empty_body),
        cmocka_unit_test(test_response_cap),
        cmocka_unit_test(test_no_redirect),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_post_invalid_args),
        cmocka_unit_test(test_get_roundtrip),
        cmocka_unit_test(test_post_content_type),
        cmocka_unit_test(test_post_content_type_then_json),
        cmocka_unit_test(test_post_content_type_invalid),
    };
    return cmocka_run_group_tests(tests, global_setup, global_teardown);
}
