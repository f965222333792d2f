/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdlib.h>

#include <jansson.h>

#include "encoding.h"
#include "keyserverd/endpoints.h"

/* POST /v1/challenge, body `{}` or empty -> {"nonce": b64(32), "expires":
 * unix-seconds} (DESIGN "Protocol"). */
void ks_ep_challenge(struct ks_server_ctx *ctx, const struct ks_http_request *req,
                     struct ks_http_reply *reply)
{
    uint8_t nonce[KS_NONCE_LEN];
    uint64_t expires = 0;
    char *b64 = NULL;
    json_t *obj = NULL;
    int r;

    if (req->body_len > 0) {
        json_error_t jerr;
        json_t *in =
            json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
        bool ok = in && json_is_object(in) && json_object_size(in) == 0;
        json_decref(in);
        if (!ok) {
            ks_http_reply_error(reply, KS_ERR_BAD_REQUEST, "body must be {} or empty");
            return;
        }
    }
    uint64_t now = ks_state_now();
    /* Refuse up front rather than issue nonces that cannot be consumed. */
    if (ks_nonce_cache_full(ctx->nonces, now)) {
        ks_http_reply_error(reply, KS_ERR_NONCE_CACHE_FULL, "too many outstanding nonces; retry");
        return;
    }
    r = ks_nonce_issue(ctx->nonces, now, nonce, &expires);
    if (r != KS_OK) {
        goto out;
    }
    r = ks_base64_encode(nonce, sizeof(nonce), &b64);
    if (r != KS_OK) {
        goto out;
    }
    obj = json_pack("{s:s, s:I}", "nonce", b64, "expires", (json_int_t)expires);
    r = obj ? ks_http_reply_json(reply, 200, obj) : KS_ERR_NOMEM;
out:
    if (r != KS_OK) {
        ks_http_reply_error(reply, r, "cannot issue a nonce");
    }
    free(b64);
    json_decref(obj);
}
