/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frame.h"

/*
 * ks-relay: stands for the untrusted API and inference servers of the
 * reference deployment (man ks-loader(8), "KS-RELAY"). It accepts TCP
 * connections on 127.0.0.1 and forwards frames, unchanged and unparsed,
 * between each one and its own connection to the loader's UNIX socket,
 * logging what such a server can see: sizes. One process per connection.
 */

#define IO_TIMEOUT_MS 300000

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logf_(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ks-relay: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: ks-relay --listen 127.0.0.1:PORT --socket PATH [--port-file FILE]\n\n"
               "Forward length-prefixed frames between TCP clients and the loader's UNIX\n"
               "socket without reading them, logging their sizes (the untrusted relay).\n\n"
               "  --listen ADDR:PORT  where to listen (PORT 0: any free port)\n"
               "  --socket PATH       the loader's socket\n"
               "  --port-file FILE    write the bound port there once listening\n"
               "  --help              this text\n");
}

static int listen_tcp(const char *spec, int *ret_fd, unsigned *ret_port)
{
    char host[64];
    const char *colon = strrchr(spec, ':');
    if (!colon || (size_t)(colon - spec) >= sizeof(host)) {
        return -1;
    }
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    char *end = NULL;
    unsigned long port = strtoul(colon + 1, &end, 10);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (*end || port > 65535 || inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    socklen_t alen = sizeof(a);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
        logf_("cannot listen on %s: %s", spec, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    *ret_fd = fd;
    *ret_port = ntohs(a.sin_port);
    return 0;
}

static int connect_unix(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(a.sun_path)) {
        return -1;
    }
    strcpy(a.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* One client: request frame in, to the loader, response frame back. */
static int relay(int client, const char *path, unsigned id)
{
    int loader = connect_unix(path);
    if (loader < 0) {
        logf_("#%u: cannot reach the loader at %s: %s", id, path, strerror(errno));
        return 1;
    }
    unsigned n = 0;
    for (;; n++) {
        uint8_t *req = NULL, *resp = NULL;
        size_t req_len = 0, resp_len = 0;
        int r = ks_frame_read(client, KS_FRAME_MAX, IO_TIMEOUT_MS, &req, &req_len);
        if (r == KS_ERR_NOT_FOUND) {
            break; /* the client is done */
        }
        if (r != KS_OK) {
            logf_("#%u: bad frame from the client: %s", id, ks_strerror(r));
            break;
        }
        r = ks_frame_write(loader, req, req_len, IO_TIMEOUT_MS);
        if (r == KS_OK) {
            r = ks_frame_read(loader, KS_FRAME_MAX, IO_TIMEOUT_MS, &resp, &resp_len);
        }
        if (r == KS_OK) {
            r = ks_frame_write(client, resp, resp_len, IO_TIMEOUT_MS);
        }
        if (r == KS_OK) {
            logf_("#%u.%u: request %zu bytes -> response %zu bytes", id, n, req_len, resp_len);
        } else {
            logf_("#%u.%u: request %zu bytes: %s", id, n, req_len, ks_strerror(r));
        }
        free(req);
        free(resp);
        if (r != KS_OK) {
            break;
        }
    }
    close(loader);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"socket", required_argument, NULL, 's'},
        {"port-file", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *listen_spec = NULL, *path = NULL, *port_file = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            listen_spec = optarg;
            break;
        case 's':
            path = optarg;
            break;
        case 'p':
            port_file = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!listen_spec || !path || optind != argc) {
        usage(stderr);
        return 2;
    }
    int lfd = -1;
    unsigned port = 0;
    if (listen_tcp(listen_spec, &lfd, &port) != 0) {
        logf_("--listen: expected IPV4:PORT that can be bound");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel */
    if (port_file) {
        FILE *f = fopen(port_file, "we");
        if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0) {
            logf_("cannot write %s", port_file);
            return 3;
        }
    }
    logf_("listening on port %u, forwarding to %s", port, path);
    for (unsigned id = 1;; id++) {
        int client = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (client < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            logf_("accept: %s", strerror(errno));
            return 3;
        }
        pid_t pid = fork();
        if (pid == 0) {
            close(lfd);
            int rc = relay(client, path, id);
            close(client);
            _exit(rc);
        }
        if (pid < 0) {
            logf_("fork: %s", strerror(errno));
        }
        close(client);
    }
}
