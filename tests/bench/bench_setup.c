/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_setup.h"
#include "encoding.h"

#define OUTPUT_MAX 8192
#define START_TIMEOUT_MS 60000 /* valgrind starts slowly */
#define WRAPPER_MAX_WORDS 16

/* exec*() take char *const argv[] for historical reasons; they do not
 * write to the strings. */
static char *const *argv_unconst(const char *const argv[])
{
    return (char *const *)(uintptr_t)argv;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Run argv (argv[0] looked up in PATH when it has no '/'), its stdout and
 * stderr collected into out (NUL-terminated, truncated to out_size).
 * KS_OK when it exits with status 0. */
static int run(const char *const argv[], char *out, size_t out_size)
{
    int fds[2];
    if (pipe(fds) != 0) {
        return KS_ERR_IO;
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return KS_ERR_IO;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            dup2(devnull, 0);
        }
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], argv_unconst(argv));
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0;
    char buf[1024];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof(buf))) != 0) {
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        size_t take = (size_t)n < out_size - 1 - len ? (size_t)n : out_size - 1 - len;
        memcpy(out + len, buf, take);
        len += take;
    }
    out[len] = '\0';
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? KS_OK : KS_ERR_IO;
}

/* run() that prints the command and its output when it fails. */
static int run_checked(const struct ks_bench_server_opts *o, const char *const argv[], char *out,
                       size_t out_size)
{
    char local[OUTPUT_MAX];
    if (!out) {
        out = local;
        out_size = sizeof(local);
    }
    int r = run(argv, out, out_size);
    if (r < 0 || o->verbose) {
        fprintf(stderr, "ks-bench: %s", r < 0 ? "command failed:" : "+");
        for (size_t i = 0; argv[i]; i++) {
            fprintf(stderr, " %s", argv[i]);
        }
        fprintf(stderr, "\n%s", out);
    }
    return r;
}

static int write_file(const char *path, const void *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return KS_ERR_IO;
    }
    ssize_t n = write(fd, buf, len);
    int r = close(fd) == 0 && n == (ssize_t)len ? KS_OK : KS_ERR_IO;
    return r;
}

static void path_in(const struct ks_bench_server *s, const char *name, char *out)
{
    snprintf(out, PATH_MAX, "%s/%s", s->dir, name);
}

/* Database, certificate, AK, policy, key: everything keyserverd serves. */
static int provision(const struct ks_bench_server_opts *o, const struct ks_soft_ak *ak,
                     const struct ks_pcr_set *pcrs, const char *key_name, const uint8_t key[32],
                     struct ks_bench_server *s)
{
    char db[PATH_MAX], mk[PATH_MAX], tkey[PATH_MAX], akpub[PATH_MAX], keyf[PATH_MAX];
    char out[OUTPUT_MAX];
    char ksctl[PATH_MAX], openssl[PATH_MAX];
    path_in(s, "ks.db", db);
    path_in(s, "master.key", mk);
    path_in(s, "tls.key", tkey);
    path_in(s, "tls.crt", s->cacert);
    path_in(s, "ak.pub", akpub);
    path_in(s, "key.bin", keyf);
    snprintf(ksctl, sizeof(ksctl), "%s", o->ksctl);
    snprintf(openssl, sizeof(openssl), "%s", o->openssl);

    const char *init[] = {ksctl, "init", "--db", db, "--master-key", mk, "--id", "ks-bench", NULL};
    int r = run_checked(o, init, NULL, 0);
    if (r < 0) {
        return r;
    }
    const char *req[] = {openssl,
                         "req",
                         "-x509",
                         "-newkey",
                         "ec",
                         "-pkeyopt",
                         "ec_paramgen_curve:P-256",
                         "-nodes",
                         "-days",
                         "2",
                         "-keyout",
                         tkey,
                         "-out",
                         s->cacert,
                         "-subj",
                         "/CN=ks-bench",
                         "-addext",
                         "subjectAltName=IP:127.0.0.1",
                         NULL};
    if ((r = run_checked(o, req, NULL, 0)) < 0) {
        return r;
    }

    /* The software AK, vouched for as an admin would vouch for a TPM's. */
    uint8_t blob[KS_SOFT_AK_PUBLIC_MAX];
    size_t blob_len = 0;
    char ak_id[KS_TPM_NAME_HEX_MAX];
    if ((r = ks_soft_ak_public_blob(ak, blob, sizeof(blob), &blob_len)) < 0 ||
        (r = ks_soft_ak_name_hex(ak, ak_id)) < 0 || (r = write_file(akpub, blob, blob_len)) < 0) {
        return r;
    }
    const char *akadd[] = {ksctl, "ak", "add", "--db", db, "--ak-pub", akpub, NULL};
    if ((r = run_checked(o, akadd, out, sizeof(out))) < 0) {
        return r;
    }
    if (!strstr(out, ak_id)) {
        fprintf(stderr, "ks-bench: ksctl ak add printed %s, expected the AK id %s\n", out, ak_id);
        return KS_ERR_INTERNAL;
    }

    /* The policy: every quoted PCR pinned to its value. */
    const char *create[] = {ksctl, "policy", "create", "bench", "--db", db, NULL};
    if ((r = run_checked(o, create, NULL, 0)) < 0) {
        return r;
    }
    for (unsigned i = 0; i < 8; i++) {
        const uint8_t *v;
        char idx[4], hex[65];
        if ((r = ks_pcr_set_get(pcrs, TPM2_ALG_SHA256, i, &v)) < 0) {
            return r;
        }
        snprintf(idx, sizeof(idx), "%u", i);
        ks_hex_encode(v, 32, hex);
        const char *pcr[] = {ksctl, "policy", "pcr", "bench", idx, hex, "--db", db, NULL};
        if ((r = run_checked(o, pcr, NULL, 0)) < 0) {
            return r;
        }
    }
    const char *activate[] = {ksctl, "policy", "activate", "bench", "--db", db, NULL};
    if ((r = run_checked(o, activate, NULL, 0)) < 0) {
        return r;
    }

    /* A known key (import, not create), so that every release is checked. */
    char name[128];
    snprintf(name, sizeof(name), "%s", key_name);
    if ((r = write_file(keyf, key, 32)) < 0) {
        return r;
    }
    const char *import[] = {ksctl, "key",  "import", name,           "--policy", "bench", "--file",
                            keyf,  "--db", db,       "--master-key", mk,         NULL};
    r = run_checked(o, import, NULL, 0);
    unlink(keyf);
    return r;
}

static int read_port(const char *path, unsigned *ret)
{
    FILE *f = fopen(path, "re");
    unsigned port = 0;
    if (!f) {
        return KS_ERR_NOT_FOUND;
    }
    int n = fscanf(f, "%u", &port);
    fclose(f);
    if (n != 1 || port == 0 || port > 65535) {
        return KS_ERR_NOT_FOUND;
    }
    *ret = port;
    return KS_OK;
}

static int start_daemon(const struct ks_bench_server_opts *o, struct ks_bench_server *s)
{
    char db[PATH_MAX], mk[PATH_MAX], tkey[PATH_MAX], portf[PATH_MAX], exe[PATH_MAX];
    char threads[16], maxconn[16], lifetime[16];
    path_in(s, "ks.db", db);
    path_in(s, "master.key", mk);
    path_in(s, "tls.key", tkey);
    path_in(s, "port", portf);
    path_in(s, "keyserverd.log", s->log);
    snprintf(exe, sizeof(exe), "%s", o->keyserverd);
    snprintf(threads, sizeof(threads), "%u", o->threads);
    snprintf(maxconn, sizeof(maxconn), "%u", o->max_connections);
    snprintf(lifetime, sizeof(lifetime), "%u", o->nonce_lifetime);
    const char *args[] = {
        exe,       "--listen",         "127.0.0.1:0", "--port-file", portf,   "--tls-cert",
        s->cacert, "--tls-key",        tkey,          "--db",        db,      "--master-key",
        mk,        "--rate-limit",     "0",           "--threads",   threads, "--max-connections",
        maxconn,   "--nonce-lifetime", lifetime,      "--log",       "stderr"};
    /* [wrapper words...] keyserverd args... NULL */
    const char *argv[WRAPPER_MAX_WORDS + sizeof(args) / sizeof(args[0]) + 1];
    char wrapper[1024];
    size_t n = 0;
    if (o->wrapper) {
        snprintf(wrapper, sizeof(wrapper), "%s", o->wrapper);
        char *save = NULL;
        for (char *w = strtok_r(wrapper, " ", &save); w && n < WRAPPER_MAX_WORDS;
             w = strtok_r(NULL, " ", &save)) {
            argv[n++] = w;
        }
    }
    memcpy(argv + n, args, sizeof(args));
    argv[n + sizeof(args) / sizeof(args[0])] = NULL;
    int logfd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (logfd < 0) {
        return KS_ERR_IO;
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(logfd);
        return KS_ERR_IO;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 1);
        }
        dup2(logfd, 2);
        execvp(argv[0], argv_unconst(argv));
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(logfd);
    s->pid = pid;
    for (long waited = 0; waited < START_TIMEOUT_MS; waited += 20) {
        if (read_port(portf, &s->port) == KS_OK) {
            return KS_OK;
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            s->pid = 0;
            fprintf(stderr, "ks-bench: keyserverd exited at start; see %s\n", s->log);
            return KS_ERR_INTERNAL;
        }
        sleep_ms(20);
    }
    fprintf(stderr, "ks-bench: keyserverd wrote no port file in %d ms; see %s\n", START_TIMEOUT_MS,
            s->log);
    return KS_ERR_INTERNAL;
}

int ks_bench_server_start(const struct ks_bench_server_opts *o, const struct ks_soft_ak *ak,
                          const struct ks_pcr_set *pcrs, const char *key_name,
                          const uint8_t key[32], struct ks_bench_server *ret)
{
    if (!o || !ak || !pcrs || !key_name || !key || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_bench_server s;
    memset(&s, 0, sizeof(s));
    int n = snprintf(s.dir, sizeof(s.dir), "%s/ks-bench.XXXXXX", o->tmp);
    if (n < 0 || (size_t)n >= sizeof(s.dir)) {
        fprintf(stderr, "ks-bench: temporary directory name too long: %s\n", o->tmp);
        return KS_ERR_INVALID_ARG;
    }
    if (!mkdtemp(s.dir)) {
        fprintf(stderr, "ks-bench: mkdtemp %s: %s\n", s.dir, strerror(errno));
        return KS_ERR_IO;
    }
    int r = provision(o, ak, pcrs, key_name, key, &s);
    if (r == KS_OK) {
        r = start_daemon(o, &s);
    }
    if (r < 0) {
        ks_bench_server_cleanup(&s, true); /* kept: its log says why */
        return r;
    }
    *ret = s;
    return KS_OK;
}

int ks_bench_server_cpu_us(const struct ks_bench_server *s, uint64_t *ret_user_us,
                           uint64_t *ret_sys_us)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)s->pid);
    FILE *f = fopen(path, "re");
    if (!f) {
        return KS_ERR_IO;
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name may hold spaces: fields count from the last ')'.
     * After it: state (3), ppid ... utime (14), stime (15), proc(5). */
    char *p = strrchr(buf, ')');
    unsigned long long utime = 0, stime = 0;
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                     &stime) != 2) {
        return KS_ERR_IO;
    }
    long hz = sysconf(_SC_CLK_TCK);
    unsigned long long tick_us = 1000000ull / (unsigned long long)(hz > 0 ? hz : 100);
    *ret_user_us = (uint64_t)(utime * tick_us);
    *ret_sys_us = (uint64_t)(stime * tick_us);
    return KS_OK;
}

int ks_bench_server_hwm_kib(const struct ks_bench_server *s, uint64_t *ret_kib)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)s->pid);
    FILE *f = fopen(path, "re");
    if (!f) {
        return KS_ERR_IO;
    }
    int r = KS_ERR_NOT_FOUND;
    while (fgets(line, sizeof(line), f)) {
        unsigned long long kib;
        if (sscanf(line, "VmHWM: %llu kB", &kib) == 1) {
            *ret_kib = kib;
            r = KS_OK;
            break;
        }
    }
    fclose(f);
    return r;
}

int ks_bench_server_established(const struct ks_bench_server *s, unsigned *ret_n)
{
    FILE *f = fopen("/proc/net/tcp", "re");
    char line[512];
    unsigned n = 0;
    if (!f) {
        return KS_ERR_IO;
    }
    /* "sl local_address rem_address st ...", addresses as HEXIP:HEXPORT,
     * state 01 = ESTABLISHED. */
    while (fgets(line, sizeof(line), f)) {
        unsigned lport, st;
        if (sscanf(line, " %*u: %*x:%x %*x:%*x %x", &lport, &st) == 2 && lport == s->port &&
            st == 1) {
            n++;
        }
    }
    fclose(f);
    *ret_n = n;
    return KS_OK;
}

int ks_bench_server_stop(struct ks_bench_server *s, struct rusage *ret_ru)
{
    if (!s || s->pid <= 0) {
        return KS_ERR_INVALID_ARG;
    }
    struct rusage ru;
    int status = 0;
    kill(s->pid, SIGTERM);
    for (long waited = 0;; waited += 10) {
        pid_t p = wait4(s->pid, &status, WNOHANG, &ru);
        if (p == s->pid) {
            break;
        }
        if (waited >= 10000) {
            kill(s->pid, SIGKILL);
            while (wait4(s->pid, &status, 0, &ru) < 0 && errno == EINTR) {
            }
            s->pid = 0;
            return KS_ERR_INTERNAL;
        }
        sleep_ms(10);
    }
    s->pid = 0;
    if (ret_ru) {
        *ret_ru = ru;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? KS_OK : KS_ERR_INTERNAL;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void ks_bench_server_cleanup(struct ks_bench_server *s, bool keep)
{
    if (!s) {
        return;
    }
    if (s->pid > 0 && ks_bench_server_stop(s, NULL) < 0) {
        /* Reported by the caller's figures; nothing more to do here. */
    }
    if (s->dir[0] && !keep) {
        nftw(s->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    } else if (s->dir[0]) {
        fprintf(stderr, "ks-bench: kept %s\n", s->dir);
    }
    s->dir[0] = '\0';
}
