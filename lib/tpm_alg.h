/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_TPM_ALG_H
#define KS_TPM_ALG_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "ks_error.h"

/* Largest digest of any supported bank (SHA-512). */
#define KS_MAX_DIGEST 64
/* Number of supported hash banks: sha1, sha256, sha384, sha512. */
#define KS_MAX_BANKS 4

/* TPM_ALG_ID values (TPM 2.0 Part 2, 6.3) of the supported hashes. */
#define KS_ALG_SHA1 0x0004
#define KS_ALG_SHA256 0x000B
#define KS_ALG_SHA384 0x000C
#define KS_ALG_SHA512 0x000D

/* Digest size in bytes, or 0 for an unsupported hash algorithm. */
size_t ks_alg_digest_size(uint16_t alg);

/* "sha1", "sha256", "sha384", "sha512", or NULL when unsupported. */
const char *ks_alg_name(uint16_t alg);

/* Parse a bank name as used in the protocol (lowercase, exact). */
KS_WUR int ks_alg_from_name(const char *name, uint16_t *ret_alg);

/* OpenSSL digest for the algorithm (static object, not to be freed), or NULL. */
const EVP_MD *ks_alg_md(uint16_t alg);

/* Index 0..KS_MAX_BANKS-1 of the algorithm, or -1 when unsupported. */
int ks_alg_bank_index(uint16_t alg);

/* One-shot hash of several buffers. ret must hold ks_alg_digest_size(alg). */
KS_WUR int ks_alg_hash(uint16_t alg, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                       uint8_t *ret);

#endif
