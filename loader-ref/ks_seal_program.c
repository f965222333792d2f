/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "encoding.h"
#include "file_util.h"
#include "ks_seal.h"
#include "model.h"
#include "program.h"

/* ks-seal ci-keygen / sign-program / verify-program (loader-ref/program.h). */

static void usage_keygen(FILE *f)
{
    fprintf(f, "Usage: ks-seal ci-keygen --out-priv FILE --out-pub FILE\n\n"
               "Make the CI signing key: Ed25519, the private key PEM (PKCS#8, mode 0600)\n"
               "and the public key PEM (SubjectPublicKeyInfo) that ks-loader pins. Neither\n"
               "file is overwritten. Prints the SHA-256 of the public key file.\n");
}

int ks_seal_cmd_ci_keygen(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out-priv", required_argument, NULL, 'p'},
        {"out-pub", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *priv = NULL, *pub = NULL;
    EVP_PKEY *k = NULL;
    FILE *f = NULL;
    uint8_t digest[32];
    char hex[65];
    int c, r = 3;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            priv = optarg;
            break;
        case 'P':
            pub = optarg;
            break;
        case 'h':
            usage_keygen(stdout);
            return 0;
        default:
            usage_keygen(stderr);
            return 2;
        }
    }
    if (!priv || !pub || optind != argc) {
        usage_keygen(stderr);
        return 2;
    }
    k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!k) {
        return ks_seal_fail("ci-keygen", KS_ERR_CRYPTO);
    }
    if (!(f = ks_seal_create(priv, 0600, false))) {
        r = ks_seal_create_exit();
        goto out;
    }
    bool ok = PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1;
    ok = fclose(f) == 0 && ok;
    if (!ok) {
        unlink(priv);
        ks_seal_err("ci-keygen: cannot write %s", priv);
        goto out;
    }
    if (!(f = ks_seal_create(pub, 0644, false))) {
        r = ks_seal_create_exit();
        unlink(priv);
        goto out;
    }
    ok = PEM_write_PUBKEY(f, k) == 1;
    ok = fclose(f) == 0 && ok;
    if (!ok || ks_seal_file_sha256(pub, digest, NULL) < 0) {
        unlink(priv);
        unlink(pub);
        ks_seal_err("ci-keygen: cannot write %s", pub);
        goto out;
    }
    ks_hex_encode(digest, sizeof(digest), hex);
    printf("CI key: private %s (0600), public %s\npublic key file sha256 %s\n", priv, pub, hex);
    r = 0;
out:
    EVP_PKEY_free(k);
    return r;
}

static void usage_sign(FILE *f)
{
    fprintf(f, "Usage: ks-seal sign-program --ci-key FILE --weights FILE --name NAME\n"
               "                            [--max-new-tokens N] --out program.json [--force]\n\n"
               "Sign a program manifest (loader-ref/program.h) for a PLAINTEXT weights file:\n"
               "its model dimensions (from its header) and SHA-256, the program name and\n"
               "the most bytes a request may generate (default min(128, max_seq)).\n\n"
               "  --ci-key FILE   the CI private key (ci-keygen --out-priv)\n"
               "  --force         overwrite the output file\n");
}

int ks_seal_cmd_sign_program(int argc, char **argv)
{
    static const struct option opts[] = {
        {"ci-key", required_argument, NULL, 'k'}, {"weights", required_argument, NULL, 'w'},
        {"name", required_argument, NULL, 'n'},   {"max-new-tokens", required_argument, NULL, 'm'},
        {"out", required_argument, NULL, 'o'},    {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *key_path = NULL, *weights = NULL, *name = NULL, *out = NULL;
    uint64_t max_new = 0, len = 0;
    bool force = false;
    struct ks_program p;
    EVP_PKEY *k = NULL;
    char *signed_json = NULL;
    uint8_t header[KS_MODEL_HEADER_LEN];
    int c, r;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            key_path = optarg;
            break;
        case 'w':
            weights = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'm':
            if (!ks_seal_parse_u64("--max-new-tokens", optarg, 1, KS_MODEL_SEQ_MAX, &max_new)) {
                return 2;
            }
            break;
        case 'o':
            out = optarg;
            break;
        case 'f':
            force = true;
            break;
        case 'h':
            usage_sign(stdout);
            return 0;
        default:
            usage_sign(stderr);
            return 2;
        }
    }
    if (!key_path || !weights || !name || !out || optind != argc) {
        usage_sign(stderr);
        return 2;
    }
    memset(&p, 0, sizeof(p));
    if (!ks_seal_key_name_valid(name)) {
        ks_seal_err("sign-program: --name must be 1-64 characters of [A-Za-z0-9._-]");
        return 2;
    }
    memcpy(p.name, name, strlen(name) + 1);
    FILE *wf = fopen(weights, "rb");
    size_t hn = wf ? fread(header, 1, sizeof(header), wf) : 0;
    if (wf) {
        fclose(wf);
    }
    if (!wf) {
        ks_seal_err("sign-program: cannot open %s: %s", weights, strerror(errno));
        return 2;
    }
    if ((r = ks_seal_file_sha256(weights, p.weights_sha256, &len)) < 0) {
        return ks_error_exit_code(r);
    }
    if ((r = ks_model_header_parse(header, hn, len, &p.dims, NULL)) < 0) {
        return ks_seal_fail("sign-program: the weights file", r);
    }
    if (max_new == 0) {
        max_new = p.dims.max_seq < 128 ? p.dims.max_seq : 128;
    }
    if (max_new > p.dims.max_seq) {
        ks_seal_err("sign-program: --max-new-tokens is above the model's max_seq %u",
                    p.dims.max_seq);
        return 2;
    }
    p.max_new_tokens = (uint32_t)max_new;
    if ((r = ks_program_load_private_key(key_path, &k)) < 0) {
        return ks_seal_fail("sign-program: the CI key", r);
    }
    if ((r = ks_program_sign(&p, k, &signed_json, NULL)) < 0) {
        r = ks_seal_fail("sign-program", r);
        goto out;
    }
    FILE *f = ks_seal_create(out, 0644, force);
    if (!f) {
        r = ks_seal_create_exit();
        goto out;
    }
    bool ok = fputs(signed_json, f) >= 0 && fputc('\n', f) != EOF;
    ok = fclose(f) == 0 && ok;
    if (!ok) {
        unlink(out);
        r = ks_seal_fail("sign-program: write", KS_ERR_IO);
        goto out;
    }
    printf("signed program %s -> %s\n", name, out);
    r = 0;
out:
    free(signed_json);
    EVP_PKEY_free(k);
    return r;
}

static void usage_verify(FILE *f)
{
    fprintf(f, "Usage: ks-seal verify-program --ci-pub FILE program.json\n\n"
               "Verify a signed program against the CI public key and print its manifest.\n"
               "Exit 1 if the signature or the manifest is refused.\n");
}

int ks_seal_cmd_verify_program(int argc, char **argv)
{
    static const struct option opts[] = {
        {"ci-pub", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *pub = NULL;
    EVP_PKEY *k = NULL;
    uint8_t *buf = NULL, msha[32];
    size_t len = 0;
    struct ks_program p;
    char hex[65], mhex[65];
    int c, r;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            pub = optarg;
            break;
        case 'h':
            usage_verify(stdout);
            return 0;
        default:
            usage_verify(stderr);
            return 2;
        }
    }
    if (!pub || optind != argc - 1) {
        usage_verify(stderr);
        return 2;
    }
    if ((r = ks_program_load_public_key(pub, &k)) < 0) {
        return ks_seal_fail("verify-program: the CI public key", r);
    }
    if ((r = ks_file_read(argv[optind], KS_PROGRAM_MAX, &buf, &len)) < 0) {
        r = ks_seal_fail("verify-program: the program file", r);
        goto out;
    }
    /* The file ends with a newline (sign-program writes one): not JSON's. */
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) {
        len--;
    }
    if ((r = ks_program_verify(buf, len, k, &p, msha)) < 0) {
        r = ks_seal_fail("verify-program", r);
        goto out;
    }
    ks_hex_encode(p.weights_sha256, sizeof(p.weights_sha256), hex);
    ks_hex_encode(msha, sizeof(msha), mhex);
    printf("program %s: signature OK\n"
           "model vocab %u, d_model %u, layers %u, heads %u, d_ff %u, max_seq %u\n"
           "weights sha256 %s\nmax_new_tokens %u\nmanifest sha256 %s\n",
           p.name, p.dims.vocab, p.dims.d_model, p.dims.n_layers, p.dims.n_heads, p.dims.d_ff,
           p.dims.max_seq, hex, p.max_new_tokens, mhex);
    r = 0;
out:
    free(buf);
    EVP_PKEY_free(k);
    return r;
}
