/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-store-fixture.h: the store the work-order tests start from: a fresh
 * file with four users of every role they need, some terminals taken in
 * and one merchant.
 */
#pragma once

#include "pp-store.h"

G_BEGIN_DECLS

typedef struct {
  char *path;
  PpStore *store;
  gint64 merchant_id;
  char *mid;
} PpStoreFixture;

/* Opens a store in a fresh temp dir; adds alice (field manager), bob and
 * rita (reviewers), carol (administrator); takes @rows in as @intake_actor;
 * adds the merchant "Lucky Noodle House" as alice. */
void pp_store_fixture_set_up    (PpStoreFixture         *f,
                                 const PpTerminalIntake *rows,
                                 guint                   n_rows,
                                 const char             *intake_actor);

void pp_store_fixture_tear_down (PpStoreFixture *f);

G_END_DECLS
