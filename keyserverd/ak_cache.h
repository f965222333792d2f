/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_KEYSERVERD_AK_CACHE_H
#define KS_KEYSERVERD_AK_CACHE_H

/*
 * Parsed attestation keys, by AK id. Parsing a public area into an EVP_PKEY
 * costs more than verifying a signature, so each AK is parsed once. An AK
 * id is the TPM Name, a hash of the public area, so an entry can never go
 * stale; whether the AK may be used (active, not revoked) is read from the
 * store on every request, never from here. Entries are immutable and live
 * until the cache is freed, so a returned pointer stays valid without
 * reference counting. Thread-safe. Bounded: past `max_entries` new AKs are
 * parsed per request and not kept.
 */

#include <stddef.h>
#include <stdint.h>

#include "ks_error.h"
#include "quote.h"

struct ks_ak_cache;

KS_WUR int ks_ak_cache_new(size_t max_entries, struct ks_ak_cache **ret);
void ks_ak_cache_free(struct ks_ak_cache *cache);

/*
 * The verification key of AK `ak_id` whose stored public area is
 * `public_blob` (TPM2B_PUBLIC). The blob must decode, carry the attributes
 * of a restricted signing key and hash to `ak_id` (its TPM Name), else
 * KS_ERR_TPM_NAME / KS_ERR_TPM_ATTRIBUTES / a decode error. *ret_ak is
 * either cached (ret_owned = NULL) or, when the cache is full, a new object
 * the caller frees (*ret_owned = *ret_ak).
 */
KS_WUR int ks_ak_cache_get(struct ks_ak_cache *cache, const char *ak_id, const uint8_t *public_blob,
                           size_t public_len, const struct ks_quote_ak **ret_ak,
                           struct ks_quote_ak **ret_owned);

#endif
