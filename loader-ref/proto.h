/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_LOADER_PROTO_H
#define KS_LOADER_PROTO_H

/*
 * The messages of the loader's socket protocol (man ks-loader(8),
 * "PROTOCOL"), each one JSON object in one frame (frame.h). Parsing is
 * strict: JSON_REJECT_DUPLICATES, every member of the right type, no
 * unknown member, base64 strictly decoded, sizes capped.
 *
 * Requests:
 *   {"op": "load", "program": {"manifest": B64, "signature": B64}}
 *   {"op": "infer", "key": NAME, "version": N, "id": B64 (1..64 bytes),
 *    "enc": B64 (32 bytes), "ct": B64}
 *   {"op": "stats"}
 * Responses:
 *   {"ok": true, "op": "load", "program": NAME, "manifest_sha256": HEX}
 *   {"ok": true, "op": "infer", "id": B64, "nonce": B64 (12), "ct": B64}
 *   {"ok": true, "op": "stats", "stats": {...}}
 *   {"ok": false, "error": CODE, "detail": TEXT}
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hpke.h"
#include "infer.h"
#include "ks_error.h"

enum ks_proto_op {
    KS_PROTO_LOAD = 1,
    KS_PROTO_INFER = 2,
    KS_PROTO_STATS = 3,
};

/* The largest INFER ciphertext: header, prompt and tag. */
#define KS_PROTO_CT_MAX (KS_INFER_HEADER_LEN + KS_INFER_PROMPT_MAX + KS_INFER_TAG_LEN)

struct ks_proto_request {
    enum ks_proto_op op;
    /* load: the signed program, re-encoded as compact JSON (NUL-terminated) */
    char *program;
    size_t program_len;
    /* infer */
    char key[KS_INFER_KEY_NAME_MAX + 1];
    uint32_t version;
    uint8_t id[KS_INFER_ID_MAX];
    size_t id_len;
    uint8_t enc[KS_HPKE_ENC_LEN];
    uint8_t *ct;
    size_t ct_len;
};

/* Parse a request. KS_ERR_PROTO_REQUEST (with a reason in detail) for
 * anything malformed, KS_ERR_TOO_LARGE for a program or ciphertext past its
 * cap. Clear *ret with ks_proto_request_clear() after success. */
KS_WUR int ks_proto_request_parse(const uint8_t *buf, size_t len, struct ks_proto_request *ret,
                                  char *detail, size_t detail_len);

void ks_proto_request_clear(struct ks_proto_request *req);

/* Build requests (client side); the results are NUL-terminated. */
KS_WUR int ks_proto_load_build(const uint8_t *signed_program, size_t len, char **ret,
                               size_t *ret_len);
KS_WUR int ks_proto_infer_build(const char *key, uint32_t version, const uint8_t *id, size_t id_len,
                                const uint8_t enc[KS_HPKE_ENC_LEN], const uint8_t *ct,
                                size_t ct_len, char **ret, size_t *ret_len);
KS_WUR int ks_proto_stats_build(char **ret, size_t *ret_len);

/* The protocol's error code for a KS_ERR_* (one mapping, for the loader). */
const char *ks_proto_error_code(int err);

/* {"ok": false, "error": code, "detail": detail} (detail may be NULL). */
KS_WUR int ks_proto_error_build(const char *code, const char *detail, char **ret, size_t *ret_len);

KS_WUR int ks_proto_infer_reply_build(const uint8_t *id, size_t id_len,
                                      const uint8_t nonce[KS_INFER_NONCE_LEN], const uint8_t *ct,
                                      size_t ct_len, char **ret, size_t *ret_len);

/* A response, as the client reads it. */
struct ks_proto_response {
    bool ok;
    char error[32];   /* when !ok; printable ASCII */
    char detail[256]; /* when !ok; printable ASCII, truncated */
    /* infer */
    uint8_t id[KS_INFER_ID_MAX];
    size_t id_len;
    uint8_t nonce[KS_INFER_NONCE_LEN];
    uint8_t *ct;
    size_t ct_len;
    /* load, stats: the whole object, compact JSON (NUL-terminated) */
    char *json;
};

/* Parse a response to a request of type op. KS_ERR_PROTO_REQUEST when it
 * is malformed. A refusal ({"ok": false}) is a success of this function
 * with ret->ok false. */
KS_WUR int ks_proto_response_parse(const uint8_t *buf, size_t len, enum ks_proto_op op,
                                   struct ks_proto_response *ret);

void ks_proto_response_clear(struct ks_proto_response *resp);

#endif
