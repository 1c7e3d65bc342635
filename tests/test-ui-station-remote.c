/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-ui-station-remote.c: the station in remote mode against the real
 * posprov-registry on 127.0.0.1 over HTTPS (a test CA made with the
 * openssl command), under Xvfb.
 *
 * The station asks for a sign-in first (a wrong password is said so), then
 * its inventory shows the registry's terminals page by page, with the
 * serials and states the registry has; a search goes through the registry.
 * The daemon stopped: the next call fails and the offline banner shows;
 * the daemon back on the same port and Retry: the banner goes and the rows
 * are back. The registry's settings are edited and checked in the
 * preferences, and a new user there signs the station in again. Saves
 * screenshot-{login,login-error,login-offline,remote-inventory,offline,preferences-error}-LANG.png
 * in the build dir; PP_TEST_LOCALE=zh_CN.UTF-8 runs it in Simplified Chinese.
 */
#include "config.h"


#include <adwaita.h>
#include <glib/gi18n.h>

#include "pp-preferences.h"
#include "pp-registry-daemon.h"
#include "pp-store-fixture.h"
#include "pp-test-util.h"
#include "pp-ui-test-util.h"
#include "pp-window.h"

#define N_STOCK 400
#define N_RECEIVED 50
#define PASSWORD PP_TEST_PASSWORD ("0")
#define KEY_STORE_SECRET "fixture key store passphrase"

static const char *screenshot_lang = "en";

typedef struct {
  PpStoreFixture    store;
  char             *pki;
  PpRegistryDaemon  daemon;
  PpWindow         *window;
  const char       *search;  /* what search_for typed */
} Fixture;

static void
wait_until (PpTestCondition condition,
            gpointer        data)
{
  pp_test_wait_until (condition, data);
}

static void
assert_label_visible (Fixture    *f,
                      const char *text,
                      const char *css_class)
{
  pp_test_wait_for_label (GTK_WIDGET (f->window), text, css_class);
}

static void
save_screenshot (GtkWidget  *widget,
                 const char *what)
{
  g_autofree char *name = g_strdup_printf ("screenshot-%s-%s.png", what, screenshot_lang);

  pp_test_settle ();
  pp_test_save_screenshot (widget, name);
}

static char *
pki_file (Fixture    *f,
          const char *name)
{
  return g_build_filename (f->pki, name, NULL);
}

static void
start_daemon (Fixture *f,
              guint    port)
{
  g_autofree char *cert = pki_file (f, "server.pem");
  g_autofree char *key = pki_file (f, "server.key");
  g_autofree char *keys = g_build_filename (f->store.dir, "keys", NULL);

  pp_registry_daemon_start (&f->daemon, f->store.path, port, cert, key, keys, KEY_STORE_SECRET, NULL);
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GPtrArray) stock = g_ptr_array_new_with_free_func (g_free);
  g_autofree PpTerminalIntake *rows = g_new0 (PpTerminalIntake, N_STOCK + N_RECEIVED);
  g_autoptr(GError) error = NULL;

  /* Every ninth serial (3, 12, ...) delivered but not yet in stock, so
   * both states show on the first screen. */
  for (guint n = 1, s = 0, r = N_STOCK; n <= N_STOCK + N_RECEIVED; n++)
    {
      char *serial = g_strdup_printf ("PAX%05u", n);

      g_ptr_array_add (stock, serial);
      rows[n % 9 == 3 ? r++ : s++] = (PpTerminalIntake) { serial, "PAX", "A920" };
    }
  pp_store_fixture_set_up (&f->store, rows, N_STOCK, "setup");
  g_assert_true (pp_store_add_terminals_in_state (f->store.store, rows + N_STOCK, N_RECEIVED,
                                                  PP_TERMINAL_STATE_RECEIVED, "alice", &error));
  g_assert_no_error (error);

  f->pki = pp_test_make_tmpdir ();
  pp_test_make_ca (f->pki, "ca");
  pp_test_make_server_cert (f->pki, "server", "ca");
  start_daemon (f, 0);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  if (f->window != NULL)
    gtk_window_destroy (GTK_WINDOW (f->window));
  while (g_main_context_iteration (NULL, FALSE))
    ;
  pp_registry_daemon_clear (&f->daemon);
  g_free (f->pki);
  pp_store_fixture_tear_down (&f->store);
}

static PpTerminalListModel *
model_of (Fixture *f)
{
  return pp_inventory_page_get_model (pp_window_get_inventory_page (f->window));
}

static gboolean
login_idle (gpointer data)
{
  return !pp_login_page_get_busy (pp_window_get_login_page (data));
}

static gboolean
rows_loaded (gpointer data)
{
  Fixture *f = data;

  return model_of (f) != NULL && !pp_terminal_list_model_get_loading (model_of (f));
}

static gboolean
is_offline (gpointer data)
{
  return pp_window_get_offline (data);
}

static gboolean
is_online (gpointer data)
{
  return !pp_window_get_offline (data);
}

/* The inventory lists exactly what the registry has for @search: the
 * count, and each row's serial and state in order. */
static void
assert_rows_in_state (Fixture         *f,
                      const char      *search,
                      PpTerminalState  state)
{
  g_autoptr(GError) error = NULL;
  guint n = pp_store_count_terminals (f->store.store, search, state, &error);
  g_autoptr(GPtrArray) expected = NULL;
  GListModel *model = G_LIST_MODEL (model_of (f));

  g_assert_no_error (error);
  g_assert_cmpuint (n, >, 0);
  expected = pp_store_list_terminals (f->store.store, search, state, 0, n, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, n);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(PpTerminal) row = pp_test_wait_for_row (model_of (f), i);
      PpTerminal *want = g_ptr_array_index (expected, i);

      g_assert_cmpstr (pp_terminal_get_serial (row), ==, pp_terminal_get_serial (want));
      g_assert_cmpint (pp_terminal_get_state (row), ==, pp_terminal_get_state (want));
    }
  /* And the first is on screen, with its state. */
  assert_label_visible (f, pp_terminal_get_serial (g_ptr_array_index (expected, 0)), NULL);
  assert_label_visible (f, pp_terminal_state_get_label (pp_terminal_get_state (g_ptr_array_index (expected, 0))),
                        "state-pill");
}

static void
assert_rows_are_registry (Fixture    *f,
                          const char *search)
{
  assert_rows_in_state (f, search, PP_TERMINAL_STATE_ANY);
}

static gboolean
search_applied (gpointer data)
{
  Fixture *f = data;

  const char *search = pp_terminal_list_model_get_search (model_of (f));

  /* A serial typed in lower case is looked up as the label prints it. */
  return search != NULL && g_ascii_strcasecmp (search, f->search) == 0;
}

/* Types @text; returns once the model asks the registry for it (the
 * search entry waits for a pause in the typing first). */
static void
search_for (Fixture    *f,
            const char *text)
{
  f->search = text;
  gtk_editable_set_text (pp_inventory_page_get_search_entry (pp_window_get_inventory_page (f->window)), text);
  wait_until (search_applied, f);
}

static void
test_remote_station (Fixture       *f,
                     gconstpointer  data)
{
  g_autofree char *ca = pki_file (f, "ca.pem");
  PpLoginPage *login;
  guint port;

  f->window = pp_window_new_remote (NULL, f->daemon.url, ca, "alice");
  gtk_window_set_default_size (GTK_WINDOW (f->window), 1200, 760);
  gtk_window_present (GTK_WINDOW (f->window));
  wait_until (pp_test_is_mapped, f->window);
  login = pp_window_get_login_page (f->window);

  /* Nothing shown before the sign-in; the user from the settings is filled in. */
  g_assert_true (pp_window_is_showing_login (f->window));
  g_assert_null (pp_window_get_registry (f->window));
  g_assert_cmpstr (gtk_editable_get_text (pp_login_page_get_user_entry (login)), ==, "alice");
  assert_label_visible (f, _("Sign In to the Registry"), NULL);
  gtk_editable_set_text (pp_login_page_get_password_entry (login), "not-the-password");
  save_screenshot (GTK_WIDGET (f->window), "login");

  /* A wrong password is said so, and nothing is shown. */
  pp_login_page_sign_in (login);
  g_assert_true (pp_login_page_get_busy (login));
  wait_until (login_idle, f->window);
  assert_label_visible (f, _("Wrong user name or password. Check both and try again."), NULL);
  g_assert_true (pp_window_is_showing_login (f->window));
  g_assert_null (pp_window_get_registry (f->window));
  g_assert_false (pp_window_get_offline (f->window));
  save_screenshot (GTK_WIDGET (f->window), "login-error");

  /* The right one: the inventory is the registry's. */
  gtk_editable_set_text (pp_login_page_get_password_entry (login), PASSWORD);
  pp_login_page_sign_in (login);
  wait_until (login_idle, f->window);
  g_assert_false (pp_window_is_showing_login (f->window));
  g_assert_nonnull (pp_window_get_registry (f->window));
  /* The password does not stay in the field. */
  g_assert_cmpstr (gtk_editable_get_text (pp_login_page_get_password_entry (login)), ==, "");
  wait_until (rows_loaded, f);
  assert_rows_are_registry (f, NULL);
  {
    g_autofree char *count = pp_inventory_page_format_count (N_STOCK + N_RECEIVED);

    g_assert_cmpstr (gtk_label_get_text (pp_inventory_page_get_count_label (pp_window_get_inventory_page (f->window))),
                     ==, count);
  }
  gtk_adjustment_set_value (gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (
                              gtk_widget_get_parent (GTK_WIDGET (pp_inventory_page_get_column_view (
                                pp_window_get_inventory_page (f->window)))))), 0);
  save_screenshot (GTK_WIDGET (f->window), "remote-inventory");

  /* A search goes through the registry. */
  search_for (f, "pax001");
  wait_until (rows_loaded, f);
  assert_rows_are_registry (f, "pax001");
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (model_of (f))), <, N_STOCK + N_RECEIVED);

  /* So does the state filter. */
  search_for (f, "pax00");
  wait_until (rows_loaded, f);
  pp_inventory_page_set_state_filter (pp_window_get_inventory_page (f->window), PP_TERMINAL_STATE_RECEIVED);
  wait_until (rows_loaded, f);
  g_assert_cmpint (pp_terminal_list_model_get_state (model_of (f)), ==, PP_TERMINAL_STATE_RECEIVED);
  assert_rows_in_state (f, "pax00", PP_TERMINAL_STATE_RECEIVED);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (model_of (f))), ==, N_RECEIVED);
  pp_inventory_page_set_state_filter (pp_window_get_inventory_page (f->window), PP_TERMINAL_STATE_ANY);
  wait_until (rows_loaded, f);

  /* The registry goes away: the next call fails and the banner says so. */
  port = f->daemon.port;
  pp_registry_daemon_stop (&f->daemon);
  g_assert_false (pp_window_get_offline (f->window));
  search_for (f, "pax002");
  wait_until (is_offline, f->window);
  assert_label_visible (f, _("The registry cannot be reached"), NULL);
  save_screenshot (GTK_WIDGET (f->window), "offline");

  /* Back on the same address: Retry, and the banner goes, the rows come back. */
  start_daemon (f, port);
  g_assert_cmpuint (f->daemon.port, ==, port);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->window), "win.retry", NULL));
  wait_until (is_online, f->window);
  wait_until (rows_loaded, f);
  assert_rows_are_registry (f, "pax002");
}

static gboolean
showing_inventory (gpointer data);

/* The registry down at sign-in: the banner, the password kept; back up
 * and Retry signs in. */
static void
test_login_offline (Fixture       *f,
                    gconstpointer  data)
{
  g_autofree char *ca = pki_file (f, "ca.pem");
  guint port = f->daemon.port;
  PpLoginPage *login;

  pp_registry_daemon_stop (&f->daemon);
  f->window = pp_window_new_remote (NULL, f->daemon.url, ca, "alice");
  gtk_window_set_default_size (GTK_WINDOW (f->window), 1200, 760);
  gtk_window_present (GTK_WINDOW (f->window));
  wait_until (pp_test_is_mapped, f->window);
  login = pp_window_get_login_page (f->window);
  gtk_editable_set_text (pp_login_page_get_password_entry (login), PASSWORD);
  pp_login_page_sign_in (login);
  wait_until (is_offline, f->window);
  g_assert_true (pp_login_page_get_unreachable (login));
  g_assert_true (pp_window_is_showing_login (f->window));
  assert_label_visible (f, _("The registry cannot be reached"), NULL);
  assert_label_visible (f, pp_login_page_get_error (login), NULL);
  g_assert_cmpstr (gtk_editable_get_text (pp_login_page_get_password_entry (login)), ==, PASSWORD);
  save_screenshot (GTK_WIDGET (f->window), "login-offline");

  start_daemon (f, port);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->window), "win.retry", NULL));
  wait_until (showing_inventory, f->window);
  g_assert_false (pp_window_get_offline (f->window));
  wait_until (rows_loaded, f);
  assert_rows_are_registry (f, NULL);
}

static gboolean
showing_inventory (gpointer data)
{
  return !pp_window_is_showing_login (data);
}

/* The preferences window the action opened. */
static PpPreferences *
find_preferences (void)
{
  GListModel *toplevels = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWidget) toplevel = g_list_model_get_item (toplevels, i);

      if (PP_IS_PREFERENCES (toplevel))
        return PP_PREFERENCES (toplevel);
    }
  return NULL;
}

static void
apply_row (AdwEntryRow *row,
           const char  *text)
{
  gtk_editable_set_text (GTK_EDITABLE (row), text);
  g_signal_emit_by_name (row, "apply");
}

/* The registry's settings are edited in the preferences, checked there
 * (https:// only, a CA file that exists), and a new user signs the station
 * in again. */
static void
test_preferences (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GSettings) settings = g_settings_new ("org.posprov.Station");
  g_autofree char *ca = pki_file (f, "ca.pem");
  g_autofree char *value = NULL;
  PpPreferences *prefs;
  PpLoginPage *login;

  g_settings_set_string (settings, "registry-url", f->daemon.url);
  g_settings_set_string (settings, "registry-ca", ca);
  g_settings_set_string (settings, "registry-user", "alice");
  f->window = pp_window_new_remote (NULL, f->daemon.url, ca, "alice");
  gtk_window_set_default_size (GTK_WINDOW (f->window), 1200, 760);
  gtk_window_present (GTK_WINDOW (f->window));
  wait_until (pp_test_is_mapped, f->window);
  login = pp_window_get_login_page (f->window);
  gtk_editable_set_text (pp_login_page_get_password_entry (login), PASSWORD);
  pp_login_page_sign_in (login);
  wait_until (showing_inventory, f->window);
  wait_until (rows_loaded, f);

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->window), "win.preferences", NULL));
  prefs = find_preferences ();
  g_assert_nonnull (prefs);
  wait_until (pp_test_is_mapped, prefs);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (pp_preferences_get_url_row (prefs))), ==, f->daemon.url);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (pp_preferences_get_ca_row (prefs))), ==, ca);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (pp_preferences_get_user_row (prefs))), ==, "alice");

  /* Plain HTTP is refused: the row turns red, the setting stays. */
  apply_row (pp_preferences_get_url_row (prefs), "http://127.0.0.1:1");
  g_assert_true (gtk_widget_has_css_class (GTK_WIDGET (pp_preferences_get_url_row (prefs)), "error"));
  value = g_settings_get_string (settings, "registry-url");
  g_assert_cmpstr (value, ==, f->daemon.url);
  {
    g_autofree char *problem = pp_preferences_check_url ("http://127.0.0.1:1");

    g_assert_nonnull (problem);
    pp_test_wait_for_label (GTK_WIDGET (prefs), problem, NULL);
  }
  save_screenshot (GTK_WIDGET (prefs), "preferences-error");
  /* Typing again clears the red. */
  gtk_editable_set_text (GTK_EDITABLE (pp_preferences_get_url_row (prefs)), f->daemon.url);
  g_assert_false (gtk_widget_has_css_class (GTK_WIDGET (pp_preferences_get_url_row (prefs)), "error"));

  /* A CA file that is not there is refused too. */
  apply_row (pp_preferences_get_ca_row (prefs), "/no/such/ca.pem");
  g_assert_true (gtk_widget_has_css_class (GTK_WIDGET (pp_preferences_get_ca_row (prefs)), "error"));
  g_free (value);
  value = g_settings_get_string (settings, "registry-ca");
  g_assert_cmpstr (value, ==, ca);
  g_assert_null (pp_preferences_check_ca (ca));
  g_assert_null (pp_preferences_check_url ("https://registry.example:8443/prefix"));
  g_assert_nonnull (pp_preferences_check_url ("https://"));

  /* Another user: saved, and the station asks that user to sign in. */
  apply_row (pp_preferences_get_user_row (prefs), "bob");
  g_free (value);
  value = g_settings_get_string (settings, "registry-user");
  g_assert_cmpstr (value, ==, "bob");
  gtk_window_destroy (GTK_WINDOW (prefs));
  g_assert_true (pp_window_is_showing_login (f->window));
  g_assert_null (pp_window_get_registry (f->window));
  g_assert_cmpstr (gtk_editable_get_text (pp_login_page_get_user_entry (login)), ==, "bob");
  gtk_editable_set_text (pp_login_page_get_password_entry (login), PASSWORD);
  pp_login_page_sign_in (login);
  wait_until (showing_inventory, f->window);
  wait_until (rows_loaded, f);
  assert_rows_are_registry (f, NULL);

  g_settings_reset (settings, "registry-url");
  g_settings_reset (settings, "registry-ca");
  g_settings_reset (settings, "registry-user");
}

static void
skip_no_locale (void)
{
  g_test_skip ("the zh_CN.UTF-8 locale is not generated (scripts/deps makes it)");
}

int
main (int    argc,
      char **argv)
{
  screenshot_lang = pp_test_ui_init (&argc, &argv, "Sign In to the Registry");
  if (screenshot_lang == NULL)
    {
      g_test_add_func ("/ui/station-remote/zh_CN-locale", skip_no_locale);
      return g_test_run ();
    }
  adw_init ();
  /* Screenshots of the screens at rest, not halfway through a cross-fade. */
  g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE, NULL);

  g_test_add ("/ui/station-remote/login-inventory-offline", Fixture, NULL, fixture_set_up,
              test_remote_station, fixture_tear_down);
  g_test_add ("/ui/station-remote/preferences", Fixture, NULL, fixture_set_up,
              test_preferences, fixture_tear_down);
  g_test_add ("/ui/station-remote/login-offline", Fixture, NULL, fixture_set_up,
              test_login_offline, fixture_tear_down);
  return g_test_run ();
}
