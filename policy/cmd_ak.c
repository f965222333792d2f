/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file_util.h"
#include "policy/ksctl.h"
#include "policy/ksctl_db.h"
#include "tpm_public.h"

/* `ksctl ak add|list|show|revoke|remove`: attestation keys an admin vouches for. An AK
 * added here is active at once, so it must be what the keyserver can trust
 * a quote from: a restricted signing key that never leaves its TPM (TPM 2.0
 * Part 1, 25.2; Part 2, 8.3). */

/* The attributes of a TCG EK template (TCG EK Credential Profile 2.0,
 * 2.1.5): a restricted decryption key that cannot leave the TPM. Checked
 * so that an AK passed as --ek-pub by mistake is refused. */
#define EK_ATTRS_REQUIRED                                                                          \
    (TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT)

/* Longest --reason. */
#define REASON_MAX 256

static void usage(FILE *f)
{
    fprintf(f, "Usage: ksctl ak add --ak-pub FILE [--ek-pub FILE]\n"
               "       ksctl ak list [--json]\n"
               "       ksctl ak show AK_ID [--json]\n"
               "       ksctl ak revoke AK_ID [--reason TEXT]\n"
               "       ksctl ak remove AK_ID\n\n"
               "Manage attestation keys. Run 'ksctl ak SUBCOMMAND --help'.\n");
}

static void usage_sub(FILE *f, const char *sub)
{
    if (strcmp(sub, "add") == 0) {
        fprintf(f, "Usage: ksctl ak add --ak-pub FILE [--ek-pub FILE] [--db PATH]\n\n"
                   "Vouch for an attestation key: it is active at once. FILE is the AK's\n"
                   "TPM2B_PUBLIC (tpm2_createak -u, tpm2_readpublic -o). Only a restricted\n"
                   "signing key with fixedTPM, fixedParent and sensitiveDataOrigin, without\n"
                   "decrypt, of a supported type (RSA 2048/3072, ECC P-256/P-384) is accepted.\n"
                   "Prints the AK id: its TPM Name in lowercase hex.\n\n"
                   "  --ak-pub FILE         the AK's TPM2B_PUBLIC\n"
                   "  --ek-pub FILE         the TPM2B_PUBLIC of the EK of the AK's TPM\n"
                   "                        (tpm2_createek -u); recorded (not approved) and\n"
                   "                        bound to the AK for reference: nothing here proves\n"
                   "                        that the two share a TPM\n");
    } else if (strcmp(sub, "list") == 0) {
        fprintf(f, "Usage: ksctl ak list [--json] [--db PATH]\n\n"
                   "List the attestation keys: id, state, EK, who vouched for it, creation and\n"
                   "last successful attestation.\n\n"
                   "  --json                print a JSON array\n");
    } else if (strcmp(sub, "show") == 0) {
        fprintf(f, "Usage: ksctl ak show AK_ID [--json] [--db PATH]\n\n"
                   "Show one attestation key: state, EK, who vouched for it (or its\n"
                   "enrollment), creation, revocation, the last successful attestation and\n"
                   "the TPM clock (TPMS_CLOCK_INFO: clock, resetCount, restartCount) of its\n"
                   "last accepted quote.\n\n"
                   "  --json                print a JSON object\n");
    } else if (strcmp(sub, "remove") == 0) {
        fprintf(f, "Usage: ksctl ak remove AK_ID [--db PATH]\n\n"
                   "Forget an attestation key in any state: its next quote is refused as\n"
                   "unknown. The audit trail keeps its history; 'ksctl ak add' or an\n"
                   "enrollment can bring it back. Use 'ksctl ak revoke' to keep the record.\n\n");
    } else {
        fprintf(f, "Usage: ksctl ak revoke AK_ID [--reason TEXT] [--db PATH]\n\n"
                   "Revoke an attestation key: the keyserver refuses its next quote.\n\n"
                   "  --reason TEXT         recorded in the audit trail\n");
    }
    fprintf(f, KSCTL_DB_HELP "  --help                this text\n");
}

struct ak_opts {
    struct ksctl_db_opts db;
    const char *sub;
    const char *ak_pub, *ek_pub, *reason;
    bool json;
    int nargs;
    char **args;
};

static int ak_opt(void *ctx, const char *cmd, int c, const char *arg)
{
    struct ak_opts *o = ctx;
    (void)cmd;
    switch (c) {
    case 'a':
        o->ak_pub = arg;
        break;
    case 'e':
        o->ek_pub = arg;
        break;
    case 'r':
        o->reason = arg;
        break;
    case 'j':
        o->json = true;
        break;
    }
    return 0;
}

static void ak_usage(FILE *f, void *ctx)
{
    usage_sub(f, ((const struct ak_opts *)ctx)->sub);
}

/* Returns -1 to go on, else the exit status. */
static int parse(int argc, char **argv, const char *allowed, int nargs, struct ak_opts *o)
{
    static const struct option longopts[] = {
        KSCTL_DB_LONGOPTS,
        {"ak-pub", required_argument, NULL, 'a'},
        {"ek-pub", required_argument, NULL, 'e'},
        {"reason", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char cmd[32];
    memset(o, 0, sizeof(*o));
    ksctl_db_opts_init(&o->db);
    o->sub = argv[0];
    snprintf(cmd, sizeof(cmd), "ak %s", o->sub);
    const struct ksctl_getopt g = {
        .cmd = cmd,
        .longopts = longopts,
        .db = &o->db,
        .allowed = allowed,
        .min_args = nargs,
        .max_args = nargs,
        .args_error = "wrong number of arguments",
        .opt = ak_opt,
        .usage = ak_usage,
        .ctx = o,
    };
    return ksctl_getopt(argc, argv, &g, &o->nargs, &o->args);
}

/* A TPM2B_PUBLIC from a file, decoded; prints the problem. */
struct tpm_pub {
    uint8_t *buf;
    size_t len;
    TPMT_PUBLIC pub;
    char name[KS_TPM_NAME_HEX_MAX];
};

static int load_public(const char *path, const char *what, struct tpm_pub *p)
{
    EVP_PKEY *pkey = NULL;
    int r = ks_file_read(path, KS_STORE_MAX_BLOB, &p->buf, &p->len);
    if (r < 0) {
        int e = errno;
        ksctl_err("ak add: cannot read %s %s: %s%s%s", what, path, ks_strerror(r),
                  r == KS_ERR_IO ? ": " : "", r == KS_ERR_IO ? strerror(e) : "");
        return r == KS_ERR_TOO_LARGE ? KS_ERR_INVALID_ARG : ksctl_input_error(r, e);
    }
    if ((r = ks_tpm_public_decode(p->buf, p->len, &p->pub)) < 0) {
        ksctl_err("ak add: %s %s is not a TPM2B_PUBLIC: %s", what, path, ks_strerror(r));
        return r;
    }
    if ((r = ks_tpm_public_to_evp(&p->pub, &pkey)) < 0) {
        ksctl_err("ak add: %s %s: %s (RSA 2048/3072 and ECC P-256/P-384 are supported)", what, path,
                  ks_strerror(r));
        return r;
    }
    EVP_PKEY_free(pkey);
    if ((r = ks_tpm_public_name_hex(&p->pub, p->name)) < 0) {
        ksctl_err("ak add: %s %s: cannot compute its TPM Name: %s", what, path, ks_strerror(r));
    }
    return r;
}

static void tpm_pub_clear(struct tpm_pub *p)
{
    free(p->buf);
    p->buf = NULL;
}

static int check_ak_attrs(const char *path, const TPMT_PUBLIC *pub)
{
    uint32_t bad = ks_tpm_public_ak_attr_problems(pub);
    char missing[256], forbidden[256], all[256];
    if (bad == 0) {
        return ks_tpm_public_check_ak(pub);
    }
    ks_tpm_attr_names(bad & KS_AK_ATTRS_REQUIRED, missing, sizeof(missing));
    ks_tpm_attr_names(bad & KS_AK_ATTRS_FORBIDDEN, forbidden, sizeof(forbidden));
    ks_tpm_attr_names(pub->objectAttributes, all, sizeof(all));
    ksctl_err("ak add: %s is not a restricted signing key (attributes %s):%s%s%s%s%s", path, all,
              missing[0] ? " missing " : "", missing, missing[0] && forbidden[0] ? ";" : "",
              forbidden[0] ? " forbidden " : "", forbidden);
    return KS_ERR_TPM_ATTRIBUTES;
}

static int cmd_add(struct ak_opts *o)
{
    struct tpm_pub ak, ek;
    struct ksctl_db d;
    int ret = 0;
    memset(&ak, 0, sizeof(ak));
    memset(&ek, 0, sizeof(ek));
    memset(&d, 0, sizeof(d));
    if (!o->ak_pub) {
        ksctl_err("ak add: --ak-pub is required");
        return 2;
    }
    /* tpm2-tss logs malformed input itself; the reason is reported here. */
    setenv("TSS2_LOG", "all+none", 0);
    int r = load_public(o->ak_pub, "AK", &ak);
    if (r < 0 || (r = check_ak_attrs(o->ak_pub, &ak.pub)) < 0) {
        goto out;
    }
    if (o->ek_pub) {
        if ((r = load_public(o->ek_pub, "EK", &ek)) < 0) {
            goto out;
        }
        if ((ek.pub.objectAttributes & EK_ATTRS_REQUIRED) != EK_ATTRS_REQUIRED ||
            (ek.pub.objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT)) {
            char all[256];
            ks_tpm_attr_names(ek.pub.objectAttributes, all, sizeof(all));
            ksctl_err("ak add: %s is not an endorsement key (a restricted decryption key); "
                      "attributes %s",
                      o->ek_pub, all);
            r = KS_ERR_TPM_ATTRIBUTES;
            goto out;
        }
    }
    if ((r = ksctl_db_open(&d, &o->db, "ak add", 0)) < 0) {
        goto out;
    }
    if (o->ek_pub) {
        r = ks_store_ek_add(d.store, d.actor, ek.name, ek.buf, ek.len, NULL, 0);
        /* A Name is a hash of the public area: a known Name is this EK. */
        if (r < 0 && r != KS_ERR_STORE_EXISTS) {
            ret = ksctl_db_fail(&d, r, NULL);
            goto out;
        }
    }
    r = ks_store_ak_add(d.store, d.actor, ak.name, ak.buf, ak.len, o->ek_pub ? ek.name : NULL);
    if (r == KS_ERR_STORE_EXISTS) {
        ret = ksctl_db_fail(&d, r, "AK %s is already registered", ak.name);
        goto out;
    } else if (r < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
        goto out;
    }
    printf("%s\n", ak.name);
out:
    if (r < 0 && ret == 0) {
        ret = ks_error_exit_code(r);
    }
    tpm_pub_clear(&ak);
    tpm_pub_clear(&ek);
    ksctl_db_close(&d);
    return ret;
}

static json_t *ak_json(const struct ks_store_ak_info *a)
{
    char c[32], l[32];
    ksctl_format_time(a->created_at, c);
    ksctl_format_time(a->last_attested_at, l);
    json_t *j = json_object();
    json_object_set_new(j, "id", json_string(a->id));
    json_object_set_new(j, "state", json_string(ks_ak_state_name(a->state)));
    json_object_set_new(j, "ek", a->ek_name[0] ? json_string(a->ek_name) : json_null());
    json_object_set_new(j, "vouched_by",
                        a->vouched_by[0] ? json_string(a->vouched_by) : json_null());
    json_object_set_new(j, "created_at", json_integer(a->created_at));
    json_object_set_new(j, "created", json_string(c));
    json_object_set_new(j, "last_attested_at",
                        a->last_attested_at ? json_integer(a->last_attested_at) : json_null());
    json_object_set_new(j, "last_attested", a->last_attested_at ? json_string(l) : json_null());
    return j;
}

static int cmd_list(struct ak_opts *o)
{
    struct ksctl_db d;
    struct ks_store_ak_info *list = NULL;
    size_t n = 0;
    int ret = 0;
    int r = ksctl_db_open(&d, &o->db, "ak list", 0);
    if (r < 0) {
        ret = ks_error_exit_code(r);
        goto out;
    }
    if ((r = ks_store_ak_list(d.store, &list, &n)) < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
        goto out;
    }
    if (o->json) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < n; i++) {
            json_array_append_new(a, ak_json(&list[i]));
        }
        if ((r = ksctl_print_json(a)) < 0) {
            ret = ksctl_db_fail(&d, r, NULL);
        }
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char c[32], l[32];
        ksctl_format_time(list[i].created_at, c);
        ksctl_format_time(list[i].last_attested_at, l);
        printf("%s %s\n  created %s, last attested %s, ", list[i].id,
               ks_ak_state_name(list[i].state), c, l);
        if (list[i].vouched_by[0]) {
            printf("vouched for by ");
            ksctl_print_safe(stdout, list[i].vouched_by);
        } else {
            printf("enrolled");
        }
        printf("\n  EK %s\n", list[i].ek_name[0] ? list[i].ek_name : "-");
    }
out:
    free(list);
    ksctl_db_close(&d);
    return ret;
}

/* An AK id from the command line: lowercase hex of a TPM Name (any case
 * accepted: ids are copied from other tools). */
static bool parse_ak_id(const char *cmd, const char *arg, char id[KS_STORE_TPM_NAME_HEX_MAX + 1])
{
    size_t len = strlen(arg);
    if (len > KS_STORE_TPM_NAME_HEX_MAX) {
        len = KS_STORE_TPM_NAME_HEX_MAX;
    }
    for (size_t i = 0; i < len; i++) {
        id[i] = (char)tolower((unsigned char)arg[i]);
    }
    id[len] = '\0';
    if (strlen(arg) > KS_STORE_TPM_NAME_HEX_MAX || !ks_store_tpm_name_valid(id)) {
        ksctl_err("%s: not an AK id (a TPM Name in hex): '%s'", cmd, arg);
        return false;
    }
    return true;
}

static json_t *time_or_null(int64_t t)
{
    char s[32];
    ksctl_format_time(t, s);
    return t ? json_string(s) : json_null();
}

static int cmd_show(struct ak_opts *o)
{
    struct ksctl_db d;
    struct ks_store_ak_detail a;
    char id[KS_STORE_TPM_NAME_HEX_MAX + 1];
    int ret = 0;
    if (!parse_ak_id("ak show", o->args[0], id)) {
        return 2;
    }
    int r = ksctl_db_open(&d, &o->db, "ak show", 0);
    if (r < 0) {
        ret = ks_error_exit_code(r);
        goto out;
    }
    if ((r = ks_store_ak_get(d.store, id, &a)) < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
        goto out;
    }
    if (o->json) {
        json_t *j = ak_json(&a.info);
        if (j) {
            json_object_set_new(j, "enrollment_id",
                                a.enrollment_id[0] ? json_string(a.enrollment_id) : json_null());
            json_object_set_new(j, "revoked_by",
                                a.revoked_by[0] ? json_string(a.revoked_by) : json_null());
            json_object_set_new(j, "revoked_at",
                                a.revoked_at ? json_integer(a.revoked_at) : json_null());
            json_object_set_new(j, "revoked", time_or_null(a.revoked_at));
            json_object_set_new(
                j, "last_clock",
                a.has_clock ? json_pack("{s:I, s:I, s:I}", "clock", (json_int_t)a.last_clock,
                                        "reset_count", (json_int_t)a.last_reset_count,
                                        "restart_count", (json_int_t)a.last_restart_count)
                            : json_null());
        }
        if ((r = ksctl_print_json(j)) < 0) {
            ret = ksctl_db_fail(&d, r, NULL);
        }
        goto out;
    }
    char c[32], l[32], rv[32];
    ksctl_format_time(a.info.created_at, c);
    ksctl_format_time(a.info.last_attested_at, l);
    ksctl_format_time(a.revoked_at, rv);
    printf("AK %s\n  state          %s\n  EK             %s\n", a.info.id,
           ks_ak_state_name(a.info.state), a.info.ek_name[0] ? a.info.ek_name : "-");
    if (a.info.vouched_by[0]) {
        printf("  vouched for by ");
        ksctl_print_safe(stdout, a.info.vouched_by);
        printf("\n");
    } else {
        printf("  enrolled       %s\n", a.enrollment_id[0] ? a.enrollment_id : "-");
    }
    printf("  created        %s\n", c);
    if (a.revoked_at) {
        printf("  revoked        %s by ", rv);
        ksctl_print_safe(stdout, a.revoked_by);
        printf("\n");
    }
    printf("  last attested  %s\n", a.info.last_attested_at ? l : "never");
    if (a.has_clock) {
        printf("  last clock     clock %llu, resetCount %lu, restartCount %lu\n",
               (unsigned long long)a.last_clock, (unsigned long)a.last_reset_count,
               (unsigned long)a.last_restart_count);
    } else {
        printf("  last clock     -\n");
    }
out:
    ksctl_db_close(&d);
    return ret;
}

static int cmd_remove(struct ak_opts *o)
{
    struct ksctl_db d;
    char id[KS_STORE_TPM_NAME_HEX_MAX + 1];
    int ret = 0;
    if (!parse_ak_id("ak remove", o->args[0], id)) {
        return 2;
    }
    int r = ksctl_db_open(&d, &o->db, "ak remove", 0);
    if (r < 0) {
        ret = ks_error_exit_code(r);
    } else if ((r = ks_store_ak_remove(d.store, d.actor, id)) < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
    } else {
        printf("AK %s removed\n", id);
    }
    ksctl_db_close(&d);
    return ret;
}

static int cmd_revoke(struct ak_opts *o)
{
    struct ksctl_db d;
    char id[KS_STORE_TPM_NAME_HEX_MAX + 1];
    int ret = 0;
    if (!parse_ak_id("ak revoke", o->args[0], id)) {
        return 2;
    }
    if (o->reason) {
        for (const char *p = o->reason; *p; p++) {
            if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f) {
                ksctl_err("ak revoke: --reason may not contain control characters");
                return 2;
            }
        }
        if (strlen(o->reason) > REASON_MAX) {
            ksctl_err("ak revoke: --reason is longer than %d bytes", REASON_MAX);
            return 2;
        }
    }
    int r = ksctl_db_open(&d, &o->db, "ak revoke", 0);
    if (r < 0) {
        ret = ks_error_exit_code(r);
    } else if ((r = ks_store_ak_revoke(d.store, d.actor, id,
                                       o->reason ? o->reason : "revoked by ksctl")) < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
    } else {
        printf("AK %s revoked\n", id);
    }
    ksctl_db_close(&d);
    return ret;
}

int ksctl_ak(int argc, char **argv)
{
    struct ak_opts o;
    int ret;
    int head = ksctl_group_head(argc, argv, usage);
    if (head >= 0) {
        return head;
    }
    const char *sub = argv[1];
    argc--;
    argv++;
    if (strcmp(sub, "add") == 0) {
        ret = parse(argc, argv, "ae", 0, &o);
        return ret >= 0 ? ret : cmd_add(&o);
    }
    if (strcmp(sub, "list") == 0) {
        ret = parse(argc, argv, "j", 0, &o);
        return ret >= 0 ? ret : cmd_list(&o);
    }
    if (strcmp(sub, "revoke") == 0) {
        ret = parse(argc, argv, "r", 1, &o);
        return ret >= 0 ? ret : cmd_revoke(&o);
    }
    if (strcmp(sub, "show") == 0) {
        ret = parse(argc, argv, "j", 1, &o);
        return ret >= 0 ? ret : cmd_show(&o);
    }
    if (strcmp(sub, "remove") == 0) {
        ret = parse(argc, argv, "", 1, &o);
        return ret >= 0 ? ret : cmd_remove(&o);
    }
    ksctl_err("ak: unknown subcommand '%s'", sub);
    usage(stderr);
    return 2;
}
