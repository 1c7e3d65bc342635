/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-store-merchants.c: merchants and merchant-terminal number issuance.
 *
 * A number is issued inside the caller's BEGIN IMMEDIATE transaction: the
 * per-prefix counter is bumped and the number recorded in issued_numbers
 * (primary key) in the same transaction, so two stores on one file, in two
 * threads or two processes, never hand out the same MID or TID.
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include <inttypes.h>
#include <string.h>

#include "pp-mtn.h"
#include "pp-store-private.h"

#define MERCHANT_COLUMNS \
  "id, name, registration_number, address, mcc, contact_name, contact_phone, mid, " \
  "created_at, updated_at"

static char *
dup_text (sqlite3_stmt *stmt,
          int           col)
{
  const unsigned char *text = sqlite3_column_text (stmt, col);

  return text != NULL ? g_strdup ((const char *) text) : NULL;
}

static PpMerchant *
merchant_from_stmt (sqlite3_stmt *stmt)
{
  PpMerchant *m = g_new0 (PpMerchant, 1);

  m->id = sqlite3_column_int64 (stmt, 0);
  m->name = dup_text (stmt, 1);
  m->registration_number = dup_text (stmt, 2);
  m->address = dup_text (stmt, 3);
  m->mcc = dup_text (stmt, 4);
  m->contact_name = dup_text (stmt, 5);
  m->contact_phone = dup_text (stmt, 6);
  m->mid = dup_text (stmt, 7);
  m->created_at = sqlite3_column_int64 (stmt, 8);
  m->updated_at = sqlite3_column_int64 (stmt, 9);
  return m;
}

static char *
get_prefix (PpStore     *self,
            const char  *kind,
            GError     **error)
{
  g_autofree char *key = g_strconcat (kind, "_prefix", NULL);

  return pp_store_get_setting (self, key,
                               g_str_equal (kind, "mid") ? PP_STORE_DEFAULT_MID_PREFIX
                                                         : PP_STORE_DEFAULT_TID_PREFIX,
                               error);
}

char *
pp_store_get_mid_prefix (PpStore *self)
{
  g_return_val_if_fail (PP_IS_STORE (self), NULL);
  return get_prefix (self, "mid", NULL);
}

char *
pp_store_get_tid_prefix (PpStore *self)
{
  g_return_val_if_fail (PP_IS_STORE (self), NULL);
  return get_prefix (self, "tid", NULL);
}

static gboolean
format_number (const char  *kind,
               const char  *prefix,
               guint64      sequence,
               char         out[16],
               GError     **error)
{
  g_autoptr(GError) local = NULL;
  gboolean ok;

  if (g_str_equal (kind, "mid"))
    ok = pp_mtn_format_mid (prefix, sequence, out, &local);
  else
    ok = pp_mtn_format_tid (prefix, sequence, out, &local);
  if (!ok)
    g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID, _("%s prefix “%s”: %s"),
                 g_str_equal (kind, "mid") ? "MID" : "TID", prefix, local->message);
  return ok;
}

gboolean
pp_store_issue_number (PpStore     *self,
                       const char  *kind,
                       char         out[16],
                       GError     **error)
{
  g_autofree char *prefix = NULL;
  g_autofree char *counter = NULL;
  g_autoptr(sqlite3_stmt) seed = NULL;
  g_autoptr(sqlite3_stmt) bump = NULL;
  g_autoptr(sqlite3_stmt) record = NULL;

  g_assert (!sqlite3_get_autocommit (self->db));
  g_assert (g_str_equal (kind, "mid") || g_str_equal (kind, "tid"));

  prefix = get_prefix (self, kind, error);
  if (prefix == NULL)
    return FALSE;
  counter = g_strconcat (kind, ":", prefix, NULL);

  seed = pp_store_prepare (self, "INSERT OR IGNORE INTO counters (name, value) VALUES (?, 0)", error);
  bump = pp_store_prepare (self, "UPDATE counters SET value = value + 1 WHERE name = ? RETURNING value",
                           error);
  record = pp_store_prepare (self, "INSERT OR IGNORE INTO issued_numbers (number, kind, issued_at) "
                                   "VALUES (?, ?, ?)", error);
  if (seed == NULL || bump == NULL || record == NULL)
    return FALSE;

  sqlite3_bind_text (seed, 1, counter, -1, SQLITE_STATIC);
  if (sqlite3_step (seed) != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot issue a number"));
      return FALSE;
    }

  /* A number issued under an earlier, overlapping prefix is skipped, never
   * handed out again. */
  for (;;)
    {
      gint64 sequence;

      sqlite3_reset (bump);
      sqlite3_bind_text (bump, 1, counter, -1, SQLITE_STATIC);
      if (sqlite3_step (bump) != SQLITE_ROW)
        {
          pp_store_set_sql_error (self, error, _("cannot issue a number"));
          return FALSE;
        }
      sequence = sqlite3_column_int64 (bump, 0);
      sqlite3_reset (bump);

      if (!format_number (kind, prefix, (guint64) sequence, out, error))
        return FALSE;

      sqlite3_reset (record);
      sqlite3_bind_text (record, 1, out, -1, SQLITE_STATIC);
      sqlite3_bind_text (record, 2, kind, -1, SQLITE_STATIC);
      sqlite3_bind_int64 (record, 3, pp_store_now ());
      if (sqlite3_step (record) != SQLITE_DONE)
        {
          pp_store_set_sql_error (self, error, _("cannot record an issued number"));
          return FALSE;
        }
      if (sqlite3_changes (self->db) == 1)
        return TRUE;
    }
}

gboolean
pp_store_set_mtn_prefixes (PpStore     *self,
                           const char  *mid_prefix,
                           const char  *tid_prefix,
                           const char  *actor,
                           GError     **error)
{
  g_autoptr(JsonBuilder) detail = json_builder_new ();
  char probe[16];

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* A prefix must leave room for at least one sequence number. */
  if (mid_prefix != NULL && !format_number ("mid", mid_prefix, 1, probe, error))
    return FALSE;
  if (tid_prefix != NULL && !format_number ("tid", tid_prefix, 1, probe, error))
    return FALSE;

  if (!pp_store_begin (self, error))
    return FALSE;
  json_builder_begin_object (detail);
  if (mid_prefix != NULL)
    {
      if (!pp_store_put_setting (self, "mid_prefix", mid_prefix, error))
        goto fail;
      json_builder_set_member_name (detail, "mid_prefix");
      json_builder_add_string_value (detail, mid_prefix);
    }
  if (tid_prefix != NULL)
    {
      if (!pp_store_put_setting (self, "tid_prefix", tid_prefix, error))
        goto fail;
      json_builder_set_member_name (detail, "tid_prefix");
      json_builder_add_string_value (detail, tid_prefix);
    }
  json_builder_end_object (detail);
  if (!pp_store_audit_append (self, actor, "settings.mtn_prefixes", "settings",
                              json_builder_get_root (detail), error))
    goto fail;
  return pp_store_commit (self, error);

fail:
  pp_store_rollback (self);
  return FALSE;
}

char *
pp_store_issue_tid (PpStore     *self,
                    const char  *actor,
                    GError     **error)
{
  char tid[16];

  g_return_val_if_fail (PP_IS_STORE (self), NULL);
  g_return_val_if_fail (actor != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!pp_store_begin (self, error))
    return NULL;
  if (!pp_store_issue_number (self, "tid", tid, error) ||
      !pp_store_audit_append (self, actor, "tid.issue", tid, NULL, error) ||
      !pp_store_commit (self, error))
    {
      pp_store_rollback (self);
      return NULL;
    }
  return g_strdup (tid);
}

static char *
trimmed (const char *s)
{
  return g_strstrip (g_strdup (s));
}

PpMerchant *
pp_store_add_merchant (PpStore                 *self,
                       const PpMerchantFields  *fields,
                       const char              *actor,
                       GError                 **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(JsonBuilder) detail = json_builder_new ();
  g_autofree char *name = NULL;
  g_autofree char *reg = NULL;
  g_autofree char *address = NULL;
  g_autofree char *mcc = NULL;
  g_autofree char *contact = NULL;
  g_autofree char *phone = NULL;
  char mid[16];
  gint64 now = pp_store_now ();
  gint64 id;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);
  g_return_val_if_fail (fields != NULL, NULL);
  g_return_val_if_fail (actor != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!pp_merchant_fields_validate (fields, NULL, error))
    return NULL;

  name = trimmed (fields->name);
  reg = g_ascii_strup (fields->registration_number, -1);
  g_strstrip (reg);
  address = trimmed (fields->address);
  mcc = trimmed (fields->mcc);
  contact = trimmed (fields->contact_name);
  phone = trimmed (fields->contact_phone);

  if (!pp_store_begin (self, error))
    return NULL;
  if (!pp_store_issue_number (self, "mid", mid, error))
    goto fail;

  stmt = pp_store_prepare (self,
                           "INSERT INTO merchants (name, registration_number, address, mcc, "
                           "contact_name, contact_phone, mid, created_at, updated_at) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", error);
  if (stmt == NULL)
    goto fail;
  sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, reg, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, address, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 4, mcc, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 5, contact, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 6, phone, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 7, mid, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 8, now);
  sqlite3_bind_int64 (stmt, 9, now);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      if (sqlite3_extended_errcode (self->db) == SQLITE_CONSTRAINT_UNIQUE)
        g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DUPLICATE,
                     _("a merchant with registration number %s is already registered"), reg);
      else
        pp_store_set_sql_error (self, error, _("cannot add merchant"));
      goto fail;
    }
  id = sqlite3_last_insert_rowid (self->db);

  json_builder_begin_object (detail);
  json_builder_set_member_name (detail, "id");
  json_builder_add_int_value (detail, id);
  json_builder_set_member_name (detail, "name");
  json_builder_add_string_value (detail, name);
  json_builder_set_member_name (detail, "registration_number");
  json_builder_add_string_value (detail, reg);
  json_builder_set_member_name (detail, "mcc");
  json_builder_add_string_value (detail, mcc);
  json_builder_end_object (detail);
  if (!pp_store_audit_append (self, actor, "merchant.add", mid, json_builder_get_root (detail), error))
    goto fail;
  if (!pp_store_commit (self, error))
    return NULL;

  return pp_store_get_merchant (self, id, error);

fail:
  pp_store_rollback (self);
  return NULL;
}

static sqlite3_stmt *
prepare_merchant_where (PpStore     *self,
                        const char  *where,
                        GError     **error)
{
  g_autofree char *sql = g_strconcat ("SELECT " MERCHANT_COLUMNS " FROM merchants WHERE ", where, NULL);

  return pp_store_prepare (self, sql, error);
}

static PpMerchant *
step_merchant (PpStore       *self,
               sqlite3_stmt  *stmt,
               const char    *what,
               GError       **error)
{
  int rc = sqlite3_step (stmt);

  if (rc == SQLITE_ROW)
    return merchant_from_stmt (stmt);
  if (rc == SQLITE_DONE)
    g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_NOT_FOUND, _("no merchant %s"), what);
  else
    pp_store_set_sql_error (self, error, _("cannot read merchant"));
  return NULL;
}

PpMerchant *
pp_store_get_merchant (PpStore     *self,
                       gint64       id,
                       GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree char *what = NULL;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);

  stmt = prepare_merchant_where (self, "id = ?", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, id);
  what = g_strdup_printf (_("with id %" PRId64), id);
  return step_merchant (self, stmt, what, error);
}

PpMerchant *
pp_store_get_merchant_by_mid (PpStore     *self,
                              const char  *mid,
                              GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree char *what = NULL;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);
  g_return_val_if_fail (mid != NULL, NULL);

  stmt = prepare_merchant_where (self, "mid = ?", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, mid, -1, SQLITE_STATIC);
  what = g_strdup_printf (_("with MID %s"), mid);
  return step_merchant (self, stmt, what, error);
}

GPtrArray *
pp_store_list_merchants (PpStore  *self,
                         GError  **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GPtrArray) result = NULL;
  int rc;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);

  stmt = pp_store_prepare (self, "SELECT " MERCHANT_COLUMNS " FROM merchants ORDER BY name, id", error);
  if (stmt == NULL)
    return NULL;
  result = g_ptr_array_new_with_free_func ((GDestroyNotify) pp_merchant_free);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (result, merchant_from_stmt (stmt));
  if (rc != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot list merchants"));
      return NULL;
    }
  return g_steal_pointer (&result);
}

GPtrArray *
pp_store_search_merchants (PpStore     *self,
                           const char  *query,
                           guint        limit,
                           GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GPtrArray) result = NULL;
  g_autoptr(GString) pattern = g_string_new ("%");
  int rc;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);

  /* LIKE with the wildcards of the query escaped: a search for "50%" finds
   * "50%" and not everything starting with 50. */
  for (const char *p = query != NULL ? query : ""; *p != '\0'; p++)
    {
      if (*p == '%' || *p == '_' || *p == '\\')
        g_string_append_c (pattern, '\\');
      g_string_append_c (pattern, *p);
    }
  g_string_append_c (pattern, '%');
  stmt = pp_store_prepare (self, "SELECT " MERCHANT_COLUMNS " FROM merchants WHERE "
                                 "name LIKE ?1 ESCAPE '\\' OR registration_number LIKE ?1 ESCAPE '\\' "
                                 "OR mid LIKE ?1 ESCAPE '\\' ORDER BY name, id LIMIT ?2", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, pattern->str, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 2, limit > 0 ? (gint64) limit : -1);
  result = g_ptr_array_new_with_free_func ((GDestroyNotify) pp_merchant_free);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (result, merchant_from_stmt (stmt));
  if (rc != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot search merchants"));
      return NULL;
    }
  return g_steal_pointer (&result);
}
