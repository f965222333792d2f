/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_KEYSERVERD_SERVER_INTERNAL_H
#define KS_KEYSERVERD_SERVER_INTERNAL_H

/* Shared by server.c (the daemon) and request.c (one request). */

#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "keyserverd/state.h"
#include "keyserverd/tls.h"

struct ks_server {
    struct ks_server_ctx *ctx;
    struct ks_tls *tls; /* NULL with plain_http */
    struct MHD_Daemon *daemon;
    uint16_t port;
};

/* MHD_AccessHandlerCallback; cls is the struct ks_server. */
enum MHD_Result ks_request_handle(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls);

/* MHD_RequestCompletedCallback: metrics, the access-log line, cleanup. */
void ks_request_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                          enum MHD_RequestTerminationCode toe);

#endif
