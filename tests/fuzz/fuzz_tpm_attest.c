/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quote.h"
#include "tpm_attest.h"

/*
 * TPMS_ATTEST (raw and TPM2B), TPMT_SIGNATURE, PCR selection validation and
 * the other quote-side parsers that take untrusted bytes: tpm2-tools'
 * serialized PCR file and "values in selection order". Invariants are
 * checked with abort().
 */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    setenv("TSS2_LOG", "all+none", 1);
    return 0;
}

static void selection(const TPML_PCR_SELECTION *sel, const uint8_t *data, size_t size)
{
    char buf[256];
    unsigned n = ks_pcr_selection_count(sel);
    ks_pcr_selection_format(sel, buf, sizeof(buf));
    if (ks_pcr_selection_validate(sel) != KS_OK) {
        return;
    }
    if (n > KS_MAX_BANKS * KS_PCR_COUNT) {
        abort();
    }
    struct ks_pcr_set set;
    if (ks_quote_pcrs_from_values(sel, data, size, &set) == KS_OK) {
        uint8_t d[KS_MAX_DIGEST];
        size_t dlen = 0;
        if (ks_quote_pcr_digest(sel, &set, KS_ALG_SHA256, d, &dlen) != KS_OK || dlen != 32) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    TPMS_ATTEST a;
    if (ks_tpm_attest_decode(data, size, &a) == KS_OK) {
        struct ks_quote_info info;
        if (ks_quote_info_decode(data, size, &info) != KS_OK || info.magic != a.magic) {
            abort();
        }
        if (a.type == TPM2_ST_ATTEST_QUOTE) {
            selection(&a.attested.quote.pcrSelect, data, size);
        }
    }
    if (ks_tpm_attest_decode_tpm2b(data, size, &a) == KS_OK && a.type == TPM2_ST_ATTEST_QUOTE) {
        selection(&a.attested.quote.pcrSelect, data, size);
    }
    TPMT_SIGNATURE s;
    if (ks_tpm_signature_decode(data, size, &s) == KS_OK) {
        (void)ks_quote_sig_alg_name(s.sigAlg);
    }
    TPML_PCR_SELECTION sel;
    struct ks_pcr_set set;
    if (ks_quote_pcrs_parse_tpm2_tools(data, size, &sel, &set) == KS_OK) {
        if (ks_pcr_selection_validate(&sel) != KS_OK) {
            abort();
        }
        /* every selected value is there */
        uint8_t d[KS_MAX_DIGEST];
        size_t dlen = 0;
        if (ks_quote_pcr_digest(&sel, &set, KS_ALG_SHA384, d, &dlen) != KS_OK) {
            abort();
        }
    }
    return 0;
}
