/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "sealed.h"
#include "sealed_internal.h"

/*
 * lib/sealed: round trips (OpenSSL seals, libgcrypt unseals) at the sizes
 * around chunk boundaries and with several thread counts; the known-answer
 * vectors of tests/data/sealed (Python cryptography); and every refusal:
 * reordered, truncated and extended files, each header field tampered, the
 * body tampered, wrong key, wrong key name or version, wrong digest, sink
 * errors, bad arguments. A refused unseal never leaves plaintext behind in
 * the destination buffer.
 */

#define CHUNK 4096u

static const uint8_t KEY[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t NONCE[12] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5,
                                  0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab};

static int mem_file(const uint8_t *buf, size_t len)
{
    int fd = memfd_create("sealed-test", MFD_CLOEXEC);
    assert_true(fd >= 0);
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, buf + off, len - off);
        assert_true(n > 0);
        off += (size_t)n;
    }
    return fd;
}

static uint8_t *file_bytes(int fd, size_t *ret_len)
{
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    assert_non_null(buf);
    assert_int_equal(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
    *ret_len = (size_t)st.st_size;
    return buf;
}

static uint8_t *pattern(size_t len, unsigned seed)
{
    uint8_t *p = malloc(len + 1);
    assert_non_null(p);
    for (size_t i = 0; i < len; i++) {
        p[i] = (uint8_t)((i * 131 + seed * 7 + (i >> 8)) & 0xff);
    }
    return p;
}

/* Seal `plain` into a new memfd-backed buffer; returns its bytes. */
static uint8_t *seal_bytes(const uint8_t *plain, size_t len, uint32_t chunk, const char *name,
                           uint32_t version, size_t *ret_len)
{
    int in = mem_file(plain, len);
    int out = memfd_create("sealed-out", MFD_CLOEXEC);
    struct ks_seal_params p = {
        .key_name = name, .key_version = version, .chunk_size = chunk, .nonce_base = NULL};
    struct ks_seal_header h;
    assert_int_equal(ks_seal_fd(in, out, &p, KEY, &h), KS_OK);
    assert_int_equal(h.plain_len, len);
    uint8_t *s = file_bytes(out, ret_len);
    assert_int_equal(*ret_len, ks_seal_file_size(&h));
    close(in);
    close(out);
    return s;
}

/* Unseal the sealed bytes into a fresh buffer; the code, the plaintext in
 * *ret_plain (left allocated either way, for the wipe checks). */
static int unseal_bytes(const uint8_t *sealed, size_t len, const uint8_t *key, const char *name,
                        uint32_t version, unsigned threads, unsigned flags, uint8_t **ret_plain,
                        size_t *ret_plain_len)
{
    int fd = mem_file(sealed, len);
    struct ks_unseal *u = NULL;
    int r = ks_unseal_open(fd, name, version, &u);
    *ret_plain = NULL;
    *ret_plain_len = 0;
    if (r == KS_OK) {
        size_t n = (size_t)ks_unseal_header(u)->plain_len;
        *ret_plain = calloc(1, n + 1);
        assert_non_null(*ret_plain);
        *ret_plain_len = n;
        r = ks_unseal_to_buffer(u, key, *ret_plain, n, threads, flags);
    }
    ks_unseal_free(u);
    close(fd);
    return r;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0) {
            return false;
        }
    }
    return true;
}

/* Expect refusal `want`; when the header passed, the buffer must be wiped. */
static void expect_refused(const uint8_t *sealed, size_t len, const uint8_t *key, const char *name,
                           uint32_t version, int want)
{
    static const unsigned threads[] = {1, 3};
    for (size_t t = 0; t < 2; t++) {
        uint8_t *plain = NULL;
        size_t n = 0;
        int r = unseal_bytes(sealed, len, key, name, version, threads[t], 0, &plain, &n);
        assert_int_equal(r, want);
        if (plain) {
            assert_true(all_zero(plain, n));
        }
        free(plain);
    }
}

static void test_key_name_valid(void **state)
{
    char long_name[66];
    assert_true(ks_seal_key_name_valid("weights-dek"));
    assert_true(ks_seal_key_name_valid("A.b_c-9"));
    assert_false(ks_seal_key_name_valid(""));
    assert_false(ks_seal_key_name_valid(NULL));
    assert_false(ks_seal_key_name_valid("with space"));
    assert_false(ks_seal_key_name_valid("a/b"));
    assert_false(ks_seal_key_name_valid("caf\xc3\xa9"));
    memset(long_name, 'x', 64);
    long_name[64] = '\0';
    assert_true(ks_seal_key_name_valid(long_name));
    long_name[64] = 'x';
    long_name[65] = '\0';
    assert_false(ks_seal_key_name_valid(long_name));
}

static void roundtrip(size_t len, uint32_t chunk, const unsigned *threads, size_t n_threads)
{
    uint8_t *plain = pattern(len, (unsigned)len);
    size_t slen, n;
    uint8_t *sealed = seal_bytes(plain, len, chunk, "dek", 1, &slen);
    uint64_t chunks = len == 0 ? 1 : (len + chunk - 1) / chunk;
    assert_int_equal(slen, KS_SEAL_HEADER_MIN + 2 + len + 16 * chunks);
    for (size_t t = 0; t < n_threads; t++) {
        uint8_t *out = NULL;
        assert_int_equal(unseal_bytes(sealed, slen, KEY, "dek", 1, threads[t], 0, &out, &n), KS_OK);
        assert_int_equal(n, len);
        assert_memory_equal(out, plain, len);
        free(out);
    }
    free(sealed);
    free(plain);
}

static void test_roundtrip_sizes(void **state)
{
    static const size_t sizes[] = {0,         1,         CHUNK - 1,       CHUNK,
                                   CHUNK + 1, 2 * CHUNK, 7 * CHUNK + 123, 64 * CHUNK};
    static const unsigned threads[] = {1, 2, 3, 8, KS_SEAL_MAX_THREADS};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        roundtrip(sizes[i], CHUNK, threads, 5);
    }
}

static void test_roundtrip_default_chunk(void **state)
{
    static const unsigned threads[] = {1, 2};
    size_t len = 2 * KS_SEAL_CHUNK_DEFAULT + 12345;
    uint8_t *plain = pattern(len, 9);
    size_t slen, n;
    uint8_t *sealed = seal_bytes(plain, len, 0, "dek", 1, &slen);
    struct ks_seal_header h;
    assert_int_equal(ks_seal_header_parse(sealed, slen, &h), KS_OK);
    assert_int_equal(h.chunk_size, KS_SEAL_CHUNK_DEFAULT);
    assert_int_equal(ks_seal_chunk_count(&h), 3);
    for (size_t t = 0; t < 2; t++) {
        uint8_t *out = NULL;
        assert_int_equal(unseal_bytes(sealed, slen, KEY, NULL, 0, threads[t], 0, &out, &n), KS_OK);
        assert_memory_equal(out, plain, len);
        free(out);
    }
    free(sealed);
    free(plain);
}

static void test_kat_unseal(void **state)
{
    size_t klen, plen, slen, n;
    uint8_t *key = unit_read("sealed/kat.key", &klen);
    uint8_t *plain = unit_read("sealed/kat.plain", &plen);
    uint8_t *sealed = unit_read("sealed/kat.sealed", &slen);
    assert_int_equal(klen, 32);
    for (unsigned t = 1; t <= 3; t++) {
        uint8_t *out = NULL;
        assert_int_equal(unseal_bytes(sealed, slen, key, "kat-key.v1", 7, t, 0, &out, &n), KS_OK);
        assert_int_equal(n, plen);
        assert_memory_equal(out, plain, plen);
        free(out);
    }
    struct ks_seal_header h;
    assert_int_equal(ks_seal_header_parse(sealed, slen, &h), KS_OK);
    assert_int_equal(h.chunk_size, 4096);
    assert_int_equal(h.plain_len, 10000);
    assert_string_equal(h.key_name, "kat-key.v1");
    assert_int_equal(h.key_version, 7);
    assert_int_equal(h.header_len, KS_SEAL_HEADER_MIN - 1 + 10);
    assert_int_equal(ks_seal_chunk_count(&h), 3);
    assert_int_equal(ks_seal_file_size(&h), slen);
    free(key);
    free(plain);
    free(sealed);
}

static void test_kat_seal(void **state)
{
    size_t klen, plen, slen, got_len;
    uint8_t *key = unit_read("sealed/kat.key", &klen);
    uint8_t *plain = unit_read("sealed/kat.plain", &plen);
    uint8_t *want = unit_read("sealed/kat.sealed", &slen);
    int in = mem_file(plain, plen);
    int out = memfd_create("kat", MFD_CLOEXEC);
    struct ks_seal_params p = {
        .key_name = "kat-key.v1", .key_version = 7, .chunk_size = 4096, .nonce_base = NONCE};
    assert_int_equal(ks_seal_fd(in, out, &p, key, NULL), KS_OK);
    uint8_t *got = file_bytes(out, &got_len);
    assert_int_equal(got_len, slen);
    assert_memory_equal(got, want, slen);
    close(in);
    close(out);
    free(got);
    free(key);
    free(plain);
    free(want);
}

static void test_kat_empty(void **state)
{
    size_t klen, slen, n, got_len;
    uint8_t *key = unit_read("sealed/kat.key", &klen);
    uint8_t *want = unit_read("sealed/kat-empty.sealed", &slen);
    uint8_t *out = NULL;
    assert_int_equal(unseal_bytes(want, slen, key, "empty", 1, 2, 0, &out, &n), KS_OK);
    assert_int_equal(n, 0);
    free(out);
    int in = memfd_create("empty", MFD_CLOEXEC);
    int o = memfd_create("empty-out", MFD_CLOEXEC);
    struct ks_seal_params p = {
        .key_name = "empty", .key_version = 1, .chunk_size = 4096, .nonce_base = NONCE};
    assert_int_equal(ks_seal_fd(in, o, &p, key, NULL), KS_OK);
    uint8_t *got = file_bytes(o, &got_len);
    assert_int_equal(got_len, slen);
    assert_memory_equal(got, want, slen);
    /* The empty file's single chunk is a bare tag: dropping it truncates. */
    expect_refused(want, slen - 16, key, NULL, 0, KS_ERR_SEAL_TRUNCATED);
    close(in);
    close(o);
    free(got);
    free(key);
    free(want);
}

/* A sealed file of 4 chunks (3 full, 1 of 10 bytes) to tamper with. */
static uint8_t *sample(size_t *ret_len, struct ks_seal_header *ret_h)
{
    uint8_t *plain = pattern(3 * CHUNK + 10, 5);
    uint8_t *s = seal_bytes(plain, 3 * CHUNK + 10, CHUNK, "dek", 1, ret_len);
    assert_int_equal(ks_seal_header_parse(s, *ret_len, ret_h), KS_OK);
    free(plain);
    return s;
}

static void test_reordered(void **state)
{
    size_t len;
    struct ks_seal_header h;
    uint8_t *s = sample(&len, &h);
    size_t body = CHUNK + 16;
    uint8_t *tmp = malloc(body);
    uint8_t *c0 = s + ks_seal_chunk_offset(&h, 0), *c1 = s + ks_seal_chunk_offset(&h, 1);
    memcpy(tmp, c0, body);
    memcpy(c0, c1, body);
    memcpy(c1, tmp, body);
    expect_refused(s, len, KEY, "dek", 1, KS_ERR_SEAL_AUTH);
    /* A full chunk moved to the end (in place of the short last one, length
     * fixed up to match) fails too: its index and last flag are bound. */
    free(tmp);
    free(s);
}

static void test_truncated(void **state)
{
    size_t len;
    struct ks_seal_header h;
    uint8_t *s = sample(&len, &h);
    /* At a chunk boundary: the last chunk dropped. */
    expect_refused(s, ks_seal_chunk_offset(&h, 3), KEY, "dek", 1, KS_ERR_SEAL_TRUNCATED);
    /* Mid-chunk. */
    expect_refused(s, ks_seal_chunk_offset(&h, 2) + 100, KEY, "dek", 1, KS_ERR_SEAL_TRUNCATED);
    /* Into the header. */
    expect_refused(s, 20, KEY, "dek", 1, KS_ERR_SEAL_HEADER_TRUNCATED);
    expect_refused(s, h.header_len - 1, KEY, "dek", 1, KS_ERR_SEAL_HEADER_TRUNCATED);
    /* The last chunk dropped AND the header's length fixed to match: the
     * header digest changes, every tag fails (and chunk 2 is not "last"). */
    uint8_t *t = malloc(len);
    memcpy(t, s, len);
    uint64_t shorter = 3 * CHUNK;
    for (int i = 0; i < 8; i++) {
        t[16 + i] = (uint8_t)(shorter >> (56 - 8 * i));
    }
    expect_refused(t, ks_seal_chunk_offset(&h, 3), KEY, "dek", 1, KS_ERR_SEAL_AUTH);
    free(t);
    free(s);
}

static void test_extended(void **state)
{
    size_t len;
    struct ks_seal_header h;
    uint8_t *s = sample(&len, &h);
    uint8_t *t = malloc(len + CHUNK + 16);
    memcpy(t, s, len);
    t[len] = 0;
    expect_refused(t, len + 1, KEY, "dek", 1, KS_ERR_SEAL_TRAILING);
    /* A whole chunk's worth appended (a copy of chunk 0). */
    memcpy(t + len, s + ks_seal_chunk_offset(&h, 0), CHUNK + 16);
    expect_refused(t, len + CHUNK + 16, KEY, "dek", 1, KS_ERR_SEAL_TRAILING);
    free(t);
    free(s);
}

/* The file changes between open (size checked) and run. */
static void test_changed_after_open(void **state)
{
    size_t len;
    struct ks_seal_header h;
    uint8_t *s = sample(&len, &h);
    uint8_t *out = calloc(1, h.plain_len);
    for (int grow = 0; grow < 2; grow++) {
        int fd = mem_file(s, len);
        struct ks_unseal *u = NULL;
        assert_int_equal(ks_unseal_open(fd, "dek", 1, &u), KS_OK);
        if (grow) {
            assert_int_equal(pwrite(fd, "x", 1, (off_t)len), 1);
        } else {
            assert_int_equal(ftruncate(fd, (off_t)(len - 5)), 0);
        }
        assert_int_equal(ks_unseal_to_buffer(u, KEY, out, h.plain_len, 2, 0),
                         grow ? KS_ERR_SEAL_TRAILING : KS_ERR_SEAL_TRUNCATED);
        assert_true(all_zero(out, h.plain_len));
        ks_unseal_free(u);
        close(fd);
    }
    free(out);
    free(s);
}

struct tamper {
    size_t off;
    uint8_t value; /* XOR mask when xor, else the new byte */
    bool xor ;
    const char *name; /* expected name for open, or NULL */
    uint32_t version;
    int want;
};

static void test_header_tamper(void **state)
{
    size_t len;
    struct ks_seal_header h;
    uint8_t *s = sample(&len, &h);
    /* Offsets: magic 0, version 8, chunk 12, length 16, name length 24,
     * name 25 ("dek"), key version 28, nonce 32, digest 44. */
    const struct tamper cases[] = {
        {0, 0x01, true, NULL, 0, KS_ERR_SEAL_MAGIC},
        {7, 0x01, true, NULL, 0, KS_ERR_SEAL_MAGIC},
        {11, 2, false, NULL, 0, KS_ERR_SEAL_VERSION},
        {8, 0x80, true, NULL, 0, KS_ERR_SEAL_VERSION},
        {14, 0x00, false, NULL, 0, KS_ERR_SEAL_CHUNK_SIZE},   /* 4096 -> 0 */
        {12, 0x08, false, NULL, 0, KS_ERR_SEAL_CHUNK_SIZE},   /* 128 MiB + 4096 */
        {14, 0x20, false, NULL, 0, KS_ERR_SEAL_TRAILING},     /* 8192: 2 chunks expected */
        {23, 0x01, true, NULL, 0, KS_ERR_SEAL_TRUNCATED},     /* length + 1 (or - 1) */
        {18, 0x01, true, NULL, 0, KS_ERR_SEAL_LENGTH},        /* length + 2^40 */
        {24, 0, false, NULL, 0, KS_ERR_SEAL_KEY_NAME},        /* name length 0 */
        {24, 65, false, NULL, 0, KS_ERR_SEAL_KEY_NAME},       /* name length 65 */
        {26, '/', false, NULL, 0, KS_ERR_SEAL_KEY_NAME},      /* "d/k" */
        {26, 0, false, NULL, 0, KS_ERR_SEAL_KEY_NAME},        /* "d\0k" */
        {26, 'a', false, "dek", 0, KS_ERR_SEAL_KEY_MISMATCH}, /* "dak", expected "dek" */
        {26, 'a', false, NULL, 0, KS_ERR_SEAL_AUTH},          /* "dak", any name */
        {31, 0, false, NULL, 0, KS_ERR_SEAL_KEY_VERSION},     /* version 0 */
        {31, 2, false, NULL, 1, KS_ERR_SEAL_KEY_VERSION},     /* version 2, expected 1 */
        {31, 2, false, NULL, 0, KS_ERR_SEAL_AUTH},            /* version 2, any */
        {32, 0x01, true, NULL, 0, KS_ERR_SEAL_AUTH},          /* nonce base */
        {43, 0x80, true, NULL, 0, KS_ERR_SEAL_AUTH},
        {44, 0x01, true, NULL, 0, KS_ERR_SEAL_AUTH}, /* plaintext digest */
        {75, 0x01, true, NULL, 0, KS_ERR_SEAL_AUTH},
    };
    assert_int_equal(h.header_len, 76);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t *t = malloc(len);
        memcpy(t, s, len);
        t[cases[i].off] = cases[i].xor ? t[cases[i].off] ^ cases[i].value : cases[i].value;
        print_message("# header tamper case %zu (offset %zu)\n", i, cases[i].off);
        expect_refused(t, len, KEY, cases[i].name, cases[i].version, cases[i].want);
        free(t);
    }
    free(s);
}

static void test_body_tamper(void **state)
{
    size_t len;
    struct ks_seal_header h;
    uint8_t *s = sample(&len, &h);
    const size_t offs[] = {
        ks_seal_chunk_offset(&h, 0),             /* first ciphertext byte */
        ks_seal_chunk_offset(&h, 1) + CHUNK / 2, /* mid chunk */
        ks_seal_chunk_offset(&h, 1) + CHUNK,     /* a tag */
        len - 1,                                 /* the last tag's last byte */
    };
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        uint8_t *t = malloc(len);
        memcpy(t, s, len);
        t[offs[i]] ^= 0x40;
        expect_refused(t, len, KEY, "dek", 1, KS_ERR_SEAL_AUTH);
        free(t);
    }
    free(s);
}

static void test_wrong_key(void **state)
{
    size_t len;
    struct ks_seal_header h;
    uint8_t *s = sample(&len, &h);
    uint8_t key[32];
    memcpy(key, KEY, sizeof(key));
    key[31] ^= 1;
    expect_refused(s, len, key, "dek", 1, KS_ERR_SEAL_AUTH);
    expect_refused(s, len, KEY, "other", 1, KS_ERR_SEAL_KEY_MISMATCH);
    expect_refused(s, len, KEY, "de", 1, KS_ERR_SEAL_KEY_MISMATCH);
    expect_refused(s, len, KEY, "dek", 2, KS_ERR_SEAL_KEY_VERSION);
    free(s);
}

/* A file sealed with a wrong plaintext digest in its header (only a buggy
 * or lying sealer makes one): every tag verifies, the running digest does
 * not. Built here with the format's own helpers and OpenSSL. */
static uint8_t *seal_wrong_digest(const uint8_t *plain, size_t len, size_t *ret_len)
{
    struct ks_seal_header h;
    memset(&h, 0, sizeof(h));
    h.version = 1;
    h.chunk_size = CHUNK;
    h.plain_len = len;
    strcpy(h.key_name, "dek");
    h.key_version = 1;
    memcpy(h.nonce_base, NONCE, sizeof(NONCE));
    memset(h.plain_sha256, 0x5a, sizeof(h.plain_sha256));
    uint64_t n = ks_seal_chunk_count(&h);
    uint8_t *out = malloc(KS_SEAL_HEADER_MAX + len + 16 * n);
    h.header_len = ks_seal_header_encode(&h, out);
    assert_true(EVP_Digest(out, h.header_len, h.header_digest, NULL, EVP_sha256(), NULL));
    size_t off = h.header_len;
    for (uint64_t i = 0; i < n; i++) {
        uint8_t nonce[12], aad[KS_SEAL_AAD_LEN];
        size_t cl = ks_seal_chunk_len(&h, i);
        int outl;
        ks_seal_chunk_nonce(&h, i, nonce);
        ks_seal_chunk_aad(&h, i, i + 1 == n, aad);
        EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
        assert_true(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, KEY, nonce));
        assert_true(EVP_EncryptUpdate(c, NULL, &outl, aad, (int)sizeof(aad)));
        assert_true(EVP_EncryptUpdate(c, out + off, &outl, plain + i * CHUNK, (int)cl));
        assert_true(EVP_EncryptFinal_ex(c, out + off + cl, &outl));
        assert_true(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + off + cl));
        EVP_CIPHER_CTX_free(c);
        off += cl + 16;
    }
    *ret_len = off;
    return out;
}

static void test_wrong_digest(void **state)
{
    size_t len, n;
    uint8_t *plain = pattern(2 * CHUNK + 1, 3);
    uint8_t *s = seal_wrong_digest(plain, 2 * CHUNK + 1, &len);
    uint8_t *out = NULL;
    expect_refused(s, len, KEY, "dek", 1, KS_ERR_SEAL_DIGEST);
    /* Documented: KS_UNSEAL_SKIP_DIGEST skips exactly this check. */
    assert_int_equal(unseal_bytes(s, len, KEY, "dek", 1, 2, KS_UNSEAL_SKIP_DIGEST, &out, &n),
                     KS_OK);
    assert_memory_equal(out, plain, n);
    free(out);
    free(s);
    free(plain);
}

/* A sink that records calls and can fail on a given chunk. */
struct rec_sink {
    pthread_mutex_t mu;
    uint8_t *dst;
    uint64_t n;
    unsigned acquired[64], committed[64];
    uint64_t fail_acquire, fail_commit; /* chunk index + 1, 0: never */
    bool null_dst;
    unsigned max_worker;
};

static int rec_acquire(void *ctx, unsigned worker, uint64_t index, uint64_t off, size_t len,
                       uint8_t **ret_dst)
{
    struct rec_sink *s = ctx;
    pthread_mutex_lock(&s->mu);
    s->acquired[index]++;
    s->max_worker = worker > s->max_worker ? worker : s->max_worker;
    pthread_mutex_unlock(&s->mu);
    assert_int_equal(off, index * CHUNK);
    if (s->fail_acquire == index + 1) {
        return KS_ERR_IO;
    }
    *ret_dst = s->null_dst ? NULL : s->dst + off;
    return KS_OK;
}

static int rec_commit(void *ctx, unsigned worker, uint64_t index, uint64_t off, uint8_t *dst,
                      size_t len)
{
    struct rec_sink *s = ctx;
    assert_ptr_equal(dst, s->dst + off);
    pthread_mutex_lock(&s->mu);
    s->committed[index]++;
    pthread_mutex_unlock(&s->mu);
    return s->fail_commit == index + 1 ? KS_ERR_NOMEM : KS_OK;
}

static int run_rec(const uint8_t *sealed, size_t len, struct rec_sink *rs, unsigned threads)
{
    int fd = mem_file(sealed, len);
    struct ks_unseal *u = NULL;
    assert_int_equal(ks_unseal_open(fd, NULL, 0, &u), KS_OK);
    struct ks_unseal_sink sink = {.ctx = rs, .acquire = rec_acquire, .commit = rec_commit};
    rs->n = ks_seal_chunk_count(ks_unseal_header(u));
    rs->dst = calloc(1, ks_unseal_header(u)->plain_len + 1);
    int r = ks_unseal_run(u, KEY, &sink, threads, 0);
    /* One run per handle. */
    assert_int_equal(ks_unseal_run(u, KEY, &sink, threads, 0), KS_ERR_INVALID_ARG);
    ks_unseal_free(u);
    close(fd);
    return r;
}

static void test_sink(void **state)
{
    size_t len;
    uint8_t *plain = pattern(20 * CHUNK + 7, 1);
    uint8_t *s = seal_bytes(plain, 20 * CHUNK + 7, CHUNK, "dek", 1, &len);
    struct rec_sink rs;

    memset(&rs, 0, sizeof(rs));
    pthread_mutex_init(&rs.mu, NULL);
    assert_int_equal(run_rec(s, len, &rs, 4), KS_OK);
    for (uint64_t i = 0; i < rs.n; i++) {
        assert_int_equal(rs.acquired[i], 1);
        assert_int_equal(rs.committed[i], 1);
    }
    assert_true(rs.max_worker < 4);
    assert_memory_equal(rs.dst, plain, 20 * CHUNK + 7);
    free(rs.dst);

    memset(&rs, 0, sizeof(rs));
    rs.fail_acquire = 6;
    assert_int_equal(run_rec(s, len, &rs, 3), KS_ERR_IO);
    assert_int_equal(rs.committed[5], 0);
    free(rs.dst);

    memset(&rs, 0, sizeof(rs));
    rs.fail_commit = 3;
    assert_int_equal(run_rec(s, len, &rs, 2), KS_ERR_NOMEM);
    free(rs.dst);

    memset(&rs, 0, sizeof(rs));
    rs.null_dst = true;
    assert_int_equal(run_rec(s, len, &rs, 2), KS_ERR_INVALID_ARG);
    free(rs.dst);

    pthread_mutex_destroy(&rs.mu);
    free(s);
    free(plain);
}

static void test_bad_args(void **state)
{
    size_t len;
    struct ks_seal_header h;
    uint8_t *s = sample(&len, &h);
    int fd = mem_file(s, len);
    struct ks_unseal *u = NULL;
    uint8_t small[16];
    int pfd[2];

    assert_int_equal(ks_seal_header_parse(NULL, 0, &h), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_unseal_open(-1, NULL, 0, &u), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_unseal_open(fd, NULL, 0, &u), KS_OK);
    assert_int_equal(ks_unseal_to_buffer(u, KEY, small, sizeof(small), 1, 0), KS_ERR_INVALID_ARG);
    struct ks_unseal_sink sink = {.ctx = NULL, .acquire = NULL};
    assert_int_equal(ks_unseal_run(u, KEY, &sink, 1, 0), KS_ERR_INVALID_ARG);
    ks_unseal_free(u);
    ks_unseal_free(NULL);

    u = NULL;
    assert_int_equal(ks_unseal_open(fd, NULL, 0, &u), KS_OK);
    uint8_t *out = malloc(h.plain_len);
    assert_int_equal(ks_unseal_to_buffer(u, KEY, out, h.plain_len, 0, 0), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_unseal_to_buffer(u, KEY, out, h.plain_len, KS_SEAL_MAX_THREADS + 1, 0),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_unseal_to_buffer(u, KEY, out, h.plain_len, 1, 0x80), KS_ERR_INVALID_ARG);
    free(out);
    ks_unseal_free(u);

    /* Not a regular file: a pipe. */
    assert_int_equal(pipe(pfd), 0);
    assert_int_equal(ks_unseal_open(pfd[0], NULL, 0, &u), KS_ERR_SEAL_NOT_REGULAR);
    int out_fd = memfd_create("o", MFD_CLOEXEC);
    struct ks_seal_params p = {.key_name = "dek"};
    assert_int_equal(ks_seal_fd(pfd[0], out_fd, &p, KEY, NULL), KS_ERR_SEAL_NOT_REGULAR);
    close(pfd[0]);
    close(pfd[1]);
    /* A closed descriptor. */
    int dead = dup(fd);
    close(dead);
    assert_int_equal(ks_unseal_open(dead, NULL, 0, &u), KS_ERR_IO);
    assert_int_equal(ks_seal_fd(dead, out_fd, &p, KEY, NULL), KS_ERR_IO);

    /* Sealing parameters. */
    p.key_name = "bad name";
    assert_int_equal(ks_seal_fd(fd, out_fd, &p, KEY, NULL), KS_ERR_SEAL_KEY_NAME);
    p.key_name = "dek";
    p.chunk_size = KS_SEAL_CHUNK_MIN - 1;
    assert_int_equal(ks_seal_fd(fd, out_fd, &p, KEY, NULL), KS_ERR_SEAL_CHUNK_SIZE);
    p.chunk_size = KS_SEAL_CHUNK_MAX + 1;
    assert_int_equal(ks_seal_fd(fd, out_fd, &p, KEY, NULL), KS_ERR_SEAL_CHUNK_SIZE);
    p.chunk_size = 0;
    assert_int_equal(ks_seal_fd(fd, out_fd, NULL, KEY, NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_seal_fd(fd, -1, &p, KEY, NULL), KS_ERR_INVALID_ARG);
    /* An input above KS_SEAL_PLAIN_MAX (sparse): refused before reading. */
    int huge = memfd_create("huge", MFD_CLOEXEC);
    assert_int_equal(ftruncate(huge, (off_t)KS_SEAL_PLAIN_MAX + 1), 0);
    assert_int_equal(ks_seal_fd(huge, out_fd, &p, KEY, NULL), KS_ERR_SEAL_LENGTH);
    close(huge);
    /* An output that cannot be written. */
    int ro = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_int_equal(ks_seal_fd(fd, ro, &p, KEY, NULL), KS_ERR_IO);
    close(ro);
    close(out_fd);
    close(fd);
    free(s);
}

/* A "regular file" whose size says 0 but that reads bytes (procfs): the
 * input grew while it was sealed. */
static void test_seal_input_changed(void **state)
{
    int in = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    int out = memfd_create("o", MFD_CLOEXEC);
    struct ks_seal_params p = {.key_name = "dek"};
    struct stat st;
    assert_true(in >= 0);
    assert_int_equal(fstat(in, &st), 0);
    assert_true(S_ISREG(st.st_mode) && st.st_size == 0);
    assert_int_equal(ks_seal_fd(in, out, &p, KEY, NULL), KS_ERR_SEAL_INPUT_CHANGED);
    close(in);
    close(out);
}

static void test_sizes(void **state)
{
    struct ks_seal_header h;
    memset(&h, 0, sizeof(h));
    h.chunk_size = 4096;
    h.header_len = 100;
    h.plain_len = 0;
    assert_int_equal(ks_seal_chunk_count(&h), 1);
    assert_int_equal(ks_seal_file_size(&h), 116);
    h.plain_len = 4096;
    assert_int_equal(ks_seal_chunk_count(&h), 1);
    h.plain_len = 4097;
    assert_int_equal(ks_seal_chunk_count(&h), 2);
    assert_int_equal(ks_seal_file_size(&h), 100 + 4097 + 32);
    assert_int_equal(ks_seal_check_file_size(&h, 100 + 4097 + 32), KS_OK);
    assert_int_equal(ks_seal_check_file_size(&h, 100 + 4097 + 31), KS_ERR_SEAL_TRUNCATED);
    assert_int_equal(ks_seal_check_file_size(&h, 100 + 4097 + 33), KS_ERR_SEAL_TRAILING);
    /* The largest length: no overflow. */
    h.plain_len = KS_SEAL_PLAIN_MAX;
    assert_int_equal(ks_seal_chunk_count(&h), KS_SEAL_PLAIN_MAX / 4096);
    assert_int_equal(ks_seal_file_size(&h),
                     100 + KS_SEAL_PLAIN_MAX + 16 * (KS_SEAL_PLAIN_MAX / 4096));
    /* Nonce derivation: base XOR (0^32 || be64 i). */
    uint8_t nonce[12];
    memcpy(h.nonce_base, NONCE, 12);
    ks_seal_chunk_nonce(&h, UINT64_C(0x0102030405060708), nonce);
    assert_int_equal(nonce[0], 0xa0);
    assert_int_equal(nonce[3], 0xa3);
    assert_int_equal(nonce[4], 0xa4 ^ 0x01);
    assert_int_equal(nonce[11], 0xab ^ 0x08);
}

static int setup(void **state)
{
    return ks_seal_gcrypt_init() == KS_OK ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_name_valid),     cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_roundtrip_sizes),    cmocka_unit_test(test_roundtrip_default_chunk),
        cmocka_unit_test(test_kat_unseal),         cmocka_unit_test(test_kat_seal),
        cmocka_unit_test(test_kat_empty),          cmocka_unit_test(test_reordered),
        cmocka_unit_test(test_truncated),          cmocka_unit_test(test_extended),
        cmocka_unit_test(test_changed_after_open), cmocka_unit_test(test_header_tamper),
        cmocka_unit_test(test_body_tamper),        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_wrong_digest),       cmocka_unit_test(test_sink),
        cmocka_unit_test(test_bad_args),           cmocka_unit_test(test_seal_input_changed),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
