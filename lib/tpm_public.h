/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_TPM_PUBLIC_H
#define KS_TPM_PUBLIC_H

/*
 * TPM 2.0 public areas (TPM 2.0 Part 2, 12.2: TPMT_PUBLIC / TPM2B_PUBLIC):
 * strict decoding, conversion to OpenSSL keys, object Names (Part 1, 16)
 * and the attribute check for attestation keys.
 *
 * Supported keys: RSA 2048/3072 and ECC NIST P-256/P-384. Everything else is
 * KS_ERR_TPM_KEY.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "ks_error.h"
#include "tpm_alg.h"

/* Largest TPM Name of an object: nameAlg (2 bytes) || digest. */
#define KS_TPM_NAME_MAX (2 + KS_MAX_DIGEST)
/* Lowercase hex of the largest Name, with its NUL. */
#define KS_TPM_NAME_HEX_MAX (2 * KS_TPM_NAME_MAX + 1)

/*
 * Attributes an attestation key must have (Part 1, 25.2 / Part 2, 8.3):
 * a restricted signing key that cannot leave the TPM and whose private part
 * the TPM generated, and that cannot decrypt.
 */
#define KS_AK_ATTRS_REQUIRED                                                                       \
    (TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_FIXEDTPM |                    \
     TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN)
#define KS_AK_ATTRS_FORBIDDEN (TPMA_OBJECT_DECRYPT)

/* Decode a TPM2B_PUBLIC (size-prefixed). The whole buffer must be consumed
 * (KS_ERR_TPM_TRAILING) and the size prefix must match its contents exactly
 * (KS_ERR_TPM_UNMARSHAL). */
KS_WUR int ks_tpm_public_decode(const uint8_t *buf, size_t len, TPMT_PUBLIC *ret_pub);

/* Decode a bare marshaled TPMT_PUBLIC (no size prefix), same rules. */
KS_WUR int ks_tpm_public_decode_tpmt(const uint8_t *buf, size_t len, TPMT_PUBLIC *ret_pub);

/* Convert the key of a public area to an OpenSSL public key (RSA 2048/3072
 * with exponent 0 meaning 65537; ECC P-256/P-384 with the point checked to
 * be on the curve). KS_ERR_TPM_KEY for any other type, size, curve or an
 * invalid key. The caller frees *ret_pkey with EVP_PKEY_free(). */
KS_WUR int ks_tpm_public_to_evp(const TPMT_PUBLIC *pub, EVP_PKEY **ret_pkey);

/* Load a SubjectPublicKeyInfo public key, PEM ("-----BEGIN PUBLIC KEY-----")
 * or DER, restricted to the same key types and sizes as above
 * (KS_ERR_TPM_KEY otherwise, KS_ERR_TPM_UNMARSHAL when it does not parse). */
KS_WUR int ks_tpm_public_load_spki(const uint8_t *buf, size_t len, EVP_PKEY **ret_pkey);

/* Key types and sizes this module accepts (RSA 2048/3072, EC P-256/P-384):
 * KS_OK or KS_ERR_TPM_KEY. */
KS_WUR int ks_tpm_public_check_pkey(const EVP_PKEY *pkey);

/* TPM Name of the object: nameAlg (big-endian) || H_nameAlg(marshaled
 * TPMT_PUBLIC) (Part 1, 16). ret_name must hold KS_TPM_NAME_MAX bytes.
 * KS_ERR_TPM_ALG when nameAlg is not a supported hash. */
KS_WUR int ks_tpm_public_name(const TPMT_PUBLIC *pub, uint8_t *ret_name, size_t *ret_len);

/* The Name in lowercase hex (the AK id of the protocol). ret_hex must hold
 * KS_TPM_NAME_HEX_MAX bytes. */
KS_WUR int ks_tpm_public_name_hex(const TPMT_PUBLIC *pub, char *ret_hex);

/* KS_OK when the object's Name equals `name` (len bytes), KS_ERR_TPM_NAME
 * otherwise. */
KS_WUR int ks_tpm_public_check_name(const TPMT_PUBLIC *pub, const uint8_t *name, size_t len);

/* Attribute bits of the object that make it unacceptable as an attestation
 * key: required bits that are clear, and forbidden bits that are set.
 * 0 means acceptable. userWithAuth is not judged here. */
uint32_t ks_tpm_public_ak_attr_problems(const TPMT_PUBLIC *pub);

/* KS_OK when ks_tpm_public_ak_attr_problems() is 0, else
 * KS_ERR_TPM_ATTRIBUTES. */
KS_WUR int ks_tpm_public_check_ak(const TPMT_PUBLIC *pub);

/* Write the names of the TPMA_OBJECT bits in `attrs` (tpm2-tools spelling,
 * "fixedtpm|fixedparent|..."; unnamed bits as "0x..." ) into buf, always
 * NUL-terminated. Returns the length it needed (like snprintf). */
size_t ks_tpm_attr_names(uint32_t attrs, char *buf, size_t len);

/* KS_OK when pkey is the same public key as the public area's,
 * KS_ERR_TPM_KEY_MISMATCH when not (EVP_PKEY_eq), another error when the
 * public area cannot be converted. */
KS_WUR int ks_tpm_public_matches(const TPMT_PUBLIC *pub, const EVP_PKEY *pkey);

#endif
