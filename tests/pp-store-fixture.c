/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-store-fixture.c: the store the work-order tests start from.
 */
#include "config.h"

#include "pp-store-fixture.h"
#include "pp-test-util.h"

char *
pp_store_fixture_fingerprint (const char *serial)
{
  g_autofree char *upper = g_ascii_strup (serial, -1);

  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, upper, -1);
}

void
pp_store_fixture_set_up (PpStoreFixture         *f,
                         const PpTerminalIntake *rows,
                         guint                   n_rows,
                         const char             *intake_actor)
{
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
    { "carol", PP_USER_ROLE_ADMINISTRATOR },   /* first: the store's first account */
    { "alice", PP_USER_ROLE_FIELD_MANAGER },
    { "bob", PP_USER_ROLE_REVIEWER },
    { "rita", PP_USER_ROLE_REVIEWER },
  };

  f->dir = pp_test_make_tmpdir ();
  f->path = g_build_filename (f->dir, "store.db", NULL);
  f->store = pp_store_open (f->path, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (users); i++)
    {
      /* Cheap hashes: these tests are about roles, test-password about hashing. */
      g_autoptr(PpUser) u = pp_store_add_user_with_cost (f->store, users[i].name, NULL, users[i].role,
                                                         PP_TEST_PASSWORD ("0"), 10, i == 0 ? "setup" : "carol",
                                                         &error);
      g_assert_no_error (error);
      g_assert_cmpint (u->role, ==, users[i].role);
    }
  g_assert_true (pp_store_add_terminals (f->store, rows, n_rows, intake_actor, &error));
  for (guint i = 0; i < n_rows; i++)
    {
      g_autofree char *fp = pp_store_fixture_fingerprint (rows[i].serial);

      g_assert_true (pp_store_set_terminal_certificate (f->store, rows[i].serial, fp, intake_actor, &error));
      g_assert_no_error (error);
    }
  m = pp_store_add_merchant (f->store, &fields, "alice", &error);
  g_assert_no_error (error);
  f->merchant_id = m->id;
  f->mid = g_strdup (m->mid);
  {
    g_autofree char *keys = g_build_filename (f->dir, "keys", NULL);

    f->key_store = pp_key_store_soft_new (keys, "fixture key store passphrase", &error);
    g_assert_no_error (error);
  }
}

char *
pp_store_fixture_release (PpStoreFixture *f,
                          gint64          order_id,
                          const char     *actor)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *label = g_strdup_printf ("tmk-%u", f->n_keys++);
  g_autofree char *kcv = NULL;

  kcv = pp_key_store_generate_tmk (f->key_store, label, PP_TMK_AES_128, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (pp_store_order_key_released (f->store, order_id, f->key_store, label, actor, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&kcv);
}

void
pp_store_fixture_tear_down (PpStoreFixture *f)
{
  g_clear_object (&f->key_store);
  g_clear_object (&f->store);
  g_free (f->path);
  g_free (f->mid);
  g_free (f->dir);
}
