/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "keyserverd/release_policies.h"

#include <stdio.h>

#include "keyserverd/policy_compiled.h"

bool ks_release_policies_held(void *arg, size_t i, int64_t pv_id, uint32_t version)
{
    struct ks_release_policies *p = arg;
    if (!p || i >= KS_RELEASE_MAX_KEYS) {
        return false;
    }
    ks_policy_compiled_unref(p->compiled[i]); /* from an earlier snapshot of this request */
    p->compiled[i] = ks_policy_cache_get(p->cache, pv_id, version);
    return p->compiled[i] != NULL;
}

int ks_release_policies_compile(struct ks_release_policies *p, struct ks_store_snapshot *snap)
{
    if (!p || !snap) {
        return KS_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < snap->n_keys && i < KS_RELEASE_MAX_KEYS; i++) {
        struct ks_store_key *k = &snap->keys[i];
        if (k->rules_held || k->policy.version == 0) {
            continue; /* version 0: no active version, refused by the check */
        }
        ks_policy_compiled_unref(p->compiled[i]);
        p->compiled[i] = NULL;
        int r = ks_policy_compile_take(&k->policy, k->policy.pv_id, &p->compiled[i]);
        if (r < 0) {
            return r;
        }
        ks_policy_cache_put(p->cache, p->compiled[i]);
    }
    return KS_OK;
}

int ks_release_policies_check(const struct ks_release_policies *p,
                              const struct ks_store_snapshot *snap, const char *const *refs,
                              struct ks_policy_input in, bool *clock_rule, char *reason,
                              size_t reason_len)
{
    /* No key is not "every key passed": nothing to grant is refused too. */
    if (!p || !snap || !refs || !clock_rule || !reason || reason_len == 0 || snap->n_keys == 0 ||
        snap->n_keys > KS_RELEASE_MAX_KEYS) {
        return KS_ERR_INVALID_ARG;
    }
    in.ak = &snap->ak;
    for (size_t i = 0; i < snap->n_keys; i++) {
        const struct ks_store_key *k = &snap->keys[i];
        /* A rotated-out (previous) version stays releasable when named as
         * name@N (db/store.h); a retired one never is (its material is
         * gone); "name" always resolves to the active version. */
        if (k->state == KS_KEY_VERSION_RETIRED) {
            snprintf(reason, reason_len, "key %s is retired", refs[i]);
            return KS_ERR_POLICY_DENIED;
        }
        if (k->state != KS_KEY_VERSION_ACTIVE && !k->explicit_version) {
            snprintf(reason, reason_len, "key %s has no active version", refs[i]);
            return KS_ERR_POLICY_DENIED;
        }
        char why[KS_POLICY_REASON_MAX];
        const struct ks_policy_compiled *cp = p->compiled[i];
        if (k->rules_held && (!cp || cp->pv_id != k->policy.pv_id)) {
            snprintf(reason, reason_len, "key %s: policy version not compiled", refs[i]);
            return KS_ERR_INTERNAL; /* cannot happen: fail closed */
        }
        int r;
        if (cp) {
            *clock_rule = *clock_rule || cp->n_of[KS_RULE_TPM_CLOCK] > 0;
            r = ks_policy_eval_compiled(cp, &in, why, sizeof(why));
        } else {
            /* No active version: refused, with the reason the evaluation
             * gives. */
            *clock_rule = *clock_rule || ks_policy_has_kind(&k->policy, KS_RULE_TPM_CLOCK);
            r = ks_policy_eval_input(&k->policy, &in, why, sizeof(why));
        }
        if (r < 0) {
            snprintf(reason, reason_len, "key %s: %s", refs[i], why);
            return r == KS_ERR_POLICY_DENIED ? r : KS_ERR_INTERNAL;
        }
    }
    return KS_OK;
}

void ks_release_policies_clear(struct ks_release_policies *p)
{
    if (!p) {
        return;
    }
    for (size_t i = 0; i < KS_RELEASE_MAX_KEYS; i++) {
        ks_policy_compiled_unref(p->compiled[i]);
        p->compiled[i] = NULL;
    }
}
