/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_IMA_INTERNAL_H
#define KS_IMA_INTERNAL_H

/*
 * Shared by the IMA list parsers only (lib/ima.c: template data, the binary
 * list and the list object; lib/ima_ascii.c: the ASCII list). Not part of
 * the library's interface: use lib/ima.h.
 */
#include <openssl/evp.h>

#include "ima.h"

/* The legacy "ima" template's digest: SHA-1 (IMA_DIGEST_SIZE). */
#define KS_IMA_LEGACY_DIGEST 20u

/* An entry and the template data it owns (e.data == data). */
struct ks_ima_slot {
    struct ks_ima_entry e;
    uint8_t *data;
};

struct ks_ima_log {
    struct ks_ima_slot *entries;
    size_t count;
    size_t cap;
    enum ks_ima_format format;
    enum ks_ima_hash template_alg;
    size_t bad; /* entries with template_hash_mismatch */
};

/* Template and file digest algorithm names, not NUL-terminated.
 * KS_ERR_IMA_TEMPLATE / KS_ERR_IMA_DIGEST_ALG when unknown. */
KS_WUR int ks_ima_template_from_span(const char *s, size_t n, enum ks_ima_template *ret_id,
                                     const char **ret_name);
KS_WUR int ks_ima_hash_from_span(const char *s, size_t n, enum ks_ima_hash *ret_alg);

/* Build a slot's template data: the legacy "ima" template from its digest
 * and name (no NUL in it, at most KS_IMA_MAX_LEGACY_NAME bytes), the others
 * from the d-ng algorithm name as written, digest, NUL-free path and, for
 * ima-sig and ima-buf (has_extra), the signature or buffer. */
KS_WUR int ks_ima_build_legacy(const uint8_t *digest, const char *name, size_t nlen,
                               struct ks_ima_slot *s);
KS_WUR int ks_ima_build_ng(const char *alg, const uint8_t *digest, size_t dlen, const char *path,
                           const uint8_t *extra, size_t xlen, bool has_extra,
                           struct ks_ima_slot *s);

/* Decode the slot's template data into its entry fields, check its template
 * hash with md and append it to the log. The log takes the data; the slot
 * is cleared, on failure too. */
KS_WUR int ks_ima_finish_entry(struct ks_ima_log *log, struct ks_ima_slot *s, const EVP_MD *md);

void ks_ima_slot_clear(struct ks_ima_slot *s);

/* Parse an ASCII list into log (at most max entries); *ret_pos is the
 * 1-based line number on failure. */
KS_WUR int ks_ima_parse_ascii(struct ks_ima_log *log, const uint8_t *buf, size_t len, size_t max,
                              const EVP_MD *md, size_t *ret_pos);

#endif
