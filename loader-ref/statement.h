/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_LOADER_STATEMENT_H
#define KS_LOADER_STATEMENT_H

/*
 * What the keyserver signs with its receipt key (lib/receipt.h), checked
 * against the receipt key's SubjectPublicKeyInfo pinned by the checker:
 *
 *   - a request-key statement (GET /v1/keys/{name}/public, keyserverd
 *     ep_keys_public.c): the end user takes the request key's public half
 *     from the verified payload only, so a relay cannot substitute its own;
 *   - a release receipt (POST /v1/release): the loader checks that the
 *     keyserver it pins released exactly the keys it received to its AK.
 *
 * Both payloads are JSON; parsing is strict about what is read, and both
 * are parsed only after their signature verifies.
 */

#include <stddef.h>
#include <stdint.h>

#include "attest.h"
#include "hpke.h"
#include "ks_error.h"

struct ks_statement {
    char keyserver[128];
    char name[KS_ATTEST_KEY_NAME_MAX + 1];
    uint32_t version;
    uint8_t public_key[KS_HPKE_PK_LEN];
    char policy[KS_ATTEST_KEY_NAME_MAX + 1];
    uint32_t policy_version;
    int64_t time;
};

/*
 * Verify a GET /v1/keys/{name}/public answer: {"statement": {"payload",
 * "signature"}} (other members are ignored: everything used comes from the
 * signed payload). The payload must say {"v": 1, "type": "request-key",
 * "name": expect_name, "version": expect_version (any when 0),
 * "public_key": base64 of 32 bytes, "suite": {kem 0x20, kdf 1, aead 2}, ...}.
 * KS_ERR_RECEIPT_SIGNATURE when the signature does not verify with spki,
 * KS_ERR_STATEMENT for anything malformed or a statement about another key.
 */
KS_WUR int ks_statement_verify(const uint8_t *body, size_t len, const uint8_t *spki,
                               size_t spki_len, const char *expect_name, uint32_t expect_version,
                               struct ks_statement *ret);

/*
 * Check a release receipt: the signature with spki, then the payload
 * {"v": 1, "ak_id": ak_id, "keys": [{"name", "version", "share"?, ...}, ...],
 * ...} names exactly the keys of res (names and versions, any order), and
 * each entry's "share" ({"count", "index", "threshold"}) is absent for a
 * whole key of res and equal to res's share metadata for a share; and, when
 * res->has_request (ks_attest_release set it), "request_sha256" and
 * "hpke_pk_sha256" are the SHA-256 of the body sent and of the one-time
 * HPKE key. KS_ERR_RECEIPT_SIGNATURE, KS_ERR_RECEIPT_MISMATCH.
 */
KS_WUR int ks_statement_receipt_check(const uint8_t *spki, size_t spki_len,
                                      const struct ks_attest_result *res, const char *ak_id);

#endif
