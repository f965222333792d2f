/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_HPKE_H
#define KS_HPKE_H

/*
 * Hybrid Public Key Encryption, RFC 9180, on OpenSSL 3.0 EVP primitives
 * (OpenSSL's own OSSL_HPKE_* API only arrived in 3.2).
 *
 * Supported: KEM DHKEM(X25519, HKDF-SHA256) (0x0020), KDF HKDF-SHA256
 * (0x0001), AEAD AES-128-GCM (0x0001), AES-256-GCM (0x0002) and export-only
 * (0xFFFF); modes base (0x00) and psk (0x01). The auth modes are not
 * implemented. The keyserver protocol uses KS_HPKE_SUITE_DEFAULT in base mode
 * plus the secret export interface (RFC 9180 section 5.3).
 *
 * Keys are raw 32-byte X25519 strings (RFC 9180 section 7.1.1,
 * SerializePublicKey / SerializePrivateKey).
 */

#include <stddef.h>
#include <stdint.h>

#include "ks_error.h"

/* RFC 9180 section 7: algorithm identifiers. */
#define KS_HPKE_KEM_X25519_SHA256 0x0020
#define KS_HPKE_KDF_HKDF_SHA256 0x0001
#define KS_HPKE_AEAD_AES_128_GCM 0x0001
#define KS_HPKE_AEAD_AES_256_GCM 0x0002
#define KS_HPKE_AEAD_EXPORT_ONLY 0xFFFF

/* RFC 9180 section 5: modes. */
#define KS_HPKE_MODE_BASE 0x00
#define KS_HPKE_MODE_PSK 0x01

/* Sizes for DHKEM(X25519, HKDF-SHA256) with HKDF-SHA256 (Nsk, Npk, Nenc, Nh)
 * and the AES-GCM tag (Nt). */
#define KS_HPKE_SK_LEN 32
#define KS_HPKE_PK_LEN 32
#define KS_HPKE_ENC_LEN 32
#define KS_HPKE_TAG_LEN 16
#define KS_HPKE_NH 32

/* RFC 9180 section 5.3: Export() length is at most 255 * Nh. */
#define KS_HPKE_MAX_EXPORT (255 * KS_HPKE_NH)

/* Cap on each of info, psk, psk_id, ikm and exporter_context (RFC 9180
 * section 7.2.1 asks for at least 64 bytes). Longer: KS_ERR_TOO_LARGE. */
#define KS_HPKE_MAX_INPUT 8192

/* Cap on the aad and plaintext of one message (EVP takes int lengths).
 * Longer: KS_ERR_TOO_LARGE. */
#define KS_HPKE_MAX_MESSAGE (1u << 30)

/* A cipher suite: the three RFC 9180 identifiers. */
struct ks_hpke_suite {
    uint16_t kem_id;
    uint16_t kdf_id;
    uint16_t aead_id;
};

/* The protocol's suite: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM. */
#define KS_HPKE_SUITE_DEFAULT                                                                      \
    ((struct ks_hpke_suite){KS_HPKE_KEM_X25519_SHA256, KS_HPKE_KDF_HKDF_SHA256,                    \
                            KS_HPKE_AEAD_AES_256_GCM})

/* Pre-shared key for mode psk (RFC 9180 section 5.1.2); pass NULL for mode
 * base. Both parts must be non-empty (VerifyPSKInputs) and psk must be at
 * least 32 bytes (it MUST carry 32 bytes of entropy). */
struct ks_hpke_psk {
    const uint8_t *psk;
    size_t psk_len;
    const uint8_t *psk_id;
    size_t psk_id_len;
};

/* An encryption context (RFC 9180 section 5.2): key, base_nonce, sequence
 * number, exporter_secret, and whether it seals (sender) or opens
 * (receiver). Opaque; not thread-safe. */
struct ks_hpke_ctx;

/* KS_OK if the suite is supported, else KS_ERR_UNSUPPORTED. */
KS_WUR int ks_hpke_suite_check(struct ks_hpke_suite suite);

/* GenerateKeyPair (RFC 9180 section 4): a random X25519 key pair. */
KS_WUR int ks_hpke_keygen(uint8_t ret_sk[KS_HPKE_SK_LEN], uint8_t ret_pk[KS_HPKE_PK_LEN]);

/* DeriveKeyPair (RFC 9180 section 7.1.3) for X25519. ikm must hold at least
 * Nsk = 32 bytes (the RFC's SHOULD, enforced) and at most KS_HPKE_MAX_INPUT. */
KS_WUR int ks_hpke_derive_keypair(struct ks_hpke_suite suite, const uint8_t *ikm, size_t ikm_len,
                                  uint8_t ret_sk[KS_HPKE_SK_LEN], uint8_t ret_pk[KS_HPKE_PK_LEN]);

/* The X25519 public key of a private key (RFC 7748 section 6.1). */
KS_WUR int ks_hpke_pk_from_sk(const uint8_t sk[KS_HPKE_SK_LEN], uint8_t ret_pk[KS_HPKE_PK_LEN]);

/* SetupBaseS / SetupPSKS (RFC 9180 sections 5.1.1, 5.1.2) with a fresh
 * random ephemeral key. psk NULL: mode base. KS_ERR_HPKE_KEY if pkR is a
 * low-order point (all-zero shared secret, RFC 9180 section 7.1.4). */
KS_WUR int ks_hpke_setup_sender(struct ks_hpke_suite suite, const uint8_t pkR[KS_HPKE_PK_LEN],
                                const uint8_t *info, size_t info_len, const struct ks_hpke_psk *psk,
                                uint8_t ret_enc[KS_HPKE_ENC_LEN], struct ks_hpke_ctx **ret_ctx);

/* The same with a given ephemeral private key skE, so that the RFC 9180
 * test vectors can be reproduced. An ephemeral key must never be used
 * twice: outside tests, call ks_hpke_setup_sender. */
KS_WUR int ks_hpke_setup_sender_eph(struct ks_hpke_suite suite, const uint8_t skE[KS_HPKE_SK_LEN],
                                    const uint8_t pkR[KS_HPKE_PK_LEN], const uint8_t *info,
                                    size_t info_len, const struct ks_hpke_psk *psk,
                                    uint8_t ret_enc[KS_HPKE_ENC_LEN], struct ks_hpke_ctx **ret_ctx);

/* SetupBaseR / SetupPSKR. KS_ERR_HPKE_KEY if enc is a low-order point. */
KS_WUR int ks_hpke_setup_receiver(struct ks_hpke_suite suite, const uint8_t skR[KS_HPKE_SK_LEN],
                                  const uint8_t enc[KS_HPKE_ENC_LEN], const uint8_t *info,
                                  size_t info_len, const struct ks_hpke_psk *psk,
                                  struct ks_hpke_ctx **ret_ctx);

/* Context.Seal (RFC 9180 section 5.2), sender contexts only. Writes
 * pt_len + KS_HPKE_TAG_LEN bytes to ret_ct, which holds ct_size bytes.
 * aad/pt may be NULL when their length is 0. Each call uses the next
 * sequence number; KS_ERR_HPKE_SEQ once it is exhausted. KS_ERR_UNSUPPORTED
 * for the export-only AEAD. */
KS_WUR int ks_hpke_seal(struct ks_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
                        const uint8_t *pt, size_t pt_len, uint8_t *ret_ct, size_t ct_size,
                        size_t *ret_ct_len);

/* Context.Open, receiver contexts only. ret_pt holds pt_size >= ct_len -
 * KS_HPKE_TAG_LEN bytes. On any authentication failure returns
 * KS_ERR_HPKE_OPEN, writes nothing to ret_pt and does not advance the
 * sequence number. */
KS_WUR int ks_hpke_open(struct ks_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
                        const uint8_t *ct, size_t ct_len, uint8_t *ret_pt, size_t pt_size,
                        size_t *ret_pt_len);

/* Context.Export (RFC 9180 section 5.3): L bytes of secret derived from the
 * exporter secret and exporter_context. 1 <= L <= KS_HPKE_MAX_EXPORT, else
 * KS_ERR_HPKE_EXPORT. Works on sender and receiver contexts alike. */
KS_WUR int ks_hpke_export(const struct ks_hpke_ctx *ctx, const uint8_t *exporter_context,
                          size_t exporter_context_len, size_t L, uint8_t *ret);

/* Wipes key, base_nonce and exporter_secret, then frees. NULL is a no-op. */
void ks_hpke_ctx_free(struct ks_hpke_ctx *ctx);

/* Single-shot base mode (RFC 9180 section 6.1): SetupBaseS + one Seal.
 * ret_ct holds ct_size >= pt_len + KS_HPKE_TAG_LEN bytes. */
KS_WUR int ks_hpke_seal_base(struct ks_hpke_suite suite, const uint8_t pkR[KS_HPKE_PK_LEN],
                             const uint8_t *info, size_t info_len, const uint8_t *aad,
                             size_t aad_len, const uint8_t *pt, size_t pt_len,
                             uint8_t ret_enc[KS_HPKE_ENC_LEN], uint8_t *ret_ct, size_t ct_size,
                             size_t *ret_ct_len);

/* SetupBaseR + one Open. ret_pt holds pt_size >= ct_len - KS_HPKE_TAG_LEN
 * bytes; nothing is written to it unless the ciphertext authenticates. */
KS_WUR int ks_hpke_open_base(struct ks_hpke_suite suite, const uint8_t skR[KS_HPKE_SK_LEN],
                             const uint8_t enc[KS_HPKE_ENC_LEN], const uint8_t *info,
                             size_t info_len, const uint8_t *aad, size_t aad_len, const uint8_t *ct,
                             size_t ct_len, uint8_t *ret_pt, size_t pt_size, size_t *ret_pt_len);

/* TESTS ONLY: set the next sequence number, so that the overflow check can
 * be exercised. Any other use reuses nonces and breaks confidentiality. */
KS_WUR int ks_hpke_ctx_set_seq_for_testing(struct ks_hpke_ctx *ctx, uint64_t seq);

#endif
