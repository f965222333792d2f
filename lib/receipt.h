/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_RECEIPT_H
#define KS_RECEIPT_H

/*
 * Signed statements of a keyserver: release receipts and request-key
 * statements. The payload is opaque bytes here (JSON made by keyserverd);
 * the signature is ECDSA P-256 with SHA-256, DER-encoded, by the keyserver's
 * receipt key. Clients pin the receipt key's SubjectPublicKeyInfo (DER), as
 * /v1/info publishes it, and verify with ks_receipt_verify().
 */

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "ks_error.h"

/* Largest DER ECDSA P-256 signature (2 INTEGERs of up to 33 bytes). */
#define KS_RECEIPT_SIG_MAX 72

/* Sign `payload` with an ECDSA P-256 private key. ret_sig gets a new buffer
 * (free with OPENSSL_free). KS_ERR_TPM_KEY for a key of another type. */
KS_WUR int ks_receipt_sign(EVP_PKEY *key, const uint8_t *payload, size_t len, uint8_t **ret_sig,
                           size_t *ret_sig_len);

/* Verify a signature with the pinned key (SubjectPublicKeyInfo DER of a P-256
 * key). KS_OK, KS_ERR_RECEIPT_SIGNATURE when it does not verify,
 * KS_ERR_TPM_KEY when the pinned key is not a P-256 public key. */
KS_WUR int ks_receipt_verify(const uint8_t *spki, size_t spki_len, const uint8_t *payload,
                             size_t len, const uint8_t *sig, size_t sig_len);

#endif
