/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_LOADER_OPS_H
#define KS_LOADER_OPS_H

/*
 * What ks-loader does with one request frame (man ks-loader(8),
 * "PROTOCOL"): LOAD a program signed by the pinned CI key whose weights are
 * the ones unsealed, INFER on a request encrypted to the request key, STATS.
 * Every response is charged to the egress budget (egress.h); one that does
 * not fit is replaced by the fixed refusal. A refused request changes
 * nothing but the counters: the loader keeps serving.
 *
 * No socket and no TPM here (loader_server.c and ks_loader.c hold those),
 * and generation is a callback, so the unit tests drive every path with a
 * fake model and their own clock.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "hpke.h"
#include "ks_error.h"
#include "model.h"

/* The egress refusal, sent whatever the budget (a fixed frame). */
#define KS_OPS_EGRESS_REFUSAL "{\"error\":\"egress_budget\",\"ok\":false}"

/* Greedy generation of n_new bytes into out (room for n_new): *out_len is
 * what was produced. */
typedef int (*ks_ops_generate_fn)(void *ctx, const uint8_t *prompt, size_t len, size_t n_new,
                                  uint8_t *out, size_t *out_len);

struct ks_loader_ops_config {
    /* the request key: name, version and private key (borrowed: secure
     * memory that outlives the ops) */
    const char *key_name;
    uint32_t key_version;
    const uint8_t *request_sk;
    /* the pinned CI public key (borrowed) */
    EVP_PKEY *ci_key;
    /* what was unsealed */
    const uint8_t *weights_sha256;
    const struct ks_model_dims *dims;
    /* limits */
    uint64_t egress_bytes, egress_window;
    uint64_t replay_window;
    size_t replay_cache;
    bool allow_unlocked;
    ks_ops_generate_fn generate;
    void *generate_ctx;
};

struct ks_loader_ops;

KS_WUR int ks_loader_ops_new(const struct ks_loader_ops_config *cfg, uint64_t now,
                             struct ks_loader_ops **ret);

void ks_loader_ops_free(struct ks_loader_ops *ops);

/*
 * One request payload (a frame's content) in, one response payload out
 * (newly allocated, not NUL-terminated, at most KS_FRAME_MAX bytes), at
 * time `now` (Unix seconds). ret_refused (may be NULL) gets the KS_ERR_*
 * of a refusal or KS_OK. Returns KS_OK whenever there is a response to
 * send (refusals included); an error only when none could be built.
 */
KS_WUR int ks_loader_ops_handle(struct ks_loader_ops *ops, const uint8_t *req, size_t len,
                                uint64_t now, uint8_t **ret, size_t *ret_len, int *ret_refused);

/* The response to a frame that could not be read (a bad length): charged
 * and counted like any other. */
KS_WUR int ks_loader_ops_frame_error(struct ks_loader_ops *ops, int err, uint64_t now,
                                     uint8_t **ret, size_t *ret_len);

/* The counters as the STATS response shows them (compact JSON, newly
 * allocated, NUL-terminated). */
KS_WUR int ks_loader_ops_stats_json(struct ks_loader_ops *ops, uint64_t now, char **ret);

#endif
