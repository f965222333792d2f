/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <tss2/tss2_mu.h>

#include "tpm_alg.h"
#include "tpm_attest.h"

int ks_tpm_attest_decode(const uint8_t *buf, size_t len, TPMS_ATTEST *ret_attest)
{
    if (!buf || !ret_attest) {
        return KS_ERR_INVALID_ARG;
    }
    /* A TPMS_ATTEST never exceeds TPM2B_ATTEST's buffer (Part 2, 10.12.13). */
    if (len > sizeof(((TPM2B_ATTEST *)0)->attestationData)) {
        return KS_ERR_TPM_UNMARSHAL;
    }
    TPMS_ATTEST tmp;
    memset(&tmp, 0, sizeof(tmp));
    size_t off = 0;
    if (Tss2_MU_TPMS_ATTEST_Unmarshal(buf, len, &off, &tmp) != TSS2_RC_SUCCESS) {
        return KS_ERR_TPM_UNMARSHAL;
    }
    if (off != len) {
        return KS_ERR_TPM_TRAILING;
    }
    *ret_attest = tmp;
    return KS_OK;
}

int ks_tpm_attest_decode_tpm2b(const uint8_t *buf, size_t len, TPMS_ATTEST *ret_attest)
{
    if (!buf || !ret_attest) {
        return KS_ERR_INVALID_ARG;
    }
    uint16_t size = 0;
    size_t off = 0;
    if (Tss2_MU_UINT16_Unmarshal(buf, len, &off, &size) != TSS2_RC_SUCCESS) {
        return KS_ERR_TPM_UNMARSHAL;
    }
    /* off == 2 here. */
    if (len - off < size) {
        return KS_ERR_TPM_UNMARSHAL;
    }
    if (len - off > size) {
        return KS_ERR_TPM_TRAILING;
    }
    return ks_tpm_attest_decode(buf + off, size, ret_attest);
}

int ks_tpm_signature_decode(const uint8_t *buf, size_t len, TPMT_SIGNATURE *ret_sig)
{
    if (!buf || !ret_sig) {
        return KS_ERR_INVALID_ARG;
    }
    TPMT_SIGNATURE tmp;
    memset(&tmp, 0, sizeof(tmp));
    size_t off = 0;
    if (Tss2_MU_TPMT_SIGNATURE_Unmarshal(buf, len, &off, &tmp) != TSS2_RC_SUCCESS) {
        return KS_ERR_TPM_UNMARSHAL;
    }
    if (off != len) {
        return KS_ERR_TPM_TRAILING;
    }
    *ret_sig = tmp;
    return KS_OK;
}

uint32_t ks_pcr_selection_mask(const TPMS_PCR_SELECTION *s)
{
    uint32_t m = 0;
    if (!s) {
        return 0;
    }
    for (unsigned i = 0; i < s->sizeofSelect && i < TPM2_PCR_SELECT_MAX; i++) {
        m |= (uint32_t)s->pcrSelect[i] << (8 * i);
    }
    return m;
}

int ks_pcr_selection_validate(const TPML_PCR_SELECTION *sel)
{
    if (!sel) {
        return KS_ERR_INVALID_ARG;
    }
    /* Only KS_MAX_BANKS hashes are supported and none may repeat, so a
     * longer list is invalid whatever it holds. */
    if (sel->count > KS_MAX_BANKS) {
        return KS_ERR_QUOTE_PCR_SELECTION;
    }
    unsigned seen = 0;
    for (uint32_t i = 0; i < sel->count; i++) {
        const TPMS_PCR_SELECTION *s = &sel->pcrSelections[i];
        int b = ks_alg_bank_index(s->hash);
        if (b < 0 || (seen & (1u << b))) {
            return KS_ERR_QUOTE_PCR_SELECTION;
        }
        seen |= 1u << b;
        /* PCR_SELECT_MIN is 3 on PC Client TPMs (24 PCRs); a fourth byte
         * may only be present with no PCR above 23 selected. */
        if (s->sizeofSelect < 3 || s->sizeofSelect > TPM2_PCR_SELECT_MAX) {
            return KS_ERR_QUOTE_PCR_SELECTION;
        }
        if (ks_pcr_selection_mask(s) >> KS_PCR_COUNT) {
            return KS_ERR_QUOTE_PCR_SELECTION;
        }
    }
    return KS_OK;
}

unsigned ks_pcr_selection_count(const TPML_PCR_SELECTION *sel)
{
    unsigned n = 0;
    if (!sel) {
        return 0;
    }
    for (uint32_t i = 0; i < sel->count && i < TPM2_NUM_PCR_BANKS; i++) {
        n += (unsigned)__builtin_popcount(ks_pcr_selection_mask(&sel->pcrSelections[i]));
    }
    return n;
}

bool ks_pcr_selection_has(const TPML_PCR_SELECTION *sel, uint16_t alg, unsigned index)
{
    if (!sel || index >= 32) {
        return false;
    }
    for (uint32_t i = 0; i < sel->count && i < TPM2_NUM_PCR_BANKS; i++) {
        if (sel->pcrSelections[i].hash == alg &&
            (ks_pcr_selection_mask(&sel->pcrSelections[i]) & (1u << index))) {
            return true;
        }
    }
    return false;
}

size_t ks_pcr_selection_format(const TPML_PCR_SELECTION *sel, char *buf, size_t len)
{
    /* 16 banks x ("0x0000:" + 32 x "31,") fits easily. */
    char tmp[2048];
    size_t n = 0;
    tmp[0] = '\0';
    for (uint32_t i = 0; sel && i < sel->count && i < TPM2_NUM_PCR_BANKS; i++) {
        const TPMS_PCR_SELECTION *s = &sel->pcrSelections[i];
        const char *name = ks_alg_name(s->hash);
        if (name) {
            n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "%s%s:", i ? "+" : "", name);
        } else {
            n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "%s0x%04x:", i ? "+" : "", s->hash);
        }
        uint32_t m = ks_pcr_selection_mask(s);
        bool first = true;
        for (unsigned p = 0; p < 32; p++) {
            if (m & (1u << p)) {
                n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "%s%u", first ? "" : ",", p);
                first = false;
            }
        }
    }
    if (buf && len) {
        snprintf(buf, len, "%s", tmp);
    }
    return n;
}
