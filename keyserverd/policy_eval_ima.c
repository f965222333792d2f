/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/*
 * IMA allow-lists (PCR 10) and the measured launcher's application log
 * (DESIGN "Logs and replay"). The IMA list was matched to the quoted PCR 10
 * before (keyserverd/evidence.c): only entries [0, ev->ima_count) are bound
 * to the quote and judged; every entry's template hash matched its data.
 */

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "eventlog.h"
#include "keyserverd/policy_eval_internal.h"
#include "tpm_attest.h"

static bool excluded(struct ks_pe *c, const char *path, size_t len)
{
    for (size_t j = 0; j < ks_pe_n_of(c, KS_RULE_IMA_EXCLUDE); j++) {
        const struct ks_rule_dec *d = &c->dec[ks_pe_of(c, KS_RULE_IMA_EXCLUDE, j)];
        if (d->text_len <= len && memcmp(path, d->text, d->text_len) == 0) {
            return true;
        }
    }
    return false;
}

/* Allowed when some ima_file rule of the entry's path has its digest
 * (files: sorted by path, policy_compiled.c). */
static bool file_allowed(const struct ks_rule_dec *const *files, size_t n,
                         const struct ks_ima_entry *e)
{
    size_t lo = 0, hi = n;
    while (lo < hi) { /* first rule whose path is >= e->path */
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(files[mid]->text, e->path) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    for (size_t i = lo; i < n && strcmp(files[i]->text, e->path) == 0; i++) {
        const struct ks_store_rule *r = files[i]->row;
        if (files[i]->ima_alg == e->digest_alg && r->digest_len == e->digest_len &&
            memcmp(r->digest, e->digest, e->digest_len) == 0) {
            return true;
        }
    }
    return false;
}

int ks_pe_ima_rules(struct ks_pe *c)
{
    size_t n_files = ks_pe_n_of(c, KS_RULE_IMA_FILE);
    if (n_files == 0 && ks_pe_n_of(c, KS_RULE_IMA_EXCLUDE) == 0) {
        return KS_OK;
    }
    const struct ks_evidence *ev = c->in->ev;
    if (!ev || !ev->ima_log) {
        return ks_pe_deny(c, "rule ima_file: the policy needs the IMA log; none was submitted");
    }
    if (!ev->ima_banks) {
        return ks_pe_deny(c, "rule ima_file: the quote does not select PCR 10");
    }
    /* Every rule decoded before the log rules run (policy_eval.c), so every
     * ima_file rule is in the sorted index. */
    if (c->cp->n_ima_files != n_files) {
        return KS_ERR_INTERNAL;
    }
    const struct ks_rule_dec *const *files = c->cp->ima_files;
    int r = KS_OK;
    char safe[96];
    for (size_t i = 0; i < ev->ima_count && r == KS_OK; i++) {
        const struct ks_ima_entry *e = ks_ima_log_entry(ev->ima_log, i);
        if (e->violation) {
            /* A violation's fields are not bound to PCR 10 (lib/ima.h): the
             * file measured is unknown. */
            r = ks_pe_deny(c, "rule ima_file: IMA entry %zu is a violation (ToMToU/open-writers)",
                           i);
        } else if (excluded(c, e->path, e->path_len)) {
            continue;
        } else if (!file_allowed(files, n_files, e)) {
            ks_pe_safe_text(e->path, e->path_len, safe, sizeof(safe));
            r = ks_pe_deny(c, "rule ima_file: IMA entry %zu: %s %s digest not allowed", i, safe,
                           ks_ima_hash_name(e->digest_alg));
        }
    }
    return r;
}

/* DESIGN: one EV_EVENT_TAG event per item, data = tag || SHA-256 measured. */
static bool app_event(const uint8_t *data, size_t len, const uint8_t **tag, size_t *tag_len)
{
    if (len <= 32 || len - 32 > KS_RULE_TAG_MAX) {
        return false;
    }
    for (size_t i = 0; i < len - 32; i++) {
        char ch = (char)data[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-')) {
            return false;
        }
    }
    *tag = data;
    *tag_len = len - 32;
    return true;
}

/* The application log judged in `bank`: every event on the application PCR
 * a verified tag event whose tag a rule names and whose digest it allows;
 * every tag the rules name present. */
static int app_bank(struct ks_pe *c, uint16_t bank)
{
    const struct ks_evidence *ev = c->in->ev;
    const char *bn = ks_alg_name(bank);
    char safe[KS_RULE_TAG_MAX + 1];
    bool *seen = calloc(c->p->n_rules, sizeof(*seen));
    if (!seen) {
        return KS_ERR_NOMEM;
    }
    int r = KS_OK;
    for (size_t n = 0; n < ks_eventlog_count(ev->app_log) && r == KS_OK; n++) {
        const struct ks_eventlog_event *e = ks_eventlog_event(ev->app_log, n);
        enum ks_eventlog_data_check chk;
        const uint8_t *tag;
        size_t tlen;
        if (e->type == KS_EV_NO_ACTION || e->pcr != ev->app_pcr) {
            continue;
        }
        if (e->type != KS_EV_EVENT_TAG || ks_eventlog_event_check_data(e, bank, &chk) < 0 ||
            chk != KS_EVENTLOG_DATA_MATCH || !app_event(e->data, e->data_len, &tag, &tlen)) {
            r = ks_pe_deny(c, "rule app_digest %s:%u: event #%zu is not a verified tag event", bn,
                           ev->app_pcr, n);
            break;
        }
        bool named = false, allowed = false;
        for (size_t j = 0; j < ks_pe_n_of(c, KS_RULE_APP_DIGEST); j++) {
            size_t i = ks_pe_of(c, KS_RULE_APP_DIGEST, j);
            const struct ks_store_rule *rule = &c->p->rules[i];
            if (rule->bank != bank || c->dec[i].text_len != tlen ||
                memcmp(c->dec[i].text, tag, tlen) != 0) {
                continue;
            }
            named = true;
            seen[i] = true;
            allowed = allowed || memcmp(rule->digest, e->data + tlen, 32) == 0;
        }
        ks_pe_safe_text((const char *)tag, tlen, safe, sizeof(safe));
        if (!named) {
            r = ks_pe_deny(c, "rule app_digest %s:%u: tag %s is not in the policy", bn, ev->app_pcr,
                           safe);
        } else if (!allowed) {
            r = ks_pe_deny(c, "rule app_digest %s:%u: %s digest not allowed", bn, ev->app_pcr,
                           safe);
        }
    }
    const size_t n_app = ks_pe_n_of(c, KS_RULE_APP_DIGEST);
    for (size_t a = 0; a < n_app && r == KS_OK; a++) {
        size_t i = ks_pe_of(c, KS_RULE_APP_DIGEST, a);
        if (c->p->rules[i].bank != bank || seen[i]) {
            continue;
        }
        /* seen[] marks every rule of a tag that appeared */
        bool tag_seen = false;
        for (size_t b = 0; b < n_app && !tag_seen; b++) {
            size_t j = ks_pe_of(c, KS_RULE_APP_DIGEST, b);
            tag_seen = seen[j] && c->p->rules[j].bank == bank &&
                       strcmp(c->dec[j].text, c->dec[i].text) == 0;
        }
        if (!tag_seen) {
            r = ks_pe_deny(c, "rule app_digest %s:%u: the application log has no %s event", bn,
                           ev->app_pcr, c->dec[i].text);
        }
    }
    free(seen);
    return r;
}

int ks_pe_app_rules(struct ks_pe *c)
{
    const struct ks_evidence *ev = c->in->ev;
    int r = KS_OK;
    const size_t n_app = ks_pe_n_of(c, KS_RULE_APP_DIGEST);
    for (size_t a = 0; a < n_app && r == KS_OK; a++) {
        const struct ks_store_rule *rule = &c->p->rules[ks_pe_of(c, KS_RULE_APP_DIGEST, a)];
        const char *bn = ks_alg_name(rule->bank);
        if (!ev || !ev->app_log) {
            return ks_pe_deny(c,
                              "rule app_digest %s:%u needs the application log; none was "
                              "submitted",
                              bn, rule->pcr);
        }
        if (rule->pcr != ev->app_pcr) {
            return ks_pe_deny(c, "rule app_digest names PCR %u, the application PCR is %u",
                              rule->pcr, ev->app_pcr);
        }
        if (!ks_pcr_bank_enabled(&ev->app_pcrs, rule->bank)) {
            return ks_pe_deny(c, "rule app_digest %s:%u: the application log has no %s digests", bn,
                              rule->pcr, bn);
        }
        bool first = true; /* each bank once */
        for (size_t b = 0; b < a && first; b++) {
            first = c->p->rules[ks_pe_of(c, KS_RULE_APP_DIGEST, b)].bank != rule->bank;
        }
        if (first) {
            r = app_bank(c, rule->bank);
        }
    }
    return r;
}
