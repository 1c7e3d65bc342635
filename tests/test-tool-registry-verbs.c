/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-tool-registry-verbs.c: `posprov-registry init` and posprov-tool's
 * registry commands (orders, approvals, programs, users) as their real
 * binaries on real store files and a real soft key store: each command's
 * success and error paths, and the four-eyes flow between two processes
 * (alice requests, bob approves; self-approval refused; a one-time code
 * required once enrolled, a valid one computed here from the enrolled
 * secret with pp-totp).
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <qrencode.h>

#include "pp-key-host.h"
#include "pp-openssl-types.h"
#include "pp-store.h"
#include "pp-test-util.h"
#include "pp-totp.h"
#include "tr34-test-pki.h"

#define SECRET "registry key store passphrase"
#define ADMIN_PW PP_TEST_PASSWORD ("adm")
#define ALICE_PW PP_TEST_PASSWORD ("al")
#define BOB_PW PP_TEST_PASSWORD ("bo")

typedef struct {
  char *dir;
  char *db;
  char *keys;
  char *pki;   /* the PEM files */
} Fixture;

static char *
pki_file (Fixture    *f,
          const char *name)
{
  return g_build_filename (f->pki, name, NULL);
}

static void
write_key (EVP_PKEY   *key,
           const char *path)
{
  FILE *out = fopen (path, "w");

  g_assert_nonnull (out);
  g_assert_cmpint (PEM_write_PrivateKey (out, key, NULL, NULL, 0, NULL, NULL), ==, 1);
  fclose (out);
}

static void
concat (const char *out_path,
        const char *a,
        const char *b)
{
  g_autofree char *ta = NULL, *tb = NULL, *all = NULL;

  g_assert_true (g_file_get_contents (a, &ta, NULL, NULL));
  g_assert_true (g_file_get_contents (b, &tb, NULL, NULL));
  all = g_strconcat (ta, tb, NULL);
  g_assert_true (g_file_set_contents (out_path, all, -1, NULL));
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autofree char *root = NULL, *krd = NULL, *both = NULL, *key = NULL;

  f->dir = pp_test_make_tmpdir ();
  f->db = g_build_filename (f->dir, "registry.db", NULL);
  f->keys = g_build_filename (f->dir, "keys", NULL);
  f->pki = g_build_filename (f->dir, "pki", NULL);
  g_assert_cmpint (g_mkdir (f->pki, 0700), ==, 0);
  pp_test_pki_write (pki, f->pki);
  key = pki_file (f, "ca-kdh.key");
  write_key (pki->ca_kdh_key, key);
  root = pki_file (f, "root.pem");
  krd = pki_file (f, "ca-krd.pem");
  both = pki_file (f, "krd-trust.pem");
  concat (both, root, krd);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_free (f->dir);
  g_free (f->db);
  g_free (f->keys);
  g_free (f->pki);
}

/* Runs @binary (an env variable naming it) with @args and the
 * environment @env ("NAME=value" sets, a bare "NAME" unsets; NULL-terminated)
 * (pp_test_run_program); returns the exit status. */
static int
run (const char         *binary_env,
     const char * const *args,
     const char * const *env,
     char              **out_stdout,
     char              **out_stderr)
{
  /* Nothing from the caller's environment speaks for the test: not even
   * its key store (unset before @env applies). */
  g_autoptr(GPtrArray) all_env = g_ptr_array_new ();

  g_ptr_array_add (all_env, (gpointer) "POSPROV_KEY_STORE");
  for (guint i = 0; env != NULL && env[i] != NULL; i++)
    g_ptr_array_add (all_env, (gpointer) env[i]);
  g_ptr_array_add (all_env, NULL);
  return pp_test_run_program (binary_env, args, (const char * const *) all_env->pdata, SECRET,
                              out_stdout, out_stderr);
}

/* `posprov-registry init ARGS…`. */
static int
run_init (const char * const *args,
          const char * const *env,
          char              **out_stdout,
          char              **out_stderr)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();

  g_ptr_array_add (argv, (gpointer) "init");
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  return run ("PP_REGISTRY", (const char * const *) argv->pdata, env, out_stdout, out_stderr);
}

/* posprov-tool as @user with @password, the registry's key store in
 * POSPROV_KEY_STORE. */
static int
tool_as (Fixture             *f,
         const char          *user,
         const char          *password,
         const char * const  *args,
         char               **out_stdout,
         char               **out_stderr)
{
  g_autofree char *u = g_strconcat ("PP_REGISTRY_USER=", user, NULL);
  g_autofree char *p = g_strconcat ("PP_REGISTRY_PASSWORD=", password, NULL);
  g_autofree char *k = g_strconcat ("POSPROV_KEY_STORE=", f->keys, NULL);
  const char *env[] = { u, p, k, "PP_NEW_PASSWORD=" PP_TEST_PASSWORD ("new"), NULL };

  return run ("PP_TOOL", args, env, out_stdout, out_stderr);
}

static int
init_with_ca (Fixture  *f,
              char    **out_stderr)
{
  g_autofree char *ca = pki_file (f, "ca-kdh.pem");
  g_autofree char *key = pki_file (f, "ca-kdh.key");
  g_autofree char *crl = pki_file (f, "crl.der");
  g_autofree char *krd = pki_file (f, "krd-trust.pem");
  const char *args[] = { "--db", f->db, "--key-store", f->keys, "--ca-kdh-cert", ca, "--ca-kdh-key", key,
                         "--ca-kdh-crl", crl, "--ca-krd-cert", krd, NULL };
  const char *env[] = { "PP_ADMIN_PASSWORD=" ADMIN_PW, NULL };

  return run_init (args, env, NULL, out_stderr);
}

static JsonObject *
parse_json (JsonParser *parser,
            const char *text)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (json_parser_load_from_data (parser, text, -1, &error));
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (parser));
}

/* Files in the fixture's folder whose name starts with "registry.db". */
static guint
count_store_files (Fixture *f)
{
  g_autoptr(GDir) dir = g_dir_open (f->dir, 0, NULL);
  const char *name;
  guint n = 0;

  while ((name = g_dir_read_name (dir)) != NULL)
    n += g_str_has_prefix (name, "registry.db");
  return n;
}

/* ---- init ---- */

static void
test_init (Fixture       *f,
           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  g_autoptr(PpStore) store = NULL;
  g_autoptr(PpKeyHostConfig) config = NULL;
  g_autoptr(PpUser) admin = NULL;
  g_autoptr(PpKeyStore) keys = NULL;
  g_autoptr(PpKeyHost) host = NULL;

  g_assert_cmpint (init_with_ca (f, &err), ==, 0);
  g_assert_cmpuint (count_store_files (f), ==, 1);
  store = pp_store_open_existing (f->db, &error);
  g_assert_no_error (error);
  admin = pp_store_authenticate (store, "admin", ADMIN_PW, &error);
  g_assert_no_error (error);
  g_assert_cmpint (admin->role, ==, PP_USER_ROLE_ADMINISTRATOR);
  config = pp_store_get_key_host_config (store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (config->ca_krd->len, ==, 2);
  g_assert_nonnull (config->kdh_crl);
  g_assert_true (g_str_has_prefix (config->kdh_key_label, "kdh-"));
  /* The key host starts on it: key, certificate (by CA_KDH) and trust agree. */
  keys = pp_key_store_new_for_location (f->keys, SECRET, &error);
  g_assert_no_error (error);
  host = pp_key_host_new (store, keys, &error);
  g_assert_no_error (error);
  {
    g_autoptr(GBytes) der = pp_key_host_get_certificate (host);
    const unsigned char *p = g_bytes_get_data (der, NULL);
    g_autoptr(X509) cert = d2i_X509 (NULL, &p, (long) g_bytes_get_size (der));

    g_assert_nonnull (cert);
    g_assert_cmpint (X509_verify (cert, X509_get0_pubkey (pp_test_pki_get ()->ca_kdh)), ==, 1);
  }
  g_clear_pointer (&host, pp_key_host_unref);
  g_clear_object (&store);

  /* Not over an existing store. */
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (init_with_ca (f, &err), !=, 0);
  g_assert_nonnull (strstr (err, "exists already"));
}

/* Each refusal leaves nothing behind. */
static void
test_init_refused (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *ca = pki_file (f, "ca-kdh.pem");
  g_autofree char *wrong_key = pki_file (f, "krd.key");
  g_autofree char *key = pki_file (f, "ca-kdh.key");
  g_autofree char *krd = pki_file (f, "krd-trust.pem");
  g_autofree char *not_pem = pki_file (f, "crl.der");
  struct {
    const char *args[12];
    const char *password;
    const char *message;
  } cases[] = {
    { { "--db", f->db, "--key-store", f->keys, "--ca-kdh-cert", ca, "--ca-kdh-key", key, NULL },
      ADMIN_PW, "--ca-krd-cert is required" },
    { { "--db", f->db, "--key-store", f->keys, "--ca-kdh-cert", ca, "--ca-krd-cert", krd, NULL },
      ADMIN_PW, "go together" },
    { { "--db", f->db, "--key-store", f->keys, "--ca-kdh-cert", ca, "--ca-kdh-key", wrong_key,
        "--ca-krd-cert", krd, NULL }, ADMIN_PW, "not the key of the --ca-kdh-cert" },
    { { "--db", f->db, "--key-store", f->keys, "--ca-krd-cert", not_pem, NULL }, ADMIN_PW, "--ca-krd-cert" },
    { { "--db", f->db, "--key-store", f->keys, "--ca-kdh-cert", ca, "--ca-kdh-key", key,
        "--ca-krd-cert", krd, NULL }, "short", "password" },
    { { "--key-store", f->keys, "--ca-krd-cert", krd, NULL }, ADMIN_PW, "--db and --key-store are required" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *env_pw = g_strconcat ("PP_ADMIN_PASSWORD=", cases[i].password, NULL);
      const char *env[] = { env_pw, NULL };
      g_autofree char *err = NULL;

      g_assert_cmpint (run_init (cases[i].args, env, NULL, &err), ==, 1);
      g_assert_nonnull (strstr (err, cases[i].message));
      g_assert_true (g_str_has_prefix (err, "posprov-registry: "));
      g_assert_cmpuint (count_store_files (f), ==, 0);
    }
}

/* Without CA_KDH's key: a request for the CA, then its certificate installed. */
static void
test_init_csr (Fixture       *f,
               gconstpointer  data)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL, *err = NULL;
  g_autofree char *krd = pki_file (f, "krd-trust.pem");
  g_autofree char *csr_path = g_strconcat (f->db, ".kdh-csr.pem", NULL);
  g_autofree char *signed_path = pki_file (f, "kdh-signed.pem");
  g_autofree char *other = pki_file (f, "kdh.pem");
  g_autofree char *label = NULL;
  g_autoptr(X509) cert = X509_new ();
  g_autoptr(PpStore) store = NULL;
  g_autoptr(PpKeyHostConfig) config = NULL;
  X509_REQ *req;
  const char *env[] = { "PP_ADMIN_PASSWORD=" ADMIN_PW, NULL };
  const char *args[] = { "--db", f->db, "--key-store", f->keys, "--ca-krd-cert", krd, NULL };
  const char *at;
  FILE *fp;

  g_assert_cmpint (run_init (args, env, &out, &err), ==, 0);
  g_assert_true (g_file_test (csr_path, G_FILE_TEST_IS_REGULAR));
  at = strstr (out, "--kdh-label ");
  g_assert_nonnull (at);
  label = g_strndup (at + strlen ("--kdh-label "), strcspn (at + strlen ("--kdh-label "), " "));
  g_assert_true (g_str_has_prefix (label, "kdh-"));
  store = pp_store_open_existing (f->db, &error);
  g_assert_no_error (error);
  g_assert_null (pp_store_get_key_host_config (store, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_clear_object (&store);

  /* The CA signs the request (here: with OpenSSL directly). */
  fp = fopen (csr_path, "r");
  req = PEM_read_X509_REQ (fp, NULL, NULL, NULL);
  fclose (fp);
  g_assert_nonnull (req);
  g_assert_cmpint (X509_REQ_verify (req, X509_REQ_get0_pubkey (req)), ==, 1);
  X509_set_version (cert, 2);
  ASN1_INTEGER_set (X509_get_serialNumber (cert), 0x5151);
  X509_set_subject_name (cert, X509_REQ_get_subject_name (req));
  X509_set_issuer_name (cert, X509_get_subject_name (pki->ca_kdh));
  X509_gmtime_adj (X509_getm_notBefore (cert), -60);
  X509_gmtime_adj (X509_getm_notAfter (cert), 3600L * 24 * 365);
  X509_set_pubkey (cert, X509_REQ_get0_pubkey (req));
  g_assert_cmpint (X509_sign (cert, pki->ca_kdh_key, EVP_sha256 ()), >, 0);
  X509_REQ_free (req);
  fp = fopen (signed_path, "w");
  PEM_write_X509 (fp, cert);
  fclose (fp);

  /* Another key's certificate is refused; the signed one installed. */
  {
    const char *a[] = { "--db", f->db, "--key-store", f->keys, "--kdh-label", label, "--kdh-cert", other,
                        "--ca-krd-cert", krd, NULL };

    g_clear_pointer (&err, g_free);
    g_assert_cmpint (run_init (a, env, NULL, &err), ==, 1);
    g_assert_nonnull (strstr (err, "another key"));
  }
  {
    const char *a[] = { "--db", f->db, "--key-store", f->keys, "--kdh-label", label, "--kdh-cert", signed_path,
                        "--ca-krd-cert", krd, NULL };
    const char *wrong_env[] = { "PP_ADMIN_PASSWORD=" PP_TEST_PASSWORD ("nope"), NULL };

    g_clear_pointer (&err, g_free);
    g_assert_cmpint (run_init (a, wrong_env, NULL, &err), ==, 1);
    g_assert_nonnull (strstr (err, "wrong user name or password"));
    g_clear_pointer (&err, g_free);
    g_assert_cmpint (run_init (a, env, NULL, &err), ==, 0);
  }
  store = pp_store_open_existing (f->db, &error);
  g_assert_no_error (error);
  config = pp_store_get_key_host_config (store, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (config->kdh_key_label, ==, label);
}

/* ---- the registry commands ---- */

/* init, alice (field manager) and bob (reviewer) added with the tool, two
 * terminals and a merchant put in with the store API. Returns the
 * merchant's id. */
static gint64
set_up_registry (Fixture *f)
{
  static const PpTerminalIntake rows[] = { { "PAX1001", "PAX", "A920" }, { "PAX1002", "PAX", "A920" } };
  const PpMerchantFields fields = { "Lucky Noodle House", "91310000MA1FL0001X", "1 Nanjing Road", "5812",
                                    "Li Wei", "+86 21 5555 0101" };
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = NULL;
  g_autoptr(PpMerchant) m = NULL;

  g_assert_cmpint (init_with_ca (f, NULL), ==, 0);
  {
    const char *a[] = { "users", "add", "alice", "--role", "field_manager", "--db", f->db, NULL };
    const char *b[] = { "users", "add", "bob", "--role", "reviewer", "--db", f->db, NULL };
    const char *env_a[] = { "PP_REGISTRY_USER=admin", "PP_REGISTRY_PASSWORD=" ADMIN_PW,
                            "PP_NEW_PASSWORD=" ALICE_PW, NULL };
    const char *env_b[] = { "PP_REGISTRY_USER=admin", "PP_REGISTRY_PASSWORD=" ADMIN_PW,
                            "PP_NEW_PASSWORD=" BOB_PW, NULL };

    g_assert_cmpint (run ("PP_TOOL", a, env_a, NULL, NULL), ==, 0);
    g_assert_cmpint (run ("PP_TOOL", b, env_b, NULL, NULL), ==, 0);
  }
  store = pp_store_open_existing (f->db, &error);
  g_assert_no_error (error);
  g_assert_true (pp_store_add_terminals (store, rows, G_N_ELEMENTS (rows), "intake", &error));
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      g_autofree char *fp = g_compute_checksum_for_string (G_CHECKSUM_SHA256, rows[i].serial, -1);
      g_autofree char *up = g_ascii_strup (fp, -1);

      g_assert_true (pp_store_set_terminal_certificate (store, rows[i].serial, up, "admin", &error));
      g_assert_no_error (error);
    }
  m = pp_store_add_merchant (store, &fields, "alice", &error);
  g_assert_no_error (error);
  return m->id;
}

/* Creates an order for @serial as alice; returns its id. */
static char *
create_order (Fixture    *f,
              const char *serial,
              gint64      merchant)
{
  g_autofree char *m = g_strdup_printf ("%" G_GINT64_FORMAT, merchant);
  const char *args[] = { "orders", "create", "--db", f->db, "--serial", serial, "--merchant", m,
                         "--program", "2.1.0", "--json", NULL };
  g_autofree char *out = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *o;

  g_assert_cmpint (tool_as (f, "alice", ALICE_PW, args, &out, NULL), ==, 0);
  o = parse_json (parser, out);
  g_assert_cmpstr (json_object_get_string_member (o, "state"), ==, "open");
  g_assert_cmpstr (json_object_get_string_member (o, "serial"), ==, serial);
  g_assert_cmpuint (strlen (json_object_get_string_member (o, "mid")), ==, 15);
  g_assert_cmpuint (strlen (json_object_get_string_member (o, "tid")), ==, 8);
  return g_strdup (json_object_get_string_member (o, "id"));
}

static char *
request (Fixture    *f,
         const char *order,
         const char *otp,
         int         expect,
         char      **out_stderr)
{
  const char *args[] = { "approvals", "request", order, "--db", f->db, "--scanned", "pax1001", "--json",
                         otp != NULL ? "--otp" : NULL, otp, NULL };
  g_autofree char *out = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();

  g_assert_cmpint (tool_as (f, "alice", ALICE_PW, args, &out, out_stderr), ==, expect);
  if (expect != 0)
    return NULL;
  return g_strdup (json_object_get_string_member (parse_json (parser, out), "id"));
}

static guint
count_actions (Fixture    *f,
               const char *action)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = pp_store_open_existing (f->db, &error);
  g_autoptr(GPtrArray) entries = pp_store_list_audit (store, 0, G_MAXUINT, &error);
  guint n = 0;

  g_assert_no_error (error);
  for (guint i = 0; i < entries->len; i++)
    n += g_str_equal (((PpAuditEntry *) g_ptr_array_index (entries, i))->action, action);
  return n;
}

static void
test_four_eyes (Fixture       *f,
                gconstpointer  data)
{
  gint64 merchant = set_up_registry (f);
  g_autofree char *order = create_order (f, "PAX1001", merchant);
  g_autofree char *approval = NULL;
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *o;
  JsonArray *list;

  /* alice asks; bob sees exactly what he would approve. */
  approval = request (f, order, NULL, 0, NULL);
  {
    const char *args[] = { "approvals", "list", "--db", f->db, "--json", NULL };

    g_assert_cmpint (tool_as (f, "bob", BOB_PW, args, &out, NULL), ==, 0);
    o = parse_json (parser, out);
    g_assert_cmpint (json_object_get_int_member (o, "count"), ==, 1);
    list = json_object_get_array_member (o, "approvals");
    o = json_array_get_object_element (list, 0);
    g_assert_cmpstr (json_object_get_string_member (o, "id"), ==, approval);
    g_assert_cmpstr (json_object_get_string_member (o, "order"), ==, order);
    g_assert_cmpstr (json_object_get_string_member (o, "serial"), ==, "PAX1001");
    g_assert_cmpstr (json_object_get_string_member (o, "merchant"), ==, "Lucky Noodle House");
    g_assert_cmpuint (strlen (json_object_get_string_member (o, "mid")), ==, 15);
    g_assert_cmpuint (strlen (json_object_get_string_member (o, "tid")), ==, 8);
    g_assert_cmpstr (json_object_get_string_member (o, "program"), ==, "2.1.0");
    g_assert_cmpstr (json_object_get_string_member (o, "requester"), ==, "alice");
    g_assert_true (g_str_has_suffix (json_object_get_string_member (o, "time"), "Z"));
    g_clear_pointer (&out, g_free);
  }

  /* alice may not approve her own request; bob may. */
  {
    const char *args[] = { "approvals", "approve", approval, "--db", f->db, "--json", NULL };

    g_assert_cmpint (tool_as (f, "alice", ALICE_PW, args, NULL, &err), ==, 1);
    g_assert_true (g_str_has_prefix (err, "posprov-tool: "));
    g_assert_nonnull (strstr (err, "alice"));
    g_clear_pointer (&err, g_free);
    g_assert_cmpint (tool_as (f, "bob", BOB_PW, args, &out, NULL), ==, 0);
    o = parse_json (parser, out);
    g_assert_cmpstr (json_object_get_string_member (o, "state"), ==, "approved");
    g_assert_cmpstr (json_object_get_string_member (o, "approver"), ==, "bob");
    g_clear_pointer (&out, g_free);
    /* Decided once. */
    g_assert_cmpint (tool_as (f, "bob", BOB_PW, args, NULL, &err), ==, 1);
    g_clear_pointer (&err, g_free);
  }
  {
    const char *args[] = { "orders", "show", order, "--db", f->db, NULL };

    g_assert_cmpint (tool_as (f, "alice", ALICE_PW, args, &out, NULL), ==, 0);
    g_assert_nonnull (strstr (out, "approved"));
    g_clear_pointer (&out, g_free);
  }
  {
    const char *args[] = { "approvals", "list", "--db", f->db, NULL };

    g_assert_cmpint (tool_as (f, "bob", BOB_PW, args, &out, NULL), ==, 0);
    g_assert_nonnull (strstr (out, "No approval requests are pending."));
    g_clear_pointer (&out, g_free);
  }
  {
    const char *args[] = { "orders", "list", "--db", f->db, "--json", NULL };

    g_assert_cmpint (tool_as (f, "bob", BOB_PW, args, &out, NULL), ==, 0);
    g_assert_cmpint (json_object_get_int_member (parse_json (parser, out), "count"), ==, 1);
    g_clear_pointer (&out, g_free);
  }
}

/* The QR code printed in half blocks back into modules. */
static GPtrArray *
read_qr (const char *text)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  GPtrArray *rows = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      GString *top, *bottom;

      if (!g_str_has_prefix (lines[i], "\u2588"))
        continue;
      top = g_string_new (NULL);
      bottom = g_string_new (NULL);
      for (const char *p = lines[i]; *p != '\0'; p = g_utf8_next_char (p))
        {
          gunichar c = g_utf8_get_char (p);

          /* light drawn, dark blank */
          g_string_append_c (top, c == 0x2588 || c == 0x2580 ? '0' : '1');
          g_string_append_c (bottom, c == 0x2588 || c == 0x2584 ? '0' : '1');
        }
      g_ptr_array_add (rows, g_string_free (top, FALSE));
      g_ptr_array_add (rows, g_string_free (bottom, FALSE));
    }
  return rows;
}

/* The half-block QR code in @out is libqrencode's for @text. */
static void
assert_qr_of (const char *out,
              const char *text)
{
  g_autoptr(GPtrArray) rows = read_qr (out);
  QRcode *qr = QRcode_encodeString (text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  int w = qr->width;

  g_assert_cmpuint (rows->len, >=, (guint) w + 4);
  for (int y = 0; y < w; y++)
    for (int x = 0; x < w; x++)
      g_assert_cmpint (((const char *) g_ptr_array_index (rows, y + 2))[x + 2] == '1', ==,
                       (qr->data[y * w + x] & 1) != 0);
  QRcode_free (qr);
}

/* approvals show: found by its code (typed loosely) or its QR text,
 * everything the reviewer checks, and the QR code that opens it. */
static void
test_approvals_show (Fixture       *f,
                     gconstpointer  data)
{
  gint64 merchant = set_up_registry (f);
  g_autofree char *order = create_order (f, "PAX1001", merchant);
  g_autofree char *approval = request (f, order, NULL, 0, NULL);
  g_autofree char *out = NULL, *err = NULL;
  g_autofree char *code = NULL;
  g_autofree char *typed = NULL;
  g_autofree char *payload = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *o;

  {
    const char *args[] = { "approvals", "list", "--db", f->db, "--json", NULL };

    g_assert_cmpint (tool_as (f, "bob", BOB_PW, args, &out, NULL), ==, 0);
    o = json_array_get_object_element (json_object_get_array_member (parse_json (parser, out), "approvals"), 0);
    code = g_strdup (json_object_get_string_member (o, "code"));
    g_clear_pointer (&out, g_free);
  }
  g_assert_cmpuint (strlen (code), ==, PP_APPROVAL_CODE_LENGTH);
  payload = g_strdup_printf ("posprov:approval:%s?code=%s", approval, code);
  typed = g_ascii_strdown (code, -1);
  {
    g_autofree char *hyphen = g_strdup_printf ("%.4s-%s", typed, typed + 4);
    const char *args[] = { "approvals", "show", hyphen, "--db", f->db, NULL };

    g_assert_cmpint (tool_as (f, "bob", BOB_PW, args, &out, NULL), ==, 0);
  }
  {
    static const char * const fields[] = { "Serial:", "Model:", "Merchant:", "MID:", "TID:", "Program:",
                                           "Requester:", "Requested:", "State:", "Code:" };

    for (guint j = 0; j < G_N_ELEMENTS (fields); j++)
      g_assert_nonnull (strstr (out, fields[j]));
  }
  g_assert_nonnull (strstr (out, "PAX1001"));
  g_assert_nonnull (strstr (out, "A920"));
  g_assert_nonnull (strstr (out, "Lucky Noodle House"));
  g_assert_nonnull (strstr (out, "2.1.0"));
  g_assert_nonnull (strstr (out, "alice"));
  g_assert_nonnull (strstr (out, "pending"));
  g_assert_nonnull (strstr (out, payload));
  /* The QR code in the terminal is the payload's. */
  assert_qr_of (out, payload);
  g_clear_pointer (&out, g_free);

  /* The scanned text opens the same request; --json carries it as "qr". */
  {
    const char *args[] = { "approvals", "show", payload, "--db", f->db, "--json", NULL };

    g_assert_cmpint (tool_as (f, "bob", BOB_PW, args, &out, NULL), ==, 0);
    o = parse_json (parser, out);
    g_assert_cmpstr (json_object_get_string_member (o, "id"), ==, approval);
    g_assert_cmpstr (json_object_get_string_member (o, "qr"), ==, payload);
    g_clear_pointer (&out, g_free);
  }
  /* Neither an id nor a code; a code nobody has. */
  {
    const char *args[] = { "approvals", "show", "what?", "--db", f->db, NULL };
    const char *args2[] = { "approvals", "show", "ZZZZZZZZ", "--db", f->db, NULL };

    g_assert_cmpint (tool_as (f, "bob", BOB_PW, args, NULL, &err), ==, 1);
    g_assert_nonnull (strstr (err, "what?"));
    g_clear_pointer (&err, g_free);
    g_assert_cmpint (tool_as (f, "bob", BOB_PW, args2, NULL, &err), ==, 1);
    g_assert_nonnull (strstr (err, "ZZZZZZZZ"));
  }
}

static void
test_otp (Fixture       *f,
          gconstpointer  data)
{
  gint64 merchant = set_up_registry (f);
  g_autofree char *order = create_order (f, "PAX1001", merchant);
  g_autofree char *out = NULL, *err = NULL;
  g_autofree char *uri = NULL;
  g_autofree char *b32 = NULL;
  g_autofree char *approval = NULL;
  g_autoptr(PpSecureBuffer) secret = NULL;
  g_autoptr(GError) error = NULL;
  const char *at;
  char good[9], wrong[9];
  gint64 step;

  /* bob may not enrol alice; alice enrols herself. */
  {
    const char *args[] = { "users", "enroll-otp", "alice", "--db", f->db, NULL };

    g_assert_cmpint (tool_as (f, "bob", BOB_PW, args, NULL, &err), ==, 1);
    g_clear_pointer (&err, g_free);
    g_assert_cmpint (tool_as (f, "alice", ALICE_PW, args, &out, NULL), ==, 0);
  }
  at = strstr (out, "otpauth://totp/posprov:alice?secret=");
  g_assert_nonnull (at);
  uri = g_strndup (at, strcspn (at, "\n"));
  b32 = g_strndup (uri + strlen ("otpauth://totp/posprov:alice?secret="),
                   strcspn (uri + strlen ("otpauth://totp/posprov:alice?secret="), "&"));
  secret = pp_base32_decode (b32, &error);
  g_assert_no_error (error);

  /* The QR code in the terminal is the URI's. */
  assert_qr_of (out, uri);

  step = pp_totp_step (g_get_real_time () / G_USEC_PER_SEC, PP_TOTP_DEFAULT_PERIOD);
  g_assert_true (pp_totp_code (secret, PP_TOTP_SHA1, 6, step, good, NULL));
  g_assert_true (pp_totp_code (secret, PP_TOTP_SHA1, 6, step + 9, wrong, NULL));
  if (g_str_equal (good, wrong))
    g_assert_true (pp_totp_code (secret, PP_TOTP_SHA1, 6, step + 11, wrong, NULL));

  /* Required now: none and a wrong one refused (the wrong one journalled). */
  g_assert_null (request (f, order, NULL, 1, &err));
  g_assert_nonnull (strstr (err, "one-time code"));
  g_clear_pointer (&err, g_free);
  g_assert_null (request (f, order, wrong, 1, &err));
  g_assert_nonnull (strstr (err, "one-time code is wrong"));
  g_clear_pointer (&err, g_free);
  g_assert_cmpuint (count_actions (f, "user.otp_failed"), ==, 1);
  approval = request (f, order, good, 0, NULL);
  g_assert_nonnull (approval);
  /* The same code once more (another request): replayed. */
  {
    g_autofree char *order2 = create_order (f, "PAX1002", merchant);
    const char *args[] = { "approvals", "request", order2, "--db", f->db, "--otp", good, NULL };

    g_assert_cmpint (tool_as (f, "alice", ALICE_PW, args, NULL, &err), ==, 1);
    g_assert_nonnull (strstr (err, "used already"));
    g_assert_cmpuint (count_actions (f, "user.otp_failed"), ==, 2);
  }
}

static void
test_errors (Fixture       *f,
             gconstpointer  data)
{
  gint64 merchant = set_up_registry (f);
  g_autofree char *order = create_order (f, "PAX1001", merchant);
  g_autofree char *missing = g_build_filename (f->dir, "nothing.db", NULL);
  g_autofree char *nobody = g_uuid_string_random ();
  struct {
    const char *user;
    const char *password;
    const char *args[12];
    const char *message;
  } cases[] = {
    { "", "", { "orders", "list", "--db", f->db, NULL }, "set PP_REGISTRY_USER and PP_REGISTRY_PASSWORD" },
    { "alice", PP_TEST_PASSWORD ("wrong"), { "orders", "list", "--db", f->db, NULL }, "wrong user name or password" },
    { "alice", ALICE_PW, { "orders", "list", "--db", missing, NULL }, "no store at" },
    { "alice", ALICE_PW, { "orders", "list", "--registry", "https://127.0.0.1:1", NULL }, "cannot be reached" },
    { "alice", ALICE_PW, { "orders", "show", nobody, "--db", f->db, NULL }, "" },
    { "alice", ALICE_PW, { "orders", "show", "not-a-uuid", "--db", f->db, NULL }, "not a work order id" },
    { "alice", ALICE_PW, { "orders", "create", "--db", f->db, "--serial", "PAX1002", NULL }, "are required" },
    { "alice", ALICE_PW, { "orders", "create", "--db", f->db, "--serial", "PAX1001", "--merchant", "1",
                           "--program", "2.1.0", NULL }, "PAX1001" },
    { "bob", BOB_PW, { "approvals", "reject", nobody, "--db", f->db, NULL }, "--reason" },
    { "bob", BOB_PW, { "approvals", "approve", nobody, "--db", f->db, NULL }, "" },
    { "alice", ALICE_PW, { "users", "add", "eve", "--role", "reviewer", "--db", f->db, NULL }, "administrator" },
    { "admin", ADMIN_PW, { "users", "add", "eve", "--role", "boss", "--db", f->db, NULL }, "boss" },
    { "bob", BOB_PW, { "programs", "upload", "--db", f->db, NULL }, "one program package" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *err = NULL;

      g_assert_cmpint (tool_as (f, cases[i].user, cases[i].password, cases[i].args, NULL, &err), ==, 1);
      g_assert_true (g_str_has_prefix (err, "posprov-tool: "));
      g_assert_nonnull (strstr (err, cases[i].message));
    }
  g_assert_false (g_file_test (missing, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (count_actions (f, "user.login_failed"), ==, 1);

  /* A reviewer rejects with a reason: the order is cancelled. */
  {
    g_autofree char *approval = request (f, order, NULL, 0, NULL);
    const char *args[] = { "approvals", "reject", approval, "--reason", "wrong shop", "--db", f->db, NULL };
    const char *show[] = { "orders", "show", order, "--db", f->db, "--json", NULL };
    g_autofree char *out = NULL;
    g_autoptr(JsonParser) parser = json_parser_new ();

    g_assert_cmpint (tool_as (f, "bob", BOB_PW, args, NULL, NULL), ==, 0);
    g_assert_cmpint (tool_as (f, "bob", BOB_PW, show, &out, NULL), ==, 0);
    g_assert_cmpstr (json_object_get_string_member (parse_json (parser, out), "state"), ==, "cancelled");
  }
}

static void
test_programs (Fixture       *f,
               gconstpointer  data)
{
  g_autofree char *payload = g_build_filename (f->dir, "app.bin", NULL);
  g_autofree char *pkg = g_build_filename (f->dir, "app.ppkg", NULL);
  g_autofree char *key = pki_file (f, "kdh.key");
  g_autofree char *cert = pki_file (f, "kdh.pem");
  g_autofree char *trust = pki_file (f, "trust.pem");
  g_autofree char *other_trust = pki_file (f, "ca-krd.pem");
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *o;

  set_up_registry (f);
  g_assert_true (g_file_set_contents (payload, "payment application bytes", -1, NULL));
  {
    const char *args[] = { "program", "pack", "--name", "payapp", "--version", "3.0.1", "--models", "A920,P2",
                           "--signing-key", key, "--signing-cert", cert, "-o", pkg, payload, NULL };

    g_assert_cmpint (tool_as (f, "alice", ALICE_PW, args, NULL, NULL), ==, 0);
  }
  {
    const char *args[] = { "programs", "upload", pkg, "--trust", other_trust, "--db", f->db, NULL };

    g_assert_cmpint (tool_as (f, "alice", ALICE_PW, args, NULL, &err), ==, 1);
    g_clear_pointer (&err, g_free);
  }
  {
    const char *args[] = { "programs", "upload", pkg, "--trust", trust, "--db", f->db, "--json", NULL };

    /* A reviewer does not add programs. */
    g_assert_cmpint (tool_as (f, "bob", BOB_PW, args, NULL, &err), ==, 1);
    g_clear_pointer (&err, g_free);
    g_assert_cmpint (tool_as (f, "alice", ALICE_PW, args, &out, NULL), ==, 0);
    o = parse_json (parser, out);
    g_assert_cmpint (json_object_get_int_member (o, "count"), ==, 2);
    g_clear_pointer (&out, g_free);
    /* Once only. */
    g_assert_cmpint (tool_as (f, "alice", ALICE_PW, args, NULL, &err), ==, 1);
    g_assert_nonnull (strstr (err, "already"));
    g_clear_pointer (&err, g_free);
  }
  {
    const char *args[] = { "programs", "list", "--model", "P2", "--db", f->db, "--json", NULL };
    JsonObject *p;

    g_assert_cmpint (tool_as (f, "bob", BOB_PW, args, &out, NULL), ==, 0);
    o = parse_json (parser, out);
    g_assert_cmpint (json_object_get_int_member (o, "count"), ==, 1);
    p = json_array_get_object_element (json_object_get_array_member (o, "programs"), 0);
    g_assert_cmpstr (json_object_get_string_member (p, "name"), ==, "payapp");
    g_assert_cmpstr (json_object_get_string_member (p, "version"), ==, "3.0.1");
    g_assert_cmpint (json_object_get_int_member (p, "size"), ==, strlen ("payment application bytes"));
  }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/tool-registry-verbs/init", test_init);
  ADD ("/tool-registry-verbs/init-refused", test_init_refused);
  ADD ("/tool-registry-verbs/init-csr", test_init_csr);
  ADD ("/tool-registry-verbs/four-eyes", test_four_eyes);
  ADD ("/tool-registry-verbs/otp", test_otp);
  ADD ("/tool-registry-verbs/approvals-show", test_approvals_show);
  ADD ("/tool-registry-verbs/errors", test_errors);
  ADD ("/tool-registry-verbs/programs", test_programs);

  return g_test_run ();
}
