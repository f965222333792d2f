/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_LOADER_SHARES_H
#define KS_LOADER_SHARES_H

/*
 * k-of-n key shares across independent keyservers, the loader's side
 * (DESIGN "Scale and independence", man ks-loader(8) "KEY SHARES"): when
 * the primary keyserver releases the weights DEK as one share of a k-of-n
 * Shamir split (lib/shamir.h), the loader enrolls its AK with the
 * configured share keyservers, attests to each in turn and releases the
 * same DEK name@version from each, until it holds k shares with distinct
 * indexes of the same split shape; then it combines them.
 *
 * struct ks_share_set holds the shares collected so far (the values in
 * OpenSSL's secure heap, where released keys already are; wiped on free),
 * with the name of the keyserver each came from, for the log. It is pure
 * (no TPM, no network) and unit-tested; ks_shares_collect() runs the flow.
 * A wrong share (another split of the same shape) cannot be detected here:
 * it gives a wrong DEK, which the sealed file's authentication refuses.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tss2/tss2_tpm2_types.h>

#include "attest.h"
#include "http_client.h"
#include "ks_error.h"
#include "loader_config.h"
#include "tpm_ek.h"
#include "tpm_esys.h"

struct ks_share_set;

/* An empty set for shares of `len` bytes of a threshold-of-count split.
 * KS_ERR_SHAMIR_PARAMS unless 1 <= threshold <= count <= 255 and len is
 * 1..KS_SHAMIR_SECRET_MAX; KS_ERR_NOMEM. */
KS_WUR int ks_share_set_new(unsigned threshold, unsigned count, size_t len,
                            struct ks_share_set **ret);

/* Wipe the shares and free. NULL is a no-op. */
void ks_share_set_free(struct ks_share_set *set);

/*
 * Add a released key as the share from keyserver `source` (a name for the
 * log, at most KS_LOADER_KEYSERVER_NAME_MAX characters). The key is copied;
 * the caller still owns and wipes it. KS_ERR_SHAMIR_MISMATCH when the key
 * is not a share (share_index 0), or of another threshold or count, or of
 * another length; KS_ERR_SHAMIR_INDEX when its index is already held (or
 * beyond the count); KS_ERR_INVALID_ARG for NULL arguments, a source name
 * too long, or a set already complete. Nothing changes on failure.
 */
KS_WUR int ks_share_set_add(struct ks_share_set *set, const char *source,
                            const struct ks_attest_key *key);

/* How many shares are held, and how many are needed. */
size_t ks_share_set_held(const struct ks_share_set *set);
size_t ks_share_set_needed(const struct ks_share_set *set);

/* "primary: 1, ks-c: 3": where each share came from and its index (no
 * values), truncated to buflen. */
void ks_share_set_describe(const struct ks_share_set *set, char *buf, size_t buflen);

/* Combine the threshold shares into ret_secret (len bytes: the shares'
 * length), e.g. secure memory. KS_ERR_SHAMIR_TOO_FEW while fewer are held,
 * KS_ERR_SHAMIR_MISMATCH for another len, KS_ERR_INVALID_ARG. */
KS_WUR int ks_share_set_combine(const struct ks_share_set *set, uint8_t *ret_secret, size_t len);

/* The flow's inputs: the TPM and the AK that the primary release used (kept
 * until the last share release), and what to ask for. */
struct ks_shares_flow {
    struct ks_tpm *tpm;
    struct ks_tpm_ak *ak;
    const char *ak_id;
    enum ks_tpm_ek_kind ek_kind;
    bool send_ek_cert;
    bool ak_registered;  /* TEST ONLY (ak_dir): the AK is registered by an admin, no enrollment */
    const char *dek_ref; /* NAME@VERSION, as the primary released it */
    const TPML_PCR_SELECTION *sel;
    const char *event_log_path;
    const char *ima_log_path;
    const char *app_log_path;
};

/*
 * Ask the share keyservers servers[0..n) in order, until `set` is
 * complete: for each, enroll the AK (its own HTTP options), release
 * flow->dek_ref alone with a fresh quote, verify the receipt with its own
 * pinned receipt key, and add the share (ks_share_set_add). A keyserver
 * that fails in any way is logged on stderr with its name and the reason,
 * and skipped. KS_OK when the set is complete; KS_ERR_SHAMIR_TOO_FEW (after
 * logging "obtained H of the K key shares needed: NAME: REASON; ...")
 * otherwise; KS_ERR_INVALID_ARG.
 */
KS_WUR int ks_shares_collect(const struct ks_shares_flow *flow,
                             const struct ks_loader_keyserver *servers, size_t n,
                             struct ks_share_set *set);

/*
 * The whole share path of ks-loader: `primary` (the primary keyserver's
 * released DEK, a share, its receipt already verified) starts a set of its
 * threshold and count, ks_shares_collect() completes it, and the shares are
 * combined into ret_dek (dek_len bytes: the caller's secure memory). Logs
 * where the shares came from (names and indexes, never values). The set is
 * wiped on every path. Errors: ks_share_set_new's, ks_share_set_add's (a
 * primary share of another length than dek_len: KS_ERR_SHAMIR_MISMATCH),
 * ks_shares_collect's, ks_shamir_combine's.
 */
KS_WUR int ks_shares_obtain(const struct ks_shares_flow *flow, const struct ks_attest_key *primary,
                            const struct ks_loader_keyserver *servers, size_t n, uint8_t *ret_dek,
                            size_t dek_len);

#endif
