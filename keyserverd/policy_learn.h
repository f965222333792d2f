/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_KEYSERVERD_POLICY_LEARN_H
#define KS_KEYSERVERD_POLICY_LEARN_H

/*
 * Rules learned from a golden machine's logs (`ksctl policy learn`), the way
 * Keylime's create_mb_refstate makes a measured-boot reference state. Pure:
 * parsed logs in, rules (keyserverd/policy_rules.h) out. The logs are trusted
 * here (they come from the golden machine); the rules are what keyserverd
 * then enforces on every other machine.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "db/store.h"
#include "eventlog.h"
#include "ima.h"
#include "ks_error.h"

/* PFP 3.3.4: PCRs 0-7 firmware and boot loader, 8-9 the OS loader (GRUB's
 * strings and files), 14 shim's MOK lists. */
#define KS_LEARN_DEFAULT_PCRS 0x43ffu

/* A growing list of rules; rules[i].data is owned. */
struct ks_rule_list {
    struct ks_store_rule *rules;
    size_t n, cap;
};

/* Frees the rules; NULL is a no-op. */
void ks_rule_list_clear(struct ks_rule_list *l);

/* Append a rule; `data` (a JSON object, or NULL) is taken and stored as
 * canonical text. KS_ERR_TOO_LARGE past KS_STORE_MAX_RULES, KS_ERR_NOMEM. */
KS_WUR int ks_rule_list_add(struct ks_rule_list *l, enum ks_rule_kind kind, uint16_t bank,
                            unsigned pcr, const uint8_t *digest, size_t dlen, json_t *data);

struct ks_learn_stats {
    size_t events, separators, ima_files, app_digests;
    bool secureboot;     /* a secureboot rule was learned */
    long secureboot_off; /* event index of a SecureBoot=0 event, -1 when none */
    size_t bad_event;    /* the event that made a call fail */
};

void ks_learn_stats_init(struct ks_learn_stats *st);

/*
 * From a parsed firmware log (and its replay): for each PCR of `pcrs`
 * (bitmask within 0..15), every measured event as an `event` rule with its
 * position (seq) and type, in bank `bank`; a `separator` rule for each PCR
 * 0-7 whose EV_SEPARATORs verify and are 0; a `secureboot` rule when PCR 7
 * has the verified SecureBoot variable event with value 1 (and none with 0).
 * KS_ERR_INVALID_ARG: pcrs above 15, the log does not carry `bank`, or an
 * event without a digest in it (st->bad_event).
 */
KS_WUR int ks_policy_learn_eventlog(const struct ks_eventlog *log, const struct ks_pcr_set *replay,
                                    uint16_t bank, uint32_t pcrs, struct ks_rule_list *out,
                                    struct ks_learn_stats *st);

/* Every entry of an IMA list (but violations and entries whose template
 * hash does not match) as an `ima_file` rule, each (path, digest) once. */
KS_WUR int ks_policy_learn_ima(const struct ks_ima_log *log, struct ks_rule_list *out,
                               struct ks_learn_stats *st);

/* Every EV_EVENT_TAG event of an application log on `app_pcr` as an
 * `app_digest` rule (tag, SHA-256) judged in `bank`. KS_ERR_INVALID_ARG for
 * an event whose data does not verify or is not tag || SHA-256
 * (st->bad_event). */
KS_WUR int ks_policy_learn_app(const struct ks_eventlog *log, uint16_t bank, unsigned app_pcr,
                               struct ks_rule_list *out, struct ks_learn_stats *st);

#endif
