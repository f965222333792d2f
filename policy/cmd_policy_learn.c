/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/*
 * `ksctl policy learn NAME --eventlog FILE [--ima-log FILE] [--app-log FILE]
 * [--pcrs LIST]`: a draft made from a golden machine's logs, the way
 * Keylime's create_mb_refstate makes a measured-boot reference state. The
 * admin reviews it (`policy diff`), edits it (export / import) and activates
 * it. The logs are trusted here: they come from the golden machine.
 */

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "eventlog.h"
#include "file_util.h"
#include "ima.h"
#include "keyserverd/policy_learn.h"
#include "keyserverd/policy_rules.h"
#include "policy/cmd_policy.h"
#include "policy/ksctl.h"
#include "policy/ksctl_db.h"
#include "tpm_alg.h"

#define IMA_FILE_MAX (64u * 1024 * 1024)
#define APP_LOG_MAX (1024u * 1024)

struct learn {
    struct ksctl_db_opts db;
    const char *name, *eventlog, *ima_log, *app_log;
    uint32_t pcrs;
    uint16_t bank; /* 0: sha256 when the log has it, else sha1 */
    unsigned app_pcr;
    struct ks_rule_list list;
    struct ks_learn_stats st;
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: ksctl policy learn NAME --eventlog FILE [--ima-log FILE] [--app-log FILE]\n"
               "                          [--pcrs LIST] [--bank BANK] [--app-pcr N] [--db PATH]\n\n"
               "Write the draft of policy NAME (created when it does not exist) from a golden\n"
               "machine's logs: every measured event digest of the PCRs in LIST (default\n"
               "0-9,14) in the order the log has them, the Secure Boot state (a secureboot rule\n"
               "when the verified EV_EFI_VARIABLE_DRIVER_CONFIG SecureBoot event says enabled),\n"
               "the EV_SEPARATORs of PCRs 0-7, and with the other logs the IMA allow-list\n"
               "(every path and file digest) and the application-log digests. PCRs above 15\n"
               "are never learned from a firmware log. Review with 'ksctl policy diff NAME',\n"
               "then 'ksctl policy activate NAME'.\n\n"
               "  --eventlog FILE       the TCG firmware log (binary_bios_measurements)\n"
               "  --ima-log FILE        the IMA list (binary or ASCII runtime measurements)\n"
               "  --app-log FILE        the measured launcher's application log\n"
               "  --pcrs LIST           PCRs to pin, e.g. 0-7,14 (0..15)\n"
               "  --bank BANK           bank of the event digests (default: sha256, else sha1)\n"
               "  --app-pcr N           the application PCR (default 15)\n" KSCTL_DB_HELP
               "  --help                this text\n");
}

static int parse_pcrs(const char *s, uint32_t *ret)
{
    uint32_t m = 0;
    while (*s) {
        char *end;
        errno = 0;
        unsigned long a = strtoul(s, &end, 10), b = a;
        if (errno || end == s || *s == '-' || *s == '+') {
            return KS_ERR_INVALID_ARG;
        }
        if (*end == '-') {
            const char *t = end + 1;
            b = strtoul(t, &end, 10);
            if (errno || end == t || *t == '-' || *t == '+') {
                return KS_ERR_INVALID_ARG;
            }
        }
        if (a > b || b > 23) {
            return KS_ERR_INVALID_ARG;
        }
        for (unsigned long i = a; i <= b; i++) {
            m |= 1u << i;
        }
        if (*end == ',') {
            end++;
            if (!*end) {
                return KS_ERR_INVALID_ARG;
            }
        } else if (*end) {
            return KS_ERR_INVALID_ARG;
        }
        s = end;
    }
    *ret = m;
    return m ? KS_OK : KS_ERR_INVALID_ARG;
}

static int learn_ima(struct learn *l, const char *path)
{
    uint8_t *buf = NULL;
    size_t len = 0, pos = 0;
    struct ks_ima_log *log = NULL;
    int r = ks_file_read(path, IMA_FILE_MAX, &buf, &len);
    if (r < 0) {
        ksctl_err("policy learn: %s: %s", path, ks_strerror(r));
        return ksctl_input_error(r, errno);
    }
    if ((r = ks_ima_log_parse(buf, len, NULL, &log, &pos)) < 0) {
        ksctl_err("policy learn: %s: malformed IMA list at %zu: %s", path, pos, ks_strerror(r));
    } else if ((r = ks_policy_learn_ima(log, &l->list, &l->st)) < 0) {
        ksctl_err("policy learn: %s: %s", path, ks_strerror(r));
    }
    ks_ima_log_free(log);
    free(buf);
    return r;
}

static int learn_app(struct learn *l, const char *path)
{
    uint8_t *buf = NULL;
    size_t len = 0, off = 0;
    struct ks_eventlog *log = NULL;
    int r = ks_file_read(path, APP_LOG_MAX, &buf, &len);
    if (r < 0) {
        ksctl_err("policy learn: %s: %s", path, ks_strerror(r));
        return ksctl_input_error(r, errno);
    }
    if ((r = ks_eventlog_parse(buf, len, &log, &off)) < 0) {
        ksctl_err("policy learn: %s: malformed at byte %zu: %s", path, off, ks_strerror(r));
    } else if ((r = ks_policy_learn_app(log, l->bank, l->app_pcr, &l->list, &l->st)) < 0) {
        ksctl_err("policy learn: %s: event #%zu is not a verified %s tag event (tag || SHA-256)",
                  path, l->st.bad_event, ks_alg_name(l->bank));
    }
    ks_eventlog_free(log);
    free(buf);
    return r;
}

static int learn_eventlog(struct learn *l, const struct ks_eventlog *log,
                          const struct ks_pcr_set *replay)
{
    if (!l->bank) {
        l->bank = ks_pcr_bank_enabled(replay, KS_ALG_SHA256) ? KS_ALG_SHA256 : KS_ALG_SHA1;
    }
    if (!ks_pcr_bank_enabled(replay, l->bank)) {
        ksctl_err("policy learn: the event log has no %s digests", ks_alg_name(l->bank));
        return KS_ERR_INVALID_ARG;
    }
    int r = ks_policy_learn_eventlog(log, replay, l->bank, l->pcrs, &l->list, &l->st);
    if (r == KS_ERR_INVALID_ARG) {
        ksctl_err("policy learn: event #%zu has no %s digest", l->st.bad_event,
                  ks_alg_name(l->bank));
    } else if (r < 0) {
        ksctl_err("policy learn: %s", ks_strerror(r));
    }
    if (r == KS_OK && l->st.secureboot_off >= 0) {
        ksctl_err("warning: Secure Boot is off in this log (event #%ld): no secureboot rule "
                  "learned",
                  l->st.secureboot_off);
    }
    return r;
}

static int run(struct learn *l)
{
    uint8_t *buf = NULL;
    size_t len = 0, off = 0;
    struct ks_eventlog *log = NULL;
    struct ks_pcr_set replay;
    struct ksctl_db d = {0};
    bool opened = false;
    uint32_t version = 0;
    int ret = 0;
    int r = ks_file_read(l->eventlog, KS_EVENTLOG_MAX_SIZE, &buf, &len);
    if (r < 0) {
        ksctl_err("policy learn: %s: %s", l->eventlog, ks_strerror(r));
        ret = ks_error_exit_code(ksctl_input_error(r, errno));
        goto out;
    }
    if ((r = ks_eventlog_parse(buf, len, &log, &off)) < 0 ||
        (r = ks_eventlog_replay(log, &replay, &off)) < 0) {
        ksctl_err("policy learn: %s: malformed at byte %zu: %s", l->eventlog, off, ks_strerror(r));
        ret = ks_error_exit_code(r);
        goto out;
    }
    if ((r = learn_eventlog(l, log, &replay)) < 0 ||
        (l->ima_log && (r = learn_ima(l, l->ima_log)) < 0) ||
        (l->app_log && (r = learn_app(l, l->app_log)) < 0)) {
        ret = ks_error_exit_code(r);
        goto out;
    }
    opened = true; /* ksctl_db_close is safe after a failed open */
    if ((r = ksctl_db_open(&d, &l->db, "policy learn", 0)) < 0) {
        ret = ks_error_exit_code(r);
        goto out;
    }
    r = ks_store_policy_set_draft(d.store, d.actor, l->name, "policy.learn", true, l->list.rules,
                                  l->list.n, &version);
    if (r < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
        goto out;
    }
    printf("policy %s draft version %u: %zu rules learned (%zu event digests, %zu separators, "
           "Secure Boot %s, %zu IMA files, %zu application digests)\n"
           "review it with 'ksctl policy diff %s', then 'ksctl policy activate %s'\n",
           l->name, version, l->list.n, l->st.events, l->st.separators,
           l->st.secureboot ? "required" : "not pinned", l->st.ima_files, l->st.app_digests,
           l->name, l->name);
out:
    if (opened) {
        ksctl_db_close(&d);
    }
    ks_eventlog_free(log);
    free(buf);
    return ret;
}

static int learn_opt(void *ctx, const char *cmd, int c, const char *arg)
{
    struct learn *l = ctx;
    char *end = NULL;
    (void)cmd;
    switch (c) {
    case 'e':
        l->eventlog = arg;
        break;
    case 'i':
        l->ima_log = arg;
        break;
    case 'a':
        l->app_log = arg;
        break;
    case 'p':
        if (parse_pcrs(arg, &l->pcrs) < 0) {
            ksctl_err("policy learn: --pcrs: not a PCR list (e.g. 0-7,14): '%s'", arg);
            return 2;
        }
        if (l->pcrs >> 16) {
            ksctl_err("policy learn: --pcrs: PCRs above 15 are never learned from a "
                      "firmware log (16 and 23 are resettable, 17-22 belong to DRTM)");
            return 2;
        }
        break;
    case 'b':
        if (ks_alg_from_name(arg, &l->bank) < 0) {
            ksctl_err("policy learn: unknown bank '%s' (sha1, sha256, sha384, sha512)", arg);
            return 2;
        }
        break;
    case 'A':
        errno = 0;
        l->app_pcr = (unsigned)strtoul(arg, &end, 10);
        if (errno || end == arg || *end || arg[0] == '-' || l->app_pcr > 23 || l->app_pcr == 10) {
            ksctl_err("policy learn: --app-pcr: not an application PCR: '%s'", arg);
            return 2;
        }
        break;
    }
    return 0;
}

static void learn_usage(FILE *f, void *ctx)
{
    (void)ctx;
    usage(f);
}

int ksctl_policy_learn(int argc, char **argv)
{
    static const struct option longopts[] = {
        KSCTL_DB_LONGOPTS,
        {"eventlog", required_argument, NULL, 'e'},
        {"ima-log", required_argument, NULL, 'i'},
        {"app-log", required_argument, NULL, 'a'},
        {"pcrs", required_argument, NULL, 'p'},
        {"bank", required_argument, NULL, 'b'},
        {"app-pcr", required_argument, NULL, 'A'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct learn l;
    int nargs = 0;
    char **args = NULL;
    memset(&l, 0, sizeof(l));
    ksctl_db_opts_init(&l.db);
    l.pcrs = KS_LEARN_DEFAULT_PCRS;
    ks_learn_stats_init(&l.st);
    l.app_pcr = 15;
    /* NAME and --eventlog are checked together below. */
    const struct ksctl_getopt g = {
        .cmd = "policy learn",
        .longopts = longopts,
        .db = &l.db,
        .min_args = 0,
        .max_args = INT_MAX,
        .opt = learn_opt,
        .usage = learn_usage,
        .ctx = &l,
    };
    int ret = ksctl_getopt(argc, argv, &g, &nargs, &args);
    if (ret >= 0) {
        return ret;
    }
    if (nargs != 1 || !l.eventlog) {
        ksctl_err("policy learn: NAME and --eventlog FILE are required");
        usage(stderr);
        return 2;
    }
    l.name = args[0];
    if (!ks_store_name_valid(l.name)) {
        ksctl_err("policy learn: policy name must match [A-Za-z0-9._-]{1,64}: '%s'", l.name);
        return 2;
    }
    if (l.app_pcr == 16 || l.app_pcr == 23) {
        ksctl_err("warning: PCR %u can be reset by any process at locality 0: application-log "
                  "rules on it prove nothing",
                  l.app_pcr);
    }
    ret = run(&l);
    ks_rule_list_clear(&l.list);
    return ret;
}
