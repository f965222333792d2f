/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_BACKEND_INTERNAL_H
#define KS_BACKEND_INTERNAL_H

/*
 * What an inference backend implements (backend.c checks the call order and
 * the bounds, then dispatches). One file per backend: backend_cpu.c;
 * backend_cuda.cu (configure found nvcc) or backend_cuda_none.c (it did
 * not), which both define ks_backend_cuda_create.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"

struct ks_backend_ops {
    const char *name;
    /* len > 0 and <= KS_MODEL_BYTES_MAX */
    int (*weights_alloc)(void *impl, size_t len, bool allow_unlocked);
    /* off + len <= the allocated length */
    int (*weights_write)(void *impl, size_t off, const void *src, size_t len);
    int (*weights_sink)(void *impl, unsigned threads, size_t chunk,
                        struct ks_unseal_sink *ret_sink);
    /* dims valid */
    int (*weights_finish)(void *impl, const struct ks_model_dims *dims);
    /* prompt non-empty, out has room for n_new bytes */
    int (*generate)(void *impl, const uint8_t *prompt, size_t len, size_t n_new, uint8_t *out);
    /* wipe and free everything; impl may be partly set up */
    void (*close)(void *impl);
};

/* Create a backend instance. The CUDA one writes the runtime's message (or
 * "not built") to note on failure. */
int ks_backend_cpu_create(void **ret_impl, const struct ks_backend_ops **ret_ops);
int ks_backend_cuda_create(void **ret_impl, const struct ks_backend_ops **ret_ops, char *note,
                           size_t note_len);

#endif
