/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hpke.h"
#include "loader-ref/attest.h"

/*
 * The loader's parsers of keyserver answers (untrusted JSON from the
 * network): the /v1/release response (with a fixed HPKE key, so that only
 * structure is explored unless the fuzzer finds a ciphertext), the
 * /v1/challenge answer and the error object. Invariants of an accepted
 * response are checked with abort().
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const refs[] = {"dek", "req@2"};
    uint8_t ikm[32], sk[KS_HPKE_SK_LEN], pk[KS_HPKE_PK_LEN], nonce[KS_ATTEST_NONCE_LEN];
    struct ks_attest_result *res = NULL;
    struct ks_attest_error err;
    int64_t expires;
    memset(ikm, 0x42, sizeof(ikm));
    memset(nonce, 0x17, sizeof(nonce));
    if (ks_hpke_derive_keypair(KS_HPKE_SUITE_DEFAULT, ikm, sizeof(ikm), sk, pk) != KS_OK) {
        abort();
    }
    if (ks_attest_response_parse(data, size, refs, 2, nonce, sk, &res) == KS_OK) {
        if (!res || res->n_keys != 2 || strcmp(res->keys[0].name, "dek") != 0 ||
            strcmp(res->keys[1].name, "req") != 0 || res->keys[1].version != 2 ||
            res->keys[0].key_len == 0 || res->keys[0].key_len > KS_ATTEST_KEY_MAX ||
            res->receipt_payload_len == 0 || res->receipt_signature_len == 0) {
            abort();
        }
        ks_attest_result_free(res);
    }
    (void)ks_attest_challenge_parse(data, size, nonce, &expires);
    if (ks_attest_error_parse(400, data, size, &err) == KS_OK ||
        strlen(err.code) >= sizeof(err.code) || strlen(err.detail) >= sizeof(err.detail)) {
        abort();
    }
    return 0;
}
