/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "encoding.h"
#include "db/store_internal.h"

#define NONCE_KEY_LEN 32
#define ID_RANDOM_LEN 16

int ks_store_meta_put_tx(struct ks_store *s, const char *key, const uint8_t *value, size_t len,
                         const uint8_t *nonce)
{
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r =
        ks_store_stmt(s, STMT_META_PUT,
                      "INSERT INTO meta (key, value, nonce, updated_at) VALUES (?1, ?2, ?3, ?4) "
                      "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                      "nonce = excluded.nonce, updated_at = excluded.updated_at",
                      &st);
    if (r < 0 || (r = ks_store_bind_text(s, st, 1, key)) < 0 ||
        (r = ks_store_bind_blob(s, st, 2, value, len)) < 0 ||
        (r = ks_store_bind_blob(s, st, 3, nonce, nonce ? KS_STORE_NONCE_LEN : 0)) < 0 ||
        (r = ks_store_bind_int64(s, st, 4, ks_store_now())) < 0) {
        return r;
    }
    return ks_store_step_done(s, st, "meta put");
}

/* Reads a meta row: the value, and whether it is wrapped (nonce copied). */
static int meta_read(struct ks_store *s, const char *key, uint8_t **ret_buf, size_t *ret_len,
                     bool *ret_wrapped, uint8_t nonce[KS_STORE_NONCE_LEN])
{
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r = ks_store_stmt(s, STMT_META_GET, "SELECT value, nonce FROM meta WHERE key = ?1", &st);
    if (r < 0 || (r = ks_store_bind_text(s, st, 1, key)) < 0) {
        return r;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        return ks_store_fail(s, KS_ERR_DB_NOT_INIT, "meta entry '%s' missing", key);
    }
    if (rc != SQLITE_ROW) {
        return ks_store_sqlerr(s, rc, "meta get");
    }
    bool wrapped = sqlite3_column_type(st, 1) != SQLITE_NULL;
    if (wrapped) {
        if (sqlite3_column_bytes(st, 1) != KS_STORE_NONCE_LEN) {
            return ks_store_fail(s, KS_ERR_DB_CORRUPT, "meta entry '%s': bad nonce", key);
        }
        memcpy(nonce, sqlite3_column_blob(st, 1), KS_STORE_NONCE_LEN);
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    if ((r = ks_store_col_blob(s, st, 0, KS_STORE_MAX_BLOB, &buf, &len)) < 0) {
        return r;
    }
    *ret_buf = buf;
    *ret_len = len;
    *ret_wrapped = wrapped;
    return KS_OK;
}

int ks_store_meta_get(struct ks_store *s, const char *key, uint8_t **ret_buf, size_t *ret_len)
{
    if (!s || !ks_store_name_valid(key) || !ret_buf || !ret_len) {
        return KS_ERR_INVALID_ARG;
    }
    uint8_t nonce[KS_STORE_NONCE_LEN];
    uint8_t *buf = NULL;
    size_t len = 0;
    bool wrapped = false;
    int r = meta_read(s, key, &buf, &len, &wrapped, nonce);
    if (r < 0) {
        return r;
    }
    if (wrapped) {
        free(buf);
        return ks_store_fail(s, KS_ERR_INVALID_ARG, "meta entry '%s' is a secret", key);
    }
    /* NUL-terminate so that text values can be used as strings. */
    uint8_t *n = realloc(buf, len + 1);
    if (!n) {
        free(buf);
        return KS_ERR_NOMEM;
    }
    n[len] = '\0';
    *ret_buf = n;
    *ret_len = len;
    return KS_OK;
}

int ks_store_meta_secret_get(struct ks_store *s, const struct ks_master_key *mk, const char *key,
                             struct ks_store_secret **ret)
{
    if (!s || !mk || !ks_store_name_valid(key) || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    uint8_t nonce[KS_STORE_NONCE_LEN];
    uint8_t *buf = NULL;
    size_t len = 0;
    bool wrapped = false;
    int r = meta_read(s, key, &buf, &len, &wrapped, nonce);
    if (r < 0) {
        return r;
    }
    if (!wrapped) {
        r = ks_store_fail(s, KS_ERR_INVALID_ARG, "meta entry '%s' is not a secret", key);
    } else {
        r = ks_store_secret_unwrap(mk, key, nonce, buf, len, ret);
        if (r < 0) {
            ks_store_fail(s, r, "meta secret '%s': %s", key, ks_strerror(r));
        }
    }
    free(buf);
    return r;
}

static int put_secret(struct ks_store *s, const struct ks_master_key *mk, const char *key,
                      const uint8_t *pt, size_t len)
{
    uint8_t nonce[KS_STORE_NONCE_LEN];
    uint8_t *ct = NULL;
    size_t ct_len = 0;
    int r = ks_store_secret_wrap(mk, key, pt, len, nonce, &ct, &ct_len);
    if (r == KS_OK) {
        r = ks_store_meta_put_tx(s, key, ct, ct_len, nonce);
    }
    free(ct);
    return r;
}

/* New ECDSA P-256 receipt key: PKCS#8 DER (secret) and SPKI DER. */
static int make_receipt_key(struct ks_store_secret **ret_priv, uint8_t **ret_spki,
                            size_t *ret_spki_len)
{
    int r = KS_ERR_CRYPTO;
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    unsigned char *der = NULL, *spki = NULL;
    int der_len = 0, spki_len = 0;
    struct ks_store_secret *priv = NULL;
    if (!pkey || !(p8 = EVP_PKEY2PKCS8(pkey)) ||
        (der_len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der)) <= 0 ||
        (spki_len = i2d_PUBKEY(pkey, &spki)) <= 0) {
        goto out;
    }
    priv = OPENSSL_zalloc(sizeof(*priv));
    if (!priv || !(priv->data = OPENSSL_secure_malloc((size_t)der_len))) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    priv->len = (size_t)der_len;
    memcpy(priv->data, der, (size_t)der_len);
    *ret_priv = priv;
    *ret_spki = spki;
    *ret_spki_len = (size_t)spki_len;
    priv = NULL;
    spki = NULL;
    r = KS_OK;
out:
    ks_store_secret_free(priv);
    if (der) {
        OPENSSL_clear_free(der, (size_t)der_len);
    }
    OPENSSL_free(spki);
    PKCS8_PRIV_KEY_INFO_free(p8);
    EVP_PKEY_free(pkey);
    return r;
}

int ks_store_init(struct ks_store *s, const struct ks_master_key *mk, const char *actor,
                  const char *id)
{
    if (!s || !mk || !ks_store_actor_valid(actor) || (id && !ks_store_name_valid(id))) {
        return KS_ERR_INVALID_ARG;
    }
    char idbuf[2 * ID_RANDOM_LEN + 1];
    char detail[128];
    uint8_t rnd[ID_RANDOM_LEN];
    uint8_t *spki = NULL, *old = NULL;
    size_t spki_len = 0, old_len = 0;
    struct ks_store_secret *receipt = NULL, *nonce_key = NULL;
    int r;
    if (!id) {
        if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
            return KS_ERR_CRYPTO;
        }
        ks_hex_encode(rnd, sizeof(rnd), idbuf);
        id = idbuf;
    }
    if ((r = make_receipt_key(&receipt, &spki, &spki_len)) < 0) {
        return r;
    }
    nonce_key = OPENSSL_zalloc(sizeof(*nonce_key));
    if (!nonce_key || !(nonce_key->data = OPENSSL_secure_malloc(NONCE_KEY_LEN))) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    nonce_key->len = NONCE_KEY_LEN;
    if (RAND_priv_bytes(nonce_key->data, NONCE_KEY_LEN) != 1) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    if ((r = ks_store_begin(s, true)) < 0) {
        goto out;
    }
    bool wrapped;
    uint8_t nonce[KS_STORE_NONCE_LEN];
    r = meta_read(s, KS_META_ID, &old, &old_len, &wrapped, nonce);
    if (r == KS_OK) {
        r = ks_store_fail(s, KS_ERR_STORE_EXISTS, "database already initialised");
        goto out;
    }
    if (r != KS_ERR_DB_NOT_INIT) {
        goto out;
    }
    snprintf(detail, sizeof(detail), "{\"id\":\"%s\"}", id);
    if ((r = ks_store_meta_put_tx(s, KS_META_ID, (const uint8_t *)id, strlen(id), NULL)) < 0 ||
        (r = ks_store_meta_put_tx(s, KS_META_RECEIPT_PUB, spki, spki_len, NULL)) < 0 ||
        (r = put_secret(s, mk, KS_META_RECEIPT_KEY, receipt->data, receipt->len)) < 0 ||
        (r = put_secret(s, mk, KS_META_NONCE_KEY, nonce_key->data, nonce_key->len)) < 0 ||
        (r = ks_store_audit_admin(s, actor, "init", NULL, NULL, NULL, detail)) < 0) {
        goto out;
    }
    r = ks_store_commit(s);
out:
    if (r < 0) {
        ks_store_rollback(s);
    }
    free(old);
    OPENSSL_free(spki);
    ks_store_secret_free(receipt);
    ks_store_secret_free(nonce_key);
    return r;
}

int ks_store_receipt_key_load(struct ks_store *s, const struct ks_master_key *mk, EVP_PKEY **ret)
{
    if (!s || !mk || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_store_secret *priv = NULL;
    uint8_t *pub = NULL;
    unsigned char *spki = NULL;
    size_t pub_len = 0;
    int spki_len = 0;
    EVP_PKEY *pkey = NULL;
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    int r = ks_store_meta_get(s, KS_META_RECEIPT_PUB, &pub, &pub_len);
    if (r < 0 || (r = ks_store_meta_secret_get(s, mk, KS_META_RECEIPT_KEY, &priv)) < 0) {
        goto out;
    }
    const unsigned char *p = priv->data;
    if (priv->len > LONG_MAX || !(p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)priv->len)) ||
        p != priv->data + priv->len || !(pkey = EVP_PKCS82PKEY(p8))) {
        r = ks_store_fail(s, KS_ERR_DB_CORRUPT, "receipt key: not a PKCS#8 private key");
        goto out;
    }
    char group[32] = "";
    if (!EVP_PKEY_is_a(pkey, "EC") ||
        !EVP_PKEY_get_utf8_string_param(pkey, "group", group, sizeof(group), NULL) ||
        strcmp(group, "prime256v1") != 0) {
        r = ks_store_fail(s, KS_ERR_DB_CORRUPT, "receipt key is not ECDSA P-256");
        goto out;
    }
    if ((spki_len = i2d_PUBKEY(pkey, &spki)) <= 0) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    if ((size_t)spki_len != pub_len || memcmp(spki, pub, pub_len) != 0) {
        r = ks_store_fail(s, KS_ERR_DB_CORRUPT, "receipt key does not match receipt_pub");
        goto out;
    }
    *ret = pkey;
    pkey = NULL;
    r = KS_OK;
out:
    EVP_PKEY_free(pkey);
    PKCS8_PRIV_KEY_INFO_free(p8);
    OPENSSL_free(spki);
    free(pub);
    ks_store_secret_free(priv);
    return r;
}
