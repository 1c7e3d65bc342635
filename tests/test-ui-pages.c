/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-ui-pages.c: the work orders page and the recycle page as a field
 * manager drives them, under Xvfb, on the real parts (tests/pp-install-
 * fixture.h): PpRegistryLocal on a store made by `posprov-registry init`
 * with its key host and the real posprov-termsim over TCP on 127.0.0.1.
 *
 * /ui/pages/recycle: a terminal installed first (through PpInstallFlow,
 * bob approving), then recycled through the page; bob approves from a
 * second session (his approvals page); the registry's rows and the
 * terminal (termsim show --json) are checked afterwards.
 * /ui/pages/work-orders: an install cut off by a disconnect right after
 * LOAD_KEY shows as interrupted; Resume hands it to the wizard, which
 * completes it on a terminal served again.
 *
 * Every step is saved as screenshot-pages-STEP-LANG.png in the build dir;
 * PP_TEST_LOCALE=zh_CN.UTF-8 runs the same in Simplified Chinese.
 */
#include "config.h"

#include <string.h>

#include <adwaita.h>
#include <glib/gi18n.h>

#include "pp-approvals-page.h"
#include "pp-install-fixture.h"
#include "pp-install-wizard.h"
#include "pp-link-device.h"
#include "pp-port-picker.h"
#include "pp-recycle-page.h"
#include "pp-registry-local.h"
#include "pp-termsim-server.h"
#include "pp-test-util.h"
#include "pp-ui-test-util.h"
#include "pp-work-orders-page.h"

static const char *lang = "en";

static const char *
tr (const char *msgid)
{
  return g_dgettext (GETTEXT_PACKAGE, msgid);
}

static void
shot (GtkWidget  *window,
      const char *step)
{
  g_autofree char *name = g_strdup_printf ("screenshot-pages-%s-%s.png", step, lang);

  pp_test_settle ();
  pp_test_save_screenshot (window, name);
}

/* ---- what a user sees ---- */

/* A shown widget under @root: a row titled @text, a button labelled
 * @text, or (@partial) a label containing @text. */
typedef struct {
  const char *text;
  gboolean    partial;
} Look;

static gboolean
widget_says (GtkWidget  *widget,
             const Look *look)
{
  if (ADW_IS_PREFERENCES_ROW (widget))
    return g_strcmp0 (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (widget)), look->text) == 0;
  if (GTK_IS_BUTTON (widget) && gtk_button_get_label (GTK_BUTTON (widget)) != NULL)
    return g_strcmp0 (gtk_button_get_label (GTK_BUTTON (widget)), look->text) == 0;
  if (GTK_IS_LABEL (widget) && look->partial)
    return strstr (gtk_label_get_text (GTK_LABEL (widget)), look->text) != NULL;
  return FALSE;
}

static GtkWidget *
look_for (GtkWidget  *widget,
          const Look *look)
{
  if (!gtk_widget_get_mapped (widget))
    return NULL;
  if (widget_says (widget, look))
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *hit = look_for (child, look);

      if (hit != NULL)
        return hit;
    }
  return NULL;
}

static GtkWidget *
look_for_type (GtkWidget *widget,
               GType      type)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (widget, type) && gtk_widget_get_mapped (widget))
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *hit = look_for_type (child, type);

      if (hit != NULL)
        return hit;
    }
  return NULL;
}

static GtkWidget *
shown (GtkWidget  *root,
       const char *msgid)
{
  Look look = { tr (msgid), FALSE };
  GtkWidget *hit = look_for (root, &look);

  if (hit == NULL)
    g_error ("“%s” is not on screen", look.text);
  return hit;
}

typedef struct {
  GtkWidget *root;
  Look       look;
} LookWait;

static gboolean
look_found (gpointer data)
{
  LookWait *wait = data;

  return look_for (wait->root, &wait->look) != NULL;
}

static void
wait_for_text (GtkWidget  *root,
               const char *text)
{
  LookWait wait = { root, { text, TRUE } };

  pp_test_wait_until (look_found, &wait);
}

static void
type_into (GtkWidget  *root,
           const char *row,
           const char *text)
{
  gtk_editable_set_text (GTK_EDITABLE (shown (root, row)), text);
}

static void
press_enter (GtkWidget  *root,
             const char *row)
{
  g_signal_emit_by_name (shown (root, row), "entry-activated");
}

static void
click (GtkWidget  *root,
       const char *label)
{
  GtkWidget *button = shown (root, label);

  g_assert_true (gtk_widget_is_sensitive (button));
  g_signal_emit_by_name (button, "clicked");
}

/* The page a pp_session_page_open_window window holds. */
static GtkWidget *
page_in (GtkWindow *window)
{
  return gtk_widget_get_last_child (adw_window_get_content (ADW_WINDOW (window)));
}

/* ---- the fixture ---- */

typedef struct {
  PpInstallFixture    inst;
  PpRegistry         *registry;
  PpTestTermsimServer server;
  gboolean            serving;
  char               *port;
} Fixture;

static void
serve (Fixture            *f,
       const char * const *extra)
{
  if (f->serving)
    pp_test_termsim_stop (&f->server);
  g_free (f->port);
  f->port = pp_install_fixture_serve (&f->inst, &f->server, f->inst.serials[0], extra, NULL);
  f->serving = TRUE;
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  pp_install_fixture_set_up (&f->inst, "PG", 1);
  f->registry = PP_REGISTRY (pp_registry_local_new_with_key_store (f->inst.db, f->inst.keys, PP_INSTALL_SECRET,
                                                                   &error));
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  if (f->serving)
    pp_test_termsim_stop (&f->server);
  if (f->registry != NULL)
    pp_registry_local_close (PP_REGISTRY_LOCAL (f->registry));
  g_clear_object (&f->registry);
  g_free (f->port);
  pp_install_fixture_tear_down (&f->inst);
}

static char *
sql_text (Fixture    *f,
          const char *sql)
{
  return pp_install_fixture_sql_text (&f->inst, sql);
}

/* ---- an install without the wizard (bob approves in-process) ---- */

typedef struct {
  GAsyncResult *result;
} Done;

static void
on_done (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  ((Done *) data)->result = g_object_ref (result);
}

static gboolean
is_done (gpointer data)
{
  return ((Done *) data)->result != NULL;
}

static void
on_install_needs (PpInstallFlow *flow,
                  GParamSpec    *pspec,
                  PpRegistry    *registry)
{
  if (pp_install_flow_get_needs (flow) == PP_INSTALL_NEEDS_APPROVAL)
    g_assert_true (pp_install_flow_set_reviewer (flow, registry, "bob", TRUE, "Checked the papers", NULL));
}

/* Runs an install of the fixture's terminal on f->port; whether it ended
 * DONE; the order's UUID in @out_order. */
static gboolean
install (Fixture  *f,
         char    **out_order)
{
  g_autoptr(PpInstallFlow) flow = pp_install_flow_new (f->registry, "alice");
  g_autoptr(PpLinkDevice) device = NULL;
  g_autoptr(GError) error = NULL;
  Done opened = { NULL }, ran = { NULL };
  gboolean ok;

  pp_link_device_open_async (f->port, NULL, NULL, on_done, &opened);
  pp_test_wait_until (is_done, &opened);
  device = pp_link_device_open_finish (opened.result, &error);
  g_assert_no_error (error);
  g_assert_true (pp_install_flow_set_serial (flow, f->inst.serials[0], NULL));
  g_assert_true (pp_install_flow_set_merchant_id (flow, f->inst.merchant_id, NULL));
  g_assert_true (pp_install_flow_set_program (flow, PP_INSTALL_PROGRAM, PP_INSTALL_VERSION, NULL));
  pp_install_flow_set_device (flow, PP_TERMINAL_DEVICE (device));
  g_signal_connect (flow, "notify::needs", G_CALLBACK (on_install_needs), f->registry);
  pp_install_flow_run_async (flow, NULL, on_done, &ran);
  pp_test_wait_until (is_done, &ran);
  ok = pp_install_flow_run_finish (flow, ran.result, &error);
  g_test_message ("install: %s", ok ? "done" : error->message);
  *out_order = g_strdup (pp_install_flow_get_order_uuid (flow));
  g_object_unref (opened.result);
  g_object_unref (ran.result);
  return ok;
}

/* ---- waiting on the pages ---- */

typedef struct {
  PpRecyclePage *page;
  const char    *name;
  PpRecycleNeeds needs;
  PpRecycleStep  step;
} RecycleWait;

static gboolean
recycle_at (gpointer data)
{
  RecycleWait *wait = data;
  PpRecycleFlow *flow = pp_recycle_page_get_flow (wait->page);

  if (flow == NULL || g_strcmp0 (pp_recycle_page_get_page_name (wait->page), wait->name) != 0)
    return FALSE;
  if (pp_recycle_flow_get_step (flow) == PP_RECYCLE_STEP_FAILED)
    g_error ("the recycle failed: %s", pp_recycle_flow_get_message (flow));
  return wait->step == PP_RECYCLE_STEP_FAILED ? pp_recycle_flow_get_needs (flow) == wait->needs
                                              : pp_recycle_flow_get_step (flow) == wait->step;
}

static void
wait_recycle_needs (PpRecyclePage  *page,
                    const char     *name,
                    PpRecycleNeeds  needs)
{
  RecycleWait wait = { page, name, needs, PP_RECYCLE_STEP_FAILED };

  pp_test_wait_until (recycle_at, &wait);
}

static gboolean
has_pending (gpointer page)
{
  return pp_approvals_page_get_n_pending (page) > 0;
}

static gboolean
has_decided (gpointer page)
{
  return pp_approvals_page_get_n_decided (page) > 0;
}

/* ---- recycle ---- */

static void
test_recycle (Fixture       *f,
              gconstpointer  data)
{
  const char *serial = f->inst.serials[0];
  g_autofree char *install_order = NULL;
  g_autofree char *terminal = NULL, *order = NULL, *journal = NULL, *approval = NULL;
  g_autoptr(JsonNode) terminal_shown = NULL;
  GtkWindow *window, *bob_window;
  PpRecyclePage *page;
  GtkWidget *bob_page, *picker;
  RecycleWait done;

  serve (f, NULL);
  g_assert_true (install (f, &install_order));
  g_assert_cmpuint (pp_install_fixture_count_keys (&f->inst, serial, NULL), ==, 1);

  window = pp_recycle_page_open_window (NULL, f->registry, "alice", PP_USER_ROLE_FIELD_MANAGER);
  page = PP_RECYCLE_PAGE (page_in (window));
  pp_test_wait_until (pp_test_is_mapped, page);
  wait_recycle_needs (page, "scan", PP_RECYCLE_NEEDS_SERIAL);
  shot (GTK_WIDGET (window), "recycle-scan");

  /* The scanner types the label's payload, as the wizard's scan reads it. */
  type_into (GTK_WIDGET (window), "_Serial or Label", "posprov:terminal?serial=PG0001&model=X1");
  press_enter (GTK_WIDGET (window), "_Serial or Label");
  wait_recycle_needs (page, "confirm", PP_RECYCLE_NEEDS_CONFIRM);
  wait_for_text (GTK_WIDGET (window), tr ("Keys Erased"));
  wait_for_text (GTK_WIDGET (window), tr ("Key Host Binding Removed"));
  /* No reason, no recycle. */
  g_assert_false (gtk_widget_is_sensitive (shown (GTK_WIDGET (window), "_Recycle the Terminal")));
  type_into (GTK_WIDGET (window), "_Reason (required)", "Merchant closed the shop");
  shot (GTK_WIDGET (window), "recycle-confirm");
  click (GTK_WIDGET (window), "_Recycle the Terminal");

  wait_recycle_needs (page, "approval", PP_RECYCLE_NEEDS_APPROVAL);
  pp_test_settle ();
  shot (GTK_WIDGET (window), "recycle-approval");

  /* bob, in a second session, sees the request and approves it. */
  bob_window = pp_approvals_page_open_window (NULL, f->registry, "bob", PP_USER_ROLE_REVIEWER);
  bob_page = page_in (bob_window);
  pp_test_wait_until (has_pending, bob_page);
  wait_for_text (GTK_WIDGET (bob_window), serial);
  type_into (GTK_WIDGET (bob_window), "_Reason (required)", "Terminal returned to the depot");
  shot (GTK_WIDGET (bob_window), "recycle-bob-approves");
  click (GTK_WIDGET (bob_window), "_Approve");
  pp_test_wait_until (has_decided, bob_page);
  gtk_window_destroy (bob_window);

  /* The same terminal on the cable again. */
  wait_recycle_needs (page, "connect", PP_RECYCLE_NEEDS_DEVICE);
  shot (GTK_WIDGET (window), "recycle-connect");
  /* The simulator as a port the station knows of, picked from the list. */
  picker = look_for_type (GTK_WIDGET (window), PP_TYPE_PORT_PICKER);
  g_assert_nonnull (picker);
  pp_port_picker_add_known_port (PP_PORT_PICKER (picker), f->port, "Terminal simulator");
  wait_for_text (GTK_WIDGET (window), "Terminal simulator");
  shot (GTK_WIDGET (window), "recycle-connect-known");
  g_assert_true (gtk_widget_activate (gtk_widget_get_ancestor (look_for (GTK_WIDGET (window),
                                                                          &(Look) { "Terminal simulator", TRUE }),
                                                                GTK_TYPE_LIST_BOX_ROW)));
  done = (RecycleWait) { page, "done", PP_RECYCLE_NEEDS_NOTHING, PP_RECYCLE_STEP_DONE };
  pp_test_wait_until (recycle_at, &done);
  wait_for_text (GTK_WIDGET (window), serial);
  wait_for_text (GTK_WIDGET (window), f->inst.mid);
  wait_for_text (GTK_WIDGET (window), "bob");
  shot (GTK_WIDGET (window), "recycle-done");

  /* The registry: in stock, no merchant, the recycle order closed, and
   * the journal's entries of it. */
  terminal = sql_text (f, "SELECT state || '|' || (mid IS NULL) || '|' || (tid IS NULL) FROM terminals "
                          "WHERE serial = 'PG0001'");
  g_assert_cmpstr (terminal, ==, "in_stock|1|1");
  order = sql_text (f, "SELECT state || '|' || requester || '|' || reason FROM work_orders "
                       "WHERE serial = 'PG0001' AND kind = 'recycle'");
  g_assert_cmpstr (order, ==, "closed|alice|Merchant closed the shop");
  journal = sql_text (f, "SELECT group_concat (action, ',') FROM (SELECT action FROM audit ORDER BY seq)");
  g_test_message ("journal: %s", journal);
  g_assert_cmpuint (pp_install_fixture_count_audit (&f->inst, "keyhost.ubt_kdh"), ==, 1);
  /* After the install's entries: the recycle order, its approval, the unbind token, the close. */
  g_assert_true (g_str_has_suffix (journal, "order.close,order.create,approval.request,order.approve,"
                                            "keyhost.ubt_kdh,order.close"));
  approval = sql_text (f, "SELECT a.requester || '|' || a.approver || '|' || a.decision FROM approvals a "
                          "JOIN work_orders o ON o.id = a.order_id WHERE o.kind = 'recycle'");
  g_assert_cmpstr (approval, ==, "alice|bob|approved");
  /* The terminal itself: no key, no key host. */
  g_assert_cmpuint (pp_install_fixture_count_keys (&f->inst, serial, NULL), ==, 0);
  terminal_shown = pp_install_fixture_show (&f->inst, serial);
  g_assert_true (json_node_is_null (json_object_get_member (json_node_get_object (terminal_shown), "bound_kdh")));
  gtk_window_destroy (window);
}

/* ---- work orders ---- */

static gboolean
one_interrupted (gpointer page)
{
  return pp_work_orders_page_get_n_interrupted (page) == 1;
}

static gboolean
none_interrupted (gpointer page)
{
  return pp_work_orders_page_get_n_interrupted (page) == 0;
}

static gboolean
none_open (gpointer page)
{
  return pp_work_orders_page_get_n_orders (page) == 0;
}

static gboolean
wizard_needs_device (gpointer wizard)
{
  PpInstallFlow *flow = pp_install_wizard_get_flow (wizard);

  return flow != NULL && g_strcmp0 (pp_install_wizard_get_page_name (wizard), "connect") == 0 &&
         pp_install_flow_get_needs (flow) == PP_INSTALL_NEEDS_DEVICE;
}

static gboolean
wizard_done (gpointer wizard)
{
  PpInstallFlow *flow = pp_install_wizard_get_flow (wizard);

  if (flow != NULL && pp_install_flow_get_step (flow) == PP_INSTALL_STEP_FAILED)
    g_error ("the resumed install failed: %s", pp_install_flow_get_message (flow));
  return flow != NULL && pp_install_flow_get_step (flow) == PP_INSTALL_STEP_DONE &&
         g_strcmp0 (pp_install_wizard_get_page_name (wizard), "done") == 0;
}

static void
test_work_orders (Fixture       *f,
                  gconstpointer  data)
{
  const char *cut[] = { "--disconnect-after", "after-LOAD_KEY", NULL };
  g_autofree char *uuid = NULL, *state = NULL, *terminal = NULL;
  GtkWindow *window, *wizard_window;
  PpWorkOrdersPage *page;
  PpInstallWizard *wizard;

  /* The cable goes right after the key went in. */
  serve (f, cut);
  g_assert_false (install (f, &uuid));
  g_assert_nonnull (uuid);
  state = sql_text (f, "SELECT state FROM work_orders WHERE kind = 'install'");
  g_test_message ("the order after the cut: %s", state);
  g_assert_cmpstr (state, !=, "closed");
  serve (f, NULL);

  wizard_window = pp_install_wizard_open_window (NULL, f->registry, "alice", PP_USER_ROLE_FIELD_MANAGER);
  wizard = PP_INSTALL_WIZARD (page_in (wizard_window));
  window = pp_work_orders_page_open_window (NULL, f->registry, "alice", PP_USER_ROLE_FIELD_MANAGER);
  page = PP_WORK_ORDERS_PAGE (page_in (window));
  pp_work_orders_page_set_wizard (page, wizard);
  g_signal_connect_swapped (page, "resume-order", G_CALLBACK (pp_install_wizard_resume_order), wizard);
  pp_test_wait_until (pp_test_is_mapped, page);

  pp_test_wait_until (one_interrupted, page);
  wait_for_text (GTK_WIDGET (window), tr ("Interrupted"));
  wait_for_text (GTK_WIDGET (window), "PG0001");
  wait_for_text (GTK_WIDGET (window), f->inst.mid);
  shot (GTK_WIDGET (window), "orders-interrupted");

  click (GTK_WIDGET (window), "_Resume");
  /* Running here now: no longer interrupted. */
  pp_test_wait_until (none_interrupted, page);
  pp_test_wait_until (wizard_needs_device, wizard);
  g_assert_cmpstr (pp_install_flow_get_order_uuid (pp_install_wizard_get_flow (wizard)), ==, uuid);
  shot (GTK_WIDGET (window), "orders-resuming");
  shot (GTK_WIDGET (wizard_window), "orders-wizard-connect");
  type_into (GTK_WIDGET (wizard_window), "_Network Address (tcp:HOST:PORT)", f->port);
  press_enter (GTK_WIDGET (wizard_window), "_Network Address (tcp:HOST:PORT)");
  pp_test_wait_until (wizard_done, wizard);
  shot (GTK_WIDGET (wizard_window), "orders-wizard-done");

  /* The registry: the same order closed, the terminal installed with one key. */
  g_clear_pointer (&state, g_free);
  state = sql_text (f, "SELECT uuid || '|' || state FROM work_orders WHERE kind = 'install'");
  g_assert_true (g_str_has_prefix (state, uuid));
  g_assert_true (g_str_has_suffix (state, "|closed"));
  terminal = sql_text (f, "SELECT state || '|' || (kcv IS NOT NULL) FROM terminals WHERE serial = 'PG0001'");
  g_assert_cmpstr (terminal, ==, "installed|1");
  g_assert_cmpuint (pp_install_fixture_count_keys (&f->inst, "PG0001", NULL), ==, 1);

  /* The page follows the change feed: nothing open; All shows the closed one. */
  pp_test_wait_until (none_open, page);
  wait_for_text (GTK_WIDGET (window), tr ("No Open Work Orders"));
  shot (GTK_WIDGET (window), "orders-none-open");
  click (GTK_WIDGET (window), "_All");
  g_assert_cmpuint (pp_work_orders_page_get_n_orders (page), ==, 1);
  wait_for_text (GTK_WIDGET (window), pp_work_order_state_get_label (PP_WORK_ORDER_STATE_CLOSED));
  shot (GTK_WIDGET (window), "orders-all");
  gtk_window_destroy (window);
  gtk_window_destroy (wizard_window);
}

static void
on_needs_stop (PpInstallFlow *flow,
               GParamSpec    *pspec,
               GCancellable  *cancellable)
{
  if (pp_install_flow_get_needs (flow) == PP_INSTALL_NEEDS_APPROVAL)
    g_cancellable_cancel (cancellable);
}

static gboolean
has_order (gpointer page)
{
  return pp_work_orders_page_get_n_orders (page) == 1;
}

static GtkWidget *
message_dialog (void)
{
  GListModel *toplevels = gtk_window_get_toplevels ();   /* not ours */

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWidget) window = g_list_model_get_item (toplevels, i);

      if (ADW_IS_MESSAGE_DIALOG (window) && gtk_widget_get_mapped (window))
        return window;
    }
  return NULL;
}

static gboolean
dialog_shown (gpointer data)
{
  return message_dialog () != NULL;
}

/* An order left waiting for its approval (the station closed): a reviewer
 * sees it but may not cancel it; the field manager cancels it with a reason. */
static void
test_cancel (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(PpInstallFlow) flow = pp_install_flow_new (f->registry, "alice");
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autofree char *state = NULL;
  Done ran = { NULL };
  GtkWindow *window;
  GtkWidget *page, *dialog;

  g_assert_true (pp_install_flow_set_serial (flow, f->inst.serials[0], NULL));
  g_assert_true (pp_install_flow_set_merchant_id (flow, f->inst.merchant_id, NULL));
  g_assert_true (pp_install_flow_set_program (flow, PP_INSTALL_PROGRAM, PP_INSTALL_VERSION, NULL));
  g_signal_connect (flow, "notify::needs", G_CALLBACK (on_needs_stop), cancellable);
  pp_install_flow_run_async (flow, cancellable, on_done, &ran);
  pp_test_wait_until (is_done, &ran);
  g_assert_false (pp_install_flow_run_finish (flow, ran.result, NULL));
  g_object_unref (ran.result);

  window = pp_work_orders_page_open_window (NULL, f->registry, "bob", PP_USER_ROLE_REVIEWER);
  page = page_in (window);
  pp_test_wait_until (has_order, page);
  wait_for_text (GTK_WIDGET (window), "PG0001");
  g_assert_null (look_for (GTK_WIDGET (window), &(Look) { tr ("Cancel _Order…"), FALSE }));
  shot (GTK_WIDGET (window), "orders-reviewer");
  gtk_window_destroy (window);

  window = pp_work_orders_page_open_window (NULL, f->registry, "alice", PP_USER_ROLE_FIELD_MANAGER);
  page = page_in (window);
  pp_test_wait_until (has_order, page);
  click (GTK_WIDGET (window), "Cancel _Order…");
  pp_test_wait_until (dialog_shown, NULL);
  dialog = message_dialog ();
  /* No reason, no cancel. */
  g_assert_false (adw_message_dialog_get_response_enabled (ADW_MESSAGE_DIALOG (dialog), "cancel-order"));
  type_into (dialog, "_Reason (required)", "Merchant changed their mind");
  g_assert_true (adw_message_dialog_get_response_enabled (ADW_MESSAGE_DIALOG (dialog), "cancel-order"));
  shot (dialog, "orders-cancel");
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "cancel-order");
  pp_test_wait_until (none_open, page);
  wait_for_text (GTK_WIDGET (window), tr ("No Open Work Orders"));
  state = sql_text (f, "SELECT state FROM work_orders WHERE kind = 'install'");
  g_assert_cmpstr (state, ==, "cancelled");
  g_assert_cmpuint (pp_install_fixture_count_audit (&f->inst, "order.cancel"), ==, 1);
  shot (GTK_WIDGET (window), "orders-cancelled");
  gtk_window_destroy (window);
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
  lang = pp_test_ui_init (&argc, &argv, "Work Orders");
  if (lang == NULL)
    {
      /* Under each test's path: meson runs them one by one with -p. */
      g_test_add_func ("/ui/pages/recycle", skip_no_locale);
      g_test_add_func ("/ui/pages/work-orders", skip_no_locale);
      g_test_add_func ("/ui/pages/cancel", skip_no_locale);
      return g_test_run ();
    }
  adw_init ();
  g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE, NULL);

  g_test_add ("/ui/pages/recycle", Fixture, NULL, fixture_set_up, test_recycle, fixture_tear_down);
  g_test_add ("/ui/pages/work-orders", Fixture, NULL, fixture_set_up, test_work_orders, fixture_tear_down);
  g_test_add ("/ui/pages/cancel", Fixture, NULL, fixture_set_up, test_cancel, fixture_tear_down);
  return g_test_run ();
}
