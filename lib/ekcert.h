/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_EKCERT_H
#define KS_EKCERT_H

/*
 * Endorsement key certificates (TCG EK Credential Profile for TPM Family
 * 2.0): parsing (from the protocol, from a file, from the TPM's NV
 * indexes), path validation against the EK CAs an admin trusts, with CRLs,
 * and the check that the certificate certifies the EK public area presented.
 *
 * Trust anchors are exactly the CA certificates added to a struct
 * ks_ekca_store (the keyserver's database: `ksctl ekca add`); no system
 * store is consulted. Every such CA is an anchor even when it is not
 * self-signed (X509_V_FLAG_PARTIAL_CHAIN): TPM vendors' intermediates often
 * name a root that is published only cross-signed (Infineon) or not at all,
 * and the admin who added an intermediate chose to trust it. The EK
 * certificate itself is never an anchor: the verified chain has at least
 * one CA above it.
 *
 * TPM quirks handled without weakening the checks: the critical Subject
 * Alternative Name with a directoryName of TPM manufacturer attributes
 * (OpenSSL understands SAN); EK certificates without keyUsage or with
 * keyAgreement/keyEncipherment only (no purpose is checked: an EK is not a
 * TLS key); critical extensions OpenSSL does not know are accepted only
 * when they are the TPM-specific ones of the profile (subjectDirectoryAttributes
 * 2.5.29.9 with the TPM specification, OIDs under tcg 2.23.133) instead of
 * setting X509_V_FLAG_IGNORE_CRITICAL, which would accept anything.
 * A CRL past its nextUpdate is still applied (the revocations it lists stay
 * true) rather than failing every enrollment until the admin refreshes it.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>
#include <tss2/tss2_tpm2_types.h>

#include "ks_error.h"

/* NV indexes of EK certificates (TCG EK Credential Profile 2.x, 2.2.1.5;
 * TCG PC Client Platform TPM Profile): low range RSA 2048 and ECC P-256,
 * high range ECC P-384. */
#define KS_EKCERT_NV_RSA2048 0x01c00002u
#define KS_EKCERT_NV_ECC_P256 0x01c0000au
#define KS_EKCERT_NV_ECC_P384 0x01c00016u

/* Largest certificate or CRL accepted (DER bytes). */
#define KS_EKCERT_MAX_DER (64 * 1024)
/* Most certificates one PEM file may hold (ksctl ekca add). */
#define KS_EKCERT_MAX_BUNDLE 64
/* Longest chain considered (EK certificate included). */
#define KS_EKCERT_MAX_CHAIN 8
/* Reason texts. */
#define KS_EKCERT_REASON_MAX 256

struct ks_ekcert;
struct ks_ekca_store;

/* Parse exactly one DER certificate, nothing after it.
 * KS_ERR_EKCERT_PARSE, KS_ERR_TOO_LARGE. */
KS_WUR int ks_ekcert_parse(const uint8_t *der, size_t len, struct ks_ekcert **ret);

/* Parse the contents of an EK certificate NV index: one DER certificate
 * followed by nothing or by padding (all 0x00 or all 0xFF bytes), which TPM
 * vendors leave after it. *ret_der_len is the certificate's own length. */
KS_WUR int ks_ekcert_parse_nv(const uint8_t *buf, size_t len, struct ks_ekcert **ret,
                              size_t *ret_der_len);

/* Parse a file's contents: one DER certificate, or one or more PEM
 * certificates (at most KS_EKCERT_MAX_BUNDLE). *ret is an array of *ret_n
 * certificates; free with ks_ekcert_free_array. */
KS_WUR int ks_ekcert_parse_file(const uint8_t *buf, size_t len, struct ks_ekcert ***ret,
                                size_t *ret_n);

void ks_ekcert_free(struct ks_ekcert *cert);
void ks_ekcert_free_array(struct ks_ekcert **certs, size_t n);

/* The certificate (owned by cert) and its DER encoding (newly allocated). */
X509 *ks_ekcert_x509(const struct ks_ekcert *cert);
KS_WUR int ks_ekcert_der(const struct ks_ekcert *cert, uint8_t **ret, size_t *ret_len);

struct ks_ekcert_info {
    char subject[KS_EKCERT_REASON_MAX]; /* RFC 2253, truncated */
    char issuer[KS_EKCERT_REASON_MAX];
    char serial[2 * 20 + 1];       /* lowercase hex, "" when longer than 20 bytes */
    int64_t not_before, not_after; /* Unix seconds */
    uint8_t sha256[32];            /* fingerprint of the DER */
    bool is_ca;                    /* basicConstraints cA, or a v1 self-signed root */
    bool self_signed;
};

KS_WUR int ks_ekcert_info(const struct ks_ekcert *cert, struct ks_ekcert_info *ret);

/* KS_OK when the certificate's subject public key is the key of the EK
 * public area (EVP_PKEY_eq), KS_ERR_EKCERT_KEY_MISMATCH when not, another
 * error when the EK is not a supported key. */
KS_WUR int ks_ekcert_check_key(const struct ks_ekcert *cert, const TPMT_PUBLIC *ek);

/* ---- trust store ---------------------------------------------------------- */

KS_WUR int ks_ekca_store_new(struct ks_ekca_store **ret);
void ks_ekca_store_free(struct ks_ekca_store *st);

/* Add a trusted CA (DER) with the caller's id for it (the database row).
 * KS_ERR_EKCERT_PARSE, KS_ERR_INVALID_ARG when it is not a CA certificate. */
KS_WUR int ks_ekca_store_add_ca(struct ks_ekca_store *st, const uint8_t *der, size_t len,
                                int64_t id);

/* Add a CRL (DER or PEM). KS_ERR_EKCERT_PARSE. */
KS_WUR int ks_ekca_store_add_crl(struct ks_ekca_store *st, const uint8_t *crl, size_t len);

struct ks_ekcert_verdict {
    /* ids of the store's CAs in the verified chain, nearest the EK first */
    int64_t ca_ids[KS_EKCERT_MAX_CHAIN];
    size_t n_ca;
    char reason[KS_EKCERT_REASON_MAX]; /* why it failed; "" on success */
};

/*
 * Validate the certificate's path to a CA of the store at time `at` (Unix
 * seconds; 0: now): signatures, validity periods, CRLs where the store has
 * one for an issuer, CA constraints. KS_ERR_EKCERT_UNTRUSTED,
 * KS_ERR_EKCERT_EXPIRED, KS_ERR_EKCERT_NOT_YET_VALID, KS_ERR_EKCERT_REVOKED,
 * each with ret->reason set (the one exception to "outputs untouched on
 * failure").
 */
KS_WUR int ks_ekcert_verify(const struct ks_ekca_store *st, const struct ks_ekcert *cert,
                            int64_t at, struct ks_ekcert_verdict *ret);

/* ---- CRLs ----------------------------------------------------------------- */

struct ks_ekcrl_info {
    char issuer[KS_EKCERT_REASON_MAX];
    int64_t this_update, next_update; /* next_update 0 when absent */
    size_t n_revoked;
};

/* Parse a CRL (DER or PEM) and check that `ca` issued it (name and
 * signature). The DER encoding is returned for storage. KS_ERR_EKCERT_PARSE,
 * KS_ERR_EKCERT_UNTRUSTED when `ca` did not sign it. */
KS_WUR int ks_ekcrl_check(const uint8_t *buf, size_t len, const struct ks_ekcert *ca,
                          struct ks_ekcrl_info *ret_info, uint8_t **ret_der, size_t *ret_der_len);

/* Does the CRL (DER or PEM) list `cert` (same issuer name, serial listed)?
 * true/false in *ret. KS_ERR_EKCERT_PARSE. */
KS_WUR int ks_ekcrl_lists(const uint8_t *crl, size_t len, const struct ks_ekcert *cert, bool *ret);

#endif
