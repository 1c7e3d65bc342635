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
#include "pp-store-fixture.h"
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

/* The moves only work orders make (issue 6: a plain move must not key or
 * install a terminal), with the words the refusal uses for the order step. */
static const char *
order_step (const char *from,
            const char *to)
{
  static const char * const owned[][3] = {
    { "in_stock", "pending_install", "opening an install order" },
    { "pending_install", "keyed", "recording the keying of its approved install order" },
    { "pending_install", "in_stock", "cancelling or rejecting its install order" },
    { "keyed", "installed", "closing its install order" },
    { "installed", "recycled", "opening a recycle order" },
    { "recycled", "in_stock", "closing its recycle order" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (owned); i++)
    if (g_str_equal (owned[i][0], from) && g_str_equal (owned[i][1], to))
      return owned[i][2];
  return NULL;
}

/* Takes one step of path_to[], the order steps through their verbs. */
static void
walk (PpStoreFixture *f,
      const char     *serial,
      const char     *step,
      gint64         *order_id)
{
  g_autoptr(GError) error = NULL;

  if (g_str_equal (step, "pending_install"))
    {
      g_autoptr(PpWorkOrder) o = pp_store_create_install_order (f->store, serial, f->merchant_id, "1.0",
                                                                PP_TMK_AES_128, "alice", &error);
      g_assert_no_error (error);
      *order_id = o->id;
    }
  else if (g_str_equal (step, "keyed"))
    {
      g_autofree char *kcv = NULL;

      g_assert_true (pp_store_decide_order (f->store, *order_id, "bob", TRUE, NULL, &error));
      kcv = pp_store_fixture_release (f, *order_id, "alice");
      g_assert_true (pp_store_order_keyed (f->store, *order_id, kcv, "alice", &error));
    }
  else if (g_str_equal (step, "installed"))
    {
      g_assert_true (pp_store_order_program_installed (f->store, *order_id, "alice", &error));
      g_assert_true (pp_store_close_order (f->store, *order_id, "alice", &error));
    }
  else if (g_str_equal (step, "recycled"))
    {
      g_autoptr(PpWorkOrder) r = pp_store_create_recycle_order (f->store, serial, "alice", NULL, &error);
      g_assert_no_error (error);
      g_assert_nonnull (r);
    }
  else
    {
      PpTerminalState s;

      g_assert_true (pp_terminal_state_from_string (step, &s));
      g_assert_true (pp_store_transition_terminal (f->store, serial, s, "alice", NULL, &error));
    }
  g_assert_no_error (error);
}

/* Every (from, to) through pp_store_transition_terminal on a real store:
 * illegal moves are refused as such, the moves of work orders are refused
 * naming the order step, the rest happen. Each start state is reached the
 * way a real terminal reaches it. */
static void
test_state_store_matrix (void)
{
  PpStoreFixture f = { 0, };
  g_autoptr(GError) error = NULL;

  pp_store_fixture_set_up (&f, NULL, 0, "carol");

  for (int from = 0; from < PP_N_TERMINAL_STATES; from++)
    for (int to = 0; to < PP_N_TERMINAL_STATES; to++)
      {
        g_autofree char *serial = g_strdup_printf ("SM-%d-%d", from, to);
        g_autofree char *fp = pp_store_fixture_fingerprint (serial);
        PpTerminalIntake row = { serial, "PAX", "A920" };
        g_auto(GStrv) steps = g_strsplit (path_to[from], " ", -1);
        gboolean want = expected (state_ids[from], state_ids[to]);
        const char *step = order_step (state_ids[from], state_ids[to]);
        gint64 order_id = 0;

        g_assert_true (pp_store_add_terminals_in_state (f.store, &row, 1, PP_TERMINAL_STATE_RECEIVED,
                                                        "tester", &error));
        g_assert_true (pp_store_set_terminal_certificate (f.store, serial, fp, "tester", &error));
        g_assert_no_error (error);
        for (guint i = 0; steps[i] != NULL && *steps[i] != '\0'; i++)
          walk (&f, serial, steps[i], &order_id);
        g_assert_cmpint (state_of (f.store, serial), ==, from);

        /* Whatever the move, only a field manager or an administrator makes it. */
        g_assert_false (pp_store_transition_terminal (f.store, serial, to, "tester", NULL, &error));
        g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION);
        g_clear_error (&error);
        g_assert_false (pp_store_transition_terminal (f.store, serial, to, "bob", NULL, &error));
        g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION);
        g_assert_nonnull (strstr (error->message, "(reviewer)"));
        g_clear_error (&error);

        if (want && step == NULL)
          {
            g_assert_true (pp_store_transition_terminal (f.store, serial, to, "carol", "matrix", &error));
            g_assert_no_error (error);
            g_assert_cmpint (state_of (f.store, serial), ==, to);
          }
        else
          {
            g_autofree char *msg = NULL;

            if (want)
              msg = g_strdup_printf ("terminal %s is %s; %s -> %s happens only by %s, not by a plain move",
                                     serial, state_ids[from], state_ids[from], state_ids[to], step);
            else
              msg = g_strdup_printf ("terminal %s is %s; cannot go %s -> %s", serial, state_ids[from],
                                     state_ids[from], state_ids[to]);
            g_assert_false (pp_store_transition_terminal (f.store, serial, to, "alice", "matrix", &error));
            g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION);
            g_assert_cmpstr (error->message, ==, msg);
            g_clear_error (&error);
            /* Refused means unchanged. */
            g_assert_cmpint (state_of (f.store, serial), ==, from);
          }
      }

  g_assert_true (pp_store_audit_verify (f.store, NULL, NULL, &error));
  g_assert_no_error (error);
  pp_store_fixture_tear_down (&f);
}

/* The walk-around without an order: in_stock -> pending_install ->
 * keyed -> installed by plain moves. The first is refused, and the later
 * ones would be too from wherever a terminal could be. */
static void
test_state_no_order_walkaround (void)
{
  PpStoreFixture f = { 0, };
  g_autoptr(GError) error = NULL;
  const PpTerminalIntake rows[] = { { "WALK-1", "PAX", "A920" } };
  static const PpTerminalState walk_to[] = {
    PP_TERMINAL_STATE_PENDING_INSTALL, PP_TERMINAL_STATE_KEYED, PP_TERMINAL_STATE_INSTALLED,
  };

  pp_store_fixture_set_up (&f, rows, G_N_ELEMENTS (rows), "carol");
  for (guint i = 0; i < G_N_ELEMENTS (walk_to); i++)
    {
      for (guint a = 0; a < 3; a++)
        {
          const char *actor = (const char *[]) { "carol", "alice", "anybody" }[a];

          g_assert_false (pp_store_transition_terminal (f.store, "WALK-1", walk_to[i], actor, NULL, &error));
          if (a == 2)
            g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION);
          else if (i == 0)
            g_assert_cmpstr (error->message, ==, "terminal WALK-1 is in_stock; in_stock -> pending_install "
                                                 "happens only by opening an install order, not by a plain move");
          else
            g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION);
          g_clear_error (&error);
        }
      g_assert_cmpint (state_of (f.store, "WALK-1"), ==, PP_TERMINAL_STATE_IN_STOCK);
    }
  pp_store_fixture_tear_down (&f);
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
  g_test_add_func ("/state-machine/no-order-walkaround", test_state_no_order_walkaround);
  g_test_add_func ("/state-machine/initial", test_state_initial);
  return g_test_run ();
}
