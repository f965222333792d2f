/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "backend_internal.h"
#include "locked_mem.h"
#include "model.h"

/* The CPU backend: the weights in locked host memory, used in place by the
 * model of model_forward.c. The unseal sink hands out the memory itself. */

struct cpu {
    struct ks_locked weights;
    bool allow_unlocked;
    struct ks_model *model;
};

static int cpu_alloc(void *impl, size_t len, bool allow_unlocked)
{
    struct cpu *c = impl;
    c->allow_unlocked = allow_unlocked;
    return ks_locked_alloc(len, allow_unlocked, true, &c->weights);
}

static int cpu_write(void *impl, size_t off, const void *src, size_t len)
{
    struct cpu *c = impl;
    memcpy((uint8_t *)c->weights.ptr + off, src, len);
    return KS_OK;
}

static int cpu_acquire(void *ctx, unsigned worker, uint64_t index, uint64_t off, size_t len,
                       uint8_t **ret_dst)
{
    struct cpu *c = ctx;
    (void)worker;
    (void)index;
    if (!(off <= c->weights.len && c->weights.len - off >= len)) {
        return KS_ERR_INVALID_ARG;
    }
    *ret_dst = (uint8_t *)c->weights.ptr + off;
    return KS_OK;
}

static int cpu_sink(void *impl, unsigned threads, size_t chunk, struct ks_unseal_sink *ret_sink)
{
    (void)threads, (void)chunk;
    *ret_sink = (struct ks_unseal_sink){.ctx = impl, .acquire = cpu_acquire, .commit = NULL};
    return KS_OK;
}

static int cpu_finish(void *impl, const struct ks_model_dims *dims)
{
    struct cpu *c = impl;
    return ks_model_open(c->weights.ptr, c->weights.len, dims, 0, c->allow_unlocked, &c->model);
}

static int cpu_generate(void *impl, const uint8_t *prompt, size_t len, size_t n_new, uint8_t *out)
{
    struct cpu *c = impl;
    return ks_model_generate(c->model, prompt, len, n_new, out, NULL);
}

static void cpu_close(void *impl)
{
    struct cpu *c = impl;
    if (!c) {
        return;
    }
    ks_model_free(c->model);
    ks_locked_free(&c->weights);
    free(c);
}

static const struct ks_backend_ops cpu_ops = {
    .name = "cpu",
    .weights_alloc = cpu_alloc,
    .weights_write = cpu_write,
    .weights_sink = cpu_sink,
    .weights_finish = cpu_finish,
    .generate = cpu_generate,
    .close = cpu_close,
};

int ks_backend_cpu_create(void **ret_impl, const struct ks_backend_ops **ret_ops)
{
    struct cpu *c = calloc(1, sizeof(*c));
    if (!c) {
        return KS_ERR_NOMEM;
    }
    *ret_impl = c;
    *ret_ops = &cpu_ops;
    return KS_OK;
}
