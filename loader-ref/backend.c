/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "backend_internal.h"

/* Backend selection and the call-order / bounds checks every backend
 * shares (backend.h). */

enum backend_state { ST_OPEN, ST_ALLOCATED, ST_READY, ST_FAILED };

struct ks_backend {
    const struct ks_backend_ops *ops;
    void *impl;
    enum backend_state state;
    size_t weights_len;
};

int ks_backend_open(const char *name, struct ks_backend **ret, char *note, size_t note_len)
{
    const struct ks_backend_ops *ops = NULL;
    void *impl = NULL;
    char why[256] = "";
    int r;
    if (note && note_len > 0) {
        note[0] = '\0';
    }
    if (!name || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    if (strcmp(name, "cpu") == 0) {
        r = ks_backend_cpu_create(&impl, &ops);
    } else if (strcmp(name, "cuda") == 0) {
        r = ks_backend_cuda_create(&impl, &ops, why, sizeof(why));
        if (r < 0 && note && note_len > 0) {
            snprintf(note, note_len, "backend cuda: %s", why);
        }
    } else if (strcmp(name, "auto") == 0) {
        r = ks_backend_cuda_create(&impl, &ops, why, sizeof(why));
        if (r < 0) {
            if (note && note_len > 0) {
                snprintf(note, note_len,
                         "backend auto: CUDA unavailable (%s); using the CPU backend", why);
            }
            r = ks_backend_cpu_create(&impl, &ops);
        }
    } else {
        return KS_ERR_BACKEND_UNKNOWN;
    }
    if (r < 0) {
        return r;
    }
    struct ks_backend *b = calloc(1, sizeof(*b));
    if (!b) {
        ops->close(impl);
        return KS_ERR_NOMEM;
    }
    b->ops = ops;
    b->impl = impl;
    b->state = ST_OPEN;
    *ret = b;
    return KS_OK;
}

const char *ks_backend_name(const struct ks_backend *b)
{
    return b->ops->name;
}

int ks_backend_weights_alloc(struct ks_backend *b, size_t len, bool allow_unlocked)
{
    int r;
    if (!b) {
        return KS_ERR_INVALID_ARG;
    }
    if (b->state != ST_OPEN) {
        return KS_ERR_BACKEND_STATE;
    }
    if (len == 0 || len > KS_MODEL_BYTES_MAX) {
        return KS_ERR_INVALID_ARG;
    }
    if ((r = b->ops->weights_alloc(b->impl, len, allow_unlocked)) < 0) {
        return r;
    }
    b->weights_len = len;
    b->state = ST_ALLOCATED;
    return KS_OK;
}

int ks_backend_weights_write(struct ks_backend *b, size_t off, const void *src, size_t len)
{
    if (!b || (!src && len > 0)) {
        return KS_ERR_INVALID_ARG;
    }
    if (b->state != ST_ALLOCATED) {
        return KS_ERR_BACKEND_STATE;
    }
    if (!(off <= b->weights_len && b->weights_len - off >= len)) {
        return KS_ERR_INVALID_ARG;
    }
    return len > 0 ? b->ops->weights_write(b->impl, off, src, len) : KS_OK;
}

int ks_backend_weights_sink(struct ks_backend *b, unsigned threads, size_t chunk,
                            struct ks_unseal_sink *ret_sink)
{
    if (!b || !ret_sink || threads == 0 || threads > KS_SEAL_MAX_THREADS ||
        (chunk != 0 && (chunk < KS_SEAL_CHUNK_MIN || chunk > KS_SEAL_CHUNK_MAX))) {
        return KS_ERR_INVALID_ARG;
    }
    if (b->state != ST_ALLOCATED) {
        return KS_ERR_BACKEND_STATE;
    }
    return b->ops->weights_sink(b->impl, threads, chunk ? chunk : KS_SEAL_CHUNK_DEFAULT, ret_sink);
}

int ks_backend_weights_finish(struct ks_backend *b, const struct ks_model_dims *dims)
{
    uint64_t want;
    int r;
    if (!b || !dims) {
        return KS_ERR_INVALID_ARG;
    }
    if (b->state != ST_ALLOCATED) {
        return KS_ERR_BACKEND_STATE;
    }
    if ((r = ks_model_weights_size(dims, &want)) < 0) {
        b->state = ST_FAILED;
        return r;
    }
    if (want != b->weights_len) {
        b->state = ST_FAILED;
        return KS_ERR_MODEL_SIZE;
    }
    if ((r = b->ops->weights_finish(b->impl, dims)) < 0) {
        b->state = ST_FAILED;
        return r;
    }
    b->state = ST_READY;
    return KS_OK;
}

int ks_backend_generate(struct ks_backend *b, const uint8_t *prompt, size_t len, size_t n_new,
                        uint8_t *ret_out, size_t *ret_len)
{
    int r;
    if (!b || !ret_len || (!prompt && len > 0) || (!ret_out && n_new > 0)) {
        return KS_ERR_INVALID_ARG;
    }
    if (b->state != ST_READY) {
        return KS_ERR_BACKEND_STATE;
    }
    if (len == 0) {
        return KS_ERR_MODEL_PROMPT;
    }
    if ((r = b->ops->generate(b->impl, prompt, len, n_new, ret_out)) < 0) {
        return r;
    }
    *ret_len = n_new;
    return KS_OK;
}

void ks_backend_close(struct ks_backend *b)
{
    if (!b) {
        return;
    }
    b->ops->close(b->impl);
    free(b);
}
