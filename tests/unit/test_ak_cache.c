/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include <pthread.h>
#include <stdbool.h>

#include "encoding.h"
#include "keyserverd/ak_cache.h"
#include "quote.h"
#include "tpm_public.h"

/*
 * ks_ak_cache (keyserverd/ak_cache.h). The AKs and their Names are tpm2-tools'
 * outputs (the ak.name files and expected.json under tests/data/quotes/), and a cached
 * AK must still verify the quote that swtpm made with it.
 */

#define SWTPM_DIR "quotes/swtpm-rsa-rsassa/"
#define KEYLIME_DIR "quotes/keylime-tpm2-tools-fixture/"
/* expected.json "ak.name" of each fixture (tpm2-tools). */
#define SWTPM_AK_ID "000b5f2f0e343a0e1677edb68bba487dd6930c8e41ac780085cc7a681e87679e35bb"
#define KEYLIME_AK_ID "000b2d3fb7830f6cb214fac7d7cb213a21a0609148c4505927db61287e1e80322336"

struct blob {
    uint8_t *p;
    size_t len;
};

static struct blob load(const char *rel)
{
    struct blob b;
    b.p = unit_read(rel, &b.len);
    return b;
}

/* The Name in ak.name (binary) as lowercase hex: must be the id we use. */
static void check_name_file(const char *rel, const char *want)
{
    struct blob b = load(rel);
    char hex[2 * 66 + 1];
    assert_true(b.len * 2 < sizeof(hex));
    ks_hex_encode(b.p, b.len, hex);
    assert_string_equal(hex, want);
    free(b.p);
}

/* The cached AK verifies the genuine swtpm quote and refuses a tampered one. */
static void verifies_swtpm_quote(const struct ks_quote_ak *ak)
{
    struct blob attest = load(SWTPM_DIR "quote.tpms_attest.bin");
    struct blob sig = load(SWTPM_DIR "quote.tpmt_signature.bin");
    struct blob nonce = load(SWTPM_DIR "nonce.bin");
    struct blob bad = load(SWTPM_DIR "TAMPERED_quote.tpmt_signature.flipbyte.bin");
    assert_int_equal(
        ks_quote_verify(ak, attest.p, attest.len, sig.p, sig.len, nonce.p, nonce.len, NULL, NULL),
        KS_OK);
    assert_int_not_equal(
        ks_quote_verify(ak, attest.p, attest.len, bad.p, bad.len, nonce.p, nonce.len, NULL, NULL),
        KS_OK);
    free(attest.p);
    free(sig.p);
    free(nonce.p);
    free(bad.p);
}

static void test_get_parses_once(void **state)
{
    (void)state;
    check_name_file(SWTPM_DIR "ak.name", SWTPM_AK_ID);
    struct blob pub = load(SWTPM_DIR "ak.tpm2b_public.bin");
    struct ks_ak_cache *c = NULL;
    assert_int_equal(ks_ak_cache_new(4, &c), KS_OK);
    const struct ks_quote_ak *a = NULL, *b = NULL;
    struct ks_quote_ak *owned = (struct ks_quote_ak *)&owned;
    assert_int_equal(ks_ak_cache_get(c, SWTPM_AK_ID, pub.p, pub.len, &a, &owned), KS_OK);
    assert_non_null(a);
    assert_null(owned);
    verifies_swtpm_quote(a);
    /* The same pointer again. */
    assert_int_equal(ks_ak_cache_get(c, SWTPM_AK_ID, pub.p, pub.len, &b, &owned), KS_OK);
    assert_ptr_equal(a, b);
    assert_null(owned);
    /* Not parsed again: an entry is found by its id alone (the id is the
     * hash of the public area, so the stored blob cannot differ). */
    uint8_t junk[4] = {0, 2, 0xde, 0xad};
    b = NULL;
    assert_int_equal(ks_ak_cache_get(c, SWTPM_AK_ID, junk, sizeof(junk), &b, &owned), KS_OK);
    assert_ptr_equal(a, b);
    /* A second AK has its own entry; the first one stays. */
    struct blob pub2 = load(KEYLIME_DIR "ak.pub");
    check_name_file(KEYLIME_DIR "ak.name", KEYLIME_AK_ID);
    const struct ks_quote_ak *k = NULL;
    assert_int_equal(ks_ak_cache_get(c, KEYLIME_AK_ID, pub2.p, pub2.len, &k, &owned), KS_OK);
    assert_null(owned);
    assert_ptr_not_equal(k, a);
    assert_int_equal(ks_ak_cache_get(c, SWTPM_AK_ID, pub.p, pub.len, &b, &owned), KS_OK);
    assert_ptr_equal(a, b);
    assert_int_equal(ks_ak_cache_get(c, KEYLIME_AK_ID, pub2.p, pub2.len, &b, &owned), KS_OK);
    assert_ptr_equal(k, b);
    ks_ak_cache_free(c);
    free(pub.p);
    free(pub2.p);
}

static void test_wrong_id(void **state)
{
    (void)state;
    struct blob pub = load(SWTPM_DIR "ak.tpm2b_public.bin");
    struct ks_ak_cache *c = NULL;
    assert_int_equal(ks_ak_cache_new(4, &c), KS_OK);
    const struct ks_quote_ak *a = (const struct ks_quote_ak *)&pub;
    struct ks_quote_ak *owned = (struct ks_quote_ak *)&pub;
    /* The other fixture's Name, one digit changed, the right digest under
     * another nameAlg, upper case: none is this blob's Name. */
    static const char *const wrong[] = {
        KEYLIME_AK_ID,
        "000b5f2f0e343a0e1677edb68bba487dd6930c8e41ac780085cc7a681e87679e35bc",
        "000c5f2f0e343a0e1677edb68bba487dd6930c8e41ac780085cc7a681e87679e35bb",
        "000B5F2F0E343A0E1677EDB68BBA487DD6930C8E41AC780085CC7A681E87679E35BB",
        "000b5f2f0e343a0e1677edb68bba487dd6930c8e41ac780085cc7a681e87679e35",
        "",
    };
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        assert_int_equal(ks_ak_cache_get(c, wrong[i], pub.p, pub.len, &a, &owned), KS_ERR_TPM_NAME);
        /* Outputs untouched on failure. */
        assert_ptr_equal(a, (const struct ks_quote_ak *)&pub);
        assert_ptr_equal(owned, (struct ks_quote_ak *)&pub);
    }
    /* Nothing was cached under a wrong id: the right id still parses (and
     * a junk blob under a wrong id is not found in the cache either). */
    uint8_t junk[4] = {0, 2, 0xde, 0xad};
    assert_int_not_equal(ks_ak_cache_get(c, wrong[0], junk, sizeof(junk), &a, &owned), KS_OK);
    assert_int_equal(ks_ak_cache_get(c, SWTPM_AK_ID, pub.p, pub.len, &a, &owned), KS_OK);
    assert_null(owned);
    verifies_swtpm_quote(a);
    ks_ak_cache_free(c);
    free(pub.p);
}

static void test_not_an_ak(void **state)
{
    (void)state;
    /* The keylime fixture's EK: a TPM2B_PUBLIC of a restricted decryption
     * key (a storage key), which must never verify quotes. */
    struct blob ek = load(KEYLIME_DIR "ek.pub");
    assert_true(ek.len > 2);
    assert_int_equal((size_t)(ek.p[0] << 8 | ek.p[1]) + 2, ek.len);
    TPMT_PUBLIC pub;
    assert_int_equal(ks_tpm_public_decode(ek.p, ek.len, &pub), KS_OK);
    char ek_id[KS_TPM_NAME_HEX_MAX + 1];
    assert_int_equal(ks_tpm_public_name_hex(&pub, ek_id), KS_OK);
    struct ks_ak_cache *c = NULL;
    assert_int_equal(ks_ak_cache_new(4, &c), KS_OK);
    const struct ks_quote_ak *a = NULL;
    struct ks_quote_ak *owned = NULL;
    /* Refused for its attributes, also under its own correct Name. */
    assert_int_equal(ks_ak_cache_get(c, ek_id, ek.p, ek.len, &a, &owned), KS_ERR_TPM_ATTRIBUTES);
    assert_null(a);
    /* An AK blob with its sign bit cleared and decrypt set (the Name is
     * then another, but the attributes are judged first). */
    struct blob ak = load(SWTPM_DIR "ak.tpm2b_public.bin");
    assert_int_equal(ks_tpm_public_decode(ak.p, ak.len, &pub), KS_OK);
    /* TPMA_OBJECT is at offset 2 (size) + 2 (type) + 2 (nameAlg), big endian. */
    uint32_t attrs =
        (uint32_t)ak.p[6] << 24 | (uint32_t)ak.p[7] << 16 | (uint32_t)ak.p[8] << 8 | ak.p[9];
    assert_int_equal(attrs, pub.objectAttributes);
    attrs = (attrs & ~(uint32_t)TPMA_OBJECT_SIGN_ENCRYPT) | TPMA_OBJECT_DECRYPT;
    ak.p[6] = (uint8_t)(attrs >> 24);
    ak.p[7] = (uint8_t)(attrs >> 16);
    ak.p[8] = (uint8_t)(attrs >> 8);
    ak.p[9] = (uint8_t)attrs;
    assert_int_equal(ks_tpm_public_decode(ak.p, ak.len, &pub), KS_OK);
    char id[KS_TPM_NAME_HEX_MAX + 1];
    assert_int_equal(ks_tpm_public_name_hex(&pub, id), KS_OK);
    assert_int_equal(ks_ak_cache_get(c, id, ak.p, ak.len, &a, &owned), KS_ERR_TPM_ATTRIBUTES);
    /* Blobs that do not decode: the decoder's error, never cached. */
    assert_int_equal(ks_ak_cache_get(c, SWTPM_AK_ID, ak.p, ak.len - 1, &a, &owned) < 0, 1);
    uint8_t empty[2] = {0, 0};
    assert_int_equal(ks_ak_cache_get(c, SWTPM_AK_ID, empty, sizeof(empty), &a, &owned) < 0, 1);
    assert_null(a);
    ks_ak_cache_free(c);
    free(ek.p);
    free(ak.p);
}

static void test_full_cache_owned(void **state)
{
    (void)state;
    struct blob pub = load(SWTPM_DIR "ak.tpm2b_public.bin");
    struct blob pub2 = load(KEYLIME_DIR "ak.pub");
    struct ks_ak_cache *c = NULL;
    assert_int_equal(ks_ak_cache_new(1, &c), KS_OK);
    const struct ks_quote_ak *k = NULL, *a = NULL, *b = NULL;
    struct ks_quote_ak *owned = NULL, *owned2 = NULL;
    assert_int_equal(ks_ak_cache_get(c, KEYLIME_AK_ID, pub2.p, pub2.len, &k, &owned), KS_OK);
    assert_null(owned);
    /* Full: a new AK is parsed for this caller and handed over. */
    assert_int_equal(ks_ak_cache_get(c, SWTPM_AK_ID, pub.p, pub.len, &a, &owned), KS_OK);
    assert_non_null(owned);
    assert_ptr_equal(a, owned);
    verifies_swtpm_quote(a);
    /* Not kept: the next call parses a new one. */
    assert_int_equal(ks_ak_cache_get(c, SWTPM_AK_ID, pub.p, pub.len, &b, &owned2), KS_OK);
    assert_non_null(owned2);
    assert_ptr_not_equal(owned, owned2);
    ks_quote_ak_free(owned);
    ks_quote_ak_free(owned2);
    /* The cached one is still served from the cache. */
    assert_int_equal(ks_ak_cache_get(c, KEYLIME_AK_ID, pub2.p, pub2.len, &b, &owned), KS_OK);
    assert_ptr_equal(k, b);
    assert_null(owned);
    ks_ak_cache_free(c);
    free(pub.p);
    free(pub2.p);
}

static void test_args(void **state)
{
    (void)state;
    struct ks_ak_cache *c = NULL;
    assert_int_equal(ks_ak_cache_new(0, &c), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_ak_cache_new(1000001, &c), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_ak_cache_new(4, NULL), KS_ERR_INVALID_ARG);
    assert_null(c);
    ks_ak_cache_free(NULL);
    assert_int_equal(ks_ak_cache_new(4, &c), KS_OK);
    struct blob pub = load(SWTPM_DIR "ak.tpm2b_public.bin");
    const struct ks_quote_ak *a = NULL;
    struct ks_quote_ak *owned = NULL;
    assert_int_equal(ks_ak_cache_get(NULL, SWTPM_AK_ID, pub.p, pub.len, &a, &owned),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_ak_cache_get(c, NULL, pub.p, pub.len, &a, &owned), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_ak_cache_get(c, SWTPM_AK_ID, NULL, 0, &a, &owned), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_ak_cache_get(c, SWTPM_AK_ID, pub.p, pub.len, NULL, &owned),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_ak_cache_get(c, SWTPM_AK_ID, pub.p, pub.len, &a, NULL), KS_ERR_INVALID_ARG);
    /* An id longer than any Name. */
    char longid[KS_TPM_NAME_HEX_MAX + 2];
    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    assert_int_equal(ks_ak_cache_get(c, longid, pub.p, pub.len, &a, &owned), KS_ERR_INVALID_ARG);
    assert_null(a);
    ks_ak_cache_free(c);
    free(pub.p);
}

/* ---- threads ------------------------------------------------------------- */

#define THREADS 8
#define ROUNDS 50

struct racer {
    struct ks_ak_cache *cache;
    pthread_barrier_t *start;
    struct blob pubs[2];
    const char *ids[2];
    const struct ks_quote_ak *seen[ROUNDS];
    int failures;
    unsigned owned_count;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    pthread_barrier_wait(r->start);
    for (unsigned i = 0; i < ROUNDS; i++) {
        unsigned which = i % 2;
        const struct ks_quote_ak *ak = NULL;
        struct ks_quote_ak *owned = NULL;
        if (ks_ak_cache_get(r->cache, r->ids[which], r->pubs[which].p, r->pubs[which].len, &ak,
                            &owned) != KS_OK ||
            !ak) {
            r->failures++;
            continue;
        }
        if (owned) {
            r->owned_count++;
            ks_quote_ak_free(owned);
            ak = NULL; /* gone: record nothing */
        }
        r->seen[i] = ak;
    }
    return NULL;
}

/* Many threads asking for the same ids at once: every call succeeds, all
 * threads get the same object per id (never a second parse kept). With a
 * cache of one entry, the other id is handed out owned, every time. */
static void run_race(size_t max_entries, bool two_ids)
{
    struct blob pub = load(SWTPM_DIR "ak.tpm2b_public.bin");
    struct blob pub2 = load(KEYLIME_DIR "ak.pub");
    struct ks_ak_cache *c = NULL;
    assert_int_equal(ks_ak_cache_new(max_entries, &c), KS_OK);
    pthread_barrier_t start;
    assert_int_equal(pthread_barrier_init(&start, NULL, THREADS), 0);
    struct racer *rs = calloc(THREADS, sizeof(*rs));
    pthread_t th[THREADS];
    assert_non_null(rs);
    for (unsigned t = 0; t < THREADS; t++) {
        rs[t].cache = c;
        rs[t].start = &start;
        rs[t].pubs[0] = pub;
        rs[t].ids[0] = SWTPM_AK_ID;
        rs[t].pubs[1] = two_ids ? pub2 : pub;
        rs[t].ids[1] = two_ids ? KEYLIME_AK_ID : SWTPM_AK_ID;
        assert_int_equal(pthread_create(&th[t], NULL, race, &rs[t]), 0);
    }
    for (unsigned t = 0; t < THREADS; t++) {
        assert_int_equal(pthread_join(th[t], NULL), 0);
    }
    pthread_barrier_destroy(&start);
    const struct ks_quote_ak *first[2] = {NULL, NULL};
    unsigned owned = 0;
    for (unsigned t = 0; t < THREADS; t++) {
        assert_int_equal(rs[t].failures, 0);
        owned += rs[t].owned_count;
        for (unsigned i = 0; i < ROUNDS; i++) {
            const struct ks_quote_ak *ak = rs[t].seen[i];
            if (!ak) {
                continue;
            }
            unsigned which = two_ids ? i % 2 : 0;
            if (!first[which]) {
                first[which] = ak;
            }
            assert_ptr_equal(ak, first[which]);
        }
    }
    if (two_ids && max_entries >= 2) {
        assert_non_null(first[0]);
        assert_non_null(first[1]);
        assert_ptr_not_equal(first[0], first[1]);
        assert_int_equal(owned, 0);
    } else if (two_ids) {
        /* One id won the only slot; every call for the other was owned. */
        assert_true((first[0] == NULL) != (first[1] == NULL));
        assert_int_equal(owned, THREADS * ROUNDS / 2);
    } else {
        assert_non_null(first[0]);
        assert_int_equal(owned, 0);
    }
    if (first[0]) {
        verifies_swtpm_quote(first[0]);
    }
    free(rs);
    ks_ak_cache_free(c);
    free(pub.p);
    free(pub2.p);
}

static void test_threads_same_id(void **state)
{
    (void)state;
    run_race(4, false);
}

static void test_threads_two_ids(void **state)
{
    (void)state;
    run_race(4, true);
}

static void test_threads_full(void **state)
{
    (void)state;
    run_race(1, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_parses_once),
        cmocka_unit_test(test_wrong_id),
        cmocka_unit_test(test_not_an_ak),
        cmocka_unit_test(test_full_cache_owned),
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_threads_same_id),
        cmocka_unit_test(test_threads_two_ids),
        cmocka_unit_test(test_threads_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
