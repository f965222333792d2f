/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "keyserverd/http.h"

static const char *const code_names[KS_HC_COUNT] = {
    [KS_HC_NONE] = "",
    [KS_HC_BAD_REQUEST] = "bad_request",
    [KS_HC_TOO_LARGE] = "too_large",
    [KS_HC_UNSUPPORTED_MEDIA_TYPE] = "unsupported_media_type",
    [KS_HC_NOT_FOUND] = "not_found",
    [KS_HC_METHOD_NOT_ALLOWED] = "method_not_allowed",
    [KS_HC_NONCE_INVALID] = "nonce_invalid",
    [KS_HC_NONCE_EXPIRED] = "nonce_expired",
    [KS_HC_NONCE_USED] = "nonce_used",
    [KS_HC_ATTESTATION_FAILED] = "attestation_failed",
    [KS_HC_POLICY_DENIED] = "policy_denied",
    [KS_HC_RATE_LIMITED] = "rate_limited",
    [KS_HC_UNAVAILABLE] = "unavailable",
    [KS_HC_INTERNAL] = "internal",
};

static const unsigned code_status[KS_HC_COUNT] = {
    [KS_HC_NONE] = 200,
    [KS_HC_BAD_REQUEST] = 400,
    [KS_HC_TOO_LARGE] = 413,
    [KS_HC_UNSUPPORTED_MEDIA_TYPE] = 415,
    [KS_HC_NOT_FOUND] = 404,
    [KS_HC_METHOD_NOT_ALLOWED] = 405,
    /* DESIGN "Protocol": nonce, attestation and policy refusals are 403;
     * a nonce already consumed is 409. */
    [KS_HC_NONCE_INVALID] = 403,
    [KS_HC_NONCE_EXPIRED] = 403,
    [KS_HC_NONCE_USED] = 409,
    [KS_HC_ATTESTATION_FAILED] = 403,
    [KS_HC_POLICY_DENIED] = 403,
    [KS_HC_RATE_LIMITED] = 429,
    [KS_HC_UNAVAILABLE] = 503,
    [KS_HC_INTERNAL] = 500,
};

const char *ks_http_code_name(enum ks_http_code code)
{
    if ((int)code < 0 || code >= KS_HC_COUNT) {
        return NULL;
    }
    return code_names[code];
}

unsigned ks_http_code_status(enum ks_http_code code)
{
    if ((int)code < 0 || code >= KS_HC_COUNT) {
        return 500;
    }
    return code_status[code];
}

enum ks_http_code ks_http_code_for(int ks_err)
{
    switch (ks_err) {
    case KS_OK:
        return KS_HC_NONE;
    case KS_ERR_BAD_REQUEST:
    case KS_ERR_INVALID_ARG:
    case KS_ERR_HEX:
    case KS_ERR_BASE64:
    case KS_ERR_HPKE_KEY: /* the client's hpke_pk is not a usable X25519 key */
        return KS_HC_BAD_REQUEST;
    case KS_ERR_TOO_LARGE:
        return KS_HC_TOO_LARGE;
    case KS_ERR_MEDIA_TYPE:
        return KS_HC_UNSUPPORTED_MEDIA_TYPE;
    case KS_ERR_NOT_FOUND:
        return KS_HC_NOT_FOUND;
    case KS_ERR_METHOD:
        return KS_HC_METHOD_NOT_ALLOWED;
    case KS_ERR_NONCE_INVALID:
        return KS_HC_NONCE_INVALID;
    case KS_ERR_NONCE_EXPIRED:
        return KS_HC_NONCE_EXPIRED;
    case KS_ERR_NONCE_USED:
        return KS_HC_NONCE_USED;
    case KS_ERR_ATTESTATION:
    case KS_ERR_STORE_UNKNOWN_AK:
    case KS_ERR_STORE_UNKNOWN_EK:
    case KS_ERR_STORE_STATE: /* AK pending or revoked */
    case KS_ERR_AK_CLOCK_ROLLBACK:
        return KS_HC_ATTESTATION_FAILED;
    case KS_ERR_POLICY_DENIED:
    /* Unknown keys are refused like policy denials, so that key existence
     * does not leak before attestation passes (DESIGN "Protocol"). */
    case KS_ERR_STORE_UNKNOWN_KEY:
    case KS_ERR_STORE_UNKNOWN_POLICY:
        return KS_HC_POLICY_DENIED;
    case KS_ERR_RATE_LIMITED:
    case KS_ERR_ENROLL_TOO_MANY: /* pending enrollments are capped */
        return KS_HC_RATE_LIMITED;
    /* Enrollment (ep_enroll.c): a malformed certificate is a bad request,
     * an unknown enrollment id 404, a used one 409 (like a used nonce: the
     * id is a one-time challenge); every other refusal is 403. */
    case KS_ERR_EKCERT_PARSE:
        return KS_HC_BAD_REQUEST;
    case KS_ERR_ENROLL_UNKNOWN:
        return KS_HC_NOT_FOUND;
    case KS_ERR_ENROLL_USED:
        return KS_HC_NONCE_USED;
    case KS_ERR_CRED_MALFORMED:
    case KS_ERR_CRED_INTEGRITY:
    case KS_ERR_ROCA_WEAK:
    case KS_ERR_EKCERT_UNTRUSTED:
    case KS_ERR_EKCERT_EXPIRED:
    case KS_ERR_EKCERT_NOT_YET_VALID:
    case KS_ERR_EKCERT_REVOKED:
    case KS_ERR_EKCERT_KEY_MISMATCH:
    case KS_ERR_EK_NOT_APPROVED:
    case KS_ERR_EK_REVOKED:
    case KS_ERR_ENROLL_REFUSED:
    case KS_ERR_ENROLL_EXPIRED:
    case KS_ERR_ENROLL_SECRET:
        return KS_HC_ATTESTATION_FAILED;
    case KS_ERR_NONCE_CACHE_FULL:
    case KS_ERR_DB_BUSY:
        return KS_HC_UNAVAILABLE;
    default:
        break;
    }
    /* Every verification failure of the submitted evidence: TPM structures
     * (-40..-59), quote (-60..-79), PCR sets (-80..-99), TCG event log
     * (-100..-119) and IMA log (-120..-139) blocks of lib/ks_error.h. */
    if (ks_err <= KS_ERR_TPM_UNMARSHAL && ks_err > KS_ERR_HPKE_KEY) {
        return KS_HC_ATTESTATION_FAILED;
    }
    /* Anything else (memory, I/O, crypto library, database, ...) is ours. */
    return KS_HC_INTERNAL;
}

unsigned ks_http_status_for(int ks_err, const char **ret_code)
{
    enum ks_http_code code = ks_http_code_for(ks_err);
    if (ret_code) {
        *ret_code = code_names[code];
    }
    return code_status[code];
}

void ks_http_reply_init(struct ks_http_reply *reply)
{
    memset(reply, 0, sizeof(*reply));
    reply->status = 500;
    reply->content_type = KS_HTTP_JSON;
    reply->error = KS_HC_INTERNAL;
}

void ks_http_reply_clear(struct ks_http_reply *reply)
{
    if (!reply) {
        return;
    }
    free(reply->body);
    ks_http_reply_init(reply);
}

int ks_http_reply_json(struct ks_http_reply *reply, unsigned status, const json_t *obj)
{
    if (!reply || !obj) {
        return KS_ERR_INVALID_ARG;
    }
    char *s = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    if (!s) {
        return KS_ERR_NOMEM;
    }
    free(reply->body);
    reply->body = s;
    reply->body_len = strlen(s);
    reply->status = status;
    reply->content_type = KS_HTTP_JSON;
    reply->error = KS_HC_NONE;
    return KS_OK;
}

void ks_http_reply_error(struct ks_http_reply *reply, int ks_err, const char *detail)
{
    const char *code;
    unsigned status = ks_http_status_for(ks_err, &code);
    enum ks_http_code hc = ks_http_code_for(ks_err);
    /* Details may quote client input: keep printable ASCII only, so the
     * JSON encoder never meets invalid UTF-8. */
    char text[256];
    size_t n = 0;
    for (; detail && detail[n] != '\0' && n + 1 < sizeof(text); n++) {
        unsigned char c = (unsigned char)detail[n];
        text[n] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    text[n] = '\0';
    json_t *obj = json_pack("{s:s, s:s}", "error", code, "detail", text);
    free(reply->body);
    reply->body = NULL;
    reply->body_len = 0;
    reply->content_type = KS_HTTP_JSON;
    reply->allow = NULL;
    if (obj && ks_http_reply_json(reply, status, obj) == KS_OK) {
        reply->error = hc;
    } else {
        reply->status = 500;
        reply->error = KS_HC_INTERNAL;
    }
    json_decref(obj);
}

void ks_http_reply_text(struct ks_http_reply *reply, unsigned status, const char *content_type,
                        char *body, size_t len)
{
    free(reply->body);
    reply->body = body;
    reply->body_len = body ? len : 0;
    reply->status = status;
    reply->content_type = content_type;
    reply->error = KS_HC_NONE;
}

/* `content_type` names the media type `type` (case-insensitive), with or
 * without parameters. RFC 9110 section 8.3.1: media-type = type "/"
 * subtype parameters. */
static bool is_media_type(const char *content_type, const char *type)
{
    size_t n = strlen(type);
    if (!content_type) {
        return false;
    }
    const char *s = content_type;
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (strncasecmp(s, type, n) != 0) {
        return false;
    }
    s += n;
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    return *s == '\0' || *s == ';';
}

bool ks_http_is_json_type(const char *content_type)
{
    return is_media_type(content_type, "application/json");
}

bool ks_http_is_cbor_type(const char *content_type)
{
    return is_media_type(content_type, "application/cbor");
}
