/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "db/store_internal.h"
#include "db/store_list.h"

#define DEK_LEN 32
#define X25519_LEN 32

/*
 * The plaintext material of a new key version (generated when `in` is NULL)
 * in secure memory, and for HPKE keys the X25519 public key (RFC 7748),
 * which the daemon publishes with GET /v1/keys/{name}/public.
 */
static int material_prepare(enum ks_key_kind kind, const uint8_t *in, size_t in_len,
                            struct ks_store_secret **ret, uint8_t pub[X25519_LEN])
{
    int r = KS_ERR_CRYPTO;
    size_t len = in ? in_len : (kind == KS_KEY_DEK ? DEK_LEN : X25519_LEN);
    EVP_PKEY *pkey = NULL;
    struct ks_store_secret *sec = OPENSSL_zalloc(sizeof(*sec));
    if (!sec || !(sec->data = OPENSSL_secure_malloc(len))) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    sec->len = len;
    if (kind == KS_KEY_DEK) {
        if (in) {
            memcpy(sec->data, in, len);
        } else if (RAND_priv_bytes(sec->data, len) != 1) {
            goto out;
        }
        *ret = sec;
        return KS_OK;
    }
    size_t n = X25519_LEN;
    pkey = in ? EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, in, in_len)
              : EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    if (!pkey || EVP_PKEY_get_raw_private_key(pkey, sec->data, &n) != 1 || n != X25519_LEN ||
        EVP_PKEY_get_raw_public_key(pkey, pub, &n) != 1 || n != X25519_LEN) {
        goto out;
    }
    *ret = sec;
    sec = NULL;
    r = KS_OK;
out:
    EVP_PKEY_free(pkey);
    ks_store_secret_free(sec);
    return r;
}

static int material_check(enum ks_key_kind kind, const uint8_t *m, size_t len)
{
    if (!m) {
        return KS_OK;
    }
    if (kind == KS_KEY_HPKE) {
        return len == X25519_LEN ? KS_OK : KS_ERR_INVALID_ARG;
    }
    if (len == 0) {
        return KS_ERR_INVALID_ARG;
    }
    return len <= KS_STORE_MAX_SECRET ? KS_OK : KS_ERR_TOO_LARGE;
}

struct version_args {
    const struct ks_master_key *mk;
    const char *actor, *name, *policy, *event;
    enum ks_key_kind kind;
    const uint8_t *material;
    size_t material_len;
    uint8_t share_index, share_threshold, share_count;
    int64_t key_id;   /* rotate: the key; create: set after insert */
    uint32_t version; /* out */
};

/* Wrap material for (name, version, kind) and insert it as the active
 * version (the caller retired the previous one). */
static int version_insert(struct ks_store *s, struct version_args *a)
{
    struct ks_store_secret *sec = NULL;
    uint8_t pub[X25519_LEN], nonce[KS_STORE_NONCE_LEN];
    uint8_t *ct = NULL;
    size_t ct_len = 0;
    char ref[KS_STORE_KEY_REF_MAX + 1], detail[2 * KS_STORE_NAME_MAX + 128];
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r = material_prepare(a->kind, a->material, a->material_len, &sec, pub);
    if (r < 0 || (r = ks_store_key_wrap(a->mk, a->name, a->version, a->kind, sec->data, sec->len,
                                        nonce, &ct, &ct_len)) < 0) {
        goto out;
    }
    bool share = a->share_count != 0;
    r = ks_store_stmt(s, STMT_KV_INSERT,
                      "INSERT INTO key_versions (key_id, version, state, nonce, wrapped, public, "
                      "created_by, created_at, share_index, share_threshold, share_count) "
                      "VALUES (?1, ?2, 'active', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                      &st);
    if (r < 0 || (r = ks_store_bind_int64(s, st, 1, a->key_id)) < 0 ||
        (r = ks_store_bind_int64(s, st, 2, a->version)) < 0 ||
        (r = ks_store_bind_blob(s, st, 3, nonce, sizeof(nonce))) < 0 ||
        (r = ks_store_bind_blob(s, st, 4, ct, ct_len)) < 0 ||
        (r = ks_store_bind_blob(s, st, 5, a->kind == KS_KEY_HPKE ? pub : NULL, sizeof(pub))) < 0 ||
        (r = ks_store_bind_text(s, st, 6, a->actor)) < 0 ||
        (r = ks_store_bind_int64(s, st, 7, ks_store_now())) < 0) {
        goto out;
    }
    if (share && ((r = ks_store_bind_int64(s, st, 8, a->share_index)) < 0 ||
                  (r = ks_store_bind_int64(s, st, 9, a->share_threshold)) < 0 ||
                  (r = ks_store_bind_int64(s, st, 10, a->share_count)) < 0)) {
        goto out;
    }
    if ((r = ks_store_step_done(s, st, "key version insert")) < 0) {
        goto out;
    }
    snprintf(ref, sizeof(ref), "%s@%u", a->name, a->version);
    snprintf(detail, sizeof(detail), "{\"kind\":\"%s\",\"generated\":%s%s%s%s}",
             ks_key_kind_name(a->kind), a->material ? "false" : "true",
             a->policy ? ",\"policy\":\"" : "", a->policy ? a->policy : "", a->policy ? "\"" : "");
    r = ks_store_audit_admin(s, a->actor, a->event, NULL, ref, NULL, detail);
out:
    free(ct);
    ks_store_secret_free(sec);
    return r;
}

static int create_tx(struct ks_store *s, void *arg)
{
    struct version_args *a = arg;
    int64_t policy_id;
    int r = ks_store_policy_id(s, a->policy, &policy_id);
    if (r < 0) {
        return r;
    }
    STMT_AUTO sqlite3_stmt *st = NULL;
    r = ks_store_stmt(s, STMT_KEY_INSERT,
                      "INSERT INTO keys (name, kind, policy_id, created_by, created_at) "
                      "VALUES (?1, ?2, ?3, ?4, ?5)",
                      &st);
    if (r < 0 || (r = ks_store_bind_text(s, st, 1, a->name)) < 0 ||
        (r = ks_store_bind_text(s, st, 2, ks_key_kind_name(a->kind))) < 0 ||
        (r = ks_store_bind_int64(s, st, 3, policy_id)) < 0 ||
        (r = ks_store_bind_text(s, st, 4, a->actor)) < 0 ||
        (r = ks_store_bind_int64(s, st, 5, ks_store_now())) < 0 ||
        (r = ks_store_step_done(s, st, "key insert")) < 0) {
        if (r == KS_ERR_STORE_EXISTS) {
            ks_store_fail(s, r, "key %s already exists", a->name);
        }
        return r;
    }
    a->key_id = sqlite3_last_insert_rowid(s->db);
    a->version = 1;
    return version_insert(s, a);
}

int ks_store_key_create(struct ks_store *s, const struct ks_master_key *mk, const char *actor,
                        const struct ks_store_key_params *p)
{
    if (!s || !mk || !ks_store_actor_valid(actor) || !p || !ks_store_name_valid(p->name) ||
        !ks_key_kind_name(p->kind) || !ks_store_name_valid(p->policy) ||
        (p->material && p->material_len == 0)) {
        return KS_ERR_INVALID_ARG;
    }
    int r = material_check(p->kind, p->material, p->material_len);
    if (r < 0) {
        return r;
    }
    bool share = p->share_index || p->share_threshold || p->share_count;
    if (share && (p->kind != KS_KEY_DEK || !p->material || p->share_threshold < 1 ||
                  p->share_threshold > p->share_count || p->share_index < 1 ||
                  p->share_index > p->share_count)) {
        return KS_ERR_INVALID_ARG;
    }
    struct version_args a = {
        .mk = mk,
        .actor = actor,
        .name = p->name,
        .policy = p->policy,
        .event = p->material ? "key.import" : "key.create",
        .kind = p->kind,
        .material = p->material,
        .material_len = p->material_len,
        .share_index = p->share_index,
        .share_threshold = p->share_threshold,
        .share_count = p->share_count,
    };
    return ks_store_in_write_tx(s, create_tx, &a);
}

static int rotate_tx(struct ks_store *s, void *arg)
{
    struct version_args *a = arg;
    int r;
    {
        STMT_AUTO sqlite3_stmt *st = NULL;
        r = ks_store_stmt(s, STMT_KEY_FIND,
                          "SELECT k.id, k.kind, "
                          "(SELECT max(version) FROM key_versions WHERE key_id = k.id), "
                          "av.share_index, av.share_threshold, av.share_count "
                          "FROM keys k LEFT JOIN key_versions av "
                          "ON av.key_id = k.id AND av.state = 'active' WHERE k.name = ?1",
                          &st);
        if (r < 0 || (r = ks_store_bind_text(s, st, 1, a->name)) < 0) {
            return r;
        }
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) {
            return ks_store_fail(s, KS_ERR_STORE_UNKNOWN_KEY, "unknown key %s", a->name);
        }
        if (rc != SQLITE_ROW) {
            return ks_store_sqlerr(s, rc, "key lookup");
        }
        a->key_id = sqlite3_column_int64(st, 0);
        if (ks_key_kind_from_name((const char *)sqlite3_column_text(st, 1), &a->kind) < 0) {
            return ks_store_fail(s, KS_ERR_DB_CORRUPT, "key %s: bad kind", a->name);
        }
        int64_t max = sqlite3_column_int64(st, 2);
        if (max < 1 || max >= UINT32_MAX) {
            return ks_store_fail(s, KS_ERR_STORE_STATE, "key %s: no version to rotate from",
                                 a->name);
        }
        a->version = (uint32_t)max + 1;
        a->share_index = (uint8_t)sqlite3_column_int(st, 3);
        a->share_threshold = (uint8_t)sqlite3_column_int(st, 4);
        a->share_count = (uint8_t)sqlite3_column_int(st, 5);
    }
    if ((r = material_check(a->kind, a->material, a->material_len)) < 0) {
        return ks_store_fail(s, r, "key %s: material of the wrong size", a->name);
    }
    if (a->share_count && !a->material) {
        return ks_store_fail(s, KS_ERR_INVALID_ARG, "key %s is a share: import the new share",
                             a->name);
    }
    STMT_AUTO sqlite3_stmt *st = NULL;
    r = ks_store_stmt(s, STMT_KV_RETIRE_ACTIVE,
                      "UPDATE key_versions SET state = 'previous', replaced_at = ?2 "
                      "WHERE key_id = ?1 AND state = 'active'",
                      &st);
    if (r < 0 || (r = ks_store_bind_int64(s, st, 1, a->key_id)) < 0 ||
        (r = ks_store_bind_int64(s, st, 2, ks_store_now())) < 0 ||
        (r = ks_store_step_done(s, st, "key retire")) < 0) {
        return r;
    }
    return version_insert(s, a);
}

int ks_store_key_rotate(struct ks_store *s, const struct ks_master_key *mk, const char *actor,
                        const char *name, const uint8_t *material, size_t material_len,
                        uint32_t *ret_version)
{
    if (!s || !mk || !ks_store_actor_valid(actor) || !ks_store_name_valid(name) ||
        (material && material_len == 0)) {
        return KS_ERR_INVALID_ARG;
    }
    struct version_args a = {
        .mk = mk,
        .actor = actor,
        .name = name,
        .event = "key.rotate",
        .material = material,
        .material_len = material_len,
    };
    int r = ks_store_in_write_tx(s, rotate_tx, &a);
    if (r == KS_OK && ret_version) {
        *ret_version = a.version;
    }
    return r;
}

static int key_list_row(struct ks_store *s, sqlite3_stmt *st, void *elem, void *arg)
{
    struct ks_store_key_info *k = elem;
    int r;
    (void)arg;
    if ((r = ks_store_col_text(s, st, 0, k->name, sizeof(k->name))) < 0 ||
        (r = ks_store_col_text(s, st, 2, k->policy, sizeof(k->policy))) < 0) {
        return r;
    }
    if (ks_key_kind_from_name((const char *)sqlite3_column_text(st, 1), &k->kind) < 0) {
        return ks_store_fail(s, KS_ERR_DB_CORRUPT, "key %s: bad kind", k->name);
    }
    k->active_version = (uint32_t)sqlite3_column_int64(st, 3);
    k->n_versions = (uint32_t)sqlite3_column_int64(st, 4);
    k->share_index = (uint8_t)sqlite3_column_int(st, 5);
    k->share_threshold = (uint8_t)sqlite3_column_int(st, 6);
    k->share_count = (uint8_t)sqlite3_column_int(st, 7);
    k->created_at = sqlite3_column_int64(st, 8);
    return KS_OK;
}

int ks_store_key_list(struct ks_store *s, struct ks_store_key_info **ret, size_t *ret_n)
{
    if (!s || !ret || !ret_n) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_store_list l = KS_STORE_LIST_INIT(struct ks_store_key_info);
    STMT_AUTO sqlite3_stmt *st = NULL;
    int r = ks_store_stmt(s, STMT_KEY_LIST,
                          "SELECT k.name, k.kind, p.name, coalesce(av.version, 0), "
                          "(SELECT count(*) FROM key_versions WHERE key_id = k.id), "
                          "av.share_index, av.share_threshold, av.share_count, k.created_at "
                          "FROM keys k JOIN policies p ON p.id = k.policy_id "
                          "LEFT JOIN key_versions av ON av.key_id = k.id AND av.state = 'active' "
                          "ORDER BY k.name",
                          &st);
    if (r < 0 || (r = ks_store_list_read(s, st, "key list", &l, key_list_row, NULL)) < 0) {
        ks_store_list_clear(&l, NULL);
        return r;
    }
    *ret = l.items;
    *ret_n = l.n;
    return KS_OK;
}

/* A retired version is never offered to clients: nothing could open what
 * they would encrypt to it. */
static int public_get_tx(struct ks_store *s, const char *name, uint32_t version,
                         struct ks_store_key_public *out)
{
    int64_t policy_id, pv_id;
    int r;
    {
        STMT_AUTO sqlite3_stmt *st = NULL;
        r = ks_store_stmt(s, STMT_KEY_PUBLIC,
                          "SELECT k.kind, kv.version, kv.public, p.name, p.id "
                          "FROM keys k JOIN key_versions kv ON kv.key_id = k.id "
                          "JOIN policies p ON p.id = k.policy_id WHERE k.name = ?1 "
                          "AND ((?2 = 0 AND kv.state = 'active') OR "
                          "(kv.version = ?2 AND kv.state <> 'retired'))",
                          &st);
        if (r < 0 || (r = ks_store_bind_text(s, st, 1, name)) < 0 ||
            (r = ks_store_bind_int64(s, st, 2, version)) < 0) {
            return r;
        }
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) {
            return ks_store_fail(s, KS_ERR_STORE_UNKNOWN_KEY, "unknown key %s", name);
        }
        if (rc != SQLITE_ROW) {
            return ks_store_sqlerr(s, rc, "key public");
        }
        const char *kind = (const char *)sqlite3_column_text(st, 0);
        if (!kind || strcmp(kind, "hpke") != 0) {
            return ks_store_fail(s, KS_ERR_INVALID_ARG, "key %s is not an HPKE key", name);
        }
        if (sqlite3_column_bytes(st, 2) != X25519_LEN) {
            return ks_store_fail(s, KS_ERR_DB_CORRUPT, "key %s: public key missing", name);
        }
        out->version = (uint32_t)sqlite3_column_int64(st, 1);
        memcpy(out->public_key, sqlite3_column_blob(st, 2), X25519_LEN);
        if ((r = ks_store_col_text(s, st, 3, out->policy, sizeof(out->policy))) < 0) {
            return r;
        }
        policy_id = sqlite3_column_int64(st, 4);
    }
    r = ks_store_pv_by_state(s, policy_id, "active", &pv_id, &out->policy_version);
    if (r == KS_ERR_NOT_FOUND) {
        out->policy_version = 0;
        r = KS_OK;
    }
    snprintf(out->name, sizeof(out->name), "%s", name);
    return r;
}

int ks_store_key_public_get(struct ks_store *s, const char *name, uint32_t version,
                            struct ks_store_key_public *ret)
{
    if (!s || !ks_store_name_valid(name) || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_store_key_public out;
    memset(&out, 0, sizeof(out));
    int r = ks_store_begin(s, false);
    if (r < 0) {
        return r;
    }
    r = public_get_tx(s, name, version, &out);
    ks_store_rollback(s); /* read-only */
    if (r == KS_OK) {
        *ret = out;
    }
    return r;
}
