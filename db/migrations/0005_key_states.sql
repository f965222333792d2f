-- SPDX-License-Identifier: Apache-2.0
-- Migration 5: three states of a key version (ksctl key rotate / retire).
--
-- Before this migration a rotated-out version was called 'retired' although
-- it stayed releasable as name@N. The states are now:
--   'active'    the version that "name" resolves to (at most one per key);
--   'previous'  rotated out: releasable only when named as name@N (so that
--               data sealed under it can still be opened);
--   'retired'   never releasable again. Its wrapped material is erased
--               (nonce and wrapped are NULL), so that no master key, backup
--               of the master key or bug can bring it back from this
--               database; the state is final.
-- Existing 'retired' rows were releasable and become 'previous'; the column
-- retired_at, which held the time of the rotation, becomes replaced_at.
--
-- The table is rebuilt because its CHECKs (state list, NOT NULL material)
-- cannot be altered in SQLite. Nothing references key_versions; rows keep
-- their ids. No BEGIN/COMMIT: ks_store_open() runs this inside BEGIN
-- IMMEDIATE.
DROP INDEX key_versions_one_active;

CREATE TABLE key_versions_v5 (
    id INTEGER PRIMARY KEY,
    key_id INTEGER NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
    version INTEGER NOT NULL CHECK (version BETWEEN 1 AND 4294967295),
    state TEXT NOT NULL CHECK (state IN ('active', 'previous', 'retired')),
    nonce BLOB CHECK (nonce IS NULL OR length(nonce) = 12),
    wrapped BLOB CHECK (wrapped IS NULL OR length(wrapped) > 16),
    public BLOB CHECK (public IS NULL OR length(public) = 32),
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    replaced_at INTEGER,
    retired_by TEXT,
    retired_at INTEGER,
    share_index INTEGER CHECK (share_index IS NULL OR share_index BETWEEN 1 AND 255),
    share_threshold INTEGER CHECK (share_threshold IS NULL OR share_threshold BETWEEN 1 AND 255),
    share_count INTEGER CHECK (share_count IS NULL OR share_count BETWEEN 1 AND 255),
    UNIQUE (key_id, version),
    -- material exactly while not retired
    CHECK ((state = 'retired') = (nonce IS NULL)),
    CHECK ((state = 'retired') = (wrapped IS NULL)),
    CHECK (state <> 'retired' OR (retired_by IS NOT NULL AND retired_at IS NOT NULL))
);
INSERT INTO key_versions_v5 (id, key_id, version, state, nonce, wrapped, public, created_by,
                             created_at, replaced_at, share_index, share_threshold, share_count)
    SELECT id, key_id, version, CASE state WHEN 'retired' THEN 'previous' ELSE state END, nonce,
           wrapped, public, created_by, created_at, retired_at, share_index, share_threshold,
           share_count
    FROM key_versions;
DROP TABLE key_versions;
ALTER TABLE key_versions_v5 RENAME TO key_versions;

CREATE UNIQUE INDEX key_versions_one_active ON key_versions(key_id) WHERE state = 'active';

-- Retirement is final even against a buggy writer or a hand edit through
-- the store's connection: a retired row never changes state again and never
-- regains material (the CHECKs above tie material to the state).
CREATE TRIGGER key_versions_retired_final BEFORE UPDATE ON key_versions
WHEN OLD.state = 'retired'
BEGIN
    SELECT RAISE(ABORT, 'a retired key version cannot be changed');
END;
