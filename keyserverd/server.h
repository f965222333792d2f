/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_KEYSERVERD_SERVER_H
#define KS_KEYSERVERD_SERVER_H

/*
 * The HTTP(S) server: libmicrohttpd with an internal polling thread pool
 * (epoll where available), TLS 1.2/1.3 through its GnuTLS backend with the
 * certificate supplied by a callback (reloadable), connection limit and
 * idle timeout from the configuration. Every request goes through one
 * access handler: rate limit, routing (404/405), Content-Type (415), body
 * cap (413), then the endpoint; one access-log line and the metrics are
 * recorded when the request completes.
 */

#include <stdint.h>

#include "ks_error.h"
#include "keyserverd/state.h"
#include "keyserverd/tls.h"

struct ks_server;

/* Start serving. tls is NULL only with cfg->plain_http. The server borrows
 * ctx and tls; both must outlive it. KS_ERR_IO when the address cannot be
 * bound, KS_ERR_UNSUPPORTED when libmicrohttpd lacks TLS or the certificate
 * callback. */
KS_WUR int ks_server_start(struct ks_server_ctx *ctx, struct ks_tls *tls, struct ks_server **ret);

/* The bound port (the configured one, or the one chosen for port 0). */
uint16_t ks_server_port(const struct ks_server *srv);

/* Write the bound port (decimal and a newline) to path, atomically (a
 * temporary file renamed into place), once the daemon accepts. */
KS_WUR int ks_server_write_port_file(const struct ks_server *srv, const char *path);

/* Graceful stop: stop accepting, let requests in flight finish (at most
 * grace_s seconds), close every connection and free the server. NULL is a
 * no-op. */
void ks_server_stop(struct ks_server *srv, unsigned grace_s);

#endif
