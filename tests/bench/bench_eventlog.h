/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_BENCH_EVENTLOG_H
#define KS_BENCH_EVENTLOG_H

/*
 * A synthetic TCG PC Client firmware event log for the benchmark: the
 * crypto-agile format (PFP 10.2.2) with one bank, sha256. Its replay gives
 * the PCR values the software AK quotes (soft_ak.h).
 */

#include <stddef.h>
#include <stdint.h>

#include "ks_error.h"
#include "pcr.h"

/* The PCRs the events go to, 0..KS_BENCH_EVENTLOG_PCRS-1 (the firmware's). */
#define KS_BENCH_EVENTLOG_PCRS 8
#define KS_BENCH_EVENTLOG_MAX_EVENTS 100000

/*
 * Build the log: the SHA-1-format header whose data is the Spec ID Event03
 * (PFP 10.4.5.1, one algorithm: sha256), then n_events TCG_PCR_EVENT2
 * records on PCRs 0..7 in turn, alternately EV_IPL (a NUL-terminated string)
 * and EV_EVENT_TAG (a TCG_PCClientTaggedEvent, PFP 10.4.2.1), each digest
 * SHA-256 of its event data, so that every event's data verifies.
 * *ret_pcrs gets the values the log replays to (sha256 bank, the PCRs that
 * got an event present). The caller frees *ret_log with free().
 * KS_ERR_INVALID_ARG for NULLs or n_events 0 or over
 * KS_BENCH_EVENTLOG_MAX_EVENTS, KS_ERR_NOMEM, KS_ERR_CRYPTO.
 */
KS_WUR int ks_bench_eventlog_make(size_t n_events, uint8_t **ret_log, size_t *ret_len,
                                  struct ks_pcr_set *ret_pcrs);

#endif
