/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_KEYSERVERD_RELEASE_POLICIES_H
#define KS_KEYSERVERD_RELEASE_POLICIES_H

/*
 * Step 4 of the release decision (release_decide.c): each requested key's
 * state and its policy's active version, judged on the verified evidence.
 * The versions come compiled from the cache (policy_cache.h) when it has
 * them: ks_release_policies_held is the snapshot's callback
 * (ks_store_release_snapshot_ex), ks_release_policies_compile compiles
 * and keeps those it did not have, ks_release_policies_check judges.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/store.h"
#include "keyserverd/policy_cache.h"
#include "keyserverd/policy_eval.h"
#include "keyserverd/release.h"
#include "ks_error.h"

struct ks_release_policies {
    struct ks_policy_cache *cache; /* NULL: nothing is kept between requests */
    /* Each key's active policy version, compiled (held references). */
    struct ks_policy_compiled *compiled[KS_RELEASE_MAX_KEYS];
};

/* ks_store_rules_held_fn with arg = struct ks_release_policies *. */
bool ks_release_policies_held(void *arg, size_t key_index, int64_t pv_id, uint32_t version);

/* The snapshot's policy versions the cache did not have: compiled (their
 * rules move out of the snapshot) and kept. KS_ERR_NOMEM. */
KS_WUR int ks_release_policies_compile(struct ks_release_policies *p,
                                       struct ks_store_snapshot *snap);

/*
 * Every key or none: a retired version, or "name" without an active
 * version, refuses; then the key's policy judges `in` (in->ak is set to
 * the snapshot's AK here). *clock_rule is set when some policy has a
 * tpm_clock rule. KS_OK, KS_ERR_POLICY_DENIED with the reason ("key REF:
 * ..."), KS_ERR_INVALID_ARG (also for no key at all), KS_ERR_INTERNAL (also when a key's rules were
 * held but no compiled version is there: fail closed).
 */
KS_WUR int ks_release_policies_check(const struct ks_release_policies *p,
                                     const struct ks_store_snapshot *snap, const char *const *refs,
                                     struct ks_policy_input in, bool *clock_rule, char *reason,
                                     size_t reason_len);

/* Drop the references held. */
void ks_release_policies_clear(struct ks_release_policies *p);

#endif
