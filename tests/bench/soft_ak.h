/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_BENCH_SOFT_AK_H
#define KS_BENCH_SOFT_AK_H

/*
 * SOFTWARE ATTESTATION KEY, FOR THE BENCHMARK ONLY. NOT A TPM.
 *
 * A key pair held in this process's memory that makes quotes byte for byte
 * like a TPM's (TPM 2.0 Part 3, 18.4 TPM2_Quote): a TPMS_ATTEST of type
 * TPM_ST_ATTEST_QUOTE and a TPMT_SIGNATURE over SHA-256 of it. Its public
 * area claims the attributes of a TPM-resident restricted signing key
 * (fixedTPM, sensitiveDataOrigin...), which is a lie: whoever runs this code
 * holds the private key and can quote any PCR values. It exists so that
 * tests/bench/ks-bench can load keyserverd without a TPM being the
 * bottleneck. It lives under tests/bench/ and must never be linked into
 * keyserverd, ksctl or the loader.
 */

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "ks_error.h"
#include "pcr.h"
#include "quote.h"

enum ks_soft_ak_kind {
    KS_SOFT_AK_ECDSA_P256 = 1, /* TPM_ALG_ECC, NIST P-256, ECDSA-SHA256 */
    KS_SOFT_AK_RSA_2048 = 2,   /* TPM_ALG_RSA, 2048 bits, RSASSA-SHA256 */
};

/* Largest marshaled TPM2B_PUBLIC this module makes (RSA-2048: 280 bytes). */
#define KS_SOFT_AK_PUBLIC_MAX 512

struct ks_soft_ak;

/* A quote as a TPM returns it: the raw TPMS_ATTEST (the signed bytes, no
 * size prefix) and the marshaled TPMT_SIGNATURE. */
struct ks_soft_quote {
    uint8_t attest[KS_QUOTE_ATTEST_MAX];
    size_t attest_len;
    uint8_t sig[KS_QUOTE_SIG_MAX];
    size_t sig_len;
};

/* "ecdsa-p256", "rsa-2048", or NULL for an unknown kind. */
const char *ks_soft_ak_kind_name(enum ks_soft_ak_kind kind);

/* Generate a fresh key of `kind` and its public area: nameAlg SHA-256,
 * restricted|sign|fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth,
 * scheme ECDSA-SHA256 or RSASSA-SHA256 (Part 2, 12.2.4 / 12.2.3).
 * KS_ERR_INVALID_ARG for an unknown kind, KS_ERR_CRYPTO when OpenSSL fails. */
KS_WUR int ks_soft_ak_new(enum ks_soft_ak_kind kind, struct ks_soft_ak **ret_ak);

/* Wipes nothing secret-worthy beyond what EVP_PKEY_free does (a bench key).
 * NULL is a no-op. */
void ks_soft_ak_free(struct ks_soft_ak *ak);

/* The kind, or 0 for NULL. */
enum ks_soft_ak_kind ks_soft_ak_kind(const struct ks_soft_ak *ak);

/* The public area (TPMT_PUBLIC) the key claims, or NULL for NULL. */
const TPMT_PUBLIC *ks_soft_ak_public(const struct ks_soft_ak *ak);

/* The public area marshaled as a TPM2B_PUBLIC (Tss2_MU_TPM2B_PUBLIC_Marshal),
 * what `ksctl ak add --ak-pub` reads. KS_ERR_TOO_LARGE when `size` is too
 * small (nothing is written to ret_len then), KS_ERR_INVALID_ARG for NULLs. */
KS_WUR int ks_soft_ak_public_blob(const struct ks_soft_ak *ak, uint8_t *buf, size_t size,
                                  size_t *ret_len);

/* The AK id of the protocol: the TPM Name in lowercase hex. */
KS_WUR int ks_soft_ak_name_hex(const struct ks_soft_ak *ak, char ret_hex[KS_TPM_NAME_HEX_MAX]);

/*
 * Quote `sel` (one sha256 bank) over the values in `pcrs`: a TPMS_ATTEST
 * with magic TPM_GENERATED_VALUE, type TPM_ST_ATTEST_QUOTE, qualifiedSigner
 * the AK's Name, extraData `extra`, clockInfo (clock = milliseconds since
 * ks_soft_ak_new, resetCount 0, restartCount 0, safe), a fixed
 * firmwareVersion, and pcrDigest = SHA-256 of the selected values in
 * selection order (Part 3, 18.4.1); signed over SHA-256(attest).
 * Thread-safe: several threads may quote with one key at once.
 * KS_ERR_TOO_LARGE for extraData over 64 bytes, KS_ERR_QUOTE_PCR_SELECTION /
 * KS_ERR_QUOTE_PCR_MISSING from the digest computation, KS_ERR_CRYPTO when
 * signing fails, KS_ERR_INVALID_ARG for NULLs. ret is written on success only.
 */
KS_WUR int ks_soft_ak_quote(const struct ks_soft_ak *ak, const uint8_t *extra, size_t extra_len,
                            const TPML_PCR_SELECTION *sel, const struct ks_pcr_set *pcrs,
                            struct ks_soft_quote *ret);

#endif
