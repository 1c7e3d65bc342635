/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-password.c: scrypt password hashes: format, salt, verification,
 * malformed input, and login through the store.
 *
 * The scrypt known answer is RFC 7914 section 12 (password "pleaseletmein",
 * salt "SodiumChloride", N = 16384, r = 8, p = 1, 64 bytes).
 */
#include "config.h"

#include <sqlite3.h>

#include <string.h>

#include "pp-password.h"
#include "pp-store.h"
#include "pp-test-util.h"

static void
test_password_format (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *a = pp_password_hash ("correct horse", &error);
  g_autofree char *b = NULL;
  g_auto(GStrv) parts = NULL;
  g_autofree guchar *salt = NULL;
  g_autofree guchar *hash = NULL;
  gsize salt_len, hash_len;

  g_assert_no_error (error);
  parts = g_strsplit (a, "$", -1);
  g_assert_cmpuint (g_strv_length (parts), ==, 6);
  g_assert_cmpstr (parts[0], ==, "scrypt");
  g_assert_cmpstr (parts[1], ==, "32768");
  g_assert_cmpstr (parts[2], ==, "8");
  g_assert_cmpstr (parts[3], ==, "1");
  salt = g_base64_decode (parts[4], &salt_len);
  hash = g_base64_decode (parts[5], &hash_len);
  g_assert_cmpuint (salt_len, ==, 16);
  g_assert_cmpuint (hash_len, ==, 32);
  g_assert_null (strstr (a, "correct horse"));

  /* A fresh salt each time. */
  b = pp_password_hash_with_cost ("correct horse", 10, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (b, "scrypt$1024$8$1$"));
  g_assert_cmpstr (a, !=, b);

  g_assert_true (pp_password_verify ("correct horse", a, &error));
  g_assert_no_error (error);
  g_assert_true (pp_password_verify ("correct horse", b, &error));
  g_assert_no_error (error);
  g_assert_false (pp_password_verify ("correct hors", a, &error));
  g_assert_error (error, PP_PASSWORD_ERROR, PP_PASSWORD_ERROR_MISMATCH);
  g_clear_error (&error);
  g_assert_false (pp_password_verify ("Correct horse", b, &error));
  g_assert_error (error, PP_PASSWORD_ERROR, PP_PASSWORD_ERROR_MISMATCH);
  g_clear_error (&error);
}

static void
test_password_same_salt_twice (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *a = pp_password_hash_with_cost ("demo", 8, &error);
  g_autofree char *b = pp_password_hash_with_cost ("demo", 8, &error);
  g_auto(GStrv) pa = g_strsplit (a, "$", -1);
  g_auto(GStrv) pb = g_strsplit (b, "$", -1);

  g_assert_cmpstr (pa[4], !=, pb[4]);
  g_assert_cmpstr (pa[5], !=, pb[5]);
}

static void
test_password_rfc7914 (void)
{
  /* RFC 7914 section 12, third vector: P = "pleaseletmein", S = "SodiumChloride",
   * N = 16384, r = 8, p = 1, dkLen = 64. Verification re-derives with the
   * parameters and salt in the encoded string, so a correct scrypt accepts it. */
  static const char expected_hex[] =
    "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2"
    "d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887";
  g_autoptr(GError) error = NULL;
  g_autoptr(GByteArray) raw = g_byte_array_new ();
  g_autofree char *salt_b64 = g_base64_encode ((const guchar *) "SodiumChloride", 14);
  g_autofree char *hash_b64 = NULL;
  g_autofree char *encoded = NULL;
  g_autofree char *flipped = NULL;

  for (guint i = 0; i < strlen (expected_hex); i += 2)
    {
      guint8 byte = (guint8) (g_ascii_xdigit_value (expected_hex[i]) * 16 +
                              g_ascii_xdigit_value (expected_hex[i + 1]));
      g_byte_array_append (raw, &byte, 1);
    }
  hash_b64 = g_base64_encode (raw->data, raw->len);
  encoded = g_strdup_printf ("scrypt$16384$8$1$%s$%s", salt_b64, hash_b64);
  g_assert_true (pp_password_verify ("pleaseletmein", encoded, &error));
  g_assert_no_error (error);

  raw->data[63] ^= 0x01;
  g_free (hash_b64);
  hash_b64 = g_base64_encode (raw->data, raw->len);
  flipped = g_strdup_printf ("scrypt$16384$8$1$%s$%s", salt_b64, hash_b64);
  g_assert_false (pp_password_verify ("pleaseletmein", flipped, &error));
  g_assert_error (error, PP_PASSWORD_ERROR, PP_PASSWORD_ERROR_MISMATCH);
}

static void
test_password_malformed (void)
{
  static const char * const bad[] = {
    "",
    "plain",
    "scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==",
    "bcrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    "scrypt$30000$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    "scrypt$1$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    "scrypt$2097152$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    "scrypt$1024$0$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    "scrypt$1024$8$x$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    "scrypt$1024$8$1$not*base64**********==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    "scrypt$1024$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA",
    "scrypt$1024$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=$extra",
    /* 128 * 32 * 2^20 bytes: refused before any memory is taken. */
    "scrypt$1048576$32$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;

      g_test_message ("malformed %u", i);
      g_assert_false (pp_password_verify ("demo", bad[i], &error));
      g_assert_error (error, PP_PASSWORD_ERROR, PP_PASSWORD_ERROR_FORMAT);
    }
}

static void
test_password_store_login (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "store.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = pp_store_open (path, &error);
  g_autoptr(PpUser) added = NULL;
  g_autoptr(PpUser) user = NULL;
  g_autoptr(PpUser) dup = NULL;
  g_autoptr(PpUser) carol = NULL;

  g_assert_no_error (error);
  carol = pp_store_add_user_with_cost (store, "carol", NULL, PP_USER_ROLE_ADMINISTRATOR, PP_TEST_PASSWORD ("c0"), 10,
                                       "setup", &error);
  g_assert_no_error (error);
  added = pp_store_add_user (store, "Dave", "Dave Wu", PP_USER_ROLE_FIELD_MANAGER, PP_TEST_PASSWORD ("d1"), "carol",
                             &error);
  g_assert_no_error (error);
  g_assert_cmpstr (added->username, ==, "dave");
  g_assert_cmpint (added->role, ==, PP_USER_ROLE_FIELD_MANAGER);

  dup = pp_store_add_user (store, "DAVE", NULL, PP_USER_ROLE_REVIEWER, PP_TEST_PASSWORD ("d2"), "carol", &error);
  g_assert_null (dup);
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DUPLICATE);
  g_clear_error (&error);
  g_assert_null (pp_store_add_user (store, "eve", NULL, PP_USER_ROLE_REVIEWER, "abc", "carol", &error));
  g_assert_error (error, PP_PASSWORD_ERROR, PP_PASSWORD_ERROR_TOO_SHORT);
  g_clear_error (&error);
  g_assert_null (pp_store_add_user (store, "e v", NULL, PP_USER_ROLE_REVIEWER, PP_TEST_PASSWORD ("e1"), "carol", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID);
  g_clear_error (&error);

  user = pp_store_authenticate (store, "dave", PP_TEST_PASSWORD ("d1"), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (user->display_name, ==, "Dave Wu");
  g_clear_pointer (&user, pp_user_free);

  g_assert_null (pp_store_authenticate (store, "dave", "s3cret", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION);
  g_assert_cmpstr (error->message, ==, "wrong user name or password");
  g_clear_error (&error);
  g_assert_null (pp_store_authenticate (store, "nobody", PP_TEST_PASSWORD ("d1"), &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION);
  g_assert_cmpstr (error->message, ==, "wrong user name or password");
  g_clear_error (&error);

  g_assert_true (pp_store_set_password (store, "dave", "n3w-pass-lamp-otter", "carol", &error));
  g_assert_no_error (error);
  g_assert_null (pp_store_authenticate (store, "dave", PP_TEST_PASSWORD ("d1"), &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION);
  g_clear_error (&error);
  user = pp_store_authenticate (store, "DAVE", "n3w-pass-lamp-otter", &error);
  g_assert_no_error (error);

  /* The password itself is nowhere in the file. */
  {
    g_autofree char *contents = NULL;
    gsize len;
    g_autofree char *wal = g_strconcat (path, "-wal", NULL);

    g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
    g_assert_null (g_strstr_len (contents, len, "n3w-pass"));
    g_clear_pointer (&contents, g_free);
    if (g_file_get_contents (wal, &contents, &len, NULL))
      g_assert_null (g_strstr_len (contents, len, "n3w-pass"));
  }

  g_assert_true (pp_store_audit_verify (store, NULL, NULL, &error));
  g_assert_no_error (error);
}

/* Over a second connection, as another reader of the file would see it. */
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

static void
assert_refused (gboolean     ok,
                GError     **error,
                const char  *expected)
{
  g_assert_false (ok);
  g_assert_error (*error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION);
  g_assert_cmpstr ((*error)->message, ==, expected);
  g_clear_error (error);
}

static PpAuditEntry *
last_entry (PpStore *store)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) all = pp_store_list_audit (store, 0, 10000, &error);

  g_assert_no_error (error);
  return g_ptr_array_steal_index (all, all->len - 1);
}

/* Only an administrator creates users, assigns roles and resets others'
 * passwords; a user changes their own with the old one; each act is
 * journalled and a refusal changes nothing. */
static void
test_password_account_rules (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "store.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = pp_store_open (path, &error);
  g_autoptr(PpUser) u = NULL;
  gint64 n_audit;

  /* The first account of a store is its administrator, and nothing else. */
  u = pp_store_add_user_with_cost (store, "alice", NULL, PP_USER_ROLE_FIELD_MANAGER, PP_TEST_PASSWORD ("a1"), 10,
                                   "setup", &error);
  assert_refused (u != NULL, &error, "the first account of a station must be an administrator, not a field_manager");
  g_assert_cmpint (sql_int (path, "SELECT count(*) FROM users"), ==, 0);
  u = pp_store_add_user_with_cost (store, "carol", NULL, PP_USER_ROLE_ADMINISTRATOR, PP_TEST_PASSWORD ("c1"), 10,
                                   "setup", &error);
  g_assert_no_error (error);
  g_clear_pointer (&u, pp_user_free);
  u = pp_store_add_user_with_cost (store, "alice", NULL, PP_USER_ROLE_FIELD_MANAGER, PP_TEST_PASSWORD ("a1"), 10,
                                   "carol", &error);
  g_assert_no_error (error);
  g_clear_pointer (&u, pp_user_free);
  u = pp_store_add_user_with_cost (store, "bob", NULL, PP_USER_ROLE_REVIEWER, PP_TEST_PASSWORD ("b1"), 10, "CAROL", &error);
  g_assert_no_error (error);
  g_clear_pointer (&u, pp_user_free);
  {
    g_autoptr(PpAuditEntry) e = last_entry (store);
    g_assert_cmpstr (e->action, ==, "user.add");
    g_assert_cmpstr (e->actor, ==, "carol");
    g_assert_cmpstr (e->subject, ==, "bob");
  }

  /* A field manager creating a reviewer (to approve her own orders) is
   * refused, as is a name that is no user; nothing is stored or journalled. */
  n_audit = sql_int (path, "SELECT count(*) FROM audit");
  u = pp_store_add_user_with_cost (store, "rex", NULL, PP_USER_ROLE_REVIEWER, PP_TEST_PASSWORD ("r1"), 10, "alice", &error);
  assert_refused (u != NULL, &error, "user “alice” (field_manager) may not add users; only a administrator may");
  u = pp_store_add_user_with_cost (store, "rex", NULL, PP_USER_ROLE_REVIEWER, PP_TEST_PASSWORD ("r1"), 10, "bob", &error);
  assert_refused (u != NULL, &error, "user “bob” (reviewer) may not add users; only a administrator may");
  u = pp_store_add_user_with_cost (store, "rex", NULL, PP_USER_ROLE_REVIEWER, PP_TEST_PASSWORD ("r1"), 10, "mallory", &error);
  assert_refused (u != NULL, &error, "“mallory” is not a user of this station and may not add users");
  g_assert_cmpint (sql_int (path, "SELECT count(*) FROM users WHERE username = 'rex'"), ==, 0);

  /* Resetting someone else's password: administrators only. */
  assert_refused (pp_store_set_password (store, "bob", PP_TEST_PASSWORD ("m1"), "mallory", &error), &error,
                  "“mallory” is not a user of this station and may not reset the password of “bob”");
  assert_refused (pp_store_set_password (store, "bob", PP_TEST_PASSWORD ("a2"), "alice", &error), &error,
                  "user “alice” (field_manager) may not reset the password of “bob”; only a administrator may");
  assert_refused (pp_store_set_password (store, "carol", PP_TEST_PASSWORD ("c2"), "carol", &error), &error,
                  "“carol” may not reset their own password; change it with the current one");
  /* Roles: administrators only, not their own. */
  assert_refused (pp_store_set_user_role (store, "alice", PP_USER_ROLE_REVIEWER, "alice", &error), &error,
                  "user “alice” (field_manager) may not assign roles (“alice” to reviewer); only a administrator may");
  assert_refused (pp_store_set_user_role (store, "carol", PP_USER_ROLE_REVIEWER, "carol", &error), &error,
                  "“carol” may not change their own role; another administrator must");
  g_assert_cmpint (sql_int (path, "SELECT count(*) FROM audit"), ==, n_audit);
  u = pp_store_authenticate (store, "bob", PP_TEST_PASSWORD ("b1"), &error);
  g_assert_no_error (error);
  g_clear_pointer (&u, pp_user_free);

  /* Own change with a wrong old password: refused, unchanged, journalled. */
  assert_refused (pp_store_change_password (store, "bob", "not-bobs", PP_TEST_PASSWORD ("b2"), &error), &error,
                  "the current password of “bob” is wrong; the password is unchanged");
  {
    g_autoptr(PpAuditEntry) e = last_entry (store);
    g_assert_cmpstr (e->action, ==, "user.password_change_failed");
    g_assert_cmpstr (e->actor, ==, "bob");
  }
  g_assert_null (pp_store_authenticate (store, "bob", PP_TEST_PASSWORD ("b2"), &error));
  g_clear_error (&error);
  g_assert_true (pp_store_change_password (store, "bob", PP_TEST_PASSWORD ("b1"), PP_TEST_PASSWORD ("b2"), &error));
  g_assert_no_error (error);
  {
    g_autoptr(PpAuditEntry) e = last_entry (store);
    g_assert_cmpstr (e->action, ==, "user.password_change");
    g_assert_cmpstr (e->actor, ==, "bob");
  }
  u = pp_store_authenticate (store, "bob", PP_TEST_PASSWORD ("b2"), &error);
  g_assert_no_error (error);
  g_clear_pointer (&u, pp_user_free);

  /* The administrator's acts, journalled under her name. */
  g_assert_true (pp_store_set_password (store, "alice", PP_TEST_PASSWORD ("a3"), "carol", &error));
  g_assert_no_error (error);
  {
    g_autoptr(PpAuditEntry) e = last_entry (store);
    g_assert_cmpstr (e->action, ==, "user.password_reset");
    g_assert_cmpstr (e->actor, ==, "carol");
    g_assert_cmpstr (e->subject, ==, "alice");
  }
  g_assert_true (pp_store_set_user_role (store, "alice", PP_USER_ROLE_REVIEWER, "carol", &error));
  g_assert_no_error (error);
  {
    g_autoptr(PpAuditEntry) e = last_entry (store);
    g_assert_cmpstr (e->action, ==, "user.role");
    g_assert_cmpstr (e->actor, ==, "carol");
    g_assert_cmpstr (e->detail, ==, "{\"from\":\"field_manager\",\"to\":\"reviewer\"}");
  }
  u = pp_store_get_user (store, "alice", &error);
  g_assert_cmpint (u->role, ==, PP_USER_ROLE_REVIEWER);
  g_assert_true (pp_store_audit_verify (store, NULL, NULL, &error));
  g_assert_no_error (error);
}

static void
assert_not_in_file (const char *path,
                    const char *text)
{
  const char *suffixes[] = { "", "-wal" };

  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *file = g_strconcat (path, suffixes[i], NULL);
      g_autofree char *contents = NULL;
      gsize len = 0;

      if (g_file_get_contents (file, &contents, &len, NULL))
        g_assert_null (g_strstr_len (contents, len, text));
    }
}

/* A password typed into the user-name field is not kept by the journal of
 * the failed login, in any case or form. */
static void
test_password_unknown_name_not_journalled (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "store.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = pp_store_open (path, &error);
  g_autoptr(PpUser) carol = NULL;
  const char *typed = "Tr0ub4dor&3-Horse";

  carol = pp_store_add_user_with_cost (store, "carol", NULL, PP_USER_ROLE_ADMINISTRATOR, PP_TEST_PASSWORD ("c1"), 10,
                                       "setup", &error);
  g_assert_no_error (error);
  g_assert_null (pp_store_authenticate (store, typed, PP_TEST_PASSWORD ("c1"), &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION);
  g_assert_cmpstr (error->message, ==, "wrong user name or password");
  g_clear_error (&error);
  {
    g_autoptr(PpAuditEntry) e = last_entry (store);
    g_assert_cmpstr (e->action, ==, "user.login_failed");
    g_assert_cmpstr (e->actor, ==, "(unknown)");
    g_assert_cmpstr (e->subject, ==, "(unknown)");
  }
  /* A known user's failure still names the user. */
  g_assert_null (pp_store_authenticate (store, "Carol", "not-it", &error));
  g_clear_error (&error);
  {
    g_autoptr(PpAuditEntry) e = last_entry (store);
    g_assert_cmpstr (e->action, ==, "user.login_failed");
    g_assert_cmpstr (e->actor, ==, "carol");
  }
  g_clear_object (&store);

  assert_not_in_file (path, typed);
  assert_not_in_file (path, "tr0ub4dor&3-horse");
  assert_not_in_file (path, "Tr0ub4dor");
  assert_not_in_file (path, "tr0ub4dor");
}

/* The account policy: length in characters, the common list in any case,
 * the user name; every refusal says why without repeating the password. */
static void
test_password_policy (void)
{
  static const struct {
    const char *password;
    const char *username;
    int code;   /* -1: accepted */
  } cases[] = {
    { "", NULL, PP_PASSWORD_ERROR_TOO_SHORT },
    { "demo", NULL, PP_PASSWORD_ERROR_TOO_SHORT },
    { "elevenchars", NULL, PP_PASSWORD_ERROR_TOO_SHORT },           /* 11 */
    { "密码是十一个字符的密码吗", NULL, -1 },                          /* 12 characters, 36 bytes */
    { "十一个字的密码不够长啊", NULL, PP_PASSWORD_ERROR_TOO_SHORT },   /* 11 characters, 33 bytes */
    { "password1234", NULL, PP_PASSWORD_ERROR_COMMON },
    { "PassWord1234", NULL, PP_PASSWORD_ERROR_COMMON },             /* any case */
    { "P@SSW0RD1234", NULL, PP_PASSWORD_ERROR_COMMON },
    { "123456789012", NULL, PP_PASSWORD_ERROR_COMMON },
    { "111111111111", NULL, PP_PASSWORD_ERROR_COMMON },
    { "qwertyuiop12", NULL, PP_PASSWORD_ERROR_COMMON },
    { "1qaz2wsx3edc", NULL, PP_PASSWORD_ERROR_COMMON },
    { "Administrator", NULL, PP_PASSWORD_ERROR_COMMON },
    { "iloveyou2024!", NULL, PP_PASSWORD_ERROR_COMMON },
    { "woaini1314520", NULL, PP_PASSWORD_ERROR_COMMON },
    { "zhangwei123456", NULL, PP_PASSWORD_ERROR_COMMON },
    { "Welcome12345", NULL, PP_PASSWORD_ERROR_COMMON },
    { "tidy-otter-lamp-93", NULL, -1 },
    { "tidy-otter-lamp-93", "Otter", PP_PASSWORD_ERROR_USERNAME },  /* name in any case */
    { "tidy-otter-lamp-93", "ot", -1 },                              /* too short to look for */
    { "tidy-otter-lamp-93", "admin", -1 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      gboolean ok = pp_password_check_policy (cases[i].password, cases[i].username, &error);

      g_test_message ("case %u", i);
      if (cases[i].code < 0)
        {
          g_assert_no_error (error);
          g_assert_true (ok);
          continue;
        }
      g_assert_false (ok);
      g_assert_error (error, PP_PASSWORD_ERROR, cases[i].code);
      if (cases[i].password[0] != '\0')
        g_assert_null (strstr (error->message, cases[i].password));
    }

  /* The message names the rule. */
  {
    g_autoptr(GError) error = NULL;

    g_assert_false (pp_password_check_policy ("short", NULL, &error));
    g_assert_cmpstr (error->message, ==, "The password must have at least 12 characters; this one has 5");
  }
  /* Not valid UTF-8: refused, never read past. */
  {
    g_autoptr(GError) error = NULL;

    g_assert_false (pp_password_check_policy ("abcdefghijkl\xff", NULL, &error));
    g_assert_error (error, PP_PASSWORD_ERROR, PP_PASSWORD_ERROR_FORMAT);
  }
}

/* The users, their password hashes and who set them, and the journal's length:
 * what a refused password must leave as it was. */
static char *
accounts_and_journal (const char *path)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  char *result;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db,
                                       "SELECT coalesce ((SELECT group_concat (username || ':' || role || ':' || "
                                       "password_hash || ':' || coalesce (password_set_by, ''), ',') FROM "
                                       "(SELECT * FROM users ORDER BY username)), '') || '|' || "
                                       "(SELECT count(*) FROM audit)", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  result = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return result;
}

/* Adding a user, an administrator's reset and a user's own change all take
 * only a password that passes the policy: "demo", 11 characters, a common
 * password and one holding the user's name are refused with the policy's
 * error, and nothing in the store changes. */
static void
test_password_policy_in_verbs (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "store.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = pp_store_open (path, &error);
  g_autoptr(PpUser) u = NULL;
  g_autofree char *before = NULL;
  static const struct {
    const char *password;   /* for the user "bob" */
    int         code;
  } weak[] = {
    { PP_STORE_DEMO_PASSWORD, PP_PASSWORD_ERROR_TOO_SHORT },
    { "elevenchars", PP_PASSWORD_ERROR_TOO_SHORT },
    { "password1234", PP_PASSWORD_ERROR_COMMON },
    { "Quiet-BOB-river-42", PP_PASSWORD_ERROR_USERNAME },
  };

  g_assert_no_error (error);
  g_assert_cmpuint (strlen ("elevenchars"), ==, PP_PASSWORD_MIN_LENGTH - 1);
  u = pp_store_add_user_with_cost (store, "carol", NULL, PP_USER_ROLE_ADMINISTRATOR,
                                   PP_TEST_PASSWORD ("c1"), 10, "setup", &error);
  g_assert_no_error (error);
  g_clear_pointer (&u, pp_user_free);
  u = pp_store_add_user_with_cost (store, "alice", NULL, PP_USER_ROLE_FIELD_MANAGER,
                                   PP_TEST_PASSWORD ("a1"), 10, "carol", &error);
  g_assert_no_error (error);
  g_clear_pointer (&u, pp_user_free);
  before = accounts_and_journal (path);

  for (guint i = 0; i < G_N_ELEMENTS (weak); i++)
    {
      g_autofree char *after = NULL;

      g_test_message ("weak password %u", i);
      u = pp_store_add_user_with_cost (store, "bob", NULL, PP_USER_ROLE_REVIEWER, weak[i].password, 10,
                                       "carol", &error);
      g_assert_null (u);
      g_assert_error (error, PP_PASSWORD_ERROR, weak[i].code);
      g_assert_null (strstr (error->message, weak[i].password));
      g_clear_error (&error);

      /* The reset is checked against the name of the user whose password it is. */
      {
        g_autofree char *for_alice = g_strdup (weak[i].password);

        if (weak[i].code == PP_PASSWORD_ERROR_USERNAME)
          {
            g_free (for_alice);
            for_alice = g_strdup ("Quiet-ALICE-river-42");
          }
        g_assert_false (pp_store_set_password (store, "alice", for_alice, "carol", &error));
        g_assert_error (error, PP_PASSWORD_ERROR, weak[i].code);
        g_clear_error (&error);
        g_assert_false (pp_store_change_password (store, "alice", PP_TEST_PASSWORD ("a1"), for_alice,
                                                  &error));
        g_assert_error (error, PP_PASSWORD_ERROR, weak[i].code);
        g_clear_error (&error);
      }

      after = accounts_and_journal (path);
      g_assert_cmpstr (after, ==, before);
    }

  /* A password that passes is taken by each verb. */
  u = pp_store_add_user_with_cost (store, "bob", NULL, PP_USER_ROLE_REVIEWER, PP_TEST_PASSWORD ("b1"), 10,
                                   "carol", &error);
  g_assert_no_error (error);
  g_assert_true (pp_store_set_password (store, "alice", PP_TEST_PASSWORD ("a2"), "carol", &error));
  g_assert_no_error (error);
  g_assert_true (pp_store_change_password (store, "alice", PP_TEST_PASSWORD ("a2"), PP_TEST_PASSWORD ("a3"),
                                           &error));
  g_assert_no_error (error);
}

/* The shipped list: thousands of entries, all of them refused, none shorter
 * than the length rule (those could never be reached). */
static void
test_password_common_list (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "..", "data", "passwords", "common.txt", NULL);
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  guint n = 0;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *upper = NULL;

      if (lines[i][0] == '#' || lines[i][0] == '\0')
        continue;
      n++;
      g_assert_cmpuint (g_utf8_strlen (lines[i], -1), >=, PP_PASSWORD_MIN_LENGTH);
      upper = g_utf8_strup (lines[i], -1);
      g_assert_false (pp_password_check_policy (upper, NULL, &error));
      g_assert_error (error, PP_PASSWORD_ERROR, PP_PASSWORD_ERROR_COMMON);
    }
  g_assert_cmpuint (n, >, 5000);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/password/format", test_password_format);
  g_test_add_func ("/password/fresh-salt", test_password_same_salt_twice);
  g_test_add_func ("/password/rfc7914", test_password_rfc7914);
  g_test_add_func ("/password/malformed", test_password_malformed);
  g_test_add_func ("/password/store-login", test_password_store_login);
  g_test_add_func ("/password/account-rules", test_password_account_rules);
  g_test_add_func ("/password/unknown-name-not-journalled", test_password_unknown_name_not_journalled);
  g_test_add_func ("/password/policy", test_password_policy);
  g_test_add_func ("/password/policy-in-verbs", test_password_policy_in_verbs);
  g_test_add_func ("/password/common-list", test_password_common_list);
  return g_test_run ();
}
