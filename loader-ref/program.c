/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "encoding.h"
#include "program.h"

/* Program manifests signed by the CI key (program.h). */

static const char *const DIM_NAMES[6] = {"vocab",   "d_model", "n_layers",
                                         "n_heads", "d_ff",    "max_seq"};

static uint32_t *dim_field(struct ks_model_dims *d, int i)
{
    uint32_t *f[6] = {&d->vocab, &d->d_model, &d->n_layers, &d->n_heads, &d->d_ff, &d->max_seq};
    return f[i];
}

static int program_check(const struct ks_program *p)
{
    if (!ks_seal_key_name_valid(p->name) || ks_model_dims_validate(&p->dims) < 0 ||
        p->max_new_tokens == 0 || p->max_new_tokens > p->dims.max_seq) {
        return KS_ERR_PROGRAM_FIELD;
    }
    return KS_OK;
}

int ks_program_manifest_encode(const struct ks_program *p, char **ret_json, size_t *ret_len)
{
    char hex[2 * 32 + 1];
    struct ks_model_dims d;
    json_t *model, *root = NULL;
    int r;
    if (!p || !ret_json) {
        return KS_ERR_INVALID_ARG;
    }
    if ((r = program_check(p)) < 0) {
        return r;
    }
    d = p->dims;
    ks_hex_encode(p->weights_sha256, sizeof(p->weights_sha256), hex);
    model = json_object();
    for (int i = 0; model && i < 6; i++) {
        if (json_object_set_new(model, DIM_NAMES[i], json_integer(*dim_field(&d, i))) != 0) {
            json_decref(model);
            model = NULL;
        }
    }
    if (model) {
        root = json_pack("{s:i, s:s, s:o, s:s, s:I}", "v", KS_PROGRAM_VERSION, "name", p->name,
                         "model", model, "weights_sha256", hex, "max_new_tokens",
                         (json_int_t)p->max_new_tokens);
    }
    if (!root) {
        return KS_ERR_NOMEM;
    }
    /* jansson keeps insertion order: the members come out as documented. */
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!s) {
        return KS_ERR_NOMEM;
    }
    *ret_json = s;
    if (ret_len) {
        *ret_len = strlen(s);
    }
    return KS_OK;
}

/* An integer member in [lo, hi]. */
static int get_uint(json_t *obj, const char *key, json_int_t lo, json_int_t hi, uint32_t *ret)
{
    json_t *v = json_object_get(obj, key);
    if (!v || !json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        return KS_ERR_PROGRAM_FIELD;
    }
    *ret = (uint32_t)json_integer_value(v);
    return KS_OK;
}

static bool is_lower_hex(const char *s, size_t n)
{
    if (strlen(s) != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return false;
        }
    }
    return true;
}

static int parse_model(json_t *m, struct ks_model_dims *ret)
{
    struct ks_model_dims d;
    if (!json_is_object(m) || json_object_size(m) != 6) {
        return KS_ERR_PROGRAM_FIELD;
    }
    for (int i = 0; i < 6; i++) {
        if (get_uint(m, DIM_NAMES[i], 0, UINT32_MAX, dim_field(&d, i)) < 0) {
            return KS_ERR_PROGRAM_FIELD;
        }
    }
    if (ks_model_dims_validate(&d) < 0) {
        return KS_ERR_PROGRAM_FIELD;
    }
    *ret = d;
    return KS_OK;
}

int ks_program_manifest_parse(const uint8_t *json, size_t len, struct ks_program *ret)
{
    struct ks_program p;
    json_error_t jerr;
    json_t *root = NULL, *v;
    uint32_t version;
    int r = KS_ERR_PROGRAM_FIELD;
    if (!json || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    if (len > KS_PROGRAM_MAX) {
        return KS_ERR_PROGRAM_JSON;
    }
    memset(&p, 0, sizeof(p));
    root = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root)) {
        r = KS_ERR_PROGRAM_JSON;
        goto out;
    }
    /* Exactly the five members: an unknown one is refused, not ignored. */
    if (json_object_size(root) != 5 || get_uint(root, "v", 1, 1, &version) < 0 ||
        parse_model(json_object_get(root, "model"), &p.dims) < 0 ||
        get_uint(root, "max_new_tokens", 1, p.dims.max_seq, &p.max_new_tokens) < 0) {
        goto out;
    }
    v = json_object_get(root, "name");
    if (!json_is_string(v) || !ks_seal_key_name_valid(json_string_value(v))) {
        goto out;
    }
    memcpy(p.name, json_string_value(v), strlen(json_string_value(v)) + 1);
    v = json_object_get(root, "weights_sha256");
    if (!json_is_string(v) || !is_lower_hex(json_string_value(v), 64) ||
        ks_hex_decode_fixed(json_string_value(v), p.weights_sha256, 32) < 0) {
        goto out;
    }
    *ret = p;
    r = KS_OK;
out:
    json_decref(root);
    return r;
}

static bool is_ed25519(EVP_PKEY *k)
{
    return k && EVP_PKEY_is_a(k, "ED25519");
}

int ks_program_sign(const struct ks_program *p, EVP_PKEY *ci_key, char **ret_signed,
                    size_t *ret_len)
{
    char *manifest = NULL, *m64 = NULL, *s64 = NULL;
    size_t mlen = 0, slen = KS_PROGRAM_SIG_LEN;
    uint8_t sig[KS_PROGRAM_SIG_LEN];
    EVP_MD_CTX *ctx = NULL;
    json_t *root = NULL;
    int r;
    if (!p || !ret_signed) {
        return KS_ERR_INVALID_ARG;
    }
    if (!is_ed25519(ci_key)) {
        return KS_ERR_PROGRAM_KEY;
    }
    if ((r = ks_program_manifest_encode(p, &manifest, &mlen)) < 0) {
        return r;
    }
    ctx = EVP_MD_CTX_new();
    if (!ctx) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    /* Ed25519 is one-shot (RFC 8032 PureEdDSA): no digest. */
    if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, ci_key) != 1 ||
        EVP_DigestSign(ctx, sig, &slen, (const uint8_t *)manifest, mlen) != 1 ||
        slen != KS_PROGRAM_SIG_LEN) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    if ((r = ks_base64_encode((const uint8_t *)manifest, mlen, &m64)) < 0 ||
        (r = ks_base64_encode(sig, slen, &s64)) < 0) {
        goto out;
    }
    root = json_pack("{s:s, s:s}", "manifest", m64, "signature", s64);
    char *out = root ? json_dumps(root, JSON_COMPACT) : NULL;
    if (!out) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    *ret_signed = out;
    if (ret_len) {
        *ret_len = strlen(out);
    }
    r = KS_OK;
out:
    json_decref(root);
    EVP_MD_CTX_free(ctx);
    free(manifest);
    free(m64);
    free(s64);
    return r;
}

static int get_b64(json_t *root, const char *key, uint8_t **ret, size_t *ret_len)
{
    json_t *v = json_object_get(root, key);
    if (!json_is_string(v)) {
        return KS_ERR_PROGRAM_JSON;
    }
    return ks_base64_decode(json_string_value(v), json_string_length(v), ret, ret_len);
}

int ks_program_verify(const uint8_t *signed_json, size_t len, EVP_PKEY *ci_pub,
                      struct ks_program *ret, uint8_t *ret_manifest_sha256)
{
    uint8_t *manifest = NULL, *sig = NULL;
    size_t mlen = 0, slen = 0;
    struct ks_program p;
    json_error_t jerr;
    json_t *root = NULL;
    EVP_MD_CTX *ctx = NULL;
    int r;
    if (!signed_json || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    if (!is_ed25519(ci_pub)) {
        return KS_ERR_PROGRAM_KEY;
    }
    if (len > KS_PROGRAM_MAX) {
        return KS_ERR_PROGRAM_JSON;
    }
    root = json_loadb((const char *)signed_json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root) || json_object_size(root) != 2) {
        r = KS_ERR_PROGRAM_JSON;
        goto out;
    }
    if ((r = get_b64(root, "manifest", &manifest, &mlen)) < 0 ||
        (r = get_b64(root, "signature", &sig, &slen)) < 0) {
        goto out;
    }
    if (slen != KS_PROGRAM_SIG_LEN) {
        r = KS_ERR_PROGRAM_SIGNATURE;
        goto out;
    }
    ctx = EVP_MD_CTX_new();
    if (!ctx) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, ci_pub) != 1) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    /* The signature first: nothing of an unsigned manifest is parsed. */
    if (EVP_DigestVerify(ctx, sig, slen, manifest, mlen) != 1) {
        r = KS_ERR_PROGRAM_SIGNATURE;
        goto out;
    }
    if ((r = ks_program_manifest_parse(manifest, mlen, &p)) < 0) {
        goto out;
    }
    if (ret_manifest_sha256 &&
        !EVP_Digest(manifest, mlen, ret_manifest_sha256, NULL, EVP_sha256(), NULL)) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    *ret = p;
    r = KS_OK;
out:
    EVP_MD_CTX_free(ctx);
    json_decref(root);
    free(manifest);
    free(sig);
    return r;
}

/* No passphrase prompt: an encrypted CI key is refused, not asked for. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

static int load_key(const char *path, bool private_key, EVP_PKEY **ret)
{
    BIO *bio;
    EVP_PKEY *k;
    if (!path || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    bio = BIO_new_file(path, "r");
    if (!bio) {
        return KS_ERR_IO;
    }
    k = private_key ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)
                    : PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!is_ed25519(k)) {
        EVP_PKEY_free(k);
        return KS_ERR_PROGRAM_KEY;
    }
    *ret = k;
    return KS_OK;
}

int ks_program_load_public_key(const char *path, EVP_PKEY **ret)
{
    return load_key(path, false, ret);
}

int ks_program_load_private_key(const char *path, EVP_PKEY **ret)
{
    return load_key(path, true, ret);
}
