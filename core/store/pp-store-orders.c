/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-store-orders.c: install and recycle work orders, the four-eyes
 * approval, KCV confirmation, and the terminal moves each step implies.
 * Every verb is one transaction with its journal entry.
 */
#include "config.h"

#include <inttypes.h>
#include <string.h>

#include <glib/gi18n-lib.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "pp-kcv.h"
#include "pp-store-private.h"

/* ---- order states ---- */

static const struct {
  const char *id;
  const char *label;
} order_states[PP_N_WORK_ORDER_STATES] = {
  [PP_WORK_ORDER_STATE_OPEN] = { "open", N_("Open") },
  [PP_WORK_ORDER_STATE_APPROVED] = { "approved", N_("Approved") },
  [PP_WORK_ORDER_STATE_KEYED] = { "keyed", N_("Keyed") },
  [PP_WORK_ORDER_STATE_PROGRAM_INSTALLED] = { "program_installed", N_("Program installed") },
  [PP_WORK_ORDER_STATE_CLOSED] = { "closed", N_("Closed") },
  [PP_WORK_ORDER_STATE_CANCELLED] = { "cancelled", N_("Cancelled") },
};

#define OBIT(s) (1u << (s))

/* The one table of order moves, per kind. */
static const guint order_moves[2][PP_N_WORK_ORDER_STATES] = {
  [PP_WORK_ORDER_KIND_INSTALL] = {
    [PP_WORK_ORDER_STATE_OPEN] = OBIT (PP_WORK_ORDER_STATE_APPROVED) | OBIT (PP_WORK_ORDER_STATE_CANCELLED),
    [PP_WORK_ORDER_STATE_APPROVED] = OBIT (PP_WORK_ORDER_STATE_KEYED) | OBIT (PP_WORK_ORDER_STATE_CANCELLED),
    [PP_WORK_ORDER_STATE_KEYED] = OBIT (PP_WORK_ORDER_STATE_PROGRAM_INSTALLED),
    [PP_WORK_ORDER_STATE_PROGRAM_INSTALLED] = OBIT (PP_WORK_ORDER_STATE_CLOSED),
  },
  /* A recycle order is approved (its own four eyes) before the key host
   * releases the terminal, and before it is closed: an open one closed
   * would put a terminal still bound and keyed back in stock. */
  [PP_WORK_ORDER_KIND_RECYCLE] = {
    [PP_WORK_ORDER_STATE_OPEN] = OBIT (PP_WORK_ORDER_STATE_APPROVED),
    [PP_WORK_ORDER_STATE_APPROVED] = OBIT (PP_WORK_ORDER_STATE_CLOSED),
  },
};

const char *
pp_work_order_kind_to_string (PpWorkOrderKind kind)
{
  g_return_val_if_fail (kind == PP_WORK_ORDER_KIND_INSTALL || kind == PP_WORK_ORDER_KIND_RECYCLE, NULL);
  return kind == PP_WORK_ORDER_KIND_INSTALL ? "install" : "recycle";
}

const char *
pp_work_order_state_to_string (PpWorkOrderState state)
{
  g_return_val_if_fail (state >= 0 && state < PP_N_WORK_ORDER_STATES, NULL);
  return order_states[state].id;
}

gboolean
pp_work_order_state_from_string (const char       *s,
                                 PpWorkOrderState *out)
{
  g_return_val_if_fail (s != NULL, FALSE);

  for (int i = 0; i < PP_N_WORK_ORDER_STATES; i++)
    if (g_str_equal (s, order_states[i].id))
      {
        if (out != NULL)
          *out = (PpWorkOrderState) i;
        return TRUE;
      }
  return FALSE;
}

const char *
pp_work_order_state_get_label (PpWorkOrderState state)
{
  g_return_val_if_fail (state >= 0 && state < PP_N_WORK_ORDER_STATES, NULL);
  return g_dgettext (GETTEXT_PACKAGE, order_states[state].label);
}

gboolean
pp_work_order_state_can_transition (PpWorkOrderKind  kind,
                                    PpWorkOrderState from,
                                    PpWorkOrderState to)
{
  if ((kind != PP_WORK_ORDER_KIND_INSTALL && kind != PP_WORK_ORDER_KIND_RECYCLE) ||
      from < 0 || from >= PP_N_WORK_ORDER_STATES || to < 0 || to >= PP_N_WORK_ORDER_STATES)
    return FALSE;
  return (order_moves[kind][from] & OBIT (to)) != 0;
}

/* ---- key types ---- */

static const char * const tmk_type_names[] = {
  [PP_TMK_TDES_2KEY] = "tdes-2key",
  [PP_TMK_TDES_3KEY] = "tdes-3key",
  [PP_TMK_AES_128] = "aes-128",
  [PP_TMK_AES_256] = "aes-256",
};

const char *
pp_tmk_type_to_string (PpTmkType type)
{
  if ((int) type < 0 || (gsize) type >= G_N_ELEMENTS (tmk_type_names))
    return NULL;
  return tmk_type_names[type];
}

gboolean
pp_tmk_type_from_string (const char *s,
                         PpTmkType  *out)
{
  for (gsize i = 0; s != NULL && i < G_N_ELEMENTS (tmk_type_names); i++)
    if (g_str_equal (s, tmk_type_names[i]))
      {
        if (out != NULL)
          *out = (PpTmkType) i;
        return TRUE;
      }
  return FALSE;
}

/* ---- records ---- */

void
pp_work_order_free (PpWorkOrder *order)
{
  if (order == NULL)
    return;
  g_free (order->serial);
  g_free (order->mid);
  g_free (order->tid);
  g_free (order->program_version);
  g_free (order->kcv);
  g_free (order->cert_fingerprint);
  g_free (order->expected_kcv);
  g_free (order->key_label);
  g_free (order->requester);
  g_free (order->reason);
  g_free (order->uuid);
  g_free (order);
}

void
pp_approval_free (PpApproval *approval)
{
  if (approval == NULL)
    return;
  g_free (approval->requester);
  g_free (approval->approver);
  g_free (approval->reason);
  g_free (approval->serial);
  g_free (approval->mid);
  g_free (approval->tid);
  g_free (approval->program_version);
  g_free (approval->key_type);
  g_free (approval->cert_fingerprint);
  g_free (approval->digest);
  g_free (approval->void_reason);
  g_free (approval->uuid);
  g_free (approval);
}

static void
member_string (JsonBuilder *builder,
               const char  *name,
               const char  *value)
{
  json_builder_set_member_name (builder, name);
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

static void
member_int (JsonBuilder *builder,
            const char  *name,
            gint64       value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, value);
}

JsonNode *
pp_work_order_to_json (const PpWorkOrder *order)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  g_return_val_if_fail (order != NULL, NULL);

  json_builder_begin_object (builder);
  member_int (builder, "id", order->id);
  member_string (builder, "kind", pp_work_order_kind_to_string (order->kind));
  member_string (builder, "state", pp_work_order_state_to_string (order->state));
  member_string (builder, "serial", order->serial);
  json_builder_set_member_name (builder, "merchant_id");
  if (order->merchant_id > 0)
    json_builder_add_int_value (builder, order->merchant_id);
  else
    json_builder_add_null_value (builder);
  member_string (builder, "mid", order->mid);
  member_string (builder, "tid", order->tid);
  member_string (builder, "program_version", order->program_version);
  member_string (builder, "kcv", order->kcv);
  if (order->kind == PP_WORK_ORDER_KIND_INSTALL)
    {
      member_string (builder, "key_type", pp_tmk_type_to_string (order->key_type));
      member_string (builder, "cert_fingerprint", order->cert_fingerprint);
      member_string (builder, "expected_kcv", order->expected_kcv);
      member_string (builder, "key_label", order->key_label);
    }
  member_string (builder, "requester", order->requester);
  member_string (builder, "reason", order->reason);
  member_int (builder, "created_at", order->created_at);
  member_int (builder, "updated_at", order->updated_at);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

static char *
dup_text (sqlite3_stmt *stmt,
          int           col)
{
  const unsigned char *text = sqlite3_column_text (stmt, col);

  return text != NULL ? g_strdup ((const char *) text) : NULL;
}

#define ORDER_COLUMNS \
  "id, kind, state, serial, merchant_id, mid, tid, program_version, kcv, requester, reason, " \
  "created_at, updated_at, key_type, cert_fingerprint, expected_kcv, key_label, released_at, uuid"

static PpWorkOrder *
order_from_stmt (sqlite3_stmt *stmt)
{
  PpWorkOrder *o = g_new0 (PpWorkOrder, 1);
  const char *kind = (const char *) sqlite3_column_text (stmt, 1);

  o->id = sqlite3_column_int64 (stmt, 0);
  o->kind = g_strcmp0 (kind, "recycle") == 0 ? PP_WORK_ORDER_KIND_RECYCLE : PP_WORK_ORDER_KIND_INSTALL;
  if (!pp_work_order_state_from_string ((const char *) sqlite3_column_text (stmt, 2), &o->state))
    o->state = PP_WORK_ORDER_STATE_CANCELLED; /* unreachable: CHECK constraint */
  o->serial = dup_text (stmt, 3);
  o->merchant_id = sqlite3_column_int64 (stmt, 4);
  o->mid = dup_text (stmt, 5);
  o->tid = dup_text (stmt, 6);
  o->program_version = dup_text (stmt, 7);
  o->kcv = dup_text (stmt, 8);
  o->requester = dup_text (stmt, 9);
  o->reason = dup_text (stmt, 10);
  o->created_at = sqlite3_column_int64 (stmt, 11);
  o->updated_at = sqlite3_column_int64 (stmt, 12);
  /* An order from before schema 2 has no key type: -1, which no TMK has. */
  if (!pp_tmk_type_from_string ((const char *) sqlite3_column_text (stmt, 13), &o->key_type))
    o->key_type = (PpTmkType) -1;
  o->cert_fingerprint = dup_text (stmt, 14);
  o->expected_kcv = dup_text (stmt, 15);
  o->key_label = dup_text (stmt, 16);
  o->released_at = sqlite3_column_int64 (stmt, 17);
  o->uuid = dup_text (stmt, 18);
  return o;
}

static PpWorkOrder *
read_order (PpStore  *self,
            gint64    id,
            GError  **error)
{
  g_autoptr(sqlite3_stmt) stmt = pp_store_prepare (self, "SELECT " ORDER_COLUMNS " FROM work_orders WHERE id = ?",
                                                   error);
  int rc;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return order_from_stmt (stmt);
  if (rc == SQLITE_DONE)
    g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_NOT_FOUND,
                 _("no work order %" PRId64), id);
  else
    pp_store_set_sql_error (self, error, _("cannot read work order"));
  return NULL;
}

PpWorkOrder *
pp_store_get_order (PpStore  *self,
                    gint64    id,
                    GError  **error)
{
  g_return_val_if_fail (PP_IS_STORE (self), NULL);
  return read_order (self, id, error);
}

GPtrArray *
pp_store_list_orders (PpStore     *self,
                      const char  *serial,
                      GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GPtrArray) result = NULL;
  g_autofree char *upper = serial != NULL ? g_ascii_strup (serial, -1) : NULL;
  int rc;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);

  stmt = pp_store_prepare (self, upper != NULL
                                 ? "SELECT " ORDER_COLUMNS " FROM work_orders WHERE serial = ? ORDER BY id"
                                 : "SELECT " ORDER_COLUMNS " FROM work_orders ORDER BY id",
                           error);
  if (stmt == NULL)
    return NULL;
  if (upper != NULL)
    sqlite3_bind_text (stmt, 1, upper, -1, SQLITE_STATIC);
  result = g_ptr_array_new_with_free_func ((GDestroyNotify) pp_work_order_free);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (result, order_from_stmt (stmt));
  if (rc != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot list work orders"));
      return NULL;
    }
  return g_steal_pointer (&result);
}

#define APPROVAL_COLUMNS \
  "id, order_id, requester, approver, decision, reason, decided_at, serial, mid, tid, " \
  "merchant_id, program_version, key_type, cert_fingerprint, digest, voided_at, void_reason, uuid"

static PpApproval *
approval_from_stmt (sqlite3_stmt *stmt)
{
  PpApproval *a = g_new0 (PpApproval, 1);

  a->id = sqlite3_column_int64 (stmt, 0);
  a->order_id = sqlite3_column_int64 (stmt, 1);
  a->requester = dup_text (stmt, 2);
  a->approver = dup_text (stmt, 3);
  a->approved = g_strcmp0 ((const char *) sqlite3_column_text (stmt, 4), "approved") == 0;
  a->reason = dup_text (stmt, 5);
  a->decided_at = sqlite3_column_int64 (stmt, 6);
  a->serial = dup_text (stmt, 7);
  a->mid = dup_text (stmt, 8);
  a->tid = dup_text (stmt, 9);
  a->merchant_id = sqlite3_column_int64 (stmt, 10);
  a->program_version = dup_text (stmt, 11);
  a->key_type = dup_text (stmt, 12);
  a->cert_fingerprint = dup_text (stmt, 13);
  a->digest = dup_text (stmt, 14);
  a->voided_at = sqlite3_column_int64 (stmt, 15);
  a->void_reason = dup_text (stmt, 16);
  a->uuid = dup_text (stmt, 17);
  return a;
}

GPtrArray *
pp_store_list_approvals (PpStore  *self,
                         gint64    order_id,
                         GError  **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GPtrArray) result = NULL;
  int rc;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);

  stmt = pp_store_prepare (self,
                           "SELECT " APPROVAL_COLUMNS " FROM approvals WHERE order_id = ? ORDER BY id",
                           error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, order_id);
  result = g_ptr_array_new_with_free_func ((GDestroyNotify) pp_approval_free);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (result, approval_from_stmt (stmt));
  if (rc != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot list approvals"));
      return NULL;
    }
  return g_steal_pointer (&result);
}

/* ---- helpers inside a transaction ---- */

static gboolean
move_order (PpStore          *self,
            PpWorkOrder      *order,
            PpWorkOrderState  to,
            GError          **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;

  if (!pp_work_order_state_can_transition (order->kind, order->state, to))
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION,
                   _("%s work order %" PRId64 " is %s; cannot go %s -> %s"),
                   pp_work_order_kind_to_string (order->kind), order->id,
                   order_states[order->state].id, order_states[order->state].id,
                   order_states[to].id);
      return FALSE;
    }
  stmt = pp_store_prepare (self, "UPDATE work_orders SET state = ?, updated_at = ? WHERE id = ?", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, order_states[to].id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, pp_store_now ());
  sqlite3_bind_int64 (stmt, 3, order->id);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot update work order"));
      return FALSE;
    }
  order->state = to;
  return TRUE;
}

/* Sets the merchant binding and key fields of a terminal; NULL clears. */
static gboolean
bind_terminal (PpStore     *self,
               const char  *serial,
               gint64       merchant_id,
               const char  *mid,
               const char  *tid,
               const char  *kcv,
               GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt =
    pp_store_prepare (self, "UPDATE terminals SET merchant_id = ?, mid = ?, tid = ?, kcv = ?, updated_at = ? "
                            "WHERE serial = ?", error);

  if (stmt == NULL)
    return FALSE;
  if (merchant_id > 0)
    sqlite3_bind_int64 (stmt, 1, merchant_id);
  else
    sqlite3_bind_null (stmt, 1);
  sqlite3_bind_text (stmt, 2, mid, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, tid, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 4, kcv, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 5, pp_store_now ());
  sqlite3_bind_text (stmt, 6, serial, -1, SQLITE_STATIC);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot update terminal"));
      return FALSE;
    }
  return TRUE;
}

/* What the register says of a terminal now, as far as an order cares. */
typedef struct {
  PpTerminalState state;
  gint64 merchant_id;
  char *mid;
  char *tid;
  char *cert_fingerprint;
} Binding;

static void
binding_clear (Binding *b)
{
  g_clear_pointer (&b->mid, g_free);
  g_clear_pointer (&b->tid, g_free);
  g_clear_pointer (&b->cert_fingerprint, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Binding, binding_clear)

static gboolean
read_binding (PpStore     *self,
              const char  *serial,
              Binding     *out,
              GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt =
    pp_store_prepare (self, "SELECT state, merchant_id, mid, tid, cert_fingerprint FROM terminals "
                            "WHERE serial = ?", error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, serial, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_DONE)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_NOT_FOUND,
                   _("no terminal with serial %s in the register"), serial);
      return FALSE;
    }
  if (rc != SQLITE_ROW ||
      !pp_terminal_state_from_string ((const char *) sqlite3_column_text (stmt, 0), &out->state))
    {
      pp_store_set_sql_error (self, error, _("cannot read terminal"));
      return FALSE;
    }
  out->merchant_id = sqlite3_column_int64 (stmt, 1);
  out->mid = dup_text (stmt, 2);
  out->tid = dup_text (stmt, 3);
  out->cert_fingerprint = dup_text (stmt, 4);
  return TRUE;
}

static void
digest_field (GChecksum  *sum,
              const char *value)
{
  char len[32];

  if (value == NULL)
    value = "";
  g_snprintf (len, sizeof len, "%" G_GSIZE_FORMAT ":", strlen (value));
  g_checksum_update (sum, (const guchar *) len, -1);
  g_checksum_update (sum, (const guchar *) value, -1);
  g_checksum_update (sum, (const guchar *) ",", 1);
}

/* The digest of exactly what a reviewer approves (documented in pp-store.h):
 * the order and the binding of its terminal. A recycle order's: the order,
 * its serial and the terminal's device certificate. */
static char *
approval_digest (const PpWorkOrder *order,
                 const Binding     *binding)
{
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  char number[32];

  if (order->kind == PP_WORK_ORDER_KIND_RECYCLE)
    {
      digest_field (sum, "posprov-recycle-approval-1");
      g_snprintf (number, sizeof number, "%" G_GINT64_FORMAT, order->id);
      digest_field (sum, number);
      digest_field (sum, order->serial);
      digest_field (sum, binding->cert_fingerprint);
      return g_strdup (g_checksum_get_string (sum));
    }
  digest_field (sum, "posprov-approval-1");
  g_snprintf (number, sizeof number, "%" G_GINT64_FORMAT, order->id);
  digest_field (sum, number);
  digest_field (sum, order->serial);
  g_snprintf (number, sizeof number, "%" G_GINT64_FORMAT, binding->merchant_id);
  digest_field (sum, number);
  digest_field (sum, binding->mid);
  digest_field (sum, binding->tid);
  digest_field (sum, order->program_version);
  digest_field (sum, pp_tmk_type_to_string (order->key_type));
  digest_field (sum, binding->cert_fingerprint);
  return g_strdup (g_checksum_get_string (sum));
}

/* Why @binding is not the terminal as @order left it in @state, or NULL.
 * Not translated: the reason is stored as the approval's void_reason and
 * journalled (hashed into the audit chain), so it must not depend on the
 * locale; the messages around it are. */
static char *
binding_difference (const PpWorkOrder *order,
                    const Binding     *binding,
                    PpTerminalState    state)
{
  if (binding->state != state)
    return g_strdup_printf ("terminal %s is %s, not %s as this order left it", order->serial,
                            pp_terminal_state_to_string (binding->state),
                            pp_terminal_state_to_string (state));
  if (order->kind == PP_WORK_ORDER_KIND_INSTALL &&
      (binding->merchant_id != order->merchant_id || g_strcmp0 (binding->mid, order->mid) != 0))
    return g_strdup_printf ("terminal %s is now bound to MID %s, not to MID %s as approved",
                            order->serial, binding->mid != NULL ? binding->mid : "(none)",
                            order->mid != NULL ? order->mid : "(none)");
  if (order->kind == PP_WORK_ORDER_KIND_INSTALL && g_strcmp0 (binding->tid, order->tid) != 0)
    return g_strdup_printf ("terminal %s now has TID %s, not TID %s as approved", order->serial,
                            binding->tid != NULL ? binding->tid : "(none)",
                            order->tid != NULL ? order->tid : "(none)");
  if (g_strcmp0 (binding->cert_fingerprint, order->cert_fingerprint) != 0)
    return g_strdup_printf ("terminal %s's device certificate changed since the order was opened",
                            order->serial);
  return NULL;
}

/* Where the order leaves its terminal until its approval is used: an
 * install order reserves it, a recycle order recycles it. */
static PpTerminalState
approved_terminal_state (const PpWorkOrder *order)
{
  return order->kind == PP_WORK_ORDER_KIND_RECYCLE ? PP_TERMINAL_STATE_RECYCLED
                                                   : PP_TERMINAL_STATE_PENDING_INSTALL;
}

static JsonNode *
order_detail (const PpWorkOrder *order,
              const char        *extra_name,
              const char        *extra_value)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  member_int (b, "order", order->id);
  member_string (b, "kind", pp_work_order_kind_to_string (order->kind));
  member_string (b, "state", order_states[order->state].id);
  member_string (b, "serial", order->serial);
  if (order->mid != NULL)
    member_string (b, "mid", order->mid);
  if (order->tid != NULL)
    member_string (b, "tid", order->tid);
  if (extra_name != NULL)
    member_string (b, extra_name, extra_value);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static gboolean
journal_order (PpStore           *self,
               const char        *actor,
               const char        *action,
               const PpWorkOrder *order,
               const char        *extra_name,
               const char        *extra_value,
               GError           **error)
{
  g_autofree char *subject = g_strdup_printf ("work order %" G_GINT64_FORMAT, order->id);

  return pp_store_audit_append (self, actor, action, subject,
                                order_detail (order, extra_name, extra_value), error);
}

static gboolean
journal_order_detail (PpStore           *self,
                      const char        *actor,
                      const char        *action,
                      const PpWorkOrder *order,
                      JsonNode          *detail,
                      GError           **error)
{
  g_autofree char *subject = g_strdup_printf ("work order %" G_GINT64_FORMAT, order->id);

  return pp_store_audit_append (self, actor, action, subject, detail, error);
}

/* Runs the prepared INSERT of a new order, reads the order back and
 * journals its creation, inside the caller's transaction. */
static PpWorkOrder *
insert_order (PpStore       *self,
              sqlite3_stmt  *stmt,
              const char    *actor,
              const char    *extra_name,
              const char    *extra_value,
              GError       **error)
{
  g_autoptr(PpWorkOrder) order = NULL;

  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot create work order"));
      return NULL;
    }
  order = read_order (self, sqlite3_last_insert_rowid (self->db), error);
  if (order == NULL ||
      !journal_order (self, actor, "order.create", order, extra_name, extra_value, error))
    return NULL;

  return g_steal_pointer (&order);
}

/* pp_store_require_actor for a step on an existing order. */
static PpUser *
require_order_actor (PpStore           *self,
                     const char        *username,
                     guint              allowed_roles,
                     const char        *verb,
                     const PpWorkOrder *order,
                     GError           **error)
{
  /* Translators: "approve install work order 12": a "work order step" verb,
   * the order kind (install or recycle) and its number. */
  g_autofree char *what = g_strdup_printf (_("%s %s work order %" PRId64), verb,
                                           pp_work_order_kind_to_string (order->kind), order->id);

  return pp_store_require_actor (self, username, allowed_roles, what, error);
}

/* The opening of every step a runner takes on an existing order, inside the
 * open transaction: the order and the acting user, who must be a runner. */
static gboolean
load_runner_step (PpStore      *self,
                  gint64        order_id,
                  const char   *actor,
                  const char   *verb,
                  PpWorkOrder **out_order,
                  PpUser      **out_user,
                  GError      **error)
{
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(PpUser) user = NULL;

  order = read_order (self, order_id, error);
  if (order == NULL ||
      (user = require_order_actor (self, actor, PP_STORE_ORDER_RUNNERS, verb, order, error)) == NULL)
    return FALSE;
  *out_order = g_steal_pointer (&order);
  *out_user = g_steal_pointer (&user);
  return TRUE;
}

/* What a failed step leaves to be recorded after its transaction is rolled
 * back: a voided approval, a KCV mismatch or a refused close, each with its
 * journal entry. */
typedef struct {
  PpWorkOrder *order;
  char *actor;
  gint64 void_approval_id;
  char *void_reason;
  char *reported_kcv;
  char *close_refused;
} StepFailure;

static void
step_failure_clear (StepFailure *f)
{
  g_clear_pointer (&f->order, pp_work_order_free);
  g_clear_pointer (&f->actor, g_free);
  g_clear_pointer (&f->void_reason, g_free);
  g_clear_pointer (&f->reported_kcv, g_free);
  g_clear_pointer (&f->close_refused, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (StepFailure, step_failure_clear)

static PpWorkOrder *
copy_order (const PpWorkOrder *o)
{
  PpWorkOrder *c = g_memdup2 (o, sizeof *o);

  c->serial = g_strdup (o->serial);
  c->mid = g_strdup (o->mid);
  c->tid = g_strdup (o->tid);
  c->program_version = g_strdup (o->program_version);
  c->kcv = g_strdup (o->kcv);
  c->cert_fingerprint = g_strdup (o->cert_fingerprint);
  c->expected_kcv = g_strdup (o->expected_kcv);
  c->key_label = g_strdup (o->key_label);
  c->requester = g_strdup (o->requester);
  c->reason = g_strdup (o->reason);
  c->uuid = g_strdup (o->uuid);
  return c;
}

/* The latest approving decision on @order, void or not; NULL with error if none. */
static PpApproval *
read_approval (PpStore            *self,
               const PpWorkOrder  *order,
               GError            **error)
{
  g_autoptr(sqlite3_stmt) stmt =
    pp_store_prepare (self, "SELECT " APPROVAL_COLUMNS " FROM approvals WHERE order_id = ? AND "
                            "decision = 'approved' ORDER BY id DESC LIMIT 1", error);
  int rc;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, order->id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return approval_from_stmt (stmt);
  if (rc == SQLITE_DONE)
    g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_APPROVAL_VOID,
                 _("%s work order %" PRId64 " has no approval on record"),
                 pp_work_order_kind_to_string (order->kind), order->id);
  else
    pp_store_set_sql_error (self, error, _("cannot read approval"));
  return NULL;
}

/* Every step after the approval starts here: the approval still holds if
 * the terminal is still in @state as this order left it, bound to what was
 * approved, and the digest of the order and that binding is the approved
 * one. Else APPROVAL_VOID naming why; a newly found difference is put in
 * @fail, to be recorded once the step's transaction is rolled back.
 * *out_approver (optional) gets the approver. */
static gboolean
check_approval (PpStore            *self,
                const PpWorkOrder  *order,
                PpTerminalState     state,
                const char         *actor,
                StepFailure        *fail,
                char              **out_approver,
                GError            **error)
{
  g_autoptr(PpApproval) approval = NULL;
  g_auto(Binding) binding = { 0, };
  g_autofree char *why = NULL;
  g_autofree char *digest = NULL;

  approval = read_approval (self, order, error);
  if (approval == NULL)
    return FALSE;
  if (approval->voided_at != 0)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_APPROVAL_VOID,
                   _("the approval of %s work order %" PRId64 " was voided: %s; "
                     "cancel the order and open a new one"),
                   pp_work_order_kind_to_string (order->kind), order->id,
                   approval->void_reason != NULL ? approval->void_reason : "");
      return FALSE;
    }
  if (!read_binding (self, order->serial, &binding, error))
    return FALSE;
  why = binding_difference (order, &binding, state);
  if (why == NULL)
    {
      digest = approval_digest (order, &binding);
      if (approval->digest == NULL || strlen (approval->digest) != strlen (digest) ||
          CRYPTO_memcmp (approval->digest, digest, strlen (digest)) != 0)
        why = g_strdup_printf ("%s work order %" G_GINT64_FORMAT " is not what %s approved",
                               pp_work_order_kind_to_string (order->kind), order->id, approval->approver);
    }
  if (why != NULL)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_APPROVAL_VOID,
                   _("the approval of %s work order %" PRId64 " is void: %s; "
                     "cancel the order and open a new one"),
                   pp_work_order_kind_to_string (order->kind), order->id, why);
      step_failure_clear (fail);
      fail->order = copy_order (order);
      fail->actor = g_strdup (actor);
      fail->void_approval_id = approval->id;
      fail->void_reason = g_steal_pointer (&why);
      return FALSE;
    }
  if (out_approver != NULL)
    *out_approver = g_steal_pointer (&approval->approver);
  return TRUE;
}

/* Adds to @error that what it reports could not be journalled; the code
 * becomes the journal's, so a caller cannot take the failure as recorded. */
static void
amend_unrecorded (GError     **error,
                  GError      *journal_error)
{
  if (error == NULL || *error == NULL)
    return;
  {
    g_autofree char *message = g_strdup_printf (_("%s; recording this in the journal failed too: %s"),
                                                (*error)->message, journal_error->message);

    (*error)->domain = journal_error->domain;
    (*error)->code = journal_error->code;
    g_free ((*error)->message);
    (*error)->message = g_steal_pointer (&message);
  }
}

static gboolean
record_void (PpStore      *self,
             StepFailure  *fail,
             GError      **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(JsonNode) detail = NULL;

  if (!pp_store_begin (self, error))
    return FALSE;
  stmt = pp_store_prepare (self, "UPDATE approvals SET voided_at = ?, void_reason = ? "
                                 "WHERE id = ? AND voided_at IS NULL", error);
  if (stmt == NULL)
    goto fail;
  sqlite3_bind_int64 (stmt, 1, pp_store_now ());
  sqlite3_bind_text (stmt, 2, fail->void_reason, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 3, fail->void_approval_id);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot void approval"));
      goto fail;
    }
  detail = order_detail (fail->order, "reason", fail->void_reason);
  json_object_set_int_member (json_node_get_object (detail), "approval", fail->void_approval_id);
  if (!journal_order_detail (self, fail->actor, "order.approval_void", fail->order,
                             g_steal_pointer (&detail), error) ||
      !pp_store_commit (self, error))
    goto fail;
  return TRUE;

fail:
  pp_store_rollback (self);
  return FALSE;
}

static gboolean
record_kcv_mismatch (PpStore      *self,
                     StepFailure  *fail,
                     GError      **error)
{
  JsonNode *detail;

  /* Own transaction: the failed key load is journalled, nothing else changes. */
  if (!pp_store_begin (self, error))
    return FALSE;
  detail = order_detail (fail->order, "reported_kcv", fail->reported_kcv);
  json_object_set_string_member (json_node_get_object (detail), "expected_kcv",
                                 fail->order->expected_kcv);
  if (!journal_order_detail (self, fail->actor, "order.kcv_mismatch", fail->order, detail, error) ||
      !pp_store_commit (self, error))
    {
      pp_store_rollback (self);
      return FALSE;
    }
  return TRUE;
}

static gboolean
record_close_refused (PpStore      *self,
                      StepFailure  *fail,
                      GError      **error)
{
  /* Own transaction: the refusal is journalled, nothing else changes. */
  if (!pp_store_begin (self, error))
    return FALSE;
  if (!journal_order_detail (self, fail->actor, "order.close_refused", fail->order,
                             order_detail (fail->order, "reason", fail->close_refused), error) ||
      !pp_store_commit (self, error))
    {
      pp_store_rollback (self);
      return FALSE;
    }
  return TRUE;
}

/* The end of every public verb: commit what the step did, or roll it back
 * and record what the failure leaves to record. */
static gboolean
finish_step (PpStore      *self,
             gboolean      ok,
             StepFailure  *fail,
             GError      **error)
{
  g_autoptr(GError) journal_error = NULL;

  if (ok)
    return pp_store_commit (self, error);
  pp_store_rollback (self);
  if (fail->void_approval_id > 0 && !record_void (self, fail, &journal_error))
    amend_unrecorded (error, journal_error);
  else if (fail->reported_kcv != NULL && !record_kcv_mismatch (self, fail, &journal_error))
    amend_unrecorded (error, journal_error);
  else if (fail->close_refused != NULL && !record_close_refused (self, fail, &journal_error))
    amend_unrecorded (error, journal_error);
  return FALSE;
}

static gboolean
check_program_version (const char  *version,
                       GError     **error)
{
  gsize n = version != NULL ? strlen (version) : 0;

  if (n == 0 || n > 32)
    {
      g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                           _("program version must be 1 to 32 characters"));
      return FALSE;
    }
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isalnum (version[i]) && strchr ("._-+", version[i]) == NULL)
      {
        g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                             _("program version may hold only letters, digits and “.”, “_”, “-”, “+”"));
        return FALSE;
      }
  return TRUE;
}

static gboolean
check_kcv_text (const char  *kcv,
                const char  *what,
                GError     **error)
{
  gsize n = kcv != NULL ? strlen (kcv) : 0;
  gboolean ok = n >= 2 * PP_KCV_MIN_LENGTH && n <= 2 * PP_KCV_MAX_LENGTH && n % 2 == 0;

  for (gsize i = 0; ok && i < n; i++)
    ok = g_ascii_isxdigit (kcv[i]);
  if (!ok)
    g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                 _("%s KCV must be %d to %d hex digits"), what,
                 2 * PP_KCV_MIN_LENGTH, 2 * PP_KCV_MAX_LENGTH);
  return ok;
}

/* ---- the steps, each inside the caller's transaction ---- */

static PpWorkOrder *
create_install_step (PpStore     *self,
                     const char  *upper,
                     gint64       merchant_id,
                     const char  *program_version,
                     PpTmkType    key_type,
                     const char  *requester,
                     GError     **error)
{
  g_autoptr(PpUser) user = NULL;
  g_autoptr(PpMerchant) merchant = NULL;
  g_autoptr(PpTerminal) terminal = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree char *what = g_strdup_printf (_("open an install order for terminal %s"), upper);
  char tid[16];
  gint64 now = pp_store_now ();

  user = pp_store_require_actor (self, requester, PP_STORE_ORDER_RUNNERS, what, error);
  if (user == NULL)
    return NULL;
  merchant = pp_store_get_merchant (self, merchant_id, error);
  if (merchant == NULL)
    return NULL;
  terminal = pp_store_get_terminal (self, upper, error);
  if (terminal == NULL)
    return NULL;
  /* Reserves the terminal: in_stock -> pending_install, or says why not. */
  if (!pp_store_move_terminal (self, upper, PP_TERMINAL_STATE_PENDING_INSTALL, error))
    return NULL;
  /* The key is sealed to the device certificate: without one on record
   * there is nothing for the reviewer to approve it to. */
  if (pp_terminal_get_cert_fingerprint (terminal) == NULL)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                   _("terminal %s has no device certificate on record; it must prove its key "
                     "pair before an install order can be opened"), upper);
      return NULL;
    }
  if (!pp_store_issue_number (self, "tid", tid, error) ||
      !bind_terminal (self, upper, merchant->id, merchant->mid, tid, NULL, error))
    return NULL;

  stmt = pp_store_prepare (self,
                           "INSERT INTO work_orders (kind, state, serial, merchant_id, mid, tid, "
                           "program_version, requester, created_at, updated_at, key_type, "
                           "cert_fingerprint) VALUES ('install', 'open', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, upper, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, merchant->id);
  sqlite3_bind_text (stmt, 3, merchant->mid, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 4, tid, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 5, program_version, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 6, user->username, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 7, now);
  sqlite3_bind_int64 (stmt, 8, now);
  sqlite3_bind_text (stmt, 9, pp_tmk_type_to_string (key_type), -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 10, pp_terminal_get_cert_fingerprint (terminal), -1, SQLITE_STATIC);
  return insert_order (self, stmt, user->username, "program_version", program_version, error);
}

/* TRUE if the terminal of @order is still reserved for it. */
static gboolean
terminal_holds_order (PpStore      *self,
                      PpWorkOrder  *order,
                      gboolean     *out_holds,
                      GError      **error)
{
  g_auto(Binding) binding = { 0, };
  g_autofree char *why = NULL;

  if (!read_binding (self, order->serial, &binding, error))
    return FALSE;
  why = binding_difference (order, &binding, PP_TERMINAL_STATE_PENDING_INSTALL);
  *out_holds = why == NULL;
  return TRUE;
}

/* Puts the terminal of a cancelled install order back into stock, unbound,
 * unless it no longer belongs to this order. */
static gboolean
release_terminal (PpStore      *self,
                  PpWorkOrder  *order,
                  GError      **error)
{
  gboolean holds = FALSE;

  if (!terminal_holds_order (self, order, &holds, error))
    return FALSE;
  if (!holds)
    return TRUE;
  return pp_store_move_terminal (self, order->serial, PP_TERMINAL_STATE_IN_STOCK, error) &&
         bind_terminal (self, order->serial, 0, NULL, NULL, NULL, error);
}

/* A reviewer whose account, role or password @requester set is no second
 * person for @requester's orders. */
static gboolean
check_independent (PpStore            *self,
                   const PpUser       *approver,
                   const PpWorkOrder  *order,
                   GError            **error)
{
  static const char * const what[] = { N_("created that account"), N_("gave it its role"),
                                        N_("set its password") };
  g_autoptr(sqlite3_stmt) stmt =
    pp_store_prepare (self, "SELECT created_by, role_set_by, password_set_by FROM users WHERE id = ?", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, approver->id);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      pp_store_set_sql_error (self, error, _("cannot read user"));
      return FALSE;
    }
  for (int i = 0; i < 3; i++)
    if (g_strcmp0 ((const char *) sqlite3_column_text (stmt, i), order->requester) == 0)
      {
        g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION,
                     _("user “%s” may not approve %s work order %" PRId64 ": %s, who "
                       "requested it, %s, so the approval would not be a second person's"),
                     approver->username, pp_work_order_kind_to_string (order->kind), order->id, order->requester, _(what[i]));
        return FALSE;
      }
  return TRUE;
}

/* The pending approval request of @order_id: *out_id 0 and *out_uuid NULL
 * when there is none. */
static gboolean
read_pending_request (PpStore     *self,
                      gint64       order_id,
                      gint64      *out_id,
                      char       **out_uuid,
                      GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt =
    pp_store_prepare (self, "SELECT id, uuid FROM approval_requests WHERE order_id = ? AND "
                            "state = 'pending'", error);
  int rc;

  *out_id = 0;
  *out_uuid = NULL;
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, order_id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      *out_id = sqlite3_column_int64 (stmt, 0);
      *out_uuid = dup_text (stmt, 1);
    }
  else if (rc != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot read approval request"));
      return FALSE;
    }
  return TRUE;
}

/* Records the decision on the order's request: the pending one, or, for a
 * decision taken without a request, one decided at once. */
static gboolean
record_request_decision (PpStore            *self,
                         const PpWorkOrder  *order,
                         gint64              request_id,
                         const char         *request_uuid,
                         gint64              approval_id,
                         gboolean            approve,
                         GError            **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  gint64 now = pp_store_now ();

  if (request_id != 0)
    {
      stmt = pp_store_prepare (self, "UPDATE approval_requests SET state = ?, approval_id = ?, "
                                     "decided_at = ? WHERE id = ?", error);
      if (stmt == NULL)
        return FALSE;
      sqlite3_bind_text (stmt, 1, approve ? "approved" : "rejected", -1, SQLITE_STATIC);
      sqlite3_bind_int64 (stmt, 2, approval_id);
      sqlite3_bind_int64 (stmt, 3, now);
      sqlite3_bind_int64 (stmt, 4, request_id);
    }
  else
    {
      stmt = pp_store_prepare (self, "INSERT INTO approval_requests (uuid, order_id, requester, "
                                     "requested_at, state, approval_id, decided_at) "
                                     "VALUES (?, ?, ?, ?, ?, ?, ?)", error);
      if (stmt == NULL)
        return FALSE;
      sqlite3_bind_text (stmt, 1, request_uuid, -1, SQLITE_STATIC);
      sqlite3_bind_int64 (stmt, 2, order->id);
      sqlite3_bind_text (stmt, 3, order->requester, -1, SQLITE_STATIC);
      sqlite3_bind_int64 (stmt, 4, now);
      sqlite3_bind_text (stmt, 5, approve ? "approved" : "rejected", -1, SQLITE_STATIC);
      sqlite3_bind_int64 (stmt, 6, approval_id);
      sqlite3_bind_int64 (stmt, 7, now);
    }
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot record the approval request"));
      return FALSE;
    }
  return TRUE;
}

/* @request_uuid: the request being decided (it must be the order's pending
 * one), or NULL: the pending one if any. */
static gboolean
decide_step (PpStore     *self,
             gint64       order_id,
             const char  *request_uuid,
             const char  *approver,
             gboolean     approve,
             const char  *reason,
             GError     **error)
{
  g_autofree char *pending_uuid = NULL;
  g_autofree char *new_uuid = NULL;
  gint64 request_id = 0;
  g_autoptr(PpUser) user = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_auto(Binding) binding = { 0, };
  g_autofree char *lower = g_ascii_strdown (approver, -1);
  g_autofree char *digest = NULL;
  PpWorkOrderState to = approve ? PP_WORK_ORDER_STATE_APPROVED : PP_WORK_ORDER_STATE_CANCELLED;

  order = read_order (self, order_id, error);
  if (order == NULL)
    return FALSE;
  if (order->state != PP_WORK_ORDER_STATE_OPEN)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION,
                   _("%s work order %" PRId64 " is %s; only an open install or recycle order "
                     "can be approved or rejected"),
                   pp_work_order_kind_to_string (order->kind), order->id,
                   order_states[order->state].id);
      return FALSE;
    }
  /* Four eyes: someone else (user names are stored lower case), holding the
   * reviewer role, whose credentials the requester did not set. */
  if (g_str_equal (lower, order->requester))
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION,
                   _("%s requested work order %" PRId64 " and cannot also approve it; "
                     "a second person must"), lower, order->id);
      return FALSE;
    }
  user = require_order_actor (self, approver, PP_STORE_ORDER_DECIDERS, approve ? "approve" : "reject",
                              order, error);
  if (user == NULL || (approve && !check_independent (self, user, order, error)))
    return FALSE;

  if (!read_pending_request (self, order->id, &request_id, &pending_uuid, error))
    return FALSE;
  if (request_uuid != NULL && g_strcmp0 (request_uuid, pending_uuid) != 0)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION,
                   _("approval %s is not the pending request of %s work order %" PRId64),
                   request_uuid, pp_work_order_kind_to_string (order->kind), order->id);
      return FALSE;
    }
  if (pending_uuid == NULL)
    new_uuid = g_uuid_string_random ();

  /* What is approved is the terminal as the order reserved it. */
  if (!read_binding (self, order->serial, &binding, error))
    return FALSE;
  if (approve)
    {
      g_autofree char *why = binding_difference (order, &binding, approved_terminal_state (order));

      if (why != NULL)
        {
          g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION,
                       _("%s work order %" PRId64 " cannot be approved: %s; cancel it "
                         "and open a new one"), pp_work_order_kind_to_string (order->kind), order->id, why);
          return FALSE;
        }
      digest = approval_digest (order, &binding);
    }

  stmt = pp_store_prepare (self,
                           "INSERT INTO approvals (order_id, requester, approver, decision, reason, "
                           "decided_at, serial, mid, tid, merchant_id, program_version, key_type, "
                           "cert_fingerprint, digest, uuid) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, order->id);
  sqlite3_bind_text (stmt, 2, order->requester, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, user->username, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 4, approve ? "approved" : "rejected", -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 5, reason, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 6, pp_store_now ());
  sqlite3_bind_text (stmt, 7, order->serial, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 8, order->mid, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 9, order->tid, -1, SQLITE_STATIC);
  if (order->kind == PP_WORK_ORDER_KIND_INSTALL)
    {
      sqlite3_bind_int64 (stmt, 10, order->merchant_id);
      sqlite3_bind_text (stmt, 11, order->program_version, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 12, pp_tmk_type_to_string (order->key_type), -1, SQLITE_STATIC);
    }
  /* else a recycle order: no merchant, program or key; what was approved is
   * the terminal (serial, certificate) leaving its MID/TID (as cleared). */
  sqlite3_bind_text (stmt, 13, order->cert_fingerprint, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 14, digest, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 15, pending_uuid != NULL ? pending_uuid : new_uuid, -1, SQLITE_STATIC);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot record approval"));
      return FALSE;
    }
  /* Before the order moves: a rejection cancels it, which withdraws what
   * is still pending. */
  if (!record_request_decision (self, order, request_id, new_uuid,
                                sqlite3_last_insert_rowid (self->db), approve, error))
    return FALSE;

  /* A rejected recycle order stays open (it cannot be cancelled: the
   * terminal is recycled already); its requester may ask again. */
  if (order->kind == PP_WORK_ORDER_KIND_RECYCLE && !approve)
    ;
  else if (!move_order (self, order, to, error))
    return FALSE;
  if (!approve && order->kind == PP_WORK_ORDER_KIND_INSTALL && !release_terminal (self, order, error))
    return FALSE;
  {
    JsonNode *detail = order_detail (order, "reason", reason);

    if (digest != NULL)
      json_object_set_string_member (json_node_get_object (detail), "digest", digest);
    return journal_order_detail (self, user->username, approve ? "order.approve" : "order.reject",
                                 order, detail, error);
  }
}

static gboolean
release_step (PpStore      *self,
              gint64        order_id,
              const char   *tmk_label,
              PpTmkType     type,
              const char   *kcv,
              const char   *nonce_hex,
              const char   *actor,
              StepFailure  *fail,
              GError      **error)
{
  g_autoptr(PpUser) user = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree char *approver = NULL;
  g_autofree char *upper = g_ascii_strup (kcv, -1);
  JsonNode *detail;

  if (!load_runner_step (self, order_id, actor, "release the key of", &order, &user, error))
    return FALSE;
  if (order->kind != PP_WORK_ORDER_KIND_INSTALL || order->state != PP_WORK_ORDER_STATE_APPROVED)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION,
                   _("%s work order %" PRId64 " is %s; a key is released only for an "
                     "approved install order"), pp_work_order_kind_to_string (order->kind), order->id,
                   order_states[order->state].id);
      return FALSE;
    }
  if (!check_approval (self, order, PP_TERMINAL_STATE_PENDING_INSTALL, user->username, fail,
                       &approver, error))
    return FALSE;
  if (type != order->key_type)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                   _("TMK “%s” is %s but install work order %" PRId64 " was approved for %s"),
                   tmk_label, pp_tmk_type_to_string (type), order->id,
                   pp_tmk_type_to_string (order->key_type));
      return FALSE;
    }
  stmt = pp_store_prepare (self, "UPDATE work_orders SET expected_kcv = ?, key_label = ?, released_at = ?, "
                                 "updated_at = ? WHERE id = ?", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, upper, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, tmk_label, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 3, pp_store_now ());
  sqlite3_bind_int64 (stmt, 4, pp_store_now ());
  sqlite3_bind_int64 (stmt, 5, order->id);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot record the key release"));
      return FALSE;
    }
  detail = order_detail (order, "key_label", tmk_label);
  json_object_set_string_member (json_node_get_object (detail), "key_type", pp_tmk_type_to_string (type));
  json_object_set_string_member (json_node_get_object (detail), "expected_kcv", upper);
  json_object_set_string_member (json_node_get_object (detail), "approved_by", approver);
  if (nonce_hex != NULL)
    json_object_set_string_member (json_node_get_object (detail), "nonce", nonce_hex);
  return journal_order_detail (self, user->username, "order.key_released", order, detail, error);
}

/* Constant time in the digits compared: the KCVs are upper-cased first. */
static gboolean
kcv_matches (const char *expected,
             const char *reported)
{
  g_autofree char *a = g_ascii_strup (expected, -1);
  g_autofree char *b = g_ascii_strup (reported, -1);
  gsize n = strlen (a);

  return n > 0 && n == strlen (b) && CRYPTO_memcmp (a, b, n) == 0;
}

static gboolean
keyed_step (PpStore      *self,
            gint64        order_id,
            const char   *reported_kcv,
            const char   *actor,
            StepFailure  *fail,
            GError      **error)
{
  g_autoptr(PpUser) user = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree char *approver = NULL;
  g_autofree char *reported = g_ascii_strup (reported_kcv, -1);
  JsonNode *detail;

  /* The actor is checked before the KCV comparison: a mismatch is
   * journalled under this name too. */
  if (!load_runner_step (self, order_id, actor, "record keying of", &order, &user, error))
    return FALSE;
  if (!pp_work_order_state_can_transition (order->kind, order->state, PP_WORK_ORDER_STATE_KEYED))
    return move_order (self, order, PP_WORK_ORDER_STATE_KEYED, error);
  if (order->expected_kcv == NULL)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION,
                   _("no key has been released for install work order %" PRId64 "; the key "
                     "host records its check value when it releases the key"), order->id);
      return FALSE;
    }
  if (!check_approval (self, order, PP_TERMINAL_STATE_PENDING_INSTALL, user->username, fail,
                       &approver, error))
    return FALSE;
  if (!kcv_matches (order->expected_kcv, reported))
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_KCV_MISMATCH,
                   _("terminal %s reported key check value %s, but the key released for install "
                     "work order %" PRId64 " has %s: the key was not loaded correctly, the "
                     "terminal is not keyed; send a new key token"),
                   order->serial, reported, order->id, order->expected_kcv);
      step_failure_clear (fail);
      fail->order = copy_order (order);
      fail->actor = g_strdup (user->username);
      fail->reported_kcv = g_steal_pointer (&reported);
      return FALSE;
    }
  if (!pp_store_move_terminal (self, order->serial, PP_TERMINAL_STATE_KEYED, error) ||
      !move_order (self, order, PP_WORK_ORDER_STATE_KEYED, error))
    return FALSE;

  stmt = pp_store_prepare (self, "UPDATE terminals SET kcv = ? WHERE serial = ?", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, order->expected_kcv, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, order->serial, -1, SQLITE_STATIC);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot record KCV"));
      return FALSE;
    }
  g_clear_pointer (&stmt, sqlite3_finalize);
  stmt = pp_store_prepare (self, "UPDATE work_orders SET kcv = ? WHERE id = ?", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, order->expected_kcv, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, order->id);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot record KCV"));
      return FALSE;
    }

  /* The key-loading record names the device, the key (by KCV), who loaded
   * it and who approved its release. */
  detail = order_detail (order, "kcv", order->expected_kcv);
  json_object_set_string_member (json_node_get_object (detail), "approved_by", approver);
  return journal_order_detail (self, user->username, "order.keyed", order, detail, error);
}

static gboolean
program_installed_step (PpStore      *self,
                        gint64        order_id,
                        const char   *actor,
                        StepFailure  *fail,
                        GError      **error)
{
  g_autoptr(PpUser) user = NULL;
  g_autoptr(PpWorkOrder) order = NULL;

  if (!load_runner_step (self, order_id, actor, "record the program installation of", &order,
                         &user, error))
    return FALSE;
  if (!pp_work_order_state_can_transition (order->kind, order->state,
                                           PP_WORK_ORDER_STATE_PROGRAM_INSTALLED))
    return move_order (self, order, PP_WORK_ORDER_STATE_PROGRAM_INSTALLED, error);
  return check_approval (self, order, PP_TERMINAL_STATE_KEYED, user->username, fail, NULL, error) &&
         move_order (self, order, PP_WORK_ORDER_STATE_PROGRAM_INSTALLED, error) &&
         journal_order (self, user->username, "order.program_installed", order,
                        "program_version", order->program_version, error);
}

static gboolean
close_step (PpStore      *self,
            gint64        order_id,
            const char   *actor,
            StepFailure  *fail,
            GError      **error)
{
  g_autoptr(PpUser) user = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;

  if (!load_runner_step (self, order_id, actor, "close", &order, &user, error))
    return FALSE;
  /* An open recycle order has no reviewer's approval, so no UBT_KDH went
   * out and the terminal may still be bound and keyed: it does not go
   * back to stock that way. */
  if (order->kind == PP_WORK_ORDER_KIND_RECYCLE && order->state == PP_WORK_ORDER_STATE_OPEN)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION,
                   _("recycle work order %" PRId64 " cannot be closed before a reviewer other than its "
                     "requester approves it and terminal %s is unbound and erased: run the recycle "
                     "(posprov-tool recycle %s) and have a reviewer approve it"),
                   order->id, order->serial, order->serial);
      step_failure_clear (fail);
      fail->order = copy_order (order);
      fail->actor = g_strdup (user->username);
      fail->close_refused = g_strdup ("not approved");
      return FALSE;
    }
  if (!pp_work_order_state_can_transition (order->kind, order->state, PP_WORK_ORDER_STATE_CLOSED))
    return move_order (self, order, PP_WORK_ORDER_STATE_CLOSED, error);

  if (order->kind == PP_WORK_ORDER_KIND_INSTALL)
    {
      if (!check_approval (self, order, PP_TERMINAL_STATE_KEYED, user->username, fail, NULL, error) ||
          !move_order (self, order, PP_WORK_ORDER_STATE_CLOSED, error) ||
          !pp_store_move_terminal (self, order->serial, PP_TERMINAL_STATE_INSTALLED, error))
        return FALSE;
      stmt = pp_store_prepare (self, "UPDATE terminals SET program_version = ? WHERE serial = ?", error);
      if (stmt == NULL)
        return FALSE;
      sqlite3_bind_text (stmt, 1, order->program_version, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 2, order->serial, -1, SQLITE_STATIC);
      if (sqlite3_step (stmt) != SQLITE_DONE)
        {
          pp_store_set_sql_error (self, error, _("cannot update terminal"));
          return FALSE;
        }
    }
  else if (!check_approval (self, order, PP_TERMINAL_STATE_RECYCLED, user->username, fail, NULL, error) ||
           !move_order (self, order, PP_WORK_ORDER_STATE_CLOSED, error) ||
           !pp_store_move_terminal (self, order->serial, PP_TERMINAL_STATE_IN_STOCK, error))
    return FALSE;

  return journal_order (self, user->username, "order.close", order, NULL, NULL, error);
}

static PpWorkOrder *
create_recycle_step (PpStore     *self,
                     const char  *upper,
                     const char  *requester,
                     const char  *reason,
                     GError     **error)
{
  g_autoptr(PpUser) user = NULL;
  g_autoptr(PpTerminal) terminal = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree char *what = g_strdup_printf (_("open a recycle order for terminal %s"), upper);
  gint64 now = pp_store_now ();

  user = pp_store_require_actor (self, requester, PP_STORE_ORDER_RUNNERS, what, error);
  if (user == NULL)
    return NULL;
  terminal = pp_store_get_terminal (self, upper, error);
  if (terminal == NULL)
    return NULL;
  /* installed -> recycled; the merchant binding and key check value go. */
  if (!pp_store_move_terminal (self, upper, PP_TERMINAL_STATE_RECYCLED, error) ||
      !bind_terminal (self, upper, 0, NULL, NULL, NULL, error))
    return NULL;

  stmt = pp_store_prepare (self,
                           "INSERT INTO work_orders (kind, state, serial, mid, tid, requester, reason, "
                           "created_at, updated_at, cert_fingerprint) "
                           "VALUES ('recycle', 'open', ?, ?, ?, ?, ?, ?, ?, ?)",
                           error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, upper, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, pp_terminal_get_mid (terminal), -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, pp_terminal_get_tid (terminal), -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 4, user->username, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 5, reason, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 6, now);
  sqlite3_bind_int64 (stmt, 7, now);
  /* the device certificate its recycle approval is bound to */
  sqlite3_bind_text (stmt, 8, pp_terminal_get_cert_fingerprint (terminal), -1, SQLITE_STATIC);
  return insert_order (self, stmt, user->username, "reason", reason, error);
}

/* ---- verbs ---- */

PpWorkOrder *
pp_store_create_install_order (PpStore     *self,
                               const char  *serial,
                               gint64       merchant_id,
                               const char  *program_version,
                               PpTmkType    key_type,
                               const char  *requester,
                               GError     **error)
{
  g_autofree char *upper = NULL;
  g_autoptr(PpWorkOrder) order = NULL;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);
  g_return_val_if_fail (serial != NULL, NULL);
  g_return_val_if_fail (requester != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_program_version (program_version, error))
    return NULL;
  if (pp_tmk_type_to_string (key_type) == NULL)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID, _("unknown key type %d"), key_type);
      return NULL;
    }
  upper = g_ascii_strup (serial, -1);

  if (!pp_store_begin (self, error))
    return NULL;
  order = create_install_step (self, upper, merchant_id, program_version, key_type, requester, error);
  if (order == NULL || !pp_store_commit (self, error))
    {
      pp_store_rollback (self);
      return NULL;
    }
  return g_steal_pointer (&order);
}

gboolean
pp_store_decide_order (PpStore     *self,
                       gint64       order_id,
                       const char  *approver,
                       gboolean     approve,
                       const char  *reason,
                       GError     **error)
{
  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (approver != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!pp_store_begin (self, error))
    return FALSE;
  if (!decide_step (self, order_id, NULL, approver, approve, reason, error))
    {
      pp_store_rollback (self);
      return FALSE;
    }
  return pp_store_commit (self, error);
}

gboolean
pp_store_order_key_released (PpStore     *self,
                             gint64       order_id,
                             PpKeyStore  *key_store,
                             const char  *tmk_label,
                             const char  *actor,
                             GError     **error)
{
  g_auto(StepFailure) fail = { 0, };
  g_autoptr(GError) local = NULL;
  g_autofree char *kcv = NULL;
  PpTmkType type;

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (PP_IS_KEY_STORE (key_store), FALSE);
  g_return_val_if_fail (tmk_label != NULL, FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* The check value comes from the key store that holds the key, never
   * from the caller; read before the write lock (a token may be slow). */
  kcv = pp_key_store_get_tmk_kcv (key_store, tmk_label, &type, &local);
  if (kcv == NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local),
                                  _("cannot release TMK “%s” for install work order %" PRId64 ": "),
                                  tmk_label, order_id);
      return FALSE;
    }
  if (!pp_store_begin (self, error))
    return FALSE;
  return finish_step (self, release_step (self, order_id, tmk_label, type, kcv, NULL, actor, &fail, error),
                      &fail, error);
}

/* Whether @nonce was used for @serial, or @fingerprint for any key, by an
 * earlier release; inside or outside a transaction. */
static gboolean
find_release_conflict (PpStore              *self,
                       const char           *serial,
                       const char           *nonce_hex,
                       const char           *fingerprint,
                       PpKeyReleaseConflict *out_conflict,
                       GError              **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  int rc;

  *out_conflict = PP_KEY_RELEASE_OK;
  if (nonce_hex != NULL)
    {
      stmt = pp_store_prepare (self, "SELECT 1 FROM key_host_nonces WHERE serial = ? AND nonce = ?", error);
      if (stmt == NULL)
        return FALSE;
      sqlite3_bind_text (stmt, 1, serial, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 2, nonce_hex, -1, SQLITE_STATIC);
      rc = sqlite3_step (stmt);
      if (rc == SQLITE_ROW)
        {
          *out_conflict = PP_KEY_RELEASE_NONCE_USED;
          return TRUE;
        }
      if (rc != SQLITE_DONE)
        {
          pp_store_set_sql_error (self, error, _("cannot read the used nonces"));
          return FALSE;
        }
      g_clear_pointer (&stmt, sqlite3_finalize);
    }
  if (fingerprint != NULL)
    {
      stmt = pp_store_prepare (self, "SELECT 1 FROM key_fingerprints WHERE fingerprint = ?", error);
      if (stmt == NULL)
        return FALSE;
      sqlite3_bind_text (stmt, 1, fingerprint, -1, SQLITE_STATIC);
      rc = sqlite3_step (stmt);
      if (rc == SQLITE_ROW)
        *out_conflict = PP_KEY_RELEASE_DUPLICATE_KEY;
      else if (rc != SQLITE_DONE)
        {
          pp_store_set_sql_error (self, error, _("cannot read the key fingerprints"));
          return FALSE;
        }
    }
  return TRUE;
}

static char *
nonce_to_hex (GBytes *nonce)
{
  gsize len = 0;
  const guint8 *p = nonce != NULL ? g_bytes_get_data (nonce, &len) : NULL;
  GString *hex;

  if (p == NULL || len == 0)
    return NULL;
  hex = g_string_sized_new (2 * len);
  for (gsize i = 0; i < len; i++)
    g_string_append_printf (hex, "%02X", p[i]);
  return g_string_free (hex, FALSE);
}

static gboolean
check_fingerprint_text (const char  *fingerprint,
                        GError     **error)
{
  gboolean ok = fingerprint != NULL && strlen (fingerprint) == 64;

  for (gsize i = 0; ok && i < 64; i++)
    ok = g_ascii_isxdigit (fingerprint[i]);
  if (!ok)
    g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                         _("a key fingerprint must be 64 hex digits"));
  return ok;
}

gboolean
pp_store_key_release_conflict (PpStore              *self,
                               const char           *serial,
                               GBytes               *nonce,
                               const char           *fingerprint,
                               PpKeyReleaseConflict *out_conflict,
                               GError              **error)
{
  g_autofree char *upper = NULL;
  g_autofree char *nonce_hex = nonce_to_hex (nonce);
  g_autofree char *fp = fingerprint != NULL ? g_ascii_strdown (fingerprint, -1) : NULL;

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (serial != NULL || nonce == NULL, FALSE);
  g_return_val_if_fail (out_conflict != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  upper = serial != NULL ? g_ascii_strup (serial, -1) : NULL;
  return find_release_conflict (self, upper, nonce_hex, fp, out_conflict, error);
}

gboolean
pp_store_order_key_released_full (PpStore              *self,
                                  gint64                order_id,
                                  PpKeyStore           *key_store,
                                  const char           *tmk_label,
                                  GBytes               *nonce,
                                  const char           *fingerprint,
                                  const char           *actor,
                                  PpKeyReleaseConflict *out_conflict,
                                  GError              **error)
{
  g_auto(StepFailure) fail = { 0, };
  g_autoptr(GError) local = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree char *kcv = NULL;
  g_autofree char *nonce_hex = nonce_to_hex (nonce);
  g_autofree char *fp = NULL;
  PpKeyReleaseConflict conflict = PP_KEY_RELEASE_OK;
  PpTmkType type;
  gint64 now = pp_store_now ();
  gboolean ok;

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (PP_IS_KEY_STORE (key_store), FALSE);
  g_return_val_if_fail (tmk_label != NULL, FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (out_conflict != NULL)
    *out_conflict = PP_KEY_RELEASE_OK;
  if (nonce_hex == NULL)
    {
      g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                           _("a key release needs the terminal's nonce"));
      return FALSE;
    }
  if (!check_fingerprint_text (fingerprint, error))
    return FALSE;
  fp = g_ascii_strdown (fingerprint, -1);
  kcv = pp_key_store_get_tmk_kcv (key_store, tmk_label, &type, &local);
  if (kcv == NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local),
                                  _("cannot release TMK “%s” for install work order %" PRId64 ": "),
                                  tmk_label, order_id);
      return FALSE;
    }
  if (!pp_store_begin (self, error))
    return FALSE;
  ok = release_step (self, order_id, tmk_label, type, kcv, nonce_hex, actor, &fail, error);
  if (ok)
    ok = (order = read_order (self, order_id, error)) != NULL &&
         find_release_conflict (self, order->serial, nonce_hex, fp, &conflict, error);
  if (ok && conflict != PP_KEY_RELEASE_OK)
    {
      if (conflict == PP_KEY_RELEASE_NONCE_USED)
        g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DUPLICATE,
                     _("terminal %s's nonce %s was used for a key token before; a nonce is "
                       "good for one key token only"), order->serial, nonce_hex);
      else
        g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DUPLICATE,
                     _("the key for install work order %" PRId64 " equals a key released "
                       "before; every terminal must get its own key"), order_id);
      if (out_conflict != NULL)
        *out_conflict = conflict;
      ok = FALSE;
    }
  if (ok)
    {
      stmt = pp_store_prepare (self, "INSERT INTO key_host_nonces (serial, nonce, order_id, used_at) "
                                     "VALUES (?, ?, ?, ?)", error);
      ok = stmt != NULL;
      if (ok)
        {
          sqlite3_bind_text (stmt, 1, order->serial, -1, SQLITE_STATIC);
          sqlite3_bind_text (stmt, 2, nonce_hex, -1, SQLITE_STATIC);
          sqlite3_bind_int64 (stmt, 3, order_id);
          sqlite3_bind_int64 (stmt, 4, now);
          if (sqlite3_step (stmt) != SQLITE_DONE)
            {
              pp_store_set_sql_error (self, error, _("cannot record the nonce"));
              ok = FALSE;
            }
        }
      g_clear_pointer (&stmt, sqlite3_finalize);
    }
  if (ok)
    {
      stmt = pp_store_prepare (self, "INSERT INTO key_fingerprints (fingerprint, order_id, serial, "
                                     "key_label, released_at) VALUES (?, ?, ?, ?, ?)", error);
      ok = stmt != NULL;
      if (ok)
        {
          sqlite3_bind_text (stmt, 1, fp, -1, SQLITE_STATIC);
          sqlite3_bind_int64 (stmt, 2, order_id);
          sqlite3_bind_text (stmt, 3, order->serial, -1, SQLITE_STATIC);
          sqlite3_bind_text (stmt, 4, tmk_label, -1, SQLITE_STATIC);
          sqlite3_bind_int64 (stmt, 5, now);
          if (sqlite3_step (stmt) != SQLITE_DONE)
            {
              pp_store_set_sql_error (self, error, _("cannot record the key fingerprint"));
              ok = FALSE;
            }
        }
    }
  return finish_step (self, ok, &fail, error);
}

gboolean
pp_store_check_order_approval (PpStore     *self,
                               gint64       order_id,
                               const char  *actor,
                               PpApproval **out_approval,
                               GError     **error)
{
  g_auto(StepFailure) fail = { 0, };
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(PpApproval) approval = NULL;
  gboolean ok;

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* A write transaction: a difference found voids the approval for good. */
  if (!pp_store_begin (self, error))
    return FALSE;
  order = read_order (self, order_id, error);
  ok = order != NULL;
  if (ok && order->state != PP_WORK_ORDER_STATE_APPROVED)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION,
                   _("%s work order %" PRId64 " is %s, not approved"),
                   pp_work_order_kind_to_string (order->kind), order->id, order_states[order->state].id);
      ok = FALSE;
    }
  ok = ok && check_approval (self, order, approved_terminal_state (order), actor, &fail, NULL, error);
  if (ok && out_approval != NULL)
    ok = (approval = read_approval (self, order, error)) != NULL;
  if (!finish_step (self, ok, &fail, error))
    return FALSE;
  if (out_approval != NULL)
    *out_approval = g_steal_pointer (&approval);
  return TRUE;
}

gboolean
pp_store_order_keyed (PpStore     *self,
                      gint64       order_id,
                      const char  *reported_kcv,
                      const char  *actor,
                      GError     **error)
{
  g_auto(StepFailure) fail = { 0, };

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_kcv_text (reported_kcv, "reported", error))
    return FALSE;
  if (!pp_store_begin (self, error))
    return FALSE;
  return finish_step (self, keyed_step (self, order_id, reported_kcv, actor, &fail, error), &fail, error);
}

gboolean
pp_store_order_program_installed (PpStore     *self,
                                  gint64       order_id,
                                  const char  *actor,
                                  GError     **error)
{
  g_auto(StepFailure) fail = { 0, };

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!pp_store_begin (self, error))
    return FALSE;
  return finish_step (self, program_installed_step (self, order_id, actor, &fail, error), &fail, error);
}

gboolean
pp_store_close_order (PpStore     *self,
                      gint64       order_id,
                      const char  *actor,
                      GError     **error)
{
  g_auto(StepFailure) fail = { 0, };

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!pp_store_begin (self, error))
    return FALSE;
  return finish_step (self, close_step (self, order_id, actor, &fail, error), &fail, error);
}

gboolean
pp_store_cancel_order (PpStore     *self,
                       gint64       order_id,
                       const char  *actor,
                       const char  *reason,
                       GError     **error)
{
  g_autoptr(PpUser) user = NULL;
  g_autoptr(PpWorkOrder) order = NULL;

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!pp_store_begin (self, error))
    return FALSE;
  if (!load_runner_step (self, order_id, actor, "cancel", &order, &user, error))
    goto fail;
  /* Opening a recycle order cleared the terminal's merchant, MID, TID and
   * KCV and moved it to recycled, from which the lifecycle has no way back
   * to installed: undoing it would claim a key the store no longer
   * records. So a recycle order can only be closed. */
  if (order->kind == PP_WORK_ORDER_KIND_RECYCLE &&
      (order->state == PP_WORK_ORDER_STATE_OPEN || order->state == PP_WORK_ORDER_STATE_APPROVED))
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION,
                   _("recycle work order %" PRId64 " cannot be cancelled: opening it "
                     "cleared terminal %s's merchant binding and key check value and a recycled "
                     "terminal cannot go back to installed; close it and open a new install order"),
                   order->id, order->serial);
      goto fail;
    }
  if (!move_order (self, order, PP_WORK_ORDER_STATE_CANCELLED, error) ||
      !release_terminal (self, order, error) ||
      !journal_order (self, user->username, "order.cancel", order, "reason", reason, error))
    goto fail;
  return pp_store_commit (self, error);

fail:
  pp_store_rollback (self);
  return FALSE;
}

PpWorkOrder *
pp_store_create_recycle_order (PpStore     *self,
                               const char  *serial,
                               const char  *requester,
                               const char  *reason,
                               GError     **error)
{
  g_autofree char *upper = NULL;
  g_autoptr(PpWorkOrder) order = NULL;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);
  g_return_val_if_fail (serial != NULL, NULL);
  g_return_val_if_fail (requester != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  upper = g_ascii_strup (serial, -1);
  if (!pp_store_begin (self, error))
    return NULL;
  order = create_recycle_step (self, upper, requester, reason, error);
  if (order == NULL || !pp_store_commit (self, error))
    {
      pp_store_rollback (self);
      return NULL;
    }
  return g_steal_pointer (&order);
}

/* ---- the demo's terminals, through the same steps ---- */

gboolean
pp_store_demo_run_orders (PpStore         *self,
                          const char      *serial,
                          gint64           merchant_id,
                          const char      *program_version,
                          const char      *kcv,
                          PpTerminalState  until,
                          const char      *runner,
                          const char      *reviewer,
                          GError         **error)
{
  g_auto(StepFailure) fail = { 0, };
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(PpWorkOrder) recycle = NULL;

  g_assert (!sqlite3_get_autocommit (self->db));

  order = create_install_step (self, serial, merchant_id, program_version, PP_TMK_AES_128, runner, error);
  if (order == NULL)
    return FALSE;
  if (until == PP_TERMINAL_STATE_PENDING_INSTALL)
    return TRUE;
  if (!decide_step (self, order->id, NULL, reviewer, TRUE, "demo", error) ||
      !release_step (self, order->id, "demo-tmk", PP_TMK_AES_128, kcv, NULL, runner, &fail, error) ||
      !keyed_step (self, order->id, kcv, runner, &fail, error))
    return FALSE;
  if (until == PP_TERMINAL_STATE_KEYED)
    return TRUE;
  if (!program_installed_step (self, order->id, runner, &fail, error) ||
      !close_step (self, order->id, runner, &fail, error))
    return FALSE;
  if (until == PP_TERMINAL_STATE_INSTALLED)
    return TRUE;
  recycle = create_recycle_step (self, serial, runner, "demo", error);
  return recycle != NULL;
}

/* ---- the registry seam: orders by UUID, approval requests ---- */

PpWorkOrder *
pp_store_get_order_by_uuid (PpStore     *self,
                            const char  *uuid,
                            GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree char *lower = NULL;
  int rc;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);
  g_return_val_if_fail (uuid != NULL, NULL);

  lower = g_ascii_strdown (uuid, -1);
  stmt = pp_store_prepare (self, "SELECT " ORDER_COLUMNS " FROM work_orders WHERE uuid = ?", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, lower, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return order_from_stmt (stmt);
  if (rc == SQLITE_DONE)
    g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_NOT_FOUND, _("no work order %s"), lower);
  else
    pp_store_set_sql_error (self, error, _("cannot read work order"));
  return NULL;
}

PpApproval *
pp_store_get_approval (PpStore  *self,
                       gint64    approval_id,
                       GError  **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  int rc;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);

  stmt = pp_store_prepare (self, "SELECT " APPROVAL_COLUMNS " FROM approvals WHERE id = ?", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, approval_id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return approval_from_stmt (stmt);
  if (rc == SQLITE_DONE)
    g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_NOT_FOUND,
                 _("no approval %" PRId64), approval_id);
  else
    pp_store_set_sql_error (self, error, _("cannot read approval"));
  return NULL;
}

static const char * const request_states[PP_N_APPROVAL_REQUEST_STATES] = {
  [PP_APPROVAL_REQUEST_PENDING] = "pending",
  [PP_APPROVAL_REQUEST_APPROVED] = "approved",
  [PP_APPROVAL_REQUEST_REJECTED] = "rejected",
  [PP_APPROVAL_REQUEST_WITHDRAWN] = "withdrawn",
};

const char *
pp_approval_request_state_to_string (PpApprovalRequestState state)
{
  g_return_val_if_fail (state >= 0 && state < PP_N_APPROVAL_REQUEST_STATES, NULL);
  return request_states[state];
}

gboolean
pp_approval_request_state_from_string (const char             *s,
                                       PpApprovalRequestState *out)
{
  for (int i = 0; s != NULL && i < PP_N_APPROVAL_REQUEST_STATES; i++)
    if (g_str_equal (s, request_states[i]))
      {
        if (out != NULL)
          *out = (PpApprovalRequestState) i;
        return TRUE;
      }
  return FALSE;
}

void
pp_approval_request_free (PpApprovalRequest *request)
{
  if (request == NULL)
    return;
  g_free (request->uuid);
  g_free (request->order_uuid);
  g_free (request->requester);
  g_free (request->scanned_serial);
  g_free (request->code);
  g_free (request);
}

#define REQUEST_COLUMNS \
  "r.id, r.uuid, r.order_id, o.uuid, r.requester, r.scanned_serial, r.requested_at, r.state, " \
  "r.approval_id, r.decided_at, r.code"
#define REQUEST_FROM " FROM approval_requests r JOIN work_orders o ON o.id = r.order_id "

static PpApprovalRequest *
request_from_stmt (sqlite3_stmt *stmt)
{
  PpApprovalRequest *r = g_new0 (PpApprovalRequest, 1);

  r->id = sqlite3_column_int64 (stmt, 0);
  r->uuid = dup_text (stmt, 1);
  r->order_id = sqlite3_column_int64 (stmt, 2);
  r->order_uuid = dup_text (stmt, 3);
  r->requester = dup_text (stmt, 4);
  r->scanned_serial = dup_text (stmt, 5);
  r->requested_at = sqlite3_column_int64 (stmt, 6);
  if (!pp_approval_request_state_from_string ((const char *) sqlite3_column_text (stmt, 7), &r->state))
    r->state = PP_APPROVAL_REQUEST_WITHDRAWN; /* unreachable: CHECK constraint */
  r->approval_id = sqlite3_column_int64 (stmt, 8);
  r->decided_at = sqlite3_column_int64 (stmt, 9);
  r->code = dup_text (stmt, 10);
  return r;
}

/* ---- approval codes ---- */

static const char code_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

char *
pp_approval_code_normalize (const char *text)
{
  g_autoptr(GString) code = g_string_new (NULL);

  for (const char *p = text; p != NULL && *p != '\0'; p++)
    {
      char c = g_ascii_toupper (*p);

      if (c == '-' || c == ' ')
        continue;
      if (c == 'O')
        c = '0';
      else if (c == 'I' || c == 'L')
        c = '1';
      if (c == '\0' || strchr (code_alphabet, c) == NULL || code->len == PP_APPROVAL_CODE_LENGTH)
        return NULL;
      g_string_append_c (code, c);
    }
  if (code->len != PP_APPROVAL_CODE_LENGTH)
    return NULL;
  return g_string_free (g_steal_pointer (&code), FALSE);
}

/* A random code no pending request has (40 random bits: a clash is rare,
 * and then another is drawn). */
static char *
new_approval_code (PpStore  *self,
                   GError  **error)
{
  g_autoptr(sqlite3_stmt) stmt =
    pp_store_prepare (self, "SELECT 1 FROM approval_requests WHERE code = ? AND state = 'pending'", error);

  if (stmt == NULL)
    return NULL;
  for (guint attempt = 0; attempt < 16; attempt++)
    {
      guchar bits[5];
      guint64 n = 0;
      char code[PP_APPROVAL_CODE_LENGTH + 1];
      int rc;

      if (RAND_bytes (bits, sizeof bits) != 1)
        break;
      for (guint i = 0; i < sizeof bits; i++)
        n = (n << 8) | bits[i];
      for (guint i = 0; i < PP_APPROVAL_CODE_LENGTH; i++)
        code[i] = code_alphabet[(n >> (5 * (PP_APPROVAL_CODE_LENGTH - 1 - i))) & 31];
      code[PP_APPROVAL_CODE_LENGTH] = '\0';
      sqlite3_reset (stmt);
      sqlite3_bind_text (stmt, 1, code, -1, SQLITE_TRANSIENT);
      rc = sqlite3_step (stmt);
      if (rc == SQLITE_DONE)
        return g_strdup (code);
      if (rc != SQLITE_ROW)
        {
          pp_store_set_sql_error (self, error, _("cannot read approval request"));
          return NULL;
        }
    }
  g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_SQL,
                       _("cannot draw a code for the approval request"));
  return NULL;
}

/* The request with that UUID, or with that code (the pending one holding
 * it, else the latest that had it). */
static PpApprovalRequest *
read_request (PpStore     *self,
              const char  *uuid,
              GError     **error)
{
  g_autofree char *code = g_uuid_string_is_valid (uuid) ? NULL : pp_approval_code_normalize (uuid);
  g_autofree char *lower = g_ascii_strdown (uuid, -1);
  g_autoptr(sqlite3_stmt) stmt =
    pp_store_prepare (self, code == NULL ? "SELECT " REQUEST_COLUMNS REQUEST_FROM "WHERE r.uuid = ?"
                                         : "SELECT " REQUEST_COLUMNS REQUEST_FROM "WHERE r.code = ? "
                                           "ORDER BY r.state = 'pending' DESC, r.id DESC LIMIT 1",
                      error);
  int rc;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, code != NULL ? code : lower, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return request_from_stmt (stmt);
  if (rc == SQLITE_DONE)
    g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_NOT_FOUND, _("no approval %s"),
                 code != NULL ? code : lower);
  else
    pp_store_set_sql_error (self, error, _("cannot read approval request"));
  return NULL;
}

PpApprovalRequest *
pp_store_get_approval_request (PpStore     *self,
                               const char  *uuid,
                               GError     **error)
{
  g_return_val_if_fail (PP_IS_STORE (self), NULL);
  g_return_val_if_fail (uuid != NULL, NULL);
  return read_request (self, uuid, error);
}

GPtrArray *
pp_store_list_approval_requests (PpStore  *self,
                                 int       state,
                                 guint     limit,
                                 GError  **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GPtrArray) result = NULL;
  int rc;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);
  g_return_val_if_fail (state >= -1 && state < PP_N_APPROVAL_REQUEST_STATES, NULL);

  stmt = pp_store_prepare (self, state >= 0
                                 ? "SELECT " REQUEST_COLUMNS REQUEST_FROM "WHERE r.state = ?1 "
                                   "ORDER BY r.id LIMIT ?2"
                                 : "SELECT " REQUEST_COLUMNS REQUEST_FROM "ORDER BY r.id LIMIT ?2",
                           error);
  if (stmt == NULL)
    return NULL;
  if (state >= 0)
    sqlite3_bind_text (stmt, 1, request_states[state], -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, limit > 0 ? (gint64) limit : -1);
  result = g_ptr_array_new_with_free_func ((GDestroyNotify) pp_approval_request_free);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (result, request_from_stmt (stmt));
  if (rc != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot list approval requests"));
      return NULL;
    }
  return g_steal_pointer (&result);
}

static PpApprovalRequest *
request_step (PpStore     *self,
              gint64       order_id,
              const char  *requester,
              const char  *scanned_serial,
              GError     **error)
{
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(PpUser) user = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree char *pending = NULL;
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *scanned = scanned_serial != NULL ? g_ascii_strup (scanned_serial, -1) : NULL;
  g_autofree char *code = NULL;
  g_auto(Binding) binding = { 0, };
  g_autofree char *why = NULL;
  JsonNode *detail;
  gint64 pending_id = 0;

  if (!load_runner_step (self, order_id, requester, "request approval of", &order, &user, error))
    return NULL;
  if (order->state != PP_WORK_ORDER_STATE_OPEN)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION,
                   _("%s work order %" PRId64 " is %s; approval is requested only for an open "
                     "install or recycle order"), pp_work_order_kind_to_string (order->kind), order->id,
                   order_states[order->state].id);
      return NULL;
    }
  /* The terminal in the requester's hands must be the order's. */
  if (scanned != NULL && g_strcmp0 (g_strstrip (scanned), order->serial) != 0)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                   _("the terminal scanned (%s) is not terminal %s of %s work order %" PRId64
                     "; scan the terminal the order is for"), scanned, order->serial,
                   pp_work_order_kind_to_string (order->kind), order->id);
      return NULL;
    }
  if (!read_pending_request (self, order->id, &pending_id, &pending, error))
    return NULL;
  if (pending != NULL)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DUPLICATE,
                   _("%s work order %" PRId64 " already has a pending approval request (%s)"),
                   pp_work_order_kind_to_string (order->kind), order->id, pending);
      return NULL;
    }
  if (!read_binding (self, order->serial, &binding, error))
    return NULL;
  why = binding_difference (order, &binding, approved_terminal_state (order));
  if (why != NULL)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION,
                   _("%s work order %" PRId64 " cannot be put up for approval: %s; cancel it "
                     "and open a new one"), pp_work_order_kind_to_string (order->kind), order->id, why);
      return NULL;
    }

  if ((code = new_approval_code (self, error)) == NULL)
    return NULL;
  stmt = pp_store_prepare (self, "INSERT INTO approval_requests (uuid, order_id, requester, "
                                 "scanned_serial, requested_at, state, code) "
                                 "VALUES (?, ?, ?, ?, ?, 'pending', ?)",
                           error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 6, code, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 1, uuid, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, order->id);
  sqlite3_bind_text (stmt, 3, user->username, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 4, scanned, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 5, pp_store_now ());
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot record the approval request"));
      return NULL;
    }
  detail = order_detail (order, "approval", uuid);
  if (!journal_order_detail (self, user->username, "approval.request", order, detail, error))
    return NULL;
  return read_request (self, uuid, error);
}

PpApprovalRequest *
pp_store_request_approval (PpStore     *self,
                           gint64       order_id,
                           const char  *requester,
                           const char  *scanned_serial,
                           GError     **error)
{
  g_autoptr(PpApprovalRequest) request = NULL;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);
  g_return_val_if_fail (requester != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!pp_store_begin (self, error))
    return NULL;
  request = request_step (self, order_id, requester, scanned_serial, error);
  if (request == NULL || !pp_store_commit (self, error))
    {
      pp_store_rollback (self);
      return NULL;
    }
  return g_steal_pointer (&request);
}

gboolean
pp_store_decide_approval_request (PpStore     *self,
                                  const char  *uuid,
                                  const char  *approver,
                                  gboolean     approve,
                                  const char  *reason,
                                  GError     **error)
{
  g_autoptr(PpApprovalRequest) request = NULL;

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (uuid != NULL, FALSE);
  g_return_val_if_fail (approver != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!pp_store_begin (self, error))
    return FALSE;
  request = read_request (self, uuid, error);
  if (request == NULL)
    goto fail;
  if (request->state != PP_APPROVAL_REQUEST_PENDING)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION,
                   _("approval %s is %s already; only a pending approval can be decided"),
                   request->uuid, request_states[request->state]);
      goto fail;
    }
  if (!decide_step (self, request->order_id, request->uuid, approver, approve, reason, error))
    goto fail;
  return pp_store_commit (self, error);

fail:
  pp_store_rollback (self);
  return FALSE;
}
