/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "keyserverd/log.h"
#include "keyserverd/server.h"
#include "keyserverd/server_internal.h"

/*
 * The daemon: libmicrohttpd setup, connection bookkeeping, the TLS
 * certificate callback, the port file and the graceful stop. Requests
 * themselves are handled in request.c.
 */

/* TLS 1.3 and 1.2 only, AEAD ciphers with ECDHE (forward secrecy), the
 * server's preference first. */
#define KS_TLS_PRIORITIES                                                                          \
    "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:"         \
    "+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE"

/* Per connection (MHD socket context): the TLS credentials its handshake
 * took, released when it closes. */
struct conn {
    struct ks_server *srv;
    struct ks_tls_creds *creds;
};

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct ks_server *srv = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add(&srv->ctx->connections, 1);
        struct conn *cn = calloc(1, sizeof(*cn));
        if (cn) {
            cn->srv = srv;
        }
        *socket_context = cn; /* NULL: the certificate callback refuses */
        return;
    }
    struct conn *cn = *socket_context;
    if (cn) {
        ks_tls_release(cn->creds);
        free(cn);
        *socket_context = NULL;
    }
    atomic_fetch_sub(&srv->ctx->connections, 1);
}

/*
 * gnutls_certificate_retrieve_function2: hand out the current credentials
 * and keep a reference for the life of the connection. GnuTLS gives the
 * callback no user pointer; libmicrohttpd sets the session pointer to its
 * connection (daemon.c, gnutls_session_set_ptr(connection->tls_session,
 * connection)), whose socket context leads back to the server.
 */
static int cert_callback(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                         const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                         gnutls_pcert_st **pcert, unsigned int *pcert_length,
                         gnutls_privkey_t *privkey)
{
    struct MHD_Connection *c = gnutls_session_get_ptr(session);
    const union MHD_ConnectionInfo *ci =
        c ? MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT) : NULL;
    struct conn *cn = ci ? ci->socket_context : NULL;
    if (!cn || !cn->srv->tls) {
        return -1; /* fail the handshake */
    }
    if (!cn->creds) {
        cn->creds = ks_tls_acquire(cn->srv->tls);
    }
    ks_tls_creds_get(cn->creds, pcert, pcert_length, privkey);
    return 0;
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    struct ks_server *srv = cls;
    char buf[512];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
        buf[--n] = '\0';
    }
    ks_log(srv->ctx->log, LOG_WARNING, "libmicrohttpd: %s", buf);
}

static int listen_addr(const struct ks_config *cfg, struct sockaddr_storage *ss, bool *ret_v6)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *in = (struct sockaddr_in *)(void *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)ss;
    if (inet_pton(AF_INET, cfg->listen_host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(cfg->listen_port);
        *ret_v6 = false;
        return KS_OK;
    }
    if (inet_pton(AF_INET6, cfg->listen_host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(cfg->listen_port);
        *ret_v6 = true;
        return KS_OK;
    }
    return KS_ERR_CONFIG;
}

int ks_server_start(struct ks_server_ctx *ctx, struct ks_tls *tls, struct ks_server **ret)
{
    const struct ks_config *cfg = ctx ? ctx->cfg : NULL;
    struct sockaddr_storage ss;
    bool v6 = false;
    if (!ctx || !ret || (!tls && !cfg->plain_http)) {
        return KS_ERR_INVALID_ARG;
    }
    if (listen_addr(cfg, &ss, &v6) != KS_OK) {
        return KS_ERR_CONFIG;
    }
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES) {
        flags |= MHD_USE_EPOLL;
    } else if (MHD_is_feature_supported(MHD_FEATURE_POLL) == MHD_YES) {
        flags |= MHD_USE_POLL;
    }
    if (v6) {
        flags |= MHD_USE_IPv6;
    }
    struct MHD_OptionItem opts[4];
    size_t n = 0;
    if (!cfg->plain_http) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES ||
            MHD_is_feature_supported(MHD_FEATURE_HTTPS_CERT_CALLBACK) != MHD_YES) {
            return KS_ERR_UNSUPPORTED;
        }
        flags |= MHD_USE_TLS;
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
                                            (void *)(uintptr_t)KS_TLS_PRIORITIES};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_CERT_CALLBACK, 0,
                                            (void *)(uintptr_t)cert_callback};
    }
    /* Each worker of the pool gets max_connections / threads. */
    unsigned threads = cfg->threads < cfg->max_connections ? cfg->threads : cfg->max_connections;
    if (threads > 1) {
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)threads, NULL};
    }
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

    struct ks_server *srv = calloc(1, sizeof(*srv));
    if (!srv) {
        return KS_ERR_NOMEM;
    }
    srv->ctx = ctx;
    srv->tls = cfg->plain_http ? NULL : tls;
    /* The logger first, so that libmicrohttpd reports option errors there. */
    srv->daemon = MHD_start_daemon(
        flags, cfg->listen_port, NULL, NULL, ks_request_handle, srv, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_logger, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)cfg->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)cfg->connection_timeout, MHD_OPTION_NOTIFY_COMPLETED, ks_request_completed,
        srv, MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv, MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
        MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!srv->daemon) {
        free(srv);
        return KS_ERR_IO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : cfg->listen_port;
    if (srv->port == 0) {
        ks_server_stop(srv, 0);
        return KS_ERR_IO;
    }
    *ret = srv;
    return KS_OK;
}

uint16_t ks_server_port(const struct ks_server *srv)
{
    return srv ? srv->port : 0;
}

int ks_server_write_port_file(const struct ks_server *srv, const char *path)
{
    char tmp[4096];
    char text[16];
    if (!srv || !path) {
        return KS_ERR_INVALID_ARG;
    }
    /* MHD_start_daemon has bound and listened and its threads run: the
     * port accepts connections by now. Rename so readers never see a
     * partial file. */
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp)) {
        return KS_ERR_INVALID_ARG;
    }
    int len = snprintf(text, sizeof(text), "%u\n", (unsigned)srv->port);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return KS_ERR_IO;
    }
    bool ok = write(fd, text, (size_t)len) == len;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return KS_ERR_IO;
    }
    return KS_OK;
}

void ks_server_stop(struct ks_server *srv, unsigned grace_s)
{
    if (!srv) {
        return;
    }
    atomic_store(&srv->ctx->draining, true);
    MHD_socket fd = MHD_quiesce_daemon(srv->daemon);
    uint64_t deadline = ks_state_monotonic_us() + (uint64_t)grace_s * 1000000u;
    while (atomic_load(&srv->ctx->in_flight) > 0 && ks_state_monotonic_us() < deadline) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    unsigned left = atomic_load(&srv->ctx->in_flight);
    if (left > 0) {
        ks_log(srv->ctx->log, LOG_WARNING, "stopping with %u request(s) unfinished after %u s",
               left, grace_s);
    }
    MHD_stop_daemon(srv->daemon);
    if (fd != MHD_INVALID_SOCKET) {
        close(fd);
    }
    free(srv);
}
