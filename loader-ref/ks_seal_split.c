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

#include "ks_seal.h"
#include "shamir.h"

/*
 * ks-seal split-key: k-of-n Shamir split of a key file (DESIGN "Reference
 * loader path" 1), one share per independent keyserver, each imported there
 * with `ksctl key import NAME --file SHARE --share-index I
 * --share-threshold K --share-count N`. The loader attests to the
 * keyservers, combines any K shares and unseals; no single operator can
 * release the key alone.
 */

static void usage_split(FILE *f)
{
    fprintf(f, "Usage: ks-seal split-key --key-file KEYFILE --threshold K --count N\n"
               "                         --out-prefix PREFIX [--key-name NAME]\n\n"
               "Split the key in KEYFILE (1..64 bytes, e.g. the DEK that 'seal --key-out'\n"
               "wrote) into N shares, any K of which give the key back (Shamir over\n"
               "GF(2^8)). Share I goes to PREFIX.I (mode 0600, never overwritten), the same\n"
               "length as the key; import it into keyserver I with the command printed for\n"
               "it. Then remove KEYFILE: each share alone says nothing about the key.\n\n"
               "  --key-file KEYFILE  the key (a regular file)\n"
               "  --threshold K       shares needed, 1..N (K = 1 copies the key N times)\n"
               "  --count N           shares made, 1..255\n"
               "  --out-prefix PREFIX share files PREFIX.1 .. PREFIX.N\n"
               "  --key-name NAME     key name in the printed ksctl commands (default NAME)\n"
               "  --help              this text\n");
}

struct split_opts {
    const char *key_file, *prefix, *key_name;
    uint64_t threshold, count;
};

static int parse_split(int argc, char **argv, struct split_opts *o)
{
    static const struct option longopts[] = {
        {"key-file", required_argument, NULL, 'k'},
        {"threshold", required_argument, NULL, 't'},
        {"count", required_argument, NULL, 'n'},
        {"out-prefix", required_argument, NULL, 'o'},
        {"key-name", required_argument, NULL, 'N'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof(*o));
    o->key_name = "NAME";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'k':
            o->key_file = optarg;
            break;
        case 't':
            if (!ks_seal_parse_u64("--threshold", optarg, 1, KS_SHAMIR_SHARES_MAX, &o->threshold)) {
                return 2;
            }
            break;
        case 'n':
            if (!ks_seal_parse_u64("--count", optarg, 1, KS_SHAMIR_SHARES_MAX, &o->count)) {
                return 2;
            }
            break;
        case 'o':
            o->prefix = optarg;
            break;
        case 'N':
            o->key_name = optarg;
            break;
        case 'h':
            usage_split(stdout);
            return 0;
        default:
            usage_split(stderr);
            return 2;
        }
    }
    if (optind != argc || !o->key_file || !o->prefix || !o->threshold || !o->count) {
        ks_seal_err("split-key: --key-file, --threshold, --count and --out-prefix are required");
        usage_split(stderr);
        return 2;
    }
    if (o->threshold > o->count) {
        ks_seal_err("split-key: --threshold %llu is more than --count %llu",
                    (unsigned long long)o->threshold, (unsigned long long)o->count);
        return 2;
    }
    return -1;
}

/* Read the key (1..64 bytes) into `key`, refusing what is not a regular
 * file; the stdio buffer is not used, so no copy is left behind. */
static int read_key(const char *path, uint8_t key[KS_SHAMIR_SECRET_MAX], size_t *ret_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        ks_seal_err("split-key: cannot open the key file %s: %s", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return 2;
    }
    uint8_t buf[KS_SHAMIR_SECRET_MAX + 1];
    ssize_t n = S_ISREG(st.st_mode) ? read(fd, buf, sizeof(buf)) : -1;
    close(fd);
    int status = 0;
    if (!S_ISREG(st.st_mode)) {
        ks_seal_err("split-key: %s is not a regular file", path);
        status = 2;
    } else if (n < 0) {
        ks_seal_err("split-key: cannot read %s: %s", path, strerror(errno));
        status = 3;
    } else if (n == 0 || n > KS_SHAMIR_SECRET_MAX || st.st_size != n) {
        ks_seal_err("split-key: the key in %s must be 1..%d bytes", path, KS_SHAMIR_SECRET_MAX);
        status = 1;
    } else {
        memcpy(key, buf, (size_t)n);
        *ret_len = (size_t)n;
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    return status;
}

static int write_share(const char *path, const struct ks_shamir_share *s)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        ks_seal_err("split-key: cannot create %s: %s%s", path, strerror(errno),
                    errno == EEXIST ? " (a share file is never overwritten)" : "");
        return errno == EEXIST ? 2 : 3;
    }
    bool ok = fchmod(fd, 0600) == 0 && write(fd, s->y, s->len) == (ssize_t)s->len;
    ok = close(fd) == 0 && ok;
    if (!ok) {
        ks_seal_err("split-key: cannot write %s", path);
        unlink(path);
        return 3;
    }
    return 0;
}

int ks_seal_cmd_split_key(int argc, char **argv)
{
    struct split_opts o;
    int status = parse_split(argc, argv, &o);
    if (status >= 0) {
        return status;
    }
    uint8_t key[KS_SHAMIR_SECRET_MAX];
    size_t len = 0;
    struct ks_shamir_share *shares = calloc(o.count, sizeof(*shares));
    size_t path_size = strlen(o.prefix) + 8;
    char *path = malloc(path_size);
    unsigned written = 0;
    if (!shares || !path) {
        ks_seal_err("split-key: out of memory");
        status = 3;
        goto out;
    }
    if ((status = read_key(o.key_file, key, &len)) != 0) {
        goto out;
    }
    int r = ks_shamir_split(key, len, (unsigned)o.threshold, (unsigned)o.count, shares);
    if (r != KS_OK) {
        status = ks_seal_fail("split-key", r);
        goto out;
    }
    for (; written < o.count; written++) {
        snprintf(path, path_size, "%s.%u", o.prefix, written + 1);
        if ((status = write_share(path, &shares[written])) != 0) {
            goto out;
        }
    }
    printf("# %llu-of-%llu split of %s: import share I into keyserver I, then remove %s\n",
           (unsigned long long)o.threshold, (unsigned long long)o.count, o.key_file, o.key_file);
    for (unsigned i = 1; i <= o.count; i++) {
        printf("ksctl key import %s --policy POLICY --file %s.%u --share-index %u "
               "--share-threshold %llu --share-count %llu\n",
               o.key_name, o.prefix, i, i, (unsigned long long)o.threshold,
               (unsigned long long)o.count);
    }
out:
    /* All or nothing: a partial set of share files is removed. */
    if (status != 0 && path) {
        for (unsigned i = 0; i < written; i++) {
            snprintf(path, path_size, "%s.%u", o.prefix, i + 1);
            unlink(path);
        }
    }
    if (shares) {
        OPENSSL_cleanse(shares, o.count * sizeof(*shares));
    }
    free(shares);
    free(path);
    OPENSSL_cleanse(key, sizeof(key));
    return status;
}
