/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "replay.h"

struct slot {
    bool used;
    uint64_t issued;
    uint8_t enc[KS_REPLAY_ENC_LEN];
};

struct ks_replay {
    size_t capacity, count;
    size_t mask; /* slots - 1, slots a power of two >= 2 * capacity */
    uint64_t window;
    uint8_t key[32];
    struct slot *slots;
};

int ks_replay_new(size_t capacity, uint64_t window, struct ks_replay **ret)
{
    if (!ret || capacity == 0 || capacity > KS_REPLAY_CAPACITY_MAX || window == 0) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_replay *c = calloc(1, sizeof(*c));
    if (!c) {
        return KS_ERR_NOMEM;
    }
    size_t n = 2;
    while (n < 2 * capacity) {
        n *= 2;
    }
    c->slots = calloc(n, sizeof(*c->slots));
    if (!c->slots) {
        free(c);
        return KS_ERR_NOMEM;
    }
    if (RAND_bytes(c->key, sizeof(c->key)) != 1) {
        ks_replay_free(c);
        return KS_ERR_CRYPTO;
    }
    c->capacity = capacity;
    c->mask = n - 1;
    c->window = window;
    *ret = c;
    return KS_OK;
}

void ks_replay_free(struct ks_replay *c)
{
    if (!c) {
        return;
    }
    OPENSSL_cleanse(c->key, sizeof(c->key));
    free(c->slots);
    free(c);
}

static size_t slot_of(const struct ks_replay *c, const uint8_t enc[KS_REPLAY_ENC_LEN])
{
    uint8_t d[32];
    unsigned int dlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint64_t h = 0;
    if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
        EVP_DigestUpdate(ctx, c->key, sizeof(c->key)) == 1 &&
        EVP_DigestUpdate(ctx, enc, KS_REPLAY_ENC_LEN) == 1 &&
        EVP_DigestFinal_ex(ctx, d, &dlen) == 1) {
        memcpy(&h, d, sizeof(h));
    } else {
        /* Without a hash the table still works, only less evenly. */
        memcpy(&h, enc, sizeof(h));
    }
    EVP_MD_CTX_free(ctx);
    return (size_t)h & c->mask;
}

static bool expired(const struct ks_replay *c, uint64_t issued, uint64_t now)
{
    return issued < now && now - issued > c->window;
}

static bool stale(const struct ks_replay *c, uint64_t issued, uint64_t now)
{
    return expired(c, issued, now) || (issued > now && issued - now > c->window);
}

static const struct slot *find(const struct ks_replay *c, const uint8_t enc[KS_REPLAY_ENC_LEN])
{
    for (size_t i = slot_of(c, enc), n = 0; n <= c->mask; i = (i + 1) & c->mask, n++) {
        if (!c->slots[i].used) {
            return NULL;
        }
        if (memcmp(c->slots[i].enc, enc, KS_REPLAY_ENC_LEN) == 0) {
            return &c->slots[i];
        }
    }
    return NULL;
}

static void insert(struct ks_replay *c, const uint8_t enc[KS_REPLAY_ENC_LEN], uint64_t issued)
{
    size_t i = slot_of(c, enc);
    while (c->slots[i].used) {
        i = (i + 1) & c->mask;
    }
    c->slots[i].used = true;
    c->slots[i].issued = issued;
    memcpy(c->slots[i].enc, enc, KS_REPLAY_ENC_LEN);
    c->count++;
}

/* Drop every entry out of the window: rebuild the table (linear probing
 * has no cheap delete). */
static int sweep(struct ks_replay *c, uint64_t now)
{
    struct slot *old = c->slots;
    c->slots = calloc(c->mask + 1, sizeof(*c->slots));
    if (!c->slots) {
        c->slots = old;
        return KS_ERR_NOMEM;
    }
    c->count = 0;
    for (size_t i = 0; i <= c->mask; i++) {
        if (old[i].used && !expired(c, old[i].issued, now)) {
            insert(c, old[i].enc, old[i].issued);
        }
    }
    free(old);
    return KS_OK;
}

int ks_replay_check(const struct ks_replay *c, const uint8_t enc[KS_REPLAY_ENC_LEN],
                    uint64_t issued, uint64_t now)
{
    if (!c || !enc) {
        return KS_ERR_INVALID_ARG;
    }
    if (stale(c, issued, now)) {
        return KS_ERR_INFER_STALE;
    }
    return find(c, enc) ? KS_ERR_INFER_REPLAY : KS_OK;
}

int ks_replay_add(struct ks_replay *c, const uint8_t enc[KS_REPLAY_ENC_LEN], uint64_t issued,
                  uint64_t now)
{
    int r = ks_replay_check(c, enc, issued, now);
    if (r != KS_OK) {
        return r;
    }
    if (c->count == c->capacity) {
        r = sweep(c, now);
        if (r != KS_OK) {
            return r;
        }
        if (c->count == c->capacity) {
            return KS_ERR_REPLAY_FULL;
        }
    }
    insert(c, enc, issued);
    return KS_OK;
}

size_t ks_replay_count(const struct ks_replay *c)
{
    return c ? c->count : 0;
}
