/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "attest.h"
#include "backend.h"
#include "encoding.h"
#include "file_util.h"
#include "loader_ak.h"
#include "loader_config.h"
#include "loader_ops.h"
#include "loader_server.h"
#include "pcr_select.h"
#include "program.h"
#include "secmem.h"
#include "shares.h"
#include "statement.h"
#include "weights_load.h"

/*
 * ks-loader: the trusted loader of the reference deployment (DESIGN
 * "Reference loader path", man ks-loader(8)). Started by ks-launch, which
 * measured this executable, its configuration and the CI key into the
 * application PCR. In order, failing closed at every step:
 *   1. secure memory (secmem.h), the configuration, the CI key, the sealed
 *      file's header, the backend: everything local before the network;
 *   2. the TPM: an AK (loader_ak.h), then the release of the weights DEK
 *      and the request key in one request (all or none), bound to a quote
 *      over the configured PCRs with the firmware and application logs;
 *      the receipt checked against the pinned receipt key; when the DEK is
 *      one share of a k-of-n split, the other shares from the [keyserver]
 *      sections (shares.h), combined; the AK flushed;
 *   3. the weights decrypted straight into the backend's locked memory,
 *      the DEK wiped;
 *   4. the socket served until SIGTERM.
 * Keys never leave secure memory; nothing secret is logged.
 */

#define APP_PCR_DEFAULT 15

struct args {
    const char *config, *ci_key, *app_log, *tcti;
    unsigned app_pcr;
    bool check_config;
};

static void err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ks-loader: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: ks-loader --config FILE --ci-key FILE [--app-log FILE] [--app-pcr N]\n"
            "                 [--tcti TCTI]\n"
            "       ks-loader --check-config --config FILE\n\n"
            "The trusted loader: attest to the keyserver, obtain the weights key and the\n"
            "request key, decrypt the weights into locked memory and serve the socket\n"
            "named in the configuration. Normally started by ks-launch, which measures\n"
            "it first; see ks-loader(8).\n\n"
            "  --config FILE   the configuration (ks-launch passes the measured copy)\n"
            "  --ci-key FILE   the CI public key (PEM Ed25519) programs must be signed by\n"
            "  --app-log FILE  the application log to send with the quote\n"
            "  --app-pcr N     the application PCR (default %d), quoted unless the\n"
            "                  configuration's pcrs says otherwise\n"
            "  --tcti TCTI     the TPM (default $KS_TCTI, else device:/dev/tpmrm0)\n"
            "  --check-config  only parse the configuration, say what it names, exit\n"
            "  --help          this text\n",
            APP_PCR_DEFAULT);
}

static int parse_args(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},  {"ci-key", required_argument, NULL, 'k'},
        {"app-log", required_argument, NULL, 'l'}, {"app-pcr", required_argument, NULL, 'p'},
        {"tcti", required_argument, NULL, 't'},    {"check-config", no_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    char *end = NULL;
    unsigned long v;
    int c;
    a->app_pcr = APP_PCR_DEFAULT;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            a->config = optarg;
            break;
        case 'k':
            a->ci_key = optarg;
            break;
        case 'l':
            a->app_log = optarg;
            break;
        case 'p':
            errno = 0;
            v = strtoul(optarg, &end, 10);
            if (errno || *end || end == optarg || v >= 24) {
                err("--app-pcr: expected 0..23");
                return 2;
            }
            a->app_pcr = (unsigned)v;
            break;
        case 't':
            a->tcti = optarg;
            break;
        case 'C':
            a->check_config = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!a->config || (!a->ci_key && !a->check_config) || optind != argc) {
        usage(stderr);
        return 2;
    }
    return -1;
}

/* Everything the loader holds; released by state_clear(). */
struct state {
    struct ks_loader_config cfg;
    EVP_PKEY *ci_key;
    int sealed_fd;
    struct ks_unseal *unseal;
    struct ks_backend *backend;
    struct ks_tpm *tpm;
    struct ks_tpm_ak *ak;
    uint8_t *dek;        /* libgcrypt secure memory */
    uint8_t *request_sk; /* libgcrypt secure memory */
    char request_name[KS_ATTEST_KEY_NAME_MAX + 1];
    uint32_t request_version;
    struct ks_weights_info weights;
    struct ks_loader_ops *ops;
};

static void state_clear(struct state *s)
{
    ks_loader_ops_free(s->ops);
    ks_secmem_free(s->dek, KS_SEAL_KEY_LEN);
    ks_secmem_free(s->request_sk, KS_HPKE_SK_LEN);
    ks_tpm_ak_free(s->ak);
    ks_tpm_close(s->tpm);
    ks_backend_close(s->backend);
    ks_unseal_free(s->unseal);
    if (s->sealed_fd >= 0) {
        close(s->sealed_fd);
    }
    EVP_PKEY_free(s->ci_key);
    ks_loader_config_clear(&s->cfg);
}

static int read_config(const struct args *a, struct state *s)
{
    uint8_t *text = NULL;
    size_t len = 0;
    char msg[256];
    int r = ks_file_read(a->config, KS_LOADER_CONFIG_MAX, &text, &len);
    if (r != KS_OK) {
        err("cannot read the configuration '%s': %s", a->config, ks_strerror(r));
        return r;
    }
    r = ks_loader_config_parse((const char *)text, len, &s->cfg, msg, sizeof(msg));
    free(text);
    if (r != KS_OK) {
        err("configuration: %s", msg);
    }
    return r;
}

/* Step 1: everything local. */
static int prepare(const struct args *a, struct state *s, char *dek_ref, size_t dek_ref_len)
{
    char note[256] = "";
    int r = ks_program_load_public_key(a->ci_key, &s->ci_key);
    if (r != KS_OK) {
        err("cannot load the CI key '%s': %s", a->ci_key, ks_strerror(r));
        return r;
    }
    char name[KS_ATTEST_KEY_NAME_MAX + 1] = "";
    uint32_t version = 0;
    if (s->cfg.dek && ks_attest_key_ref_parse(s->cfg.dek, name, &version) != KS_OK) {
        return KS_ERR_LOADER_CONFIG;
    }
    s->sealed_fd = open(s->cfg.sealed, O_RDONLY | O_CLOEXEC);
    if (s->sealed_fd < 0) {
        err("cannot open the sealed weights '%s': %s", s->cfg.sealed, strerror(errno));
        return KS_ERR_IO;
    }
    r = ks_unseal_open(s->sealed_fd, s->cfg.dek ? name : NULL, version, &s->unseal);
    if (r != KS_OK) {
        err("sealed weights '%s': %s", s->cfg.sealed, ks_strerror(r));
        return r;
    }
    const struct ks_seal_header *h = ks_unseal_header(s->unseal);
    snprintf(dek_ref, dek_ref_len, "%s@%u", h->key_name, (unsigned)h->key_version);
    r = ks_backend_open(s->cfg.backend, &s->backend, note, sizeof(note));
    if (note[0]) {
        err("backend: %s", note);
    }
    if (r != KS_OK) {
        err("cannot open the backend '%s': %s", s->cfg.backend, ks_strerror(r));
    }
    return r;
}

static void flush_ak(struct state *s)
{
    ks_tpm_ak_free(s->ak);
    s->ak = NULL;
    ks_tpm_close(s->tpm);
    s->tpm = NULL;
}

/* Step 2: attest and receive the keys. */
static int obtain_keys(const struct args *a, struct state *s, const char *dek_ref)
{
    char pcrs[64];
    TPML_PCR_SELECTION sel;
    struct ks_attest_result *res = NULL;
    struct ks_attest_error serr;
    char ak_id[KS_TPM_NAME_HEX_MAX];
    memset(&serr, 0, sizeof(serr));
    if (s->cfg.pcrs) {
        snprintf(pcrs, sizeof(pcrs), "%s", s->cfg.pcrs);
    } else {
        snprintf(pcrs, sizeof(pcrs), "sha256:0-7,%u", a->app_pcr);
    }
    if (ks_pcr_select_parse(pcrs, &sel) != KS_OK) {
        err("invalid PCR selection '%s'", pcrs);
        return KS_ERR_LOADER_CONFIG;
    }
    const struct ks_http_opts http = {.cacert = s->cfg.cacert,
                                      .pinned_key = s->cfg.tls_pin,
                                      .allow_plain_http = s->cfg.insecure_http};
    int r = ks_tpm_open(a->tcti, &s->tpm);
    if (r != KS_OK) {
        err("cannot open the TPM: %s", ks_strerror(r));
        return r;
    }
    const struct ks_loader_ak_config akc = {
        .keyserver = s->cfg.keyserver,
        .http = &http,
        .ek_kind = s->cfg.ek_kind,
        .send_ek_cert = s->cfg.ek_cert,
        .ak_dir = s->cfg.ak_dir,
    };
    r = ks_loader_ak_get(s->tpm, &akc, &s->ak);
    if (r == KS_OK) {
        r = ks_tpm_ak_name_hex(s->ak, ak_id);
    }
    if (r != KS_OK) {
        return r;
    }
    err("attestation key %s", ak_id);
    const char *keys[] = {dek_ref, s->cfg.request_key};
    const struct ks_attest_config ac = {
        .server = s->cfg.keyserver,
        .http = &http,
        .keys = keys,
        .n_keys = 2,
        .sel = &sel,
        .event_log_path = s->cfg.event_log,
        .ima_log_path = s->cfg.ima_log,
        .app_log_path = a->app_log,
        .cbor = s->cfg.request_cbor,
    };
    r = ks_attest_release(s->tpm, s->ak, &ac, &res, &serr);
    if (r != KS_OK) {
        if (serr.http_status) {
            err("release refused: HTTP %ld %s%s%s", serr.http_status,
                serr.code[0] ? serr.code : "(no code)", serr.detail[0] ? ": " : "", serr.detail);
        } else {
            const char *cmd = "";
            uint32_t rc = ks_tpm_last_rc(s->tpm, &cmd);
            if (*cmd) {
                err("release failed: %s (%s: TSS2_RC 0x%08x)", ks_strerror(r), cmd, rc);
            } else {
                err("release failed: %s", ks_strerror(r));
            }
        }
        goto out;
    }
    /* The AK has quoted what it had to (a share DEK: once more for each
     * share keyserver): flush it then, so that nothing can quote with it
     * later. */
    bool shared = res->keys[0].share_index != 0;
    if (!shared) {
        flush_ak(s);
    }
    r = ks_statement_receipt_check(s->cfg.receipt_key, s->cfg.receipt_key_len, res, ak_id);
    if (r != KS_OK) {
        err("the release receipt does not verify with the pinned receipt key: %s", ks_strerror(r));
        goto out;
    }
    if (res->keys[0].key_len != KS_SEAL_KEY_LEN || res->keys[1].key_len != KS_HPKE_SK_LEN) {
        err("released keys of the wrong size (%s must be a DEK, %s an HPKE key)", keys[0], keys[1]);
        r = KS_ERR_RECEIPT_MISMATCH;
        goto out;
    }
    s->dek = ks_secmem_alloc(KS_SEAL_KEY_LEN);
    s->request_sk = ks_secmem_alloc(KS_HPKE_SK_LEN);
    if (!s->dek || !s->request_sk) {
        r = KS_ERR_SECMEM;
        goto out;
    }
    if (shared) {
        const struct ks_shares_flow flow = {
            .tpm = s->tpm,
            .ak = s->ak,
            .ak_id = ak_id,
            .ek_kind = s->cfg.ek_kind,
            .send_ek_cert = s->cfg.ek_cert,
            .ak_registered = s->cfg.ak_dir != NULL,
            .dek_ref = dek_ref,
            .sel = &sel,
            .event_log_path = s->cfg.event_log,
            .ima_log_path = s->cfg.ima_log,
            .app_log_path = a->app_log,
        };
        r = ks_shares_obtain(&flow, &res->keys[0], s->cfg.share_servers, s->cfg.n_share_servers,
                             s->dek, KS_SEAL_KEY_LEN);
        flush_ak(s);
        if (r != KS_OK) {
            goto out;
        }
    } else {
        if (s->cfg.n_share_servers > 0) {
            err("%s@%u is a whole key: the %zu [keyserver] section(s) are not used",
                res->keys[0].name, (unsigned)res->keys[0].version, s->cfg.n_share_servers);
        }
        memcpy(s->dek, res->keys[0].key, KS_SEAL_KEY_LEN);
    }
    memcpy(s->request_sk, res->keys[1].key, KS_HPKE_SK_LEN);
    snprintf(s->request_name, sizeof(s->request_name), "%s", res->keys[1].name);
    s->request_version = res->keys[1].version;
    err("released %s@%u and %s@%u; receipt verified", res->keys[0].name,
        (unsigned)res->keys[0].version, res->keys[1].name, (unsigned)res->keys[1].version);
out:
    /* On every path: nothing quotes with the AK after the releases. */
    flush_ak(s);
    ks_attest_result_free(res); /* wipes the OpenSSL copies */
    return r;
}

/* Step 3: the weights. */
static int load_weights(struct state *s)
{
    char hex[65];
    struct timespec t0, t1;
    const struct ks_weights_load_opts opts = {
        .threads = s->cfg.unseal_threads,
        .allow_unlocked = s->cfg.allow_unlocked,
    };
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int r = ks_weights_load_sealed(s->backend, s->unseal, s->dek, &opts, &s->weights);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* The DEK has done its work: it goes now, whatever happened. */
    ks_secmem_free(s->dek, KS_SEAL_KEY_LEN);
    s->dek = NULL;
    ks_unseal_free(s->unseal);
    s->unseal = NULL;
    close(s->sealed_fd);
    s->sealed_fd = -1;
    if (r != KS_OK) {
        err("cannot unseal the weights '%s': %s", s->cfg.sealed, ks_strerror(r));
        return r;
    }
    ks_hex_encode(s->weights.sha256, 32, hex);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    err("weights unsealed into the %s backend: %llu bytes, sha256 %s, model D=%u L=%u H=%u "
        "F=%u S=%u (%.1f ms)",
        ks_backend_name(s->backend), (unsigned long long)s->weights.len, hex,
        s->weights.dims.d_model, s->weights.dims.n_layers, s->weights.dims.n_heads,
        s->weights.dims.d_ff, s->weights.dims.max_seq, ms);
    return KS_OK;
}

static int generate(void *ctx, const uint8_t *prompt, size_t len, size_t n_new, uint8_t *out,
                    size_t *out_len)
{
    return ks_backend_generate(ctx, prompt, len, n_new, out, out_len);
}

static void on_ready(void *ctx)
{
    err("serving on %s", (const char *)ctx);
}

/* Step 4. */
static int serve(struct state *s)
{
    const struct ks_loader_ops_config oc = {
        .key_name = s->request_name,
        .key_version = s->request_version,
        .request_sk = s->request_sk,
        .ci_key = s->ci_key,
        .weights_sha256 = s->weights.sha256,
        .dims = &s->weights.dims,
        .egress_bytes = s->cfg.egress_bytes,
        .egress_window = s->cfg.egress_window,
        .replay_window = s->cfg.replay_window,
        .replay_cache = s->cfg.replay_cache,
        .allow_unlocked = s->cfg.allow_unlocked,
        .generate = generate,
        .generate_ctx = s->backend,
    };
    int r = ks_loader_ops_new(&oc, (uint64_t)time(NULL), &s->ops);
    if (r != KS_OK) {
        err("cannot set up the request handling: %s", ks_strerror(r));
        return r;
    }
    const struct ks_loader_server_config sc = {
        .path = s->cfg.socket,
        .mode = s->cfg.socket_mode,
        .max_connections = s->cfg.max_connections,
        .idle_timeout = s->cfg.idle_timeout,
    };
    r = ks_loader_serve(&sc, s->ops, on_ready, s->cfg.socket);
    if (r != KS_OK) {
        err("socket %s: %s", s->cfg.socket, ks_strerror(r));
    }
    return r;
}

int main(int argc, char **argv)
{
    struct args a;
    struct state s;
    char dek_ref[KS_ATTEST_KEY_REF_MAX + 1];
    char note[256] = "";
    memset(&a, 0, sizeof(a));
    memset(&s, 0, sizeof(s));
    s.sealed_fd = -1;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) {
        return rc;
    }
    signal(SIGPIPE, SIG_IGN);
    int r = read_config(&a, &s);
    if (a.check_config) {
        if (r == KS_OK) {
            printf("ks-loader: configuration OK: keyserver %s, %zu share keyserver(s), sealed "
                   "weights %s, socket %s\n",
                   s.cfg.keyserver, s.cfg.n_share_servers, s.cfg.sealed, s.cfg.socket);
        }
        state_clear(&s);
        return r == KS_OK ? 0 : 2;
    }
    if (r == KS_OK) {
        r = ks_secmem_init(0, s.cfg.allow_unlocked, note, sizeof(note));
        if (r != KS_OK) {
            err("secure memory: %s%s", note,
                s.cfg.allow_unlocked ? "" : " (allow_unlocked = yes relaxes the mlock check)");
        }
    }
    if (r == KS_OK && ks_http_global_init() != KS_OK) {
        err("cannot initialise libcurl");
        r = KS_ERR_INTERNAL;
    }
    if (r == KS_OK) {
        r = prepare(&a, &s, dek_ref, sizeof(dek_ref));
    }
    if (r == KS_OK) {
        r = obtain_keys(&a, &s, dek_ref);
    }
    if (r == KS_OK) {
        r = load_weights(&s);
    }
    if (r == KS_OK) {
        r = serve(&s);
    }
    state_clear(&s);
    ks_http_global_cleanup();
    if (r != KS_OK) {
        err("stopped: %s", ks_strerror(r));
    }
    return ks_error_exit_code(r);
}
