/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_STORE_INTERNAL_H
#define KS_STORE_INTERNAL_H

/* Shared by the db/store*.c files only. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "db/store.h"

/* Embedded schema (generated db/schema_sql.c): migration i has version i+1. */
struct ks_store_migration {
    int version;
    const char *file;
    const char *sql;
};
extern const struct ks_store_migration ks_store_migrations[];
extern const size_t ks_store_n_migrations;

/*
 * Cached statements, one slot each. Each slot has exactly one call site,
 * which passes its SQL text; the statement is prepared on first use
 * (SQLITE_PREPARE_PERSISTENT) and reused for the life of the connection.
 */
enum ks_stmt {
    STMT_BEGIN_READ,
    STMT_BEGIN_WRITE,
    STMT_COMMIT,
    STMT_ROLLBACK,
    STMT_SAVEPOINT,
    STMT_SAVEPOINT_UNDO,
    STMT_SAVEPOINT_RELEASE,
    STMT_USER_VERSION,
    /* meta */
    STMT_META_GET,
    STMT_META_PUT,
    /* audit */
    STMT_AUDIT_LAST,
    STMT_AUDIT_INSERT,
    STMT_AUDIT_SELECT,
    STMT_AUDIT_ALL,
    STMT_AUDIT_SEQ_EXISTS,
    STMT_AUDIT_DELETE_BEFORE,
    /* EKs and AKs */
    STMT_EK_INSERT,
    STMT_EK_APPROVE,
    STMT_EK_EXISTS,
    STMT_AK_INSERT,
    STMT_AK_STATE,
    STMT_AK_REVOKE,
    STMT_AK_LIST,
    STMT_AK_CLOCK_GET,
    STMT_AK_CLOCK_SET,
    /* policies */
    STMT_POLICY_INSERT,
    STMT_POLICY_ID,
    STMT_PV_INSERT,
    STMT_PV_FIND,
    STMT_PV_BY_STATE,
    STMT_PV_DRAFT,
    STMT_PV_MAX,
    STMT_PV_SET_STATE,
    STMT_PV_RETIRE_ACTIVE,
    STMT_RULE_INSERT,
    STMT_RULE_COPY,
    STMT_RULE_DELETE,
    STMT_RULES_OF,
    STMT_POLICY_LIST,
    /* rules of every kind (store_rules.c) */
    STMT_RULE_INSERT_ANY,
    STMT_RULE_DELETE_ANY,
    STMT_RULE_CLEAR,
    STMT_PV_HISTORY,
    /* keys */
    STMT_KEY_INSERT,
    STMT_KEY_FIND,
    STMT_KV_INSERT,
    STMT_KV_RETIRE_ACTIVE,
    STMT_KEY_LIST,
    STMT_KEY_PUBLIC,
    /* release snapshot */
    STMT_SNAP_AK,
    STMT_SNAP_KEY_ACTIVE,
    STMT_SNAP_KEY_VERSION,
    /* enrollment (store_ek.c, store_ekca.c, store_enroll.c): a block of
     * slots that db/store_enroll_internal.h names */
    STMT_ENROLL_FIRST,
    STMT_ENROLL_LAST = STMT_ENROLL_FIRST + 47,
    STMT__MAX
};

struct ks_store {
    sqlite3 *db;
    int busy_ms;
    bool in_tx;
    sqlite3_stmt *stmt[STMT__MAX];
    char errmsg[512];
};

/* Resets a cached statement when it leaves scope (releases its read snapshot
 * and bindings); use as `STMT_AUTO sqlite3_stmt *st = NULL;`. */
void ks_store_stmt_release(sqlite3_stmt **st);
#define STMT_AUTO __attribute__((cleanup(ks_store_stmt_release)))

/* The cached statement of `id`, prepared from `sql` on first use. */
KS_WUR int ks_store_stmt(struct ks_store *s, enum ks_stmt id, const char *sql, sqlite3_stmt **ret);

/* Map an SQLite result code to KS_ERR_* and record "what: sqlite message". */
int ks_store_sqlerr(struct ks_store *s, int rc, const char *what);

/* Record a message for a non-SQLite failure and return `err`. */
int ks_store_fail(struct ks_store *s, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void ks_store_clear_error(struct ks_store *s);

/* Transactions: read = BEGIN (deferred), write = BEGIN IMMEDIATE. */
KS_WUR int ks_store_begin(struct ks_store *s, bool write);
KS_WUR int ks_store_commit(struct ks_store *s);
/* Rolls back if a transaction is open; keeps the recorded error. */
void ks_store_rollback(struct ks_store *s);

/* Step a statement expected to finish with SQLITE_DONE. */
KS_WUR int ks_store_step_done(struct ks_store *s, sqlite3_stmt *st, const char *what);
/* Run the cached statement `id` (no parameters, no rows: transaction and
 * savepoint control) and reset it; errors name `what`. */
KS_WUR int ks_store_exec_cached(struct ks_store *s, enum ks_stmt id, const char *sql,
                                const char *what);

/* Bind helpers returning KS_ERR_* (text/blob are SQLITE_STATIC: the caller
 * keeps them alive until the statement is reset). NULL text binds NULL. */
KS_WUR int ks_store_bind_text(struct ks_store *s, sqlite3_stmt *st, int i, const char *v);
KS_WUR int ks_store_bind_blob(struct ks_store *s, sqlite3_stmt *st, int i, const void *v,
                              size_t len);
KS_WUR int ks_store_bind_int64(struct ks_store *s, sqlite3_stmt *st, int i, int64_t v);

/* Copy a TEXT column into a fixed buffer; KS_ERR_DB_CORRUPT if too long. */
KS_WUR int ks_store_col_text(struct ks_store *s, sqlite3_stmt *st, int col, char *buf, size_t size);
/* Copy a BLOB column into a new malloc'd buffer (capped). */
KS_WUR int ks_store_col_blob(struct ks_store *s, sqlite3_stmt *st, int col, size_t max,
                             uint8_t **ret, size_t *ret_len);

/* Parse a key reference "name" or "name@N" (N in 1..2^32-1, no leading
 * zero); *version is 0 for "name". KS_ERR_INVALID_ARG. */
KS_WUR int ks_store_key_ref_parse(const char *ref, char name[KS_STORE_NAME_MAX + 1],
                                  uint32_t *version);

/* Argument checks shared by the writers. */
bool ks_store_actor_valid(const char *actor);
int64_t ks_store_now(void);

/* Append an audit row inside the caller's write transaction. */
KS_WUR int ks_store_audit_append_tx(struct ks_store *s, const struct ks_audit_entry *e,
                                    int64_t *ret_seq, uint8_t ret_hash[KS_STORE_HASH_LEN]);

/* meta entry: u64be seq || row_hash of the last row removed by a prune. */
#define KS_META_AUDIT_ANCHOR "audit_anchor"
#define KS_AUDIT_ANCHOR_LEN (8 + KS_STORE_HASH_LEN)

/* row_hash of a row (see ks_store_audit_append for the encoding). */
KS_WUR int ks_store_audit_row_hash(const struct ks_audit_row *row, uint8_t out[KS_STORE_HASH_LEN]);

/* Anchor recorded by a prune; seq 0 and a zero hash when none. */
KS_WUR int ks_store_audit_anchor_get(struct ks_store *s, int64_t *ret_seq,
                                     uint8_t hash[KS_STORE_HASH_LEN]);

/* "ok"/"granted"/"refused"/"failed" -> enum; KS_ERR_DB_CORRUPT otherwise. */
KS_WUR int ks_store_audit_outcome_parse(const char *name, enum ks_audit_outcome *ret);

void ks_store_put_u64be(uint8_t *p, uint64_t v);

/* Shorthand for admin changes: audit (actor, event, outcome ok) with an
 * optional AK id, one optional key reference, reason and JSON detail. */
KS_WUR int ks_store_audit_admin(struct ks_store *s, const char *actor, const char *event,
                                const char *ak_id, const char *key, const char *reason,
                                const char *detail);

/* Meta rows inside the caller's transaction. */
KS_WUR int ks_store_meta_put_tx(struct ks_store *s, const char *key, const uint8_t *value,
                                size_t len, const uint8_t *nonce);

/* Run fn(s, arg) between BEGIN IMMEDIATE and COMMIT; roll back on failure. */
KS_WUR int ks_store_in_write_tx(struct ks_store *s, int (*fn)(struct ks_store *, void *),
                                void *arg);

/* ks_store_ak_record_quote's check and update inside the caller's write
 * transaction (KS_ERR_AK_CLOCK_ROLLBACK writes nothing). */
KS_WUR int ks_store_ak_quote_tx(struct ks_store *s, const char *ak_id, int64_t now, uint64_t clock,
                                uint32_t reset_count, uint32_t restart_count);

/* "pending"/"active"/"revoked" -> enum; KS_ERR_DB_CORRUPT otherwise. */
KS_WUR int ks_store_ak_state_parse(const char *name, enum ks_ak_state *ret);

/* Policy id by name (KS_ERR_STORE_UNKNOWN_POLICY). */
KS_WUR int ks_store_policy_id(struct ks_store *s, const char *name, int64_t *ret_id);

/* The policy's version in `state` ("draft", "active"): row id and number;
 * KS_ERR_NOT_FOUND when it has none. */
KS_WUR int ks_store_pv_by_state(struct ks_store *s, int64_t policy_id, const char *state,
                                int64_t *ret_pv_id, uint32_t *ret_version);

/* Version `version` of a policy: row id and state; KS_ERR_STORE_UNKNOWN_POLICY. */
KS_WUR int ks_store_pv_find(struct ks_store *s, int64_t policy_id, uint32_t version,
                            int64_t *ret_pv_id, enum ks_policy_state *ret_state);

/* "draft"/"active"/"retired" -> enum; KS_ERR_DB_CORRUPT otherwise. */
KS_WUR int ks_store_policy_state_parse(const char *name, enum ks_policy_state *ret);

/* The draft of a policy (row id and number); made when absent and `create`,
 * as a copy of the active version's rules when `copy_active`.
 * KS_ERR_STORE_STATE when absent and not `create`. */
KS_WUR int ks_store_draft_get(struct ks_store *s, const char *actor, int64_t policy_id, bool create,
                              bool copy_active, int64_t *ret_pv_id, uint32_t *ret_version);

/* Check a rule's shape for its kind (see ks_store_policy_add_rule). */
KS_WUR int ks_store_rule_check(const struct ks_store_rule *rule);

/* Load the rules of one policy_versions row into p (p->rules allocated). */
KS_WUR int ks_store_policy_rules_load(struct ks_store *s, int64_t pv_id, struct ks_store_policy *p);

/* The audit columns in the order ks_store_audit_row_read expects. */
#define KS_AUDIT_COLUMNS                                                                           \
    "seq, time, actor, event, ak_id, keys, outcome, reason, detail, prev_hash, row_hash"

/* One audit row from the current result row of a query selecting
 * KS_AUDIT_COLUMNS; KS_ERR_DB_CORRUPT for a malformed row. */
KS_WUR int ks_store_audit_row_read(struct ks_store *s, sqlite3_stmt *st, struct ks_audit_row *row);

#endif
