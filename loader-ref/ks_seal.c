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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "encoding.h"
#include "ks_seal.h"
#include "locked_mem.h"
#include "model.h"
#include "sealed.h"

/*
 * ks-seal: the data owner's tool. Generates the reference model's weights,
 * seals a weights file under a fresh data-encryption key (DEK) that goes only
 * to a 0600 file or to `ksctl key import` on its standard input (never argv,
 * never a log), inspects sealed files, manages the CI signing key and signs
 * program manifests. Exit status as ksctl's: 0 ok, 1 refused or invalid
 * data, 2 usage error, 3 internal or system error.
 * `split-key` (ks_seal_split.c) splits the DEK k-of-n across keyservers.
 */

void ks_seal_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ks-seal: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int ks_seal_fail(const char *what, int r)
{
    if (r >= 0) {
        return 0;
    }
    ks_seal_err("%s: %s", what, ks_strerror(r));
    return ks_error_exit_code(r);
}

bool ks_seal_parse_u64(const char *opt, const char *arg, uint64_t lo, uint64_t hi, uint64_t *ret)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno != 0 || !end || *end != '\0' || arg[0] == '-' || arg[0] == '\0' || v < lo || v > hi) {
        ks_seal_err("%s: not a number in %llu..%llu: '%s'", opt, (unsigned long long)lo,
                    (unsigned long long)hi, arg);
        return false;
    }
    *ret = v;
    return true;
}

FILE *ks_seal_create(const char *path, int mode, bool force)
{
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (force ? O_TRUNC : O_EXCL);
    int fd = open(path, flags, mode);
    if (fd < 0) {
        int e = errno;
        ks_seal_err("cannot create %s: %s%s", path, strerror(e),
                    e == EEXIST ? " (not overwritten)" : "");
        errno = e;
        return NULL;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
    }
    return f;
}

int ks_seal_create_exit(void)
{
    return errno == EEXIST ? 2 : 3;
}

int ks_seal_file_sha256(const char *path, uint8_t out[32], uint64_t *ret_len)
{
    uint8_t buf[1 << 16];
    uint64_t total = 0;
    int r = KS_ERR_CRYPTO;
    FILE *f = fopen(path, "rb");
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!f || !md) {
        ks_seal_err("cannot read %s: %s", path, f ? "out of memory" : strerror(errno));
        r = f ? KS_ERR_NOMEM : KS_ERR_IO;
        goto out;
    }
    if (!EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        goto out;
    }
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        total += n;
        if (!EVP_DigestUpdate(md, buf, n)) {
            goto out;
        }
    }
    if (ferror(f)) {
        ks_seal_err("cannot read %s", path);
        r = KS_ERR_IO;
        goto out;
    }
    if (!EVP_DigestFinal_ex(md, out, NULL)) {
        goto out;
    }
    if (ret_len) {
        *ret_len = total;
    }
    r = KS_OK;
out:
    EVP_MD_CTX_free(md);
    if (f) {
        fclose(f);
    }
    return r;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: ks-seal COMMAND [OPTIONS]\n\n"
               "The data owner's tool of the reference deployment.\n\n"
               "Commands:\n"
               "  gen-model        generate the reference model's weights from a seed\n"
               "  seal             seal a weights file under a fresh data-encryption key\n"
               "  info             show a sealed file's header\n"
               "  ci-keygen        make the CI signing key (Ed25519)\n"
               "  sign-program     sign a program manifest for a weights file\n"
               "  verify-program   verify a signed program manifest\n"
               "  split-key        split a key k-of-n for independent keyservers\n"
               "  unseal           (debugging) decrypt a sealed file with its key file\n"
               "  run-plaintext    (debugging) run the model on a plaintext weights file\n\n"
               "Run 'ks-seal COMMAND --help' for the options of each command.\n"
               "Exit status: 0 ok, 1 refused or invalid data, 2 usage error, 3 internal.\n");
}

/* ---- gen-model ------------------------------------------------------------ */

static void usage_gen_model(FILE *f)
{
    fprintf(f, "Usage: ks-seal gen-model --seed N --out FILE [--d-model D] [--layers L]\n"
               "                         [--heads H] [--d-ff F] [--max-seq S] [--force]\n\n"
               "Write the reference model's plaintext weights file (loader-ref/model.h),\n"
               "generated deterministically from the seed (SplitMix64 -> xoshiro256**),\n"
               "streamed: any size up to 64 GiB. Prints the file's SHA-256.\n\n"
               "  --seed N       the seed (0..2^64-1)\n"
               "  --d-model D    model width (default 64; a multiple of --heads)\n"
               "  --layers L     transformer blocks (default 2)\n"
               "  --heads H      attention heads (default 4)\n"
               "  --d-ff F       feed-forward width (default 4 D)\n"
               "  --max-seq S    context length (default 128)\n"
               "  --out FILE     the weights file (not overwritten unless --force)\n"
               "  --force        overwrite FILE\n"
               "  --help         this text\n");
}

struct gen_out {
    int fd;
    EVP_MD_CTX *md;
    uint64_t written;
};

static int gen_write(void *ctx, const void *buf, size_t len)
{
    struct gen_out *g = ctx;
    const uint8_t *p = buf;
    if (!EVP_DigestUpdate(g->md, buf, len)) {
        return KS_ERR_CRYPTO;
    }
    g->written += len;
    while (len > 0) {
        ssize_t n = write(g->fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return KS_ERR_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    return KS_OK;
}

static int cmd_gen_model(int argc, char **argv)
{
    static const struct option opts[] = {
        {"seed", required_argument, NULL, 's'},   {"d-model", required_argument, NULL, 'D'},
        {"layers", required_argument, NULL, 'L'}, {"heads", required_argument, NULL, 'H'},
        {"d-ff", required_argument, NULL, 'F'},   {"max-seq", required_argument, NULL, 'S'},
        {"out", required_argument, NULL, 'o'},    {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    struct ks_model_dims d = KS_MODEL_DEFAULT_DIMS;
    uint64_t seed = 0, v, size;
    bool have_seed = false, have_ff = false, force = false;
    const char *out = NULL;
    uint8_t digest[32];
    char hex[65];
    int c, r;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (!ks_seal_parse_u64("--seed", optarg, 0, UINT64_MAX, &seed)) {
                return 2;
            }
            have_seed = true;
            break;
        case 'D':
        case 'L':
        case 'H':
        case 'F':
        case 'S':
            if (!ks_seal_parse_u64(argv[optind - 1], optarg, 1, UINT32_MAX, &v)) {
                return 2;
            }
            *(c == 'D'   ? &d.d_model
              : c == 'L' ? &d.n_layers
              : c == 'H' ? &d.n_heads
              : c == 'F' ? &d.d_ff
                         : &d.max_seq) = (uint32_t)v;
            have_ff |= c == 'F';
            break;
        case 'o':
            out = optarg;
            break;
        case 'f':
            force = true;
            break;
        case 'h':
            usage_gen_model(stdout);
            return 0;
        default:
            usage_gen_model(stderr);
            return 2;
        }
    }
    if (!have_seed || !out || optind != argc) {
        usage_gen_model(stderr);
        return 2;
    }
    if (!have_ff) {
        d.d_ff = d.d_model <= UINT32_MAX / 4 ? 4 * d.d_model : UINT32_MAX;
    }
    if ((r = ks_model_weights_size(&d, &size)) < 0) {
        ks_seal_err("gen-model: invalid dimensions (vocab 256, d_model <= %u and a multiple of "
                    "heads, layers <= %u, heads <= %u, d_ff <= %u, max_seq <= %u, at most "
                    "64 GiB)",
                    KS_MODEL_D_MAX, KS_MODEL_LAYERS_MAX, KS_MODEL_HEADS_MAX, KS_MODEL_FF_MAX,
                    KS_MODEL_SEQ_MAX);
        return 2;
    }
    FILE *f = ks_seal_create(out, 0644, force);
    if (!f) {
        return ks_seal_create_exit();
    }
    struct gen_out g = {.fd = fileno(f), .md = EVP_MD_CTX_new()};
    if (!g.md || !EVP_DigestInit_ex(g.md, EVP_sha256(), NULL)) {
        r = KS_ERR_CRYPTO;
    } else {
        r = ks_model_generate_weights(&d, seed, gen_write, &g);
    }
    if (r == KS_OK && !EVP_DigestFinal_ex(g.md, digest, NULL)) {
        r = KS_ERR_CRYPTO;
    }
    EVP_MD_CTX_free(g.md);
    if (fclose(f) != 0 && r == KS_OK) {
        r = KS_ERR_IO;
    }
    if (r < 0) {
        unlink(out);
        return ks_seal_fail("gen-model", r);
    }
    ks_hex_encode(digest, sizeof(digest), hex);
    printf("weights %s: d_model %u, layers %u, heads %u, d_ff %u, max_seq %u, seed %llu\n"
           "bytes %llu\nsha256 %s\n",
           out, d.d_model, d.n_layers, d.n_heads, d.d_ff, d.max_seq, (unsigned long long)seed,
           (unsigned long long)g.written, hex);
    return 0;
}

/* ---- seal ------------------------------------------------------------------- */

static void usage_seal(FILE *f)
{
    fprintf(f, "Usage: ks-seal seal --in FILE --out FILE.sealed --key-name NAME\n"
               "                    (--key-out KEYFILE | --ksctl 'ksctl ... key import NAME ...')\n"
               "                    [--key-version N] [--chunk-size BYTES]\n\n"
               "Seal FILE (chunked AES-256-GCM, lib/sealed.h) under a fresh 32-byte\n"
               "data-encryption key. The key goes to exactly one place: KEYFILE (created\n"
               "with mode 0600, never overwritten), or the standard input of the given\n"
               "command, run with /bin/sh -c (e.g. \"ksctl key import NAME --policy P --db\n"
               "DB\"); it is never on a command line or in a log. The sealed file appears\n"
               "only once the key has been delivered.\n\n"
               "  --in FILE           the plaintext (a regular file)\n"
               "  --out FILE          the sealed file (not overwritten)\n"
               "  --key-name NAME     the keyserver's key name, [A-Za-z0-9._-]{1,64}\n"
               "  --key-version N     its version (default 1: what ksctl key import makes)\n"
               "  --chunk-size BYTES  4K..64M, a number with an optional K or M suffix\n"
               "                      (default 4M)\n"
               "  --key-out KEYFILE   write the raw key to KEYFILE (0600)\n"
               "  --ksctl COMMAND     pipe the raw key to COMMAND's standard input\n"
               "  --help              this text\n");
}

static bool parse_size(const char *arg, uint64_t *ret)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno != 0 || end == arg || arg[0] == '-') {
        return false;
    }
    if (strcmp(end, "K") == 0 || strcmp(end, "KiB") == 0) {
        v = v <= UINT32_MAX ? v * 1024 : 0;
    } else if (strcmp(end, "M") == 0 || strcmp(end, "MiB") == 0) {
        v = v <= 4096 ? v * 1024 * 1024 : 0;
    } else if (*end != '\0') {
        return false;
    }
    *ret = v;
    return true;
}

/* Pipe the key to `cmd` (sh -c) and wait for it. */
static int key_to_command(const char *cmd, const uint8_t *key, size_t len)
{
    int pfd[2];
    int status;
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        return KS_ERR_IO;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return KS_ERR_IO;
    }
    if (pid == 0) {
        if (dup2(pfd[0], STDIN_FILENO) < 0) {
            _exit(127);
        }
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(pfd[0]);
    /* A command that exits without reading must not kill us with SIGPIPE. */
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(pfd[1], key + off, len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        off += (size_t)n;
    }
    close(pfd[1]);
    signal(SIGPIPE, old);
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return KS_ERR_IO;
        }
    }
    if (off != len || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        ks_seal_err("seal: the key command failed (%s %d); the key was not delivered",
                    WIFEXITED(status) ? "exit status" : "signal",
                    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        return KS_ERR_IO;
    }
    return KS_OK;
}

static int key_to_file(const char *path, const uint8_t *key, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        ks_seal_err("seal: cannot create the key file %s: %s%s", path, strerror(errno),
                    errno == EEXIST ? " (a key file is never overwritten)" : "");
        return KS_ERR_IO;
    }
    /* The umask can only remove bits, but be explicit. */
    bool ok = fchmod(fd, 0600) == 0 && write(fd, key, len) == (ssize_t)len;
    ok = close(fd) == 0 && ok;
    if (!ok) {
        ks_seal_err("seal: cannot write the key file %s", path);
        unlink(path);
        return KS_ERR_IO;
    }
    return KS_OK;
}

struct seal_opts {
    const char *in, *out, *key_name, *key_out, *ksctl;
    uint64_t key_version, chunk;
};

static int parse_seal(int argc, char **argv, struct seal_opts *o)
{
    static const struct option opts[] = {
        {"in", required_argument, NULL, 'i'},
        {"out", required_argument, NULL, 'o'},
        {"key-name", required_argument, NULL, 'n'},
        {"key-version", required_argument, NULL, 'v'},
        {"chunk-size", required_argument, NULL, 'c'},
        {"key-out", required_argument, NULL, 'k'},
        {"ksctl", required_argument, NULL, 'K'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    memset(o, 0, sizeof(*o));
    o->key_version = 1;
    o->chunk = KS_SEAL_CHUNK_DEFAULT;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            o->in = optarg;
            break;
        case 'o':
            o->out = optarg;
            break;
        case 'n':
            o->key_name = optarg;
            break;
        case 'v':
            if (!ks_seal_parse_u64("--key-version", optarg, 1, UINT32_MAX, &o->key_version)) {
                return 2;
            }
            break;
        case 'c':
            if (!parse_size(optarg, &o->chunk) || o->chunk < KS_SEAL_CHUNK_MIN ||
                o->chunk > KS_SEAL_CHUNK_MAX) {
                ks_seal_err("seal: --chunk-size must be 4K..64M: '%s'", optarg);
                return 2;
            }
            break;
        case 'k':
            o->key_out = optarg;
            break;
        case 'K':
            o->ksctl = optarg;
            break;
        case 'h':
            usage_seal(stdout);
            return 1;
        default:
            usage_seal(stderr);
            return 2;
        }
    }
    if (!o->in || !o->out || !o->key_name || optind != argc || !o->key_out == !o->ksctl) {
        if (o->in && o->out && o->key_name && !o->key_out == !o->ksctl) {
            ks_seal_err("seal: give exactly one of --key-out and --ksctl");
        }
        usage_seal(stderr);
        return 2;
    }
    if (!ks_seal_key_name_valid(o->key_name)) {
        ks_seal_err("seal: --key-name must be 1-64 characters of [A-Za-z0-9._-]");
        return 2;
    }
    return 0;
}

static int cmd_seal(int argc, char **argv)
{
    struct seal_opts o;
    struct ks_locked key = {0};
    struct ks_seal_header h;
    char *tmp = NULL;
    int in = -1, out = -1, r;
    char hex[65];
    if ((r = parse_seal(argc, argv, &o)) != 0) {
        return r == 1 ? 0 : r;
    }
    in = open(o.in, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        ks_seal_err("seal: cannot open %s: %s", o.in, strerror(errno));
        return 2;
    }
    /* The sealed file is written under a temporary name in the same
     * directory and renamed once the key is delivered. */
    if (access(o.out, F_OK) == 0) {
        ks_seal_err("seal: %s exists (not overwritten)", o.out);
        r = 2;
        goto out;
    }
    if (asprintf(&tmp, "%s.tmp-XXXXXX", o.out) < 0) {
        tmp = NULL;
        r = ks_seal_fail("seal", KS_ERR_NOMEM);
        goto out;
    }
    out = mkstemp(tmp);
    if (out < 0) {
        ks_seal_err("seal: cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        tmp = NULL;
        r = 3;
        goto out;
    }
    if ((r = ks_locked_alloc(KS_SEAL_KEY_LEN, false, false, &key)) < 0 ||
        (RAND_priv_bytes(key.ptr, KS_SEAL_KEY_LEN) != 1 && (r = KS_ERR_CRYPTO) < 0)) {
        r = ks_seal_fail("seal: key", r);
        goto out;
    }
    struct ks_seal_params p = {.key_name = o.key_name,
                               .key_version = (uint32_t)o.key_version,
                               .chunk_size = (uint32_t)o.chunk};
    if ((r = ks_seal_fd(in, out, &p, key.ptr, &h)) < 0) {
        r = ks_seal_fail("seal", r);
        goto out;
    }
    if (fchmod(out, 0644) != 0 || fsync(out) != 0 || close(out) != 0) {
        out = -1;
        r = ks_seal_fail("seal: write", KS_ERR_IO);
        goto out;
    }
    out = -1;
    r = o.key_out ? key_to_file(o.key_out, key.ptr, KS_SEAL_KEY_LEN)
                  : key_to_command(o.ksctl, key.ptr, KS_SEAL_KEY_LEN);
    if (r < 0) {
        r = 3;
        goto out;
    }
    if (rename(tmp, o.out) != 0) {
        ks_seal_err("seal: cannot rename %s to %s: %s (the key was delivered)", tmp, o.out,
                    strerror(errno));
        r = 3;
        goto out;
    }
    free(tmp);
    tmp = NULL;
    ks_hex_encode(h.plain_sha256, sizeof(h.plain_sha256), hex);
    printf("sealed %s -> %s: key %s version %u, %llu bytes in %llu chunks of %u\n"
           "plaintext sha256 %s\nkey %s %s\n",
           o.in, o.out, h.key_name, h.key_version, (unsigned long long)h.plain_len,
           (unsigned long long)ks_seal_chunk_count(&h), h.chunk_size, hex,
           o.key_out ? "written to" : "piped to", o.key_out ? o.key_out : "the key command");
    r = 0;
out:
    ks_locked_free(&key);
    if (out >= 0) {
        close(out);
    }
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    close(in);
    return r;
}

/* ---- info ------------------------------------------------------------------- */

static void usage_info(FILE *f)
{
    fprintf(f, "Usage: ks-seal info FILE.sealed\n\n"
               "Print a sealed file's header and check its size against it (exit 1 if the\n"
               "header is invalid or the size does not match). Needs no key.\n");
}

static int cmd_info(int argc, char **argv)
{
    uint8_t buf[KS_SEAL_HEADER_MAX];
    struct ks_seal_header h;
    struct stat st;
    char hex[65], nhex[25], dhex[65];
    int r;
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        usage_info(stdout);
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-') {
        usage_info(stderr);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        ks_seal_err("info: cannot open %s: %s", argv[1], strerror(errno));
        return 2;
    }
    size_t n = fread(buf, 1, sizeof(buf), f);
    r = fstat(fileno(f), &st);
    fclose(f);
    if (r != 0) {
        return ks_seal_fail("info", KS_ERR_IO);
    }
    if ((r = ks_seal_header_parse(buf, n, &h)) < 0) {
        return ks_seal_fail("info", r);
    }
    ks_hex_encode(h.plain_sha256, sizeof(h.plain_sha256), hex);
    ks_hex_encode(h.nonce_base, sizeof(h.nonce_base), nhex);
    ks_hex_encode(h.header_digest, sizeof(h.header_digest), dhex);
    printf("format          KSSEAL01 version %u\n"
           "key             %s version %u\n"
           "plaintext       %llu bytes, sha256 %s\n"
           "chunks          %llu of %u bytes\n"
           "nonce base      %s\n"
           "header          %zu bytes, sha256 %s\n"
           "file size       %llu bytes (expected %llu)\n",
           h.version, h.key_name, h.key_version, (unsigned long long)h.plain_len, hex,
           (unsigned long long)ks_seal_chunk_count(&h), h.chunk_size, nhex, h.header_len, dhex,
           (unsigned long long)st.st_size, (unsigned long long)ks_seal_file_size(&h));
    return ks_seal_fail("info", ks_seal_check_file_size(&h, (uint64_t)st.st_size));
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int argc, char **argv);
    } cmds[] = {
        {"gen-model", cmd_gen_model},
        {"seal", cmd_seal},
        {"info", cmd_info},
        {"unseal", ks_seal_cmd_unseal},
        {"run-plaintext", ks_seal_cmd_run_plaintext},
        {"ci-keygen", ks_seal_cmd_ci_keygen},
        {"sign-program", ks_seal_cmd_sign_program},
        {"verify-program", ks_seal_cmd_verify_program},
        {"split-key", ks_seal_cmd_split_key},
    };
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (strcmp(argv[1], cmds[i].name) == 0) {
            return cmds[i].fn(argc - 1, argv + 1);
        }
    }
    ks_seal_err("unknown command '%s'", argv[1]);
    usage(stderr);
    return 2;
}
