/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "encoding.h"
#include "keyserverd/endpoints.h"
#include "keyserverd/release_request.h"

/*
 * POST /v1/release (DESIGN "Protocol"): the body is parsed into a typed
 * request (release_request.c), decided by ks_release_decide() (release.h),
 * and the result formatted as
 *   {"keys":[{"name","version","enc","ciphertext"[,"share":{"index","threshold","count"}]}],
 *    "receipt":{"payload","signature"}}
 */

/* What a refused client is told: the error code's generic text. The precise
 * reason goes to the log (and, with the store, to the audit record) only. */
static const char *refusal_detail(int r)
{
    switch (ks_http_code_for(r)) {
    case KS_HC_NONCE_INVALID:
    case KS_HC_NONCE_EXPIRED:
    case KS_HC_NONCE_USED:
    case KS_HC_BAD_REQUEST:
        return ks_strerror(r);
    case KS_HC_ATTESTATION_FAILED:
        return ks_strerror(KS_ERR_ATTESTATION);
    case KS_HC_POLICY_DENIED:
        return ks_strerror(KS_ERR_POLICY_DENIED);
    case KS_HC_UNAVAILABLE:
        return "temporarily unavailable; retry";
    default:
        return "internal error";
    }
}

static int add_b64(json_t *obj, const char *name, const uint8_t *buf, size_t len)
{
    char *s = NULL;
    int r = ks_base64_encode(buf, len, &s);
    if (r != KS_OK) {
        return r;
    }
    r = json_object_set_new(obj, name, json_string(s)) == 0 ? KS_OK : KS_ERR_NOMEM;
    free(s);
    return r;
}

static int format_result(const struct ks_release_result *res, struct ks_http_reply *reply)
{
    int r = KS_ERR_NOMEM;
    json_t *keys = json_array();
    json_t *receipt = json_object();
    json_t *root = NULL;
    if (!keys || !receipt) {
        goto out;
    }
    for (size_t i = 0; i < res->n_keys && i < KS_RELEASE_MAX_KEYS; i++) {
        const struct ks_released_key *k = &res->keys[i];
        json_t *o = json_pack("{s:s, s:I}", "name", k->name, "version", (json_int_t)k->version);
        if (!o || json_array_append_new(keys, o) != 0) {
            r = KS_ERR_NOMEM;
            goto out;
        }
        r = add_b64(o, "enc", k->enc, sizeof(k->enc));
        if (r == KS_OK) {
            r = add_b64(o, "ciphertext", k->ciphertext, k->ciphertext_len);
        }
        /* k-of-n: where this share lies (also in the signed receipt). */
        if (r == KS_OK && k->share_count &&
            json_object_set_new(o, "share",
                                json_pack("{s:i,s:i,s:i}", "index", k->share_index, "threshold",
                                          k->share_threshold, "count", k->share_count)) != 0) {
            r = KS_ERR_NOMEM;
        }
        if (r != KS_OK) {
            goto out;
        }
    }
    r = add_b64(receipt, "payload", res->receipt_payload, res->receipt_payload_len);
    if (r == KS_OK) {
        r = add_b64(receipt, "signature", res->receipt_signature, res->receipt_signature_len);
    }
    if (r != KS_OK) {
        goto out;
    }
    root = json_pack("{s:O, s:O}", "keys", keys, "receipt", receipt);
    r = root ? ks_http_reply_json(reply, 200, root) : KS_ERR_NOMEM;
out:
    json_decref(keys);
    json_decref(receipt);
    json_decref(root);
    return r;
}

void ks_ep_release(struct ks_server_ctx *ctx, const struct ks_http_request *req,
                   struct ks_http_reply *reply)
{
    struct ks_release_request *rr = NULL;
    struct ks_release_result res;
    char detail[256] = "";
    memset(&res, 0, sizeof(res));

    int r =
        req->cbor
            ? ks_release_request_parse_cbor(req->body, req->body_len, &rr, detail, sizeof(detail))
            : ks_release_request_parse(req->body, req->body_len, &rr, detail, sizeof(detail));
    if (r != KS_OK) {
        /* The client gets the precise detail; the log does not, as it may
         * quote parts of the body. */
        ks_http_reply_error(reply, r, r == KS_ERR_BAD_REQUEST ? detail : "internal error");
        return;
    }
    r = ks_release_decide(ctx, rr, &res);
    if (r == KS_OK && res.n_keys == 0) {
        /* "All keys or none": a grant must carry every requested key. */
        r = KS_ERR_INTERNAL;
        res.reason = "release decision granted no keys";
    }
    if (r == KS_OK && res.n_keys != rr->n_keys) {
        r = KS_ERR_INTERNAL;
        res.reason = "release decision returned a partial set of keys";
    }
    if (r == KS_OK) {
        r = format_result(&res, reply);
        if (r != KS_OK) {
            res.reason = "cannot format the release response";
        }
    }
    if (r != KS_OK) {
        ks_http_reply_error(reply, r, refusal_detail(r));
        snprintf(reply->log_detail, sizeof(reply->log_detail), "%s",
                 res.reason ? res.reason : ks_strerror(r));
    }
    ks_release_result_clear(&res);
    ks_release_request_free(rr);
}
