/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "encoding.h"
#include "enroll.h"
#include "makecred.h"

/* The JSON of the enrollment exchange, both ways (see enroll.h). Answers
 * are untrusted: parsed strictly, as attest_json.c parses the release's. */

static int load_error(const json_error_t *e)
{
#if JANSSON_VERSION_HEX >= 0x020b00
    return json_error_code(e) == json_error_duplicate_key ? KS_ERR_RESP_DUPLICATE
                                                          : KS_ERR_RESP_JSON;
#else
    return strstr(e->text, "duplicate") ? KS_ERR_RESP_DUPLICATE : KS_ERR_RESP_JSON;
#endif
}

/* An object with exactly the members names[] (each a string). */
static int load_strings(const uint8_t *body, size_t len, const char *const *names, size_t n,
                        json_t **ret)
{
    json_error_t err;
    const char *key;
    json_t *v;
    if (!body && len > 0) {
        return KS_ERR_INVALID_ARG;
    }
    json_t *root = json_loadb((const char *)(body ? body : (const uint8_t *)""), len,
                              JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        return load_error(&err);
    }
    int r = json_is_object(root) ? KS_OK : KS_ERR_RESP_TYPE;
    json_object_foreach(root, key, v)
    {
        bool known = false;
        for (size_t i = 0; i < n && !known; i++) {
            known = strcmp(key, names[i]) == 0;
        }
        if (r == KS_OK && !known) {
            r = KS_ERR_RESP_UNKNOWN;
        }
    }
    for (size_t i = 0; r == KS_OK && i < n; i++) {
        json_t *m = json_object_get(root, names[i]);
        r = !m ? KS_ERR_RESP_MISSING : json_is_string(m) ? KS_OK : KS_ERR_RESP_TYPE;
    }
    if (r != KS_OK) {
        json_decref(root);
        return r;
    }
    *ret = root;
    return KS_OK;
}

static int set_b64(json_t *obj, const char *name, const uint8_t *buf, size_t len)
{
    char *s = NULL;
    int r = ks_base64_encode(buf, len, &s);
    if (r != KS_OK) {
        return r;
    }
    r = json_object_set_new(obj, name, json_string(s)) == 0 ? KS_OK : KS_ERR_NOMEM;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
    return r;
}

static int dump(json_t *o, char **ret_json, size_t *ret_len)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    if (!s) {
        return KS_ERR_NOMEM;
    }
    *ret_json = s;
    *ret_len = strlen(s);
    return KS_OK;
}

int ks_enroll_client_request(const uint8_t *ek_pub, size_t ek_pub_len, const uint8_t *ek_cert,
                             size_t ek_cert_len, const uint8_t *ak_pub, size_t ak_pub_len,
                             char **ret_json, size_t *ret_len)
{
    if (!ek_pub || !ek_pub_len || !ak_pub || !ak_pub_len || (ek_cert && !ek_cert_len) ||
        !ret_json || !ret_len) {
        return KS_ERR_INVALID_ARG;
    }
    json_t *o = json_object();
    int r = o ? KS_OK : KS_ERR_NOMEM;
    if (r == KS_OK && (r = set_b64(o, "ek_pub", ek_pub, ek_pub_len)) == KS_OK &&
        (r = set_b64(o, "ak_pub", ak_pub, ak_pub_len)) == KS_OK &&
        (!ek_cert || (r = set_b64(o, "ek_cert", ek_cert, ek_cert_len)) == KS_OK)) {
        r = dump(o, ret_json, ret_len);
    }
    json_decref(o);
    return r;
}

static bool lower_hex(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max || n % 2) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return false;
        }
    }
    return true;
}

static int copy_name(json_t *root, const char *member, char *out)
{
    const char *s = json_string_value(json_object_get(root, member));
    if (!lower_hex(s, 4, KS_TPM_NAME_HEX_MAX - 1)) {
        return KS_ERR_RESP_VALUE;
    }
    memcpy(out, s, strlen(s) + 1);
    return KS_OK;
}

static int decode_b64(json_t *v, uint8_t **buf, size_t *len)
{
    size_t slen = json_string_length(v);
    if (slen > 4096) {
        return KS_ERR_RESP_VALUE;
    }
    return ks_base64_decode(json_string_value(v), slen, buf, len);
}

int ks_enroll_client_challenge_parse(const uint8_t *body, size_t len,
                                     struct ks_enroll_client_challenge *ret)
{
    static const char *const names[] = {"enrollment_id", "credential_blob", "encrypted_secret",
                                        "ak_id", "ek_name"};
    struct ks_enroll_client_challenge c;
    json_t *root = NULL, *exp;
    uint8_t *blob = NULL, *enc = NULL;
    size_t blob_len = 0, enc_len = 0;
    if (!ret) {
        return KS_ERR_INVALID_ARG;
    }
    memset(&c, 0, sizeof(c));
    /* "expires" is the one number: take it out before the string check. */
    json_error_t err;
    json_t *probe = body ? json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &err) : NULL;
    if (!probe) {
        return body ? load_error(&err) : KS_ERR_INVALID_ARG;
    }
    exp = json_object_get(probe, "expires");
    int r = !exp ? KS_ERR_RESP_MISSING : json_is_integer(exp) ? KS_OK : KS_ERR_RESP_TYPE;
    if (r == KS_OK) {
        c.expires = json_integer_value(exp);
        json_object_del(probe, "expires");
        char *rest = json_dumps(probe, JSON_COMPACT);
        r = rest ? load_strings((const uint8_t *)rest, strlen(rest), names, 5, &root)
                 : KS_ERR_NOMEM;
        free(rest);
    }
    json_decref(probe);
    if (r != KS_OK) {
        return r;
    }
    const char *id = json_string_value(json_object_get(root, "enrollment_id"));
    if (!lower_hex(id, KS_ENROLL_CLIENT_ID_LEN, KS_ENROLL_CLIENT_ID_LEN) ||
        (r = copy_name(root, "ak_id", c.ak_id)) != KS_OK ||
        (r = copy_name(root, "ek_name", c.ek_name)) != KS_OK) {
        r = r != KS_OK ? r : KS_ERR_RESP_VALUE;
        goto out;
    }
    memcpy(c.id, id, KS_ENROLL_CLIENT_ID_LEN + 1);
    if ((r = decode_b64(json_object_get(root, "credential_blob"), &blob, &blob_len)) != KS_OK ||
        (r = decode_b64(json_object_get(root, "encrypted_secret"), &enc, &enc_len)) != KS_OK) {
        goto out;
    }
    if (ks_cred_blob_decode(blob, blob_len, &c.blob) != KS_OK ||
        ks_cred_secret_decode(enc, enc_len, &c.enc) != KS_OK) {
        r = KS_ERR_RESP_VALUE;
        goto out;
    }
    *ret = c;
    r = KS_OK;
out:
    free(blob);
    free(enc);
    json_decref(root);
    return r;
}

int ks_enroll_client_activation(const uint8_t *secret, size_t secret_len, char **ret_json,
                                size_t *ret_len)
{
    if (!secret || !secret_len || !ret_json || !ret_len) {
        return KS_ERR_INVALID_ARG;
    }
    json_t *o = json_object();
    int r = o ? set_b64(o, "secret", secret, secret_len) : KS_ERR_NOMEM;
    if (r == KS_OK) {
        r = dump(o, ret_json, ret_len);
    }
    /* jansson's copy of the string is freed with the object, unwiped; the
     * secret is single-use and bound to this AK, worthless once used. */
    json_decref(o);
    return r;
}

int ks_enroll_client_outcome_parse(const uint8_t *body, size_t len,
                                   struct ks_enroll_client_outcome *ret)
{
    static const char *const names[] = {"ak_id", "ek_name", "status"};
    struct ks_enroll_client_outcome o;
    json_t *root = NULL;
    if (!ret) {
        return KS_ERR_INVALID_ARG;
    }
    memset(&o, 0, sizeof(o));
    int r = load_strings(body, len, names, 3, &root);
    if (r != KS_OK) {
        return r;
    }
    const char *status = json_string_value(json_object_get(root, "status"));
    if ((r = copy_name(root, "ak_id", o.ak_id)) == KS_OK &&
        (r = copy_name(root, "ek_name", o.ek_name)) == KS_OK) {
        if (strcmp(status, "active") == 0) {
            o.active = true;
        } else if (strcmp(status, "pending_ek_approval") != 0) {
            r = KS_ERR_RESP_VALUE;
        }
    }
    json_decref(root);
    if (r == KS_OK) {
        *ret = o;
    }
    return r;
}
