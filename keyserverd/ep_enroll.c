/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "encoding.h"
#include "keyserverd/endpoints.h"
#include "keyserverd/enroll.h"
#include "makecred.h"

/*
 * POST /v1/enroll and POST /v1/enroll/{id}/activate (DESIGN "Protocol";
 * keyserverd/enroll.h). Unlike a release, a refused enrollment tells the
 * client why (an untrusted CA, an unapproved EK, AK attributes): the reason
 * concerns the client's own TPM and helps its operator; it is audited too.
 */

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

static int format_enroll(const struct ks_enroll_request *req, const struct ks_enroll_result *res,
                         struct ks_http_reply *reply)
{
    uint8_t *blob = NULL, *enc = NULL;
    size_t blob_len = 0, enc_len = 0;
    json_t *o = json_pack("{s:s, s:I, s:s, s:s}", "enrollment_id", res->id, "expires",
                          (json_int_t)res->expires, "ak_id", req->ak_id, "ek_name", req->ek_name);
    int r = o ? KS_OK : KS_ERR_NOMEM;
    if (r == KS_OK && (r = ks_cred_blob_encode(&res->blob, &blob, &blob_len)) == KS_OK &&
        (r = ks_cred_secret_encode(&res->enc, &enc, &enc_len)) == KS_OK &&
        (r = add_b64(o, "credential_blob", blob, blob_len)) == KS_OK &&
        (r = add_b64(o, "encrypted_secret", enc, enc_len)) == KS_OK) {
        r = ks_http_reply_json(reply, 200, o);
    }
    free(blob);
    free(enc);
    json_decref(o);
    return r;
}

/* What the client is told: the reason for refusals about its TPM, a generic
 * text for failures that are ours. */
static void refuse(struct ks_http_reply *reply, int r, const char *reason)
{
    unsigned status = ks_http_status_for(r, NULL);
    ks_http_reply_error(reply, r,
                        status == 403 || status == 404 || status == 409 || status == 429 ? reason
                        : status == 503 ? "temporarily unavailable; retry"
                                        : "internal error");
    snprintf(reply->log_detail, sizeof(reply->log_detail), "%s", reason);
}

void ks_ep_enroll(struct ks_server_ctx *ctx, const struct ks_http_request *req,
                  struct ks_http_reply *reply)
{
    struct ks_enroll_request *er = NULL;
    struct ks_enroll_result res;
    char detail[256] = "";
    memset(&res, 0, sizeof(res));
    int r = ks_enroll_request_parse(req->body, req->body_len, &er, detail, sizeof(detail));
    if (r != KS_OK) {
        ks_http_reply_error(reply, r, r == KS_ERR_BAD_REQUEST ? detail : "internal error");
        return;
    }
    r = ks_enroll_decide(ctx, er, req->client, &res);
    if (r == KS_OK) {
        r = format_enroll(er, &res, reply);
        if (r != KS_OK) {
            snprintf(res.reason, sizeof(res.reason), "cannot format the response");
        }
    }
    if (r != KS_OK) {
        refuse(reply, r, res.reason[0] ? res.reason : ks_strerror(r));
    } else {
        snprintf(reply->log_detail, sizeof(reply->log_detail), "enrollment %s ak %.24s...", res.id,
                 er->ak_id);
    }
    ks_enroll_request_free(er);
}

void ks_ep_enroll_activate(struct ks_server_ctx *ctx, const struct ks_http_request *req,
                           struct ks_http_reply *reply)
{
    uint8_t secret[KS_STORE_ENROLL_SECRET_MAX];
    size_t secret_len = 0;
    char detail[256] = "";
    struct ks_store_enroll_result res;
    int r = ks_enroll_activate_parse(req->path_arg, req->body, req->body_len, secret, &secret_len,
                                     detail, sizeof(detail));
    if (r != KS_OK) {
        ks_http_reply_error(reply, r, r == KS_ERR_NOMEM ? "internal error" : detail);
        return;
    }
    r = ks_enroll_activate(ctx, req->path_arg, secret, secret_len, req->client, &res);
    OPENSSL_cleanse(secret, sizeof(secret));
    if (r != KS_OK) {
        refuse(reply, r, res.reason[0] ? res.reason : ks_strerror(r));
        return;
    }
    json_t *o = json_pack("{s:s, s:s, s:s}", "ak_id", res.ak_id, "ek_name", res.ek_name, "status",
                          res.ek_approved ? "active" : "pending_ek_approval");
    r = o ? ks_http_reply_json(reply, 200, o) : KS_ERR_NOMEM;
    json_decref(o);
    if (r != KS_OK) {
        refuse(reply, r, "cannot format the response");
    }
}
