/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "policy/ksctl.h"
#include "policy/ksctl_db.h"

/* OpenSSL secure heap for the master key and unwrapped secrets (locked,
 * excluded from core dumps); the store falls back to ordinary memory when
 * it cannot be set up. A power of two, as CRYPTO_secure_malloc_init wants. */
#define SECURE_HEAP_SIZE (64 * 1024)
#define SECURE_HEAP_MIN 32

void ksctl_db_opts_init(struct ksctl_db_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->busy_ms = -1;
}

int ksctl_db_opt(struct ksctl_db_opts *o, const char *cmd, int c, const char *arg)
{
    char *end = NULL;
    long v;
    switch (c) {
    case KSCTL_OPT_DB:
        o->db = arg;
        return 1;
    case KSCTL_OPT_CONFIG:
        o->config = arg;
        return 1;
    case KSCTL_OPT_MASTER_KEY:
        o->master_key = arg;
        return 1;
    case KSCTL_OPT_BUSY_TIMEOUT:
        errno = 0;
        v = strtol(arg, &end, 10);
        if (errno != 0 || end == arg || *end != '\0' || v < 0 || v > KSCTL_BUSY_TIMEOUT_MAX) {
            ksctl_err("%s: --busy-timeout: not a number of milliseconds in 0..%d: '%s'", cmd,
                      KSCTL_BUSY_TIMEOUT_MAX, arg);
            return KS_ERR_INVALID_ARG;
        }
        o->busy_ms = (int)v;
        return 1;
    default:
        return 0;
    }
}

static bool allows(const char *allowed, int c)
{
    return !allowed || (c > 0 && c <= UCHAR_MAX && strchr(allowed, c) != NULL);
}

int ksctl_getopt(int argc, char **argv, const struct ksctl_getopt *g, int *ret_nargs,
                 char ***ret_args)
{
    int c, li = -1;
    /* 0, not 1: glibc then also forgets where it was inside an earlier
     * argv (a parse that stopped early), so that the loop can run again. */
    optind = 0;
    for (;;) {
        li = -1; /* set only when a long option matched */
        if ((c = getopt_long(argc, argv, "h", g->longopts, &li)) == -1) {
            break;
        }
        if ((g->flags & KSCTL_GETOPT_NO_MASTER_KEY) && c == KSCTL_OPT_MASTER_KEY) {
            ksctl_err("%s: --master-key is not an option of this command", g->cmd);
            return 2;
        }
        int t = g->db ? ksctl_db_opt(g->db, g->cmd, c, optarg) : 0;
        if (t < 0) {
            return 2;
        }
        if (t > 0) {
            continue;
        }
        if (c == 'h') {
            g->usage(stdout, g->ctx);
            return 0;
        }
        if (c == '?') {
            g->usage(stderr, g->ctx);
            return 2;
        }
        if (!allows(g->allowed, c)) {
            /* The option's own name: argv[optind - 1] is VALUE for
             * "--name VALUE". */
            if (li >= 0) {
                ksctl_err("%s: --%s is not an option of this command", g->cmd,
                          g->longopts[li].name);
            } else {
                ksctl_err("%s: %s is not an option of this command", g->cmd, argv[optind - 1]);
            }
            if (!(g->flags & KSCTL_GETOPT_QUIET)) {
                g->usage(stderr, g->ctx);
            }
            return 2;
        }
        if (!g->opt) {
            g->usage(stderr, g->ctx);
            return 2;
        }
        int r = g->opt(g->ctx, g->cmd, c, optarg);
        if (r != 0) {
            return r;
        }
    }
    int nargs = argc - optind;
    if (nargs < g->min_args || nargs > g->max_args) {
        if (!g->args_error && nargs > g->max_args) {
            ksctl_err("%s: unexpected argument '%s'", g->cmd, argv[optind + g->max_args]);
        } else {
            ksctl_err("%s: %s", g->cmd,
                      g->args_error ? g->args_error : "wrong number of arguments");
            g->usage(stderr, g->ctx);
        }
        return 2;
    }
    if (ret_nargs) {
        *ret_nargs = nargs;
    }
    if (ret_args) {
        *ret_args = argv + optind;
    }
    return -1;
}

static void sanitize(char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f) {
            *s = '?';
        }
    }
}

void ksctl_actor(char ret[KS_STORE_ACTOR_MAX + 1])
{
    char user[KS_STORE_ACTOR_MAX + 1];
    uid_t uid = geteuid();
    const struct passwd *pw = getpwuid(uid);
    if (pw && pw->pw_name && *pw->pw_name) {
        snprintf(user, sizeof(user), "%s", pw->pw_name);
    } else {
        snprintf(user, sizeof(user), "uid %lu", (unsigned long)uid);
    }
    const char *sudo = getenv("SUDO_USER");
    int n;
    if (sudo && *sudo) {
        n = snprintf(ret, KS_STORE_ACTOR_MAX + 1, "%s (sudo: %.64s)", user, sudo);
    } else {
        n = snprintf(ret, KS_STORE_ACTOR_MAX + 1, "%s", user);
    }
    if (n < 0) {
        snprintf(ret, KS_STORE_ACTOR_MAX + 1, "uid %lu", (unsigned long)uid);
    }
    /* (a longer name is cut at KS_STORE_ACTOR_MAX bytes by snprintf) */
    sanitize(ret);
}

/* Copy the flag's value, or the config file's, into *ret. */
static int pick(const char *flag, const char *from_config, const char *dflt, char **ret)
{
    const char *v = flag ? flag : (from_config ? from_config : dflt);
    *ret = strdup(v);
    return *ret ? KS_OK : KS_ERR_NOMEM;
}

static int resolve(struct ksctl_db *d, const struct ksctl_db_opts *o, bool need_mk)
{
    struct ks_config cfg;
    char err[256] = "";
    bool have_cfg = false;
    int r = KS_OK;
    const char *cfg_path = o->config;
    /* The default config file is read only when it is needed and exists. */
    if (!cfg_path && (!o->db || (need_mk && !o->master_key)) &&
        access(KSCTL_DEFAULT_CONFIG, F_OK) == 0) {
        cfg_path = KSCTL_DEFAULT_CONFIG;
    }
    if (cfg_path) {
        if ((r = ks_config_init(&cfg)) < 0) {
            ksctl_err("%s: %s", d->cmd, ks_strerror(r));
            return r;
        }
        have_cfg = true;
        if ((r = ks_config_parse_file(&cfg, cfg_path, err, sizeof(err))) < 0) {
            int e = errno;
            /* The parser's message names the file. */
            ksctl_err("%s: config file %s", d->cmd, err[0] ? err : ks_strerror(r));
            /* A config the user named that is wrong is an input error. */
            r = r == KS_ERR_CONFIG ? KS_ERR_INVALID_ARG : ksctl_input_error(r, e);
            goto out;
        }
    }
    if ((r = pick(o->db, have_cfg ? cfg.db : NULL, KS_CONFIG_DEFAULT_DB, &d->db_path)) < 0 ||
        (r = pick(o->master_key, have_cfg ? cfg.master_key : NULL, KS_CONFIG_DEFAULT_MASTER_KEY,
                  &d->master_key_path)) < 0) {
        ksctl_err("%s: %s", d->cmd, ks_strerror(r));
    }
out:
    if (have_cfg) {
        ks_config_free(&cfg);
    }
    return r;
}

int ksctl_db_open(struct ksctl_db *d, const struct ksctl_db_opts *o, const char *cmd,
                  unsigned flags)
{
    char err[512] = "";
    memset(d, 0, sizeof(*d));
    d->cmd = cmd;
    d->busy_ms = o->busy_ms >= 0 ? o->busy_ms : KS_STORE_DEFAULT_BUSY_MS;
    ksctl_actor(d->actor);
    int r = resolve(d, o, (flags & KSCTL_DB_MASTER_KEY) != 0);
    if (r < 0) {
        return r;
    }
    if (flags & (KSCTL_DB_MASTER_KEY | KSCTL_DB_CREATE)) {
        /* Key material will be in this process: keep it out of core dumps
         * and swap as far as the system lets us. */
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        if (!CRYPTO_secure_malloc_initialized()) {
            (void)CRYPTO_secure_malloc_init(SECURE_HEAP_SIZE, SECURE_HEAP_MIN);
        }
    }
    if (flags & KSCTL_DB_NO_OPEN) {
        return KS_OK;
    }
    if (flags & KSCTL_DB_MASTER_KEY) {
        r = ks_master_key_load(d->master_key_path, &d->mk);
        if (r < 0) {
            int e = errno;
            ksctl_err("%s: master key %s: %s%s%s", cmd, d->master_key_path, ks_strerror(r),
                      r == KS_ERR_IO ? ": " : "", r == KS_ERR_IO ? strerror(e) : "");
            return ksctl_input_error(r, e);
        }
    }
    if (!(flags & KSCTL_DB_CREATE) && access(d->db_path, F_OK) != 0 && errno == ENOENT) {
        /* An operator mistake (exit 2), not a failure of the database. */
        ksctl_err("%s: database %s does not exist (run 'ksctl init' first, or see --db)", cmd,
                  d->db_path);
        return KS_ERR_DB_NOT_INIT;
    }
    r = ks_store_open_ex(d->db_path, (flags & KSCTL_DB_CREATE) ? KS_STORE_CREATE : 0, d->busy_ms,
                         err, sizeof(err), &d->store);
    if (r == KS_ERR_DB_BUSY) {
        ksctl_err("%s: database %s is busy: another process holds the write lock (gave up after "
                  "%d ms; see --busy-timeout)",
                  cmd, d->db_path, d->busy_ms);
    } else if (r == KS_ERR_DB_NOT_INIT) {
        ksctl_err("%s: database %s is not initialised (run 'ksctl init' first)", cmd, d->db_path);
    } else if (r < 0) {
        ksctl_err("%s: database %s: %s", cmd, d->db_path, err[0] ? err : ks_strerror(r));
    }
    return r;
}

int ksctl_input_error(int r, int err)
{
    if (r == KS_ERR_IO && (err == ENOENT || err == EACCES || err == EPERM || err == ENOTDIR ||
                           err == EISDIR || err == ELOOP)) {
        return KS_ERR_INVALID_ARG;
    }
    return r;
}

void ksctl_db_close(struct ksctl_db *d)
{
    if (!d) {
        return;
    }
    ks_store_close(d->store);
    ks_master_key_free(d->mk);
    free(d->db_path);
    free(d->master_key_path);
    d->store = NULL;
    d->mk = NULL;
    d->db_path = NULL;
    d->master_key_path = NULL;
}

int ksctl_db_fail(const struct ksctl_db *d, int r, const char *fmt, ...)
{
    char reason[1024];
    const char *msg = d->store ? ks_store_errmsg(d->store) : "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, sizeof(reason), fmt, ap);
        va_end(ap);
    } else if (r == KS_ERR_DB_BUSY) {
        snprintf(reason, sizeof(reason),
                 "database is busy: another process holds the write lock (gave up after %d ms; "
                 "see --busy-timeout)",
                 d->busy_ms);
    } else if (msg[0]) {
        snprintf(reason, sizeof(reason), "%s", msg);
    } else {
        snprintf(reason, sizeof(reason), "%s", ks_strerror(r));
    }
    sanitize(reason);
    ksctl_err("%s: %s", d->cmd, reason);
    return ks_error_exit_code(r);
}

void ksctl_format_time(int64_t t, char ret[32])
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (t == 0 || !gmtime_r(&tt, &tm) || strftime(ret, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        snprintf(ret, 32, "%s", t == 0 ? "-" : "?");
    }
}

void ksctl_print_safe(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\n') {
            fputs("\\n", f);
        } else if (c == '\\') {
            fputs("\\\\", f);
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(f, "\\x%02x", c);
        } else {
            fputc(c, f);
        }
    }
}

int ksctl_print_json(json_t *json)
{
    if (!json) {
        return KS_ERR_NOMEM;
    }
    char *text = json_dumps(json, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(json);
    if (!text) {
        return KS_ERR_NOMEM;
    }
    printf("%s\n", text);
    free(text);
    return KS_OK;
}

bool ksctl_is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 || strcmp(arg, "help") == 0;
}

int ksctl_group_head(int argc, char **argv, void (*usage)(FILE *))
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (ksctl_is_help(argv[1])) {
        usage(stdout);
        return 0;
    }
    return -1;
}
