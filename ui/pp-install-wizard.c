/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-install-wizard.c: the one-visit install, a view of PpInstallFlow.
 *
 * The flow decides; the wizard shows.  Every page follows the flow's
 * properties ("step", "needs", "message", "progress", ...): the page shown
 * is the one of the flow's step, each page's inputs are offered while the
 * flow "needs" them and handed over with the flow's setters.  Nothing here
 * checks what the registry or the terminal checks (the reviewer's role,
 * self-approval, the serial on the terminal): their refusals come back
 * through the flow and are shown with the flow's "message", which says what
 * to do.
 *
 * A flow that failed has ended; trying again starts a new one: resuming
 * the order when one exists (its state is in the registry), else from the
 * scan with what the user already entered.  The inputs are kept here for
 * that (never a password: the reviewer's lives only in its entry until the
 * call that checks it).
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "pp-install-wizard.h"
#include "pp-link-device.h"
#include "pp-merchant.h"
#include "pp-port-picker.h"
#include "pp-qr-view.h"
#include "pp-receipt.h"
#include "pp-reviewer-form.h"
#include "pp-scan.h"

#define MERCHANT_SEARCH_LIMIT 20

/* The sidebar: each page and its title. */
typedef struct {
  const char *page;
  const char *title;
} WizardPage;

static const WizardPage wizard_pages[] = {
  { "scan",     N_("Scan") },
  { "merchant", N_("Merchant") },
  { "program",  N_("Program") },
  { "approval", N_("Approval") },
  { "connect",  N_("Connect") },
  { "keys",     N_("Key Load") },
  { "push",     N_("Program Push") },
  { "done",     N_("Receipt") },
};

/* The key load's sub-steps, as the key load page lists them. */
typedef struct {
  PpInstallStep step;
  const char   *title;
  const char   *subtitle;
} KeyStep;

static const KeyStep key_steps[] = {
  { PP_INSTALL_STEP_IDENTIFY,  N_("Identify the terminal"), N_("Its serial must be the one scanned") },
  { PP_INSTALL_STEP_BIND,      N_("Bind to the key host"), N_("The terminal accepts the registry’s key host") },
  { PP_INSTALL_STEP_KEY_NONCE, N_("Terminal’s nonce"), N_("RT_KRD: proves the token is fresh") },
  { PP_INSTALL_STEP_KEY_TOKEN, N_("Key token"), N_("KT_KDH from the key host, for this terminal only") },
  { PP_INSTALL_STEP_KEY_LOAD,  N_("Load the key"), N_("The terminal unwraps the key inside itself") },
  { PP_INSTALL_STEP_KEY_KCV,   N_("Confirm the check value"), N_("The registry compares the terminal’s KCV") },
};

typedef enum {
  MARK_PENDING,
  MARK_RUNNING,
  MARK_DONE,
  MARK_FAILED,
} Mark;

struct _PpInstallWizard
{
  PpSessionPage   parent_instance;

  PpInstallFlow  *flow;
  GSignalGroup   *flow_signals;
  GCancellable   *run_cancellable;  /* the flow's run */
  gboolean        running;
  GError         *run_error;        /* why the last run ended, when it failed */
  PpInstallStep   shown_step;       /* the flow's last step that was not FAILED */
  GCancellable   *cancellable;      /* the pages' own calls; cancelled in dispose */
  char           *qr_approval;      /* the approval whose code the QR shows, */
  char           *qr_payload;       /* and the payload (with its short code once read) */
  const char     *focused_page;     /* the page whose first field got the focus */
  guint           focus_id;

  /* what the user entered, for a new flow after a failure */
  char           *serial;
  gint64          merchant_id;      /* 0: none chosen */
  char          **new_merchant;     /* the six fields, or NULL */
  char           *program_name;
  char           *program_version;
  PpTerminalDevice *device;

  GCancellable   *search_cancellable;
  GPtrArray      *merchants;        /* PpMerchant*, as listed */
  GPtrArray      *programs;         /* PpProgramRecord*, as listed */
  char           *programs_model;   /* the model they were listed for */
  GtkCheckButton *program_checks_group;
  gboolean        opening;
  gboolean        merchants_listed;
  gpointer        receipt_for;      /* the flow whose receipt is shown (not a reference) */
  GtkWidget      *key_marks[G_N_ELEMENTS (key_steps)];
  GtkWidget      *step_marks[G_N_ELEMENTS (wizard_pages)];

  /* template */
  GtkListBox     *steps_list;
  GtkRevealer    *problem_revealer;
  GtkLabel       *problem_label;
  GtkLabel       *problem_hint_label;
  GtkButton      *retry_button;
  GtkWidget      *cancel_order_button;
  GtkStack       *stack;

  AdwEntryRow    *scan_row;
  GtkLabel       *scan_error_label;
  GtkWidget      *scan_status_box;
  GtkSpinner     *scan_spinner;
  GtkLabel       *scan_status_label;
  GtkWidget      *scan_button;

  GtkStack       *merchant_stack;
  GtkSearchEntry *merchant_search;
  GtkListBox     *merchant_list;
  GtkLabel       *merchant_empty_label;
  AdwEntryRow    *name_row;
  AdwEntryRow    *reg_row;
  AdwEntryRow    *address_row;
  AdwEntryRow    *mcc_row;
  AdwEntryRow    *contact_row;
  AdwEntryRow    *phone_row;
  GtkLabel       *merchant_errors_label;
  GtkWidget      *new_merchant_button;
  GtkLabel       *merchant_error_label;
  GtkWidget      *merchant_status_box;
  GtkSpinner     *merchant_spinner;
  GtkLabel       *merchant_status_label;

  GtkListBox     *program_list;
  GtkLabel       *program_empty_label;
  GtkLabel       *program_error_label;
  GtkWidget      *program_status_box;
  GtkSpinner     *program_spinner;
  GtkLabel       *program_status_label;
  GtkWidget      *program_button;

  AdwActionRow   *approval_serial_row;
  AdwActionRow   *approval_model_row;
  AdwActionRow   *approval_merchant_row;
  AdwActionRow   *approval_ids_row;
  AdwActionRow   *approval_program_row;
  PpQrView       *approval_qr;
  GtkSpinner     *approval_spinner;
  GtkLabel       *approval_wait_label;
  PpReviewerForm *reviewer_form;

  PpPortPicker   *port_picker;
  GtkWidget      *connect_status_box;
  GtkSpinner     *connect_spinner;
  GtkLabel       *connect_status_label;
  GtkWidget      *tcp_button;

  GtkListBox     *key_list;
  GtkLabel       *keys_error_label;

  GtkProgressBar *push_progress;
  GtkLabel       *push_rate_label;
  GtkLabel       *push_left_label;
  GtkLabel       *push_error_label;
  GtkWidget      *push_cancel_button;
  GtkWidget      *push_resume_button;

  GtkListBox     *receipt_list;
  GtkListBox     *receipt_list2;
  GtkLabel       *receipt_status_label;
  GtkWidget      *another_button;
};

G_DEFINE_FINAL_TYPE (PpInstallWizard, pp_install_wizard, PP_TYPE_SESSION_PAGE)

#define registry_of(self) pp_session_page_get_registry (PP_SESSION_PAGE (self))
#define user_of(self)     pp_session_page_get_user (PP_SESSION_PAGE (self))
#define role_of(self)     pp_session_page_get_role (PP_SESSION_PAGE (self))

enum {
  PROP_0,
  PROP_FLOW,
  PROP_PAGE_NAME,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

static void update_view (PpInstallWizard *self);
static void start_flow  (PpInstallWizard *self,
                         const char      *resume_order);
static void restart_flow (PpInstallWizard *self);

/* ---- small helpers ---- */

static char *
flow_string (PpInstallWizard *self,
             const char      *name)
{
  char *value = NULL;

  if (self->flow != NULL)
    g_object_get (self->flow, name, &value, NULL);
  return value;
}

static void
show_error (GtkLabel   *label,
            const char *text)
{
  gtk_label_set_text (label, text != NULL ? text : "");
  gtk_widget_set_visible (GTK_WIDGET (label), text != NULL && text[0] != '\0');
}

static void
set_row_value (AdwActionRow *row,
               const char   *value)
{
  /* TRANSLATORS: shown for a value the flow does not know yet. */
  adw_action_row_set_subtitle (row, value != NULL && value[0] != '\0' ? value : _("—"));
}

static const char *
page_for_step (PpInstallStep step)
{
  switch (step)
    {
    case PP_INSTALL_STEP_SCAN:
    case PP_INSTALL_STEP_CHECK:
      return "scan";
    case PP_INSTALL_STEP_MERCHANT:
      return "merchant";
    case PP_INSTALL_STEP_ORDER:
      return "program";
    case PP_INSTALL_STEP_APPROVAL:
      return "approval";
    case PP_INSTALL_STEP_CONNECT:
    case PP_INSTALL_STEP_CERTIFY:
      return "connect";
    case PP_INSTALL_STEP_IDENTIFY:
    case PP_INSTALL_STEP_BIND:
    case PP_INSTALL_STEP_KEY_NONCE:
    case PP_INSTALL_STEP_KEY_TOKEN:
    case PP_INSTALL_STEP_KEY_LOAD:
    case PP_INSTALL_STEP_KEY_KCV:
    case PP_INSTALL_STEP_SIGN_ON_TEST:
      return "keys";
    case PP_INSTALL_STEP_PROGRAM:
    case PP_INSTALL_STEP_CLOSE:
      return "push";
    case PP_INSTALL_STEP_DONE:
      return "done";
    case PP_INSTALL_STEP_FAILED:
    default:
      return NULL;
    }
}

static guint
page_index (const char *page)
{
  for (guint i = 0; i < G_N_ELEMENTS (wizard_pages); i++)
    if (g_strcmp0 (wizard_pages[i].page, page) == 0)
      return i;
  return 0;
}

static PpInstallNeeds
flow_needs (PpInstallWizard *self)
{
  return self->flow != NULL && self->running ? pp_install_flow_get_needs (self->flow)
                                             : PP_INSTALL_NEEDS_NOTHING;
}

/* Whether the flow ended without the install done. */
static gboolean
flow_failed (PpInstallWizard *self)
{
  return self->flow != NULL && !self->running &&
         pp_install_flow_get_step (self->flow) != PP_INSTALL_STEP_DONE;
}

static const GError *
flow_error (PpInstallWizard *self)
{
  const GError *error = self->flow != NULL ? pp_install_flow_get_error (self->flow) : NULL;

  return error != NULL ? error : self->run_error;
}

/* A check mark, a spinner, an error sign or a dim dot. */
static GtkWidget *
mark_new (void)
{
  GtkWidget *stack = gtk_stack_new ();
  GtkWidget *spinner = gtk_spinner_new ();
  GtkWidget *image;

  gtk_widget_set_valign (stack, GTK_ALIGN_CENTER);
  image = gtk_image_new_from_icon_name ("content-loading-symbolic");
  gtk_widget_add_css_class (image, "dim-label");
  gtk_stack_add_named (GTK_STACK (stack), image, "pending");
  gtk_stack_add_named (GTK_STACK (stack), spinner, "running");
  image = gtk_image_new_from_icon_name ("emblem-ok-symbolic");
  gtk_widget_add_css_class (image, "success");
  gtk_stack_add_named (GTK_STACK (stack), image, "done");
  image = gtk_image_new_from_icon_name ("dialog-error-symbolic");
  gtk_widget_add_css_class (image, "error");
  gtk_stack_add_named (GTK_STACK (stack), image, "failed");
  return stack;
}

static void
mark_set (GtkWidget *mark,
          Mark       state)
{
  static const char *names[] = { "pending", "running", "done", "failed" };
  GtkWidget *spinner = gtk_stack_get_child_by_name (GTK_STACK (mark), "running");

  gtk_stack_set_visible_child_name (GTK_STACK (mark), names[state]);
  gtk_spinner_set_spinning (GTK_SPINNER (spinner), state == MARK_RUNNING);
}

/* A call that ends after the wizard was disposed touches nothing of it. */
static gboolean
disposed (PpInstallWizard *self)
{
  return g_cancellable_is_cancelled (self->cancellable);
}

/* ---- the approval's QR code ---- */

static void
on_qr_approval (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(PpInstallWizard) self = user_data;
  g_autoptr(PpRegistryApproval) approval = NULL;
  g_autoptr(GError) error = NULL;

  approval = pp_registry_get_approval_finish (PP_REGISTRY (source), result, &error);
  if (disposed (self) || approval == NULL || g_strcmp0 (approval->uuid, self->qr_approval) != 0)
    return;
  g_free (self->qr_payload);
  self->qr_payload = pp_registry_approval_qr_payload (approval);
  update_view (self);
}

/* What the approval page's QR code carries (docs/registry.md, "Approval
 * codes"): the registry's payload, with the request's short code once the
 * wizard has read it, the UUID alone until then. */
static const char *
qr_payload_for (PpInstallWizard *self,
                const char      *approval_uuid)
{
  if (approval_uuid == NULL)
    return NULL;
  if (g_strcmp0 (self->qr_approval, approval_uuid) != 0)
    {
      PpRegistryApproval bare = { .uuid = (char *) approval_uuid };

      g_free (self->qr_approval);
      self->qr_approval = g_strdup (approval_uuid);
      g_free (self->qr_payload);
      self->qr_payload = pp_registry_approval_qr_payload (&bare);
      pp_registry_get_approval_async (registry_of (self), approval_uuid, self->cancellable,
                                      on_qr_approval, g_object_ref (self));
    }
  return self->qr_payload;
}

/* ---- the flow ---- */

static void
on_run_done (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(PpInstallWizard) self = user_data;
  PpInstallFlow *flow = PP_INSTALL_FLOW (source);
  g_autoptr(GError) error = NULL;

  pp_install_flow_run_finish (flow, result, &error);
  if (flow != self->flow || disposed (self))
    return;   /* a flow replaced while it was stopping */
  self->running = FALSE;
  g_clear_error (&self->run_error);
  self->run_error = g_steal_pointer (&error);
  /* The terminal is gone or broken: pick a port again before resuming. */
  if (self->run_error != NULL && self->run_error->domain == PP_TERMINAL_DEVICE_ERROR)
    g_clear_object (&self->device);
  update_view (self);
}

static void
on_flow_notify (PpInstallWizard *self)
{
  update_view (self);
}

/* A reviewer's decision here that the registry refused (the requester
 * themself, not a reviewer): the flow still waits on the request; say why
 * next to the reviewer's fields. */
static void
on_flow_reviewer_error (PpInstallWizard *self)
{
  g_autoptr(GError) refusal = NULL;

  g_object_get (self->flow, "reviewer-error", &refusal, NULL);
  if (refusal == NULL)
    return;
  pp_reviewer_form_set_error (self->reviewer_form, refusal->message);
}

static void
apply_inputs (PpInstallWizard *self)
{
  g_autoptr(GError) error = NULL;

  if (self->serial != NULL && !pp_install_flow_set_serial (self->flow, self->serial, &error))
    show_error (self->scan_error_label, error->message);
  g_clear_error (&error);
  if (self->new_merchant != NULL)
    {
      PpMerchantFields fields = {
        self->new_merchant[0], self->new_merchant[1], self->new_merchant[2],
        self->new_merchant[3], self->new_merchant[4], self->new_merchant[5],
      };

      if (!pp_install_flow_set_new_merchant (self->flow, &fields, &error))
        show_error (self->merchant_error_label, error->message);
    }
  else if (self->merchant_id > 0 && !pp_install_flow_set_merchant_id (self->flow, self->merchant_id, &error))
    show_error (self->merchant_error_label, error->message);
  g_clear_error (&error);
  if (self->program_name != NULL &&
      !pp_install_flow_set_program (self->flow, self->program_name, self->program_version, &error))
    show_error (self->program_error_label, error->message);
}

/* A new flow: resuming @resume_order, or from the scan with the inputs so far. */
static void
start_flow (PpInstallWizard *self,
            const char      *resume_order)
{
  g_autoptr(PpInstallFlow) flow = pp_install_flow_new (registry_of (self), user_of (self));

  if (self->run_cancellable != NULL)
    g_cancellable_cancel (self->run_cancellable);
  g_clear_object (&self->run_cancellable);
  g_clear_error (&self->run_error);
  g_set_object (&self->flow, flow);
  g_signal_group_set_target (self->flow_signals, flow);
  self->shown_step = PP_INSTALL_STEP_SCAN;

  if (resume_order != NULL)
    pp_install_flow_resume (flow, resume_order);
  else
    apply_inputs (self);
  if (self->device != NULL)
    pp_install_flow_set_device (flow, self->device);

  self->run_cancellable = g_cancellable_new ();
  self->running = TRUE;
  pp_install_flow_run_async (flow, self->run_cancellable, on_run_done, g_object_ref (self));
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_FLOW]);
  update_view (self);
}

/* After a failure: the order's flow again, or the scan's. */
static void
restart_flow (PpInstallWizard *self)
{
  g_autofree char *order = NULL;

  if (self->flow != NULL && pp_install_flow_get_order_uuid (self->flow) != NULL)
    order = g_strdup (pp_install_flow_get_order_uuid (self->flow));
  start_flow (self, order);
}

static gboolean
flow_is_live (PpInstallWizard *self)
{
  return self->flow != NULL && self->running;
}

/* ---- the scan ---- */

static void
on_scan_changed (PpInstallWizard *self)
{
  show_error (self->scan_error_label, NULL);
}

static void
on_scan_activated (PpInstallWizard *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->scan_row));
  g_autofree char *serial = NULL;
  g_autofree char *model = NULL;
  g_autoptr(GError) error = NULL;

  if (!pp_scan_parse (text, &serial, &model, &error))
    {
      show_error (self->scan_error_label, error->message);
      gtk_widget_grab_focus (GTK_WIDGET (self->scan_row));
      return;
    }
  /* What the scanner typed becomes the serial it carries. */
  gtk_editable_set_text (GTK_EDITABLE (self->scan_row), serial);
  g_free (self->serial);
  self->serial = g_steal_pointer (&serial);
  if (!flow_is_live (self))
    {
      start_flow (self, NULL);
      return;
    }
  if (!pp_install_flow_set_serial (self->flow, self->serial, &error))
    show_error (self->scan_error_label, error->message);
}

/* ---- the merchant ---- */

static GtkWidget *
merchant_row_new (const PpMerchant *merchant)
{
  GtkWidget *row = adw_action_row_new ();
  g_autofree char *subtitle = NULL;
  g_autofree char *name = g_markup_escape_text (merchant->name, -1);

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), name);
  /* TRANSLATORS: a merchant in the search results: MID, registration number, address. */
  subtitle = g_markup_printf_escaped (_("MID %s · %s · %s"), merchant->mid, merchant->registration_number,
                                      merchant->address);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), gtk_image_new_from_icon_name ("go-next-symbolic"));
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), TRUE);
  return row;
}

static void
on_merchants_found (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(PpInstallWizard) self = user_data;
  g_autoptr(GPtrArray) merchants = NULL;
  g_autoptr(GError) error = NULL;
  GtkWidget *child;

  merchants = pp_registry_search_merchants_finish (PP_REGISTRY (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || disposed (self))
    return;
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->merchant_list))) != NULL)
    gtk_list_box_remove (self->merchant_list, child);
  g_clear_pointer (&self->merchants, g_ptr_array_unref);
  if (merchants == NULL)
    {
      gtk_label_set_text (self->merchant_empty_label, error->message);
      gtk_widget_set_visible (GTK_WIDGET (self->merchant_empty_label), TRUE);
      gtk_widget_set_visible (GTK_WIDGET (self->merchant_list), FALSE);
      return;
    }
  self->merchants = g_steal_pointer (&merchants);
  for (guint i = 0; i < self->merchants->len; i++)
    gtk_list_box_append (self->merchant_list, merchant_row_new (g_ptr_array_index (self->merchants, i)));
  gtk_widget_set_visible (GTK_WIDGET (self->merchant_list), self->merchants->len > 0);
  gtk_label_set_text (self->merchant_empty_label,
                      _("No merchant matches. Check the spelling, or enter a new merchant."));
  gtk_widget_set_visible (GTK_WIDGET (self->merchant_empty_label), self->merchants->len == 0);
}

static void
search_merchants (PpInstallWizard *self)
{
  const char *query = gtk_editable_get_text (GTK_EDITABLE (self->merchant_search));

  if (self->search_cancellable != NULL)
    g_cancellable_cancel (self->search_cancellable);
  g_clear_object (&self->search_cancellable);
  self->search_cancellable = g_cancellable_new ();
  pp_registry_search_merchants_async (registry_of (self), query[0] != '\0' ? query : NULL,
                                      MERCHANT_SEARCH_LIMIT, self->search_cancellable,
                                      on_merchants_found, g_object_ref (self));
}

static void
on_merchant_search_changed (PpInstallWizard *self)
{
  search_merchants (self);
}

static void
choose_merchant (PpInstallWizard  *self,
                 const PpMerchant *merchant)
{
  g_autoptr(GError) error = NULL;

  g_clear_pointer (&self->new_merchant, g_strfreev);
  self->merchant_id = merchant->id;
  show_error (self->merchant_error_label, NULL);
  if (!flow_is_live (self))
    {
      start_flow (self, NULL);
      return;
    }
  if (!pp_install_flow_set_merchant_id (self->flow, merchant->id, &error))
    show_error (self->merchant_error_label, error->message);
}

static void
on_merchant_row_activated (PpInstallWizard *self,
                           GtkListBoxRow   *row)
{
  int i = gtk_list_box_row_get_index (row);

  if (self->merchants != NULL && i >= 0 && (guint) i < self->merchants->len)
    choose_merchant (self, g_ptr_array_index (self->merchants, i));
}

/* Enter in the search takes the only match, as a scanner would want. */
static void
on_merchant_search_activated (PpInstallWizard *self)
{
  if (self->merchants != NULL && self->merchants->len == 1)
    choose_merchant (self, g_ptr_array_index (self->merchants, 0));
}

static void
on_merchant_mode_changed (PpInstallWizard *self)
{
  if (g_strcmp0 (gtk_stack_get_visible_child_name (self->merchant_stack), "new") == 0)
    gtk_widget_grab_focus (GTK_WIDGET (self->name_row));
  else
    gtk_widget_grab_focus (GTK_WIDGET (self->merchant_search));
}

/* The form's fields in PpMerchantFields order, with their rule names. */
static AdwEntryRow **
merchant_rows (PpInstallWizard *self,
               AdwEntryRow     *rows[6])
{
  rows[0] = self->name_row;
  rows[1] = self->reg_row;
  rows[2] = self->address_row;
  rows[3] = self->mcc_row;
  rows[4] = self->contact_row;
  rows[5] = self->phone_row;
  return rows;
}

static const char *merchant_field_names[] = {
  "name", "registration_number", "address", "mcc", "contact_name", "contact_phone",
};

/* The rule field @i breaks, or NULL: the shared validation
 * (pp_merchant_fields_validate) run on that field alone, the others
 * filled with values it accepts, so each field gets its own message. */
static char *
check_merchant_field (const char *value,
                      guint       i)
{
  const char *fine[] = { "A", "ABC123", "A", "5812", "A", "123456" };
  g_autoptr(GError) error = NULL;
  g_autofree char *prefix = NULL;
  PpMerchantFields fields;

  fine[i] = value;
  fields = (PpMerchantFields) { fine[0], fine[1], fine[2], fine[3], fine[4], fine[5] };
  if (pp_merchant_fields_validate (&fields, NULL, &error))
    return NULL;
  /* The rule without "merchant FIELD: ": the row says which field. */
  prefix = g_strdup_printf (g_dgettext (GETTEXT_PACKAGE, "merchant %s: %s"), merchant_field_names[i], "");
  if (g_str_has_prefix (error->message, prefix))
    return g_strdup (error->message + strlen (prefix));
  return g_strdup (error->message);
}

/* @text without its mnemonics, as the user reads it: "_Name" and, in
 * languages that add the key in brackets, "名称(_N)" lose the underscore
 * and the bracketed key alike. */
static char *
strip_mnemonics (const char *text)
{
  GString *plain = g_string_new (NULL);

  for (const char *p = text; *p != '\0'; p++)
    {
      if (p[0] == '(' && p[1] == '_' && p[2] != '\0' && p[3] == ')')
        {
          p += 3;
          continue;
        }
      if (p[0] == '_' && p[1] != '_')
        continue;
      if (p[0] == '_')
        p++;
      g_string_append_c (plain, *p);
    }
  return g_string_free (plain, FALSE);
}

/* Marks the rows whose fields are wrong and lists why; TRUE when all are right.
 * @all: also the empty ones (on submit), not only those typed in. */
static gboolean
validate_merchant_form (PpInstallWizard *self,
                        gboolean         all)
{
  AdwEntryRow *rows[6];
  g_autoptr(GString) problems = g_string_new (NULL);
  gboolean ok = TRUE;

  merchant_rows (self, rows);
  for (guint i = 0; i < 6; i++)
    {
      const char *text = gtk_editable_get_text (GTK_EDITABLE (rows[i]));
      g_autofree char *rule = check_merchant_field (text, i);

      if (rule != NULL)
        ok = FALSE;
      if (rule != NULL && (all || text[0] != '\0'))
        {
          gtk_widget_add_css_class (GTK_WIDGET (rows[i]), "error");
          if (problems->len > 0)
            g_string_append_c (problems, '\n');
          /* TRANSLATORS: a field of the merchant form and what is wrong with it. */
          g_string_append_printf (problems, _("%s: %s"),
                                  adw_preferences_row_get_title (ADW_PREFERENCES_ROW (rows[i])), rule);
          gtk_accessible_update_state (GTK_ACCESSIBLE (rows[i]), GTK_ACCESSIBLE_STATE_INVALID,
                                       GTK_ACCESSIBLE_INVALID_TRUE, -1);
        }
      else
        {
          gtk_widget_remove_css_class (GTK_WIDGET (rows[i]), "error");
          gtk_accessible_reset_state (GTK_ACCESSIBLE (rows[i]), GTK_ACCESSIBLE_STATE_INVALID);
        }
    }
  {
    g_autofree char *text = g_string_free (g_steal_pointer (&problems), FALSE);
    g_autofree char *plain = strip_mnemonics (text);

    show_error (self->merchant_errors_label, plain);
  }
  return ok;
}

static void
on_merchant_field_changed (PpInstallWizard *self)
{
  validate_merchant_form (self, FALSE);
}

static void
on_new_merchant_activated (PpInstallWizard *self)
{
  AdwEntryRow *rows[6];
  g_autoptr(GError) error = NULL;
  PpMerchantFields fields;

  merchant_rows (self, rows);
  if (!validate_merchant_form (self, TRUE))
    {
      for (guint i = 0; i < 6; i++)
        if (gtk_widget_has_css_class (GTK_WIDGET (rows[i]), "error"))
          {
            gtk_widget_grab_focus (GTK_WIDGET (rows[i]));
            break;
          }
      return;
    }
  g_clear_pointer (&self->new_merchant, g_strfreev);
  self->new_merchant = g_new0 (char *, 7);
  for (guint i = 0; i < 6; i++)
    self->new_merchant[i] = g_strdup (gtk_editable_get_text (GTK_EDITABLE (rows[i])));
  self->merchant_id = 0;
  show_error (self->merchant_error_label, NULL);
  if (!flow_is_live (self))
    {
      start_flow (self, NULL);
      return;
    }
  fields = (PpMerchantFields) {
    self->new_merchant[0], self->new_merchant[1], self->new_merchant[2],
    self->new_merchant[3], self->new_merchant[4], self->new_merchant[5],
  };
  if (!pp_install_flow_set_new_merchant (self->flow, &fields, &error))
    show_error (self->merchant_error_label, error->message);
}

/* ---- the program ---- */

static void
on_programs_listed (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(PpInstallWizard) self = user_data;
  g_autoptr(GPtrArray) programs = NULL;
  g_autoptr(GError) error = NULL;
  GtkWidget *child;

  programs = pp_registry_list_programs_finish (PP_REGISTRY (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || disposed (self))
    return;
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->program_list))) != NULL)
    gtk_list_box_remove (self->program_list, child);
  g_clear_pointer (&self->programs, g_ptr_array_unref);
  self->program_checks_group = NULL;
  if (programs == NULL)
    {
      show_error (self->program_error_label, error->message);
      update_view (self);
      return;
    }
  self->programs = g_steal_pointer (&programs);
  for (guint i = 0; i < self->programs->len; i++)
    {
      PpProgramRecord *program = g_ptr_array_index (self->programs, i);
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *check = gtk_check_button_new ();
      g_autofree char *title = g_markup_printf_escaped ("%s %s", program->name, program->version);
      g_autofree char *size = g_format_size (program->size);
      g_autofree char *subtitle = NULL;

      /* TRANSLATORS: a program in the catalogue: its size and the start of its SHA-256. */
      subtitle = g_strdup_printf (_("%s · SHA-256 %.16s…"), size, program->sha256);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
      gtk_widget_set_valign (check, GTK_ALIGN_CENTER);
      if (self->program_checks_group == NULL)
        self->program_checks_group = GTK_CHECK_BUTTON (check);
      else
        gtk_check_button_set_group (GTK_CHECK_BUTTON (check), self->program_checks_group);
      /* The one program there is, or the one chosen before a retry. */
      if (self->programs->len == 1 ||
          (g_strcmp0 (program->name, self->program_name) == 0 &&
           g_strcmp0 (program->version, self->program_version) == 0))
        gtk_check_button_set_active (GTK_CHECK_BUTTON (check), TRUE);
      gtk_accessible_update_property (GTK_ACCESSIBLE (check), GTK_ACCESSIBLE_PROPERTY_LABEL, title, -1);
      adw_action_row_add_prefix (ADW_ACTION_ROW (row), check);
      adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), check);
      g_object_set_data (G_OBJECT (row), "check", check);
      gtk_list_box_append (self->program_list, row);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->program_list), self->programs->len > 0);
  gtk_widget_set_visible (GTK_WIDGET (self->program_empty_label), self->programs->len == 0);
  gtk_label_set_text (self->program_empty_label,
                      _("The catalogue has no program for this model. Upload its package "
                        "(posprov-tool programs upload) and look again."));
  self->focused_page = NULL;   /* focus the first program now that it is there */
  update_view (self);
}

static void
list_programs (PpInstallWizard *self,
               const char      *model)
{
  if (g_strcmp0 (self->programs_model, model) == 0)
    return;
  g_free (self->programs_model);
  self->programs_model = g_strdup (model);
  pp_registry_list_programs_async (registry_of (self), model, self->cancellable, on_programs_listed,
                                   g_object_ref (self));
}

static PpProgramRecord *
chosen_program (PpInstallWizard *self)
{
  guint i = 0;

  if (self->programs == NULL)
    return NULL;
  for (GtkWidget *row = gtk_widget_get_first_child (GTK_WIDGET (self->program_list));
       row != NULL;
       row = gtk_widget_get_next_sibling (row), i++)
    {
      GtkCheckButton *check = g_object_get_data (G_OBJECT (row), "check");

      if (check != NULL && gtk_check_button_get_active (check) && i < self->programs->len)
        return g_ptr_array_index (self->programs, i);
    }
  return NULL;
}

static void
on_program_chosen (PpInstallWizard *self)
{
  PpProgramRecord *program = chosen_program (self);
  g_autoptr(GError) error = NULL;

  if (program == NULL)
    {
      show_error (self->program_error_label, _("Choose the program to install first."));
      return;
    }
  show_error (self->program_error_label, NULL);
  g_free (self->program_name);
  g_free (self->program_version);
  self->program_name = g_strdup (program->name);
  self->program_version = g_strdup (program->version);
  if (!flow_is_live (self))
    {
      start_flow (self, NULL);
      return;
    }
  if (!pp_install_flow_set_program (self->flow, program->name, program->version, &error))
    show_error (self->program_error_label, error->message);
}

static void
on_program_row_activated (PpInstallWizard *self,
                          GtkListBoxRow   *row)
{
  GtkCheckButton *check = g_object_get_data (G_OBJECT (row), "check");

  if (check != NULL)
    gtk_check_button_set_active (check, TRUE);
}

/* ---- the approval ---- */

static void
on_reviewer_toggled (PpInstallWizard *self)
{
  update_view (self);
}

/* A reviewer signed in here: the flow (or the registry) decides whether
 * they may (not the requester themself, not a field manager). */
static void
on_reviewer_decided (PpInstallWizard *self,
                     const char      *reviewer,
                     gboolean         approve,
                     const char      *reason)
{
  g_autoptr(GError) error = NULL;

  if (!flow_is_live (self))
    pp_reviewer_form_set_error (self->reviewer_form, _("The request is no longer waiting for a decision."));
  else if (!pp_install_flow_set_reviewer (self->flow, registry_of (self), reviewer, approve, reason, &error))
    pp_reviewer_form_set_error (self->reviewer_form, error->message);
  update_view (self);
}

/* ---- the connection ---- */

static void
on_device_opened (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(PpInstallWizard) self = user_data;
  g_autoptr(PpLinkDevice) device = NULL;
  g_autoptr(GError) error = NULL;

  device = pp_link_device_open_finish (result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || disposed (self))
    return;
  self->opening = FALSE;
  if (device == NULL)
    {
      pp_port_picker_set_error (self->port_picker, error->message);
      update_view (self);
      return;
    }
  g_set_object (&self->device, PP_TERMINAL_DEVICE (device));
  if (!flow_is_live (self))
    restart_flow (self);
  else
    pp_install_flow_set_device (self->flow, self->device);
  update_view (self);
}

static void
on_port_chosen (PpInstallWizard        *self,
                const char             *port,
                const PpSerialSettings *settings)
{
  if (self->opening)
    return;
  self->opening = TRUE;
  pp_link_device_open_async (port, settings, self->cancellable, on_device_opened, g_object_ref (self));
  update_view (self);
}

static void
on_connect_clicked (PpInstallWizard *self)
{
  pp_port_picker_choose_address (self->port_picker);
}

/* ---- the program push ---- */

static void
on_push_cancel (PpInstallWizard *self)
{
  if (self->run_cancellable != NULL)
    g_cancellable_cancel (self->run_cancellable);
}

static void
on_resume_clicked (PpInstallWizard *self)
{
  restart_flow (self);
}

static void
on_order_cancelled (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(PpInstallWizard) self = user_data;
  g_autoptr(GError) error = NULL;

  if (disposed (self))
    return;
  if (!pp_install_flow_cancel_order_finish (PP_INSTALL_FLOW (source), result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        gtk_label_set_text (self->problem_hint_label, error->message);
      return;
    }
  /* The terminal is back in stock: start over. */
  g_clear_pointer (&self->serial, g_free);
  g_clear_pointer (&self->new_merchant, g_strfreev);
  self->merchant_id = 0;
  gtk_editable_set_text (GTK_EDITABLE (self->scan_row), "");
  start_flow (self, NULL);
}

static void
on_cancel_order_clicked (PpInstallWizard *self)
{
  if (self->flow == NULL || self->running)
    return;
  pp_install_flow_cancel_order_async (self->flow, _("Cancelled at the station"), self->cancellable,
                                      on_order_cancelled, g_object_ref (self));
}

static void receipt_status (PpInstallWizard *self, const char *text, gboolean error);

static void
on_another_clicked (PpInstallWizard *self)
{
  g_clear_pointer (&self->serial, g_free);
  g_clear_pointer (&self->new_merchant, g_strfreev);
  g_clear_pointer (&self->program_name, g_free);
  g_clear_pointer (&self->program_version, g_free);
  g_clear_pointer (&self->programs_model, g_free);
  g_clear_object (&self->device);
  self->merchant_id = 0;
  gtk_editable_set_text (GTK_EDITABLE (self->scan_row), "");
  pp_reviewer_form_reset (self->reviewer_form);
  receipt_status (self, NULL, FALSE);
  start_flow (self, NULL);
}

/* ---- the receipt: saved as a PDF, printed ---- */

typedef struct {
  PpInstallWizard  *self;      /* a reference */
  PpInstallReceipt *receipt;
  gboolean          print;
} ReceiptJob;

static void
receipt_status (PpInstallWizard *self,
                const char      *text,
                gboolean         error)
{
  gtk_label_set_text (self->receipt_status_label, text);
  gtk_widget_set_visible (GTK_WIDGET (self->receipt_status_label), text != NULL);
  if (error)
    gtk_widget_add_css_class (GTK_WIDGET (self->receipt_status_label), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->receipt_status_label), "error");
}

static void
on_receipt_collected (GObject      *source,
                      GAsyncResult *result,
                      gpointer      data)
{
  ReceiptJob *job = data;
  PpInstallWizard *self = job->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) entries = pp_receipt_collect_finish (PP_REGISTRY (source), result, &error);

  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      if (entries == NULL)
        {
          g_autofree char *text =
            /* TRANSLATORS: %s says why the order's journal entries could not be read. */
            g_strdup_printf (_("The receipt needs the order’s journal entries, which could not be read: %s. "
                               "Try again once the registry answers."), error->message);

          receipt_status (self, text, TRUE);
        }
      else if (job->print)
        {
          receipt_status (self, NULL, FALSE);
          pp_receipt_print (GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (self))), job->receipt, entries);
        }
      else
        {
          g_autofree char *path = pp_receipt_save (job->receipt, entries, &error);
          g_autofree char *text =
            path != NULL
            /* TRANSLATORS: %s is the path of the receipt's PDF file. */
            ? g_strdup_printf (_("Receipt saved as %s"), path)
            /* TRANSLATORS: %s says why the PDF could not be written. */
            : g_strdup_printf (_("The receipt could not be saved: %s. Check that your Documents folder "
                                 "can be written to."), error->message);

          receipt_status (self, text, path == NULL);
        }
    }
  g_clear_pointer (&job->receipt, pp_install_receipt_free);
  g_object_unref (job->self);
  g_free (job);
}

static void
collect_receipt (PpInstallWizard *self,
                 gboolean         print)
{
  ReceiptJob *job;
  PpInstallReceipt *receipt = self->flow != NULL ? pp_install_flow_get_receipt (self->flow) : NULL;

  if (receipt == NULL)
    return;
  job = g_new0 (ReceiptJob, 1);
  job->self = g_object_ref (self);
  job->receipt = receipt;
  job->print = print;
  pp_receipt_collect_async (registry_of (self), receipt, self->cancellable, on_receipt_collected, job);
}

static void
on_save_receipt_clicked (PpInstallWizard *self)
{
  collect_receipt (self, FALSE);
}

static void
on_print_receipt_clicked (PpInstallWizard *self)
{
  collect_receipt (self, TRUE);
}

/* ---- the view ---- */

static char *
format_time (gint64 unix_seconds)
{
  g_autoptr(GDateTime) time = unix_seconds > 0 ? g_date_time_new_from_unix_local (unix_seconds) : NULL;

  /* TRANSLATORS: a date and time on the receipt (g_date_time_format). */
  return time != NULL ? g_date_time_format (time, _("%Y-%m-%d %H:%M:%S")) : NULL;
}

typedef struct {
  const char *title;
  const char *value;
} ReceiptRow;

static void
show_receipt (PpInstallWizard *self)
{
  g_autoptr(PpInstallReceipt) receipt = pp_install_flow_get_receipt (self->flow);
  g_autofree char *program = NULL;
  g_autofree char *started = NULL;
  g_autofree char *finished = NULL;
  GtkWidget *child;
  ReceiptRow rows[12];
  guint n = 0;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->receipt_list))) != NULL)
    gtk_list_box_remove (self->receipt_list, child);
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->receipt_list2))) != NULL)
    gtk_list_box_remove (self->receipt_list2, child);
  if (receipt == NULL)
    return;
  program = g_strdup_printf ("%s %s", receipt->program_name != NULL ? receipt->program_name : "",
                             receipt->program_version != NULL ? receipt->program_version : "");
  started = format_time (receipt->started_at);
  finished = format_time (receipt->finished_at);
  rows[n++] = (ReceiptRow) { N_("Order"), receipt->order_uuid };
  rows[n++] = (ReceiptRow) { N_("Serial Number"), receipt->serial };
  /* A resumed flow may not have read the model: the one this wizard saw. */
  rows[n++] = (ReceiptRow) { N_("Model"), receipt->model != NULL ? receipt->model : self->programs_model };
  rows[n++] = (ReceiptRow) { N_("Merchant"), receipt->merchant_name };
  rows[n++] = (ReceiptRow) { N_("MID"), receipt->mid };
  rows[n++] = (ReceiptRow) { N_("TID"), receipt->tid };
  rows[n++] = (ReceiptRow) { N_("Key Check Value"), receipt->kcv };
  rows[n++] = (ReceiptRow) { N_("Program"), program };
  rows[n++] = (ReceiptRow) { N_("Started"), started };
  rows[n++] = (ReceiptRow) { N_("Finished"), finished };
  rows[n++] = (ReceiptRow) { N_("Requested By"), receipt->requester };
  rows[n++] = (ReceiptRow) { N_("Approved By"), receipt->approver };
  for (guint i = 0; i < n; i++)
    {
      GtkWidget *row = adw_action_row_new ();
      g_autofree char *value = g_markup_escape_text (rows[i].value != NULL ? rows[i].value : "—", -1);

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _(rows[i].title));
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), value);
      gtk_widget_add_css_class (row, "property");
      /* Two columns: the terminal and its merchant, then the key, the program and who did it. */
      gtk_list_box_append (i < n / 2 ? self->receipt_list : self->receipt_list2, row);
    }
}

/* Shows the page's spinner and the flow's message while the flow works on it. */
static void
show_status (PpInstallWizard *self,
             const char      *page,
             const char      *shown,
             GtkWidget       *box,
             GtkSpinner      *spinner,
             GtkLabel        *label,
             gboolean         also_busy)
{
  gboolean busy = (g_strcmp0 (page, shown) == 0 && self->running &&
                   flow_needs (self) == PP_INSTALL_NEEDS_NOTHING) || also_busy;
  g_autofree char *message = flow_string (self, "message");

  gtk_widget_set_visible (box, busy);
  gtk_spinner_set_spinning (spinner, busy);
  gtk_label_set_text (label, message != NULL ? message : "");
}

static void
update_steps (PpInstallWizard *self,
              const char      *shown)
{
  guint current = page_index (shown);
  gboolean failed = flow_failed (self);
  gboolean done = self->flow != NULL && pp_install_flow_get_step (self->flow) == PP_INSTALL_STEP_DONE;

  for (guint i = 0; i < G_N_ELEMENTS (wizard_pages); i++)
    {
      Mark mark = MARK_PENDING;

      if (i < current || done)
        mark = MARK_DONE;
      else if (i == current)
        mark = failed ? MARK_FAILED : MARK_RUNNING;
      mark_set (self->step_marks[i], mark);
    }

  for (guint i = 0; i < G_N_ELEMENTS (key_steps); i++)
    {
      Mark mark = MARK_PENDING;

      if (self->shown_step > key_steps[i].step)
        mark = MARK_DONE;
      else if (self->shown_step == key_steps[i].step)
        mark = failed ? MARK_FAILED : MARK_RUNNING;
      mark_set (self->key_marks[i], mark);
    }
}

static void
update_problem (PpInstallWizard *self)
{
  const GError *error = flow_error (self);
  gboolean failed = flow_failed (self);
  gboolean has_order = self->flow != NULL && pp_install_flow_get_order_uuid (self->flow) != NULL;
  g_autofree char *message = flow_string (self, "message");

  gtk_revealer_set_reveal_child (self->problem_revealer, failed);
  if (!failed)
    return;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    gtk_label_set_text (self->problem_label, _("Stopped. Nothing is lost: resume to go on where it stopped."));
  else
    gtk_label_set_text (self->problem_label, error != NULL ? error->message : _("The install stopped."));
  gtk_label_set_text (self->problem_hint_label, message != NULL ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (self->problem_hint_label), message != NULL && message[0] != '\0' &&
                          (error == NULL || g_strcmp0 (message, error->message) != 0));
  /* Before the order there is nothing to resume: the user scans (or picks) again. */
  gtk_button_set_label (self->retry_button, has_order ? _("_Resume") : _("_Try Again"));
  /* The push page has its own Resume. */
  gtk_widget_set_visible (GTK_WIDGET (self->retry_button), self->shown_step > PP_INSTALL_STEP_CHECK &&
                                                           self->shown_step != PP_INSTALL_STEP_PROGRAM);
  gtk_widget_set_visible (self->cancel_order_button, has_order && self->shown_step <= PP_INSTALL_STEP_KEY_TOKEN);
}

static GtkWidget *
first_field (PpInstallWizard *self,
             const char      *page)
{
  if (g_str_equal (page, "scan"))
    return GTK_WIDGET (self->scan_row);
  if (g_str_equal (page, "merchant"))
    return g_strcmp0 (gtk_stack_get_visible_child_name (self->merchant_stack), "new") == 0
             ? GTK_WIDGET (self->name_row) : GTK_WIDGET (self->merchant_search);
  if (g_str_equal (page, "program"))
    {
      GtkWidget *row = gtk_widget_get_first_child (GTK_WIDGET (self->program_list));

      return row != NULL && gtk_widget_get_visible (GTK_WIDGET (self->program_list)) ? row : self->program_button;
    }
  if (g_str_equal (page, "approval"))
    return pp_reviewer_form_get_toggle (self->reviewer_form);
  if (g_str_equal (page, "connect"))
    return pp_port_picker_get_focus_target (self->port_picker);
  if (g_str_equal (page, "push"))
    return self->push_cancel_button;
  if (g_str_equal (page, "done"))
    return self->another_button;
  return NULL;
}

static GtkWidget *
default_button (PpInstallWizard *self,
                const char      *page)
{
  if (g_str_equal (page, "scan"))
    return self->scan_button;
  if (g_str_equal (page, "merchant"))
    return self->new_merchant_button;
  if (g_str_equal (page, "program"))
    return self->program_button;
  if (g_str_equal (page, "approval"))
    return pp_reviewer_form_get_approve_button (self->reviewer_form);
  if (g_str_equal (page, "connect"))
    return self->tcp_button;
  if (g_str_equal (page, "done"))
    return self->another_button;
  return NULL;
}

static gboolean
focus_first_field (gpointer data)
{
  PpInstallWizard *self = data;
  const char *page = gtk_stack_get_visible_child_name (self->stack);
  GtkWidget *field = first_field (self, page);

  self->focus_id = 0;
  /* Not yet when the field cannot take it (the flow does not need it yet):
   * the next update tries again. */
  if (field != NULL && gtk_widget_get_mapped (field) && gtk_widget_is_sensitive (field) &&
      gtk_widget_grab_focus (field))
    self->focused_page = wizard_pages[page_index (page)].page;
  return G_SOURCE_REMOVE;
}

static void
enter_page (PpInstallWizard *self,
            const char      *page)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkWidget *field;

  if (g_str_equal (page, "program") && self->flow != NULL)
    {
      g_autofree char *model = flow_string (self, "model");

      list_programs (self, model);
    }
  /* Once: the search looks again (the port picker lists as it maps). */
  if (g_str_equal (page, "merchant") && !self->merchants_listed)
    {
      self->merchants_listed = TRUE;
      search_merchants (self);
    }

  if (g_strcmp0 (self->focused_page, page) == 0)
    return;
  field = first_field (self, page);
  if (GTK_IS_WINDOW (root))
    gtk_window_set_default_widget (GTK_WINDOW (root), default_button (self, page));
  /* After the window has settled its own focus (it picks one as it maps). */
  if (field != NULL && self->focus_id == 0)
    self->focus_id = g_idle_add (focus_first_field, self);
}

static void
update_view (PpInstallWizard *self)
{
  PpInstallStep step = self->flow != NULL ? pp_install_flow_get_step (self->flow) : PP_INSTALL_STEP_SCAN;
  PpInstallNeeds needs = flow_needs (self);
  const char *shown;
  g_autofree char *serial = NULL;
  g_autofree char *model = NULL;
  g_autofree char *merchant = NULL;
  g_autofree char *mid = NULL;
  g_autofree char *tid = NULL;
  g_autofree char *program = NULL;
  g_autofree char *version = NULL;
  g_autofree char *approval = NULL;
  g_autofree char *message = NULL;

  if (step != PP_INSTALL_STEP_FAILED)
    self->shown_step = step;
  shown = page_for_step (self->shown_step);
  if (g_strcmp0 (gtk_stack_get_visible_child_name (self->stack), shown) != 0)
    {
      gtk_stack_set_visible_child_name (self->stack, shown);
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_PAGE_NAME]);
    }
  update_steps (self, shown);
  update_problem (self);

  serial = flow_string (self, "serial");
  model = flow_string (self, "model");
  merchant = flow_string (self, "merchant-name");
  mid = flow_string (self, "mid");
  tid = flow_string (self, "tid");
  program = flow_string (self, "program-name");
  version = flow_string (self, "program-version");
  approval = flow_string (self, "approval-uuid");
  message = flow_string (self, "message");
  /* A resumed flow learns these later than the one before it did. */
  if (model == NULL)
    model = g_strdup (self->programs_model);
  if (program == NULL && self->program_name != NULL)
    {
      program = g_strdup (self->program_name);
      g_free (version);
      version = g_strdup (self->program_version);
    }

  /* scan */
  /* Only the buttons follow what the flow needs: an entry made insensitive
   * while it has the focus loses it without a focus-out (GTK 4.8 warns). */
  gtk_widget_set_sensitive (self->scan_button, !flow_is_live (self) || needs == PP_INSTALL_NEEDS_SERIAL);
  show_status (self, "scan", shown, self->scan_status_box, self->scan_spinner, self->scan_status_label, FALSE);

  /* merchant */
  gtk_widget_set_sensitive (self->new_merchant_button, !flow_is_live (self) || needs == PP_INSTALL_NEEDS_MERCHANT);
  gtk_widget_set_sensitive (GTK_WIDGET (self->merchant_list), !flow_is_live (self) ||
                                                              needs == PP_INSTALL_NEEDS_MERCHANT);
  show_status (self, "merchant", shown, self->merchant_status_box, self->merchant_spinner,
               self->merchant_status_label, FALSE);

  /* program */
  gtk_widget_set_sensitive (self->program_button,
                            (!flow_is_live (self) || needs == PP_INSTALL_NEEDS_PROGRAM) && self->programs != NULL &&
                            self->programs->len > 0);
  show_status (self, "program", shown, self->program_status_box, self->program_spinner,
               self->program_status_label, FALSE);

  /* approval */
  set_row_value (self->approval_serial_row, serial);
  set_row_value (self->approval_model_row, model);
  set_row_value (self->approval_merchant_row, merchant);
  {
    g_autofree char *ids = mid != NULL || tid != NULL
                             ? g_strdup_printf ("%s / %s", mid != NULL ? mid : "—", tid != NULL ? tid : "—") : NULL;
    g_autofree char *name = program != NULL ? g_strdup_printf ("%s %s", program, version != NULL ? version : "")
                                            : NULL;
    const char *payload = qr_payload_for (self, approval);

    set_row_value (self->approval_ids_row, ids);
    set_row_value (self->approval_program_row, name);
    pp_qr_view_set_text (self->approval_qr, payload);
    /* With the reviewer here, the form takes the code's place. */
    gtk_widget_set_visible (GTK_WIDGET (self->approval_qr),
                            payload != NULL && !pp_reviewer_form_get_open (self->reviewer_form));
  }
  gtk_spinner_set_spinning (self->approval_spinner, needs == PP_INSTALL_NEEDS_APPROVAL ||
                                                    (g_str_equal (shown, "approval") && self->running));
  gtk_label_set_text (self->approval_wait_label, message != NULL ? message : "");
  pp_reviewer_form_set_accepting (self->reviewer_form, needs == PP_INSTALL_NEEDS_APPROVAL);

  /* connect */
  pp_port_picker_set_busy (self->port_picker, self->opening);
  gtk_widget_set_sensitive (self->tcp_button, !self->opening);
  show_status (self, "connect", shown, self->connect_status_box, self->connect_spinner,
               self->connect_status_label, self->opening);
  if (self->opening)
    gtk_label_set_text (self->connect_status_label, _("Opening the port and greeting the terminal…"));

  /* push */
  {
    double progress = 0, rate = 0, left = -1;
    g_autofree char *percent = NULL;

    if (self->flow != NULL)
      g_object_get (self->flow, "progress", &progress, "rate", &rate, "seconds-left", &left, NULL);
    if (self->shown_step == PP_INSTALL_STEP_PROGRAM && progress >= 0)
      {
        gtk_progress_bar_set_fraction (self->push_progress, CLAMP (progress, 0, 1));
        percent = g_strdup_printf (_("%.0f %%"), CLAMP (progress, 0, 1) * 100);
        gtk_progress_bar_set_text (self->push_progress, percent);
      }
    else if (self->shown_step == PP_INSTALL_STEP_CLOSE)
      {
        gtk_progress_bar_set_fraction (self->push_progress, 1);
        gtk_progress_bar_set_text (self->push_progress, message);
      }
    if (rate > 0)
      {
        g_autofree char *size = g_format_size ((guint64) rate);
        /* TRANSLATORS: the push's rate, e.g. "11.5 kB per second". */
        g_autofree char *text = g_strdup_printf (_("%s per second"), size);

        gtk_label_set_text (self->push_rate_label, text);
      }
    else
      gtk_label_set_text (self->push_rate_label, "");
    if (left >= 0 && self->running)
      {
        g_autofree char *text = left < 60
          ? g_strdup_printf (ngettext ("About %d second left", "About %d seconds left",
                                          (gulong) (left + 0.5)), (int) (left + 0.5))
          : g_strdup_printf (ngettext ("About %d minute left", "About %d minutes left",
                                          (gulong) (left / 60 + 0.5)), (int) (left / 60 + 0.5));

        gtk_label_set_text (self->push_left_label, text);
      }
    else
      gtk_label_set_text (self->push_left_label, "");
    gtk_widget_set_visible (self->push_cancel_button, self->running);
    gtk_widget_set_visible (self->push_resume_button, flow_failed (self));
  }

  if (step == PP_INSTALL_STEP_DONE && !self->running && self->receipt_for != self->flow)
    {
      self->receipt_for = self->flow;
      show_receipt (self);
    }

  enter_page (self, shown);
}

/* ---- the class ---- */

PpInstallFlow *
pp_install_wizard_get_flow (PpInstallWizard *self)
{
  g_return_val_if_fail (PP_IS_INSTALL_WIZARD (self), NULL);
  return self->flow;
}

const char *
pp_install_wizard_get_page_name (PpInstallWizard *self)
{
  g_return_val_if_fail (PP_IS_INSTALL_WIZARD (self), NULL);
  return gtk_stack_get_visible_child_name (self->stack);
}

void
pp_install_wizard_resume_order (PpInstallWizard *self,
                                const char      *order_uuid)
{
  g_return_if_fail (PP_IS_INSTALL_WIZARD (self));
  g_return_if_fail (order_uuid != NULL);

  start_flow (self, order_uuid);
}

static void
on_map (PpInstallWizard *self)
{
  /* The first field of the page shown gets the focus once there is a window. */
  self->focused_page = NULL;
  update_view (self);
}

static void
build_sidebar (PpInstallWizard *self)
{
  for (guint i = 0; i < G_N_ELEMENTS (wizard_pages); i++)
    {
      GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
      GtkWidget *label = gtk_label_new (_(wizard_pages[i].title));
      GtkWidget *row = gtk_list_box_row_new ();

      self->step_marks[i] = mark_new ();
      gtk_box_append (GTK_BOX (box), self->step_marks[i]);
      gtk_label_set_xalign (GTK_LABEL (label), 0);
      gtk_label_set_wrap (GTK_LABEL (label), TRUE);
      gtk_box_append (GTK_BOX (box), label);
      gtk_widget_set_margin_top (box, 6);
      gtk_widget_set_margin_bottom (box, 6);
      gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), box);
      gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), FALSE);
      gtk_widget_set_focusable (row, FALSE);
      gtk_list_box_append (self->steps_list, row);
    }

  for (guint i = 0; i < G_N_ELEMENTS (key_steps); i++)
    {
      GtkWidget *row = adw_action_row_new ();

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _(key_steps[i].title));
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), _(key_steps[i].subtitle));
      self->key_marks[i] = mark_new ();
      adw_action_row_add_prefix (ADW_ACTION_ROW (row), self->key_marks[i]);
      gtk_list_box_append (self->key_list, row);
    }
}

static void
pp_install_wizard_constructed (GObject *object)
{
  PpInstallWizard *self = PP_INSTALL_WIZARD (object);

  G_OBJECT_CLASS (pp_install_wizard_parent_class)->constructed (object);

  g_return_if_fail (registry_of (self) != NULL);
  g_return_if_fail (user_of (self) != NULL);
  pp_reviewer_form_set_registry (self->reviewer_form, registry_of (self));
  start_flow (self, NULL);
}

static void
pp_install_wizard_dispose (GObject *object)
{
  PpInstallWizard *self = PP_INSTALL_WIZARD (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->focus_id, g_source_remove);
  if (self->search_cancellable != NULL)
    g_cancellable_cancel (self->search_cancellable);
  if (self->run_cancellable != NULL)
    g_cancellable_cancel (self->run_cancellable);
  if (self->flow_signals != NULL)
    g_signal_group_set_target (self->flow_signals, NULL);
  g_clear_object (&self->flow_signals);
  g_clear_object (&self->flow);
  g_clear_object (&self->device);
  g_clear_pointer (&self->qr_approval, g_free);
  g_clear_pointer (&self->qr_payload, g_free);
  gtk_widget_dispose_template (GTK_WIDGET (self), PP_TYPE_INSTALL_WIZARD);
  G_OBJECT_CLASS (pp_install_wizard_parent_class)->dispose (object);
}

static void
pp_install_wizard_finalize (GObject *object)
{
  PpInstallWizard *self = PP_INSTALL_WIZARD (object);

  g_clear_object (&self->cancellable);
  g_clear_object (&self->search_cancellable);
  g_clear_object (&self->run_cancellable);
  g_clear_error (&self->run_error);
  g_free (self->serial);
  g_strfreev (self->new_merchant);
  g_free (self->program_name);
  g_free (self->program_version);
  g_free (self->programs_model);
  g_clear_pointer (&self->merchants, g_ptr_array_unref);
  g_clear_pointer (&self->programs, g_ptr_array_unref);
  G_OBJECT_CLASS (pp_install_wizard_parent_class)->finalize (object);
}

static void
pp_install_wizard_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  PpInstallWizard *self = PP_INSTALL_WIZARD (object);

  switch (prop_id)
    {
    case PROP_FLOW:
      g_value_set_object (value, self->flow);
      break;
    case PROP_PAGE_NAME:
      g_value_set_string (value, pp_install_wizard_get_page_name (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pp_install_wizard_class_init (PpInstallWizardClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = pp_install_wizard_constructed;
  object_class->dispose = pp_install_wizard_dispose;
  object_class->finalize = pp_install_wizard_finalize;
  object_class->get_property = pp_install_wizard_get_property;

  props[PROP_FLOW] =
    g_param_spec_object ("flow", NULL, NULL, PP_TYPE_INSTALL_FLOW,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_PAGE_NAME] =
    g_param_spec_string ("page-name", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  g_type_ensure (PP_TYPE_QR_VIEW);
  g_type_ensure (PP_TYPE_PORT_PICKER);
  g_type_ensure (PP_TYPE_REVIEWER_FORM);
  gtk_widget_class_set_template_from_resource (widget_class, "/org/posprov/Station/pp-install-wizard.ui");
#define BIND(name) gtk_widget_class_bind_template_child (widget_class, PpInstallWizard, name)
  BIND (steps_list);
  BIND (problem_revealer);
  BIND (problem_label);
  BIND (problem_hint_label);
  BIND (retry_button);
  BIND (cancel_order_button);
  BIND (stack);
  BIND (scan_row);
  BIND (scan_error_label);
  BIND (scan_status_box);
  BIND (scan_spinner);
  BIND (scan_status_label);
  BIND (scan_button);
  BIND (merchant_stack);
  BIND (merchant_search);
  BIND (merchant_list);
  BIND (merchant_empty_label);
  BIND (name_row);
  BIND (reg_row);
  BIND (address_row);
  BIND (mcc_row);
  BIND (contact_row);
  BIND (phone_row);
  BIND (merchant_errors_label);
  BIND (new_merchant_button);
  BIND (merchant_error_label);
  BIND (merchant_status_box);
  BIND (merchant_spinner);
  BIND (merchant_status_label);
  BIND (program_list);
  BIND (program_empty_label);
  BIND (program_error_label);
  BIND (program_status_box);
  BIND (program_spinner);
  BIND (program_status_label);
  BIND (program_button);
  BIND (approval_serial_row);
  BIND (approval_model_row);
  BIND (approval_merchant_row);
  BIND (approval_ids_row);
  BIND (approval_program_row);
  BIND (approval_qr);
  BIND (approval_spinner);
  BIND (approval_wait_label);
  BIND (reviewer_form);
  BIND (port_picker);
  BIND (connect_status_box);
  BIND (connect_spinner);
  BIND (connect_status_label);
  BIND (tcp_button);
  BIND (key_list);
  BIND (keys_error_label);
  BIND (push_progress);
  BIND (push_rate_label);
  BIND (push_left_label);
  BIND (push_error_label);
  BIND (push_cancel_button);
  BIND (push_resume_button);
  BIND (receipt_list);
  BIND (receipt_list2);
  BIND (receipt_status_label);
  BIND (another_button);
#undef BIND
#define CALLBACK(name) gtk_widget_class_bind_template_callback (widget_class, name)
  CALLBACK (on_scan_activated);
  CALLBACK (on_scan_changed);
  CALLBACK (on_merchant_mode_changed);
  CALLBACK (on_merchant_search_changed);
  CALLBACK (on_merchant_search_activated);
  CALLBACK (on_merchant_row_activated);
  CALLBACK (on_new_merchant_activated);
  CALLBACK (on_merchant_field_changed);
  CALLBACK (on_program_row_activated);
  CALLBACK (on_program_chosen);
  CALLBACK (on_reviewer_toggled);
  CALLBACK (on_reviewer_decided);
  CALLBACK (on_port_chosen);
  CALLBACK (on_connect_clicked);
  CALLBACK (on_push_cancel);
  CALLBACK (on_resume_clicked);
  CALLBACK (on_another_clicked);
  CALLBACK (on_save_receipt_clicked);
  CALLBACK (on_print_receipt_clicked);
  CALLBACK (on_cancel_order_clicked);
#undef CALLBACK
}

static void
pp_install_wizard_init (PpInstallWizard *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
  self->flow_signals = g_signal_group_new (PP_TYPE_INSTALL_FLOW);
  g_signal_group_connect_swapped (self->flow_signals, "notify", G_CALLBACK (on_flow_notify), self);
  g_signal_group_connect_swapped (self->flow_signals, "notify::reviewer-error",
                                  G_CALLBACK (on_flow_reviewer_error), self);
  g_signal_connect (self, "map", G_CALLBACK (on_map), NULL);
  build_sidebar (self);
}

GtkWidget *
pp_install_wizard_new (PpRegistry *registry,
                       const char *user,
                       PpUserRole  role)
{
  g_return_val_if_fail (PP_IS_REGISTRY (registry), NULL);
  g_return_val_if_fail (user != NULL, NULL);

  return g_object_new (PP_TYPE_INSTALL_WIZARD, "registry", registry, "user", user, "role", (int) role, NULL);
}

GtkWindow *
pp_install_wizard_open_window (GtkWindow  *parent,
                               PpRegistry *registry,
                               const char *user,
                               PpUserRole  role)
{
  g_return_val_if_fail (PP_IS_REGISTRY (registry), NULL);
  g_return_val_if_fail (user != NULL, NULL);

  return pp_session_page_open_window (PP_SESSION_PAGE (pp_install_wizard_new (registry, user, role)), parent,
                                      _("Install a Terminal"));
}
