/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-work-orders-page.c: the station's work orders.
 *
 * One row per order: the terminal and what is done to it, then its state,
 * merchant, MID/TID, who asked and how long ago.  An install that is not
 * finished and whose flow is not running in this station's wizard is
 * "interrupted" (a cable pulled, the station closed mid-way): it gets a
 * Resume button, which only emits "resume-order" - the wizard resumes it.
 *
 * Listing goes through the registry's async calls (its own thread or the
 * network), never on the main thread.  While mapped, the change feed is
 * polled with a backoff; an order or terminal that changed lists the
 * orders again.
 */
#include "config.h"

#include <glib/gi18n.h>

#include "pp-work-orders-page.h"

#define POLL_FIRST_MS 250
#define POLL_LAST_MS  4000

struct _PpWorkOrdersPage
{
  PpSessionPage   parent_instance;

  GCancellable *cancellable;       /* listing, cancelling; cancelled in dispose */
  GCancellable *feed_cancellable;  /* the feed; cancelled on unmap */
  guint         feed_id;
  guint         feed_ms;
  gint64        feed_cursor;
  gboolean      reloading;
  gboolean      reload_queued;
  gboolean      show_all;
  GPtrArray    *orders;            /* PpWorkOrder*, as last listed */
  GHashTable   *merchant_names;    /* merchant id (gint64*) -> name */
  guint         n_shown;
  guint         n_interrupted;

  PpInstallWizard *wizard;         /* weak */
  GSignalGroup    *wizard_signals;
  GSignalGroup    *flow_signals;

  /* template */
  GtkToggleButton *all_button;
  GtkLabel        *error_label;
  GtkWidget       *empty_page;
  GtkListBox      *order_list;
};

G_DEFINE_FINAL_TYPE (PpWorkOrdersPage, pp_work_orders_page, PP_TYPE_SESSION_PAGE)

enum {
  PROP_0,
  PROP_SHOW_ALL,
  PROP_N_ORDERS,
  PROP_N_INTERRUPTED,
  N_PROPS
};

enum {
  SIGNAL_RESUME_ORDER,
  N_SIGNALS
};

static GParamSpec *props[N_PROPS];
static guint signals[N_SIGNALS];

static void show_orders (PpWorkOrdersPage *self);
static void feed_schedule (PpWorkOrdersPage *self);

static PpRegistry *
page_registry (PpWorkOrdersPage *self)
{
  return pp_session_page_get_registry (PP_SESSION_PAGE (self));
}

static void
set_error (PpWorkOrdersPage *self,
           const char       *message)
{
  gtk_label_set_text (self->error_label, message != NULL ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), message != NULL);
}

static gboolean
order_is_finished (const PpWorkOrder *order)
{
  return order->state == PP_WORK_ORDER_STATE_CLOSED || order->state == PP_WORK_ORDER_STATE_CANCELLED;
}

/* The install this station's wizard is running now, if any. */
static const char *
running_order (PpWorkOrdersPage *self)
{
  PpInstallFlow *flow = self->wizard != NULL ? pp_install_wizard_get_flow (self->wizard) : NULL;
  PpInstallStep step;

  if (flow == NULL)
    return NULL;
  step = pp_install_flow_get_step (flow);
  if (step == PP_INSTALL_STEP_FAILED || step == PP_INSTALL_STEP_DONE)
    return NULL;
  return pp_install_flow_get_order_uuid (flow);
}

static gboolean
order_is_interrupted (PpWorkOrdersPage  *self,
                      const PpWorkOrder *order)
{
  return order->kind == PP_WORK_ORDER_KIND_INSTALL && !order_is_finished (order) &&
         g_strcmp0 (order->uuid, running_order (self)) != 0;
}

static char *
format_age (gint64 then)
{
  gint64 seconds = MAX (0, g_get_real_time () / G_USEC_PER_SEC - then);

  if (then <= 0)
    return g_strdup ("—");
  if (seconds < 60)
    return g_strdup (_("just now"));
  if (seconds < 3600)
    return g_strdup_printf (ngettext ("%d minute ago", "%d minutes ago", (gulong) (seconds / 60)),
                            (int) (seconds / 60));
  if (seconds < 86400)
    return g_strdup_printf (ngettext ("%d hour ago", "%d hours ago", (gulong) (seconds / 3600)),
                            (int) (seconds / 3600));
  return g_strdup_printf (ngettext ("%d day ago", "%d days ago", (gulong) (seconds / 86400)),
                          (int) (seconds / 86400));
}

/* ---- cancelling ---- */

typedef struct {
  PpWorkOrdersPage *self;
  char             *uuid;
  AdwEntryRow      *reason_row;
} CancelRequest;

static void
cancel_request_free (CancelRequest *request)
{
  g_object_unref (request->self);
  g_free (request->uuid);
  g_free (request);
}

static void
on_order_cancelled (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(PpWorkOrdersPage) self = user_data;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(GError) error = NULL;

  order = pp_registry_cancel_order_finish (PP_REGISTRY (source), result, &error);
  if (g_cancellable_is_cancelled (self->cancellable))
    return;
  if (order == NULL)
    {
      set_error (self, error->message);
      return;
    }
  set_error (self, NULL);
  pp_work_orders_page_reload (self);
}

static void
on_cancel_response (AdwMessageDialog *dialog,
                    const char       *response,
                    CancelRequest    *request)
{
  g_autofree char *reason = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (request->reason_row))));
  g_autofree char *key = g_uuid_string_random ();

  if (g_str_equal (response, "cancel-order") && reason[0] != '\0')
    pp_registry_cancel_order_async (page_registry (request->self), request->uuid, reason,
                                    pp_session_page_get_user (PP_SESSION_PAGE (request->self)), key,
                                    request->self->cancellable, on_order_cancelled,
                                    g_object_ref (request->self));
}

static void
on_cancel_reason_changed (AdwEntryRow      *row,
                          AdwMessageDialog *dialog)
{
  g_autofree char *reason = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (row))));

  adw_message_dialog_set_response_enabled (dialog, "cancel-order", reason[0] != '\0');
}

static void
on_cancel_clicked (GtkButton        *button,
                   PpWorkOrdersPage *self)
{
  const char *uuid = g_object_get_data (G_OBJECT (button), "pp-order-uuid");
  const char *serial = g_object_get_data (G_OBJECT (button), "pp-order-serial");
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  CancelRequest *request = g_new0 (CancelRequest, 1);
  GtkWidget *dialog, *list;
  g_autofree char *body = NULL;

  /* TRANSLATORS: %s is a terminal's serial number. */
  body = g_strdup_printf (_("The order for %s ends and its terminal goes back to stock. The reason is kept in "
                            "the journal."), serial);
  dialog = adw_message_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL, _("Cancel the Order?"), body);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "keep", _("_Keep the Order"),
                                    "cancel-order", _("_Cancel the Order"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "cancel-order",
                                              ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_response_enabled (ADW_MESSAGE_DIALOG (dialog), "cancel-order", FALSE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "keep");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "keep");
  list = gtk_list_box_new ();
  gtk_widget_add_css_class (list, "boxed-list");
  gtk_list_box_set_selection_mode (GTK_LIST_BOX (list), GTK_SELECTION_NONE);
  request->self = g_object_ref (self);
  request->uuid = g_strdup (uuid);
  request->reason_row = ADW_ENTRY_ROW (adw_entry_row_new ());
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (request->reason_row), _("_Reason (required)"));
  adw_preferences_row_set_use_underline (ADW_PREFERENCES_ROW (request->reason_row), TRUE);
  gtk_list_box_append (GTK_LIST_BOX (list), GTK_WIDGET (request->reason_row));
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), list);
  g_signal_connect (request->reason_row, "changed", G_CALLBACK (on_cancel_reason_changed), dialog);
  g_signal_connect_data (dialog, "response", G_CALLBACK (on_cancel_response), request,
                         (GClosureNotify) (void (*) (void)) cancel_request_free, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
on_resume_clicked (GtkButton        *button,
                   PpWorkOrdersPage *self)
{
  const char *uuid = g_object_get_data (G_OBJECT (button), "pp-order-uuid");

  g_signal_emit (self, signals[SIGNAL_RESUME_ORDER], 0, uuid);
}

/* ---- the rows ---- */

static gboolean
may_cancel (PpWorkOrdersPage  *self,
            const PpWorkOrder *order)
{
  PpUserRole role = pp_session_page_get_role (PP_SESSION_PAGE (self));

  /* The registry decides; these are the orders and roles it lets cancel. */
  return order->kind == PP_WORK_ORDER_KIND_INSTALL &&
         (order->state == PP_WORK_ORDER_STATE_OPEN || order->state == PP_WORK_ORDER_STATE_APPROVED) &&
         (role == PP_USER_ROLE_FIELD_MANAGER || role == PP_USER_ROLE_ADMINISTRATOR);
}

static GtkWidget *
order_button_new (const char        *label,
                  const PpWorkOrder *order)
{
  GtkWidget *button = gtk_button_new_with_mnemonic (label);

  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  g_object_set_data_full (G_OBJECT (button), "pp-order-uuid", g_strdup (order->uuid), g_free);
  g_object_set_data_full (G_OBJECT (button), "pp-order-serial", g_strdup (order->serial), g_free);
  return button;
}

static GtkWidget *
order_row_new (PpWorkOrdersPage  *self,
               const PpWorkOrder *order,
               gboolean           interrupted)
{
  GtkWidget *row = adw_action_row_new ();
  const char *merchant = NULL;
  g_autofree char *title = NULL;
  g_autofree char *subtitle = NULL;
  g_autofree char *age = format_age (order->created_at);
  g_autofree char *merchant_id = NULL;
  gboolean running_here = g_strcmp0 (order->uuid, running_order (self)) == 0;

  if (order->merchant_id > 0)
    {
      merchant = g_hash_table_lookup (self->merchant_names, &order->merchant_id);
      if (merchant == NULL)
        /* TRANSLATORS: a merchant whose name is not at hand, by its number. */
        {
          g_autofree char *number = g_strdup_printf ("%" G_GINT64_FORMAT, order->merchant_id);

          merchant = merchant_id = g_strdup_printf (_("merchant %s"), number);
        }
    }
  /* TRANSLATORS: a work order's row: the terminal's serial and what is done to it. */
  title = g_markup_printf_escaped (_("%s · %s"), order->serial,
                                   order->kind == PP_WORK_ORDER_KIND_INSTALL ? _("Install") : _("Recycle"));
  /* TRANSLATORS: a work order's state, merchant, MID/TID, requester and age. */
  subtitle = g_markup_printf_escaped (_("%s · %s · MID %s / TID %s · requested by %s · %s"),
                                      pp_work_order_state_get_label (order->state),
                                      merchant != NULL ? merchant : "—",
                                      order->mid != NULL ? order->mid : "—",
                                      order->tid != NULL ? order->tid : "—",
                                      order->requester != NULL ? order->requester : "—", age);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  adw_action_row_set_subtitle_lines (ADW_ACTION_ROW (row), 2);
  adw_action_row_set_icon_name (ADW_ACTION_ROW (row), order->kind == PP_WORK_ORDER_KIND_INSTALL
                                                        ? "document-send-symbolic" : "user-trash-symbolic");
  if (running_here)
    {
      GtkWidget *tag = gtk_label_new (_("In Progress Here"));

      gtk_widget_set_valign (tag, GTK_ALIGN_CENTER);
      gtk_widget_add_css_class (tag, "accent");
      gtk_widget_add_css_class (tag, "heading");
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), tag);
    }
  if (interrupted)
    {
      GtkWidget *tag = gtk_label_new (_("Interrupted"));
      GtkWidget *resume = order_button_new (_("_Resume"), order);

      gtk_widget_set_valign (tag, GTK_ALIGN_CENTER);
      gtk_widget_add_css_class (tag, "warning");
      gtk_widget_add_css_class (tag, "heading");
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), tag);
      gtk_widget_add_css_class (resume, "suggested-action");
      g_signal_connect (resume, "clicked", G_CALLBACK (on_resume_clicked), self);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), resume);
    }
  /* The wizard running it here is where to stop it. */
  if (may_cancel (self, order) && !running_here)
    {
      GtkWidget *cancel = order_button_new (_("Cancel _Order…"), order);

      g_signal_connect (cancel, "clicked", G_CALLBACK (on_cancel_clicked), self);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), cancel);
    }
  return row;
}

static void
show_orders (PpWorkOrdersPage *self)
{
  GtkWidget *child;
  guint shown = 0, interrupted = 0;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->order_list))) != NULL)
    gtk_list_box_remove (self->order_list, child);
  /* Newest first. */
  for (guint i = self->orders != NULL ? self->orders->len : 0; i > 0; i--)
    {
      PpWorkOrder *order = g_ptr_array_index (self->orders, i - 1);
      gboolean stopped = order_is_interrupted (self, order);

      if (!self->show_all && order_is_finished (order))
        continue;
      gtk_list_box_append (self->order_list, order_row_new (self, order, stopped));
      shown++;
      interrupted += stopped;
    }
  gtk_widget_set_visible (GTK_WIDGET (self->order_list), shown > 0);
  gtk_widget_set_visible (self->empty_page, shown == 0 && self->orders != NULL);
  if (self->n_shown != shown)
    {
      self->n_shown = shown;
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_N_ORDERS]);
    }
  if (self->n_interrupted != interrupted)
    {
      self->n_interrupted = interrupted;
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_N_INTERRUPTED]);
    }
}

/* ---- listing ---- */

static void
on_merchants_found (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(PpWorkOrdersPage) self = user_data;
  g_autoptr(GPtrArray) merchants = NULL;

  merchants = pp_registry_search_merchants_finish (PP_REGISTRY (source), result, NULL);
  if (g_cancellable_is_cancelled (self->cancellable))
    return;
  for (guint i = 0; merchants != NULL && i < merchants->len; i++)
    {
      PpMerchant *merchant = g_ptr_array_index (merchants, i);

      g_hash_table_replace (self->merchant_names, g_memdup2 (&merchant->id, sizeof merchant->id),
                            g_strdup (merchant->name));
    }
  self->reloading = FALSE;
  show_orders (self);
  if (self->reload_queued)
    pp_work_orders_page_reload (self);
}

static void
on_orders_listed (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(PpWorkOrdersPage) self = user_data;
  g_autoptr(GPtrArray) orders = NULL;
  g_autoptr(GError) error = NULL;
  gboolean unknown_merchant = FALSE;

  orders = pp_registry_list_orders_finish (PP_REGISTRY (source), result, &error);
  if (g_cancellable_is_cancelled (self->cancellable))
    return;
  if (orders == NULL)
    {
      self->reloading = FALSE;
      set_error (self, error->message);
      if (self->reload_queued)
        pp_work_orders_page_reload (self);
      return;
    }
  set_error (self, NULL);
  g_clear_pointer (&self->orders, g_ptr_array_unref);
  self->orders = g_steal_pointer (&orders);
  for (guint i = 0; i < self->orders->len; i++)
    {
      PpWorkOrder *order = g_ptr_array_index (self->orders, i);

      if (order->merchant_id > 0 && !g_hash_table_contains (self->merchant_names, &order->merchant_id))
        unknown_merchant = TRUE;
    }
  /* The merchants' names, once for those not seen yet. */
  if (unknown_merchant)
    {
      pp_registry_search_merchants_async (page_registry (self), NULL, PP_REGISTRY_PAGE_MAX, self->cancellable,
                                          on_merchants_found, g_object_ref (self));
      return;
    }
  self->reloading = FALSE;
  show_orders (self);
  if (self->reload_queued)
    pp_work_orders_page_reload (self);
}

void
pp_work_orders_page_reload (PpWorkOrdersPage *self)
{
  g_return_if_fail (PP_IS_WORK_ORDERS_PAGE (self));

  /* One listing at a time; a change meanwhile lists again after it. */
  if (self->reloading)
    {
      self->reload_queued = TRUE;
      return;
    }
  self->reloading = TRUE;
  self->reload_queued = FALSE;
  pp_registry_list_orders_async (page_registry (self), NULL, self->cancellable, on_orders_listed,
                                 g_object_ref (self));
}

/* ---- the change feed ---- */

static void
on_feed_read (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(PpWorkOrdersPage) self = user_data;
  g_autoptr(GPtrArray) changes = NULL;
  g_autoptr(GError) error = NULL;
  gboolean relevant = FALSE;

  changes = pp_registry_list_changes_finish (PP_REGISTRY (source), result, &self->feed_cursor, &error);
  if (self->feed_cancellable == NULL || g_cancellable_is_cancelled (self->feed_cancellable))
    return;   /* unmapped or disposed meanwhile */
  if (changes == NULL)
    set_error (self, error->message);
  for (guint i = 0; changes != NULL && i < changes->len; i++)
    {
      PpChange *change = g_ptr_array_index (changes, i);

      relevant |= g_strcmp0 (change->kind, "order") == 0 || g_strcmp0 (change->kind, "terminal") == 0;
    }
  if (relevant)
    pp_work_orders_page_reload (self);
  self->feed_ms = relevant ? POLL_FIRST_MS : MIN (self->feed_ms * 2, POLL_LAST_MS);
  feed_schedule (self);
}

static gboolean
feed_read (gpointer user_data)
{
  PpWorkOrdersPage *self = user_data;

  self->feed_id = 0;
  pp_registry_list_changes_async (page_registry (self), self->feed_cursor, 0, self->feed_cancellable,
                                  on_feed_read, g_object_ref (self));
  return G_SOURCE_REMOVE;
}

static void
feed_schedule (PpWorkOrdersPage *self)
{
  if (self->feed_cancellable != NULL && !g_cancellable_is_cancelled (self->feed_cancellable) &&
      self->feed_id == 0)
    self->feed_id = g_timeout_add (self->feed_ms, feed_read, self);
}

static void
feed_stop (PpWorkOrdersPage *self)
{
  g_clear_handle_id (&self->feed_id, g_source_remove);
  if (self->feed_cancellable != NULL)
    g_cancellable_cancel (self->feed_cancellable);
  g_clear_object (&self->feed_cancellable);
}

static void
pp_work_orders_page_map (GtkWidget *widget)
{
  PpWorkOrdersPage *self = PP_WORK_ORDERS_PAGE (widget);

  GTK_WIDGET_CLASS (pp_work_orders_page_parent_class)->map (widget);
  feed_stop (self);
  self->feed_cancellable = g_cancellable_new ();
  self->feed_ms = POLL_FIRST_MS;
  pp_work_orders_page_reload (self);
  feed_read (self);
}

static void
pp_work_orders_page_unmap (GtkWidget *widget)
{
  feed_stop (PP_WORK_ORDERS_PAGE (widget));
  GTK_WIDGET_CLASS (pp_work_orders_page_parent_class)->unmap (widget);
}

/* ---- the wizard ---- */

static void
on_wizard_changed (PpWorkOrdersPage *self)
{
  if (self->wizard != NULL)
    g_signal_group_set_target (self->flow_signals, pp_install_wizard_get_flow (self->wizard));
  show_orders (self);
}

static void
on_filter_toggled (PpWorkOrdersPage *self)
{
  pp_work_orders_page_set_show_all (self, gtk_toggle_button_get_active (self->all_button));
}

void
pp_work_orders_page_set_wizard (PpWorkOrdersPage *self,
                                PpInstallWizard  *wizard)
{
  g_return_if_fail (PP_IS_WORK_ORDERS_PAGE (self));
  g_return_if_fail (wizard == NULL || PP_IS_INSTALL_WIZARD (wizard));

  if (self->wizard == wizard)
    return;
  g_set_weak_pointer (&self->wizard, wizard);
  g_signal_group_set_target (self->wizard_signals, wizard);
  on_wizard_changed (self);
}

void
pp_work_orders_page_set_show_all (PpWorkOrdersPage *self,
                                  gboolean          show_all)
{
  g_return_if_fail (PP_IS_WORK_ORDERS_PAGE (self));

  show_all = !!show_all;
  if (self->show_all == show_all)
    return;
  self->show_all = show_all;
  if (gtk_toggle_button_get_active (self->all_button) != show_all)
    gtk_toggle_button_set_active (self->all_button, show_all);
  show_orders (self);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_SHOW_ALL]);
}

guint
pp_work_orders_page_get_n_orders (PpWorkOrdersPage *self)
{
  g_return_val_if_fail (PP_IS_WORK_ORDERS_PAGE (self), 0);
  return self->n_shown;
}

guint
pp_work_orders_page_get_n_interrupted (PpWorkOrdersPage *self)
{
  g_return_val_if_fail (PP_IS_WORK_ORDERS_PAGE (self), 0);
  return self->n_interrupted;
}

/* ---- the class ---- */

static void
pp_work_orders_page_dispose (GObject *object)
{
  PpWorkOrdersPage *self = PP_WORK_ORDERS_PAGE (object);

  feed_stop (self);
  g_cancellable_cancel (self->cancellable);
  if (self->wizard_signals != NULL)
    g_signal_group_set_target (self->wizard_signals, NULL);
  if (self->flow_signals != NULL)
    g_signal_group_set_target (self->flow_signals, NULL);
  g_clear_object (&self->wizard_signals);
  g_clear_object (&self->flow_signals);
  g_clear_weak_pointer (&self->wizard);
  gtk_widget_dispose_template (GTK_WIDGET (self), PP_TYPE_WORK_ORDERS_PAGE);
  G_OBJECT_CLASS (pp_work_orders_page_parent_class)->dispose (object);
}

static void
pp_work_orders_page_finalize (GObject *object)
{
  PpWorkOrdersPage *self = PP_WORK_ORDERS_PAGE (object);

  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->orders, g_ptr_array_unref);
  g_clear_pointer (&self->merchant_names, g_hash_table_unref);
  G_OBJECT_CLASS (pp_work_orders_page_parent_class)->finalize (object);
}

static void
pp_work_orders_page_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  PpWorkOrdersPage *self = PP_WORK_ORDERS_PAGE (object);

  switch (prop_id)
    {
    case PROP_SHOW_ALL:
      g_value_set_boolean (value, self->show_all);
      break;
    case PROP_N_ORDERS:
      g_value_set_uint (value, self->n_shown);
      break;
    case PROP_N_INTERRUPTED:
      g_value_set_uint (value, self->n_interrupted);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pp_work_orders_page_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  switch (prop_id)
    {
    case PROP_SHOW_ALL:
      pp_work_orders_page_set_show_all (PP_WORK_ORDERS_PAGE (object), g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pp_work_orders_page_class_init (PpWorkOrdersPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = pp_work_orders_page_dispose;
  object_class->finalize = pp_work_orders_page_finalize;
  object_class->get_property = pp_work_orders_page_get_property;
  object_class->set_property = pp_work_orders_page_set_property;
  widget_class->map = pp_work_orders_page_map;
  widget_class->unmap = pp_work_orders_page_unmap;

  props[PROP_SHOW_ALL] =
    g_param_spec_boolean ("show-all", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_N_ORDERS] =
    g_param_spec_uint ("n-orders", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_N_INTERRUPTED] =
    g_param_spec_uint ("n-interrupted", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  signals[SIGNAL_RESUME_ORDER] =
    g_signal_new ("resume-order", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/posprov/Station/pp-work-orders-page.ui");
  gtk_widget_class_bind_template_child (widget_class, PpWorkOrdersPage, all_button);
  gtk_widget_class_bind_template_child (widget_class, PpWorkOrdersPage, error_label);
  gtk_widget_class_bind_template_child (widget_class, PpWorkOrdersPage, empty_page);
  gtk_widget_class_bind_template_child (widget_class, PpWorkOrdersPage, order_list);
  gtk_widget_class_bind_template_callback (widget_class, on_filter_toggled);
}

static void
pp_work_orders_page_init (PpWorkOrdersPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
  self->merchant_names = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  self->feed_ms = POLL_FIRST_MS;
  self->wizard_signals = g_signal_group_new (PP_TYPE_INSTALL_WIZARD);
  g_signal_group_connect_swapped (self->wizard_signals, "notify::flow", G_CALLBACK (on_wizard_changed), self);
  self->flow_signals = g_signal_group_new (PP_TYPE_INSTALL_FLOW);
  g_signal_group_connect_swapped (self->flow_signals, "notify::step", G_CALLBACK (show_orders), self);
  g_signal_group_connect_swapped (self->flow_signals, "notify::order-uuid", G_CALLBACK (show_orders), self);
  gtk_widget_set_visible (GTK_WIDGET (self->order_list), FALSE);
  gtk_widget_set_visible (self->empty_page, FALSE);
}

GtkWidget *
pp_work_orders_page_new (PpRegistry *registry,
                         const char *user,
                         PpUserRole  role)
{
  g_return_val_if_fail (PP_IS_REGISTRY (registry), NULL);
  g_return_val_if_fail (user != NULL, NULL);

  return g_object_new (PP_TYPE_WORK_ORDERS_PAGE, "registry", registry, "user", user, "role", (int) role, NULL);
}

GtkWindow *
pp_work_orders_page_open_window (GtkWindow  *parent,
                                 PpRegistry *registry,
                                 const char *user,
                                 PpUserRole  role)
{
  g_return_val_if_fail (PP_IS_REGISTRY (registry), NULL);
  g_return_val_if_fail (user != NULL, NULL);

  return pp_session_page_open_window (PP_SESSION_PAGE (pp_work_orders_page_new (registry, user, role)), parent,
                                      _("Work Orders"));
}
