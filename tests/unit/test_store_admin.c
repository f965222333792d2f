/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <openssl/evp.h>

#include "test_store_util.h"

#include "encoding.h"
#include "file_util.h"

static const uint8_t pub_blob[] = {0x00, 0x04, 0xde, 0xad, 0xbe, 0xef};

static int64_t count_active(const struct fx *f, const char *policy)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM policy_versions v JOIN policies p ON p.id = v.policy_id "
             "WHERE p.name = '%s' AND v.state = 'active'",
             policy);
    sqlite3 *db = raw_open(f);
    int64_t n = raw_int(db, sql);
    sqlite3_close(db);
    return n;
}

/* ---- policies ------------------------------------------------------------- */

static void test_policy_lifecycle(void **state)
{
    struct fx *f = *state;
    uint8_t d1[32], d2[32], d3[20];
    memset(d1, 0x11, 32);
    memset(d2, 0x22, 32);
    memset(d3, 0x33, 20);
    uint32_t v = 0;
    struct ks_store_policy_info *pl = NULL;
    size_t n = 0;

    assert_int_equal(ks_store_policy_create(f->s, ACTOR, "prod"), KS_OK);
    assert_int_equal(ks_store_policy_list(f->s, &pl, &n), KS_OK);
    assert_int_equal(n, 1);
    assert_string_equal(pl[0].name, "prod");
    assert_int_equal(pl[0].active_version, 0);
    assert_int_equal(pl[0].draft_version, 1);
    assert_int_equal(pl[0].n_versions, 1);
    free(pl);

    assert_int_equal(ks_store_policy_add_pcr(f->s, ACTOR, "prod", KS_ALG_SHA256, 7, d1, 32, &v),
                     KS_OK);
    assert_int_equal(v, 1);
    assert_int_equal(ks_store_policy_add_pcr(f->s, ACTOR, "prod", KS_ALG_SHA256, 7, d2, 32, &v),
                     KS_OK);
    assert_int_equal(ks_store_policy_add_pcr(f->s, ACTOR, "prod", KS_ALG_SHA1, 0, d3, 20, &v),
                     KS_OK);
    /* The same rule twice. */
    assert_int_equal(ks_store_policy_add_pcr(f->s, ACTOR, "prod", KS_ALG_SHA256, 7, d1, 32, &v),
                     KS_ERR_STORE_EXISTS);
    assert_int_equal(count_active(f, "prod"), 0);

    v = 0;
    assert_int_equal(ks_store_policy_activate(f->s, ACTOR, "prod", KS_STORE_VERSION_DRAFT, &v),
                     KS_OK);
    assert_int_equal(v, 1);
    assert_int_equal(count_active(f, "prod"), 1);
    /* No draft left. */
    assert_int_equal(ks_store_policy_activate(f->s, ACTOR, "prod", KS_STORE_VERSION_DRAFT, &v),
                     KS_ERR_STORE_STATE);
    assert_int_equal(ks_store_policy_activate(f->s, ACTOR, "prod", 1, &v), KS_ERR_STORE_STATE);

    /* An edit makes draft 2 as a copy of the active rules. */
    assert_int_equal(ks_store_policy_remove_pcr(f->s, ACTOR, "prod", KS_ALG_SHA1, 0, d3, 20),
                     KS_ERR_STORE_STATE);
    assert_int_equal(ks_store_policy_add_pcr(f->s, ACTOR, "prod", KS_ALG_SHA256, 8, d1, 32, &v),
                     KS_OK);
    assert_int_equal(v, 2);
    assert_int_equal(ks_store_policy_remove_pcr(f->s, ACTOR, "prod", KS_ALG_SHA1, 0, d3, 20),
                     KS_OK);
    assert_int_equal(ks_store_policy_remove_pcr(f->s, ACTOR, "prod", KS_ALG_SHA1, 0, d3, 20),
                     KS_ERR_NOT_FOUND);
    struct ks_store_policy *p = NULL;
    assert_int_equal(ks_store_policy_get(f->s, "prod", KS_STORE_VERSION_DRAFT, &p), KS_OK);
    assert_int_equal(p->version, 2);
    assert_int_equal(p->state, KS_POLICY_DRAFT);
    assert_int_equal(p->n_rules, 3); /* sha256 7 x2, sha256 8 */
    for (size_t i = 0; i < p->n_rules; i++) {
        assert_int_equal(p->rules[i].kind, KS_RULE_PCR);
        assert_int_equal(p->rules[i].bank, KS_ALG_SHA256);
        assert_int_equal(p->rules[i].digest_len, 32);
    }
    assert_int_equal(p->rules[0].pcr, 7);
    assert_memory_equal(p->rules[0].digest, d1, 32);
    assert_int_equal(p->rules[1].pcr, 7);
    assert_memory_equal(p->rules[1].digest, d2, 32);
    assert_int_equal(p->rules[2].pcr, 8);
    ks_store_policy_free(p);
    p = NULL;
    /* The active version is untouched by the draft edits. */
    assert_int_equal(ks_store_policy_get(f->s, "prod", KS_STORE_VERSION_ACTIVE, &p), KS_OK);
    assert_int_equal(p->version, 1);
    assert_int_equal(p->state, KS_POLICY_ACTIVE);
    assert_int_equal(p->n_rules, 3);
    assert_int_equal(p->rules[0].bank, KS_ALG_SHA1);
    assert_int_equal(p->rules[0].pcr, 0);
    assert_memory_equal(p->rules[0].digest, d3, 20);
    ks_store_policy_free(p);
    p = NULL;

    assert_int_equal(ks_store_policy_activate(f->s, ACTOR, "prod", KS_STORE_VERSION_DRAFT, &v),
                     KS_OK);
    assert_int_equal(v, 2);
    assert_int_equal(count_active(f, "prod"), 1);
    assert_int_equal(ks_store_policy_get(f->s, "prod", 1, &p), KS_OK);
    assert_int_equal(p->state, KS_POLICY_RETIRED);
    ks_store_policy_free(p);
    p = NULL;

    /* Rollback: the retired version 1 becomes active again. */
    assert_int_equal(ks_store_policy_activate(f->s, ACTOR, "prod", 1, &v), KS_OK);
    assert_int_equal(v, 1);
    assert_int_equal(count_active(f, "prod"), 1);
    assert_int_equal(ks_store_policy_get(f->s, "prod", KS_STORE_VERSION_ACTIVE, &p), KS_OK);
    assert_int_equal(p->version, 1);
    ks_store_policy_free(p);
    p = NULL;
    assert_int_equal(ks_store_policy_list(f->s, &pl, &n), KS_OK);
    assert_int_equal(pl[0].active_version, 1);
    assert_int_equal(pl[0].draft_version, 0);
    assert_int_equal(pl[0].n_versions, 2);
    free(pl);

    assert_int_equal(ks_store_policy_activate(f->s, ACTOR, "prod", 9, &v),
                     KS_ERR_STORE_UNKNOWN_POLICY);
    assert_int_equal(ks_store_policy_get(f->s, "prod", 9, &p), KS_ERR_STORE_UNKNOWN_POLICY);
    assert_int_equal(ks_store_policy_get(f->s, "prod", KS_STORE_VERSION_DRAFT, &p),
                     KS_ERR_STORE_UNKNOWN_POLICY);
    assert_null(p);
    ks_store_policy_free(NULL);
}

static void test_policy_errors(void **state)
{
    struct fx *f = *state;
    uint8_t d[64] = {0};
    uint32_t v = 77;
    struct ks_store_policy *p = NULL;
    assert_int_equal(ks_store_policy_create(f->s, ACTOR, "bad name"), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_policy_create(f->s, NULL, "a"), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_policy_create(NULL, ACTOR, "a"), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_policy_create(f->s, ACTOR, "a"), KS_OK);
    assert_int_equal(ks_store_policy_create(f->s, ACTOR, "a"), KS_ERR_STORE_EXISTS);
    /* digest size must match the bank */
    assert_int_equal(ks_store_policy_add_pcr(f->s, ACTOR, "a", KS_ALG_SHA256, 0, d, 20, &v),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_policy_add_pcr(f->s, ACTOR, "a", 0x0012, 0, d, 32, &v),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_policy_add_pcr(f->s, ACTOR, "a", KS_ALG_SHA256, 24, d, 32, &v),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_policy_add_pcr(f->s, ACTOR, "a", KS_ALG_SHA256, 0, NULL, 32, &v),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_policy_add_pcr(f->s, ACTOR, "zz", KS_ALG_SHA256, 0, d, 32, &v),
                     KS_ERR_STORE_UNKNOWN_POLICY);
    assert_int_equal(v, 77);
    assert_int_equal(ks_store_policy_add_pcr(f->s, ACTOR, "a", KS_ALG_SHA512, 23, d, 64, &v),
                     KS_OK);
    assert_int_equal(ks_store_policy_add_pcr(f->s, ACTOR, "a", KS_ALG_SHA384, 23, d, 48, NULL),
                     KS_OK);
    assert_int_equal(ks_store_policy_remove_pcr(f->s, ACTOR, "zz", KS_ALG_SHA256, 0, d, 32),
                     KS_ERR_STORE_UNKNOWN_POLICY);
    assert_int_equal(ks_store_policy_remove_pcr(f->s, ACTOR, "a", KS_ALG_SHA256, 0, d, 31),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_policy_activate(f->s, ACTOR, "a", KS_STORE_VERSION_ACTIVE, &v),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_policy_activate(f->s, ACTOR, "zz", KS_STORE_VERSION_DRAFT, &v),
                     KS_ERR_STORE_UNKNOWN_POLICY);
    assert_int_equal(ks_store_policy_get(f->s, "zz", KS_STORE_VERSION_DRAFT, &p),
                     KS_ERR_STORE_UNKNOWN_POLICY);
    assert_int_equal(ks_store_policy_get(f->s, "a", KS_STORE_VERSION_ACTIVE, &p),
                     KS_ERR_STORE_UNKNOWN_POLICY);
    assert_int_equal(ks_store_policy_get(f->s, "a", 1, NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_policy_list(f->s, NULL, NULL), KS_ERR_INVALID_ARG);
    assert_null(p);
}

/* The schema itself keeps one active version and frozen non-drafts, even
 * against raw SQL. */
static void test_policy_schema_guards(void **state)
{
    struct fx *f = *state;
    fx_policy(f, "p", 0x01);
    uint8_t d[32] = {2};
    assert_int_equal(ks_store_policy_add_pcr(f->s, ACTOR, "p", KS_ALG_SHA256, 1, d, 32, NULL),
                     KS_OK);
    sqlite3 *db = raw_open(f);
    assert_int_equal(raw_exec(db, "UPDATE policy_versions SET state = 'active', activated_at = 1 "
                                  "WHERE version = 2"),
                     SQLITE_CONSTRAINT_UNIQUE);
    assert_int_equal(raw_exec(db, "INSERT INTO policy_rules (policy_version_id, kind, bank, pcr, "
                                  "digest) SELECT id, 'pcr', 'sha1', 1, zeroblob(20) "
                                  "FROM policy_versions WHERE version = 1"),
                     SQLITE_CONSTRAINT_TRIGGER);
    assert_int_equal(raw_exec(db, "DELETE FROM policy_rules WHERE policy_version_id = "
                                  "(SELECT id FROM policy_versions WHERE version = 1)"),
                     SQLITE_CONSTRAINT_TRIGGER);
    assert_int_equal(raw_exec(db, "UPDATE policy_rules SET pcr = 3 WHERE policy_version_id = "
                                  "(SELECT id FROM policy_versions WHERE version = 1)"),
                     SQLITE_CONSTRAINT_TRIGGER);
    /* A PCR rule's digest length must match its bank. */
    assert_int_equal(raw_exec(db, "INSERT INTO policy_rules (policy_version_id, kind, bank, pcr, "
                                  "digest) SELECT id, 'pcr', 'sha1', 1, zeroblob(32) "
                                  "FROM policy_versions WHERE version = 2"),
                     SQLITE_CONSTRAINT_CHECK);
    sqlite3_close(db);
}

/* ---- keys ------------------------------------------------------------------ */

/* RFC 7748, 6.1: Alice's X25519 private key and its public key. */
static const char rfc7748_priv[] =
    "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
static const char rfc7748_pub[] =
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";

static void test_key_create_import(void **state)
{
    struct fx *f = *state;
    fx_policy(f, "p", 0x01);
    uint8_t material[48];
    for (size_t i = 0; i < sizeof(material); i++) {
        material[i] = (uint8_t)(0xa0 + i);
    }
    struct ks_store_key_params dek = {.name = "weights", .kind = KS_KEY_DEK, .policy = "p"};
    assert_int_equal(ks_store_key_create(f->s, f->mk, ACTOR, &dek), KS_OK);
    assert_int_equal(ks_store_key_create(f->s, f->mk, ACTOR, &dek), KS_ERR_STORE_EXISTS);
    struct ks_store_key_params imp = {.name = "imported",
                                      .kind = KS_KEY_DEK,
                                      .policy = "p",
                                      .material = material,
                                      .material_len = sizeof(material)};
    assert_int_equal(ks_store_key_create(f->s, f->mk, ACTOR, &imp), KS_OK);
    size_t priv_len, pub_len;
    uint8_t *priv = NULL, *pub = NULL;
    assert_int_equal(ks_hex_decode(rfc7748_priv, &priv, &priv_len), KS_OK);
    assert_int_equal(ks_hex_decode(rfc7748_pub, &pub, &pub_len), KS_OK);
    struct ks_store_key_params hpke = {.name = "req",
                                       .kind = KS_KEY_HPKE,
                                       .policy = "p",
                                       .material = priv,
                                       .material_len = priv_len};
    assert_int_equal(ks_store_key_create(f->s, f->mk, ACTOR, &hpke), KS_OK);
    struct ks_store_key_params hgen = {.name = "req2", .kind = KS_KEY_HPKE, .policy = "p"};
    assert_int_equal(ks_store_key_create(f->s, f->mk, ACTOR, &hgen), KS_OK);

    /* Imported HPKE key: the stored public key is RFC 7748's. */
    struct ks_store_key_public kp;
    assert_int_equal(ks_store_key_public_get(f->s, "req", 0, &kp), KS_OK);
    assert_string_equal(kp.name, "req");
    assert_int_equal(kp.version, 1);
    assert_memory_equal(kp.public_key, pub, 32);
    assert_string_equal(kp.policy, "p");
    assert_int_equal(kp.policy_version, 1);
    assert_int_equal(ks_store_key_public_get(f->s, "req", 1, &kp), KS_OK);
    assert_int_equal(ks_store_key_public_get(f->s, "req", 2, &kp), KS_ERR_STORE_UNKNOWN_KEY);
    assert_int_equal(ks_store_key_public_get(f->s, "weights", 0, &kp), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_key_public_get(f->s, "nope", 0, &kp), KS_ERR_STORE_UNKNOWN_KEY);
    assert_int_equal(ks_store_key_public_get(f->s, "bad name", 0, &kp), KS_ERR_INVALID_ARG);

    /* Material comes back out exactly through a snapshot. */
    assert_int_equal(ks_store_ak_add(f->s, ACTOR, AK1, pub_blob, sizeof(pub_blob), NULL), KS_OK);
    const char *refs[] = {"imported", "req", "req2", "weights"};
    struct ks_store_snapshot *snap = NULL;
    assert_int_equal(ks_store_release_snapshot(f->s, AK1, refs, 4, &snap), KS_OK);
    struct ks_store_secret *sec = NULL;
    assert_int_equal(ks_store_snapshot_key_unwrap(f->mk, &snap->keys[0], &sec), KS_OK);
    assert_int_equal(sec->len, sizeof(material));
    assert_memory_equal(sec->data, material, sizeof(material));
    ks_store_secret_free(sec);
    assert_int_equal(ks_store_snapshot_key_unwrap(f->mk, &snap->keys[1], &sec), KS_OK);
    assert_int_equal(sec->len, 32);
    assert_memory_equal(sec->data, priv, 32);
    assert_true(snap->keys[1].has_public);
    assert_memory_equal(snap->keys[1].public_key, pub, 32);
    ks_store_secret_free(sec);
    /* Generated HPKE key: its public key is X25519(private, 9). */
    assert_int_equal(ks_store_snapshot_key_unwrap(f->mk, &snap->keys[2], &sec), KS_OK);
    EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sec->data, sec->len);
    uint8_t derived[32];
    size_t dl = sizeof(derived);
    assert_int_equal(EVP_PKEY_get_raw_public_key(pk, derived, &dl), 1);
    assert_memory_equal(derived, snap->keys[2].public_key, 32);
    EVP_PKEY_free(pk);
    ks_store_secret_free(sec);
    /* Generated DEK: 32 bytes, no public key. */
    assert_int_equal(ks_store_snapshot_key_unwrap(f->mk, &snap->keys[3], &sec), KS_OK);
    assert_int_equal(sec->len, 32);
    assert_false(snap->keys[3].has_public);
    ks_store_secret_free(sec);
    assert_int_equal(ks_store_snapshot_key_unwrap(f->mk, NULL, &sec), KS_ERR_INVALID_ARG);
    ks_store_snapshot_free(snap);

    /* The imported plaintext never reaches the database file or its WAL. */
    ks_store_close(f->s);
    f->s = NULL;
    static const char *const files[] = {"ks.db", "ks.db-wal"};
    for (size_t i = 0; i < 2; i++) {
        char path[320];
        uint8_t *buf = NULL;
        size_t len = 0;
        fx_path(f, files[i], path, sizeof(path));
        if (ks_file_read(path, 64 << 20, &buf, &len) == KS_OK) {
            assert_null(memmem(buf, len, material, sizeof(material)));
            assert_null(memmem(buf, len, priv, priv_len));
            free(buf);
        }
    }
    free(priv);
    free(pub);
}

static void test_key_errors(void **state)
{
    struct fx *f = *state;
    fx_policy(f, "p", 0x01);
    uint8_t m[KS_STORE_MAX_SECRET + 1] = {1};
    struct ks_store_key_params k = {.name = "k", .kind = KS_KEY_DEK, .policy = "nope"};
    assert_int_equal(ks_store_key_create(f->s, f->mk, ACTOR, &k), KS_ERR_STORE_UNKNOWN_POLICY);
    k.policy = "p";
    k.name = "a b";
    assert_int_equal(ks_store_key_create(f->s, f->mk, ACTOR, &k), KS_ERR_INVALID_ARG);
    k.name = "k";
    k.kind = (enum ks_key_kind)7;
    assert_int_equal(ks_store_key_create(f->s, f->mk, ACTOR, &k), KS_ERR_INVALID_ARG);
    k.kind = KS_KEY_HPKE;
    k.material = m;
    k.material_len = 31;
    assert_int_equal(ks_store_key_create(f->s, f->mk, ACTOR, &k), KS_ERR_INVALID_ARG);
    k.kind = KS_KEY_DEK;
    k.material_len = sizeof(m);
    assert_int_equal(ks_store_key_create(f->s, f->mk, ACTOR, &k), KS_ERR_TOO_LARGE);
    k.material_len = 0;
    assert_int_equal(ks_store_key_create(f->s, f->mk, ACTOR, &k), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_key_create(f->s, NULL, ACTOR, &k), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_key_create(f->s, f->mk, ACTOR, NULL), KS_ERR_INVALID_ARG);
    /* Share metadata */
    k.material_len = 33;
    k.share_index = 3;
    k.share_threshold = 2;
    k.share_count = 2; /* index > count */
    assert_int_equal(ks_store_key_create(f->s, f->mk, ACTOR, &k), KS_ERR_INVALID_ARG);
    k.share_index = 1;
    k.share_threshold = 3; /* threshold > count */
    assert_int_equal(ks_store_key_create(f->s, f->mk, ACTOR, &k), KS_ERR_INVALID_ARG);
    k.share_threshold = 0;
    assert_int_equal(ks_store_key_create(f->s, f->mk, ACTOR, &k), KS_ERR_INVALID_ARG);
    k.share_threshold = 2;
    k.material = NULL; /* a share is never generated */
    assert_int_equal(ks_store_key_create(f->s, f->mk, ACTOR, &k), KS_ERR_INVALID_ARG);
    k.material = m;
    k.kind = KS_KEY_HPKE;
    k.material_len = 32;
    assert_int_equal(ks_store_key_create(f->s, f->mk, ACTOR, &k), KS_ERR_INVALID_ARG);
    k.kind = KS_KEY_DEK;
    k.material_len = 33;
    assert_int_equal(ks_store_key_create(f->s, f->mk, ACTOR, &k), KS_OK);
    struct ks_store_key_info *l = NULL;
    size_t n = 0;
    assert_int_equal(ks_store_key_list(f->s, &l, &n), KS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(l[0].share_index, 1);
    assert_int_equal(l[0].share_threshold, 2);
    assert_int_equal(l[0].share_count, 2);
    free(l);
    /* Nothing half-created by the failures. */
    sqlite3 *db = raw_open(f);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM keys"), 1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM key_versions"), 1);
    sqlite3_close(db);
    assert_int_equal(ks_store_key_list(NULL, &l, &n), KS_ERR_INVALID_ARG);
}

static void test_key_rotate_and_list(void **state)
{
    struct fx *f = *state;
    fx_policy(f, "p", 0x01);
    fx_policy(f, "q", 0x02);
    uint8_t m1[32], m2[32];
    memset(m1, 0x5a, 32);
    memset(m2, 0xa5, 32);
    struct ks_store_key_params k = {
        .name = "w", .kind = KS_KEY_DEK, .policy = "p", .material = m1, .material_len = 32};
    assert_int_equal(ks_store_key_create(f->s, f->mk, ACTOR, &k), KS_OK);
    struct ks_store_key_params h = {.name = "h", .kind = KS_KEY_HPKE, .policy = "q"};
    assert_int_equal(ks_store_key_create(f->s, f->mk, ACTOR, &h), KS_OK);
    uint32_t v = 0;
    assert_int_equal(ks_store_key_rotate(f->s, f->mk, ACTOR, "w", m2, 32, &v), KS_OK);
    assert_int_equal(v, 2);
    assert_int_equal(ks_store_key_rotate(f->s, f->mk, ACTOR, "w", NULL, 0, &v), KS_OK);
    assert_int_equal(v, 3);
    assert_int_equal(ks_store_key_rotate(f->s, f->mk, ACTOR, "h", m1, 31, &v), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_key_rotate(f->s, f->mk, ACTOR, "h", NULL, 0, &v), KS_OK);
    assert_int_equal(v, 2);
    assert_int_equal(ks_store_key_rotate(f->s, f->mk, ACTOR, "zz", NULL, 0, &v),
                     KS_ERR_STORE_UNKNOWN_KEY);
    assert_int_equal(ks_store_key_rotate(f->s, NULL, ACTOR, "w", NULL, 0, &v), KS_ERR_INVALID_ARG);

    struct ks_store_key_info *l = NULL;
    size_t n = 0;
    assert_int_equal(ks_store_key_list(f->s, &l, &n), KS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(l[0].name, "h");
    assert_int_equal(l[0].kind, KS_KEY_HPKE);
    assert_string_equal(l[0].policy, "q");
    assert_int_equal(l[0].active_version, 2);
    assert_int_equal(l[0].n_versions, 2);
    assert_string_equal(l[1].name, "w");
    assert_int_equal(l[1].kind, KS_KEY_DEK);
    assert_int_equal(l[1].active_version, 3);
    assert_int_equal(l[1].n_versions, 3);
    assert_true(l[1].created_at > 0);
    free(l);

    /* name@N reaches retired versions; "name" the active one. */
    assert_int_equal(ks_store_ak_add(f->s, ACTOR, AK1, pub_blob, sizeof(pub_blob), NULL), KS_OK);
    const char *refs[] = {"w@1", "w@2", "w", "h@1"};
    struct ks_store_snapshot *snap = NULL;
    assert_int_equal(ks_store_release_snapshot(f->s, AK1, refs, 4, &snap), KS_OK);
    assert_int_equal(snap->keys[0].version, 1);
    assert_int_equal(snap->keys[0].state, KS_KEY_VERSION_PREVIOUS);
    assert_true(snap->keys[0].explicit_version);
    assert_int_equal(snap->keys[1].version, 2);
    assert_int_equal(snap->keys[2].version, 3);
    assert_int_equal(snap->keys[2].state, KS_KEY_VERSION_ACTIVE);
    assert_false(snap->keys[2].explicit_version);
    assert_string_equal(snap->keys[3].policy.name, "q");
    struct ks_store_secret *sec = NULL;
    assert_int_equal(ks_store_snapshot_key_unwrap(f->mk, &snap->keys[0], &sec), KS_OK);
    assert_memory_equal(sec->data, m1, 32);
    ks_store_secret_free(sec);
    assert_int_equal(ks_store_snapshot_key_unwrap(f->mk, &snap->keys[1], &sec), KS_OK);
    assert_memory_equal(sec->data, m2, 32);
    ks_store_secret_free(sec);
    /* A snapshot entry moved to another version fails to unwrap. */
    snap->keys[1].version = 1;
    assert_int_equal(ks_store_snapshot_key_unwrap(f->mk, &snap->keys[1], &sec), KS_ERR_KEY_UNWRAP);
    ks_store_snapshot_free(snap);

    /* The public key follows the active version. */
    struct ks_store_key_public kp1, kp2;
    assert_int_equal(ks_store_key_public_get(f->s, "h", 1, &kp1), KS_OK);
    assert_int_equal(ks_store_key_public_get(f->s, "h", 0, &kp2), KS_OK);
    assert_int_equal(kp2.version, 2);
    assert_memory_not_equal(kp1.public_key, kp2.public_key, 32);
}

static void test_key_rotate_share(void **state)
{
    struct fx *f = *state;
    fx_policy(f, "p", 0x01);
    uint8_t m[33] = {1};
    struct ks_store_key_params k = {.name = "s",
                                    .kind = KS_KEY_DEK,
                                    .policy = "p",
                                    .material = m,
                                    .material_len = 33,
                                    .share_index = 2,
                                    .share_threshold = 2,
                                    .share_count = 3};
    assert_int_equal(ks_store_key_create(f->s, f->mk, ACTOR, &k), KS_OK);
    uint32_t v = 0;
    assert_int_equal(ks_store_key_rotate(f->s, f->mk, ACTOR, "s", NULL, 0, &v), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_key_rotate(f->s, f->mk, ACTOR, "s", m, 33, &v), KS_OK);
    assert_int_equal(v, 2);
    assert_int_equal(ks_store_ak_add(f->s, ACTOR, AK1, pub_blob, sizeof(pub_blob), NULL), KS_OK);
    const char *refs[] = {"s"};
    struct ks_store_snapshot *snap = NULL;
    assert_int_equal(ks_store_release_snapshot(f->s, AK1, refs, 1, &snap), KS_OK);
    assert_int_equal(snap->keys[0].version, 2);
    assert_int_equal(snap->keys[0].share_index, 2);
    assert_int_equal(snap->keys[0].share_threshold, 2);
    assert_int_equal(snap->keys[0].share_count, 3);
    ks_store_snapshot_free(snap);
}

/* ---- EKs and AKs ----------------------------------------------------------- */

static void test_ek_ak(void **state)
{
    struct fx *f = *state;
    const uint8_t cert[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    assert_int_equal(ks_store_ak_add(f->s, ACTOR, AK1, pub_blob, sizeof(pub_blob), EK1),
                     KS_ERR_STORE_UNKNOWN_EK);
    assert_int_equal(ks_store_ek_approve(f->s, ACTOR, EK1, true), KS_ERR_STORE_UNKNOWN_EK);
    assert_int_equal(
        ks_store_ek_add(f->s, ACTOR, EK1, pub_blob, sizeof(pub_blob), cert, sizeof(cert)), KS_OK);
    assert_int_equal(ks_store_ek_add(f->s, ACTOR, EK1, pub_blob, sizeof(pub_blob), NULL, 0),
                     KS_ERR_STORE_EXISTS);
    assert_int_equal(ks_store_ak_add(f->s, ACTOR, AK1, pub_blob, sizeof(pub_blob), EK1), KS_OK);
    assert_int_equal(ks_store_ak_add(f->s, ACTOR, AK1, pub_blob, sizeof(pub_blob), NULL),
                     KS_ERR_STORE_EXISTS);
    assert_int_equal(ks_store_ak_add(f->s, "bob", AK2, pub_blob, sizeof(pub_blob), NULL), KS_OK);

    struct ks_store_snapshot *snap = NULL;
    assert_int_equal(ks_store_release_snapshot(f->s, AK1, NULL, 0, &snap), KS_OK);
    assert_string_equal(snap->ak.id, AK1);
    assert_int_equal(snap->ak.state, KS_AK_ACTIVE);
    assert_int_equal(snap->ak.public_len, sizeof(pub_blob));
    assert_memory_equal(snap->ak.public_blob, pub_blob, sizeof(pub_blob));
    assert_true(snap->ak.vouched);
    assert_true(snap->ak.has_ek);
    assert_string_equal(snap->ak.ek_name, EK1);
    assert_false(snap->ak.ek_approved);
    assert_false(snap->ak.has_clock);
    assert_int_equal(snap->n_keys, 0);
    ks_store_snapshot_free(snap);
    assert_int_equal(ks_store_ek_approve(f->s, ACTOR, EK1, true), KS_OK);
    assert_int_equal(ks_store_release_snapshot(f->s, AK1, NULL, 0, &snap), KS_OK);
    assert_true(snap->ak.ek_approved);
    ks_store_snapshot_free(snap);
    assert_int_equal(ks_store_ek_approve(f->s, ACTOR, EK1, false), KS_OK);
    assert_int_equal(ks_store_release_snapshot(f->s, AK1, NULL, 0, &snap), KS_OK);
    assert_false(snap->ak.ek_approved);
    ks_store_snapshot_free(snap);
    assert_int_equal(ks_store_release_snapshot(f->s, AK2, NULL, 0, &snap), KS_OK);
    assert_false(snap->ak.has_ek);
    assert_string_equal(snap->ak.ek_name, "");
    ks_store_snapshot_free(snap);

    struct ks_store_ak_info *l = NULL;
    size_t n = 0;
    assert_int_equal(ks_store_ak_list(f->s, &l, &n), KS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(l[0].id, AK1);
    assert_string_equal(l[0].ek_name, EK1);
    assert_string_equal(l[0].vouched_by, ACTOR);
    assert_int_equal(l[0].state, KS_AK_ACTIVE);
    assert_int_equal(l[0].last_attested_at, 0);
    assert_string_equal(l[1].id, AK2);
    assert_string_equal(l[1].vouched_by, "bob");
    free(l);

    assert_int_equal(ks_store_ak_revoke(f->s, ACTOR, AK1, "machine retired"), KS_OK);
    assert_int_equal(ks_store_ak_revoke(f->s, ACTOR, AK1, NULL), KS_ERR_STORE_STATE);
    assert_int_equal(ks_store_ak_revoke(f->s, ACTOR, EK1, NULL), KS_ERR_STORE_UNKNOWN_AK);
    assert_int_equal(ks_store_ak_list(f->s, &l, &n), KS_OK);
    assert_int_equal(l[0].state, KS_AK_REVOKED);
    free(l);

    assert_string_equal(ks_ak_state_name(KS_AK_PENDING), "pending");
    assert_string_equal(ks_ak_state_name(KS_AK_REVOKED), "revoked");
    assert_null(ks_ak_state_name((enum ks_ak_state)9));
    assert_string_equal(ks_policy_state_name(KS_POLICY_RETIRED), "retired");
    assert_null(ks_policy_state_name((enum ks_policy_state)0));
}

static void test_ek_ak_errors(void **state)
{
    struct fx *f = *state;
    uint8_t big[KS_STORE_MAX_BLOB + 1] = {0};
    assert_int_equal(ks_store_ak_add(f->s, ACTOR, "000B1111", pub_blob, 6, NULL),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_ak_add(f->s, ACTOR, AK1, NULL, 6, NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_ak_add(f->s, ACTOR, AK1, pub_blob, 0, NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_ak_add(f->s, ACTOR, AK1, big, sizeof(big), NULL), KS_ERR_TOO_LARGE);
    assert_int_equal(ks_store_ak_add(f->s, ACTOR, AK1, pub_blob, 6, "xyz"), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_ak_add(f->s, "", AK1, pub_blob, 6, NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_ek_add(f->s, ACTOR, "zz", pub_blob, 6, NULL, 0), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_ek_add(f->s, ACTOR, EK1, big, sizeof(big), NULL, 0),
                     KS_ERR_TOO_LARGE);
    assert_int_equal(ks_store_ek_add(f->s, ACTOR, EK1, pub_blob, 6, big, 0), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_ek_approve(f->s, ACTOR, "EK", true), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_ak_revoke(f->s, ACTOR, "x", NULL), KS_ERR_INVALID_ARG);
    char reason[KS_STORE_MAX_REASON + 2];
    memset(reason, 'r', sizeof(reason) - 1);
    reason[sizeof(reason) - 1] = '\0';
    assert_int_equal(ks_store_ak_revoke(f->s, ACTOR, AK1, reason), KS_ERR_TOO_LARGE);
    struct ks_store_ak_info *l = NULL;
    size_t n = 5;
    assert_int_equal(ks_store_ak_list(f->s, &l, &n), KS_OK);
    assert_int_equal(n, 0);
    assert_null(l);
    assert_int_equal(ks_store_ak_list(f->s, NULL, &n), KS_ERR_INVALID_ARG);
}

static void test_ak_record_quote(void **state)
{
    struct fx *f = *state;
    assert_int_equal(ks_store_ak_record_quote(f->s, AK1, 10, 100, 0, 0), KS_ERR_STORE_UNKNOWN_AK);
    assert_int_equal(ks_store_ak_add(f->s, ACTOR, AK1, pub_blob, sizeof(pub_blob), NULL), KS_OK);
    assert_int_equal(ks_store_ak_record_quote(f->s, AK1, 10, 100, 0, 0), KS_OK);
    assert_int_equal(ks_store_ak_record_quote(f->s, AK1, 11, 150, 0, 0), KS_OK);
    assert_int_equal(ks_store_ak_record_quote(f->s, AK1, 11, 150, 0, 0), KS_OK); /* same */
    assert_int_equal(ks_store_ak_record_quote(f->s, AK1, 12, 120, 0, 0), KS_ERR_AK_CLOCK_ROLLBACK);
    /* TPM Restart: restartCount grows, clock continues. */
    assert_int_equal(ks_store_ak_record_quote(f->s, AK1, 13, 160, 0, 1), KS_OK);
    assert_int_equal(ks_store_ak_record_quote(f->s, AK1, 13, 500, 0, 0), KS_ERR_AK_CLOCK_ROLLBACK);
    /* TPM Reset: resetCount grows, restartCount back to 0, clock may lag. */
    assert_int_equal(ks_store_ak_record_quote(f->s, AK1, 14, 140, 1, 0), KS_OK);
    assert_int_equal(ks_store_ak_record_quote(f->s, AK1, 15, 9999, 0, 9), KS_ERR_AK_CLOCK_ROLLBACK);
    assert_int_equal(ks_store_ak_record_quote(f->s, AK1, 0, 1, 1, 0), KS_ERR_AK_CLOCK_ROLLBACK);
    assert_int_equal(ks_store_ak_record_quote(f->s, AK1, 0, (uint64_t)INT64_MAX + 1, 5, 0),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_ak_record_quote(f->s, "x", 0, 1, 5, 0), KS_ERR_INVALID_ARG);
    struct ks_store_snapshot *snap = NULL;
    assert_int_equal(ks_store_release_snapshot(f->s, AK1, NULL, 0, &snap), KS_OK);
    assert_true(snap->ak.has_clock);
    assert_int_equal(snap->ak.last_clock, 140);
    assert_int_equal(snap->ak.last_reset_count, 1);
    assert_int_equal(snap->ak.last_restart_count, 0);
    ks_store_snapshot_free(snap);
    struct ks_store_ak_info *l = NULL;
    size_t n = 0;
    assert_int_equal(ks_store_ak_list(f->s, &l, &n), KS_OK);
    assert_int_equal(l[0].last_attested_at, 14);
    free(l);
}

/* ---- release snapshot ------------------------------------------------------ */

static void test_snapshot_contents_and_errors(void **state)
{
    struct fx *f = *state;
    uint8_t d[32];
    memset(d, 0x01, 32);
    fx_policy(f, "p", 0x01);
    assert_int_equal(ks_store_policy_create(f->s, ACTOR, "empty"), KS_OK);
    struct ks_store_key_params k = {.name = "w", .kind = KS_KEY_DEK, .policy = "p"};
    assert_int_equal(ks_store_key_create(f->s, f->mk, ACTOR, &k), KS_OK);
    k.name = "e";
    k.policy = "empty";
    assert_int_equal(ks_store_key_create(f->s, f->mk, ACTOR, &k), KS_OK);
    assert_int_equal(ks_store_ak_add(f->s, ACTOR, AK1, pub_blob, sizeof(pub_blob), NULL), KS_OK);

    const char *refs[] = {"w", "e"};
    struct ks_store_snapshot *snap = NULL;
    assert_int_equal(ks_store_release_snapshot(f->s, AK1, refs, 2, &snap), KS_OK);
    assert_int_equal(snap->n_keys, 2);
    struct ks_store_key *w = &snap->keys[0];
    assert_string_equal(w->name, "w");
    assert_int_equal(w->kind, KS_KEY_DEK);
    assert_int_equal(w->version, 1);
    assert_int_equal(w->wrapped_len, 32 + 16);
    assert_string_equal(w->policy.name, "p");
    assert_int_equal(w->policy.version, 1);
    assert_int_equal(w->policy.state, KS_POLICY_ACTIVE);
    assert_int_equal(w->policy.n_rules, 1);
    assert_int_equal(w->policy.rules[0].kind, KS_RULE_PCR);
    assert_string_equal(w->policy.rules[0].kind_name, "pcr");
    assert_int_equal(w->policy.rules[0].bank, KS_ALG_SHA256);
    assert_int_equal(w->policy.rules[0].pcr, 7);
    assert_memory_equal(w->policy.rules[0].digest, d, 32);
    assert_null(w->policy.rules[0].data);
    /* A policy without an active version: version 0, no rules. */
    assert_string_equal(snap->keys[1].policy.name, "empty");
    assert_int_equal(snap->keys[1].policy.version, 0);
    assert_int_equal(snap->keys[1].policy.n_rules, 0);
    ks_store_snapshot_free(snap);
    snap = NULL;

    const char *unknown[] = {"w", "nope"};
    assert_int_equal(ks_store_release_snapshot(f->s, AK1, unknown, 2, &snap),
                     KS_ERR_STORE_UNKNOWN_KEY);
    assert_string_equal(ks_store_errmsg(f->s), "unknown key nope");
    const char *unknown_version[] = {"w@2"};
    assert_int_equal(ks_store_release_snapshot(f->s, AK1, unknown_version, 1, &snap),
                     KS_ERR_STORE_UNKNOWN_KEY);
    assert_int_equal(ks_store_release_snapshot(f->s, AK2, refs, 1, &snap), KS_ERR_STORE_UNKNOWN_AK);
    static const char *const bad[] = {"w@0",  "w@01",         "w@",   "@1",   "w b",
                                      "w@1x", "w@4294967296", "w@-1", "w@+1", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *one[] = {bad[i]};
        assert_int_equal(ks_store_release_snapshot(f->s, AK1, one, 1, &snap), KS_ERR_INVALID_ARG);
    }
    const char *maxv[] = {"w@4294967295"};
    assert_int_equal(ks_store_release_snapshot(f->s, AK1, maxv, 1, &snap),
                     KS_ERR_STORE_UNKNOWN_KEY);
    const char *many[KS_STORE_MAX_REQUEST_KEYS + 1];
    for (size_t i = 0; i < KS_STORE_MAX_REQUEST_KEYS + 1; i++) {
        many[i] = "w";
    }
    assert_int_equal(
        ks_store_release_snapshot(f->s, AK1, many, KS_STORE_MAX_REQUEST_KEYS + 1, &snap),
        KS_ERR_TOO_LARGE);
    assert_int_equal(ks_store_release_snapshot(f->s, AK1, many, KS_STORE_MAX_REQUEST_KEYS, &snap),
                     KS_OK);
    ks_store_snapshot_free(snap);
    snap = NULL;
    assert_int_equal(ks_store_release_snapshot(f->s, "AK", refs, 1, &snap), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_release_snapshot(f->s, AK1, NULL, 1, &snap), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_release_snapshot(f->s, AK1, refs, 1, NULL), KS_ERR_INVALID_ARG);
    assert_null(snap);
    ks_store_snapshot_free(NULL);
}

/* A rule kind this program does not know reaches the decision as
 * KS_RULE_UNKNOWN (which must refuse), with its data. */
static void test_snapshot_unknown_rule_kind(void **state)
{
    struct fx *f = *state;
    assert_int_equal(ks_store_policy_create(f->s, ACTOR, "p"), KS_OK);
    raw_sql(f, "INSERT INTO policy_rules (policy_version_id, kind, data) "
               "VALUES (1, 'ima', '{\"allow\":[]}')");
    assert_int_equal(ks_store_policy_activate(f->s, ACTOR, "p", KS_STORE_VERSION_DRAFT, NULL),
                     KS_OK);
    struct ks_store_key_params k = {.name = "w", .kind = KS_KEY_DEK, .policy = "p"};
    assert_int_equal(ks_store_key_create(f->s, f->mk, ACTOR, &k), KS_OK);
    assert_int_equal(ks_store_ak_add(f->s, ACTOR, AK1, pub_blob, sizeof(pub_blob), NULL), KS_OK);
    const char *refs[] = {"w"};
    struct ks_store_snapshot *snap = NULL;
    assert_int_equal(ks_store_release_snapshot(f->s, AK1, refs, 1, &snap), KS_OK);
    assert_int_equal(snap->keys[0].policy.n_rules, 1);
    assert_int_equal(snap->keys[0].policy.rules[0].kind, KS_RULE_UNKNOWN);
    assert_string_equal(snap->keys[0].policy.rules[0].kind_name, "ima");
    assert_string_equal(snap->keys[0].policy.rules[0].data, "{\"allow\":[]}");
    ks_store_snapshot_free(snap);
}

/* ksctl (second connection) changes the state; the daemon's next snapshot
 * sees it without reopening. */
static void test_snapshot_sees_second_connection(void **state)
{
    struct fx *f = *state;
    struct ks_store *admin = NULL;
    assert_int_equal(ks_store_open(f->db, 0, &admin), KS_OK);
    fx_policy(f, "p", 0x01);
    struct ks_store_key_params k = {.name = "w", .kind = KS_KEY_DEK, .policy = "p"};
    assert_int_equal(ks_store_key_create(f->s, f->mk, ACTOR, &k), KS_OK);
    assert_int_equal(ks_store_ak_add(f->s, ACTOR, AK1, pub_blob, sizeof(pub_blob), NULL), KS_OK);
    const char *refs[] = {"w"};
    struct ks_store_snapshot *snap = NULL;
    assert_int_equal(ks_store_release_snapshot(f->s, AK1, refs, 1, &snap), KS_OK);
    assert_int_equal(snap->ak.state, KS_AK_ACTIVE);
    assert_int_equal(snap->keys[0].policy.version, 1);
    ks_store_snapshot_free(snap);

    /* Policy activation through the other handle. */
    uint8_t d[32];
    memset(d, 0x77, 32);
    assert_int_equal(ks_store_policy_add_pcr(admin, "bob", "p", KS_ALG_SHA256, 11, d, 32, NULL),
                     KS_OK);
    /* A draft is not visible to releases. */
    assert_int_equal(ks_store_release_snapshot(f->s, AK1, refs, 1, &snap), KS_OK);
    assert_int_equal(snap->keys[0].policy.version, 1);
    assert_int_equal(snap->keys[0].policy.n_rules, 1);
    ks_store_snapshot_free(snap);
    assert_int_equal(ks_store_policy_activate(admin, "bob", "p", KS_STORE_VERSION_DRAFT, NULL),
                     KS_OK);
    assert_int_equal(ks_store_release_snapshot(f->s, AK1, refs, 1, &snap), KS_OK);
    assert_int_equal(snap->keys[0].policy.version, 2);
    assert_int_equal(snap->keys[0].policy.n_rules, 2);
    assert_int_equal(snap->keys[0].policy.rules[1].pcr, 11);
    ks_store_snapshot_free(snap);

    /* Key rotation and AK revocation through the other handle. */
    assert_int_equal(ks_store_key_rotate(admin, f->mk, "bob", "w", NULL, 0, NULL), KS_OK);
    assert_int_equal(ks_store_ak_revoke(admin, "bob", AK1, "stolen"), KS_OK);
    assert_int_equal(ks_store_release_snapshot(f->s, AK1, refs, 1, &snap), KS_OK);
    assert_int_equal(snap->ak.state, KS_AK_REVOKED);
    assert_int_equal(snap->keys[0].version, 2);
    ks_store_snapshot_free(snap);
    ks_store_close(admin);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_policy_lifecycle, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_policy_errors, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_policy_schema_guards, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_key_create_import, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_key_errors, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_key_rotate_and_list, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_key_rotate_share, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_ek_ak, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_ek_ak_errors, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_ak_record_quote, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_contents_and_errors, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_unknown_rule_kind, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_sees_second_connection, fx_setup,
                                        fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
