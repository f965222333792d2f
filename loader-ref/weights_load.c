/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "weights_load.h"

/* Unseal (or read) weights into a backend and make the model ready
 * (weights_load.h). */

/* Wraps the backend's sink to keep a copy of the weights header (the first
 * 44 plaintext bytes, in chunk 0 since a chunk is at least 4 KiB) as it
 * passes: the dims are needed for finish, and a device backend's memory is
 * not readable from here. */
struct header_tap {
    struct ks_unseal_sink inner;
    uint8_t header[KS_MODEL_HEADER_LEN];
    size_t header_len;
};

static int tap_acquire(void *ctx, unsigned worker, uint64_t index, uint64_t off, size_t len,
                       uint8_t **ret_dst)
{
    struct header_tap *t = ctx;
    return t->inner.acquire(t->inner.ctx, worker, index, off, len, ret_dst);
}

static int tap_commit(void *ctx, unsigned worker, uint64_t index, uint64_t off, uint8_t *dst,
                      size_t len)
{
    struct header_tap *t = ctx;
    if (index == 0) {
        t->header_len = len < sizeof(t->header) ? len : sizeof(t->header);
        memcpy(t->header, dst, t->header_len);
    }
    if (!t->inner.commit) {
        return KS_OK;
    }
    return t->inner.commit(t->inner.ctx, worker, index, off, dst, len);
}

/* The checks that need no decryption: digest and size against what the
 * program expects. */
static int precheck(const struct ks_seal_header *h, const struct ks_weights_load_opts *o)
{
    uint64_t want;
    int r;
    if (o->weights_sha256 &&
        CRYPTO_memcmp(o->weights_sha256, h->plain_sha256, KS_SEAL_DIGEST_LEN) != 0) {
        return KS_ERR_SEAL_DIGEST;
    }
    if (h->plain_len < KS_MODEL_HEADER_LEN) {
        return KS_ERR_MODEL_SIZE;
    }
    if (o->dims) {
        if ((r = ks_model_weights_size(o->dims, &want)) < 0) {
            return r;
        }
        if (want != h->plain_len) {
            return KS_ERR_MODEL_MISMATCH;
        }
    }
    if (h->plain_len > KS_MODEL_BYTES_MAX || h->plain_len > SIZE_MAX) {
        return KS_ERR_MODEL_SIZE;
    }
    return KS_OK;
}

/* Parse the weights header, check it against the expected dims, finish. */
static int finish(struct ks_backend *b, const uint8_t *header, size_t header_len, uint64_t len,
                  const struct ks_weights_load_opts *o, struct ks_weights_info *info)
{
    int r = ks_model_header_parse(header, header_len, len, &info->dims, &info->seed);
    if (r < 0) {
        return r;
    }
    if (o->dims && !ks_model_dims_equal(o->dims, &info->dims)) {
        return KS_ERR_MODEL_MISMATCH;
    }
    info->len = len;
    return ks_backend_weights_finish(b, &info->dims);
}

int ks_weights_load_sealed(struct ks_backend *b, struct ks_unseal *u,
                           const uint8_t key[KS_SEAL_KEY_LEN],
                           const struct ks_weights_load_opts *opts,
                           struct ks_weights_info *ret_info)
{
    struct header_tap tap;
    struct ks_weights_info info;
    unsigned threads;
    int r;
    if (!b || !u || !key || !opts || !ret_info) {
        return KS_ERR_INVALID_ARG;
    }
    const struct ks_seal_header *h = ks_unseal_header(u);
    threads = opts->threads ? opts->threads : 2;
    memset(&tap, 0, sizeof(tap));
    memset(&info, 0, sizeof(info));
    if ((r = precheck(h, opts)) < 0 ||
        (r = ks_backend_weights_alloc(b, (size_t)h->plain_len, opts->allow_unlocked)) < 0 ||
        (r = ks_backend_weights_sink(b, threads, h->chunk_size, &tap.inner)) < 0) {
        return r;
    }
    struct ks_unseal_sink sink = {.ctx = &tap, .acquire = tap_acquire, .commit = tap_commit};
    if ((r = ks_unseal_run(u, key, &sink, threads, opts->unseal_flags)) < 0) {
        goto out;
    }
    if ((r = finish(b, tap.header, tap.header_len, h->plain_len, opts, &info)) < 0) {
        goto out;
    }
    /* Verified by the running digest (unless skipped, then authenticated
     * as part of the header under the DEK). */
    memcpy(info.sha256, h->plain_sha256, sizeof(info.sha256));
    *ret_info = info;
out:
    OPENSSL_cleanse(&tap, sizeof(tap));
    return r;
}

#define PLAIN_PIECE (4u * 1024 * 1024)

/* pread until `len` bytes or end of file: the number read, or -1. */
static ssize_t pread_full(int fd, uint8_t *buf, size_t len, uint64_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            break;
        }
        got += (size_t)n;
    }
    return (ssize_t)got;
}

int ks_weights_load_plain(struct ks_backend *b, const char *path,
                          const struct ks_weights_load_opts *opts, struct ks_weights_info *ret_info)
{
    struct ks_weights_info info;
    uint8_t header[KS_MODEL_HEADER_LEN];
    uint8_t *buf = NULL;
    EVP_MD_CTX *md = NULL;
    struct stat st;
    uint64_t len;
    int fd, r;
    if (!b || !path || !opts || !ret_info) {
        return KS_ERR_INVALID_ARG;
    }
    memset(&info, 0, sizeof(info));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return KS_ERR_IO;
    }
    if (fstat(fd, &st) != 0) {
        r = KS_ERR_IO;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        r = KS_ERR_SEAL_NOT_REGULAR;
        goto out;
    }
    len = (uint64_t)st.st_size;
    ssize_t n = pread_full(fd, header, sizeof(header), 0);
    if (n < 0) {
        r = KS_ERR_IO;
        goto out;
    }
    if ((r = ks_model_header_parse(header, (size_t)n, len, &info.dims, &info.seed)) < 0) {
        goto out;
    }
    if (opts->dims && !ks_model_dims_equal(opts->dims, &info.dims)) {
        r = KS_ERR_MODEL_MISMATCH;
        goto out;
    }
    buf = malloc(PLAIN_PIECE);
    md = EVP_MD_CTX_new();
    if (!buf || !md) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    if (!EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    if ((r = ks_backend_weights_alloc(b, (size_t)len, opts->allow_unlocked)) < 0) {
        goto out;
    }
    for (uint64_t off = 0; off < len;) {
        size_t want = len - off < PLAIN_PIECE ? (size_t)(len - off) : PLAIN_PIECE;
        n = pread_full(fd, buf, want, off);
        if (n < 0 || (size_t)n != want) {
            r = KS_ERR_IO;
            goto out;
        }
        if (!EVP_DigestUpdate(md, buf, want)) {
            r = KS_ERR_CRYPTO;
            goto out;
        }
        if ((r = ks_backend_weights_write(b, (size_t)off, buf, want)) < 0) {
            goto out;
        }
        off += want;
    }
    if (!EVP_DigestFinal_ex(md, info.sha256, NULL)) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    if (opts->weights_sha256 &&
        CRYPTO_memcmp(opts->weights_sha256, info.sha256, sizeof(info.sha256)) != 0) {
        r = KS_ERR_SEAL_DIGEST;
        goto out;
    }
    info.len = len;
    if ((r = ks_backend_weights_finish(b, &info.dims)) < 0) {
        goto out;
    }
    *ret_info = info;
out:
    if (buf) {
        OPENSSL_cleanse(buf, PLAIN_PIECE);
        free(buf);
    }
    EVP_MD_CTX_free(md);
    close(fd);
    return r;
}
