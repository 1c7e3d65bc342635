/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-recycle-page.c: the recycle, a view of PpRecycleFlow.
 *
 * As in the install wizard, the flow decides and the page shows: the page
 * on screen is the one of the flow's step, the inputs are offered while the
 * flow "needs" them.  The registry and the terminal refuse what is not
 * allowed (a requester approving their own recycle, a terminal that is not
 * installed, the wrong terminal on the cable) and their messages show.
 *
 * A failed flow has ended; Try Again starts a new one resuming the order
 * when there is one (docs/install-flow.md, "Recycle"), with the serial,
 * the reason and the terminal already given.
 */
#include "config.h"

#include <glib/gi18n.h>

#include "pp-link-device.h"
#include "pp-port-picker.h"
#include "pp-qr-view.h"
#include "pp-recycle-page.h"
#include "pp-reviewer-form.h"
#include "pp-scan.h"

/* The device steps the work page lists. */
typedef struct {
  PpRecycleStep step;
  const char   *title;
  const char   *subtitle;
} WorkStep;

static const WorkStep work_steps[] = {
  { PP_RECYCLE_STEP_IDENTIFY, N_("Identify the terminal"), N_("Its serial must be the one scanned") },
  { PP_RECYCLE_STEP_UNBIND,   N_("Unbind from the key host"), N_("UBT_KDH from the registry’s key host") },
  { PP_RECYCLE_STEP_ZEROIZE,  N_("Erase the keys"), N_("The terminal zeroizes every key it holds") },
  { PP_RECYCLE_STEP_CLOSE,    N_("Back in stock"), N_("The registry closes the recycle order") },
};

struct _PpRecyclePage
{
  PpSessionPage     parent_instance;

  PpRecycleFlow    *flow;
  GSignalGroup     *flow_signals;
  GCancellable     *run_cancellable;
  gboolean          running;
  GCancellable     *cancellable;      /* the page's own calls; cancelled in dispose */
  PpTerminalDevice *device;
  char             *serial;
  char             *reason;
  gboolean          opening;
  gpointer          receipt_for;      /* the flow whose receipt is shown (no reference) */
  GtkWidget        *work_icons[G_N_ELEMENTS (work_steps)];

  /* template */
  GtkRevealer      *problem_revealer;
  GtkLabel         *problem_label;
  GtkButton        *retry_button;
  GtkStack         *stack;
  AdwEntryRow      *scan_row;
  GtkLabel         *scan_error_label;
  GtkWidget        *scan_status_box;
  GtkSpinner       *scan_spinner;
  GtkLabel         *scan_status_label;
  GtkWidget        *scan_button;
  GtkListBox       *confirm_list;
  AdwEntryRow      *reason_row;
  GtkLabel         *confirm_error_label;
  GtkWidget        *confirm_status_box;
  GtkSpinner       *confirm_spinner;
  GtkLabel         *confirm_status_label;
  GtkWidget        *confirm_button;
  PpQrView         *approval_qr;
  GtkLabel         *approval_code_label;
  GtkWidget        *approval_status_box;
  GtkSpinner       *approval_spinner;
  GtkLabel         *approval_status_label;
  PpReviewerForm   *reviewer_form;
  PpPortPicker     *port_picker;
  GtkWidget        *connect_status_box;
  GtkSpinner       *connect_spinner;
  GtkLabel         *connect_status_label;
  GtkWidget        *connect_button;
  GtkListBox       *work_list;
  GtkWidget        *work_status_box;
  GtkSpinner       *work_spinner;
  GtkLabel         *work_status_label;
  GtkListBox       *receipt_list;
  GtkWidget        *another_button;
};

G_DEFINE_FINAL_TYPE (PpRecyclePage, pp_recycle_page, PP_TYPE_SESSION_PAGE)

enum {
  PROP_0,
  PROP_FLOW,
  PROP_PAGE_NAME,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

static void update_view (PpRecyclePage *self);
static void start_flow  (PpRecyclePage *self);

static PpRegistry *
page_registry (PpRecyclePage *self)
{
  return pp_session_page_get_registry (PP_SESSION_PAGE (self));
}

static gboolean
gone (PpRecyclePage *self)
{
  return g_cancellable_is_cancelled (self->cancellable);
}

static void
set_label_error (GtkLabel   *label,
                 const char *message)
{
  gtk_label_set_text (label, message != NULL ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (label), message != NULL && message[0] != '\0');
}

static PpRecycleNeeds
needs_now (PpRecyclePage *self)
{
  return self->flow != NULL && self->running ? pp_recycle_flow_get_needs (self->flow) : PP_RECYCLE_NEEDS_NOTHING;
}

static gboolean
has_failed (PpRecyclePage *self)
{
  return self->flow != NULL && !self->running && pp_recycle_flow_get_step (self->flow) != PP_RECYCLE_STEP_DONE;
}

static const char *
page_of_step (PpRecycleStep step)
{
  switch (step)
    {
    case PP_RECYCLE_STEP_SCAN:
    case PP_RECYCLE_STEP_CHECK:
      return "scan";
    case PP_RECYCLE_STEP_CONFIRM:
    case PP_RECYCLE_STEP_ORDER:
      return "confirm";
    case PP_RECYCLE_STEP_APPROVAL:
      return "approval";
    case PP_RECYCLE_STEP_CONNECT:
      return "connect";
    case PP_RECYCLE_STEP_IDENTIFY:
    case PP_RECYCLE_STEP_UNBIND:
    case PP_RECYCLE_STEP_ZEROIZE:
    case PP_RECYCLE_STEP_CLOSE:
      return "work";
    case PP_RECYCLE_STEP_DONE:
      return "done";
    case PP_RECYCLE_STEP_FAILED:
    default:
      return NULL;
    }
}

static char *
flow_text (PpRecyclePage *self,
           const char    *property)
{
  char *value = NULL;

  if (self->flow != NULL)
    g_object_get (self->flow, property, &value, NULL);
  return value;
}

/* ---- the flow ---- */

static void
on_run_done (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(PpRecyclePage) self = user_data;
  g_autoptr(GError) error = NULL;

  pp_recycle_flow_run_finish (PP_RECYCLE_FLOW (source), result, &error);
  if (PP_RECYCLE_FLOW (source) != self->flow || gone (self))
    return;
  self->running = FALSE;
  /* A terminal that went away is chosen again before the next try. */
  if (error != NULL && error->domain == PP_TERMINAL_DEVICE_ERROR)
    g_clear_object (&self->device);
  update_view (self);
}

static void
start_flow (PpRecyclePage *self)
{
  g_autoptr(PpRecycleFlow) flow = pp_recycle_flow_new (page_registry (self),
                                                       pp_session_page_get_user (PP_SESSION_PAGE (self)));
  g_autofree char *order = flow_text (self, "order-uuid");

  if (self->run_cancellable != NULL)
    g_cancellable_cancel (self->run_cancellable);
  g_clear_object (&self->run_cancellable);
  if (self->serial != NULL)
    pp_recycle_flow_set_serial (flow, self->serial, NULL);
  /* Resuming: the order (when there is one) goes on where it stopped. */
  if (order != NULL)
    pp_recycle_flow_resume (flow, order);
  if (self->reason != NULL)
    pp_recycle_flow_confirm (flow, self->reason);
  if (self->device != NULL)
    pp_recycle_flow_set_device (flow, self->device);
  g_set_object (&self->flow, flow);
  g_signal_group_set_target (self->flow_signals, flow);
  self->run_cancellable = g_cancellable_new ();
  self->running = TRUE;
  pp_recycle_flow_run_async (flow, self->run_cancellable, on_run_done, g_object_ref (self));
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_FLOW]);
  update_view (self);
}

/* ---- scan and confirm ---- */

static void
on_scan_changed (PpRecyclePage *self)
{
  set_label_error (self->scan_error_label, NULL);
}

static void
on_scan_activated (PpRecyclePage *self)
{
  g_autofree char *serial = NULL;
  g_autoptr(GError) error = NULL;

  if (!pp_scan_parse (gtk_editable_get_text (GTK_EDITABLE (self->scan_row)), &serial, NULL, &error))
    {
      set_label_error (self->scan_error_label, error->message);
      gtk_widget_grab_focus (GTK_WIDGET (self->scan_row));
      return;
    }
  gtk_editable_set_text (GTK_EDITABLE (self->scan_row), serial);
  g_free (self->serial);
  self->serial = g_steal_pointer (&serial);
  if (!self->running || pp_recycle_flow_get_needs (self->flow) != PP_RECYCLE_NEEDS_SERIAL)
    {
      start_flow (self);
      return;
    }
  if (!pp_recycle_flow_set_serial (self->flow, self->serial, &error))
    set_label_error (self->scan_error_label, error->message);
}

static char *
reason_text (AdwEntryRow *row)
{
  return g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (row))));
}

static void
on_reason_changed (PpRecyclePage *self)
{
  set_label_error (self->confirm_error_label, NULL);
  update_view (self);
}

static void
on_confirm_clicked (PpRecyclePage *self)
{
  g_autofree char *reason = reason_text (self->reason_row);

  if (reason[0] == '\0')
    {
      set_label_error (self->confirm_error_label, _("Say why the terminal is recycled (the merchant closed, "
                                                    "a fault): the reason is kept on the order."));
      gtk_widget_grab_focus (GTK_WIDGET (self->reason_row));
      return;
    }
  if (needs_now (self) != PP_RECYCLE_NEEDS_CONFIRM)
    return;
  g_free (self->reason);
  self->reason = g_steal_pointer (&reason);
  pp_recycle_flow_confirm (self->flow, self->reason);
}

static void
add_info_row (GtkListBox *list,
              const char *title,
              const char *subtitle,
              const char *icon)
{
  GtkWidget *row = adw_action_row_new ();
  g_autofree char *escaped = g_markup_escape_text (subtitle != NULL && subtitle[0] != '\0' ? subtitle : "—", -1);

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), escaped);
  if (icon != NULL)
    adw_action_row_set_icon_name (ADW_ACTION_ROW (row), icon);
  gtk_list_box_append (list, row);
}

static void
clear_list (GtkListBox *list)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (list))) != NULL)
    gtk_list_box_remove (list, child);
}

static void
show_confirmation (PpRecyclePage *self,
                   const char    *serial)
{
  clear_list (self->confirm_list);
  add_info_row (self->confirm_list, _("Serial Number"), serial, "phone-symbolic");
  add_info_row (self->confirm_list, _("Keys Erased"),
                _("The terminal zeroizes its terminal master key and every key it holds"), "edit-clear-all-symbolic");
  add_info_row (self->confirm_list, _("Key Host Binding Removed"),
                _("The key host signs the unbind (UBT_KDH); the terminal accepts no key from it afterwards"),
                "changes-allow-symbolic");
  add_info_row (self->confirm_list, _("Merchant Cleared"),
                _("The MID and TID are released; the terminal goes back to stock"), "user-trash-symbolic");
}

/* ---- the approval ---- */

static void
on_reviewer_decided (PpRecyclePage  *self,
                     const char     *reviewer,
                     gboolean        approve,
                     const char     *reason,
                     PpReviewerForm *form)
{
  g_autoptr(GError) error = NULL;

  if (needs_now (self) != PP_RECYCLE_NEEDS_APPROVAL)
    pp_reviewer_form_set_error (self->reviewer_form, _("The request is no longer waiting for a decision."));
  else if (!pp_recycle_flow_set_reviewer (self->flow, page_registry (self), reviewer, approve, reason, &error))
    pp_reviewer_form_set_error (self->reviewer_form, error->message);
  update_view (self);
}

static void
on_reviewer_open (PpRecyclePage *self)
{
  update_view (self);
}

/* ---- the terminal ---- */

static void
on_terminal_opened (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(PpRecyclePage) self = user_data;
  g_autoptr(PpLinkDevice) device = NULL;
  g_autoptr(GError) error = NULL;

  device = pp_link_device_open_finish (result, &error);
  if (gone (self))
    return;
  self->opening = FALSE;
  if (device == NULL)
    pp_port_picker_set_error (self->port_picker, error->message);
  else
    {
      g_set_object (&self->device, PP_TERMINAL_DEVICE (device));
      if (self->running)
        pp_recycle_flow_set_device (self->flow, self->device);
      else
        start_flow (self);
    }
  update_view (self);
}

static void
on_port_chosen (PpRecyclePage          *self,
                const char             *port,
                const PpSerialSettings *settings)
{
  if (self->opening)
    return;
  self->opening = TRUE;
  pp_link_device_open_async (port, settings, self->cancellable, on_terminal_opened, g_object_ref (self));
  update_view (self);
}

static void
on_connect_clicked (PpRecyclePage *self)
{
  pp_port_picker_choose_address (self->port_picker);
}

/* ---- retry, another ---- */

static void
on_retry_clicked (PpRecyclePage *self)
{
  start_flow (self);
}

static void
on_another_clicked (PpRecyclePage *self)
{
  g_clear_pointer (&self->serial, g_free);
  g_clear_pointer (&self->reason, g_free);
  g_clear_object (&self->device);
  g_clear_object (&self->flow);
  gtk_editable_set_text (GTK_EDITABLE (self->scan_row), "");
  gtk_editable_set_text (GTK_EDITABLE (self->reason_row), "");
  pp_reviewer_form_reset (self->reviewer_form);
  start_flow (self);
}

/* ---- the view ---- */

static void
show_receipt (PpRecyclePage *self)
{
  g_autoptr(PpRecycleReceipt) receipt = pp_recycle_flow_get_receipt (self->flow);
  g_autoptr(GDateTime) finished = NULL;
  g_autofree char *when = NULL;

  clear_list (self->receipt_list);
  if (receipt == NULL)
    return;
  if (receipt->finished_at > 0)
    {
      finished = g_date_time_new_from_unix_local (receipt->finished_at);
      /* TRANSLATORS: a date and time on the receipt (g_date_time_format). */
      when = g_date_time_format (finished, _("%Y-%m-%d %H:%M:%S"));
    }
  add_info_row (self->receipt_list, _("Order"), receipt->order_uuid, NULL);
  add_info_row (self->receipt_list, _("Serial Number"), receipt->serial, NULL);
  add_info_row (self->receipt_list, _("Cleared MID"), receipt->cleared_mid, NULL);
  add_info_row (self->receipt_list, _("Cleared TID"), receipt->cleared_tid, NULL);
  add_info_row (self->receipt_list, _("Reason"), receipt->reason, NULL);
  add_info_row (self->receipt_list, _("Approved By"), receipt->approver, NULL);
  add_info_row (self->receipt_list, _("Unbound from the Key Host"), receipt->unbound ? _("Yes") : _("No"), NULL);
  add_info_row (self->receipt_list, _("Keys Erased"), receipt->zeroized ? _("Yes") : _("No"), NULL);
  add_info_row (self->receipt_list, _("Finished"), when, NULL);
}

static void
show_busy (PpRecyclePage *self,
           const char    *page,
           const char    *shown,
           GtkWidget     *box,
           GtkSpinner    *spinner,
           GtkLabel      *label,
           gboolean       also)
{
  gboolean busy = (g_strcmp0 (page, shown) == 0 && self->running && needs_now (self) == PP_RECYCLE_NEEDS_NOTHING) ||
                  also;
  g_autofree char *message = flow_text (self, "message");

  gtk_widget_set_visible (box, busy);
  gtk_spinner_set_spinning (spinner, busy);
  gtk_label_set_text (label, message != NULL ? message : "");
}

static void
update_work (PpRecyclePage *self,
             PpRecycleStep  step)
{
  gboolean failed = has_failed (self);

  for (guint i = 0; i < G_N_ELEMENTS (work_steps); i++)
    {
      const char *icon = "content-loading-symbolic";

      if (step > work_steps[i].step || step == PP_RECYCLE_STEP_DONE)
        icon = "emblem-ok-symbolic";
      else if (step == work_steps[i].step)
        icon = failed ? "dialog-error-symbolic" : "media-playback-start-symbolic";
      gtk_image_set_from_icon_name (GTK_IMAGE (self->work_icons[i]), icon);
    }
}

static void
update_view (PpRecyclePage *self)
{
  PpRecycleStep step = self->flow != NULL ? pp_recycle_flow_get_step (self->flow) : PP_RECYCLE_STEP_SCAN;
  PpRecycleNeeds needs = needs_now (self);
  const char *shown = page_of_step (step);
  g_autofree char *serial = flow_text (self, "serial");
  g_autofree char *approval = flow_text (self, "approval-uuid");
  g_autofree char *code = flow_text (self, "approval-code");
  g_autofree char *message = flow_text (self, "message");
  g_autoptr(GError) error = NULL;
  g_autofree char *reason = reason_text (self->reason_row);

  /* A failed flow stays on the page where it stopped. */
  if (shown == NULL)
    shown = gtk_stack_get_visible_child_name (self->stack);
  if (g_strcmp0 (gtk_stack_get_visible_child_name (self->stack), shown) != 0)
    {
      gtk_stack_set_visible_child_name (self->stack, shown);
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_PAGE_NAME]);
    }

  if (self->flow != NULL)
    g_object_get (self->flow, "error", &error, NULL);
  gtk_revealer_set_reveal_child (self->problem_revealer, has_failed (self));
  if (has_failed (self))
    {
      const GError *why = error;

      gtk_label_set_text (self->problem_label, why != NULL ? why->message : message);
      gtk_widget_set_visible (GTK_WIDGET (self->retry_button), !g_str_equal (shown, "scan"));
    }

  gtk_widget_set_sensitive (self->scan_button, !self->running || needs == PP_RECYCLE_NEEDS_SERIAL);
  show_busy (self, "scan", shown, self->scan_status_box, self->scan_spinner, self->scan_status_label, FALSE);

  if (g_str_equal (shown, "confirm"))
    show_confirmation (self, serial);
  gtk_widget_set_sensitive (self->confirm_button, needs == PP_RECYCLE_NEEDS_CONFIRM && reason[0] != '\0');
  show_busy (self, "confirm", shown, self->confirm_status_box, self->confirm_spinner, self->confirm_status_label,
             FALSE);

  {
    PpRegistryApproval bare = { .uuid = approval, .code = code };
    g_autofree char *payload = approval != NULL ? pp_registry_approval_qr_payload (&bare) : NULL;

    pp_qr_view_set_text (self->approval_qr, payload);
    gtk_widget_set_visible (GTK_WIDGET (self->approval_qr),
                            payload != NULL && !pp_reviewer_form_get_open (self->reviewer_form));
    gtk_label_set_text (self->approval_code_label, code != NULL ? code : "");
  }
  show_busy (self, "approval", shown, self->approval_status_box, self->approval_spinner,
             self->approval_status_label, needs == PP_RECYCLE_NEEDS_APPROVAL);
  pp_reviewer_form_set_accepting (self->reviewer_form, needs == PP_RECYCLE_NEEDS_APPROVAL);

  pp_port_picker_set_busy (self->port_picker, self->opening);
  gtk_widget_set_sensitive (self->connect_button, !self->opening);
  show_busy (self, "connect", shown, self->connect_status_box, self->connect_spinner, self->connect_status_label,
             self->opening);
  if (self->opening)
    gtk_label_set_text (self->connect_status_label, _("Opening the port and greeting the terminal…"));

  update_work (self, step);
  show_busy (self, "work", shown, self->work_status_box, self->work_spinner, self->work_status_label, FALSE);

  if (step == PP_RECYCLE_STEP_DONE && !self->running && self->receipt_for != self->flow)
    {
      self->receipt_for = self->flow;
      show_receipt (self);
    }
}

static void
on_flow_notify (PpRecyclePage *self)
{
  update_view (self);
}

/* A reviewer's decision here that the registry refused (the requester
 * themself, not a reviewer): the flow still waits on the request; say why
 * next to the reviewer's fields. */
static void
on_flow_reviewer_error (PpRecyclePage *self)
{
  g_autoptr(GError) refusal = NULL;

  g_object_get (self->flow, "reviewer-error", &refusal, NULL);
  if (refusal != NULL)
    pp_reviewer_form_set_error (self->reviewer_form, refusal->message);
}

/* ---- the class ---- */

PpRecycleFlow *
pp_recycle_page_get_flow (PpRecyclePage *self)
{
  g_return_val_if_fail (PP_IS_RECYCLE_PAGE (self), NULL);
  return self->flow;
}

const char *
pp_recycle_page_get_page_name (PpRecyclePage *self)
{
  g_return_val_if_fail (PP_IS_RECYCLE_PAGE (self), NULL);
  return gtk_stack_get_visible_child_name (self->stack);
}

static void
pp_recycle_page_constructed (GObject *object)
{
  PpRecyclePage *self = PP_RECYCLE_PAGE (object);

  G_OBJECT_CLASS (pp_recycle_page_parent_class)->constructed (object);
  g_return_if_fail (page_registry (self) != NULL);
  pp_reviewer_form_set_registry (self->reviewer_form, page_registry (self));
  start_flow (self);
}

static void
pp_recycle_page_dispose (GObject *object)
{
  PpRecyclePage *self = PP_RECYCLE_PAGE (object);

  g_cancellable_cancel (self->cancellable);
  if (self->run_cancellable != NULL)
    g_cancellable_cancel (self->run_cancellable);
  if (self->flow_signals != NULL)
    g_signal_group_set_target (self->flow_signals, NULL);
  g_clear_object (&self->flow_signals);
  g_clear_object (&self->flow);
  g_clear_object (&self->device);
  gtk_widget_dispose_template (GTK_WIDGET (self), PP_TYPE_RECYCLE_PAGE);
  G_OBJECT_CLASS (pp_recycle_page_parent_class)->dispose (object);
}

static void
pp_recycle_page_finalize (GObject *object)
{
  PpRecyclePage *self = PP_RECYCLE_PAGE (object);

  g_clear_object (&self->cancellable);
  g_clear_object (&self->run_cancellable);
  g_free (self->serial);
  g_free (self->reason);
  G_OBJECT_CLASS (pp_recycle_page_parent_class)->finalize (object);
}

static void
pp_recycle_page_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  PpRecyclePage *self = PP_RECYCLE_PAGE (object);

  switch (prop_id)
    {
    case PROP_FLOW:
      g_value_set_object (value, self->flow);
      break;
    case PROP_PAGE_NAME:
      g_value_set_string (value, pp_recycle_page_get_page_name (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pp_recycle_page_class_init (PpRecyclePageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = pp_recycle_page_constructed;
  object_class->dispose = pp_recycle_page_dispose;
  object_class->finalize = pp_recycle_page_finalize;
  object_class->get_property = pp_recycle_page_get_property;

  props[PROP_FLOW] =
    g_param_spec_object ("flow", NULL, NULL, PP_TYPE_RECYCLE_FLOW,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_PAGE_NAME] =
    g_param_spec_string ("page-name", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  g_type_ensure (PP_TYPE_QR_VIEW);
  g_type_ensure (PP_TYPE_PORT_PICKER);
  g_type_ensure (PP_TYPE_REVIEWER_FORM);
  gtk_widget_class_set_template_from_resource (widget_class, "/org/posprov/Station/pp-recycle-page.ui");
#define CHILD(name) gtk_widget_class_bind_template_child (widget_class, PpRecyclePage, name)
  CHILD (problem_revealer);
  CHILD (problem_label);
  CHILD (retry_button);
  CHILD (stack);
  CHILD (scan_row);
  CHILD (scan_error_label);
  CHILD (scan_status_box);
  CHILD (scan_spinner);
  CHILD (scan_status_label);
  CHILD (scan_button);
  CHILD (confirm_list);
  CHILD (reason_row);
  CHILD (confirm_error_label);
  CHILD (confirm_status_box);
  CHILD (confirm_spinner);
  CHILD (confirm_status_label);
  CHILD (confirm_button);
  CHILD (approval_qr);
  CHILD (approval_code_label);
  CHILD (approval_status_box);
  CHILD (approval_spinner);
  CHILD (approval_status_label);
  CHILD (reviewer_form);
  CHILD (port_picker);
  CHILD (connect_status_box);
  CHILD (connect_spinner);
  CHILD (connect_status_label);
  CHILD (connect_button);
  CHILD (work_list);
  CHILD (work_status_box);
  CHILD (work_spinner);
  CHILD (work_status_label);
  CHILD (receipt_list);
  CHILD (another_button);
#undef CHILD
#define HANDLER(name) gtk_widget_class_bind_template_callback (widget_class, name)
  HANDLER (on_scan_activated);
  HANDLER (on_scan_changed);
  HANDLER (on_reason_changed);
  HANDLER (on_confirm_clicked);
  HANDLER (on_reviewer_decided);
  HANDLER (on_reviewer_open);
  HANDLER (on_port_chosen);
  HANDLER (on_connect_clicked);
  HANDLER (on_retry_clicked);
  HANDLER (on_another_clicked);
#undef HANDLER
}

static void
pp_recycle_page_init (PpRecyclePage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
  self->flow_signals = g_signal_group_new (PP_TYPE_RECYCLE_FLOW);
  g_signal_group_connect_swapped (self->flow_signals, "notify", G_CALLBACK (on_flow_notify), self);
  g_signal_group_connect_swapped (self->flow_signals, "notify::reviewer-error",
                                  G_CALLBACK (on_flow_reviewer_error), self);
  for (guint i = 0; i < G_N_ELEMENTS (work_steps); i++)
    {
      GtkWidget *row = adw_action_row_new ();

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _(work_steps[i].title));
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), _(work_steps[i].subtitle));
      self->work_icons[i] = gtk_image_new_from_icon_name ("content-loading-symbolic");
      adw_action_row_add_prefix (ADW_ACTION_ROW (row), self->work_icons[i]);
      gtk_list_box_append (self->work_list, row);
    }
}

GtkWidget *
pp_recycle_page_new (PpRegistry *registry,
                     const char *user,
                     PpUserRole  role)
{
  g_return_val_if_fail (PP_IS_REGISTRY (registry), NULL);
  g_return_val_if_fail (user != NULL, NULL);

  return g_object_new (PP_TYPE_RECYCLE_PAGE, "registry", registry, "user", user, "role", (int) role, NULL);
}

GtkWindow *
pp_recycle_page_open_window (GtkWindow  *parent,
                             PpRegistry *registry,
                             const char *user,
                             PpUserRole  role)
{
  g_return_val_if_fail (PP_IS_REGISTRY (registry), NULL);
  g_return_val_if_fail (user != NULL, NULL);

  return pp_session_page_open_window (PP_SESSION_PAGE (pp_recycle_page_new (registry, user, role)), parent,
                                      _("Recycle a Terminal"));
}
