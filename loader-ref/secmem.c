/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gcrypt.h>
#include <openssl/crypto.h>

#include "secmem.h"

/* Oldest libgcrypt with the secure-memory controls used here. */
#define GCRYPT_MIN_VERSION "1.8.0"

int ks_secmem_mapping_of(const void *p, struct ks_secmem_mapping *ret)
{
    char line[512];
    struct ks_secmem_mapping m;
    bool in = false, found = false;
    uintptr_t addr = (uintptr_t)p;
    if (!p || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    FILE *f = fopen("/proc/self/smaps", "re");
    if (!f) {
        return KS_ERR_IO;
    }
    memset(&m, 0, sizeof(m));
    while (fgets(line, sizeof(line), f)) {
        uintmax_t a, b;
        char perms[8];
        unsigned long long ino;
        int name_at = 0;
        if (sscanf(line, "%jx-%jx %7s %*s %*s %llu %n", &a, &b, perms, &ino, &name_at) >= 4 &&
            name_at > 0) {
            if (in) {
                break; /* the next mapping: ours is complete */
            }
            if (addr >= (uintptr_t)a && addr < (uintptr_t)b) {
                const char *name = line + name_at;
                in = found = true;
                m.start = (uintptr_t)a;
                m.end = (uintptr_t)b;
                m.anonymous = ino == 0 && (*name == '\n' || *name == '\0');
            }
            continue;
        }
        if (!in) {
            continue;
        }
        size_t kb;
        if (sscanf(line, "Locked: %zu kB", &kb) == 1) {
            m.locked_kb = kb;
        } else if (strncmp(line, "VmFlags:", 8) == 0) {
            m.dontdump = strstr(line, " dd") != NULL;
            m.locked_flag = strstr(line, " lo") != NULL;
        }
    }
    fclose(f);
    if (!found) {
        return KS_ERR_NOT_FOUND;
    }
    *ret = m;
    return KS_OK;
}

/* Exclude libgcrypt's pool from core dumps: the mapping that holds a
 * secure allocation is the pool (libgcrypt mmaps it whole, secmem.c
 * init_pool). */
static int gcrypt_pool_dontdump(bool allow_unlocked, char *note, size_t note_len)
{
    struct ks_secmem_mapping m;
    void *probe = gcry_malloc_secure(16);
    if (!probe || !gcry_is_secure(probe)) {
        gcry_free(probe);
        snprintf(note, note_len, "libgcrypt has no secure memory");
        return KS_ERR_SECMEM;
    }
    int r = ks_secmem_mapping_of(probe, &m);
    gcry_free(probe);
    if (r != KS_OK || !m.anonymous) {
        snprintf(note, note_len, "libgcrypt's secure pool is not a mapping of its own");
        return KS_ERR_SECMEM;
    }
    if (madvise((void *)m.start, m.end - m.start, MADV_DONTDUMP) != 0) {
        snprintf(note, note_len, "madvise(MADV_DONTDUMP) of libgcrypt's pool: %s", strerror(errno));
        return KS_ERR_SECMEM;
    }
    if (!m.locked_flag && !allow_unlocked) {
        snprintf(note, note_len,
                 "libgcrypt's secure pool is not locked (RLIMIT_MEMLOCK? see ulimit -l)");
        return KS_ERR_SECMEM;
    }
    return KS_OK;
}

int ks_secmem_init(size_t pool_size, bool allow_unlocked, char *ret_note, size_t note_len)
{
    char scratch[8];
    if (!ret_note || note_len == 0) {
        ret_note = scratch;
        note_len = sizeof(scratch);
    }
    ret_note[0] = '\0';
    if (pool_size == 0) {
        pool_size = KS_SECMEM_POOL_DEFAULT;
    }
    if (gcry_control(GCRYCTL_ANY_INITIALIZATION_P)) {
        snprintf(ret_note, note_len, "libgcrypt was initialised before its secure memory");
        return KS_ERR_SECMEM;
    }
    if (!gcry_check_version(GCRYPT_MIN_VERSION)) {
        snprintf(ret_note, note_len, "libgcrypt older than %s", GCRYPT_MIN_VERSION);
        return KS_ERR_SECMEM;
    }
    /* Whether the pool is locked is checked below and reported by the
     * caller, not printed by libgcrypt. */
    gcry_control(GCRYCTL_DISABLE_SECMEM_WARN);
    /* An error here means the pool could not be locked (libgcrypt's
     * GCRY_SECMEM_FLAG_NOT_LOCKED): the pool exists all the same, and
     * gcrypt_pool_dontdump() decides. */
    if (gcry_control(GCRYCTL_INIT_SECMEM, pool_size, 0) != 0 && !allow_unlocked) {
        snprintf(ret_note, note_len,
                 "libgcrypt's secure pool cannot be locked (RLIMIT_MEMLOCK? see ulimit -l)");
        return KS_ERR_SECMEM;
    }
    gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    int r = gcrypt_pool_dontdump(allow_unlocked, ret_note, note_len);
    if (r != KS_OK) {
        return r;
    }
    /* OpenSSL: 1 = locked and MADV_DONTDUMP (crypto/mem_sec.c), 2 = mapped
     * but mlock or madvise failed. */
    int sh = CRYPTO_secure_malloc_initialized()
                 ? 1
                 : CRYPTO_secure_malloc_init(KS_SECMEM_OPENSSL_HEAP, 16);
    if (sh == 0) {
        snprintf(ret_note, note_len, "OpenSSL has no secure heap");
        return KS_ERR_SECMEM;
    }
    if (sh == 2 && !allow_unlocked) {
        snprintf(ret_note, note_len,
                 "OpenSSL's secure heap is not locked (RLIMIT_MEMLOCK? see ulimit -l)");
        return KS_ERR_SECMEM;
    }
    return KS_OK;
}

void *ks_secmem_alloc(size_t len)
{
    void *p = gcry_calloc_secure(1, len ? len : 1);
    return p;
}

void ks_secmem_free(void *p, size_t len)
{
    if (!p) {
        return;
    }
    OPENSSL_cleanse(p, len);
    gcry_free(p); /* libgcrypt wipes secure blocks too */
}

int ks_lockbuf_alloc(size_t len, bool allow_unlocked, struct ks_lockbuf *ret)
{
    if (!ret || len == 0) {
        return KS_ERR_INVALID_ARG;
    }
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) {
        page = 4096;
    }
    size_t pg = (size_t)page;
    if (len > SIZE_MAX - pg) {
        return KS_ERR_TOO_LARGE;
    }
    size_t map_len = (len + pg - 1) / pg * pg;
    void *p = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        return KS_ERR_NOMEM;
    }
    if (madvise(p, map_len, MADV_DONTDUMP) != 0 || madvise(p, map_len, MADV_DONTFORK) != 0) {
        munmap(p, map_len);
        return KS_ERR_SECMEM;
    }
    bool locked = mlock(p, map_len) == 0;
    if (!locked && !allow_unlocked) {
        munmap(p, map_len);
        return KS_ERR_SECMEM;
    }
    ret->p = p;
    ret->len = len;
    ret->map_len = map_len;
    ret->locked = locked;
    return KS_OK;
}

void ks_lockbuf_free(struct ks_lockbuf *b)
{
    if (!b || !b->p) {
        return;
    }
    OPENSSL_cleanse(b->p, b->map_len);
    if (b->locked) {
        munlock(b->p, b->map_len);
    }
    munmap(b->p, b->map_len);
    memset(b, 0, sizeof(*b));
}
