/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ekcert.h"
#include "encoding.h"
#include "file_util.h"
#include "makecred.h"
#include "policy/ksctl.h"
#include "policy/ksctl_db.h"
#include "roca.h"
#include "tpm_public.h"

/* `ksctl ek list|show|add|approve|unapprove|revoke|remove|makecredential`:
 * endorsement keys, approved per machine (docs/ARCHITECTURE.md
 * "Enrollment"). An EK is known to the keyserver once one of its AKs
 * enrolled, or when an admin adds it (an EK without a certificate can only
 * be approved that way). */

#define REASON_MAX 200

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: ksctl ek list [--json]\n"
            "       ksctl ek show NAME [--json]\n"
            "       ksctl ek add --ek-pub FILE [--cert FILE] [--approve]\n"
            "       ksctl ek approve NAME\n"
            "       ksctl ek unapprove NAME\n"
            "       ksctl ek revoke NAME [--reason TEXT]\n"
            "       ksctl ek remove NAME\n"
            "       ksctl ek makecredential --ek-pub FILE --name HEX --secret FILE --out FILE\n\n"
            "Manage endorsement keys. Run 'ksctl ek SUBCOMMAND --help'.\n");
}

static const char *const help_text[][2] = {
    {"list", "List the EKs: Name, approval, revocation, certificate, AKs.\n\n"
             "  --json                print a JSON array\n"},
    {"show", "Show one EK, with its certificate's subject, issuer and validity.\n\n"
             "  --json                print JSON\n"},
    {"add", "Record an EK an admin vouches for (e.g. one without an EK certificate, which\n"
            "can only enroll once approved). Prints its Name.\n\n"
            "  --ek-pub FILE         the EK's TPM2B_PUBLIC (tpm2_createek -u)\n"
            "  --cert FILE           its EK certificate (DER), kept for reference\n"
            "  --approve             approve it at once\n"},
    {"approve", "Approve an EK: the AKs that enrolled with it work, now and later.\n"},
    {"unapprove", "Withdraw the approval of an EK: its AKs stop working at once.\n"},
    {"revoke", "Revoke an EK for good: its AKs stop at once, it can never be approved or\n"
               "enroll again (and cannot be removed).\n\n"
               "  --reason TEXT         recorded in the audit trail\n"},
    {"remove", "Forget an EK: its AKs are revoked; it may enroll again later and then needs\n"
               "approval again unless its CA auto-approves.\n"},
    {"makecredential",
     "TPM2_MakeCredential in software, as POST /v1/enroll does it (debugging and\n"
     "tests): writes a tpm2-tools credential file for tpm2_activatecredential -i.\n\n"
     "  --ek-pub FILE         the EK's TPM2B_PUBLIC\n"
     "  --name HEX            the Name of the object (AK) the credential is for\n"
     "  --secret FILE         the credential (1 .. digest size of the EK's nameAlg)\n"
     "  --out FILE            the credential file\n"},
};

static void usage_sub(FILE *f, const char *sub)
{
    for (size_t i = 0; i < sizeof(help_text) / sizeof(help_text[0]); i++) {
        if (strcmp(sub, help_text[i][0]) == 0) {
            fprintf(f, "Usage: ksctl ek %s%s [--db PATH]\n\n%s", sub,
                    strcmp(sub, "list") == 0  ? " [--json]"
                    : strcmp(sub, "add") == 0 ? " --ek-pub FILE [--cert FILE] [--approve]"
                    : strcmp(sub, "makecredential") == 0
                        ? " --ek-pub FILE --name HEX --secret FILE --out FILE"
                        : " NAME",
                    help_text[i][1]);
        }
    }
    fprintf(f, KSCTL_DB_HELP "  --help                this text\n");
}

struct ek_opts {
    struct ksctl_db_opts db;
    const char *sub;
    const char *ek_pub, *cert, *reason, *name, *secret, *out;
    bool json, approve;
    int nargs;
    char **args;
};

static int ek_opt(void *ctx, const char *cmd, int c, const char *arg)
{
    struct ek_opts *o = ctx;
    (void)cmd;
    switch (c) {
    case 'j':
        o->json = true;
        break;
    case 'e':
        o->ek_pub = arg;
        break;
    case 'c':
        o->cert = arg;
        break;
    case 'a':
        o->approve = true;
        break;
    case 'r':
        o->reason = arg;
        break;
    case 'n':
        o->name = arg;
        break;
    case 's':
        o->secret = arg;
        break;
    case 'o':
        o->out = arg;
        break;
    }
    return 0;
}

static void ek_usage(FILE *f, void *ctx)
{
    usage_sub(f, ((const struct ek_opts *)ctx)->sub);
}

static int parse(int argc, char **argv, const char *sub, const char *allowed, int nargs,
                 struct ek_opts *o)
{
    static const struct option longopts[] = {
        KSCTL_DB_LONGOPTS,
        {"json", no_argument, NULL, 'j'},
        {"ek-pub", required_argument, NULL, 'e'},
        {"cert", required_argument, NULL, 'c'},
        {"approve", no_argument, NULL, 'a'},
        {"reason", required_argument, NULL, 'r'},
        {"name", required_argument, NULL, 'n'},
        {"secret", required_argument, NULL, 's'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char cmd[32];
    memset(o, 0, sizeof(*o));
    ksctl_db_opts_init(&o->db);
    o->sub = sub;
    snprintf(cmd, sizeof(cmd), "ek %s", sub);
    const struct ksctl_getopt g = {
        .cmd = cmd,
        .longopts = longopts,
        .db = &o->db,
        .allowed = allowed,
        .min_args = nargs,
        .max_args = nargs,
        .args_error = "wrong number of arguments",
        .opt = ek_opt,
        .usage = ek_usage,
        .ctx = o,
    };
    return ksctl_getopt(argc, argv, &g, &o->nargs, &o->args);
}

/* An EK Name argument, lowercased (Names are lowercase hex). */
static bool name_arg(const char *cmd, const char *arg, char *out, size_t size)
{
    size_t len = strlen(arg);
    if (len >= size) {
        ksctl_err("%s: not an EK Name (a TPM Name in hex): '%s'", cmd, arg);
        return false;
    }
    for (size_t i = 0; i <= len; i++) {
        out[i] = (char)tolower((unsigned char)arg[i]);
    }
    if (!ks_store_tpm_name_valid(out)) {
        ksctl_err("%s: not an EK Name (a TPM Name in hex): '%s'", cmd, arg);
        return false;
    }
    return true;
}

static int read_input(const char *cmd, const char *what, const char *path, size_t max,
                      uint8_t **buf, size_t *len)
{
    int r = ks_file_read(path, max, buf, len);
    if (r < 0) {
        int e = errno;
        ksctl_err("%s: cannot read %s %s: %s%s%s", cmd, what, path, ks_strerror(r),
                  r == KS_ERR_IO ? ": " : "", r == KS_ERR_IO ? strerror(e) : "");
        return r == KS_ERR_TOO_LARGE ? KS_ERR_INVALID_ARG : ksctl_input_error(r, e);
    }
    return KS_OK;
}

static json_t *ek_json(const struct ks_store_ek_info *e)
{
    char added[32], approved[32], revoked[32];
    ksctl_format_time(e->added_at, added);
    ksctl_format_time(e->approved_at, approved);
    ksctl_format_time(e->revoked_at, revoked);
    json_t *j = json_pack("{s:s, s:b, s:b, s:b, s:s, s:s, s:I, s:I}", "name", e->name, "approved",
                          e->approved, "revoked", e->revoked, "certificate", e->has_cert, "added",
                          added, "added_by", e->added_by, "aks", (json_int_t)e->n_aks, "active_aks",
                          (json_int_t)e->n_active_aks);
    if (j) {
        json_object_set_new(j, "approved_via",
                            e->approved_via[0] ? json_string(e->approved_via) : json_null());
        json_object_set_new(j, "approval_decided_by",
                            e->approved_at ? json_string(e->approved_by) : json_null());
        json_object_set_new(j, "approval_decided",
                            e->approved_at ? json_string(approved) : json_null());
        json_object_set_new(j, "ca", e->ca_id ? json_integer(e->ca_id) : json_null());
        json_object_set_new(j, "revoked_at", e->revoked ? json_string(revoked) : json_null());
        json_object_set_new(j, "revoke_reason",
                            e->revoked ? json_string(e->revoke_reason) : json_null());
    }
    return j;
}

static void ek_print(const struct ks_store_ek_info *e)
{
    char added[32];
    ksctl_format_time(e->added_at, added);
    printf("%s %s\n", e->name,
           e->revoked ? "revoked"
           : e->approved
               ? (strcmp(e->approved_via, "ca") == 0 ? "approved (by its CA)" : "approved")
               : "not approved");
    printf("  added %s by ", added);
    ksctl_print_safe(stdout, e->added_by);
    printf(", %s certificate", e->has_cert ? "with" : "no");
    if (e->ca_id) {
        printf(" (EK CA %lld)", (long long)e->ca_id);
    }
    printf(", %u AK(s), %u active\n", (unsigned)e->n_aks, (unsigned)e->n_active_aks);
    if (e->revoked) {
        printf("  revoked by ");
        ksctl_print_safe(stdout, e->revoked_by);
        printf(": ");
        ksctl_print_safe(stdout, e->revoke_reason);
        printf("\n");
    }
}

static int cmd_list(struct ek_opts *o)
{
    struct ksctl_db d;
    struct ks_store_ek_info *list = NULL;
    size_t n = 0;
    int ret = 0;
    int r = ksctl_db_open(&d, &o->db, "ek list", 0);
    if (r < 0) {
        ret = ks_error_exit_code(r);
    } else if ((r = ks_store_ek_list(d.store, &list, &n)) < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
    } else if (o->json) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < n; i++) {
            json_array_append_new(a, ek_json(&list[i]));
        }
        if ((r = ksctl_print_json(a)) < 0) {
            ret = ksctl_db_fail(&d, r, NULL);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            ek_print(&list[i]);
        }
    }
    free(list);
    ksctl_db_close(&d);
    return ret;
}

static int cmd_show(struct ek_opts *o)
{
    struct ksctl_db d;
    struct ks_store_ek_info info;
    char name[KS_STORE_TPM_NAME_HEX_MAX + 1];
    uint8_t *cert = NULL;
    size_t cert_len = 0;
    struct ks_ekcert *c = NULL;
    struct ks_ekcert_info ci;
    int ret = 0;
    if (!name_arg("ek show", o->args[0], name, sizeof(name))) {
        return 2;
    }
    int r = ksctl_db_open(&d, &o->db, "ek show", 0);
    if (r < 0) {
        ret = ks_error_exit_code(r);
        goto out;
    }
    if ((r = ks_store_ek_get(d.store, name, &info, NULL, NULL, &cert, &cert_len)) < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
        goto out;
    }
    bool have_cert =
        cert && ks_ekcert_parse(cert, cert_len, &c) == KS_OK && ks_ekcert_info(c, &ci) == KS_OK;
    if (o->json) {
        json_t *j = ek_json(&info);
        if (j && have_cert) {
            char nb[32], na[32];
            ksctl_format_time(ci.not_before, nb);
            ksctl_format_time(ci.not_after, na);
            json_object_set_new(j, "cert",
                                json_pack("{s:s, s:s, s:s, s:s, s:s}", "subject", ci.subject,
                                          "issuer", ci.issuer, "serial", ci.serial, "not_before",
                                          nb, "not_after", na));
        }
        if ((r = ksctl_print_json(j)) < 0) {
            ret = ksctl_db_fail(&d, r, NULL);
        }
        goto out;
    }
    ek_print(&info);
    if (have_cert) {
        char na[32];
        ksctl_format_time(ci.not_after, na);
        printf("  certificate issuer %s, serial %s, valid until %s\n", ci.issuer, ci.serial, na);
    }
out:
    ks_ekcert_free(c);
    free(cert);
    ksctl_db_close(&d);
    return ret;
}

static int cmd_add(struct ek_opts *o)
{
    struct ksctl_db d;
    uint8_t *pub_buf = NULL, *cert_buf = NULL;
    size_t pub_len = 0, cert_len = 0;
    TPMT_PUBLIC pub;
    char name[KS_TPM_NAME_HEX_MAX];
    struct ks_ekcert *cert = NULL;
    int ret = 0;
    memset(&d, 0, sizeof(d));
    if (!o->ek_pub) {
        ksctl_err("ek add: --ek-pub is required");
        return 2;
    }
    int r = read_input("ek add", "EK", o->ek_pub, KS_STORE_MAX_BLOB, &pub_buf, &pub_len);
    if (r == KS_OK && (r = ks_tpm_public_decode(pub_buf, pub_len, &pub)) < 0) {
        ksctl_err("ek add: %s is not a TPM2B_PUBLIC: %s", o->ek_pub, ks_strerror(r));
    } else if (r == KS_OK && (r = ks_cred_check_key(&pub)) < 0) {
        ksctl_err("ek add: %s is not an EK (a restricted decryption key of a supported type "
                  "with an AES-CFB symmetric definition): %s",
                  o->ek_pub, ks_strerror(r));
    } else if (r == KS_OK && (r = ks_roca_check_tpm_public(&pub)) < 0) {
        ksctl_err("ek add: %s: %s", o->ek_pub, ks_strerror(r));
    } else if (r == KS_OK && (r = ks_tpm_public_name_hex(&pub, name)) < 0) {
        ksctl_err("ek add: %s: %s", o->ek_pub, ks_strerror(r));
    }
    if (r == KS_OK && o->cert &&
        (r = read_input("ek add", "certificate", o->cert, KS_STORE_MAX_BLOB, &cert_buf,
                        &cert_len)) == KS_OK) {
        if ((r = ks_ekcert_parse(cert_buf, cert_len, &cert)) < 0 ||
            (r = ks_ekcert_check_key(cert, &pub)) < 0) {
            ksctl_err("ek add: %s: %s", o->cert, ks_strerror(r));
        }
    }
    if (r < 0) {
        ret = ks_error_exit_code(r);
        goto out;
    }
    if ((r = ksctl_db_open(&d, &o->db, "ek add", 0)) < 0) {
        ret = ks_error_exit_code(r);
        goto out;
    }
    r = ks_store_ek_add(d.store, d.actor, name, pub_buf, pub_len, cert_buf, cert_len);
    if (r == KS_OK && o->approve) {
        r = ks_store_ek_set_approval(d.store, d.actor, name, true);
    }
    if (r < 0) {
        ret =
            ksctl_db_fail(&d, r, r == KS_ERR_STORE_EXISTS ? "EK %s is already known" : NULL, name);
        goto out;
    }
    printf("%s\n", name);
out:
    ks_ekcert_free(cert);
    free(pub_buf);
    free(cert_buf);
    ksctl_db_close(&d);
    return ret;
}

/* approve, unapprove, revoke, remove. */
static int cmd_change(struct ek_opts *o)
{
    struct ksctl_db d;
    char name[KS_STORE_TPM_NAME_HEX_MAX + 1], cmd[32];
    size_t count = 0;
    int ret = 0;
    snprintf(cmd, sizeof(cmd), "ek %s", o->sub);
    if (!name_arg(cmd, o->args[0], name, sizeof(name))) {
        return 2;
    }
    if (o->reason) {
        for (const char *p = o->reason; *p; p++) {
            if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f) {
                ksctl_err("%s: --reason may not contain control characters", cmd);
                return 2;
            }
        }
        if (strlen(o->reason) > REASON_MAX) {
            ksctl_err("%s: --reason is longer than %d bytes", cmd, REASON_MAX);
            return 2;
        }
    }
    int r = ksctl_db_open(&d, &o->db, cmd, 0);
    if (r < 0) {
        ksctl_db_close(&d);
        return ks_error_exit_code(r);
    }
    if (strcmp(o->sub, "approve") == 0 || strcmp(o->sub, "unapprove") == 0) {
        r = ks_store_ek_set_approval(d.store, d.actor, name, strcmp(o->sub, "approve") == 0);
    } else if (strcmp(o->sub, "revoke") == 0) {
        r = ks_store_ek_revoke(d.store, d.actor, name, o->reason ? o->reason : "revoked by ksctl");
    } else {
        r = ks_store_ek_remove(d.store, d.actor, name, &count);
    }
    if (r < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
    } else if (strcmp(o->sub, "remove") == 0) {
        printf("EK %s removed; %zu AK(s) revoked\n", name, count);
    } else {
        printf("EK %s %s\n", name,
               strcmp(o->sub, "approve") == 0     ? "approved"
               : strcmp(o->sub, "unapprove") == 0 ? "no longer approved"
                                                  : "revoked");
    }
    ksctl_db_close(&d);
    return ret;
}

static int cmd_makecredential(struct ek_opts *o)
{
    uint8_t *pub_buf = NULL, *secret = NULL, *name = NULL, *file = NULL;
    size_t pub_len = 0, secret_len = 0, name_len = 0, file_len = 0;
    TPMT_PUBLIC ek;
    TPM2B_ID_OBJECT blob;
    TPM2B_ENCRYPTED_SECRET enc;
    if (!o->ek_pub || !o->name || !o->secret || !o->out) {
        ksctl_err("ek makecredential: --ek-pub, --name, --secret and --out are required");
        return 2;
    }
    int r = read_input("ek makecredential", "EK", o->ek_pub, KS_STORE_MAX_BLOB, &pub_buf, &pub_len);
    if (r == KS_OK) {
        r = read_input("ek makecredential", "secret", o->secret, KS_MAX_DIGEST, &secret,
                       &secret_len);
    }
    if (r == KS_OK && (r = ks_hex_decode(o->name, &name, &name_len)) < 0) {
        ksctl_err("ek makecredential: --name: not hex");
    }
    if (r == KS_OK && (r = ks_tpm_public_decode(pub_buf, pub_len, &ek)) < 0) {
        ksctl_err("ek makecredential: %s is not a TPM2B_PUBLIC: %s", o->ek_pub, ks_strerror(r));
    }
    if (r == KS_OK &&
        (r = ks_makecredential(&ek, name, name_len, secret, secret_len, &blob, &enc)) < 0) {
        ksctl_err("ek makecredential: %s", ks_strerror(r));
    }
    if (r == KS_OK && (r = ks_cred_file_encode(&blob, &enc, &file, &file_len)) == KS_OK) {
        FILE *f = fopen(o->out, "wb");
        if (!f || fwrite(file, 1, file_len, f) != file_len) {
            ksctl_err("ek makecredential: cannot write %s: %s", o->out, strerror(errno));
            r = KS_ERR_IO;
        }
        if (f && fclose(f) != 0 && r == KS_OK) {
            r = KS_ERR_IO;
        }
    }
    if (secret) {
        OPENSSL_cleanse(secret, secret_len);
    }
    free(pub_buf);
    free(secret);
    free(name);
    free(file);
    return r < 0 ? ks_error_exit_code(r) : 0;
}

int ksctl_ek(int argc, char **argv)
{
    static const struct {
        const char *sub, *allowed;
        int nargs;
        int (*fn)(struct ek_opts *);
    } subs[] = {
        {"list", "j", 0, cmd_list},       {"show", "j", 1, cmd_show},
        {"add", "eca", 0, cmd_add},       {"approve", "", 1, cmd_change},
        {"unapprove", "", 1, cmd_change}, {"revoke", "r", 1, cmd_change},
        {"remove", "", 1, cmd_change},    {"makecredential", "enso", 0, cmd_makecredential},
    };
    struct ek_opts o;
    int head = ksctl_group_head(argc, argv, usage);
    if (head >= 0) {
        return head;
    }
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        if (strcmp(argv[1], subs[i].sub) == 0) {
            int ret = parse(argc - 1, argv + 1, subs[i].sub, subs[i].allowed, subs[i].nargs, &o);
            return ret >= 0 ? ret : subs[i].fn(&o);
        }
    }
    ksctl_err("ek: unknown subcommand '%s'", argv[1]);
    usage(stderr);
    return 2;
}
