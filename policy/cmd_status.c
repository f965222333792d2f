/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/ksctl.h"
#include "policy/ksctl_db.h"

/* `ksctl status`: the database at a glance, read while keyserverd runs
 * (one read transaction for the counts; WAL readers block nobody). */

#define RECENT_DEFAULT 10
#define RECENT_MAX 1000

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: ksctl status [--json] [--recent N] [--db PATH]\n\n"
            "Show the database path and schema version, the keyserver id, counts (keys\n"
            "and their versions by state, policies, AKs by state, EKs, EK CAs, audit\n"
            "rows), the releases granted and refused with the newest N of them (default\n"
            "%d), and the last successful attestation of each AK.\n\n" KSCTL_DB_HELP
            "  --recent N            show the newest N releases (0..%d)\n"
            "  --json                print a JSON object\n"
            "  --help                this text\n",
            RECENT_DEFAULT, RECENT_MAX);
}

static json_t *time_or_null(int64_t t)
{
    char s[32];
    ksctl_format_time(t, s);
    return t ? json_string(s) : json_null();
}

static json_t *text_or_null(const char *s)
{
    json_t *j = s ? json_string(s) : NULL;
    return j ? j : json_null();
}

static int recent_json(const struct ks_audit_row *row, void *arg)
{
    json_t *a = arg;
    json_t *j =
        json_pack("{s:I, s:I, s:o, s:s, s:o, s:o, s:o}", "seq", (json_int_t)row->seq, "time",
                  (json_int_t)row->time, "time_utc", time_or_null(row->time), "outcome",
                  ks_audit_outcome_name(row->outcome), "ak_id", text_or_null(row->ak_id), "keys",
                  text_or_null(row->keys), "reason", text_or_null(row->reason));
    return j && json_array_append_new(a, j) == 0 ? 0 : KS_ERR_NOMEM;
}

static int recent_text(const struct ks_audit_row *row, void *arg)
{
    char t[32];
    (void)arg;
    ksctl_format_time(row->time, t);
    printf("  %6" PRId64 " %s %-7s ", row->seq, t, ks_audit_outcome_name(row->outcome));
    printf("ak=");
    ksctl_print_safe(stdout, row->ak_id ? row->ak_id : "-");
    printf(" keys=");
    ksctl_print_safe(stdout, row->keys ? row->keys : "-");
    if (row->reason) {
        printf(" reason=\"");
        ksctl_print_safe(stdout, row->reason);
        printf("\"");
    }
    printf("\n");
    return 0;
}

static json_t *status_json(const struct ksctl_db *d, const struct ks_store_status *st,
                           const struct ks_store_ak_info *aks, size_t n_aks, json_t *recent)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n_aks; i++) {
        json_array_append_new(
            a,
            json_pack("{s:s, s:s, s:o, s:o}", "id", aks[i].id, "state",
                      ks_ak_state_name(aks[i].state), "last_attested_at",
                      aks[i].last_attested_at ? json_integer(aks[i].last_attested_at) : json_null(),
                      "last_attested", time_or_null(aks[i].last_attested_at)));
    }
    return json_pack(
        "{s:s, s:i, s:i, s:o, "
        "s:{s:I, s:I, s:I, s:I, s:I}, s:{s:I, s:I}, s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I}, "
        "s:I, s:{s:I, s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:o, s:o, s:o}, s:o}",
        "db", d->db_path, "schema_version", st->schema_version, "program_schema_version",
        ks_store_schema_version(), "keyserver_id", st->id[0] ? json_string(st->id) : json_null(),
        "keys", "total", (json_int_t)st->keys, "versions", (json_int_t)st->key_versions, "active",
        (json_int_t)st->versions_active, "previous", (json_int_t)st->versions_previous, "retired",
        (json_int_t)st->versions_retired, "policies", "total", (json_int_t)st->policies, "active",
        (json_int_t)st->policies_active, "aks", "pending", (json_int_t)st->aks_pending, "active",
        (json_int_t)st->aks_active, "revoked", (json_int_t)st->aks_revoked, "eks", "total",
        (json_int_t)st->eks, "approved", (json_int_t)st->eks_approved, "revoked",
        (json_int_t)st->eks_revoked, "ekcas", (json_int_t)st->ekcas, "audit", "rows",
        (json_int_t)st->audit_rows, "first_seq", (json_int_t)st->audit_first_seq, "last_seq",
        (json_int_t)st->audit_last_seq, "anchor_seq", (json_int_t)st->audit_anchor_seq,
        "exported_seq", (json_int_t)st->audit_exported_seq, "releases", "granted",
        (json_int_t)st->releases_granted, "refused", (json_int_t)st->releases_refused,
        "last_granted", time_or_null(st->last_granted_at), "last_refused",
        time_or_null(st->last_refused_at), "recent", recent ? recent : json_array(),
        "ak_attestations", a ? a : json_array());
}

static void status_text(const struct ksctl_db *d, const struct ks_store_status *st,
                        const struct ks_store_ak_info *aks, size_t n_aks)
{
    char g[32], rf[32];
    printf("database     %s (schema version %d", d->db_path, st->schema_version);
    if (st->schema_version != ks_store_schema_version()) {
        printf("; this ksctl knows %d", ks_store_schema_version());
    }
    printf(")\nkeyserver    %s\n", st->id[0] ? st->id : "(not initialised)");
    printf("keys         %" PRId64 " (versions: %" PRId64 " active, %" PRId64 " previous, %" PRId64
           " retired)\n",
           st->keys, st->versions_active, st->versions_previous, st->versions_retired);
    printf("policies     %" PRId64 " (%" PRId64 " with an active version)\n", st->policies,
           st->policies_active);
    printf("AKs          %" PRId64 " active, %" PRId64 " pending, %" PRId64 " revoked\n",
           st->aks_active, st->aks_pending, st->aks_revoked);
    printf("EKs          %" PRId64 " (%" PRId64 " approved, %" PRId64 " revoked); EK CAs %" PRId64
           "\n",
           st->eks, st->eks_approved, st->eks_revoked, st->ekcas);
    printf("audit        %" PRId64 " rows", st->audit_rows);
    if (st->audit_rows) {
        printf(", seq %" PRId64 "..%" PRId64, st->audit_first_seq, st->audit_last_seq);
    }
    if (st->audit_anchor_seq) {
        printf(", pruned through %" PRId64, st->audit_anchor_seq);
    }
    if (st->audit_exported_seq) {
        printf(", exported through %" PRId64, st->audit_exported_seq);
    } else {
        printf(", never exported");
    }
    ksctl_format_time(st->last_granted_at, g);
    ksctl_format_time(st->last_refused_at, rf);
    printf("\nreleases     %" PRId64 " granted (last %s), %" PRId64 " refused (last %s)\n",
           st->releases_granted, g, st->releases_refused, rf);
    if (n_aks > 0) {
        printf("last attestation per AK:\n");
    }
    for (size_t i = 0; i < n_aks; i++) {
        char t[32];
        ksctl_format_time(aks[i].last_attested_at, t);
        printf("  %s %-7s %s\n", aks[i].id, ks_ak_state_name(aks[i].state),
               aks[i].last_attested_at ? t : "never");
    }
}

struct status_opts {
    bool json;
    long n_recent;
};

static int status_opt(void *ctx, const char *cmd, int c, const char *arg)
{
    struct status_opts *so = ctx;
    char *end = NULL;
    (void)cmd;
    if (c == 'j') {
        so->json = true;
    } else if (c == 'n') {
        errno = 0;
        so->n_recent = strtol(arg, &end, 10);
        if (errno != 0 || end == arg || *end != '\0' || so->n_recent < 0 ||
            so->n_recent > RECENT_MAX) {
            ksctl_err("status: --recent: not a number in 0..%d: '%s'", RECENT_MAX, arg);
            return 2;
        }
    }
    return 0;
}

static void status_usage(FILE *f, void *ctx)
{
    (void)ctx;
    usage(f);
}

int ksctl_status(int argc, char **argv)
{
    static const struct option longopts[] = {
        KSCTL_DB_LONGOPTS,
        {"json", no_argument, NULL, 'j'},
        {"recent", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ksctl_db_opts o;
    struct ksctl_db d;
    struct ks_store_status st;
    struct ks_store_ak_info *aks = NULL;
    size_t n_aks = 0;
    json_t *recent = NULL;
    struct status_opts so = {false, RECENT_DEFAULT};
    int ret = 0;
    ksctl_db_opts_init(&o);
    const struct ksctl_getopt g = {
        .cmd = "status",
        .longopts = longopts,
        .db = &o,
        .opt = status_opt,
        .usage = status_usage,
        .ctx = &so,
    };
    if ((ret = ksctl_getopt(argc, argv, &g, NULL, NULL)) >= 0) {
        return ret;
    }
    ret = 0;
    int r = ksctl_db_open(&d, &o, "status", 0);
    if (r < 0) {
        ret = ks_error_exit_code(r);
        goto out;
    }
    if ((r = ks_store_status_get(d.store, &st)) < 0 ||
        (r = ks_store_ak_list(d.store, &aks, &n_aks)) < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
        goto out;
    }
    if (so.json) {
        if (!(recent = json_array()) ||
            (so.n_recent > 0 && (r = ks_store_release_recent(d.store, (size_t)so.n_recent,
                                                             recent_json, recent)) < 0)) {
            ret = ksctl_db_fail(&d, r < 0 ? r : KS_ERR_NOMEM, NULL);
            goto out;
        }
        r = ksctl_print_json(status_json(&d, &st, aks, n_aks, recent));
        recent = NULL; /* taken by the object */
        if (r < 0) {
            ret = ksctl_db_fail(&d, r, NULL);
        }
        goto out;
    }
    status_text(&d, &st, aks, n_aks);
    if (so.n_recent > 0 && st.releases_granted + st.releases_refused > 0) {
        printf("newest releases (newest first):\n");
        if ((r = ks_store_release_recent(d.store, (size_t)so.n_recent, recent_text, NULL)) < 0) {
            ret = ksctl_db_fail(&d, r, NULL);
        }
    }
out:
    json_decref(recent);
    free(aks);
    ksctl_db_close(&d);
    return ret;
}
