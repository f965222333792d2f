/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "attest.h"
#include "egress.h"
#include "encoding.h"
#include "frame.h"
#include "infer.h"
#include "loader_ops.h"
#include "program.h"
#include "proto.h"
#include "replay.h"
#include "secmem.h"

#define MAX_CODES 24
/* JSON of an INFER reply beyond its three base64 strings (keys, quotes,
 * "ok":true, "op":"infer"), rounded up. */
#define INFER_REPLY_OVERHEAD 64

struct ks_loader_ops {
    char key_name[KS_INFER_KEY_NAME_MAX + 1];
    uint32_t key_version;
    const uint8_t *request_sk;
    EVP_PKEY *ci_key;
    uint8_t weights_sha256[32];
    struct ks_model_dims dims;
    ks_ops_generate_fn generate;
    void *generate_ctx;

    bool loaded;
    struct ks_program program;
    uint8_t manifest_sha256[32];

    struct ks_egress egress;
    struct ks_replay *replay;
    uint64_t replay_window;
    size_t replay_capacity;

    /* Locked, never-dumped scratch: the response key, the opened request
     * (header and prompt) and the completion. */
    struct ks_lockbuf scratch;
    uint8_t *rk, *pt, *out;
    size_t pt_size, out_size;

    uint64_t requests, served[4], refused_total;
    struct {
        const char *code;
        uint64_t n;
    } refused[MAX_CODES];
};

int ks_loader_ops_new(const struct ks_loader_ops_config *cfg, uint64_t now,
                      struct ks_loader_ops **ret)
{
    uint32_t v = 1;
    if (!cfg || !ret || !cfg->key_name || !cfg->request_sk || !cfg->ci_key ||
        !cfg->weights_sha256 || !cfg->dims || !cfg->generate || cfg->key_version == 0 ||
        ks_attest_key_ref_parse(cfg->key_name, NULL, &v) != KS_OK || v != 0) {
        return KS_ERR_INVALID_ARG;
    }
    struct ks_loader_ops *ops = calloc(1, sizeof(*ops));
    if (!ops) {
        return KS_ERR_NOMEM;
    }
    snprintf(ops->key_name, sizeof(ops->key_name), "%s", cfg->key_name);
    ops->key_version = cfg->key_version;
    ops->request_sk = cfg->request_sk;
    ops->ci_key = cfg->ci_key;
    memcpy(ops->weights_sha256, cfg->weights_sha256, 32);
    ops->dims = *cfg->dims;
    ops->generate = cfg->generate;
    ops->generate_ctx = cfg->generate_ctx;
    ops->replay_window = cfg->replay_window;
    ops->replay_capacity = cfg->replay_cache;
    ops->pt_size = KS_INFER_HEADER_LEN + KS_INFER_PROMPT_MAX;
    ops->out_size = cfg->dims->max_seq;
    int r = ks_egress_init(&ops->egress, cfg->egress_bytes, cfg->egress_window, now);
    if (r == KS_OK) {
        r = ks_replay_new(cfg->replay_cache, cfg->replay_window, &ops->replay);
    }
    if (r == KS_OK) {
        r = ks_lockbuf_alloc(KS_INFER_KEY_LEN + ops->pt_size + ops->out_size, cfg->allow_unlocked,
                             &ops->scratch);
    }
    if (r != KS_OK) {
        ks_loader_ops_free(ops);
        return r;
    }
    ops->rk = ops->scratch.p;
    ops->pt = ops->rk + KS_INFER_KEY_LEN;
    ops->out = ops->pt + ops->pt_size;
    *ret = ops;
    return KS_OK;
}

void ks_loader_ops_free(struct ks_loader_ops *ops)
{
    if (!ops) {
        return;
    }
    ks_lockbuf_free(&ops->scratch);
    ks_replay_free(ops->replay);
    free(ops);
}

static void count_refusal(struct ks_loader_ops *ops, int err)
{
    const char *code = ks_proto_error_code(err);
    ops->refused_total++;
    for (size_t i = 0; i < MAX_CODES; i++) {
        if (!ops->refused[i].code) {
            ops->refused[i].code = code;
        }
        if (ops->refused[i].code == code || strcmp(ops->refused[i].code, code) == 0) {
            ops->refused[i].n++;
            return;
        }
    }
}

static int do_load(struct ks_loader_ops *ops, const struct ks_proto_request *req, char **ret,
                   size_t *ret_len)
{
    struct ks_program p;
    uint8_t msha[32];
    char hex[65];
    int r =
        ks_program_verify((const uint8_t *)req->program, req->program_len, ops->ci_key, &p, msha);
    if (r != KS_OK) {
        return r;
    }
    /* The program must describe exactly the weights that were unsealed
     * (whose SHA-256 lib/sealed recomputed while decrypting). */
    if (memcmp(p.weights_sha256, ops->weights_sha256, 32) != 0 ||
        !ks_model_dims_equal(&p.dims, &ops->dims)) {
        return KS_ERR_PROGRAM_WEIGHTS;
    }
    ks_hex_encode(msha, sizeof(msha), hex);
    json_t *o = json_pack("{s:b,s:s,s:s,s:s}", "ok", 1, "op", "load", "program", p.name,
                          "manifest_sha256", hex);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (!s) {
        return KS_ERR_NOMEM;
    }
    ops->program = p;
    memcpy(ops->manifest_sha256, msha, sizeof(msha));
    ops->loaded = true;
    *ret = s;
    *ret_len = strlen(s);
    return KS_OK;
}

static size_t b64_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

static int do_infer(struct ks_loader_ops *ops, const struct ks_proto_request *req, uint64_t now,
                    char **ret, size_t *ret_len)
{
    size_t pt_len = 0, prompt_len = 0, out_len = 0, ct_len = 0;
    const uint8_t *prompt = NULL;
    uint64_t issued = 0;
    uint32_t max_new = 0;
    uint8_t nonce[KS_INFER_NONCE_LEN];
    uint8_t *ct = NULL;
    int r;
    if (!ops->loaded) {
        return KS_ERR_NO_PROGRAM;
    }
    if (strcmp(req->key, ops->key_name) != 0 || req->version != ops->key_version) {
        return KS_ERR_INFER_KEY;
    }
    /* A replayed enc is refused before any decryption. */
    r = ks_replay_check(ops->replay, req->enc, now, now);
    if (r != KS_OK) {
        return r;
    }
    r = ks_infer_open_request(ops->request_sk, ops->key_name, ops->key_version, req->id,
                              req->id_len, req->enc, req->ct, req->ct_len, ops->pt, ops->pt_size,
                              &pt_len, ops->rk);
    if (r != KS_OK) {
        return r;
    }
    r = ks_infer_parse_plain(ops->pt, pt_len, &issued, &max_new, &prompt, &prompt_len);
    if (r == KS_OK) {
        r = ks_replay_check(ops->replay, req->enc, issued, now);
    }
    if (r != KS_OK) {
        goto out;
    }
    size_t n = ops->program.max_new_tokens;
    if (max_new != 0 && max_new < n) {
        n = max_new;
    }
    if (n > ops->out_size) {
        n = ops->out_size;
    }
    /* Refuse before computing what could not be sent. */
    size_t worst = KS_FRAME_HEADER_LEN + INFER_REPLY_OVERHEAD + b64_len(req->id_len) +
                   b64_len(KS_INFER_NONCE_LEN) + b64_len(n + KS_INFER_TAG_LEN);
    r = ks_egress_check(&ops->egress, worst, now);
    if (r == KS_OK) {
        /* Recorded only now: a request refused for the budget may be sent
         * again. */
        r = ks_replay_add(ops->replay, req->enc, issued, now);
    }
    if (r == KS_OK) {
        r = ops->generate(ops->generate_ctx, prompt, prompt_len, n, ops->out, &out_len);
    }
    if (r == KS_OK && out_len > n) {
        r = KS_ERR_INTERNAL;
    }
    if (r != KS_OK) {
        goto out;
    }
    ct = malloc(out_len + KS_INFER_TAG_LEN);
    if (!ct) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    r = RAND_bytes(nonce, sizeof(nonce)) == 1 ? KS_OK : KS_ERR_CRYPTO;
    if (r == KS_OK) {
        r = ks_infer_seal_response(ops->rk, nonce, req->id, req->id_len, ops->out, out_len, ct,
                                   out_len + KS_INFER_TAG_LEN, &ct_len);
    }
    if (r == KS_OK) {
        r = ks_proto_infer_reply_build(req->id, req->id_len, nonce, ct, ct_len, ret, ret_len);
    }
out:
    free(ct);
    /* The response key, the prompt and the whole completion buffer (a
     * failed generation may have written part of it). */
    OPENSSL_cleanse(ops->scratch.p, KS_INFER_KEY_LEN + pt_len);
    OPENSSL_cleanse(ops->out, ops->out_size);
    return r;
}

int ks_loader_ops_stats_json(struct ks_loader_ops *ops, uint64_t now, char **ret)
{
    if (!ops || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    json_t *refused = json_object();
    for (size_t i = 0; refused && i < MAX_CODES && ops->refused[i].code; i++) {
        json_object_set_new(refused, ops->refused[i].code,
                            json_integer((json_int_t)ops->refused[i].n));
    }
    char hex[65];
    json_t *program = json_null();
    if (ops->loaded) {
        ks_hex_encode(ops->manifest_sha256, 32, hex);
        program = json_pack("{s:s,s:I,s:s}", "name", ops->program.name, "max_new_tokens",
                            (json_int_t)ops->program.max_new_tokens, "manifest_sha256", hex);
    }
    uint64_t left = ks_egress_left(&ops->egress, now);
    json_t *o = json_pack(
        "{s:I,s:{s:I,s:I,s:I},s:I,s:o,s:{s:I,s:I,s:I,s:I,s:I},s:{s:I,s:I,s:I},s:o}", "requests",
        (json_int_t)ops->requests, "served", "load", (json_int_t)ops->served[KS_PROTO_LOAD],
        "infer", (json_int_t)ops->served[KS_PROTO_INFER], "stats",
        (json_int_t)ops->served[KS_PROTO_STATS], "refused_total", (json_int_t)ops->refused_total,
        "refused", refused, "egress", "budget", (json_int_t)ops->egress.budget, "window",
        (json_int_t)ops->egress.window, "used", (json_int_t)(ops->egress.budget - left), "left",
        (json_int_t)left, "sent_total", (json_int_t)ops->egress.sent_total, "replay_cache",
        "entries", (json_int_t)ks_replay_count(ops->replay), "capacity",
        (json_int_t)ops->replay_capacity, "window", (json_int_t)ops->replay_window, "program",
        program);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (!s) {
        return KS_ERR_NOMEM;
    }
    *ret = s;
    return KS_OK;
}

static int do_stats(struct ks_loader_ops *ops, uint64_t now, char **ret, size_t *ret_len)
{
    char *stats = NULL;
    int r = ks_loader_ops_stats_json(ops, now, &stats);
    if (r != KS_OK) {
        return r;
    }
    json_error_t jerr;
    json_t *st = json_loads(stats, 0, &jerr);
    free(stats);
    json_t *o = st ? json_pack("{s:b,s:s,s:o}", "ok", 1, "op", "stats", "stats", st) : NULL;
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (!s) {
        return KS_ERR_NOMEM;
    }
    *ret = s;
    *ret_len = strlen(s);
    return KS_OK;
}

/* Charge a response to the budget, or swap it for the fixed refusal. */
static int send_or_refuse(struct ks_loader_ops *ops, char *resp, size_t len, uint64_t now,
                          uint8_t **ret, size_t *ret_len, int *refused)
{
    if (ks_egress_take(&ops->egress, KS_FRAME_HEADER_LEN + len, now) != KS_OK) {
        free(resp);
        /* Whatever it was (a result or another refusal), what goes out is
         * the egress refusal. */
        *refused = KS_ERR_EGRESS;
        count_refusal(ops, KS_ERR_EGRESS);
        resp = strdup(KS_OPS_EGRESS_REFUSAL);
        if (!resp) {
            return KS_ERR_NOMEM;
        }
        len = strlen(resp);
    }
    *ret = (uint8_t *)resp;
    *ret_len = len;
    return KS_OK;
}

static int refusal(struct ks_loader_ops *ops, int err, const char *detail, char **ret,
                   size_t *ret_len)
{
    count_refusal(ops, err);
    return ks_proto_error_build(ks_proto_error_code(err), detail, ret, ret_len);
}

int ks_loader_ops_handle(struct ks_loader_ops *ops, const uint8_t *req, size_t len, uint64_t now,
                         uint8_t **ret, size_t *ret_len, int *ret_refused)
{
    struct ks_proto_request rq;
    char detail[160];
    char *resp = NULL;
    size_t resp_len = 0;
    int refused = KS_OK;
    enum ks_proto_op op = KS_PROTO_STATS;
    if (!ops || !req || !ret || !ret_len) {
        return KS_ERR_INVALID_ARG;
    }
    ops->requests++;
    int r = ks_proto_request_parse(req, len, &rq, detail, sizeof(detail));
    if (r != KS_OK) {
        refused = r;
        r = refusal(ops, r, detail, &resp, &resp_len);
        goto send;
    }
    switch (rq.op) {
    case KS_PROTO_LOAD:
        r = do_load(ops, &rq, &resp, &resp_len);
        break;
    case KS_PROTO_INFER:
        r = do_infer(ops, &rq, now, &resp, &resp_len);
        break;
    case KS_PROTO_STATS:
        r = do_stats(ops, now, &resp, &resp_len);
        break;
    }
    if (r == KS_OK) {
        op = rq.op;
    } else if (r == KS_ERR_EGRESS) {
        /* Refused before anything was computed: the fixed refusal. */
        refused = r;
        count_refusal(ops, r);
        resp = strdup(KS_OPS_EGRESS_REFUSAL);
        r = resp ? KS_OK : KS_ERR_NOMEM;
        ks_proto_request_clear(&rq);
        if (r == KS_OK) {
            *ret = (uint8_t *)resp;
            *ret_len = strlen(resp);
            if (ret_refused) {
                *ret_refused = refused;
            }
        }
        return r;
    } else {
        /* Details only for what the client could have got wrong; internal
         * failures stay in the loader's log. */
        refused = r;
        r = refusal(ops, r, ks_proto_error_code(r)[0] == 'i' ? NULL : ks_strerror(r), &resp,
                    &resp_len);
    }
    ks_proto_request_clear(&rq);
send:
    if (r != KS_OK) {
        free(resp);
        return r;
    }
    r = send_or_refuse(ops, resp, resp_len, now, ret, ret_len, &refused);
    if (r == KS_OK && refused == KS_OK) {
        ops->served[op]++;
    }
    if (r == KS_OK && ret_refused) {
        *ret_refused = refused;
    }
    return r;
}

int ks_loader_ops_frame_error(struct ks_loader_ops *ops, int err, uint64_t now, uint8_t **ret,
                              size_t *ret_len)
{
    char *resp = NULL;
    size_t len = 0;
    int refused = err;
    if (!ops || !ret || !ret_len) {
        return KS_ERR_INVALID_ARG;
    }
    ops->requests++;
    int r = refusal(ops, err, ks_strerror(err), &resp, &len);
    if (r != KS_OK) {
        return r;
    }
    return send_or_refuse(ops, resp, len, now, ret, ret_len, &refused);
}
