/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/*
 * unseal-bench (`make bench-unseal`, part of `make bench`): how fast sealed
 * weights are decrypted straight into the CPU backend's locked memory, against
 * the raw AES-256-GCM decrypt rate of the same library (libgcrypt) on the same
 * chunk size measured in the same run, and the CPU backend's tokens/s.
 *
 *   1. generate the reference model (default: d_model 2048, 6 layers,
 *      1.13 GiB) into a temporary directory, seal it (4 MiB chunks);
 *   2. for 1 and 2 threads, interleaved, best of --reps:
 *      raw:    each thread decrypts (reset, IV, AAD, decrypt, checktag) one
 *              chunk-sized ciphertext into one chunk-sized buffer, over and
 *              over, as many bytes in all as the model;
 *      unseal: ks_unseal_run() into the CPU backend's sink (decrypt straight
 *              into the mlock'ed weights, no copy pass), without and with the
 *              running SHA-256; only the run is timed (allocation, open and
 *              the header check are not);
 *   3. greedy generation with the CPU forward pass, 1 and 2 threads.
 * Targets: unseal >= 80% of the raw rate with the same number of threads,
 * 2 threads >= 1.7x 1 thread.
 * The sealed file is read from the page cache (it was just written): this
 * measures the CPU path, not the disk.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gcrypt.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "loader-ref/backend.h"
#include "loader-ref/locked_mem.h"
#include "loader-ref/model.h"
#include "sealed.h"

struct opts {
    struct ks_model_dims dims;
    const char *dir;
    unsigned reps, tokens;
    uint32_t chunk;
    bool strict, keep;
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void die(const char *what, int r)
{
    fprintf(stderr, "unseal-bench: %s: %s\n", what, r < 0 ? ks_strerror(r) : strerror(errno));
    exit(3);
}

/* ---- raw libgcrypt AES-256-GCM decrypt ------------------------------------ */

struct raw_job {
    const uint8_t *key;
    uint32_t chunk;
    uint64_t bytes; /* to decrypt in all */
    int r;
};

static void *raw_thread(void *arg)
{
    struct raw_job *j = arg;
    uint8_t nonce[12] = {0}, aad[52] = {0}, tag[16];
    uint8_t *pt = malloc(j->chunk), *ct = malloc(j->chunk);
    gcry_cipher_hd_t hd = NULL;
    j->r = KS_ERR_CRYPTO;
    if (!pt || !ct ||
        gcry_cipher_open(&hd, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_GCM, GCRY_CIPHER_SECURE) ||
        gcry_cipher_setkey(hd, j->key, 32)) {
        goto out;
    }
    /* A genuine chunk, so that every checktag succeeds. */
    memset(pt, 0x5a, j->chunk);
    if (gcry_cipher_setiv(hd, nonce, 12) || gcry_cipher_authenticate(hd, aad, sizeof(aad)) ||
        gcry_cipher_encrypt(hd, ct, j->chunk, pt, j->chunk) || gcry_cipher_gettag(hd, tag, 16)) {
        goto out;
    }
    for (uint64_t done = 0; done < j->bytes; done += j->chunk) {
        if (gcry_cipher_reset(hd) || gcry_cipher_setiv(hd, nonce, 12) ||
            gcry_cipher_authenticate(hd, aad, sizeof(aad)) ||
            gcry_cipher_decrypt(hd, pt, j->chunk, ct, j->chunk) ||
            gcry_cipher_checktag(hd, tag, 16)) {
            goto out;
        }
    }
    j->r = KS_OK;
out:
    gcry_cipher_close(hd);
    free(pt);
    free(ct);
    return NULL;
}

/* Aggregate raw rate of `threads` threads, bytes/s. */
static double raw_rate(const uint8_t *key, uint32_t chunk, uint64_t bytes, unsigned threads)
{
    struct raw_job jobs[2];
    pthread_t t[2];
    double t0 = now();
    for (unsigned i = 0; i < threads; i++) {
        jobs[i] = (struct raw_job){.key = key, .chunk = chunk, .bytes = bytes / threads};
        if (pthread_create(&t[i], NULL, raw_thread, &jobs[i]) != 0) {
            die("pthread_create", 0);
        }
    }
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        if (jobs[i].r < 0) {
            die("raw decrypt", jobs[i].r);
        }
    }
    return (double)(bytes / threads * threads) / (now() - t0);
}

/* ---- unseal into the CPU backend ---------------------------------------- */

static double unseal_rate(const char *sealed, const uint8_t *key, unsigned threads, unsigned flags)
{
    struct ks_backend *b = NULL;
    struct ks_unseal *u = NULL;
    struct ks_unseal_sink sink;
    int r, fd = open(sealed, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        die(sealed, 0);
    }
    if ((r = ks_unseal_open(fd, NULL, 0, &u)) < 0 ||
        (r = ks_backend_open("cpu", &b, NULL, 0)) < 0 ||
        (r = ks_backend_weights_alloc(b, (size_t)ks_unseal_header(u)->plain_len, false)) < 0 ||
        (r = ks_backend_weights_sink(b, threads, ks_unseal_header(u)->chunk_size, &sink)) < 0) {
        die("unseal setup (RLIMIT_MEMLOCK? try ulimit -l unlimited)", r);
    }
    double t0 = now();
    if ((r = ks_unseal_run(u, key, &sink, threads, flags)) < 0) {
        die("unseal", r);
    }
    double rate = (double)ks_unseal_header(u)->plain_len / (now() - t0);
    ks_backend_close(b);
    ks_unseal_free(u);
    close(fd);
    return rate;
}

static double sha_rate(const char *path)
{
    struct ks_locked m = {0};
    struct stat st;
    uint8_t d[32];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || ks_locked_alloc((size_t)st.st_size, true, true, &m) < 0 ||
        pread(fd, m.ptr, m.len, 0) != (ssize_t)m.len) {
        die("sha256 setup", 0);
    }
    double t0 = now();
    EVP_Digest(m.ptr, m.len, d, NULL, EVP_sha256(), NULL);
    double rate = (double)m.len / (now() - t0);
    ks_locked_free(&m);
    close(fd);
    return rate;
}

/* ---- inference ------------------------------------------------------------ */

/* tokens/s of greedy generation: a 1-byte prompt, `tokens` new bytes (as many
 * positions), best of reps. */
static double tokens_rate(const uint8_t *weights, size_t len, unsigned threads, unsigned tokens,
                          unsigned reps)
{
    struct ks_model *m = NULL;
    uint8_t *out = malloc(tokens);
    double best = 0.0;
    int r;
    if (!out || (r = ks_model_open(weights, len, NULL, threads, false, &m)) < 0) {
        die("model", out ? r : KS_ERR_NOMEM);
    }
    for (unsigned i = 0; i < reps; i++) {
        double t0 = now();
        if ((r = ks_model_generate(m, (const uint8_t *)"A", 1, tokens, out, NULL)) < 0) {
            die("generate", r);
        }
        double rate = tokens / (now() - t0);
        best = rate > best ? rate : best;
    }
    ks_model_free(m);
    free(out);
    return best;
}

static int gen_write(void *ctx, const void *buf, size_t len)
{
    int fd = *(int *)ctx;
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n <= 0) {
            return KS_ERR_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    return KS_OK;
}

struct mem_out {
    uint8_t *p;
    size_t off, cap;
};

static int mem_write(void *ctx, const void *buf, size_t len)
{
    struct mem_out *m = ctx;
    if (len > m->cap - m->off) {
        return KS_ERR_TOO_LARGE;
    }
    memcpy(m->p + m->off, buf, len);
    m->off += len;
    return KS_OK;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: unseal-bench [--dir DIR] [--d-model D] [--layers L] [--heads H]\n"
               "                    [--d-ff F] [--max-seq S] [--chunk-size BYTES] [--reps N]\n"
               "                    [--tokens N] [--strict] [--keep]\n\n"
               "Weights unseal throughput (1 and 2 threads) against the raw libgcrypt\n"
               "AES-256-GCM decrypt rate, and CPU inference tokens/s, on a generated model\n"
               "(default d_model 2048, 6 layers, 16 heads, d_ff 8192, max_seq 512: 1.13 GiB)\n"
               "in a temporary directory under DIR (default $TMPDIR or /tmp), removed at\n"
               "the end unless --keep. Exit status: 0 when it ran (targets reported), 1 when\n"
               "a target was missed with --strict, 2 usage, 3 setup failure.\n");
}

static void parse(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"dir", required_argument, NULL, 'd'},
        {"d-model", required_argument, NULL, 'D'},
        {"layers", required_argument, NULL, 'L'},
        {"heads", required_argument, NULL, 'H'},
        {"d-ff", required_argument, NULL, 'F'},
        {"max-seq", required_argument, NULL, 'S'},
        {"chunk-size", required_argument, NULL, 'c'},
        {"reps", required_argument, NULL, 'r'},
        {"tokens", required_argument, NULL, 't'},
        {"strict", no_argument, NULL, 's'},
        {"keep", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    o->dims = (struct ks_model_dims){256, 2048, 6, 16, 8192, 512};
    o->dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    o->reps = 3;
    o->tokens = 32;
    o->chunk = KS_SEAL_CHUNK_DEFAULT;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        unsigned long v = optarg ? strtoul(optarg, NULL, 10) : 0;
        switch (c) {
        case 'd':
            o->dir = optarg;
            break;
        case 'D':
            o->dims.d_model = (uint32_t)v;
            break;
        case 'L':
            o->dims.n_layers = (uint32_t)v;
            break;
        case 'H':
            o->dims.n_heads = (uint32_t)v;
            break;
        case 'F':
            o->dims.d_ff = (uint32_t)v;
            break;
        case 'S':
            o->dims.max_seq = (uint32_t)v;
            break;
        case 'c':
            o->chunk = (uint32_t)v;
            break;
        case 'r':
            o->reps = (unsigned)v;
            break;
        case 't':
            o->tokens = (unsigned)v;
            break;
        case 's':
            o->strict = true;
            break;
        case 'k':
            o->keep = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            exit(2);
        }
    }
    if (optind != argc || ks_model_dims_validate(&o->dims) < 0 || o->reps == 0 || o->tokens == 0 ||
        o->tokens > o->dims.max_seq || o->chunk < KS_SEAL_CHUNK_MIN ||
        o->chunk > KS_SEAL_CHUNK_MAX) {
        usage(stderr);
        exit(2);
    }
}

#define GB 1e9

int main(int argc, char **argv)
{
    struct opts o = {0};
    char dir[4096], plain[4200], sealed[4200];
    uint8_t key[32];
    uint64_t size = 0;
    int r;
    parse(argc, argv, &o);
    if ((r = ks_seal_gcrypt_init()) < 0 || (r = ks_model_weights_size(&o.dims, &size)) < 0) {
        die("init", r);
    }
    snprintf(dir, sizeof(dir), "%s/ks-unseal-bench.XXXXXX", o.dir);
    if (!mkdtemp(dir)) {
        die(dir, 0);
    }
    snprintf(plain, sizeof(plain), "%s/weights.bin", dir);
    snprintf(sealed, sizeof(sealed), "%s/weights.sealed", dir);
    if (RAND_bytes(key, sizeof(key)) != 1) {
        die("RAND_bytes", KS_ERR_CRYPTO);
    }

    /* 1. The model, sealed. */
    double t0 = now();
    int fd = open(plain, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || (r = ks_model_generate_weights(&o.dims, 1, gen_write, &fd)) < 0 || close(fd)) {
        die("gen-model", fd < 0 ? 0 : r);
    }
    double t_gen = now() - t0;
    int in = open(plain, O_RDONLY | O_CLOEXEC);
    int out = open(sealed, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    struct ks_seal_params sp = {.key_name = "bench-dek", .chunk_size = o.chunk};
    t0 = now();
    if (in < 0 || out < 0 || (r = ks_seal_fd(in, out, &sp, key, NULL)) < 0) {
        die("seal", in < 0 || out < 0 ? 0 : r);
    }
    double t_seal = now() - t0;
    close(in);
    close(out);

    printf("Weights unseal and inference (CPU backend), unseal-bench\n"
           "model: d_model %u, layers %u, heads %u, d_ff %u, max_seq %u: %.2f GiB "
           "(generated in %.1f s, sealed in %.1f s: %.2f GB/s with OpenSSL)\n"
           "chunk size %u KiB; sealed file read from the page cache; best of %u\n\n",
           o.dims.d_model, o.dims.n_layers, o.dims.n_heads, o.dims.d_ff, o.dims.max_seq,
           (double)size / (1u << 30), t_gen, t_seal, (double)size / t_seal / GB, o.chunk / 1024,
           o.reps);

    /* 2. Raw vs unseal, interleaved. */
    double raw[3] = {0}, plain_u[3] = {0}, dig[3] = {0}, sha = 0;
    for (unsigned rep = 0; rep < o.reps; rep++) {
        for (unsigned t = 1; t <= 2; t++) {
            double a = raw_rate(key, o.chunk, size, t);
            double b = unseal_rate(sealed, key, t, KS_UNSEAL_SKIP_DIGEST);
            double c = unseal_rate(sealed, key, t, 0);
            raw[t] = a > raw[t] ? a : raw[t];
            plain_u[t] = b > plain_u[t] ? b : plain_u[t];
            dig[t] = c > dig[t] ? c : dig[t];
        }
        double s = sha_rate(plain);
        sha = s > sha ? s : sha;
    }
    printf("  %-48s %7s %7s %10s %10s\n", "", "threads", "GB/s", "vs raw", "vs raw 1T");
    for (unsigned t = 1; t <= 2; t++) {
        printf("  %-48s %7u %7.2f %10s %9.0f%%\n",
               "raw AES-256-GCM decrypt (libgcrypt, hot buffers)", t, raw[t] / GB, "",
               100.0 * raw[t] / t / raw[1]);
    }
    for (unsigned t = 1; t <= 2; t++) {
        printf("  %-48s %7u %7.2f %9.1f%% %9.1f%%\n", "unseal into locked memory (auth only)", t,
               plain_u[t] / GB, 100.0 * plain_u[t] / raw[t], 100.0 * plain_u[t] / t / raw[1]);
    }
    for (unsigned t = 1; t <= 2; t++) {
        printf("  %-48s %7u %7.2f %9.1f%% %9.1f%%\n", "unseal into locked memory + running SHA-256",
               t, dig[t] / GB, 100.0 * dig[t] / raw[t], 100.0 * dig[t] / t / raw[1]);
    }
    printf("  %-48s %7u %7.2f\n", "SHA-256 alone (OpenSSL)", 1u, sha / GB);
    printf("  (vs raw: against raw with as many threads; vs raw 1T: the rate per thread against\n"
           "  raw with 1 thread)\n\n");

    /* 3. Inference. */
    struct ks_locked w = {0};
    int sfd = open(sealed, O_RDONLY | O_CLOEXEC);
    struct ks_unseal *u = NULL;
    if (sfd < 0 || (r = ks_unseal_open(sfd, NULL, 0, &u)) < 0 ||
        (r = ks_locked_alloc((size_t)size, false, true, &w)) < 0 ||
        (r = ks_unseal_to_buffer(u, key, w.ptr, w.len, 2, 0)) < 0) {
        die("unseal for inference", r);
    }
    ks_unseal_free(u);
    close(sfd);
    double tok1 = tokens_rate(w.ptr, w.len, 1, o.tokens, o.reps);
    double tok2 = tokens_rate(w.ptr, w.len, 2, o.tokens, o.reps);
    ks_locked_free(&w);
    struct ks_model_dims small = KS_MODEL_DEFAULT_DIMS;
    uint64_t ssize;
    if ((r = ks_model_weights_size(&small, &ssize)) < 0 ||
        (r = ks_locked_alloc((size_t)ssize, false, false, &w)) < 0) {
        die("small model", r);
    }
    struct mem_out mo = {.p = w.ptr, .cap = w.len};
    if ((r = ks_model_generate_weights(&small, 1, mem_write, &mo)) < 0) {
        die("small model", r);
    }
    double stok1 = tokens_rate(w.ptr, w.len, 1, 128, o.reps);
    ks_locked_free(&w);
    printf("  %-48s %7s %9s %12s\n", "greedy generation, CPU forward pass", "threads", "tokens/s",
           "weights GB/s");
    printf("  %-48s %7u %9.1f %12.1f\n", "this model", 1u, tok1, tok1 * (double)size / GB);
    printf("  %-48s %7u %9.1f %12.1f\n", "this model", 2u, tok2, tok2 * (double)size / GB);
    printf("  %-48s %7u %9.0f\n", "default test model (d_model 64, 0.5 MB)", 1u, stok1);
    printf("  (%u new tokens after a 1-byte prompt, KV cache; every token reads all the weights\n"
           "  once: \"weights GB/s\" is that rate, against the memory bandwidth)\n\n",
           o.tokens);

    /* Targets. "Per thread" compares with the raw rate measured with as
     * many threads (both then share the caches, the memory bus and the
     * clock boost); the ratio to twice the 1-thread raw rate is printed too. */
    int missed = 0;
    double eff1 = plain_u[1] / raw[1], eff2 = plain_u[2] / raw[2];
    double eff2_strict = plain_u[2] / (2 * raw[1]), scaling = plain_u[2] / plain_u[1];
    printf("targets:\n");
    printf("  unseal 1 thread  >= 80%% of raw 1 thread:          %5.1f%%  %s\n", 100 * eff1,
           eff1 >= 0.8 ? "met" : "MISSED");
    printf("  unseal 2 threads >= 80%% of raw 2 threads:         %5.1f%%  %s\n", 100 * eff2,
           eff2 >= 0.8 ? "met" : "MISSED");
    printf("  (unseal 2 threads / (2 x raw 1 thread):           %5.1f%%)\n", 100 * eff2_strict);
    printf("  unseal 2 threads / 1 thread >= 1.7x:              %5.2fx  %s\n", scaling,
           scaling >= 1.7 ? "met" : "MISSED");
    missed += eff1 < 0.8;
    missed += eff2 < 0.8;
    missed += scaling < 1.7;

    if (!o.keep) {
        unlink(plain);
        unlink(sealed);
        rmdir(dir);
    } else {
        printf("kept %s\n", dir);
    }
    return o.strict && missed ? 1 : 0;
}
