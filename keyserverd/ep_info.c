/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdlib.h>

#include <jansson.h>

#include "encoding.h"
#include "hpke.h"
#include "keyserverd/endpoints.h"

/* GET /v1/info -> {"id", "version", "receipt_key", "suites"} (DESIGN
 * "Protocol"). receipt_key is the SubjectPublicKeyInfo DER (base64) of the
 * key that signs receipts and request-key statements: clients pin it. */
void ks_ep_info(struct ks_server_ctx *ctx, const struct ks_http_request *req,
                struct ks_http_reply *reply)
{
    char *spki_b64 = NULL;
    int r = KS_ERR_NOMEM;
    json_t *obj = NULL;

    /* The one suite releases use: RFC 9180 base mode, DHKEM(X25519,
     * HKDF-SHA256), HKDF-SHA256, AES-256-GCM. */
    json_t *suites =
        json_pack("[{s:i, s:i, s:i, s:s}]", "kem_id", KS_HPKE_KEM_X25519_SHA256, "kdf_id",
                  KS_HPKE_KDF_HKDF_SHA256, "aead_id", KS_HPKE_AEAD_AES_256_GCM, "name",
                  "DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM");
    if (!suites) {
        goto out;
    }
    obj = json_pack("{s:s, s:s, s:o}", "id", ctx->id, "version", PACKAGE_VERSION, "suites", suites);
    if (!obj) {
        goto out;
    }
    if (ctx->receipt_spki) {
        r = ks_base64_encode(ctx->receipt_spki, ctx->receipt_spki_len, &spki_b64);
        if (r != KS_OK) {
            goto out;
        }
        r = json_object_set_new(obj, "receipt_key", json_string(spki_b64)) == 0 ? KS_OK
                                                                                : KS_ERR_NOMEM;
        if (r != KS_OK) {
            goto out;
        }
    }
    r = ks_http_reply_json(reply, 200, obj);
out:
    if (r != KS_OK) {
        ks_http_reply_error(reply, r, "cannot build the response");
    }
    free(spki_b64);
    json_decref(obj);
}
