/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "enroll.h"
#include "shamir.h"
#include "shares.h"
#include "statement.h"

/* The loader's k-of-n flow (see shares.h). */

struct ks_share_set {
    unsigned threshold, count;
    size_t len;
    size_t n;                       /* held, <= threshold */
    struct ks_shamir_share *shares; /* threshold entries, OpenSSL secure heap */
    char sources[KS_SHAMIR_SHARES_MAX][KS_LOADER_KEYSERVER_NAME_MAX + 1];
};

int ks_share_set_new(unsigned threshold, unsigned count, size_t len, struct ks_share_set **ret)
{
    if (!ret) {
        return KS_ERR_INVALID_ARG;
    }
    if (threshold < 1 || threshold > count || count > KS_SHAMIR_SHARES_MAX || len < 1 ||
        len > KS_SHAMIR_SECRET_MAX) {
        return KS_ERR_SHAMIR_PARAMS;
    }
    struct ks_share_set *set = calloc(1, sizeof(*set));
    if (!set) {
        return KS_ERR_NOMEM;
    }
    set->shares = OPENSSL_secure_zalloc(threshold * sizeof(*set->shares));
    if (!set->shares) {
        free(set);
        return KS_ERR_NOMEM;
    }
    set->threshold = threshold;
    set->count = count;
    set->len = len;
    *ret = set;
    return KS_OK;
}

void ks_share_set_free(struct ks_share_set *set)
{
    if (!set) {
        return;
    }
    OPENSSL_secure_clear_free(set->shares, set->threshold * sizeof(*set->shares));
    free(set);
}

int ks_share_set_add(struct ks_share_set *set, const char *source, const struct ks_attest_key *key)
{
    if (!set || !source || !key || strlen(source) > KS_LOADER_KEYSERVER_NAME_MAX ||
        set->n >= set->threshold || (key->key_len > 0 && !key->key)) {
        return KS_ERR_INVALID_ARG;
    }
    if (key->share_index == 0 || key->share_threshold != set->threshold ||
        key->share_count != set->count || key->key_len != set->len) {
        return KS_ERR_SHAMIR_MISMATCH;
    }
    if (key->share_index > set->count) {
        return KS_ERR_SHAMIR_INDEX;
    }
    for (size_t i = 0; i < set->n; i++) {
        if (set->shares[i].index == key->share_index) {
            return KS_ERR_SHAMIR_INDEX;
        }
    }
    struct ks_shamir_share *s = &set->shares[set->n];
    s->index = key->share_index;
    s->threshold = key->share_threshold;
    s->count = key->share_count;
    s->len = key->key_len;
    memcpy(s->y, key->key, key->key_len);
    memcpy(set->sources[set->n], source, strlen(source) + 1);
    set->n++;
    return KS_OK;
}

size_t ks_share_set_held(const struct ks_share_set *set)
{
    return set ? set->n : 0;
}

size_t ks_share_set_needed(const struct ks_share_set *set)
{
    return set ? set->threshold : 0;
}

void ks_share_set_describe(const struct ks_share_set *set, char *buf, size_t buflen)
{
    size_t off = 0;
    if (!buf || buflen == 0) {
        return;
    }
    buf[0] = '\0';
    for (size_t i = 0; set && i < set->n && off < buflen; i++) {
        int w = snprintf(buf + off, buflen - off, "%s%s: %u", i ? ", " : "", set->sources[i],
                         (unsigned)set->shares[i].index);
        if (w < 0) {
            break;
        }
        off += (size_t)w;
    }
}

int ks_share_set_combine(const struct ks_share_set *set, uint8_t *ret_secret, size_t len)
{
    if (!set || !ret_secret) {
        return KS_ERR_INVALID_ARG;
    }
    if (set->n < set->threshold) {
        return KS_ERR_SHAMIR_TOO_FEW;
    }
    return ks_shamir_combine(set->shares, set->n, ret_secret, len);
}

/* ---- the flow ------------------------------------------------------------ */

#define REASON_MAX 256

__attribute__((format(printf, 2, 3))) static void reason(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, REASON_MAX, fmt, ap);
    va_end(ap);
}

/* Why a request to the keyserver failed: its answer, or ours. */
static void request_reason(char *buf, const char *what, int r, const struct ks_attest_error *serr,
                           struct ks_tpm *tpm)
{
    const char *cmd = "";
    uint32_t rc = ks_tpm_last_rc(tpm, &cmd);
    if (serr->http_status) {
        reason(buf, "%s refused: HTTP %ld %s%s%s", what, serr->http_status,
               serr->code[0] ? serr->code : "(no code)", serr->detail[0] ? ": " : "", serr->detail);
    } else if (r == KS_ERR_TPM_CMD && *cmd) {
        reason(buf, "%s failed: %s (%s: TSS2_RC 0x%08x)", what, ks_strerror(r), cmd, rc);
    } else {
        reason(buf, "%s failed: %s%s%s", what, ks_strerror(r), serr->detail[0] ? ": " : "",
               serr->detail);
    }
}

/* One share keyserver: enroll, release, check, add. KS_OK or a failure
 * with its reason in why. */
static int one_server(const struct ks_shares_flow *f, const struct ks_loader_keyserver *ks,
                      struct ks_share_set *set, char *why)
{
    struct ks_attest_error serr;
    struct ks_attest_result *res = NULL;
    const struct ks_http_opts http = {
        .cacert = ks->cacert, .pinned_key = ks->tls_pin, .allow_plain_http = ks->insecure_http};
    int r = KS_OK;
    memset(&serr, 0, sizeof(serr));
    if (!f->ak_registered) {
        /* The same AK, enrolled with this keyserver too (TPM2_MakeCredential
         * there, TPM2_ActivateCredential here): each keyserver decides on
         * its own whether it trusts this TPM's EK. */
        struct ks_enroll_client_outcome out;
        const struct ks_enroll_client_config ec = {
            .server = ks->url,
            .http = &http,
            .ek_kind = f->ek_kind,
            .send_cert = f->send_ek_cert,
        };
        r = ks_enroll_client_run(f->tpm, f->ak, &ec, &out, &serr);
        if (r != KS_OK) {
            request_reason(why, "enrollment", r, &serr, f->tpm);
            return r;
        }
        if (!out.active) {
            reason(why, "the AK is enrolled but EK %s waits for an admin's approval there",
                   out.ek_name);
            return KS_ERR_EK_NOT_APPROVED;
        }
    }
    const char *keys[] = {f->dek_ref};
    const struct ks_attest_config ac = {
        .server = ks->url,
        .http = &http,
        .keys = keys,
        .n_keys = 1,
        .sel = f->sel,
        .event_log_path = f->event_log_path,
        .ima_log_path = f->ima_log_path,
        .app_log_path = f->app_log_path,
        .cbor = ks->request_cbor,
    };
    r = ks_attest_release(f->tpm, f->ak, &ac, &res, &serr);
    if (r != KS_OK) {
        request_reason(why, "release", r, &serr, f->tpm);
        goto out;
    }
    /* The share metadata acted on below is what the receipt vouches for. */
    r = ks_statement_receipt_check(ks->receipt_key, ks->receipt_key_len, res, f->ak_id);
    if (r != KS_OK) {
        reason(why, "the release receipt does not verify with its pinned receipt key: %s",
               ks_strerror(r));
        goto out;
    }
    const struct ks_attest_key *k = &res->keys[0];
    r = ks_share_set_add(set, ks->name, k);
    if (r == KS_ERR_SHAMIR_MISMATCH && k->share_index == 0) {
        reason(why, "released %s@%u as a whole key, not a key share", k->name,
               (unsigned)k->version);
    } else if (r == KS_ERR_SHAMIR_MISMATCH && k->key_len != set->len) {
        reason(why, "a key share of %zu bytes, not %zu", k->key_len, set->len);
    } else if (r == KS_ERR_SHAMIR_MISMATCH) {
        reason(why, "key share %u is of a %u-of-%u split, not %u-of-%u", (unsigned)k->share_index,
               (unsigned)k->share_threshold, (unsigned)k->share_count, set->threshold, set->count);
    } else if (r == KS_ERR_SHAMIR_INDEX) {
        reason(why, "key share %u is already held", (unsigned)k->share_index);
    } else if (r != KS_OK) {
        reason(why, "%s", ks_strerror(r));
    } else {
        fprintf(stderr, "ks-loader: key share %u of %s@%u from keyserver %s; receipt verified\n",
                (unsigned)k->share_index, k->name, (unsigned)k->version, ks->name);
    }
out:
    ks_attest_result_free(res); /* wipes the released share */
    return r;
}

int ks_shares_collect(const struct ks_shares_flow *flow, const struct ks_loader_keyserver *servers,
                      size_t n, struct ks_share_set *set)
{
    char summary[1024] = "";
    size_t off = 0;
    if (!flow || !flow->tpm || !flow->ak || !flow->ak_id || !flow->dek_ref || !flow->sel ||
        (!servers && n > 0) || !set) {
        return KS_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < n && set->n < set->threshold; i++) {
        char why[REASON_MAX] = "";
        if (one_server(flow, &servers[i], set, why) == KS_OK) {
            continue;
        }
        fprintf(stderr, "ks-loader: keyserver %s skipped: %s\n", servers[i].name, why);
        if (off < sizeof(summary)) {
            int w = snprintf(summary + off, sizeof(summary) - off, "%s%s: %s", off ? "; " : "",
                             servers[i].name, why);
            off += w > 0 ? (size_t)w : 0;
        }
    }
    if (set->n < set->threshold) {
        fprintf(stderr, "ks-loader: obtained %zu of the %u key shares needed: %s\n", set->n,
                set->threshold, off ? summary : "no [keyserver] section left to ask");
        return KS_ERR_SHAMIR_TOO_FEW;
    }
    return KS_OK;
}

int ks_shares_obtain(const struct ks_shares_flow *flow, const struct ks_attest_key *primary,
                     const struct ks_loader_keyserver *servers, size_t n, uint8_t *ret_dek,
                     size_t dek_len)
{
    struct ks_share_set *set = NULL;
    char from[512];
    if (!flow || !primary || !ret_dek) {
        return KS_ERR_INVALID_ARG;
    }
    int r = ks_share_set_new(primary->share_threshold, primary->share_count, dek_len, &set);
    if (r == KS_OK) {
        r = ks_share_set_add(set, "primary", primary);
    }
    if (r != KS_OK) {
        fprintf(stderr, "ks-loader: the primary keyserver's key share is unusable: %s\n",
                ks_strerror(r));
        goto out;
    }
    fprintf(stderr,
            "ks-loader: %s@%u is key share %u of a %u-of-%u split: asking the %zu share "
            "keyserver(s)\n",
            primary->name, (unsigned)primary->version, (unsigned)primary->share_index,
            (unsigned)primary->share_threshold, (unsigned)primary->share_count, n);
    r = ks_shares_collect(flow, servers, n, set);
    if (r == KS_OK) {
        r = ks_share_set_combine(set, ret_dek, dek_len);
        if (r != KS_OK) {
            fprintf(stderr, "ks-loader: cannot combine the key shares: %s\n", ks_strerror(r));
        }
    }
    if (r == KS_OK) {
        ks_share_set_describe(set, from, sizeof(from));
        fprintf(stderr, "ks-loader: the DEK %s@%u was combined from %zu of %u key shares (%s)\n",
                primary->name, (unsigned)primary->version, set->n, set->count, from);
    }
out:
    ks_share_set_free(set);
    return r;
}
