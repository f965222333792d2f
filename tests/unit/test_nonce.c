/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include <pthread.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "keyserverd/nonce.h"

#define T0 1700000000ULL

static const uint8_t key[KS_NONCE_KEY_LEN] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

static struct ks_nonce *make(unsigned lifetime, size_t capacity)
{
    struct ks_nonce *n = NULL;
    assert_int_equal(ks_nonce_new(key, sizeof(key), lifetime, capacity, &n), KS_OK);
    assert_non_null(n);
    return n;
}

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/* The layout of DESIGN "Protocol", checked against OpenSSL's HMAC as an
 * independent oracle. */
static void test_issue_layout(void **state)
{
    struct ks_nonce *n = make(60, 16);
    uint8_t nonce[KS_NONCE_LEN], nonce2[KS_NONCE_LEN];
    uint64_t expires = 0;
    assert_int_equal(ks_nonce_issue(n, T0, nonce, &expires), KS_OK);
    assert_int_equal(expires, T0 + 60);
    assert_int_equal(be64(nonce), T0 + 60);
    uint8_t mac[32];
    unsigned int mac_len = 0;
    assert_non_null(HMAC(EVP_sha256(), key, sizeof(key), nonce, 16, mac, &mac_len));
    assert_int_equal(mac_len, 32);
    assert_memory_equal(nonce + 16, mac, 16);
    /* The random part differs between two nonces of the same second. */
    assert_int_equal(ks_nonce_issue(n, T0, nonce2, &expires), KS_OK);
    assert_memory_equal(nonce, nonce2, 8);
    assert_memory_not_equal(nonce + 8, nonce2 + 8, 8);
    ks_nonce_free(n);
}

static void test_check_valid_and_expiry(void **state)
{
    struct ks_nonce *n = make(60, 16);
    uint8_t nonce[KS_NONCE_LEN];
    uint64_t expires;
    assert_int_equal(ks_nonce_issue(n, T0, nonce, &expires), KS_OK);
    assert_int_equal(ks_nonce_check(n, nonce, sizeof(nonce), T0), KS_OK);
    assert_int_equal(ks_nonce_check(n, nonce, sizeof(nonce), T0 + 59), KS_OK);
    assert_int_equal(ks_nonce_check(n, nonce, sizeof(nonce), T0 + 60), KS_ERR_NONCE_EXPIRED);
    assert_int_equal(ks_nonce_check(n, nonce, sizeof(nonce), T0 + 10000), KS_ERR_NONCE_EXPIRED);
    /* A clock that went back further than a lifetime: not ours. */
    assert_int_equal(ks_nonce_check(n, nonce, sizeof(nonce), T0 - 1), KS_ERR_NONCE_INVALID);
    ks_nonce_free(n);
}

static void test_forged(void **state)
{
    struct ks_nonce *n = make(60, 16);
    uint8_t nonce[KS_NONCE_LEN], bad[KS_NONCE_LEN];
    uint64_t expires;
    assert_int_equal(ks_nonce_issue(n, T0, nonce, &expires), KS_OK);
    /* Any bit flipped anywhere (expiry, random, tag) breaks the tag. */
    for (size_t i = 0; i < KS_NONCE_LEN; i++) {
        memcpy(bad, nonce, sizeof(bad));
        bad[i] ^= 0x01;
        assert_int_equal(ks_nonce_check(n, bad, sizeof(bad), T0), KS_ERR_NONCE_INVALID);
    }
    /* An extended expiry with the old tag is invalid, not merely expired. */
    memcpy(bad, nonce, sizeof(bad));
    bad[7] ^= 0x80;
    assert_int_equal(ks_nonce_check(n, bad, sizeof(bad), T0 + 1000), KS_ERR_NONCE_INVALID);
    /* Wrong lengths. */
    assert_int_equal(ks_nonce_check(n, nonce, 31, T0), KS_ERR_NONCE_INVALID);
    uint8_t longer[33] = {0};
    memcpy(longer, nonce, 32);
    assert_int_equal(ks_nonce_check(n, longer, sizeof(longer), T0), KS_ERR_NONCE_INVALID);
    assert_int_equal(ks_nonce_check(n, NULL, 0, T0), KS_ERR_NONCE_INVALID);
    /* Another key: invalid. */
    uint8_t key2[KS_NONCE_KEY_LEN];
    memcpy(key2, key, sizeof(key2));
    key2[0] ^= 1;
    struct ks_nonce *other = NULL;
    assert_int_equal(ks_nonce_new(key2, sizeof(key2), 60, 16, &other), KS_OK);
    assert_int_equal(ks_nonce_check(other, nonce, sizeof(nonce), T0), KS_ERR_NONCE_INVALID);
    assert_int_equal(ks_nonce_consume(other, nonce, sizeof(nonce), T0), KS_ERR_NONCE_INVALID);
    ks_nonce_free(other);
    ks_nonce_free(n);
}

/* A nonce issued under a longer lifetime is refused by a server configured
 * with a shorter one. */
static void test_lifetime_mismatch(void **state)
{
    struct ks_nonce *lng = make(600, 16), *shrt = make(60, 16);
    uint8_t nonce[KS_NONCE_LEN];
    uint64_t expires;
    assert_int_equal(ks_nonce_issue(lng, T0, nonce, &expires), KS_OK);
    assert_int_equal(ks_nonce_check(lng, nonce, sizeof(nonce), T0), KS_OK);
    assert_int_equal(ks_nonce_check(shrt, nonce, sizeof(nonce), T0), KS_ERR_NONCE_INVALID);
    assert_int_equal(ks_nonce_check(shrt, nonce, sizeof(nonce), T0 + 540), KS_OK);
    ks_nonce_free(lng);
    ks_nonce_free(shrt);
}

static void test_consume_twice(void **state)
{
    struct ks_nonce *n = make(60, 16);
    uint8_t a[KS_NONCE_LEN], b[KS_NONCE_LEN];
    uint64_t expires;
    assert_int_equal(ks_nonce_issue(n, T0, a, &expires), KS_OK);
    assert_int_equal(ks_nonce_issue(n, T0, b, &expires), KS_OK);
    assert_int_equal(ks_nonce_consume(n, a, sizeof(a), T0 + 1), KS_OK);
    assert_int_equal(ks_nonce_consume(n, a, sizeof(a), T0 + 2), KS_ERR_NONCE_USED);
    assert_int_equal(ks_nonce_consume(n, b, sizeof(b), T0 + 2), KS_OK);
    assert_int_equal(ks_nonce_consume(n, b, sizeof(b), T0 + 2), KS_ERR_NONCE_USED);
    assert_int_equal(ks_nonce_cache_count(n, T0 + 2), 2);
    /* Consumption does not change check (stateless). */
    assert_int_equal(ks_nonce_check(n, a, sizeof(a), T0 + 2), KS_OK);
    /* After expiry: expired, not used. */
    assert_int_equal(ks_nonce_consume(n, a, sizeof(a), T0 + 60), KS_ERR_NONCE_EXPIRED);
    assert_int_equal(ks_nonce_cache_count(n, T0 + 60), 0);
    /* A forged or expired nonce takes no slot. */
    uint8_t c[KS_NONCE_LEN];
    assert_int_equal(ks_nonce_issue(n, T0, c, &expires), KS_OK);
    c[20] ^= 1;
    assert_int_equal(ks_nonce_consume(n, c, sizeof(c), T0), KS_ERR_NONCE_INVALID);
    assert_int_equal(ks_nonce_cache_count(n, T0), 2);
    ks_nonce_free(n);
}

/* Full cache: refuse, never evict an unexpired nonce; room again once
 * entries expire. */
static void test_cache_full(void **state)
{
    struct ks_nonce *n = make(60, 2);
    uint8_t a[KS_NONCE_LEN], b[KS_NONCE_LEN], c[KS_NONCE_LEN];
    uint64_t expires;
    assert_int_equal(ks_nonce_issue(n, T0, a, &expires), KS_OK);
    assert_int_equal(ks_nonce_issue(n, T0, b, &expires), KS_OK);
    assert_int_equal(ks_nonce_issue(n, T0 + 30, c, &expires), KS_OK);
    assert_false(ks_nonce_cache_full(n, T0 + 30));
    assert_int_equal(ks_nonce_consume(n, a, sizeof(a), T0 + 30), KS_OK);
    assert_int_equal(ks_nonce_consume(n, b, sizeof(b), T0 + 30), KS_OK);
    assert_true(ks_nonce_cache_full(n, T0 + 30));
    assert_int_equal(ks_nonce_consume(n, c, sizeof(c), T0 + 30), KS_ERR_NONCE_CACHE_FULL);
    /* Still refused a second later: a and b are live until T0 + 60. */
    assert_int_equal(ks_nonce_consume(n, c, sizeof(c), T0 + 59), KS_ERR_NONCE_CACHE_FULL);
    /* a and b still count as used while the cache is full. */
    assert_int_equal(ks_nonce_consume(n, a, sizeof(a), T0 + 59), KS_ERR_NONCE_USED);
    /* At T0 + 60 they expire; c (valid to T0 + 90) fits now, exactly once. */
    assert_false(ks_nonce_cache_full(n, T0 + 60));
    assert_int_equal(ks_nonce_consume(n, c, sizeof(c), T0 + 60), KS_OK);
    assert_int_equal(ks_nonce_consume(n, c, sizeof(c), T0 + 61), KS_ERR_NONCE_USED);
    assert_int_equal(ks_nonce_cache_count(n, T0 + 61), 1);
    ks_nonce_free(n);
}

/* Many entries through a small table: sweeps keep it working. */
static void test_cache_churn(void **state)
{
    struct ks_nonce *n = make(2, 64);
    uint8_t x[KS_NONCE_LEN];
    uint64_t expires;
    for (uint64_t t = T0; t < T0 + 200; t++) {
        for (int i = 0; i < 20; i++) {
            assert_int_equal(ks_nonce_issue(n, t, x, &expires), KS_OK);
            assert_int_equal(ks_nonce_consume(n, x, sizeof(x), t), KS_OK);
            assert_int_equal(ks_nonce_consume(n, x, sizeof(x), t), KS_ERR_NONCE_USED);
        }
        assert_true(ks_nonce_cache_count(n, t) <= 40);
    }
    ks_nonce_free(n);
}

struct race {
    struct ks_nonce *n;
    const uint8_t *nonce;
    int result;
};

static void *racer(void *arg)
{
    struct race *r = arg;
    r->result = ks_nonce_consume(r->n, r->nonce, KS_NONCE_LEN, T0 + 1);
    return NULL;
}

/* Of concurrent consumers of one nonce, exactly one wins. */
static void test_consume_race(void **state)
{
    struct ks_nonce *n = make(60, 1024);
    for (int round = 0; round < 50; round++) {
        uint8_t nonce[KS_NONCE_LEN];
        uint64_t expires;
        assert_int_equal(ks_nonce_issue(n, T0, nonce, &expires), KS_OK);
        pthread_t th[8];
        struct race r[8];
        for (int i = 0; i < 8; i++) {
            r[i] = (struct race){n, nonce, 1};
            assert_int_equal(pthread_create(&th[i], NULL, racer, &r[i]), 0);
        }
        int ok = 0, used = 0;
        for (int i = 0; i < 8; i++) {
            pthread_join(th[i], NULL);
            ok += r[i].result == KS_OK;
            used += r[i].result == KS_ERR_NONCE_USED;
        }
        assert_int_equal(ok, 1);
        assert_int_equal(used, 7);
    }
    ks_nonce_free(n);
}

static void test_invalid_args(void **state)
{
    struct ks_nonce *n = NULL;
    assert_int_equal(ks_nonce_new(key, 31, 60, 16, &n), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_nonce_new(NULL, 32, 60, 16, &n), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_nonce_new(key, 32, 0, 16, &n), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_nonce_new(key, 32, 60, 0, &n), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_nonce_new(key, 32, 60, 16, NULL), KS_ERR_INVALID_ARG);
    assert_null(n);
    n = make(60, 1);
    uint8_t nonce[KS_NONCE_LEN];
    uint64_t expires;
    assert_int_equal(ks_nonce_issue(n, UINT64_MAX - 10, nonce, &expires), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_nonce_issue(NULL, T0, nonce, &expires), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_nonce_check(NULL, nonce, 32, T0), KS_ERR_INVALID_ARG);
    ks_nonce_free(n);
    ks_nonce_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_layout),  cmocka_unit_test(test_check_valid_and_expiry),
        cmocka_unit_test(test_forged),        cmocka_unit_test(test_lifetime_mismatch),
        cmocka_unit_test(test_consume_twice), cmocka_unit_test(test_cache_full),
        cmocka_unit_test(test_cache_churn),   cmocka_unit_test(test_consume_race),
        cmocka_unit_test(test_invalid_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
