/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_SEALED_H
#define KS_SEALED_H

/*
 * Sealed files: a plaintext (the model weights) encrypted in chunks with
 * AES-256-GCM under a data-encryption key (DEK) that only the keyserver
 * releases (docs: DESIGN "Reference loader path", model.md "Sealed file").
 *
 * Layout (all integers big-endian):
 *   "KSSEAL01" | u32 format version (1) | u32 chunk size (4 KiB..64 MiB)
 *   | u64 plaintext length (at most KS_SEAL_PLAIN_MAX) | u8 key-name length
 *   (1..64) | key name ([A-Za-z0-9._-]) | u32 key version (>= 1)
 *   | 12-byte random nonce base | 32-byte SHA-256 of the plaintext
 * then n = max(1, ceil(len / chunk)) chunks, chunk i being
 *   ciphertext (chunk bytes, the last one len - (n-1)*chunk) || 16-byte tag
 * with
 *   header_digest = SHA-256(every header byte)
 *   nonce_i = nonce_base XOR (0x00000000 || u64 i)
 *   AAD_i   = "ks-seal-v1" || 0x00 || header_digest || u64 i || u8 last
 * (last = 1 for chunk n-1 only). Every tag thus binds the whole header, the
 * chunk's position and whether it ends the file: reordered, dropped, added or
 * truncated chunks and any header change fail authentication, and the file
 * size must equal header + len + 16 n exactly. An empty plaintext is one empty
 * last chunk (its tag alone).
 *
 * Crypto: sealing uses OpenSSL; unsealing uses libgcrypt (faster here) with
 * the key and the cipher contexts in libgcrypt's secure (locked) memory, and
 * OpenSSL's SHA-256 (SHA-NI) for the running digest of the plaintext. Sealing
 * and unsealing being two implementations, the round-trip tests cross-check
 * them; a vector made with Python's cryptography checks both.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ks_error.h"

#define KS_SEAL_MAGIC "KSSEAL01"
#define KS_SEAL_MAGIC_LEN 8
#define KS_SEAL_FORMAT_VERSION 1u
#define KS_SEAL_KEY_LEN 32
#define KS_SEAL_NONCE_LEN 12
#define KS_SEAL_TAG_LEN 16
#define KS_SEAL_DIGEST_LEN 32
#define KS_SEAL_NAME_MAX 64
#define KS_SEAL_CHUNK_MIN (4u * 1024)
#define KS_SEAL_CHUNK_MAX (64u * 1024 * 1024)
#define KS_SEAL_CHUNK_DEFAULT (4u * 1024 * 1024)
/* 1 TiB: far above any model this project loads, and small enough that
 * header + len + 16 n never overflows 64 bits. */
#define KS_SEAL_PLAIN_MAX (UINT64_C(1) << 40)
/* magic, version, chunk, length, name length, name, key version, nonce, digest */
#define KS_SEAL_HEADER_MIN (8 + 4 + 4 + 8 + 1 + 1 + 4 + 12 + 32)
#define KS_SEAL_HEADER_MAX (8 + 4 + 4 + 8 + 1 + KS_SEAL_NAME_MAX + 4 + 12 + 32)
/* The AAD's domain-separation label (without its terminating 0x00). */
#define KS_SEAL_AAD_LABEL "ks-seal-v1"
#define KS_SEAL_MAX_THREADS 64

/* A parsed, validated header. */
struct ks_seal_header {
    uint32_t version;
    uint32_t chunk_size;
    uint64_t plain_len;
    char key_name[KS_SEAL_NAME_MAX + 1]; /* NUL-terminated */
    uint32_t key_version;
    uint8_t nonce_base[KS_SEAL_NONCE_LEN];
    uint8_t plain_sha256[KS_SEAL_DIGEST_LEN];
    size_t header_len;                         /* encoded bytes */
    uint8_t header_digest[KS_SEAL_DIGEST_LEN]; /* SHA-256 of them */
};

/* true when `name` is 1..64 characters of [A-Za-z0-9._-] (the key names of
 * ksctl and the keyserver). */
bool ks_seal_key_name_valid(const char *name);

/*
 * Parse and validate the header at the start of `buf` (`len` bytes of the
 * file, possibly more than the header). Strict: the magic, format version 1,
 * chunk size within bounds, length at most KS_SEAL_PLAIN_MAX, name 1..64
 * allowed characters, key version >= 1.
 * Errors: KS_ERR_SEAL_HEADER_TRUNCATED, KS_ERR_SEAL_MAGIC, KS_ERR_SEAL_VERSION,
 * KS_ERR_SEAL_CHUNK_SIZE, KS_ERR_SEAL_LENGTH, KS_ERR_SEAL_KEY_NAME,
 * KS_ERR_SEAL_KEY_VERSION, KS_ERR_INVALID_ARG.
 */
KS_WUR int ks_seal_header_parse(const uint8_t *buf, size_t len, struct ks_seal_header *ret);

/* Number of chunks: max(1, ceil(plain_len / chunk_size)). */
uint64_t ks_seal_chunk_count(const struct ks_seal_header *h);

/* The exact size of the sealed file that `h` describes. */
uint64_t ks_seal_file_size(const struct ks_seal_header *h);

/* KS_ERR_SEAL_TRUNCATED if `file_size` is below ks_seal_file_size(h),
 * KS_ERR_SEAL_TRAILING if above, KS_OK if equal. */
KS_WUR int ks_seal_check_file_size(const struct ks_seal_header *h, uint64_t file_size);

/* ---- sealing (data owner side; OpenSSL) --------------------------------- */

struct ks_seal_params {
    const char *key_name; /* required, see ks_seal_key_name_valid() */
    uint32_t key_version; /* 0: 1 */
    uint32_t chunk_size;  /* 0: KS_SEAL_CHUNK_DEFAULT */
    /* NULL: 12 fresh random bytes (RAND_bytes). Fixed only for test vectors:
     * reusing a nonce base with the same key breaks GCM. */
    const uint8_t *nonce_base;
};

/*
 * Seal the regular file `in_fd` (read with pread from offset 0, twice: once
 * for the header's SHA-256, once to encrypt, hashing again) into `out_fd`
 * (written sequentially from its current offset). A plaintext that changes
 * between the two passes is refused (KS_ERR_SEAL_INPUT_CHANGED); what was
 * written to out_fd is then garbage the caller removes. Memory use is one
 * chunk. ret_hdr (may be NULL) gets the header written.
 * Errors: KS_ERR_INVALID_ARG, KS_ERR_SEAL_KEY_NAME, KS_ERR_SEAL_CHUNK_SIZE,
 * KS_ERR_SEAL_NOT_REGULAR, KS_ERR_SEAL_LENGTH, KS_ERR_SEAL_INPUT_CHANGED,
 * KS_ERR_IO (errno kept), KS_ERR_NOMEM, KS_ERR_CRYPTO.
 */
KS_WUR int ks_seal_fd(int in_fd, int out_fd, const struct ks_seal_params *p,
                      const uint8_t key[KS_SEAL_KEY_LEN], struct ks_seal_header *ret_hdr);

/* ---- unsealing (loader side; libgcrypt) --------------------------------- */

/*
 * Initialise libgcrypt for the unseal path if the program has not: version
 * check, 256 KiB of secure memory (locked; its warnings silenced, the caller
 * decides what to report; a program that initialises libgcrypt itself needs
 * about 2 KiB per unseal worker there), initialisation finished. Idempotent and thread-safe after
 * the first call; call it once from main() before starting threads.
 * KS_ERR_CRYPTO if libgcrypt is too old.
 */
KS_WUR int ks_seal_gcrypt_init(void);

/*
 * Where unsealed chunks go. The unseal workers (0..threads-1) call acquire()
 * for a destination of `len` bytes for plaintext bytes [off, off + len) of
 * chunk `index`, decrypt straight into it, and once the chunk has
 * authenticated (and, unless KS_UNSEAL_SKIP_DIGEST, been hashed) call commit()
 * with the same pointer; after commit the unseal code never touches it
 * again. A worker holds at most one destination at a time. Both may be called
 * concurrently from different workers. A destination that was acquired but
 * not committed (a failure) holds unauthenticated or partial data: the unseal
 * code wipes that chunk; the caller discards everything on failure.
 * commit may be NULL. Callbacks return KS_OK or a negative KS_ERR_*, which
 * stops the unseal and is returned by it.
 */
struct ks_unseal_sink {
    void *ctx;
    int (*acquire)(void *ctx, unsigned worker, uint64_t index, uint64_t off, size_t len,
                   uint8_t **ret_dst);
    int (*commit)(void *ctx, unsigned worker, uint64_t index, uint64_t off, uint8_t *dst,
                  size_t len);
};

/* ks_unseal_run() flags */
/* Skip the running SHA-256 of the plaintext. Every chunk is still
 * authenticated under the DEK (and with it the header's SHA-256, through the
 * header digest in every AAD); only the recomputation that would catch a
 * sealer that wrote a wrong digest is skipped. For benchmarks. */
#define KS_UNSEAL_SKIP_DIGEST 0x1u

struct ks_unseal;

/*
 * Read and validate the header of the sealed regular file `fd` (borrowed:
 * it must stay open until ks_unseal_free; read with pread only), check the
 * file size against it, and that it names key `expect_key_name` (NULL: any)
 * and `expect_key_version` (0: any).
 * Errors: those of ks_seal_header_parse, KS_ERR_SEAL_NOT_REGULAR,
 * KS_ERR_SEAL_TRUNCATED, KS_ERR_SEAL_TRAILING, KS_ERR_SEAL_KEY_MISMATCH,
 * KS_ERR_SEAL_KEY_VERSION, KS_ERR_IO, KS_ERR_NOMEM.
 */
KS_WUR int ks_unseal_open(int fd, const char *expect_key_name, uint32_t expect_key_version,
                          struct ks_unseal **ret);

const struct ks_seal_header *ks_unseal_header(const struct ks_unseal *u);

/*
 * Decrypt and authenticate every chunk with `key` into `sink`, chunks shared
 * among `threads` workers (1..KS_SEAL_MAX_THREADS; more than the number of
 * chunks is clamped). Each worker reads a whole chunk's ciphertext (pread) and
 * decrypts it straight into the sink's destination: no further copy. The
 * SHA-256 of the plaintext is computed in chunk order as chunks complete (the
 * worker whose chunk is next hashes it while the others keep decrypting) and
 * compared at the end. Bytes after the last chunk are refused.
 * The key is copied into libgcrypt secure memory for the duration of the call
 * and wiped (call ks_seal_gcrypt_init first). Can be called once per handle.
 * Errors: KS_ERR_SEAL_AUTH (wrong key, tampered/reordered chunk or header),
 * KS_ERR_SEAL_TRUNCATED, KS_ERR_SEAL_TRAILING (the file changed since open),
 * KS_ERR_SEAL_DIGEST, KS_ERR_INVALID_ARG (also on a second call),
 * KS_ERR_IO, KS_ERR_NOMEM, KS_ERR_CRYPTO, or a sink callback's error.
 */
KS_WUR int ks_unseal_run(struct ks_unseal *u, const uint8_t key[KS_SEAL_KEY_LEN],
                         const struct ks_unseal_sink *sink, unsigned threads, unsigned flags);

/* ks_unseal_run into one host buffer of at least plain_len bytes, which is
 * wiped whole on failure. */
KS_WUR int ks_unseal_to_buffer(struct ks_unseal *u, const uint8_t key[KS_SEAL_KEY_LEN],
                               uint8_t *dst, size_t dst_len, unsigned threads, unsigned flags);

/* NULL is a no-op. Does not close the fd. */
void ks_unseal_free(struct ks_unseal *u);

#endif
