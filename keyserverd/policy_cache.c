/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "keyserverd/policy_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    struct ks_policy_compiled *cp; /* NULL: free slot */
    uint64_t used;                 /* tick of the last get or put */
};

struct ks_policy_cache {
    pthread_mutex_t mu;
    struct entry *e;
    size_t max_versions, max_rules, rules;
    uint64_t tick;
    unsigned long long hits, misses;
};

int ks_policy_cache_new(size_t max_versions, size_t max_rules, struct ks_policy_cache **ret)
{
    if (!ret || max_versions < 1 || max_versions > 4096 || max_rules < 1) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_policy_cache *c = calloc(1, sizeof(*c));
    if (!c || !(c->e = calloc(max_versions, sizeof(*c->e)))) {
        free(c);
        return KS_ERR_NOMEM;
    }
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c->e);
        free(c);
        return KS_ERR_NOMEM;
    }
    c->max_versions = max_versions;
    c->max_rules = max_rules;
    *ret = c;
    return KS_OK;
}

void ks_policy_cache_free(struct ks_policy_cache *c)
{
    if (!c) {
        return;
    }
    for (size_t i = 0; i < c->max_versions; i++) {
        ks_policy_compiled_unref(c->e[i].cp);
    }
    pthread_mutex_destroy(&c->mu);
    free(c->e);
    free(c);
}

static bool same_version(const struct ks_policy_compiled *cp, int64_t pv_id, uint32_t version)
{
    return cp && cp->pv_id == pv_id && cp->p->version == version;
}

struct ks_policy_compiled *ks_policy_cache_get(struct ks_policy_cache *c, int64_t pv_id,
                                               uint32_t version)
{
    struct ks_policy_compiled *found = NULL;
    if (!c || pv_id <= 0) {
        return NULL;
    }
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->max_versions; i++) {
        if (same_version(c->e[i].cp, pv_id, version)) {
            found = c->e[i].cp;
            ks_policy_compiled_ref(found);
            c->e[i].used = ++c->tick;
            break;
        }
    }
    if (found) {
        c->hits++;
    } else {
        c->misses++;
    }
    pthread_mutex_unlock(&c->mu);
    return found;
}

static void drop(struct ks_policy_cache *c, struct entry *e)
{
    c->rules -= e->cp->p->n_rules;
    ks_policy_compiled_unref(e->cp);
    memset(e, 0, sizeof(*e));
}

/* The least recently used entry; NULL when the cache is empty. */
static struct entry *oldest(struct ks_policy_cache *c)
{
    struct entry *o = NULL;
    for (size_t i = 0; i < c->max_versions; i++) {
        if (c->e[i].cp && (!o || c->e[i].used < o->used)) {
            o = &c->e[i];
        }
    }
    return o;
}

void ks_policy_cache_put(struct ks_policy_cache *c, struct ks_policy_compiled *cp)
{
    if (!c || !cp || cp->pv_id <= 0 || cp->p->n_rules > c->max_rules) {
        return;
    }
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->max_versions; i++) {
        if (same_version(c->e[i].cp, cp->pv_id, cp->p->version)) {
            /* Another thread compiled it meanwhile: keep one. */
            c->e[i].used = ++c->tick;
            pthread_mutex_unlock(&c->mu);
            return;
        }
    }
    struct entry *o;
    while (c->rules + cp->p->n_rules > c->max_rules && (o = oldest(c)) != NULL) {
        drop(c, o);
    }
    struct entry *slot = NULL;
    for (size_t i = 0; i < c->max_versions && !slot; i++) {
        slot = c->e[i].cp ? NULL : &c->e[i];
    }
    if (!slot && (slot = oldest(c)) != NULL) {
        drop(c, slot);
    }
    if (!slot) {
        pthread_mutex_unlock(&c->mu);
        return;
    }
    ks_policy_compiled_ref(cp);
    slot->cp = cp;
    slot->used = ++c->tick;
    c->rules += cp->p->n_rules;
    pthread_mutex_unlock(&c->mu);
}

void ks_policy_cache_stats(struct ks_policy_cache *c, struct ks_policy_cache_stats *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (!c) {
        return;
    }
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->max_versions; i++) {
        ret->versions += c->e[i].cp != NULL;
    }
    ret->rules = c->rules;
    ret->hits = c->hits;
    ret->misses = c->misses;
    pthread_mutex_unlock(&c->mu);
}
