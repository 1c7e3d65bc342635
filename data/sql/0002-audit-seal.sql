-- SPDX-License-Identifier: GPL-3.0-or-later
--
-- 0002-audit-seal.sql: forward-secure seals on the audit journal
-- (docs/store.md, "Sealing"). The keys live in the key store, never here.

-- The epoch of the journal key that sealed the entry, the entry's MAC
-- (HMAC-SHA-256 under that key over seq, epoch and hash), and, on the first
-- entry of each epoch after 0, a MAC under the previous epoch's key that
-- fixes where the epoch starts. NULL on entries older than the seal.
ALTER TABLE audit ADD COLUMN epoch INTEGER;
ALTER TABLE audit ADD COLUMN mac TEXT;
ALTER TABLE audit ADD COLUMN epoch_mac TEXT;

-- Where the current epoch started (seq, time), so the appender knows when
-- to end it. Not trusted by the verifier.
ALTER TABLE audit_head ADD COLUMN epoch INTEGER;
ALTER TABLE audit_head ADD COLUMN epoch_seq INTEGER;
ALTER TABLE audit_head ADD COLUMN epoch_time INTEGER;
