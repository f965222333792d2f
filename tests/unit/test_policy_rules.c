/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include <openssl/evp.h>

#include "encoding.h"
#include "eventlog.h"
#include "ima.h"
#include "keyserverd/evidence.h"
#include "keyserverd/policy_compiled.h"
#include "keyserverd/policy_eval.h"
#include "keyserverd/policy_learn.h"
#include "keyserverd/policy_rules.h"
#include "tpm_attest.h"

/*
 * The rules of keyserverd/policy_rules.h as keyserverd enforces them
 * (ks_policy_eval_input), on policies learned (keyserverd/policy_learn.h)
 * from the real logs of tests/data: each machine's log is "quoted" as it
 * replays (the quote's PCRs are the replay of the log submitted, as a TPM
 * that really booted that chain would report), checked by ks_evidence_check,
 * then judged.
 */

/* Every firmware log of tests/data/eventlogs that parses. */
static const char *const logs[] = {
    "eventlogs/keylime/binary_bios_measurements-secureboot.bin",
    "eventlogs/keylime/binary_bios_measurements.bin",
    "eventlogs/keylime/mb_log_issue1153.bin",
    "eventlogs/tpm2-tools/event-arch-linux.bin",
    "eventlogs/tpm2-tools/event-bootorder.bin",
    "eventlogs/tpm2-tools/event-gce-ubuntu-2104-log.bin",
    "eventlogs/tpm2-tools/event-moklisttrusted.bin",
    "eventlogs/tpm2-tools/event-postcode.bin",
    "eventlogs/tpm2-tools/event-sd-boot-fedora37.bin",
    "eventlogs/tpm2-tools/event-uefi-sha1-log.bin",
    "eventlogs/tpm2-tools/event-uefiaction.bin",
    "eventlogs/tpm2-tools/event-uefiservices.bin",
    "eventlogs/tpm2-tools/event-uefivar.bin",
    "eventlogs/tpm2-tools/event.bin",
};

/* A machine: its logs as submitted and the quote (selection + values). */
struct machine {
    const uint8_t *event_log;
    size_t event_log_len;
    const uint8_t *ima_log;
    size_t ima_log_len;
    const uint8_t *app_log;
    size_t app_log_len;
    TPML_PCR_SELECTION sel;
    struct ks_pcr_set quoted;
    struct ks_quote_info quote;
    struct ks_store_ak ak;
    char reason[KS_POLICY_REASON_MAX];
};

static void sel_add(TPML_PCR_SELECTION *sel, uint16_t alg, uint32_t mask)
{
    TPMS_PCR_SELECTION *s = &sel->pcrSelections[sel->count++];
    s->hash = alg;
    s->sizeofSelect = 3;
    s->pcrSelect[0] = (uint8_t)mask;
    s->pcrSelect[1] = (uint8_t)(mask >> 8);
    s->pcrSelect[2] = (uint8_t)(mask >> 16);
}

/* Quote PCRs `mask` of `bank` as the firmware log replays (zero when it
 * does not touch them). */
static void quote_eventlog(struct machine *m, uint16_t bank, uint32_t mask)
{
    struct ks_eventlog *log = NULL;
    struct ks_pcr_set rep;
    static const uint8_t zero[KS_MAX_DIGEST];
    assert_int_equal(ks_eventlog_parse(m->event_log, m->event_log_len, &log, NULL), KS_OK);
    assert_int_equal(ks_eventlog_replay(log, &rep, NULL), KS_OK);
    ks_eventlog_free(log);
    sel_add(&m->sel, bank, mask);
    for (unsigned pcr = 0; pcr < KS_PCR_COUNT; pcr++) {
        const uint8_t *v = zero;
        if (!(mask & (1u << pcr))) {
            continue;
        }
        if (ks_pcr_set_has(&rep, bank, pcr)) {
            assert_int_equal(ks_pcr_set_get(&rep, bank, pcr, &v), KS_OK);
        }
        assert_int_equal(ks_pcr_set_put(&m->quoted, bank, pcr, v, ks_alg_digest_size(bank)), KS_OK);
    }
}

static void machine_init(struct machine *m)
{
    memset(m, 0, sizeof(*m));
    ks_pcr_set_init(&m->quoted);
    m->quote.safe = true;
}

/* Evidence check (must pass: the logs replay) then the policy. */
static int judge(struct machine *m, const struct ks_store_policy *p)
{
    struct ks_evidence_logs l = {
        .event_log = m->event_log,
        .event_log_len = m->event_log_len,
        .ima_log = m->ima_log,
        .ima_log_len = m->ima_log_len,
        .app_log = m->app_log,
        .app_log_len = m->app_log_len,
        .app_pcr = 15,
    };
    struct ks_evidence *ev = NULL;
    char why[KS_EVIDENCE_REASON_MAX];
    int r = ks_evidence_check(&l, &m->sel, &m->quoted, &ev, why, sizeof(why));
    if (r < 0) {
        print_message("evidence: %s\n", why);
    }
    assert_int_equal(r, KS_OK);
    struct ks_policy_input in = {&m->sel, &m->quoted, ev, &m->quote, &m->ak};
    r = ks_policy_eval_input(p, &in, m->reason, sizeof(m->reason));
    ks_evidence_free(ev);
    return r;
}

static void policy_of(struct ks_store_policy *p, const struct ks_rule_list *l)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "learned");
    p->version = 1;
    p->state = KS_POLICY_ACTIVE;
    p->rules = l->rules;
    p->n_rules = l->n;
}

struct learned {
    struct ks_rule_list list;
    struct ks_learn_stats st;
    struct ks_store_policy policy;
    uint16_t bank;
};

static void learn_log(const uint8_t *buf, size_t len, struct learned *out)
{
    struct ks_eventlog *log = NULL;
    struct ks_pcr_set rep;
    memset(out, 0, sizeof(*out));
    ks_learn_stats_init(&out->st);
    assert_int_equal(ks_eventlog_parse(buf, len, &log, NULL), KS_OK);
    assert_int_equal(ks_eventlog_replay(log, &rep, NULL), KS_OK);
    out->bank = ks_pcr_bank_enabled(&rep, KS_ALG_SHA256) ? KS_ALG_SHA256 : KS_ALG_SHA1;
    assert_int_equal(
        ks_policy_learn_eventlog(log, &rep, out->bank, KS_LEARN_DEFAULT_PCRS, &out->list, &out->st),
        KS_OK);
    ks_eventlog_free(log);
    policy_of(&out->policy, &out->list);
}

/* Quote PCRs 0-9 and 14 (what the learned policy names). */
static int judge_log(const uint8_t *buf, size_t len, const struct learned *l, char *reason)
{
    struct machine m;
    machine_init(&m);
    m.event_log = buf;
    m.event_log_len = len;
    quote_eventlog(&m, l->bank, KS_LEARN_DEFAULT_PCRS);
    int r = judge(&m, &l->policy);
    if (reason) {
        memcpy(reason, m.reason, sizeof(m.reason));
    }
    return r;
}

/* Where event i's digest in `bank` lies in the raw log. */
static size_t digest_offset(const uint8_t *buf, const struct ks_eventlog_event *e, uint16_t bank)
{
    const struct ks_eventlog_digest *d = ks_eventlog_event_digest(e, bank);
    assert_non_null(d);
    for (size_t off = e->offset; off + d->size <= e->offset + e->record_len; off++) {
        if (memcmp(buf + off, d->bytes, d->size) == 0) {
            return off;
        }
    }
    fail_msg("digest of event %zu not found", e->index);
    return 0;
}

static bool pinned(const struct ks_eventlog_event *e)
{
    return e->type != KS_EV_NO_ACTION && e->pcr < 16 &&
           (KS_LEARN_DEFAULT_PCRS & (1u << e->pcr)) != 0;
}

/* ---- firmware logs ------------------------------------------------------- */

static void test_learned_accepts_each_log(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
        size_t len;
        uint8_t *buf = unit_read(logs[i], &len);
        struct learned l;
        char reason[KS_POLICY_REASON_MAX];
        learn_log(buf, len, &l);
        assert_true(l.list.n > 0);
        int r = judge_log(buf, len, &l, reason);
        if (r != KS_OK) {
            fail_msg("%s: %s", logs[i], reason);
        }
        ks_rule_list_clear(&l.list);
        free(buf);
    }
}

/* Any one event's digest changed (the log replays, so the quote matches):
 * refused, naming the event rule. */
static void test_changed_digest_refused(void **state)
{
    (void)state;
    size_t tried = 0;
    for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
        size_t len;
        uint8_t *buf = unit_read(logs[i], &len);
        struct ks_eventlog *log = NULL;
        struct learned l;
        learn_log(buf, len, &l);
        assert_int_equal(ks_eventlog_parse(buf, len, &log, NULL), KS_OK);
        for (size_t n = 0; n < ks_eventlog_count(log); n++) {
            const struct ks_eventlog_event *e = ks_eventlog_event(log, n);
            char reason[KS_POLICY_REASON_MAX];
            if (!pinned(e)) {
                continue;
            }
            uint8_t *mod = malloc(len);
            assert_non_null(mod);
            memcpy(mod, buf, len);
            mod[digest_offset(buf, e, l.bank)] ^= 0x01;
            assert_int_equal(judge_log(mod, len, &l, reason), KS_ERR_POLICY_DENIED);
            assert_non_null(strstr(reason, "rule "));
            free(mod);
            tried++;
        }
        ks_eventlog_free(log);
        ks_rule_list_clear(&l.list);
        free(buf);
    }
    assert_true(tried > 500);
}

static void test_removed_event_refused(void **state)
{
    (void)state;
    size_t tried = 0;
    for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
        size_t len;
        uint8_t *buf = unit_read(logs[i], &len);
        struct ks_eventlog *log = NULL;
        struct learned l;
        learn_log(buf, len, &l);
        assert_int_equal(ks_eventlog_parse(buf, len, &log, NULL), KS_OK);
        for (size_t n = 0; n < ks_eventlog_count(log); n++) {
            const struct ks_eventlog_event *e = ks_eventlog_event(log, n);
            char reason[KS_POLICY_REASON_MAX];
            if (!pinned(e)) {
                continue;
            }
            uint8_t *mod = malloc(len);
            assert_non_null(mod);
            memcpy(mod, buf, e->offset);
            memcpy(mod + e->offset, buf + e->offset + e->record_len,
                   len - e->offset - e->record_len);
            assert_int_equal(judge_log(mod, len - e->record_len, &l, reason), KS_ERR_POLICY_DENIED);
            assert_non_null(strstr(reason, "rule event"));
            free(mod);
            tried++;
        }
        ks_eventlog_free(log);
        ks_rule_list_clear(&l.list);
        free(buf);
    }
    assert_true(tried > 500);
}

/* The SecureBoot variable event of PCR 7 and where its value byte is. */
static const struct ks_eventlog_event *sb_event(const struct ks_eventlog *log, const uint8_t *buf,
                                                size_t *ret_value_off)
{
    for (size_t n = 0; n < ks_eventlog_count(log); n++) {
        const struct ks_eventlog_event *e = ks_eventlog_event(log, n);
        if (e->pcr == 7 && e->type == KS_EV_EFI_VARIABLE_DRIVER_CONFIG && e->data_len == 53 &&
            memcmp(e->data + 32, "S\0e\0c\0u\0r\0e\0B\0o\0o\0t\0", 20) == 0) {
            *ret_value_off = e->offset + e->record_len - 1;
            assert_int_equal(buf[*ret_value_off], e->data[52]);
            return e;
        }
    }
    return NULL;
}

static void sha(uint16_t alg, const uint8_t *d, size_t n, uint8_t *out)
{
    assert_int_equal(ks_alg_hash(alg, d, n, NULL, 0, out), KS_OK);
}

static void test_secureboot_off_refused(void **state)
{
    (void)state;
    size_t with_sb = 0;
    for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
        size_t len, voff = 0;
        uint8_t *buf = unit_read(logs[i], &len);
        struct ks_eventlog *log = NULL;
        struct learned l;
        char reason[KS_POLICY_REASON_MAX];
        learn_log(buf, len, &l);
        assert_int_equal(ks_eventlog_parse(buf, len, &log, NULL), KS_OK);
        const struct ks_eventlog_event *e = sb_event(log, buf, &voff);
        if (!e || e->data[52] != 1) {
            /* Secure Boot off (or not recorded) in the golden log: no rule. */
            assert_false(l.st.secureboot);
            goto next;
        }
        assert_true(l.st.secureboot);
        with_sb++;
        uint8_t *mod = malloc(len);
        assert_non_null(mod);
        /* 1. The value byte flipped, digests kept: the data no longer
         * verifies, the replay is unchanged, the secureboot rule refuses. */
        memcpy(mod, buf, len);
        mod[voff] = 0;
        assert_int_equal(judge_log(mod, len, &l, reason), KS_ERR_POLICY_DENIED);
        assert_non_null(strstr(reason, "rule secureboot"));
        assert_non_null(strstr(reason, "does not match"));
        /* 2. SecureBoot = 0 with matching digests in every bank. */
        for (size_t k = 0; k < e->digest_count; k++) {
            uint16_t alg = e->digests[k].alg;
            uint8_t data[53], h[KS_MAX_DIGEST];
            memcpy(data, e->data, 53);
            data[52] = 0;
            sha(alg, data, 53, h);
            memcpy(mod + digest_offset(buf, e, alg), h, ks_alg_digest_size(alg));
        }
        assert_int_equal(judge_log(mod, len, &l, reason), KS_ERR_POLICY_DENIED);
        /* ... the learned event rule of PCR 7 refuses it; without the event
         * rules, the secureboot rule does. */
        struct ks_rule_list only = {0};
        for (size_t k = 0; k < l.list.n; k++) {
            const struct ks_store_rule *r = &l.list.rules[k];
            if (r->kind == KS_RULE_EVENT && r->pcr == 7) {
                continue;
            }
            assert_int_equal(ks_rule_list_add(&only, r->kind, r->bank, r->pcr, r->digest,
                                              r->digest_len,
                                              r->data ? json_loads(r->data, 0, NULL) : NULL),
                             KS_OK);
        }
        struct learned l2 = l;
        policy_of(&l2.policy, &only);
        assert_int_equal(judge_log(buf, len, &l2, reason), KS_OK);
        assert_int_equal(judge_log(mod, len, &l2, reason), KS_ERR_POLICY_DENIED);
        assert_non_null(strstr(reason, "rule secureboot"));
        assert_non_null(strstr(reason, "disabled"));
        ks_rule_list_clear(&only);
        free(mod);
    next:
        ks_eventlog_free(log);
        ks_rule_list_clear(&l.list);
        free(buf);
    }
    /* -secureboot, mb_log_issue1153, moklisttrusted, postcode, uefivar */
    assert_int_equal(with_sb, 5);
}

/* The quote must select every PCR a rule names, in the rule's bank. */
static void test_quote_selection_and_bank(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = unit_read(logs[0], &len);
    struct learned l;
    struct machine m;
    learn_log(buf, len, &l);
    machine_init(&m);
    m.event_log = buf;
    m.event_log_len = len;
    quote_eventlog(&m, KS_ALG_SHA256, KS_LEARN_DEFAULT_PCRS & ~(1u << 4));
    assert_int_equal(judge(&m, &l.policy), KS_ERR_POLICY_DENIED);
    assert_non_null(strstr(m.reason, "quote does not select PCR sha256:4"));
    /* Only sha1 quoted: the sha256 events are not judged in sha1. */
    machine_init(&m);
    m.event_log = buf;
    m.event_log_len = len;
    quote_eventlog(&m, KS_ALG_SHA1, KS_LEARN_DEFAULT_PCRS);
    assert_int_equal(judge(&m, &l.policy), KS_ERR_POLICY_DENIED);
    assert_non_null(strstr(m.reason, "quote does not select PCR sha256:"));
    /* No event log submitted. */
    machine_init(&m);
    m.event_log = buf;
    m.event_log_len = len;
    quote_eventlog(&m, KS_ALG_SHA256, KS_LEARN_DEFAULT_PCRS);
    m.event_log = NULL;
    assert_int_equal(judge(&m, &l.policy), KS_ERR_POLICY_DENIED);
    assert_non_null(strstr(m.reason, "needs the event log"));
    ks_rule_list_clear(&l.list);
    free(buf);
    /* A legacy SHA-1 log does not carry sha256: a sha256 rule refuses. */
    buf = unit_read("eventlogs/tpm2-tools/event-uefi-sha1-log.bin", &len);
    struct ks_rule_list one = {0};
    struct ks_store_policy p;
    uint8_t d[32] = {0};
    assert_int_equal(ks_rule_list_add(&one, KS_RULE_SEPARATOR, KS_ALG_SHA256, 0, d, 0, NULL),
                     KS_OK);
    policy_of(&p, &one);
    machine_init(&m);
    m.event_log = buf;
    m.event_log_len = len;
    quote_eventlog(&m, KS_ALG_SHA1, KS_LEARN_DEFAULT_PCRS);
    sel_add(&m.sel, KS_ALG_SHA256, 1);
    assert_int_equal(ks_pcr_set_put(&m.quoted, KS_ALG_SHA256, 0, d, 32), KS_OK);
    assert_int_equal(judge(&m, &p), KS_ERR_POLICY_DENIED);
    assert_non_null(strstr(m.reason, "has no sha256 digests"));
    ks_rule_list_clear(&one);
    free(buf);
}

static json_t *word(const char *w)
{
    return json_pack("{s:s}", "word", w);
}

/* Kernel command-line words: systemd-boot's UTF-16 string (PCR 12, digest
 * over the data) and GRUB's "kernel_cmdline: " (PCR 8, digest without the
 * prefix) are both read; an EV_IPL that does not verify fails the rule. */
static void test_cmdline_forbidden(void **state)
{
    (void)state;
    struct {
        const char *log;
        unsigned pcr;
        const char *word;
        int want;
    } cases[] = {
        {"eventlogs/tpm2-tools/event-sd-boot-fedora37.bin", 12, "efi", KS_ERR_POLICY_DENIED},
        {"eventlogs/tpm2-tools/event-sd-boot-fedora37.bin", 12, "efi=debug", KS_ERR_POLICY_DENIED},
        {"eventlogs/tpm2-tools/event-sd-boot-fedora37.bin", 12, "debug", KS_OK},
        {"eventlogs/tpm2-tools/event-sd-boot-fedora37.bin", 12, "console", KS_ERR_POLICY_DENIED},
        {"eventlogs/tpm2-tools/event-sd-boot-fedora37.bin", 12, "consol", KS_OK},
        {"eventlogs/keylime/binary_bios_measurements-secureboot.bin", 8, "ro",
         KS_ERR_POLICY_DENIED},
        {"eventlogs/keylime/binary_bios_measurements-secureboot.bin", 8, "debug", KS_OK},
        {"eventlogs/keylime/binary_bios_measurements-secureboot.bin", 8, "crashkernel",
         KS_ERR_POLICY_DENIED},
        /* PCR 9: GRUB's files, whose digests cover the file, not the path */
        {"eventlogs/keylime/binary_bios_measurements-secureboot.bin", 9, "debug",
         KS_ERR_POLICY_DENIED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len;
        uint8_t *buf = unit_read(cases[i].log, &len);
        struct ks_rule_list one = {0};
        struct ks_store_policy p;
        struct machine m;
        assert_int_equal(ks_rule_list_add(&one, KS_RULE_CMDLINE_FORBIDDEN, KS_ALG_SHA256,
                                          cases[i].pcr, NULL, 0, word(cases[i].word)),
                         KS_OK);
        policy_of(&p, &one);
        machine_init(&m);
        m.event_log = buf;
        m.event_log_len = len;
        quote_eventlog(&m, KS_ALG_SHA256, 0xffff);
        int r = judge(&m, &p);
        if (r != cases[i].want) {
            fail_msg("case %zu: %d %s", i, r, m.reason);
        }
        if (r < 0) {
            assert_non_null(strstr(m.reason, "rule cmdline_forbidden"));
        }
        ks_rule_list_clear(&one);
        free(buf);
    }
}

/* Separators and forbidden events. */
static void test_separator_and_forbidden(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = unit_read(logs[0], &len);
    struct ks_rule_list l = {0};
    struct ks_store_policy p;
    struct machine m;
    assert_int_equal(ks_rule_list_add(&l, KS_RULE_SEPARATOR, KS_ALG_SHA256, 4, NULL, 0, NULL),
                     KS_OK);
    policy_of(&p, &l);
    machine_init(&m);
    m.event_log = buf;
    m.event_log_len = len;
    quote_eventlog(&m, KS_ALG_SHA256, 0xffff);
    assert_int_equal(judge(&m, &p), KS_OK);
    /* PCR 15 has no separator */
    l.rules[0].pcr = 15;
    assert_int_equal(judge(&m, &p), KS_ERR_POLICY_DENIED);
    assert_non_null(strstr(m.reason, "no EV_SEPARATOR"));
    ks_rule_list_clear(&l);
    /* Forbidden: any EV_EFI_ACTION on PCR 4 (the log has one). */
    assert_int_equal(ks_rule_list_add(&l, KS_RULE_EVENT_FORBIDDEN, KS_ALG_SHA256, 4, NULL, 0,
                                      json_pack("{s:s}", "type", "EV_EFI_ACTION")),
                     KS_OK);
    policy_of(&p, &l);
    assert_int_equal(judge(&m, &p), KS_ERR_POLICY_DENIED);
    assert_non_null(strstr(m.reason, "rule event_forbidden"));
    ks_rule_list_clear(&l);
    /* ... with a digest that no event has: allowed. */
    uint8_t d[32];
    memset(d, 0x5a, sizeof(d));
    assert_int_equal(ks_rule_list_add(&l, KS_RULE_EVENT_FORBIDDEN, KS_ALG_SHA256, 4, d, 32,
                                      json_pack("{s:s}", "type", "EV_EFI_ACTION")),
                     KS_OK);
    policy_of(&p, &l);
    assert_int_equal(judge(&m, &p), KS_OK);
    ks_rule_list_clear(&l);
    free(buf);
}

/* Unordered event rules (no seq): every event allowed, at least one. */
static void test_event_unordered(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = unit_read(logs[0], &len);
    struct learned l;
    learn_log(buf, len, &l);
    struct ks_rule_list u = {0};
    for (size_t k = 0; k < l.list.n; k++) {
        const struct ks_store_rule *r = &l.list.rules[k];
        if (r->kind != KS_RULE_EVENT || r->pcr != 4) {
            continue;
        }
        json_t *d = json_loads(r->data, 0, NULL);
        json_object_del(d, "seq");
        assert_int_equal(
            ks_rule_list_add(&u, r->kind, r->bank, r->pcr, r->digest, r->digest_len, d), KS_OK);
    }
    struct learned lu = l;
    policy_of(&lu.policy, &u);
    char reason[KS_POLICY_REASON_MAX];
    assert_int_equal(judge_log(buf, len, &lu, reason), KS_OK);
    /* mixing ordered and unordered entries of one PCR is refused */
    assert_int_equal(ks_rule_list_add(&u, KS_RULE_EVENT, KS_ALG_SHA256, 4, u.rules[0].digest, 32,
                                      json_pack("{s:i,s:s}", "seq", 0, "type", "EV_IPL")),
                     KS_OK);
    policy_of(&lu.policy, &u);
    assert_int_equal(judge_log(buf, len, &lu, reason), KS_ERR_POLICY_DENIED);
    assert_non_null(strstr(reason, "mixes"));
    ks_rule_list_clear(&u);
    ks_rule_list_clear(&l.list);
    free(buf);
}

/* ---- IMA ------------------------------------------------------------------ */

#define RUST_IMA "ima/rust-keylime/ascii_runtime_measurements"

/* The rust-keylime list in the kernel's binary form, what a loader submits
 * (the keyserver refuses the ASCII rendering). */
static uint8_t *read_ima_binary(size_t *ret_len)
{
    size_t alen = 0;
    uint8_t *ascii = unit_read(RUST_IMA, &alen);
    struct ks_ima_log *log = NULL;
    uint8_t *bin = NULL;
    assert_int_equal(ks_ima_log_parse(ascii, alen, NULL, &log, NULL), KS_OK);
    assert_int_equal(ks_ima_log_to_binary(log, &bin, ret_len), KS_OK);
    ks_ima_log_free(log);
    free(ascii);
    return bin;
}

static void quote_ima(struct machine *m, const struct ks_ima_log *log, size_t count)
{
    struct ks_pcr_set set;
    const uint8_t *v;
    ks_pcr_set_init(&set);
    sel_add(&m->sel, KS_ALG_SHA1, 1u << 10);
    sel_add(&m->sel, KS_ALG_SHA256, 1u << 10);
    assert_int_equal(ks_ima_log_replay(log, count, KS_ALG_SHA1, &set), KS_OK);
    assert_int_equal(ks_ima_log_replay(log, count, KS_ALG_SHA256, &set), KS_OK);
    assert_int_equal(ks_pcr_set_get(&set, KS_ALG_SHA1, 10, &v), KS_OK);
    assert_int_equal(ks_pcr_set_put(&m->quoted, KS_ALG_SHA1, 10, v, 20), KS_OK);
    assert_int_equal(ks_pcr_set_get(&set, KS_ALG_SHA256, 10, &v), KS_OK);
    assert_int_equal(ks_pcr_set_put(&m->quoted, KS_ALG_SHA256, 10, v, 32), KS_OK);
}

static void test_ima_allowlist(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = read_ima_binary(&len);
    struct ks_ima_log *log = NULL;
    struct ks_rule_list l = {0};
    struct ks_learn_stats st;
    struct ks_store_policy p;
    struct machine m;
    ks_learn_stats_init(&st);
    assert_int_equal(ks_ima_log_parse(buf, len, NULL, &log, NULL), KS_OK);
    assert_int_equal(ks_policy_learn_ima(log, &l, &st), KS_OK);
    assert_true(st.ima_files > 700 && st.ima_files <= 826);
    policy_of(&p, &l);
    machine_init(&m);
    m.ima_log = buf;
    m.ima_log_len = len;
    quote_ima(&m, log, ks_ima_log_count(log));
    /* The published PCR 10 (tests/data/README.md). */
    const uint8_t *v;
    uint8_t want[20];
    assert_int_equal(ks_hex_decode_fixed("82231c67a69da98dc5b3aa10f6343d33109225fc", want, 20),
                     KS_OK);
    assert_int_equal(ks_pcr_set_get(&m.quoted, KS_ALG_SHA1, 10, &v), KS_OK);
    assert_memory_equal(v, want, 20);
    assert_int_equal(judge(&m, &p), KS_OK);

    /* One file unknown to the allow-list (its rule's digest changed). */
    size_t victim = l.n / 2;
    l.rules[victim].digest[0] ^= 1;
    assert_int_equal(judge(&m, &p), KS_ERR_POLICY_DENIED);
    assert_non_null(strstr(m.reason, "rule ima_file"));
    assert_non_null(strstr(m.reason, "digest not allowed"));
    /* Its path excluded: judged no more. */
    json_t *d = json_loads(l.rules[victim].data, 0, NULL);
    const char *path = json_string_value(json_object_get(d, "path"));
    assert_int_equal(ks_rule_list_add(&l, KS_RULE_IMA_EXCLUDE, 0, 10, NULL, 0,
                                      json_pack("{s:s}", "prefix", path)),
                     KS_OK);
    json_decref(d);
    policy_of(&p, &l);
    assert_int_equal(judge(&m, &p), KS_OK);
    l.n--;
    free(l.rules[l.n].data);
    l.rules[victim].digest[0] ^= 1;
    policy_of(&p, &l);

    /* Only the prefix that replays to the quoted PCR 10 is judged: the last
     * entry (appended after the quote) is unknown and ignored. */
    const struct ks_ima_entry *last = ks_ima_log_entry(log, ks_ima_log_count(log) - 1);
    size_t last_rule = l.n;
    for (size_t k = 0; k < l.n; k++) {
        json_t *dk = json_loads(l.rules[k].data, 0, NULL);
        if (strcmp(json_string_value(json_object_get(dk, "path")), last->path) == 0 &&
            memcmp(l.rules[k].digest, last->digest, last->digest_len) == 0) {
            last_rule = k;
        }
        json_decref(dk);
    }
    assert_true(last_rule < l.n);
    l.rules[last_rule].digest[0] ^= 1;
    assert_int_equal(judge(&m, &p), KS_ERR_POLICY_DENIED);
    machine_init(&m);
    m.ima_log = buf;
    m.ima_log_len = len;
    quote_ima(&m, log, ks_ima_log_count(log) - 1);
    assert_int_equal(judge(&m, &p), KS_OK);
    l.rules[last_rule].digest[0] ^= 1;

    /* No IMA log submitted: refused. */
    m.ima_log = NULL;
    struct ks_policy_input in = {&m.sel, &m.quoted, NULL, &m.quote, &m.ak};
    assert_int_equal(ks_policy_eval_input(&p, &in, m.reason, sizeof(m.reason)),
                     KS_ERR_POLICY_DENIED);
    assert_non_null(strstr(m.reason, "needs the IMA log"));
    ks_rule_list_clear(&l);
    ks_ima_log_free(log);
    free(buf);
}

/* An allow-list of Keylime's size (the learned files plus 150,000 others,
 * past the old 4096-rule cap), compiled once and judged many times as
 * keyserverd does (policy_compiled.h): granted each time, and a changed
 * digest of a measured file refused through the same compiled version. */
static void test_ima_large_allowlist(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = read_ima_binary(&len);
    struct ks_ima_log *log = NULL;
    struct ks_rule_list l = {0};
    struct ks_learn_stats st;
    struct ks_store_policy p;
    struct machine m;
    ks_learn_stats_init(&st);
    assert_int_equal(ks_ima_log_parse(buf, len, NULL, &log, NULL), KS_OK);
    assert_int_equal(ks_policy_learn_ima(log, &l, &st), KS_OK);
    const size_t learned = l.n, extra = 150000;
    uint8_t digest[32];
    for (size_t i = 0; i < extra; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/usr/lib/synthetic/%06zu.so", i);
        memset(digest, (int)(i & 0xff), sizeof(digest));
        memcpy(digest, &i, sizeof(i));
        assert_int_equal(ks_rule_list_add(&l, KS_RULE_IMA_FILE, 0, 10, digest, sizeof(digest),
                                          json_pack("{s:s,s:s}", "alg", "sha256", "path", path)),
                         KS_OK);
    }
    assert_int_equal(l.n, learned + extra);
    policy_of(&p, &l);
    struct ks_policy_compiled *cp = NULL;
    assert_int_equal(ks_policy_compile(&p, 7, &cp), KS_OK);
    assert_int_equal(cp->n_of[KS_RULE_IMA_FILE], l.n);
    assert_int_equal(cp->n_ima_files, l.n);
    for (size_t i = 1; i < cp->n_ima_files; i++) {
        assert_true(strcmp(cp->ima_files[i - 1]->text, cp->ima_files[i]->text) <= 0);
    }

    machine_init(&m);
    m.ima_log = buf;
    m.ima_log_len = len;
    quote_ima(&m, log, ks_ima_log_count(log));
    struct ks_evidence_logs el = {.ima_log = buf, .ima_log_len = len, .app_pcr = 15};
    struct ks_evidence *ev = NULL;
    char why[KS_EVIDENCE_REASON_MAX];
    assert_int_equal(ks_evidence_check(&el, &m.sel, &m.quoted, &ev, why, sizeof(why)), KS_OK);
    struct ks_policy_input in = {&m.sel, &m.quoted, ev, &m.quote, &m.ak};
    for (int round = 0; round < 50; round++) {
        assert_int_equal(ks_policy_eval_compiled(cp, &in, m.reason, sizeof(m.reason)), KS_OK);
    }
    /* A measured file's rule changed: the same compiled version refuses. */
    size_t victim = learned / 2;
    l.rules[victim].digest[0] ^= 1;
    assert_int_equal(ks_policy_eval_compiled(cp, &in, m.reason, sizeof(m.reason)),
                     KS_ERR_POLICY_DENIED);
    assert_non_null(strstr(m.reason, "digest not allowed"));
    l.rules[victim].digest[0] ^= 1;
    assert_int_equal(ks_policy_eval_compiled(cp, &in, m.reason, sizeof(m.reason)), KS_OK);
    /* Taken: the rules move into the compiled version and outlive the
     * list's array. */
    struct ks_policy_compiled *owned = NULL;
    struct ks_store_policy copy = p;
    assert_int_equal(ks_policy_compile_take(&copy, 8, &owned), KS_OK);
    assert_null(copy.rules);
    assert_int_equal(copy.n_rules, 0);
    l.rules = NULL; /* now owned by `owned` */
    l.n = 0;
    assert_int_equal(ks_policy_eval_compiled(owned, &in, m.reason, sizeof(m.reason)), KS_OK);
    ks_policy_compiled_unref(cp); /* its rules were borrowed: still alive in `owned` */
    ks_policy_compiled_ref(owned);
    ks_policy_compiled_unref(owned);
    ks_policy_compiled_unref(owned); /* the last reference frees the rules */
    ks_policy_compiled_unref(NULL);
    assert_int_equal(ks_policy_compile(NULL, 0, &cp), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_policy_eval_compiled(NULL, &in, m.reason, sizeof(m.reason)),
                     KS_ERR_INVALID_ARG);
    ks_evidence_free(ev);
    ks_rule_list_clear(&l);
    ks_ima_log_free(log);
    free(buf);
}

/* A log with one file digest changed (template hash recomputed, so the log
 * is consistent and replays to its PCR 10): refused by the allow-list; the
 * unchanged log against a PCR 10 it does not replay to: refused first by
 * the evidence check. */
static void test_ima_modified_log(void **state)
{
    (void)state;
    size_t len, blen;
    uint8_t *buf = read_ima_binary(&len);
    uint8_t *bin = NULL;
    struct ks_ima_log *log = NULL, *mlog = NULL;
    struct ks_rule_list l = {0};
    struct ks_learn_stats st;
    struct ks_store_policy p;
    struct machine m;
    ks_learn_stats_init(&st);
    assert_int_equal(ks_ima_log_parse(buf, len, NULL, &log, NULL), KS_OK);
    assert_int_equal(ks_policy_learn_ima(log, &l, &st), KS_OK);
    policy_of(&p, &l);
    assert_int_equal(ks_ima_log_to_binary(log, &bin, &blen), KS_OK);
    const struct ks_ima_entry *e = ks_ima_log_entry(log, 100);
    uint8_t *data = memmem(bin, blen, e->data, e->data_len);
    uint8_t *th = memmem(bin, blen, e->template_hash, 20);
    assert_non_null(data);
    assert_non_null(th);
    uint8_t *dig = memmem(data, e->data_len, e->digest, e->digest_len);
    assert_non_null(dig);
    dig[0] ^= 0xff;
    sha(KS_ALG_SHA1, data, e->data_len, th);
    struct ks_ima_parse_opts bo = {.format = KS_IMA_FORMAT_BINARY};
    assert_int_equal(ks_ima_log_parse(bin, blen, &bo, &mlog, NULL), KS_OK);
    assert_int_equal(ks_ima_log_bad_template_hashes(mlog), 0);
    machine_init(&m);
    m.ima_log = bin;
    m.ima_log_len = blen;
    quote_ima(&m, mlog, ks_ima_log_count(mlog));
    assert_int_equal(judge(&m, &p), KS_ERR_POLICY_DENIED);
    assert_non_null(strstr(m.reason, "IMA entry 100"));
    /* The genuine log, quoted PCR 10 of the modified one: no prefix replays. */
    struct ks_evidence_logs el = {.ima_log = buf, .ima_log_len = len, .app_pcr = 15};
    struct ks_evidence *ev = NULL;
    char why[KS_EVIDENCE_REASON_MAX];
    assert_int_equal(ks_evidence_check(&el, &m.sel, &m.quoted, &ev, why, sizeof(why)),
                     KS_ERR_ATTESTATION);
    assert_null(ev);
    assert_non_null(strstr(why, "does not replay"));
    ks_ima_log_free(mlog);
    ks_ima_log_free(log);
    ks_rule_list_clear(&l);
    free(bin);
    free(buf);
}

/* ks_evidence_check keeps what it parsed: the logs, the banks replayed and
 * the IMA prefix the quote covers. */
static void test_evidence_keeps_logs(void **state)
{
    (void)state;
    size_t len, ilen;
    uint8_t *buf = unit_read(logs[0], &len);
    uint8_t *ima = read_ima_binary(&ilen);
    struct ks_ima_log *log = NULL;
    struct machine m;
    assert_int_equal(ks_ima_log_parse(ima, ilen, NULL, &log, NULL), KS_OK);
    machine_init(&m);
    m.event_log = buf;
    m.event_log_len = len;
    quote_eventlog(&m, KS_ALG_SHA256, 0xff);
    quote_ima(&m, log, 500);
    struct ks_evidence_logs l = {
        .event_log = buf, .event_log_len = len, .ima_log = ima, .ima_log_len = ilen, .app_pcr = 15};
    struct ks_evidence *ev = NULL;
    char why[KS_EVIDENCE_REASON_MAX];
    assert_int_equal(ks_evidence_check(&l, &m.sel, &m.quoted, &ev, why, sizeof(why)), KS_OK);
    assert_non_null(ev->event_log);
    assert_null(ev->app_log);
    assert_int_equal(ev->app_pcr, 15);
    assert_true(ks_pcr_bank_enabled(&ev->event_pcrs, KS_ALG_SHA256));
    assert_int_equal(ks_ima_log_count(ev->ima_log), 826);
    assert_int_equal(ev->ima_count, 500);
    assert_int_equal(ev->ima_banks, (1u << ks_alg_bank_index(KS_ALG_SHA1)) |
                                        (1u << ks_alg_bank_index(KS_ALG_SHA256)));
    ks_evidence_free(ev);
    ks_evidence_free(NULL);
    assert_int_equal(ks_evidence_check(&l, &m.sel, &m.quoted, NULL, why, sizeof(why)),
                     KS_ERR_INVALID_ARG);
    ks_ima_log_free(log);
    free(ima);
    free(buf);
}

/* ---- application log ------------------------------------------------------ */

struct bld {
    uint8_t b[4096];
    size_t n;
};

static void put(struct bld *b, const void *d, size_t n)
{
    assert_true(b->n + n <= sizeof(b->b));
    memcpy(b->b + b->n, d, n);
    b->n += n;
}

static void put32(struct bld *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, x, 4);
}

static void put16(struct bld *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(b, x, 2);
}

/* PFP 10.4.5.1 Spec ID Event03 header with one sha256 bank. */
static void put_specid(struct bld *b)
{
    static const uint8_t sig[16] = "Spec ID Event03";
    uint8_t zero[20] = {0};
    put32(b, 0);
    put32(b, KS_EV_NO_ACTION);
    put(b, zero, 20);
    put32(b, 16 + 4 + 4 + 4 + 4 + 1);
    put(b, sig, 16);
    put32(b, 0);          /* platformClass */
    put32(b, 0x02020200); /* minor 0, major 2, errata 2, uintnSize 2 */
    put32(b, 1);
    put16(b, KS_ALG_SHA256);
    put16(b, 32);
    uint8_t vendor = 0;
    put(b, &vendor, 1);
}

/* tag || SHA-256 measured (`seed` bytes); extends *pcr15. */
static void put_tag(struct bld *b, const char *tag, uint8_t seed, uint8_t pcr15[32])
{
    uint8_t data[96], digest[32], cat[64];
    size_t tlen = strlen(tag);
    memcpy(data, tag, tlen);
    memset(data + tlen, seed, 32);
    sha(KS_ALG_SHA256, data, tlen + 32, digest);
    put32(b, 15);
    put32(b, KS_EV_EVENT_TAG);
    put32(b, 1);
    put16(b, KS_ALG_SHA256);
    put(b, digest, 32);
    put32(b, (uint32_t)(tlen + 32));
    put(b, data, tlen + 32);
    memcpy(cat, pcr15, 32);
    memcpy(cat + 32, digest, 32);
    sha(KS_ALG_SHA256, cat, 64, pcr15);
}

static void app_machine(struct machine *m, struct bld *b, uint8_t exe, uint8_t cfg, bool key)
{
    uint8_t pcr15[32] = {0};
    b->n = 0;
    put_specid(b);
    put_tag(b, "ks-loader-exe", exe, pcr15);
    put_tag(b, "ks-loader-config", cfg, pcr15);
    if (key) {
        put_tag(b, "ks-ci-key", 3, pcr15);
    }
    machine_init(m);
    m->app_log = b->b;
    m->app_log_len = b->n;
    sel_add(&m->sel, KS_ALG_SHA256, 1u << 15);
    assert_int_equal(ks_pcr_set_put(&m->quoted, KS_ALG_SHA256, 15, pcr15, 32), KS_OK);
}

static void test_app_log(void **state)
{
    (void)state;
    struct bld b;
    struct machine m;
    struct ks_eventlog *log = NULL;
    struct ks_rule_list l = {0};
    struct ks_learn_stats st;
    struct ks_store_policy p;
    ks_learn_stats_init(&st);
    app_machine(&m, &b, 1, 2, true);
    assert_int_equal(ks_eventlog_parse(b.b, b.n, &log, NULL), KS_OK);
    assert_int_equal(ks_policy_learn_app(log, KS_ALG_SHA256, 15, &l, &st), KS_OK);
    ks_eventlog_free(log);
    assert_int_equal(st.app_digests, 3);
    policy_of(&p, &l);
    assert_int_equal(judge(&m, &p), KS_OK);
    /* another loader binary */
    app_machine(&m, &b, 9, 2, true);
    assert_int_equal(judge(&m, &p), KS_ERR_POLICY_DENIED);
    assert_non_null(strstr(m.reason, "ks-loader-exe digest not allowed"));
    /* another config */
    app_machine(&m, &b, 1, 9, true);
    assert_int_equal(judge(&m, &p), KS_ERR_POLICY_DENIED);
    assert_non_null(strstr(m.reason, "ks-loader-config"));
    /* no CI key event */
    app_machine(&m, &b, 1, 2, false);
    assert_int_equal(judge(&m, &p), KS_ERR_POLICY_DENIED);
    assert_non_null(strstr(m.reason, "has no ks-ci-key event"));
    /* a second allowed loader digest (any-of) */
    app_machine(&m, &b, 9, 2, true);
    uint8_t d9[32];
    uint8_t nine[32];
    memset(nine, 9, 32);
    memcpy(d9, nine, 32);
    assert_int_equal(ks_rule_list_add(&l, KS_RULE_APP_DIGEST, KS_ALG_SHA256, 15, d9, 32,
                                      json_pack("{s:s}", "tag", "ks-loader-exe")),
                     KS_OK);
    policy_of(&p, &l);
    assert_int_equal(judge(&m, &p), KS_OK);
    /* without the application log */
    m.app_log = NULL;
    struct ks_policy_input in = {&m.sel, &m.quoted, NULL, &m.quote, &m.ak};
    assert_int_equal(ks_policy_eval_input(&p, &in, m.reason, sizeof(m.reason)),
                     KS_ERR_POLICY_DENIED);
    assert_non_null(strstr(m.reason, "needs the application log"));
    ks_rule_list_clear(&l);
}

/* ---- TPM checks ------------------------------------------------------------ */

static int tpm_judge(enum ks_rule_kind kind, json_t *data, struct machine *m)
{
    struct ks_rule_list l = {0};
    struct ks_store_policy p;
    assert_int_equal(ks_rule_list_add(&l, kind, 0, KS_RULE_NO_PCR, NULL, 0, data), KS_OK);
    policy_of(&p, &l);
    struct ks_policy_input in = {&m->sel, &m->quoted, NULL, &m->quote, &m->ak};
    int r = ks_policy_eval_input(&p, &in, m->reason, sizeof(m->reason));
    ks_rule_list_clear(&l);
    return r;
}

static void test_tpm_rules(void **state)
{
    (void)state;
    struct machine m;
    machine_init(&m);
    m.quote.safe = true;
    assert_int_equal(tpm_judge(KS_RULE_TPM_SAFE, NULL, &m), KS_OK);
    m.quote.safe = false;
    assert_int_equal(tpm_judge(KS_RULE_TPM_SAFE, NULL, &m), KS_ERR_POLICY_DENIED);
    assert_non_null(strstr(m.reason, "rule tpm_safe"));

    m.quote.firmware_version = 0x0002000100000000ull;
    assert_int_equal(
        tpm_judge(KS_RULE_TPM_FIRMWARE, json_pack("{s:s}", "min", "0x0002000100000000"), &m),
        KS_OK);
    assert_int_equal(
        tpm_judge(KS_RULE_TPM_FIRMWARE, json_pack("{s:s}", "min", "0x0002000100000001"), &m),
        KS_ERR_POLICY_DENIED);
    assert_non_null(strstr(m.reason, "rule tpm_firmware"));
    /* malformed data refuses */
    assert_int_equal(tpm_judge(KS_RULE_TPM_FIRMWARE, json_pack("{s:s}", "min", "12"), &m),
                     KS_ERR_POLICY_DENIED);
    assert_non_null(strstr(m.reason, "malformed"));

    /* Clock: (resetCount, restartCount, clock) may not go back. */
    m.ak.has_clock = false;
    m.quote.clock = 5;
    assert_int_equal(tpm_judge(KS_RULE_TPM_CLOCK, NULL, &m), KS_OK);
    m.ak.has_clock = true;
    m.ak.last_reset_count = 3;
    m.ak.last_restart_count = 1;
    m.ak.last_clock = 1000;
    m.quote.reset_count = 3;
    m.quote.restart_count = 1;
    m.quote.clock = 999;
    assert_int_equal(tpm_judge(KS_RULE_TPM_CLOCK, NULL, &m), KS_ERR_POLICY_DENIED);
    assert_non_null(strstr(m.reason, "rule tpm_clock"));
    m.quote.clock = 1000;
    assert_int_equal(tpm_judge(KS_RULE_TPM_CLOCK, NULL, &m), KS_OK);
    m.quote.restart_count = 2; /* TPM Restart: clock may be lower */
    m.quote.clock = 10;
    assert_int_equal(tpm_judge(KS_RULE_TPM_CLOCK, NULL, &m), KS_OK);
    m.quote.restart_count = 0;
    m.quote.clock = 5000;
    assert_int_equal(tpm_judge(KS_RULE_TPM_CLOCK, NULL, &m), KS_ERR_POLICY_DENIED);
    m.quote.reset_count = 4; /* TPM Reset: restartCount starts again */
    assert_int_equal(tpm_judge(KS_RULE_TPM_CLOCK, NULL, &m), KS_OK);
    m.quote.reset_count = 2;
    assert_int_equal(tpm_judge(KS_RULE_TPM_CLOCK, NULL, &m), KS_ERR_POLICY_DENIED);
    /* no quote information at all */
    struct ks_rule_list l = {0};
    struct ks_store_policy p;
    assert_int_equal(ks_rule_list_add(&l, KS_RULE_TPM_SAFE, 0, KS_RULE_NO_PCR, NULL, 0, NULL),
                     KS_OK);
    policy_of(&p, &l);
    char reason[KS_POLICY_REASON_MAX];
    assert_int_equal(ks_policy_eval(&p, &m.sel, &m.quoted, reason, sizeof(reason)),
                     KS_ERR_POLICY_DENIED);
    assert_non_null(strstr(reason, "no verified quote"));
    assert_true(ks_policy_has_kind(&p, KS_RULE_TPM_SAFE));
    assert_false(ks_policy_has_kind(&p, KS_RULE_TPM_CLOCK));
    ks_rule_list_clear(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_learned_accepts_each_log),
        cmocka_unit_test(test_changed_digest_refused),
        cmocka_unit_test(test_removed_event_refused),
        cmocka_unit_test(test_secureboot_off_refused),
        cmocka_unit_test(test_quote_selection_and_bank),
        cmocka_unit_test(test_cmdline_forbidden),
        cmocka_unit_test(test_separator_and_forbidden),
        cmocka_unit_test(test_event_unordered),
        cmocka_unit_test(test_ima_allowlist),
        cmocka_unit_test(test_ima_large_allowlist),
        cmocka_unit_test(test_ima_modified_log),
        cmocka_unit_test(test_evidence_keeps_logs),
        cmocka_unit_test(test_app_log),
        cmocka_unit_test(test_tpm_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
