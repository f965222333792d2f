/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_KEYSERVERD_POLICY_EVAL_H
#define KS_KEYSERVERD_POLICY_EVAL_H

/*
 * Policy evaluation: a pure function of one policy version and the verified
 * evidence. No I/O, no store, no HTTP: the release decision calls it once per
 * requested key after the quote, the PCR digest and the logs have verified.
 */

#include <stddef.h>

#include <tss2/tss2_tpm2_types.h>

#include "db/store.h"
#include "ks_error.h"
#include "pcr.h"

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

#endif
