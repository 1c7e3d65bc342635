/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-first-run.c: demo stores and real stores.
 *
 * A real store starts with no account at all and gets its first
 * administrator from the first-run setup; demo accounts never enter it; a
 * demo store is refused with a PKCS#11 key store or a remote registry. Every
 * check reads the SQLite file itself.
 */
#include "config.h"

#include <string.h>

#include <sqlite3.h>

#include "pp-password.h"
#include "pp-store.h"
#include "pp-test-util.h"

#define STRONG_PASSWORD "tidy-otter-lamp-93"
#define PKCS11_URI "pkcs11:token=posprov;object=kdh?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=4321"

static char *
new_db_path (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();

  return g_build_filename (dir, "sub", "posprov.db", NULL);
}

static char *
sql_text (const char *path,
          const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  char *result = NULL;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    result = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return result;
}

/* The setup creates exactly one account, an administrator, journalled by itself. */
static void
test_first_administrator (void)
{
  g_autofree char *path = new_db_path ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = pp_store_open_full (path, &(PpStoreOptions) { 0 }, &error);
  g_autoptr(PpUser) admin = NULL;
  g_autoptr(PpUser) again = NULL;
  g_autoptr(PpUser) login = NULL;
  g_autofree char *users = NULL;
  g_autofree char *action = NULL;
  gboolean has_users = TRUE;

  g_assert_no_error (error);
  g_assert_false (pp_store_is_demo_store (store));
  g_assert_true (pp_store_has_users (store, &has_users, &error));
  g_assert_false (has_users);

  /* The policy is the store's too; nothing is written for a refusal. */
  g_assert_null (pp_store_create_first_administrator (store, "root", NULL, "demo", &error));
  g_assert_error (error, PP_PASSWORD_ERROR, PP_PASSWORD_ERROR_TOO_SHORT);
  g_clear_error (&error);
  g_assert_null (pp_store_create_first_administrator (store, "root", NULL, "Password1234", &error));
  g_assert_error (error, PP_PASSWORD_ERROR, PP_PASSWORD_ERROR_COMMON);
  g_clear_error (&error);
  g_assert_null (pp_store_create_first_administrator (store, "x", NULL, STRONG_PASSWORD, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID);
  g_clear_error (&error);
  users = sql_text (path, "SELECT count(*) FROM users");
  g_assert_cmpstr (users, ==, "0");
  g_clear_pointer (&users, g_free);

  admin = pp_store_create_first_administrator (store, "Root", "Station Admin", STRONG_PASSWORD, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (admin->username, ==, "root");
  g_assert_cmpstr (admin->display_name, ==, "Station Admin");
  g_assert_cmpint (admin->role, ==, PP_USER_ROLE_ADMINISTRATOR);
  users = sql_text (path, "SELECT group_concat (username || ':' || role) FROM users");
  g_assert_cmpstr (users, ==, "root:administrator");
  action = sql_text (path, "SELECT actor || ' ' || action || ' ' || subject FROM audit "
                           "WHERE action = 'user.add'");
  g_assert_cmpstr (action, ==, "root user.add root");
  login = pp_store_authenticate (store, "root", STRONG_PASSWORD, &error);
  g_assert_no_error (error);
  g_assert_nonnull (login);

  /* Only once: a second setup is refused, on this or another connection. */
  again = pp_store_create_first_administrator (store, "eve", NULL, "another-long-pass-77", &error);
  g_assert_null (again);
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION);
  g_clear_error (&error);
  {
    g_autoptr(PpStore) other = pp_store_open (path, &error);

    g_assert_null (pp_store_create_first_administrator (other, "eve", NULL, "another-long-pass-77", &error));
    g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION);
    g_clear_error (&error);
  }
  g_clear_pointer (&users, g_free);
  users = sql_text (path, "SELECT count(*) FROM users");
  g_assert_cmpstr (users, ==, "1");

  /* No demo data, and none can be seeded into it now. */
  g_assert_false (pp_store_seed_demo (store, 10, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DEMO);
  g_clear_error (&error);
  g_clear_pointer (&users, g_free);
  users = sql_text (path, "SELECT (SELECT count(*) FROM users) || ' ' || (SELECT count(*) FROM terminals) "
                          "|| ' ' || (SELECT count(*) FROM merchants)");
  g_assert_cmpstr (users, ==, "1 0 0");
  g_assert_false (pp_store_is_demo_store (store));
  g_assert_true (pp_store_audit_verify (store, NULL, NULL, &error));
  g_assert_no_error (error);
}

static void
on_done (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* The async setup on a worker: same result, password wiped with the task. */
static void
test_first_administrator_async (void)
{
  g_autofree char *path = new_db_path ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = pp_store_open (path, &error);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(PpUser) admin = NULL;
  g_autofree char *users = NULL;

  pp_store_create_first_administrator_async (store, "admin", NULL, STRONG_PASSWORD, NULL,
                                             on_done, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  admin = pp_store_create_first_administrator_finish (store, result, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (admin->username, ==, "admin");
  users = sql_text (path, "SELECT group_concat (username || ':' || role) FROM users");
  g_assert_cmpstr (users, ==, "admin:administrator");
}

/* A demo store with a PKCS#11 key store or a registry: refused before the
 * file exists, and the message does not repeat the URI (it carries a PIN). */
static void
test_demo_refuses_key_store_and_registry (void)
{
  g_autofree char *path = new_db_path ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = NULL;
  PpStoreOptions options = { .demo = TRUE, .key_store = PKCS11_URI };

  store = pp_store_open_full (path, &options, &error);
  g_assert_null (store);
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DEMO);
  g_assert_nonnull (strstr (error->message, "PKCS#11"));
  g_assert_null (strstr (error->message, "4321"));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_clear_error (&error);

  /* The scheme in any case. */
  options.key_store = "PKCS11:token=posprov";
  g_assert_null (pp_store_open_full (path, &options, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DEMO);
  g_clear_error (&error);

  options.key_store = NULL;
  options.registry_url = "https://ops:s3cret@registry.example.com/";
  g_assert_null (pp_store_open_full (path, &options, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DEMO);
  g_assert_nonnull (strstr (error->message, "remote registry"));
  g_assert_null (strstr (error->message, "s3cret"));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_clear_error (&error);

  /* A soft key store (a folder of demo keys) is fine for a demo. */
  options.registry_url = "";
  options.key_store = "/tmp/posprov-demo-keys";
  store = pp_store_open_full (path, &options, &error);
  g_assert_no_error (error);
  g_assert_true (pp_store_is_demo_store (store));
  g_assert_true (pp_store_seed_demo (store, 20, &error));
  g_assert_no_error (error);
  g_clear_object (&store);

  /* The seeded file stays a demo store when opened as a real one: it is still
   * refused with the token or the registry, and gets no first administrator. */
  options = (PpStoreOptions) { .key_store = PKCS11_URI };
  g_assert_null (pp_store_open_full (path, &options, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DEMO);
  g_clear_error (&error);
  options = (PpStoreOptions) { .registry_url = "https://registry.example.com/" };
  g_assert_null (pp_store_open_full (path, &options, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DEMO);
  g_clear_error (&error);
  options = (PpStoreOptions) { 0 };
  store = pp_store_open_full (path, &options, &error);
  g_assert_no_error (error);
  g_assert_true (pp_store_is_demo_store (store));
  g_assert_null (pp_store_create_first_administrator (store, "root", NULL, STRONG_PASSWORD, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DEMO);
  g_clear_error (&error);
}

/* A real store is never opened as a demo: its users and terminals stay alone. */
static void
test_demo_refuses_real_store (void)
{
  g_autofree char *path = new_db_path ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = pp_store_open (path, &error);
  g_autoptr(PpUser) admin = NULL;
  const PpTerminalIntake row = { "OWN-0001", "PAX", "A920" };
  PpStoreOptions demo = { .demo = TRUE };
  g_autofree char *counts = NULL;

  /* Terminals only (imported with posprov-tool, no account yet). */
  g_assert_true (pp_store_add_terminals (store, &row, 1, "ops", &error));
  g_assert_no_error (error);
  g_clear_object (&store);
  g_assert_null (pp_store_open_full (path, &demo, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DEMO);
  g_clear_error (&error);

  /* With an administrator. */
  store = pp_store_open (path, &error);
  admin = pp_store_create_first_administrator (store, "root", NULL, STRONG_PASSWORD, &error);
  g_assert_no_error (error);
  g_clear_object (&store);
  g_assert_null (pp_store_open_full (path, &demo, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DEMO);
  g_clear_error (&error);

  counts = sql_text (path, "SELECT (SELECT count(*) FROM users) || ' ' || (SELECT count(*) FROM terminals) "
                           "|| ' ' || (SELECT count(*) FROM settings WHERE key = 'demo')");
  g_assert_cmpstr (counts, ==, "1 1 0");
}

/* posprov-tool on the default store (no --db) creates no account either:
 * importing into a fresh store leaves it without users or demo data. */
static void
test_tool_default_store (void)
{
  g_autofree char *path = g_build_filename (g_get_user_data_dir (), "posprov", "posprov.db", NULL);
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *csv = g_build_filename (dir, "terminals.csv", NULL);
  const char *import[] = { "registry", "import", csv, NULL };
  const char *list[] = { "registry", "list", NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *counts = NULL;

  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_set_contents (csv, "serial,vendor,model\nPAX0000001,PAX,A920\n", -1, NULL));
  g_assert_cmpint (pp_test_run_tool (import, NULL, &out, &err), ==, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (pp_test_run_tool (list, NULL, &out, &err), ==, 0);
  g_assert_nonnull (strstr (out, "PAX0000001"));

  counts = sql_text (path, "SELECT (SELECT count(*) FROM users) || ' ' || (SELECT count(*) FROM terminals) "
                           "|| ' ' || (SELECT count(*) FROM merchants) || ' ' || "
                           "(SELECT count(*) FROM settings WHERE key = 'demo')");
  g_assert_cmpstr (counts, ==, "0 1 0 0");
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *data_home = NULL;

  g_test_init (&argc, &argv, NULL);

  /* posprov-tool's default store lives in the XDG data dir: a fresh one,
   * before GLib reads and caches the variable. The tool inherits it. */
  data_home = pp_test_make_tmpdir ();
  g_setenv ("XDG_DATA_HOME", data_home, TRUE);
  g_assert_cmpstr (g_get_user_data_dir (), ==, data_home);
  g_test_add_func ("/first-run/tool-default-store", test_tool_default_store);
  g_test_add_func ("/first-run/administrator", test_first_administrator);
  g_test_add_func ("/first-run/administrator-async", test_first_administrator_async);
  g_test_add_func ("/first-run/demo-key-store-registry", test_demo_refuses_key_store_and_registry);
  g_test_add_func ("/first-run/demo-real-store", test_demo_refuses_real_store);
  return g_test_run ();
}
