-- SPDX-License-Identifier: GPL-3.0-or-later
--
-- 0002-approval-binding.sql: an approval is bound to exactly what it
-- approves, the key it lets go out is recorded by the key store that made
-- it, and every account says who set it up.

-- What an install order asks for beyond the merchant binding: the TMK type
-- and the device certificate (SHA-256, upper-case hex) the key is sealed to.
-- The key release records the check value the key store computed for the
-- key it generated, under which label, and when; order_keyed compares the
-- terminal's KCV with that and nothing a caller passes.
ALTER TABLE work_orders ADD COLUMN key_type TEXT
  CHECK (key_type IS NULL OR key_type IN ('tdes-2key', 'tdes-3key', 'aes-128', 'aes-256'));
ALTER TABLE work_orders ADD COLUMN cert_fingerprint TEXT;
ALTER TABLE work_orders ADD COLUMN expected_kcv TEXT;
ALTER TABLE work_orders ADD COLUMN key_label TEXT;
ALTER TABLE work_orders ADD COLUMN released_at INTEGER;

-- Everything the reviewer approved, and its digest (pp-store-orders.c,
-- approval_digest). A later step that finds the terminal, the order or the
-- digest changed voids the approval: voided_at and void_reason are set once
-- and the approval never counts again.
ALTER TABLE approvals ADD COLUMN merchant_id INTEGER;
ALTER TABLE approvals ADD COLUMN program_version TEXT;
ALTER TABLE approvals ADD COLUMN key_type TEXT;
ALTER TABLE approvals ADD COLUMN cert_fingerprint TEXT;
ALTER TABLE approvals ADD COLUMN digest TEXT;
ALTER TABLE approvals ADD COLUMN voided_at INTEGER;
ALTER TABLE approvals ADD COLUMN void_reason TEXT;

CREATE TRIGGER approvals_fixed BEFORE UPDATE OF order_id, requester, approver, decision,
  reason, decided_at, serial, mid, tid, merchant_id, program_version, key_type,
  cert_fingerprint, digest ON approvals
BEGIN
  SELECT RAISE (ABORT, 'an approval cannot be changed, only voided');
END;
CREATE TRIGGER approvals_void_once BEFORE UPDATE OF voided_at, void_reason ON approvals
  WHEN OLD.voided_at IS NOT NULL
BEGIN
  SELECT RAISE (ABORT, 'a voided approval stays void');
END;

-- Who created the account, who last set its role and its password. A
-- reviewer whose account, role or password the requester set is not a
-- second person for that requester's orders.
ALTER TABLE users ADD COLUMN created_by TEXT;
ALTER TABLE users ADD COLUMN role_set_by TEXT;
ALTER TABLE users ADD COLUMN password_set_by TEXT;
