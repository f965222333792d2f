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
#define KS_STORE_MAX_RULES 262144       /* rules per policy version */
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

/* A granted quote's TPMS_CLOCK_INFO for a release row (struct ks_store_release_item). */
struct ks_store_quote_clock {
    uint64_t clock;
    uint32_t reset_count;
    uint32_t restart_count;
    /* true: an older quote than the AK's record refuses (a policy has a
     * tpm_clock rule); false: an older quote leaves the record as it is. */
    bool enforce;
};

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
    /* Migration 4 (keyserverd/policy_rules.h documents each kind's columns,
     * its `data` and how keyserverd judges it): */
    KS_RULE_EVENT = 2,             /* "event": allowed event digest per PCR, type */
    KS_RULE_EVENT_FORBIDDEN = 3,   /* "event_forbidden" */
    KS_RULE_SECUREBOOT = 4,        /* "secureboot": Secure Boot enabled */
    KS_RULE_SEPARATOR = 5,         /* "separator": required EV_SEPARATOR */
    KS_RULE_CMDLINE_FORBIDDEN = 6, /* "cmdline_forbidden": kernel command-line word */
    KS_RULE_IMA_FILE = 7,          /* "ima_file": allowed file digest by path */
    KS_RULE_IMA_EXCLUDE = 8,       /* "ima_exclude": path prefix not judged */
    KS_RULE_APP_DIGEST = 9,        /* "app_digest": application-log digest by tag */
    KS_RULE_TPM_SAFE = 10,         /* "tpm_safe": clockInfo.safe set */
    KS_RULE_TPM_CLOCK = 11,        /* "tpm_clock": clock monotonic per AK */
    KS_RULE_TPM_FIRMWARE = 12,     /* "tpm_firmware": minimum firmwareVersion */
};
#define KS_RULE_KIND_MAX 12

/* Stored name of a known kind ("pcr", "event", ...); NULL otherwise. */
const char *ks_rule_kind_name(enum ks_rule_kind kind);
/* Kind of a stored name; KS_RULE_UNKNOWN for a name this program does not
 * know (such a rule refuses every release). */
enum ks_rule_kind ks_rule_kind_from_name(const char *name);

/* ks_store_rule.pcr of a rule that names no PCR. */
#define KS_RULE_NO_PCR 0xFFu
/* Longest `data` (JSON text) of a rule. */
#define KS_STORE_MAX_RULE_DATA 32768

/*
 * One rule row. KS_RULE_PCR: PCR `pcr` of bank `bank` may hold `digest`;
 * a policy's PCR rules are any-of per (bank, pcr) and all (bank, pcr) pairs
 * required. Rows of unknown kinds keep their kind text and JSON data.
 * Columns a kind does not use are empty: bank 0, pcr KS_RULE_NO_PCR,
 * digest_len 0, data NULL.
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
    int64_t pv_id; /* the version's row id: one version, whatever its number */
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

/*
 * Add one rule of a known kind (rule->kind; kind_name and id are ignored) to
 * the policy's draft, made from the active version when there is none. The
 * row's shape is checked per kind: which of bank, pcr, digest and data it
 * has, the digest's size, `data` a JSON object of at most
 * KS_STORE_MAX_RULE_DATA bytes (its fields are keyserverd/policy_rules.c's
 * business). KS_ERR_INVALID_ARG for a malformed rule, KS_ERR_STORE_EXISTS
 * when the draft has that exact rule. Returns the draft version.
 */
KS_WUR int ks_store_policy_add_rule(struct ks_store *s, const char *actor, const char *policy,
                                    const struct ks_store_rule *rule, uint32_t *ret_version);

/* Remove the draft's rule equal to `rule` (all columns). KS_ERR_NOT_FOUND,
 * KS_ERR_STORE_STATE when there is no draft. */
KS_WUR int ks_store_policy_remove_rule(struct ks_store *s, const char *actor, const char *policy,
                                       const struct ks_store_rule *rule);

/*
 * Replace the rules of the policy's draft with `rules` (checked as by
 * ks_store_policy_add_rule; a rule given twice is KS_ERR_STORE_EXISTS) in
 * one transaction; a missing draft is made empty, and with `create` a
 * missing policy is created first (else KS_ERR_STORE_UNKNOWN_POLICY). One
 * audit row, event `event` (e.g. "policy.learn", "policy.import"), records
 * the draft version and the number of rules. Returns the draft version.
 */
KS_WUR int ks_store_policy_set_draft(struct ks_store *s, const char *actor, const char *policy,
                                     const char *event, bool create,
                                     const struct ks_store_rule *rules, size_t n,
                                     uint32_t *ret_version);

/* One version of a policy, for `ksctl policy history`. */
struct ks_store_policy_version_info {
    uint32_t version;
    enum ks_policy_state state;
    char created_by[KS_STORE_ACTOR_MAX + 1];
    int64_t created_at;
    char activated_by[KS_STORE_ACTOR_MAX + 1]; /* "" when never activated */
    int64_t activated_at;                      /* 0 when never activated; last activation */
    uint32_t n_rules;
};

/* Every version of a policy, oldest first; free with free().
 * KS_ERR_STORE_UNKNOWN_POLICY. */
KS_WUR int ks_store_policy_history(struct ks_store *s, const char *policy,
                                   struct ks_store_policy_version_info **ret, size_t *ret_n);

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
 * version becomes 'previous' (migration 5): kept and releasable as name@N
 * by policy until ks_store_key_retire. Share metadata carries over.
 * Returns the new version. */
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

/* States of a key version (migration 5). Only "name" reaches the active
 * version; name@N reaches an active or previous one; a retired version is
 * never released (its material is erased). */
enum ks_key_version_state {
    KS_KEY_VERSION_ACTIVE = 1,
    KS_KEY_VERSION_RETIRED = 2,
    KS_KEY_VERSION_PREVIOUS = 3,
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
    /* The caller already holds the rules of policy.pv_id (see
     * ks_store_release_snapshot_ex): policy has none here. */
    bool rules_held;
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

/*
 * The same, but for each key whose policy has an active version,
 * held(arg, key_index, pv_id, version) is asked first whether the caller
 * already holds that version's rules; when it says true they are not read
 * (key->rules_held, no rules in key->policy). Sound because a version's
 * rules never change once it is active (db/schema.sql triggers). held is
 * called inside the read transaction and must not use the store.
 */
typedef bool (*ks_store_rules_held_fn)(void *arg, size_t key_index, int64_t pv_id,
                                       uint32_t version);
KS_WUR int ks_store_release_snapshot_ex(struct ks_store *s, const char *ak_id,
                                        const char *const *key_refs, size_t n,
                                        ks_store_rules_held_fn held, void *arg,
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

/*
 * One release decision: its audit row and, when `clock` is not NULL (a
 * grant), the quote's clock recorded for entry->ak_id as
 * ks_store_ak_record_quote does, in the same transaction. With
 * clock->enforce, a quote older than the AK's record gives
 * KS_ERR_AK_CLOCK_ROLLBACK and writes nothing (the caller then audits the
 * refusal); without it, the record is left as it is and the row written.
 * result, seq, hash and errmsg are filled in.
 */
struct ks_store_release_item {
    const struct ks_audit_entry *entry;
    const struct ks_store_quote_clock *clock;
    int result; /* KS_OK: the row is committed; else why nothing was written */
    int64_t seq;
    uint8_t hash[KS_STORE_HASH_LEN];
    char errmsg[512]; /* the store's message when result < 0 */
};

/*
 * Group commit: the items in ONE BEGIN IMMEDIATE transaction and one
 * fsync, in order, each under its own savepoint (an item refused on its
 * own, a clock rollback, writes nothing and leaves the others). Returns
 * KS_OK when the transaction committed (then each item's result says
 * whether its row is in it) or the error that wrote nothing, which every
 * item's result then carries too.
 */
KS_WUR int ks_store_release_audit_batch(struct ks_store *s, struct ks_store_release_item *items,
                                        size_t n);

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

/* ---- enrollment: EK CAs, EKs, pending enrollments (migration 3) ------------ */

/* Most EK CAs (and CRLs) the store keeps. */
#define KS_STORE_MAX_EKCAS 1024
/* Subject of a CA as shown to admins (RFC 2253, cut). */
#define KS_STORE_SUBJECT_MAX 255
/* Enrollment ids: 16 random bytes in lowercase hex. */
#define KS_STORE_ENROLL_ID_LEN 32
/* Credential secrets (TPM2B_DIGEST: a digest of the EK's nameAlg at most). */
#define KS_STORE_ENROLL_SECRET_MAX 64
/* Used and expired enrollments are deleted this long after they expire, so
 * that a replayed id is answered "used" (409) rather than "unknown" (404)
 * for that long. */
#define KS_STORE_ENROLL_RETAIN_S 3600

struct ks_store_ekca {
    int64_t id;
    char subject[KS_STORE_SUBJECT_MAX + 1];
    bool auto_approve;
    char added_by[KS_STORE_ACTOR_MAX + 1];
    int64_t added_at;
    uint32_t n_eks;          /* EKs whose certificate chained to it */
    bool has_crl;            /* the store keeps one CRL per CA: the newest */
    int64_t crl_this_update; /* of that CRL; 0 when none */
    int64_t crl_next_update; /* 0 when none or absent */
    uint8_t *cert;           /* DER */
    size_t cert_len;
};

void ks_store_ekca_list_free(struct ks_store_ekca *cas, size_t n);

/* Trust an EK CA (DER certificate; `subject` is what the admin sees).
 * Audited "ekca.add". KS_ERR_STORE_EXISTS for the same certificate,
 * KS_ERR_TOO_LARGE past KS_STORE_MAX_EKCAS. The store does not parse
 * certificates: ksctl checks that it is a CA (lib/ekcert). */
KS_WUR int ks_store_ekca_add(struct ks_store *s, const char *actor, const char *subject,
                             const uint8_t *cert, size_t cert_len, bool auto_approve,
                             int64_t *ret_id);

/* Turn auto-approval of EKs certified under the CA on or off (existing
 * approvals stay; ks_store_ekca_remove withdraws them). KS_ERR_NOT_FOUND. */
KS_WUR int ks_store_ekca_set_auto_approve(struct ks_store *s, const char *actor, int64_t id,
                                          bool on);

/* Stop trusting a CA: its CRLs go, and every approval it granted (EKs
 * approved because their certificate chained to it with auto-approve) is
 * withdrawn in the same transaction, so their AKs stop working at once.
 * *ret_unapproved (may be NULL) counts them. KS_ERR_NOT_FOUND. */
KS_WUR int ks_store_ekca_remove(struct ks_store *s, const char *actor, int64_t id,
                                size_t *ret_unapproved);

/* All CAs ordered by id, with their certificates. */
KS_WUR int ks_store_ekca_list(struct ks_store *s, struct ks_store_ekca **ret, size_t *ret_n);

/* Keep `crl` (DER, checked by the caller against the CA's key) as the CA's
 * CRL, replacing an older one. KS_ERR_NOT_FOUND (no such CA),
 * KS_ERR_STORE_STATE when the stored CRL is newer (this_update). */
KS_WUR int ks_store_ekca_crl_add(struct ks_store *s, const char *actor, int64_t ca_id,
                                 const uint8_t *crl, size_t crl_len, int64_t this_update,
                                 int64_t next_update);

/* A CA's CRL (DER). */
struct ks_store_crl {
    int64_t ca_id;
    uint8_t *der;
    size_t len;
};

/* Everything an EK certificate check needs, read in one read transaction:
 * the CAs (as ks_store_ekca_list) and each CA's CRL. */
struct ks_store_ek_trust {
    size_t n_cas;
    struct ks_store_ekca *cas;
    size_t n_crls;
    struct ks_store_crl *crls;
};

KS_WUR int ks_store_ek_trust_load(struct ks_store *s, struct ks_store_ek_trust **ret);
void ks_store_ek_trust_free(struct ks_store_ek_trust *t);

struct ks_store_ek_info {
    char name[KS_STORE_TPM_NAME_HEX_MAX + 1];
    bool approved;
    bool revoked;
    bool has_cert;
    char approved_via[8]; /* "admin", "ca" or "" */
    char approved_by[KS_STORE_ACTOR_MAX + 1];
    int64_t approved_at;    /* 0: never decided */
    int64_t approved_ca_id; /* the CA that approved it; 0 when none */
    int64_t ca_id;          /* the CA its certificate chained to; 0 when none */
    char added_by[KS_STORE_ACTOR_MAX + 1];
    int64_t added_at;
    char revoked_by[KS_STORE_ACTOR_MAX + 1];
    int64_t revoked_at;
    char revoke_reason[256];
    uint32_t n_aks;        /* AKs bound to it */
    uint32_t n_active_aks; /* of which active */
};

/* All EKs ordered by Name; free with free(). */
KS_WUR int ks_store_ek_list(struct ks_store *s, struct ks_store_ek_info **ret, size_t *ret_n);

/* One EK, and (each optional, NULL) its TPM2B_PUBLIC and certificate (NULL
 * and 0 when none), malloc'd. KS_ERR_STORE_UNKNOWN_EK. */
KS_WUR int ks_store_ek_get(struct ks_store *s, const char *ek_name, struct ks_store_ek_info *ret,
                           uint8_t **ret_pub, size_t *ret_pub_len, uint8_t **ret_cert,
                           size_t *ret_cert_len);

/* An admin's approval (or its withdrawal) of an EK: approved_via "admin".
 * KS_ERR_STORE_UNKNOWN_EK, KS_ERR_STORE_STATE for a revoked EK. Audited
 * "ek.approve" / "ek.unapprove". */
KS_WUR int ks_store_ek_set_approval(struct ks_store *s, const char *actor, const char *ek_name,
                                    bool approved);

/* Revoke an EK for good: never approved again, its AKs refused at once
 * (the release snapshot reads the EK's approval), its pending enrollments
 * deleted. KS_ERR_STORE_UNKNOWN_EK, KS_ERR_STORE_STATE when already
 * revoked. Audited "ek.revoke". */
KS_WUR int ks_store_ek_revoke(struct ks_store *s, const char *actor, const char *ek_name,
                              const char *reason);

/* Forget an EK: its AKs are revoked and unbound, its pending enrollments
 * deleted, the row removed; it may enroll again afterwards (and then needs
 * approval again unless its CA auto-approves). KS_ERR_STORE_STATE for a
 * revoked EK (revocation is permanent). *ret_revoked_aks may be NULL.
 * Audited "ek.remove". */
KS_WUR int ks_store_ek_remove(struct ks_store *s, const char *actor, const char *ek_name,
                              size_t *ret_revoked_aks);

/* A new pending enrollment (POST /v1/enroll), after the caller made the
 * credential. */
struct ks_store_enroll_params {
    const char *id; /* KS_STORE_ENROLL_ID_LEN lowercase hex */
    const char *ek_name;
    const uint8_t *ek_pub; /* TPM2B_PUBLIC */
    size_t ek_pub_len;
    const uint8_t *ek_cert; /* DER, NULL for none */
    size_t ek_cert_len;
    /* The CA that admitted the certificate (0: no certificate): an
     * auto-approve CA of its verified chain when it has one, else the CA
     * nearest the EK. Read again at activation. */
    int64_t ca_id;
    const char *ak_id;
    const uint8_t *ak_pub; /* TPM2B_PUBLIC */
    size_t ak_pub_len;
    uint8_t secret_hash[32]; /* SHA-256 of the credential secret */
    const char *client;      /* for the audit detail, may be NULL */
    int64_t now;             /* 0: now */
    unsigned lifetime_s;     /* >= 1 */
    unsigned max_pending;    /* unexpired pending enrollments, in total */
    unsigned max_per_ek;     /* ... and per EK */
};

/* Why an enrollment step was refused, for the log and the client. */
struct ks_store_enroll_result {
    char ak_id[KS_STORE_TPM_NAME_HEX_MAX + 1];
    char ek_name[KS_STORE_TPM_NAME_HEX_MAX + 1];
    bool ek_approved; /* activation: the AK works at once */
    char reason[256]; /* "" on success */
};

/*
 * Record the enrollment in one write transaction with its audit row
 * ("enroll"): first expired rows past KS_STORE_ENROLL_RETAIN_S are deleted;
 * then refused, with a "refused" audit row committed and the reason in
 * ret: KS_ERR_ENROLL_TOO_MANY (the caps), KS_ERR_EK_REVOKED,
 * KS_ERR_EK_NOT_APPROVED (no certificate, and the EK is not approved by an
 * admin), KS_ERR_ENROLL_REFUSED (the AK is already enrolled or known).
 * ret may be NULL.
 */
KS_WUR int ks_store_enroll_begin(struct ks_store *s, const char *actor,
                                 const struct ks_store_enroll_params *p,
                                 struct ks_store_enroll_result *ret);

/*
 * POST /v1/enroll/{id}/activate in one write transaction: the enrollment
 * is consumed by its first attempt whatever the outcome, the secret is
 * compared in constant time (as SHA-256), and on success the EK is recorded
 * (approved when its CA auto-approves and no admin decided otherwise) and
 * the AK added, active, bound to it. Every outcome is audited
 * ("enroll.activate") and committed. KS_ERR_ENROLL_UNKNOWN,
 * KS_ERR_ENROLL_USED, KS_ERR_ENROLL_EXPIRED, KS_ERR_ENROLL_SECRET,
 * KS_ERR_EK_REVOKED, KS_ERR_ENROLL_REFUSED (the CA was removed meanwhile,
 * or the AK appeared); ret (required) holds the AK, the EK and the reason.
 */
KS_WUR int ks_store_enroll_activate(struct ks_store *s, const char *actor, const char *id,
                                    const uint8_t *secret, size_t secret_len, const char *client,
                                    int64_t now, struct ks_store_enroll_result *ret);

/* ---- operations: key and AK lifecycle, status, backup, master key ---------- */
/* (db/store_ops.c, db/store_status.c, db/store_backup.c, db/store_master.c) */

/* "active" / "previous" / "retired"; NULL for other values. */
const char *ks_key_version_state_name(enum ks_key_version_state state);

/*
 * Retire version `version` of key `name`: it is never released again, and
 * its wrapped material is erased in the same transaction (with SQLite's
 * secure_delete on, so the freed page space is zeroed too). Final: a
 * retired version cannot come back. The active version cannot be retired
 * (rotate first, or delete the key). Audited "key.retire".
 * KS_ERR_STORE_UNKNOWN_KEY (no such key or version), KS_ERR_STORE_STATE
 * (active or already retired).
 */
KS_WUR int ks_store_key_retire(struct ks_store *s, const char *actor, const char *name,
                               uint32_t version);

/* Delete a key with every version (material erased as by retire). Audited
 * "key.delete"; *ret_versions (may be NULL) counts the versions removed.
 * KS_ERR_STORE_UNKNOWN_KEY. */
KS_WUR int ks_store_key_delete(struct ks_store *s, const char *actor, const char *name,
                               uint32_t *ret_versions);

/* Guard key `name` by `policy` from the next release on. Audited
 * "key.attach" with both policy names. KS_ERR_STORE_UNKNOWN_KEY,
 * KS_ERR_STORE_UNKNOWN_POLICY, KS_ERR_STORE_STATE when already attached. */
KS_WUR int ks_store_key_attach(struct ks_store *s, const char *actor, const char *name,
                               const char *policy);

/* One version of a key, without its material. */
struct ks_store_key_version_info {
    uint32_t version;
    enum ks_key_version_state state;
    bool has_public;
    uint8_t public_key[32]; /* HPKE keys */
    uint8_t share_index, share_threshold, share_count;
    char created_by[KS_STORE_ACTOR_MAX + 1];
    int64_t created_at;
    int64_t replaced_at; /* 0: never rotated out */
    char retired_by[KS_STORE_ACTOR_MAX + 1];
    int64_t retired_at; /* 0: not retired */
};

/* A key with every version, for `ksctl key show`. */
struct ks_store_key_detail {
    struct ks_store_key_info info;
    uint32_t policy_version;  /* the policy's active version; 0 when none */
    int64_t last_granted_at;  /* newest granted release naming the key; 0: never */
    int64_t last_granted_seq; /* its audit row */
    char created_by[KS_STORE_ACTOR_MAX + 1];
    size_t n_versions;
    struct ks_store_key_version_info *versions; /* oldest first */
};

void ks_store_key_detail_free(struct ks_store_key_detail *d);

/* Read in one read transaction. KS_ERR_STORE_UNKNOWN_KEY. */
KS_WUR int ks_store_key_show(struct ks_store *s, const char *name,
                             struct ks_store_key_detail **ret);

/* An AK with everything the store knows of it. */
struct ks_store_ak_detail {
    struct ks_store_ak_info info;
    char enrollment_id[KS_STORE_ENROLL_ID_LEN + 1]; /* "" when vouched for */
    char revoked_by[KS_STORE_ACTOR_MAX + 1];
    int64_t revoked_at; /* 0 when not revoked */
    bool has_clock;     /* the last accepted quote's TPMS_CLOCK_INFO */
    uint64_t last_clock;
    uint32_t last_reset_count;
    uint32_t last_restart_count;
    size_t public_len; /* of its TPM2B_PUBLIC */
};

/* KS_ERR_STORE_UNKNOWN_AK. */
KS_WUR int ks_store_ak_get(struct ks_store *s, const char *ak_id, struct ks_store_ak_detail *ret);

/* Forget an AK in any state (a removed AK is unknown: its quotes are
 * refused). The audit trail keeps its history. Audited "ak.remove" with
 * its last state. KS_ERR_STORE_UNKNOWN_AK. */
KS_WUR int ks_store_ak_remove(struct ks_store *s, const char *actor, const char *ak_id);

/* ---- operations: audit export and prune helpers ----------------------------- */

/* Record that the rows up to `through_seq` were exported (an external copy
 * exists), audited "audit.export". KS_ERR_NOT_FOUND when no such row. */
KS_WUR int ks_store_audit_export_mark(struct ks_store *s, const char *actor, int64_t through_seq);

/* The highest seq recorded by ks_store_audit_export_mark; 0 when none. */
KS_WUR int ks_store_audit_exported(struct ks_store *s, int64_t *ret_seq);

/* The first row whose time is at or after `t` (rows before it are older,
 * up to clock steps). KS_ERR_NOT_FOUND when every row is older. */
KS_WUR int ks_store_audit_seq_at_time(struct ks_store *s, int64_t t, int64_t *ret_seq);

/* The chain's anchor: the seq and row_hash of the last row a prune removed
 * (0 and zeros when nothing was pruned). */
KS_WUR int ks_store_audit_anchor(struct ks_store *s, int64_t *ret_seq,
                                 uint8_t ret_hash[KS_STORE_HASH_LEN]);

/* ---- operations: status -------------------------------------------------- */

struct ks_store_status {
    int schema_version;
    char id[KS_STORE_NAME_MAX + 1]; /* keyserver id; "" when not initialised */
    int64_t keys, key_versions;
    int64_t versions_active, versions_previous, versions_retired;
    int64_t policies, policies_active; /* policies with an active version */
    int64_t aks_pending, aks_active, aks_revoked;
    int64_t eks, eks_approved, eks_revoked;
    int64_t ekcas;
    int64_t audit_rows, audit_first_seq, audit_last_seq;
    int64_t audit_anchor_seq;   /* 0: never pruned */
    int64_t audit_exported_seq; /* 0: never exported */
    int64_t releases_granted, releases_refused;
    int64_t last_granted_at, last_refused_at; /* 0: none */
};

/* Counts, read in one read transaction. */
KS_WUR int ks_store_status_get(struct ks_store *s, struct ks_store_status *ret);

/* The newest `n` (1..1000) release rows (event "release"), newest first;
 * cb as for ks_store_audit_foreach. */
KS_WUR int ks_store_release_recent(struct ks_store *s, size_t n, ks_audit_cb cb, void *ctx);

/* ---- operations: backup and restore ------------------------------------- */

/*
 * Copy the open database into a new file `path` (created mode 0600; must
 * not exist: KS_ERR_STORE_EXISTS) with SQLite's online backup API, in one
 * step under one read transaction: a consistent snapshot even while
 * keyserverd writes (WAL readers do not block writers). The copy is one
 * self-contained file (journal mode DELETE) and passes PRAGMA
 * integrity_check before it is kept (KS_ERR_DB_CORRUPT otherwise). It
 * holds the wrapped key material but not the master key. Partial files are
 * removed. ret (may be NULL) describes the copy, read from the copy.
 */
struct ks_store_backup_info {
    int pages;              /* pages copied */
    int schema_version;     /* of the copy */
    int64_t audit_last_seq; /* its newest audit row; 0 when none */
    uint8_t audit_last_hash[KS_STORE_HASH_LEN];
};

KS_WUR int ks_store_backup(struct ks_store *s, const char *path, struct ks_store_backup_info *ret);

/* PRAGMA integrity_check: KS_OK, or KS_ERR_DB_CORRUPT with its first
 * message in ks_store_errmsg. */
KS_WUR int ks_store_integrity_check(struct ks_store *s);

/* Whether another process has the database at `path` open (best effort: a
 * read lock on the WAL's shared-memory file, which every SQLite connection
 * holds while it has a WAL database open and has read it). Call it before
 * this process opens `path`: closing the descriptor it uses drops this
 * process's POSIX locks on that file. */
KS_WUR int ks_store_in_use(const char *path, bool *ret);

/* Copy the database file `src` (opened read-only through SQLite, so that a
 * WAL beside it is included) into the new file `dst` (mode 0600, must not
 * exist; journal mode DELETE, one self-contained file). The copy is not
 * checked: open it with ks_store_open and check it. KS_ERR_DB_OPEN,
 * KS_ERR_DB_CORRUPT (not an SQLite database), KS_ERR_STORE_EXISTS,
 * KS_ERR_IO; errbuf (may be NULL when errlen is 0) receives the reason. */
KS_WUR int ks_store_copy_file(const char *src, const char *dst, char *errbuf, size_t errlen);

/*
 * Replace the database at `db_path` by the checked copy `new_path` (same
 * directory, closed): the current database, when there is one, is first
 * checkpointed and kept as `keep_path` (a hard link, replacing an older
 * one; leftover -wal/-shm files are moved next to it), then `new_path` is
 * renamed over `db_path`, which is atomic, and the directory synced. No
 * process may have `db_path` open. KS_ERR_IO with the reason in errbuf.
 */
KS_WUR int ks_store_replace_file(const char *new_path, const char *db_path, const char *keep_path,
                                 char *errbuf, size_t errlen);

/* ---- operations: master key ---------------------------------------------- */

struct ks_store_rewrap_counts {
    uint32_t key_versions; /* key versions with material (not retired) */
    uint32_t secrets;      /* wrapped meta entries (receipt key, nonce key) */
    uint32_t failed;       /* items that did not unwrap (check only) */
};

/*
 * Re-wrap every key version's material and every wrapped meta secret from
 * `old_mk` to `new_mk` in ONE write transaction, audited "master.rotate".
 * Anything that does not unwrap under old_mk aborts the whole rotation
 * (KS_ERR_KEY_UNWRAP, nothing written). The caller installs the new key
 * file only after this returns KS_OK.
 */
KS_WUR int ks_store_master_rotate(struct ks_store *s, const struct ks_master_key *old_mk,
                                  const struct ks_master_key *new_mk, const char *actor,
                                  struct ks_store_rewrap_counts *ret);

/* Try to unwrap everything under `mk` (one read transaction, nothing
 * written): ret->failed counts what does not unwrap. KS_OK when the check
 * ran, whatever it found. */
KS_WUR int ks_store_master_check(struct ks_store *s, const struct ks_master_key *mk,
                                 struct ks_store_rewrap_counts *ret);

/* Copy the master key file `src` (checked as by ks_master_key_load: a
 * regular 32-byte file of ours, mode 0600 or stricter) to the new file
 * `dst` (mode 0600, O_EXCL, fsync'd); the bytes pass through the secure
 * heap and are wiped. KS_ERR_STORE_EXISTS when dst exists, and the errors
 * of ks_master_key_load. */
KS_WUR int ks_master_key_copy(const char *src, const char *dst);

#endif
