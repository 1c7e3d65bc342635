/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-terminal-list-model.c: the inventory's GListModel over a real store.
 *
 * Rows must match the store's own listing across page boundaries, pages must
 * be fetched only when asked for and only a few kept, and a new query must
 * replace all rows in one items-changed.
 */
#include "config.h"

#include "pp-terminal-list-model.h"
#include "pp-test-util.h"

#define N_TERMINALS 1000
#define PAGE PP_TERMINAL_LIST_MODEL_PAGE_SIZE

typedef struct
{
  PpStore             *store;
  PpTerminalListModel *model;
  guint                n_signals;
  guint                position;
  guint                removed;
  guint                added;
} Fixture;

static void
on_items_changed (GListModel *model,
                  guint       position,
                  guint       removed,
                  guint       added,
                  Fixture    *f)
{
  f->n_signals++;
  f->position = position;
  f->removed = removed;
  f->added = added;
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  user_data)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "model.db", NULL);
  g_autoptr(GError) error = NULL;

  f->store = pp_store_open (path, &error);
  g_assert_no_error (error);
  g_assert_true (pp_store_seed_demo (f->store, N_TERMINALS, &error));
  g_assert_no_error (error);
  f->model = pp_terminal_list_model_new (f->store);
  g_signal_connect (f->model, "items-changed", G_CALLBACK (on_items_changed), f);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  user_data)
{
  g_clear_object (&f->model);
  g_clear_object (&f->store);
}

static char *
serial_at (Fixture *f,
           guint    position)
{
  g_autoptr(PpTerminal) terminal = g_list_model_get_item (G_LIST_MODEL (f->model), position);

  g_assert_nonnull (terminal);
  return g_strdup (pp_terminal_get_serial (terminal));
}

static void
touch_page (Fixture *f,
            guint    page)
{
  g_autoptr(GObject) item = g_list_model_get_item (G_LIST_MODEL (f->model), page * PAGE);

  g_assert_nonnull (item);
}

/* Every row, read through the model, is the store's row at that position. */
static void
test_rows_match_store (Fixture       *f,
                       gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) all = NULL;

  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (f->model)), ==, N_TERMINALS);
  g_assert_true (g_list_model_get_item_type (G_LIST_MODEL (f->model)) == PP_TYPE_TERMINAL);

  all = pp_store_list_terminals (f->store, NULL, PP_TERMINAL_STATE_ANY, 0, N_TERMINALS, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, N_TERMINALS);

  /* Backwards, so every page is entered from its last row. */
  for (guint i = N_TERMINALS; i-- > 0;)
    {
      g_autofree char *serial = serial_at (f, i);

      g_assert_cmpstr (serial, ==, pp_terminal_get_serial (g_ptr_array_index (all, i)));
    }
  g_assert_null (g_list_model_get_item (G_LIST_MODEL (f->model), N_TERMINALS));
  g_assert_cmpuint (pp_terminal_list_model_get_n_fetches (f->model), ==, (N_TERMINALS + PAGE - 1) / PAGE);
}

/* A page is read once while cached; only the four most recently used stay. */
static void
test_pages_cached (Fixture       *f,
                   gconstpointer  user_data)
{
  g_assert_cmpuint (pp_terminal_list_model_get_n_fetches (f->model), ==, 0);

  for (guint i = 0; i < PAGE; i++)
    {
      g_autofree char *serial = serial_at (f, i);
    }
  g_assert_cmpuint (pp_terminal_list_model_get_n_fetches (f->model), ==, 1);

  touch_page (f, 4);
  touch_page (f, 0);
  g_assert_cmpuint (pp_terminal_list_model_get_n_fetches (f->model), ==, 2);

  /* 0 was used after 4, so reading 1, 2, 3 pushes out 4 first. */
  touch_page (f, 1);
  touch_page (f, 2);
  touch_page (f, 3);
  g_assert_cmpuint (pp_terminal_list_model_get_n_fetches (f->model), ==, 5);
  touch_page (f, 0);
  g_assert_cmpuint (pp_terminal_list_model_get_n_fetches (f->model), ==, 5);
  touch_page (f, 4);
  g_assert_cmpuint (pp_terminal_list_model_get_n_fetches (f->model), ==, 6);
}

/* A new search replaces every row in one signal; the same search is no change. */
static void
test_query_changes (Fixture       *f,
                    gconstpointer  user_data)
{
  g_autofree char *serial = serial_at (f, 123);
  g_autofree char *lower = g_ascii_strdown (serial, -1);
  g_autofree char *shown = NULL;
  guint n_keyed;

  pp_terminal_list_model_set_query (f->model, lower, PP_TERMINAL_STATE_ANY);
  g_assert_cmpuint (f->n_signals, ==, 1);
  g_assert_cmpuint (f->position, ==, 0);
  g_assert_cmpuint (f->removed, ==, N_TERMINALS);
  g_assert_cmpuint (f->added, ==, 1);
  shown = serial_at (f, 0);
  g_assert_cmpstr (shown, ==, serial);

  /* Blank padding is no new query. */
  {
    g_autofree char *padded = g_strdup_printf ("  %s ", lower);

    pp_terminal_list_model_set_query (f->model, padded, PP_TERMINAL_STATE_ANY);
    g_assert_cmpuint (f->n_signals, ==, 1);
  }

  n_keyed = pp_store_count_terminals (f->store, NULL, PP_TERMINAL_STATE_KEYED, NULL);
  g_assert_cmpuint (n_keyed, >, 0);
  pp_terminal_list_model_set_query (f->model, "", PP_TERMINAL_STATE_KEYED);
  g_assert_cmpuint (f->n_signals, ==, 2);
  g_assert_cmpuint (f->removed, ==, 1);
  g_assert_cmpuint (f->added, ==, n_keyed);
  g_assert_null (pp_terminal_list_model_get_search (f->model));
  for (guint i = 0; i < n_keyed; i++)
    {
      g_autoptr(PpTerminal) terminal = g_list_model_get_item (G_LIST_MODEL (f->model), i);

      g_assert_cmpint (pp_terminal_get_state (terminal), ==, PP_TERMINAL_STATE_KEYED);
    }

  pp_terminal_list_model_set_query (f->model, "NO-SUCH-SERIAL", PP_TERMINAL_STATE_KEYED);
  g_assert_cmpuint (f->n_signals, ==, 3);
  g_assert_cmpuint (f->added, ==, 0);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (f->model)), ==, 0);
  g_assert_null (g_list_model_get_item (G_LIST_MODEL (f->model), 0));
  g_assert_null (pp_terminal_list_model_get_error (f->model));
}

/* Terminals added by someone else show after a reload. */
static void
test_reload (Fixture       *f,
             gconstpointer  user_data)
{
  const PpTerminalIntake rows[] = {
    { "ZZZ-0001", "PAX", "A920" },
    { "ZZZ-0002", "PAX", "A920" },
  };
  g_autoptr(GError) error = NULL;
  g_autofree char *last = NULL;

  g_assert_true (pp_store_add_terminals (f->store, rows, G_N_ELEMENTS (rows), "test", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (f->model)), ==, N_TERMINALS);

  pp_terminal_list_model_reload (f->model);
  g_assert_cmpuint (f->n_signals, ==, 1);
  g_assert_cmpuint (f->removed, ==, N_TERMINALS);
  g_assert_cmpuint (f->added, ==, N_TERMINALS + 2);
  last = serial_at (f, N_TERMINALS + 1);
  g_assert_cmpstr (last, ==, "ZZZ-0002");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) \
  g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/ui/terminal-list-model/rows-match-store", test_rows_match_store);
  ADD ("/ui/terminal-list-model/pages-cached", test_pages_cached);
  ADD ("/ui/terminal-list-model/query-changes", test_query_changes);
  ADD ("/ui/terminal-list-model/reload", test_reload);
#undef ADD

  return g_test_run ();
}
