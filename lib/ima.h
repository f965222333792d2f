/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_IMA_H
#define KS_IMA_H

/*
 * Linux IMA measurement lists: parse the binary (binary_runtime_measurements)
 * and the ASCII (ascii_runtime_measurements) forms into one entry list,
 * verify each entry's template hash, replay it into PCRs, find the shortest
 * prefix that replays to a quoted PCR 10, and serialise a list to the binary
 * form.
 *
 * Formats (Linux security/integrity/ima/ima_fs.c, ima_template_lib.c):
 *
 *   binary, per entry, integers little endian (the kernel writes host order,
 *   or little endian with ima_canonical_fmt; big-endian hosts without
 *   ima_canonical_fmt are not supported):
 *     u32 pcr || template hash (20 bytes, SHA-1) || u32 name_len || name ||
 *     u32 data_len || template data                  (every template but "ima")
 *     u32 pcr || template hash || u32 3 || "ima" ||
 *     digest[20] || u32 path_len || path (no NUL)    (the legacy "ima" template)
 *
 *   ASCII, one line per entry, "\n"-terminated (the last one too):
 *     PCR(%2d) SP template-hash-hex SP template-name {SP field}
 *   where each field is printed in ASCII form and an empty field leaves its
 *   separating space (ima-sig without a signature ends in "path ").
 *
 * Template data (what the template hash covers), per template:
 *   ima-ng:  u32 len || "<alg>:" "\0" || digest || u32 len || path "\0"
 *   ima-sig: ima-ng data || u32 len || signature (len may be 0)
 *   ima-buf: ima-ng data || u32 len || buffer    (the path is the buffer name)
 *   ima:     digest[20] (SHA-1) || path NUL-padded to 256 bytes (the kernel
 *            hashes the legacy "n" field at IMA_EVENT_NAME_LEN_MAX + 1 bytes
 *            and without length prefixes, ima_calc_field_array_hash_tfm()).
 * Paths never contain NUL (rejected); the kernel writes spaces as '_'.
 *
 * File digest algorithms: md5, sha1, sha256, sha384, sha512, sm3_256 (also
 * spelled "sm3" and "sm3-256" by kernels). sm3 file digests are carried, not
 * computed. An entry whose file digest algorithm is anything else is
 * REJECTED with KS_ERR_IMA_DIGEST_ALG (the whole log fails to parse): a
 * policy cannot judge a digest it cannot name, and skipping the entry would
 * make the replay and the list disagree. Templates other than the four
 * above are rejected with KS_ERR_IMA_TEMPLATE.
 *
 * Template hash algorithm: the kernel's default files carry SHA-1 template
 * hashes; newer kernels also write per-bank files (*_runtime_measurements_
 * <alg>) whose template hash uses that bank's hash. The parser takes the
 * template hash algorithm as an argument (KS_IMA_HASH_SHA1 for the default
 * files; sha256/384/512 and sm3_256 accepted).
 *
 * Every entry's template hash is checked against H(template data) at parse
 * time; a mismatch does not fail the parse but flags the entry
 * (template_hash_mismatch) so that callers can refuse or report it. An
 * all-zero template hash marks a violation (ima_add_violation()): it is not
 * checked, and its template data is NOT bound to the PCR, so a policy must
 * not trust a violation entry's fields.
 *
 * An empty input (no entries) is an error, KS_ERR_IMA_EMPTY: a running IMA
 * always has at least its boot_aggregate entry.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ks_error.h"
#include "pcr.h"

#define KS_IMA_PCR 10

/* Limits: input beyond them is rejected with KS_ERR_IMA_TOO_MANY (entries)
 * or KS_ERR_IMA_FIELD_SIZE (everything else). The kernel's own limits are
 * PATH_MAX for paths and IMA_EVENT_NAME_LEN_MAX for legacy names; template
 * data beyond 64 KiB (ima-buf of a large buffer) is not expected. */
#define KS_IMA_MAX_ENTRIES (1u << 20)         /* entries per log */
#define KS_IMA_MAX_TEMPLATE_DATA (64u * 1024) /* bytes of template data per entry */
#define KS_IMA_MAX_PATH 4096u                 /* path bytes incl. its NUL (PATH_MAX) */
#define KS_IMA_MAX_LEGACY_NAME 255u           /* "ima" template: IMA_EVENT_NAME_LEN_MAX */
#define KS_IMA_MAX_LINE (2u * KS_IMA_MAX_TEMPLATE_DATA + 1024u) /* ASCII line, w/o "\n" */

enum ks_ima_format {
    KS_IMA_FORMAT_AUTO = 0, /* parse only: ASCII when the first byte is printable */
    KS_IMA_FORMAT_ASCII,
    KS_IMA_FORMAT_BINARY,
};

enum ks_ima_template {
    KS_IMA_TEMPLATE_IMA = 1,
    KS_IMA_TEMPLATE_IMA_NG,
    KS_IMA_TEMPLATE_IMA_SIG,
    KS_IMA_TEMPLATE_IMA_BUF,
};

/* Hash algorithms that IMA uses for file digests and template hashes (not
 * TPM algorithm ids: md5 and sm3 have no bank here). */
enum ks_ima_hash {
    KS_IMA_HASH_SHA1 = 1,
    KS_IMA_HASH_SHA256,
    KS_IMA_HASH_SHA384,
    KS_IMA_HASH_SHA512,
    KS_IMA_HASH_MD5,
    KS_IMA_HASH_SM3_256,
};

/* One measurement. Every pointer points into memory the log owns; valid
 * until ks_ima_log_free(). */
struct ks_ima_entry {
    uint32_t pcr; /* < KS_PCR_COUNT */
    uint8_t template_hash[KS_MAX_DIGEST];
    size_t template_hash_len; /* size of the log's template hash algorithm */
    enum ks_ima_template template_id;
    const char *template_name; /* "ima", "ima-ng", "ima-sig", "ima-buf" */
    enum ks_ima_hash digest_alg;
    const uint8_t *digest; /* the file (or buffer) digest */
    size_t digest_len;
    const char *path;   /* NUL-terminated, no embedded NUL; ima-buf: buffer name */
    size_t path_len;    /* strlen(path) */
    const uint8_t *sig; /* ima-sig: signature (sig_len may be 0); else NULL */
    size_t sig_len;
    const uint8_t *buf; /* ima-buf: the measured buffer; else NULL */
    size_t buf_len;
    const uint8_t *data; /* the template data, as hashed */
    size_t data_len;
    bool violation;              /* all-zero template hash: extends 0xFF..FF */
    bool template_hash_mismatch; /* not a violation and template hash != H(data) */
};

struct ks_ima_log;

/* Digest size of an IMA hash (0 when unknown) and its canonical name
 * ("sha256", "sm3_256"; NULL when unknown). */
size_t ks_ima_hash_size(enum ks_ima_hash alg);
const char *ks_ima_hash_name(enum ks_ima_hash alg);

/* Look up a hash by the name the kernel writes in d-ng fields (exact,
 * lowercase; "sm3", "sm3-256" and "sm3_256" are all SM3). KS_ERR_IMA_DIGEST_ALG
 * when unknown. */
KS_WUR int ks_ima_hash_from_name(const char *name, enum ks_ima_hash *ret_alg);

/* The format the parser's KS_IMA_FORMAT_AUTO picks for this input. */
enum ks_ima_format ks_ima_detect_format(const uint8_t *buf, size_t len);

/* Parse options; a zeroed struct (or NULL) gives the defaults. */
struct ks_ima_parse_opts {
    enum ks_ima_format format;     /* 0: KS_IMA_FORMAT_AUTO */
    enum ks_ima_hash template_alg; /* hash of the template hashes; 0: SHA-1 (the default files) */
    size_t max_entries;            /* 0 or above KS_IMA_MAX_ENTRIES: KS_IMA_MAX_ENTRIES */
};

/*
 * Parse a measurement list. On failure, *err_pos (when err_pos is not NULL)
 * is set to the 1-based line number (ASCII) or the byte offset of the
 * offending field (binary), 0 when no position applies; ks_ima_detect_format()
 * tells which of the two an AUTO parse used.
 *
 * Errors: KS_ERR_INVALID_ARG; KS_ERR_IMA_EMPTY (no entries);
 * KS_ERR_IMA_MALFORMED (ASCII syntax: field separators, numbers, hex; a NUL
 * byte); KS_ERR_IMA_TRUNCATED (binary entry cut short; ASCII last line
 * without "\n"); KS_ERR_IMA_PCR_INDEX (PCR >= 24); KS_ERR_IMA_TEMPLATE
 * (unknown template, template data that does not parse as its fields, a
 * digest whose length is not its algorithm's); KS_ERR_IMA_DIGEST_ALG;
 * KS_ERR_IMA_FIELD_SIZE (a limit above); KS_ERR_IMA_TOO_MANY;
 * KS_ERR_UNSUPPORTED (an md5 template hash; an SM3 one when OpenSSL lacks
 * SM3);
 * KS_ERR_NOMEM; KS_ERR_CRYPTO.
 */
KS_WUR int ks_ima_log_parse(const uint8_t *buf, size_t len, const struct ks_ima_parse_opts *opts,
                            struct ks_ima_log **ret_log, size_t *err_pos);

void ks_ima_log_free(struct ks_ima_log *log);

size_t ks_ima_log_count(const struct ks_ima_log *log);

/* Entry `index`, or NULL when out of range. */
const struct ks_ima_entry *ks_ima_log_entry(const struct ks_ima_log *log, size_t index);

/* The format the list was parsed from, and its template hash algorithm. */
enum ks_ima_format ks_ima_log_format(const struct ks_ima_log *log);
enum ks_ima_hash ks_ima_log_template_alg(const struct ks_ima_log *log);

/* Number of entries with template_hash_mismatch set. */
size_t ks_ima_log_bad_template_hashes(const struct ks_ima_log *log);

/*
 * Replay the first `count` entries (count <= ks_ima_log_count()) into the
 * bank `bank` (KS_ALG_SHA1/256/384/512) of *set, each into its own PCR,
 * starting from the values already in *set (PCRs not present start at zero,
 * the reset value of PCR 10). The bank of the log's template hash algorithm
 * (sha1 for the default files) extends the log's template hash; other banks
 * extend H_bank(template data) (what kernels since 5.8 extend,
 * ima_calc_field_array_hash()); a violation extends 0xFF..FF of the bank's
 * size in every bank (ima_pcr_extend()). Kernels before 5.8, and banks
 * whose hash the kernel lacks, extend the zero-padded SHA-1 template hash
 * instead: such non-SHA-1 banks do not replay here (use the sha1 bank).
 * PCR 10 is always present in *set afterwards. *set is not modified on
 * failure.
 * Errors: KS_ERR_INVALID_ARG, KS_ERR_TPM_ALG (unsupported bank), KS_ERR_CRYPTO.
 */
KS_WUR int ks_ima_log_replay(const struct ks_ima_log *log, size_t count, uint16_t bank,
                             struct ks_pcr_set *set);

/*
 * IMA entries are appended after a quote is taken, so a log read after the
 * quote can be longer than what the quoted PCR 10 covers. Find the smallest n
 * such that replaying entries [0, n) into PCR 10 of `bank` from zero gives
 * `pcr10` (pcr10_len must be the bank's digest size). n is 0 when pcr10 is
 * all zero (nothing measured yet). One pass over the log. Entries whose
 * template hash does not match their data may lie within the prefix: the
 * caller checks template_hash_mismatch (and violation) of entries [0, n).
 * Errors: KS_ERR_IMA_NO_MATCH, KS_ERR_INVALID_ARG, KS_ERR_TPM_ALG, KS_ERR_CRYPTO.
 */
KS_WUR int ks_ima_log_match_prefix(const struct ks_ima_log *log, uint16_t bank,
                                   const uint8_t *pcr10, size_t pcr10_len, size_t *ret_count);

/* Serialise the list in the binary format (newly allocated), whatever format
 * it was parsed from, with template hashes of the list's template hash
 * algorithm. Parsing the result (same template_alg) gives the same entries.
 * Errors: KS_ERR_INVALID_ARG, KS_ERR_NOMEM. */
KS_WUR int ks_ima_log_to_binary(const struct ks_ima_log *log, uint8_t **ret_buf, size_t *ret_len);

#endif
