/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-store.c: opening the store, migrations, the schema version guard and
 * the terminal register (intake, lookup, listing, search, filter), on real
 * SQLite files.
 */
#include "config.h"

#include <sqlite3.h>
#include <string.h>

#include "pp-store.h"
#include "pp-test-util.h"

static char *
new_db_path (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();

  return g_build_filename (dir, "nested", "folder", "store.db", NULL);
}

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

static char *
sql_text (const char *path,
          const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  char *result = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    result = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return result;
}

/* Opens a fresh store whose first account, the administrator "alice",
 * may make the plain terminal moves. */
static PpStore *
open_with_admin (const char  *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = pp_store_open (path, &error);
  g_autoptr(PpUser) alice = NULL;

  g_assert_no_error (error);
  alice = pp_store_add_user_with_cost (store, "alice", NULL, PP_USER_ROLE_ADMINISTRATOR, PP_TEST_PASSWORD ("s1"), 10,
                                       "setup", &error);
  g_assert_no_error (error);
  return g_steal_pointer (&store);
}

static void
test_store_open (void)
{
  g_autofree char *path = new_db_path ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = pp_store_open (path, &error);
  g_autofree char *mode = NULL;
  g_autofree char *version = NULL;
  g_autofree char *fk = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (store);
  g_assert_cmpstr (pp_store_get_path (store), ==, path);
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpint (pp_store_get_schema_version (store), >=, 1);
  g_assert_cmpint (pp_store_get_schema_version (store), ==, pp_store_get_supported_schema_version ());

  mode = sql_text (path, "PRAGMA journal_mode");
  g_assert_cmpstr (mode, ==, "wal");
  version = sql_text (path, "PRAGMA user_version");
  g_assert_cmpint (atoi (version), ==, pp_store_get_schema_version (store));
  fk = sql_text (path, "SELECT count(*) FROM sqlite_master WHERE name = 'terminals'");
  g_assert_cmpstr (fk, ==, "1");

  /* Reopening applies nothing twice. */
  g_clear_object (&store);
  store = pp_store_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (pp_store_get_schema_version (store), ==, pp_store_get_supported_schema_version ());
  g_assert_true (pp_store_audit_verify (store, NULL, NULL, &error));
  g_assert_no_error (error);
}

static void
test_store_newer_schema (void)
{
  g_autofree char *path = new_db_path ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = pp_store_open (path, &error);
  g_autofree char *expected = NULL;
  int newer = pp_store_get_supported_schema_version () + 7;
  g_autofree char *sql = g_strdup_printf ("PRAGMA user_version = %d", newer);

  g_assert_no_error (error);
  g_clear_object (&store);

  sql_exec (path, sql);
  store = pp_store_open (path, &error);
  g_assert_null (store);
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_NEWER_SCHEMA);
  expected = g_strdup_printf ("database schema version %d is newer than this posprov (%d)",
                              newer, pp_store_get_supported_schema_version ());
  g_assert_true (g_str_has_prefix (error->message, expected));
}

static gpointer
open_thread (gpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = pp_store_open (data, &error);

  g_assert_no_error (error);
  g_assert_cmpint (pp_store_get_schema_version (store), ==, pp_store_get_supported_schema_version ());
  return NULL;
}

/* Two first starts at once on a brand-new file: both open, migrations once. */
static void
test_store_open_race (void)
{
  for (int round = 0; round < 10; round++)
    {
      g_autofree char *path = new_db_path ();
      GThread *a = g_thread_new ("open-a", open_thread, path);
      GThread *b = g_thread_new ("open-b", open_thread, path);
      g_autofree char *tables = NULL;

      g_thread_join (a);
      g_thread_join (b);
      tables = sql_text (path, "SELECT count(*) FROM sqlite_master WHERE name = 'terminals'");
      g_assert_cmpstr (tables, ==, "1");
    }
}

static void
test_store_not_a_database (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "junk.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = NULL;

  g_assert_true (g_file_set_contents (path, "this is certainly not an SQLite database, it is text\n"
                                      "padding padding padding padding padding padding padding\n",
                                      -1, NULL));
  store = pp_store_open (path, &error);
  g_assert_null (store);
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_OPEN);
}

static void
assert_serials (GPtrArray  *list,
                const char *expected)
{
  g_autoptr(GString) got = g_string_new ("");

  g_assert_nonnull (list);
  for (guint i = 0; i < list->len; i++)
    {
      if (i > 0)
        g_string_append_c (got, ' ');
      g_string_append (got, pp_terminal_get_serial (g_ptr_array_index (list, i)));
    }
  g_assert_cmpstr (got->str, ==, expected);
}

/* A folder where a file was expected: a plain reason, not SQLite's
 * "unable to open database file". */
static void
test_store_folder (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = pp_store_open (dir, &error);

  g_assert_null (store);
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_OPEN);
  g_assert_nonnull (strstr (error->message, "it is a folder"));
  g_clear_error (&error);

  store = pp_store_open_read_only (dir, &error);
  g_assert_null (store);
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_OPEN);
  g_assert_nonnull (strstr (error->message, "it is a folder"));
}

/* Read-only: the register and the journal can be read, nothing can be
 * written, and the file is byte for byte what it was. */
static void
test_store_read_only (void)
{
  g_autofree char *path = new_db_path ();
  g_autofree char *missing = g_strconcat (path, ".absent", NULL);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  gsize before_len, after_len;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = pp_store_open (path, &error);
  g_autoptr(PpTerminal) terminal = NULL;
  g_autoptr(GPtrArray) list = NULL;
  const PpTerminalIntake rows[] = { { "RO0001", "PAX", "A920" } };
  const PpTerminalIntake more[] = { { "RO0002", "PAX", "A920" } };
  guint64 n_entries = 0;
  gint64 first_bad = -1;
  g_autofree char *sql = NULL;

  g_assert_no_error (error);
  g_assert_true (pp_store_add_terminals (store, rows, 1, "alice", &error));
  g_assert_no_error (error);
  g_clear_object (&store);
  g_assert_true (g_file_get_contents (path, &before, &before_len, NULL));

  store = pp_store_open_read_only (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (pp_store_get_schema_version (store), ==, pp_store_get_supported_schema_version ());
  terminal = pp_store_get_terminal (store, "ro0001", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pp_terminal_get_vendor (terminal), ==, "PAX");
  list = pp_store_list_terminals (store, NULL, PP_TERMINAL_STATE_ANY, 0, 10, &error);
  g_assert_no_error (error);
  assert_serials (list, "RO0001");
  g_assert_true (pp_store_audit_verify (store, &first_bad, &n_entries, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_entries, ==, 1);

  g_assert_false (pp_store_add_terminals (store, more, 1, "alice", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_OPEN);
  g_clear_error (&error);
  g_clear_object (&store);

  g_assert_true (g_file_get_contents (path, &after, &after_len, NULL));
  g_assert_cmpmem (before, before_len, after, after_len);

  /* Not created when absent, unlike pp_store_open. */
  g_assert_null (pp_store_open_read_only (missing, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_OPEN);
  g_assert_false (g_file_test (missing, G_FILE_TEST_EXISTS));
  g_clear_error (&error);

  /* A newer store is refused the same way as for writing. */
  sql = g_strdup_printf ("PRAGMA user_version = %d", pp_store_get_supported_schema_version () + 1);
  sql_exec (path, sql);
  g_assert_null (pp_store_open_read_only (path, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_NEWER_SCHEMA);
  g_clear_error (&error);

  /* An SQLite file that is no posprov store. */
  sql_exec (path, "PRAGMA user_version = 0");
  g_assert_null (pp_store_open_read_only (path, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_OPEN);
  g_assert_nonnull (strstr (error->message, "not a posprov store"));
}

/* Keyset pages: every terminal once, in serial order, whatever the page size. */
static void
test_store_list_after (void)
{
  g_autofree char *path = new_db_path ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = open_with_admin (path);
  const PpTerminalIntake rows[] = {
    { "K-0005", "PAX", "A920" }, { "K-0001", "PAX", "A920" }, { "K-0003", "PAX", "A920" },
    { "K-0002", "PAX", "A920" }, { "K-0004", "PAX", "A920" },
  };
  g_autoptr(GPtrArray) page = NULL;

  g_assert_no_error (error);
  g_assert_true (pp_store_add_terminals (store, rows, G_N_ELEMENTS (rows), "alice", &error));
  g_assert_true (pp_store_transition_terminal (store, "K-0002", PP_TERMINAL_STATE_RETIRED, "alice",
                                               NULL, &error));
  g_assert_true (pp_store_transition_terminal (store, "K-0005", PP_TERMINAL_STATE_RETIRED, "alice",
                                               NULL, &error));
  g_assert_no_error (error);

  for (guint size = 1; size <= 6; size++)
    {
      g_autoptr(GString) seen = g_string_new ("");
      g_autofree char *after = NULL;

      for (;;)
        {
          g_autoptr(GPtrArray) p = pp_store_list_terminals_after (store, PP_TERMINAL_STATE_ANY,
                                                                  after, size, &error);
          g_assert_no_error (error);
          g_assert_cmpuint (p->len, <=, size);
          for (guint i = 0; i < p->len; i++)
            g_string_append_printf (seen, "%s%s", seen->len > 0 ? " " : "",
                                    pp_terminal_get_serial (g_ptr_array_index (p, i)));
          if (p->len < size)
            break;
          g_free (after);
          after = g_strdup (pp_terminal_get_serial (g_ptr_array_index (p, p->len - 1)));
        }
      g_assert_cmpstr (seen->str, ==, "K-0001 K-0002 K-0003 K-0004 K-0005");
    }

  /* With a state, and a lower-case cursor. */
  page = pp_store_list_terminals_after (store, PP_TERMINAL_STATE_RETIRED, "k-0002", 10, &error);
  g_assert_no_error (error);
  assert_serials (page, "K-0005");
  g_clear_pointer (&page, g_ptr_array_unref);
  page = pp_store_list_terminals_after (store, PP_TERMINAL_STATE_IN_STOCK, NULL, 10, &error);
  g_assert_no_error (error);
  assert_serials (page, "K-0001 K-0003 K-0004");
}

static void
test_store_terminals (void)
{
  g_autofree char *path = new_db_path ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = open_with_admin (path);
  const PpTerminalIntake rows[] = {
    { "abc-001", "PAX", "A920" },
    { "ABC-002", "PAX", "A920" },
    { "xyz9abc", "Verifone", "V200c" },
    { "Q1234", "Newland", "N910" },
  };
  g_autoptr(PpTerminal) t = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(JsonNode) json = NULL;
  JsonObject *obj;
  gboolean exists = TRUE;

  g_assert_no_error (error);
  g_assert_true (pp_store_add_terminals (store, rows, G_N_ELEMENTS (rows), "alice", &error));
  g_assert_no_error (error);

  t = pp_store_get_terminal (store, "Abc-001", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pp_terminal_get_serial (t), ==, "ABC-001");
  g_assert_cmpstr (pp_terminal_get_vendor (t), ==, "PAX");
  g_assert_cmpstr (pp_terminal_get_model (t), ==, "A920");
  g_assert_cmpint (pp_terminal_get_state (t), ==, PP_TERMINAL_STATE_IN_STOCK);
  g_assert_null (pp_terminal_get_mid (t));
  g_assert_null (pp_terminal_get_tid (t));
  g_assert_null (pp_terminal_get_kcv (t));
  g_assert_cmpint (pp_terminal_get_created_at (t), >, 1600000000);
  g_assert_cmpint (pp_terminal_get_updated_at (t), ==, pp_terminal_get_created_at (t));

  json = pp_terminal_to_json (t);
  obj = json_node_get_object (json);
  g_assert_cmpstr (json_object_get_string_member (obj, "serial"), ==, "ABC-001");
  g_assert_cmpstr (json_object_get_string_member (obj, "state"), ==, "in_stock");
  g_assert_true (json_object_get_null_member (obj, "mid"));

  g_assert_true (pp_store_has_terminal (store, "q1234", &exists, &error));
  g_assert_true (exists);
  g_assert_true (pp_store_has_terminal (store, "NOPE1", &exists, &error));
  g_assert_false (exists);
  g_assert_null (pp_store_get_terminal (store, "NOPE1", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_cmpuint (pp_store_count_terminals (store, NULL, PP_TERMINAL_STATE_ANY, &error), ==, 4);
  list = pp_store_list_terminals (store, "", PP_TERMINAL_STATE_ANY, 0, 100, &error);
  assert_serials (list, "ABC-001 ABC-002 Q1234 XYZ9ABC");
  g_clear_pointer (&list, g_ptr_array_unref);

  /* Case-insensitive substring, ordered by serial. */
  list = pp_store_list_terminals (store, "abc", PP_TERMINAL_STATE_ANY, 0, 100, &error);
  assert_serials (list, "ABC-001 ABC-002 XYZ9ABC");
  g_clear_pointer (&list, g_ptr_array_unref);
  g_assert_cmpuint (pp_store_count_terminals (store, "aBc", PP_TERMINAL_STATE_ANY, &error), ==, 3);
  list = pp_store_list_terminals (store, "abc", PP_TERMINAL_STATE_ANY, 1, 1, &error);
  assert_serials (list, "ABC-002");
  g_clear_pointer (&list, g_ptr_array_unref);
  g_assert_cmpuint (pp_store_count_terminals (store, "%", PP_TERMINAL_STATE_ANY, &error), ==, 0);
  g_assert_cmpuint (pp_store_count_terminals (store, "_", PP_TERMINAL_STATE_ANY, &error), ==, 0);

  /* State filter. */
  g_assert_true (pp_store_transition_terminal (store, "xyz9abc", PP_TERMINAL_STATE_QUARANTINED,
                                               "alice", "dropped in transit", &error));
  g_assert_no_error (error);
  list = pp_store_list_terminals (store, NULL, PP_TERMINAL_STATE_QUARANTINED, 0, 100, &error);
  assert_serials (list, "XYZ9ABC");
  g_clear_pointer (&list, g_ptr_array_unref);
  list = pp_store_list_terminals (store, "ABC", PP_TERMINAL_STATE_IN_STOCK, 0, 100, &error);
  assert_serials (list, "ABC-001 ABC-002");
  g_clear_pointer (&list, g_ptr_array_unref);
  g_assert_cmpuint (pp_store_count_terminals (store, NULL, PP_TERMINAL_STATE_IN_STOCK, &error), ==, 3);
  g_assert_cmpuint (pp_store_count_terminals (store, NULL, PP_TERMINAL_STATE_RETIRED, &error), ==, 0);
  g_assert_no_error (error);
}

static void
test_store_intake_atomic (void)
{
  g_autofree char *path = new_db_path ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = pp_store_open (path, &error);
  const PpTerminalIntake first[] = { { "OLD-1", "PAX", "A920" } };
  const PpTerminalIntake dup_in_batch[] = {
    { "NEW-1", "PAX", "A920" },
    { "NEW-2", "PAX", "A920" },
    { "new-1", "PAX", "A920" },
  };
  const PpTerminalIntake dup_in_store[] = {
    { "NEW-3", "PAX", "A920" },
    { "old-1", "PAX", "A920" },
  };
  const PpTerminalIntake bad_serial[] = {
    { "NEW-4", "PAX", "A920" },
    { "NEW 5", "PAX", "A920" },
  };
  const PpTerminalIntake empty_vendor[] = {
    { "NEW-6", "  ", "A920" },
  };
  g_autofree char *audit_before = NULL;
  g_autofree char *audit_after = NULL;

  g_assert_no_error (error);
  g_assert_true (pp_store_add_terminals (store, first, 1, "alice", &error));
  audit_before = sql_text (path, "SELECT count(*) FROM audit");

  g_assert_false (pp_store_add_terminals (store, dup_in_batch, 3, "alice", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DUPLICATE);
  g_assert_nonnull (strstr (error->message, "NEW-1"));
  g_clear_error (&error);

  g_assert_false (pp_store_add_terminals (store, dup_in_store, 2, "alice", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DUPLICATE);
  g_assert_nonnull (strstr (error->message, "OLD-1"));
  g_clear_error (&error);

  g_assert_false (pp_store_add_terminals (store, bad_serial, 2, "alice", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID);
  g_clear_error (&error);

  g_assert_false (pp_store_add_terminals (store, empty_vendor, 1, "alice", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "vendor"));
  g_clear_error (&error);

  /* Nothing of the failed batches remains, not even a journal entry. */
  g_assert_cmpuint (pp_store_count_terminals (store, NULL, PP_TERMINAL_STATE_ANY, &error), ==, 1);
  audit_after = sql_text (path, "SELECT count(*) FROM audit");
  g_assert_cmpstr (audit_before, ==, audit_after);
}

static void
test_store_transition_error (void)
{
  g_autofree char *path = new_db_path ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = open_with_admin (path);
  const PpTerminalIntake rows[] = { { "ABC123", "PAX", "A920" } };
  g_autoptr(PpTerminal) t = NULL;

  g_assert_true (pp_store_add_terminals (store, rows, 1, "alice", &error));
  g_assert_false (pp_store_transition_terminal (store, "abc123", PP_TERMINAL_STATE_KEYED,
                                                "alice", NULL, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION);
  g_assert_cmpstr (error->message, ==, "terminal ABC123 is in_stock; cannot go in_stock -> keyed");
  g_clear_error (&error);

  g_assert_false (pp_store_transition_terminal (store, "NOPE99", PP_TERMINAL_STATE_RETIRED,
                                                "alice", NULL, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  t = pp_store_get_terminal (store, "ABC123", &error);
  g_assert_cmpint (pp_terminal_get_state (t), ==, PP_TERMINAL_STATE_IN_STOCK);
}

static void
test_store_request_id (void)
{
  g_autofree char *path = new_db_path ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = open_with_admin (path);
  const PpTerminalIntake rows[] = { { "REQ-1", "PAX", "A920" }, { "REQ-2", "PAX", "A920" } };
  g_autoptr(PpTerminal) t = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;

  g_assert_true (pp_store_add_terminals (store, rows, 2, "alice", &error));
  g_assert_true (pp_store_transition_terminal_full (store, "REQ-1", PP_TERMINAL_STATE_QUARANTINED,
                                                    "alice", "dropped", "req-42", &error));
  g_assert_no_error (error);
  before = sql_text (path, "SELECT count(*) FROM audit");

  /* Replayed: no error although quarantined -> quarantined is illegal, no new entry. */
  g_assert_true (pp_store_transition_terminal_full (store, "req-1", PP_TERMINAL_STATE_QUARANTINED,
                                                    "alice", "dropped", "req-42", &error));
  g_assert_no_error (error);
  after = sql_text (path, "SELECT count(*) FROM audit");
  g_assert_cmpstr (before, ==, after);

  /* The same id for something else is refused. */
  g_assert_false (pp_store_transition_terminal_full (store, "REQ-2", PP_TERMINAL_STATE_QUARANTINED,
                                                     "alice", NULL, "req-42", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DUPLICATE);
  g_clear_error (&error);
  g_assert_false (pp_store_transition_terminal_full (store, "REQ-1", PP_TERMINAL_STATE_RETIRED,
                                                     "alice", NULL, "req-42", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DUPLICATE);
  g_clear_error (&error);
  t = pp_store_get_terminal (store, "REQ-2", &error);
  g_assert_cmpint (pp_terminal_get_state (t), ==, PP_TERMINAL_STATE_IN_STOCK);
  g_clear_object (&t);

  /* A refused request leaves its id free for a correct retry. */
  g_assert_false (pp_store_transition_terminal_full (store, "REQ-2", PP_TERMINAL_STATE_KEYED,
                                                     "alice", NULL, "req-43", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION);
  g_clear_error (&error);
  g_assert_true (pp_store_transition_terminal_full (store, "REQ-2", PP_TERMINAL_STATE_RETIRED,
                                                    "alice", NULL, "req-43", &error));
  g_assert_no_error (error);
}

static void
test_store_certificate (void)
{
  g_autofree char *path = new_db_path ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = open_with_admin (path);
  const PpTerminalIntake rows[] = { { "CERT-1", "PAX", "A920" } };
  g_autoptr(PpTerminal) t = NULL;
  const char *fp = "3f1e0c9b8a7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f";

  g_assert_true (pp_store_add_terminals (store, rows, 1, "alice", &error));
  g_assert_false (pp_store_set_terminal_certificate (store, "CERT-1", "abc", "alice", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (pp_store_set_terminal_certificate (store, "NOPE-1", fp, "alice", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_true (pp_store_set_terminal_certificate (store, "cert-1", fp, "alice", &error));
  g_assert_no_error (error);
  t = pp_store_get_terminal (store, "CERT-1", &error);
  g_assert_cmpstr (pp_terminal_get_cert_fingerprint (t), ==,
                   "3F1E0C9B8A7D6E5F4A3B2C1D0E9F8A7B6C5D4E3F2A1B0C9D8E7F6A5B4C3D2E1F");
  g_assert_true (pp_store_transition_terminal (store, "CERT-1", PP_TERMINAL_STATE_RETIRED, "alice", NULL, &error));
  g_assert_false (pp_store_set_terminal_certificate (store, "CERT-1", fp, "alice", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION);
}

static void
on_async_done (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static GAsyncResult *
wait_result (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *slot;
}

/* A seed that fails half-way leaves nothing behind. */
static void
test_store_seed_atomic (void)
{
  g_autofree char *path = new_db_path ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = pp_store_open (path, &error);
  const PpTerminalIntake taken[] = { { "VFN0000502", "Verifone", "V200c" } };
  g_autofree char *merchants = NULL;
  g_autofree char *users = NULL;

  g_assert_true (pp_store_add_terminals (store, taken, 1, "alice", &error));
  g_assert_false (pp_store_seed_demo (store, 1000, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DUPLICATE);
  g_clear_error (&error);
  g_assert_false (pp_store_is_demo (store));
  g_assert_cmpuint (pp_store_count_terminals (store, NULL, PP_TERMINAL_STATE_ANY, &error), ==, 1);
  merchants = sql_text (path, "SELECT count(*) FROM merchants");
  users = sql_text (path, "SELECT count(*) FROM users");
  g_assert_cmpstr (merchants, ==, "0");
  g_assert_cmpstr (users, ==, "0");
  g_assert_true (pp_store_audit_verify (store, NULL, NULL, &error));
}

static void
test_store_async (void)
{
  g_autofree char *path = new_db_path ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = pp_store_open (path, &error);
  g_autoptr(GAsyncResult) seeded = NULL;
  g_autoptr(GAsyncResult) verified = NULL;
  g_autoptr(GAsyncResult) broken = NULL;
  gint64 bad = -1;
  guint64 n = 0;

  pp_store_seed_demo_async (store, 2000, NULL, on_async_done, &seeded);
  g_assert_true (pp_store_seed_demo_finish (store, wait_result (&seeded), &error));
  g_assert_no_error (error);
  /* The caller's own connection sees what the worker committed. */
  g_assert_true (pp_store_is_demo (store));
  g_assert_cmpuint (pp_store_count_terminals (store, NULL, PP_TERMINAL_STATE_ANY, &error), ==, 2000);

  pp_store_audit_verify_async (store, NULL, on_async_done, &verified);
  g_assert_true (pp_store_audit_verify_finish (store, wait_result (&verified), &bad, &n, &error));
  g_assert_no_error (error);
  g_assert_cmpint (bad, ==, 0);
  g_assert_cmpuint (n, >=, 4);

  sql_exec (path, "DROP TRIGGER audit_no_update; UPDATE audit SET actor = 'mallory' WHERE seq = 2");
  pp_store_audit_verify_async (store, NULL, on_async_done, &broken);
  g_assert_false (pp_store_audit_verify_finish (store, wait_result (&broken), &bad, &n, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID);
  g_assert_cmpint (bad, ==, 2);
}

static void
test_store_seed_demo (void)
{
  g_autofree char *path = new_db_path ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = pp_store_open (path, &error);
  g_autoptr(GPtrArray) page = NULL;
  g_autoptr(PpTerminal) t = NULL;
  guint total = 0;

  g_assert_false (pp_store_is_demo (store));
  g_assert_true (pp_store_seed_demo (store, 100000, &error));
  g_assert_no_error (error);
  g_assert_true (pp_store_is_demo (store));
  g_assert_cmpuint (pp_store_count_terminals (store, NULL, PP_TERMINAL_STATE_ANY, &error), ==, 100000);

  /* Every state is represented, and the states add up. */
  for (int s = 0; s < PP_N_TERMINAL_STATES; s++)
    {
      guint n = pp_store_count_terminals (store, NULL, s, &error);
      g_assert_cmpuint (n, >, 0);
      total += n;
    }
  g_assert_cmpuint (total, ==, 100000);

  /* Neighbouring rows of the inventory show a mix of states, not a
   * repeating handful. */
  {
    gboolean seen[PP_N_TERMINAL_STATES] = { FALSE };
    guint distinct = 0;

    page = pp_store_list_terminals (store, NULL, PP_TERMINAL_STATE_ANY, 0, 20, &error);
    g_assert_no_error (error);
    for (guint i = 0; i < page->len; i++)
      seen[pp_terminal_get_state (g_ptr_array_index (page, i))] = TRUE;
    for (int s = 0; s < PP_N_TERMINAL_STATES; s++)
      distinct += seen[s];
    g_assert_cmpuint (distinct, >=, 6);
    g_clear_pointer (&page, g_ptr_array_unref);
  }

  /* Idempotent. */
  g_assert_true (pp_store_seed_demo (store, 100000, &error));
  g_assert_cmpuint (pp_store_count_terminals (store, NULL, PP_TERMINAL_STATE_ANY, &error), ==, 100000);

  page = pp_store_list_terminals (store, "pax00000", PP_TERMINAL_STATE_ANY, 0, 200, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (page->len, >, 0);
  for (guint i = 0; i < page->len; i++)
    g_assert_true (g_str_has_prefix (pp_terminal_get_serial (g_ptr_array_index (page, i)), "PAX00000"));
  g_clear_pointer (&page, g_ptr_array_unref);

  page = pp_store_list_terminals (store, NULL, PP_TERMINAL_STATE_ANY, 50000, 200, &error);
  g_assert_cmpuint (page->len, ==, 200);
  g_clear_pointer (&page, g_ptr_array_unref);

  /* Prefix match: only serials that start with the term, any case. */
  g_assert_cmpuint (pp_store_count_terminals_full (store, "sun00999", PP_SERIAL_MATCH_PREFIX,
                                                   PP_TERMINAL_STATE_ANY, &error), ==, 20);
  g_assert_cmpuint (pp_store_count_terminals_full (store, "00999", PP_SERIAL_MATCH_PREFIX,
                                                   PP_TERMINAL_STATE_ANY, &error), ==, 0);
  /* Substring: numbers 0099900-0099999, 0009990-0009999 and 0000999. */
  g_assert_cmpuint (pp_store_count_terminals (store, "00999", PP_TERMINAL_STATE_ANY, &error), ==, 111);
  page = pp_store_list_terminals_full (store, "Sun00999", PP_SERIAL_MATCH_PREFIX,
                                       PP_TERMINAL_STATE_ANY, 0, 5, &error);
  assert_serials (page, "SUN0099900 SUN0099905 SUN0099910 SUN0099915 SUN0099920");
  g_clear_pointer (&page, g_ptr_array_unref);
  page = pp_store_list_terminals_full (store, "SUN00001", PP_SERIAL_MATCH_PREFIX,
                                       PP_TERMINAL_STATE_INSTALLED, 0, 200, &error);
  g_assert_cmpuint (page->len, >, 0);
  for (guint i = 0; i < page->len; i++)
    {
      PpTerminal *it = g_ptr_array_index (page, i);
      g_assert_true (g_str_has_prefix (pp_terminal_get_serial (it), "SUN00001"));
      g_assert_cmpint (pp_terminal_get_state (it), ==, PP_TERMINAL_STATE_INSTALLED);
    }

  t = pp_store_get_terminal (store, "SUN0099995", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pp_terminal_get_vendor (t), ==, "Sunmi");

  /* Installed demo terminals are bound like real ones; stock ones are not. */
  g_clear_pointer (&page, g_ptr_array_unref);
  page = pp_store_list_terminals (store, NULL, PP_TERMINAL_STATE_INSTALLED, 0, 50, &error);
  g_assert_cmpuint (page->len, ==, 50);
  for (guint i = 0; i < page->len; i++)
    {
      PpTerminal *it = g_ptr_array_index (page, i);
      g_autoptr(PpMerchant) m = NULL;

      g_assert_nonnull (pp_terminal_get_tid (it));
      g_assert_cmpuint (strlen (pp_terminal_get_tid (it)), ==, 8);
      g_assert_nonnull (pp_terminal_get_kcv (it));
      g_assert_nonnull (pp_terminal_get_program_version (it));
      m = pp_store_get_merchant_by_mid (store, pp_terminal_get_mid (it), &error);
      g_assert_no_error (error);
    }
  g_clear_pointer (&page, g_ptr_array_unref);
  page = pp_store_list_terminals (store, NULL, PP_TERMINAL_STATE_IN_STOCK, 0, 50, &error);
  for (guint i = 0; i < page->len; i++)
    g_assert_null (pp_terminal_get_mid (g_ptr_array_index (page, i)));

  {
    g_autoptr(GPtrArray) merchants = pp_store_list_merchants (store, &error);
    g_autoptr(PpUser) alice = NULL;
    g_autoptr(PpUser) bob = NULL;
    g_autofree char *tid = NULL;

    g_assert_cmpuint (merchants->len, >=, 3);
    alice = pp_store_authenticate (store, "alice", "demo", &error);
    g_assert_no_error (error);
    g_assert_cmpint (alice->role, ==, PP_USER_ROLE_FIELD_MANAGER);
    bob = pp_store_get_user (store, "bob", &error);
    g_assert_cmpint (bob->role, ==, PP_USER_ROLE_REVIEWER);
    g_clear_pointer (&bob, pp_user_free);
    bob = pp_store_get_user (store, "carol", &error);
    g_assert_cmpint (bob->role, ==, PP_USER_ROLE_ADMINISTRATOR);

    /* The next TID does not collide with the demo's. */
    tid = pp_store_issue_tid (store, "alice", &error);
    g_assert_no_error (error);
  }

  /* The demo obeys the rules of real data: every terminal that is bound to
   * a merchant got there through its install order, approved by a reviewer
   * who is not the requester, with the KCV the release recorded. */
  {
    g_autofree char *bound = sql_text (path, "SELECT count(*) FROM terminals WHERE state IN "
                                             "('pending_install', 'keyed', 'installed', 'recycled')");
    g_autofree char *unexplained = sql_text (path,
      "SELECT count(*) FROM terminals t WHERE t.state IN ('keyed', 'installed') AND NOT EXISTS "
      "(SELECT 1 FROM work_orders o JOIN approvals a ON a.order_id = o.id "
      " WHERE o.serial = t.serial AND o.kind = 'install' AND o.kcv = o.expected_kcv "
      " AND a.decision = 'approved' AND a.voided_at IS NULL AND a.approver <> a.requester "
      " AND a.mid = o.mid AND o.state IN ('keyed', 'closed') AND length (a.digest) = 64 "
      " AND (t.state = 'keyed' OR t.kcv = o.kcv))");
    g_autofree char *pending = sql_text (path,
      "SELECT count(*) FROM terminals t WHERE t.state = 'pending_install' AND NOT EXISTS "
      "(SELECT 1 FROM work_orders o WHERE o.serial = t.serial AND o.state = 'open' AND o.tid = t.tid)");
    g_autofree char *recycled = sql_text (path,
      "SELECT count(*) FROM terminals t WHERE t.state = 'recycled' AND NOT EXISTS "
      "(SELECT 1 FROM work_orders o WHERE o.serial = t.serial AND o.kind = 'recycle' AND o.state = 'open')");
    g_autofree char *keyed_or_installed = sql_text (path, "SELECT count(*) FROM terminals WHERE state IN "
                                                          "('keyed', 'installed')");
    g_autofree char *salts = sql_text (path, "SELECT count(DISTINCT password_hash) FROM users");

    g_assert_cmpint (atoi (bound), >, 500);
    g_assert_cmpint (atoi (keyed_or_installed), >, 300);
    g_assert_cmpstr (unexplained, ==, "0");
    g_assert_cmpstr (pending, ==, "0");
    g_assert_cmpstr (recycled, ==, "0");
    /* Three accounts, three salts: no shared scrypt string. */
    g_assert_cmpstr (salts, ==, "3");
  }

  g_assert_true (pp_store_audit_verify (store, NULL, NULL, &error));
  g_assert_no_error (error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/store/open", test_store_open);
  g_test_add_func ("/store/newer-schema", test_store_newer_schema);
  g_test_add_func ("/store/open-race", test_store_open_race);
  g_test_add_func ("/store/not-a-database", test_store_not_a_database);
  g_test_add_func ("/store/folder", test_store_folder);
  g_test_add_func ("/store/read-only", test_store_read_only);
  g_test_add_func ("/store/terminals", test_store_terminals);
  g_test_add_func ("/store/list-after", test_store_list_after);
  g_test_add_func ("/store/intake-atomic", test_store_intake_atomic);
  g_test_add_func ("/store/transition-error", test_store_transition_error);
  g_test_add_func ("/store/request-id", test_store_request_id);
  g_test_add_func ("/store/certificate", test_store_certificate);
  g_test_add_func ("/store/seed-demo", test_store_seed_demo);
  g_test_add_func ("/store/seed-atomic", test_store_seed_atomic);
  g_test_add_func ("/store/async", test_store_async);
  return g_test_run ();
}
