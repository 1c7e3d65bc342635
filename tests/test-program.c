/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-program.c: program packages end to end: the real posprov-tool
 * program pack/verify (checked against the openssl command line) and each
 * refusal, then device push-program to the real posprov-termsim over TCP:
 * installs, refusals by the terminal (tampered, wrong model, wrong order)
 * and a push cut off by a disconnect that resumes.
 */
#include "config.h"

#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "pp-link-device.h"
#include "pp-openssl-types.h"
#include "pp-transport.h"
#include "pp-program-package.h"
#include "pp-termsim-server.h"
#include "pp-test-util.h"

/* The link's defaults (pp-link.h): a block carries MAX_PAYLOAD - 14 bytes. */
#define BLOCK  (16384 - 14)
#define WINDOW 8

typedef struct {
  char *base;
  char *key, *cert;            /* the program-signing key and its certificate */
  char *other_key, *other;     /* a signer nobody trusts */
  char *expired;               /* the signing key's certificate, expired yesterday */
  char *app, *params;          /* two program files */
} Fixture;

static void
write_key (const char *path,
           EVP_PKEY   *key)
{
  g_autoptr(BIO) bio = BIO_new_file (path, "w");

  g_assert_cmpint (PEM_write_bio_PrivateKey (bio, key, NULL, NULL, 0, NULL, NULL), ==, 1);
}

/* A self-signed code-signing certificate valid from @from_days to @to_days. */
static void
write_cert (const char *path,
            EVP_PKEY   *key,
            const char *cn,
            long        from_days,
            long        to_days)
{
  g_autoptr(X509) cert = X509_new ();
  g_autoptr(BIO) bio = BIO_new_file (path, "w");
  X509_NAME *name = X509_get_subject_name (cert);
  X509V3_CTX ctx;
  X509_EXTENSION *ext;

  X509_set_version (cert, 2);
  ASN1_INTEGER_set (X509_get_serialNumber (cert), 7);
  X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_ASC, (const guint8 *) cn, -1, -1, 0);
  X509_set_issuer_name (cert, name);
  X509_gmtime_adj (X509_getm_notBefore (cert), from_days * 86400);
  X509_gmtime_adj (X509_getm_notAfter (cert), to_days * 86400);
  X509_set_pubkey (cert, key);
  X509V3_set_ctx (&ctx, cert, cert, NULL, NULL, 0);
  ext = X509V3_EXT_conf_nid (NULL, &ctx, NID_key_usage, "critical,digitalSignature");
  X509_add_ext (cert, ext, -1);
  X509_EXTENSION_free (ext);
  ext = X509V3_EXT_conf_nid (NULL, &ctx, NID_ext_key_usage, "codeSigning");
  X509_add_ext (cert, ext, -1);
  X509_EXTENSION_free (ext);
  g_assert_cmpint (X509_sign (cert, key, EVP_sha256 ()), >, 0);
  g_assert_cmpint (PEM_write_bio_X509 (bio, cert), ==, 1);
}

static void
write_random (const char *path,
              gsize       len)
{
  g_autofree guint8 *data = g_malloc (len);

  for (gsize i = 0; i < len; i++)
    data[i] = (guint8) g_test_rand_int_range (0, 256);
  g_assert_true (g_file_set_contents (path, (const char *) data, (gssize) len, NULL));
}

static void
fixture_init (Fixture *f)
{
  g_autoptr(EVP_PKEY) key = EVP_RSA_gen (2048);
  g_autoptr(EVP_PKEY) other = EVP_RSA_gen (2048);

  f->base = pp_test_make_tmpdir ();
  f->key = g_build_filename (f->base, "sign.key", NULL);
  f->cert = g_build_filename (f->base, "sign.pem", NULL);
  f->other_key = g_build_filename (f->base, "other.key", NULL);
  f->other = g_build_filename (f->base, "other.pem", NULL);
  f->expired = g_build_filename (f->base, "expired.pem", NULL);
  f->app = g_build_filename (f->base, "app.bin", NULL);
  f->params = g_build_filename (f->base, "params.txt", NULL);
  write_key (f->key, key);
  write_cert (f->cert, key, "Program Signer", -1, 365);
  write_key (f->other_key, other);
  write_cert (f->other, other, "Someone Else", -1, 365);
  write_cert (f->expired, key, "Program Signer", -30, -1);
  write_random (f->app, 300000);
  g_assert_true (g_file_set_contents (f->params, "merchant=1\n", -1, NULL));
}

static void
fixture_clear (Fixture *f)
{
  g_free (f->base);
  g_free (f->key);
  g_free (f->cert);
  g_free (f->other_key);
  g_free (f->other);
  g_free (f->expired);
  g_free (f->app);
  g_free (f->params);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Fixture, fixture_clear)

/* posprov-tool program pack; returns the package path. */
static char *
pack (Fixture    *f,
      const char *name,
      const char *kind,
      const char *models,
      const char *cert,
      int         expect_status,
      char      **out_stderr)
{
  g_autofree char *pkg_name = g_strdup_printf ("%s-%s-%s.pkg", name, kind, models);
  char *pkg = g_build_filename (f->base, pkg_name, NULL);
  const char *argv[] = { "program", "pack", "--name", name, "--version", "1.0", "--kind", kind,
                         "--models", models, "--signing-key", f->key, "--signing-cert", cert,
                         "-o", pkg, f->app, f->params, NULL };
  g_autofree char *out = NULL, *err = NULL;

  g_assert_cmpint (pp_test_run_tool (argv, NULL, &out, &err), ==, expect_status);
  if (out_stderr != NULL)
    *out_stderr = g_steal_pointer (&err);
  return pkg;
}

static int
verify (const char  *pkg,
        const char  *trust,
        char       **out_stdout,
        char       **out_stderr)
{
  const char *argv[] = { "program", "verify", pkg, "--trust", trust, "--json", NULL };

  return pp_test_run_tool (argv, NULL, out_stdout, out_stderr);
}

static GBytes *
read_bytes (const char *path)
{
  char *data = NULL;
  gsize len = 0;

  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  return g_bytes_new_take (data, len);
}

static guint32
be32 (const guint8 *p)
{
  return (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | p[3];
}

static void
test_pack_verify (void)
{
  g_auto(Fixture) f = { 0, };
  g_autofree char *pkg = NULL, *out = NULL, *err = NULL;
  g_autofree char *app_sum = NULL, *manifest_path = NULL, *sig_path = NULL, *pub_path = NULL;
  g_autofree char *openssl = g_find_program_in_path ("openssl");
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GBytes) bytes = NULL, app = NULL;
  g_autoptr(GDir) dir = NULL;
  JsonObject *o, *file;
  const guint8 *p;
  guint32 mlen, slen;
  const char *name;
  guint n = 0;

  fixture_init (&f);
  pkg = pack (&f, "pay", "payment-app", "X1,X2", f.cert, 0, NULL);
  g_assert_cmpint (verify (pkg, f.cert, &out, &err), ==, 0);
  g_assert_true (json_parser_load_from_data (parser, out, -1, NULL));
  o = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (o, "name"), ==, "pay");
  g_assert_cmpstr (json_object_get_string_member (o, "version"), ==, "1.0");
  g_assert_cmpstr (json_object_get_string_member (o, "kind"), ==, "payment-app");
  g_assert_cmpstr (json_array_get_string_element (json_object_get_array_member (o, "models"), 1), ==, "X2");
  g_assert_cmpint (json_object_get_int_member (o, "size"), ==, 300000 + 11);
  file = json_array_get_object_element (json_object_get_array_member (o, "files"), 0);
  app = read_bytes (f.app);
  app_sum = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, app);
  g_assert_cmpstr (json_object_get_string_member (file, "name"), ==, "app.bin");
  g_assert_cmpstr (json_object_get_string_member (file, "sha256"), ==, app_sum);
  g_assert_cmpstr (json_object_get_string_member (o, "signer"), ==, "CN=Program Signer");

  /* Nothing but the package in the folder: no temporary file left. */
  dir = g_dir_open (f.base, 0, NULL);
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, "pay-"))
      n++;
  g_assert_cmpuint (n, ==, 1);

  /* OpenSSL agrees: the signature is PKCS#1 v1.5 / SHA-256 over exactly
   * the manifest bytes (docs/program-package.md). */
  g_assert_nonnull (openssl);
  bytes = read_bytes (pkg);
  p = g_bytes_get_data (bytes, NULL);
  g_assert_cmpmem (p, 8, "PPPROG1\n", 8);
  mlen = be32 (p + 8);
  slen = be32 (p + 12 + mlen);
  manifest_path = g_build_filename (f.base, "manifest.json", NULL);
  sig_path = g_build_filename (f.base, "manifest.sig", NULL);
  pub_path = g_build_filename (f.base, "sign.pub", NULL);
  g_assert_true (g_file_set_contents (manifest_path, (const char *) p + 12, mlen, NULL));
  g_assert_true (g_file_set_contents (sig_path, (const char *) p + 16 + mlen, slen, NULL));
  {
    const char *x509[] = { openssl, "x509", "-in", f.cert, "-pubkey", "-noout", "-out", pub_path, NULL };
    const char *dgst[] = { openssl, "dgst", "-sha256", "-verify", pub_path, "-signature", sig_path, manifest_path, NULL };
    g_autofree char *dout = NULL;
    int status = 0;

    g_assert_true (g_spawn_sync (NULL, (char **) x509, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                                 NULL, NULL, &status, NULL));
    g_assert_true (g_spawn_check_wait_status (status, NULL));
    g_assert_true (g_spawn_sync (NULL, (char **) dgst, NULL, 0, NULL, NULL, &dout, NULL, &status, NULL));
    g_assert_true (g_spawn_check_wait_status (status, NULL));
    g_assert_nonnull (strstr (dout, "Verified OK"));
  }
}

/* @pkg's bytes with @edit applied, written next to it; returns the path. */
static char *
edited (const char *pkg,
        const char *suffix,
        GBytes     *bytes)
{
  char *path = g_strconcat (pkg, suffix, NULL);

  g_assert_true (g_file_set_contents (path, g_bytes_get_data (bytes, NULL), (gssize) g_bytes_get_size (bytes), NULL));
  return path;
}

static void
assert_verify_fails (const char *pkg,
                     const char *trust,
                     const char *needle)
{
  g_autofree char *out = NULL, *err = NULL;

  g_assert_cmpint (verify (pkg, trust, &out, &err), ==, 1);
  g_assert_cmpstr (out, ==, "");
  if (strstr (err, needle) == NULL)
    g_error ("expected “%s” in: %s", needle, err);
}

/* A package with @manifest (unsigned bytes: the parse refuses before the
 * signature is looked at) and the payload of @good. */
static char *
with_manifest (const char *good,
               const char *manifest)
{
  g_autoptr(GBytes) bytes = read_bytes (good);
  const guint8 *p = g_bytes_get_data (bytes, NULL);
  guint32 mlen = be32 (p + 8);
  GByteArray *b = g_byte_array_new ();
  guint32 n = (guint32) strlen (manifest);
  guint8 be[4] = { n >> 24, n >> 16, n >> 8, n };
  g_autoptr(GBytes) out = NULL;

  g_byte_array_append (b, p, 8);
  g_byte_array_append (b, be, 4);
  g_byte_array_append (b, (const guint8 *) manifest, n);
  g_byte_array_append (b, p + 12 + mlen, g_bytes_get_size (bytes) - 12 - mlen);
  out = g_byte_array_free_to_bytes (b);
  return edited (good, ".manifest", out);
}

static void
test_verify_errors (void)
{
  g_auto(Fixture) f = { 0, };
  g_autofree char *pkg = NULL, *expired = NULL, *err = NULL;
  g_autoptr(GBytes) bytes = NULL;
  const guint8 *p;
  gsize len;
  guint32 mlen;

  fixture_init (&f);
  pkg = pack (&f, "pay", "payment-app", "X1", f.cert, 0, NULL);
  bytes = read_bytes (pkg);
  p = g_bytes_get_data (bytes, &len);
  mlen = be32 (p + 8);

  /* Truncated: inside the payload, inside the manifest, inside the header. */
  {
    g_autoptr(GBytes) cut = g_bytes_new_from_bytes (bytes, 0, len - 1000);
    g_autoptr(GBytes) cut2 = g_bytes_new_from_bytes (bytes, 0, 40);
    g_autoptr(GBytes) cut3 = g_bytes_new_from_bytes (bytes, 0, 5);
    g_autofree char *a = edited (pkg, ".cut", cut);
    g_autofree char *b = edited (pkg, ".cut2", cut2);
    g_autofree char *c = edited (pkg, ".cut3", cut3);

    assert_verify_fails (a, f.cert, "cut off");
    assert_verify_fails (b, f.cert, "cut off inside its manifest");
    assert_verify_fails (c, f.cert, "cut off after 5 bytes");
  }
  /* Oversize: a manifest length over the bound; stray bytes after the files. */
  {
    GByteArray *b = g_byte_array_new ();
    g_autoptr(GBytes) big = NULL, trailing = NULL;
    g_autofree char *a = NULL, *t = NULL;
    static const guint8 huge[4] = { 0x00, 0x10, 0x00, 0x00 };

    g_byte_array_append (b, p, len);
    memcpy (b->data + 8, huge, 4);
    big = g_byte_array_free_to_bytes (b);
    a = edited (pkg, ".big", big);
    assert_verify_fails (a, f.cert, "more than the 65536 allowed");
    b = g_byte_array_new ();
    g_byte_array_append (b, p, len);
    g_byte_array_append (b, (const guint8 *) "x", 1);
    trailing = g_byte_array_free_to_bytes (b);
    t = edited (pkg, ".trailing", trailing);
    assert_verify_fails (t, f.cert, "1 stray bytes after its files");
  }
  /* Not a package at all. */
  assert_verify_fails (f.params, f.cert, "not a posprov program package");
  /* Wrong hash: one payload byte changed. */
  {
    GByteArray *b = g_byte_array_new ();
    g_autoptr(GBytes) bad = NULL;
    g_autofree char *a = NULL;

    g_byte_array_append (b, p, len);
    b->data[len - 100000] ^= 0x01;
    bad = g_byte_array_free_to_bytes (b);
    a = edited (pkg, ".hash", bad);
    assert_verify_fails (a, f.cert, "“app.bin” of the program is damaged");
  }
  /* Bad signature: the manifest changed after signing (same length, still canonical). */
  {
    GByteArray *b = g_byte_array_new ();
    g_autoptr(GBytes) bad = NULL;
    g_autofree char *a = NULL;
    guint8 *v;

    g_byte_array_append (b, p, len);
    v = (guint8 *) g_strstr_len ((char *) b->data + 12, mlen, "\"1.0\"");
    g_assert_nonnull (v);
    v[1] = '9';
    bad = g_byte_array_free_to_bytes (b);
    a = edited (pkg, ".sig", bad);
    assert_verify_fails (a, f.cert, "signature does not verify");
  }
  /* Manifests: an unknown field, a wrong type, not canonical, a missing field. */
  {
    g_autofree char *m = g_strndup ((const char *) p + 12, mlen);
    g_autofree char *unknown = g_strconcat ("{\"format\":1,\"extra\":true,", m + strlen ("{\"format\":1,"), NULL);
    g_autofree char *spaced = g_strconcat ("{ ", m + 1, NULL);
    g_autofree char *a = with_manifest (pkg, unknown);
    g_autofree char *b = NULL, *c = NULL, *d = NULL;

    assert_verify_fails (a, f.cert, "unknown field “extra” in the manifest");
    b = with_manifest (pkg, spaced);
    assert_verify_fails (b, f.cert, "not in the canonical form");
    c = with_manifest (pkg, "{\"format\":1,\"name\":\"pay\",\"version\":1,\"kind\":\"manager\",\"models\":[\"X1\"],\"files\":[]}");
    assert_verify_fails (c, f.cert, "“version” must be a string");
    d = with_manifest (pkg, "{\"format\":1,\"name\":\"pay\"}");
    assert_verify_fails (d, f.cert, "the field “version” is missing");
  }
  /* Untrusted signer; expired signer (the key signs, its certificate expired). */
  assert_verify_fails (pkg, f.other, "is not trusted");
  expired = pack (&f, "old", "payment-app", "X1", f.expired, 0, NULL);
  assert_verify_fails (expired, f.expired, "expired on");
  assert_verify_fails (expired, f.expired, "check the PC's date");

  /* pack: a key that is not the certificate's, a bad kind, a bad model. */
  g_free (pack (&f, "x", "payment-app", "X1", f.other, 1, &err));
  g_assert_nonnull (strstr (err, "does not belong to the signing certificate"));
  g_clear_pointer (&err, g_free);
  g_free (pack (&f, "x", "firmware", "X1", f.cert, 1, &err));
  g_assert_nonnull (strstr (err, "--kind: “firmware”"));
  g_clear_pointer (&err, g_free);
  g_free (pack (&f, "x", "payment-app", "X1,X1", f.cert, 1, &err));
  g_assert_nonnull (strstr (err, "listed twice"));
  {
    g_autofree char *never = g_build_filename (f.base, "x-payment-app-X1,X1.pkg", NULL);

    g_assert_false (g_file_test (never, G_FILE_TEST_EXISTS));
  }
}

/* ---- push to the terminal -------------------------------------------------- */

static char *
make_terminal (Fixture    *f,
               const char *serial)
{
  g_autofree char *trust = g_build_filename (f->base, "kdh-trust.pem", NULL);
  char *dir = g_build_filename (f->base, serial, NULL);
  const char *init[] = { "init", "--dir", dir, "--serial", serial, "--vendor", "Acme", "--model", "X1",
                         "--trust", trust, "--program-trust", f->cert, NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(GFile) from = g_file_new_for_path (f->other);
  g_autoptr(GFile) to = g_file_new_for_path (trust);

  /* The KDH trust does not matter here: any certificate will do. */
  g_assert_true (g_file_copy (from, to, G_FILE_COPY_OVERWRITE, NULL, NULL, NULL, NULL));
  g_assert_cmpint (pp_test_run_termsim (init, &out, &err), ==, 0);
  return dir;
}

static int
push (const char  *port,
      const char  *pkg,
      char       **out_stdout,
      char       **out_stderr)
{
  const char *argv[] = { "device", "push-program", port, pkg, "--json", NULL };

  return pp_test_run_tool (argv, NULL, out_stdout, out_stderr);
}

static JsonObject *
show (const char  *dir,
      JsonParser **out_parser)
{
  const char *args[] = { "show", "--dir", dir, "--json", NULL };
  g_autofree char *out = NULL, *err = NULL;

  g_assert_cmpint (pp_test_run_termsim (args, &out, &err), ==, 0);
  *out_parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (*out_parser, out, -1, NULL));
  return json_node_get_object (json_parser_get_root (*out_parser));
}

static guint
shown_programs (const char *dir)
{
  g_autoptr(JsonParser) parser = NULL;

  return json_array_get_length (json_object_get_array_member (show (dir, &parser), "programs"));
}

static void
assert_push_refused (const char *port,
                     const char *pkg,
                     const char *needle)
{
  g_autofree char *out = NULL, *err = NULL;

  g_assert_cmpint (push (port, pkg, &out, &err), ==, 1);
  if (strstr (err, needle) == NULL)
    g_error ("expected “%s” in: %s", needle, err);
}

static void
test_push (void)
{
  g_auto(Fixture) f = { 0, };
  g_autofree char *dir = NULL, *port = NULL, *out = NULL, *err = NULL;
  g_autofree char *sigfile = NULL, *manager = NULL, *pay = NULL, *wrong_model = NULL, *tampered = NULL;
  g_autoptr(JsonParser) parser = NULL, result = json_parser_new ();
  g_autoptr(GBytes) bytes = NULL;
  PpTestTermsimServer server = { 0, };
  JsonObject *shown, *program;

  fixture_init (&f);
  dir = make_terminal (&f, "PG0001");
  sigfile = pack (&f, "acme-sig", "signature-file", "X1", f.cert, 0, NULL);
  manager = pack (&f, "acme-manager", "manager", "X1,X2", f.cert, 0, NULL);
  pay = pack (&f, "unionpay", "payment-app", "X1", f.cert, 0, NULL);
  wrong_model = pack (&f, "acme-sig", "signature-file", "Y9", f.cert, 0, NULL);
  port = pp_test_termsim_start (&server, dir, NULL);

  /* Out of order: a payment app before the signature file and the manager. */
  assert_push_refused (port, pay, "programs must go in order: signature file, manager, payment apps");
  assert_push_refused (port, pay, "needs the signature file installed first");
  g_assert_cmpuint (shown_programs (dir), ==, 0);
  /* Another model's package. */
  assert_push_refused (port, wrong_model, "not for this terminal's model");
  assert_push_refused (port, wrong_model, "for the models Y9, not for this terminal's model X1");
  /* Tampered: the manifest's version changed after signing; the station
   * cannot tell without the trust, the terminal can. */
  {
    GByteArray *b = g_byte_array_new ();
    guint8 *v;

    bytes = read_bytes (sigfile);
    g_byte_array_append (b, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
    v = (guint8 *) g_strstr_len ((char *) b->data + 12, be32 (b->data + 8), "\"1.0\"");
    v[1] = '7';
    g_clear_pointer (&bytes, g_bytes_unref);
    bytes = g_byte_array_free_to_bytes (b);
    tampered = edited (sigfile, ".tampered", bytes);
  }
  assert_push_refused (port, tampered, "the signature check failed");
  g_assert_cmpuint (shown_programs (dir), ==, 0);

  /* In order: each installs; show has the last one and all three. */
  g_assert_cmpint (push (port, sigfile, &out, &err), ==, 0);
  g_assert_nonnull (strstr (err, "100%"));
  g_assert_true (json_parser_load_from_data (result, out, -1, NULL));
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (json_parser_get_root (result)), "resumed_from"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (json_parser_get_root (result)), "sent"), ==, 300011);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (push (port, manager, NULL, NULL), ==, 0);
  g_assert_cmpint (push (port, pay, &out, &err), ==, 0);
  shown = show (dir, &parser);
  program = json_object_get_object_member (shown, "program");
  g_assert_cmpstr (json_object_get_string_member (program, "name"), ==, "unionpay");
  g_assert_cmpstr (json_object_get_string_member (program, "version"), ==, "1.0");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (shown, "programs")), ==, 3);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (
                     json_object_get_array_member (shown, "programs"), 1), "kind"), ==, "manager");
  pp_test_termsim_stop (&server);
}

/* A disconnect in the middle: the second push resumes from what the
 * terminal confirmed and re-sends at most one window. */
static void
test_resume (void)
{
  g_auto(Fixture) f = { 0, };
  g_autofree char *dir = NULL, *port = NULL, *out = NULL, *err = NULL, *pkg = NULL;
  g_autoptr(JsonParser) parser = NULL, result = json_parser_new ();
  PpTestTermsimServer server = { 0, };
  JsonObject *o, *transfer;
  gint64 resumed, sent, received;

  fixture_init (&f);
  dir = make_terminal (&f, "PG0002");
  pkg = pack (&f, "acme-sig", "signature-file", "X1", f.cert, 0, NULL);
  port = pp_test_termsim_start (&server, dir, "--disconnect-after=PROGRAM_BLOCK@10");

  g_assert_cmpint (push (port, pkg, &out, &err), ==, 1);
  g_assert_nonnull (strstr (err, "push again to resume from there"));
  g_assert_cmpuint (shown_programs (dir), ==, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (push (port, pkg, &out, &err), ==, 0);
  g_assert_true (json_parser_load_from_data (result, out, -1, NULL));
  o = json_node_get_object (json_parser_get_root (result));
  resumed = json_object_get_int_member (o, "resumed_from");
  sent = json_object_get_int_member (o, "sent");
  /* Blocks 1..9 ran before the hang-up at the 10th. */
  g_assert_cmpint (resumed, ==, 9 * BLOCK);
  g_assert_cmpint (sent, ==, 300011 - resumed);

  o = show (dir, &parser);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (o, "program"), "name"), ==, "acme-sig");
  transfer = json_object_get_object_member (o, "program_transfer");
  received = json_object_get_int_member (transfer, "received");
  g_assert_true (json_object_get_boolean_member (transfer, "installed"));
  g_assert_cmpint (json_object_get_int_member (transfer, "resumes"), ==, 1);
  g_assert_cmpint (received, >=, 300011);
  g_assert_cmpint (received - 300011, <=, WINDOW * BLOCK);
  pp_test_termsim_stop (&server);
}

/* ---- a serial line's speed ------------------------------------------------ */

static void
on_done (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

/* Runs the default context until the call that fills *@slot completes, at
 * most @seconds. */
static GAsyncResult *
wait_for (GAsyncResult **slot,
          double         seconds)
{
  gint64 end = g_get_monotonic_time () + (gint64) (seconds * G_USEC_PER_SEC);

  while (*slot == NULL && g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
  g_assert_nonnull (*slot);
  return *slot;
}

/* A link to @port at 115200 baud 8N1 (what a serial open sets; over TCP the
 * test says it), offering @max_payload and @window. */
static PpLink *
open_line (const char *port,
           guint       max_payload,
           guint       window)
{
  g_autoptr(GAsyncResult) r = NULL, c = NULL;
  g_autoptr(GIOStream) stream = NULL;
  g_autoptr(GError) error = NULL;
  PpLink *link;

  pp_transport_open_async (port, NULL, NULL, on_done, &r);
  stream = pp_transport_open_finish (wait_for (&r, 10), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pp_transport_get_line_speed (stream, NULL), ==, 0);
  link = pp_link_new (stream, PP_LINK_ROLE_STATION);
  pp_link_set_limits (link, max_payload, window);
  pp_link_set_line_speed (link, 115200, 10);
  pp_link_connect_async (link, NULL, on_done, &c);
  g_assert_true (pp_link_connect_finish (link, wait_for (&c, 10), &error));
  g_assert_no_error (error);
  return link;
}

/* Pushes @package over @link; TRUE when it installed. */
static gboolean
push_over (PpLink           *link,
           PpProgramPackage *package,
           double            seconds,
           GError          **error)
{
  g_autoptr(PpLinkDevice) device = pp_link_device_new (link);
  g_autoptr(GAsyncResult) r = NULL;

  pp_terminal_device_push_program_async (PP_TERMINAL_DEVICE (device), package, NULL, NULL, NULL, on_done, &r);
  return pp_terminal_device_push_program_finish (PP_TERMINAL_DEVICE (device), wait_for (&r, seconds),
                                                 NULL, error);
}

/* At 115200 baud a window of 8 full frames takes 11.4 s to cross: with the
 * default 1 s ACK timeout the push goes through once, because the timers
 * count the line's time (docs/link-protocol.md 2.4); a terminal that stops
 * answering is still given up within the documented bound. */
static void
test_line_speed (void)
{
  g_auto(Fixture) f = { 0, };
  g_autofree char *dir = NULL, *port = NULL, *pkg = NULL;
  g_autoptr(PpProgramPackage) package = NULL;
  g_autoptr(PpLink) link = NULL, small = NULL;
  g_autoptr(GError) error = NULL;
  PpTestTermsimServer server = { 0, };
  guint64 sent = 0, size;
  gint64 start;
  double seconds, bound;

  fixture_init (&f);
  write_random (f.app, 140000);
  dir = make_terminal (&f, "PG0003");
  pkg = pack (&f, "acme-sig", "signature-file", "X1", f.cert, 0, NULL);
  package = pp_program_package_open (pkg, &error);
  g_assert_no_error (error);
  size = 140000 + 11;
  port = pp_test_termsim_start (&server, dir, "--emulate-baud=115200");

  link = open_line (port, 16384, WINDOW);
  g_assert_cmpuint (pp_link_get_window (link), ==, WINDOW);
  start = g_get_monotonic_time ();
  g_assert_true (push_over (link, package, 60, &error));
  g_assert_no_error (error);
  seconds = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  pp_link_get_wire_bytes (link, &sent, NULL);
  g_test_message ("%" G_GUINT64_FORMAT " bytes at 115200 baud in %.1f s, %" G_GUINT64_FORMAT " bytes sent",
                  size, seconds, sent);
  /* Nothing was sent twice: the package, its frames' overhead and the HELLO. */
  g_assert_cmpuint (sent, <, size + size / 50 + 4096);
  g_assert_cmpuint (shown_programs (dir), ==, 1);

  /* A dead terminal (stopped after HELLO), a window of 2 x 4 KiB: TIMEOUT
   * within (retries + 1) x (ACK timeout + the window's time on the line). */
  small = open_line (port, 4096, 2);
  g_assert_cmpint (kill (server.pid, SIGSTOP), ==, 0);
  bound = 4 * (1.0 + 2.0 * (4096 + 18) * 10 / 115200);
  start = g_get_monotonic_time ();
  g_assert_false (push_over (small, package, bound + 10, &error));
  seconds = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  g_assert_cmpint (kill (server.pid, SIGCONT), ==, 0);
  g_test_message ("dead terminal: %s after %.1f s (bound %.1f s)", error->message, seconds, bound);
  g_assert_nonnull (strstr (error->message, "No answer from the terminal after 4 tries"));
  g_assert_cmpfloat (seconds, >=, 4 * 1.0);
  g_assert_cmpfloat (seconds, <, bound + 1.0);
  g_clear_pointer (&small, pp_link_unref);
  g_clear_pointer (&link, pp_link_unref);
  pp_test_termsim_stop (&server);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/program/pack-verify", test_pack_verify);
  g_test_add_func ("/program/verify-errors", test_verify_errors);
  g_test_add_func ("/program/push", test_push);
  g_test_add_func ("/program/resume", test_resume);
  g_test_add_func ("/program/line-speed", test_line_speed);
  return g_test_run ();
}
