/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>

#include "backend_internal.h"

/* The CUDA backend of a build without CUDA (configure found no nvcc): chosen
 * per file instead of backend_cuda.cu, so that no function carries #ifdefs. */

int ks_backend_cuda_create(void **ret_impl, const struct ks_backend_ops **ret_ops, char *note,
                           size_t note_len)
{
    (void)ret_impl;
    (void)ret_ops;
    if (note && note_len > 0) {
        snprintf(note, note_len, "this build has no CUDA support (configure found no nvcc)");
    }
    return KS_ERR_BACKEND_UNAVAILABLE;
}
