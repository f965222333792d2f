/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "policy/cmd_ops.h"
#include "policy/ksctl.h"
#include "policy/ksctl_db.h"

/*
 * `ksctl audit export|prune`. An export writes every row with exactly the
 * fields its row_hash covers (db/store.h, ks_store_audit_append), so that a
 * verifier outside the keyserver can recompute the chain; a complete export
 * is recorded in the database, and a prune of rows that were never exported
 * is refused unless the admin says --yes. A prune keeps the chain
 * verifiable: the last removed row's seq and hash become its anchor.
 */

struct audit_opts {
    struct ksctl_db_opts db;
    bool export; /* audit export, else audit prune */
    int64_t since;
    const char *before;
    bool yes, json, no_mark;
};

static void usage_sub(FILE *f, bool export)
{
    if (export) {
        fprintf(f, "Usage: ksctl audit export [--since SEQ] [--format jsonl] [--no-mark]\n"
                   "                          [--db PATH]\n\n"
                   "Write audit rows (seq >= SEQ, default all), oldest first, to standard\n"
                   "output as JSON Lines: one object per row with seq, time, actor, event,\n"
                   "ak_id, keys (the comma-joined references as hashed), outcome, reason,\n"
                   "detail (the stored text), prev_hash and row_hash (hex), read in one\n"
                   "snapshot, so that the chain can be re-checked elsewhere. A text that is\n"
                   "not UTF-8 is written as {\"base64\": ...}. When the export reaches back to\n"
                   "the oldest row not exported before, it is recorded (audit event\n"
                   "audit.export), which 'ksctl audit prune' looks for.\n\n"
                   "  --since SEQ           start at sequence number SEQ\n"
                   "  --format jsonl        the output format (the only one)\n"
                   "  --no-mark             do not record the export (read-only use)\n");
    } else {
        fprintf(f,
                "Usage: ksctl audit prune --before SEQ|TIME [--yes] [--json] [--db PATH]\n\n"
                "Delete the audit rows before sequence number SEQ, or before the first row\n"
                "at or after TIME (YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS[Z] in UTC, or @UNIXSECONDS).\n"
                "The last deleted row's seq and hash are kept as the chain's anchor, so\n"
                "'ksctl audit verify' still checks every remaining row. The prune is audited.\n"
                "Refused when rows to delete were never exported ('ksctl audit export'),\n"
                "unless --yes.\n\n"
                "  --before SEQ|TIME     keep SEQ (or the first row at or after TIME) and later\n"
                "  --yes                 prune rows that were never exported\n"
                "  --json                print the result as JSON\n");
    }
    fprintf(f, KSCTL_DB_HELP "  --help                this text\n");
}

static int parse_seq(const char *s, int64_t *ret)
{
    char *end = NULL;
    if (*s < '0' || *s > '9') {
        return KS_ERR_INVALID_ARG;
    }
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 1) {
        return KS_ERR_INVALID_ARG;
    }
    *ret = v;
    return KS_OK;
}

static int audit_opt(void *ctx, const char *cmd, int c, const char *arg)
{
    struct audit_opts *o = ctx;
    switch (c) {
    case 's':
        if (parse_seq(arg, &o->since) < 0) {
            ksctl_err("%s: --since: not a sequence number: '%s'", cmd, arg);
            return 2;
        }
        break;
    case 'f':
        if (strcmp(arg, "jsonl") != 0) {
            ksctl_err("%s: --format: only jsonl is supported, not '%s'", cmd, arg);
            return 2;
        }
        break;
    case 'n':
        o->no_mark = true;
        break;
    case 'b':
        o->before = arg;
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

static void audit_usage(FILE *f, void *ctx)
{
    usage_sub(f, ((const struct audit_opts *)ctx)->export);
}

static int parse(int argc, char **argv, bool export, struct audit_opts *o)
{
    static const struct option longopts[] = {
        KSCTL_DB_LONGOPTS,
        {"since", required_argument, NULL, 's'},
        {"format", required_argument, NULL, 'f'},
        {"no-mark", no_argument, NULL, 'n'},
        {"before", required_argument, NULL, 'b'},
        {"yes", no_argument, NULL, 'y'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = export ? "audit export" : "audit prune";
    memset(o, 0, sizeof(*o));
    ksctl_db_opts_init(&o->db);
    o->export = export;
    const struct ksctl_getopt g = {
        .cmd = cmd,
        .longopts = longopts,
        .db = &o->db,
        .allowed = export ? "sfn" : "byj",
        .opt = audit_opt,
        .usage = audit_usage,
        .ctx = o,
    };
    int ret = ksctl_getopt(argc, argv, &g, NULL, NULL);
    if (ret >= 0) {
        return ret;
    }
    if (!export && !o->before) {
        ksctl_err("%s: --before SEQ|TIME is required", cmd);
        return 2;
    }
    return -1;
}

/* A stored text as JSON: the string, null, or {"base64": ...} for bytes
 * that are not UTF-8 (json_string refuses those), so that no row loses a
 * field its hash covers. */
static json_t *text_json(const char *s)
{
    if (!s) {
        return json_null();
    }
    json_t *j = json_string(s);
    if (j) {
        return j;
    }
    char *b64 = NULL;
    if (ks_base64_encode((const uint8_t *)s, strlen(s), &b64) < 0) {
        return NULL;
    }
    j = json_pack("{s:s}", "base64", b64);
    free(b64);
    return j;
}

static json_t *hash_json(const uint8_t h[KS_STORE_HASH_LEN])
{
    char hex[2 * KS_STORE_HASH_LEN + 1];
    ks_hex_encode(h, KS_STORE_HASH_LEN, hex);
    return json_string(hex);
}

struct export_ctx {
    int64_t first, last, n;
};

static int export_row(const struct ks_audit_row *row, void *arg)
{
    struct export_ctx *x = arg;
    json_t *j = json_pack("{s:I, s:I, s:o, s:o, s:o, s:o, s:s, s:o, s:o, s:o, s:o}", "seq",
                          (json_int_t)row->seq, "time", (json_int_t)row->time, "actor",
                          text_json(row->actor), "event", text_json(row->event), "ak_id",
                          text_json(row->ak_id), "keys", text_json(row->keys), "outcome",
                          ks_audit_outcome_name(row->outcome), "reason", text_json(row->reason),
                          "detail", text_json(row->detail), "prev_hash", hash_json(row->prev_hash),
                          "row_hash", hash_json(row->row_hash));
    char *line = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (!line) {
        return KS_ERR_NOMEM;
    }
    int r = puts(line) >= 0 ? 0 : KS_ERR_IO;
    free(line);
    if (x->n++ == 0) {
        x->first = row->seq;
    }
    x->last = row->seq;
    return r;
}

int ksctl_audit_export(int argc, char **argv)
{
    struct audit_opts o;
    struct ksctl_db d;
    struct ks_store_status st;
    struct export_ctx x = {0};
    int ret = parse(argc, argv, true, &o);
    if (ret >= 0) {
        return ret;
    }
    ret = 0;
    int r = ksctl_db_open(&d, &o.db, "audit export", 0);
    if (r < 0) {
        ret = ks_error_exit_code(r);
        goto out;
    }
    struct ks_audit_filter f = {.since_seq = o.since};
    if ((r = ks_store_audit_foreach(d.store, &f, export_row, &x)) < 0) {
        ret = ksctl_db_fail(&d, r, r == KS_ERR_IO ? "writing standard output failed" : NULL);
        goto out;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        ret = ksctl_db_fail(&d, KS_ERR_IO, "writing standard output failed: %s", strerror(errno));
        goto out;
    }
    if (o.no_mark || x.n == 0) {
        goto out;
    }
    /* Record the export only when it closes the gap to the rows exported
     * before (or to the oldest row): a later range alone must not make
     * older, never exported rows look safe to prune. */
    if ((r = ks_store_status_get(d.store, &st)) < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
        goto out;
    }
    int64_t from = st.audit_exported_seq + 1 > st.audit_first_seq ? st.audit_exported_seq + 1
                                                                  : st.audit_first_seq;
    if (x.first > from) {
        ksctl_err("audit export: rows %" PRId64 "..%" PRId64 " were never exported; this export "
                  "(from %" PRId64 ") is not recorded",
                  from, x.first - 1, x.first);
        goto out;
    }
    if ((r = ks_store_audit_export_mark(d.store, d.actor, x.last)) < 0) {
        ret = ksctl_db_fail(&d, r, "the rows were written, but recording the export failed: %s",
                            ks_store_errmsg(d.store));
    }
out:
    ksctl_db_close(&d);
    return ret;
}

/* The first seq to keep: SEQ, or the first row at or after TIME. */
static int resolve_before(struct ksctl_db *d, const char *arg, int64_t *ret)
{
    int64_t t = 0;
    if (parse_seq(arg, ret) == KS_OK) {
        return KS_OK;
    }
    if (arg[0] == '@') {
        if (parse_seq(arg + 1, &t) < 0) {
            ksctl_err("audit prune: --before: not @UNIXSECONDS: '%s'", arg);
            return KS_ERR_INVALID_ARG;
        }
    } else if (!strchr(arg, '-') || ksctl_parse_time(arg, &t) < 0) {
        ksctl_err("audit prune: --before: not a sequence number, YYYY-MM-DD[THH:MM:SS[Z]] or "
                  "@UNIXSECONDS: '%s'",
                  arg);
        return KS_ERR_INVALID_ARG;
    }
    int r = ks_store_audit_seq_at_time(d->store, t, ret);
    if (r == KS_ERR_NOT_FOUND) {
        ksctl_err("audit prune: no audit row at or after %s: refusing to delete every row", arg);
    } else if (r < 0) {
        ksctl_db_fail(d, r, NULL);
    }
    return r;
}

int ksctl_audit_prune(int argc, char **argv)
{
    struct audit_opts o;
    struct ksctl_db d;
    struct ks_store_status st;
    int64_t keep = 0, deleted = 0, anchor_seq = 0;
    uint8_t anchor[KS_STORE_HASH_LEN];
    char hex[2 * KS_STORE_HASH_LEN + 1];
    int ret = parse(argc, argv, false, &o);
    if (ret >= 0) {
        return ret;
    }
    ret = 0;
    int r = ksctl_db_open(&d, &o.db, "audit prune", 0);
    if (r < 0 || (r = resolve_before(&d, o.before, &keep)) < 0) {
        ret = ks_error_exit_code(r);
        goto out;
    }
    if ((r = ks_store_status_get(d.store, &st)) < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
        goto out;
    }
    if (!o.yes && keep - 1 >= st.audit_first_seq && st.audit_exported_seq < keep - 1) {
        ret = ksctl_db_fail(&d, KS_ERR_INVALID_ARG,
                            "rows up to %" PRId64 " would be deleted, but the last export "
                            "reached %s%" PRId64 ": run 'ksctl audit export' first (or use --yes)",
                            keep - 1,
                            st.audit_exported_seq ? "seq " : "nothing: ", st.audit_exported_seq);
        goto out;
    }
    if ((r = ks_store_audit_prune(d.store, d.actor, keep, &deleted)) < 0) {
        ret = r == KS_ERR_NOT_FOUND
                  ? ksctl_db_fail(&d, r, "audit row %" PRId64 " does not exist", keep)
                  : ksctl_db_fail(&d, r, NULL);
        goto out;
    }
    if ((r = ks_store_audit_anchor(d.store, &anchor_seq, anchor)) < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
        goto out;
    }
    ks_hex_encode(anchor, sizeof(anchor), hex);
    if (o.json) {
        r = ksctl_print_json(json_pack("{s:I, s:I, s:I, s:s}", "deleted", (json_int_t)deleted,
                                       "first_seq", (json_int_t)keep, "anchor_seq",
                                       (json_int_t)anchor_seq, "anchor_hash", hex));
        if (r < 0) {
            ret = ksctl_db_fail(&d, r, NULL);
        }
    } else {
        printf("pruned %" PRId64 " audit row%s; the chain starts at seq %" PRId64
               ", anchored to seq %" PRId64 " (hash %s)\n",
               deleted, deleted == 1 ? "" : "s", keep, anchor_seq, hex);
    }
out:
    ksctl_db_close(&d);
    return ret;
}
