/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "encoding.h"
#include "policy/cmd_ops.h"
#include "policy/ksctl.h"
#include "policy/ksctl_db.h"

/* `ksctl key create|import|list`: keys released to attested loaders. Key
 * material is generated here or read from a file or standard input, never
 * from the command line (argv is visible to every user in /proc). The
 * lifecycle subcommands (rotate, retire, delete, attach, show, public) are
 * in policy/cmd_key_ops.c and policy/cmd_key_show.c. */

/* Imported material: a 32-byte DEK (or share of one) or X25519 private key. */
#define KEY_LEN KSCTL_KEY_LEN

static void usage(FILE *f)
{
    fprintf(f, "Usage: ksctl key create NAME --policy POLICY [--kind dek|hpke]\n"
               "       ksctl key import NAME --policy POLICY [--kind dek|hpke] [--file FILE]\n"
               "       ksctl key list [--json]\n"
               "       ksctl key show NAME [--json]\n"
               "       ksctl key public NAME[@N] [--pem|--base64|--json]\n"
               "       ksctl key rotate NAME [--file FILE]\n"
               "       ksctl key retire NAME@N\n"
               "       ksctl key attach NAME --policy POLICY\n"
               "       ksctl key delete NAME --yes\n\n"
               "Manage the keys the keyserver releases. Run 'ksctl key SUBCOMMAND --help'.\n");
}

static void usage_create(FILE *f, bool import)
{
    if (import) {
        fprintf(f, "Usage: ksctl key import NAME --policy POLICY [--kind dek|hpke] [--file FILE]\n"
                   "                        [--share-index I --share-threshold K --share-count N]\n"
                   "                        [--db PATH] [--master-key PATH]\n\n"
                   "Import key material as version 1 of a new key, encrypted under the master\n"
                   "key. The material is exactly 32 raw bytes: the data-encryption key (or a\n"
                   "k-of-n share of it) for kind dek, the raw X25519 private key for kind hpke.\n"
                   "It is read from FILE, or from standard input when --file is absent or\n"
                   "'-' (never from the command line, and not from a terminal).\n\n");
    } else {
        fprintf(f, "Usage: ksctl key create NAME --policy POLICY [--kind dek|hpke]\n"
                   "                        [--db PATH] [--master-key PATH]\n\n"
                   "Generate a new key (32 random bytes for a dek, an X25519 key pair for\n"
                   "hpke) as version 1, encrypted under the master key. For an hpke key the\n"
                   "public key is printed.\n\n");
    }
    fprintf(f, "  NAME                  the key name, [A-Za-z0-9._-]{1,64}\n"
               "  --policy POLICY       the policy that guards the key (must exist)\n"
               "  --kind dek|hpke       data-encryption key (default) or request (HPKE) key\n");
    if (import) {
        fprintf(f, "  --file FILE           read the material from FILE ('-': standard input)\n"
                   "  --share-index I, --share-threshold K, --share-count N\n"
                   "                        the material is share I of a K-of-N split (dek)\n");
    }
    fprintf(f, KSCTL_DB_HELP KSCTL_MASTER_KEY_HELP "  --help                this text\n");
}

static void usage_list(FILE *f)
{
    fprintf(f, "Usage: ksctl key list [--json] [--db PATH]\n\n"
               "List the keys: name, kind, policy, active version, number of versions, share\n"
               "(index/threshold/count) and creation time.\n\n" KSCTL_DB_HELP
               "  --json                print a JSON array\n"
               "  --help                this text\n");
}

struct create_opts {
    struct ksctl_db_opts db;
    bool import;
    char **argv; /* the options as given, for messages */
    const char *name, *policy, *file;
    enum ks_key_kind kind;
    unsigned share[3]; /* index, threshold, count */
};

static int parse_u8(const char *opt, const char *arg, unsigned *ret)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-' || v < 1 || v > 255) {
        ksctl_err("key import: %s: not a number in 1..255: '%s'", opt, arg);
        return KS_ERR_INVALID_ARG;
    }
    *ret = (unsigned)v;
    return KS_OK;
}

static int create_opt(void *ctx, const char *cmd, int c, const char *arg)
{
    struct create_opts *o = ctx;
    /* (optind is just past the option, or past its argument) */
    const char *given = o->argv[optind - 1];
    if (!o->import && (c == 'f' || c == 'I' || c == 'K' || c == 'N')) {
        ksctl_err("key create: %s is an option of 'key import'", given);
        return 2;
    }
    switch (c) {
    case 'p':
        o->policy = arg;
        break;
    case 'k':
        if (ks_key_kind_from_name(arg, &o->kind) < 0) {
            ksctl_err("%s: --kind must be dek or hpke, not '%s'", cmd, arg);
            return 2;
        }
        break;
    case 'f':
        o->file = arg;
        break;
    case 'I':
    case 'K':
    case 'N':
        if (parse_u8(given, arg, &o->share[c == 'I' ? 0 : c == 'K' ? 1 : 2]) < 0) {
            return 2;
        }
        break;
    }
    return 0;
}

static void create_usage(FILE *f, void *ctx)
{
    usage_create(f, ((const struct create_opts *)ctx)->import);
}

/* Returns -1 to go on, else the exit status. */
static int parse_create(int argc, char **argv, bool import, struct create_opts *o)
{
    static const struct option longopts[] = {
        KSCTL_DB_LONGOPTS,
        KSCTL_MASTER_KEY_LONGOPT,
        {"policy", required_argument, NULL, 'p'},
        {"kind", required_argument, NULL, 'k'},
        {"file", required_argument, NULL, 'f'},
        {"share-index", required_argument, NULL, 'I'},
        {"share-threshold", required_argument, NULL, 'K'},
        {"share-count", required_argument, NULL, 'N'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = import ? "key import" : "key create";
    char **args = NULL;
    memset(o, 0, sizeof(*o));
    ksctl_db_opts_init(&o->db);
    o->kind = KS_KEY_DEK;
    o->import = import;
    o->argv = argv;
    const struct ksctl_getopt g = {
        .cmd = cmd,
        .longopts = longopts,
        .db = &o->db,
        .min_args = 1,
        .max_args = 1,
        .args_error = "expected one key NAME",
        .opt = create_opt,
        .usage = create_usage,
        .ctx = o,
    };
    int ret = ksctl_getopt(argc, argv, &g, NULL, &args);
    if (ret >= 0) {
        return ret;
    }
    o->name = args[0];
    if (!ks_store_name_valid(o->name)) {
        ksctl_err("%s: key name must match [A-Za-z0-9._-]{1,64}: '%s'", cmd, o->name);
        return 2;
    }
    if (!o->policy) {
        ksctl_err("%s: --policy is required", cmd);
        return 2;
    }
    if (!ks_store_name_valid(o->policy)) {
        ksctl_err("%s: policy name must match [A-Za-z0-9._-]{1,64}: '%s'", cmd, o->policy);
        return 2;
    }
    bool any = o->share[0] || o->share[1] || o->share[2];
    if (any && (!o->share[0] || !o->share[1] || !o->share[2] || o->share[1] > o->share[2] ||
                o->share[0] > o->share[2] || o->kind != KS_KEY_DEK)) {
        ksctl_err("key import: a share needs --share-index I, --share-threshold K and "
                  "--share-count N with 1 <= K <= N, 1 <= I <= N, and --kind dek");
        return 2;
    }
    return -1;
}

/*
 * Read exactly KEY_LEN bytes of key material from `path` (NULL or "-":
 * standard input) into `buf` (KEY_LEN + 1 bytes, so that one byte too many
 * is seen without reading an unbounded stream).
 */
int ksctl_key_read_material(const char *cmd, const char *path, uint8_t *buf, size_t *ret_len)
{
    bool std_in = !path || strcmp(path, "-") == 0;
    const char *what = std_in ? "standard input" : path;
    int fd = std_in ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    size_t len = 0;
    int r = KS_OK;
    if (fd < 0) {
        int e = errno;
        ksctl_err("%s: cannot open %s: %s", cmd, path, strerror(e));
        return ksctl_input_error(KS_ERR_IO, e);
    }
    if (isatty(fd)) {
        ksctl_err("%s: refusing to read key material from a terminal; pipe it in or use --file",
                  cmd);
        r = KS_ERR_INVALID_ARG;
        goto out;
    }
    while (len < KEY_LEN + 1) {
        ssize_t n = read(fd, buf + len, KEY_LEN + 1 - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            ksctl_err("%s: cannot read %s: %s", cmd, what, strerror(errno));
            r = KS_ERR_IO;
            goto out;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    if (len != KEY_LEN) {
        ksctl_err("%s: the key material from %s must be exactly %d raw bytes; got %s%zu", cmd, what,
                  KEY_LEN, len > KEY_LEN ? "more than " : "", len > KEY_LEN ? KEY_LEN : len);
        r = KS_ERR_INVALID_ARG;
        goto out;
    }
    *ret_len = len;
out:
    if (!std_in) {
        close(fd);
    }
    return r;
}

static int print_created(struct ksctl_db *d, const struct create_opts *o, bool import)
{
    printf("key %s version 1 %s: kind %s, policy %s\n", o->name, import ? "imported" : "created",
           ks_key_kind_name(o->kind), o->policy);
    if (o->kind == KS_KEY_HPKE) {
        struct ks_store_key_public pub;
        char hex[2 * sizeof(pub.public_key) + 1];
        int r = ks_store_key_public_get(d->store, o->name, 0, &pub);
        if (r < 0) {
            return r;
        }
        ks_hex_encode(pub.public_key, sizeof(pub.public_key), hex);
        printf("public key (X25519): %s\n", hex);
    }
    return KS_OK;
}

static int cmd_create(int argc, char **argv, bool import)
{
    const char *cmd = import ? "key import" : "key create";
    struct create_opts o;
    struct ksctl_db d;
    uint8_t *material = NULL;
    size_t material_len = 0;
    int ret = parse_create(argc, argv, import, &o);
    if (ret >= 0) {
        return ret;
    }
    int r = ksctl_db_open(&d, &o.db, cmd, KSCTL_DB_MASTER_KEY);
    if (r < 0) {
        ret = ks_error_exit_code(r);
        goto out;
    }
    if (import) {
        /* In the secure heap ksctl_db_open set up (plain memory when it
         * could not); wiped on every path below. */
        material = OPENSSL_secure_zalloc(KEY_LEN + 1);
        if (!material) {
            r = KS_ERR_NOMEM;
            ret = ksctl_db_fail(&d, r, NULL);
            goto out;
        }
        if ((r = ksctl_key_read_material(cmd, o.file, material, &material_len)) < 0) {
            ret = ks_error_exit_code(r);
            goto out;
        }
    }
    struct ks_store_key_params p = {
        .name = o.name,
        .kind = o.kind,
        .policy = o.policy,
        .material = material,
        .material_len = material_len,
        .share_index = (uint8_t)o.share[0],
        .share_threshold = (uint8_t)o.share[1],
        .share_count = (uint8_t)o.share[2],
    };
    r = ks_store_key_create(d.store, d.mk, d.actor, &p);
    if (r == KS_ERR_STORE_EXISTS) {
        ret = ksctl_db_fail(&d, r, "key %s already exists", o.name);
    } else if (r == KS_ERR_STORE_UNKNOWN_POLICY) {
        ret = ksctl_db_fail(&d, r, "unknown policy %s", o.policy);
    } else if (r < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
    } else if ((r = print_created(&d, &o, import)) < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
    } else {
        ret = 0;
    }
out:
    if (material) {
        OPENSSL_secure_clear_free(material, KEY_LEN + 1);
    }
    ksctl_db_close(&d);
    return ret;
}

static json_t *key_json(const struct ks_store_key_info *k)
{
    char t[32];
    ksctl_format_time(k->created_at, t);
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(k->name));
    json_object_set_new(o, "kind", json_string(ks_key_kind_name(k->kind)));
    json_object_set_new(o, "policy", json_string(k->policy));
    json_object_set_new(o, "active_version", json_integer(k->active_version));
    json_object_set_new(o, "versions", json_integer(k->n_versions));
    if (k->share_count) {
        json_t *s = json_object();
        json_object_set_new(s, "index", json_integer(k->share_index));
        json_object_set_new(s, "threshold", json_integer(k->share_threshold));
        json_object_set_new(s, "count", json_integer(k->share_count));
        json_object_set_new(o, "share", s);
    } else {
        json_object_set_new(o, "share", json_null());
    }
    json_object_set_new(o, "created_at", json_integer(k->created_at));
    json_object_set_new(o, "created", json_string(t));
    return o;
}

static int list_opt(void *ctx, const char *cmd, int c, const char *arg)
{
    (void)cmd;
    (void)arg;
    if (c == 'j') {
        *(bool *)ctx = true;
    }
    return 0;
}

static void list_usage(FILE *f, void *ctx)
{
    (void)ctx;
    usage_list(f);
}

static int cmd_list(int argc, char **argv)
{
    static const struct option longopts[] = {
        KSCTL_DB_LONGOPTS,
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ksctl_db_opts o;
    struct ksctl_db d;
    struct ks_store_key_info *keys = NULL;
    size_t n = 0;
    bool json = false;
    ksctl_db_opts_init(&o);
    const struct ksctl_getopt g = {
        .cmd = "key list",
        .longopts = longopts,
        .db = &o,
        .opt = list_opt,
        .usage = list_usage,
        .ctx = &json,
    };
    int ret = ksctl_getopt(argc, argv, &g, NULL, NULL);
    if (ret >= 0) {
        return ret;
    }
    int r = ksctl_db_open(&d, &o, "key list", 0);
    if (r < 0) {
        ret = ks_error_exit_code(r);
        goto out;
    }
    if ((r = ks_store_key_list(d.store, &keys, &n)) < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
        goto out;
    }
    if (json) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < n; i++) {
            json_array_append_new(a, key_json(&keys[i]));
        }
        r = ksctl_print_json(a);
        ret = r < 0 ? ksctl_db_fail(&d, r, NULL) : 0;
        goto out;
    }
    if (n > 0) {
        printf("%-24s %-5s %-24s %7s %8s %-9s %s\n", "NAME", "KIND", "POLICY", "VERSION",
               "VERSIONS", "SHARE", "CREATED");
    }
    for (size_t i = 0; i < n; i++) {
        char t[32], share[16] = "-";
        ksctl_format_time(keys[i].created_at, t);
        if (keys[i].share_count) {
            snprintf(share, sizeof(share), "%u/%u/%u", keys[i].share_index, keys[i].share_threshold,
                     keys[i].share_count);
        }
        printf("%-24s %-5s %-24s %7" PRIu32 " %8" PRIu32 " %-9s %s\n", keys[i].name,
               ks_key_kind_name(keys[i].kind), keys[i].policy, keys[i].active_version,
               keys[i].n_versions, share, t);
    }
    ret = 0;
out:
    free(keys);
    ksctl_db_close(&d);
    return ret;
}

int ksctl_key(int argc, char **argv)
{
    int head = ksctl_group_head(argc, argv, usage);
    if (head >= 0) {
        return head;
    }
    if (strcmp(argv[1], "create") == 0) {
        return cmd_create(argc - 1, argv + 1, false);
    }
    if (strcmp(argv[1], "import") == 0) {
        return cmd_create(argc - 1, argv + 1, true);
    }
    if (strcmp(argv[1], "list") == 0) {
        return cmd_list(argc - 1, argv + 1);
    }
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } ops[] = {
        {"show", ksctl_key_show},     {"public", ksctl_key_public}, {"rotate", ksctl_key_rotate},
        {"retire", ksctl_key_retire}, {"attach", ksctl_key_attach}, {"delete", ksctl_key_delete},
    };
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        if (strcmp(argv[1], ops[i].name) == 0) {
            return ops[i].run(argc - 1, argv + 1);
        }
    }
    ksctl_err("key: unknown subcommand '%s'", argv[1]);
    usage(stderr);
    return 2;
}
