/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_KEYSERVERD_KS_CONFIG_H
#define KS_KEYSERVERD_KS_CONFIG_H

/*
 * keyserverd.conf: `key = value` lines, `#` starts a comment line, blank
 * lines ignored. Unknown keys, repeated keys, malformed lines and values out
 * of range are errors that name the line (documented in keyserverd.conf(5)).
 * Every key is also a command-line flag (`--key-name`, underscores become
 * dashes); flags are applied after the file and override it.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ks_error.h"

#define KS_CONFIG_DEFAULT_HOST "127.0.0.1"
#define KS_CONFIG_DEFAULT_PORT 8443
#define KS_CONFIG_DEFAULT_DB "/var/lib/keyserver/keyserver.db"
#define KS_CONFIG_DEFAULT_MASTER_KEY "/etc/keyserver/master.key"
#define KS_CONFIG_DEFAULT_MAX_BODY (1024u * 1024u)
#define KS_CONFIG_DEFAULT_MAX_CONNECTIONS 1024
#define KS_CONFIG_DEFAULT_CONNECTION_TIMEOUT 30
#define KS_CONFIG_DEFAULT_NONCE_LIFETIME 60
#define KS_CONFIG_DEFAULT_RATE_LIMIT 50
#define KS_CONFIG_DEFAULT_RATE_BURST 100
#define KS_CONFIG_DEFAULT_POLICY_CACHE_VERSIONS 64
#define KS_CONFIG_DEFAULT_POLICY_CACHE_RULES (1u << 19) /* ~300 bytes a rule */
/* Enrollment (POST /v1/enroll): lifetime of a pending enrollment and caps
 * on how many may be pending, in total and per EK. */
#define KS_CONFIG_DEFAULT_ENROLL_LIFETIME 300
#define KS_CONFIG_DEFAULT_ENROLL_MAX_PENDING 1024
#define KS_CONFIG_DEFAULT_ENROLL_MAX_PER_EK 4

/* Bounds on the numeric keys (inclusive). */
#define KS_CONFIG_MAX_BODY_MIN 64u
#define KS_CONFIG_MAX_BODY_MAX (64u * 1024u * 1024u)
#define KS_CONFIG_MAX_CONNECTIONS_MAX 65536
#define KS_CONFIG_TIMEOUT_MAX 3600
#define KS_CONFIG_THREADS_MAX 256
#define KS_CONFIG_NONCE_LIFETIME_MAX 3600
#define KS_CONFIG_RATE_MAX 1000000

/* Longest accepted line of the file, and longest value. */
#define KS_CONFIG_LINE_MAX 4096
/* Longest host part of `listen` (an IPv6 literal fits). */
#define KS_CONFIG_HOST_MAX 64

enum ks_log_target {
    KS_LOG_STDERR = 0,
    KS_LOG_SYSLOG = 1,
};

struct ks_config {
    char listen_host[KS_CONFIG_HOST_MAX]; /* numeric IPv4 or IPv6 (no brackets) */
    uint16_t listen_port;                 /* 0: any free port */
    char *port_file;                      /* NULL: none */
    char *tls_cert;                       /* PEM chain, leaf first */
    char *tls_key;                        /* PEM private key */
    bool plain_http;                      /* tests only */
    char *db;
    char *master_key;
    size_t max_body;
    unsigned max_connections;
    unsigned connection_timeout; /* seconds */
    unsigned threads;
    unsigned nonce_lifetime; /* seconds */
    unsigned rate_limit;     /* requests per second per client; 0 disables */
    unsigned rate_burst;
    enum ks_log_target log;
    unsigned app_pcr;         /* application PCR of the measured launcher */
    unsigned db_busy_timeout; /* milliseconds a database write waits for a lock */

    /* POST /v1/enroll */
    unsigned enroll_lifetime;    /* seconds a pending enrollment may be activated */
    unsigned enroll_max_pending; /* unexpired pending enrollments, in total */
    unsigned enroll_max_per_ek;  /* ... and per EK */

    /* keyserverd/policy_cache.h: its bounds */
    unsigned policy_cache_versions;
    unsigned policy_cache_rules;
};

/* Description of one key, for the option table of main.c and the docs. */
struct ks_config_key {
    const char *name; /* as in the file: "max_body" */
    const char *flag; /* as a flag: "max-body" */
    bool is_bool;     /* a flag without a value means true */
    const char *arg;  /* metavariable for --help */
    const char *help; /* one line for --help */
};

/* The i-th key of the table (0-based), NULL past the end. */
const struct ks_config_key *ks_config_key(size_t i);

/* Set every field to its default (threads: the number of online cores).
 * KS_ERR_NOMEM when a default string cannot be allocated. */
KS_WUR int ks_config_init(struct ks_config *cfg);

/* Free the strings; the struct can be re-initialised. NULL is a no-op. */
void ks_config_free(struct ks_config *cfg);

/* Set one key from its textual value. KS_ERR_CONFIG (with a message in
 * err) for an unknown key or a bad value, KS_ERR_NOMEM. err may be NULL. */
KS_WUR int ks_config_set(struct ks_config *cfg, const char *key, const char *value, char *err,
                         size_t errlen);

/* Parse a whole file's contents (need not be NUL-terminated). Messages name
 * the 1-based line: "line 3: unknown key 'foo'". Keys set twice are an
 * error. KS_ERR_CONFIG, KS_ERR_NOMEM. */
KS_WUR int ks_config_parse_buffer(struct ks_config *cfg, const char *text, size_t len, char *err,
                                  size_t errlen);

/* Read and parse a file (at most 1 MiB). KS_ERR_IO when it cannot be read. */
KS_WUR int ks_config_parse_file(struct ks_config *cfg, const char *path, char *err, size_t errlen);

/* Cross-field checks after the file and the flags: TLS needs both tls_cert
 * and tls_key unless plain_http (then they are ignored). KS_ERR_CONFIG with
 * a message. */
KS_WUR int ks_config_validate(const struct ks_config *cfg, char *err, size_t errlen);

#endif
