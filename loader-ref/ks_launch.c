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
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "applog.h"
#include "encoding.h"
#include "file_util.h"
#include "launch_tpm.h"
#include "tpm_alg.h"

/*
 * ks-launch: the measured launcher of the reference deployment (DESIGN
 * "Trust model"). It measures the loader's executable, its configuration
 * and the pinned CI public key into the application PCR, writes the
 * application log (applog.h) and execs exactly the bytes it measured:
 *
 *   - the executable is hashed through an open descriptor and run with
 *     fexecve() on that descriptor, so the file measured is the file run
 *     (replacing the path in between changes nothing);
 *   - the configuration and the CI key are read once into memory, hashed,
 *     and handed to the loader as sealed memfds (F_SEAL_WRITE, _GROW,
 *     _SHRINK, _SEAL) named by /dev/fd/N: the loader reads the bytes that
 *     were measured, whatever happens to the files afterwards.
 *
 * The TPM (--tcti), the application log's path and the PCR index are passed
 * on unmeasured: the TPM is authenticated by its AK, the log is checked by
 * the keyserver's replay, and a loader quoting another PCR gets no key.
 */

#define CONFIG_MAX (1024 * 1024)
#define DEFAULT_LOG "/run/ks-launch/app.log"
#define DEFAULT_LOADER BINDIR "/ks-loader"

struct args {
    char *loader, *log, *tcti; /* passed on to the loader */
    const char *config, *ci_key, *banks;
    unsigned pcr;
    bool measure_only;
};

static void err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ks-launch: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: ks-launch --config FILE --ci-key FILE [--loader PATH] [--pcr N]\n"
            "                 [--log FILE] [--tcti TCTI]\n"
            "       ks-launch --measure-only --config FILE --ci-key FILE [--loader PATH]\n"
            "                 [--pcr N] [--banks sha256[,sha1...]] --log FILE\n\n"
            "Measure the trusted loader into the application PCR and run it: extend the\n"
            "PCR in every allocated bank with EV_EVENT_TAG events 'ks-loader-exe',\n"
            "'ks-loader-config' and 'ks-ci-key' (each the SHA-256 of the file's bytes),\n"
            "append them to the application log (TCG crypto-agile format), then exec the\n"
            "loader on exactly the measured bytes:\n"
            "  LOADER --config /dev/fd/N --ci-key /dev/fd/M --app-log LOG --app-pcr PCR\n"
            "         [--tcti TCTI]\n"
            "The PCR must hold what the log replays to (zero and no log after a reboot).\n\n"
            "  --loader PATH    the loader executable (default %s)\n"
            "  --config FILE    the loader's configuration (measured)\n"
            "  --ci-key FILE    the CI public key the loader pins (PEM, measured)\n"
            "  --pcr N          the application PCR (default %d; never 10, 16 or 23)\n"
            "  --log FILE       the application log (default %s)\n"
            "  --tcti TCTI      the TPM (default $KS_TCTI, else device:/dev/tpmrm0)\n"
            "  --measure-only   touch no TPM and run nothing: write the log a launch on a\n"
            "                   fresh boot would write to --log and print the PCR values it\n"
            "                   replays to, as BANK:PCR=HEX (for the keyserver's policy)\n"
            "  --banks LIST     banks for --measure-only (default sha256)\n"
            "  --help           this text\n\n"
            "Exit status: 0 (--measure-only), 1 the PCR does not match the log, 2 usage\n"
            "error, 3 TPM or system error; otherwise the loader's.\n",
            DEFAULT_LOADER, KS_APPLOG_DEFAULT_PCR, DEFAULT_LOG);
}

static int parse_args(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {
        {"loader", required_argument, NULL, 'L'}, {"config", required_argument, NULL, 'c'},
        {"ci-key", required_argument, NULL, 'k'}, {"pcr", required_argument, NULL, 'p'},
        {"log", required_argument, NULL, 'l'},    {"tcti", required_argument, NULL, 't'},
        {"banks", required_argument, NULL, 'b'},  {"measure-only", no_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    char *end = NULL;
    unsigned long v;
    int c;
    static char default_loader[] = DEFAULT_LOADER, default_log[] = DEFAULT_LOG;
    a->loader = default_loader;
    a->log = default_log;
    a->pcr = KS_APPLOG_DEFAULT_PCR;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'L':
            a->loader = optarg;
            break;
        case 'c':
            a->config = optarg;
            break;
        case 'k':
            a->ci_key = optarg;
            break;
        case 'p':
            errno = 0;
            v = strtoul(optarg, &end, 10);
            if (errno || *end || end == optarg || v >= 24 || v == 10 || v == 16 || v == 23) {
                err("--pcr: expected 0..22, not 10 or 16");
                return 2;
            }
            a->pcr = (unsigned)v;
            break;
        case 'l':
            a->log = optarg;
            break;
        case 't':
            a->tcti = optarg;
            break;
        case 'b':
            a->banks = optarg;
            break;
        case 'm':
            a->measure_only = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!a->config || !a->ci_key || optind != argc || (a->banks && !a->measure_only)) {
        usage(stderr);
        return 2;
    }
    return -1;
}

/* SHA-256 of everything an open descriptor reads, from offset 0. */
static int hash_fd(int fd, uint8_t out[32])
{
    uint8_t buf[64 * 1024];
    int r = KS_ERR_CRYPTO;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) {
        return KS_ERR_NOMEM;
    }
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        goto out;
    }
    for (off_t off = 0;;) {
        ssize_t n = pread(fd, buf, sizeof(buf), off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            r = KS_ERR_IO;
            goto out;
        }
        if (n == 0) {
            break;
        }
        if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
            goto out;
        }
        off += n;
    }
    r = EVP_DigestFinal_ex(ctx, out, NULL) == 1 ? KS_OK : KS_ERR_CRYPTO;
out:
    EVP_MD_CTX_free(ctx);
    return r;
}

/* Read a (small) file, hash it and copy it into a sealed memfd that the
 * loader inherits. ret_fd is -1 in --measure-only mode. */
static int measure_file(const char *path, const char *what, bool want_fd, uint8_t digest[32],
                        int *ret_fd)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int fd = -1;
    int r = ks_file_read(path, CONFIG_MAX, &buf, &len);
    if (r != KS_OK) {
        err("cannot read the %s '%s': %s", what, path, ks_strerror(r));
        return r;
    }
    r = EVP_Digest(buf, len, digest, NULL, EVP_sha256(), NULL) == 1 ? KS_OK : KS_ERR_CRYPTO;
    if (r != KS_OK || !want_fd) {
        goto out;
    }
    /* Not MFD_CLOEXEC: the loader inherits it. */
    fd = memfd_create(what, MFD_ALLOW_SEALING);
    size_t off = 0;
    while (fd >= 0 && off < len) {
        ssize_t n = write(fd, buf + off, len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        off += (size_t)n;
    }
    if (fd < 0 || off != len ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0) {
        err("cannot copy the %s into a sealed memfd: %s", what, strerror(errno));
        r = KS_ERR_IO;
        goto out;
    }
    *ret_fd = fd;
    fd = -1;
out:
    if (fd >= 0) {
        close(fd);
    }
    free(buf);
    return r;
}

static int parse_banks(const char *list, uint16_t *algs, size_t *n)
{
    char buf[128];
    if (!list) {
        algs[0] = KS_ALG_SHA256;
        *n = 1;
        return KS_OK;
    }
    if (strlen(list) >= sizeof(buf)) {
        return KS_ERR_INVALID_ARG;
    }
    strcpy(buf, list);
    *n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (*n == KS_MAX_BANKS || ks_alg_from_name(t, &algs[*n]) != KS_OK) {
            return KS_ERR_INVALID_ARG;
        }
        (*n)++;
    }
    return *n ? KS_OK : KS_ERR_INVALID_ARG;
}

/* Write the log next to its final name and rename it into place, so that a
 * reader never sees half a log. */
static int write_log(const char *path, const struct ks_applog *log)
{
    char tmp[4096];
    size_t len = 0;
    const uint8_t *p = ks_applog_bytes(log, &len);
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        return KS_ERR_INVALID_ARG;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        err("cannot create '%s': %s", tmp, strerror(errno));
        return KS_ERR_IO;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, p + off, len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        off += (size_t)n;
    }
    int r = off == len && fsync(fd) == 0 ? KS_OK : KS_ERR_IO;
    if (close(fd) != 0) {
        r = KS_ERR_IO;
    }
    if (r == KS_OK && rename(tmp, path) != 0) {
        r = KS_ERR_IO;
    }
    if (r != KS_OK) {
        err("cannot write the application log '%s': %s", path, strerror(errno));
        unlink(tmp);
    }
    return r;
}

static void print_pcrs(const struct ks_applog *log, unsigned pcr)
{
    const uint16_t *algs = NULL;
    size_t n = ks_applog_banks(log, &algs);
    for (size_t i = 0; i < n; i++) {
        uint8_t v[KS_MAX_DIGEST];
        char hex[2 * KS_MAX_DIGEST + 1];
        size_t dlen = ks_alg_digest_size(algs[i]);
        if (ks_applog_pcr(log, algs[i], v, sizeof(v)) == KS_OK) {
            ks_hex_encode(v, dlen, hex);
            printf("%s:%u=%s\n", ks_alg_name(algs[i]), pcr, hex);
        }
    }
}

static int tpm_fail(struct ks_launch_tpm *t, const char *what, int r)
{
    const char *cmd = "";
    uint32_t rc = ks_launch_tpm_last_rc(t, &cmd);
    if (r == KS_ERR_TPM_CMD && *cmd) {
        err("%s: %s (%s: TSS2_RC 0x%08x)", what, ks_strerror(r), cmd, rc);
    } else {
        err("%s: %s", what, ks_strerror(r));
    }
    return r;
}

/* The log this boot has so far: the one on disk, or a new one when there
 * is none; either way it must replay to what the TPM holds now, in every
 * bank the TPM allocates for the PCR. */
static int open_log(struct ks_launch_tpm *t, const struct args *a, struct ks_applog **ret)
{
    uint16_t algs[KS_MAX_BANKS];
    size_t n = 0;
    uint8_t *buf = NULL;
    size_t len = 0;
    struct ks_applog *log = NULL;
    int r = ks_launch_tpm_banks(t, a->pcr, algs, KS_MAX_BANKS, &n);
    if (r != KS_OK) {
        return tpm_fail(t, "cannot list the TPM's PCR banks", r);
    }
    r = ks_file_read(a->log, KS_APPLOG_MAX_SIZE, &buf, &len);
    if (r == KS_OK) {
        r = ks_applog_load(buf, len, a->pcr, &log);
        if (r != KS_OK) {
            err("the application log '%s' is not ks-launch's: %s", a->log, ks_strerror(r));
            goto out;
        }
    } else if (access(a->log, F_OK) != 0 && errno == ENOENT) {
        r = ks_applog_new(a->pcr, algs, n, &log);
        if (r != KS_OK) {
            goto out;
        }
    } else {
        err("cannot read the application log '%s': %s", a->log, ks_strerror(r));
        goto out;
    }
    const uint16_t *have = NULL;
    size_t nhave = ks_applog_banks(log, &have);
    bool same = nhave == n;
    for (size_t i = 0; same && i < n; i++) {
        same = have[i] == algs[i];
    }
    if (!same) {
        err("the application log '%s' carries other banks than the TPM allocates", a->log);
        r = KS_ERR_APPLOG_STATE;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t want[KS_MAX_DIGEST], got[KS_MAX_DIGEST];
        r = ks_applog_pcr(log, algs[i], want, sizeof(want));
        if (r == KS_OK) {
            r = ks_launch_tpm_read(t, a->pcr, algs[i], got, sizeof(got));
        }
        if (r != KS_OK) {
            tpm_fail(t, "cannot read the application PCR", r);
            goto out;
        }
        if (memcmp(want, got, ks_alg_digest_size(algs[i])) != 0) {
            err("PCR %s:%u does not hold what '%s' replays to (%s): measured by someone else, "
                "or the log was lost; a reboot resets it",
                ks_alg_name(algs[i]), a->pcr, a->log,
                ks_applog_count(log) ? "its events" : "zero, no log");
            r = KS_ERR_APPLOG_STATE;
            goto out;
        }
    }
    *ret = log;
    log = NULL;
out:
    ks_applog_free(log);
    free(buf);
    return r;
}

int main(int argc, char **argv)
{
    struct args a;
    struct ks_launch_tpm *tpm = NULL;
    struct ks_applog *log = NULL;
    uint8_t d_exe[32], d_config[32], d_key[32];
    int config_fd = -1, key_fd = -1, exe_fd = -1;
    memset(&a, 0, sizeof(a));
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) {
        return rc;
    }
    uint16_t algs[KS_MAX_BANKS];
    size_t n_algs = 0;
    if (a.measure_only && parse_banks(a.banks, algs, &n_algs) != KS_OK) {
        err("--banks: expected a comma-separated list of sha1, sha256, sha384, sha512");
        return 2;
    }

    /* 1. Measure: the files' exact bytes. */
    int r;
    exe_fd = open(a.loader, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (exe_fd < 0 || fstat(exe_fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        err("cannot open the loader '%s': %s", a.loader,
            exe_fd < 0 ? strerror(errno) : "not a regular file");
        r = KS_ERR_INVALID_ARG;
        goto out;
    }
    r = hash_fd(exe_fd, d_exe);
    if (r == KS_OK) {
        r = measure_file(a.config, "config", !a.measure_only, d_config, &config_fd);
    }
    if (r == KS_OK) {
        r = measure_file(a.ci_key, "ci-key", !a.measure_only, d_key, &key_fd);
    }
    if (r != KS_OK) {
        goto out;
    }

    /* 2. The log (and the TPM). */
    if (a.measure_only) {
        r = ks_applog_new(a.pcr, algs, n_algs, &log);
    } else {
        r = ks_launch_tpm_open(a.tcti, &tpm);
        if (r != KS_OK) {
            err("cannot open the TPM: %s", ks_strerror(r));
            goto out;
        }
        r = open_log(tpm, &a, &log);
    }
    if (r != KS_OK) {
        goto out;
    }
    const struct {
        const char *tag;
        const uint8_t *digest;
    } ms[] = {
        {KS_APPLOG_TAG_EXE, d_exe},
        {KS_APPLOG_TAG_CONFIG, d_config},
        {KS_APPLOG_TAG_CI_KEY, d_key},
    };
    for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
        TPML_DIGEST_VALUES d;
        r = ks_applog_append(log, ms[i].tag, ms[i].digest, &d);
        if (r != KS_OK) {
            err("cannot log the measurement: %s", ks_strerror(r));
            goto out;
        }
        if (tpm) {
            r = ks_launch_tpm_extend(tpm, a.pcr, &d);
            if (r != KS_OK) {
                tpm_fail(tpm, "cannot extend the application PCR", r);
                goto out;
            }
        }
    }
    /* The PCR is extended: the log must say so even if the exec fails. */
    r = write_log(a.log, log);
    if (r != KS_OK || a.measure_only) {
        if (r == KS_OK) {
            print_pcrs(log, a.pcr);
        }
        goto out;
    }
    ks_launch_tpm_close(tpm);
    tpm = NULL;

    /* 3. Run what was measured. */
    char cfg_path[32], key_path[32], pcr_s[16];
    snprintf(cfg_path, sizeof(cfg_path), "/dev/fd/%d", config_fd);
    snprintf(key_path, sizeof(key_path), "/dev/fd/%d", key_fd);
    snprintf(pcr_s, sizeof(pcr_s), "%u", a.pcr);
    char o_config[] = "--config", o_key[] = "--ci-key", o_log[] = "--app-log",
         o_pcr[] = "--app-pcr", o_tcti[] = "--tcti";
    char *args[12] = {a.loader, o_config, cfg_path, o_key, key_path, o_log, a.log, o_pcr, pcr_s};
    if (a.tcti) {
        args[9] = o_tcti;
        args[10] = a.tcti;
    }
    fflush(NULL);
    extern char **environ;
    fexecve(exe_fd, args, environ);
    err("cannot run the loader '%s': %s", a.loader, strerror(errno));
    r = KS_ERR_IO;
out:
    ks_applog_free(log);
    ks_launch_tpm_close(tpm);
    if (exe_fd >= 0) {
        close(exe_fd);
    }
    if (config_fd >= 0) {
        close(config_fd);
    }
    if (key_fd >= 0) {
        close(key_fd);
    }
    return ks_error_exit_code(r);
}
