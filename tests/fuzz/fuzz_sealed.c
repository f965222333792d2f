/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sealed.h"
#include "sealed_internal.h"

/*
 * Sealed files (lib/sealed.h): the header parser on arbitrary bytes, and the
 * whole unseal (size checks, per-chunk authentication) on the input as a
 * file, with 1 and 2 workers. Properties: a parsed header re-encodes to the
 * input's first bytes; an unseal under a key the input cannot know never
 * succeeds and leaves the destination zeroed. Seeds: the .sealed files of
 * tests/data/sealed.
 */

static const uint8_t KEY[KS_SEAL_KEY_LEN] = {0x5a};

static void check(int cond)
{
    if (!cond) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ks_seal_header h;
    uint8_t enc[KS_SEAL_HEADER_MAX];
    if (ks_seal_header_parse(data, size, &h) != KS_OK) {
        return 0;
    }
    check(h.header_len <= size && h.header_len <= KS_SEAL_HEADER_MAX);
    check(ks_seal_key_name_valid(h.key_name));
    check(ks_seal_header_encode(&h, enc) == h.header_len);
    check(memcmp(enc, data, h.header_len) == 0);
    if (size > (1u << 20)) {
        return 0;
    }
    int fd = memfd_create("fuzz", MFD_CLOEXEC);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
        abort();
    }
    for (unsigned threads = 1; threads <= 2; threads++) {
        struct ks_unseal *u = NULL;
        if (ks_unseal_open(fd, NULL, 0, &u) != KS_OK) {
            break;
        }
        uint64_t len = ks_unseal_header(u)->plain_len;
        check(len <= size);
        uint8_t *out = malloc(len + 1);
        check(out != NULL);
        /* Without the key nothing authenticates (2^-128 per chunk). */
        check(ks_unseal_to_buffer(u, KEY, out, len, threads, 0) != KS_OK);
        for (uint64_t i = 0; i < len; i++) {
            check(out[i] == 0);
        }
        free(out);
        ks_unseal_free(u);
    }
    close(fd);
    return 0;
}
