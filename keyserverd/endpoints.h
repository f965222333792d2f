/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_KEYSERVERD_ENDPOINTS_H
#define KS_KEYSERVERD_ENDPOINTS_H

/*
 * The HTTP endpoints, one file each (ep_*.c). server.c routes to them after
 * it has checked method, rate limit, Content-Type and body size; each
 * always fills the reply (a JSON document or an error via
 * ks_http_reply_error).
 */

#include <stddef.h>
#include <stdint.h>

#include "keyserverd/http.h"
#include "keyserverd/release.h"
#include "keyserverd/state.h"

typedef void ks_endpoint_fn(struct ks_server_ctx *ctx, const struct ks_http_request *req,
                            struct ks_http_reply *reply);

ks_endpoint_fn ks_ep_health;      /* GET /v1/health */
ks_endpoint_fn ks_ep_info;        /* GET /v1/info */
ks_endpoint_fn ks_ep_challenge;   /* POST /v1/challenge */
ks_endpoint_fn ks_ep_release;     /* POST /v1/release */
ks_endpoint_fn ks_ep_keys_public; /* GET /v1/keys/{name}/public */
ks_endpoint_fn ks_ep_metrics;     /* GET /metrics */

/* ep_enroll.c: POST /v1/enroll and POST /v1/enroll/{id}/activate */
ks_endpoint_fn ks_ep_enroll;
ks_endpoint_fn ks_ep_enroll_activate;

#endif
