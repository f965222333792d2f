-- SPDX-License-Identifier: Apache-2.0
-- Migration 3: AK enrollment (DESIGN "Protocol": POST /v1/enroll and
-- POST /v1/enroll/{id}/activate; docs/ARCHITECTURE.md "Enrollment").
--
-- EKs gain a revocation (permanent: a revoked EK is never approved again,
-- and `ksctl ek remove` refuses it, so that it cannot enroll afresh), how
-- they were approved ('admin': ksctl ek approve; 'ca': their certificate
-- chains to an EK CA marked auto-approve, approved_ca_id), and the CA their
-- certificate chained to (ca_id). Removing a CA withdraws the approvals it
-- granted (done by the writer, in the same transaction); the references
-- become NULL.
ALTER TABLE eks ADD COLUMN revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1));
ALTER TABLE eks ADD COLUMN revoked_by TEXT;
ALTER TABLE eks ADD COLUMN revoked_at INTEGER;
ALTER TABLE eks ADD COLUMN revoke_reason TEXT;
ALTER TABLE eks ADD COLUMN approved_via TEXT
    CHECK (approved_via IS NULL OR approved_via IN ('admin', 'ca'));
ALTER TABLE eks ADD COLUMN approved_ca_id INTEGER REFERENCES ek_cas(id) ON DELETE SET NULL;
ALTER TABLE eks ADD COLUMN ca_id INTEGER REFERENCES ek_cas(id) ON DELETE SET NULL;

-- Fail closed even against a buggy writer: a revoked EK is never approved,
-- and a revocation is never undone.
CREATE TRIGGER eks_revoked_not_approved_insert BEFORE INSERT ON eks
WHEN NEW.revoked = 1 AND NEW.approved = 1
BEGIN
    SELECT RAISE(ABORT, 'a revoked EK cannot be approved');
END;
CREATE TRIGGER eks_revoked_not_approved_update BEFORE UPDATE ON eks
WHEN NEW.revoked = 1 AND NEW.approved = 1
BEGIN
    SELECT RAISE(ABORT, 'a revoked EK cannot be approved');
END;
CREATE TRIGGER eks_revocation_permanent BEFORE UPDATE OF revoked ON eks
WHEN OLD.revoked = 1 AND NEW.revoked = 0
BEGIN
    SELECT RAISE(ABORT, 'EK revocation is permanent');
END;

-- Pending enrollments: one TPM2_MakeCredential each (TPM 2.0 Part 3, 12.6),
-- single-use, expiring. The credential's secret is kept only as its SHA-256
-- (secret_hash) and compared in constant time. ek_name does not reference
-- eks: the EK is recorded only once activation has proved that the AK lives
-- in its TPM. ca_id: the EK CA the certificate chained to at enrollment
-- (NULL without a certificate, or once that CA is removed, which refuses
-- the activation of a certificate-only EK). A used row is kept until
-- cleanup, so that a replayed id is told apart from an unknown one.
CREATE TABLE enrollments (
    id TEXT PRIMARY KEY NOT NULL
        CHECK (length(id) = 32 AND id NOT GLOB '*[^0-9a-f]*'),
    ek_name TEXT NOT NULL
        CHECK (length(ek_name) BETWEEN 4 AND 132 AND length(ek_name) % 2 = 0
               AND ek_name NOT GLOB '*[^0-9a-f]*'),
    ek_public BLOB NOT NULL CHECK (length(ek_public) > 0),
    ek_cert BLOB CHECK (ek_cert IS NULL OR length(ek_cert) > 0),
    ca_id INTEGER REFERENCES ek_cas(id) ON DELETE SET NULL,
    had_ca INTEGER NOT NULL DEFAULT 0 CHECK (had_ca IN (0, 1)),
    ak_id TEXT NOT NULL
        CHECK (length(ak_id) BETWEEN 4 AND 132 AND length(ak_id) % 2 = 0
               AND ak_id NOT GLOB '*[^0-9a-f]*'),
    ak_public BLOB NOT NULL CHECK (length(ak_public) > 0),
    secret_hash BLOB NOT NULL CHECK (length(secret_hash) = 32),
    client TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'used')),
    used_at INTEGER,
    CHECK (state = 'pending' OR used_at IS NOT NULL),
    CHECK (had_ca = 0 OR ek_cert IS NOT NULL)
);
CREATE INDEX enrollments_ek ON enrollments(ek_name, state);
CREATE INDEX enrollments_expires ON enrollments(expires_at);
