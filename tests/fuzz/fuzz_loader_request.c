/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "hpke.h"
#include "loader-ref/frame.h"
#include "loader-ref/loader_ops.h"
#include "loader-ref/proto.h"

/*
 * What the loader's socket accepts from the untrusted relay: one frame's
 * payload through the request parser and through the whole request
 * handling of a loader with a fixed request key, CI key and a fake model
 * (LOAD signature checks, INFER decryption, replay and egress accounting,
 * STATS). Invariants checked with abort(): every request gets one answer,
 * a JSON object with a boolean "ok", within the frame cap.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fake_generate(void *ctx, const uint8_t *prompt, size_t len, size_t n_new, uint8_t *out,
                         size_t *out_len)
{
    (void)ctx;
    for (size_t i = 0; i < n_new; i++) {
        out[i] = prompt[i % len];
    }
    *out_len = n_new;
    return KS_OK;
}

static struct ks_loader_ops *ops_once(void)
{
    static struct ks_loader_ops *ops;
    static uint8_t sk[KS_HPKE_SK_LEN], pk[KS_HPKE_PK_LEN], sha[32];
    static struct ks_model_dims dims = KS_MODEL_DEFAULT_DIMS;
    if (ops) {
        return ops;
    }
    uint8_t ikm[32];
    memset(ikm, 0x42, sizeof(ikm));
    memset(sha, 0x17, sizeof(sha));
    EVP_PKEY *ci = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, ikm, 32);
    if (!ci || ks_hpke_derive_keypair(KS_HPKE_SUITE_DEFAULT, ikm, sizeof(ikm), sk, pk) != KS_OK) {
        abort();
    }
    const struct ks_loader_ops_config c = {
        .key_name = "req",
        .key_version = 1,
        .request_sk = sk,
        .ci_key = ci,
        .weights_sha256 = sha,
        .dims = &dims,
        .egress_bytes = 1u << 30,
        .egress_window = 60,
        .replay_window = 300,
        .replay_cache = 1024,
        .allow_unlocked = true,
        .generate = fake_generate,
    };
    if (ks_loader_ops_new(&c, 1700000000, &ops) != KS_OK) {
        abort();
    }
    return ops;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ks_proto_request req;
    char detail[160];
    if (ks_proto_request_parse(data, size, &req, detail, sizeof(detail)) == KS_OK) {
        if (req.op < KS_PROTO_LOAD || req.op > KS_PROTO_STATS ||
            (req.op == KS_PROTO_INFER &&
             (req.id_len == 0 || req.id_len > KS_INFER_ID_MAX || req.ct_len < KS_INFER_TAG_LEN))) {
            abort();
        }
        ks_proto_request_clear(&req);
    }
    uint8_t *resp = NULL;
    size_t len = 0;
    int refused = 0;
    if (ks_loader_ops_handle(ops_once(), data, size, 1700000000, &resp, &len, &refused) != KS_OK) {
        abort();
    }
    json_error_t jerr;
    json_t *o = json_loadb((const char *)resp, len, 0, &jerr);
    if (len == 0 || len > KS_FRAME_MAX || !json_is_boolean(json_object_get(o, "ok")) ||
        json_is_true(json_object_get(o, "ok")) != (refused == KS_OK)) {
        abort();
    }
    json_decref(o);
    free(resp);
    return 0;
}
