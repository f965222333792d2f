/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ekcert.h"
#include "encoding.h"
#include "file_util.h"
#include "policy/ksctl.h"
#include "policy/ksctl_db.h"

/* `ksctl ekca add|list|remove|auto-approve|crl add`: the EK CAs whose EK
 * certificates the keyserver trusts for enrollment (docs/ARCHITECTURE.md
 * "Enrollment"). Only CA certificates are accepted; every one added is a
 * trust anchor of its own (lib/ekcert.h). */

/* Largest certificate or CRL file read. */
#define FILE_MAX (4 * 1024 * 1024)

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: ksctl ekca add FILE [--auto-approve]\n"
            "       ksctl ekca list [--json]\n"
            "       ksctl ekca show ID [--json]\n"
            "       ksctl ekca remove ID\n"
            "       ksctl ekca auto-approve ID on|off\n"
            "       ksctl ekca crl add FILE\n\n"
            "Manage the EK CAs trusted for AK enrollment. Run 'ksctl ekca SUBCOMMAND --help'.\n");
}

static void usage_sub(FILE *f, const char *sub)
{
    if (strcmp(sub, "add") == 0) {
        fprintf(f, "Usage: ksctl ekca add FILE [--auto-approve] [--db PATH]\n\n"
                   "Trust the EK CA certificate(s) in FILE (DER, or one or more PEM\n"
                   "certificates, e.g. a vendor root and its intermediate). Each must be a CA\n"
                   "certificate; each becomes a trust anchor of its own, so an intermediate\n"
                   "works without its root. Prints the id and subject of each.\n\n"
                   "  --auto-approve        EKs whose certificate chains to this CA are approved\n"
                   "                        when they enroll (else an admin approves each EK\n"
                   "                        with 'ksctl ek approve')\n");
    } else if (strcmp(sub, "list") == 0) {
        fprintf(f, "Usage: ksctl ekca list [--json] [--db PATH]\n\n"
                   "List the trusted EK CAs: id, auto-approval, subject, validity, SHA-256\n"
                   "fingerprint, CRL and the number of EKs certified under it.\n\n"
                   "  --json                print a JSON array\n");
    } else if (strcmp(sub, "show") == 0) {
        fprintf(f, "Usage: ksctl ekca show ID [--json] [--db PATH]\n\n"
                   "Show one trusted EK CA as 'list' does, followed by its certificate (PEM).\n"
                   "Exit 2 when there is no CA with that id.\n\n"
                   "  --json                print a JSON object (with \"pem\")\n");
    } else if (strcmp(sub, "remove") == 0) {
        fprintf(f, "Usage: ksctl ekca remove ID [--db PATH]\n\n"
                   "Stop trusting an EK CA. The approvals it granted are withdrawn at once:\n"
                   "AKs of EKs approved only because of this CA stop working until an admin\n"
                   "approves their EK.\n");
    } else if (strcmp(sub, "auto-approve") == 0) {
        fprintf(f, "Usage: ksctl ekca auto-approve ID on|off [--db PATH]\n\n"
                   "Turn auto-approval of newly enrolling EKs under the CA on or off.\n");
    } else {
        fprintf(f, "Usage: ksctl ekca crl add FILE [--db PATH]\n\n"
                   "Add a CRL (DER or PEM) of a trusted EK CA; it must be signed by one. It\n"
                   "replaces an older CRL of that CA. EKs whose certificate it lists are revoked\n"
                   "at once (their AKs stop working), and later enrollments check it.\n");
    }
    fprintf(f, KSCTL_DB_HELP "  --help                this text\n");
}

struct ekca_opts {
    struct ksctl_db_opts db;
    const char *sub;
    bool json, auto_approve;
    int nargs;
    char **args;
};

static int ekca_opt(void *ctx, const char *cmd, int c, const char *arg)
{
    struct ekca_opts *o = ctx;
    (void)cmd;
    (void)arg;
    if (c == 'j') {
        o->json = true;
    } else if (c == 'a') {
        o->auto_approve = true;
    }
    return 0;
}

static void ekca_usage(FILE *f, void *ctx)
{
    usage_sub(f, ((const struct ekca_opts *)ctx)->sub);
}

/* Returns -1 to go on, else the exit status. */
static int parse(int argc, char **argv, const char *sub, const char *allowed, int nargs,
                 struct ekca_opts *o)
{
    static const struct option longopts[] = {
        KSCTL_DB_LONGOPTS,
        {"json", no_argument, NULL, 'j'},
        {"auto-approve", no_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char cmd[32];
    memset(o, 0, sizeof(o[0]));
    ksctl_db_opts_init(&o->db);
    o->sub = sub;
    snprintf(cmd, sizeof(cmd), "ekca %s", sub);
    const struct ksctl_getopt g = {
        .cmd = cmd,
        .longopts = longopts,
        .db = &o->db,
        .allowed = allowed,
        .min_args = nargs,
        .max_args = nargs,
        .args_error = "wrong number of arguments",
        .opt = ekca_opt,
        .usage = ekca_usage,
        .ctx = o,
    };
    return ksctl_getopt(argc, argv, &g, &o->nargs, &o->args);
}

static int read_input(const char *cmd, const char *path, uint8_t **buf, size_t *len)
{
    int r = ks_file_read(path, FILE_MAX, buf, len);
    if (r < 0) {
        int e = errno;
        ksctl_err("%s: cannot read %s: %s%s%s", cmd, path, ks_strerror(r),
                  r == KS_ERR_IO ? ": " : "", r == KS_ERR_IO ? strerror(e) : "");
        return ks_error_exit_code(r == KS_ERR_TOO_LARGE ? KS_ERR_INVALID_ARG
                                                        : ksctl_input_error(r, e));
    }
    return 0;
}

static bool parse_id(const char *cmd, const char *s, int64_t *ret)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || !end || *end || v <= 0) {
        ksctl_err("%s: not an EK CA id: '%s' (see 'ksctl ekca list')", cmd, s);
        return false;
    }
    *ret = v;
    return true;
}

static int cmd_add(struct ekca_opts *o)
{
    struct ksctl_db d;
    struct ks_ekcert **certs = NULL;
    uint8_t *buf = NULL;
    size_t len = 0, n = 0;
    int ret = read_input("ekca add", o->args[0], &buf, &len);
    memset(&d, 0, sizeof(d));
    if (ret != 0) {
        return ret;
    }
    int r = ks_ekcert_parse_file(buf, len, &certs, &n);
    if (r < 0) {
        ksctl_err("ekca add: %s: %s", o->args[0], ks_strerror(r));
        ret = 1;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct ks_ekcert_info info;
        if ((r = ks_ekcert_info(certs[i], &info)) < 0 || !info.is_ca) {
            ksctl_err("ekca add: %s: certificate %zu (%s) is not a CA certificate", o->args[0],
                      i + 1, r < 0 ? ks_strerror(r) : info.subject);
            ret = 1;
            goto out;
        }
    }
    if ((r = ksctl_db_open(&d, &o->db, "ekca add", 0)) < 0) {
        ret = ks_error_exit_code(r);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct ks_ekcert_info info;
        uint8_t *der = NULL;
        size_t der_len = 0;
        int64_t id = 0;
        if ((r = ks_ekcert_info(certs[i], &info)) < 0 ||
            (r = ks_ekcert_der(certs[i], &der, &der_len)) < 0) {
            ret = ksctl_db_fail(&d, r, "%s", ks_strerror(r));
            goto out;
        }
        info.subject[KS_STORE_SUBJECT_MAX] = '\0';
        r = ks_store_ekca_add(d.store, d.actor, info.subject, der, der_len, o->auto_approve, &id);
        free(der);
        if (r < 0) {
            ret = ksctl_db_fail(&d, r, r == KS_ERR_STORE_EXISTS ? "%s: already trusted" : NULL,
                                info.subject);
            goto out;
        }
        printf("%lld %s%s\n", (long long)id, info.subject,
               o->auto_approve ? " (auto-approve)" : "");
    }
out:
    ks_ekcert_free_array(certs, n);
    free(buf);
    ksctl_db_close(&d);
    return ret;
}

static json_t *ca_json(const struct ks_store_ekca *c, const struct ks_ekcert_info *info)
{
    char fp[65], added[32], nb[32], na[32];
    ks_hex_encode(info->sha256, sizeof(info->sha256), fp);
    ksctl_format_time(c->added_at, added);
    ksctl_format_time(info->not_before, nb);
    ksctl_format_time(info->not_after, na);
    json_t *j = json_pack("{s:I, s:s, s:s, s:b, s:s, s:s, s:s, s:s, s:I}", "id", (json_int_t)c->id,
                          "subject", c->subject, "issuer", info->issuer, "auto_approve",
                          c->auto_approve, "sha256", fp, "not_before", nb, "not_after", na, "added",
                          added, "eks", (json_int_t)c->n_eks);
    if (j) {
        json_object_set_new(j, "added_by", json_string(c->added_by));
        json_object_set_new(j, "crl_this_update",
                            c->has_crl ? json_integer(c->crl_this_update) : json_null());
        json_object_set_new(j, "crl_next_update",
                            c->has_crl && c->crl_next_update ? json_integer(c->crl_next_update)
                                                             : json_null());
    }
    return j;
}

/* The certificate as PEM, NUL-terminated, or NULL. */
static char *cert_pem(const uint8_t *der, size_t len)
{
    char *pem = NULL;
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n = 0;
    if (x && b && PEM_write_bio_X509(b, x) == 1 && (n = BIO_get_mem_data(b, &data)) > 0) {
        pem = strndup(data, (size_t)n);
    }
    BIO_free(b);
    X509_free(x);
    return pem;
}

/* list (show_id < 0) or show one CA. */
static int list_or_show(struct ekca_opts *o, int64_t show_id)
{
    struct ksctl_db d;
    struct ks_store_ekca *cas = NULL;
    size_t n = 0;
    int ret = 0;
    bool found = false;
    int r = ksctl_db_open(&d, &o->db, show_id < 0 ? "ekca list" : "ekca show", 0);
    if (r < 0) {
        ret = ks_error_exit_code(r);
        goto out;
    }
    if ((r = ks_store_ekca_list(d.store, &cas, &n)) < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
        goto out;
    }
    json_t *a = o->json && show_id < 0 ? json_array() : NULL;
    for (size_t i = 0; i < n; i++) {
        if (show_id >= 0 && cas[i].id != show_id) {
            continue;
        }
        found = true;
        struct ks_ekcert *c = NULL;
        struct ks_ekcert_info info;
        memset(&info, 0, sizeof(info));
        if (ks_ekcert_parse(cas[i].cert, cas[i].cert_len, &c) < 0 || ks_ekcert_info(c, &info) < 0) {
            snprintf(info.issuer, sizeof(info.issuer), "(unparsable)");
        }
        ks_ekcert_free(c);
        char *pem = show_id >= 0 ? cert_pem(cas[i].cert, cas[i].cert_len) : NULL;
        if (a) {
            json_array_append_new(a, ca_json(&cas[i], &info));
            continue;
        }
        if (o->json) {
            json_t *one = ca_json(&cas[i], &info);
            json_object_set_new(one, "pem", pem ? json_string(pem) : json_null());
            free(pem);
            if ((r = ksctl_print_json(one)) < 0) {
                ret = ksctl_db_fail(&d, r, NULL);
            }
            continue;
        }
        char fp[65], na[32], nu[32];
        ks_hex_encode(info.sha256, sizeof(info.sha256), fp);
        ksctl_format_time(info.not_after, na);
        printf("%lld %s", (long long)cas[i].id, cas[i].auto_approve ? "auto-approve " : "");
        ksctl_print_safe(stdout, cas[i].subject);
        printf("\n  sha256 %s, valid until %s, %u EK(s)", fp, na, (unsigned)cas[i].n_eks);
        if (cas[i].has_crl) {
            ksctl_format_time(cas[i].crl_next_update, nu);
            printf(", CRL next update %s", nu);
        }
        printf("\n");
        if (pem) {
            fputs(pem, stdout);
            free(pem);
        }
    }
    if (a && (r = ksctl_print_json(a)) < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
    }
    if (show_id >= 0 && !found && ret == 0) {
        ksctl_err("ekca show: no EK CA with id %lld", (long long)show_id);
        ret = 2;
    }
out:
    ks_store_ekca_list_free(cas, n);
    ksctl_db_close(&d);
    return ret;
}

static int cmd_list(struct ekca_opts *o)
{
    return list_or_show(o, -1);
}

static int cmd_show(struct ekca_opts *o)
{
    int64_t id;
    if (!parse_id("ekca show", o->args[0], &id)) {
        return 2;
    }
    return list_or_show(o, id);
}

static int cmd_remove(struct ekca_opts *o)
{
    struct ksctl_db d;
    int64_t id;
    size_t unapproved = 0;
    int ret = 0;
    if (!parse_id("ekca remove", o->args[0], &id)) {
        return 2;
    }
    int r = ksctl_db_open(&d, &o->db, "ekca remove", 0);
    if (r < 0) {
        ret = ks_error_exit_code(r);
    } else if ((r = ks_store_ekca_remove(d.store, d.actor, id, &unapproved)) < 0) {
        ret = ksctl_db_fail(&d, r, r == KS_ERR_NOT_FOUND ? "no EK CA %lld" : NULL, (long long)id);
    } else {
        printf("EK CA %lld removed; %zu EK approval(s) it granted withdrawn\n", (long long)id,
               unapproved);
    }
    ksctl_db_close(&d);
    return ret;
}

static int cmd_auto(struct ekca_opts *o)
{
    struct ksctl_db d;
    int64_t id;
    int ret = 0;
    bool on = strcmp(o->args[1], "on") == 0;
    if (!parse_id("ekca auto-approve", o->args[0], &id)) {
        return 2;
    }
    if (!on && strcmp(o->args[1], "off") != 0) {
        ksctl_err("ekca auto-approve: expected on or off, got '%s'", o->args[1]);
        return 2;
    }
    int r = ksctl_db_open(&d, &o->db, "ekca auto-approve", 0);
    if (r < 0) {
        ret = ks_error_exit_code(r);
    } else if ((r = ks_store_ekca_set_auto_approve(d.store, d.actor, id, on)) < 0) {
        ret = ksctl_db_fail(&d, r, r == KS_ERR_NOT_FOUND ? "no EK CA %lld" : NULL, (long long)id);
    } else {
        printf("EK CA %lld: auto-approve %s\n", (long long)id, on ? "on" : "off");
    }
    ksctl_db_close(&d);
    return ret;
}

/* Revoke the EKs whose certificate the CRL lists (their AKs stop at once). */
static int revoke_listed(struct ksctl_db *d, int64_t ca_id, const uint8_t *crl, size_t len,
                         size_t *ret_n)
{
    struct ks_store_ek_info *eks = NULL;
    size_t n = 0;
    char reason[96];
    int r = ks_store_ek_list(d->store, &eks, &n);
    snprintf(reason, sizeof(reason), "certificate revoked by the CRL of EK CA %lld",
             (long long)ca_id);
    for (size_t i = 0; r == KS_OK && i < n; i++) {
        struct ks_store_ek_info info;
        struct ks_ekcert *cert = NULL;
        uint8_t *der = NULL;
        size_t der_len = 0;
        bool listed = false;
        if (!eks[i].has_cert || eks[i].revoked) {
            continue;
        }
        if ((r = ks_store_ek_get(d->store, eks[i].name, &info, NULL, NULL, &der, &der_len)) < 0) {
            break;
        }
        if (der && ks_ekcert_parse(der, der_len, &cert) == KS_OK &&
            ks_ekcrl_lists(crl, len, cert, &listed) == KS_OK && listed) {
            r = ks_store_ek_revoke(d->store, d->actor, eks[i].name, reason);
            if (r == KS_OK) {
                printf("EK %s revoked: %s\n", eks[i].name, reason);
                (*ret_n)++;
            }
        }
        ks_ekcert_free(cert);
        free(der);
    }
    free(eks);
    return r;
}

static int crl_add(struct ksctl_db *d, const char *path, const uint8_t *buf, size_t len)
{
    struct ks_store_ekca *cas = NULL;
    size_t n = 0, revoked = 0;
    int r = ks_store_ekca_list(d->store, &cas, &n);
    int ret = 0;
    if (r < 0) {
        return ksctl_db_fail(d, r, NULL);
    }
    /* The CA whose key signed it. */
    for (size_t i = 0; i < n; i++) {
        struct ks_ekcert *ca = NULL;
        struct ks_ekcrl_info info;
        uint8_t *der = NULL;
        size_t der_len = 0;
        if (ks_ekcert_parse(cas[i].cert, cas[i].cert_len, &ca) != KS_OK) {
            continue;
        }
        r = ks_ekcrl_check(buf, len, ca, &info, &der, &der_len);
        ks_ekcert_free(ca);
        if (r == KS_ERR_EKCERT_PARSE) {
            ksctl_err("ekca crl add: %s: not a CRL (DER or PEM)", path);
            ret = 1;
            goto out;
        }
        if (r != KS_OK) {
            continue;
        }
        r = ks_store_ekca_crl_add(d->store, d->actor, cas[i].id, der, der_len, info.this_update,
                                  info.next_update);
        if (r == KS_OK) {
            printf("CRL of EK CA %lld (%zu revoked certificate(s)) added\n", (long long)cas[i].id,
                   info.n_revoked);
            r = revoke_listed(d, cas[i].id, der, der_len, &revoked);
        }
        free(der);
        if (r < 0) {
            ret = ksctl_db_fail(d, r, NULL);
            goto out;
        }
        printf("%zu EK(s) revoked\n", revoked);
        goto out;
    }
    ksctl_err("ekca crl add: %s: not signed by a trusted EK CA (add the CA first)", path);
    ret = 1;
out:
    ks_store_ekca_list_free(cas, n);
    return ret;
}

static int cmd_crl_add(struct ekca_opts *o)
{
    struct ksctl_db d;
    uint8_t *buf = NULL;
    size_t len = 0;
    int ret = read_input("ekca crl add", o->args[0], &buf, &len);
    memset(&d, 0, sizeof(d));
    if (ret != 0) {
        return ret;
    }
    int r = ksctl_db_open(&d, &o->db, "ekca crl add", 0);
    ret = r < 0 ? ks_error_exit_code(r) : crl_add(&d, o->args[0], buf, len);
    free(buf);
    ksctl_db_close(&d);
    return ret;
}

int ksctl_ekca(int argc, char **argv)
{
    struct ekca_opts o;
    int ret;
    int head = ksctl_group_head(argc, argv, usage);
    if (head >= 0) {
        return head;
    }
    const char *sub = argv[1];
    argc--;
    argv++;
    if (strcmp(sub, "add") == 0) {
        ret = parse(argc, argv, "add", "a", 1, &o);
        return ret >= 0 ? ret : cmd_add(&o);
    }
    if (strcmp(sub, "list") == 0) {
        ret = parse(argc, argv, "list", "j", 0, &o);
        return ret >= 0 ? ret : cmd_list(&o);
    }
    if (strcmp(sub, "show") == 0) {
        ret = parse(argc, argv, "show", "j", 1, &o);
        return ret >= 0 ? ret : cmd_show(&o);
    }
    if (strcmp(sub, "remove") == 0) {
        ret = parse(argc, argv, "remove", "", 1, &o);
        return ret >= 0 ? ret : cmd_remove(&o);
    }
    if (strcmp(sub, "auto-approve") == 0) {
        ret = parse(argc, argv, "auto-approve", "", 2, &o);
        return ret >= 0 ? ret : cmd_auto(&o);
    }
    if (strcmp(sub, "crl") == 0) {
        if (argc < 2 || strcmp(argv[1], "add") != 0) {
            if (argc >= 2 && ksctl_is_help(argv[1])) {
                usage_sub(stdout, "crl add");
                return 0;
            }
            ksctl_err("ekca crl: expected 'add'");
            usage_sub(stderr, "crl add");
            return 2;
        }
        ret = parse(argc - 1, argv + 1, "crl add", "", 1, &o);
        return ret >= 0 ? ret : cmd_crl_add(&o);
    }
    ksctl_err("ekca: unknown subcommand '%s'", sub);
    usage(stderr);
    return 2;
}
