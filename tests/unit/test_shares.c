/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include "encoding.h"
#include "loader-ref/shares.h"
#include "shamir.h"

/*
 * The loader's share set (loader-ref/shares.h): what it accepts from each
 * keyserver, and the DEK it combines. The vector is a 2-of-3 split of the
 * bytes 0x10..0x2f with the degree-1 coefficients below, computed
 * independently in Python (GF(2^8), AES polynomial 0x11b, share i = f(i)).
 * The network flow (ks_shares_collect) is exercised end to end by
 * tests/integration/loader_shares.sh; here only its argument checks and the
 * paths that need no keyserver.
 */

static const char *const vec_y[3] = {
    "131b030b0b333b23235b534b4b437b73535ba3ababb3bb83839b93ebebe3fbf3",
    "160530232a594c7f6e9d88bbb2a1d4c7c6d53b2821120774655643b0b9aa9f8c",
    "150f213b357f614b55dfc1ebe5ffb1abb5afbaa0ae849ad0cee4fa707e644a50",
};

static uint8_t vec_secret[32];

struct share_key {
    struct ks_attest_key k;
    uint8_t y[32];
};

/* Share i (1..3) of the vector as the attest layer returns it. */
static void vec_share(unsigned i, struct share_key *s)
{
    memset(s, 0, sizeof(*s));
    assert_int_equal(ks_hex_decode_fixed(vec_y[i - 1], s->y, 32), KS_OK);
    strcpy(s->k.name, "weights-dek");
    s->k.version = 1;
    s->k.key = s->y;
    s->k.key_len = 32;
    s->k.share_index = (uint8_t)i;
    s->k.share_threshold = 2;
    s->k.share_count = 3;
}

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < 32; i++) {
        vec_secret[i] = (uint8_t)(0x10 + i);
    }
    return 0;
}

static void test_combine_vector(void **state)
{
    (void)state;
    static const unsigned pairs[][2] = {{1, 2}, {2, 1}, {1, 3}, {3, 2}};
    for (size_t p = 0; p < sizeof(pairs) / sizeof(pairs[0]); p++) {
        struct ks_share_set *set = NULL;
        struct share_key a, b;
        uint8_t out[32];
        char desc[128];
        vec_share(pairs[p][0], &a);
        vec_share(pairs[p][1], &b);
        assert_int_equal(ks_share_set_new(2, 3, 32, &set), KS_OK);
        assert_int_equal(ks_share_set_needed(set), 2);
        assert_int_equal(ks_share_set_held(set), 0);
        assert_int_equal(ks_share_set_combine(set, out, 32), KS_ERR_SHAMIR_TOO_FEW);
        assert_int_equal(ks_share_set_add(set, "primary", &a.k), KS_OK);
        assert_int_equal(ks_share_set_held(set), 1);
        assert_int_equal(ks_share_set_combine(set, out, 32), KS_ERR_SHAMIR_TOO_FEW);
        assert_int_equal(ks_share_set_add(set, "ks-c", &b.k), KS_OK);
        assert_int_equal(ks_share_set_held(set), 2);
        memset(out, 0, sizeof(out));
        assert_int_equal(ks_share_set_combine(set, out, 32), KS_OK);
        assert_memory_equal(out, vec_secret, 32);
        /* The caller's copies are its own: the set holds copies. */
        memset(a.y, 0, 32);
        memset(b.y, 0, 32);
        memset(out, 0, sizeof(out));
        assert_int_equal(ks_share_set_combine(set, out, 32), KS_OK);
        assert_memory_equal(out, vec_secret, 32);
        assert_int_equal(ks_share_set_combine(set, out, 16), KS_ERR_SHAMIR_MISMATCH);
        ks_share_set_describe(set, desc, sizeof(desc));
        char want[64];
        snprintf(want, sizeof(want), "primary: %u, ks-c: %u", pairs[p][0], pairs[p][1]);
        assert_string_equal(desc, want);
        /* Complete: nothing more is taken. */
        struct share_key c;
        vec_share(6 - pairs[p][0] - pairs[p][1], &c);
        assert_int_equal(ks_share_set_add(set, "ks-d", &c.k), KS_ERR_INVALID_ARG);
        ks_share_set_free(set);
    }
    ks_share_set_free(NULL);
}

/* A share of another split of the same shape combines, to a wrong key:
 * only the sealed file's authentication can tell (the integration test). */
static void test_combine_wrong_split(void **state)
{
    (void)state;
    struct ks_shamir_share other[3];
    struct ks_share_set *set = NULL;
    struct share_key a, b;
    uint8_t other_secret[32], out[32];
    memset(other_secret, 0xa5, sizeof(other_secret));
    assert_int_equal(ks_shamir_split(other_secret, 32, 2, 3, other), KS_OK);
    vec_share(1, &a);
    vec_share(3, &b);
    memcpy(b.y, other[2].y, 32);
    assert_int_equal(ks_share_set_new(2, 3, 32, &set), KS_OK);
    assert_int_equal(ks_share_set_add(set, "primary", &a.k), KS_OK);
    assert_int_equal(ks_share_set_add(set, "ks-c", &b.k), KS_OK);
    assert_int_equal(ks_share_set_combine(set, out, 32), KS_OK);
    assert_memory_not_equal(out, vec_secret, 32);
    assert_memory_not_equal(out, other_secret, 32);
    ks_share_set_free(set);
    OPENSSL_cleanse(other, sizeof(other));
}

/* What a keyserver may answer that is not a usable share. */
static void test_add_refused(void **state)
{
    (void)state;
    struct ks_share_set *set = NULL;
    struct share_key a, s;
    char desc[64];
    vec_share(1, &a);
    assert_int_equal(ks_share_set_new(2, 3, 32, &set), KS_OK);
    assert_int_equal(ks_share_set_add(set, "primary", &a.k), KS_OK);
    /* A whole key. */
    vec_share(2, &s);
    s.k.share_index = s.k.share_threshold = s.k.share_count = 0;
    assert_int_equal(ks_share_set_add(set, "b", &s.k), KS_ERR_SHAMIR_MISMATCH);
    /* Another shape: threshold, count. */
    vec_share(2, &s);
    s.k.share_threshold = 3;
    assert_int_equal(ks_share_set_add(set, "b", &s.k), KS_ERR_SHAMIR_MISMATCH);
    vec_share(2, &s);
    s.k.share_count = 4;
    assert_int_equal(ks_share_set_add(set, "b", &s.k), KS_ERR_SHAMIR_MISMATCH);
    /* Another length. */
    vec_share(2, &s);
    s.k.key_len = 16;
    assert_int_equal(ks_share_set_add(set, "b", &s.k), KS_ERR_SHAMIR_MISMATCH);
    /* The index already held, and one beyond the count. */
    vec_share(1, &s);
    assert_int_equal(ks_share_set_add(set, "b", &s.k), KS_ERR_SHAMIR_INDEX);
    vec_share(2, &s);
    s.k.share_index = 4;
    assert_int_equal(ks_share_set_add(set, "b", &s.k), KS_ERR_SHAMIR_INDEX);
    /* Arguments. */
    vec_share(2, &s);
    assert_int_equal(ks_share_set_add(NULL, "b", &s.k), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_share_set_add(set, NULL, &s.k), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_share_set_add(set, "b", NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_share_set_add(set, "abcdefghijklmnopqrstuvwxyz0123456", &s.k),
                     KS_ERR_INVALID_ARG);
    s.k.key = NULL;
    assert_int_equal(ks_share_set_add(set, "b", &s.k), KS_ERR_INVALID_ARG);
    /* Nothing of the refused ones was kept. */
    assert_int_equal(ks_share_set_held(set), 1);
    ks_share_set_describe(set, desc, sizeof(desc));
    assert_string_equal(desc, "primary: 1");
    /* A name of exactly 32 characters is fine. */
    vec_share(2, &s);
    assert_int_equal(ks_share_set_add(set, "abcdefghijklmnopqrstuvwxyz012345", &s.k), KS_OK);
    /* describe truncates. */
    ks_share_set_describe(set, desc, 12);
    assert_string_equal(desc, "primary: 1,");
    ks_share_set_free(set);
}

static void test_new_refused(void **state)
{
    (void)state;
    struct ks_share_set *set = (struct ks_share_set *)&vec_secret;
    uint8_t out[32];
    assert_int_equal(ks_share_set_new(0, 3, 32, &set), KS_ERR_SHAMIR_PARAMS);
    assert_int_equal(ks_share_set_new(4, 3, 32, &set), KS_ERR_SHAMIR_PARAMS);
    assert_int_equal(ks_share_set_new(2, 256, 32, &set), KS_ERR_SHAMIR_PARAMS);
    assert_int_equal(ks_share_set_new(2, 3, 0, &set), KS_ERR_SHAMIR_PARAMS);
    assert_int_equal(ks_share_set_new(2, 3, 65, &set), KS_ERR_SHAMIR_PARAMS);
    assert_ptr_equal(set, (struct ks_share_set *)&vec_secret);
    assert_int_equal(ks_share_set_new(2, 3, 32, NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_share_set_combine(NULL, out, 32), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_share_set_held(NULL), 0);
    assert_int_equal(ks_share_set_needed(NULL), 0);
    /* The largest shape. */
    assert_int_equal(ks_share_set_new(255, 255, 64, &set), KS_OK);
    assert_int_equal(ks_share_set_needed(set), 255);
    assert_int_equal(ks_share_set_combine(set, NULL, 64), KS_ERR_INVALID_ARG);
    ks_share_set_free(set);
}

/* The flow without a keyserver to ask: a 1-of-1 "split" completes with the
 * primary's share (f(x) = secret: the share is the key); a 2-of-3 one fails
 * closed with KS_ERR_SHAMIR_TOO_FEW. No TPM command is issued on these
 * paths, so placeholders stand in for the TPM and the AK. */
static void test_obtain_without_keyservers(void **state)
{
    (void)state;
    int placeholder = 0;
    TPML_PCR_SELECTION sel;
    memset(&sel, 0, sizeof(sel));
    const struct ks_shares_flow flow = {
        .tpm = (struct ks_tpm *)&placeholder,
        .ak = (struct ks_tpm_ak *)&placeholder,
        .ak_id = "000b00",
        .dek_ref = "weights-dek@1",
        .sel = &sel,
    };
    struct share_key a;
    uint8_t dek[32];
    vec_share(1, &a);
    a.k.share_threshold = 1;
    a.k.share_count = 1;
    memset(dek, 0, sizeof(dek));
    assert_int_equal(ks_shares_obtain(&flow, &a.k, NULL, 0, dek, 32), KS_OK);
    assert_memory_equal(dek, a.y, 32);

    vec_share(2, &a);
    memset(dek, 0x77, sizeof(dek));
    assert_int_equal(ks_shares_obtain(&flow, &a.k, NULL, 0, dek, 32), KS_ERR_SHAMIR_TOO_FEW);
    for (int i = 0; i < 32; i++) {
        assert_int_equal(dek[i], 0x77); /* nothing written */
    }
    /* The primary's DEK is not a share, or not a DEK's length. */
    vec_share(2, &a);
    a.k.share_index = 0;
    assert_int_equal(ks_shares_obtain(&flow, &a.k, NULL, 0, dek, 32), KS_ERR_SHAMIR_MISMATCH);
    a.k.share_threshold = a.k.share_count = 0;
    assert_int_equal(ks_shares_obtain(&flow, &a.k, NULL, 0, dek, 32), KS_ERR_SHAMIR_PARAMS);
    vec_share(2, &a);
    a.k.key_len = 16;
    assert_int_equal(ks_shares_obtain(&flow, &a.k, NULL, 0, dek, 32), KS_ERR_SHAMIR_MISMATCH);
    assert_int_equal(ks_shares_obtain(NULL, &a.k, NULL, 0, dek, 32), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_shares_obtain(&flow, NULL, NULL, 0, dek, 32), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_shares_obtain(&flow, &a.k, NULL, 0, NULL, 32), KS_ERR_INVALID_ARG);

    /* ks_shares_collect: arguments, and nothing left to ask. */
    struct ks_share_set *set = NULL;
    vec_share(2, &a);
    assert_int_equal(ks_share_set_new(2, 3, 32, &set), KS_OK);
    assert_int_equal(ks_share_set_add(set, "primary", &a.k), KS_OK);
    assert_int_equal(ks_shares_collect(&flow, NULL, 0, set), KS_ERR_SHAMIR_TOO_FEW);
    assert_int_equal(ks_shares_collect(NULL, NULL, 0, set), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_shares_collect(&flow, NULL, 1, set), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_shares_collect(&flow, NULL, 0, NULL), KS_ERR_INVALID_ARG);
    struct ks_shares_flow no_ak = flow;
    no_ak.ak = NULL;
    assert_int_equal(ks_shares_collect(&no_ak, NULL, 0, set), KS_ERR_INVALID_ARG);
    ks_share_set_free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_combine_vector),
        cmocka_unit_test(test_combine_wrong_split),
        cmocka_unit_test(test_add_refused),
        cmocka_unit_test(test_new_refused),
        cmocka_unit_test(test_obtain_without_keyservers),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
