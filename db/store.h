/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_STORE_H
#define KS_STORE_H

/*
 * The keyserver's data-access layer: the only code that speaks SQL.
 *
 * One SQLite database (WAL mode, foreign keys on, busy timeout) shared by
 * keyserverd and ksctl. The schema (db/schema.sql and db/migrations/NNNN_*.sql)
 * is compiled into the binaries and applied by ks_store_open() inside
 * BEGIN IMMEDIATE; PRAGMA user_version records the schema version.
 *
 * Every write runs in its own BEGIN IMMEDIATE transaction together with the
 * audit row that records it; reads that must be consistent (the release
 * snapshot, audit verification) run in one read transaction. Because every
 * request starts a fresh transaction, a change made by ksctl is seen by the
 * daemon's next request without a restart.
 *
 * A struct ks_store is one SQLite connection with its prepared-statement
 * cache. It is not thread-safe: use one handle per thread.
 *
 * Key material at rest is AES-256-GCM under a 32-byte master key that never
 * enters the database. Plaintext secrets are returned in struct
 * ks_store_secret (OpenSSL secure heap when initialised, wiped on free).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "ks_error.h"
#include "tpm_alg.h"

/* Names of keys and policies: [A-Za-z0-9._-]{1,64}. */
#define KS_STORE_NAME_MAX 64
/* TPM Name in lowercase hex: 2-byte nameAlg + digest (SHA-512 at most). */
#define KS_STORE_TPM_NAME_HEX_MAX (2 * (2 + KS_MAX_DIGEST))
/* Actor strings (OS user, "keyserverd", peer address ...). */
#define KS_STORE_ACTOR_MAX 128
/* "name@4294967295" */
#define KS_STORE_KEY_REF_MAX (KS_STORE_NAME_MAX + 11)

#define KS_MASTER_KEY_LEN 32
#define KS_STORE_NONCE_LEN 12
#define KS_STORE_TAG_LEN 16
#define KS_STORE_HASH_LEN 32

/* Caps on what the store accepts or returns. */
#define KS_STORE_MAX_SECRET 4096        /* plaintext key material */
#define KS_STORE_MAX_BLOB (64 * 1024)   /* TPM2B_PUBLIC, certificates */
#define KS_STORE_MAX_REQUEST_KEYS 32    /* keys per release snapshot */
#define KS_STORE_MAX_RULES 4096         /* rules per policy version */
#define KS_STORE_MAX_REASON 1024        /* audit reason */
#define KS_STORE_MAX_DETAIL (64 * 1024) /* audit detail JSON */

#define KS_STORE_DEFAULT_BUSY_MS 5000

/* ---- master key ------------------------------------------------------- */

struct ks_master_key;

/* Load the master key: `path` must be a regular file of exactly 32 bytes,
 * owned by the effective user, with no group or other permission bits
 * (0600 or stricter). KS_ERR_MASTER_KEY_PERMS, KS_ERR_MASTER_KEY_SIZE,
 * KS_ERR_IO. */
KS_WUR int ks_master_key_load(const char *path, struct ks_master_key **ret);

/* Create `path` (must not exist; mode 0600) holding 32 fresh random bytes
 * and return the key. KS_ERR_STORE_EXISTS when the file exists. */
KS_WUR int ks_master_key_generate(const char *path, struct ks_master_key **ret);

void ks_master_key_free(struct ks_master_key *mk);

/* ---- plaintext secrets ------------------------------------------------- */

/* Plaintext secret in secure-heap memory; wiped by ks_store_secret_free. */
struct ks_store_secret {
    uint8_t *data;
    size_t len;
};

void ks_store_secret_free(struct ks_store_secret *secret);

/* ---- wrapping (AES-256-GCM under the master key) ------------------------ */

/* Key kinds; the number is the kind byte of the AAD. */
enum ks_key_kind {
    KS_KEY_DEK = 1,  /* data-encryption key (or a k-of-n share of one) */
    KS_KEY_HPKE = 2, /* X25519 private key of a request (HPKE) key */
};

/* "dek" / "hpke", NULL for other values; parse the same names. */
const char *ks_key_kind_name(enum ks_key_kind kind);
KS_WUR int ks_key_kind_from_name(const char *name, enum ks_key_kind *ret);

/*
 * Wrap key material for (name, version, kind). The AAD is exactly
 *     "ks-key-v1" || 0x00 || u8 len(name) || name || u32be version || u8 kind
 * so the ciphertext cannot be moved to another key, version or kind. A fresh
 * random 12-byte nonce is returned in ret_nonce; the ciphertext is
 * ct || 16-byte tag (pt_len + 16 bytes, malloc'd, not secret).
 */
KS_WUR int ks_store_key_wrap(const struct ks_master_key *mk, const char *name, uint32_t version,
                             enum ks_key_kind kind, const uint8_t *pt, size_t pt_len,
                             uint8_t ret_nonce[KS_STORE_NONCE_LEN], uint8_t **ret_ct,
                             size_t *ret_ct_len);

/* Inverse of ks_store_key_wrap; KS_ERR_KEY_UNWRAP when the tag does not
 * verify (wrong master key, name, version, kind, nonce or ciphertext). */
KS_WUR int ks_store_key_unwrap(const struct ks_master_key *mk, const char *name, uint32_t version,
                               enum ks_key_kind kind, const uint8_t nonce[KS_STORE_NONCE_LEN],
                               const uint8_t *ct, size_t ct_len, struct ks_store_secret **ret);

/* Same for the secrets in the meta table (receipt key, nonce key), with
 * AAD "ks-meta-v1" || 0x00 || u8 len(name) || name. */
KS_WUR int ks_store_secret_wrap(const struct ks_master_key *mk, const char *name, const uint8_t *pt,
                                size_t pt_len, uint8_t ret_nonce[KS_STORE_NONCE_LEN],
                                uint8_t **ret_ct, size_t *ret_ct_len);
KS_WUR int ks_store_secret_unwrap(const struct ks_master_key *mk, const char *name,
                                  const uint8_t nonce[KS_STORE_NONCE_LEN], const uint8_t *ct,
                                  size_t ct_len, struct ks_store_secret **ret);

/* ---- open / close --------------------------------------------------------- */

struct ks_store;

/* ks_store_open flags */
#define KS_STORE_CREATE 0x1u /* create the file (mode 0600) and the schema if missing */

/*
 * Open (and, with KS_STORE_CREATE, create) the database, set WAL mode,
 * foreign keys, a busy timeout of KS_STORE_DEFAULT_BUSY_MS, and bring the
 * schema up to date inside BEGIN IMMEDIATE. KS_ERR_DB_OPEN (missing file
 * without KS_STORE_CREATE, or not openable), KS_ERR_DB_SCHEMA_NEWER,
 * KS_ERR_DB_NOT_INIT (an empty database without KS_STORE_CREATE),
 * KS_ERR_DB_CORRUPT (not SQLite, or another program's database),
 * KS_ERR_DB_CONSTRAINT (a migration broke a reference), KS_ERR_DB_BUSY,
 * KS_ERR_DB. On failure there is no handle: the code is all there is.
 */
KS_WUR int ks_store_open(const char *path, unsigned flags, struct ks_store **ret);

/* The same with the busy timeout (ms, >= 0) to use from the start (the
 * migration waits that long too), and an optional buffer that receives the
 * failure's message (SQLite's text included) when it returns an error. */
KS_WUR int ks_store_open_ex(const char *path, unsigned flags, int busy_ms, char *errbuf,
                            size_t errlen, struct ks_store **ret);

/* NULL is a no-op. */
void ks_store_close(struct ks_store *s);

/* How long a write waits for another writer before KS_ERR_DB_BUSY. */
KS_WUR int ks_store_set_busy_timeout(struct ks_store *s, int ms);

/* Message of the most recent failure on this handle (SQLite's text
 * included, e.g. "unknown key w@3" or "begin immediate: database is locked
 * (...)"); "" for NULL or before any failure. Never NULL; valid until the
 * next call on the handle. Not cleared by successful calls. */
const char *ks_store_errmsg(const struct ks_store *s);

/* Schema version this program creates (the number of embedded migrations),
 * and the version of an open database. */
int ks_store_schema_version(void);
KS_WUR int ks_store_db_version(struct ks_store *s, int *ret);

/* [A-Za-z0-9._-]{1,64} */
bool ks_store_name_valid(const char *name);
/* lowercase hex, even length, 4..KS_STORE_TPM_NAME_HEX_MAX characters */
bool ks_store_tpm_name_valid(const char *hex);

/* ---- init and meta -------------------------------------------------------- */

/* Well-known meta entries. */
#define KS_META_ID "keyserver_id"         /* text */
#define KS_META_RECEIPT_PUB "receipt_pub" /* SubjectPublicKeyInfo DER */
#define KS_META_RECEIPT_KEY "receipt_key" /* wrapped PKCS#8 DER, ECDSA P-256 */
#define KS_META_NONCE_KEY "nonce_key"     /* wrapped 32-byte HMAC-SHA256 key */

/*
 * Initialise a freshly created database: keyserver id (`id`, or 16 random
 * bytes in hex when NULL; must be a name, see ks_store_name_valid), a new
 * ECDSA P-256 receipt key and a 32-byte nonce HMAC key, both wrapped under
 * `mk`. Audited as "init". KS_ERR_STORE_EXISTS when already initialised.
 */
KS_WUR int ks_store_init(struct ks_store *s, const struct ks_master_key *mk, const char *actor,
                         const char *id);

/* Plain meta value (for secrets: the wrapped bytes are not returned;
 * KS_ERR_INVALID_ARG). KS_ERR_DB_NOT_INIT when absent. Allocated with
 * malloc, NUL-appended (not counted). */
KS_WUR int ks_store_meta_get(struct ks_store *s, const char *key, uint8_t **ret_buf,
                             size_t *ret_len);

/* A wrapped meta secret, unwrapped. KS_ERR_DB_NOT_INIT when absent,
 * KS_ERR_INVALID_ARG when the entry is not wrapped, KS_ERR_KEY_UNWRAP. */
KS_WUR int ks_store_meta_secret_get(struct ks_store *s, const struct ks_master_key *mk,
                                    const char *key, struct ks_store_secret **ret);

/* The receipt signing key, checked against the stored receipt_pub. */
KS_WUR int ks_store_receipt_key_load(struct ks_store *s, const struct ks_master_key *mk,
                                     EVP_PKEY **ret);

/* ---- EKs ------------------------------------------------------------------ */

/* Record an EK by its TPM Name (lowercase hex) with its TPM2B_PUBLIC and an
 * optional certificate (DER), not approved. KS_ERR_STORE_EXISTS. */
KS_WUR int ks_store_ek_add(struct ks_store *s, const char *actor, const char *ek_name,
                           const uint8_t *pub, size_t pub_len, const uint8_t *cert,
                           size_t cert_len);

/* Approve (or withdraw approval of) an EK. KS_ERR_STORE_UNKNOWN_EK. */
KS_WUR int ks_store_ek_approve(struct ks_store *s, const char *actor, const char *ek_name,
                               bool approved);

/* ---- AKs ------------------------------------------------------------------ */

enum ks_ak_state {
    KS_AK_PENDING = 1,
    KS_AK_ACTIVE = 2,
    KS_AK_REVOKED = 3,
};

const char *ks_ak_state_name(enum ks_ak_state state);

/*
 * Add an AK vouched for by an admin (`actor`): active at once. `ak_id` is the
 * AK's TPM Name in lowercase hex, which the caller computed from `pub` (a
 * TPM2B_PUBLIC) with lib/tpm_public; the store does not parse TPM
 * structures. `ek_name` (NULL for none) must be a known EK.
 * KS_ERR_STORE_EXISTS, KS_ERR_STORE_UNKNOWN_EK.
 */
KS_WUR int ks_store_ak_add(struct ks_store *s, const char *actor, const char *ak_id,
                           const uint8_t *pub, size_t pub_len, const char *ek_name);

/* Revoke an AK (KS_ERR_STORE_STATE if already revoked). */
KS_WUR int ks_store_ak_revoke(struct ks_store *s, const char *actor, const char *ak_id,
                              const char *reason);

struct ks_store_ak_info {
    char id[KS_STORE_TPM_NAME_HEX_MAX + 1];
    enum ks_ak_state state;
    char ek_name[KS_STORE_TPM_NAME_HEX_MAX + 1]; /* "" when none */
    char vouched_by[KS_STORE_ACTOR_MAX + 1];     /* "" when enrolled */
    int64_t created_at;
    int64_t last_attested_at; /* 0 when never */
};

/* All AKs ordered by id (*ret NULL when none); free with free(). */
KS_WUR int ks_store_ak_list(struct ks_store *s, struct ks_store_ak_info **ret, size_t *ret_n);

/*
 * Record a successful quote's TPMS_CLOCK_INFO (TPM 2.0 Part 2, 10.11.1) for
 * the AK, with the time `now` (0: now). The triple (resetCount, restartCount, clock) may not go
 * backwards (restartCount restarts at 0 after a TPM Reset, which increments resetCount; clock only
 * advances while resetCount stays): an older quote gives KS_ERR_AK_CLOCK_ROLLBACK and nothing is
 * written.
 */
KS_WUR int ks_store_ak_record_quote(struct ks_store *s, const char *ak_id, int64_t now,
                                    uint64_t clock, uint32_t reset_count, uint32_t restart_count);

/* ---- policies ------------------------------------------------------------ */

enum ks_policy_state {
    KS_POLICY_DRAFT = 1,
    KS_POLICY_ACTIVE = 2,
    KS_POLICY_RETIRED = 3,
};

const char *ks_policy_state_name(enum ks_policy_state state);

/* Version selectors for ks_store_policy_get / ks_store_policy_activate. */
#define KS_STORE_VERSION_ACTIVE 0u
#define KS_STORE_VERSION_DRAFT UINT32_MAX

enum ks_rule_kind {
    KS_RULE_UNKNOWN = 0, /* a kind this program does not know: must refuse */
    KS_RULE_PCR = 1,     /* PCR allow-list entry */
};

/*
 * One rule row. KS_RULE_PCR: PCR `pcr` of bank `bank` may hold `digest`;
 * a policy's PCR rules are any-of per (bank, pcr) and all (bank, pcr) pairs
 * required. Rows of unknown kinds keep their kind text and JSON data.
 */
struct ks_store_rule {
    int64_t id;
    enum ks_rule_kind kind;
    char kind_name[33];
    uint16_t bank; /* TPM_ALG_ID */
    uint8_t pcr;
    uint8_t digest_len;
    uint8_t digest[KS_MAX_DIGEST];
    char *data; /* JSON text or NULL */
};

/* A policy version with its rules. version 0 and no rules: the policy has
 * no active version (which must refuse everything). */
struct ks_store_policy {
    char name[KS_STORE_NAME_MAX + 1];
    uint32_t version;
    enum ks_policy_state state;
    size_t n_rules;
    struct ks_store_rule *rules;
};

void ks_store_policy_free(struct ks_store_policy *p);

/* Create a policy with an empty draft version 1. KS_ERR_STORE_EXISTS. */
KS_WUR int ks_store_policy_create(struct ks_store *s, const char *actor, const char *name);

/*
 * Add a PCR allow-list entry to the policy's draft. Without a draft, one is
 * made first as a copy of the active version's rules (edits never touch an
 * active version; a trigger refuses that too). `digest_len` must be the
 * bank's digest size. Returns the draft version. KS_ERR_STORE_EXISTS when
 * the draft has that exact rule.
 */
KS_WUR int ks_store_policy_add_pcr(struct ks_store *s, const char *actor, const char *policy,
                                   uint16_t bank, unsigned pcr, const uint8_t *digest,
                                   size_t digest_len, uint32_t *ret_version);

/* Remove a PCR entry from the draft. KS_ERR_NOT_FOUND when absent,
 * KS_ERR_STORE_STATE when there is no draft. */
KS_WUR int ks_store_policy_remove_pcr(struct ks_store *s, const char *actor, const char *policy,
                                      uint16_t bank, unsigned pcr, const uint8_t *digest,
                                      size_t digest_len);

/*
 * Make `version` (KS_STORE_VERSION_DRAFT for the draft; a retired version to
 * roll back) the active version in one transaction; the old active version
 * becomes retired. KS_ERR_STORE_STATE when `version` is already active,
 * KS_ERR_STORE_UNKNOWN_POLICY when it does not exist.
 */
KS_WUR int ks_store_policy_activate(struct ks_store *s, const char *actor, const char *policy,
                                    uint32_t version, uint32_t *ret_version);

/* One version (KS_STORE_VERSION_ACTIVE, KS_STORE_VERSION_DRAFT or a number)
 * with its rules, ordered by (kind, bank, pcr, digest). */
KS_WUR int ks_store_policy_get(struct ks_store *s, const char *policy, uint32_t version,
                               struct ks_store_policy **ret);

struct ks_store_policy_info {
    char name[KS_STORE_NAME_MAX + 1];
    uint32_t active_version; /* 0 when none */
    uint32_t draft_version;  /* 0 when none */
    uint32_t n_versions;
};

/* All policies ordered by name; free with free(). */
KS_WUR int ks_store_policy_list(struct ks_store *s, struct ks_store_policy_info **ret,
                                size_t *ret_n);

/* ---- keys ----------------------------------------------------------------- */

struct ks_store_key_params {
    const char *name;
    enum ks_key_kind kind;
    const char *policy;
    /* NULL: generate (32 random bytes for a DEK, a new X25519 key for HPKE).
     * Otherwise imported: 1..KS_STORE_MAX_SECRET bytes for a DEK, the 32-byte
     * raw X25519 private key for HPKE. */
    const uint8_t *material;
    size_t material_len;
    /* k-of-n share metadata (all 0: not a share): 1 <= threshold <= count,
     * 1 <= index <= count. DEK only. */
    uint8_t share_index;
    uint8_t share_threshold;
    uint8_t share_count;
};

/* Create key version 1 (active), wrapped under `mk`. For HPKE keys the
 * public key is derived and stored in the clear. KS_ERR_STORE_EXISTS,
 * KS_ERR_STORE_UNKNOWN_POLICY. */
KS_WUR int ks_store_key_create(struct ks_store *s, const struct ks_master_key *mk,
                               const char *actor, const struct ks_store_key_params *p);

/* New active version (generated when material is NULL); the old active
 * version is retired but kept (releasable as name@N by policy). Share
 * metadata carries over. Returns the new version. */
KS_WUR int ks_store_key_rotate(struct ks_store *s, const struct ks_master_key *mk,
                               const char *actor, const char *name, const uint8_t *material,
                               size_t material_len, uint32_t *ret_version);

struct ks_store_key_info {
    char name[KS_STORE_NAME_MAX + 1];
    enum ks_key_kind kind;
    char policy[KS_STORE_NAME_MAX + 1];
    uint32_t active_version;
    uint32_t n_versions;
    uint8_t share_index, share_threshold, share_count;
    int64_t created_at;
};

/* All keys ordered by name; free with free(). */
KS_WUR int ks_store_key_list(struct ks_store *s, struct ks_store_key_info **ret, size_t *ret_n);

/* Public half of an HPKE key (active version when version is 0) with the
 * policy name and its active version (0 when none), for
 * GET /v1/keys/{name}/public. KS_ERR_STORE_UNKNOWN_KEY, KS_ERR_INVALID_ARG
 * for a DEK. */
struct ks_store_key_public {
    char name[KS_STORE_NAME_MAX + 1];
    uint32_t version;
    uint8_t public_key[32];
    char policy[KS_STORE_NAME_MAX + 1];
    uint32_t policy_version;
};

KS_WUR int ks_store_key_public_get(struct ks_store *s, const char *name, uint32_t version,
                                   struct ks_store_key_public *ret);

/* ---- release snapshot ----------------------------------------------------- */

enum ks_key_version_state {
    KS_KEY_VERSION_ACTIVE = 1,
    KS_KEY_VERSION_RETIRED = 2,
};

struct ks_store_ak {
    char id[KS_STORE_TPM_NAME_HEX_MAX + 1];
    enum ks_ak_state state;
    uint8_t *public_blob; /* TPM2B_PUBLIC as stored */
    size_t public_len;
    bool vouched; /* added by an admin */
    bool has_ek;  /* bound to an EK */
    bool ek_approved;
    char ek_name[KS_STORE_TPM_NAME_HEX_MAX + 1];
    bool has_clock; /* last_* below are set */
    uint64_t last_clock;
    uint32_t last_reset_count;
    uint32_t last_restart_count;
};

struct ks_store_key {
    char name[KS_STORE_NAME_MAX + 1];
    enum ks_key_kind kind;
    uint32_t version;
    bool explicit_version; /* requested as name@N */
    enum ks_key_version_state state;
    uint8_t nonce[KS_STORE_NONCE_LEN];
    uint8_t *wrapped; /* ciphertext || tag */
    size_t wrapped_len;
    bool has_public;
    uint8_t public_key[32]; /* HPKE keys */
    uint8_t share_index, share_threshold, share_count;
    struct ks_store_policy policy; /* the key's policy, active version */
};

struct ks_store_snapshot {
    struct ks_store_ak ak;
    size_t n_keys;
    struct ks_store_key *keys; /* in request order */
};

/*
 * Everything the release decision needs, read in ONE read transaction: the
 * AK, and for each key reference ("name" for the active version or
 * "name@N") the key version's wrapped material and its policy's active
 * version with its rules. The result holds no SQL types. 0..
 * KS_STORE_MAX_REQUEST_KEYS references.
 * KS_ERR_STORE_UNKNOWN_AK, KS_ERR_STORE_UNKNOWN_KEY (unknown name or version;
 * ks_store_errmsg names it), KS_ERR_INVALID_ARG (malformed reference).
 */
KS_WUR int ks_store_release_snapshot(struct ks_store *s, const char *ak_id,
                                     const char *const *key_refs, size_t n,
                                     struct ks_store_snapshot **ret);

void ks_store_snapshot_free(struct ks_store_snapshot *snap);

/* Unwrap one key of a snapshot (after the decision granted it). */
KS_WUR int ks_store_snapshot_key_unwrap(const struct ks_master_key *mk,
                                        const struct ks_store_key *key,
                                        struct ks_store_secret **ret);

/* ---- audit ---------------------------------------------------------------- */

enum ks_audit_outcome {
    KS_AUDIT_OK = 1,      /* admin change done */
    KS_AUDIT_GRANTED = 2, /* release granted */
    KS_AUDIT_REFUSED = 3, /* release or request refused */
    KS_AUDIT_FAILED = 4,  /* internal failure */
};

const char *ks_audit_outcome_name(enum ks_audit_outcome outcome);

struct ks_audit_entry {
    int64_t time;            /* Unix seconds; 0: now */
    const char *actor;       /* required */
    const char *event;       /* required, e.g. "release", "key.create" */
    const char *ak_id;       /* optional */
    const char *const *keys; /* optional key references ("name" or "name@N") */
    size_t n_keys;
    enum ks_audit_outcome outcome;
    const char *reason; /* optional */
    const char *detail; /* optional, valid JSON (KS_ERR_INVALID_ARG otherwise) */
};

/*
 * Append one row inside BEGIN IMMEDIATE. prev_hash is the previous row's
 * row_hash (32 zero bytes for the first row, or the anchor recorded by
 * ks_store_audit_prune), and
 *   row_hash = SHA-256("ks-audit-v1" || 0x00 || u64be seq || u64be time ||
 *                      F(actor) || F(event) || F(ak_id) || F(keys) ||
 *                      F(outcome) || F(reason) || F(detail) || prev_hash)
 * where F(NULL) = 0x00 and F(s) = 0x01 || u32be len(s) || s, `keys` is the
 * comma-joined references and `outcome` its name. Returns the row's seq and
 * row_hash (the release receipt embeds them).
 */
KS_WUR int ks_store_audit_append(struct ks_store *s, const struct ks_audit_entry *e,
                                 int64_t *ret_seq, uint8_t ret_hash[KS_STORE_HASH_LEN]);

/* A stored row; the strings are valid during the callback only. */
struct ks_audit_row {
    int64_t seq;
    int64_t time;
    const char *actor;
    const char *event;
    const char *ak_id; /* NULL when none */
    const char *keys;  /* comma-joined references, NULL when none */
    enum ks_audit_outcome outcome;
    const char *reason; /* NULL when none */
    const char *detail; /* NULL when none */
    uint8_t prev_hash[KS_STORE_HASH_LEN];
    uint8_t row_hash[KS_STORE_HASH_LEN];
};

/* Filters (zero / NULL: no filter). `key` matches a reference's name. */
struct ks_audit_filter {
    int64_t since_seq;
    int64_t since_time;
    int64_t until_time;
    const char *ak_id;
    const char *event;
    const char *key;
    enum ks_audit_outcome outcome;
    int64_t limit;
};

/* Calls `cb` for each matching row in seq order; a non-zero return of cb
 * stops the walk and is returned. `cb` must not use the same handle. */
typedef int (*ks_audit_cb)(const struct ks_audit_row *row, void *ctx);
KS_WUR int ks_store_audit_foreach(struct ks_store *s, const struct ks_audit_filter *f,
                                  ks_audit_cb cb, void *ctx);

struct ks_audit_verify {
    int64_t rows;      /* rows checked */
    int64_t first_seq; /* 0 when empty */
    int64_t last_seq;  /* 0 when empty */
    uint8_t last_hash[KS_STORE_HASH_LEN];
    int64_t bad_seq; /* first broken row; 0 when the chain verifies */
};

/*
 * Walk the whole chain in one read transaction: seq contiguous from the
 * anchor (or 1), each prev_hash equal to the previous row_hash (or the
 * anchor / zeros) and each row_hash recomputed. KS_OK with *ret filled, or
 * KS_ERR_AUDIT_CHAIN with *ret filled and ret->bad_seq the first broken
 * row (the one exception to "outputs untouched on failure").
 */
KS_WUR int ks_store_audit_verify(struct ks_store *s, struct ks_audit_verify *ret);

/* Delete the rows before `keep_from_seq` (which must exist), record the
 * last deleted row's seq and row_hash as the chain's anchor, and audit the
 * prune. Returns the number of rows deleted. */
KS_WUR int ks_store_audit_prune(struct ks_store *s, const char *actor, int64_t keep_from_seq,
                                int64_t *ret_deleted);

#endif
