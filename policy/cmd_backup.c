/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "encoding.h"
#include "policy/ksctl.h"
#include "policy/ksctl_db.h"

/*
 * `ksctl backup FILE` and `ksctl restore FILE`. A backup is SQLite's online
 * backup of the live database (consistent while keyserverd runs); it holds
 * the key material wrapped under the master key, not the master key. A
 * restore checks a copy of FILE (a keyserver database of a schema version
 * this program knows, upgraded if older; integrity_check; audit chain;
 * everything unwraps under the master key), records the restore in the
 * copy's audit trail, and renames the copy over the database: keyserverd
 * must be stopped (a running daemon is detected where possible).
 */

static void usage(FILE *f, bool restore)
{
    if (restore) {
        fprintf(f, "Usage: ksctl restore FILE --yes [--db PATH] [--master-key PATH]\n\n"
                   "Replace the database with the backup FILE. Stop keyserverd first (it is\n"
                   "refused while another process is seen to have the database open). A copy\n"
                   "of FILE is made next to the database and checked: a keyserver database of\n"
                   "a known schema version (an older one is upgraded), PRAGMA integrity_check,\n"
                   "the audit hash chain, and every key and secret unwraps under the master\n"
                   "key. The restore is recorded in the copy's audit trail, the current\n"
                   "database is kept as DB.pre-restore, and the copy is renamed over the\n"
                   "database (atomic). Start keyserverd again afterwards.\n\n"
                   "  --yes                 really replace the database\n" KSCTL_DB_HELP
                       KSCTL_MASTER_KEY_HELP);
    } else {
        fprintf(f, "Usage: ksctl backup FILE [--json] [--db PATH]\n\n"
                   "Write a consistent copy of the live database to FILE (created, mode 0600;\n"
                   "must not exist) with SQLite's online backup API: safe while keyserverd\n"
                   "runs. The copy is checked (PRAGMA integrity_check) and the backup is\n"
                   "audited. It holds the keys wrapped under the master key, NOT the master\n"
                   "key: back that up separately (and after every 'ksctl master rotate').\n\n"
                   "  --json                print the result as JSON\n" KSCTL_DB_HELP);
    }
    fprintf(f, "  --help                this text\n");
}

struct opts {
    struct ksctl_db_opts db;
    bool yes, json;
    const char *file;
};

static int parse(int argc, char **argv, bool restore, struct opts *o)
{
    static const struct option longopts[] = {
        KSCTL_DB_LONGOPTS,
        KSCTL_MASTER_KEY_LONGOPT,
        {"yes", no_argument, NULL, 'y'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = restore ? "restore" : "backup";
    int c;
    memset(o, 0, sizeof(*o));
    ksctl_db_opts_init(&o->db);
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if ((restore && c == 'j') || (!restore && (c == 'y' || c == KSCTL_OPT_MASTER_KEY))) {
            ksctl_err("%s: %s is not an option of this command", cmd, argv[optind - 1]);
            return 2;
        }
        int t = ksctl_db_opt(&o->db, cmd, c, optarg);
        if (t < 0) {
            return 2;
        } else if (t > 0) {
            continue;
        } else if (c == 'y') {
            o->yes = true;
        } else if (c == 'j') {
            o->json = true;
        } else if (c == 'h') {
            usage(stdout, restore);
            return 0;
        } else {
            usage(stderr, restore);
            return 2;
        }
    }
    if (argc - optind != 1) {
        ksctl_err("%s: expected one FILE", cmd);
        usage(stderr, restore);
        return 2;
    }
    o->file = argv[optind];
    return -1;
}

/* Audit a backup or restore with the file name in the detail. */
static int audit_file(struct ks_store *s, const char *actor, const char *event, const char *file,
                      int64_t through_seq)
{
    json_t *j = json_pack("{s:s, s:I}", "file", file, "last_seq", (json_int_t)through_seq);
    char *detail = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (!detail) {
        return KS_ERR_INVALID_ARG; /* a file name that is not UTF-8 */
    }
    struct ks_audit_entry e = {
        .actor = actor,
        .event = event,
        .outcome = KS_AUDIT_OK,
        .detail = detail,
    };
    int r = ks_store_audit_append(s, &e, NULL, NULL);
    free(detail);
    return r;
}

int ksctl_backup(int argc, char **argv)
{
    struct opts o;
    struct ksctl_db d;
    struct ks_store_backup_info info;
    char hex[2 * KS_STORE_HASH_LEN + 1];
    int ret = parse(argc, argv, false, &o);
    if (ret >= 0) {
        return ret;
    }
    ret = 0;
    int r = ksctl_db_open(&d, &o.db, "backup", 0);
    if (r < 0) {
        ret = ks_error_exit_code(r);
        goto out;
    }
    if ((r = ks_store_backup(d.store, o.file, &info)) < 0) {
        /* The file named exists or cannot be made there: a usage error. */
        ret = ksctl_db_fail(&d, r == KS_ERR_STORE_EXISTS || r == KS_ERR_IO ? KS_ERR_INVALID_ARG : r,
                            NULL);
        goto out;
    }
    ks_hex_encode(info.audit_last_hash, sizeof(info.audit_last_hash), hex);
    /* After the copy: the copy does not hold this row, the live trail does. */
    if ((r = audit_file(d.store, d.actor, "db.backup", o.file, info.audit_last_seq)) < 0) {
        ret = ksctl_db_fail(&d, r, "backup %s was written, but auditing it failed: %s", o.file,
                            ks_store_errmsg(d.store));
        goto out;
    }
    if (o.json) {
        r = ksctl_print_json(json_pack("{s:s, s:i, s:i, s:I, s:s}", "file", o.file, "pages",
                                       info.pages, "schema_version", info.schema_version,
                                       "audit_last_seq", (json_int_t)info.audit_last_seq,
                                       "audit_last_hash", hex));
        ret = r < 0 ? ksctl_db_fail(&d, r, NULL) : 0;
    } else {
        printf("backup written to %s: %d pages, schema version %d, audit through seq %" PRId64
               " (row hash %s)\n",
               o.file, info.pages, info.schema_version, info.audit_last_seq, hex);
        printf("the master key is not in the backup: keep a copy of it\n");
    }
out:
    ksctl_db_close(&d);
    return ret;
}

/* Everything a restore checks, on the copy at `tmp`. */
static int check_copy(const struct ksctl_db *d, const char *tmp, const struct ks_master_key *mk,
                      const char *file, int64_t *ret_last_seq)
{
    struct ks_store *s = NULL;
    struct ks_store_status st;
    struct ks_audit_verify v;
    struct ks_store_rewrap_counts c;
    char err[512] = "";
    int r = ks_store_open_ex(tmp, 0, d->busy_ms, err, sizeof(err), &s);
    if (r < 0) {
        ksctl_err("restore: %s is not a usable keyserver database: %s", file, err);
        return r == KS_ERR_DB_NOT_INIT ? KS_ERR_DB_CORRUPT : r;
    }
    if ((r = ks_store_integrity_check(s)) < 0) {
        ksctl_err("restore: %s: %s", file, ks_store_errmsg(s));
        goto out;
    }
    if ((r = ks_store_status_get(s, &st)) < 0) {
        ksctl_err("restore: %s: %s", file, ks_store_errmsg(s));
        goto out;
    }
    if (!st.id[0]) {
        ksctl_err("restore: %s was never initialised ('ksctl init')", file);
        r = KS_ERR_DB_CORRUPT;
        goto out;
    }
    memset(&v, 0, sizeof(v));
    if ((r = ks_store_audit_verify(s, &v)) < 0) {
        ksctl_err("restore: %s: audit chain broken at seq %" PRId64 ": %s", file, v.bad_seq,
                  ks_store_errmsg(s));
        goto out;
    }
    if ((r = ks_store_master_check(s, mk, &c)) < 0) {
        ksctl_err("restore: %s: %s", file, ks_store_errmsg(s));
        goto out;
    }
    if (c.failed > 0) {
        ksctl_err("restore: %u item(s) of %s do not unwrap under the master key %s (a backup "
                  "from before 'ksctl master rotate'? give its key with --master-key)",
                  c.failed, file, d->master_key_path);
        r = KS_ERR_KEY_UNWRAP;
        goto out;
    }
    if ((r = audit_file(s, d->actor, "db.restore", file, st.audit_last_seq)) < 0) {
        ksctl_err("restore: cannot record the restore: %s", ks_store_errmsg(s));
        goto out;
    }
    *ret_last_seq = st.audit_last_seq;
out:
    ks_store_close(s);
    return r;
}

int ksctl_restore(int argc, char **argv)
{
    struct opts o;
    struct ksctl_db d;
    struct ks_master_key *mk = NULL;
    char tmp[4096], keep[4096], err[512] = "";
    bool in_use = false, made_tmp = false;
    int64_t last_seq = 0;
    int ret = parse(argc, argv, true, &o);
    if (ret >= 0) {
        return ret;
    }
    ret = 0;
    /* Paths only: the database itself is not opened (a connection of ours
     * would hide another process's lock, and it may be missing or broken). */
    int r = ksctl_db_open(&d, &o.db, "restore", KSCTL_DB_MASTER_KEY | KSCTL_DB_NO_OPEN);
    if (r < 0) {
        ret = ks_error_exit_code(r);
        goto out;
    }
    if (!o.yes) {
        ret = ksctl_db_fail(&d, KS_ERR_INVALID_ARG,
                            "refusing without --yes: this replaces the database %s (stop "
                            "keyserverd first)",
                            d.db_path);
        goto out;
    }
    if (access(o.file, R_OK) != 0) {
        ret = ksctl_db_fail(&d, KS_ERR_INVALID_ARG, "%s: %s", o.file, strerror(errno));
        goto out;
    }
    if ((r = ks_master_key_load(d.master_key_path, &mk)) < 0) {
        int e = errno;
        ret = ksctl_db_fail(&d, ksctl_input_error(r, e), "master key %s: %s", d.master_key_path,
                            ks_strerror(r));
        goto out;
    }
    if ((r = ks_store_in_use(d.db_path, &in_use)) < 0) {
        ret = ksctl_db_fail(&d, r, "cannot tell whether %s is in use: %s", d.db_path,
                            strerror(errno));
        goto out;
    }
    if (in_use) {
        ret = ksctl_db_fail(&d, KS_ERR_DB_BUSY,
                            "another process has %s open (keyserverd?): stop it first", d.db_path);
        goto out;
    }
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.restore-%ld", d.db_path, (long)getpid()) >=
            sizeof(tmp) ||
        (size_t)snprintf(keep, sizeof(keep), "%s.pre-restore", d.db_path) >= sizeof(keep)) {
        ret = ksctl_db_fail(&d, KS_ERR_INVALID_ARG, "database path too long");
        goto out;
    }
    if ((r = ks_store_copy_file(o.file, tmp, err, sizeof(err))) < 0) {
        made_tmp = r != KS_ERR_STORE_EXISTS;
        ret = ksctl_db_fail(&d, r, "%s", err);
        if (r == KS_ERR_DB_OPEN) {
            ret = 2; /* the file named cannot be opened */
        } else if (r == KS_ERR_DB_CORRUPT) {
            ret = 1; /* not an SQLite database: refused */
        }
        goto out;
    }
    made_tmp = true;
    if ((r = check_copy(&d, tmp, mk, o.file, &last_seq)) < 0) {
        /* The backup failed a check: refused (1), unlike a failure here. */
        bool refused = r == KS_ERR_DB_CORRUPT || r == KS_ERR_DB_SCHEMA_NEWER ||
                       r == KS_ERR_DB_CONSTRAINT || r == KS_ERR_AUDIT_CHAIN ||
                       r == KS_ERR_KEY_UNWRAP;
        ret = refused ? 1 : ks_error_exit_code(r);
        goto out;
    }
    if ((r = ks_store_replace_file(tmp, d.db_path, keep, err, sizeof(err))) < 0) {
        ret = ksctl_db_fail(&d, r, "%s", err);
        goto out;
    }
    made_tmp = false;
    printf("restored %s from %s (audit through seq %" PRId64 " and the restore record); the "
           "previous database is kept as %s\nstart keyserverd again\n",
           d.db_path, o.file, last_seq, keep);
out:
    if (made_tmp) {
        static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
        for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
            char p[4200];
            snprintf(p, sizeof(p), "%s%s", tmp, suffixes[i]);
            (void)unlink(p);
        }
    }
    ks_master_key_free(mk);
    ksctl_db_close(&d);
    return ret;
}
