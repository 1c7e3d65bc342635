/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-audit.c: the hash-chained audit journal. After many verbs the chain
 * verifies; then, on copies of the file opened with SQLite directly and the
 * append-only triggers dropped, every single entry is edited, deleted, and
 * swapped with another, and verify must name exactly the entry the rule in
 * pp-store.h says: edited k -> k, deleted k -> k, swapped j < k -> j.
 */
#include "config.h"

#include <sqlite3.h>
#include <string.h>

#include <gio/gio.h>

#include "pp-store.h"
#include "pp-test-util.h"

static char *base_path;
static char *tmp_dir;
static gint64 n_entries;

static void
sql_exec (const char *path,
          const char *sql)
{
  sqlite3 *db = NULL;
  char *msg = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  if (sqlite3_exec (db, sql, NULL, NULL, &msg) != SQLITE_OK)
    g_error ("%s: %s", sql, msg);
  sqlite3_close (db);
}

static gint64
sql_int (const char *path,
         const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 n;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  n = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return n;
}

/* A journal with a realistic mix of entries. */
static void
build_base (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = NULL;
  g_autoptr(PpUser) u0 = NULL;
  g_autoptr(PpUser) u1 = NULL;
  g_autoptr(PpUser) u2 = NULL;
  g_autoptr(PpMerchant) m = NULL;
  g_autoptr(PpWorkOrder) o = NULL;
  g_autoptr(PpKeyStore) keys = NULL;
  g_autofree char *keys_dir = NULL;
  g_autofree char *kcv = NULL;
  const char *fp = "3F1E0C9B8A7D6E5F4A3B2C1D0E9F8A7B6C5D4E3F2A1B0C9D8E7F6A5B4C3D2E1F";
  const PpMerchantFields fields = {
    "Lucky Noodle House", "91310000MA1FL7XW2B", "88 Nanjing Road", "5812", "Li Wei", "13800138000",
  };

  tmp_dir = pp_test_make_tmpdir ();
  base_path = g_build_filename (tmp_dir, "base.db", NULL);
  store = pp_store_open (base_path, &error);
  g_assert_no_error (error);

  u0 = pp_store_add_user_with_cost (store, "carol", NULL, PP_USER_ROLE_ADMINISTRATOR, PP_TEST_PASSWORD ("a0"), 8,
                                    "setup", &error);
  u1 = pp_store_add_user_with_cost (store, "alice", NULL, PP_USER_ROLE_FIELD_MANAGER, PP_TEST_PASSWORD ("a1"), 8,
                                    "carol", &error);
  u2 = pp_store_add_user_with_cost (store, "bob", NULL, PP_USER_ROLE_REVIEWER, PP_TEST_PASSWORD ("a2"), 8, "carol",
                                    &error);
  g_assert_no_error (error);
  for (int i = 0; i < 8; i++)
    {
      g_autofree char *serial = g_strdup_printf ("AUD-%04d", i);
      PpTerminalIntake row = { serial, "PAX", "A920" };

      g_assert_true (pp_store_add_terminals (store, &row, 1, "alice", &error));
      g_assert_true (pp_store_transition_terminal (store, serial, PP_TERMINAL_STATE_QUARANTINED,
                                                   "alice", "tamper \"test\"\nline two", &error));
      g_assert_true (pp_store_transition_terminal (store, serial, PP_TERMINAL_STATE_IN_STOCK,
                                                   "carol", NULL, &error));
      g_assert_no_error (error);
    }
  m = pp_store_add_merchant (store, &fields, "alice", &error);
  g_assert_no_error (error);
  g_assert_true (pp_store_set_terminal_certificate (store, "AUD-0001", fp, "alice", &error));
  o = pp_store_create_install_order (store, "AUD-0001", m->id, "1.0", PP_TMK_AES_128, "alice", &error);
  g_assert_no_error (error);
  g_assert_true (pp_store_decide_order (store, o->id, "bob", TRUE, "ok", &error));
  keys_dir = g_build_filename (tmp_dir, "keys", NULL);
  keys = pp_key_store_soft_new (keys_dir, "audit test key store", &error);
  g_assert_no_error (error);
  kcv = pp_key_store_generate_tmk (keys, "tmk", PP_TMK_AES_128, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (pp_store_order_key_released (store, o->id, keys, "tmk", "alice", &error));
  g_assert_true (pp_store_order_keyed (store, o->id, kcv, "alice", &error));
  g_assert_true (pp_store_order_program_installed (store, o->id, "alice", &error));
  g_assert_true (pp_store_close_order (store, o->id, "alice", &error));
  g_assert_no_error (error);
  g_clear_object (&store);

  sql_exec (base_path, "PRAGMA wal_checkpoint(TRUNCATE)");
  n_entries = sql_int (base_path, "SELECT count(*) FROM audit");
  g_assert_cmpint (n_entries, >=, 30);
}

static char *
copy_base (void)
{
  static int counter;
  g_autofree char *name = g_strdup_printf ("copy-%d.db", counter++);
  char *path = g_build_filename (tmp_dir, name, NULL);
  g_autoptr(GFile) src = g_file_new_for_path (base_path);
  g_autoptr(GFile) dst = g_file_new_for_path (path);
  g_autoptr(GError) error = NULL;

  g_file_copy (src, dst, G_FILE_COPY_OVERWRITE, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  return path;
}

/* Opens @path with the store and returns what verify reports (0 if intact). */
static gint64
verify_file (const char *path,
             guint64    *out_checked)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = pp_store_open (path, &error);
  gint64 bad = -1;
  gboolean ok;

  g_assert_no_error (error);
  ok = pp_store_audit_verify (store, &bad, out_checked, &error);
  if (ok)
    {
      g_assert_no_error (error);
      g_assert_cmpint (bad, ==, 0);
      return 0;
    }
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID);
  g_test_message ("verify: %s", error->message);
  g_assert_cmpint (bad, >, 0);
  return bad;
}

static void
tamper (const char *path,
        const char *sql)
{
  g_autofree char *all = g_strconcat ("PRAGMA synchronous = OFF;"
                                      "DROP TRIGGER IF EXISTS audit_no_update;"
                                      "DROP TRIGGER IF EXISTS audit_no_delete;", sql, NULL);
  sql_exec (path, all);
}

static void
test_audit_intact (void)
{
  guint64 checked = 0;

  g_assert_cmpint (verify_file (base_path, &checked), ==, 0);
  g_assert_cmpuint (checked, ==, (guint64) n_entries);
}

static void
test_audit_list (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = pp_store_open (base_path, &error);
  g_autoptr(GPtrArray) first = pp_store_list_audit (store, 0, 5, &error);
  g_autoptr(GPtrArray) rest = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  PpAuditEntry *e;
  gboolean saw_tamper_reason = FALSE;

  g_assert_no_error (error);
  g_assert_cmpuint (first->len, ==, 5);
  /* Entry 1 is carol, the first account; carol adds alice. */
  e = g_ptr_array_index (first, 1);
  g_assert_cmpint (e->seq, ==, 2);
  g_assert_cmpstr (e->action, ==, "user.add");
  g_assert_cmpstr (e->actor, ==, "carol");
  g_assert_cmpstr (e->subject, ==, "alice");
  g_assert_cmpuint (strlen (e->hash), ==, 64);

  rest = pp_store_list_audit (store, 5, 1000, &error);
  g_assert_cmpuint (rest->len, ==, (guint) n_entries - 5);
  for (guint i = 0; i < rest->len; i++)
    {
      e = g_ptr_array_index (rest, i);
      g_assert_cmpint (e->seq, ==, 6 + i);
      /* Every detail is a JSON object; text with quotes and newlines survives. */
      g_assert_true (json_parser_load_from_data (parser, e->detail, -1, &error));
      g_assert_no_error (error);
      g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
      if (g_str_equal (e->action, "terminal.transition") &&
          json_object_has_member (json_node_get_object (json_parser_get_root (parser)), "reason"))
        {
          g_assert_cmpstr (json_object_get_string_member (json_node_get_object (json_parser_get_root (parser)),
                                                          "reason"), ==, "tamper \"test\"\nline two");
          saw_tamper_reason = TRUE;
        }
      g_assert_null (strstr (e->detail, PP_TEST_PASSWORD ("a1")));
    }
  g_assert_true (saw_tamper_reason);
}

static void
test_audit_triggers (void)
{
  g_autofree char *path = copy_base ();
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "UPDATE audit SET actor = 'mallory' WHERE seq = 3", NULL, NULL, NULL),
                   ==, SQLITE_CONSTRAINT);
  g_assert_cmpint (sqlite3_exec (db, "DELETE FROM audit WHERE seq = 3", NULL, NULL, NULL),
                   ==, SQLITE_CONSTRAINT);
  sqlite3_close (db);
  g_assert_cmpint (verify_file (path, NULL), ==, 0);
}

static void
test_audit_edit_each (void)
{
  static const char * const edits[] = {
    "actor = 'mallory'",
    "detail = '{}' || ' '",
    "time = time + 1",
    "subject = subject || 'x'",
    "hash = substr (hash, 2) || '0'",
    "prev_hash = upper (prev_hash) || ''",
  };

  for (gint64 k = 1; k <= n_entries; k++)
    for (guint e = 0; e < G_N_ELEMENTS (edits); e++)
      {
        g_autofree char *path = copy_base ();
        g_autofree char *sql = g_strdup_printf ("UPDATE audit SET %s WHERE seq = %" G_GINT64_FORMAT,
                                                edits[e], k);

        /* prev_hash of entry 1 is zeros: upper() changes nothing there. */
        if (e == 5 && k == 1)
          continue;
        g_test_message ("edit %u of entry %" G_GINT64_FORMAT, e, k);
        tamper (path, sql);
        g_assert_cmpint (verify_file (path, NULL), ==, k);
      }
}

/* Independent of pp-store-audit.c: the canonical form documented in pp-store.h. */
static void
netstring (GChecksum  *sum,
           const char *value)
{
  g_autofree char *len = g_strdup_printf ("%zu:", strlen (value));

  g_checksum_update (sum, (const guchar *) len, -1);
  g_checksum_update (sum, (const guchar *) value, -1);
  g_checksum_update (sum, (const guchar *) ",", 1);
}

static void
test_audit_rewrite_with_fresh_hash (void)
{
  /* An editor who also recomputes the edited entry's hash is caught by the
   * next entry's prev_hash, and the edited entry is still the one named. */
  for (gint64 k = 1; k <= n_entries; k++)
    {
      g_autofree char *path = copy_base ();
      sqlite3 *db = NULL;
      sqlite3_stmt *stmt = NULL;
      g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
      g_autofree char *seq = NULL;
      g_autofree char *time = NULL;
      g_autofree char *sql = NULL;

      tamper (path, "");
      g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
      g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT seq, time, actor, action, subject, detail, prev_hash "
                                               "FROM audit WHERE seq = ?", -1, &stmt, NULL), ==, SQLITE_OK);
      sqlite3_bind_int64 (stmt, 1, k);
      g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
      seq = g_strdup_printf ("%" G_GINT64_FORMAT, (gint64) sqlite3_column_int64 (stmt, 0));
      time = g_strdup_printf ("%" G_GINT64_FORMAT, (gint64) sqlite3_column_int64 (stmt, 1));
      netstring (sum, seq);
      netstring (sum, time);
      netstring (sum, "mallory");
      netstring (sum, (const char *) sqlite3_column_text (stmt, 3));
      netstring (sum, (const char *) sqlite3_column_text (stmt, 4));
      netstring (sum, (const char *) sqlite3_column_text (stmt, 5));
      netstring (sum, (const char *) sqlite3_column_text (stmt, 6));
      sqlite3_finalize (stmt);
      sql = g_strdup_printf ("UPDATE audit SET actor = 'mallory', hash = '%s' WHERE seq = %" G_GINT64_FORMAT ";"
                             "UPDATE audit_head SET hash = '%s' WHERE seq = %" G_GINT64_FORMAT,
                             g_checksum_get_string (sum), k, g_checksum_get_string (sum), k);
      g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
      sqlite3_close (db);

      if (k == n_entries)
        {
          /* The last entry rewritten together with the head is a consistent
           * journal: without a key outside the file this cannot be told apart. */
          g_assert_cmpint (verify_file (path, NULL), ==, 0);
        }
      else
        g_assert_cmpint (verify_file (path, NULL), ==, k);
    }
}

static void
test_audit_delete_each (void)
{
  for (gint64 k = 1; k <= n_entries; k++)
    {
      g_autofree char *path = copy_base ();
      g_autofree char *sql = g_strdup_printf ("DELETE FROM audit WHERE seq = %" G_GINT64_FORMAT, k);

      g_test_message ("delete entry %" G_GINT64_FORMAT, k);
      tamper (path, sql);
      g_assert_cmpint (verify_file (path, NULL), ==, k);
    }

  /* Deleting a run reports its first entry. */
  {
    g_autofree char *path = copy_base ();

    tamper (path, "DELETE FROM audit WHERE seq BETWEEN 5 AND 9");
    g_assert_cmpint (verify_file (path, NULL), ==, 5);
  }
}

static void
test_audit_swap_each (void)
{
  /* Swap whole entries by exchanging their seq, for every pair of
   * neighbours and some far pairs. */
  for (gint64 j = 1; j < n_entries; j++)
    {
      gint64 partners[] = { j + 1, n_entries, (j + n_entries) / 2 };

      for (guint p = 0; p < G_N_ELEMENTS (partners); p++)
        {
          gint64 k = partners[p];
          g_autofree char *path = NULL;
          g_autofree char *sql = NULL;

          if (k <= j)
            continue;
          path = copy_base ();
          sql = g_strdup_printf ("UPDATE audit SET seq = -1 WHERE seq = %1$" G_GINT64_FORMAT ";"
                                 "UPDATE audit SET seq = %1$" G_GINT64_FORMAT " WHERE seq = %2$" G_GINT64_FORMAT ";"
                                 "UPDATE audit SET seq = %2$" G_GINT64_FORMAT " WHERE seq = -1;",
                                 j, k);
          g_test_message ("swap entries %" G_GINT64_FORMAT " and %" G_GINT64_FORMAT, j, k);
          tamper (path, sql);
          g_assert_cmpint (verify_file (path, NULL), ==, j);
        }
    }

  /* Swap the contents (everything but seq) of two entries. */
  {
    g_autofree char *path = copy_base ();

    tamper (path,
            "CREATE TEMP TABLE a AS SELECT * FROM audit WHERE seq = 4;"
            "CREATE TEMP TABLE b AS SELECT * FROM audit WHERE seq = 11;"
            "UPDATE audit SET (time, actor, action, subject, detail, prev_hash, hash) = "
            "  (SELECT time, actor, action, subject, detail, prev_hash, hash FROM b) WHERE seq = 4;"
            "UPDATE audit SET (time, actor, action, subject, detail, prev_hash, hash) = "
            "  (SELECT time, actor, action, subject, detail, prev_hash, hash FROM a) WHERE seq = 11;");
    g_assert_cmpint (verify_file (path, NULL), ==, 4);
  }
}

static void
test_audit_appends_after_tamper (void)
{
  /* Deleting the tail and then using posprov again still shows the gap. */
  g_autofree char *path = copy_base ();
  g_autofree char *sql = g_strdup_printf ("DELETE FROM audit WHERE seq = %" G_GINT64_FORMAT, n_entries);
  g_autoptr(GError) error = NULL;
  PpTerminalIntake row = { "AFTER-1", "PAX", "A920" };

  tamper (path, sql);
  {
    g_autoptr(PpStore) store = pp_store_open (path, &error);
    g_assert_true (pp_store_add_terminals (store, &row, 1, "alice", &error));
    g_assert_no_error (error);
  }
  g_assert_cmpint (verify_file (path, NULL), ==, n_entries);
}

static void
test_audit_stored_types (void)
{
  /* Read back as numbers and C strings these hash like the originals; the
   * verifier must look at what is stored. */
  static const char * const edits[] = {
    "time = CAST (time AS TEXT) || 'abc'",
    "time = time + 0.25",
    "subject = subject || char (0) || 'hidden'",
    "detail = CAST (detail AS BLOB)",
  };

  for (guint e = 0; e < G_N_ELEMENTS (edits); e++)
    {
      g_autofree char *path = copy_base ();
      g_autofree char *sql = g_strdup_printf ("UPDATE audit SET %s WHERE seq = 5", edits[e]);

      tamper (path, sql);
      g_assert_cmpint (verify_file (path, NULL), ==, 5);
    }
}

int
main (int argc, char **argv)
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  build_base ();
  g_test_add_func ("/audit/intact", test_audit_intact);
  g_test_add_func ("/audit/list", test_audit_list);
  g_test_add_func ("/audit/triggers", test_audit_triggers);
  g_test_add_func ("/audit/edit-each", test_audit_edit_each);
  g_test_add_func ("/audit/rewrite-with-fresh-hash", test_audit_rewrite_with_fresh_hash);
  g_test_add_func ("/audit/delete-each", test_audit_delete_each);
  g_test_add_func ("/audit/swap-each", test_audit_swap_each);
  g_test_add_func ("/audit/append-after-tamper", test_audit_appends_after_tamper);
  g_test_add_func ("/audit/stored-types", test_audit_stored_types);
  rc = g_test_run ();
  g_free (base_path);
  g_free (tmp_dir);
  return rc;
}
