/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/x509.h>
#include <openssl/crypto.h>

#include "encoding.h"
#include "file_util.h"
#include "keyserverd/tls.h"

struct ks_tls_creds {
    atomic_uint refs;
    gnutls_pcert_st pcert[KS_TLS_MAX_CHAIN];
    unsigned int n;
    gnutls_privkey_t key;
    char description[384];
};

struct ks_tls {
    char *cert_path;
    char *key_path;
    pthread_mutex_t lock;
    struct ks_tls_creds *current;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void creds_free(struct ks_tls_creds *c)
{
    if (!c) {
        return;
    }
    for (unsigned i = 0; i < c->n; i++) {
        gnutls_pcert_deinit(&c->pcert[i]);
    }
    gnutls_privkey_deinit(c->key);
    free(c);
}

/* DER of a public key, for comparing the key file with the certificate. */
static int pubkey_der(gnutls_pubkey_t pub, gnutls_datum_t *out)
{
    return gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, out) == 0 ? KS_OK : KS_ERR_TLS;
}

static void describe(struct ks_tls_creds *c)
{
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t dn = {NULL, 0};
    uint8_t fp[32];
    size_t fplen = sizeof(fp);
    char hex[65] = "";
    char date[16] = "?";
    snprintf(c->description, sizeof(c->description), "(unreadable certificate)");
    if (gnutls_x509_crt_init(&crt) != 0) {
        return;
    }
    if (gnutls_x509_crt_import(crt, &c->pcert[0].cert, GNUTLS_X509_FMT_DER) == 0 &&
        gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0 &&
        gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fp, &fplen) == 0 &&
        fplen == sizeof(fp)) {
        time_t t = gnutls_x509_crt_get_expiration_time(crt);
        struct tm tm;
        if (t != (time_t)-1 && gmtime_r(&t, &tm)) {
            strftime(date, sizeof(date), "%Y-%m-%d", &tm);
        }
        ks_hex_encode(fp, sizeof(fp), hex);
        snprintf(c->description, sizeof(c->description), "%.200s, expires %s, sha256 %s",
                 (const char *)dn.data, date, hex);
    }
    gnutls_free(dn.data);
    gnutls_x509_crt_deinit(crt);
}

static int creds_load(const char *cert_path, const char *key_path, struct ks_tls_creds **ret,
                      char *err, size_t errlen)
{
    uint8_t *cert = NULL, *key = NULL;
    size_t cert_len = 0, key_len = 0;
    gnutls_pubkey_t pub = NULL;
    gnutls_datum_t a = {NULL, 0}, b = {NULL, 0};
    int g, r;
    struct ks_tls_creds *c = calloc(1, sizeof(*c));
    if (!c) {
        return KS_ERR_NOMEM;
    }
    atomic_init(&c->refs, 1);
    r = ks_file_read(cert_path, KS_TLS_MAX_FILE, &cert, &cert_len);
    if (r != KS_OK) {
        set_err(err, errlen, "%s: %s", cert_path,
                r == KS_ERR_IO ? strerror(errno) : ks_strerror(r));
        goto fail;
    }
    r = ks_file_read(key_path, KS_TLS_MAX_FILE, &key, &key_len);
    if (r != KS_OK) {
        set_err(err, errlen, "%s: %s", key_path, r == KS_ERR_IO ? strerror(errno) : ks_strerror(r));
        goto fail;
    }
    r = KS_ERR_TLS;
    gnutls_datum_t d = {cert, (unsigned)cert_len};
    c->n = KS_TLS_MAX_CHAIN;
    g = gnutls_pcert_list_import_x509_raw(c->pcert, &c->n, &d, GNUTLS_X509_FMT_PEM,
                                          GNUTLS_X509_CRT_LIST_FAIL_IF_UNSORTED);
    if (g < 0 || c->n == 0) {
        c->n = 0;
        set_err(err, errlen, "%s: %s", cert_path, gnutls_strerror(g));
        goto fail;
    }
    if (gnutls_privkey_init(&c->key) != 0) {
        r = KS_ERR_NOMEM;
        goto fail;
    }
    gnutls_datum_t k = {key, (unsigned)key_len};
    g = gnutls_privkey_import_x509_raw(c->key, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
    if (g < 0) {
        set_err(err, errlen, "%s: %s", key_path, gnutls_strerror(g));
        goto fail;
    }
    /* The key must belong to the leaf, or every handshake would fail. */
    if (gnutls_pubkey_init(&pub) != 0 || gnutls_pubkey_import_privkey(pub, c->key, 0, 0) != 0 ||
        pubkey_der(pub, &a) != KS_OK || pubkey_der(c->pcert[0].pubkey, &b) != KS_OK) {
        set_err(err, errlen, "%s: cannot read the public key", key_path);
        goto fail;
    }
    if (a.size != b.size || memcmp(a.data, b.data, a.size) != 0) {
        set_err(err, errlen, "%s does not match the certificate in %s", key_path, cert_path);
        goto fail;
    }
    describe(c);
    *ret = c;
    c = NULL;
    r = KS_OK;
fail:
    gnutls_free(a.data);
    gnutls_free(b.data);
    gnutls_pubkey_deinit(pub);
    if (key) {
        OPENSSL_cleanse(key, key_len);
    }
    free(key);
    free(cert);
    creds_free(c);
    return r;
}

int ks_tls_new(const char *cert_path, const char *key_path, struct ks_tls **ret, char *err,
               size_t errlen)
{
    if (!cert_path || !key_path || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_tls *tls = calloc(1, sizeof(*tls));
    if (!tls) {
        return KS_ERR_NOMEM;
    }
    tls->cert_path = strdup(cert_path);
    tls->key_path = strdup(key_path);
    if (!tls->cert_path || !tls->key_path || pthread_mutex_init(&tls->lock, NULL) != 0) {
        free(tls->cert_path);
        free(tls->key_path);
        free(tls);
        return KS_ERR_NOMEM;
    }
    int r = creds_load(cert_path, key_path, &tls->current, err, errlen);
    if (r != KS_OK) {
        ks_tls_free(tls);
        return r;
    }
    *ret = tls;
    return KS_OK;
}

int ks_tls_reload(struct ks_tls *tls, char *err, size_t errlen)
{
    struct ks_tls_creds *c = NULL;
    if (!tls) {
        return KS_ERR_INVALID_ARG;
    }
    int r = creds_load(tls->cert_path, tls->key_path, &c, err, errlen);
    if (r != KS_OK) {
        return r;
    }
    pthread_mutex_lock(&tls->lock);
    struct ks_tls_creds *old = tls->current;
    tls->current = c;
    pthread_mutex_unlock(&tls->lock);
    ks_tls_release(old);
    return KS_OK;
}

void ks_tls_free(struct ks_tls *tls)
{
    if (!tls) {
        return;
    }
    ks_tls_release(tls->current);
    pthread_mutex_destroy(&tls->lock);
    free(tls->cert_path);
    free(tls->key_path);
    free(tls);
}

struct ks_tls_creds *ks_tls_acquire(struct ks_tls *tls)
{
    pthread_mutex_lock(&tls->lock);
    struct ks_tls_creds *c = tls->current;
    atomic_fetch_add(&c->refs, 1);
    pthread_mutex_unlock(&tls->lock);
    return c;
}

void ks_tls_release(struct ks_tls_creds *creds)
{
    if (creds && atomic_fetch_sub(&creds->refs, 1) == 1) {
        creds_free(creds);
    }
}

void ks_tls_creds_get(struct ks_tls_creds *creds, gnutls_pcert_st **ret_pcert, unsigned int *ret_n,
                      gnutls_privkey_t *ret_key)
{
    *ret_pcert = creds->pcert;
    *ret_n = creds->n;
    *ret_key = creds->key;
}

void ks_tls_describe(struct ks_tls *tls, char *buf, size_t len)
{
    struct ks_tls_creds *c = ks_tls_acquire(tls);
    snprintf(buf, len, "%s", c->description);
    ks_tls_release(c);
}
