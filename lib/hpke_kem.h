/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_HPKE_KEM_H
#define KS_HPKE_KEM_H

/*
 * Internal to the HPKE module (lib/hpke.c, lib/hpke_kem.c); not for other
 * modules: the labeled KDF of RFC 9180 section 4 and the
 * DHKEM(X25519, HKDF-SHA256) of section 4.1, shared by the KEM and the key
 * schedule. Callers use hpke.h.
 */

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "hpke.h"

/* Nsecret of DHKEM(X25519, HKDF-SHA256) (RFC 9180 section 7.1). */
#define KS_HPKE_NSECRET 32

/* Longest suite_id: "HPKE" || kem_id || kdf_id || aead_id (section 5.1). */
#define KS_HPKE_MAX_SUITE_ID_LEN 10

/* HKDF-SHA256 bound to one suite_id: the domain of LabeledExtract and
 * LabeledExpand (section 4), the KEM's own ("KEM" || kem_id) or the whole
 * suite's. */
struct ks_hpke_labeled_kdf {
    EVP_KDF *kdf; /* borrowed */
    uint8_t suite_id[KS_HPKE_MAX_SUITE_ID_LEN];
    size_t suite_id_len;
};

/* The EVP_KDF "HKDF" object; free with EVP_KDF_free. */
KS_WUR int ks_hpke_kdf_fetch(EVP_KDF **ret);

/* Binds kdf to the suite_id of the whole ciphersuite (section 5.1). */
void ks_hpke_labeled_kdf_suite(struct ks_hpke_labeled_kdf *lk, EVP_KDF *kdf,
                               struct ks_hpke_suite suite);

/* LabeledExtract(salt, label, ikm): Nh bytes into ret_prk. salt may be
 * NULL/0 (the empty salt) and ikm NULL/0. */
KS_WUR int ks_hpke_labeled_extract(const struct ks_hpke_labeled_kdf *lk, const uint8_t *salt,
                                   size_t salt_len, const char *label, const uint8_t *ikm,
                                   size_t ikm_len, uint8_t ret_prk[KS_HPKE_NH]);

/* LabeledExpand(prk, label, info, L), 1 <= L <= 255 * Nh. */
KS_WUR int ks_hpke_labeled_expand(const struct ks_hpke_labeled_kdf *lk,
                                  const uint8_t prk[KS_HPKE_NH], const char *label,
                                  const uint8_t *info, size_t info_len, uint8_t *ret, size_t L);

/* Encap(pkR) with the ephemeral key skE (NULL: a fresh one): shared_secret
 * and enc = pkE.
 * KS_ERR_HPKE_KEY for a low-order pkR. */
KS_WUR int ks_hpke_encap(EVP_KDF *kdf, const uint8_t skE[KS_HPKE_SK_LEN],
                         const uint8_t pkR[KS_HPKE_PK_LEN], uint8_t ret_ss[KS_HPKE_NSECRET],
                         uint8_t ret_enc[KS_HPKE_ENC_LEN]);

/* Decap(enc, skR). KS_ERR_HPKE_KEY for a low-order enc. */
KS_WUR int ks_hpke_decap(EVP_KDF *kdf, const uint8_t enc[KS_HPKE_ENC_LEN],
                         const uint8_t skR[KS_HPKE_SK_LEN], uint8_t ret_ss[KS_HPKE_NSECRET]);

#endif
