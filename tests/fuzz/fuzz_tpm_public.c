/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "tpm_public.h"

/*
 * TPM2B_PUBLIC / TPMT_PUBLIC / SubjectPublicKeyInfo parsing, then everything
 * done with a decoded public area: the OpenSSL key, the Name and the AK
 * attribute check. Invariants are checked with abort(): a key converted from
 * a public area matches that public area, and the hex Name is the Name.
 */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* tpm2-tss logs every malformed input to stderr. */
    setenv("TSS2_LOG", "all+none", 1);
    return 0;
}

static void exercise(const TPMT_PUBLIC *pub)
{
    uint8_t name[KS_TPM_NAME_MAX];
    size_t len = 0;
    char hex[KS_TPM_NAME_HEX_MAX];
    char expect[KS_TPM_NAME_HEX_MAX];
    char attrs[256];

    if (ks_tpm_public_name(pub, name, &len) == KS_OK) {
        if (len < 2 || len > KS_TPM_NAME_MAX || ks_tpm_public_name_hex(pub, hex) != KS_OK) {
            abort();
        }
        ks_hex_encode(name, len, expect);
        if (strcmp(hex, expect) != 0 || ks_tpm_public_check_name(pub, name, len) != KS_OK) {
            abort();
        }
    }
    uint32_t bad = ks_tpm_public_ak_attr_problems(pub);
    if ((ks_tpm_public_check_ak(pub) == KS_OK) != (bad == 0)) {
        abort();
    }
    ks_tpm_attr_names(pub->objectAttributes, attrs, sizeof(attrs));

    EVP_PKEY *pkey = NULL;
    if (ks_tpm_public_to_evp(pub, &pkey) == KS_OK) {
        if (ks_tpm_public_matches(pub, pkey) != KS_OK || ks_tpm_public_check_pkey(pkey) != KS_OK) {
            abort();
        }
        EVP_PKEY_free(pkey);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    TPMT_PUBLIC pub;
    if (ks_tpm_public_decode(data, size, &pub) == KS_OK) {
        exercise(&pub);
        /* the same bytes without their size prefix are the TPMT_PUBLIC */
        TPMT_PUBLIC bare;
        if (ks_tpm_public_decode_tpmt(data + 2, size - 2, &bare) != KS_OK ||
            memcmp(&bare, &pub, sizeof(pub)) != 0) {
            abort();
        }
    }
    if (ks_tpm_public_decode_tpmt(data, size, &pub) == KS_OK) {
        exercise(&pub);
    }
    EVP_PKEY *pkey = NULL;
    if (ks_tpm_public_load_spki(data, size, &pkey) == KS_OK) {
        if (ks_tpm_public_check_pkey(pkey) != KS_OK) {
            abort();
        }
        EVP_PKEY_free(pkey);
    }
    return 0;
}
