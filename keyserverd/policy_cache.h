/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_KEYSERVERD_POLICY_CACHE_H
#define KS_KEYSERVERD_POLICY_CACHE_H

/*
 * The compiled policy versions keyserverd has seen (policy_compiled.h),
 * keyed by the version's row id and number. A version's rules never change
 * once it is active, so an entry never goes stale; which version of a
 * policy is active is still read from the database at every release (the
 * snapshot), so an activation or rollback applies to the next request.
 * Bounded by entries and by rules (least recently used goes first;
 * keyserverd.conf policy_cache_versions / policy_cache_rules); thread-safe.
 */

#include <stddef.h>
#include <stdint.h>

#include "keyserverd/policy_compiled.h"
#include "ks_error.h"

struct ks_policy_cache;

KS_WUR int ks_policy_cache_new(size_t max_versions, size_t max_rules, struct ks_policy_cache **ret);
void ks_policy_cache_free(struct ks_policy_cache *c);

/* A new reference to the compiled version (pv_id, version), or NULL. */
struct ks_policy_compiled *ks_policy_cache_get(struct ks_policy_cache *c, int64_t pv_id,
                                               uint32_t version);

/* Keep cp (the cache takes a reference of its own; the caller keeps its
 * one). A version larger than max_rules is not kept. Older entries go when
 * the bounds are passed. */
void ks_policy_cache_put(struct ks_policy_cache *c, struct ks_policy_compiled *cp);

/* Entries and rules held, hits and misses so far. */
struct ks_policy_cache_stats {
    size_t versions, rules;
    unsigned long long hits, misses;
};
void ks_policy_cache_stats(struct ks_policy_cache *c, struct ks_policy_cache_stats *ret);

#endif
