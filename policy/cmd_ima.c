/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "encoding.h"
#include "file_util.h"
#include "ima.h"
#include "policy/ksctl.h"

/* Largest measurement list read (a long-running host with a broad policy
 * stays far below: KS_IMA_MAX_ENTRIES caps it anyway). */
#define IMA_FILE_MAX (256u * 1024 * 1024)

static const uint16_t all_banks[] = {KS_ALG_SHA1, KS_ALG_SHA256, KS_ALG_SHA384, KS_ALG_SHA512};

static void usage_group(FILE *f)
{
    fprintf(f, "Usage: ksctl ima COMMAND [ARGS...]\n\n"
               "Parse and replay Linux IMA measurement lists.\n\nCommands:\n"
               "  replay FILE    print the PCR values the list replays to\n"
               "  convert FILE   write the list in the binary format\n\n"
               "Run 'ksctl ima COMMAND --help' for a command's options.\n");
}

static void usage_replay(FILE *f)
{
    fprintf(f,
            "Usage: ksctl ima replay FILE [--json] [--bank NAME]... [--template-hash ALG]\n\n"
            "Replay a Linux IMA measurement list (binary_runtime_measurements or\n"
            "ascii_runtime_measurements, told apart by their content; '-' reads standard\n"
            "input) and print the PCR values it produces.\n\n"
            "Options:\n"
            "  --bank NAME          replay this bank only (sha1, sha256, sha384, sha512);\n"
            "                       repeatable; default: all four\n"
            "  --template-hash ALG  hash of the list's template hashes: sha1 (default, the\n"
            "                       kernel's default files), sha256, sha384, sha512 or\n"
            "                       sm3_256 (the kernel's *_runtime_measurements_ALG files)\n"
            "  --json               print {\"banks\":{\"sha1\":{\"10\":HEX},...},\"entries\":N,\n"
            "                       \"bad_template_hashes\":[{\"index\":I,\"path\":P},...]}\n"
            "  -h, --help           show this help\n\n"
            "Text output: one 'BANK PCR HEX' line per PCR the list extends (PCR 10\n"
            "always); each entry whose template hash does not match its template data is\n"
            "reported on standard error (index from 0).\n\n"
            "Exit status: 0 the list parses and every template hash matches its data;\n"
            "1 the list is malformed, or some template hash does not match (the PCR values\n"
            "are still printed: they are what a TPM holds, but those entries' contents are\n"
            "not what was measured); 2 usage error or unreadable file; 3 internal error.\n");
}

static void usage_convert(FILE *f)
{
    fprintf(f, "Usage: ksctl ima convert FILE [-o OUT] [--template-hash ALG]\n\n"
               "Write an IMA measurement list (ASCII or binary) in the kernel's binary format\n"
               "(binary_runtime_measurements) to OUT (default: standard output).\n\n"
               "Options:\n"
               "  -o, --output OUT     output file\n"
               "  --template-hash ALG  as for 'ksctl ima replay'\n"
               "  -h, --help           show this help\n\n"
               "Exit status: 0 written; 1 the list is malformed; 2 usage error or I/O error.\n");
}

/* Paths are arbitrary bytes: print them with non-printable bytes and '\'
 * escaped as \xHH, so that output is plain ASCII (valid in JSON too). */
static char *printable(const char *s, size_t n)
{
    char *out = malloc(4 * n + 1);
    if (!out) {
        return NULL;
    }
    char *p = out;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e || c == '\\') {
            p += sprintf(p, "\\x%02x", c);
        } else {
            *p++ = (char)c;
        }
    }
    *p = 0;
    return out;
}

static int load(const char *path, const struct ks_ima_parse_opts *opts, struct ks_ima_log **ret)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    size_t pos = 0;
    int r = ks_file_read(path, IMA_FILE_MAX, &buf, &len);
    if (r == KS_ERR_TOO_LARGE) {
        ksctl_err("%s: larger than %u bytes", path, IMA_FILE_MAX);
        return 1;
    }
    if (r != KS_OK) {
        ksctl_err("%s: cannot read: %s", path, ks_strerror(r));
        return 2;
    }
    r = ks_ima_log_parse(buf, len, opts, ret, &pos);
    if (r != KS_OK) {
        enum ks_ima_format fmt = opts->format;
        if (fmt == KS_IMA_FORMAT_AUTO) {
            fmt = ks_ima_detect_format(buf, len);
        }
        if (pos) {
            ksctl_err("%s: %s %zu: %s", path, fmt == KS_IMA_FORMAT_ASCII ? "line" : "offset", pos,
                      ks_strerror(r));
        } else {
            ksctl_err("%s: %s", path, ks_strerror(r));
        }
    }
    free(buf);
    return r == KS_OK ? 0 : ks_error_exit_code(r);
}

static int parse_template_hash(const char *name, struct ks_ima_parse_opts *opts)
{
    enum ks_ima_hash alg;
    if (ks_ima_hash_from_name(name, &alg) != KS_OK || alg == KS_IMA_HASH_MD5) {
        ksctl_err("unknown template hash algorithm '%s'", name);
        return 2;
    }
    opts->template_alg = alg;
    return 0;
}

static int report_bad(const struct ks_ima_log *log, json_t *list)
{
    for (size_t i = 0; i < ks_ima_log_count(log); i++) {
        const struct ks_ima_entry *e = ks_ima_log_entry(log, i);
        if (!e->template_hash_mismatch) {
            continue;
        }
        char *path = printable(e->path, e->path_len);
        if (!path) {
            return 3;
        }
        if (list) {
            json_t *o = json_pack("{s:I,s:s}", "index", (json_int_t)i, "path", path);
            if (!o || json_array_append_new(list, o) != 0) {
                free(path);
                return 3;
            }
        }
        ksctl_err("entry %zu (%s): template hash does not match its template data", i, path);
        free(path);
    }
    return 0;
}

static int print_replay(const struct ks_ima_log *log, const uint16_t *banks, size_t nbanks,
                        bool json)
{
    int ret = 3;
    json_t *root = json_object();
    json_t *jbanks = json_object();
    json_t *bad = json_array();
    if (!root || !jbanks || !bad) {
        goto out;
    }
    for (size_t b = 0; b < nbanks; b++) {
        struct ks_pcr_set set;
        ks_pcr_set_init(&set);
        int r = ks_ima_log_replay(log, ks_ima_log_count(log), banks[b], &set);
        if (r != KS_OK) {
            ksctl_err("replay (%s): %s", ks_alg_name(banks[b]), ks_strerror(r));
            ret = ks_error_exit_code(r);
            goto out;
        }
        json_t *jpcrs = json_object();
        if (!jpcrs || json_object_set_new(jbanks, ks_alg_name(banks[b]), jpcrs) != 0) {
            goto out;
        }
        for (unsigned pcr = 0; pcr < KS_PCR_COUNT; pcr++) {
            const uint8_t *v;
            if (ks_pcr_set_get(&set, banks[b], pcr, &v) != KS_OK) {
                continue;
            }
            char hex[2 * KS_MAX_DIGEST + 1];
            char key[8];
            ks_hex_encode(v, ks_alg_digest_size(banks[b]), hex);
            snprintf(key, sizeof(key), "%u", pcr);
            if (json_object_set_new(jpcrs, key, json_string(hex)) != 0) {
                goto out;
            }
            if (!json) {
                printf("%s %u %s\n", ks_alg_name(banks[b]), pcr, hex);
            }
        }
    }
    if (report_bad(log, bad) != 0) {
        goto out;
    }
    if (json) {
        if (json_object_set(root, "banks", jbanks) != 0 ||
            json_object_set_new(root, "entries", json_integer((json_int_t)ks_ima_log_count(log))) !=
                0 ||
            json_object_set(root, "bad_template_hashes", bad) != 0) {
            goto out;
        }
        if (json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
            goto out;
        }
        putchar('\n');
    }
    ret = ks_ima_log_bad_template_hashes(log) ? 1 : 0;
out:
    json_decref(bad);
    json_decref(jbanks);
    json_decref(root);
    return ret;
}

static int cmd_replay(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"bank", required_argument, NULL, 'b'},
        {"template-hash", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ks_ima_parse_opts opts = {0};
    uint16_t banks[KS_MAX_BANKS];
    size_t nbanks = 0;
    bool json = false;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = true;
            break;
        case 'b': {
            uint16_t alg;
            if (ks_alg_from_name(optarg, &alg) != KS_OK) {
                ksctl_err("unknown bank '%s' (sha1, sha256, sha384, sha512)", optarg);
                return 2;
            }
            bool dup = false;
            for (size_t i = 0; i < nbanks; i++) {
                dup |= banks[i] == alg;
            }
            if (!dup) {
                banks[nbanks++] = alg;
            }
            break;
        }
        case 't':
            if (parse_template_hash(optarg, &opts) != 0) {
                return 2;
            }
            break;
        case 'h':
            usage_replay(stdout);
            return 0;
        default:
            usage_replay(stderr);
            return 2;
        }
    }
    if (argc - optind != 1) {
        usage_replay(stderr);
        return 2;
    }
    if (nbanks == 0) {
        memcpy(banks, all_banks, sizeof(all_banks));
        nbanks = KS_MAX_BANKS;
    }
    struct ks_ima_log *log = NULL;
    int ret = load(argv[optind], &opts, &log);
    if (ret == 0) {
        ret = print_replay(log, banks, nbanks, json);
    }
    ks_ima_log_free(log);
    return ret;
}

static int cmd_convert(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"template-hash", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ks_ima_parse_opts opts = {0};
    const char *out_path = NULL;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out_path = optarg;
            break;
        case 't':
            if (parse_template_hash(optarg, &opts) != 0) {
                return 2;
            }
            break;
        case 'h':
            usage_convert(stdout);
            return 0;
        default:
            usage_convert(stderr);
            return 2;
        }
    }
    if (argc - optind != 1) {
        usage_convert(stderr);
        return 2;
    }
    struct ks_ima_log *log = NULL;
    uint8_t *bin = NULL;
    size_t len = 0;
    FILE *f = NULL;
    int ret = load(argv[optind], &opts, &log);
    if (ret != 0) {
        goto out;
    }
    int r = ks_ima_log_to_binary(log, &bin, &len);
    if (r != KS_OK) {
        ksctl_err("convert: %s", ks_strerror(r));
        ret = ks_error_exit_code(r);
        goto out;
    }
    f = out_path && strcmp(out_path, "-") != 0 ? fopen(out_path, "wb") : stdout;
    if (!f) {
        ksctl_err("%s: cannot open for writing", out_path);
        ret = 2;
        goto out;
    }
    if (fwrite(bin, 1, len, f) != len || fflush(f) != 0) {
        ksctl_err("%s: write failed", out_path ? out_path : "standard output");
        ret = 2;
    }
out:
    if (f && f != stdout && fclose(f) != 0 && ret == 0) {
        ksctl_err("%s: write failed", out_path);
        ret = 2;
    }
    free(bin);
    ks_ima_log_free(log);
    return ret;
}

int ksctl_ima(int argc, char **argv)
{
    if (argc < 2) {
        usage_group(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage_group(stdout);
        return 0;
    }
    if (strcmp(argv[1], "replay") == 0) {
        return cmd_replay(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "convert") == 0) {
        return cmd_convert(argc - 1, argv + 1);
    }
    ksctl_err("ima: unknown command '%s' (see 'ksctl ima --help')", argv[1]);
    return 2;
}
