/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_STORE_OPS_INTERNAL_H
#define KS_STORE_OPS_INTERNAL_H

/*
 * Shared by the operations files (db/store_ops.c, store_status.c,
 * store_backup.c, store_master.c). Their statements run once per admin
 * command, so they are prepared per call and finalized when they leave
 * scope, rather than taking slots of the connection's statement cache.
 */

#include "db/store_internal.h"

/* Finalizes a statement of ks_store_prepare when it leaves scope; use as
 * `STMT_LOCAL sqlite3_stmt *st = NULL;`. */
void ks_store_stmt_finalize(sqlite3_stmt **st);
#define STMT_LOCAL __attribute__((cleanup(ks_store_stmt_finalize)))

/* Prepare `sql` (not cached). */
KS_WUR int ks_store_prepare(struct ks_store *s, const char *sql, sqlite3_stmt **ret);

/* One integer from a query with at most one text parameter (?1, NULL for
 * none); 0 when it returns no row. */
KS_WUR int ks_store_query_int64(struct ks_store *s, const char *sql, const char *arg, int64_t *ret);

/* Turn SQLite's secure_delete on for this connection (freed content is
 * overwritten with zeros) and return the previous setting through *ret_old
 * for ks_store_secure_delete_restore. */
KS_WUR int ks_store_secure_delete_on(struct ks_store *s, int *ret_old);
void ks_store_secure_delete_restore(struct ks_store *s, int old);

#endif
