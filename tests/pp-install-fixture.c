/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-install-fixture.c: see pp-install-fixture.h.
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <openssl/pem.h>
#include <sqlite3.h>

#include "pp-hex.h"
#include "pp-install-fixture.h"
#include "pp-openssl-types.h"
#include "pp-store.h"
#include "tr34-test-pki.h"

static char *
pki_file (PpInstallFixture *f,
          const char       *name)
{
  return g_build_filename (f->pki, name, NULL);
}

static void
write_key (EVP_PKEY   *key,
           const char *path)
{
  g_autoptr(BIO) bio = BIO_new_file (path, "w");

  g_assert_nonnull (bio);
  g_assert_cmpint (PEM_write_bio_PrivateKey (bio, key, NULL, NULL, 0, NULL, NULL), ==, 1);
}

static void
write_certs (const char *path,
             X509       *a,
             X509       *b)
{
  g_autoptr(BIO) bio = BIO_new_file (path, "w");

  g_assert_cmpint (PEM_write_bio_X509 (bio, a), ==, 1);
  g_assert_cmpint (PEM_write_bio_X509 (bio, b), ==, 1);
}

int
pp_install_fixture_run (const char         *binary_env,
                        const char * const *args,
                        const char * const *env,
                        char              **out_stdout,
                        char              **out_stderr)
{
  return pp_test_run_program (binary_env, args, env, PP_INSTALL_SECRET, out_stdout, out_stderr);
}

char *
pp_install_fixture_term_dir (PpInstallFixture *f,
                             const char       *serial)
{
  return g_build_filename (f->fleet, serial, NULL);
}

/* SHA-256 of the terminal's device certificate, upper hex. */
static char *
device_fingerprint (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "device.pem", NULL);
  g_autoptr(BIO) bio = BIO_new_file (path, "r");
  g_autoptr(X509) cert = NULL;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;

  g_assert_nonnull (bio);
  cert = PEM_read_bio_X509 (bio, NULL, NULL, NULL);
  g_assert_nonnull (cert);
  g_assert_cmpint (X509_digest (cert, EVP_sha256 (), md, &len), ==, 1);
  return pp_hex_encode (md, len);
}

void
pp_install_fixture_set_up (PpInstallFixture *f,
                           const char       *prefix,
                           guint             n)
{
  const PpTestPki *pki = pp_test_pki_get ();
  const PpMerchantFields fields = { "Lucky Noodle House", "91310000MA1FL0001X", "1 Nanjing Road", "5812",
                                    "Li Wei", "+86 21 5555 0101" };
  g_autofree char *both = NULL, *ca_kdh_key = NULL, *ca_krd_key = NULL;
  g_autofree char *ca_kdh = NULL, *crl = NULL, *ca_krd = NULL, *trust = NULL, *payload = NULL;
  g_autofree char *sign_key = NULL, *sign_cert = NULL;
  g_autoptr(PpStore) store = NULL;
  g_autoptr(PpMerchant) m = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree PpTerminalIntake *rows = g_new0 (PpTerminalIntake, n);

  f->dir = pp_test_make_tmpdir ();
  f->db = g_build_filename (f->dir, "registry.db", NULL);
  f->keys = g_build_filename (f->dir, "keys", NULL);
  f->pki = g_build_filename (f->dir, "pki", NULL);
  f->fleet = g_build_filename (f->dir, "terminals", NULL);
  f->package = g_build_filename (f->dir, "payapp-3.0.1.ppkg", NULL);
  g_assert_cmpint (g_mkdir (f->pki, 0700), ==, 0);
  g_assert_cmpint (g_mkdir (f->fleet, 0700), ==, 0);
  pp_test_pki_write (pki, f->pki);
  ca_kdh_key = pki_file (f, "ca-kdh.key");
  write_key (pki->ca_kdh_key, ca_kdh_key);
  ca_krd_key = pki_file (f, "ca-krd.key");
  write_key (pki->ca_krd_key, ca_krd_key);
  both = pki_file (f, "krd-trust.pem");
  write_certs (both, pki->root, pki->ca_krd);
  ca_kdh = pki_file (f, "ca-kdh.pem");
  ca_krd = pki_file (f, "ca-krd.pem");
  crl = pki_file (f, "crl.der");
  trust = pki_file (f, "trust.pem");
  sign_key = pki_file (f, "kdh.key");
  sign_cert = pki_file (f, "kdh.pem");

  /* The store, as an administrator makes it. */
  {
    const char *args[] = { "init", "--db", f->db, "--key-store", f->keys, "--ca-kdh-cert", ca_kdh,
                           "--ca-kdh-key", ca_kdh_key, "--ca-kdh-crl", crl, "--ca-krd-cert", both, NULL };
    const char *env[] = { "PP_ADMIN_PASSWORD=" PP_INSTALL_ADMIN_PW, NULL };

    g_assert_cmpint (pp_install_fixture_run ("PP_REGISTRY", args, env, NULL, NULL), ==, 0);
  }

  /* The terminals, certified at the factory by CA_KRD. */
  f->serials = g_new0 (char *, n + 1);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *dir = NULL;
      g_autofree char *out = NULL, *err = NULL;
      const char *init[] = { "init", "--dir", NULL, "--serial", NULL, "--vendor", "Acme", "--model", "X1",
                             "--trust", trust, "--ca-krd-cert", ca_krd, "--ca-krd-key", ca_krd_key,
                             "--program-trust", trust, NULL };

      f->serials[i] = g_strdup_printf ("%s%04u", prefix, i + 1);
      dir = pp_install_fixture_term_dir (f, f->serials[i]);
      init[2] = dir;
      init[4] = f->serials[i];
      g_assert_cmpint (pp_test_run_termsim (init, &out, &err), ==, 0);
      rows[i].serial = f->serials[i];
      rows[i].vendor = "Acme";
      rows[i].model = "X1";
    }

  store = pp_store_open_existing (f->db, &error);
  g_assert_no_error (error);
  /* a cheap scrypt: every tool run signs in */
  pp_user_free (pp_store_add_user_with_cost (store, "alice", NULL, PP_USER_ROLE_FIELD_MANAGER, PP_INSTALL_ALICE_PW,
                                             8, "admin", &error));
  g_assert_no_error (error);
  pp_user_free (pp_store_add_user_with_cost (store, "bob", NULL, PP_USER_ROLE_REVIEWER, PP_INSTALL_BOB_PW, 8,
                                             "admin", &error));
  g_assert_no_error (error);
  g_assert_true (pp_store_add_terminals (store, rows, n, "alice", &error));
  g_assert_no_error (error);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *dir = pp_install_fixture_term_dir (f, f->serials[i]);
      g_autofree char *fp = device_fingerprint (dir);

      g_assert_true (pp_store_set_terminal_certificate (store, f->serials[i], fp, "admin", &error));
      g_assert_no_error (error);
    }
  m = pp_store_add_merchant (store, &fields, "alice", &error);
  g_assert_no_error (error);
  f->merchant_id = m->id;
  f->mid = g_strdup (m->mid);
  g_clear_object (&store);

  /* The program, signed by a key the terminals trust, in the catalogue. */
  payload = g_build_filename (f->dir, "app.bin", NULL);
  {
    g_autofree guint8 *bytes = g_malloc (96 * 1024);

    for (gsize i = 0; i < 96 * 1024; i++)
      bytes[i] = (guint8) (i * 131 + 7);
    g_assert_true (g_file_set_contents (payload, (const char *) bytes, 96 * 1024, NULL));
  }
  {
    const char *pack[] = { "program", "pack", "--name", PP_INSTALL_PROGRAM, "--version", PP_INSTALL_VERSION,
                           "--kind", "signature-file", "--models", "X1", "--signing-key", sign_key, "--signing-cert", sign_cert,
                           "-o", f->package, payload, NULL };
    const char *upload[] = { "programs", "upload", f->package, "--trust", trust, "--db", f->db, NULL };
    const char *env[] = { "PP_REGISTRY_USER=alice", "PP_REGISTRY_PASSWORD=" PP_INSTALL_ALICE_PW, NULL };

    g_assert_cmpint (pp_install_fixture_run ("PP_TOOL", pack, env, NULL, NULL), ==, 0);
    g_assert_cmpint (pp_install_fixture_run ("PP_TOOL", upload, env, NULL, NULL), ==, 0);
  }
}

void
pp_install_fixture_tear_down (PpInstallFixture *f)
{
  g_free (f->dir);
  g_free (f->db);
  g_free (f->keys);
  g_free (f->pki);
  g_free (f->fleet);
  g_free (f->package);
  g_strfreev (f->serials);
  g_free (f->mid);
}

JsonNode *
pp_install_fixture_show (PpInstallFixture *f,
                         const char       *serial)
{
  g_autofree char *dir = pp_install_fixture_term_dir (f, serial);
  const char *args[] = { "show", "--dir", dir, "--json", NULL };
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  JsonNode *node;

  g_assert_cmpint (pp_test_run_termsim (args, &out, NULL), ==, 0);
  node = json_from_string (out, &error);
  g_assert_no_error (error);
  return node;
}

guint
pp_install_fixture_count_keys (PpInstallFixture *f,
                               const char       *serial,
                               char            **out_last_kcv)
{
  g_autoptr(JsonNode) node = pp_install_fixture_show (f, serial);
  JsonArray *keys = json_object_get_array_member (json_node_get_object (node), "keys");
  guint n = 0;

  for (guint i = 0; i < json_array_get_length (keys); i++)
    {
      JsonObject *k = json_array_get_object_element (keys, i);

      if (json_object_get_boolean_member_with_default (k, "working", FALSE))
        continue;
      n++;
      if (out_last_kcv != NULL)
        {
          g_free (*out_last_kcv);
          *out_last_kcv = g_strdup (json_object_get_string_member (k, "kcv"));
        }
    }
  return n;
}

char *
pp_install_fixture_serve (PpInstallFixture     *f,
                          PpTestTermsimServer  *server,
                          const char           *serial,
                          const char * const   *extra,
                          GPtrArray           **out_ports)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autofree char *dir = serial != NULL ? pp_install_fixture_term_dir (f, serial) : g_strdup (f->fleet);
  char *first;

  g_ptr_array_add (args, (gpointer) "--tcp");
  g_ptr_array_add (args, (gpointer) "127.0.0.1:0");
  for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
    g_ptr_array_add (args, (gpointer) extra[i]);
  g_ptr_array_add (args, NULL);
  first = pp_test_termsim_start_args (server, dir, (const char * const *) args->pdata);
  if (out_ports != NULL)
    {
      guint n = g_strv_length (f->serials);

      *out_ports = g_ptr_array_new_with_free_func (g_free);
      g_ptr_array_add (*out_ports, g_strdup (first));
      while ((*out_ports)->len < n)
        {
          g_autoptr(GError) error = NULL;
          char *line = g_data_input_stream_read_line_utf8 (server->lines, NULL, NULL, &error);

          g_assert_no_error (error);
          g_assert_nonnull (line);
          g_ptr_array_add (*out_ports, line);
        }
    }
  return first;
}

guint
pp_install_fixture_count_audit (PpInstallFixture *f,
                                const char       *action)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = pp_store_open_existing (f->db, &error);
  g_autoptr(GPtrArray) entries = NULL;
  guint n = 0;

  g_assert_no_error (error);
  entries = pp_store_list_audit (store, 0, G_MAXUINT, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < entries->len; i++)
    n += g_str_equal (((PpAuditEntry *) g_ptr_array_index (entries, i))->action, action);
  return n;
}

char *
pp_install_fixture_sql_text (PpInstallFixture *f,
                             const char       *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  char *text = NULL;

  g_assert_cmpint (sqlite3_open_v2 (f->db, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) != SQLITE_OK)
    g_error ("%s: %s", sql, sqlite3_errmsg (db));
  if (sqlite3_step (stmt) == SQLITE_ROW && sqlite3_column_text (stmt, 0) != NULL)
    text = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return text;
}
