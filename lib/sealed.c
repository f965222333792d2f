/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "sealed.h"
#include "sealed_internal.h"

/* The sealed-file format and the sealing side (OpenSSL); see sealed.h. */

static void put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (24 - 8 * i));
    }
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (56 - 8 * i));
    }
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
    return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

bool ks_seal_key_name_valid(const char *name)
{
    if (!name) {
        return false;
    }
    size_t n = strnlen(name, KS_SEAL_NAME_MAX + 1);
    if (n == 0 || n > KS_SEAL_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

static bool chunk_size_valid(uint32_t c)
{
    return c >= KS_SEAL_CHUNK_MIN && c <= KS_SEAL_CHUNK_MAX;
}

size_t ks_seal_header_encode(const struct ks_seal_header *h, uint8_t out[KS_SEAL_HEADER_MAX])
{
    size_t name_len = strlen(h->key_name);
    size_t off = 0;
    memcpy(out, KS_SEAL_MAGIC, KS_SEAL_MAGIC_LEN);
    off += KS_SEAL_MAGIC_LEN;
    put_be32(out + off, h->version);
    off += 4;
    put_be32(out + off, h->chunk_size);
    off += 4;
    put_be64(out + off, h->plain_len);
    off += 8;
    out[off++] = (uint8_t)name_len;
    memcpy(out + off, h->key_name, name_len);
    off += name_len;
    put_be32(out + off, h->key_version);
    off += 4;
    memcpy(out + off, h->nonce_base, KS_SEAL_NONCE_LEN);
    off += KS_SEAL_NONCE_LEN;
    memcpy(out + off, h->plain_sha256, KS_SEAL_DIGEST_LEN);
    off += KS_SEAL_DIGEST_LEN;
    return off;
}

/* Bounds checks are written `off <= len && len - off >= need` (STYLE.md). */
static bool have(size_t off, size_t len, size_t need)
{
    return off <= len && len - off >= need;
}

int ks_seal_header_parse(const uint8_t *buf, size_t len, struct ks_seal_header *ret)
{
    struct ks_seal_header h;
    size_t off = 0;
    if (!buf || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    memset(&h, 0, sizeof(h));
    if (!have(off, len, KS_SEAL_MAGIC_LEN)) {
        return KS_ERR_SEAL_HEADER_TRUNCATED;
    }
    if (memcmp(buf, KS_SEAL_MAGIC, KS_SEAL_MAGIC_LEN) != 0) {
        return KS_ERR_SEAL_MAGIC;
    }
    off += KS_SEAL_MAGIC_LEN;
    if (!have(off, len, 4 + 4 + 8 + 1)) {
        return KS_ERR_SEAL_HEADER_TRUNCATED;
    }
    h.version = get_be32(buf + off);
    off += 4;
    if (h.version != KS_SEAL_FORMAT_VERSION) {
        return KS_ERR_SEAL_VERSION;
    }
    h.chunk_size = get_be32(buf + off);
    off += 4;
    if (!chunk_size_valid(h.chunk_size)) {
        return KS_ERR_SEAL_CHUNK_SIZE;
    }
    h.plain_len = get_be64(buf + off);
    off += 8;
    if (h.plain_len > KS_SEAL_PLAIN_MAX) {
        return KS_ERR_SEAL_LENGTH;
    }
    size_t name_len = buf[off++];
    if (name_len == 0 || name_len > KS_SEAL_NAME_MAX) {
        return KS_ERR_SEAL_KEY_NAME;
    }
    if (!have(off, len, name_len)) {
        return KS_ERR_SEAL_HEADER_TRUNCATED;
    }
    memcpy(h.key_name, buf + off, name_len);
    h.key_name[name_len] = '\0';
    off += name_len;
    /* A NUL inside the name shortens the string: refuse it with the rest. */
    if (strlen(h.key_name) != name_len || !ks_seal_key_name_valid(h.key_name)) {
        return KS_ERR_SEAL_KEY_NAME;
    }
    if (!have(off, len, 4 + KS_SEAL_NONCE_LEN + KS_SEAL_DIGEST_LEN)) {
        return KS_ERR_SEAL_HEADER_TRUNCATED;
    }
    h.key_version = get_be32(buf + off);
    off += 4;
    if (h.key_version == 0) {
        return KS_ERR_SEAL_KEY_VERSION;
    }
    memcpy(h.nonce_base, buf + off, KS_SEAL_NONCE_LEN);
    off += KS_SEAL_NONCE_LEN;
    memcpy(h.plain_sha256, buf + off, KS_SEAL_DIGEST_LEN);
    off += KS_SEAL_DIGEST_LEN;
    h.header_len = off;
    if (!EVP_Digest(buf, off, h.header_digest, NULL, EVP_sha256(), NULL)) {
        return KS_ERR_CRYPTO;
    }
    *ret = h;
    return KS_OK;
}

uint64_t ks_seal_chunk_count(const struct ks_seal_header *h)
{
    if (h->plain_len == 0) {
        return 1;
    }
    return (h->plain_len - 1) / h->chunk_size + 1;
}

uint64_t ks_seal_file_size(const struct ks_seal_header *h)
{
    /* plain_len <= 2^40 and n <= 2^40 / 4096 + 1: no overflow. */
    return h->header_len + h->plain_len + ks_seal_chunk_count(h) * KS_SEAL_TAG_LEN;
}

int ks_seal_check_file_size(const struct ks_seal_header *h, uint64_t file_size)
{
    uint64_t want = ks_seal_file_size(h);
    if (file_size < want) {
        return KS_ERR_SEAL_TRUNCATED;
    }
    if (file_size > want) {
        return KS_ERR_SEAL_TRAILING;
    }
    return KS_OK;
}

size_t ks_seal_chunk_len(const struct ks_seal_header *h, uint64_t index)
{
    uint64_t off = index * h->chunk_size;
    uint64_t rest = h->plain_len - off;
    return (size_t)(rest < h->chunk_size ? rest : h->chunk_size);
}

uint64_t ks_seal_chunk_offset(const struct ks_seal_header *h, uint64_t index)
{
    return h->header_len + index * ((uint64_t)h->chunk_size + KS_SEAL_TAG_LEN);
}

void ks_seal_chunk_nonce(const struct ks_seal_header *h, uint64_t index,
                         uint8_t out[KS_SEAL_NONCE_LEN])
{
    memcpy(out, h->nonce_base, KS_SEAL_NONCE_LEN);
    for (int i = 0; i < 8; i++) {
        out[4 + i] ^= (uint8_t)(index >> (56 - 8 * i));
    }
}

void ks_seal_chunk_aad(const struct ks_seal_header *h, uint64_t index, bool last,
                       uint8_t out[KS_SEAL_AAD_LEN])
{
    size_t off = 0;
    /* sizeof includes the label's NUL: the 0x00 separator. */
    memcpy(out, KS_SEAL_AAD_LABEL, sizeof(KS_SEAL_AAD_LABEL));
    off += sizeof(KS_SEAL_AAD_LABEL);
    memcpy(out + off, h->header_digest, KS_SEAL_DIGEST_LEN);
    off += KS_SEAL_DIGEST_LEN;
    put_be64(out + off, index);
    off += 8;
    out[off] = last ? 1 : 0;
}

ssize_t ks_seal_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    size_t got = 0;
    if (len > SSIZE_MAX || off > (uint64_t)INT64_MAX - len) {
        errno = EINVAL;
        return -1;
    }
    while (got < len) {
        ssize_t n = pread(fd, (uint8_t *)buf + got, len - got, (off_t)(off + got));
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

static int write_full(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return KS_ERR_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    return KS_OK;
}

/* Pass 1: SHA-256 of exactly `len` bytes of in_fd. */
static int hash_input(int in_fd, uint64_t len, uint8_t *buf, size_t buf_len,
                      uint8_t out[KS_SEAL_DIGEST_LEN])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int r = KS_ERR_CRYPTO;
    if (!md) {
        return KS_ERR_NOMEM;
    }
    if (!EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        goto out;
    }
    for (uint64_t off = 0; off < len;) {
        size_t want = len - off < buf_len ? (size_t)(len - off) : buf_len;
        ssize_t n = ks_seal_pread_full(in_fd, buf, want, off);
        if (n < 0) {
            r = KS_ERR_IO;
            goto out;
        }
        if ((size_t)n != want) {
            r = KS_ERR_SEAL_INPUT_CHANGED;
            goto out;
        }
        if (!EVP_DigestUpdate(md, buf, want)) {
            goto out;
        }
        off += want;
    }
    if (!EVP_DigestFinal_ex(md, out, NULL)) {
        goto out;
    }
    r = KS_OK;
out:
    EVP_MD_CTX_free(md);
    return r;
}

static int seal_chunk(EVP_CIPHER_CTX *c, const struct ks_seal_header *h, uint64_t index,
                      uint8_t *buf, size_t len)
{
    uint8_t nonce[KS_SEAL_NONCE_LEN], aad[KS_SEAL_AAD_LEN];
    int outl = 0;
    bool last = index + 1 == ks_seal_chunk_count(h);
    ks_seal_chunk_nonce(h, index, nonce);
    ks_seal_chunk_aad(h, index, last, aad);
    if (len > INT_MAX || !EVP_EncryptInit_ex(c, NULL, NULL, NULL, nonce) ||
        !EVP_EncryptUpdate(c, NULL, &outl, aad, (int)sizeof(aad))) {
        return KS_ERR_CRYPTO;
    }
    /* In place: OpenSSL allows out == in for GCM. */
    if (len > 0 && (!EVP_EncryptUpdate(c, buf, &outl, buf, (int)len) || (size_t)outl != len)) {
        return KS_ERR_CRYPTO;
    }
    if (!EVP_EncryptFinal_ex(c, buf + len, &outl) || outl != 0 ||
        !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, KS_SEAL_TAG_LEN, buf + len)) {
        return KS_ERR_CRYPTO;
    }
    return KS_OK;
}

static int seal_params(const struct ks_seal_params *p, struct ks_seal_header *h)
{
    memset(h, 0, sizeof(*h));
    if (!ks_seal_key_name_valid(p->key_name)) {
        return KS_ERR_SEAL_KEY_NAME;
    }
    h->version = KS_SEAL_FORMAT_VERSION;
    h->chunk_size = p->chunk_size ? p->chunk_size : KS_SEAL_CHUNK_DEFAULT;
    if (!chunk_size_valid(h->chunk_size)) {
        return KS_ERR_SEAL_CHUNK_SIZE;
    }
    memcpy(h->key_name, p->key_name, strlen(p->key_name) + 1);
    h->key_version = p->key_version ? p->key_version : 1;
    if (p->nonce_base) {
        memcpy(h->nonce_base, p->nonce_base, KS_SEAL_NONCE_LEN);
    } else if (RAND_bytes(h->nonce_base, KS_SEAL_NONCE_LEN) != 1) {
        return KS_ERR_CRYPTO;
    }
    return KS_OK;
}

int ks_seal_fd(int in_fd, int out_fd, const struct ks_seal_params *p,
               const uint8_t key[KS_SEAL_KEY_LEN], struct ks_seal_header *ret_hdr)
{
    struct ks_seal_header h;
    uint8_t hdr[KS_SEAL_HEADER_MAX], digest[KS_SEAL_DIGEST_LEN];
    uint8_t *buf = NULL;
    size_t buf_len = 0;
    EVP_CIPHER_CTX *c = NULL;
    EVP_MD_CTX *md = NULL;
    struct stat st;
    int r;

    if (in_fd < 0 || out_fd < 0 || !p || !key) {
        return KS_ERR_INVALID_ARG;
    }
    if ((r = seal_params(p, &h)) < 0) {
        return r;
    }
    if (fstat(in_fd, &st) != 0) {
        return KS_ERR_IO;
    }
    if (!S_ISREG(st.st_mode)) {
        return KS_ERR_SEAL_NOT_REGULAR;
    }
    if ((uint64_t)st.st_size > KS_SEAL_PLAIN_MAX) {
        return KS_ERR_SEAL_LENGTH;
    }
    h.plain_len = (uint64_t)st.st_size;
    buf_len = h.chunk_size;
    /* The plaintext chunk (cleartext weights): wiped before free. */
    buf = malloc(buf_len + KS_SEAL_TAG_LEN);
    c = EVP_CIPHER_CTX_new();
    md = EVP_MD_CTX_new();
    if (!buf || !c || !md) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    if ((r = hash_input(in_fd, h.plain_len, buf, buf_len, h.plain_sha256)) < 0) {
        goto out;
    }
    h.header_len = ks_seal_header_encode(&h, hdr);
    r = KS_ERR_CRYPTO;
    if (!EVP_Digest(hdr, h.header_len, h.header_digest, NULL, EVP_sha256(), NULL) ||
        !EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) ||
        !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, KS_SEAL_NONCE_LEN, NULL) ||
        !EVP_EncryptInit_ex(c, NULL, NULL, key, NULL) ||
        !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        goto out;
    }
    if ((r = write_full(out_fd, hdr, h.header_len)) < 0) {
        goto out;
    }
    /* Pass 2: encrypt, hashing again so that a file that changed since
     * pass 1 is refused rather than sealed under a wrong digest. */
    uint64_t n = ks_seal_chunk_count(&h);
    for (uint64_t i = 0; i < n; i++) {
        size_t len = ks_seal_chunk_len(&h, i);
        ssize_t got = ks_seal_pread_full(in_fd, buf, len, i * h.chunk_size);
        if (got < 0) {
            r = KS_ERR_IO;
            goto out;
        }
        if ((size_t)got != len) {
            r = KS_ERR_SEAL_INPUT_CHANGED;
            goto out;
        }
        if (!EVP_DigestUpdate(md, buf, len)) {
            r = KS_ERR_CRYPTO;
            goto out;
        }
        if ((r = seal_chunk(c, &h, i, buf, len)) < 0 ||
            (r = write_full(out_fd, buf, len + KS_SEAL_TAG_LEN)) < 0) {
            goto out;
        }
    }
    uint8_t extra;
    ssize_t more = ks_seal_pread_full(in_fd, &extra, 1, h.plain_len);
    if (more < 0) {
        r = KS_ERR_IO;
        goto out;
    }
    if (!EVP_DigestFinal_ex(md, digest, NULL)) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    if (more != 0 || CRYPTO_memcmp(digest, h.plain_sha256, sizeof(digest)) != 0) {
        r = KS_ERR_SEAL_INPUT_CHANGED;
        goto out;
    }
    if (ret_hdr) {
        *ret_hdr = h;
    }
    r = KS_OK;
out:
    if (buf) {
        OPENSSL_cleanse(buf, buf_len + KS_SEAL_TAG_LEN);
        free(buf);
    }
    EVP_CIPHER_CTX_free(c);
    EVP_MD_CTX_free(md);
    return r;
}
