/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_LOADER_APPLOG_H
#define KS_LOADER_APPLOG_H

/*
 * The application log of the measured launcher (ks-launch; DESIGN "Logs and
 * replay"), in the TCG PC Client crypto-agile format (TCG PC Client Platform
 * Firmware Profile, 10.2 and 10.4), so that every TCG log tool reads it
 * (`ksctl eventlog replay`, tpm2_eventlog) and keyserverd replays it as it
 * replays firmware logs:
 *
 *   - record 0: the Spec ID Event03 header in the SHA-1 log format
 *     (TCG_PCClientPCREvent: PCR 0, EV_NO_ACTION, a zero SHA-1 digest),
 *     whose digest table lists the banks the launcher extends;
 *   - then one TCG_PCR_EVENT2 per measurement: PCR = the application PCR,
 *     type EV_EVENT_TAG (0x6), event data = the ASCII tag (no terminator)
 *     followed by the 32-byte SHA-256 of the measured bytes, and, for every
 *     bank of the table, in table order, the digest H_bank(event data).
 *
 * The TPM is extended (TPM2_PCR_Extend, TPM 2.0 Part 3, 22.2) with exactly
 * those digests, so PCR[bank] = H_bank(PCR[bank] || H_bank(event data)),
 * which is what a replay computes (PFP 10.4, EV_EVENT_TAG's digest is the
 * hash of its event data). Tags: ks-loader-exe (the loader's executable
 * file), ks-loader-config (its configuration file), ks-ci-key (the pinned
 * CI public key file), each the SHA-256 of the file's exact bytes.
 *
 * A log may also be continued (ks_applog_load): the launcher re-run in the
 * same boot appends to the log it wrote before, after checking that the log
 * replays to the TPM's current values, so that the log always covers
 * everything the application PCR holds.
 */

#include <stddef.h>
#include <stdint.h>

#include <tss2/tss2_tpm2_types.h>

#include "ks_error.h"
#include "pcr.h"

#define KS_APPLOG_DEFAULT_PCR 15
#define KS_APPLOG_TAG_EXE "ks-loader-exe"
#define KS_APPLOG_TAG_CONFIG "ks-loader-config"
#define KS_APPLOG_TAG_CI_KEY "ks-ci-key"
/* Tags are 1..KS_APPLOG_TAG_MAX characters of [a-z0-9-]. */
#define KS_APPLOG_TAG_MAX 32
#define KS_APPLOG_MEASUREMENT_LEN 32
#define KS_APPLOG_DATA_MAX (KS_APPLOG_TAG_MAX + KS_APPLOG_MEASUREMENT_LEN)
/* PFP Table 9 event types. */
#define KS_APPLOG_EV_NO_ACTION 0x00000003u
#define KS_APPLOG_EV_EVENT_TAG 0x00000006u
/* Cap on a log read back (ks_applog_load). */
#define KS_APPLOG_MAX_SIZE (1024u * 1024u)

struct ks_applog;

/* The event data of one measurement: tag || sha256. ret holds size bytes
 * (KS_APPLOG_DATA_MAX is enough). KS_ERR_INVALID_ARG for a malformed tag. */
KS_WUR int ks_applog_event_data(const char *tag, const uint8_t sha256[KS_APPLOG_MEASUREMENT_LEN],
                                uint8_t *ret, size_t size, size_t *ret_len);

/* A new log for PCR `pcr` (0..23, not 16 or 23: those are resettable at
 * locality 0) carrying the banks algs[0..n_algs) (each a supported hash,
 * listed once, 1..KS_MAX_BANKS of them): just the header. */
KS_WUR int ks_applog_new(uint32_t pcr, const uint16_t *algs, size_t n_algs,
                         struct ks_applog **ret_log);

/* Read back a log written by this module for PCR `pcr`: parsed with
 * lib/eventlog (KS_ERR_EVLOG_* when malformed, KS_ERR_TOO_LARGE past
 * KS_APPLOG_MAX_SIZE); KS_ERR_APPLOG_FOREIGN for anything but EV_EVENT_TAG
 * events on `pcr` with a well-formed tag and a digest H_bank(data) in every
 * bank of the table, or for a bank this module does not support. */
KS_WUR int ks_applog_load(const uint8_t *buf, size_t len, uint32_t pcr, struct ks_applog **ret_log);

void ks_applog_free(struct ks_applog *log);

/* The banks of the digest table, in table order. */
size_t ks_applog_banks(const struct ks_applog *log, const uint16_t **ret_algs);

/* Number of measurement events (the header not counted). */
size_t ks_applog_count(const struct ks_applog *log);

/* Append a measurement. ret_digests (may be NULL) gets the digests to
 * extend the PCR with, one per bank in table order: the argument of
 * TPM2_PCR_Extend. */
KS_WUR int ks_applog_append(struct ks_applog *log, const char *tag,
                            const uint8_t sha256[KS_APPLOG_MEASUREMENT_LEN],
                            TPML_DIGEST_VALUES *ret_digests);

/* The value the PCR holds after the events so far, in bank alg (all zero
 * for an empty log). ret holds the bank's digest size; KS_ERR_PCR_BANK for a
 * bank the log does not carry. */
KS_WUR int ks_applog_pcr(const struct ks_applog *log, uint16_t alg, uint8_t *ret, size_t size);

/* The log's bytes (valid until the next append or free). */
const uint8_t *ks_applog_bytes(const struct ks_applog *log, size_t *ret_len);

#endif
