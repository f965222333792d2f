/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "db/store_internal.h"

/* The master key lives in OpenSSL's secure heap when the program set one up
 * (CRYPTO_secure_malloc_init: locked, excluded from core dumps), else in
 * ordinary memory; either way it is wiped on free. */
struct ks_master_key {
    uint8_t key[KS_MASTER_KEY_LEN];
};

#define AAD_KEY_LABEL "ks-key-v1"
#define AAD_META_LABEL "ks-meta-v1"
/* label || 0x00 || u8 len || name (<= 255) || u32be version || u8 kind */
#define AAD_MAX (16 + 1 + 1 + 255 + 4 + 1)

void ks_master_key_free(struct ks_master_key *mk)
{
    if (mk) {
        OPENSSL_secure_clear_free(mk, sizeof(*mk));
    }
}

static int read_exact(int fd, uint8_t *buf, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = read(fd, buf + off, len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n == 0 ? KS_ERR_MASTER_KEY_SIZE : KS_ERR_IO;
        }
        off += (size_t)n;
    }
    /* The file must end here: a longer file is not a master key. */
    uint8_t extra;
    ssize_t n;
    do {
        n = read(fd, &extra, 1);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return KS_ERR_IO;
    }
    return n == 0 ? KS_OK : KS_ERR_MASTER_KEY_SIZE;
}

int ks_master_key_load(const char *path, struct ks_master_key **ret)
{
    if (!path || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    int r;
    struct ks_master_key *mk = NULL;
    /* O_NONBLOCK: a FIFO planted at the path must not hang us; it is refused
     * below as not a regular file. Checks are on the opened file (fstat), so
     * the file cannot be swapped between check and read. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        return KS_ERR_IO;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        r = KS_ERR_IO;
        goto out;
    }
    if (!S_ISREG(sb.st_mode) || sb.st_uid != geteuid() || (sb.st_mode & 077) != 0) {
        r = KS_ERR_MASTER_KEY_PERMS;
        goto out;
    }
    if (sb.st_size != KS_MASTER_KEY_LEN) {
        r = KS_ERR_MASTER_KEY_SIZE;
        goto out;
    }
    mk = OPENSSL_secure_zalloc(sizeof(*mk));
    if (!mk) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    if ((r = read_exact(fd, mk->key, sizeof(mk->key))) < 0) {
        goto out;
    }
    *ret = mk;
    mk = NULL;
    r = KS_OK;
out:
    ks_master_key_free(mk);
    close(fd);
    return r;
}

int ks_master_key_generate(const char *path, struct ks_master_key **ret)
{
    if (!path || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    int r;
    struct ks_master_key *mk = OPENSSL_secure_zalloc(sizeof(*mk));
    if (!mk) {
        return KS_ERR_NOMEM;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        r = errno == EEXIST ? KS_ERR_STORE_EXISTS : KS_ERR_IO;
        ks_master_key_free(mk);
        return r;
    }
    /* The umask may have removed bits; it cannot have added any. Make sure
     * the owner can read it back. */
    if (fchmod(fd, 0600) != 0 || RAND_priv_bytes(mk->key, sizeof(mk->key)) != 1) {
        r = KS_ERR_IO;
        goto out;
    }
    size_t off = 0;
    while (off < sizeof(mk->key)) {
        ssize_t n = write(fd, mk->key + off, sizeof(mk->key) - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            r = KS_ERR_IO;
            goto out;
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0) {
        r = KS_ERR_IO;
        goto out;
    }
    r = KS_OK;
out:
    if (close(fd) != 0 && r == KS_OK) {
        r = KS_ERR_IO;
    }
    if (r < 0) {
        unlink(path);
        ks_master_key_free(mk);
        return r;
    }
    *ret = mk;
    return KS_OK;
}

void ks_store_secret_free(struct ks_store_secret *secret)
{
    if (!secret) {
        return;
    }
    if (secret->data) {
        OPENSSL_secure_clear_free(secret->data, secret->len ? secret->len : 1);
    }
    OPENSSL_free(secret);
}

/* Secret of `len` bytes (uninitialised data). */
static struct ks_store_secret *secret_new(size_t len)
{
    struct ks_store_secret *s = OPENSSL_zalloc(sizeof(*s));
    if (!s) {
        return NULL;
    }
    s->data = OPENSSL_secure_malloc(len ? len : 1);
    if (!s->data) {
        OPENSSL_free(s);
        return NULL;
    }
    s->len = len;
    return s;
}

const char *ks_key_kind_name(enum ks_key_kind kind)
{
    switch (kind) {
    case KS_KEY_DEK:
        return "dek";
    case KS_KEY_HPKE:
        return "hpke";
    }
    return NULL;
}

int ks_key_kind_from_name(const char *name, enum ks_key_kind *ret)
{
    if (!name || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    if (strcmp(name, "dek") == 0) {
        *ret = KS_KEY_DEK;
    } else if (strcmp(name, "hpke") == 0) {
        *ret = KS_KEY_HPKE;
    } else {
        return KS_ERR_INVALID_ARG;
    }
    return KS_OK;
}

/* label || 0x00 || u8 len(name) || name [|| u32be version || u8 kind] */
static size_t build_aad(uint8_t *aad, const char *label, const char *name, bool with_version,
                        uint32_t version, uint8_t kind)
{
    size_t off = 0, llen = strlen(label), nlen = strlen(name);
    memcpy(aad, label, llen);
    off += llen;
    aad[off++] = 0x00;
    aad[off++] = (uint8_t)nlen;
    memcpy(aad + off, name, nlen);
    off += nlen;
    if (with_version) {
        aad[off++] = (uint8_t)(version >> 24);
        aad[off++] = (uint8_t)(version >> 16);
        aad[off++] = (uint8_t)(version >> 8);
        aad[off++] = (uint8_t)version;
        aad[off++] = kind;
    }
    return off;
}

static int gcm_seal(const struct ks_master_key *mk, const uint8_t *aad, size_t aad_len,
                    const uint8_t *pt, size_t pt_len, uint8_t nonce[KS_STORE_NONCE_LEN],
                    uint8_t **ret_ct, size_t *ret_ct_len)
{
    int r = KS_ERR_CRYPTO, n = 0;
    uint8_t *ct = malloc(pt_len + KS_STORE_TAG_LEN);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ct || !ctx) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    /* A random 96-bit nonce per wrap (NIST SP 800-38D 8.2.2): wraps under
     * one master key are few (key creations and rotations). */
    if (RAND_bytes(nonce, KS_STORE_NONCE_LEN) != 1 ||
        EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, mk->key, nonce) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1 ||
        EVP_EncryptUpdate(ctx, ct, &n, pt, (int)pt_len) != 1 || (size_t)n != pt_len ||
        EVP_EncryptFinal_ex(ctx, ct + n, &n) != 1 || n != 0 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, KS_STORE_TAG_LEN, ct + pt_len) != 1) {
        goto out;
    }
    *ret_ct = ct;
    *ret_ct_len = pt_len + KS_STORE_TAG_LEN;
    ct = NULL;
    r = KS_OK;
out:
    EVP_CIPHER_CTX_free(ctx);
    free(ct);
    return r;
}

static int gcm_open(const struct ks_master_key *mk, const uint8_t *aad, size_t aad_len,
                    const uint8_t nonce[KS_STORE_NONCE_LEN], const uint8_t *ct, size_t ct_len,
                    struct ks_store_secret **ret)
{
    if (ct_len <= KS_STORE_TAG_LEN || ct_len - KS_STORE_TAG_LEN > KS_STORE_MAX_SECRET) {
        return KS_ERR_KEY_UNWRAP;
    }
    size_t pt_len = ct_len - KS_STORE_TAG_LEN;
    int r = KS_ERR_CRYPTO, n = 0;
    struct ks_store_secret *sec = secret_new(pt_len);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!sec || !ctx) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, mk->key, nonce) != 1 ||
        EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1 ||
        EVP_DecryptUpdate(ctx, sec->data, &n, ct, (int)pt_len) != 1 || (size_t)n != pt_len ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, KS_STORE_TAG_LEN,
                            (void *)(uintptr_t)(ct + pt_len)) != 1) {
        goto out;
    }
    if (EVP_DecryptFinal_ex(ctx, sec->data + pt_len, &n) != 1) {
        r = KS_ERR_KEY_UNWRAP;
        goto out;
    }
    *ret = sec;
    sec = NULL;
    r = KS_OK;
out:
    EVP_CIPHER_CTX_free(ctx);
    ks_store_secret_free(sec);
    return r;
}

static bool kind_valid(enum ks_key_kind kind)
{
    return kind == KS_KEY_DEK || kind == KS_KEY_HPKE;
}

int ks_store_key_wrap(const struct ks_master_key *mk, const char *name, uint32_t version,
                      enum ks_key_kind kind, const uint8_t *pt, size_t pt_len,
                      uint8_t ret_nonce[KS_STORE_NONCE_LEN], uint8_t **ret_ct, size_t *ret_ct_len)
{
    if (!mk || !ks_store_name_valid(name) || version == 0 || !kind_valid(kind) || !pt ||
        pt_len == 0 || !ret_nonce || !ret_ct || !ret_ct_len) {
        return KS_ERR_INVALID_ARG;
    }
    if (pt_len > KS_STORE_MAX_SECRET) {
        return KS_ERR_TOO_LARGE;
    }
    uint8_t aad[AAD_MAX];
    size_t aad_len = build_aad(aad, AAD_KEY_LABEL, name, true, version, (uint8_t)kind);
    return gcm_seal(mk, aad, aad_len, pt, pt_len, ret_nonce, ret_ct, ret_ct_len);
}

int ks_store_key_unwrap(const struct ks_master_key *mk, const char *name, uint32_t version,
                        enum ks_key_kind kind, const uint8_t nonce[KS_STORE_NONCE_LEN],
                        const uint8_t *ct, size_t ct_len, struct ks_store_secret **ret)
{
    if (!mk || !ks_store_name_valid(name) || version == 0 || !kind_valid(kind) || !nonce || !ct ||
        !ret) {
        return KS_ERR_INVALID_ARG;
    }
    uint8_t aad[AAD_MAX];
    size_t aad_len = build_aad(aad, AAD_KEY_LABEL, name, true, version, (uint8_t)kind);
    return gcm_open(mk, aad, aad_len, nonce, ct, ct_len, ret);
}

int ks_store_secret_wrap(const struct ks_master_key *mk, const char *name, const uint8_t *pt,
                         size_t pt_len, uint8_t ret_nonce[KS_STORE_NONCE_LEN], uint8_t **ret_ct,
                         size_t *ret_ct_len)
{
    if (!mk || !ks_store_name_valid(name) || !pt || pt_len == 0 || !ret_nonce || !ret_ct ||
        !ret_ct_len) {
        return KS_ERR_INVALID_ARG;
    }
    if (pt_len > KS_STORE_MAX_SECRET) {
        return KS_ERR_TOO_LARGE;
    }
    uint8_t aad[AAD_MAX];
    size_t aad_len = build_aad(aad, AAD_META_LABEL, name, false, 0, 0);
    return gcm_seal(mk, aad, aad_len, pt, pt_len, ret_nonce, ret_ct, ret_ct_len);
}

int ks_store_secret_unwrap(const struct ks_master_key *mk, const char *name,
                           const uint8_t nonce[KS_STORE_NONCE_LEN], const uint8_t *ct,
                           size_t ct_len, struct ks_store_secret **ret)
{
    if (!mk || !ks_store_name_valid(name) || !nonce || !ct || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    uint8_t aad[AAD_MAX];
    size_t aad_len = build_aad(aad, AAD_META_LABEL, name, false, 0, 0);
    return gcm_open(mk, aad, aad_len, nonce, ct, ct_len, ret);
}
