/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "keyserverd/policy_eval_internal.h"
#include "tpm_attest.h"

int ks_pe_deny(struct ks_pe *c, const char *fmt, ...)
{
    if (c->reason && c->reason_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->reason, c->reason_len, fmt, ap);
        va_end(ap);
    }
    return KS_ERR_POLICY_DENIED;
}

char ks_pe_pcr_owner(const struct ks_evidence *ev, unsigned pcr)
{
    if (ev && ev->ima_log && pcr == KS_IMA_PCR) {
        return 'i';
    }
    if (ev && ev->app_log && pcr == ev->app_pcr) {
        return 'a';
    }
    return 'f';
}

void ks_pe_safe_text(const char *s, size_t len, char *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < max; i++) {
        out[n++] = s[i] >= ' ' && s[i] <= '~' ? s[i] : '?';
    }
    if (max) {
        out[n] = '\0';
    }
}

/* True when some rule of (bank, pcr) allows `value`. */
static bool pcr_value_allowed(const struct ks_pe *c, uint16_t bank, unsigned pcr,
                              const uint8_t *value, size_t len)
{
    bool allowed = false;
    for (size_t j = 0; j < ks_pe_n_of(c, KS_RULE_PCR); j++) {
        const struct ks_store_rule *r = &c->p->rules[ks_pe_of(c, KS_RULE_PCR, j)];
        if (r->bank != bank || r->pcr != pcr) {
            continue;
        }
        /* No early exit: the time taken does not say which entry matched. */
        if (r->digest_len == len && CRYPTO_memcmp(r->digest, value, len) == 0) {
            allowed = true;
        }
    }
    return allowed;
}

bool ks_policy_has_kind(const struct ks_store_policy *policy, enum ks_rule_kind kind)
{
    for (size_t i = 0; policy && i < policy->n_rules; i++) {
        if (policy->rules[i].kind == kind) {
            return true;
        }
    }
    return false;
}

/* The PCR allow-list rule i (the checks and messages of the first version
 * of this module, kept). */
static int pcr_rule(struct ks_pe *c, const struct ks_store_rule *r)
{
    const char *bank = ks_alg_name(r->bank);
    if (!bank || r->pcr >= KS_PCR_COUNT) {
        return ks_pe_deny(c, "rule names invalid PCR %s:%u", bank ? bank : "?", r->pcr);
    }
    if (!ks_pcr_selection_has(c->in->sel, r->bank, r->pcr)) {
        return ks_pe_deny(c, "quote does not select PCR %s:%u named by the policy", bank, r->pcr);
    }
    const uint8_t *value = NULL;
    if (ks_pcr_set_get(c->in->quoted, r->bank, r->pcr, &value) < 0) {
        return ks_pe_deny(c, "no quoted value for PCR %s:%u", bank, r->pcr);
    }
    if (!pcr_value_allowed(c, r->bank, r->pcr, value, ks_alg_digest_size(r->bank))) {
        return ks_pe_deny(c, "PCR %s:%u value not allowed by the policy", bank, r->pcr);
    }
    return KS_OK;
}

/* Any other kind: decoded (at compile time), and the (bank, PCR) it names
 * is quoted. */
static int rule_prepare(struct ks_pe *c, size_t i)
{
    const struct ks_store_rule *r = &c->p->rules[i];
    const char *kind = r->kind_name;
    if (c->cp->dec_rc[i] < 0) {
        return ks_pe_deny(c, "rule %s #%lld is malformed", kind, (long long)r->id);
    }
    if (r->pcr != KS_RULE_NO_PCR && r->bank && !ks_pcr_selection_has(c->in->sel, r->bank, r->pcr)) {
        return ks_pe_deny(c, "quote does not select PCR %s:%u named by rule %s",
                          ks_alg_name(r->bank), r->pcr, kind);
    }
    return KS_OK;
}

/* tpm_safe, tpm_clock, tpm_firmware: the verified quote's TPMS_CLOCK_INFO
 * and firmwareVersion (TPM 2.0 Part 2, 10.12.8 TPMS_ATTEST). */
static int tpm_rule(struct ks_pe *c, size_t i)
{
    const struct ks_store_rule *r = &c->p->rules[i];
    const struct ks_quote_info *q = c->in->quote;
    if (!q) {
        return ks_pe_deny(c, "rule %s: no verified quote information", r->kind_name);
    }
    switch (r->kind) {
    case KS_RULE_TPM_SAFE:
        /* safe clear: the clock may have been reported lower before (Part 1,
         * 36.4 "Safe"): an old quote could look newer than it is. */
        return q->safe ? KS_OK : ks_pe_deny(c, "rule tpm_safe: the quote's clock is not safe");
    case KS_RULE_TPM_FIRMWARE:
        if (q->firmware_version < c->dec[i].fw_min) {
            return ks_pe_deny(c,
                              "rule tpm_firmware: TPM firmwareVersion 0x%016llx below the "
                              "minimum 0x%016llx",
                              (unsigned long long)q->firmware_version,
                              (unsigned long long)c->dec[i].fw_min);
        }
        return KS_OK;
    case KS_RULE_TPM_CLOCK: {
        const struct ks_store_ak *ak = c->in->ak;
        if (!ak) {
            return ks_pe_deny(c, "rule tpm_clock: no AK clock record available");
        }
        if (!ak->has_clock) {
            return KS_OK; /* first quote of this AK: recorded on grant */
        }
        /* Lexicographic on (resetCount, restartCount, clock), as the store
         * records it (ks_store_ak_record_quote). */
        bool older = q->reset_count != ak->last_reset_count ? q->reset_count < ak->last_reset_count
                     : q->restart_count != ak->last_restart_count
                         ? q->restart_count < ak->last_restart_count
                         : q->clock < ak->last_clock;
        if (older) {
            return ks_pe_deny(c,
                              "rule tpm_clock: quote clock (%u, %u, %llu) older than the AK's "
                              "last (%u, %u, %llu)",
                              q->reset_count, q->restart_count, (unsigned long long)q->clock,
                              ak->last_reset_count, ak->last_restart_count,
                              (unsigned long long)ak->last_clock);
        }
        return KS_OK;
    }
    default:
        return KS_ERR_INTERNAL;
    }
}

int ks_policy_eval_compiled(const struct ks_policy_compiled *cp, const struct ks_policy_input *in,
                            char *reason, size_t reason_len)
{
    if (reason && reason_len) {
        reason[0] = '\0';
    }
    if (!cp || !in || !in->sel || !in->quoted) {
        return KS_ERR_INVALID_ARG;
    }
    const struct ks_store_policy *policy = cp->p;
    struct ks_pe c = {cp, policy, cp->dec, in, reason, reason_len};
    if (policy->version == 0 || policy->n_rules == 0) {
        return ks_pe_deny(&c, "policy '%s' has no active rules", policy->name);
    }
    int r = KS_OK;
    bool logs = false;
    uint32_t pcr_done[KS_MAX_BANKS] = {0}; /* (bank, PCR) allow-lists judged */
    for (size_t i = 0; i < policy->n_rules && r == KS_OK; i++) {
        const struct ks_store_rule *rule = &policy->rules[i];
        if (rule->kind == KS_RULE_UNKNOWN || rule->kind > KS_RULE_KIND_MAX) {
            r = ks_pe_deny(&c, "rule kind '%s' not supported by this keyserver", rule->kind_name);
        } else if (rule->kind == KS_RULE_PCR) {
            /* Every entry of one (bank, PCR) gives the same answer: judge
             * the allow-list once, not once per entry. */
            int b = ks_alg_bank_index(rule->bank);
            bool seen = b >= 0 && rule->pcr < KS_PCR_COUNT && (pcr_done[b] >> rule->pcr & 1u);
            if (!seen && (r = pcr_rule(&c, rule)) == KS_OK && b >= 0 && rule->pcr < KS_PCR_COUNT) {
                pcr_done[b] |= 1u << rule->pcr;
            }
        } else if ((r = rule_prepare(&c, i)) == KS_OK) {
            if (rule->kind == KS_RULE_TPM_SAFE || rule->kind == KS_RULE_TPM_CLOCK ||
                rule->kind == KS_RULE_TPM_FIRMWARE) {
                r = tpm_rule(&c, i);
            } else {
                logs = true;
            }
        }
    }
    if (r == KS_OK && logs && (r = ks_pe_boot_rules(&c)) == KS_OK &&
        (r = ks_pe_ima_rules(&c)) == KS_OK) {
        r = ks_pe_app_rules(&c);
    }
    return r;
}

int ks_policy_eval_input(const struct ks_store_policy *policy, const struct ks_policy_input *in,
                         char *reason, size_t reason_len)
{
    if (reason && reason_len) {
        reason[0] = '\0';
    }
    if (!policy || !in || !in->sel || !in->quoted) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_policy_compiled *cp = NULL;
    int r = ks_policy_compile(policy, 0, &cp);
    if (r == KS_OK) {
        r = ks_policy_eval_compiled(cp, in, reason, reason_len);
    }
    ks_policy_compiled_unref(cp);
    return r;
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
    struct ks_policy_input in = {.sel = sel, .quoted = quoted};
    return ks_policy_eval_input(policy, &in, reason, reason_len);
}
