/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "file_util.h"
#include "enroll.h"
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

int ks_loader_ak_get(struct ks_tpm *tpm, const struct ks_loader_ak_config *cfg,
                     struct ks_tpm_ak **ret)
{
    struct ks_enroll_client_outcome out;
    struct ks_attest_error serr;
    if (!tpm || !cfg || !cfg->keyserver || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    if (cfg->ak_dir) {
        fprintf(stderr, "ks-loader: TEST ONLY: using the saved, admin-registered AK of %s\n",
                cfg->ak_dir);
        return load_saved(tpm, cfg->ak_dir, ret);
    }
    memset(&out, 0, sizeof(out));
    memset(&serr, 0, sizeof(serr));
    const struct ks_enroll_client_config ec = {
        .server = cfg->keyserver,
        .http = cfg->http,
        .ek_kind = cfg->ek_kind,
        .send_cert = cfg->send_ek_cert,
    };
    int r = ks_enroll_client_fresh_ak(tpm, &ec, ret, &out, &serr);
    if (r == KS_OK) {
        fprintf(stderr, "ks-loader: a fresh AK, enrolled with EK %s\n", out.ek_name);
    } else if (r == KS_ERR_EK_NOT_APPROVED) {
        fprintf(stderr,
                "ks-loader: the AK is enrolled but EK %s waits for an admin's approval "
                "(ksctl ek approve)\n",
                out.ek_name);
    } else if (serr.http_status) {
        fprintf(stderr, "ks-loader: enrollment refused: HTTP %ld %s%s%s\n", serr.http_status,
                serr.code[0] ? serr.code : "(no code)", serr.detail[0] ? ": " : "", serr.detail);
    } else {
        const char *cmd = "";
        uint32_t rc = ks_tpm_last_rc(tpm, &cmd);
        fprintf(stderr, "ks-loader: enrollment failed: %s%s%s (0x%08x)\n", ks_strerror(r),
                *cmd ? " in " : "", cmd, rc);
    }
    return r;
}
