/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "eventlog.h"
#include "ima.h"
#include "keyserverd/evidence.h"
#include "tpm_attest.h"

__attribute__((format(printf, 4, 5))) static int fail(int code, char *reason, size_t reason_len,
                                                      const char *fmt, ...)
{
    if (reason && reason_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, reason_len, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Compare a replayed set with the quoted values for every selected PCR that
 * `owned` (bitmask) gives to this log, in the banks the log carries. A PCR
 * the replay never touched must be at its reset value (all zero). */
static int compare_replay(const char *what, const struct ks_pcr_set *replayed, uint32_t owned,
                          const TPML_PCR_SELECTION *sel, const struct ks_pcr_set *quoted,
                          char *reason, size_t reason_len)
{
    static const uint8_t zero[KS_MAX_DIGEST];
    for (uint32_t b = 0; b < sel->count; b++) {
        uint16_t alg = sel->pcrSelections[b].hash;
        if (!ks_pcr_bank_enabled(replayed, alg)) {
            continue; /* the log does not carry this bank */
        }
        size_t dlen = ks_alg_digest_size(alg);
        for (unsigned pcr = 0; pcr < KS_PCR_COUNT; pcr++) {
            if (!(owned & (1u << pcr)) || !ks_pcr_selection_has(sel, alg, pcr)) {
                continue;
            }
            const uint8_t *want = NULL;
            if (ks_pcr_set_get(quoted, alg, pcr, &want) < 0) {
                return fail(KS_ERR_ATTESTATION, reason, reason_len, "no quoted value for %s:%u",
                            ks_alg_name(alg), pcr);
            }
            const uint8_t *got = zero;
            if (ks_pcr_set_has(replayed, alg, pcr) &&
                ks_pcr_set_get(replayed, alg, pcr, &got) < 0) {
                return KS_ERR_INTERNAL;
            }
            if (CRYPTO_memcmp(got, want, dlen) != 0) {
                return fail(KS_ERR_ATTESTATION, reason, reason_len,
                            "%s does not replay to the quoted PCR %s:%u", what, ks_alg_name(alg),
                            pcr);
            }
        }
    }
    return KS_OK;
}

static uint32_t touched_pcrs(const struct ks_pcr_set *set)
{
    uint32_t m = 0;
    for (int b = 0; b < KS_MAX_BANKS; b++) {
        if (set->bank[b].alg) {
            m |= set->bank[b].present;
        }
    }
    return m;
}

/* A TCG-format log (firmware or application) owning the PCRs in `owned`;
 * on success the parsed log and its replay go to *ret_log, *replayed. */
static int check_tcg_log(const char *what, const uint8_t *buf, size_t len, uint32_t owned,
                         const TPML_PCR_SELECTION *sel, const struct ks_pcr_set *quoted,
                         struct ks_eventlog **ret_log, struct ks_pcr_set *replayed, char *reason,
                         size_t reason_len)
{
    struct ks_eventlog *log = NULL;
    size_t off = 0;
    int r = ks_eventlog_parse(buf, len, &log, &off);
    if (r < 0) {
        return fail(r, reason, reason_len, "%s malformed at byte %zu: %s", what, off,
                    ks_strerror(r));
    }
    r = ks_eventlog_replay(log, replayed, &off);
    if (r < 0) {
        r = fail(r, reason, reason_len, "%s does not replay (byte %zu): %s", what, off,
                 ks_strerror(r));
        goto out;
    }
    uint32_t foreign = touched_pcrs(replayed) & ~owned;
    if (foreign) {
        r = fail(KS_ERR_ATTESTATION, reason, reason_len,
                 "%s has events for PCR %d, which another log measures", what,
                 __builtin_ctz(foreign));
        goto out;
    }
    r = compare_replay(what, replayed, owned, sel, quoted, reason, reason_len);
out:
    if (r == KS_OK) {
        *ret_log = log;
        log = NULL;
    }
    ks_eventlog_free(log);
    return r;
}

/* IMA: the shortest prefix replaying to the quoted PCR 10 in every selected
 * bank, the same prefix in all of them (one TPM state is one list length);
 * entries past it were appended after the quote. */
static int check_ima_log(const uint8_t *buf, size_t len, const TPML_PCR_SELECTION *sel,
                         const struct ks_pcr_set *quoted, struct ks_evidence *ev, char *reason,
                         size_t reason_len)
{
    struct ks_ima_log *log = NULL;
    size_t pos = 0;
    /* The protocol carries the kernel's binary list (DESIGN "Protocol"):
     * the ASCII rendering is for people and is refused here. */
    const struct ks_ima_parse_opts opts = {.format = KS_IMA_FORMAT_BINARY};
    int r = ks_ima_log_parse(buf, len, &opts, &log, &pos);
    if (r < 0) {
        return fail(r, reason, reason_len, "IMA log malformed at %zu: %s", pos, ks_strerror(r));
    }
    bool any_bank = false;
    size_t prefix = 0;
    for (uint32_t b = 0; b < sel->count; b++) {
        uint16_t alg = sel->pcrSelections[b].hash;
        if (!ks_pcr_selection_has(sel, alg, 10)) {
            continue;
        }
        const uint8_t *want = NULL;
        if (ks_pcr_set_get(quoted, alg, 10, &want) < 0) {
            r = fail(KS_ERR_ATTESTATION, reason, reason_len, "no quoted value for %s:10",
                     ks_alg_name(alg));
            goto out;
        }
        size_t n = 0;
        r = ks_ima_log_match_prefix(log, alg, want, ks_alg_digest_size(alg), &n);
        if (r < 0) {
            r = fail(KS_ERR_ATTESTATION, reason, reason_len,
                     "IMA log does not replay to the quoted PCR %s:10", ks_alg_name(alg));
            goto out;
        }
        if (any_bank && n != prefix) {
            r = fail(KS_ERR_ATTESTATION, reason, reason_len,
                     "IMA log replays to the quoted PCR %s:10 at %zu entries, another bank at %zu",
                     ks_alg_name(alg), n, prefix);
            goto out;
        }
        prefix = n;
        for (size_t i = 0; i < n; i++) {
            const struct ks_ima_entry *e = ks_ima_log_entry(log, i);
            if (e->template_hash_mismatch) {
                r = fail(KS_ERR_ATTESTATION, reason, reason_len,
                         "IMA entry %zu: template hash does not match its data", i);
                goto out;
            }
        }
        any_bank = true;
        if (n > ev->ima_count) {
            ev->ima_count = n;
        }
        ev->ima_banks |= 1u << ks_alg_bank_index(alg);
    }
    r = any_bank ? KS_OK
                 : fail(KS_ERR_ATTESTATION, reason, reason_len,
                        "IMA log submitted but the quote does not select PCR 10");
out:
    if (r == KS_OK) {
        ev->ima_log = log;
        log = NULL;
    }
    ks_ima_log_free(log);
    return r;
}

void ks_evidence_free(struct ks_evidence *ev)
{
    if (!ev) {
        return;
    }
    ks_eventlog_free(ev->event_log);
    ks_eventlog_free(ev->app_log);
    ks_ima_log_free(ev->ima_log);
    free(ev);
}

int ks_evidence_check(const struct ks_evidence_logs *logs, const TPML_PCR_SELECTION *sel,
                      const struct ks_pcr_set *quoted, struct ks_evidence **ret, char *reason,
                      size_t reason_len)
{
    if (reason && reason_len) {
        reason[0] = '\0';
    }
    if (!logs || !sel || !quoted || !ret || logs->app_pcr >= KS_PCR_COUNT || logs->app_pcr == 10) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_evidence *ev = calloc(1, sizeof(*ev));
    if (!ev) {
        return KS_ERR_NOMEM;
    }
    ev->app_pcr = logs->app_pcr;
    uint32_t all = (1u << KS_PCR_COUNT) - 1;
    uint32_t ima_owned = logs->ima_log ? 1u << 10 : 0;
    uint32_t app_owned = logs->app_log ? 1u << logs->app_pcr : 0;
    int r = KS_OK;
    if (logs->event_log) {
        r = check_tcg_log("event log", logs->event_log, logs->event_log_len,
                          all & ~ima_owned & ~app_owned, sel, quoted, &ev->event_log,
                          &ev->event_pcrs, reason, reason_len);
    }
    if (r == KS_OK && logs->app_log) {
        r = check_tcg_log("application log", logs->app_log, logs->app_log_len, app_owned, sel,
                          quoted, &ev->app_log, &ev->app_pcrs, reason, reason_len);
    }
    if (r == KS_OK && logs->ima_log) {
        r = check_ima_log(logs->ima_log, logs->ima_log_len, sel, quoted, ev, reason, reason_len);
    }
    if (r < 0) {
        ks_evidence_free(ev);
        return r;
    }
    *ret = ev;
    return KS_OK;
}

int ks_evidence_check_logs(const struct ks_evidence_logs *logs, const TPML_PCR_SELECTION *sel,
                           const struct ks_pcr_set *quoted, char *reason, size_t reason_len)
{
    struct ks_evidence *ev = NULL;
    int r = ks_evidence_check(logs, sel, quoted, &ev, reason, reason_len);
    ks_evidence_free(ev);
    return r;
}
