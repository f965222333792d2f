/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_BENCH_SETUP_H
#define KS_BENCH_SETUP_H

/*
 * The benchmark's keyserver: a temporary directory with a fresh database
 * (ksctl init), a self-signed TLS certificate (the openssl CLI), the
 * software AK vouched for (ksctl ak add), a policy pinning the quoted PCRs,
 * a known key imported under it, and keyserverd running as a child on a
 * free port of 127.0.0.1. Plus the figures read from /proc about it.
 */

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "ks_error.h"
#include "pcr.h"
#include "soft_ak.h"

struct ks_bench_server_opts {
    const char *ksctl;      /* path of ksctl */
    const char *keyserverd; /* path of keyserverd */
    const char *openssl;    /* the openssl CLI (looked up in PATH) */
    const char *tmp;        /* parent of the temporary directory */
    const char *wrapper;    /* NULL, or a command keyserverd runs under, split at
                             * spaces (e.g. "valgrind --tool=callgrind") */
    unsigned threads;       /* keyserverd --threads */
    unsigned max_connections;
    unsigned nonce_lifetime;
    bool verbose; /* show the commands' output */
};

struct ks_bench_server {
    char dir[PATH_MAX / 2]; /* room for the file names below it */
    char cacert[PATH_MAX];
    char log[PATH_MAX];
    pid_t pid; /* 0 when not running */
    unsigned port;
};

/* Set everything up and start keyserverd; `pcrs` holds the values of the
 * sha256 PCRs 0..7 the policy pins, `key` the 32 bytes `key_name` holds.
 * On failure the daemon is stopped, the directory is kept for its log and
 * a message is printed.
 * KS_ERR_IO for a command that failed, KS_ERR_INTERNAL for a daemon that
 * did not come up. */
KS_WUR int ks_bench_server_start(const struct ks_bench_server_opts *o, const struct ks_soft_ak *ak,
                                 const struct ks_pcr_set *pcrs, const char *key_name,
                                 const uint8_t key[32], struct ks_bench_server *ret);

/* utime and stime of the running daemon, all threads (/proc/PID/stat), in
 * microseconds (the kernel counts clock ticks, 10 ms each at USER_HZ 100). */
KS_WUR int ks_bench_server_cpu_us(const struct ks_bench_server *s, uint64_t *ret_user_us,
                                  uint64_t *ret_sys_us);

/* Peak resident set of the running daemon (VmHWM of /proc/PID/status), KiB. */
KS_WUR int ks_bench_server_hwm_kib(const struct ks_bench_server *s, uint64_t *ret_kib);

/* Connections the daemon has open: its TCP sockets to 127.0.0.1:port in
 * state ESTABLISHED, from /proc/net/tcp. */
KS_WUR int ks_bench_server_established(const struct ks_bench_server *s, unsigned *ret_n);

/* SIGTERM, then wait4(): its own rusage (whole life: ru_utime, ru_stime,
 * ru_maxrss). ret_ru may be NULL. KS_ERR_INTERNAL when it did not exit
 * cleanly within 10 s (it is then killed). */
KS_WUR int ks_bench_server_stop(struct ks_bench_server *s, struct rusage *ret_ru);

/* Stop it if it runs, and remove the directory unless `keep`. */
void ks_bench_server_cleanup(struct ks_bench_server *s, bool keep);

#endif
