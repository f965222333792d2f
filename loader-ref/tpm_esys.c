/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tctildr.h>

#include "encoding.h"
#include "pcr_select.h"
#include "quote.h"
#include "tpm_alg.h"
#include "tpm_attest.h"
#include "tpm_esys.h"
#include "tpm_esys_internal.h"

struct ks_tpm {
    TSS2_TCTI_CONTEXT *tcti;
    ESYS_CONTEXT *esys;
    TSS2_RC last_rc;
    const char *last_what;
};

struct ks_tpm_ak {
    struct ks_tpm *tpm;
    ESYS_TR handle;  /* the loaded AK */
    ESYS_TR session; /* salted HMAC session for the AK's authorizations */
    TPM2B_PUBLIC pub;
    TPM2B_PRIVATE *priv; /* only for an AK made by ks_tpm_ak_create */
    uint8_t *auth;       /* KS_TPM_AK_AUTH_LEN bytes, secure heap */
};

/* Record a failed TPM command for ks_tpm_last_rc() and return the error. */
static int tss_fail(struct ks_tpm *tpm, const char *what, TSS2_RC rc)
{
    tpm->last_rc = rc;
    tpm->last_what = what;
    return KS_ERR_TPM_CMD;
}

const char *ks_tpm_default_tcti(void)
{
    const char *t = getenv("KS_TCTI");
    return t && *t ? t : KS_TPM_DEFAULT_TCTI;
}

int ks_tpm_open(const char *tcti, struct ks_tpm **ret_tpm)
{
    int r;
    if (!ret_tpm) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_tpm *tpm = calloc(1, sizeof(*tpm));
    if (!tpm) {
        return KS_ERR_NOMEM;
    }
    tpm->last_what = "";
    TSS2_RC rc = Tss2_TctiLdr_Initialize(tcti ? tcti : ks_tpm_default_tcti(), &tpm->tcti);
    if (rc != TSS2_RC_SUCCESS) {
        tss_fail(tpm, "Tss2_TctiLdr_Initialize", rc);
        r = KS_ERR_TPM_TCTI;
        goto out;
    }
    rc = Esys_Initialize(&tpm->esys, tpm->tcti, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        tss_fail(tpm, "Esys_Initialize", rc);
        r = KS_ERR_TPM_TCTI;
        goto out;
    }
    *ret_tpm = tpm;
    tpm = NULL;
    r = KS_OK;
out:
    ks_tpm_close(tpm);
    return r;
}

void ks_tpm_close(struct ks_tpm *tpm)
{
    if (!tpm) {
        return;
    }
    if (tpm->esys) {
        Esys_Finalize(&tpm->esys);
    }
    if (tpm->tcti) {
        Tss2_TctiLdr_Finalize(&tpm->tcti);
    }
    free(tpm);
}

uint32_t ks_tpm_last_rc(const struct ks_tpm *tpm, const char **ret_what)
{
    if (ret_what) {
        *ret_what = tpm && tpm->last_what ? tpm->last_what : "";
    }
    return tpm ? tpm->last_rc : 0;
}

/* Flush a transient object or session; ESYS_TR_NONE is a no-op. Failures
 * are ignored: this runs on cleanup paths, and an object that cannot be
 * flushed is gone with the TPM reset anyway. */
static void flush(struct ks_tpm *tpm, ESYS_TR *handle)
{
    if (*handle != ESYS_TR_NONE) {
        (void)Esys_FlushContext(tpm->esys, *handle);
        *handle = ESYS_TR_NONE;
    }
}

/* TCG TPM v2.0 Provisioning Guidance, 7.5.1 "Storage Primary Key (SRK)
 * Templates" (the ECC NIST P-256 template of the EK Credential Profile,
 * B.3.4, with the storage attributes): unique holds two 32-byte zero
 * coordinates, so every program that follows the guidance derives the same
 * key from the owner seed. */
static void srk_template(TPM2B_PUBLIC *t)
{
    memset(t, 0, sizeof(*t));
    TPMT_PUBLIC *p = &t->publicArea;
    p->type = TPM2_ALG_ECC;
    p->nameAlg = TPM2_ALG_SHA256;
    p->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                          TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                          TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
    p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
    p->parameters.eccDetail.symmetric.keyBits.aes = 128;
    p->parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
    p->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
    p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    p->unique.ecc.x.size = 32;
    p->unique.ecc.y.size = 32;
}

/* The AK (TPM 2.0 Part 1, 25.2 "Attestation Keys"; Part 2, 8.3.3
 * TPMA_OBJECT): restricted signing key, fixedTPM | fixedParent, generated in
 * the TPM, usable with its authValue (userWithAuth), never for decryption;
 * its signing scheme fixed in the key, so the quote's scheme is the key's. */
static void ak_template(enum ks_tpm_ak_type type, TPM2B_PUBLIC *t)
{
    memset(t, 0, sizeof(*t));
    TPMT_PUBLIC *p = &t->publicArea;
    p->nameAlg = TPM2_ALG_SHA256;
    p->objectAttributes = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_FIXEDTPM |
                          TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                          TPMA_OBJECT_USERWITHAUTH;
    if (type == KS_TPM_AK_RSA_2048) {
        p->type = TPM2_ALG_RSA;
        p->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
        p->parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
        p->parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
        p->parameters.rsaDetail.keyBits = 2048;
        p->parameters.rsaDetail.exponent = 0;
    } else {
        p->type = TPM2_ALG_ECC;
        p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
        p->parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
        p->parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
        p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
        p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    }
}

/* Create the SRK and start an HMAC session salted with it (TPM 2.0 Part 1,
 * 19.6.10 "Salted sessions": ECDH with the SRK), AES-128-CFB parameter
 * encryption, SHA-256. The salt is secret to this process and the TPM, so
 * the session key protects the encrypted parameters and the HMACs from
 * anything on the TPM interface. */
static int srk_and_session(struct ks_tpm *tpm, ESYS_TR *ret_srk, ESYS_TR *ret_session)
{
    TPM2B_PUBLIC tmpl;
    TPM2B_SENSITIVE_CREATE sens;
    TPM2B_DATA outside = {0};
    TPML_PCR_SELECTION creation_pcr = {0};
    TPMT_SYM_DEF sym = {.algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB};
    ESYS_TR srk = ESYS_TR_NONE, session = ESYS_TR_NONE;
    TSS2_RC rc;
    int r;

    srk_template(&tmpl);
    memset(&sens, 0, sizeof(sens));
    rc = Esys_CreatePrimary(tpm->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                            ESYS_TR_NONE, &sens, &tmpl, &outside, &creation_pcr, &srk, NULL, NULL,
                            NULL, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        r = tss_fail(tpm, "Esys_CreatePrimary", rc);
        goto out;
    }
    rc = Esys_StartAuthSession(tpm->esys, srk, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                               ESYS_TR_NONE, NULL, TPM2_SE_HMAC, &sym, TPM2_ALG_SHA256, &session);
    if (rc != TSS2_RC_SUCCESS) {
        r = tss_fail(tpm, "Esys_StartAuthSession", rc);
        goto out;
    }
    *ret_srk = srk;
    *ret_session = session;
    srk = session = ESYS_TR_NONE;
    r = KS_OK;
out:
    flush(tpm, &session);
    flush(tpm, &srk);
    return r;
}

static int set_session_attrs(struct ks_tpm *tpm, ESYS_TR session, TPMA_SESSION attrs)
{
    TSS2_RC rc = Esys_TRSess_SetAttributes(tpm->esys, session, attrs, 0xff);
    return rc == TSS2_RC_SUCCESS ? KS_OK : tss_fail(tpm, "Esys_TRSess_SetAttributes", rc);
}

/* Secret random bytes: TPM2_GetRandom's response encrypted by the salted
 * session (TPMA_SESSION_ENCRYPT), XORed into RAND_bytes output, so that the
 * result is unpredictable if either source is. len <= 32. */
static int secret_random(struct ks_tpm *tpm, ESYS_TR session, uint8_t *ret, size_t len)
{
    TPM2B_DIGEST *rnd = NULL;
    int r = set_session_attrs(tpm, session, TPMA_SESSION_ENCRYPT | TPMA_SESSION_CONTINUESESSION);
    if (r != KS_OK) {
        return r;
    }
    TSS2_RC rc = Esys_GetRandom(tpm->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, (UINT16)len, &rnd);
    if (rc != TSS2_RC_SUCCESS) {
        return tss_fail(tpm, "Esys_GetRandom", rc);
    }
    if (rnd->size != len) {
        /* The TPM may return fewer bytes than asked (Part 3, 16.1). */
        r = tss_fail(tpm, "Esys_GetRandom (short)", TSS2_RC_SUCCESS);
        goto out;
    }
    if (RAND_priv_bytes(ret, (int)len) != 1) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    for (size_t i = 0; i < len; i++) {
        ret[i] ^= rnd->buffer[i];
    }
    r = KS_OK;
out:
    OPENSSL_cleanse(rnd->buffer, sizeof(rnd->buffer));
    Esys_Free(rnd);
    return r;
}

static struct ks_tpm_ak *ak_new(struct ks_tpm *tpm)
{
    struct ks_tpm_ak *ak = calloc(1, sizeof(*ak));
    if (!ak) {
        return NULL;
    }
    ak->tpm = tpm;
    ak->handle = ESYS_TR_NONE;
    ak->session = ESYS_TR_NONE;
    ak->auth = OPENSSL_secure_zalloc(KS_TPM_AK_AUTH_LEN);
    if (!ak->auth) {
        free(ak);
        return NULL;
    }
    return ak;
}

void ks_tpm_ak_free(struct ks_tpm_ak *ak)
{
    if (!ak) {
        return;
    }
    flush(ak->tpm, &ak->handle);
    flush(ak->tpm, &ak->session);
    Esys_Free(ak->priv);
    OPENSSL_secure_clear_free(ak->auth, KS_TPM_AK_AUTH_LEN);
    free(ak);
}

/* Load priv/pub under srk (authorized by the salted session), give ESYS the
 * AK's authValue and keep the session for the AK's own authorizations. */
static int ak_load(struct ks_tpm_ak *ak, ESYS_TR srk, const TPM2B_PRIVATE *priv)
{
    struct ks_tpm *tpm = ak->tpm;
    TPM2B_AUTH auth;
    TSS2_RC rc;
    int r =
        set_session_attrs(tpm, ak->session, TPMA_SESSION_DECRYPT | TPMA_SESSION_CONTINUESESSION);
    if (r != KS_OK) {
        return r;
    }
    rc = Esys_Load(tpm->esys, srk, ak->session, ESYS_TR_NONE, ESYS_TR_NONE, priv, &ak->pub,
                   &ak->handle);
    if (rc != TSS2_RC_SUCCESS) {
        return tss_fail(tpm, "Esys_Load", rc);
    }
    auth.size = KS_TPM_AK_AUTH_LEN;
    memcpy(auth.buffer, ak->auth, KS_TPM_AK_AUTH_LEN);
    rc = Esys_TR_SetAuth(tpm->esys, ak->handle, &auth);
    OPENSSL_cleanse(&auth, sizeof(auth));
    if (rc != TSS2_RC_SUCCESS) {
        return tss_fail(tpm, "Esys_TR_SetAuth", rc);
    }
    /* Check that the TPM's Name of the loaded object (ESYS compares it with
     * the one it computes from the public area) is also what lib/ computes:
     * the keyserver identifies the AK by it. */
    TPM2B_NAME *name = NULL;
    rc = Esys_TR_GetName(tpm->esys, ak->handle, &name);
    if (rc != TSS2_RC_SUCCESS) {
        return tss_fail(tpm, "Esys_TR_GetName", rc);
    }
    r = ks_tpm_public_check_name(&ak->pub.publicArea, name->name, name->size);
    Esys_Free(name);
    return r;
}

int ks_tpm_ak_create(struct ks_tpm *tpm, enum ks_tpm_ak_type type, struct ks_tpm_ak **ret_ak)
{
    TPM2B_PUBLIC tmpl;
    TPM2B_SENSITIVE_CREATE sens;
    TPM2B_DATA outside = {0};
    TPML_PCR_SELECTION creation_pcr = {0};
    TPM2B_PUBLIC *out_pub = NULL;
    ESYS_TR srk = ESYS_TR_NONE;
    struct ks_tpm_ak *ak = NULL;
    TSS2_RC rc;
    int r;

    memset(&sens, 0, sizeof(sens));
    if (!tpm || !ret_ak || (type != KS_TPM_AK_ECC_P256 && type != KS_TPM_AK_RSA_2048)) {
        return KS_ERR_INVALID_ARG;
    }
    ak = ak_new(tpm);
    if (!ak) {
        return KS_ERR_NOMEM;
    }
    r = srk_and_session(tpm, &srk, &ak->session);
    if (r != KS_OK) {
        goto out;
    }
    r = secret_random(tpm, ak->session, ak->auth, KS_TPM_AK_AUTH_LEN);
    if (r != KS_OK) {
        goto out;
    }
    /* inSensitive is the first command parameter of TPM2_Create, so the
     * session's decrypt attribute encrypts the authValue (Part 1, 21.1). */
    r = set_session_attrs(tpm, ak->session, TPMA_SESSION_DECRYPT | TPMA_SESSION_CONTINUESESSION);
    if (r != KS_OK) {
        goto out;
    }
    sens.sensitive.userAuth.size = KS_TPM_AK_AUTH_LEN;
    memcpy(sens.sensitive.userAuth.buffer, ak->auth, KS_TPM_AK_AUTH_LEN);
    ak_template(type, &tmpl);
    rc = Esys_Create(tpm->esys, srk, ak->session, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl,
                     &outside, &creation_pcr, &ak->priv, &out_pub, NULL, NULL, NULL);
    OPENSSL_cleanse(&sens, sizeof(sens));
    if (rc != TSS2_RC_SUCCESS) {
        r = tss_fail(tpm, "Esys_Create", rc);
        goto out;
    }
    ak->pub = *out_pub;
    r = ak_load(ak, srk, ak->priv);
    if (r != KS_OK) {
        goto out;
    }
    *ret_ak = ak;
    ak = NULL;
out:
    Esys_Free(out_pub);
    flush(tpm, &srk);
    ks_tpm_ak_free(ak);
    return r;
}

int ks_tpm_ak_load(struct ks_tpm *tpm, const uint8_t *priv, size_t priv_len, const uint8_t *pub,
                   size_t pub_len, const uint8_t *auth, size_t auth_len, struct ks_tpm_ak **ret_ak)
{
    TPM2B_PRIVATE tpriv;
    ESYS_TR srk = ESYS_TR_NONE;
    struct ks_tpm_ak *ak = NULL;
    size_t off = 0;
    int r;

    if (!tpm || !priv || !pub || !auth || !ret_ak) {
        return KS_ERR_INVALID_ARG;
    }
    if (auth_len != KS_TPM_AK_AUTH_LEN) {
        return KS_ERR_INVALID_ARG;
    }
    memset(&tpriv, 0, sizeof(tpriv));
    if (Tss2_MU_TPM2B_PRIVATE_Unmarshal(priv, priv_len, &off, &tpriv) != TSS2_RC_SUCCESS) {
        return KS_ERR_TPM_UNMARSHAL;
    }
    if (off != priv_len) {
        return KS_ERR_TPM_TRAILING;
    }
    ak = ak_new(tpm);
    if (!ak) {
        return KS_ERR_NOMEM;
    }
    r = ks_tpm_public_decode(pub, pub_len, &ak->pub.publicArea);
    if (r == KS_OK) {
        r = ks_tpm_public_check_ak(&ak->pub.publicArea);
    }
    if (r != KS_OK) {
        goto out;
    }
    ak->pub.size = (UINT16)(pub_len - 2);
    memcpy(ak->auth, auth, KS_TPM_AK_AUTH_LEN);
    r = srk_and_session(tpm, &srk, &ak->session);
    if (r == KS_OK) {
        r = ak_load(ak, srk, &tpriv);
    }
    if (r != KS_OK) {
        goto out;
    }
    *ret_ak = ak;
    ak = NULL;
out:
    flush(tpm, &srk);
    ks_tpm_ak_free(ak);
    return r;
}

const TPMT_PUBLIC *ks_tpm_ak_public_area(const struct ks_tpm_ak *ak)
{
    return ak ? &ak->pub.publicArea : NULL;
}

int ks_tpm_ak_public(const struct ks_tpm_ak *ak, uint8_t **ret_buf, size_t *ret_len)
{
    size_t off = 0;
    if (!ak || !ret_buf || !ret_len) {
        return KS_ERR_INVALID_ARG;
    }
    uint8_t *buf = malloc(sizeof(TPM2B_PUBLIC));
    if (!buf) {
        return KS_ERR_NOMEM;
    }
    /* size 0: the marshaler computes the TPM2B's size from publicArea. */
    TPM2B_PUBLIC p = {.size = 0, .publicArea = ak->pub.publicArea};
    if (Tss2_MU_TPM2B_PUBLIC_Marshal(&p, buf, sizeof(TPM2B_PUBLIC), &off) != TSS2_RC_SUCCESS) {
        free(buf);
        return KS_ERR_INTERNAL;
    }
    *ret_buf = buf;
    *ret_len = off;
    return KS_OK;
}

int ks_tpm_ak_name_hex(const struct ks_tpm_ak *ak, char *ret_hex)
{
    TPM2B_NAME *name = NULL;
    if (!ak || !ret_hex) {
        return KS_ERR_INVALID_ARG;
    }
    TSS2_RC rc = Esys_TR_GetName(ak->tpm->esys, ak->handle, &name);
    if (rc != TSS2_RC_SUCCESS) {
        return tss_fail(ak->tpm, "Esys_TR_GetName", rc);
    }
    int r = KS_ERR_TPM_NAME;
    if (name->size > 2 && name->size <= KS_TPM_NAME_MAX) {
        ks_hex_encode(name->name, name->size, ret_hex);
        r = KS_OK;
    }
    Esys_Free(name);
    return r;
}

int ks_tpm_ak_private(const struct ks_tpm_ak *ak, uint8_t **ret_buf, size_t *ret_len)
{
    size_t off = 0;
    if (!ak || !ret_buf || !ret_len) {
        return KS_ERR_INVALID_ARG;
    }
    if (!ak->priv) {
        return KS_ERR_NOT_FOUND;
    }
    uint8_t *buf = malloc(sizeof(TPM2B_PRIVATE));
    if (!buf) {
        return KS_ERR_NOMEM;
    }
    if (Tss2_MU_TPM2B_PRIVATE_Marshal(ak->priv, buf, sizeof(TPM2B_PRIVATE), &off) !=
        TSS2_RC_SUCCESS) {
        free(buf);
        return KS_ERR_INTERNAL;
    }
    *ret_buf = buf;
    *ret_len = off;
    return KS_OK;
}

const uint8_t *ks_tpm_ak_auth(const struct ks_tpm_ak *ak)
{
    return ak ? ak->auth : NULL;
}

void ks_tpm_quote_clear(struct ks_tpm_quote *q)
{
    if (!q) {
        return;
    }
    free(q->attest);
    free(q->sig);
    memset(q, 0, sizeof(*q));
}

/* Store the values of one TPM2_PCR_Read answer and clear them from
 * `remaining`. The digests come in the order of the returned selection:
 * banks in list order, PCRs ascending (Part 3, 22.4.1). */
static int store_pcr_values(const TPML_PCR_SELECTION *got, const TPML_DIGEST *vals,
                            TPML_PCR_SELECTION *remaining, struct ks_pcr_set *pcrs)
{
    uint32_t k = 0;
    if (got->count > TPM2_NUM_PCR_BANKS) {
        return KS_ERR_TPM_UNMARSHAL;
    }
    for (uint32_t i = 0; i < got->count; i++) {
        const TPMS_PCR_SELECTION *g = &got->pcrSelections[i];
        TPMS_PCR_SELECTION *want = NULL;
        for (uint32_t j = 0; j < remaining->count; j++) {
            if (remaining->pcrSelections[j].hash == g->hash) {
                want = &remaining->pcrSelections[j];
            }
        }
        uint32_t m = ks_pcr_selection_mask(g);
        for (unsigned p = 0; p < 32; p++) {
            if (!(m & (1u << p))) {
                continue;
            }
            /* Only what was asked for, each PCR once. */
            if (!want || p >= KS_PCR_COUNT || !(ks_pcr_selection_mask(want) & (1u << p)) ||
                k >= vals->count) {
                return KS_ERR_TPM_UNMARSHAL;
            }
            int r =
                ks_pcr_set_put(pcrs, g->hash, p, vals->digests[k].buffer, vals->digests[k].size);
            if (r != KS_OK) {
                return KS_ERR_TPM_UNMARSHAL;
            }
            want->pcrSelect[p / 8] &= (uint8_t) ~(1u << (p % 8));
            k++;
        }
    }
    return k == vals->count ? KS_OK : KS_ERR_TPM_UNMARSHAL;
}

int ks_tpm_pcr_read(struct ks_tpm *tpm, const TPML_PCR_SELECTION *sel, struct ks_pcr_set *ret_pcrs)
{
    struct ks_pcr_set pcrs;
    TPML_PCR_SELECTION remaining;
    if (!tpm || !sel || !ret_pcrs) {
        return KS_ERR_INVALID_ARG;
    }
    if (ks_pcr_selection_validate(sel) != KS_OK) {
        return KS_ERR_INVALID_ARG;
    }
    ks_pcr_set_init(&pcrs);
    remaining = *sel;
    /* TPM2_PCR_Read returns at most 8 digests (TPML_DIGEST) per call and
     * says which ones in pcrSelectionOut: ask again for the rest. A call
     * that returns nothing means the TPM does not have what is left. */
    for (unsigned calls = 0; ks_pcr_selection_count(&remaining) > 0; calls++) {
        TPML_PCR_SELECTION *got = NULL;
        TPML_DIGEST *vals = NULL;
        UINT32 counter;
        if (calls > KS_MAX_BANKS * KS_PCR_COUNT) {
            return KS_ERR_INTERNAL;
        }
        TSS2_RC rc = Esys_PCR_Read(tpm->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &remaining,
                                   &counter, &got, &vals);
        if (rc != TSS2_RC_SUCCESS) {
            return tss_fail(tpm, "Esys_PCR_Read", rc);
        }
        int r =
            vals->count == 0 ? KS_ERR_TPM_PCR_BANK : store_pcr_values(got, vals, &remaining, &pcrs);
        Esys_Free(got);
        Esys_Free(vals);
        if (r != KS_OK) {
            return r;
        }
    }
    *ret_pcrs = pcrs;
    return KS_OK;
}

/* One TPM2_Quote: the raw TPMS_ATTEST and the marshaled signature. */
static int quote_once(struct ks_tpm *tpm, struct ks_tpm_ak *ak, const TPM2B_DATA *qd,
                      const TPML_PCR_SELECTION *sel, struct ks_tpm_quote *q)
{
    TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_NULL}; /* the key's own scheme */
    TPM2B_ATTEST *quoted = NULL;
    TPMT_SIGNATURE *sig = NULL;
    size_t off = 0;
    int r = set_session_attrs(tpm, ak->session, TPMA_SESSION_CONTINUESESSION);
    if (r != KS_OK) {
        return r;
    }
    TSS2_RC rc = Esys_Quote(tpm->esys, ak->handle, ak->session, ESYS_TR_NONE, ESYS_TR_NONE, qd,
                            &scheme, sel, &quoted, &sig);
    if (rc != TSS2_RC_SUCCESS) {
        return tss_fail(tpm, "Esys_Quote", rc);
    }
    q->attest = malloc(quoted->size ? quoted->size : 1);
    q->sig = malloc(sizeof(TPMT_SIGNATURE));
    if (!q->attest || !q->sig) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    memcpy(q->attest, quoted->attestationData, quoted->size);
    q->attest_len = quoted->size;
    if (Tss2_MU_TPMT_SIGNATURE_Marshal(sig, q->sig, sizeof(TPMT_SIGNATURE), &off) !=
        TSS2_RC_SUCCESS) {
        r = KS_ERR_TPM_UNMARSHAL;
        goto out;
    }
    q->sig_len = off;
    r = KS_OK;
out:
    Esys_Free(quoted);
    Esys_Free(sig);
    return r;
}

int ks_tpm_quote(struct ks_tpm *tpm, struct ks_tpm_ak *ak, const uint8_t *qualifying,
                 size_t qualifying_len, const TPML_PCR_SELECTION *sel, struct ks_tpm_quote *ret)
{
    struct ks_quote_ak *qak = NULL;
    struct ks_quote_info info;
    struct ks_tpm_quote q;
    TPM2B_DATA qd;
    int r;

    memset(&q, 0, sizeof(q));
    if (!tpm || !ak || !sel || !ret || (!qualifying && qualifying_len > 0) ||
        qualifying_len > KS_TPM_QUALIFYING_MAX) {
        return KS_ERR_INVALID_ARG;
    }
    if (ks_pcr_selection_validate(sel) != KS_OK || ks_pcr_selection_count(sel) == 0) {
        return KS_ERR_INVALID_ARG;
    }
    memset(&qd, 0, sizeof(qd));
    qd.size = (UINT16)qualifying_len;
    if (qualifying_len > 0) {
        memcpy(qd.buffer, qualifying, qualifying_len);
    }
    r = ks_quote_ak_new(&ak->pub.publicArea, NULL, &qak);
    if (r != KS_OK) {
        return r;
    }
    r = KS_ERR_TPM_PCR_RACE;
    for (unsigned attempt = 0; attempt < KS_TPM_QUOTE_TRIES; attempt++) {
        ks_tpm_quote_clear(&q);
        r = quote_once(tpm, ak, &qd, sel, &q);
        if (r != KS_OK) {
            goto out;
        }
        /* Read the PCRs the quote says it covers; a TPM drops banks it has
         * not allocated from the selection (Part 3, 18.4.1 / FilterPcr),
         * which would leave the keyserver without those PCRs. */
        r = ks_quote_info_decode(q.attest, q.attest_len, &info);
        if (r != KS_OK) {
            goto out;
        }
        if (!ks_pcr_select_equal(&info.pcr_select, sel)) {
            r = KS_ERR_TPM_PCR_BANK;
            goto out;
        }
        q.sel = info.pcr_select;
        r = ks_tpm_pcr_read(tpm, &q.sel, &q.pcrs);
        if (r != KS_OK) {
            goto out;
        }
        /* What the keyserver will check, checked here first: the quote
         * verifies with the AK, carries our qualifying data, and its
         * pcrDigest is the digest of the values just read. If a PCR was
         * extended between the quote and the read, quote again. */
        r = ks_quote_verify(qak, q.attest, q.attest_len, q.sig, q.sig_len, qd.buffer, qd.size,
                            &q.pcrs, NULL);
        if (r != KS_ERR_QUOTE_PCR_DIGEST) {
            break;
        }
        r = KS_ERR_TPM_PCR_RACE;
    }
    if (r != KS_OK) {
        goto out;
    }
    *ret = q;
    memset(&q, 0, sizeof(q));
out:
    OPENSSL_cleanse(&qd, sizeof(qd));
    ks_tpm_quote_clear(&q);
    ks_quote_ak_free(qak);
    return r;
}

/* ---- for tpm_ek.c (tpm_esys_internal.h) ---------------------------------- */

ESYS_CONTEXT *ks_tpm_esys_context(struct ks_tpm *tpm)
{
    return tpm ? tpm->esys : NULL;
}

ESYS_TR ks_tpm_ak_handle(const struct ks_tpm_ak *ak)
{
    return ak ? ak->handle : ESYS_TR_NONE;
}

ESYS_TR ks_tpm_ak_session(const struct ks_tpm_ak *ak)
{
    return ak ? ak->session : ESYS_TR_NONE;
}

int ks_tpm_fail(struct ks_tpm *tpm, const char *what, TSS2_RC rc)
{
    return tss_fail(tpm, what, rc);
}
