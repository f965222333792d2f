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
#include "keyserverd/policy_rules.h"
#include "policy/cmd_policy.h"
#include "policy/ksctl.h"
#include "policy/ksctl_db.h"
#include "tpm_alg.h"

/* `ksctl policy create|pcr|activate|show|list` (learn: cmd_policy_learn.c;
 * diff, history, rollback, export, import, rule: cmd_policy_io.c). Edits go to the policy's
 * draft version; `activate` makes the draft the active version in one
 * transaction, so the keyserver never judges a release by a half-edited
 * policy. */

/* PCRs of the PC Client platform (TCG PC Client PFP, 3.3.4: 24 PCRs). */
#define PCR_COUNT 24
/* Digests per `policy pcr` call. */
#define MAX_DIGESTS 64

static void usage(FILE *f)
{
    fprintf(f, "Usage: ksctl policy create NAME\n"
               "       ksctl policy pcr NAME INDEX DIGEST... [--bank BANK] [--remove]\n"
               "       ksctl policy activate NAME [--version N]\n"
               "       ksctl policy show NAME [--version N|--draft] [--json]\n"
               "       ksctl policy list [--json]\n"
               "       ksctl policy learn NAME --eventlog FILE [--ima-log FILE] [--app-log FILE]\n"
               "                          [--pcrs LIST]\n"
               "       ksctl policy diff NAME [--from N] [--to N]\n"
               "       ksctl policy history NAME [--json]\n"
               "       ksctl policy rollback NAME VERSION\n"
               "       ksctl policy export NAME [--version N|--draft]\n"
               "       ksctl policy import FILE [--name NAME]\n"
               "       ksctl policy rule NAME JSON [--remove]\n\n"
               "Manage release policies. Run 'ksctl policy SUBCOMMAND --help'.\n");
}

static void usage_sub(FILE *f, const char *sub)
{
    if (strcmp(sub, "create") == 0) {
        fprintf(f, "Usage: ksctl policy create NAME [--db PATH]\n\n"
                   "Create a policy with an empty draft (version 1). A policy without an\n"
                   "active version, or whose active version has no rules, refuses every\n"
                   "release.\n\n");
    } else if (strcmp(sub, "pcr") == 0) {
        fprintf(
            f,
            "Usage: ksctl policy pcr NAME INDEX DIGEST... [--bank BANK] [--remove] [--db PATH]\n\n"
            "Allow DIGEST (hex, optionally with a 0x prefix, as tpm2_pcrread prints it) as a\n"
            "value of PCR INDEX (0..23) in the policy's draft, which is made from the active\n"
            "version when there is none. A release needs every PCR the policy names to\n"
            "hold one of its allowed values. PCRs 16 and 23 can be reset by any process at\n"
            "locality 0: a warning is printed, do not rely on them.\n\n"
            "  --bank BANK           sha1, sha256 (default), sha384 or sha512; the digest\n"
            "                        length must match\n"
            "  --remove              remove the values from the draft instead\n");
    } else if (strcmp(sub, "activate") == 0) {
        fprintf(f, "Usage: ksctl policy activate NAME [--version N] [--db PATH]\n\n"
                   "Make the draft (or, with --version, an older version: a rollback) the\n"
                   "active version in one transaction; the previous active version is\n"
                   "retired. Prints the version now active.\n\n"
                   "  --version N           activate retired version N instead of the draft\n");
    } else if (strcmp(sub, "show") == 0) {
        fprintf(f, "Usage: ksctl policy show NAME [--version N|--draft] [--json] [--db PATH]\n\n"
                   "Show the rules of the active version (or of version N, or of the draft).\n\n"
                   "  --version N           show version N\n"
                   "  --draft               show the draft\n"
                   "  --json                print JSON\n");
    } else {
        fprintf(f, "Usage: ksctl policy list [--json] [--db PATH]\n\n"
                   "List the policies with their active and draft versions.\n\n"
                   "  --json                print a JSON array\n");
    }
    fprintf(f, KSCTL_DB_HELP "  --help                this text\n");
}

struct policy_opts {
    struct ksctl_db_opts db;
    const char *sub;
    uint16_t bank;
    bool remove, draft, json;
    uint32_t version; /* 0: not given */
    int nargs;
    char **args;
};

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

static int policy_opt(void *ctx, const char *cmd, int c, const char *arg)
{
    struct policy_opts *o = ctx;
    switch (c) {
    case 'b':
        if (ks_alg_from_name(arg, &o->bank) < 0) {
            ksctl_err("%s: unknown bank '%s' (sha1, sha256, sha384, sha512)", cmd, arg);
            return 2;
        }
        break;
    case 'r':
        o->remove = true;
        break;
    case 'V':
        if (parse_version(arg, &o->version) < 0) {
            ksctl_err("%s: --version: not a version number: '%s'", cmd, arg);
            return 2;
        }
        break;
    case 'd':
        o->draft = true;
        break;
    case 'j':
        o->json = true;
        break;
    }
    return 0;
}

static void policy_usage(FILE *f, void *ctx)
{
    usage_sub(f, ((const struct policy_opts *)ctx)->sub);
}

/* Returns -1 to go on, else the exit status. `allowed` lists the short
 * option letters this subcommand takes. */
static int parse(int argc, char **argv, const char *allowed, int min_args, int max_args,
                 struct policy_opts *o)
{
    static const struct option longopts[] = {
        KSCTL_DB_LONGOPTS,
        {"bank", required_argument, NULL, 'b'},
        {"remove", no_argument, NULL, 'r'},
        {"version", required_argument, NULL, 'V'},
        {"draft", no_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char cmd[32];
    memset(o, 0, sizeof(*o));
    ksctl_db_opts_init(&o->db);
    o->sub = argv[0];
    o->bank = KS_ALG_SHA256;
    snprintf(cmd, sizeof(cmd), "policy %s", o->sub);
    const struct ksctl_getopt g = {
        .cmd = cmd,
        .longopts = longopts,
        .db = &o->db,
        .allowed = allowed,
        .min_args = min_args,
        .max_args = max_args,
        .args_error = "wrong number of arguments",
        .opt = policy_opt,
        .usage = policy_usage,
        .ctx = o,
    };
    int ret = ksctl_getopt(argc, argv, &g, &o->nargs, &o->args);
    if (ret >= 0) {
        return ret;
    }
    if (o->nargs > 0 && !ks_store_name_valid(o->args[0])) {
        ksctl_err("%s: policy name must match [A-Za-z0-9._-]{1,64}: '%s'", cmd, o->args[0]);
        return 2;
    }
    if (o->draft && o->version) {
        ksctl_err("%s: --version and --draft exclude each other", cmd);
        return 2;
    }
    return -1;
}

static int cmd_create(struct policy_opts *o)
{
    struct ksctl_db d;
    const char *name = o->args[0];
    int ret = 0;
    int r = ksctl_db_open(&d, &o->db, "policy create", 0);
    if (r < 0) {
        ret = ks_error_exit_code(r);
    } else if ((r = ks_store_policy_create(d.store, d.actor, name)) == KS_ERR_STORE_EXISTS) {
        ret = ksctl_db_fail(&d, r, "policy %s already exists", name);
    } else if (r < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
    } else {
        printf("policy %s created with an empty draft (version 1)\n", name);
    }
    ksctl_db_close(&d);
    return ret;
}

/* Decode one DIGEST argument for `bank`; prints the problem. */
static int parse_digest(const char *arg, uint16_t bank, uint8_t *ret)
{
    const char *hex = arg;
    size_t want = ks_alg_digest_size(bank);
    if (hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X')) {
        hex += 2;
    }
    if (strlen(hex) != 2 * want) {
        ksctl_err("policy pcr: digest '%s' has %zu hex digits; a %s digest has %zu", arg,
                  strlen(hex), ks_alg_name(bank), 2 * want);
        return KS_ERR_INVALID_ARG;
    }
    if (ks_hex_decode_fixed(hex, ret, want) < 0) {
        ksctl_err("policy pcr: digest '%s' is not hex", arg);
        return KS_ERR_HEX;
    }
    return KS_OK;
}

static int cmd_pcr(struct policy_opts *o)
{
    const char *name = o->args[0];
    const char *index_arg = o->args[1];
    size_t n = (size_t)o->nargs - 2;
    size_t dlen = ks_alg_digest_size(o->bank);
    uint8_t digests[MAX_DIGESTS][KS_MAX_DIGEST];
    char *end = NULL;
    errno = 0;
    unsigned long pcr = strtoul(index_arg, &end, 10);
    if (errno != 0 || end == index_arg || *end != '\0' || index_arg[0] == '-' || pcr >= PCR_COUNT) {
        ksctl_err("policy pcr: PCR index must be a number in 0..%d, not '%s'", PCR_COUNT - 1,
                  index_arg);
        return 2;
    }
    if (n > MAX_DIGESTS) {
        ksctl_err("policy pcr: at most %d digests per call", MAX_DIGESTS);
        return 2;
    }
    /* Everything is checked before the first write. */
    for (size_t i = 0; i < n; i++) {
        int r = parse_digest(o->args[2 + i], o->bank, digests[i]);
        if (r < 0) {
            return ks_error_exit_code(r);
        }
    }
    if (!o->remove && (pcr == 16 || pcr == 23)) {
        ksctl_err("warning: PCR %lu can be reset by any process at locality 0 (TCG PC Client "
                  "PFP, PCR usage): a value in it proves nothing; never rely on it",
                  pcr);
    }
    struct ksctl_db d;
    int ret = 0;
    int r = ksctl_db_open(&d, &o->db, "policy pcr", 0);
    if (r < 0) {
        ret = ks_error_exit_code(r);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char hex[2 * KS_MAX_DIGEST + 1];
        uint32_t version = 0;
        ks_hex_encode(digests[i], dlen, hex);
        if (o->remove) {
            r = ks_store_policy_remove_pcr(d.store, d.actor, name, o->bank, (unsigned)pcr,
                                           digests[i], dlen);
        } else {
            r = ks_store_policy_add_pcr(d.store, d.actor, name, o->bank, (unsigned)pcr, digests[i],
                                        dlen, &version);
        }
        if (r == KS_ERR_STORE_EXISTS) {
            ret = ksctl_db_fail(&d, r, "the draft of policy %s already allows %s PCR %lu = %s",
                                name, ks_alg_name(o->bank), pcr, hex);
        } else if (r == KS_ERR_NOT_FOUND) {
            ret = ksctl_db_fail(&d, r, "the draft of policy %s has no rule %s PCR %lu = %s", name,
                                ks_alg_name(o->bank), pcr, hex);
        } else if (r == KS_ERR_STORE_STATE && o->remove) {
            ret = ksctl_db_fail(&d, r, "policy %s has no draft to remove from", name);
        } else if (r < 0) {
            ret = ksctl_db_fail(&d, r, NULL);
        }
        if (r < 0) {
            goto out;
        }
        if (o->remove) {
            printf("policy %s draft: %s PCR %lu no longer allows %s\n", name, ks_alg_name(o->bank),
                   pcr, hex);
        } else {
            printf("policy %s draft version %" PRIu32 ": %s PCR %lu allows %s\n", name, version,
                   ks_alg_name(o->bank), pcr, hex);
        }
    }
out:
    ksctl_db_close(&d);
    return ret;
}

static int cmd_activate(struct policy_opts *o)
{
    struct ksctl_db d;
    const char *name = o->args[0];
    uint32_t version = 0;
    int ret = 0;
    int r = ksctl_db_open(&d, &o->db, "policy activate", 0);
    if (r < 0) {
        ret = ks_error_exit_code(r);
        goto out;
    }
    r = ks_store_policy_activate(d.store, d.actor, name,
                                 o->version ? o->version : KS_STORE_VERSION_DRAFT, &version);
    if (r == KS_ERR_STORE_STATE && !o->version) {
        ret = ksctl_db_fail(&d, r, "policy %s has no draft to activate", name);
    } else if (r < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
    } else {
        printf("policy %s version %" PRIu32 " is active\n", name, version);
    }
out:
    ksctl_db_close(&d);
    return ret;
}

static json_t *rule_json(const struct ks_store_rule *rule)
{
    json_t *j = NULL;
    if (ks_rule_to_json(rule, &j) < 0) {
        return json_null();
    }
    if (rule->kind == KS_RULE_UNKNOWN) {
        json_object_set_new(j, "known", json_false());
    }
    return j;
}

static void print_policy(const struct ks_store_policy *p)
{
    printf("policy %s version %" PRIu32 " (%s)\n", p->name, p->version,
           ks_policy_state_name(p->state));
    if (p->n_rules == 0) {
        printf("  no rules: refuses every release\n");
        return;
    }
    for (size_t i = 0; i < p->n_rules; i++) {
        const struct ks_store_rule *rule = &p->rules[i];
        char hex[2 * KS_MAX_DIGEST + 1];
        json_t *j = NULL;
        char *line = NULL;
        if (rule->kind == KS_RULE_PCR) {
            ks_hex_encode(rule->digest, rule->digest_len, hex);
            printf("  pcr %s:%-2u %s\n", ks_alg_name(rule->bank), rule->pcr, hex);
        } else if (rule->kind != KS_RULE_UNKNOWN && ks_rule_to_json(rule, &j) == KS_OK &&
                   (line = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII))) {
            printf("  %s\n", line);
            free(line);
            json_decref(j);
        } else {
            json_decref(j);
            printf("  rule of a kind this ksctl does not know: ");
            ksctl_print_safe(stdout, rule->kind_name);
            printf(" (the keyserver refuses)\n");
        }
    }
}

static int cmd_show(struct policy_opts *o)
{
    struct ksctl_db d;
    struct ks_store_policy *p = NULL;
    const char *name = o->args[0];
    uint32_t sel = o->draft     ? KS_STORE_VERSION_DRAFT
                   : o->version ? o->version
                                : KS_STORE_VERSION_ACTIVE;
    int ret = 0;
    int r = ksctl_db_open(&d, &o->db, "policy show", 0);
    if (r < 0) {
        ret = ks_error_exit_code(r);
        goto out;
    }
    if ((r = ks_store_policy_get(d.store, name, sel, &p)) < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
        goto out;
    }
    if (o->json) {
        json_t *j = json_object();
        json_t *rules = json_array();
        json_object_set_new(j, "name", json_string(p->name));
        json_object_set_new(j, "version", json_integer(p->version));
        json_object_set_new(j, "state", json_string(ks_policy_state_name(p->state)));
        for (size_t i = 0; i < p->n_rules; i++) {
            json_array_append_new(rules, rule_json(&p->rules[i]));
        }
        json_object_set_new(j, "rules", rules);
        if ((r = ksctl_print_json(j)) < 0) {
            ret = ksctl_db_fail(&d, r, NULL);
        }
    } else {
        print_policy(p);
    }
out:
    ks_store_policy_free(p);
    ksctl_db_close(&d);
    return ret;
}

static json_t *version_or_null(uint32_t v)
{
    return v ? json_integer(v) : json_null();
}

static int cmd_list(struct policy_opts *o)
{
    struct ksctl_db d;
    struct ks_store_policy_info *list = NULL;
    size_t n = 0;
    int ret = 0;
    int r = ksctl_db_open(&d, &o->db, "policy list", 0);
    if (r < 0) {
        ret = ks_error_exit_code(r);
        goto out;
    }
    if ((r = ks_store_policy_list(d.store, &list, &n)) < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
        goto out;
    }
    if (o->json) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < n; i++) {
            json_t *j = json_object();
            json_object_set_new(j, "name", json_string(list[i].name));
            json_object_set_new(j, "active_version", version_or_null(list[i].active_version));
            json_object_set_new(j, "draft_version", version_or_null(list[i].draft_version));
            json_object_set_new(j, "versions", json_integer(list[i].n_versions));
            json_array_append_new(a, j);
        }
        if ((r = ksctl_print_json(a)) < 0) {
            ret = ksctl_db_fail(&d, r, NULL);
        }
        goto out;
    }
    if (n > 0) {
        printf("%-24s %6s %6s %8s\n", "NAME", "ACTIVE", "DRAFT", "VERSIONS");
    }
    for (size_t i = 0; i < n; i++) {
        char a[16] = "-", dr[16] = "-";
        if (list[i].active_version) {
            snprintf(a, sizeof(a), "%" PRIu32, list[i].active_version);
        }
        if (list[i].draft_version) {
            snprintf(dr, sizeof(dr), "%" PRIu32, list[i].draft_version);
        }
        printf("%-24s %6s %6s %8" PRIu32 "\n", list[i].name, a, dr, list[i].n_versions);
    }
out:
    free(list);
    ksctl_db_close(&d);
    return ret;
}

int ksctl_policy(int argc, char **argv)
{
    struct policy_opts o;
    int ret;
    int head = ksctl_group_head(argc, argv, usage);
    if (head >= 0) {
        return head;
    }
    const char *sub = argv[1];
    argc--;
    argv++;
    if (strcmp(sub, "create") == 0) {
        ret = parse(argc, argv, "", 1, 1, &o);
        return ret >= 0 ? ret : cmd_create(&o);
    }
    if (strcmp(sub, "pcr") == 0) {
        ret = parse(argc, argv, "br", 3, 2 + MAX_DIGESTS + 1, &o);
        return ret >= 0 ? ret : cmd_pcr(&o);
    }
    if (strcmp(sub, "activate") == 0) {
        ret = parse(argc, argv, "V", 1, 1, &o);
        return ret >= 0 ? ret : cmd_activate(&o);
    }
    if (strcmp(sub, "show") == 0) {
        ret = parse(argc, argv, "Vdj", 1, 1, &o);
        return ret >= 0 ? ret : cmd_show(&o);
    }
    if (strcmp(sub, "list") == 0) {
        ret = parse(argc, argv, "j", 0, 0, &o);
        return ret >= 0 ? ret : cmd_list(&o);
    }
    if (strcmp(sub, "learn") == 0) {
        return ksctl_policy_learn(argc, argv);
    }
    if (ksctl_policy_io_has(sub)) {
        return ksctl_policy_io(argc, argv);
    }
    ksctl_err("policy: unknown subcommand '%s'", sub);
    usage(stderr);
    return 2;
}
