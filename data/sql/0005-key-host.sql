-- SPDX-License-Identifier: GPL-3.0-or-later
--
-- 0004-key-host.sql: the key host's configuration (its KDH key, certificate
-- and CRL, the CA_KRD trust, the TR-34 profile per terminal model), what it
-- remembers of every key release (the RT_KRD nonces used per terminal and a
-- keyed fingerprint of each released key, so no key goes out twice) and the
-- users' TOTP secrets, sealed under a key of the key store.

-- One row. The KDH private key stays in the key store, under kdh_key_label.
-- fingerprint_kcv is the check value of the key store's fingerprint key:
-- a key host opened on another key store (another fingerprint key) would
-- no longer recognise the fingerprints below, so it refuses to start.
CREATE TABLE key_host_config (
  id              INTEGER PRIMARY KEY CHECK (id = 1),
  kdh_key_label   TEXT NOT NULL,
  kdh_certificate BLOB NOT NULL,
  kdh_crl         BLOB,
  fingerprint_kcv TEXT,
  updated_at      INTEGER NOT NULL,
  updated_by      TEXT NOT NULL
);

-- The root and CA_KRD certificates (DER) a terminal's certificate must chain to.
CREATE TABLE key_host_trust (
  position    INTEGER PRIMARY KEY,
  certificate BLOB NOT NULL
);

-- The TR-34 encoding per terminal model; a model not listed gets "strict".
CREATE TABLE key_host_profiles (
  model   TEXT PRIMARY KEY,
  profile TEXT NOT NULL
);

-- Every RT_KRD nonce (upper-case hex) a key token was made for: a terminal's
-- nonce is good for one key token only.
CREATE TABLE key_host_nonces (
  serial   TEXT NOT NULL,
  nonce    TEXT NOT NULL,
  order_id INTEGER NOT NULL REFERENCES work_orders (id),
  used_at  INTEGER NOT NULL,
  PRIMARY KEY (serial, nonce)
);

-- HMAC-SHA-256 (fingerprint key, key) of every released TMK (lower-case hex):
-- keys unique per device (PCI PIN 20-1). The fingerprint key never leaves
-- the key store's keeping; without it the column says nothing of the keys.
CREATE TABLE key_fingerprints (
  fingerprint TEXT PRIMARY KEY,
  order_id    INTEGER NOT NULL REFERENCES work_orders (id),
  serial      TEXT NOT NULL,
  key_label   TEXT NOT NULL,
  released_at INTEGER NOT NULL
);

-- A user's TOTP secret, AES-256-GCM under the key store's TOTP key:
-- sealed = 12-byte nonce || ciphertext || 16-byte tag. last_step is the
-- newest time step a code was accepted for (a code is good once).
CREATE TABLE user_otp (
  username    TEXT PRIMARY KEY REFERENCES users (username),
  sealed      BLOB NOT NULL,
  enrolled_at INTEGER NOT NULL,
  enrolled_by TEXT NOT NULL,
  last_step   INTEGER NOT NULL DEFAULT -1
);
