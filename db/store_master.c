/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* Master key rotation: every wrapped item re-wrapped in one transaction
 * (db/store.h "operations: master key"). */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "db/store_list.h"
#include "db/store_ops_internal.h"

/* One wrapped item: a key version's material (AAD "ks-key-v1", name,
 * version, kind) or a meta secret (AAD "ks-meta-v1", key). */
struct item {
    bool meta;
    int64_t id; /* key_versions.id */
    char name[KS_STORE_NAME_MAX + 1];
    uint32_t version;
    enum ks_key_kind kind;
    uint8_t nonce[KS_STORE_NONCE_LEN];
    uint8_t *ct;
    size_t ct_len;
};

static void item_clear(void *elem)
{
    free(((struct item *)elem)->ct);
}

/* One wrapped item from the current row of pass 0 (key versions) or 1
 * (meta secrets). */
static int item_row(struct ks_store *s, sqlite3_stmt *st, void *elem, void *arg)
{
    struct item *e = elem;
    const int pass = *(const int *)arg;
    int nonce_col = pass == 0 ? 4 : 1, ct_col = pass == 0 ? 5 : 2;
    int r;
    e->meta = pass == 1;
    if ((r = ks_store_col_text(s, st, pass == 0 ? 1 : 0, e->name, sizeof(e->name))) < 0) {
        return r;
    }
    if (pass == 0) {
        e->id = sqlite3_column_int64(st, 0);
        e->version = (uint32_t)sqlite3_column_int64(st, 2);
        if (ks_key_kind_from_name((const char *)sqlite3_column_text(st, 3), &e->kind) < 0) {
            return ks_store_fail(s, KS_ERR_DB_CORRUPT, "key %s: bad kind", e->name);
        }
    }
    if (sqlite3_column_bytes(st, nonce_col) != KS_STORE_NONCE_LEN) {
        return ks_store_fail(s, KS_ERR_DB_CORRUPT, "%s: bad nonce", e->name);
    }
    memcpy(e->nonce, sqlite3_column_blob(st, nonce_col), KS_STORE_NONCE_LEN);
    return ks_store_col_blob(s, st, ct_col, KS_STORE_MAX_SECRET + KS_STORE_TAG_LEN, &e->ct,
                             &e->ct_len);
}

/* Every wrapped item (struct item), read inside the caller's transaction. */
static int collect(struct ks_store *s, struct ks_store_list *it)
{
    STMT_LOCAL sqlite3_stmt *kv = NULL;
    STMT_LOCAL sqlite3_stmt *meta = NULL;
    int r = ks_store_prepare(s,
                             "SELECT kv.id, k.name, kv.version, k.kind, kv.nonce, kv.wrapped "
                             "FROM key_versions kv JOIN keys k ON k.id = kv.key_id "
                             "WHERE kv.wrapped IS NOT NULL ORDER BY kv.id",
                             &kv);
    if (r < 0 || (r = ks_store_prepare(s,
                                       "SELECT key, nonce, value FROM meta "
                                       "WHERE nonce IS NOT NULL ORDER BY key",
                                       &meta)) < 0) {
        return r;
    }
    for (int pass = 0; pass < 2; pass++) {
        r = ks_store_list_read(s, pass == 0 ? kv : meta, "wrapped items", it, item_row, &pass);
        if (r < 0) {
            return r;
        }
    }
    return KS_OK;
}

static int unwrap_item(const struct ks_master_key *mk, const struct item *e,
                       struct ks_store_secret **ret)
{
    if (e->meta) {
        return ks_store_secret_unwrap(mk, e->name, e->nonce, e->ct, e->ct_len, ret);
    }
    return ks_store_key_unwrap(mk, e->name, e->version, e->kind, e->nonce, e->ct, e->ct_len, ret);
}

/* Re-wrap one item under new_mk and write it back. */
/* Store one key version's new wrapping (its own scope: the statement is
 * finalised by its cleanup attribute, which no goto may jump over). */
static int store_rewrapped(struct ks_store *s, int64_t id, const uint8_t nonce[KS_STORE_NONCE_LEN],
                           const uint8_t *ct, size_t ct_len)
{
    STMT_LOCAL sqlite3_stmt *st = NULL;
    int r;
    if ((r = ks_store_prepare(s, "UPDATE key_versions SET nonce = ?2, wrapped = ?3 WHERE id = ?1",
                              &st)) < 0 ||
        (r = ks_store_bind_int64(s, st, 1, id)) < 0 ||
        (r = ks_store_bind_blob(s, st, 2, nonce, KS_STORE_NONCE_LEN)) < 0 ||
        (r = ks_store_bind_blob(s, st, 3, ct, ct_len)) < 0) {
        return r;
    }
    return ks_store_step_done(s, st, "key version rewrap");
}

static int rewrap_item(struct ks_store *s, const struct ks_master_key *old_mk,
                       const struct ks_master_key *new_mk, const struct item *e)
{
    struct ks_store_secret *sec = NULL;
    uint8_t nonce[KS_STORE_NONCE_LEN];
    uint8_t *ct = NULL;
    size_t ct_len = 0;
    int r = unwrap_item(old_mk, e, &sec);
    if (r < 0) {
        if (e->meta) {
            r = ks_store_fail(s, r, "meta secret %s does not unwrap with the current master key",
                              e->name);
        } else {
            r = ks_store_fail(s, r, "key %s@%u does not unwrap with the current master key",
                              e->name, e->version);
        }
        goto out;
    }
    r = e->meta ? ks_store_secret_wrap(new_mk, e->name, sec->data, sec->len, nonce, &ct, &ct_len)
                : ks_store_key_wrap(new_mk, e->name, e->version, e->kind, sec->data, sec->len,
                                    nonce, &ct, &ct_len);
    if (r < 0) {
        goto out;
    }
    r = e->meta ? ks_store_meta_put_tx(s, e->name, ct, ct_len, nonce)
                : store_rewrapped(s, e->id, nonce, ct, ct_len);
out:
    free(ct);
    ks_store_secret_free(sec);
    return r;
}

struct rotate_args {
    const struct ks_master_key *old_mk, *new_mk;
    const char *actor;
    struct ks_store_rewrap_counts counts;
};

static int rotate_tx(struct ks_store *s, void *arg)
{
    struct rotate_args *a = arg;
    struct ks_store_list it = KS_STORE_LIST_INIT(struct item);
    char detail[96];
    int r = collect(s, &it);
    const struct item *v = it.items;
    for (size_t i = 0; r == KS_OK && i < it.n; i++) {
        r = rewrap_item(s, a->old_mk, a->new_mk, &v[i]);
        if (r == KS_OK) {
            if (v[i].meta) {
                a->counts.secrets++;
            } else {
                a->counts.key_versions++;
            }
        }
    }
    ks_store_list_clear(&it, item_clear);
    if (r < 0) {
        return r;
    }
    snprintf(detail, sizeof(detail), "{\"key_versions\":%u,\"secrets\":%u}", a->counts.key_versions,
             a->counts.secrets);
    return ks_store_audit_admin(s, a->actor, "master.rotate", NULL, NULL, NULL, detail);
}

int ks_store_master_rotate(struct ks_store *s, const struct ks_master_key *old_mk,
                           const struct ks_master_key *new_mk, const char *actor,
                           struct ks_store_rewrap_counts *ret)
{
    if (!s || !old_mk || !new_mk || old_mk == new_mk || !ks_store_actor_valid(actor)) {
        return KS_ERR_INVALID_ARG;
    }
    struct rotate_args a = {.old_mk = old_mk, .new_mk = new_mk, .actor = actor};
    int r = ks_store_in_write_tx(s, rotate_tx, &a);
    if (r == KS_OK && ret) {
        *ret = a.counts;
    }
    return r;
}

int ks_store_master_check(struct ks_store *s, const struct ks_master_key *mk,
                          struct ks_store_rewrap_counts *ret)
{
    if (!s || !mk || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_store_list it = KS_STORE_LIST_INIT(struct item);
    struct ks_store_rewrap_counts c = {0};
    int r = ks_store_begin(s, false);
    if (r < 0) {
        return r;
    }
    r = collect(s, &it);
    ks_store_rollback(s); /* read-only */
    const struct item *v = it.items;
    for (size_t i = 0; r == KS_OK && i < it.n; i++) {
        struct ks_store_secret *sec = NULL;
        if (unwrap_item(mk, &v[i], &sec) < 0) {
            c.failed++;
        } else if (v[i].meta) {
            c.secrets++;
        } else {
            c.key_versions++;
        }
        ks_store_secret_free(sec);
    }
    ks_store_list_clear(&it, item_clear);
    if (r == KS_OK) {
        *ret = c;
    }
    return r;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, p + off, len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return KS_ERR_IO;
        }
        off += (size_t)n;
    }
    return KS_OK;
}

int ks_master_key_copy(const char *src, const char *dst)
{
    if (!src || !dst) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_master_key *check = NULL;
    /* The same checks as a load (owner, mode, size), with its codes. */
    int r = ks_master_key_load(src, &check);
    ks_master_key_free(check);
    if (r < 0) {
        return r;
    }
    int in = -1, out = -1;
    struct stat sb;
    uint8_t *buf = OPENSSL_secure_zalloc(KS_MASTER_KEY_LEN + 1);
    if (!buf) {
        return KS_ERR_NOMEM;
    }
    in = open(src, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (in < 0 || fstat(in, &sb) != 0) {
        r = KS_ERR_IO;
        goto out;
    }
    if (!S_ISREG(sb.st_mode) || sb.st_uid != geteuid() || (sb.st_mode & 077) != 0) {
        r = KS_ERR_MASTER_KEY_PERMS;
        goto out;
    }
    ssize_t n;
    size_t len = 0;
    while (
        len < KS_MASTER_KEY_LEN + 1 &&
        ((n = read(in, buf + len, KS_MASTER_KEY_LEN + 1 - len)) > 0 || (n < 0 && errno == EINTR))) {
        len += n > 0 ? (size_t)n : 0;
    }
    if (len != KS_MASTER_KEY_LEN) {
        r = KS_ERR_MASTER_KEY_SIZE;
        goto out;
    }
    out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0) {
        r = errno == EEXIST ? KS_ERR_STORE_EXISTS : KS_ERR_IO;
        goto out;
    }
    if (fchmod(out, 0600) != 0 || (r = write_all(out, buf, KS_MASTER_KEY_LEN)) < 0 ||
        fsync(out) != 0) {
        r = KS_ERR_IO;
        goto out;
    }
    r = KS_OK;
out:
    if (out >= 0 && close(out) != 0 && r == KS_OK) {
        r = KS_ERR_IO;
    }
    if (r < 0 && out >= 0) {
        (void)unlink(dst);
    }
    if (in >= 0) {
        close(in);
    }
    OPENSSL_secure_clear_free(buf, KS_MASTER_KEY_LEN + 1);
    return r;
}
