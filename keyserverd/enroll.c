/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ekcert.h"
#include "encoding.h"
#include "keyserverd/enroll.h"
#include "keyserverd/log.h"
#include "makecred.h"
#include "roca.h"

/* The enrollment decisions (see enroll.h). Checks run cheapest first: the
 * public areas, then the certificate against the store's CAs, then the
 * store's own checks in the transaction that records the enrollment. */

#define ACTOR "keyserverd"

/* An EK is a restricted decryption key that cannot leave its TPM (TCG EK
 * Credential Profile 2.x, 2.1.5: the templates' attributes). */
#define EK_ATTRS_REQUIRED                                                                          \
    (TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT)

__attribute__((format(printf, 2, 3))) static void set_reason(struct ks_enroll_result *res,
                                                             const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
    va_end(ap);
}

/* The AK's attributes (TPM 2.0 Part 1, 25.2; Part 2, 8.3): what
 * ks_tpm_public_check_ak demands, and userWithAuth, which the loader's AK
 * needs so that only the holder of its random authValue can quote. */
static int check_ak(const TPMT_PUBLIC *ak, struct ks_enroll_result *res)
{
    uint32_t bad = ks_tpm_public_ak_attr_problems(ak);
    if (!(ak->objectAttributes & TPMA_OBJECT_USERWITHAUTH)) {
        bad |= TPMA_OBJECT_USERWITHAUTH;
    }
    if (bad) {
        char missing[160], forbidden[64];
        ks_tpm_attr_names(bad & ~(uint32_t)KS_AK_ATTRS_FORBIDDEN, missing, sizeof(missing));
        ks_tpm_attr_names(bad & KS_AK_ATTRS_FORBIDDEN, forbidden, sizeof(forbidden));
        set_reason(res, "AK attributes refused:%s%s%s%s", missing[0] ? " missing " : "", missing,
                   forbidden[0] ? " forbidden " : "", forbidden);
        return KS_ERR_TPM_ATTRIBUTES;
    }
    EVP_PKEY *pkey = NULL;
    int r = ks_tpm_public_to_evp(ak, &pkey);
    EVP_PKEY_free(pkey);
    if (r != KS_OK) {
        set_reason(res, "AK: %s", ks_strerror(r));
        return r;
    }
    if ((r = ks_roca_check_tpm_public(ak)) != KS_OK) {
        set_reason(res, "AK: %s", ks_strerror(r));
        return r;
    }
    return KS_OK;
}

static int check_ek(const TPMT_PUBLIC *ek, struct ks_enroll_result *res)
{
    if ((ek->objectAttributes & EK_ATTRS_REQUIRED) != EK_ATTRS_REQUIRED) {
        char missing[160];
        ks_tpm_attr_names(EK_ATTRS_REQUIRED & ~ek->objectAttributes, missing, sizeof(missing));
        set_reason(res, "EK attributes refused: missing %s", missing);
        return KS_ERR_TPM_ATTRIBUTES;
    }
    int r = ks_cred_check_key(ek);
    if (r != KS_OK) {
        set_reason(res, "EK cannot receive a credential: %s", ks_strerror(r));
        return r;
    }
    if ((r = ks_roca_check_tpm_public(ek)) != KS_OK) {
        set_reason(res, "EK: %s", ks_strerror(r));
        return r;
    }
    return KS_OK;
}

/* The certificate: parses, certifies this EK, chains to a CA of the
 * store. *ret_ca_id: an auto-approve CA of the chain when there is one,
 * else the CA nearest the EK. */
static int check_cert(struct ks_store *store, const struct ks_enroll_request *req, uint64_t now,
                      int64_t *ret_ca_id, struct ks_enroll_result *res)
{
    struct ks_ekcert *cert = NULL;
    struct ks_store_ek_trust *trust = NULL;
    struct ks_ekca_store *st = NULL;
    struct ks_ekcert_verdict v;
    int r = ks_ekcert_parse(req->ek_cert, req->ek_cert_len, &cert);
    if (r != KS_OK) {
        set_reason(res, "ek_cert: %s", ks_strerror(r));
        goto out;
    }
    if ((r = ks_ekcert_check_key(cert, &req->ek)) != KS_OK) {
        set_reason(res, "%s", ks_strerror(r));
        goto out;
    }
    if ((r = ks_store_ek_trust_load(store, &trust)) != KS_OK ||
        (r = ks_ekca_store_new(&st)) != KS_OK) {
        set_reason(res, "cannot load the EK CAs: %s", ks_store_errmsg(store));
        goto out;
    }
    for (size_t i = 0; i < trust->n_cas; i++) {
        /* A row that is not a CA any more (ksctl checks on add) is skipped:
         * it cannot make anything trusted. */
        int rc =
            ks_ekca_store_add_ca(st, trust->cas[i].cert, trust->cas[i].cert_len, trust->cas[i].id);
        if (rc == KS_ERR_NOMEM) {
            r = rc;
            goto out;
        }
    }
    for (size_t i = 0; i < trust->n_crls; i++) {
        if ((r = ks_ekca_store_add_crl(st, trust->crls[i].der, trust->crls[i].len)) != KS_OK) {
            /* Fail closed: a CRL we cannot use might revoke this EK. */
            set_reason(res, "CRL of EK CA %lld unusable: %s", (long long)trust->crls[i].ca_id,
                       ks_strerror(r));
            r = KS_ERR_INTERNAL;
            goto out;
        }
    }
    if ((r = ks_ekcert_verify(st, cert, (int64_t)now, &v)) != KS_OK) {
        set_reason(res, "%s: %s", ks_strerror(r), v.reason);
        goto out;
    }
    *ret_ca_id = v.ca_ids[0];
    for (size_t i = 0; i < v.n_ca; i++) {
        for (size_t j = 0; j < trust->n_cas; j++) {
            if (trust->cas[j].id == v.ca_ids[i] && trust->cas[j].auto_approve) {
                *ret_ca_id = v.ca_ids[i];
                goto out;
            }
        }
    }
out:
    ks_ekca_store_free(st);
    ks_store_ek_trust_free(trust);
    ks_ekcert_free(cert);
    return r;
}

static void audit_refusal(struct ks_server_ctx *ctx, struct ks_store *store,
                          const struct ks_enroll_request *req, const char *client,
                          const char *reason)
{
    json_t *o = json_pack("{s:s, s:s}", "ek", req->ek_name, "client", client ? client : "");
    char *detail = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    struct ks_audit_entry e = {
        .actor = ACTOR,
        .event = "enroll",
        .ak_id = req->ak_id,
        .outcome = KS_AUDIT_REFUSED,
        .reason = reason,
        .detail = detail,
    };
    /* The refusal stands whether or not it could be audited. */
    if (ks_store_audit_append(store, &e, NULL, NULL) != KS_OK) {
        ks_log(ctx->log, LOG_ERR, "enroll: cannot audit a refusal: %s", ks_store_errmsg(store));
    }
    free(detail);
}

int ks_enroll_decide(struct ks_server_ctx *ctx, const struct ks_enroll_request *req,
                     const char *client, struct ks_enroll_result *ret)
{
    struct ks_enroll_result res;
    uint8_t secret[KS_ENROLL_SECRET_LEN], id_raw[KS_STORE_ENROLL_ID_LEN / 2];
    int64_t ca_id = 0;
    if (!ctx || !req || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    memset(&res, 0, sizeof(res));
    struct ks_store *store = ks_state_store(ctx);
    if (!store) {
        set_reason(&res, "database unavailable");
        *ret = res;
        return KS_ERR_DB;
    }
    uint64_t now = ks_state_now();
    int r = check_ak(&req->ak, &res);
    if (r == KS_OK) {
        r = check_ek(&req->ek, &res);
    }
    if (r == KS_OK && req->ek_cert) {
        r = check_cert(store, req, now, &ca_id, &res);
    }
    if (r != KS_OK) {
        if (r != KS_ERR_NOMEM && r != KS_ERR_INTERNAL && r != KS_ERR_DB) {
            audit_refusal(ctx, store, req, client, res.reason);
        }
        *ret = res;
        return r;
    }
    /* A SHA-1 EK's credential holds at most 20 bytes. */
    size_t secret_len = ks_alg_digest_size(req->ek.nameAlg);
    if (secret_len > sizeof(secret)) {
        secret_len = sizeof(secret);
    }
    struct ks_store_enroll_params p;
    struct ks_store_enroll_result sres;
    memset(&p, 0, sizeof(p));
    if (RAND_priv_bytes(secret, (int)secret_len) != 1 || RAND_bytes(id_raw, sizeof(id_raw)) != 1) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    ks_hex_encode(id_raw, sizeof(id_raw), res.id);
    r = ks_makecredential(&req->ek, req->ak_name, req->ak_name_len, secret, secret_len, &res.blob,
                          &res.enc);
    if (r != KS_OK) {
        set_reason(&res, "MakeCredential: %s", ks_strerror(r));
        goto out;
    }
    if (EVP_Digest(secret, secret_len, p.secret_hash, NULL, EVP_sha256(), NULL) != 1) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    p.id = res.id;
    p.ek_name = req->ek_name;
    p.ek_pub = req->ek_blob;
    p.ek_pub_len = req->ek_blob_len;
    p.ek_cert = req->ek_cert;
    p.ek_cert_len = req->ek_cert_len;
    p.ca_id = req->ek_cert ? ca_id : 0;
    p.ak_id = req->ak_id;
    p.ak_pub = req->ak_blob;
    p.ak_pub_len = req->ak_blob_len;
    p.client = client;
    p.now = (int64_t)now;
    p.lifetime_s = ctx->cfg->enroll_lifetime;
    p.max_pending = ctx->cfg->enroll_max_pending;
    p.max_per_ek = ctx->cfg->enroll_max_per_ek;
    r = ks_store_enroll_begin(store, ACTOR, &p, &sres);
    if (r != KS_OK) {
        set_reason(&res, "%s", sres.reason[0] ? sres.reason : ks_store_errmsg(store));
        goto out;
    }
    res.expires = now + ctx->cfg->enroll_lifetime;
out:
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(p.secret_hash, sizeof(p.secret_hash));
    *ret = res;
    return r;
}

int ks_enroll_activate(struct ks_server_ctx *ctx, const char *id, const uint8_t *secret,
                       size_t secret_len, const char *client, struct ks_store_enroll_result *ret)
{
    if (!ctx || !id || !secret || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_store *store = ks_state_store(ctx);
    if (!store) {
        memset(ret, 0, sizeof(*ret));
        snprintf(ret->reason, sizeof(ret->reason), "database unavailable");
        return KS_ERR_DB;
    }
    int r = ks_store_enroll_activate(store, ACTOR, id, secret, secret_len, client,
                                     (int64_t)ks_state_now(), ret);
    if (r != KS_OK && ret->reason[0] == '\0') {
        snprintf(ret->reason, sizeof(ret->reason), "%s", ks_store_errmsg(store));
    }
    return r;
}
