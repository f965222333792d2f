/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "encoding.h"
#include "keyserverd/enroll.h"

/* The bodies of POST /v1/enroll and /v1/enroll/{id}/activate, parsed into
 * plain C types (DESIGN "Protocol": strict base64, duplicate keys refused,
 * unknown members refused). */

__attribute__((format(printf, 3, 4))) static void msg(char *detail, size_t len, const char *fmt,
                                                      ...)
{
    if (!detail || len == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, len, fmt, ap);
    va_end(ap);
}

/* Strict base64 of 1..max bytes into a new buffer. */
static int get_b64(json_t *v, const char *what, size_t max, uint8_t **ret, size_t *ret_len,
                   char *detail, size_t dlen)
{
    if (!json_is_string(v)) {
        msg(detail, dlen, "%s: expected a base64 string", what);
        return KS_ERR_BAD_REQUEST;
    }
    size_t slen = json_string_length(v);
    /* Refuse before decoding what cannot fit: 4 characters per 3 bytes. */
    if (slen > 4 * ((max + 2) / 3)) {
        msg(detail, dlen, "%s: longer than %zu bytes", what, max);
        return KS_ERR_BAD_REQUEST;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    int r = ks_base64_decode(json_string_value(v), slen, &buf, &len);
    if (r == KS_ERR_NOMEM) {
        return r;
    }
    if (r != KS_OK || len == 0 || len > max) {
        msg(detail, dlen, "%s: invalid base64 or size (1..%zu bytes)", what, max);
        free(buf);
        return KS_ERR_BAD_REQUEST;
    }
    *ret = buf;
    *ret_len = len;
    return KS_OK;
}

static json_t *load_object(const uint8_t *body, size_t len, char *detail, size_t dlen)
{
    json_error_t jerr;
    json_t *root =
        body && len ? json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (!root || !json_is_object(root)) {
        msg(detail, dlen, "body must be a JSON object%s%s", root ? "" : ": ",
            root ? "" : (body && len ? jerr.text : "empty body"));
        json_decref(root);
        return NULL;
    }
    return root;
}

/* A TPM2B_PUBLIC member: decoded strictly, its Name computed. */
static int get_public(json_t *v, const char *what, uint8_t *blob, size_t *blob_len,
                      TPMT_PUBLIC *pub, char *name_hex, char *detail, size_t dlen)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int r = get_b64(v, what, KS_ENROLL_MAX_PUBLIC, &buf, &len, detail, dlen);
    if (r != KS_OK) {
        return r;
    }
    r = ks_tpm_public_decode(buf, len, pub);
    if (r == KS_OK) {
        r = ks_tpm_public_name_hex(pub, name_hex);
    }
    if (r != KS_OK) {
        msg(detail, dlen, "%s: not a TPM2B_PUBLIC of a supported nameAlg: %s", what,
            ks_strerror(r));
        free(buf);
        return KS_ERR_BAD_REQUEST;
    }
    memcpy(blob, buf, len);
    *blob_len = len;
    free(buf);
    return KS_OK;
}

void ks_enroll_request_free(struct ks_enroll_request *req)
{
    if (!req) {
        return;
    }
    free(req->ek_cert);
    free(req);
}

int ks_enroll_request_parse(const uint8_t *body, size_t len, struct ks_enroll_request **ret,
                            char *detail, size_t dlen)
{
    const char *key;
    json_t *m;
    if (!ret) {
        return KS_ERR_INVALID_ARG;
    }
    json_t *root = load_object(body, len, detail, dlen);
    if (!root) {
        return KS_ERR_BAD_REQUEST;
    }
    struct ks_enroll_request *req = calloc(1, sizeof(*req));
    int r = req ? KS_ERR_BAD_REQUEST : KS_ERR_NOMEM;
    if (!req) {
        goto out;
    }
    json_object_foreach(root, key, m)
    {
        if (strcmp(key, "ek_pub") != 0 && strcmp(key, "ak_pub") != 0 &&
            strcmp(key, "ek_cert") != 0) {
            msg(detail, dlen, "unknown member (expected ek_pub, ek_cert, ak_pub)");
            goto out;
        }
    }
    json_t *ek = json_object_get(root, "ek_pub"), *ak = json_object_get(root, "ak_pub");
    json_t *cert = json_object_get(root, "ek_cert");
    if (!ek || !ak) {
        msg(detail, dlen, "%s missing", ek ? "ak_pub" : "ek_pub");
        goto out;
    }
    if ((r = get_public(ek, "ek_pub", req->ek_blob, &req->ek_blob_len, &req->ek, req->ek_name,
                        detail, dlen)) != KS_OK ||
        (r = get_public(ak, "ak_pub", req->ak_blob, &req->ak_blob_len, &req->ak, req->ak_id, detail,
                        dlen)) != KS_OK) {
        goto out;
    }
    if ((r = ks_tpm_public_name(&req->ak, req->ak_name, &req->ak_name_len)) != KS_OK) {
        goto out;
    }
    if (cert && !json_is_null(cert) &&
        (r = get_b64(cert, "ek_cert", KS_ENROLL_MAX_CERT, &req->ek_cert, &req->ek_cert_len, detail,
                     dlen)) != KS_OK) {
        goto out;
    }
    *ret = req;
    req = NULL;
    r = KS_OK;
out:
    ks_enroll_request_free(req);
    json_decref(root);
    return r;
}

int ks_enroll_activate_parse(const char *id, const uint8_t *body, size_t len, uint8_t *ret_secret,
                             size_t *ret_secret_len, char *detail, size_t dlen)
{
    const char *key;
    json_t *m;
    if (!ret_secret || !ret_secret_len) {
        return KS_ERR_INVALID_ARG;
    }
    /* An id that cannot be one is unknown (404), not audited. */
    size_t n = id ? strlen(id) : 0;
    bool ok = n == KS_STORE_ENROLL_ID_LEN;
    for (size_t i = 0; ok && i < n; i++) {
        ok = (id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f');
    }
    if (!ok) {
        msg(detail, dlen, "no such enrollment");
        return KS_ERR_ENROLL_UNKNOWN;
    }
    json_t *root = load_object(body, len, detail, dlen);
    if (!root) {
        return KS_ERR_BAD_REQUEST;
    }
    uint8_t *buf = NULL;
    size_t blen = 0;
    int r = KS_ERR_BAD_REQUEST;
    json_object_foreach(root, key, m)
    {
        if (strcmp(key, "secret") != 0) {
            msg(detail, dlen, "unknown member (expected secret)");
            goto out;
        }
    }
    json_t *s = json_object_get(root, "secret");
    if (!s) {
        msg(detail, dlen, "secret missing");
        goto out;
    }
    if ((r = get_b64(s, "secret", KS_STORE_ENROLL_SECRET_MAX, &buf, &blen, detail, dlen)) !=
        KS_OK) {
        goto out;
    }
    memcpy(ret_secret, buf, blen);
    *ret_secret_len = blen;
    r = KS_OK;
out:
    if (buf) {
        OPENSSL_cleanse(buf, blen);
        free(buf);
    }
    json_decref(root);
    return r;
}
