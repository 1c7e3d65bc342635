/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-totp.c: TOTP (core/crypto/pp-totp.h) against the published vectors,
 * base32 likewise, the otpauth:// URI, and the store's enrolment and check of
 * a user's one-time code (sealed secret, window, replay) on a real SQLite
 * file and a real soft key store.
 */
#include "config.h"

#include <string.h>

#include <sqlite3.h>

#include "pp-store.h"
#include "pp-test-util.h"
#include "pp-totp.h"

/* RFC 4648 section 10 (Test Vectors), base32. */
static void
test_base32_rfc4648 (void)
{
  static const struct {
    const char *data;
    const char *encoded;
  } vectors[] = {
    { "", "" },
    { "f", "MY======" },
    { "fo", "MZXQ====" },
    { "foo", "MZXW6===" },
    { "foob", "MZXW6YQ=" },
    { "fooba", "MZXW6YTB" },
    { "foobar", "MZXW6YTBOI======" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (vectors); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *padded = pp_base32_encode ((const guint8 *) vectors[i].data, strlen (vectors[i].data), TRUE);
      g_autofree char *bare = pp_base32_encode ((const guint8 *) vectors[i].data, strlen (vectors[i].data), FALSE);
      g_autoptr(PpSecureBuffer) decoded = NULL;
      g_autoptr(PpSecureBuffer) decoded_bare = NULL;
      g_autofree char *lower = g_ascii_strdown (vectors[i].encoded, -1);

      g_assert_cmpstr (padded, ==, vectors[i].encoded);
      g_assert_true (g_str_has_prefix (vectors[i].encoded, bare));
      g_assert_null (strchr (bare, '='));

      decoded = pp_base32_decode (vectors[i].encoded, &error);
      g_assert_no_error (error);
      g_assert_cmpmem (pp_secure_buffer_peek (decoded), pp_secure_buffer_get_len (decoded),
                       vectors[i].data, strlen (vectors[i].data));
      /* Without padding and in lower case, as people type it. */
      decoded_bare = pp_base32_decode (lower, &error);
      g_assert_no_error (error);
      g_assert_cmpmem (pp_secure_buffer_peek (decoded_bare), pp_secure_buffer_get_len (decoded_bare),
                       vectors[i].data, strlen (vectors[i].data));
    }
}

static void
test_base32_refuses (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpSecureBuffer) out = pp_base32_decode ("MZXW1YQ", &error);

  /* "1" is not base32 (people mistake it for "I" or "L"). */
  g_assert_null (out);
  g_assert_error (error, PP_TOTP_ERROR, PP_TOTP_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "5"));
  g_clear_error (&error);
  out = pp_base32_decode ("MY==MY", &error);
  g_assert_null (out);
  g_assert_error (error, PP_TOTP_ERROR, PP_TOTP_ERROR_INVALID);
}

/* RFC 6238 Appendix B (Test Vectors): the seeds are the ASCII strings
 * "12345678901234567890" repeated to 20, 32 and 64 bytes, 8 digits. */
static void
test_totp_rfc6238 (void)
{
  static const struct {
    gint64 time;
    const char *sha1, *sha256, *sha512;
  } vectors[] = {
    { 59, "94287082", "46119246", "90693936" },
    { 1111111109, "07081804", "68084774", "25091201" },
    { 1111111111, "14050471", "67062674", "99943326" },
    { 1234567890, "89005924", "91819424", "93441116" },
    { 2000000000, "69279037", "90698825", "38618901" },
    { 20000000000, "65353130", "77737706", "47863826" },
  };
  g_autoptr(PpSecureBuffer) seed20 = pp_secure_buffer_new_from ((const guint8 *) "12345678901234567890", 20);
  g_autoptr(PpSecureBuffer) seed32 =
    pp_secure_buffer_new_from ((const guint8 *) "12345678901234567890123456789012", 32);
  g_autoptr(PpSecureBuffer) seed64 =
    pp_secure_buffer_new_from ((const guint8 *) "1234567890123456789012345678901234567890"
                                                "123456789012345678901234", 64);

  for (guint i = 0; i < G_N_ELEMENTS (vectors); i++)
    {
      g_autoptr(GError) error = NULL;
      gint64 step = pp_totp_step (vectors[i].time, PP_TOTP_DEFAULT_PERIOD);
      char code[9];

      g_assert_true (pp_totp_code (seed20, PP_TOTP_SHA1, 8, step, code, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (code, ==, vectors[i].sha1);
      g_assert_true (pp_totp_code (seed32, PP_TOTP_SHA256, 8, step, code, &error));
      g_assert_cmpstr (code, ==, vectors[i].sha256);
      g_assert_true (pp_totp_code (seed64, PP_TOTP_SHA512, 8, step, code, &error));
      g_assert_cmpstr (code, ==, vectors[i].sha512);
      /* The 6-digit code apps show is the last six of the same number. */
      g_assert_true (pp_totp_code (seed20, PP_TOTP_SHA1, 6, step, code, &error));
      g_assert_cmpstr (code, ==, vectors[i].sha1 + 2);
    }
}

static void
test_totp_verify_window_and_replay (void)
{
  g_autoptr(PpSecureBuffer) seed = pp_secure_buffer_new_from ((const guint8 *) "12345678901234567890", 20);
  g_autoptr(GError) error = NULL;
  gint64 now = 1111111111;   /* step 37037037, code 050471 (RFC 6238 B) */
  gint64 step = -1;

  g_assert_true (pp_totp_verify (seed, "050471", now, -1, &step, &error));
  g_assert_no_error (error);
  g_assert_cmpint (step, ==, 37037037);
  /* One step either side (a clock 30 s off), not two. */
  g_assert_true (pp_totp_verify (seed, "050471", now + 30, -1, &step, &error));
  g_assert_true (pp_totp_verify (seed, "050471", now - 30, -1, &step, &error));
  g_assert_false (pp_totp_verify (seed, "050471", now + 60, -1, &step, &error));
  g_assert_error (error, PP_TOTP_ERROR, PP_TOTP_ERROR_WRONG_CODE);
  g_clear_error (&error);
  g_assert_false (pp_totp_verify (seed, "050472", now, -1, &step, &error));
  g_assert_error (error, PP_TOTP_ERROR, PP_TOTP_ERROR_WRONG_CODE);
  g_clear_error (&error);
  g_assert_false (pp_totp_verify (seed, "50471", now, -1, &step, &error));
  g_assert_error (error, PP_TOTP_ERROR, PP_TOTP_ERROR_WRONG_CODE);
  g_clear_error (&error);
  /* Used once: the same step (or an older one) is a replay. */
  g_assert_false (pp_totp_verify (seed, "050471", now, 37037037, &step, &error));
  g_assert_error (error, PP_TOTP_ERROR, PP_TOTP_ERROR_REPLAYED);
}

static void
test_totp_uri (void)
{
  g_autoptr(PpSecureBuffer) seed = pp_secure_buffer_new_from ((const guint8 *) "12345678901234567890", 20);
  g_autoptr(PpSecureBuffer) uri = pp_totp_uri ("posprov", "alice", seed);
  g_autoptr(PpSecureBuffer) spaced = pp_totp_uri ("Bank Co", "a:b", seed);

  /* base32 of "12345678901234567890" (the Key URI format's own example). */
  g_assert_cmpstr ((const char *) pp_secure_buffer_peek (uri), ==,
                   "otpauth://totp/posprov:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=posprov");
  g_assert_cmpstr ((const char *) pp_secure_buffer_peek (spaced), ==,
                   "otpauth://totp/Bank%20Co:a%3Ab?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Bank%20Co");
}

/* ---- the store ---- */

typedef struct {
  char *dir;
  char *path;
  PpStore *store;
  PpKeyStore *key_store;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *keys = NULL;
  static const struct {
    const char *name;
    PpUserRole role;
  } users[] = {
    { "carol", PP_USER_ROLE_ADMINISTRATOR },
    { "alice", PP_USER_ROLE_FIELD_MANAGER },
    { "bob", PP_USER_ROLE_REVIEWER },
  };

  f->dir = pp_test_make_tmpdir ();
  f->path = g_build_filename (f->dir, "store.db", NULL);
  f->store = pp_store_open (f->path, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (users); i++)
    {
      g_autoptr(PpUser) u = pp_store_add_user_with_cost (f->store, users[i].name, NULL, users[i].role,
                                                         PP_TEST_PASSWORD ("0"), 10, i == 0 ? "setup" : "carol",
                                                         &error);
      g_assert_no_error (error);
      g_assert_nonnull (u);
    }
  keys = g_build_filename (f->dir, "keys", NULL);
  f->key_store = pp_key_store_soft_new (keys, "totp test key store passphrase", &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_clear_object (&f->key_store);
  g_clear_object (&f->store);
  g_free (f->path);
  g_free (f->dir);
}

/* The secret of an otpauth URI, as the authenticator app reads it. */
static PpSecureBuffer *
uri_secret (const PpSecureBuffer *uri)
{
  const char *text = (const char *) pp_secure_buffer_peek (uri);
  const char *s = strstr (text, "secret=");
  g_autofree char *b32 = NULL;
  g_autoptr(GError) error = NULL;
  PpSecureBuffer *secret;

  g_assert_nonnull (s);
  b32 = g_strndup (s + 7, strcspn (s + 7, "&"));
  secret = pp_base32_decode (b32, &error);
  g_assert_no_error (error);
  return secret;
}

static gboolean
file_holds (const char   *path,
            const guint8 *needle,
            gsize         len)
{
  g_autofree char *contents = NULL;
  gsize size = 0;

  if (!g_file_get_contents (path, &contents, &size, NULL))
    return FALSE;
  for (gsize i = 0; i + len <= size; i++)
    if (memcmp (contents + i, needle, len) == 0)
      return TRUE;
  return FALSE;
}

static void
test_store_enrol_and_verify (Fixture       *f,
                             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpSecureBuffer) uri = NULL;
  g_autoptr(PpSecureBuffer) secret = NULL;
  g_autofree char *b32 = NULL;
  g_autofree char *wal = g_strconcat (f->path, "-wal", NULL);
  gboolean enrolled = TRUE;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  char code[9], next[9];

  g_assert_true (pp_store_has_otp (f->store, "alice", &enrolled, &error));
  g_assert_false (enrolled);
  /* Only the user or an administrator enrols. */
  uri = pp_store_enroll_otp (f->store, f->key_store, "alice", "bob", &error);
  g_assert_null (uri);
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION);
  g_clear_error (&error);

  uri = pp_store_enroll_otp (f->store, f->key_store, "alice", "carol", &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix ((const char *) pp_secure_buffer_peek (uri), "otpauth://totp/posprov:alice?secret="));
  g_assert_true (pp_store_has_otp (f->store, "alice", &enrolled, &error));
  g_assert_true (enrolled);
  secret = uri_secret (uri);
  g_assert_cmpuint (pp_secure_buffer_get_len (secret), ==, PP_TOTP_SECRET_LEN);

  /* Not in clear in the database, as bytes or base32. */
  b32 = pp_base32_encode (pp_secure_buffer_peek (secret), pp_secure_buffer_get_len (secret), FALSE);
  g_assert_false (file_holds (f->path, pp_secure_buffer_peek (secret), PP_TOTP_SECRET_LEN));
  g_assert_false (file_holds (wal, pp_secure_buffer_peek (secret), PP_TOTP_SECRET_LEN));
  g_assert_false (file_holds (f->path, (const guint8 *) b32, strlen (b32)));
  g_assert_false (file_holds (wal, (const guint8 *) b32, strlen (b32)));

  g_assert_true (pp_totp_code (secret, PP_TOTP_SHA1, 6, pp_totp_step (now, 30), code, &error));
  g_assert_true (pp_store_verify_otp (f->store, f->key_store, "alice", code, now, &error));
  g_assert_no_error (error);
  /* Used: the same code again is refused and journalled. */
  g_assert_false (pp_store_verify_otp (f->store, f->key_store, "alice", code, now, &error));
  g_assert_error (error, PP_TOTP_ERROR, PP_TOTP_ERROR_REPLAYED);
  g_clear_error (&error);
  /* The next step's code is good. */
  g_assert_true (pp_totp_code (secret, PP_TOTP_SHA1, 6, pp_totp_step (now, 30) + 1, next, &error));
  g_assert_true (pp_store_verify_otp (f->store, f->key_store, "ALICE", next, now + 30, &error));
  g_assert_no_error (error);
  /* A wrong code: the next step's, one digit off. */
  g_assert_true (pp_totp_code (secret, PP_TOTP_SHA1, 6, pp_totp_step (now, 30) + 2, next, &error));
  next[5] = (char) ('0' + (next[5] - '0' + 1) % 10);
  g_assert_false (pp_store_verify_otp (f->store, f->key_store, "alice", next, now + 60, &error));
  g_assert_error (error, PP_TOTP_ERROR, PP_TOTP_ERROR_WRONG_CODE);
  g_clear_error (&error);
  {
    g_autoptr(GPtrArray) entries = pp_store_list_audit (f->store, 0, G_MAXUINT, &error);
    guint failed = 0, enrol = 0;

    for (guint i = 0; i < entries->len; i++)
      {
        PpAuditEntry *e = g_ptr_array_index (entries, i);

        failed += g_str_equal (e->action, "user.otp_failed");
        enrol += g_str_equal (e->action, "user.otp_enroll");
        g_assert_null (strstr (e->detail != NULL ? e->detail : "", b32));
      }
    g_assert_cmpuint (enrol, ==, 1);
    g_assert_cmpuint (failed, >=, 1);
  }

  /* bob has none. */
  g_assert_false (pp_store_verify_otp (f->store, f->key_store, "bob", code, now, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_NOT_FOUND);
}

/* A sealed secret moved to another user's row does not open. */
static void
test_store_sealed_per_user (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpSecureBuffer) alice_uri = pp_store_enroll_otp (f->store, f->key_store, "alice", "alice", &error);
  g_autoptr(PpSecureBuffer) bob_uri = pp_store_enroll_otp (f->store, f->key_store, "bob", "carol", &error);
  g_autoptr(PpSecureBuffer) secret = uri_secret (alice_uri);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  sqlite3 *db = NULL;
  char code[9];

  g_assert_no_error (error);
  g_assert_nonnull (bob_uri);
  g_assert_cmpint (sqlite3_open (f->path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "UPDATE user_otp SET sealed = (SELECT sealed FROM user_otp WHERE "
                                     "username = 'alice') WHERE username = 'bob'", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
  g_assert_true (pp_totp_code (secret, PP_TOTP_SHA1, 6, pp_totp_step (now, 30), code, &error));
  g_assert_false (pp_store_verify_otp (f->store, f->key_store, "bob", code, now, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/totp/base32/rfc4648", test_base32_rfc4648);
  g_test_add_func ("/totp/base32/refuses", test_base32_refuses);
  g_test_add_func ("/totp/rfc6238", test_totp_rfc6238);
  g_test_add_func ("/totp/verify/window-and-replay", test_totp_verify_window_and_replay);
  g_test_add_func ("/totp/uri", test_totp_uri);
  g_test_add ("/totp/store/enrol-and-verify", Fixture, NULL, fixture_set_up, test_store_enrol_and_verify,
              fixture_tear_down);
  g_test_add ("/totp/store/sealed-per-user", Fixture, NULL, fixture_set_up, test_store_sealed_per_user,
              fixture_tear_down);
  return g_test_run ();
}
