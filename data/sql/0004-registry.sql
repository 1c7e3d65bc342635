-- SPDX-License-Identifier: GPL-3.0-or-later
--
-- 0004-registry.sql: what the registry seam (docs/registry.md) needs of the
-- store: UUIDs on the records two machines can create (work orders,
-- approvals), approval requests, idempotent requests, a change feed and
-- the program catalogue.

-- A random (version 4) UUID, spelled out where SQL needs one: SQLite has no
-- built-in, and a function registered by posprov would break every other
-- client of the file (the sqlite3 shell, a recovery tool).
--   lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' ||
--   substr(lower(hex(randomblob(2))), 2) || '-' ||
--   substr('89ab', 1 + (abs(random()) % 4), 1) ||
--   substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))

ALTER TABLE work_orders ADD COLUMN uuid TEXT;
UPDATE work_orders SET uuid =
  lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' ||
  substr(lower(hex(randomblob(2))), 2) || '-' ||
  substr('89ab', 1 + (abs(random()) % 4), 1) ||
  substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)));
CREATE UNIQUE INDEX work_orders_uuid ON work_orders (uuid);

ALTER TABLE approvals ADD COLUMN uuid TEXT;
UPDATE approvals SET uuid =
  lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' ||
  substr(lower(hex(randomblob(2))), 2) || '-' ||
  substr('89ab', 1 + (abs(random()) % 4), 1) ||
  substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)));
CREATE UNIQUE INDEX approvals_uuid ON approvals (uuid);

-- A row inserted without a UUID (by code older than this migration) gets
-- one at once; once set, a UUID never changes.
CREATE TRIGGER work_orders_uuid_fill AFTER INSERT ON work_orders WHEN NEW.uuid IS NULL
BEGIN
  UPDATE work_orders SET uuid =
    lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' ||
    substr(lower(hex(randomblob(2))), 2) || '-' ||
    substr('89ab', 1 + (abs(random()) % 4), 1) ||
    substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))
  WHERE id = NEW.id;
END;
CREATE TRIGGER work_orders_uuid_fixed BEFORE UPDATE OF uuid ON work_orders
  WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid
BEGIN
  SELECT RAISE (ABORT, 'the UUID of a work order cannot be changed');
END;
CREATE TRIGGER approvals_uuid_fill AFTER INSERT ON approvals WHEN NEW.uuid IS NULL
BEGIN
  UPDATE approvals SET uuid =
    lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' ||
    substr(lower(hex(randomblob(2))), 2) || '-' ||
    substr('89ab', 1 + (abs(random()) % 4), 1) ||
    substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))
  WHERE id = NEW.id;
END;
CREATE TRIGGER approvals_uuid_fixed BEFORE UPDATE OF uuid ON approvals
  WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid
BEGIN
  SELECT RAISE (ABORT, 'the UUID of an approval cannot be changed');
END;

-- A field manager's request for a second person's approval of an install
-- order. Its UUID is the approval's: the decision (approvals) carries the
-- same one. A decision taken without a request (pp_store_decide_order)
-- records a request that was decided at once. At most one request per
-- order is pending; cancelling the order withdraws it.
CREATE TABLE approval_requests (
  id             INTEGER PRIMARY KEY,
  uuid           TEXT NOT NULL UNIQUE,
  order_id       INTEGER NOT NULL REFERENCES work_orders (id),
  requester      TEXT NOT NULL,
  scanned_serial TEXT,
  requested_at   INTEGER NOT NULL,
  state          TEXT NOT NULL
                 CHECK (state IN ('pending', 'approved', 'rejected', 'withdrawn')),
  approval_id    INTEGER REFERENCES approvals (id),
  decided_at     INTEGER
);
CREATE UNIQUE INDEX approval_requests_pending ON approval_requests (order_id)
  WHERE state = 'pending';
CREATE INDEX approval_requests_state ON approval_requests (state, id);

INSERT INTO approval_requests (uuid, order_id, requester, requested_at, state, approval_id,
                               decided_at)
  SELECT uuid, order_id, requester, decided_at, decision, id, decided_at FROM approvals;

CREATE TRIGGER approval_requests_withdraw AFTER UPDATE OF state ON work_orders
  WHEN NEW.state = 'cancelled'
BEGIN
  UPDATE approval_requests SET state = 'withdrawn', decided_at = CAST (strftime ('%s', 'now') AS INTEGER)
  WHERE order_id = NEW.id AND state = 'pending';
END;

-- Idempotent requests of the registry seam: the first call with a key does
-- the work and records the digest of its arguments and its result; a
-- repeat with the same verb and digest gets that result and changes
-- nothing; the same key for anything else is refused.
CREATE TABLE idempotency (
  key        TEXT PRIMARY KEY NOT NULL,
  verb       TEXT NOT NULL,
  digest     TEXT NOT NULL,
  result     TEXT NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- The change feed: one row per terminal, order and approval, at the seq of
-- its latest change (AUTOINCREMENT: a seq is never reused, so a cursor only
-- moves forward). A reader that has seen everything up to seq C asks for
-- seq > C and gets each thing changed since once, in the order of its last
-- change. Kept by triggers, inside the transaction of the change itself.
CREATE TABLE changes (
  seq  INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL CHECK (kind IN ('terminal', 'order', 'approval')),
  key  TEXT NOT NULL,
  time INTEGER NOT NULL,
  UNIQUE (kind, key)
);

INSERT INTO changes (kind, key, time) SELECT 'terminal', serial, updated_at FROM terminals ORDER BY updated_at, serial;
INSERT INTO changes (kind, key, time) SELECT 'order', uuid, updated_at FROM work_orders ORDER BY id;
INSERT INTO changes (kind, key, time) SELECT 'approval', uuid, requested_at FROM approval_requests ORDER BY id;

-- DELETE then INSERT rather than INSERT OR REPLACE: the conflict clause of
-- the statement that fires a trigger overrides the trigger's own (an
-- INSERT OR IGNORE of terminals would turn REPLACE into IGNORE).
CREATE TRIGGER changes_terminal_insert AFTER INSERT ON terminals
BEGIN
  DELETE FROM changes WHERE kind = 'terminal' AND key = NEW.serial;
  INSERT INTO changes (kind, key, time) VALUES ('terminal', NEW.serial, CAST (strftime ('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER changes_terminal_update AFTER UPDATE ON terminals
BEGIN
  DELETE FROM changes WHERE kind = 'terminal' AND key = NEW.serial;
  INSERT INTO changes (kind, key, time) VALUES ('terminal', NEW.serial, CAST (strftime ('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER changes_order_insert AFTER INSERT ON work_orders WHEN NEW.uuid IS NOT NULL
BEGIN
  DELETE FROM changes WHERE kind = 'order' AND key = NEW.uuid;
  INSERT INTO changes (kind, key, time) VALUES ('order', NEW.uuid, CAST (strftime ('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER changes_order_update AFTER UPDATE ON work_orders WHEN NEW.uuid IS NOT NULL
BEGIN
  DELETE FROM changes WHERE kind = 'order' AND key = NEW.uuid;
  INSERT INTO changes (kind, key, time) VALUES ('order', NEW.uuid, CAST (strftime ('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER changes_approval_insert AFTER INSERT ON approval_requests
BEGIN
  DELETE FROM changes WHERE kind = 'approval' AND key = NEW.uuid;
  INSERT INTO changes (kind, key, time) VALUES ('approval', NEW.uuid, CAST (strftime ('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER changes_approval_update AFTER UPDATE ON approval_requests
BEGIN
  DELETE FROM changes WHERE kind = 'approval' AND key = NEW.uuid;
  INSERT INTO changes (kind, key, time) VALUES ('approval', NEW.uuid, CAST (strftime ('%s', 'now') AS INTEGER));
END;
-- A voided decision changes its approval too.
CREATE TRIGGER changes_approval_void AFTER UPDATE OF voided_at ON approvals WHEN NEW.uuid IS NOT NULL
BEGIN
  DELETE FROM changes WHERE kind = 'approval' AND key = NEW.uuid;
  INSERT INTO changes (kind, key, time) VALUES ('approval', NEW.uuid, CAST (strftime ('%s', 'now') AS INTEGER));
END;

-- The program catalogue: what may be pushed to a model (the signed
-- packages themselves are uploaded later; here is what the registry knows
-- of each: its SHA-256 and size).
CREATE TABLE programs (
  id         INTEGER PRIMARY KEY,
  model      TEXT NOT NULL,
  name       TEXT NOT NULL,
  version    TEXT NOT NULL,
  sha256     TEXT NOT NULL CHECK (length (sha256) = 64),
  size       INTEGER NOT NULL CHECK (size >= 0),
  created_at INTEGER NOT NULL,
  UNIQUE (model, name, version)
);
