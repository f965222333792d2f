/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "encoding.h"
#include "policy/cmd_ops.h"
#include "policy/ksctl.h"
#include "policy/ksctl_db.h"

/*
 * `ksctl key rotate|retire|attach|delete`: the life of a key after it is
 * made. A rotation makes a new active version and keeps the old one as
 * 'previous' (releasable as NAME@N, so that data sealed under it can still
 * be opened); retiring a previous version erases its wrapped material for
 * good; delete removes the key with every version; attach moves the key to
 * another policy.
 */

struct key_opts {
    struct ksctl_db_opts db;
    const char *sub;
    const char *file, *policy;
    bool yes, json;
    const char *arg; /* the one positional argument */
};

static void usage_sub(FILE *f, const char *sub)
{
    if (strcmp(sub, "rotate") == 0) {
        fprintf(f, "Usage: ksctl key rotate NAME [--file FILE] [--json] [--db PATH]\n"
                   "                        [--master-key PATH]\n\n"
                   "Make a new active version of NAME: generated (32 random bytes for a dek, a\n"
                   "new X25519 key pair for hpke), or the 32 raw bytes read from FILE ('-':\n"
                   "standard input; required for a k-of-n share). The old active version\n"
                   "becomes 'previous': 'NAME' now releases the new version, 'NAME@N' still\n"
                   "releases version N until 'ksctl key retire NAME@N'.\n\n"
                   "  --file FILE           read the new material from FILE\n"
                   "  --json                print the result as JSON\n" KSCTL_DB_HELP
                       KSCTL_MASTER_KEY_HELP);
    } else if (strcmp(sub, "retire") == 0) {
        fprintf(f, "Usage: ksctl key retire NAME@N [--db PATH]\n\n"
                   "Retire version N of key NAME: it is never released again, and its\n"
                   "wrapped material is erased from the database at once (irreversible: a\n"
                   "retired version cannot come back). The active version cannot be retired:\n"
                   "rotate first, or delete the key.\n\n" KSCTL_DB_HELP);
    } else if (strcmp(sub, "attach") == 0) {
        fprintf(f, "Usage: ksctl key attach NAME --policy POLICY [--db PATH]\n\n"
                   "Guard key NAME (every version) by POLICY from the next release on.\n\n"
                   "  --policy POLICY       the policy (must exist)\n" KSCTL_DB_HELP);
    } else {
        fprintf(f, "Usage: ksctl key delete NAME --yes [--db PATH]\n\n"
                   "Delete key NAME with every version; the wrapped material is erased from\n"
                   "the database (irreversible). Loaders can no longer obtain the key, so\n"
                   "data sealed under it can no longer be opened through this keyserver.\n"
                   "Refuses without --yes, and then says when the key was last released.\n\n"
                   "  --yes                 really delete\n" KSCTL_DB_HELP);
    }
    fprintf(f, "  --help                this text\n");
}

static int key_opt(void *ctx, const char *cmd, int c, const char *arg)
{
    struct key_opts *o = ctx;
    (void)cmd;
    switch (c) {
    case 'f':
        o->file = arg;
        break;
    case 'p':
        o->policy = arg;
        break;
    case 'y':
        o->yes = true;
        break;
    case 'j':
        o->json = true;
        break;
    }
    return 0;
}

static void key_usage(FILE *f, void *ctx)
{
    usage_sub(f, ((const struct key_opts *)ctx)->sub);
}

/* Returns -1 to go on, else the exit status. `allowed`: the letters of the
 * options this subcommand takes (f file, p policy, y yes, j json, m
 * master key). */
static int parse(int argc, char **argv, const char *allowed, struct key_opts *o)
{
    static const struct option longopts[] = {
        KSCTL_DB_LONGOPTS,
        KSCTL_MASTER_KEY_LONGOPT,
        {"file", required_argument, NULL, 'f'},
        {"policy", required_argument, NULL, 'p'},
        {"yes", no_argument, NULL, 'y'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char cmd[32];
    char **args = NULL;
    memset(o, 0, sizeof(*o));
    ksctl_db_opts_init(&o->db);
    o->sub = argv[0];
    snprintf(cmd, sizeof(cmd), "key %s", o->sub);
    const struct ksctl_getopt g = {
        .cmd = cmd,
        .longopts = longopts,
        .db = &o->db,
        .allowed = allowed,
        .flags = strchr(allowed, 'm') ? 0 : KSCTL_GETOPT_NO_MASTER_KEY,
        .min_args = 1,
        .max_args = 1,
        .args_error = "expected one argument",
        .opt = key_opt,
        .usage = key_usage,
        .ctx = o,
    };
    int ret = ksctl_getopt(argc, argv, &g, NULL, &args);
    if (ret < 0) {
        o->arg = args[0];
    }
    return ret;
}

bool ksctl_key_ref_parse(const char *ref, char name[KS_STORE_NAME_MAX + 1], uint32_t *version)
{
    const char *at = strchr(ref, '@');
    size_t n = at ? (size_t)(at - ref) : strlen(ref);
    if (n < 1 || n > KS_STORE_NAME_MAX) {
        return false;
    }
    memcpy(name, ref, n);
    name[n] = '\0';
    if (!ks_store_name_valid(name)) {
        return false;
    }
    *version = 0;
    if (!at) {
        return true;
    }
    const char *v = at + 1;
    char *end = NULL;
    if (*v < '1' || *v > '9') {
        return false; /* empty, sign, or a leading zero */
    }
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno != 0 || *end != '\0' || x > UINT32_MAX) {
        return false;
    }
    *version = (uint32_t)x;
    return true;
}

static bool name_ok(const char *cmd, const char *what, const char *name)
{
    if (!ks_store_name_valid(name)) {
        ksctl_err("%s: %s name must match [A-Za-z0-9._-]{1,64}: '%s'", cmd, what, name);
        return false;
    }
    return true;
}

int ksctl_key_rotate(int argc, char **argv)
{
    struct key_opts o;
    struct ksctl_db d;
    uint8_t *material = NULL;
    size_t material_len = 0;
    uint32_t v = 0;
    int ret = parse(argc, argv, "fjm", &o);
    if (ret >= 0) {
        return ret;
    }
    ret = 0;
    if (!name_ok("key rotate", "key", o.arg)) {
        return 2;
    }
    int r = ksctl_db_open(&d, &o.db, "key rotate", KSCTL_DB_MASTER_KEY);
    if (r < 0) {
        ret = ks_error_exit_code(r);
        goto out;
    }
    if (o.file) {
        material = OPENSSL_secure_zalloc(KSCTL_KEY_LEN + 1);
        if (!material) {
            ret = ksctl_db_fail(&d, KS_ERR_NOMEM, NULL);
            goto out;
        }
        if ((r = ksctl_key_read_material("key rotate", o.file, material, &material_len)) < 0) {
            ret = ks_error_exit_code(r);
            goto out;
        }
    }
    r = ks_store_key_rotate(d.store, d.mk, d.actor, o.arg, material, material_len, &v);
    if (r < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
        goto out;
    }
    struct ks_store_key_public pub;
    bool has_pub = ks_store_key_public_get(d.store, o.arg, v, &pub) == KS_OK;
    char hex[2 * sizeof(pub.public_key) + 1] = "";
    if (has_pub) {
        ks_hex_encode(pub.public_key, sizeof(pub.public_key), hex);
    }
    if (o.json) {
        json_t *j =
            json_pack("{s:s, s:I, s:I, s:o}", "name", o.arg, "version", (json_int_t)v, "previous",
                      (json_int_t)(v - 1), "public_key", has_pub ? json_string(hex) : json_null());
        if ((r = ksctl_print_json(j)) < 0) {
            ret = ksctl_db_fail(&d, r, NULL);
            goto out;
        }
    } else {
        printf("key %s rotated: version %" PRIu32 " is active; version %" PRIu32
               " is previous (releasable as %s@%" PRIu32 " until retired)\n",
               o.arg, v, v - 1, o.arg, v - 1);
        if (has_pub) {
            printf("public key (X25519): %s\n", hex);
        }
    }
    ret = 0;
out:
    if (material) {
        OPENSSL_secure_clear_free(material, KSCTL_KEY_LEN + 1);
    }
    ksctl_db_close(&d);
    return ret;
}

int ksctl_key_retire(int argc, char **argv)
{
    struct key_opts o;
    struct ksctl_db d;
    char name[KS_STORE_NAME_MAX + 1];
    uint32_t v = 0;
    int ret = parse(argc, argv, "", &o);
    if (ret >= 0) {
        return ret;
    }
    ret = 0;
    if (!ksctl_key_ref_parse(o.arg, name, &v) || v == 0) {
        ksctl_err("key retire: expected NAME@VERSION (e.g. weights@1), not '%s'", o.arg);
        return 2;
    }
    int r = ksctl_db_open(&d, &o.db, "key retire", 0);
    if (r < 0) {
        ret = ks_error_exit_code(r);
    } else if ((r = ks_store_key_retire(d.store, d.actor, name, v)) < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
    } else {
        printf("key %s@%" PRIu32 " retired: never released again, its material erased\n", name, v);
    }
    ksctl_db_close(&d);
    return ret;
}

int ksctl_key_attach(int argc, char **argv)
{
    struct key_opts o;
    struct ksctl_db d;
    int ret = parse(argc, argv, "p", &o);
    if (ret >= 0) {
        return ret;
    }
    ret = 0;
    if (!o.policy) {
        ksctl_err("key attach: --policy is required");
        return 2;
    }
    if (!name_ok("key attach", "key", o.arg) || !name_ok("key attach", "policy", o.policy)) {
        return 2;
    }
    int r = ksctl_db_open(&d, &o.db, "key attach", 0);
    if (r < 0) {
        ret = ks_error_exit_code(r);
    } else if ((r = ks_store_key_attach(d.store, d.actor, o.arg, o.policy)) < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
    } else {
        printf("key %s attached to policy %s\n", o.arg, o.policy);
    }
    ksctl_db_close(&d);
    return ret;
}

int ksctl_key_delete(int argc, char **argv)
{
    struct key_opts o;
    struct ksctl_db d;
    struct ks_store_key_detail *kd = NULL;
    uint32_t n = 0;
    int ret = parse(argc, argv, "y", &o);
    if (ret >= 0) {
        return ret;
    }
    ret = 0;
    if (!name_ok("key delete", "key", o.arg)) {
        return 2;
    }
    int r = ksctl_db_open(&d, &o.db, "key delete", 0);
    if (r < 0) {
        ret = ks_error_exit_code(r);
        goto out;
    }
    if (!o.yes) {
        /* Say what would be lost; unknown keys are reported as such. */
        if ((r = ks_store_key_show(d.store, o.arg, &kd)) < 0) {
            ret = ksctl_db_fail(&d, r, NULL);
            goto out;
        }
        char t[32];
        ksctl_format_time(kd->last_granted_at, t);
        ksctl_err("key delete: refusing without --yes: key %s has %zu version(s), last released "
                  "%s; deleting it erases its material for good",
                  o.arg, kd->n_versions, kd->last_granted_at ? t : "never");
        ret = 2;
        goto out;
    }
    if ((r = ks_store_key_delete(d.store, d.actor, o.arg, &n)) < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
        goto out;
    }
    printf("key %s deleted (%" PRIu32 " version%s, material erased)\n", o.arg, n,
           n == 1 ? "" : "s");
out:
    ks_store_key_detail_free(kd);
    ksctl_db_close(&d);
    return ret;
}
