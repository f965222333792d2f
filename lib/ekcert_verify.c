/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ekcert.h"
#include "ekcert_internal.h"

/* Path validation of EK certificates against the admin's EK CAs, and CRLs
 * (see ekcert.h for the policy and the TPM quirks). */

/* Most CAs one store holds. */
#define STORE_MAX_CAS 4096

struct ca_entry {
    X509 *x509;
    int64_t id;
};

struct ks_ekca_store {
    X509_STORE *store;
    struct ca_entry *cas;
    size_t n_cas, cap;
};

int ks_ekca_store_new(struct ks_ekca_store **ret)
{
    if (!ret) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_ekca_store *st = calloc(1, sizeof(*st));
    if (!st) {
        return KS_ERR_NOMEM;
    }
    st->store = X509_STORE_new();
    if (!st->store) {
        free(st);
        return KS_ERR_NOMEM;
    }
    *ret = st;
    return KS_OK;
}

void ks_ekca_store_free(struct ks_ekca_store *st)
{
    if (!st) {
        return;
    }
    for (size_t i = 0; i < st->n_cas; i++) {
        X509_free(st->cas[i].x509);
    }
    free(st->cas);
    X509_STORE_free(st->store);
    free(st);
}

int ks_ekca_store_add_ca(struct ks_ekca_store *st, const uint8_t *der, size_t len, int64_t id)
{
    struct ks_ekcert *c = NULL;
    if (!st) {
        return KS_ERR_INVALID_ARG;
    }
    if (st->n_cas == STORE_MAX_CAS) {
        return KS_ERR_TOO_LARGE;
    }
    int r = ks_ekcert_parse(der, len, &c);
    if (r != KS_OK) {
        return r;
    }
    X509 *x = ks_ekcert_x509(c);
    /* An anchor must be a CA: with partial chains, a leaf added here would
     * be trusted as itself. */
    if (X509_check_ca(x) == 0) {
        r = KS_ERR_INVALID_ARG;
        goto out;
    }
    if (st->n_cas == st->cap) {
        size_t cap = st->cap ? 2 * st->cap : 16;
        struct ca_entry *n = realloc(st->cas, cap * sizeof(*n));
        if (!n) {
            r = KS_ERR_NOMEM;
            goto out;
        }
        st->cas = n;
        st->cap = cap;
    }
    if (X509_STORE_add_cert(st->store, x) != 1 || X509_up_ref(x) != 1) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    st->cas[st->n_cas].x509 = x;
    st->cas[st->n_cas].id = id;
    st->n_cas++;
    r = KS_OK;
out:
    ERR_clear_error();
    ks_ekcert_free(c);
    return r;
}

static int parse_crl(const uint8_t *buf, size_t len, X509_CRL **ret)
{
    X509_CRL *crl = NULL;
    if (!buf || len == 0) {
        return KS_ERR_EKCERT_PARSE;
    }
    if (len > KS_EKCERT_MAX_DER * 4) {
        return KS_ERR_TOO_LARGE;
    }
    if (ks_ekcert_is_pem(buf, len)) {
        BIO *bio = BIO_new_mem_buf(buf, (int)len);
        crl = bio ? PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
    } else {
        const unsigned char *p = buf;
        crl = d2i_X509_CRL(NULL, &p, (long)len);
        if (crl && (size_t)(p - buf) != len) {
            X509_CRL_free(crl);
            crl = NULL;
        }
    }
    ERR_clear_error();
    if (!crl) {
        return KS_ERR_EKCERT_PARSE;
    }
    *ret = crl;
    return KS_OK;
}

int ks_ekca_store_add_crl(struct ks_ekca_store *st, const uint8_t *crl, size_t len)
{
    X509_CRL *c = NULL;
    if (!st) {
        return KS_ERR_INVALID_ARG;
    }
    int r = parse_crl(crl, len, &c);
    if (r != KS_OK) {
        return r;
    }
    r = X509_STORE_add_crl(st->store, c) == 1 ? KS_OK : KS_ERR_CRYPTO;
    X509_CRL_free(c);
    ERR_clear_error();
    return r;
}

/* Critical extensions OpenSSL does not process that the TCG EK profile may
 * mark critical: subjectDirectoryAttributes (2.5.29.9, the TPM
 * specification) and TCG's own arc 2.23.133. */
static int only_tpm_critical_extensions(const X509 *x)
{
    int n = X509_get_ext_count(x);
    for (int i = 0; i < n; i++) {
        X509_EXTENSION *ext = X509_get_ext(x, i);
        if (!X509_EXTENSION_get_critical(ext) || X509_supported_extension(ext)) {
            continue;
        }
        char oid[80];
        if (OBJ_obj2txt(oid, sizeof(oid), X509_EXTENSION_get_object(ext), 1) <= 0) {
            return 0;
        }
        if (strcmp(oid, "2.5.29.9") != 0 && strncmp(oid, "2.23.133.", 9) != 0) {
            return 0;
        }
    }
    return 1;
}

static int verify_cb(int ok, X509_STORE_CTX *ctx)
{
    if (ok) {
        return 1;
    }
    switch (X509_STORE_CTX_get_error(ctx)) {
    case X509_V_ERR_UNABLE_TO_GET_CRL:
        /* No CRL for this issuer in the store: nothing says it is
         * revoked. Issuers with a CRL are checked against it. */
    case X509_V_ERR_CRL_HAS_EXPIRED:
        /* A stale CRL still lists what it revoked (see ekcert.h). */
        return 1;
    case X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION:
        return only_tpm_critical_extensions(X509_STORE_CTX_get_current_cert(ctx));
    default:
        return 0;
    }
}

static int map_error(int err)
{
    switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return KS_ERR_EKCERT_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return KS_ERR_EKCERT_NOT_YET_VALID;
    case X509_V_ERR_CERT_REVOKED:
        return KS_ERR_EKCERT_REVOKED;
    default:
        return KS_ERR_EKCERT_UNTRUSTED;
    }
}

/* One path validation; partial: any CA of the store is an anchor. */
static int verify_once(const struct ks_ekca_store *st, const struct ks_ekcert *cert, int64_t at,
                       bool partial, struct ks_ekcert_verdict *ret)
{
    struct ks_ekcert_verdict v;
    memset(&v, 0, sizeof(v));
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int r = KS_ERR_NOMEM;
    if (!ctx || X509_STORE_CTX_init(ctx, st->store, ks_ekcert_x509(cert), NULL) != 1) {
        goto out;
    }
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL |
                                           (partial ? X509_V_FLAG_PARTIAL_CHAIN : 0));
    X509_VERIFY_PARAM_set_depth(param, KS_EKCERT_MAX_CHAIN - 1);
    if (at != 0) {
        X509_VERIFY_PARAM_set_time(param, (time_t)at);
    }
    X509_STORE_CTX_set_verify_cb(ctx, verify_cb);
    if (X509_verify_cert(ctx) != 1) {
        int err = X509_STORE_CTX_get_error(ctx);
        char subject[128];
        X509 *bad = X509_STORE_CTX_get_current_cert(ctx);
        if (bad) {
            ks_ekcert_name(X509_get_subject_name(bad), subject, sizeof(subject));
        } else {
            snprintf(subject, sizeof(subject), "?");
        }
        snprintf(v.reason, sizeof(v.reason), "%s (depth %d, %s)",
                 X509_verify_cert_error_string(err), X509_STORE_CTX_get_error_depth(ctx), subject);
        r = map_error(err);
        goto out;
    }
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
    int n = chain ? sk_X509_num(chain) : 0;
    if (n < 2) {
        snprintf(v.reason, sizeof(v.reason), "the certificate is itself a trusted CA");
        r = KS_ERR_EKCERT_UNTRUSTED;
        goto out;
    }
    for (int i = 1; i < n && v.n_ca < KS_EKCERT_MAX_CHAIN; i++) {
        X509 *c = sk_X509_value(chain, i);
        for (size_t j = 0; j < st->n_cas; j++) {
            if (X509_cmp(c, st->cas[j].x509) == 0) {
                v.ca_ids[v.n_ca++] = st->cas[j].id;
                break;
            }
        }
    }
    if (v.n_ca == 0) {
        snprintf(v.reason, sizeof(v.reason), "no CA of the store in the verified chain");
        r = KS_ERR_EKCERT_UNTRUSTED;
        goto out;
    }
    r = KS_OK;
out:
    ERR_clear_error();
    X509_STORE_CTX_free(ctx);
    *ret = v;
    return r;
}

int ks_ekcert_verify(const struct ks_ekca_store *st, const struct ks_ekcert *cert, int64_t at,
                     struct ks_ekcert_verdict *ret)
{
    if (!st || !cert || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    /* With partial chains OpenSSL stops at the first CA of the store; a
     * full path to a self-signed root of the store is tried first so that
     * the verdict names every CA of the store above the EK (an auto-approve
     * flag on the root applies although its intermediate is in the store
     * too). */
    int r = verify_once(st, cert, at, false, ret);
    if (r != KS_OK && r != KS_ERR_NOMEM) {
        r = verify_once(st, cert, at, true, ret);
    }
    return r;
}

int ks_ekcrl_check(const uint8_t *buf, size_t len, const struct ks_ekcert *ca,
                   struct ks_ekcrl_info *ret_info, uint8_t **ret_der, size_t *ret_der_len)
{
    X509_CRL *crl = NULL;
    unsigned char *der = NULL;
    struct ks_ekcrl_info info;
    if (!ca || !ret_info || !ret_der || !ret_der_len) {
        return KS_ERR_INVALID_ARG;
    }
    int r = parse_crl(buf, len, &crl);
    if (r != KS_OK) {
        return r;
    }
    X509 *x = ks_ekcert_x509(ca);
    memset(&info, 0, sizeof(info));
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(x)) != 0 ||
        X509_CRL_verify(crl, X509_get0_pubkey(x)) != 1) {
        r = KS_ERR_EKCERT_UNTRUSTED;
        goto out;
    }
    ks_ekcert_name(X509_CRL_get_issuer(crl), info.issuer, sizeof(info.issuer));
    if ((r = ks_ekcert_time(X509_CRL_get0_lastUpdate(crl), &info.this_update)) != KS_OK ||
        (X509_CRL_get0_nextUpdate(crl) &&
         (r = ks_ekcert_time(X509_CRL_get0_nextUpdate(crl), &info.next_update)) != KS_OK)) {
        goto out;
    }
    STACK_OF(X509_REVOKED) *revoked = X509_CRL_get_REVOKED(crl);
    info.n_revoked = revoked ? (size_t)sk_X509_REVOKED_num(revoked) : 0;
    int der_len = i2d_X509_CRL(crl, &der);
    if (der_len <= 0) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    uint8_t *copy = malloc((size_t)der_len);
    if (!copy) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    memcpy(copy, der, (size_t)der_len);
    *ret_der = copy;
    *ret_der_len = (size_t)der_len;
    *ret_info = info;
    r = KS_OK;
out:
    ERR_clear_error();
    OPENSSL_free(der);
    X509_CRL_free(crl);
    return r;
}

int ks_ekcrl_lists(const uint8_t *crl, size_t len, const struct ks_ekcert *cert, bool *ret)
{
    X509_CRL *c = NULL;
    X509_REVOKED *entry = NULL;
    if (!cert || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    int r = parse_crl(crl, len, &c);
    if (r != KS_OK) {
        return r;
    }
    X509 *x = ks_ekcert_x509(cert);
    /* X509_CRL_get0_by_cert: 1 listed, 2 listed as removeFromCRL (a delta
     * CRL's un-revocation), 0 not listed. */
    *ret = X509_NAME_cmp(X509_CRL_get_issuer(c), X509_get_issuer_name(x)) == 0 &&
           X509_CRL_get0_by_cert(c, &entry, x) == 1;
    X509_CRL_free(c);
    ERR_clear_error();
    return KS_OK;
}
