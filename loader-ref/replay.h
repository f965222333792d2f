/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_LOADER_REPLAY_H
#define KS_LOADER_REPLAY_H

/*
 * The loader's replay defence for INFER requests. Each request carries, in
 * its encrypted part, the time it was issued; the loader
 *   - refuses a request issued more than `window` seconds before or after
 *     its own clock (KS_ERR_INFER_STALE), and
 *   - refuses an `enc` (the HPKE encapsulated key, unique per request) that
 *     it has seen within the window (KS_ERR_INFER_REPLAY).
 * An entry can be dropped once its issue time is out of the window: a
 * replay of it would be stale anyway. So the cache is bounded and exact;
 * when `capacity` requests of the current window fill it, new requests are
 * refused (KS_ERR_REPLAY_FULL) rather than forgetting one that could still
 * be replayed.
 *
 * Slots are found by a keyed hash (SHA-256 under a random key), so that
 * chosen enc values cannot pile up in one bucket.
 */

#include <stddef.h>
#include <stdint.h>

#include "ks_error.h"

#define KS_REPLAY_ENC_LEN 32
#define KS_REPLAY_CAPACITY_MAX (1u << 22)

struct ks_replay;

/* capacity 1..KS_REPLAY_CAPACITY_MAX, window >= 1 second. */
KS_WUR int ks_replay_new(size_t capacity, uint64_t window, struct ks_replay **ret);

void ks_replay_free(struct ks_replay *c);

/* KS_OK when a request (enc, issued) may be served at time now; nothing is
 * recorded. */
KS_WUR int ks_replay_check(const struct ks_replay *c, const uint8_t enc[KS_REPLAY_ENC_LEN],
                           uint64_t issued, uint64_t now);

/* Check and record (after the request authenticated). KS_ERR_REPLAY_FULL
 * when the cache holds `capacity` entries still in the window. */
KS_WUR int ks_replay_add(struct ks_replay *c, const uint8_t enc[KS_REPLAY_ENC_LEN], uint64_t issued,
                         uint64_t now);

size_t ks_replay_count(const struct ks_replay *c);

#endif
