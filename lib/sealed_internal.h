/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_SEALED_INTERNAL_H
#define KS_SEALED_INTERNAL_H

/* Shared by lib/sealed.c (format, sealing) and lib/sealed_unseal.c. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sealed.h"

/* "ks-seal-v1" || 0x00 || header_digest || u64be index || u8 last */
#define KS_SEAL_AAD_LEN (sizeof(KS_SEAL_AAD_LABEL) + KS_SEAL_DIGEST_LEN + 8 + 1)

/* Encode `h` (fields valid) into out; returns the length. */
size_t ks_seal_header_encode(const struct ks_seal_header *h, uint8_t out[KS_SEAL_HEADER_MAX]);

/* nonce_i = nonce_base XOR (0x00000000 || u64be i) */
void ks_seal_chunk_nonce(const struct ks_seal_header *h, uint64_t index,
                         uint8_t out[KS_SEAL_NONCE_LEN]);

void ks_seal_chunk_aad(const struct ks_seal_header *h, uint64_t index, bool last,
                       uint8_t out[KS_SEAL_AAD_LEN]);

/* Plaintext bytes of chunk `index` (< ks_seal_chunk_count). */
size_t ks_seal_chunk_len(const struct ks_seal_header *h, uint64_t index);

/* Offset of chunk `index` in the sealed file. */
uint64_t ks_seal_chunk_offset(const struct ks_seal_header *h, uint64_t index);

/* pread until `len` bytes or end of file; the number read, or -1 (errno). */
ssize_t ks_seal_pread_full(int fd, void *buf, size_t len, uint64_t off);

#endif
