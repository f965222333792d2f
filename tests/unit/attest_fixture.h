/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_TEST_ATTEST_FIXTURE_H
#define KS_TEST_ATTEST_FIXTURE_H

/*
 * The release request's evidence shared by test_attest_json and
 * test_attest_cbor, so that both encodings are checked on the same input:
 * counting byte patterns for nonce and key, fixed attest and signature
 * bytes, PCR i of the b-th selected bank holding bytes 0x10 * b + i.
 */

#include "unit.h"

#include "loader-ref/attest.h"
#include "loader-ref/pcr_select.h"
#include "pcr.h"
#include "tpm_alg.h"

static inline void fill(uint8_t *b, size_t n, uint8_t start)
{
    for (size_t i = 0; i < n; i++) {
        b[i] = (uint8_t)(start + i);
    }
}

static inline void put_pcrs(struct ks_pcr_set *set, const TPML_PCR_SELECTION *sel)
{
    ks_pcr_set_init(set);
    for (uint32_t b = 0; b < sel->count; b++) {
        uint16_t alg = sel->pcrSelections[b].hash;
        for (unsigned i = 0; i < 24; i++) {
            uint8_t v[KS_MAX_DIGEST];
            memset(v, (int)(0x10 * b + i), sizeof(v));
            assert_int_equal(ks_pcr_set_put(set, alg, i, v, ks_alg_digest_size(alg)), KS_OK);
        }
    }
}

struct req_fixture {
    uint8_t nonce[32], pk[32], attest[7], sig[5];
    TPML_PCR_SELECTION sel;
    struct ks_pcr_set pcrs;
    const char *keys[3];
    struct ks_attest_evidence ev;
};

/* Evidence for three key references over the PCRs of `sel` (the
 * pcr_select syntax, e.g. "sha1:7+sha256:0,10,15"). */
static inline void req_fixture_init(struct req_fixture *f, const char *sel)
{
    memset(f, 0, sizeof(*f));
    fill(f->nonce, 32, 0);
    fill(f->pk, 32, 32);
    memset(f->attest, 0xa5, sizeof(f->attest));
    memset(f->sig, 0x5a, sizeof(f->sig));
    assert_int_equal(ks_pcr_select_parse(sel, &f->sel), KS_OK);
    put_pcrs(&f->pcrs, &f->sel);
    f->keys[0] = "dek";
    f->keys[1] = "req@2";
    f->keys[2] = "dek@3";
    f->ev = (struct ks_attest_evidence){
        .ak_id = "000b0102",
        .nonce = f->nonce,
        .hpke_pk = f->pk,
        .keys = f->keys,
        .n_keys = 3,
        .attest = f->attest,
        .attest_len = sizeof(f->attest),
        .sig = f->sig,
        .sig_len = sizeof(f->sig),
        .sel = &f->sel,
        .pcrs = &f->pcrs,
    };
}

#endif
