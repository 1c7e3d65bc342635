/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-state-machine.c: the terminal lifecycle. Every one of the 8 x 8
 * (from, to) pairs is compared with an expected table written out here
 * independently of core/store/pp-terminal-state.c, first on the pure check and
 * then through the store on a real terminal in a real SQLite file.
 */
#include "config.h"

#include <string.h>

#include "pp-store.h"
#include "pp-test-util.h"

/* The lifecycle as the issue and the domain describe it. */
static const char * const expected_allowed[] = {
  "received>in_stock",
  "in_stock>pending_install",
  "in_stock>quarantined",
  "in_stock>retired",
  "pending_install>keyed",
  "pending_install>in_stock",
  "pending_install>quarantined",
  "keyed>installed",
  "keyed>quarantined",
  "installed>recycled",
  "installed>quarantined",
  "recycled>in_stock",
  "recycled>quarantined",
  "recycled>retired",
  "quarantined>in_stock",
  "quarantined>retired",
};

static const char * const state_ids[] = {
  "received", "in_stock", "pending_install", "keyed",
  "installed", "recycled", "quarantined", "retired",
};

/* A path of allowed moves from "received" to each state. */
static const char * const path_to[] = {
  "",
  "in_stock",
  "in_stock pending_install",
  "in_stock pending_install keyed",
  "in_stock pending_install keyed installed",
  "in_stock pending_install keyed installed recycled",
  "in_stock quarantined",
  "in_stock retired",
};

static gboolean
expected (const char *from,
          const char *to)
{
  g_autofree char *key = g_strdup_printf ("%s>%s", from, to);

  for (guint i = 0; i < G_N_ELEMENTS (expected_allowed); i++)
    if (g_str_equal (expected_allowed[i], key))
      return TRUE;
  return FALSE;
}

static void
test_state_strings (void)
{
  PpTerminalState s;

  g_assert_cmpint (PP_N_TERMINAL_STATES, ==, G_N_ELEMENTS (state_ids));
  for (int i = 0; i < PP_N_TERMINAL_STATES; i++)
    {
      g_assert_cmpstr (pp_terminal_state_to_string (i), ==, state_ids[i]);
      g_assert_true (pp_terminal_state_from_string (state_ids[i], &s));
      g_assert_cmpint (s, ==, i);
      g_assert_nonnull (pp_terminal_state_get_label (i));
      g_assert_cmpstr (pp_terminal_state_get_label (i), !=, "");
    }
  g_assert_cmpstr (pp_terminal_state_get_label (PP_TERMINAL_STATE_IN_STOCK), ==, "In stock");
  g_assert_false (pp_terminal_state_from_string ("In stock", &s));
  g_assert_false (pp_terminal_state_from_string ("", &s));
  g_assert_false (pp_terminal_state_from_string ("RETIRED", &s));
}

static void
test_state_matrix (void)
{
  guint n_allowed = 0;

  for (int from = 0; from < PP_N_TERMINAL_STATES; from++)
    for (int to = 0; to < PP_N_TERMINAL_STATES; to++)
      {
        g_autoptr(GError) error = NULL;
        gboolean want = expected (state_ids[from], state_ids[to]);
        gboolean got = pp_terminal_state_check_transition (from, to, &error);

        g_test_message ("%s -> %s: expected %s", state_ids[from], state_ids[to],
                        want ? "allowed" : "refused");
        g_assert_cmpint (got, ==, want);
        g_assert_cmpint (pp_terminal_state_can_transition (from, to), ==, want);
        if (want)
          {
            g_assert_no_error (error);
            n_allowed++;
          }
        else
          {
            g_autofree char *msg = g_strdup_printf ("terminal is %s; cannot go %s -> %s",
                                                    state_ids[from], state_ids[from], state_ids[to]);
            g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION);
            g_assert_cmpstr (error->message, ==, msg);
          }
      }
  g_assert_cmpuint (n_allowed, ==, G_N_ELEMENTS (expected_allowed));
}

static void
test_state_bad_values (void)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (pp_terminal_state_check_transition (PP_TERMINAL_STATE_ANY,
                                                      PP_TERMINAL_STATE_IN_STOCK, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION);
  g_clear_error (&error);
  g_assert_false (pp_terminal_state_check_transition (PP_TERMINAL_STATE_IN_STOCK,
                                                      PP_N_TERMINAL_STATES, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION);
}

static PpTerminalState
state_of (PpStore    *store,
          const char *serial)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpTerminal) t = pp_store_get_terminal (store, serial, &error);

  g_assert_no_error (error);
  return pp_terminal_get_state (t);
}

static void
test_state_store_matrix (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "store.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = pp_store_open (path, &error);

  g_assert_no_error (error);

  for (int from = 0; from < PP_N_TERMINAL_STATES; from++)
    for (int to = 0; to < PP_N_TERMINAL_STATES; to++)
      {
        g_autofree char *serial = g_strdup_printf ("SM-%d-%d", from, to);
        PpTerminalIntake row = { serial, "PAX", "A920" };
        g_auto(GStrv) steps = g_strsplit (path_to[from], " ", -1);
        gboolean want = expected (state_ids[from], state_ids[to]);

        g_assert_true (pp_store_add_terminals_in_state (store, &row, 1, PP_TERMINAL_STATE_RECEIVED,
                                                        "tester", &error));
        g_assert_no_error (error);
        for (guint i = 0; steps[i] != NULL && *steps[i] != '\0'; i++)
          {
            PpTerminalState step;

            g_assert_true (pp_terminal_state_from_string (steps[i], &step));
            g_assert_true (pp_store_transition_terminal (store, serial, step, "tester", NULL, &error));
            g_assert_no_error (error);
          }
        g_assert_cmpint (state_of (store, serial), ==, from);

        if (want)
          {
            g_assert_true (pp_store_transition_terminal (store, serial, to, "tester", "matrix", &error));
            g_assert_no_error (error);
            g_assert_cmpint (state_of (store, serial), ==, to);
          }
        else
          {
            g_autofree char *msg = g_strdup_printf ("terminal %s is %s; cannot go %s -> %s",
                                                    serial, state_ids[from], state_ids[from],
                                                    state_ids[to]);

            g_assert_false (pp_store_transition_terminal (store, serial, to, "tester", "matrix", &error));
            g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION);
            g_assert_cmpstr (error->message, ==, msg);
            g_clear_error (&error);
            /* Refused means unchanged. */
            g_assert_cmpint (state_of (store, serial), ==, from);
          }
      }

  g_assert_true (pp_store_audit_verify (store, NULL, NULL, &error));
  g_assert_no_error (error);
}

static void
test_state_initial (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "store.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = pp_store_open (path, &error);
  PpTerminalIntake row = { "INIT-1", "PAX", "A920" };

  g_assert_false (pp_store_add_terminals_in_state (store, &row, 1, PP_TERMINAL_STATE_INSTALLED,
                                                   "tester", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_true (pp_store_add_terminals (store, &row, 1, "tester", &error));
  g_assert_cmpint (state_of (store, "INIT-1"), ==, PP_TERMINAL_STATE_IN_STOCK);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/state-machine/strings", test_state_strings);
  g_test_add_func ("/state-machine/matrix", test_state_matrix);
  g_test_add_func ("/state-machine/bad-values", test_state_bad_values);
  g_test_add_func ("/state-machine/store-matrix", test_state_store_matrix);
  g_test_add_func ("/state-machine/initial", test_state_initial);
  return g_test_run ();
}
