/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_LOADER_EGRESS_H
#define KS_LOADER_EGRESS_H

/*
 * The loader's egress budget: at most `budget` bytes sent out per window of
 * `window` seconds (fixed windows counted from the start), every byte of
 * every frame counted, the 4-byte length prefixes included. What would go
 * beyond it is not sent: the request is refused and counted. A refusal
 * itself is a fixed frame that carries no data (KS_EGRESS_REFUSAL_MAX
 * bytes): it is sent whatever the budget and counted apart, so that the
 * relay learns that it was refused and nothing else.
 *
 * A plain value type; the caller passes the time, so tests drive the clock.
 */

#include <stdint.h>

#include "ks_error.h"

struct ks_egress {
    uint64_t budget, window;
    uint64_t start;      /* the current window's first second */
    uint64_t used;       /* bytes sent in the current window */
    uint64_t sent_total; /* bytes sent, all windows */
    uint64_t refused;    /* responses refused */
    uint64_t refused_bytes;
};

/* budget >= 1 byte, window >= 1 second. */
KS_WUR int ks_egress_init(struct ks_egress *e, uint64_t budget, uint64_t window, uint64_t now);

/* Whether `bytes` more fit in the window that holds `now` (rolling over to
 * a new window first): KS_OK, or KS_ERR_EGRESS. Charges nothing. */
KS_WUR int ks_egress_check(struct ks_egress *e, uint64_t bytes, uint64_t now);

/* Charge `bytes` if they fit (KS_OK), else count a refusal of that size
 * (KS_ERR_EGRESS) and charge nothing. */
KS_WUR int ks_egress_take(struct ks_egress *e, uint64_t bytes, uint64_t now);

/* Bytes left in the window that holds `now`. */
uint64_t ks_egress_left(struct ks_egress *e, uint64_t now);

#endif
