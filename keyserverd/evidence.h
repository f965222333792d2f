/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_KEYSERVERD_EVIDENCE_H
#define KS_KEYSERVERD_EVIDENCE_H

/*
 * The logs a loader submits with a quote (TCG firmware event log, IMA list,
 * application log of the measured launcher), checked against the PCR values
 * the quote vouched for. Pure: no I/O, no store.
 */

#include <stddef.h>
#include <stdint.h>

#include <tss2/tss2_tpm2_types.h>

#include "ks_error.h"
#include "eventlog.h"
#include "ima.h"
#include "pcr.h"

#define KS_EVIDENCE_REASON_MAX 160

struct ks_evidence_logs {
    const uint8_t *event_log; /* NULL when absent */
    size_t event_log_len;
    const uint8_t *ima_log;
    size_t ima_log_len;
    const uint8_t *app_log;
    size_t app_log_len;
    unsigned app_pcr; /* the application PCR (default 15) */
};

/*
 * Each PCR belongs to one log: PCR 10 to the IMA list, the application PCR
 * to the application log, every other PCR to the firmware log. For each log
 * submitted, every PCR it owns that the quote selects, in every bank the log
 * carries and the quote selects, must replay to its quoted value — PCRs the
 * log has no events for included (they must then still be at their reset
 * value), so that a log cannot hide events by leaving them out. A firmware or
 * application log with events for a PCR another log owns is refused. The IMA
 * list is judged on its shortest prefix that replays to the quoted PCR 10
 * (entries are appended after the quote); a prefix entry whose template hash
 * does not match its data is refused.
 * `quoted` holds exactly the selected PCRs (the quote's digest verified).
 * KS_OK, or KS_ERR_ATTESTATION with `reason` naming the log and PCR, or the
 * parser's KS_ERR_EVLOG_* / KS_ERR_IMA_* code for a malformed log (reason
 * set too).
 */
KS_WUR int ks_evidence_check_logs(const struct ks_evidence_logs *logs,
                                  const TPML_PCR_SELECTION *sel, const struct ks_pcr_set *quoted,
                                  char *reason, size_t reason_len);

/*
 * The logs as parsed and checked by ks_evidence_check, for the policy rules
 * that read events (keyserverd/policy_eval.h): parsed once per release.
 */
struct ks_evidence {
    struct ks_eventlog *event_log; /* NULL when none was submitted */
    struct ks_pcr_set event_pcrs;  /* its replay: the banks it carries */
    struct ks_eventlog *app_log;   /* NULL when none was submitted */
    struct ks_pcr_set app_pcrs;
    unsigned app_pcr;
    struct ks_ima_log *ima_log; /* NULL when none was submitted */
    /* Entries [0, ima_count) replay to the quoted PCR 10 (the longest of
     * the selected banks' shortest matching prefixes). */
    size_t ima_count;
    uint32_t ima_banks; /* bit ks_alg_bank_index(alg): PCR 10 replayed in that bank */
};

/* ks_evidence_check_logs, keeping the parsed logs in *ret (not written on
 * failure). Free with ks_evidence_free. */
KS_WUR int ks_evidence_check(const struct ks_evidence_logs *logs, const TPML_PCR_SELECTION *sel,
                             const struct ks_pcr_set *quoted, struct ks_evidence **ret,
                             char *reason, size_t reason_len);

/* NULL is a no-op. */
void ks_evidence_free(struct ks_evidence *ev);

#endif
