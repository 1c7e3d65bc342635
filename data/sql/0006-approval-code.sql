-- SPDX-License-Identifier: GPL-3.0-or-later
--
-- 0006-approval-code.sql: a short code per approval request, which the
-- reviewer's station scans off the requester's QR code or types in to open
-- the request (docs/registry.md, "Approval codes"). Eight characters of
-- Crockford's base32 (no I, L, O, U), random, unique among the pending
-- requests; a decided request keeps its code, and a later request may get
-- the same one. Requests recorded as decided at once have none.
ALTER TABLE approval_requests ADD COLUMN code TEXT;

-- The requests pending when the store is migrated get theirs now.
UPDATE approval_requests SET code =
    substr ('0123456789ABCDEFGHJKMNPQRSTVWXYZ', 1 + (random () & 31), 1) ||
    substr ('0123456789ABCDEFGHJKMNPQRSTVWXYZ', 1 + (random () & 31), 1) ||
    substr ('0123456789ABCDEFGHJKMNPQRSTVWXYZ', 1 + (random () & 31), 1) ||
    substr ('0123456789ABCDEFGHJKMNPQRSTVWXYZ', 1 + (random () & 31), 1) ||
    substr ('0123456789ABCDEFGHJKMNPQRSTVWXYZ', 1 + (random () & 31), 1) ||
    substr ('0123456789ABCDEFGHJKMNPQRSTVWXYZ', 1 + (random () & 31), 1) ||
    substr ('0123456789ABCDEFGHJKMNPQRSTVWXYZ', 1 + (random () & 31), 1) ||
    substr ('0123456789ABCDEFGHJKMNPQRSTVWXYZ', 1 + (random () & 31), 1)
  WHERE state = 'pending';

CREATE UNIQUE INDEX approval_requests_code_pending ON approval_requests (code)
  WHERE state = 'pending';
CREATE INDEX approval_requests_code ON approval_requests (code, id);

CREATE TRIGGER approval_requests_code_fixed BEFORE UPDATE OF code ON approval_requests
  WHEN OLD.code IS NOT NULL
BEGIN
  SELECT RAISE (ABORT, 'the code of an approval request cannot be changed');
END;
