/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "keyserverd/ratelimit.h"

#define WAYS 8
#define MICRO 1000000ULL

struct entry {
    uint8_t key[16];
    bool used;
    uint64_t last_us; /* last refill */
    uint64_t tokens;  /* in millionths of a token */
};

struct set {
    pthread_mutex_t lock;
    struct entry e[WAYS];
};

struct ks_ratelimit {
    unsigned rate;
    uint64_t cap; /* burst in millionths of a token */
    uint64_t seed[2];
    size_t nsets; /* power of two */
    struct set *sets;
};

int ks_ratelimit_new(unsigned rate, unsigned burst, size_t capacity, struct ks_ratelimit **ret)
{
    if (!ret || (rate > 0 && burst == 0) || capacity == 0 || capacity > (1u << 24)) {
        return KS_ERR_INVALID_ARG;
    }
    size_t nsets = 1;
    while (nsets * WAYS < capacity) {
        nsets <<= 1;
    }
    struct ks_ratelimit *rl = calloc(1, sizeof(*rl));
    if (!rl) {
        return KS_ERR_NOMEM;
    }
    rl->sets = calloc(nsets, sizeof(*rl->sets));
    if (!rl->sets) {
        free(rl);
        return KS_ERR_NOMEM;
    }
    /* A secret seed, so that clients cannot choose addresses that crowd one
     * set (they could only evict each other there, but still). */
    if (RAND_bytes((unsigned char *)rl->seed, sizeof(rl->seed)) != 1) {
        free(rl->sets);
        free(rl);
        return KS_ERR_CRYPTO;
    }
    for (size_t i = 0; i < nsets; i++) {
        if (pthread_mutex_init(&rl->sets[i].lock, NULL) != 0) {
            while (i-- > 0) {
                pthread_mutex_destroy(&rl->sets[i].lock);
            }
            free(rl->sets);
            free(rl);
            return KS_ERR_NOMEM;
        }
    }
    rl->rate = rate;
    rl->cap = (uint64_t)burst * MICRO;
    rl->nsets = nsets;
    *ret = rl;
    return KS_OK;
}

void ks_ratelimit_free(struct ks_ratelimit *rl)
{
    if (!rl) {
        return;
    }
    for (size_t i = 0; i < rl->nsets; i++) {
        pthread_mutex_destroy(&rl->sets[i].lock);
    }
    free(rl->sets);
    free(rl);
}

size_t ks_ratelimit_capacity(const struct ks_ratelimit *rl)
{
    return rl ? rl->nsets * WAYS : 0;
}

/* The 16-byte key of a client address. */
static void client_key(const struct sockaddr *sa, uint8_t key[16])
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memset(key, 0, 16);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        memcpy(key, v4mapped, sizeof(v4mapped));
        memcpy(key + 12, &in->sin_addr, 4);
        return;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        const uint8_t *a = in6->sin6_addr.s6_addr;
        if (memcmp(a, v4mapped, sizeof(v4mapped)) == 0) {
            memcpy(key, a, 16);
        } else {
            memcpy(key, a, 8); /* the /64 */
        }
    }
    /* Other families (AF_UNIX) share the all-zero key: one bucket. */
}

static size_t set_of(const struct ks_ratelimit *rl, const uint8_t key[16])
{
    uint64_t a, b;
    memcpy(&a, key, 8);
    memcpy(&b, key + 8, 8);
    /* A seeded multiply-xorshift mix (not a MAC: only the spread matters). */
    uint64_t h = rl->seed[0] ^ a;
    h *= 0x9E3779B97F4A7C15ULL;
    h ^= h >> 32;
    h ^= b ^ rl->seed[1];
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 31;
    return (size_t)h & (rl->nsets - 1);
}

int ks_ratelimit_take(struct ks_ratelimit *rl, const struct sockaddr *addr, uint64_t now_us)
{
    uint8_t key[16];
    if (!rl || !addr) {
        return KS_ERR_INVALID_ARG;
    }
    if (rl->rate == 0) {
        return KS_OK;
    }
    client_key(addr, key);
    struct set *s = &rl->sets[set_of(rl, key)];
    int r;
    pthread_mutex_lock(&s->lock);
    struct entry *e = NULL, *victim = NULL;
    for (size_t i = 0; i < WAYS; i++) {
        struct entry *c = &s->e[i];
        if (c->used && memcmp(c->key, key, 16) == 0) {
            e = c;
            break;
        }
        if (!victim || (victim->used && (!c->used || c->last_us < victim->last_us))) {
            victim = c;
        }
    }
    if (!e) {
        e = victim;
        memcpy(e->key, key, 16);
        e->used = true;
        e->last_us = now_us;
        e->tokens = rl->cap;
    } else if (now_us > e->last_us) {
        /* Refill rate tokens per second, without overflow: past the time
         * that fills the bucket, it is full. */
        uint64_t elapsed = now_us - e->last_us;
        uint64_t need = rl->cap - e->tokens;
        if (elapsed >= need / rl->rate + 1) {
            e->tokens = rl->cap;
        } else {
            e->tokens += elapsed * rl->rate;
            if (e->tokens > rl->cap) {
                e->tokens = rl->cap;
            }
        }
        e->last_us = now_us;
    }
    /* A clock that went backwards refills nothing. */
    if (e->tokens >= MICRO) {
        e->tokens -= MICRO;
        r = KS_OK;
    } else {
        r = KS_ERR_RATE_LIMITED;
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

size_t ks_ratelimit_count(struct ks_ratelimit *rl)
{
    size_t n = 0;
    if (!rl) {
        return 0;
    }
    for (size_t i = 0; i < rl->nsets; i++) {
        pthread_mutex_lock(&rl->sets[i].lock);
        for (size_t j = 0; j < WAYS; j++) {
            n += rl->sets[i].e[j].used;
        }
        pthread_mutex_unlock(&rl->sets[i].lock);
    }
    return n;
}
