/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * bench-intake.c: rejecting the rows of an intake file that are already in
 * the register (a re-import), the one-pass pp_csv_import_reject_rows next
 * to the row-at-a-time pp_csv_import_reject_row loop the tool used before
 * (quadratic), measured in the same run on the same parsed files; then a
 * whole intake of 1M rows into a fresh store (the part of it that holds
 * the write lock is a single INSERT ... SELECT from a TEMP stage).
 *
 * Not a test (timings depend on the machine): run build/bench/bench-intake
 * [ROWS_FOR_THE_ONE_PASS_RUN] (default 1000000; the row-at-a-time baseline
 * runs at 20k and 50k only, it would take minutes at 1M).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <glib/gstdio.h>

#include "pp-csv-import.h"
#include "pp-store.h"

static gint64
cpu_usec (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static PpCsvImport *
parse_rows (guint n)
{
  g_autoptr(GString) text = g_string_sized_new ((gsize) n * 20 + 32);
  g_autoptr(GError) error = NULL;
  PpCsvImport *import;

  g_string_append (text, "serial,vendor,model\n");
  for (guint i = 0; i < n; i++)
    g_string_append_printf (text, "SN%08u,PAX,A920\n", i);
  import = pp_csv_import_parse (text->str, (gssize) text->len, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (import->rows->len, ==, n);
  return import;
}

/* Seconds to reject every row the way the tool did before: from the last
 * row back, each problem inserted where its line belongs after a walk
 * back from the end of the sorted problems (so at the front, every time),
 * each row removed from the array. Written here as it was, so the
 * baseline runs on the same machine in the same run. */
static double
reject_row_at_a_time (guint n)
{
  g_autoptr(PpCsvImport) import = parse_rows (n);
  gint64 start = cpu_usec ();

  for (guint i = import->rows->len; i > 0; i--)
    {
      PpCsvRow *row = g_ptr_array_index (import->rows, i - 1);
      PpCsvProblem *problem = g_new0 (PpCsvProblem, 1);
      guint pos = import->problems->len;

      problem->line = row->line;
      problem->code = PP_CSV_IMPORT_ERROR_DUPLICATE_IN_STORE;
      problem->message = g_strdup ("serial is already in the register");
      while (pos > 0 && ((PpCsvProblem *) g_ptr_array_index (import->problems, pos - 1))->line > row->line)
        pos--;
      g_ptr_array_insert (import->problems, (int) pos, problem);
      g_ptr_array_remove_index (import->rows, i - 1);
    }
  g_assert_cmpuint (import->problems->len, ==, n);
  return (double) (cpu_usec () - start) / G_USEC_PER_SEC;
}

static double
reject_in_one_pass (guint n)
{
  g_autoptr(PpCsvImport) import = parse_rows (n);
  g_autofree char **messages = g_new0 (char *, n);
  gint64 start = cpu_usec ();

  for (guint i = 0; i < n; i++)
    messages[i] = g_strdup ("serial is already in the register");
  pp_csv_import_reject_rows (import, PP_CSV_IMPORT_ERROR_DUPLICATE_IN_STORE, messages);
  g_assert_cmpuint (import->problems->len, ==, n);
  return (double) (cpu_usec () - start) / G_USEC_PER_SEC;
}

static double
intake (guint n)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("bench-intake-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "store.db", NULL);
  g_autofree char *wal = g_strconcat (path, "-wal", NULL);
  g_autofree char *shm = g_strconcat (path, "-shm", NULL);
  g_autoptr(PpCsvImport) import = parse_rows (n);
  g_autofree PpTerminalIntake *rows = g_new0 (PpTerminalIntake, n);
  PpStore *store;
  gint64 start;
  gboolean ok;

  g_assert_no_error (error);
  store = pp_store_open (path, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < n; i++)
    {
      PpCsvRow *row = g_ptr_array_index (import->rows, i);

      rows[i].serial = row->serial;
      rows[i].vendor = row->vendor;
      rows[i].model = row->model;
    }
  start = g_get_monotonic_time ();
  ok = pp_store_add_terminals (store, rows, n, "bench", &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_object_unref (store);
  g_unlink (wal);
  g_unlink (shm);
  g_unlink (path);
  g_rmdir (dir);
  return (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
}

int
main (int    argc,
      char **argv)
{
  guint big = argc > 1 ? (guint) strtoul (argv[1], NULL, 10) : 1000000;
  static const guint sizes[] = { 20000, 50000 };

  printf ("reject every row of a re-import (CPU seconds)\n");
  printf ("%10s %14s %14s %8s\n", "rows", "row-at-a-time", "one pass", "ratio");
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      double old_s = reject_row_at_a_time (sizes[i]);
      double new_s = reject_in_one_pass (sizes[i]);

      printf ("%10u %14.3f %14.3f %7.0fx\n", sizes[i], old_s, new_s, old_s / MAX (new_s, 1e-6));
    }
  printf ("%10u %14s %14.3f\n", big, "(minutes)", reject_in_one_pass (big));
  printf ("\nintake of %u rows into a new store: %.2f s (wall clock)\n", big, intake (big));
  return 0;
}
