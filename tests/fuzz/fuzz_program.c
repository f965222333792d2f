/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loader-ref/model.h"
#include "loader-ref/program.h"

/*
 * Program manifests (loader-ref/program.h) and the weights header
 * (loader-ref/model.h) on arbitrary bytes. Properties: an accepted manifest
 * encodes and parses back to the same program; an accepted weights header has
 * valid dims that give back the length it was checked against. Seed it with
 * tests/data/program/manifest.json.
 */

static void check(int cond)
{
    if (!cond) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ks_program p, q;
    struct ks_model_dims d;
    uint64_t want;
    if (ks_program_manifest_parse(data, size, &p) == KS_OK) {
        char *json = NULL;
        size_t len = 0;
        check(ks_program_manifest_encode(&p, &json, &len) == KS_OK);
        check(ks_program_manifest_parse((const uint8_t *)json, len, &q) == KS_OK);
        check(memcmp(&p, &q, sizeof(p)) == 0);
        free(json);
    }
    /* The weights header, with the file length taken from the input's next
     * 8 bytes (or the input's size). */
    uint64_t file_len = size;
    if (size >= KS_MODEL_HEADER_LEN + 8) {
        memcpy(&file_len, data + KS_MODEL_HEADER_LEN, 8);
    }
    if (ks_model_header_parse(data, size, file_len, &d, NULL) == KS_OK) {
        check(ks_model_dims_validate(&d) == KS_OK);
        check(ks_model_weights_size(&d, &want) == KS_OK && want == file_len);
    }
    return 0;
}
