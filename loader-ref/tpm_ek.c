/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>

#include "ekcert.h"
#include "tpm_alg.h"
#include "tpm_ek.h"
#include "tpm_esys_internal.h"
#include "tpm_public.h"

/* The EK, its certificate and TPM2_ActivateCredential (see tpm_ek.h). */

struct ks_tpm_ek {
    struct ks_tpm *tpm;
    ESYS_TR handle;
    TPM2B_PUBLIC pub;
    uint8_t *cert;
    size_t cert_len;
};

/* The EK templates' policies (TCG EK Credential Profile 2.x, B.6):
 * PolicyA = PolicySecret(TPM_RH_ENDORSEMENT) in SHA-256 (the low-range
 * templates' authPolicy), and PolicyC, the PolicyAuthorizeNV branch the
 * high-range templates OR with PolicyA: their authPolicy is
 * PolicyOR(PolicyA, PolicyC) in the template's hash. */
static const uint8_t policy_a_sha256[32] = {
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
    0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa};
static const uint8_t policy_b_sha384[48] = {
    0xb2, 0x6e, 0x7d, 0x28, 0xd1, 0x1a, 0x50, 0xbc, 0x53, 0xd8, 0x82, 0xbc, 0xf5, 0xfd, 0x3a, 0x1a,
    0x07, 0x41, 0x48, 0xbb, 0x35, 0xd3, 0xb4, 0xe4, 0xcb, 0x1c, 0x0a, 0xd9, 0xbd, 0xe4, 0x19, 0xca,
    0xcb, 0x47, 0xba, 0x09, 0x69, 0x96, 0x46, 0x15, 0x0f, 0x9f, 0xc0, 0x00, 0xf3, 0xf8, 0x0e, 0x12};
static const uint8_t policy_c_sha256[32] = {
    0x37, 0x67, 0xe2, 0xed, 0xd4, 0x3f, 0xf4, 0x5a, 0x3a, 0x7e, 0x1e, 0xae, 0xfc, 0xef, 0x78, 0x64,
    0x3d, 0xca, 0x96, 0x46, 0x32, 0xe7, 0xaa, 0xd8, 0x2c, 0x67, 0x3a, 0x30, 0xd8, 0x63, 0x3f, 0xde};
static const uint8_t policy_c_sha384[48] = {
    0xd6, 0x03, 0x2c, 0xe6, 0x1f, 0x2f, 0xb3, 0xc2, 0x40, 0xeb, 0x3c, 0xf6, 0xa3, 0x32, 0x37, 0xef,
    0x2b, 0x6a, 0x16, 0xf4, 0x29, 0x3c, 0x22, 0xb4, 0x55, 0xe2, 0x61, 0xcf, 0xfd, 0x21, 0x7a, 0xd5,
    0xb4, 0x94, 0x7c, 0x2d, 0x73, 0xe6, 0x30, 0x05, 0xee, 0xd2, 0xdc, 0x2b, 0x35, 0x93, 0xd1, 0x65};

int ks_tpm_ek_kind_parse(const char *s, enum ks_tpm_ek_kind *ret)
{
    static const struct {
        const char *name;
        enum ks_tpm_ek_kind kind;
    } kinds[] = {{"rsa", KS_TPM_EK_RSA2048},
                 {"ecc", KS_TPM_EK_ECC},
                 {"ecc256", KS_TPM_EK_ECC256},
                 {"ecc384", KS_TPM_EK_ECC384}};
    for (size_t i = 0; s && ret && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(s, kinds[i].name) == 0) {
            *ret = kinds[i].kind;
            return KS_OK;
        }
    }
    return KS_ERR_INVALID_ARG;
}

/* The profile's templates: L-1 (RSA 2048), L-2 (ECC P-256) with 256 / 2x32
 * zero bytes of unique, H-3 (ECC P-384) with empty unique. */
static void ek_template(enum ks_tpm_ek_kind kind, TPM2B_PUBLIC *t)
{
    memset(t, 0, sizeof(*t));
    TPMT_PUBLIC *p = &t->publicArea;
    p->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                          TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
                          TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
    p->nameAlg = TPM2_ALG_SHA256;
    p->authPolicy.size = sizeof(policy_a_sha256);
    memcpy(p->authPolicy.buffer, policy_a_sha256, sizeof(policy_a_sha256));
    if (kind == KS_TPM_EK_RSA2048) {
        p->type = TPM2_ALG_RSA;
        p->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
        p->parameters.rsaDetail.symmetric.keyBits.aes = 128;
        p->parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
        p->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
        p->parameters.rsaDetail.keyBits = 2048;
        p->unique.rsa.size = 256;
        return;
    }
    p->type = TPM2_ALG_ECC;
    p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
    p->parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
    p->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
    p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    if (kind == KS_TPM_EK_ECC384) {
        p->nameAlg = TPM2_ALG_SHA384;
        p->objectAttributes |= TPMA_OBJECT_USERWITHAUTH;
        p->authPolicy.size = sizeof(policy_b_sha384);
        memcpy(p->authPolicy.buffer, policy_b_sha384, sizeof(policy_b_sha384));
        p->parameters.eccDetail.symmetric.keyBits.aes = 256;
        p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P384;
        return;
    }
    p->parameters.eccDetail.symmetric.keyBits.aes = 128;
    p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    p->unique.ecc.x.size = 32;
    p->unique.ecc.y.size = 32;
}

static uint32_t nv_index_of(enum ks_tpm_ek_kind kind)
{
    switch (kind) {
    case KS_TPM_EK_RSA2048:
        return KS_EKCERT_NV_RSA2048;
    case KS_TPM_EK_ECC384:
        return KS_EKCERT_NV_ECC_P384;
    default:
        return KS_EKCERT_NV_ECC_P256;
    }
}

int ks_tpm_nv_read(struct ks_tpm *tpm, uint32_t index, uint8_t **ret, size_t *ret_len)
{
    ESYS_CONTEXT *esys = ks_tpm_esys_context(tpm);
    ESYS_TR nv = ESYS_TR_NONE;
    TPM2B_NV_PUBLIC *nv_pub = NULL;
    uint8_t *buf = NULL;
    if (!esys || !ret || !ret_len) {
        return KS_ERR_INVALID_ARG;
    }
    TSS2_RC rc = Esys_TR_FromTPMPublic(esys, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv);
    if (rc != TSS2_RC_SUCCESS) {
        /* TPM_RC_HANDLE: the index is not defined. */
        return (rc & 0xfff) == TPM2_RC_HANDLE || (rc & 0xbf) == TPM2_RC_HANDLE
                   ? KS_ERR_NOT_FOUND
                   : ks_tpm_fail(tpm, "Esys_TR_FromTPMPublic", rc);
    }
    int r;
    rc = Esys_NV_ReadPublic(esys, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv_pub, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        r = ks_tpm_fail(tpm, "Esys_NV_ReadPublic", rc);
        goto out;
    }
    size_t size = nv_pub->nvPublic.dataSize;
    if (size == 0 || size > KS_EKCERT_MAX_DER) {
        r = KS_ERR_TOO_LARGE;
        goto out;
    }
    buf = malloc(size);
    if (!buf) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    /* 512 bytes per read: at most TPM2_PT_NV_BUFFER_MAX on every TPM
     * (the PC Client profile's minimum). */
    for (size_t off = 0; off < size;) {
        UINT16 n = (UINT16)(size - off < 512 ? size - off : 512);
        TPM2B_MAX_NV_BUFFER *data = NULL;
        rc = Esys_NV_Read(esys, nv, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, n,
                          (UINT16)off, &data);
        if (rc != TSS2_RC_SUCCESS || data->size != n) {
            r = ks_tpm_fail(tpm, "Esys_NV_Read", rc);
            Esys_Free(data);
            goto out;
        }
        memcpy(buf + off, data->buffer, n);
        off += n;
        Esys_Free(data);
    }
    *ret = buf;
    *ret_len = size;
    buf = NULL;
    r = KS_OK;
out:
    free(buf);
    Esys_Free(nv_pub);
    Esys_TR_Close(esys, &nv);
    return r;
}

void ks_tpm_ek_free(struct ks_tpm_ek *ek)
{
    if (!ek) {
        return;
    }
    if (ek->handle != ESYS_TR_NONE) {
        (void)Esys_FlushContext(ks_tpm_esys_context(ek->tpm), ek->handle);
    }
    free(ek->cert);
    free(ek);
}

/* The certificate of an NV index, trimmed to its DER; NULL when absent. */
static int read_cert(struct ks_tpm *tpm, uint32_t index, uint8_t **ret, size_t *ret_len,
                     struct ks_ekcert **ret_cert)
{
    uint8_t *buf = NULL;
    size_t len = 0, der_len = 0;
    int r = ks_tpm_nv_read(tpm, index, &buf, &len);
    if (r != KS_OK) {
        return r;
    }
    r = ks_ekcert_parse_nv(buf, len, ret_cert, &der_len);
    if (r != KS_OK) {
        free(buf);
        return r;
    }
    *ret = buf;
    *ret_len = der_len;
    return KS_OK;
}

int ks_tpm_ek_open(struct ks_tpm *tpm, enum ks_tpm_ek_kind kind, struct ks_tpm_ek **ret)
{
    ESYS_CONTEXT *esys = ks_tpm_esys_context(tpm);
    struct ks_ekcert *cert = NULL;
    TPM2B_PUBLIC tmpl, *out_pub = NULL;
    TPM2B_SENSITIVE_CREATE sens;
    TPM2B_DATA outside = {0};
    TPML_PCR_SELECTION creation_pcr = {0};
    if (!esys || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_tpm_ek *ek = calloc(1, sizeof(*ek));
    if (!ek) {
        return KS_ERR_NOMEM;
    }
    ek->tpm = tpm;
    ek->handle = ESYS_TR_NONE;
    int r = KS_ERR_NOT_FOUND;
    if (kind == KS_TPM_EK_ECC) {
        r = read_cert(tpm, KS_EKCERT_NV_ECC_P384, &ek->cert, &ek->cert_len, &cert);
        kind = r == KS_ERR_NOT_FOUND ? KS_TPM_EK_ECC256 : KS_TPM_EK_ECC384;
    }
    if (!ek->cert) {
        r = read_cert(tpm, nv_index_of(kind), &ek->cert, &ek->cert_len, &cert);
    }
    if (r != KS_OK && r != KS_ERR_NOT_FOUND) {
        goto out;
    }
    ek_template(kind, &tmpl);
    memset(&sens, 0, sizeof(sens));
    TSS2_RC rc = Esys_CreatePrimary(esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                    ESYS_TR_NONE, &sens, &tmpl, &outside, &creation_pcr,
                                    &ek->handle, &out_pub, NULL, NULL, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        r = ks_tpm_fail(tpm, "Esys_CreatePrimary (EK)", rc);
        goto out;
    }
    ek->pub = *out_pub;
    if (cert && (r = ks_ekcert_check_key(cert, &ek->pub.publicArea)) != KS_OK) {
        goto out;
    }
    *ret = ek;
    ek = NULL;
    r = KS_OK;
out:
    Esys_Free(out_pub);
    ks_ekcert_free(cert);
    ks_tpm_ek_free(ek);
    return r;
}

const TPMT_PUBLIC *ks_tpm_ek_public_area(const struct ks_tpm_ek *ek)
{
    return ek ? &ek->pub.publicArea : NULL;
}

int ks_tpm_ek_public(const struct ks_tpm_ek *ek, uint8_t **ret, size_t *ret_len)
{
    size_t off = 0;
    if (!ek || !ret || !ret_len) {
        return KS_ERR_INVALID_ARG;
    }
    uint8_t *buf = malloc(sizeof(TPM2B_PUBLIC));
    if (!buf) {
        return KS_ERR_NOMEM;
    }
    if (Tss2_MU_TPM2B_PUBLIC_Marshal(&ek->pub, buf, sizeof(TPM2B_PUBLIC), &off) !=
        TSS2_RC_SUCCESS) {
        free(buf);
        return KS_ERR_INTERNAL;
    }
    *ret = buf;
    *ret_len = off;
    return KS_OK;
}

const uint8_t *ks_tpm_ek_cert(const struct ks_tpm_ek *ek, size_t *ret_len)
{
    if (ret_len) {
        *ret_len = ek ? ek->cert_len : 0;
    }
    return ek ? ek->cert : NULL;
}

int ks_tpm_ek_name_hex(const struct ks_tpm_ek *ek, char *ret_hex)
{
    return ek ? ks_tpm_public_name_hex(&ek->pub.publicArea, ret_hex) : KS_ERR_INVALID_ARG;
}

/* A policy session satisfying the EK's authPolicy (see tpm_ek.h). */
static int ek_policy_session(struct ks_tpm *tpm, const struct ks_tpm_ek *ek, ESYS_TR *ret)
{
    ESYS_CONTEXT *esys = ks_tpm_esys_context(tpm);
    const TPMT_PUBLIC *p = &ek->pub.publicArea;
    TPMT_SYM_DEF sym = {.algorithm = TPM2_ALG_NULL};
    TPM2B_DIGEST *digest = NULL;
    ESYS_TR s = ESYS_TR_NONE;
    int r;
    TSS2_RC rc = Esys_StartAuthSession(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                       ESYS_TR_NONE, NULL, TPM2_SE_POLICY, &sym, p->nameAlg, &s);
    if (rc != TSS2_RC_SUCCESS) {
        return ks_tpm_fail(tpm, "Esys_StartAuthSession (policy)", rc);
    }
    rc = Esys_PolicySecret(esys, ESYS_TR_RH_ENDORSEMENT, s, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                           ESYS_TR_NONE, NULL, NULL, NULL, 0, NULL, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        r = ks_tpm_fail(tpm, "Esys_PolicySecret", rc);
        goto out;
    }
    rc = Esys_PolicyGetDigest(esys, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &digest);
    if (rc != TSS2_RC_SUCCESS) {
        r = ks_tpm_fail(tpm, "Esys_PolicyGetDigest", rc);
        goto out;
    }
    bool direct = digest->size == p->authPolicy.size &&
                  memcmp(digest->buffer, p->authPolicy.buffer, digest->size) == 0;
    if (!direct) {
        /* High-range templates: PolicyOR(PolicyA, PolicyC). */
        const uint8_t *c = p->nameAlg == TPM2_ALG_SHA256   ? policy_c_sha256
                           : p->nameAlg == TPM2_ALG_SHA384 ? policy_c_sha384
                                                           : NULL;
        size_t dlen = ks_alg_digest_size(p->nameAlg);
        TPML_DIGEST list;
        memset(&list, 0, sizeof(list));
        if (!c || digest->size != dlen) {
            r = KS_ERR_UNSUPPORTED;
            goto out;
        }
        list.count = 2;
        list.digests[0] = *digest;
        list.digests[1].size = (UINT16)dlen;
        memcpy(list.digests[1].buffer, c, dlen);
        rc = Esys_PolicyOR(esys, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &list);
        if (rc != TSS2_RC_SUCCESS) {
            r = ks_tpm_fail(tpm, "Esys_PolicyOR", rc);
            goto out;
        }
    }
    *ret = s;
    s = ESYS_TR_NONE;
    r = KS_OK;
out:
    Esys_Free(digest);
    if (s != ESYS_TR_NONE) {
        (void)Esys_FlushContext(esys, s);
    }
    return r;
}

int ks_tpm_activate_credential(struct ks_tpm *tpm, struct ks_tpm_ek *ek, struct ks_tpm_ak *ak,
                               const TPM2B_ID_OBJECT *blob, const TPM2B_ENCRYPTED_SECRET *enc,
                               uint8_t *ret_secret, size_t *ret_secret_len)
{
    ESYS_CONTEXT *esys = ks_tpm_esys_context(tpm);
    ESYS_TR policy = ESYS_TR_NONE;
    TPM2B_DIGEST *cert_info = NULL;
    if (!esys || !ek || !ak || !blob || !enc || !ret_secret || !ret_secret_len) {
        return KS_ERR_INVALID_ARG;
    }
    int r = ek_policy_session(tpm, ek, &policy);
    if (r != KS_OK) {
        return r;
    }
    /* The AK's session authorizes it (ADMIN role, its authValue) and
     * encrypts certInfo on its way back (Part 1, 21: response parameter
     * encryption), so the secret does not cross the TPM interface in the
     * clear. */
    ESYS_TR ak_session = ks_tpm_ak_session(ak);
    TSS2_RC rc = Esys_TRSess_SetAttributes(
        esys, ak_session, TPMA_SESSION_ENCRYPT | TPMA_SESSION_CONTINUESESSION, 0xff);
    if (rc != TSS2_RC_SUCCESS) {
        r = ks_tpm_fail(tpm, "Esys_TRSess_SetAttributes", rc);
        goto out;
    }
    rc = Esys_ActivateCredential(esys, ks_tpm_ak_handle(ak), ek->handle, ak_session, policy,
                                 ESYS_TR_NONE, blob, enc, &cert_info);
    /* ESYS starts sessions with continueSession set: the policy session
     * stays loaded and is flushed below. */
    if (rc != TSS2_RC_SUCCESS) {
        r = ks_tpm_fail(tpm, "Esys_ActivateCredential", rc);
        goto out;
    }
    if (cert_info->size == 0 || cert_info->size > KS_MAX_DIGEST) {
        r = KS_ERR_TPM_CMD;
        goto out;
    }
    memcpy(ret_secret, cert_info->buffer, cert_info->size);
    *ret_secret_len = cert_info->size;
    r = KS_OK;
out:
    if (cert_info) {
        OPENSSL_cleanse(cert_info, sizeof(*cert_info));
        Esys_Free(cert_info);
    }
    if (policy != ESYS_TR_NONE) {
        (void)Esys_FlushContext(esys, policy);
    }
    return r;
}
