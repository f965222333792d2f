/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "attest.h"
#include "attest_internal.h"
#include "tpm_alg.h"

/*
 * The /v1/release request as CBOR (RFC 8949), sent as application/cbor: the
 * same members as the JSON form, but nonce, hpke_pk, the quote and the logs
 * as byte strings, so that the keyserver neither lexes nor base64-decodes
 * megabytes of log. The keyserver accepts only a strict subset of CBOR:
 * definite lengths everywhere (indefinite ones, section 3.2.2, are valid
 * CBOR but refused), no tags, text-string keys, each once. libcbor's
 * cbor_new_definite_* and cbor_build_* make only definite-length items, and
 * it encodes every argument in its shortest form (section 4.2.1).
 */

/* Add key -> value to a definite map, taking over the caller's reference
 * to value (NULL: an allocation failed). */
static int map_put(cbor_item_t *map, const char *key, cbor_item_t *value)
{
    cbor_item_t *k = cbor_build_string(key);
    bool ok = k && value && cbor_map_add(map, (struct cbor_pair){.key = k, .value = value});
    if (k) {
        cbor_decref(&k);
    }
    if (value) {
        cbor_decref(&value);
    }
    return ok ? KS_OK : KS_ERR_NOMEM;
}

static int map_put_bytes(cbor_item_t *map, const char *key, const uint8_t *buf, size_t len)
{
    return map_put(map, key, cbor_build_bytestring(buf, len));
}

/* The PCR map being built: {bank name: {index: digest}}. */
struct pcr_cbor {
    cbor_item_t *map, *bank; /* bank: borrowed, owned by map */
};

static int pcr_cbor_bank(void *ctx, uint16_t alg, size_t n_pcrs)
{
    struct pcr_cbor *pc = ctx;
    cbor_item_t *bank = cbor_new_definite_map(n_pcrs);
    pc->bank = bank;
    return map_put(pc->map, ks_alg_name(alg), bank);
}

static int pcr_cbor_pcr(void *ctx, unsigned index, const uint8_t *digest, size_t digest_len)
{
    struct pcr_cbor *pc = ctx;
    /* index < 24: one byte, the shortest form (RFC 8949 section 3.1). */
    cbor_item_t *k = cbor_build_uint8((uint8_t)index);
    cbor_item_t *v = cbor_build_bytestring(digest, digest_len);
    bool ok = k && v && cbor_map_add(pc->bank, (struct cbor_pair){.key = k, .value = v});
    if (k) {
        cbor_decref(&k);
    }
    if (v) {
        cbor_decref(&v);
    }
    return ok ? KS_OK : KS_ERR_NOMEM;
}

static int pcr_map(const struct ks_attest_evidence *ev, cbor_item_t **ret)
{
    static const struct ks_attest_pcr_visitor v = {pcr_cbor_bank, pcr_cbor_pcr};
    struct pcr_cbor pc = {cbor_new_definite_map(ev->sel->count), NULL};
    if (!pc.map) {
        return KS_ERR_NOMEM;
    }
    int r = ks_attest_pcr_walk(ev->sel, ev->pcrs, &v, &pc);
    if (r != KS_OK) {
        cbor_decref(&pc.map);
        return r;
    }
    *ret = pc.map;
    return KS_OK;
}

static int key_array(const struct ks_attest_evidence *ev, cbor_item_t **ret)
{
    cbor_item_t *arr = cbor_new_definite_array(ev->n_keys);
    if (!arr) {
        return KS_ERR_NOMEM;
    }
    for (size_t i = 0; i < ev->n_keys; i++) {
        cbor_item_t *s = cbor_build_string(ev->keys[i]);
        bool ok = s && cbor_array_push(arr, s);
        if (s) {
            cbor_decref(&s);
        }
        if (!ok) {
            cbor_decref(&arr);
            return KS_ERR_NOMEM;
        }
    }
    *ret = arr;
    return KS_OK;
}

static int quote_map(const struct ks_attest_evidence *ev, cbor_item_t **ret)
{
    cbor_item_t *q = cbor_new_definite_map(2);
    if (!q) {
        return KS_ERR_NOMEM;
    }
    int r = map_put_bytes(q, "attest", ev->attest, ev->attest_len);
    if (r == KS_OK) {
        r = map_put_bytes(q, "signature", ev->sig, ev->sig_len);
    }
    if (r != KS_OK) {
        cbor_decref(&q);
        return r;
    }
    *ret = q;
    return KS_OK;
}

int ks_attest_request_build_cbor(const struct ks_attest_evidence *ev, uint8_t **ret_body,
                                 size_t *ret_len)
{
    const struct {
        const char *name;
        const uint8_t *buf;
        size_t len;
    } logs[] = {
        {"event_log", ev ? ev->event_log : NULL, ev ? ev->event_log_len : 0},
        {"ima_log", ev ? ev->ima_log : NULL, ev ? ev->ima_log_len : 0},
        {"app_log", ev ? ev->app_log : NULL, ev ? ev->app_log_len : 0},
    };
    cbor_item_t *root = NULL, *pcrs = NULL, *keys = NULL, *quote = NULL;
    uint8_t *buf = NULL;
    size_t members = 6, cap = 0;
    int r;
    if (!ret_body || !ret_len) {
        return KS_ERR_INVALID_ARG;
    }
    r = ks_attest_evidence_check(ev);
    if (r != KS_OK) {
        return r;
    }
    for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
        members += logs[i].buf ? 1 : 0;
    }
    r = pcr_map(ev, &pcrs);
    if (r == KS_OK) {
        r = key_array(ev, &keys);
    }
    if (r == KS_OK) {
        r = quote_map(ev, &quote);
    }
    if (r != KS_OK) {
        goto out;
    }
    root = cbor_new_definite_map(members);
    if (!root) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    /* map_put takes over keys, quote and pcrs, on failure too. */
    r = map_put(root, "ak_id", cbor_build_string(ev->ak_id));
    if (r == KS_OK) {
        r = map_put_bytes(root, "nonce", ev->nonce, KS_ATTEST_NONCE_LEN);
    }
    if (r == KS_OK) {
        r = map_put_bytes(root, "hpke_pk", ev->hpke_pk, KS_ATTEST_HPKE_PK_LEN);
    }
    cbor_item_t *const parts[] = {keys, quote, pcrs};
    const char *const part_names[] = {"keys", "quote", "pcrs"};
    keys = quote = pcrs = NULL;
    for (size_t i = 0; i < 3; i++) {
        if (r == KS_OK) {
            r = map_put(root, part_names[i], parts[i]);
        } else {
            cbor_item_t *p = parts[i];
            cbor_decref(&p);
        }
    }
    for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]) && r == KS_OK; i++) {
        if (logs[i].buf) {
            r = map_put_bytes(root, logs[i].name, logs[i].buf, logs[i].len);
        }
    }
    if (r != KS_OK) {
        goto out;
    }
    size_t len = cbor_serialize_alloc(root, &buf, &cap);
    if (len == 0) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    *ret_body = buf;
    *ret_len = len;
    r = KS_OK;
out:
    if (root) {
        cbor_decref(&root);
    }
    if (pcrs) {
        cbor_decref(&pcrs);
    }
    if (keys) {
        cbor_decref(&keys);
    }
    if (quote) {
        cbor_decref(&quote);
    }
    return r;
}
