-- SPDX-License-Identifier: Apache-2.0
-- keyserver database, schema version 1 (migration 1).
--
-- Applied by ks_store_open() inside BEGIN IMMEDIATE, followed by the files in
-- db/migrations/ in order; PRAGMA user_version is set by the code, not here.
-- Migration files must not contain BEGIN/COMMIT and must not edit an older
-- migration: a database made by an older program upgrades by running only
-- the files it has not seen.
--
-- Conventions: times are Unix seconds (INTEGER); TPM Names are lowercase hex
-- of nameAlg || digest (TPM 2.0 Part 1, 16 "Names"); names of keys and
-- policies match [A-Za-z0-9._-]{1,64} (the protocol's key-name rule); blobs
-- are raw bytes. The CHECK constraints repeat the C checks so that a mistake
-- in any writer (or a hand edit) cannot store an ill-formed row.

-- Trusted EK certificate authorities (enrollment); auto_approve: an EK whose
-- certificate chains to this CA needs no admin approval.
CREATE TABLE ek_cas (
    id INTEGER PRIMARY KEY,
    subject TEXT NOT NULL,
    cert BLOB NOT NULL UNIQUE CHECK (length(cert) > 0),
    auto_approve INTEGER NOT NULL DEFAULT 0 CHECK (auto_approve IN (0, 1)),
    added_by TEXT NOT NULL,
    added_at INTEGER NOT NULL
);

CREATE TABLE ek_ca_crls (
    id INTEGER PRIMARY KEY,
    ca_id INTEGER NOT NULL REFERENCES ek_cas(id) ON DELETE CASCADE,
    crl BLOB NOT NULL CHECK (length(crl) > 0),
    this_update INTEGER,
    next_update INTEGER,
    added_at INTEGER NOT NULL
);
CREATE INDEX ek_ca_crls_ca ON ek_ca_crls(ca_id);

-- Endorsement keys by TPM Name. Approval is per machine (DESIGN: the loader
-- makes a fresh AK at every start).
CREATE TABLE eks (
    name TEXT PRIMARY KEY NOT NULL
        CHECK (length(name) BETWEEN 4 AND 132 AND length(name) % 2 = 0
               AND name NOT GLOB '*[^0-9a-f]*'),
    public BLOB NOT NULL CHECK (length(public) > 0),
    cert BLOB,
    approved INTEGER NOT NULL DEFAULT 0 CHECK (approved IN (0, 1)),
    approved_by TEXT,
    approved_at INTEGER,
    added_by TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    CHECK (approved = 0 OR (approved_by IS NOT NULL AND approved_at IS NOT NULL))
);

-- Attestation keys, id = TPM Name hex. Either vouched for by an admin
-- (vouched_by) or made by enrollment (enrollment_id); never neither.
-- last_clock/last_reset_count/last_restart_count: TPMS_CLOCK_INFO of the last
-- accepted quote (TPM 2.0 Part 2, 10.11.1), which may not go backwards.
CREATE TABLE aks (
    id TEXT PRIMARY KEY NOT NULL
        CHECK (length(id) BETWEEN 4 AND 132 AND length(id) % 2 = 0
               AND id NOT GLOB '*[^0-9a-f]*'),
    public BLOB NOT NULL CHECK (length(public) > 0),
    ek_name TEXT REFERENCES eks(name),
    state TEXT NOT NULL CHECK (state IN ('pending', 'active', 'revoked')),
    vouched_by TEXT,
    enrollment_id TEXT,
    created_at INTEGER NOT NULL,
    revoked_by TEXT,
    revoked_at INTEGER,
    last_attested_at INTEGER,
    last_clock INTEGER CHECK (last_clock IS NULL OR last_clock >= 0),
    last_reset_count INTEGER CHECK (last_reset_count IS NULL OR last_reset_count >= 0),
    last_restart_count INTEGER CHECK (last_restart_count IS NULL OR last_restart_count >= 0),
    CHECK (vouched_by IS NOT NULL OR enrollment_id IS NOT NULL),
    CHECK (state <> 'revoked' OR revoked_at IS NOT NULL)
);
CREATE INDEX aks_ek ON aks(ek_name);

CREATE TABLE policies (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
        CHECK (length(name) BETWEEN 1 AND 64 AND name NOT GLOB '*[^A-Za-z0-9._-]*'),
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Versions of a policy. Edits go to the draft; activation makes the draft (or,
-- for a rollback, a retired version) active and retires the old active one in
-- one transaction. The partial unique indexes below keep at most one active
-- and one draft version per policy even against a buggy writer.
CREATE TABLE policy_versions (
    id INTEGER PRIMARY KEY,
    policy_id INTEGER NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
    version INTEGER NOT NULL CHECK (version BETWEEN 1 AND 4294967294),
    state TEXT NOT NULL CHECK (state IN ('draft', 'active', 'retired')),
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    activated_by TEXT,
    activated_at INTEGER,
    UNIQUE (policy_id, version),
    CHECK (state = 'draft' OR activated_at IS NOT NULL)
);
CREATE UNIQUE INDEX policy_versions_one_active ON policy_versions(policy_id)
    WHERE state = 'active';
CREATE UNIQUE INDEX policy_versions_one_draft ON policy_versions(policy_id)
    WHERE state = 'draft';

-- Rules of a policy version. kind is open-ended so that later migrations can
-- add kinds (event-log reference values, IMA and application-log allow-lists)
-- without rebuilding the table: they use `data` (JSON) and their own columns.
-- A program that meets a kind it does not know refuses (fail closed).
-- (JSON columns are validated by the writer: SQLite's json_valid() may not
-- be used in the schema while the store runs with trusted_schema off.)
-- kind 'pcr': one row per allowed digest per (bank, pcr); any-of per index,
-- every (bank, pcr) named is required.
CREATE TABLE policy_rules (
    id INTEGER PRIMARY KEY,
    policy_version_id INTEGER NOT NULL REFERENCES policy_versions(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 32),
    bank TEXT CHECK (bank IS NULL OR bank IN ('sha1', 'sha256', 'sha384', 'sha512')),
    pcr INTEGER CHECK (pcr IS NULL OR pcr BETWEEN 0 AND 23),
    digest BLOB,
    data TEXT,
    CHECK (kind <> 'pcr' OR (bank IS NOT NULL AND pcr IS NOT NULL AND digest IS NOT NULL
           AND length(digest) = CASE bank WHEN 'sha1' THEN 20 WHEN 'sha256' THEN 32
                                          WHEN 'sha384' THEN 48 ELSE 64 END)),
    UNIQUE (policy_version_id, kind, bank, pcr, digest)
);
CREATE INDEX policy_rules_version ON policy_rules(policy_version_id);

-- Only drafts are editable: an activated version is what releases were
-- judged by, and the audit trail refers to it by number.
CREATE TRIGGER policy_rules_insert_draft_only BEFORE INSERT ON policy_rules
WHEN (SELECT state FROM policy_versions WHERE id = NEW.policy_version_id) <> 'draft'
BEGIN
    SELECT RAISE(ABORT, 'policy version is not a draft');
END;
CREATE TRIGGER policy_rules_update_draft_only BEFORE UPDATE ON policy_rules
WHEN (SELECT state FROM policy_versions WHERE id = OLD.policy_version_id) <> 'draft'
  OR (SELECT state FROM policy_versions WHERE id = NEW.policy_version_id) <> 'draft'
BEGIN
    SELECT RAISE(ABORT, 'policy version is not a draft');
END;
CREATE TRIGGER policy_rules_delete_draft_only BEFORE DELETE ON policy_rules
WHEN (SELECT state FROM policy_versions WHERE id = OLD.policy_version_id) <> 'draft'
BEGIN
    SELECT RAISE(ABORT, 'policy version is not a draft');
END;

-- Keys. The active version is the key_versions row in state 'active' (at most
-- one, by the partial unique index), not a column here, so that the two can
-- never disagree.
CREATE TABLE keys (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
        CHECK (length(name) BETWEEN 1 AND 64 AND name NOT GLOB '*[^A-Za-z0-9._-]*'),
    kind TEXT NOT NULL CHECK (kind IN ('dek', 'hpke')),
    policy_id INTEGER NOT NULL REFERENCES policies(id),
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX keys_policy ON keys(policy_id);

-- wrapped = AES-256-GCM(master key, nonce, material, AAD) || tag, with
-- AAD = "ks-key-v1" || 0x00 || u8 len(name) || name || u32be version || u8 kind
-- (kind 1 = dek, 2 = hpke). public: the X25519 public key of an hpke key.
CREATE TABLE key_versions (
    id INTEGER PRIMARY KEY,
    key_id INTEGER NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
    version INTEGER NOT NULL CHECK (version BETWEEN 1 AND 4294967295),
    state TEXT NOT NULL CHECK (state IN ('active', 'retired')),
    nonce BLOB NOT NULL CHECK (length(nonce) = 12),
    wrapped BLOB NOT NULL CHECK (length(wrapped) > 16),
    public BLOB CHECK (public IS NULL OR length(public) = 32),
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER,
    UNIQUE (key_id, version)
);
CREATE UNIQUE INDEX key_versions_one_active ON key_versions(key_id) WHERE state = 'active';

-- Append-only, hash-chained audit trail (see ks_store_audit_append for the
-- row_hash encoding). seq is assigned by the writer inside BEGIN IMMEDIATE
-- as last seq + 1, so it is gap-free; keys is the comma-joined key references.
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY CHECK (seq >= 1),
    time INTEGER NOT NULL,
    actor TEXT NOT NULL,
    event TEXT NOT NULL,
    ak_id TEXT,
    keys TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'granted', 'refused', 'failed')),
    reason TEXT,
    detail TEXT,
    prev_hash BLOB NOT NULL CHECK (length(prev_hash) = 32),
    row_hash BLOB NOT NULL CHECK (length(row_hash) = 32)
);
CREATE INDEX audit_ak ON audit(ak_id) WHERE ak_id IS NOT NULL;
CREATE INDEX audit_time ON audit(time);

-- Rows are never rewritten. (Rows may be deleted only from the front by a
-- prune, which records the anchor in meta; the hash chain, not this trigger,
-- is what detects tampering by someone with write access to the file.)
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit rows are append-only');
END;

-- Key/value settings. A row with a nonce holds a secret wrapped under the
-- master key with AAD "ks-meta-v1" || 0x00 || u8 len(key) || key.
CREATE TABLE meta (
    key TEXT PRIMARY KEY NOT NULL CHECK (length(key) BETWEEN 1 AND 64),
    value BLOB NOT NULL,
    nonce BLOB CHECK (nonce IS NULL OR length(nonce) = 12),
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
