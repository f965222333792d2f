-- SPDX-License-Identifier: Apache-2.0
-- Migration 4: rule kinds beyond PCR allow-lists (measured-boot reference
-- values from the TCG event log, IMA allow-lists, the measured launcher's
-- application log, TPM clock/safe/firmware checks; keyserverd/policy_rules.h
-- documents each kind's columns and `data`).
--
-- The rules table is rebuilt because its UNIQUE (policy_version_id, kind,
-- bank, pcr, digest) cannot hold the new kinds: one digest may appear at
-- several positions of a PCR's event sequence (two identical EV_EFI_ACTION
-- events in PCR 4 are common), told apart only by `data`. The new unique index
-- takes `data` into account and treats NULL as a value (ifnull), so that two
-- identical rows of any kind conflict (SQLite's UNIQUE treats NULLs as
-- distinct). Rows keep their ids; the draft-only triggers are recreated
-- unchanged. No BEGIN/COMMIT: ks_store_open() runs this inside BEGIN
-- IMMEDIATE, and dropping the table deletes no policy_versions row.
DROP TRIGGER policy_rules_insert_draft_only;
DROP TRIGGER policy_rules_update_draft_only;
DROP TRIGGER policy_rules_delete_draft_only;
DROP INDEX policy_rules_version;

CREATE TABLE policy_rules_v4 (
    id INTEGER PRIMARY KEY,
    policy_version_id INTEGER NOT NULL REFERENCES policy_versions(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 32),
    bank TEXT CHECK (bank IS NULL OR bank IN ('sha1', 'sha256', 'sha384', 'sha512')),
    pcr INTEGER CHECK (pcr IS NULL OR pcr BETWEEN 0 AND 23),
    digest BLOB CHECK (digest IS NULL OR length(digest) BETWEEN 1 AND 64),
    data TEXT CHECK (data IS NULL OR length(data) BETWEEN 2 AND 32768),
    -- a PCR value or event digest has its bank's size
    CHECK (kind NOT IN ('pcr', 'event')
           OR (bank IS NOT NULL AND pcr IS NOT NULL AND digest IS NOT NULL
               AND length(digest) = CASE bank WHEN 'sha1' THEN 20 WHEN 'sha256' THEN 32
                                              WHEN 'sha384' THEN 48 ELSE 64 END)),
    -- the launcher measures with SHA-256 whatever bank its event is judged in
    CHECK (kind <> 'app_digest'
           OR (bank IS NOT NULL AND pcr IS NOT NULL AND length(digest) = 32)),
    CHECK (kind NOT IN ('event', 'app_digest', 'cmdline_forbidden', 'ima_file',
                        'ima_exclude', 'tpm_firmware') OR data IS NOT NULL),
    CHECK (kind NOT IN ('secureboot', 'separator', 'cmdline_forbidden')
           OR (bank IS NOT NULL AND pcr IS NOT NULL)),
    CHECK (kind <> 'ima_file' OR (pcr = 10 AND digest IS NOT NULL))
);
INSERT INTO policy_rules_v4 (id, policy_version_id, kind, bank, pcr, digest, data)
    SELECT id, policy_version_id, kind, bank, pcr, digest, data FROM policy_rules;
DROP TABLE policy_rules;
ALTER TABLE policy_rules_v4 RENAME TO policy_rules;

CREATE INDEX policy_rules_version ON policy_rules(policy_version_id);
CREATE UNIQUE INDEX policy_rules_unique ON policy_rules(
    policy_version_id, kind, ifnull(bank, ''), ifnull(pcr, -1), ifnull(digest, x''),
    ifnull(data, ''));

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
