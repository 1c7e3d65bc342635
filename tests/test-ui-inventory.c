/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-ui-inventory.c: the first screen on a register of 100 000 terminals.
 *
 * Builds the real window on a real SQLite store, types and scans serials,
 * filters by state, and checks what a user would see: the rows on screen, the
 * count, the empty state. Saves screenshot-inventory.png in the build dir.
 * Runs under Xvfb (xvfb-run -a meson test --suite ui).
 */
#include "config.h"

#include <locale.h>

#include <adwaita.h>
#include <sqlite3.h>

#include "pp-test-util.h"
#include "pp-ui-test-util.h"
#include "pp-window.h"

#define N_TERMINALS 100000

typedef struct
{
  char      *db_path;
  PpStore   *store;
  PpWindow  *window;
} Fixture;

/* One store for every test case: building 100 000 rows once keeps the suite fast. */
static char *shared_db_path;

/* pp-ui-test-util.c */
#define wait_until pp_test_wait_until
#define settle pp_test_settle
#define is_mapped pp_test_is_mapped
#define find_visible_label pp_test_find_visible_label
#define save_screenshot pp_test_save_screenshot

static PpInventoryPage *
page_of (Fixture *f)
{
  return pp_window_get_inventory_page (f->window);
}

static GListModel *
view_model (Fixture *f)
{
  return G_LIST_MODEL (gtk_column_view_get_model (pp_inventory_page_get_column_view (page_of (f))));
}

static void
assert_label_visible (Fixture    *f,
                      const char *text)
{
  pp_test_wait_for_label (GTK_WIDGET (f->window), text, NULL);
}

/* A state pill in a row, not the drop-down that happens to say the same. */
static void
assert_pill_visible (Fixture         *f,
                     PpTerminalState  state)
{
  pp_test_wait_for_label (GTK_WIDGET (f->window), pp_terminal_state_get_label (state), "state-pill");
}

typedef struct
{
  Fixture *f;
  guint    n;
} CountWait;

static gboolean
model_has_n (gpointer data)
{
  CountWait *wait = data;

  return g_list_model_get_n_items (view_model (wait->f)) == wait->n;
}

static void
wait_for_n_items (Fixture *f,
                  guint    n)
{
  CountWait wait = { f, n };

  wait_until (model_has_n, &wait);
}

/* What the count label must read, written out independently of the page's
 * formatter: under LC_ALL=C.UTF-8 groups are split by U+202F. */
static char *
expected_count (guint n)
{
  if (n == 1)
    return g_strdup ("1 terminal");
  if (n < 1000)
    return g_strdup_printf ("%u terminals", n);
  if (n < 1000000)
    return g_strdup_printf ("%u\u202f%03u terminals", n / 1000, n % 1000);
  g_assert_not_reached ();
}

/* The window opens its registry on a worker, then the first page and the
 * count arrive, and the column view shows them from the page's first
 * frame on. */
static gboolean
window_has_rows (gpointer data)
{
  PpInventoryPage *page = pp_window_get_inventory_page (data);
  PpTerminalListModel *model = pp_inventory_page_get_model (page);
  GListModel *shown = G_LIST_MODEL (gtk_column_view_get_model (pp_inventory_page_get_column_view (page)));

  return model != NULL && !pp_terminal_list_model_get_loading (model) &&
         g_list_model_get_n_items (shown) == g_list_model_get_n_items (G_LIST_MODEL (model));
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;

  f->store = pp_store_open (shared_db_path, &error);
  g_assert_no_error (error);
  f->window = pp_window_new (NULL, f->store);
  gtk_window_set_default_size (GTK_WINDOW (f->window), 1200, 760);
  gtk_window_present (GTK_WINDOW (f->window));
  wait_until (is_mapped, f->window);
  /* Nothing before the sign-in: a demo account. */
  pp_window_sign_in (f->window, "alice", PP_STORE_DEMO_PASSWORD);
  wait_until (window_has_rows, f->window);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  user_data)
{
  gtk_window_destroy (GTK_WINDOW (f->window));
  g_clear_object (&f->store);
}

/* The whole register is there, yet only a page or two was read. */
static void
test_opens_lazily (Fixture       *f,
                   gconstpointer  user_data)
{
  PpInventoryPage *page = page_of (f);
  g_autoptr(GPtrArray) first = NULL;
  g_autoptr(GPtrArray) last = NULL;
  g_autofree char *count = expected_count (N_TERMINALS);
  GtkScrolledWindow *scrolled;
  GtkAdjustment *adjustment;

  g_assert_cmpuint (g_list_model_get_n_items (view_model (f)), ==, N_TERMINALS);
  g_assert_cmpstr (gtk_label_get_text (pp_inventory_page_get_count_label (page)), ==, count);

  first = pp_store_list_terminals (f->store, NULL, PP_TERMINAL_STATE_ANY, 0, 1, NULL);
  g_assert_nonnull (first);
  assert_label_visible (f, pp_terminal_get_serial (g_ptr_array_index (first, 0)));
  g_assert_cmpuint (pp_terminal_list_model_get_n_fetches (pp_inventory_page_get_model (page)), <=, 2);

  /* Jump to the end: the last terminal shows, still without reading it all. */
  last = pp_store_list_terminals (f->store, NULL, PP_TERMINAL_STATE_ANY, N_TERMINALS - 1, 1, NULL);
  g_assert_nonnull (last);
  scrolled = GTK_SCROLLED_WINDOW (gtk_widget_get_parent (GTK_WIDGET (pp_inventory_page_get_column_view (page))));
  adjustment = gtk_scrolled_window_get_vadjustment (scrolled);
  for (guint i = 0; i < 10; i++)
    {
      gtk_adjustment_set_value (adjustment, gtk_adjustment_get_upper (adjustment));
      settle ();
    }
  assert_label_visible (f, pp_terminal_get_serial (g_ptr_array_index (last, 0)));
  g_assert_null (find_visible_label (GTK_WIDGET (f->window), GTK_WIDGET (f->window),
                                     pp_terminal_get_serial (g_ptr_array_index (first, 0)), NULL));
  g_assert_cmpuint (pp_terminal_list_model_get_n_fetches (pp_inventory_page_get_model (page)), <=, 10);
}

/* Type a serial: exactly that row is listed and shown. */
static void
test_search_serial (Fixture       *f,
                    gconstpointer  user_data)
{
  PpInventoryPage *page = page_of (f);
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(PpTerminal) shown = NULL;
  const char *serial;
  guint n_prefix;
  g_autofree char *prefix = NULL;
  g_autofree char *prefix_count = NULL;

  /* A terminal from the middle of the register, found through the store. */
  rows = pp_store_list_terminals (f->store, NULL, PP_TERMINAL_STATE_ANY, 54321, 1, NULL);
  g_assert_nonnull (rows);
  serial = pp_terminal_get_serial (g_ptr_array_index (rows, 0));

  gtk_editable_set_text (pp_inventory_page_get_search_entry (page), serial);
  wait_for_n_items (f, 1);
  shown = g_list_model_get_item (view_model (f), 0);
  g_assert_cmpstr (pp_terminal_get_serial (shown), ==, serial);
  assert_label_visible (f, serial);
  g_assert_cmpstr (gtk_label_get_text (pp_inventory_page_get_count_label (page)), ==, "1 terminal");
  settle ();
  save_screenshot (GTK_WIDGET (f->window), "screenshot-search.png");

  /* Lower case finds it too. */
  {
    g_autofree char *lower = g_ascii_strdown (serial, -1);

    gtk_editable_set_text (pp_inventory_page_get_search_entry (page), "");
    wait_for_n_items (f, N_TERMINALS);
    gtk_editable_set_text (pp_inventory_page_get_search_entry (page), lower);
    wait_for_n_items (f, 1);
    assert_label_visible (f, serial);
  }

  /* A prefix lists as many rows as the store counts. */
  prefix = g_strndup (serial, strlen (serial) - 2);
  n_prefix = pp_store_count_terminals (f->store, prefix, PP_TERMINAL_STATE_ANY, NULL);
  g_assert_cmpuint (n_prefix, >, 1);
  gtk_editable_set_text (pp_inventory_page_get_search_entry (page), prefix);
  wait_for_n_items (f, n_prefix);
  prefix_count = expected_count (n_prefix);
  g_assert_cmpstr (gtk_label_get_text (pp_inventory_page_get_count_label (page)), ==, prefix_count);
  assert_label_visible (f, serial);
}

/* A scanner types "SN:<serial>" and Enter; the entry shows the bare serial. */
static void
test_scan_payload (Fixture       *f,
                   gconstpointer  user_data)
{
  PpInventoryPage *page = page_of (f);
  GtkEditable *entry = pp_inventory_page_get_search_entry (page);
  g_autoptr(GPtrArray) rows = NULL;
  g_autofree char *payload = NULL;
  g_autofree char *qr = NULL;
  const char *serial;

  rows = pp_store_list_terminals (f->store, NULL, PP_TERMINAL_STATE_ANY, 777, 1, NULL);
  g_assert_nonnull (rows);
  serial = pp_terminal_get_serial (g_ptr_array_index (rows, 0));

  payload = g_strdup_printf ("SN:%s", serial);
  gtk_editable_set_text (entry, payload);
  g_signal_emit_by_name (entry, "activate");
  wait_for_n_items (f, 1);
  g_assert_cmpstr (gtk_editable_get_text (entry), ==, serial);
  assert_label_visible (f, serial);

  gtk_editable_set_text (entry, "");
  wait_for_n_items (f, N_TERMINALS);

  qr = g_strdup_printf ("posprov:terminal?serial=%s&model=A920", serial);
  gtk_editable_set_text (entry, qr);
  g_signal_emit_by_name (entry, "activate");
  wait_for_n_items (f, 1);
  g_assert_cmpstr (gtk_editable_get_text (entry), ==, serial);
  assert_label_visible (f, serial);
}

static gboolean
search_has_focus (gpointer data)
{
  Fixture *f = data;
  GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (f->window));
  GtkWidget *entry = GTK_WIDGET (pp_inventory_page_get_search_entry (page_of (f)));

  return focus != NULL && (focus == entry || gtk_widget_is_ancestor (focus, entry));
}

/* win.search (Ctrl+F) brings the cursor back to the search from anywhere. */
static void
test_search_action (Fixture       *f,
                    gconstpointer  user_data)
{
  GtkWidget *view = GTK_WIDGET (pp_inventory_page_get_column_view (page_of (f)));

  wait_until (search_has_focus, f);  /* where a scanner types on start */
  gtk_widget_grab_focus (view);
  g_assert_false (search_has_focus (f));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->window), "win.search", NULL));
  wait_until (search_has_focus, f);
}

/* No match: the empty state says what was searched. */
static void
test_no_match (Fixture       *f,
               gconstpointer  user_data)
{
  PpInventoryPage *page = page_of (f);

  gtk_editable_set_text (pp_inventory_page_get_search_entry (page), "NOSUCH-42");
  wait_for_n_items (f, 0);
  assert_label_visible (f, "No terminal matches “NOSUCH-42”");
  g_assert_cmpstr (gtk_label_get_text (pp_inventory_page_get_count_label (page)), ==, "0 terminals");
}

/* Filter by state: the count is the store's, and rows show that state. */
static void
test_state_filter (Fixture       *f,
                   gconstpointer  user_data)
{
  PpInventoryPage *page = page_of (f);
  PpTerminalState state = PP_TERMINAL_STATE_QUARANTINED;
  guint n;
  g_autofree char *count = NULL;
  g_autoptr(PpTerminal) first = NULL;

  assert_pill_visible (f, PP_TERMINAL_STATE_IN_STOCK);
  n = pp_store_count_terminals (f->store, NULL, state, NULL);
  g_assert_cmpuint (n, >, 0);
  g_assert_cmpuint (n, <, N_TERMINALS);

  pp_inventory_page_set_state_filter (page, state);
  wait_for_n_items (f, n);
  count = expected_count (n);
  g_assert_cmpstr (gtk_label_get_text (pp_inventory_page_get_count_label (page)), ==, count);

  first = g_list_model_get_item (view_model (f), 0);
  g_assert_cmpint (pp_terminal_get_state (first), ==, state);
  assert_label_visible (f, pp_terminal_get_serial (first));
  assert_pill_visible (f, state);
  /* No in-stock terminal is on screen any more. */
  g_assert_null (find_visible_label (GTK_WIDGET (f->window), GTK_WIDGET (f->window),
                                     pp_terminal_state_get_label (PP_TERMINAL_STATE_IN_STOCK),
                                     "state-pill"));

  /* Search and filter combine. */
  {
    g_autofree char *serial = g_strdup (pp_terminal_get_serial (first));

    gtk_editable_set_text (pp_inventory_page_get_search_entry (page), serial);
    wait_for_n_items (f, 1);
    pp_inventory_page_set_state_filter (page, PP_TERMINAL_STATE_IN_STOCK);
    wait_for_n_items (f, 0);
    /* The serial exists, in another state: the empty state says the filter is on. */
    {
      g_autofree char *title = g_strdup_printf ("No terminal matches “%s” in state “%s”", serial,
                                                pp_terminal_state_get_label (PP_TERMINAL_STATE_IN_STOCK));

      assert_label_visible (f, title);
      assert_label_visible (f, "Choose “All states” or check the serial number.");
    }
    gtk_editable_set_text (pp_inventory_page_get_search_entry (page), "");
    wait_for_n_items (f, pp_store_count_terminals (f->store, NULL, PP_TERMINAL_STATE_IN_STOCK, NULL));
    pp_inventory_page_set_state_filter (page, PP_TERMINAL_STATE_ANY);
    wait_for_n_items (f, N_TERMINALS);
  }
}

/* The window took the smaller size (whatever its client-side decorations
 * add): the window system's answer is in. */
static gboolean
has_new_size (gpointer data)
{
  return gtk_widget_get_width (data) < 1100 && gtk_widget_get_height (data) < 700;
}

/* The state filter and the window size come back on the next start. */
static void
test_remembers_settings (Fixture       *f,
                         gconstpointer  user_data)
{
  g_autoptr(GSettings) settings = g_settings_new ("org.posprov.Station");
  g_autofree char *saved = NULL;
  g_autoptr(PpWindow) first = NULL;
  PpWindow *second;
  guint n_keyed = pp_store_count_terminals (f->store, NULL, PP_TERMINAL_STATE_KEYED, NULL);

  pp_inventory_page_set_state_filter (page_of (f), PP_TERMINAL_STATE_KEYED);
  wait_for_n_items (f, n_keyed);
  saved = g_settings_get_string (settings, "state-filter");
  g_assert_cmpstr (saved, ==, "keyed");

  /* A window opened at 1010 x 610 and closed: sized before it maps, so no
   * earlier size of it can still be on its way from the window system
   * (late on a busy machine, such an answer would have the last word). */
  gtk_window_close (GTK_WINDOW (g_steal_pointer (&f->window)));
  first = g_object_ref (pp_window_new (NULL, f->store));
  gtk_window_set_default_size (GTK_WINDOW (first), 1010, 610);
  gtk_window_present (GTK_WINDOW (first));
  wait_until (is_mapped, first);
  pp_window_sign_in (first, "alice", PP_STORE_DEMO_PASSWORD);
  wait_until (window_has_rows, first);
  wait_until (has_new_size, first);
  gtk_window_close (GTK_WINDOW (first));
  g_assert_cmpint (g_settings_get_int (settings, "window-width"), ==, 1010);
  g_assert_cmpint (g_settings_get_int (settings, "window-height"), ==, 610);
  g_assert_false (g_settings_get_boolean (settings, "window-maximized"));

  second = pp_window_new (NULL, f->store);
  f->window = second;  /* tear-down destroys this one */
  gtk_window_present (GTK_WINDOW (second));
  wait_until (is_mapped, second);
  pp_window_sign_in (second, "alice", PP_STORE_DEMO_PASSWORD);
  wait_until (window_has_rows, second);
  g_assert_cmpint (pp_inventory_page_get_state_filter (pp_window_get_inventory_page (second)), ==,
                   PP_TERMINAL_STATE_KEYED);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (pp_inventory_page_get_model (pp_window_get_inventory_page (second)))), ==,
                    n_keyed);
  {
    int width, height;

    gtk_window_get_default_size (GTK_WINDOW (second), &width, &height);
    g_assert_cmpint (width, ==, 1010);
    g_assert_cmpint (height, ==, 610);
  }

  /* Back to all states for the other cases. */
  pp_inventory_page_set_state_filter (pp_window_get_inventory_page (second), PP_TERMINAL_STATE_ANY);
  saved = (g_free (saved), g_settings_get_string (settings, "state-filter"));
  g_assert_cmpstr (saved, ==, "");
  g_settings_reset (settings, "window-width");
  g_settings_reset (settings, "window-height");
}

/* The README's picture: the demo banner and a full page of terminals. */
static void
test_screenshot (Fixture       *f,
                 gconstpointer  user_data)
{
  g_autoptr(GPtrArray) first = NULL;

  first = pp_store_list_terminals (f->store, NULL, PP_TERMINAL_STATE_ANY, 0, 1, NULL);
  g_assert_nonnull (first);
  assert_label_visible (f, pp_terminal_get_serial (g_ptr_array_index (first, 0)));
  assert_label_visible (f, "Demo data: this store was seeded with a demo inventory");
  settle ();
  save_screenshot (GTK_WIDGET (f->window), "screenshot-inventory.png");
}

static void
on_seed_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GAsyncResult **slot = user_data;

  *slot = g_object_ref (result);
}

static gboolean
has_result (gpointer data)
{
  return *(GAsyncResult **) data != NULL;
}

/* Closing the window cancels the work started for it (the demo seed), and
 * nothing that work holds keeps the closed window alive. */
static void
test_window_cancels_on_close (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "seeding.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = NULL;
  g_autoptr(GCancellable) cancellable = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  PpWindow *window;
  gpointer alive;

  store = pp_store_open (path, &error);
  g_assert_no_error (error);
  window = pp_window_new (NULL, store);
  gtk_window_present (GTK_WINDOW (window));
  wait_until (is_mapped, window);
  cancellable = g_object_ref (pp_window_get_cancellable (window));
  g_assert_false (g_cancellable_is_cancelled (cancellable));

  pp_store_seed_demo_async (store, 50, cancellable, on_seed_done, &result);
  alive = window;
  g_object_add_weak_pointer (G_OBJECT (window), &alive);
  gtk_window_destroy (GTK_WINDOW (window));
  g_assert_null (alive);
  g_assert_true (g_cancellable_is_cancelled (cancellable));

  wait_until (has_result, &result);
  g_assert_false (pp_store_seed_demo_finish (store, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* A store written by a newer posprov: the window says why, nothing crashes. */
static void
test_newer_schema (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "newer.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = NULL;
  sqlite3 *db = NULL;
  PpWindow *window;
  GtkWidget *dialog = NULL;
  GListModel *toplevels;

  store = pp_store_open (path, &error);
  g_assert_no_error (error);
  g_clear_object (&store);
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "PRAGMA user_version = 9999", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  store = pp_store_open (path, &error);
  g_assert_null (store);
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_NEWER_SCHEMA);

  window = pp_window_new (NULL, NULL);
  gtk_window_set_default_size (GTK_WINDOW (window), 1000, 600);
  gtk_window_present (GTK_WINDOW (window));
  wait_until (is_mapped, window);
  pp_window_show_store_error (window, error);

  /* The reason is on the page behind the dialog... */
  {
    Fixture f = { NULL, NULL, window };

    assert_label_visible (&f, error->message);
  }

  /* ...and in the dialog in front of it. */
  toplevels = gtk_window_get_toplevels ();
  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWidget) toplevel = g_list_model_get_item (toplevels, i);

      if (ADW_IS_MESSAGE_DIALOG (toplevel))
        dialog = toplevel;
    }
  g_assert_nonnull (dialog);
  wait_until (is_mapped, dialog);
  g_assert_cmpstr (adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (dialog)), ==, error->message);
  pp_test_wait_for_label (dialog, error->message, NULL);

  settle ();
  save_screenshot (GTK_WIDGET (window), "screenshot-store-error.png");
  gtk_window_destroy (GTK_WINDOW (dialog));
  gtk_window_destroy (GTK_WINDOW (window));
}

static void
make_store (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = NULL;

  shared_db_path = g_build_filename (dir, "inventory.db", NULL);
  store = pp_store_open (shared_db_path, &error);
  g_assert_no_error (error);
  /* One batch, one transaction: the demo seed of the real store code. */
  g_assert_true (pp_store_seed_demo (store, N_TERMINALS, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (pp_store_count_terminals (store, NULL, PP_TERMINAL_STATE_ANY, NULL), ==, N_TERMINALS);
}

int
main (int    argc,
      char **argv)
{
  /* Xvfb has no GL worth the name; cairo renders the same pixels everywhere. */
  g_setenv ("GSK_RENDERER", "cairo", FALSE);
  g_setenv ("GDK_BACKEND", "x11", FALSE);
  /* Nor should GDK probe EGL: Mesa keeps allocations until exit, which
   * LeakSanitizer reports in the sanitizer configuration. */
  g_setenv ("GDK_DEBUG", "gl-disable", FALSE);
  g_setenv ("LC_ALL", "C.UTF-8", TRUE);

  gtk_test_init (&argc, &argv, NULL);
  /* gtk_test_init() switches to en_US.UTF-8 where that locale is
   * generated (it is on a machine that also has zh_CN), which groups
   * digits with a comma: the expected counts are C.UTF-8's. */
  setlocale (LC_ALL, "C.UTF-8");
  adw_init ();

  make_store ();

#define ADD(path, fn) \
  g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/ui/inventory/opens-lazily", test_opens_lazily);
  ADD ("/ui/inventory/search-serial", test_search_serial);
  ADD ("/ui/inventory/scan-payload", test_scan_payload);
  ADD ("/ui/inventory/search-action", test_search_action);
  ADD ("/ui/inventory/no-match", test_no_match);
  ADD ("/ui/inventory/state-filter", test_state_filter);
  ADD ("/ui/inventory/remembers-settings", test_remembers_settings);
  ADD ("/ui/inventory/screenshot", test_screenshot);
#undef ADD
  g_test_add_func ("/ui/inventory/newer-schema", test_newer_schema);
  g_test_add_func ("/ui/window/cancels-on-close", test_window_cancels_on_close);

  return g_test_run ();
}
