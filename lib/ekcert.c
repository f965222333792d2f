/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ekcert.h"
#include "ekcert_internal.h"
#include "tpm_public.h"

/* Parsing EK and CA certificates, their description, and the EK key match
 * (see ekcert.h); path validation is in ekcert_verify.c. */

struct ks_ekcert {
    X509 *x509;
};

int ks_ekcert_wrap(X509 *x, struct ks_ekcert **ret)
{
    struct ks_ekcert *c = calloc(1, sizeof(*c));
    if (!c) {
        X509_free(x);
        return KS_ERR_NOMEM;
    }
    c->x509 = x;
    *ret = c;
    return KS_OK;
}

/* One DER certificate at the start of buf; its length in *ret_used. */
static int parse_der_prefix(const uint8_t *buf, size_t len, X509 **ret, size_t *ret_used)
{
    if (!buf || len == 0) {
        return KS_ERR_EKCERT_PARSE;
    }
    if (len > KS_EKCERT_MAX_DER) {
        return KS_ERR_TOO_LARGE;
    }
    const unsigned char *p = buf;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    ERR_clear_error();
    if (!x) {
        return KS_ERR_EKCERT_PARSE;
    }
    /* Strict DER: OpenSSL also accepts some BER (non-minimal lengths
     * outside the signed part) and would re-encode it differently, so the
     * bytes a fingerprint or a comparison sees could differ from the ones
     * received. Found by fuzz_ekcert. */
    size_t used = (size_t)(p - buf);
    unsigned char *again = NULL;
    int n = i2d_X509(x, &again);
    bool canonical = n > 0 && (size_t)n == used && memcmp(again, buf, used) == 0;
    OPENSSL_free(again);
    if (!canonical) {
        X509_free(x);
        return KS_ERR_EKCERT_PARSE;
    }
    *ret = x;
    *ret_used = used;
    return KS_OK;
}

int ks_ekcert_parse(const uint8_t *der, size_t len, struct ks_ekcert **ret)
{
    X509 *x = NULL;
    size_t used = 0;
    if (!ret) {
        return KS_ERR_INVALID_ARG;
    }
    int r = parse_der_prefix(der, len, &x, &used);
    if (r != KS_OK) {
        return r;
    }
    if (used != len) {
        X509_free(x);
        return KS_ERR_EKCERT_PARSE;
    }
    return ks_ekcert_wrap(x, ret);
}

int ks_ekcert_parse_nv(const uint8_t *buf, size_t len, struct ks_ekcert **ret, size_t *ret_der_len)
{
    X509 *x = NULL;
    size_t used = 0;
    if (!ret || !ret_der_len) {
        return KS_ERR_INVALID_ARG;
    }
    int r = parse_der_prefix(buf, len, &x, &used);
    if (r != KS_OK) {
        return r;
    }
    /* Padding after the certificate: one repeated 0x00 or 0xFF byte. */
    for (size_t i = used; i < len; i++) {
        if ((buf[i] != 0x00 && buf[i] != 0xff) || buf[i] != buf[used]) {
            X509_free(x);
            return KS_ERR_EKCERT_PARSE;
        }
    }
    r = ks_ekcert_wrap(x, ret);
    if (r == KS_OK) {
        *ret_der_len = used;
    }
    return r;
}

bool ks_ekcert_is_pem(const uint8_t *buf, size_t len)
{
    static const char begin[] = "-----BEGIN ";
    size_t i = 0;
    while (i < len && isspace(buf[i])) {
        i++;
    }
    return len - i >= sizeof(begin) - 1 && memcmp(buf + i, begin, sizeof(begin) - 1) == 0;
}

void ks_ekcert_free_array(struct ks_ekcert **certs, size_t n)
{
    if (!certs) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        ks_ekcert_free(certs[i]);
    }
    free(certs);
}

int ks_ekcert_parse_file(const uint8_t *buf, size_t len, struct ks_ekcert ***ret, size_t *ret_n)
{
    struct ks_ekcert **certs = NULL;
    size_t n = 0;
    BIO *bio = NULL;
    int r;
    if (!buf || !ret || !ret_n) {
        return KS_ERR_INVALID_ARG;
    }
    if (len > (size_t)KS_EKCERT_MAX_BUNDLE * 2 * KS_EKCERT_MAX_DER) {
        return KS_ERR_TOO_LARGE;
    }
    certs = calloc(KS_EKCERT_MAX_BUNDLE, sizeof(*certs));
    if (!certs) {
        return KS_ERR_NOMEM;
    }
    if (!ks_ekcert_is_pem(buf, len)) {
        r = ks_ekcert_parse(buf, len, &certs[0]);
        n = r == KS_OK ? 1 : 0;
        goto out;
    }
    bio = BIO_new_mem_buf(buf, (int)len);
    if (!bio) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    for (;;) {
        X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (!x) {
            /* The end of the input is "no start line"; anything else is a
             * malformed certificate. */
            unsigned long e = ERR_peek_last_error();
            bool end = ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
            ERR_clear_error();
            r = end && n > 0 ? KS_OK : KS_ERR_EKCERT_PARSE;
            break;
        }
        if (n == KS_EKCERT_MAX_BUNDLE) {
            X509_free(x);
            r = KS_ERR_TOO_LARGE;
            break;
        }
        if ((r = ks_ekcert_wrap(x, &certs[n])) != KS_OK) {
            break;
        }
        n++;
    }
out:
    BIO_free(bio);
    if (r != KS_OK) {
        ks_ekcert_free_array(certs, n);
        return r;
    }
    *ret = certs;
    *ret_n = n;
    return KS_OK;
}

void ks_ekcert_free(struct ks_ekcert *cert)
{
    if (!cert) {
        return;
    }
    X509_free(cert->x509);
    free(cert);
}

X509 *ks_ekcert_x509(const struct ks_ekcert *cert)
{
    return cert ? cert->x509 : NULL;
}

int ks_ekcert_der(const struct ks_ekcert *cert, uint8_t **ret, size_t *ret_len)
{
    if (!cert || !ret || !ret_len) {
        return KS_ERR_INVALID_ARG;
    }
    unsigned char *der = NULL;
    int len = i2d_X509(cert->x509, &der);
    if (len <= 0) {
        return KS_ERR_CRYPTO;
    }
    uint8_t *copy = malloc((size_t)len);
    if (!copy) {
        OPENSSL_free(der);
        return KS_ERR_NOMEM;
    }
    memcpy(copy, der, (size_t)len);
    OPENSSL_free(der);
    *ret = copy;
    *ret_len = (size_t)len;
    return KS_OK;
}

void ks_ekcert_name(const X509_NAME *name, char *out, size_t size)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int n = 0;
    out[0] = '\0';
    if (bio && X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
        n = BIO_read(bio, out, (int)size - 1);
        out[n > 0 ? n : 0] = '\0';
    }
    BIO_free(bio);
    /* Names come from the network: printable ASCII only. */
    for (size_t i = 0; out[i]; i++) {
        if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] >= 0x7f) {
            out[i] = '?';
        }
    }
}

int ks_ekcert_time(const ASN1_TIME *t, int64_t *ret)
{
    int days = 0, secs = 0;
    ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
    int ok = epoch && t && ASN1_TIME_diff(&days, &secs, epoch, t) == 1;
    ASN1_TIME_free(epoch);
    if (!ok) {
        return KS_ERR_EKCERT_PARSE;
    }
    *ret = (int64_t)days * 86400 + secs;
    return KS_OK;
}

int ks_ekcert_info(const struct ks_ekcert *cert, struct ks_ekcert_info *ret)
{
    struct ks_ekcert_info info;
    unsigned int md_len = 0;
    if (!cert || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    memset(&info, 0, sizeof(info));
    X509 *x = cert->x509;
    ks_ekcert_name(X509_get_subject_name(x), info.subject, sizeof(info.subject));
    ks_ekcert_name(X509_get_issuer_name(x), info.issuer, sizeof(info.issuer));
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    if (bn && !BN_is_negative(bn) && BN_num_bytes(bn) <= 20) {
        uint8_t b[20];
        int n = BN_bn2bin(bn, b);
        for (int i = 0; i < n; i++) {
            snprintf(info.serial + 2 * i, 3, "%02x", b[i]);
        }
    }
    BN_free(bn);
    int r = ks_ekcert_time(X509_get0_notBefore(x), &info.not_before);
    if (r == KS_OK) {
        r = ks_ekcert_time(X509_get0_notAfter(x), &info.not_after);
    }
    if (r != KS_OK) {
        return r;
    }
    if (X509_digest(x, EVP_sha256(), info.sha256, &md_len) != 1 || md_len != 32) {
        return KS_ERR_CRYPTO;
    }
    info.is_ca = X509_check_ca(x) != 0;
    info.self_signed = X509_self_signed(x, 0) == 1;
    ERR_clear_error();
    *ret = info;
    return KS_OK;
}

int ks_ekcert_check_key(const struct ks_ekcert *cert, const TPMT_PUBLIC *ek)
{
    EVP_PKEY *pkey = NULL;
    if (!cert || !ek) {
        return KS_ERR_INVALID_ARG;
    }
    EVP_PKEY *cert_key = X509_get0_pubkey(cert->x509);
    if (!cert_key) {
        ERR_clear_error();
        return KS_ERR_EKCERT_PARSE;
    }
    int r = ks_tpm_public_to_evp(ek, &pkey);
    if (r != KS_OK) {
        return r;
    }
    r = EVP_PKEY_eq(cert_key, pkey) == 1 ? KS_OK : KS_ERR_EKCERT_KEY_MISMATCH;
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    return r;
}
