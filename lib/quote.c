/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "quote.h"
#include "tpm_alg.h"

struct ks_quote_ak {
    EVP_PKEY *pkey;
    bool has_pub;
    TPMT_PUBLIC pub;
};

int ks_quote_ak_new(const TPMT_PUBLIC *pub, EVP_PKEY *pkey, struct ks_quote_ak **ret_ak)
{
    if ((!pub && !pkey) || !ret_ak) {
        return KS_ERR_INVALID_ARG;
    }
    int r;
    struct ks_quote_ak *ak = calloc(1, sizeof(*ak));
    if (!ak) {
        return KS_ERR_NOMEM;
    }
    if (pkey) {
        r = ks_tpm_public_check_pkey(pkey);
        if (r < 0) {
            goto out;
        }
        if (pub) {
            r = ks_tpm_public_matches(pub, pkey);
            if (r == KS_ERR_TPM_KEY_MISMATCH) {
                r = KS_ERR_QUOTE_KEY_MISMATCH;
            }
            if (r < 0) {
                goto out;
            }
        }
        if (EVP_PKEY_up_ref(pkey) != 1) {
            r = KS_ERR_CRYPTO;
            goto out;
        }
        ak->pkey = pkey;
    } else {
        r = ks_tpm_public_to_evp(pub, &ak->pkey);
        if (r < 0) {
            goto out;
        }
    }
    if (pub) {
        ak->has_pub = true;
        ak->pub = *pub;
    }
    *ret_ak = ak;
    ak = NULL;
    r = KS_OK;
out:
    ks_quote_ak_free(ak);
    return r;
}

void ks_quote_ak_free(struct ks_quote_ak *ak)
{
    if (!ak) {
        return;
    }
    EVP_PKEY_free(ak->pkey);
    free(ak);
}

const TPMT_PUBLIC *ks_quote_ak_public(const struct ks_quote_ak *ak)
{
    return ak && ak->has_pub ? &ak->pub : NULL;
}

const char *ks_quote_sig_alg_name(uint16_t sig_alg)
{
    switch (sig_alg) {
    case TPM2_ALG_RSASSA:
        return "rsassa";
    case TPM2_ALG_RSAPSS:
        return "rsapss";
    case TPM2_ALG_ECDSA:
        return "ecdsa";
    default:
        return NULL;
    }
}

/* Step 1: the signature's scheme must fit the key type, use SHA-256 or
 * SHA-384, and equal the AK's own scheme when it has one (a restricted
 * signing key signs only with its scheme, Part 1, 25.2.2). */
static int check_scheme(const struct ks_quote_ak *ak, const TPMT_SIGNATURE *sig, uint16_t *ret_hash)
{
    int key_type = EVP_PKEY_get_base_id(ak->pkey);
    uint16_t hash;
    switch (sig->sigAlg) {
    case TPM2_ALG_RSASSA:
    case TPM2_ALG_RSAPSS:
        if (key_type != EVP_PKEY_RSA) {
            return KS_ERR_QUOTE_SIG_SCHEME;
        }
        /* rsassa and rsapss share TPMS_SIGNATURE_RSA. */
        hash = sig->signature.rsassa.hash;
        break;
    case TPM2_ALG_ECDSA:
        if (key_type != EVP_PKEY_EC) {
            return KS_ERR_QUOTE_SIG_SCHEME;
        }
        hash = sig->signature.ecdsa.hash;
        break;
    default:
        return KS_ERR_QUOTE_SIG_SCHEME;
    }
    if (hash != TPM2_ALG_SHA256 && hash != TPM2_ALG_SHA384) {
        return KS_ERR_QUOTE_SIG_SCHEME;
    }
    if (ak->has_pub) {
        const TPMT_PUBLIC *p = &ak->pub;
        uint16_t scheme = TPM2_ALG_NULL;
        uint16_t scheme_hash = TPM2_ALG_NULL;
        if (p->type == TPM2_ALG_RSA) {
            scheme = p->parameters.rsaDetail.scheme.scheme;
            scheme_hash = p->parameters.rsaDetail.scheme.details.anySig.hashAlg;
        } else if (p->type == TPM2_ALG_ECC) {
            scheme = p->parameters.eccDetail.scheme.scheme;
            scheme_hash = p->parameters.eccDetail.scheme.details.anySig.hashAlg;
        }
        if (scheme != TPM2_ALG_NULL && (scheme != sig->sigAlg || scheme_hash != hash)) {
            return KS_ERR_QUOTE_SIG_SCHEME;
        }
    }
    *ret_hash = hash;
    return KS_OK;
}

/* TPMS_SIGNATURE_ECDSA (r, s as unsigned big-endian, possibly with leading
 * zeros or shorter than the field) to a DER ECDSA-Sig-Value (RFC 3279, 2.2.3),
 * which is what OpenSSL verifies. */
static int ecdsa_to_der(const TPMS_SIGNATURE_ECDSA *e, uint8_t **ret_der, size_t *ret_len)
{
    int r = KS_ERR_NOMEM;
    BIGNUM *br = BN_bin2bn(e->signatureR.buffer, e->signatureR.size, NULL);
    BIGNUM *bs = BN_bin2bn(e->signatureS.buffer, e->signatureS.size, NULL);
    ECDSA_SIG *es = ECDSA_SIG_new();
    unsigned char *der = NULL;
    if (!br || !bs || !es) {
        goto out;
    }
    if (ECDSA_SIG_set0(es, br, bs) != 1) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    br = bs = NULL; /* owned by es now */
    int n = i2d_ECDSA_SIG(es, &der);
    if (n <= 0) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    *ret_der = der;
    *ret_len = (size_t)n;
    r = KS_OK;
out:
    BN_free(br);
    BN_free(bs);
    ECDSA_SIG_free(es);
    return r;
}

/* Step 2: verify the signature over the attest bytes (the TPM signs
 * H_scheme(attestationData), Part 3, 18.2). */
static int verify_signature(const struct ks_quote_ak *ak, const TPMT_SIGNATURE *sig, uint16_t hash,
                            const uint8_t *attest, size_t attest_len)
{
    int r = KS_ERR_QUOTE_SIG_INVALID;
    EVP_MD_CTX *mctx = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    uint8_t *der = NULL;
    const uint8_t *sbuf;
    size_t slen;

    if (sig->sigAlg == TPM2_ALG_ECDSA) {
        r = ecdsa_to_der(&sig->signature.ecdsa, &der, &slen);
        if (r < 0) {
            goto out;
        }
        r = KS_ERR_QUOTE_SIG_INVALID;
        sbuf = der;
    } else {
        sbuf = sig->signature.rsassa.sig.buffer;
        slen = sig->signature.rsassa.sig.size;
        /* A TPM's RSA signature is always the modulus length. */
        if (slen != (size_t)EVP_PKEY_get_size(ak->pkey)) {
            goto out;
        }
    }
    mctx = EVP_MD_CTX_new();
    if (!mctx) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    if (EVP_DigestVerifyInit(mctx, &pctx, ks_alg_md(hash), NULL, ak->pkey) != 1) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    if (sig->sigAlg == TPM2_ALG_RSAPSS) {
        /* MGF1 with the same hash (Part 1, B.7); the salt length differs
         * between TPMs (digest length or the maximum), so let OpenSSL
         * recover it from the encoding. */
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) != 1 ||
            EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, ks_alg_md(hash)) != 1) {
            r = KS_ERR_CRYPTO;
            goto out;
        }
    } else if (sig->sigAlg == TPM2_ALG_RSASSA) {
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
            r = KS_ERR_CRYPTO;
            goto out;
        }
    }
    if (EVP_DigestVerify(mctx, sbuf, slen, attest, attest_len) == 1) {
        r = KS_OK;
    }
out:
    if (r < 0) {
        /* A bad signature is an answer, not a library error to report. */
        ERR_clear_error();
    }
    OPENSSL_free(der);
    EVP_MD_CTX_free(mctx);
    return r;
}

static void info_from_attest(const TPMS_ATTEST *a, struct ks_quote_info *info)
{
    memset(info, 0, sizeof(*info));
    info->magic = a->magic;
    info->type = a->type;
    info->qualified_signer = a->qualifiedSigner;
    info->extra_data = a->extraData;
    info->clock = a->clockInfo.clock;
    info->reset_count = a->clockInfo.resetCount;
    info->restart_count = a->clockInfo.restartCount;
    info->safe = a->clockInfo.safe == TPM2_YES;
    info->firmware_version = a->firmwareVersion;
    if (a->type == TPM2_ST_ATTEST_QUOTE) {
        info->pcr_select = a->attested.quote.pcrSelect;
        info->pcr_digest = a->attested.quote.pcrDigest;
    }
}

int ks_quote_info_decode(const uint8_t *attest, size_t len, struct ks_quote_info *ret_info)
{
    if (!attest || !ret_info) {
        return KS_ERR_INVALID_ARG;
    }
    TPMS_ATTEST a;
    int r = ks_tpm_attest_decode(attest, len, &a);
    if (r < 0) {
        return r;
    }
    info_from_attest(&a, ret_info);
    return KS_OK;
}

int ks_quote_verify(const struct ks_quote_ak *ak, const uint8_t *attest, size_t attest_len,
                    const uint8_t *sig, size_t sig_len, const uint8_t *expected_extra,
                    size_t expected_extra_len, const struct ks_pcr_set *pcrs,
                    struct ks_quote_info *ret_info)
{
    if (!ak || !attest || !sig || (!expected_extra && expected_extra_len)) {
        return KS_ERR_INVALID_ARG;
    }
    if (attest_len > KS_QUOTE_ATTEST_MAX || sig_len > KS_QUOTE_SIG_MAX) {
        return KS_ERR_TOO_LARGE;
    }

    /* 1. Signature structure and scheme. */
    TPMT_SIGNATURE s;
    if (ks_tpm_signature_decode(sig, sig_len, &s) < 0) {
        return KS_ERR_QUOTE_SIG_MALFORMED;
    }
    uint16_t hash = 0;
    int r = check_scheme(ak, &s, &hash);
    if (r < 0) {
        return r;
    }

    /* 2. Signature over the attest bytes, before anything of them is read. */
    r = verify_signature(ak, &s, hash, attest, attest_len);
    if (r < 0) {
        return r;
    }

    /* 3. The TPM made it (magic, Part 2, 6.2) and it is a quote. */
    TPMS_ATTEST a;
    r = ks_tpm_attest_decode(attest, attest_len, &a);
    if (r < 0) {
        return r;
    }
    if (a.magic != TPM2_GENERATED_VALUE) {
        return KS_ERR_QUOTE_MAGIC;
    }
    if (a.type != TPM2_ST_ATTEST_QUOTE) {
        return KS_ERR_QUOTE_TYPE;
    }

    /* 4. Freshness and binding: extraData is the caller's qualifying data. */
    if (a.extraData.size != expected_extra_len ||
        (expected_extra_len &&
         CRYPTO_memcmp(a.extraData.buffer, expected_extra, expected_extra_len) != 0)) {
        return KS_ERR_QUOTE_EXTRADATA;
    }

    struct ks_quote_info info;
    info_from_attest(&a, &info);
    info.sig_alg = s.sigAlg;
    info.sig_hash = hash;

    /* 5. PCR selection (a TPM never signs an invalid one; checked even
     * without values, since callers read it for policy), then the values. */
    r = ks_pcr_selection_validate(&info.pcr_select);
    if (r < 0) {
        return r;
    }
    if (pcrs) {
        r = ks_quote_check_pcrs(&info, pcrs);
        if (r < 0) {
            return r;
        }
    }
    if (ret_info) {
        *ret_info = info;
    }
    return KS_OK;
}

int ks_quote_pcr_digest(const TPML_PCR_SELECTION *sel, const struct ks_pcr_set *pcrs, uint16_t alg,
                        uint8_t *ret, size_t *ret_len)
{
    if (!sel || !pcrs || !ret || !ret_len) {
        return KS_ERR_INVALID_ARG;
    }
    const EVP_MD *md = ks_alg_md(alg);
    if (!md) {
        return KS_ERR_TPM_ALG;
    }
    int r = ks_pcr_selection_validate(sel);
    if (r < 0) {
        return r;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) {
        return KS_ERR_NOMEM;
    }
    r = KS_ERR_CRYPTO;
    if (EVP_DigestInit_ex(ctx, md, NULL) != 1) {
        goto out;
    }
    /* Part 3, 18.4.1 (TPM2_Quote) via PCRComputeCurrentDigest: banks in
     * the order of the list, PCRs in ascending order within a bank. */
    for (uint32_t i = 0; i < sel->count; i++) {
        const TPMS_PCR_SELECTION *s = &sel->pcrSelections[i];
        uint32_t mask = ks_pcr_selection_mask(s);
        size_t dlen = ks_alg_digest_size(s->hash);
        for (unsigned p = 0; p < KS_PCR_COUNT; p++) {
            if (!(mask & (1u << p))) {
                continue;
            }
            const uint8_t *v = NULL;
            if (ks_pcr_set_get(pcrs, s->hash, p, &v) < 0) {
                r = KS_ERR_QUOTE_PCR_MISSING;
                goto out;
            }
            if (EVP_DigestUpdate(ctx, v, dlen) != 1) {
                goto out;
            }
        }
    }
    if (EVP_DigestFinal_ex(ctx, ret, NULL) != 1) {
        goto out;
    }
    *ret_len = ks_alg_digest_size(alg);
    r = KS_OK;
out:
    EVP_MD_CTX_free(ctx);
    return r;
}

int ks_quote_check_pcrs(struct ks_quote_info *info, const struct ks_pcr_set *pcrs)
{
    if (!info || !pcrs) {
        return KS_ERR_INVALID_ARG;
    }
    uint8_t digest[KS_MAX_DIGEST];
    size_t dlen = 0;
    int r = ks_quote_pcr_digest(&info->pcr_select, pcrs, info->sig_hash, digest, &dlen);
    if (r < 0) {
        return r;
    }
    /* The supplied values must be exactly the quoted ones: a value the
     * quote does not cover must not reach a policy as if it were attested. */
    for (int b = 0; b < KS_MAX_BANKS; b++) {
        const struct ks_pcr_bank *bank = &pcrs->bank[b];
        if (bank->alg == 0 || bank->present == 0) {
            continue;
        }
        uint32_t want = 0;
        for (uint32_t i = 0; i < info->pcr_select.count; i++) {
            if (info->pcr_select.pcrSelections[i].hash == bank->alg) {
                want = ks_pcr_selection_mask(&info->pcr_select.pcrSelections[i]);
            }
        }
        if (bank->present != want) {
            return KS_ERR_QUOTE_PCR_MISSING;
        }
    }
    if (info->pcr_digest.size != dlen ||
        CRYPTO_memcmp(info->pcr_digest.buffer, digest, dlen) != 0) {
        return KS_ERR_QUOTE_PCR_DIGEST;
    }
    info->pcr_digest_checked = true;
    return KS_OK;
}

int ks_quote_pcrs_from_values(const TPML_PCR_SELECTION *sel, const uint8_t *buf, size_t len,
                              struct ks_pcr_set *ret_pcrs)
{
    if (!sel || (!buf && len) || !ret_pcrs) {
        return KS_ERR_INVALID_ARG;
    }
    int r = ks_pcr_selection_validate(sel);
    if (r < 0) {
        return r;
    }
    struct ks_pcr_set set;
    ks_pcr_set_init(&set);
    size_t off = 0;
    for (uint32_t i = 0; i < sel->count; i++) {
        const TPMS_PCR_SELECTION *s = &sel->pcrSelections[i];
        uint32_t mask = ks_pcr_selection_mask(s);
        size_t dlen = ks_alg_digest_size(s->hash);
        for (unsigned p = 0; p < KS_PCR_COUNT; p++) {
            if (!(mask & (1u << p))) {
                continue;
            }
            if (!(off <= len && len - off >= dlen)) {
                return KS_ERR_QUOTE_PCR_MISSING;
            }
            r = ks_pcr_set_put(&set, s->hash, p, buf + off, dlen);
            if (r < 0) {
                return r;
            }
            off += dlen;
        }
    }
    if (off != len) {
        return KS_ERR_QUOTE_PCR_MISSING;
    }
    *ret_pcrs = set;
    return KS_OK;
}
