/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-terminal-list-model.c: the inventory's GListModel over a real
 * registry (PpRegistryLocal on a real store).
 *
 * Rows must match the store's own listing across page boundaries; a row
 * whose page has not arrived is a placeholder until the page's
 * items-changed; pages must be fetched only when asked for and only a few
 * kept; a new query must replace all rows in one items-changed, its
 * search and state filter answered by the registry, and a query replaced
 * before its answer came must leave no trace; a registry that cannot be
 * reached says so.
 */
#include "config.h"

#include "pp-registry-local.h"
#include "pp-terminal-list-model.h"
#include "pp-test-util.h"
#include "pp-ui-test-util.h"

#define N_TERMINALS 1000
#define PAGE PP_TERMINAL_LIST_MODEL_PAGE_SIZE

typedef struct
{
  PpStore             *store;
  PpRegistryLocal     *registry;
  PpTerminalListModel *model;
  guint                n_signals;
  guint                position;
  guint                removed;
  guint                added;
} Fixture;

/* Runs the main loop until @condition holds (pp-ui-test-util.c). */
#define wait_until pp_test_wait_until

static gboolean
is_loaded (gpointer data)
{
  return !pp_terminal_list_model_get_loading (data);
}

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
  f->registry = pp_registry_local_new (path, &error);
  g_assert_no_error (error);
  f->model = pp_terminal_list_model_new (PP_REGISTRY (f->registry));
  g_signal_connect (f->model, "items-changed", G_CALLBACK (on_items_changed), f);
  /* The count is on its way: no row yet, and no row asked for. */
  g_assert_true (pp_terminal_list_model_get_loading (f->model));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (f->model)), ==, 0);
  wait_until (is_loaded, f->model);
  g_assert_cmpuint (f->n_signals, ==, 1);
  f->n_signals = 0;
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  user_data)
{
  g_clear_object (&f->model);
  g_clear_object (&f->registry);
  g_clear_object (&f->store);
}

/* The row at @position once its page is in. */
static PpTerminal *
item_at (Fixture *f,
         guint    position)
{
  return pp_test_wait_for_row (f->model, position);
}

static char *
serial_at (Fixture *f,
           guint    position)
{
  g_autoptr(PpTerminal) terminal = item_at (f, position);

  return g_strdup (pp_terminal_get_serial (terminal));
}

static void
touch_page (Fixture *f,
            guint    page)
{
  g_autoptr(PpTerminal) item = item_at (f, page * PAGE);

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

  for (guint i = 0; i < N_TERMINALS; i++)
    {
      g_autofree char *serial = serial_at (f, i);

      g_assert_cmpstr (serial, ==, pp_terminal_get_serial (g_ptr_array_index (all, i)));
    }
  g_assert_null (g_list_model_get_item (G_LIST_MODEL (f->model), N_TERMINALS));
  /* The count's call brought page 0; one call for each other page. */
  g_assert_cmpuint (pp_terminal_list_model_get_n_fetches (f->model), ==, (N_TERMINALS + PAGE - 1) / PAGE);
}

/* A row of a page not yet fetched is a placeholder; its page arrives with
 * one items-changed over exactly the rows handed out as placeholders, and
 * asking again meanwhile starts no second fetch. */
static void
test_placeholders (Fixture       *f,
                   gconstpointer  user_data)
{
  g_autoptr(GObject) first = NULL;
  g_autoptr(GObject) again = NULL;
  g_autoptr(PpTerminal) real = NULL;
  g_autoptr(GPtrArray) rows = NULL;

  first = g_list_model_get_item (G_LIST_MODEL (f->model), 3 * PAGE + 5);
  g_assert_true (pp_terminal_list_model_is_placeholder (first));
  g_assert_cmpuint (pp_terminal_list_model_get_n_fetches (f->model), ==, 2);
  again = g_list_model_get_item (G_LIST_MODEL (f->model), 3 * PAGE + 6);
  g_assert_true (pp_terminal_list_model_is_placeholder (again));
  g_assert_cmpuint (pp_terminal_list_model_get_n_fetches (f->model), ==, 2);
  g_assert_cmpuint (f->n_signals, ==, 0);

  real = item_at (f, 3 * PAGE + 5);
  g_assert_cmpuint (f->n_signals, ==, 1);
  /* Not the whole page: a view never asked for its other rows, and rows
   * changed outside what it shows make GTK lose its place in the list. */
  g_assert_cmpuint (f->position, ==, 3 * PAGE + 5);
  g_assert_cmpuint (f->removed, ==, 2);
  g_assert_cmpuint (f->added, ==, 2);
  rows = pp_store_list_terminals (f->store, NULL, PP_TERMINAL_STATE_ANY, 3 * PAGE + 5, 1, NULL);
  g_assert_cmpstr (pp_terminal_get_serial (real), ==, pp_terminal_get_serial (g_ptr_array_index (rows, 0)));
  g_assert_false (pp_terminal_list_model_is_placeholder (real));
}

/* A page is read once while cached; only the four most recently used stay. */
static void
test_pages_cached (Fixture       *f,
                   gconstpointer  user_data)
{
  /* Page 0 came with the count. */
  g_assert_cmpuint (pp_terminal_list_model_get_n_fetches (f->model), ==, 1);
  for (guint i = 0; i < PAGE; i++)
    g_free (serial_at (f, i));
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

/* A new search replaces every row in one signal once the registry
 * answered; the same search is no change; search and state are the
 * registry's. */
static void
test_query_changes (Fixture       *f,
                    gconstpointer  user_data)
{
  g_autofree char *serial = serial_at (f, 123);
  g_autofree char *lower = g_ascii_strdown (serial, -1);
  g_autofree char *shown = NULL;
  guint n_keyed;

  pp_terminal_list_model_set_query (f->model, lower, PP_TERMINAL_STATE_ANY);
  /* Until the answer, the former rows stay. */
  g_assert_true (pp_terminal_list_model_get_loading (f->model));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (f->model)), ==, N_TERMINALS);
  g_assert_cmpuint (f->n_signals, ==, 0);
  wait_until (is_loaded, f->model);
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
    g_assert_false (pp_terminal_list_model_get_loading (f->model));
    g_assert_cmpuint (f->n_signals, ==, 1);
  }

  n_keyed = pp_store_count_terminals (f->store, NULL, PP_TERMINAL_STATE_KEYED, NULL);
  g_assert_cmpuint (n_keyed, >, 0);
  pp_terminal_list_model_set_query (f->model, "", PP_TERMINAL_STATE_KEYED);
  wait_until (is_loaded, f->model);
  g_assert_cmpuint (f->n_signals, ==, 2);
  g_assert_cmpuint (f->removed, ==, 1);
  g_assert_cmpuint (f->added, ==, n_keyed);
  g_assert_null (pp_terminal_list_model_get_search (f->model));
  for (guint i = 0; i < n_keyed; i++)
    {
      g_autoptr(PpTerminal) terminal = item_at (f, i);

      g_assert_cmpint (pp_terminal_get_state (terminal), ==, PP_TERMINAL_STATE_KEYED);
    }

  pp_terminal_list_model_set_query (f->model, "NO-SUCH-SERIAL", PP_TERMINAL_STATE_KEYED);
  wait_until (is_loaded, f->model);
  g_assert_cmpuint (f->added, ==, 0);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (f->model)), ==, 0);
  g_assert_null (g_list_model_get_item (G_LIST_MODEL (f->model), 0));
  g_assert_null (pp_terminal_list_model_get_error (f->model));
}

/* Typing fast: each keystroke a query, the former one's fetch cancelled;
 * only the last query's rows arrive, in one items-changed. */
static void
test_stale_query_cancelled (Fixture       *f,
                            gconstpointer  user_data)
{
  g_autofree char *serial = serial_at (f, 456);
  g_autofree char *prefix = g_strndup (serial, strlen (serial) - 1);
  guint n_prefix = pp_store_count_terminals (f->store, prefix, PP_TERMINAL_STATE_ANY, NULL);

  g_assert_cmpuint (n_prefix, >, 1);
  f->n_signals = 0;  /* page 2's arrival */
  pp_terminal_list_model_set_query (f->model, "Z", PP_TERMINAL_STATE_ANY);
  pp_terminal_list_model_set_query (f->model, prefix, PP_TERMINAL_STATE_ANY);
  pp_terminal_list_model_set_query (f->model, serial, PP_TERMINAL_STATE_ANY);
  wait_until (is_loaded, f->model);
  g_assert_cmpuint (f->n_signals, ==, 1);
  g_assert_cmpuint (f->removed, ==, N_TERMINALS);
  g_assert_cmpuint (f->added, ==, 1);

  /* The cancelled answers do not come late either. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (f->n_signals, ==, 1);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (f->model)), ==, 1);
  g_free (prefix);
  prefix = serial_at (f, 0);
  g_assert_cmpstr (prefix, ==, serial);
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
  wait_until (is_loaded, f->model);
  g_assert_cmpuint (f->n_signals, ==, 1);
  g_assert_cmpuint (f->removed, ==, N_TERMINALS);
  g_assert_cmpuint (f->added, ==, N_TERMINALS + 2);
  last = serial_at (f, N_TERMINALS + 1);
  g_assert_cmpstr (last, ==, "ZZZ-0002");
}

/* A registry gone away: the list empties, the model says why and that
 * the registry cannot be reached. */
static void
test_unreachable (Fixture       *f,
                  gconstpointer  user_data)
{
  g_assert_false (pp_terminal_list_model_get_unreachable (f->model));
  pp_registry_local_close (f->registry);
  pp_terminal_list_model_reload (f->model);
  wait_until (is_loaded, f->model);
  g_assert_true (pp_terminal_list_model_get_unreachable (f->model));
  g_assert_nonnull (pp_terminal_list_model_get_error (f->model));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (f->model)), ==, 0);
  g_assert_cmpuint (f->removed, ==, N_TERMINALS);
}

static void
on_fetch_done (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  gboolean *done = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rows = pp_registry_search_terminals_finish (PP_REGISTRY (source), result, NULL,
                                                                   &error);

  g_assert_no_error (error);
  g_assert_cmpuint (rows->len, ==, 1);
  *done = TRUE;
}

static gboolean
is_true (gpointer data)
{
  return *(gboolean *) data;
}

typedef struct
{
  Fixture *f;
  guint    first;
  guint    n;
} Window;

static gboolean
window_arrived (gpointer data)
{
  Window *w = data;

  for (guint i = w->first; i < w->first + w->n; i++)
    {
      g_autoptr(GObject) item = g_list_model_get_item (G_LIST_MODEL (w->f->model), i);

      if (pp_terminal_list_model_is_placeholder (item))
        return FALSE;
    }
  return TRUE;
}

static void
on_items_changed_sum (GListModel *model,
                      guint       position,
                      guint       removed,
                      guint       added,
                      guint      *rows)
{
  g_assert_cmpuint (removed, ==, added);
  *rows += added;
}

/* Scrolling the whole list once as a view does (a window of rows moving
 * down, each window asked for and waited on) reads each page once, and
 * announces each row at most once: what bench-station's scroll needs to
 * stay smooth over 100 000 terminals. */
static void
test_scroll_once (Fixture       *f,
                  gconstpointer  user_data)
{
  Window w = { f, 0, 40 };
  guint announced = 0;

  g_signal_connect (f->model, "items-changed", G_CALLBACK (on_items_changed_sum), &announced);
  for (w.first = 0; w.first + w.n <= N_TERMINALS; w.first += 30)
    wait_until (window_arrived, &w);
  g_assert_cmpuint (pp_terminal_list_model_get_n_fetches (f->model), ==, (N_TERMINALS + PAGE - 1) / PAGE);
  /* Page 0 came with the count; of each other page only the rows of the
   * window that met it first, never the whole page. */
  g_assert_cmpuint (announced, >, 0);
  g_assert_cmpuint (announced, <=, ((N_TERMINALS + PAGE - 1) / PAGE - 1) * w.n);
  g_assert_cmpuint (f->n_signals, ==, (N_TERMINALS + PAGE - 1) / PAGE - 1);
}

/* A model dropped while its pages are on their way goes at once (its
 * window closed); the answers that come later touch nothing. */
static void
test_dropped_while_fetching (Fixture       *f,
                             gconstpointer  user_data)
{
  g_autoptr(GObject) placeholder = g_list_model_get_item (G_LIST_MODEL (f->model), 4 * PAGE);
  gpointer alive = f->model;
  gboolean done = FALSE;

  g_assert_true (pp_terminal_list_model_is_placeholder (placeholder));
  pp_terminal_list_model_set_query (f->model, "A", PP_TERMINAL_STATE_ANY);
  g_object_add_weak_pointer (G_OBJECT (f->model), &alive);
  g_clear_object (&f->model);
  g_assert_null (alive);

  /* The registry runs its jobs in order: once a later one is back, theirs
   * have been answered too. */
  pp_registry_search_terminals_async (PP_REGISTRY (f->registry), NULL, PP_TERMINAL_STATE_ANY, 0, 1,
                                      NULL, on_fetch_done, &done);
  wait_until (is_true, &done);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) \
  g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/ui/terminal-list-model/rows-match-store", test_rows_match_store);
  ADD ("/ui/terminal-list-model/placeholders", test_placeholders);
  ADD ("/ui/terminal-list-model/pages-cached", test_pages_cached);
  ADD ("/ui/terminal-list-model/query-changes", test_query_changes);
  ADD ("/ui/terminal-list-model/stale-query-cancelled", test_stale_query_cancelled);
  ADD ("/ui/terminal-list-model/reload", test_reload);
  ADD ("/ui/terminal-list-model/unreachable", test_unreachable);
  ADD ("/ui/terminal-list-model/dropped-while-fetching", test_dropped_while_fetching);
  ADD ("/ui/terminal-list-model/scroll-once", test_scroll_once);
#undef ADD

  return g_test_run ();
}
