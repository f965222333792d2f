/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "test_store_util.h"

#include "keyserverd/policy_compiled.h"
#include "keyserverd/release_policies.h"
#include "pcr.h"

/*
 * Step 4 of the release decision (keyserverd/release_policies.c) over a
 * real database: the first snapshot reads and compiles the key's policy
 * version, the next takes it from the cache; a newly activated version is
 * read again (not served stale); wrong PCR values, retired keys and a
 * missing compiled version refuse; tpm_clock rules are reported.
 */

static const uint8_t pub_blob[] = {0x00, 0x04, 0xde, 0xad, 0xbe, 0xef};

struct quoted {
    TPML_PCR_SELECTION sel;
    struct ks_pcr_set pcrs;
    struct ks_quote_info info;
};

/* A quote of sha256 PCR 7 with every byte `fill`. */
static void quote_pcr7(struct quoted *q, uint8_t fill)
{
    uint8_t v[32];
    memset(q, 0, sizeof(*q));
    memset(v, fill, sizeof(v));
    q->sel.count = 1;
    q->sel.pcrSelections[0].hash = KS_ALG_SHA256;
    q->sel.pcrSelections[0].sizeofSelect = 3;
    q->sel.pcrSelections[0].pcrSelect[0] = 0x80;
    ks_pcr_set_init(&q->pcrs);
    assert_int_equal(ks_pcr_set_put(&q->pcrs, KS_ALG_SHA256, 7, v, 32), KS_OK);
    q->info.safe = true;
}

/* Snapshot, compile, check: as release_decide.c does. */
static int judge(struct fx *f, struct ks_release_policies *p, const char *const *refs, size_t n,
                 uint8_t fill, bool *clock_rule, char *reason, size_t len)
{
    struct ks_store_snapshot *snap = NULL;
    struct quoted q;
    quote_pcr7(&q, fill);
    assert_int_equal(
        ks_store_release_snapshot_ex(f->s, AK1, refs, n, ks_release_policies_held, p, &snap),
        KS_OK);
    int r = ks_release_policies_compile(p, snap);
    if (r == KS_OK) {
        struct ks_policy_input in = {.sel = &q.sel, .quoted = &q.pcrs, .quote = &q.info};
        r = ks_release_policies_check(p, snap, refs, in, clock_rule, reason, len);
    }
    ks_store_snapshot_free(snap);
    return r;
}

static void add_key(struct fx *f, const char *name, const char *policy)
{
    uint8_t m[32] = {7};
    struct ks_store_key_params k = {
        .name = name, .kind = KS_KEY_DEK, .policy = policy, .material = m, .material_len = 32};
    assert_int_equal(ks_store_key_create(f->s, f->mk, ACTOR, &k), KS_OK);
}

static void test_cache_and_activation(void **state)
{
    struct fx *f = *state;
    struct ks_policy_cache *cache = NULL;
    struct ks_policy_cache_stats st;
    char reason[256];
    bool clock = false;
    assert_int_equal(ks_policy_cache_new(8, 1000, &cache), KS_OK);
    fx_policy(f, "p", 0x11); /* PCR 7 = 11..11 allowed */
    add_key(f, "k", "p");
    assert_int_equal(ks_store_ak_add(f->s, ACTOR, AK1, pub_blob, sizeof(pub_blob), NULL), KS_OK);
    const char *refs[] = {"k"};

    struct ks_release_policies p = {.cache = cache};
    assert_int_equal(judge(f, &p, refs, 1, 0x11, &clock, reason, sizeof(reason)), KS_OK);
    assert_false(clock);
    ks_release_policies_clear(&p);
    ks_policy_cache_stats(cache, &st);
    assert_int_equal(st.misses, 1);
    assert_int_equal(st.versions, 1);
    /* The second request: from the cache; a wrong value still refuses. */
    assert_int_equal(judge(f, &p, refs, 1, 0x11, &clock, reason, sizeof(reason)), KS_OK);
    ks_release_policies_clear(&p);
    assert_int_equal(judge(f, &p, refs, 1, 0x22, &clock, reason, sizeof(reason)),
                     KS_ERR_POLICY_DENIED);
    assert_non_null(strstr(reason, "key k: PCR sha256:7 value not allowed"));
    ks_release_policies_clear(&p);
    ks_policy_cache_stats(cache, &st);
    assert_int_equal(st.hits, 2);
    assert_int_equal(st.misses, 1);

    /* Version 2 allows 22..22 only and adds tpm_clock: the next request
     * is judged by it at once. */
    uint8_t d11[32], d22[32];
    memset(d11, 0x11, 32);
    memset(d22, 0x22, 32);
    assert_int_equal(ks_store_policy_add_pcr(f->s, ACTOR, "p", KS_ALG_SHA256, 7, d22, 32, NULL),
                     KS_OK);
    assert_int_equal(ks_store_policy_remove_pcr(f->s, ACTOR, "p", KS_ALG_SHA256, 7, d11, 32),
                     KS_OK);
    struct ks_store_rule clock_rule;
    memset(&clock_rule, 0, sizeof(clock_rule));
    clock_rule.kind = KS_RULE_TPM_CLOCK;
    clock_rule.pcr = KS_RULE_NO_PCR;
    assert_int_equal(ks_store_policy_add_rule(f->s, ACTOR, "p", &clock_rule, NULL), KS_OK);
    assert_int_equal(ks_store_policy_activate(f->s, ACTOR, "p", KS_STORE_VERSION_DRAFT, NULL),
                     KS_OK);
    assert_int_equal(judge(f, &p, refs, 1, 0x11, &clock, reason, sizeof(reason)),
                     KS_ERR_POLICY_DENIED);
    ks_release_policies_clear(&p);
    clock = false;
    assert_int_equal(judge(f, &p, refs, 1, 0x22, &clock, reason, sizeof(reason)), KS_OK);
    assert_true(clock);
    ks_release_policies_clear(&p);
    ks_policy_cache_stats(cache, &st);
    assert_int_equal(st.misses, 2);
    assert_int_equal(st.versions, 2);

    /* Without a cache: compiled per request, the same answers. */
    struct ks_release_policies none = {.cache = NULL};
    assert_int_equal(judge(f, &none, refs, 1, 0x22, &clock, reason, sizeof(reason)), KS_OK);
    ks_release_policies_clear(&none);
    ks_policy_cache_free(cache);
}

static void test_refusals(void **state)
{
    struct fx *f = *state;
    char reason[256];
    bool clock = false;
    fx_policy(f, "p", 0x11);
    add_key(f, "k", "p");
    assert_int_equal(ks_store_policy_create(f->s, ACTOR, "empty"), KS_OK);
    add_key(f, "e", "empty"); /* a policy that was never activated */
    assert_int_equal(ks_store_ak_add(f->s, ACTOR, AK1, pub_blob, sizeof(pub_blob), NULL), KS_OK);
    struct ks_release_policies p = {0};

    /* All keys or none: the second key's policy has no active version. */
    const char *both[] = {"k", "e"};
    assert_int_equal(judge(f, &p, both, 2, 0x11, &clock, reason, sizeof(reason)),
                     KS_ERR_POLICY_DENIED);
    assert_non_null(strstr(reason, "key e: policy 'empty' has no active rules"));
    ks_release_policies_clear(&p);

    /* The snapshot says the rules are held but nothing compiled is there:
     * refused as an internal error, never judged by an empty policy. */
    const char *refs[] = {"k"};
    struct ks_store_snapshot *snap = NULL;
    assert_int_equal(ks_store_release_snapshot(f->s, AK1, refs, 1, &snap), KS_OK);
    snap->keys[0].rules_held = true;
    struct quoted q;
    quote_pcr7(&q, 0x11);
    struct ks_policy_input in = {.sel = &q.sel, .quoted = &q.pcrs, .quote = &q.info};
    assert_int_equal(ks_release_policies_check(&p, snap, refs, in, &clock, reason, sizeof(reason)),
                     KS_ERR_INTERNAL);
    assert_non_null(strstr(reason, "not compiled"));
    /* ... or when the compiled version is another one. */
    assert_int_equal(ks_release_policies_compile(&p, snap), KS_OK); /* held: not compiled */
    assert_null(p.compiled[0]);
    struct ks_store_policy other;
    memset(&other, 0, sizeof(other));
    other.version = 1;
    assert_int_equal(ks_policy_compile(&other, snap->keys[0].policy.pv_id + 1, &p.compiled[0]),
                     KS_OK);
    assert_int_equal(ks_release_policies_check(&p, snap, refs, in, &clock, reason, sizeof(reason)),
                     KS_ERR_INTERNAL);
    ks_release_policies_clear(&p);

    /* A retired key version. */
    snap->keys[0].rules_held = false;
    snap->keys[0].state = KS_KEY_VERSION_RETIRED;
    assert_int_equal(ks_release_policies_compile(&p, snap), KS_OK);
    assert_int_equal(ks_release_policies_check(&p, snap, refs, in, &clock, reason, sizeof(reason)),
                     KS_ERR_POLICY_DENIED);
    assert_non_null(strstr(reason, "key k is retired"));
    ks_release_policies_clear(&p);
    ks_store_snapshot_free(snap);

    /* Arguments; a snapshot of no key is not a grant of nothing. */
    struct ks_store_snapshot *none = NULL;
    assert_int_equal(ks_store_release_snapshot(f->s, AK1, NULL, 0, &none), KS_OK);
    assert_int_equal(ks_release_policies_check(&p, none, refs, in, &clock, reason, sizeof(reason)),
                     KS_ERR_INVALID_ARG);
    ks_store_snapshot_free(none);
    assert_int_equal(ks_release_policies_compile(NULL, NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_release_policies_check(&p, NULL, refs, in, &clock, reason, sizeof(reason)),
                     KS_ERR_INVALID_ARG);
    assert_false(ks_release_policies_held(NULL, 0, 1, 1));
    assert_false(ks_release_policies_held(&p, KS_RELEASE_MAX_KEYS, 1, 1));
    ks_release_policies_clear(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cache_and_activation, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_refusals, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
