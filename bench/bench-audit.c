/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * bench-audit.c: the cost of one journalled verb with the journal unsealed
 * and sealed (MAC per entry, key store written once per epoch). Prints the
 * time per entry and the ratio. Usage: bench-audit [N] (default 2000).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include <glib/gstdio.h>

#include "pp-store.h"

static double
run (const char *dir,
     gboolean    sealed,
     guint       n,
     guint32     epoch_entries)
{
  g_autofree char *sub = g_strdup_printf ("%s/%s-%u", dir, sealed ? "sealed" : "plain", epoch_entries);
  g_autofree char *path = g_build_filename (sub, "bench.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = pp_store_open (path, &error);
  gint64 start;

  g_assert_no_error (error);
  if (sealed)
    {
      g_autoptr(PpSecureBuffer) seed = pp_store_audit_init_seal (store, epoch_entries, 0, "bench", &error);
      g_assert_no_error (error);
      g_assert_nonnull (seed);
    }
  start = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *serial = g_strdup_printf ("BENCH-%06u", i);
      PpTerminalIntake row = { serial, "PAX", "A920" };

      if (!pp_store_add_terminals (store, &row, 1, "bench", &error))
        g_error ("%s", error->message);
    }
  return (double) (g_get_monotonic_time () - start) / n;
}

int
main (int argc, char **argv)
{
  guint n = argc > 1 ? (guint) atoi (argv[1]) : 2000;
  g_autofree char *dir = g_dir_make_tmp ("bench-audit-XXXXXX", NULL);
  g_autofree char *cmd = NULL;
  double plain, sealed, sealed_big;

  g_setenv (PP_STORE_KEY_STORE_SECRET_ENV, "bench-secret-passphrase", TRUE);
  g_unsetenv (PP_STORE_KEY_STORE_ENV);
  plain = run (dir, FALSE, n, 0);
  sealed = run (dir, TRUE, n, PP_AUDIT_EPOCH_ENTRIES);
  sealed_big = run (dir, TRUE, n, 1024);
  printf ("%u entries, one transaction each\n", n);
  printf ("unsealed:                    %8.1f us/entry\n", plain);
  printf ("sealed, epoch %4u entries:   %8.1f us/entry  ratio %.2f\n", PP_AUDIT_EPOCH_ENTRIES,
          sealed, sealed / plain);
  printf ("sealed, epoch 1024 entries:   %8.1f us/entry  ratio %.2f\n", sealed_big, sealed_big / plain);
  cmd = g_strdup_printf ("rm -rf '%s'", dir);
  return system (cmd) == 0 ? 0 : 1;
}
