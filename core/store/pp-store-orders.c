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
  [PP_WORK_ORDER_KIND_RECYCLE] = {
    [PP_WORK_ORDER_STATE_OPEN] = OBIT (PP_WORK_ORDER_STATE_CLOSED),
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
  g_free (order->requester);
  g_free (order->reason);
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
  "created_at, updated_at"

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
                           "SELECT id, order_id, requester, approver, decision, reason, decided_at, "
                           "serial, mid, tid FROM approvals WHERE order_id = ? ORDER BY id", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, order_id);
  result = g_ptr_array_new_with_free_func ((GDestroyNotify) pp_approval_free);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
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
      g_ptr_array_add (result, a);
    }
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

/* Who may do what: field managers and administrators run orders, reviewers
 * decide them (and nothing else, so no one approves what they carried out). */
#define ORDER_RUNNERS (PP_USER_ROLE_BIT (PP_USER_ROLE_FIELD_MANAGER) | \
                       PP_USER_ROLE_BIT (PP_USER_ROLE_ADMINISTRATOR))
#define ORDER_DECIDERS PP_USER_ROLE_BIT (PP_USER_ROLE_REVIEWER)

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

/* The opening of every step a runner takes on an existing order: the
 * transaction, the order and the acting user, who must be a runner. On
 * failure nothing is left open. */
static gboolean
begin_runner_step (PpStore      *self,
                   gint64        order_id,
                   const char   *actor,
                   const char   *verb,
                   PpWorkOrder **out_order,
                   PpUser      **out_user,
                   GError      **error)
{
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(PpUser) user = NULL;

  if (!pp_store_begin (self, error))
    return FALSE;
  order = read_order (self, order_id, error);
  if (order == NULL ||
      (user = require_order_actor (self, actor, ORDER_RUNNERS, verb, order, error)) == NULL)
    {
      pp_store_rollback (self);
      return FALSE;
    }
  *out_order = g_steal_pointer (&order);
  *out_user = g_steal_pointer (&user);
  return TRUE;
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

/* ---- verbs ---- */

PpWorkOrder *
pp_store_create_install_order (PpStore     *self,
                               const char  *serial,
                               gint64       merchant_id,
                               const char  *program_version,
                               const char  *requester,
                               GError     **error)
{
  g_autofree char *upper = NULL;
  g_autoptr(PpUser) user = NULL;
  g_autoptr(PpMerchant) merchant = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  char tid[16];
  gint64 now = pp_store_now ();

  g_return_val_if_fail (PP_IS_STORE (self), NULL);
  g_return_val_if_fail (serial != NULL, NULL);
  g_return_val_if_fail (requester != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_program_version (program_version, error))
    return NULL;
  upper = g_ascii_strup (serial, -1);

  if (!pp_store_begin (self, error))
    return NULL;
  {
    g_autofree char *what = g_strdup_printf (_("open an install order for terminal %s"), upper);

    user = pp_store_require_actor (self, requester, ORDER_RUNNERS, what, error);
    if (user == NULL)
      goto fail;
  }
  merchant = pp_store_get_merchant (self, merchant_id, error);
  if (merchant == NULL)
    goto fail;
  /* Reserves the terminal: in_stock -> pending_install, or says why not. */
  if (!pp_store_move_terminal (self, upper, PP_TERMINAL_STATE_PENDING_INSTALL, error))
    goto fail;
  if (!pp_store_issue_number (self, "tid", tid, error))
    goto fail;
  if (!bind_terminal (self, upper, merchant->id, merchant->mid, tid, NULL, error))
    goto fail;

  stmt = pp_store_prepare (self,
                           "INSERT INTO work_orders (kind, state, serial, merchant_id, mid, tid, "
                           "program_version, requester, created_at, updated_at) "
                           "VALUES ('install', 'open', ?, ?, ?, ?, ?, ?, ?, ?)", error);
  if (stmt == NULL)
    goto fail;
  sqlite3_bind_text (stmt, 1, upper, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, merchant->id);
  sqlite3_bind_text (stmt, 3, merchant->mid, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 4, tid, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 5, program_version, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 6, user->username, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 7, now);
  sqlite3_bind_int64 (stmt, 8, now);
  order = insert_order (self, stmt, user->username, "program_version", program_version, error);
  if (order == NULL || !pp_store_commit (self, error))
    goto fail;
  return g_steal_pointer (&order);

fail:
  pp_store_rollback (self);
  return NULL;
}

/* Puts the terminal of a cancelled install order back into stock, unbound. */
static gboolean
release_terminal (PpStore      *self,
                  PpWorkOrder  *order,
                  GError      **error)
{
  return pp_store_move_terminal (self, order->serial, PP_TERMINAL_STATE_IN_STOCK, error) &&
         bind_terminal (self, order->serial, 0, NULL, NULL, NULL, error);
}

gboolean
pp_store_decide_order (PpStore     *self,
                       gint64       order_id,
                       const char  *approver,
                       gboolean     approve,
                       const char  *reason,
                       GError     **error)
{
  g_autoptr(PpUser) user = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  PpWorkOrderState to = approve ? PP_WORK_ORDER_STATE_APPROVED : PP_WORK_ORDER_STATE_CANCELLED;

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (approver != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!pp_store_begin (self, error))
    return FALSE;
  order = read_order (self, order_id, error);
  if (order == NULL)
    goto fail;
  if (order->kind != PP_WORK_ORDER_KIND_INSTALL || order->state != PP_WORK_ORDER_STATE_OPEN)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION,
                   _("%s work order %" PRId64 " is %s; only an open install order "
                   "can be approved or rejected"),
                   pp_work_order_kind_to_string (order->kind), order->id,
                   order_states[order->state].id);
      goto fail;
    }
  /* Four eyes: someone else (user names are stored lower case), holding the
   * reviewer role. */
  {
    g_autofree char *lower = g_ascii_strdown (approver, -1);

    if (g_str_equal (lower, order->requester))
      {
        g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION,
                     _("%s requested work order %" PRId64 " and cannot also approve it; "
                     "a second person must"), lower, order->id);
        goto fail;
      }
  }
  user = require_order_actor (self, approver, ORDER_DECIDERS,
                              approve ? C_("work order step", "approve")
                                      : C_("work order step", "reject"),
                              order, error);
  if (user == NULL)
    goto fail;

  stmt = pp_store_prepare (self,
                           "INSERT INTO approvals (order_id, requester, approver, decision, reason, "
                           "decided_at, serial, mid, tid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", error);
  if (stmt == NULL)
    goto fail;
  sqlite3_bind_int64 (stmt, 1, order->id);
  sqlite3_bind_text (stmt, 2, order->requester, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, user->username, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 4, approve ? "approved" : "rejected", -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 5, reason, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 6, pp_store_now ());
  sqlite3_bind_text (stmt, 7, order->serial, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 8, order->mid, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 9, order->tid, -1, SQLITE_STATIC);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot record approval"));
      goto fail;
    }

  if (!move_order (self, order, to, error))
    goto fail;
  if (!approve && !release_terminal (self, order, error))
    goto fail;
  if (!journal_order (self, user->username, approve ? "order.approve" : "order.reject", order,
                      "reason", reason, error))
    goto fail;
  return pp_store_commit (self, error);

fail:
  pp_store_rollback (self);
  return FALSE;
}

static void
journal_kcv_mismatch (PpStore     *self,
                      PpWorkOrder *order,
                      const char  *actor,
                      const char  *reported)
{
  /* Own transaction: the failed key load is journalled, nothing else changes. */
  if (!pp_store_begin (self, NULL))
    return;
  if (!journal_order (self, actor, "order.kcv_mismatch", order, "reported_kcv", reported, NULL) ||
      !pp_store_commit (self, NULL))
    pp_store_rollback (self);
}

gboolean
pp_store_order_keyed (PpStore     *self,
                      gint64       order_id,
                      const char  *expected_kcv,
                      const char  *reported_kcv,
                      const char  *actor,
                      GError     **error)
{
  g_autoptr(PpUser) user = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree char *kcv = NULL;

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_kcv_text (expected_kcv, "expected", error) ||
      !check_kcv_text (reported_kcv, "reported", error))
    return FALSE;
  kcv = g_ascii_strup (expected_kcv, -1);

  /* The actor is checked before the KCV comparison: a mismatch is
   * journalled under this name too. */
  if (!begin_runner_step (self, order_id, actor, C_("work order step", "record keying of"),
                          &order, &user, error))
    return FALSE;
  if (!pp_work_order_state_can_transition (order->kind, order->state, PP_WORK_ORDER_STATE_KEYED))
    {
      move_order (self, order, PP_WORK_ORDER_STATE_KEYED, error);
      goto fail;
    }
  if (!pp_kcv_equal (expected_kcv, reported_kcv))
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_KCV_MISMATCH,
                   _("terminal %s reported key check value %s, expected %s: the key was not "
                   "loaded correctly, the terminal is not keyed"),
                   order->serial, reported_kcv, kcv);
      pp_store_rollback (self);
      journal_kcv_mismatch (self, order, user->username, reported_kcv);
      return FALSE;
    }
  if (!pp_store_move_terminal (self, order->serial, PP_TERMINAL_STATE_KEYED, error) ||
      !move_order (self, order, PP_WORK_ORDER_STATE_KEYED, error))
    goto fail;

  stmt = pp_store_prepare (self, "UPDATE terminals SET kcv = ? WHERE serial = ?", error);
  if (stmt == NULL)
    goto fail;
  sqlite3_bind_text (stmt, 1, kcv, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, order->serial, -1, SQLITE_STATIC);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot record KCV"));
      goto fail;
    }
  g_clear_pointer (&stmt, sqlite3_finalize);
  stmt = pp_store_prepare (self, "UPDATE work_orders SET kcv = ? WHERE id = ?", error);
  if (stmt == NULL)
    goto fail;
  sqlite3_bind_text (stmt, 1, kcv, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, order->id);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot record KCV"));
      goto fail;
    }

  /* The key-loading record names the device, the key (by KCV), who loaded
   * it and who approved its release. */
  {
    g_autoptr(GPtrArray) approvals = pp_store_list_approvals (self, order->id, error);
    g_autofree char *subject = g_strdup_printf ("work order %" G_GINT64_FORMAT, order->id);
    JsonNode *detail = order_detail (order, "kcv", kcv);

    if (approvals == NULL)
      {
        json_node_unref (detail);
        goto fail;
      }
    for (guint i = 0; i < approvals->len; i++)
      {
        PpApproval *a = g_ptr_array_index (approvals, i);
        if (a->approved)
          json_object_set_string_member (json_node_get_object (detail), "approved_by", a->approver);
      }
    if (!pp_store_audit_append (self, user->username, "order.keyed", subject, detail, error))
      goto fail;
  }
  return pp_store_commit (self, error);

fail:
  pp_store_rollback (self);
  return FALSE;
}

gboolean
pp_store_order_program_installed (PpStore     *self,
                                  gint64       order_id,
                                  const char  *actor,
                                  GError     **error)
{
  g_autoptr(PpUser) user = NULL;
  g_autoptr(PpWorkOrder) order = NULL;

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!begin_runner_step (self, order_id, actor,
                          C_("work order step", "record the program installation of"),
                          &order, &user, error))
    return FALSE;
  if (!move_order (self, order, PP_WORK_ORDER_STATE_PROGRAM_INSTALLED, error) ||
      !journal_order (self, user->username, "order.program_installed", order,
                      "program_version", order->program_version, error))
    goto fail;
  return pp_store_commit (self, error);

fail:
  pp_store_rollback (self);
  return FALSE;
}

gboolean
pp_store_close_order (PpStore     *self,
                      gint64       order_id,
                      const char  *actor,
                      GError     **error)
{
  g_autoptr(PpUser) user = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!begin_runner_step (self, order_id, actor, C_("work order step", "close"),
                          &order, &user, error))
    return FALSE;
  if (!move_order (self, order, PP_WORK_ORDER_STATE_CLOSED, error))
    goto fail;

  if (order->kind == PP_WORK_ORDER_KIND_INSTALL)
    {
      if (!pp_store_move_terminal (self, order->serial, PP_TERMINAL_STATE_INSTALLED, error))
        goto fail;
      stmt = pp_store_prepare (self, "UPDATE terminals SET program_version = ? WHERE serial = ?", error);
      if (stmt == NULL)
        goto fail;
      sqlite3_bind_text (stmt, 1, order->program_version, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 2, order->serial, -1, SQLITE_STATIC);
      if (sqlite3_step (stmt) != SQLITE_DONE)
        {
          pp_store_set_sql_error (self, error, _("cannot update terminal"));
          goto fail;
        }
    }
  else if (!pp_store_move_terminal (self, order->serial, PP_TERMINAL_STATE_IN_STOCK, error))
    goto fail;

  if (!journal_order (self, user->username, "order.close", order, NULL, NULL, error))
    goto fail;
  return pp_store_commit (self, error);

fail:
  pp_store_rollback (self);
  return FALSE;
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

  if (!begin_runner_step (self, order_id, actor, C_("work order step", "cancel"),
                          &order, &user, error))
    return FALSE;
  /* Opening a recycle order cleared the terminal's merchant, MID, TID and
   * KCV and moved it to recycled, from which the lifecycle has no way back
   * to installed: undoing it would claim a key the store no longer
   * records. So a recycle order can only be closed. */
  if (order->kind == PP_WORK_ORDER_KIND_RECYCLE && order->state == PP_WORK_ORDER_STATE_OPEN)
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
  g_autoptr(PpUser) user = NULL;
  g_autoptr(PpTerminal) terminal = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  gint64 now = pp_store_now ();

  g_return_val_if_fail (PP_IS_STORE (self), NULL);
  g_return_val_if_fail (serial != NULL, NULL);
  g_return_val_if_fail (requester != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  upper = g_ascii_strup (serial, -1);
  if (!pp_store_begin (self, error))
    return NULL;
  {
    g_autofree char *what = g_strdup_printf (_("open a recycle order for terminal %s"), upper);

    user = pp_store_require_actor (self, requester, ORDER_RUNNERS, what, error);
    if (user == NULL)
      goto fail;
  }
  terminal = pp_store_get_terminal (self, upper, error);
  if (terminal == NULL)
    goto fail;
  /* installed -> recycled; the merchant binding and key check value go. */
  if (!pp_store_move_terminal (self, upper, PP_TERMINAL_STATE_RECYCLED, error) ||
      !bind_terminal (self, upper, 0, NULL, NULL, NULL, error))
    goto fail;

  stmt = pp_store_prepare (self,
                           "INSERT INTO work_orders (kind, state, serial, mid, tid, requester, reason, "
                           "created_at, updated_at) VALUES ('recycle', 'open', ?, ?, ?, ?, ?, ?, ?)",
                           error);
  if (stmt == NULL)
    goto fail;
  sqlite3_bind_text (stmt, 1, upper, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, pp_terminal_get_mid (terminal), -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, pp_terminal_get_tid (terminal), -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 4, user->username, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 5, reason, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 6, now);
  sqlite3_bind_int64 (stmt, 7, now);
  order = insert_order (self, stmt, user->username, "reason", reason, error);
  if (order == NULL || !pp_store_commit (self, error))
    goto fail;
  return g_steal_pointer (&order);

fail:
  pp_store_rollback (self);
  return NULL;
}
