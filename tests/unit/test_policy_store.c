/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "test_store_util.h"

#include "db/store_internal.h"
#include "keyserverd/policy_learn.h"
#include "keyserverd/policy_rules.h"

/*
 * Rules of every kind in the store (migration 4, db/store_rules.c) and their
 * JSON form (keyserverd/policy_rules.c): add / remove / replace a draft,
 * history, the release audit row folded with the AK clock record, the
 * migration of an older database, and the export/import codec.
 */

static void rule_init(struct ks_store_rule *r, enum ks_rule_kind kind)
{
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->pcr = KS_RULE_NO_PCR;
}

static void event_rule(struct ks_store_rule *r, unsigned pcr, uint8_t fill, char *data)
{
    rule_init(r, KS_RULE_EVENT);
    r->bank = KS_ALG_SHA256;
    r->pcr = (uint8_t)pcr;
    r->digest_len = 32;
    memset(r->digest, fill, 32);
    r->data = data;
}

static void test_add_remove_and_shapes(void **state)
{
    struct fx *f = *state;
    struct ks_store_rule r;
    uint32_t v = 0;
    assert_int_equal(ks_store_policy_create(f->s, ACTOR, "p"), KS_OK);
    /* Same digest twice in one PCR at two positions: two rules. */
    char d0[] = "{\"seq\":0,\"type\":\"EV_EFI_ACTION\"}";
    char d1[] = "{\"seq\":1,\"type\":\"EV_EFI_ACTION\"}";
    char d2[] = "{\"seq\":0,\"type\":\"EV_IPL\"}";
    char arr[] = "[1]";
    char file[] = "{\"alg\":\"sha256\",\"path\":\"/bin/sh\"}";
    event_rule(&r, 4, 0xaa, d0);
    assert_int_equal(ks_store_policy_add_rule(f->s, ACTOR, "p", &r, &v), KS_OK);
    assert_int_equal(v, 1);
    event_rule(&r, 4, 0xaa, d1);
    assert_int_equal(ks_store_policy_add_rule(f->s, ACTOR, "p", &r, &v), KS_OK);
    assert_int_equal(ks_store_policy_add_rule(f->s, ACTOR, "p", &r, &v), KS_ERR_STORE_EXISTS);
    /* Rules without bank/pcr/digest are unique too (NULLs compared). */
    rule_init(&r, KS_RULE_TPM_SAFE);
    assert_int_equal(ks_store_policy_add_rule(f->s, ACTOR, "p", &r, &v), KS_OK);
    assert_int_equal(ks_store_policy_add_rule(f->s, ACTOR, "p", &r, &v), KS_ERR_STORE_EXISTS);
    /* Malformed shapes. */
    event_rule(&r, 4, 0xaa, NULL); /* event needs data */
    assert_int_equal(ks_store_policy_add_rule(f->s, ACTOR, "p", &r, &v), KS_ERR_INVALID_ARG);
    event_rule(&r, 4, 0xaa, d2);
    r.digest_len = 20; /* sha256 rule with a sha1-sized digest */
    assert_int_equal(ks_store_policy_add_rule(f->s, ACTOR, "p", &r, &v), KS_ERR_INVALID_ARG);
    event_rule(&r, 4, 0xaa, arr); /* data not an object */
    assert_int_equal(ks_store_policy_add_rule(f->s, ACTOR, "p", &r, &v), KS_ERR_INVALID_ARG);
    rule_init(&r, KS_RULE_IMA_FILE);
    r.pcr = 9; /* IMA is PCR 10 */
    r.digest_len = 32;
    r.data = file;
    assert_int_equal(ks_store_policy_add_rule(f->s, ACTOR, "p", &r, &v), KS_ERR_INVALID_ARG);
    r.pcr = 10;
    assert_int_equal(ks_store_policy_add_rule(f->s, ACTOR, "p", &r, &v), KS_OK);
    rule_init(&r, KS_RULE_UNKNOWN);
    assert_int_equal(ks_store_policy_add_rule(f->s, ACTOR, "p", &r, &v), KS_ERR_INVALID_ARG);
    rule_init(&r, KS_RULE_TPM_CLOCK);
    r.bank = KS_ALG_SHA256; /* tpm_clock has no bank */
    assert_int_equal(ks_store_policy_add_rule(f->s, ACTOR, "p", &r, &v), KS_ERR_INVALID_ARG);
    /* Remove. */
    rule_init(&r, KS_RULE_TPM_SAFE);
    assert_int_equal(ks_store_policy_remove_rule(f->s, ACTOR, "p", &r), KS_OK);
    assert_int_equal(ks_store_policy_remove_rule(f->s, ACTOR, "p", &r), KS_ERR_NOT_FOUND);
    struct ks_store_policy *p = NULL;
    assert_int_equal(ks_store_policy_get(f->s, "p", KS_STORE_VERSION_DRAFT, &p), KS_OK);
    assert_int_equal(p->n_rules, 3);
    for (size_t i = 0; i < p->n_rules; i++) {
        assert_int_not_equal(p->rules[i].kind, KS_RULE_UNKNOWN);
    }
    ks_store_policy_free(p);
    assert_int_equal(ks_store_policy_add_rule(f->s, ACTOR, "nope", &r, &v),
                     KS_ERR_STORE_UNKNOWN_POLICY);
    assert_int_equal(ks_store_policy_remove_rule(f->s, ACTOR, "p", NULL), KS_ERR_INVALID_ARG);
}

/* set_draft replaces the draft, creates a missing policy, audits once;
 * activation and rollback are visible in the history. */
static void test_set_draft_history_rollback(void **state)
{
    struct fx *f = *state;
    struct ks_store_rule rules[2];
    uint32_t v = 0;
    char d0[] = "{\"seq\":0,\"type\":\"EV_POST_CODE\"}";
    char broken[] = "{";
    event_rule(&rules[0], 0, 0x01, d0);
    rule_init(&rules[1], KS_RULE_SEPARATOR);
    rules[1].bank = KS_ALG_SHA256;
    rules[1].pcr = 0;
    assert_int_equal(
        ks_store_policy_set_draft(f->s, ACTOR, "q", "policy.learn", false, rules, 2, &v),
        KS_ERR_STORE_UNKNOWN_POLICY);
    assert_int_equal(
        ks_store_policy_set_draft(f->s, ACTOR, "q", "policy.learn", true, rules, 2, &v), KS_OK);
    assert_int_equal(v, 1);
    assert_int_equal(ks_store_policy_activate(f->s, "bob", "q", KS_STORE_VERSION_DRAFT, &v), KS_OK);
    /* Version 2 from one rule; the active version 1 is untouched. */
    assert_int_equal(
        ks_store_policy_set_draft(f->s, ACTOR, "q", "policy.import", false, rules, 1, &v), KS_OK);
    assert_int_equal(v, 2);
    assert_int_equal(
        ks_store_policy_set_draft(f->s, ACTOR, "q", "policy.import", false, rules + 1, 1, &v),
        KS_OK);
    assert_int_equal(v, 2); /* the same draft, replaced */
    /* A rule given twice is refused and nothing changes. */
    struct ks_store_rule twice[2] = {rules[0], rules[0]};
    assert_int_equal(
        ks_store_policy_set_draft(f->s, ACTOR, "q", "policy.import", false, twice, 2, &v),
        KS_ERR_STORE_EXISTS);
    struct ks_store_policy *p = NULL;
    assert_int_equal(ks_store_policy_get(f->s, "q", KS_STORE_VERSION_DRAFT, &p), KS_OK);
    assert_int_equal(p->n_rules, 1);
    assert_int_equal(p->rules[0].kind, KS_RULE_SEPARATOR);
    ks_store_policy_free(p);
    assert_int_equal(ks_store_policy_activate(f->s, "carol", "q", KS_STORE_VERSION_DRAFT, &v),
                     KS_OK);
    assert_int_equal(v, 2);
    assert_int_equal(ks_store_policy_activate(f->s, "dave", "q", 1, &v), KS_OK); /* rollback */

    struct ks_store_policy_version_info *h = NULL;
    size_t n = 0;
    assert_int_equal(ks_store_policy_history(f->s, "q", &h, &n), KS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(h[0].version, 1);
    assert_int_equal(h[0].state, KS_POLICY_ACTIVE);
    assert_int_equal(h[0].n_rules, 2);
    assert_string_equal(h[0].created_by, ACTOR);
    assert_string_equal(h[0].activated_by, "dave");
    assert_true(h[0].activated_at > 0);
    assert_int_equal(h[1].state, KS_POLICY_RETIRED);
    assert_string_equal(h[1].activated_by, "carol");
    free(h);
    assert_int_equal(ks_store_policy_history(f->s, "nope", &h, &n), KS_ERR_STORE_UNKNOWN_POLICY);
    assert_int_equal(ks_store_policy_history(f->s, "q", NULL, &n), KS_ERR_INVALID_ARG);
    /* Every change was audited. */
    sqlite3 *db = raw_open(f);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM audit WHERE event = 'policy.learn'"), 1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM audit WHERE event = 'policy.import'"), 2);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM audit WHERE event = 'policy.create'"), 1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM audit WHERE event = 'policy.activate'"), 3);
    sqlite3_close(db);
    rules[0].data = broken;
    assert_int_equal(
        ks_store_policy_set_draft(f->s, ACTOR, "q", "policy.import", false, rules, 1, &v),
        KS_ERR_INVALID_ARG);
}

/* One release row through the batch (how keyserverd commits it). */
static int release_audit(struct ks_store *s, const struct ks_audit_entry *e,
                         const struct ks_store_quote_clock *clock, int64_t *ret_seq,
                         uint8_t ret_hash[KS_STORE_HASH_LEN])
{
    struct ks_store_release_item it = {.entry = e, .clock = clock};
    int r = ks_store_release_audit_batch(s, &it, 1);
    if (r == KS_OK && (r = it.result) == KS_OK) {
        *ret_seq = it.seq;
        memcpy(ret_hash, it.hash, KS_STORE_HASH_LEN);
    }
    return r;
}

static void test_release_audit_clock(void **state)
{
    struct fx *f = *state;
    uint8_t pub[4] = {1, 2, 3, 4};
    int64_t seq = 0;
    uint8_t hash[KS_STORE_HASH_LEN];
    assert_int_equal(ks_store_ak_add(f->s, ACTOR, AK1, pub, sizeof(pub), NULL), KS_OK);
    struct ks_audit_entry e = {
        .actor = "keyserverd", .event = "release", .ak_id = AK1, .outcome = KS_AUDIT_GRANTED};
    struct ks_store_quote_clock c = {
        .clock = 1000, .reset_count = 2, .restart_count = 1, .enforce = true};
    assert_int_equal(release_audit(f->s, &e, &c, &seq, hash), KS_OK);
    int64_t first = seq;
    /* Older quote, enforced: nothing written. */
    c.clock = 999;
    assert_int_equal(release_audit(f->s, &e, &c, &seq, hash), KS_ERR_AK_CLOCK_ROLLBACK);
    assert_int_equal(seq, first);
    /* Not enforced: the row is written, the record kept. */
    c.enforce = false;
    assert_int_equal(release_audit(f->s, &e, &c, &seq, hash), KS_OK);
    assert_int_equal(seq, first + 1);
    sqlite3 *db = raw_open(f);
    assert_int_equal(raw_int(db, "SELECT last_clock FROM aks"), 1000);
    sqlite3_close(db);
    /* Newer: recorded. No clock (a refusal): audit only. */
    c.clock = 2000;
    c.enforce = true;
    assert_int_equal(release_audit(f->s, &e, &c, &seq, hash), KS_OK);
    e.outcome = KS_AUDIT_REFUSED;
    assert_int_equal(release_audit(f->s, &e, NULL, &seq, hash), KS_OK);
    db = raw_open(f);
    assert_int_equal(raw_int(db, "SELECT last_clock FROM aks"), 2000);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM audit WHERE event = 'release'"), 4);
    sqlite3_close(db);
    struct ks_audit_verify av;
    assert_int_equal(ks_store_audit_verify(f->s, &av), KS_OK);
    e.ak_id = AK2; /* unknown AK with a clock */
    assert_int_equal(release_audit(f->s, &e, &c, &seq, hash), KS_ERR_STORE_UNKNOWN_AK);
    e.ak_id = NULL;
    assert_int_equal(release_audit(f->s, &e, &c, &seq, hash), KS_ERR_INVALID_ARG);
}

/* A version far past the old 4096-rule cap stores, activates and reads
 * back whole, with its row id (the key of keyserverd's compiled-policy
 * cache) distinct from the next version's. */
static void test_large_version(void **state)
{
    struct fx *f = *state;
    const size_t n = 20000;
    struct ks_store_rule *rules = calloc(n, sizeof(*rules));
    assert_non_null(rules);
    for (size_t i = 0; i < n; i++) {
        rule_init(&rules[i], KS_RULE_PCR);
        rules[i].bank = KS_ALG_SHA256;
        rules[i].pcr = 0;
        rules[i].digest_len = 32;
        memcpy(rules[i].digest, &i, sizeof(i));
    }
    uint32_t v = 0;
    assert_int_equal(
        ks_store_policy_set_draft(f->s, ACTOR, "big", "policy.import", true, rules, n, &v), KS_OK);
    assert_int_equal(ks_store_policy_activate(f->s, ACTOR, "big", KS_STORE_VERSION_DRAFT, &v),
                     KS_OK);
    struct ks_store_policy *p = NULL;
    assert_int_equal(ks_store_policy_get(f->s, "big", KS_STORE_VERSION_ACTIVE, &p), KS_OK);
    assert_int_equal(p->n_rules, n);
    assert_true(p->pv_id > 0);
    int64_t first_id = p->pv_id;
    ks_store_policy_free(p);
    assert_int_equal(
        ks_store_policy_set_draft(f->s, ACTOR, "big", "policy.import", false, rules, 10, &v),
        KS_OK);
    assert_int_equal(ks_store_policy_activate(f->s, ACTOR, "big", KS_STORE_VERSION_DRAFT, &v),
                     KS_OK);
    assert_int_equal(ks_store_policy_get(f->s, "big", KS_STORE_VERSION_ACTIVE, &p), KS_OK);
    assert_int_equal(p->n_rules, 10);
    assert_true(p->pv_id != first_id);
    ks_store_policy_free(p);
    free(rules);
}

/* Group commit: three rows in one transaction, the middle one refused on
 * its own (an enforced clock rollback) and leaving nothing behind, the
 * others committed with consecutive seqs and a chain that verifies. */
static void test_release_audit_batch(void **state)
{
    struct fx *f = *state;
    uint8_t pub[4] = {1, 2, 3, 4};
    assert_int_equal(ks_store_ak_add(f->s, ACTOR, AK1, pub, sizeof(pub), NULL), KS_OK);
    struct ks_audit_entry e = {
        .actor = "keyserverd", .event = "release", .ak_id = AK1, .outcome = KS_AUDIT_GRANTED};
    struct ks_audit_entry refused = e;
    refused.outcome = KS_AUDIT_REFUSED;
    struct ks_store_quote_clock newer = {.clock = 5000, .enforce = true};
    struct ks_store_quote_clock older = {.clock = 4000, .enforce = true};
    struct ks_store_release_item items[3] = {
        {.entry = &e, .clock = &newer},
        {.entry = &e, .clock = &older},
        {.entry = &refused},
    };
    sqlite3 *db = raw_open(f);
    int before = raw_int(db, "SELECT count(*) FROM audit");
    assert_int_equal(ks_store_release_audit_batch(f->s, items, 3), KS_OK);
    assert_int_equal(items[0].result, KS_OK);
    assert_int_equal(items[1].result, KS_ERR_AK_CLOCK_ROLLBACK);
    assert_non_null(strstr(items[1].errmsg, "clock"));
    assert_int_equal(items[2].result, KS_OK);
    assert_int_equal(items[2].seq, items[0].seq + 1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM audit"), before + 2);
    assert_int_equal(raw_int(db, "SELECT last_clock FROM aks"), 5000);
    struct ks_audit_verify av;
    assert_int_equal(ks_store_audit_verify(f->s, &av), KS_OK);
    assert_int_equal(av.bad_seq, 0);
    assert_memory_equal(av.last_hash, items[2].hash, KS_STORE_HASH_LEN);

    /* A batch whose transaction cannot start (another writer holds the
     * lock) writes nothing and every item says why. */
    assert_int_equal(raw_exec(db, "BEGIN IMMEDIATE"), SQLITE_OK);
    assert_int_equal(ks_store_set_busy_timeout(f->s, 0), KS_OK);
    items[1].clock = &newer;
    assert_int_equal(ks_store_release_audit_batch(f->s, items, 3), KS_ERR_DB_BUSY);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(items[i].result, KS_ERR_DB_BUSY);
        assert_non_null(strstr(items[i].errmsg, "write lock"));
    }
    assert_int_equal(raw_exec(db, "ROLLBACK"), SQLITE_OK);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM audit"), before + 2);
    sqlite3_close(db);

    /* Arguments: nothing to do, no entry, a clock without an AK. */
    assert_int_equal(ks_store_release_audit_batch(NULL, items, 1), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_release_audit_batch(f->s, NULL, 1), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_release_audit_batch(f->s, items, 0), KS_ERR_INVALID_ARG);
    struct ks_store_release_item bad[2] = {{.entry = &e}, {.entry = NULL}};
    assert_int_equal(ks_store_release_audit_batch(f->s, bad, 2), KS_ERR_INVALID_ARG);
    assert_int_equal(bad[0].result, KS_ERR_INVALID_ARG);
    struct ks_audit_entry no_ak = refused;
    no_ak.ak_id = NULL;
    struct ks_store_release_item bad2 = {.entry = &no_ak, .clock = &newer};
    assert_int_equal(ks_store_release_audit_batch(f->s, &bad2, 1), KS_ERR_INVALID_ARG);
}

/* A version 3 database with PCR rules upgrades: rules and ids kept, the
 * draft-only triggers still there. */
static void test_migration_keeps_rules(void **state)
{
    struct fx *f = *state;
    ks_store_close(f->s);
    f->s = NULL;
    unlink(f->db);
    sqlite3 *db = raw_open(f);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(raw_exec(db, ks_store_migrations[i].sql), SQLITE_OK);
    }
    assert_int_equal(
        raw_exec(db, "PRAGMA application_id = 1263751766; PRAGMA user_version = 3;"
                     "INSERT INTO policies (name, created_by, created_at) VALUES ('old', 'x', 1);"
                     "INSERT INTO policy_versions (policy_id, version, state, created_by, "
                     "created_at) VALUES (1, 1, 'draft', 'x', 1);"
                     "INSERT INTO policy_rules (id, policy_version_id, kind, bank, pcr, digest) "
                     "VALUES (7, 1, 'pcr', 'sha256', 0, zeroblob(32));"
                     "UPDATE policy_versions SET state = 'active', activated_at = 1;"),
        SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(ks_store_open(f->db, 0, &f->s), KS_OK);
    struct ks_store_policy *p = NULL;
    assert_int_equal(ks_store_policy_get(f->s, "old", KS_STORE_VERSION_ACTIVE, &p), KS_OK);
    assert_int_equal(p->n_rules, 1);
    assert_int_equal(p->rules[0].id, 7);
    assert_int_equal(p->rules[0].kind, KS_RULE_PCR);
    ks_store_policy_free(p);
    db = raw_open(f);
    assert_int_not_equal(raw_exec(db, "DELETE FROM policy_rules"), SQLITE_OK);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' "
                                 "AND tbl_name = 'policy_rules'"),
                     3);
    sqlite3_close(db);
}

/* JSON form: every kind round-trips; malformed input is refused. */
static void test_json_codec(void **state)
{
    (void)state;
    static const char *const good[] = {
        "{\"kind\":\"pcr\",\"bank\":\"sha1\",\"pcr\":0,\"digest\":"
        "\"0000000000000000000000000000000000000000\"}",
        "{\"kind\":\"event\",\"bank\":\"sha256\",\"pcr\":4,\"digest\":"
        "\"aa00000000000000000000000000000000000000000000000000000000000000\",\"seq\":3,"
        "\"type\":\"EV_EFI_BOOT_SERVICES_APPLICATION\"}",
        "{\"kind\":\"event_forbidden\",\"pcr\":8,\"type\":\"0x12345678\"}",
        "{\"kind\":\"secureboot\",\"bank\":\"sha256\",\"pcr\":7}",
        "{\"kind\":\"separator\",\"bank\":\"sha384\",\"pcr\":3}",
        "{\"kind\":\"cmdline_forbidden\",\"bank\":\"sha256\",\"pcr\":8,\"word\":\"debug\"}",
        "{\"kind\":\"ima_file\",\"pcr\":10,\"digest\":\"00112233445566778899aabbccddeeff\","
        "\"alg\":\"md5\",\"path\":\"/usr/bin/\\u00e9t\\u00e9\"}",
        "{\"kind\":\"ima_exclude\",\"pcr\":10,\"prefix\":\"/tmp/\"}",
        "{\"kind\":\"app_digest\",\"bank\":\"sha1\",\"pcr\":15,\"digest\":"
        "\"0101010101010101010101010101010101010101010101010101010101010101\",\"tag\":"
        "\"ks-loader-exe\"}",
        "{\"kind\":\"tpm_safe\"}",
        "{\"kind\":\"tpm_clock\"}",
        "{\"kind\":\"tpm_firmware\",\"min\":\"0x20001\"}",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct ks_store_rule r;
        struct ks_rule_dec d;
        char err[160] = "";
        json_t *j = json_loads(good[i], 0, NULL);
        assert_non_null(j);
        if (ks_rule_from_json(j, &r, err, sizeof(err)) != KS_OK) {
            fail_msg("%s: %s", good[i], err);
        }
        assert_int_equal(ks_store_rule_check(&r), KS_OK);
        assert_int_equal(ks_rule_decode(&r, &d), KS_OK);
        ks_rule_dec_clear(&d);
        json_t *back = NULL;
        assert_int_equal(ks_rule_to_json(&r, &back), KS_OK);
        if (!json_equal(j, back)) {
            fail_msg("round trip of %s", good[i]);
        }
        json_decref(back);
        json_decref(j);
        free(r.data);
    }
    /* decoded values */
    struct ks_store_rule r;
    struct ks_rule_dec d;
    json_t *j = json_loads(good[1], 0, NULL);
    assert_int_equal(ks_rule_from_json(j, &r, NULL, 0), KS_OK);
    json_decref(j);
    assert_string_equal(r.data, "{\"seq\":3,\"type\":\"EV_EFI_BOOT_SERVICES_APPLICATION\"}");
    assert_int_equal(ks_rule_decode(&r, &d), KS_OK);
    assert_true(d.has_seq && d.seq == 3 && d.event_type == 0x80000003u);
    free(r.data);
    j = json_loads(good[11], 0, NULL);
    assert_int_equal(ks_rule_from_json(j, &r, NULL, 0), KS_OK);
    json_decref(j);
    assert_int_equal(ks_rule_decode(&r, &d), KS_OK);
    assert_true(d.fw_min == 0x20001);
    free(r.data);

    static const char *const bad[] = {
        "[]",
        "{\"bank\":\"sha1\"}",
        "{\"kind\":\"nope\"}",
        "{\"kind\":\"tpm_safe\",\"extra\":1}",
        "{\"kind\":\"pcr\",\"bank\":\"md5\",\"pcr\":0,\"digest\":\"00\"}",
        "{\"kind\":\"pcr\",\"bank\":\"sha1\",\"pcr\":24,\"digest\":\"00\"}",
        "{\"kind\":\"pcr\",\"bank\":\"sha1\",\"pcr\":1,\"digest\":\"0g\"}",
        "{\"kind\":\"event\",\"bank\":\"sha1\",\"pcr\":1,\"digest\":\"00\",\"type\":\"EV_NOPE\"}",
        "{\"kind\":\"event\",\"bank\":\"sha1\",\"pcr\":1,\"digest\":\"00\",\"type\":\"EV_IPL\","
        "\"seq\":-1}",
        "{\"kind\":\"cmdline_forbidden\",\"bank\":\"sha1\",\"pcr\":8,\"word\":\"two words\"}",
        "{\"kind\":\"ima_file\",\"pcr\":10,\"digest\":\"00\",\"alg\":\"sha256\",\"path\":\"/x\"}",
        "{\"kind\":\"app_digest\",\"bank\":\"sha1\",\"pcr\":15,\"digest\":\"00\",\"tag\":\"a/b\"}",
        "{\"kind\":\"tpm_firmware\",\"min\":\"0x12345678123456781\"}",
        "{\"kind\":\"tpm_firmware\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[160] = "";
        j = json_loads(bad[i], 0, NULL);
        assert_non_null(j);
        if (ks_rule_from_json(j, &r, err, sizeof(err)) != KS_ERR_INVALID_ARG) {
            fail_msg("accepted: %s", bad[i]);
        }
        assert_true(err[0] != '\0');
        json_decref(j);
    }
    /* kind names */
    for (int k = 1; k <= KS_RULE_KIND_MAX; k++) {
        assert_int_equal(ks_rule_kind_from_name(ks_rule_kind_name((enum ks_rule_kind)k)), k);
    }
    assert_null(ks_rule_kind_name(KS_RULE_UNKNOWN));
    assert_null(ks_rule_kind_name((enum ks_rule_kind)99));
    assert_int_equal(ks_rule_kind_from_name("ima_allowlist"), KS_RULE_UNKNOWN);
    assert_int_equal(ks_rule_kind_from_name(NULL), KS_RULE_UNKNOWN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_remove_and_shapes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_set_draft_history_rollback, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_release_audit_clock, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_release_audit_batch, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_large_version, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_migration_keeps_rules, fx_setup, fx_teardown),
        cmocka_unit_test(test_json_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
