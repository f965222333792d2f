/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "db/store.h"
#include "encoding.h"
#include "hpke.h"
#include "tpm_alg.h"
#include "keyserverd/ak_cache.h"
#include "keyserverd/evidence.h"
#include "keyserverd/policy_eval.h"
#include "keyserverd/release.h"
#include "keyserverd/release_policies.h"
#include "keyserverd/state.h"
#include "quote.h"
#include "receipt.h"

/*
 * The release decision (DESIGN "Protocol", POST /v1/release). Every check
 * fails closed and they run cheapest and most selective first: nonce, AK
 * state (one read transaction with the keys and policies), signature and
 * attest (lib/quote), the logs, then each key's policy. Keys are released
 * all or none, and only after the audit row of the grant is written.
 */

#define RELEASE_LABEL "ks-release-v1"
#define REASON_MAX 256

/* Per-request working state, freed on one path. */
struct decision {
    char ak_id[KS_STORE_TPM_NAME_HEX_MAX + 1];
    char refs_buf[KS_RELEASE_MAX_KEYS][KS_STORE_KEY_REF_MAX + 1];
    const char *refs[KS_RELEASE_MAX_KEYS];
    char reason[REASON_MAX];
    struct ks_store_snapshot *snap;
    struct ks_quote_ak *owned_ak;
    struct ks_quote_info info;
    struct ks_evidence *ev;              /* the parsed logs, for the policies */
    bool clock_rule;                     /* a key's policy has a tpm_clock rule */
    struct ks_release_policies policies; /* each key's policy version, compiled */
};

__attribute__((format(printf, 2, 3))) static void set_reason(struct decision *d, const char *fmt,
                                                             ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
    va_end(ap);
}

/* extraData = SHA-256("ks-release-v1" || 0x00 || nonce || hpke_pk). */
static int expected_extra_data(const struct ks_release_request *req, uint8_t ret[32])
{
    static const uint8_t label[] = RELEASE_LABEL; /* includes the 0x00 */
    uint8_t buf[sizeof(label) + KS_NONCE_LEN + KS_RELEASE_HPKE_PK_LEN];
    memcpy(buf, label, sizeof(label));
    memcpy(buf + sizeof(label), req->nonce, KS_NONCE_LEN);
    memcpy(buf + sizeof(label) + KS_NONCE_LEN, req->hpke_pk, KS_RELEASE_HPKE_PK_LEN);
    return EVP_Digest(buf, sizeof(buf), ret, NULL, ks_alg_md(KS_ALG_SHA256), NULL) == 1
               ? KS_OK
               : KS_ERR_CRYPTO;
}

static void build_refs(const struct ks_release_request *req, struct decision *d)
{
    for (size_t i = 0; i < req->n_keys; i++) {
        if (req->keys[i].version) {
            snprintf(d->refs_buf[i], sizeof(d->refs_buf[i]), "%s@%u", req->keys[i].name,
                     req->keys[i].version);
        } else {
            snprintf(d->refs_buf[i], sizeof(d->refs_buf[i]), "%s", req->keys[i].name);
        }
        d->refs[i] = d->refs_buf[i];
    }
}

/* Attestation: the AK may be used, the quote verifies and binds this nonce
 * and HPKE key, the submitted PCR values are the quoted ones, the logs
 * replay to them. */
static int check_attestation(struct ks_server_ctx *ctx, const struct ks_release_request *req,
                             struct decision *d)
{
    const struct ks_store_ak *ak = &d->snap->ak;
    if (ak->state != KS_AK_ACTIVE) {
        set_reason(d, "AK is %s", ks_ak_state_name(ak->state));
        return KS_ERR_ATTESTATION;
    }
    if (ak->has_ek && !ak->ek_approved) {
        set_reason(d, "AK's EK %s is not approved", ak->ek_name);
        return KS_ERR_ATTESTATION;
    }
    if (!ak->has_ek && !ak->vouched) {
        set_reason(d, "AK is neither bound to an EK nor vouched for by an admin%s", "");
        return KS_ERR_ATTESTATION;
    }
    const struct ks_quote_ak *qak = NULL;
    int r = ks_ak_cache_get(ctx->ak_cache, d->ak_id, ak->public_blob, ak->public_len, &qak,
                            &d->owned_ak);
    if (r < 0) {
        set_reason(d, "stored AK unusable: %s", ks_strerror(r));
        return KS_ERR_ATTESTATION;
    }
    uint8_t extra[32];
    r = expected_extra_data(req, extra);
    if (r < 0) {
        return r;
    }
    r = ks_quote_verify(qak, req->attest, req->attest_len, req->signature, req->signature_len,
                        extra, sizeof(extra), &req->pcrs, &d->info);
    if (r < 0) {
        set_reason(d, "quote: %s", ks_strerror(r));
        return r == KS_ERR_NOMEM || r == KS_ERR_CRYPTO ? r : KS_ERR_ATTESTATION;
    }
    struct ks_evidence_logs logs = {
        .event_log = req->event_log,
        .event_log_len = req->event_log_len,
        .ima_log = req->ima_log,
        .ima_log_len = req->ima_log_len,
        .app_log = req->app_log,
        .app_log_len = req->app_log_len,
        .app_pcr = ctx->app_pcr,
    };
    char why[KS_EVIDENCE_REASON_MAX];
    r = ks_evidence_check(&logs, &d->info.pcr_select, &req->pcrs, &d->ev, why, sizeof(why));
    if (r < 0) {
        set_reason(d, "%s", why);
        return r == KS_ERR_NOMEM || r == KS_ERR_INTERNAL ? r : KS_ERR_ATTESTATION;
    }
    return KS_OK;
}

static int check_policies(const struct ks_release_request *req, struct decision *d)
{
    struct ks_policy_input in = {
        .sel = &d->info.pcr_select,
        .quoted = &req->pcrs,
        .ev = d->ev,
        .quote = &d->info,
    };
    return ks_release_policies_check(&d->policies, d->snap, d->refs, in, &d->clock_rule, d->reason,
                                     sizeof(d->reason));
}

/* Wrap every granted key to the loader's one-time HPKE key: base mode,
 * info = "ks-release-v1" || 0x00 || name, aad = the raw nonce. */
static int seal_keys(struct ks_server_ctx *ctx, const struct ks_release_request *req,
                     struct decision *d, struct ks_release_result *res)
{
    static const uint8_t label[] = RELEASE_LABEL;
    for (size_t i = 0; i < d->snap->n_keys; i++) {
        const struct ks_store_key *k = &d->snap->keys[i];
        struct ks_released_key *out = &res->keys[i];
        struct ks_store_secret *secret = NULL;
        uint8_t info[sizeof(label) + KS_KEY_NAME_MAX];
        size_t name_len = strlen(k->name);
        memcpy(info, label, sizeof(label));
        memcpy(info + sizeof(label), k->name, name_len);
        int r = ks_store_snapshot_key_unwrap(ctx->master_key, k, &secret);
        if (r < 0) {
            set_reason(d, "key material of %s does not unwrap", d->refs[i]);
            return r;
        }
        size_t ct_size = secret->len + KS_HPKE_TAG_LEN;
        out->ciphertext = OPENSSL_malloc(ct_size);
        if (!out->ciphertext) {
            ks_store_secret_free(secret);
            return KS_ERR_NOMEM;
        }
        /* Counted at once, so that ks_release_result_clear() frees it. */
        res->n_keys = i + 1;
        r = ks_hpke_seal_base(KS_HPKE_SUITE_DEFAULT, req->hpke_pk, info, sizeof(label) + name_len,
                              req->nonce, KS_NONCE_LEN, secret->data, secret->len, out->enc,
                              out->ciphertext, ct_size, &out->ciphertext_len);
        ks_store_secret_free(secret);
        if (r < 0) {
            set_reason(d, "HPKE seal to the submitted key failed: %s", ks_strerror(r));
            return r;
        }
        memcpy(out->name, k->name, name_len + 1);
        out->version = k->version;
        out->share_index = k->share_index;
        out->share_threshold = k->share_threshold;
        out->share_count = k->share_count;
    }
    return KS_OK;
}

/* The audit detail of a decision: versions and the quote's TPM state. */
static char *audit_detail(const struct decision *d)
{
    json_t *o = json_object();
    json_t *keys = json_array();
    if (!o || !keys) {
        json_decref(o);
        json_decref(keys);
        return NULL;
    }
    json_object_set_new(o, "keys", keys);
    if (d->snap) {
        for (size_t i = 0; i < d->snap->n_keys; i++) {
            const struct ks_store_key *k = &d->snap->keys[i];
            json_array_append_new(keys, json_pack("{s:s,s:I,s:s,s:I}", "name", k->name, "version",
                                                  (json_int_t)k->version, "policy", k->policy.name,
                                                  "policy_version", (json_int_t)k->policy.version));
        }
    }
    if (d->info.magic) {
        json_object_set_new(o, "reset_count", json_integer(d->info.reset_count));
        json_object_set_new(o, "restart_count", json_integer(d->info.restart_count));
        json_object_set_new(o, "clock", json_integer((json_int_t)d->info.clock));
        /* A TPM Reset or Restart since this AK's last granted quote is
         * noted (TPM 2.0 Part 1, 36.6: resetCount / restartCount). */
        const struct ks_store_ak *ak = d->snap ? &d->snap->ak : NULL;
        if (ak && ak->has_clock && d->info.reset_count != ak->last_reset_count) {
            json_object_set_new(o, "tpm_reset", json_true());
        }
        if (ak && ak->has_clock && d->info.restart_count != ak->last_restart_count) {
            json_object_set_new(o, "tpm_restart", json_true());
        }
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

static int audit(struct ks_server_ctx *ctx, struct ks_store *store,
                 const struct ks_release_request *req, struct decision *d,
                 enum ks_audit_outcome outcome, const struct ks_store_quote_clock *clock,
                 int64_t *ret_seq, uint8_t ret_hash[KS_STORE_HASH_LEN], char *errmsg, size_t errlen)
{
    char *detail = audit_detail(d);
    struct ks_audit_entry e = {
        .actor = "keyserverd",
        .event = "release",
        .ak_id = d->ak_id,
        .keys = d->refs,
        .n_keys = req->n_keys,
        .outcome = outcome,
        .reason = d->reason[0] ? d->reason : NULL,
        .detail = detail,
    };
    /* A grant also records the quote's clock for the AK, in the same
     * transaction; the row is on disk, committed with the rows of the
     * releases decided meanwhile, before this returns. */
    struct ks_store_release_item item = {.entry = &e, .clock = clock};
    int r = ks_audit_batcher_commit(ctx->audit_batcher, store, &item);
    if (r == KS_OK) {
        *ret_seq = item.seq;
        memcpy(ret_hash, item.hash, KS_STORE_HASH_LEN);
    } else if (errmsg) {
        snprintf(errmsg, errlen, "%s", item.errmsg);
    }
    free(detail);
    return r;
}

/* Receipt payload: what was released, to whom, against which request and
 * which audit row (DESIGN "Protocol"). */
static int make_receipt(struct ks_server_ctx *ctx, const struct ks_release_request *req,
                        const struct decision *d, int64_t seq, const uint8_t hash[32],
                        struct ks_release_result *res)
{
    char body_hex[65], pk_hex[65], hash_hex[65];
    uint8_t pk_digest[32];
    if (EVP_Digest(req->hpke_pk, KS_RELEASE_HPKE_PK_LEN, pk_digest, NULL, ks_alg_md(KS_ALG_SHA256),
                   NULL) != 1) {
        return KS_ERR_CRYPTO;
    }
    ks_hex_encode(req->body_sha256, 32, body_hex);
    ks_hex_encode(pk_digest, 32, pk_hex);
    ks_hex_encode(hash, 32, hash_hex);
    json_t *keys = json_array();
    json_t *o = json_pack("{s:i,s:s,s:I,s:s,s:s,s:s,s:o,s:{s:I,s:s}}", "v", 1, "keyserver", ctx->id,
                          "time", (json_int_t)ks_state_now(), "request_sha256", body_hex, "ak_id",
                          d->ak_id, "hpke_pk_sha256", pk_hex, "keys", keys, "audit", "seq",
                          (json_int_t)seq, "hash", hash_hex);
    if (!o) {
        return KS_ERR_NOMEM;
    }
    for (size_t i = 0; i < d->snap->n_keys; i++) {
        const struct ks_store_key *k = &d->snap->keys[i];
        json_t *e =
            json_pack("{s:s,s:I,s:s,s:I}", "name", k->name, "version", (json_int_t)k->version,
                      "policy", k->policy.name, "policy_version", (json_int_t)k->policy.version);
        /* A share's coordinates are vouched for by the signature, so that
         * the loader combines what this keyserver meant to release. */
        bool ok = e && json_array_append_new(keys, e) == 0;
        if (ok && k->share_count) {
            ok =
                json_object_set_new(e, "share",
                                    json_pack("{s:i,s:i,s:i}", "index", k->share_index, "threshold",
                                              k->share_threshold, "count", k->share_count)) == 0;
        }
        if (!ok) {
            json_decref(o);
            return KS_ERR_NOMEM;
        }
    }
    char *payload = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (!payload) {
        return KS_ERR_NOMEM;
    }
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    int r = ks_receipt_sign(ctx->receipt_key, (const uint8_t *)payload, strlen(payload), &sig,
                            &sig_len);
    if (r < 0) {
        free(payload);
        return r;
    }
    res->receipt_payload = (uint8_t *)payload;
    res->receipt_payload_len = strlen(payload);
    res->receipt_signature = malloc(sig_len);
    if (!res->receipt_signature) {
        OPENSSL_free(sig);
        return KS_ERR_NOMEM;
    }
    memcpy(res->receipt_signature, sig, sig_len);
    res->receipt_signature_len = sig_len;
    OPENSSL_free(sig);
    return KS_OK;
}

/* The reason kept for the log and the audit trail (clients get the code). */
static void keep_reason(struct ks_release_result *res, struct decision *d)
{
    res->reason = d->reason[0] ? d->reason : NULL;
}

int ks_release_decide(struct ks_server_ctx *ctx, const struct ks_release_request *req,
                      struct ks_release_result *res)
{
    if (!ctx || !req || !res || req->n_keys == 0 || req->n_keys > KS_RELEASE_MAX_KEYS) {
        return KS_ERR_INVALID_ARG;
    }
    if (!ctx->master_key || !ctx->receipt_key || !ctx->ak_cache || !ctx->audit_batcher ||
        !ctx->policy_cache) {
        return KS_ERR_INTERNAL; /* not initialised: release nothing */
    }
    struct decision *d = calloc(1, sizeof(*d));
    if (!d) {
        return KS_ERR_NOMEM;
    }
    int r;
    int64_t seq = 0;
    uint8_t hash[KS_STORE_HASH_LEN];
    bool unknown_key = false;
    struct ks_store *store = ks_state_store(ctx);
    ks_hex_encode(req->ak_name, req->ak_name_len, d->ak_id);
    build_refs(req, d);
    if (!store) {
        set_reason(d, "%s", "database unavailable");
        r = KS_ERR_INTERNAL;
        goto out_noaudit;
    }

    /* 1. The nonce: consumed by the first attempt whose tag and expiry check
     * out, granted or not. */
    r = ks_nonce_consume(ctx->nonces, req->nonce, KS_NONCE_LEN, ks_state_now());
    if (r < 0) {
        set_reason(d, "nonce: %s", ks_strerror(r));
        goto refuse;
    }
    /* The replay cache lives in memory: a nonce issued before this process
     * started may have been consumed by the previous one, so it is refused
     * (issued = expiry - lifetime; the tag above vouches for the expiry). */
    uint64_t expiry = 0;
    for (int i = 0; i < 8; i++) {
        expiry = expiry << 8 | req->nonce[i];
    }
    if (expiry < ctx->started_at + ctx->cfg->nonce_lifetime) {
        set_reason(d, "nonce: %s", "issued before this keyserverd started");
        r = KS_ERR_NONCE_EXPIRED;
        goto refuse;
    }

    /* 2. AK, keys and policies in one read transaction. An unknown key is
     * reported only after attestation passes, so that key existence does not
     * leak to an unattested caller. */
    d->policies.cache = ctx->policy_cache;
    r = ks_store_release_snapshot_ex(store, d->ak_id, d->refs, req->n_keys,
                                     ks_release_policies_held, &d->policies, &d->snap);
    if (r == KS_OK && (r = ks_release_policies_compile(&d->policies, d->snap)) < 0) {
        set_reason(d, "policy: %s", ks_strerror(r));
        goto refuse;
    }
    if (r == KS_ERR_STORE_UNKNOWN_KEY) {
        unknown_key = true;
        snprintf(d->reason, sizeof(d->reason), "%s", ks_store_errmsg(store));
        r = ks_store_release_snapshot(store, d->ak_id, NULL, 0, &d->snap);
    }
    if (r == KS_ERR_STORE_UNKNOWN_AK) {
        set_reason(d, "%s", "unknown AK");
        r = KS_ERR_ATTESTATION;
        goto refuse;
    }
    if (r < 0) {
        set_reason(d, "database: %s", ks_store_errmsg(store));
        goto refuse;
    }

    /* 3. Attestation. */
    char kept[REASON_MAX];
    memcpy(kept, d->reason, sizeof(kept));
    r = check_attestation(ctx, req, d);
    if (r < 0) {
        goto refuse;
    }
    if (unknown_key) {
        memcpy(d->reason, kept, sizeof(kept));
        r = KS_ERR_POLICY_DENIED;
        goto refuse;
    }

    /* 4. Each key's policy: all keys or none. */
    r = check_policies(req, d);
    if (r < 0) {
        goto refuse;
    }

    /* 5. Grant: wrap, audit, then sign the receipt naming the audit row. A
     * failure at any step releases nothing. */
    r = seal_keys(ctx, req, d, res);
    if (r < 0) {
        goto refuse;
    }
    struct ks_store_quote_clock clock = {
        .clock = d->info.clock,
        .reset_count = d->info.reset_count,
        .restart_count = d->info.restart_count,
        .enforce = d->clock_rule,
    };
    char why[512] = "";
    r = audit(ctx, store, req, d, KS_AUDIT_GRANTED, &clock, &seq, hash, why, sizeof(why));
    if (r == KS_ERR_AK_CLOCK_ROLLBACK) {
        /* A concurrent release of this AK recorded a newer quote. */
        set_reason(d, "rule tpm_clock: %s", why);
        r = KS_ERR_POLICY_DENIED;
        goto refuse;
    }
    if (r < 0) {
        set_reason(d, "audit append failed: %s", ks_strerror(r));
        ks_release_result_clear(res);
        r = KS_ERR_INTERNAL;
        goto out_noaudit;
    }
    r = make_receipt(ctx, req, d, seq, hash, res);
    if (r < 0) {
        /* The grant row is written but nothing leaves: a following "failed"
         * row (via refuse) tells the trail that the release was aborted. */
        set_reason(d, "receipt: %s; release aborted", ks_strerror(r));
        r = KS_ERR_INTERNAL;
        goto refuse;
    }
    r = KS_OK;
    goto out;

refuse:
    ks_release_result_clear(res);
    if (audit(ctx, store, req, d,
              r == KS_ERR_NOMEM || r == KS_ERR_INTERNAL || r == KS_ERR_CRYPTO ? KS_AUDIT_FAILED
                                                                              : KS_AUDIT_REFUSED,
              NULL, &seq, hash, NULL, 0) < 0) {
        /* Still refused; the caller logs the reason. */
    }
out_noaudit:
out:
    keep_reason(res, d);
    /* res->reason must outlive d: copy it into the result's own storage. */
    if (res->reason) {
        snprintf(res->reason_buf, sizeof(res->reason_buf), "%s", d->reason);
        res->reason = res->reason_buf;
    }
    ks_release_policies_clear(&d->policies);
    ks_store_snapshot_free(d->snap);
    ks_evidence_free(d->ev);
    ks_quote_ak_free(d->owned_ak);
    OPENSSL_cleanse(d, sizeof(*d));
    free(d);
    return r;
}
