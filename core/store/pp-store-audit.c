/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-store-audit.c: the hash-chained audit journal (append inside the
 * caller's transaction, verify). The chain rule is documented in pp-store.h.
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include <inttypes.h>
#include <string.h>

#include "pp-store-private.h"

#define GENESIS_HASH "0000000000000000000000000000000000000000000000000000000000000000"

static void
put_field (GChecksum  *sum,
           const char *value)
{
  char len[32];

  g_snprintf (len, sizeof len, "%" G_GSIZE_FORMAT ":", strlen (value));
  g_checksum_update (sum, (const guchar *) len, -1);
  g_checksum_update (sum, (const guchar *) value, strlen (value));
  g_checksum_update (sum, (const guchar *) ",", 1);
}

static void
put_int (GChecksum *sum,
         gint64     value)
{
  char text[32];

  g_snprintf (text, sizeof text, "%" G_GINT64_FORMAT, value);
  put_field (sum, text);
}

static char *
entry_hash (gint64      seq,
            gint64      time,
            const char *actor,
            const char *action,
            const char *subject,
            const char *detail,
            const char *prev_hash)
{
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);

  put_int (sum, seq);
  put_int (sum, time);
  put_field (sum, actor);
  put_field (sum, action);
  put_field (sum, subject);
  put_field (sum, detail);
  put_field (sum, prev_hash);
  return g_strdup (g_checksum_get_string (sum));
}

gboolean
pp_store_audit_append (PpStore     *self,
                       const char  *actor,
                       const char  *action,
                       const char  *subject,
                       JsonNode    *detail,
                       GError     **error)
{
  g_autoptr(JsonNode) owned = detail;
  g_autoptr(sqlite3_stmt) head = NULL;
  g_autoptr(sqlite3_stmt) insert = NULL;
  g_autoptr(sqlite3_stmt) update = NULL;
  g_autofree char *detail_text = NULL;
  g_autofree char *prev_hash = NULL;
  g_autofree char *hash = NULL;
  gint64 seq = 1;
  gint64 now = pp_store_now ();
  int rc;

  g_assert (!sqlite3_get_autocommit (self->db));

  detail_text = owned != NULL ? json_to_string (owned, FALSE) : g_strdup ("{}");

  /* The head, not max(seq): after a deleted tail the next entry leaves a
   * visible gap instead of silently taking the deleted seq. */
  head = pp_store_prepare (self, "SELECT seq, hash FROM audit_head WHERE id = 1", error);
  if (head == NULL)
    return FALSE;
  rc = sqlite3_step (head);
  if (rc == SQLITE_ROW)
    {
      seq = sqlite3_column_int64 (head, 0) + 1;
      prev_hash = g_strdup ((const char *) sqlite3_column_text (head, 1));
    }
  else if (rc == SQLITE_DONE)
    prev_hash = g_strdup (GENESIS_HASH);
  else
    {
      pp_store_set_sql_error (self, error, _("cannot read the audit journal"));
      return FALSE;
    }

  hash = entry_hash (seq, now, actor, action, subject, detail_text, prev_hash);

  insert = pp_store_prepare (self,
                             "INSERT INTO audit (seq, time, actor, action, subject, detail, prev_hash, hash) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", error);
  if (insert == NULL)
    return FALSE;
  sqlite3_bind_int64 (insert, 1, seq);
  sqlite3_bind_int64 (insert, 2, now);
  sqlite3_bind_text (insert, 3, actor, -1, SQLITE_STATIC);
  sqlite3_bind_text (insert, 4, action, -1, SQLITE_STATIC);
  sqlite3_bind_text (insert, 5, subject, -1, SQLITE_STATIC);
  sqlite3_bind_text (insert, 6, detail_text, -1, SQLITE_STATIC);
  sqlite3_bind_text (insert, 7, prev_hash, -1, SQLITE_STATIC);
  sqlite3_bind_text (insert, 8, hash, -1, SQLITE_STATIC);
  if (sqlite3_step (insert) != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot append to the audit journal"));
      return FALSE;
    }

  update = pp_store_prepare (self,
                             "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) "
                             "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                             error);
  if (update == NULL)
    return FALSE;
  sqlite3_bind_int64 (update, 1, seq);
  sqlite3_bind_text (update, 2, hash, -1, SQLITE_STATIC);
  if (sqlite3_step (update) != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot append to the audit journal"));
      return FALSE;
    }
  return TRUE;
}

static const char *
column_text (sqlite3_stmt *stmt,
             int           col)
{
  const unsigned char *text = sqlite3_column_text (stmt, col);

  return text != NULL ? (const char *) text : "";
}

static gboolean
report (gint64      *out_first_bad_seq,
        gint64       seq,
        GError     **error,
        const char  *format,
        ...) G_GNUC_PRINTF (4, 5);

static gboolean
report (gint64      *out_first_bad_seq,
        gint64       seq,
        GError     **error,
        const char  *format,
        ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  if (out_first_bad_seq != NULL)
    *out_first_bad_seq = seq;
  g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID, message);
  return FALSE;
}

gboolean
pp_store_audit_verify (PpStore  *self,
                       gint64   *out_first_bad_seq,
                       guint64  *out_n_entries,
                       GError  **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(sqlite3_stmt) head = NULL;
  g_autofree char *prev_stored = g_strdup (GENESIS_HASH);
  gint64 expected = 1;
  guint64 n = 0;
  int rc;

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (out_first_bad_seq != NULL)
    *out_first_bad_seq = 0;
  if (out_n_entries != NULL)
    *out_n_entries = 0;

  /* One read transaction: entries appended meanwhile by another
   * connection cannot make the head look ahead of the walk. */
  if (!pp_store_exec (self, "BEGIN", error))
    return FALSE;

  stmt = pp_store_prepare (self,
                           "SELECT seq, time, actor, action, subject, detail, prev_hash, hash "
                           "FROM audit ORDER BY seq", error);
  if (stmt == NULL)
    goto fail;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 seq = sqlite3_column_int64 (stmt, 0);
      const char *prev_hash = column_text (stmt, 6);
      const char *stored = column_text (stmt, 7);
      g_autofree char *computed = entry_hash (seq, sqlite3_column_int64 (stmt, 1),
                                              column_text (stmt, 2), column_text (stmt, 3),
                                              column_text (stmt, 4), column_text (stmt, 5),
                                              prev_hash);

      if (out_n_entries != NULL)
        *out_n_entries = n;
      if (seq != expected)
        {
          report (out_first_bad_seq, expected, error,
                  _("audit entry %" PRId64 " is missing (deleted); the next entry is %"
                  PRId64), expected, seq);
          goto fail;
        }
      if (strcmp (computed, stored) != 0)
        {
          report (out_first_bad_seq, seq, error,
                  _("audit entry %" PRId64 " was changed or moved: its contents do not "
                  "match its hash"), seq);
          goto fail;
        }
      if (strcmp (prev_hash, prev_stored) != 0)
        {
          report (out_first_bad_seq, seq - 1, error,
                  _("audit entry %" PRId64 " was rewritten: entry %" PRId64
                  " recorded a different hash for it"), seq - 1, seq);
          goto fail;
        }
      g_free (prev_stored);
      prev_stored = g_strdup (stored);
      expected++;
      n++;
    }
  if (rc != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot read the audit journal"));
      goto fail;
    }
  if (out_n_entries != NULL)
    *out_n_entries = n;

  head = pp_store_prepare (self, "SELECT seq, hash FROM audit_head WHERE id = 1", error);
  if (head == NULL)
    goto fail;
  rc = sqlite3_step (head);
  if (rc == SQLITE_ROW)
    {
      gint64 head_seq = sqlite3_column_int64 (head, 0);

      if (head_seq > expected - 1)
        {
          report (out_first_bad_seq, expected, error,
                  _("audit entry %" PRId64 " is missing (deleted); the journal should "
                  "end at entry %" PRId64), expected, head_seq);
          goto fail;
        }
      if (head_seq == expected - 1 && strcmp (column_text (head, 1), prev_stored) != 0)
        {
          report (out_first_bad_seq, head_seq, error,
                  _("audit entry %" PRId64 " was rewritten: it does not match the "
                  "recorded end of the journal"), head_seq);
          goto fail;
        }
      if (head_seq < expected - 1)
        {
          report (out_first_bad_seq, head_seq + 1, error,
                  _("audit entry %" PRId64 " was added outside posprov"), head_seq + 1);
          goto fail;
        }
    }
  else if (rc == SQLITE_DONE)
    {
      if (n > 0)
        {
          report (out_first_bad_seq, 1, error, _("the record of the journal's end is missing"));
          goto fail;
        }
    }
  else
    {
      pp_store_set_sql_error (self, error, _("cannot read the audit journal"));
      goto fail;
    }

  g_clear_pointer (&stmt, sqlite3_finalize);
  g_clear_pointer (&head, sqlite3_finalize);
  pp_store_exec (self, "COMMIT", NULL);
  return TRUE;

fail:
  g_clear_pointer (&stmt, sqlite3_finalize);
  g_clear_pointer (&head, sqlite3_finalize);
  pp_store_rollback (self);
  return FALSE;
}

void
pp_audit_entry_free (PpAuditEntry *entry)
{
  if (entry == NULL)
    return;
  g_free (entry->actor);
  g_free (entry->action);
  g_free (entry->subject);
  g_free (entry->detail);
  g_free (entry->hash);
  g_free (entry);
}

GPtrArray *
pp_store_list_audit (PpStore  *self,
                     gint64    after_seq,
                     guint     limit,
                     GError  **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GPtrArray) result = NULL;
  int rc;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  stmt = pp_store_prepare (self,
                           "SELECT seq, time, actor, action, subject, detail, hash FROM audit "
                           "WHERE seq > ? ORDER BY seq LIMIT ?", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, after_seq);
  sqlite3_bind_int64 (stmt, 2, limit);
  result = g_ptr_array_new_with_free_func ((GDestroyNotify) pp_audit_entry_free);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      PpAuditEntry *e = g_new0 (PpAuditEntry, 1);

      e->seq = sqlite3_column_int64 (stmt, 0);
      e->time = sqlite3_column_int64 (stmt, 1);
      e->actor = g_strdup (column_text (stmt, 2));
      e->action = g_strdup (column_text (stmt, 3));
      e->subject = g_strdup (column_text (stmt, 4));
      e->detail = g_strdup (column_text (stmt, 5));
      e->hash = g_strdup (column_text (stmt, 6));
      g_ptr_array_add (result, e);
    }
  if (rc != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot read the audit journal"));
      return NULL;
    }
  return g_steal_pointer (&result);
}
