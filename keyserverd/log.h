/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_KEYSERVERD_LOG_H
#define KS_KEYSERVERD_LOG_H

/*
 * keyserverd's logging: one line per call, to stderr (with an ISO 8601 UTC
 * time stamp) or to syslog (facility daemon). Thread-safe: each line is
 * written with a single call. Callers never pass request bodies, header
 * values or key material; ks_log_sanitize() makes untrusted text (paths)
 * printable first.
 */

#include <stddef.h>
#include <syslog.h>

#include "keyserverd/ks_config.h"

struct ks_log {
    enum ks_log_target target;
};

/* Open the log (openlog for syslog). */
void ks_log_open(struct ks_log *log, enum ks_log_target target);
void ks_log_close(struct ks_log *log);

/* prio: LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG. A NULL log
 * writes to stderr. */
void ks_log(const struct ks_log *log, int prio, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copy at most outlen-1 bytes of untrusted text, replacing bytes outside
 * printable ASCII (space included) and '"', '\\' by '?', and marking
 * truncation with "...", so the result can be logged inside double quotes.
 * Always NUL-terminates (outlen >= 4). */
void ks_log_sanitize(const char *in, char *out, size_t outlen);

#endif
