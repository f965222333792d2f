/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <jansson.h>

#include "keyserverd/endpoints.h"

/* GET /v1/health: {"status":"ok"}; 503 {"status":"draining"} once SIGTERM
 * was received, so that load balancers stop sending new requests. */
void ks_ep_health(struct ks_server_ctx *ctx, const struct ks_http_request *req,
                  struct ks_http_reply *reply)
{
    bool draining = atomic_load(&ctx->draining);
    json_t *obj = json_pack("{s:s}", "status", draining ? "draining" : "ok");
    if (!obj || ks_http_reply_json(reply, draining ? 503 : 200, obj) != KS_OK) {
        ks_http_reply_error(reply, KS_ERR_NOMEM, "out of memory");
    }
    json_decref(obj);
}
