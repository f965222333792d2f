/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "keyserverd/ks_config.h"
#include "keyserverd/log.h"
#include "keyserverd/server.h"
#include "keyserverd/state.h"
#include "keyserverd/tls.h"

/* Exit codes: 0 clean stop (or configuration OK), 1 runtime failure (cannot
 * bind, out of memory), 2 usage or configuration error. */
#define EXIT_RUNTIME 1
#define EXIT_CONFIG 2

/* Secure heap for secrets (nonce key now; store secrets later): locked,
 * excluded from core dumps by OpenSSL. */
#define SECURE_HEAP_SIZE (256 * 1024)
#define SECURE_HEAP_MIN 32

enum {
    OPT_CONFIG = 'c',
    OPT_HELP = 'h',
    OPT_VERSION = 'V',
    OPT_CHECK = 0x100,
    OPT_KEY_BASE = 0x200, /* + index into the config key table */
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: keyserverd [--config FILE] [--check-config] [OPTION...]\n"
               "\n"
               "Attestation-gated key server (HTTPS). See keyserverd(8), keyserverd.conf(5).\n"
               "\n"
               "  -c, --config FILE                read FILE (keyserverd.conf(5)); flags "
               "override it\n"
               "      --check-config               validate the configuration and exit\n"
               "  -h, --help                       this help\n"
               "  -V, --version                    print the version\n");
    for (size_t i = 0; ks_config_key(i); i++) {
        const struct ks_config_key *k = ks_config_key(i);
        char left[64];
        snprintf(left, sizeof(left), "--%s%s%s%s", k->flag, k->is_bool ? "[=" : " ", k->arg,
                 k->is_bool ? "]" : "");
        fprintf(f, "      %-28s %s\n", left, k->help);
    }
}

struct flag_value {
    size_t key;
    const char *value;
};

/* Options: the fixed ones and one per configuration key. */
static struct option *build_options(void)
{
    size_t n = 0;
    while (ks_config_key(n)) {
        n++;
    }
    struct option *o = calloc(n + 5, sizeof(*o));
    if (!o) {
        return NULL;
    }
    o[0] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
    o[1] = (struct option){"check-config", no_argument, NULL, OPT_CHECK};
    o[2] = (struct option){"help", no_argument, NULL, OPT_HELP};
    o[3] = (struct option){"version", no_argument, NULL, OPT_VERSION};
    for (size_t i = 0; i < n; i++) {
        const struct ks_config_key *k = ks_config_key(i);
        o[4 + i] = (struct option){k->flag, k->is_bool ? optional_argument : required_argument,
                                   NULL, OPT_KEY_BASE + (int)i};
    }
    return o;
}

/* Parse argv, the file, then the flags over it. Returns 0 to go on, or an
 * exit code (with *ret_exit_now set). */
static int load_config(int argc, char **argv, struct ks_config *cfg, bool *ret_check,
                       bool *ret_exit_now)
{
    const char *config_path = NULL;
    char err[768];
    int rc = EXIT_CONFIG;
    struct flag_value *flags = calloc((size_t)argc + 1, sizeof(*flags));
    struct option *opts = build_options();
    size_t nflags = 0;
    *ret_exit_now = true;
    if (!flags || !opts) {
        fprintf(stderr, "keyserverd: out of memory\n");
        rc = EXIT_RUNTIME;
        goto out;
    }
    int c;
    while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
        if (c == OPT_CONFIG) {
            config_path = optarg;
        } else if (c == OPT_CHECK) {
            *ret_check = true;
        } else if (c == OPT_HELP) {
            usage(stdout);
            rc = 0;
            goto out;
        } else if (c == OPT_VERSION) {
            printf("keyserverd %s\n", PACKAGE_VERSION);
            rc = 0;
            goto out;
        } else if (c >= OPT_KEY_BASE && ks_config_key((size_t)(c - OPT_KEY_BASE))) {
            size_t i = (size_t)(c - OPT_KEY_BASE);
            flags[nflags].key = i;
            flags[nflags].value = optarg ? optarg : "true"; /* bare --plain-http */
            nflags++;
        } else {
            usage(stderr);
            goto out;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "keyserverd: unexpected argument '%s'\n", argv[optind]);
        goto out;
    }
    if (ks_config_init(cfg) != KS_OK) {
        fprintf(stderr, "keyserverd: out of memory\n");
        rc = EXIT_RUNTIME;
        goto out;
    }
    if (config_path && ks_config_parse_file(cfg, config_path, err, sizeof(err)) != KS_OK) {
        fprintf(stderr, "keyserverd: %s\n", err);
        goto out;
    }
    for (size_t i = 0; i < nflags; i++) {
        const struct ks_config_key *k = ks_config_key(flags[i].key);
        if (ks_config_set(cfg, k->name, flags[i].value, err, sizeof(err)) != KS_OK) {
            fprintf(stderr, "keyserverd: --%s: %s\n", k->flag, err);
            goto out;
        }
    }
    if (ks_config_validate(cfg, err, sizeof(err)) != KS_OK) {
        fprintf(stderr, "keyserverd: %s\n", err);
        goto out;
    }
    *ret_exit_now = false;
    rc = 0;
out:
    free(flags);
    free(opts);
    return rc;
}

int main(int argc, char **argv)
{
    struct ks_config cfg;
    struct ks_log log = {KS_LOG_STDERR};
    struct ks_server_ctx *ctx = NULL;
    struct ks_tls *tls = NULL;
    struct ks_server *srv = NULL;
    bool check = false, exit_now = false;
    char err[768];
    int rc, r;

    memset(&cfg, 0, sizeof(cfg));
    rc = load_config(argc, argv, &cfg, &check, &exit_now);
    if (exit_now) {
        ks_config_free(&cfg);
        return rc;
    }
    if (!cfg.plain_http) {
        err[0] = '\0';
        r = ks_tls_new(cfg.tls_cert, cfg.tls_key, &tls, err, sizeof(err));
        if (r != KS_OK) {
            /* The message names the file and the reason when there is one. */
            fprintf(stderr, "keyserverd: TLS: %s\n", err[0] ? err : ks_strerror(r));
            rc = EXIT_CONFIG;
            goto out;
        }
    }
    if (check) {
        printf("keyserverd: configuration OK\n");
        rc = 0;
        goto out;
    }

    ks_log_open(&log, cfg.log);
    if (cfg.plain_http) {
        ks_log(&log, LOG_WARNING,
               "*** plain_http is set: serving WITHOUT TLS. Requests and released keys' "
               "metadata travel in clear text. For tests only. ***");
    }
    if (CRYPTO_secure_malloc_init(SECURE_HEAP_SIZE, SECURE_HEAP_MIN) != 1) {
        ks_log(&log, LOG_WARNING,
               "cannot set up the OpenSSL secure heap (RLIMIT_MEMLOCK?); secrets stay in "
               "ordinary memory");
    }

    /* Signals are taken synchronously by this thread with sigwaitinfo();
     * they are blocked before any thread starts, so every worker inherits
     * the mask and no handler (and no global flag) is needed. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
        ks_log(&log, LOG_ERR, "cannot block signals");
        rc = EXIT_RUNTIME;
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);

    r = ks_state_new(&cfg, &log, &ctx);
    if (r != KS_OK) {
        ks_log(&log, LOG_ERR, "%s: %s", __func__, ks_strerror(r));
        rc = EXIT_RUNTIME;
        goto out;
    }
    r = ks_server_start(ctx, tls, &srv);
    if (r != KS_OK) {
        ks_log(&log, LOG_ERR, "cannot serve on %s port %u: %s", cfg.listen_host,
               (unsigned)cfg.listen_port, ks_strerror(r));
        rc = EXIT_RUNTIME;
        goto out;
    }
    if (tls) {
        char desc[512];
        ks_tls_describe(tls, desc, sizeof(desc));
        ks_log(&log, LOG_NOTICE, "TLS certificate: %s", desc);
    }
    ks_log(&log, LOG_NOTICE, "listening on %s%s%s:%u (%s, %u threads, max %u connections)",
           strchr(cfg.listen_host, ':') ? "[" : "", cfg.listen_host,
           strchr(cfg.listen_host, ':') ? "]" : "", (unsigned)ks_server_port(srv),
           cfg.plain_http ? "plain HTTP" : "HTTPS", cfg.threads, cfg.max_connections);
    if (cfg.port_file && ks_server_write_port_file(srv, cfg.port_file) != KS_OK) {
        ks_log(&log, LOG_ERR, "cannot write port file %s: %s", cfg.port_file, strerror(errno));
        rc = EXIT_RUNTIME;
        goto out;
    }

    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(&set, &si);
        if (sig < 0) {
            continue; /* EINTR */
        }
        if (sig == SIGHUP) {
            if (!tls) {
                ks_log(&log, LOG_NOTICE, "SIGHUP: plain HTTP, no TLS credentials to reload");
                continue;
            }
            r = ks_tls_reload(tls, err, sizeof(err));
            if (r == KS_OK) {
                char desc[512];
                ks_tls_describe(tls, desc, sizeof(desc));
                ks_log(&log, LOG_NOTICE, "SIGHUP: TLS certificate reloaded: %s", desc);
            } else {
                ks_log(&log, LOG_ERR, "SIGHUP: TLS reload failed, keeping the old certificate: %s",
                       r == KS_ERR_TLS ? err : ks_strerror(r));
            }
            continue;
        }
        ks_log(&log, LOG_NOTICE, "%s: finishing requests in flight, then exiting",
               sig == SIGTERM ? "SIGTERM" : "SIGINT");
        break;
    }
    ks_server_stop(srv, cfg.connection_timeout);
    srv = NULL;
    ks_log(&log, LOG_NOTICE, "stopped");
    rc = 0;
out:
    ks_server_stop(srv, 0);
    ks_state_free(ctx);
    ks_tls_free(tls);
    ks_log_close(&log);
    ks_config_free(&cfg);
    if (CRYPTO_secure_malloc_initialized()) {
        CRYPTO_secure_malloc_done();
    }
    return rc;
}
