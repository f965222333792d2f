/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loader-ref/loader_config.h"

/* The ks-loader configuration parser (top-level keys and [keyserver NAME]
 * sections). An accepted file has every required key and at most
 * KS_LOADER_MAX_KEYSERVERS complete sections with distinct names; a refusal
 * always says why. */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ks_loader_config cfg;
    char err[256];
    err[0] = '\0';
    int r = ks_loader_config_parse((const char *)data, size, &cfg, err, sizeof(err));
    if (r == KS_OK) {
        if (!cfg.keyserver || !cfg.request_key || !cfg.sealed || !cfg.socket || !cfg.receipt_key ||
            cfg.receipt_key_len == 0 || cfg.n_share_servers > KS_LOADER_MAX_KEYSERVERS) {
            abort();
        }
        for (size_t i = 0; i < cfg.n_share_servers; i++) {
            const struct ks_loader_keyserver *k = &cfg.share_servers[i];
            if (k->name[0] == '\0' || !k->url || !k->receipt_key || k->receipt_key_len == 0) {
                abort();
            }
            for (size_t j = 0; j < i; j++) {
                if (strcmp(cfg.share_servers[j].name, k->name) == 0) {
                    abort();
                }
            }
        }
        ks_loader_config_clear(&cfg);
    } else if (r != KS_ERR_NOMEM && err[0] == '\0') {
        abort();
    }
    return 0;
}
