/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_PROGRAM_H
#define KS_PROGRAM_H

/*
 * Program manifests (model.md "Program manifest"): what a loader agrees to
 * run, signed by the CI key (Ed25519, RFC 8032, through OpenSSL).
 *
 * Manifest: a JSON object with exactly these members
 *   {"v": 1, "name": NAME, "model": {"vocab", "d_model", "n_layers",
 *    "n_heads", "d_ff", "max_seq"}, "weights_sha256": 64 lowercase hex,
 *    "max_new_tokens": N}
 * NAME as a key name ([A-Za-z0-9._-]{1,64}), the dims valid for
 * loader-ref/model.h, 1 <= N <= max_seq. ks_program_manifest_encode writes
 * the members in that order, compact.
 * Signed program: {"manifest": base64(manifest bytes), "signature":
 * base64(64-byte Ed25519 signature over the manifest bytes)}, exactly those
 * two members. The signature is checked over the decoded bytes before the
 * manifest is parsed.
 */

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "ks_error.h"
#include "model.h"
#include "sealed.h"

#define KS_PROGRAM_VERSION 1
/* Cap on a signed program file or a manifest. */
#define KS_PROGRAM_MAX (64 * 1024)
#define KS_PROGRAM_SIG_LEN 64

struct ks_program {
    char name[KS_SEAL_NAME_MAX + 1];
    struct ks_model_dims dims;
    uint8_t weights_sha256[32];
    uint32_t max_new_tokens;
};

/* The manifest JSON (NUL-terminated, *ret_len without the NUL).
 * KS_ERR_PROGRAM_FIELD if `p` is not valid, KS_ERR_NOMEM. */
KS_WUR int ks_program_manifest_encode(const struct ks_program *p, char **ret_json, size_t *ret_len);

/* Strict parse: KS_ERR_PROGRAM_JSON (not JSON, not an object, too large),
 * KS_ERR_PROGRAM_FIELD (a member missing, unknown, of the wrong type or out of
 * range; "v" other than 1). */
KS_WUR int ks_program_manifest_parse(const uint8_t *json, size_t len, struct ks_program *ret);

/* Sign: the signed-program JSON (NUL-terminated). KS_ERR_PROGRAM_KEY if
 * `ci_key` is not an Ed25519 private key, KS_ERR_PROGRAM_FIELD, KS_ERR_CRYPTO,
 * KS_ERR_NOMEM. */
KS_WUR int ks_program_sign(const struct ks_program *p, EVP_PKEY *ci_key, char **ret_signed,
                           size_t *ret_len);

/* Verify a signed program against the pinned CI public key and parse it.
 * KS_ERR_PROGRAM_JSON, KS_ERR_BASE64, KS_ERR_PROGRAM_SIGNATURE (also a
 * signature that is not 64 bytes), KS_ERR_PROGRAM_KEY, KS_ERR_PROGRAM_FIELD.
 * ret_manifest_sha256 (may be NULL) gets SHA-256 of the manifest bytes. */
KS_WUR int ks_program_verify(const uint8_t *signed_json, size_t len, EVP_PKEY *ci_pub,
                             struct ks_program *ret, uint8_t *ret_manifest_sha256);

/* PEM Ed25519 keys from files (KS_ERR_IO, KS_ERR_PROGRAM_KEY). */
KS_WUR int ks_program_load_public_key(const char *path, EVP_PKEY **ret);
KS_WUR int ks_program_load_private_key(const char *path, EVP_PKEY **ret);

#endif
