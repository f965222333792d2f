/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_KEYSERVERD_POLICY_COMPILED_H
#define KS_KEYSERVERD_POLICY_COMPILED_H

/*
 * A policy version prepared for evaluation: every rule's data decoded once,
 * the rule indexes of each kind, and the ima_file rules sorted by path.
 * Versions are immutable once active (db/schema.sql: triggers refuse rule
 * edits outside a draft), so keyserverd keeps the compiled form of each
 * version it has seen (keyserverd/policy_cache.h) instead of reading,
 * decoding and sorting every rule at every release: what makes IMA
 * allow-lists of 100k files usable. Evaluation reads it only; it is shared
 * between threads by reference count.
 */

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "db/store.h"
#include "keyserverd/policy_rules.h"
#include "ks_error.h"

struct ks_policy_compiled {
    const struct ks_store_policy *p; /* &owned, or the caller's (borrowed) */
    struct ks_store_policy owned;
    int64_t pv_id;                    /* the version's row id (0: not from the store) */
    struct ks_rule_dec *dec;          /* p->n_rules; zeroed for pcr and unknown kinds */
    int *dec_rc;                      /* ks_rule_decode's result per rule */
    size_t *of[KS_RULE_KIND_MAX + 1]; /* indexes of each kind's rules, in rule order */
    size_t n_of[KS_RULE_KIND_MAX + 1];
    const struct ks_rule_dec **ima_files; /* the well-formed ima_file rules, by path */
    size_t n_ima_files;
    atomic_uint refs;
};

/*
 * Compile `policy`, whose rules are borrowed: they must outlive the result.
 * A malformed rule is not an error here: its dec_rc says so and evaluation
 * refuses when it reaches it. KS_ERR_NOMEM, KS_ERR_INVALID_ARG. The result
 * holds one reference.
 */
KS_WUR int ks_policy_compile(const struct ks_store_policy *policy, int64_t pv_id,
                             struct ks_policy_compiled **ret);

/* The same, but the rules move into the result (policy is left with none)
 * and live as long as it. On failure the policy is untouched. */
KS_WUR int ks_policy_compile_take(struct ks_store_policy *policy, int64_t pv_id,
                                  struct ks_policy_compiled **ret);

void ks_policy_compiled_ref(struct ks_policy_compiled *cp);
/* Drop a reference; the last one frees it. NULL is ignored. */
void ks_policy_compiled_unref(struct ks_policy_compiled *cp);

#endif
