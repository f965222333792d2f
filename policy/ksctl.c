/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "policy/ksctl.h"

struct command_group {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command_group groups[] = {
    {"eventlog", ksctl_eventlog, "parse, show and replay TCG PC Client event logs"},
    {"ima", ksctl_ima, "parse and replay Linux IMA measurement lists"},
    {"quote", ksctl_quote, "verify a TPM 2.0 quote"},
    {"init", ksctl_init, "create and initialise the keyserver database and master key"},
    {"key", ksctl_key, "create, import, rotate, retire, show and delete released keys"},
    {"policy", ksctl_policy, "create, edit, activate and show release policies"},
    {"ak", ksctl_ak, "add, list, show, revoke and remove attestation keys"},
    {"audit", ksctl_audit, "show, verify, export and prune the audit trail"},
    {"ekca", ksctl_ekca, "trust EK CAs (and their CRLs) for AK enrollment"},
    {"ek", ksctl_ek, "list, approve, revoke and remove endorsement keys"},
    {"status", ksctl_status, "summarise the database: counts, releases, attestations"},
    {"backup", ksctl_backup, "copy the live database to a file (online backup)"},
    {"restore", ksctl_restore, "check a backup and make it the database"},
    {"master", ksctl_master, "rotate and check the master key"},
};

void ksctl_err(const char *fmt, ...)
{
    va_list ap;
    fputs("ksctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: ksctl COMMAND [ARGS...]\n\n"
               "Administer and debug an attestation-gated keyserver.\n\nCommands:\n");
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        fprintf(f, "  %-10s %s\n", groups[i].name, groups[i].summary);
    }
    fprintf(f, "\nRun 'ksctl COMMAND --help' for a command's options. See ksctl(8).\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("ksctl %s\n", PACKAGE_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        if (strcmp(argv[1], groups[i].name) == 0) {
            return groups[i].run(argc - 1, argv + 1);
        }
    }
    ksctl_err("unknown command '%s' (see 'ksctl --help')", argv[1]);
    return 2;
}
