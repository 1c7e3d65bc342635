/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-install-flow.c: the one-visit install (pp-install-flow.h).
 *
 * One step at a time: advance() starts the step's one call on the registry
 * or the terminal, its callback records the result and moves "step" on, and
 * advance() runs again from an idle on the run's main context.  A step that
 * needs input sets "needs" and returns; the setter that provides it kicks
 * the flow again.  All state a later flow needs to resume is in the
 * registry (the order and its approval) and in the terminal (its STATUS).
 */
#include "config.h"

#include <inttypes.h>
#include <string.h>

#include <glib/gi18n-lib.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "pp-approval-wait.h"
#include "pp-install-flow.h"
#include "pp-kcv.h"
#include "pp-openssl-types.h"
#include "pp-secure-buffer.h"

G_DEFINE_QUARK (pp-flow-error-quark, pp_flow_error)

/* ---- enums ---- */

static const GEnumValue step_values[] = {
  { PP_INSTALL_STEP_SCAN, "PP_INSTALL_STEP_SCAN", "scan" },
  { PP_INSTALL_STEP_CHECK, "PP_INSTALL_STEP_CHECK", "check" },
  { PP_INSTALL_STEP_MERCHANT, "PP_INSTALL_STEP_MERCHANT", "merchant" },
  { PP_INSTALL_STEP_ORDER, "PP_INSTALL_STEP_ORDER", "order" },
  { PP_INSTALL_STEP_APPROVAL, "PP_INSTALL_STEP_APPROVAL", "approval" },
  { PP_INSTALL_STEP_CONNECT, "PP_INSTALL_STEP_CONNECT", "connect" },
  { PP_INSTALL_STEP_IDENTIFY, "PP_INSTALL_STEP_IDENTIFY", "identify" },
  { PP_INSTALL_STEP_CERTIFY, "PP_INSTALL_STEP_CERTIFY", "certify" },
  { PP_INSTALL_STEP_BIND, "PP_INSTALL_STEP_BIND", "bind" },
  { PP_INSTALL_STEP_KEY_NONCE, "PP_INSTALL_STEP_KEY_NONCE", "key-nonce" },
  { PP_INSTALL_STEP_KEY_TOKEN, "PP_INSTALL_STEP_KEY_TOKEN", "key-token" },
  { PP_INSTALL_STEP_KEY_LOAD, "PP_INSTALL_STEP_KEY_LOAD", "key-load" },
  { PP_INSTALL_STEP_KEY_KCV, "PP_INSTALL_STEP_KEY_KCV", "key-kcv" },
  { PP_INSTALL_STEP_SIGN_ON_TEST, "PP_INSTALL_STEP_SIGN_ON_TEST", "sign-on-test" },
  { PP_INSTALL_STEP_PROGRAM, "PP_INSTALL_STEP_PROGRAM", "program" },
  { PP_INSTALL_STEP_CLOSE, "PP_INSTALL_STEP_CLOSE", "close" },
  { PP_INSTALL_STEP_DONE, "PP_INSTALL_STEP_DONE", "done" },
  { PP_INSTALL_STEP_FAILED, "PP_INSTALL_STEP_FAILED", "failed" },
  { 0, NULL, NULL }
};

GType
pp_install_step_get_type (void)
{
  static gsize type = 0;

  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("PpInstallStep", step_values));
  return type;
}

GType
pp_install_needs_get_type (void)
{
  static const GEnumValue values[] = {
    { PP_INSTALL_NEEDS_NOTHING, "PP_INSTALL_NEEDS_NOTHING", "nothing" },
    { PP_INSTALL_NEEDS_SERIAL, "PP_INSTALL_NEEDS_SERIAL", "serial" },
    { PP_INSTALL_NEEDS_MERCHANT, "PP_INSTALL_NEEDS_MERCHANT", "merchant" },
    { PP_INSTALL_NEEDS_PROGRAM, "PP_INSTALL_NEEDS_PROGRAM", "program" },
    { PP_INSTALL_NEEDS_APPROVAL, "PP_INSTALL_NEEDS_APPROVAL", "approval" },
    { PP_INSTALL_NEEDS_DEVICE, "PP_INSTALL_NEEDS_DEVICE", "device" },
    { 0, NULL, NULL }
  };
  static gsize type = 0;

  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("PpInstallNeeds", values));
  return type;
}

const char *
pp_install_step_to_string (PpInstallStep step)
{
  if ((guint) step >= G_N_ELEMENTS (step_values) - 1)
    return NULL;
  return step_values[step].value_nick;
}

const char *
pp_install_step_get_label (PpInstallStep step)
{
  static const char * const labels[] = {
    N_("Scan the terminal"),
    N_("Checking the register"),
    N_("Merchant"),
    N_("Issuing MID and TID"),
    N_("Waiting for approval"),
    N_("Connect the terminal"),
    N_("Identifying the terminal"),
    N_("Certifying the terminal"),
    N_("Binding the terminal to the key host"),
    N_("Asking the terminal for a nonce"),
    N_("Getting the key token from the key host"),
    N_("Loading the key"),
    N_("Confirming the key check value"),
    N_("Sign-on test"),
    N_("Installing the program"),
    N_("Closing the order"),
    N_("Done"),
    N_("Failed"),
  };

  if ((guint) step >= G_N_ELEMENTS (labels))
    return NULL;
  return _(labels[step]);
}

void
pp_install_receipt_free (PpInstallReceipt *receipt)
{
  if (receipt == NULL)
    return;
  g_free (receipt->order_uuid);
  g_free (receipt->serial);
  g_free (receipt->model);
  g_free (receipt->merchant_name);
  g_free (receipt->mid);
  g_free (receipt->tid);
  g_free (receipt->kcv);
  g_free (receipt->program_name);
  g_free (receipt->program_version);
  g_free (receipt->approval_uuid);
  g_free (receipt->requester);
  g_free (receipt->approver);
  g_free (receipt->state);
  g_free (receipt);
}

/* ---- the object ---- */

struct _PpInstallFlow
{
  GObject parent_instance;

  PpRegistry *registry;
  char *user;

  PpInstallStep step;
  PpInstallNeeds needs;
  char *message;
  GError *error;
  double progress;
  double rate;
  double seconds_left;
  guint64 resumed_from;

  /* inputs */
  char *serial;
  gint64 merchant_id;
  GPtrArray *new_merchant;        /* the fields' strings, in PpMerchantFields order */
  char *program_name;
  char *program_version;
  PpProgramPackage *package;
  PpTmkType key_type;
  PpApprovalWait *wait;           /* the otp and the reviewer signed in here */
  gboolean approval_call;         /* a step of the wait is in flight */
  PpTerminalDevice *device;
  gboolean has_operator;
  guint32 operator_id;
  PpSecureBuffer *operator_password;
  gboolean resume;
  char *resume_uuid;

  /* what the flow learnt */
  char *model;
  char *merchant_name;
  PpWorkOrder *order;
  char *approval_uuid;
  char *approver;
  char *kcv;
  PpTerminalInfo *info;
  PpTerminalStatus *status;
  GBytes *ct_krd;
  GBytes *rt_krd;
  GBytes *kt_kdh;
  gboolean sign_on_done;
  gint64 started_at;
  gint64 finished_at;
  gint64 push_started;

  /* the run */
  GTask *task;
  GCancellable *cancellable;
  gulong cancel_id;
  GMainContext *context;
  GSource *pending;               /* the idle or the approval poll's timeout */
};

G_DEFINE_FINAL_TYPE (PpInstallFlow, pp_install_flow, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_REGISTRY,
  PROP_USER,
  PROP_STEP,
  PROP_NEEDS,
  PROP_MESSAGE,
  PROP_ERROR,
  PROP_PROGRESS,
  PROP_RATE,
  PROP_SECONDS_LEFT,
  PROP_RESUMED_FROM,
  PROP_SERIAL,
  PROP_MODEL,
  PROP_ORDER_UUID,
  PROP_APPROVAL_UUID,
  PROP_MERCHANT_NAME,
  PROP_MID,
  PROP_TID,
  PROP_KCV,
  PROP_PROGRAM_NAME,
  PROP_PROGRAM_VERSION,
  PROP_REVIEWER_ERROR,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

static void advance (PpInstallFlow *self);

static void
pp_install_flow_dispose (GObject *object)
{
  PpInstallFlow *self = PP_INSTALL_FLOW (object);

  if (self->pending != NULL)
    {
      g_source_destroy (self->pending);
      g_clear_pointer (&self->pending, g_source_unref);
    }
  g_clear_object (&self->device);
  g_clear_pointer (&self->wait, pp_approval_wait_free);
  G_OBJECT_CLASS (pp_install_flow_parent_class)->dispose (object);
}

static void
pp_install_flow_finalize (GObject *object)
{
  PpInstallFlow *self = PP_INSTALL_FLOW (object);

  g_clear_object (&self->registry);
  g_free (self->user);
  g_free (self->message);
  g_clear_error (&self->error);
  g_free (self->serial);
  g_clear_pointer (&self->new_merchant, g_ptr_array_unref);
  g_free (self->program_name);
  g_free (self->program_version);
  g_clear_pointer (&self->package, pp_program_package_unref);
  g_clear_pointer (&self->operator_password, pp_secure_buffer_free);
  g_free (self->resume_uuid);
  g_free (self->model);
  g_free (self->merchant_name);
  g_clear_pointer (&self->order, pp_work_order_free);
  g_free (self->approval_uuid);
  g_free (self->approver);
  g_free (self->kcv);
  g_clear_pointer (&self->info, pp_terminal_info_free);
  g_clear_pointer (&self->status, pp_terminal_status_free);
  g_clear_pointer (&self->ct_krd, g_bytes_unref);
  g_clear_pointer (&self->rt_krd, g_bytes_unref);
  g_clear_pointer (&self->kt_kdh, g_bytes_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  G_OBJECT_CLASS (pp_install_flow_parent_class)->finalize (object);
}

static void
pp_install_flow_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  PpInstallFlow *self = PP_INSTALL_FLOW (object);

  switch (prop_id)
    {
    case PROP_REGISTRY: g_value_set_object (value, self->registry); break;
    case PROP_USER: g_value_set_string (value, self->user); break;
    case PROP_STEP: g_value_set_enum (value, self->step); break;
    case PROP_NEEDS: g_value_set_enum (value, self->needs); break;
    case PROP_MESSAGE: g_value_set_string (value, self->message); break;
    case PROP_ERROR: g_value_set_boxed (value, self->error); break;
    case PROP_REVIEWER_ERROR:
      g_value_set_boxed (value, self->wait != NULL ? pp_approval_wait_get_refusal (self->wait) : NULL);
      break;
    case PROP_PROGRESS: g_value_set_double (value, self->progress); break;
    case PROP_RATE: g_value_set_double (value, self->rate); break;
    case PROP_SECONDS_LEFT: g_value_set_double (value, self->seconds_left); break;
    case PROP_RESUMED_FROM: g_value_set_uint64 (value, self->resumed_from); break;
    case PROP_SERIAL: g_value_set_string (value, self->serial); break;
    case PROP_MODEL: g_value_set_string (value, self->model); break;
    case PROP_ORDER_UUID: g_value_set_string (value, self->order != NULL ? self->order->uuid : NULL); break;
    case PROP_APPROVAL_UUID: g_value_set_string (value, self->approval_uuid); break;
    case PROP_MERCHANT_NAME: g_value_set_string (value, self->merchant_name); break;
    case PROP_MID: g_value_set_string (value, self->order != NULL ? self->order->mid : NULL); break;
    case PROP_TID: g_value_set_string (value, self->order != NULL ? self->order->tid : NULL); break;
    case PROP_KCV: g_value_set_string (value, self->kcv); break;
    case PROP_PROGRAM_NAME: g_value_set_string (value, self->program_name); break;
    case PROP_PROGRAM_VERSION: g_value_set_string (value, self->program_version); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pp_install_flow_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  PpInstallFlow *self = PP_INSTALL_FLOW (object);

  switch (prop_id)
    {
    case PROP_REGISTRY: self->registry = g_value_dup_object (value); break;
    case PROP_USER: self->user = g_value_dup_string (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pp_install_flow_class_init (PpInstallFlowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->dispose = pp_install_flow_dispose;
  object_class->finalize = pp_install_flow_finalize;
  object_class->get_property = pp_install_flow_get_property;
  object_class->set_property = pp_install_flow_set_property;

  props[PROP_REGISTRY] = g_param_spec_object ("registry", NULL, NULL, PP_TYPE_REGISTRY,
                                              G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  props[PROP_USER] = g_param_spec_string ("user", NULL, NULL, NULL,
                                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  props[PROP_STEP] = g_param_spec_enum ("step", NULL, NULL, PP_TYPE_INSTALL_STEP, PP_INSTALL_STEP_SCAN, ro);
  props[PROP_NEEDS] = g_param_spec_enum ("needs", NULL, NULL, PP_TYPE_INSTALL_NEEDS, PP_INSTALL_NEEDS_NOTHING, ro);
  props[PROP_MESSAGE] = g_param_spec_string ("message", NULL, NULL, NULL, ro);
  props[PROP_ERROR] = g_param_spec_boxed ("error", NULL, NULL, G_TYPE_ERROR, ro);
  props[PROP_PROGRESS] = g_param_spec_double ("progress", NULL, NULL, -1, 1, -1, ro);
  props[PROP_RATE] = g_param_spec_double ("rate", NULL, NULL, 0, G_MAXDOUBLE, 0, ro);
  props[PROP_SECONDS_LEFT] = g_param_spec_double ("seconds-left", NULL, NULL, -1, G_MAXDOUBLE, -1, ro);
  props[PROP_RESUMED_FROM] = g_param_spec_uint64 ("resumed-from", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  props[PROP_SERIAL] = g_param_spec_string ("serial", NULL, NULL, NULL, ro);
  props[PROP_MODEL] = g_param_spec_string ("model", NULL, NULL, NULL, ro);
  props[PROP_ORDER_UUID] = g_param_spec_string ("order-uuid", NULL, NULL, NULL, ro);
  props[PROP_APPROVAL_UUID] = g_param_spec_string ("approval-uuid", NULL, NULL, NULL, ro);
  props[PROP_MERCHANT_NAME] = g_param_spec_string ("merchant-name", NULL, NULL, NULL, ro);
  props[PROP_MID] = g_param_spec_string ("mid", NULL, NULL, NULL, ro);
  props[PROP_TID] = g_param_spec_string ("tid", NULL, NULL, NULL, ro);
  props[PROP_KCV] = g_param_spec_string ("kcv", NULL, NULL, NULL, ro);
  props[PROP_PROGRAM_NAME] = g_param_spec_string ("program-name", NULL, NULL, NULL, ro);
  props[PROP_PROGRAM_VERSION] = g_param_spec_string ("program-version", NULL, NULL, NULL, ro);
  /* the registry's refusal of the decision of the reviewer signed in here
   * (the requester themself, a field manager): the flow still waits */
  props[PROP_REVIEWER_ERROR] = g_param_spec_boxed ("reviewer-error", NULL, NULL, G_TYPE_ERROR, ro);
  g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
pp_install_flow_init (PpInstallFlow *self)
{
  self->key_type = PP_TMK_AES_128;
  self->progress = -1;
  self->seconds_left = -1;
}

PpInstallFlow *
pp_install_flow_new (PpRegistry *registry,
                     const char *user)
{
  g_return_val_if_fail (PP_IS_REGISTRY (registry), NULL);
  g_return_val_if_fail (user != NULL, NULL);

  return g_object_new (PP_TYPE_INSTALL_FLOW, "registry", registry, "user", user, NULL);
}

/* ---- state ---- */

static PpApprovalWait *
approval_wait (PpInstallFlow *self)
{
  if (self->wait == NULL)
    self->wait = pp_approval_wait_new (self->registry, self->user);
  return self->wait;
}

static void
notify_reviewer_error (PpInstallFlow *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_REVIEWER_ERROR]);
}

static void
set_string (PpInstallFlow  *self,
            char          **field,
            const char     *value,
            guint           prop)
{
  if (g_strcmp0 (*field, value) == 0)
    return;
  g_free (*field);
  *field = g_strdup (value);
  g_object_notify_by_pspec (G_OBJECT (self), props[prop]);
}

static void
set_needs (PpInstallFlow  *self,
           PpInstallNeeds  needs)
{
  if (self->needs == needs)
    return;
  self->needs = needs;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_NEEDS]);
}

static void
set_progress (PpInstallFlow *self,
              double         progress)
{
  if (self->progress == progress)
    return;
  self->progress = progress;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_PROGRESS]);
}

/* Moves to @step with its message (NULL: the step's label). */
static void
go (PpInstallFlow *self,
    PpInstallStep  step,
    const char    *message)
{
  g_object_freeze_notify (G_OBJECT (self));
  if (self->step != step)
    {
      self->step = step;
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_STEP]);
      set_progress (self, -1);
    }
  set_string (self, &self->message, message != NULL ? message : pp_install_step_get_label (step), PROP_MESSAGE);
  g_object_thaw_notify (G_OBJECT (self));
}

static void
set_order (PpInstallFlow *self,
           PpWorkOrder   *order)
{
  g_clear_pointer (&self->order, pp_work_order_free);
  self->order = order;
  g_object_freeze_notify (G_OBJECT (self));
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_ORDER_UUID]);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_MID]);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_TID]);
  set_string (self, &self->serial, order->serial, PROP_SERIAL);
  if (self->program_version == NULL)
    set_string (self, &self->program_version, order->program_version, PROP_PROGRAM_VERSION);
  if (order->kcv != NULL)
    set_string (self, &self->kcv, order->kcv, PROP_KCV);
  g_object_thaw_notify (G_OBJECT (self));
}

static gboolean
running (PpInstallFlow *self)
{
  return self->task != NULL;
}

static void
finish_run (PpInstallFlow *self)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->task);

  if (self->cancel_id != 0)
    g_cancellable_disconnect (self->cancellable, self->cancel_id);
  self->cancel_id = 0;
  g_clear_object (&self->cancellable);
  self->finished_at = g_get_real_time () / G_USEC_PER_SEC;
  if (self->error != NULL)
    g_task_return_error (task, g_error_copy (self->error));
  else
    g_task_return_boolean (task, TRUE);
}

/* Stops the run with @error (taken). */
static void
fail (PpInstallFlow *self,
      GError        *error)
{
  if (!running (self))
    {
      g_error_free (error);
      return;
    }
  if (self->pending != NULL)
    {
      g_source_destroy (self->pending);
      g_clear_pointer (&self->pending, g_source_unref);
    }
  g_clear_error (&self->error);
  self->error = error;
  g_object_freeze_notify (G_OBJECT (self));
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_ERROR]);
  set_needs (self, PP_INSTALL_NEEDS_NOTHING);
  go (self, PP_INSTALL_STEP_FAILED, error->message);
  g_object_thaw_notify (G_OBJECT (self));
  finish_run (self);
}

static void
fail_with (PpInstallFlow *self,
           PpFlowError    code,
           const char    *format,
           ...) G_GNUC_PRINTF (3, 4);

static void
fail_with (PpInstallFlow *self,
           PpFlowError    code,
           const char    *format,
           ...)
{
  va_list args;
  GError *error;

  va_start (args, format);
  error = g_error_new_valist (PP_FLOW_ERROR, code, format, args);
  va_end (args);
  fail (self, error);
}

static gboolean
on_idle (gpointer data)
{
  PpInstallFlow *self = data;

  g_clear_pointer (&self->pending, g_source_unref);
  if (running (self))
    advance (self);
  return G_SOURCE_REMOVE;
}

/* Runs advance() from the run's context after @delay_ms (0: at once). */
static void
schedule (PpInstallFlow *self,
          guint          delay_ms)
{
  if (!running (self) || self->pending != NULL)
    return;
  self->pending = delay_ms == 0 ? g_idle_source_new () : g_timeout_source_new (delay_ms);
  g_source_set_callback (self->pending, on_idle, g_object_ref (self), g_object_unref);
  g_source_attach (self->pending, self->context);
}

/* A call came back: the flow goes on from the next step, or fails. Takes
 * @error. Returns TRUE when the caller should record the result and go on. */
static gboolean
check (PpInstallFlow *self,
       GError        *error)
{
  if (error != NULL)
    {
      fail (self, error);
      return FALSE;
    }
  if (g_cancellable_set_error_if_cancelled (self->cancellable, &error))
    {
      fail (self, error);
      return FALSE;
    }
  return running (self);
}

static void
wait_for (PpInstallFlow  *self,
          PpInstallNeeds  needs,
          const char     *message)
{
  g_object_freeze_notify (G_OBJECT (self));
  set_needs (self, needs);
  set_string (self, &self->message, message, PROP_MESSAGE);
  g_object_thaw_notify (G_OBJECT (self));
}

/* An input arrived: a waiting flow goes on. */
static void
kick (PpInstallFlow  *self,
      PpInstallNeeds  needs)
{
  if (!running (self) || self->needs != needs)
    return;
  /* a look at the approval in flight: its answer sees the input (a
   * decision made here is sent at once after it), no second call */
  if (needs == PP_INSTALL_NEEDS_APPROVAL && self->approval_call)
    return;
  set_needs (self, PP_INSTALL_NEEDS_NOTHING);
  if (self->pending != NULL)
    {
      /* the approval poll: look now */
      g_source_destroy (self->pending);
      g_clear_pointer (&self->pending, g_source_unref);
    }
  schedule (self, 0);
}

static gboolean
too_late (PpInstallFlow  *self,
          const char     *what,
          GError        **error)
{
  if (self->order == NULL)
    return FALSE;
  g_set_error (error, PP_FLOW_ERROR, PP_FLOW_ERROR_INVALID,
               _("The %s cannot change once the order exists (order %s): cancel the order and start again"),
               what, self->order->uuid);
  return TRUE;
}

/* ---- inputs ---- */

gboolean
pp_install_flow_set_serial (PpInstallFlow  *self,
                            const char     *serial,
                            GError        **error)
{
  g_autofree char *upper = NULL, *trimmed = NULL;

  g_return_val_if_fail (PP_IS_INSTALL_FLOW (self), FALSE);

  if (serial == NULL || *serial == '\0' || strlen (serial) > 64 || !g_str_is_ascii (serial))
    {
      g_set_error (error, PP_FLOW_ERROR, PP_FLOW_ERROR_INVALID,
                   _("“%s” is no terminal serial: scan the label on the back of the terminal"),
                   serial != NULL ? serial : "");
      return FALSE;
    }
  if (too_late (self, _("serial"), error))
    return FALSE;
  trimmed = g_strstrip (g_strdup (serial));
  upper = g_ascii_strup (trimmed, -1);
  set_string (self, &self->serial, upper, PROP_SERIAL);
  kick (self, PP_INSTALL_NEEDS_SERIAL);
  return TRUE;
}

gboolean
pp_install_flow_set_merchant_id (PpInstallFlow  *self,
                                 gint64          merchant_id,
                                 GError        **error)
{
  g_return_val_if_fail (PP_IS_INSTALL_FLOW (self), FALSE);

  if (merchant_id <= 0)
    {
      g_set_error (error, PP_FLOW_ERROR, PP_FLOW_ERROR_INVALID,
                   _("%" PRId64 " is no merchant id"), merchant_id);
      return FALSE;
    }
  if (too_late (self, _("merchant"), error))
    return FALSE;
  self->merchant_id = merchant_id;
  g_clear_pointer (&self->new_merchant, g_ptr_array_unref);
  kick (self, PP_INSTALL_NEEDS_MERCHANT);
  return TRUE;
}

gboolean
pp_install_flow_set_new_merchant (PpInstallFlow           *self,
                                  const PpMerchantFields  *fields,
                                  GError                 **error)
{
  g_return_val_if_fail (PP_IS_INSTALL_FLOW (self), FALSE);
  g_return_val_if_fail (fields != NULL, FALSE);

  if (too_late (self, _("merchant"), error))
    return FALSE;
  g_clear_pointer (&self->new_merchant, g_ptr_array_unref);
  self->new_merchant = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (self->new_merchant, g_strdup (fields->name));
  g_ptr_array_add (self->new_merchant, g_strdup (fields->registration_number));
  g_ptr_array_add (self->new_merchant, g_strdup (fields->address));
  g_ptr_array_add (self->new_merchant, g_strdup (fields->mcc));
  g_ptr_array_add (self->new_merchant, g_strdup (fields->contact_name));
  g_ptr_array_add (self->new_merchant, g_strdup (fields->contact_phone));
  self->merchant_id = 0;
  kick (self, PP_INSTALL_NEEDS_MERCHANT);
  return TRUE;
}

gboolean
pp_install_flow_set_program (PpInstallFlow  *self,
                             const char     *name,
                             const char     *version,
                             GError        **error)
{
  g_return_val_if_fail (PP_IS_INSTALL_FLOW (self), FALSE);

  if (name == NULL || *name == '\0' || version == NULL || *version == '\0')
    {
      g_set_error_literal (error, PP_FLOW_ERROR, PP_FLOW_ERROR_INVALID,
                           _("Give the program as its name and version, as the catalogue lists them"));
      return FALSE;
    }
  if (self->order != NULL && g_strcmp0 (self->order->program_version, version) != 0)
    {
      g_set_error (error, PP_FLOW_ERROR, PP_FLOW_ERROR_INVALID,
                   _("Order %s is for program version %s, not %s: cancel the order to install another"),
                   self->order->uuid, self->order->program_version, version);
      return FALSE;
    }
  set_string (self, &self->program_name, name, PROP_PROGRAM_NAME);
  set_string (self, &self->program_version, version, PROP_PROGRAM_VERSION);
  kick (self, PP_INSTALL_NEEDS_PROGRAM);
  return TRUE;
}

gboolean
pp_install_flow_set_program_package (PpInstallFlow     *self,
                                     PpProgramPackage  *package,
                                     GError           **error)
{
  g_return_val_if_fail (PP_IS_INSTALL_FLOW (self), FALSE);
  g_return_val_if_fail (package != NULL, FALSE);

  g_clear_pointer (&self->package, pp_program_package_unref);
  self->package = pp_program_package_ref (package);
  return TRUE;
}

void
pp_install_flow_set_key_type (PpInstallFlow *self,
                              PpTmkType      key_type)
{
  g_return_if_fail (PP_IS_INSTALL_FLOW (self));
  self->key_type = key_type;
}

void
pp_install_flow_set_otp (PpInstallFlow *self,
                         const char    *otp)
{
  g_return_if_fail (PP_IS_INSTALL_FLOW (self));
  pp_approval_wait_set_otp (approval_wait (self), otp);
}

gboolean
pp_install_flow_set_reviewer (PpInstallFlow  *self,
                              PpRegistry     *registry,
                              const char     *reviewer,
                              gboolean        approve,
                              const char     *reason,
                              GError        **error)
{
  g_return_val_if_fail (PP_IS_INSTALL_FLOW (self), FALSE);
  g_return_val_if_fail (PP_IS_REGISTRY (registry), FALSE);
  g_return_val_if_fail (reviewer != NULL, FALSE);

  if (self->step > PP_INSTALL_STEP_APPROVAL && self->step != PP_INSTALL_STEP_FAILED)
    {
      g_set_error_literal (error, PP_FLOW_ERROR, PP_FLOW_ERROR_INVALID,
                           _("The order is approved already"));
      return FALSE;
    }
  pp_approval_wait_set_reviewer (approval_wait (self), registry, reviewer, approve, reason);
  notify_reviewer_error (self);
  kick (self, PP_INSTALL_NEEDS_APPROVAL);
  return TRUE;
}

void
pp_install_flow_set_device (PpInstallFlow    *self,
                            PpTerminalDevice *device)
{
  g_return_if_fail (PP_IS_INSTALL_FLOW (self));
  g_return_if_fail (device == NULL || PP_IS_TERMINAL_DEVICE (device));

  g_set_object (&self->device, device);
  if (device != NULL)
    kick (self, PP_INSTALL_NEEDS_DEVICE);
}

void
pp_install_flow_set_operator (PpInstallFlow *self,
                              guint32        operator_id,
                              const char    *password)
{
  g_return_if_fail (PP_IS_INSTALL_FLOW (self));
  g_return_if_fail (password != NULL);

  self->has_operator = TRUE;
  self->operator_id = operator_id;
  g_clear_pointer (&self->operator_password, pp_secure_buffer_free);
  self->operator_password = pp_secure_buffer_new_from ((const guint8 *) password, strlen (password) + 1);
}

void
pp_install_flow_resume (PpInstallFlow *self,
                        const char    *order_uuid)
{
  g_return_if_fail (PP_IS_INSTALL_FLOW (self));
  g_return_if_fail (!running (self));

  self->resume = TRUE;
  g_free (self->resume_uuid);
  self->resume_uuid = g_strdup (order_uuid);
}

/* ---- getters ---- */

PpInstallStep
pp_install_flow_get_step (PpInstallFlow *self)
{
  g_return_val_if_fail (PP_IS_INSTALL_FLOW (self), PP_INSTALL_STEP_FAILED);
  return self->step;
}

PpInstallNeeds
pp_install_flow_get_needs (PpInstallFlow *self)
{
  g_return_val_if_fail (PP_IS_INSTALL_FLOW (self), PP_INSTALL_NEEDS_NOTHING);
  return self->needs;
}

const char *
pp_install_flow_get_message (PpInstallFlow *self)
{
  g_return_val_if_fail (PP_IS_INSTALL_FLOW (self), NULL);
  return self->message;
}

const GError *
pp_install_flow_get_error (PpInstallFlow *self)
{
  g_return_val_if_fail (PP_IS_INSTALL_FLOW (self), NULL);
  return self->error;
}

double
pp_install_flow_get_progress (PpInstallFlow *self)
{
  g_return_val_if_fail (PP_IS_INSTALL_FLOW (self), -1);
  return self->progress;
}

const char *
pp_install_flow_get_order_uuid (PpInstallFlow *self)
{
  g_return_val_if_fail (PP_IS_INSTALL_FLOW (self), NULL);
  return self->order != NULL ? self->order->uuid : NULL;
}

PpInstallReceipt *
pp_install_flow_get_receipt (PpInstallFlow *self)
{
  PpInstallReceipt *r;

  g_return_val_if_fail (PP_IS_INSTALL_FLOW (self), NULL);

  r = g_new0 (PpInstallReceipt, 1);
  r->serial = g_strdup (self->serial);
  r->model = g_strdup (self->model);
  r->merchant_name = g_strdup (self->merchant_name);
  r->kcv = g_strdup (self->kcv);
  r->program_name = g_strdup (self->program_name);
  r->program_version = g_strdup (self->program_version);
  r->approval_uuid = g_strdup (self->approval_uuid);
  r->approver = g_strdup (self->approver);
  r->requester = g_strdup (self->order != NULL ? self->order->requester : self->user);
  if (self->order != NULL)
    {
      r->order_uuid = g_strdup (self->order->uuid);
      r->mid = g_strdup (self->order->mid);
      r->tid = g_strdup (self->order->tid);
      r->state = g_strdup (pp_work_order_state_to_string (self->order->state));
    }
  r->started_at = self->started_at;
  r->finished_at = self->finished_at;
  return r;
}

/* ---- the steps ---- */

static char *
new_key (void)
{
  return g_uuid_string_random ();
}

/* A wrapped error from a step, with what to do prepended when the raw one
 * does not say it. Takes @error. */
static void
fail_step (PpInstallFlow *self,
           GError        *error,
           const char    *what)
{
  if (what != NULL && error->domain != G_IO_ERROR)
    g_prefix_error (&error, "%s: ", what);
  fail (self, error);
}

/* -- order resumed -- */

static void
approval_latest_done (GObject      *source,
                      GAsyncResult *result,
                      gpointer      data);

/* Picks up at the order's state. */
static void
resume_from_order (PpInstallFlow *self,
                   PpWorkOrder   *order)
{
  if (order->kind != PP_WORK_ORDER_KIND_INSTALL)
    {
      fail_with (self, PP_FLOW_ERROR_STATE, _("Work order %s is a recycle order, not an install"), order->uuid);
      pp_work_order_free (order);
      return;
    }
  set_order (self, order);
  self->merchant_id = order->merchant_id;
  switch (order->state)
    {
    case PP_WORK_ORDER_STATE_OPEN:
      go (self, PP_INSTALL_STEP_APPROVAL, NULL);
      /* An approval asked for before: wait for it rather than ask twice. */
      pp_approval_wait_latest_async (approval_wait (self), order->uuid, self->cancellable, approval_latest_done,
                                     g_object_ref (self));
      return;
    case PP_WORK_ORDER_STATE_APPROVED:
    case PP_WORK_ORDER_STATE_KEYED:
    case PP_WORK_ORDER_STATE_PROGRAM_INSTALLED:
      pp_approval_wait_latest_async (approval_wait (self), order->uuid, self->cancellable, approval_latest_done,
                                     g_object_ref (self));
      go (self, PP_INSTALL_STEP_APPROVAL, NULL);
      return;
    case PP_WORK_ORDER_STATE_CLOSED:
      go (self, PP_INSTALL_STEP_DONE, _("This install is finished: its order is closed"));
      finish_run (self);
      return;
    default:
      fail_with (self, PP_FLOW_ERROR_STATE,
                 _("Work order %s is %s: nothing can be resumed; start a new install"),
                 order->uuid, pp_work_order_state_get_label (order->state));
      return;
    }
}

static void
resume_order_done (GObject      *source,
                   GAsyncResult *result,
                   gpointer      data)
{
  g_autoptr(PpInstallFlow) self = data;
  GError *error = NULL;
  PpWorkOrder *order = pp_registry_get_order_finish (PP_REGISTRY (source), result, &error);

  if (!check (self, error))
    {
      g_clear_pointer (&order, pp_work_order_free);
      return;
    }
  resume_from_order (self, order);
}

/* -- check -- */

static void
lookup_done (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  g_autoptr(PpInstallFlow) self = data;
  GError *error = NULL;
  g_autoptr(PpRegistrySerialCheck) c = pp_registry_lookup_serial_finish (PP_REGISTRY (source), result, &error);

  if (!check (self, error))
    return;
  if (c->terminal != NULL)
    set_string (self, &self->model, pp_terminal_get_model (c->terminal), PROP_MODEL);
  if (self->resume && c->order_uuid != NULL)
    {
      pp_registry_get_order_async (self->registry, c->order_uuid, self->cancellable, resume_order_done,
                                   g_object_ref (self));
      return;
    }
  if (c->status != PP_REGISTRY_SERIAL_INSTALLABLE)
    {
      fail_with (self, PP_FLOW_ERROR_NOT_INSTALLABLE, "%s",
                 c->message != NULL ? c->message : pp_registry_serial_status_to_string (c->status));
      return;
    }
  go (self, PP_INSTALL_STEP_MERCHANT, NULL);
  schedule (self, 0);
}

/* -- merchant -- */

static void
merchant_created (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  g_autoptr(PpInstallFlow) self = data;
  GError *error = NULL;
  g_autoptr(PpMerchant) m = pp_registry_create_merchant_finish (PP_REGISTRY (source), result, &error);

  if (!check (self, error))
    return;
  self->merchant_id = m->id;
  g_clear_pointer (&self->new_merchant, g_ptr_array_unref);
  set_string (self, &self->merchant_name, m->name, PROP_MERCHANT_NAME);
  go (self, PP_INSTALL_STEP_ORDER, NULL);
  schedule (self, 0);
}

/* -- order -- */

static void
order_created (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  g_autoptr(PpInstallFlow) self = data;
  GError *error = NULL;
  PpWorkOrder *order = pp_registry_create_install_order_finish (PP_REGISTRY (source), result, &error);

  if (!check (self, error))
    {
      g_clear_pointer (&order, pp_work_order_free);
      return;
    }
  set_order (self, order);
  go (self, PP_INSTALL_STEP_APPROVAL, NULL);
  schedule (self, 0);
}

static void
catalogue_done (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  g_autoptr(PpInstallFlow) self = data;
  GError *error = NULL;
  g_autoptr(GPtrArray) programs = pp_registry_list_programs_finish (PP_REGISTRY (source), result, &error);
  g_autofree char *key = NULL;
  const char *name = NULL;
  guint n = 0;

  if (!check (self, error))
    return;
  for (guint i = 0; i < programs->len; i++)
    {
      const PpProgramRecord *r = g_ptr_array_index (programs, i);

      if (g_str_equal (r->version, self->program_version) &&
          (self->program_name == NULL || g_str_equal (r->name, self->program_name)))
        {
          name = r->name;
          n++;
        }
    }
  if (n != 1)
    {
      fail_with (self, PP_FLOW_ERROR_PROGRAM,
                 n == 0 ? _("The catalogue has no program %s %s for model %s: upload it first (posprov-tool programs upload)")
                        : _("The catalogue has several programs of version %2$s for model %3$s: name the program (%1$s)"),
                 self->program_name != NULL ? self->program_name : "", self->program_version,
                 self->model != NULL ? self->model : "?");
      return;
    }
  set_string (self, &self->program_name, name, PROP_PROGRAM_NAME);
  if (self->order != NULL)
    {
      /* resumed: the catalogue only named the program */
      schedule (self, 0);
      return;
    }
  key = new_key ();
  pp_registry_create_install_order_async (self->registry, self->serial, self->merchant_id, self->program_version,
                                          self->key_type, self->user, key, self->cancellable, order_created,
                                          g_object_ref (self));
}

/* -- approval -- */

static void approval_done (GObject *source, GAsyncResult *result, gpointer data);

static void
take_approval (PpInstallFlow      *self,
               PpRegistryApproval *a)
{
  set_string (self, &self->approval_uuid, a->uuid, PROP_APPROVAL_UUID);
  if (a->merchant_name != NULL)
    set_string (self, &self->merchant_name, a->merchant_name, PROP_MERCHANT_NAME);
  if (a->approver != NULL)
    {
      g_free (self->approver);
      self->approver = g_strdup (a->approver);
    }
}

static void
approval_latest_done (GObject      *source,
                      GAsyncResult *result,
                      gpointer      data)
{
  g_autoptr(PpInstallFlow) self = data;
  GError *error = NULL;
  g_autoptr(PpRegistryApproval) latest = pp_approval_wait_latest_finish (self->wait, result, &error);

  if (!check (self, error))
    return;
  if (latest != NULL)
    take_approval (self, latest);
  if (self->order->state != PP_WORK_ORDER_STATE_OPEN)
    {
      go (self, PP_INSTALL_STEP_CONNECT, NULL);
      schedule (self, 0);
      return;
    }
  /* open: wait on the pending request, or ask (again, after a rejection
   * the order would be cancelled, so a decided one here is void) */
  if (latest == NULL || latest->state != PP_REGISTRY_APPROVAL_PENDING)
    g_clear_pointer (&self->approval_uuid, g_free);
  schedule (self, 0);
}

static void
poll_approval (PpInstallFlow *self)
{
  const GError *refusal = pp_approval_wait_get_refusal (self->wait);
  g_autofree char *message = NULL;

  if (refusal != NULL)
    message = g_strdup_printf (_("%s. Still waiting for a reviewer: approve on another screen, "
                                 "or let another reviewer sign in here"), refusal->message);
  else
    message = g_strdup (_("Waiting for a reviewer to approve the request (approvals approve on another screen), or let a reviewer sign in here"));
  wait_for (self, PP_INSTALL_NEEDS_APPROVAL, message);
  schedule (self, pp_approval_wait_next_delay (self->wait));
}

static void
order_refreshed (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  g_autoptr(PpInstallFlow) self = data;
  GError *error = NULL;
  PpWorkOrder *order = pp_registry_get_order_finish (PP_REGISTRY (source), result, &error);

  if (!check (self, error))
    {
      g_clear_pointer (&order, pp_work_order_free);
      return;
    }
  set_order (self, order);
  set_needs (self, PP_INSTALL_NEEDS_NOTHING);
  go (self, PP_INSTALL_STEP_CONNECT, NULL);
  schedule (self, 0);
}

static void
approval_done (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  g_autoptr(PpInstallFlow) self = data;
  GError *error = NULL;
  gboolean refused = FALSE;
  g_autoptr(PpRegistryApproval) a = pp_approval_wait_step_finish (self->wait, result, &refused, &error);

  self->approval_call = FALSE;
  if (!check (self, error))
    return;
  take_approval (self, a);
  if (a->state == PP_REGISTRY_APPROVAL_PENDING)
    {
      /* still waiting, and a view shown the refusal sees it waits */
      poll_approval (self);
      if (refused)
        notify_reviewer_error (self);
      return;
    }
  if (refused)
    notify_reviewer_error (self);
  switch (a->state)
    {
    case PP_REGISTRY_APPROVAL_APPROVED:
      pp_registry_get_order_async (self->registry, self->order->uuid, self->cancellable, order_refreshed,
                                   g_object_ref (self));
      return;
    case PP_REGISTRY_APPROVAL_REJECTED:
      fail_with (self, PP_FLOW_ERROR_REJECTED,
                 _("%s rejected the install of terminal %s (%s): the order is cancelled and the terminal back in stock"),
                 a->approver != NULL ? a->approver : "?", self->serial,
                 a->reason != NULL ? a->reason : _("no reason given"));
      return;
    default:
      fail_with (self, PP_FLOW_ERROR_STATE, _("The approval of order %s is %s: start a new install"),
                 self->order->uuid, pp_registry_approval_state_to_string (a->state));
      return;
    }
}

static void
step_approval (PpInstallFlow *self)
{
  if (self->approval_uuid != NULL && pp_approval_wait_has_decision (approval_wait (self)))
    set_needs (self, PP_INSTALL_NEEDS_NOTHING);
  self->approval_call = TRUE;
  pp_approval_wait_step_async (approval_wait (self), self->order->uuid, self->serial, self->approval_uuid,
                               self->cancellable, approval_done, g_object_ref (self));
}

/* -- the terminal -- */

static const PpTerminalKey *
held_key (PpInstallFlow *self,
          const char    *kcv)
{
  if (kcv == NULL || self->status == NULL || self->status->keys == NULL)
    return NULL;
  for (guint i = 0; i < self->status->keys->len; i++)
    {
      const PpTerminalKey *k = g_ptr_array_index (self->status->keys, i);

      if (!k->working && pp_kcv_equal (k->kcv, kcv))
        return k;
    }
  return NULL;
}

static gboolean
program_on_terminal (PpInstallFlow *self)
{
  return self->status != NULL && self->program_name != NULL &&
         g_strcmp0 (self->status->program_name, self->program_name) == 0 &&
         g_strcmp0 (self->status->program_version, self->program_version) == 0;
}

/* The RFC 2253 subject of a DER certificate, as a terminal reports the KDH
 * it is bound to; NULL when it does not parse. */
static char *
certificate_subject (GBytes *der)
{
  const unsigned char *p;
  g_autoptr(X509) cert = NULL;
  g_autoptr(BIO) bio = NULL;
  char *text = NULL;
  long n;

  if (der == NULL)
    return NULL;
  p = g_bytes_get_data (der, NULL);
  cert = d2i_X509 (NULL, &p, (long) g_bytes_get_size (der));
  bio = BIO_new (BIO_s_mem ());
  if (cert == NULL || bio == NULL || X509_NAME_print_ex (bio, X509_get_subject_name (cert), 0, XN_FLAG_RFC2253) < 0)
    return NULL;
  n = BIO_get_mem_data (bio, &text);
  return g_strndup (text, (gsize) n);
}

/* A bound terminal takes keys only from the KDH it is bound to: this
 * registry's, or the key token would be refused by the terminal after the
 * key host released a key for it. */
static void
kdh_checked (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  g_autoptr(PpInstallFlow) self = data;
  GError *error = NULL;
  g_autoptr(GBytes) certificate = NULL;
  g_autoptr(GBytes) crl = NULL;
  g_autofree char *ours = NULL;

  pp_registry_get_kdh_finish (PP_REGISTRY (source), result, &certificate, &crl, &error);
  if (!check (self, error))
    return;
  ours = certificate_subject (certificate);
  if (ours == NULL || g_strcmp0 (ours, self->info->bound_kdh) != 0)
    {
      fail_with (self, PP_FLOW_ERROR_OTHER_KDH,
                 _("Terminal %s is bound to another key distribution host (%s), not this registry's (%s): "
                   "only that host can move it here (posprov-tool device rebind, with its rebind token), "
                   "or release it (recycle it where it was installed); nothing was sent to the terminal"),
                 self->serial, self->info->bound_kdh, ours != NULL ? ours : "?");
      return;
    }
  go (self, PP_INSTALL_STEP_KEY_NONCE, NULL);
  schedule (self, 0);
}

/* After IDENTIFY and STATUS: where the key load stands. */
static void
after_identify (PpInstallFlow *self)
{
  switch (self->order->state)
    {
    case PP_WORK_ORDER_STATE_APPROVED:
      /* A LOAD_KEY whose answer was lost: the terminal holds the key the
       * key host released; confirm it rather than load a second one. */
      if (held_key (self, self->order->expected_kcv) != NULL)
        {
          set_string (self, &self->kcv, held_key (self, self->order->expected_kcv)->kcv, PROP_KCV);
          go (self, PP_INSTALL_STEP_KEY_KCV, NULL);
        }
      else if (self->info->bound_kdh != NULL)
        {
          /* bound already: to this registry's KDH? */
          pp_registry_get_kdh_async (self->registry, self->cancellable, kdh_checked, g_object_ref (self));
          return;
        }
      else
        go (self, PP_INSTALL_STEP_BIND, NULL);
      break;
    case PP_WORK_ORDER_STATE_KEYED:
      if (self->status->keys != NULL && held_key (self, self->order->kcv) == NULL)
        {
          fail_with (self, PP_FLOW_ERROR_KCV_MISMATCH,
                     _("Terminal %s does not hold the key order %s was keyed with (KCV %s): it was zeroized or swapped; recycle it and start again"),
                     self->serial, self->order->uuid, self->order->kcv);
          return;
        }
      go (self, PP_INSTALL_STEP_SIGN_ON_TEST, NULL);
      break;
    default:
      go (self, PP_INSTALL_STEP_CLOSE, NULL);
      break;
    }
  schedule (self, 0);
}

static void
status_done (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  g_autoptr(PpInstallFlow) self = data;
  GError *error = NULL;
  PpTerminalStatus *status = pp_terminal_device_status_finish (PP_TERMINAL_DEVICE (source), result, &error);

  if (!check (self, error))
    {
      g_clear_pointer (&status, pp_terminal_status_free);
      return;
    }
  g_clear_pointer (&self->status, pp_terminal_status_free);
  self->status = status;
  if (status->tampered)
    {
      fail_with (self, PP_FLOW_ERROR_TAMPERED,
                 _("Terminal %s reports a security attack (tamper): do not install it; return it for inspection"),
                 self->serial);
      return;
    }
  after_identify (self);
}

static void
identify_done (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  g_autoptr(PpInstallFlow) self = data;
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
      fail_with (self, PP_FLOW_ERROR_WRONG_SERIAL,
                 _("The terminal on this port is %s, not %s as scanned: connect terminal %s, or scan the label of the one connected"),
                 info->serial != NULL ? info->serial : "?", self->serial, self->serial);
      return;
    }
  if (info->tampered)
    {
      fail_with (self, PP_FLOW_ERROR_TAMPERED,
                 _("Terminal %s reports a security attack (tamper): do not install it; return it for inspection"),
                 self->serial);
      return;
    }
  if (!info->has_cert)
    {
      go (self, PP_INSTALL_STEP_CERTIFY, NULL);
      fail_with (self, PP_FLOW_ERROR_NO_CERT,
                 _("Terminal %s has no device certificate yet: certify it first (posprov-tool device certify, with CA_KRD) and record its certificate, then resume"),
                 self->serial);
      return;
    }
  pp_terminal_device_status_async (self->device, self->cancellable, status_done, g_object_ref (self));
}

/* -- bind and key load -- */

static void
bind_done (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  g_autoptr(PpInstallFlow) self = data;
  GError *error = NULL;
  g_free (pp_terminal_device_bind_finish (PP_TERMINAL_DEVICE (source), result, &error));
  if (!check (self, error))
    return;
  go (self, PP_INSTALL_STEP_KEY_NONCE, NULL);
  schedule (self, 0);
}

static void
ct_kdh_done (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  g_autoptr(PpInstallFlow) self = data;
  GError *error = NULL;
  g_autoptr(GBytes) ct_kdh = pp_registry_issue_kdh_credential_finish (PP_REGISTRY (source), result, &error);

  if (!check (self, error))
    return;
  pp_terminal_device_bind_async (self->device, ct_kdh, self->cancellable, bind_done, g_object_ref (self));
}

static void
nonce_done (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  g_autoptr(PpInstallFlow) self = data;
  GError *error = NULL;
  GBytes *rt_krd = pp_terminal_device_get_nonce_finish (PP_TERMINAL_DEVICE (source), result, &error);

  if (!check (self, error))
    {
      g_clear_pointer (&rt_krd, g_bytes_unref);
      return;
    }
  g_clear_pointer (&self->rt_krd, g_bytes_unref);
  self->rt_krd = rt_krd;
  go (self, PP_INSTALL_STEP_KEY_TOKEN, NULL);
  schedule (self, 0);
}

static void
ct_krd_done (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  g_autoptr(PpInstallFlow) self = data;
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
key_token_done (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  g_autoptr(PpInstallFlow) self = data;
  GError *error = NULL;
  GBytes *kt_kdh = pp_registry_issue_key_token_finish (PP_REGISTRY (source), result, &error);

  if (!check (self, error))
    {
      g_clear_pointer (&kt_kdh, g_bytes_unref);
      return;
    }
  g_clear_pointer (&self->kt_kdh, g_bytes_unref);
  self->kt_kdh = kt_kdh;
  go (self, PP_INSTALL_STEP_KEY_LOAD, NULL);
  schedule (self, 0);
}

static void
load_done (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  g_autoptr(PpInstallFlow) self = data;
  GError *error = NULL;
  g_autofree char *kcv = NULL;
  guint slot = 0;

  pp_terminal_device_load_key_finish (PP_TERMINAL_DEVICE (source), result, &slot, &kcv, &error);
  g_clear_pointer (&self->kt_kdh, g_bytes_unref);
  if (!check (self, error))
    return;
  set_string (self, &self->kcv, kcv, PROP_KCV);
  go (self, PP_INSTALL_STEP_KEY_KCV, NULL);
  schedule (self, 0);
}

static void
kcv_done (GObject      *source,
          GAsyncResult *result,
          gpointer      data)
{
  g_autoptr(PpInstallFlow) self = data;
  GError *error = NULL;
  PpWorkOrder *order = pp_registry_confirm_kcv_finish (PP_REGISTRY (source), result, &error);

  if (!check (self, error))
    {
      g_clear_pointer (&order, pp_work_order_free);
      return;
    }
  set_order (self, order);
  go (self, PP_INSTALL_STEP_SIGN_ON_TEST, NULL);
  schedule (self, 0);
}

/* -- sign-on test -- */

typedef struct {
  PpInstallFlow *self;
  PpRegistrySignOnKeys *keys;
  char *mismatch;
} SignOn;

static void
sign_on_free (SignOn *s)
{
  g_object_unref (s->self);
  pp_registry_sign_on_keys_free (s->keys);
  g_free (s->mismatch);
  g_free (s);
}

static void
sign_off_done (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  SignOn *s = data;
  PpInstallFlow *self = s->self;
  GError *error = NULL;

  pp_terminal_device_sign_off_finish (PP_TERMINAL_DEVICE (source), result, &error);
  if (check (self, error))
    {
      if (s->mismatch != NULL)
        fail_with (self, PP_FLOW_ERROR_KCV_MISMATCH, "%s", s->mismatch);
      else
        {
          self->sign_on_done = TRUE;
          go (self, PP_INSTALL_STEP_PROGRAM, NULL);
          schedule (self, 0);
        }
    }
  sign_on_free (s);
}

static void
sign_on_done (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  SignOn *s = data;
  PpInstallFlow *self = s->self;
  GError *error = NULL;
  g_autofree char *pin_kcv = NULL, *mac_kcv = NULL;

  if (!pp_terminal_device_sign_on_finish (PP_TERMINAL_DEVICE (source), result, &pin_kcv, &mac_kcv, &error))
    {
      check (self, error);
      sign_on_free (s);
      return;
    }
  /* Compared in constant time; a mismatch still signs off first. */
  if (!pp_kcv_equal (pin_kcv, s->keys->pin_kcv))
    s->mismatch = g_strdup_printf (_("Sign-on test failed: terminal %s computed KCV %s for the PIN key, the key host %s: its master key is not the order's"),
                                   self->serial, pin_kcv != NULL ? pin_kcv : "?", s->keys->pin_kcv);
  else if (mac_kcv != NULL && !pp_kcv_equal (mac_kcv, s->keys->mac_kcv))
    s->mismatch = g_strdup_printf (_("Sign-on test failed: terminal %s computed KCV %s for the MAC key, the key host %s: its master key is not the order's"),
                                   self->serial, mac_kcv, s->keys->mac_kcv);
  pp_terminal_device_sign_off_async (self->device, self->cancellable, sign_off_done, s);
}

static void
sign_on_keys_done (GObject      *source,
                   GAsyncResult *result,
                   gpointer      data)
{
  g_autoptr(PpInstallFlow) self = data;
  GError *error = NULL;
  PpRegistrySignOnKeys *keys = pp_registry_issue_sign_on_keys_finish (PP_REGISTRY (source), result, &error);
  SignOn *s;

  if (!check (self, error))
    {
      g_clear_pointer (&keys, pp_registry_sign_on_keys_free);
      return;
    }
  s = g_new0 (SignOn, 1);
  s->self = g_object_ref (self);
  s->keys = keys;
  pp_terminal_device_sign_on_async (self->device, self->operator_id,
                                    (const char *) pp_secure_buffer_peek (self->operator_password),
                                    keys->pin_block, keys->mac_block, self->cancellable, sign_on_done, s);
}

/* -- program -- */

static void
program_installed_done (GObject      *source,
                        GAsyncResult *result,
                        gpointer      data)
{
  g_autoptr(PpInstallFlow) self = data;
  GError *error = NULL;
  PpWorkOrder *order = pp_registry_program_installed_finish (PP_REGISTRY (source), result, &error);

  if (!check (self, error))
    {
      g_clear_pointer (&order, pp_work_order_free);
      return;
    }
  set_order (self, order);
  go (self, PP_INSTALL_STEP_CLOSE, NULL);
  schedule (self, 0);
}

static void
record_program_installed (PpInstallFlow *self)
{
  g_autofree char *key = new_key ();

  pp_registry_program_installed_async (self->registry, self->order->uuid, self->user, key, self->cancellable,
                                       program_installed_done, g_object_ref (self));
}

static void
on_push_progress (guint64  confirmed,
                  guint64  total,
                  gpointer data)
{
  PpInstallFlow *self = data;
  double elapsed = (g_get_monotonic_time () - self->push_started) / (double) G_USEC_PER_SEC;
  guint64 sent = confirmed > self->resumed_from ? confirmed - self->resumed_from : 0;

  g_object_freeze_notify (G_OBJECT (self));
  set_progress (self, total > 0 ? (double) confirmed / (double) total : -1);
  if (elapsed > 0.05 && sent > 0)
    {
      self->rate = sent / elapsed;
      self->seconds_left = (double) (total - confirmed) / self->rate;
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_RATE]);
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_SECONDS_LEFT]);
    }
  g_object_thaw_notify (G_OBJECT (self));
}

static void
push_done (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  g_autoptr(PpInstallFlow) self = data;
  GError *error = NULL;
  guint64 resumed = 0;

  pp_terminal_device_push_program_finish (PP_TERMINAL_DEVICE (source), result, &resumed, &error);
  if (!check (self, error))
    return;
  if (resumed != self->resumed_from)
    {
      self->resumed_from = resumed;
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_RESUMED_FROM]);
    }
  set_progress (self, 1);
  record_program_installed (self);
}

static void
push_package (PpInstallFlow *self)
{
  const PpProgramManifest *m = pp_program_package_get_manifest (self->package);

  if (g_strcmp0 (pp_program_manifest_get_name (m), self->program_name) != 0 ||
      g_strcmp0 (pp_program_manifest_get_version (m), self->program_version) != 0 ||
      (self->model != NULL && !pp_program_manifest_has_model (m, self->model)))
    {
      fail_with (self, PP_FLOW_ERROR_PROGRAM,
                 _("The package is %s %s, not %s %s for model %s: give the package of the ordered program"),
                 pp_program_manifest_get_name (m), pp_program_manifest_get_version (m),
                 self->program_name, self->program_version, self->model != NULL ? self->model : "?");
      return;
    }
  self->push_started = g_get_monotonic_time ();
  set_progress (self, 0);
  pp_terminal_device_push_program_async (self->device, self->package, on_push_progress, self,
                                         self->cancellable, push_done, g_object_ref (self));
}

static void
package_done (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  g_autoptr(PpInstallFlow) self = data;
  GError *error = NULL;
  g_autoptr(GBytes) bytes = pp_registry_get_program_package_finish (PP_REGISTRY (source), result, &error);
  PpProgramPackage *package;

  if (!check (self, error))
    return;
  package = pp_program_package_new_from_bytes (bytes, &error);
  if (package == NULL)
    {
      fail_step (self, error, _("The registry's program package cannot be read"));
      return;
    }
  self->package = package;
  push_package (self);
}

static void
step_program (PpInstallFlow *self)
{
  if (self->order->state == PP_WORK_ORDER_STATE_PROGRAM_INSTALLED)
    {
      go (self, PP_INSTALL_STEP_CLOSE, NULL);
      schedule (self, 0);
      return;
    }
  if (self->program_name == NULL)
    {
      /* resumed: the catalogue names the order's version */
      pp_registry_list_programs_async (self->registry, self->model, self->cancellable, catalogue_done,
                                       g_object_ref (self));
      return;
    }
  if (program_on_terminal (self))
    {
      go (self, PP_INSTALL_STEP_PROGRAM, _("The program is installed on the terminal already"));
      record_program_installed (self);
      return;
    }
  if (self->package != NULL)
    push_package (self);
  else
    pp_registry_get_program_package_async (self->registry, self->program_name, self->program_version,
                                           self->model != NULL ? self->model : self->info->model,
                                           self->cancellable, package_done, g_object_ref (self));
}

/* -- close -- */

static void
close_done (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  g_autoptr(PpInstallFlow) self = data;
  GError *error = NULL;
  PpWorkOrder *order = pp_registry_close_order_finish (PP_REGISTRY (source), result, &error);

  if (!check (self, error))
    {
      g_clear_pointer (&order, pp_work_order_free);
      return;
    }
  set_order (self, order);
  go (self, PP_INSTALL_STEP_DONE,
      self->has_operator ? _("Installed: keyed, sign-on tested, program installed, order closed")
                         : _("Installed: keyed, program installed, order closed (no sign-on test: no operator given)"));
  finish_run (self);
}

/* ---- the loop ---- */

static void
advance (PpInstallFlow *self)
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
    case PP_INSTALL_STEP_SCAN:
      if (self->resume && self->resume_uuid != NULL)
        {
          pp_registry_get_order_async (self->registry, self->resume_uuid, self->cancellable, resume_order_done,
                                       g_object_ref (self));
          return;
        }
      if (self->serial == NULL)
        {
          wait_for (self, PP_INSTALL_NEEDS_SERIAL, _("Scan the serial number on the terminal's label"));
          return;
        }
      go (self, PP_INSTALL_STEP_CHECK, NULL);
      pp_registry_lookup_serial_async (self->registry, self->serial, NULL, self->cancellable, lookup_done,
                                       g_object_ref (self));
      return;

    case PP_INSTALL_STEP_CHECK:
      pp_registry_lookup_serial_async (self->registry, self->serial, NULL, self->cancellable, lookup_done,
                                       g_object_ref (self));
      return;

    case PP_INSTALL_STEP_MERCHANT:
      if (self->merchant_id > 0)
        {
          go (self, PP_INSTALL_STEP_ORDER, NULL);
          schedule (self, 0);
          return;
        }
      if (self->new_merchant == NULL)
        {
          wait_for (self, PP_INSTALL_NEEDS_MERCHANT, _("Choose the merchant, or enter a new one"));
          return;
        }
      {
        const PpMerchantFields fields = {
          g_ptr_array_index (self->new_merchant, 0), g_ptr_array_index (self->new_merchant, 1),
          g_ptr_array_index (self->new_merchant, 2), g_ptr_array_index (self->new_merchant, 3),
          g_ptr_array_index (self->new_merchant, 4), g_ptr_array_index (self->new_merchant, 5),
        };

        key = new_key ();
        pp_registry_create_merchant_async (self->registry, &fields, self->user, key, self->cancellable,
                                           merchant_created, g_object_ref (self));
      }
      return;

    case PP_INSTALL_STEP_ORDER:
      if (self->program_version == NULL)
        {
          wait_for (self, PP_INSTALL_NEEDS_PROGRAM, _("Choose the program to install"));
          return;
        }
      pp_registry_list_programs_async (self->registry, self->model, self->cancellable, catalogue_done,
                                       g_object_ref (self));
      return;

    case PP_INSTALL_STEP_APPROVAL:
      step_approval (self);
      return;

    case PP_INSTALL_STEP_CONNECT:
      if (self->device == NULL)
        {
          wait_for (self, PP_INSTALL_NEEDS_DEVICE, _("Connect the terminal and choose its port"));
          return;
        }
      go (self, PP_INSTALL_STEP_IDENTIFY, NULL);
      pp_terminal_device_identify_async (self->device, self->cancellable, identify_done, g_object_ref (self));
      return;

    case PP_INSTALL_STEP_BIND:
      key = new_key ();
      pp_registry_issue_kdh_credential_async (self->registry, self->order->uuid, self->user, key,
                                              self->cancellable, ct_kdh_done, g_object_ref (self));
      return;

    case PP_INSTALL_STEP_KEY_NONCE:
      pp_terminal_device_get_ct_krd_async (self->device, self->cancellable, ct_krd_done, g_object_ref (self));
      return;

    case PP_INSTALL_STEP_KEY_TOKEN:
      key = new_key ();
      pp_registry_issue_key_token_async (self->registry, self->order->uuid, self->ct_krd, self->rt_krd,
                                         self->user, key, self->cancellable, key_token_done,
                                         g_object_ref (self));
      return;

    case PP_INSTALL_STEP_KEY_LOAD:
      pp_terminal_device_load_key_async (self->device, self->kt_kdh, -1, self->cancellable, load_done,
                                         g_object_ref (self));
      return;

    case PP_INSTALL_STEP_KEY_KCV:
      key = new_key ();
      pp_registry_confirm_kcv_async (self->registry, self->order->uuid, self->kcv, self->user, key,
                                     self->cancellable, kcv_done, g_object_ref (self));
      return;

    case PP_INSTALL_STEP_SIGN_ON_TEST:
      if (!self->has_operator || self->sign_on_done)
        {
          go (self, PP_INSTALL_STEP_PROGRAM, NULL);
          schedule (self, 0);
          return;
        }
      pp_registry_issue_sign_on_keys_async (self->registry, self->order->uuid, self->user, self->cancellable,
                                            sign_on_keys_done, g_object_ref (self));
      return;

    case PP_INSTALL_STEP_PROGRAM:
      step_program (self);
      return;

    case PP_INSTALL_STEP_CLOSE:
      key = new_key ();
      pp_registry_close_order_async (self->registry, self->order->uuid, self->user, key, self->cancellable,
                                     close_done, g_object_ref (self));
      return;

    case PP_INSTALL_STEP_CERTIFY:
    case PP_INSTALL_STEP_IDENTIFY:
    case PP_INSTALL_STEP_DONE:
    case PP_INSTALL_STEP_FAILED:
    default:
      return;
    }
}

static gboolean
on_cancelled_idle (gpointer data)
{
  PpInstallFlow *self = data;
  GError *error = NULL;

  if (running (self) && self->needs != PP_INSTALL_NEEDS_NOTHING &&
      g_cancellable_set_error_if_cancelled (self->cancellable, &error))
    fail (self, error);
  return G_SOURCE_REMOVE;
}

/* A flow waiting for input or for the approval poll has no call in flight
 * that would report the cancel: look on the run's context (the signal may
 * come from another thread). */
static void
on_cancelled (GCancellable *cancellable,
              gpointer      data)
{
  PpInstallFlow *self = data;
  GSource *idle = g_idle_source_new ();

  g_source_set_callback (idle, on_cancelled_idle, g_object_ref (self), g_object_unref);
  g_source_attach (idle, self->context);
  g_source_unref (idle);
}

void
pp_install_flow_run_async (PpInstallFlow       *self,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_return_if_fail (PP_IS_INSTALL_FLOW (self));
  g_return_if_fail (!running (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  self->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (self->task, pp_install_flow_run_async);
  self->cancellable = cancellable != NULL ? g_object_ref (cancellable) : g_cancellable_new ();
  g_clear_pointer (&self->context, g_main_context_unref);
  self->context = g_main_context_ref_thread_default ();
  g_clear_error (&self->error);
  self->started_at = g_get_real_time () / G_USEC_PER_SEC;
  pp_approval_wait_reset (approval_wait (self));
  if (self->step == PP_INSTALL_STEP_FAILED || self->step == PP_INSTALL_STEP_DONE)
    {
      /* run again after a failure: from the registry's state */
      self->resume = TRUE;
      if (self->order != NULL)
        {
          g_free (self->resume_uuid);
          self->resume_uuid = g_strdup (self->order->uuid);
        }
      self->step = PP_INSTALL_STEP_SCAN;
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_STEP]);
    }
  self->cancel_id = g_cancellable_connect (self->cancellable, G_CALLBACK (on_cancelled), self, NULL);
  go (self, self->step, NULL);
  schedule (self, 0);
}

gboolean
pp_install_flow_run_finish (PpInstallFlow  *self,
                            GAsyncResult   *result,
                            GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pp_install_flow_run_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- cancel the order ---- */

static void
cancel_order_done (GObject      *source,
                   GAsyncResult *result,
                   gpointer      data)
{
  g_autoptr(GTask) task = data;
  PpInstallFlow *self = g_task_get_source_object (task);
  GError *error = NULL;
  PpWorkOrder *order = pp_registry_cancel_order_finish (PP_REGISTRY (source), result, &error);

  if (order == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  set_order (self, order);
  g_task_return_boolean (task, TRUE);
}

void
pp_install_flow_cancel_order_async (PpInstallFlow       *self,
                                    const char          *reason,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *key = NULL;

  g_return_if_fail (PP_IS_INSTALL_FLOW (self));
  g_return_if_fail (!running (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pp_install_flow_cancel_order_async);
  if (self->order == NULL)
    {
      g_task_return_new_error (task, PP_FLOW_ERROR, PP_FLOW_ERROR_STATE, _("There is no order to cancel"));
      return;
    }
  key = new_key ();
  pp_registry_cancel_order_async (self->registry, self->order->uuid, reason, self->user, key, cancellable,
                                  cancel_order_done, g_steal_pointer (&task));
}

gboolean
pp_install_flow_cancel_order_finish (PpInstallFlow  *self,
                                     GAsyncResult   *result,
                                     GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
