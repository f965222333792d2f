/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pcr_select.h"
#include "tpm_alg.h"
#include "tpm_attest.h"

/* A decimal PCR index 0..23 at *p, no sign, no leading zeros beyond "0". */
static int parse_index(const char **p, unsigned *ret)
{
    const char *s = *p;
    unsigned v = 0;
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9') {
        if (n == 2) {
            return KS_ERR_INVALID_ARG;
        }
        v = v * 10 + (unsigned)(s[n] - '0');
        n++;
    }
    if (n == 0 || (n == 2 && s[0] == '0') || v >= KS_PCR_COUNT) {
        return KS_ERR_INVALID_ARG;
    }
    *p = s + n;
    *ret = v;
    return KS_OK;
}

/* One bank: "NAME:LIST" up to the end of [s, end). */
static int parse_bank(const char *s, const char *end, TPMS_PCR_SELECTION *ret)
{
    char name[16];
    const char *colon = memchr(s, ':', (size_t)(end - s));
    uint16_t alg;
    uint32_t mask = 0;
    if (!colon || (size_t)(colon - s) >= sizeof(name)) {
        return KS_ERR_INVALID_ARG;
    }
    memcpy(name, s, (size_t)(colon - s));
    name[colon - s] = '\0';
    if (ks_alg_from_name(name, &alg) != KS_OK) {
        return KS_ERR_INVALID_ARG;
    }
    const char *p = colon + 1;
    for (;;) {
        unsigned lo, hi;
        if (parse_index(&p, &lo) != KS_OK) {
            return KS_ERR_INVALID_ARG;
        }
        hi = lo;
        if (p < end && *p == '-') {
            p++;
            if (parse_index(&p, &hi) != KS_OK || hi < lo) {
                return KS_ERR_INVALID_ARG;
            }
        }
        for (unsigned i = lo; i <= hi; i++) {
            if (mask & (1u << i)) {
                return KS_ERR_INVALID_ARG;
            }
            mask |= 1u << i;
        }
        if (p == end) {
            break;
        }
        if (*p != ',') {
            return KS_ERR_INVALID_ARG;
        }
        p++;
    }
    memset(ret, 0, sizeof(*ret));
    ret->hash = alg;
    ret->sizeofSelect = 3;
    for (unsigned i = 0; i < 3; i++) {
        ret->pcrSelect[i] = (uint8_t)(mask >> (8 * i));
    }
    return KS_OK;
}

int ks_pcr_select_parse(const char *text, TPML_PCR_SELECTION *ret_sel)
{
    TPML_PCR_SELECTION sel;
    if (!text || !ret_sel) {
        return KS_ERR_INVALID_ARG;
    }
    memset(&sel, 0, sizeof(sel));
    const char *s = text;
    for (;;) {
        const char *end = strchr(s, '+');
        if (!end) {
            end = s + strlen(s);
        }
        if (sel.count >= KS_MAX_BANKS) {
            return KS_ERR_INVALID_ARG;
        }
        int r = parse_bank(s, end, &sel.pcrSelections[sel.count]);
        if (r != KS_OK) {
            return r;
        }
        for (uint32_t i = 0; i < sel.count; i++) {
            if (sel.pcrSelections[i].hash == sel.pcrSelections[sel.count].hash) {
                return KS_ERR_INVALID_ARG;
            }
        }
        sel.count++;
        if (*end == '\0') {
            break;
        }
        s = end + 1;
    }
    *ret_sel = sel;
    return KS_OK;
}

bool ks_pcr_select_equal(const TPML_PCR_SELECTION *a, const TPML_PCR_SELECTION *b)
{
    if (!a || !b || a->count != b->count || a->count > TPM2_NUM_PCR_BANKS) {
        return false;
    }
    for (uint32_t i = 0; i < a->count; i++) {
        const TPMS_PCR_SELECTION *x = &a->pcrSelections[i], *y = &b->pcrSelections[i];
        if (x->hash != y->hash || ks_pcr_selection_mask(x) != ks_pcr_selection_mask(y)) {
            return false;
        }
        /* PCRs above 31 (sizeofSelect > 4) are not in the mask: they must
         * be clear on both sides. */
        for (unsigned k = 4; k < TPM2_PCR_SELECT_MAX; k++) {
            if ((k < x->sizeofSelect && x->pcrSelect[k]) ||
                (k < y->sizeofSelect && y->pcrSelect[k])) {
                return false;
            }
        }
    }
    return true;
}

int ks_pcr_select_values(const TPML_PCR_SELECTION *sel, const struct ks_pcr_set *pcrs,
                         uint8_t **ret_buf, size_t *ret_len)
{
    size_t total = 0;
    if (!sel || !pcrs || !ret_buf || !ret_len) {
        return KS_ERR_INVALID_ARG;
    }
    if (ks_pcr_selection_validate(sel) != KS_OK) {
        return KS_ERR_QUOTE_PCR_SELECTION;
    }
    for (uint32_t i = 0; i < sel->count; i++) {
        uint32_t m = ks_pcr_selection_mask(&sel->pcrSelections[i]);
        for (unsigned p = 0; p < KS_PCR_COUNT; p++) {
            if (m & (1u << p)) {
                total += ks_alg_digest_size(sel->pcrSelections[i].hash);
            }
        }
    }
    uint8_t *buf = malloc(total ? total : 1);
    if (!buf) {
        return KS_ERR_NOMEM;
    }
    size_t off = 0;
    for (uint32_t i = 0; i < sel->count; i++) {
        uint16_t alg = sel->pcrSelections[i].hash;
        size_t dsize = ks_alg_digest_size(alg);
        uint32_t m = ks_pcr_selection_mask(&sel->pcrSelections[i]);
        for (unsigned p = 0; p < KS_PCR_COUNT; p++) {
            const uint8_t *v;
            if (!(m & (1u << p))) {
                continue;
            }
            if (ks_pcr_set_get(pcrs, alg, p, &v) != KS_OK) {
                free(buf);
                return KS_ERR_QUOTE_PCR_MISSING;
            }
            memcpy(buf + off, v, dsize);
            off += dsize;
        }
    }
    *ret_buf = buf;
    *ret_len = total;
    return KS_OK;
}
