/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loader-ref/applog.h"

/*
 * The application log ks-launch reads back before extending (a file that
 * anyone who could write it might have changed): parse, check, replay, and
 * append. Invariants: an accepted log keeps its bytes, and appending keeps
 * it a valid log with one more event.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ks_applog *log = NULL, *again = NULL;
    uint8_t m[32];
    memset(m, 0xa5, sizeof(m));
    if (ks_applog_load(data, size, 15, &log) != KS_OK) {
        return 0;
    }
    size_t len = 0, n = ks_applog_count(log);
    const uint8_t *bytes = ks_applog_bytes(log, &len);
    if (len != size || memcmp(bytes, data, size) != 0) {
        abort();
    }
    if (ks_applog_append(log, KS_APPLOG_TAG_EXE, m, NULL) == KS_OK) {
        bytes = ks_applog_bytes(log, &len);
        if (ks_applog_load(bytes, len, 15, &again) != KS_OK || ks_applog_count(again) != n + 1) {
            abort();
        }
    }
    ks_applog_free(again);
    ks_applog_free(log);
    return 0;
}
