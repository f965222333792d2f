/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "encoding.h"
#include "ks_seal.h"
#include "locked_mem.h"
#include "model.h"
#include "sealed.h"

/* ks-seal's debugging commands: unseal (decrypt a sealed file with its key
 * file) and run-plaintext (the CPU forward pass on a plaintext weights file,
 * for tests/integration/model_numpy.sh). */

/* ---- unseal (debugging) ------------------------------------------------------ */

static void usage_unseal(FILE *f)
{
    fprintf(f, "Usage: ks-seal unseal --in FILE.sealed --key-file KEYFILE --out FILE\n"
               "                      [--threads T]\n\n"
               "Debugging: decrypt a sealed file with its raw 32-byte key file (what seal\n"
               "--key-out wrote), checking every chunk and the plaintext's SHA-256, and\n"
               "write the plaintext to FILE (mode 0600, not overwritten; removed on\n"
               "failure). The loader never does this: it decrypts into locked memory.\n\n"
               "  --threads T   decrypting threads (default 1)\n");
}

static int read_key_file(const char *path, uint8_t *key)
{
    uint8_t extra;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ks_seal_err("cannot open the key file %s: %s", path, strerror(errno));
        return KS_ERR_IO;
    }
    ssize_t n = read(fd, key, KS_SEAL_KEY_LEN);
    ssize_t m = n == KS_SEAL_KEY_LEN ? read(fd, &extra, 1) : 0;
    close(fd);
    if (n != KS_SEAL_KEY_LEN || m != 0) {
        ks_seal_err("the key file %s must hold exactly %d raw bytes", path, KS_SEAL_KEY_LEN);
        return KS_ERR_INVALID_ARG;
    }
    return KS_OK;
}

int ks_seal_cmd_unseal(int argc, char **argv)
{
    static const struct option opts[] = {
        {"in", required_argument, NULL, 'i'},  {"key-file", required_argument, NULL, 'k'},
        {"out", required_argument, NULL, 'o'}, {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0},
    };
    const char *in_path = NULL, *key_path = NULL, *out_path = NULL;
    uint64_t threads = 1;
    struct ks_locked key = {0}, plain = {0};
    struct ks_unseal *u = NULL;
    int c, r, fd = -1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            in_path = optarg;
            break;
        case 'k':
            key_path = optarg;
            break;
        case 'o':
            out_path = optarg;
            break;
        case 't':
            if (!ks_seal_parse_u64("--threads", optarg, 1, KS_SEAL_MAX_THREADS, &threads)) {
                return 2;
            }
            break;
        case 'h':
            usage_unseal(stdout);
            return 0;
        default:
            usage_unseal(stderr);
            return 2;
        }
    }
    if (!in_path || !key_path || !out_path || optind != argc) {
        usage_unseal(stderr);
        return 2;
    }
    if ((r = ks_seal_gcrypt_init()) < 0) {
        return ks_seal_fail("unseal", r);
    }
    fd = open(in_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ks_seal_err("unseal: cannot open %s: %s", in_path, strerror(errno));
        return 2;
    }
    if ((r = ks_locked_alloc(KS_SEAL_KEY_LEN, false, false, &key)) < 0 ||
        (r = read_key_file(key_path, key.ptr)) < 0 || (r = ks_unseal_open(fd, NULL, 0, &u)) < 0) {
        r = ks_seal_fail("unseal", r);
        goto out;
    }
    uint64_t len = ks_unseal_header(u)->plain_len;
    if (len > 0 && (r = ks_locked_alloc((size_t)len, true, false, &plain)) < 0) {
        r = ks_seal_fail("unseal", r);
        goto out;
    }
    if ((r = ks_unseal_to_buffer(u, key.ptr, plain.ptr, (size_t)len, (unsigned)threads, 0)) < 0) {
        r = ks_seal_fail("unseal", r);
        goto out;
    }
    FILE *f = ks_seal_create(out_path, 0600, false);
    if (!f) {
        r = ks_seal_create_exit();
        goto out;
    }
    bool ok = fwrite(plain.ptr, 1, (size_t)len, f) == len;
    ok = fclose(f) == 0 && ok;
    if (!ok) {
        unlink(out_path);
        r = ks_seal_fail("unseal: write", KS_ERR_IO);
        goto out;
    }
    printf("unsealed %s -> %s: %llu bytes, every chunk and the SHA-256 verified\n", in_path,
           out_path, (unsigned long long)len);
    r = 0;
out:
    ks_unseal_free(u);
    ks_locked_free(&plain);
    ks_locked_free(&key);
    close(fd);
    return r;
}

/* ---- run-plaintext (debugging) ----------------------------------------------- */

static void usage_run(FILE *f)
{
    fprintf(f, "Usage: ks-seal run-plaintext --weights FILE (--prompt TEXT | --prompt-hex HEX)\n"
               "                             --n N [--logits] [--threads 1|2 (default 1)]\n"
               "                             [--allow-unlocked]\n\n"
               "Debugging: run the reference model's CPU forward pass on a PLAINTEXT\n"
               "weights file and print the N greedily generated bytes in hex (and, with\n"
               "--logits, the 256 logits of the last step), for comparison with other\n"
               "implementations (tests/integration/model_numpy.py).\n\n"
               "  --allow-unlocked   run even if the memory cannot be locked\n");
}

int ks_seal_cmd_run_plaintext(int argc, char **argv)
{
    static const struct option opts[] = {
        {"weights", required_argument, NULL, 'w'},
        {"prompt", required_argument, NULL, 'p'},
        {"prompt-hex", required_argument, NULL, 'x'},
        {"n", required_argument, NULL, 'n'},
        {"logits", no_argument, NULL, 'l'},
        {"threads", required_argument, NULL, 't'},
        {"allow-unlocked", no_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *weights = NULL, *prompt = NULL, *prompt_hex = NULL;
    uint64_t n = 0, threads = 0;
    bool have_n = false, logits = false, allow_unlocked = false;
    uint8_t *pbuf = NULL, *out = NULL;
    size_t plen = 0;
    struct ks_locked w = {0};
    struct ks_model *m = NULL;
    float lg[KS_MODEL_VOCAB];
    int c, r, fd = -1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'w':
            weights = optarg;
            break;
        case 'p':
            prompt = optarg;
            break;
        case 'x':
            prompt_hex = optarg;
            break;
        case 'n':
            if (!ks_seal_parse_u64("--n", optarg, 0, KS_MODEL_SEQ_MAX, &n)) {
                return 2;
            }
            have_n = true;
            break;
        case 'l':
            logits = true;
            break;
        case 't':
            if (!ks_seal_parse_u64("--threads", optarg, 1, 2, &threads)) {
                return 2;
            }
            break;
        case 'u':
            allow_unlocked = true;
            break;
        case 'h':
            usage_run(stdout);
            return 0;
        default:
            usage_run(stderr);
            return 2;
        }
    }
    if (!weights || !have_n || !prompt == !prompt_hex || optind != argc) {
        usage_run(stderr);
        return 2;
    }
    if (prompt_hex) {
        if (ks_hex_decode(prompt_hex, &pbuf, &plen) < 0) {
            ks_seal_err("run-plaintext: --prompt-hex: not hex");
            return 2;
        }
    } else {
        plen = strlen(prompt);
        pbuf = malloc(plen + 1);
        if (pbuf) {
            memcpy(pbuf, prompt, plen + 1);
        }
    }
    out = malloc(n + 1);
    if (!pbuf || !out) {
        r = ks_seal_fail("run-plaintext", KS_ERR_NOMEM);
        goto out;
    }
    fd = open(weights, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
        ks_seal_err("run-plaintext: cannot read %s", weights);
        r = 2;
        goto out;
    }
    if ((r = ks_locked_alloc((size_t)st.st_size, allow_unlocked, true, &w)) < 0) {
        r = ks_seal_fail("run-plaintext", r);
        goto out;
    }
    for (size_t off = 0; off < w.len;) {
        ssize_t got = pread(fd, (uint8_t *)w.ptr + off, w.len - off, (off_t)off);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            r = ks_seal_fail("run-plaintext: read", KS_ERR_IO);
            goto out;
        }
        off += (size_t)got;
    }
    if ((r = ks_model_open(w.ptr, w.len, NULL, (unsigned)threads, allow_unlocked, &m)) < 0 ||
        (r = ks_model_generate(m, pbuf, plen, n, out, lg)) < 0) {
        r = ks_seal_fail("run-plaintext", r);
        goto out;
    }
    char *hex = malloc(2 * n + 1);
    if (!hex) {
        r = ks_seal_fail("run-plaintext", KS_ERR_NOMEM);
        goto out;
    }
    ks_hex_encode(out, n, hex);
    printf("generated %s\n", hex);
    free(hex);
    if (logits && n > 0) {
        fputs("logits", stdout);
        for (size_t i = 0; i < KS_MODEL_VOCAB; i++) {
            printf(" %.9g", (double)lg[i]);
        }
        fputc('\n', stdout);
    }
    r = 0;
out:
    ks_model_free(m);
    ks_locked_free(&w);
    if (fd >= 0) {
        close(fd);
    }
    /* Prompts and completions are secrets in the loader; here too. */
    if (pbuf) {
        OPENSSL_cleanse(pbuf, plen);
    }
    if (out) {
        OPENSSL_cleanse(out, n);
    }
    free(pbuf);
    free(out);
    return r;
}
