/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ima.h"

/* Replay, prefix matching and binary serialisation of a parsed IMA list,
 * through lib/ima.h's accessors only. */

static uint8_t *put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
    return p + 4;
}

/* The TPM bank that uses the same hash as the template hashes, 0 if none. */
static uint16_t bank_of(enum ks_ima_hash alg)
{
    switch (alg) {
    case KS_IMA_HASH_SHA1:
        return KS_ALG_SHA1;
    case KS_IMA_HASH_SHA256:
        return KS_ALG_SHA256;
    case KS_IMA_HASH_SHA384:
        return KS_ALG_SHA384;
    case KS_IMA_HASH_SHA512:
        return KS_ALG_SHA512;
    default:
        return 0;
    }
}

/* The digest an entry extends into a bank (see ks_ima_log_replay()). */
static int extend_value(const struct ks_ima_log *log, const struct ks_ima_entry *e, uint16_t bank,
                        size_t size, uint8_t *ret)
{
    if (e->violation) {
        memset(ret, 0xff, size);
        return KS_OK;
    }
    if (bank_of(ks_ima_log_template_alg(log)) == bank) {
        memcpy(ret, e->template_hash, size);
        return KS_OK;
    }
    return ks_alg_hash(bank, e->data, e->data_len, NULL, 0, ret);
}

int ks_ima_log_replay(const struct ks_ima_log *log, size_t count, uint16_t bank,
                      struct ks_pcr_set *set)
{
    if (!log || !set || count > ks_ima_log_count(log)) {
        return KS_ERR_INVALID_ARG;
    }
    size_t size = ks_alg_digest_size(bank);
    if (size == 0) {
        return KS_ERR_TPM_ALG;
    }
    struct ks_pcr_set tmp = *set;
    int r = ks_pcr_bank_enable(&tmp, bank);
    if (r != KS_OK) {
        return r;
    }
    uint8_t ext[KS_MAX_DIGEST];
    for (size_t i = 0; i < count; i++) {
        const struct ks_ima_entry *e = ks_ima_log_entry(log, i);
        r = extend_value(log, e, bank, size, ext);
        if (r != KS_OK) {
            return r;
        }
        r = ks_pcr_extend(&tmp, bank, e->pcr, ext, size);
        if (r != KS_OK) {
            return r;
        }
    }
    if (!ks_pcr_set_has(&tmp, bank, KS_IMA_PCR)) {
        static const uint8_t zero[KS_MAX_DIGEST];
        r = ks_pcr_set_put(&tmp, bank, KS_IMA_PCR, zero, size);
        if (r != KS_OK) {
            return r;
        }
    }
    *set = tmp;
    return KS_OK;
}

int ks_ima_log_match_prefix(const struct ks_ima_log *log, uint16_t bank, const uint8_t *pcr10,
                            size_t pcr10_len, size_t *ret_count)
{
    if (!log || !pcr10 || !ret_count) {
        return KS_ERR_INVALID_ARG;
    }
    size_t size = ks_alg_digest_size(bank);
    if (size == 0) {
        return KS_ERR_TPM_ALG;
    }
    if (pcr10_len != size) {
        return KS_ERR_INVALID_ARG;
    }
    uint8_t cur[KS_MAX_DIGEST] = {0};
    uint8_t ext[KS_MAX_DIGEST];
    if (memcmp(cur, pcr10, size) == 0) {
        *ret_count = 0;
        return KS_OK;
    }
    for (size_t i = 0; i < ks_ima_log_count(log); i++) {
        const struct ks_ima_entry *e = ks_ima_log_entry(log, i);
        if (e->pcr != KS_IMA_PCR) {
            continue;
        }
        int r = extend_value(log, e, bank, size, ext);
        if (r != KS_OK) {
            return r;
        }
        /* PCR = H(PCR || digest), TPM 2.0 Part 1, 17.6.2 */
        r = ks_alg_hash(bank, cur, size, ext, size, cur);
        if (r != KS_OK) {
            return r;
        }
        if (memcmp(cur, pcr10, size) == 0) {
            *ret_count = i + 1;
            return KS_OK;
        }
    }
    return KS_ERR_IMA_NO_MATCH;
}

int ks_ima_log_to_binary(const struct ks_ima_log *log, uint8_t **ret_buf, size_t *ret_len)
{
    if (!log || !ret_buf || !ret_len) {
        return KS_ERR_INVALID_ARG;
    }
    size_t total = 0;
    for (size_t i = 0; i < ks_ima_log_count(log); i++) {
        const struct ks_ima_entry *e = ks_ima_log_entry(log, i);
        size_t n = 4 + e->template_hash_len + 4 + strlen(e->template_name) + 4;
        n += e->template_id == KS_IMA_TEMPLATE_IMA ? e->digest_len + e->path_len : e->data_len;
        if (total > SIZE_MAX - n) {
            return KS_ERR_NOMEM;
        }
        total += n;
    }
    uint8_t *out = malloc(total ? total : 1);
    if (!out) {
        return KS_ERR_NOMEM;
    }
    uint8_t *p = out;
    for (size_t i = 0; i < ks_ima_log_count(log); i++) {
        const struct ks_ima_entry *e = ks_ima_log_entry(log, i);
        size_t nlen = strlen(e->template_name);
        p = put_le32(p, e->pcr);
        memcpy(p, e->template_hash, e->template_hash_len);
        p += e->template_hash_len;
        p = put_le32(p, (uint32_t)nlen);
        memcpy(p, e->template_name, nlen);
        p += nlen;
        if (e->template_id == KS_IMA_TEMPLATE_IMA) {
            memcpy(p, e->digest, e->digest_len);
            p += e->digest_len;
            p = put_le32(p, (uint32_t)e->path_len);
            memcpy(p, e->path, e->path_len);
            p += e->path_len;
        } else {
            p = put_le32(p, (uint32_t)e->data_len);
            memcpy(p, e->data, e->data_len);
            p += e->data_len;
        }
    }
    *ret_buf = out;
    *ret_len = total;
    return KS_OK;
}
