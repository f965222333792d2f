/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/*
 * Rules on the firmware event log (TCG PC Client PFP): measured-boot
 * reference values (event), forbidden events, Secure Boot state, separators
 * and forbidden kernel command-line words. The log was replayed against the
 * quoted PCRs before (keyserverd/evidence.c): every event on a quoted PCR,
 * in every bank the log carries, is bound to the quote by its digest. Event
 * data is NOT bound unless its digest verifies under its type's rule, so a
 * rule reads data only then.
 */

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "eventlog.h"
#include "keyserverd/policy_eval_internal.h"
#include "tpm_attest.h"

static bool measured(const struct ks_eventlog_event *e)
{
    return e->type != KS_EV_NO_ACTION && e->pcr < KS_PCR_COUNT;
}

static const char *tname(uint32_t type, char buf[16])
{
    return ks_rule_type_name(type, buf, 16);
}

/* A firmware-log rule can be judged: the log is there, owns the PCR and
 * carries the bank (so every quoted PCR was replayed in it). */
static int fw_ready(struct ks_pe *c, const struct ks_store_rule *r)
{
    const struct ks_evidence *ev = c->in->ev;
    const char *bank = r->bank ? ks_alg_name(r->bank) : "any";
    if (!ev || !ev->event_log) {
        return ks_pe_deny(c, "rule %s %s:%u needs the event log; none was submitted", r->kind_name,
                          bank, r->pcr);
    }
    if (r->pcr != KS_RULE_NO_PCR && ks_pe_pcr_owner(ev, r->pcr) != 'f') {
        return ks_pe_deny(c, "rule %s names PCR %u, which another log measures", r->kind_name,
                          r->pcr);
    }
    if (r->bank && !ks_pcr_bank_enabled(&ev->event_pcrs, r->bank)) {
        return ks_pe_deny(c, "rule %s %s:%u: the event log has no %s digests", r->kind_name, bank,
                          r->pcr, bank);
    }
    return KS_OK;
}

/* GRUB measures its PCR 8 strings without the "grub_cmd: " /
 * "kernel_cmdline: " prefix it logs and without the NUL (DESIGN "Logs and
 * replay"): *body is the part the digest covers. */
static bool grub_string(const struct ks_eventlog_event *e, uint16_t bank, const uint8_t **body,
                        size_t *body_len)
{
    static const char *const prefixes[] = {"grub_cmd: ", "kernel_cmdline: "};
    const struct ks_eventlog_digest *d = ks_eventlog_event_digest(e, bank);
    if (e->type != KS_EV_IPL || !d) {
        return false;
    }
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t pl = strlen(prefixes[i]);
        if (e->data_len < pl || memcmp(e->data, prefixes[i], pl) != 0) {
            continue;
        }
        size_t n = e->data_len - pl;
        if (n > 0 && e->data[e->data_len - 1] == 0) {
            n--;
        }
        uint8_t h[KS_MAX_DIGEST];
        if (ks_alg_hash(bank, e->data + pl, n, NULL, 0, h) < 0 ||
            d->size != ks_alg_digest_size(bank)) {
            return false;
        }
        if (CRYPTO_memcmp(h, d->bytes, d->size) == 0) {
            *body = e->data + pl;
            *body_len = n;
            return true;
        }
    }
    return false;
}

/* The data an event's digest binds in `bank`: the whole data when it
 * verifies (MATCH), GRUB's string body; else false. */
static bool bound_data(const struct ks_eventlog_event *e, uint16_t bank, const uint8_t **ret,
                       size_t *ret_len)
{
    enum ks_eventlog_data_check chk;
    if (ks_eventlog_event_check_data(e, bank, &chk) == KS_OK && chk == KS_EVENTLOG_DATA_MATCH) {
        *ret = e->data;
        *ret_len = e->data_len;
        return true;
    }
    return grub_string(e, bank, ret, ret_len);
}

/* The measured events of one (bank, PCR) against its event rules: with seq,
 * exactly the sequence (any-of per position); without, each event allowed
 * and at least one. */
static int event_group(struct ks_pe *c, uint16_t bank, unsigned pcr)
{
    const struct ks_eventlog *log = c->in->ev->event_log;
    const char *bn = ks_alg_name(bank);
    char tb[16];
    bool ordered = false, unordered = false;
    uint32_t expect = 0;
    const size_t n_ev = ks_pe_n_of(c, KS_RULE_EVENT);
    for (size_t j = 0; j < n_ev; j++) {
        size_t i = ks_pe_of(c, KS_RULE_EVENT, j);
        const struct ks_store_rule *r = &c->p->rules[i];
        if (r->bank == bank && r->pcr == pcr) {
            ordered = ordered || c->dec[i].has_seq;
            unordered = unordered || !c->dec[i].has_seq;
            if (c->dec[i].has_seq && c->dec[i].seq + 1 > expect) {
                expect = c->dec[i].seq + 1;
            }
        }
    }
    if (ordered && unordered) {
        return ks_pe_deny(c, "rule event %s:%u mixes entries with and without seq", bn, pcr);
    }
    uint32_t k = 0;
    for (size_t n = 0; n < ks_eventlog_count(log); n++) {
        const struct ks_eventlog_event *e = ks_eventlog_event(log, n);
        if (!measured(e) || e->pcr != pcr) {
            continue;
        }
        const struct ks_eventlog_digest *d = ks_eventlog_event_digest(e, bank);
        if (!d) {
            return ks_pe_deny(c, "rule event %s:%u: event #%zu has no %s digest", bn, pcr, n, bn);
        }
        bool match = false;
        for (size_t j = 0; j < n_ev && !match; j++) {
            size_t i = ks_pe_of(c, KS_RULE_EVENT, j);
            const struct ks_store_rule *r = &c->p->rules[i];
            match = r->bank == bank && r->pcr == pcr && (!ordered || c->dec[i].seq == k) &&
                    c->dec[i].event_type == e->type && r->digest_len == d->size &&
                    memcmp(r->digest, d->bytes, d->size) == 0;
        }
        if (!match) {
            if (ordered) {
                return ks_pe_deny(c, "rule event %s:%u: event #%zu (%s) not allowed at position %u",
                                  bn, pcr, n, tname(e->type, tb), k);
            }
            return ks_pe_deny(c, "rule event %s:%u: event #%zu (%s) digest not allowed", bn, pcr, n,
                              tname(e->type, tb));
        }
        k++;
    }
    if (ordered && k != expect) {
        return ks_pe_deny(c, "rule event %s:%u: the log has %u events on the PCR, the policy %u",
                          bn, pcr, k, expect);
    }
    if (k == 0) {
        return ks_pe_deny(c, "rule event %s:%u: the log has no events on the PCR", bn, pcr);
    }
    return KS_OK;
}

static int forbidden_rule(struct ks_pe *c, size_t i)
{
    const struct ks_store_rule *r = &c->p->rules[i];
    const struct ks_evidence *ev = c->in->ev;
    char tb[16];
    for (size_t n = 0; n < ks_eventlog_count(ev->event_log); n++) {
        const struct ks_eventlog_event *e = ks_eventlog_event(ev->event_log, n);
        if (!measured(e) || e->type != c->dec[i].event_type ||
            (r->pcr != KS_RULE_NO_PCR && e->pcr != r->pcr) || ks_pe_pcr_owner(ev, e->pcr) != 'f') {
            continue;
        }
        /* Without a PCR: only events the quote vouched for count. */
        bool quoted = false;
        for (int b = 0; b < KS_MAX_BANKS && !quoted; b++) {
            uint16_t alg = ev->event_pcrs.bank[b].alg;
            quoted = alg && (!r->bank || alg == r->bank) &&
                     ks_pcr_selection_has(c->in->sel, alg, e->pcr);
        }
        if (!quoted) {
            continue;
        }
        if (r->digest_len) {
            const struct ks_eventlog_digest *d = ks_eventlog_event_digest(e, r->bank);
            if (d && (d->size != r->digest_len || memcmp(d->bytes, r->digest, d->size) != 0)) {
                continue;
            }
            /* no digest in the rule's bank: cannot tell it apart, refuse */
        }
        return ks_pe_deny(c, "rule event_forbidden: event #%zu (%s) on PCR %u", n,
                          tname(e->type, tb), e->pcr);
    }
    return KS_OK;
}

/* UEFI_VARIABLE_DATA (PFP 10.4.2.x): VariableName GUID, u64 UnicodeNameLength,
 * u64 VariableDataLength, UnicodeName (CHAR16), VariableData. True with the
 * value when it is exactly EFI_GLOBAL_VARIABLE SecureBoot. */
static bool secureboot_var(const uint8_t *p, size_t len, const uint8_t **val, size_t *val_len)
{
    /* 8be4df61-93ca-11d2-aa0d-00e098032b8c in EFI_GUID byte order */
    static const uint8_t global[16] = {0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
                                       0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c};
    static const char name[] = "SecureBoot";
    if (len < 32 || memcmp(p, global, 16) != 0) {
        return false;
    }
    uint64_t nlen = 0, dlen = 0;
    for (int i = 7; i >= 0; i--) {
        nlen = nlen << 8 | p[16 + i];
        dlen = dlen << 8 | p[24 + i];
    }
    if (nlen != sizeof(name) - 1 || dlen > len || len - 32 != 2 * nlen + dlen) {
        return false;
    }
    for (size_t i = 0; i < nlen; i++) {
        if (p[32 + 2 * i] != (uint8_t)name[i] || p[33 + 2 * i] != 0) {
            return false;
        }
    }
    *val = p + 32 + 2 * nlen;
    *val_len = (size_t)dlen;
    return true;
}

static int secureboot_rule(struct ks_pe *c, const struct ks_store_rule *r)
{
    const struct ks_eventlog *log = c->in->ev->event_log;
    const char *bn = ks_alg_name(r->bank);
    bool found = false;
    for (size_t n = 0; n < ks_eventlog_count(log); n++) {
        const struct ks_eventlog_event *e = ks_eventlog_event(log, n);
        const uint8_t *data, *val;
        size_t len, vlen;
        if (!measured(e) || e->pcr != r->pcr || e->type != KS_EV_EFI_VARIABLE_DRIVER_CONFIG) {
            continue;
        }
        if (!bound_data(e, r->bank, &data, &len)) {
            return ks_pe_deny(c,
                              "rule secureboot %s:%u: EV_EFI_VARIABLE_DRIVER_CONFIG event #%zu "
                              "data does not match its %s digest",
                              bn, r->pcr, n, bn);
        }
        if (!secureboot_var(data, len, &val, &vlen)) {
            continue;
        }
        if (vlen != 1 || val[0] != 1) {
            return ks_pe_deny(c, "rule secureboot %s:%u: Secure Boot is disabled (event #%zu)", bn,
                              r->pcr, n);
        }
        found = true;
    }
    return found ? KS_OK
                 : ks_pe_deny(c, "rule secureboot %s:%u: the log has no SecureBoot variable event",
                              bn, r->pcr);
}

/* PFP 3.3.4.2 / 10.4.4: the EV_SEPARATOR value is 0 (0xFFFFFFFF: an error). */
static int separator_rule(struct ks_pe *c, const struct ks_store_rule *r)
{
    const struct ks_eventlog *log = c->in->ev->event_log;
    const char *bn = ks_alg_name(r->bank);
    static const uint8_t zero[4];
    bool found = false;
    for (size_t n = 0; n < ks_eventlog_count(log); n++) {
        const struct ks_eventlog_event *e = ks_eventlog_event(log, n);
        const uint8_t *data;
        size_t len;
        if (!measured(e) || e->pcr != r->pcr || e->type != KS_EV_SEPARATOR) {
            continue;
        }
        if (!bound_data(e, r->bank, &data, &len) || len != 4 || memcmp(data, zero, 4) != 0) {
            return ks_pe_deny(c, "rule separator %s:%u: event #%zu is not a verified 0 separator",
                              bn, r->pcr, n);
        }
        found = true;
    }
    return found ? KS_OK
                 : ks_pe_deny(c, "rule separator %s:%u: the log has no EV_SEPARATOR on the PCR", bn,
                              r->pcr);
}

/* True when `word` is a whitespace-separated word of the text, alone or as
 * "word=...". UTF-16LE strings (systemd-boot) are read by their low bytes. */
static bool has_word(const uint8_t *p, size_t len, const char *word, size_t wlen)
{
    bool utf16 = len >= 4 && len % 2 == 0 && p[1] == 0 && p[3] == 0;
    size_t step = utf16 ? 2 : 1;
    size_t i = 0;
    while (i < len) {
        while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == 0)) {
            i += step;
        }
        size_t start = i, n = 0;
        bool eq = true;
        while (i < len && p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != 0) {
            if (n < wlen && (char)p[i] != word[n]) {
                eq = false;
            }
            if (utf16 && i + 1 < len && p[i + 1] != 0) {
                eq = false;
            }
            n++;
            i += step;
        }
        if (i > start && eq && (n == wlen || (n > wlen && p[start + wlen * step] == '='))) {
            return true;
        }
    }
    return false;
}

static int cmdline_rule(struct ks_pe *c, size_t i)
{
    const struct ks_store_rule *r = &c->p->rules[i];
    const struct ks_eventlog *log = c->in->ev->event_log;
    const char *bn = ks_alg_name(r->bank);
    for (size_t n = 0; n < ks_eventlog_count(log); n++) {
        const struct ks_eventlog_event *e = ks_eventlog_event(log, n);
        const uint8_t *data;
        size_t len;
        if (!measured(e) || e->pcr != r->pcr || e->type != KS_EV_IPL) {
            continue;
        }
        if (!bound_data(e, r->bank, &data, &len)) {
            return ks_pe_deny(c,
                              "rule cmdline_forbidden %s:%u: EV_IPL event #%zu does not match "
                              "its %s digest, its text cannot be read",
                              bn, r->pcr, n, bn);
        }
        if (has_word(data, len, c->dec[i].text, c->dec[i].text_len)) {
            return ks_pe_deny(c, "rule cmdline_forbidden %s:%u: event #%zu holds \"%s\"", bn,
                              r->pcr, n, c->dec[i].text);
        }
    }
    return KS_OK;
}

int ks_pe_boot_rules(struct ks_pe *c)
{
    int r = KS_OK;
    for (size_t i = 0; i < c->p->n_rules && r == KS_OK; i++) {
        const struct ks_store_rule *rule = &c->p->rules[i];
        switch (rule->kind) {
        case KS_RULE_EVENT: {
            bool first = true; /* each (bank, PCR) group once */
            for (size_t k = 0; k < ks_pe_n_of(c, KS_RULE_EVENT) && first; k++) {
                size_t j = ks_pe_of(c, KS_RULE_EVENT, k);
                if (j >= i) {
                    break;
                }
                first = !(c->p->rules[j].bank == rule->bank && c->p->rules[j].pcr == rule->pcr);
            }
            if (first && (r = fw_ready(c, rule)) == KS_OK) {
                r = event_group(c, rule->bank, rule->pcr);
            }
            break;
        }
        case KS_RULE_EVENT_FORBIDDEN:
            if ((r = fw_ready(c, rule)) == KS_OK) {
                r = forbidden_rule(c, i);
            }
            break;
        case KS_RULE_SECUREBOOT:
            if ((r = fw_ready(c, rule)) == KS_OK) {
                r = secureboot_rule(c, rule);
            }
            break;
        case KS_RULE_SEPARATOR:
            if ((r = fw_ready(c, rule)) == KS_OK) {
                r = separator_rule(c, rule);
            }
            break;
        case KS_RULE_CMDLINE_FORBIDDEN:
            if ((r = fw_ready(c, rule)) == KS_OK) {
                r = cmdline_rule(c, i);
            }
            break;
        default:
            break;
        }
    }
    return r;
}
