/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_GPU_CHECK_H
#define KS_GPU_CHECK_H

/* Shared by the files of tests/gpu/check.sh's driver (check_main.c). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"

/* ---- sink_driver.c: drive a backend's unseal sink as ks_unseal_run does ---- */

/* Fill dst with plaintext bytes [off, off + len) of chunk `index` (a
 * decryption or a stand-in); 0 or a negative KS_ERR_*. */
typedef int (*ks_gpu_fill_fn)(void *ctx, unsigned worker, uint64_t index, uint64_t off,
                              uint8_t *dst, size_t len);

/* `threads` workers that take chunks of `chunk` bytes of a `len`-byte
 * plaintext in turn (acquire, fill, commit) through `sink`. The first error
 * of any worker, or KS_OK. */
int ks_gpu_sink_drive(const struct ks_unseal_sink *sink, size_t len, size_t chunk, unsigned threads,
                      ks_gpu_fill_fn fill, void *ctx);

/* ks_backend_weights_sink(b, threads), then ks_gpu_sink_drive. */
int ks_gpu_sink_run(struct ks_backend *b, size_t len, size_t chunk, unsigned threads,
                    ks_gpu_fill_fn fill, void *ctx);

/* ---- aesgcm_openssl.c / aesgcm_none.c: a real AES-256-GCM stand-in --------- */

struct ks_gpu_aes;
/* 1 when this build has OpenSSL's libcrypto. */
int ks_gpu_aes_available(void);
/* Encrypt `len` bytes in chunks of `chunk` (nonce: 0^32 || u64be index)
 * into ct (len bytes) and tags (16 per chunk). 0 or -1. */
int ks_gpu_aes_seal(const uint8_t key[32], const uint8_t *plain, size_t len, size_t chunk,
                    uint8_t *ct, uint8_t *tags);
/* A decryption context (one per thread); NULL on failure. */
struct ks_gpu_aes *ks_gpu_aes_new(const uint8_t key[32]);
/* Decrypt and authenticate chunk `index`: 0, or -1 (also a bad tag). */
int ks_gpu_aes_open(struct ks_gpu_aes *a, uint64_t index, const uint8_t *ct, size_t len,
                    const uint8_t tag[16], uint8_t *dst);
void ks_gpu_aes_free(struct ks_gpu_aes *a);

/* ---- bench_cuda.c ----------------------------------------------------------- */

struct ks_gpu_bench_opts {
    size_t bytes;        /* weights to upload (a generated model of about this size) */
    size_t chunk;        /* sealed-file chunk size */
    unsigned threads[8]; /* decrypt thread counts to try */
    unsigned n_threads;
    size_t cpu_tokens; /* tokens the CPU backend generates for its rate */
    size_t gpu_tokens; /* tokens the CUDA backend generates */
};

/* Runs the benchmark and prints its tables. 0: every row at least 70% of
 * its target; 1: some row below; negative: an error (printed), also when
 * the CUDA and CPU backends generate different bytes. */
int ks_gpu_bench(const struct ks_gpu_bench_opts *o);

/* ---- check_main.c ------------------------------------------------------------ */

/* Generate the weights file image of `d` and `seed` into a malloc'd
 * buffer. */
int ks_gpu_make_weights(const struct ks_model_dims *d, uint64_t seed, uint8_t **ret,
                        size_t *ret_len);

double ks_gpu_now(void);

#endif
