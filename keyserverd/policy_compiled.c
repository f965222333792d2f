/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "keyserverd/policy_compiled.h"

#include <stdlib.h>
#include <string.h>

static int cmp_path(const void *a, const void *b)
{
    const struct ks_rule_dec *x = *(const struct ks_rule_dec *const *)a;
    const struct ks_rule_dec *y = *(const struct ks_rule_dec *const *)b;
    return strcmp(x->text, y->text);
}

static void compiled_free(struct ks_policy_compiled *cp)
{
    for (size_t i = 0; cp->dec && i < cp->p->n_rules; i++) {
        ks_rule_dec_clear(&cp->dec[i]);
    }
    free(cp->dec);
    free(cp->dec_rc);
    for (int k = 0; k <= KS_RULE_KIND_MAX; k++) {
        free(cp->of[k]);
    }
    free(cp->ima_files);
    for (size_t i = 0; i < cp->owned.n_rules; i++) {
        free(cp->owned.rules[i].data);
    }
    free(cp->owned.rules);
    free(cp);
}

static bool kind_known(enum ks_rule_kind k)
{
    return k > KS_RULE_UNKNOWN && k <= KS_RULE_KIND_MAX;
}

int ks_policy_compile(const struct ks_store_policy *policy, int64_t pv_id,
                      struct ks_policy_compiled **ret)
{
    if (!policy || !ret || (policy->n_rules > 0 && !policy->rules)) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_policy_compiled *cp = calloc(1, sizeof(*cp));
    if (!cp) {
        return KS_ERR_NOMEM;
    }
    const size_t n = policy->n_rules;
    cp->p = policy; /* borrowed until the end: compiled_free frees no rule */
    cp->pv_id = pv_id;
    atomic_init(&cp->refs, 1);
    int r = KS_ERR_NOMEM;
    if (!(cp->dec = calloc(n ? n : 1, sizeof(*cp->dec))) ||
        !(cp->dec_rc = calloc(n ? n : 1, sizeof(*cp->dec_rc)))) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        enum ks_rule_kind k = policy->rules[i].kind;
        if (kind_known(k)) {
            cp->n_of[k]++;
        }
    }
    for (int k = 0; k <= KS_RULE_KIND_MAX; k++) {
        if (cp->n_of[k] && !(cp->of[k] = malloc(cp->n_of[k] * sizeof(*cp->of[k])))) {
            goto out;
        }
        cp->n_of[k] = 0;
    }
    for (size_t i = 0; i < n; i++) {
        const struct ks_store_rule *row = &policy->rules[i];
        if (!kind_known(row->kind)) {
            continue;
        }
        cp->of[row->kind][cp->n_of[row->kind]++] = i;
        if (row->kind == KS_RULE_PCR) {
            continue;
        }
        cp->dec_rc[i] = ks_rule_decode(row, &cp->dec[i]);
        if (cp->dec_rc[i] == KS_ERR_NOMEM) {
            goto out;
        }
    }
    /* Every ima_file rule, decoded or not: evaluation refuses before it
     * looks a path up when one of them is malformed. */
    size_t nf = cp->n_of[KS_RULE_IMA_FILE], good = 0;
    if (!(cp->ima_files = calloc(nf ? nf : 1, sizeof(*cp->ima_files)))) {
        goto out;
    }
    for (size_t j = 0; j < nf; j++) {
        size_t i = cp->of[KS_RULE_IMA_FILE][j];
        if (cp->dec_rc[i] == KS_OK && cp->dec[i].text) {
            cp->ima_files[good++] = &cp->dec[i];
        }
    }
    qsort(cp->ima_files, good, sizeof(*cp->ima_files), cmp_path);
    cp->n_ima_files = good;
    *ret = cp;
    return KS_OK;
out:
    compiled_free(cp);
    return r;
}

int ks_policy_compile_take(struct ks_store_policy *policy, int64_t pv_id,
                           struct ks_policy_compiled **ret)
{
    struct ks_policy_compiled *cp = NULL;
    int r = ks_policy_compile(policy, pv_id, &cp);
    if (r < 0) {
        return r;
    }
    /* dec[i].row points into the rule array, which does not move: only
     * the struct that holds it is copied. */
    cp->owned = *policy;
    cp->p = &cp->owned;
    policy->rules = NULL;
    policy->n_rules = 0;
    *ret = cp;
    return KS_OK;
}

void ks_policy_compiled_ref(struct ks_policy_compiled *cp)
{
    atomic_fetch_add(&cp->refs, 1);
}

void ks_policy_compiled_unref(struct ks_policy_compiled *cp)
{
    if (cp && atomic_fetch_sub(&cp->refs, 1) == 1) {
        compiled_free(cp);
    }
}
