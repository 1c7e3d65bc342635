/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-approval-wait.c: the approval wait of the install and recycle flows
 * (pp-approval-wait.h).  The flows own the step machine and their
 * properties; this holds what the wait needs between steps: the reviewer
 * signed in here and their decision, the backoff, the last refusal.
 */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>

#include "pp-approval-wait.h"

struct _PpApprovalWait
{
  PpRegistry *registry;
  char *user;
  char *otp;
  PpRegistry *reviewer_registry;
  char *reviewer;
  gboolean reviewer_approve;
  char *reviewer_reason;
  gboolean decision_waiting;
  GError *refusal;
  guint poll_ms;
};

PpApprovalWait *
pp_approval_wait_new (PpRegistry *registry,
                      const char *user)
{
  PpApprovalWait *wait;

  g_return_val_if_fail (PP_IS_REGISTRY (registry), NULL);

  wait = g_new0 (PpApprovalWait, 1);
  wait->registry = g_object_ref (registry);
  wait->user = g_strdup (user);
  return wait;
}

static void
clear_otp (PpApprovalWait *wait)
{
  if (wait->otp != NULL)
    OPENSSL_cleanse (wait->otp, strlen (wait->otp));
  g_clear_pointer (&wait->otp, g_free);
}

void
pp_approval_wait_free (PpApprovalWait *wait)
{
  if (wait == NULL)
    return;
  clear_otp (wait);
  g_clear_object (&wait->registry);
  g_clear_object (&wait->reviewer_registry);
  g_free (wait->user);
  g_free (wait->reviewer);
  g_free (wait->reviewer_reason);
  g_clear_error (&wait->refusal);
  g_free (wait);
}

void
pp_approval_wait_set_otp (PpApprovalWait *wait,
                          const char     *otp)
{
  g_return_if_fail (wait != NULL);
  clear_otp (wait);
  wait->otp = g_strdup (otp);
}

void
pp_approval_wait_set_reviewer (PpApprovalWait *wait,
                               PpRegistry     *registry,
                               const char     *reviewer,
                               gboolean        approve,
                               const char     *reason)
{
  g_return_if_fail (wait != NULL);
  g_return_if_fail (PP_IS_REGISTRY (registry));
  g_return_if_fail (reviewer != NULL);

  g_set_object (&wait->reviewer_registry, registry);
  g_free (wait->reviewer);
  wait->reviewer = g_strdup (reviewer);
  wait->reviewer_approve = approve;
  g_free (wait->reviewer_reason);
  wait->reviewer_reason = g_strdup (reason);
  wait->decision_waiting = TRUE;
  g_clear_error (&wait->refusal);
}

gboolean
pp_approval_wait_has_decision (PpApprovalWait *wait)
{
  g_return_val_if_fail (wait != NULL, FALSE);
  return wait->decision_waiting;
}

const GError *
pp_approval_wait_get_refusal (PpApprovalWait *wait)
{
  g_return_val_if_fail (wait != NULL, NULL);
  return wait->refusal;
}

void
pp_approval_wait_reset (PpApprovalWait *wait)
{
  g_return_if_fail (wait != NULL);
  wait->poll_ms = 0;
}

guint
pp_approval_wait_next_delay (PpApprovalWait *wait)
{
  g_return_val_if_fail (wait != NULL, 0);
  /* the reviewer here has decided: send it now, not after a poll's delay */
  if (wait->decision_waiting)
    return 0;
  wait->poll_ms = wait->poll_ms == 0 ? 200 : MIN (wait->poll_ms * 2, 2000);
  return wait->poll_ms;
}

/* ---- one step ---- */

typedef struct {
  char *approval_uuid;
  gboolean refused;
} StepData;

static void
step_data_free (StepData *d)
{
  g_free (d->approval_uuid);
  g_free (d);
}

static void
got_approval (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;
  PpRegistryApproval *a;

  if (g_task_get_source_tag (G_TASK (result)) == pp_registry_request_approval_async)
    a = pp_registry_request_approval_finish (PP_REGISTRY (source), result, &error);
  else
    a = pp_registry_get_approval_finish (PP_REGISTRY (source), result, &error);
  if (a == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, a, (GDestroyNotify) pp_registry_approval_free);
}

/* A refusal the reviewer (or another one) can answer: not the end of the wait. */
static gboolean
is_refusal (const GError *error)
{
  return error->domain == PP_REGISTRY_ERROR &&
         (error->code == PP_REGISTRY_ERROR_PERMISSION || error->code == PP_REGISTRY_ERROR_CONFLICT ||
          error->code == PP_REGISTRY_ERROR_INVALID);
}

static void
decided (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  g_autoptr(GTask) task = data;
  PpApprovalWait *wait = g_object_get_data (G_OBJECT (task), "pp-approval-wait");
  GError *error = NULL;
  PpRegistryApproval *a = pp_registry_decide_approval_finish (PP_REGISTRY (source), result, &error);
  StepData *d = g_task_get_task_data (task);

  if (a != NULL)
    {
      g_task_return_pointer (task, a, (GDestroyNotify) pp_registry_approval_free);
      return;
    }
  if (!is_refusal (error))
    {
      g_task_return_error (task, error);
      return;
    }
  /* refused: keep it for the view, and look at the request again */
  g_clear_error (&wait->refusal);
  wait->refusal = error;
  d->refused = TRUE;
  pp_registry_get_approval_async (wait->registry, d->approval_uuid, g_task_get_cancellable (task), got_approval,
                                  g_object_ref (task));
}

void
pp_approval_wait_step_async (PpApprovalWait      *wait,
                             const char          *order_uuid,
                             const char          *serial,
                             const char          *approval_uuid,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *key = g_uuid_string_random ();
  StepData *d;

  g_return_if_fail (wait != NULL);
  g_return_if_fail (order_uuid != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, pp_approval_wait_step_async);
  d = g_new0 (StepData, 1);
  d->approval_uuid = g_strdup (approval_uuid);
  g_task_set_task_data (task, d, (GDestroyNotify) step_data_free);
  g_object_set_data (G_OBJECT (task), "pp-approval-wait", wait);

  if (approval_uuid == NULL)
    {
      pp_registry_request_approval_async (wait->registry, order_uuid, serial, wait->otp, wait->user, key,
                                          cancellable, got_approval, g_steal_pointer (&task));
      return;
    }
  if (wait->decision_waiting)
    {
      wait->decision_waiting = FALSE;
      pp_registry_decide_approval_async (wait->reviewer_registry, approval_uuid, wait->reviewer_approve,
                                         wait->reviewer_reason, wait->reviewer, key, cancellable, decided,
                                         g_steal_pointer (&task));
      return;
    }
  pp_registry_get_approval_async (wait->registry, approval_uuid, cancellable, got_approval,
                                  g_steal_pointer (&task));
}

PpRegistryApproval *
pp_approval_wait_step_finish (PpApprovalWait  *wait,
                              GAsyncResult    *result,
                              gboolean        *refused,
                              GError         **error)
{
  StepData *d;

  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pp_approval_wait_step_async, NULL);
  d = g_task_get_task_data (G_TASK (result));
  if (refused != NULL)
    *refused = d->refused;
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- the latest approval of an order ---- */

static void
listed (GObject      *source,
        GAsyncResult *result,
        gpointer      data)
{
  g_autoptr(GTask) task = data;
  const char *order_uuid = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr(GPtrArray) approvals = pp_registry_list_approvals_finish (PP_REGISTRY (source), result, &error);
  guint latest = G_MAXUINT;

  if (approvals == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  for (guint i = 0; i < approvals->len; i++)
    {
      PpRegistryApproval *a = g_ptr_array_index (approvals, i);

      if (g_ascii_strcasecmp (a->order_uuid, order_uuid) == 0 &&
          (latest == G_MAXUINT ||
           a->requested_at >= ((PpRegistryApproval *) g_ptr_array_index (approvals, latest))->requested_at))
        latest = i;
    }
  if (latest == G_MAXUINT)
    g_task_return_pointer (task, NULL, NULL);
  else
    g_task_return_pointer (task, g_ptr_array_steal_index (approvals, latest),
                           (GDestroyNotify) pp_registry_approval_free);
}

void
pp_approval_wait_latest_async (PpApprovalWait      *wait,
                               const char          *order_uuid,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (wait != NULL);
  g_return_if_fail (order_uuid != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, pp_approval_wait_latest_async);
  g_task_set_task_data (task, g_strdup (order_uuid), g_free);
  pp_registry_list_approvals_async (wait->registry, FALSE, cancellable, listed, task);
}

PpRegistryApproval *
pp_approval_wait_latest_finish (PpApprovalWait  *wait,
                                GAsyncResult    *result,
                                GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pp_approval_wait_latest_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
