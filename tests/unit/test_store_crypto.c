/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include "test_store_util.h"

#include "encoding.h"

static const uint8_t mk_bytes[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                     11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                     22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

static struct ks_master_key *load_fixed(struct fx *f)
{
    struct ks_master_key *mk = NULL;
    fx_write_file(f, "fixed.key", mk_bytes, sizeof(mk_bytes), 0600);
    char path[320];
    fx_path(f, "fixed.key", path, sizeof(path));
    assert_int_equal(ks_master_key_load(path, &mk), KS_OK);
    return mk;
}

static uint8_t *hex(const char *h, size_t *len)
{
    uint8_t *b = NULL;
    assert_int_equal(ks_hex_decode(h, &b, len), KS_OK);
    return b;
}

/*
 * Known-answer tests. The vectors were made with Python's `cryptography`
 * (AESGCM), independently of this code, from the AAD layout in the design:
 *   key:  "ks-key-v1" 00 07 "weights" 00000003 01   (name weights, v3, dek)
 *   meta: "ks-meta-v1" 00 09 "nonce_key"
 * master key 00..1f, nonce 000102030405060708090a0b.
 */
static const char kat_key_ct[] = "4713f42881b0a46c05d83d307d34969283c7a507b42e390bb0fe4f3ed1b4ee4df"
                                 "6ea46eeb14bb625070f1383a69eedd"
                                 "a";
static const char kat_key_pt[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
static const char kat_meta_ct[] = "0540945987a78059cf03d5c9f3ab3a2fc194c576b2391d3e7a25a7c75f2b42f0"
                                  "35e6081e82ca3af4c735dbb5bbab965"
                                  "5";
static const uint8_t kat_nonce[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};

static void test_kat_key_unwrap(void **state)
{
    struct fx *f = *state;
    struct ks_master_key *mk = load_fixed(f);
    size_t ct_len, pt_len;
    uint8_t *ct = hex(kat_key_ct, &ct_len);
    uint8_t *pt = hex(kat_key_pt, &pt_len);
    struct ks_store_secret *sec = NULL;
    assert_int_equal(ks_store_key_unwrap(mk, "weights", 3, KS_KEY_DEK, kat_nonce, ct, ct_len, &sec),
                     KS_OK);
    assert_int_equal(sec->len, pt_len);
    assert_memory_equal(sec->data, pt, pt_len);
    ks_store_secret_free(sec);
    /* Every AAD field is bound. */
    sec = NULL;
    assert_int_equal(ks_store_key_unwrap(mk, "weightz", 3, KS_KEY_DEK, kat_nonce, ct, ct_len, &sec),
                     KS_ERR_KEY_UNWRAP);
    assert_int_equal(ks_store_key_unwrap(mk, "weights", 4, KS_KEY_DEK, kat_nonce, ct, ct_len, &sec),
                     KS_ERR_KEY_UNWRAP);
    assert_int_equal(
        ks_store_key_unwrap(mk, "weights", 3, KS_KEY_HPKE, kat_nonce, ct, ct_len, &sec),
        KS_ERR_KEY_UNWRAP);
    /* The same bytes are not a meta secret of that name (other label). */
    assert_int_equal(ks_store_secret_unwrap(mk, "weights", kat_nonce, ct, ct_len, &sec),
                     KS_ERR_KEY_UNWRAP);
    assert_null(sec);
    free(ct);
    free(pt);
    ks_master_key_free(mk);
}

static void test_kat_meta_unwrap(void **state)
{
    struct fx *f = *state;
    struct ks_master_key *mk = load_fixed(f);
    size_t ct_len;
    uint8_t *ct = hex(kat_meta_ct, &ct_len);
    uint8_t expect[32];
    memset(expect, 0x42, sizeof(expect));
    struct ks_store_secret *sec = NULL;
    assert_int_equal(ks_store_secret_unwrap(mk, "nonce_key", kat_nonce, ct, ct_len, &sec), KS_OK);
    assert_int_equal(sec->len, 32);
    assert_memory_equal(sec->data, expect, 32);
    ks_store_secret_free(sec);
    sec = NULL;
    assert_int_equal(ks_store_secret_unwrap(mk, "nonce_kez", kat_nonce, ct, ct_len, &sec),
                     KS_ERR_KEY_UNWRAP);
    assert_null(sec);
    free(ct);
    ks_master_key_free(mk);
}

static void test_wrap_roundtrip_and_binding(void **state)
{
    struct fx *f = *state;
    struct ks_master_key *mk = load_fixed(f);
    uint8_t pt[40], nonce[12], nonce2[12];
    for (size_t i = 0; i < sizeof(pt); i++) {
        pt[i] = (uint8_t)(i * 7);
    }
    uint8_t *ct = NULL, *ct2 = NULL;
    size_t ct_len = 0, ct2_len = 0;
    assert_int_equal(
        ks_store_key_wrap(mk, "k1", 7, KS_KEY_HPKE, pt, sizeof(pt), nonce, &ct, &ct_len), KS_OK);
    assert_int_equal(ct_len, sizeof(pt) + 16);
    /* A fresh nonce per wrap. */
    assert_int_equal(
        ks_store_key_wrap(mk, "k1", 7, KS_KEY_HPKE, pt, sizeof(pt), nonce2, &ct2, &ct2_len), KS_OK);
    assert_memory_not_equal(nonce, nonce2, 12);
    assert_memory_not_equal(ct, ct2, ct_len);
    free(ct2);

    struct ks_store_secret *sec = NULL;
    assert_int_equal(ks_store_key_unwrap(mk, "k1", 7, KS_KEY_HPKE, nonce, ct, ct_len, &sec), KS_OK);
    assert_int_equal(sec->len, sizeof(pt));
    assert_memory_equal(sec->data, pt, sizeof(pt));
    ks_store_secret_free(sec);
    sec = NULL;

    assert_int_equal(ks_store_key_unwrap(mk, "k2", 7, KS_KEY_HPKE, nonce, ct, ct_len, &sec),
                     KS_ERR_KEY_UNWRAP);
    assert_int_equal(ks_store_key_unwrap(mk, "k1", 8, KS_KEY_HPKE, nonce, ct, ct_len, &sec),
                     KS_ERR_KEY_UNWRAP);
    assert_int_equal(ks_store_key_unwrap(mk, "k1", 7, KS_KEY_DEK, nonce, ct, ct_len, &sec),
                     KS_ERR_KEY_UNWRAP);
    /* A version that differs only in a high byte (u32be, not u8). */
    assert_int_equal(
        ks_store_key_unwrap(mk, "k1", 7 + 0x01000000, KS_KEY_HPKE, nonce, ct, ct_len, &sec),
        KS_ERR_KEY_UNWRAP);
    for (size_t i = 0; i < ct_len; i += 13) {
        ct[i] ^= 0x01;
        assert_int_equal(ks_store_key_unwrap(mk, "k1", 7, KS_KEY_HPKE, nonce, ct, ct_len, &sec),
                         KS_ERR_KEY_UNWRAP);
        ct[i] ^= 0x01;
    }
    ct[ct_len - 1] ^= 0x80; /* tag */
    assert_int_equal(ks_store_key_unwrap(mk, "k1", 7, KS_KEY_HPKE, nonce, ct, ct_len, &sec),
                     KS_ERR_KEY_UNWRAP);
    ct[ct_len - 1] ^= 0x80;
    nonce[0] ^= 1;
    assert_int_equal(ks_store_key_unwrap(mk, "k1", 7, KS_KEY_HPKE, nonce, ct, ct_len, &sec),
                     KS_ERR_KEY_UNWRAP);
    nonce[0] ^= 1;
    assert_int_equal(ks_store_key_unwrap(mk, "k1", 7, KS_KEY_HPKE, nonce, ct, ct_len - 1, &sec),
                     KS_ERR_KEY_UNWRAP);
    assert_int_equal(ks_store_key_unwrap(mk, "k1", 7, KS_KEY_HPKE, nonce, ct, 16, &sec),
                     KS_ERR_KEY_UNWRAP);
    assert_null(sec);
    /* Another master key. */
    struct ks_master_key *other = NULL;
    char path[320];
    fx_path(f, "other.key", path, sizeof(path));
    assert_int_equal(ks_master_key_generate(path, &other), KS_OK);
    assert_int_equal(ks_store_key_unwrap(other, "k1", 7, KS_KEY_HPKE, nonce, ct, ct_len, &sec),
                     KS_ERR_KEY_UNWRAP);
    /* Still fine with the right inputs after all that. */
    assert_int_equal(ks_store_key_unwrap(mk, "k1", 7, KS_KEY_HPKE, nonce, ct, ct_len, &sec), KS_OK);
    ks_store_secret_free(sec);
    ks_master_key_free(other);
    free(ct);
    ks_master_key_free(mk);
}

static void test_wrap_args(void **state)
{
    struct fx *f = *state;
    struct ks_master_key *mk = load_fixed(f);
    uint8_t pt[KS_STORE_MAX_SECRET + 1] = {1};
    uint8_t nonce[12];
    uint8_t *ct = NULL;
    size_t ct_len = 0;
    struct ks_store_secret *sec = NULL;
    assert_int_equal(ks_store_key_wrap(NULL, "k", 1, KS_KEY_DEK, pt, 32, nonce, &ct, &ct_len),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_key_wrap(mk, "bad name", 1, KS_KEY_DEK, pt, 32, nonce, &ct, &ct_len),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_key_wrap(mk, "k", 0, KS_KEY_DEK, pt, 32, nonce, &ct, &ct_len),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(
        ks_store_key_wrap(mk, "k", 1, (enum ks_key_kind)3, pt, 32, nonce, &ct, &ct_len),
        KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_key_wrap(mk, "k", 1, KS_KEY_DEK, pt, 0, nonce, &ct, &ct_len),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_key_wrap(mk, "k", 1, KS_KEY_DEK, NULL, 32, nonce, &ct, &ct_len),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_key_wrap(mk, "k", 1, KS_KEY_DEK, pt, sizeof(pt), nonce, &ct, &ct_len),
                     KS_ERR_TOO_LARGE);
    assert_int_equal(
        ks_store_key_wrap(mk, "k", 1, KS_KEY_DEK, pt, KS_STORE_MAX_SECRET, nonce, &ct, &ct_len),
        KS_OK);
    free(ct);
    ct = NULL;
    assert_int_equal(ks_store_key_unwrap(mk, "k", 0, KS_KEY_DEK, nonce, pt, 48, &sec),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_key_unwrap(mk, "k", 1, KS_KEY_DEK, NULL, pt, 48, &sec),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_key_unwrap(mk, "k", 1, KS_KEY_DEK, nonce, pt, 48, NULL),
                     KS_ERR_INVALID_ARG);
    /* Secrets */
    assert_int_equal(ks_store_secret_wrap(mk, "", pt, 32, nonce, &ct, &ct_len), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_secret_wrap(mk, "x", pt, 0, nonce, &ct, &ct_len), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_secret_wrap(mk, "x", pt, sizeof(pt), nonce, &ct, &ct_len),
                     KS_ERR_TOO_LARGE);
    assert_int_equal(ks_store_secret_unwrap(NULL, "x", nonce, pt, 48, &sec), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_secret_wrap(mk, "x", pt, 32, nonce, &ct, &ct_len), KS_OK);
    assert_int_equal(ks_store_secret_unwrap(mk, "x", nonce, ct, ct_len, &sec), KS_OK);
    assert_int_equal(sec->len, 32);
    assert_memory_equal(sec->data, pt, 32);
    ks_store_secret_free(sec);
    sec = NULL;
    /* Domain separation: a meta secret is not a key of the same name. */
    assert_int_equal(ks_store_key_unwrap(mk, "x", 1, KS_KEY_DEK, nonce, ct, ct_len, &sec),
                     KS_ERR_KEY_UNWRAP);
    free(ct);
    ks_store_secret_free(NULL);
    ks_master_key_free(mk);
}

static void test_kind_names(void **state)
{
    enum ks_key_kind k;
    assert_string_equal(ks_key_kind_name(KS_KEY_DEK), "dek");
    assert_string_equal(ks_key_kind_name(KS_KEY_HPKE), "hpke");
    assert_null(ks_key_kind_name((enum ks_key_kind)0));
    assert_int_equal(ks_key_kind_from_name("hpke", &k), KS_OK);
    assert_int_equal(k, KS_KEY_HPKE);
    assert_int_equal(ks_key_kind_from_name("dek", &k), KS_OK);
    assert_int_equal(k, KS_KEY_DEK);
    assert_int_equal(ks_key_kind_from_name("DEK", &k), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_key_kind_from_name(NULL, &k), KS_ERR_INVALID_ARG);
}

/* ---- master key file -------------------------------------------------- */

/* Two loads of one file interoperate; the generated file matches. */
static void test_master_key_load_ok(void **state)
{
    struct fx *f = *state;
    struct ks_master_key *a = load_fixed(f), *b = NULL;
    char path[320];
    fx_path(f, "fixed.key", path, sizeof(path));
    /* 0400 is stricter than 0600: fine. */
    assert_int_equal(chmod(path, 0400), 0);
    assert_int_equal(ks_master_key_load(path, &b), KS_OK);
    size_t ct_len;
    uint8_t *ct = hex(kat_key_ct, &ct_len);
    struct ks_store_secret *sec = NULL;
    assert_int_equal(ks_store_key_unwrap(b, "weights", 3, KS_KEY_DEK, kat_nonce, ct, ct_len, &sec),
                     KS_OK);
    ks_store_secret_free(sec);
    free(ct);
    /* Through a symlink: the target is what is checked. */
    char link[320];
    fx_path(f, "link.key", link, sizeof(link));
    assert_int_equal(symlink(path, link), 0);
    ks_master_key_free(b);
    b = NULL;
    assert_int_equal(ks_master_key_load(link, &b), KS_OK);
    ks_master_key_free(a);
    ks_master_key_free(b);
    ks_master_key_free(NULL);
}

static void test_master_key_perms(void **state)
{
    struct fx *f = *state;
    struct ks_master_key *mk = NULL;
    char path[320];
    fx_path(f, "k", path, sizeof(path));
    static const mode_t bad[] = {0644, 0640, 0604, 0660, 0601, 0610, 0666};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fx_write_file(f, "k", mk_bytes, 32, bad[i]);
        assert_int_equal(ks_master_key_load(path, &mk), KS_ERR_MASTER_KEY_PERMS);
        assert_null(mk);
    }
    fx_write_file(f, "k", mk_bytes, 32, 0600);
    assert_int_equal(ks_master_key_load(path, &mk), KS_OK);
    ks_master_key_free(mk);
    mk = NULL;
    /* Not a regular file. */
    assert_int_equal(ks_master_key_load(f->dir, &mk), KS_ERR_MASTER_KEY_PERMS);
    char fifo[320];
    fx_path(f, "fifo", fifo, sizeof(fifo));
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(ks_master_key_load(fifo, &mk), KS_ERR_MASTER_KEY_PERMS);
    /* Owned by someone else (needs root to set up). */
    if (geteuid() == 0) {
        assert_int_equal(chown(path, 1, 1), 0);
        assert_int_equal(ks_master_key_load(path, &mk), KS_ERR_MASTER_KEY_PERMS);
    }
    assert_null(mk);
}

static void test_master_key_size(void **state)
{
    struct fx *f = *state;
    struct ks_master_key *mk = NULL;
    uint8_t big[33] = {0};
    char path[320];
    fx_path(f, "k", path, sizeof(path));
    static const size_t sizes[] = {0, 16, 31, 33};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        fx_write_file(f, "k", big, sizes[i], 0600);
        assert_int_equal(ks_master_key_load(path, &mk), KS_ERR_MASTER_KEY_SIZE);
        assert_null(mk);
    }
    fx_path(f, "missing", path, sizeof(path));
    assert_int_equal(ks_master_key_load(path, &mk), KS_ERR_IO);
    assert_int_equal(ks_master_key_load(NULL, &mk), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_master_key_load(path, NULL), KS_ERR_INVALID_ARG);
    assert_null(mk);
}

static void test_master_key_generate(void **state)
{
    struct fx *f = *state;
    struct ks_master_key *mk = NULL, *again = NULL;
    struct stat sb;
    char path[320];
    fx_path(f, "gen.key", path, sizeof(path));
    mode_t old = umask(0);
    int r = ks_master_key_generate(path, &mk);
    umask(old);
    assert_int_equal(r, KS_OK);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(sb.st_size, 32);
    /* Loads back as the same key. */
    assert_int_equal(ks_master_key_load(path, &again), KS_OK);
    uint8_t pt[32] = {9}, nonce[12];
    uint8_t *ct = NULL;
    size_t ct_len = 0;
    struct ks_store_secret *sec = NULL;
    assert_int_equal(ks_store_key_wrap(mk, "a", 1, KS_KEY_DEK, pt, 32, nonce, &ct, &ct_len), KS_OK);
    assert_int_equal(ks_store_key_unwrap(again, "a", 1, KS_KEY_DEK, nonce, ct, ct_len, &sec),
                     KS_OK);
    ks_store_secret_free(sec);
    free(ct);
    ks_master_key_free(again);
    again = NULL;
    /* Never overwrites. */
    assert_int_equal(ks_master_key_generate(path, &again), KS_ERR_STORE_EXISTS);
    assert_null(again);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, 32);
    /* A restrictive umask still leaves the owner able to read it. */
    char p2[320];
    fx_path(f, "gen2.key", p2, sizeof(p2));
    old = umask(0777);
    r = ks_master_key_generate(p2, &again);
    umask(old);
    assert_int_equal(r, KS_OK);
    assert_int_equal(stat(p2, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    ks_master_key_free(again);
    ks_master_key_free(mk);
    fx_path(f, "nodir/x.key", p2, sizeof(p2));
    assert_int_equal(ks_master_key_generate(p2, &again), KS_ERR_IO);
    assert_int_equal(ks_master_key_generate(NULL, &again), KS_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kat_key_unwrap, fx_setup_dir, fx_teardown),
        cmocka_unit_test_setup_teardown(test_kat_meta_unwrap, fx_setup_dir, fx_teardown),
        cmocka_unit_test_setup_teardown(test_wrap_roundtrip_and_binding, fx_setup_dir, fx_teardown),
        cmocka_unit_test_setup_teardown(test_wrap_args, fx_setup_dir, fx_teardown),
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test_setup_teardown(test_master_key_load_ok, fx_setup_dir, fx_teardown),
        cmocka_unit_test_setup_teardown(test_master_key_perms, fx_setup_dir, fx_teardown),
        cmocka_unit_test_setup_teardown(test_master_key_size, fx_setup_dir, fx_teardown),
        cmocka_unit_test_setup_teardown(test_master_key_generate, fx_setup_dir, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
