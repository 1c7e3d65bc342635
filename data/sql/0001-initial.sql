-- SPDX-License-Identifier: GPL-3.0-or-later
--
-- 0001-initial.sql: the provisioning domain store.
-- Applied by pp-store.c inside one transaction; PRAGMA user_version is set
-- by the loader, not here. Timestamps are unix seconds (UTC).

-- Key/value settings: MID/TID prefixes, demo flag.
CREATE TABLE settings (
  key   TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
);

-- Issuance counters, one per kind and prefix ("mid:8981000", "tid:1");
-- bumped inside BEGIN IMMEDIATE so two writers never hand out the same number.
CREATE TABLE counters (
  name  TEXT PRIMARY KEY NOT NULL,
  value INTEGER NOT NULL CHECK (value >= 0)
);

-- Every MID and TID ever issued: a number is never handed out twice, even
-- after a prefix change or a recycled terminal.
CREATE TABLE issued_numbers (
  number    TEXT PRIMARY KEY NOT NULL,
  kind      TEXT NOT NULL CHECK (kind IN ('mid', 'tid')),
  issued_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
  id            INTEGER PRIMARY KEY,
  username      TEXT NOT NULL UNIQUE,
  display_name  TEXT NOT NULL,
  role          TEXT NOT NULL
                CHECK (role IN ('field_manager', 'reviewer', 'administrator')),
  password_hash TEXT NOT NULL,
  created_at    INTEGER NOT NULL
);

CREATE TABLE merchants (
  id                  INTEGER PRIMARY KEY,
  name                TEXT NOT NULL,
  registration_number TEXT NOT NULL UNIQUE,
  address             TEXT NOT NULL,
  mcc                 TEXT NOT NULL CHECK (length (mcc) = 4),
  contact_name        TEXT NOT NULL,
  contact_phone       TEXT NOT NULL,
  mid                 TEXT NOT NULL UNIQUE CHECK (length (mid) = 15),
  created_at          INTEGER NOT NULL,
  updated_at          INTEGER NOT NULL
);

CREATE TABLE terminals (
  serial           TEXT PRIMARY KEY NOT NULL,
  vendor           TEXT NOT NULL,
  model            TEXT NOT NULL,
  state            TEXT NOT NULL
                   CHECK (state IN ('received', 'in_stock', 'pending_install', 'keyed',
                                    'installed', 'recycled', 'quarantined', 'retired')),
  cert_fingerprint TEXT,
  merchant_id      INTEGER REFERENCES merchants (id),
  mid              TEXT,
  tid              TEXT UNIQUE CHECK (tid IS NULL OR length (tid) = 8),
  program_version  TEXT,
  kcv              TEXT,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
) WITHOUT ROWID;
-- The primary key orders by serial (prefix search is a range scan on it);
-- this one serves the state filter in serial order.
CREATE INDEX terminals_state_serial ON terminals (state, serial);
CREATE INDEX terminals_merchant ON terminals (merchant_id);

-- Install orders: open -> approved -> keyed -> program_installed -> closed,
-- or cancelled from open/approved. Recycle orders: open -> closed.
CREATE TABLE work_orders (
  id              INTEGER PRIMARY KEY,
  kind            TEXT NOT NULL CHECK (kind IN ('install', 'recycle')),
  state           TEXT NOT NULL
                  CHECK (state IN ('open', 'approved', 'keyed', 'program_installed',
                                   'closed', 'cancelled')),
  serial          TEXT NOT NULL REFERENCES terminals (serial),
  merchant_id     INTEGER REFERENCES merchants (id),
  mid             TEXT,
  tid             TEXT,
  program_version TEXT,
  kcv             TEXT,
  requester       TEXT NOT NULL,
  reason          TEXT,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
);
CREATE INDEX work_orders_serial ON work_orders (serial);
CREATE INDEX work_orders_state ON work_orders (state);

-- Dual control: who asked, who decided, when, and exactly what was approved.
CREATE TABLE approvals (
  id         INTEGER PRIMARY KEY,
  order_id   INTEGER NOT NULL REFERENCES work_orders (id),
  requester  TEXT NOT NULL,
  approver   TEXT NOT NULL,
  decision   TEXT NOT NULL CHECK (decision IN ('approved', 'rejected')),
  reason     TEXT,
  decided_at INTEGER NOT NULL,
  serial     TEXT NOT NULL,
  mid        TEXT,
  tid        TEXT,
  CHECK (approver <> requester)
);
CREATE INDEX approvals_order ON approvals (order_id);

-- Replayed requests (idempotency keys of verbs called behind HTTP later).
CREATE TABLE requests (
  request_id TEXT PRIMARY KEY NOT NULL,
  action     TEXT NOT NULL,
  subject    TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

-- Append-only audit journal; hash chain described in pp-store.h.
CREATE TABLE audit (
  seq       INTEGER PRIMARY KEY,
  time      INTEGER NOT NULL,
  actor     TEXT NOT NULL,
  action    TEXT NOT NULL,
  subject   TEXT NOT NULL,
  detail    TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash      TEXT NOT NULL
);
-- Last appended entry, so deleting the tail of the journal is noticed too.
CREATE TABLE audit_head (
  id   INTEGER PRIMARY KEY CHECK (id = 1),
  seq  INTEGER NOT NULL,
  hash TEXT NOT NULL
);

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
  SELECT RAISE (ABORT, 'the audit journal is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
  SELECT RAISE (ABORT, 'the audit journal is append-only');
END;
