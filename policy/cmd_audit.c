/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "encoding.h"
#include "policy/cmd_ops.h"
#include "policy/ksctl.h"
#include "policy/ksctl_db.h"

/* `ksctl audit show|verify`: read the hash-chained audit trail (export and
 * prune: policy/cmd_audit_ops.c). */

static void usage(FILE *f)
{
    fprintf(f, "Usage: ksctl audit show [--since TIME] [--key NAME] [--outcome OUTCOME]\n"
               "                        [--limit N] [--json]\n"
               "       ksctl audit verify\n"
               "       ksctl audit export [--since SEQ] [--format jsonl]\n"
               "       ksctl audit prune --before SEQ|TIME [--yes]\n\n"
               "Read the audit trail. Run 'ksctl audit SUBCOMMAND --help'.\n");
}

static void usage_sub(FILE *f, const char *sub)
{
    if (strcmp(sub, "show") == 0) {
        fprintf(f, "Usage: ksctl audit show [--since TIME] [--until TIME] [--key NAME] [--ak ID]\n"
                   "                        [--event EVENT] [--outcome OUTCOME] [--limit N]\n"
                   "                        [--json] [--db PATH]\n\n"
                   "Print audit rows in sequence order (oldest first).\n\n"
                   "  --since TIME          rows at or after TIME: Unix seconds, YYYY-MM-DD or\n"
                   "                        YYYY-MM-DDTHH:MM:SS[Z] (UTC)\n"
                   "  --until TIME          rows at or before TIME\n"
                   "  --key NAME            rows that name key NAME (any version)\n"
                   "  --ak ID               rows about attestation key ID\n"
                   "  --event EVENT         rows of one event (release, key.create, ...)\n"
                   "  --outcome OUTCOME     granted, refused, ok (admin changes) or failed\n"
                   "  --limit N             at most N rows (the first N that match)\n"
                   "  --json                print a JSON array\n");
    } else {
        fprintf(f, "Usage: ksctl audit verify [--db PATH]\n\n"
                   "Walk the whole audit hash chain: sequence numbers contiguous, each row's\n"
                   "prev_hash equal to the previous row's hash and each row's hash recomputed.\n"
                   "Exit status 0 when it verifies, 1 naming the first broken row.\n\n");
    }
    fprintf(f, KSCTL_DB_HELP "  --help                this text\n");
}

/* Unix seconds, YYYY-MM-DD, or YYYY-MM-DDTHH:MM:SS with an optional Z (UTC). */
int ksctl_parse_time(const char *s, int64_t *ret)
{
    static const char *const formats[] = {"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S",
                                          "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"};
    char *end = NULL;
    if (s[0] >= '0' && s[0] <= '9' && !strchr(s, '-')) {
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno != 0 || *end != '\0' || v < 0) {
            return KS_ERR_INVALID_ARG;
        }
        *ret = v;
        return KS_OK;
    }
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        struct tm tm;
        memset(&tm, 0, sizeof(tm));
        end = strptime(s, formats[i], &tm);
        if (end && *end == '\0') {
            time_t t = timegm(&tm);
            if (t < 0) {
                return KS_ERR_INVALID_ARG;
            }
            *ret = (int64_t)t;
            return KS_OK;
        }
    }
    return KS_ERR_INVALID_ARG;
}

struct show_opts {
    struct ks_audit_filter f;
    bool show; /* audit show, else audit verify */
    bool json;
};

static int parse_outcome(const char *s, enum ks_audit_outcome *ret)
{
    for (int v = KS_AUDIT_OK; v <= KS_AUDIT_FAILED; v++) {
        if (strcmp(s, ks_audit_outcome_name((enum ks_audit_outcome)v)) == 0) {
            *ret = (enum ks_audit_outcome)v;
            return KS_OK;
        }
    }
    return KS_ERR_INVALID_ARG;
}

static int show_opt(void *ctx, const char *cmd, int c, const char *arg)
{
    struct show_opts *o = ctx;
    char *end = NULL;
    switch (c) {
    case 's':
    case 'u':
        if (ksctl_parse_time(arg, c == 's' ? &o->f.since_time : &o->f.until_time) < 0) {
            ksctl_err("%s: %s: not a time (Unix seconds, YYYY-MM-DD or "
                      "YYYY-MM-DDTHH:MM:SSZ): '%s'",
                      cmd, c == 's' ? "--since" : "--until", arg);
            return 2;
        }
        break;
    case 'k':
        if (!ks_store_name_valid(arg)) {
            ksctl_err("%s: --key: not a key name: '%s'", cmd, arg);
            return 2;
        }
        o->f.key = arg;
        break;
    case 'a':
        if (!ks_store_tpm_name_valid(arg)) {
            ksctl_err("%s: --ak: not an AK id (lowercase hex TPM Name): '%s'", cmd, arg);
            return 2;
        }
        o->f.ak_id = arg;
        break;
    case 'e':
        o->f.event = arg;
        break;
    case 'o':
        if (parse_outcome(arg, &o->f.outcome) < 0) {
            ksctl_err("%s: --outcome must be granted, refused, ok or failed, not '%s'", cmd, arg);
            return 2;
        }
        break;
    case 'l':
        errno = 0;
        o->f.limit = strtoll(arg, &end, 10);
        if (errno != 0 || end == arg || *end != '\0' || o->f.limit < 1) {
            ksctl_err("%s: --limit: not a positive number: '%s'", cmd, arg);
            return 2;
        }
        break;
    case 'j':
        o->json = true;
        break;
    }
    return 0;
}

static void show_usage(FILE *f, void *ctx)
{
    usage_sub(f, ((const struct show_opts *)ctx)->show ? "show" : "verify");
}

/* Returns -1 to go on, else the exit status. */
static int parse(int argc, char **argv, bool show, struct ksctl_db_opts *db, struct show_opts *o)
{
    static const struct option longopts[] = {
        KSCTL_DB_LONGOPTS,
        {"since", required_argument, NULL, 's'},
        {"until", required_argument, NULL, 'u'},
        {"key", required_argument, NULL, 'k'},
        {"ak", required_argument, NULL, 'a'},
        {"event", required_argument, NULL, 'e'},
        {"outcome", required_argument, NULL, 'o'},
        {"limit", required_argument, NULL, 'l'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof(*o));
    ksctl_db_opts_init(db);
    o->show = show;
    const struct ksctl_getopt g = {
        .cmd = show ? "audit show" : "audit verify",
        .longopts = longopts,
        .db = db,
        .allowed = show ? NULL : "", /* verify takes only the shared options */
        .opt = show_opt,
        .usage = show_usage,
        .ctx = o,
    };
    return ksctl_getopt(argc, argv, &g, NULL, NULL);
}

static json_t *hash_json(const uint8_t h[KS_STORE_HASH_LEN])
{
    char hex[2 * KS_STORE_HASH_LEN + 1];
    ks_hex_encode(h, KS_STORE_HASH_LEN, hex);
    return json_string(hex);
}

static json_t *str_or_null(const char *s)
{
    /* json_string refuses invalid UTF-8: keep such text visible as null
     * rather than losing the row. */
    json_t *j = s ? json_string(s) : NULL;
    return j ? j : json_null();
}

static json_t *keys_json(const char *keys)
{
    json_t *a = json_array();
    const char *p = keys;
    while (a && p && *p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        json_array_append_new(a, json_stringn(p, n));
        p = comma ? comma + 1 : NULL;
    }
    return a;
}

static int row_json(const struct ks_audit_row *row, void *ctx)
{
    json_t *a = ctx;
    json_t *j = json_object();
    char t[32];
    if (!j) {
        return KS_ERR_NOMEM;
    }
    ksctl_format_time(row->time, t);
    json_object_set_new(j, "seq", json_integer(row->seq));
    json_object_set_new(j, "time", json_integer(row->time));
    json_object_set_new(j, "time_utc", json_string(t));
    json_object_set_new(j, "actor", str_or_null(row->actor));
    json_object_set_new(j, "event", str_or_null(row->event));
    json_object_set_new(j, "ak_id", str_or_null(row->ak_id));
    json_object_set_new(j, "keys", row->keys ? keys_json(row->keys) : json_array());
    json_object_set_new(j, "outcome", json_string(ks_audit_outcome_name(row->outcome)));
    json_object_set_new(j, "reason", str_or_null(row->reason));
    json_t *detail = row->detail ? json_loads(row->detail, JSON_DECODE_ANY, NULL) : NULL;
    json_object_set_new(j, "detail", detail ? detail : str_or_null(row->detail));
    json_object_set_new(j, "prev_hash", hash_json(row->prev_hash));
    json_object_set_new(j, "row_hash", hash_json(row->row_hash));
    return json_array_append_new(a, j) == 0 ? 0 : KS_ERR_NOMEM;
}

static int row_text(const struct ks_audit_row *row, void *ctx)
{
    char t[32];
    (void)ctx;
    ksctl_format_time(row->time, t);
    printf("%6" PRId64 " %s %-7s ", row->seq, t, ks_audit_outcome_name(row->outcome));
    ksctl_print_safe(stdout, row->event);
    printf(" by ");
    ksctl_print_safe(stdout, row->actor);
    if (row->ak_id) {
        printf(" ak=");
        ksctl_print_safe(stdout, row->ak_id);
    }
    if (row->keys) {
        printf(" keys=");
        ksctl_print_safe(stdout, row->keys);
    }
    if (row->reason) {
        printf(" reason=\"");
        ksctl_print_safe(stdout, row->reason);
        printf("\"");
    }
    if (row->detail) {
        printf(" detail=");
        ksctl_print_safe(stdout, row->detail);
    }
    printf("\n");
    return 0;
}

static int cmd_show(int argc, char **argv)
{
    struct ksctl_db_opts db;
    struct show_opts o;
    struct ksctl_db d;
    json_t *a = NULL;
    int ret = parse(argc, argv, true, &db, &o);
    if (ret >= 0) {
        return ret;
    }
    ret = 0;
    int r = ksctl_db_open(&d, &db, "audit show", 0);
    if (r < 0) {
        ret = ks_error_exit_code(r);
        goto out;
    }
    if (o.json) {
        if (!(a = json_array())) {
            ret = ksctl_db_fail(&d, KS_ERR_NOMEM, NULL);
            goto out;
        }
        r = ks_store_audit_foreach(d.store, &o.f, row_json, a);
    } else {
        r = ks_store_audit_foreach(d.store, &o.f, row_text, NULL);
    }
    if (r < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
        goto out;
    }
    if (a) {
        r = ksctl_print_json(a);
        a = NULL;
        if (r < 0) {
            ret = ksctl_db_fail(&d, r, NULL);
        }
    }
out:
    json_decref(a);
    ksctl_db_close(&d);
    return ret;
}

static int cmd_verify(int argc, char **argv)
{
    struct ksctl_db_opts db;
    struct show_opts o;
    struct ksctl_db d;
    struct ks_audit_verify v;
    int ret = parse(argc, argv, false, &db, &o);
    if (ret >= 0) {
        return ret;
    }
    ret = 0;
    int r = ksctl_db_open(&d, &db, "audit verify", 0);
    if (r < 0) {
        ret = ks_error_exit_code(r);
        goto out;
    }
    memset(&v, 0, sizeof(v));
    r = ks_store_audit_verify(d.store, &v);
    if (r == KS_ERR_AUDIT_CHAIN) {
        ret = ksctl_db_fail(&d, r,
                            "audit chain BROKEN at seq %" PRId64 " (%" PRId64
                            " rows before it verify): the trail was changed outside the "
                            "keyserver, or the file is damaged",
                            v.bad_seq, v.rows);
    } else if (r < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
    } else {
        char hex[2 * KS_STORE_HASH_LEN + 1];
        ks_hex_encode(v.last_hash, sizeof(v.last_hash), hex);
        printf("audit chain OK: %" PRId64 " rows\n", v.rows);
        if (v.rows > 0) {
            printf("seq %" PRId64 "..%" PRId64 ", last row hash %s\n", v.first_seq, v.last_seq,
                   hex);
        }
    }
out:
    ksctl_db_close(&d);
    return ret;
}

int ksctl_audit(int argc, char **argv)
{
    int head = ksctl_group_head(argc, argv, usage);
    if (head >= 0) {
        return head;
    }
    if (strcmp(argv[1], "show") == 0) {
        return cmd_show(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "verify") == 0) {
        return cmd_verify(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "export") == 0) {
        return ksctl_audit_export(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "prune") == 0) {
        return ksctl_audit_prune(argc - 1, argv + 1);
    }
    ksctl_err("audit: unknown subcommand '%s'", argv[1]);
    usage(stderr);
    return 2;
}
