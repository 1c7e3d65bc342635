/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-device.c: posprov-tool device identify, bind, inject, zeroize and
 * their refusals against the real posprov-termsim over real TCP, and the
 * PpTerminalDevice seam in-process (the posprov link driver).
 */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <gio/gunixinputstream.h>
#include <glib/gstdio.h>
#include <openssl/pem.h>

#include "pp-kcv.h"
#include "pp-keystore.h"
#include "pp-link-device.h"
#include "pp-link-tlv.h"
#include "pp-store.h"
#include "pp-openssl-types.h"
#include "pp-termsim.h"
#include "pp-terminal-device.h"
#include "pp-termsim-server.h"
#include "pp-test-util.h"
#include "pp-tr31.h"
#include "pp-tr34.h"
#include "tr34-test-pki.h"

#define KEY_STORE_SECRET "tidy-otter-lamp-keystore"

/* ---- the simulator ------------------------------------------------------- */

/* The PKI files, a CA_KRD key for factory mode, and one terminal in DIR. */
typedef struct {
  char *base;
  char *dir;
  char *trust;       /* what the terminal trusts for KDHs */
  char *krd_trust;   /* what the station trusts for terminals: root + CA_KRD */
  char *wrong_trust; /* a CA that did not issue the terminal's certificate */
  char *kdh_cert;
  char *kdh_key;
  char *crl;
  char *store;
  char *ca;
  char *ca_key;
} Fixture;

static void
write_key (const char *path,
           EVP_PKEY   *key)
{
  g_autoptr(BIO) bio = BIO_new_file (path, "w");

  g_assert_cmpint (PEM_write_bio_PrivateKey (bio, key, NULL, NULL, 0, NULL, NULL), ==, 1);
}

static void
write_certs (const char *path,
             X509       *a,
             X509       *b)
{
  g_autoptr(BIO) bio = BIO_new_file (path, "w");

  g_assert_cmpint (PEM_write_bio_X509 (bio, a), ==, 1);
  if (b != NULL)
    g_assert_cmpint (PEM_write_bio_X509 (bio, b), ==, 1);
}

static void
fixture_init_mode (Fixture    *f,
                   const char *serial,
                   gboolean    factory);

static void
fixture_init (Fixture    *f,
              const char *serial)
{
  fixture_init_mode (f, serial, TRUE);
}

/* Factory mode: the terminal issues its own certificate with CA_KRD's key;
 * otherwise it holds a CSR until a station certifies it. */
static void
fixture_init_mode (Fixture    *f,
                   const char *serial,
                   gboolean    factory)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autofree char *ca = NULL, *ca_key = NULL;
  g_autofree char *out = NULL, *err = NULL;

  f->base = pp_test_make_tmpdir ();
  f->dir = g_build_filename (f->base, "term", NULL);
  f->trust = g_build_filename (f->base, "trust.pem", NULL);
  f->krd_trust = g_build_filename (f->base, "krd-trust.pem", NULL);
  f->wrong_trust = g_build_filename (f->base, "ca-kdh.pem", NULL);
  f->kdh_cert = g_build_filename (f->base, "kdh.pem", NULL);
  f->kdh_key = g_build_filename (f->base, "kdh.key", NULL);
  f->crl = g_build_filename (f->base, "crl.der", NULL);
  f->store = g_build_filename (f->base, "store", NULL);
  f->ca = g_build_filename (f->base, "ca-krd.pem", NULL);
  f->ca_key = g_build_filename (f->base, "ca-krd.key", NULL);
  ca = g_build_filename (f->base, "ca-krd.pem", NULL);
  ca_key = g_build_filename (f->base, "ca-krd.key", NULL);
  pp_test_pki_write (pki, f->base);
  write_key (ca_key, pki->ca_krd_key);
  write_certs (f->krd_trust, pki->root, pki->ca_krd);
  {
    const char *init[] = { "init", "--dir", f->dir, "--serial", serial, "--vendor", "Acme", "--model", "X1",
                           "--trust", f->trust, "--ca-krd-cert", ca, "--ca-krd-key", ca_key, NULL };

    if (!factory)
      init[11] = NULL;

    g_assert_cmpint (pp_test_run_termsim (init, &out, &err), ==, 0);
  }
}

static void
fixture_clear (Fixture *f)
{
  g_free (f->base);
  g_free (f->dir);
  g_free (f->trust);
  g_free (f->krd_trust);
  g_free (f->wrong_trust);
  g_free (f->kdh_cert);
  g_free (f->kdh_key);
  g_free (f->crl);
  g_free (f->store);
  g_free (f->ca);
  g_free (f->ca_key);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Fixture, fixture_clear)

/* The names in the soft key store folder that hold a TMK of @serial. */
static guint
store_tmks (const char *store,
            const char *serial)
{
  g_autoptr(GDir) dir = g_dir_open (store, 0, NULL);
  g_autofree char *prefix = g_strconcat ("tmk-", serial, NULL);
  const char *name;
  guint n = 0;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, prefix))
      n++;
  return n;
}

static JsonObject *
show_json (const char  *dir,
           JsonParser **out_parser)
{
  const char *args[] = { "show", "--dir", dir, "--json", NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (pp_test_run_termsim (args, &out, &err), ==, 0);
  *out_parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (*out_parser, out, -1, &error));
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (*out_parser));
}

static gboolean
shown_unbound (const char *dir)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonObject *shown = show_json (dir, &parser);

  return json_node_is_null (json_object_get_member (shown, "bound_kdh"));
}

static JsonObject *
parse_object (const char  *text,
              JsonParser **out_parser)
{
  g_autoptr(GError) error = NULL;

  *out_parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (*out_parser, text, -1, &error));
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (*out_parser));
}

/* ---- posprov-tool against the real simulator ------------------------------ */

static void
test_identify (void)
{
  g_auto(Fixture) f = { 0, };
  g_autoptr(JsonParser) parser = NULL;
  g_autofree char *port = NULL;
  g_autofree char *out = NULL, *err = NULL, *out2 = NULL, *err2 = NULL;
  PpTestTermsimServer server = { 0, };
  JsonObject *info;
  JsonArray *caps;

  fixture_init (&f, "PP3001");
  port = pp_test_termsim_start (&server, f.dir, NULL);
  {
    const char *json[] = { "device", "identify", port, "--json", NULL };
    const char *human[] = { "device", "identify", port, NULL };

    g_assert_cmpint (pp_test_run_tool (json, NULL, &out, &err), ==, 0);
    g_assert_cmpint (pp_test_run_tool (human, NULL, &out2, &err2), ==, 0);
  }
  pp_test_termsim_stop (&server);

  info = parse_object (out, &parser);
  g_assert_cmpstr (json_object_get_string_member (info, "serial"), ==, "PP3001");
  g_assert_cmpstr (json_object_get_string_member (info, "vendor"), ==, "Acme");
  g_assert_cmpstr (json_object_get_string_member (info, "model"), ==, "X1");
  g_assert_cmpint (json_object_get_int_member (info, "protocol_version"), ==, 1);
  g_assert_false (json_object_get_boolean_member (info, "tamper"));
  g_assert_true (json_object_get_boolean_member (info, "has_cert"));
  g_assert_true (json_node_is_null (json_object_get_member (info, "bound_kdh")));
  caps = json_object_get_array_member (info, "capabilities");
  g_assert_nonnull (caps);
  g_assert_cmpuint (json_array_get_length (caps), >, 0);
  g_assert_nonnull (strstr (out2, "Terminal PP3001"));
  g_assert_nonnull (strstr (out2, "Acme"));
}

/* bind refused before anything is sent, then bound; inject; zeroize. */
static void
test_bind_inject_zeroize (void)
{
  g_auto(Fixture) f = { 0, };
  g_autoptr(JsonParser) p1 = NULL, p2 = NULL, p3 = NULL, p4 = NULL;
  g_autofree char *port = NULL;
  PpTestTermsimServer server = { 0, };
  JsonObject *shown, *printed;
  JsonArray *keys;

  fixture_init (&f, "PP3002");
  port = pp_test_termsim_start (&server, f.dir, NULL);

  /* A CT_KRD that does not chain to --krd-trust: refused, nothing sent. */
  {
    const char *args[] = { "device", "bind", port, "--kdh-cert", f.kdh_cert, "--kdh-crl", f.crl,
                           "--krd-trust", f.wrong_trust, NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (pp_test_run_tool (args, NULL, &out, &err), ==, 1);
    g_assert_nonnull (strstr (err, "CT_KRD"));
    g_assert_nonnull (strstr (err, "nothing was sent"));
    g_assert_true (shown_unbound (f.dir));
  }
  /* Another terminal than the one scanned: refused, nothing sent. */
  {
    const char *args[] = { "device", "bind", port, "--kdh-cert", f.kdh_cert, "--kdh-crl", f.crl,
                           "--krd-trust", f.krd_trust, "--expect-serial", "PP9999", NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (pp_test_run_tool (args, NULL, &out, &err), ==, 1);
    g_assert_nonnull (strstr (err, "reports serial PP3002, not the scanned PP9999"));
    g_assert_true (shown_unbound (f.dir));
  }
  /* Inject before bind: the station says to bind first. */
  {
    const char *args[] = { "device", "inject", port, "--kdh-cert", f.kdh_cert, "--kdh-key", f.kdh_key,
                           "--krd-trust", f.krd_trust, "--key-store", f.store, "--key-type", "tdes2", NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (pp_test_run_tool (args, NULL, &out, &err), ==, 1);
    g_assert_nonnull (strstr (err, "bind it first"));
  }
  {
    const char *args[] = { "device", "bind", port, "--kdh-cert", f.kdh_cert, "--kdh-crl", f.crl,
                           "--krd-trust", f.krd_trust, "--expect-serial", "PP3002", "--json", NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (pp_test_run_tool (args, NULL, &out, &err), ==, 0);
    printed = parse_object (out, &p1);
    g_assert_cmpstr (json_object_get_string_member (printed, "serial"), ==, "PP3002");
    g_assert_nonnull (strstr (json_object_get_string_member (printed, "bound_kdh"), "KDH"));
    g_assert_false (shown_unbound (f.dir));
  }
  /* inject: the KCV printed is the one the terminal holds. */
  {
    const char *args[] = { "device", "inject", port, "--kdh-cert", f.kdh_cert, "--kdh-key", f.kdh_key,
                           "--krd-trust", f.krd_trust, "--key-store", f.store, "--key-type", "tdes2",
                           "--expect-serial", "PP3002", "--json", NULL };
    g_autofree char *out = NULL, *err = NULL;
    const char *kcv;

    g_assert_cmpint (pp_test_run_tool (args, NULL, &out, &err), ==, 0);
    printed = parse_object (out, &p2);
    g_assert_cmpstr (json_object_get_string_member (printed, "serial"), ==, "PP3002");
    kcv = json_object_get_string_member (printed, "kcv");
    g_assert_cmpuint (strlen (kcv), ==, 6);
    /* serial, kcv and the key store label of the TMK, nothing else. */
    g_assert_cmpuint (json_object_get_size (printed), ==, 3);
    g_assert_true (g_str_has_prefix (json_object_get_string_member (printed, "tmk_label"), "tmk-PP3002-"));
    shown = show_json (f.dir, &p3);
    keys = json_object_get_array_member (shown, "keys");
    g_assert_cmpuint (json_array_get_length (keys), ==, 1);
    g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (keys, 0), "kcv"), ==, kcv);
    g_assert_cmpuint (store_tmks (f.store, "PP3002"), ==, 1);
  }
  /* unbind: a UBT_KDH for the terminal's nonce releases it. */
  {
    const char *args[] = { "device", "unbind", port, "--kdh-cert", f.kdh_cert, "--kdh-key", f.kdh_key,
                           "--krd-trust", f.krd_trust, NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (pp_test_run_tool (args, NULL, &out, &err), ==, 0);
    g_assert_nonnull (strstr (out, "PP3002 unbound"));
    g_assert_true (shown_unbound (f.dir));
  }
  /* zeroize: no keys, no binding. */
  {
    const char *args[] = { "device", "zeroize", port, NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (pp_test_run_tool (args, NULL, &out, &err), ==, 0);
    g_assert_nonnull (strstr (out, "PP3002 zeroized"));
    shown = show_json (f.dir, &p4);
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (shown, "keys")), ==, 0);
    g_assert_true (json_node_is_null (json_object_get_member (shown, "bound_kdh")));
  }
  pp_test_termsim_stop (&server);
}

/* A terminal with only a CSR: certified by the station, then bindable. */
static void
test_certify (void)
{
  g_auto(Fixture) f = { 0, };
  g_autoptr(JsonParser) p1 = NULL, p2 = NULL, p3 = NULL;
  g_autofree char *port = NULL;
  PpTestTermsimServer server = { 0, };
  JsonObject *printed, *shown;

  fixture_init_mode (&f, "PP3005", FALSE);
  port = pp_test_termsim_start (&server, f.dir, NULL);
  /* Not the scanned terminal: nothing issued. */
  {
    const char *args[] = { "device", "certify", port, "--ca-krd-cert", f.ca, "--ca-krd-key", f.ca_key,
                           "--expect-serial", "PP9999", NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (pp_test_run_tool (args, NULL, &out, &err), ==, 1);
    g_assert_nonnull (strstr (err, "not the scanned PP9999"));
    shown = show_json (f.dir, &p1);
    g_assert_true (json_node_is_null (json_object_get_member (shown, "certificate")));
  }
  {
    const char *args[] = { "device", "certify", port, "--ca-krd-cert", f.ca, "--ca-krd-key", f.ca_key,
                           "--expect-serial", "PP3005", "--json", NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (pp_test_run_tool (args, NULL, &out, &err), ==, 0);
    printed = parse_object (out, &p2);
    g_assert_cmpstr (json_object_get_string_member (printed, "serial"), ==, "PP3005");
    g_assert_nonnull (strstr (json_object_get_string_member (printed, "subject"), "PP3005"));
  }
  /* Twice: refused, the certificate stays. */
  {
    const char *args[] = { "device", "certify", port, "--ca-krd-cert", f.ca, "--ca-krd-key", f.ca_key, NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (pp_test_run_tool (args, NULL, &out, &err), ==, 1);
    g_assert_nonnull (strstr (err, "already holds a device certificate"));
  }
  shown = show_json (f.dir, &p3);
  g_assert_nonnull (strstr (json_object_get_string_member (json_object_get_object_member (shown, "certificate"),
                                                          "subject"), "PP3005"));
  /* The certificate passes the station's own CT_KRD check. */
  {
    const char *args[] = { "device", "bind", port, "--kdh-cert", f.kdh_cert, "--kdh-crl", f.crl,
                           "--krd-trust", f.krd_trust, NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (pp_test_run_tool (args, NULL, &out, &err), ==, 0);
    g_assert_nonnull (strstr (out, "PP3005 bound to"));
  }
  pp_test_termsim_stop (&server);
}

/* ---- certify against the register, and with a CA key in a token ------------- */

/* The SHA-256 of the terminal's device certificate in its folder, upper hex. */
static char *
held_fingerprint (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "device.pem", NULL);
  g_autoptr(BIO) bio = BIO_new_file (path, "r");
  g_autoptr(X509) cert = bio != NULL ? PEM_read_bio_X509 (bio, NULL, NULL, NULL) : NULL;
  unsigned char md[32];
  unsigned int len = 0;
  GString *hex = g_string_new (NULL);

  g_assert_nonnull (cert);
  g_assert_cmpint (X509_digest (cert, EVP_sha256 (), md, &len), ==, 1);
  for (guint i = 0; i < len; i++)
    g_string_append_printf (hex, "%02X", md[i]);
  return g_string_free (hex, FALSE);
}

/* The register's fingerprint for @serial (NULL: none recorded). */
static char *
register_fingerprint (const char *db,
                      const char *serial)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = pp_store_open (db, &error);
  g_autoptr(PpTerminal) t = NULL;

  g_assert_no_error (error);
  t = pp_store_get_terminal (store, serial, &error);
  g_assert_no_error (error);
  return g_strdup (pp_terminal_get_cert_fingerprint (t));
}

/* A register with an administrator and @serial in @state. */
static char *
make_register (const char      *base,
               const char      *serial,
               PpTerminalState  state)
{
  char *db = g_build_filename (base, "store.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = pp_store_open (db, &error);
  g_autoptr(PpUser) admin = NULL;
  const PpTerminalIntake row = { serial, "Acme", "X1" };

  g_assert_no_error (error);
  admin = pp_store_add_user_with_cost (store, "carol", NULL, PP_USER_ROLE_ADMINISTRATOR,
                                       PP_TEST_PASSWORD ("0"), 10, "setup", &error);
  g_assert_no_error (error);
  g_assert_true (pp_store_add_terminals_in_state (store, &row, 1, PP_TERMINAL_STATE_RECEIVED, "carol", &error));
  g_assert_no_error (error);
  if (state == PP_TERMINAL_STATE_QUARANTINED)
    {
      g_assert_true (pp_store_transition_terminal (store, serial, PP_TERMINAL_STATE_IN_STOCK, "carol", NULL, &error));
      g_assert_true (pp_store_transition_terminal (store, serial, PP_TERMINAL_STATE_QUARANTINED, "carol", "test",
                                                   &error));
      g_assert_no_error (error);
    }
  return db;
}

static gboolean
shown_certified (const char *dir)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonObject *shown = show_json (dir, &parser);

  return !json_node_is_null (json_object_get_member (shown, "certificate"));
}

static void
test_certify_register (void)
{
  g_auto(Fixture) f = { 0, };
  g_autoptr(JsonParser) p1 = NULL;
  g_autofree char *port = NULL, *db = NULL, *other_db = NULL, *other = NULL;
  g_autofree char *held = NULL, *recorded = NULL;
  PpTestTermsimServer server = { 0, };
  JsonObject *printed;

  fixture_init_mode (&f, "PP3010", FALSE);
  other = g_build_filename (f.base, "other", NULL);
  g_assert_cmpint (g_mkdir (other, 0700), ==, 0);
  other_db = make_register (other, "PP3099", PP_TERMINAL_STATE_RECEIVED);
  db = make_register (f.base, "PP3010", PP_TERMINAL_STATE_QUARANTINED);
  port = pp_test_termsim_start (&server, f.dir, NULL);
  /* Not in the register: nothing issued. */
  {
    const char *args[] = { "device", "certify", port, "--ca-krd-cert", f.ca, "--ca-krd-key", f.ca_key,
                           "--db", other_db, NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (pp_test_run_tool (args, NULL, &out, &err), ==, 1);
    g_assert_nonnull (strstr (err, "PP3010 is not in the register"));
    g_assert_nonnull (strstr (err, "nothing was issued"));
    g_assert_false (shown_certified (f.dir));
  }
  /* Quarantined: not certified. */
  {
    const char *args[] = { "device", "certify", port, "--ca-krd-cert", f.ca, "--ca-krd-key", f.ca_key,
                           "--db", db, NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (pp_test_run_tool (args, NULL, &out, &err), ==, 1);
    g_assert_nonnull (strstr (err, "in the register: only a received, in-stock or recycled terminal is certified"));
    g_assert_false (shown_certified (f.dir));
  }
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(PpStore) store = pp_store_open (db, &error);

    g_assert_true (pp_store_transition_terminal (store, "PP3010", PP_TERMINAL_STATE_IN_STOCK, "carol", "inspected",
                                                 &error));
    g_assert_no_error (error);
  }
  /* The scanned serial differs: nothing issued, nothing recorded. */
  {
    const char *args[] = { "device", "certify", port, "--ca-krd-cert", f.ca, "--ca-krd-key", f.ca_key,
                           "--db", db, "--expect-serial", "PP3011", NULL };
    g_autofree char *out = NULL, *err = NULL;
    g_autofree char *none = NULL;

    g_assert_cmpint (pp_test_run_tool (args, NULL, &out, &err), ==, 1);
    g_assert_nonnull (strstr (err, "not the scanned PP3011"));
    g_assert_false (shown_certified (f.dir));
    none = register_fingerprint (db, "PP3010");
    g_assert_null (none);
  }
  /* In stock: certified, and the register holds the certificate the terminal holds. */
  {
    const char *args[] = { "device", "certify", port, "--ca-krd-cert", f.ca, "--ca-krd-key", f.ca_key,
                           "--db", db, "--expect-serial", "PP3010", "--json", NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (pp_test_run_tool (args, NULL, &out, &err), ==, 0);
    printed = parse_object (out, &p1);
    g_assert_cmpstr (json_object_get_string_member (printed, "serial"), ==, "PP3010");
    held = held_fingerprint (f.dir);
    recorded = register_fingerprint (db, "PP3010");
    g_assert_cmpstr (recorded, ==, held);
  }
  /* Again: the terminal keeps its certificate; the register already has it. */
  {
    const char *args[] = { "device", "certify", port, "--ca-krd-cert", f.ca, "--ca-krd-key", f.ca_key,
                           "--db", db, NULL };
    g_autofree char *out = NULL, *err = NULL;
    g_autofree char *again = NULL;

    g_assert_cmpint (pp_test_run_tool (args, NULL, &out, &err), ==, 0);
    g_assert_nonnull (strstr (out, "already holds a device certificate by this CA_KRD"));
    again = register_fingerprint (db, "PP3010");
    g_assert_cmpstr (again, ==, held);
  }
  pp_test_termsim_stop (&server);
}

/* The terminal reports another serial than its CSR names: nothing issued. */
static void
test_certify_csr_mismatch (void)
{
  g_auto(Fixture) f = { 0, };
  g_autofree char *port = NULL;
  PpTestTermsimServer server = { 0, };

  fixture_init_mode (&f, "PP3012", FALSE);
  port = pp_test_termsim_start (&server, f.dir, "--report-serial=PP3013");
  {
    const char *args[] = { "device", "certify", port, "--ca-krd-cert", f.ca, "--ca-krd-key", f.ca_key, NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (pp_test_run_tool (args, NULL, &out, &err), ==, 1);
    g_assert_nonnull (strstr (err, "names device “PP3012”, but the terminal reports serial PP3013"));
  }
  pp_test_termsim_stop (&server);
  g_assert_false (shown_certified (f.dir));
}

static const char *
softhsm_module (void)
{
  static const char * const paths[] = {
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
  };

  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    if (g_file_test (paths[i], G_FILE_TEST_EXISTS))
      return paths[i];
  return NULL;
}

static void
softhsm_util (const char * const *args)
{
  g_autofree char *util = g_find_program_in_path ("softhsm2-util");
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;

  g_ptr_array_add (argv, util);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                               &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("softhsm2-util failed: %s", err);
}

/* The CA_KRD key in a SoftHSM2 token: the certificate is signed there. */
static void
test_certify_pkcs11 (void)
{
  g_auto(Fixture) f = { 0, };
  g_autofree char *util = g_find_program_in_path ("softhsm2-util");
  g_autofree char *tokens = NULL, *conf = NULL, *text = NULL, *uri = NULL, *wrong = NULL, *port = NULL;
  g_autofree char *kdh_key = NULL;
  PpTestTermsimServer server = { 0, };
  const char *module = softhsm_module ();

  if (util == NULL || module == NULL)
    {
      g_test_skip ("SoftHSM2 is not installed (libsofthsm2.so or softhsm2-util missing; Debian package softhsm2)");
      return;
    }
  fixture_init_mode (&f, "PP3014", FALSE);
  tokens = g_build_filename (f.base, "tokens", NULL);
  conf = g_build_filename (f.base, "softhsm2.conf", NULL);
  g_assert_cmpint (g_mkdir (tokens, 0700), ==, 0);
  text = g_strdup_printf ("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", tokens);
  g_assert_true (g_file_set_contents (conf, text, -1, NULL));
  g_setenv ("SOFTHSM2_CONF", conf, TRUE);
  kdh_key = g_build_filename (f.base, "kdh.key", NULL);
  {
    const char *init[] = { "--init-token", "--free", "--label", "ca", "--pin", "2468", "--so-pin", "1357", NULL };
    const char *import_ca[] = { "--import", f.ca_key, "--token", "ca", "--label", "ca-krd", "--id", "01",
                                "--pin", "2468", NULL };
    const char *import_kdh[] = { "--import", kdh_key, "--token", "ca", "--label", "kdh", "--id", "02",
                                 "--pin", "2468", NULL };

    softhsm_util (init);
    softhsm_util (import_ca);
    softhsm_util (import_kdh);
  }
  uri = g_strdup_printf ("pkcs11:token=ca;object=ca-krd?module-path=%s", module);
  wrong = g_strdup_printf ("pkcs11:token=ca;object=kdh?module-path=%s", module);
  port = pp_test_termsim_start (&server, f.dir, NULL);
  /* A wrong PIN, then a key in the token that is not CA_KRD's: refused before the terminal is asked. */
  g_setenv ("POSPROV_CA_KEY_SECRET", "0000", TRUE);
  {
    const char *args[] = { "device", "certify", port, "--ca-krd-cert", f.ca, "--ca-krd-key", uri, NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (pp_test_run_tool (args, NULL, &out, &err), ==, 1);
    g_assert_nonnull (strstr (err, "--ca-krd-key"));
  }
  g_setenv ("POSPROV_CA_KEY_SECRET", "2468", TRUE);
  {
    const char *args[] = { "device", "certify", port, "--ca-krd-cert", f.ca, "--ca-krd-key", wrong, NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (pp_test_run_tool (args, NULL, &out, &err), ==, 1);
    g_assert_nonnull (strstr (err, "is not the key of the --ca-krd-cert certificate"));
    g_assert_false (shown_certified (f.dir));
  }
  {
    const char *args[] = { "device", "certify", port, "--ca-krd-cert", f.ca, "--ca-krd-key", uri, NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (pp_test_run_tool (args, NULL, &out, &err), ==, 0);
    g_assert_nonnull (strstr (out, "PP3014 certified"));
  }
  g_unsetenv ("POSPROV_CA_KEY_SECRET");
  /* The token-signed certificate chains to CA_KRD: the station's own CT_KRD check passes. */
  {
    const char *args[] = { "device", "bind", port, "--kdh-cert", f.kdh_cert, "--kdh-crl", f.crl,
                           "--krd-trust", f.krd_trust, NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (pp_test_run_tool (args, NULL, &out, &err), ==, 0);
    g_assert_nonnull (strstr (out, "PP3014 bound to"));
  }
  pp_test_termsim_stop (&server);
  g_unsetenv ("SOFTHSM2_CONF");
}

static void
test_tampered (void)
{
  g_auto(Fixture) f = { 0, };
  g_autoptr(JsonParser) parser = NULL;
  g_autofree char *port = NULL;
  g_autofree char *out = NULL, *err = NULL;
  PpTestTermsimServer server = { 0, };
  JsonObject *shown;

  fixture_init (&f, "PP3003");
  port = pp_test_termsim_start (&server, f.dir, "--tamper");
  {
    const char *args[] = { "device", "inject", port, "--kdh-cert", f.kdh_cert, "--kdh-key", f.kdh_key,
                           "--krd-trust", f.krd_trust, "--key-store", f.store, "--key-type", "aes128", NULL };

    g_assert_cmpint (pp_test_run_tool (args, NULL, &out, &err), ==, 1);
  }
  pp_test_termsim_stop (&server);
  g_assert_nonnull (strstr (err, "security attack: return it for inspection"));
  g_assert_cmpstr (out, ==, "");
  shown = show_json (f.dir, &parser);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (shown, "keys")), ==, 0);
  /* No TMK was made for a terminal that would refuse it. */
  g_assert_cmpuint (store_tmks (f.store, "PP3003"), ==, 0);
}

/* posprov-tool with ARGS... (NULL-terminated) exits @status; returns its
 * stdout, its stderr in @out_err. */
static char *
tool (int          status,
      char       **out_err,
      const char  *first,
      ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autofree char *err = NULL;
  char *out = NULL;
  const char *arg;
  va_list ap;

  va_start (ap, first);
  for (arg = first; arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (args, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  if (pp_test_run_tool ((const char * const *) args->pdata, NULL, &out, &err) != status)
    g_error ("posprov-tool %s: expected exit %d\nstdout: %s\nstderr: %s", first, status, out, err);
  if (out_err != NULL)
    *out_err = g_steal_pointer (&err);
  return out;
}

/* posprov-tool with ARGS... fails: exit 1, nothing on stdout; returns stderr. */
static char *
tool_fails (const char *first,
            ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autofree char *out = NULL;
  char *err = NULL;
  const char *arg;
  va_list ap;

  va_start (ap, first);
  for (arg = first; arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (args, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  if (pp_test_run_tool ((const char * const *) args->pdata, NULL, &out, &err) != 1)
    g_error ("posprov-tool %s: expected exit 1\nstdout: %s\nstderr: %s", first, out, err);
  g_assert_cmpstr (out, ==, "");
  return err;
}

static void
bind_with_tool (const Fixture *f,
                const char    *port)
{
  g_autofree char *out = tool (0, NULL, "device", "bind", port, "--kdh-cert", f->kdh_cert, "--kdh-crl", f->crl,
                               "--krd-trust", f->krd_trust, NULL);

  g_assert_nonnull (strstr (out, "bound to"));
}

/* inject into the key store @store; returns the TMK's label, its KCV in @out_kcv. */
static char *
inject_with_tool (const Fixture  *f,
                  const char     *port,
                  const char     *store,
                  char          **out_kcv)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autofree char *out = tool (0, NULL, "device", "inject", port, "--kdh-cert", f->kdh_cert, "--kdh-key", f->kdh_key,
                               "--krd-trust", f->krd_trust, "--key-store", store, "--key-type", "tdes2",
                               "--json", NULL);
  JsonObject *printed = parse_object (out, &parser);

  if (out_kcv != NULL)
    *out_kcv = g_strdup (json_object_get_string_member (printed, "kcv"));
  return g_strdup (json_object_get_string_member (printed, "tmk_label"));
}

static guint
shown_key_count (const char *dir)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonObject *shown = show_json (dir, &parser);

  return json_array_get_length (json_object_get_array_member (shown, "keys"));
}

/* inject with the TMK generated in a SoftHSM2 token: the KCV printed is
 * the terminal's and the token's, and the token's delivery record says
 * confirmed (before the pkcs11 store kept secret records, inject failed
 * before LOAD_KEY: "The pkcs11 key store cannot keep a TMK delivery record"). */
static void
test_inject_pkcs11 (void)
{
  g_auto(Fixture) f = { 0, };
  g_autofree char *util = g_find_program_in_path ("softhsm2-util");
  g_autofree char *tokens = NULL, *conf = NULL, *text = NULL, *uri = NULL, *port = NULL;
  g_autofree char *label = NULL, *kcv = NULL, *token_kcv = NULL, *saved_secret = NULL;
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(PpKeyStore) store = NULL;
  g_autoptr(GPtrArray) deliveries = NULL;
  g_autoptr(GError) error = NULL;
  PpTestTermsimServer server = { 0, };
  const char *module = softhsm_module ();
  PpTmkDelivery *d;
  JsonArray *keys;
  JsonObject *shown;

  if (util == NULL || module == NULL)
    {
      g_test_skip ("SoftHSM2 is not installed (libsofthsm2.so or softhsm2-util missing; Debian package softhsm2)");
      return;
    }
  fixture_init (&f, "PP3015");
  tokens = g_build_filename (f.base, "tokens", NULL);
  conf = g_build_filename (f.base, "softhsm2.conf", NULL);
  g_assert_cmpint (g_mkdir (tokens, 0700), ==, 0);
  text = g_strdup_printf ("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", tokens);
  g_assert_true (g_file_set_contents (conf, text, -1, NULL));
  g_setenv ("SOFTHSM2_CONF", conf, TRUE);
  {
    const char *init[] = { "--init-token", "--free", "--label", "station", "--pin", "2468", "--so-pin", "1357", NULL };

    softhsm_util (init);
  }
  uri = g_strdup_printf ("pkcs11:token=station?module-path=%s", module);
  saved_secret = g_strdup (g_getenv ("POSPROV_KEY_STORE_SECRET"));
  g_setenv ("POSPROV_KEY_STORE_SECRET", "2468", TRUE);

  port = pp_test_termsim_start (&server, f.dir, NULL);
  bind_with_tool (&f, port);
  label = inject_with_tool (&f, port, uri, &kcv);
  pp_test_termsim_stop (&server);
  if (saved_secret != NULL)
    g_setenv ("POSPROV_KEY_STORE_SECRET", saved_secret, TRUE);
  else
    g_unsetenv ("POSPROV_KEY_STORE_SECRET");

  /* The terminal holds the key whose KCV was printed ... */
  g_assert_true (g_str_has_prefix (label, "tmk-PP3015-"));
  g_assert_cmpuint (strlen (kcv), ==, 6);
  shown = show_json (f.dir, &parser);
  keys = json_object_get_array_member (shown, "keys");
  g_assert_cmpuint (json_array_get_length (keys), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (keys, 0), "kcv"), ==, kcv);

  /* ... the token holds it under the printed label, and its record says confirmed. */
  store = pp_key_store_pkcs11_new (uri, "2468", &error);
  g_assert_no_error (error);
  token_kcv = pp_key_store_get_tmk_kcv (store, label, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (token_kcv, ==, kcv);
  deliveries = pp_key_store_list_tmk_deliveries (store, "PP3015", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (deliveries->len, ==, 1);
  d = g_ptr_array_index (deliveries, 0);
  g_assert_cmpstr (d->label, ==, label);
  g_assert_cmpstr (d->kcv, ==, kcv);
  g_assert_cmpint (d->state, ==, PP_TMK_DELIVERY_CONFIRMED);
  g_clear_object (&store);
  g_unsetenv ("SOFTHSM2_CONF");
}

/* sign-on-test: success, and each refusal in the field's terms. */
static void
test_sign_on_test (void)
{
  g_auto(Fixture) f = { 0, };
  g_auto(Fixture) g = { 0, };
  g_autoptr(JsonParser) parser = NULL;
  g_autofree char *port = NULL, *port2 = NULL, *label = NULL, *label2 = NULL, *kcv = NULL;
  PpTestTermsimServer server = { 0, };
  PpTestTermsimServer server2 = { 0, };
  JsonObject *printed;

  fixture_init (&f, "PP3010");
  fixture_init (&g, "PP3011");
  port = pp_test_termsim_start (&server, f.dir, NULL);
  port2 = pp_test_termsim_start (&server2, g.dir, NULL);
  bind_with_tool (&f, port);
  bind_with_tool (&g, port2);
  label = inject_with_tool (&f, port, f.store, &kcv);

  /* Success: both KCVs confirmed, and the working keys gone afterwards. */
  {
    g_autofree char *out = tool (0, NULL, "device", "sign-on-test", port, "--operator", "1", "--password", "1234",
                                 "--key-store", f.store, "--tmk", label, "--json", NULL);

    printed = parse_object (out, &parser);
    g_assert_cmpstr (json_object_get_string_member (printed, "serial"), ==, "PP3010");
    g_assert_cmpint (json_object_get_int_member (printed, "operator"), ==, 1);
    g_assert_cmpuint (strlen (json_object_get_string_member (printed, "pin_kcv")), ==, 6);
    g_assert_cmpuint (strlen (json_object_get_string_member (printed, "mac_kcv")), ==, 6);
    g_assert_cmpstr (json_object_get_string_member (printed, "pin_kcv"), !=,
                     json_object_get_string_member (printed, "mac_kcv"));
    g_assert_true (json_object_get_boolean_member (printed, "signed_off"));
    g_assert_true (json_object_get_boolean_member (printed, "deletion_checked"));
    g_assert_cmpuint (shown_key_count (f.dir), ==, 1);
  }
  {
    g_autofree char *out = tool (0, NULL, "device", "sign-on-test", port, "--operator", "1", "--password", "1234",
                                 "--key-store", f.store, "--tmk", label, "--expect-serial", "PP3010", NULL);

    g_assert_nonnull (strstr (out, "operator 1 signed on"));
    g_assert_nonnull (strstr (out, "working keys deleted"));
  }
  /* Wrong password, unknown operator. */
  {
    g_autofree char *err = tool_fails ("device", "sign-on-test", port, "--operator", "1", "--password", "4321",
                                 "--key-store", f.store, "--tmk", label, NULL);

    g_assert_nonnull (strstr (err, "wrong operator number or password"));
    g_assert_cmpuint (shown_key_count (f.dir), ==, 1);
  }
  {
    g_autofree char *err = tool_fails ("device", "sign-on-test", port, "--operator", "9", "--password", "1234",
                                 "--key-store", f.store, "--tmk", label, NULL);

    g_assert_nonnull (strstr (err, "wrong operator number or password"));
    g_assert_cmpuint (shown_key_count (f.dir), ==, 1);
  }
  /* A label the key store does not hold. */
  {
    g_autofree char *err = tool_fails ("device", "sign-on-test", port, "--operator", "1", "--password", "1234",
                                 "--key-store", f.store, "--tmk", "tmk-nothing", NULL);

    g_assert_nonnull (strstr (err, "holds no TMK labelled “tmk-nothing”"));
  }
  /* A bound terminal without a master key: inject first. */
  {
    g_autofree char *err = tool_fails ("device", "sign-on-test", port2, "--operator", "1", "--password", "1234",
                                 "--key-store", f.store, "--tmk", label, NULL);

    g_assert_nonnull (strstr (err, "PP3011 holds no master key: inject one first"));
    g_assert_cmpuint (shown_key_count (g.dir), ==, 0);
  }
  /* The TMK of another terminal: KCV mismatch, nothing sent. */
  label2 = inject_with_tool (&g, port2, f.store, NULL);
  g_assert_cmpstr (label2, !=, label);
  {
    g_autofree char *err = tool_fails ("device", "sign-on-test", port, "--operator", "1", "--password", "1234",
                                 "--key-store", f.store, "--tmk", label2, NULL);

    g_assert_nonnull (strstr (err, "KCV mismatch"));
    g_assert_nonnull (strstr (err, kcv));
    g_assert_nonnull (strstr (err, label2));
    g_assert_cmpuint (shown_key_count (f.dir), ==, 1);
  }
  pp_test_termsim_stop (&server2);

  /* Tampered: refused before a working key exists. */
  pp_test_termsim_stop (&server);
  port = (g_free (port), pp_test_termsim_start (&server, f.dir, "--tamper"));
  {
    g_autofree char *err = tool_fails ("device", "sign-on-test", port, "--operator", "1", "--password", "1234",
                                 "--key-store", f.store, "--tmk", label, NULL);

    g_assert_nonnull (strstr (err, "security attack: return it for inspection"));
    g_assert_cmpuint (shown_key_count (f.dir), ==, 0);
  }
  pp_test_termsim_stop (&server);
}

/* rebind: KDH 1 -> KDH 3, and the refusals. */
static void
test_rebind (void)
{
  g_auto(Fixture) f = { 0, };
  g_autoptr(JsonParser) p1 = NULL, p2 = NULL, p3 = NULL;
  g_autofree char *port = NULL, *other = NULL;
  PpTestTermsimServer server = { 0, };
  JsonObject *printed, *shown;

  fixture_init (&f, "PP3012");
  other = g_build_filename (f.base, "kdh-other.pem", NULL);
  port = pp_test_termsim_start (&server, f.dir, NULL);
  /* Not bound: nothing to rebind. */
  {
    g_autofree char *err = tool_fails ("device", "rebind", port, "--kdh-cert", f.kdh_cert, "--kdh-key", f.kdh_key,
                                 "--new-kdh-cert", other, "--krd-trust", f.krd_trust, NULL);

    g_assert_nonnull (strstr (err, "PP3012 is not bound"));
    g_assert_nonnull (strstr (err, "nothing was sent"));
    g_assert_true (shown_unbound (f.dir));
  }
  bind_with_tool (&f, port);
  {
    g_autofree char *out = tool (0, NULL, "device", "rebind", port, "--kdh-cert", f.kdh_cert, "--kdh-key", f.kdh_key,
                                 "--new-kdh-cert", other, "--krd-trust", f.krd_trust, "--expect-serial", "PP3012",
                                 "--json", NULL);

    printed = parse_object (out, &p1);
    g_assert_cmpstr (json_object_get_string_member (printed, "serial"), ==, "PP3012");
    g_assert_nonnull (strstr (json_object_get_string_member (printed, "bound_kdh"), "Test KDH 3"));
    shown = show_json (f.dir, &p2);
    g_assert_nonnull (strstr (json_object_get_string_member (shown, "bound_kdh"), "Test KDH 3"));
  }
  /* KDH 1 is no longer the bound one: refused, the binding stays. */
  {
    g_autofree char *err = tool_fails ("device", "rebind", port, "--kdh-cert", f.kdh_cert, "--kdh-key", f.kdh_key,
                                 "--new-kdh-cert", other, "--krd-trust", f.krd_trust, NULL);

    g_assert_nonnull (strstr (err, "already bound to"));
  }
  {
    g_autofree char *err = tool_fails ("device", "rebind", port, "--kdh-cert", f.kdh_cert, "--kdh-key", f.kdh_key,
                                 "--new-kdh-cert", f.kdh_cert, "--krd-trust", f.krd_trust, NULL);

    g_assert_nonnull (strstr (err, "not to the KDH of --kdh-cert"));
    g_assert_nonnull (strstr (err, "only the bound KDH can rebind it"));
    shown = show_json (f.dir, &p3);
    g_assert_nonnull (strstr (json_object_get_string_member (shown, "bound_kdh"), "Test KDH 3"));
  }
  pp_test_termsim_stop (&server);
}

/* A peer that answers with noise, as a terminal at the wrong baud rate does. */
typedef struct {
  GSocketListener *listener;
  GCancellable    *stop;
} Noise;

static gpointer
noise_thread (gpointer data)
{
  Noise *noise = data;
  g_autoptr(GSocketConnection) conn = g_socket_listener_accept (noise->listener, NULL, noise->stop, NULL);
  guint8 junk[64];

  if (conn == NULL)
    return NULL;
  for (guint i = 0; i < sizeof junk; i++)
    junk[i] = (guint8) (0x41 + i % 26);
  /* Until the station hangs up (or 20 s). */
  for (int i = 0; i < 400; i++)
    {
      if (g_output_stream_write (g_io_stream_get_output_stream (G_IO_STREAM (conn)), junk, sizeof junk,
                                 noise->stop, NULL) < 0)
        break;
      g_usleep (50 * 1000);
    }
  return NULL;
}

static void
test_errors (void)
{
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *port = NULL;
  Noise noise = { g_socket_listener_new (), g_cancellable_new () };
  GThread *thread;

  /* Nothing listens. */
  {
    const char *args[] = { "device", "identify", "tcp:127.0.0.1:1", NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (pp_test_run_tool (args, NULL, &out, &err), ==, 1);
    g_assert_nonnull (strstr (err, "tcp:127.0.0.1:1"));
    g_assert_nonnull (strstr (err, "check that the terminal is on"));
  }
  /* Bad serial settings are refused before a port is opened. */
  {
    const char *args[] = { "device", "identify", "tcp:127.0.0.1:1", "--parity", "maybe", NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (pp_test_run_tool (args, NULL, &out, &err), ==, 1);
    g_assert_nonnull (strstr (err, "--parity"));
  }
  /* Something that is no posprov terminal. */
  g_assert_true (g_socket_listener_add_address (noise.listener, any, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                                NULL, &bound, &error));
  g_assert_no_error (error);
  port = g_strdup_printf ("tcp:127.0.0.1:%u", g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  thread = g_thread_new ("noise", noise_thread, &noise);
  {
    const char *args[] = { "device", "identify", port, NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (pp_test_run_tool (args, NULL, &out, &err), ==, 1);
    g_assert_nonnull (strstr (err, "not a posprov-protocol terminal"));
  }
  g_cancellable_cancel (noise.stop);
  g_thread_join (thread);
  g_object_unref (noise.listener);
  g_object_unref (noise.stop);
}

/* ---- the seam in-process --------------------------------------------------- */

typedef struct {
  GMainLoop    *loop;
  GAsyncResult *result;
} Wait;

static void
on_done (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Wait *w = user_data;

  w->result = g_object_ref (result);
  g_main_loop_quit (w->loop);
}

static GAsyncResult *
wait_run (Wait *w)
{
  g_clear_object (&w->result);
  g_main_loop_run (w->loop);
  return w->result;
}

static void
test_seam (void)
{
  g_auto(Fixture) f = { 0, };
  g_autofree char *port = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  Wait w = { loop, NULL };
  PpTestTermsimServer server = { 0, };

  fixture_init (&f, "PP3004");
  port = pp_test_termsim_start (&server, f.dir, NULL);
  {
    g_autoptr(PpTerminalDevice) device = NULL;
    g_autoptr(PpTerminalInfo) info = NULL;
    g_autoptr(PpTerminalInfo) copy = NULL;
    g_autoptr(GBytes) ct_krd = NULL;
    g_autoptr(GBytes) junk = g_bytes_new_static ("\x30\x03\x02\x01\x00", 5);
    g_autoptr(X509) krd = NULL;
    STACK_OF(X509) *trust = sk_X509_new_null ();
    char *bound;

    pp_link_device_open_async (port, NULL, NULL, on_done, &w);
    device = PP_TERMINAL_DEVICE (pp_link_device_open_finish (wait_run (&w), &error));
    g_assert_no_error (error);

    pp_terminal_device_identify_async (device, NULL, on_done, &w);
    info = pp_terminal_device_identify_finish (device, wait_run (&w), &error);
    g_assert_no_error (error);
    g_assert_cmpstr (info->serial, ==, "PP3004");
    g_assert_true (info->has_cert);
    g_assert_false (info->tampered);
    g_assert_true (info->capabilities & PP_TERMINAL_CAP_TR34_2PASS);
    copy = g_boxed_copy (PP_TYPE_TERMINAL_INFO, info);
    g_assert_cmpstr (copy->model, ==, "X1");

    /* CT_KRD crosses the seam as the terminal's DER, checkable by core/tr34. */
    pp_terminal_device_get_ct_krd_async (device, NULL, on_done, &w);
    ct_krd = pp_terminal_device_get_ct_krd_finish (device, wait_run (&w), &error);
    g_assert_no_error (error);
    sk_X509_push (trust, X509_dup (pp_test_pki_get ()->ca_krd));
    krd = pp_tr34_kdh_receive_krd_credential (g_bytes_get_data (ct_krd, NULL), g_bytes_get_size (ct_krd),
                                              trust, info->serial, NULL, &error);
    sk_X509_pop_free (trust, X509_free);
    g_assert_no_error (error);

    /* Unbound: LOAD_KEY is NOT_BOUND. */
    pp_terminal_device_load_key_async (device, junk, -1, NULL, on_done, &w);
    g_assert_false (pp_terminal_device_load_key_finish (device, wait_run (&w), NULL, NULL, &error));
    g_assert_error (error, PP_TERMINAL_DEVICE_ERROR, PP_TERMINAL_DEVICE_ERROR_NOT_BOUND);
    g_assert_nonnull (strstr (error->message, "bind it first"));
    g_clear_error (&error);

    /* A bind the terminal's TR-34 refuses: REFUSED with its reason. */
    pp_terminal_device_bind_async (device, junk, NULL, on_done, &w);
    bound = pp_terminal_device_bind_finish (device, wait_run (&w), &error);
    g_assert_null (bound);
    g_assert_error (error, PP_TERMINAL_DEVICE_ERROR, PP_TERMINAL_DEVICE_ERROR_REFUSED);
    g_assert_cmpuint (pp_terminal_device_error_get_reason (error), >=, PP_TERMSIM_REASON_TR34);
    g_clear_error (&error);

    pp_terminal_device_zeroize_async (device, NULL, on_done, &w);
    g_assert_true (pp_terminal_device_zeroize_finish (device, wait_run (&w), &error));
    g_assert_no_error (error);
  }
  while (g_main_context_iteration (NULL, FALSE))
    ;
  pp_test_termsim_stop (&server);

  /* Tampered: LOAD_KEY is TAMPERED, in the field's words. */
  port = (g_free (port), pp_test_termsim_start (&server, f.dir, "--tamper"));
  {
    g_autoptr(PpTerminalDevice) device = NULL;
    g_autoptr(GBytes) junk = g_bytes_new_static ("\x30\x03\x02\x01\x00", 5);

    pp_link_device_open_async (port, NULL, NULL, on_done, &w);
    device = PP_TERMINAL_DEVICE (pp_link_device_open_finish (wait_run (&w), &error));
    g_assert_no_error (error);
    pp_terminal_device_load_key_async (device, junk, 0, NULL, on_done, &w);
    g_assert_false (pp_terminal_device_load_key_finish (device, wait_run (&w), NULL, NULL, &error));
    g_assert_error (error, PP_TERMINAL_DEVICE_ERROR, PP_TERMINAL_DEVICE_ERROR_TAMPERED);
    g_assert_nonnull (strstr (error->message, "security attack: return it for inspection"));
    g_assert_cmpuint (pp_terminal_device_error_get_reason (error), ==, 0);
    g_clear_error (&error);
  }
  while (g_main_context_iteration (NULL, FALSE))
    ;
  pp_test_termsim_stop (&server);

  /* Nothing listens at the address: the transport's "no such port". */
  {
    g_autoptr(PpLinkDevice) none = NULL;

    pp_link_device_open_async ("tcp:127.0.0.1:1", NULL, NULL, on_done, &w);
    none = pp_link_device_open_finish (wait_run (&w), &error);
    g_assert_null (none);
    g_assert_error (error, PP_TERMINAL_DEVICE_ERROR, PP_TERMINAL_DEVICE_ERROR_NO_PORT);
    g_assert_nonnull (strstr (error->message, "tcp:127.0.0.1:1"));
  }
  g_clear_object (&w.result);
}

/* The JSON key of slot @slot in `show`, or NULL. */
static JsonObject *
shown_slot (JsonObject *shown,
            guint       slot)
{
  JsonArray *keys = json_object_get_array_member (shown, "keys");

  for (guint i = 0; i < json_array_get_length (keys); i++)
    if ((guint) json_object_get_int_member (json_array_get_object_element (keys, i), "slot") == slot)
      return json_array_get_object_element (keys, i);
  return NULL;
}

/* SIGN_ON, STATUS, SIGN_OFF and REBIND through the seam against the real
 * binary: `show` while signed on, and the terminal's own refusals. */
static void
test_seam_sign_on (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_auto(Fixture) f = { 0, };
  g_autofree char *port = NULL, *label = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  Wait w = { loop, NULL };
  PpTestTermsimServer server = { 0, };

  fixture_init (&f, "PP3013");
  port = pp_test_termsim_start (&server, f.dir, NULL);
  bind_with_tool (&f, port);
  label = inject_with_tool (&f, port, f.store, NULL);
  {
    g_autoptr(PpKeyStore) store = pp_key_store_soft_new (f.store, KEY_STORE_SECRET, &error);
    g_autoptr(PpSecureBuffer) tmk = NULL;
    g_autoptr(PpSecureBuffer) other_tmk = pp_secure_buffer_new_from ((const guint8 *) "0123456789abcdef", 16);
    g_autoptr(PpSecureBuffer) pin = pp_secure_buffer_new_from ((const guint8 *) "PIN-key-16-bytes", 16);
    g_autoptr(PpSecureBuffer) mac = pp_secure_buffer_new_from ((const guint8 *) "MAC-key-16-bytes", 16);
    g_autofree char *pin_block = NULL, *mac_block = NULL, *foreign_block = NULL;
    g_autofree char *pin_kcv = NULL, *mac_kcv = NULL, *got_pin = NULL, *got_mac = NULL;
    g_autoptr(PpTerminalDevice) device = NULL;
    g_autoptr(PpTerminalStatus) on = NULL;
    g_autoptr(PpTerminalStatus) off = NULL;
    g_autoptr(PpTerminalStatus) copy = NULL;
    g_autoptr(JsonParser) p1 = NULL, p2 = NULL, p3 = NULL;
    JsonObject *shown, *key;
    const PpTerminalKey *master;
    guint working = 0;

    g_assert_no_error (error);
    tmk = pp_key_store_export_tmk (store, label, NULL, &error);
    g_assert_no_error (error);
    pin_block = pp_tr31_wrap (tmk, "B0000P0TE00N0000", pin, &error);
    mac_block = pp_tr31_wrap (tmk, "B0000M3TC00N0000", mac, &error);
    foreign_block = pp_tr31_wrap (other_tmk, "B0000P0TE00N0000", pin, &error);
    g_assert_no_error (error);
    pin_kcv = pp_kcv_compute (PP_KEY_ALGORITHM_TDES, pin, 3, &error);
    mac_kcv = pp_kcv_compute (PP_KEY_ALGORITHM_TDES, mac, 3, &error);
    g_assert_no_error (error);

    pp_link_device_open_async (port, NULL, NULL, on_done, &w);
    device = PP_TERMINAL_DEVICE (pp_link_device_open_finish (wait_run (&w), &error));
    g_assert_no_error (error);

    /* The terminal checks the block's MAC under its master key. */
    pp_terminal_device_sign_on_async (device, 1, "1234", foreign_block, mac_block, NULL, on_done, &w);
    g_assert_false (pp_terminal_device_sign_on_finish (device, wait_run (&w), NULL, NULL, &error));
    g_assert_error (error, PP_TERMINAL_DEVICE_ERROR, PP_TERMINAL_DEVICE_ERROR_REFUSED);
    g_assert_cmpuint (pp_terminal_device_error_get_reason (error), ==, PP_REASON_KEY_BLOCK);
    g_assert_nonnull (strstr (error->message, "did not accept the working keys"));
    g_clear_error (&error);

    pp_terminal_device_sign_on_async (device, 1, "1234", pin_block, mac_block, NULL, on_done, &w);
    g_assert_true (pp_terminal_device_sign_on_finish (device, wait_run (&w), &got_pin, &got_mac, &error));
    g_assert_no_error (error);
    g_assert_cmpstr (got_pin, ==, pin_kcv);
    g_assert_cmpstr (got_mac, ==, mac_kcv);

    /* Signed on: show lists both working keys with their slots, usages, KCVs. */
    shown = show_json (f.dir, &p1);
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (shown, "keys")), ==, 3);
    key = shown_slot (shown, 0x80);
    g_assert_nonnull (key);
    g_assert_cmpstr (json_object_get_string_member (key, "usage"), ==, "P0");
    g_assert_cmpstr (json_object_get_string_member (key, "kcv"), ==, pin_kcv);
    g_assert_true (json_object_get_boolean_member (key, "working"));
    key = shown_slot (shown, 0x81);
    g_assert_nonnull (key);
    g_assert_cmpstr (json_object_get_string_member (key, "usage"), ==, "M3");
    g_assert_cmpstr (json_object_get_string_member (key, "kcv"), ==, mac_kcv);

    /* STATUS says the same over the link. */
    pp_terminal_device_status_async (device, NULL, on_done, &w);
    on = pp_terminal_device_status_finish (device, wait_run (&w), &error);
    g_assert_no_error (error);
    g_assert_false (on->tampered);
    g_assert_true (on->has_cert);
    g_assert_nonnull (strstr (on->bound_kdh, "Test KDH 1"));
    g_assert_nonnull (on->keys);
    g_assert_cmpuint (on->keys->len, ==, 3);
    for (guint i = 0; i < on->keys->len; i++)
      {
        const PpTerminalKey *k = g_ptr_array_index (on->keys, i);

        if (k->working)
          {
            working++;
            g_assert_cmpstr (k->kcv, ==, k->slot == 0x80 ? pin_kcv : mac_kcv);
            g_assert_cmpstr (k->usage, ==, k->slot == 0x80 ? "P0" : "M3");
          }
      }
    g_assert_cmpuint (working, ==, 2);
    master = pp_terminal_status_get_master_key (on);
    g_assert_nonnull (master);
    g_assert_cmpuint (master->slot, ==, 0);
    g_assert_cmpstr (master->usage, ==, "K0");
    copy = g_boxed_copy (PP_TYPE_TERMINAL_STATUS, on);
    g_assert_cmpuint (copy->keys->len, ==, 3);

    pp_terminal_device_sign_off_async (device, NULL, on_done, &w);
    g_assert_true (pp_terminal_device_sign_off_finish (device, wait_run (&w), &error));
    g_assert_no_error (error);
    shown = show_json (f.dir, &p2);
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (shown, "keys")), ==, 1);
    g_assert_null (shown_slot (shown, 0x80));
    g_assert_null (shown_slot (shown, 0x81));
    pp_terminal_device_status_async (device, NULL, on_done, &w);
    off = pp_terminal_device_status_finish (device, wait_run (&w), &error);
    g_assert_no_error (error);
    g_assert_cmpuint (off->keys->len, ==, 1);

    /* Wrong password: REFUSED with the sign-on reason, in the field's terms. */
    pp_terminal_device_sign_on_async (device, 1, "0000", pin_block, mac_block, NULL, on_done, &w);
    g_assert_false (pp_terminal_device_sign_on_finish (device, wait_run (&w), NULL, NULL, &error));
    g_assert_cmpuint (pp_terminal_device_error_get_reason (error), ==, PP_REASON_SIGN_ON);
    g_assert_nonnull (strstr (error->message, "wrong operator number or password"));
    g_clear_error (&error);

    /* REBIND signed by a KDH that is not the bound one: the terminal refuses it. */
    {
      g_autoptr(GBytes) ct_krd = NULL, rt_krd = NULL, rbt = NULL;
      g_autoptr(PpTr34Token) token = NULL;
      g_autoptr(X509) krd = NULL;
      g_autoptr(PpTr34Kdh) stranger = pp_tr34_kdh_new (pki->kdh_other, pp_tr34_sign_with_pkey, pki->kdh_key, NULL);
      STACK_OF(X509) *trust = sk_X509_new_null ();
      char *bound;

      pp_tr34_kdh_set_crl (stranger, pki->crl);
      pp_terminal_device_get_ct_krd_async (device, NULL, on_done, &w);
      ct_krd = pp_terminal_device_get_ct_krd_finish (device, wait_run (&w), &error);
      g_assert_no_error (error);
      sk_X509_push (trust, X509_dup (pki->ca_krd));
      krd = pp_tr34_kdh_receive_krd_credential (g_bytes_get_data (ct_krd, NULL), g_bytes_get_size (ct_krd),
                                                trust, "PP3013", NULL, &error);
      sk_X509_pop_free (trust, X509_free);
      g_assert_no_error (error);
      pp_terminal_device_get_nonce_async (device, NULL, on_done, &w);
      rt_krd = pp_terminal_device_get_nonce_finish (device, wait_run (&w), &error);
      g_assert_no_error (error);
      token = pp_tr34_token_parse (g_bytes_get_data (rt_krd, NULL), g_bytes_get_size (rt_krd), &error);
      g_assert_no_error (error);
      rbt = pp_tr34_kdh_build_rebind_token (stranger, krd, pki->kdh_other, pp_tr34_token_get_nonce (token), &error);
      g_assert_no_error (error);
      pp_terminal_device_rebind_async (device, rbt, NULL, on_done, &w);
      bound = pp_terminal_device_rebind_finish (device, wait_run (&w), &error);
      g_assert_null (bound);
      g_assert_error (error, PP_TERMINAL_DEVICE_ERROR, PP_TERMINAL_DEVICE_ERROR_REFUSED);
      g_assert_cmpuint (pp_terminal_device_error_get_reason (error), ==, PP_REASON_TR34 + PP_TR34_ERROR_KDH_MISMATCH);
      g_clear_error (&error);
      shown = show_json (f.dir, &p3);
      g_assert_nonnull (strstr (json_object_get_string_member (shown, "bound_kdh"), "Test KDH 1"));
    }
  }
  while (g_main_context_iteration (NULL, FALSE))
    ;
  pp_test_termsim_stop (&server);
  g_clear_object (&w.result);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_setenv ("POSPROV_KEY_STORE_SECRET", KEY_STORE_SECRET, TRUE);
  g_unsetenv ("POSPROV_KDH_KEY_SECRET");
  g_test_add_func ("/device/tool/identify", test_identify);
  g_test_add_func ("/device/tool/bind-inject-zeroize", test_bind_inject_zeroize);
  g_test_add_func ("/device/tool/certify", test_certify);
  g_test_add_func ("/device/tool/certify-register", test_certify_register);
  g_test_add_func ("/device/tool/certify-csr-mismatch", test_certify_csr_mismatch);
  g_test_add_func ("/device/tool/certify-pkcs11", test_certify_pkcs11);
  g_test_add_func ("/device/tool/inject-pkcs11", test_inject_pkcs11);
  g_test_add_func ("/device/tool/tampered", test_tampered);
  g_test_add_func ("/device/tool/errors", test_errors);
  g_test_add_func ("/device/tool/sign-on-test", test_sign_on_test);
  g_test_add_func ("/device/tool/rebind", test_rebind);
  g_test_add_func ("/device/seam/sign-on", test_seam_sign_on);
  g_test_add_func ("/device/seam", test_seam);
  return g_test_run ();
}
