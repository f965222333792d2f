/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "enroll.h"
#include "ks_attest_enroll.h"

/* `ks-attest enroll`: create an AK and enroll it through the EK (the
 * reference loader does the same at start, loader-ref/enroll.h). */

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: ks-attest enroll --server URL --out-dir DIR [--tcti TCTI] [--cacert FILE]\n"
            "                        [--ek rsa|ecc|ecc256|ecc384] [--no-ek-cert] [--rsa]\n"
            "                        [--save-auth] [--insecure-http]\n\n"
            "Create a fresh attestation key (random authValue) and enroll it with the\n"
            "keyserver: POST /v1/enroll with the EK (re-created from the TCG template that\n"
            "matches its NV certificate) and the certificate, TPM2_ActivateCredential with\n"
            "the EK's policy, POST /v1/enroll/{id}/activate. Prints the AK id and whether\n"
            "it is active or waits for an admin to approve the EK. Writes DIR/ak.pub and\n"
            "DIR/ak.name.\n\n"
            "  --server URL      the keyserver's base URL (https://HOST:PORT)\n"
            "  --out-dir DIR     where to write the AK files\n"
            "  --tcti TCTI       TPM access (default: $KS_TCTI, else %s)\n"
            "  --cacert FILE     CA certificate(s) of the keyserver's TLS certificate\n"
            "  --ek KIND         rsa (default; NV 0x01c00002), ecc (P-384 if its certificate\n"
            "                    is in NV 0x01c00016, else P-256), ecc256 (0x01c0000a), ecc384\n"
            "  --no-ek-cert      do not send the EK certificate (an EK an admin approved)\n"
            "  --rsa             an RSA-2048 AK (default: ECC P-256)\n"
            "  --save-auth       TEST ONLY: also write DIR/ak.priv and DIR/ak.auth, so that\n"
            "                    'ks-attest release --ak-dir DIR' can use the AK later\n"
            "  --insecure-http   allow a plain http:// URL (tests only)\n"
            "  --help            this text\n",
            KS_TPM_DEFAULT_TCTI);
}

static int write_file(const char *dir, const char *name, const uint8_t *buf, size_t len,
                      mode_t mode)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
        return KS_ERR_INVALID_ARG;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        fprintf(stderr, "ks-attest: cannot create %s: %s\n", path, strerror(errno));
        return KS_ERR_IO;
    }
    int r = fchmod(fd, mode) == 0 ? KS_OK : KS_ERR_IO;
    for (size_t off = 0; r == KS_OK && off < len;) {
        ssize_t n = write(fd, buf + off, len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            r = KS_ERR_IO;
            break;
        }
        off += (size_t)n;
    }
    if (close(fd) != 0) {
        r = KS_ERR_IO;
    }
    if (r != KS_OK) {
        fprintf(stderr, "ks-attest: cannot write %s: %s\n", path, strerror(errno));
    }
    return r;
}

static int fail(struct ks_tpm *tpm, const char *what, int r, const struct ks_attest_error *e)
{
    const char *cmd = "";
    uint32_t rc = ks_tpm_last_rc(tpm, &cmd);
    if (e && e->http_status) {
        fprintf(stderr, "ks-attest: %s: refused (HTTP %ld %s): %s\n", what, e->http_status, e->code,
                e->detail);
    } else if ((r == KS_ERR_TPM_CMD || r == KS_ERR_TPM_TCTI) && *cmd) {
        fprintf(stderr, "ks-attest: %s: %s (%s: TSS2_RC 0x%08x)\n", what, ks_strerror(r), cmd, rc);
    } else {
        fprintf(stderr, "ks-attest: %s: %s%s%s\n", what, ks_strerror(r),
                e && e->detail[0] ? ": " : "", e ? e->detail : "");
    }
    return ks_error_exit_code(r);
}

static int save(const char *dir, struct ks_tpm_ak *ak, bool save_auth)
{
    uint8_t *pub = NULL, *priv = NULL;
    size_t pub_len = 0, priv_len = 0;
    char name[KS_TPM_NAME_HEX_MAX + 1];
    int r = ks_tpm_ak_public(ak, &pub, &pub_len);
    if (r == KS_OK) {
        r = ks_tpm_ak_name_hex(ak, name);
    }
    if (r == KS_OK && save_auth) {
        r = ks_tpm_ak_private(ak, &priv, &priv_len);
    }
    if (r == KS_OK) {
        size_t n = strlen(name);
        name[n] = '\n';
        r = write_file(dir, "ak.pub", pub, pub_len, 0644);
        if (r == KS_OK) {
            r = write_file(dir, "ak.name", (const uint8_t *)name, n + 1, 0644);
        }
    }
    if (r == KS_OK && save_auth) {
        r = write_file(dir, "ak.priv", priv, priv_len, 0600);
    }
    if (r == KS_OK && save_auth) {
        r = write_file(dir, "ak.auth", ks_tpm_ak_auth(ak), KS_TPM_AK_AUTH_LEN, 0600);
    }
    free(pub);
    free(priv);
    return r;
}

int ks_attest_cmd_enroll(int argc, char **argv)
{
    static const struct option opts[] = {
        {"server", required_argument, NULL, 's'},
        {"out-dir", required_argument, NULL, 'o'},
        {"tcti", required_argument, NULL, 't'},
        {"cacert", required_argument, NULL, 'c'},
        {"ek", required_argument, NULL, 'e'},
        {"no-ek-cert", no_argument, NULL, 'N'},
        {"rsa", no_argument, NULL, 'R'},
        {"save-auth", no_argument, NULL, 'S'},
        {"insecure-http", no_argument, NULL, 'I'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *server = NULL, *out_dir = NULL, *tcti = NULL;
    struct ks_http_opts http;
    struct ks_enroll_client_config cfg;
    bool rsa = false, save_auth = false;
    int c;
    memset(&http, 0, sizeof(http));
    memset(&cfg, 0, sizeof(cfg));
    cfg.ek_kind = KS_TPM_EK_RSA2048;
    cfg.send_cert = true;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            server = optarg;
            break;
        case 'o':
            out_dir = optarg;
            break;
        case 't':
            tcti = optarg;
            break;
        case 'c':
            http.cacert = optarg;
            break;
        case 'e':
            if (ks_tpm_ek_kind_parse(optarg, &cfg.ek_kind) != KS_OK) {
                fprintf(stderr, "ks-attest: enroll: --ek: rsa, ecc, ecc256 or ecc384\n");
                return 2;
            }
            break;
        case 'N':
            cfg.send_cert = false;
            break;
        case 'R':
            rsa = true;
            break;
        case 'S':
            save_auth = true;
            break;
        case 'I':
            http.allow_plain_http = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!server || !out_dir || optind != argc) {
        usage(stderr);
        return 2;
    }
    cfg.server = server;
    cfg.http = &http;
    struct ks_tpm *tpm = NULL;
    struct ks_tpm_ak *ak = NULL;
    struct ks_enroll_client_outcome out;
    struct ks_attest_error e;
    memset(&e, 0, sizeof(e));
    int rc;
    int r = ks_tpm_open(tcti, &tpm);
    if (r != KS_OK) {
        rc = fail(tpm, "cannot open the TPM", r, NULL);
        goto out;
    }
    if ((r = ks_tpm_ak_create(tpm, rsa ? KS_TPM_AK_RSA_2048 : KS_TPM_AK_ECC_P256, &ak)) != KS_OK) {
        rc = fail(tpm, "cannot create the AK", r, NULL);
        goto out;
    }
    if ((r = save(out_dir, ak, save_auth)) != KS_OK) {
        rc = ks_error_exit_code(r);
        goto out;
    }
    if ((r = ks_enroll_client_run(tpm, ak, &cfg, &out, &e)) != KS_OK) {
        rc = fail(tpm, "enrollment", r, &e);
        goto out;
    }
    printf("%s %s\n", out.ak_id, out.active ? "active" : "pending_ek_approval");
    rc = 0;
out:
    ks_tpm_ak_free(ak);
    ks_tpm_close(tpm);
    return rc;
}
