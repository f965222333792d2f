/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyserverd/policy_learn.h"
#include "keyserverd/policy_rules.h"
#include "tpm_alg.h"

void ks_rule_list_clear(struct ks_rule_list *l)
{
    if (!l) {
        return;
    }
    for (size_t i = 0; i < l->n; i++) {
        free(l->rules[i].data);
    }
    free(l->rules);
    memset(l, 0, sizeof(*l));
}

int ks_rule_list_add(struct ks_rule_list *l, enum ks_rule_kind kind, uint16_t bank, unsigned pcr,
                     const uint8_t *digest, size_t dlen, json_t *data)
{
    int r = KS_OK;
    if (l->n == KS_STORE_MAX_RULES || dlen > KS_MAX_DIGEST) {
        r = KS_ERR_TOO_LARGE;
        goto out;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        struct ks_store_rule *n = realloc(l->rules, cap * sizeof(*n));
        if (!n) {
            r = KS_ERR_NOMEM;
            goto out;
        }
        l->rules = n;
        l->cap = cap;
    }
    struct ks_store_rule *rule = &l->rules[l->n];
    memset(rule, 0, sizeof(*rule));
    rule->kind = kind;
    snprintf(rule->kind_name, sizeof(rule->kind_name), "%s", ks_rule_kind_name(kind));
    rule->bank = bank;
    rule->pcr = (uint8_t)pcr;
    rule->digest_len = (uint8_t)dlen;
    if (dlen) {
        memcpy(rule->digest, digest, dlen);
    }
    if (data && !(rule->data = ks_rule_data_dump(data))) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    l->n++;
out:
    json_decref(data);
    return r;
}

void ks_learn_stats_init(struct ks_learn_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->secureboot_off = -1;
}

static bool verified(const struct ks_eventlog_event *e, uint16_t bank)
{
    enum ks_eventlog_data_check chk;
    return ks_eventlog_event_check_data(e, bank, &chk) == KS_OK && chk == KS_EVENTLOG_DATA_MATCH;
}

/* UEFI_VARIABLE_DATA of EFI_GLOBAL_VARIABLE "SecureBoot" (PFP 10.4.2): its
 * value (0 when empty), or -1 for another variable. */
static int secureboot_value(const struct ks_eventlog_event *e)
{
    static const uint8_t guid[16] = {0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
                                     0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c};
    static const uint8_t name[20] = {'S', 0, 'e', 0, 'c', 0, 'u', 0, 'r', 0,
                                     'e', 0, 'B', 0, 'o', 0, 'o', 0, 't', 0};
    if (e->data_len < 52 || memcmp(e->data, guid, 16) != 0 || e->data[16] != 10 ||
        memcmp(e->data + 32, name, 20) != 0) {
        return -1;
    }
    return e->data_len == 53 ? e->data[52] : 0;
}

static int learn_pcr(const struct ks_eventlog *log, uint16_t bank, unsigned pcr,
                     struct ks_rule_list *out, struct ks_learn_stats *st)
{
    static const uint8_t zero[4];
    char tb[16];
    uint32_t seq = 0;
    bool sep = false, sep_ok = true;
    int r = KS_OK;
    for (size_t i = 0; i < ks_eventlog_count(log) && r == KS_OK; i++) {
        const struct ks_eventlog_event *e = ks_eventlog_event(log, i);
        if (e->type == KS_EV_NO_ACTION || e->pcr != pcr) {
            continue;
        }
        const struct ks_eventlog_digest *d = ks_eventlog_event_digest(e, bank);
        if (!d) {
            st->bad_event = i;
            return KS_ERR_INVALID_ARG;
        }
        json_t *o = json_pack("{s:I,s:s}", "seq", (json_int_t)seq++, "type",
                              ks_rule_type_name(e->type, tb, sizeof(tb)));
        r = ks_rule_list_add(out, KS_RULE_EVENT, bank, pcr, d->bytes, d->size, o);
        st->events++;
        if (e->type == KS_EV_SEPARATOR) {
            sep = true;
            sep_ok =
                sep_ok && verified(e, bank) && e->data_len == 4 && memcmp(e->data, zero, 4) == 0;
        }
        if (pcr == 7 && e->type == KS_EV_EFI_VARIABLE_DRIVER_CONFIG && verified(e, bank)) {
            int v = secureboot_value(e);
            st->secureboot = st->secureboot || v == 1;
            if (v >= 0 && v != 1) {
                st->secureboot_off = (long)i;
            }
        }
    }
    if (r == KS_OK && sep && sep_ok && pcr < 8) {
        r = ks_rule_list_add(out, KS_RULE_SEPARATOR, bank, pcr, NULL, 0, NULL);
        st->separators++;
    }
    return r;
}

int ks_policy_learn_eventlog(const struct ks_eventlog *log, const struct ks_pcr_set *replay,
                             uint16_t bank, uint32_t pcrs, struct ks_rule_list *out,
                             struct ks_learn_stats *st)
{
    if (!log || !replay || !out || !st || (pcrs >> 16) != 0 || !ks_pcr_bank_enabled(replay, bank)) {
        return KS_ERR_INVALID_ARG;
    }
    int r = KS_OK;
    for (unsigned pcr = 0; pcr < 16 && r == KS_OK; pcr++) {
        if (pcrs & (1u << pcr)) {
            r = learn_pcr(log, bank, pcr, out, st);
        }
    }
    /* Enabled, and never seen disabled. */
    if (st->secureboot && st->secureboot_off >= 0) {
        st->secureboot = false;
    }
    if (r == KS_OK && st->secureboot) {
        r = ks_rule_list_add(out, KS_RULE_SECUREBOOT, bank, 7, NULL, 0, NULL);
    }
    return r;
}

static int cmp_rule(const void *a, const void *b)
{
    const struct ks_store_rule *x = a, *y = b;
    int c = strcmp(x->data, y->data);
    return c ? c : memcmp(x->digest, y->digest, KS_MAX_DIGEST);
}

int ks_policy_learn_ima(const struct ks_ima_log *log, struct ks_rule_list *out,
                        struct ks_learn_stats *st)
{
    if (!log || !out || !st) {
        return KS_ERR_INVALID_ARG;
    }
    size_t first = out->n;
    int r = KS_OK;
    for (size_t i = 0; i < ks_ima_log_count(log) && r == KS_OK; i++) {
        const struct ks_ima_entry *e = ks_ima_log_entry(log, i);
        if (e->violation || e->template_hash_mismatch || e->pcr != KS_IMA_PCR || e->path_len == 0 ||
            e->path_len >= KS_IMA_MAX_PATH) {
            continue;
        }
        json_t *o = json_pack("{s:s,s:s}", "path", e->path, "alg", ks_ima_hash_name(e->digest_alg));
        r = ks_rule_list_add(out, KS_RULE_IMA_FILE, 0, KS_IMA_PCR, e->digest, e->digest_len, o);
    }
    if (r < 0) {
        return r;
    }
    /* The same file measured twice is one rule. */
    qsort(out->rules + first, out->n - first, sizeof(*out->rules), cmp_rule);
    size_t w = first;
    for (size_t i = first; i < out->n; i++) {
        if (w > first && cmp_rule(&out->rules[w - 1], &out->rules[i]) == 0) {
            free(out->rules[i].data);
            continue;
        }
        out->rules[w++] = out->rules[i];
    }
    out->n = w;
    st->ima_files += w - first;
    return KS_OK;
}

int ks_policy_learn_app(const struct ks_eventlog *log, uint16_t bank, unsigned app_pcr,
                        struct ks_rule_list *out, struct ks_learn_stats *st)
{
    if (!log || !out || !st || app_pcr >= KS_PCR_COUNT || ks_alg_digest_size(bank) == 0) {
        return KS_ERR_INVALID_ARG;
    }
    int r = KS_OK;
    for (size_t i = 0; i < ks_eventlog_count(log) && r == KS_OK; i++) {
        const struct ks_eventlog_event *e = ks_eventlog_event(log, i);
        if (e->type != KS_EV_EVENT_TAG || e->pcr != app_pcr) {
            continue;
        }
        char tag[KS_RULE_TAG_MAX + 1];
        size_t tlen = e->data_len > 32 ? e->data_len - 32 : 0;
        bool ok = verified(e, bank) && tlen > 0 && tlen <= KS_RULE_TAG_MAX;
        for (size_t k = 0; ok && k < tlen; k++) {
            char c = (char)e->data[k];
            ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        }
        if (!ok) {
            st->bad_event = i;
            return KS_ERR_INVALID_ARG;
        }
        memcpy(tag, e->data, tlen);
        tag[tlen] = '\0';
        r = ks_rule_list_add(out, KS_RULE_APP_DIGEST, bank, app_pcr, e->data + tlen, 32,
                             json_pack("{s:s}", "tag", tag));
        st->app_digests++;
    }
    return r;
}
