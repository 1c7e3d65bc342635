/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-ui-app.c: the station application as a user starts it.
 *
 * Runs PpApplication in-process on a private D-Bus session (GTestDBus) under
 * Xvfb: first start seeds and shows the demo inventory in the XDG data dir,
 * --db selects another store, a store from a newer posprov or an unusable
 * path is explained on screen instead of crashing, About shows the version.
 */
#include "config.h"

#include <adwaita.h>
#include <sqlite3.h>

#include "pp-about.h"
#include "pp-application.h"
#include "pp-test-util.h"
#include "pp-window.h"

typedef void (*Check) (PpApplication *app,
                       gpointer       data);

typedef struct
{
  Check    check;
  gpointer data;
  gboolean ran;
} Run;

typedef gboolean (*Condition) (gpointer data);

static void
wait_until (Condition condition,
            gpointer  data)
{
  gint64 give_up = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  while (!condition (data))
    {
      if (g_get_monotonic_time () > give_up)
        g_error ("condition not met after 30 s");
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
    }
}

static gboolean
is_mapped (gpointer data)
{
  return gtk_widget_get_mapped (GTK_WIDGET (data));
}

static gboolean
has_window (gpointer data)
{
  return gtk_application_get_active_window (GTK_APPLICATION (data)) != NULL;
}

static gboolean
run_check (gpointer user_data)
{
  gpointer *pair = user_data;
  PpApplication *app = pair[0];
  Run *run = pair[1];

  wait_until (has_window, app);
  wait_until (is_mapped, gtk_application_get_active_window (GTK_APPLICATION (app)));
  run->check (app, run->data);
  run->ran = TRUE;
  g_action_group_activate_action (G_ACTION_GROUP (app), "quit", NULL);
  return G_SOURCE_REMOVE;
}

static void
on_activate (PpApplication *app,
             gpointer       user_data)
{
  static gpointer pair[2];

  pair[0] = app;
  pair[1] = user_data;
  g_idle_add (run_check, pair);
}

/* Starts the station with @args (after argv[0]) and runs @check once its window shows. */
static void
run_station (const char * const *args,
             Check               check,
             gpointer            data)
{
  g_autoptr(PpApplication) app = pp_application_new ();
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  Run run = { check, data, FALSE };
  int status;

  /* A second test's instance must not hand its command line to the first. */
  g_application_set_flags (G_APPLICATION (app),
                           g_application_get_flags (G_APPLICATION (app)) | G_APPLICATION_NON_UNIQUE);
  g_signal_connect_after (app, "activate", G_CALLBACK (on_activate), &run);

  g_ptr_array_add (argv, (char *) "posprov");
  for (guint i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);

  status = g_application_run (G_APPLICATION (app), (int) argv->len - 1, (char **) argv->pdata);
  g_assert_cmpint (status, ==, 0);
  g_assert_true (run.ran);
}

static PpWindow *
station_window (PpApplication *app)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (app));

  g_assert_true (PP_IS_WINDOW (window));
  return PP_WINDOW (window);
}

static GtkWidget *
find_label (GtkWidget  *widget,
            const char *text)
{
  if (!gtk_widget_get_mapped (widget))
    return NULL;
  if (GTK_IS_LABEL (widget) && g_strcmp0 (gtk_label_get_text (GTK_LABEL (widget)), text) == 0)
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_label (child, text);

      if (found != NULL)
        return found;
    }
  return NULL;
}

typedef struct
{
  GtkWidget  *root;
  const char *text;
} LabelWait;

static gboolean
label_shown (gpointer data)
{
  LabelWait *wait = data;

  return find_label (wait->root, wait->text) != NULL;
}

static void
assert_label_shown (GtkWidget  *root,
                    const char *text)
{
  LabelWait wait = { root, text };

  wait_until (label_shown, &wait);
}

static AdwMessageDialog *
find_message_dialog (void)
{
  GListModel *toplevels = gtk_window_get_toplevels ();  /* transfer none */

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GObject) toplevel = g_list_model_get_item (toplevels, i);

      if (ADW_IS_MESSAGE_DIALOG (toplevel))
        return ADW_MESSAGE_DIALOG (toplevel);
    }
  return NULL;
}

static void
check_first_start (PpApplication *app,
                   gpointer       data)
{
  PpWindow *window = station_window (app);
  PpStore *store = pp_window_get_store (window);
  g_autofree char *expected_path = NULL;
  guint n;

  g_assert_nonnull (store);
  expected_path = g_build_filename (g_get_user_data_dir (), "posprov", "posprov.db", NULL);
  g_assert_cmpstr (pp_store_get_path (store), ==, expected_path);

  /* The seed runs on a worker; the banner says when it is in. */
  assert_label_shown (GTK_WIDGET (window), "Demo data: this store was seeded with a demo inventory");
  g_assert_true (pp_store_is_demo (store));
  n = pp_store_count_terminals (store, NULL, PP_TERMINAL_STATE_ANY, NULL);
  g_assert_cmpuint (n, >, 0);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (pp_inventory_page_get_model (pp_window_get_inventory_page (window)))), ==, n);
  {
    g_autofree char *count = pp_inventory_page_format_count (n);

    assert_label_shown (GTK_WIDGET (window), count);
  }
}

/* First start: a demo store in $XDG_DATA_HOME/posprov; the second start keeps it. */
static void
test_first_start (void)
{
  g_autofree char *path = g_build_filename (g_get_user_data_dir (), "posprov", "posprov.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = NULL;
  const PpTerminalIntake extra = { "MINE-0001", "PAX", "A920" };
  guint n;

  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  run_station (NULL, check_first_start, NULL);
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));

  /* A terminal registered in between survives the next start, no reseed. */
  store = pp_store_open (path, &error);
  g_assert_no_error (error);
  g_assert_true (pp_store_add_terminals (store, &extra, 1, "test", &error));
  g_assert_no_error (error);
  n = pp_store_count_terminals (store, NULL, PP_TERMINAL_STATE_ANY, NULL);
  g_clear_object (&store);

  run_station (NULL, check_first_start, NULL);
  store = pp_store_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pp_store_count_terminals (store, NULL, PP_TERMINAL_STATE_ANY, NULL), ==, n);
}

static void
check_db_option (PpApplication *app,
                 gpointer       data)
{
  PpWindow *window = station_window (app);
  PpStore *store = pp_window_get_store (window);
  PpInventoryPage *page = pp_window_get_inventory_page (window);

  g_assert_nonnull (store);
  g_assert_cmpstr (pp_store_get_path (store), ==, data);
  /* An existing store is never seeded: its one terminal is all there is. */
  g_assert_false (pp_store_is_demo (store));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (pp_inventory_page_get_model (page))), ==, 1);
  assert_label_shown (GTK_WIDGET (window), "OWN-0001");
  assert_label_shown (GTK_WIDGET (window), "1 terminal");
}

/* --db opens that file instead of the default. */
static void
test_db_option (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "own.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = NULL;
  const PpTerminalIntake row = { "OWN-0001", "Newland", "N910" };
  const char *args[] = { "--db", path, NULL };

  store = pp_store_open (path, &error);
  g_assert_no_error (error);
  g_assert_true (pp_store_add_terminals (store, &row, 1, "test", &error));
  g_assert_no_error (error);
  g_clear_object (&store);

  run_station (args, check_db_option, path);
}

static void
check_store_error (PpApplication *app,
                   gpointer       data)
{
  PpWindow *window = station_window (app);
  const char *expected = data;
  AdwMessageDialog *dialog;

  g_assert_null (pp_window_get_store (window));
  assert_label_shown (GTK_WIDGET (window), expected);
  dialog = find_message_dialog ();
  g_assert_nonnull (dialog);
  g_assert_cmpstr (adw_message_dialog_get_heading (dialog), ==, "Cannot Open the Terminal Store");
  g_assert_cmpstr (adw_message_dialog_get_body (dialog), ==, expected);
  gtk_window_destroy (GTK_WINDOW (dialog));
}

/* A store from a newer posprov: the reason on screen, the file untouched. */
static void
test_newer_schema (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "newer.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = NULL;
  const char *args[] = { "--db", path, NULL };
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;

  store = pp_store_open (path, &error);
  g_assert_no_error (error);
  g_clear_object (&store);
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "PRAGMA user_version = 9999", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  store = pp_store_open (path, &error);
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_NEWER_SCHEMA);
  run_station (args, check_store_error, error->message);

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_cmpint (sqlite3_column_int (stmt, 0), ==, 9999);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
}

/* A path that cannot be a database (a directory): explained, not a crash. */
static void
test_unusable_path (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = NULL;
  const char *args[] = { "--db", dir, NULL };

  store = pp_store_open (dir, &error);
  g_assert_null (store);
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_OPEN);
  run_station (args, check_store_error, error->message);
}

static void
check_about (PpApplication *app,
             gpointer       data)
{
  GListModel *toplevels;
  AdwAboutWindow *about = NULL;

  g_action_group_activate_action (G_ACTION_GROUP (app), "about", NULL);
  toplevels = gtk_window_get_toplevels ();
  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GObject) toplevel = g_list_model_get_item (toplevels, i);

      if (ADW_IS_ABOUT_WINDOW (toplevel))
        about = ADW_ABOUT_WINDOW (toplevel);
    }
  g_assert_nonnull (about);
  wait_until (is_mapped, about);
  g_assert_cmpstr (adw_about_window_get_version (about), ==, PACKAGE_VERSION);
  g_assert_cmpint (adw_about_window_get_license_type (about), ==, GTK_LICENSE_GPL_3_0);
  g_assert_cmpstr (adw_about_window_get_application_icon (about), ==, APP_ID);
  assert_label_shown (GTK_WIDGET (about), PACKAGE_VERSION);
  gtk_window_destroy (GTK_WINDOW (about));
}

/* app.about shows the version and the licence. */
static void
test_about (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "about.db", NULL);
  const char *args[] = { "--db", path, NULL };

  run_station (args, check_about, NULL);
}

/* Kept to the end: see main(). */
static GTestDBus *bus;

int
main (int    argc,
      char **argv)
{
  g_autofree char *data_home = NULL;
  g_autofree char *dbus_daemon = NULL;
  int status;

  g_setenv ("GSK_RENDERER", "cairo", FALSE);
  g_setenv ("GDK_BACKEND", "x11", FALSE);
  g_setenv ("GDK_DEBUG", "gl-disable", FALSE);
  g_setenv ("LC_ALL", "C.UTF-8", TRUE);

  gtk_test_init (&argc, &argv, NULL);

  /* The default store lives in the XDG data dir: make it a fresh one, before
   * GLib reads and caches the variable. */
  data_home = pp_test_make_tmpdir ();
  g_setenv ("XDG_DATA_HOME", data_home, TRUE);
  g_assert_cmpstr (g_get_user_data_dir (), ==, data_home);

  dbus_daemon = g_find_program_in_path ("dbus-daemon");
  if (dbus_daemon == NULL)
    {
      g_test_skip ("dbus-daemon is not installed; the application needs a session bus");
      return g_test_run ();
    }
  bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (bus);

  g_test_add_func ("/ui/app/first-start", test_first_start);
  g_test_add_func ("/ui/app/db-option", test_db_option);
  g_test_add_func ("/ui/app/newer-schema", test_newer_schema);
  g_test_add_func ("/ui/app/unusable-path", test_unusable_path);
  g_test_add_func ("/ui/app/about", test_about);

  status = g_test_run ();
  /* GTK keeps the session bus connection until exit, so down() (also run
   * when the object is freed) would wait for it in vain.  Close the
   * connection ourselves first, with exit-on-close off: otherwise stopping
   * the daemon makes GDBus's worker thread raise SIGTERM while the main
   * thread is already in exit(), which hung once under ASan on a loaded
   * machine.  Then stop the private daemon and let the object live until
   * exit. */
  {
    g_autoptr(GDBusConnection) session = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);

    if (session != NULL)
      {
        g_dbus_connection_set_exit_on_close (session, FALSE);
        g_dbus_connection_close_sync (session, NULL, NULL);
      }
  }
  g_test_dbus_stop (bus);
  return status;
}
