/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-recycle-flow.c: an installed terminal comes back (pp-recycle-flow.h).
 * The same machinery as the install flow: advance() runs one step's call,
 * its callback moves "step" on; a missing input sets "needs".
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>
#include <openssl/crypto.h>

#include "pp-approval-wait.h"
#include "pp-recycle-flow.h"

static const GEnumValue step_values[] = {
  { PP_RECYCLE_STEP_SCAN, "PP_RECYCLE_STEP_SCAN", "scan" },
  { PP_RECYCLE_STEP_CHECK, "PP_RECYCLE_STEP_CHECK", "check" },
  { PP_RECYCLE_STEP_CONFIRM, "PP_RECYCLE_STEP_CONFIRM", "confirm" },
  { PP_RECYCLE_STEP_ORDER, "PP_RECYCLE_STEP_ORDER", "order" },
  { PP_RECYCLE_STEP_APPROVAL, "PP_RECYCLE_STEP_APPROVAL", "approval" },
  { PP_RECYCLE_STEP_CONNECT, "PP_RECYCLE_STEP_CONNECT", "connect" },
  { PP_RECYCLE_STEP_IDENTIFY, "PP_RECYCLE_STEP_IDENTIFY", "identify" },
  { PP_RECYCLE_STEP_UNBIND, "PP_RECYCLE_STEP_UNBIND", "unbind" },
  { PP_RECYCLE_STEP_ZEROIZE, "PP_RECYCLE_STEP_ZEROIZE", "zeroize" },
  { PP_RECYCLE_STEP_CLOSE, "PP_RECYCLE_STEP_CLOSE", "close" },
  { PP_RECYCLE_STEP_DONE, "PP_RECYCLE_STEP_DONE", "done" },
  { PP_RECYCLE_STEP_FAILED, "PP_RECYCLE_STEP_FAILED", "failed" },
  { 0, NULL, NULL }
};

GType
pp_recycle_step_get_type (void)
{
  static gsize type = 0;

  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("PpRecycleStep", step_values));
  return type;
}

GType
pp_recycle_needs_get_type (void)
{
  static const GEnumValue values[] = {
    { PP_RECYCLE_NEEDS_NOTHING, "PP_RECYCLE_NEEDS_NOTHING", "nothing" },
    { PP_RECYCLE_NEEDS_SERIAL, "PP_RECYCLE_NEEDS_SERIAL", "serial" },
    { PP_RECYCLE_NEEDS_CONFIRM, "PP_RECYCLE_NEEDS_CONFIRM", "confirm" },
    { PP_RECYCLE_NEEDS_DEVICE, "PP_RECYCLE_NEEDS_DEVICE", "device" },
    { PP_RECYCLE_NEEDS_APPROVAL, "PP_RECYCLE_NEEDS_APPROVAL", "approval" },
    { 0, NULL, NULL }
  };
  static gsize type = 0;

  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("PpRecycleNeeds", values));
  return type;
}

const char *
pp_recycle_step_to_string (PpRecycleStep step)
{
  if ((guint) step >= G_N_ELEMENTS (step_values) - 1)
    return NULL;
  return step_values[step].value_nick;
}

static const char *
step_label (PpRecycleStep step)
{
  static const char * const labels[] = {
    N_("Scan the terminal"),
    N_("Checking the register"),
    N_("Confirm the recycle"),
    N_("Opening the recycle order"),
    N_("Waiting for approval"),
    N_("Connect the terminal"),
    N_("Identifying the terminal"),
    N_("Releasing the terminal from the key host"),
    N_("Erasing the terminal's keys"),
    N_("Closing the order"),
    N_("Done"),
    N_("Failed"),
  };

  return (guint) step < G_N_ELEMENTS (labels) ? _(labels[step]) : NULL;
}

void
pp_recycle_receipt_free (PpRecycleReceipt *receipt)
{
  if (receipt == NULL)
    return;
  g_free (receipt->order_uuid);
  g_free (receipt->serial);
  g_free (receipt->cleared_mid);
  g_free (receipt->cleared_tid);
  g_free (receipt->reason);
  g_free (receipt->approval_uuid);
  g_free (receipt->approver);
  g_free (receipt->state);
  g_free (receipt);
}

struct _PpRecycleFlow
{
  GObject parent_instance;

  PpRegistry *registry;
  char *user;
  PpRecycleStep step;
  PpRecycleNeeds needs;
  char *message;
  GError *error;

  char *serial;
  char *reason;
  gboolean confirmed;
  PpTerminalDevice *device;
  gboolean resume;
  char *resume_uuid;

  PpApprovalWait *wait;           /* the otp and the reviewer signed in here */
  gboolean approval_call;         /* a step of the wait is in flight */
  char *approval_uuid;
  char *approval_code;
  char *approver;
  GSource *pending;               /* the approval poll's timeout */

  PpWorkOrder *order;
  PpTerminalInfo *info;
  GBytes *ct_krd;
  gboolean unbound;
  gboolean zeroized;
  gint64 finished_at;

  GTask *task;
  GCancellable *cancellable;
  GMainContext *context;
};

G_DEFINE_FINAL_TYPE (PpRecycleFlow, pp_recycle_flow, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_REGISTRY,
  PROP_USER,
  PROP_STEP,
  PROP_NEEDS,
  PROP_MESSAGE,
  PROP_ERROR,
  PROP_SERIAL,
  PROP_ORDER_UUID,
  PROP_APPROVAL_UUID,
  PROP_APPROVAL_CODE,
  PROP_REVIEWER_ERROR,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

static void advance (PpRecycleFlow *self);

static void
pp_recycle_flow_finalize (GObject *object)
{
  PpRecycleFlow *self = PP_RECYCLE_FLOW (object);

  g_clear_object (&self->registry);
  g_free (self->user);
  g_free (self->message);
  g_clear_error (&self->error);
  g_free (self->serial);
  g_free (self->reason);
  g_clear_object (&self->device);
  g_free (self->resume_uuid);
  g_clear_pointer (&self->wait, pp_approval_wait_free);
  g_free (self->approval_uuid);
  g_free (self->approval_code);
  g_free (self->approver);
  if (self->pending != NULL)
    g_source_destroy (self->pending);
  g_clear_pointer (&self->pending, g_source_unref);
  g_clear_pointer (&self->order, pp_work_order_free);
  g_clear_pointer (&self->info, pp_terminal_info_free);
  g_clear_pointer (&self->ct_krd, g_bytes_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  G_OBJECT_CLASS (pp_recycle_flow_parent_class)->finalize (object);
}

static void
pp_recycle_flow_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  PpRecycleFlow *self = PP_RECYCLE_FLOW (object);

  switch (prop_id)
    {
    case PROP_REGISTRY: g_value_set_object (value, self->registry); break;
    case PROP_USER: g_value_set_string (value, self->user); break;
    case PROP_STEP: g_value_set_enum (value, self->step); break;
    case PROP_NEEDS: g_value_set_enum (value, self->needs); break;
    case PROP_MESSAGE: g_value_set_string (value, self->message); break;
    case PROP_ERROR: g_value_set_boxed (value, self->error); break;
    case PROP_SERIAL: g_value_set_string (value, self->serial); break;
    case PROP_ORDER_UUID: g_value_set_string (value, self->order != NULL ? self->order->uuid : NULL); break;
    case PROP_APPROVAL_UUID: g_value_set_string (value, self->approval_uuid); break;
    case PROP_APPROVAL_CODE: g_value_set_string (value, self->approval_code); break;
    case PROP_REVIEWER_ERROR:
      g_value_set_boxed (value, self->wait != NULL ? pp_approval_wait_get_refusal (self->wait) : NULL);
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pp_recycle_flow_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  PpRecycleFlow *self = PP_RECYCLE_FLOW (object);

  switch (prop_id)
    {
    case PROP_REGISTRY: self->registry = g_value_dup_object (value); break;
    case PROP_USER: self->user = g_value_dup_string (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pp_recycle_flow_class_init (PpRecycleFlowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = pp_recycle_flow_finalize;
  object_class->get_property = pp_recycle_flow_get_property;
  object_class->set_property = pp_recycle_flow_set_property;

  props[PROP_REGISTRY] = g_param_spec_object ("registry", NULL, NULL, PP_TYPE_REGISTRY,
                                              G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  props[PROP_USER] = g_param_spec_string ("user", NULL, NULL, NULL,
                                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  props[PROP_STEP] = g_param_spec_enum ("step", NULL, NULL, PP_TYPE_RECYCLE_STEP, PP_RECYCLE_STEP_SCAN, ro);
  props[PROP_NEEDS] = g_param_spec_enum ("needs", NULL, NULL, PP_TYPE_RECYCLE_NEEDS, PP_RECYCLE_NEEDS_NOTHING, ro);
  props[PROP_MESSAGE] = g_param_spec_string ("message", NULL, NULL, NULL, ro);
  props[PROP_ERROR] = g_param_spec_boxed ("error", NULL, NULL, G_TYPE_ERROR, ro);
  props[PROP_SERIAL] = g_param_spec_string ("serial", NULL, NULL, NULL, ro);
  props[PROP_ORDER_UUID] = g_param_spec_string ("order-uuid", NULL, NULL, NULL, ro);
  props[PROP_APPROVAL_UUID] = g_param_spec_string ("approval-uuid", NULL, NULL, NULL, ro);
  props[PROP_APPROVAL_CODE] = g_param_spec_string ("approval-code", NULL, NULL, NULL, ro);
  /* the registry's refusal of the decision of the reviewer signed in here
   * (the requester themself, a field manager): the flow still waits */
  props[PROP_REVIEWER_ERROR] = g_param_spec_boxed ("reviewer-error", NULL, NULL, G_TYPE_ERROR, ro);
  g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
pp_recycle_flow_init (PpRecycleFlow *self)
{
}

PpRecycleFlow *
pp_recycle_flow_new (PpRegistry *registry,
                     const char *user)
{
  g_return_val_if_fail (PP_IS_REGISTRY (registry), NULL);
  g_return_val_if_fail (user != NULL, NULL);

  return g_object_new (PP_TYPE_RECYCLE_FLOW, "registry", registry, "user", user, NULL);
}

/* ---- state ---- */

static PpApprovalWait *
approval_wait (PpRecycleFlow *self)
{
  if (self->wait == NULL)
    self->wait = pp_approval_wait_new (self->registry, self->user);
  return self->wait;
}

static void
set_message (PpRecycleFlow *self,
             const char    *message)
{
  if (g_strcmp0 (self->message, message) == 0)
    return;
  g_free (self->message);
  self->message = g_strdup (message);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_MESSAGE]);
}

static void
set_needs (PpRecycleFlow  *self,
           PpRecycleNeeds  needs)
{
  if (self->needs == needs)
    return;
  self->needs = needs;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_NEEDS]);
}

static void
go (PpRecycleFlow *self,
    PpRecycleStep  step)
{
  g_object_freeze_notify (G_OBJECT (self));
  if (self->step != step)
    {
      self->step = step;
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_STEP]);
    }
  set_message (self, step_label (step));
  g_object_thaw_notify (G_OBJECT (self));
}

static gboolean
on_idle (gpointer data)
{
  PpRecycleFlow *self = data;

  if (self->task != NULL)
    advance (self);
  return G_SOURCE_REMOVE;
}

static void
schedule (PpRecycleFlow *self)
{
  GSource *idle;

  if (self->task == NULL)
    return;
  idle = g_idle_source_new ();
  g_source_set_callback (idle, on_idle, g_object_ref (self), g_object_unref);
  g_source_attach (idle, self->context);
  g_source_unref (idle);
}

static gboolean
on_poll (gpointer data)
{
  PpRecycleFlow *self = data;

  g_clear_pointer (&self->pending, g_source_unref);
  if (self->task != NULL)
    advance (self);
  return G_SOURCE_REMOVE;
}

/* advance() again after @ms (the approval poll); an input cuts it short. */
static void
schedule_after (PpRecycleFlow *self,
                guint          ms)
{
  if (self->task == NULL)
    return;
  if (self->pending != NULL)
    {
      g_source_destroy (self->pending);
      g_clear_pointer (&self->pending, g_source_unref);
    }
  self->pending = g_timeout_source_new (ms);
  g_source_set_callback (self->pending, on_poll, g_object_ref (self), g_object_unref);
  g_source_attach (self->pending, self->context);
}

static void
finish_run (PpRecycleFlow *self)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->task);

  g_clear_object (&self->cancellable);
  self->finished_at = g_get_real_time () / G_USEC_PER_SEC;
  if (self->error != NULL)
    g_task_return_error (task, g_error_copy (self->error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
fail (PpRecycleFlow *self,
      GError        *error)
{
  if (self->task == NULL)
    {
      g_error_free (error);
      return;
    }
  g_clear_error (&self->error);
  self->error = error;
  g_object_freeze_notify (G_OBJECT (self));
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_ERROR]);
  set_needs (self, PP_RECYCLE_NEEDS_NOTHING);
  go (self, PP_RECYCLE_STEP_FAILED);
  set_message (self, error->message);
  g_object_thaw_notify (G_OBJECT (self));
  finish_run (self);
}

static gboolean
check (PpRecycleFlow *self,
       GError        *error)
{
  if (error == NULL)
    g_cancellable_set_error_if_cancelled (self->cancellable, &error);
  if (error != NULL)
    {
      fail (self, error);
      return FALSE;
    }
  return self->task != NULL;
}

/* Moves on to @step from a callback. */
static void
next (PpRecycleFlow *self,
      PpRecycleStep  step)
{
  go (self, step);
  schedule (self);
}

static void
kick (PpRecycleFlow  *self,
      PpRecycleNeeds  needs)
{
  if (self->task == NULL || self->needs != needs)
    return;
  /* a look at the approval in flight: its answer sees the input (a
   * decision made here is sent at once after it), no second call */
  if (needs == PP_RECYCLE_NEEDS_APPROVAL && self->approval_call)
    return;
  set_needs (self, PP_RECYCLE_NEEDS_NOTHING);
  if (self->pending != NULL)
    {
      /* the approval poll: look now */
      g_source_destroy (self->pending);
      g_clear_pointer (&self->pending, g_source_unref);
    }
  schedule (self);
}

static void
take_order (PpRecycleFlow *self,
            PpWorkOrder   *order)
{
  g_clear_pointer (&self->order, pp_work_order_free);
  self->order = order;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_ORDER_UUID]);
}

/* ---- inputs ---- */

gboolean
pp_recycle_flow_set_serial (PpRecycleFlow  *self,
                            const char     *serial,
                            GError        **error)
{
  g_return_val_if_fail (PP_IS_RECYCLE_FLOW (self), FALSE);

  if (serial == NULL || *serial == '\0' || strlen (serial) > 64 || !g_str_is_ascii (serial))
    {
      g_set_error (error, PP_FLOW_ERROR, PP_FLOW_ERROR_INVALID,
                   _("“%s” is no terminal serial: scan the label on the back of the terminal"),
                   serial != NULL ? serial : "");
      return FALSE;
    }
  if (self->order != NULL)
    {
      g_set_error (error, PP_FLOW_ERROR, PP_FLOW_ERROR_INVALID,
                   _("The %s cannot change once the order exists (order %s): cancel the order and start again"),
                   _("serial"), self->order->uuid);
      return FALSE;
    }
  g_free (self->serial);
  self->serial = g_ascii_strup (serial, -1);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_SERIAL]);
  kick (self, PP_RECYCLE_NEEDS_SERIAL);
  return TRUE;
}

void
pp_recycle_flow_confirm (PpRecycleFlow *self,
                         const char    *reason)
{
  g_return_if_fail (PP_IS_RECYCLE_FLOW (self));

  g_free (self->reason);
  self->reason = g_strdup (reason);
  self->confirmed = TRUE;
  kick (self, PP_RECYCLE_NEEDS_CONFIRM);
}

void
pp_recycle_flow_set_device (PpRecycleFlow    *self,
                            PpTerminalDevice *device)
{
  g_return_if_fail (PP_IS_RECYCLE_FLOW (self));

  g_set_object (&self->device, device);
  if (device != NULL)
    kick (self, PP_RECYCLE_NEEDS_DEVICE);
}

void
pp_recycle_flow_set_otp (PpRecycleFlow *self,
                         const char    *otp)
{
  g_return_if_fail (PP_IS_RECYCLE_FLOW (self));

  pp_approval_wait_set_otp (approval_wait (self), otp);
}

gboolean
pp_recycle_flow_set_reviewer (PpRecycleFlow  *self,
                              PpRegistry     *registry,
                              const char     *reviewer,
                              gboolean        approve,
                              const char     *reason,
                              GError        **error)
{
  g_return_val_if_fail (PP_IS_RECYCLE_FLOW (self), FALSE);
  g_return_val_if_fail (PP_IS_REGISTRY (registry), FALSE);
  g_return_val_if_fail (reviewer != NULL, FALSE);

  if (self->step > PP_RECYCLE_STEP_APPROVAL && self->step != PP_RECYCLE_STEP_FAILED)
    {
      g_set_error_literal (error, PP_FLOW_ERROR, PP_FLOW_ERROR_INVALID,
                           _("The order is approved already"));
      return FALSE;
    }
  pp_approval_wait_set_reviewer (approval_wait (self), registry, reviewer, approve, reason);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_REVIEWER_ERROR]);
  kick (self, PP_RECYCLE_NEEDS_APPROVAL);
  return TRUE;
}

void
pp_recycle_flow_resume (PpRecycleFlow *self,
                        const char    *order_uuid)
{
  g_return_if_fail (PP_IS_RECYCLE_FLOW (self));

  self->resume = TRUE;
  g_free (self->resume_uuid);
  self->resume_uuid = g_strdup (order_uuid);
}

PpRecycleStep
pp_recycle_flow_get_step (PpRecycleFlow *self)
{
  g_return_val_if_fail (PP_IS_RECYCLE_FLOW (self), PP_RECYCLE_STEP_FAILED);
  return self->step;
}

PpRecycleNeeds
pp_recycle_flow_get_needs (PpRecycleFlow *self)
{
  g_return_val_if_fail (PP_IS_RECYCLE_FLOW (self), PP_RECYCLE_NEEDS_NOTHING);
  return self->needs;
}

const char *
pp_recycle_flow_get_message (PpRecycleFlow *self)
{
  g_return_val_if_fail (PP_IS_RECYCLE_FLOW (self), NULL);
  return self->message;
}

PpRecycleReceipt *
pp_recycle_flow_get_receipt (PpRecycleFlow *self)
{
  PpRecycleReceipt *r;

  g_return_val_if_fail (PP_IS_RECYCLE_FLOW (self), NULL);

  r = g_new0 (PpRecycleReceipt, 1);
  r->serial = g_strdup (self->serial);
  r->reason = g_strdup (self->reason);
  r->unbound = self->unbound;
  r->zeroized = self->zeroized;
  r->finished_at = self->finished_at;
  r->approval_uuid = g_strdup (self->approval_uuid);
  r->approver = g_strdup (self->approver);
  if (self->order != NULL)
    {
      r->order_uuid = g_strdup (self->order->uuid);
      r->cleared_mid = g_strdup (self->order->mid);
      r->cleared_tid = g_strdup (self->order->tid);
      r->state = g_strdup (pp_work_order_state_to_string (self->order->state));
    }
  return r;
}

/* ---- the steps ---- */

static void
take_approval (PpRecycleFlow      *self,
               PpRegistryApproval *a)
{
  if (g_strcmp0 (self->approval_uuid, a->uuid) != 0)
    {
      g_free (self->approval_uuid);
      self->approval_uuid = g_strdup (a->uuid);
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_APPROVAL_UUID]);
    }
  if (g_strcmp0 (self->approval_code, a->code) != 0)
    {
      g_free (self->approval_code);
      self->approval_code = g_strdup (a->code);
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_APPROVAL_CODE]);
    }
  if (a->approver != NULL)
    {
      g_free (self->approver);
      self->approver = g_strdup (a->approver);
    }
}

static void
approvals_done (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  g_autoptr(PpRecycleFlow) self = data;
  GError *error = NULL;
  g_autoptr(PpRegistryApproval) latest = pp_approval_wait_latest_finish (self->wait, result, &error);

  if (!check (self, error))
    return;
  if (latest != NULL)
    take_approval (self, latest);
  if (self->order->state == PP_WORK_ORDER_STATE_APPROVED)
    {
      next (self, PP_RECYCLE_STEP_CONNECT);
      return;
    }
  /* open: wait on the pending request, or ask (again, after a rejection) */
  if (latest == NULL || latest->state != PP_REGISTRY_APPROVAL_PENDING)
    g_clear_pointer (&self->approval_uuid, g_free);
  schedule (self);
}

static void
orders_done (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  g_autoptr(PpRecycleFlow) self = data;
  GError *error = NULL;
  g_autoptr(GPtrArray) orders = pp_registry_list_orders_finish (PP_REGISTRY (source), result, &error);

  if (!check (self, error))
    return;
  for (guint i = orders->len; i > 0; i--)
    {
      PpWorkOrder *o = g_ptr_array_index (orders, i - 1);

      if (o->kind == PP_WORK_ORDER_KIND_RECYCLE &&
          (o->state == PP_WORK_ORDER_STATE_OPEN || o->state == PP_WORK_ORDER_STATE_APPROVED) &&
          (self->resume_uuid == NULL || g_ascii_strcasecmp (o->uuid, self->resume_uuid) == 0))
        {
          take_order (self, g_ptr_array_steal_index (orders, i - 1));
          /* its approval: the pending request or the decision, looked up
           * rather than asked for twice */
          go (self, PP_RECYCLE_STEP_APPROVAL);
          pp_approval_wait_latest_async (approval_wait (self), self->order->uuid, self->cancellable,
                                         approvals_done, g_object_ref (self));
          return;
        }
    }
  fail (self, g_error_new (PP_FLOW_ERROR, PP_FLOW_ERROR_STATE,
                           _("Terminal %s has no open recycle order to resume"), self->serial));
}

static void
lookup_done (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  g_autoptr(PpRecycleFlow) self = data;
  GError *error = NULL;
  g_autoptr(PpRegistrySerialCheck) c = pp_registry_lookup_serial_finish (PP_REGISTRY (source), result, &error);
  PpTerminalState state;

  if (!check (self, error))
    return;
  if (c->terminal == NULL)
    {
      fail (self, g_error_new (PP_FLOW_ERROR, PP_FLOW_ERROR_NOT_INSTALLABLE, "%s", c->message));
      return;
    }
  state = pp_terminal_get_state (c->terminal);
  if (state == PP_TERMINAL_STATE_RECYCLED)
    {
      /* cut off after the order was made: its open recycle order goes on */
      pp_registry_list_orders_async (self->registry, self->serial, self->cancellable, orders_done,
                                     g_object_ref (self));
      return;
    }
  if (state != PP_TERMINAL_STATE_INSTALLED)
    {
      fail (self, g_error_new (PP_FLOW_ERROR, PP_FLOW_ERROR_STATE,
                               _("Terminal %s is %s, not installed: only an installed terminal is recycled"),
                               self->serial, pp_terminal_state_get_label (state)));
      return;
    }
  next (self, PP_RECYCLE_STEP_CONFIRM);
}

static void
order_done (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  g_autoptr(PpRecycleFlow) self = data;
  GError *error = NULL;
  PpWorkOrder *order = pp_registry_create_recycle_order_finish (PP_REGISTRY (source), result, &error);

  if (!check (self, error))
    {
      g_clear_pointer (&order, pp_work_order_free);
      return;
    }
  take_order (self, order);
  next (self, PP_RECYCLE_STEP_APPROVAL);
}

static void
order_refreshed (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  g_autoptr(PpRecycleFlow) self = data;
  GError *error = NULL;
  PpWorkOrder *order = pp_registry_get_order_finish (PP_REGISTRY (source), result, &error);

  if (!check (self, error))
    {
      g_clear_pointer (&order, pp_work_order_free);
      return;
    }
  take_order (self, order);
  set_needs (self, PP_RECYCLE_NEEDS_NOTHING);
  next (self, PP_RECYCLE_STEP_CONNECT);
}

static void
approval_done (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  g_autoptr(PpRecycleFlow) self = data;
  GError *error = NULL;
  gboolean refused = FALSE;
  g_autoptr(PpRegistryApproval) a = pp_approval_wait_step_finish (self->wait, result, &refused, &error);
  const GError *refusal;

  self->approval_call = FALSE;
  if (!check (self, error))
    return;
  /* notified with the state it leaves, once the next look is scheduled: a
   * view shown the refusal sees the flow still waits, and an input given
   * from a handler replaces that look rather than adding one */
  g_object_freeze_notify (G_OBJECT (self));
  if (refused)
    g_object_notify_by_pspec (G_OBJECT (self), props[PROP_REVIEWER_ERROR]);
  take_approval (self, a);
  if (a->state != PP_REGISTRY_APPROVAL_PENDING)
    g_object_thaw_notify (G_OBJECT (self));
  switch (a->state)
    {
    case PP_REGISTRY_APPROVAL_PENDING:
      set_needs (self, PP_RECYCLE_NEEDS_APPROVAL);
      refusal = pp_approval_wait_get_refusal (self->wait);
      if (refusal != NULL)
        {
          g_autofree char *message = g_strdup_printf (_("%s. Still waiting for a reviewer: approve on another "
                                                        "screen, or let another reviewer sign in here"),
                                                      refusal->message);
          set_message (self, message);
        }
      else
        set_message (self, _("Waiting for a reviewer to approve the recycle (approvals approve on another screen), "
                             "or let a reviewer sign in here"));
      schedule_after (self, pp_approval_wait_next_delay (self->wait));
      g_object_thaw_notify (G_OBJECT (self));
      return;
    case PP_REGISTRY_APPROVAL_APPROVED:
      pp_registry_get_order_async (self->registry, self->order->uuid, self->cancellable, order_refreshed,
                                   g_object_ref (self));
      return;
    case PP_REGISTRY_APPROVAL_REJECTED:
      fail (self, g_error_new (PP_FLOW_ERROR, PP_FLOW_ERROR_REJECTED,
                               _("%s rejected the recycle of terminal %s (%s): its recycle order stays open; "
                                 "run the recycle again to ask for a new approval"),
                               a->approver != NULL ? a->approver : "?", self->serial,
                               a->reason != NULL ? a->reason : _("no reason given")));
      return;
    default:
      fail (self, g_error_new (PP_FLOW_ERROR, PP_FLOW_ERROR_STATE,
                               _("The approval of recycle order %s is %s: run the recycle again to ask for a new one"),
                               self->order->uuid, pp_registry_approval_state_to_string (a->state)));
      return;
    }
}

static void
step_approval (PpRecycleFlow *self)
{
  if (self->approval_uuid != NULL && pp_approval_wait_has_decision (approval_wait (self)))
    set_needs (self, PP_RECYCLE_NEEDS_NOTHING);
  self->approval_call = TRUE;
  pp_approval_wait_step_async (approval_wait (self), self->order->uuid, self->serial, self->approval_uuid,
                               self->cancellable, approval_done, g_object_ref (self));
}

static void
identify_done (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  g_autoptr(PpRecycleFlow) self = data;
  GError *error = NULL;
  PpTerminalInfo *info = pp_terminal_device_identify_finish (PP_TERMINAL_DEVICE (source), result, &error);

  if (!check (self, error))
    {
      g_clear_pointer (&info, pp_terminal_info_free);
      return;
    }
  g_clear_pointer (&self->info, pp_terminal_info_free);
  self->info = info;
  if (info->serial == NULL || g_ascii_strcasecmp (info->serial, self->serial) != 0)
    {
      fail (self, g_error_new (PP_FLOW_ERROR, PP_FLOW_ERROR_WRONG_SERIAL,
                               _("The terminal on this port is %s, not %s as scanned: connect terminal %s, or scan the label of the one connected"),
                               info->serial != NULL ? info->serial : "?", self->serial, self->serial));
      return;
    }
  /* A tampered terminal refuses UNBIND; ZEROIZE still erases its keys. */
  next (self, info->bound_kdh != NULL && !info->tampered ? PP_RECYCLE_STEP_UNBIND : PP_RECYCLE_STEP_ZEROIZE);
}

static void
unbind_done (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  g_autoptr(PpRecycleFlow) self = data;
  GError *error = NULL;

  pp_terminal_device_unbind_finish (PP_TERMINAL_DEVICE (source), result, &error);
  if (!check (self, error))
    return;
  self->unbound = TRUE;
  next (self, PP_RECYCLE_STEP_ZEROIZE);
}

static void
ubt_done (GObject      *source,
          GAsyncResult *result,
          gpointer      data)
{
  g_autoptr(PpRecycleFlow) self = data;
  GError *error = NULL;
  g_autoptr(GBytes) ubt = pp_registry_issue_unbind_token_finish (PP_REGISTRY (source), result, &error);

  if (!check (self, error))
    return;
  pp_terminal_device_unbind_async (self->device, ubt, self->cancellable, unbind_done, g_object_ref (self));
}

static void
nonce_done (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  g_autoptr(PpRecycleFlow) self = data;
  GError *error = NULL;
  g_autoptr(GBytes) rt_krd = pp_terminal_device_get_nonce_finish (PP_TERMINAL_DEVICE (source), result, &error);
  g_autofree char *key = NULL;

  if (!check (self, error))
    return;
  key = g_uuid_string_random ();
  pp_registry_issue_unbind_token_async (self->registry, self->order->uuid, self->ct_krd, rt_krd, self->user, key,
                                        self->cancellable, ubt_done, g_object_ref (self));
}

static void
ct_krd_done (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  g_autoptr(PpRecycleFlow) self = data;
  GError *error = NULL;
  GBytes *ct_krd = pp_terminal_device_get_ct_krd_finish (PP_TERMINAL_DEVICE (source), result, &error);

  if (!check (self, error))
    {
      g_clear_pointer (&ct_krd, g_bytes_unref);
      return;
    }
  g_clear_pointer (&self->ct_krd, g_bytes_unref);
  self->ct_krd = ct_krd;
  pp_terminal_device_get_nonce_async (self->device, self->cancellable, nonce_done, g_object_ref (self));
}

static void
zeroize_done (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  g_autoptr(PpRecycleFlow) self = data;
  GError *error = NULL;

  pp_terminal_device_zeroize_finish (PP_TERMINAL_DEVICE (source), result, &error);
  if (!check (self, error))
    return;
  self->zeroized = TRUE;
  next (self, PP_RECYCLE_STEP_CLOSE);
}

static void
close_done (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  g_autoptr(PpRecycleFlow) self = data;
  GError *error = NULL;
  PpWorkOrder *order = pp_registry_close_order_finish (PP_REGISTRY (source), result, &error);

  if (!check (self, error))
    {
      g_clear_pointer (&order, pp_work_order_free);
      return;
    }
  take_order (self, order);
  go (self, PP_RECYCLE_STEP_DONE);
  set_message (self, _("Recycled: released from the key host, keys erased, back in stock"));
  finish_run (self);
}

static void
advance (PpRecycleFlow *self)
{
  g_autofree char *key = NULL;
  GError *error = NULL;

  if (g_cancellable_set_error_if_cancelled (self->cancellable, &error))
    {
      fail (self, error);
      return;
    }
  switch (self->step)
    {
    case PP_RECYCLE_STEP_SCAN:
      if (self->serial == NULL)
        {
          set_needs (self, PP_RECYCLE_NEEDS_SERIAL);
          set_message (self, _("Scan the serial number on the terminal's label"));
          return;
        }
      go (self, PP_RECYCLE_STEP_CHECK);
      G_GNUC_FALLTHROUGH;
    case PP_RECYCLE_STEP_CHECK:
      pp_registry_lookup_serial_async (self->registry, self->serial, NULL, self->cancellable, lookup_done,
                                       g_object_ref (self));
      return;
    case PP_RECYCLE_STEP_CONFIRM:
      if (!self->confirmed)
        {
          set_needs (self, PP_RECYCLE_NEEDS_CONFIRM);
          set_message (self, _("Confirm: the terminal leaves its merchant and all its keys are erased"));
          return;
        }
      go (self, PP_RECYCLE_STEP_ORDER);
      G_GNUC_FALLTHROUGH;
    case PP_RECYCLE_STEP_ORDER:
      key = g_uuid_string_random ();
      pp_registry_create_recycle_order_async (self->registry, self->serial, self->reason, self->user, key,
                                              self->cancellable, order_done, g_object_ref (self));
      return;
    case PP_RECYCLE_STEP_APPROVAL:
      step_approval (self);
      return;
    case PP_RECYCLE_STEP_CONNECT:
      if (self->device == NULL)
        {
          set_needs (self, PP_RECYCLE_NEEDS_DEVICE);
          set_message (self, _("Connect the terminal and choose its port"));
          return;
        }
      go (self, PP_RECYCLE_STEP_IDENTIFY);
      G_GNUC_FALLTHROUGH;
    case PP_RECYCLE_STEP_IDENTIFY:
      pp_terminal_device_identify_async (self->device, self->cancellable, identify_done, g_object_ref (self));
      return;
    case PP_RECYCLE_STEP_UNBIND:
      pp_terminal_device_get_ct_krd_async (self->device, self->cancellable, ct_krd_done, g_object_ref (self));
      return;
    case PP_RECYCLE_STEP_ZEROIZE:
      pp_terminal_device_zeroize_async (self->device, self->cancellable, zeroize_done, g_object_ref (self));
      return;
    case PP_RECYCLE_STEP_CLOSE:
      key = g_uuid_string_random ();
      pp_registry_close_order_async (self->registry, self->order->uuid, self->user, key, self->cancellable,
                                     close_done, g_object_ref (self));
      return;
    default:
      return;
    }
}

void
pp_recycle_flow_run_async (PpRecycleFlow       *self,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_return_if_fail (PP_IS_RECYCLE_FLOW (self));
  g_return_if_fail (self->task == NULL);

  self->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (self->task, pp_recycle_flow_run_async);
  self->cancellable = cancellable != NULL ? g_object_ref (cancellable) : g_cancellable_new ();
  g_clear_pointer (&self->context, g_main_context_unref);
  self->context = g_main_context_ref_thread_default ();
  g_clear_error (&self->error);
  pp_approval_wait_reset (approval_wait (self));
  if (self->step == PP_RECYCLE_STEP_FAILED || self->step == PP_RECYCLE_STEP_DONE)
    self->step = PP_RECYCLE_STEP_SCAN;
  if (self->resume && self->step == PP_RECYCLE_STEP_SCAN && self->serial != NULL)
    self->step = PP_RECYCLE_STEP_CHECK;
  go (self, self->step);
  schedule (self);
}

gboolean
pp_recycle_flow_run_finish (PpRecycleFlow  *self,
                            GAsyncResult   *result,
                            GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pp_recycle_flow_run_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
