/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_BENCH_FLOOR_H
#define KS_BENCH_FLOOR_H

/*
 * The crypto floor of one release: the OpenSSL work no keyserver can avoid
 * for one POST /v1/release of the benchmark's shape, timed in a tight loop
 * in this process with every key, EVP_MD, EVP_CIPHER and EVP_KDF set up
 * once:
 *   - verify the quote's signature with the AK's cached EVP_PKEY
 *     (EVP_DigestVerify, SHA-256);
 *   - n_extends SHA-256 PCR extends H(PCR || digest) (the event log replay);
 *   - X25519 key generation and derivation (the HPKE encapsulation, RFC 9180
 *     section 4.1);
 *   - one HKDF-SHA256 and AES-256-GCM of 32 bytes (the key schedule and the
 *     wrapped key, RFC 9180 sections 5.1 and 5.2).
 * Times are CPU time of the calling thread, so that a busy machine slows
 * the loop down without inflating the figure.
 */

#include <stddef.h>

#include "ks_error.h"
#include "soft_ak.h"

struct ks_bench_floor {
    size_t iterations;
    double total_us;  /* all of the above, one iteration */
    double verify_us; /* the parts, timed alone */
    double extends_us;
    double x25519_us; /* keygen + derive */
    double hkdf_gcm_us;
};

/* Run each part alone, then the whole, for about `seconds` of CPU time in
 * all. KS_ERR_INVALID_ARG, KS_ERR_CRYPTO (including a signature that does
 * not verify: the loop must time the success path). */
KS_WUR int ks_bench_floor_measure(const struct ks_soft_ak *ak, size_t n_extends, double seconds,
                                  struct ks_bench_floor *ret);

#endif
