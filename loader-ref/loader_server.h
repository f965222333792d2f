/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_LOADER_SERVER_H
#define KS_LOADER_SERVER_H

/*
 * ks-loader's socket: a UNIX stream socket serving length-prefixed frames
 * (frame.h) to any number of connections up to a cap, one poll() loop, no
 * threads. Each complete frame is handed to loader_ops and its response
 * queued; a frame with a bad length gets a bad_frame refusal and the
 * connection is closed after it (the stream cannot be resynchronised).
 * Connections idle for longer than the timeout are closed. SIGINT and
 * SIGTERM (through a signalfd) end the loop.
 */

#include <stdbool.h>

#include "ks_error.h"
#include "loader_ops.h"

struct ks_loader_server_config {
    const char *path;
    unsigned mode;            /* of the socket file */
    unsigned max_connections; /* >= 1 */
    unsigned idle_timeout;    /* seconds */
};

/*
 * Bind the socket (a stale socket file nobody listens on is replaced; any
 * other file, or a live socket, is an error: KS_ERR_IO), then serve until
 * SIGINT or SIGTERM, which the caller must have blocked in every thread
 * (ks_loader_serve uses a signalfd). The socket file is removed on return.
 * ready (may be NULL) is called once the socket listens.
 */
KS_WUR int ks_loader_serve(const struct ks_loader_server_config *cfg, struct ks_loader_ops *ops,
                           void (*ready)(void *ctx), void *ready_ctx);

#endif
