/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keyserverd/release_request.h"

/*
 * The POST /v1/release body parser (untrusted JSON from the network) and the
 * key-reference parser. Invariants of an accepted request are checked with
 * abort(). Built a second time with KS_FUZZ_CBOR as fuzz_release_request_cbor:
 * the same invariants for the CBOR form.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > KS_KEY_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-", s[i])) {
            return false;
        }
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ks_release_request *req = NULL;
    char detail[256];
#ifdef KS_FUZZ_CBOR
    int r = ks_release_request_parse_cbor(data, size, &req, detail, sizeof(detail));
#else
    int r = ks_release_request_parse(data, size, &req, detail, sizeof(detail));
#endif
    if (r == KS_OK) {
        if (!req || req->n_keys == 0 || req->n_keys > KS_RELEASE_MAX_KEYS || req->attest_len == 0 ||
            req->attest_len > KS_RELEASE_MAX_ATTEST || req->signature_len == 0 ||
            req->signature_len > KS_RELEASE_MAX_SIGNATURE || req->ak_name_len < 2 ||
            req->ak_name_len > KS_AK_NAME_MAX || req->event_log_len > KS_RELEASE_MAX_EVENT_LOG ||
            req->ima_log_len > KS_RELEASE_MAX_IMA_LOG ||
            req->app_log_len > KS_RELEASE_MAX_APP_LOG) {
            abort();
        }
        for (size_t i = 0; i < req->n_keys; i++) {
            if (!name_ok(req->keys[i].name)) {
                abort();
            }
            for (size_t j = 0; j < i; j++) {
                if (req->keys[i].version == req->keys[j].version &&
                    strcmp(req->keys[i].name, req->keys[j].name) == 0) {
                    abort();
                }
            }
        }
        ks_release_request_free(req);
    } else if (req || (r != KS_ERR_BAD_REQUEST && r != KS_ERR_NOMEM)) {
        abort();
    } else if (memchr(detail, '\0', sizeof(detail)) == NULL) {
        abort();
    }
    struct ks_key_ref ref;
    if (ks_key_ref_parse((const char *)data, size, &ref) == KS_OK && !name_ok(ref.name)) {
        abort();
    }
    return 0;
}
