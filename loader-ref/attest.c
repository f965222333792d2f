/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "attest.h"
#include "file_util.h"
#include "hpke.h"
#include "tpm_alg.h"
#include "tpm_public.h"

/* The release flow (DESIGN "Protocol" and "Reference loader path", step 2). */

struct logs {
    uint8_t *event_log, *ima_log, *app_log;
    size_t event_log_len, ima_log_len, app_log_len;
};

static void logs_clear(struct logs *l)
{
    free(l->event_log);
    free(l->ima_log);
    free(l->app_log);
    memset(l, 0, sizeof(*l));
}

static int read_optional(const char *path, size_t max, uint8_t **ret, size_t *ret_len)
{
    if (!path) {
        return KS_OK;
    }
    return ks_file_read(path, max, ret, ret_len);
}

static int read_logs(const struct ks_attest_config *cfg, struct logs *l)
{
    int r = read_optional(cfg->event_log_path, KS_ATTEST_EVENT_LOG_MAX, &l->event_log,
                          &l->event_log_len);
    if (r == KS_OK) {
        r = read_optional(cfg->ima_log_path, KS_ATTEST_IMA_LOG_MAX, &l->ima_log, &l->ima_log_len);
    }
    if (r == KS_OK) {
        r = read_optional(cfg->app_log_path, KS_ATTEST_APP_LOG_MAX, &l->app_log, &l->app_log_len);
    }
    return r;
}

/* POST path with body (CBOR when cbor, else JSON); KS_OK only for a 200
 * answer, whose body is returned. Any other status is turned into the
 * server's error. */
static int post(struct ks_http_client *http, const char *path, bool cbor, const void *body,
                size_t len, struct ks_http_response *resp, struct ks_attest_error *err)
{
    int r = cbor ? ks_http_client_post(http, path, "application/cbor", body, len, resp, NULL, 0)
                 : ks_http_client_post_json(http, path, body, len, resp, NULL, 0);
    if (r != KS_OK) {
        return r;
    }
    if (resp->status != 200) {
        r = ks_attest_error_parse(resp->status, resp->body, resp->len, err);
        ks_http_response_clear(resp);
    }
    return r;
}

int ks_attest_release(struct ks_tpm *tpm, struct ks_tpm_ak *ak, const struct ks_attest_config *cfg,
                      struct ks_attest_result **ret, struct ks_attest_error *ret_err)
{
    struct ks_http_client *http = NULL;
    struct ks_http_response resp = {0};
    struct ks_attest_error err;
    struct ks_tpm_quote quote;
    struct logs logs = {0};
    uint8_t nonce[KS_ATTEST_NONCE_LEN];
    uint8_t hpke_pk[KS_ATTEST_HPKE_PK_LEN];
    uint8_t binding[KS_ATTEST_BINDING_LEN];
    uint8_t *hpke_sk = NULL;
    char ak_id[KS_TPM_NAME_HEX_MAX];
    void *body = NULL;
    size_t body_len = 0;
    int64_t expires;
    int r;

    memset(&err, 0, sizeof(err));
    memset(&quote, 0, sizeof(quote));
    if (!tpm || !ak || !cfg || !cfg->server || !cfg->sel || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    /* Local inputs first: no nonce is spent on a request that cannot be
     * built. */
    r = read_logs(cfg, &logs);
    if (r == KS_OK) {
        r = ks_tpm_ak_name_hex(ak, ak_id);
    }
    if (r == KS_OK) {
        r = ks_http_client_new(cfg->server, cfg->http, &http);
    }
    if (r != KS_OK) {
        goto out;
    }

    r = post(http, "/v1/challenge", false, "{}", 2, &resp, &err);
    if (r == KS_OK) {
        r = ks_attest_challenge_parse(resp.body, resp.len, nonce, &expires);
    }
    ks_http_response_clear(&resp);
    if (r != KS_OK) {
        goto out;
    }

    /* A fresh HPKE key pair for this request only (RFC 9180 section 4,
     * GenerateKeyPair); its private key never leaves the secure heap. */
    hpke_sk = OPENSSL_secure_malloc(KS_HPKE_SK_LEN);
    if (!hpke_sk) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    r = ks_hpke_keygen(hpke_sk, hpke_pk);
    if (r == KS_OK) {
        r = ks_attest_binding(nonce, hpke_pk, binding);
    }
    if (r == KS_OK) {
        r = ks_tpm_quote(tpm, ak, binding, sizeof(binding), cfg->sel, &quote);
    }
    if (r != KS_OK) {
        goto out;
    }

    const struct ks_attest_evidence ev = {
        .ak_id = ak_id,
        .nonce = nonce,
        .hpke_pk = hpke_pk,
        .keys = cfg->keys,
        .n_keys = cfg->n_keys,
        .attest = quote.attest,
        .attest_len = quote.attest_len,
        .sig = quote.sig,
        .sig_len = quote.sig_len,
        .sel = &quote.sel,
        .pcrs = &quote.pcrs,
        .event_log = logs.event_log,
        .event_log_len = logs.event_log_len,
        .ima_log = logs.ima_log,
        .ima_log_len = logs.ima_log_len,
        .app_log = logs.app_log,
        .app_log_len = logs.app_log_len,
    };
    /* Only /v1/release takes CBOR (the logs as raw byte strings); the
     * challenge and every answer stay JSON. */
    if (cfg->cbor) {
        uint8_t *cb = NULL;
        r = ks_attest_request_build_cbor(&ev, &cb, &body_len);
        body = cb;
    } else {
        char *js = NULL;
        r = ks_attest_request_build(&ev, &js, &body_len);
        body = js;
    }
    if (r == KS_OK) {
        r = post(http, "/v1/release", cfg->cbor, body, body_len, &resp, &err);
    }
    if (r == KS_OK) {
        r = ks_attest_response_parse(resp.body, resp.len, cfg->keys, cfg->n_keys, nonce, hpke_sk,
                                     ret);
    }
    /* What the receipt must say this release answered: these bytes, this
     * key (a receipt spliced from another request is refused). */
    if (r == KS_OK && ((r = ks_alg_hash(KS_ALG_SHA256, (const uint8_t *)body, body_len, NULL, 0,
                                        (*ret)->request_sha256)) != KS_OK ||
                       (r = ks_alg_hash(KS_ALG_SHA256, hpke_pk, KS_ATTEST_HPKE_PK_LEN, NULL, 0,
                                        (*ret)->hpke_pk_sha256)) != KS_OK)) {
        ks_attest_result_free(*ret);
        *ret = NULL;
    }
    if (r == KS_OK) {
        (*ret)->has_request = true;
    }
out:
    if (ret_err) {
        *ret_err = err;
    }
    OPENSSL_secure_clear_free(hpke_sk, KS_HPKE_SK_LEN);
    ks_http_response_clear(&resp);
    ks_tpm_quote_clear(&quote);
    ks_http_client_free(http);
    logs_clear(&logs);
    free(body);
    return r;
}
