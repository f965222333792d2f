/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_LOADER_SECMEM_H
#define KS_LOADER_SECMEM_H

/*
 * Where ks-loader keeps its secrets (STYLE.md "Secrets"):
 *
 *   - keys it holds for its lifetime (the request key) and while unsealing
 *     (the DEK) live in libgcrypt's secure memory (gcry_malloc_secure). The
 *     pool is mlock'ed by libgcrypt but libgcrypt does not exclude it from
 *     core dumps, so ks_secmem_init() finds the pool's mapping in
 *     /proc/self/maps and applies MADV_DONTDUMP to all of it. libgcrypt's
 *     own key schedules (GCRY_CIPHER_SECURE, lib/sealed) live there too.
 *   - keys that pass through OpenSSL (HPKE contexts, the attestation
 *     client's one-time key, released keys before they are moved here)
 *     live in OpenSSL's secure heap (CRYPTO_secure_malloc_init), which is
 *     mlock'ed and MADV_DONTDUMP by OpenSSL itself.
 *   - larger secrets (a decrypted prompt, a completion) go to page-backed
 *     buffers of their own: mmap, mlock, MADV_DONTDUMP, MADV_DONTFORK,
 *     wiped before munmap (struct ks_lockbuf).
 *
 * The process stays dumpable (no PR_SET_DUMPABLE 0): the integration test
 * takes a core of the running loader (gcore) to show that none of the above
 * is in it. Every check fails closed unless allow_unlocked, which only
 * relaxes the mlock requirement (MADV_DONTDUMP is always required).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ks_error.h"

/* libgcrypt's secure pool: the DEK, the request key, libgcrypt's AES
 * contexts of the unseal workers (a few KiB each). */
#define KS_SECMEM_POOL_DEFAULT (256u * 1024)
/* OpenSSL's secure heap (a power of two). */
#define KS_SECMEM_OPENSSL_HEAP (256u * 1024)

/*
 * Initialise libgcrypt (version check, secure memory of pool_size bytes,
 * initialization finished) and OpenSSL's secure heap, then exclude
 * libgcrypt's pool from core dumps. KS_ERR_SECMEM when libgcrypt was already
 * initialised by someone else, the pool is not an anonymous mapping of its
 * own, it cannot be excluded from dumps, or (unless allow_unlocked) either
 * heap is not locked. ret_note (may be NULL) gets a line for the log.
 */
KS_WUR int ks_secmem_init(size_t pool_size, bool allow_unlocked, char *ret_note, size_t note_len);

/* len bytes of libgcrypt secure memory, zeroed; NULL when exhausted. */
void *ks_secmem_alloc(size_t len);

/* Wipe len bytes and free. NULL is a no-op. */
void ks_secmem_free(void *p, size_t len);

/* A page-backed secret buffer. */
struct ks_lockbuf {
    uint8_t *p;     /* len usable bytes */
    size_t len;     /* as asked */
    size_t map_len; /* whole pages */
    bool locked;
};

/* mmap len (>= 1) bytes, MADV_DONTDUMP and MADV_DONTFORK, and mlock them:
 * KS_ERR_SECMEM when madvise fails, or mlock fails and !allow_unlocked. */
KS_WUR int ks_lockbuf_alloc(size_t len, bool allow_unlocked, struct ks_lockbuf *ret);

/* Wipe, munlock, munmap; zeroes *b. A zeroed struct is a no-op. */
void ks_lockbuf_free(struct ks_lockbuf *b);

/* Facts about the mapping holding `p`, from /proc/self/smaps (for the
 * checks above and for tests). KS_ERR_NOT_FOUND when no mapping holds p. */
struct ks_secmem_mapping {
    uintptr_t start, end;
    bool anonymous;   /* no file, not [heap] or [stack] */
    bool dontdump;    /* VmFlags "dd" */
    bool locked_flag; /* VmFlags "lo" */
    size_t locked_kb; /* "Locked:" */
};
KS_WUR int ks_secmem_mapping_of(const void *p, struct ks_secmem_mapping *ret);

#endif
