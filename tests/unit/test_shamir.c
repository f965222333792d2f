/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include <string.h>

#include "shamir.h"

/*
 * The oracle is a second, independent implementation of the field: log and
 * antilog tables of the generator 0x03 of GF(2^8) mod 0x11b (FIPS 197 4.2),
 * against which the library's table-free arithmetic is checked through its
 * outputs: every share must lie on one polynomial of degree k - 1 through
 * the secret, evaluated here with the tables.
 */
struct gf_tables {
    uint8_t exp[510];
    uint8_t log[256];
};

static void gf_tables_init(struct gf_tables *t)
{
    uint8_t x = 1;
    for (int i = 0; i < 255; i++) {
        t->exp[i] = x;
        t->exp[i + 255] = x;
        t->log[x] = (uint8_t)i;
        /* x *= 3: x ^ xtime(x) */
        uint8_t xt = (uint8_t)((x << 1) ^ ((x & 0x80) ? 0x1b : 0));
        x ^= xt;
    }
}

static uint8_t t_mul(const struct gf_tables *t, uint8_t a, uint8_t b)
{
    return (a == 0 || b == 0) ? 0 : t->exp[t->log[a] + t->log[b]];
}

static uint8_t t_div(const struct gf_tables *t, uint8_t a, uint8_t b)
{
    return a == 0 ? 0 : t->exp[t->log[a] + 255 - t->log[b]];
}

/* Lagrange interpolation at x0 of the points (xs[i], ys[i]), with tables. */
static uint8_t t_interp(const struct gf_tables *t, const uint8_t *xs, const uint8_t *ys, size_t k,
                        uint8_t x0)
{
    uint8_t v = 0;
    for (size_t j = 0; j < k; j++) {
        uint8_t l = 1;
        for (size_t m = 0; m < k; m++) {
            if (m != j) {
                l = t_mul(t, l, t_div(t, (uint8_t)(x0 ^ xs[m]), (uint8_t)(xs[j] ^ xs[m])));
            }
        }
        v ^= t_mul(t, ys[j], l);
    }
    return v;
}

static void fill(uint8_t *b, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++) {
        b[i] = (uint8_t)(seed + 37 * i + (i >> 3));
    }
}

/* Every share lies on the polynomial that the first k shares determine, and
 * that polynomial is the secret at 0 (oracle: the tables). */
static void test_split_shares_on_one_polynomial(void **state)
{
    (void)state;
    struct gf_tables t;
    gf_tables_init(&t);
    static const unsigned shapes[][2] = {{1, 1}, {1, 3}, {2, 2}, {2, 3}, {3, 5}, {5, 9}, {16, 40}};
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        unsigned k = shapes[s][0], n = shapes[s][1];
        uint8_t secret[32];
        fill(secret, sizeof(secret), (uint8_t)s);
        struct ks_shamir_share shares[40];
        assert_int_equal(ks_shamir_split(secret, sizeof(secret), k, n, shares), KS_OK);
        for (unsigned i = 0; i < n; i++) {
            assert_int_equal(shares[i].index, i + 1);
            assert_int_equal(shares[i].threshold, k);
            assert_int_equal(shares[i].count, n);
            assert_int_equal(shares[i].len, sizeof(secret));
        }
        for (size_t b = 0; b < sizeof(secret); b++) {
            uint8_t xs[40], ys[40];
            for (unsigned i = 0; i < n; i++) {
                xs[i] = shares[i].index;
                ys[i] = shares[i].y[b];
            }
            assert_int_equal(t_interp(&t, xs, ys, k, 0), secret[b]);
            for (unsigned i = k; i < n; i++) {
                assert_int_equal(t_interp(&t, xs, ys, k, xs[i]), ys[i]);
            }
        }
        /* Shares of a k >= 2 split are not the secret itself. */
        if (k >= 2) {
            assert_memory_not_equal(shares[0].y, secret, sizeof(secret));
        }
    }
}

/* Every k-subset of a 3-of-5 split, in any order, gives the secret back. */
static void test_combine_every_subset(void **state)
{
    (void)state;
    uint8_t secret[KS_SHAMIR_SECRET_MAX];
    fill(secret, sizeof(secret), 0xa5);
    struct ks_shamir_share shares[5];
    assert_int_equal(ks_shamir_split(secret, sizeof(secret), 3, 5, shares), KS_OK);
    int tried = 0;
    for (int a = 0; a < 5; a++) {
        for (int b = 0; b < 5; b++) {
            for (int c = 0; c < 5; c++) {
                if (a == b || b == c || a == c) {
                    continue;
                }
                struct ks_shamir_share sub[3] = {shares[a], shares[b], shares[c]};
                uint8_t out[KS_SHAMIR_SECRET_MAX];
                memset(out, 0, sizeof(out));
                assert_int_equal(ks_shamir_combine(sub, 3, out, sizeof(out)), KS_OK);
                assert_memory_equal(out, secret, sizeof(secret));
                tried++;
            }
        }
    }
    assert_int_equal(tried, 60);
    /* More shares than needed: the first k are used. */
    uint8_t out[KS_SHAMIR_SECRET_MAX];
    assert_int_equal(ks_shamir_combine(shares, 5, out, sizeof(out)), KS_OK);
    assert_memory_equal(out, secret, sizeof(secret));
}

/* Two splits of one secret use fresh coefficients; a 1-of-n split is
 * replication; k - 1 shares and a share from another split give a wrong
 * secret (the caller's authentication catches it). */
static void test_randomness_and_wrong_shares(void **state)
{
    (void)state;
    uint8_t secret[32];
    fill(secret, sizeof(secret), 7);
    struct ks_shamir_share a[3], b[3], one[4];
    assert_int_equal(ks_shamir_split(secret, sizeof(secret), 2, 3, a), KS_OK);
    assert_int_equal(ks_shamir_split(secret, sizeof(secret), 2, 3, b), KS_OK);
    assert_memory_not_equal(a[0].y, b[0].y, sizeof(secret));
    assert_int_equal(ks_shamir_split(secret, sizeof(secret), 1, 4, one), KS_OK);
    for (int i = 0; i < 4; i++) {
        assert_memory_equal(one[i].y, secret, sizeof(secret));
    }
    struct ks_shamir_share mixed[2] = {a[0], b[1]};
    uint8_t out[32];
    assert_int_equal(ks_shamir_combine(mixed, 2, out, sizeof(out)), KS_OK);
    assert_memory_not_equal(out, secret, sizeof(secret));
    /* A share whose value was altered. */
    struct ks_shamir_share bad[2] = {a[0], a[2]};
    bad[1].y[5] ^= 0x01;
    assert_int_equal(ks_shamir_combine(bad, 2, out, sizeof(out)), KS_OK);
    assert_memory_not_equal(out, secret, sizeof(secret));
    assert_int_not_equal(out[5], secret[5]);
    assert_memory_equal(out, secret, 5);
}

static void test_split_errors(void **state)
{
    (void)state;
    uint8_t secret[65] = {0};
    struct ks_shamir_share shares[255];
    memset(shares, 0x5a, sizeof(shares));
    assert_int_equal(ks_shamir_split(secret, 32, 0, 3, shares), KS_ERR_SHAMIR_PARAMS);
    assert_int_equal(ks_shamir_split(secret, 32, 4, 3, shares), KS_ERR_SHAMIR_PARAMS);
    assert_int_equal(ks_shamir_split(secret, 32, 2, 256, shares), KS_ERR_SHAMIR_PARAMS);
    assert_int_equal(ks_shamir_split(secret, 0, 2, 3, shares), KS_ERR_SHAMIR_PARAMS);
    assert_int_equal(ks_shamir_split(secret, 65, 2, 3, shares), KS_ERR_SHAMIR_PARAMS);
    assert_int_equal(ks_shamir_split(NULL, 32, 2, 3, shares), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_shamir_split(secret, 32, 2, 3, NULL), KS_ERR_INVALID_ARG);
    /* Nothing written on failure. */
    assert_int_equal(shares[0].index, 0x5a);
    /* The largest split works. */
    assert_int_equal(ks_shamir_split(secret, 64, 255, 255, shares), KS_OK);
    uint8_t out[64];
    memset(out, 1, sizeof(out));
    assert_int_equal(ks_shamir_combine(shares, 255, out, sizeof(out)), KS_OK);
    assert_memory_equal(out, secret, 64);
}

static void test_combine_errors(void **state)
{
    (void)state;
    uint8_t secret[32];
    fill(secret, sizeof(secret), 9);
    struct ks_shamir_share s[3];
    assert_int_equal(ks_shamir_split(secret, sizeof(secret), 2, 3, s), KS_OK);
    uint8_t out[32], before[32];
    memset(out, 0xee, sizeof(out));
    memcpy(before, out, sizeof(out));

    assert_int_equal(ks_shamir_combine(s, 1, out, sizeof(out)), KS_ERR_SHAMIR_TOO_FEW);
    assert_int_equal(ks_shamir_combine(s, 0, out, sizeof(out)), KS_ERR_SHAMIR_TOO_FEW);
    assert_int_equal(ks_shamir_combine(NULL, 2, out, sizeof(out)), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_shamir_combine(s, 2, NULL, sizeof(out)), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_shamir_combine(s, 2, out, 31), KS_ERR_SHAMIR_MISMATCH);

    struct ks_shamir_share t[2] = {s[0], s[0]};
    assert_int_equal(ks_shamir_combine(t, 2, out, sizeof(out)), KS_ERR_SHAMIR_INDEX);
    t[1] = s[1];
    t[1].index = 0;
    assert_int_equal(ks_shamir_combine(t, 2, out, sizeof(out)), KS_ERR_SHAMIR_INDEX);
    t[1].index = 4; /* beyond count */
    assert_int_equal(ks_shamir_combine(t, 2, out, sizeof(out)), KS_ERR_SHAMIR_INDEX);

    t[1] = s[1];
    t[1].threshold = 3;
    assert_int_equal(ks_shamir_combine(t, 2, out, sizeof(out)), KS_ERR_SHAMIR_MISMATCH);
    t[1] = s[1];
    t[1].count = 4;
    assert_int_equal(ks_shamir_combine(t, 2, out, sizeof(out)), KS_ERR_SHAMIR_MISMATCH);
    t[1] = s[1];
    t[1].len = 16;
    assert_int_equal(ks_shamir_combine(t, 2, out, sizeof(out)), KS_ERR_SHAMIR_MISMATCH);

    t[0] = s[0];
    t[1] = s[1];
    t[0].threshold = t[1].threshold = 4; /* k > n */
    assert_int_equal(ks_shamir_combine(t, 2, out, sizeof(out)), KS_ERR_SHAMIR_PARAMS);
    t[0].threshold = t[1].threshold = 0;
    assert_int_equal(ks_shamir_combine(t, 2, out, sizeof(out)), KS_ERR_SHAMIR_PARAMS);
    assert_memory_equal(out, before, sizeof(out));

    assert_int_equal(ks_shamir_combine(&s[1], 2, out, sizeof(out)), KS_OK);
    assert_memory_equal(out, secret, sizeof(secret));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_shares_on_one_polynomial),
        cmocka_unit_test(test_combine_every_subset),
        cmocka_unit_test(test_randomness_and_wrong_shares),
        cmocka_unit_test(test_split_errors),
        cmocka_unit_test(test_combine_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
