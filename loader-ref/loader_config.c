/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest.h"
#include "encoding.h"
#include "loader_config.h"
#include "pcr_select.h"
#include "replay.h"
#include "sealed.h"

enum kind {
    K_STRING,
    K_URL,
    K_KEYREF,
    K_PCRS,
    K_B64,
    K_BOOL,
    K_UINT,
    K_SIZE,
    K_MODE,
    K_EK,
    K_ENCODING
};

struct key_def {
    const char *name;
    enum kind kind;
    size_t off;
    bool required;
    unsigned long long min, max;
    size_t len_off; /* K_B64: where the decoded length goes */
};

#define F(field) offsetof(struct ks_loader_config, field)
#define BIG 0xffffffffffffull

/* The one table of keys; man ks-loader(8) documents the same list. */
static const struct key_def keys[] = {
    {"keyserver", K_URL, F(keyserver), true, 0, 0, 0},
    {"cacert", K_STRING, F(cacert), false, 0, 0, 0},
    {"tls_pin", K_STRING, F(tls_pin), false, 0, 0, 0},
    {"insecure_http", K_BOOL, F(insecure_http), false, 0, 1, 0},
    {"receipt_key", K_B64, F(receipt_key), true, 0, 0, F(receipt_key_len)},
    {"request_encoding", K_ENCODING, F(request_cbor), false, 0, 0, 0},
    {"request_key", K_KEYREF, F(request_key), true, 0, 0, 0},
    {"dek", K_KEYREF, F(dek), false, 0, 0, 0},
    {"pcrs", K_PCRS, F(pcrs), false, 0, 0, 0},
    {"event_log", K_STRING, F(event_log), false, 0, 0, 0},
    {"ima_log", K_STRING, F(ima_log), false, 0, 0, 0},
    {"ek", K_EK, F(ek_kind), false, 0, 0, 0},
    {"ek_cert", K_BOOL, F(ek_cert), false, 0, 1, 0},
    {"ak_dir", K_STRING, F(ak_dir), false, 0, 0, 0},
    {"sealed", K_STRING, F(sealed), true, 0, 0, 0},
    {"backend", K_STRING, F(backend), false, 0, 0, 0},
    {"unseal_threads", K_UINT, F(unseal_threads), false, 1, KS_SEAL_MAX_THREADS, 0},
    {"allow_unlocked", K_BOOL, F(allow_unlocked), false, 0, 1, 0},
    {"socket", K_STRING, F(socket), true, 0, 0, 0},
    {"socket_mode", K_MODE, F(socket_mode), false, 0, 0777, 0},
    {"max_connections", K_UINT, F(max_connections), false, 1, 1024, 0},
    {"idle_timeout", K_UINT, F(idle_timeout), false, 1, 3600, 0},
    {"egress_bytes", K_SIZE, F(egress_bytes), false, 1, BIG, 0},
    {"egress_window", K_SIZE, F(egress_window), false, 1, 366ull * 24 * 3600, 0},
    {"replay_window", K_SIZE, F(replay_window), false, 1, 24 * 3600, 0},
    {"replay_cache", K_SIZE, F(replay_cache), false, 1, KS_REPLAY_CAPACITY_MAX, 0},
};
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

#define S(field) offsetof(struct ks_loader_keyserver, field)

/* The keys of a [keyserver NAME] section (a share keyserver). */
static const struct key_def section_keys[] = {
    {"url", K_URL, S(url), true, 0, 0, 0},
    {"cacert", K_STRING, S(cacert), false, 0, 0, 0},
    {"tls_pin", K_STRING, S(tls_pin), false, 0, 0, 0},
    {"insecure_http", K_BOOL, S(insecure_http), false, 0, 1, 0},
    {"receipt_key", K_B64, S(receipt_key), true, 0, 0, S(receipt_key_len)},
    {"request_encoding", K_ENCODING, S(request_cbor), false, 0, 0, 0},
};
#define N_SECTION_KEYS (sizeof(section_keys) / sizeof(section_keys[0]))

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return KS_ERR_LOADER_CONFIG;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) {
        s[--n] = '\0';
    }
    return s;
}

/* A decimal with an optional binary suffix K, M, G (for sizes). */
static int parse_number(const char *v, bool suffix, unsigned long long *ret)
{
    char *end = NULL;
    if (*v < '0' || *v > '9') {
        return KS_ERR_INVALID_ARG;
    }
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno) {
        return KS_ERR_INVALID_ARG;
    }
    unsigned shift = 0;
    if (suffix && *end && !end[1]) {
        shift = *end == 'K' || *end == 'k'   ? 10
                : *end == 'M' || *end == 'm' ? 20
                : *end == 'G' || *end == 'g' ? 30
                                             : 0;
        if (shift) {
            end++;
        }
    }
    if (*end || (shift && n > (~0ull >> shift))) {
        return KS_ERR_INVALID_ARG;
    }
    *ret = n << shift;
    return KS_OK;
}

/* Set key k of the structure at base (a struct ks_loader_config, or a
 * struct ks_loader_keyserver for section_keys). */
static int set_value(const struct key_def *k, const char *v, char *base, unsigned line, char *err,
                     size_t errlen)
{
    unsigned long long n = 0;
    uint32_t ver = 0;
    TPML_PCR_SELECTION sel;
    switch (k->kind) {
    case K_URL:
        if (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0) {
            return fail(err, errlen, "line %u: %s: expected an https:// URL", line, k->name);
        }
        break;
    case K_KEYREF:
        if (ks_attest_key_ref_parse(v, NULL, &ver) != KS_OK) {
            return fail(err, errlen, "line %u: %s: expected NAME or NAME@VERSION", line, k->name);
        }
        break;
    case K_PCRS:
        if (ks_pcr_select_parse(v, &sel) != KS_OK) {
            return fail(err, errlen, "line %u: %s: expected a selection like sha256:0-7,15", line,
                        k->name);
        }
        break;
    case K_B64: {
        uint8_t *buf = NULL;
        size_t len = 0;
        if (ks_base64_decode(v, strlen(v), &buf, &len) != KS_OK || len == 0) {
            free(buf);
            return fail(err, errlen, "line %u: %s: expected base64", line, k->name);
        }
        *(uint8_t **)(base + k->off) = buf;
        *(size_t *)(base + k->len_off) = len;
        return KS_OK;
    }
    case K_BOOL:
        if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0) {
            *(bool *)(base + k->off) = true;
        } else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0) {
            *(bool *)(base + k->off) = false;
        } else {
            return fail(err, errlen, "line %u: %s: expected yes or no", line, k->name);
        }
        return KS_OK;
    case K_UINT:
    case K_SIZE:
    case K_MODE:
        if (k->kind == K_MODE) {
            char *end = NULL;
            errno = 0;
            n = strtoull(v, &end, 8);
            if (errno || *end || end == v || *v != '0') {
                return fail(err, errlen, "line %u: %s: expected an octal mode like 0660", line,
                            k->name);
            }
        } else if (parse_number(v, k->kind == K_SIZE, &n) != KS_OK) {
            return fail(err, errlen, "line %u: %s: expected a number", line, k->name);
        }
        if (n < k->min || n > k->max) {
            return fail(err, errlen, "line %u: %s: expected %llu..%llu", line, k->name, k->min,
                        k->max);
        }
        if (k->kind == K_SIZE && k->off == F(replay_cache)) {
            *(size_t *)(base + k->off) = (size_t)n;
        } else if (k->kind == K_SIZE) {
            *(uint64_t *)(base + k->off) = n;
        } else {
            *(unsigned *)(base + k->off) = (unsigned)n;
        }
        return KS_OK;
    case K_EK:
        if (ks_tpm_ek_kind_parse(v, (enum ks_tpm_ek_kind *)(base + k->off)) != KS_OK) {
            return fail(err, errlen, "line %u: %s: expected rsa, ecc, ecc256 or ecc384", line,
                        k->name);
        }
        return KS_OK;
    case K_ENCODING:
        /* The body of POST /v1/release: CBOR (RFC 8949) or JSON. */
        if (strcmp(v, "cbor") == 0 || strcmp(v, "json") == 0) {
            *(bool *)(base + k->off) = v[0] == 'c';
            return KS_OK;
        }
        return fail(err, errlen, "line %u: %s: expected cbor or json", line, k->name);
    case K_STRING:
        break;
    }
    char *s = strdup(v);
    if (!s) {
        return KS_ERR_NOMEM;
    }
    *(char **)(base + k->off) = s;
    return KS_OK;
}

static void set_defaults(struct ks_loader_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->unseal_threads = KS_LOADER_DEFAULT_UNSEAL_THREADS;
    cfg->socket_mode = KS_LOADER_DEFAULT_SOCKET_MODE;
    cfg->max_connections = KS_LOADER_DEFAULT_MAX_CONNECTIONS;
    cfg->idle_timeout = KS_LOADER_DEFAULT_IDLE_TIMEOUT;
    cfg->egress_bytes = KS_LOADER_DEFAULT_EGRESS_BYTES;
    cfg->egress_window = KS_LOADER_DEFAULT_EGRESS_WINDOW;
    cfg->replay_window = KS_LOADER_DEFAULT_REPLAY_WINDOW;
    cfg->replay_cache = KS_LOADER_DEFAULT_REPLAY_CACHE;
    cfg->ek_kind = KS_TPM_EK_RSA2048;
    cfg->ek_cert = true;
    cfg->request_cbor = true;
}

static bool section_name_valid(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > KS_LOADER_KEYSERVER_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

/* The section being read: which keyserver, from which line, keys seen. */
struct section {
    struct ks_loader_keyserver *ks;
    unsigned line;
    bool seen[N_SECTION_KEYS];
};

/* A section is complete: its required keys are there. */
static int section_end(const struct section *sec, char *err, size_t errlen)
{
    if (!sec->ks) {
        return KS_OK;
    }
    for (size_t i = 0; i < N_SECTION_KEYS; i++) {
        if (section_keys[i].required && !sec->seen[i]) {
            return fail(err, errlen, "line %u: [keyserver %s]: '%s' is required", sec->line,
                        sec->ks->name, section_keys[i].name);
        }
    }
    if (strncmp(sec->ks->url, "http://", 7) == 0 && !sec->ks->insecure_http) {
        return fail(err, errlen,
                    "line %u: [keyserver %s]: plain http:// needs insecure_http = yes (tests only)",
                    sec->line, sec->ks->name);
    }
    return KS_OK;
}

/* "[keyserver NAME]": ends the previous section, starts the next. */
static int section_begin(char *t, unsigned line, struct ks_loader_config *cfg, struct section *sec,
                         char *err, size_t errlen)
{
    size_t n = strlen(t);
    if (n < 2 || t[n - 1] != ']') {
        return fail(err, errlen, "line %u: expected [keyserver NAME]", line);
    }
    t[n - 1] = '\0';
    char *inner = trim(t + 1);
    if (strncmp(inner, "keyserver", 9) != 0 || (inner[9] != ' ' && inner[9] != '\t')) {
        return fail(err, errlen, "line %u: expected [keyserver NAME]", line);
    }
    char *name = trim(inner + 9);
    if (!section_name_valid(name)) {
        return fail(err, errlen, "line %u: keyserver name '%.64s': expected [A-Za-z0-9._-]{1,%d}",
                    line, name, KS_LOADER_KEYSERVER_NAME_MAX);
    }
    int r = section_end(sec, err, errlen);
    if (r != KS_OK) {
        return r;
    }
    for (size_t i = 0; i < cfg->n_share_servers; i++) {
        if (strcmp(cfg->share_servers[i].name, name) == 0) {
            return fail(err, errlen, "line %u: [keyserver %s] appears twice", line, name);
        }
    }
    if (cfg->n_share_servers == KS_LOADER_MAX_KEYSERVERS) {
        return fail(err, errlen, "line %u: more than %d [keyserver] sections", line,
                    KS_LOADER_MAX_KEYSERVERS);
    }
    memset(sec, 0, sizeof(*sec));
    sec->ks = &cfg->share_servers[cfg->n_share_servers++];
    sec->line = line;
    memcpy(sec->ks->name, name, strlen(name) + 1);
    /* The top-level keys all come before the first section: this is the
     * file's final value. */
    sec->ks->request_cbor = cfg->request_cbor;
    return KS_OK;
}

static int parse_lines(char *text, struct ks_loader_config *cfg, char *err, size_t errlen)
{
    bool seen[N_KEYS] = {false};
    struct section sec;
    unsigned line = 0;
    char *save = NULL;
    memset(&sec, 0, sizeof(sec));
    for (char *l = text; l; l = save) {
        save = strchr(l, '\n');
        if (save) {
            *save++ = '\0';
        }
        line++;
        char *t = trim(l);
        if (*t == '\0' || *t == '#') {
            continue;
        }
        if (*t == '[') {
            int r = section_begin(t, line, cfg, &sec, err, errlen);
            if (r != KS_OK) {
                return r;
            }
            continue;
        }
        char *eq = strchr(t, '=');
        if (!eq) {
            return fail(err, errlen, "line %u: expected key = value", line);
        }
        *eq = '\0';
        char *key = trim(t), *val = trim(eq + 1);
        /* After the first section header, every key belongs to a section. */
        const struct key_def *table = sec.ks ? section_keys : keys;
        size_t n_table = sec.ks ? N_SECTION_KEYS : N_KEYS;
        bool *seen_table = sec.ks ? sec.seen : seen;
        size_t i = 0;
        while (i < n_table && strcmp(table[i].name, key) != 0) {
            i++;
        }
        if (i == n_table && sec.ks) {
            return fail(err, errlen, "line %u: unknown key '%.64s' in [keyserver %s]", line, key,
                        sec.ks->name);
        }
        if (i == n_table) {
            return fail(err, errlen, "line %u: unknown key '%.64s'", line, key);
        }
        if (seen_table[i]) {
            return fail(err, errlen, "line %u: '%s' set twice", line, key);
        }
        if (*val == '\0') {
            return fail(err, errlen, "line %u: '%s' has no value", line, key);
        }
        seen_table[i] = true;
        int r = set_value(&table[i], val, sec.ks ? (char *)sec.ks : (char *)cfg, line, err, errlen);
        if (r != KS_OK) {
            return r;
        }
    }
    int r = section_end(&sec, err, errlen);
    if (r != KS_OK) {
        return r;
    }
    for (size_t i = 0; i < N_KEYS; i++) {
        if (keys[i].required && !seen[i]) {
            return fail(err, errlen, "'%s' is required", keys[i].name);
        }
    }
    if (strncmp(cfg->keyserver, "http://", 7) == 0 && !cfg->insecure_http) {
        return fail(err, errlen, "keyserver: plain http:// needs insecure_http = yes (tests only)");
    }
    return KS_OK;
}

int ks_loader_config_parse(const char *text, size_t len, struct ks_loader_config *ret, char *err,
                           size_t errlen)
{
    struct ks_loader_config cfg;
    if (err && errlen) {
        err[0] = '\0';
    }
    if (!text || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    if (len > KS_LOADER_CONFIG_MAX) {
        return fail(err, errlen, "larger than %u bytes", KS_LOADER_CONFIG_MAX);
    }
    if (memchr(text, '\0', len)) {
        return fail(err, errlen, "a NUL byte in the file");
    }
    char *copy = malloc(len + 1);
    if (!copy) {
        return KS_ERR_NOMEM;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    set_defaults(&cfg);
    int r = parse_lines(copy, &cfg, err, errlen);
    if (r == KS_OK && !cfg.backend) {
        cfg.backend = strdup(KS_LOADER_DEFAULT_BACKEND);
        r = cfg.backend ? KS_OK : KS_ERR_NOMEM;
    }
    free(copy);
    if (r != KS_OK) {
        ks_loader_config_clear(&cfg);
        return r;
    }
    *ret = cfg;
    return KS_OK;
}

void ks_loader_config_clear(struct ks_loader_config *cfg)
{
    if (!cfg) {
        return;
    }
    char **strings[] = {&cfg->keyserver, &cfg->cacert, &cfg->tls_pin,   &cfg->request_key,
                        &cfg->dek,       &cfg->pcrs,   &cfg->event_log, &cfg->ima_log,
                        &cfg->ak_dir,    &cfg->sealed, &cfg->backend,   &cfg->socket};
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        free(*strings[i]);
    }
    free(cfg->receipt_key);
    for (size_t i = 0; i < cfg->n_share_servers && i < KS_LOADER_MAX_KEYSERVERS; i++) {
        struct ks_loader_keyserver *ks = &cfg->share_servers[i];
        free(ks->url);
        free(ks->cacert);
        free(ks->tls_pin);
        free(ks->receipt_key);
    }
    memset(cfg, 0, sizeof(*cfg));
}
