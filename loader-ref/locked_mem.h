/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_LOCKED_MEM_H
#define KS_LOCKED_MEM_H

/*
 * Page-aligned anonymous memory for secrets (cleartext weights, KV caches,
 * prompts): locked in RAM (mlock), excluded from core dumps (MADV_DONTDUMP)
 * and from forked children (MADV_DONTFORK), wiped before it is unmapped.
 */

#include <stdbool.h>
#include <stddef.h>

#include "ks_error.h"

struct ks_locked {
    void *ptr;
    size_t len;    /* as asked */
    size_t mapped; /* rounded up to pages */
    bool locked;
};

/*
 * Map `len` (> 0) zeroed bytes. If they cannot be locked (RLIMIT_MEMLOCK,
 * `ulimit -l`) or kept out of core dumps: KS_ERR_BACKEND_MLOCK, unless
 * allow_unlocked, in which case the memory is used unlocked (ret->locked
 * false) and prefaulted. huge: ask for transparent huge pages (large
 * read-mostly buffers). KS_ERR_NOMEM, KS_ERR_INVALID_ARG.
 */
KS_WUR int ks_locked_alloc(size_t len, bool allow_unlocked, bool huge, struct ks_locked *ret);

/* Wipe, unlock, unmap; resets *m. A zeroed struct is a no-op. */
void ks_locked_free(struct ks_locked *m);

#endif
