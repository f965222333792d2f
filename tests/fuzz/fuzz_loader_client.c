/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "loader-ref/proto.h"
#include "loader-ref/statement.h"

/*
 * What ks-client reads from the network: the loader's answers (through an
 * untrusted relay) for each operation, and a request-key statement (from
 * the keyserver or a relay) checked against a fixed pinned key, which the
 * fuzzer cannot sign for: only the parsing before the signature check is
 * explored there, by design.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A P-256 SubjectPublicKeyInfo (the generator point as the public key). */
static const uint8_t spki[] = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04, 0x6b, 0x17, 0xd1, 0xf2, 0xe1,
    0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40, 0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d,
    0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96, 0x4f, 0xe3, 0x42, 0xe2, 0xfe,
    0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b,
    0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int op = KS_PROTO_LOAD; op <= KS_PROTO_STATS; op++) {
        struct ks_proto_response r;
        if (ks_proto_response_parse(data, size, (enum ks_proto_op)op, &r) == KS_OK) {
            if (r.ok && op == KS_PROTO_INFER &&
                (r.id_len == 0 || r.id_len > KS_INFER_ID_MAX || r.ct_len < KS_INFER_TAG_LEN)) {
                abort();
            }
            if (r.ok && op != KS_PROTO_INFER && !r.json) {
                abort();
            }
            ks_proto_response_clear(&r);
        }
    }
    struct ks_statement st;
    if (ks_statement_verify(data, size, spki, sizeof(spki), "req", 0, &st) == KS_OK) {
        abort(); /* nobody can sign for the generator point's key here */
    }
    return 0;
}
