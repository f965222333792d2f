/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "test_store_util.h"

#include <openssl/evp.h>

/*
 * The store's enrollment layer (migration 3): EK CAs and CRLs, EK approval,
 * revocation and removal, pending enrollments and their activation. Values
 * are checked against the rows (through a second, raw connection) and the
 * release snapshot, which is what keyserverd's release decision reads.
 */

#define EK2 "000bdddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
#define AK3 "000b3333333333333333333333333333333333333333333333333333333333333333"
#define ID1 "0123456789abcdef0123456789abcdef"
#define ID2 "fedcba9876543210fedcba9876543210"
#define ID3 "00000000000000000000000000000003"
#define NOW 2000000000LL

static const uint8_t cert_a[] = {0x30, 0x03, 0x02, 0x01, 0x01};
static const uint8_t cert_b[] = {0x30, 0x03, 0x02, 0x01, 0x02};
static const uint8_t ek_cert[] = {0x30, 0x03, 0x02, 0x01, 0x03};
static const uint8_t pub[] = {0x00, 0x04, 0xaa, 0xbb, 0xcc, 0xdd};
static const uint8_t secret[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

static void hash_secret(const uint8_t *s, size_t len, uint8_t out[32])
{
    assert_int_equal(EVP_Digest(s, len, out, NULL, EVP_sha256(), NULL), 1);
}

static struct ks_store_enroll_params params(const char *id, const char *ek, const char *ak,
                                            int64_t ca_id)
{
    struct ks_store_enroll_params p;
    memset(&p, 0, sizeof(p));
    p.id = id;
    p.ek_name = ek;
    p.ek_pub = pub;
    p.ek_pub_len = sizeof(pub);
    p.ek_cert = ca_id ? ek_cert : NULL;
    p.ek_cert_len = ca_id ? sizeof(ek_cert) : 0;
    p.ca_id = ca_id;
    p.ak_id = ak;
    p.ak_pub = pub;
    p.ak_pub_len = sizeof(pub);
    hash_secret(secret, sizeof(secret), p.secret_hash);
    p.client = "127.0.0.1";
    p.now = NOW;
    p.lifetime_s = 300;
    p.max_pending = 16;
    p.max_per_ek = 2;
    return p;
}

static int64_t audit_count(struct fx *f, const char *event, const char *outcome)
{
    char sql[160];
    sqlite3 *db = raw_open(f);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit WHERE event = '%s' AND outcome = '%s'",
             event, outcome);
    int64_t n = raw_int(db, sql);
    sqlite3_close(db);
    return n;
}

static void snapshot_ak(struct fx *f, const char *ak, struct ks_store_ak *ret)
{
    struct ks_store_snapshot *snap = NULL;
    assert_int_equal(ks_store_release_snapshot(f->s, ak, NULL, 0, &snap), KS_OK);
    *ret = snap->ak;
    ret->public_blob = NULL;
    ks_store_snapshot_free(snap);
}

static void test_ekca(void **state)
{
    struct fx *f = *state;
    int64_t a = 0, b = 0;
    struct ks_store_ekca *cas = NULL;
    size_t n = 0, unapproved = 99;
    assert_int_equal(ks_store_ekca_add(f->s, ACTOR, "CN=A", cert_a, sizeof(cert_a), true, &a),
                     KS_OK);
    assert_int_equal(ks_store_ekca_add(f->s, ACTOR, "CN=B", cert_b, sizeof(cert_b), false, &b),
                     KS_OK);
    assert_true(a > 0 && b > a);
    assert_int_equal(
        ks_store_ekca_add(f->s, ACTOR, "CN=A again", cert_a, sizeof(cert_a), false, NULL),
        KS_ERR_STORE_EXISTS);
    assert_int_equal(ks_store_ekca_list(f->s, &cas, &n), KS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(cas[0].subject, "CN=A");
    assert_true(cas[0].auto_approve);
    assert_false(cas[1].auto_approve);
    assert_int_equal(cas[1].cert_len, sizeof(cert_b));
    assert_memory_equal(cas[1].cert, cert_b, sizeof(cert_b));
    assert_string_equal(cas[0].added_by, ACTOR);
    assert_false(cas[0].has_crl);
    ks_store_ekca_list_free(cas, n);

    /* CRLs: one per CA, the newest. */
    static const uint8_t crl1[] = {0x30, 0x01, 0x01}, crl2[] = {0x30, 0x01, 0x02};
    assert_int_equal(ks_store_ekca_crl_add(f->s, ACTOR, b, crl1, sizeof(crl1), 100, 200), KS_OK);
    assert_int_equal(ks_store_ekca_crl_add(f->s, ACTOR, b, crl2, sizeof(crl2), 150, 0), KS_OK);
    assert_int_equal(ks_store_ekca_crl_add(f->s, ACTOR, b, crl1, sizeof(crl1), 100, 200),
                     KS_ERR_STORE_STATE);
    assert_int_equal(ks_store_ekca_crl_add(f->s, ACTOR, 999, crl1, sizeof(crl1), 100, 200),
                     KS_ERR_NOT_FOUND);
    struct ks_store_ek_trust *t = NULL;
    assert_int_equal(ks_store_ek_trust_load(f->s, &t), KS_OK);
    assert_int_equal(t->n_cas, 2);
    assert_int_equal(t->n_crls, 1);
    assert_int_equal(t->crls[0].ca_id, b);
    assert_memory_equal(t->crls[0].der, crl2, sizeof(crl2));
    assert_true(t->cas[1].has_crl);
    assert_int_equal(t->cas[1].crl_this_update, 150);
    assert_int_equal(t->cas[1].crl_next_update, 0);
    ks_store_ek_trust_free(t);

    assert_int_equal(ks_store_ekca_set_auto_approve(f->s, ACTOR, b, true), KS_OK);
    assert_int_equal(ks_store_ekca_set_auto_approve(f->s, ACTOR, 999, true), KS_ERR_NOT_FOUND);
    assert_int_equal(ks_store_ekca_remove(f->s, ACTOR, b, &unapproved), KS_OK);
    assert_int_equal(unapproved, 0);
    assert_int_equal(ks_store_ekca_remove(f->s, ACTOR, b, NULL), KS_ERR_NOT_FOUND);
    assert_int_equal(ks_store_ek_trust_load(f->s, &t), KS_OK);
    assert_int_equal(t->n_cas, 1);
    assert_int_equal(t->n_crls, 0); /* the CRL went with its CA */
    ks_store_ek_trust_free(t);

    assert_int_equal(audit_count(f, "ekca.add", "ok"), 2);
    assert_int_equal(audit_count(f, "ekca.crl.add", "ok"), 2);
    assert_int_equal(audit_count(f, "ekca.remove", "ok"), 1);
    assert_int_equal(audit_count(f, "ekca.auto_approve", "ok"), 1);
    /* Argument checks. */
    assert_int_equal(ks_store_ekca_add(f->s, ACTOR, "x", NULL, 0, false, NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_ekca_add(f->s, "", "x", cert_a, 5, false, NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_ekca_remove(f->s, ACTOR, 0, NULL), KS_ERR_INVALID_ARG);
}

/* Enroll with a certificate under an auto-approve CA, activate: the EK is
 * recorded approved, the AK active and bound; then every way of stopping
 * that EK stops its AK at once. */
static void test_enroll_lifecycle(void **state)
{
    struct fx *f = *state;
    int64_t ca = 0;
    struct ks_store_enroll_result res;
    struct ks_store_ak ak;
    struct ks_store_ek_info info;
    assert_int_equal(ks_store_ekca_add(f->s, ACTOR, "CN=A", cert_a, sizeof(cert_a), true, &ca),
                     KS_OK);
    struct ks_store_enroll_params p = params(ID1, EK1, AK1, ca);
    assert_int_equal(ks_store_enroll_begin(f->s, "keyserverd", &p, &res), KS_OK);
    assert_string_equal(res.reason, "");
    assert_int_equal(ks_store_enroll_activate(f->s, "keyserverd", ID1, secret, sizeof(secret),
                                              "127.0.0.1", NOW + 10, &res),
                     KS_OK);
    assert_string_equal(res.ak_id, AK1);
    assert_string_equal(res.ek_name, EK1);
    assert_true(res.ek_approved);
    snapshot_ak(f, AK1, &ak);
    assert_int_equal(ak.state, KS_AK_ACTIVE);
    assert_true(ak.has_ek && ak.ek_approved);
    assert_false(ak.vouched);
    uint8_t *cert = NULL, *ekpub = NULL;
    size_t cert_len = 0, ekpub_len = 0;
    assert_int_equal(ks_store_ek_get(f->s, EK1, &info, &ekpub, &ekpub_len, &cert, &cert_len),
                     KS_OK);
    assert_true(info.approved && info.has_cert && !info.revoked);
    assert_string_equal(info.approved_via, "ca");
    assert_int_equal(info.approved_ca_id, ca);
    assert_int_equal(info.ca_id, ca);
    assert_int_equal(info.n_aks, 1);
    assert_int_equal(info.n_active_aks, 1);
    assert_memory_equal(cert, ek_cert, sizeof(ek_cert));
    assert_memory_equal(ekpub, pub, sizeof(pub));
    free(cert);
    free(ekpub);

    /* A second AK of the same machine: the EK is known and approved. */
    p = params(ID2, EK1, AK2, ca);
    assert_int_equal(ks_store_enroll_begin(f->s, "keyserverd", &p, &res), KS_OK);
    assert_int_equal(ks_store_enroll_activate(f->s, "keyserverd", ID2, secret, sizeof(secret), NULL,
                                              NOW + 10, &res),
                     KS_OK);
    assert_true(res.ek_approved);

    /* Removing the CA withdraws its approval: both AKs stop. */
    size_t unapproved = 0;
    assert_int_equal(ks_store_ekca_remove(f->s, ACTOR, ca, &unapproved), KS_OK);
    assert_int_equal(unapproved, 1);
    snapshot_ak(f, AK2, &ak);
    assert_true(ak.has_ek && !ak.ek_approved);
    /* An admin approves the machine. */
    assert_int_equal(ks_store_ek_set_approval(f->s, ACTOR, EK1, true), KS_OK);
    snapshot_ak(f, AK1, &ak);
    assert_true(ak.ek_approved);
    assert_int_equal(ks_store_ek_get(f->s, EK1, &info, NULL, NULL, NULL, NULL), KS_OK);
    assert_string_equal(info.approved_via, "admin");
    assert_string_equal(info.approved_by, ACTOR);
    assert_int_equal(info.ca_id, 0); /* the CA is gone */
    /* ... and withdraws it. */
    assert_int_equal(ks_store_ek_set_approval(f->s, ACTOR, EK1, false), KS_OK);
    snapshot_ak(f, AK1, &ak);
    assert_false(ak.ek_approved);
    assert_int_equal(ks_store_ek_set_approval(f->s, ACTOR, EK1, true), KS_OK);

    /* Revocation: at once, for good. */
    assert_int_equal(ks_store_ek_revoke(f->s, ACTOR, EK1, "key compromised"), KS_OK);
    snapshot_ak(f, AK1, &ak);
    assert_false(ak.ek_approved);
    assert_int_equal(ks_store_ek_revoke(f->s, ACTOR, EK1, NULL), KS_ERR_STORE_STATE);
    assert_int_equal(ks_store_ek_set_approval(f->s, ACTOR, EK1, true), KS_ERR_STORE_STATE);
    assert_int_equal(ks_store_ek_remove(f->s, ACTOR, EK1, NULL), KS_ERR_STORE_STATE);
    /* The older API cannot approve it either (the trigger). */
    assert_int_not_equal(ks_store_ek_approve(f->s, ACTOR, EK1, true), KS_OK);
    snapshot_ak(f, AK1, &ak);
    assert_false(ak.ek_approved);
    assert_int_equal(ks_store_ek_get(f->s, EK1, &info, NULL, NULL, NULL, NULL), KS_OK);
    assert_true(info.revoked);
    assert_string_equal(info.revoke_reason, "key compromised");
    /* And it cannot enroll again. */
    p = params(ID3, EK1, AK3, 0);
    assert_int_equal(ks_store_enroll_begin(f->s, "keyserverd", &p, &res), KS_ERR_EK_REVOKED);
    assert_string_equal(res.reason, "EK is revoked");
    assert_int_equal(audit_count(f, "ek.revoke", "ok"), 1);
    assert_int_equal(audit_count(f, "enroll", "refused"), 1);
    assert_int_equal(audit_count(f, "enroll.activate", "ok"), 2);

    struct ks_audit_verify v;
    assert_int_equal(ks_store_audit_verify(f->s, &v), KS_OK);
}

static void test_ek_remove(void **state)
{
    struct fx *f = *state;
    struct ks_store_ak ak;
    size_t revoked = 0;
    /* An admin-added EK with a vouched AK bound to it. */
    assert_int_equal(ks_store_ek_add(f->s, ACTOR, EK2, pub, sizeof(pub), NULL, 0), KS_OK);
    assert_int_equal(ks_store_ak_add(f->s, ACTOR, AK1, pub, sizeof(pub), EK2), KS_OK);
    assert_int_equal(ks_store_ek_set_approval(f->s, ACTOR, EK2, true), KS_OK);
    snapshot_ak(f, AK1, &ak);
    assert_true(ak.has_ek && ak.ek_approved && ak.state == KS_AK_ACTIVE);
    assert_int_equal(ks_store_ek_remove(f->s, ACTOR, EK2, &revoked), KS_OK);
    assert_int_equal(revoked, 1);
    snapshot_ak(f, AK1, &ak);
    assert_int_equal(ak.state, KS_AK_REVOKED);
    assert_false(ak.has_ek);
    struct ks_store_ek_info info;
    assert_int_equal(ks_store_ek_get(f->s, EK2, &info, NULL, NULL, NULL, NULL),
                     KS_ERR_STORE_UNKNOWN_EK);
    assert_int_equal(ks_store_ek_remove(f->s, ACTOR, EK2, NULL), KS_ERR_STORE_UNKNOWN_EK);
    assert_int_equal(ks_store_ek_set_approval(f->s, ACTOR, EK2, true), KS_ERR_STORE_UNKNOWN_EK);
    assert_int_equal(ks_store_ek_revoke(f->s, ACTOR, EK2, NULL), KS_ERR_STORE_UNKNOWN_EK);
    struct ks_store_ek_info *list = NULL;
    size_t n = 9;
    assert_int_equal(ks_store_ek_list(f->s, &list, &n), KS_OK);
    assert_int_equal(n, 0);
    free(list);
    assert_int_equal(audit_count(f, "ek.remove", "ok"), 1);
}

static void test_enroll_refusals(void **state)
{
    struct fx *f = *state;
    int64_t ca = 0;
    struct ks_store_enroll_result res;
    assert_int_equal(ks_store_ekca_add(f->s, ACTOR, "CN=B", cert_b, sizeof(cert_b), false, &ca),
                     KS_OK);
    /* No certificate and an unknown EK. */
    struct ks_store_enroll_params p = params(ID1, EK1, AK1, 0);
    assert_int_equal(ks_store_enroll_begin(f->s, "keyserverd", &p, &res), KS_ERR_EK_NOT_APPROVED);
    assert_non_null(strstr(res.reason, "unknown"));
    /* Known but not approved. */
    assert_int_equal(ks_store_ek_add(f->s, ACTOR, EK1, pub, sizeof(pub), NULL, 0), KS_OK);
    assert_int_equal(ks_store_enroll_begin(f->s, "keyserverd", &p, &res), KS_ERR_EK_NOT_APPROVED);
    /* Approved: accepted. */
    assert_int_equal(ks_store_ek_set_approval(f->s, ACTOR, EK1, true), KS_OK);
    assert_int_equal(ks_store_enroll_begin(f->s, "keyserverd", &p, &res), KS_OK);
    /* The same id twice is a constraint violation, not a second enrollment. */
    assert_int_equal(ks_store_enroll_begin(f->s, "keyserverd", &p, &res), KS_ERR_STORE_EXISTS);
    /* The per-EK cap (2 here). */
    p = params(ID2, EK1, AK2, ca);
    assert_int_equal(ks_store_enroll_begin(f->s, "keyserverd", &p, &res), KS_OK);
    p = params(ID3, EK1, AK3, ca);
    assert_int_equal(ks_store_enroll_begin(f->s, "keyserverd", &p, &res), KS_ERR_ENROLL_TOO_MANY);
    assert_non_null(strstr(res.reason, "for this EK"));
    /* The total cap. */
    p = params(ID3, EK2, AK3, ca);
    p.max_pending = 2;
    assert_int_equal(ks_store_enroll_begin(f->s, "keyserverd", &p, &res), KS_ERR_ENROLL_TOO_MANY);
    /* Expired ones do not count. */
    p.now = NOW + 301;
    assert_int_equal(ks_store_enroll_begin(f->s, "keyserverd", &p, &res), KS_OK);
    /* An AK that is already registered. */
    assert_int_equal(
        ks_store_ak_add(f->s, ACTOR,
                        "000b4444444444444444444444444444444444444444444444444444444444444444", pub,
                        sizeof(pub), NULL),
        KS_OK);
    p = params("00000000000000000000000000000004", EK2,
               "000b4444444444444444444444444444444444444444444444444444444444444444", ca);
    p.now = NOW + 301;
    assert_int_equal(ks_store_enroll_begin(f->s, "keyserverd", &p, &res), KS_ERR_ENROLL_REFUSED);
    assert_string_equal(res.reason, "AK is already registered");
    assert_int_equal(audit_count(f, "enroll", "refused"), 5);
    assert_int_equal(audit_count(f, "enroll", "ok"), 3);
    /* Malformed arguments. */
    p = params("XYZ", EK2, AK3, 0);
    assert_int_equal(ks_store_enroll_begin(f->s, "keyserverd", &p, &res), KS_ERR_INVALID_ARG);
    p = params(ID3, EK2, AK3, 0);
    p.lifetime_s = 0;
    assert_int_equal(ks_store_enroll_begin(f->s, "keyserverd", &p, &res), KS_ERR_INVALID_ARG);
    p = params(ID3, EK2, AK3, 0);
    p.ca_id = ca; /* a CA without a certificate */
    assert_int_equal(ks_store_enroll_begin(f->s, "keyserverd", &p, &res), KS_ERR_INVALID_ARG);
}

static void test_activate_refusals(void **state)
{
    struct fx *f = *state;
    int64_t ca = 0;
    struct ks_store_enroll_result res;
    struct ks_store_ak ak;
    uint8_t wrong[32];
    memcpy(wrong, secret, sizeof(wrong));
    wrong[31] ^= 1;
    assert_int_equal(ks_store_ekca_add(f->s, ACTOR, "CN=B", cert_b, sizeof(cert_b), false, &ca),
                     KS_OK);
    struct ks_store_enroll_params p = params(ID1, EK1, AK1, ca);
    assert_int_equal(ks_store_enroll_begin(f->s, "keyserverd", &p, &res), KS_OK);
    p = params(ID2, EK2, AK2, ca);
    assert_int_equal(ks_store_enroll_begin(f->s, "keyserverd", &p, &res), KS_OK);
    p = params(ID3, EK2, AK3, ca);
    assert_int_equal(ks_store_enroll_begin(f->s, "keyserverd", &p, &res), KS_OK);

    /* Unknown id. */
    assert_int_equal(ks_store_enroll_activate(f->s, "keyserverd",
                                              "00000000000000000000000000000009", secret,
                                              sizeof(secret), NULL, NOW, &res),
                     KS_ERR_ENROLL_UNKNOWN);
    /* Wrong secret: refused, and the enrollment is consumed. */
    assert_int_equal(ks_store_enroll_activate(f->s, "keyserverd", ID1, wrong, sizeof(wrong), NULL,
                                              NOW + 1, &res),
                     KS_ERR_ENROLL_SECRET);
    assert_string_equal(res.ak_id, AK1);
    assert_int_equal(ks_store_enroll_activate(f->s, "keyserverd", ID1, secret, sizeof(secret), NULL,
                                              NOW + 2, &res),
                     KS_ERR_ENROLL_USED);
    assert_int_equal(
        ks_store_release_snapshot(f->s, AK1, NULL, 0, &(struct ks_store_snapshot *){NULL}),
        KS_ERR_STORE_UNKNOWN_AK);
    /* Expired. */
    assert_int_equal(ks_store_enroll_activate(f->s, "keyserverd", ID2, secret, sizeof(secret), NULL,
                                              NOW + 301, &res),
                     KS_ERR_ENROLL_EXPIRED);
    /* The CA removed between enroll and activate. */
    assert_int_equal(ks_store_ekca_remove(f->s, ACTOR, ca, NULL), KS_OK);
    assert_int_equal(ks_store_enroll_activate(f->s, "keyserverd", ID3, secret, sizeof(secret), NULL,
                                              NOW + 3, &res),
                     KS_ERR_ENROLL_REFUSED);
    assert_non_null(strstr(res.reason, "removed"));
    assert_int_equal(audit_count(f, "enroll.activate", "refused"), 5);

    /* A certified EK under a CA without auto-approval: the AK is active
     * but its EK waits for an admin. */
    int64_t ca2 = 0;
    assert_int_equal(ks_store_ekca_add(f->s, ACTOR, "CN=A", cert_a, sizeof(cert_a), false, &ca2),
                     KS_OK);
    p = params("0000000000000000000000000000000a", EK2, AK2, ca2);
    p.now = NOW + 10;
    assert_int_equal(ks_store_enroll_begin(f->s, "keyserverd", &p, &res), KS_OK);
    assert_int_equal(ks_store_enroll_activate(f->s, "keyserverd",
                                              "0000000000000000000000000000000a", secret,
                                              sizeof(secret), NULL, NOW + 11, &res),
                     KS_OK);
    assert_false(res.ek_approved);
    snapshot_ak(f, AK2, &ak);
    assert_true(ak.state == KS_AK_ACTIVE && ak.has_ek && !ak.ek_approved);
    /* Retention: long after expiry the rows are gone: unknown, not used. */
    p = params("0000000000000000000000000000000b", EK1, AK3, ca2);
    p.now = NOW + 300 + KS_STORE_ENROLL_RETAIN_S + 10;
    assert_int_equal(ks_store_enroll_begin(f->s, "keyserverd", &p, &res), KS_OK);
    assert_int_equal(ks_store_enroll_activate(f->s, "keyserverd", ID1, secret, sizeof(secret), NULL,
                                              p.now, &res),
                     KS_ERR_ENROLL_UNKNOWN);
    struct ks_audit_verify v;
    assert_int_equal(ks_store_audit_verify(f->s, &v), KS_OK);
    /* Arguments. */
    assert_int_equal(ks_store_enroll_activate(f->s, "keyserverd", "zz", secret, 32, NULL, 0, &res),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_enroll_activate(f->s, "keyserverd", ID1, secret, 0, NULL, 0, &res),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_store_enroll_activate(f->s, "keyserverd", ID1, secret, 65, NULL, 0, &res),
                     KS_ERR_INVALID_ARG);
}

/* The schema keeps the rules even against a writer that bypasses the
 * store. */
static void test_schema_guards(void **state)
{
    struct fx *f = *state;
    assert_int_equal(ks_store_ek_add(f->s, ACTOR, EK1, pub, sizeof(pub), NULL, 0), KS_OK);
    assert_int_equal(ks_store_ek_revoke(f->s, ACTOR, EK1, NULL), KS_OK);
    sqlite3 *db = raw_open(f);
    assert_int_equal(raw_exec(db, "UPDATE eks SET revoked = 0"), SQLITE_CONSTRAINT_TRIGGER);
    assert_int_equal(
        raw_exec(db, "UPDATE eks SET approved = 1, approved_by = 'x', approved_at = 1"),
        SQLITE_CONSTRAINT_TRIGGER);
    assert_int_equal(raw_exec(db, "INSERT INTO enrollments (id, ek_name, ek_public, ak_id, "
                                  "ak_public, secret_hash, created_at, expires_at, state) "
                                  "VALUES ('abc', '000b', x'00', '000b', x'00', x'00', 1, 2, "
                                  "'pending')"),
                     SQLITE_CONSTRAINT_CHECK);
    /* Even with the trigger gone (a hand edit), the release snapshot does not
     * count a revoked EK as approved. */
    assert_int_equal(ks_store_ak_add(f->s, ACTOR, AK1, pub, sizeof(pub), EK1), KS_OK);
    assert_int_equal(raw_exec(db, "DROP TRIGGER eks_revoked_not_approved_update"), SQLITE_OK);
    assert_int_equal(raw_exec(db, "UPDATE eks SET approved = 1, approved_by = 'x', "
                                  "approved_at = 1"),
                     SQLITE_OK);
    struct ks_store_ak ak;
    snapshot_ak(f, AK1, &ak);
    assert_true(ak.has_ek);
    assert_false(ak.ek_approved);
    sqlite3_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ekca, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_enroll_lifecycle, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_ek_remove, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_enroll_refusals, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_activate_refusals, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_schema_guards, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
