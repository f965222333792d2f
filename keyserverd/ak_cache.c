/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "keyserverd/ak_cache.h"
#include "tpm_public.h"

struct ak_entry {
    char id[KS_TPM_NAME_HEX_MAX + 1];
    struct ks_quote_ak *ak;
};

struct ks_ak_cache {
    pthread_rwlock_t lock;
    size_t max;
    size_t n;
    struct ak_entry *entries; /* sorted by id */
};

int ks_ak_cache_new(size_t max_entries, struct ks_ak_cache **ret)
{
    if (!ret || max_entries == 0 || max_entries > 1000000) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_ak_cache *c = calloc(1, sizeof(*c));
    if (!c) {
        return KS_ERR_NOMEM;
    }
    c->entries = calloc(max_entries, sizeof(*c->entries));
    if (!c->entries || pthread_rwlock_init(&c->lock, NULL) != 0) {
        free(c->entries);
        free(c);
        return KS_ERR_NOMEM;
    }
    c->max = max_entries;
    *ret = c;
    return KS_OK;
}

void ks_ak_cache_free(struct ks_ak_cache *c)
{
    if (!c) {
        return;
    }
    for (size_t i = 0; i < c->n; i++) {
        ks_quote_ak_free(c->entries[i].ak);
    }
    pthread_rwlock_destroy(&c->lock);
    free(c->entries);
    free(c);
}

/* Index of the first entry >= id. */
static size_t lower_bound(const struct ks_ak_cache *c, const char *id)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(c->entries[mid].id, id) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static const struct ks_quote_ak *lookup(struct ks_ak_cache *c, const char *id)
{
    size_t i = lower_bound(c, id);
    return i < c->n && strcmp(c->entries[i].id, id) == 0 ? c->entries[i].ak : NULL;
}

/* Parse and check a stored public area against its id. */
static int ak_parse(const char *ak_id, const uint8_t *blob, size_t len, struct ks_quote_ak **ret)
{
    TPMT_PUBLIC pub;
    char hex[KS_TPM_NAME_HEX_MAX + 1];
    int r = ks_tpm_public_decode(blob, len, &pub);
    if (r < 0) {
        return r;
    }
    r = ks_tpm_public_check_ak(&pub);
    if (r < 0) {
        return r;
    }
    r = ks_tpm_public_name_hex(&pub, hex);
    if (r < 0) {
        return r;
    }
    if (strcmp(hex, ak_id) != 0) {
        return KS_ERR_TPM_NAME;
    }
    return ks_quote_ak_new(&pub, NULL, ret);
}

int ks_ak_cache_get(struct ks_ak_cache *c, const char *ak_id, const uint8_t *blob, size_t len,
                    const struct ks_quote_ak **ret_ak, struct ks_quote_ak **ret_owned)
{
    if (!c || !ak_id || !blob || !ret_ak || !ret_owned || strlen(ak_id) > KS_TPM_NAME_HEX_MAX) {
        return KS_ERR_INVALID_ARG;
    }
    pthread_rwlock_rdlock(&c->lock);
    const struct ks_quote_ak *hit = lookup(c, ak_id);
    pthread_rwlock_unlock(&c->lock);
    if (hit) {
        *ret_ak = hit;
        *ret_owned = NULL;
        return KS_OK;
    }
    struct ks_quote_ak *ak = NULL;
    int r = ak_parse(ak_id, blob, len, &ak);
    if (r < 0) {
        return r;
    }
    pthread_rwlock_wrlock(&c->lock);
    hit = lookup(c, ak_id);
    if (hit) {
        /* Another thread parsed it meanwhile. */
        pthread_rwlock_unlock(&c->lock);
        ks_quote_ak_free(ak);
        *ret_ak = hit;
        *ret_owned = NULL;
        return KS_OK;
    }
    if (c->n < c->max) {
        size_t i = lower_bound(c, ak_id);
        memmove(&c->entries[i + 1], &c->entries[i], (c->n - i) * sizeof(c->entries[0]));
        memcpy(c->entries[i].id, ak_id, strlen(ak_id) + 1);
        c->entries[i].ak = ak;
        c->n++;
        pthread_rwlock_unlock(&c->lock);
        *ret_ak = ak;
        *ret_owned = NULL;
        return KS_OK;
    }
    pthread_rwlock_unlock(&c->lock);
    *ret_ak = ak;
    *ret_owned = ak;
    return KS_OK;
}
