/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_KEYSERVERD_POLICY_RULES_H
#define KS_KEYSERVERD_POLICY_RULES_H

/*
 * Rule kinds and their `data` (db/store.h stores each rule as a row: kind,
 * bank, pcr, digest, data). Shared by keyserverd (ks_rule_decode, at release
 * time) and ksctl (the JSON form of export/import, ks_rule_to_json and
 * ks_rule_from_json), so the two cannot disagree about a rule's meaning.
 *
 * Kinds, the columns they use ([opt] optional) and their data fields:
 *   pcr               bank pcr digest           PCR value allowed (any-of per
 *                                               bank:pcr, every one named required)
 *   event             bank pcr digest  type [seq]
 *                                               allowed digest of events of `type`
 *                                               on the PCR; with seq: the event at
 *                                               position seq (0-based) of the PCR's
 *                                               measured events
 *   event_forbidden   [bank] [pcr] [digest] type
 *                                               no measured event of `type` (with
 *                                               that digest) on the PCR (any PCR)
 *   secureboot        bank pcr                  a verified EV_EFI_VARIABLE_DRIVER_CONFIG
 *                                               SecureBoot event with value 1
 *   separator         bank pcr                  a verified EV_SEPARATOR with value 0
 *   cmdline_forbidden bank pcr         word     no EV_IPL string on the PCR holds
 *                                               `word` (or word=...) as a word
 *   ima_file          pcr(10) digest   path alg allowed file digest of a path
 *   ima_exclude       pcr(10)          prefix   paths starting with prefix are not judged
 *   app_digest        bank pcr digest  tag      allowed SHA-256 for an application-
 *                                               log tag (ks-loader-exe, ...)
 *   tpm_safe                                    the quote's clockInfo.safe is set
 *   tpm_clock                                   the quote's clock does not go back
 *                                               for the AK
 *   tpm_firmware                       min      firmwareVersion >= min (hex string)
 * `type` is an event type name ("EV_IPL") or "0x%08x" for one without a name.
 * The stored `data` is the compact JSON object of the data fields with
 * sorted keys, so that equal rules are equal rows.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "db/store.h"
#include "ima.h"
#include "ks_error.h"

#define KS_RULE_WORD_MAX 64
#define KS_RULE_TAG_MAX 64
#define KS_RULE_SEQ_MAX 100000u

/* A rule with its data decoded. */
struct ks_rule_dec {
    const struct ks_store_rule *row;
    bool has_type;
    uint32_t event_type;
    bool has_seq;
    uint32_t seq;
    char *text; /* word, path, prefix or tag (owned); NULL for other kinds */
    size_t text_len;
    enum ks_ima_hash ima_alg; /* ima_file */
    uint64_t fw_min;          /* tpm_firmware */
};

/* Decode the data of a row of a known kind. KS_ERR_INVALID_ARG when the row
 * or its data is malformed for its kind (such a rule must refuse),
 * KS_ERR_NOMEM. *ret is zeroed first; clear it with ks_rule_dec_clear. */
KS_WUR int ks_rule_decode(const struct ks_store_rule *row, struct ks_rule_dec *ret);
void ks_rule_dec_clear(struct ks_rule_dec *d);

/* The JSON form of a rule: {"kind", then "bank", "pcr", "digest" (lowercase
 * hex) where the kind has them, then the data fields}. Unknown kinds give
 * {"kind": name, "data": ...}. KS_ERR_NOMEM, KS_ERR_INVALID_ARG. */
KS_WUR int ks_rule_to_json(const struct ks_store_rule *row, json_t **ret);

/* Parse the JSON form into a row (ret->data malloc'd canonical JSON, free
 * it with free()); every field checked, unknown fields refused. On failure
 * `err` says why. KS_ERR_INVALID_ARG, KS_ERR_NOMEM. */
KS_WUR int ks_rule_from_json(json_t *j, struct ks_store_rule *ret, char *err, size_t errlen);

/* Canonical data text (sorted keys, compact) of a JSON object; NULL on
 * failure. Caller frees. */
char *ks_rule_data_dump(const json_t *data);

/* Type name for `data` ("EV_IPL", or "0x%08x"); buf of 16 bytes at least. */
const char *ks_rule_type_name(uint32_t type, char *buf, size_t len);

#endif
