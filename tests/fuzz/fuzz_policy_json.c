/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "keyserverd/policy_rules.h"

/* The policy-file rule parser (ksctl policy import / rule). A rule it
 * accepts decodes, and its JSON form parses back to the same row. */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const struct ks_store_rule *a, const struct ks_store_rule *b)
{
    return a->kind == b->kind && a->bank == b->bank && a->pcr == b->pcr &&
           a->digest_len == b->digest_len && memcmp(a->digest, b->digest, a->digest_len) == 0 &&
           (a->data == NULL) == (b->data == NULL) && (!a->data || strcmp(a->data, b->data) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    json_t *rules = json_is_object(j) ? json_object_get(j, "rules") : j;
    size_t n = json_is_array(rules) ? json_array_size(rules) : 0;
    for (size_t i = 0; i < n && i < 64; i++) {
        struct ks_store_rule r, back;
        struct ks_rule_dec d;
        char err[160] = "";
        int rc = ks_rule_from_json(json_array_get(rules, i), &r, err, sizeof(err));
        if (rc != KS_OK) {
            if (rc == KS_ERR_INVALID_ARG && err[0] == '\0') {
                abort();
            }
            continue;
        }
        if (ks_rule_decode(&r, &d) != KS_OK) {
            abort();
        }
        ks_rule_dec_clear(&d);
        json_t *out = NULL;
        if (ks_rule_to_json(&r, &out) != KS_OK) {
            abort();
        }
        if (ks_rule_from_json(out, &back, err, sizeof(err)) != KS_OK || !same(&r, &back)) {
            abort();
        }
        json_decref(out);
        free(back.data);
        free(r.data);
    }
    json_decref(j);
    return 0;
}
