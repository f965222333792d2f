/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "encoding.h"
#include "policy/ksctl.h"
#include "policy/ksctl_db.h"

/* `ksctl init`: create the database, the master key, the receipt key, the
 * nonce key and the keyserver id. */

static void usage(FILE *f)
{
    fprintf(f, "Usage: ksctl init [--db PATH] [--master-key PATH] [--config FILE] [--id ID]\n"
               "                  [--use-existing-master-key] [--busy-timeout MS]\n\n"
               "Create and initialise a keyserver database: a new 32-byte master key file\n"
               "(mode 0600), the receipt signing key (ECDSA P-256) and the nonce key (both\n"
               "stored wrapped under the master key), and the keyserver id. Prints the id\n"
               "and the SHA-256 fingerprint of the receipt public key (SubjectPublicKeyInfo\n"
               "DER), which clients pin.\n\n" KSCTL_DB_HELP KSCTL_MASTER_KEY_HELP
               "  --id ID               the keyserver id, [A-Za-z0-9._-]{1,64} (default: 16\n"
               "                        random bytes in hex)\n"
               "  --use-existing-master-key\n"
               "                        use the master key file that exists at --master-key\n"
               "                        (several databases under one key) instead of refusing\n"
               "  --help                this text\n\n"
               "Refuses an already initialised database and, without\n"
               "--use-existing-master-key, an existing master key file.\n");
}

struct init_opts {
    struct ksctl_db_opts db;
    const char *id;
    bool use_existing;
};

static int init_opt(void *ctx, const char *cmd, int c, const char *arg)
{
    struct init_opts *o = ctx;
    (void)cmd;
    if (c == 'i') {
        o->id = arg;
    } else if (c == 'u') {
        o->use_existing = true;
    }
    return 0;
}

static void init_usage(FILE *f, void *ctx)
{
    (void)ctx;
    usage(f);
}

static int parse(int argc, char **argv, struct init_opts *o)
{
    static const struct option longopts[] = {
        KSCTL_DB_LONGOPTS,
        KSCTL_MASTER_KEY_LONGOPT,
        {"id", required_argument, NULL, 'i'},
        {"use-existing-master-key", no_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof(*o));
    ksctl_db_opts_init(&o->db);
    const struct ksctl_getopt g = {
        .cmd = "init",
        .longopts = longopts,
        .db = &o->db,
        .opt = init_opt,
        .usage = init_usage,
        .ctx = o,
    };
    int ret = ksctl_getopt(argc, argv, &g, NULL, NULL);
    if (ret >= 0) {
        return ret;
    }
    if (o->id && !ks_store_name_valid(o->id)) {
        ksctl_err("init: --id must match [A-Za-z0-9._-]{1,64}: '%s'", o->id);
        return 2;
    }
    return -1;
}

/* Remove a database file this run created, with its WAL and shared-memory
 * files, so that a failed init leaves nothing half-made behind. */
static void remove_db(const char *path)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        char *p = NULL;
        if (asprintf(&p, "%s%s", path, suffix[i]) >= 0) {
            (void)unlink(p);
            free(p);
        }
    }
}

/* Open an existing database file and refuse it when it is initialised. A
 * file with the schema but no keyserver id stays open for init; an empty
 * file is not opened here (it needs KS_STORE_CREATE, later). */
static int check_not_initialised(struct ksctl_db *d, int *ret_exit)
{
    char err[512] = "";
    uint8_t *id = NULL;
    size_t len;
    int r = ks_store_open_ex(d->db_path, 0, d->busy_ms, err, sizeof(err), &d->store);
    if (r == KS_ERR_DB_NOT_INIT) {
        return KS_OK;
    }
    if (r < 0) {
        ksctl_err("init: database %s: %s", d->db_path,
                  r == KS_ERR_DB_BUSY ? "database is busy: another process holds the write lock"
                                      : (err[0] ? err : ks_strerror(r)));
        return r;
    }
    r = ks_store_meta_get(d->store, KS_META_ID, &id, &len);
    if (r == KS_OK) {
        ksctl_err("init: database %s is already initialised (keyserver id %s)", d->db_path,
                  (const char *)id);
        free(id);
        return KS_ERR_STORE_EXISTS;
    }
    if (r != KS_ERR_DB_NOT_INIT) {
        *ret_exit = ksctl_db_fail(d, r, NULL);
        return r;
    }
    return KS_OK;
}

static int print_result(struct ksctl_db *d)
{
    uint8_t *id = NULL, *spki = NULL;
    size_t id_len, spki_len;
    unsigned char fp[EVP_MAX_MD_SIZE];
    unsigned int fp_len = 0;
    char fp_hex[2 * EVP_MAX_MD_SIZE + 1];
    int r = ks_store_meta_get(d->store, KS_META_ID, &id, &id_len);
    if (r < 0 || (r = ks_store_meta_get(d->store, KS_META_RECEIPT_PUB, &spki, &spki_len)) < 0) {
        goto out;
    }
    if (EVP_Digest(spki, spki_len, fp, &fp_len, EVP_sha256(), NULL) != 1) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    ks_hex_encode(fp, fp_len, fp_hex);
    printf("keyserver id: %s\n", (const char *)id);
    printf("receipt key SHA-256: %s\n", fp_hex);
    r = KS_OK;
out:
    free(id);
    free(spki);
    return r;
}

int ksctl_init(int argc, char **argv)
{
    struct init_opts o;
    struct ksctl_db d;
    struct stat sb;
    bool db_created = false, mk_created = false, mk_created_kept = false;
    char err[512] = "";
    int ret = parse(argc, argv, &o);
    if (ret >= 0) {
        return ret;
    }
    int r = ksctl_db_open(&d, &o.db, "init", KSCTL_DB_CREATE | KSCTL_DB_NO_OPEN);
    if (r < 0) {
        goto out;
    }

    /* An initialised database is refused first: that is the mistake that
     * matters, whatever the master key. */
    bool db_exists = lstat(d.db_path, &sb) == 0;
    if (db_exists && (r = check_not_initialised(&d, &ret)) < 0) {
        goto out;
    }

    /* Never overwrite a master key: it may protect another database. */
    if (o.use_existing) {
        r = ks_master_key_load(d.master_key_path, &d.mk);
        if (r < 0) {
            int e = errno;
            ksctl_err("init: master key %s: %s%s%s", d.master_key_path, ks_strerror(r),
                      r == KS_ERR_IO ? ": " : "", r == KS_ERR_IO ? strerror(e) : "");
            r = ksctl_input_error(r, e);
            goto out;
        }
    } else if (lstat(d.master_key_path, &sb) == 0) {
        r = KS_ERR_STORE_EXISTS;
        ksctl_err("init: master key %s already exists; refusing to overwrite it (pass "
                  "--use-existing-master-key to initialise this database with it)",
                  d.master_key_path);
        goto out;
    }

    if (!d.store) {
        db_created = !db_exists;
        r = ks_store_open_ex(d.db_path, KS_STORE_CREATE, d.busy_ms, err, sizeof(err), &d.store);
        if (r < 0) {
            ksctl_err("init: database %s: %s", d.db_path,
                      r == KS_ERR_DB_BUSY ? "database is busy: another process holds the write lock"
                                          : (err[0] ? err : ks_strerror(r)));
            goto out;
        }
    }

    if (!d.mk) {
        r = ks_master_key_generate(d.master_key_path, &d.mk);
        if (r < 0) {
            int e = errno;
            ksctl_err("init: cannot create master key %s: %s%s%s", d.master_key_path,
                      ks_strerror(r), r == KS_ERR_IO ? ": " : "",
                      r == KS_ERR_IO ? strerror(e) : "");
            r = ksctl_input_error(r, e);
            goto out;
        }
        mk_created = true;
    }
    r = ks_store_init(d.store, d.mk, d.actor, o.id);
    if (r < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
        goto out;
    }
    /* From here on the database holds secrets wrapped under the key: keep
     * both whatever happens. */
    db_created = false;
    mk_created_kept = mk_created;
    mk_created = false;
    if ((r = print_result(&d)) < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
        goto out;
    }
    printf("database: %s\nmaster key: %s%s\n", d.db_path, d.master_key_path,
           mk_created_kept ? " (new: back it up; without it the keys cannot be recovered)" : "");
    ret = 0;
out:
    if (r < 0 && ret < 0) {
        ret = ks_error_exit_code(r);
    }
    ks_store_close(d.store);
    d.store = NULL;
    if (mk_created) {
        (void)unlink(d.master_key_path);
    }
    if (db_created) {
        remove_db(d.db_path);
    }
    ksctl_db_close(&d);
    return ret;
}
