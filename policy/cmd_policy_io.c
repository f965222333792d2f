/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/*
 * `ksctl policy diff|history|rollback|export|import|rule`. The JSON form of
 * a policy (export / import, documented in ksctl(8)):
 *     {"format": "ks-policy-v1", "name": NAME, "rules": [RULE...]}
 * with each RULE as keyserverd/policy_rules.h's ks_rule_to_json writes it.
 * Export lists the rules in the store's order, so importing an export and
 * exporting again gives the same bytes.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "file_util.h"
#include "keyserverd/policy_rules.h"
#include "policy/cmd_policy.h"
#include "policy/ksctl.h"
#include "policy/ksctl_db.h"

#define POLICY_FORMAT "ks-policy-v1"
#define POLICY_FILE_MAX (64u * 1024 * 1024)

struct io_opts {
    struct ksctl_db_opts db;
    const char *sub;
    const char *name; /* --name (import) */
    uint32_t from, to, version;
    bool draft, json, remove;
    int nargs;
    char **args;
};

static const char *const subs[] = {"diff", "history", "rollback", "export", "import", "rule"};

bool ksctl_policy_io_has(const char *sub)
{
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        if (strcmp(sub, subs[i]) == 0) {
            return true;
        }
    }
    return false;
}

bool ksctl_policy_warn_resettable(const struct ks_store_rule *rule)
{
    if (rule->pcr != 16 && rule->pcr != 23) {
        return false;
    }
    ksctl_err("warning: a %s rule names PCR %u, which any process can reset at locality 0 "
              "(TCG PC Client PFP, PCR usage): never rely on it",
              ks_rule_kind_name(rule->kind), rule->pcr);
    return true;
}

static void usage(FILE *f, const char *sub)
{
    if (strcmp(sub, "diff") == 0) {
        fprintf(f, "Usage: ksctl policy diff NAME [--from N] [--to N] [--db PATH]\n\n"
                   "Show the rules the draft (or version --to) adds (+) and removes (-)\n"
                   "against the active version (or version --from), one JSON rule a line.\n\n");
    } else if (strcmp(sub, "history") == 0) {
        fprintf(f, "Usage: ksctl policy history NAME [--json] [--db PATH]\n\n"
                   "List the versions of a policy: state, rule count, who made each and\n"
                   "when, who last activated it and when.\n\n");
    } else if (strcmp(sub, "rollback") == 0) {
        fprintf(f, "Usage: ksctl policy rollback NAME VERSION [--db PATH]\n\n"
                   "Make the retired VERSION active again, in one transaction; the active\n"
                   "version is retired.\n\n");
    } else if (strcmp(sub, "export") == 0) {
        fprintf(f, "Usage: ksctl policy export NAME [--version N|--draft] [--db PATH]\n\n"
                   "Print the active version (or version N, or the draft) as JSON (ksctl(8),\n"
                   "POLICY FILES): 'ksctl policy import' reads it back.\n\n");
    } else if (strcmp(sub, "import") == 0) {
        fprintf(f, "Usage: ksctl policy import FILE [--name NAME] [--db PATH]\n\n"
                   "Replace the draft of the policy FILE names (or NAME) with the rules of\n"
                   "FILE ('-': standard input), creating the policy when it does not exist.\n"
                   "Activate it with 'ksctl policy activate'.\n\n");
    } else {
        fprintf(f, "Usage: ksctl policy rule NAME JSON [--remove] [--db PATH]\n\n"
                   "Add one rule, given in its JSON form (ksctl(8), POLICY FILES), to the\n"
                   "draft (made from the active version when there is none); with --remove,\n"
                   "remove it.\n\n");
    }
    fprintf(f, KSCTL_DB_HELP "  --help                this text\n");
}

static int parse_version(const char *arg, uint32_t *ret)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-' || v < 1 ||
        v >= KS_STORE_VERSION_DRAFT) {
        return KS_ERR_INVALID_ARG;
    }
    *ret = (uint32_t)v;
    return KS_OK;
}

static int io_opt(void *ctx, const char *cmd, int c, const char *arg)
{
    struct io_opts *o = ctx;
    uint32_t *v = c == 'f' ? &o->from : c == 't' ? &o->to : &o->version;
    if ((c == 'f' || c == 't' || c == 'V') && parse_version(arg, v) < 0) {
        ksctl_err("%s: not a version number: '%s'", cmd, arg);
        return 2;
    }
    o->draft = o->draft || c == 'd';
    o->json = o->json || c == 'j';
    o->remove = o->remove || c == 'r';
    if (c == 'n') {
        o->name = arg;
    }
    return 0;
}

static void io_usage(FILE *f, void *ctx)
{
    usage(f, ((const struct io_opts *)ctx)->sub);
}

static int parse(int argc, char **argv, struct io_opts *o)
{
    static const struct option longopts[] = {
        KSCTL_DB_LONGOPTS,
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"version", required_argument, NULL, 'V'},
        {"draft", no_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},
        {"name", required_argument, NULL, 'n'},
        {"remove", no_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    /* options each subcommand takes */
    static const char *const allowed[] = {"ft", "j", "", "Vd", "n", "r"};
    char cmd[32];
    const char *allow = "";
    memset(o, 0, sizeof(*o));
    ksctl_db_opts_init(&o->db);
    o->sub = argv[0];
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        if (strcmp(o->sub, subs[i]) == 0) {
            allow = allowed[i];
        }
    }
    snprintf(cmd, sizeof(cmd), "policy %s", o->sub);
    int want = strcmp(o->sub, "rollback") == 0 || strcmp(o->sub, "rule") == 0 ? 2 : 1;
    const struct ksctl_getopt g = {
        .cmd = cmd,
        .longopts = longopts,
        .db = &o->db,
        .allowed = allow,
        .min_args = want,
        .max_args = want,
        .args_error = "wrong number of arguments",
        .opt = io_opt,
        .usage = io_usage,
        .ctx = o,
    };
    int ret = ksctl_getopt(argc, argv, &g, &o->nargs, &o->args);
    if (ret >= 0) {
        return ret;
    }
    const char *name = strcmp(o->sub, "import") == 0 ? o->name : o->args[0];
    if (name && !ks_store_name_valid(name)) {
        ksctl_err("%s: policy name must match [A-Za-z0-9._-]{1,64}: '%s'", cmd, name);
        return 2;
    }
    if (o->draft && o->version) {
        ksctl_err("%s: --version and --draft exclude each other", cmd);
        return 2;
    }
    return -1;
}

/* The rules of a version as canonical one-line JSON strings, sorted. */
static int rule_lines(const struct ks_store_policy *p, char ***ret)
{
    char **lines = calloc(p->n_rules + 1, sizeof(*lines));
    if (!lines) {
        return KS_ERR_NOMEM;
    }
    for (size_t i = 0; i < p->n_rules; i++) {
        json_t *j = NULL;
        if (ks_rule_to_json(&p->rules[i], &j) < 0 ||
            !(lines[i] = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER))) {
            json_decref(j);
            for (size_t k = 0; k < i; k++) {
                free(lines[k]);
            }
            free(lines);
            return KS_ERR_NOMEM;
        }
        json_decref(j);
    }
    *ret = lines;
    return KS_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_lines(char **lines, size_t n)
{
    for (size_t i = 0; lines && i < n; i++) {
        free(lines[i]);
    }
    free(lines);
}

static int cmd_diff(struct ksctl_db *d, const struct io_opts *o)
{
    struct ks_store_policy *a = NULL, *b = NULL;
    struct ks_store_policy empty = {.n_rules = 0};
    char **la = NULL, **lb = NULL;
    const char *name = o->args[0];
    int ret = 0;
    int r = ks_store_policy_get(d->store, name, o->from ? o->from : KS_STORE_VERSION_ACTIVE, &a);
    if (r == KS_ERR_STORE_UNKNOWN_POLICY && !o->from) {
        snprintf(empty.name, sizeof(empty.name), "%s", name);
        r = KS_OK; /* no active version yet: everything is added */
    }
    if (r < 0 ||
        (r = ks_store_policy_get(d->store, name, o->to ? o->to : KS_STORE_VERSION_DRAFT, &b)) < 0) {
        ret = ksctl_db_fail(d, r, NULL);
        goto out;
    }
    const struct ks_store_policy *pa = a ? a : &empty;
    if ((r = rule_lines(pa, &la)) < 0 || (r = rule_lines(b, &lb)) < 0) {
        ret = ksctl_db_fail(d, r, NULL);
        goto out;
    }
    qsort(la, pa->n_rules, sizeof(*la), cmp_str);
    qsort(lb, b->n_rules, sizeof(*lb), cmp_str);
    if (a) {
        printf("--- %s version %" PRIu32 " (%s)\n", name, a->version,
               ks_policy_state_name(a->state));
    } else {
        printf("--- %s (no active version)\n", name);
    }
    printf("+++ %s version %" PRIu32 " (%s)\n", name, b->version, ks_policy_state_name(b->state));
    size_t i = 0, k = 0, changes = 0;
    while (i < pa->n_rules || k < b->n_rules) {
        int c = i == pa->n_rules ? 1 : k == b->n_rules ? -1 : strcmp(la[i], lb[k]);
        if (c == 0) {
            i++, k++;
            continue;
        }
        changes++;
        if (c < 0) {
            printf("- %s\n", la[i++]);
        } else {
            printf("+ %s\n", lb[k++]);
        }
    }
    printf("%zu rule(s) changed (%zu before, %zu after)\n", changes, pa->n_rules, b->n_rules);
out:
    free_lines(la, a ? a->n_rules : 0);
    free_lines(lb, b ? b->n_rules : 0);
    ks_store_policy_free(a);
    ks_store_policy_free(b);
    return ret;
}

static int cmd_history(struct ksctl_db *d, const struct io_opts *o)
{
    struct ks_store_policy_version_info *v = NULL;
    size_t n = 0;
    int r = ks_store_policy_history(d->store, o->args[0], &v, &n);
    if (r < 0) {
        return ksctl_db_fail(d, r, NULL);
    }
    json_t *a = o->json ? json_array() : NULL;
    if (!o->json) {
        printf("%-8s %-8s %6s  %-20s %-16s  %-20s %s\n", "VERSION", "STATE", "RULES", "CREATED",
               "BY", "ACTIVATED", "BY");
    }
    for (size_t i = 0; i < n; i++) {
        char ct[32], at[32];
        ksctl_format_time(v[i].created_at, ct);
        ksctl_format_time(v[i].activated_at, at);
        if (a) {
            json_array_append_new(
                a, json_pack("{s:I,s:s,s:I,s:s,s:s,s:s?,s:s?}", "version", (json_int_t)v[i].version,
                             "state", ks_policy_state_name(v[i].state), "rules",
                             (json_int_t)v[i].n_rules, "created_at", ct, "created_by",
                             v[i].created_by, "activated_at", v[i].activated_at ? at : NULL,
                             "activated_by", v[i].activated_by[0] ? v[i].activated_by : NULL));
            continue;
        }
        printf("%-8" PRIu32 " %-8s %6" PRIu32 "  %-20s ", v[i].version,
               ks_policy_state_name(v[i].state), v[i].n_rules, ct);
        ksctl_print_safe(stdout, v[i].created_by);
        printf("  %-20s ", at);
        ksctl_print_safe(stdout, v[i].activated_by[0] ? v[i].activated_by : "-");
        printf("\n");
    }
    free(v);
    if (a && (r = ksctl_print_json(a)) < 0) {
        return ksctl_db_fail(d, r, NULL);
    }
    return 0;
}

static int cmd_rollback(struct ksctl_db *d, const struct io_opts *o)
{
    const char *name = o->args[0];
    struct ks_store_policy *p = NULL;
    uint32_t version = 0, got = 0;
    if (parse_version(o->args[1], &version) < 0) {
        ksctl_err("policy rollback: not a version number: '%s'", o->args[1]);
        return 2;
    }
    int r = ks_store_policy_get(d->store, name, version, &p);
    if (r < 0) {
        return ksctl_db_fail(d, r, NULL);
    }
    enum ks_policy_state state = p->state;
    ks_store_policy_free(p);
    if (state != KS_POLICY_RETIRED) {
        return ksctl_db_fail(d, KS_ERR_STORE_STATE,
                             "version %" PRIu32 " of policy %s is %s, not retired%s", version, name,
                             ks_policy_state_name(state),
                             state == KS_POLICY_DRAFT ? " (use 'ksctl policy activate')" : "");
    }
    if ((r = ks_store_policy_activate(d->store, d->actor, name, version, &got)) < 0) {
        return ksctl_db_fail(d, r, NULL);
    }
    printf("policy %s version %" PRIu32 " is active again\n", name, got);
    return 0;
}

static int cmd_export(struct ksctl_db *d, const struct io_opts *o)
{
    struct ks_store_policy *p = NULL;
    uint32_t sel = o->draft     ? KS_STORE_VERSION_DRAFT
                   : o->version ? o->version
                                : KS_STORE_VERSION_ACTIVE;
    int r = ks_store_policy_get(d->store, o->args[0], sel, &p);
    if (r < 0) {
        return ksctl_db_fail(d, r, NULL);
    }
    json_t *rules = json_array();
    json_t *j =
        json_pack("{s:s,s:s,s:o}", "format", POLICY_FORMAT, "name", p->name, "rules", rules);
    for (size_t i = 0; j && i < p->n_rules; i++) {
        json_t *rj = NULL;
        if (p->rules[i].kind == KS_RULE_UNKNOWN) {
            ksctl_err("warning: rule #%lld of kind '%s' is unknown to this ksctl; exported as is "
                      "but import will refuse it",
                      (long long)p->rules[i].id, p->rules[i].kind_name);
        }
        if (ks_rule_to_json(&p->rules[i], &rj) == KS_OK) {
            json_array_append_new(rules, rj);
        }
    }
    ks_store_policy_free(p);
    if (!j || (r = ksctl_print_json(j)) < 0) {
        return ksctl_db_fail(d, j ? r : KS_ERR_NOMEM, NULL);
    }
    return 0;
}

/* The rules of a policy file; prints what is wrong. */
static int read_rules(json_t *rules, struct ks_store_rule **ret, size_t *ret_n)
{
    size_t n = json_array_size(rules);
    if (n > KS_STORE_MAX_RULES) {
        ksctl_err("policy import: more than %d rules", KS_STORE_MAX_RULES);
        return KS_ERR_TOO_LARGE;
    }
    struct ks_store_rule *list = calloc(n ? n : 1, sizeof(*list));
    if (!list) {
        return KS_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        char err[160];
        int r = ks_rule_from_json(json_array_get(rules, i), &list[i], err, sizeof(err));
        if (r < 0) {
            ksctl_err("policy import: rule %zu: %s", i + 1, err);
            for (size_t k = 0; k < i; k++) {
                free(list[k].data);
            }
            free(list);
            return r;
        }
        ksctl_policy_warn_resettable(&list[i]);
    }
    *ret = list;
    *ret_n = n;
    return KS_OK;
}

static int cmd_import(struct ksctl_db *d, const struct io_opts *o)
{
    uint8_t *buf = NULL;
    size_t len = 0, n = 0;
    struct ks_store_rule *list = NULL;
    uint32_t version = 0;
    json_error_t jerr;
    int ret = 0;
    int r = ks_file_read(o->args[0], POLICY_FILE_MAX, &buf, &len);
    if (r < 0) {
        ksctl_err("policy import: %s: %s", o->args[0], ks_strerror(r));
        return ks_error_exit_code(ksctl_input_error(r, errno));
    }
    json_t *j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
    free(buf);
    const char *format = json_string_value(json_object_get(j, "format"));
    const char *name = o->name ? o->name : json_string_value(json_object_get(j, "name"));
    json_t *rules = json_object_get(j, "rules");
    if (!j) {
        ksctl_err("policy import: %s: line %d: %s", o->args[0], jerr.line, jerr.text);
        ret = 2;
    } else if (!format || strcmp(format, POLICY_FORMAT) != 0 || !json_is_array(rules) ||
               json_object_size(j) != 3 || !json_is_string(json_object_get(j, "name"))) {
        ksctl_err("policy import: %s: not a %s policy file ({\"format\", \"name\", \"rules\"})",
                  o->args[0], POLICY_FORMAT);
        ret = 2;
    } else if (!ks_store_name_valid(name)) {
        ksctl_err("policy import: policy name must match [A-Za-z0-9._-]{1,64}");
        ret = 2;
    } else if ((r = read_rules(rules, &list, &n)) < 0) {
        ret = ks_error_exit_code(r == KS_ERR_INVALID_ARG ? KS_ERR_INVALID_ARG : r);
    } else if ((r = ks_store_policy_set_draft(d->store, d->actor, name, "policy.import", true, list,
                                              n, &version)) < 0) {
        ret = ksctl_db_fail(d, r, NULL);
    } else {
        printf("policy %s draft version %" PRIu32 ": %zu rules imported; activate with 'ksctl "
               "policy activate %s'\n",
               name, version, n, name);
    }
    for (size_t i = 0; i < n; i++) {
        free(list[i].data);
    }
    free(list);
    json_decref(j);
    return ret;
}

static int cmd_rule(struct ksctl_db *d, const struct io_opts *o)
{
    struct ks_store_rule rule;
    json_error_t jerr;
    char err[160];
    uint32_t version = 0;
    int ret = 0;
    json_t *j = json_loads(o->args[1], JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        ksctl_err("policy rule: not JSON: %s", jerr.text);
        return 2;
    }
    int r = ks_rule_from_json(j, &rule, err, sizeof(err));
    json_decref(j);
    if (r < 0) {
        ksctl_err("policy rule: %s", err);
        return ks_error_exit_code(r);
    }
    if (!o->remove) {
        ksctl_policy_warn_resettable(&rule);
        r = ks_store_policy_add_rule(d->store, d->actor, o->args[0], &rule, &version);
    } else {
        r = ks_store_policy_remove_rule(d->store, d->actor, o->args[0], &rule);
    }
    if (r < 0) {
        ret = ksctl_db_fail(d, r, NULL);
    } else if (o->remove) {
        printf("policy %s draft: %s rule removed\n", o->args[0], rule.kind_name);
    } else {
        printf("policy %s draft version %" PRIu32 ": %s rule added\n", o->args[0], version,
               rule.kind_name);
    }
    free(rule.data);
    return ret;
}

int ksctl_policy_io(int argc, char **argv)
{
    struct io_opts o;
    struct ksctl_db d;
    char cmd[32];
    int ret = parse(argc, argv, &o);
    if (ret >= 0) {
        return ret;
    }
    snprintf(cmd, sizeof(cmd), "policy %s", o.sub);
    int r = ksctl_db_open(&d, &o.db, cmd, 0);
    if (r < 0) {
        ksctl_db_close(&d);
        return ks_error_exit_code(r);
    }
    if (strcmp(o.sub, "diff") == 0) {
        ret = cmd_diff(&d, &o);
    } else if (strcmp(o.sub, "history") == 0) {
        ret = cmd_history(&d, &o);
    } else if (strcmp(o.sub, "rollback") == 0) {
        ret = cmd_rollback(&d, &o);
    } else if (strcmp(o.sub, "export") == 0) {
        ret = cmd_export(&d, &o);
    } else if (strcmp(o.sub, "import") == 0) {
        ret = cmd_import(&d, &o);
    } else {
        ret = cmd_rule(&d, &o);
    }
    ksctl_db_close(&d);
    return ret;
}
