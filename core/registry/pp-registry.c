/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-registry.c: the PpRegistry interface: its error domain and how the
 * store's and the key host's errors map onto it, the records it returns,
 * their JSON forms, and the _async/_finish wrappers every implementation
 * shares.
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "pp-key-host.h"
#include "pp-password.h"
#include "pp-registry.h"
#include "pp-totp.h"

G_DEFINE_QUARK (pp-registry-error-quark, pp_registry_error)

static const struct {
  const char *name;
  guint http_status;
} error_codes[] = {
  [PP_REGISTRY_ERROR_FAILED] = { "failed", 500 },
  [PP_REGISTRY_ERROR_NOT_FOUND] = { "not_found", 404 },
  [PP_REGISTRY_ERROR_CONFLICT] = { "conflict", 409 },
  [PP_REGISTRY_ERROR_PERMISSION] = { "permission", 403 },
  [PP_REGISTRY_ERROR_INVALID] = { "invalid", 400 },
  [PP_REGISTRY_ERROR_NO_APPROVAL] = { "no_approval", 409 },
  [PP_REGISTRY_ERROR_APPROVAL_VOID] = { "approval_void", 409 },
  [PP_REGISTRY_ERROR_KCV_MISMATCH] = { "kcv_mismatch", 409 },
  [PP_REGISTRY_ERROR_TOKEN_REJECTED] = { "token_rejected", 422 },
  [PP_REGISTRY_ERROR_KEY_REUSED] = { "idempotency_key_reused", 422 },
  [PP_REGISTRY_ERROR_UNAVAILABLE] = { "unavailable", 503 },
  [PP_REGISTRY_ERROR_NO_KEY_HOST] = { "no_key_host", 503 },
  [PP_REGISTRY_ERROR_CANCELLED] = { "cancelled", 499 },
  [PP_REGISTRY_ERROR_UNTRUSTED] = { "untrusted_certificate", 495 },
  [PP_REGISTRY_ERROR_OTP_REQUIRED] = { "otp_required", 401 },
};

const char *
pp_registry_error_code_to_string (int code)
{
  if (code < 0 || (gsize) code >= G_N_ELEMENTS (error_codes))
    return error_codes[PP_REGISTRY_ERROR_FAILED].name;
  return error_codes[code].name;
}

guint
pp_registry_error_code_to_http_status (int code)
{
  if (code < 0 || (gsize) code >= G_N_ELEMENTS (error_codes))
    return 500;
  return error_codes[code].http_status;
}

int
pp_registry_error_code_from_string (const char *name)
{
  for (gsize i = 0; name != NULL && i < G_N_ELEMENTS (error_codes); i++)
    if (g_str_equal (name, error_codes[i].name))
      return (int) i;
  return -1;
}

static int
map_store_code (int code)
{
  switch ((PpStoreError) code)
    {
    case PP_STORE_ERROR_OPEN:
    case PP_STORE_ERROR_NEWER_SCHEMA:
    case PP_STORE_ERROR_BUSY:
      return PP_REGISTRY_ERROR_UNAVAILABLE;
    case PP_STORE_ERROR_NOT_FOUND:
      return PP_REGISTRY_ERROR_NOT_FOUND;
    case PP_STORE_ERROR_DUPLICATE:
    case PP_STORE_ERROR_ILLEGAL_TRANSITION:
      return PP_REGISTRY_ERROR_CONFLICT;
    case PP_STORE_ERROR_INVALID:
      return PP_REGISTRY_ERROR_INVALID;
    case PP_STORE_ERROR_PERMISSION:
    case PP_STORE_ERROR_DEMO:
      return PP_REGISTRY_ERROR_PERMISSION;
    case PP_STORE_ERROR_KCV_MISMATCH:
      return PP_REGISTRY_ERROR_KCV_MISMATCH;
    case PP_STORE_ERROR_APPROVAL_VOID:
      return PP_REGISTRY_ERROR_APPROVAL_VOID;
    case PP_STORE_ERROR_REQUEST_REUSED:
      return PP_REGISTRY_ERROR_KEY_REUSED;
    case PP_STORE_ERROR_SQL:
    default:
      return PP_REGISTRY_ERROR_FAILED;
    }
}

static int
map_key_host_code (int code)
{
  switch ((PpKeyHostError) code)
    {
    case PP_KEY_HOST_ERROR_NO_APPROVAL:
      return PP_REGISTRY_ERROR_NO_APPROVAL;
    case PP_KEY_HOST_ERROR_SELF_APPROVAL:
    case PP_KEY_HOST_ERROR_APPROVER_ROLE:
      return PP_REGISTRY_ERROR_PERMISSION;
    case PP_KEY_HOST_ERROR_APPROVAL_VOID:
      return PP_REGISTRY_ERROR_APPROVAL_VOID;
    case PP_KEY_HOST_ERROR_CHAIN:
    case PP_KEY_HOST_ERROR_EXPIRED:
    case PP_KEY_HOST_ERROR_WRONG_SERIAL:
    case PP_KEY_HOST_ERROR_NONCE_REUSED:
    case PP_KEY_HOST_ERROR_BAD_TOKEN:
      return PP_REGISTRY_ERROR_TOKEN_REJECTED;
    case PP_KEY_HOST_ERROR_STATE:
    case PP_KEY_HOST_ERROR_DUPLICATE_KEY:
      return PP_REGISTRY_ERROR_CONFLICT;
    case PP_KEY_HOST_ERROR_KCV_MISMATCH:
      return PP_REGISTRY_ERROR_KCV_MISMATCH;
    case PP_KEY_HOST_ERROR_CONFIG:
      return PP_REGISTRY_ERROR_NO_KEY_HOST;
    default:
      return PP_REGISTRY_ERROR_FAILED;
    }
}

void
pp_registry_propagate_error (GError **dest,
                             GError  *source)
{
  int code;

  g_return_if_fail (source != NULL);

  if (source->domain == PP_REGISTRY_ERROR ||
      g_error_matches (source, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_propagate_error (dest, source);
      return;
    }
  if (source->domain == PP_STORE_ERROR)
    code = map_store_code (source->code);
  else if (source->domain == PP_KEY_HOST_ERROR)
    code = map_key_host_code (source->code);
  else if (source->domain == PP_PASSWORD_ERROR)
    code = PP_REGISTRY_ERROR_INVALID;
  else if (source->domain == PP_TOTP_ERROR)
    /* A wrong or replayed one-time code is a refused credential. */
    code = source->code == PP_TOTP_ERROR_INVALID ? PP_REGISTRY_ERROR_INVALID : PP_REGISTRY_ERROR_PERMISSION;
  else
    code = PP_REGISTRY_ERROR_FAILED;
  g_set_error_literal (dest, PP_REGISTRY_ERROR, code, source->message);
  g_error_free (source);
}

/* ---- records ---- */

const char *
pp_registry_serial_status_to_string (PpRegistrySerialStatus status)
{
  static const char * const names[] = {
    [PP_REGISTRY_SERIAL_INSTALLABLE] = "installable",
    [PP_REGISTRY_SERIAL_UNKNOWN] = "unknown",
    [PP_REGISTRY_SERIAL_NOT_IN_STOCK] = "not_in_stock",
    [PP_REGISTRY_SERIAL_QUARANTINED] = "quarantined",
    [PP_REGISTRY_SERIAL_RESERVED] = "reserved",
  };

  g_return_val_if_fail ((gsize) status < G_N_ELEMENTS (names), NULL);
  return names[status];
}

void
pp_registry_serial_check_free (PpRegistrySerialCheck *check)
{
  if (check == NULL)
    return;
  g_free (check->serial);
  g_clear_object (&check->terminal);
  g_free (check->order_uuid);
  g_free (check->message);
  g_free (check);
}

static const char * const approval_states[] = {
  [PP_REGISTRY_APPROVAL_PENDING] = "pending",
  [PP_REGISTRY_APPROVAL_APPROVED] = "approved",
  [PP_REGISTRY_APPROVAL_REJECTED] = "rejected",
  [PP_REGISTRY_APPROVAL_WITHDRAWN] = "withdrawn",
  [PP_REGISTRY_APPROVAL_VOID] = "void",
};

const char *
pp_registry_approval_state_to_string (PpRegistryApprovalState state)
{
  g_return_val_if_fail ((gsize) state < G_N_ELEMENTS (approval_states), NULL);
  return approval_states[state];
}

void
pp_registry_approval_free (PpRegistryApproval *a)
{
  if (a == NULL)
    return;
  g_free (a->uuid);
  g_free (a->order_uuid);
  g_free (a->requester);
  g_free (a->serial);
  g_free (a->model);
  g_free (a->merchant_name);
  g_free (a->mid);
  g_free (a->tid);
  g_free (a->program_version);
  g_free (a->key_type);
  g_free (a->cert_fingerprint);
  g_free (a->approver);
  g_free (a->reason);
  g_free (a->digest);
  g_free (a->void_reason);
  g_free (a->code);
  g_free (a);
}

/* ---- JSON ---- */

static void
put_string (JsonBuilder *b,
            const char  *name,
            const char  *value)
{
  json_builder_set_member_name (b, name);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

static void
put_int (JsonBuilder *b,
         const char  *name,
         gint64       value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

/* Readers of an object; each sets @error naming a missing or mistyped member. */
typedef struct {
  JsonObject *object;
  const char *what;
  GError **error;
  gboolean ok;
} Reader;

static gboolean
reader_init (Reader      *r,
             JsonNode    *node,
             const char  *what,
             GError     **error)
{
  r->what = what;
  r->error = error;
  r->ok = TRUE;
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID,
                   _("a %s must be a JSON object"), what);
      r->ok = FALSE;
      return FALSE;
    }
  r->object = json_node_get_object (node);
  return TRUE;
}

static void
reader_fail (Reader     *r,
             const char *name,
             const char *type)
{
  if (r->ok)
    g_set_error (r->error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID,
                 /* Translators: "member “serial” of a work order must be a string" */
                 _("member “%s” of a %s must be %s"), name, r->what, type);
  r->ok = FALSE;
}

/* A string or null (@nullable) member. */
static char *
read_string (Reader     *r,
             const char *name,
             gboolean    nullable)
{
  JsonNode *m = r->ok ? json_object_get_member (r->object, name) : NULL;

  if (!r->ok)
    return NULL;
  if (m != NULL && JSON_NODE_HOLDS_NULL (m) && nullable)
    return NULL;
  if (m == NULL || json_node_get_value_type (m) != G_TYPE_STRING)
    {
      reader_fail (r, name, nullable ? _("a string or null") : _("a string"));
      return NULL;
    }
  return g_strdup (json_node_get_string (m));
}

static gint64
read_int (Reader     *r,
          const char *name,
          gboolean    nullable)
{
  JsonNode *m = r->ok ? json_object_get_member (r->object, name) : NULL;

  if (!r->ok)
    return 0;
  if (m != NULL && JSON_NODE_HOLDS_NULL (m) && nullable)
    return 0;
  if (m == NULL || json_node_get_value_type (m) != G_TYPE_INT64)
    {
      reader_fail (r, name, nullable ? _("an integer or null") : _("an integer"));
      return 0;
    }
  return json_node_get_int (m);
}

JsonNode *
pp_registry_order_to_json (const PpWorkOrder *o)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  g_return_val_if_fail (o != NULL, NULL);

  json_builder_begin_object (b);
  put_string (b, "id", o->uuid);
  put_string (b, "kind", pp_work_order_kind_to_string (o->kind));
  put_string (b, "state", pp_work_order_state_to_string (o->state));
  put_string (b, "serial", o->serial);
  json_builder_set_member_name (b, "merchant_id");
  if (o->merchant_id > 0)
    json_builder_add_int_value (b, o->merchant_id);
  else
    json_builder_add_null_value (b);
  put_string (b, "mid", o->mid);
  put_string (b, "tid", o->tid);
  put_string (b, "program_version", o->program_version);
  put_string (b, "kcv", o->kcv);
  put_string (b, "key_type", pp_tmk_type_to_string (o->key_type));
  put_string (b, "cert_fingerprint", o->cert_fingerprint);
  put_string (b, "expected_kcv", o->expected_kcv);
  put_string (b, "key_label", o->key_label);
  put_int (b, "released_at", o->released_at);
  put_string (b, "requester", o->requester);
  put_string (b, "reason", o->reason);
  put_int (b, "created_at", o->created_at);
  put_int (b, "updated_at", o->updated_at);
  /* The store's row id, for the station's own screens and journal. */
  put_int (b, "number", o->id);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

PpWorkOrder *
pp_registry_order_from_json (JsonNode  *node,
                             GError   **error)
{
  g_autoptr(PpWorkOrder) o = g_new0 (PpWorkOrder, 1);
  g_autofree char *kind = NULL;
  g_autofree char *state = NULL;
  g_autofree char *key_type = NULL;
  Reader r;

  if (!reader_init (&r, node, _("work order"), error))
    return NULL;
  o->uuid = read_string (&r, "id", FALSE);
  kind = read_string (&r, "kind", FALSE);
  state = read_string (&r, "state", FALSE);
  o->serial = read_string (&r, "serial", FALSE);
  o->merchant_id = read_int (&r, "merchant_id", TRUE);
  o->mid = read_string (&r, "mid", TRUE);
  o->tid = read_string (&r, "tid", TRUE);
  o->program_version = read_string (&r, "program_version", TRUE);
  o->kcv = read_string (&r, "kcv", TRUE);
  key_type = read_string (&r, "key_type", TRUE);
  o->cert_fingerprint = read_string (&r, "cert_fingerprint", TRUE);
  o->expected_kcv = read_string (&r, "expected_kcv", TRUE);
  o->key_label = read_string (&r, "key_label", TRUE);
  o->released_at = read_int (&r, "released_at", FALSE);
  o->requester = read_string (&r, "requester", FALSE);
  o->reason = read_string (&r, "reason", TRUE);
  o->created_at = read_int (&r, "created_at", FALSE);
  o->updated_at = read_int (&r, "updated_at", FALSE);
  o->id = read_int (&r, "number", FALSE);
  if (!r.ok)
    return NULL;
  if (g_strcmp0 (kind, "install") == 0)
    o->kind = PP_WORK_ORDER_KIND_INSTALL;
  else if (g_strcmp0 (kind, "recycle") == 0)
    o->kind = PP_WORK_ORDER_KIND_RECYCLE;
  else
    reader_fail (&r, "kind", "\"install\" or \"recycle\"");
  if (r.ok && !pp_work_order_state_from_string (state, &o->state))
    reader_fail (&r, "state", _("a work order state"));
  if (key_type == NULL)
    o->key_type = (PpTmkType) -1;
  else if (r.ok && !pp_tmk_type_from_string (key_type, &o->key_type))
    reader_fail (&r, "key_type", _("a key type"));
  return r.ok ? g_steal_pointer (&o) : NULL;
}

JsonNode *
pp_registry_merchant_to_json (const PpMerchant *merchant)
{
  return pp_merchant_to_json (merchant);
}

PpMerchant *
pp_registry_merchant_from_json (JsonNode  *node,
                                GError   **error)
{
  g_autoptr(PpMerchant) m = g_new0 (PpMerchant, 1);
  Reader r;

  if (!reader_init (&r, node, _("merchant"), error))
    return NULL;
  m->id = read_int (&r, "id", FALSE);
  m->name = read_string (&r, "name", FALSE);
  m->registration_number = read_string (&r, "registration_number", FALSE);
  m->address = read_string (&r, "address", FALSE);
  m->mcc = read_string (&r, "mcc", FALSE);
  m->contact_name = read_string (&r, "contact_name", FALSE);
  m->contact_phone = read_string (&r, "contact_phone", FALSE);
  m->mid = read_string (&r, "mid", FALSE);
  m->created_at = read_int (&r, "created_at", FALSE);
  m->updated_at = read_int (&r, "updated_at", FALSE);
  return r.ok ? g_steal_pointer (&m) : NULL;
}

JsonNode *
pp_registry_approval_to_json (const PpRegistryApproval *a)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  g_return_val_if_fail (a != NULL, NULL);

  json_builder_begin_object (b);
  put_string (b, "id", a->uuid);
  put_string (b, "order_id", a->order_uuid);
  put_string (b, "state", pp_registry_approval_state_to_string (a->state));
  put_string (b, "requester", a->requester);
  put_int (b, "requested_at", a->requested_at);
  put_string (b, "serial", a->serial);
  put_string (b, "model", a->model);
  put_int (b, "merchant_id", a->merchant_id);
  put_string (b, "merchant_name", a->merchant_name);
  put_string (b, "mid", a->mid);
  put_string (b, "tid", a->tid);
  put_string (b, "program_version", a->program_version);
  put_string (b, "key_type", a->key_type);
  put_string (b, "cert_fingerprint", a->cert_fingerprint);
  put_string (b, "approver", a->approver);
  put_int (b, "decided_at", a->decided_at);
  put_string (b, "reason", a->reason);
  put_string (b, "digest", a->digest);
  put_string (b, "void_reason", a->void_reason);
  put_string (b, "code", a->code);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

PpRegistryApproval *
pp_registry_approval_from_json (JsonNode  *node,
                                GError   **error)
{
  g_autoptr(PpRegistryApproval) a = g_new0 (PpRegistryApproval, 1);
  g_autofree char *state = NULL;
  Reader r;
  gsize i;

  if (!reader_init (&r, node, _("approval"), error))
    return NULL;
  a->uuid = read_string (&r, "id", FALSE);
  a->order_uuid = read_string (&r, "order_id", FALSE);
  state = read_string (&r, "state", FALSE);
  a->requester = read_string (&r, "requester", FALSE);
  a->requested_at = read_int (&r, "requested_at", FALSE);
  a->serial = read_string (&r, "serial", FALSE);
  a->model = read_string (&r, "model", TRUE);
  a->merchant_id = read_int (&r, "merchant_id", TRUE);
  a->merchant_name = read_string (&r, "merchant_name", TRUE);
  a->mid = read_string (&r, "mid", TRUE);
  a->tid = read_string (&r, "tid", TRUE);
  a->program_version = read_string (&r, "program_version", TRUE);
  a->key_type = read_string (&r, "key_type", TRUE);
  a->cert_fingerprint = read_string (&r, "cert_fingerprint", TRUE);
  a->approver = read_string (&r, "approver", TRUE);
  a->decided_at = read_int (&r, "decided_at", TRUE);
  a->reason = read_string (&r, "reason", TRUE);
  a->digest = read_string (&r, "digest", TRUE);
  a->void_reason = read_string (&r, "void_reason", TRUE);
  /* Since the approval codes: an answer recorded before has none. */
  if (r.ok && json_object_has_member (r.object, "code"))
    a->code = read_string (&r, "code", TRUE);
  if (!r.ok)
    return NULL;
  for (i = 0; i < G_N_ELEMENTS (approval_states); i++)
    if (g_str_equal (state, approval_states[i]))
      break;
  if (i == G_N_ELEMENTS (approval_states))
    {
      reader_fail (&r, "state", _("an approval state"));
      return NULL;
    }
  a->state = (PpRegistryApprovalState) i;
  return g_steal_pointer (&a);
}

/* ---- the interface ---- */

G_DEFINE_INTERFACE (PpRegistry, pp_registry, G_TYPE_OBJECT)

static void
pp_registry_default_init (PpRegistryInterface *iface)
{
}

#define IFACE(self) PP_REGISTRY_GET_IFACE (self)

static gpointer
finish_pointer (PpRegistry    *self,
                GAsyncResult  *result,
                gpointer       tag,
                GError       **error)
{
  g_return_val_if_fail (PP_IS_REGISTRY (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == tag, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static gboolean
check_key (const char *idempotency_key)
{
  return idempotency_key != NULL && g_uuid_string_is_valid (idempotency_key);
}

void
pp_registry_lookup_serial_async (PpRegistry          *self,
                                 const char          *serial,
                                 const char          *order_uuid,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (serial != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  IFACE (self)->lookup_serial (self, serial, order_uuid, cancellable, callback, user_data);
}

PpRegistrySerialCheck *
pp_registry_lookup_serial_finish (PpRegistry    *self,
                                  GAsyncResult  *result,
                                  GError       **error)
{
  return finish_pointer (self, result, pp_registry_lookup_serial_async, error);
}

/* Fails a call before it starts, on the caller's context. */
static void
fail_early (PpRegistry          *self,
            gpointer             tag,
            PpRegistryError      code,
            const char          *message,
            GCancellable        *cancellable,
            GAsyncReadyCallback  callback,
            gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, tag);
  g_task_return_new_error (task, PP_REGISTRY_ERROR, code, "%s", message);
}

/* A limit of a listing verb: 0 is the default page; more than the
 * maximum fails on the caller's context. FALSE when answered. */
static gboolean
check_limit (PpRegistry          *self,
             guint               *limit,
             gpointer             tag,
             GCancellable        *cancellable,
             GAsyncReadyCallback  callback,
             gpointer             user_data)
{
  g_autofree char *message = NULL;

  if (*limit == 0)
    *limit = PP_REGISTRY_PAGE_DEFAULT;
  if (*limit <= PP_REGISTRY_PAGE_MAX)
    return TRUE;
  message = g_strdup_printf (_("at most %u items can be listed at a time, not %u"),
                             (guint) PP_REGISTRY_PAGE_MAX, *limit);
  fail_early (self, tag, PP_REGISTRY_ERROR_INVALID, message, cancellable, callback, user_data);
  return FALSE;
}

/* A required text argument (a program, a reason): not NULL, not blank.
 * FALSE when answered with INVALID and @message. */
static gboolean
check_text (PpRegistry          *self,
            const char          *text,
            gpointer             tag,
            const char          *message,
            GCancellable        *cancellable,
            GAsyncReadyCallback  callback,
            gpointer             user_data)
{
  g_autofree char *stripped = g_strstrip (g_strdup (text != NULL ? text : ""));

  if (*stripped != '\0')
    return TRUE;
  fail_early (self, tag, PP_REGISTRY_ERROR_INVALID, message, cancellable, callback, user_data);
  return FALSE;
}

void
pp_registry_intake_async (PpRegistry             *self,
                          const PpTerminalIntake *rows,
                          guint                   n_rows,
                          PpTerminalState         initial_state,
                          const char             *actor,
                          const char             *idempotency_key,
                          GCancellable           *cancellable,
                          GAsyncReadyCallback     callback,
                          gpointer                user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (rows != NULL || n_rows == 0);
  g_return_if_fail (actor != NULL);
  g_return_if_fail (check_key (idempotency_key));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  IFACE (self)->intake (self, rows, n_rows, initial_state, actor, idempotency_key, cancellable,
                        callback, user_data);
}

gboolean
pp_registry_intake_finish (PpRegistry    *self,
                           GAsyncResult  *result,
                           guint         *out_n_added,
                           GError       **error)
{
  gssize n;

  g_return_val_if_fail (PP_IS_REGISTRY (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pp_registry_intake_async, FALSE);

  n = g_task_propagate_int (G_TASK (result), error);
  if (n < 0)
    return FALSE;
  if (out_n_added != NULL)
    *out_n_added = (guint) n;
  return TRUE;
}

void
pp_registry_create_merchant_async (PpRegistry             *self,
                                   const PpMerchantFields *fields,
                                   const char             *actor,
                                   const char             *idempotency_key,
                                   GCancellable           *cancellable,
                                   GAsyncReadyCallback     callback,
                                   gpointer                user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (fields != NULL);
  g_return_if_fail (actor != NULL);
  g_return_if_fail (check_key (idempotency_key));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  IFACE (self)->create_merchant (self, fields, actor, idempotency_key, cancellable, callback, user_data);
}

PpMerchant *
pp_registry_create_merchant_finish (PpRegistry    *self,
                                    GAsyncResult  *result,
                                    GError       **error)
{
  return finish_pointer (self, result, pp_registry_create_merchant_async, error);
}

void
pp_registry_search_merchants_async (PpRegistry          *self,
                                    const char          *query,
                                    guint                limit,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  if (check_limit (self, &limit, pp_registry_search_merchants_async, cancellable, callback, user_data))
    IFACE (self)->search_merchants (self, query, limit, cancellable, callback, user_data);
}

GPtrArray *
pp_registry_search_merchants_finish (PpRegistry    *self,
                                     GAsyncResult  *result,
                                     GError       **error)
{
  return finish_pointer (self, result, pp_registry_search_merchants_async, error);
}

void
pp_registry_create_install_order_async (PpRegistry          *self,
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
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (serial != NULL);
  g_return_if_fail (requester != NULL);
  g_return_if_fail (check_key (idempotency_key));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  if (check_text (self, program_version, pp_registry_create_install_order_async,
                  _("an install order needs the program to install; name its version"),
                  cancellable, callback, user_data))
    IFACE (self)->create_install_order (self, serial, merchant_id, program_version, key_type, requester,
                                        idempotency_key, cancellable, callback, user_data);
}

PpWorkOrder *
pp_registry_create_install_order_finish (PpRegistry    *self,
                                         GAsyncResult  *result,
                                         GError       **error)
{
  return finish_pointer (self, result, pp_registry_create_install_order_async, error);
}

void
pp_registry_get_order_async (PpRegistry          *self,
                             const char          *order_uuid,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (order_uuid != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  IFACE (self)->get_order (self, order_uuid, cancellable, callback, user_data);
}

PpWorkOrder *
pp_registry_get_order_finish (PpRegistry    *self,
                              GAsyncResult  *result,
                              GError       **error)
{
  return finish_pointer (self, result, pp_registry_get_order_async, error);
}

void
pp_registry_list_orders_async (PpRegistry          *self,
                               const char          *serial,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  IFACE (self)->list_orders (self, serial, cancellable, callback, user_data);
}

GPtrArray *
pp_registry_list_orders_finish (PpRegistry    *self,
                                GAsyncResult  *result,
                                GError       **error)
{
  return finish_pointer (self, result, pp_registry_list_orders_async, error);
}

void
pp_registry_request_approval_async (PpRegistry          *self,
                                    const char          *order_uuid,
                                    const char          *scanned_serial,
                                    const char          *otp,
                                    const char          *requester,
                                    const char          *idempotency_key,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (order_uuid != NULL);
  g_return_if_fail (requester != NULL);
  g_return_if_fail (check_key (idempotency_key));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  IFACE (self)->request_approval (self, order_uuid, scanned_serial, otp, requester, idempotency_key,
                                  cancellable, callback, user_data);
}

PpRegistryApproval *
pp_registry_request_approval_finish (PpRegistry    *self,
                                     GAsyncResult  *result,
                                     GError       **error)
{
  return finish_pointer (self, result, pp_registry_request_approval_async, error);
}

void
pp_registry_decide_approval_async (PpRegistry          *self,
                                   const char          *approval_uuid,
                                   gboolean             approve,
                                   const char          *reason,
                                   const char          *approver,
                                   const char          *idempotency_key,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (approval_uuid != NULL);
  g_return_if_fail (approver != NULL);
  g_return_if_fail (check_key (idempotency_key));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  IFACE (self)->decide_approval (self, approval_uuid, approve, reason, approver, idempotency_key,
                                 cancellable, callback, user_data);
}

PpRegistryApproval *
pp_registry_decide_approval_finish (PpRegistry    *self,
                                    GAsyncResult  *result,
                                    GError       **error)
{
  return finish_pointer (self, result, pp_registry_decide_approval_async, error);
}

void
pp_registry_get_approval_async (PpRegistry          *self,
                                const char          *approval_uuid,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (approval_uuid != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  IFACE (self)->get_approval (self, approval_uuid, cancellable, callback, user_data);
}

PpRegistryApproval *
pp_registry_get_approval_finish (PpRegistry    *self,
                                 GAsyncResult  *result,
                                 GError       **error)
{
  return finish_pointer (self, result, pp_registry_get_approval_async, error);
}

void
pp_registry_list_approvals_async (PpRegistry          *self,
                                  gboolean             pending_only,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  IFACE (self)->list_approvals (self, pending_only, cancellable, callback, user_data);
}

GPtrArray *
pp_registry_list_approvals_finish (PpRegistry    *self,
                                   GAsyncResult  *result,
                                   GError       **error)
{
  return finish_pointer (self, result, pp_registry_list_approvals_async, error);
}

void
pp_registry_get_kdh_async (PpRegistry          *self,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  IFACE (self)->get_kdh (self, cancellable, callback, user_data);
}

/* The task's result is a GPtrArray of one or two GBytes: the certificate
 * and, when there is one, the CRL. */
gboolean
pp_registry_get_kdh_finish (PpRegistry    *self,
                            GAsyncResult  *result,
                            GBytes       **out_certificate,
                            GBytes       **out_crl,
                            GError       **error)
{
  g_autoptr(GPtrArray) parts = finish_pointer (self, result, pp_registry_get_kdh_async, error);

  if (parts == NULL)
    return FALSE;
  if (out_certificate != NULL)
    *out_certificate = parts->len > 0 ? g_bytes_ref (g_ptr_array_index (parts, 0)) : NULL;
  if (out_crl != NULL)
    *out_crl = parts->len > 1 ? g_bytes_ref (g_ptr_array_index (parts, 1)) : NULL;
  return TRUE;
}

void
pp_registry_issue_kdh_credential_async (PpRegistry          *self,
                                        const char          *order_uuid,
                                        const char          *actor,
                                        const char          *idempotency_key,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (order_uuid != NULL);
  g_return_if_fail (actor != NULL);
  g_return_if_fail (check_key (idempotency_key));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  IFACE (self)->issue_kdh_credential (self, order_uuid, actor, idempotency_key, cancellable,
                                      callback, user_data);
}

GBytes *
pp_registry_issue_kdh_credential_finish (PpRegistry    *self,
                                         GAsyncResult  *result,
                                         GError       **error)
{
  return finish_pointer (self, result, pp_registry_issue_kdh_credential_async, error);
}

void
pp_registry_issue_key_token_async (PpRegistry          *self,
                                   const char          *order_uuid,
                                   GBytes              *ct_krd,
                                   GBytes              *rt_krd,
                                   const char          *actor,
                                   const char          *idempotency_key,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (order_uuid != NULL);
  g_return_if_fail (ct_krd != NULL && rt_krd != NULL);
  g_return_if_fail (actor != NULL);
  g_return_if_fail (check_key (idempotency_key));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  IFACE (self)->issue_key_token (self, order_uuid, ct_krd, rt_krd, actor, idempotency_key,
                                 cancellable, callback, user_data);
}

GBytes *
pp_registry_issue_key_token_finish (PpRegistry    *self,
                                    GAsyncResult  *result,
                                    GError       **error)
{
  return finish_pointer (self, result, pp_registry_issue_key_token_async, error);
}

void
pp_registry_confirm_kcv_async (PpRegistry          *self,
                               const char          *order_uuid,
                               const char          *kcv,
                               const char          *actor,
                               const char          *idempotency_key,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (order_uuid != NULL);
  g_return_if_fail (kcv != NULL);
  g_return_if_fail (actor != NULL);
  g_return_if_fail (check_key (idempotency_key));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  IFACE (self)->confirm_kcv (self, order_uuid, kcv, actor, idempotency_key, cancellable, callback,
                             user_data);
}

PpWorkOrder *
pp_registry_confirm_kcv_finish (PpRegistry    *self,
                                GAsyncResult  *result,
                                GError       **error)
{
  return finish_pointer (self, result, pp_registry_confirm_kcv_async, error);
}

void
pp_registry_list_programs_async (PpRegistry          *self,
                                 const char          *model,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  IFACE (self)->list_programs (self, model, cancellable, callback, user_data);
}

GPtrArray *
pp_registry_list_programs_finish (PpRegistry    *self,
                                  GAsyncResult  *result,
                                  GError       **error)
{
  return finish_pointer (self, result, pp_registry_list_programs_async, error);
}

void
pp_registry_program_installed_async (PpRegistry          *self,
                                     const char          *order_uuid,
                                     const char          *actor,
                                     const char          *idempotency_key,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (order_uuid != NULL);
  g_return_if_fail (actor != NULL);
  g_return_if_fail (check_key (idempotency_key));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  IFACE (self)->program_installed (self, order_uuid, actor, idempotency_key, cancellable, callback,
                                   user_data);
}

PpWorkOrder *
pp_registry_program_installed_finish (PpRegistry    *self,
                                      GAsyncResult  *result,
                                      GError       **error)
{
  return finish_pointer (self, result, pp_registry_program_installed_async, error);
}

void
pp_registry_close_order_async (PpRegistry          *self,
                               const char          *order_uuid,
                               const char          *actor,
                               const char          *idempotency_key,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (order_uuid != NULL);
  g_return_if_fail (actor != NULL);
  g_return_if_fail (check_key (idempotency_key));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  IFACE (self)->close_order (self, order_uuid, actor, idempotency_key, cancellable, callback, user_data);
}

PpWorkOrder *
pp_registry_close_order_finish (PpRegistry    *self,
                                GAsyncResult  *result,
                                GError       **error)
{
  return finish_pointer (self, result, pp_registry_close_order_async, error);
}

void
pp_registry_cancel_order_async (PpRegistry          *self,
                                const char          *order_uuid,
                                const char          *reason,
                                const char          *actor,
                                const char          *idempotency_key,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (order_uuid != NULL);
  g_return_if_fail (actor != NULL);
  g_return_if_fail (check_key (idempotency_key));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  if (check_text (self, reason, pp_registry_cancel_order_async,
                  _("cancelling an order needs a reason, for the journal"), cancellable, callback,
                  user_data))
    IFACE (self)->cancel_order (self, order_uuid, reason, actor, idempotency_key, cancellable, callback,
                                user_data);
}

PpWorkOrder *
pp_registry_cancel_order_finish (PpRegistry    *self,
                                 GAsyncResult  *result,
                                 GError       **error)
{
  return finish_pointer (self, result, pp_registry_cancel_order_async, error);
}

void
pp_registry_create_recycle_order_async (PpRegistry          *self,
                                        const char          *serial,
                                        const char          *reason,
                                        const char          *requester,
                                        const char          *idempotency_key,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (serial != NULL);
  g_return_if_fail (requester != NULL);
  g_return_if_fail (check_key (idempotency_key));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  IFACE (self)->create_recycle_order (self, serial, reason, requester, idempotency_key, cancellable,
                                      callback, user_data);
}

PpWorkOrder *
pp_registry_create_recycle_order_finish (PpRegistry    *self,
                                         GAsyncResult  *result,
                                         GError       **error)
{
  return finish_pointer (self, result, pp_registry_create_recycle_order_async, error);
}

void
pp_registry_list_audit_async (PpRegistry          *self,
                              gint64               after_seq,
                              guint                limit,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  if (check_limit (self, &limit, pp_registry_list_audit_async, cancellable, callback, user_data))
    IFACE (self)->list_audit (self, after_seq, limit, cancellable, callback, user_data);
}

GPtrArray *
pp_registry_list_audit_finish (PpRegistry    *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  return finish_pointer (self, result, pp_registry_list_audit_async, error);
}

void
pp_registry_list_changes_async (PpRegistry          *self,
                                gint64               after_cursor,
                                guint                limit,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  if (check_limit (self, &limit, pp_registry_list_changes_async, cancellable, callback, user_data))
    IFACE (self)->list_changes (self, after_cursor, limit, cancellable, callback, user_data);
}

GPtrArray *
pp_registry_list_changes_finish (PpRegistry    *self,
                                 GAsyncResult  *result,
                                 gint64        *io_cursor,
                                 GError       **error)
{
  GPtrArray *changes = finish_pointer (self, result, pp_registry_list_changes_async, error);

  if (changes != NULL && changes->len > 0 && io_cursor != NULL)
    *io_cursor = ((PpChange *) g_ptr_array_index (changes, changes->len - 1))->seq;
  return changes;
}

/* ---- users, sessions, one-time codes, the terminal list, program upload ---- */

/* A verb an implementation left out fails on the caller's context. */
static gboolean
check_verb (PpRegistry          *self,
            gconstpointer        vfunc,
            gpointer             tag,
            const char          *message,
            GCancellable        *cancellable,
            GAsyncReadyCallback  callback,
            gpointer             user_data)
{
  if (vfunc != NULL)
    return TRUE;
  fail_early (self, tag, PP_REGISTRY_ERROR_FAILED, message, cancellable, callback, user_data);
  return FALSE;
}

void
pp_registry_authenticate_async (PpRegistry          *self,
                                const char          *username,
                                const char          *password,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (username != NULL && password != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  if (check_verb (self, IFACE (self)->authenticate, pp_registry_authenticate_async,
                  _("this registry cannot check passwords"), cancellable, callback, user_data))
    IFACE (self)->authenticate (self, username, password, cancellable, callback, user_data);
}

PpUser *
pp_registry_authenticate_finish (PpRegistry    *self,
                                 GAsyncResult  *result,
                                 GError       **error)
{
  return finish_pointer (self, result, pp_registry_authenticate_async, error);
}

void
pp_registry_authenticate_otp_async (PpRegistry          *self,
                                    const char          *username,
                                    const char          *password,
                                    const char          *otp,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (username != NULL && password != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  if (check_verb (self, IFACE (self)->authenticate_otp, pp_registry_authenticate_otp_async,
                  _("this registry cannot check one-time codes at sign-in"), cancellable, callback,
                  user_data))
    IFACE (self)->authenticate_otp (self, username, password, otp != NULL ? otp : "", cancellable,
                                    callback, user_data);
}

PpUser *
pp_registry_authenticate_otp_finish (PpRegistry    *self,
                                     GAsyncResult  *result,
                                     GError       **error)
{
  return finish_pointer (self, result, pp_registry_authenticate_otp_async, error);
}

void
pp_registry_add_user_async (PpRegistry          *self,
                            const char          *username,
                            PpUserRole           role,
                            const char          *password,
                            const char          *actor,
                            const char          *idempotency_key,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (username != NULL && password != NULL && actor != NULL);
  g_return_if_fail ((guint) role < PP_N_USER_ROLES);
  g_return_if_fail (check_key (idempotency_key));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  if (check_verb (self, IFACE (self)->add_user, pp_registry_add_user_async, _("this registry cannot add users"),
                  cancellable, callback, user_data))
    IFACE (self)->add_user (self, username, role, password, actor, idempotency_key, cancellable,
                            callback, user_data);
}

PpUser *
pp_registry_add_user_finish (PpRegistry    *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  return finish_pointer (self, result, pp_registry_add_user_async, error);
}

void
pp_registry_enroll_otp_async (PpRegistry          *self,
                              const char          *username,
                              const char          *actor,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (username != NULL && actor != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  if (check_verb (self, IFACE (self)->enroll_otp, pp_registry_enroll_otp_async,
                  _("this registry cannot enrol one-time codes"), cancellable, callback, user_data))
    IFACE (self)->enroll_otp (self, username, actor, cancellable, callback, user_data);
}

PpSecureBuffer *
pp_registry_enroll_otp_finish (PpRegistry    *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  return finish_pointer (self, result, pp_registry_enroll_otp_async, error);
}

void
pp_registry_list_terminals_async (PpRegistry          *self,
                                  PpTerminalState      state,
                                  const char          *after_serial,
                                  guint                limit,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  if (check_verb (self, IFACE (self)->list_terminals, pp_registry_list_terminals_async,
                  _("this registry cannot list terminals"), cancellable, callback, user_data) &&
      check_limit (self, &limit, pp_registry_list_terminals_async, cancellable, callback, user_data))
    IFACE (self)->list_terminals (self, state, after_serial, limit, cancellable, callback,
                                  user_data);
}

GPtrArray *
pp_registry_list_terminals_finish (PpRegistry    *self,
                                   GAsyncResult  *result,
                                   GError       **error)
{
  return finish_pointer (self, result, pp_registry_list_terminals_async, error);
}

JsonNode *
pp_registry_serial_check_to_json (const PpRegistrySerialCheck *check)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  g_return_val_if_fail (check != NULL, NULL);

  json_builder_begin_object (b);
  put_string (b, "serial", check->serial);
  put_string (b, "status", pp_registry_serial_status_to_string (check->status));
  put_string (b, "order_id", check->order_uuid);
  put_string (b, "message", check->message);
  json_builder_set_member_name (b, "terminal");
  if (check->terminal != NULL)
    json_builder_add_value (b, pp_terminal_to_json (check->terminal));
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

JsonNode *
pp_registry_user_to_json (const PpUser *user)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  g_return_val_if_fail (user != NULL, NULL);

  json_builder_begin_object (b);
  put_string (b, "name", user->username);
  put_string (b, "display_name", user->display_name);
  put_string (b, "role", pp_user_role_to_string (user->role));
  put_int (b, "created_at", user->created_at);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

PpUser *
pp_registry_user_from_json (JsonNode  *node,
                            GError   **error)
{
  g_autoptr(PpUser) u = g_new0 (PpUser, 1);
  g_autofree char *role = NULL;
  Reader r;

  if (!reader_init (&r, node, _("user"), error))
    return NULL;
  u->username = read_string (&r, "name", FALSE);
  u->display_name = read_string (&r, "display_name", TRUE);
  role = read_string (&r, "role", FALSE);
  u->created_at = read_int (&r, "created_at", FALSE);
  if (!r.ok)
    return NULL;
  if (!pp_user_role_from_string (role, &u->role))
    {
      g_set_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID,
                   _("“%s” is not a user role (field_manager, reviewer, administrator)"), role);
      return NULL;
    }
  return g_steal_pointer (&u);
}

JsonNode *
pp_registry_program_to_json (const PpProgramRecord *p)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  g_return_val_if_fail (p != NULL, NULL);

  json_builder_begin_object (b);
  put_int (b, "id", p->id);
  put_string (b, "model", p->model);
  put_string (b, "name", p->name);
  put_string (b, "version", p->version);
  put_string (b, "sha256", p->sha256);
  put_int (b, "size", (gint64) p->size);
  put_int (b, "created_at", p->created_at);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

PpProgramRecord *
pp_registry_program_from_json (JsonNode  *node,
                               GError   **error)
{
  g_autoptr(PpProgramRecord) p = g_new0 (PpProgramRecord, 1);
  gint64 size;
  Reader r;

  if (!reader_init (&r, node, _("program"), error))
    return NULL;
  p->id = read_int (&r, "id", FALSE);
  p->model = read_string (&r, "model", FALSE);
  p->name = read_string (&r, "name", FALSE);
  p->version = read_string (&r, "version", FALSE);
  p->sha256 = read_string (&r, "sha256", FALSE);
  size = read_int (&r, "size", FALSE);
  p->created_at = read_int (&r, "created_at", FALSE);
  if (!r.ok)
    return NULL;
  if (size < 0)
    {
      g_set_error_literal (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID,
                           _("member “size” of a program must not be negative"));
      return NULL;
    }
  p->size = (guint64) size;
  return g_steal_pointer (&p);
}

void
pp_registry_upload_program_async (PpRegistry          *self,
                                  GBytes              *package,
                                  const char          *actor,
                                  const char          *idempotency_key,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (package != NULL && actor != NULL);
  g_return_if_fail (check_key (idempotency_key));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  if (check_verb (self, IFACE (self)->upload_program, pp_registry_upload_program_async,
                  _("this registry cannot take program uploads"), cancellable, callback, user_data))
    IFACE (self)->upload_program (self, package, actor, idempotency_key, cancellable, callback,
                                  user_data);
}

GPtrArray *
pp_registry_upload_program_finish (PpRegistry    *self,
                                   GAsyncResult  *result,
                                   GError       **error)
{
  return finish_pointer (self, result, pp_registry_upload_program_async, error);
}

JsonNode *
pp_registry_audit_entry_to_json (const PpAuditEntry *e)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  JsonNode *detail;

  g_return_val_if_fail (e != NULL, NULL);

  json_builder_begin_object (b);
  put_int (b, "seq", e->seq);
  put_int (b, "time", e->time);
  put_string (b, "actor", e->actor);
  put_string (b, "action", e->action);
  put_string (b, "subject", e->subject);
  /* The detail is JSON text in the journal; sent as the JSON it holds. */
  json_builder_set_member_name (b, "detail");
  detail = e->detail != NULL ? json_from_string (e->detail, NULL) : NULL;
  if (detail != NULL)
    json_builder_add_value (b, detail);
  else if (e->detail != NULL)
    json_builder_add_string_value (b, e->detail);
  else
    json_builder_add_null_value (b);
  put_string (b, "hash", e->hash);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

JsonNode *
pp_registry_change_to_json (const PpChange *c)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  g_return_val_if_fail (c != NULL, NULL);

  json_builder_begin_object (b);
  put_int (b, "seq", c->seq);
  put_string (b, "kind", c->kind);
  put_string (b, "key", c->key);
  put_int (b, "time", c->time);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* ---- what the remote registry reads back ---- */

PpTerminal *
pp_registry_terminal_from_json (JsonNode  *node,
                                GError   **error)
{
  g_autofree char *serial = NULL, *vendor = NULL, *model = NULL, *state = NULL;
  g_autofree char *fingerprint = NULL, *mid = NULL, *tid = NULL, *program = NULL, *kcv = NULL;
  gint64 created_at, updated_at;
  PpTerminalState s;
  Reader r;

  if (!reader_init (&r, node, _("terminal"), error))
    return NULL;
  serial = read_string (&r, "serial", FALSE);
  vendor = read_string (&r, "vendor", TRUE);
  model = read_string (&r, "model", TRUE);
  state = read_string (&r, "state", FALSE);
  fingerprint = read_string (&r, "cert_fingerprint", TRUE);
  mid = read_string (&r, "mid", TRUE);
  tid = read_string (&r, "tid", TRUE);
  program = read_string (&r, "program_version", TRUE);
  kcv = read_string (&r, "kcv", TRUE);
  created_at = read_int (&r, "created_at", FALSE);
  updated_at = read_int (&r, "updated_at", FALSE);
  if (r.ok && !pp_terminal_state_from_string (state, &s))
    reader_fail (&r, "state", _("a terminal state"));
  if (!r.ok)
    return NULL;
  return pp_terminal_new (serial, vendor, model, s, fingerprint, mid, tid, program, kcv, created_at,
                          updated_at);
}

PpRegistrySerialCheck *
pp_registry_serial_check_from_json (JsonNode  *node,
                                    GError   **error)
{
  static const PpRegistrySerialStatus statuses[] = {
    PP_REGISTRY_SERIAL_INSTALLABLE, PP_REGISTRY_SERIAL_UNKNOWN, PP_REGISTRY_SERIAL_NOT_IN_STOCK,
    PP_REGISTRY_SERIAL_QUARANTINED, PP_REGISTRY_SERIAL_RESERVED,
  };
  g_autoptr(PpRegistrySerialCheck) check = g_new0 (PpRegistrySerialCheck, 1);
  g_autofree char *status = NULL;
  JsonNode *terminal;
  gsize i;
  Reader r;

  if (!reader_init (&r, node, _("serial check"), error))
    return NULL;
  check->serial = read_string (&r, "serial", FALSE);
  status = read_string (&r, "status", FALSE);
  check->order_uuid = read_string (&r, "order_id", TRUE);
  check->message = read_string (&r, "message", TRUE);
  if (!r.ok)
    return NULL;
  for (i = 0; i < G_N_ELEMENTS (statuses); i++)
    if (g_str_equal (status, pp_registry_serial_status_to_string (statuses[i])))
      break;
  if (i == G_N_ELEMENTS (statuses))
    {
      reader_fail (&r, "status", _("a serial status"));
      return NULL;
    }
  check->status = statuses[i];
  terminal = json_object_get_member (r.object, "terminal");
  if (terminal != NULL && !JSON_NODE_HOLDS_NULL (terminal))
    {
      check->terminal = pp_registry_terminal_from_json (terminal, error);
      if (check->terminal == NULL)
        return NULL;
    }
  return g_steal_pointer (&check);
}

PpAuditEntry *
pp_registry_audit_entry_from_json (JsonNode  *node,
                                   GError   **error)
{
  g_autoptr(PpAuditEntry) e = g_new0 (PpAuditEntry, 1);
  JsonNode *detail;
  Reader r;

  if (!reader_init (&r, node, _("journal entry"), error))
    return NULL;
  e->seq = read_int (&r, "seq", FALSE);
  e->time = read_int (&r, "time", FALSE);
  e->actor = read_string (&r, "actor", FALSE);
  e->action = read_string (&r, "action", FALSE);
  e->subject = read_string (&r, "subject", TRUE);
  e->hash = read_string (&r, "hash", TRUE);
  if (!r.ok)
    return NULL;
  /* The detail is sent as the JSON it holds (or its text when it is none). */
  detail = json_object_get_member (r.object, "detail");
  if (detail != NULL && json_node_get_value_type (detail) == G_TYPE_STRING)
    e->detail = g_strdup (json_node_get_string (detail));
  else if (detail != NULL && !JSON_NODE_HOLDS_NULL (detail))
    e->detail = json_to_string (detail, FALSE);
  return g_steal_pointer (&e);
}

PpChange *
pp_registry_change_from_json (JsonNode  *node,
                              GError   **error)
{
  g_autoptr(PpChange) c = g_new0 (PpChange, 1);
  Reader r;

  if (!reader_init (&r, node, _("change"), error))
    return NULL;
  c->seq = read_int (&r, "seq", FALSE);
  c->kind = read_string (&r, "kind", FALSE);
  c->key = read_string (&r, "key", FALSE);
  c->time = read_int (&r, "time", FALSE);
  return r.ok ? g_steal_pointer (&c) : NULL;
}

/* ---- approval QR codes ---- */

char *
pp_registry_approval_qr_payload (const PpRegistryApproval *approval)
{
  g_autofree char *uuid = NULL;

  g_return_val_if_fail (approval != NULL && approval->uuid != NULL, NULL);
  uuid = g_ascii_strdown (approval->uuid, -1);
  if (approval->code == NULL)
    return g_strconcat (PP_REGISTRY_APPROVAL_QR_PREFIX, uuid, NULL);
  return g_strconcat (PP_REGISTRY_APPROVAL_QR_PREFIX, uuid, "?code=", approval->code, NULL);
}

char *
pp_registry_approval_ref_parse (const char *text)
{
  g_autofree char *stripped = NULL;

  g_return_val_if_fail (text != NULL, NULL);
  stripped = g_strstrip (g_strdup (text));
  if (g_ascii_strncasecmp (stripped, PP_REGISTRY_APPROVAL_QR_PREFIX,
                           strlen (PP_REGISTRY_APPROVAL_QR_PREFIX)) == 0)
    {
      const char *rest = stripped + strlen (PP_REGISTRY_APPROVAL_QR_PREFIX);
      g_autofree char *uuid = g_strndup (rest, strcspn (rest, "?"));

      return g_uuid_string_is_valid (uuid) ? g_ascii_strdown (uuid, -1) : NULL;
    }
  if (g_uuid_string_is_valid (stripped))
    return g_ascii_strdown (stripped, -1);
  return pp_approval_code_normalize (stripped);
}

/* ---- the station's inventory (issue 8, helper station8) ---- */

PpRegistryTerminalPage *
pp_registry_terminal_page_new (GPtrArray *terminals,
                               guint      total)
{
  PpRegistryTerminalPage *page = g_new0 (PpRegistryTerminalPage, 1);

  page->terminals = terminals;
  page->total = total;
  return page;
}

void
pp_registry_terminal_page_free (PpRegistryTerminalPage *page)
{
  if (page == NULL)
    return;
  g_clear_pointer (&page->terminals, g_ptr_array_unref);
  g_free (page);
}

void
pp_registry_search_terminals_async (PpRegistry          *self,
                                    const char          *serial_search,
                                    PpTerminalState      state,
                                    guint                offset,
                                    guint                limit,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (state == PP_TERMINAL_STATE_ANY || (state >= 0 && state < PP_N_TERMINAL_STATES));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  if (check_verb (self, IFACE (self)->search_terminals, pp_registry_search_terminals_async,
                  _("this registry cannot search terminals"), cancellable, callback, user_data) &&
      check_limit (self, &limit, pp_registry_search_terminals_async, cancellable, callback, user_data))
    IFACE (self)->search_terminals (self, serial_search, state, offset, limit, cancellable, callback,
                                    user_data);
}

GPtrArray *
pp_registry_search_terminals_finish (PpRegistry    *self,
                                     GAsyncResult  *result,
                                     guint         *out_total,
                                     GError       **error)
{
  g_autoptr(PpRegistryTerminalPage) page =
    finish_pointer (self, result, pp_registry_search_terminals_async, error);

  if (page == NULL)
    return NULL;
  if (out_total != NULL)
    *out_total = page->total;
  return g_steal_pointer (&page->terminals);
}

/* ---- the install and recycle flows (issue 9, core/flows) ---- */

void
pp_registry_sign_on_keys_free (PpRegistrySignOnKeys *keys)
{
  if (keys == NULL)
    return;
  g_free (keys->pin_block);
  g_free (keys->mac_block);
  g_free (keys->pin_kcv);
  g_free (keys->mac_kcv);
  g_free (keys);
}

void
pp_registry_issue_sign_on_keys_async (PpRegistry          *self,
                                      const char          *order_uuid,
                                      const char          *actor,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (order_uuid != NULL && actor != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  if (check_verb (self, IFACE (self)->issue_sign_on_keys, pp_registry_issue_sign_on_keys_async,
                  _("this registry cannot issue sign-on keys"), cancellable, callback, user_data))
    IFACE (self)->issue_sign_on_keys (self, order_uuid, actor, cancellable, callback, user_data);
}

PpRegistrySignOnKeys *
pp_registry_issue_sign_on_keys_finish (PpRegistry    *self,
                                       GAsyncResult  *result,
                                       GError       **error)
{
  return finish_pointer (self, result, pp_registry_issue_sign_on_keys_async, error);
}

void
pp_registry_issue_unbind_token_async (PpRegistry          *self,
                                      const char          *order_uuid,
                                      GBytes              *ct_krd,
                                      GBytes              *rt_krd,
                                      const char          *actor,
                                      const char          *idempotency_key,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (order_uuid != NULL);
  g_return_if_fail (ct_krd != NULL && rt_krd != NULL);
  g_return_if_fail (actor != NULL);
  g_return_if_fail (check_key (idempotency_key));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  if (check_verb (self, IFACE (self)->issue_unbind_token, pp_registry_issue_unbind_token_async,
                  _("this registry cannot issue unbind tokens"), cancellable, callback, user_data))
    IFACE (self)->issue_unbind_token (self, order_uuid, ct_krd, rt_krd, actor, idempotency_key,
                                      cancellable, callback, user_data);
}

GBytes *
pp_registry_issue_unbind_token_finish (PpRegistry    *self,
                                       GAsyncResult  *result,
                                       GError       **error)
{
  return finish_pointer (self, result, pp_registry_issue_unbind_token_async, error);
}

void
pp_registry_get_program_package_async (PpRegistry          *self,
                                       const char          *name,
                                       const char          *version,
                                       const char          *model,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  g_return_if_fail (PP_IS_REGISTRY (self));
  g_return_if_fail (name != NULL && version != NULL && model != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  if (check_verb (self, IFACE (self)->get_program_package, pp_registry_get_program_package_async,
                  _("this registry cannot hand out program packages"), cancellable, callback, user_data))
    IFACE (self)->get_program_package (self, name, version, model, cancellable, callback, user_data);
}

GBytes *
pp_registry_get_program_package_finish (PpRegistry    *self,
                                        GAsyncResult  *result,
                                        GError       **error)
{
  return finish_pointer (self, result, pp_registry_get_program_package_async, error);
}
