/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include <openssl/crypto.h>
#include <sys/mman.h>

#include "loader-ref/secmem.h"

/*
 * Where the loader's secrets live, read back from /proc/self/smaps (the
 * file gcore and the kernel's core dumper follow): libgcrypt's pool and
 * OpenSSL's secure heap excluded from dumps, page buffers excluded and
 * locked. The tests run in order in one process: the first initialises.
 * Locking depends on RLIMIT_MEMLOCK, so it is asserted only where the
 * library said it worked; exclusion from dumps never depends on it.
 */

static void test_init(void **state)
{
    (void)state;
    char note[256];
    struct ks_secmem_mapping m;
    assert_int_equal(ks_secmem_init(0, true, note, sizeof(note)), KS_OK);
    uint8_t *k = ks_secmem_alloc(32);
    assert_non_null(k);
    for (int i = 0; i < 32; i++) {
        assert_int_equal(k[i], 0);
    }
    assert_int_equal(ks_secmem_mapping_of(k, &m), KS_OK);
    assert_true(m.anonymous);
    assert_true(m.dontdump);
    assert_true(m.end - m.start >= KS_SECMEM_POOL_DEFAULT);
    ks_secmem_free(k, 32);
    ks_secmem_free(NULL, 32);
    /* OpenSSL's heap too. */
    assert_true(CRYPTO_secure_malloc_initialized());
    void *o = OPENSSL_secure_malloc(32);
    assert_non_null(o);
    assert_true(CRYPTO_secure_allocated(o));
    assert_int_equal(ks_secmem_mapping_of(o, &m), KS_OK);
    assert_true(m.dontdump);
    OPENSSL_secure_free(o);
    /* A second initialisation is refused: libgcrypt is set up once. */
    assert_int_equal(ks_secmem_init(0, true, note, sizeof(note)), KS_ERR_SECMEM);
    assert_non_null(strstr(note, "initialised before"));
}

static void test_pool_exhausted(void **state)
{
    (void)state;
    /* No silent fallback to ordinary memory when the pool is full. */
    void *blocks[4096];
    size_t n = 0;
    while (n < 4096 && (blocks[n] = ks_secmem_alloc(1024)) != NULL) {
        n++;
    }
    assert_true(n < 4096);
    assert_true(n * 1024 <= KS_SECMEM_POOL_DEFAULT);
    while (n > 0) {
        ks_secmem_free(blocks[--n], 1024);
    }
}

/* Whether mlock shows in smaps in this process: sanitizers intercept mlock
 * and make it a no-op that returns success. */
static bool mlock_observable(void)
{
    struct ks_secmem_mapping m;
    bool seen = false;
    void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(page != MAP_FAILED);
    if (mlock(page, 4096) == 0) {
        seen = ks_secmem_mapping_of(page, &m) == KS_OK && m.locked_flag;
        munlock(page, 4096);
    }
    munmap(page, 4096);
    return seen;
}

static void test_lockbuf(void **state)
{
    (void)state;
    struct ks_lockbuf b;
    struct ks_secmem_mapping m;
    assert_int_equal(ks_lockbuf_alloc(10000, true, &b), KS_OK);
    assert_int_equal(b.len, 10000);
    assert_int_equal(b.map_len % 4096, 0);
    assert_true(b.map_len >= 10000);
    memset(b.p, 0x77, b.len);
    assert_int_equal(ks_secmem_mapping_of(b.p + 5000, &m), KS_OK);
    assert_int_equal(m.start, (uintptr_t)b.p);
    assert_int_equal(m.end - m.start, b.map_len);
    assert_true(m.anonymous);
    assert_true(m.dontdump);
    if (b.locked && mlock_observable()) {
        assert_true(m.locked_flag);
        assert_int_equal(m.locked_kb * 1024, b.map_len);
    }
    ks_lockbuf_free(&b);
    assert_null(b.p);
    ks_lockbuf_free(&b);
    ks_lockbuf_free(NULL);
    assert_int_equal(ks_lockbuf_alloc(0, true, &b), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_lockbuf_alloc(SIZE_MAX - 10, true, &b), KS_ERR_TOO_LARGE);
}

static void test_mapping_of(void **state)
{
    (void)state;
    struct ks_secmem_mapping m;
    static int in_data;
    assert_int_equal(ks_secmem_mapping_of(&in_data, &m), KS_OK);
    assert_false(m.anonymous); /* the program's file */
    assert_false(m.dontdump);
    void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(page != MAP_FAILED);
    assert_int_equal(ks_secmem_mapping_of(page, &m), KS_OK);
    assert_true(m.anonymous);
    assert_false(m.dontdump);
    munmap(page, 4096);
    assert_int_equal(ks_secmem_mapping_of((void *)16, &m), KS_ERR_NOT_FOUND);
    assert_int_equal(ks_secmem_mapping_of(NULL, &m), KS_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_pool_exhausted),
        cmocka_unit_test(test_lockbuf),
        cmocka_unit_test(test_mapping_of),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
