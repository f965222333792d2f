/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "quote.h"
#include "tpm_alg.h"

/*
 * tpm2-tools' "serialized" PCR file (tpm2_quote -o, tpm2_pcrread -o; lib/pcr.c
 * pcr_fwrite_serialized in tpm2-tools 5.x). It is not TPM marshaling, so
 * Tss2_MU does not apply: it is fwrite() of the C structures, little-endian
 * (tpm2-tools converts count, hash and size fields with htole*), with the
 * compiler's padding:
 *
 *   TPML_PCR_SELECTION  132 bytes: u32 count,
 *                       16 x { u16 hash; u8 sizeofSelect; u8 pcrSelect[4]; u8 pad }
 *   u32 n               number of TPML_DIGEST that follow (at most 32)
 *   n x TPML_DIGEST     532 bytes each: u32 count (at most 8),
 *                       8 x { u16 size; u8 buffer[64] }
 *
 * The digests, read in order over all lists (each list is one TPM2_PCR_Read
 * answer, at most 8 values), are the selected PCR values in selection order.
 * Entries past a count are whatever was in memory and are ignored.
 */
#define SER_BANKS 16
#define SER_SEL_ENTRY 8
#define SER_SEL_SIZE (4 + SER_BANKS * SER_SEL_ENTRY)
#define SER_LIST_DIGESTS 8
#define SER_DIGEST_SIZE (2 + 64)
#define SER_LIST_SIZE (4 + SER_LIST_DIGESTS * SER_DIGEST_SIZE)
#define SER_MAX_LISTS 32

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

int ks_quote_pcrs_parse_tpm2_tools(const uint8_t *buf, size_t len, TPML_PCR_SELECTION *ret_sel,
                                   struct ks_pcr_set *ret_pcrs)
{
    if (!buf || !ret_pcrs) {
        return KS_ERR_INVALID_ARG;
    }
    if (!(len >= SER_SEL_SIZE + 4)) {
        return KS_ERR_QUOTE_PCR_FILE;
    }
    TPML_PCR_SELECTION sel;
    memset(&sel, 0, sizeof(sel));
    sel.count = le32(buf);
    if (sel.count > SER_BANKS) {
        return KS_ERR_QUOTE_PCR_FILE;
    }
    for (uint32_t i = 0; i < sel.count; i++) {
        const uint8_t *p = buf + 4 + i * SER_SEL_ENTRY;
        sel.pcrSelections[i].hash = le16(p);
        sel.pcrSelections[i].sizeofSelect = p[2];
        memcpy(sel.pcrSelections[i].pcrSelect, p + 3, TPM2_PCR_SELECT_MAX);
    }
    if (ks_pcr_selection_validate(&sel) < 0) {
        return KS_ERR_QUOTE_PCR_FILE;
    }

    uint32_t nlists = le32(buf + SER_SEL_SIZE);
    if (nlists > SER_MAX_LISTS || len - (SER_SEL_SIZE + 4) != (size_t)nlists * SER_LIST_SIZE) {
        return KS_ERR_QUOTE_PCR_FILE;
    }
    const uint8_t *lists = buf + SER_SEL_SIZE + 4;
    for (uint32_t l = 0; l < nlists; l++) {
        if (le32(lists + (size_t)l * SER_LIST_SIZE) > SER_LIST_DIGESTS) {
            return KS_ERR_QUOTE_PCR_FILE;
        }
    }

    struct ks_pcr_set set;
    ks_pcr_set_init(&set);
    uint32_t li = 0; /* current list */
    uint32_t di = 0; /* next digest in it */
    for (uint32_t i = 0; i < sel.count; i++) {
        const TPMS_PCR_SELECTION *s = &sel.pcrSelections[i];
        uint32_t mask = ks_pcr_selection_mask(s);
        size_t dlen = ks_alg_digest_size(s->hash);
        for (unsigned p = 0; p < KS_PCR_COUNT; p++) {
            if (!(mask & (1u << p))) {
                continue;
            }
            while (li < nlists && di >= le32(lists + (size_t)li * SER_LIST_SIZE)) {
                li++;
                di = 0;
            }
            if (li >= nlists) {
                return KS_ERR_QUOTE_PCR_FILE; /* fewer values than selected */
            }
            const uint8_t *d = lists + (size_t)li * SER_LIST_SIZE + 4 + di * SER_DIGEST_SIZE;
            if (le16(d) != dlen) {
                return KS_ERR_QUOTE_PCR_FILE;
            }
            int r = ks_pcr_set_put(&set, s->hash, p, d + 2, dlen);
            if (r < 0) {
                return r;
            }
            di++;
        }
    }
    /* No values beyond the selection. */
    for (; li < nlists; li++, di = 0) {
        if (di < le32(lists + (size_t)li * SER_LIST_SIZE)) {
            return KS_ERR_QUOTE_PCR_FILE;
        }
    }
    if (ret_sel) {
        *ret_sel = sel;
    }
    *ret_pcrs = set;
    return KS_OK;
}
