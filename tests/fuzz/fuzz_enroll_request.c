/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keyserverd/enroll.h"

/*
 * The POST /v1/enroll and /v1/enroll/{id}/activate bodies (untrusted JSON
 * from the network). Invariants of an accepted request are checked with
 * abort().
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ks_enroll_request *req = NULL;
    char detail[256];
    uint8_t secret[KS_STORE_ENROLL_SECRET_MAX];
    size_t secret_len = 0;
    int r = ks_enroll_request_parse(data, size, &req, detail, sizeof(detail));
    if (r == KS_OK) {
        if (!req || req->ek_blob_len == 0 || req->ek_blob_len > KS_ENROLL_MAX_PUBLIC ||
            req->ak_blob_len == 0 || req->ak_blob_len > KS_ENROLL_MAX_PUBLIC ||
            req->ak_name_len < 2 || (req->ek_cert && req->ek_cert_len == 0) ||
            req->ek_cert_len > KS_ENROLL_MAX_CERT || strlen(req->ak_id) != 2 * req->ak_name_len) {
            abort();
        }
        ks_enroll_request_free(req);
    } else if (req || (r != KS_ERR_BAD_REQUEST && r != KS_ERR_NOMEM)) {
        abort();
    } else if (memchr(detail, '\0', sizeof(detail)) == NULL) {
        abort();
    }
    r = ks_enroll_activate_parse("0123456789abcdef0123456789abcdef", data, size, secret,
                                 &secret_len, detail, sizeof(detail));
    if (r == KS_OK && (secret_len == 0 || secret_len > sizeof(secret))) {
        abort();
    }
    if (r != KS_OK && r != KS_ERR_BAD_REQUEST && r != KS_ERR_NOMEM) {
        abort();
    }
    return 0;
}
