-- SPDX-License-Identifier: Apache-2.0
-- Migration 2: k-of-n share metadata on key versions (DESIGN "Data model":
-- "optional share metadata for k-of-n"). A DEK split with Shamir's scheme by
-- ks-seal is imported as one share per keyserver; the share's x-coordinate
-- (share_index), the threshold k and the number of shares n travel with the
-- release so that the loader knows how many keyservers it needs. All three
-- are NULL for a whole key. ADD COLUMN only: existing rows stay valid.
ALTER TABLE key_versions ADD COLUMN share_index INTEGER
    CHECK (share_index IS NULL OR share_index BETWEEN 1 AND 255);
ALTER TABLE key_versions ADD COLUMN share_threshold INTEGER
    CHECK (share_threshold IS NULL OR share_threshold BETWEEN 1 AND 255);
ALTER TABLE key_versions ADD COLUMN share_count INTEGER
    CHECK (share_count IS NULL OR share_count BETWEEN 1 AND 255);
