/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-store-fixture.h: the store the work-order tests start from: a fresh
 * file with four users of every role they need, some terminals taken in
 * with their device certificates on record, one merchant, and a soft key
 * store for the key releases.
 */
#pragma once

#include "pp-store.h"

G_BEGIN_DECLS

typedef struct {
  char *dir;
  char *path;
  PpStore *store;
  gint64 merchant_id;
  char *mid;
  PpKeyStore *key_store;   /* a soft key store in the fixture's folder */
  guint n_keys;
} PpStoreFixture;

/* Opens a store in a fresh temp dir; carol (administrator) is its first
 * account and adds alice (field manager), bob and rita (reviewers); takes
 * @rows in as @intake_actor and records a device certificate fingerprint for
 * each; adds the merchant "Lucky Noodle House" as alice. */
void  pp_store_fixture_set_up    (PpStoreFixture         *f,
                                  const PpTerminalIntake *rows,
                                  guint                   n_rows,
                                  const char             *intake_actor);

/* A made-up fingerprint for @serial, as the fixture records it. */
char *pp_store_fixture_fingerprint (const char *serial);

/* The key host's part: generates a new AES-128 TMK in the soft key store
 * and releases it for @order_id as @actor. Returns the TMK's KCV (what the
 * terminal reports when it loaded it). */
char *pp_store_fixture_release   (PpStoreFixture         *f,
                                  gint64                  order_id,
                                  const char             *actor);

void  pp_store_fixture_tear_down (PpStoreFixture *f);

G_END_DECLS
