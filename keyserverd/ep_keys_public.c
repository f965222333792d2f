/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "encoding.h"
#include "hpke.h"
#include "keyserverd/endpoints.h"
#include "keyserverd/release_request.h"
#include "receipt.h"

/*
 * GET /v1/keys/{name}/public: the public half of a request (HPKE) key with a
 * statement signed by the receipt key (DESIGN "Protocol"). The statement
 * payload (JSON, base64) names the keyserver, the key, its version, its
 * public key and its policy name and version; a client pins the receipt key
 * from /v1/info and uses the public key from the verified payload only, so a
 * relay cannot substitute its own key. The public half is not secret: no
 * attestation is asked for.
 */

static json_t *statement_payload(const struct ks_server_ctx *ctx,
                                 const struct ks_store_key_public *k, const char *pk_b64)
{
    return json_pack("{s:i,s:s,s:s,s:s,s:I,s:s,s:{s:i,s:i,s:i},s:s,s:I,s:I}", "v", 1, "type",
                     "request-key", "keyserver", ctx->id, "name", k->name, "version",
                     (json_int_t)k->version, "public_key", pk_b64, "suite", "kem_id",
                     KS_HPKE_KEM_X25519_SHA256, "kdf_id", KS_HPKE_KDF_HKDF_SHA256, "aead_id",
                     KS_HPKE_AEAD_AES_256_GCM, "policy", k->policy, "policy_version",
                     (json_int_t)k->policy_version, "time", (json_int_t)ks_state_now());
}

void ks_ep_keys_public(struct ks_server_ctx *ctx, const struct ks_http_request *req,
                       struct ks_http_reply *reply)
{
    struct ks_key_ref ref;
    struct ks_store_key_public k;
    char *pk_b64 = NULL, *payload = NULL, *payload_b64 = NULL, *sig_b64 = NULL;
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    json_t *p = NULL, *obj = NULL;
    const char *name = req->path_arg ? req->path_arg : "";
    if (ks_key_ref_parse(name, strlen(name), &ref) != KS_OK) {
        ks_http_reply_error(reply, KS_ERR_BAD_REQUEST,
                            "key name must match [A-Za-z0-9._-]{1,64}, optionally @VERSION");
        return;
    }
    struct ks_store *store = ks_state_store(ctx);
    if (!store) {
        ks_http_reply_error(reply, KS_ERR_INTERNAL, "database unavailable");
        return;
    }
    int r = ks_store_key_public_get(store, ref.name, ref.version, &k);
    if (r == KS_ERR_STORE_UNKNOWN_KEY || r == KS_ERR_INVALID_ARG) {
        /* A DEK has no public half: the same answer as an unknown key. */
        ks_http_reply_error(reply, KS_ERR_NOT_FOUND, "no such request key");
        return;
    }
    if (r < 0) {
        ks_http_reply_error(reply, KS_ERR_INTERNAL, "database error");
        return;
    }
    r = KS_ERR_NOMEM;
    if (ks_base64_encode(k.public_key, sizeof(k.public_key), &pk_b64) < 0 ||
        !(p = statement_payload(ctx, &k, pk_b64)) ||
        !(payload = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS))) {
        goto out;
    }
    r = ks_receipt_sign(ctx->receipt_key, (const uint8_t *)payload, strlen(payload), &sig,
                        &sig_len);
    if (r < 0) {
        goto out;
    }
    r = KS_ERR_NOMEM;
    if (ks_base64_encode((const uint8_t *)payload, strlen(payload), &payload_b64) < 0 ||
        ks_base64_encode(sig, sig_len, &sig_b64) < 0) {
        goto out;
    }
    obj =
        json_pack("{s:s,s:I,s:s,s:{s:s,s:s}}", "name", k.name, "version", (json_int_t)k.version,
                  "public_key", pk_b64, "statement", "payload", payload_b64, "signature", sig_b64);
    if (!obj) {
        goto out;
    }
    r = ks_http_reply_json(reply, 200, obj);
out:
    if (r < 0) {
        ks_http_reply_error(reply, KS_ERR_INTERNAL, "cannot build the statement");
    }
    json_decref(obj);
    json_decref(p);
    free(pk_b64);
    free(payload);
    free(payload_b64);
    free(sig_b64);
    OPENSSL_free(sig);
}
