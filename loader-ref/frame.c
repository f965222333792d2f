/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"

void ks_frame_header_encode(uint32_t len, uint8_t out[KS_FRAME_HEADER_LEN])
{
    out[0] = (uint8_t)(len >> 24);
    out[1] = (uint8_t)(len >> 16);
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
}

int ks_frame_header_decode(const uint8_t hdr[KS_FRAME_HEADER_LEN], size_t max, size_t *ret_len)
{
    if (!hdr || !ret_len) {
        return KS_ERR_INVALID_ARG;
    }
    uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    if (n == 0 || n > max) {
        return KS_ERR_FRAME;
    }
    *ret_len = n;
    return KS_OK;
}

static int wait_for(int fd, short events, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    for (;;) {
        int n = poll(&p, 1, timeout_ms);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        return n > 0 ? KS_OK : KS_ERR_IO;
    }
}

/* Read exactly len bytes. *ret_got says how many arrived before an EOF. */
static int read_full(int fd, uint8_t *buf, size_t len, int timeout_ms, size_t *ret_got)
{
    size_t off = 0;
    int r = KS_OK;
    while (off < len) {
        /* Poll first: a blocking descriptor would not honour the timeout. */
        r = wait_for(fd, POLLIN, timeout_ms);
        if (r != KS_OK) {
            break;
        }
        ssize_t n = read(fd, buf + off, len - off);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n == 0) {
            r = KS_ERR_NOT_FOUND;
            break;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            r = KS_ERR_IO;
            break;
        }
    }
    *ret_got = off;
    return r;
}

int ks_frame_read(int fd, size_t max, int timeout_ms, uint8_t **ret, size_t *ret_len)
{
    uint8_t hdr[KS_FRAME_HEADER_LEN];
    size_t len = 0, got = 0;
    if (fd < 0 || !ret || !ret_len) {
        return KS_ERR_INVALID_ARG;
    }
    int r = read_full(fd, hdr, sizeof(hdr), timeout_ms, &got);
    if (r == KS_ERR_NOT_FOUND && got > 0) {
        return KS_ERR_FRAME;
    }
    if (r != KS_OK) {
        return r;
    }
    r = ks_frame_header_decode(hdr, max, &len);
    if (r != KS_OK) {
        return r;
    }
    uint8_t *buf = malloc(len + 1);
    if (!buf) {
        return KS_ERR_NOMEM;
    }
    r = read_full(fd, buf, len, timeout_ms, &got);
    if (r != KS_OK) {
        free(buf);
        return r == KS_ERR_NOT_FOUND ? KS_ERR_FRAME : r;
    }
    buf[len] = '\0';
    *ret = buf;
    *ret_len = len;
    return KS_OK;
}

static int write_full(int fd, const uint8_t *p, size_t len, int timeout_ms)
{
    size_t off = 0;
    while (off < len) {
        if (wait_for(fd, POLLOUT, timeout_ms) != KS_OK) {
            return KS_ERR_IO;
        }
        /* MSG_NOSIGNAL: a peer that went away is an error, not SIGPIPE. */
        ssize_t n = send(fd, p + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK) {
            n = write(fd, p + off, len - off);
        }
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            continue;
        }
        return KS_ERR_IO;
    }
    return KS_OK;
}

int ks_frame_write(int fd, const uint8_t *payload, size_t len, int timeout_ms)
{
    uint8_t hdr[KS_FRAME_HEADER_LEN];
    if (fd < 0 || !payload || len == 0) {
        return KS_ERR_INVALID_ARG;
    }
    if (len > KS_FRAME_MAX) {
        return KS_ERR_TOO_LARGE;
    }
    ks_frame_header_encode((uint32_t)len, hdr);
    int r = write_full(fd, hdr, sizeof(hdr), timeout_ms);
    if (r == KS_OK) {
        r = write_full(fd, payload, len, timeout_ms);
    }
    return r;
}
