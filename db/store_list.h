/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_STORE_LIST_H
#define KS_STORE_LIST_H

/*
 * The loops that read query results, shared by the db/store*.c files: step
 * a statement to its end with one call per row, and collect rows into an
 * array that grows as they come.
 */

#include <stddef.h>

#include "db/store_internal.h"

/* Called with each row of a statement (the current row of `st`): 0 to go
 * on, anything else stops the walk and is its result. */
typedef int (*ks_store_row_fn)(struct ks_store *s, sqlite3_stmt *st, void *arg);

/*
 * Step `st` until SQLITE_DONE, calling row(s, st, arg) for each row.
 * Returns KS_OK at the end, the first non-zero result of row(), or for an
 * SQLite failure ks_store_sqlerr(s, rc, what) ("what: sqlite message").
 */
KS_WUR int ks_store_each_row(struct ks_store *s, sqlite3_stmt *st, const char *what,
                             ks_store_row_fn row, void *arg);

/* Each row of an audit query selecting KS_AUDIT_COLUMNS, read with
 * ks_store_audit_row_read and passed to cb (ks_store_each_row's results). */
KS_WUR int ks_store_audit_each(struct ks_store *s, sqlite3_stmt *st, const char *what,
                               ks_audit_cb cb, void *ctx);

/* An array of `size`-byte elements that grows by doubling (from 16). */
struct ks_store_list {
    void *items;
    size_t n, cap, size;
};
#define KS_STORE_LIST_INIT(type)                                                                   \
    {                                                                                              \
        NULL, 0, 0, sizeof(type)                                                                   \
    }

/* Append a zeroed element and return it (it counts in l->n at once);
 * NULL when out of memory, with the list unchanged. */
void *ks_store_list_add(struct ks_store_list *l);

/* Fill `elem`, zeroed and already counted in the list, from the current
 * row of `st`: KS_OK or an error. */
typedef int (*ks_store_fill_fn)(struct ks_store *s, sqlite3_stmt *st, void *elem, void *arg);

/*
 * Append one element per row of `st`, filled by fill(s, st, elem, arg).
 * Returns ks_store_each_row's results, or KS_ERR_NOMEM. On failure the list
 * keeps what it has, the last element perhaps partly filled (zeroed where
 * fill did not write), for the caller to clear.
 */
KS_WUR int ks_store_list_read(struct ks_store *s, sqlite3_stmt *st, const char *what,
                              struct ks_store_list *l, ks_store_fill_fn fill, void *arg);

/* Call clear(elem) for each element (when clear is not NULL), free the
 * array and leave the list empty for reuse. */
void ks_store_list_clear(struct ks_store_list *l, void (*clear)(void *elem));

#endif
