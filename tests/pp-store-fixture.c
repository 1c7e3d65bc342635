/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-store-fixture.c: the store the work-order tests start from.
 */
#include "config.h"

#include "pp-store-fixture.h"
#include "pp-test-util.h"

void
pp_store_fixture_set_up (PpStoreFixture         *f,
                         const PpTerminalIntake *rows,
                         guint                   n_rows,
                         const char             *intake_actor)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpMerchant) m = NULL;
  const PpMerchantFields fields = {
    "Lucky Noodle House", "91310000MA1FL7XW2B", "88 Nanjing Road, Shanghai", "5812",
    "Li Wei", "13800138000",
  };
  static const struct {
    const char *name;
    PpUserRole role;
  } users[] = {
    { "alice", PP_USER_ROLE_FIELD_MANAGER },
    { "bob", PP_USER_ROLE_REVIEWER },
    { "carol", PP_USER_ROLE_ADMINISTRATOR },
    { "rita", PP_USER_ROLE_REVIEWER },
  };

  f->path = g_build_filename (dir, "store.db", NULL);
  f->store = pp_store_open (f->path, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (users); i++)
    {
      /* Cheap hashes: these tests are about roles, test-password about hashing. */
      g_autoptr(PpUser) u = pp_store_add_user_with_cost (f->store, users[i].name, NULL, users[i].role,
                                                         "password", 10, "setup", &error);
      g_assert_no_error (error);
      g_assert_cmpint (u->role, ==, users[i].role);
    }
  g_assert_true (pp_store_add_terminals (f->store, rows, n_rows, intake_actor, &error));
  m = pp_store_add_merchant (f->store, &fields, "alice", &error);
  g_assert_no_error (error);
  f->merchant_id = m->id;
  f->mid = g_strdup (m->mid);
}

void
pp_store_fixture_tear_down (PpStoreFixture *f)
{
  g_clear_object (&f->store);
  g_free (f->path);
  g_free (f->mid);
}
