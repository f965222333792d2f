/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "file_util.h"
#include "loader_ak.h"

static int read_ak_file(const char *dir, const char *name, uint8_t **buf, size_t *len)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
        return KS_ERR_INVALID_ARG;
    }
    int r = ks_file_read(path, KS_LOADER_AK_FILE_MAX, buf, len);
    if (r != KS_OK) {
        fprintf(stderr, "ks-loader: cannot read %s: %s\n", path, ks_strerror(r));
    }
    return r;
}

/* TEST ONLY: the AK files of ks-attest ak-create --save-auth. */
static int load_saved(struct ks_tpm *tpm, const char *dir, struct ks_tpm_ak **ret)
{
    uint8_t *priv = NULL, *pub = NULL, *auth = NULL;
    size_t priv_len = 0, pub_len = 0, auth_len = 0;
    int r = read_ak_file(dir, "ak.priv", &priv, &priv_len);
    if (r == KS_OK) {
        r = read_ak_file(dir, "ak.pub", &pub, &pub_len);
    }
    if (r == KS_OK) {
        r = read_ak_file(dir, "ak.auth", &auth, &auth_len);
    }
    if (r == KS_OK) {
        r = ks_tpm_ak_load(tpm, priv, priv_len, pub, pub_len, auth, auth_len, ret);
        if (r != KS_OK) {
            const char *cmd = "";
            uint32_t rc = ks_tpm_last_rc(tpm, &cmd);
            fprintf(stderr, "ks-loader: cannot load the AK of %s: %s (%s 0x%08x)\n", dir,
                    ks_strerror(r), cmd, rc);
        }
    }
    if (auth) {
        OPENSSL_cleanse(auth, auth_len);
    }
    free(auth);
    free(priv);
    free(pub);
    return r;
}

int ks_loader_ak_get(struct ks_tpm *tpm, const char *ak_dir, const char *keyserver,
                     const struct ks_http_opts *http, struct ks_tpm_ak **ret)
{
    if (!tpm || !keyserver || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    if (ak_dir) {
        fprintf(stderr, "ks-loader: TEST ONLY: using the saved, admin-registered AK of %s\n",
                ak_dir);
        return load_saved(tpm, ak_dir, ret);
    }
    (void)http;
    fprintf(stderr, "ks-loader: enrollment of a fresh AK is not available in this build; "
                    "set ak_dir (tests only)\n");
    return KS_ERR_UNSUPPORTED;
}
