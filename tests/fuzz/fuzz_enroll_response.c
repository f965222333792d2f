/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loader-ref/enroll.h"

/* The keyserver's answers to the loader's enrollment (untrusted). */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ks_enroll_client_challenge ch;
    struct ks_enroll_client_outcome out;
    if (ks_enroll_client_challenge_parse(data, size, &ch) == KS_OK &&
        (strlen(ch.id) != KS_ENROLL_CLIENT_ID_LEN || ch.blob.size > sizeof(ch.blob.credential) ||
         ch.enc.size > sizeof(ch.enc.secret) || strlen(ch.ak_id) < 4)) {
        abort();
    }
    if (ks_enroll_client_outcome_parse(data, size, &out) == KS_OK &&
        (strlen(out.ak_id) < 4 || strlen(out.ek_name) < 4)) {
        abort();
    }
    return 0;
}
