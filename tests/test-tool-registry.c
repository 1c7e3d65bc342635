/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-tool-registry.c: posprov-tool registry and audit as a user runs
 * them: the built tool, real CSV files, a real SQLite store file; the
 * assertions are on exit status, stdout/stderr and what the register then
 * holds.
 */
#include "config.h"

#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <sqlite3.h>

#include "pp-test-util.h"

typedef struct {
  char *dir;
  char *db;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  f->dir = pp_test_make_tmpdir ();
  f->db = g_build_filename (f->dir, "store", "posprov.db", NULL);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_free (f->dir);
  g_free (f->db);
}

static char *
write_csv (Fixture    *f,
           const char *name,
           const char *text)
{
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (f->dir, name, NULL);

  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
  return path;
}

/* Runs the tool with NULL-terminated arguments. */
static int
run (char **out,
     char **err,
     ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  const char *arg;
  va_list ap;
  int status;

  va_start (ap, err);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (args, (char *) arg);
  va_end (ap);
  g_ptr_array_add (args, NULL);

  status = pp_test_run_tool ((const char * const *) args->pdata, NULL, out, err);
  /* Long outputs (a listing of thousands) only in part: a line of many
   * kilobytes in the TAP stream is more than meson's reader takes. */
  g_test_message ("exit %d; stdout: %.2000s; stderr: %.2000s", status,
                  out != NULL ? *out : "-", err != NULL ? *err : "-");
  return status;
}

static guint
count_lines (const char *text)
{
  guint n = 0;

  for (const char *p = text; *p != '\0'; p++)
    if (*p == '\n')
      n++;
  return n;
}

static void
assert_contains (const char *haystack,
                 const char *needle)
{
  if (strstr (haystack, needle) == NULL)
    g_error ("“%s” does not contain “%s”", haystack, needle);
}

/* The register as `registry list --json` prints it. */
static JsonArray *
list_json (Fixture     *f,
           JsonParser **out_parser,
           const char  *state)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *root;
  JsonArray *terminals;
  int status;

  if (state != NULL)
    status = run (&out, &err, "registry", "list", "--json", "--state", state, "--db", f->db, NULL);
  else
    status = run (&out, &err, "registry", "list", "--json", "--db", f->db, NULL);
  g_assert_cmpint (status, ==, 0);
  g_assert_cmpstr (err, ==, "");

  /* One JSON object, one line. */
  g_assert_cmpuint (count_lines (out), ==, 1);
  json_parser_load_from_data (parser, out, -1, &error);
  g_assert_no_error (error);
  root = json_node_get_object (json_parser_get_root (parser));
  g_assert_nonnull (root);
  terminals = json_object_get_array_member (root, "terminals");
  g_assert_nonnull (terminals);
  g_assert_cmpint (json_object_get_int_member (root, "count"), ==, json_array_get_length (terminals));

  *out_parser = g_steal_pointer (&parser);
  return terminals;
}

static void
assert_terminal (JsonObject *t,
                 const char *serial,
                 const char *vendor,
                 const char *model,
                 const char *state)
{
  g_assert_cmpstr (json_object_get_string_member (t, "serial"), ==, serial);
  g_assert_cmpstr (json_object_get_string_member (t, "vendor"), ==, vendor);
  g_assert_cmpstr (json_object_get_string_member (t, "model"), ==, model);
  g_assert_cmpstr (json_object_get_string_member (t, "state"), ==, state);
}

static void
test_import_list_show (Fixture       *f,
                       gconstpointer  data)
{
  /* Spreadsheet export: BOM, CRLF, own column order, quoted comma. */
  g_autofree char *csv = write_csv (f, "intake.csv",
    "\xef\xbb\xbfserial,model,vendor\r\n"
    "nl-0002,V240m,Newland\r\n"
    "PAX-0001,A920,\"PAX Technology, Ltd.\"\r\n"
    "ING-0003,Move/5000,\xe8\x81\x94\xe8\xbf\xaa\r\n"
    "\r\n");
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(JsonParser) show_parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  JsonArray *terminals;
  JsonObject *t;

  g_assert_cmpint (run (&out, &err, "registry", "import", csv, "--db", f->db, NULL), ==, 0);
  g_assert_cmpstr (out, ==, "Imported 3 terminals\n");
  g_assert_cmpstr (err, ==, "");

  terminals = list_json (f, &parser, NULL);
  g_assert_cmpuint (json_array_get_length (terminals), ==, 3);
  /* ordered by serial, serials upper case */
  assert_terminal (json_array_get_object_element (terminals, 0), "ING-0003", "联迪", "Move/5000", "in_stock");
  assert_terminal (json_array_get_object_element (terminals, 1), "NL-0002", "Newland", "V240m", "in_stock");
  assert_terminal (json_array_get_object_element (terminals, 2), "PAX-0001", "PAX Technology, Ltd.", "A920", "in_stock");
  g_clear_object (&parser);

  terminals = list_json (f, &parser, "in_stock");
  g_assert_cmpuint (json_array_get_length (terminals), ==, 3);
  g_clear_object (&parser);
  terminals = list_json (f, &parser, "keyed");
  g_assert_cmpuint (json_array_get_length (terminals), ==, 0);
  g_clear_object (&parser);

  /* table */
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run (&out, &err, "registry", "list", "--db", f->db, NULL), ==, 0);
  g_assert_cmpuint (count_lines (out), ==, 4);
  assert_contains (out, "SERIAL");
  assert_contains (out, "PAX-0001");
  assert_contains (out, "PAX Technology, Ltd.");

  /* show, looked up case-insensitively */
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run (&out, &err, "registry", "show", "pax-0001", "--json", "--db", f->db, NULL), ==, 0);
  g_assert_cmpuint (count_lines (out), ==, 1);
  json_parser_load_from_data (show_parser, out, -1, &error);
  g_assert_no_error (error);
  t = json_node_get_object (json_parser_get_root (show_parser));
  assert_terminal (t, "PAX-0001", "PAX Technology, Ltd.", "A920", "in_stock");

  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run (&out, &err, "registry", "show", "NL-0002", "--db", f->db, NULL), ==, 0);
  assert_contains (out, "NL-0002");
  assert_contains (out, "Newland");
  assert_contains (out, "V240m");
  assert_contains (out, "in_stock");

  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run (&out, &err, "registry", "show", "NOPE-9999", "--db", f->db, NULL), !=, 0);
  g_assert_cmpstr (out, ==, "");
  g_assert_cmpuint (count_lines (err), ==, 1);
  assert_contains (err, "NOPE-9999");
}

static void
test_import_bad_rows_imports_nothing (Fixture       *f,
                                      gconstpointer  data)
{
  g_autofree char *csv = write_csv (f, "bad.csv",
    "serial,vendor,model\n"
    "SN0001,PAX,A920\n"
    "SN0002,PAX\n"
    "SN0003,PAX,A920\n"
    "SN 0004,PAX,A920\n"
    "sn0001,PAX,A920\n"
    "SN0006,Soci\xe9t\xe9,T1\n");
  g_autoptr(JsonParser) parser = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_auto(GStrv) lines = NULL;
  g_autofree char *earlier = write_csv (f, "earlier.csv", "serial,vendor,model\nSN0099,PAX,A920\n");
  JsonArray *terminals;

  /* The register already holds one terminal; the bad file adds none. */
  g_assert_cmpint (run (NULL, NULL, "registry", "import", earlier, "--db", f->db, NULL), ==, 0);
  g_assert_cmpint (run (&out, &err, "registry", "import", csv, "--db", f->db, NULL), !=, 0);
  g_assert_cmpstr (out, ==, "");
  lines = g_strsplit (err, "\n", -1);
  /* one line per bad row, then the summary */
  g_assert_cmpuint (g_strv_length (lines), ==, 6);
  assert_contains (lines[0], "line 3: missing field “model”");
  assert_contains (lines[1], "line 5: bad serial “SN 0004”");
  assert_contains (lines[2], "line 6: duplicate serial SN0001 (first on line 2)");
  assert_contains (lines[3], "line 7: not valid UTF-8");
  assert_contains (lines[4], "4 bad rows, nothing imported");
  g_assert_cmpstr (lines[5], ==, "");

  terminals = list_json (f, &parser, NULL);
  g_assert_cmpuint (json_array_get_length (terminals), ==, 1);
  assert_terminal (json_array_get_object_element (terminals, 0), "SN0099", "PAX", "A920", "in_stock");
}

static void
test_import_skip_bad (Fixture       *f,
                      gconstpointer  data)
{
  g_autofree char *csv = write_csv (f, "bad.csv",
    "serial,vendor,model\n"
    "SN0001,PAX,A920\n"
    "SN0002,PAX,A920,extra\n"
    "SN0003,Newland,N910\n");
  g_autoptr(JsonParser) parser = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  JsonArray *terminals;

  g_assert_cmpint (run (&out, &err, "registry", "import", "--skip-bad", csv, "--db", f->db, NULL), ==, 0);
  g_assert_cmpstr (out, ==, "Imported 2 terminals (1 bad row skipped)\n");
  g_assert_cmpuint (count_lines (err), ==, 1);
  assert_contains (err, "line 3: too many fields");

  terminals = list_json (f, &parser, NULL);
  g_assert_cmpuint (json_array_get_length (terminals), ==, 2);
  assert_terminal (json_array_get_object_element (terminals, 0), "SN0001", "PAX", "A920", "in_stock");
  assert_terminal (json_array_get_object_element (terminals, 1), "SN0003", "Newland", "N910", "in_stock");
}

static void
test_import_duplicate_in_store (Fixture       *f,
                                gconstpointer  data)
{
  g_autofree char *first = write_csv (f, "first.csv", "serial,vendor,model\nSN0001,PAX,A920\n");
  g_autofree char *second = write_csv (f, "second.csv",
                                      "serial,vendor,model\nSN0002,PAX,A920\nsn0001,PAX,A920\n");
  g_autoptr(JsonParser) parser = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  JsonArray *terminals;

  g_assert_cmpint (run (NULL, NULL, "registry", "import", first, "--db", f->db, NULL), ==, 0);
  g_assert_cmpint (run (&out, &err, "registry", "import", second, "--db", f->db, NULL), !=, 0);
  assert_contains (err, "line 3: serial SN0001 is already in the register");
  assert_contains (err, "nothing imported");

  terminals = list_json (f, &parser, NULL);
  g_assert_cmpuint (json_array_get_length (terminals), ==, 1);
  assert_terminal (json_array_get_object_element (terminals, 0), "SN0001", "PAX", "A920", "in_stock");
}

static void
test_import_whole_file_errors (Fixture       *f,
                               gconstpointer  data)
{
  static const struct { const char *text; const char *reason; } cases[] = {
    { "", "file is empty" },
    { "\xef\xbb\xbfserial,vendor,model\r\n", "no terminals in file" },
    { "serial,vendor\nSN0001,PAX\n", "no column “model”" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *csv = write_csv (f, "file.csv", cases[i].text);
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;

      g_assert_cmpint (run (&out, &err, "registry", "import", csv, "--db", f->db, NULL), !=, 0);
      g_assert_cmpstr (out, ==, "");
      g_assert_cmpuint (count_lines (err), ==, 1);
      assert_contains (err, cases[i].reason);
    }

  {
    g_autofree char *missing = g_build_filename (f->dir, "absent.csv", NULL);
    g_autofree char *err = NULL;

    g_assert_cmpint (run (NULL, &err, "registry", "import", missing, "--db", f->db, NULL), !=, 0);
    g_assert_cmpuint (count_lines (err), ==, 1);
    assert_contains (err, "absent.csv");
  }
}

static void
test_list_errors (Fixture       *f,
                  gconstpointer  data)
{
  g_autofree char *csv = write_csv (f, "intake.csv", "serial,vendor,model\nSN0001,PAX,A920\n");
  g_autofree char *missing_db = g_build_filename (f->dir, "nowhere.db", NULL);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  /* a mistyped --db is not silently a new empty register */
  g_assert_cmpint (run (&out, &err, "registry", "list", "--db", missing_db, NULL), !=, 0);
  g_assert_cmpuint (count_lines (err), ==, 1);
  assert_contains (err, "nowhere.db");
  g_assert_false (g_file_test (missing_db, G_FILE_TEST_EXISTS));

  g_assert_cmpint (run (NULL, NULL, "registry", "import", csv, "--db", f->db, NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run (&out, &err, "registry", "list", "--state", "sold", "--db", f->db, NULL), !=, 0);
  g_assert_cmpstr (out, ==, "");
  g_assert_cmpuint (count_lines (err), ==, 1);
  assert_contains (err, "“sold”");
  assert_contains (err, "received, in_stock, pending_install, keyed, installed, recycled, quarantined, retired");
}

/* More terminals than one page of the tool's walk: each listed once, in
 * order, in the table and in JSON. */
static void
test_list_many (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GString) text = g_string_new ("serial,vendor,model\n");
  g_autofree char *csv = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(JsonParser) parser = NULL;
  JsonArray *terminals;
  const guint n = 2345;

  for (guint i = n; i > 0; i--)
    g_string_append_printf (text, "MANY%05u,PAX,A920\n", i);
  csv = write_csv (f, "many.csv", text->str);
  g_assert_cmpint (run (NULL, NULL, "registry", "import", csv, "--db", f->db, NULL), ==, 0);

  terminals = list_json (f, &parser, NULL);
  g_assert_cmpuint (json_array_get_length (terminals), ==, n);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *serial = g_strdup_printf ("MANY%05u", i + 1);
      g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (terminals, i),
                                                      "serial"), ==, serial);
    }

  g_assert_cmpint (run (&out, &err, "registry", "list", "--db", f->db, NULL), ==, 0);
  g_assert_cmpstr (err, ==, "");
  g_assert_cmpuint (count_lines (out), ==, n + 1);
  g_assert_true (g_str_has_suffix (out, "MANY02345  PAX     A920   in_stock  -    -\n"));
}

static void
restore_env (const char *name,
             const char *value)
{
  if (value != NULL)
    g_setenv (name, value, TRUE);
  else
    g_unsetenv (name);
}

/* Without --db the tool uses the station's store: its store-path setting
 * when set (here through GSettings' keyfile backend, as gsettings would). */
static void
test_default_store_setting (Fixture       *f,
                            gconstpointer  data)
{
  g_autofree char *csv = write_csv (f, "intake.csv", "serial,vendor,model\nSN0042,PAX,A920\n");
  g_autofree char *config = g_build_filename (f->dir, "config", NULL);
  g_autofree char *settings_dir = g_build_filename (config, "glib-2.0", "settings", NULL);
  g_autofree char *keyfile = g_build_filename (settings_dir, "keyfile", NULL);
  g_autofree char *keyfile_text = g_strdup_printf ("[org/posprov/Station]\nstore-path='%s'\n", f->db);
  g_autofree char *data_home = g_build_filename (f->dir, "data-home", NULL);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *old_backend = g_strdup (g_getenv ("GSETTINGS_BACKEND"));
  g_autofree char *old_config = g_strdup (g_getenv ("XDG_CONFIG_HOME"));
  g_autofree char *old_data = g_strdup (g_getenv ("XDG_DATA_HOME"));
  int status;

  g_assert_cmpint (run (NULL, NULL, "registry", "import", csv, "--db", f->db, NULL), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (settings_dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (keyfile, keyfile_text, -1, NULL));

  g_setenv ("GSETTINGS_BACKEND", "keyfile", TRUE);
  g_setenv ("XDG_CONFIG_HOME", config, TRUE);
  g_setenv ("XDG_DATA_HOME", data_home, TRUE);  /* the fallback holds no store */
  status = run (&out, &err, "registry", "show", "SN0042", "--json", NULL);
  restore_env ("GSETTINGS_BACKEND", old_backend);
  restore_env ("XDG_CONFIG_HOME", old_config);
  restore_env ("XDG_DATA_HOME", old_data);

  g_assert_cmpint (status, ==, 0);
  g_assert_cmpstr (err, ==, "");
  assert_contains (out, "\"serial\":\"SN0042\"");
}

/* Every row bad: the summary says nothing was imported and does not offer
 * --skip-bad, which would import nothing either. */
static void
test_import_all_bad (Fixture       *f,
                     gconstpointer  data)
{
  g_autofree char *first = write_csv (f, "first.csv", "serial,vendor,model\nSN0001,PAX,A920\n");
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_auto(GStrv) lines = NULL;

  g_assert_cmpint (run (NULL, NULL, "registry", "import", first, "--db", f->db, NULL), ==, 0);
  g_assert_cmpint (run (&out, &err, "registry", "import", first, "--db", f->db, NULL), ==, 1);
  g_assert_cmpstr (out, ==, "");
  lines = g_strsplit (err, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 3);
  assert_contains (lines[0], "line 2: serial SN0001 is already in the register");
  assert_contains (lines[1], "1 bad row, nothing imported");
  g_assert_null (strstr (lines[1], "--skip-bad"));

  /* Refused into a store that does not exist: none is created. */
  {
    g_autofree char *bad = write_csv (f, "bad.csv", "serial,vendor,model\nSN 1,PAX,A920\n");
    g_autofree char *fresh = g_build_filename (f->dir, "fresh.db", NULL);

    g_assert_cmpint (run (NULL, NULL, "registry", "import", bad, "--db", fresh, NULL), ==, 1);
    g_assert_false (g_file_test (fresh, G_FILE_TEST_EXISTS));
    g_assert_cmpint (run (NULL, NULL, "registry", "import", "--skip-bad", bad, "--db", fresh, NULL),
                     ==, 1);
    g_assert_false (g_file_test (fresh, G_FILE_TEST_EXISTS));
  }
}

/* --db naming something that is not a store: one line that names the
 * file once, and the file left as it was. */
static void
test_db_not_a_store (Fixture       *f,
                     gconstpointer  data)
{
  g_autofree char *csv = write_csv (f, "intake.csv", "serial,vendor,model\nSN0001,PAX,A920\n");
  g_autofree char *text = write_csv (f, "notes.db", "not a database\n");
  g_autofree char *contents = NULL;
  const char *verbs[][3] = {
    { "registry", "import", csv },
    { "registry", "list", NULL },
    { "audit", "verify", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (verbs); i++)
    {
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;
      const char *argv[] = { verbs[i][0], verbs[i][1], "--db", text, verbs[i][2], NULL };
      int status = pp_test_run_tool (argv, NULL, &out, &err);

      g_test_message ("%s %s: exit %d; stderr: %s", verbs[i][0], verbs[i][1], status, err);
      g_assert_cmpint (status, ==, 1);
      g_assert_cmpstr (out, ==, "");
      g_assert_cmpuint (count_lines (err), ==, 1);
      assert_contains (err, "not a database");
      /* named once, not "notes.db: cannot open notes.db: ..." */
      g_assert_null (strstr (strstr (err, "notes.db") + 1, "notes.db"));
    }
  g_assert_true (g_file_get_contents (text, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "not a database\n");
}

/* show with something that cannot be a serial: the reason, not "not found". */
static void
test_show_bad_serial (Fixture       *f,
                      gconstpointer  data)
{
  g_autofree char *csv = write_csv (f, "intake.csv", "serial,vendor,model\nSN0001,PAX,A920\n");
  const char *bad[] = { "", "SN 0001", "SN/0001" };

  g_assert_cmpint (run (NULL, NULL, "registry", "import", csv, "--db", f->db, NULL), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;
      g_autofree char *expected = g_strdup_printf ("“%s” is not a serial number: ", bad[i]);

      g_assert_cmpint (run (&out, &err, "registry", "show", bad[i], "--db", f->db, NULL), ==, 1);
      g_assert_cmpstr (out, ==, "");
      g_assert_cmpuint (count_lines (err), ==, 1);
      assert_contains (err, expected);
    }
}

static sqlite3 *
open_db (Fixture *f)
{
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open_v2 (f->db, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  return db;
}

static void
exec_sql (sqlite3    *db,
          const char *sql)
{
  char *message = NULL;

  if (sqlite3_exec (db, sql, NULL, NULL, &message) != SQLITE_OK)
    g_error ("%s: %s", sql, message);
}

static gint64
query_int (sqlite3    *db,
           const char *sql)
{
  sqlite3_stmt *stmt = NULL;
  gint64 value;

  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  value = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  return value;
}

static void
test_audit_verify (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *a = write_csv (f, "a.csv", "serial,vendor,model\nSN0001,PAX,A920\n");
  g_autofree char *b = write_csv (f, "b.csv", "serial,vendor,model\nSN0002,PAX,A920\n");
  g_autofree char *c = write_csv (f, "c.csv", "serial,vendor,model\nSN0003,PAX,A920\n");
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *expected = NULL;
  gint64 target;
  guint64 n;
  sqlite3 *db;

  g_assert_cmpint (run (NULL, NULL, "registry", "import", a, "--db", f->db, NULL), ==, 0);
  g_assert_cmpint (run (NULL, NULL, "registry", "import", b, "--db", f->db, NULL), ==, 0);
  g_assert_cmpint (run (NULL, NULL, "registry", "import", c, "--db", f->db, NULL), ==, 0);

  db = open_db (f);
  n = (guint64) query_int (db, "SELECT count(*) FROM audit");
  target = query_int (db, "SELECT seq FROM audit WHERE action = 'terminal.intake'"
                          " ORDER BY seq LIMIT 1 OFFSET 1");
  sqlite3_close (db);
  g_assert_cmpuint (n, >=, 3);

  /* A journal never sealed says so, as a warning with exit status 2: its
   * chain alone does not stop a rewrite. */
  g_assert_cmpint (run (&out, &err, "audit", "verify", "--db", f->db, NULL), ==, 2);
  expected = g_strdup_printf ("Audit journal intact: %" G_GUINT64_FORMAT " entries\n", n);
  g_assert_cmpstr (out, ==, expected);
  g_assert_cmpstr (err, ==, "warning: the audit journal is not sealed: an intruder who can write the "
                            "file could rewrite it unnoticed; seal it with “posprov-tool audit init-seal”\n");

  /* Someone with write access to the file rewrites history. */
  db = open_db (f);
  {
    g_autofree char *sql = g_strdup_printf (
      "DROP TRIGGER audit_no_update;"
      "UPDATE audit SET actor = 'nobody' WHERE seq = %" G_GINT64_FORMAT ";", target);
    exec_sql (db, sql);
  }
  sqlite3_close (db);

  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_clear_pointer (&expected, g_free);
  g_assert_cmpint (run (&out, &err, "audit", "verify", "--db", f->db, NULL), ==, 1);
  g_assert_cmpstr (out, ==, "");
  g_assert_cmpuint (count_lines (err), ==, 1);
  expected = g_strdup_printf ("audit journal broken at entry %" G_GINT64_FORMAT ":", target);
  assert_contains (err, expected);
}

/* A FIFO, a device, an empty file or another program's database as CSV or
 * store: refused at once (a FIFO once blocked every command forever), one
 * line naming what the file is, and the file left as it was. */
static void
test_odd_files (Fixture       *f,
                gconstpointer  data)
{
  g_autofree char *csv = write_csv (f, "intake.csv", "serial,vendor,model\nSN0001,PAX,A920\n");
  g_autofree char *fifo = g_build_filename (f->dir, "odd.fifo", NULL);
  g_autofree char *empty = write_csv (f, "empty.db", "");
  g_autofree char *foreign = g_build_filename (f->dir, "foreign.db", NULL);
  g_autofree char *fifo_says = NULL;
  g_autofree char *contents = NULL;
  gboolean had_journal = g_file_test ("/dev/null-journal", G_FILE_TEST_EXISTS);
  gsize len;
  sqlite3 *db = NULL;
  struct {
    const char *argv[8];
    const char *needle;
  } cases[] = {
    { { "registry", "import", fifo, "--db", f->db, NULL }, "is a FIFO, not a file" },
    { { "registry", "import", "/dev/zero", "--db", f->db, NULL }, "is a character device, not a file" },
    { { "registry", "list", "--db", fifo, NULL }, "is a FIFO, not a store file" },
    { { "registry", "show", "SN0001", "--db", fifo, NULL }, "is a FIFO, not a store file" },
    { { "audit", "verify", "--db", fifo, NULL }, "is a FIFO, not a store file" },
    { { "registry", "import", csv, "--db", fifo, NULL }, "is a FIFO, not a store file" },
    { { "registry", "list", "--db", "/dev/null", NULL }, "is a character device, not a store file" },
    { { "audit", "verify", "--db", "/dev/null", NULL }, "is a character device, not a store file" },
    { { "registry", "import", csv, "--db", "/dev/null", NULL }, "is a character device, not a store file" },
    { { "audit", "verify", "--db", empty, NULL }, "is an empty file, not a posprov store" },
    { { "registry", "list", "--db", empty, NULL }, "is an empty file, not a posprov store" },
    { { "registry", "show", "SN0001", "--db", empty, NULL }, "is an empty file, not a posprov store" },
    { { "registry", "import", csv, "--db", empty, NULL }, "is an empty file, not a posprov store" },
    { { "audit", "verify", "--db", foreign, NULL }, "an SQLite database but not a posprov store" },
    { { "registry", "list", "--db", foreign, NULL }, "an SQLite database but not a posprov store" },
    { { "registry", "import", csv, "--db", foreign, NULL }, "an SQLite database but not a posprov store" },
  };

  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  g_assert_cmpint (sqlite3_open_v2 (foreign, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                   ==, SQLITE_OK);
  exec_sql (db, "CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('mine');");
  sqlite3_close (db);
  fifo_says = g_strdup_printf ("“%s” is a FIFO, not a file", fifo);
  cases[0].needle = fifo_says;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;
      int status = pp_test_run_tool_timeout (cases[i].argv, 20, &out, &err);

      g_test_message ("case %u: exit %d; stderr: %s", i, status, err);
      g_assert_cmpint (status, ==, 1);
      g_assert_cmpstr (out, ==, "");
      g_assert_cmpuint (count_lines (err), ==, 1);
      assert_contains (err, cases[i].needle);
    }

  /* Nothing was written anywhere: not into the empty file, not beside
   * /dev/null, not into the other program's database, and no store was
   * created by the refused imports. */
  g_assert_true (g_file_get_contents (empty, &contents, &len, NULL));
  g_assert_cmpuint (len, ==, 0);
  g_assert_false (g_file_test (f->db, G_FILE_TEST_EXISTS));
  if (!had_journal)
    g_assert_false (g_file_test ("/dev/null-journal", G_FILE_TEST_EXISTS));
  g_assert_cmpint (sqlite3_open_v2 (foreign, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  {
    sqlite3_stmt *stmt = NULL;

    g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT count(*) FROM sqlite_schema", -1, &stmt, NULL),
                     ==, SQLITE_OK);
    g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
    g_assert_cmpint (sqlite3_column_int (stmt, 0), ==, 1);
    sqlite3_finalize (stmt);
  }
  sqlite3_close (db);
}

/* list, show and verify open the store read-only: they neither wait for
 * another process's write lock (they once took one at every open) nor
 * change a byte of the file. */
static void
test_readers_do_not_write (Fixture       *f,
                           gconstpointer  data)
{
  g_autofree char *csv = write_csv (f, "intake.csv", "serial,vendor,model\nSN0001,PAX,A920\n");
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  gsize before_len, after_len;
  sqlite3 *db;
  const char *verbs[][4] = {
    { "registry", "list", NULL },
    { "registry", "show", "SN0001" },
    { "audit", "verify", NULL },
  };

  g_assert_cmpint (run (NULL, NULL, "registry", "import", csv, "--db", f->db, NULL), ==, 0);
  g_assert_true (g_file_get_contents (f->db, &before, &before_len, NULL));
  db = open_db (f);
  exec_sql (db, "BEGIN IMMEDIATE");
  for (guint i = 0; i < G_N_ELEMENTS (verbs); i++)
    {
      const char *argv[] = { verbs[i][0], verbs[i][1], "--db", f->db, verbs[i][2], NULL };
      gint64 start = g_get_monotonic_time ();

      /* audit verify: intact but never sealed, 2. */
      g_assert_cmpint (pp_test_run_tool_timeout (argv, 30, NULL, NULL), ==,
                       g_str_equal (verbs[i][0], "audit") ? 2 : 0);
      /* Well under SQLite's 10 s busy timeout: it did not wait. */
      g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
    }
  exec_sql (db, "ROLLBACK");
  sqlite3_close (db);
  g_assert_true (g_file_get_contents (f->db, &after, &after_len, NULL));
  g_assert_cmpuint (after_len, ==, before_len);
  g_assert_true (memcmp (before, after, before_len) == 0);
}

/* Register fields with what would steer a terminal are refused, and what
 * the tool echoes back is escaped and cut. */
static void
test_hidden_characters (Fixture       *f,
                        gconstpointer  data)
{
  g_autofree char *long_serial = g_strnfill (10 * 1024 * 1024, 'S');
  g_autofree char *text = g_strdup_printf (
    "serial,vendor,model\n"
    "SN0001,PAX,A920\n"                            /* 2 good */
    "SN0002,\xe2\x80\xae" "XAP,A920\n"             /* 3 U+202E right-to-left override */
    "SN0003,PAX,A\xe2\x81\xa6" "920\n"             /* 4 U+2066 left-to-right isolate */
    "SN0004,PAX\xe2\x80\x8f,A920\n"                /* 5 U+200F right-to-left mark */
    "SN0005,P\x1b[31mAX,A920\n"                    /* 6 ESC, a colour sequence */
    "SN0006,PAX\xc2\x85,A920\n"                    /* 7 U+0085, a C1 control */
    "\x1b]0;owned\x07SN7,PAX,A920\n"               /* 8 a serial that sets the title */
    "%s,PAX,A920\n"                                /* 9 a 10 MB serial */
    "SN0009,\xe8\x81\x94\xe8\xbf\xaa,A920\n",      /* 10 good: CJK */
    long_serial);
  g_autofree char *csv = write_csv (f, "hidden.csv", text);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(JsonParser) parser = NULL;
  JsonArray *terminals;

  g_assert_cmpint (run (&out, &err, "registry", "import", "--skip-bad", csv, "--db", f->db, NULL), ==, 0);
  assert_contains (out, "Imported 2 terminals (7 bad rows skipped)");
  /* Nothing raw reaches the terminal, and the 10 MB serial is cut. */
  g_assert_null (strchr (err, '\x1b'));
  g_assert_null (strstr (err, "\xe2\x80\xae"));
  g_assert_cmpuint (strlen (err), <, 4096);
  lines = g_strsplit (err, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 8);
  assert_contains (lines[0], "line 3: field “vendor” contains the control or invisible formatting character U+202E at character 1");
  assert_contains (lines[1], "line 4: field “model” contains the control or invisible formatting character U+2066 at character 2");
  assert_contains (lines[2], "line 5: field “vendor” contains the control or invisible formatting character U+200F at character 4");
  assert_contains (lines[3], "line 6: field “vendor” contains the control or invisible formatting character U+001B at character 2");
  assert_contains (lines[4], "line 7: field “vendor” contains the control or invisible formatting character U+0085 at character 4");
  assert_contains (lines[5], "line 8: bad serial “\\x1B]0;owned\\x07SN7”");
  assert_contains (lines[6], "line 9: bad serial “SSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSS…”: serial number must be 4 to 32 characters, not 10485760");

  terminals = list_json (f, &parser, NULL);
  g_assert_cmpuint (json_array_get_length (terminals), ==, 2);
  assert_terminal (json_array_get_object_element (terminals, 0), "SN0001", "PAX", "A920", "in_stock");
  assert_terminal (json_array_get_object_element (terminals, 1), "SN0009", "\xe8\x81\x94\xe8\xbf\xaa", "A920", "in_stock");

  /* An argument echoed back is escaped too. */
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run (NULL, &err, "registry", "show", "\x1b[2J\xe2\x80\xae", "--db", f->db, NULL), ==, 1);
  assert_contains (err, "“\\x1B[2J\\u{202E}” is not a serial number");
  g_assert_null (strchr (err, '\x1b'));
}

/* Two imports started at once while a third writer holds the store for
 * longer than SQLite's 10 s busy timeout: both wait their turn (retry with
 * back-off) instead of failing with "database is locked", each is all or
 * nothing, and a reader is never blocked. */
static void
test_concurrent_imports (Fixture       *f,
                         gconstpointer  data)
{
  g_autofree char *first = write_csv (f, "first.csv", "serial,vendor,model\nSN0000000,PAX,A920\n");
  g_autoptr(GString) a = g_string_new ("serial,vendor,model\n");
  g_autoptr(GString) b = g_string_new ("serial,vendor,model\n");
  g_autofree char *a_path = NULL;
  g_autofree char *b_path = NULL;
  g_autoptr(GSubprocess) pa = NULL;
  g_autoptr(GSubprocess) pb = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *a_out = NULL, *a_err = NULL, *b_out = NULL, *b_err = NULL;
  g_autofree char *verify_out = NULL;
  const char *tool = g_getenv ("PP_TOOL");
  gint64 started;
  sqlite3 *db;

  for (guint i = 1; i <= 50000; i++)
    {
      g_string_append_printf (a, "A%07u,PAX,A920\n", i);
      g_string_append_printf (b, "B%07u,Newland,V240m\n", i);
    }
  a_path = write_csv (f, "a.csv", a->str);
  b_path = write_csv (f, "b.csv", b->str);
  g_assert_cmpint (run (NULL, NULL, "registry", "import", first, "--db", f->db, NULL), ==, 0);

  /* Another writer (the station, a big import) holds the lock for 11 s. */
  db = open_db (f);
  exec_sql (db, "BEGIN IMMEDIATE");
  started = g_get_monotonic_time ();
  pa = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                         tool, "registry", "import", a_path, "--db", f->db, NULL);
  g_assert_no_error (error);
  pb = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                         tool, "registry", "import", b_path, "--db", f->db, NULL);
  g_assert_no_error (error);

  /* Readers go on meanwhile. */
  {
    g_autofree char *out = NULL;

    g_assert_cmpint (run (&out, NULL, "registry", "show", "SN0000000", "--db", f->db, NULL), ==, 0);
    assert_contains (out, "SN0000000");
  }
  while (g_get_monotonic_time () - started < 11 * G_USEC_PER_SEC)
    g_usleep (100 * 1000);
  exec_sql (db, "COMMIT");
  sqlite3_close (db);

  g_subprocess_communicate_utf8 (pa, NULL, NULL, &a_out, &a_err, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (pb, NULL, NULL, &b_out, &b_err, &error);
  g_assert_no_error (error);
  g_test_message ("a: %s%s; b: %s%s", a_out, a_err, b_out, b_err);
  g_assert_cmpint (g_subprocess_get_exit_status (pa), ==, 0);
  g_assert_cmpint (g_subprocess_get_exit_status (pb), ==, 0);
  g_assert_cmpstr (a_out, ==, "Imported 50000 terminals\n");
  g_assert_cmpstr (b_out, ==, "Imported 50000 terminals\n");

  db = open_db (f);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM terminals"), ==, 100001);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM terminals WHERE serial LIKE 'B%' AND vendor = 'Newland'"),
                   ==, 50000);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM audit WHERE action = 'terminal.intake'"), ==, 3);
  sqlite3_close (db);
  /* Intact; 2 because a store made by the tool is not sealed until audit init-seal. */
  g_assert_cmpint (run (&verify_out, NULL, "audit", "verify", "--db", f->db, NULL), ==, 2);
  assert_contains (verify_out, "Audit journal intact: ");
}

/* Re-importing a million rows already in the register: every row reported,
 * nothing imported, in seconds (it was quadratic: 100k rows 21 s, 1M not
 * done after 120 s). */
static void
test_reimport_million (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GString) text = g_string_sized_new (1000000 * 20);
  g_autofree char *csv = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *summary = NULL;
  const char *last;
  gint64 start;

  g_string_append (text, "serial,vendor,model\n");
  for (guint i = 0; i < 1000000; i++)
    g_string_append_printf (text, "SN%08u,PAX,A920\n", i);
  csv = write_csv (f, "million.csv", text->str);

  start = g_get_monotonic_time ();
  g_assert_cmpint (run (&out, NULL, "registry", "import", csv, "--db", f->db, NULL), ==, 0);
  g_assert_cmpstr (out, ==, "Imported 1000000 terminals\n");
  g_test_message ("import 1M: %.2f s", (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC);
  g_clear_pointer (&out, g_free);

  start = g_get_monotonic_time ();
  g_assert_cmpint (run (&out, &err, "registry", "import", csv, "--db", f->db, NULL), ==, 1);
  g_test_message ("re-import 1M: %.2f s", (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC);
  g_assert_cmpstr (out, ==, "");
  g_assert_cmpuint (count_lines (err), ==, 1000001);
  g_assert_true (g_str_has_prefix (err, csv));
  assert_contains (err, ": line 2: serial SN00000000 is already in the register\n");
  /* In line order, the last row last, then the summary. */
  summary = g_strdup_printf ("posprov-tool: %s: 1000000 bad rows, nothing imported\n", csv);
  g_assert_true (g_str_has_suffix (err, summary));
  last = err + strlen (err) - strlen (summary);
  g_assert_true (last > err);
  do
    last--;
  while (last > err && last[-1] != '\n');
  assert_contains (last, ": line 1000001: serial SN00999999 is already in the register\n");
}

static void
test_help_version_unknown (void)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_assert_cmpint (run (&out, NULL, "--version", NULL), ==, 0);
  g_assert_true (g_str_has_prefix (out, "posprov-tool "));
  g_clear_pointer (&out, g_free);

  g_assert_cmpint (run (&out, NULL, "--help", NULL), ==, 0);
  assert_contains (out, "registry");
  assert_contains (out, "audit");
  g_clear_pointer (&out, g_free);

  g_assert_cmpint (run (&out, NULL, "registry", "--help", NULL), ==, 0);
  assert_contains (out, "import");
  assert_contains (out, "list");
  assert_contains (out, "show");
  g_clear_pointer (&out, g_free);

  g_assert_cmpint (run (&out, NULL, "registry", "import", "--help", NULL), ==, 0);
  assert_contains (out, "--skip-bad");
  assert_contains (out, "--db");
  g_clear_pointer (&out, g_free);

  g_assert_cmpint (run (&out, NULL, "audit", "verify", "--help", NULL), ==, 0);
  assert_contains (out, "--db");
  g_clear_pointer (&out, g_free);

  g_assert_cmpint (run (&out, &err, "frobnicate", NULL), !=, 0);
  g_assert_cmpstr (out, ==, "");
  g_assert_cmpuint (count_lines (err), ==, 1);
  assert_contains (err, "unknown command “frobnicate”");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (run (&out, &err, "registry", "frobnicate", NULL), !=, 0);
  g_assert_cmpstr (out, ==, "");
  g_assert_cmpuint (count_lines (err), ==, 1);
  assert_contains (err, "frobnicate");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (run (&out, &err, "registry", "import", "--no-such-option", NULL), !=, 0);
  g_assert_cmpuint (count_lines (err), ==, 1);
  assert_contains (err, "no-such-option");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (run (&out, &err, "registry", "import", NULL), !=, 0);
  g_assert_cmpuint (count_lines (err), ==, 1);
  assert_contains (err, "CSV");
}

/* The store's own errors (core/store) reach the user translated, not only
 * the tool's: a CSV header problem and a --db that is a folder. */
static void
test_store_errors_translated (Fixture       *f,
                              gconstpointer  data)
{
  g_autofree char *csv = write_csv (f, "colour.csv", "serial,vendor,colour\nPAX00001,PAX,red\n");
  const char *import[] = { "registry", "import", "--db", f->db, csv, NULL };
  const char *list[] = { "registry", "list", "--db", f->dir, NULL };
  g_autofree char *import_err = NULL;
  g_autofree char *list_err = NULL;

  g_assert_cmpint (pp_test_run_tool_zh_cn (import, &import_err), !=, 0);
  assert_contains (import_err, "第 1 行：表头中有未知列“colour”；表头应为“serial,vendor,model”");
  g_assert_cmpint (pp_test_run_tool_zh_cn (list, &list_err), !=, 0);
  assert_contains (list_err, "：它是文件夹，不是存储文件");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add ("/tool/" path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("registry/import-list-show", test_import_list_show);
  ADD ("registry/import-bad-rows", test_import_bad_rows_imports_nothing);
  ADD ("registry/import-skip-bad", test_import_skip_bad);
  ADD ("registry/import-duplicate-in-store", test_import_duplicate_in_store);
  ADD ("registry/import-file-errors", test_import_whole_file_errors);
  ADD ("registry/list-errors", test_list_errors);
  ADD ("registry/import-all-bad", test_import_all_bad);
  ADD ("registry/list-many", test_list_many);
  ADD ("registry/show-bad-serial", test_show_bad_serial);
  ADD ("registry/default-store-setting", test_default_store_setting);
  ADD ("registry/db-not-a-store", test_db_not_a_store);
  ADD ("audit/verify", test_audit_verify);
  ADD ("odd-files", test_odd_files);
  ADD ("registry/readers-do-not-write", test_readers_do_not_write);
  ADD ("registry/hidden-characters", test_hidden_characters);
  ADD ("registry/concurrent-imports", test_concurrent_imports);
  ADD ("registry/reimport-million", test_reimport_million);
  ADD ("registry/store-errors-translated", test_store_errors_translated);
#undef ADD
  g_test_add_func ("/tool/help-version-unknown", test_help_version_unknown);
  return g_test_run ();
}
