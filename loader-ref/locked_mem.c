/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "locked_mem.h"

int ks_locked_alloc(size_t len, bool allow_unlocked, bool huge, struct ks_locked *ret)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t mapped;
    bool locked = true;
    if (len == 0 || !ret || page <= 0) {
        return KS_ERR_INVALID_ARG;
    }
    if (len > SIZE_MAX - (size_t)page) {
        return KS_ERR_NOMEM;
    }
    mapped = (len + (size_t)page - 1) / (size_t)page * (size_t)page;
    void *p = mmap(NULL, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        return KS_ERR_NOMEM;
    }
    if (huge) {
        /* Fewer page faults while filling, fewer TLB misses in inference;
         * only a hint. */
        (void)madvise(p, mapped, MADV_HUGEPAGE);
    }
    /* Out of core dumps and children before anything is written to it. */
    if (madvise(p, mapped, MADV_DONTDUMP) != 0 || madvise(p, mapped, MADV_DONTFORK) != 0) {
        if (!allow_unlocked) {
            munmap(p, mapped);
            return KS_ERR_BACKEND_MLOCK;
        }
    }
    if (mlock(p, mapped) != 0) {
        if (!allow_unlocked) {
            munmap(p, mapped);
            return KS_ERR_BACKEND_MLOCK;
        }
        locked = false;
        /* Prefault, as mlock would have: the first write to a page should
         * not be in the middle of a timed decrypt. */
        for (size_t off = 0; off < mapped; off += (size_t)page) {
            ((volatile char *)p)[off] = 0;
        }
    }
    ret->ptr = p;
    ret->len = len;
    ret->mapped = mapped;
    ret->locked = locked;
    return KS_OK;
}

void ks_locked_free(struct ks_locked *m)
{
    if (!m || !m->ptr) {
        return;
    }
    OPENSSL_cleanse(m->ptr, m->mapped);
    if (m->locked) {
        munlock(m->ptr, m->mapped);
    }
    munmap(m->ptr, m->mapped);
    memset(m, 0, sizeof(*m));
}
