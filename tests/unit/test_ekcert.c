/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ekcert.h"
#include "tpm_public.h"

/*
 * EK certificates. Real data: the EK certificates swtpm_localca issued for
 * swtpm's RSA-2048 and ECC P-384 EKs, with their CA chain and public areas
 * (tests/data/certs/swtpm-localca), and the TPM vendors' EK CAs
 * (tests/data/certs/vendor-ek-ca). Made here with OpenSSL: a CA hierarchy
 * with an EK certificate in the TCG profile's shape (critical SAN with a
 * directoryName of TPM attributes, critical subjectDirectoryAttributes, no
 * digitalSignature), expired and revoked ones, and CRLs.
 */

/* 2030-01-01 and a year, for the certificates made here. */
#define T0 1893456000LL
#define YEAR (365LL * 86400)

static uint8_t *read_data(const char *rel, size_t *len)
{
    return unit_read(rel, len);
}

static struct ks_ekcert *load_cert(const char *rel)
{
    size_t len, n = 0;
    struct ks_ekcert **certs = NULL;
    uint8_t *buf = read_data(rel, &len);
    assert_int_equal(ks_ekcert_parse_file(buf, len, &certs, &n), KS_OK);
    assert_int_equal(n, 1);
    struct ks_ekcert *c = certs[0];
    free(certs);
    free(buf);
    return c;
}

static void der_of(const struct ks_ekcert *c, uint8_t **der, size_t *len)
{
    assert_int_equal(ks_ekcert_der(c, der, len), KS_OK);
}

static void add_ca(struct ks_ekca_store *st, const struct ks_ekcert *c, int64_t id)
{
    uint8_t *der;
    size_t len;
    der_of(c, &der, &len);
    assert_int_equal(ks_ekca_store_add_ca(st, der, len, id), KS_OK);
    free(der);
}

static void tpm_pub(const char *rel, TPMT_PUBLIC *pub)
{
    size_t len;
    uint8_t *buf = read_data(rel, &len);
    assert_int_equal(ks_tpm_public_decode(buf, len, pub), KS_OK);
    free(buf);
}

/* Regression (fuzz_ekcert in CI): BER that OpenSSL accepts but that is not
 * DER is refused, in every parse path, instead of being re-encoded to other
 * bytes. */
static void test_regression_ber_certificate(void **state)
{
    size_t len = 0;
    uint8_t *buf = unit_read("fuzz-regressions/ekcert-ber-reencodes.bin", &len);
    struct ks_ekcert *c = NULL;
    size_t der_len = 0;
    assert_int_equal(ks_ekcert_parse(buf, len, &c), KS_ERR_EKCERT_PARSE);
    assert_null(c);
    assert_int_equal(ks_ekcert_parse_nv(buf, len, &c, &der_len), KS_ERR_EKCERT_PARSE);
    assert_null(c);
    free(buf);
}

static void test_swtpm_nv_certs(void **state)
{
    static const char *const names[] = {"rsa2048", "p384"};
    for (size_t i = 0; i < 2; i++) {
        char rel[96];
        size_t len, der_len = 0;
        struct ks_ekcert *c = NULL;
        TPMT_PUBLIC ek, other;
        snprintf(rel, sizeof(rel), "certs/swtpm-localca/ek-%s.nv", names[i]);
        uint8_t *buf = read_data(rel, &len);
        assert_int_equal(ks_ekcert_parse_nv(buf, len, &c, &der_len), KS_OK);
        assert_int_equal(der_len, len);
        snprintf(rel, sizeof(rel), "certs/swtpm-localca/ek-%s.pub", names[i]);
        tpm_pub(rel, &ek);
        snprintf(rel, sizeof(rel), "certs/swtpm-localca/ek-%s.pub", names[1 - i]);
        tpm_pub(rel, &other);
        assert_int_equal(ks_ekcert_check_key(c, &ek), KS_OK);
        assert_int_equal(ks_ekcert_check_key(c, &other), KS_ERR_EKCERT_KEY_MISMATCH);
        struct ks_ekcert_info info;
        assert_int_equal(ks_ekcert_info(c, &info), KS_OK);
        assert_string_equal(info.issuer, "CN=swtpm-localca");
        assert_string_equal(info.serial, i == 0 ? "02" : "04");
        assert_false(info.is_ca);
        /* swtpm_localca: GeneralizedTime 99991231235959Z, "no expiry". */
        assert_int_equal(info.not_after, 253402300799LL);
        ks_ekcert_free(c);

        /* NV indexes are often larger than the certificate. */
        uint8_t *padded = malloc(len + 100);
        memcpy(padded, buf, len);
        memset(padded + len, 0xff, 100);
        assert_int_equal(ks_ekcert_parse_nv(padded, len + 100, &c, &der_len), KS_OK);
        assert_int_equal(der_len, len);
        ks_ekcert_free(c);
        memset(padded + len, 0x00, 100);
        assert_int_equal(ks_ekcert_parse_nv(padded, len + 100, &c, &der_len), KS_OK);
        ks_ekcert_free(c);
        /* ... but padding is padding, and the protocol wants exact DER. */
        padded[len + 50] = 0xff;
        assert_int_equal(ks_ekcert_parse_nv(padded, len + 100, &c, &der_len), KS_ERR_EKCERT_PARSE);
        assert_int_equal(ks_ekcert_parse(padded, len + 1, &c), KS_ERR_EKCERT_PARSE);
        assert_int_equal(ks_ekcert_parse(buf, len - 1, &c), KS_ERR_EKCERT_PARSE);
        free(padded);
        free(buf);
    }
}

static void test_swtpm_chain(void **state)
{
    size_t len, der_len;
    struct ks_ekcert *ek = NULL;
    struct ks_ekcert *issuer = load_cert("certs/swtpm-localca/localca-issuer.pem");
    struct ks_ekcert *root = load_cert("certs/swtpm-localca/localca-root.pem");
    uint8_t *buf = read_data("certs/swtpm-localca/ek-rsa2048.nv", &len);
    struct ks_ekca_store *st = NULL;
    struct ks_ekcert_verdict v;
    assert_int_equal(ks_ekcert_parse_nv(buf, len, &ek, &der_len), KS_OK);

    /* Root and intermediate: the full chain. */
    assert_int_equal(ks_ekca_store_new(&st), KS_OK);
    add_ca(st, root, 7);
    add_ca(st, issuer, 8);
    assert_int_equal(ks_ekcert_verify(st, ek, 0, &v), KS_OK);
    assert_int_equal(v.n_ca, 2);
    assert_int_equal(v.ca_ids[0], 8);
    assert_int_equal(v.ca_ids[1], 7);
    assert_string_equal(v.reason, "");
    /* Before the certificate's notBefore. */
    struct ks_ekcert_info info;
    assert_int_equal(ks_ekcert_info(ek, &info), KS_OK);
    assert_int_equal(ks_ekcert_verify(st, ek, info.not_before - 10, &v),
                     KS_ERR_EKCERT_NOT_YET_VALID);
    assert_non_null(strstr(v.reason, "not yet valid"));
    ks_ekca_store_free(st);

    /* Only the intermediate: a partial chain the admin chose. */
    assert_int_equal(ks_ekca_store_new(&st), KS_OK);
    add_ca(st, issuer, 8);
    assert_int_equal(ks_ekcert_verify(st, ek, 0, &v), KS_OK);
    assert_int_equal(v.n_ca, 1);
    assert_int_equal(v.ca_ids[0], 8);
    ks_ekca_store_free(st);

    /* Only the root: the intermediate is missing. */
    assert_int_equal(ks_ekca_store_new(&st), KS_OK);
    add_ca(st, root, 7);
    assert_int_equal(ks_ekcert_verify(st, ek, 0, &v), KS_ERR_EKCERT_UNTRUSTED);
    assert_non_null(strstr(v.reason, "issuer"));
    ks_ekca_store_free(st);

    /* Nothing trusted. */
    assert_int_equal(ks_ekca_store_new(&st), KS_OK);
    assert_int_equal(ks_ekcert_verify(st, ek, 0, &v), KS_ERR_EKCERT_UNTRUSTED);
    /* An EK certificate is not a CA. */
    uint8_t *der;
    size_t dlen;
    der_of(ek, &der, &dlen);
    assert_int_equal(ks_ekca_store_add_ca(st, der, dlen, 1), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_ekca_store_add_ca(st, der, dlen - 1, 1), KS_ERR_EKCERT_PARSE);
    free(der);
    ks_ekca_store_free(st);
    ks_ekcert_free(ek);
    ks_ekcert_free(issuer);
    ks_ekcert_free(root);
    free(buf);
}

/* The vendors' CAs: all parse and are CAs; real intermediate -> root
 * chains verify; Infineon's intermediates do not verify against the root
 * they name (it exists only cross-signed), so they are anchors themselves
 * or nothing. */
static void test_vendor_cas(void **state)
{
    static const char *const pairs[][2] = {
        {"INF_RSA_010I", "INF_RSA_010RT"},
        {"INF_ECC_010I", "INF_ECC_010RT"},
        {"INTEL_I", "INTEL_RT"},
    };
    struct ks_ekcert_verdict v;
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        char a[128], b[128];
        snprintf(a, sizeof(a), "certs/vendor-ek-ca/%s.pem", pairs[i][0]);
        snprintf(b, sizeof(b), "certs/vendor-ek-ca/%s.pem", pairs[i][1]);
        struct ks_ekcert *inter = load_cert(a), *root = load_cert(b);
        struct ks_ekca_store *st = NULL;
        struct ks_ekcert_info info;
        assert_int_equal(ks_ekcert_info(inter, &info), KS_OK);
        assert_true(info.is_ca);
        assert_false(info.self_signed);
        assert_int_equal(ks_ekcert_info(root, &info), KS_OK);
        assert_true(info.self_signed);
        assert_int_equal(ks_ekca_store_new(&st), KS_OK);
        add_ca(st, root, 1);
        /* Inside both validity periods. */
        assert_int_equal(ks_ekcert_verify(st, inter, T0, &v), KS_OK);
        assert_int_equal(v.n_ca, 1);
        ks_ekca_store_free(st);
        ks_ekcert_free(inter);
        ks_ekcert_free(root);
    }
    struct ks_ekcert *ifx = load_cert("certs/vendor-ek-ca/IFX_RSA_08I.pem");
    struct ks_ekcert *ifx_root = load_cert("certs/vendor-ek-ca/IFX_RSA_RT.pem");
    struct ks_ekca_store *st = NULL;
    assert_int_equal(ks_ekca_store_new(&st), KS_OK);
    add_ca(st, ifx_root, 1);
    assert_int_equal(ks_ekcert_verify(st, ifx, T0, &v), KS_ERR_EKCERT_UNTRUSTED);
    ks_ekca_store_free(st);
    ks_ekcert_free(ifx);
    ks_ekcert_free(ifx_root);
    /* The Nuvoton root's multi-valued RDN parses and prints. */
    struct ks_ekcert *nuvo = load_cert("certs/vendor-ek-ca/NUVO_2111.pem");
    struct ks_ekcert_info info;
    assert_int_equal(ks_ekcert_info(nuvo, &info), KS_OK);
    assert_non_null(strstr(info.issuer, "Nuvoton TPM Root CA 2111"));
    ks_ekcert_free(nuvo);
}

/* ---- certificates made here ---------------------------------------------- */

struct pki {
    EVP_PKEY *root_key, *inter_key, *other_key;
    X509 *root, *inter, *other;
    EVP_PKEY *ek_key;
    TPMT_PUBLIC ek_pub;
};

static void set_name(X509_NAME *n, const char *cn)
{
    assert_int_equal(
        X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0), 1);
}

static void add_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(x, ext, -1), 1);
    X509_EXTENSION_free(ext);
}

/* An extension by OID with raw DER contents. */
static void add_raw_ext(X509 *x, const char *oid, bool critical, const uint8_t *der, size_t len)
{
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    assert_true(ASN1_OCTET_STRING_set(os, der, (int)len));
    X509_EXTENSION *ext = X509_EXTENSION_create_by_OBJ(NULL, obj, critical ? 1 : 0, os);
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(x, ext, -1), 1);
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(obj);
}

/* The TCG EK profile's SAN: a directoryName of tcg-at-tpmManufacturer,
 * tpmModel and tpmVersion (2.23.133.2.1/2/3), critical (the subject is
 * empty). */
static void add_tpm_san(X509 *x)
{
    X509_NAME *dn = X509_NAME_new();
    static const char *const attrs[][2] = {
        {"2.23.133.2.1", "id:49465800"}, {"2.23.133.2.2", "SLB9670"}, {"2.23.133.2.3", "id:0007"}};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(X509_NAME_add_entry_by_txt(dn, attrs[i][0], MBSTRING_ASC,
                                                    (const unsigned char *)attrs[i][1], -1, -1, 1),
                         1);
    }
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    GENERAL_NAME *gen = GENERAL_NAME_new();
    GENERAL_NAME_set0_value(gen, GEN_DIRNAME, dn);
    sk_GENERAL_NAME_push(gens, gen);
    assert_int_equal(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 1, X509V3_ADD_DEFAULT), 1);
    GENERAL_NAMES_free(gens);
}

enum kind { CA, EK, EK_UNKNOWN_CRITICAL };

static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
                       long serial, int64_t not_before, int64_t not_after, enum kind kind)
{
    X509 *x = X509_new();
    assert_int_equal(X509_set_version(x, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
    assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), (time_t)not_before));
    assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), (time_t)not_after));
    assert_int_equal(X509_set_pubkey(x, key), 1);
    if (kind == CA) {
        set_name(X509_get_subject_name(x), cn);
        add_ext(x, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        /* EK profile: empty subject, identity in the critical SAN. */
        add_tpm_san(x);
        add_ext(x, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(x, NID_key_usage, "critical,keyAgreement");
        add_ext(x, NID_ext_key_usage, "2.23.133.8.1");
        /* subjectDirectoryAttributes: SEQUENCE { tcg-at-tpmSpecification } */
        static const uint8_t sda[] = {0x30, 0x16, 0x30, 0x14, 0x06, 0x05, 0x67, 0x81, 0x05,
                                      0x02, 0x10, 0x31, 0x0b, 0x30, 0x09, 0x0c, 0x03, 0x32,
                                      0x2e, 0x30, 0x02, 0x01, 0x00, 0x02, 0x01, 0x64};
        add_raw_ext(x, "2.5.29.9", true, sda, sizeof(sda));
        if (kind == EK_UNKNOWN_CRITICAL) {
            static const uint8_t null_der[] = {0x05, 0x00};
            add_raw_ext(x, "1.3.6.1.4.1.55555.1", true, null_der, sizeof(null_der));
        }
    }
    X509 *iss = issuer ? issuer : x;
    assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(iss)), 1);
    assert_true(X509_sign(x, issuer_key, EVP_sha256()) > 0);
    return x;
}

static struct ks_ekcert *wrap(X509 *x)
{
    unsigned char *der = NULL;
    int len = i2d_X509(x, &der);
    struct ks_ekcert *c = NULL;
    assert_true(len > 0);
    assert_int_equal(ks_ekcert_parse(der, (size_t)len, &c), KS_OK);
    OPENSSL_free(der);
    return c;
}

static void pki_init(struct pki *p)
{
    size_t len;
    memset(p, 0, sizeof(*p));
    p->root_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    p->inter_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    p->other_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    p->root = make_cert("Test EK Root", p->root_key, NULL, p->root_key, 1, T0, T0 + 20 * YEAR, CA);
    p->inter = make_cert("Test EK Intermediate", p->inter_key, p->root, p->root_key, 2, T0,
                         T0 + 10 * YEAR, CA);
    /* Same name as the intermediate, another key: an impostor CA. */
    p->other = make_cert("Test EK Intermediate", p->other_key, NULL, p->other_key, 3, T0,
                         T0 + 10 * YEAR, CA);
    uint8_t *pem = read_data("makecred/ek-p256.priv.pem", &len);
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    p->ek_key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    assert_non_null(p->ek_key);
    BIO_free(bio);
    free(pem);
    tpm_pub("makecred/ek-p256.pub", &p->ek_pub);
}

static void pki_free(struct pki *p)
{
    X509_free(p->root), X509_free(p->inter), X509_free(p->other);
    EVP_PKEY_free(p->root_key), EVP_PKEY_free(p->inter_key), EVP_PKEY_free(p->other_key);
    EVP_PKEY_free(p->ek_key);
}

static struct ks_ekca_store *pki_store(const struct pki *p)
{
    struct ks_ekca_store *st = NULL;
    assert_int_equal(ks_ekca_store_new(&st), KS_OK);
    struct ks_ekcert *root = wrap(p->root), *inter = wrap(p->inter);
    add_ca(st, root, 100);
    add_ca(st, inter, 200);
    ks_ekcert_free(root);
    ks_ekcert_free(inter);
    return st;
}

static void test_profile_ek_cert(void **state)
{
    struct pki p;
    struct ks_ekcert_verdict v;
    pki_init(&p);
    struct ks_ekca_store *st = pki_store(&p);
    X509 *x = make_cert(NULL, p.ek_key, p.inter, p.inter_key, 1001, T0 + 10, T0 + 5 * YEAR, EK);
    struct ks_ekcert *ek = wrap(x);
    assert_int_equal(ks_ekcert_check_key(ek, &p.ek_pub), KS_OK);
    assert_int_equal(ks_ekcert_verify(st, ek, T0 + YEAR, &v), KS_OK);
    assert_int_equal(v.n_ca, 2);
    assert_int_equal(v.ca_ids[0], 200);
    assert_int_equal(v.ca_ids[1], 100);
    /* Expired, and not yet valid. */
    assert_int_equal(ks_ekcert_verify(st, ek, T0 + 6 * YEAR, &v), KS_ERR_EKCERT_EXPIRED);
    assert_non_null(strstr(v.reason, "expired"));
    assert_int_equal(ks_ekcert_verify(st, ek, T0 - 1, &v), KS_ERR_EKCERT_NOT_YET_VALID);
    /* The same certificate with an unknown critical extension. */
    X509 *bad = make_cert(NULL, p.ek_key, p.inter, p.inter_key, 1002, T0, T0 + 5 * YEAR,
                          EK_UNKNOWN_CRITICAL);
    struct ks_ekcert *ek_bad = wrap(bad);
    assert_int_equal(ks_ekcert_verify(st, ek_bad, T0 + YEAR, &v), KS_ERR_EKCERT_UNTRUSTED);
    assert_non_null(strstr(v.reason, "critical"));
    /* Signed by an impostor with the intermediate's name. */
    X509 *imp = make_cert(NULL, p.ek_key, p.other, p.other_key, 1003, T0, T0 + 5 * YEAR, EK);
    struct ks_ekcert *ek_imp = wrap(imp);
    assert_int_equal(ks_ekcert_verify(st, ek_imp, T0 + YEAR, &v), KS_ERR_EKCERT_UNTRUSTED);
    /* A key that is not the presented EK's. */
    TPMT_PUBLIC other;
    tpm_pub("makecred/ek-p384.pub", &other);
    assert_int_equal(ks_ekcert_check_key(ek, &other), KS_ERR_EKCERT_KEY_MISMATCH);
    TPMT_PUBLIC unsupported = p.ek_pub;
    unsupported.parameters.eccDetail.curveID = TPM2_ECC_BN_P256;
    assert_int_equal(ks_ekcert_check_key(ek, &unsupported), KS_ERR_TPM_KEY);
    ks_ekcert_free(ek), ks_ekcert_free(ek_bad), ks_ekcert_free(ek_imp);
    X509_free(x), X509_free(bad), X509_free(imp);
    ks_ekca_store_free(st);
    pki_free(&p);
}

static uint8_t *make_crl(X509 *issuer, EVP_PKEY *key, long revoked_serial, int64_t this_update,
                         int64_t next_update, size_t *len)
{
    X509_CRL *crl = X509_CRL_new();
    assert_int_equal(X509_CRL_set_version(crl, 1), 1);
    assert_int_equal(X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)), 1);
    ASN1_TIME *t = ASN1_TIME_set(NULL, (time_t)this_update);
    assert_int_equal(X509_CRL_set1_lastUpdate(crl, t), 1);
    ASN1_TIME_set(t, (time_t)next_update);
    assert_int_equal(X509_CRL_set1_nextUpdate(crl, t), 1);
    if (revoked_serial) {
        X509_REVOKED *rev = X509_REVOKED_new();
        ASN1_INTEGER *sn = ASN1_INTEGER_new();
        ASN1_INTEGER_set(sn, revoked_serial);
        X509_REVOKED_set_serialNumber(rev, sn);
        ASN1_TIME_set(t, (time_t)this_update);
        X509_REVOKED_set_revocationDate(rev, t);
        assert_int_equal(X509_CRL_add0_revoked(crl, rev), 1);
        ASN1_INTEGER_free(sn);
    }
    ASN1_TIME_free(t);
    assert_true(X509_CRL_sort(crl));
    assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
    unsigned char *der = NULL;
    int n = i2d_X509_CRL(crl, &der);
    assert_true(n > 0);
    uint8_t *out = malloc((size_t)n);
    memcpy(out, der, (size_t)n);
    *len = (size_t)n;
    OPENSSL_free(der);
    X509_CRL_free(crl);
    return out;
}

static void test_crls(void **state)
{
    struct pki p;
    struct ks_ekcert_verdict v;
    struct ks_ekcrl_info info;
    uint8_t *der = NULL;
    size_t der_len, len, len2, len3;
    bool listed;
    pki_init(&p);
    X509 *x = make_cert(NULL, p.ek_key, p.inter, p.inter_key, 4242, T0, T0 + 5 * YEAR, EK);
    struct ks_ekcert *ek = wrap(x);
    struct ks_ekcert *inter = wrap(p.inter), *root = wrap(p.root);

    /* A CRL of the intermediate that revokes the EK certificate. */
    uint8_t *crl = make_crl(p.inter, p.inter_key, 4242, T0 + 100, T0 + 200, &len);
    assert_int_equal(ks_ekcrl_check(crl, len, inter, &info, &der, &der_len), KS_OK);
    assert_int_equal(der_len, len);
    assert_memory_equal(der, crl, len);
    assert_int_equal(info.this_update, T0 + 100);
    assert_int_equal(info.next_update, T0 + 200);
    assert_int_equal(info.n_revoked, 1);
    assert_string_equal(info.issuer, "CN=Test EK Intermediate");
    free(der);
    /* Not the root's CRL. */
    assert_int_equal(ks_ekcrl_check(crl, len, root, &info, &der, &der_len),
                     KS_ERR_EKCERT_UNTRUSTED);
    assert_int_equal(ks_ekcrl_lists(crl, len, ek, &listed), KS_OK);
    assert_true(listed);

    struct ks_ekca_store *st = pki_store(&p);
    assert_int_equal(ks_ekcert_verify(st, ek, T0 + 150, &v), KS_OK); /* no CRL yet */
    assert_int_equal(ks_ekca_store_add_crl(st, crl, len), KS_OK);
    assert_int_equal(ks_ekcert_verify(st, ek, T0 + 150, &v), KS_ERR_EKCERT_REVOKED);
    assert_non_null(strstr(v.reason, "revoked"));
    /* A stale CRL still revokes. */
    assert_int_equal(ks_ekcert_verify(st, ek, T0 + YEAR, &v), KS_ERR_EKCERT_REVOKED);
    ks_ekca_store_free(st);

    /* A CRL that lists another serial: not revoked, also when stale. */
    uint8_t *crl2 = make_crl(p.inter, p.inter_key, 7, T0 + 100, T0 + 200, &len2);
    assert_int_equal(ks_ekcrl_lists(crl2, len2, ek, &listed), KS_OK);
    assert_false(listed);
    st = pki_store(&p);
    assert_int_equal(ks_ekca_store_add_crl(st, crl2, len2), KS_OK);
    assert_int_equal(ks_ekcert_verify(st, ek, T0 + 150, &v), KS_OK);
    assert_int_equal(ks_ekcert_verify(st, ek, T0 + YEAR, &v), KS_OK);
    ks_ekca_store_free(st);

    /* A CRL signed by the impostor is not the intermediate's. */
    uint8_t *crl3 = make_crl(p.other, p.other_key, 4242, T0 + 100, T0 + 200, &len3);
    assert_int_equal(ks_ekcrl_check(crl3, len3, inter, &info, &der, &der_len),
                     KS_ERR_EKCERT_UNTRUSTED);
    /* Malformed. */
    assert_int_equal(ks_ekcrl_check(crl, len - 1, inter, &info, &der, &der_len),
                     KS_ERR_EKCERT_PARSE);
    assert_int_equal(ks_ekcrl_lists((const uint8_t *)"xx", 2, ek, &listed), KS_ERR_EKCERT_PARSE);
    st = pki_store(&p);
    assert_int_equal(ks_ekca_store_add_crl(st, (const uint8_t *)"-----BEGIN X509 CRL-----\n", 25),
                     KS_ERR_EKCERT_PARSE);
    ks_ekca_store_free(st);

    free(crl), free(crl2), free(crl3);
    ks_ekcert_free(ek), ks_ekcert_free(inter), ks_ekcert_free(root);
    X509_free(x);
    pki_free(&p);
}

static void test_parse_file(void **state)
{
    struct ks_ekcert **certs = NULL;
    size_t n = 0, len1, len2;
    uint8_t *a = read_data("certs/swtpm-localca/localca-issuer.pem", &len1);
    uint8_t *b = read_data("certs/swtpm-localca/localca-root.pem", &len2);
    uint8_t *both = malloc(len1 + len2);
    memcpy(both, a, len1);
    memcpy(both + len1, b, len2);
    /* A PEM bundle. */
    assert_int_equal(ks_ekcert_parse_file(both, len1 + len2, &certs, &n), KS_OK);
    assert_int_equal(n, 2);
    struct ks_ekcert_info info;
    assert_int_equal(ks_ekcert_info(certs[1], &info), KS_OK);
    assert_string_equal(info.subject, "CN=swtpm-localca-rootca");
    assert_true(info.self_signed && info.is_ca);
    /* DER of one. */
    uint8_t *der;
    size_t der_len;
    der_of(certs[0], &der, &der_len);
    ks_ekcert_free_array(certs, n);
    assert_int_equal(ks_ekcert_parse_file(der, der_len, &certs, &n), KS_OK);
    assert_int_equal(n, 1);
    ks_ekcert_free_array(certs, n);
    /* A broken PEM body. */
    both[len1 + 40] ^= 0x01;
    both[len1 + 41] = '*';
    assert_int_equal(ks_ekcert_parse_file(both, len1 + len2, &certs, &n), KS_ERR_EKCERT_PARSE);
    assert_int_equal(ks_ekcert_parse_file((const uint8_t *)"hello", 5, &certs, &n),
                     KS_ERR_EKCERT_PARSE);
    assert_int_equal(ks_ekcert_parse_file(NULL, 5, &certs, &n), KS_ERR_INVALID_ARG);
    /* Too large for a certificate. */
    struct ks_ekcert *c = NULL;
    uint8_t *huge = calloc(1, KS_EKCERT_MAX_DER + 1);
    assert_int_equal(ks_ekcert_parse(huge, KS_EKCERT_MAX_DER + 1, &c), KS_ERR_TOO_LARGE);
    free(huge);
    free(der), free(a), free(b), free(both);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regression_ber_certificate),
        cmocka_unit_test(test_swtpm_nv_certs),
        cmocka_unit_test(test_swtpm_chain),
        cmocka_unit_test(test_vendor_cas),
        cmocka_unit_test(test_profile_ek_cert),
        cmocka_unit_test(test_crls),
        cmocka_unit_test(test_parse_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
