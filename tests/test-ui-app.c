/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-ui-app.c: the station application as a user starts it.
 *
 * Runs PpApplication in-process on a private D-Bus session (GTestDBus) under
 * Xvfb: a first start on the real store in the XDG data dir shows the
 * administrator setup and creates that one account, nothing else, then
 * seals the journal and shows its seed once, saved through the file chooser
 * and checked with posprov-tool; --demo
 * opens and seeds a demo store at its own path and says so with its
 * accounts; a demo with a PKCS#11 key store is refused; --db selects another
 * store; a store from a newer posprov or an unusable path is explained on
 * screen instead of crashing; About shows the version.
 *
 * PP_TEST_LOCALE (default C.UTF-8) runs it in another language: meson runs
 * the setup and demo screens again in zh_CN.UTF-8. Both save screenshots
 * (screenshot-setup-LANG.png, screenshot-setup-error-LANG.png,
 * screenshot-seed-LANG.png, screenshot-seed-saved-LANG.png,
 * screenshot-demo-LANG.png) in the build dir.
 */
#include "config.h"

#include <string.h>

#include <adwaita.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "pp-about.h"
#include "pp-application.h"
#include "pp-password.h"
#include "pp-settings.h"
#include "pp-test-util.h"
#include "pp-ui-test-util.h"
#include "pp-window.h"

typedef void (*Check) (PpApplication *app,
                       gpointer       data);

typedef struct
{
  Check    check;
  gpointer data;
  gboolean ran;
} Run;

/* pp-ui-test-util.c */
#define wait_until pp_test_wait_until
#define is_mapped pp_test_is_mapped

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

/* "en" or "zh_CN": names the screenshots. */
static const char *screenshot_lang = "en";

#define STRONG_PASSWORD "tidy-otter-lamp-93"

static void
save_screenshot (GtkWidget  *widget,
                 const char *what)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autofree char *name = g_strdup_printf ("screenshot-%s-%s.png", what, screenshot_lang);
  g_autofree char *path = NULL;
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));

  /* Let pending layout and the revealer's animation settle first. */
  for (int i = 0; i < 50; i++)
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_usleep (10000);
    }
  gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), width, height);
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  g_assert_nonnull (node);
  texture = gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, width, height));
  path = g_test_build_filename (G_TEST_BUILT, name, NULL);
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("screenshot: %s", path);
}

/* What the user reads: the message in the test's language. */
static const char *
tr (const char *msgid)
{
  return g_dgettext (GETTEXT_PACKAGE, msgid);
}

static char *
sql_text (const char *path,
          const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  char *result = NULL;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    result = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return result;
}

/* Users, terminals, merchants and the demo flag of a store file, e.g. "root:administrator|0|0|". */
static char *
store_contents (const char *path)
{
  return sql_text (path,
                   "SELECT coalesce ((SELECT group_concat (username || ':' || role, ',') FROM "
                   "(SELECT * FROM users ORDER BY username)), '') || '|' || "
                   "(SELECT count(*) FROM terminals) || '|' || (SELECT count(*) FROM merchants) "
                   "|| '|' || coalesce ((SELECT value FROM settings WHERE key = 'demo'), '')");
}

static GtkWidget *
find_widget (GtkWidget *widget,
             gboolean (*match) (GtkWidget *, gconstpointer),
             gconstpointer data)
{
  if (!gtk_widget_get_mapped (widget))
    return NULL;
  if (match (widget, data))
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_widget (child, match, data);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static gboolean
is_entry_row_titled (GtkWidget     *widget,
                     gconstpointer  title)
{
  return ADW_IS_ENTRY_ROW (widget) &&
         g_strcmp0 (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (widget)), title) == 0;
}

static gboolean
is_button_labelled (GtkWidget     *widget,
                    gconstpointer  label)
{
  return GTK_IS_BUTTON (widget) && g_strcmp0 (gtk_button_get_label (GTK_BUTTON (widget)), label) == 0;
}

/* A label holding every one of the NULL-terminated @words. */
static gboolean
is_label_with (GtkWidget     *widget,
               gconstpointer  words)
{
  const char * const *w = words;

  if (!GTK_IS_LABEL (widget))
    return FALSE;
  for (guint i = 0; w[i] != NULL; i++)
    if (strstr (gtk_label_get_text (GTK_LABEL (widget)), w[i]) == NULL)
      return FALSE;
  return TRUE;
}

static void
type_into (GtkWidget  *root,
           const char *row_title,
           const char *text)
{
  GtkWidget *row = find_widget (root, is_entry_row_titled, tr (row_title));

  g_assert_nonnull (row);
  gtk_editable_set_text (GTK_EDITABLE (row), text);
}

static void
press_create (GtkWidget *root)
{
  GtkWidget *button = find_widget (root, is_button_labelled, tr ("_Create Administrator"));

  g_assert_nonnull (button);
  g_assert_true (gtk_widget_is_sensitive (button));
  g_signal_emit_by_name (button, "clicked");
}

static gboolean
setup_done (gpointer data)
{
  return !pp_window_is_showing_setup (PP_WINDOW (data));
}

static gboolean
is_check_button (GtkWidget     *widget,
                 gconstpointer  unused)
{
  return GTK_IS_CHECK_BUTTON (widget);
}

static GtkWidget *
find_seed_label (GtkWidget *root)
{
  static const char *words[] = { "posprov-journal-seed 1\n", "epoch-0-key: ", NULL };

  return find_widget (root, is_label_with, words);
}

static gboolean
seed_shown (gpointer data)
{
  return find_seed_label (data) != NULL;
}

static GtkFileChooser *
find_file_chooser (void)
{
  GListModel *toplevels = gtk_window_get_toplevels ();  /* transfer none */

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GObject) toplevel = g_list_model_get_item (toplevels, i);

      if (GTK_IS_FILE_CHOOSER_DIALOG (toplevel) && gtk_widget_get_mapped (GTK_WIDGET (toplevel)))
        return GTK_FILE_CHOOSER (toplevel);
    }
  return NULL;
}

/* Lets the main loop run for half a second. */
static void
settle (void)
{
  for (int i = 0; i < 50; i++)
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_usleep (10000);
    }
}

static gboolean
has_file_chooser (gpointer data)
{
  return find_file_chooser () != NULL;
}

static GtkWidget *
button_labelled (GtkWidget  *root,
                 const char *label)
{
  GtkWidget *button = find_widget (root, is_button_labelled, tr (label));

  g_assert_nonnull (button);
  return button;
}

/* The seed page after the administrator exists: the journal is sealed, its
 * seed shown once, saved with the file chooser to a 0600 file that verifies
 * the journal with the real posprov-tool; Continue only after the user says
 * the seed is saved. */
static void
check_seed_page (PpWindow   *window,
                 const char *path)
{
  GtkWidget *root = GTK_WIDGET (window);
  GtkWidget *label, *save, *check, *go;
  GtkFileChooser *chooser;
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *passphrase = g_build_filename (dir, "keys.passphrase", NULL);
  g_autofree char *journal_id = NULL;
  g_autofree char *unsealed = NULL;
  g_autofree char *seed = NULL;
  g_autofree char *saved = NULL;
  g_autofree char *seed_dir = pp_test_make_tmpdir ();
  g_autofree char *seed_path = g_build_filename (seed_dir, "seed.txt", NULL);
  g_autofree char *expected_note = NULL;
  g_autofree char *out = NULL;
  g_autoptr(GFile) folder = g_file_new_for_path (seed_dir);
  const char *verify[] = { "audit", "verify", "--db", path, "--seed", seed_path, NULL };
  GStatBuf st;

  wait_until (seed_shown, root);
  g_assert_true (pp_window_is_showing_setup (window));
  label = find_seed_label (root);
  seed = g_strdup (gtk_label_get_text (GTK_LABEL (label)));

  /* Sealed in the database, the key store unlocked by the station's own
   * passphrase file, and the seed is this journal's. */
  journal_id = sql_text (path, "SELECT value FROM settings WHERE key = 'journal_id'");
  g_assert_nonnull (journal_id);
  unsealed = sql_text (path, "SELECT count(*) FROM audit WHERE action = 'audit.sealed' AND mac IS NULL");
  g_assert_cmpstr (unsealed, ==, "0");
  g_assert_nonnull (strstr (seed, journal_id));
  g_assert_cmpint (g_stat (passphrase, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  assert_label_shown (root, tr ("Keep the Journal’s Seed"));
  save_screenshot (root, "seed");

  /* Not before the seed is saved. */
  go = button_labelled (root, "C_ontinue");
  g_assert_false (gtk_widget_is_sensitive (go));

  /* Save Seed…: the file chooser, a file in a folder of the user's choice. */
  save = button_labelled (root, "_Save Seed…");
  g_assert_true (gtk_widget_is_sensitive (save));
  g_signal_emit_by_name (save, "clicked");
  wait_until (has_file_chooser, NULL);
  chooser = find_file_chooser ();
  /* As a user would: the dialog has listed its first folder before the
   * user picks another one, and that one before the user saves. */
  settle ();
  g_assert_true (gtk_file_chooser_set_current_folder (chooser, folder, NULL));
  settle ();
  gtk_file_chooser_set_current_name (chooser, "seed.txt");
  g_signal_emit_by_name (gtk_dialog_get_widget_for_response (GTK_DIALOG (chooser), GTK_RESPONSE_ACCEPT),
                         "clicked");
  expected_note = g_strdup_printf (g_dgettext (GETTEXT_PACKAGE, "Seed saved to %s (readable only by you). "
                                                               "Keep that file off this station."),
                                   seed_path);
  assert_label_shown (root, expected_note);
  g_assert_cmpint (g_stat (seed_path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_true (g_file_get_contents (seed_path, &saved, NULL, NULL));
  g_assert_true (g_str_has_suffix (saved, "\n"));
  saved[strlen (saved) - 1] = '\0';
  g_assert_cmpstr (saved, ==, seed);

  /* The saved seed checks every seal of the journal. */
  {
    /* In English, whatever the screens' language, to read its report. */
    g_autofree char *lang = g_strdup (g_getenv ("LC_ALL"));

    g_setenv ("LC_ALL", "C.UTF-8", TRUE);
    g_assert_cmpint (pp_test_run_tool (verify, NULL, &out, NULL), ==, 0);
    g_setenv ("LC_ALL", lang, TRUE);
    g_test_message ("audit verify: %s", out);
    g_assert_nonnull (strstr (out, "Sealed from entry 2; "));
    g_assert_nonnull (strstr (out, " seals checked with the seed"));
  }

  check = find_widget (root, is_check_button, NULL);
  g_assert_nonnull (check);
  gtk_check_button_set_active (GTK_CHECK_BUTTON (check), TRUE);
  g_assert_true (gtk_widget_is_sensitive (go));
  save_screenshot (root, "seed-saved");
  g_signal_emit_by_name (go, "clicked");
  wait_until (setup_done, window);
  /* Gone from the screen. */
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (label)), ==, "");
}

static gboolean
signed_in (gpointer data)
{
  return pp_window_get_user (PP_WINDOW (data)) != NULL;
}

static void
check_first_run_setup (PpApplication *app,
                       gpointer       data)
{
  PpWindow *window = station_window (app);
  GtkWidget *root = GTK_WIDGET (window);
  PpStore *store = pp_window_get_store (window);
  const char *path = data;
  g_autofree char *contents = NULL;
  g_autoptr(GError) policy = NULL;

  g_assert_nonnull (store);
  g_assert_cmpstr (pp_store_get_path (store), ==, path);
  g_assert_false (pp_store_is_demo_store (store));

  /* The setup, with nothing in the store behind it: no account, no demo data. */
  g_assert_true (pp_window_is_showing_setup (window));
  assert_label_shown (root, tr ("Set Up This Station"));
  g_assert_null (find_label (root, tr ("Demo data: this store was seeded with a demo inventory")));
  contents = store_contents (path);
  g_assert_cmpstr (contents, ==, "|0|0|");
  save_screenshot (root, "setup");

  /* A common password: refused next to the form, in the user's language. */
  type_into (root, "User Name", "root");
  type_into (root, "Password", "Password1234");
  type_into (root, "Confirm Password", "Password1234");
  press_create (root);
  g_assert_false (pp_password_check_policy ("Password1234", "root", &policy));
  assert_label_shown (root, policy->message);
  g_assert_true (pp_window_is_showing_setup (window));
  save_screenshot (root, "setup-error");

  /* A good password typed differently twice. */
  type_into (root, "Password", STRONG_PASSWORD);
  type_into (root, "Confirm Password", STRONG_PASSWORD "x");
  press_create (root);
  assert_label_shown (root, tr ("The two passwords differ; type the same password in both fields"));
  g_clear_pointer (&contents, g_free);
  contents = store_contents (path);
  g_assert_cmpstr (contents, ==, "|0|0|");

  /* Then right: the administrator, and only that account, exists. */
  type_into (root, "Confirm Password", STRONG_PASSWORD);
  press_create (root);
  check_seed_page (window, path);
  g_clear_pointer (&contents, g_free);
  contents = store_contents (path);
  g_assert_cmpstr (contents, ==, "root:administrator|0|0|");
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(PpUser) root_user = pp_store_authenticate (store, "root", STRONG_PASSWORD, &error);

    g_assert_no_error (error);
    g_assert_cmpint (root_user->role, ==, PP_USER_ROLE_ADMINISTRATOR);
  }

  /* Then the sign-in, the new administrator's name filled in. */
  g_assert_true (pp_window_is_showing_login (window));
  g_assert_cmpstr (gtk_editable_get_text (pp_login_page_get_user_entry (pp_window_get_login_page (window))),
                   ==, "root");
  save_screenshot (root, "sign-in-after-setup");
  pp_window_sign_in (window, "root", STRONG_PASSWORD);
  wait_until (signed_in, window);
  g_assert_cmpstr (pp_window_get_user (window), ==, "root");
}

static void
check_real_store_again (PpApplication *app,
                        gpointer       data)
{
  PpWindow *window = station_window (app);

  g_assert_false (pp_window_is_showing_setup (window));
  g_assert_false (pp_store_is_demo_store (pp_window_get_store (window)));
  g_assert_null (find_label (GTK_WIDGET (window), tr ("Demo data: this store was seeded with a demo inventory")));
}

/* First start on the real store: the administrator setup, then that one
 * account and no demo data; the next start goes straight to the inventory. */
static void
test_first_run_setup (void)
{
  g_autofree char *path = pp_application_get_default_store_path ();
  g_autofree char *contents = NULL;

  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  run_station (NULL, check_first_run_setup, path);
  run_station (NULL, check_real_store_again, NULL);
  contents = store_contents (path);
  g_assert_cmpstr (contents, ==, "root:administrator|0|0|");
}

static gboolean
is_window_title (GtkWidget     *widget,
                 gconstpointer  unused)
{
  return ADW_IS_WINDOW_TITLE (widget);
}

static gboolean
window_subtitle_is (gpointer data)
{
  gpointer *pair = data;
  GtkWidget *title = find_widget (pair[0], is_window_title, NULL);

  return title != NULL &&
         g_strcmp0 (adw_window_title_get_subtitle (ADW_WINDOW_TITLE (title)), pair[1]) == 0;
}

static gboolean
accounts_shown (gpointer data)
{
  gpointer *pair = data;

  return find_widget (pair[0], is_label_with, pair[1]) != NULL;
}

static void
check_demo (PpApplication *app,
            gpointer       data)
{
  PpWindow *window = station_window (app);
  GtkWidget *root = GTK_WIDGET (window);
  PpStore *store = pp_window_get_store (window);
  g_autofree char *demo_path = pp_application_get_demo_store_path ();
  const char *accounts[] = { "alice", "bob", "carol", "“" PP_STORE_DEMO_PASSWORD "”",
                             pp_user_role_get_label (PP_USER_ROLE_REVIEWER),
                             pp_user_role_get_label (PP_USER_ROLE_ADMINISTRATOR), NULL };
  gpointer subtitle[2] = { root, (gpointer) tr ("Demo Data") };

  g_assert_nonnull (store);
  g_assert_cmpstr (pp_store_get_path (store), ==, demo_path);
  g_assert_true (pp_store_is_demo_store (store));
  g_assert_false (pp_window_is_showing_setup (window));

  /* Said in the title and the banner, with the accounts once the seed is in. */
  wait_until (window_subtitle_is, subtitle);
  assert_label_shown (root, tr ("Demo data: this store was seeded with a demo inventory"));
  {
    gpointer label[2] = { root, accounts };

    wait_until (accounts_shown, label);
  }
  g_assert_true (pp_store_is_demo (store));
  g_assert_cmpuint (pp_store_count_terminals (store, NULL, PP_TERMINAL_STATE_ANY, NULL), >, 0);
  save_screenshot (root, "demo");
}

/* --demo: its own file, seeded, said on screen; the real store is untouched. */
static void
test_demo (void)
{
  g_autofree char *real_path = pp_application_get_default_store_path ();
  g_autofree char *demo_path = pp_application_get_demo_store_path ();
  g_autofree char *real_before = NULL;
  g_autofree char *real_after = NULL;
  const char *args[] = { "--demo", NULL };

  g_assert_cmpstr (real_path, !=, demo_path);
  if (g_file_test (real_path, G_FILE_TEST_EXISTS))
    real_before = store_contents (real_path);
  run_station (args, check_demo, NULL);
  if (real_before != NULL)
    {
      real_after = store_contents (real_path);
      g_assert_cmpstr (real_after, ==, real_before);
    }
  else
    g_assert_false (g_file_test (real_path, G_FILE_TEST_EXISTS));
  /* A second demo start keeps the one seed. */
  run_station (args, check_demo, NULL);
}

static void
check_demo_refused (PpApplication *app,
                    gpointer       data)
{
  PpWindow *window = station_window (app);
  AdwMessageDialog *dialog;

  g_assert_null (pp_window_get_store (window));
  dialog = find_message_dialog ();
  g_assert_nonnull (dialog);
  g_assert_cmpstr (adw_message_dialog_get_body (dialog), ==, data);
  g_assert_null (strstr (adw_message_dialog_get_body (dialog), "pin-value"));
  gtk_window_destroy (GTK_WINDOW (dialog));
}

/* A demo with the PKCS#11 key store configured: refused, nothing created. */
static void
test_demo_key_store (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "demo.db", NULL);
  const char *uri = "pkcs11:token=posprov;object=kdh?pin-value=4321";
  const char *args[] = { "--demo", "--db", path, NULL };
  g_autoptr(GSettings) settings = pp_settings_new ();
  g_autoptr(GError) error = NULL;
  PpStoreOptions options = { .demo = TRUE, .key_store = uri };

  g_assert_nonnull (settings);
  g_assert_null (pp_store_open_full (path, &options, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DEMO);
  g_settings_set_string (settings, "key-store", uri);
  run_station (args, check_demo_refused, error->message);
  g_settings_reset (settings, "key-store");
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
}

/* The window opens its registry on a worker; then the first page comes. */
static gboolean
page_has_rows (gpointer data)
{
  PpTerminalListModel *model = pp_inventory_page_get_model (data);

  return model != NULL && !pp_terminal_list_model_get_loading (model);
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
  g_assert_false (pp_store_is_demo_store (store));
  g_assert_false (pp_window_is_showing_setup (window));
  /* Nothing of the store before the sign-in. */
  g_assert_true (pp_window_is_showing_login (window));
  g_assert_null (pp_inventory_page_get_model (page));
  pp_window_sign_in (window, "root", STRONG_PASSWORD);
  wait_until (page_has_rows, page);
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
  g_autoptr(PpUser) admin = NULL;
  const PpTerminalIntake row = { "OWN-0001", "Newland", "N910" };
  const char *args[] = { "--db", path, NULL };

  store = pp_store_open (path, &error);
  g_assert_no_error (error);
  g_assert_true (pp_store_add_terminals (store, &row, 1, "test", &error));
  g_assert_no_error (error);
  admin = pp_store_create_first_administrator (store, "root", NULL, STRONG_PASSWORD, &error);
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

static void
check_remote_setting (PpApplication *app,
                      gpointer       data)
{
  PpWindow *window = station_window (app);
  PpLoginPage *login = pp_window_get_login_page (window);

  /* No store and nothing listed: the sign-in comes first. */
  g_assert_null (pp_window_get_store (window));
  g_assert_null (pp_window_get_registry (window));
  g_assert_true (pp_window_is_showing_login (window));
  g_assert_cmpstr (pp_login_page_get_url (login), ==, data);
  g_assert_cmpstr (gtk_editable_get_text (pp_login_page_get_user_entry (login)), ==, "alice");
  assert_label_shown (GTK_WIDGET (window), tr ("Sign In to the Registry"));
}

/* registry-url set: the station works with that registry (issue 8, helper
 * station8; tests/test-ui-station-remote.c signs in to a real one). */
static void
test_remote_setting (void)
{
  g_autoptr(GSettings) settings = g_settings_new ("org.posprov.Station");
  const char *url = "https://127.0.0.1:9";

  g_settings_set_string (settings, "registry-url", url);
  g_settings_set_string (settings, "registry-user", "alice");
  run_station (NULL, check_remote_setting, (gpointer) url);
  g_settings_reset (settings, "registry-url");
  g_settings_reset (settings, "registry-user");
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

static void
skip_no_locale (void)
{
  g_test_skip ("the zh_CN.UTF-8 locale is not generated (locale-gen)");
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

  screenshot_lang = pp_test_ui_init (&argc, &argv, "Set Up This Station");
  if (screenshot_lang == NULL)
    {
      g_test_add_func ("/ui/app/zh_CN-locale", skip_no_locale);
      return g_test_run ();
    }

  /* The default store lives in the XDG data dir: make it a fresh one, before
   * GLib reads and caches the variable. */
  data_home = pp_test_make_tmpdir ();
  /* The station's own key store: the default one, with its passphrase file. */
  g_unsetenv ("POSPROV_KEY_STORE");
  g_unsetenv ("POSPROV_KEY_STORE_SECRET");
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

  g_test_add_func ("/ui/app/screens/first-run-setup", test_first_run_setup);
  g_test_add_func ("/ui/app/screens/demo", test_demo);
  g_test_add_func ("/ui/app/demo-key-store", test_demo_key_store);
  g_test_add_func ("/ui/app/db-option", test_db_option);
  g_test_add_func ("/ui/app/newer-schema", test_newer_schema);
  g_test_add_func ("/ui/app/remote-setting", test_remote_setting);
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
