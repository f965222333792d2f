/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "keyserverd/log.h"

void ks_log_open(struct ks_log *log, enum ks_log_target target)
{
    log->target = target;
    if (target == KS_LOG_SYSLOG) {
        openlog("keyserverd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
    }
}

void ks_log_close(struct ks_log *log)
{
    if (log && log->target == KS_LOG_SYSLOG) {
        closelog();
    }
}

static const char *prio_name(int prio)
{
    switch (prio) {
    case LOG_EMERG:
    case LOG_ALERT:
    case LOG_CRIT:
    case LOG_ERR:
        return "error";
    case LOG_WARNING:
        return "warning";
    case LOG_NOTICE:
        return "notice";
    case LOG_INFO:
        return "info";
    default:
        return "debug";
    }
}

void ks_log(const struct ks_log *log, int prio, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (log && log->target == KS_LOG_SYSLOG) {
        syslog(prio, "%s", msg);
        return;
    }
    struct timeval tv;
    struct tm tm;
    char ts[32];
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    /* One fprintf per line: stdio's stream lock keeps lines whole. */
    fprintf(stderr, "%s.%03ldZ keyserverd %s: %s\n", ts, (long)(tv.tv_usec / 1000), prio_name(prio),
            msg);
}

void ks_log_sanitize(const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    if (outlen < 4) {
        if (outlen > 0) {
            out[0] = '\0';
        }
        return;
    }
    for (size_t i = 0; in && in[i] != '\0'; i++) {
        if (o + 1 >= outlen) {
            memcpy(out + outlen - 4, "...", 4);
            return;
        }
        unsigned char c = (unsigned char)in[i];
        out[o++] = (c < 0x20 || c > 0x7e || c == '"' || c == '\\') ? '?' : (char)c;
    }
    out[o] = '\0';
}
