/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "attest.h"
#include "encoding.h"
#include "file_util.h"
#include "http_client.h"
#include "ks_attest_enroll.h"
#include "pcr_select.h"
#include "tpm_esys.h"

/*
 * ks-attest: the reference loader's attestation client as a command-line
 * tool, for debugging and for the integration tests of the reference
 * deployment. Exit codes as ksctl's: 0 ok, 1 refused / invalid data,
 * 2 usage error, 3 internal or system error (TPM, network).
 */

#define SECURE_HEAP_SIZE (64 * 1024)
#define SECURE_HEAP_MIN 16
/* AK files are small TPM structures. */
#define AK_FILE_MAX (16 * 1024)

static void err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ks-attest: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: ks-attest COMMAND [OPTIONS]\n\n"
               "The reference loader's attestation client (a debugging and test tool).\n\n"
               "Commands:\n"
               "  ak-create   create an attestation key and write its public part\n"
               "  enroll      create an attestation key and enroll it through the EK\n"
               "  quote       quote PCRs with a saved attestation key (for ksctl quote verify)\n"
               "  release     attest to a keyserver and receive keys\n\n"
               "Run 'ks-attest COMMAND --help' for the options of each command.\n"
               "Exit status: 0 ok, 1 refused or invalid data, 2 usage error, 3 internal,\n"
               "TPM or network error.\n");
}

static void usage_ak_create(FILE *f)
{
    fprintf(f,
            "Usage: ks-attest ak-create --out-dir DIR [--tcti TCTI] [--rsa] [--save-auth]\n\n"
            "Create an attestation key (AK) under a transient storage primary key of the\n"
            "owner hierarchy: restricted, sign, fixedTPM, fixedParent, sensitiveDataOrigin,\n"
            "userWithAuth; ECC P-256 with ECDSA-SHA256 (default) or RSA-2048 with\n"
            "RSASSA-SHA256 (--rsa); a random 32-byte authValue. Writes DIR/ak.pub\n"
            "(TPM2B_PUBLIC) and DIR/ak.name (its TPM Name in hex, the keyserver's ak_id).\n"
            "Every transient object is flushed before the command ends.\n\n"
            "  --out-dir DIR  where to write the files\n"
            "  --tcti TCTI    the TPM (default $KS_TCTI, else %s);\n"
            "                 e.g. swtpm:host=127.0.0.1,port=2321\n"
            "  --rsa          RSA-2048 instead of ECC P-256\n"
            "  --save-auth    TEST ONLY: also write DIR/ak.priv (TPM2B_PRIVATE) and\n"
            "                 DIR/ak.auth (the authValue, mode 0600), so that later runs\n"
            "                 (quote, release --ak-dir) can load the same AK, e.g. after an\n"
            "                 admin registered it. Anyone who can read ak.auth can quote with\n"
            "                 the AK. The real loader never stores its AK: it makes one at\n"
            "                 each start and the AK dies with the process.\n"
            "  --help         this text\n",
            KS_TPM_DEFAULT_TCTI);
}

static void usage_quote(FILE *f)
{
    fprintf(f,
            "Usage: ks-attest quote --ak-dir DIR --nonce HEX --pcrs SELECTION --out-dir DIR\n"
            "                       [--tcti TCTI]\n\n"
            "Quote PCRs with an AK saved by 'ak-create --save-auth' (TEST ONLY), read the\n"
            "quoted PCRs and check them against the quote's digest (quoting again if a PCR\n"
            "changed in between). Writes OUT/attest (the TPMS_ATTEST), OUT/sig (the\n"
            "TPMT_SIGNATURE) and OUT/pcrs (the quoted PCR values concatenated in selection\n"
            "order), the inputs of 'ksctl quote verify --attest --sig --pcrs'.\n\n"
            "  --ak-dir DIR     the AK files (ak.pub, ak.priv, ak.auth)\n"
            "  --nonce HEX      the qualifying data (extraData), up to %d bytes; \"\" for none\n"
            "  --pcrs SEL       e.g. sha256:0-7,15 or sha1:0,7+sha256:0,1,2\n"
            "  --out-dir DIR    where to write attest, sig and pcrs\n"
            "  --tcti TCTI      the TPM (default $KS_TCTI, else %s)\n"
            "  --help           this text\n",
            KS_TPM_QUALIFYING_MAX, KS_TPM_DEFAULT_TCTI);
}

static void usage_release(FILE *f)
{
    fprintf(f,
            "Usage: ks-attest release --server URL --key NAME [--key NAME...] --pcrs SEL\n"
            "                         [--cacert FILE] [--pin sha256//BASE64] [--tcti TCTI]\n"
            "                         [--ak-dir DIR | --rsa] [--eventlog FILE]\n"
            "                         [--ima-log FILE] [--app-log FILE] [--out-dir DIR]\n"
            "                         [--encoding cbor|json] [--insecure-http]\n\n"
            "Attest to a keyserver and receive keys: POST /v1/challenge, a fresh HPKE key\n"
            "pair, a quote bound to the nonce and the HPKE key, POST /v1/release, and the\n"
            "released keys decrypted. Prints 'NAME VERSION' for each key.\n\n"
            "  --server URL      the keyserver's base URL (https://HOST:PORT)\n"
            "  --key NAME        a key to release: NAME (active version) or NAME@VERSION;\n"
            "                    repeat for several (all or none are released)\n"
            "  --pcrs SEL        the PCRs to quote, e.g. sha256:0-7,15\n"
            "  --cacert FILE     CA certificate(s) (PEM) to verify the server with\n"
            "                    (default: the system store)\n"
            "  --pin PIN         also require the server's public key: sha256//BASE64 of\n"
            "                    its SubjectPublicKeyInfo (curl's --pinnedpubkey)\n"
            "  --tcti TCTI       the TPM (default $KS_TCTI, else %s)\n"
            "  --ak-dir DIR      TEST ONLY: use the AK saved by 'ak-create --save-auth'\n"
            "                    (without it, a fresh AK is made, as the real loader does)\n"
            "  --rsa             a fresh RSA-2048 AK instead of ECC P-256\n"
            "  --eventlog FILE   the TCG firmware event log to send (binary)\n"
            "  --ima-log FILE    the IMA log to send (binary_runtime_measurements)\n"
            "  --app-log FILE    the application log to send (the measured launcher's)\n"
            "  --out-dir DIR     TEST ONLY: write each key to DIR/NAME.key (mode 0600) and\n"
            "                    the receipt to DIR/receipt.payload and DIR/receipt.sig, so\n"
            "                    that a test can compare them. The real loader never writes\n"
            "                    keys anywhere: they stay in its locked memory.\n"
            "  --encoding ENC    the release request's body: json (the default) or cbor\n"
            "                    (application/cbor, the logs as raw bytes; ks-loader's\n"
            "                    default); the answers are JSON either way\n"
            "  --insecure-http   allow a plain http:// URL (tests only)\n"
            "  --help            this text\n",
            KS_TPM_DEFAULT_TCTI);
}

/* Write a file (replacing it) with the given mode, not following a
 * symlink at the final component. */
static int write_file(const char *dir, const char *name, const uint8_t *buf, size_t len,
                      mode_t mode)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
        err("path too long: %s/%s", dir, name);
        return KS_ERR_INVALID_ARG;
    }
    /* Create the output directory (one level) so that a released key is
     * never lost to a missing folder; private to the user. */
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        err("cannot create %s: %s", dir, strerror(errno));
        return KS_ERR_IO;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        err("cannot create %s: %s", path, strerror(errno));
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
        err("cannot write %s: %s", path, strerror(errno));
    }
    return r;
}

static int read_file(const char *dir, const char *name, uint8_t **buf, size_t *len)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
        err("path too long: %s/%s", dir, name);
        return KS_ERR_INVALID_ARG;
    }
    int r = ks_file_read(path, AK_FILE_MAX, buf, len);
    if (r != KS_OK) {
        err("cannot read %s: %s", path, ks_strerror(r));
    }
    return r;
}

/* Report a failure once, with the TPM's return code when a TPM command
 * failed, and give the exit status. */
static int fail(struct ks_tpm *tpm, const char *what, int r)
{
    const char *cmd = "";
    uint32_t rc = ks_tpm_last_rc(tpm, &cmd);
    if ((r == KS_ERR_TPM_CMD || r == KS_ERR_TPM_TCTI) && *cmd) {
        err("%s: %s (%s: TSS2_RC 0x%08x)", what, ks_strerror(r), cmd, rc);
    } else {
        err("%s: %s", what, ks_strerror(r));
    }
    return ks_error_exit_code(r);
}

/* Load the test-only AK files of dir. */
static int load_ak(struct ks_tpm *tpm, const char *dir, struct ks_tpm_ak **ret_ak)
{
    uint8_t *priv = NULL, *pub = NULL, *auth = NULL;
    size_t priv_len = 0, pub_len = 0, auth_len = 0;
    int r = read_file(dir, "ak.priv", &priv, &priv_len);
    if (r == KS_OK) {
        r = read_file(dir, "ak.pub", &pub, &pub_len);
    }
    if (r == KS_OK) {
        r = read_file(dir, "ak.auth", &auth, &auth_len);
    }
    if (r != KS_OK) {
        r = KS_ERR_NOT_FOUND; /* a usage problem: the files are the user's */
        goto out;
    }
    r = ks_tpm_ak_load(tpm, priv, priv_len, pub, pub_len, auth, auth_len, ret_ak);
    if (r != KS_OK) {
        fail(tpm, "cannot load the AK", r);
    }
out:
    if (auth) {
        OPENSSL_cleanse(auth, auth_len);
    }
    free(auth);
    free(priv);
    free(pub);
    return r;
}

static int cmd_ak_create(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out-dir", required_argument, NULL, 'o'}, {"tcti", required_argument, NULL, 't'},
        {"rsa", no_argument, NULL, 'R'},           {"save-auth", no_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    const char *out_dir = NULL, *tcti = NULL;
    bool rsa = false, save_auth = false;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out_dir = optarg;
            break;
        case 't':
            tcti = optarg;
            break;
        case 'R':
            rsa = true;
            break;
        case 'S':
            save_auth = true;
            break;
        case 'h':
            usage_ak_create(stdout);
            return 0;
        default:
            usage_ak_create(stderr);
            return 2;
        }
    }
    if (!out_dir || optind != argc) {
        usage_ak_create(stderr);
        return 2;
    }

    struct ks_tpm *tpm = NULL;
    struct ks_tpm_ak *ak = NULL;
    uint8_t *pub = NULL, *priv = NULL;
    size_t pub_len = 0, priv_len = 0;
    char name[KS_TPM_NAME_HEX_MAX + 1];
    int rc;
    int r = ks_tpm_open(tcti, &tpm);
    if (r != KS_OK) {
        rc = fail(tpm, "cannot open the TPM", r);
        goto out;
    }
    r = ks_tpm_ak_create(tpm, rsa ? KS_TPM_AK_RSA_2048 : KS_TPM_AK_ECC_P256, &ak);
    if (r != KS_OK) {
        rc = fail(tpm, "cannot create the AK", r);
        goto out;
    }
    r = ks_tpm_ak_public(ak, &pub, &pub_len);
    if (r == KS_OK) {
        r = ks_tpm_ak_name_hex(ak, name);
    }
    if (r == KS_OK && save_auth) {
        r = ks_tpm_ak_private(ak, &priv, &priv_len);
    }
    if (r != KS_OK) {
        rc = fail(tpm, "cannot export the AK", r);
        goto out;
    }
    size_t nlen = strlen(name);
    name[nlen] = '\n';
    r = write_file(out_dir, "ak.pub", pub, pub_len, 0644);
    if (r == KS_OK) {
        r = write_file(out_dir, "ak.name", (const uint8_t *)name, nlen + 1, 0644);
    }
    if (r == KS_OK && save_auth) {
        r = write_file(out_dir, "ak.priv", priv, priv_len, 0600);
    }
    if (r == KS_OK && save_auth) {
        r = write_file(out_dir, "ak.auth", ks_tpm_ak_auth(ak), KS_TPM_AK_AUTH_LEN, 0600);
    }
    name[nlen] = '\0';
    if (r != KS_OK) {
        rc = ks_error_exit_code(r);
        goto out;
    }
    printf("%s\n", name);
    rc = 0;
out:
    free(pub);
    free(priv);
    ks_tpm_ak_free(ak);
    ks_tpm_close(tpm);
    return rc;
}

static int cmd_quote(int argc, char **argv)
{
    static const struct option opts[] = {
        {"ak-dir", required_argument, NULL, 'a'},
        {"nonce", required_argument, NULL, 'n'},
        {"pcrs", required_argument, NULL, 'p'},
        {"out-dir", required_argument, NULL, 'o'},
        {"tcti", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *ak_dir = NULL, *nonce_hex = NULL, *pcrs = NULL, *out_dir = NULL, *tcti = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            ak_dir = optarg;
            break;
        case 'n':
            nonce_hex = optarg;
            break;
        case 'p':
            pcrs = optarg;
            break;
        case 'o':
            out_dir = optarg;
            break;
        case 't':
            tcti = optarg;
            break;
        case 'h':
            usage_quote(stdout);
            return 0;
        default:
            usage_quote(stderr);
            return 2;
        }
    }
    if (!ak_dir || !nonce_hex || !pcrs || !out_dir || optind != argc) {
        usage_quote(stderr);
        return 2;
    }
    TPML_PCR_SELECTION sel;
    if (ks_pcr_select_parse(pcrs, &sel) != KS_OK) {
        err("invalid PCR selection '%s' (e.g. sha256:0-7,15 or sha1:0+sha256:0,1)", pcrs);
        return 2;
    }
    uint8_t *nonce = NULL;
    size_t nonce_len = 0;
    if (ks_hex_decode(nonce_hex, &nonce, &nonce_len) != KS_OK ||
        nonce_len > KS_TPM_QUALIFYING_MAX) {
        err("--nonce: expected at most %d bytes in hex", KS_TPM_QUALIFYING_MAX);
        free(nonce);
        return 2;
    }

    struct ks_tpm *tpm = NULL;
    struct ks_tpm_ak *ak = NULL;
    struct ks_tpm_quote q;
    uint8_t *values = NULL;
    size_t values_len = 0;
    int rc;
    memset(&q, 0, sizeof(q));
    int r = ks_tpm_open(tcti, &tpm);
    if (r != KS_OK) {
        rc = fail(tpm, "cannot open the TPM", r);
        goto out;
    }
    r = load_ak(tpm, ak_dir, &ak);
    if (r != KS_OK) {
        rc = ks_error_exit_code(r);
        goto out;
    }
    r = ks_tpm_quote(tpm, ak, nonce, nonce_len, &sel, &q);
    if (r != KS_OK) {
        rc = fail(tpm, "quote failed", r);
        goto out;
    }
    r = ks_pcr_select_values(&q.sel, &q.pcrs, &values, &values_len);
    if (r != KS_OK) {
        rc = fail(tpm, "quote failed", r);
        goto out;
    }
    r = write_file(out_dir, "attest", q.attest, q.attest_len, 0644);
    if (r == KS_OK) {
        r = write_file(out_dir, "sig", q.sig, q.sig_len, 0644);
    }
    if (r == KS_OK) {
        r = write_file(out_dir, "pcrs", values, values_len, 0644);
    }
    rc = ks_error_exit_code(r);
out:
    free(values);
    free(nonce);
    ks_tpm_quote_clear(&q);
    ks_tpm_ak_free(ak);
    ks_tpm_close(tpm);
    return rc;
}

static int write_release(const char *dir, const struct ks_attest_result *res)
{
    int r = KS_OK;
    for (size_t i = 0; r == KS_OK && i < res->n_keys; i++) {
        char name[KS_ATTEST_KEY_NAME_MAX + 8];
        /* Key names are [A-Za-z0-9._-]{1,64}: no '/' can reach the path. */
        snprintf(name, sizeof(name), "%s.key", res->keys[i].name);
        r = write_file(dir, name, res->keys[i].key, res->keys[i].key_len, 0600);
    }
    if (r == KS_OK) {
        r = write_file(dir, "receipt.payload", res->receipt_payload, res->receipt_payload_len,
                       0644);
    }
    if (r == KS_OK) {
        r = write_file(dir, "receipt.sig", res->receipt_signature, res->receipt_signature_len,
                       0644);
    }
    return r;
}

struct release_args {
    const char *server, *cacert, *pin, *tcti, *ak_dir, *out_dir;
    const char *eventlog, *ima_log, *app_log, *pcrs;
    const char *keys[KS_ATTEST_MAX_KEYS];
    size_t n_keys;
    bool rsa, insecure_http, cbor;
};

static int parse_release_args(int argc, char **argv, struct release_args *a)
{
    static const struct option opts[] = {
        {"server", required_argument, NULL, 's'},
        {"cacert", required_argument, NULL, 'c'},
        {"pin", required_argument, NULL, 'P'},
        {"tcti", required_argument, NULL, 't'},
        {"key", required_argument, NULL, 'k'},
        {"pcrs", required_argument, NULL, 'p'},
        {"ak-dir", required_argument, NULL, 'a'},
        {"rsa", no_argument, NULL, 'R'},
        {"eventlog", required_argument, NULL, 'e'},
        {"ima-log", required_argument, NULL, 'i'},
        {"app-log", required_argument, NULL, 'l'},
        {"out-dir", required_argument, NULL, 'o'},
        {"insecure-http", no_argument, NULL, 'H'},
        {"encoding", required_argument, NULL, 'E'}, /* cbor|json */
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            a->server = optarg;
            break;
        case 'E':
            if (strcmp(optarg, "cbor") != 0 && strcmp(optarg, "json") != 0) {
                err("--encoding '%s': expected cbor or json", optarg);
                return 2;
            }
            a->cbor = optarg[0] == 'c';
            break;
        case 'c':
            a->cacert = optarg;
            break;
        case 'P':
            a->pin = optarg;
            break;
        case 't':
            a->tcti = optarg;
            break;
        case 'k':
            if (a->n_keys == KS_ATTEST_MAX_KEYS) {
                err("at most %d keys per release", KS_ATTEST_MAX_KEYS);
                return 2;
            }
            if (ks_attest_key_ref_parse(optarg, NULL, NULL) != KS_OK) {
                err("--key '%s': expected NAME or NAME@VERSION, NAME of [A-Za-z0-9._-]{1,64}",
                    optarg);
                return 2;
            }
            a->keys[a->n_keys++] = optarg;
            break;
        case 'p':
            a->pcrs = optarg;
            break;
        case 'a':
            a->ak_dir = optarg;
            break;
        case 'R':
            a->rsa = true;
            break;
        case 'e':
            a->eventlog = optarg;
            break;
        case 'i':
            a->ima_log = optarg;
            break;
        case 'l':
            a->app_log = optarg;
            break;
        case 'o':
            a->out_dir = optarg;
            break;
        case 'H':
            a->insecure_http = true;
            break;
        case 'h':
            usage_release(stdout);
            return 0;
        default:
            usage_release(stderr);
            return 2;
        }
    }
    if (!a->server || a->n_keys == 0 || !a->pcrs || optind != argc || (a->ak_dir && a->rsa)) {
        usage_release(stderr);
        return 2;
    }
    return -1;
}

static int cmd_release(int argc, char **argv)
{
    struct release_args a;
    memset(&a, 0, sizeof(a));
    int rc = parse_release_args(argc, argv, &a);
    if (rc >= 0) {
        return rc;
    }
    TPML_PCR_SELECTION sel;
    if (ks_pcr_select_parse(a.pcrs, &sel) != KS_OK) {
        err("invalid PCR selection '%s' (e.g. sha256:0-7,15 or sha1:0+sha256:0,1)", a.pcrs);
        return 2;
    }
    /* Refuse unreadable inputs, a bad URL or CA file before a nonce is
     * spent or the TPM is used. */
    const char *const inputs[] = {a.eventlog, a.ima_log, a.app_log};
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        if (inputs[i] && access(inputs[i], R_OK) != 0) {
            err("cannot read '%s': %s", inputs[i], strerror(errno));
            return 2;
        }
    }
    const struct ks_http_opts http = {
        .cacert = a.cacert, .pinned_key = a.pin, .allow_plain_http = a.insecure_http};
    struct ks_http_client *probe = NULL;
    int r = ks_http_client_new(a.server, &http, &probe);
    ks_http_client_free(probe);
    if (r == KS_ERR_INVALID_ARG) {
        err("--server '%s': expected https://HOST[:PORT]%s", a.server,
            a.insecure_http ? " or http://HOST[:PORT]" : "");
        return 2;
    }
    if (r == KS_ERR_IO) {
        err("--cacert '%s': cannot read it", a.cacert);
        return 2;
    }
    if (r != KS_OK) {
        err("cannot set up HTTPS: %s", ks_strerror(r));
        return ks_error_exit_code(r);
    }

    struct ks_tpm *tpm = NULL;
    struct ks_tpm_ak *ak = NULL;
    struct ks_attest_result *res = NULL;
    struct ks_attest_error serr;
    memset(&serr, 0, sizeof(serr));
    r = ks_tpm_open(a.tcti, &tpm);
    if (r != KS_OK) {
        rc = fail(tpm, "cannot open the TPM", r);
        goto out;
    }
    if (a.ak_dir) {
        r = load_ak(tpm, a.ak_dir, &ak);
        if (r != KS_OK) {
            rc = ks_error_exit_code(r);
            goto out;
        }
    } else {
        r = ks_tpm_ak_create(tpm, a.rsa ? KS_TPM_AK_RSA_2048 : KS_TPM_AK_ECC_P256, &ak);
        if (r != KS_OK) {
            rc = fail(tpm, "cannot create the AK", r);
            goto out;
        }
    }
    const struct ks_attest_config cfg = {
        .server = a.server,
        .http = &http,
        .keys = a.keys,
        .n_keys = a.n_keys,
        .sel = &sel,
        .event_log_path = a.eventlog,
        .ima_log_path = a.ima_log,
        .app_log_path = a.app_log,
        .cbor = a.cbor,
    };
    r = ks_attest_release(tpm, ak, &cfg, &res, &serr);
    if (r != KS_OK) {
        if (serr.http_status != 0) {
            err("release refused: HTTP %ld %s%s%s (%s)", serr.http_status,
                serr.code[0] ? serr.code : "(no error code)", serr.detail[0] ? ": " : "",
                serr.detail, ks_strerror(r));
            rc = ks_error_exit_code(r);
        } else {
            rc = fail(tpm, "release failed", r);
        }
        goto out;
    }
    for (size_t i = 0; i < res->n_keys; i++) {
        printf("%s %u\n", res->keys[i].name, (unsigned)res->keys[i].version);
    }
    rc = 0;
    if (a.out_dir) {
        rc = ks_error_exit_code(write_release(a.out_dir, res));
    }
out:
    ks_attest_result_free(res);
    ks_tpm_ak_free(ak);
    ks_tpm_close(tpm);
    return rc;
}

int main(int argc, char **argv)
{
    int rc;
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("ks-attest (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
        return 0;
    }
    /* Secrets (the AK's authValue, the HPKE private key, released keys) go
     * to OpenSSL's secure heap: locked and kept out of core dumps. */
    int sh = CRYPTO_secure_malloc_init(SECURE_HEAP_SIZE, SECURE_HEAP_MIN);
    if (sh != 1) {
        err("warning: %s; secrets may be swapped out",
            sh == 0 ? "no secure heap" : "secure heap not locked (RLIMIT_MEMLOCK?)");
    }
    if (ks_http_global_init() != KS_OK) {
        err("cannot initialize libcurl");
        return 3;
    }
    /* Each subcommand parses its own options; argv[0] becomes its name. */
    if (strcmp(argv[1], "ak-create") == 0) {
        rc = cmd_ak_create(argc - 1, argv + 1);
    } else if (strcmp(argv[1], "quote") == 0) {
        rc = cmd_quote(argc - 1, argv + 1);
    } else if (strcmp(argv[1], "release") == 0) {
        rc = cmd_release(argc - 1, argv + 1);
    } else if (strcmp(argv[1], "enroll") == 0) {
        rc = ks_attest_cmd_enroll(argc - 1, argv + 1);
    } else {
        err("unknown command '%s'", argv[1]);
        usage(stderr);
        rc = 2;
    }
    fflush(stdout);
    ks_http_global_cleanup();
    if (CRYPTO_secure_malloc_initialized()) {
        CRYPTO_secure_malloc_done();
    }
    return rc;
}
