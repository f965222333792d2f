/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

#include "launch_tpm.h"
#include "pcr.h"
#include "tpm_alg.h"
#include "tpm_esys.h"

struct ks_launch_tpm {
    TSS2_TCTI_CONTEXT *tcti;
    ESYS_CONTEXT *esys;
    TSS2_RC last_rc;
    const char *last_what;
};

static int tss_fail(struct ks_launch_tpm *t, const char *what, TSS2_RC rc)
{
    t->last_rc = rc;
    t->last_what = what;
    return KS_ERR_TPM_CMD;
}

int ks_launch_tpm_open(const char *tcti, struct ks_launch_tpm **ret)
{
    if (!ret) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_launch_tpm *t = calloc(1, sizeof(*t));
    if (!t) {
        return KS_ERR_NOMEM;
    }
    t->last_what = "";
    TSS2_RC rc = Tss2_TctiLdr_Initialize(tcti ? tcti : ks_tpm_default_tcti(), &t->tcti);
    if (rc == TSS2_RC_SUCCESS) {
        rc = Esys_Initialize(&t->esys, t->tcti, NULL);
    }
    if (rc != TSS2_RC_SUCCESS) {
        ks_launch_tpm_close(t);
        return KS_ERR_TPM_TCTI;
    }
    *ret = t;
    return KS_OK;
}

void ks_launch_tpm_close(struct ks_launch_tpm *t)
{
    if (!t) {
        return;
    }
    if (t->esys) {
        Esys_Finalize(&t->esys);
    }
    if (t->tcti) {
        Tss2_TctiLdr_Finalize(&t->tcti);
    }
    free(t);
}

uint32_t ks_launch_tpm_last_rc(const struct ks_launch_tpm *t, const char **ret_what)
{
    if (ret_what) {
        *ret_what = t && t->last_what ? t->last_what : "";
    }
    return t ? t->last_rc : 0;
}

int ks_launch_tpm_banks(struct ks_launch_tpm *t, uint32_t pcr, uint16_t *ret_algs, size_t max,
                        size_t *ret_n)
{
    TPMS_CAPABILITY_DATA *cap = NULL;
    TPMI_YES_NO more = TPM2_NO;
    size_t n = 0;
    if (!t || !ret_algs || !ret_n || pcr >= KS_PCR_COUNT) {
        return KS_ERR_INVALID_ARG;
    }
    /* TPM2_CAP_PCRS returns every bank in one TPML_PCR_SELECTION. */
    TSS2_RC rc = Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                    TPM2_CAP_PCRS, 0, TPM2_MAX_PCRS, &more, &cap);
    if (rc != TSS2_RC_SUCCESS) {
        return tss_fail(t, "Esys_GetCapability", rc);
    }
    int r = KS_OK;
    const TPML_PCR_SELECTION *sel = &cap->data.assignedPCR;
    for (uint32_t i = 0; i < sel->count && i < TPM2_NUM_PCR_BANKS; i++) {
        const TPMS_PCR_SELECTION *s = &sel->pcrSelections[i];
        if (pcr / 8 >= s->sizeofSelect || !(s->pcrSelect[pcr / 8] & (1u << (pcr % 8)))) {
            continue; /* bank allocated without this PCR */
        }
        if (ks_alg_digest_size(s->hash) == 0) {
            r = KS_ERR_TPM_ALG;
            break;
        }
        if (n == max) {
            r = KS_ERR_TOO_LARGE;
            break;
        }
        ret_algs[n++] = s->hash;
    }
    Esys_Free(cap);
    if (r == KS_OK && n == 0) {
        r = KS_ERR_TPM_PCR_BANK;
    }
    if (r == KS_OK) {
        *ret_n = n;
    }
    return r;
}

int ks_launch_tpm_read(struct ks_launch_tpm *t, uint32_t pcr, uint16_t alg, uint8_t *ret,
                       size_t size)
{
    TPML_PCR_SELECTION sel;
    TPML_PCR_SELECTION *got = NULL;
    TPML_DIGEST *vals = NULL;
    UINT32 counter;
    size_t dlen = ks_alg_digest_size(alg);
    if (!t || !ret || pcr >= KS_PCR_COUNT || dlen == 0 || size < dlen) {
        return KS_ERR_INVALID_ARG;
    }
    memset(&sel, 0, sizeof(sel));
    sel.count = 1;
    sel.pcrSelections[0].hash = alg;
    sel.pcrSelections[0].sizeofSelect = 3;
    sel.pcrSelections[0].pcrSelect[pcr / 8] = (uint8_t)(1u << (pcr % 8));
    TSS2_RC rc = Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel, &counter,
                               &got, &vals);
    if (rc != TSS2_RC_SUCCESS) {
        return tss_fail(t, "Esys_PCR_Read", rc);
    }
    int r = KS_OK;
    if (vals->count != 1 || vals->digests[0].size != dlen) {
        r = KS_ERR_TPM_PCR_BANK;
    } else {
        memcpy(ret, vals->digests[0].buffer, dlen);
    }
    Esys_Free(got);
    Esys_Free(vals);
    return r;
}

int ks_launch_tpm_extend(struct ks_launch_tpm *t, uint32_t pcr, const TPML_DIGEST_VALUES *digests)
{
    if (!t || !digests || pcr >= KS_PCR_COUNT || digests->count == 0) {
        return KS_ERR_INVALID_ARG;
    }
    /* Empty authValue through a password session (TPM 2.0 Part 1, 19.6.4). */
    TSS2_RC rc = Esys_PCR_Extend(t->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                 ESYS_TR_NONE, digests);
    if (rc != TSS2_RC_SUCCESS) {
        return tss_fail(t, "Esys_PCR_Extend", rc);
    }
    return KS_OK;
}
