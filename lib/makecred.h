/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_MAKECRED_H
#define KS_MAKECRED_H

/*
 * TPM2_MakeCredential done in software (the keyserver's side of AK
 * enrollment), and the inverse with a software private key (tests and
 * cross-checks with other tools):
 *
 *   - KDFa and KDFe (TPM 2.0 Part 1, 11.4.10.2 and 11.4.10.3);
 *   - the "secret sharing" of a seed with a public key: RSA-OAEP with the
 *     label as OAEP label (Part 1, annex B.10.3) or one-pass ECDH with an
 *     ephemeral key and KDFe (annex C.6.1), label "IDENTITY" for credentials;
 *   - credential protection (Part 1, 24.4 and 24.5): symKey =
 *     KDFa(nameAlg, seed, "STORAGE", Name, -, keyBits), encIdentity =
 *     AES-CFB(symKey, IV 0, TPM2B_DIGEST credential), HMACkey =
 *     KDFa(nameAlg, seed, "INTEGRITY", -, -, digest bits), outerHMAC =
 *     HMAC(HMACkey, encIdentity || Name); the TPM2B_ID_OBJECT holds
 *     TPM2B_DIGEST(outerHMAC) || encIdentity (Part 3, 12.6).
 *
 * nameAlg and the symmetric definition are the EK's (the object that
 * ActivateCredential's keyHandle names). Supported EKs: what
 * ks_tpm_public_to_evp() accepts (RSA 2048/3072, ECC P-256/P-384), restricted
 * decryption keys with an AES-CFB symmetric definition.
 */

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "ks_error.h"
#include "tpm_alg.h"

/* Longest KDF output accepted (bytes). */
#define KS_KDF_MAX_BYTES 4096

/* Seeds are the size of a digest of nameAlg. */
#define KS_CRED_SEED_MAX KS_MAX_DIGEST

/* The labels of TPM 2.0 Part 1, 24 (credentials). */
#define KS_CRED_LABEL_IDENTITY "IDENTITY"

/* Magic and version of tpm2-tools' credential file (tpm2_makecredential -o,
 * tpm2_activatecredential -i). */
#define KS_CRED_FILE_MAGIC 0xBADCC0DEu
#define KS_CRED_FILE_VERSION 1u

/*
 * KDFa (Part 1, 11.4.10.2; NIST SP 800-108 counter mode with HMAC):
 *   K(i) = HMAC(key, [i]32 || label || 0x00 || contextU || contextV || [bits]32)
 * concatenated and cut to `bits` bits; when bits is not a multiple of 8 the
 * unused high bits of the first byte are cleared. `label` without its NUL;
 * NULL contexts are empty. ret must hold (bits + 7) / 8 bytes.
 * KS_ERR_TPM_ALG (hash), KS_ERR_INVALID_ARG (bits 0 or over
 * 8 * KS_KDF_MAX_BYTES), KS_ERR_CRYPTO.
 */
KS_WUR int ks_kdfa(uint16_t hash_alg, const uint8_t *key, size_t key_len, const char *label,
                   const uint8_t *context_u, size_t context_u_len, const uint8_t *context_v,
                   size_t context_v_len, uint32_t bits, uint8_t *ret);

/*
 * KDFe (Part 1, 11.4.10.3; NIST SP 800-56A concatenation KDF):
 *   K(i) = H([i]32 || Z || label || 0x00 || partyUInfo || partyVInfo)
 * cut to `bits` like ks_kdfa. Same errors.
 */
KS_WUR int ks_kdfe(uint16_t hash_alg, const uint8_t *z, size_t z_len, const char *label,
                   const uint8_t *party_u, size_t party_u_len, const uint8_t *party_v,
                   size_t party_v_len, uint32_t bits, uint8_t *ret);

/*
 * Check that `key` can receive a credential: a supported RSA or ECC key, a
 * supported nameAlg, restricted and decrypt set, sign clear, and an AES
 * symmetric definition in CFB mode. KS_ERR_TPM_KEY, KS_ERR_TPM_ALG,
 * KS_ERR_TPM_ATTRIBUTES.
 */
KS_WUR int ks_cred_check_key(const TPMT_PUBLIC *key);

/*
 * Share a fresh seed with the holder of `key`'s private part (Part 1,
 * annex B.10.3 / C.6.1): the seed (digest size of key's nameAlg) and the
 * TPM2B_ENCRYPTED_SECRET (OAEP ciphertext, or the marshaled TPMS_ECC_POINT of
 * the ephemeral key). `ephemeral`: ECC only, the ephemeral key pair to use
 * (published test vectors); NULL makes a fresh one. ret_seed holds
 * KS_CRED_SEED_MAX bytes. KS_ERR_TPM_KEY, KS_ERR_TPM_ALG, KS_ERR_CRYPTO.
 */
KS_WUR int ks_cred_seed_encaps(const TPMT_PUBLIC *key, const char *label, EVP_PKEY *ephemeral,
                               uint8_t *ret_seed, size_t *ret_seed_len,
                               TPM2B_ENCRYPTED_SECRET *ret_enc);

/* The inverse with the private key `priv` of `key`. KS_ERR_CRED_MALFORMED
 * when `enc` does not decrypt or decode (wrong key, tampered). */
KS_WUR int ks_cred_seed_decaps(const TPMT_PUBLIC *key, EVP_PKEY *priv, const char *label,
                               const TPM2B_ENCRYPTED_SECRET *enc, uint8_t *ret_seed,
                               size_t *ret_seed_len);

/*
 * Credential protection with a given seed (Part 1, 24.4-24.5): the
 * TPM2B_ID_OBJECT for `secret` (1 .. digest size of ek's nameAlg bytes)
 * bound to the object Name `name`. Deterministic. KS_ERR_INVALID_ARG,
 * KS_ERR_TPM_KEY, KS_ERR_TPM_ALG, KS_ERR_CRYPTO.
 */
KS_WUR int ks_cred_wrap(const TPMT_PUBLIC *ek, const uint8_t *name, size_t name_len,
                        const uint8_t *secret, size_t secret_len, const uint8_t *seed,
                        size_t seed_len, TPM2B_ID_OBJECT *ret_blob);

/* The inverse: KS_ERR_CRED_INTEGRITY when the HMAC does not verify (another
 * seed, Name or a tampered blob), KS_ERR_CRED_MALFORMED when the blob does
 * not decode. ret_secret holds KS_MAX_DIGEST bytes. */
KS_WUR int ks_cred_unwrap(const TPMT_PUBLIC *ek, const uint8_t *name, size_t name_len,
                          const TPM2B_ID_OBJECT *blob, const uint8_t *seed, size_t seed_len,
                          uint8_t *ret_secret, size_t *ret_secret_len);

/*
 * TPM2_MakeCredential (Part 3, 12.6) to `ek` for the object Name `name`:
 * ks_cred_check_key, a fresh seed, ks_cred_wrap. What the TPM holding `ek`
 * accepts in TPM2_ActivateCredential, releasing `secret` only if the object
 * it names as activateHandle has exactly this Name.
 */
KS_WUR int ks_makecredential(const TPMT_PUBLIC *ek, const uint8_t *name, size_t name_len,
                             const uint8_t *secret, size_t secret_len, TPM2B_ID_OBJECT *ret_blob,
                             TPM2B_ENCRYPTED_SECRET *ret_enc);

/* TPM2_ActivateCredential in software, with `ek`'s private key. */
KS_WUR int ks_activatecredential_soft(const TPMT_PUBLIC *ek, EVP_PKEY *ek_priv, const uint8_t *name,
                                      size_t name_len, const TPM2B_ID_OBJECT *blob,
                                      const TPM2B_ENCRYPTED_SECRET *enc, uint8_t *ret_secret,
                                      size_t *ret_secret_len);

/* Marshaled TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET (size-prefixed, as
 * the protocol carries them): strict decode (the whole buffer, nothing
 * after) and encode (newly allocated). KS_ERR_TPM_UNMARSHAL,
 * KS_ERR_TPM_TRAILING. */
KS_WUR int ks_cred_blob_decode(const uint8_t *buf, size_t len, TPM2B_ID_OBJECT *ret);
KS_WUR int ks_cred_secret_decode(const uint8_t *buf, size_t len, TPM2B_ENCRYPTED_SECRET *ret);
KS_WUR int ks_cred_blob_encode(const TPM2B_ID_OBJECT *blob, uint8_t **ret, size_t *ret_len);
KS_WUR int ks_cred_secret_encode(const TPM2B_ENCRYPTED_SECRET *enc, uint8_t **ret, size_t *ret_len);

/* tpm2-tools' credential file: u32be KS_CRED_FILE_MAGIC, u32be
 * KS_CRED_FILE_VERSION, TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET.
 * KS_ERR_CRED_MALFORMED for another magic or version. */
KS_WUR int ks_cred_file_decode(const uint8_t *buf, size_t len, TPM2B_ID_OBJECT *ret_blob,
                               TPM2B_ENCRYPTED_SECRET *ret_enc);
KS_WUR int ks_cred_file_encode(const TPM2B_ID_OBJECT *blob, const TPM2B_ENCRYPTED_SECRET *enc,
                               uint8_t **ret, size_t *ret_len);

#endif
