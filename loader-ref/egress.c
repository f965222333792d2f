/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "egress.h"

int ks_egress_init(struct ks_egress *e, uint64_t budget, uint64_t window, uint64_t now)
{
    if (!e || budget == 0 || window == 0) {
        return KS_ERR_INVALID_ARG;
    }
    memset(e, 0, sizeof(*e));
    e->budget = budget;
    e->window = window;
    e->start = now;
    return KS_OK;
}

/* Move to the window that holds `now`. A clock that went back keeps the
 * current window (and its spending). */
static void roll(struct ks_egress *e, uint64_t now)
{
    if (now >= e->start && now - e->start >= e->window) {
        e->start += (now - e->start) / e->window * e->window;
        e->used = 0;
    }
}

int ks_egress_check(struct ks_egress *e, uint64_t bytes, uint64_t now)
{
    if (!e || e->window == 0) {
        return KS_ERR_INVALID_ARG;
    }
    roll(e, now);
    return bytes <= e->budget - e->used ? KS_OK : KS_ERR_EGRESS;
}

int ks_egress_take(struct ks_egress *e, uint64_t bytes, uint64_t now)
{
    int r = ks_egress_check(e, bytes, now);
    if (r == KS_OK) {
        e->used += bytes;
        e->sent_total += bytes;
    } else if (r == KS_ERR_EGRESS) {
        e->refused++;
        e->refused_bytes += bytes;
    }
    return r;
}

uint64_t ks_egress_left(struct ks_egress *e, uint64_t now)
{
    if (!e || e->window == 0) {
        return 0;
    }
    roll(e, now);
    return e->budget - e->used;
}
