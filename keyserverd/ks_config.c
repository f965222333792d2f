/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "file_util.h"
#include "keyserverd/ks_config.h"

enum kind {
    K_LISTEN,
    K_PATH,
    K_BOOL,
    K_SIZE,
    K_UINT,
    K_LOG,
};

struct key_def {
    struct ks_config_key pub;
    enum kind kind;
    size_t off; /* offset of the field in struct ks_config */
    unsigned long long min, max;
};

#define F(field) offsetof(struct ks_config, field)

/* The one table of keys: the file parser, the flags (main.c) and --help all
 * come from it, so a key cannot exist in one and not the other. */
static const struct key_def keys[] = {
    {{"listen", "listen", false, "HOST:PORT", "address to listen on (default 127.0.0.1:8443)"},
     K_LISTEN,
     0,
     0,
     0},
    {{"port_file", "port-file", false, "FILE", "write the bound port here once serving"},
     K_PATH,
     F(port_file),
     0,
     0},
    {{"tls_cert", "tls-cert", false, "FILE", "TLS certificate chain (PEM)"},
     K_PATH,
     F(tls_cert),
     0,
     0},
    {{"tls_key", "tls-key", false, "FILE", "TLS private key (PEM)"}, K_PATH, F(tls_key), 0, 0},
    {{"plain_http", "plain-http", true, "BOOL", "serve plain HTTP without TLS (tests only)"},
     K_BOOL,
     F(plain_http),
     0,
     1},
    {{"db", "db", false, "FILE", "database (default " KS_CONFIG_DEFAULT_DB ")"},
     K_PATH,
     F(db),
     0,
     0},
    {{"master_key", "master-key", false, "FILE",
      "master key file (default " KS_CONFIG_DEFAULT_MASTER_KEY ")"},
     K_PATH,
     F(master_key),
     0,
     0},
    {{"max_body", "max-body", false, "BYTES", "largest request body (default 1M)"},
     K_SIZE,
     F(max_body),
     KS_CONFIG_MAX_BODY_MIN,
     KS_CONFIG_MAX_BODY_MAX},
    {{"max_connections", "max-connections", false, "N", "concurrent connections (default 1024)"},
     K_UINT,
     F(max_connections),
     1,
     KS_CONFIG_MAX_CONNECTIONS_MAX},
    {{"connection_timeout", "connection-timeout", false, "SECONDS",
      "idle timeout per connection (default 30)"},
     K_UINT,
     F(connection_timeout),
     1,
     KS_CONFIG_TIMEOUT_MAX},
    {{"threads", "threads", false, "N", "worker threads (default: online cores)"},
     K_UINT,
     F(threads),
     1,
     KS_CONFIG_THREADS_MAX},
    {{"nonce_lifetime", "nonce-lifetime", false, "SECONDS", "nonce validity (default 60)"},
     K_UINT,
     F(nonce_lifetime),
     1,
     KS_CONFIG_NONCE_LIFETIME_MAX},
    {{"rate_limit", "rate-limit", false, "N",
      "requests/s per client address, 0 = off (default 50)"},
     K_UINT,
     F(rate_limit),
     0,
     KS_CONFIG_RATE_MAX},
    {{"rate_burst", "rate-burst", false, "N", "burst per client address (default 100)"},
     K_UINT,
     F(rate_burst),
     1,
     KS_CONFIG_RATE_MAX},
    {{"log", "log", false, "stderr|syslog", "where to log (default stderr)"}, K_LOG, F(log), 0, 0},
    {{"app_pcr", "app-pcr", false, "INDEX",
      "application PCR of the measured launcher (default 15; never 10, 16 or 23)"},
     K_UINT,
     F(app_pcr),
     0,
     23},
    {{"db_busy_timeout", "db-busy-timeout", false, "MS",
      "how long a database access waits for a lock (default 5000)"},
     K_UINT,
     F(db_busy_timeout),
     1,
     600000},
    {{"enroll_lifetime", "enroll-lifetime", false, "SECONDS",
      "how long an enrollment may be activated (default 300)"},
     K_UINT,
     F(enroll_lifetime),
     10,
     3600},
    {{"enroll_max_pending", "enroll-max-pending", false, "N",
      "pending enrollments at most, in total (default 1024)"},
     K_UINT,
     F(enroll_max_pending),
     1,
     1000000},
    {{"enroll_max_pending_per_ek", "enroll-max-pending-per-ek", false, "N",
      "pending enrollments at most per EK (default 4)"},
     K_UINT,
     F(enroll_max_per_ek),
     1,
     1000},
    {{"policy_cache_versions", "policy-cache-versions", false, "N",
      "compiled policy versions kept (default 64)"},
     K_UINT,
     F(policy_cache_versions),
     1,
     4096},
    {{"policy_cache_rules", "policy-cache-rules", false, "N",
      "rules of the compiled versions kept, in all (default 524288)"},
     K_UINT,
     F(policy_cache_rules),
     1,
     16777216},
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

const struct ks_config_key *ks_config_key(size_t i)
{
    return i < N_KEYS ? &keys[i].pub : NULL;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int ks_config_init(struct ks_config *cfg)
{
    if (!cfg) {
        return KS_ERR_INVALID_ARG;
    }
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->listen_host, sizeof(cfg->listen_host), "%s", KS_CONFIG_DEFAULT_HOST);
    cfg->listen_port = KS_CONFIG_DEFAULT_PORT;
    cfg->db = strdup(KS_CONFIG_DEFAULT_DB);
    cfg->master_key = strdup(KS_CONFIG_DEFAULT_MASTER_KEY);
    if (!cfg->db || !cfg->master_key) {
        ks_config_free(cfg);
        return KS_ERR_NOMEM;
    }
    cfg->max_body = KS_CONFIG_DEFAULT_MAX_BODY;
    cfg->max_connections = KS_CONFIG_DEFAULT_MAX_CONNECTIONS;
    cfg->connection_timeout = KS_CONFIG_DEFAULT_CONNECTION_TIMEOUT;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->threads = cores < 1                       ? 1
                   : cores > KS_CONFIG_THREADS_MAX ? KS_CONFIG_THREADS_MAX
                                                   : (unsigned)cores;
    cfg->nonce_lifetime = KS_CONFIG_DEFAULT_NONCE_LIFETIME;
    cfg->rate_limit = KS_CONFIG_DEFAULT_RATE_LIMIT;
    cfg->rate_burst = KS_CONFIG_DEFAULT_RATE_BURST;
    cfg->log = KS_LOG_STDERR;
    cfg->app_pcr = 15;
    cfg->db_busy_timeout = 5000;
    cfg->enroll_lifetime = KS_CONFIG_DEFAULT_ENROLL_LIFETIME;
    cfg->enroll_max_pending = KS_CONFIG_DEFAULT_ENROLL_MAX_PENDING;
    cfg->enroll_max_per_ek = KS_CONFIG_DEFAULT_ENROLL_MAX_PER_EK;
    cfg->policy_cache_versions = KS_CONFIG_DEFAULT_POLICY_CACHE_VERSIONS;
    cfg->policy_cache_rules = KS_CONFIG_DEFAULT_POLICY_CACHE_RULES;
    return KS_OK;
}

void ks_config_free(struct ks_config *cfg)
{
    if (!cfg) {
        return;
    }
    free(cfg->port_file);
    free(cfg->tls_cert);
    free(cfg->tls_key);
    free(cfg->db);
    free(cfg->master_key);
    cfg->port_file = cfg->tls_cert = cfg->tls_key = cfg->db = cfg->master_key = NULL;
}

/* Strict unsigned decimal: digits only, no sign, no blanks, no overflow. */
static int parse_ull(const char *s, size_t n, unsigned long long *ret)
{
    unsigned long long v = 0;
    if (n == 0 || n > 20) {
        return KS_ERR_CONFIG;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return KS_ERR_CONFIG;
        }
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (~0ULL - d) / 10) {
            return KS_ERR_CONFIG;
        }
        v = v * 10 + d;
    }
    *ret = v;
    return KS_OK;
}

static int parse_bool(const char *s, bool *ret)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *ret = true;
            return KS_OK;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *ret = false;
            return KS_OK;
        }
    }
    return KS_ERR_CONFIG;
}

/* "1048576", "1024K", "1M" (binary multiples). */
static int parse_size(const char *s, unsigned long long *ret)
{
    size_t n = strlen(s);
    unsigned long long mult = 1, v;
    if (n > 0 && (s[n - 1] == 'K' || s[n - 1] == 'k')) {
        mult = 1024;
        n--;
    } else if (n > 0 && (s[n - 1] == 'M' || s[n - 1] == 'm')) {
        mult = 1024 * 1024;
        n--;
    }
    if (parse_ull(s, n, &v) != KS_OK || v > ~0ULL / mult) {
        return KS_ERR_CONFIG;
    }
    *ret = v * mult;
    return KS_OK;
}

/* "127.0.0.1:8443", "[::1]:0". Numeric addresses only, so that the daemon
 * never depends on name resolution at start. */
static int parse_listen(const char *s, char host[KS_CONFIG_HOST_MAX], uint16_t *ret_port)
{
    const char *colon;
    const char *h = s;
    size_t hlen;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') {
            return KS_ERR_CONFIG;
        }
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || memchr(s, ':', (size_t)(colon - s))) {
            return KS_ERR_CONFIG; /* IPv6 literals need brackets */
        }
        hlen = (size_t)(colon - s);
    }
    unsigned long long port;
    if (hlen == 0 || hlen >= KS_CONFIG_HOST_MAX ||
        parse_ull(colon + 1, strlen(colon + 1), &port) != KS_OK || port > 65535) {
        return KS_ERR_CONFIG;
    }
    char tmp[KS_CONFIG_HOST_MAX];
    memcpy(tmp, h, hlen);
    tmp[hlen] = '\0';
    unsigned char addr[16];
    int family = s[0] == '[' ? AF_INET6 : AF_INET;
    if (inet_pton(family, tmp, addr) != 1) {
        return KS_ERR_CONFIG;
    }
    memcpy(host, tmp, hlen + 1);
    *ret_port = (uint16_t)port;
    return KS_OK;
}

static const struct key_def *find_key(const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        if (strcmp(keys[i].pub.name, name) == 0) {
            return &keys[i];
        }
    }
    return NULL;
}

int ks_config_set(struct ks_config *cfg, const char *key, const char *value, char *err,
                  size_t errlen)
{
    if (!cfg || !key || !value) {
        return KS_ERR_INVALID_ARG;
    }
    const struct key_def *k = find_key(key);
    if (!k) {
        set_err(err, errlen, "unknown key '%s'", key);
        return KS_ERR_CONFIG;
    }
    if (value[0] == '\0') {
        set_err(err, errlen, "%s: empty value", key);
        return KS_ERR_CONFIG;
    }
    char *field = (char *)cfg + k->off;
    unsigned long long v = 0;
    switch (k->kind) {
    case K_LISTEN:
        if (parse_listen(value, cfg->listen_host, &cfg->listen_port) != KS_OK) {
            set_err(err, errlen,
                    "listen: expected IPV4:PORT or [IPV6]:PORT with a numeric address, got '%s'",
                    value);
            return KS_ERR_CONFIG;
        }
        return KS_OK;
    case K_PATH: {
        char *dup = strdup(value);
        if (!dup) {
            return KS_ERR_NOMEM;
        }
        char **slot = (char **)(void *)field;
        free(*slot);
        *slot = dup;
        return KS_OK;
    }
    case K_BOOL:
        if (parse_bool(value, (bool *)(void *)field) != KS_OK) {
            set_err(err, errlen, "%s: expected true or false, got '%s'", key, value);
            return KS_ERR_CONFIG;
        }
        return KS_OK;
    case K_SIZE:
        if (parse_size(value, &v) != KS_OK || v < k->min || v > k->max) {
            set_err(err, errlen,
                    "%s: expected a size from %llu to %llu bytes (K, M suffixes), got '%s'", key,
                    k->min, k->max, value);
            return KS_ERR_CONFIG;
        }
        *(size_t *)(void *)field = (size_t)v;
        return KS_OK;
    case K_UINT:
        if (parse_ull(value, strlen(value), &v) != KS_OK || v < k->min || v > k->max) {
            set_err(err, errlen, "%s: expected an integer from %llu to %llu, got '%s'", key, k->min,
                    k->max, value);
            return KS_ERR_CONFIG;
        }
        *(unsigned *)(void *)field = (unsigned)v;
        return KS_OK;
    case K_LOG:
        if (strcmp(value, "stderr") == 0) {
            cfg->log = KS_LOG_STDERR;
        } else if (strcmp(value, "syslog") == 0) {
            cfg->log = KS_LOG_SYSLOG;
        } else {
            set_err(err, errlen, "log: expected stderr or syslog, got '%s'", value);
            return KS_ERR_CONFIG;
        }
        return KS_OK;
    }
    return KS_ERR_INTERNAL;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

int ks_config_parse_buffer(struct ks_config *cfg, const char *text, size_t len, char *err,
                           size_t errlen)
{
    if (!cfg || (!text && len > 0)) {
        return KS_ERR_INVALID_ARG;
    }
    bool seen[N_KEYS] = {false};
    size_t off = 0;
    unsigned lineno = 0;
    char line[KS_CONFIG_LINE_MAX + 1];
    while (off < len) {
        lineno++;
        const char *nl = memchr(text + off, '\n', len - off);
        size_t n = nl ? (size_t)(nl - (text + off)) : len - off;
        if (n > KS_CONFIG_LINE_MAX) {
            set_err(err, errlen, "line %u: longer than %u bytes", lineno, KS_CONFIG_LINE_MAX);
            return KS_ERR_CONFIG;
        }
        if (memchr(text + off, '\0', n)) {
            set_err(err, errlen, "line %u: NUL byte", lineno);
            return KS_ERR_CONFIG;
        }
        memcpy(line, text + off, n);
        line[n] = '\0';
        off += n + (nl ? 1 : 0);

        /* Trim; skip blank lines and comment lines. '#' only starts a
         * comment at the start of a line, so values (paths) may hold it. */
        char *s = line;
        while (is_blank(*s)) {
            s++;
        }
        size_t sl = strlen(s);
        while (sl > 0 && is_blank(s[sl - 1])) {
            s[--sl] = '\0';
        }
        if (*s == '\0' || *s == '#') {
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            set_err(err, errlen, "line %u: expected 'key = value'", lineno);
            return KS_ERR_CONFIG;
        }
        char *kend = eq;
        while (kend > s && is_blank(kend[-1])) {
            kend--;
        }
        *kend = '\0';
        char *value = eq + 1;
        while (is_blank(*value)) {
            value++;
        }
        if (*s == '\0') {
            set_err(err, errlen, "line %u: missing key before '='", lineno);
            return KS_ERR_CONFIG;
        }
        const struct key_def *k = find_key(s);
        if (!k) {
            set_err(err, errlen, "line %u: unknown key '%s'", lineno, s);
            return KS_ERR_CONFIG;
        }
        size_t idx = (size_t)(k - keys);
        if (seen[idx]) {
            set_err(err, errlen, "line %u: '%s' set twice", lineno, s);
            return KS_ERR_CONFIG;
        }
        seen[idx] = true;
        char msg[512];
        msg[0] = '\0';
        int r = ks_config_set(cfg, s, value, msg, sizeof(msg));
        if (r != KS_OK) {
            set_err(err, errlen, "line %u: %s", lineno, msg[0] ? msg : ks_strerror(r));
            return r;
        }
    }
    return KS_OK;
}

int ks_config_parse_file(struct ks_config *cfg, const char *path, char *err, size_t errlen)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (!cfg || !path) {
        return KS_ERR_INVALID_ARG;
    }
    int r = ks_file_read(path, 1024 * 1024, &buf, &len);
    if (r != KS_OK) {
        set_err(err, errlen, "%s: %s", path, r == KS_ERR_IO ? strerror(errno) : ks_strerror(r));
        return r;
    }
    char msg[600];
    msg[0] = '\0';
    r = ks_config_parse_buffer(cfg, (const char *)buf, len, msg, sizeof(msg));
    if (r != KS_OK) {
        set_err(err, errlen, "%s: %s", path, msg);
    }
    free(buf);
    return r;
}

int ks_config_validate(const struct ks_config *cfg, char *err, size_t errlen)
{
    if (!cfg) {
        return KS_ERR_INVALID_ARG;
    }
    if (!cfg->plain_http && (!cfg->tls_cert || !cfg->tls_key)) {
        set_err(err, errlen, "tls_cert and tls_key are required (plain_http is false)");
        return KS_ERR_CONFIG;
    }
    /* PCR 10 belongs to IMA; 16 and 23 can be reset by anyone at locality 0,
     * so a launcher measurement there would prove nothing. */
    if (cfg->app_pcr == 10 || cfg->app_pcr == 16 || cfg->app_pcr >= 23) {
        set_err(err, errlen, "app_pcr %u not allowed (10 is IMA's; 16 and 23 are resettable)",
                cfg->app_pcr);
        return KS_ERR_CONFIG;
    }
    return KS_OK;
}
