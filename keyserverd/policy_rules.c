/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "eventlog_types.h"
#include "keyserverd/policy_rules.h"
#include "tpm_alg.h"

/* Data fields a kind has (NULL-terminated; all required but "seq"). */
static const char *const *data_fields(enum ks_rule_kind kind)
{
    static const char *const event[] = {"type", "seq", NULL};
    static const char *const type[] = {"type", NULL};
    static const char *const word[] = {"word", NULL};
    static const char *const file[] = {"path", "alg", NULL};
    static const char *const prefix[] = {"prefix", NULL};
    static const char *const tag[] = {"tag", NULL};
    static const char *const min[] = {"min", NULL};
    static const char *const none[] = {NULL};
    switch (kind) {
    case KS_RULE_EVENT:
        return event;
    case KS_RULE_EVENT_FORBIDDEN:
        return type;
    case KS_RULE_CMDLINE_FORBIDDEN:
        return word;
    case KS_RULE_IMA_FILE:
        return file;
    case KS_RULE_IMA_EXCLUDE:
        return prefix;
    case KS_RULE_APP_DIGEST:
        return tag;
    case KS_RULE_TPM_FIRMWARE:
        return min;
    default:
        return none;
    }
}

const char *ks_rule_type_name(uint32_t type, char *buf, size_t len)
{
    const char *name = ks_eventlog_type_name(type);
    if (name) {
        return name;
    }
    snprintf(buf, len, "0x%08" PRIx32, type);
    return buf;
}

static int parse_type(const char *s, uint32_t *ret)
{
    if (strncmp(s, "0x", 2) == 0 && strlen(s) == 10) {
        uint8_t b[4];
        if (ks_hex_decode_fixed(s + 2, b, 4) < 0) {
            return KS_ERR_INVALID_ARG;
        }
        *ret = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        return KS_OK;
    }
    return ks_eventlog_type_from_name(s, ret) < 0 ? KS_ERR_INVALID_ARG : KS_OK;
}

static bool word_valid(const char *w)
{
    size_t n = strlen(w);
    for (size_t i = 0; i < n; i++) {
        if (w[i] <= ' ' || w[i] > '~') {
            return false;
        }
    }
    return n >= 1 && n <= KS_RULE_WORD_MAX;
}

static bool tag_valid(const char *t)
{
    size_t n = strlen(t);
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            return false;
        }
    }
    return n >= 1 && n <= KS_RULE_TAG_MAX;
}

static int parse_fw_min(const char *s, uint64_t *ret)
{
    size_t n = strlen(s);
    if (n < 3 || n > 18 || strncmp(s, "0x", 2) != 0) {
        return KS_ERR_INVALID_ARG;
    }
    uint64_t v = 0;
    for (size_t i = 2; i < n; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) {
            return KS_ERR_INVALID_ARG;
        }
        v = v << 4 | (uint64_t)d;
    }
    *ret = v;
    return KS_OK;
}

static int set_text(struct ks_rule_dec *d, const char *s)
{
    d->text_len = strlen(s);
    d->text = strdup(s);
    return d->text ? KS_OK : KS_ERR_NOMEM;
}

/* The data fields of `data`, checked for `kind`; fills d. */
static int decode_fields(enum ks_rule_kind kind, json_t *data, size_t digest_len,
                         struct ks_rule_dec *d)
{
    const char *const *fields = data_fields(kind);
    const char *key;
    json_t *v;
    size_t nf = 0;
    while (fields[nf]) {
        nf++;
    }
    if (nf == 0) {
        return data ? KS_ERR_INVALID_ARG : KS_OK;
    }
    if (!json_is_object(data)) {
        return KS_ERR_INVALID_ARG;
    }
    json_object_foreach(data, key, v)
    {
        bool known = false;
        for (size_t i = 0; i < nf; i++) {
            known = known || strcmp(key, fields[i]) == 0;
        }
        if (!known) {
            return KS_ERR_INVALID_ARG;
        }
    }
    for (size_t i = 0; i < nf; i++) {
        v = json_object_get(data, fields[i]);
        if (!v && strcmp(fields[i], "seq") == 0) {
            continue;
        }
        if (!v) {
            return KS_ERR_INVALID_ARG;
        }
        if (strcmp(fields[i], "seq") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                json_integer_value(v) >= KS_RULE_SEQ_MAX) {
                return KS_ERR_INVALID_ARG;
            }
            d->has_seq = true;
            d->seq = (uint32_t)json_integer_value(v);
            continue;
        }
        const char *s = json_string_value(v);
        if (!s || strlen(s) != json_string_length(v)) {
            return KS_ERR_INVALID_ARG; /* not a string, or an embedded NUL */
        }
        int r = KS_OK;
        if (strcmp(fields[i], "type") == 0) {
            r = parse_type(s, &d->event_type);
            d->has_type = true;
        } else if (strcmp(fields[i], "word") == 0) {
            r = word_valid(s) ? set_text(d, s) : KS_ERR_INVALID_ARG;
        } else if (strcmp(fields[i], "tag") == 0) {
            r = tag_valid(s) ? set_text(d, s) : KS_ERR_INVALID_ARG;
        } else if (strcmp(fields[i], "path") == 0 || strcmp(fields[i], "prefix") == 0) {
            r = strlen(s) >= 1 && strlen(s) < KS_IMA_MAX_PATH ? set_text(d, s) : KS_ERR_INVALID_ARG;
        } else if (strcmp(fields[i], "alg") == 0) {
            r = ks_ima_hash_from_name(s, &d->ima_alg) < 0 ||
                        ks_ima_hash_size(d->ima_alg) != digest_len
                    ? KS_ERR_INVALID_ARG
                    : KS_OK;
        } else if (strcmp(fields[i], "min") == 0) {
            r = parse_fw_min(s, &d->fw_min);
        }
        if (r < 0) {
            return r;
        }
    }
    return KS_OK;
}

int ks_rule_decode(const struct ks_store_rule *row, struct ks_rule_dec *ret)
{
    if (!row || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    memset(ret, 0, sizeof(*ret));
    ret->row = row;
    if (row->kind <= KS_RULE_UNKNOWN || row->kind > KS_RULE_KIND_MAX) {
        return KS_ERR_INVALID_ARG;
    }
    json_t *data = NULL;
    if (row->data) {
        data = json_loads(row->data, JSON_REJECT_DUPLICATES, NULL);
        if (!data) {
            return KS_ERR_INVALID_ARG;
        }
    }
    int r = decode_fields(row->kind, data, row->digest_len, ret);
    json_decref(data);
    if (r < 0) {
        ks_rule_dec_clear(ret);
        ret->row = row;
    }
    return r;
}

void ks_rule_dec_clear(struct ks_rule_dec *d)
{
    if (!d) {
        return;
    }
    free(d->text);
    memset(d, 0, sizeof(*d));
}

char *ks_rule_data_dump(const json_t *data)
{
    return json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
}

int ks_rule_to_json(const struct ks_store_rule *row, json_t **ret)
{
    if (!row || !ret) {
        return KS_ERR_INVALID_ARG;
    }
    const char *kind = ks_rule_kind_name(row->kind);
    json_t *j = json_object();
    if (!j) {
        return KS_ERR_NOMEM;
    }
    json_t *data = row->data ? json_loads(row->data, 0, NULL) : NULL;
    if (!kind) {
        json_object_set_new(j, "kind", json_string(row->kind_name));
        json_object_set_new(j, "data", data ? data : json_null());
        *ret = j;
        return KS_OK;
    }
    json_object_set_new(j, "kind", json_string(kind));
    if (row->bank) {
        json_object_set_new(j, "bank", json_string(ks_alg_name(row->bank)));
    }
    if (row->pcr != KS_RULE_NO_PCR) {
        json_object_set_new(j, "pcr", json_integer(row->pcr));
    }
    if (row->digest_len) {
        char hex[2 * KS_MAX_DIGEST + 1];
        ks_hex_encode(row->digest, row->digest_len, hex);
        json_object_set_new(j, "digest", json_string(hex));
    }
    if (json_is_object(data)) {
        json_object_update(j, data);
    }
    json_decref(data);
    *ret = j;
    return KS_OK;
}

__attribute__((format(printf, 3, 4))) static int bad(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return KS_ERR_INVALID_ARG;
}

int ks_rule_from_json(json_t *j, struct ks_store_rule *ret, char *err, size_t errlen)
{
    struct ks_store_rule row;
    struct ks_rule_dec dec;
    char tbuf[16];
    const char *key;
    json_t *v;
    if (!json_is_object(j) || !ret) {
        return bad(err, errlen, "a rule must be a JSON object");
    }
    memset(&row, 0, sizeof(row));
    row.pcr = KS_RULE_NO_PCR;
    const char *kind = json_string_value(json_object_get(j, "kind"));
    if (!kind) {
        return bad(err, errlen, "a rule needs a \"kind\" string");
    }
    row.kind = ks_rule_kind_from_name(kind);
    if (row.kind == KS_RULE_UNKNOWN) {
        return bad(err, errlen, "unknown rule kind \"%.32s\"", kind);
    }
    snprintf(row.kind_name, sizeof(row.kind_name), "%s", kind);
    json_t *data = json_object();
    if (!data) {
        return KS_ERR_NOMEM;
    }
    int r = KS_OK;
    json_object_foreach(j, key, v)
    {
        if (strcmp(key, "kind") == 0) {
            continue;
        }
        if (strcmp(key, "bank") == 0) {
            if (!json_is_string(v) || ks_alg_from_name(json_string_value(v), &row.bank) < 0) {
                r = bad(err, errlen, "%s: bad \"bank\"", kind);
            }
        } else if (strcmp(key, "pcr") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 23) {
                r = bad(err, errlen, "%s: \"pcr\" must be 0..23", kind);
            } else {
                row.pcr = (uint8_t)json_integer_value(v);
            }
        } else if (strcmp(key, "digest") == 0) {
            const char *hex = json_string_value(v);
            size_t n = hex ? strlen(hex) : 0;
            if (n < 2 || n > 2 * KS_MAX_DIGEST || n % 2 ||
                ks_hex_decode_fixed(hex, row.digest, n / 2) < 0) {
                r = bad(err, errlen, "%s: \"digest\" must be hex", kind);
            } else {
                row.digest_len = (uint8_t)(n / 2);
            }
        } else if (strcmp(key, "type") == 0 && json_is_string(v) &&
                   parse_type(json_string_value(v), &dec.event_type) == KS_OK) {
            /* canonical spelling */
            json_object_set_new(data, key,
                                json_string(ks_rule_type_name(dec.event_type, tbuf, sizeof(tbuf))));
        } else {
            json_object_set(data, key, v);
        }
        if (r < 0) {
            goto out;
        }
    }
    if (json_object_size(data) > 0) {
        row.data = ks_rule_data_dump(data);
        if (!row.data) {
            r = KS_ERR_NOMEM;
            goto out;
        }
    }
    r = ks_rule_decode(&row, &dec);
    if (r == KS_ERR_INVALID_ARG) {
        r = bad(err, errlen, "%s: missing, unknown or malformed fields", kind);
    }
    ks_rule_dec_clear(&dec);
    if (r == KS_OK) {
        *ret = row;
        row.data = NULL;
    }
out:
    free(row.data);
    json_decref(data);
    return r;
}
