/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "tpm_alg.h"
#include "keyserverd/nonce.h"

/* Bytes of the nonce covered by the tag, and the replay cache key. */
#define ID_LEN 16

struct ks_nonce {
    uint8_t *key; /* KS_NONCE_KEY_LEN bytes, secure heap */
    unsigned lifetime;

    pthread_mutex_t lock;
    size_t capacity;   /* most entries, live or not yet swept */
    size_t mask;       /* table size - 1 (power of two >= 2 * capacity) */
    size_t used;       /* non-empty slots */
    uint64_t swept_at; /* time of the last sweep */
    uint8_t (*table)[ID_LEN];
    uint8_t (*scratch)[ID_LEN];
};

static uint64_t load_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static void store_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

int ks_nonce_new(const uint8_t *key, size_t key_len, unsigned lifetime, size_t capacity,
                 struct ks_nonce **ret)
{
    if (!key || key_len != KS_NONCE_KEY_LEN || lifetime == 0 || capacity == 0 ||
        capacity > (SIZE_MAX / 4) / ID_LEN || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    size_t size = 2;
    while (size < 2 * capacity) {
        size <<= 1;
    }
    struct ks_nonce *n = calloc(1, sizeof(*n));
    if (!n) {
        return KS_ERR_NOMEM;
    }
    n->key = OPENSSL_secure_malloc(KS_NONCE_KEY_LEN);
    n->table = calloc(size, ID_LEN);
    n->scratch = calloc(size, ID_LEN);
    if (!n->key || !n->table || !n->scratch || pthread_mutex_init(&n->lock, NULL) != 0) {
        OPENSSL_secure_free(n->key);
        free(n->table);
        free(n->scratch);
        free(n);
        return KS_ERR_NOMEM;
    }
    memcpy(n->key, key, KS_NONCE_KEY_LEN);
    n->lifetime = lifetime;
    n->capacity = capacity;
    n->mask = size - 1;
    n->swept_at = UINT64_MAX; /* never swept */
    *ret = n;
    return KS_OK;
}

void ks_nonce_free(struct ks_nonce *n)
{
    if (!n) {
        return;
    }
    OPENSSL_secure_clear_free(n->key, KS_NONCE_KEY_LEN);
    pthread_mutex_destroy(&n->lock);
    free(n->table);
    free(n->scratch);
    free(n);
}

static int tag(const struct ks_nonce *n, const uint8_t id[ID_LEN], uint8_t out[KS_NONCE_TAG_LEN])
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC(ks_alg_md(KS_ALG_SHA256), n->key, KS_NONCE_KEY_LEN, id, ID_LEN, mac, &mac_len) ||
        mac_len != 32) {
        return KS_ERR_CRYPTO;
    }
    /* Truncated HMAC (RFC 2104 section 5): 128 bits. */
    memcpy(out, mac, KS_NONCE_TAG_LEN);
    OPENSSL_cleanse(mac, sizeof(mac));
    return KS_OK;
}

int ks_nonce_issue(struct ks_nonce *n, uint64_t now, uint8_t ret_nonce[KS_NONCE_LEN],
                   uint64_t *ret_expires)
{
    uint8_t buf[KS_NONCE_LEN];
    if (!n || !ret_nonce || !ret_expires || now > UINT64_MAX - n->lifetime) {
        return KS_ERR_INVALID_ARG;
    }
    uint64_t expires = now + n->lifetime;
    store_be64(buf, expires);
    if (RAND_bytes(buf + 8, 8) != 1) {
        return KS_ERR_CRYPTO;
    }
    int r = tag(n, buf, buf + ID_LEN);
    if (r != KS_OK) {
        return r;
    }
    memcpy(ret_nonce, buf, KS_NONCE_LEN);
    *ret_expires = expires;
    return KS_OK;
}

int ks_nonce_check(const struct ks_nonce *n, const uint8_t *nonce, size_t len, uint64_t now)
{
    uint8_t want[KS_NONCE_TAG_LEN];
    if (!n || (!nonce && len > 0)) {
        return KS_ERR_INVALID_ARG;
    }
    if (len != KS_NONCE_LEN) {
        return KS_ERR_NONCE_INVALID;
    }
    int r = tag(n, nonce, want);
    if (r != KS_OK) {
        return r;
    }
    /* The tag first, in constant time: nothing about the expiry of an
     * unauthenticated nonce is worth reporting. */
    if (CRYPTO_memcmp(want, nonce + ID_LEN, KS_NONCE_TAG_LEN) != 0) {
        return KS_ERR_NONCE_INVALID;
    }
    uint64_t expiry = load_be64(nonce);
    if (now >= expiry) {
        return KS_ERR_NONCE_EXPIRED;
    }
    /* Issued under a longer lifetime or with the clock ahead: not one that
     * this configuration issues, and it would pin a cache slot too long. */
    if (expiry - now > n->lifetime) {
        return KS_ERR_NONCE_INVALID;
    }
    return KS_OK;
}

static size_t slot_of(const struct ks_nonce *n, const uint8_t id[ID_LEN])
{
    /* Bytes 8..15 are our own random bytes (authenticated by the tag), so
     * a client cannot aim entries at one chain. */
    return (size_t)load_be64(id + 8) & n->mask;
}

static bool empty(const uint8_t slot[ID_LEN])
{
    /* An expiry of 0 is never issued. */
    return load_be64(slot) == 0;
}

/* Drop expired entries by rehashing the live ones into the scratch table.
 * Called with the lock held. */
static void sweep(struct ks_nonce *n, uint64_t now)
{
    size_t size = n->mask + 1;
    memset(n->scratch, 0, size * ID_LEN);
    size_t used = 0;
    for (size_t i = 0; i < size; i++) {
        if (empty(n->table[i]) || load_be64(n->table[i]) <= now) {
            continue;
        }
        size_t j = slot_of(n, n->table[i]);
        while (!empty(n->scratch[j])) {
            j = (j + 1) & n->mask;
        }
        memcpy(n->scratch[j], n->table[i], ID_LEN);
        used++;
    }
    uint8_t(*t)[ID_LEN] = n->table;
    n->table = n->scratch;
    n->scratch = t;
    n->used = used;
    n->swept_at = now;
}

int ks_nonce_consume(struct ks_nonce *n, const uint8_t *nonce, size_t len, uint64_t now)
{
    int r = ks_nonce_check(n, nonce, len, now);
    if (r != KS_OK) {
        return r;
    }
    pthread_mutex_lock(&n->lock);
    size_t i = slot_of(n, nonce);
    /* Linear probing; the table is at most half full, so an empty slot
     * ends every chain. */
    while (!empty(n->table[i])) {
        if (memcmp(n->table[i], nonce, ID_LEN) == 0) {
            r = KS_ERR_NONCE_USED;
            goto out;
        }
        i = (i + 1) & n->mask;
    }
    if (n->used >= n->capacity) {
        /* Expiry has one-second granularity: a second sweep within the
         * same second cannot free anything. */
        if (n->swept_at != now) {
            sweep(n, now);
        }
        if (n->used >= n->capacity) {
            r = KS_ERR_NONCE_CACHE_FULL;
            goto out;
        }
        i = slot_of(n, nonce);
        while (!empty(n->table[i])) {
            i = (i + 1) & n->mask;
        }
    }
    memcpy(n->table[i], nonce, ID_LEN);
    n->used++;
    r = KS_OK;
out:
    pthread_mutex_unlock(&n->lock);
    return r;
}

size_t ks_nonce_cache_count(struct ks_nonce *n, uint64_t now)
{
    size_t live = 0;
    if (!n) {
        return 0;
    }
    pthread_mutex_lock(&n->lock);
    for (size_t i = 0; i <= n->mask; i++) {
        if (!empty(n->table[i]) && load_be64(n->table[i]) > now) {
            live++;
        }
    }
    pthread_mutex_unlock(&n->lock);
    return live;
}

bool ks_nonce_cache_full(struct ks_nonce *n, uint64_t now)
{
    bool full;
    if (!n) {
        return true;
    }
    pthread_mutex_lock(&n->lock);
    if (n->used >= n->capacity && n->swept_at != now) {
        sweep(n, now);
    }
    full = n->used >= n->capacity;
    pthread_mutex_unlock(&n->lock);
    return full;
}
