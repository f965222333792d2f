/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include "keyserverd/policy_eval.h"
#include "tpm_alg.h"

/*
 * ks_policy_eval (keyserverd/policy_eval.h): a policy version with its rules
 * against the quoted PCR values (DESIGN "Data model": PCR allow-lists, any-of
 * per index, all indexes required; a policy with no rules refuses all).
 */

#define MAX_RULES 16

struct fixture {
    struct ks_store_policy policy;
    struct ks_store_rule rules[MAX_RULES];
    TPML_PCR_SELECTION sel;
    struct ks_pcr_set quoted;
    char reason[KS_POLICY_REASON_MAX];
};

static void fx_init(struct fixture *f, uint32_t version)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->policy.name, sizeof(f->policy.name), "boot");
    f->policy.version = version;
    f->policy.state = KS_POLICY_ACTIVE;
    f->policy.rules = f->rules;
    ks_pcr_set_init(&f->quoted);
}

static void fill(uint8_t *d, size_t n, uint8_t v)
{
    memset(d, v, n);
}

/* Allow `v` repeated as the value of bank:pcr. */
static void add_rule(struct fixture *f, uint16_t bank, unsigned pcr, uint8_t v)
{
    assert_true(f->policy.n_rules < MAX_RULES);
    struct ks_store_rule *r = &f->rules[f->policy.n_rules++];
    r->id = (int64_t)f->policy.n_rules;
    r->kind = KS_RULE_PCR;
    snprintf(r->kind_name, sizeof(r->kind_name), "pcr");
    r->bank = bank;
    r->pcr = (uint8_t)pcr;
    r->digest_len = (uint8_t)ks_alg_digest_size(bank);
    fill(r->digest, r->digest_len, v);
}

/* Select bank:pcr in the quote and give it the value `v` repeated. */
static void quote_pcr(struct fixture *f, uint16_t bank, unsigned pcr, uint8_t v)
{
    TPMS_PCR_SELECTION *s = NULL;
    for (uint32_t i = 0; i < f->sel.count; i++) {
        if (f->sel.pcrSelections[i].hash == bank) {
            s = &f->sel.pcrSelections[i];
        }
    }
    if (!s) {
        assert_true(f->sel.count < TPM2_NUM_PCR_BANKS);
        s = &f->sel.pcrSelections[f->sel.count++];
        s->hash = bank;
        s->sizeofSelect = 3;
    }
    s->pcrSelect[pcr / 8] |= (uint8_t)(1u << (pcr % 8));
    uint8_t d[KS_MAX_DIGEST];
    fill(d, sizeof(d), v);
    assert_int_equal(ks_pcr_set_put(&f->quoted, bank, pcr, d, ks_alg_digest_size(bank)), KS_OK);
}

static int eval(struct fixture *f)
{
    memset(f->reason, 'X', sizeof(f->reason));
    return ks_policy_eval(&f->policy, &f->sel, &f->quoted, f->reason, sizeof(f->reason));
}

static void test_empty_policy_refuses(void **state)
{
    (void)state;
    struct fixture f;
    /* An active version without rules. */
    fx_init(&f, 1);
    quote_pcr(&f, KS_ALG_SHA256, 0, 0);
    assert_int_equal(eval(&f), KS_ERR_POLICY_DENIED);
    assert_string_equal(f.reason, "policy 'boot' has no active rules");
    /* No active version at all (version 0), even with rules that would allow. */
    fx_init(&f, 0);
    add_rule(&f, KS_ALG_SHA256, 0, 0);
    quote_pcr(&f, KS_ALG_SHA256, 0, 0);
    assert_int_equal(eval(&f), KS_ERR_POLICY_DENIED);
    assert_string_equal(f.reason, "policy 'boot' has no active rules");
    /* Control: version 1 with that rule allows. */
    f.policy.version = 1;
    assert_int_equal(eval(&f), KS_OK);
    assert_string_equal(f.reason, "");
}

static void test_unknown_kind_refuses(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, 3);
    add_rule(&f, KS_ALG_SHA256, 0, 0xaa);
    quote_pcr(&f, KS_ALG_SHA256, 0, 0xaa);
    assert_int_equal(eval(&f), KS_OK);
    /* A rule of a kind a newer ksctl wrote: whatever else allows, refuse. */
    struct ks_store_rule *r = &f.rules[f.policy.n_rules++];
    r->kind = KS_RULE_UNKNOWN;
    snprintf(r->kind_name, sizeof(r->kind_name), "ima_allowlist");
    assert_int_equal(eval(&f), KS_ERR_POLICY_DENIED);
    assert_string_equal(f.reason, "rule kind 'ima_allowlist' not supported by this keyserver");
    /* Also when it comes first. */
    struct ks_store_rule tmp = f.rules[0];
    f.rules[0] = f.rules[1];
    f.rules[1] = tmp;
    assert_int_equal(eval(&f), KS_ERR_POLICY_DENIED);
    assert_non_null(strstr(f.reason, "ima_allowlist"));
}

static void test_pcr_not_selected_refuses(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, 1);
    add_rule(&f, KS_ALG_SHA256, 0, 0x11);
    add_rule(&f, KS_ALG_SHA256, 7, 0x77);
    quote_pcr(&f, KS_ALG_SHA256, 0, 0x11);
    quote_pcr(&f, KS_ALG_SHA256, 1, 0x77);
    assert_int_equal(eval(&f), KS_ERR_POLICY_DENIED);
    assert_string_equal(f.reason, "quote does not select PCR sha256:7 named by the policy");
    /* The value alone does not count: it must be selected by the quote. */
    uint8_t d[32];
    fill(d, sizeof(d), 0x77);
    assert_int_equal(ks_pcr_set_put(&f.quoted, KS_ALG_SHA256, 7, d, 32), KS_OK);
    assert_int_equal(eval(&f), KS_ERR_POLICY_DENIED);
    assert_non_null(strstr(f.reason, "sha256:7"));
    /* Selected: allowed. */
    quote_pcr(&f, KS_ALG_SHA256, 7, 0x77);
    assert_int_equal(eval(&f), KS_OK);
}

static void test_selected_without_value_refuses(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, 1);
    add_rule(&f, KS_ALG_SHA256, 4, 0x44);
    quote_pcr(&f, KS_ALG_SHA256, 0, 0x00);
    f.sel.pcrSelections[0].pcrSelect[0] |= 1u << 4; /* selected, no value */
    assert_int_equal(eval(&f), KS_ERR_POLICY_DENIED);
    assert_string_equal(f.reason, "no quoted value for PCR sha256:4");
}

static void test_any_of_per_pcr(void **state)
{
    (void)state;
    struct fixture f;
    for (uint8_t v = 1; v <= 3; v++) {
        fx_init(&f, 2);
        add_rule(&f, KS_ALG_SHA256, 0, 0x01);
        add_rule(&f, KS_ALG_SHA256, 0, 0x02);
        add_rule(&f, KS_ALG_SHA256, 0, 0x03);
        quote_pcr(&f, KS_ALG_SHA256, 0, v);
        assert_int_equal(eval(&f), KS_OK);
    }
    fx_init(&f, 2);
    add_rule(&f, KS_ALG_SHA256, 0, 0x01);
    add_rule(&f, KS_ALG_SHA256, 0, 0x02);
    quote_pcr(&f, KS_ALG_SHA256, 0, 0x04);
    assert_int_equal(eval(&f), KS_ERR_POLICY_DENIED);
    assert_string_equal(f.reason, "PCR sha256:0 value not allowed by the policy");
    /* One byte off is not allowed either. */
    fx_init(&f, 2);
    add_rule(&f, KS_ALG_SHA256, 0, 0x01);
    quote_pcr(&f, KS_ALG_SHA256, 0, 0x01);
    f.quoted.bank[ks_alg_bank_index(KS_ALG_SHA256)].value[0][31] ^= 1;
    assert_int_equal(eval(&f), KS_ERR_POLICY_DENIED);
}

static void test_all_pcrs_required(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, 1);
    add_rule(&f, KS_ALG_SHA256, 0, 0x10);
    add_rule(&f, KS_ALG_SHA256, 7, 0x70);
    add_rule(&f, KS_ALG_SHA256, 7, 0x71);
    add_rule(&f, KS_ALG_SHA256, 14, 0xe0);
    quote_pcr(&f, KS_ALG_SHA256, 0, 0x10);
    quote_pcr(&f, KS_ALG_SHA256, 7, 0x71);
    quote_pcr(&f, KS_ALG_SHA256, 14, 0xe0);
    quote_pcr(&f, KS_ALG_SHA256, 9, 0x99); /* selected, not named: ignored */
    assert_int_equal(eval(&f), KS_OK);
    /* Each PCR in turn not allowed: refused, naming that PCR. */
    static const unsigned pcrs[] = {0, 7, 14};
    for (size_t i = 0; i < 3; i++) {
        struct fixture g = f;
        g.policy.rules = g.rules;
        quote_pcr(&g, KS_ALG_SHA256, pcrs[i], 0x55);
        assert_int_equal(eval(&g), KS_ERR_POLICY_DENIED);
        char want[64];
        snprintf(want, sizeof(want), "PCR sha256:%u value not allowed by the policy", pcrs[i]);
        assert_string_equal(g.reason, want);
    }
}

static void test_bank_separation(void **state)
{
    (void)state;
    struct fixture f;
    /* Allowed in sha1 only; the quote selects both banks, sha256 holds the
     * same leading bytes: a sha1 rule says nothing about sha256. */
    fx_init(&f, 1);
    add_rule(&f, KS_ALG_SHA1, 0, 0x5a);
    quote_pcr(&f, KS_ALG_SHA256, 0, 0x5a);
    assert_int_equal(eval(&f), KS_ERR_POLICY_DENIED);
    assert_string_equal(f.reason, "quote does not select PCR sha1:0 named by the policy");
    quote_pcr(&f, KS_ALG_SHA1, 0, 0x5a);
    assert_int_equal(eval(&f), KS_OK);

    /* Rules in both banks: both must hold. */
    add_rule(&f, KS_ALG_SHA256, 0, 0x6b);
    assert_int_equal(eval(&f), KS_ERR_POLICY_DENIED);
    assert_string_equal(f.reason, "PCR sha256:0 value not allowed by the policy");
    quote_pcr(&f, KS_ALG_SHA256, 0, 0x6b); /* replaces the value */
    assert_int_equal(eval(&f), KS_OK);
    /* Now the sha1 value wrong: refused naming sha1:0. */
    uint8_t w[20];
    fill(w, sizeof(w), 0x6b);
    assert_int_equal(ks_pcr_set_put(&f.quoted, KS_ALG_SHA1, 0, w, 20), KS_OK);
    assert_int_equal(eval(&f), KS_ERR_POLICY_DENIED);
    assert_string_equal(f.reason, "PCR sha1:0 value not allowed by the policy");

    /* A sha256 rule whose digest starts with the quoted sha1 value does
     * not allow it, nor does a rule of the right bank but a wrong length. */
    fx_init(&f, 1);
    add_rule(&f, KS_ALG_SHA256, 3, 0x33);
    quote_pcr(&f, KS_ALG_SHA1, 3, 0x33);
    assert_int_equal(eval(&f), KS_ERR_POLICY_DENIED);
    assert_non_null(strstr(f.reason, "sha256:3"));
    fx_init(&f, 1);
    add_rule(&f, KS_ALG_SHA256, 3, 0x33);
    f.rules[0].digest_len = 20;
    quote_pcr(&f, KS_ALG_SHA256, 3, 0x33);
    assert_int_equal(eval(&f), KS_ERR_POLICY_DENIED);
    assert_string_equal(f.reason, "PCR sha256:3 value not allowed by the policy");

    /* sha384 and sha512 are banks of their own too. */
    fx_init(&f, 1);
    add_rule(&f, KS_ALG_SHA384, 23, 0x38);
    add_rule(&f, KS_ALG_SHA512, 23, 0x51);
    quote_pcr(&f, KS_ALG_SHA384, 23, 0x38);
    quote_pcr(&f, KS_ALG_SHA512, 23, 0x38);
    assert_int_equal(eval(&f), KS_ERR_POLICY_DENIED);
    assert_string_equal(f.reason, "PCR sha512:23 value not allowed by the policy");
    quote_pcr(&f, KS_ALG_SHA512, 23, 0x51);
    assert_int_equal(eval(&f), KS_OK);
}

static void test_invalid_rule_refuses(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, 1);
    add_rule(&f, KS_ALG_SHA256, 0, 0);
    quote_pcr(&f, KS_ALG_SHA256, 0, 0);
    f.rules[0].pcr = 24;
    assert_int_equal(eval(&f), KS_ERR_POLICY_DENIED);
    assert_string_equal(f.reason, "rule names invalid PCR sha256:24");
    f.rules[0].pcr = 0;
    f.rules[0].bank = 0x0012; /* TPM_ALG_SM3_256: no bank here */
    assert_int_equal(eval(&f), KS_ERR_POLICY_DENIED);
    assert_string_equal(f.reason, "rule names invalid PCR ?:0");
}

static void test_reason_buffer(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, 1);
    add_rule(&f, KS_ALG_SHA256, 12, 0x01);
    quote_pcr(&f, KS_ALG_SHA256, 12, 0x02);
    /* No reason buffer: still refused. */
    assert_int_equal(ks_policy_eval(&f.policy, &f.sel, &f.quoted, NULL, 0), KS_ERR_POLICY_DENIED);
    /* A short buffer is cut and terminated within its size. */
    char small[9];
    memset(small, 'X', sizeof(small));
    assert_int_equal(ks_policy_eval(&f.policy, &f.sel, &f.quoted, small, sizeof(small)),
                     KS_ERR_POLICY_DENIED);
    assert_string_equal(small, "PCR sha2");
    /* A grant clears a stale reason. */
    quote_pcr(&f, KS_ALG_SHA256, 12, 0x01);
    memset(small, 'X', sizeof(small));
    assert_int_equal(ks_policy_eval(&f.policy, &f.sel, &f.quoted, small, sizeof(small)), KS_OK);
    assert_string_equal(small, "");
    /* The longest reason (a 64-character policy name) fits. */
    fx_init(&f, 1);
    memset(f.policy.name, 'p', KS_STORE_NAME_MAX);
    f.policy.name[KS_STORE_NAME_MAX] = '\0';
    assert_int_equal(eval(&f), KS_ERR_POLICY_DENIED);
    assert_true(strlen(f.reason) < sizeof(f.reason));
    assert_non_null(strstr(f.reason, "has no active rules"));
}

static void test_invalid_args(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, 1);
    add_rule(&f, KS_ALG_SHA256, 0, 0);
    quote_pcr(&f, KS_ALG_SHA256, 0, 0);
    char reason[8] = "stale";
    assert_int_equal(ks_policy_eval(NULL, &f.sel, &f.quoted, reason, sizeof(reason)),
                     KS_ERR_INVALID_ARG);
    assert_string_equal(reason, "");
    assert_int_equal(ks_policy_eval(&f.policy, NULL, &f.quoted, reason, sizeof(reason)),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_policy_eval(&f.policy, &f.sel, NULL, reason, sizeof(reason)),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_policy_eval(&f.policy, &f.sel, &f.quoted, reason, sizeof(reason)), KS_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_policy_refuses),
        cmocka_unit_test(test_unknown_kind_refuses),
        cmocka_unit_test(test_pcr_not_selected_refuses),
        cmocka_unit_test(test_selected_without_value_refuses),
        cmocka_unit_test(test_any_of_per_pcr),
        cmocka_unit_test(test_all_pcrs_required),
        cmocka_unit_test(test_bank_separation),
        cmocka_unit_test(test_invalid_rule_refuses),
        cmocka_unit_test(test_reason_buffer),
        cmocka_unit_test(test_invalid_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
