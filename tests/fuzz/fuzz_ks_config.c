/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keyserverd/ks_config.h"

/* The keyserverd.conf parser. An accepted file leaves every numeric key in
 * its documented range; errors always carry a message. */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ks_config cfg;
    char err[512];
    if (ks_config_init(&cfg) != KS_OK) {
        return 0;
    }
    err[0] = '\0';
    int r = ks_config_parse_buffer(&cfg, (const char *)data, size, err, sizeof(err));
    if (r == KS_OK) {
        if (cfg.max_body < KS_CONFIG_MAX_BODY_MIN || cfg.max_body > KS_CONFIG_MAX_BODY_MAX ||
            cfg.max_connections < 1 || cfg.max_connections > KS_CONFIG_MAX_CONNECTIONS_MAX ||
            cfg.threads < 1 || cfg.threads > KS_CONFIG_THREADS_MAX || cfg.nonce_lifetime < 1 ||
            cfg.connection_timeout < 1 || cfg.rate_burst < 1 ||
            memchr(cfg.listen_host, '\0', sizeof(cfg.listen_host)) == NULL) {
            abort();
        }
    } else if (r != KS_ERR_NOMEM && err[0] == '\0') {
        abort();
    }
    ks_config_free(&cfg);
    return 0;
}
