/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_KEYSERVERD_NONCE_H
#define KS_KEYSERVERD_NONCE_H

/*
 * Stateless release nonces (DESIGN "Protocol", POST /v1/challenge):
 *
 *     nonce = expiry (u64 big-endian Unix seconds) || random(8)
 *             || HMAC-SHA256(nonce_key, expiry || random)[0:16]       (32 bytes)
 *
 * Issuing needs no state. Checking verifies the tag in constant time, then
 * the expiry. Consuming additionally records the nonce in an in-memory
 * replay cache for the rest of its lifetime, atomically: of any number of
 * concurrent consumers of one valid nonce exactly one succeeds.
 *
 * The replay cache has a fixed capacity. When every slot holds an unexpired
 * nonce, consuming fails with KS_ERR_NONCE_CACHE_FULL (HTTP 503) rather than
 * evicting an unexpired entry, which would let that nonce be replayed. The
 * nonce is then not consumed and the client may retry. Capacity bounds the
 * release rate to capacity / nonce_lifetime per second per process.
 *
 * Time is passed in by the caller (Unix seconds), so tests control it.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ks_error.h"

#define KS_NONCE_LEN 32
#define KS_NONCE_KEY_LEN 32
#define KS_NONCE_TAG_LEN 16
/* Default replay cache capacity (entries). */
#define KS_NONCE_CACHE_DEFAULT 65536

struct ks_nonce;

/* key: KS_NONCE_KEY_LEN bytes, copied into locked memory (OpenSSL secure
 * heap when initialised) and wiped on free. lifetime: seconds (>= 1).
 * capacity: replay cache entries (>= 1). */
KS_WUR int ks_nonce_new(const uint8_t *key, size_t key_len, unsigned lifetime, size_t capacity,
                        struct ks_nonce **ret);
void ks_nonce_free(struct ks_nonce *n);

/* A fresh nonce valid until *ret_expires (= now + lifetime). */
KS_WUR int ks_nonce_issue(struct ks_nonce *n, uint64_t now, uint8_t ret_nonce[KS_NONCE_LEN],
                          uint64_t *ret_expires);

/* KS_OK, KS_ERR_NONCE_INVALID (wrong length or tag), KS_ERR_NONCE_EXPIRED
 * (now >= expiry, or an expiry further ahead than a lifetime). Does not
 * consume. */
KS_WUR int ks_nonce_check(const struct ks_nonce *n, const uint8_t *nonce, size_t len, uint64_t now);

/* Check, then consume: KS_OK for the first consumer of a valid nonce;
 * KS_ERR_NONCE_USED after that; KS_ERR_NONCE_CACHE_FULL when the cache holds
 * only unexpired nonces; the errors of ks_nonce_check. Thread-safe. */
KS_WUR int ks_nonce_consume(struct ks_nonce *n, const uint8_t *nonce, size_t len, uint64_t now);

/* Unexpired entries in the replay cache at `now` (for metrics and tests). */
size_t ks_nonce_cache_count(struct ks_nonce *n, uint64_t now);

/* true when the cache has no room for another unexpired nonce at `now`. */
bool ks_nonce_cache_full(struct ks_nonce *n, uint64_t now);

#endif
