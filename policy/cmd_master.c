/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/ksctl.h"
#include "policy/ksctl_db.h"

/*
 * `ksctl master rotate|check`: the master key that wraps every key version
 * and meta secret at rest.
 *
 * rotate, for the master key file MK (--master-key or the config's):
 *   1. the new key is written to MK.new (mode 0600): generated, or copied
 *      from --new-key FILE;
 *   2. the current key is copied to MK.old (mode 0600);
 *   3. every wrapped item is re-wrapped in ONE database transaction;
 *   4. MK.new is renamed over MK (atomic) and the directory synced;
 *   5. MK.old is removed, unless --keep-old.
 * A failure before 3 commits leaves MK and the database as they were (MK.new
 * and MK.old are removed). A crash between 3 and 4 leaves the database
 * under the key in MK.new: `ksctl master check --master-key MK.new` tells,
 * and the admin renames it. keyserverd holds the key in memory: restart it.
 */

static void usage(FILE *f, const char *sub)
{
    if (sub && strcmp(sub, "rotate") == 0) {
        fprintf(f, "Usage: ksctl master rotate [--new-key FILE] [--keep-old] [--json]\n"
                   "                           [--db PATH] [--master-key PATH]\n\n"
                   "Re-wrap every key version and every wrapped secret (receipt key, nonce\n"
                   "key) under a new master key, in one transaction. The new key (generated,\n"
                   "or copied from FILE: 32 bytes, mode 0600) is written to MK.new first and\n"
                   "the current key kept as MK.old until the transaction commits; then MK.new\n"
                   "replaces the master key file MK and MK.old is removed. Restart keyserverd\n"
                   "afterwards: it holds the old key in memory and cannot release keys until\n"
                   "it is restarted. Backups taken before need the old key (--keep-old).\n\n"
                   "  --new-key FILE        use this key instead of generating one\n"
                   "  --keep-old            keep the old key as MK.old\n"
                   "  --json                print the result as JSON\n");
    } else if (sub && strcmp(sub, "check") == 0) {
        fprintf(f, "Usage: ksctl master check [--json] [--db PATH] [--master-key PATH]\n\n"
                   "Try to unwrap every key version and wrapped secret with the master key\n"
                   "(nothing is written). Exit status 0 when everything unwraps, 1 otherwise.\n\n"
                   "  --json                print the counts as JSON\n");
    } else {
        fprintf(f, "Usage: ksctl master rotate [--new-key FILE] [--keep-old]\n"
                   "       ksctl master check\n\n"
                   "Manage the master key. Run 'ksctl master SUBCOMMAND --help'.\n");
        return;
    }
    fprintf(f, KSCTL_DB_HELP KSCTL_MASTER_KEY_HELP "  --help                this text\n");
}

struct opts {
    struct ksctl_db_opts db;
    const char *sub;
    const char *new_key;
    bool keep_old, json;
};

static int master_opt(void *ctx, const char *cmd, int c, const char *arg)
{
    struct opts *o = ctx;
    (void)cmd;
    switch (c) {
    case 'n':
        o->new_key = arg;
        break;
    case 'k':
        o->keep_old = true;
        break;
    case 'j':
        o->json = true;
        break;
    }
    return 0;
}

static void master_usage(FILE *f, void *ctx)
{
    usage(f, ((const struct opts *)ctx)->sub);
}

static int parse(int argc, char **argv, bool rotate, struct opts *o)
{
    static const struct option longopts[] = {
        KSCTL_DB_LONGOPTS,
        KSCTL_MASTER_KEY_LONGOPT,
        {"new-key", required_argument, NULL, 'n'},
        {"keep-old", no_argument, NULL, 'k'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof(*o));
    ksctl_db_opts_init(&o->db);
    o->sub = argv[0];
    const struct ksctl_getopt g = {
        .cmd = rotate ? "master rotate" : "master check",
        .longopts = longopts,
        .db = &o->db,
        .allowed = rotate ? NULL : "j",
        .flags = KSCTL_GETOPT_QUIET,
        .opt = master_opt,
        .usage = master_usage,
        .ctx = o,
    };
    return ksctl_getopt(argc, argv, &g, NULL, NULL);
}

static bool exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0 || errno != ENOENT;
}

/* Overwrite a key file with zeros before unlinking it (best effort: a
 * journaling or copy-on-write file system may keep old blocks). */
static void shred(const char *path)
{
    static const char zeros[KS_MASTER_KEY_LEN];
    int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        if (write(fd, zeros, sizeof(zeros)) == (ssize_t)sizeof(zeros)) {
            (void)fsync(fd);
        }
        close(fd);
    }
    (void)unlink(path);
}

static int sync_dir(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path);
    int fd = open(dirname(buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return KS_ERR_IO;
    }
    int r = fsync(fd) == 0 ? KS_OK : KS_ERR_IO;
    close(fd);
    return r;
}

/* True when both keys are the same (a wrap under one opens under the
 * other): rotating to the same key would change nothing but the files. */
static bool same_key(const struct ks_master_key *a, const struct ks_master_key *b)
{
    static const uint8_t probe[] = "ks-master-rotate-probe";
    uint8_t nonce[KS_STORE_NONCE_LEN];
    uint8_t *ct = NULL;
    size_t ct_len = 0;
    struct ks_store_secret *sec = NULL;
    bool same =
        ks_store_secret_wrap(a, "probe", probe, sizeof(probe), nonce, &ct, &ct_len) == KS_OK &&
        ks_store_secret_unwrap(b, "probe", nonce, ct, ct_len, &sec) == KS_OK;
    ks_store_secret_free(sec);
    free(ct);
    return same;
}

static int cmd_rotate(int argc, char **argv)
{
    struct opts o;
    struct ksctl_db d;
    struct ks_master_key *new_mk = NULL;
    struct ks_store_rewrap_counts c = {0};
    char new_path[4096], old_path[4096];
    bool made_new = false, made_old = false;
    int ret = parse(argc, argv, true, &o);
    if (ret >= 0) {
        return ret;
    }
    ret = 0;
    int r = ksctl_db_open(&d, &o.db, "master rotate", KSCTL_DB_MASTER_KEY);
    if (r < 0) {
        ret = ks_error_exit_code(r);
        goto out;
    }
    if ((size_t)snprintf(new_path, sizeof(new_path), "%s.new", d.master_key_path) >=
            sizeof(new_path) ||
        (size_t)snprintf(old_path, sizeof(old_path), "%s.old", d.master_key_path) >=
            sizeof(old_path)) {
        ret = ksctl_db_fail(&d, KS_ERR_INVALID_ARG, "master key path too long");
        goto out;
    }
    if (exists(new_path) || exists(old_path)) {
        ret = ksctl_db_fail(&d, KS_ERR_STORE_EXISTS,
                            "%s or %s exists: an earlier rotation did not finish. Find the key "
                            "the database uses with 'ksctl master check --master-key FILE', make "
                            "it %s, and remove the other files",
                            new_path, old_path, d.master_key_path);
        goto out;
    }
    /* 1. The new key, on disk (0600) before anything is re-wrapped. */
    r = o.new_key ? ks_master_key_copy(o.new_key, new_path)
                  : ks_master_key_generate(new_path, &new_mk);
    if (r < 0) {
        int e = errno;
        ret = ksctl_db_fail(&d, ksctl_input_error(r, e), "new key %s: %s",
                            o.new_key ? o.new_key : new_path, ks_strerror(r));
        goto out;
    }
    made_new = true;
    if (!new_mk && (r = ks_master_key_load(new_path, &new_mk)) < 0) {
        ret = ksctl_db_fail(&d, r, "new key %s: %s", new_path, ks_strerror(r));
        goto out;
    }
    if (same_key(d.mk, new_mk)) {
        ret = ksctl_db_fail(&d, KS_ERR_INVALID_ARG, "the new key is the current master key");
        goto out;
    }
    /* 2. The old key, kept until the commit. */
    if ((r = ks_master_key_copy(d.master_key_path, old_path)) < 0) {
        ret = ksctl_db_fail(&d, r, "cannot keep the old key as %s: %s", old_path, ks_strerror(r));
        goto out;
    }
    made_old = true;
    /* 3. One transaction. */
    if ((r = ks_store_master_rotate(d.store, d.mk, new_mk, d.actor, &c)) < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
        goto out;
    }
    /* 4. Committed: the database now needs the new key. */
    made_new = false;
    if (rename(new_path, d.master_key_path) != 0 || sync_dir(d.master_key_path) < 0) {
        ret = ksctl_db_fail(&d, KS_ERR_IO,
                            "the database was re-wrapped under the key in %s, but it could not "
                            "be moved to %s (%s): move it by hand before restarting keyserverd",
                            new_path, d.master_key_path, strerror(errno));
        made_old = false; /* keep everything for the admin */
        goto out;
    }
    /* 5. */
    if (!o.keep_old) {
        shred(old_path);
        made_old = false;
    }
    if (o.json) {
        r = ksctl_print_json(json_pack("{s:s, s:i, s:i, s:o}", "master_key", d.master_key_path,
                                       "key_versions", (int)c.key_versions, "secrets",
                                       (int)c.secrets, "old_key",
                                       o.keep_old ? json_string(old_path) : json_null()));
        ret = r < 0 ? ksctl_db_fail(&d, r, NULL) : 0;
    } else {
        printf("master key rotated: %u key version%s and %u secret%s re-wrapped; the new key is "
               "%s\n",
               c.key_versions, c.key_versions == 1 ? "" : "s", c.secrets, c.secrets == 1 ? "" : "s",
               d.master_key_path);
        if (o.keep_old) {
            printf("the old key is kept as %s (backups taken before this need it)\n", old_path);
        }
        printf("restart keyserverd now: until then it cannot release keys\n");
    }
    made_old = false;
out:
    if (made_new) {
        shred(new_path);
    }
    if (made_old) {
        shred(old_path);
    }
    ks_master_key_free(new_mk);
    ksctl_db_close(&d);
    return ret;
}

static int cmd_check(int argc, char **argv)
{
    struct opts o;
    struct ksctl_db d;
    struct ks_store_rewrap_counts c = {0};
    int ret = parse(argc, argv, false, &o);
    if (ret >= 0) {
        return ret;
    }
    ret = 0;
    int r = ksctl_db_open(&d, &o.db, "master check", KSCTL_DB_MASTER_KEY);
    if (r < 0) {
        ret = ks_error_exit_code(r);
        goto out;
    }
    if ((r = ks_store_master_check(d.store, d.mk, &c)) < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
        goto out;
    }
    if (o.json) {
        r = ksctl_print_json(json_pack("{s:s, s:i, s:i, s:i, s:b}", "master_key", d.master_key_path,
                                       "key_versions", (int)c.key_versions, "secrets",
                                       (int)c.secrets, "failed", (int)c.failed, "ok",
                                       c.failed == 0));
        if (r < 0) {
            ret = ksctl_db_fail(&d, r, NULL);
            goto out;
        }
    } else {
        printf("%s: %u key version%s and %u secret%s unwrap, %u do%s not\n", d.master_key_path,
               c.key_versions, c.key_versions == 1 ? "" : "s", c.secrets, c.secrets == 1 ? "" : "s",
               c.failed, c.failed == 1 ? "es" : "");
    }
    ret = c.failed == 0 ? 0 : 1;
out:
    ksctl_db_close(&d);
    return ret;
}

int ksctl_master(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr, NULL);
        return 2;
    }
    if (ksctl_is_help(argv[1])) {
        usage(stdout, NULL);
        return 0;
    }
    if (strcmp(argv[1], "rotate") == 0) {
        return cmd_rotate(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "check") == 0) {
        return cmd_check(argc - 1, argv + 1);
    }
    ksctl_err("master: unknown subcommand '%s'", argv[1]);
    usage(stderr, NULL);
    return 2;
}
