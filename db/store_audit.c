/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "db/store_internal.h"

#define AUDIT_DOMAIN "ks-audit-v1"

const char *ks_audit_outcome_name(enum ks_audit_outcome outcome)
{
    switch (outcome) {
    case KS_AUDIT_OK:
        return "ok";
    case KS_AUDIT_GRANTED:
        return "granted";
    case KS_AUDIT_REFUSED:
        return "refused";
    case KS_AUDIT_FAILED:
        return "failed";
    }
    return NULL;
}

int ks_store_audit_outcome_parse(const char *name, enum ks_audit_outcome *ret)
{
    for (int o = KS_AUDIT_OK; o <= KS_AUDIT_FAILED; o++) {
        if (name && strcmp(name, ks_audit_outcome_name((enum ks_audit_outcome)o)) == 0) {
            *ret = (enum ks_audit_outcome)o;
            return KS_OK;
        }
    }
    return KS_ERR_DB_CORRUPT;
}

void ks_store_put_u64be(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* F(NULL) = 0x00; F(s) = 0x01 || u32be len(s) || s: no two different field
 * tuples share an encoding. */
static int hash_field(EVP_MD_CTX *ctx, const char *v)
{
    uint8_t hdr[5] = {0};
    if (!v) {
        return EVP_DigestUpdate(ctx, hdr, 1);
    }
    size_t n = strlen(v);
    if (n > UINT32_MAX) {
        return 0;
    }
    hdr[0] = 0x01;
    hdr[1] = (uint8_t)(n >> 24);
    hdr[2] = (uint8_t)(n >> 16);
    hdr[3] = (uint8_t)(n >> 8);
    hdr[4] = (uint8_t)n;
    return EVP_DigestUpdate(ctx, hdr, 5) && EVP_DigestUpdate(ctx, v, n);
}

int ks_store_audit_row_hash(const struct ks_audit_row *row, uint8_t out[KS_STORE_HASH_LEN])
{
    uint8_t num[16];
    unsigned len = 0;
    int r = KS_ERR_CRYPTO;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) {
        return KS_ERR_NOMEM;
    }
    ks_store_put_u64be(num, (uint64_t)row->seq);
    ks_store_put_u64be(num + 8, (uint64_t)row->time);
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
        EVP_DigestUpdate(ctx, AUDIT_DOMAIN, sizeof(AUDIT_DOMAIN)) /* with its NUL */ &&
        EVP_DigestUpdate(ctx, num, sizeof(num)) && hash_field(ctx, row->actor) &&
        hash_field(ctx, row->event) && hash_field(ctx, row->ak_id) && hash_field(ctx, row->keys) &&
        hash_field(ctx, ks_audit_outcome_name(row->outcome)) && hash_field(ctx, row->reason) &&
        hash_field(ctx, row->detail) && EVP_DigestUpdate(ctx, row->prev_hash, KS_STORE_HASH_LEN) &&
        EVP_DigestFinal_ex(ctx, out, &len) && len == KS_STORE_HASH_LEN) {
        r = KS_OK;
    }
    EVP_MD_CTX_free(ctx);
    return r;
}

/* Anchor recorded by a prune; seq 0 and zero hash when none. */
int ks_store_audit_anchor_get(struct ks_store *s, int64_t *ret_seq, uint8_t hash[KS_STORE_HASH_LEN])
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int r = ks_store_meta_get(s, KS_META_AUDIT_ANCHOR, &buf, &len);
    if (r == KS_ERR_DB_NOT_INIT) {
        *ret_seq = 0;
        memset(hash, 0, KS_STORE_HASH_LEN);
        return KS_OK;
    }
    if (r < 0) {
        return r;
    }
    if (len != KS_AUDIT_ANCHOR_LEN) {
        free(buf);
        return ks_store_fail(s, KS_ERR_DB_CORRUPT, "audit anchor malformed");
    }
    uint64_t seq = 0;
    for (int i = 0; i < 8; i++) {
        seq = seq << 8 | buf[i];
    }
    memcpy(hash, buf + 8, KS_STORE_HASH_LEN);
    free(buf);
    if (seq > INT64_MAX) {
        return ks_store_fail(s, KS_ERR_DB_CORRUPT, "audit anchor malformed");
    }
    *ret_seq = (int64_t)seq;
    return KS_OK;
}

static int entry_check(const struct ks_audit_entry *e)
{
    if (!ks_store_actor_valid(e->actor) || !ks_store_name_valid(e->event) ||
        (e->ak_id && !ks_store_tpm_name_valid(e->ak_id)) || !ks_audit_outcome_name(e->outcome) ||
        e->time < 0 || (e->n_keys > 0 && !e->keys) || e->n_keys > KS_STORE_MAX_REQUEST_KEYS) {
        return KS_ERR_INVALID_ARG;
    }
    if ((e->reason && strlen(e->reason) > KS_STORE_MAX_REASON) ||
        (e->detail && strlen(e->detail) > KS_STORE_MAX_DETAIL)) {
        return KS_ERR_TOO_LARGE;
    }
    if (e->detail) {
        /* Any JSON value, no duplicate keys: readers (ksctl audit show) embed
         * it as is. */
        json_error_t err;
        json_t *j = json_loads(e->detail, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
        if (!j) {
            return KS_ERR_INVALID_ARG;
        }
        json_decref(j);
    }
    for (size_t i = 0; i < e->n_keys; i++) {
        char name[KS_STORE_NAME_MAX + 1];
        uint32_t v;
        if (ks_store_key_ref_parse(e->keys[i], name, &v) < 0) {
            return KS_ERR_INVALID_ARG;
        }
    }
    return KS_OK;
}

int ks_store_audit_append_tx(struct ks_store *s, const struct ks_audit_entry *e, int64_t *ret_seq,
                             uint8_t ret_hash[KS_STORE_HASH_LEN])
{
    char keys[KS_STORE_MAX_REQUEST_KEYS * (KS_STORE_KEY_REF_MAX + 1) + 1] = "";
    struct ks_audit_row row = {0};
    int r = entry_check(e);
    if (r < 0) {
        return ks_store_fail(s, r, "audit entry invalid");
    }
    for (size_t i = 0, off = 0; i < e->n_keys; i++) {
        off += (size_t)snprintf(keys + off, sizeof(keys) - off, "%s%s", i ? "," : "", e->keys[i]);
    }
    {
        STMT_AUTO sqlite3_stmt *st = NULL;
        r = ks_store_stmt(s, STMT_AUDIT_LAST,
                          "SELECT seq, row_hash FROM audit ORDER BY seq DESC LIMIT 1", &st);
        if (r < 0) {
            return r;
        }
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            if (sqlite3_column_bytes(st, 1) != KS_STORE_HASH_LEN) {
                return ks_store_fail(s, KS_ERR_DB_CORRUPT, "audit row_hash malformed");
            }
            row.seq = sqlite3_column_int64(st, 0);
            memcpy(row.prev_hash, sqlite3_column_blob(st, 1), KS_STORE_HASH_LEN);
        } else if (rc != SQLITE_DONE) {
            return ks_store_sqlerr(s, rc, "audit last row");
        } else if ((r = ks_store_audit_anchor_get(s, &row.seq, row.prev_hash)) < 0) {
            return r;
        }
    }
    if (row.seq == INT64_MAX) {
        return ks_store_fail(s, KS_ERR_DB_CORRUPT, "audit seq exhausted");
    }
    row.seq += 1;
    row.time = e->time ? e->time : ks_store_now();
    row.actor = e->actor;
    row.event = e->event;
    row.ak_id = e->ak_id;
    row.keys = e->n_keys ? keys : NULL;
    row.outcome = e->outcome;
    row.reason = e->reason;
    row.detail = e->detail;
    if ((r = ks_store_audit_row_hash(&row, row.row_hash)) < 0) {
        return r;
    }
    STMT_AUTO sqlite3_stmt *st = NULL;
    r = ks_store_stmt(s, STMT_AUDIT_INSERT,
                      "INSERT INTO audit (seq, time, actor, event, ak_id, keys, outcome, reason, "
                      "detail, prev_hash, row_hash) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                      &st);
    if (r < 0 || (r = ks_store_bind_int64(s, st, 1, row.seq)) < 0 ||
        (r = ks_store_bind_int64(s, st, 2, row.time)) < 0 ||
        (r = ks_store_bind_text(s, st, 3, row.actor)) < 0 ||
        (r = ks_store_bind_text(s, st, 4, row.event)) < 0 ||
        (r = ks_store_bind_text(s, st, 5, row.ak_id)) < 0 ||
        (r = ks_store_bind_text(s, st, 6, row.keys)) < 0 ||
        (r = ks_store_bind_text(s, st, 7, ks_audit_outcome_name(row.outcome))) < 0 ||
        (r = ks_store_bind_text(s, st, 8, row.reason)) < 0 ||
        (r = ks_store_bind_text(s, st, 9, row.detail)) < 0 ||
        (r = ks_store_bind_blob(s, st, 10, row.prev_hash, KS_STORE_HASH_LEN)) < 0 ||
        (r = ks_store_bind_blob(s, st, 11, row.row_hash, KS_STORE_HASH_LEN)) < 0 ||
        (r = ks_store_step_done(s, st, "audit append")) < 0) {
        return r;
    }
    if (ret_seq) {
        *ret_seq = row.seq;
    }
    if (ret_hash) {
        memcpy(ret_hash, row.row_hash, KS_STORE_HASH_LEN);
    }
    return KS_OK;
}

int ks_store_audit_admin(struct ks_store *s, const char *actor, const char *event,
                         const char *ak_id, const char *key, const char *reason, const char *detail)
{
    const char *keys[1] = {key};
    struct ks_audit_entry e = {
        .actor = actor,
        .event = event,
        .ak_id = ak_id,
        .keys = key ? keys : NULL,
        .n_keys = key ? 1 : 0,
        .outcome = KS_AUDIT_OK,
        .reason = reason,
        .detail = detail,
    };
    return ks_store_audit_append_tx(s, &e, NULL, NULL);
}

int ks_store_audit_append(struct ks_store *s, const struct ks_audit_entry *e, int64_t *ret_seq,
                          uint8_t ret_hash[KS_STORE_HASH_LEN])
{
    if (!s || !e) {
        return KS_ERR_INVALID_ARG;
    }
    int r = entry_check(e);
    if (r < 0) {
        return r;
    }
    int64_t seq = 0;
    uint8_t hash[KS_STORE_HASH_LEN];
    if ((r = ks_store_begin(s, true)) < 0) {
        return r;
    }
    if ((r = ks_store_audit_append_tx(s, e, &seq, hash)) < 0 || (r = ks_store_commit(s)) < 0) {
        ks_store_rollback(s);
        return r;
    }
    if (ret_seq) {
        *ret_seq = seq;
    }
    if (ret_hash) {
        memcpy(ret_hash, hash, KS_STORE_HASH_LEN);
    }
    return KS_OK;
}
