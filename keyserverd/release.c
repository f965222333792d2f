/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "keyserverd/release.h"
#include "keyserverd/state.h"

void ks_release_request_free(struct ks_release_request *req)
{
    if (!req) {
        return;
    }
    free(req->attest);
    free(req->signature);
    free(req->event_log);
    free(req->ima_log);
    free(req->app_log);
    free(req);
}

void ks_release_result_clear(struct ks_release_result *res)
{
    if (!res) {
        return;
    }
    for (size_t i = 0; i < res->n_keys && i < KS_RELEASE_MAX_KEYS; i++) {
        OPENSSL_clear_free(res->keys[i].ciphertext, res->keys[i].ciphertext_len);
    }
    free(res->receipt_payload);
    free(res->receipt_signature);
    memset(res, 0, sizeof(*res));
}
