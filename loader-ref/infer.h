/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_LOADER_INFER_H
#define KS_LOADER_INFER_H

/*
 * The end-to-end encryption of an inference request (man ks-loader(8),
 * "INFER"), shared by ks-client (the end user) and ks-loader:
 *
 *   info  = "ks-infer-v1" || 0x00 || key name || u32be key version
 *   (enc, ctx) = SetupBaseS(pkR, info)        RFC 9180 5.1.1, suite
 *                DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM
 *   plain = u8 1 (format) || u64be issued (Unix seconds) ||
 *           u32be max_new_tokens || prompt bytes
 *   ct    = ctx.Seal(aad = request id, plain)  RFC 9180 5.2 (sequence 0)
 *   rk    = ctx.Export("ks-infer-response", 32) RFC 9180 5.3
 *   reply = AES-256-GCM(key rk, 12-byte random nonce, completion,
 *                       aad = request id)       ciphertext || 16-byte tag
 *
 * The request id (1..64 bytes) is the client's choice. The relay sees the
 * key name and version, the id, enc, and the sizes; it cannot read or alter
 * the prompt, the token count or the completion, nor move a completion to
 * another request (the id is authenticated both ways and rk is unique to
 * the HPKE context). Replays are the loader's to refuse (same enc).
 */

#include <stddef.h>
#include <stdint.h>

#include "hpke.h"
#include "ks_error.h"

#define KS_INFER_LABEL "ks-infer-v1"
#define KS_INFER_EXPORT_CONTEXT "ks-infer-response"
#define KS_INFER_KEY_LEN 32
#define KS_INFER_NONCE_LEN 12
#define KS_INFER_TAG_LEN 16
#define KS_INFER_ID_MAX 64
#define KS_INFER_KEY_NAME_MAX 64
#define KS_INFER_FORMAT 1
#define KS_INFER_HEADER_LEN 13
/* Largest prompt a request may carry (the model's context is far smaller). */
#define KS_INFER_PROMPT_MAX (64u * 1024)
#define KS_INFER_INFO_MAX (sizeof(KS_INFER_LABEL) + KS_INFER_KEY_NAME_MAX + 4)

/* info for a key name ([A-Za-z0-9._-]{1,64}) and version (>= 1). ret holds
 * KS_INFER_INFO_MAX bytes. */
KS_WUR int ks_infer_info(const char *key_name, uint32_t version, uint8_t *ret, size_t size,
                         size_t *ret_len);

/* The client's side: seal a request to the request key pk. ret_ct holds
 * ct_size >= KS_INFER_HEADER_LEN + prompt_len + KS_INFER_TAG_LEN bytes.
 * ret_response_key gets rk. prompt_len 1..KS_INFER_PROMPT_MAX. */
KS_WUR int ks_infer_seal_request(const uint8_t pk[KS_HPKE_PK_LEN], const char *key_name,
                                 uint32_t version, const uint8_t *id, size_t id_len,
                                 uint64_t issued, uint32_t max_new, const uint8_t *prompt,
                                 size_t prompt_len, uint8_t ret_enc[KS_HPKE_ENC_LEN],
                                 uint8_t *ret_ct, size_t ct_size, size_t *ret_ct_len,
                                 uint8_t ret_response_key[KS_INFER_KEY_LEN]);

/* The loader's side: open a request with the request key sk (both the
 * plaintext and rk go to caller buffers, which should be locked memory).
 * KS_ERR_HPKE_OPEN when it does not authenticate (another key, another id,
 * tampered), nothing written then. The plaintext still has its header:
 * ks_infer_parse_plain(). */
KS_WUR int ks_infer_open_request(const uint8_t sk[KS_HPKE_SK_LEN], const char *key_name,
                                 uint32_t version, const uint8_t *id, size_t id_len,
                                 const uint8_t enc[KS_HPKE_ENC_LEN], const uint8_t *ct,
                                 size_t ct_len, uint8_t *ret_pt, size_t pt_size, size_t *ret_pt_len,
                                 uint8_t ret_response_key[KS_INFER_KEY_LEN]);

/* Split an opened plaintext: KS_ERR_PROTO_REQUEST for another format byte,
 * a short header or an empty prompt. The prompt points into pt. */
KS_WUR int ks_infer_parse_plain(const uint8_t *pt, size_t len, uint64_t *ret_issued,
                                uint32_t *ret_max_new, const uint8_t **ret_prompt,
                                size_t *ret_prompt_len);

/* AES-256-GCM of the completion (may be empty): ret holds size >= len +
 * KS_INFER_TAG_LEN bytes. */
KS_WUR int ks_infer_seal_response(const uint8_t key[KS_INFER_KEY_LEN],
                                  const uint8_t nonce[KS_INFER_NONCE_LEN], const uint8_t *id,
                                  size_t id_len, const uint8_t *pt, size_t len, uint8_t *ret,
                                  size_t size, size_t *ret_len);

/* Its inverse: KS_ERR_RESPONSE_OPEN when the tag does not verify (nothing
 * written to ret then). ret holds size >= ct_len - KS_INFER_TAG_LEN. */
KS_WUR int ks_infer_open_response(const uint8_t key[KS_INFER_KEY_LEN],
                                  const uint8_t nonce[KS_INFER_NONCE_LEN], const uint8_t *id,
                                  size_t id_len, const uint8_t *ct, size_t ct_len, uint8_t *ret,
                                  size_t size, size_t *ret_len);

#endif
