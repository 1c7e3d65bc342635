/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-store-registry.c: what the registry seam needs of the store beyond
 * the domain verbs: idempotent requests, the change feed and the program
 * catalogue (schema 4, data/sql/0004-registry.sql).
 */
#include "config.h"

#include <inttypes.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "pp-store-private.h"

/* ---- idempotent requests ---- */

/* Inside the open transaction: the recorded result of @key (NULL: none),
 * or REQUEST_REUSED when @key was recorded for something else. */
static gboolean
lookup_request (PpStore     *self,
                const char  *key,
                const char  *verb,
                const char  *digest,
                char       **out_result,
                GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt =
    pp_store_prepare (self, "SELECT verb, digest, result FROM idempotency WHERE key = ?", error);
  int rc;

  *out_result = NULL;
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, key, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_DONE)
    return TRUE;
  if (rc != SQLITE_ROW)
    {
      pp_store_set_sql_error (self, error, _("cannot look up request"));
      return FALSE;
    }
  if (g_strcmp0 ((const char *) sqlite3_column_text (stmt, 0), verb) != 0)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_REQUEST_REUSED,
                   _("idempotency key %s was already used for another request (%s); "
                     "a new request needs a new key"),
                   key, (const char *) sqlite3_column_text (stmt, 0));
      return FALSE;
    }
  if (g_strcmp0 ((const char *) sqlite3_column_text (stmt, 1), digest) != 0)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_REQUEST_REUSED,
                   _("idempotency key %s was already used for a %s request with other "
                     "arguments; a new request needs a new key"), key, verb);
      return FALSE;
    }
  *out_result = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
  return TRUE;
}

static gboolean
insert_request (PpStore     *self,
                const char  *key,
                const char  *verb,
                const char  *digest,
                const char  *result,
                GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt =
    pp_store_prepare (self, "INSERT INTO idempotency (key, verb, digest, result, created_at) "
                            "VALUES (?, ?, ?, ?, ?)", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, verb, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, digest, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 4, result, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 5, pp_store_now ());
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot record request"));
      return FALSE;
    }
  return TRUE;
}

gboolean
pp_store_run_request (PpStore             *self,
                      const char          *key,
                      const char          *verb,
                      const char          *digest,
                      PpStoreRequestFunc   func,
                      gpointer             user_data,
                      char               **out_result,
                      gboolean            *out_replayed,
                      GError             **error)
{
  g_autofree char *recorded = NULL;
  g_autofree char *result = NULL;
  g_autoptr(GError) local = NULL;
  gboolean ok;

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (key != NULL && verb != NULL && digest != NULL, FALSE);
  g_return_val_if_fail (func != NULL, FALSE);
  g_return_val_if_fail (out_result != NULL, FALSE);
  g_return_val_if_fail (!self->in_request, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (out_replayed != NULL)
    *out_replayed = FALSE;
  if (!pp_store_begin (self, error))
    return FALSE;
  if (!lookup_request (self, key, verb, digest, &recorded, error))
    {
      pp_store_rollback (self);
      return FALSE;
    }
  if (recorded != NULL)
    {
      pp_store_rollback (self);
      *out_result = g_steal_pointer (&recorded);
      if (out_replayed != NULL)
        *out_replayed = TRUE;
      return TRUE;
    }

  self->in_request = TRUE;
  self->inner_open = 0;
  self->request_doomed = FALSE;
  ok = func (self, user_data, &result, &local);
  /* A verb that left its savepoint open (it should not) is undone. */
  pp_store_rollback (self);
  self->in_request = FALSE;

  if (self->request_doomed)
    {
      pp_store_rollback (self);
      if (local != NULL)
        g_propagate_error (error, g_steal_pointer (&local));
      else
        g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_SQL,
                             _("the request could not be recorded and was undone"));
      return FALSE;
    }
  if (!ok)
    {
      /* Keep what the failing verb recorded on its way out (a voided
       * approval, a KCV mismatch); the key stays free for a retry. */
      if (!pp_store_commit (self, NULL))
        pp_store_rollback (self);
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (result == NULL || !insert_request (self, key, verb, digest, result, error) ||
      !pp_store_commit (self, error))
    {
      if (result == NULL)
        g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_SQL,
                             _("the request gave no result to record"));
      pp_store_rollback (self);
      return FALSE;
    }
  *out_result = g_steal_pointer (&result);
  return TRUE;
}

gboolean
pp_store_find_request (PpStore      *self,
                       const char   *key,
                       const char   *verb,
                       const char   *digest,
                       char        **out_result,
                       GError      **error)
{
  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (key != NULL && verb != NULL && digest != NULL, FALSE);
  g_return_val_if_fail (out_result != NULL, FALSE);

  return lookup_request (self, key, verb, digest, out_result, error);
}

gboolean
pp_store_record_request (PpStore      *self,
                         const char   *key,
                         const char   *verb,
                         const char   *digest,
                         const char   *result,
                         GError      **error)
{
  g_autofree char *recorded = NULL;

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (key != NULL && verb != NULL && digest != NULL && result != NULL, FALSE);

  if (!pp_store_begin (self, error))
    return FALSE;
  if (!lookup_request (self, key, verb, digest, &recorded, error) ||
      (recorded == NULL && !insert_request (self, key, verb, digest, result, error)))
    {
      pp_store_rollback (self);
      return FALSE;
    }
  return pp_store_commit (self, error);
}

/* ---- change feed ---- */

void
pp_change_free (PpChange *change)
{
  if (change == NULL)
    return;
  g_free (change->kind);
  g_free (change->key);
  g_free (change);
}

GPtrArray *
pp_store_list_changes (PpStore  *self,
                       gint64    after_seq,
                       guint     limit,
                       GError  **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GPtrArray) result = NULL;
  int rc;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);

  stmt = pp_store_prepare (self, "SELECT seq, kind, key, time FROM changes WHERE seq > ? "
                                 "ORDER BY seq LIMIT ?", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, after_seq);
  sqlite3_bind_int64 (stmt, 2, limit > 0 ? (gint64) limit : -1);
  result = g_ptr_array_new_with_free_func ((GDestroyNotify) pp_change_free);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      PpChange *c = g_new0 (PpChange, 1);

      c->seq = sqlite3_column_int64 (stmt, 0);
      c->kind = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
      c->key = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
      c->time = sqlite3_column_int64 (stmt, 3);
      g_ptr_array_add (result, c);
    }
  if (rc != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot read the change feed"));
      return NULL;
    }
  return g_steal_pointer (&result);
}

gboolean
pp_store_get_change_cursor (PpStore  *self,
                            gint64   *out_seq,
                            GError  **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (out_seq != NULL, FALSE);

  /* sqlite_sequence remembers the highest seq ever handed out, also when
   * that row was replaced since. */
  stmt = pp_store_prepare (self, "SELECT coalesce ((SELECT seq FROM sqlite_sequence "
                                 "WHERE name = 'changes'), 0)", error);
  if (stmt == NULL)
    return FALSE;
  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      pp_store_set_sql_error (self, error, _("cannot read the change feed"));
      return FALSE;
    }
  *out_seq = sqlite3_column_int64 (stmt, 0);
  return TRUE;
}

/* ---- program catalogue ---- */

void
pp_program_record_free (PpProgramRecord *record)
{
  if (record == NULL)
    return;
  g_free (record->model);
  g_free (record->name);
  g_free (record->version);
  g_free (record->sha256);
  g_free (record);
}

#define PROGRAM_COLUMNS "id, model, name, version, sha256, size, created_at"

static PpProgramRecord *
program_from_stmt (sqlite3_stmt *stmt)
{
  PpProgramRecord *p = g_new0 (PpProgramRecord, 1);

  p->id = sqlite3_column_int64 (stmt, 0);
  p->model = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
  p->name = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
  p->version = g_strdup ((const char *) sqlite3_column_text (stmt, 3));
  p->sha256 = g_strdup ((const char *) sqlite3_column_text (stmt, 4));
  p->size = (guint64) sqlite3_column_int64 (stmt, 5);
  p->created_at = sqlite3_column_int64 (stmt, 6);
  return p;
}

static gboolean
check_program_text (const char  *value,
                    const char  *field,
                    GError     **error)
{
  if (value == NULL || *value == '\0' || strlen (value) > 64 || !g_utf8_validate (value, -1, NULL))
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                   _("program %s must be 1-64 characters"), field);
      return FALSE;
    }
  return TRUE;
}

PpProgramRecord *
pp_store_add_program (PpStore     *self,
                      const char  *model,
                      const char  *name,
                      const char  *version,
                      const char  *sha256,
                      guint64      size,
                      const char  *actor,
                      GError     **error)
{
  g_autoptr(PpUser) user = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(JsonBuilder) detail = NULL;
  g_autofree char *digest = NULL;
  g_autofree char *subject = NULL;
  g_autofree char *what = NULL;
  gint64 id;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);
  g_return_val_if_fail (actor != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_program_text (model, "model", error) || !check_program_text (name, "name", error) ||
      !check_program_text (version, "version", error))
    return NULL;
  digest = sha256 != NULL ? g_ascii_strdown (sha256, -1) : NULL;
  if (digest == NULL || strlen (digest) != 64 || strspn (digest, "0123456789abcdef") != 64)
    {
      g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                           _("a program's SHA-256 must be 64 hexadecimal digits"));
      return NULL;
    }
  if (size > G_MAXINT64)
    {
      g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID, _("program size is too large"));
      return NULL;
    }
  subject = g_strdup_printf ("%s %s %s", model, name, version);
  /* Translators: "add program A920 pay 1.2.0 to the catalogue" */
  what = g_strdup_printf (_("add program %s to the catalogue"), subject);

  if (!pp_store_begin (self, error))
    return NULL;
  user = pp_store_require_actor (self, actor, PP_STORE_ORDER_RUNNERS, what, error);
  if (user == NULL)
    goto fail;
  stmt = pp_store_prepare (self, "INSERT INTO programs (model, name, version, sha256, size, created_at) "
                                 "VALUES (?, ?, ?, ?, ?, ?)", error);
  if (stmt == NULL)
    goto fail;
  sqlite3_bind_text (stmt, 1, model, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, name, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, version, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 4, digest, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 5, (gint64) size);
  sqlite3_bind_int64 (stmt, 6, pp_store_now ());
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      if (sqlite3_extended_errcode (self->db) == SQLITE_CONSTRAINT_UNIQUE)
        g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DUPLICATE,
                     _("program %s is already in the catalogue"), subject);
      else
        pp_store_set_sql_error (self, error, _("cannot add program"));
      goto fail;
    }
  id = sqlite3_last_insert_rowid (self->db);
  detail = json_builder_new ();
  json_builder_begin_object (detail);
  json_builder_set_member_name (detail, "sha256");
  json_builder_add_string_value (detail, digest);
  json_builder_set_member_name (detail, "size");
  json_builder_add_int_value (detail, (gint64) size);
  json_builder_end_object (detail);
  if (!pp_store_audit_append (self, user->username, "program.add", subject,
                              json_builder_get_root (detail), error))
    goto fail;
  g_clear_pointer (&stmt, sqlite3_finalize);
  stmt = pp_store_prepare (self, "SELECT " PROGRAM_COLUMNS " FROM programs WHERE id = ?", error);
  if (stmt == NULL)
    goto fail;
  sqlite3_bind_int64 (stmt, 1, id);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      pp_store_set_sql_error (self, error, _("cannot add program"));
      goto fail;
    }
  {
    g_autoptr(PpProgramRecord) record = program_from_stmt (stmt);

    g_clear_pointer (&stmt, sqlite3_finalize);
    if (!pp_store_commit (self, error))
      return NULL;
    return g_steal_pointer (&record);
  }

fail:
  pp_store_rollback (self);
  return NULL;
}

GPtrArray *
pp_store_list_programs (PpStore     *self,
                        const char  *model,
                        GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GPtrArray) result = NULL;
  int rc;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);

  stmt = pp_store_prepare (self, model != NULL
                                 ? "SELECT " PROGRAM_COLUMNS " FROM programs WHERE model = ? "
                                   "ORDER BY model, name, version"
                                 : "SELECT " PROGRAM_COLUMNS " FROM programs ORDER BY model, name, version",
                           error);
  if (stmt == NULL)
    return NULL;
  if (model != NULL)
    sqlite3_bind_text (stmt, 1, model, -1, SQLITE_STATIC);
  result = g_ptr_array_new_with_free_func ((GDestroyNotify) pp_program_record_free);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (result, program_from_stmt (stmt));
  if (rc != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot list programs"));
      return NULL;
    }
  return g_steal_pointer (&result);
}
