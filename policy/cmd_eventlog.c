/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "encoding.h"
#include "eventlog.h"
#include "eventlog_types.h"
#include "file_util.h"
#include "policy/ksctl.h"

/* `ksctl eventlog`: parse, show and replay TCG PC Client PFP event logs with
 * the same code the keyserver uses (lib/eventlog). */

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: ksctl eventlog replay FILE [--json] [--bank NAME]\n"
            "       ksctl eventlog show FILE [--json] [--bank NAME]\n\n"
            "Parse a TCG PC Client firmware event log (binary_bios_measurements,\n"
            "crypto-agile or legacy SHA-1; FILE \"-\" reads standard input, at most\n"
            "%u MiB). Run 'ksctl eventlog COMMAND --help' for details.\n",
            KS_EVENTLOG_MAX_SIZE / (1024 * 1024));
}

static void usage_replay(FILE *f)
{
    fprintf(f,
            "Usage: ksctl eventlog replay FILE [--json] [--bank NAME]\n\n"
            "Replay the log and print every PCR it touches, one line 'BANK PCR HEX',\n"
            "sorted by bank then PCR index. All PCRs start at zero; EV_NO_ACTION events\n"
            "are not extended; a StartupLocality event sets PCR 0 to 00..00<locality>.\n\n"
            "  --json       print {\"banks\":{\"sha256\":{\"0\":\"hex\",...},...},\"events\":N},\n"
            "               where N counts every record parsed, the Spec ID header\n"
            "               event included; banks without any PCR are left out\n"
            "  --bank NAME  only this bank (sha1, sha256, sha384, sha512); it is an\n"
            "               error when the log has no digests of it\n"
            "  --help       this text\n\n"
            "Exit status: 0 ok, 1 malformed log (the message gives the byte offset of\n"
            "the failing record), 2 usage error or unreadable file, 3 internal error.\n");
}

static void usage_show(FILE *f)
{
    fprintf(f, "Usage: ksctl eventlog show FILE [--json] [--bank NAME]\n\n"
               "List the events: index, PCR, type, digest and a short description of the\n"
               "event data. The digest shown is the sha256 one (or --bank NAME), else the\n"
               "event's first. 'data' says whether the event data hashes to that digest\n"
               "under its type's rule: match, mismatch, or '-' when the type's digest does\n"
               "not cover the data (or the event has no digest in that bank).\n\n"
               "  --json       print a JSON array of events (index, offset, pcr, type,\n"
               "               type_id, digests by bank, data_size, data_check, description)\n"
               "  --bank NAME  the bank whose digest is shown and checked\n"
               "  --help       this text\n\n"
               "Exit status: 0 ok, 1 malformed log, 2 usage error or unreadable file,\n"
               "3 internal error.\n");
}

struct opts {
    bool json;
    bool have_bank;
    uint16_t bank;
    const char *file;
};

/* Parse the options of a subcommand (argv[0] is its name). Returns -1 when
 * the caller should go on, otherwise an exit code. */
static int parse_opts(int argc, char **argv, void (*help)(FILE *), struct opts *o)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"bank", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 0; /* glibc: full re-initialisation */
    while ((c = getopt_long(argc, argv, "hjb:", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
            o->json = true;
            break;
        case 'b':
            if (ks_alg_from_name(optarg, &o->bank) < 0) {
                ksctl_err("eventlog: unknown bank '%s' (sha1, sha256, sha384, sha512)", optarg);
                return 2;
            }
            o->have_bank = true;
            break;
        case 'h':
            help(stdout);
            return 0;
        default:
            help(stderr);
            return 2;
        }
    }
    if (argc - optind != 1) {
        help(stderr);
        return 2;
    }
    o->file = argv[optind];
    return -1;
}

/* Read and parse FILE; prints the error and returns an exit code, or -1. */
static int load(const char *file, struct ks_eventlog **ret_log)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int r = ks_file_read(file, KS_EVENTLOG_MAX_SIZE, &buf, &len);
    if (r == KS_ERR_IO) {
        ksctl_err("%s: %s", file, strerror(errno));
        return 2;
    }
    if (r == KS_ERR_TOO_LARGE) {
        ksctl_err("%s: larger than %u MiB", file, KS_EVENTLOG_MAX_SIZE / (1024 * 1024));
        return 1;
    }
    if (r < 0) {
        ksctl_err("%s: %s", file, ks_strerror(r));
        return ks_error_exit_code(r);
    }
    size_t off = 0;
    r = ks_eventlog_parse(buf, len, ret_log, &off);
    free(buf);
    if (r < 0) {
        ksctl_err("%s: %s at byte offset %zu", file, ks_strerror(r), off);
        return ks_error_exit_code(r);
    }
    return -1;
}

static bool log_has_bank(const struct ks_eventlog *log, uint16_t alg)
{
    const struct ks_eventlog_alg *algs = NULL;
    size_t n = ks_eventlog_algs(log, &algs);
    for (size_t i = 0; i < n; i++) {
        if (algs[i].alg == alg) {
            return true;
        }
    }
    return false;
}

static int print_json(json_t *root)
{
    if (!root || json_dumpf(root, stdout, JSON_COMPACT) != 0 || putchar('\n') == EOF) {
        ksctl_err("eventlog: cannot write JSON");
        return 3;
    }
    return 0;
}

static int replay(int argc, char **argv)
{
    struct opts o = {0};
    int rc = parse_opts(argc, argv, usage_replay, &o);
    if (rc >= 0) {
        return rc;
    }
    struct ks_eventlog *log = NULL;
    json_t *root = NULL;
    rc = load(o.file, &log);
    if (rc >= 0) {
        goto out;
    }
    if (o.have_bank && !log_has_bank(log, o.bank)) {
        ksctl_err("%s: the log has no %s digests", o.file, ks_alg_name(o.bank));
        rc = 1;
        goto out;
    }
    struct ks_pcr_set set;
    size_t off = 0;
    int r = ks_eventlog_replay(log, &set, &off);
    if (r < 0) {
        ksctl_err("%s: %s at byte offset %zu", o.file, ks_strerror(r), off);
        rc = ks_error_exit_code(r);
        goto out;
    }
    json_t *banks = NULL;
    if (o.json) {
        root = json_object();
        banks = json_object();
        if (!root || json_object_set_new(root, "banks", banks) != 0) {
            rc = print_json(NULL);
            goto out;
        }
    }
    for (int b = 0; b < KS_MAX_BANKS; b++) {
        const struct ks_pcr_bank *bank = &set.bank[b];
        if (bank->alg == 0 || bank->present == 0 || (o.have_bank && bank->alg != o.bank)) {
            continue;
        }
        const char *name = ks_alg_name(bank->alg);
        size_t dlen = ks_alg_digest_size(bank->alg);
        json_t *jb = NULL;
        if (o.json) {
            jb = json_object();
            if (!jb || json_object_set_new(banks, name, jb) != 0) {
                rc = print_json(NULL);
                goto out;
            }
        }
        for (unsigned i = 0; i < KS_PCR_COUNT; i++) {
            if (!(bank->present & (1u << i))) {
                continue;
            }
            char hex[2 * KS_MAX_DIGEST + 1];
            ks_hex_encode(bank->value[i], dlen, hex);
            if (o.json) {
                char key[8];
                snprintf(key, sizeof(key), "%u", i);
                if (json_object_set_new(jb, key, json_string(hex)) != 0) {
                    rc = print_json(NULL);
                    goto out;
                }
            } else {
                printf("%s %u %s\n", name, i, hex);
            }
        }
    }
    if (o.json) {
        if (json_object_set_new(root, "events", json_integer((json_int_t)ks_eventlog_count(log))) !=
            0) {
            rc = print_json(NULL);
            goto out;
        }
        rc = print_json(root);
        goto out;
    }
    rc = fflush(stdout) == 0 ? 0 : 3;
out:
    json_decref(root);
    ks_eventlog_free(log);
    return rc;
}

static const char *check_name(enum ks_eventlog_data_check c)
{
    switch (c) {
    case KS_EVENTLOG_DATA_MATCH:
        return "match";
    case KS_EVENTLOG_DATA_MISMATCH:
        return "mismatch";
    default:
        return "-";
    }
}

/* The digest shown for an event: the chosen bank's, else sha256, else the
 * first one. */
static const struct ks_eventlog_digest *shown_digest(const struct ks_eventlog_event *ev,
                                                     const struct opts *o)
{
    const struct ks_eventlog_digest *d =
        ks_eventlog_event_digest(ev, o->have_bank ? o->bank : KS_ALG_SHA256);
    if (!d && !o->have_bank && ev->digest_count > 0) {
        d = &ev->digests[0];
    }
    return d;
}

static void alg_label(uint16_t alg, char *buf, size_t len)
{
    const char *name = ks_alg_name(alg);
    if (name) {
        snprintf(buf, len, "%s", name);
    } else {
        snprintf(buf, len, "0x%04x", alg);
    }
}

static json_t *event_json(const struct ks_eventlog_event *ev, const char *check, const char *desc)
{
    char label[16];
    const char *name = ks_eventlog_type_name(ev->type);
    if (!name) {
        snprintf(label, sizeof(label), "0x%08" PRIx32, ev->type);
        name = label;
    }
    json_t *digests = json_object();
    if (!digests) {
        return NULL;
    }
    for (size_t k = 0; k < ev->digest_count; k++) {
        char hex[2 * KS_MAX_DIGEST + 1];
        char alg[16];
        ks_hex_encode(ev->digests[k].bytes, ev->digests[k].size, hex);
        alg_label(ev->digests[k].alg, alg, sizeof(alg));
        if (json_object_set_new(digests, alg, json_string(hex)) != 0) {
            json_decref(digests);
            return NULL;
        }
    }
    return json_pack("{sI sI sI ss sI so sI ss ss}", "index", (json_int_t)ev->index, "offset",
                     (json_int_t)ev->offset, "pcr", (json_int_t)ev->pcr, "type", name, "type_id",
                     (json_int_t)ev->type, "digests", digests, "data_size",
                     (json_int_t)ev->data_len, "data_check", check, "description", desc);
}

static int show(int argc, char **argv)
{
    struct opts o = {0};
    int rc = parse_opts(argc, argv, usage_show, &o);
    if (rc >= 0) {
        return rc;
    }
    struct ks_eventlog *log = NULL;
    json_t *arr = NULL;
    rc = load(o.file, &log);
    if (rc >= 0) {
        goto out;
    }
    if (o.json) {
        arr = json_array();
        if (!arr) {
            rc = print_json(NULL);
            goto out;
        }
    }
    for (size_t i = 0; i < ks_eventlog_count(log); i++) {
        const struct ks_eventlog_event *ev = ks_eventlog_event(log, i);
        char desc[256];
        if (ks_eventlog_describe(ev->type, ev->data, ev->data_len, desc, sizeof(desc)) < 0) {
            snprintf(desc, sizeof(desc), "?");
        }
        const struct ks_eventlog_digest *d = shown_digest(ev, &o);
        enum ks_eventlog_data_check c = KS_EVENTLOG_DATA_NO_DIGEST;
        if (d && ks_alg_digest_size(d->alg) != 0 &&
            ks_eventlog_event_check_data(ev, d->alg, &c) < 0) {
            c = KS_EVENTLOG_DATA_NO_DIGEST;
        }
        if (o.json) {
            json_t *j = event_json(ev, check_name(c), desc);
            if (!j || json_array_append_new(arr, j) != 0) {
                rc = print_json(NULL);
                goto out;
            }
            continue;
        }
        char label[16];
        const char *name = ks_eventlog_type_name(ev->type);
        if (!name) {
            snprintf(label, sizeof(label), "0x%08" PRIx32, ev->type);
            name = label;
        }
        char hex[2 * KS_MAX_DIGEST + 1] = "-";
        char alg[16] = "-";
        if (d) {
            ks_hex_encode(d->bytes, d->size, hex);
            alg_label(d->alg, alg, sizeof(alg));
        }
        printf("%5zu %3" PRIu32 " %-32s %s:%s %s %s\n", ev->index, ev->pcr, name, alg, hex,
               check_name(c), desc);
    }
    if (o.json) {
        rc = print_json(arr);
        goto out;
    }
    rc = fflush(stdout) == 0 ? 0 : 3;
out:
    json_decref(arr);
    ks_eventlog_free(log);
    return rc;
}

int ksctl_eventlog(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "replay") == 0) {
        return replay(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "show") == 0) {
        return show(argc - 1, argv + 1);
    }
    ksctl_err("eventlog: unknown command '%s' (replay, show)", cmd);
    return 2;
}
