/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "attest.h"
#include "encoding.h"
#include "file_util.h"
#include "frame.h"
#include "http_client.h"
#include "infer.h"
#include "program.h"
#include "proto.h"
#include "statement.h"

/*
 * ks-client: the end user's side (man ks-client(1)). It trusts only the
 * keyserver's receipt key, which it pins: the request key's public half
 * comes from a statement that key signed; the prompt is HPKE-encrypted to
 * it and the completion comes back encrypted under a key exported from the
 * same HPKE context (infer.h). Whatever carries the frames (ks-relay, an
 * API server) sees ciphertext and sizes only.
 */

#define IO_TIMEOUT_MS 120000
#define STATEMENT_MAX (64 * 1024)

static void err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ks-client: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: ks-client COMMAND [OPTIONS]\n\n"
               "The end user's side of the confidential inference path.\n\n"
               "Commands:\n"
               "  pubkey   fetch and verify a request key's public half (signed statement)\n"
               "  infer    encrypt a prompt to the request key, send it, decrypt the completion\n"
               "  load     send a signed program to the loader (LOAD)\n"
               "  stats    ask the loader for its counters (STATS)\n"
               "  send     send a saved request frame as is (replay tests)\n\n"
               "Where requests go (infer, load, stats, send): --connect HOST:PORT (a relay) or\n"
               "--socket PATH (the loader's UNIX socket).\n\n"
               "Common options of pubkey and infer:\n"
               "  --server URL          the keyserver (https://HOST:PORT)\n"
               "  --cacert FILE         CA certificate(s) for its TLS certificate\n"
               "  --pin sha256//B64     also pin its TLS public key\n"
               "  --receipt-key B64|@FILE  the keyserver's receipt key (SubjectPublicKeyInfo DER,\n"
               "                        base64 as /v1/info gives it; @FILE reads the base64)\n"
               "  --key NAME[@VERSION]  the request key\n"
               "  --statement FILE      use a statement saved by 'pubkey --out' (verified again)\n"
               "                        instead of fetching it\n\n"
               "pubkey: [--out FILE] writes the statement; prints NAME VERSION PUBLIC_KEY_HEX.\n"
               "infer:  --prompt TEXT | --prompt-file FILE, [--max-new N] (0: the program's\n"
               "        maximum), [--id HEX] (default 16 random bytes), [--output raw|hex]\n"
               "        (default raw), [--count N] (N requests on one connection; prints a\n"
               "        summary), [--save-request FILE] (TEST: the request frame, for 'send'),\n"
               "        [--unverified-public-key HEX] (TEST ONLY: encrypt to this key instead).\n"
               "load:   --program FILE (the signed program JSON).\n"
               "send:   --request FILE.\n\n"
               "Exit status: 0 ok, 1 refused (by the loader, or a statement or completion that\n"
               "does not verify), 2 usage error, 3 network or system error.\n");
}

struct opts {
    const char *server, *cacert, *pin, *receipt_key, *key, *statement, *out;
    const char *connect, *socket, *prompt, *prompt_file, *id_hex, *output, *save_request;
    const char *unverified_pk, *program, *request;
    unsigned long max_new, count;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option opts[] = {
        {"server", required_argument, NULL, 's'},
        {"cacert", required_argument, NULL, 'c'},
        {"pin", required_argument, NULL, 'P'},
        {"receipt-key", required_argument, NULL, 'r'},
        {"key", required_argument, NULL, 'k'},
        {"statement", required_argument, NULL, 'S'},
        {"out", required_argument, NULL, 'o'},
        {"connect", required_argument, NULL, 'C'},
        {"socket", required_argument, NULL, 'U'},
        {"prompt", required_argument, NULL, 'p'},
        {"prompt-file", required_argument, NULL, 'f'},
        {"max-new", required_argument, NULL, 'n'},
        {"id", required_argument, NULL, 'i'},
        {"output", required_argument, NULL, 'O'},
        {"count", required_argument, NULL, 'N'},
        {"save-request", required_argument, NULL, 'w'},
        {"unverified-public-key", required_argument, NULL, 'X'},
        {"program", required_argument, NULL, 'g'},
        {"request", required_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    char *end = NULL;
    o->count = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            o->server = optarg;
            break;
        case 'c':
            o->cacert = optarg;
            break;
        case 'P':
            o->pin = optarg;
            break;
        case 'r':
            o->receipt_key = optarg;
            break;
        case 'k':
            o->key = optarg;
            break;
        case 'S':
            o->statement = optarg;
            break;
        case 'o':
            o->out = optarg;
            break;
        case 'C':
            o->connect = optarg;
            break;
        case 'U':
            o->socket = optarg;
            break;
        case 'p':
            o->prompt = optarg;
            break;
        case 'f':
            o->prompt_file = optarg;
            break;
        case 'n':
        case 'N':
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            if (errno || *end || end == optarg || v > UINT32_MAX || (c == 'N' && v == 0)) {
                err("--%s: expected a number", c == 'n' ? "max-new" : "count");
                return 2;
            }
            *(c == 'n' ? &o->max_new : &o->count) = v;
            break;
        case 'i':
            o->id_hex = optarg;
            break;
        case 'O':
            o->output = optarg;
            break;
        case 'w':
            o->save_request = optarg;
            break;
        case 'X':
            o->unverified_pk = optarg;
            break;
        case 'g':
            o->program = optarg;
            break;
        case 'q':
            o->request = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    return -1;
}

/* --receipt-key: base64 inline or @FILE holding it. */
static int receipt_key(const char *arg, uint8_t **ret, size_t *ret_len)
{
    uint8_t *text = NULL;
    size_t len = 0;
    const char *b64 = arg;
    if (arg[0] == '@') {
        if (ks_file_read(arg + 1, 64 * 1024, &text, &len) != KS_OK) {
            err("cannot read %s", arg + 1);
            return KS_ERR_INVALID_ARG;
        }
        while (len > 0 &&
               (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ')) {
            text[--len] = '\0';
        }
        b64 = (const char *)text;
    }
    int r = ks_base64_decode(b64, strlen(b64), ret, ret_len);
    free(text);
    if (r != KS_OK || *ret_len == 0) {
        err("--receipt-key: expected base64 of a SubjectPublicKeyInfo (as /v1/info gives it)");
        return KS_ERR_INVALID_ARG;
    }
    return KS_OK;
}

/* The statement: fetched (GET /v1/keys/{key}/public) or read, then
 * verified. ret_body (may be NULL) gets the bytes. */
static int get_statement(const struct opts *o, const char *name, uint32_t version,
                         struct ks_statement *st, uint8_t **ret_body, size_t *ret_len)
{
    uint8_t *spki = NULL, *body = NULL;
    size_t spki_len = 0, len = 0;
    struct ks_http_client *http = NULL;
    struct ks_http_response resp = {0};
    char path[128], curl_err[256];
    int r = receipt_key(o->receipt_key, &spki, &spki_len);
    if (r != KS_OK) {
        return r;
    }
    if (o->statement) {
        r = ks_file_read(o->statement, STATEMENT_MAX, &body, &len);
        if (r != KS_OK) {
            err("cannot read %s: %s", o->statement, ks_strerror(r));
            goto out;
        }
    } else {
        const struct ks_http_opts ho = {.cacert = o->cacert, .pinned_key = o->pin};
        r = ks_http_client_new(o->server, &ho, &http);
        if (r != KS_OK) {
            err("--server '%s': %s", o->server, ks_strerror(r));
            goto out;
        }
        snprintf(path, sizeof(path), "/v1/keys/%s/public", o->key);
        r = ks_http_client_get(http, path, &resp, curl_err, sizeof(curl_err));
        if (r != KS_OK) {
            err("GET %s: %s (%s)", path, ks_strerror(r), curl_err);
            goto out;
        }
        if (resp.status != 200) {
            err("GET %s: HTTP %ld", path, resp.status);
            r = KS_ERR_HTTP_STATUS;
            goto out;
        }
        body = resp.body;
        len = resp.len;
        resp.body = NULL;
    }
    r = ks_statement_verify(body, len, spki, spki_len, name, version, st);
    if (r != KS_OK) {
        err("the statement for '%s' does not verify with the pinned receipt key: %s", o->key,
            ks_strerror(r));
        goto out;
    }
    if (ret_body) {
        *ret_body = body;
        *ret_len = len;
        body = NULL;
    }
out:
    ks_http_response_clear(&resp);
    ks_http_client_free(http);
    free(body);
    free(spki);
    return r;
}

static int need_key_opts(const struct opts *o, char *name, uint32_t *version)
{
    if (!o->key || !o->receipt_key || (!o->server && !o->statement) ||
        (o->server && o->statement)) {
        err("need --key, --receipt-key, and --server or --statement");
        return KS_ERR_INVALID_ARG;
    }
    if (ks_attest_key_ref_parse(o->key, name, version) != KS_OK) {
        err("--key: expected NAME or NAME@VERSION");
        return KS_ERR_INVALID_ARG;
    }
    return KS_OK;
}

static int write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wbe");
    if (!f) {
        err("cannot create %s: %s", path, strerror(errno));
        return KS_ERR_IO;
    }
    size_t n = fwrite(buf, 1, len, f);
    if (fclose(f) != 0 || n != len) {
        err("cannot write %s", path);
        return KS_ERR_IO;
    }
    return KS_OK;
}

static int cmd_pubkey(const struct opts *o)
{
    char name[KS_ATTEST_KEY_NAME_MAX + 1], hex[2 * KS_HPKE_PK_LEN + 1];
    uint32_t version = 0;
    struct ks_statement st;
    uint8_t *body = NULL;
    size_t len = 0;
    if (need_key_opts(o, name, &version) != KS_OK) {
        return 2;
    }
    int r = get_statement(o, name, version, &st, &body, &len);
    if (r == KS_OK && o->out) {
        r = write_file(o->out, body, len);
    }
    if (r == KS_OK) {
        ks_hex_encode(st.public_key, KS_HPKE_PK_LEN, hex);
        printf("%s %u %s\n", st.name, (unsigned)st.version, hex);
    }
    free(body);
    return ks_error_exit_code(r);
}

static int connect_to(const struct opts *o, int *ret_fd)
{
    int fd = -1;
    if (!!o->connect == !!o->socket) {
        err("need one of --connect HOST:PORT and --socket PATH");
        return KS_ERR_INVALID_ARG;
    }
    if (o->socket) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        if (strlen(o->socket) >= sizeof(a.sun_path)) {
            return KS_ERR_INVALID_ARG;
        }
        strcpy(a.sun_path, o->socket);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
            err("cannot connect to %s: %s", o->socket, strerror(errno));
            if (fd >= 0) {
                close(fd);
            }
            return KS_ERR_IO;
        }
        *ret_fd = fd;
        return KS_OK;
    }
    char host[256];
    const char *colon = strrchr(o->connect, ':');
    if (!colon || (size_t)(colon - o->connect) >= sizeof(host) || colon == o->connect) {
        err("--connect: expected HOST:PORT");
        return KS_ERR_INVALID_ARG;
    }
    memcpy(host, o->connect, (size_t)(colon - o->connect));
    host[colon - o->connect] = '\0';
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, colon + 1, &hints, &ai) != 0) {
        err("--connect: cannot resolve %s", o->connect);
        return KS_ERR_IO;
    }
    for (struct addrinfo *p = ai; p; p = p->ai_next) {
        fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
        if (fd >= 0 && connect(fd, p->ai_addr, p->ai_addrlen) == 0) {
            break;
        }
        if (fd >= 0) {
            close(fd);
        }
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        err("cannot connect to %s: %s", o->connect, strerror(errno));
        return KS_ERR_IO;
    }
    *ret_fd = fd;
    return KS_OK;
}

/* Send one request frame, read one response frame and parse it. */
static int exchange(int fd, const char *req, size_t len, enum ks_proto_op op,
                    struct ks_proto_response *resp)
{
    uint8_t *buf = NULL;
    size_t blen = 0;
    int r = ks_frame_write(fd, (const uint8_t *)req, len, IO_TIMEOUT_MS);
    if (r == KS_OK) {
        r = ks_frame_read(fd, KS_FRAME_MAX, IO_TIMEOUT_MS, &buf, &blen);
    }
    if (r != KS_OK) {
        err("no answer: %s", ks_strerror(r));
        return r == KS_ERR_FRAME ? KS_ERR_FRAME : KS_ERR_IO;
    }
    r = ks_proto_response_parse(buf, blen, op, resp);
    free(buf);
    if (r != KS_OK) {
        err("malformed answer");
    }
    return r;
}

static int refused(const struct ks_proto_response *resp)
{
    err("refused: %s%s%s", resp->error, resp->detail[0] ? ": " : "", resp->detail);
    return KS_ERR_LOADER_REFUSED;
}

static int read_prompt(const struct opts *o, uint8_t **ret, size_t *ret_len)
{
    if (!!o->prompt == !!o->prompt_file) {
        err("need one of --prompt and --prompt-file");
        return KS_ERR_INVALID_ARG;
    }
    if (o->prompt_file) {
        int r = ks_file_read(o->prompt_file, KS_INFER_PROMPT_MAX, ret, ret_len);
        if (r != KS_OK) {
            err("cannot read %s: %s", o->prompt_file, ks_strerror(r));
        }
        return r;
    }
    *ret_len = strlen(o->prompt);
    *ret = (uint8_t *)strdup(o->prompt);
    return *ret ? KS_OK : KS_ERR_NOMEM;
}

static void print_completion(const struct opts *o, const uint8_t *p, size_t len)
{
    if (o->output && strcmp(o->output, "hex") == 0) {
        for (size_t i = 0; i < len; i++) {
            printf("%02x", p[i]);
        }
        putchar('\n');
    } else {
        fwrite(p, 1, len, stdout);
    }
    fflush(stdout);
}

struct infer_ctx {
    const struct opts *o;
    const char *name;
    uint32_t version;
    uint8_t pk[KS_HPKE_PK_LEN];
    const uint8_t *prompt;
    size_t prompt_len;
};

/* One request on fd: KS_OK (the completion printed when print is set),
 * KS_ERR_LOADER_REFUSED with the loader's code in resp_code, or another
 * error. */
static int infer_once(const struct infer_ctx *x, int fd, bool print, char *resp_code,
                      size_t code_len)
{
    uint8_t id[KS_INFER_ID_MAX], enc[KS_HPKE_ENC_LEN], rk[KS_INFER_KEY_LEN];
    size_t id_len = 16, ct_len = 0, out_len = 0, req_len = 0;
    uint8_t *ct = NULL, *out = NULL, *idbuf = NULL;
    char *req = NULL;
    struct ks_proto_response resp;
    memset(&resp, 0, sizeof(resp));
    resp_code[0] = '\0';
    int r;
    if (x->o->id_hex) {
        if (ks_hex_decode(x->o->id_hex, &idbuf, &id_len) != KS_OK || id_len == 0 ||
            id_len > KS_INFER_ID_MAX) {
            free(idbuf);
            err("--id: expected 1..%d bytes in hex", KS_INFER_ID_MAX);
            return KS_ERR_INVALID_ARG;
        }
        memcpy(id, idbuf, id_len);
        free(idbuf);
    } else if (RAND_bytes(id, (int)id_len) != 1) {
        return KS_ERR_CRYPTO;
    }
    size_t ct_size = KS_INFER_HEADER_LEN + x->prompt_len + KS_INFER_TAG_LEN;
    ct = malloc(ct_size);
    if (!ct) {
        return KS_ERR_NOMEM;
    }
    r = ks_infer_seal_request(x->pk, x->name, x->version, id, id_len, (uint64_t)time(NULL),
                              (uint32_t)x->o->max_new, x->prompt, x->prompt_len, enc, ct, ct_size,
                              &ct_len, rk);
    if (r == KS_OK) {
        r = ks_proto_infer_build(x->name, x->version, id, id_len, enc, ct, ct_len, &req, &req_len);
    }
    if (r == KS_OK && x->o->save_request) {
        r = write_file(x->o->save_request, req, req_len);
    }
    if (r == KS_OK) {
        r = exchange(fd, req, req_len, KS_PROTO_INFER, &resp);
    }
    if (r != KS_OK) {
        goto out;
    }
    if (!resp.ok) {
        snprintf(resp_code, code_len, "%s", resp.error);
        r = print ? refused(&resp) : KS_ERR_LOADER_REFUSED;
        goto out;
    }
    if (resp.id_len != id_len || memcmp(resp.id, id, id_len) != 0) {
        err("the answer is for another request");
        r = KS_ERR_RESPONSE_OPEN;
        goto out;
    }
    out = malloc(resp.ct_len);
    if (!out) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    r = ks_infer_open_response(rk, resp.nonce, id, id_len, resp.ct, resp.ct_len, out, resp.ct_len,
                               &out_len);
    if (r != KS_OK) {
        err("the completion does not authenticate: %s", ks_strerror(r));
        goto out;
    }
    if (print) {
        print_completion(x->o, out, out_len);
    }
out:
    OPENSSL_cleanse(rk, sizeof(rk));
    if (out) {
        OPENSSL_cleanse(out, resp.ct_len);
    }
    free(out);
    free(ct);
    free(req);
    ks_proto_response_clear(&resp);
    return r;
}

static int cmd_infer(const struct opts *o)
{
    char name[KS_ATTEST_KEY_NAME_MAX + 1];
    uint32_t version = 0;
    struct ks_statement st;
    struct infer_ctx x = {.o = o};
    uint8_t *prompt = NULL;
    int fd = -1;
    if (need_key_opts(o, name, &version) != KS_OK) {
        return 2;
    }
    int r = read_prompt(o, &prompt, &x.prompt_len);
    if (r != KS_OK) {
        return ks_error_exit_code(r);
    }
    x.prompt = prompt;
    r = get_statement(o, name, version, &st, NULL, NULL);
    if (r != KS_OK) {
        goto out;
    }
    x.name = st.name;
    x.version = st.version;
    memcpy(x.pk, st.public_key, KS_HPKE_PK_LEN);
    if (o->unverified_pk) {
        err("TEST ONLY: encrypting to an unverified public key");
        if (ks_hex_decode_fixed(o->unverified_pk, x.pk, KS_HPKE_PK_LEN) != KS_OK) {
            err("--unverified-public-key: expected %d bytes in hex", KS_HPKE_PK_LEN);
            r = KS_ERR_INVALID_ARG;
            goto out;
        }
    }
    r = connect_to(o, &fd);
    if (r != KS_OK) {
        goto out;
    }
    if (o->count == 1) {
        char code[32];
        r = infer_once(&x, fd, true, code, sizeof(code));
        goto out;
    }
    /* Several requests on one connection: a summary by outcome. */
    unsigned long ok = 0, n_refused = 0;
    char last[32] = "";
    for (unsigned long i = 0; i < o->count; i++) {
        char code[32];
        r = infer_once(&x, fd, false, code, sizeof(code));
        if (r == KS_OK) {
            ok++;
        } else if (r == KS_ERR_LOADER_REFUSED) {
            n_refused++;
            snprintf(last, sizeof(last), "%s", code);
        } else {
            goto out;
        }
    }
    printf("ok %lu refused %lu%s%s\n", ok, n_refused, last[0] ? " last " : "", last);
    r = KS_OK;
out:
    if (fd >= 0) {
        close(fd);
    }
    if (prompt) {
        OPENSSL_cleanse(prompt, x.prompt_len);
    }
    free(prompt);
    return ks_error_exit_code(r);
}

/* load, stats, send: one frame out, the answer printed. */
static int cmd_simple(const struct opts *o, enum ks_proto_op op)
{
    uint8_t *file = NULL;
    size_t flen = 0, len = 0;
    char *req = NULL;
    struct ks_proto_response resp;
    int fd = -1;
    int r;
    memset(&resp, 0, sizeof(resp));
    if (op == KS_PROTO_LOAD) {
        if (!o->program) {
            err("need --program FILE");
            return 2;
        }
        r = ks_file_read(o->program, KS_PROGRAM_MAX, &file, &flen);
        if (r == KS_OK) {
            r = ks_proto_load_build(file, flen, &req, &len);
        }
        if (r != KS_OK) {
            err("cannot read the program %s: %s", o->program, ks_strerror(r));
            goto out;
        }
    } else if (o->request) {
        /* send: the frame as saved, answer parsed as an INFER answer */
        r = ks_file_read(o->request, KS_FRAME_MAX, &file, &flen);
        if (r != KS_OK) {
            err("cannot read %s: %s", o->request, ks_strerror(r));
            goto out;
        }
        req = (char *)file;
        len = flen;
        file = NULL;
        op = KS_PROTO_INFER;
    } else {
        r = ks_proto_stats_build(&req, &len);
        if (r != KS_OK) {
            goto out;
        }
    }
    r = connect_to(o, &fd);
    if (r == KS_OK) {
        r = exchange(fd, req, len, op, &resp);
    }
    if (r != KS_OK) {
        goto out;
    }
    if (!resp.ok) {
        r = refused(&resp);
        goto out;
    }
    if (resp.json) {
        printf("%s\n", resp.json);
    } else {
        printf("answered (%zu bytes of ciphertext)\n", resp.ct_len);
    }
out:
    if (fd >= 0) {
        close(fd);
    }
    ks_proto_response_clear(&resp);
    free(file);
    free(req);
    return ks_error_exit_code(r);
}

int main(int argc, char **argv)
{
    struct opts o;
    memset(&o, 0, sizeof(o));
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("ks-client (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
        return 0;
    }
    int rc = parse_opts(argc - 1, argv + 1, &o);
    if (rc >= 0) {
        return rc;
    }
    if (ks_http_global_init() != KS_OK) {
        err("cannot initialise libcurl");
        return 3;
    }
    if (strcmp(cmd, "pubkey") == 0) {
        rc = cmd_pubkey(&o);
    } else if (strcmp(cmd, "infer") == 0) {
        rc = cmd_infer(&o);
    } else if (strcmp(cmd, "load") == 0) {
        rc = cmd_simple(&o, KS_PROTO_LOAD);
    } else if (strcmp(cmd, "stats") == 0) {
        rc = cmd_simple(&o, KS_PROTO_STATS);
    } else if (strcmp(cmd, "send") == 0) {
        if (!o.request) {
            err("need --request FILE");
            rc = 2;
        } else {
            rc = cmd_simple(&o, KS_PROTO_INFER);
        }
    } else {
        err("unknown command '%s'", cmd);
        usage(stderr);
        rc = 2;
    }
    ks_http_global_cleanup();
    return rc;
}
