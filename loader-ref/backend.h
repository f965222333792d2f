/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_BACKEND_H
#define KS_BACKEND_H

/*
 * Inference backends of the reference loader (model.md "Backend interface").
 * A backend holds the plaintext weights in its memory (CPU: an anonymous
 * mapping, mlock'ed, MADV_DONTDUMP and MADV_DONTFORK; CUDA: device memory
 * fed through pinned staging buffers) and runs greedy generation.
 *
 * Call order: open -> weights_alloc -> (weights_write | weights_sink + an
 * unseal run)* -> weights_finish -> generate* -> close. Out of order:
 * KS_ERR_BACKEND_STATE.
 *
 * CUDA is chosen per file (backend_cuda.cu when configure found nvcc, else
 * backend_cuda_none.c), never by #ifdef inside functions.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ks_error.h"
#include "model.h"  /* struct ks_model_dims */
#include "sealed.h" /* struct ks_unseal_sink */

struct ks_backend; /* opaque */

/*
 * name: "cpu", "cuda", "auto" (cuda if usable, else cpu). `note` (may be NULL;
 * always NUL-terminated when note_len > 0) receives a line for the log: why
 * "auto" fell back to the CPU, or why "cuda" failed (the CUDA runtime's
 * message). Errors: KS_ERR_BACKEND_UNKNOWN, KS_ERR_BACKEND_UNAVAILABLE,
 * KS_ERR_BACKEND_DEVICE, KS_ERR_NOMEM.
 */
KS_WUR int ks_backend_open(const char *name, struct ks_backend **ret, char *note, size_t note_len);

/* "cpu" or "cuda". */
const char *ks_backend_name(const struct ks_backend *b);

/*
 * Memory for `len` bytes of plaintext weights (the whole weights file image,
 * header included). The CPU backend fails closed with KS_ERR_BACKEND_MLOCK when
 * the memory cannot be locked (RLIMIT_MEMLOCK: `ulimit -l`, or
 * LimitMEMLOCK= in a systemd unit) unless allow_unlocked; it always asks for
 * MADV_DONTDUMP. Errors also: KS_ERR_INVALID_ARG (0 or above
 * KS_MODEL_BYTES_MAX), KS_ERR_NOMEM, KS_ERR_BACKEND_STATE.
 */
KS_WUR int ks_backend_weights_alloc(struct ks_backend *b, size_t len, bool allow_unlocked);

/* Copy `len` bytes into the weights at `off` (bounds-checked:
 * KS_ERR_INVALID_ARG). For plaintext sources; the unseal path uses the sink. */
KS_WUR int ks_backend_weights_write(struct ks_backend *b, size_t off, const void *src, size_t len);

/*
 * A sink for ks_unseal_run() that decrypts straight into the backend's memory:
 * CPU: the locked buffer itself; CUDA: a pinned staging buffer per worker,
 * copied asynchronously to the device on commit. Valid until weights_finish
 * or close; `threads` is the number of workers the unseal will use and
 * `chunk` the sealed file's chunk size (0: KS_SEAL_CHUNK_DEFAULT): CUDA pins
 * its staging ring for them up front, not during the upload. Errors:
 * KS_ERR_BACKEND_STATE, KS_ERR_INVALID_ARG, KS_ERR_NOMEM,
 * KS_ERR_BACKEND_DEVICE.
 */
KS_WUR int ks_backend_weights_sink(struct ks_backend *b, unsigned threads, size_t chunk,
                                   struct ks_unseal_sink *ret_sink);

/*
 * Every byte written: validate the weights image against `dims` (header and
 * exact size: KS_ERR_MODEL_MAGIC, _VERSION, _DIMS, _SIZE, _MISMATCH) and make
 * the model ready (KV cache etc.; KS_ERR_BACKEND_MLOCK as for alloc).
 */
KS_WUR int ks_backend_weights_finish(struct ks_backend *b, const struct ks_model_dims *dims);

/* Greedy generation (loader-ref/model.h): ret_out has room for n_new bytes;
 * *ret_len = n_new. KS_ERR_MODEL_PROMPT, KS_ERR_BACKEND_STATE. */
KS_WUR int ks_backend_generate(struct ks_backend *b, const uint8_t *prompt, size_t len,
                               size_t n_new, uint8_t *ret_out, size_t *ret_len);

/* Wipes and unlocks the weights and the model state. NULL is a no-op. */
void ks_backend_close(struct ks_backend *b);

#endif
