/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-registry-server.c: posprov-registry serve over real HTTPS on
 * loopback. The test makes a CA and a server certificate (OpenSSL), a
 * store with its key host (the key host fixture), starts the real binary
 * on 127.0.0.1:0, reads the port from its first line and talks to it with
 * a libsoup client that trusts that CA only. The terminal's side of the key
 * load is the real TR-34 KRD of core/tr34.
 */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "pp-key-host-fixture.h"
#include "pp-openssl-types.h"
#include "pp-registry-server.h"
#include "pp-test-util.h"
#include "pp-totp.h"
#include "pp-tr34.h"

#define PASSWORD PP_TEST_PASSWORD ("0")
#define LOGIN_DELAY_MS 300

static const PpTerminalIntake terminals[] = {
  { "RS-0001", "PAX", "A920" },
  { "RS-0002", "Sunmi", "P2" },
};

typedef struct {
  GSubprocess *process;
  char *base;           /* https://127.0.0.1:PORT */
} Daemon;

static struct {
  PpKeyHostFixture kh;
  char *program_pem;     /* the trusted program signer */
  char *package;         /* signed by it, for A920 and P2 */
  char *rogue_package;   /* signed by a signer nobody trusts */
  char *ledger_package;  /* another, by the trusted signer, for the tool's upload */
  char *ca_pem;
  char *cert_pem;
  char *key_pem;
  char *client_pem;      /* a station's certificate from the same CA */
  char *client_key_pem;
  Daemon daemon;
  SoupSession *session;
  X509 *cert[2];
  PpTr34Krd *krd[2];
  PpTr34KrdState *state[2];
} T;

/* ---- the test PKI for TLS ---- */

static EVP_PKEY *
make_ec_key (void)
{
  EVP_PKEY *key = EVP_EC_gen ("P-256");

  g_assert_nonnull (key);
  return key;
}

static X509 *
make_cert (const char *cn,
           EVP_PKEY   *key,
           X509       *issuer,
           EVP_PKEY   *issuer_key,
           gboolean    ca)
{
  X509 *cert = X509_new ();
  X509_NAME *name = X509_NAME_new ();
  X509V3_CTX ctx;
  X509_EXTENSION *ext;

  X509_set_version (cert, 2);
  ASN1_INTEGER_set (X509_get_serialNumber (cert), ca ? 1 : 2);
  X509_gmtime_adj (X509_getm_notBefore (cert), -3600);
  X509_gmtime_adj (X509_getm_notAfter (cert), 86400);
  X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_UTF8, (const guchar *) cn, -1, -1, 0);
  X509_set_subject_name (cert, name);
  X509_set_issuer_name (cert, issuer != NULL ? X509_get_subject_name (issuer) : name);
  X509_set_pubkey (cert, key);
  X509V3_set_ctx (&ctx, issuer != NULL ? issuer : cert, cert, NULL, NULL, 0);
  ext = X509V3_EXT_conf_nid (NULL, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
  X509_add_ext (cert, ext, -1);
  X509_EXTENSION_free (ext);
  if (ca)
    ext = X509V3_EXT_conf_nid (NULL, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  else
    ext = X509V3_EXT_conf_nid (NULL, &ctx, NID_subject_alt_name, "IP:127.0.0.1");
  X509_add_ext (cert, ext, -1);
  X509_EXTENSION_free (ext);
  g_assert_cmpint (X509_sign (cert, issuer_key != NULL ? issuer_key : key, EVP_sha256 ()), >, 0);
  X509_NAME_free (name);
  return cert;
}

static void
write_pem (const char *path,
           X509       *cert,
           EVP_PKEY   *key)
{
  FILE *out = fopen (path, "w");

  g_assert_nonnull (out);
  if (cert != NULL)
    g_assert_cmpint (PEM_write_X509 (out, cert), ==, 1);
  if (key != NULL)
    g_assert_cmpint (PEM_write_PrivateKey (out, key, NULL, NULL, 0, NULL, NULL), ==, 1);
  fclose (out);
}

static void
make_tls_files (const char *dir)
{
  g_autoptr(EVP_PKEY) ca_key = make_ec_key ();
  g_autoptr(EVP_PKEY) key = make_ec_key ();
  g_autoptr(X509) ca = make_cert ("posprov test CA", ca_key, NULL, NULL, TRUE);
  g_autoptr(X509) cert = make_cert ("127.0.0.1", key, ca, ca_key, FALSE);

  T.ca_pem = g_build_filename (dir, "ca.pem", NULL);
  T.cert_pem = g_build_filename (dir, "server.pem", NULL);
  T.key_pem = g_build_filename (dir, "server-key.pem", NULL);
  write_pem (T.ca_pem, ca, NULL);
  write_pem (T.cert_pem, cert, NULL);
  write_pem (T.key_pem, NULL, key);
  {
    g_autoptr(EVP_PKEY) client_key = make_ec_key ();
    g_autoptr(X509) client = make_cert ("station-1", client_key, ca, ca_key, FALSE);

    T.client_pem = g_build_filename (dir, "client.pem", NULL);
    T.client_key_pem = g_build_filename (dir, "client-key.pem", NULL);
    write_pem (T.client_pem, client, NULL);
    write_pem (T.client_key_pem, NULL, client_key);
  }
  {
    g_autoptr(EVP_PKEY) rogue_key = make_ec_key ();
    g_autoptr(X509) rogue = make_cert ("station-x", rogue_key, NULL, NULL, FALSE);
    g_autofree char *pem = g_build_filename (dir, "rogue-client.pem", NULL);

    write_pem (pem, rogue, rogue_key);
  }
}

/* ---- program packages, made by the real posprov-tool ---- */

static void
write_signer (const char *dir,
              const char *name,
              char      **out_key,
              char      **out_cert)
{
  g_autoptr(EVP_PKEY) key = EVP_RSA_gen (2048);
  g_autoptr(X509) cert = X509_new ();
  X509_NAME *subject = X509_get_subject_name (cert);
  X509V3_CTX ctx;
  X509_EXTENSION *ext;
  g_autofree char *key_name = g_strconcat (name, ".key", NULL);
  g_autofree char *cert_name = g_strconcat (name, ".pem", NULL);

  X509_set_version (cert, 2);
  ASN1_INTEGER_set (X509_get_serialNumber (cert), 9);
  X509_NAME_add_entry_by_txt (subject, "CN", MBSTRING_ASC, (const guint8 *) name, -1, -1, 0);
  X509_set_issuer_name (cert, subject);
  X509_gmtime_adj (X509_getm_notBefore (cert), -86400);
  X509_gmtime_adj (X509_getm_notAfter (cert), 365 * 86400);
  X509_set_pubkey (cert, key);
  X509V3_set_ctx (&ctx, cert, cert, NULL, NULL, 0);
  ext = X509V3_EXT_conf_nid (NULL, &ctx, NID_key_usage, "critical,digitalSignature");
  X509_add_ext (cert, ext, -1);
  X509_EXTENSION_free (ext);
  ext = X509V3_EXT_conf_nid (NULL, &ctx, NID_ext_key_usage, "codeSigning");
  X509_add_ext (cert, ext, -1);
  X509_EXTENSION_free (ext);
  g_assert_cmpint (X509_sign (cert, key, EVP_sha256 ()), >, 0);
  *out_key = g_build_filename (dir, key_name, NULL);
  *out_cert = g_build_filename (dir, cert_name, NULL);
  write_pem (*out_key, NULL, key);
  write_pem (*out_cert, cert, NULL);
}

static char *
pack (const char *dir,
      const char *name,
      const char *key,
      const char *cert,
      const char *payload)
{
  g_autofree char *file = g_strconcat (name, ".pkg", NULL);
  char *out = g_build_filename (dir, file, NULL);
  const char *argv[] = { "program", "pack", "--name", name, "--version", "2.1.0", "--kind", "payment-app",
                         "--models", "A920,P2", "--signing-key", key, "--signing-cert", cert,
                         "-o", out, payload, NULL };
  g_autofree char *err = NULL;

  if (pp_test_run_tool (argv, NULL, NULL, &err) != 0)
    g_error ("program pack: %s", err);
  return out;
}

static void
make_packages (const char *dir)
{
  g_autofree char *key = NULL;
  g_autofree char *rogue_key = NULL;
  g_autofree char *rogue_cert = NULL;
  g_autofree char *payload = g_build_filename (dir, "pay.bin", NULL);
  gsize len = 1536 * 1024;   /* over the 1 MiB of a JSON body */
  g_autofree guint8 *data = g_malloc (len);

  for (gsize i = 0; i < len; i++)
    data[i] = (guint8) g_test_rand_int_range (0, 256);
  g_assert_true (g_file_set_contents (payload, (const char *) data, (gssize) len, NULL));
  write_signer (dir, "signer", &key, &T.program_pem);
  write_signer (dir, "rogue", &rogue_key, &rogue_cert);
  T.package = pack (dir, "pay", key, T.program_pem, payload);
  T.rogue_package = pack (dir, "rogue", rogue_key, rogue_cert, payload);
  T.ledger_package = pack (dir, "ledger", key, T.program_pem, payload);
}

/* ---- the daemon ---- */

/* The daemon goes when the test does, even when the test aborts. */
static void
child_setup (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static void
daemon_start (Daemon             *d,
              const char * const *extra)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autofree char *keys = g_build_filename (T.kh.base.dir, "keys", NULL);
  g_autofree char *line = NULL;
  g_autofree char *delay = g_strdup_printf ("%d", LOGIN_DELAY_MS);
  const char *binary = g_getenv ("PP_REGISTRY");

  g_assert_nonnull (binary);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  g_subprocess_launcher_setenv (launcher, "POSPROV_KEY_STORE_SECRET", "fixture key store passphrase", TRUE);
  g_ptr_array_add (argv, (gpointer) binary);
  g_ptr_array_add (argv, (gpointer) "serve");
  g_ptr_array_add (argv, (gpointer) "--db");
  g_ptr_array_add (argv, T.kh.base.path);
  g_ptr_array_add (argv, (gpointer) "--listen");
  g_ptr_array_add (argv, (gpointer) "127.0.0.1:0");
  g_ptr_array_add (argv, (gpointer) "--tls-cert");
  g_ptr_array_add (argv, T.cert_pem);
  g_ptr_array_add (argv, (gpointer) "--tls-key");
  g_ptr_array_add (argv, T.key_pem);
  g_ptr_array_add (argv, (gpointer) "--key-store");
  g_ptr_array_add (argv, keys);
  g_ptr_array_add (argv, (gpointer) "--program-trust");
  g_ptr_array_add (argv, T.program_pem);
  g_ptr_array_add (argv, (gpointer) "--login-delay");
  g_ptr_array_add (argv, delay);
  for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) extra[i]);
  g_ptr_array_add (argv, NULL);

  d->process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (d->process));
  line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  g_assert_true (g_str_has_prefix (line, "listening on https://127.0.0.1:"));
  d->base = g_strdup (line + strlen ("listening on "));
}

static void
daemon_stop (Daemon *d)
{
  g_autoptr(GError) error = NULL;

  g_subprocess_send_signal (d->process, SIGTERM);
  g_assert_true (g_subprocess_wait (d->process, NULL, &error));
  g_assert_no_error (error);
  /* SIGTERM is a clean stop. */
  g_assert_true (g_subprocess_get_if_exited (d->process));
  g_assert_cmpint (g_subprocess_get_exit_status (d->process), ==, 0);
  g_clear_object (&d->process);
  g_clear_pointer (&d->base, g_free);
}

static SoupSession *
trusting_session (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GTlsDatabase) db = g_tls_file_database_new (T.ca_pem, &error);

  g_assert_no_error (error);
  return soup_session_new_with_options ("tls-database", db, "timeout", 30, NULL);
}

/* ---- requests ---- */

typedef struct {
  guint status;
  char *text;
  JsonNode *json;
} Reply;

static void
reply_clear (Reply *r)
{
  g_clear_pointer (&r->text, g_free);
  g_clear_pointer (&r->json, json_node_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Reply, reply_clear)

static void
call_full (const char *base,
           const char *method,
           const char *path,
           const char *token,
           const char *key,
           const char *body,
           gssize      body_len,
           Reply      *out)
{
  g_autofree char *uri = g_strconcat (base, path, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new (method, uri);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  SoupMessageHeaders *headers;

  g_assert_nonnull (msg);
  headers = soup_message_get_request_headers (msg);
  if (token != NULL)
    {
      g_autofree char *value = g_strconcat ("Bearer ", token, NULL);

      soup_message_headers_replace (headers, "Authorization", value);
    }
  if (key != NULL)
    soup_message_headers_replace (headers, "Idempotency-Key", key);
  if (body != NULL)
    {
      g_autoptr(GBytes) content = g_bytes_new (body, body_len < 0 ? strlen (body) : (gsize) body_len);

      soup_message_set_request_body_from_bytes (msg, g_str_has_suffix (path, "/programs") ? "application/octet-stream"
                                                                                      : "application/json",
                                                content);
    }
  bytes = soup_session_send_and_read (T.session, msg, NULL, &error);
  g_assert_no_error (error);
  out->status = soup_message_get_status (msg);
  out->text = g_bytes_get_size (bytes) > 0 ? g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes))
                                            : g_strdup ("");
  out->json = out->text[0] != '\0' ? json_from_string (out->text, NULL) : NULL;
}

static void
call (const char *method,
      const char *path,
      const char *token,
      const char *key,
      const char *body,
      Reply      *out)
{
  call_full (T.daemon.base, method, path, token, key, body, -1, out);
}

static JsonObject *
obj (Reply *r)
{
  g_assert_nonnull (r->json);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (r->json));
  return json_node_get_object (r->json);
}

static const char *
member (Reply      *r,
        const char *name)
{
  return json_object_get_string_member (obj (r), name);
}

/* The answer is the error @code with HTTP @status. */
static void
assert_problem (Reply      *r,
                guint       status,
                const char *code)
{
  JsonObject *error;

  if (r->status != status)
    g_test_message ("answer: %u %s", r->status, r->text);
  g_assert_cmpuint (r->status, ==, status);
  error = json_object_get_object_member (obj (r), "error");
  g_assert_nonnull (error);
  g_assert_cmpstr (json_object_get_string_member (error, "code"), ==, code);
  g_assert_true (strlen (json_object_get_string_member (error, "message")) > 0);
}

static void
assert_status (Reply *r,
               guint  status)
{
  if (r->status != status)
    g_test_message ("answer: %u %s", r->status, r->text);
  g_assert_cmpuint (r->status, ==, status);
}

static char *
login_at (const char *base,
          const char *user)
{
  g_auto(Reply) r = { 0 };
  g_autofree char *body = g_strdup_printf ("{\"user\":\"%s\",\"password\":\"%s\"}", user, PASSWORD);

  call_full (base, "POST", "/api/v1/sessions", NULL, NULL, body, -1, &r);
  assert_status (&r, 201);
  g_assert_cmpuint (strlen (member (&r, "token")), ==, 43);   /* 256 bits, base64url */
  return g_strdup (member (&r, "token"));
}

static char *
login (const char *user)
{
  return login_at (T.daemon.base, user);
}

static char *
new_key (void)
{
  return g_uuid_string_random ();
}

static guint
audit_count (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) entries = pp_store_list_audit (T.kh.base.store, 0, G_MAXUINT, &error);

  g_assert_no_error (error);
  return entries->len;
}

static guint
audit_count_of (const char *action)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) entries = pp_store_list_audit (T.kh.base.store, 0, G_MAXUINT, &error);
  guint n = 0;

  g_assert_no_error (error);
  for (guint i = 0; i < entries->len; i++)
    if (g_str_equal (((PpAuditEntry *) g_ptr_array_index (entries, i))->action, action))
      n++;
  return n;
}

static char *
b64 (GBytes *bytes)
{
  return g_base64_encode (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
}

static GBytes *
unb64 (const char *text)
{
  gsize len;
  guchar *data = g_base64_decode (text, &len);

  return g_bytes_new_take (data, len);
}

/* ---- the OpenAPI file against the route table ---- */

/* docs/openapi.yaml keeps to block style with two-space indents: under
 * "paths:", a path is a key at indent 2 and a method a key at indent 4. */
static GHashTable *
openapi_routes (void)
{
  g_autofree char *path = g_build_filename (g_getenv ("G_TEST_SRCDIR"), "..", "docs", "openapi.yaml", NULL);
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GError) error = NULL;
  GHashTable *set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *current = NULL;
  gboolean in_paths = FALSE;

  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (text, "openapi: 3.0"));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *l = lines[i];

      if (l[0] != ' ' && l[0] != '\0' && l[0] != '#')
        {
          in_paths = g_str_equal (l, "paths:");
          continue;
        }
      if (!in_paths)
        continue;
      if (g_str_has_prefix (l, "  /") && l[2] == '/' && g_str_has_suffix (l, ":"))
        {
          g_free (current);
          current = g_strndup (l + 2, strlen (l) - 3);
        }
      else if (l[0] == ' ' && l[1] == ' ' && l[2] == ' ' && l[3] == ' ' && l[4] != ' ' && current != NULL)
        {
          static const char * const methods[] = { "get", "post", "put", "delete", "patch", NULL };
          g_autofree char *key = g_strndup (l + 4, strcspn (l + 4, ":"));

          if (g_strv_contains (methods, key))
            {
              g_autofree char *upper = g_ascii_strup (key, -1);

              g_assert_false (g_hash_table_contains (set, upper));   /* no duplicate keys */
              g_hash_table_add (set, g_strdup_printf ("%s %s", upper, current));
            }
        }
    }
  return set;
}

static void
test_openapi (void)
{
  g_autoptr(GHashTable) documented = openapi_routes ();
  guint n;
  const PpRegistryRoute *routes = pp_registry_server_get_routes (&n);

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *name = g_strdup_printf ("%s %s", routes[i].method, routes[i].path);

      if (!g_hash_table_contains (documented, name))
        g_test_message ("served but not in openapi.yaml: %s", name);
      g_assert_true (g_hash_table_remove (documented, name));
    }
  if (g_hash_table_size (documented) > 0)
    {
      GHashTableIter iter;
      gpointer k;

      g_hash_table_iter_init (&iter, documented);
      while (g_hash_table_iter_next (&iter, &k, NULL))
        g_test_message ("in openapi.yaml but not served: %s", (const char *) k);
    }
  g_assert_cmpuint (g_hash_table_size (documented), ==, 0);

  /* The daemon serves exactly the table: each route answers (401 without
   * a token; the sign-in a 400 for its empty body), anything else is 404
   * or 405. */
  for (guint i = 0; i < n; i++)
    {
      g_auto(Reply) r = { 0 };
      g_autoptr(GString) path = g_string_new (routes[i].path);

      g_string_replace (path, "{id}", "0d2c0a47-63d6-4f0e-9bd2-7e5b1c1f4a10", 0);
      g_string_replace (path, "{serial}", "RS-0001", 0);
      g_string_replace (path, "{name}", "alice", 0);
      call (routes[i].method, path->str, NULL, NULL, NULL, &r);
      assert_problem (&r, g_str_equal (routes[i].roles, "none") ? 400 : 401,
                      g_str_equal (routes[i].roles, "none") ? "invalid" : "unauthorized");
    }
  {
    g_auto(Reply) r = { 0 };
    g_auto(Reply) r2 = { 0 };

    call ("GET", "/api/v1/nothing", NULL, NULL, NULL, &r);
    assert_problem (&r, 404, "not_found");
    call ("PUT", "/api/v1/terminals", NULL, NULL, NULL, &r2);
    assert_problem (&r2, 405, "method_not_allowed");
  }
}

/* ---- TLS ---- */

static void
test_tls_untrusted (void)
{
  g_autoptr(SoupSession) plain = soup_session_new ();
  g_autofree char *uri = g_strconcat (T.daemon.base, "/api/v1/kdh", NULL);
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", uri);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = soup_session_send_and_read (plain, msg, NULL, &error);

  /* A client that does not trust the test CA does not get through. */
  g_assert_null (bytes);
  g_assert_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
}

/* A daemon that asks for client certificates: a station without one is
 * turned away in the handshake, one with a certificate from the CA gets
 * to the API. */
static void
test_client_certificates (void)
{
  const char *extra[] = { "--client-ca", T.ca_pem, NULL };
  Daemon strict = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GTlsCertificate) station = g_tls_certificate_new_from_files (T.client_pem, T.client_key_pem, &error);
  g_autofree char *uri = NULL;

  g_assert_no_error (error);
  daemon_start (&strict, extra);
  uri = g_strconcat (strict.base, "/api/v1/kdh", NULL);
  {
    g_autoptr(SoupSession) session = trusting_session ();
    g_autoptr(SoupMessage) msg = soup_message_new ("GET", uri);
    g_autoptr(GBytes) bytes = soup_session_send_and_read (session, msg, NULL, &error);

    g_assert_null (bytes);
    g_assert_nonnull (error);
    g_clear_error (&error);
  }
  {
    g_autoptr(SoupSession) session = trusting_session ();
    g_autoptr(SoupMessage) msg = soup_message_new ("GET", uri);
    g_autoptr(GBytes) bytes = NULL;

    soup_message_set_tls_client_certificate (msg, station);
    bytes = soup_session_send_and_read (session, msg, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (soup_message_get_status (msg), ==, 401);
  }
  {
    /* A certificate the client CAs did not issue. */
    g_autofree char *dir = g_path_get_dirname (T.client_pem);
    g_autofree char *pem = g_build_filename (dir, "rogue-client.pem", NULL);
    g_autoptr(GTlsCertificate) rogue = g_tls_certificate_new_from_file (pem, &error);
    g_autoptr(SoupSession) session = trusting_session ();
    g_autoptr(SoupMessage) msg = soup_message_new ("GET", uri);
    g_autoptr(GBytes) bytes = NULL;

    g_assert_no_error (error);
    soup_message_set_tls_client_certificate (msg, rogue);
    bytes = soup_session_send_and_read (session, msg, NULL, &error);
    g_assert_null (bytes);
    g_assert_nonnull (error);
    g_clear_error (&error);
  }
  daemon_stop (&strict);
}

/* ---- sessions ---- */

static void
test_sessions (void)
{
  g_autofree char *token = login ("rita");
  g_auto(Reply) wrong = { 0 };
  g_auto(Reply) unknown = { 0 };
  g_auto(Reply) ok = { 0 };
  g_auto(Reply) out = { 0 };
  g_auto(Reply) after = { 0 };
  g_auto(Reply) garbage = { 0 };
  g_auto(Reply) none = { 0 };
  gint64 start;

  call ("GET", "/api/v1/approvals", token, NULL, NULL, &ok);
  assert_status (&ok, 200);

  /* A wrong password answers as an unknown user does, after the delay. */
  start = g_get_monotonic_time ();
  call ("POST", "/api/v1/sessions", NULL, NULL, "{\"user\":\"rita\",\"password\":\"not-her-password\"}", &wrong);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, LOGIN_DELAY_MS * 1000);
  start = g_get_monotonic_time ();
  call ("POST", "/api/v1/sessions", NULL, NULL, "{\"user\":\"nobody\",\"password\":\"not-her-password\"}", &unknown);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, LOGIN_DELAY_MS * 1000);
  assert_problem (&wrong, 401, "unauthorized");
  g_assert_cmpuint (unknown.status, ==, wrong.status);
  g_assert_cmpstr (unknown.text, ==, wrong.text);

  /* Revoked: the token is dead at once. */
  call ("DELETE", "/api/v1/sessions/current", token, NULL, NULL, &out);
  assert_status (&out, 204);
  call ("GET", "/api/v1/approvals", token, NULL, NULL, &after);
  assert_problem (&after, 401, "unauthorized");
  call ("GET", "/api/v1/approvals", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL, NULL, &garbage);
  assert_problem (&garbage, 401, "unauthorized");
  call ("GET", "/api/v1/approvals", NULL, NULL, NULL, &none);
  assert_problem (&none, 401, "unauthorized");
}

static void
test_login_limit (void)
{
  g_auto(Reply) limited = { 0 };
  g_autofree char *body = g_strdup_printf ("{\"user\":\"ghost\",\"password\":\"%s\"}", PASSWORD);

  /* Guessing one name: after the allowed failures, even the right
   * password of a real user would be refused for the window. */
  for (guint i = 0; i < PP_REGISTRY_SERVER_LOGIN_FAILURES_MAX; i++)
    {
      g_auto(Reply) r = { 0 };

      call ("POST", "/api/v1/sessions", NULL, NULL, "{\"user\":\"ghost\",\"password\":\"guess-guess-guess\"}", &r);
      assert_problem (&r, 401, "unauthorized");
    }
  call ("POST", "/api/v1/sessions", NULL, NULL, body, &limited);
  assert_problem (&limited, 429, "too_many_requests");
  /* Other names are not locked out. */
  {
    g_autofree char *t = login ("bob");

    g_assert_nonnull (t);
  }
}

static void
test_session_expiry (void)
{
  static const char * const extra[] = { "--session-lifetime", "1", NULL };
  Daemon short_lived = { 0 };
  g_auto(Reply) r = { 0 };
  g_auto(Reply) fresh = { 0 };
  g_auto(Reply) expired = { 0 };
  g_autofree char *body = g_strdup_printf ("{\"user\":\"bob\",\"password\":\"%s\"}", PASSWORD);
  const char *token;
  gint64 expires;

  daemon_start (&short_lived, extra);
  call_full (short_lived.base, "POST", "/api/v1/sessions", NULL, NULL, body, -1, &r);
  assert_status (&r, 201);
  token = member (&r, "token");
  expires = json_object_get_int_member (obj (&r), "expires");
  g_assert_cmpint (expires - g_get_real_time () / G_USEC_PER_SEC, <=, 1);
  call_full (short_lived.base, "GET", "/api/v1/approvals", token, NULL, NULL, -1, &fresh);
  if (g_get_real_time () / G_USEC_PER_SEC < expires)
    assert_status (&fresh, 200);
  while (g_get_real_time () / G_USEC_PER_SEC < expires)
    g_usleep (100 * 1000);
  call_full (short_lived.base, "GET", "/api/v1/approvals", token, NULL, NULL, -1, &expired);
  assert_problem (&expired, 401, "unauthorized");
  g_assert_nonnull (strstr (expired.text, "expired"));
  daemon_stop (&short_lived);
}

/* ---- roles ---- */

static void
test_roles (void)
{
  g_autofree char *bob = login ("bob");
  g_autofree char *alice = login ("alice");
  g_autofree char *k1 = new_key ();
  g_autofree char *k2 = new_key ();
  g_autofree char *k3 = new_key ();
  g_auto(Reply) intake = { 0 };
  g_auto(Reply) user = { 0 };
  g_auto(Reply) audit = { 0 };
  guint before = audit_count ();

  call ("POST", "/api/v1/terminals", bob, k1, "[{\"serial\":\"RS-9001\",\"vendor\":\"PAX\",\"model\":\"A920\"}]",
        &intake);
  assert_problem (&intake, 403, "permission");
  call ("POST", "/api/v1/users", alice, k2,
        "{\"name\":\"mallory\",\"role\":\"reviewer\",\"password\":\"a-long-enough-password\"}", &user);
  assert_problem (&user, 403, "permission");
  call ("GET", "/api/v1/audit", alice, k3, NULL, &audit);
  assert_problem (&audit, 403, "permission");
  g_assert_cmpuint (audit_count (), ==, before);
}

/* ---- bad requests write nothing ---- */

static void
test_bad_requests (void)
{
  g_autofree char *alice = login ("alice");
  g_autofree char *big = NULL;
  guint before = audit_count ();
  static const struct {
    const char *path;
    const char *body;
    const char *why;
  } cases[] = {
    { "/api/v1/merchants", "{\"name\":", "malformed JSON" },
    { "/api/v1/merchants", "[1,2]", "not an object" },
    { "/api/v1/merchants", "{\"name\":\"Tea House\",\"registration_number\":\"91310000MA1K00001X\","
      "\"address\":\"1 Road\",\"mcc\":\"5812\",\"contact_name\":\"Li\",\"contact_phone\":\"13800000000\","
      "\"colour\":\"red\"}", "unknown member" },
    { "/api/v1/merchants", "{\"name\":7,\"registration_number\":\"91310000MA1K00001X\","
      "\"address\":\"1 Road\",\"mcc\":\"5812\",\"contact_name\":\"Li\",\"contact_phone\":\"13800000000\"}",
      "wrong type" },
    { "/api/v1/merchants", "{\"name\":\"Tea House\"}", "missing member" },
    { "/api/v1/terminals", "{\"serial\":\"RS-9002\"}", "intake not a list" },
    { "/api/v1/terminals", "[{\"serial\":\"RS-9002\",\"vendor\":\"PAX\"}]", "intake row missing model" },
    { "/api/v1/work-orders", "{\"serial\":\"RS-0001\",\"merchant_id\":\"1\",\"program\":\"1.0\"}",
      "merchant id a string" },
    { "/api/v1/work-orders/0d2c0a47-63d6-4f0e-9bd2-7e5b1c1f4a10/key-token",
      "{\"ct_krd\":\"not base64!\",\"rt_krd\":\"MAA=\"}", "bad base64" },
    { "/api/v1/work-orders/0d2c0a47-63d6-4f0e-9bd2-7e5b1c1f4a10/key-token",
      "{\"ct_krd\":\"AAECAwQ=\",\"rt_krd\":\"MAA=\"}", "not DER" },
    { "/api/v1/work-orders/0d2c0a47-63d6-4f0e-9bd2-7e5b1c1f4a10/kcv", "{\"kcv\":\"XYZ!\"}", "bad KCV" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_auto(Reply) r = { 0 };
      g_autofree char *key = new_key ();

      g_test_message ("case: %s", cases[i].why);
      call ("POST", cases[i].path, alice, key, cases[i].body, &r);
      assert_problem (&r, 400, "invalid");
    }

  /* No idempotency key, or not a UUID. */
  {
    g_auto(Reply) r = { 0 };
    g_auto(Reply) r2 = { 0 };

    call ("POST", "/api/v1/terminals", alice, NULL, "[{\"serial\":\"RS-9003\",\"vendor\":\"PAX\",\"model\":\"A920\"}]", &r);
    assert_problem (&r, 400, "invalid");
    g_assert_nonnull (strstr (r.text, "Idempotency-Key"));
    call ("POST", "/api/v1/terminals", alice, "once", "[{\"serial\":\"RS-9003\",\"vendor\":\"PAX\",\"model\":\"A920\"}]", &r2);
    assert_problem (&r2, 400, "invalid");
  }

  /* Over the body limit: refused before it is read. */
  {
    g_auto(Reply) r = { 0 };
    g_autofree char *key = new_key ();
    gsize len = PP_REGISTRY_SERVER_BODY_MAX + 1;

    big = g_malloc (len);
    memset (big, ' ', len);
    big[0] = '[';
    big[len - 1] = ']';
    call_full (T.daemon.base, "POST", "/api/v1/terminals", alice, key, big, len, &r);
    assert_problem (&r, 413, "payload_too_large");
  }

  {
    g_auto(Reply) r = { 0 };

    call ("GET", "/api/v1/terminals?limit=1001", alice, NULL, NULL, &r);
    assert_problem (&r, 400, "invalid");
  }
  {
    g_auto(Reply) r = { 0 };

    call ("GET", "/api/v1/work-orders/not-a-uuid", alice, NULL, NULL, &r);
    assert_problem (&r, 404, "not_found");
  }

  g_assert_cmpuint (audit_count (), ==, before);
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(GError) error = NULL;
      gboolean exists = TRUE;

      g_assert_true (pp_store_has_terminal (T.kh.base.store, i == 0 ? "RS-9002" : "RS-9003", &exists, &error));
      g_assert_no_error (error);
      g_assert_false (exists);
    }
}

/* ---- intake and the terminal list ---- */

static void
test_terminals (void)
{
  g_autofree char *alice = login ("alice");
  g_autofree char *key = new_key ();
  g_auto(Reply) first = { 0 };
  g_auto(Reply) again = { 0 };
  g_auto(Reply) reused = { 0 };
  g_auto(Reply) one = { 0 };
  g_auto(Reply) unknown = { 0 };
  g_auto(Reply) page = { 0 };
  g_auto(Reply) page2 = { 0 };
  static const char rows[] = "[{\"serial\":\"RS-1001\",\"vendor\":\"PAX\",\"model\":\"A920\"},"
                             "{\"serial\":\"RS-1002\",\"vendor\":\"PAX\",\"model\":\"A920\"}]";
  guint before;

  call ("POST", "/api/v1/terminals?state=received", alice, key, rows, &first);
  assert_status (&first, 201);
  g_assert_cmpint (json_object_get_int_member (obj (&first), "added"), ==, 2);

  /* The same request again: the same answer, nothing written. */
  before = audit_count ();
  call ("POST", "/api/v1/terminals?state=received", alice, key, rows, &again);
  assert_status (&again, 201);
  g_assert_cmpstr (again.text, ==, first.text);
  g_assert_cmpuint (audit_count (), ==, before);
  /* The same key for another request. */
  call ("POST", "/api/v1/terminals", alice, key, "[{\"serial\":\"RS-1003\",\"vendor\":\"PAX\",\"model\":\"A920\"}]",
        &reused);
  assert_problem (&reused, 422, "idempotency_key_reused");
  g_assert_cmpuint (audit_count (), ==, before);

  call ("GET", "/api/v1/terminals/rs-1001", alice, NULL, NULL, &one);
  assert_status (&one, 200);
  g_assert_cmpstr (member (&one, "serial"), ==, "RS-1001");
  g_assert_cmpstr (member (&one, "status"), ==, "not_in_stock");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (obj (&one), "terminal"), "state"),
                   ==, "received");
  call ("GET", "/api/v1/terminals/RS-7777", alice, NULL, NULL, &unknown);
  assert_problem (&unknown, 404, "not_found");

  call ("GET", "/api/v1/terminals?state=received&limit=1", alice, NULL, NULL, &page);
  assert_status (&page, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (obj (&page), "terminals")), ==, 1);
  g_assert_cmpstr (member (&page, "next"), ==, "RS-1001");
  call ("GET", "/api/v1/terminals?state=received&limit=1&after=RS-1001", alice, NULL, NULL, &page2);
  assert_status (&page2, 200);
  g_assert_cmpstr (json_object_get_string_member (
                     json_array_get_object_element (json_object_get_array_member (obj (&page2), "terminals"), 0),
                     "serial"), ==, "RS-1002");
}

/* ---- users and one-time codes ---- */

/* An administrator adds field manager @name with the fixture's password. */
static void
add_field_manager (const char *name)
{
  g_autofree char *carol = login ("carol");
  g_autofree char *key = new_key ();
  g_autofree char *body = g_strdup_printf ("{\"name\":\"%s\",\"role\":\"field_manager\",\"password\":\"%s\"}",
                                           name, PASSWORD);
  g_auto(Reply) r = { 0 };

  call ("POST", "/api/v1/users", carol, key, body, &r);
  assert_status (&r, 201);
}

static void
test_users (void)
{
  g_autofree char *carol = login ("carol");
  g_autofree char *alice = login ("alice");
  g_autofree char *key = new_key ();
  g_autofree char *finn = NULL;
  g_auto(Reply) added = { 0 };
  g_auto(Reply) again = { 0 };
  g_auto(Reply) weak = { 0 };
  g_auto(Reply) otp = { 0 };
  g_auto(Reply) otp_again = { 0 };
  g_auto(Reply) otp_other = { 0 };
  guint before;
  static const char body[] = "{\"name\":\"vera\",\"role\":\"reviewer\",\"password\":\"" PP_TEST_PASSWORD ("v") "\"}";

  call ("POST", "/api/v1/users", carol, key, body, &added);
  assert_status (&added, 201);
  g_assert_cmpstr (member (&added, "name"), ==, "vera");
  g_assert_cmpstr (member (&added, "role"), ==, "reviewer");
  g_assert_null (strstr (added.text, PP_TEST_PASSWORD ("v")));
  before = audit_count ();
  call ("POST", "/api/v1/users", carol, key, body, &again);
  assert_status (&again, 201);
  g_assert_cmpstr (again.text, ==, added.text);
  g_assert_cmpuint (audit_count (), ==, before);
  {
    g_autofree char *k = new_key ();

    call ("POST", "/api/v1/users", carol, k, "{\"name\":\"wen\",\"role\":\"reviewer\",\"password\":\"short\"}", &weak);
    assert_problem (&weak, 400, "invalid");
  }
  /* The new user signs in. */
  {
    g_autofree char *t = NULL;
    g_auto(Reply) r = { 0 };

    call ("POST", "/api/v1/sessions", NULL, NULL,
          "{\"user\":\"vera\",\"password\":\"" PP_TEST_PASSWORD ("v") "\"}", &r);
    assert_status (&r, 201);
    g_assert_cmpstr (member (&r, "role"), ==, "reviewer");
    t = g_strdup (member (&r, "token"));
  }

  /* A field manager enrols themself (no Idempotency-Key: the secret is
   * never recorded); a retry enrols a new secret that replaces the first.
   * Alice stays without a code for the install below: finn has one. */
  add_field_manager ("finn");
  finn = login ("finn");
  call ("POST", "/api/v1/users/finn/otp", finn, NULL, NULL, &otp);
  assert_status (&otp, 201);
  g_assert_true (g_str_has_prefix (member (&otp, "otpauth_uri"), "otpauth://totp/posprov:finn?secret="));
  before = audit_count_of ("user.otp_enroll");
  call ("POST", "/api/v1/users/finn/otp", finn, NULL, NULL, &otp_again);
  assert_status (&otp_again, 201);
  g_assert_true (g_str_has_prefix (member (&otp_again, "otpauth_uri"), "otpauth://totp/posprov:finn?secret="));
  g_assert_cmpstr (member (&otp_again, "otpauth_uri"), !=, member (&otp, "otpauth_uri"));
  g_assert_cmpuint (audit_count_of ("user.otp_enroll"), ==, before + 1);
  call ("POST", "/api/v1/users/bob/otp", alice, NULL, NULL, &otp_other);
  assert_problem (&otp_other, 403, "permission");
}

/* The code finn's authenticator shows now, from the otpauth:// URI, and
 * another six digits that are not it. */
static void
totp_now (const char *uri,
          char        code[9],
          char        wrong[9])
{
  g_autoptr(GError) error = NULL;
  const char *at = strstr (uri, "secret=");
  g_autofree char *b32 = NULL;
  g_autoptr(PpSecureBuffer) secret = NULL;
  gint64 step = pp_totp_step (g_get_real_time () / G_USEC_PER_SEC, PP_TOTP_DEFAULT_PERIOD);

  g_assert_nonnull (at);
  at += strlen ("secret=");
  b32 = g_strndup (at, strcspn (at, "&"));
  secret = pp_base32_decode (b32, &error);
  g_assert_no_error (error);
  g_assert_true (pp_totp_code (secret, PP_TOTP_SHA1, PP_TOTP_DEFAULT_DIGITS, step, code, &error));
  g_assert_no_error (error);
  /* Not the code of this step nor of the one either side. */
  for (guint n = 0;; n++)
    {
      char near[2][9];
      gboolean clash;

      g_snprintf (wrong, 9, "%06u", (guint) ((g_ascii_strtoull (code, NULL, 10) + 1 + n) % 1000000));
      g_assert_true (pp_totp_code (secret, PP_TOTP_SHA1, PP_TOTP_DEFAULT_DIGITS, step - 1, near[0], &error));
      g_assert_true (pp_totp_code (secret, PP_TOTP_SHA1, PP_TOTP_DEFAULT_DIGITS, step + 1, near[1], &error));
      clash = g_str_equal (wrong, near[0]) || g_str_equal (wrong, near[1]);
      if (!clash)
        break;
    }
}

/* An enrolled requester's approval request over HTTP: the code goes to the
 * registry, which checks it (none or a wrong one is refused and nothing
 * is requested; the code the authenticator shows now is accepted). */
static void
test_otp_approval (void)
{
  g_autofree char *carol = login ("carol");
  g_autofree char *gwen = NULL;
  g_autofree char *intake_key = new_key ();
  g_autofree char *order_key = new_key ();
  g_autofree char *p = NULL;
  g_autofree char *order_body = NULL;
  g_autofree char *wrong_body = NULL;
  g_autofree char *good_body = NULL;
  g_auto(Reply) enrolled = { 0 };
  g_auto(Reply) intake = { 0 };
  g_auto(Reply) order = { 0 };
  g_auto(Reply) none = { 0 };
  g_auto(Reply) wrong = { 0 };
  g_auto(Reply) good = { 0 };
  g_auto(Reply) approvals = { 0 };
  char code[9], other[9];
  guint failed;

  add_field_manager ("gwen");
  gwen = login ("gwen");
  call ("POST", "/api/v1/terminals", gwen, intake_key,
        "[{\"serial\":\"RS-0301\",\"vendor\":\"PAX\",\"model\":\"A920\"}]", &intake);
  assert_status (&intake, 201);
  /* The terminal proved its key pair (its device certificate on record). */
  {
    g_autoptr(GError) error = NULL;
    X509 *cert = pp_key_host_fixture_make_krd_cert (&T.kh, "RS-0301", T.kh.pki->krd_key, NULL, NULL, 2021, 2040);
    g_autofree char *fp = pp_key_host_fixture_cert_fingerprint (cert);

    g_assert_true (pp_store_set_terminal_certificate (T.kh.base.store, "RS-0301", fp, "carol", &error));
    g_assert_no_error (error);
    X509_free (cert);
  }
  order_body = g_strdup_printf ("{\"serial\":\"RS-0301\",\"merchant_id\":%" G_GINT64_FORMAT
                                ",\"program\":\"1.0.0\"}", T.kh.base.merchant_id);
  call ("POST", "/api/v1/work-orders", gwen, order_key, order_body, &order);
  assert_status (&order, 201);
  p = g_strdup_printf ("/api/v1/work-orders/%s/approval-request", member (&order, "id"));

  /* An administrator enrols gwen. */
  call ("POST", "/api/v1/users/gwen/otp", carol, NULL, NULL, &enrolled);
  assert_status (&enrolled, 201);
  totp_now (member (&enrolled, "otpauth_uri"), code, other);

  /* No code: refused, no request made. */
  {
    g_autofree char *k = new_key ();

    call ("POST", p, gwen, k, "{\"terminal_qr\":\"RS-0301\"}", &none);
    assert_problem (&none, 403, "permission");
    g_assert_nonnull (strstr (none.text, "one-time code"));
  }
  /* A wrong code: refused and journalled. */
  failed = audit_count_of ("user.otp_failed");
  wrong_body = g_strdup_printf ("{\"terminal_qr\":\"RS-0301\",\"otp\":\"%s\"}", other);
  {
    g_autofree char *k = new_key ();

    call ("POST", p, gwen, k, wrong_body, &wrong);
    assert_problem (&wrong, 403, "permission");
  }
  g_assert_cmpuint (audit_count_of ("user.otp_failed"), ==, failed + 1);
  call ("GET", "/api/v1/approvals?pending=true", carol, NULL, NULL, &approvals);
  assert_status (&approvals, 200);
  g_assert_null (strstr (approvals.text, member (&order, "id")));

  /* The code the authenticator shows now: the request is made. */
  good_body = g_strdup_printf ("{\"terminal_qr\":\"RS-0301\",\"otp\":\"%s\"}", code);
  {
    g_autofree char *k = new_key ();

    call ("POST", p, gwen, k, good_body, &good);
    assert_status (&good, 201);
    g_assert_cmpstr (member (&good, "state"), ==, "pending");
    g_assert_cmpstr (member (&good, "requester"), ==, "gwen");
    g_assert_null (strstr (good.text, code));
  }
}

/* ---- the whole install, the key host and the events ---- */

static void
krd_set_up (void)
{
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (terminals); i++)
    {
      g_autofree char *fp = NULL;

      T.cert[i] = pp_key_host_fixture_make_krd_cert (&T.kh, terminals[i].serial, T.kh.pki->krd_key, NULL, NULL,
                                                     2021, 2040);
      fp = pp_key_host_fixture_cert_fingerprint (T.cert[i]);
      g_assert_true (pp_store_set_terminal_certificate (T.kh.base.store, terminals[i].serial, fp, "carol", &error));
      g_assert_no_error (error);
      T.krd[i] = pp_tr34_krd_new (T.cert[i], T.kh.pki->krd_key);
      pp_tr34_krd_add_trusted (T.krd[i], T.kh.pki->root);
      pp_tr34_krd_add_trusted (T.krd[i], T.kh.pki->ca_kdh);
      T.state[i] = pp_tr34_krd_state_new ();
    }
}

/* Reads the event stream until an event naming @id arrives. */
static char *
read_event (GInputStream *stream,
            const char   *id)
{
  g_autoptr(GString) seen = g_string_new (NULL);
  g_autoptr(GError) error = NULL;

  for (;;)
    {
      char buf[1024];
      gssize n = g_input_stream_read (stream, buf, sizeof buf, NULL, &error);
      const char *at;

      g_assert_no_error (error);
      g_assert_cmpint (n, >, 0);
      g_string_append_len (seen, buf, n);
      if ((at = strstr (seen->str, id)) != NULL && strstr (at, "\n\n") != NULL)
        return g_strdup (seen->str);
    }
}

static void
test_install (void)
{
  g_autofree char *alice = login ("alice");
  g_autofree char *bob = login ("bob");
  g_autofree char *carol = login ("carol");
  g_autofree char *merchant_key = new_key ();
  g_autofree char *order_key = new_key ();
  g_autofree char *body = NULL;
  g_autofree char *path = NULL;
  g_autofree char *order_id = NULL;
  g_autofree char *approval_id = NULL;
  g_autofree char *decision_key = new_key ();
  g_autofree char *token_key = new_key ();
  g_autoptr(GBytes) ct = pp_key_host_fixture_ct_krd (T.cert[0]);
  g_autoptr(GBytes) wrong_ct = pp_key_host_fixture_ct_krd (T.cert[1]);
  g_autoptr(GBytes) nonce = pp_tr34_krd_state_issue_nonce (T.state[0], 16);
  g_autoptr(GBytes) rt = pp_tr34_build_random_token (nonce);
  g_autofree char *ct_b64 = b64 (ct);
  g_autofree char *wrong_ct_b64 = b64 (wrong_ct);
  g_autofree char *rt_b64 = b64 (rt);
  g_autofree char *token_body = NULL;
  g_autoptr(PpTr34ReceivedKey) received = NULL;
  g_autoptr(SoupSession) events_session = trusting_session ();
  g_autoptr(SoupMessage) events_msg = NULL;
  g_autoptr(GInputStream) events = NULL;
  g_autoptr(GError) error = NULL;
  gint64 merchant_id;
  guint before;

  /* A merchant; its replay is the same answer. */
  {
    g_auto(Reply) r = { 0 };
    g_auto(Reply) again = { 0 };
    static const char m[] = "{\"name\":\"Jade Tea House\",\"registration_number\":\"91310000MA1K00002X\","
                            "\"address\":\"8 Bund Road\",\"mcc\":\"5812\",\"contact_name\":\"Wang\","
                            "\"contact_phone\":\"13800000001\"}";

    call ("POST", "/api/v1/merchants", alice, merchant_key, m, &r);
    assert_status (&r, 201);
    merchant_id = json_object_get_int_member (obj (&r), "id");
    g_assert_nonnull (member (&r, "mid"));
    before = audit_count ();
    call ("POST", "/api/v1/merchants", alice, merchant_key, m, &again);
    g_assert_cmpstr (again.text, ==, r.text);
    g_assert_cmpuint (audit_count (), ==, before);
  }
  {
    g_auto(Reply) r = { 0 };

    call ("GET", "/api/v1/merchants?query=jade", bob, NULL, NULL, &r);
    assert_status (&r, 200);
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (obj (&r), "merchants")), ==, 1);
  }

  /* The work order. */
  body = g_strdup_printf ("{\"serial\":\"RS-0001\",\"merchant_id\":%" G_GINT64_FORMAT ",\"program\":\"1.0.0\"}",
                          merchant_id);
  {
    g_auto(Reply) r = { 0 };
    g_auto(Reply) got = { 0 };
    g_auto(Reply) missing = { 0 };

    call ("POST", "/api/v1/work-orders", alice, order_key, body, &r);
    assert_status (&r, 201);
    order_id = g_strdup (member (&r, "id"));
    g_assert_true (g_uuid_string_is_valid (order_id));
    g_assert_cmpstr (member (&r, "state"), ==, "open");
    g_assert_nonnull (member (&r, "mid"));
    g_assert_nonnull (member (&r, "tid"));
    path = g_strdup_printf ("/api/v1/work-orders/%s", order_id);
    call ("GET", path, bob, NULL, NULL, &got);
    assert_status (&got, 200);
    g_assert_cmpstr (member (&got, "tid"), ==, member (&r, "tid"));
    call ("GET", "/api/v1/work-orders/0d2c0a47-63d6-4f0e-9bd2-7e5b1c1f4a10", bob, NULL, NULL, &missing);
    assert_problem (&missing, 404, "not_found");
  }

  /* No approval, no key. */
  token_body = g_strdup_printf ("{\"ct_krd\":\"%s\",\"rt_krd\":\"%s\"}", ct_b64, rt_b64);
  {
    g_auto(Reply) r = { 0 };
    g_autofree char *p = g_strdup_printf ("%s/key-token", path);
    g_autofree char *k = new_key ();

    call ("POST", p, alice, k, token_body, &r);
    assert_problem (&r, 409, "no_approval");
  }

  /* The reviewer listens; the field manager asks; the reviewer hears. */
  {
    g_autofree char *uri = g_strconcat (T.daemon.base, "/api/v1/events", NULL);
    g_autofree char *value = g_strconcat ("Bearer ", bob, NULL);

    events_msg = soup_message_new ("GET", uri);
    soup_message_headers_replace (soup_message_get_request_headers (events_msg), "Authorization", value);
    events = soup_session_send (events_session, events_msg, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (soup_message_get_status (events_msg), ==, 200);
    g_assert_cmpstr (soup_message_headers_get_content_type (soup_message_get_response_headers (events_msg), NULL),
                     ==, "text/event-stream");
  }
  {
    g_auto(Reply) r = { 0 };
    g_auto(Reply) wrong_scan = { 0 };
    g_autofree char *p = g_strdup_printf ("%s/approval-request", path);
    g_autofree char *k = new_key ();
    g_autofree char *k2 = new_key ();
    g_autofree char *seen = NULL;

    call ("POST", p, alice, k2, "{\"terminal_qr\":\"RS-0002\"}", &wrong_scan);
    assert_problem (&wrong_scan, 400, "invalid");
    call ("POST", p, alice, k, "{\"terminal_qr\":\"RS-0001\"}", &r);
    assert_status (&r, 201);
    approval_id = g_strdup (member (&r, "id"));
    g_assert_cmpstr (member (&r, "state"), ==, "pending");
    g_assert_cmpstr (member (&r, "requester"), ==, "alice");
    seen = read_event (events, approval_id);
    g_assert_nonnull (strstr (seen, "event: approval\n"));
    g_assert_nonnull (strstr (seen, "\"state\":\"pending\""));
    g_assert_nonnull (strstr (seen, "\"serial\":\"RS-0001\""));
  }
  {
    g_auto(Reply) r = { 0 };

    call ("GET", "/api/v1/approvals?state=pending", bob, NULL, NULL, &r);
    assert_status (&r, 200);
    g_assert_nonnull (strstr (r.text, approval_id));
  }

  /* The requester cannot approve their own request; the reviewer can. */
  {
    g_auto(Reply) self = { 0 };
    g_auto(Reply) r = { 0 };
    g_auto(Reply) again = { 0 };
    g_autofree char *p = g_strdup_printf ("/api/v1/approvals/%s/decision", approval_id);
    g_autofree char *k = new_key ();
    g_autofree char *seen = NULL;

    call ("POST", p, alice, k, "{\"decision\":\"approve\",\"reason\":\"mine\"}", &self);
    assert_problem (&self, 403, "permission");
    call ("POST", p, bob, decision_key, "{\"decision\":\"approve\",\"reason\":\"serial and merchant checked\"}", &r);
    assert_status (&r, 200);
    g_assert_cmpstr (member (&r, "state"), ==, "approved");
    g_assert_cmpstr (member (&r, "approver"), ==, "bob");
    seen = read_event (events, "\"state\":\"approved\"");
    g_assert_nonnull (seen);
    before = audit_count ();
    call ("POST", p, bob, decision_key, "{\"decision\":\"approve\",\"reason\":\"serial and merchant checked\"}", &again);
    g_assert_cmpstr (again.text, ==, r.text);
    g_assert_cmpuint (audit_count (), ==, before);
  }

  /* The key host: its certificate, CT_KDH, KT_KDH. */
  {
    g_auto(Reply) r = { 0 };

    call ("GET", "/api/v1/kdh", alice, NULL, NULL, &r);
    assert_status (&r, 200);
    g_assert_true (g_str_has_prefix (member (&r, "certificate"), "-----BEGIN CERTIFICATE-----\n"));
    g_assert_nonnull (member (&r, "crl"));
  }
  {
    g_auto(Reply) r = { 0 };
    g_autofree char *p = g_strdup_printf ("%s/kdh-credential", path);
    g_autofree char *k = new_key ();
    g_autoptr(GBytes) ct_kdh = NULL;
    g_autoptr(X509) kdh = NULL;

    call ("POST", p, alice, k, NULL, &r);
    assert_status (&r, 200);
    ct_kdh = unb64 (member (&r, "ct_kdh"));
    kdh = pp_tr34_krd_receive_credential_token (T.krd[0], g_bytes_get_data (ct_kdh, NULL),
                                                g_bytes_get_size (ct_kdh), &error);
    g_assert_no_error (error);
    g_assert_cmpint (X509_cmp (kdh, T.kh.kdh_cert), ==, 0);
  }
  {
    g_auto(Reply) r = { 0 };
    g_autofree char *p = g_strdup_printf ("%s/key-token", path);
    g_autofree char *k = new_key ();
    g_autofree char *b = g_strdup_printf ("{\"ct_krd\":\"%s\",\"rt_krd\":\"%s\"}", wrong_ct_b64, rt_b64);

    /* A CT_KRD of another terminal. */
    call ("POST", p, alice, k, b, &r);
    assert_problem (&r, 422, "token_rejected");
    g_assert_cmpuint (audit_count_of ("order.key_released"), ==, 0);
  }
  {
    g_auto(Reply) r = { 0 };
    g_auto(Reply) again = { 0 };
    g_auto(Reply) replayed_nonce = { 0 };
    g_autofree char *p = g_strdup_printf ("%s/key-token", path);
    g_autofree char *k = new_key ();
    g_autoptr(GBytes) kt = NULL;

    call ("POST", p, alice, token_key, token_body, &r);
    assert_status (&r, 200);
    kt = unb64 (member (&r, "kt_kdh"));
    received = pp_tr34_krd_receive_key_token (T.krd[0], T.state[0], g_bytes_get_data (kt, NULL),
                                              g_bytes_get_size (kt), &error);
    g_assert_no_error (error);
    g_assert_cmpuint (audit_count_of ("order.key_released"), ==, 1);

    /* The same request: the same token, no second key. */
    call ("POST", p, alice, token_key, token_body, &again);
    assert_status (&again, 200);
    g_assert_cmpstr (again.text, ==, r.text);
    g_assert_cmpuint (audit_count_of ("order.key_released"), ==, 1);

    /* The same nonce under a new key: refused. */
    call ("POST", p, alice, k, token_body, &replayed_nonce);
    assert_problem (&replayed_nonce, 422, "token_rejected");
    g_assert_cmpuint (audit_count_of ("order.key_released"), ==, 1);
  }

  /* The KCV: a wrong one is refused, the terminal's keys the order. */
  {
    g_auto(Reply) bad = { 0 };
    g_auto(Reply) r = { 0 };
    g_auto(Reply) terminal = { 0 };
    g_autofree char *p = g_strdup_printf ("%s/kcv", path);
    g_autofree char *k = new_key ();
    g_autofree char *k2 = new_key ();
    g_autofree char *b = g_strdup_printf ("{\"kcv\":\"%s\"}", received->kcv);
    g_autofree char *wrong = g_strdup_printf ("{\"kcv\":\"%s\"}", g_str_equal (received->kcv, "000000") ? "111111"
                                                                                                      : "000000");

    call ("POST", p, alice, k, wrong, &bad);
    assert_problem (&bad, 409, "kcv_mismatch");
    call ("POST", p, alice, k2, b, &r);
    assert_status (&r, 200);
    g_assert_cmpstr (member (&r, "state"), ==, "keyed");
    call ("GET", "/api/v1/terminals/RS-0001", bob, NULL, NULL, &terminal);
    assert_status (&terminal, 200);
    g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (obj (&terminal), "terminal"),
                                                    "state"), ==, "keyed");
  }

  /* The rest of the order, then a recycle order. */
  {
    g_auto(Reply) installed = { 0 };
    g_auto(Reply) closed = { 0 };
    g_auto(Reply) recycle = { 0 };
    g_autofree char *p1 = g_strdup_printf ("%s/program-installed", path);
    g_autofree char *p2 = g_strdup_printf ("%s/close", path);
    g_autofree char *k1 = new_key ();
    g_autofree char *k2 = new_key ();
    g_autofree char *k3 = new_key ();

    call ("POST", p1, alice, k1, NULL, &installed);
    assert_status (&installed, 200);
    g_assert_cmpstr (member (&installed, "state"), ==, "program_installed");
    call ("POST", p2, alice, k2, "{}", &closed);
    assert_status (&closed, 200);
    g_assert_cmpstr (member (&closed, "state"), ==, "closed");
    call ("POST", "/api/v1/recycle-orders", alice, k3, "{\"serial\":\"RS-0001\",\"reason\":\"merchant left\"}",
          &recycle);
    assert_status (&recycle, 201);
    g_assert_cmpstr (member (&recycle, "kind"), ==, "recycle");
  }

  /* The journal, the feed, the catalogue. */
  {
    g_auto(Reply) audit = { 0 };
    g_auto(Reply) changes = { 0 };
    g_auto(Reply) programs = { 0 };
    g_auto(Reply) orders = { 0 };

    call ("GET", "/api/v1/audit?after=0&limit=1000", carol, NULL, NULL, &audit);
    assert_status (&audit, 200);
    g_assert_nonnull (strstr (audit.text, "\"action\":\"order.keyed\""));
    call ("GET", "/api/v1/changes?since=0&limit=1000", alice, NULL, NULL, &changes);
    assert_status (&changes, 200);
    g_assert_nonnull (strstr (changes.text, order_id));
    g_assert_cmpint (json_object_get_int_member (obj (&changes), "cursor"), >, 0);
    call ("GET", "/api/v1/programs?model=A920", alice, NULL, NULL, &programs);
    assert_status (&programs, 200);
    g_assert_nonnull (json_object_get_array_member (obj (&programs), "programs"));
    call ("GET", "/api/v1/work-orders?serial=RS-0001", alice, NULL, NULL, &orders);
    assert_status (&orders, 200);
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (obj (&orders), "orders")), ==, 2);
  }

  /* A second order, cancelled while its request is pending: the request
   * is withdrawn. */
  {
    g_auto(Reply) order = { 0 };
    g_auto(Reply) request = { 0 };
    g_auto(Reply) cancelled = { 0 };
    g_auto(Reply) approval = { 0 };
    g_auto(Reply) no_reason = { 0 };
    g_autofree char *b = g_strdup_printf ("{\"serial\":\"RS-0002\",\"merchant_id\":%" G_GINT64_FORMAT
                                          ",\"program\":\"1.0.0\",\"key_type\":\"aes-256\"}", merchant_id);
    g_autofree char *k1 = new_key ();
    g_autofree char *k2 = new_key ();
    g_autofree char *k3 = new_key ();
    g_autofree char *k4 = new_key ();
    g_autofree char *p = NULL;

    call ("POST", "/api/v1/work-orders", alice, k1, b, &order);
    assert_status (&order, 201);
    g_assert_cmpstr (member (&order, "key_type"), ==, "aes-256");
    p = g_strdup_printf ("/api/v1/work-orders/%s/approval-request", member (&order, "id"));
    call ("POST", p, alice, k2, NULL, &request);
    assert_status (&request, 201);
    g_free (p);
    p = g_strdup_printf ("/api/v1/work-orders/%s/cancel", member (&order, "id"));
    call ("POST", p, alice, k4, NULL, &no_reason);
    assert_problem (&no_reason, 400, "invalid");
    call ("POST", p, alice, k3, "{\"reason\":\"merchant changed their mind\"}", &cancelled);
    assert_status (&cancelled, 200);
    g_assert_cmpstr (member (&cancelled, "state"), ==, "cancelled");
    g_free (p);
    p = g_strdup_printf ("/api/v1/approvals/%s", member (&request, "id"));
    call ("GET", p, bob, NULL, NULL, &approval);
    assert_status (&approval, 200);
    g_assert_cmpstr (member (&approval, "state"), ==, "withdrawn");
  }
  g_input_stream_close (events, NULL, NULL);
}

/* ---- program uploads ---- */

static void
upload (const char *token,
        const char *key,
        const char *package,
        Reply      *out)
{
  g_autofree char *data = NULL;
  gsize len = 0;

  g_assert_true (g_file_get_contents (package, &data, &len, NULL));
  call_full (T.daemon.base, "POST", "/api/v1/programs", token, key, data, (gssize) len, out);
}

static void
test_programs (void)
{
  g_autofree char *alice = login ("alice");
  g_autofree char *bob = login ("bob");
  g_autofree char *key = new_key ();
  g_autofree char *k2 = new_key ();
  g_autofree char *k3 = new_key ();
  g_autofree char *k4 = new_key ();
  g_autofree char *k5 = new_key ();
  g_auto(Reply) first = { 0 };
  g_auto(Reply) again = { 0 };
  g_auto(Reply) duplicate = { 0 };
  g_auto(Reply) rogue = { 0 };
  g_auto(Reply) garbage = { 0 };
  g_auto(Reply) reviewer = { 0 };
  g_auto(Reply) list = { 0 };
  g_auto(Reply) big = { 0 };
  JsonArray *programs;
  guint before = audit_count ();

  /* Refused, writing nothing: an untrusted signer, not a package, a reviewer, too big. */
  upload (alice, k2, T.rogue_package, &rogue);
  assert_problem (&rogue, 400, "invalid");
  g_assert_nonnull (strstr (rogue.text, "not trusted"));
  call_full (T.daemon.base, "POST", "/api/v1/programs", alice, k3, "PPPROG1\nshort", -1, &garbage);
  assert_problem (&garbage, 400, "invalid");
  upload (bob, k4, T.package, &reviewer);
  assert_problem (&reviewer, 403, "permission");
  {
    gsize len = PP_REGISTRY_SERVER_PROGRAM_MAX + 1;
    g_autofree char *data = g_malloc0 (len);

    call_full (T.daemon.base, "POST", "/api/v1/programs", alice, k5, data, (gssize) len, &big);
    assert_problem (&big, 413, "payload_too_large");
  }
  g_assert_cmpuint (audit_count (), ==, before);

  /* The signed package: one catalogue row per model, over the JSON limit. */
  upload (alice, key, T.package, &first);
  assert_status (&first, 201);
  programs = json_object_get_array_member (obj (&first), "programs");
  g_assert_cmpuint (json_array_get_length (programs), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (programs, 0), "model"), ==, "A920");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (programs, 1), "version"), ==,
                   "2.1.0");
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (programs, 0), "size"), ==,
                   1536 * 1024);
  g_assert_cmpuint (strlen (json_object_get_string_member (json_array_get_object_element (programs, 0), "sha256")),
                    ==, 64);
  before = audit_count ();
  upload (alice, key, T.package, &again);
  assert_status (&again, 201);
  g_assert_cmpstr (again.text, ==, first.text);
  g_assert_cmpuint (audit_count (), ==, before);
  {
    g_autofree char *k = new_key ();

    upload (alice, k, T.package, &duplicate);
    assert_problem (&duplicate, 409, "conflict");
  }
  call ("GET", "/api/v1/programs?model=P2", bob, NULL, NULL, &list);
  assert_status (&list, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (obj (&list), "programs")), ==, 1);
  g_assert_nonnull (strstr (list.text, "\"name\":\"pay\""));
}

/* posprov-tool programs upload|list --registry against this daemon (its
 * --program-trust): a package packed by `program pack` goes in, one row a
 * model; one by an untrusted signer is refused by the service and nothing
 * is recorded. */
static void
test_tool_programs (void)
{
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  const char *upload_args[] = { "programs", "upload", T.ledger_package, "--registry", T.daemon.base, "--json",
                                NULL };
  const char *list_args[] = { "programs", "list", "--model", "A920", "--registry", T.daemon.base, "--json",
                              NULL };
  const char *rogue_args[] = { "programs", "upload", T.rogue_package, "--registry", T.daemon.base, NULL };
  const char *reviewer_args[] = { "programs", "upload", T.ledger_package, "--registry", T.daemon.base, NULL };
  JsonArray *programs;
  guint before;

  g_assert_cmpint (pp_test_run_tool_as (upload_args, "alice", PASSWORD, T.ca_pem, &out, &err), ==, 0);
  g_assert_true (json_parser_load_from_data (parser, out, -1, NULL));
  programs = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)), "programs");
  g_assert_cmpuint (json_array_get_length (programs), ==, 2);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (pp_test_run_tool_as (list_args, "bob", PASSWORD, T.ca_pem, &out, NULL), ==, 0);
  g_assert_true (json_parser_load_from_data (parser, out, -1, NULL));
  programs = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)), "programs");
  g_assert_cmpuint (json_array_get_length (programs), >=, 1);
  {
    gboolean found = FALSE;

    for (guint i = 0; i < json_array_get_length (programs); i++)
      {
        JsonObject *o = json_array_get_object_element (programs, i);

        g_assert_cmpstr (json_object_get_string_member (o, "model"), ==, "A920");
        found |= g_str_equal (json_object_get_string_member (o, "name"), "ledger");
      }
    g_assert_true (found);
  }
  g_clear_pointer (&out, g_free);

  /* Untrusted: the service refuses it (400 invalid, docs/registry-api.md),
   * the tool says why, nothing is written. */
  /* (Signing in is journalled; adding a program is program.add.) */
  before = audit_count_of ("program.add");
  g_assert_cmpint (pp_test_run_tool_as (rogue_args, "alice", PASSWORD, T.ca_pem, NULL, &err), ==, 1);
  g_assert_nonnull (strstr (err, "the program package is refused"));
  g_clear_pointer (&err, g_free);
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) all = pp_store_list_programs (T.kh.base.store, NULL, &error);

    g_assert_no_error (error);
    for (guint i = 0; i < all->len; i++)
      g_assert_cmpstr (((PpProgramRecord *) g_ptr_array_index (all, i))->name, !=, "rogue");
  }
  /* A reviewer may not upload. */
  g_assert_cmpint (pp_test_run_tool_as (reviewer_args, "bob", PASSWORD, T.ca_pem, NULL, &err), ==, 1);
  g_clear_pointer (&err, g_free);
  g_assert_cmpuint (audit_count_of ("program.add"), ==, before);
}

/* ---- the listing and required-field rules (docs/registry-api.md) ---- */

static void
test_semantics (void)
{
  g_autofree char *alice = login ("alice");
  g_autofree char *carol = login ("carol");
  static const char * const too_many[] = {
    "/api/v1/terminals?limit=1001", "/api/v1/merchants?limit=1001", "/api/v1/audit?limit=1001",
    "/api/v1/changes?limit=1001", "/api/v1/terminals?limit=-1",
  };
  guint before = audit_count ();

  /* limit absent and limit=0 are the same default page. */
  {
    g_auto(Reply) absent = { 0 };
    g_auto(Reply) zero = { 0 };

    call ("GET", "/api/v1/audit", carol, NULL, NULL, &absent);
    assert_status (&absent, 200);
    call ("GET", "/api/v1/audit?limit=0", carol, NULL, NULL, &zero);
    assert_status (&zero, 200);
    g_assert_cmpstr (zero.text, ==, absent.text);
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (obj (&zero), "entries")), ==,
                      MIN (audit_count (), PP_REGISTRY_PAGE_DEFAULT));
  }
  for (guint i = 0; i < G_N_ELEMENTS (too_many); i++)
    {
      g_auto(Reply) r = { 0 };

      g_test_message ("case: %s", too_many[i]);
      call ("GET", too_many[i], carol, NULL, NULL, &r);
      assert_problem (&r, 400, "invalid");
      g_assert_nonnull (strstr (r.text, "1000"));
    }

  /* The approvals without a state are the pending ones; ?state=all adds
   * the decided ones (the install before this decided one). */
  {
    g_auto(Reply) absent = { 0 };
    g_auto(Reply) pending = { 0 };
    g_auto(Reply) all = { 0 };
    g_auto(Reply) bad = { 0 };

    call ("GET", "/api/v1/approvals", alice, NULL, NULL, &absent);
    call ("GET", "/api/v1/approvals?state=pending", alice, NULL, NULL, &pending);
    call ("GET", "/api/v1/approvals?state=all", alice, NULL, NULL, &all);
    assert_status (&absent, 200);
    g_assert_cmpstr (absent.text, ==, pending.text);
    g_assert_null (strstr (pending.text, "\"state\":\"approved\""));
    g_assert_nonnull (strstr (all.text, "\"state\":\"approved\""));
    call ("GET", "/api/v1/approvals?state=approved", alice, NULL, NULL, &bad);
    assert_problem (&bad, 400, "invalid");
  }

  /* program is required on create, reason on cancel: missing, null or
   * blank is 400 invalid and nothing is written. */
  {
    static const char * const bodies[] = {
      "{\"serial\":\"RS-0002\",\"merchant_id\":1}",
      "{\"serial\":\"RS-0002\",\"merchant_id\":1,\"program\":null}",
      "{\"serial\":\"RS-0002\",\"merchant_id\":1,\"program\":\"  \"}",
    };

    for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
      {
        g_auto(Reply) r = { 0 };
        g_autofree char *key = new_key ();

        call ("POST", "/api/v1/work-orders", alice, key, bodies[i], &r);
        assert_problem (&r, 400, "invalid");
        g_assert_nonnull (strstr (r.text, "program"));
      }
  }
  {
    g_auto(Reply) order = { 0 };
    g_autofree char *key = new_key ();
    g_autofree char *path = NULL;
    g_autofree char *body = g_strdup_printf ("{\"serial\":\"RS-0002\",\"merchant_id\":%" G_GINT64_FORMAT
                                             ",\"program\":\"1.0.0\"}", T.kh.base.merchant_id);
    static const char * const bodies[] = { "{}", "{\"reason\":null}", "{\"reason\":\"\"}" };

    call ("POST", "/api/v1/work-orders", alice, key, body, &order);
    assert_status (&order, 201);

    /* Its approval request has a short code, which opens it like its id. */
    {
      g_auto(Reply) request = { 0 };
      g_auto(Reply) by_code = { 0 };
      g_auto(Reply) listed = { 0 };
      g_auto(Reply) unknown = { 0 };
      g_auto(Reply) garbage = { 0 };
      g_autofree char *k = new_key ();
      g_autofree char *p = g_strdup_printf ("/api/v1/work-orders/%s/approval-request", member (&order, "id"));
      g_autofree char *lower = NULL;
      g_autofree char *quoted = NULL;
      const char *code;

      call ("POST", p, alice, k, NULL, &request);
      assert_status (&request, 201);
      code = member (&request, "code");
      g_assert_cmpuint (strlen (code), ==, PP_APPROVAL_CODE_LENGTH);
      lower = g_ascii_strdown (code, -1);
      g_free (p);
      p = g_strdup_printf ("/api/v1/approvals/%.4s-%s", lower, lower + 4);
      call ("GET", p, alice, NULL, NULL, &by_code);
      assert_status (&by_code, 200);
      g_assert_cmpstr (member (&by_code, "id"), ==, member (&request, "id"));
      g_assert_cmpstr (member (&by_code, "code"), ==, code);
      call ("GET", "/api/v1/approvals", alice, NULL, NULL, &listed);
      quoted = g_strdup_printf ("\"code\":\"%s\"", code);
      g_assert_nonnull (strstr (listed.text, quoted));
      call ("GET", "/api/v1/approvals/ZZZZZZZZ", alice, NULL, NULL, &unknown);
      assert_problem (&unknown, 404, "not_found");
      call ("GET", "/api/v1/approvals/not-a-code", alice, NULL, NULL, &garbage);
      assert_problem (&garbage, 404, "not_found");
    }
    before = audit_count ();
    path = g_strdup_printf ("/api/v1/work-orders/%s/cancel", member (&order, "id"));
    for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
      {
        g_auto(Reply) r = { 0 };
        g_autofree char *k = new_key ();

        call ("POST", path, alice, k, bodies[i], &r);
        assert_problem (&r, 400, "invalid");
        g_assert_nonnull (strstr (r.text, "reason"));
      }
    g_assert_cmpuint (audit_count (), ==, before);
    {
      g_auto(Reply) r = { 0 };
      g_autofree char *k = new_key ();

      call ("POST", path, alice, k, "{\"reason\":\"wrong shop\"}", &r);
      assert_status (&r, 200);
      g_assert_cmpstr (member (&r, "state"), ==, "cancelled");
    }
  }
}

/* ---- the event stream across a session's end ---- */

/* GET /api/v1/events as @token from @base, with @last_id (NULL: none). */
static GInputStream *
open_events (SoupSession  *session,
             const char   *base,
             const char   *token,
             const char   *last_id,
             SoupMessage **out_msg)
{
  g_autofree char *uri = g_strconcat (base, "/api/v1/events", NULL);
  g_autofree char *value = g_strconcat ("Bearer ", token, NULL);
  g_autoptr(GError) error = NULL;
  GInputStream *stream;

  *out_msg = soup_message_new ("GET", uri);
  soup_message_headers_replace (soup_message_get_request_headers (*out_msg), "Authorization", value);
  if (last_id != NULL)
    soup_message_headers_replace (soup_message_get_request_headers (*out_msg), "Last-Event-ID", last_id);
  stream = soup_session_send (session, *out_msg, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (*out_msg), ==, 200);
  return stream;
}

/* A pending approval request for a new order on @serial through @base,
 * signed in afresh as alice (tokens here last two seconds). */
static char *
request_at (const char *base,
            const char *serial)
{
  g_autofree char *alice = login_at (base, "alice");
  g_autofree char *k1 = new_key (), *k2 = new_key (), *k3 = new_key ();
  g_autofree char *rows = g_strdup_printf ("[{\"serial\":\"%s\",\"vendor\":\"PAX\",\"model\":\"A920\"}]", serial);
  g_autofree char *body = g_strdup_printf ("{\"serial\":\"%s\",\"merchant_id\":%" G_GINT64_FORMAT
                                           ",\"program\":\"1.0.0\"}", serial, T.kh.base.merchant_id);
  g_autofree char *path = NULL;
  g_auto(Reply) intake = { 0 };
  g_auto(Reply) order = { 0 };
  g_auto(Reply) request = { 0 };

  call_full (base, "POST", "/api/v1/terminals", alice, k1, rows, -1, &intake);
  assert_status (&intake, 201);
  /* As if it had proved its key pair (the fixture's way). */
  {
    g_autofree char *fp = g_compute_checksum_for_string (G_CHECKSUM_SHA256, serial, -1);
    g_autoptr(GError) error = NULL;

    g_assert_true (pp_store_set_terminal_certificate (T.kh.base.store, serial, fp, "carol", &error));
    g_assert_no_error (error);
  }
  call_full (base, "POST", "/api/v1/work-orders", alice, k2, body, -1, &order);
  assert_status (&order, 201);
  path = g_strdup_printf ("/api/v1/work-orders/%s/approval-request", member (&order, "id"));
  call_full (base, "POST", path, alice, k3, NULL, -1, &request);
  assert_status (&request, 201);
  return g_strdup (member (&request, "id"));
}

/* The id line of the event that names @approval in @seen. */
static char *
event_id_of (const char *seen,
             const char *approval)
{
  const char *at = strstr (seen, approval);
  const char *id;

  g_assert_nonnull (at);
  for (id = at; id > seen && !g_str_has_prefix (id, "\nid: "); id--)
    ;
  g_assert_true (g_str_has_prefix (id, "\nid: "));
  id += strlen ("\nid: ");
  return g_strndup (id, strcspn (id, "\n"));
}

static void
test_events_expiry (void)
{
  static const char * const extra[] = { "--session-lifetime", "2", NULL };
  Daemon d = { 0 };
  g_autoptr(SoupSession) session = trusting_session ();
  g_autoptr(SoupMessage) msg1 = NULL, msg2 = NULL, msg3 = NULL;
  g_autoptr(GInputStream) first = NULL, second = NULL, third = NULL;
  g_autoptr(GString) rest = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *bob = NULL;
  g_autofree char *a1 = NULL, *a2 = NULL, *seen = NULL, *id1 = NULL, *replayed = NULL, *reset = NULL;
  gssize n;
  char buf[1024];

  daemon_start (&d, extra);
  bob = login_at (d.base, "bob");
  first = open_events (session, d.base, bob, NULL, &msg1);
  a1 = request_at (d.base, "RS-5001");
  seen = read_event (first, a1);
  id1 = event_id_of (seen, a1);

  /* The session ends: so does the stream, saying why. */
  while ((n = g_input_stream_read (first, buf, sizeof buf, NULL, &error)) > 0)
    g_string_append_len (rest, buf, n);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (rest->str, "event: expired\n"));

  /* A request made while the reviewer is away ... */
  a2 = request_at (d.base, "RS-5002");
  /* ... reaches them when they sign in again and reconnect with the last id. */
  g_free (bob);
  bob = login_at (d.base, "bob");
  second = open_events (session, d.base, bob, id1, &msg2);
  replayed = read_event (second, a2);
  g_assert_null (strstr (replayed, a1));          /* not the one already seen */
  g_assert_nonnull (strstr (replayed, "event: approval\n"));
  g_input_stream_close (second, NULL, NULL);

  /* An id this run never gave: start again from the list. */
  third = open_events (session, d.base, bob, "0badc0de.7", &msg3);
  reset = read_event (third, "event: reset");
  g_assert_nonnull (reset);
  g_input_stream_close (third, NULL, NULL);
  daemon_stop (&d);
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *tls_dir = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);

  pp_key_host_fixture_set_up (&T.kh, terminals, G_N_ELEMENTS (terminals));
  krd_set_up ();
  tls_dir = g_build_filename (T.kh.base.dir, "tls", NULL);
  g_assert_cmpint (g_mkdir (tls_dir, 0700), ==, 0);
  make_tls_files (tls_dir);
  make_packages (tls_dir);
  daemon_start (&T.daemon, NULL);
  T.session = trusting_session ();

  g_test_add_func ("/registry-server/openapi", test_openapi);
  g_test_add_func ("/registry-server/tls-untrusted", test_tls_untrusted);
  g_test_add_func ("/registry-server/client-certificates", test_client_certificates);
  g_test_add_func ("/registry-server/sessions", test_sessions);
  g_test_add_func ("/registry-server/login-limit", test_login_limit);
  g_test_add_func ("/registry-server/session-expiry", test_session_expiry);
  g_test_add_func ("/registry-server/roles", test_roles);
  g_test_add_func ("/registry-server/bad-requests", test_bad_requests);
  g_test_add_func ("/registry-server/terminals", test_terminals);
  g_test_add_func ("/registry-server/users", test_users);
  g_test_add_func ("/registry-server/otp-approval", test_otp_approval);
  g_test_add_func ("/registry-server/install", test_install);
  g_test_add_func ("/registry-server/programs", test_programs);
  g_test_add_func ("/registry-server/semantics", test_semantics);
  g_test_add_func ("/registry-server/tool-programs", test_tool_programs);
  g_test_add_func ("/registry-server/events-expiry", test_events_expiry);
  status = g_test_run ();

  g_clear_object (&T.session);
  daemon_stop (&T.daemon);
  for (guint i = 0; i < G_N_ELEMENTS (terminals); i++)
    {
      g_clear_pointer (&T.cert[i], X509_free);
      g_clear_pointer (&T.krd[i], pp_tr34_krd_unref);
      g_clear_pointer (&T.state[i], pp_tr34_krd_state_unref);
    }
  pp_key_host_fixture_tear_down (&T.kh);
  g_free (T.ca_pem);
  g_free (T.cert_pem);
  g_free (T.key_pem);
  g_free (T.client_pem);
  g_free (T.client_key_pem);
  g_free (T.program_pem);
  g_free (T.package);
  g_free (T.rogue_package);
  g_free (T.ledger_package);
  return status;
}
