/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_KEYSERVERD_POLICY_EVAL_INTERNAL_H
#define KS_KEYSERVERD_POLICY_EVAL_INTERNAL_H

/* Shared by keyserverd/policy_eval*.c only. */

#include "keyserverd/policy_compiled.h"
#include "keyserverd/policy_eval.h"
#include "keyserverd/policy_rules.h"

struct ks_pe {
    const struct ks_policy_compiled *cp;
    const struct ks_store_policy *p; /* cp->p */
    const struct ks_rule_dec *dec;   /* cp->dec: p->n_rules, decoded */
    const struct ks_policy_input *in;
    char *reason;
    size_t reason_len;
};

/* The rules of one kind, in rule order: i = of[j] for j < n. */
static inline size_t ks_pe_n_of(const struct ks_pe *c, enum ks_rule_kind kind)
{
    return c->cp->n_of[kind];
}
static inline size_t ks_pe_of(const struct ks_pe *c, enum ks_rule_kind kind, size_t j)
{
    return c->cp->of[kind][j];
}

/* Fill the reason; returns KS_ERR_POLICY_DENIED. */
int ks_pe_deny(struct ks_pe *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Which log owns `pcr` in this release: 'f' firmware, 'i' IMA, 'a' app. */
char ks_pe_pcr_owner(const struct ks_evidence *ev, unsigned pcr);

/* Rules on the firmware event log: event, event_forbidden, secureboot,
 * separator, cmdline_forbidden (policy_eval_boot.c). */
KS_WUR int ks_pe_boot_rules(struct ks_pe *c);

/* IMA and application-log rules (policy_eval_ima.c). */
KS_WUR int ks_pe_ima_rules(struct ks_pe *c);
KS_WUR int ks_pe_app_rules(struct ks_pe *c);

/* Copy untrusted text for a reason: printable ASCII, cut to `max` bytes. */
void ks_pe_safe_text(const char *s, size_t len, char *out, size_t max);

#endif
