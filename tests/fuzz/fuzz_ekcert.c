/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ekcert.h"
#include "makecred.h"

/*
 * EK certificates (from the network and from TPM NV), CRLs and the
 * credential structures. Invariants are checked with abort().
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ks_ekcert *c = NULL, **certs = NULL;
    struct ks_ekcert_info info;
    size_t der_len = 0, n = 0;
    if (ks_ekcert_parse_nv(data, size, &c, &der_len) == KS_OK) {
        if (der_len == 0 || der_len > size) {
            abort();
        }
        (void)!ks_ekcert_info(c, &info);
        ks_ekcert_free(c);
        c = NULL;
    }
    if (ks_ekcert_parse(data, size, &c) == KS_OK) {
        uint8_t *der = NULL;
        size_t len = 0;
        /* What parsed re-encodes (OpenSSL keeps the original encoding). */
        if (ks_ekcert_der(c, &der, &len) != KS_OK || len != size || memcmp(der, data, size)) {
            abort();
        }
        free(der);
        ks_ekcert_free(c);
    }
    if (ks_ekcert_parse_file(data, size, &certs, &n) == KS_OK) {
        if (n == 0 || n > KS_EKCERT_MAX_BUNDLE) {
            abort();
        }
        ks_ekcert_free_array(certs, n);
    }
    struct ks_ekca_store *st = NULL;
    if (ks_ekca_store_new(&st) == KS_OK) {
        (void)!ks_ekca_store_add_crl(st, data, size);
        (void)!ks_ekca_store_add_ca(st, data, size, 1);
        ks_ekca_store_free(st);
    }
    TPM2B_ID_OBJECT blob;
    TPM2B_ENCRYPTED_SECRET enc;
    if (ks_cred_file_decode(data, size, &blob, &enc) == KS_OK &&
        (blob.size > sizeof(blob.credential) || enc.size > sizeof(enc.secret))) {
        abort();
    }
    if (ks_cred_blob_decode(data, size, &blob) == KS_OK && blob.size + 2u != size) {
        abort();
    }
    return 0;
}
