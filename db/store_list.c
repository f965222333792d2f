/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db/store_list.h"

#define LIST_FIRST_CAP 16

int ks_store_each_row(struct ks_store *s, sqlite3_stmt *st, const char *what, ks_store_row_fn row,
                      void *arg)
{
    for (;;) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) {
            return KS_OK;
        }
        if (rc != SQLITE_ROW) {
            return ks_store_sqlerr(s, rc, what);
        }
        int r = row(s, st, arg);
        if (r != 0) {
            return r;
        }
    }
}

struct audit_each {
    ks_audit_cb cb;
    void *ctx;
};

static int audit_row(struct ks_store *s, sqlite3_stmt *st, void *arg)
{
    const struct audit_each *a = arg;
    struct ks_audit_row row;
    int r = ks_store_audit_row_read(s, st, &row);
    return r < 0 ? r : a->cb(&row, a->ctx);
}

int ks_store_audit_each(struct ks_store *s, sqlite3_stmt *st, const char *what, ks_audit_cb cb,
                        void *ctx)
{
    struct audit_each a = {cb, ctx};
    return ks_store_each_row(s, st, what, audit_row, &a);
}

void *ks_store_list_add(struct ks_store_list *l)
{
    if (l->size == 0) {
        return NULL;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : LIST_FIRST_CAP;
        if (cap < l->cap || cap > SIZE_MAX / l->size) {
            return NULL;
        }
        void *items = realloc(l->items, cap * l->size);
        if (!items) {
            return NULL;
        }
        l->items = items;
        l->cap = cap;
    }
    void *e = (char *)l->items + l->n * l->size;
    memset(e, 0, l->size);
    l->n++;
    return e;
}

struct list_read {
    struct ks_store_list *l;
    ks_store_fill_fn fill;
    void *arg;
};

static int list_row(struct ks_store *s, sqlite3_stmt *st, void *arg)
{
    const struct list_read *a = arg;
    void *e = ks_store_list_add(a->l);
    return e ? a->fill(s, st, e, a->arg) : KS_ERR_NOMEM;
}

int ks_store_list_read(struct ks_store *s, sqlite3_stmt *st, const char *what,
                       struct ks_store_list *l, ks_store_fill_fn fill, void *arg)
{
    struct list_read a = {l, fill, arg};
    return ks_store_each_row(s, st, what, list_row, &a);
}

void ks_store_list_clear(struct ks_store_list *l, void (*clear)(void *elem))
{
    if (!l) {
        return;
    }
    for (size_t i = 0; clear && i < l->n; i++) {
        clear((char *)l->items + i * l->size);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
    l->cap = 0;
}
