/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-registry-local.c: PpRegistry on the store, behind one owner thread.
 *
 * The thread owns the PpStore (a sqlite3 handle belongs to one thread) and
 * runs the jobs of a queue one after another. A job holds its GTask, which
 * holds the registry, the cancellable and a copy of every argument, so
 * nothing the caller passed needs to outlive the _async call. The owner
 * thread's state (queue, key host) is its own refcounted Owner, shared
 * with the GObject: the registry can be finalized on the owner thread (by
 * the last job's task) without waiting for itself.
 *
 * Mutating verbs go through pp_store_run_request: the verb and the record
 * of its idempotency key with the digest of its arguments and its result
 * (the JSON the caller gets back) commit together. The key-host verbs run
 * outside the store's transaction (the key host uses its own connection),
 * so there the key is looked up first and recorded once the key host
 * answered; all of it on the one owner thread, so no second call with the
 * same key can run in between.
 */
#include "config.h"

#include <inttypes.h>
#include <errno.h>
#include <string.h>

#include <glib/gi18n-lib.h>
#include <openssl/crypto.h>

#include "pp-program-package.h"
#include "pp-registry-local.h"

/* ---- the owner thread ---- */

typedef struct _Job Job;
typedef void (*JobFunc) (PpStore *store, PpKeyHost *key_host, GTask *task, gpointer data);

struct _Job
{
  GTask *task;   /* NULL: the thread ends */
  JobFunc func;
};

typedef struct {
  GAsyncQueue *queue;   /* Job */
  char *path;
  GMutex lock;          /* key_host, and the open handshake */
  GCond opened_cond;
  PpKeyHost *key_host;
  gboolean opened;
  GError *open_error;
  /* The key store the owner thread opens (NULL: none), its secret until
   * then, and the key store itself, used on the owner thread only. */
  char *key_store_location;
  PpSecureBuffer *key_store_secret;
  PpKeyStore *key_store;
} Owner;

static void
owner_clear (Owner *owner)
{
  g_async_queue_unref (owner->queue);
  g_free (owner->path);
  if (owner->key_host != NULL)
    pp_key_host_unref (owner->key_host);
  g_clear_error (&owner->open_error);
  g_free (owner->key_store_location);
  g_clear_pointer (&owner->key_store_secret, pp_secure_buffer_free);
  g_clear_object (&owner->key_store);
  g_mutex_clear (&owner->lock);
  g_cond_clear (&owner->opened_cond);
}

static void
owner_unref (Owner *owner)
{
  g_atomic_rc_box_release_full (owner, (GDestroyNotify) owner_clear);
}

static void
job_free (Job *job)
{
  g_clear_object (&job->task);
  g_free (job);
}

/* On the owner thread: the key store at the owner's location and, when the
 * store has a key host configured, the key host over both (a key store
 * handle, like a PKCS#11 session, belongs to the thread that opened it). */
static gboolean
open_key_host (Owner    *owner,
               PpStore  *store,
               GError  **error)
{
  g_autoptr(PpSecureBuffer) secret = g_steal_pointer (&owner->key_store_secret);
  g_autoptr(PpKeyHostConfig) config = NULL;
  g_autoptr(GError) local = NULL;
  PpKeyHost *key_host;

  owner->key_store = pp_key_store_new_for_location (owner->key_store_location,
                                                    secret != NULL ? (const char *) pp_secure_buffer_peek (secret)
                                                                   : NULL,
                                                    &local);
  if (owner->key_store == NULL)
    {
      g_set_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_NO_KEY_HOST,
                   _("cannot open the registry's key store: %s"), local->message);
      return FALSE;
    }
  config = pp_store_get_key_host_config (store, &local);
  if (config == NULL)
    {
      /* Not configured yet: the key-host verbs say so; one-time codes work. */
      if (g_error_matches (local, PP_STORE_ERROR, PP_STORE_ERROR_NOT_FOUND))
        return TRUE;
      pp_registry_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  key_host = pp_key_host_new (store, owner->key_store, &local);
  if (key_host == NULL)
    {
      pp_registry_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  g_mutex_lock (&owner->lock);
  owner->key_host = key_host;
  g_mutex_unlock (&owner->lock);
  return TRUE;
}

static gpointer
owner_thread (gpointer data)
{
  Owner *owner = data;
  g_autoptr(PpStore) store = NULL;
  g_autoptr(GError) error = NULL;

  store = pp_store_open (owner->path, &error);
  if (store != NULL && owner->key_store_location != NULL && !open_key_host (owner, store, &error))
    g_clear_object (&store);
  g_clear_pointer (&owner->key_store_secret, pp_secure_buffer_free);
  g_mutex_lock (&owner->lock);
  owner->opened = TRUE;
  if (store == NULL)
    owner->open_error = g_steal_pointer (&error);
  g_cond_broadcast (&owner->opened_cond);
  g_mutex_unlock (&owner->lock);

  for (;;)
    {
      Job *job = g_async_queue_pop (owner->queue);
      PpKeyHost *key_host = NULL;

      if (job->task == NULL)
        {
          job_free (job);
          break;
        }
      /* Cancelled while queued: nothing was done. Once started, the job
       * reports what it did even if cancelled meanwhile. */
      if (!g_task_return_error_if_cancelled (job->task))
        {
          g_task_set_check_cancellable (job->task, FALSE);
          if (store == NULL)
            g_task_return_new_error (job->task, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_UNAVAILABLE,
                                     _("the registry store is not open"));
          else
            {
              g_mutex_lock (&owner->lock);
              if (owner->key_host != NULL)
                key_host = pp_key_host_ref (owner->key_host);
              g_mutex_unlock (&owner->lock);
              job->func (store, key_host, job->task, g_task_get_task_data (job->task));
              if (key_host != NULL)
                pp_key_host_unref (key_host);
            }
        }
      /* May drop the last reference to the registry (see the file's head). */
      job_free (job);
    }

  /* The key host and key store it made belong to this thread and its store. */
  g_mutex_lock (&owner->lock);
  if (owner->key_host != NULL)
    g_clear_pointer (&owner->key_host, pp_key_host_unref);
  g_mutex_unlock (&owner->lock);
  g_clear_object (&owner->key_store);
  g_clear_object (&store);
  owner_unref (owner);
  return NULL;
}

/* ---- the object ---- */

struct _PpRegistryLocal
{
  GObject parent_instance;

  Owner *owner;
  GThread *thread;
};

static void pp_registry_local_iface_init (PpRegistryInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PpRegistryLocal, pp_registry_local, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PP_TYPE_REGISTRY, pp_registry_local_iface_init))

static void
pp_registry_local_finalize (GObject *object)
{
  PpRegistryLocal *self = PP_REGISTRY_LOCAL (object);

  if (self->thread != NULL)
    {
      g_async_queue_push (self->owner->queue, g_new0 (Job, 1));
      /* Finalized by the owner thread's last job: it ends by itself. */
      if (g_thread_self () == self->thread)
        g_thread_unref (self->thread);
      else
        g_thread_join (self->thread);
    }
  g_clear_pointer (&self->owner, owner_unref);

  G_OBJECT_CLASS (pp_registry_local_parent_class)->finalize (object);
}

static void
pp_registry_local_class_init (PpRegistryLocalClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pp_registry_local_finalize;
}

static void
pp_registry_local_init (PpRegistryLocal *self)
{
}

PpRegistryLocal *
pp_registry_local_new (const char  *path,
                       GError     **error)
{
  return pp_registry_local_new_with_key_store (path, NULL, NULL, error);
}

PpRegistryLocal *
pp_registry_local_new_with_key_store (const char  *path,
                                      const char  *key_store_location,
                                      const char  *secret,
                                      GError     **error)
{
  g_autoptr(PpRegistryLocal) self = NULL;
  g_autoptr(GError) local = NULL;
  Owner *owner;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (PP_TYPE_REGISTRY_LOCAL, NULL);
  owner = self->owner = g_atomic_rc_box_new0 (Owner);
  owner->queue = g_async_queue_new_full ((GDestroyNotify) job_free);
  owner->path = g_strdup (path);
  if (key_store_location != NULL && *key_store_location != '\0')
    {
      owner->key_store_location = g_strdup (key_store_location);
      if (secret != NULL)
        owner->key_store_secret = pp_secure_buffer_new_from ((const guint8 *) secret, strlen (secret) + 1);
    }
  g_mutex_init (&owner->lock);
  g_cond_init (&owner->opened_cond);

  self->thread = g_thread_try_new ("pp-registry", owner_thread, g_atomic_rc_box_acquire (owner), &local);
  if (self->thread == NULL)
    {
      owner_unref (owner);
      g_set_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_UNAVAILABLE,
                   _("cannot start the registry's store thread: %s"), local->message);
      return NULL;
    }

  g_mutex_lock (&owner->lock);
  while (!owner->opened)
    g_cond_wait (&owner->opened_cond, &owner->lock);
  local = owner->open_error != NULL ? g_error_copy (owner->open_error) : NULL;
  g_mutex_unlock (&owner->lock);
  if (local != NULL)
    {
      pp_registry_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  return g_steal_pointer (&self);
}

static void
new_thread (GTask        *task,
            gpointer      source,
            gpointer      data,
            GCancellable *cancellable)
{
  GError *error = NULL;
  PpRegistryLocal *self = pp_registry_local_new (data, &error);

  if (self == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, self, g_object_unref);
}

void
pp_registry_local_new_async (const char          *path,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (path != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, pp_registry_local_new_async);
  g_task_set_task_data (task, g_strdup (path), g_free);
  g_task_run_in_thread (task, new_thread);
}

PpRegistryLocal *
pp_registry_local_new_finish (GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pp_registry_local_new_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

const char *
pp_registry_local_get_path (PpRegistryLocal *self)
{
  g_return_val_if_fail (PP_IS_REGISTRY_LOCAL (self), NULL);
  return self->owner->path;
}

void
pp_registry_local_set_key_host (PpRegistryLocal *self,
                                PpKeyHost       *key_host)
{
  PpKeyHost *old;

  g_return_if_fail (PP_IS_REGISTRY_LOCAL (self));

  g_mutex_lock (&self->owner->lock);
  old = self->owner->key_host;
  self->owner->key_host = key_host != NULL ? pp_key_host_ref (key_host) : NULL;
  g_mutex_unlock (&self->owner->lock);
  if (old != NULL)
    pp_key_host_unref (old);
}

/* ---- jobs ---- */

/* Everything a verb was called with, copied. */
typedef struct {
  char *serial;
  char *uuid;          /* order or approval */
  char *text;          /* program version, reason, KCV, query, model, scanned serial */
  char *actor;
  char *key;           /* idempotency key */
  gint64 number;       /* merchant id, cursor */
  guint limit;
  gboolean flag;       /* approve, pending only */
  PpTmkType key_type;
  PpTerminalState initial_state;
  PpTerminalIntake *rows;
  guint n_rows;
  GPtrArray *strings;  /* what rows and merchant point into (NULLs kept) */
  PpMerchantFields merchant;
  GBytes *bytes[2];
  PpSecureBuffer *secret;  /* a password or a one-time code: never in the digest */
  PpKeyStore *key_store;   /* borrowed on the owner thread while the job runs */
  PpSecureBuffer *otp;     /* the sign-in's one-time code, beside the password in secret */
} Args;

static void
args_free (Args *a)
{
  g_free (a->serial);
  g_free (a->uuid);
  g_free (a->text);
  g_free (a->actor);
  g_free (a->key);
  g_free (a->rows);
  g_clear_pointer (&a->strings, g_ptr_array_unref);
  g_clear_pointer (&a->bytes[0], g_bytes_unref);
  g_clear_pointer (&a->bytes[1], g_bytes_unref);
  g_clear_pointer (&a->secret, pp_secure_buffer_free);
  g_clear_pointer (&a->otp, pp_secure_buffer_free);
  g_free (a);
}

/* @text as a NUL-terminated secure buffer (NULL stays NULL). */
static PpSecureBuffer *
secret_copy (const char *text)
{
  return text != NULL ? pp_secure_buffer_new_from ((const guint8 *) text, strlen (text) + 1) : NULL;
}

static const char *
secret_text (const Args *a)
{
  return a->secret != NULL ? (const char *) pp_secure_buffer_peek (a->secret) : NULL;
}

/* The key store the owner thread opened, or NULL; on the owner thread only. */
static PpKeyStore *
task_key_store (GTask *task)
{
  return PP_REGISTRY_LOCAL (g_task_get_source_object (task))->owner->key_store;
}

/* A copy of @s owned by @a (NULL stays NULL). */
static const char *
keep (Args       *a,
      const char *s)
{
  char *copy = g_strdup (s);

  g_ptr_array_add (a->strings, copy);
  return copy;
}

static void
queue_job (PpRegistry          *registry,
           gpointer             tag,
           Args                *args,
           JobFunc              func,
           GCancellable        *cancellable,
           GAsyncReadyCallback  callback,
           gpointer             user_data)
{
  PpRegistryLocal *self = PP_REGISTRY_LOCAL (registry);
  Job *job = g_new0 (Job, 1);

  job->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (job->task, tag);
  g_task_set_task_data (job->task, args, (GDestroyNotify) args_free);
  job->func = func;
  if (self->thread == NULL)
    {
      /* Closed: nothing runs the job. */
      g_task_return_new_error (job->task, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_UNAVAILABLE,
                               _("the registry store is closed"));
      job_free (job);
      return;
    }
  g_async_queue_push (self->owner->queue, job);
}

void
pp_registry_local_close (PpRegistryLocal *self)
{
  g_return_if_fail (PP_IS_REGISTRY_LOCAL (self));
  g_return_if_fail (self->thread == NULL || g_thread_self () != self->thread);

  if (self->thread == NULL)
    return;
  g_async_queue_push (self->owner->queue, g_new0 (Job, 1));
  g_thread_join (g_steal_pointer (&self->thread));
}

static void
return_error (GTask  *task,
              GError *error)
{
  GError *mapped = NULL;

  pp_registry_propagate_error (&mapped, error);
  g_task_return_error (task, mapped);
}

/* A job's result: @result (owned, freed with @destroy), or @error when it is NULL. */
static void
return_pointer (GTask          *task,
                gpointer        result,
                GDestroyNotify  destroy,
                GError         *error)
{
  if (result == NULL)
    return_error (task, error);
  else
    g_task_return_pointer (task, result, destroy);
}

/* ---- request digests and results ---- */

/* The digest of a request's arguments: SHA-256 over netstrings, a NULL
 * argument written as "~," so that it differs from "". */
static void
digest_text (GChecksum  *sum,
             const char *value)
{
  char len[32];

  if (value == NULL)
    {
      g_checksum_update (sum, (const guchar *) "~,", 2);
      return;
    }
  g_snprintf (len, sizeof len, "%" G_GSIZE_FORMAT ":", strlen (value));
  g_checksum_update (sum, (const guchar *) len, -1);
  g_checksum_update (sum, (const guchar *) value, -1);
  g_checksum_update (sum, (const guchar *) ",", 1);
}

static void
digest_int (GChecksum *sum,
            gint64     value)
{
  char text[32];

  g_snprintf (text, sizeof text, "%" G_GINT64_FORMAT, value);
  digest_text (sum, text);
}

static void
digest_bytes (GChecksum *sum,
              GBytes    *bytes)
{
  gsize len = 0;
  const guchar *data = bytes != NULL ? g_bytes_get_data (bytes, &len) : NULL;
  g_autofree char *hash = data != NULL ? g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, len) : NULL;

  digest_text (sum, hash);
}

static char *
digest_args (const char *verb,
             const Args *a)
{
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);

  digest_text (sum, "posprov-registry-request-1");
  digest_text (sum, verb);
  digest_text (sum, a->serial);
  digest_text (sum, a->uuid);
  digest_text (sum, a->text);
  digest_text (sum, a->actor);
  digest_int (sum, a->number);
  digest_int (sum, a->flag);
  digest_int (sum, a->key_type);
  digest_int (sum, a->initial_state);
  digest_int (sum, a->n_rows);
  for (guint i = 0; i < a->n_rows; i++)
    {
      digest_text (sum, a->rows[i].serial);
      digest_text (sum, a->rows[i].vendor);
      digest_text (sum, a->rows[i].model);
    }
  digest_text (sum, a->merchant.name);
  digest_text (sum, a->merchant.registration_number);
  digest_text (sum, a->merchant.address);
  digest_text (sum, a->merchant.mcc);
  digest_text (sum, a->merchant.contact_name);
  digest_text (sum, a->merchant.contact_phone);
  digest_bytes (sum, a->bytes[0]);
  digest_bytes (sum, a->bytes[1]);
  return g_strdup (g_checksum_get_string (sum));
}

static char *
json_text (JsonNode *node)
{
  g_autoptr(JsonNode) owned = node;

  return json_to_string (owned, FALSE);
}

static JsonNode *
parse_result (const char  *text,
              GError     **error)
{
  g_autoptr(GError) local = NULL;
  JsonNode *node = json_from_string (text, &local);

  if (node == NULL)
    g_set_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_FAILED,
                 _("the recorded result of a request cannot be read: %s"),
                 local != NULL ? local->message : _("it is empty"));
  return node;
}

/* A request's result, as recorded: { "der": base64 } for a token. */
static char *
bytes_result (GBytes *bytes)
{
  gsize len;
  const guchar *data = g_bytes_get_data (bytes, &len);
  g_autofree char *b64 = g_base64_encode (data, len);
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "der");
  json_builder_add_string_value (b, b64);
  json_builder_end_object (b);
  return json_text (json_builder_get_root (b));
}

static GBytes *
bytes_from_result (const char  *text,
                   GError     **error)
{
  g_autoptr(JsonNode) node = parse_result (text, error);
  const char *b64;
  guchar *data;
  gsize len;

  if (node == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (node) ||
      (b64 = json_object_get_string_member_with_default (json_node_get_object (node), "der", NULL)) == NULL)
    {
      g_set_error_literal (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_FAILED,
                           _("the recorded result of a request is not a token"));
      return NULL;
    }
  data = g_base64_decode (b64, &len);
  return g_bytes_new_take (data, len);
}

/* ---- building what the verbs return ---- */

static PpRegistryApproval *
build_approval (PpStore                  *store,
                const PpApprovalRequest  *request,
                GError                  **error)
{
  g_autoptr(PpRegistryApproval) a = g_new0 (PpRegistryApproval, 1);
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(PpApproval) decision = NULL;
  g_autoptr(PpTerminal) terminal = NULL;
  g_autoptr(PpMerchant) merchant = NULL;
  gint64 merchant_id;

  order = pp_store_get_order (store, request->order_id, error);
  if (order == NULL)
    return NULL;
  if (request->approval_id != 0)
    {
      decision = pp_store_get_approval (store, request->approval_id, error);
      if (decision == NULL)
        return NULL;
    }

  a->uuid = g_strdup (request->uuid);
  a->order_uuid = g_strdup (order->uuid);
  a->requester = g_strdup (request->requester);
  a->requested_at = request->requested_at;
  a->code = g_strdup (request->code);
  switch (request->state)
    {
    case PP_APPROVAL_REQUEST_PENDING:
      a->state = PP_REGISTRY_APPROVAL_PENDING;
      break;
    case PP_APPROVAL_REQUEST_APPROVED:
      a->state = decision != NULL && decision->voided_at != 0 ? PP_REGISTRY_APPROVAL_VOID
                                                               : PP_REGISTRY_APPROVAL_APPROVED;
      break;
    case PP_APPROVAL_REQUEST_REJECTED:
      a->state = PP_REGISTRY_APPROVAL_REJECTED;
      break;
    case PP_APPROVAL_REQUEST_WITHDRAWN:
    case PP_N_APPROVAL_REQUEST_STATES:
    default:
      a->state = PP_REGISTRY_APPROVAL_WITHDRAWN;
      break;
    }

  /* A decision shows what was decided on; a pending request the order as
   * it stands. */
  if (decision != NULL)
    {
      a->serial = g_strdup (decision->serial);
      merchant_id = decision->merchant_id;
      a->mid = g_strdup (decision->mid);
      a->tid = g_strdup (decision->tid);
      a->program_version = g_strdup (decision->program_version);
      a->key_type = g_strdup (decision->key_type);
      a->cert_fingerprint = g_strdup (decision->cert_fingerprint);
      a->approver = g_strdup (decision->approver);
      a->decided_at = decision->decided_at;
      a->reason = g_strdup (decision->reason);
      a->digest = g_strdup (decision->digest);
      a->void_reason = g_strdup (decision->void_reason);
    }
  else
    {
      a->serial = g_strdup (order->serial);
      merchant_id = order->merchant_id;
      a->mid = g_strdup (order->mid);
      a->tid = g_strdup (order->tid);
      a->program_version = g_strdup (order->program_version);
      /* a recycle order releases no key */
      if (order->kind == PP_WORK_ORDER_KIND_INSTALL)
        a->key_type = g_strdup (pp_tmk_type_to_string (order->key_type));
      a->cert_fingerprint = g_strdup (order->cert_fingerprint);
      a->decided_at = request->decided_at;
    }
  a->merchant_id = merchant_id;
  terminal = pp_store_get_terminal (store, a->serial, NULL);
  if (terminal != NULL)
    a->model = g_strdup (pp_terminal_get_model (terminal));
  if (merchant_id > 0 && (merchant = pp_store_get_merchant (store, merchant_id, NULL)) != NULL)
    a->merchant_name = g_strdup (merchant->name);
  return g_steal_pointer (&a);
}

/* ---- idempotent verbs on the store ---- */

/* One store verb inside pp_store_run_request; returns the result text. */
typedef char *(*StoreVerb) (PpStore *store, Args *args, GError **error);

typedef struct {
  StoreVerb verb;
  Args *args;
} VerbCall;

static gboolean
run_verb (PpStore   *store,
          gpointer   data,
          char     **out_result,
          GError   **error)
{
  VerbCall *call = data;

  *out_result = call->verb (store, call->args, error);
  return *out_result != NULL;
}

/* Runs @verb under the call's idempotency key; the result text, first or
 * replayed, or NULL with the error set on @task. */
static char *
run_idempotent (PpStore    *store,
                GTask      *task,
                const char *name,
                StoreVerb   verb)
{
  Args *args = g_task_get_task_data (task);
  VerbCall call = { verb, args };
  g_autofree char *digest = digest_args (name, args);
  g_autoptr(GError) error = NULL;
  char *result = NULL;

  if (!pp_store_run_request (store, args->key, name, digest, run_verb, &call, &result, NULL, &error))
    {
      return_error (task, g_steal_pointer (&error));
      return NULL;
    }
  return result;
}

static void
return_order_result (GTask      *task,
                     const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  PpWorkOrder *order;

  if (text == NULL)
    return;
  node = parse_result (text, &error);
  order = node != NULL ? pp_registry_order_from_json (node, &error) : NULL;
  if (order == NULL)
    return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, order, (GDestroyNotify) pp_work_order_free);
}

static void
return_approval_result (GTask      *task,
                        const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  PpRegistryApproval *approval;

  if (text == NULL)
    return;
  node = parse_result (text, &error);
  approval = node != NULL ? pp_registry_approval_from_json (node, &error) : NULL;
  if (approval == NULL)
    return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, approval, (GDestroyNotify) pp_registry_approval_free);
}

static char *
order_result (PpWorkOrder *order)
{
  g_autoptr(PpWorkOrder) owned = order;

  return owned != NULL ? json_text (pp_registry_order_to_json (owned)) : NULL;
}

/* intake */

static char *
intake_verb (PpStore  *store,
             Args     *a,
             GError  **error)
{
  g_autoptr(JsonBuilder) b = NULL;

  if (!pp_store_add_terminals_in_state (store, a->rows, a->n_rows, a->initial_state, a->actor, error))
    return NULL;
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "added");
  json_builder_add_int_value (b, a->n_rows);
  json_builder_end_object (b);
  return json_text (json_builder_get_root (b));
}

static void
intake_job (PpStore   *store,
            PpKeyHost *key_host,
            GTask     *task,
            gpointer   data)
{
  g_autofree char *text = run_idempotent (store, task, "intake", intake_verb);
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;

  if (text == NULL)
    return;
  node = parse_result (text, &error);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      if (error == NULL)
        g_set_error_literal (&error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_FAILED,
                             _("the recorded result of a request cannot be read"));
      return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_int (task, json_object_get_int_member_with_default (json_node_get_object (node),
                                                                    "added", 0));
}

static void
local_intake (PpRegistry             *registry,
              const PpTerminalIntake *rows,
              guint                   n_rows,
              PpTerminalState         initial_state,
              const char             *actor,
              const char             *idempotency_key,
              GCancellable           *cancellable,
              GAsyncReadyCallback     callback,
              gpointer                user_data)
{
  Args *a = g_new0 (Args, 1);

  a->actor = g_strdup (actor);
  a->key = g_ascii_strdown (idempotency_key, -1);
  a->initial_state = initial_state;
  a->n_rows = n_rows;
  a->rows = g_new0 (PpTerminalIntake, MAX (n_rows, 1));
  a->strings = g_ptr_array_new_full (3 * n_rows, g_free);
  for (guint i = 0; i < n_rows; i++)
    {
      a->rows[i].serial = keep (a, rows[i].serial);
      a->rows[i].vendor = keep (a, rows[i].vendor);
      a->rows[i].model = keep (a, rows[i].model);
    }
  queue_job (registry, pp_registry_intake_async, a, intake_job, cancellable, callback, user_data);
}

/* merchants */

static char *
create_merchant_verb (PpStore  *store,
                      Args     *a,
                      GError  **error)
{
  g_autoptr(PpMerchant) merchant = pp_store_add_merchant (store, &a->merchant, a->actor, error);

  return merchant != NULL ? json_text (pp_registry_merchant_to_json (merchant)) : NULL;
}

static void
create_merchant_job (PpStore   *store,
                     PpKeyHost *key_host,
                     GTask     *task,
                     gpointer   data)
{
  g_autofree char *text = run_idempotent (store, task, "create_merchant", create_merchant_verb);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  PpMerchant *merchant;

  if (text == NULL)
    return;
  node = parse_result (text, &error);
  merchant = node != NULL ? pp_registry_merchant_from_json (node, &error) : NULL;
  if (merchant == NULL)
    return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, merchant, (GDestroyNotify) pp_merchant_free);
}

static void
local_create_merchant (PpRegistry             *registry,
                       const PpMerchantFields *fields,
                       const char             *actor,
                       const char             *idempotency_key,
                       GCancellable           *cancellable,
                       GAsyncReadyCallback     callback,
                       gpointer                user_data)
{
  Args *a = g_new0 (Args, 1);

  a->actor = g_strdup (actor);
  a->key = g_ascii_strdown (idempotency_key, -1);
  a->strings = g_ptr_array_new_full (6, g_free);
  a->merchant.name = keep (a, fields->name);
  a->merchant.registration_number = keep (a, fields->registration_number);
  a->merchant.address = keep (a, fields->address);
  a->merchant.mcc = keep (a, fields->mcc);
  a->merchant.contact_name = keep (a, fields->contact_name);
  a->merchant.contact_phone = keep (a, fields->contact_phone);
  queue_job (registry, pp_registry_create_merchant_async, a, create_merchant_job, cancellable,
             callback, user_data);
}

static void
search_merchants_job (PpStore   *store,
                      PpKeyHost *key_host,
                      GTask     *task,
                      gpointer   data)
{
  Args *a = data;
  GError *error = NULL;
  GPtrArray *found = pp_store_search_merchants (store, a->text, a->limit, &error);

  return_pointer (task, found, (GDestroyNotify) g_ptr_array_unref, error);
}

static void
local_search_merchants (PpRegistry          *registry,
                        const char          *query,
                        guint                limit,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  Args *a = g_new0 (Args, 1);

  a->text = g_strdup (query);
  a->limit = limit;
  queue_job (registry, pp_registry_search_merchants_async, a, search_merchants_job, cancellable,
             callback, user_data);
}

/* lookup */

/* The open install order holding @serial (pending install or further), or NULL. */
static PpWorkOrder *
holding_order (PpStore     *store,
               const char  *serial,
               GError     **error)
{
  g_autoptr(GPtrArray) orders = pp_store_list_orders (store, serial, error);

  if (orders == NULL)
    return NULL;
  for (guint i = orders->len; i > 0; i--)
    {
      PpWorkOrder *o = g_ptr_array_index (orders, i - 1);

      if (o->kind == PP_WORK_ORDER_KIND_INSTALL &&
          (o->state == PP_WORK_ORDER_STATE_OPEN || o->state == PP_WORK_ORDER_STATE_APPROVED ||
           o->state == PP_WORK_ORDER_STATE_KEYED || o->state == PP_WORK_ORDER_STATE_PROGRAM_INSTALLED))
        return g_ptr_array_steal_index (orders, i - 1);
    }
  return NULL;
}

static void
lookup_serial_job (PpStore   *store,
                   PpKeyHost *key_host,
                   GTask     *task,
                   gpointer   data)
{
  Args *a = data;
  g_autoptr(PpRegistrySerialCheck) check = g_new0 (PpRegistrySerialCheck, 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  PpTerminalState state;

  check->serial = g_ascii_strup (g_strstrip (a->serial), -1);
  check->terminal = pp_store_get_terminal (store, check->serial, &error);
  if (check->terminal == NULL)
    {
      if (!g_error_matches (error, PP_STORE_ERROR, PP_STORE_ERROR_NOT_FOUND))
        {
          return_error (task, g_steal_pointer (&error));
          return;
        }
      check->status = PP_REGISTRY_SERIAL_UNKNOWN;
      check->message = g_strdup_printf (_("no terminal with serial %s is in the register; check "
                                          "the serial, or take the terminal in first"), check->serial);
      g_task_return_pointer (task, g_steal_pointer (&check), (GDestroyNotify) pp_registry_serial_check_free);
      return;
    }

  state = pp_terminal_get_state (check->terminal);
  if (state == PP_TERMINAL_STATE_PENDING_INSTALL || state == PP_TERMINAL_STATE_KEYED)
    {
      order = holding_order (store, check->serial, &error);
      if (order == NULL && error != NULL)
        {
          return_error (task, g_steal_pointer (&error));
          return;
        }
      check->order_uuid = order != NULL ? g_strdup (order->uuid) : NULL;
    }

  if (state == PP_TERMINAL_STATE_IN_STOCK && a->uuid == NULL)
    check->status = PP_REGISTRY_SERIAL_INSTALLABLE;
  else if (state == PP_TERMINAL_STATE_IN_STOCK)
    {
      check->status = PP_REGISTRY_SERIAL_NOT_IN_STOCK;
      check->message = g_strdup_printf (_("terminal %s is in stock and not reserved for install "
                                          "work order %s; open an order for it first"),
                                        check->serial, a->uuid);
    }
  else if (state == PP_TERMINAL_STATE_QUARANTINED)
    {
      check->status = PP_REGISTRY_SERIAL_QUARANTINED;
      check->message = g_strdup_printf (_("terminal %s is quarantined: it must be inspected and "
                                          "returned to stock before it can be installed"), check->serial);
    }
  else if (check->order_uuid != NULL && a->uuid != NULL && g_ascii_strcasecmp (check->order_uuid, a->uuid) == 0)
    check->status = PP_REGISTRY_SERIAL_INSTALLABLE;
  else if (check->order_uuid != NULL)
    {
      check->status = PP_REGISTRY_SERIAL_RESERVED;
      check->message = g_strdup_printf (_("terminal %s is reserved by install work order %s; "
                                          "take another terminal or cancel that order"),
                                        check->serial, check->order_uuid);
    }
  else
    {
      check->status = PP_REGISTRY_SERIAL_NOT_IN_STOCK;
      /* Translators: "terminal PAX123 is Installed; only a terminal in stock can be installed" */
      check->message = g_strdup_printf (_("terminal %s is %s; only a terminal in stock can be installed"),
                                        check->serial, pp_terminal_state_get_label (state));
    }
  g_task_return_pointer (task, g_steal_pointer (&check), (GDestroyNotify) pp_registry_serial_check_free);
}

static void
local_lookup_serial (PpRegistry          *registry,
                     const char          *serial,
                     const char          *order_uuid,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  Args *a = g_new0 (Args, 1);

  a->serial = g_strdup (serial);
  a->uuid = order_uuid != NULL ? g_ascii_strdown (order_uuid, -1) : NULL;
  queue_job (registry, pp_registry_lookup_serial_async, a, lookup_serial_job, cancellable, callback,
             user_data);
}

/* orders */

static char *
create_install_order_verb (PpStore  *store,
                           Args     *a,
                           GError  **error)
{
  return order_result (pp_store_create_install_order (store, a->serial, a->number, a->text, a->key_type,
                                                      a->actor, error));
}

static void
create_install_order_job (PpStore   *store,
                          PpKeyHost *key_host,
                          GTask     *task,
                          gpointer   data)
{
  g_autofree char *text = run_idempotent (store, task, "create_install_order", create_install_order_verb);

  return_order_result (task, text);
}

static void
local_create_install_order (PpRegistry          *registry,
                            const char          *serial,
                            gint64               merchant_id,
                            const char          *program_version,
                            PpTmkType            key_type,
                            const char          *requester,
                            const char          *idempotency_key,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  Args *a = g_new0 (Args, 1);

  a->serial = g_strdup (serial);
  a->number = merchant_id;
  a->text = g_strdup (program_version);
  a->key_type = key_type;
  a->actor = g_strdup (requester);
  a->key = g_ascii_strdown (idempotency_key, -1);
  queue_job (registry, pp_registry_create_install_order_async, a, create_install_order_job, cancellable,
             callback, user_data);
}

static void
get_order_job (PpStore   *store,
               PpKeyHost *key_host,
               GTask     *task,
               gpointer   data)
{
  Args *a = data;
  GError *error = NULL;
  PpWorkOrder *order = pp_store_get_order_by_uuid (store, a->uuid, &error);

  return_pointer (task, order, (GDestroyNotify) pp_work_order_free, error);
}

static void
local_get_order (PpRegistry          *registry,
                 const char          *order_uuid,
                 GCancellable        *cancellable,
                 GAsyncReadyCallback  callback,
                 gpointer             user_data)
{
  Args *a = g_new0 (Args, 1);

  a->uuid = g_strdup (order_uuid);
  queue_job (registry, pp_registry_get_order_async, a, get_order_job, cancellable, callback, user_data);
}

static void
list_orders_job (PpStore   *store,
                 PpKeyHost *key_host,
                 GTask     *task,
                 gpointer   data)
{
  Args *a = data;
  GError *error = NULL;
  GPtrArray *orders = pp_store_list_orders (store, a->serial, &error);

  return_pointer (task, orders, (GDestroyNotify) g_ptr_array_unref, error);
}

static void
local_list_orders (PpRegistry          *registry,
                   const char          *serial,
                   GCancellable        *cancellable,
                   GAsyncReadyCallback  callback,
                   gpointer             user_data)
{
  Args *a = g_new0 (Args, 1);

  a->serial = g_strdup (serial);
  queue_job (registry, pp_registry_list_orders_async, a, list_orders_job, cancellable, callback, user_data);
}

/* The store's id of the order @uuid, for the verbs that take one. */
static gint64
order_id_of (PpStore     *store,
             const char  *uuid,
             GError     **error)
{
  g_autoptr(PpWorkOrder) order = pp_store_get_order_by_uuid (store, uuid, error);

  return order != NULL ? order->id : 0;
}

static char *
program_installed_verb (PpStore  *store,
                        Args     *a,
                        GError  **error)
{
  gint64 id = order_id_of (store, a->uuid, error);

  if (id == 0 || !pp_store_order_program_installed (store, id, a->actor, error))
    return NULL;
  return order_result (pp_store_get_order (store, id, error));
}

static char *
close_order_verb (PpStore  *store,
                  Args     *a,
                  GError  **error)
{
  gint64 id = order_id_of (store, a->uuid, error);

  if (id == 0 || !pp_store_close_order (store, id, a->actor, error))
    return NULL;
  return order_result (pp_store_get_order (store, id, error));
}

static char *
cancel_order_verb (PpStore  *store,
                   Args     *a,
                   GError  **error)
{
  gint64 id = order_id_of (store, a->uuid, error);

  if (id == 0 || !pp_store_cancel_order (store, id, a->actor, a->text, error))
    return NULL;
  return order_result (pp_store_get_order (store, id, error));
}

static char *
create_recycle_order_verb (PpStore  *store,
                           Args     *a,
                           GError  **error)
{
  return order_result (pp_store_create_recycle_order (store, a->serial, a->actor, a->text, error));
}

static void
program_installed_job (PpStore *store, PpKeyHost *key_host, GTask *task, gpointer data)
{
  g_autofree char *text = run_idempotent (store, task, "program_installed", program_installed_verb);

  return_order_result (task, text);
}

static void
close_order_job (PpStore *store, PpKeyHost *key_host, GTask *task, gpointer data)
{
  g_autofree char *text = run_idempotent (store, task, "close_order", close_order_verb);

  return_order_result (task, text);
}

static void
cancel_order_job (PpStore *store, PpKeyHost *key_host, GTask *task, gpointer data)
{
  g_autofree char *text = run_idempotent (store, task, "cancel_order", cancel_order_verb);

  return_order_result (task, text);
}

static void
create_recycle_order_job (PpStore *store, PpKeyHost *key_host, GTask *task, gpointer data)
{
  g_autofree char *text = run_idempotent (store, task, "create_recycle_order", create_recycle_order_verb);

  return_order_result (task, text);
}

static Args *
order_step_args (const char *order_uuid,
                 const char *text,
                 const char *actor,
                 const char *idempotency_key)
{
  Args *a = g_new0 (Args, 1);

  a->uuid = g_ascii_strdown (order_uuid, -1);
  a->text = g_strdup (text);
  a->actor = g_strdup (actor);
  a->key = g_ascii_strdown (idempotency_key, -1);
  return a;
}

static void
local_program_installed (PpRegistry *registry, const char *order_uuid, const char *actor,
                         const char *idempotency_key, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data)
{
  queue_job (registry, pp_registry_program_installed_async,
             order_step_args (order_uuid, NULL, actor, idempotency_key), program_installed_job,
             cancellable, callback, user_data);
}

static void
local_close_order (PpRegistry *registry, const char *order_uuid, const char *actor,
                   const char *idempotency_key, GCancellable *cancellable,
                   GAsyncReadyCallback callback, gpointer user_data)
{
  queue_job (registry, pp_registry_close_order_async,
             order_step_args (order_uuid, NULL, actor, idempotency_key), close_order_job,
             cancellable, callback, user_data);
}

static void
local_cancel_order (PpRegistry *registry, const char *order_uuid, const char *reason,
                    const char *actor, const char *idempotency_key, GCancellable *cancellable,
                    GAsyncReadyCallback callback, gpointer user_data)
{
  queue_job (registry, pp_registry_cancel_order_async,
             order_step_args (order_uuid, reason, actor, idempotency_key), cancel_order_job,
             cancellable, callback, user_data);
}

static void
local_create_recycle_order (PpRegistry *registry, const char *serial, const char *reason,
                            const char *requester, const char *idempotency_key,
                            GCancellable *cancellable, GAsyncReadyCallback callback,
                            gpointer user_data)
{
  Args *a = g_new0 (Args, 1);

  a->serial = g_strdup (serial);
  a->text = g_strdup (reason);
  a->actor = g_strdup (requester);
  a->key = g_ascii_strdown (idempotency_key, -1);
  queue_job (registry, pp_registry_create_recycle_order_async, a, create_recycle_order_job,
             cancellable, callback, user_data);
}

/* approvals */

static char *
approval_result (PpStore            *store,
                 PpApprovalRequest  *request,
                 GError            **error)
{
  g_autoptr(PpApprovalRequest) owned = request;
  g_autoptr(PpRegistryApproval) approval = NULL;

  if (owned == NULL)
    return NULL;
  approval = build_approval (store, owned, error);
  return approval != NULL ? json_text (pp_registry_approval_to_json (approval)) : NULL;
}

/* The requester's one-time code, once they have one enrolled. Checked
 * before the request is made: a good code's step is spent even if the
 * request then fails, and a wrong one is journalled as user.otp_failed. */
static gboolean
check_requester_otp (PpStore   *store,
                     Args      *a,
                     GError   **error)
{
  gboolean enrolled = FALSE;
  const char *code = secret_text (a);

  if (!pp_store_has_otp (store, a->actor, &enrolled, error))
    return FALSE;
  if (!enrolled)
    return TRUE;
  if (code == NULL || *code == '\0')
    {
      g_set_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION,
                   _("“%s” has a one-time code enrolled: an approval request needs the code "
                     "their authenticator app shows now"), a->actor);
      return FALSE;
    }
  if (a->key_store == NULL)
    {
      g_set_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_NO_KEY_HOST,
                   _("this registry was opened without its key store, so it cannot check the "
                     "one-time code of “%s”; open it with the key store"), a->actor);
      return FALSE;
    }
  return pp_store_verify_otp (store, a->key_store, a->actor, code, g_get_real_time () / G_USEC_PER_SEC,
                              error);
}

static char *
request_approval_verb (PpStore  *store,
                       Args     *a,
                       GError  **error)
{
  gint64 id = order_id_of (store, a->uuid, error);

  if (id == 0 || !check_requester_otp (store, a, error))
    return NULL;
  return approval_result (store, pp_store_request_approval (store, id, a->actor, a->text, error), error);
}

static char *
decide_approval_verb (PpStore  *store,
                      Args     *a,
                      GError  **error)
{
  if (!pp_store_decide_approval_request (store, a->uuid, a->actor, a->flag, a->text, error))
    return NULL;
  return approval_result (store, pp_store_get_approval_request (store, a->uuid, error), error);
}

static void
request_approval_job (PpStore *store, PpKeyHost *key_host, GTask *task, gpointer data)
{
  g_autofree char *text = NULL;

  ((Args *) data)->key_store = task_key_store (task);
  text = run_idempotent (store, task, "request_approval", request_approval_verb);

  return_approval_result (task, text);
}

static void
decide_approval_job (PpStore *store, PpKeyHost *key_host, GTask *task, gpointer data)
{
  g_autofree char *text = run_idempotent (store, task, "decide_approval", decide_approval_verb);

  return_approval_result (task, text);
}

static void
local_request_approval (PpRegistry *registry, const char *order_uuid, const char *scanned_serial,
                        const char *otp, const char *requester, const char *idempotency_key,
                        GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  Args *a = order_step_args (order_uuid, scanned_serial, requester, idempotency_key);

  a->secret = secret_copy (otp);
  queue_job (registry, pp_registry_request_approval_async, a, request_approval_job, cancellable, callback,
             user_data);
}

static void
local_decide_approval (PpRegistry *registry, const char *approval_uuid, gboolean approve,
                       const char *reason, const char *approver, const char *idempotency_key,
                       GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  Args *a = order_step_args (approval_uuid, reason, approver, idempotency_key);

  a->flag = approve != FALSE;
  queue_job (registry, pp_registry_decide_approval_async, a, decide_approval_job, cancellable, callback,
             user_data);
}

static void
get_approval_job (PpStore   *store,
                  PpKeyHost *key_host,
                  GTask     *task,
                  gpointer   data)
{
  Args *a = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpApprovalRequest) request = pp_store_get_approval_request (store, a->uuid, &error);
  PpRegistryApproval *approval = request != NULL ? build_approval (store, request, &error) : NULL;

  if (approval == NULL)
    return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, approval, (GDestroyNotify) pp_registry_approval_free);
}

static void
local_get_approval (PpRegistry *registry, const char *approval_uuid, GCancellable *cancellable,
                    GAsyncReadyCallback callback, gpointer user_data)
{
  Args *a = g_new0 (Args, 1);

  a->uuid = g_strdup (approval_uuid);
  queue_job (registry, pp_registry_get_approval_async, a, get_approval_job, cancellable, callback,
             user_data);
}

static void
list_approvals_job (PpStore   *store,
                    PpKeyHost *key_host,
                    GTask     *task,
                    gpointer   data)
{
  Args *a = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) requests = NULL;
  g_autoptr(GPtrArray) result = NULL;

  requests = pp_store_list_approval_requests (store, a->flag ? PP_APPROVAL_REQUEST_PENDING : -1, 0, &error);
  if (requests == NULL)
    {
      return_error (task, g_steal_pointer (&error));
      return;
    }
  result = g_ptr_array_new_full (requests->len, (GDestroyNotify) pp_registry_approval_free);
  for (guint i = 0; i < requests->len; i++)
    {
      PpRegistryApproval *approval = build_approval (store, g_ptr_array_index (requests, i), &error);

      if (approval == NULL)
        {
          return_error (task, g_steal_pointer (&error));
          return;
        }
      g_ptr_array_add (result, approval);
    }
  g_task_return_pointer (task, g_steal_pointer (&result), (GDestroyNotify) g_ptr_array_unref);
}

static void
local_list_approvals (PpRegistry *registry, gboolean pending_only, GCancellable *cancellable,
                      GAsyncReadyCallback callback, gpointer user_data)
{
  Args *a = g_new0 (Args, 1);

  a->flag = pending_only != FALSE;
  queue_job (registry, pp_registry_list_approvals_async, a, list_approvals_job, cancellable, callback,
             user_data);
}

/* ---- the key host ---- */

static gboolean
require_key_host (PpKeyHost *key_host,
                  GTask     *task)
{
  if (key_host != NULL)
    return TRUE;
  g_task_return_new_error (task, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_NO_KEY_HOST,
                           _("no key host is configured for this registry, so it cannot issue "
                             "key-loading credentials or keys; the administrator sets one up"));
  return FALSE;
}

static void
get_kdh_job (PpStore   *store,
             PpKeyHost *key_host,
             GTask     *task,
             gpointer   data)
{
  GPtrArray *parts;
  GBytes *crl;

  if (!require_key_host (key_host, task))
    return;
  parts = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_ptr_array_add (parts, pp_key_host_get_certificate (key_host));
  if ((crl = pp_key_host_get_crl (key_host)) != NULL)
    g_ptr_array_add (parts, crl);
  g_task_return_pointer (task, parts, (GDestroyNotify) g_ptr_array_unref);
}

static void
local_get_kdh (PpRegistry *registry, GCancellable *cancellable, GAsyncReadyCallback callback,
               gpointer user_data)
{
  queue_job (registry, pp_registry_get_kdh_async, g_new0 (Args, 1), get_kdh_job, cancellable, callback,
             user_data);
}

/* The key host acts on its own connection: look the key up, call it, then
 * record the result. Returns the result text, or NULL with @task's error
 * set. A key host call that failed records nothing. */
typedef char *(*KeyHostVerb) (PpStore *store, PpKeyHost *key_host, Args *a, gint64 order_id,
                              GError **error);

static char *
run_key_host (PpStore     *store,
              PpKeyHost   *key_host,
              GTask       *task,
              const char  *name,
              KeyHostVerb  verb)
{
  Args *a = g_task_get_task_data (task);
  g_autofree char *digest = digest_args (name, a);
  g_autoptr(GError) error = NULL;
  char *result = NULL;
  gint64 id;

  if (!require_key_host (key_host, task))
    return NULL;
  if (!pp_store_find_request (store, a->key, name, digest, &result, &error))
    goto fail;
  if (result != NULL)
    return result;
  if ((id = order_id_of (store, a->uuid, &error)) == 0 ||
      (result = verb (store, key_host, a, id, &error)) == NULL)
    goto fail;
  if (!pp_store_record_request (store, a->key, name, digest, result, &error))
    {
      g_clear_pointer (&result, g_free);
      goto fail;
    }
  return result;

fail:
  return_error (task, g_steal_pointer (&error));
  return NULL;
}

static char *
ct_kdh_verb (PpStore    *store,
             PpKeyHost  *key_host,
             Args       *a,
             gint64      order_id,
             GError    **error)
{
  g_autoptr(GBytes) ct_kdh = pp_key_host_issue_ct_kdh (key_host, order_id, a->actor, error);

  return ct_kdh != NULL ? bytes_result (ct_kdh) : NULL;
}

static char *
key_token_verb (PpStore    *store,
                PpKeyHost  *key_host,
                Args       *a,
                gint64      order_id,
                GError    **error)
{
  g_autoptr(GBytes) kt_kdh = pp_key_host_issue_key_token (key_host, order_id, a->bytes[0], a->bytes[1],
                                                         a->actor, error);

  return kt_kdh != NULL ? bytes_result (kt_kdh) : NULL;
}

static char *
confirm_kcv_verb (PpStore    *store,
                  PpKeyHost  *key_host,
                  Args       *a,
                  gint64      order_id,
                  GError    **error)
{
  if (!pp_key_host_confirm_kcv (key_host, order_id, a->text, a->actor, error))
    return NULL;
  return order_result (pp_store_get_order (store, order_id, error));
}

static void
return_bytes_result (GTask      *task,
                     const char *text)
{
  g_autoptr(GError) error = NULL;
  GBytes *bytes;

  if (text == NULL)
    return;
  bytes = bytes_from_result (text, &error);
  if (bytes == NULL)
    return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, bytes, (GDestroyNotify) g_bytes_unref);
}

static void
issue_kdh_credential_job (PpStore *store, PpKeyHost *key_host, GTask *task, gpointer data)
{
  g_autofree char *text = run_key_host (store, key_host, task, "issue_kdh_credential", ct_kdh_verb);

  return_bytes_result (task, text);
}

static void
issue_key_token_job (PpStore *store, PpKeyHost *key_host, GTask *task, gpointer data)
{
  g_autofree char *text = run_key_host (store, key_host, task, "issue_key_token", key_token_verb);

  return_bytes_result (task, text);
}

static void
confirm_kcv_job (PpStore *store, PpKeyHost *key_host, GTask *task, gpointer data)
{
  g_autofree char *text = run_key_host (store, key_host, task, "confirm_kcv", confirm_kcv_verb);

  return_order_result (task, text);
}

static void
local_issue_kdh_credential (PpRegistry *registry, const char *order_uuid, const char *actor,
                            const char *idempotency_key, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  queue_job (registry, pp_registry_issue_kdh_credential_async,
             order_step_args (order_uuid, NULL, actor, idempotency_key), issue_kdh_credential_job,
             cancellable, callback, user_data);
}

static void
local_issue_key_token (PpRegistry *registry, const char *order_uuid, GBytes *ct_krd, GBytes *rt_krd,
                       const char *actor, const char *idempotency_key, GCancellable *cancellable,
                       GAsyncReadyCallback callback, gpointer user_data)
{
  Args *a = order_step_args (order_uuid, NULL, actor, idempotency_key);

  a->bytes[0] = g_bytes_ref (ct_krd);
  a->bytes[1] = g_bytes_ref (rt_krd);
  queue_job (registry, pp_registry_issue_key_token_async, a, issue_key_token_job, cancellable, callback,
             user_data);
}

static void
local_confirm_kcv (PpRegistry *registry, const char *order_uuid, const char *kcv, const char *actor,
                   const char *idempotency_key, GCancellable *cancellable,
                   GAsyncReadyCallback callback, gpointer user_data)
{
  queue_job (registry, pp_registry_confirm_kcv_async,
             order_step_args (order_uuid, kcv, actor, idempotency_key), confirm_kcv_job, cancellable,
             callback, user_data);
}

/* ---- catalogue, journal, changes ---- */

static void
list_programs_job (PpStore   *store,
                   PpKeyHost *key_host,
                   GTask     *task,
                   gpointer   data)
{
  Args *a = data;
  GError *error = NULL;
  GPtrArray *programs = pp_store_list_programs (store, a->text, &error);

  return_pointer (task, programs, (GDestroyNotify) g_ptr_array_unref, error);
}

static void
local_list_programs (PpRegistry *registry, const char *model, GCancellable *cancellable,
                     GAsyncReadyCallback callback, gpointer user_data)
{
  Args *a = g_new0 (Args, 1);

  a->text = g_strdup (model);
  queue_job (registry, pp_registry_list_programs_async, a, list_programs_job, cancellable, callback,
             user_data);
}

static void
list_audit_job (PpStore   *store,
                PpKeyHost *key_host,
                GTask     *task,
                gpointer   data)
{
  Args *a = data;
  GError *error = NULL;
  GPtrArray *entries = pp_store_list_audit (store, a->number, a->limit, &error);

  return_pointer (task, entries, (GDestroyNotify) g_ptr_array_unref, error);
}

static void
local_list_audit (PpRegistry *registry, gint64 after_seq, guint limit, GCancellable *cancellable,
                  GAsyncReadyCallback callback, gpointer user_data)
{
  Args *a = g_new0 (Args, 1);

  a->number = after_seq;
  a->limit = limit;
  queue_job (registry, pp_registry_list_audit_async, a, list_audit_job, cancellable, callback, user_data);
}

static void
list_changes_job (PpStore   *store,
                  PpKeyHost *key_host,
                  GTask     *task,
                  gpointer   data)
{
  Args *a = data;
  GError *error = NULL;
  GPtrArray *changes = pp_store_list_changes (store, a->number, a->limit, &error);

  return_pointer (task, changes, (GDestroyNotify) g_ptr_array_unref, error);
}

static void
local_list_changes (PpRegistry *registry, gint64 after_cursor, guint limit, GCancellable *cancellable,
                    GAsyncReadyCallback callback, gpointer user_data)
{
  Args *a = g_new0 (Args, 1);

  a->number = after_cursor;
  a->limit = limit;
  queue_job (registry, pp_registry_list_changes_async, a, list_changes_job, cancellable, callback,
             user_data);
}

/* ---- users, one-time codes, the terminal list, program upload ---- */

static char *
add_user_verb (PpStore  *store,
               Args     *a,
               GError  **error)
{
  g_autoptr(PpUser) user = pp_store_add_user (store, a->serial, NULL, (PpUserRole) a->number, secret_text (a),
                                              a->actor, error);

  return user != NULL ? json_text (pp_registry_user_to_json (user)) : NULL;
}

static void
add_user_job (PpStore *store, PpKeyHost *key_host, GTask *task, gpointer data)
{
  g_autofree char *text = run_idempotent (store, task, "add_user", add_user_verb);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  PpUser *user;

  if (text == NULL)
    return;
  node = parse_result (text, &error);
  user = node != NULL ? pp_registry_user_from_json (node, &error) : NULL;
  if (user == NULL)
    return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, user, (GDestroyNotify) pp_user_free);
}

static void
local_add_user (PpRegistry *registry, const char *username, PpUserRole role, const char *password,
                const char *actor, const char *idempotency_key, GCancellable *cancellable,
                GAsyncReadyCallback callback, gpointer user_data)
{
  Args *a = g_new0 (Args, 1);

  a->serial = g_strdup (username);
  a->number = role;
  a->secret = secret_copy (password);
  a->actor = g_strdup (actor);
  a->key = g_ascii_strdown (idempotency_key, -1);
  queue_job (registry, pp_registry_add_user_async, a, add_user_job, cancellable, callback, user_data);
}

static void
enroll_otp_job (PpStore *store, PpKeyHost *key_host, GTask *task, gpointer data)
{
  Args *a = data;
  PpKeyStore *key_store = task_key_store (task);
  GError *error = NULL;
  PpSecureBuffer *uri;

  if (key_store == NULL)
    {
      g_task_return_new_error (task, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_NO_KEY_HOST,
                               _("this registry was opened without its key store, which seals the "
                                 "one-time code secrets; open it with the key store"));
      return;
    }
  uri = pp_store_enroll_otp (store, key_store, a->serial, a->actor, &error);
  return_pointer (task, uri, (GDestroyNotify) pp_secure_buffer_free, error);
}

static void
local_enroll_otp (PpRegistry *registry, const char *username, const char *actor,
                  GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  Args *a = g_new0 (Args, 1);

  a->serial = g_strdup (username);
  a->actor = g_strdup (actor);
  queue_job (registry, pp_registry_enroll_otp_async, a, enroll_otp_job, cancellable, callback, user_data);
}

static void
list_terminals_job (PpStore   *store,
                    PpKeyHost *key_host,
                    GTask     *task,
                    gpointer   data)
{
  Args *a = data;
  GError *error = NULL;
  GPtrArray *terminals = pp_store_list_terminals_after (store, a->initial_state, a->serial, a->limit,
                                                        &error);

  return_pointer (task, terminals, (GDestroyNotify) g_ptr_array_unref, error);
}

static void
local_list_terminals (PpRegistry *registry, PpTerminalState state, const char *after_serial,
                      guint limit, GCancellable *cancellable, GAsyncReadyCallback callback,
                      gpointer user_data)
{
  Args *a = g_new0 (Args, 1);

  a->initial_state = state;
  a->serial = g_strdup (after_serial);
  a->limit = limit;
  queue_job (registry, pp_registry_list_terminals_async, a, list_terminals_job, cancellable, callback,
             user_data);
}

/* The station's inventory (issue 8, helper station8): the count and the
 * page one after the other on the owner thread, so no write of this
 * registry comes between them. */
static void
search_terminals_job (PpStore   *store,
                      PpKeyHost *key_host,
                      GTask     *task,
                      gpointer   data)
{
  Args *a = data;
  GError *error = NULL;
  GPtrArray *terminals = NULL;
  guint total;

  total = pp_store_count_terminals (store, a->text, a->initial_state, &error);
  if (error == NULL)
    terminals = pp_store_list_terminals (store, a->text, a->initial_state, (guint) a->number,
                                         a->limit, &error);
  if (terminals == NULL)
    return_error (task, error);
  else
    g_task_return_pointer (task, pp_registry_terminal_page_new (terminals, total),
                           (GDestroyNotify) pp_registry_terminal_page_free);
}

static void
local_search_terminals (PpRegistry *registry, const char *serial_search, PpTerminalState state,
                        guint offset, guint limit, GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data)
{
  Args *a = g_new0 (Args, 1);

  a->text = g_strdup (serial_search);
  a->initial_state = state;
  a->number = offset;
  a->limit = limit;
  queue_job (registry, pp_registry_search_terminals_async, a, search_terminals_job, cancellable,
             callback, user_data);
}

/* The catalogue's packages are kept beside the store, one file per payload
 * SHA-256: PATH.programs/SHA256.ppkg (docs/registry.md). */
static char *
package_path (PpStore    *store,
              const char *sha256)
{
  g_autofree char *dir = g_strconcat (pp_store_get_path (store), ".programs", NULL);
  g_autofree char *name = g_strconcat (sha256, ".ppkg", NULL);

  return g_build_filename (dir, name, NULL);
}

static gboolean
keep_package (PpStore     *store,
              const char  *sha256,
              GBytes      *package,
              GError     **error)
{
  g_autofree char *path = package_path (store, sha256);
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr(GError) local = NULL;
  gsize len = 0;
  const char *data = g_bytes_get_data (package, &len);

  if (g_mkdir_with_parents (dir, 0700) != 0 ||
      !g_file_set_contents_full (path, data, (gssize) len, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &local))
    {
      g_set_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_FAILED,
                   _("the program package cannot be kept in %s: %s"), dir,
                   local != NULL ? local->message : g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

static char *
upload_program_verb (PpStore  *store,
                  Args     *a,
                  GError  **error)
{
  g_autoptr(GError) local = NULL;
  g_autoptr(PpProgramPackage) package = pp_program_package_new_from_bytes (a->bytes[0], &local);
  g_autoptr(GPtrArray) known = NULL;
  g_autoptr(JsonBuilder) b = NULL;
  g_autoptr(GString) sha256 = NULL;
  const PpProgramManifest *m;
  const guint8 *sum;
  const char * const *models;

  if (package == NULL)
    {
      g_set_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID,
                   _("the program package was refused: %s"), local->message);
      return NULL;
    }
  m = pp_program_package_get_manifest (package);
  models = pp_program_manifest_get_models (m);
  sum = pp_program_package_get_payload_sha256 (package);
  sha256 = g_string_sized_new (64);
  for (guint i = 0; i < 32; i++)
    g_string_append_printf (sha256, "%02x", sum[i]);

  /* All models or none: a model that has this program already refuses the
   * whole package before anything is added (the owner thread is the only
   * writer of the catalogue through the registry). */
  for (guint i = 0; models[i] != NULL; i++)
    {
      known = pp_store_list_programs (store, models[i], error);
      if (known == NULL)
        return NULL;
      for (guint j = 0; j < known->len; j++)
        {
          PpProgramRecord *r = g_ptr_array_index (known, j);

          if (g_str_equal (r->name, pp_program_manifest_get_name (m)) &&
              g_str_equal (r->version, pp_program_manifest_get_version (m)))
            {
              g_set_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_CONFLICT,
                           _("the catalogue has program %s %s for model %s already; nothing was added"),
                           r->name, r->version, r->model);
              return NULL;
            }
        }
      g_clear_pointer (&known, g_ptr_array_unref);
    }

  /* The bytes first (harmless if the records then fail: the next upload
   * of the same payload writes the same file), so the catalogue never names
   * a package the registry cannot hand out. */
  if (!keep_package (store, sha256->str, a->bytes[0], error))
    return NULL;
  b = json_builder_new ();
  json_builder_begin_array (b);
  for (guint i = 0; models[i] != NULL; i++)
    {
      g_autoptr(PpProgramRecord) record =
        pp_store_add_program (store, models[i], pp_program_manifest_get_name (m),
                              pp_program_manifest_get_version (m), sha256->str,
                              pp_program_manifest_get_payload_size (m), a->actor, error);

      if (record == NULL)
        return NULL;
      json_builder_add_value (b, pp_registry_program_to_json (record));
    }
  json_builder_end_array (b);
  return json_text (json_builder_get_root (b));
}

static void
upload_program_job (PpStore *store, PpKeyHost *key_host, GTask *task, gpointer data)
{
  g_autofree char *text = run_idempotent (store, task, "upload_program", upload_program_verb);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GPtrArray) records = NULL;
  JsonArray *array;

  if (text == NULL)
    return;
  node = parse_result (text, &error);
  if (node != NULL && !JSON_NODE_HOLDS_ARRAY (node))
    g_set_error_literal (&error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_FAILED,
                         _("the recorded result of a request cannot be read"));
  if (error != NULL)
    {
      return_error (task, g_steal_pointer (&error));
      return;
    }
  array = json_node_get_array (node);
  records = g_ptr_array_new_with_free_func ((GDestroyNotify) pp_program_record_free);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      PpProgramRecord *r = pp_registry_program_from_json (json_array_get_element (array, i), &error);

      if (r == NULL)
        {
          return_error (task, g_steal_pointer (&error));
          return;
        }
      g_ptr_array_add (records, r);
    }
  g_task_return_pointer (task, g_steal_pointer (&records), (GDestroyNotify) g_ptr_array_unref);
}

static void
local_upload_program (PpRegistry *registry, GBytes *package, const char *actor,
                   const char *idempotency_key, GCancellable *cancellable,
                   GAsyncReadyCallback callback, gpointer user_data)
{
  Args *a = g_new0 (Args, 1);

  a->bytes[0] = g_bytes_ref (package);
  a->actor = g_strdup (actor);
  a->key = g_ascii_strdown (idempotency_key, -1);
  queue_job (registry, pp_registry_upload_program_async, a, upload_program_job, cancellable, callback, user_data);
}

/* ---- signing in ---- */

static void
authenticate_job (PpStore *store, PpKeyHost *key_host, GTask *task, gpointer data)
{
  Args *a = data;
  GError *error = NULL;
  PpUser *user = pp_store_authenticate (store, a->actor, secret_text (a), &error);

  return_pointer (task, user, (GDestroyNotify) pp_user_free, error);
}

static void
local_authenticate (PpRegistry *registry, const char *username, const char *password,
                    GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  Args *a = g_new0 (Args, 1);

  a->actor = g_strdup (username);
  a->secret = secret_copy (password);
  queue_job (registry, pp_registry_authenticate_async, a, authenticate_job, cancellable, callback, user_data);
}

/* The password first (a wrong one says nothing about a code), then the
 * code where one is enrolled. */
static void
authenticate_otp_job (PpStore *store, PpKeyHost *key_host, GTask *task, gpointer data)
{
  Args *a = data;
  GError *error = NULL;
  g_autoptr(PpUser) user = pp_store_authenticate (store, a->actor, secret_text (a), &error);
  const char *code = a->otp != NULL ? (const char *) pp_secure_buffer_peek (a->otp) : "";
  PpKeyStore *key_store = task_key_store (task);
  gboolean enrolled = FALSE;

  if (user == NULL || !pp_store_has_otp (store, user->username, &enrolled, &error))
    {
      return_pointer (task, NULL, (GDestroyNotify) pp_user_free, error);
      return;
    }
  if (enrolled && *code == '\0')
    error = g_error_new (PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_OTP_REQUIRED,
                         _("“%s” has a one-time code enrolled: enter the 6 digits their "
                           "authenticator app shows now"), user->username);
  else if (enrolled && key_store == NULL)
    error = g_error_new (PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_NO_KEY_HOST,
                         _("this registry was opened without its key store, so it cannot check the "
                           "one-time code of “%s”; open it with the key store"), user->username);
  else if (enrolled &&
           !pp_store_verify_otp (store, key_store, user->username, code,
                                 g_get_real_time () / G_USEC_PER_SEC, &error))
    {
      /* The store's wording names the step; the person signing in needs what to do. */
      GError *wrong = g_error_new (PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION,
                                   _("Wrong or already used one-time code: wait for the next code "
                                     "in your authenticator app and enter it."));

      g_error_free (error);
      error = wrong;
    }
  if (error != NULL)
    {
      return_pointer (task, NULL, (GDestroyNotify) pp_user_free, error);
      return;
    }
  return_pointer (task, g_steal_pointer (&user), (GDestroyNotify) pp_user_free, NULL);
}

static void
local_authenticate_otp (PpRegistry *registry, const char *username, const char *password,
                        const char *otp, GCancellable *cancellable, GAsyncReadyCallback callback,
                        gpointer user_data)
{
  Args *a = g_new0 (Args, 1);

  a->actor = g_strdup (username);
  a->secret = secret_copy (password);
  a->otp = secret_copy (otp);
  queue_job (registry, pp_registry_authenticate_otp_async, a, authenticate_otp_job, cancellable,
             callback, user_data);
}

/* ---- the install and recycle flows (issue 9, core/flows) ---- */

static void
issue_sign_on_keys_job (PpStore *store, PpKeyHost *key_host, GTask *task, gpointer data)
{
  Args *a = data;
  g_autoptr(PpRegistrySignOnKeys) keys = g_new0 (PpRegistrySignOnKeys, 1);
  GError *error = NULL;
  gint64 id;

  /* Nothing recorded under a key: the working keys must not be kept. */
  if (!require_key_host (key_host, task))
    return;
  if ((id = order_id_of (store, a->uuid, &error)) == 0 ||
      !pp_key_host_issue_sign_on_keys (key_host, id, a->actor, &keys->pin_block, &keys->mac_block,
                                       &keys->pin_kcv, &keys->mac_kcv, &error))
    {
      return_error (task, error);
      return;
    }
  g_task_return_pointer (task, g_steal_pointer (&keys), (GDestroyNotify) pp_registry_sign_on_keys_free);
}

static void
local_issue_sign_on_keys (PpRegistry *registry, const char *order_uuid, const char *actor,
                          GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  Args *a = g_new0 (Args, 1);

  a->uuid = g_ascii_strdown (order_uuid, -1);
  a->actor = g_strdup (actor);
  queue_job (registry, pp_registry_issue_sign_on_keys_async, a, issue_sign_on_keys_job, cancellable,
             callback, user_data);
}

static char *
unbind_token_verb (PpStore    *store,
                   PpKeyHost  *key_host,
                   Args       *a,
                   gint64      order_id,
                   GError    **error)
{
  g_autoptr(GBytes) ubt = pp_key_host_issue_unbind_token (key_host, order_id, a->bytes[0], a->bytes[1],
                                                          a->actor, error);

  return ubt != NULL ? bytes_result (ubt) : NULL;
}

static void
issue_unbind_token_job (PpStore *store, PpKeyHost *key_host, GTask *task, gpointer data)
{
  g_autofree char *text = run_key_host (store, key_host, task, "issue_unbind_token", unbind_token_verb);

  return_bytes_result (task, text);
}

static void
local_issue_unbind_token (PpRegistry *registry, const char *order_uuid, GBytes *ct_krd, GBytes *rt_krd,
                          const char *actor, const char *idempotency_key, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  Args *a = order_step_args (order_uuid, NULL, actor, idempotency_key);

  a->bytes[0] = g_bytes_ref (ct_krd);
  a->bytes[1] = g_bytes_ref (rt_krd);
  queue_job (registry, pp_registry_issue_unbind_token_async, a, issue_unbind_token_job, cancellable,
             callback, user_data);
}

static void
get_program_package_job (PpStore *store, PpKeyHost *key_host, GTask *task, gpointer data)
{
  Args *a = data;
  const char *name = g_ptr_array_index (a->strings, 0);
  const char *version = g_ptr_array_index (a->strings, 1);
  g_autoptr(GPtrArray) programs = NULL;
  g_autofree char *path = NULL;
  g_autofree char *bytes = NULL;
  GError *error = NULL;
  const PpProgramRecord *found = NULL;
  gsize len = 0;

  if ((programs = pp_store_list_programs (store, a->text, &error)) == NULL)
    {
      return_error (task, error);
      return;
    }
  for (guint i = 0; i < programs->len && found == NULL; i++)
    {
      const PpProgramRecord *r = g_ptr_array_index (programs, i);

      if (g_str_equal (r->name, name) && g_str_equal (r->version, version))
        found = r;
    }
  if (found == NULL)
    {
      g_task_return_new_error (task, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_NOT_FOUND,
                               _("the catalogue has no program %s %s for model %s: upload it first "
                                 "(posprov-tool programs upload)"), name, version, a->text);
      return;
    }
  path = package_path (store, found->sha256);
  if (!g_file_get_contents (path, &bytes, &len, NULL))
    {
      g_task_return_new_error (task, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_NOT_FOUND,
                               _("the registry does not hold the package of program %s %s (uploaded "
                                 "before packages were kept): upload it again as a new version"),
                               name, version);
      return;
    }
  g_task_return_pointer (task, g_bytes_new_take (g_steal_pointer (&bytes), len),
                         (GDestroyNotify) g_bytes_unref);
}

static void
local_get_program_package (PpRegistry *registry, const char *name, const char *version, const char *model,
                           GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  Args *a = g_new0 (Args, 1);

  a->strings = g_ptr_array_new_with_free_func (g_free);
  keep (a, name);
  keep (a, version);
  a->text = g_strdup (model);
  queue_job (registry, pp_registry_get_program_package_async, a, get_program_package_job, cancellable,
             callback, user_data);
}

static void
pp_registry_local_iface_init (PpRegistryInterface *iface)
{
  iface->lookup_serial = local_lookup_serial;
  iface->intake = local_intake;
  iface->create_merchant = local_create_merchant;
  iface->search_merchants = local_search_merchants;
  iface->create_install_order = local_create_install_order;
  iface->get_order = local_get_order;
  iface->list_orders = local_list_orders;
  iface->request_approval = local_request_approval;
  iface->decide_approval = local_decide_approval;
  iface->get_approval = local_get_approval;
  iface->list_approvals = local_list_approvals;
  iface->get_kdh = local_get_kdh;
  iface->issue_kdh_credential = local_issue_kdh_credential;
  iface->issue_key_token = local_issue_key_token;
  iface->confirm_kcv = local_confirm_kcv;
  iface->list_programs = local_list_programs;
  iface->program_installed = local_program_installed;
  iface->close_order = local_close_order;
  iface->cancel_order = local_cancel_order;
  iface->create_recycle_order = local_create_recycle_order;
  iface->list_audit = local_list_audit;
  iface->list_changes = local_list_changes;
  iface->add_user = local_add_user;
  iface->enroll_otp = local_enroll_otp;
  iface->authenticate = local_authenticate;
  iface->authenticate_otp = local_authenticate_otp;
  iface->list_terminals = local_list_terminals;
  iface->upload_program = local_upload_program;
  iface->search_terminals = local_search_terminals;

  iface->issue_sign_on_keys = local_issue_sign_on_keys;
  iface->issue_unbind_token = local_issue_unbind_token;
  iface->get_program_package = local_get_program_package;
}
