/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_KEYSERVERD_POLICY_EVAL_H
#define KS_KEYSERVERD_POLICY_EVAL_H

/*
 * Policy evaluation: a pure function of one policy version and the verified
 * evidence. No I/O, no store, no HTTP: the release decision calls it once per
 * requested key after the quote, the PCR digest and the logs have verified.
 */

#include <stdbool.h>
#include <stddef.h>

#include <tss2/tss2_tpm2_types.h>

#include "db/store.h"
#include "keyserverd/evidence.h"
#include "ks_error.h"
#include "pcr.h"
#include "quote.h"

/* Room for a refusal reason naming the rule that failed. */
#define KS_POLICY_REASON_MAX 160

/*
 * Evaluate `policy` against PCR values that the quote vouched for
 * (`quoted`: exactly the PCRs the quote selects, digest already verified)
 * and the quote's selection.
 * - a policy with no rules refuses everything (no active version included);
 * - a rule of a kind this program does not know refuses;
 * - every (bank, PCR) a rule names must be selected by the quote;
 * - PCR allow-lists: any-of per (bank, PCR), every listed (bank, PCR) required.
 * KS_OK when the policy allows, KS_ERR_POLICY_DENIED with `reason` filled
 * (NUL-terminated, at most KS_POLICY_REASON_MAX bytes) otherwise.
 */
KS_WUR int ks_policy_eval(const struct ks_store_policy *policy, const TPML_PCR_SELECTION *sel,
                          const struct ks_pcr_set *quoted, char *reason, size_t reason_len);

/* Everything a policy is judged on, all of it verified before the call. */
struct ks_policy_input {
    const TPML_PCR_SELECTION *sel;   /* the quote's selection */
    const struct ks_pcr_set *quoted; /* exactly the selected PCRs, digest verified */
    /* The logs, replayed against `quoted` (keyserverd/evidence.h); NULL when
     * none were submitted: every rule that reads a log then refuses. */
    const struct ks_evidence *ev;
    /* The verified quote (clock, resetCount, restartCount, safe,
     * firmwareVersion); NULL: tpm_* rules refuse. */
    const struct ks_quote_info *quote;
    /* The AK's last recorded clock (has_clock etc.); NULL: tpm_clock refuses. */
    const struct ks_store_ak *ak;
};

/*
 * Evaluate every rule of `policy` (keyserverd/policy_rules.h lists the
 * kinds) against `in`. On top of ks_policy_eval's rules:
 * - a rule that names a (bank, PCR) needs the quote to select it, and a rule
 *   that judges a log's events needs that log submitted, owning that PCR
 *   (PCR 10: the IMA log; the application PCR: the application log; the rest:
 *   the firmware log) and carrying that bank (so it was replayed in it);
 * - a rule reads an event's data only when ks_eventlog_event_check_data says
 *   MATCH in the rule's bank (GRUB's PCR 8 strings: when the digest is that
 *   of the string without its "grub_cmd: " / "kernel_cmdline: " prefix and
 *   NUL); otherwise the rule fails;
 * - IMA rules judge the entries [0, ev->ima_count) only.
 * The reason names the rule kind (and its bank:PCR) that refused.
 * KS_OK, KS_ERR_POLICY_DENIED, KS_ERR_INVALID_ARG, KS_ERR_NOMEM.
 */
KS_WUR int ks_policy_eval_input(const struct ks_store_policy *policy,
                                const struct ks_policy_input *in, char *reason, size_t reason_len);

/* True when a policy has a rule of `kind` (the release decision asks for
 * KS_RULE_TPM_CLOCK: it then enforces the clock record at grant time). */
/* The same on a compiled policy version (keyserverd/policy_compiled.h):
 * nothing is decoded or sorted per call. */
struct ks_policy_compiled;
KS_WUR int ks_policy_eval_compiled(const struct ks_policy_compiled *cp,
                                   const struct ks_policy_input *in, char *reason,
                                   size_t reason_len);

bool ks_policy_has_kind(const struct ks_store_policy *policy, enum ks_rule_kind kind);

#endif
