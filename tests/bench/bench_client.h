/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_BENCH_CLIENT_H
#define KS_BENCH_CLIENT_H

/*
 * The load generator's client: one keep-alive HTTPS connection (a libcurl
 * easy handle) that runs the loader's release flow against keyserverd:
 * POST /v1/challenge, a fresh X25519 key (ks_hpke_keygen), a quote from the
 * software AK binding nonce and key (extraData = SHA-256("ks-release-v1" ||
 * 0x00 || nonce || hpke_pk)), POST /v1/release with the event log (JSON
 * or CBOR), then HPKE-open the released key and compare it with the
 * expected one.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ks_error.h"
#include "pcr.h"
#include "soft_ak.h"
#include "tpm_public.h"

/* What every client of one run shares, read-only once made. */
struct ks_bench_target {
    char base_url[64];  /* https://127.0.0.1:PORT */
    const char *cacert; /* the server's self-signed certificate (PEM) */
    const struct ks_soft_ak *ak;
    const char *key_name;
    uint8_t key[32]; /* the key the server holds, to check each release */
    TPML_PCR_SELECTION sel;
    struct ks_pcr_set pcrs;
    /* The release body's encoding: application/cbor (RFC 8949) or JSON. */
    bool cbor;
    /* The request's constant members, preformatted in that encoding: JSON
     * `"ak_id":...,"keys":[...],"pcrs":{...},"event_log":"..."`, or the
     * same four CBOR key/value pairs (no map head). */
    char *fixed;
    size_t fixed_len;
};

/* Fill the target's preformatted request members (t->cbor chooses the
 * encoding). KS_ERR_NOMEM, or the encoder's error. Free with
 * ks_bench_target_clear(). */
KS_WUR int ks_bench_target_init(struct ks_bench_target *t, const uint8_t *event_log,
                                size_t event_log_len);
void ks_bench_target_clear(struct ks_bench_target *t);

struct ks_bench_conn;

/* curl_global_init() must have run. */
KS_WUR int ks_bench_conn_new(const struct ks_bench_target *t, struct ks_bench_conn **ret);
void ks_bench_conn_free(struct ks_bench_conn *c);

/* GET /v1/health: opens the connection (or checks it is still usable). */
KS_WUR int ks_bench_conn_health(struct ks_bench_conn *c);

/* One whole release. KS_OK only when the server released the key and it
 * opened to the expected bytes; KS_ERR_IO for transport errors and HTTP
 * errors (the status is kept, see below), KS_ERR_HPKE_OPEN or KS_ERR_CRYPTO
 * when the released key does not open or differs. */
KS_WUR int ks_bench_conn_release(struct ks_bench_conn *c);

/* GET /metrics: the value of the unlabelled sample `name`
 * (KS_ERR_NOT_FOUND when there is none). */
KS_WUR int ks_bench_conn_metric(struct ks_bench_conn *c, const char *name, double *ret);

/* How many TCP connections this handle has opened so far (1 after the first
 * request while keep-alive holds). */
long ks_bench_conn_connects(const struct ks_bench_conn *c);

/* The last HTTP status (0 when no response came) and a short error text. */
long ks_bench_conn_last_status(const struct ks_bench_conn *c);
const char *ks_bench_conn_last_error(const struct ks_bench_conn *c);

#endif
