/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include "keyserverd/ratelimit.h"

#define S 1000000ULL /* one second in microseconds */
#define T0 (1000 * S)

static struct sockaddr_storage v4(const char *s)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, s, &in->sin_addr), 1);
    return ss;
}

static struct sockaddr_storage v6(const char *s)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    in6->sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, s, &in6->sin6_addr), 1);
    return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

/* Take tokens until refused; returns how many were granted (<= limit). */
static unsigned drain(struct ks_ratelimit *rl, const struct sockaddr *sa, uint64_t now,
                      unsigned limit)
{
    unsigned n = 0;
    while (n < limit && ks_ratelimit_take(rl, sa, now) == KS_OK) {
        n++;
    }
    return n;
}

static void test_burst_then_refill(void **state)
{
    struct ks_ratelimit *rl = NULL;
    assert_int_equal(ks_ratelimit_new(10, 5, 64, &rl), KS_OK);
    struct sockaddr_storage a = v4("192.0.2.1");
    /* A new client has the full burst. */
    assert_int_equal(drain(rl, SA(a), T0, 100), 5);
    assert_int_equal(ks_ratelimit_take(rl, SA(a), T0), KS_ERR_RATE_LIMITED);
    /* 10/s: one token per 100 ms, none before. */
    assert_int_equal(ks_ratelimit_take(rl, SA(a), T0 + 99999), KS_ERR_RATE_LIMITED);
    assert_int_equal(ks_ratelimit_take(rl, SA(a), T0 + 100000), KS_OK);
    assert_int_equal(ks_ratelimit_take(rl, SA(a), T0 + 100000), KS_ERR_RATE_LIMITED);
    /* Half a second: 5 tokens, capped at the burst after a long pause. */
    assert_int_equal(drain(rl, SA(a), T0 + 600000, 100), 5);
    assert_int_equal(drain(rl, SA(a), T0 + 3600 * S, 100), 5);
    ks_ratelimit_free(rl);
}

static void test_clients_independent(void **state)
{
    struct ks_ratelimit *rl = NULL;
    assert_int_equal(ks_ratelimit_new(1, 2, 1024, &rl), KS_OK);
    struct sockaddr_storage a = v4("192.0.2.1"), b = v4("192.0.2.2");
    assert_int_equal(drain(rl, SA(a), T0, 10), 2);
    assert_int_equal(drain(rl, SA(b), T0, 10), 2);
    assert_int_equal(ks_ratelimit_count(rl), 2);
    ks_ratelimit_free(rl);
}

/* IPv6 clients share their /64; IPv4-mapped IPv6 is the IPv4 client. */
static void test_ipv6_grouping(void **state)
{
    struct ks_ratelimit *rl = NULL;
    assert_int_equal(ks_ratelimit_new(1, 3, 1024, &rl), KS_OK);
    struct sockaddr_storage a = v6("2001:db8:1:2::1"), b = v6("2001:db8:1:2:ffff::9"),
                            c = v6("2001:db8:1:3::1");
    assert_int_equal(drain(rl, SA(a), T0, 2), 2);
    assert_int_equal(drain(rl, SA(b), T0, 10), 1); /* same /64: one left */
    assert_int_equal(drain(rl, SA(c), T0, 10), 3); /* another /64 */
    struct sockaddr_storage m = v6("::ffff:192.0.2.7"), p = v4("192.0.2.7"),
                            q = v6("::ffff:192.0.2.8");
    assert_int_equal(drain(rl, SA(m), T0, 2), 2);
    assert_int_equal(drain(rl, SA(p), T0, 10), 1);
    assert_int_equal(drain(rl, SA(q), T0, 10), 3); /* mapped: full address, not /64 */
    ks_ratelimit_free(rl);
}

static void test_disabled(void **state)
{
    struct ks_ratelimit *rl = NULL;
    assert_int_equal(ks_ratelimit_new(0, 0, 8, &rl), KS_OK);
    struct sockaddr_storage a = v4("192.0.2.1");
    assert_int_equal(drain(rl, SA(a), T0, 10000), 10000);
    assert_int_equal(ks_ratelimit_count(rl), 0);
    ks_ratelimit_free(rl);
}

/* Memory is bounded: a full table evicts the least recently seen client,
 * which then starts over with a full bucket. */
static void test_bounded_eviction(void **state)
{
    struct ks_ratelimit *rl = NULL;
    assert_int_equal(ks_ratelimit_new(1, 1, 8, &rl), KS_OK);
    assert_int_equal(ks_ratelimit_capacity(rl), 8);
    char addr[32];
    for (unsigned i = 0; i < 1000; i++) {
        snprintf(addr, sizeof(addr), "10.0.%u.%u", i / 256, i % 256);
        struct sockaddr_storage a = v4(addr);
        assert_int_equal(ks_ratelimit_take(rl, SA(a), T0 + i), KS_OK);
        assert_true(ks_ratelimit_count(rl) <= 8);
    }
    assert_int_equal(ks_ratelimit_count(rl), 8);
    /* The most recent clients are still tracked (and empty). */
    struct sockaddr_storage last = v4("10.0.3.231"); /* i = 999 */
    assert_int_equal(ks_ratelimit_take(rl, SA(last), T0 + 999), KS_ERR_RATE_LIMITED);
    /* The first one was evicted long ago: a full bucket again. */
    struct sockaddr_storage first = v4("10.0.0.0");
    assert_int_equal(ks_ratelimit_take(rl, SA(first), T0 + 1000), KS_OK);
    ks_ratelimit_free(rl);
}

static void test_clock_backwards(void **state)
{
    struct ks_ratelimit *rl = NULL;
    assert_int_equal(ks_ratelimit_new(100, 1, 8, &rl), KS_OK);
    struct sockaddr_storage a = v4("192.0.2.1");
    assert_int_equal(ks_ratelimit_take(rl, SA(a), T0), KS_OK);
    assert_int_equal(ks_ratelimit_take(rl, SA(a), T0 - 10 * S), KS_ERR_RATE_LIMITED);
    assert_int_equal(ks_ratelimit_take(rl, SA(a), T0 + S / 100), KS_OK);
    ks_ratelimit_free(rl);
}

/* Non-IP clients (a UNIX socket) share one bucket. */
static void test_other_family(void **state)
{
    struct ks_ratelimit *rl = NULL;
    assert_int_equal(ks_ratelimit_new(1, 2, 8, &rl), KS_OK);
    struct sockaddr_un un = {.sun_family = AF_UNIX, .sun_path = "/a"};
    struct sockaddr_un un2 = {.sun_family = AF_UNIX, .sun_path = "/b"};
    assert_int_equal(drain(rl, (const struct sockaddr *)&un, T0, 10), 2);
    assert_int_equal(drain(rl, (const struct sockaddr *)&un2, T0, 10), 0);
    ks_ratelimit_free(rl);
}

static void test_invalid_args(void **state)
{
    struct ks_ratelimit *rl = NULL;
    assert_int_equal(ks_ratelimit_new(1, 0, 8, &rl), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_ratelimit_new(1, 1, 0, &rl), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_ratelimit_new(1, 1, 8, NULL), KS_ERR_INVALID_ARG);
    assert_null(rl);
    assert_int_equal(ks_ratelimit_new(1, 1, 8, &rl), KS_OK);
    assert_int_equal(ks_ratelimit_take(rl, NULL, T0), KS_ERR_INVALID_ARG);
    struct sockaddr_storage a = v4("192.0.2.1");
    assert_int_equal(ks_ratelimit_take(NULL, SA(a), T0), KS_ERR_INVALID_ARG);
    ks_ratelimit_free(rl);
    ks_ratelimit_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_refill), cmocka_unit_test(test_clients_independent),
        cmocka_unit_test(test_ipv6_grouping),     cmocka_unit_test(test_disabled),
        cmocka_unit_test(test_bounded_eviction),  cmocka_unit_test(test_clock_backwards),
        cmocka_unit_test(test_other_family),      cmocka_unit_test(test_invalid_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
