/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "enroll.h"
#include "tpm_ek.h"

/* The loader's enrollment flow (see enroll.h). */

/* POST a JSON body; on a non-200 answer the server's error is parsed into
 * err and its code returned. */
static int post(struct ks_http_client *http, const char *path, const char *body, size_t len,
                struct ks_http_response *resp, struct ks_attest_error *err)
{
    char errbuf[256] = "";
    int r = ks_http_client_post_json(http, path, body, len, resp, errbuf, sizeof(errbuf));
    if (r != KS_OK) {
        if (err) {
            snprintf(err->detail, sizeof(err->detail), "%s", errbuf);
        }
        return r;
    }
    if (resp->status != 200) {
        struct ks_attest_error e;
        memset(&e, 0, sizeof(e));
        r = ks_attest_error_parse(resp->status, resp->body, resp->len, &e);
        if (err) {
            *err = e;
        }
        return r;
    }
    return KS_OK;
}

int ks_enroll_client_run(struct ks_tpm *tpm, struct ks_tpm_ak *ak,
                         const struct ks_enroll_client_config *cfg,
                         struct ks_enroll_client_outcome *ret, struct ks_attest_error *ret_err)
{
    struct ks_tpm_ek *ek = NULL;
    struct ks_http_client *http = NULL;
    struct ks_http_response resp = {0};
    struct ks_enroll_client_challenge ch;
    struct ks_enroll_client_outcome out;
    uint8_t *ek_pub = NULL, *ak_pub = NULL, secret[KS_MAX_DIGEST];
    size_t ek_pub_len = 0, ak_pub_len = 0, secret_len = 0, body_len = 0;
    char *body = NULL, ek_name[KS_TPM_NAME_HEX_MAX], ak_id[KS_TPM_NAME_HEX_MAX], path[96];
    if (!tpm || !ak || !cfg || !cfg->server || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    int r = ks_tpm_ek_open(tpm, cfg->ek_kind, &ek);
    if (r == KS_OK) {
        r = ks_tpm_ek_public(ek, &ek_pub, &ek_pub_len);
    }
    if (r == KS_OK) {
        r = ks_tpm_ak_public(ak, &ak_pub, &ak_pub_len);
    }
    if (r == KS_OK && (r = ks_tpm_ek_name_hex(ek, ek_name)) == KS_OK) {
        r = ks_tpm_ak_name_hex(ak, ak_id);
    }
    if (r != KS_OK) {
        goto out;
    }
    size_t cert_len = 0;
    const uint8_t *cert = cfg->send_cert ? ks_tpm_ek_cert(ek, &cert_len) : NULL;
    if ((r = ks_enroll_client_request(ek_pub, ek_pub_len, cert, cert_len, ak_pub, ak_pub_len, &body,
                                      &body_len)) != KS_OK ||
        (r = ks_http_client_new(cfg->server, cfg->http, &http)) != KS_OK ||
        (r = post(http, "/v1/enroll", body, body_len, &resp, ret_err)) != KS_OK ||
        (r = ks_enroll_client_challenge_parse(resp.body, resp.len, &ch)) != KS_OK) {
        goto out;
    }
    /* The keyserver must have made the credential for this AK and EK. */
    if (strcmp(ch.ak_id, ak_id) != 0 || strcmp(ch.ek_name, ek_name) != 0) {
        r = KS_ERR_RESP_VALUE;
        goto out;
    }
    if ((r = ks_tpm_activate_credential(tpm, ek, ak, &ch.blob, &ch.enc, secret, &secret_len)) !=
        KS_OK) {
        goto out;
    }
    free(body);
    body = NULL;
    ks_http_response_clear(&resp);
    snprintf(path, sizeof(path), "/v1/enroll/%s/activate", ch.id);
    if ((r = ks_enroll_client_activation(secret, secret_len, &body, &body_len)) != KS_OK ||
        (r = post(http, path, body, body_len, &resp, ret_err)) != KS_OK ||
        (r = ks_enroll_client_outcome_parse(resp.body, resp.len, &out)) != KS_OK) {
        goto out;
    }
    if (strcmp(out.ak_id, ak_id) != 0 || strcmp(out.ek_name, ek_name) != 0) {
        r = KS_ERR_RESP_VALUE;
        goto out;
    }
    *ret = out;
out:
    OPENSSL_cleanse(secret, sizeof(secret));
    if (body) {
        OPENSSL_cleanse(body, body_len);
        free(body);
    }
    ks_http_response_clear(&resp);
    ks_http_client_free(http);
    free(ek_pub);
    free(ak_pub);
    ks_tpm_ek_free(ek);
    return r;
}

int ks_enroll_client_fresh_ak(struct ks_tpm *tpm, const struct ks_enroll_client_config *cfg,
                              struct ks_tpm_ak **ret_ak, struct ks_enroll_client_outcome *ret,
                              struct ks_attest_error *ret_err)
{
    struct ks_tpm_ak *ak = NULL;
    struct ks_enroll_client_outcome out;
    if (!ret_ak) {
        return KS_ERR_INVALID_ARG;
    }
    int r = ks_tpm_ak_create(tpm, KS_TPM_AK_ECC_P256, &ak);
    if (r == KS_OK) {
        r = ks_enroll_client_run(tpm, ak, cfg, &out, ret_err);
    }
    if (r == KS_OK && !out.active) {
        r = KS_ERR_EK_NOT_APPROVED;
    }
    if (ret && (r == KS_OK || r == KS_ERR_EK_NOT_APPROVED)) {
        *ret = out;
    }
    if (r != KS_OK) {
        ks_tpm_ak_free(ak);
        return r;
    }
    *ret_ak = ak;
    return KS_OK;
}
