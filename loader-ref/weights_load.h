/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_WEIGHTS_LOAD_H
#define KS_WEIGHTS_LOAD_H

/*
 * Glue for ks-loader: unseal a sealed weights file straight into a backend's
 * memory and make the model ready, or (debugging) load a plaintext weights
 * file.
 *
 * Typical use:
 *   ks_seal_gcrypt_init();                             once, in main()
 *   fd = open(sealed_path, O_RDONLY | O_CLOEXEC);
 *   ks_unseal_open(fd, NULL, 0, &u);                   validates the header
 *   name = ks_unseal_header(u)->key_name;              the key to ask for
 *   ... attest, get the DEK for `name` ...
 *   ks_weights_load_sealed(b, u, dek, &opts, &info);   b from ks_backend_open
 *   ks_unseal_free(u); close(fd); wipe dek
 *   at LOAD: compare the program's dims and weights_sha256 with info.
 */

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "ks_error.h"
#include "model.h"
#include "sealed.h"

struct ks_weights_load_opts {
    /* Expected dims (KS_ERR_MODEL_MISMATCH otherwise); NULL: the file's. */
    const struct ks_model_dims *dims;
    /* Expected SHA-256 of the plaintext weights (KS_ERR_SEAL_DIGEST, checked
     * against the header before decrypting anything); NULL: any. */
    const uint8_t *weights_sha256;
    unsigned threads;      /* unseal workers; 0: 2 */
    bool allow_unlocked;   /* see ks_backend_weights_alloc */
    unsigned unseal_flags; /* KS_UNSEAL_*; 0 verifies the running digest */
};

/* What was loaded. */
struct ks_weights_info {
    struct ks_model_dims dims;
    uint64_t seed;      /* from the weights header (generated models) */
    uint64_t len;       /* plaintext bytes */
    uint8_t sha256[32]; /* of the plaintext: verified unless SKIP_DIGEST */
};

/*
 * Allocate the backend's weights for the plaintext of `u`, decrypt into them
 * with ks_unseal_run (opts->threads workers), read the dims from the weights
 * header as it passes, and finish the backend. On failure the backend holds
 * garbage: close it.
 * Errors: those of ks_backend_weights_alloc/_sink/_finish, ks_unseal_run,
 * KS_ERR_SEAL_DIGEST, KS_ERR_MODEL_* (a plaintext that is no weights file of
 * the expected dims).
 */
KS_WUR int ks_weights_load_sealed(struct ks_backend *b, struct ks_unseal *u,
                                  const uint8_t key[KS_SEAL_KEY_LEN],
                                  const struct ks_weights_load_opts *opts,
                                  struct ks_weights_info *ret_info);

/* Debugging: load a plaintext weights file (a regular file) into `b`.
 * opts->weights_sha256 is compared with the file's digest. */
KS_WUR int ks_weights_load_plain(struct ks_backend *b, const char *path,
                                 const struct ks_weights_load_opts *opts,
                                 struct ks_weights_info *ret_info);

#endif
