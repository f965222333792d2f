/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_KEYSERVERD_RATELIMIT_H
#define KS_KEYSERVERD_RATELIMIT_H

/*
 * Per-client-address token buckets: `rate` tokens per second, at most
 * `burst` banked; each request takes one. Memory is fixed at creation: a
 * set-associative table (8 ways per set, one lock per set) that, when a set
 * is full, evicts its least recently seen client. An evicted client starts
 * again with a full bucket, so eviction can only make the limiter more
 * lenient for a client whose set is crowded, never refuse a newcomer.
 *
 * IPv6 clients are keyed by their /64 prefix (one subscriber usually holds a
 * whole /64); IPv4 and IPv4-mapped IPv6 clients by their full address.
 * Time is passed in (microseconds, monotonic) so tests control it.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ks_error.h"

#define KS_RATELIMIT_DEFAULT_CAPACITY 16384

struct ks_ratelimit;

/* rate: tokens per second (0 disables the limiter); burst >= 1 when rate >
 * 0; capacity: number of clients tracked (rounded up to a power of two,
 * at least 8). */
KS_WUR int ks_ratelimit_new(unsigned rate, unsigned burst, size_t capacity,
                            struct ks_ratelimit **ret);
void ks_ratelimit_free(struct ks_ratelimit *rl);

/* Take one token for the client at addr: KS_OK, or KS_ERR_RATE_LIMITED when
 * its bucket is empty. KS_ERR_INVALID_ARG for a NULL address. */
KS_WUR int ks_ratelimit_take(struct ks_ratelimit *rl, const struct sockaddr *addr, uint64_t now_us);

/* Number of clients currently tracked (for tests). */
size_t ks_ratelimit_count(struct ks_ratelimit *rl);

/* Number of entries the table can hold. */
size_t ks_ratelimit_capacity(const struct ks_ratelimit *rl);

#endif
