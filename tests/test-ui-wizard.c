/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-ui-wizard.c: the install wizard and the supervisor's approvals page
 * as their users drive them, under Xvfb, on the real parts
 * (tests/pp-install-fixture.h): PpRegistryLocal on a store made by the real
 * `posprov-registry init` with its key host, a program package packed and
 * uploaded with the real posprov-tool, and the real posprov-termsim over
 * TCP on 127.0.0.1 (certified by CA_KRD, its certificate on record), paced
 * at 460800 baud.
 *
 * The tests type into the entries and press the buttons a user would, wait
 * on the flow's properties and the pages' (never a sleep), save a
 * screenshot of every step (screenshot-wizard-STEP-LANG.png in the build
 * dir), and check afterwards what the registry recorded: the order closed,
 * the terminal installed with its MID/TID and KCV, the approval with its
 * requester and approver, and the journal's entries.
 *
 * PP_TEST_LOCALE=zh_CN.UTF-8 runs the same in Simplified Chinese.
 */
#include "config.h"

#include <locale.h>
#include <string.h>

#include <adwaita.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "pp-approvals-page.h"
#include "pp-install-wizard.h"
#include "pp-install-fixture.h"
#include "pp-qr-view.h"
#include "pp-registry-local.h"
#include "pp-termsim-server.h"
#include "pp-test-util.h"

#define SERIAL "WZ0001"
#define MODEL "X1"
#define PROGRAM_NAME PP_INSTALL_PROGRAM
#define PROGRAM_VERSION PP_INSTALL_VERSION
#define WAIT_SECONDS 60

/* "en" or "zh_CN": names the screenshots. */
static const char *screenshot_lang = "en";

static const char *
tr (const char *msgid)
{
  return g_dgettext (GETTEXT_PACKAGE, msgid);
}

/* ---- waiting ---- */

typedef gboolean (*Condition) (gpointer data);

static gboolean
on_give_up (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* The wizard under test, to say where its flow stood when a wait fails. */
static PpInstallWizard *current_wizard;

static void
describe_flow (void)
{
  PpInstallFlow *flow = current_wizard != NULL ? pp_install_wizard_get_flow (current_wizard) : NULL;
  g_autofree char *message = NULL;
  const GError *error;

  if (flow == NULL)
    return;
  g_object_get (flow, "message", &message, NULL);
  error = pp_install_flow_get_error (flow);
  g_test_message ("flow at %s (page %s): %s; error: %s", pp_install_step_to_string (pp_install_flow_get_step (flow)),
                  pp_install_wizard_get_page_name (current_wizard), message,
                  error != NULL ? error->message : "none");
}

/* Runs the main loop until @condition holds; fails the test after a minute. */
static void
wait_until (Condition    condition,
            gpointer     data,
            const char  *what)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add_seconds (WAIT_SECONDS, on_give_up, &timed_out);

  while (!condition (data))
    {
      if (timed_out)
        describe_flow ();
      if (timed_out)
        g_error ("still waiting after %d s for %s", WAIT_SECONDS, what);
      g_main_context_iteration (NULL, TRUE);
    }
  if (!timed_out)
    g_source_remove (id);
}

static void
on_after_paint (GdkFrameClock *clock,
                guint         *paints)
{
  /* An idle window draws no second frame of its own: ask for it. */
  if (++(*paints) < 2)
    gdk_frame_clock_request_phase (clock, GDK_FRAME_CLOCK_PHASE_PAINT);
}

static gboolean
painted_twice (gpointer data)
{
  return *(guint *) data >= 2;
}

/* Until the window has drawn twice what it shows now. */
static void
wait_for_paint (GtkWidget  *window,
                const char *what)
{
  GdkFrameClock *clock = gtk_widget_get_frame_clock (window);
  guint paints = 0;
  gulong id;

  g_assert_nonnull (clock);
  id = g_signal_connect (clock, "after-paint", G_CALLBACK (on_after_paint), &paints);
  gtk_widget_queue_draw (window);
  gdk_frame_clock_request_phase (clock, GDK_FRAME_CLOCK_PHASE_PAINT);
  wait_until (painted_twice, &paints, what);
  g_signal_handler_disconnect (clock, id);
}

static gboolean
has_size (gpointer window)
{
  return gtk_widget_get_width (window) > 0 && gtk_widget_get_height (window) > 0;
}

static void
save_screenshot (GtkWidget  *window,
                 const char *what)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (window);
  g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autofree char *name = g_strdup_printf ("screenshot-%s-%s.png", what, screenshot_lang);
  g_autofree char *path = g_test_build_filename (G_TEST_BUILT, name, NULL);
  int width, height;

  wait_until (has_size, window, "the window to get its size");
  wait_for_paint (window, name);
  width = gtk_widget_get_width (window);
  height = gtk_widget_get_height (window);
  gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), width, height);
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  g_assert_nonnull (node);
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (GTK_NATIVE (window)), node,
                                         &GRAPHENE_RECT_INIT (0, 0, width, height));
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("screenshot: %s", path);
}

/* ---- finding what a user sees ---- */

typedef gboolean (*Match) (GtkWidget *widget, gconstpointer data);

static GtkWidget *
find_widget (GtkWidget     *widget,
             Match          match,
             gconstpointer  data)
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
is_row_titled (GtkWidget     *widget,
               gconstpointer  title)
{
  return ADW_IS_PREFERENCES_ROW (widget) &&
         g_strcmp0 (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (widget)), title) == 0;
}

static gboolean
is_button_labelled (GtkWidget     *widget,
                    gconstpointer  label)
{
  GtkWidget *child;

  if (!GTK_IS_BUTTON (widget))
    return FALSE;
  if (g_strcmp0 (gtk_button_get_label (GTK_BUTTON (widget)), label) == 0)
    return TRUE;
  /* A stack switcher's button: its label is its child. */
  child = gtk_button_get_child (GTK_BUTTON (widget));
  return GTK_IS_LABEL (child) && g_strcmp0 (gtk_label_get_label (GTK_LABEL (child)), label) == 0;
}

static gboolean
is_label_containing (GtkWidget     *widget,
                     gconstpointer  text)
{
  return GTK_IS_LABEL (widget) && strstr (gtk_label_get_text (GTK_LABEL (widget)), text) != NULL;
}

/* A message in the error style, shown. */
static gboolean
is_error_shown (GtkWidget     *widget,
                gconstpointer  unused)
{
  return GTK_IS_LABEL (widget) && gtk_widget_has_css_class (widget, "error") &&
         gtk_label_get_text (GTK_LABEL (widget))[0] != '\0';
}

static gboolean
is_qr_code (GtkWidget     *widget,
            gconstpointer  unused)
{
  return PP_IS_QR_VIEW (widget);
}

/* What a wait looks for: a widget under @root that @match accepts. */
typedef struct {
  GtkWidget     *root;
  Match          match;
  gconstpointer  data;
} FindWait;

static gboolean
found (gpointer data)
{
  FindWait *wait = data;

  return find_widget (wait->root, wait->match, wait->data) != NULL;
}

/* Until a widget @match accepts shows under @root; returns it. */
static GtkWidget *
wait_for_widget (GtkWidget     *root,
                 Match          match,
                 gconstpointer  data,
                 const char    *what)
{
  FindWait wait = { root, match, data };

  wait_until (found, &wait, what);
  return find_widget (root, match, data);
}

/* Until the row titled @title (translated here) shows, as one in a revealer does. */
static void
wait_for_row (GtkWidget  *root,
              const char *title)
{
  wait_for_widget (root, is_row_titled, tr (title), title);
}

static GtkWidget *
row_titled (GtkWidget  *root,
            const char *title)
{
  GtkWidget *row = find_widget (root, is_row_titled, title);

  if (row == NULL)
    g_error ("no row titled “%s” on screen", title);
  return row;
}

static void
type_into (GtkWidget  *root,
           const char *row_title,
           const char *text)
{
  gtk_editable_set_text (GTK_EDITABLE (row_titled (root, tr (row_title))), text);
}

/* Enter in the entry row titled @row_title. */
static void
press_enter (GtkWidget  *root,
             const char *row_title)
{
  g_signal_emit_by_name (row_titled (root, tr (row_title)), "entry-activated");
}

static GtkWidget *
button_labelled (GtkWidget  *root,
                 const char *label)
{
  GtkWidget *button = find_widget (root, is_button_labelled, tr (label));

  if (button == NULL)
    g_error ("no button “%s” on screen", tr (label));
  return button;
}

/* Until an error shows on @root; returns its text. */
static const char *
wait_for_error (GtkWidget *root)
{
  return gtk_label_get_text (GTK_LABEL (wait_for_widget (root, is_error_shown, NULL, "an error message on screen")));
}

static void
click (GtkWidget  *root,
       const char *label)
{
  GtkWidget *button = button_labelled (root, label);

  g_assert_true (gtk_widget_is_sensitive (button));
  g_signal_emit_by_name (button, "clicked");
}

static void
wait_for_text (GtkWidget  *root,
               const char *text)
{
  g_autofree char *what = g_strdup_printf ("“%s” on screen", text);

  wait_for_widget (root, is_label_containing, text, what);
}

/* ---- the flow ---- */

typedef struct {
  PpInstallWizard *wizard;
  const char      *page;
  PpInstallNeeds   needs;
} PageWait;

static gboolean
page_ready (gpointer data)
{
  PageWait *wait = data;
  PpInstallFlow *flow = pp_install_wizard_get_flow (wait->wizard);

  return g_strcmp0 (pp_install_wizard_get_page_name (wait->wizard), wait->page) == 0 &&
         flow != NULL && pp_install_flow_get_needs (flow) == wait->needs;
}

/* Until the wizard shows @page and its flow needs @needs. */
static void
wait_for_page (PpInstallWizard *wizard,
               const char      *page,
               PpInstallNeeds   needs)
{
  PageWait wait = { wizard, page, needs };
  g_autofree char *what = g_strdup_printf ("the %s page", page);

  wait_until (page_ready, &wait, what);
}

static gboolean
flow_at_step (gpointer data)
{
  PageWait *wait = data;
  PpInstallFlow *flow = pp_install_wizard_get_flow (wait->wizard);

  return flow != NULL && pp_install_flow_get_step (flow) == (PpInstallStep) wait->needs;
}

static void
wait_for_step (PpInstallWizard *wizard,
               PpInstallStep    step)
{
  PageWait wait = { wizard, NULL, (PpInstallNeeds) step };

  wait_until (flow_at_step, &wait, pp_install_step_to_string (step));
}

/* ---- the fixture ---- */

typedef struct {
  PpInstallFixture inst;
  PpRegistry *registry;
  PpTestTermsimServer server;
  char *port;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  /* Paced like a fast serial link, so the push shows its progress. */
  const char *extra[] = { "--emulate-baud", "460800", NULL };

  pp_install_fixture_set_up (&f->inst, "WZ", 1);
  g_assert_cmpstr (f->inst.serials[0], ==, SERIAL);
  f->registry = PP_REGISTRY (pp_registry_local_new_with_key_store (f->inst.db, f->inst.keys, PP_INSTALL_SECRET,
                                                                   &error));
  g_assert_no_error (error);
  f->port = pp_install_fixture_serve (&f->inst, &f->server, SERIAL, extra, NULL);
  g_assert_true (g_str_has_prefix (f->port, "tcp:"));
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  current_wizard = NULL;
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
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  char *result = NULL;

  g_assert_cmpint (sqlite3_open_v2 (f->inst.db, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  if (sqlite3_step (stmt) == SQLITE_ROW && sqlite3_column_text (stmt, 0) != NULL)
    result = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return result;
}

/* ---- the windows ---- */

/* The page a pp_page_window_new window holds, under its header bar. */
static GtkWidget *
page_of (GtkWidget *window)
{
  GtkWidget *page = gtk_widget_get_last_child (adw_window_get_content (ADW_WINDOW (window)));

  g_assert_true (PP_IS_INSTALL_WIZARD (page) || PP_IS_APPROVALS_PAGE (page));
  return page;
}

static gboolean
is_mapped (gpointer data)
{
  return gtk_widget_get_mapped (GTK_WIDGET (data));
}

/* ---- the steps a field manager takes ---- */

static void
scan_and_choose_merchant (GtkWidget       *window,
                          PpInstallWizard *wizard,
                          const char      *scanned)
{
  /* The scanner types the label's payload and Enter (into a new flow after a refusal). */
  g_assert_cmpstr (pp_install_wizard_get_page_name (wizard), ==, "scan");
  type_into (window, "_Serial or Label", scanned);
  press_enter (window, "_Serial or Label");
  wait_for_page (wizard, "merchant", PP_INSTALL_NEEDS_MERCHANT);
  {
    g_autofree char *serial = NULL;

    g_object_get (pp_install_wizard_get_flow (wizard), "serial", &serial, NULL);
    g_assert_cmpstr (serial, ==, SERIAL);
  }
}

static void
choose_program (GtkWidget       *window,
                PpInstallWizard *wizard)
{
  wait_for_page (wizard, "program", PP_INSTALL_NEEDS_PROGRAM);
  wait_for_text (window, PROGRAM_NAME " " PROGRAM_VERSION);
  save_screenshot (window, "wizard-program");
  click (window, "_Request Approval");
  wait_for_page (wizard, "approval", PP_INSTALL_NEEDS_APPROVAL);
}

/* The approval page shows exactly what is requested, and its QR code
 * carries the approval's id. */
typedef struct {
  GtkWidget  *qr;
  const char *payload;
} QrWait;

static gboolean
qr_shows (gpointer data)
{
  QrWait *w = data;

  return g_strcmp0 (pp_qr_view_get_text (PP_QR_VIEW (w->qr)), w->payload) == 0;
}

static void
on_approval_read (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  PpRegistryApproval **out = user_data;
  g_autoptr(GError) error = NULL;

  *out = pp_registry_get_approval_finish (PP_REGISTRY (source), result, &error);
  g_assert_no_error (error);
}

static gboolean
approval_read (gpointer data)
{
  return *(PpRegistryApproval **) data != NULL;
}

static void
check_approval_page (GtkWidget       *window,
                     PpRegistry      *registry,
                     PpInstallWizard *wizard)
{
  g_autoptr(PpRegistryApproval) request = NULL;
  QrWait qr_wait;
  PpInstallFlow *flow = pp_install_wizard_get_flow (wizard);
  g_autofree char *approval = NULL;
  g_autofree char *mid = NULL;
  g_autofree char *tid = NULL;
  g_autofree char *payload = NULL;
  g_autofree char *ids = NULL;
  GtkWidget *qr;

  g_object_get (flow, "approval-uuid", &approval, "mid", &mid, "tid", &tid, NULL);
  g_assert_nonnull (approval);
  g_assert_nonnull (mid);
  g_assert_nonnull (tid);
  /* The registry's payload with the request's short code, which a
   * reviewer's station opens (docs/registry.md, "Approval codes"). */
  pp_registry_get_approval_async (registry, approval, NULL, on_approval_read, &request);
  wait_until (approval_read, &request, "the approval request");
  g_assert_nonnull (request->code);
  payload = pp_registry_approval_qr_payload (request);
  g_assert_nonnull (strstr (payload, request->code));
  qr = find_widget (window, is_qr_code, NULL);
  g_assert_nonnull (qr);
  qr_wait.qr = qr;
  qr_wait.payload = payload;
  wait_until (qr_shows, &qr_wait, "the approval's QR code with its short code");
  g_assert_cmpuint (pp_qr_view_get_size (PP_QR_VIEW (qr)), >=, 21);
  g_assert_cmpstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row_titled (window, tr ("Serial Number")))), ==,
                   SERIAL);
  g_assert_cmpstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row_titled (window, tr ("Model")))), ==, MODEL);
  ids = g_strdup_printf ("%s / %s", mid, tid);
  g_assert_cmpstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row_titled (window, tr ("MID / TID")))), ==, ids);
  g_assert_cmpstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row_titled (window, tr ("Program")))), ==,
                   PROGRAM_NAME " " PROGRAM_VERSION);
}

static gboolean
push_under_way (gpointer data)
{
  PpInstallFlow *flow = pp_install_wizard_get_flow (data);
  double rate = 0;

  g_object_get (flow, "rate", &rate, NULL);
  return pp_install_flow_get_progress (flow) > 0.1 && rate > 0;
}

static void
connect_and_finish (GtkWidget       *window,
                    PpInstallWizard *wizard,
                    Fixture         *f,
                    gboolean         cancel_push)
{
  wait_for_page (wizard, "connect", PP_INSTALL_NEEDS_DEVICE);
  save_screenshot (window, "wizard-connect");
  type_into (window, "_Network Address (tcp:HOST:PORT)", f->port);
  press_enter (window, "_Network Address (tcp:HOST:PORT)");
  wait_for_step (wizard, PP_INSTALL_STEP_BIND);
  save_screenshot (window, "wizard-keys");
  wait_for_step (wizard, PP_INSTALL_STEP_PROGRAM);
  if (cancel_push)
    {
      wait_until (push_under_way, wizard, "the push to make progress");
      save_screenshot (window, "wizard-push");
      /* Cancel mid-push: stopped, nothing lost, and Resume goes on. */
      click (window, "_Cancel");
      wait_for_text (window, tr ("Stopped. Nothing is lost: resume to go on where it stopped."));
      save_screenshot (window, "wizard-push-stopped");
      click (window, "_Resume");
    }
  wait_for_page (wizard, "done", PP_INSTALL_NEEDS_NOTHING);
  wait_for_step (wizard, PP_INSTALL_STEP_DONE);
  if (cancel_push)
    {
      guint64 resumed_from = 0;

      /* The resumed push went on from where the terminal had got to. */
      g_object_get (pp_install_wizard_get_flow (wizard), "resumed-from", &resumed_from, NULL);
      g_test_message ("push resumed from byte %" G_GUINT64_FORMAT, resumed_from);
      g_assert_cmpuint (resumed_from, >, 0);
    }
  save_screenshot (window, "wizard-done");

  /* The final page keeps the receipt: as a PDF in the Documents folder. */
  {
    g_autofree char *documents = pp_test_make_tmpdir ();
    g_autofree char *pdf = NULL;
    g_autofree char *head = NULL;
    gsize len = 0;

    g_setenv ("XDG_DOCUMENTS_DIR", documents, TRUE);
    pdf = g_strdup_printf ("%s/posprov-receipts/%s.pdf", documents,
                           pp_install_flow_get_order_uuid (pp_install_wizard_get_flow (wizard)));
    click (window, "_Save Receipt as PDF");
    wait_for_text (window, pdf);
    g_assert_true (g_file_get_contents (pdf, &head, &len, NULL));
    g_assert_true (len > 5 && memcmp (head, "%PDF-", 5) == 0);
    /* Print is there too (its dialog is GtkPrintOperation's, see test-receipt). */
    g_assert_true (gtk_widget_is_sensitive (button_labelled (window, "_Print Receipt…")));
    g_unsetenv ("XDG_DOCUMENTS_DIR");
  }
}

/* What the registry recorded of the install. */
static void
check_registry (Fixture    *f,
                const char *approver)
{
  g_autofree char *order = sql_text (f, "SELECT state || '|' || requester FROM work_orders WHERE serial = '"
                                        SERIAL "' AND kind = 'install'");
  g_autofree char *terminal = sql_text (f, "SELECT state || '|' || (mid IS NOT NULL) || '|' || "
                                           "(length (tid) = 8) || '|' || program_version || '|' || "
                                           "(kcv IS NOT NULL) FROM terminals WHERE serial = '" SERIAL "'");
  g_autofree char *approval = sql_text (f, "SELECT requester || '|' || approver || '|' || decision "
                                           "FROM approvals WHERE serial = '" SERIAL "'");
  g_autofree char *expected = g_strdup_printf ("alice|%s|approved", approver);
  g_autofree char *journal = sql_text (f, "SELECT group_concat (action, ',') FROM (SELECT action FROM audit "
                                          "WHERE action LIKE 'order.%' OR action LIKE 'approval.%' ORDER BY seq)");

  g_assert_cmpstr (order, ==, "closed|alice");
  g_assert_cmpstr (terminal, ==, "installed|1|1|" PROGRAM_VERSION "|1");
  g_assert_cmpstr (approval, ==, expected);
  g_test_message ("journal: %s", journal);
  g_assert_nonnull (strstr (journal, "order.create,approval.request,order.approve,"));
  g_assert_nonnull (strstr (journal, "order.keyed"));
  g_assert_nonnull (strstr (journal, "order.program_installed"));
  g_assert_true (g_str_has_suffix (journal, "order.close"));
}

static gboolean
search_has_focus (gpointer window)
{
  GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (window));

  return focus != NULL && gtk_widget_get_ancestor (focus, GTK_TYPE_SEARCH_ENTRY) != NULL;
}

static gboolean
scan_has_focus (gpointer window)
{
  GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (window));

  return focus != NULL && gtk_widget_is_ancestor (focus, row_titled (window, tr ("_Serial or Label")));
}

/* The field manager's wizard in its window, the one a failed wait describes. */
static GtkWidget *
open_alices_wizard (Fixture *f)
{
  GtkWidget *window = GTK_WIDGET (pp_install_wizard_open_window (NULL, f->registry, "alice",
                                                                  PP_USER_ROLE_FIELD_MANAGER));

  current_wizard = PP_INSTALL_WIZARD (page_of (window));
  return window;
}

/* ---- the tests ---- */

/* One visit, as the field manager alice does it: a scan that is no serial,
 * one the register does not know, the terminal's label; a new merchant
 * whose fields are checked as they are typed; the program; a reviewer
 * signing in here (alice herself first, whom the registry refuses); the
 * terminal over TCP; the key load; the push, cancelled and resumed; the
 * receipt. */
static void
test_install (Fixture       *f,
              gconstpointer  data)
{
  GtkWidget *window = open_alices_wizard (f);
  GtkWidget *wizard_widget = page_of (window);
  PpInstallWizard *wizard = PP_INSTALL_WIZARD (wizard_widget);

  wait_until (is_mapped, wizard_widget, "the wizard");
  wait_for_page (wizard, "scan", PP_INSTALL_NEEDS_SERIAL);
  /* The first field has the focus: a scanner can type at once. */
  wait_until (scan_has_focus, window, "the focus in the scan field");
  save_screenshot (window, "wizard-scan");

  /* Not a serial: said on the spot, the flow still waits. */
  type_into (window, "_Serial or Label", "??");
  press_enter (window, "_Serial or Label");
  g_test_message ("bad scan: %s", wait_for_error (window));
  g_assert_cmpint (pp_install_flow_get_needs (pp_install_wizard_get_flow (wizard)), ==, PP_INSTALL_NEEDS_SERIAL);

  /* A serial the register does not know: the registry's reason. */
  type_into (window, "_Serial or Label", "NOPE-0042");
  press_enter (window, "_Serial or Label");
  wait_for_step (wizard, PP_INSTALL_STEP_FAILED);
  g_assert_error (pp_install_flow_get_error (pp_install_wizard_get_flow (wizard)), PP_FLOW_ERROR,
                  PP_FLOW_ERROR_NOT_INSTALLABLE);
  wait_for_text (window, pp_install_flow_get_error (pp_install_wizard_get_flow (wizard))->message);
  g_assert_cmpstr (pp_install_wizard_get_page_name (wizard), ==, "scan");
  save_screenshot (window, "wizard-scan-refused");

  /* The terminal's own label (the station's QR payload). */
  scan_and_choose_merchant (window, wizard, "posprov:terminal?serial=" SERIAL "&model=" MODEL);

  /* A new merchant; the MCC is wrong first, said next to the field. */
  click (window, "_New Merchant");
  type_into (window, "_Name", "Jade Tea Room");
  type_into (window, "_Registration Number", "91310000MA1K4XYZ7Q");
  type_into (window, "_Address", "18 Fuxing Road, Shanghai");
  type_into (window, "_MCC (Merchant Category Code)", "58A");
  type_into (window, "_Contact Name", "Wang Li");
  type_into (window, "Contact _Phone", "+86 21 5555 0100");
  wait_for_text (window, tr ("must be exactly 4 digits (merchant category code)"));
  g_assert_true (gtk_widget_has_css_class (row_titled (window, tr ("_MCC (Merchant Category Code)")), "error"));
  g_assert_false (gtk_widget_has_css_class (row_titled (window, tr ("_Name")), "error"));
  save_screenshot (window, "wizard-merchant-invalid");
  click (window, "_Use This Merchant");
  g_assert_cmpint (pp_install_flow_get_needs (pp_install_wizard_get_flow (wizard)), ==, PP_INSTALL_NEEDS_MERCHANT);
  type_into (window, "_MCC (Merchant Category Code)", "5814");
  g_assert_false (gtk_widget_has_css_class (row_titled (window, tr ("_MCC (Merchant Category Code)")), "error"));
  save_screenshot (window, "wizard-merchant");
  click (window, "_Use This Merchant");

  choose_program (window, wizard);
  check_approval_page (window, f->registry, wizard);
  save_screenshot (window, "wizard-approval");

  /* The requester cannot be their own reviewer: the refusal is shown. */
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (button_labelled (window, "Re_viewer Signs In Here")), TRUE);
  wait_for_row (window, "Reviewer’s _User Name");
  type_into (window, "Reviewer’s _User Name", "alice");
  type_into (window, "Reviewer’s _Password", PP_INSTALL_ALICE_PW);
  type_into (window, "_Reason", "Checked the merchant’s licence");
  click (window, "_Approve");
  g_test_message ("refusal: %s", wait_for_error (window));
  /* The request still waits for a reviewer. */
  wait_for_page (wizard, "approval", PP_INSTALL_NEEDS_APPROVAL);
  save_screenshot (window, "wizard-approval-refused");

  /* bob, a reviewer, approves here. */
  type_into (window, "Reviewer’s _User Name", "bob");
  type_into (window, "Reviewer’s _Password", PP_INSTALL_BOB_PW);
  click (window, "_Approve");

  connect_and_finish (window, wizard, f, TRUE);
  wait_for_text (window, SERIAL);
  wait_for_text (window, "bob");
  check_registry (f, "bob");
  gtk_window_destroy (GTK_WINDOW (window));
}

static gboolean
has_pending (gpointer data)
{
  return pp_approvals_page_get_n_pending (data) > 0;
}

static gboolean
has_decided (gpointer data)
{
  return pp_approvals_page_get_n_decided (data) > 0;
}

/* Two windows, two users: alice's wizard waits on the approval page; the
 * request shows on the supervisor screens as it arrives; alice's own
 * approval is refused by the registry; bob approves with a reason and
 * alice's wizard goes on. */
static void
test_supervisor (Fixture       *f,
                 gconstpointer  data)
{
  GtkWidget *window = open_alices_wizard (f);
  GtkWidget *wizard_widget = page_of (window);
  PpInstallWizard *wizard = PP_INSTALL_WIZARD (wizard_widget);
  GtkWidget *bob_page, *bob_window;
  GtkWidget *alice_window = GTK_WIDGET (pp_approvals_page_open_window (NULL, f->registry, "alice",
                                                                        PP_USER_ROLE_FIELD_MANAGER));
  GtkWidget *alice_page = page_of (alice_window);
  GtkWidget *approve;

  wait_until (is_mapped, alice_page, "alice's approvals page");
  g_assert_cmpuint (pp_approvals_page_get_n_pending (PP_APPROVALS_PAGE (alice_page)), ==, 0);
  wait_for_text (alice_window, tr ("No Requests Waiting"));

  scan_and_choose_merchant (window, wizard, "SN:" SERIAL);
  /* Each page puts the focus in its first field: here the merchant search. */
  wait_until (search_has_focus, window, "the focus in the merchant search");
  wait_for_text (window, "Lucky Noodle House");
  {
    GtkWidget *row = row_titled (window, "Lucky Noodle House");

    g_assert_true (gtk_widget_activate (row));
  }
  choose_program (window, wizard);

  /* As it arrives, on a screen that was already open. */
  wait_until (has_pending, alice_page, "the request on alice's screen");
  /* The requester tries to approve her own request: the registry says no. */
  type_into (alice_window, "_Reason (required)", "Looks fine");
  click (alice_window, "_Approve");
  g_test_message ("refusal: %s", wait_for_error (alice_window));
  g_assert_cmpint (pp_install_flow_get_needs (pp_install_wizard_get_flow (wizard)), ==, PP_INSTALL_NEEDS_APPROVAL);
  save_screenshot (alice_window, "approvals-refused");
  gtk_window_destroy (GTK_WINDOW (alice_window));

  /* bob opens his screen afterwards: the request is there, exactly. */
  bob_window = GTK_WIDGET (pp_approvals_page_open_window (NULL, f->registry, "bob", PP_USER_ROLE_REVIEWER));
  bob_page = page_of (bob_window);
  wait_until (has_pending, bob_page, "the request on bob's screen");
  wait_for_text (bob_window, SERIAL);
  wait_for_text (bob_window, "Lucky Noodle House");
  wait_for_text (bob_window, PROGRAM_VERSION);
  save_screenshot (bob_window, "approvals-pending");
  /* No reason, no decision. */
  approve = button_labelled (bob_window, "_Approve");
  g_assert_false (gtk_widget_is_sensitive (approve));
  type_into (bob_window, "_Reason (required)", "Licence and terminal checked on site");
  click (bob_window, "_Approve");
  wait_until (has_decided, bob_page, "the decision in bob's history");
  g_assert_cmpuint (pp_approvals_page_get_n_pending (PP_APPROVALS_PAGE (bob_page)), ==, 0);
  wait_for_text (bob_window, "Licence and terminal checked on site");
  save_screenshot (bob_window, "approvals-history");

  /* alice's wizard goes on by itself. */
  connect_and_finish (window, wizard, f, FALSE);
  check_registry (f, "bob");
  gtk_window_destroy (GTK_WINDOW (bob_window));
  gtk_window_destroy (GTK_WINDOW (window));
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
  const char *test_locale = g_getenv ("PP_TEST_LOCALE");
  g_autofree char *localedir = NULL;

  g_setenv ("GSK_RENDERER", "cairo", FALSE);
  g_setenv ("GDK_BACKEND", "x11", FALSE);
  g_setenv ("GDK_DEBUG", "gl-disable", FALSE);
  if (test_locale == NULL || test_locale[0] == '\0')
    test_locale = "C.UTF-8";
  g_setenv ("LC_ALL", test_locale, TRUE);
  g_unsetenv ("LANGUAGE");
  gtk_test_init (&argc, &argv, NULL);
  setlocale (LC_ALL, "");
  adw_init ();
  /* A screenshot shows the page, not a slide between two. */
  g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE, NULL);

  localedir = g_test_build_filename (G_TEST_BUILT, "..", "data", "po", NULL);
  bindtextdomain (GETTEXT_PACKAGE, localedir);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  if (g_str_has_prefix (test_locale, "zh_CN"))
    {
      screenshot_lang = "zh_CN";
      if (g_strcmp0 (setlocale (LC_MESSAGES, NULL), test_locale) != 0)
        {
          g_test_add_func ("/ui/wizard/zh_CN-locale", skip_no_locale);
          return g_test_run ();
        }
      g_assert_cmpstr (tr ("Scan the Terminal"), !=, "Scan the Terminal");
    }

  g_test_add ("/ui/wizard/install", Fixture, NULL, fixture_set_up, test_install, fixture_tear_down);
  g_test_add ("/ui/wizard/supervisor", Fixture, NULL, fixture_set_up, test_supervisor, fixture_tear_down);
  return g_test_run ();
}
