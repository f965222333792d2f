/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "loader_server.h"
#include "proto.h"

/* Responses queued but not yet read by a client: stop reading its
 * requests beyond this (back-pressure). */
#define OUT_HIGH_WATER (4u * 1024 * 1024)

struct conn {
    int fd;
    uint8_t *in;
    size_t in_len;
    uint8_t *out;
    size_t out_len, out_off, out_cap;
    time_t last;
    bool closing; /* close once out is flushed */
};

static uint64_t now_s(void)
{
    return (uint64_t)time(NULL);
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logf_(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ks-loader: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* A socket file nobody listens on is left by a loader that died: replace
 * it. Anything else at the path is not ours to remove. */
static int clear_stale(const char *path, const struct sockaddr_un *a)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        return errno == ENOENT ? KS_OK : KS_ERR_IO;
    }
    if (!S_ISSOCK(st.st_mode)) {
        logf_("%s exists and is not a socket", path);
        return KS_ERR_IO;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return KS_ERR_IO;
    }
    int c = connect(fd, (const struct sockaddr *)a, sizeof(*a));
    int e = errno;
    close(fd);
    if (c == 0 || e != ECONNREFUSED) {
        logf_("%s is in use by another process", path);
        return KS_ERR_IO;
    }
    return unlink(path) == 0 ? KS_OK : KS_ERR_IO;
}

static int listen_on(const struct ks_loader_server_config *cfg, int *ret_fd)
{
    struct sockaddr_un a;
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    if (strlen(cfg->path) >= sizeof(a.sun_path)) {
        logf_("socket path too long: %s", cfg->path);
        return KS_ERR_INVALID_ARG;
    }
    strcpy(a.sun_path, cfg->path);
    int r = clear_stale(cfg->path, &a);
    if (r != KS_OK) {
        return r;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return KS_ERR_IO;
    }
    /* Bind under a umask that leaves no window with wider permissions. */
    mode_t old = umask(0777 & ~cfg->mode);
    int b = bind(fd, (const struct sockaddr *)&a, sizeof(a));
    umask(old);
    if (b != 0 || chmod(cfg->path, cfg->mode) != 0 || listen(fd, 64) != 0) {
        logf_("cannot listen on %s: %s", cfg->path, strerror(errno));
        close(fd);
        return KS_ERR_IO;
    }
    *ret_fd = fd;
    return KS_OK;
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    free(c->in);
    free(c->out);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

static int queue(struct conn *c, const uint8_t *payload, size_t len)
{
    size_t need = KS_FRAME_HEADER_LEN + len;
    if (c->out_off == c->out_len) {
        c->out_off = c->out_len = 0;
    }
    if (c->out_len + need > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + need) {
            cap *= 2;
        }
        uint8_t *p = realloc(c->out, cap);
        if (!p) {
            return KS_ERR_NOMEM;
        }
        c->out = p;
        c->out_cap = cap;
    }
    ks_frame_header_encode((uint32_t)len, c->out + c->out_len);
    memcpy(c->out + c->out_len + KS_FRAME_HEADER_LEN, payload, len);
    c->out_len += need;
    return KS_OK;
}

/* Handle every complete frame in c->in. */
static void process(struct conn *c, struct ks_loader_ops *ops)
{
    while (!c->closing && c->in_len >= KS_FRAME_HEADER_LEN) {
        size_t n = 0;
        uint8_t *resp = NULL;
        size_t resp_len = 0;
        int refused = KS_OK;
        if (ks_frame_header_decode(c->in, KS_FRAME_MAX, &n) != KS_OK) {
            if (ks_loader_ops_frame_error(ops, KS_ERR_FRAME, now_s(), &resp, &resp_len) == KS_OK) {
                (void)queue(c, resp, resp_len);
            }
            free(resp);
            logf_("refused: bad_frame (connection closed)");
            c->closing = true;
            c->in_len = 0;
            return;
        }
        if (c->in_len - KS_FRAME_HEADER_LEN < n) {
            return; /* not complete yet */
        }
        int r = ks_loader_ops_handle(ops, c->in + KS_FRAME_HEADER_LEN, n, now_s(), &resp, &resp_len,
                                     &refused);
        if (r == KS_OK) {
            r = queue(c, resp, resp_len);
        }
        free(resp);
        if (r != KS_OK) {
            logf_("cannot answer a request: %s (connection closed)", ks_strerror(r));
            c->closing = true;
            return;
        }
        if (refused != KS_OK) {
            logf_("refused: %s (%s)", ks_proto_error_code(refused), ks_strerror(refused));
        }
        memmove(c->in, c->in + KS_FRAME_HEADER_LEN + n, c->in_len - KS_FRAME_HEADER_LEN - n);
        c->in_len -= KS_FRAME_HEADER_LEN + n;
    }
}

static void on_readable(struct conn *c, struct ks_loader_ops *ops)
{
    size_t cap = KS_FRAME_HEADER_LEN + KS_FRAME_MAX;
    if (!c->in) {
        c->in = malloc(cap);
        if (!c->in) {
            conn_close(c);
            return;
        }
    }
    ssize_t n = read(c->fd, c->in + c->in_len, cap - c->in_len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
    }
    if (n <= 0) {
        /* The peer is done: answer what is complete, then close. */
        c->closing = true;
        if (c->out_off == c->out_len) {
            conn_close(c);
        }
        return;
    }
    c->in_len += (size_t)n;
    c->last = time(NULL);
    process(c, ops);
}

static void on_writable(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        if (n <= 0) {
            conn_close(c);
            return;
        }
        c->out_off += (size_t)n;
        c->last = time(NULL);
    }
    if (c->closing) {
        conn_close(c);
    }
}

static int signal_fd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
        return -1;
    }
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void accept_one(int lfd, struct conn *conns, unsigned max)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        return;
    }
    for (unsigned i = 0; i < max; i++) {
        if (conns[i].fd < 0) {
            conns[i].fd = fd;
            conns[i].last = time(NULL);
            return;
        }
    }
    close(fd); /* not reached: the listener is not polled when full */
}

int ks_loader_serve(const struct ks_loader_server_config *cfg, struct ks_loader_ops *ops,
                    void (*ready)(void *ctx), void *ready_ctx)
{
    int lfd = -1, sfd = -1;
    struct conn *conns = NULL;
    struct pollfd *pfd = NULL;
    if (!cfg || !cfg->path || !ops || cfg->max_connections == 0) {
        return KS_ERR_INVALID_ARG;
    }
    sfd = signal_fd();
    if (sfd < 0) {
        return KS_ERR_IO;
    }
    int r = listen_on(cfg, &lfd);
    if (r != KS_OK) {
        close(sfd);
        return r;
    }
    unsigned max = cfg->max_connections;
    conns = calloc(max, sizeof(*conns));
    pfd = calloc(max + 2, sizeof(*pfd));
    if (!conns || !pfd) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    for (unsigned i = 0; i < max; i++) {
        conns[i].fd = -1;
    }
    if (ready) {
        ready(ready_ctx);
    }
    for (;;) {
        unsigned open_n = 0;
        pfd[0] = (struct pollfd){.fd = sfd, .events = POLLIN};
        pfd[1] = (struct pollfd){.fd = lfd, .events = POLLIN};
        for (unsigned i = 0; i < max; i++) {
            struct conn *c = &conns[i];
            pfd[2 + i] = (struct pollfd){.fd = c->fd};
            if (c->fd < 0) {
                continue;
            }
            open_n++;
            bool backlog = c->out_len - c->out_off > OUT_HIGH_WATER;
            pfd[2 + i].events = (short)((c->closing || backlog ? 0 : POLLIN) |
                                        (c->out_off < c->out_len ? POLLOUT : 0));
        }
        if (open_n == max) {
            pfd[1].fd = -1; /* full: new clients wait in the backlog */
        }
        int n = poll(pfd, max + 2, 1000);
        if (n < 0 && errno != EINTR) {
            r = KS_ERR_IO;
            break;
        }
        if (pfd[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                logf_("signal %u: stopping", si.ssi_signo);
                r = KS_OK;
                break;
            }
        }
        if (pfd[1].revents & POLLIN) {
            accept_one(lfd, conns, max);
        }
        time_t t = time(NULL);
        for (unsigned i = 0; i < max; i++) {
            struct conn *c = &conns[i];
            short ev = pfd[2 + i].revents;
            if (c->fd < 0 || pfd[2 + i].fd != c->fd) {
                continue;
            }
            if (ev & (POLLERR | POLLNVAL)) {
                conn_close(c);
                continue;
            }
            if (ev & (POLLIN | POLLHUP)) {
                on_readable(c, ops);
            }
            if (c->fd >= 0 && (ev & POLLOUT || (c->closing && c->out_off == c->out_len))) {
                on_writable(c);
            }
            if (c->fd >= 0 && t - c->last > (time_t)cfg->idle_timeout) {
                conn_close(c);
            }
        }
    }
out:
    for (unsigned i = 0; conns && i < max; i++) {
        if (conns[i].fd >= 0) {
            conn_close(&conns[i]);
        }
    }
    free(conns);
    free(pfd);
    close(lfd);
    close(sfd);
    unlink(cfg->path);
    return r;
}
