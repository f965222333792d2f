/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include <sys/socket.h>
#include <unistd.h>

#include "loader-ref/frame.h"

/* Framing over a socketpair: lengths, clean and unclean ends, caps,
 * timeouts. */

static void pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static void put(int fd, const void *p, size_t n)
{
    assert_int_equal(write(fd, p, n), (ssize_t)n);
}

static void test_header(void **state)
{
    (void)state;
    uint8_t h[4];
    size_t n = 0;
    ks_frame_header_encode(0x01020304, h);
    assert_memory_equal(h, "\1\2\3\4", 4);
    assert_int_equal(ks_frame_header_decode(h, 0x01020304, &n), KS_OK);
    assert_int_equal(n, 0x01020304);
    assert_int_equal(ks_frame_header_decode(h, 0x01020303, &n), KS_ERR_FRAME);
    memset(h, 0, 4);
    assert_int_equal(ks_frame_header_decode(h, 100, &n), KS_ERR_FRAME);
    assert_int_equal(ks_frame_header_decode(NULL, 100, &n), KS_ERR_INVALID_ARG);
}

static void test_roundtrip(void **state)
{
    (void)state;
    int sv[2];
    uint8_t *p = NULL;
    size_t n = 0;
    pair(sv);
    assert_int_equal(ks_frame_write(sv[0], (const uint8_t *)"{\"op\":\"stats\"}", 14, 1000), KS_OK);
    assert_int_equal(ks_frame_write(sv[0], (const uint8_t *)"x", 1, 1000), KS_OK);
    /* What went on the wire. */
    uint8_t raw[4];
    assert_int_equal(read(sv[1], raw, 4), 4);
    assert_memory_equal(raw, "\0\0\0\x0e", 4);
    uint8_t body[14];
    assert_int_equal(read(sv[1], body, 14), 14);
    assert_memory_equal(body, "{\"op\":\"stats\"}", 14);
    assert_int_equal(ks_frame_read(sv[1], 100, 1000, &p, &n), KS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(p[0], 'x');
    assert_int_equal(p[1], '\0');
    free(p);
    /* The peer closes between frames: no more frames. */
    close(sv[0]);
    assert_int_equal(ks_frame_read(sv[1], 100, 1000, &p, &n), KS_ERR_NOT_FOUND);
    close(sv[1]);
}

static void test_bad_frames(void **state)
{
    (void)state;
    int sv[2];
    uint8_t *p = NULL;
    size_t n = 0;
    /* Longer than the cap. */
    pair(sv);
    put(sv[0], "\0\0\0\x65", 4);
    assert_int_equal(ks_frame_read(sv[1], 100, 1000, &p, &n), KS_ERR_FRAME);
    close(sv[0]);
    close(sv[1]);
    /* Zero length. */
    pair(sv);
    put(sv[0], "\0\0\0\0", 4);
    assert_int_equal(ks_frame_read(sv[1], 100, 1000, &p, &n), KS_ERR_FRAME);
    close(sv[0]);
    close(sv[1]);
    /* Closed inside the header, inside the payload. */
    pair(sv);
    put(sv[0], "\0\0", 2);
    close(sv[0]);
    assert_int_equal(ks_frame_read(sv[1], 100, 1000, &p, &n), KS_ERR_FRAME);
    close(sv[1]);
    pair(sv);
    put(sv[0],
        "\0\0\0\x05"
        "abc",
        7);
    close(sv[0]);
    assert_int_equal(ks_frame_read(sv[1], 100, 1000, &p, &n), KS_ERR_FRAME);
    close(sv[1]);
    /* Nothing arrives in time. */
    pair(sv);
    put(sv[0], "\0\0\0\x05", 4);
    assert_int_equal(ks_frame_read(sv[1], 100, 50, &p, &n), KS_ERR_IO);
    close(sv[0]);
    close(sv[1]);
    assert_null(p);
    /* Writes: empty, too large, a closed peer. */
    pair(sv);
    assert_int_equal(ks_frame_write(sv[0], (const uint8_t *)"x", 0, 1000), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_frame_write(sv[0], (const uint8_t *)"x", KS_FRAME_MAX + 1, 1000),
                     KS_ERR_TOO_LARGE);
    close(sv[1]);
    assert_int_equal(ks_frame_write(sv[0], (const uint8_t *)"x", 1, 1000), KS_ERR_IO);
    close(sv[0]);
    assert_int_equal(ks_frame_read(-1, 100, 1000, &p, &n), KS_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_bad_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
