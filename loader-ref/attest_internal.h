/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_LOADER_ATTEST_INTERNAL_H
#define KS_LOADER_ATTEST_INTERNAL_H

/*
 * What the two encodings of the /v1/release request share (attest_json.c,
 * attest_cbor.c): one set of checks on the evidence and one walk over the
 * quoted PCRs, so that a JSON and a CBOR request are refused for exactly the
 * same reasons and carry exactly the same PCRs. Not for use outside
 * loader-ref/attest*.c.
 */

#include <stddef.h>
#include <stdint.h>

#include "attest.h"

/* Everything ks_attest_request_build refuses with KS_ERR_INVALID_ARG: a
 * missing pointer, an empty attest or signature, an ak_id that is not
 * lowercase hex of a TPM Name, bad, repeated, no or too many key
 * references, an invalid or empty PCR selection, a selected PCR without a
 * value in ev->pcrs. KS_OK otherwise. */
KS_WUR int ks_attest_evidence_check(const struct ks_attest_evidence *ev);

/* Called by ks_attest_pcr_walk: bank() once per bank of the selection, in
 * selection order, with the number of its selected PCRs; pcr() for each of
 * them, ascending, with its digest (digest_len: the bank's digest size).
 * A result other than KS_OK stops the walk and is returned. Either may be
 * NULL. */
struct ks_attest_pcr_visitor {
    int (*bank)(void *ctx, uint16_t alg, size_t n_pcrs);
    int (*pcr)(void *ctx, unsigned index, const uint8_t *digest, size_t digest_len);
};

/* Walk exactly the PCRs of sel, with their values from pcrs.
 * KS_ERR_INVALID_ARG when a selected PCR has no value (or a bank is not a
 * known hash), else KS_OK or the first visitor error. */
KS_WUR int ks_attest_pcr_walk(const TPML_PCR_SELECTION *sel, const struct ks_pcr_set *pcrs,
                              const struct ks_attest_pcr_visitor *v, void *ctx);

#endif
