/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gcrypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "sealed.h"
#include "sealed_internal.h"

/*
 * The unseal side (libgcrypt AES-256-GCM, NIST SP 800-38D): chunks are
 * claimed in order by T workers; each reads its chunk's ciphertext and
 * decrypts it straight into the sink's destination, then waits for its turn
 * to feed the running SHA-256 (which must see the chunks in order) while the
 * other workers go on decrypting.
 */

/* libgcrypt's secure memory pool: the key copy and one cipher context per
 * worker (about 2 KiB each for AES-256-GCM in libgcrypt 1.10), for up to
 * KS_SEAL_MAX_THREADS workers with room to spare. Locked memory, well
 * within the default RLIMIT_MEMLOCK of 8 MiB. */
#define SECMEM_POOL (256 * 1024)

struct ks_unseal {
    int fd;
    struct ks_seal_header h;
    uint64_t n_chunks;
    bool used;
};

int ks_seal_gcrypt_init(void)
{
    if (gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P)) {
        return KS_OK;
    }
    if (!gcry_check_version("1.8.0")) {
        return KS_ERR_CRYPTO;
    }
    /* Secure memory is mlock'ed; whether that worked is the program's to
     * report, not libgcrypt's on stderr. */
    gcry_control(GCRYCTL_DISABLE_SECMEM_WARN);
    gcry_control(GCRYCTL_INIT_SECMEM, SECMEM_POOL, 0);
    gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    return KS_OK;
}

int ks_unseal_open(int fd, const char *expect_key_name, uint32_t expect_key_version,
                   struct ks_unseal **ret)
{
    uint8_t buf[KS_SEAL_HEADER_MAX];
    struct ks_seal_header h;
    struct stat st;
    int r;
    if (fd < 0 || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    if (fstat(fd, &st) != 0) {
        return KS_ERR_IO;
    }
    if (!S_ISREG(st.st_mode)) {
        return KS_ERR_SEAL_NOT_REGULAR;
    }
    ssize_t n = ks_seal_pread_full(fd, buf, sizeof(buf), 0);
    if (n < 0) {
        return KS_ERR_IO;
    }
    if ((r = ks_seal_header_parse(buf, (size_t)n, &h)) < 0) {
        return r;
    }
    if (expect_key_name && strcmp(expect_key_name, h.key_name) != 0) {
        return KS_ERR_SEAL_KEY_MISMATCH;
    }
    if (expect_key_version && expect_key_version != h.key_version) {
        return KS_ERR_SEAL_KEY_VERSION;
    }
    if ((r = ks_seal_check_file_size(&h, (uint64_t)st.st_size)) < 0) {
        return r;
    }
    struct ks_unseal *u = calloc(1, sizeof(*u));
    if (!u) {
        return KS_ERR_NOMEM;
    }
    u->fd = fd;
    u->h = h;
    u->n_chunks = ks_seal_chunk_count(&h);
    *ret = u;
    return KS_OK;
}

const struct ks_seal_header *ks_unseal_header(const struct ks_unseal *u)
{
    return &u->h;
}

void ks_unseal_free(struct ks_unseal *u)
{
    free(u);
}

/* State shared by the workers of one run. */
struct run {
    const struct ks_unseal *u;
    const struct ks_unseal_sink *sink;
    const void *key; /* in libgcrypt secure memory */
    bool hash;
    EVP_MD_CTX *md;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t next_claim; /* next chunk to hand out */
    uint64_t next_hash;  /* next chunk the running digest takes */
    int err;             /* first error; stops everyone */
};

struct worker {
    struct run *run;
    unsigned id;
    pthread_t thread;
    int r;
};

static void run_fail(struct run *run, int r)
{
    pthread_mutex_lock(&run->mu);
    if (run->err == KS_OK) {
        run->err = r;
    }
    pthread_cond_broadcast(&run->cv);
    pthread_mutex_unlock(&run->mu);
}

/* Claim the next chunk; false when none is left or the run failed. */
static bool run_claim(struct run *run, uint64_t *ret_index)
{
    bool ok;
    pthread_mutex_lock(&run->mu);
    ok = run->err == KS_OK && run->next_claim < run->u->n_chunks;
    if (ok) {
        *ret_index = run->next_claim++;
    }
    pthread_mutex_unlock(&run->mu);
    return ok;
}

/* Feed chunk `index` to the running digest once every chunk before it has
 * been fed. Only the worker holding chunk next_hash passes the wait, so the
 * digest is updated by one worker at a time, outside the lock. */
static int run_hash(struct run *run, uint64_t index, const uint8_t *p, size_t len)
{
    int r;
    pthread_mutex_lock(&run->mu);
    while (run->next_hash != index && run->err == KS_OK) {
        pthread_cond_wait(&run->cv, &run->mu);
    }
    r = run->err;
    pthread_mutex_unlock(&run->mu);
    if (r < 0) {
        return r;
    }
    if (len > 0 && !EVP_DigestUpdate(run->md, p, len)) {
        return KS_ERR_CRYPTO;
    }
    pthread_mutex_lock(&run->mu);
    run->next_hash++;
    pthread_cond_broadcast(&run->cv);
    pthread_mutex_unlock(&run->mu);
    return KS_OK;
}

static int decrypt_chunk(gcry_cipher_hd_t hd, const struct ks_seal_header *h, uint64_t index,
                         bool last, const uint8_t *ct, size_t len, uint8_t *dst)
{
    uint8_t nonce[KS_SEAL_NONCE_LEN], aad[KS_SEAL_AAD_LEN];
    ks_seal_chunk_nonce(h, index, nonce);
    ks_seal_chunk_aad(h, index, last, aad);
    if (gcry_cipher_reset(hd) || gcry_cipher_setiv(hd, nonce, sizeof(nonce)) ||
        gcry_cipher_authenticate(hd, aad, sizeof(aad))) {
        return KS_ERR_CRYPTO;
    }
    if (len > 0 && gcry_cipher_decrypt(hd, dst, len, ct, len)) {
        return KS_ERR_CRYPTO;
    }
    gcry_error_t e = gcry_cipher_checktag(hd, ct + len, KS_SEAL_TAG_LEN);
    if (gcry_err_code(e) == GPG_ERR_CHECKSUM) {
        return KS_ERR_SEAL_AUTH;
    }
    return e ? KS_ERR_CRYPTO : KS_OK;
}

static int worker_loop(struct run *run, unsigned id)
{
    const struct ks_seal_header *h = &run->u->h;
    gcry_cipher_hd_t hd = NULL;
    uint8_t *ct = NULL;
    uint8_t *dst = NULL;
    size_t len = 0;
    uint64_t index;
    int r;

    /* GCRY_CIPHER_SECURE: the key schedule lives in secure memory too. */
    gcry_error_t e =
        gcry_cipher_open(&hd, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_GCM, GCRY_CIPHER_SECURE);
    if (e) {
        /* The secure pool is full (the program initialised a smaller one). */
        r = gcry_err_code(e) == GPG_ERR_ENOMEM ? KS_ERR_NOMEM : KS_ERR_CRYPTO;
        hd = NULL;
        goto out;
    }
    if (gcry_cipher_setkey(hd, run->key, KS_SEAL_KEY_LEN)) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    ct = malloc((size_t)h->chunk_size + KS_SEAL_TAG_LEN);
    if (!ct) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    r = KS_OK;
    while (run_claim(run, &index)) {
        bool last = index + 1 == run->u->n_chunks;
        uint64_t off = index * h->chunk_size;
        len = ks_seal_chunk_len(h, index);
        ssize_t got = ks_seal_pread_full(run->u->fd, ct, len + KS_SEAL_TAG_LEN,
                                         ks_seal_chunk_offset(h, index));
        if (got < 0) {
            r = KS_ERR_IO;
            break;
        }
        if ((size_t)got != len + KS_SEAL_TAG_LEN) {
            r = KS_ERR_SEAL_TRUNCATED;
            break;
        }
        if ((r = run->sink->acquire(run->sink->ctx, id, index, off, len, &dst)) < 0) {
            dst = NULL;
            break;
        }
        if (!dst && len > 0) {
            r = KS_ERR_INVALID_ARG;
            break;
        }
        if ((r = decrypt_chunk(hd, h, index, last, ct, len, dst)) < 0) {
            break;
        }
        if (run->hash && (r = run_hash(run, index, dst, len)) < 0) {
            break;
        }
        uint8_t *done = dst;
        dst = NULL;
        if (run->sink->commit &&
            (r = run->sink->commit(run->sink->ctx, id, index, off, done, len)) < 0) {
            break;
        }
    }
out:
    if (r < 0) {
        /* The chunk in hand may hold unauthenticated plaintext. */
        if (dst && len > 0) {
            OPENSSL_cleanse(dst, len);
        }
        run_fail(run, r);
    }
    gcry_cipher_close(hd);
    free(ct);
    return r;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    w->r = worker_loop(w->run, w->id);
    return NULL;
}

/* Run the workers (the calling thread is worker 0). */
static int run_workers(struct run *run, unsigned threads)
{
    struct worker *ws = calloc(threads, sizeof(*ws));
    unsigned started = 0;
    int r = KS_OK;
    if (!ws) {
        return KS_ERR_NOMEM;
    }
    for (unsigned i = 1; i < threads; i++) {
        ws[i].run = run;
        ws[i].id = i;
        if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) != 0) {
            /* Fewer workers is still correct: the others take the chunks. */
            break;
        }
        started = i;
    }
    (void)worker_loop(run, 0);
    for (unsigned i = 1; i <= started; i++) {
        pthread_join(ws[i].thread, NULL);
    }
    free(ws);
    pthread_mutex_lock(&run->mu);
    r = run->err;
    pthread_mutex_unlock(&run->mu);
    return r;
}

int ks_unseal_run(struct ks_unseal *u, const uint8_t key[KS_SEAL_KEY_LEN],
                  const struct ks_unseal_sink *sink, unsigned threads, unsigned flags)
{
    struct run run;
    uint8_t digest[KS_SEAL_DIGEST_LEN];
    void *skey = NULL;
    int r;

    if (!u || !key || !sink || !sink->acquire || threads == 0 || threads > KS_SEAL_MAX_THREADS ||
        (flags & ~KS_UNSEAL_SKIP_DIGEST) || u->used) {
        return KS_ERR_INVALID_ARG;
    }
    u->used = true;
    if ((r = ks_seal_gcrypt_init()) < 0) {
        return r;
    }
    if (threads > u->n_chunks) {
        threads = (unsigned)u->n_chunks;
    }
    memset(&run, 0, sizeof(run));
    run.u = u;
    run.sink = sink;
    run.hash = !(flags & KS_UNSEAL_SKIP_DIGEST);
    pthread_mutex_init(&run.mu, NULL);
    pthread_cond_init(&run.cv, NULL);
    skey = gcry_malloc_secure(KS_SEAL_KEY_LEN);
    run.md = EVP_MD_CTX_new();
    if (!skey || !run.md) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    memcpy(skey, key, KS_SEAL_KEY_LEN);
    run.key = skey;
    if (!EVP_DigestInit_ex(run.md, EVP_sha256(), NULL)) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    /* Read from disk, the chunks come in order: let readahead know. */
    (void)posix_fadvise(u->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    if ((r = run_workers(&run, threads)) < 0) {
        goto out;
    }
    /* The size was checked at open; a file that grew since is refused. */
    uint8_t extra;
    ssize_t more = ks_seal_pread_full(u->fd, &extra, 1, ks_seal_file_size(&u->h));
    if (more < 0) {
        r = KS_ERR_IO;
        goto out;
    }
    if (more > 0) {
        r = KS_ERR_SEAL_TRAILING;
        goto out;
    }
    if (run.hash) {
        if (!EVP_DigestFinal_ex(run.md, digest, NULL)) {
            r = KS_ERR_CRYPTO;
            goto out;
        }
        if (CRYPTO_memcmp(digest, u->h.plain_sha256, sizeof(digest)) != 0) {
            r = KS_ERR_SEAL_DIGEST;
            goto out;
        }
    }
    r = KS_OK;
out:
    if (skey) {
        OPENSSL_cleanse(skey, KS_SEAL_KEY_LEN);
        gcry_free(skey);
    }
    EVP_MD_CTX_free(run.md);
    pthread_cond_destroy(&run.cv);
    pthread_mutex_destroy(&run.mu);
    return r;
}

struct buffer_sink {
    uint8_t *dst;
};

static int buffer_acquire(void *ctx, unsigned worker, uint64_t index, uint64_t off, size_t len,
                          uint8_t **ret_dst)
{
    struct buffer_sink *b = ctx;
    (void)worker;
    (void)index;
    (void)len;
    *ret_dst = b->dst + off;
    return KS_OK;
}

int ks_unseal_to_buffer(struct ks_unseal *u, const uint8_t key[KS_SEAL_KEY_LEN], uint8_t *dst,
                        size_t dst_len, unsigned threads, unsigned flags)
{
    struct buffer_sink b = {.dst = dst};
    struct ks_unseal_sink sink = {.ctx = &b, .acquire = buffer_acquire, .commit = NULL};
    int r;
    if (!u || (!dst && u->h.plain_len > 0) || dst_len < u->h.plain_len) {
        return KS_ERR_INVALID_ARG;
    }
    r = ks_unseal_run(u, key, &sink, threads, flags);
    if (r < 0 && dst && u->h.plain_len > 0) {
        OPENSSL_cleanse(dst, (size_t)u->h.plain_len);
    }
    return r;
}
