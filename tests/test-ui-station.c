/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-ui-station.c: the station window as one workplace (issue 9): signing
 * in to the embedded registry (a real store with its key host and key
 * store), the pages each role sees, the sidebar and the page actions, the
 * approvals badge, the one-time code step, the lock after inactivity and
 * the unlock, signing out. Under Xvfb at 1280x720, a screenshot of each
 * state, in English and (ui-station-zh_CN) Simplified Chinese.
 */
#include "config.h"

#include <string.h>

#include <adwaita.h>

#include "pp-approvals-page.h"
#include "pp-install-wizard.h"
#include "pp-key-host-fixture.h"
#include "pp-registry-local.h"
#include "pp-test-util.h"
#include "pp-totp.h"
#include "pp-ui-test-util.h"
#include "pp-window.h"

/* pp-key-host-fixture's soft key store. */
#define KEY_STORE_PASSPHRASE "fixture key store passphrase"
#define PASSWORD PP_TEST_PASSWORD ("0")

static const char *lang = "en";

static const PpTerminalIntake terminals[] = {
  { "ST-0001", "PAX", "A920" },
};

typedef struct {
  PpKeyHostFixture kh;
  PpRegistry *registry;
  PpWindow *window;
} Fixture;

#define got_result pp_test_got_result
#define wait_for   pp_test_wait_for_result

static void
screenshot (Fixture    *f,
            const char *what)
{
  g_autofree char *name = g_strdup_printf ("screenshot-station-%s-%s.png", what, lang);

  pp_test_settle ();
  pp_test_save_screenshot (GTK_WIDGET (f->window), name);
}

static gboolean
signed_in (gpointer data)
{
  Fixture *f = data;

  return pp_window_get_user (f->window) != NULL && !pp_window_get_locked (f->window);
}

static gboolean
signed_out (gpointer data)
{
  return pp_window_get_user (((Fixture *) data)->window) == NULL;
}

static gboolean
locked (gpointer data)
{
  return pp_window_get_locked (((Fixture *) data)->window);
}

static gboolean
login_idle (gpointer data)
{
  return !pp_login_page_get_busy (pp_window_get_login_page (((Fixture *) data)->window));
}

static gboolean
asking_code (gpointer data)
{
  return pp_login_page_get_asking_code (pp_window_get_login_page (((Fixture *) data)->window));
}

static gboolean
one_pending (gpointer data)
{
  return pp_window_get_n_pending (((Fixture *) data)->window) == 1;
}

/* The pages in the sidebar, as its rows read, in order: "Install,Inventory". */
static char *
sidebar_pages (Fixture *f)
{
  GtkListBox *list = pp_window_get_sidebar (f->window);
  g_autoptr(GString) names = g_string_new (NULL);

  for (GtkWidget *row = gtk_widget_get_first_child (GTK_WIDGET (list)); row != NULL;
       row = gtk_widget_get_next_sibling (row))
    {
      g_assert_true (gtk_widget_get_focusable (row) || gtk_list_box_row_get_activatable (GTK_LIST_BOX_ROW (row)));
      if (names->len > 0)
        g_string_append_c (names, ',');
      g_string_append (names, g_object_get_data (G_OBJECT (row), "page"));
    }
  return g_string_free (g_steal_pointer (&names), FALSE);
}

static GtkListBoxRow *
sidebar_row (Fixture    *f,
             const char *page)
{
  GtkListBox *list = pp_window_get_sidebar (f->window);

  for (GtkWidget *row = gtk_widget_get_first_child (GTK_WIDGET (list)); row != NULL;
       row = gtk_widget_get_next_sibling (row))
    if (g_strcmp0 (g_object_get_data (G_OBJECT (row), "page"), page) == 0)
      return GTK_LIST_BOX_ROW (row);
  return NULL;
}

static AdwWindowTitle *
window_title (GtkWidget *widget)
{
  if (ADW_IS_WINDOW_TITLE (widget))
    return ADW_WINDOW_TITLE (widget);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      AdwWindowTitle *title = window_title (child);

      if (title != NULL)
        return title;
    }
  return NULL;
}

static void
sign_in (Fixture    *f,
         const char *user,
         const char *password)
{
  pp_window_sign_in (f->window, user, password);
  pp_test_wait_until (login_idle, f);
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *keys = NULL;

  pp_key_host_fixture_set_up (&f->kh, terminals, G_N_ELEMENTS (terminals));
  keys = g_build_filename (f->kh.base.dir, "keys", NULL);
  f->registry = PP_REGISTRY (pp_registry_local_new_with_key_store (f->kh.base.path, keys,
                                                                   KEY_STORE_PASSPHRASE, &error));
  g_assert_no_error (error);
  f->window = pp_window_new_with_registry (NULL, f->kh.base.store, f->registry);
  /* The lock has its own case; here nobody may be locked out mid-step. */
  g_object_set (f->window, "lock-after-seconds", 0u, NULL);
  gtk_window_set_default_size (GTK_WINDOW (f->window), data != NULL ? 600 : 1280, 720);
  gtk_window_present (GTK_WINDOW (f->window));
  pp_test_wait_until (pp_test_is_mapped, f->window);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  gtk_window_destroy (GTK_WINDOW (f->window));
  pp_test_settle ();
  pp_registry_local_close (PP_REGISTRY_LOCAL (f->registry));
  g_clear_object (&f->registry);
  pp_key_host_fixture_tear_down (&f->kh);
}

/* An order of alice's waiting for a reviewer: what bob's badge counts. */
static void
request_approval (Fixture *f)
{
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(PpRegistryApproval) approval = NULL;
  g_autofree char *k1 = g_uuid_string_random ();
  g_autofree char *k2 = g_uuid_string_random ();

  pp_registry_create_install_order_async (f->registry, terminals[0].serial, f->kh.base.merchant_id, "1.0.0",
                                          PP_TMK_AES_128, "alice", k1, NULL, got_result, &res);
  order = pp_registry_create_install_order_finish (f->registry, wait_for (&res), &error);
  g_assert_no_error (error);
  g_clear_object (&res);
  pp_registry_request_approval_async (f->registry, order->uuid, NULL, NULL, "alice", k2, NULL,
                                      got_result, &res);
  approval = pp_registry_request_approval_finish (f->registry, wait_for (&res), &error);
  g_assert_no_error (error);
}

/* Nothing before the sign-in; each role its pages; the sidebar, the
 * actions and the badge; signing out drops the user's pages. */
static void
test_roles_and_navigation (Fixture       *f,
                           gconstpointer  data)
{
  g_autofree char *pages = NULL;
  GtkWidget *wizard;

  request_approval (f);
  g_assert_true (pp_window_is_showing_login (f->window));
  g_assert_null (pp_window_get_page_name (f->window));
  g_assert_null (pp_inventory_page_get_model (pp_window_get_inventory_page (f->window)));
  g_assert_false (gtk_widget_activate_action (GTK_WIDGET (f->window), "win.inventory", NULL) &&
                  pp_window_get_page_name (f->window) != NULL);
  screenshot (f, "sign-in");

  /* A wrong password: said on the page, nobody signed in. */
  sign_in (f, "alice", "not the password!");
  g_assert_null (pp_window_get_user (f->window));
  if (g_str_equal (lang, "en"))
    pp_test_wait_for_label (GTK_WIDGET (f->window), "Wrong user name or password. Check both and try again.",
                            "error");
  screenshot (f, "wrong-password");

  /* The field manager: Install and Inventory, the inventory first. */
  sign_in (f, "alice", PASSWORD);
  pp_test_wait_until (signed_in, f);
  g_assert_cmpstr (pp_window_get_user (f->window), ==, "alice");
  g_assert_false (pp_window_is_showing_login (f->window));
  pages = sidebar_pages (f);
  g_assert_cmpstr (pages, ==, "install,inventory");
  g_assert_cmpstr (pp_window_get_page_name (f->window), ==, "inventory");
  g_assert_nonnull (pp_inventory_page_get_model (pp_window_get_inventory_page (f->window)));
  /* Who is signed in, in the header. */
  g_assert_nonnull (strstr (adw_window_title_get_subtitle (window_title (GTK_WIDGET (f->window))), "alice"));
  /* Built when first shown, not at sign-in. */
  g_assert_null (pp_window_get_page (f->window, "install"));
  screenshot (f, "field-manager");

  /* The action (Control+1) and the sidebar row lead to the same pages. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->window), "win.install", NULL));
  g_assert_cmpstr (pp_window_get_page_name (f->window), ==, "install");
  wizard = pp_window_get_page (f->window, "install");
  g_assert_true (PP_IS_INSTALL_WIZARD (wizard));
  g_assert_cmpstr (pp_session_page_get_user (PP_SESSION_PAGE (wizard)), ==, "alice");
  pp_test_wait_until (pp_test_is_mapped, wizard);
  g_assert_true (gtk_list_box_get_selected_row (pp_window_get_sidebar (f->window)) == sidebar_row (f, "install"));
  screenshot (f, "install");
  g_signal_emit_by_name (sidebar_row (f, "inventory"), "activate");
  g_assert_cmpstr (pp_window_get_page_name (f->window), ==, "inventory");
  g_signal_emit_by_name (sidebar_row (f, "install"), "activate");
  g_assert_true (pp_window_get_page (f->window, "install") == wizard);
  /* Not a reviewer's page: neither the sidebar nor the action. */
  g_assert_null (sidebar_row (f, "approvals"));
  g_assert_false (pp_window_show_page (f->window, "approvals"));
  g_assert_cmpstr (pp_window_get_page_name (f->window), ==, "install");

  /* Signing out: the sign-in again, the user's pages gone. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->window), "win.sign-out", NULL));
  g_assert_null (pp_window_get_user (f->window));
  g_assert_true (pp_window_is_showing_login (f->window));
  g_assert_null (pp_window_get_page (f->window, "install"));
  g_assert_false (pp_window_show_page (f->window, "inventory"));

  /* The reviewer: Approvals (with the waiting request) and Inventory. */
  sign_in (f, "bob", PASSWORD);
  pp_test_wait_until (signed_in, f);
  g_clear_pointer (&pages, g_free);
  pages = sidebar_pages (f);
  g_assert_cmpstr (pages, ==, "approvals,inventory");
  g_assert_false (pp_window_show_page (f->window, "install"));
  pp_test_wait_until (one_pending, f);
  {
    GtkWidget *row = GTK_WIDGET (sidebar_row (f, "approvals"));

    pp_test_wait_for_label (row, "1", "badge");
  }
  screenshot (f, "reviewer");
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->window), "win.approvals", NULL));
  g_assert_true (PP_IS_APPROVALS_PAGE (pp_window_get_page (f->window, "approvals")));
  pp_test_wait_until (pp_test_is_mapped, pp_window_get_page (f->window, "approvals"));
  screenshot (f, "approvals");

  /* The administrator: the inventory (their other pages are in the making). */
  pp_window_sign_out (f->window);
  sign_in (f, "carol", PASSWORD);
  pp_test_wait_until (signed_in, f);
  g_clear_pointer (&pages, g_free);
  pages = sidebar_pages (f);
  g_assert_cmpstr (pages, ==, "inventory");
}

/* The registry's code where one is enrolled: asked for after the right
 * password, a wrong one refused and journalled, the right one signs in. */
static void
test_one_time_code (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpSecureBuffer) uri = NULL;
  g_autoptr(PpSecureBuffer) secret = NULL;
  g_autoptr(GPtrArray) audit = NULL;
  g_autofree char *b32 = NULL;
  PpLoginPage *login = pp_window_get_login_page (f->window);
  gint64 step = pp_totp_step (g_get_real_time () / G_USEC_PER_SEC, PP_TOTP_DEFAULT_PERIOD);
  const char *text;
  const char *at;
  char good[9], wrong[9];
  guint failed = 0;

  pp_registry_enroll_otp_async (f->registry, "alice", "alice", NULL, got_result, &res);
  uri = pp_registry_enroll_otp_finish (f->registry, wait_for (&res), &error);
  g_assert_no_error (error);
  g_clear_object (&res);
  text = (const char *) pp_secure_buffer_peek (uri);
  at = strstr (text, "secret=") + strlen ("secret=");
  b32 = g_strndup (at, strcspn (at, "&"));
  secret = pp_base32_decode (b32, &error);
  g_assert_no_error (error);
  g_assert_true (pp_totp_code (secret, PP_TOTP_SHA1, PP_TOTP_DEFAULT_DIGITS, step, good, &error));
  for (guint n = 0;; n++)
    {
      char near[3][9];

      g_snprintf (wrong, sizeof wrong, "%06u", n);
      for (int i = 0; i < 3; i++)
        g_assert_true (pp_totp_code (secret, PP_TOTP_SHA1, PP_TOTP_DEFAULT_DIGITS, step - 1 + i, near[i], NULL));
      if (!g_str_equal (wrong, near[0]) && !g_str_equal (wrong, near[1]) && !g_str_equal (wrong, near[2]))
        break;
    }

  /* The password first: right, so the code is asked for. */
  sign_in (f, "alice", PASSWORD);
  pp_test_wait_until (asking_code, f);
  g_assert_null (pp_window_get_user (f->window));
  g_assert_true (gtk_widget_has_focus (GTK_WIDGET (pp_login_page_get_code_entry (login))) ||
                 gtk_widget_is_ancestor (gtk_root_get_focus (GTK_ROOT (f->window)),
                                         GTK_WIDGET (pp_login_page_get_code_entry (login))));
  screenshot (f, "code");

  /* A wrong code: refused with what to do; still the code step. */
  gtk_editable_set_text (pp_login_page_get_code_entry (login), wrong);
  pp_login_page_sign_in (login);
  pp_test_wait_until (login_idle, f);
  g_assert_null (pp_window_get_user (f->window));
  g_assert_true (pp_login_page_get_asking_code (login));
  g_assert_nonnull (pp_login_page_get_error (login));
  if (g_str_equal (lang, "en"))
    pp_test_wait_for_label (GTK_WIDGET (f->window),
                            "Wrong or already used one-time code: wait for the next code in your "
                            "authenticator app and enter it.", "error");
  screenshot (f, "wrong-code");

  /* The right one signs in. */
  gtk_editable_set_text (pp_login_page_get_code_entry (login), good);
  pp_login_page_sign_in (login);
  pp_test_wait_until (signed_in, f);
  g_assert_cmpstr (pp_window_get_user (f->window), ==, "alice");
  g_assert_false (pp_login_page_get_asking_code (login));
  g_assert_cmpstr (gtk_editable_get_text (pp_login_page_get_password_entry (login)), ==, "");
  g_assert_cmpstr (gtk_editable_get_text (pp_login_page_get_code_entry (login)), ==, "");

  /* The journal has the wrong code, never a code or the password. */
  pp_registry_list_audit_async (f->registry, 0, 0, NULL, got_result, &res);
  audit = pp_registry_list_audit_finish (f->registry, wait_for (&res), &error);
  g_assert_no_error (error);
  for (guint i = 0; i < audit->len; i++)
    {
      PpAuditEntry *e = g_ptr_array_index (audit, i);

      if (g_str_equal (e->action, "user.otp_failed"))
        failed++;
      g_assert_null (e->detail != NULL ? strstr (e->detail, good) : NULL);
      g_assert_null (e->detail != NULL ? strstr (e->detail, PASSWORD) : NULL);
    }
  g_assert_cmpuint (failed, ==, 1);
}

/* No input for lock-after: the login page covers the station with the
 * user fixed; the install page stays as it was underneath; the right
 * password unlocks to it; Sign Out lets another user in. */
static void
test_lock_after_inactivity (Fixture       *f,
                            gconstpointer  data)
{
  PpLoginPage *login = pp_window_get_login_page (f->window);
  GtkWidget *wizard;
  PpInstallFlow *flow;

  sign_in (f, "alice", PASSWORD);
  pp_test_wait_until (signed_in, f);
  g_assert_true (pp_window_show_page (f->window, "install"));
  wizard = pp_window_get_page (f->window, "install");
  flow = pp_install_wizard_get_flow (PP_INSTALL_WIZARD (wizard));
  g_assert_nonnull (flow);

  /* A second without input. */
  g_object_set (f->window, "lock-after-seconds", 1u, NULL);
  pp_test_wait_until (locked, f);
  g_object_set (f->window, "lock-after-seconds", 0u, NULL);
  g_assert_true (pp_window_is_showing_login (f->window));
  g_assert_true (pp_login_page_get_locked (login));
  g_assert_cmpstr (pp_window_get_user (f->window), ==, "alice");
  g_assert_cmpstr (gtk_editable_get_text (pp_login_page_get_user_entry (login)), ==, "alice");
  g_assert_false (gtk_editable_get_editable (pp_login_page_get_user_entry (login)));
  if (g_str_equal (lang, "en"))
    pp_test_wait_for_label (GTK_WIDGET (f->window),
                            "Locked: sign in again as alice, or sign out to let another user in.", NULL);
  /* Nothing of the station's is reachable meanwhile. */
  g_assert_false (pp_window_show_page (f->window, "inventory"));
  /* The work underneath is the same. */
  g_assert_true (pp_window_get_page (f->window, "install") == wizard);
  g_assert_true (pp_install_wizard_get_flow (PP_INSTALL_WIZARD (wizard)) == flow);
  screenshot (f, "locked");

  /* A wrong password stays locked. */
  sign_in (f, "alice", "not the password!");
  g_assert_true (pp_window_get_locked (f->window));
  /* The right one: back to the install, as it was. */
  sign_in (f, "alice", PASSWORD);
  pp_test_wait_until (signed_in, f);
  g_assert_false (pp_window_is_showing_login (f->window));
  g_assert_cmpstr (pp_window_get_page_name (f->window), ==, "install");
  g_assert_true (pp_window_get_page (f->window, "install") == wizard);
  g_assert_true (gtk_editable_get_editable (pp_login_page_get_user_entry (login)));

  /* Locked again (win.lock), then Sign Out from the lock screen. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->window), "win.lock", NULL));
  g_assert_true (pp_window_get_locked (f->window));
  g_signal_emit_by_name (login, "sign-out");
  pp_test_wait_until (signed_out, f);
  g_assert_false (pp_window_get_locked (f->window));
  g_assert_false (pp_login_page_get_locked (login));
  g_assert_null (pp_window_get_page (f->window, "install"));
  sign_in (f, "bob", PASSWORD);
  pp_test_wait_until (signed_in, f);
  g_assert_cmpstr (pp_window_get_user (f->window), ==, "bob");
}

/* A narrow window folds the sidebar away; the header's button (F9) shows
 * it, and a page chosen there takes its place. */
static gboolean
is_unmapped (gpointer data)
{
  return !gtk_widget_get_mapped (data);
}

static void
test_narrow (Fixture       *f,
             gconstpointer  data)
{
  GtkWidget *sidebar = GTK_WIDGET (pp_window_get_sidebar (f->window));

  sign_in (f, "alice", PASSWORD);
  pp_test_wait_until (signed_in, f);
  /* The inventory, without the sidebar beside it. */
  pp_test_wait_until (is_unmapped, sidebar);
  pp_test_wait_until (pp_test_is_mapped, pp_window_get_inventory_page (f->window));
  screenshot (f, "narrow");
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->window), "win.show-sidebar", NULL));
  pp_test_wait_until (pp_test_is_mapped, sidebar);
  screenshot (f, "narrow-sidebar");
  g_signal_emit_by_name (sidebar_row (f, "install"), "activate");
  g_assert_cmpstr (pp_window_get_page_name (f->window), ==, "install");
  pp_test_wait_until (is_unmapped, sidebar);
}

static void
skip_no_locale (void)
{
  g_test_skip ("the zh_CN.UTF-8 locale is not generated (locale-gen)");
}

int
main (int    argc,
      char **argv)
{
  lang = pp_test_ui_init (&argc, &argv, "Station Locked");
  if (lang == NULL)
    {
      g_test_add_func ("/ui/station/zh_CN-locale", skip_no_locale);
      return g_test_run ();
    }
  adw_init ();

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
#define ADD_NARROW(path, fn) g_test_add (path, Fixture, "narrow", fixture_set_up, fn, fixture_tear_down)
  ADD ("/ui/station/roles-and-navigation", test_roles_and_navigation);
  ADD ("/ui/station/one-time-code", test_one_time_code);
  ADD ("/ui/station/lock-after-inactivity", test_lock_after_inactivity);
  ADD_NARROW ("/ui/station/narrow", test_narrow);
#undef ADD
#undef ADD_NARROW

  return g_test_run ();
}
