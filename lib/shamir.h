/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_SHAMIR_H
#define KS_SHAMIR_H

/*
 * Shamir's secret sharing over GF(2^8) (the AES field, x^8 + x^4 + x^3 + x
 * + 1), byte by byte: a k-of-n split of a key lets independent keyservers
 * each hold one share, so that no single operator can release the key
 * (DESIGN "Scale and independence"). Share i is the value at x = i of a
 * random polynomial of degree k - 1 whose constant term is the secret byte;
 * any k shares give the secret by Lagrange interpolation at 0, and k - 1
 * shares say nothing about it.
 *
 * Field arithmetic is branch-free and table-free (no secret-dependent
 * memory access or branch). Share values are secret: wipe them with
 * OPENSSL_cleanse() (struct included) once used.
 */

#include <stddef.h>
#include <stdint.h>

#include "ks_error.h"

#define KS_SHAMIR_SECRET_MAX 64
#define KS_SHAMIR_SHARES_MAX 255

struct ks_shamir_share {
    uint8_t index;     /* x-coordinate, 1..count */
    uint8_t threshold; /* k: shares needed */
    uint8_t count;     /* n: shares made */
    size_t len;        /* secret length, 1..KS_SHAMIR_SECRET_MAX */
    uint8_t y[KS_SHAMIR_SECRET_MAX];
};

/* Split `len` bytes into `count` shares (index 1..count) of which any
 * `threshold` recover the secret; random coefficients from RAND_priv_bytes.
 * ret_shares has room for `count` shares. KS_ERR_SHAMIR_PARAMS when not
 * 1 <= threshold <= count <= 255 or len is not 1..64, KS_ERR_CRYPTO when the
 * RNG fails. Nothing is written on failure. */
KS_WUR int ks_shamir_split(const uint8_t *secret, size_t len, unsigned threshold, unsigned count,
                           struct ks_shamir_share *ret_shares);

/* Recover the secret from n_shares shares, using the first `threshold` of
 * them. All must agree on threshold, count and len (KS_ERR_SHAMIR_MISMATCH),
 * have distinct indexes in 1..count (KS_ERR_SHAMIR_INDEX), and there must be
 * at least threshold of them (KS_ERR_SHAMIR_TOO_FEW). secret_len must be the
 * shares' len (KS_ERR_SHAMIR_MISMATCH). Nothing is written on failure.
 * Shares from a wrong split of the same shape give a wrong secret: the
 * caller checks the result (the loader: the sealed file's authentication). */
KS_WUR int ks_shamir_combine(const struct ks_shamir_share *shares, size_t n_shares,
                             uint8_t *ret_secret, size_t secret_len);

#endif
