/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_EVENTLOG_H
#define KS_EVENTLOG_H

/*
 * TCG PC Client Platform Firmware Profile (PFP) event log, section 10
 * "Event Logging": the firmware's `binary_bios_measurements`.
 *
 * Two layouts are accepted:
 *  - crypto agile (PFP 10.2.2): a SHA-1-format TCG_PCClientPCREvent header
 *    whose data is the EV_NO_ACTION "Spec ID Event03" (TCG_EfiSpecIDEvent,
 *    PFP 10.4.5.1), followed by TCG_PCR_EVENT2 records;
 *  - legacy SHA-1 (PFP 10.2.1): every record, the first included, is a
 *    TCG_PCClientPCREvent with one SHA-1 digest.
 *
 * ks_eventlog_parse() copies the log: the parsed log owns its bytes and the
 * caller's buffer may be freed right away. Every pointer an event exposes
 * (digests, data) points into that copy and lives until ks_eventlog_free().
 *
 * Every field is little-endian (PFP 10.2); the records are not TPM wire
 * structures (TPM wire format is big-endian), so Tss2_MU_* does not apply:
 * every length is bounds-checked here as `off <= len && len - off >= need`.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eventlog_types.h"
#include "ks_error.h"
#include "pcr.h"

/* Caps on attacker-controlled sizes. A log over KS_EVENTLOG_MAX_SIZE is
 * refused with KS_ERR_TOO_LARGE; more records than KS_EVENTLOG_MAX_EVENTS
 * (the Spec ID header included) with KS_ERR_EVLOG_TOO_MANY; an event whose
 * data exceeds KS_EVENTLOG_MAX_EVENT_DATA with KS_ERR_EVLOG_EVENT_SIZE; a Spec
 * ID event listing more than KS_EVENTLOG_MAX_ALGS algorithms (or a digest
 * larger than KS_MAX_DIGEST) with KS_ERR_EVLOG_SPECID. Real logs are a few
 * hundred events of at most a few KiB each. */
#define KS_EVENTLOG_MAX_SIZE (16u * 1024u * 1024u)
#define KS_EVENTLOG_MAX_EVENTS 200000u
#define KS_EVENTLOG_MAX_EVENT_DATA (1024u * 1024u)
#define KS_EVENTLOG_MAX_ALGS 16u

enum ks_eventlog_format {
    KS_EVENTLOG_FORMAT_SHA1 = 1,         /* legacy, TCG_PCClientPCREvent only */
    KS_EVENTLOG_FORMAT_CRYPTO_AGILE = 2, /* Spec ID Event03 + TCG_PCR_EVENT2 */
};

/* One entry of the Spec ID event's digest table (a legacy log has exactly
 * one: sha1, 20). Algorithms that are not supported banks (e.g. SM3_256,
 * 0x0012) are kept: their digests are parsed by size but never replayed. */
struct ks_eventlog_alg {
    uint16_t alg;
    uint16_t size;
};

struct ks_eventlog_digest {
    uint16_t alg;
    uint16_t size;
    const uint8_t *bytes; /* `size` bytes inside the log's copy */
};

/* One record, as read. `pcr` is the raw pcrIndex: only EV_NO_ACTION events
 * may carry an index >= KS_PCR_COUNT (e.g. 0xFFFFFFFF); the parser rejects
 * any other event with such an index. */
struct ks_eventlog_event {
    size_t index;      /* record number, 0 = the first record (Spec ID header) */
    size_t offset;     /* byte offset of the record in the log */
    size_t record_len; /* bytes the whole record takes */
    uint32_t pcr;
    uint32_t type;
    size_t digest_count; /* >= 1; no algorithm appears twice */
    const struct ks_eventlog_digest *digests;
    const uint8_t *data; /* event data, `data_len` bytes (non-NULL even when 0) */
    size_t data_len;
};

struct ks_eventlog;

/*
 * Parse a whole log. On failure returns a KS_ERR_EVLOG_* code (or
 * KS_ERR_TOO_LARGE, KS_ERR_NOMEM, KS_ERR_INVALID_ARG) and, when err_offset is
 * not NULL, writes the byte offset of the record that failed to it (0 for
 * errors about the whole log); err_offset is not written on success.
 *   KS_ERR_EVLOG_EMPTY       0 bytes
 *   KS_ERR_EVLOG_TRUNCATED   a record runs past the end of the log
 *   KS_ERR_EVLOG_HEADER      a Spec ID Event03 header not on PCR 0 or with a
 *                            non-zero digest
 *   KS_ERR_EVLOG_SPECID      Spec ID event fields invalid, or its declared
 *                            size not exactly covering them
 *   KS_ERR_EVLOG_DIGEST_ALG  a digest whose algorithm is not in the Spec ID
 *                            table, repeated, or a digest count of 0 or larger
 *                            than the table
 *   KS_ERR_EVLOG_PCR_INDEX   pcrIndex >= 24 on an event that is not EV_NO_ACTION
 *   KS_ERR_EVLOG_EVENT_SIZE  event data larger than KS_EVENTLOG_MAX_EVENT_DATA
 *   KS_ERR_EVLOG_TOO_MANY    more than KS_EVENTLOG_MAX_EVENTS records
 */
KS_WUR int ks_eventlog_parse(const uint8_t *buf, size_t len, struct ks_eventlog **ret_log,
                             size_t *err_offset);

void ks_eventlog_free(struct ks_eventlog *log);

enum ks_eventlog_format ks_eventlog_format(const struct ks_eventlog *log);

/* Number of records, the Spec ID header included. */
size_t ks_eventlog_count(const struct ks_eventlog *log);

/* Record i, or NULL when i >= ks_eventlog_count(). */
const struct ks_eventlog_event *ks_eventlog_event(const struct ks_eventlog *log, size_t i);

/* The digest table (Spec ID order); returns its length. */
size_t ks_eventlog_algs(const struct ks_eventlog *log, const struct ks_eventlog_alg **ret_algs);

/* The event's digest for alg, or NULL when it carries none. */
const struct ks_eventlog_digest *ks_eventlog_event_digest(const struct ks_eventlog_event *ev,
                                                          uint16_t alg);

/* True, with the locality, when ev is the PFP 10.4.5.3 StartupLocality event:
 * EV_NO_ACTION on PCR 0 whose data is exactly "StartupLocality\0" + 1 byte. */
bool ks_eventlog_event_startup_locality(const struct ks_eventlog_event *ev, uint8_t *ret_locality);

/*
 * Replay the log into *ret_pcrs (initialised here), following
 * tests/data/README.md "Replay rules":
 *  - every supported bank of the digest table is enabled, every PCR starts at
 *    zero;
 *  - EV_NO_ACTION events are never extended, whatever their PCR index;
 *  - the StartupLocality event sets PCR 0 to 00..00<locality> in every
 *    enabled bank (and marks it present); it must come before any event that
 *    extends PCR 0, at most once, with locality 0, 3 or 4 (PFP 10.4.5.3;
 *    4 is the H-CRTM start), else KS_ERR_EVLOG_MALFORMED;
 *  - every other event extends PCR = H(PCR || digest) in each supported bank
 *    it carries a digest for, which marks that PCR present in that bank.
 * A bank the table lists but no event carries stays enabled with no PCR
 * present. On failure *ret_pcrs is not written and err_offset (optional) gets
 * the offset of the offending record.
 */
KS_WUR int ks_eventlog_replay(const struct ks_eventlog *log, struct ks_pcr_set *ret_pcrs,
                              size_t *err_offset);

/* Result of checking an event's data against its digest (see below). */
enum ks_eventlog_data_check {
    KS_EVENTLOG_DATA_MATCH = 1,        /* digest == H(data) */
    KS_EVENTLOG_DATA_MISMATCH = 2,     /* the type's rule applies and the digest differs */
    KS_EVENTLOG_DATA_UNVERIFIABLE = 3, /* the type's digest is not H(data) (code, tables...) */
    KS_EVENTLOG_DATA_NO_DIGEST = 4,    /* the event has no digest in that bank */
};

/*
 * Whether the event's data verifies against its digest in bank `alg`, under
 * its type's hashing rule (PFP Table 9 and 10.4): EV_SEPARATOR, EV_ACTION,
 * EV_EVENT_TAG, EV_IPL, EV_EFI_ACTION, EV_EFI_VARIABLE_DRIVER_CONFIG,
 * EV_EFI_VARIABLE_BOOT, EV_EFI_VARIABLE_BOOT2 and EV_EFI_VARIABLE_AUTHORITY
 * are digest == H(data); every other type is UNVERIFIABLE (its digest covers
 * something the log does not hold, or firmware is known to hash it otherwise).
 * A pure function of one event and one bank. KS_ERR_TPM_ALG for an
 * unsupported bank, KS_ERR_INVALID_ARG for NULL arguments.
 */
KS_WUR int ks_eventlog_event_check_data(const struct ks_eventlog_event *ev, uint16_t alg,
                                        enum ks_eventlog_data_check *ret_result);

#endif
