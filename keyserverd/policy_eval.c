/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "keyserverd/policy_eval.h"
#include "tpm_attest.h"

__attribute__((format(printf, 3, 4))) static int deny(char *reason, size_t reason_len,
                                                      const char *fmt, ...)
{
    if (reason && reason_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, reason_len, fmt, ap);
        va_end(ap);
    }
    return KS_ERR_POLICY_DENIED;
}

/* True when some rule of (bank, pcr) allows `value`. */
static bool pcr_value_allowed(const struct ks_store_policy *p, uint16_t bank, unsigned pcr,
                              const uint8_t *value, size_t len)
{
    bool allowed = false;
    for (size_t i = 0; i < p->n_rules; i++) {
        const struct ks_store_rule *r = &p->rules[i];
        if (r->kind != KS_RULE_PCR || r->bank != bank || r->pcr != pcr) {
            continue;
        }
        /* No early exit: the time taken does not say which entry matched. */
        if (r->digest_len == len && CRYPTO_memcmp(r->digest, value, len) == 0) {
            allowed = true;
        }
    }
    return allowed;
}

int ks_policy_eval(const struct ks_store_policy *policy, const TPML_PCR_SELECTION *sel,
                   const struct ks_pcr_set *quoted, char *reason, size_t reason_len)
{
    if (reason && reason_len) {
        reason[0] = '\0';
    }
    if (!policy || !sel || !quoted) {
        return KS_ERR_INVALID_ARG;
    }
    if (policy->version == 0 || policy->n_rules == 0) {
        return deny(reason, reason_len, "policy '%s' has no active rules", policy->name);
    }
    for (size_t i = 0; i < policy->n_rules; i++) {
        const struct ks_store_rule *r = &policy->rules[i];
        if (r->kind != KS_RULE_PCR) {
            return deny(reason, reason_len, "rule kind '%s' not supported by this keyserver",
                        r->kind_name);
        }
        const char *bank = ks_alg_name(r->bank);
        if (!bank || r->pcr >= KS_PCR_COUNT) {
            return deny(reason, reason_len, "rule names invalid PCR %s:%u", bank ? bank : "?",
                        r->pcr);
        }
        if (!ks_pcr_selection_has(sel, r->bank, r->pcr)) {
            return deny(reason, reason_len, "quote does not select PCR %s:%u named by the policy",
                        bank, r->pcr);
        }
        const uint8_t *value = NULL;
        if (ks_pcr_set_get(quoted, r->bank, r->pcr, &value) < 0) {
            return deny(reason, reason_len, "no quoted value for PCR %s:%u", bank, r->pcr);
        }
        if (!pcr_value_allowed(policy, r->bank, r->pcr, value, ks_alg_digest_size(r->bank))) {
            return deny(reason, reason_len, "PCR %s:%u value not allowed by the policy", bank,
                        r->pcr);
        }
    }
    return KS_OK;
}
