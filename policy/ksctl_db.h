/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KSCTL_DB_H
#define KSCTL_DB_H

/*
 * What the ksctl admin commands (init, key, policy, ak, audit) share: the
 * --db / --master-key / --config / --busy-timeout options and how their
 * paths are resolved, opening the store, the audit actor, and error lines
 * of the form "ksctl: <command>: <reason>".
 *
 * Path resolution, for the database and the master key alike: the flag;
 * else the `db` / `master_key` of the file given with --config; else of
 * KSCTL_DEFAULT_CONFIG when that file exists; else the documented defaults
 * (KS_CONFIG_DEFAULT_DB, KS_CONFIG_DEFAULT_MASTER_KEY). The config file is
 * keyserverd.conf(5), read with keyserverd's own parser so that ksctl and
 * the daemon cannot disagree about where the database is.
 *
 * Unlike lib/, these functions print their error (once) before they return
 * it; the caller turns the code into the exit status with
 * ks_error_exit_code().
 */

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "db/store.h"
#include "keyserverd/ks_config.h"
#include "ks_error.h"

#define KSCTL_DEFAULT_CONFIG "/etc/keyserver/keyserverd.conf"

/* Longest --busy-timeout (ms): one hour. */
#define KSCTL_BUSY_TIMEOUT_MAX 3600000

/* getopt_long values of the shared options (outside any short option). */
enum {
    KSCTL_OPT_DB = 0x1000,
    KSCTL_OPT_CONFIG,
    KSCTL_OPT_BUSY_TIMEOUT,
    KSCTL_OPT_MASTER_KEY,
};

/* Entries for a `struct option` table. */
#define KSCTL_DB_LONGOPTS                                                                          \
    {"db", required_argument, NULL, KSCTL_OPT_DB},                                                 \
        {"config", required_argument, NULL, KSCTL_OPT_CONFIG},                                     \
    {                                                                                              \
        "busy-timeout", required_argument, NULL, KSCTL_OPT_BUSY_TIMEOUT                            \
    }
#define KSCTL_MASTER_KEY_LONGOPT                                                                   \
    {                                                                                              \
        "master-key", required_argument, NULL, KSCTL_OPT_MASTER_KEY                                \
    }

/* Lines for --help. */
#define KSCTL_DB_HELP                                                                              \
    "  --db PATH             the keyserver database (default: `db` of the config file,\n"          \
    "                        else " KS_CONFIG_DEFAULT_DB ")\n"                                     \
    "  --config FILE         read `db` and `master_key` from this keyserverd.conf(5)\n"            \
    "                        (default: " KSCTL_DEFAULT_CONFIG " when it exists)\n"                 \
    "  --busy-timeout MS     wait at most MS milliseconds for another writer\n"                    \
    "                        (default 5000)\n"
#define KSCTL_MASTER_KEY_HELP                                                                      \
    "  --master-key PATH     the 32-byte master key file, mode 0600 (default: `master_key`\n"      \
    "                        of the config file, else " KS_CONFIG_DEFAULT_MASTER_KEY ")\n"

/* The values of the shared options as given (not yet resolved). */
struct ksctl_db_opts {
    const char *db;
    const char *config;
    const char *master_key;
    int busy_ms; /* -1: KS_STORE_DEFAULT_BUSY_MS */
};

void ksctl_db_opts_init(struct ksctl_db_opts *o);

/* Take getopt_long's result `c` (with optarg `arg`) if it is a shared
 * option: 1 when taken, 0 when it is not one, KS_ERR_INVALID_ARG (printed,
 * naming `cmd`) for a bad value. */
int ksctl_db_opt(struct ksctl_db_opts *o, const char *cmd, int c, const char *arg);

/* A subcommand's own option: getopt_long's value `c` with its optarg `arg`
 * (`cmd` as in struct ksctl_getopt). 0 to go on, else the exit status,
 * after printing why. */
typedef int (*ksctl_opt_fn)(void *ctx, const char *cmd, int c, const char *arg);

/* What ksctl_getopt needs to know about a subcommand. */
struct ksctl_getopt {
    const char *cmd;               /* "ak add": the head of its messages */
    const struct option *longopts; /* getopt_long's table (the only short option is -h) */
    struct ksctl_db_opts *db;      /* takes the shared options (ksctl_db_opt); NULL: none */
    const char *allowed;           /* the values (letters) of the options it takes; NULL: all */
    unsigned flags;                /* KSCTL_GETOPT_* */
    int min_args, max_args;        /* how many arguments may follow the options */
    /* The reason printed, with the usage, when their number is wrong
     * ("wrong number of arguments" when NULL); when NULL, one argument too
     * many is named instead: "unexpected argument 'X'", without the usage. */
    const char *args_error;
    ksctl_opt_fn opt; /* NULL: it has no options of its own */
    void (*usage)(FILE *f, void *ctx);
    void *ctx; /* for opt and usage */
};

/* An option that `allowed` does not list is refused without the usage. */
#define KSCTL_GETOPT_QUIET 0x1u
/* --master-key, though in longopts, is not an option of this subcommand
 * (refused, without the usage, before the shared options are taken). */
#define KSCTL_GETOPT_NO_MASTER_KEY 0x2u

/*
 * The option loop every admin subcommand shares (argv[0] is its name):
 * the shared options into g->db (a bad value: exit 2), --help / -h prints
 * the usage on stdout (exit 0), an unknown option (getopt_long has said
 * why) or one not in g->allowed ("<cmd>: OPTION is not an option of this
 * command") is a usage error (the usage on stderr, exit 2), any other goes
 * to g->opt. Then the number of arguments is checked. Returns -1 to go on,
 * with the arguments in *ret_args / *ret_nargs (either may be NULL), else
 * the exit status.
 */
KS_WUR int ksctl_getopt(int argc, char **argv, const struct ksctl_getopt *g, int *ret_nargs,
                        char ***ret_args);

/* ksctl_db_open flags */
#define KSCTL_DB_CREATE 0x1u     /* create the database file (ksctl init) */
#define KSCTL_DB_MASTER_KEY 0x2u /* load the master key too */
#define KSCTL_DB_NO_OPEN 0x4u    /* resolve paths only (ksctl init opens itself) */

/* An open store with everything a command needs for its messages. */
struct ksctl_db {
    const char *cmd; /* "key create", for "ksctl: key create: ..." */
    char *db_path;
    char *master_key_path;
    struct ks_store *store;
    struct ks_master_key *mk;
    int busy_ms;
    char actor[KS_STORE_ACTOR_MAX + 1];
};

/*
 * Resolve the paths, find the actor, open the store (with KS_STORE_CREATE
 * for KSCTL_DB_CREATE) and, with KSCTL_DB_MASTER_KEY, load the master key.
 * `d` is always initialised, so ksctl_db_close() is safe after a failure.
 * Prints the error and returns it.
 */
KS_WUR int ksctl_db_open(struct ksctl_db *d, const struct ksctl_db_opts *o, const char *cmd,
                         unsigned flags);

/* A file the user named cannot be opened (missing, no permission, a
 * directory): an input error (exit 2) like an unreadable file elsewhere in
 * ksctl, not an internal one. Returns `r` unchanged otherwise; `err` is the
 * errno of the failure. */
int ksctl_input_error(int r, int err);

/* Close the store, wipe and free the master key, free the paths. */
void ksctl_db_close(struct ksctl_db *d);

/*
 * Print "ksctl: <cmd>: <reason>" for the store failure `r` and return its
 * exit status. The reason is the formatted text when `fmt` is not NULL,
 * else a "database is busy" explanation for KS_ERR_DB_BUSY, else the
 * store's message (ks_store_errmsg), else ks_strerror(r).
 */
int ksctl_db_fail(const struct ksctl_db *d, int r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * The audit actor: the effective user's login name (or "uid N" when it has
 * no passwd entry), followed by " (sudo: USER)" when SUDO_USER is set, so
 * that an admin change made through sudo names the person, not "root".
 * Control characters are replaced; the result is cut to
 * KS_STORE_ACTOR_MAX bytes.
 */
void ksctl_actor(char ret[KS_STORE_ACTOR_MAX + 1]);

/* Unix seconds as "YYYY-MM-DDTHH:MM:SSZ" (UTC); "-" for 0. */
void ksctl_format_time(int64_t t, char ret[32]);

/* Write `s` with control characters escaped (\n, \xNN): stored text may come
 * from the network (audit reasons) and must not drive the terminal. */
void ksctl_print_safe(FILE *f, const char *s);

/* Print a jansson value (indented) and a newline to stdout; takes the
 * reference. KS_ERR_NOMEM when it cannot be serialised. */
KS_WUR int ksctl_print_json(json_t *json);

/* Commands whose --help lists the shared options share this check: the
 * first argument is --help / -h / help. */
bool ksctl_is_help(const char *arg);

/* The head every command group's dispatcher shares: no subcommand is a
 * usage error (the group's usage on stderr, exit 2), --help / -h / help
 * prints it on stdout (exit 0). Returns that exit status, or -1 when
 * argv[1] is a subcommand to dispatch. */
int ksctl_group_head(int argc, char **argv, void (*usage)(FILE *));

#endif
