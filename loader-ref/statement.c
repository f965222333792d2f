/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "encoding.h"
#include "receipt.h"
#include "statement.h"

/* Caps on what is decoded before the signature verifies. */
#define PAYLOAD_MAX (64u * 1024)
#define SIG_MAX 256

/* Decode a base64 member of o into a new buffer of at most max bytes. */
static int b64_get(json_t *o, const char *name, size_t max, uint8_t **ret, size_t *ret_len)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_string(v) || json_string_length(v) > (max + 2) / 3 * 4) {
        return KS_ERR_STATEMENT;
    }
    if (ks_base64_decode(json_string_value(v), json_string_length(v), ret, ret_len) != KS_OK) {
        return KS_ERR_STATEMENT;
    }
    return KS_OK;
}

static bool get_u32(json_t *o, const char *name, uint32_t *ret)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > UINT32_MAX) {
        return false;
    }
    *ret = (uint32_t)json_integer_value(v);
    return true;
}

static bool copy_string(json_t *o, const char *name, char *dst, size_t size)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_string(v) || json_string_length(v) >= size ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        return false;
    }
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return true;
}

static int parse_statement(const uint8_t *payload, size_t len, const char *expect_name,
                           uint32_t expect_version, struct ks_statement *st)
{
    json_error_t jerr;
    uint8_t *pk = NULL;
    size_t pk_len = 0;
    int r = KS_ERR_STATEMENT;
    json_t *p = json_loadb((const char *)payload, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *v = json_object_get(p, "v");
    json_t *type = json_object_get(p, "type");
    json_t *suite = json_object_get(p, "suite");
    json_t *time = json_object_get(p, "time");
    if (!json_is_object(p) || !json_is_integer(v) || json_integer_value(v) != 1 ||
        !json_is_string(type) || strcmp(json_string_value(type), "request-key") != 0 ||
        !copy_string(p, "name", st->name, sizeof(st->name)) || strcmp(st->name, expect_name) != 0 ||
        !get_u32(p, "version", &st->version) || (expect_version && st->version != expect_version) ||
        !copy_string(p, "keyserver", st->keyserver, sizeof(st->keyserver)) ||
        !copy_string(p, "policy", st->policy, sizeof(st->policy)) ||
        !get_u32(p, "policy_version", &st->policy_version) || !json_is_integer(time) ||
        !json_is_object(suite)) {
        goto out;
    }
    st->time = json_integer_value(time);
    /* The suite the client will use must be the one the key is for. */
    json_t *kem = json_object_get(suite, "kem_id"), *kdf = json_object_get(suite, "kdf_id"),
           *aead = json_object_get(suite, "aead_id");
    if (!json_is_integer(kem) || json_integer_value(kem) != KS_HPKE_KEM_X25519_SHA256 ||
        !json_is_integer(kdf) || json_integer_value(kdf) != KS_HPKE_KDF_HKDF_SHA256 ||
        !json_is_integer(aead) || json_integer_value(aead) != KS_HPKE_AEAD_AES_256_GCM) {
        goto out;
    }
    if (b64_get(p, "public_key", KS_HPKE_PK_LEN, &pk, &pk_len) != KS_OK ||
        pk_len != KS_HPKE_PK_LEN) {
        goto out;
    }
    memcpy(st->public_key, pk, KS_HPKE_PK_LEN);
    r = KS_OK;
out:
    free(pk);
    json_decref(p);
    return r;
}

/* {"payload": B64, "signature": B64} of o: decode and verify. */
static int verify_signed(json_t *o, const uint8_t *spki, size_t spki_len, uint8_t **ret_payload,
                         size_t *ret_len)
{
    uint8_t *payload = NULL, *sig = NULL;
    size_t plen = 0, slen = 0;
    int r = b64_get(o, "payload", PAYLOAD_MAX, &payload, &plen);
    if (r == KS_OK) {
        r = b64_get(o, "signature", SIG_MAX, &sig, &slen);
    }
    if (r == KS_OK) {
        r = ks_receipt_verify(spki, spki_len, payload, plen, sig, slen);
    }
    free(sig);
    if (r != KS_OK) {
        free(payload);
        return r;
    }
    *ret_payload = payload;
    *ret_len = plen;
    return KS_OK;
}

int ks_statement_verify(const uint8_t *body, size_t len, const uint8_t *spki, size_t spki_len,
                        const char *expect_name, uint32_t expect_version, struct ks_statement *ret)
{
    json_error_t jerr;
    struct ks_statement st;
    uint8_t *payload = NULL;
    size_t plen = 0;
    if (!body || !spki || !expect_name || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    memset(&st, 0, sizeof(st));
    json_t *root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *s = json_object_get(root, "statement");
    int r =
        json_is_object(s) ? verify_signed(s, spki, spki_len, &payload, &plen) : KS_ERR_STATEMENT;
    if (r == KS_OK) {
        r = parse_statement(payload, plen, expect_name, expect_version, &st);
    }
    free(payload);
    json_decref(root);
    if (r == KS_OK) {
        *ret = st;
    }
    return r;
}

/* Whether a receipt entry's "share" says what the response said: absent in
 * both (a whole key), or {"count", "index", "threshold"} (exactly those)
 * equal to the response's, so that the share metadata the loader acts on
 * is vouched for by the keyserver's signature. */
static bool share_matches(json_t *k, const struct ks_attest_key *key)
{
    json_t *share = json_object_get(k, "share");
    if (!share) {
        return key->share_index == 0;
    }
    uint32_t index = 0, threshold = 0, count = 0;
    return key->share_index != 0 && json_is_object(share) && json_object_size(share) == 3 &&
           get_u32(share, "index", &index) && get_u32(share, "threshold", &threshold) &&
           get_u32(share, "count", &count) && index == key->share_index &&
           threshold == key->share_threshold && count == key->share_count;
}

/* Whether the receipt's keys are exactly res's keys, share metadata
 * included. */
static bool keys_match(json_t *keys, const struct ks_attest_result *res)
{
    bool used[KS_ATTEST_MAX_KEYS] = {false};
    if (!json_is_array(keys) || json_array_size(keys) != res->n_keys) {
        return false;
    }
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k)
    {
        char name[KS_ATTEST_KEY_NAME_MAX + 1];
        uint32_t version = 0;
        if (!copy_string(k, "name", name, sizeof(name)) || !get_u32(k, "version", &version)) {
            return false;
        }
        size_t j = 0;
        while (j < res->n_keys && (used[j] || strcmp(res->keys[j].name, name) != 0 ||
                                   res->keys[j].version != version)) {
            j++;
        }
        if (j == res->n_keys || !share_matches(k, &res->keys[j])) {
            return false;
        }
        used[j] = true;
    }
    return true;
}

/* A receipt member naming a SHA-256 in lowercase hex equals `want`. */
static bool hash_is(const json_t *v, const uint8_t want[32])
{
    char hex[65];
    ks_hex_encode(want, 32, hex);
    return json_is_string(v) && strcmp(json_string_value(v), hex) == 0;
}

int ks_statement_receipt_check(const uint8_t *spki, size_t spki_len,
                               const struct ks_attest_result *res, const char *ak_id)
{
    json_error_t jerr;
    if (!spki || !res || !ak_id) {
        return KS_ERR_INVALID_ARG;
    }
    int r = ks_receipt_verify(spki, spki_len, res->receipt_payload, res->receipt_payload_len,
                              res->receipt_signature, res->receipt_signature_len);
    if (r != KS_OK) {
        return r;
    }
    json_t *p = json_loadb((const char *)res->receipt_payload, res->receipt_payload_len,
                           JSON_REJECT_DUPLICATES, &jerr);
    json_t *v = json_object_get(p, "v");
    json_t *ak = json_object_get(p, "ak_id");
    r = json_is_object(p) && json_is_integer(v) && json_integer_value(v) == 1 &&
                json_is_string(ak) && strcmp(json_string_value(ak), ak_id) == 0 &&
                keys_match(json_object_get(p, "keys"), res) &&
                (!res->has_request ||
                 (hash_is(json_object_get(p, "request_sha256"), res->request_sha256) &&
                  hash_is(json_object_get(p, "hpke_pk_sha256"), res->hpke_pk_sha256)))
            ? KS_OK
            : KS_ERR_RECEIPT_MISMATCH;
    json_decref(p);
    return r;
}
